//! Gigya's request signature (SPEC.md "REST endpoint"):
//! `sig = base64(HMAC-SHA1(base64decode(secret), base))` with
//! `base = METHOD + "&" + enc(normalised URL) + "&" + enc(sorted name=value pairs without sig)`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha1::Sha1;

/// RFC 3986: everything but the unreserved characters is encoded (space as `%20`, `~` kept).
const ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(crate) fn enc(s: &str) -> String {
    utf8_percent_encode(s, ENCODE).to_string()
}

/// `scheme://lower-case-host[:port if not the scheme's default]/path`. `authority` is the
/// `Host` header (or the URI's authority), with or without a port.
pub(crate) fn normalised_url(scheme: &str, authority: &str, path: &str) -> String {
    let authority = authority.to_ascii_lowercase();
    // The port follows the last ':' unless that ':' is inside an IPv6 literal.
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (&authority[..i], Some(&authority[i + 1..])),
        _ => (authority.as_str(), None),
    };
    let default = if scheme == "https" { "443" } else { "80" };
    let path = if path.is_empty() { "/" } else { path };
    match port {
        Some(p) if !p.is_empty() && p != default => format!("{scheme}://{host}:{p}{path}"),
        _ => format!("{scheme}://{host}{path}"),
    }
}

/// The text that is signed. `params` must not contain `sig`.
pub(crate) fn base_string<'a>(
    http_method: &str,
    url: &str,
    params: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut pairs: Vec<(&str, &str)> = params.into_iter().collect();
    pairs.sort_unstable();
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        http_method.to_ascii_uppercase(),
        enc(url),
        enc(&query)
    )
}

/// Checks `sig` (base64) against the HMAC of `base` in constant time.
pub(crate) fn verify(key: &[u8], base: &str, sig: &str) -> bool {
    let Ok(given) = STANDARD.decode(sig.trim()) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(key) else {
        return false;
    };
    mac.update(base.as_bytes());
    mac.verify_slice(&given).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_normalised() {
        assert_eq!(
            normalised_url("https", "API.Example.com:443", "/accounts.getPolicies"),
            "https://api.example.com/accounts.getPolicies"
        );
        assert_eq!(
            normalised_url("http", "127.0.0.1:8080", "/a.b"),
            "http://127.0.0.1:8080/a.b"
        );
        assert_eq!(normalised_url("http", "h:80", "/x"), "http://h/x");
        assert_eq!(
            normalised_url("https", "[::1]:8443", "/x"),
            "https://[::1]:8443/x"
        );
        assert_eq!(normalised_url("https", "[::1]", "/x"), "https://[::1]/x");
    }

    #[test]
    fn encoding_and_base() {
        assert_eq!(enc("a b~c*d+e/é"), "a%20b~c%2Ad%2Be%2F%C3%A9");
        let base = base_string("post", "http://h/m", [("b", "2 x"), ("a", "1")]);
        assert_eq!(base, "POST&http%3A%2F%2Fh%2Fm&a%3D1%26b%3D2%2520x");
    }

    #[test]
    fn verify_round_trip() {
        let key = b"0123456789";
        let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key).unwrap();
        mac.update(b"base");
        let sig = STANDARD.encode(mac.finalize().into_bytes());
        assert!(verify(key, "base", &sig));
        assert!(!verify(key, "base2", &sig));
        assert!(!verify(key, "base", "not base64!"));
    }
}
