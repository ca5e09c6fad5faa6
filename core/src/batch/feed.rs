//! A batch fed from outside async code, for the bindings: their callers push rows (from
//! a Python iterator, a JS iterable) and pull results, on a thread or an event loop of
//! their own. [`Feed::offer`] never blocks: when the rows channel is full the row waits
//! in `pending`, and [`Feed::wait`] hands it over as soon as there is room — so a caller
//! that only ever offers or waits cannot deadlock against its own results, and memory
//! holds the channels' worth of rows, whatever the input's length.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};

use tokio::sync::{mpsc, Mutex};

use super::{BatchOptions, BatchRow, RowResult, Stop, Tally, ROWS_AHEAD};
use crate::api::Client;
use crate::error::{Error, ErrorKind};

/// Results the batch may finish ahead of the caller taking them.
const RESULTS_AHEAD: usize = 64;

/// The caller's ends of the batch's channels.
#[derive(Debug)]
struct Channels {
    /// `None` once the input has ended or the batch takes no more rows.
    rows: Option<mpsc::Sender<BatchRow>>,
    /// The caller said the input has ended ([`Feed::end_input`]).
    input_ended: bool,
    /// A row offered while the rows channel was full.
    pending: Option<BatchRow>,
    results: mpsc::Receiver<RowResult>,
}

/// What a [`Feed::wait`] saw.
#[derive(Debug)]
pub enum Waited {
    /// Boxed: a result carries its whole response envelope.
    Row(Box<RowResult>),
    /// There is room for more rows.
    Room,
    /// Every row is answered (or the batch was stopped).
    End,
    /// The batch's task ended without answering every row and without being stopped (it
    /// panicked, or was aborted without [`Feed::stop`]): a bug, never a normal end. The
    /// rows not answered are not recorded, so the next run of the same input does them.
    Broken(Error),
}

/// A caller's misuse of a feed (a binding's bug, not the input's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FeedMisuse {
    #[error("a row was offered before wait() made room")]
    Full,
    #[error("a row was offered after end_input()")]
    Ended,
    #[error("the batch is being waited on elsewhere")]
    Busy,
}

/// A running batch's caller end. Clones share it.
#[derive(Debug, Clone)]
pub struct Feed {
    channels: Arc<Mutex<Channels>>,
    next_row: Arc<AtomicU64>,
    tally: Arc<StdMutex<Tally>>,
    stop: Stop,
    /// Set when the batch's future returns (not when it panics or is dropped).
    finished: Arc<AtomicBool>,
}

impl Client {
    /// A batch fed through a [`Feed`]: the feed, and the batch itself, a future to spawn
    /// (dropping or aborting it stops the batch at once, like dropping
    /// [`Client::import_batch`]'s stream). `options.stop` is the feed's [`Feed::stop`].
    pub fn batch_feed(
        &self,
        input_key: impl Into<String>,
        options: BatchOptions,
    ) -> (Feed, impl Future<Output = ()> + Send + 'static) {
        let (rows_tx, rows_rx) = mpsc::channel(ROWS_AHEAD);
        let (results_tx, results_rx) = mpsc::channel(RESULTS_AHEAD);
        let feed = Feed {
            channels: Arc::new(Mutex::new(Channels {
                rows: Some(rows_tx),
                input_ended: false,
                pending: None,
                results: results_rx,
            })),
            next_row: Arc::default(),
            tally: Arc::default(),
            stop: options.stop.clone(),
            finished: Arc::default(),
        };
        let client = self.clone();
        let input_key = input_key.into();
        let finished = feed.finished.clone();
        let run = async move {
            // A sender kept until `finished` is set: the results channel must not close
            // first, or a wait on another thread would see a closed, unfinished batch.
            let open = results_tx.clone();
            client
                .import_batch_channels(input_key, rows_rx, options, results_tx)
                .await;
            finished.store(true, Ordering::Release);
            drop(open);
        };
        (feed, run)
    }
}

