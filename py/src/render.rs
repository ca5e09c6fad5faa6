//! A core [`Response`] rendered into Python: the typed result classes (or the exception of
//! the response's error, with its `callId`), or the Gigya envelope as a dict.

use avatarium::{Error, Output, Response};
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::envelope;
use crate::error::ApiError;
use crate::types::{AccountInfo, ImportResult, PhotoUrls, Policies, PurgeReport, Registration};

/// A response and the form its caller wants. Converted where the GIL is held (for
/// awaitables, pyo3-async-runtimes converts results on the event loop's thread).
pub enum Answer {
    /// The typed methods: the result class, or the error raised.
    Typed(Response),
    /// The generic `call`: the envelope, errors included.
    Envelope(Response),
}

impl<'py> IntoPyObject<'py> for Answer {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Answer::Envelope(response) => envelope::to_py(py, &response.into_value()),
            Answer::Typed(response) => {
                let call_id = response.call_id().to_owned();
                match response.into_result() {
                    Ok(output) => output_to_py(py, output),
                    Err(e) => Err(ApiError::new(&e, Some(&call_id)).into_pyerr(py)),
                }
            }
        }
    }
}

fn output_to_py(py: Python<'_>, output: Output) -> PyResult<Bound<'_, PyAny>> {
    Ok(match output {
        Output::Imported(r) => ImportResult::from(r).into_pyobject(py)?.into_any(),
        Output::Published { urls, .. } => PhotoUrls::from(urls).into_pyobject(py)?.into_any(),
        Output::Removed { uid } => PyString::new(py, &uid).into_any(),
        Output::Account(a) => AccountInfo::from(a).into_pyobject(py)?.into_any(),
        Output::Registration(r) => Registration::from(r).into_pyobject(py)?.into_any(),
        Output::Policies(p) => Policies::from(p).into_pyobject(py)?.into_any(),
        Output::Purged(r) => PurgeReport::from(r).into_pyobject(py)?.into_any(),
        // A result a newer core added and this build does not render.
        _ => {
            let e = Error::internal("a result this binding does not know");
            return Err(ApiError::new(&e, None).into_pyerr(py));
        }
    })
}
