//! The binding's one tokio runtime (STYLE.md §9, §10).
//!
//! The core never starts a runtime: this module owns exactly one multi-thread runtime for
//! the whole process, created lazily on first use (module import starts nothing, §18).
//! Blocking calls spawn their future on it and wait with the GIL released; `_async` calls go
//! through `pyo3_async_runtimes::generic::future_into_py` with [`PyRuntime`], so they run on
//! the same runtime (not on pyo3-async-runtimes' own global one).
//!
//! `_shutdown()` is registered with `atexit` by the Python package: it stops the runtime
//! (with the GIL released) before the interpreter finalizes, so no worker thread tries to
//! take the GIL of a dying interpreter (PyO3/pyo3-async-runtimes#40).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use pyo3::exceptions::PyRuntimeError;
use pyo3::panic::PanicException;
use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{ContextExt, JoinError, Runtime};
use pyo3_async_runtimes::TaskLocals;
use tokio::runtime::Handle;

/// How long `_shutdown` waits for blocking work (a photo decode) to finish.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

enum State {
    NotStarted,
    Running(tokio::runtime::Runtime),
    ShutDown,
}

static STATE: Mutex<State> = Mutex::new(State::NotStarted);

fn shut_down_error() -> PyErr {
    PyRuntimeError::new_err("avatarium: the runtime is shut down (the interpreter is exiting)")
}

/// A handle on the runtime, starting it on first use.
pub fn handle() -> PyResult<Handle> {
    let mut state = STATE.lock().unwrap_or_else(PoisonError::into_inner);
    match &*state {
        State::Running(rt) => Ok(rt.handle().clone()),
        State::ShutDown => Err(shut_down_error()),
        State::NotStarted => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("avatarium")
                .build()
                .map_err(|e| {
                    PyRuntimeError::new_err(format!("cannot start the tokio runtime: {e}"))
                })?;
            let handle = rt.handle().clone();
            *state = State::Running(rt);
            Ok(handle)
        }
    }
}

/// Run `fut` on the runtime and wait for it with the GIL released. The future must own
/// its inputs (copied out of Python objects before this call).
pub fn block_on<F>(py: Python<'_>, fut: F) -> PyResult<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handle = handle()?;
    py.detach(move || {
        let task = handle.spawn(fut);
        handle.block_on(task)
    })
    .map_err(join_error)
}

fn join_error(e: tokio::task::JoinError) -> PyErr {
    if e.is_panic() {
        PanicException::new_err(panic_message(e.into_panic()))
    } else {
        shut_down_error()
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic in avatarium".to_string()
    }
}

/// Drop a value that may own runtime resources (connection pools) inside the runtime's
/// context; after shutdown it is leaked instead (the process is exiting).
pub fn drop_in_runtime<T>(value: T) {
    match handle() {
        Ok(h) => {
            let _guard = h.enter();
            drop(value);
        }
        Err(_) => std::mem::forget(value),
    }
}

/// `_shutdown()`: stop the runtime, waiting briefly for running work, with the GIL
/// released. Later calls raise `RuntimeError`. Idempotent.
#[pyfunction]
pub fn _shutdown(py: Python<'_>) {
    let previous = {
        let mut state = STATE.lock().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *state, State::ShutDown)
    };
    if let State::Running(rt) = previous {
        py.detach(move || rt.shutdown_timeout(SHUTDOWN_TIMEOUT));
    }
}

/// The `generic::Runtime` of pyo3-async-runtimes, backed by this module's runtime.
pub struct PyRuntime;

pub struct PyJoinError(tokio::task::JoinError);

impl JoinError for PyJoinError {
    fn is_panic(&self) -> bool {
        self.0.is_panic()
    }

    fn into_panic(self) -> Box<dyn std::any::Any + Send + 'static> {
        self.0.into_panic()
    }
}

type BoxedJoin = Pin<Box<dyn Future<Output = Result<(), PyJoinError>> + Send>>;

/// The runtime handle: the current one on our worker threads, else the global one. After
/// shutdown there is none and the work is dropped.
fn spawn_handle() -> Option<Handle> {
    Handle::try_current().ok().or_else(|| handle().ok())
}

impl Runtime for PyRuntime {
    type JoinError = PyJoinError;
    type JoinHandle = BoxedJoin;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        match spawn_handle() {
            Some(h) => {
                let task = h.spawn(fut);
                Box::pin(async move { task.await.map_err(PyJoinError) })
            }
            None => Box::pin(async { Ok(()) }),
        }
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        match spawn_handle() {
            Some(h) => {
                let task = h.spawn_blocking(f);
                Box::pin(async move { task.await.map_err(PyJoinError) })
            }
            None => Box::pin(async { Ok(()) }),
        }
    }
}

tokio::task_local! {
    static TASK_LOCALS: std::cell::OnceCell<TaskLocals>;
}

impl ContextExt for PyRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = std::cell::OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS
            .try_with(|c| c.get().cloned())
            .unwrap_or_default()
    }
}

/// `future_into_py` on this module's runtime. Must be called with a running asyncio loop
/// (the Python layer wraps it in an `async def`); fails fast after shutdown instead of
/// returning a future that never completes.
pub fn future_into_py<'py, F, T>(py: Python<'py>, fut: F) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = PyResult<T>> + Send + 'static,
    T: for<'a> IntoPyObject<'a> + Send + 'static,
{
    handle()?;
    pyo3_async_runtimes::generic::future_into_py::<PyRuntime, F, T>(py, fut)
}