impl Feed {
    /// Hand over the next row, made by `make` from its position (0, 1, … in the order
    /// offered). `Ok(true)`: there is room for another at once; `Ok(false)`: the row is
    /// held until a [`Feed::wait`] makes room (or the batch has ended and it is dropped).
    pub fn offer(&self, make: impl FnOnce(u64) -> BatchRow) -> Result<bool, FeedMisuse> {
        let mut channels = self.channels.try_lock().map_err(|_| FeedMisuse::Busy)?;
        if channels.pending.is_some() {
            return Err(FeedMisuse::Full);
        }
        if channels.input_ended {
            return Err(FeedMisuse::Ended);
        }
        // The batch takes no more rows (stopped, or its task ended; a wait saw it): the row
        // is not run, and the answer says to offer no more.
        let Some(tx) = channels.rows.as_ref() else {
            return Ok(false);
        };
        let row = make(self.next_row.fetch_add(1, Ordering::Relaxed));
        match tx.try_send(row) {
            Ok(()) => Ok(true),
            Err(mpsc::error::TrySendError::Full(row)) => {
                channels.pending = Some(row);
                Ok(false)
            }
            // The batch no longer takes rows (stopped, or ended): the row is not run, and
            // no more are taken (the next wait returns the rows in flight, then End).
            Err(mpsc::error::TrySendError::Closed(_)) => {
                channels.rows = None;
                Ok(false)
            }
        }
    }

    /// The input has ended: the batch ends once every row is answered.
    pub fn end_input(&self) -> Result<(), FeedMisuse> {
        let mut channels = self.channels.try_lock().map_err(|_| FeedMisuse::Busy)?;
        if channels.pending.is_some() {
            return Err(FeedMisuse::Full);
        }
        channels.rows = None;
        channels.input_ended = true;
        Ok(())
    }

    /// Wait for a result (counted in [`Feed::tally`]), or for room for more rows. Cancel
    /// safe: a wait dropped before it returns loses nothing.
    pub async fn wait(&self) -> Waited {
        let waited = self.wait_for().await;
        if let Waited::Row(r) = &waited {
            self.tally
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .add(r);
        }
        waited
    }

    async fn wait_for(&self) -> Waited {
        let mut guard = self.channels.lock().await;
        let Channels {
            rows,
            pending,
            results,
            ..
        } = &mut *guard;
        loop {
            // The batch no longer takes rows (stopped, or its task ended): a held row is
            // dropped and there is never room again, so the caller stops reading its input
            // and only the results in flight are left, then End. (A closed channel gives
            // its slots back: its capacity alone would say "room" forever.)
            if rows.as_ref().is_some_and(|tx| tx.is_closed()) {
                *rows = None;
                *pending = None;
            }
            // A finished row before room: a caller that offers whenever there is room
            // still sees results as they come, not only once the rows channel is full.
            if let Ok(r) = results.try_recv() {
                return Waited::Row(Box::new(r));
            }
            if pending.is_none() && rows.as_ref().is_some_and(|tx| tx.capacity() > 0) {
                return Waited::Room;
            }
            tokio::select! {
                // Results first: they free the slots that make room.
                biased;
                r = results.recv() => return match r {
                    Some(r) => Waited::Row(Box::new(r)),
                    None => self.end(),
                },
                permit = room(rows.as_ref(), pending.is_some()) => match (permit, pending.take()) {
                    (Some(permit), Some(row)) => {
                        permit.send(row);
                        return Waited::Room;
                    }
                    // Closed while the row waited: dropped above on the next turn.
                    _ => continue,
                },
            }
        }
    }

    /// The results channel has closed: a normal end, or a broken batch.
    fn end(&self) -> Waited {
        if self.finished.load(Ordering::Acquire) || self.stop.is_stopped() {
            return Waited::End;
        }
        Waited::Broken(Error::new(
            ErrorKind::Internal,
            "the batch's task ended before answering every row (a bug; see the log); \
             the rows not answered were not recorded",
        ))
    }

    /// The counts of the results [`Feed::wait`] has returned.
    pub fn tally(&self) -> Tally {
        *self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stop gently: no further row starts; the rows in flight finish, are recorded and
    /// still come out of [`Feed::wait`], then it returns [`Waited::End`].
    pub fn stop(&self) {
        self.stop.stop();
    }
}

/// A slot in the rows channel when a row waits for one; never ready otherwise.
async fn room(
    tx: Option<&mpsc::Sender<BatchRow>>,
    wanted: bool,
) -> Option<mpsc::Permit<'_, BatchRow>> {
    match tx {
        Some(tx) if wanted => tx.reserve().await.ok(),
        _ => std::future::pending().await,
    }
}
