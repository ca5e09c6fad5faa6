//! conformance/cases.json over the REST endpoint, the way core/tests/conformance.rs runs
//! them through `Client::call`: every case on a fresh store (here: its own site), twice —
//! as POST form bodies with `apiKey` + `secret`, and as GET query strings with a signed
//! request (uploads too large for a URL go as a signed POST). Every method of SPEC.md is
//! called both ways.
//!
//! REST parameters are strings: booleans and numbers travel in their text form and JSON
//! values (`context` objects, `profilePhoto`) as JSON text. `context` comes back as the
//! text it was sent as, so an expectation inside it (`context.k`) is checked on the
//! parsed echo.

mod support;

use std::collections::HashMap;

use serde_json::Value;
use support::{b64, check_envelope, fixture, origin, Server, SiteConf};

fn lookup<'a>(v: &'a Value, path: &str, parsed_context: &'a Option<Value>) -> Option<&'a Value> {
    let mut keys = path.split('.');
    let first = keys.next()?;
    let start = match (first, parsed_context) {
        ("context", Some(ctx)) if path.contains('.') => ctx,
        _ => v.get(first)?,
    };
    keys.try_fold(start, |v, key| v.get(key))
}

fn substitute(v: &Value, vars: &HashMap<String, String>) -> Value {
    match v {
        Value::String(s) => {
            if let Some(file) = s.strip_prefix("${b64:").and_then(|r| r.strip_suffix('}')) {
                return Value::String(b64(&fixture(file)));
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

/// A parameter's wire form.
fn wire(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_cases_over_rest() {
    let text =
        std::fs::read_to_string(support::repo_root().join("conformance/cases.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert!(cases.len() >= 10);
    let origin = origin().await;

    let secret = |mode: &str, i: usize| format!("secret of {mode}{i}").into_bytes();
    let mut sites = Vec::new();
    for i in 0..cases.len() {
        for mode in ["post", "get"] {
            sites.push(SiteConf::new(&format!("{mode}{i}"), &secret(mode, i)));
        }
    }
    let top = format!(
        "allow_loopback = true\nfetch_allowed_ports = [{}]\nmax_photo_bytes = 100000\n",
        origin.port()
    );
    let server = Server::start(
        &top,
        &sites,
        &["--allow-loopback-plain-http", "--rate-limit", "0"],
    );

    for mode in ["post", "get"] {
        for (i, case) in cases.iter().enumerate() {
            let name = case["name"].as_str().unwrap();
            let api_key = format!("{mode}{i}");
            let secret_b64 = b64(&secret(mode, i));
            let mut vars = HashMap::from([
                ("base_url".to_string(), format!("http://{origin}")),
                ("uid".to_string(), format!("conformance-{i}")),
            ]);
            for (j, step) in case["steps"].as_array().unwrap().iter().enumerate() {
                let ctx = format!("{mode} case {name:?} step {j}");
                let method = step["method"].as_str().unwrap();
                let params = substitute(&step["params"], &vars);
                let owned: Vec<(String, String)> = params
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), wire(v)))
                    .collect();
                // The apiKey first: the server looks for it within the first 64 KiB.
                let mut pairs: Vec<(&str, &str)> = vec![("apiKey", &api_key)];
                pairs.extend(owned.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                let reply = if mode == "post" {
                    pairs.push(("secret", &secret_b64));
                    server.post(method, &pairs).await
                } else {
                    // A URL holds at most 64 KiB (the `http` crate's limit, and common
                    // proxies' much less): larger uploads go as a signed POST.
                    let http = if support::form(&pairs).len() > 32_000 {
                        "POST"
                    } else {
                        "GET"
                    };
                    server.signed(http, method, &pairs, &secret_b64).await
                };
                assert_eq!(reply.status, 200, "{ctx}: {}", reply.body);
                let r = reply.json;
                check_envelope(&r, &ctx);
                let parsed_context = r["context"]
                    .as_str()
                    .and_then(|s| serde_json::from_str::<Value>(s).ok());
                if let Some(expect) = step.get("expect").and_then(Value::as_object) {
                    for (path, want) in expect {
                        let want = substitute(want, &vars);
                        assert_eq!(
                            lookup(&r, path, &parsed_context),
                            Some(&want),
                            "{ctx}: {path} in {r}"
                        );
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
                            lookup(&r, path, &parsed_context).is_some(),
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
                        let got = lookup(&r, path, &parsed_context)
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
                    let v = lookup(&r, path.as_str().unwrap(), &parsed_context)
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
}
