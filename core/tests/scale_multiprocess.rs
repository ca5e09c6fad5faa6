//! Several processes on one set of stores (issue 8): three OS processes hammer the same
//! UIDs for a bounded time — uploads, imports, publishes, removes, reads, purges, regTokens
//! issued by one process and used by another — each talking to its own node of the S3
//! cluster. Then the stores are checked: every published or pending key names an existing
//! blob, a purge with no grace run by three processes at once leaves no orphan, and every
//! process builds the same photo URLs from `public_base_url`.
//!
//! The processes are this test binary started again with `AVATARIUM_SCALE_WORKER` set: it then
//! runs only the ignored `worker_process` test, which does the job described in that
//! variable and writes a JSON report.
//!
//! `AVATARIUM_SCALE_HAMMER_SECS` sets the hammering time (default 12 s on PostgreSQL + S3, 5 s on
//! the embedded default).

mod support;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use avatarium::store::{BlobStore, MetaStore, ObjectBlobStore, S3Location};
use avatarium::{Client, Config};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use support::scale::{kinds, unique_png, Backend, Kind};
use support::{repo_root, TestServer};

const UIDS: [&str; 4] = ["mp-a", "mp-b", "mp-c", "mp-d"];
const SECRET: &str = "multi-process-shared-secret-0123456789";
const PROCESSES: usize = 3;
const TASKS_PER_PROCESS: usize = 3;

/// What a worker process does.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Job {
    mode: Mode,
    /// The worker's `Config` (stores of the backend, its own S3 node).
    config: Value,
    seconds: u64,
    seed: u64,
    /// regTokens are exchanged as files here.
    token_dir: PathBuf,
    report: PathBuf,
    #[serde(default)]
    token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Mode {
    Hammer,
    Purge,
    Info,
    Issue,
    Use,
    Finalize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Report {
    /// `method errorCode` → count.
    calls: BTreeMap<String, u64>,
    violations: Vec<String>,
    blobs_deleted: u64,
    foreign_tokens_used: u64,
    urls_checked: u64,
    /// Info: UID → (photoURL, thumbnailURL); Issue: the token; Use/Finalize: the envelope.
    output: Value,
}

fn config_of(job: &Job) -> Config {
    Config::from_value(job.config.clone()).expect("worker config")
}

/// The blob key a URL names, by the configuration's rules.
fn key_of(config: &Config, url: &str) -> Option<String> {
    match &config.public_base_url {
        Some(base) => url.strip_prefix(base.as_str()).map(str::to_string),
        None => url
            .starts_with("file://")
            .then(|| url.rsplit('/').next().unwrap_or("").to_string()),
    }
}

fn blob_store_of(config: &Config) -> Arc<dyn BlobStore> {
    match &config.blob_store {
        Some(spec) => Arc::new(ObjectBlobStore::s3(&S3Location::parse(spec).unwrap()).unwrap()),
        None => Arc::new(ObjectBlobStore::local(&config.data_dir.join("blobs")).unwrap()),
    }
}

#[test]
#[ignore = "a worker process of the multi-process test, started by it"]
fn worker_process() {
    let Ok(text) = std::env::var("AVATARIUM_SCALE_WORKER") else {
        return;
    };
    let job: Job = serde_json::from_str(&text).expect("AVATARIUM_SCALE_WORKER");
    // The binding-style set-up: this process owns one runtime.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let report = rt.block_on(run_job(&job));
    std::fs::write(&job.report, serde_json::to_vec_pretty(&report).unwrap()).unwrap();
}

struct Shared {
    client: Client,
    config: Config,
    blobs: Arc<dyn BlobStore>,
    server: TestServer,
    job: Job,
    report: Mutex<Report>,
    counter: AtomicU64,
}

impl Shared {
    fn record(&self, method: &str, code: u32) {
        *self
            .report
            .lock()
            .unwrap()
            .calls
            .entry(format!("{method} {code}"))
            .or_default() += 1;
    }

    fn violation(&self, what: String) {
        eprintln!("VIOLATION: {what}");
        self.report.lock().unwrap().violations.push(what);
    }

    /// Call and check the code is one of `allowed`.
    async fn call(&self, method: &str, params: Value, allowed: &[u32]) -> Value {
        let r = self.client.call(method, &params).await.into_value();
        let code = u32::try_from(r["errorCode"].as_u64().unwrap_or(1)).unwrap_or(1);
        self.record(method, code);
        if !allowed.contains(&code) {
            self.violation(format!(
                "{method}: errorCode {code} not in {allowed:?}: {r}"
            ));
        }
        r
    }

    /// The URLs in `r` start with the base and name existing blobs; a miss counts only
    /// when the account still points at the blob afterwards (it may have moved on and
    /// the old blob been purged meanwhile).
    async fn check_urls(&self, uid: &str, r: &Value) {
        for field in ["photoURL", "thumbnailURL"] {
            let Some(url) = r["profile"][field].as_str().or_else(|| r[field].as_str()) else {
                continue;
            };
            let Some(key) = key_of(&self.config, url) else {
                self.violation(format!("{url} does not start with the public base URL"));
                continue;
            };
            self.report.lock().unwrap().urls_checked += 1;
            let mut missing = 0;
            loop {
                if self.blobs.exists(&key).await.unwrap_or(true) {
                    break;
                }
                let again = self
                    .client
                    .call("accounts.getAccountInfo", &json!({ "UID": uid }))
                    .await
                    .into_value();
                if again["profile"][field].as_str() != Some(url) {
                    break; // moved on: the old blob may be gone legitimately
                }
                missing += 1;
                if missing == 2 {
                    self.violation(format!("{uid}: {field} {url} points at a missing blob"));
                    break;
                }
            }
        }
    }

    fn next(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::SeqCst)
    }
}

