//! Running the server: `/healthz`, `/readyz` (stores that stop answering are named),
//! `/metrics` (parsed, values asserted), `--admin-listen`, and JSON logs that carry each
//! call's identity and never its secrets, tokens or URL. Each with what it costs.

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::{b64, origin, Server, SiteConf};

const KEY: &str = "site1";
const SECRET: &[u8] = b"site one secret";

fn with_creds<'a>(secret: &'a str, params: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![("apiKey", KEY), ("secret", secret)];
    all.extend_from_slice(params);
    all
}

async fn get(s: &Server, base: &str, path: &str) -> (u16, String, String) {
    let r = s.client.get(format!("{base}{path}")).send().await.unwrap();
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ctype, r.text().await.unwrap())
}

/// One sample of the Prometheus text format: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text format (our label values hold no `,`, `"` or `}`).
fn parse_metrics(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.strip_suffix('}').expect("closing brace")),
            None => (series, ""),
        };
        let labels = labels
            .split(',')
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once('=').expect("label=value");
                (k.to_string(), v.trim_matches('"').to_string())
            })
            .collect();
        let value = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value of {line:?}")),
        };
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    out
}

/// The value of the one sample named `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let found: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .collect();
    assert!(found.len() <= 1, "{name} {labels:?}: {found:?}");
    found.first().map(|s| s.value)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test]
async fn health_readiness_names_the_failing_store_and_costs_no_budget() {
    let mut s = Server::start(
        "",
        &[SiteConf::new(KEY, SECRET)],
        &["--allow-loopback-plain-http", "--address-rate-limit", "5"],
    );
    let (status, _, body) = get(&s, &s.base, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let (status, ctype, body) = get(&s, &s.base, "/readyz").await;
    assert_eq!(
        (status, ctype.as_str()),
        (200, "application/json"),
        "{body}"
    );
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ready"], true);
    assert_eq!(v["sites"][KEY]["metadataStore"], "ok");
    assert_eq!(v["sites"][KEY]["blobStore"], "ok");
    assert_eq!(v["sites"][KEY]["calls"], "ok");
    // Without --admin-listen, /metrics is on the main listener.
    let (status, ctype, body) = get(&s, &s.base, "/metrics").await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    assert!(body.contains("# TYPE avatarium_"), "{body}");

    // The blob folder replaced by a file: not ready, and the blob store is named.
    let blobs = s.site_dir(KEY).join("blobs");
    std::fs::remove_dir_all(&blobs).unwrap();
    std::fs::write(&blobs, b"not a folder").unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the probe interval
    let asked = Instant::now();
    let (status, _, body) = get(&s, &s.base, "/readyz").await;
    let took = asked.elapsed();
    assert_eq!(status, 503, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["ready"], false);
    assert_eq!(v["sites"][KEY]["blobStore"], "failed", "{body}");
    assert_eq!(v["sites"][KEY]["metadataStore"], "ok", "{body}");
    assert!(
        !body.contains("blobs") && !body.contains("directory"),
        "{body}"
    );
    assert!(took < Duration::from_millis(500), "{took:?}");
    assert!(s.log().contains("not ready"), "{}", s.log());

    // Back to a folder: ready again.
    std::fs::remove_file(&blobs).unwrap();
    std::fs::create_dir(&blobs).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get(&s, &s.base, "/readyz").await.0, 200);

    // A database at an older schema (a restore of an old backup): the metadata store.
    let db = s.site_dir(KEY).join("avatarium.db");
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        db.display()
    ))
    .await
    .unwrap();
    sqlx::query("UPDATE avatarium_schema SET version = 1")
        .execute(&mut conn)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _, body) = get(&s, &s.base, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["sites"][KEY]["metadataStore"], "failed", "{body}");
    assert_eq!(v["sites"][KEY]["blobStore"], "ok", "{body}");
    // The cause is in the log, for the operator.
    assert!(s.log().contains("schema version 1"), "{}", s.log());

    // Hammering: 300 asks within the probe interval are answered from one probe, cost
    // little, and spend no address budget (5 per minute here).
    let cpu = s.cpu_seconds();
    let started = Instant::now();
    for path in ["/readyz", "/healthz", "/metrics"] {
        for _ in 0..100 {
            let (status, _, _) = get(&s, &s.base, path).await;
            assert!(status == 200 || status == 503, "{path}: {status}");
        }
    }
    let (spent, wall) = (s.cpu_seconds() - cpu, started.elapsed());
    assert!(
        spent < 0.5,
        "300 health and metrics asks took {spent} CPU s"
    );
    assert!(wall < Duration::from_secs(3), "{wall:?}");
    // The budget is whole: a call without an apiKey is refused for that, not for a budget.
    let r = s.post("accounts.getAccountInfo", &[("UID", "u1")]).await;
    assert_eq!(r.code(), 400093, "{}", r.body);
    // Four more failures spend the address's 5; the next is refused for the budget, and
    // /metrics counts it under the address scope.
    for _ in 0..4 {
        let r = s.post("accounts.getAccountInfo", &[("UID", "u1")]).await;
        assert_eq!(r.code(), 400093, "{}", r.body);
    }
    let r = s.post("accounts.getAccountInfo", &[("UID", "u1")]).await;
    assert_eq!(r.code(), 403048, "{}", r.body);
    let m = parse_metrics(&get(&s, &s.base, "/metrics").await.2);
    let limited = |scope| value(&m, "avatarium_rate_limited_total", &[("scope", scope)]);
    assert_eq!((limited("address"), limited("site")), (Some(1.0), None));
    drop(conn);
    assert!(s.terminate().success());
}

