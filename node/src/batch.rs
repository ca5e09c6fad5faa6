//! Batch import (core `batch/`) for JS: a [`NativeBatch`] that `index.js`'s async
//! generator feeds with rows (JSON text, made into core rows by [`BatchRow::from_json`])
//! and drains of results (JSON text), through the core's [`Feed`]. The batch runs as one
//! task on napi's runtime.

use std::sync::{Mutex, PoisonError};

use avatarium::batch::{
    one_off_input_key, BatchOptions, BatchRow, Feed, FeedMisuse, RowResult, Shard, Waited,
};
use avatarium::{Client, ErrorKind};
use napi::bindgen_prelude::spawn;
use napi_derive::napi;
use serde_json::json;

use crate::error::{rejected, thrown, Code};

/// A batch's settings (`importBatch`'s options without the JS-only ones).
#[napi(object)]
pub struct BatchSettings {
    /// Progress is recorded under it; a later batch with the same key resumes. Default: a
    /// one-off key (nothing is resumed).
    pub input_key: Option<String>,
    pub concurrency: Option<u32>,
    pub per_host: Option<u32>,
    pub publish: Option<bool>,
    pub retry_failed: Option<bool>,
    /// `"I/N"`.
    pub shard: Option<String>,
    pub max_attempts: Option<u32>,
}

/// What a wait saw: a result (JSON text), room for more rows, or the end.
#[napi(object)]
pub struct BatchEvent {
    pub room: bool,
    pub end: bool,
    pub result: Option<String>,
}

/// A batch's counts so far (core `Tally`).
#[napi(object)]
pub struct BatchCounts {
    pub done: i64,
    pub ok: i64,
    pub failed: i64,
    pub resumed: i64,
}

/// One running batch import.
#[napi]
pub struct NativeBatch {
    feed: Feed,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Start a batch on `client`; a bad shard throws `INVALID_PARAMETER`.
pub fn start(client: &Client, s: BatchSettings) -> napi::Result<NativeBatch, Code> {
    let defaults = BatchOptions::default();
    let shard = match s.shard.as_deref().map(Shard::parse).transpose() {
        Ok(shard) => shard.unwrap_or(Shard::WHOLE),
        Err(e) => return Err(thrown(e)),
    };
    let options = BatchOptions {
        concurrency: s.concurrency.map(|c| c as usize),
        per_host: s.per_host.map_or(defaults.per_host, |p| p as usize),
        publish: s.publish.unwrap_or(defaults.publish),
        retry_failed: s.retry_failed.unwrap_or(defaults.retry_failed),
        shard,
        max_attempts: s.max_attempts.unwrap_or(defaults.max_attempts),
        ..defaults
    };
    let key = s.input_key.unwrap_or_else(one_off_input_key);
    let (feed, run) = client.batch_feed(key, options);
    Ok(NativeBatch {
        feed,
        task: Mutex::new(Some(spawn(run))),
    })
}

fn misuse(e: FeedMisuse) -> napi::Error<Code> {
    napi::Error::new(Code(ErrorKind::Internal.code()), e.to_string())
}

fn result_json(r: RowResult) -> String {
    json!({
        "row": r.row,
        "uid": r.uid,
        "ok": r.is_ok(),
        "errorCode": r.error_code,
        "details": r.details,
        "attempts": r.attempts,
        "resumed": r.resumed,
        "response": r.response.map(|x| x.into_value()),
    })
    .to_string()
}

impl NativeBatch {
    /// Stop now: no row starts, rows in flight are dropped (not recorded: they run again
    /// when the batch is resumed). The task, if any, to wait for.
    fn abort(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.feed.stop();
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(t) = &task {
            t.abort();
        }
        task
    }
}

#[napi]
impl NativeBatch {
    /// Hand over the next row as JSON text (a `[UID, URL]` pair or an object; anything
    /// else fails alone with 400006). Returns whether there is room for another at once;
    /// when not, the row is held and the next `wait` hands it over.
    #[napi]
    pub fn offer(&self, row: String) -> napi::Result<bool, Code> {
        self.feed
            .offer(|n| BatchRow::from_json(n, row.as_bytes()))
            .map_err(misuse)
    }

    /// The input has ended: the batch ends once every row is answered.
    #[napi]
    pub fn end_input(&self) -> napi::Result<(), Code> {
        self.feed.end_input().map_err(misuse)
    }

    /// A result, room for rows, or the end.
    #[napi]
    pub async fn wait(&self) -> napi::Result<BatchEvent> {
        let waited = self.feed.wait().await;
        Ok(match waited {
            Waited::Row(r) => BatchEvent {
                room: false,
                end: false,
                result: Some(result_json(*r)),
            },
            Waited::Room => BatchEvent {
                room: true,
                end: false,
                result: None,
            },
            Waited::End => BatchEvent {
                room: false,
                end: true,
                result: None,
            },
            Waited::Broken(e) => return Err(rejected(e)),
        })
    }

    /// The counts of the results `wait` has returned.
    #[napi]
    pub fn progress(&self) -> BatchCounts {
        let t = self.feed.tally();
        let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        BatchCounts {
            done: n(t.done),
            ok: n(t.ok),
            failed: n(t.failed),
            resumed: n(t.resumed),
        }
    }

    /// Stop gently: no further row starts; the rows in flight finish, are recorded and
    /// still come out of `wait`, then it reports the end.
    #[napi]
    pub fn stop(&self) {
        self.feed.stop();
    }

    /// Stop now and resolve once the batch's task is gone (its slots free). Idempotent.
    #[napi]
    pub async fn close(&self) -> napi::Result<()> {
        if let Some(task) = self.abort() {
            // Aborted: its error says only that.
            let _ = task.await;
        }
        Ok(())
    }
}

impl Drop for NativeBatch {
    fn drop(&mut self) {
        self.abort();
    }
}