/// xorshift: no extra dependency, reproducible per seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

async fn run_job(job: &Job) -> Report {
    let server = TestServer::with_files(&repo_root().join("conformance/files")).await;
    let mut config = config_of(job);
    config.allow_addresses = vec![server.addr.ip()];
    config.fetch_allowed_ports = vec![server.addr.port()];
    let client = Client::open(config.clone())
        .await
        .expect("worker: open client");
    let shared = Arc::new(Shared {
        blobs: blob_store_of(&config),
        client,
        config,
        server,
        job: job.clone(),
        report: Mutex::default(),
        counter: AtomicU64::new(0),
    });
    match job.mode {
        Mode::Hammer => {
            let deadline = Instant::now() + Duration::from_secs(job.seconds);
            let tasks: Vec<_> = (0..TASKS_PER_PROCESS as u64)
                .map(|t| {
                    let shared = shared.clone();
                    tokio::spawn(async move { hammer(shared, deadline, t).await })
                })
                .collect();
            for t in tasks {
                t.await.expect("hammer task");
            }
        }
        Mode::Purge => {
            let r = shared.client.purge_response().await.into_value();
            shared.record(
                "purge",
                u32::try_from(r["errorCode"].as_u64().unwrap_or(1)).unwrap_or(1),
            );
            shared.report.lock().unwrap().blobs_deleted = r["blobsDeleted"].as_u64().unwrap_or(0);
            shared.report.lock().unwrap().output = r;
        }
        Mode::Info => {
            let mut out = serde_json::Map::new();
            for uid in UIDS {
                let r = shared
                    .call("accounts.getAccountInfo", json!({ "UID": uid }), &[0])
                    .await;
                shared.check_urls(uid, &r).await;
                out.insert(uid.to_string(), r["profile"].clone());
            }
            shared.report.lock().unwrap().output = Value::Object(out);
        }
        Mode::Issue => {
            let r = shared
                .call("accounts.initRegistration", json!({}), &[0])
                .await;
            shared.report.lock().unwrap().output = r;
        }
        Mode::Use => {
            let token = job.token.clone().expect("token");
            let photo = b64(&unique_png(job.seed));
            let params = json!({ "regToken": token, "photoBytes": photo, "publish": true });
            let r = shared.call("accounts.setProfilePhoto", params, &[0]).await;
            let info = shared
                .call(
                    "accounts.getAccountInfo",
                    json!({ "regToken": token }),
                    &[0],
                )
                .await;
            if info["profile"]["photoURL"] != r["photoURL"] {
                shared.violation(format!("published {r} but the account shows {info}"));
            }
            shared.report.lock().unwrap().output = info;
        }
        Mode::Finalize => {
            let token = job.token.clone().expect("token");
            let r = shared
                .client
                .call(
                    "accounts.finalizeRegistration",
                    &json!({ "regToken": token }),
                )
                .await;
            shared.report.lock().unwrap().output = r.into_value();
        }
    }
    let report = std::mem::take(&mut *shared.report.lock().unwrap());
    report
}

