//! Read access to Gigya-style parameters, with SPEC.md's spelling rules.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// Read access to a Gigya-style parameter object, with the spelling rules of SPEC.md.
pub(crate) struct Params<'a>(&'a Map<String, Value>);

impl<'a> Params<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Params(map)
    }

    /// The first present, non-null value among the spellings.
    fn raw(&self, names: &[&str]) -> Option<&'a Value> {
        names
            .iter()
            .filter_map(|n| self.0.get(*n))
            .find(|v| !v.is_null())
    }

    /// A string parameter; an empty string counts as missing (as Gigya does). Numbers are
    /// accepted in their decimal form, other JSON types are invalid.
    pub fn string(&self, names: &[&str]) -> Result<Option<String>> {
        match self.raw(names) {
            None => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(Error::invalid(names[0], "expected a string")),
        }
    }

    pub fn required_string(&self, names: &[&str]) -> Result<String> {
        self.string(names)?.ok_or_else(|| Error::missing(names[0]))
    }

    /// A boolean: JSON true/false or the strings "true"/"false" (any case); default when absent.
    pub fn bool(&self, name: &str, default: bool) -> Result<bool> {
        match self.raw(&[name]) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
            Some(_) => Err(Error::invalid(name, "expected true or false")),
        }
    }

    pub fn value(&self, name: &str) -> Option<&'a Value> {
        self.raw(&[name])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn params_spellings_and_bools() {
        let m: Map<String, Value> =
            serde_json::from_str(r#"{"URL":"http://x/","publish":"TRUE","a":"", "n": 5, "o": {}}"#)
                .unwrap();
        let p = Params::new(&m);
        assert_eq!(
            p.string(&["url", "URL"]).unwrap().as_deref(),
            Some("http://x/")
        );
        assert!(p.bool("publish", false).unwrap());
        assert!(!p.bool("missing", false).unwrap());
        assert_eq!(p.string(&["a"]).unwrap(), None);
        assert_eq!(p.string(&["n"]).unwrap().as_deref(), Some("5"));
        assert!(p.string(&["o"]).is_err());
        assert_eq!(
            p.required_string(&["zz"]).unwrap_err().kind(),
            ErrorKind::MissingParameter
        );
    }
}
