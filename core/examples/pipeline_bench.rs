//! Ad-hoc pipeline benchmark over the bench corpus (shared/BENCH.md workload: photo fit in
//! 1024, 64x64 thumbnail, JPEG q85). Run pinned to one core:
//!
//! ```sh
//! cargo build --release -p avatarium --example pipeline_bench
//! taskset -c 0 target/release/examples/pipeline_bench [ROUNDS] [FILE_OR_PREFIX...]
//! ```
//!
//! Prints, per file, the median wall time of `ROUNDS` runs, and per class (file-name prefix)
//! images per second of process CPU time (jpeg-decoder may start per-component worker
//! threads, so CPU time, not wall time, is the fair figure).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use avatarium::pipeline::{process, Limits};

const BENCH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/bench-corpus");

/// User + system CPU time of the whole process, from /proc (Linux; 100 Hz ticks).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after_comm = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after_comm
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 of stat; after "pid (comm)" they are at 11 and 12.
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(3);
    let filters: Vec<String> = args.collect();
    // The benchmark workload has no byte cap; 2 of the corpus files are over 6 MiB.
    let limits = Limits {
        max_bytes: 64 * 1024 * 1024,
        ..Limits::default()
    };
    let mut entries: Vec<_> = std::fs::read_dir(BENCH)
        .expect("bench corpus")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("jpg" | "png" | "gif")
            )
        })
        .filter(|p| {
            let n = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            filters.is_empty() || filters.iter().any(|f| n.starts_with(f.as_str()))
        })
        .collect();
    entries.sort();
    let files: Vec<(String, Vec<u8>)> = entries
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(Path::new(p)).expect("read"))
        })
        .collect();

    let mut per_file: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut per_class: BTreeMap<String, (usize, Duration)> = BTreeMap::new();
    for _ in 0..rounds {
        for (name, bytes) in &files {
            let (cpu0, t0) = (cpu_time(), Instant::now());
            let result = process(bytes, &limits, 64, 64);
            let (wall, cpu) = (t0.elapsed(), cpu_time().saturating_sub(cpu0));
            if let Err(e) = result {
                eprintln!("{name}: {e}");
                continue;
            }
            per_file.entry(name.as_str()).or_default().push(wall);
            let class = name.split('_').next().unwrap_or("").to_string();
            let c = per_class.entry(class).or_default();
            c.0 += 1;
            c.1 += cpu;
        }
    }
    for (name, mut times) in per_file {
        times.sort();
        println!(
            "{:>9.2} ms  {name}",
            times[times.len() / 2].as_secs_f64() * 1e3
        );
    }
    let (mut n_all, mut cpu_all) = (0, Duration::ZERO);
    for (class, (n, cpu)) in &per_class {
        n_all += n;
        cpu_all += *cpu;
        println!(
            "{class:>8}: {:>7.1} images per CPU-second",
            *n as f64 / cpu.as_secs_f64().max(1e-9)
        );
    }
    println!(
        "{:>8}: {:>7.1} images per CPU-second",
        "all",
        n_all as f64 / cpu_all.as_secs_f64().max(1e-9)
    );
}
