//! The native client (core `api/`): one blocking method and one `_async` twin per API
//! method, plus the Gigya-style `call`.
//!
//! Each method copies its arguments into owned values, runs one core call on the binding's
//! runtime (blocking: with the GIL released; `_async`: as an asyncio awaitable) and converts
//! the result. Methods with Gigya parameters go through the core's `call` with the Gigya
//! parameter names, so every parameter rule (exactly one of UID / regToken, empty strings,
//! base64, policy ranges) is the core's and errors carry the envelope's `callId`.

use std::path::PathBuf;
use std::sync::{PoisonError, RwLock};

use avatarium::Envelope;
use base64::Engine;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde_json::{Map, Value};

use crate::config::Settings;
use crate::envelope::{self, Json};
use crate::error::{ApiError, OrRaise, Outcome};
use crate::runtime;
use crate::types::{
    uid_from_envelope, AccountInfo, ImportResult, PhotoUrls, Policies, PurgeReport, Registration,
};

const IMPORT: &str = "accounts.importProfilePhoto";
const SET: &str = "accounts.setProfilePhoto";
const PUBLISH: &str = "accounts.publishProfilePhoto";
const REMOVE: &str = "accounts.removeProfilePhoto";
const GET_ACCOUNT_INFO: &str = "accounts.getAccountInfo";
const FINALIZE: &str = "accounts.finalizeRegistration";
const GET_POLICIES: &str = "accounts.getPolicies";
const SET_POLICIES: &str = "accounts.setPolicies";

type Convert<T> = fn(&Envelope) -> Result<T, ApiError>;

/// Gigya parameters naming the account: `UID` and/or `regToken` as given (the core checks
/// that there is exactly one).
fn identity(uid: Option<String>, reg_token: Option<String>) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(uid) = uid {
        m.insert("UID".into(), Value::String(uid));
    }
    if let Some(token) = reg_token {
        m.insert("regToken".into(), Value::String(token));
    }
    m
}

fn from_envelope<T>(r: &Envelope, convert: Convert<T>) -> Result<T, ApiError> {
    match ApiError::from_envelope(r) {
        Some(e) => Err(e),
        None => convert(r),
    }
}

fn core_result<T, U: From<T>>(r: Result<T, avatarium::Error>) -> Result<U, ApiError> {
    r.map(U::from).map_err(|e| ApiError::from_core(&e))
}

/// `avatarium._native.Client`: the engine on the configured stores. Thread-safe; one
/// client serves any number of threads and asyncio tasks at once.
#[pyclass(frozen, module = "avatarium._native", name = "Client")]
pub struct Client {
    inner: RwLock<Option<avatarium::Client>>,
}

impl Client {
    fn core(&self) -> PyResult<avatarium::Client> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| PyRuntimeError::new_err("the avatarium Client is closed"))
    }

    fn run<T: Send + 'static>(
        &self,
        py: Python<'_>,
        method: &'static str,
        params: Map<String, Value>,
        convert: Convert<T>,
    ) -> PyResult<T> {
        let core = self.core()?;
        let params = Value::Object(params);
        let response =
            runtime::block_on(
                py,
                async move { core.call(method, &params).await.envelope() },
            )?;
        from_envelope(&response, convert).or_raise(py)
    }

    fn run_async<'py, T>(
        &self,
        py: Python<'py>,
        method: &'static str,
        params: Map<String, Value>,
        convert: Convert<T>,
    ) -> PyResult<Bound<'py, PyAny>>
    where
        T: for<'a> IntoPyObject<'a> + Send + 'static,
    {
        let core = self.core()?;
        let params = Value::Object(params);
        runtime::future_into_py(py, async move {
            let response = core.call(method, &params).await.envelope();
            Ok(Outcome(from_envelope(&response, convert)))
        })
    }
}

fn import_params(
    url: String,
    uid: Option<String>,
    reg_token: Option<String>,
    publish: bool,
) -> Map<String, Value> {
    let mut m = identity(uid, reg_token);
    m.insert("url".into(), Value::String(url));
    m.insert("publish".into(), Value::Bool(publish));
    m
}

fn set_params(
    photo_bytes: &[u8],
    uid: Option<String>,
    reg_token: Option<String>,
    publish: bool,
) -> Map<String, Value> {
    let mut m = identity(uid, reg_token);
    let encoded = base64::engine::general_purpose::STANDARD.encode(photo_bytes);
    m.insert("photoBytes".into(), Value::String(encoded));
    m.insert("publish".into(), Value::Bool(publish));
    m
}

fn finalize_params(reg_token: String) -> Map<String, Value> {
    identity(None, Some(reg_token))
}

