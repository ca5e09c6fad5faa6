//! A site's `allowed_origins`: the web pages whose scripts may call it from a browser.
//! Entries are exact origins (`https://www.example.com`, `http://127.0.0.1:8000`) or one
//! leading wildcard label (`https://*.example.com`: any subdomain, never the bare domain).
//! A browser's `Origin` is compared byte for byte after lower-casing; `null` (sandboxed
//! frames, `file:` pages) never matches. A leaf: it imports nothing else of `serve`.

/// The origins one site allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Origins {
    exact: Vec<String>,
    /// `(scheme://, .domain[:port])` of each wildcard entry.
    wildcard: Vec<(String, String)>,
}

impl Origins {
    /// Parses the configured list; refuses what is not an origin (a path, a bare host,
    /// `*`, a wildcard anywhere but the first label).
    pub fn parse(list: &[String]) -> Result<Origins, String> {
        let mut origins = Origins::default();
        for entry in list {
            let lower = entry.to_ascii_lowercase();
            let bad = || {
                format!("allowed_origins: {entry:?} is not an origin like https://www.example.com or https://*.example.com")
            };
            let (scheme, host) = lower.split_once("://").ok_or_else(bad)?;
            if !matches!(scheme, "http" | "https")
                || host.is_empty()
                || host.contains(['/', '?', '#', '@', ' '])
            {
                return Err(bad());
            }
            match host.strip_prefix("*.") {
                Some(rest) if !rest.is_empty() && !rest.contains('*') && rest.contains('.') => {
                    origins
                        .wildcard
                        .push((format!("{scheme}://"), format!(".{rest}")));
                }
                Some(_) => return Err(bad()),
                None if host.contains('*') => return Err(bad()),
                None => origins.exact.push(lower),
            }
        }
        Ok(origins)
    }

    /// Whether a page of `origin` may call the site.
    pub fn allows(&self, origin: &str) -> bool {
        let origin = origin.to_ascii_lowercase();
        if self.exact.contains(&origin) {
            return true;
        }
        self.wildcard.iter().any(|(scheme, suffix)| {
            origin
                .strip_prefix(scheme.as_str())
                .and_then(|host| host.strip_suffix(suffix.as_str()))
                // One or more labels before the domain, nothing that could end the host.
                .is_some_and(|sub| {
                    !sub.is_empty()
                        && sub
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origins(list: &[&str]) -> Origins {
        Origins::parse(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn exact_and_wildcard() {
        let o = origins(&[
            "https://www.example.com",
            "https://*.example.org",
            "http://127.0.0.1:8000",
        ]);
        assert!(o.allows("https://www.example.com"));
        assert!(o.allows("HTTPS://WWW.EXAMPLE.COM"));
        assert!(o.allows("http://127.0.0.1:8000"));
        assert!(o.allows("https://a.example.org"));
        assert!(o.allows("https://a.b.example.org"));
        for no in [
            "http://www.example.com",
            "https://www.example.com:8443",
            "https://example.com",
            "https://example.org",
            "http://a.example.org",
            "https://evil.com/.example.org",
            "https://a.example.org.evil.com",
            "https://a.example.org:444",
            "https://a@b.example.org",
            "http://127.0.0.1:8001",
            "null",
            "",
        ] {
            assert!(!o.allows(no), "{no}");
        }
        assert!(!Origins::default().allows("https://www.example.com"));
    }

    #[test]
    fn what_is_not_an_origin_is_refused() {
        for bad in [
            "*",
            "https://*",
            "https://*.com",
            "https://a.*.example.com",
            "www.example.com",
            "https://www.example.com/",
            "ftp://example.com",
            "https://",
        ] {
            assert!(Origins::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
    }
}