#[tokio::test]
async fn metrics_count_calls_refusals_stages_and_budgets_on_the_admin_listener() {
    let origin = origin().await;
    let photo_len = support::fixture("photo.jpg").len() as f64;
    let top = format!(
        "allow_loopback = true\nfetch_allowed_ports = [{}]\nmax_photo_bytes = 100000\n",
        origin.port()
    );
    let admin = format!("127.0.0.1:{}", free_port());
    let s = Server::start(
        &top,
        &[
            SiteConf::new(KEY, SECRET),
            SiteConf::new("slow", b"slow secret").extra("rate_limit_per_minute = 1"),
        ],
        &["--allow-loopback-plain-http", "--admin-listen", &admin],
    );
    let secret = b64(SECRET);
    let good = format!("http://{origin}/photo.jpg");
    let big = format!("http://{origin}/big.png"); // 197 kB, over the 100 kB cap
    let metadata = format!("http://169.254.169.254:{}/latest", origin.port());
    for (url, code) in [
        (good.as_str(), 0),
        ("file:///etc/passwd", 404004),
        (metadata.as_str(), 404004),
        (big.as_str(), 413004),
    ] {
        let r = s
            .post(
                "accounts.importProfilePhoto",
                &with_creds(&secret, &[("UID", "u1"), ("url", url)]),
            )
            .await;
        assert_eq!(r.code(), code, "{url}: {}", r.body);
    }
    let slow = b64(b"slow secret");
    for code in [403005, 403048] {
        let r = s
            .post(
                "accounts.getAccountInfo",
                &[("apiKey", "slow"), ("secret", &slow), ("UID", "nobody")],
            )
            .await;
        assert_eq!(r.code(), code, "{}", r.body);
    }

    // Not on the public listener when --admin-listen is given.
    let (_, _, public) = get(&s, &s.base, "/metrics").await;
    assert!(!public.contains("avatarium_"), "{public}");
    let admin_base = format!("http://{admin}");
    let asked = Instant::now();
    let (status, _, text) = get(&s, &admin_base, "/metrics").await;
    assert!(asked.elapsed() < Duration::from_millis(500));
    assert_eq!(status, 200);
    let m = parse_metrics(&text);
    let import = "accounts.importProfilePhoto";
    let calls = |method: &str, code: &str| {
        value(
            &m,
            "avatarium_calls_total",
            &[("method", method), ("error_code", code)],
        )
    };
    assert_eq!(calls(import, "0"), Some(1.0), "{text}");
    assert_eq!(calls(import, "404004"), Some(2.0));
    assert_eq!(calls(import, "413004"), Some(1.0));
    assert_eq!(calls("accounts.getAccountInfo", "403005"), Some(1.0));
    assert_eq!(calls("accounts.getAccountInfo", "403048"), Some(1.0));
    // The latency histogram of the method: 4 calls, cumulative buckets.
    let h = [("method", import)];
    assert_eq!(value(&m, "avatarium_call_seconds_count", &h), Some(4.0));
    assert!(value(&m, "avatarium_call_seconds_sum", &h).unwrap() > 0.0);
    let mut buckets: Vec<(f64, f64)> = m
        .iter()
        .filter(|s| s.name == "avatarium_call_seconds_bucket" && s.labels["method"] == import)
        .map(|s| {
            let le = &s.labels["le"];
            (le.parse().unwrap_or(f64::INFINITY), s.value)
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() > 5, "{buckets:?}");
    assert!(buckets.windows(2).all(|w| w[0].1 <= w[1].1), "{buckets:?}");
    assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, 4.0));

    // URLs refused, per rule.
    let refused = |reason| value(&m, "avatarium_urls_refused_total", &[("reason", reason)]);
    assert_eq!(refused("scheme"), Some(1.0), "{text}");
    assert_eq!(refused("address_metadata"), Some(1.0));
    assert_eq!(refused("size"), Some(1.0));
    // Stages: two fetches reached the network; one photo went through the rest.
    let stage = |name| value(&m, "avatarium_stage_seconds_count", &[("stage", name)]);
    assert_eq!(stage("fetch"), Some(2.0), "{text}");
    for name in ["decode", "resize", "encode", "store"] {
        assert_eq!(stage(name), Some(1.0), "{name}: {text}");
        let sum = value(&m, "avatarium_stage_seconds_sum", &[("stage", name)]).unwrap();
        assert!(sum > 0.0 && sum < 5.0, "{name}: {sum}");
    }
    let fetched = value(&m, "avatarium_fetch_bytes_total", &[]).unwrap();
    assert!(
        fetched >= photo_len && fetched <= photo_len + 200_000.0,
        "{fetched}"
    );
    for gauge in [
        "avatarium_imports_running",
        "avatarium_imports_queued",
        "avatarium_fetches_running",
        "avatarium_fetches_queued",
    ] {
        assert_eq!(value(&m, gauge, &[]), Some(0.0), "{gauge}: {text}");
    }
    assert_eq!(
        value(&m, "avatarium_rate_limited_total", &[("scope", "site")]),
        Some(1.0)
    );
    // Health is on the admin listener too.
    assert_eq!(get(&s, &admin_base, "/healthz").await.0, 200);
    assert_eq!(get(&s, &admin_base, "/readyz").await.0, 200);
}