fn policy_params(width: Option<i64>, height: Option<i64>) -> Map<String, Value> {
    let mut policy = Map::new();
    if let Some(w) = width {
        policy.insert("thumbnailWidth".into(), Value::from(w));
    }
    if let Some(h) = height {
        policy.insert("thumbnailHeight".into(), Value::from(h));
    }
    let mut m = Map::new();
    m.insert("profilePhoto".into(), Value::Object(policy));
    m
}

#[pymethods]
impl Client {
    /// Open a client: `settings` are SPEC.md config keys (a dict), or `config_file` a TOML
    /// file; `use_env` overlays `AVATARIUM_<KEY>` variables.
    #[new]
    #[pyo3(signature = (settings=None, config_file=None, use_env=false))]
    fn new(
        py: Python<'_>,
        settings: Option<&Bound<'_, PyDict>>,
        config_file: Option<PathBuf>,
        use_env: bool,
    ) -> PyResult<Self> {
        let settings = Settings::extract(settings, config_file, use_env)?;
        let opened = runtime::block_on(py, async move {
            let config = settings.into_config()?;
            avatarium::Client::open(config).await
        })?;
        Ok(Client {
            inner: RwLock::new(Some(opened.or_raise(py)?)),
        })
    }

    /// Close the client: calls in flight end at once (`BusyError`, "The client is
    /// closed") and their decodes are cancelled; returns when that work has stopped (at most
    /// ~2 s, the GIL released meanwhile). Later calls raise `RuntimeError`. Idempotent.
    fn close(&self, py: Python<'_>) {
        let taken = self
            .inner
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(core) = taken {
            let closing = core.clone();
            // A close that timed out, or a runtime already shut down, leaves nothing to do.
            let _ = runtime::block_on(py, async move { closing.close().await });
            runtime::drop_in_runtime(core);
        }
    }

    #[getter]
    fn closed(&self) -> bool {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    /// The Gigya-compatible form: the response envelope as a dict. Never raises for API
    /// errors (they are in `errorCode`); raises `TypeError` for parameters that are not JSON.
    #[pyo3(signature = (method, params=None))]
    fn call<'py>(
        &self,
        py: Python<'py>,
        method: String,
        params: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let params = params
            .map(envelope::to_json)
            .transpose()?
            .unwrap_or(Value::Null);
        let core = self.core()?;
        let response =
            runtime::block_on(
                py,
                async move { core.call(&method, &params).await.envelope() },
            )?;
        envelope::to_py(py, &response.into_value())
    }

