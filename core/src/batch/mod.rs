//! Batch import: a stream of `(UID, URL)` rows in, one result per row out, each the answer
//! `accounts.importProfilePhoto` gives for it (the same [`Client::run`] path: no fetch,
//! pipeline or publish logic of its own). Around that call it adds what a migration of a
//! whole user base needs:
//! - bounded concurrency, and a per-host limit so no origin is hammered (`hosts.rs`);
//! - retries with backoff for transient failures only ([`Error::is_transient`]);
//! - progress in the metadata store, keyed by the input and the row's position, so a
//!   rerun skips what is done (`resume.rs`), and shards that split one input.
//!
//! Rows are pulled from the input as slots free up: memory follows the rows in flight,
//! never the input's length.

mod feed;
mod hosts;
mod options;
mod resume;
mod row;

use std::sync::Arc;

use futures::stream::{self, Stream, StreamExt};

pub use feed::{Feed, FeedMisuse, Waited};
pub use options::{BatchOptions, Shard, Stop};
pub use row::{names_field, one_off_input_key, BatchRow, Tally, UID_NAMES, URL_NAMES};

use self::hosts::HostLimits;
use self::resume::Step;
use crate::api::{Client, Identity, Method, Request, Response};
use crate::config::Config;
use crate::error::Error;

/// The result of one row.
#[derive(Debug)]
pub struct RowResult {
    pub row: u64,
    pub uid: String,
    /// Gigya's `errorCode` (0: imported, and published unless `publish` was off).
    pub error_code: u32,
    /// `errorDetails` of a failure.
    pub details: Option<String>,
    /// Imports made for this row in this run (more than 1 after transient failures; 0
    /// when the row was not run).
    pub attempts: u32,
    /// The row was answered from an earlier run's record, not run again.
    pub resumed: bool,
    /// This run's answer for the row, as `importProfilePhoto` gives it (`None` when
    /// resumed).
    pub response: Option<Response>,
}

impl RowResult {
    pub fn is_ok(&self) -> bool {
        self.error_code == 0
    }
}

/// What every row of one batch shares.
#[derive(Debug)]
struct Batch {
    client: Client,
    input_key: String,
    options: BatchOptions,
    hosts: HostLimits,
}

impl Client {
    /// Import every row of `rows` whose position is in `options.shard`, yielding one
    /// [`RowResult`] per row as rows finish (not in input order). `input_key` names the
    /// input (e.g. a hash of its contents): progress is kept under it, and a later batch
    /// with the same key skips the rows recorded as done (failed ones too, unless
    /// `retry_failed`). A row is recorded once its import has finished, in one statement;
    /// rows in flight when the stream is dropped are not, and run again next time.
    ///
    /// Dropping the stream stops the batch at once (imports in flight are dropped, not
    /// recorded); [`BatchOptions::stop`] stops it gently (they finish and are recorded).
    pub fn import_batch<S>(
        &self,
        input_key: impl Into<String>,
        rows: S,
        options: BatchOptions,
    ) -> impl Stream<Item = RowResult> + Send + 'static
    where
        S: Stream<Item = BatchRow> + Send + 'static,
    {
        let concurrency = effective_concurrency(options.concurrency, self.config());
        let shard = options.shard;
        let stop = options.stop.clone();
        let batch = Arc::new(Batch {
            client: self.clone(),
            input_key: input_key.into(),
            hosts: HostLimits::new(options.per_host),
            options,
        });
        let planner = Arc::clone(&batch);
        rows.filter(move |r| std::future::ready(shard.holds(r.row)))
            // Whatever rows are ready, up to a block: rows from a slow source (a caller
            // pushing a few at a time) start at once instead of waiting for a whole block.
            .ready_chunks(resume::BLOCK)
            .then(move |block| {
                let batch = Arc::clone(&planner);
                async move { batch.plan(block).await }
            })
            .flat_map(stream::iter)
            // Checked as a slot frees up: once stopped, no row is started (planned ones
            // included); `buffer_unordered` still drives those in flight to their end.
            .take_while(move |_| std::future::ready(!stop.is_stopped()))
            .map(move |step| {
                let batch = Arc::clone(&batch);
                async move {
                    match step {
                        Step::Recorded(result) => *result,
                        Step::Run(row) => batch.run_row(row).await,
                    }
                }
            })
            .buffer_unordered(concurrency)
    }
}

