//! `avatarium import-batch FILE`: every row's photo imported through the core's batch
//! (`avatarium::batch`), with progress on stderr, a summary table on stdout and an
//! optional report file. Rerunning the same command resumes.

mod input;
mod progress;
mod summary;

use std::path::PathBuf;
use std::process::ExitCode;

use avatarium::batch::{BatchOptions, Shard, Stop};
use avatarium::{Client, Config};
use futures::StreamExt;

use self::input::{Format, Input};
use self::progress::{Progress, PLAIN_EVERY};
use self::summary::Summary;

#[derive(clap::Args, Debug)]
pub struct ImportBatchArgs {
    /// JSON Lines (Gigya's accounts export: UID and profile.photoURL; or UID and URL
    /// keys), CSV with a header naming UID and URL columns, or - for stdin.
    file: String,
    /// The input's format; default: from the file's extension, else by its first byte.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Rows imported at once [default: max_concurrent_imports, 2 × cores].
    #[arg(long)]
    concurrency: Option<usize>,
    /// Rows imported at once from one origin host.
    #[arg(long, default_value_t = 4)]
    per_host: usize,
    /// Leave the photos pending instead of publishing them.
    #[arg(long)]
    no_publish: bool,
    /// Run again the rows an earlier run of this input recorded as failed.
    #[arg(long)]
    retry_failed: bool,
    /// Take only shard I of N (1-based): the rows whose position modulo N is I-1.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Attempts per row for timeouts, origin 5xx and 503001 (never for refusals).
    #[arg(long, default_value_t = 4)]
    attempts: u32,
    /// Write each row's result there: JSON Lines of row, UID, errorCode, details, resumed,
    /// attempts.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
}

/// Exit status of an interrupted batch (128 + SIGINT, as shells report it).
const INTERRUPTED: u8 = 130;

pub async fn run(args: &ImportBatchArgs, config: Config) -> ExitCode {
    let usage = |e: String| {
        eprintln!("avatarium: {e}");
        ExitCode::from(2)
    };
    let shard = match args.shard.as_deref().map(Shard::parse).transpose() {
        Ok(s) => s.unwrap_or(Shard::WHOLE),
        Err(e) => return usage(e.details().to_string()),
    };
    let stop = Stop::default();
    let options = BatchOptions {
        concurrency: args.concurrency,
        per_host: args.per_host,
        publish: !args.no_publish,
        retry_failed: args.retry_failed,
        shard,
        max_attempts: args.attempts.max(1),
        stop: stop.clone(),
        ..BatchOptions::default()
    };
    let input = match Input::open(&args.file, args.format) {
        Ok(i) => i,
        Err(e) => return usage(e),
    };
    let key = input.key.clone();
    // This shard's part of the rows, for the bar.
    let total = input
        .total
        .map(|t| t / shard.count() + u64::from(t % shard.count() >= shard.index()));
    let (rows, read_error) = match input.rows() {
        Ok(r) => r,
        Err(e) => return usage(e),
    };
    // Only now, with the input and its CSV header valid: a mistyped command must not
    // truncate an earlier run's report.
    let mut summary = match Summary::new(args.report.as_deref()) {
        Ok(s) => s,
        Err(e) => return usage(e),
    };
    let client = match Client::open(config).await {
        Ok(c) => c,
        Err(e) => return usage(e.to_string()),
    };
    // Boxed (owned) so that dropping it below drops the imports in flight.
    let mut results = Box::pin(client.import_batch(key, rows, options));
    let mut progress = Progress::new(total);
    let mut ticks =
        tokio::time::interval_at(tokio::time::Instant::now() + PLAIN_EVERY, PLAIN_EVERY);
    let mut interrupt = Box::pin(tokio::signal::ctrl_c());
    let mut status = None;
    loop {
        tokio::select! {
            next = results.next() => match next {
                Some(r) => {
                    progress.row(r.is_ok());
                    if let Err(e) = summary.add(&r) {
                        eprintln!("avatarium: {e}");
                        status = Some(ExitCode::from(2));
                        break;
                    }
                }
                None => break,
            },
            _ = ticks.tick() => progress.tick(),
            _ = &mut interrupt => {
                if stop.is_stopped() {
                    // Second Ctrl-C: out at once; the rows in flight run again next time.
                    eprintln!("avatarium: interrupted again; stopping now");
                    break;
                }
                // First Ctrl-C: no new row starts; those in flight finish and are recorded,
                // so a rerun neither repeats nor loses them. What remains is the window
                // between a row's import (its photo published) and its record: only a
                // kill -9 (or a second Ctrl-C) there leaves a published row unrecorded,
                // which the rerun imports again.
                eprintln!(
                    "avatarium: interrupted; finishing the rows in flight \
                     (Ctrl-C again to stop at once), rerun the same command to resume"
                );
                stop.stop();
                status = Some(ExitCode::from(INTERRUPTED));
                interrupt = Box::pin(tokio::signal::ctrl_c());
            }
        }
    }
    progress.finish();
    print!("{}", summary.table());
    // After a second Ctrl-C, rows in flight are dropped (not recorded) before the client
    // closes.
    drop(results);
    let _ = client.close().await;
    if let Some(status) = status {
        return status;
    }
    if let Some(e) = read_error.lock().ok().and_then(|mut e| e.take()) {
        return usage(format!("{}: reading stopped early: {e}", args.file));
    }
    if summary.failed() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
