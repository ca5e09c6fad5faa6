//! Batch import (core `batch/`) for Python: a [`Batch`] that the caller's thread feeds
//! with rows and drains of results, both without ever holding more than the rows in
//! flight. The loop (pull rows from any iterable, offer them, wait, yield) is the
//! package's `_batch.py`; here rows become core rows ([`BatchRow::from_value`]), results
//! become [`RowResult`] objects, and waits release the GIL.
//!
//! The batch runs as one task on the binding's runtime ([`Client::import_batch_channels`])
//! between two bounded channels. `offer` never blocks: when the rows channel is full the
//! row waits in `pending`, and `wait` hands it over as soon as there is room — so a
//! caller that only ever offers or waits cannot deadlock against its own results.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex, PoisonError};
use std::time::Duration;

use avatarium::batch::{
    one_off_input_key, BatchOptions, BatchRow, RowResult as CoreRow, Shard, Stop, Tally, ROWS_AHEAD,
};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use tokio::sync::{mpsc, Mutex};

use crate::envelope;
use crate::error::ApiError;
use crate::runtime;

/// Results the batch may finish ahead of the caller taking them.
const RESULTS_AHEAD: usize = 64;

/// How long a blocking wait lasts before it looks at Python's signals (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// The caller's ends of the batch's channels.
struct Channels {
    /// `None` once the input has ended.
    rows: Option<mpsc::Sender<BatchRow>>,
    /// A row offered while the rows channel was full.
    pending: Option<BatchRow>,
    results: mpsc::Receiver<CoreRow>,
}

/// What a wait saw.
pub enum Waited {
    /// Boxed: a result carries its whole response envelope.
    Row(Box<CoreRow>),
    /// There is room for more rows (a pending one was handed over).
    Room,
    /// Every row is answered (or the batch was stopped).
    End,
}

/// `avatarium._native.Batch`: one running batch import (see `avatarium.Client.import_batch`).
#[pyclass(frozen, module = "avatarium._native", name = "Batch")]
pub struct Batch {
    channels: Arc<Mutex<Channels>>,
    next_row: AtomicU64,
    /// The counts of the results returned so far (by `wait` or `wait_async`).
    tally: Arc<StdMutex<Tally>>,
    stop: Stop,
    task: StdMutex<Option<tokio::task::JoinHandle<()>>>,
}

/// The options as Python gives them.
pub struct Asked {
    pub input_key: Option<String>,
    pub concurrency: Option<usize>,
    pub per_host: usize,
    pub publish: bool,
    pub retry_failed: bool,
    pub shard: Option<String>,
    pub max_attempts: u32,
}

/// Start a batch on `core`. A bad shard raises the core's `InvalidParameterError`.
pub fn start(py: Python<'_>, core: avatarium::Client, asked: Asked) -> PyResult<Batch> {
    let shard = match asked.shard.as_deref().map(Shard::parse).transpose() {
        Ok(shard) => shard.unwrap_or(Shard::WHOLE),
        Err(e) => return Err(ApiError::new(&e, None).into_pyerr(py)),
    };
    let stop = Stop::default();
    let options = BatchOptions {
        concurrency: asked.concurrency,
        per_host: asked.per_host,
        publish: asked.publish,
        retry_failed: asked.retry_failed,
        shard,
        max_attempts: asked.max_attempts,
        stop: stop.clone(),
        ..BatchOptions::default()
    };
    let key = asked.input_key.unwrap_or_else(one_off_input_key);
    let (rows_tx, rows_rx) = mpsc::channel(ROWS_AHEAD);
    let (results_tx, results_rx) = mpsc::channel(RESULTS_AHEAD);
    let handle = runtime::handle()?;
    let task = handle.spawn(async move {
        core.import_batch_channels(key, rows_rx, options, results_tx)
            .await;
    });
    Ok(Batch {
        channels: Arc::new(Mutex::new(Channels {
            rows: Some(rows_tx),
            pending: None,
            results: results_rx,
        })),
        next_row: AtomicU64::new(0),
        tally: Arc::default(),
        stop,
        task: StdMutex::new(Some(task)),
    })
}

