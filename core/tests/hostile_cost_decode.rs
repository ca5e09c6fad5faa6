//! Hostile *cost* in the decoders (issue 14, pipeline part; docs/budgets.md): files that
//! are small but ask for minutes of CPU or hundreds of MB, inconsistent scan headers that
//! used to reach a panic, and a cancel that must free the core within ~100 ms.
//!
//! Each refusal is measured: process CPU seconds of the call (/proc/self/stat), peak RSS
//! growth (VmHWM, reset through /proc/self/clear_refs, as hostile_bombs.rs does) and wall
//! time. A panic hook counts every panic in this binary; the tests assert it stays at 0.
//! One measured test runs at a time (SERIAL). Run with `--nocapture` to see the figures.

mod support;

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use avatarium::pipeline::{process_cancellable, Cancel, Limits, Thumbnail};
use jpeg_encoder::SamplingFactor;

use support::craft::png_zeros;
use support::hostile::{cpu_seconds, reset_peak, rss_hwm, MIB};
use support::jpeg_craft::*;

static SERIAL: Mutex<()> = Mutex::new(());
/// Panics raised inside a pipeline call (not the tests' own failed assertions).
static PANICS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static IN_PIPELINE: Cell<bool> = const { Cell::new(false) };
}

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_PIPELINE.with(Cell::get) {
                PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

/// `process_cancellable` with a 200×200 thumbnail, its panics counted.
fn process(bytes: &[u8], limits: &Limits, cancel: &Cancel) -> avatarium::error::Result<()> {
    IN_PIPELINE.with(|f| f.set(true));
    let r = process_cancellable(bytes, limits, Thumbnail::centered(200, 200), cancel).map(|_| ());
    IN_PIPELINE.with(|f| f.set(false));
    r
}

#[derive(Debug)]
struct Cost {
    code: u32,
    details: String,
    cpu: f64,
    wall: Duration,
    growth: u64,
}

/// One `process` call of `bytes` (thumbnail 200×200), measured.
fn measured(what: &str, bytes: &[u8], limits: &Limits) -> Cost {
    count_panics();
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    reset_peak();
    let (before, _) = rss_hwm();
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let result = process(bytes, limits, &Cancel::new());
    let (wall, cpu) = (t0.elapsed(), cpu_seconds() - cpu0);
    let (_, hwm) = rss_hwm();
    let (code, details) = match &result {
        Ok(_) => (0, String::new()),
        Err(e) => (e.error_code(), e.to_string()),
    };
    let cost = Cost {
        code,
        details,
        cpu,
        wall,
        growth: hwm.saturating_sub(before),
    };
    println!(
        "{what}: {} bytes → {} ({}) in {:.2} CPU s, {} ms, {:.1} MiB peak growth",
        bytes.len(),
        cost.code,
        cost.details,
        cost.cpu,
        cost.wall.as_millis(),
        cost.growth as f64 / MIB as f64
    );
    cost
}

fn assert_cheap_refusal(cost: &Cost, code: u32, words: &str) {
    assert_eq!(cost.code, code, "{cost:?}");
    assert!(cost.details.contains(words), "{cost:?}");
    assert!(cost.cpu < 0.5, "refusal cost {:.2} CPU s", cost.cpu);
    assert!(
        cost.growth < 48 * MIB,
        "refusal grew RSS by {} bytes",
        cost.growth
    );
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a decoder panicked");
}

/// A progressive file plus thousands of empty scans (10 bytes each): every decoder used to
/// walk all blocks once per scan, seconds for a few KB. Refused by the scan cap.
#[test]
fn thousands_of_empty_scans_are_refused_cheaply() {
    let base = with_size(encoded(64, 64, true, SamplingFactor::R_4_2_0), 1024, 1024);
    let luma = first_component(&base);
    let jpeg = with_scans(base, &empty_scan(&[luma], 0, 0, 1, 0), 3000);
    assert!(jpeg.len() < 40 * 1024, "{} bytes", jpeg.len());
    let cost = measured("1 MP + 3000 empty scans", &jpeg, &Limits::default());
    assert_cheap_refusal(&cost, 413004, "more than 100 scans");
}

/// The 6 MiB case: a 48 MP frame and ~600,000 empty scans (estimated 45–90
/// CPU-minutes before). The walk over the markers is linear in the bytes.
#[test]
fn six_mib_of_empty_scans_costs_a_linear_walk() {
    let base = with_size(encoded(64, 64, true, SamplingFactor::R_4_2_0), 8000, 6000);
    let scan = empty_scan(&[first_component(&base)], 0, 0, 1, 0);
    let n = (6 * 1024 * 1024 - base.len() - 2) / scan.len();
    let jpeg = with_scans(base, &scan, n);
    let cost = measured("48 MP + 629k empty scans", &jpeg, &Limits::default());
    assert_cheap_refusal(&cost, 413004, "more than 100 scans");
}

/// Under the scan cap but over the block-visit budget: 40 luma scans of a 50 MP frame walk
/// 31 M blocks; the budget at 50 MP is 25 M.
#[test]
fn block_visits_over_the_budget_are_refused_before_decoding() {
    let base = with_size(encoded(64, 64, true, SamplingFactor::R_4_2_0), 8192, 6100);
    let luma = first_component(&base);
    let jpeg = with_scans(base, &empty_scan(&[luma], 0, 0, 1, 0), 40);
    assert!(scan_count(&jpeg) < 100);
    let cost = measured(
        "50 MP progressive, 40 more scans",
        &jpeg,
        &Limits::default(),
    );
    assert_cheap_refusal(&cost, 413004, "blocks over its");
}

/// 4 components at 49 MP in ~200 bytes: our decoder leaves it to jpeg-decoder, which kept
/// a full-resolution i16 plane per component (392 MB; 428 MB RSS in the issue).
#[test]
fn fallback_coefficient_planes_are_priced_from_the_header() {
    let jpeg = progressive_header(7000, 7000, 4);
    assert!(jpeg.len() < 256, "{} bytes", jpeg.len());
    let cost = measured(
        "4-component 49 MP progressive header",
        &jpeg,
        &Limits::default(),
    );
    assert_cheap_refusal(&cost, 413004, "needs about");
}

/// Inconsistent frame and scan headers: a clean 409010 before any decoder sees them, and
/// no panic on the way (a component named twice in a scan used to panic in a decoder).
#[test]
fn inconsistent_scan_headers_are_refused_without_a_panic() {
    let baseline = encoded(64, 48, false, SamplingFactor::R_4_2_0);
    let progressive = encoded(64, 48, true, SamplingFactor::R_4_2_0);
    let luma = first_component(&progressive);
    // SOS: [len 2][Ns][id, tables]×Ns[Ss][Se][AhAl]; SOF: [len 2][P][H 2][W 2][Nc][id,hv,tq]×Nc
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "scan names a component twice",
            copy_byte(baseline.clone(), 0xDA, 3, 5),
            "twice",
        ),
        (
            "progressive scan names a component twice",
            with_scans(
                progressive.clone(),
                &empty_scan(&[luma, luma], 0, 0, 0, 0),
                1,
            ),
            "twice",
        ),
        (
            "frame names a component twice",
            copy_byte(baseline.clone(), 0xC0, 8, 11),
            "twice",
        ),
        (
            "scan names a component not in the frame",
            patch(baseline.clone(), 0xDA, 3, 9),
            "not in the frame",
        ),
        (
            "scan with 0 components",
            patch(baseline.clone(), 0xDA, 2, 0),
            "0 components",
        ),
        (
            "scan with 5 components",
            patch(baseline.clone(), 0xDA, 2, 5),
            "5 components",
        ),
        (
            "progressive Se 64",
            with_scans(progressive.clone(), &empty_scan(&[luma], 1, 64, 0, 0), 1),
            "invalid progression",
        ),
        (
            "progressive Al 14",
            with_scans(progressive.clone(), &empty_scan(&[luma], 1, 63, 0, 14), 1),
            "invalid progression",
        ),
        (
            "progressive DC scan with Se 5",
            with_scans(progressive.clone(), &empty_scan(&[luma], 0, 5, 0, 0), 1),
            "invalid progression",
        ),
        (
            "progressive AC scan of two components",
            with_scans(
                progressive.clone(),
                &empty_scan(&[luma, luma + 1], 1, 5, 0, 0),
                1,
            ),
            "invalid progression",
        ),
        (
            "frame with 0 components",
            patch(baseline.clone(), 0xC0, 7, 0),
            "0 components",
        ),
        (
            "frame sampling 0",
            patch(baseline.clone(), 0xC0, 9, 0x00),
            "sampling",
        ),
    ];
    for (what, jpeg, words) in cases {
        let cost = measured(what, &jpeg, &Limits::default());
        assert_eq!(cost.code, 409010, "{what}: {cost:?}");
        assert!(cost.details.contains(words), "{what}: {cost:?}");
        assert!(cost.cpu < 0.5, "{what}: {cost:?}");
    }
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a decoder panicked");
}

