//! `avatarium import-batch`: the built binary against a loopback origin that counts its
//! hits (`import_batch/origin.rs`). Formats (Gigya's JSONL export, CSV, stdin), hostile
//! rows failing alone, retries only where allowed, the per-host limit seen at the origin,
//! resuming after `kill -9` without fetching a finished row twice, --retry-failed and
//! shards, and the report agreeing with the summary table.

#[path = "import_batch/origin.rs"]
mod origin;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use origin::Origin;
use serde_json::{json, Value};

/// The test's configuration: its own store, and the fetcher allowed to reach the origin.
fn config(dir: &Path, origin: &Origin) -> PathBuf {
    let path = dir.join("avatarium.toml");
    let toml = format!(
        "data_dir = {:?}\nallow_loopback = true\nfetch_allowed_ports = [{}]\n",
        dir.join("data"),
        origin.addr.port()
    );
    std::fs::write(&path, toml).unwrap();
    path
}

fn command(config: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_avatarium"));
    for (name, _) in std::env::vars() {
        if name.starts_with("AVATARIUM_") {
            c.env_remove(name);
        }
    }
    c.arg("--config").arg(config).args(args);
    c
}

/// Runs `import-batch` to the end, off the runtime the origin serves on.
async fn batch(config: &Path, args: &[&str], stdin: Option<String>) -> Output {
    let mut c = command(config, &[&["import-batch"][..], args].concat());
    tokio::task::spawn_blocking(move || {
        c.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        input
            .write_all(stdin.unwrap_or_default().as_bytes())
            .unwrap();
        drop(input);
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn jsonl(rows: &[Value]) -> String {
    rows.iter().map(|r| format!("{r}\n")).collect()
}

fn report(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// errorCode → rows, from the report.
fn report_counts(rows: &[Value]) -> BTreeMap<u64, u64> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r["errorCode"].as_u64().unwrap()).or_default() += 1;
    }
    m
}

/// errorCode → rows, from the summary table on stdout.
fn table_counts(stdout: &str) -> BTreeMap<u64, u64> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
        })
        .collect()
}

fn code_of(rows: &[Value], uid: &str) -> u64 {
    let row = rows.iter().find(|r| r["UID"] == uid);
    row.unwrap_or_else(|| panic!("{uid} not reported"))["errorCode"]
        .as_u64()
        .unwrap()
}

