//! The concurrency bound (THREATS.md T20, issue 3): with `max_concurrent_imports = N` and a
//! bounded queue, the peak memory of many simultaneous imports of a large-but-legal photo
//! is bounded by N × (one decode), not by the number of callers, and calls past the queue
//! fail fast with 503001.
//!
//! One test in this binary, so nothing else allocates while it measures (peak RSS through
//! /proc/self/status VmHWM, reset with /proc/self/clear_refs before the burst).

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use avatarium::Config;

use support::craft::*;
use support::hostile::*;
use support::http_server;

const CALLERS: usize = 32;
const RUNNING: usize = 2;
const QUEUED: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn peak_memory_is_bounded_by_max_concurrent_imports_and_the_queue_fails_fast() {
    // A 40 MP RGB photo (8000×5000 black): 120 MB of pixels, under 1 MB on the wire.
    let (w, h) = (8000u32, 5000u32);
    let photo = Arc::new(png_zeros(w, h, 2));
    assert!(photo.len() < 2 * 1024 * 1024);
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        max_concurrent_imports: Some(RUNNING),
        max_queued_imports: Some(QUEUED),
        // The deadline is not what is tested here; a loaded machine must not hit it.
        decode_timeout_ms: 300_000,
        ..config(dir.path(), &[9])
    };
    assert!(
        cfg.max_pixels >= u64::from(w) * u64::from(h),
        "the photo is legal"
    );
    let client = client(cfg, http_server::StubResolver::sequence(vec![])).await;

    // One import on its own: what a single decode costs in this process.
    let (r, single) = measure(upload(&client, "calibrate", &photo)).await;
    assert!(r.is_ok(), "{}", r.to_json());
    println!("one 40 MP import: {single}");

    // The burst: CALLERS uploads at once. RUNNING decode, QUEUED wait, the rest get 503001.
    tokio::time::sleep(Duration::from_millis(50)).await;
    reset_peak();
    let (rss_before, _) = rss_hwm();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..CALLERS {
        let (client, photo) = (client.clone(), photo.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = upload(&client, &format!("caller{i}"), &photo).await;
            (r, t.elapsed())
        }));
    }
    let mut ok_times = Vec::new();
    let mut busy_times = Vec::new();
    for t in tasks {
        let (r, took) = t.await.unwrap();
        match r.error_code() {
            0 => ok_times.push(took),
            503001 => {
                assert_eq!(r.status_code(), 503);
                assert!(
                    details(&r).contains("Too many imports in progress"),
                    "{}",
                    r.to_json()
                );
                busy_times.push(took);
            }
            _ => panic!("unexpected: {}", r.to_json()),
        }
    }
    let (_, hwm) = rss_hwm();
    let growth = hwm.saturating_sub(rss_before);
    let total = start.elapsed();

    // The bound from configuration: N decodes of at most w × h × 4 bytes (RGBA is the
    // widest layout) plus the decoder's 32 MiB slack each, plus the callers' own inputs
    // (base64 text and decoded bytes of every caller) and some room for the runtime.
    let per_decode = u64::from(w) * u64::from(h) * 4 + 32 * MIB;
    let inputs = CALLERS as u64 * (photo.len() as u64 * 3);
    let bound = RUNNING as u64 * per_decode + inputs + 128 * MIB;
    println!(
        "{CALLERS} callers, {RUNNING} running, {QUEUED} queued: {} processed, {} refused with 503001, \
         peak RSS growth {} MiB (bound {} MiB; {CALLERS} unbounded decodes would need about {} MiB), {} ms",
        ok_times.len(),
        busy_times.len(),
        growth / MIB,
        bound / MIB,
        CALLERS as u64 * single.growth.max(u64::from(w) * u64::from(h) * 3) / MIB,
        total.as_millis()
    );
    assert_eq!(ok_times.len(), RUNNING + QUEUED, "processed");
    assert_eq!(busy_times.len(), CALLERS - RUNNING - QUEUED, "refused");
    assert!(
        growth < bound,
        "peak RSS grew by {} MiB, over the bound of {} MiB",
        growth / MIB,
        bound / MIB
    );
    // Fail fast: every refusal came back before the first processed import finished.
    let slowest_refusal = busy_times.iter().max().unwrap();
    let fastest_import = ok_times.iter().min().unwrap();
    assert!(
        slowest_refusal < fastest_import,
        "a 503001 took {slowest_refusal:?}, the first import {fastest_import:?}"
    );
    assert!(
        *slowest_refusal < Duration::from_secs(5),
        "{slowest_refusal:?}"
    );

    // Capacity is back afterwards.
    let r = upload(&client, "after", &png(64, 64)).await;
    assert!(r.is_ok(), "{}", r.to_json());
}