/// Real files still decode: progressive and baseline, 4:2:0 and 4:4:4, through our scaled
/// decoder (large) and the full-size path (small).
#[test]
fn legit_files_are_untouched_by_the_budgets() {
    for (w, h, progressive, sampling) in [
        (1600, 1200, true, SamplingFactor::R_4_2_0),
        (1600, 1200, false, SamplingFactor::R_4_4_4),
        (600, 400, true, SamplingFactor::R_4_4_4),
        (600, 400, false, SamplingFactor::R_4_2_0),
    ] {
        let jpeg = encoded(w, h, progressive, sampling);
        let cost = measured("legit", &jpeg, &Limits::default());
        assert_eq!(cost.code, 0, "{w}x{h} progressive={progressive}: {cost:?}");
    }
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
}

/// Start `bytes` decoding in a thread, cancel after 50 ms, and return (code, time from the
/// cancel until the call returned).
fn cancel_after_50ms(what: &str, bytes: Vec<u8>) -> (u32, Duration) {
    count_panics();
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let cancel = Cancel::new();
    let worker = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            let r = process(&bytes, &Limits::default(), &cancel);
            (r.err().map_or(0, |e| e.error_code()), Instant::now())
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    let cancelled_at = Instant::now();
    cancel.cancel();
    let (code, done) = worker.join().expect("worker");
    let latency = done.saturating_duration_since(cancelled_at);
    println!(
        "cancel {what}: {code} {} ms after the cancel",
        latency.as_millis()
    );
    (code, latency)
}