async fn photo_url(config: &Path, uid: &str) -> Option<String> {
    let mut c = command(config, &["info", "--uid", uid]);
    let out = tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["profile"]["photoURL"].as_str().map(str::to_owned)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gigya_export_rows_fail_alone_and_the_report_matches_the_summary() {
    let origin = origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &origin);
    let photo = |path: &str| json!({ "photoURL": origin.url(path) });
    let input = dir.path().join("accounts.jsonl");
    let mut lines = jsonl(&[
        json!({ "UID": "ok1", "profile": photo("/ok/1.jpg"), "email": "a@example.com" }),
        // Private address: refused by the address policy, no connection made.
        json!({ "UID": "ssrf", "profile": { "photoURL": "http://10.0.0.7/p.jpg" } }),
        json!({ "UID": "metadata", "profile": { "photoURL": "http://169.254.169.254/latest/meta-data" } }),
        json!({ "UID": "bomb", "profile": photo("/bomb/b.png") }),
        json!({ "UID": "nophoto", "profile": {} }),
        json!({ "UID": "gone", "profile": photo("/gone/x.jpg") }),
    ]);
    lines.push_str("{ this is not JSON\n\n");
    lines.push_str(&jsonl(&[
        json!({ "UID": "ok2", "URL": origin.url("/ok/2.jpg") }),
    ]));
    std::fs::write(&input, lines).unwrap();
    let rep = dir.path().join("report.jsonl");
    let out = batch(
        &cfg,
        &[input.to_str().unwrap(), "--report", rep.to_str().unwrap()],
        None,
    )
    .await;
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        text(&out.stderr)
    );
    let rows = report(&rep);
    assert_eq!(rows.len(), 8, "one result per row (the blank line is none)");
    for (uid, code) in [
        ("ok1", 0),
        ("ok2", 0),
        ("ssrf", 404004),
        ("metadata", 404004),
        ("bomb", 413004),
        ("nophoto", 400002),
        ("gone", 404004),
    ] {
        assert_eq!(code_of(&rows, uid), code, "{uid}: {rows:?}");
    }
    // Refused by the fetch policy itself, not failing on connect (a bypass would).
    for uid in ["ssrf", "metadata"] {
        let r = rows.iter().find(|r| r["UID"] == uid).unwrap();
        let details = r["details"].as_str().unwrap_or_default();
        assert!(details.starts_with("The URL was refused"), "{r}");
    }
    assert!(rows.iter().any(|r| r["errorCode"] == 400006), "{rows:?}");
    assert_eq!(report_counts(&rows), table_counts(&stdout), "{stdout}");
    assert_eq!(
        origin.counts.hits("/bomb/b.png"),
        1,
        "a refusal is not retried"
    );
    assert!(
        photo_url(&cfg, "ok1").await.is_some(),
        "published by default"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_and_stdin_inputs_and_no_publish() {
    let origin = origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &origin);
    let csv = dir.path().join("users.csv");
    let body = format!(
        "email,URL,UID\na@example.com,{},c1\n\"b, jr\"@example.com,{},c2\n",
        origin.url("/ok/c1.jpg"),
        origin.url("/ok/c2.jpg")
    );
    std::fs::write(&csv, body).unwrap();
    let out = batch(&cfg, &[csv.to_str().unwrap(), "--no-publish"], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(table_counts(&text(&out.stdout)), BTreeMap::from([(0, 2)]));
    // Not a terminal: the plain progress line, the last one at the end.
    assert!(text(&out.stderr).contains("import-batch: 2/2 rows, 0 failed"));
    assert_eq!(
        photo_url(&cfg, "c1").await,
        None,
        "--no-publish leaves it pending"
    );
    // The same input without --no-publish: the rows run again, and are published.
    let out = batch(&cfg, &[csv.to_str().unwrap()], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(origin.counts.hits("/ok/c1.jpg"), 2, "redone, not skipped");
    assert!(
        photo_url(&cfg, "c1").await.is_some(),
        "published on the rerun"
    );
    // Once more, publishing: done, skipped.
    let out = batch(&cfg, &[csv.to_str().unwrap()], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(origin.counts.hits("/ok/c1.jpg"), 2, "done rows are skipped");

    let stdin = jsonl(&[
        json!({ "UID": "s1", "URL": origin.url("/ok/s1.jpg") }),
        json!({ "UID": "s2", "profile": { "photoURL": origin.url("/ok/s2.jpg") } }),
    ]);
    let out = batch(&cfg, &["-"], Some(stdin)).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(table_counts(&text(&out.stdout)), BTreeMap::from([(0, 2)]));
    assert!(photo_url(&cfg, "s2").await.is_some());

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "name,photo\nx,y\n").unwrap();
    let earlier = dir.path().join("earlier.jsonl");
    std::fs::write(&earlier, "{\"UID\":\"kept\"}\n").unwrap();
    let out = batch(
        &cfg,
        &[bad.to_str().unwrap(), "--report", earlier.to_str().unwrap()],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("UID and a URL column"));
    assert_eq!(
        report(&earlier).len(),
        1,
        "a bad input leaves the report alone"
    );
    let missing = dir.path().join("missing.jsonl");
    let out = batch(
        &cfg,
        &[
            missing.to_str().unwrap(),
            "--report",
            earlier.to_str().unwrap(),
        ],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        report(&earlier).len(),
        1,
        "a missing input leaves the report alone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_only_transient_failures() {
    let origin = origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &origin);
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        jsonl(&[
            json!({ "UID": "flaky", "URL": origin.url("/flaky/f.jpg") }),
            json!({ "UID": "down", "URL": origin.url("/down/d.jpg") }),
            json!({ "UID": "gone", "URL": origin.url("/gone/g.jpg") }),
            json!({ "UID": "ssrf", "URL": "http://10.0.0.7/p.jpg" }),
        ]),
    )
    .unwrap();
    let rep = dir.path().join("r.jsonl");
    let out = batch(
        &cfg,
        &[
            input.to_str().unwrap(),
            "--attempts",
            "3",
            "--report",
            rep.to_str().unwrap(),
        ],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let rows = report(&rep);
    assert_eq!(code_of(&rows, "flaky"), 0, "503, 503, then the photo");
    assert_eq!(origin.counts.hits("/flaky/f.jpg"), 3);
    assert_eq!(code_of(&rows, "down"), 404004);
    assert_eq!(
        origin.counts.hits("/down/d.jpg"),
        3,
        "5xx: every attempt used"
    );
    assert_eq!(origin.counts.hits("/gone/g.jpg"), 1, "404: never retried");
    let ssrf = rows.iter().find(|r| r["UID"] == "ssrf").unwrap();
    assert_eq!(ssrf["errorCode"], 404004, "{ssrf}");
    assert_eq!(ssrf["attempts"], 1, "a refusal is never retried: {ssrf}");
    let flaky = rows.iter().find(|r| r["UID"] == "flaky").unwrap();
    assert_eq!(flaky["attempts"], 3, "{flaky}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_host_limit_is_observed_at_the_origin() {
    let origin = origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &origin);
    let input = dir.path().join("in.jsonl");
    let rows: Vec<Value> = (0..16)
        .map(|i| json!({ "UID": format!("u{i}"), "URL": origin.url(&format!("/slow/{i}.jpg")) }))
        .collect();
    std::fs::write(&input, jsonl(&rows)).unwrap();
    let out = batch(
        &cfg,
        &[
            input.to_str().unwrap(),
            "--concurrency",
            "12",
            "--per-host",
            "3",
        ],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let max = origin.counts.max_in_flight();
    assert!(
        (2..=3).contains(&max),
        "the origin saw {max} requests at once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumes_after_kill_9_without_fetching_a_finished_row_twice() {
    let origin = origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &origin);
    let input = dir.path().join("in.jsonl");
    let mut rows: Vec<Value> = (0..24)
        .map(|i| json!({ "UID": format!("u{i}"), "URL": origin.url(&format!("/slow/{i}.jpg")) }))
        .collect();
    rows.push(json!({ "UID": "gone", "URL": origin.url("/gone/x.jpg") }));
    std::fs::write(&input, jsonl(&rows)).unwrap();
    let first = dir.path().join("first.jsonl");
    let args = [input.to_str().unwrap(), "--concurrency", "2"];

    // Killed (SIGKILL) once a few rows are reported.
    let report_arg = ["--report", first.to_str().unwrap()];
    let mut c = command(&cfg, &[&["import-batch"][..], &args, &report_arg].concat());
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while report(&first).len() < 5 {
        assert!(Instant::now() < deadline, "no progress before the kill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done: HashSet<String> = report(&first)
        .iter()
        .filter(|r| r["errorCode"] == 0)
        .map(|r| r["UID"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !done.is_empty() && done.len() < 24,
        "killed mid-run: {done:?}"
    );

    let second = dir.path().join("second.jsonl");
    let out = batch(
        &cfg,
        &[&args[..], &["--report", second.to_str().unwrap()]].concat(),
        None,
    )
    .await;
    assert_eq!(
        out.status.code(),
        Some(1),
        "the 404 row fails: {}",
        text(&out.stderr)
    );
    let rows = report(&second);
    assert_eq!(rows.len(), 25, "every row reported again");
    for r in &rows {
        let uid = r["UID"].as_str().unwrap();
        if let Some(i) = uid.strip_prefix('u') {
            assert_eq!(r["errorCode"], 0, "{r}");
            let hits = origin.counts.hits(&format!("/slow/{i}.jpg"));
            if done.contains(uid) {
                assert_eq!(r["resumed"], true, "{r}");
                assert_eq!(
                    hits, 1,
                    "{uid} finished before the kill and was fetched again"
                );
            }
        }
    }
    assert_eq!(table_counts(&text(&out.stdout)), report_counts(&rows));

    // --retry-failed: the failed row alone runs again.
    let hits_before: usize = (0..24)
        .map(|i| origin.counts.hits(&format!("/slow/{i}.jpg")))
        .sum();
    let out = batch(&cfg, &[&args[..], &["--retry-failed"]].concat(), None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(origin.counts.hits("/gone/x.jpg"), 2);
    let hits_after: usize = (0..24)
        .map(|i| origin.counts.hits(&format!("/slow/{i}.jpg")))
        .sum();
    assert_eq!(hits_before, hits_after, "done rows are not run again");
    // Without it, the recorded failure is reported, not run.
    let out = batch(&cfg, &args, None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(origin.counts.hits("/gone/x.jpg"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_whose_progress_is_not_saved_fails() {
    let origin = origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &origin);
    let input = dir.path().join("in.jsonl");
    let row =
        |i: u32| json!({ "UID": format!("p{i}"), "URL": origin.url(&format!("/ok/p{i}.jpg")) });
    std::fs::write(&input, jsonl(&[row(0)])).unwrap();
    let out = batch(&cfg, &[input.to_str().unwrap()], None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // The store now refuses every progress write (reads still work).
    let db = dir.path().join("data").join("avatarium.db");
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
        "sqlite://{}",
        db.display()
    ))
    .await
    .unwrap();
    for sql in [
        "CREATE TRIGGER no_insert BEFORE INSERT ON avatarium_batch_rows \
         BEGIN SELECT RAISE(FAIL, 'read-only'); END",
        "CREATE TRIGGER no_update BEFORE UPDATE ON avatarium_batch_rows \
         BEGIN SELECT RAISE(FAIL, 'read-only'); END",
    ] {
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
    drop(conn);
    std::fs::write(&input, jsonl(&[row(1), row(2)])).unwrap();
    let rep = dir.path().join("r.jsonl");
    let out = batch(
        &cfg,
        &[input.to_str().unwrap(), "--report", rep.to_str().unwrap()],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let rows = report(&rep);
    assert_eq!(rows.len(), 2, "{rows:?}");
    for r in &rows {
        assert_eq!(r["errorCode"], 500001, "{r}");
        let details = r["details"].as_str().unwrap_or_default();
        assert!(details.starts_with("progress not saved: "), "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_lets_the_rows_in_flight_finish_and_be_recorded() {
    let origin = origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &origin);
    let input = dir.path().join("in.jsonl");
    let rows: Vec<Value> = (0..24)
        .map(|i| json!({ "UID": format!("u{i}"), "URL": origin.url(&format!("/slow/{i}.jpg")) }))
        .collect();
    std::fs::write(&input, jsonl(&rows)).unwrap();
    let first = dir.path().join("first.jsonl");
    let args = [input.to_str().unwrap(), "--concurrency", "4"];
    let report_arg = ["--report", first.to_str().unwrap()];
    let mut c = command(&cfg, &[&["import-batch"][..], &args, &report_arg].concat());
    let child = c
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while report(&first).len() < 3 {
        assert!(
            Instant::now() < deadline,
            "no progress before the interrupt"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    let reported: HashSet<String> = report(&first)
        .iter()
        .filter(|r| r["errorCode"] == 0)
        .map(|r| r["UID"].as_str().unwrap().to_owned())
        .collect();
    assert!(reported.len() < 24, "stopped early: {reported:?}");
    // Every row fetched was finished and reported, none dropped in flight.
    for i in 0..24 {
        if origin.counts.hits(&format!("/slow/{i}.jpg")) > 0 {
            assert!(
                reported.contains(&format!("u{i}")),
                "u{i} dropped in flight"
            );
        }
    }
    // ...and recorded: the rerun fetches none of them again.
    let out = batch(&cfg, &args, None).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!((0..24).all(|i| origin.counts.hits(&format!("/slow/{i}.jpg")) == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_split_one_input() {
    let origin = origin::start().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &origin);
    let input = dir.path().join("in.jsonl");
    let rows: Vec<Value> = (0..9)
        .map(|i| json!({ "UID": format!("u{i}"), "URL": origin.url(&format!("/ok/{i}.jpg")) }))
        .collect();
    std::fs::write(&input, jsonl(&rows)).unwrap();
    let mut seen = Vec::new();
    for shard in ["1/3", "2/3", "3/3"] {
        let rep = dir
            .path()
            .join(format!("{}.jsonl", shard.replace('/', "-")));
        let out = batch(
            &cfg,
            &[
                input.to_str().unwrap(),
                "--shard",
                shard,
                "--report",
                rep.to_str().unwrap(),
            ],
            None,
        )
        .await;
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        seen.extend(report(&rep).into_iter().map(|r| r["row"].as_u64().unwrap()));
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..9).collect::<Vec<u64>>());
    assert!((0..9).all(|i| origin.counts.hits(&format!("/ok/{i}.jpg")) == 1));
    let out = batch(&cfg, &[input.to_str().unwrap(), "--shard", "4/3"], None).await;
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_shows_the_batch_examples_and_exit_statuses() {
    let out = Command::new(env!("CARGO_BIN_EXE_avatarium"))
        .arg("--help")
        .output()
        .unwrap();
    let help = text(&out.stdout);
    assert!(
        help.contains("avatarium import-batch accounts.jsonl"),
        "{help}"
    );
    assert!(help.contains("130 when"), "{help}");
}
