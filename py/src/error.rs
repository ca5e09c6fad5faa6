//! Python exceptions for the core's errors (STYLE.md §4).
//!
//! One package base, `ProfilePhotoError(Exception)`, and one subclass per core
//! [`ErrorKind`], which also inherits the fitting built-in (`ValueError`, `PermissionError`,
//! `TimeoutError`). The table below is the only place that maps kinds to classes; it is keyed
//! by the kind (never by message text). Every instance carries `error_code`, `status_code`,
//! `error_message`, `details`, `call_id` and `code` (the stable SCREAMING_SNAKE name).

use avatarium::{Envelope, Error, ErrorKind};
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

/// The built-in a class inherits besides `ProfilePhotoError`.
#[derive(Clone, Copy)]
enum Builtin {
    None,
    Value,
    Permission,
    Timeout,
}

/// Kind → (class name, extra built-in base, docstring).
const CLASSES: [(ErrorKind, &str, Builtin, &str); 9] = [
    (
        ErrorKind::MissingParameter,
        "MissingParameterError",
        Builtin::Value,
        "400002: a required parameter is missing.",
    ),
    (
        ErrorKind::InvalidParameter,
        "InvalidParameterError",
        Builtin::Value,
        "400006: a parameter (or setting) has a value that cannot be accepted.",
    ),
    (
        ErrorKind::Unauthorized,
        "UnauthorizedError",
        Builtin::Permission,
        "403005: bad, expired or finalized regToken, or unknown UID.",
    ),
    (
        ErrorKind::InvalidUrl,
        "InvalidUrlError",
        Builtin::None,
        "404004: the URL is refused or cannot be fetched.",
    ),
    (
        ErrorKind::MissingPhoto,
        "MissingPhotoError",
        Builtin::None,
        "409010: nothing pending to publish, or the bytes are not a GIF/PNG/JPEG.",
    ),
    (
        ErrorKind::PhotoTooLarge,
        "PhotoTooLargeError",
        Builtin::Value,
        "413004: over the byte, pixel or side limit.",
    ),
    (
        ErrorKind::Internal,
        "InternalError",
        Builtin::None,
        "500001: storage or internal failure.",
    ),
    (
        ErrorKind::Timeout,
        "RequestTimeoutError",
        Builtin::Timeout,
        "504002: a deadline passed (fetching or processing the photo).",
    ),
    (
        ErrorKind::Busy,
        "BusyError",
        Builtin::None,
        "503001: too many imports are waiting; try again later.",
    ),
];

static CLASS_OBJECTS: PyOnceLock<Vec<(ErrorKind, Py<PyType>)>> = PyOnceLock::new();

fn classes(py: Python<'_>) -> PyResult<&Vec<(ErrorKind, Py<PyType>)>> {
    CLASS_OBJECTS.get_or_try_init(py, || {
        let base = py.get_type::<ProfilePhotoError>();
        let type_type = py.get_type::<PyType>();
        CLASSES
            .iter()
            .map(|&(kind, name, builtin, doc)| {
                let extra = match builtin {
                    Builtin::None => None,
                    Builtin::Value => Some(py.get_type::<PyValueError>()),
                    Builtin::Permission => Some(py.get_type::<PyPermissionError>()),
                    Builtin::Timeout => Some(py.get_type::<PyTimeoutError>()),
                };
                let bases = match extra {
                    Some(extra) => PyTuple::new(py, [base.clone(), extra])?,
                    None => PyTuple::new(py, [base.clone()])?,
                };
                let namespace = PyDict::new(py);
                namespace.set_item("__module__", "avatarium")?;
                namespace.set_item("__doc__", doc)?;
                let class = type_type
                    .call1((name, bases, namespace))?
                    .cast_into::<PyType>()?;
                Ok((kind, class.unbind()))
            })
            .collect()
    })
}