async fn hammer(shared: Arc<Shared>, deadline: Instant, task: u64) {
    let mut rng = Rng(shared.job.seed.wrapping_mul(31).wrapping_add(task * 7919) | 1);
    let me = format!("{}-{task}", shared.job.seed);
    while Instant::now() < deadline {
        let uid = UIDS[rng.below(UIDS.len() as u64) as usize];
        let publish = rng.below(2) == 0;
        match rng.below(100) {
            0..=29 => {
                let n = shared.job.seed * 1_000_000 + shared.next();
                let params =
                    json!({ "UID": uid, "photoBytes": b64(&unique_png(n)), "publish": publish });
                let r = shared.call("accounts.setProfilePhoto", params, &[0]).await;
                if publish {
                    shared.check_urls(uid, &r).await;
                }
            }
            30..=44 => {
                let file = ["photo.jpg", "photo.png", "photo.gif"][rng.below(3) as usize];
                let params = json!({ "UID": uid, "url": shared.server.url(&format!("/{file}")), "publish": publish });
                shared
                    .call("accounts.importProfilePhoto", params, &[0])
                    .await;
            }
            45..=64 => {
                let r = shared
                    .call(
                        "accounts.publishProfilePhoto",
                        json!({ "UID": uid }),
                        &[0, 409010],
                    )
                    .await;
                shared.check_urls(uid, &r).await;
            }
            65..=69 => {
                shared
                    .call("accounts.removeProfilePhoto", json!({ "UID": uid }), &[0])
                    .await;
            }
            70..=84 => {
                let r = shared
                    .call("accounts.getAccountInfo", json!({ "UID": uid }), &[0])
                    .await;
                shared.check_urls(uid, &r).await;
            }
            85..=89 => match shared.client.purge().await {
                Ok(report) => {
                    shared.record("purge", 0);
                    shared.report.lock().unwrap().blobs_deleted += report.blobs_deleted;
                }
                Err(e) => {
                    shared.record("purge", e.error_code());
                    // The cause, for the report (the envelope only says "Internal error").
                    let mut causes = Vec::new();
                    let mut source = std::error::Error::source(&e);
                    while let Some(s) = source {
                        causes.push(s.to_string());
                        source = s.source();
                    }
                    shared.violation(format!("purge: {e}; caused by {causes:?}"));
                }
            },
            _ => token_round(&shared, &mut rng, &me).await,
        }
    }
}

/// Issue a regToken and leave it for the other processes, or use one they left.
async fn token_round(shared: &Shared, rng: &mut Rng, me: &str) {
    let dir = &shared.job.token_dir;
    let foreign: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|p: &PathBuf| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.starts_with(&format!("{}-", shared.job.seed)) && !name.ends_with(".tmp")
        })
        .collect();
    if foreign.is_empty() || rng.below(3) == 0 {
        let r = shared
            .call("accounts.initRegistration", json!({}), &[0])
            .await;
        if let Some(token) = r["regToken"].as_str() {
            let path = dir.join(format!("{me}-{}", shared.next()));
            std::fs::write(path.with_extension("tmp"), token).unwrap();
            std::fs::rename(path.with_extension("tmp"), path).unwrap();
        }
        return;
    }
    let path = &foreign[rng.below(foreign.len() as u64) as usize];
    let Ok(token) = std::fs::read_to_string(path) else {
        return;
    };
    // A foreign token is valid here, unless some process finalized it already.
    let r = if rng.below(4) == 0 {
        shared
            .call(
                "accounts.finalizeRegistration",
                json!({ "regToken": token }),
                &[0, 403005],
            )
            .await
    } else {
        let photo = b64(&unique_png(shared.job.seed * 1_000_000 + shared.next()));
        let params = json!({ "regToken": token, "photoBytes": photo, "publish": true });
        shared
            .call("accounts.setProfilePhoto", params, &[0, 403005])
            .await
    };
    match r["errorCode"].as_u64() {
        Some(0) => shared.report.lock().unwrap().foreign_tokens_used += 1,
        _ if !r["errorDetails"]
            .as_str()
            .unwrap_or("")
            .contains("finalized") =>
        {
            shared.violation(format!(
                "a foreign regToken was refused for another reason than finalization: {r}"
            ))
        }
        _ => {}
    }
}

// ---- the parent side ----

struct Worker {
    child: Child,
    report: PathBuf,
    log: PathBuf,
    name: String,
}

fn spawn(job: &Job, name: &str, logs: &Path) -> Worker {
    let log = logs.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "worker_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            "AVATARIUM_SCALE_WORKER",
            serde_json::to_string(job).unwrap(),
        )
        .env("AVATARIUM_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start a worker process");
    Worker {
        child,
        report: job.report.clone(),
        log,
        name: name.to_string(),
    }
}

