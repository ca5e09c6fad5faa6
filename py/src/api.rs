//! The native client (core `api/`): each API method defined once, as a core [`Request`]
//! built from the typed arguments, and emitted twice by [`methods!`]: blocking (the GIL
//! released) and `_async` (an asyncio awaitable). Plus the Gigya-style `call`, which answers
//! with the envelope, and the async open / close.
//!
//! Every parameter rule (exactly one of UID / regToken, sizes, policy ranges) is the core's:
//! arguments it refuses are answered by `Client::refused`, so the error has a `callId` like
//! any other.

use std::path::PathBuf;
use std::sync::{PoisonError, RwLock};

use avatarium::{Error, Identity, Method, PolicyChange, Request, ThumbnailCrop, ThumbnailScales};
use bytes::Bytes;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::Value;

use crate::batch;
use crate::config::Settings;
use crate::envelope;
use crate::error::{ApiError, OrRaise, Outcome};
use crate::render::Answer;
use crate::runtime;

/// What a method asks of the core, built from owned values while the GIL is held.
enum Call {
    /// A typed request, or the core's refusal of the arguments it was to be built from.
    Typed(Method, Result<Request, Error>),
    /// Gigya's generic form: a method name and its parameters, answered with the envelope.
    Gigya(String, Value),
    /// The operator's purge.
    Purge,
}

impl Call {
    async fn answer(self, core: avatarium::Client) -> Answer {
        match self {
            Call::Typed(_, Ok(request)) => Answer::Typed(core.run(request).await),
            Call::Typed(method, Err(e)) => Answer::Typed(core.refused(method, e)),
            Call::Gigya(name, params) => Answer::Envelope(core.call(&name, &params).await),
            Call::Purge => Answer::Typed(core.purge_response().await),
        }
    }
}

/// A request that names an account by `uid` or `reg_token` (the core's one rule).
fn for_account(
    method: Method,
    uid: Option<String>,
    reg_token: Option<String>,
    build: impl FnOnce(Identity) -> Request,
) -> PyResult<Call> {
    Ok(Call::Typed(
        method,
        Identity::from_parts(uid, reg_token).map(build),
    ))
}

fn typed(request: Request) -> PyResult<Call> {
    Ok(Call::Typed(request.method(), Ok(request)))
}

/// A size from Python: one outside `u32` is the core's invalid parameter, like any size
/// the core refuses, not an overflow error of the binding.
fn side(value: Option<i64>, name: &str) -> Result<Option<u32>, Error> {
    value
        .map(|v| u32::try_from(v).map_err(|_| Error::invalid(name, "expected a positive integer")))
        .transpose()
}

fn policies(
    width: Option<i64>,
    height: Option<i64>,
    crop: Option<String>,
    scales: Option<Vec<i64>>,
) -> PyResult<Call> {
    let change = side(width, "profilePhoto.thumbnailWidth").and_then(|w| {
        Ok(PolicyChange {
            thumbnail_width: w,
            thumbnail_height: side(height, "profilePhoto.thumbnailHeight")?,
            thumbnail_crop: crop.as_deref().map(ThumbnailCrop::from_name).transpose()?,
            thumbnail_scales: scales
                .as_deref()
                .map(ThumbnailScales::from_list)
                .transpose()?,
        })
    });
    Ok(Call::Typed(
        Method::SetPolicies,
        change.map(Request::SetPolicies),
    ))
}

fn gigya(method: String, params: Option<&Bound<'_, PyAny>>) -> PyResult<Call> {
    let params = params
        .map(envelope::to_json)
        .transpose()?
        .unwrap_or(Value::Null);
    Ok(Call::Gigya(method, params))
}

/// `avatarium._native.Client`: the engine on the configured stores. Thread-safe; one
/// client serves any number of threads and asyncio tasks at once.
#[pyclass(frozen, module = "avatarium._native", name = "Client")]
pub struct Client {
    inner: RwLock<Option<avatarium::Client>>,
}

impl Client {
    fn new_open(core: avatarium::Client) -> Self {
        Client {
            inner: RwLock::new(Some(core)),
        }
    }