/// Wait for a result (counted in `tally`), or for room for the pending row.
async fn wait(channels: Arc<Mutex<Channels>>, tally: Arc<StdMutex<Tally>>) -> Waited {
    let waited = wait_for(channels).await;
    if let Waited::Row(r) = &waited {
        tally.lock().unwrap_or_else(PoisonError::into_inner).add(r);
    }
    waited
}

async fn wait_for(channels: Arc<Mutex<Channels>>) -> Waited {
    let mut guard = channels.lock().await;
    let Channels {
        rows,
        pending,
        results,
    } = &mut *guard;
    if pending.is_none() && rows.as_ref().is_some_and(|tx| tx.capacity() > 0) {
        return Waited::Room;
    }
    tokio::select! {
        // Results first: they free the slots that make room.
        biased;
        r = results.recv() => r.map_or(Waited::End, |r| Waited::Row(Box::new(r))),
        permit = room(rows.as_ref(), pending.is_some()) => {
            let row = pending.take();
            if let (Some(permit), Some(row)) = (permit, row) {
                permit.send(row);
            }
            // A closed channel drops the row: the batch has ended, and the next wait says so.
            Waited::Room
        }
    }
}

/// A slot in the rows channel, when a row waits for one; never ready otherwise.
async fn room(
    tx: Option<&mpsc::Sender<BatchRow>>,
    wanted: bool,
) -> Option<mpsc::Permit<'_, BatchRow>> {
    match tx {
        Some(tx) if wanted => tx.reserve().await.ok(),
        _ => std::future::pending().await,
    }
}

impl Batch {
    fn channels(&self) -> PyResult<tokio::sync::MutexGuard<'_, Channels>> {
        self.channels
            .try_lock()
            .map_err(|_| PyRuntimeError::new_err("the batch is being waited on elsewhere"))
    }

    /// Stop now: no row starts, rows in flight are dropped (not recorded: they run again
    /// when the batch is resumed). The task, if any, to wait for.
    fn abort(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.stop.stop();
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

#[pymethods]
impl Batch {
    /// Hand over one row (a `(UID, URL)` pair or a dict; see `BatchRow::from_value`).
    /// Returns whether there is room for another at once; when not, the row is held and
    /// the next `wait` hands it over.
    fn offer(&self, row: &Bound<'_, PyAny>) -> PyResult<bool> {
        let n = self.next_row.fetch_add(1, Ordering::Relaxed);
        let row = match envelope::to_json(row) {
            Ok(value) => BatchRow::from_value(n, &value),
            // Not JSON-like (a set, a datetime inside): that row fails alone, with 400006.
            Err(e) => BatchRow::unreadable(n, "", format!("row {n}: {e}")),
        };
        let mut channels = self.channels()?;
        if channels.pending.is_some() {
            return Err(PyRuntimeError::new_err("offer() before wait() made room"));
        }
        let Some(tx) = &channels.rows else {
            return Err(PyRuntimeError::new_err("offer() after end_input()"));
        };
        match tx.try_send(row) {
            Ok(()) => Ok(true),
            Err(mpsc::error::TrySendError::Full(row)) => {
                channels.pending = Some(row);
                Ok(false)
            }
            // The batch has ended (stopped): the row is not run.
            Err(mpsc::error::TrySendError::Closed(_)) => Ok(false),
        }
    }

    /// The input has ended: the batch ends once every row is answered.
    fn end_input(&self) -> PyResult<()> {
        let mut channels = self.channels()?;
        if channels.pending.is_some() {
            return Err(PyRuntimeError::new_err(
                "end_input() before wait() made room",
            ));
        }
        channels.rows = None;
        Ok(())
    }

    /// Wait (the GIL released) for a result (`RowResult`), room for rows (`True`) or the
    /// end (`False`). Python's signal handlers run every 100 ms meanwhile, so Ctrl-C
    /// raises `KeyboardInterrupt` here.
    fn wait(&self, py: Python<'_>) -> PyResult<Waited> {
        loop {
            let (channels, tally) = (Arc::clone(&self.channels), Arc::clone(&self.tally));
            let waited = runtime::block_on(py, async move {
                tokio::time::timeout(SIGNAL_CHECK, wait(channels, tally))
                    .await
                    .ok()
            })?;
            match waited {
                Some(w) => return Ok(w),
                None => py.check_signals()?,
            }
        }
    }

    /// `wait` as an awaitable.
    fn wait_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let (channels, tally) = (Arc::clone(&self.channels), Arc::clone(&self.tally));
        runtime::future_into_py(py, async move { Ok(wait(channels, tally).await) })
    }

    /// The counts of the results returned so far.
    #[getter]
    fn progress(&self) -> BatchProgress {
        let t = *self.tally.lock().unwrap_or_else(PoisonError::into_inner);
        BatchProgress {
            done: t.done,
            ok: t.ok,
            failed: t.failed,
            resumed: t.resumed,
        }
    }

    /// Stop gently: no further row starts; the rows in flight finish, are recorded and
    /// are still returned by `wait`, then it returns the end.
    fn stop(&self) {
        self.stop.stop();
    }

    /// Stop now (see `abort`) and wait until the batch's task is gone, so its slots are
    /// free when this returns. Idempotent.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(task) = self.abort() {
            // Aborted: it ends at its next await, and its error says only that.
            let _ = runtime::block_on(py, task)?;
        }
        Ok(())
    }

    /// `close` as an awaitable.
    fn close_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let task = self.abort();
        runtime::future_into_py(py, async move {
            if let Some(task) = task {
                let _ = task.await;
            }
            Ok(())
        })
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.abort();
    }
}

