//! Batch import (core `batch/`) for Python: a [`Batch`] that the caller's thread feeds
//! with rows and drains of results (the core's [`Feed`]). The loop (pull rows from any
//! iterable, offer them, wait, yield) is the package's `_batch.py`; here rows become core
//! rows ([`BatchRow::from_value`]), results become [`RowResult`] objects, and waits release
//! the GIL.

use std::sync::{Mutex as StdMutex, PoisonError};
use std::time::Duration;

use avatarium::batch::{
    one_off_input_key, BatchOptions, BatchRow, Feed, FeedMisuse, Shard, Waited,
};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::envelope;
use crate::error::ApiError;
use crate::runtime;

/// How long a blocking wait lasts before it looks at Python's signals (Ctrl-C).
const SIGNAL_CHECK: Duration = Duration::from_millis(100);

/// `avatarium._native.Batch`: one running batch import (see `avatarium.Client.import_batch`).
#[pyclass(frozen, module = "avatarium._native", name = "Batch")]
pub struct Batch {
    feed: Feed,
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
    let options = BatchOptions {
        concurrency: asked.concurrency,
        per_host: asked.per_host,
        publish: asked.publish,
        retry_failed: asked.retry_failed,
        shard,
        max_attempts: asked.max_attempts,
        ..BatchOptions::default()
    };
    let key = asked.input_key.unwrap_or_else(one_off_input_key);
    let (feed, run) = core.batch_feed(key, options);
    let task = runtime::handle()?.spawn(run);
    Ok(Batch {
        feed,
        task: StdMutex::new(Some(task)),
    })
}

fn misuse(e: FeedMisuse) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

impl Batch {
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

#[pymethods]
impl Batch {
    /// Hand over one row (a `(UID, URL)` pair or a dict; see `BatchRow::from_value`).
    /// Returns whether there is room for another at once; when not, the row is held and
    /// the next `wait` hands it over.
    fn offer(&self, row: &Bound<'_, PyAny>) -> PyResult<bool> {
        let value = envelope::to_json(row);
        self.feed
            .offer(|n| match value {
                Ok(value) => BatchRow::from_value(n, &value),
                // Not JSON-like (a set, a datetime inside): that row fails alone, with 400006.
                Err(e) => BatchRow::unreadable(n, "", format!("row {n}: {e}")),
            })
            .map_err(misuse)
    }

    /// The input has ended: the batch ends once every row is answered.
    fn end_input(&self) -> PyResult<()> {
        self.feed.end_input().map_err(misuse)
    }

    /// Wait (the GIL released) for a result (`RowResult`), room for rows (`True`) or the
    /// end (`False`). Python's signal handlers run every 100 ms meanwhile, so Ctrl-C
    /// raises `KeyboardInterrupt` here.
    fn wait(&self, py: Python<'_>) -> PyResult<Answer> {
        loop {
            let feed = self.feed.clone();
            let waited = runtime::block_on(py, async move {
                tokio::time::timeout(SIGNAL_CHECK, feed.wait()).await.ok()
            })?;
            match waited {
                Some(w) => return Ok(Answer(w)),
                None => py.check_signals()?,
            }
        }
    }

    /// `wait` as an awaitable.
    fn wait_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let feed = self.feed.clone();
        runtime::future_into_py(py, async move { Ok(Answer(feed.wait().await)) })
    }

    /// The counts of the results returned so far.
    #[getter]
    fn progress(&self) -> BatchProgress {
        let t = self.feed.tally();
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
        self.feed.stop();
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

/// A wait's outcome for Python: a `RowResult`, `True` (room) or `False` (the end).
pub struct Answer(Waited);

impl<'py> IntoPyObject<'py> for Answer {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let r = match self.0 {
            Waited::Room => return Ok(true.into_pyobject(py)?.to_owned().into_any()),
            Waited::End => return Ok(false.into_pyobject(py)?.to_owned().into_any()),
            Waited::Broken(e) => return Err(ApiError::new(&e, None).into_pyerr(py)),
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