#[tokio::test]
async fn json_logs_carry_the_call_and_never_its_secrets() {
    let origin = origin().await;
    let top = format!(
        "log_format = \"json\"\nallow_loopback = true\nfetch_allowed_ports = [{}]\n",
        origin.port()
    );
    let s = Server::start(
        &top,
        &[SiteConf::new(KEY, SECRET)],
        &["--allow-loopback-plain-http"],
    );
    let secret = b64(SECRET);
    let url = format!("http://{origin}/photo.jpg?marker=url-marker-7d1f");
    let mut call_ids = Vec::new();
    let r = s
        .post("accounts.initRegistration", &with_creds(&secret, &[]))
        .await;
    assert_eq!(r.code(), 0, "{}", r.body);
    call_ids.push(r.json["callId"].as_str().unwrap().to_string());
    let reg_token = r.json["regToken"].as_str().unwrap().to_string();
    let r = s
        .post(
            "accounts.importProfilePhoto",
            &[("apiKey", KEY), ("regToken", &reg_token), ("url", &url)],
        )
        .await;
    assert_eq!(r.code(), 0, "{}", r.body);
    call_ids.push(r.json["callId"].as_str().unwrap().to_string());
    // Refused before the core (wrong secret): logged the same way.
    let r = s
        .post(
            "accounts.getAccountInfo",
            &[
                ("apiKey", KEY),
                ("secret", "d3Jvbmc="),
                ("regToken", &reg_token),
            ],
        )
        .await;
    assert_eq!(r.code(), 403010, "{}", r.body);
    call_ids.push(r.json["callId"].as_str().unwrap().to_string());

    let log = s.log();
    let events: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    assert!(events.iter().all(Value::is_object));
    let calls: Vec<&Value> = events
        .iter()
        .filter(|e| e["message"] == "call" || e["message"] == "refused")
        .collect();
    assert_eq!(calls.len(), 3, "{log}");
    for (event, (id, (method, code))) in calls.iter().zip(call_ids.iter().zip([
        ("accounts.initRegistration", 0),
        ("accounts.importProfilePhoto", 0),
        ("accounts.getAccountInfo", 403010),
    ])) {
        assert_eq!(event["callId"], id.as_str(), "{event}");
        assert_eq!(event["method"], method, "{event}");
        assert_eq!(event["errorCode"], code, "{event}");
        let ms = event["durationMs"].as_f64().unwrap();
        assert!((0.0..60_000.0).contains(&ms), "{event}");
        assert_eq!(event["level"], "INFO");
    }
    assert_eq!(calls[0]["apiKey"], KEY);
    assert_eq!(calls[1]["site"], KEY);
    for never in [
        secret.as_str(),
        reg_token.as_str(),
        "url-marker-7d1f",
        "photo.jpg",
        "d3Jvbmc=",
    ] {
        assert!(!log.contains(never), "{never:?} in the log:\n{log}");
    }
}

