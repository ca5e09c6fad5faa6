//! What a batch import is told: its limits, retries, publishing, resumption and shard.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};

/// How a batch runs. `Default` is the command line's default.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// Rows in flight at once; `None`: the client's `max_concurrent_imports` (2 × cores).
    /// Capped at what the client can run and queue, so no row gets 503001 from its batch.
    pub concurrency: Option<usize>,
    /// Rows in flight at once per origin host.
    pub per_host: usize,
    /// Publish each photo at once (`false`: leave it pending).
    pub publish: bool,
    /// Run again the rows an earlier run of the same input recorded as failed (they are
    /// otherwise reported as recorded and not run).
    pub retry_failed: bool,
    /// The part of the input this run takes.
    pub shard: Shard,
    /// Attempts per row, the first included, for transient failures
    /// ([`Error::is_transient`]); refusals get one.
    pub max_attempts: u32,
    /// The pause after a row's first transient failure; it doubles after each further one.
    pub backoff: Duration,
    /// Stops the batch gently: once stopped, no further row is started, the rows in
    /// flight finish and are recorded, then the stream ends.
    pub stop: Stop,
}

/// A handle that stops a batch from starting further rows ([`BatchOptions::stop`]);
/// clones share one switch.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            concurrency: None,
            per_host: 4,
            publish: true,
            retry_failed: false,
            shard: Shard::WHOLE,
            max_attempts: 4,
            backoff: Duration::from_millis(250),
            stop: Stop::default(),
        }
    }
}

/// The longest pause between two attempts of a row.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

impl BatchOptions {
    /// The pause after the `failures`-th transient failure of row `row`: exponential,
    /// spread by the row's position so rows that failed together do not return together.
    pub(super) fn pause(&self, failures: u32, row: u64) -> Duration {
        let doubled = self
            .backoff
            .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
        // Clamped first: `mul_f64` panics past `Duration::MAX` (a huge `backoff`).
        let spread = doubled
            .min(MAX_BACKOFF)
            .mul_f64(1.0 + (row % 4) as f64 / 4.0);
        spread.min(MAX_BACKOFF)
    }
}

/// Shard `index` of `count` (1-based, as `--shard 2/4` says): the rows whose position
/// modulo `count` is `index - 1`. N processes given 1/N … N/N split one input between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// The whole input.
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    pub fn new(index: u64, count: u64) -> Result<Shard> {
        if count == 0 || index == 0 || index > count {
            return Err(Error::invalid(
                "shard",
                format!("{index}/{count}: expected I/N with 1 <= I <= N"),
            ));
        }
        Ok(Shard { index, count })
    }

    /// `"I/N"`.
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = || Error::invalid("shard", format!("{text:?}: expected I/N, e.g. 2/4"));
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let i = i.trim().parse().map_err(|_| bad())?;
        let n = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n)
    }

    pub fn index(&self) -> u64 {
        self.index
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether row `row` (0-based position in the input) is this shard's.
    pub fn holds(&self, row: u64) -> bool {
        row % self.count == self.index - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_the_rows_exactly() {
        let shards: Vec<Shard> = (1..=3).map(|i| Shard::new(i, 3).unwrap()).collect();
        for row in 0..30 {
            assert_eq!(shards.iter().filter(|s| s.holds(row)).count(), 1);
        }
        assert!(Shard::WHOLE.holds(7));
        assert_eq!(Shard::parse(" 2/4").unwrap(), Shard::new(2, 4).unwrap());
        for bad in ["0/4", "5/4", "1/0", "1", "a/b", ""] {
            assert_eq!(Shard::parse(bad).unwrap_err().error_code(), 400006, "{bad}");
        }
    }

    #[test]
    fn pauses_grow_and_stay_bounded() {
        let o = BatchOptions::default();
        assert_eq!(o.pause(1, 0), Duration::from_millis(250));
        assert_eq!(o.pause(2, 0), Duration::from_millis(500));
        assert!(o.pause(2, 3) > o.pause(2, 0));
        assert_eq!(o.pause(40, 0), MAX_BACKOFF);
        let huge = BatchOptions {
            backoff: Duration::MAX,
            ..BatchOptions::default()
        };
        for failures in [1, 2, 40] {
            assert_eq!(huge.pause(failures, 3), MAX_BACKOFF);
        }
    }
}
