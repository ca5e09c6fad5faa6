//! A site's `allowed_origins`: the web pages whose scripts may call it from a browser.
//! Entries are exact origins (`https://www.example.com`, `http://127.0.0.1:8000`) or one
//! leading wildcard label (`https://*.example.com`: any subdomain, never the bare domain).
//! Both sides are compared in RFC 6454's serialisation (lower case, the scheme's default
//! port omitted: `https://example.com:443` is `https://example.com`); `null` (sandboxed
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
            let bad = || {
                format!("allowed_origins: {entry:?} is not an origin like https://www.example.com or https://*.example.com")
            };
            let lower = serialise(entry).ok_or_else(bad)?;
            let (scheme, host) = lower.split_once("://").ok_or_else(bad)?;
            if host.contains(['/', '?', '#', '@', ' ']) {
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
        let Some(origin) = serialise(origin) else {
            return false;
        };
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

/// `scheme://host[:port]` as RFC 6454 serialises an origin: lower case, the port as a
/// plain number and left out when it is the scheme's default (80 for http, 443 for
/// https). `None` for anything else: another scheme, no host, a port that is not a number.
pub(crate) fn serialise(origin: &str) -> Option<String> {
    let lower = origin.to_ascii_lowercase();
    let (scheme, authority) = lower.split_once("://")?;
    let default_port = match scheme {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    // The port follows the last ':' outside an IPv6 literal's brackets.
    let host_end = authority.rfind(']').map_or(0, |i| i + 1);
    let (host, port) = match authority[host_end..].rfind(':') {
        Some(i) => {
            let (host, port) = authority.split_at(host_end + i);
            let digits = &port[1..];
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            (host, Some(digits.parse::<u16>().ok()?))
        }
        None => (authority, None),
    };
    if host.is_empty() {
        return None;
    }
    Some(match port {
        Some(p) if p != default_port => format!("{scheme}://{host}:{p}"),
        _ => format!("{scheme}://{host}"),
    })
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
    fn default_ports_are_the_same_origin() {
        let o = origins(&[
            "https://example.com:443",
            "http://x:80",
            "https://*.example.org:443",
            "http://127.0.0.1:8000",
            "https://[::1]:443",
        ]);
        for yes in [
            "https://example.com",
            "https://example.com:443",
            "http://x",
            "http://x:80",
            "https://a.example.org",
            "https://a.example.org:443",
            "http://127.0.0.1:8000",
            "https://[::1]",
        ] {
            assert!(o.allows(yes), "{yes}");
        }
        for no in [
            "http://example.com",
            "https://example.com:80",
            "https://x:443",
            "http://x:8080",
            "https://a.example.org:80",
            "http://127.0.0.1",
            "https://example.com:",
            "https://example.com:99999",
        ] {
            assert!(!o.allows(no), "{no}");
        }
        assert_eq!(
            serialise("HTTPS://Example.COM:0443").as_deref(),
            Some("https://example.com")
        );
        assert_eq!(
            serialise("http://[::1]:8080").as_deref(),
            Some("http://[::1]:8080")
        );
        assert_eq!(serialise("ftp://example.com"), None);
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
            "https://:443",
            "https://example.com:https",
            "https://example.com:70000",
        ] {
            assert!(Origins::parse(&[bad.to_string()]).is_err(), "{bad}");
        }
    }
}