/// The class for a kind (the base for kinds newer than this table).
fn class_for<'py>(py: Python<'py>, kind: Option<ErrorKind>) -> PyResult<Bound<'py, PyType>> {
    let found = kind.and_then(|kind| {
        classes(py)
            .ok()?
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, c)| c.bind(py).clone())
    });
    Ok(found.unwrap_or_else(|| py.get_type::<ProfilePhotoError>()))
}

/// Add the base and every subclass to the module.
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ProfilePhotoError", py.get_type::<ProfilePhotoError>())?;
    for (kind, class) in classes(py)? {
        let name = CLASSES
            .iter()
            .find(|(k, ..)| k == kind)
            .map(|(_, name, ..)| *name)
            .unwrap_or("ProfilePhotoError");
        m.add(name, class.bind(py))?;
    }
    Ok(())
}

/// A core error in owned form, so it can cross threads and become a Python exception
/// later, where the GIL is held.
#[derive(Debug, Clone)]
pub struct ApiError {
    kind: Option<ErrorKind>,
    error_code: u32,
    status_code: u16,
    message: String,
    details: String,
    call_id: Option<String>,
    /// The core error's `source()` chain, outermost first (becomes `__cause__`).
    causes: Vec<String>,
}

impl ApiError {
    /// From a core error (calls that return `Result`, no envelope).
    pub fn from_core(err: &Error) -> Self {
        let mut causes = Vec::new();
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            causes.push(s.to_string());
            source = s.source();
        }
        ApiError {
            kind: Some(err.kind()),
            error_code: err.error_code(),
            status_code: err.status_code(),
            message: err.kind().message().to_string(),
            details: err.details().to_string(),
            call_id: None,
            causes,
        }
    }

    /// From an error envelope; `None` when the envelope says success.
    pub fn from_envelope(r: &Envelope) -> Option<Self> {
        if r.is_ok() {
            return None;
        }
        let text = |key: &str| {
            r.get(key)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_string()
        };
        Some(ApiError {
            kind: r.error_kind(),
            error_code: r.error_code(),
            status_code: r.status_code(),
            message: text("errorMessage"),
            details: text("errorDetails"),
            call_id: Some(r.call_id().to_string()),
            causes: Vec::new(),
        })
    }

    /// A success envelope without a field its method always returns.
    pub fn malformed(r: &Envelope, field: &str) -> Self {
        let kind = ErrorKind::Internal;
        ApiError {
            kind: Some(kind),
            error_code: kind.error_code(),
            status_code: kind.status_code(),
            message: kind.message().to_string(),
            details: format!("The response has no {field}"),
            call_id: Some(r.call_id().to_string()),
            causes: Vec::new(),
        }
    }

    fn code(&self) -> &'static str {
        self.kind.map(ErrorKind::code).unwrap_or("UNKNOWN")
    }

    /// The Python exception, with its attributes and `__cause__` chain.
    pub fn into_pyerr(self, py: Python<'_>) -> PyErr {
        self.build(py).unwrap_or_else(|e| e)
    }

    fn build(self, py: Python<'_>) -> PyResult<PyErr> {
        let class = class_for(py, self.kind)?;
        let text = format!("{} ({}): {}", self.message, self.error_code, self.details);
        let exc = class.call1((text,))?;
        exc.setattr("error_code", self.error_code)?;
        exc.setattr("status_code", self.status_code)?;
        exc.setattr("error_message", &self.message)?;
        exc.setattr("details", &self.details)?;
        exc.setattr("call_id", &self.call_id)?;
        exc.setattr("code", self.code())?;
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

/// `Result<T, avatarium::Error>` → `PyResult<T>` where the GIL is held.
pub trait OrRaise<T> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> OrRaise<T> for Result<T, Error> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| ApiError::from_core(&e).into_pyerr(py))
    }
}

impl<T> OrRaise<T> for Result<T, ApiError> {
    fn or_raise(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| e.into_pyerr(py))
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
