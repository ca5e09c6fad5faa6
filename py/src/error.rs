//! Python exceptions for the core's errors (STYLE.md §4).
//!
//! One package base, `ProfilePhotoError(Exception)`, and one subclass per core [`ErrorKind`],
//! derived from `ErrorKind::ALL`: the class name from the kind's stable `code()`
//! (`MISSING_PARAMETER` → `MissingParameterError`), the docstring from its Gigya code and
//! message, and the fitting built-in base from its HTTP status. Every instance carries
//! `error_code`, `status_code`, `error_message`, `details`, `call_id` and `code`.

use avatarium::{Error, ErrorKind};
use pyo3::create_exception;
use pyo3::exceptions::{
    PyException, PyPermissionError, PyRuntimeError, PyTimeoutError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};
use pyo3::BoundObject;

create_exception!(
    avatarium,
    ProfilePhotoError,
    PyException,
    "Base class of every avatarium API error. Attributes: error_code (Gigya errorCode), \
     status_code, error_message, details (errorDetails), call_id (None when no envelope was \
     made), code (stable SCREAMING_SNAKE name)."
);

/// `MISSING_PARAMETER` → `MissingParameterError`; a name Python's built-ins already use
/// (`TimeoutError`) gets a `Request` prefix so the class does not shadow the built-in.
fn class_name(py: Python<'_>, kind: ErrorKind) -> PyResult<String> {
    let mut name = String::new();
    for word in kind.code().split('_') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            name.push(first);
            name.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    name.push_str("Error");
    if py.import("builtins")?.hasattr(name.as_str())? {
        name.insert_str(0, "Request");
    }
    Ok(name)
}

/// The built-in a kind's class also inherits, by what its HTTP status says about the call:
/// the caller's values (400, 413), its rights (403), a deadline (504).
fn builtin_base(py: Python<'_>, kind: ErrorKind) -> Option<Bound<'_, PyType>> {
    match kind.status_code() {
        400 | 413 => Some(py.get_type::<PyValueError>()),
        403 => Some(py.get_type::<PyPermissionError>()),
        504 => Some(py.get_type::<PyTimeoutError>()),
        _ => None,
    }
}

/// Kind → (class name, class), built once from `ErrorKind::ALL`.
type Classes = Vec<(ErrorKind, String, Py<PyType>)>;

static CLASS_OBJECTS: PyOnceLock<Classes> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&Classes> {
    CLASS_OBJECTS.get_or_try_init(py, || {
        let base = py.get_type::<ProfilePhotoError>();
        let type_type = py.get_type::<PyType>();
        ErrorKind::ALL
            .into_iter()
            .map(|kind| {
                let name = class_name(py, kind)?;
                let bases = match builtin_base(py, kind) {
                    Some(extra) => PyTuple::new(py, [base.clone(), extra])?,
                    None => PyTuple::new(py, [base.clone()])?,
                };
                let namespace = PyDict::new(py);
                namespace.set_item("__module__", "avatarium")?;
                let doc = format!("{}: {}.", kind.error_code(), kind.message());
                namespace.set_item("__doc__", doc)?;
                let class = type_type
                    .call1((name.as_str(), bases, namespace))?
                    .cast_into::<PyType>()?;
                Ok((kind, name, class.unbind()))
            })
            .collect()
    })
}

/// The class for a kind (the base for kinds newer than this build).
fn class_for(py: Python<'_>, kind: ErrorKind) -> PyResult<Bound<'_, PyType>> {
    let found = classes(py)?
        .iter()
        .find(|(k, ..)| *k == kind)
        .map(|(.., c)| c.bind(py).clone());
    Ok(found.unwrap_or_else(|| py.get_type::<ProfilePhotoError>()))
}

/// Add the base and every subclass to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ProfilePhotoError", py.get_type::<ProfilePhotoError>())?;
    for (_, name, class) in classes(py)? {
        m.add(name.as_str(), class.bind(py))?;
    }
    Ok(())
}

/// A core error in owned form, so it can cross threads and become a Python exception
/// later, where the GIL is held.
#[derive(Debug, Clone)]
pub struct ApiError {
    kind: ErrorKind,
    details: String,
    /// The response's `callId`; `None` for errors no call answered (opening a client).
    call_id: Option<String>,
    /// The core error's `source()` chain, outermost first (becomes `__cause__`).
    causes: Vec<String>,
}

impl ApiError {
    pub fn new(err: &Error, call_id: Option<&str>) -> Self {
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            causes.push(s.to_string());
            source = s.source();
        }
        ApiError {
            kind: err.kind(),
            details: err.details().to_string(),
            call_id: call_id.map(str::to_owned),
            causes,
        }
    }

    /// The Python exception, with its attributes and `__cause__` chain.
    pub fn into_pyerr(self, py: Python<'_>) -> PyErr {
        self.build(py).unwrap_or_else(|e| e)
    }

    fn build(self, py: Python<'_>) -> PyResult<PyErr> {
        let kind = self.kind;
        let class = class_for(py, kind)?;
        let text = format!(
            "{} ({}): {}",
            kind.message(),
            kind.error_code(),
            self.details
        );
        let exc = class.call1((text,))?;
        exc.setattr("error_code", kind.error_code())?;
        exc.setattr("status_code", kind.status_code())?;
        exc.setattr("error_message", kind.message())?;
        exc.setattr("details", &self.details)?;
        exc.setattr("call_id", &self.call_id)?;
        exc.setattr("code", kind.code())?;
        let err = PyErr::from_value(exc);
        let mut chain: Option<PyErr> = None;
        for cause in self.causes.iter().rev() {
            let link = PyRuntimeError::new_err(cause.clone());
            link.set_cause(py, chain.take());
            chain = Some(link);
        }
        if chain.is_some() {
            err.set_cause(py, chain);
        }
        Ok(err)
    }
}

/// `Result<T, avatarium::Error>` (no call answered it: no `callId`) → `PyResult<T>` where
/// the GIL is held.
pub trait OrRaise<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> OrRaise<T> for Result<T, Error> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| ApiError::new(&e, None).into_pyerr(py))
    }
}

/// A result whose error becomes a Python exception only when it is converted (on the
/// thread that holds the GIL: pyo3-async-runtimes converts results there).
pub struct Outcome<T>(pub Result<T, ApiError>);

impl<'py, T> IntoPyObject<'py> for Outcome<T>
where
    T: IntoPyObject<'py>,
{
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self.0 {
            Ok(value) => value
                .into_pyobject(py)
                .map(|v| v.into_any().into_bound())
                .map_err(Into::into),
            Err(e) => Err(e.into_pyerr(py)),
        }
    }
}
