//! Runs `conformance/cases.json` through `Client::call` (format in conformance/README.md).

mod support;

use std::collections::HashMap;

use base64::Engine;
use profile_photo::{Client, Config};
use serde_json::Value;
use support::{repo_root, TestServer};

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, key| v.get(key))
}

fn substitute(v: &Value, vars: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) => {
            if let Some(file) = s.strip_prefix("${b64:").and_then(|r| r.strip_suffix('}')) {
                let bytes = std::fs::read(repo_root().join("conformance/files").join(file))
                    .expect("fixture");
                return Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
            }
            let mut out = s.clone();
            for (k, val) in vars {
                out = out.replace(&format!("${{{k}}}"), val);
            }
            Value::String(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, vars)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), substitute(x, vars)))
                .collect(),
        ),
        other => other.clone(),
    }
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_cases() {
    let text = std::fs::read_to_string(repo_root().join("conformance/cases.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let server = TestServer::with_files(&repo_root().join("conformance/files")).await;
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    for (i, case) in cases.iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            allow_loopback: true,
            fetch_allowed_ports: vec![server.addr.port()],
            max_photo_bytes: 100_000,
            ..Config::default()
        };
        let client = Client::open(config).await.unwrap();
        let mut vars = HashMap::from([
            ("base_url".to_string(), format!("http://{}", server.addr)),
            ("uid".to_string(), format!("conformance-{i}")),
        ]);
        for (j, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let ctx = format!("case {name:?} step {j}");
            let method = step["method"].as_str().unwrap();
            let params = substitute(&step["params"], &vars);
            let r = client.call(method, &params).await.into_value();
            check_envelope(&r, &ctx);
            if let Some(expect) = step.get("expect").and_then(Value::as_object) {
                for (path, want) in expect {
                    let want = substitute(want, &vars);
                    assert_eq!(lookup(&r, path), Some(&want), "{ctx}: {path} in {r}");
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
                        lookup(&r, path).is_some(),
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
                    let got = lookup(&r, path)
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
                let v = lookup(&r, path.as_str().unwrap())
                    .unwrap_or_else(|| panic!("{ctx}: save {path} in {r}"));
                let s = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                vars.insert(var.clone(), s);
            }
        }
    }
}