/// Wait for every worker (killing those past `limit`) and return their reports.
fn collect(workers: Vec<Worker>, limit: Duration) -> Vec<Report> {
    let deadline = Instant::now() + limit;
    workers
        .into_iter()
        .map(|mut w| {
            let status = loop {
                if let Some(s) = w.child.try_wait().unwrap() {
                    break s;
                }
                if Instant::now() > deadline {
                    let _ = w.child.kill();
                    let _ = w.child.wait();
                    panic!(
                        "{} ran past its time limit; log:\n{}",
                        w.name,
                        std::fs::read_to_string(&w.log).unwrap_or_default()
                    );
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            let log = std::fs::read_to_string(&w.log).unwrap_or_default();
            assert!(
                status.success(),
                "{} failed ({status}); log:\n{log}",
                w.name
            );
            let text = std::fs::read_to_string(&w.report)
                .unwrap_or_else(|_| panic!("{}: no report; log:\n{log}", w.name));
            serde_json::from_str(&text).unwrap()
        })
        .collect()
}

struct Run {
    backend: Backend,
    tmp: tempfile::TempDir,
    seed: AtomicU64,
}

impl Run {
    fn job(&self, mode: Mode, node: usize, seconds: u64, grace: u64, token: Option<String>) -> Job {
        let mut config = self.backend.config_for_node(node);
        config.secrets = vec![SECRET.into()];
        config.purge_grace_secs = grace;
        config.fetch_timeout_ms = 5000;
        let seed = self.seed.fetch_add(1, Ordering::SeqCst);
        Job {
            mode,
            config: serde_json::to_value(&config).unwrap(),
            seconds,
            seed,
            token_dir: self.tmp.path().join("tokens"),
            report: self.tmp.path().join(format!("report-{seed}.json")),
            token,
        }
    }

    fn run(&self, jobs: Vec<(Job, String)>, limit: Duration) -> Vec<Report> {
        let workers = jobs
            .iter()
            .map(|(job, name)| spawn(job, name, self.tmp.path()))
            .collect();
        collect(workers, limit)
    }
}

fn hammer_secs(kind: Kind) -> u64 {
    std::env::var("AVATARIUM_SCALE_HAMMER_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(match kind {
            Kind::Scale => 12,
            Kind::Embedded => 5,
        })
}

/// Every key an account points at exists; returns the referenced set.
async fn check_references(b: &Backend) -> HashSet<String> {
    let meta = b.meta().await;
    let referenced = meta.referenced_keys().await.unwrap();
    for key in &referenced {
        assert!(
            b.blobs.exists(key).await.unwrap(),
            "{}: referenced blob {key} is missing",
            b.label()
        );
    }
    for uid in UIDS {
        let acc = meta.account(uid).await.unwrap().unwrap();
        if let Some(p) = &acc.pending {
            assert!(referenced.contains(&p.photo_key) && referenced.contains(&p.thumb_key));
        }
    }
    meta.close().await;
    referenced
}

#[test]
fn three_processes_hammer_the_same_uids_and_the_stores_stay_consistent() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for kind in kinds() {
        let backend = rt.block_on(Backend::new(kind));
        let run = Run {
            backend,
            tmp: tempfile::tempdir().unwrap(),
            seed: AtomicU64::new(1),
        };
        std::fs::create_dir_all(run.tmp.path().join("tokens")).unwrap();
        let b = &run.backend;
        let label = b.label();
        // The UIDs exist before the processes start (first writes create them anyway).
        rt.block_on(async {
            let mut c = b.config();
            c.secrets = vec![SECRET.into()];
            let client = Client::open(c).await.unwrap();
            for uid in UIDS {
                let r = client
                    .call(
                        "accounts.setProfilePhoto",
                        &json!({"UID": uid, "photoBytes": b64(&unique_png(0))}),
                    )
                    .await;
                assert_eq!(r.error_code(), 0, "{r:?}");
            }
        });

        // 1. Hammer: three processes, one S3 node each, purges with a 5 s grace among them.
        let secs = hammer_secs(kind);
        let started = Instant::now();
        let jobs = (0..PROCESSES)
            .map(|i| {
                (
                    run.job(Mode::Hammer, i, secs, 5, None),
                    format!("hammer-{i}"),
                )
            })
            .collect();
        let reports = run.run(jobs, Duration::from_secs(secs + 120));
        let mut total = 0;
        for (i, r) in reports.iter().enumerate() {
            assert!(
                r.violations.is_empty(),
                "{label}: process {i}: {:#?}",
                r.violations
            );
            let calls: u64 = r.calls.values().sum();
            total += calls;
            assert!(
                calls >= 10,
                "{label}: process {i} made only {calls} calls: {:?}",
                r.calls
            );
            let published = r
                .calls
                .get("accounts.publishProfilePhoto 0")
                .copied()
                .unwrap_or(0)
                + r.calls
                    .get("accounts.setProfilePhoto 0")
                    .copied()
                    .unwrap_or(0);
            assert!(
                published > 0,
                "{label}: process {i} never stored a photo: {:?}",
                r.calls
            );
        }
        let deleted: u64 = reports.iter().map(|r| r.blobs_deleted).sum();
        let foreign: u64 = reports.iter().map(|r| r.foreign_tokens_used).sum();
        let urls: u64 = reports.iter().map(|r| r.urls_checked).sum();
        eprintln!(
            "{label}: {total} calls from {PROCESSES} processes in {:.1} s; {urls} URLs checked; \
             purges during the run deleted {deleted} blobs; {foreign} regTokens used by another process",
            started.elapsed().as_secs_f64()
        );
        assert!(
            foreign > 0,
            "{label}: no regToken crossed processes: {reports:#?}"
        );
        assert!(urls > 0);

        // 2. Consistency after the run.
        let referenced = rt.block_on(check_references(b));
        let listed: HashSet<String> = rt
            .block_on(b.blobs.list())
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert!(referenced.is_subset(&listed), "{label}");
        let orphans = listed.difference(&referenced).count() as u64;

        // 3. Every process builds the same URLs (public_base_url, not the node it talks to).
        let jobs = (0..PROCESSES)
            .map(|i| (run.job(Mode::Info, i, 0, 3600, None), format!("info-{i}")))
            .collect();
        let infos = run.run(jobs, Duration::from_secs(120));
        for r in &infos {
            assert!(r.violations.is_empty(), "{label}: {:?}", r.violations);
            assert_eq!(
                r.output, infos[0].output,
                "{label}: processes disagree on the photo URLs"
            );
        }
        if let Some(base) = &b.public_base_url {
            let text = infos[0].output.to_string();
            assert!(
                text.contains(base.as_str()) || !text.contains("photoURL"),
                "{label}: {text}"
            );
        }

        // 4. Purge with no grace from three processes at once: no orphan survives, every
        //    referenced blob does, and each orphan is counted once.
        let jobs = (0..PROCESSES)
            .map(|i| (run.job(Mode::Purge, i, 0, 0, None), format!("purge-{i}")))
            .collect();
        let purges = run.run(jobs, Duration::from_secs(120));
        for r in &purges {
            assert_eq!(
                r.calls.get("purge 0"),
                Some(&1),
                "{label}: {:?} {}",
                r.calls,
                r.output
            );
        }
        let deleted: u64 = purges.iter().map(|r| r.blobs_deleted).sum();
        assert_eq!(
            deleted, orphans,
            "{label}: purges deleted {deleted} of {orphans} orphans"
        );
        let referenced_after = rt.block_on(check_references(b));
        let listed: HashSet<String> = rt
            .block_on(b.blobs.list())
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(
            listed, referenced_after,
            "{label}: orphans survived or references dangle"
        );
        assert_eq!(
            referenced_after, referenced,
            "{label}: a purge changed what accounts point at"
        );

        // 5. A regToken issued by one process works in another and is finalized by a third.
        let issued = run.run(
            vec![(run.job(Mode::Issue, 0, 0, 3600, None), "issue".into())],
            Duration::from_secs(60),
        );
        let token = issued[0].output["regToken"]
            .as_str()
            .expect("regToken")
            .to_string();
        let used = run.run(
            vec![(
                run.job(Mode::Use, 1, 0, 3600, Some(token.clone())),
                "use".into(),
            )],
            Duration::from_secs(60),
        );
        assert!(
            used[0].violations.is_empty(),
            "{label}: {:?}",
            used[0].violations
        );
        let uid = used[0].output["UID"]
            .as_str()
            .expect("the token's account")
            .to_string();
        assert_eq!(used[0].output["isRegistered"], json!(false), "{label}");
        let fin = run.run(
            vec![(
                run.job(Mode::Finalize, 2 % PROCESSES, 0, 3600, Some(token.clone())),
                "finalize".into(),
            )],
            Duration::from_secs(60),
        );
        assert_eq!(fin[0].output["errorCode"], 0, "{label}: {}", fin[0].output);
        assert_eq!(
            fin[0].output["UID"],
            json!(uid),
            "{label}: {}",
            fin[0].output
        );
        let again = run.run(
            vec![(
                run.job(Mode::Finalize, 0, 0, 3600, Some(token)),
                "finalize-again".into(),
            )],
            Duration::from_secs(60),
        );
        assert_eq!(
            again[0].output["errorCode"], 403005,
            "{label}: {}",
            again[0].output
        );
        assert!(again[0].output["errorDetails"]
            .as_str()
            .unwrap()
            .contains("finalized"));
    }
}
