//! Loopback import load test through the full API (bench/README.md): a local HTTP server
//! serves the corpus, a `Client` opened on a temporary folder (embedded SQLite + blob
//! folder, `allow_loopback`) imports and publishes each photo by URL (fetch + process +
//! store), with 1, 2 and 16 concurrent callers. Prints imports/s and p50/p99 latency.
//!
//! ```text
//! avatarium-bench-http [CORPUS_DIR] [--imports N] [--callers 1,2,16]
//! ```

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use avatarium::{Client, Config};
use avatarium_bench::origin::{read_corpus, serve};
use serde_json::json;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut corpus = avatarium_bench::default_corpus();
    let mut imports = 112usize;
    let mut callers = vec![1usize, 2, 16];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--imports" => imports = args.next().and_then(|v| v.parse().ok()).unwrap_or(imports),
            "--callers" => callers = avatarium_bench::counts(&args.next().unwrap_or_default()),
            _ => corpus = PathBuf::from(a),
        }
    }
    let (names, files) = read_corpus(&corpus)?;
    let files = Arc::new(files);
    let addr = serve(files.clone()).await?;
    let data = tempfile::tempdir()?;
    let client = Arc::new(
        Client::open(Config {
            data_dir: data.path().to_path_buf(),
            allow_loopback: true,
            fetch_allowed_ports: vec![addr.port()],
            // The corpus has two files over the 6 MiB default.
            max_photo_bytes: 64 * 1024 * 1024,
            // Let 16 callers queue rather than fail fast (the default queue is short).
            max_queued_imports: Some(1024),
            ..Config::default()
        })
        .await?,
    );
    println!(
        "{} corpus files served from http://{addr}/; {imports} imports (import + publish by URL) per level; \
         Client on a temporary folder (SQLite + blob folder), max_concurrent_imports default ({} cores)",
        names.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    println!("| callers | imports/s | p50 ms | p99 ms | errors |");
    println!("|---------|-----------|--------|--------|--------|");
    let names = Arc::new(names);
    for &n in &callers {
        let next = Arc::new(AtomicUsize::new(0));
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..n.max(1) {
            let (client, next, names) = (client.clone(), next.clone(), names.clone());
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= imports {
                        break;
                    }
                    let name = &names[i % names.len()];
                    let t = Instant::now();
                    let r = client
                        .call(
                            "accounts.importProfilePhoto",
                            &json!({"UID": format!("bench-{n}-{i}"), "URL": format!("http://{addr}/{name}"), "publish": true}),
                        )
                        .await;
                    lat.push(t.elapsed());
                    if !r.is_ok() {
                        errors.push(format!("{name}: {}", r.to_json()));
                    }
                }
                (lat, errors)
            }));
        }
        let mut lat = Vec::new();
        let mut errors = Vec::new();
        for t in tasks {
            let (l, e) = t.await?;
            lat.extend(l);
            errors.extend(e);
        }
        let wall = start.elapsed();
        lat.sort();
        println!(
            "| {n:>7} | {:>9.1} | {:>6.1} | {:>6.1} | {:>6} |",
            lat.len() as f64 / wall.as_secs_f64(),
            percentile(&lat, 0.5).as_secs_f64() * 1e3,
            percentile(&lat, 0.99).as_secs_f64() * 1e3,
            errors.len()
        );
        for e in errors.iter().take(3) {
            eprintln!("  error: {e}");
        }
    }
    Ok(())
}
