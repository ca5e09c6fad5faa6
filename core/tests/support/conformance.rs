//! The runner of `conformance/cases.json` (format in conformance/README.md), shared by the
//! embedded-default and the scale-out test: callers make the client and the call, this
//! module substitutes variables and checks every expectation of a step.

use std::collections::HashMap;

use base64::Engine;
use serde_json::Value;

use super::repo_root;

/// The cases of `conformance/cases.json`.
pub fn cases() -> Vec<Value> {
    let text = std::fs::read_to_string(repo_root().join("conformance/cases.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap().clone();
    assert!(cases.len() >= 10);
    cases
}

pub fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, key| v.get(key))
}

/// One case's variables: `base_url`, `uid`, and whatever its steps `save`.
pub struct CaseVars(HashMap<String, String>);

impl CaseVars {
    pub fn new(base_url: String, uid: String) -> Self {
        CaseVars(HashMap::from([
            ("base_url".to_string(), base_url),
            ("uid".to_string(), uid),
        ]))
    }

    /// The step's parameters with `${name}` and `${b64:FILE}` substituted.
    pub fn params(&self, step: &Value) -> Value {
        self.substitute(&step["params"])
    }

    fn substitute(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => {
                if let Some(file) = s.strip_prefix("${b64:").and_then(|r| r.strip_suffix('}')) {
                    let bytes = std::fs::read(repo_root().join("conformance/files").join(file))
                        .expect("fixture");
                    return Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
                }
                let mut out = s.clone();
                for (k, val) in &self.0 {
                    out = out.replace(&format!("${{{k}}}"), val);
                }
                Value::String(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| self.substitute(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.substitute(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Check the envelope and every expectation of `step` on `r`, then record `save`d values.
    pub fn check(&mut self, step: &Value, r: &Value, ctx: &str) {
        check_envelope(r, ctx);
        if let Some(expect) = step.get("expect").and_then(Value::as_object) {
            for (path, want) in expect {
                let want = self.substitute(want);
                assert_eq!(lookup(r, path), Some(&want), "{ctx}: {path} in {r}");
            }
        }
        for (key, must_exist) in [("present", true), ("absent", false)] {
            for path in step
                .get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let path = path.as_str().unwrap();
                assert_eq!(
                    lookup(r, path).is_some(),
                    must_exist,
                    "{ctx}: {key} {path} in {r}"
                );
            }
        }
        for (key, ends) in [("endsWith", true), ("contains", false)] {
            for (path, text) in step
                .get(key)
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                let got = lookup(r, path)
                    .and_then(Value::as_str)
                    .unwrap_or_else(|| panic!("{ctx}: {path} missing in {r}"));
                let text = text.as_str().unwrap();
                let ok = if ends {
                    got.ends_with(text)
                } else {
                    got.contains(text)
                };
                assert!(ok, "{ctx}: {path}={got:?} should {key} {text:?}");
            }
        }
        for (var, path) in step
            .get("save")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let v = lookup(r, path.as_str().unwrap())
                .unwrap_or_else(|| panic!("{ctx}: save {path} in {r}"));
            let s = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            self.0.insert(var.clone(), s);
        }
    }
}

/// What every envelope carries (conformance/README.md).
fn check_envelope(r: &Value, ctx: &str) {
    let call_id = r["callId"].as_str().unwrap_or("");
    assert!(
        call_id.len() == 32 && call_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{ctx}: callId {call_id:?}"
    );
    let time = r["time"].as_str().unwrap_or("");
    assert!(
        time.len() == 24 && time.ends_with('Z') && time.as_bytes()[19] == b'.',
        "{ctx}: time {time:?}"
    );
    assert_eq!(r["apiVersion"], 2, "{ctx}");
    if r["errorCode"] != 0 {
        assert!(
            r["errorMessage"].is_string() && r["errorDetails"].is_string(),
            "{ctx}: {r}"
        );
    }
}
