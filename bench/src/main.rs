//! The Rust side of the pipeline benchmark (bench/README.md): runs
//! `avatarium::pipeline::process` on bytes already in memory, with the workload of
//! shared/BENCH.md (photo fit in 1024, 64×64 cover thumbnail, JPEG q85).
//!
//! ```text
//! avatarium-bench run MANIFEST            one JSON line per file: reps, CPU seconds, output sizes
//! avatarium-bench write MANIFEST OUTDIR   the outputs, for the equivalence check
//! avatarium-bench rss FILE                peak RSS of processing one file once
//! avatarium-bench grow MANIFEST ROUNDS    RSS after each pass over the files (must not grow)
//! avatarium-bench crop MANIFEST           what the "attention" thumbnail crop costs
//! ```
//!
//! MANIFEST: one `path<TAB>reps` line per file (the driver writes it; all implementations
//! get the same one).

use std::path::Path;

use avatarium::pipeline::{
    process, process_cancellable, thumbnail_cancellable, Cancel, Limits, Processed, Thumbnail,
    ThumbnailCrop,
};
use avatarium_bench::{cpu_seconds, max_rss_kib, rss_kib};
use serde_json::json;

/// The benchmark workload has no byte cap: 2 of the corpus files are over 6 MiB.
fn limits() -> Limits {
    Limits {
        max_bytes: 64 * 1024 * 1024,
        ..Limits::default()
    }
}

const THUMB: u32 = 64;

struct Input {
    name: String,
    reps: usize,
    bytes: Vec<u8>,
}

fn read_manifest(path: &str) -> Vec<Input> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let (file, reps) = line.split_once('\t').unwrap_or((line, "1"));
            Input {
                name: file_name(file),
                reps: reps.trim().parse().unwrap_or(1).max(1),
                bytes: std::fs::read(file).unwrap_or_else(|e| panic!("{file}: {e}")),
            }
        })
        .collect()
}

fn file_name(path: &str) -> String {
    Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

fn run_once(bytes: &[u8]) -> Result<Processed, String> {
    process(bytes, &limits(), THUMB, THUMB).map_err(|e| e.to_string())
}

fn cmd_run(manifest: &str) {
    let inputs = read_manifest(manifest);
    for input in &inputs {
        let mut last = None;
        let t0 = cpu_seconds();
        for _ in 0..input.reps {
            last = Some(run_once(&input.bytes));
        }
        let cpu = cpu_seconds() - t0;
        let line = match last {
            Some(Ok(p)) => json!({
                "file": input.name, "reps": input.reps, "cpu": cpu,
                "photo": [p.photo.width, p.photo.height],
                "thumb": [p.thumbnail.width, p.thumbnail.height],
            }),
            Some(Err(e)) => {
                json!({"file": input.name, "reps": input.reps, "cpu": cpu, "error": e})
            }
            None => json!({"file": input.name, "error": "not run"}),
        };
        println!("{line}");
    }
    println!("{}", json!({"vmhwm_kib": max_rss_kib()}));
}

fn cmd_write(manifest: &str, out_dir: &str) {
    std::fs::create_dir_all(out_dir).expect("create the output folder");
    for input in read_manifest(manifest) {
        match run_once(&input.bytes) {
            Ok(p) => {
                for (what, e) in [("photo", &p.photo), ("thumb", &p.thumbnail)] {
                    let path = Path::new(out_dir).join(format!(
                        "{}.{what}.{}",
                        input.name,
                        e.format.extension()
                    ));
                    std::fs::write(&path, &e.bytes).expect("write an output");
                }
            }
            Err(e) => eprintln!("{}: {e}", input.name),
        }
    }
}

fn cmd_rss(file: &str) {
    let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let before = max_rss_kib();
    let result = run_once(&bytes);
    let line = json!({
        "file": file_name(file),
        "ok": result.is_ok(),
        "baseline_kib": before,
        "max_rss_kib": max_rss_kib(),
    });
    println!("{line}");
}

fn cmd_grow(manifest: &str, rounds: usize) {
    let inputs = read_manifest(manifest);
    for round in 1..=rounds {
        for input in &inputs {
            let _ = run_once(&input.bytes);
        }
        let line = json!({"round": round, "rss_kib": rss_kib(), "max_rss_kib": max_rss_kib()});
        println!("{line}");
    }
}

/// The pipeline with a centre and with an attention crop, interleaved rep by rep, and the
/// thumbnail alone (cut from the stored photo, as a policy change does): CPU seconds of
/// each, so the attention crop's cost reads as a share of a thumbnail's.
fn cmd_crop(manifest: &str) {
    let (mut center, mut attention, mut thumb, mut images) = (0.0, 0.0, 0.0, 0usize);
    for input in read_manifest(manifest) {
        let spec = |crop| Thumbnail {
            width: THUMB,
            height: THUMB,
            crop,
        };
        let run = |crop| process_cancellable(&input.bytes, &limits(), spec(crop), &Cancel::new());
        let Ok(stored) = run(ThumbnailCrop::Center) else {
            eprintln!("{}: skipped (not processed)", input.name);
            continue;
        };
        let (mut c, mut a, mut t) = (0.0, 0.0, 0.0);
        for _ in 0..input.reps {
            let t0 = cpu_seconds();
            let _ = run(ThumbnailCrop::Center);
            let t1 = cpu_seconds();
            let _ = run(ThumbnailCrop::Attention);
            let t2 = cpu_seconds();
            let _ = thumbnail_cancellable(
                &stored.photo.bytes,
                &limits(),
                spec(ThumbnailCrop::Center),
                &Cancel::new(),
            );
            let t3 = cpu_seconds();
            (c, a, t) = (c + t1 - t0, a + t2 - t1, t + t3 - t2);
        }
        let reps = input.reps as f64;
        println!(
            "{}",
            json!({"file": input.name, "reps": input.reps, "center_ms": c / reps * 1e3,
                   "attention_ms": a / reps * 1e3, "thumbnail_ms": t / reps * 1e3})
        );
        (center, attention, thumb) = (center + c / reps, attention + a / reps, thumb + t / reps);
        images += 1;
    }
    let n = images.max(1) as f64;
    println!(
        "{}",
        json!({"images": images, "center_ms": center / n * 1e3, "attention_ms": attention / n * 1e3,
               "thumbnail_ms": thumb / n * 1e3,
               "attention_cost_of_a_thumbnail": (attention - center) / thumb.max(f64::MIN_POSITIVE)})
    );
}

fn usage() -> ! {
    eprintln!(
        "usage: avatarium-bench run MANIFEST | write MANIFEST OUTDIR | rss FILE | grow MANIFEST ROUNDS | crop MANIFEST"
    );
    std::process::exit(2)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_else(|| usage());
    match arg(0) {
        "run" => cmd_run(arg(1)),
        "write" => cmd_write(arg(1), arg(2)),
        "rss" => cmd_rss(arg(1)),
        "grow" => cmd_grow(arg(1), arg(2).parse().unwrap_or_else(|_| usage())),
        "crop" => cmd_crop(arg(1)),
        _ => usage(),
    }
}
