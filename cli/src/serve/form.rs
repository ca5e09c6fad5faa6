//! `application/x-www-form-urlencoded` text (a query string or a POST body) to name/value
//! pairs, in time linear in the input and with every count bounded, before anyone is
//! authenticated.
//!
//! Pure on purpose: std, `form_urlencoded` and the core's error type only, no HTTP types,
//! so the fuzz target `fuzz/fuzz_targets/rest_params.rs` compiles this very file by
//! `#[path]`. It stays in the CLI rather than the core because the core never sees form
//! text (it takes parameters as JSON values); one file is the rule's one home.
//!
//! Refusals are the core's kinds: a repeated name, too many pairs, a name or value over
//! its length are all 400006 (`InvalidParameter`, "Invalid parameter value"): SPEC.md's
//! 413004 means a photo over the site's limits and is kept for the body cap.

use std::collections::HashSet;

use avatarium::Error;

/// Pairs in one request (query and body together). Gigya's methods take about a dozen.
pub const MAX_PAIRS: usize = 256;
/// Bytes of a decoded parameter name.
pub const MAX_NAME_BYTES: usize = 128;
/// Bytes of a decoded value, except the photo upload, which only the body cap bounds.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Values that may be as large as the body allows.
const LARGE_VALUES: [&str; 1] = ["photoBytes"];

/// Name/value pairs in arrival order; each name at most once.
#[derive(Debug, Clone, Default)]
pub struct Pairs {
    pairs: Vec<(String, String)>,
    names: HashSet<String>,
}

impl Pairs {
    /// Adds the pairs of `text`. A repeated name is refused: it would make the signed text
    /// ambiguous. Stops at the first refusal, so a hostile body costs at most one pass over
    /// its bytes and `MAX_PAIRS` set look-ups.
    pub fn parse(&mut self, text: &[u8]) -> Result<(), Error> {
        for (name, value) in form_urlencoded::parse(text) {
            self.push(name.into_owned(), value.into_owned())?;
        }
        Ok(())
    }

    /// Adds one pair (a form's, or a multipart body's text part) under the same caps.
    pub fn push(&mut self, name: String, value: String) -> Result<(), Error> {
        if self.pairs.len() >= MAX_PAIRS {
            return Err(Error::invalid(
                "(request)",
                format!("more than {MAX_PAIRS} parameters"),
            ));
        }
        if name.len() > MAX_NAME_BYTES {
            return Err(Error::invalid(
                "(name)",
                format!("a parameter name is longer than {MAX_NAME_BYTES} bytes"),
            ));
        }
        if value.len() > MAX_VALUE_BYTES && !LARGE_VALUES.contains(&name.as_str()) {
            return Err(Error::invalid(
                &name,
                format!("longer than {MAX_VALUE_BYTES} bytes"),
            ));
        }
        if !self.names.insert(name.clone()) {
            return Err(Error::invalid(&name, "given more than once"));
        }
        self.pairs.push((name, value));
        Ok(())
    }

    /// The value of `name`; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        if !self.names.contains(name) {
            return None;
        }
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }
}

/// The value of `name` among the complete pairs at the start of a body whose rest has not
/// arrived: only pairs ended by `&` count, unless `complete` says `prefix` is the whole
/// body. At most `MAX_PAIRS` pairs are looked at; a name or value over its length is
/// skipped (the full parse refuses it later).
pub fn find_in_prefix(prefix: &[u8], complete: bool, name: &str) -> Option<String> {
    let whole = if complete {
        prefix
    } else {
        let end = prefix.iter().rposition(|&b| b == b'&')?;
        &prefix[..end]
    };
    form_urlencoded::parse(whole)
        .take(MAX_PAIRS)
        .find(|(k, v)| k == name && v.len() <= MAX_VALUE_BYTES)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_in_order_and_decoded() {
        let mut p = Pairs::default();
        p.parse(b"a=1&b=x+y%2B&&e=&c").unwrap();
        assert_eq!(p.get("b"), Some("x y+"));
        assert_eq!(p.get("e"), None);
        assert_eq!(p.get("c"), None);
        assert_eq!(p.pairs().len(), 4);
        let err = p.parse(b"a=2").unwrap_err();
        assert_eq!(err.error_code(), 400006);
        assert!(err.details().contains("more than once"));
    }

    #[test]
    fn caps_are_refused_with_400006() {
        let many: Vec<String> = (0..=MAX_PAIRS).map(|i| format!("n{i}=v")).collect();
        let e = Pairs::default()
            .parse(many.join("&").as_bytes())
            .unwrap_err();
        assert_eq!(e.error_code(), 400006);
        assert!(e.details().contains("parameters"), "{}", e.details());
        let mut exact = Pairs::default();
        exact.parse(many[..MAX_PAIRS].join("&").as_bytes()).unwrap();

        let long_name = format!("{}=v", "n".repeat(MAX_NAME_BYTES + 1));
        let e = Pairs::default().parse(long_name.as_bytes()).unwrap_err();
        assert_eq!(e.error_code(), 400006);
        assert!(!e.details().contains(&"n".repeat(MAX_NAME_BYTES + 1)));

        let long_value = format!("url={}", "v".repeat(MAX_VALUE_BYTES + 1));
        assert!(Pairs::default().parse(long_value.as_bytes()).is_err());
        let photo = format!("photoBytes={}", "A".repeat(MAX_VALUE_BYTES * 4));
        Pairs::default().parse(photo.as_bytes()).unwrap();
    }

    #[test]
    fn prefix_lookup_counts_complete_pairs_only() {
        assert_eq!(
            find_in_prefix(b"apiKey=k1&photoBytes=AAA", false, "apiKey"),
            Some("k1".into())
        );
        assert_eq!(find_in_prefix(b"x=1&apiKey=k1", false, "apiKey"), None);
        assert_eq!(
            find_in_prefix(b"x=1&apiKey=k1", true, "apiKey"),
            Some("k1".into())
        );
        assert_eq!(find_in_prefix(b"apiKey=", true, "apiKey"), None);
        assert_eq!(find_in_prefix(b"", false, "apiKey"), None);
    }
}