fn assert_prompt_cancel(what: &str, bytes: Vec<u8>) {
    let (code, latency) = cancel_after_50ms(what, bytes);
    assert_eq!(code, 504002, "{what}: not cancelled");
    assert!(
        latency < Duration::from_millis(150),
        "{what}: returned {} ms after the cancel",
        latency.as_millis()
    );
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
}

// No baseline case: the largest baseline JPEG the limits allow (50 MP, 6 MiB) decodes in
// ~60 ms at DCT scale, less than the cancel point; its cost is bounded by the byte limit.

/// A progressive file at the scan cap, within the block budget: 12 MP and 100 scans.
#[test]
fn cancel_stops_a_progressive_decode_at_the_scan_cap() {
    let base = with_size(encoded(64, 64, true, SamplingFactor::R_4_2_0), 4000, 3000);
    let have = scan_count(&base);
    let luma = first_component(&base);
    let jpeg = with_scans(base, &empty_scan(&[luma], 1, 63, 0, 0), 100 - have);
    assert_eq!(scan_count(&jpeg), 100);
    assert_prompt_cancel("12 MP progressive, 100 scans", jpeg);
}

/// The largest PNG the limits allow (50 MP RGBA: 200 MB of pixels), through the image crate.
#[test]
fn cancel_stops_a_50_mp_png_decode() {
    assert_prompt_cancel("50 MP PNG", png_zeros(7071, 7071, 6));
}

/// The same PNG without a cancel finishes, and takes well past the cancel point: the
/// cancel tests are not vacuous.
#[test]
fn the_50_mp_png_decodes_when_not_cancelled() {
    let cost = measured("50 MP PNG", &png_zeros(7071, 7071, 6), &Limits::default());
    assert_eq!(cost.code, 0, "{cost:?}");
    assert!(cost.wall > Duration::from_millis(250), "{cost:?}");
}

/// The largest lossless WebP the limits allow (50 MP RGBA, a few kB of file), through
/// image-webp.
fn webp_zeros_50_mp() -> Vec<u8> {
    let (w, h) = (7071, 7071);
    let pixels = vec![0u8; w * h * 4];
    let mut out = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut out)
        .encode(&pixels, w as u32, h as u32, image::ExtendedColorType::Rgba8)
        .expect("encode");
    out
}

#[test]
fn cancel_stops_a_50_mp_webp_decode() {
    assert_prompt_cancel("50 MP lossless WebP", webp_zeros_50_mp());
}

#[test]
fn the_50_mp_webp_decodes_when_not_cancelled() {
    let cost = measured(
        "50 MP lossless WebP",
        &webp_zeros_50_mp(),
        &Limits::default(),
    );
    assert_eq!(cost.code, 0, "{cost:?}");
    assert!(cost.wall > Duration::from_millis(250), "{cost:?}");
}

/// Writes the small hostile files of this suite to fuzz/seeds/pipeline/ (run by hand:
/// `cargo test -p avatarium --test hostile_cost_decode -- --ignored write_fuzz_seeds`).
#[test]
#[ignore]
fn write_fuzz_seeds() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/pipeline");
    std::fs::create_dir_all(&dir).expect("seed dir");
    let small = encoded(32, 24, false, SamplingFactor::R_4_2_0);
    let prog = encoded(32, 24, true, SamplingFactor::R_4_2_0);
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        (
            "jpeg-scan-component-twice",
            copy_byte(small.clone(), 0xDA, 3, 5),
        ),
        (
            "jpeg-frame-component-twice",
            copy_byte(small.clone(), 0xC0, 8, 11),
        ),
        ("jpeg-scan-component-absent", patch(small, 0xDA, 3, 9)),
        (
            "jpeg-progressive-scan-component-twice",
            with_scans(prog.clone(), &empty_scan(&[0, 0], 0, 0, 0, 0), 1),
        ),
        (
            "jpeg-progressive-150-empty-scans",
            with_scans(prog, &empty_scan(&[0], 0, 0, 1, 0), 150),
        ),
        ("jpeg-4-components-49mp", progressive_header(7000, 7000, 4)),
    ];
    for (name, bytes) in seeds {
        assert!(bytes.len() < 8 * 1024, "{name}: {} bytes", bytes.len());
        std::fs::write(dir.join(name), bytes).expect("seed");
    }
}
