//! Shared pieces of the hostile suites (`hostile_*.rs`): clients on a fresh embedded store
//! with a stub resolver (no real DNS query is ever made), envelope checks, memory
//! measurement through `/proc/self/status`, and the corpora. The hostile files themselves
//! are built in `craft` and `jpeg_craft`.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use avatarium::fetch::NameResolver;
use avatarium::{Client, Config, Response};
use base64::Engine;
use serde_json::{json, Value};

// -----------------------------------------------------------------------------------------
// Clients and calls.

/// A configuration on `dir` that may reach exactly 127.0.0.1 (nothing else of loopback)
/// on `ports`, with short deadlines.
pub fn config(dir: &Path, ports: &[u16]) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        allow_addresses: vec![IpAddr::from([127, 0, 0, 1])],
        fetch_allowed_ports: ports.to_vec(),
        fetch_connect_timeout_ms: 1000,
        fetch_timeout_ms: 2000,
        ..Config::default()
    }
}

/// A client whose resolver is `resolver` (tests never use the system resolver).
pub async fn client(config: Config, resolver: Arc<dyn NameResolver>) -> Client {
    Client::builder(config)
        .resolver(resolver)
        .build()
        .await
        .expect("open client")
}

/// `accounts.importProfilePhoto` through the generic entry point.
pub async fn import(client: &Client, uid: &str, url: &str) -> Response {
    client
        .call(
            "accounts.importProfilePhoto",
            &json!({ "UID": uid, "url": url, "publish": true }),
        )
        .await
}

/// `accounts.uploadProfilePhoto` (alias of setProfilePhoto) with base64 bytes.
pub async fn upload(client: &Client, uid: &str, bytes: &[u8]) -> Response {
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    client
        .call(
            "accounts.uploadProfilePhoto",
            &json!({ "UID": uid, "photoBytes": b64, "publish": true }),
        )
        .await
}

pub fn details(r: &Response) -> String {
    r.error()
        .map_or_else(String::new, |e| e.details().to_string())
}

/// Addresses (and spellings) that must never appear in what the caller is told.
pub const INTERNAL_SPELLINGS: &[&str] = &[
    "127.0.0.1",
    "127.0.0.2",
    "::1",
    "[::",
    "169.254",
    "a9fe",
    "2852039166",
    "0xa9",
    "10.0.0.1",
    "192.168.",
    "172.16.",
    "100.100.100.200",
    "168.63.129.16",
    "fd00",
    "2130706433",
];

/// The envelope is the error `code` and its details say `words` and name no address.
#[track_caller]
pub fn assert_refused(r: &Response, code: u32, words: &str) {
    assert_eq!(r.error_code(), code, "{}", r.to_json());
    let d = details(r);
    assert!(
        d.to_lowercase().contains(&words.to_lowercase()),
        "errorDetails {d:?} do not say {words:?}"
    );
    assert_no_leak(r);
}

/// No internal address in `errorDetails` (nor anywhere else in the envelope).
#[track_caller]
pub fn assert_no_leak(r: &Response) {
    let all = r.to_json();
    for leak in INTERNAL_SPELLINGS {
        assert!(
            !details(r).contains(leak),
            "errorDetails leak {leak:?}: {all}"
        );
    }
}

/// The stored photo and thumbnail of a successful publish (read from the local blob folder).
pub fn stored(r: &Response) -> (Vec<u8>, Vec<u8>) {
    let envelope = r.envelope();
    let read = |field: &str| {
        let url = envelope
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no {field} in {}", r.to_json()));
        let path = url::Url::parse(url).unwrap().to_file_path().unwrap();
        std::fs::read(path).expect("blob exists")
    };
    (read("photoURL"), read("thumbnailURL"))
}

// -----------------------------------------------------------------------------------------
// A listener that only counts connections (the "secret" side of a refused request). It
// binds loopback only: 127.0.0.1 or ::1.

pub struct Counter {
    pub addr: SocketAddr,
    count: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Counter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Counter {
    pub async fn on(ip: IpAddr) -> Counter {
        Self::on_port(ip, 0).await.expect("bind a loopback port")
    }

    /// A counter on `ip`:`port`, or `None` when the port is taken.
    pub async fn on_port(ip: IpAddr, port: u16) -> Option<Counter> {
        assert!(ip.is_loopback(), "test listeners bind loopback only");
        let listener = tokio::net::TcpListener::bind((ip, port)).await.ok()?;
        let addr = listener.local_addr().unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        let task = tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                c.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecret").await;
                });
            }
        });
        Some(Counter { addr, count, task })
    }

    /// A counter on ::1 (IPv6 loopback).
    pub async fn v6() -> Counter {
        Self::on(IpAddr::V6(Ipv6Addr::LOCALHOST)).await
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    pub fn connections(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

// -----------------------------------------------------------------------------------------
// Memory: RSS growth of this process, from /proc/self/status.

/// `VmRSS` and `VmHWM` in bytes.
pub fn rss_hwm() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
            .unwrap_or_else(|| panic!("{name} missing from /proc/self/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Reset `VmHWM` to the current RSS (Linux ≥ 4.0: write 5 to /proc/self/clear_refs).
/// Returns false where that is not possible; peaks are then measured from the old HWM,
/// which can only over-estimate growth.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// What one measured call cost.
#[derive(Debug, Clone, Copy)]
pub struct Cost {
    /// Peak RSS during the call minus RSS before it.
    pub growth: u64,
    pub elapsed: Duration,
}

impl std::fmt::Display for Cost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.1} MiB peak growth, {} ms",
            self.growth as f64 / MIB as f64,
            self.elapsed.as_millis()
        )
    }
}

pub const MIB: u64 = 1024 * 1024;

/// Run `f` and measure its peak RSS growth and wall time. Callers must make sure nothing
/// else in the process allocates meanwhile (the suites that measure run one test at a time).
pub async fn measure<T, F: std::future::Future<Output = T>>(f: F) -> (T, Cost) {
    reset_peak();
    let (before, _) = rss_hwm();
    let start = Instant::now();
    let out = f.await;
    let elapsed = start.elapsed();
    let (_, hwm) = rss_hwm();
    (
        out,
        Cost {
            growth: hwm.saturating_sub(before),
            elapsed,
        },
    )
}

// -----------------------------------------------------------------------------------------
// Corpora.

/// `../shared/corpora` relative to the project root, if present.
pub fn corpora() -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora");
    p.is_dir().then_some(p)
}

/// Every regular file under `root`, recursively, sorted.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// User + system CPU seconds of this process so far (`/proc/self/stat`, fields 14 and 15,
/// in USER_HZ ticks, which Linux fixes at 100 per second for user space).
pub fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The command name (field 2) may hold spaces; the fields after it are plain.
    let after = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields[i - 3].parse::<u64>().expect("ticks");
    (ticks(14) + ticks(15)) as f64 / 100.0
}