/// Rows a binding should be able to hand over ahead of the imports (the capacity of the
/// `rows` channel of [`Client::import_batch_channels`] and of a [`Feed`]): two blocks, so the batch always
/// gets whole blocks to look up while the next one is being read.
pub const ROWS_AHEAD: usize = 2 * resume::BLOCK;

impl Client {
    /// [`Client::import_batch`] between channels, for the bindings (whose callers push rows
    /// and pull results from another thread or event loop): the input is what arrives on
    /// `rows` until every sender is dropped, and each result is sent to `results`. Returns
    /// when every row is answered, or at once when `results` is closed (the consumer went
    /// away). Dropping (aborting) the future stops the batch at once, like dropping the
    /// stream.
    pub async fn import_batch_channels(
        &self,
        input_key: impl Into<String>,
        rows: tokio::sync::mpsc::Receiver<BatchRow>,
        options: BatchOptions,
        results: tokio::sync::mpsc::Sender<RowResult>,
    ) {
        let rows = stream::unfold(
            rows,
            |mut rx| async move { rx.recv().await.map(|r| (r, rx)) },
        );
        let mut answers = std::pin::pin!(self.import_batch(input_key, rows, options));
        while let Some(result) = answers.next().await {
            if results.send(result).await.is_err() {
                return;
            }
        }
    }
}

impl Batch {
    /// Import one row, retrying transient failures, and record its result.
    async fn run_row(&self, row: BatchRow) -> RowResult {
        let (response, attempts) = match &row.unreadable {
            Some(why) => (
                self.client
                    .refused(Method::ImportProfilePhoto, Error::invalid("row", why)),
                0,
            ),
            None => self.import(&row).await,
        };
        let result = RowResult {
            row: row.row,
            uid: row.uid.clone(),
            error_code: response.error_code(),
            details: response.error().map(|e| e.details().to_string()),
            attempts,
            resumed: false,
            response: Some(response),
        };
        self.record(&row, result).await
    }

    async fn import(&self, row: &BatchRow) -> (Response, u32) {
        let who = match Identity::from_parts(Some(row.uid.clone()), None) {
            Ok(who) => who,
            Err(e) => return (self.client.refused(Method::ImportProfilePhoto, e), 0),
        };
        let host = host_of(&row.url);
        let mut attempts = 0;
        loop {
            attempts += 1;
            let response = {
                let _slot = match &host {
                    Some(h) => Some(self.hosts.acquire(h).await),
                    None => None,
                };
                self.client
                    .run(Request::ImportProfilePhoto {
                        who: who.clone(),
                        url: row.url.clone(),
                        publish: self.options.publish,
                    })
                    .await
            };
            let again = attempts < self.options.max_attempts
                && response.error().is_some_and(Error::is_transient);
            if !again {
                return (response, attempts);
            }
            tokio::time::sleep(self.options.pause(attempts, row.row)).await;
        }
    }
}

/// Rows in flight at once: as asked (default: the client's import slots), but never more
/// than the client can hold (running + queued, for imports and for fetches alike), so
/// that no row is turned away with 503001 by its own batch.
fn effective_concurrency(asked: Option<usize>, config: &Config) -> usize {
    let imports = config.concurrency().saturating_add(config.queue_len());
    let fetches = config
        .max_concurrent_fetches
        .saturating_add(config.max_queued_fetches);
    asked
        .unwrap_or_else(|| config.concurrency())
        .min(imports)
        .min(fetches)
        .max(1)
}

/// The host a row's URL names, lower-cased; `None` when it does not parse (the import
/// refuses it without a connection, so it needs no slot).
fn host_of(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_stays_within_the_clients_capacity() {
        let config = Config {
            max_concurrent_imports: Some(4),
            max_queued_imports: Some(6),
            max_concurrent_fetches: 64,
            max_queued_fetches: 128,
            ..Config::default()
        };
        assert_eq!(effective_concurrency(None, &config), 4);
        assert_eq!(effective_concurrency(Some(8), &config), 8);
        assert_eq!(effective_concurrency(Some(1000), &config), 10);
        assert_eq!(effective_concurrency(Some(0), &config), 1);
        let few_fetches = Config {
            max_concurrent_fetches: 2,
            max_queued_fetches: 1,
            ..config
        };
        assert_eq!(effective_concurrency(Some(8), &few_fetches), 3);
    }
}
