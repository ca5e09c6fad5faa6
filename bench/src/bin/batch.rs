//! The batch benchmark (bench/README.md §5): `avatarium import-batch` (the release CLI, a
//! child process) imports and publishes N rows by URL from a loopback origin serving the
//! corpus, at several concurrencies, each on a fresh store (SQLite + blob folder). For each
//! run: imports/s, the child's CPU seconds, and how that compares with the pipeline alone
//! on the same rows (`pipeline::process`, same limits, 64×64 thumbnail, measured here
//! in-process): the ceiling is the pipeline's images per CPU-second × cores, and the
//! machinery's share is the child's CPU per row above the pipeline's own.
//!
//! ```text
//! avatarium-bench-batch CLI [CORPUS_DIR] [--rows N] [--concurrency 1,2,8,32]
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use avatarium::pipeline::{process, Limits};
use avatarium_bench::children_cpu_seconds;
use avatarium_bench::cpu_seconds;
use avatarium_bench::origin::{read_corpus, serve};
use serde_json::{json, Value};

/// The corpus has two files over the 6 MiB default; both sides get the same cap.
const MAX_BYTES: u64 = 64 * 1024 * 1024;

struct Run {
    concurrency: usize,
    wall: f64,
    cpu: f64,
    sys: f64,
    ok: usize,
    failed: Vec<String>,
}

/// One `import-batch` run of `input` on a fresh store in `dir`.
fn run_batch(cli: &Path, dir: &Path, port: u16, input: &Path, concurrency: usize) -> Run {
    let config = dir.join("avatarium.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\nallow_loopback = true\nfetch_allowed_ports = [{port}]\n\
             max_photo_bytes = {MAX_BYTES}\nmax_queued_imports = 4096\n",
            dir.join("data")
        ),
    )
    .expect("config");
    let report = dir.join("report.jsonl");
    let n = concurrency.to_string();
    let before = children_cpu_seconds();
    let start = Instant::now();
    let mut command = Command::new(cli);
    // The configuration is the file's alone.
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AVATARIUM_") {
            command.env_remove(name);
        }
    }
    let status = command
        .arg("--config")
        .arg(&config)
        .args(["import-batch", "--concurrency", &n, "--per-host", &n])
        .arg("--report")
        .arg(&report)
        .arg(input)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run the CLI");
    let wall = start.elapsed().as_secs_f64();
    let after = children_cpu_seconds();
    let (user, sys) = (after.0 - before.0, after.1 - before.1);
    assert!(
        status.code().is_some_and(|c| c == 0 || c == 1),
        "import-batch: {status}"
    );
    let mut ok = 0;
    let mut failed = Vec::new();
    for line in std::fs::read_to_string(&report).expect("report").lines() {
        let row: Value = serde_json::from_str(line).expect("report line");
        if row["errorCode"] == 0 {
            ok += 1;
        } else {
            failed.push(format!("{} {}", row["errorCode"], row["details"]));
        }
    }
    let rows = std::fs::read_to_string(input)
        .expect("input")
        .lines()
        .count();
    assert_eq!(ok + failed.len(), rows, "one report line per row");
    Run {
        concurrency,
        wall,
        cpu: user + sys,
        sys,
        ok,
        failed,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let cli = PathBuf::from(
        args.next()
            .ok_or("usage: avatarium-bench-batch CLI [CORPUS]")?,
    );
    let mut corpus = avatarium_bench::default_corpus();
    let mut rows = 0usize;
    let mut levels = vec![1usize, 2, 8, 32];
    while let Some(a) = args.next() {
        match a.as_str() {
            "--rows" => rows = args.next().and_then(|v| v.parse().ok()).unwrap_or(rows),
            "--concurrency" => levels = avatarium_bench::counts(&args.next().unwrap_or_default()),
            _ => corpus = PathBuf::from(a),
        }
    }
    let (names, files) = read_corpus(&corpus)?;
    if names.is_empty() {
        return Err(format!("no images in {}", corpus.display()).into());
    }
    if rows == 0 {
        rows = names.len() * 4;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    // The pipeline alone over the same rows (each file once, after one warm-up pass).
    let limits = Limits {
        max_bytes: MAX_BYTES,
        ..Limits::default()
    };
    let mut per_file = Vec::new();
    for pass in 0..2 {
        per_file.clear();
        for name in &names {
            let t = cpu_seconds();
            let processed = process(&files[name], &limits, 64, 64);
            per_file.push(cpu_seconds() - t);
            if pass == 0 {
                processed.map_err(|e| format!("{name}: {e}"))?;
            }
        }
    }
    let pipeline_cpu: f64 = (0..rows).map(|i| per_file[i % names.len()]).sum();
    let pipeline_rate = rows as f64 / pipeline_cpu;
    let ceiling = pipeline_rate * cores as f64;

    let addr = serve(Arc::new(files)).await?;
    let work = tempfile::tempdir()?;
    let input = work.path().join("input.jsonl");
    let mut text = String::new();
    for i in 0..rows {
        let url = format!("http://{addr}/{}?row={i}", names[i % names.len()]);
        text.push_str(
            &json!({"UID": format!("user-{i}"), "profile": {"photoURL": url}}).to_string(),
        );
        text.push('\n');
    }
    std::fs::write(&input, text)?;

    println!(
        "{rows} rows over {} corpus files from http://{addr}/ (import + publish by URL, Gigya \
         export JSONL); CLI {}; {cores} cores",
        names.len(),
        cli.display()
    );
    println!(
        "pipeline alone, same rows: {pipeline_rate:.1} images per CPU-second; ceiling \
         {ceiling:.1} imports/s on {cores} cores"
    );
    println!();
    println!("| concurrency | imports/s | CPU s | of which system | cores busy | CPU ms/row | pipeline ms/row | machinery share | of ceiling | failed |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    // Blocking children from here on: the origin answers on this runtime's thread, so the
    // runs go on a blocking thread.
    let cli = Arc::new(cli);
    let (input, base) = (Arc::new(input), Arc::new(work.path().to_path_buf()));
    for c in levels {
        let (cli, input, base) = (cli.clone(), input.clone(), base.clone());
        let run = tokio::task::spawn_blocking(move || {
            let dir = base.join(format!("c{c}"));
            std::fs::create_dir_all(&dir).expect("run dir");
            let run = run_batch(&cli, &dir, addr.port(), &input, c);
            let _ = std::fs::remove_dir_all(&dir);
            run
        })
        .await?;
        let rate = run.ok as f64 / run.wall;
        let cpu_row = run.cpu / rows as f64;
        let pipe_row = pipeline_cpu / rows as f64;
        println!(
            "| {} | {rate:.1} | {:.2} | {:.0}% | {:.2} | {:.2} | {:.2} | {:.0}% | {:.0}% | {} |",
            run.concurrency,
            run.cpu,
            run.sys / run.cpu * 100.0,
            run.cpu / run.wall,
            cpu_row * 1e3,
            pipe_row * 1e3,
            (cpu_row - pipe_row) / cpu_row * 100.0,
            rate / ceiling * 100.0,
            run.failed.len()
        );
        for f in run.failed.iter().take(3) {
            eprintln!("  failed: {f}");
        }
    }
    Ok(())
}