/// A batch's counts so far (core `Tally`), as the progress callback gets them.
#[pyclass(frozen, eq, get_all, module = "avatarium")]
#[derive(PartialEq, Eq)]
pub struct BatchProgress {
    /// Rows answered (this run's and resumed ones).
    pub done: u64,
    /// Rows with errorCode 0.
    pub ok: u64,
    /// Rows with another errorCode.
    pub failed: u64,
    /// Rows answered from an earlier run's record (also counted in ok or failed).
    pub resumed: u64,
}

#[pymethods]
impl BatchProgress {
    fn __repr__(&self) -> String {
        format!(
            "BatchProgress(done={}, ok={}, failed={}, resumed={})",
            self.done, self.ok, self.failed, self.resumed
        )
    }
}

/// One row's result (core `RowResult`).
#[pyclass(frozen, get_all, module = "avatarium")]
pub struct RowResult {
    /// The row's position in the input (0 = the first).
    pub row: u64,
    pub uid: String,
    /// Gigya's `errorCode`: 0 when imported (and published unless `publish=False`).
    pub error_code: u32,
    /// `errorDetails` of a failure.
    pub details: Option<String>,
    /// Imports made for the row in this run (0: resumed, or refused before any).
    pub attempts: u32,
    /// Answered from an earlier run's record, not run again.
    pub resumed: bool,
    /// This run's response envelope (a dict), `None` when resumed.
    pub response: Option<Py<PyDict>>,
}

#[pymethods]
impl RowResult {
    /// Whether `error_code` is 0.
    #[getter]
    fn ok(&self) -> bool {
        self.error_code == 0
    }

    fn __repr__(&self) -> String {
        format!(
            "RowResult(row={}, uid={:?}, error_code={}, details={:?}, attempts={}, resumed={})",
            self.row,
            self.uid,
            self.error_code,
            self.details.as_deref().unwrap_or(""),
            self.attempts,
            if self.resumed { "True" } else { "False" }
        )
    }
}

impl<'py> IntoPyObject<'py> for Waited {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = match self {
            Waited::Room => return Ok(true.into_pyobject(py)?.to_owned().into_any()),
            Waited::End => return Ok(false.into_pyobject(py)?.to_owned().into_any()),
            Waited::Row(r) => *r,
        };
        let response = match r.response {
            Some(resp) => Some(
                envelope::to_py(py, &resp.into_value())?
                    .cast_into::<PyDict>()?
                    .unbind(),
            ),
            None => None,
        };
        let result = RowResult {
            row: r.row,
            uid: r.uid,
            error_code: r.error_code,
            details: r.details,
            attempts: r.attempts,
            resumed: r.resumed,
            response,
        };
        Ok(Bound::new(py, result)?.into_any())
    }
}