    fn core(&self) -> PyResult<avatarium::Client> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| PyRuntimeError::new_err("the avatarium Client is closed"))
    }

    fn take(&self) -> Option<avatarium::Client> {
        self.inner
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Run a call on the runtime and wait for it with the GIL released.
    fn blocking<'py>(&self, py: Python<'py>, call: PyResult<Call>) -> PyResult<Bound<'py, PyAny>> {
        let (call, core) = (call?, self.core()?);
        runtime::block_on(py, call.answer(core))?.into_pyobject(py)
    }

    /// Run a call on the runtime as an asyncio awaitable.
    fn awaitable<'py>(&self, py: Python<'py>, call: PyResult<Call>) -> PyResult<Bound<'py, PyAny>> {
        let (call, core) = (call?, self.core()?);
        runtime::future_into_py(py, async move { Ok(call.answer(core).await) })
    }
}

/// The one `#[pymethods]` block: the methods written out (`{ … }`), then each API method
/// once, as `fn blocking_name / async_name (args) => a PyResult<Call>;`, emitted as both.
macro_rules! methods {
    (
        { $($plain:tt)* }
        $(
            $(#[$attr:meta])*
            fn $name:ident / $name_async:ident ($($arg:ident: $ty:ty),*) => $call:expr;
        )*
    ) => {
        #[pymethods]
        impl Client {
            $($plain)*
            $(
                $(#[$attr])*
                fn $name<'py>(&self, py: Python<'py>, $($arg: $ty),*) -> PyResult<Bound<'py, PyAny>> {
                    self.blocking(py, $call)
                }
                $(#[$attr])*
                fn $name_async<'py>(&self, py: Python<'py>, $($arg: $ty),*) -> PyResult<Bound<'py, PyAny>> {
                    self.awaitable(py, $call)
                }
            )*
        }
    };
}

