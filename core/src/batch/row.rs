//! A batch's rows in and its counts out, defined once for every face: the CLI's JSON
//! Lines reader and the Python and Node bindings all make rows with
//! [`BatchRow::from_value`], and count results with [`Tally`].

use serde_json::Value;

use super::RowResult;

/// The names of a row's UID field or column (matched ignoring ASCII case and spaces around).
pub const UID_NAMES: &[&str] = &["UID"];
/// The names of a row's URL field or column, in order of preference (same matching):
/// `profile.photoURL` is what a Gigya export's CSV header or a flattened export calls it.
pub const URL_NAMES: &[&str] = &["URL", "photoURL", "profile.photoURL"];

/// Whether a field or column `name` is one of `names`.
pub fn names_field(names: &[&str], name: &str) -> bool {
    names.iter().any(|n| name.trim().eq_ignore_ascii_case(n))
}

/// One row of a batch's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    /// Its position in the input (0 = the first data row): the key of its progress, and
    /// what shards split on.
    pub row: u64,
    pub uid: String,
    pub url: String,
    /// Why the row could not be read (a line that is not JSON, a short CSV record): it is
    /// answered with 400006 and recorded like any other.
    pub unreadable: Option<String>,
}

impl BatchRow {
    pub fn new(row: u64, uid: impl Into<String>, url: impl Into<String>) -> Self {
        BatchRow {
            row,
            uid: uid.into(),
            url: url.into(),
            unreadable: None,
        }
    }

    /// A row the input reader could not make sense of, with whatever UID it found.
    pub fn unreadable(row: u64, uid: impl Into<String>, why: impl Into<String>) -> Self {
        BatchRow {
            unreadable: Some(why.into()),
            ..BatchRow::new(row, uid, "")
        }
    }

    /// A row from a JSON value: a Gigya accounts export's account (`UID`,
    /// `profile.photoURL`), an object with fields named as [`UID_NAMES`] and [`URL_NAMES`]
    /// say (the CLI's CSV header takes the same names), or a `[UID, URL]` pair. A missing or
    /// non-string field is empty (the import answers it like a missing parameter); any
    /// other value is unreadable (400006).
    pub fn from_value(row: u64, value: &Value) -> Self {
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        match value {
            Value::Object(fields) => {
                let field = |name: &str| {
                    fields
                        .iter()
                        .find(|(k, _)| names_field(&[name], k))
                        .map(|(_, v)| v)
                };
                let uid = UID_NAMES.iter().find_map(|n| text(field(n)));
                let url = text(value.pointer("/profile/photoURL"))
                    .or_else(|| URL_NAMES.iter().find_map(|n| text(field(n))));
                BatchRow::new(row, uid.unwrap_or_default(), url.unwrap_or_default())
            }
            Value::Array(pair) if pair.len() == 2 => BatchRow::new(
                row,
                text(pair.first()).unwrap_or_default(),
                text(pair.get(1)).unwrap_or_default(),
            ),
            _ => BatchRow::unreadable(
                row,
                "",
                format!("row {row}: expected an object with UID and URL, or a [UID, URL] pair"),
            ),
        }
    }

    /// A row from JSON text (a line of JSON Lines, or a face's row serialised).
    pub fn from_json(row: u64, text: &[u8]) -> Self {
        match serde_json::from_slice::<Value>(text) {
            Ok(v) => BatchRow::from_value(row, &v),
            Err(e) => BatchRow::unreadable(row, "", format!("row {row} is not JSON: {e}")),
        }
    }
}

/// The input key of a batch whose caller gave none (the bindings' `input_key` left out):
/// random, so the run resumes nothing and nothing later resumes it. An input read from a
/// file is keyed by its contents instead (the CLI); a stream has no stable identity, so
/// resuming one needs a key from its caller.
pub fn one_off_input_key() -> String {
    format!("once:{}", crate::envelope::new_call_id())
}

/// A batch's counts so far, as every face reports progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Rows answered (this run's and resumed ones).
    pub done: u64,
    /// Rows with errorCode 0.
    pub ok: u64,
    /// Rows with another errorCode.
    pub failed: u64,
    /// Rows answered from an earlier run's record (counted in `ok` or `failed` too).
    pub resumed: u64,
}

impl Tally {
    pub fn add(&mut self, result: &RowResult) {
        self.done += 1;
        if result.is_ok() {
            self.ok += 1;
        } else {
            self.failed += 1;
        }
        if result.resumed {
            self.resumed += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_from_exports_objects_and_pairs() {
        let r = BatchRow::from_json(
            3,
            br#"{"UID":"u1","profile":{"photoURL":"https://a/p.jpg"}}"#,
        );
        assert_eq!(r, BatchRow::new(3, "u1", "https://a/p.jpg"));
        let r = BatchRow::from_json(0, br#"{"UID":"u2","URL":"https://b/q.png"}"#);
        assert_eq!(r, BatchRow::new(0, "u2", "https://b/q.png"));
        let r = BatchRow::from_json(0, br#"{"UID":"u3","profile":{}}"#);
        assert_eq!(r, BatchRow::new(0, "u3", ""));
        let r = BatchRow::from_json(1, br#"["u4","https://c/r.gif"]"#);
        assert_eq!(r, BatchRow::new(1, "u4", "https://c/r.gif"));
        assert_eq!(
            BatchRow::from_json(1, br#"["u4",7]"#),
            BatchRow::new(1, "u4", "")
        );
        // Field names as the CLI's CSV header takes them (a csv.DictReader row, say).
        let r = BatchRow::from_json(2, br#"{" uid ":"u5","photoURL":"https://d/s.jpg"}"#);
        assert_eq!(r, BatchRow::new(2, "u5", "https://d/s.jpg"));
        let r = BatchRow::from_json(2, br#"{"Uid":"u6","profile.photoURL":"https://e/t.jpg"}"#);
        assert_eq!(r, BatchRow::new(2, "u6", "https://e/t.jpg"));
        let r = BatchRow::from_json(2, br#"{"UID":"u7","url":"https://f/u.jpg","photoURL":"x"}"#);
        assert_eq!(r, BatchRow::new(2, "u7", "https://f/u.jpg"), "URL first");
        for bad in [&b"{not json"[..], b"42", b"[\"a\"]", b"\"u\"", b"null"] {
            assert!(BatchRow::from_json(5, bad).unreadable.is_some(), "{bad:?}");
        }
    }
}
