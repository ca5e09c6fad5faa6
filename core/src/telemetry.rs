//! The engine's metrics, named once. They go through the `metrics` facade, which does
//! nothing until the host process installs a recorder (only `avatarium serve` does), so
//! the C, Python and Node faces pay an atomic load per call site. Without the `service`
//! feature (the fuzz builds) every function here is empty.

use std::time::Instant;

/// Histogram: seconds an import spent in each stage, label `stage` ([`Stage::label`]).
pub const STAGE_SECONDS: &str = "avatarium_stage_seconds";
/// Counter: body bytes received from callers' URLs (refused or failed fetches included).
pub const FETCH_BYTES: &str = "avatarium_fetch_bytes_total";
/// Counter: callers' URLs refused by the fetch policy, label `reason`.
pub const URLS_REFUSED: &str = "avatarium_urls_refused_total";
/// Gauges: imports decoding now and waiting for a decode slot.
pub const IMPORTS_RUNNING: &str = "avatarium_imports_running";
pub const IMPORTS_QUEUED: &str = "avatarium_imports_queued";
/// Gauges: URL fetches in flight and waiting for a fetch slot.
pub const FETCHES_RUNNING: &str = "avatarium_fetches_running";
pub const FETCHES_QUEUED: &str = "avatarium_fetches_queued";

/// A stage of an import (or of a thumbnail made again after a policy change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Fetching the caller's URL, redirects included.
    Fetch,
    /// Header checks and decoding to pixels.
    Decode,
    /// Resizing, cropping and orienting the photo and its thumbnail.
    Resize,
    /// Encoding the photo and the thumbnail.
    Encode,
    /// Writing the blobs and the metadata that points at them.
    Store,
}

impl Stage {
    pub const fn label(self) -> &'static str {
        match self {
            Stage::Fetch => "fetch",
            Stage::Decode => "decode",
            Stage::Resize => "resize",
            Stage::Encode => "encode",
            Stage::Store => "store",
        }
    }
}

/// Times a stage until dropped, so a stage cut short (an error, a cancelled call) is
/// still counted with the time it took.
#[must_use = "the stage is timed until this is dropped"]
pub struct StageTimer {
    stage: Stage,
    started: Instant,
}

pub fn time_stage(stage: Stage) -> StageTimer {
    StageTimer {
        stage,
        started: Instant::now(),
    }
}

impl Drop for StageTimer {
    fn drop(&mut self) {
        record_stage(self.stage, self.started.elapsed().as_secs_f64());
    }
}

#[cfg(feature = "service")]
fn record_stage(stage: Stage, seconds: f64) {
    metrics::histogram!(STAGE_SECONDS, "stage" => stage.label()).record(seconds);
}

#[cfg(not(feature = "service"))]
fn record_stage(_: Stage, _: f64) {}

/// `bytes` more received from a caller's URL.
pub fn fetched_bytes(_bytes: u64) {
    #[cfg(feature = "service")]
    metrics::counter!(FETCH_BYTES).increment(_bytes);
}

/// A URL refused by the fetch policy, for `reason` (a fixed label, never caller text).
pub fn url_refused(_reason: &'static str) {
    #[cfg(feature = "service")]
    metrics::counter!(URLS_REFUSED, "reason" => _reason).increment(1);
}

/// Moves gauge `name` by `delta` (gauges summed over every client of the process).
pub fn gauge_add(_name: &'static str, _delta: f64) {
    #[cfg(feature = "service")]
    metrics::gauge!(_name).increment(_delta);
}
