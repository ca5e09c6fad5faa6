//! The Rust side of the binding-overhead bench (bench/README.md §3, bench/bindings.sh):
//! N sequential `accounts.importProfilePhoto` calls by URL through `Client::call`, the
//! entry point both bindings call internally. The Python and Node scripts in
//! bench/bindings/ do the same calls through their public APIs and print the same line.
//!
//! ```text
//! avatarium-bench-calls URL CALLS WARMUP [--inline] [--policies]
//! ```
//!
//! By default each call is `tokio::spawn`ed and its handle awaited, which is what both
//! bindings do (Python's blocking calls spawn on their runtime and wait on the handle; Node
//! spawns on napi's runtime): the call runs on a runtime worker. `--inline` awaits
//! `client.call` directly in `main`'s `block_on` instead, the plain way to write it in Rust;
//! there the call is polled on the main thread while a worker drives the sockets.
//! `--policies` calls `accounts.getPolicies` instead (one small SQLite read, no photo): the
//! bindings' fixed cost per call, which the import's milliseconds would otherwise hide.
//!
//! Prints one JSON line: `{"lang", "wall_us": [one per call], "cpu_s"}`, where `cpu_s` is
//! the process CPU time (all threads) of the measured loop. Exits non-zero if a call fails.

use std::time::Instant;

use avatarium::{Client, Config};
use avatarium_bench::cpu_seconds;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: avatarium-bench-calls URL CALLS WARMUP [--inline] [--policies]";
    let [url, calls, warmup, flags @ ..] = args.as_slice() else {
        return Err(usage.into());
    };
    let calls: usize = calls.parse()?;
    let warmup: usize = warmup.parse()?;
    let (mut inline, mut policies) = (false, false);
    for f in flags {
        match f.as_str() {
            "--inline" => inline = true,
            "--policies" => policies = true,
            _ => return Err(usage.into()),
        }
    }
    let method = if policies {
        "accounts.getPolicies"
    } else {
        "accounts.importProfilePhoto"
    };
    let port: u16 = url
        .rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .ok_or("the URL must name its port")?;

    // The defaults (embedded SQLite + blob folder in data_dir) plus the two keys that let
    // the fetcher reach the loopback server; the Python and Node scripts set the same keys.
    let data = tempfile::tempdir()?;
    let client = Client::open(Config {
        data_dir: data.path().to_path_buf(),
        allow_loopback: true,
        fetch_allowed_ports: vec![port],
        ..Config::default()
    })
    .await?;

    let mut wall_us = Vec::with_capacity(calls);
    let mut cpu_s = 0.0;
    for (phase, n) in [("warmup", warmup), ("run", calls)] {
        let cpu0 = cpu_seconds();
        for i in 0..n {
            // A fresh UID per call, as in every language: each call creates the account
            // and publishes its first photo, so all calls do the same work.
            let params = if policies {
                json!({})
            } else {
                json!({"UID": format!("{phase}-{i}"), "url": url, "publish": true})
            };
            let t = Instant::now();
            let r = if inline {
                client.call(method, &params).await
            } else {
                let client = client.clone();
                tokio::spawn(async move { client.call(method, &params).await }).await?
            };
            let dt = t.elapsed();
            if !r.is_ok() {
                return Err(format!("call {phase} {i} failed: {}", r.to_json()).into());
            }
            if phase == "run" {
                wall_us.push(dt.as_secs_f64() * 1e6);
            }
        }
        cpu_s = cpu_seconds() - cpu0;
    }
    println!(
        "{}",
        json!({"lang": if inline { "rust-inline" } else { "rust" }, "wall_us": wall_us, "cpu_s": cpu_s})
    );
    Ok(())
}