    #[pyo3(signature = (method, params=None))]
    fn call_async<'py>(
        &self,
        py: Python<'py>,
        method: String,
        params: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let params = params
            .map(envelope::to_json)
            .transpose()?
            .unwrap_or(Value::Null);
        let core = self.core()?;
        runtime::future_into_py(py, async move {
            Ok(Json(core.call(&method, &params).await.into_value()))
        })
    }

    #[pyo3(signature = (url, *, uid=None, reg_token=None, publish=false))]
    fn import_profile_photo(
        &self,
        py: Python<'_>,
        url: String,
        uid: Option<String>,
        reg_token: Option<String>,
        publish: bool,
    ) -> PyResult<ImportResult> {
        let params = import_params(url, uid, reg_token, publish);
        self.run(py, IMPORT, params, ImportResult::from_envelope)
    }

    #[pyo3(signature = (url, *, uid=None, reg_token=None, publish=false))]
    fn import_profile_photo_async<'py>(
        &self,
        py: Python<'py>,
        url: String,
        uid: Option<String>,
        reg_token: Option<String>,
        publish: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let params = import_params(url, uid, reg_token, publish);
        self.run_async(py, IMPORT, params, ImportResult::from_envelope)
    }

    #[pyo3(signature = (photo_bytes, *, uid=None, reg_token=None, publish=false))]
    fn set_profile_photo(
        &self,
        py: Python<'_>,
        photo_bytes: &[u8],
        uid: Option<String>,
        reg_token: Option<String>,
        publish: bool,
    ) -> PyResult<ImportResult> {
        let params = set_params(photo_bytes, uid, reg_token, publish);
        self.run(py, SET, params, ImportResult::from_envelope)
    }

    #[pyo3(signature = (photo_bytes, *, uid=None, reg_token=None, publish=false))]
    fn set_profile_photo_async<'py>(
        &self,
        py: Python<'py>,
        photo_bytes: &[u8],
        uid: Option<String>,
        reg_token: Option<String>,
        publish: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let params = set_params(photo_bytes, uid, reg_token, publish);
        self.run_async(py, SET, params, ImportResult::from_envelope)
    }

    #[pyo3(signature = (*, uid=None, reg_token=None))]
    fn publish_profile_photo(
        &self,
        py: Python<'_>,
        uid: Option<String>,
        reg_token: Option<String>,
    ) -> PyResult<PhotoUrls> {
        self.run(
            py,
            PUBLISH,
            identity(uid, reg_token),
            PhotoUrls::from_envelope,
        )
    }

    #[pyo3(signature = (*, uid=None, reg_token=None))]
    fn publish_profile_photo_async<'py>(
        &self,
        py: Python<'py>,
        uid: Option<String>,
        reg_token: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.run_async(
            py,
            PUBLISH,
            identity(uid, reg_token),
            PhotoUrls::from_envelope,
        )
    }

    #[pyo3(signature = (*, uid=None, reg_token=None))]
    fn remove_profile_photo(
        &self,
        py: Python<'_>,
        uid: Option<String>,
        reg_token: Option<String>,
    ) -> PyResult<String> {
        self.run(py, REMOVE, identity(uid, reg_token), uid_from_envelope)
    }

    #[pyo3(signature = (*, uid=None, reg_token=None))]
    fn remove_profile_photo_async<'py>(
        &self,
        py: Python<'py>,
        uid: Option<String>,
        reg_token: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.run_async(py, REMOVE, identity(uid, reg_token), uid_from_envelope)
    }

    #[pyo3(signature = (*, uid=None, reg_token=None))]
    fn get_account_info(
        &self,
        py: Python<'_>,
        uid: Option<String>,
        reg_token: Option<String>,
    ) -> PyResult<AccountInfo> {
        self.run(
            py,
            GET_ACCOUNT_INFO,
            identity(uid, reg_token),
            AccountInfo::from_envelope,
        )
    }

    #[pyo3(signature = (*, uid=None, reg_token=None))]
    fn get_account_info_async<'py>(
        &self,
        py: Python<'py>,
        uid: Option<String>,
        reg_token: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.run_async(
            py,
            GET_ACCOUNT_INFO,
            identity(uid, reg_token),
            AccountInfo::from_envelope,
        )
    }

    fn init_registration(&self, py: Python<'_>) -> PyResult<Registration> {
        let core = self.core()?;
        let result = runtime::block_on(py, async move { core.init_registration().await })?;
        core_result(result).or_raise(py)
    }

    fn init_registration_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        runtime::future_into_py(py, async move {
            Ok(Outcome(core_result::<_, Registration>(
                core.init_registration().await,
            )))
        })
    }

    fn finalize_registration(&self, py: Python<'_>, reg_token: String) -> PyResult<AccountInfo> {
        self.run(
            py,
            FINALIZE,
            finalize_params(reg_token),
            AccountInfo::from_envelope,
        )
    }

    fn finalize_registration_async<'py>(
        &self,
        py: Python<'py>,
        reg_token: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.run_async(
            py,
            FINALIZE,
            finalize_params(reg_token),
            AccountInfo::from_envelope,
        )
    }

    fn get_policies(&self, py: Python<'_>) -> PyResult<Policies> {
        self.run(py, GET_POLICIES, Map::new(), Policies::from_envelope)
    }

    fn get_policies_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.run_async(py, GET_POLICIES, Map::new(), Policies::from_envelope)
    }

    /// Omitted sizes keep their current values.
    #[pyo3(signature = (*, thumbnail_width=None, thumbnail_height=None))]
    fn set_policies(
        &self,
        py: Python<'_>,
        thumbnail_width: Option<i64>,
        thumbnail_height: Option<i64>,
    ) -> PyResult<Policies> {
        let params = policy_params(thumbnail_width, thumbnail_height);
        self.run(py, SET_POLICIES, params, Policies::from_envelope)
    }

    #[pyo3(signature = (*, thumbnail_width=None, thumbnail_height=None))]
    fn set_policies_async<'py>(
        &self,
        py: Python<'py>,
        thumbnail_width: Option<i64>,
        thumbnail_height: Option<i64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let params = policy_params(thumbnail_width, thumbnail_height);
        self.run_async(py, SET_POLICIES, params, Policies::from_envelope)
    }

    /// Delete expired pending photos and unreferenced blobs.
    fn purge(&self, py: Python<'_>) -> PyResult<PurgeReport> {
        let core = self.core()?;
        let result = runtime::block_on(py, async move { core.purge().await })?;
        core_result(result).or_raise(py)
    }

    fn purge_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core()?;
        runtime::future_into_py(py, async move {
            Ok(Outcome(core_result::<_, PurgeReport>(core.purge().await)))
        })
    }
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