#[tokio::test]
async fn gauges_show_fetches_running_and_waiting_then_none() {
    let origin = origin().await;
    let top = format!(
        "allow_loopback = true\nfetch_allowed_ports = [{}]\nfetch_timeout_ms = 1500\n\
         max_concurrent_fetches = 1\nmax_queued_fetches = 1\n",
        origin.port()
    );
    let s = std::sync::Arc::new(Server::start(
        &top,
        &[SiteConf::new(KEY, SECRET)],
        &["--allow-loopback-plain-http"],
    ));
    let hang = format!("http://{origin}/hang");
    let secret = b64(SECRET);
    let mut calls = Vec::new();
    for uid in ["u1", "u2"] {
        let (s, hang, secret) = (s.clone(), hang.clone(), secret.clone());
        calls.push(tokio::spawn(async move {
            s.post(
                "accounts.importProfilePhoto",
                &with_creds(&secret, &[("UID", uid), ("url", &hang)]),
            )
            .await
            .code()
        }));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let gauge = |m: &[Sample], name: &str| value(m, name, &[]).unwrap_or(-1.0);
    let (_, _, text) = get(&s, &s.base, "/metrics").await;
    let m = parse_metrics(&text);
    assert_eq!(gauge(&m, "avatarium_fetches_running"), 1.0, "{text}");
    assert_eq!(gauge(&m, "avatarium_fetches_queued"), 1.0, "{text}");
    assert_eq!(gauge(&m, "avatarium_imports_running"), 0.0, "{text}");
    // Both time out (the second after its wait): nothing running or waiting after.
    for call in calls {
        assert_eq!(call.await.unwrap(), 504002);
    }
    let (_, _, text) = get(&s, &s.base, "/metrics").await;
    let m = parse_metrics(&text);
    assert_eq!(gauge(&m, "avatarium_fetches_running"), 0.0, "{text}");
    assert_eq!(gauge(&m, "avatarium_fetches_queued"), 0.0, "{text}");
    assert_eq!(
        value(
            &m,
            "avatarium_calls_total",
            &[
                ("method", "accounts.importProfilePhoto"),
                ("error_code", "504002")
            ]
        ),
        Some(2.0)
    );
}

/// An S3 endpoint that accepts connections and never answers (a hung store): `/readyz`
/// says `timeout` for that site's blob store after the 2 s probe timeout, not after the S3
/// client's own 30 s, and 20 askers at once share one probe (one connection to the store).
#[tokio::test]
async fn readyz_names_a_blob_store_that_does_not_answer_in_time_and_probes_it_once() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = silent.local_addr().unwrap();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((conn, _)) = silent.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(conn); // kept open, never answered
        }
    });
    let s3 = format!(
        "blob_store = \"s3://photos?endpoint=http://{endpoint}&region=garage\
         &access_key_id=GKtest&secret_access_key=test-s3-secret\"\n\
         public_base_url = \"https://photos.example.com\""
    );
    let s = std::sync::Arc::new(Server::start(
        "",
        &[
            SiteConf::new(KEY, SECRET),
            SiteConf::new("hung", b"hung secret").extra(&s3),
        ],
        &["--allow-loopback-plain-http"],
    ));
    let before = accepted.load(std::sync::atomic::Ordering::SeqCst);
    let asked = Instant::now();
    let askers: Vec<_> = (0..20)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move {
                let (status, _, body) = get(&s, &s.base, "/readyz").await;
                (status, body, Instant::now())
            })
        })
        .collect();
    for asker in askers {
        let (status, body, at) = asker.await.unwrap();
        let took = at - asked;
        assert_eq!(status, 503, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["sites"]["hung"]["blobStore"], "timeout", "{body}");
        assert_eq!(v["sites"]["hung"]["metadataStore"], "ok", "{body}");
        assert_eq!(v["sites"][KEY]["blobStore"], "ok", "{body}");
        assert!(
            !body.contains("test-s3-secret") && !body.contains("127.0.0.1"),
            "{body}"
        );
        assert!(
            took >= Duration::from_millis(1900) && took < Duration::from_millis(3500),
            "{took:?}"
        );
    }
    let probes = accepted.load(std::sync::atomic::Ordering::SeqCst) - before;
    assert!(
        probes <= 1,
        "{probes} connections to the store for 20 askers"
    );
    assert!(!s.log().contains("test-s3-secret"), "{}", s.log());
    holder.abort();
}