methods! {
    {
        /// Open a client: `settings` are SPEC.md config keys (a dict), or `config_file` a
        /// TOML file; `use_env` overlays `AVATARIUM_<KEY>` variables. Blocks (GIL released)
        /// while the stores open; `open_async` does the same without blocking the loop.
        #[new]
        #[pyo3(signature = (settings=None, config_file=None, use_env=false))]
        fn new(
            py: Python<'_>,
            settings: Option<&Bound<'_, PyDict>>,
            config_file: Option<PathBuf>,
            use_env: bool,
        ) -> PyResult<Self> {
            let settings = Settings::extract(settings, config_file, use_env)?;
            let opened = runtime::block_on(py, settings.open())?;
            Ok(Client::new_open(opened.or_raise(py)?))
        }

        /// An awaitable of an open client (the stores opened on the runtime).
        #[staticmethod]
        #[pyo3(signature = (settings=None, config_file=None, use_env=false))]
        fn open_async<'py>(
            py: Python<'py>,
            settings: Option<&Bound<'py, PyDict>>,
            config_file: Option<PathBuf>,
            use_env: bool,
        ) -> PyResult<Bound<'py, PyAny>> {
            let settings = Settings::extract(settings, config_file, use_env)?;
            runtime::future_into_py(py, async move {
                let opened = settings.open().await;
                Ok(Outcome(opened.map(Client::new_open).map_err(|e| ApiError::new(&e, None))))
            })
        }

        /// Close the client: calls in flight end at once (`BusyError`, "The client is
        /// closed") and their decodes are cancelled; returns when that work has stopped (at
        /// most ~2 s, the GIL released meanwhile). Later calls raise `RuntimeError`.
        /// Idempotent.
        fn close(&self, py: Python<'_>) {
            if let Some(core) = self.take() {
                let closing = core.clone();
                // A close that timed out, or a runtime already shut down, leaves nothing to do.
                let _ = runtime::block_on(py, async move { closing.close().await });
                runtime::drop_in_runtime(core);
            }
        }

        /// `close` as an awaitable: the wait happens on the runtime, not the event loop.
        fn close_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
            // Checked before taking the core, so a shut-down runtime leaves it to `Drop`.
            runtime::handle()?;
            let taken = self.take();
            runtime::future_into_py(py, async move {
                if let Some(core) = taken {
                    // Timed out or not, the client is closed for callers.
                    let _ = core.close().await;
                }
                Ok(())
            })
        }

        /// Start a batch import (core `Client::import_batch`); the caller feeds it rows and
        /// takes its results (`avatarium._batch`). `input_key=None`: a one-off key, so
        /// nothing is resumed. A bad `shard` ("I/N") raises `InvalidParameterError`.
        #[pyo3(signature = (*, input_key=None, concurrency=None, per_host=4, publish=true, retry_failed=false, shard=None, max_attempts=4))]
        #[allow(clippy::too_many_arguments)]
        fn import_batch(
            &self,
            py: Python<'_>,
            input_key: Option<String>,
            concurrency: Option<usize>,
            per_host: usize,
            publish: bool,
            retry_failed: bool,
            shard: Option<String>,
            max_attempts: u32,
        ) -> PyResult<batch::Batch> {
            let asked = batch::Asked {
                input_key,
                concurrency,
                per_host,
                publish,
                retry_failed,
                shard,
                max_attempts,
            };
            batch::start(py, self.core()?, asked)
        }

        #[getter]
        fn closed(&self) -> bool {
            self.inner
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .is_none()
        }
    }

    /// The Gigya-compatible form: the response envelope as a dict. Never raises for API
    /// errors (they are in `errorCode`); raises `TypeError` for parameters that are not JSON.
    #[pyo3(signature = (method, params=None))]
    fn call / call_async (method: String, params: Option<&Bound<'py, PyAny>>) => gigya(method, params);

    #[pyo3(signature = (url, *, uid=None, reg_token=None, publish=false))]
    fn import_profile_photo / import_profile_photo_async
        (url: String, uid: Option<String>, reg_token: Option<String>, publish: bool)
        => for_account(Method::ImportProfilePhoto, uid, reg_token, |who| {
            Request::ImportProfilePhoto { who, url, publish }
        });

    /// The file's bytes, as they are (copied once, before the GIL is released).
    #[pyo3(signature = (photo_bytes, *, uid=None, reg_token=None, publish=false))]
    fn set_profile_photo / set_profile_photo_async
        (photo_bytes: &[u8], uid: Option<String>, reg_token: Option<String>, publish: bool)
        => for_account(Method::SetProfilePhoto, uid, reg_token, |who| {
            Request::SetProfilePhoto { who, photo: Bytes::copy_from_slice(photo_bytes), publish }
        });

    #[pyo3(signature = (*, uid=None, reg_token=None))]
    fn publish_profile_photo / publish_profile_photo_async
        (uid: Option<String>, reg_token: Option<String>)
        => for_account(Method::PublishProfilePhoto, uid, reg_token, |who| {
            Request::PublishProfilePhoto { who }
        });

    #[pyo3(signature = (*, uid=None, reg_token=None))]
    fn remove_profile_photo / remove_profile_photo_async
        (uid: Option<String>, reg_token: Option<String>)
        => for_account(Method::RemoveProfilePhoto, uid, reg_token, |who| {
            Request::RemoveProfilePhoto { who }
        });

    #[pyo3(signature = (*, uid=None, reg_token=None))]
    fn get_account_info / get_account_info_async
        (uid: Option<String>, reg_token: Option<String>)
        => for_account(Method::GetAccountInfo, uid, reg_token, |who| {
            Request::GetAccountInfo { who }
        });

    fn init_registration / init_registration_async () => typed(Request::InitRegistration);

    fn finalize_registration / finalize_registration_async (reg_token: String)
        => typed(Request::FinalizeRegistration { reg_token });

    fn get_policies / get_policies_async () => typed(Request::GetPolicies);

    /// Omitted fields keep their current values.
    #[pyo3(signature = (*, thumbnail_width=None, thumbnail_height=None, thumbnail_crop=None, thumbnail_scales=None))]
    fn set_policies / set_policies_async
        (thumbnail_width: Option<i64>, thumbnail_height: Option<i64>,
         thumbnail_crop: Option<String>, thumbnail_scales: Option<Vec<i64>>)
        => policies(thumbnail_width, thumbnail_height, thumbnail_crop, thumbnail_scales);

    /// Delete expired pending photos and unreferenced blobs.
    fn purge / purge_async () => Ok(Call::Purge);
}

impl Drop for Client {
    fn drop(&mut self) {
        let taken = self
            .inner
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(core) = taken {
            runtime::drop_in_runtime(core);
        }
    }
}