/// `AVATARIUM_LOG_FORMAT` (set here, where the support's `Server` clears every
/// `AVATARIUM_*`): `json` gives JSON lines although the file says `text`; a value that is
/// neither stops the server before it listens, exit 2, naming the variable.
#[tokio::test]
async fn the_log_format_variable_overrides_the_file_and_a_bad_one_stops_the_start() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("avatarium.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nlog_format = \"text\"\n[[sites]]\napi_key = {KEY:?}\nsecret = {:?}\n",
            dir.path().join("data"),
            b64(SECRET)
        ),
    )
    .unwrap();
    let serve = |format: &str, log: &std::path::Path| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_avatarium"));
        for (name, _) in std::env::vars() {
            if name.starts_with("AVATARIUM_") {
                command.env_remove(name);
            }
        }
        command
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .args(["--listen", "127.0.0.1:0", "--allow-loopback-plain-http"])
            .env("AVATARIUM_LOG", "info")
            .env("AVATARIUM_LOG_FORMAT", format)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap()
    };

    let bad_log = dir.path().join("bad.log");
    let started = Instant::now();
    let status = serve("yaml", &bad_log).wait().unwrap();
    assert_eq!(status.code(), Some(2));
    assert!(started.elapsed() < Duration::from_secs(5));
    let bad = std::fs::read_to_string(&bad_log).unwrap();
    assert!(bad.contains("AVATARIUM_LOG_FORMAT"), "{bad}");

    let log = dir.path().join("json.log");
    let mut child = serve("json", &log);
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    let body = reqwest::Client::new()
        .post(format!("{base}/accounts.getAccountInfo"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("apiKey={KEY}&secret=d3Jvbmc%3D&UID=u1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let envelope: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(envelope["errorCode"], 403010, "{envelope}");
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}")))
        .collect();
    let refused: Vec<&Value> = events
        .iter()
        .filter(|e| e["message"] == "refused")
        .collect();
    assert_eq!(refused.len(), 1, "{text}");
    assert_eq!(refused[0]["callId"], envelope["callId"], "{text}");
    assert_eq!(refused[0]["errorCode"], 403010);
    assert!(!text.contains("d3Jvbmc"), "{text}");
}
