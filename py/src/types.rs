//! The typed results (core `api/types.rs`): frozen Python classes with keyword
//! constructors, readable reprs, equality and hashing, each made from its core type.

use pyo3::prelude::*;
use pyo3::types::PyString;

fn repr_str(py: Python<'_>, s: &str) -> PyResult<String> {
    Ok(PyString::new(py, s).repr()?.to_str()?.to_owned())
}

fn repr_opt(py: Python<'_>, s: Option<&str>) -> PyResult<String> {
    match s {
        Some(s) => repr_str(py, s),
        None => Ok("None".to_owned()),
    }
}

/// An import or upload: the account's UID, and the URLs when it was published at once.
#[pyclass(frozen, eq, hash, get_all, module = "avatarium")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ImportResult {
    pub uid: String,
    pub photo_url: Option<String>,
    pub thumbnail_url: Option<String>,
}

#[pymethods]
impl ImportResult {
    #[new]
    #[pyo3(signature = (uid, photo_url=None, thumbnail_url=None))]
    fn new(uid: String, photo_url: Option<String>, thumbnail_url: Option<String>) -> Self {
        ImportResult {
            uid,
            photo_url,
            thumbnail_url,
        }
    }

    /// Whether the photo was published (else it is pending).
    #[getter]
    fn published(&self) -> bool {
        self.photo_url.is_some()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "ImportResult(uid={}, photo_url={}, thumbnail_url={})",
            repr_str(py, &self.uid)?,
            repr_opt(py, self.photo_url.as_deref())?,
            repr_opt(py, self.thumbnail_url.as_deref())?
        ))
    }
}

impl From<avatarium::ImportResult> for ImportResult {
    fn from(r: avatarium::ImportResult) -> Self {
        let (photo_url, thumbnail_url) = match r.published {
            Some(u) => (Some(u.photo_url), Some(u.thumbnail_url)),
            None => (None, None),
        };
        ImportResult {
            uid: r.uid,
            photo_url,
            thumbnail_url,
        }
    }
}

/// The published photo's URLs (`accounts.publishProfilePhoto`).
#[pyclass(frozen, eq, hash, get_all, module = "avatarium")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhotoUrls {
    pub photo_url: String,
    pub thumbnail_url: String,
}

#[pymethods]
impl PhotoUrls {
    #[new]
    fn new(photo_url: String, thumbnail_url: String) -> Self {
        PhotoUrls {
            photo_url,
            thumbnail_url,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "PhotoUrls(photo_url={}, thumbnail_url={})",
            repr_str(py, &self.photo_url)?,
            repr_str(py, &self.thumbnail_url)?
        ))
    }
}

impl From<avatarium::PhotoUrls> for PhotoUrls {
    fn from(u: avatarium::PhotoUrls) -> Self {
        PhotoUrls {
            photo_url: u.photo_url,
            thumbnail_url: u.thumbnail_url,
        }
    }
}

/// `accounts.getAccountInfo` / `accounts.finalizeRegistration`: the published photo's URLs
/// are `None` when nothing is published.
#[pyclass(frozen, eq, hash, get_all, module = "avatarium")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AccountInfo {
    pub uid: String,
    pub is_registered: bool,
    pub photo_url: Option<String>,
    pub thumbnail_url: Option<String>,
}

#[pymethods]
impl AccountInfo {
    #[new]
    #[pyo3(signature = (uid, is_registered, photo_url=None, thumbnail_url=None))]
    fn new(
        uid: String,
        is_registered: bool,
        photo_url: Option<String>,
        thumbnail_url: Option<String>,
    ) -> Self {
        AccountInfo {
            uid,
            is_registered,
            photo_url,
            thumbnail_url,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "AccountInfo(uid={}, is_registered={}, photo_url={}, thumbnail_url={})",
            repr_str(py, &self.uid)?,
            if self.is_registered { "True" } else { "False" },
            repr_opt(py, self.photo_url.as_deref())?,
            repr_opt(py, self.thumbnail_url.as_deref())?
        ))
    }
}

impl From<avatarium::AccountInfo> for AccountInfo {
    fn from(a: avatarium::AccountInfo) -> Self {
        let (photo_url, thumbnail_url) = match a.photo {
            Some(u) => (Some(u.photo_url), Some(u.thumbnail_url)),
            None => (None, None),
        };
        AccountInfo {
            uid: a.uid,
            is_registered: a.is_registered,
            photo_url,
            thumbnail_url,
        }
    }
}

/// `accounts.initRegistration`: the new account's UID and its regToken (a credential: the
/// repr does not show it).
#[pyclass(frozen, eq, hash, get_all, module = "avatarium")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Registration {
    pub uid: String,
    pub reg_token: String,
}

#[pymethods]
impl Registration {
    #[new]
    fn new(uid: String, reg_token: String) -> Self {
        Registration { uid, reg_token }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Registration(uid={}, reg_token=<redacted>)",
            repr_str(py, &self.uid)?
        ))
    }
}

impl From<avatarium::Registration> for Registration {
    fn from(r: avatarium::Registration) -> Self {
        Registration {
            uid: r.uid,
            reg_token: r.reg_token,
        }
    }
}

/// The site policy (`profilePhoto` part): the thumbnail size.
#[pyclass(frozen, eq, hash, get_all, module = "avatarium")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Policies {
    pub thumbnail_width: u32,
    pub thumbnail_height: u32,
}

#[pymethods]
impl Policies {
    #[new]
    #[pyo3(signature = (thumbnail_width=64, thumbnail_height=64))]
    fn new(thumbnail_width: u32, thumbnail_height: u32) -> Self {
        Policies {
            thumbnail_width,
            thumbnail_height,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "Policies(thumbnail_width={}, thumbnail_height={})",
            self.thumbnail_width, self.thumbnail_height
        )
    }
}

impl From<avatarium::Policies> for Policies {
    fn from(p: avatarium::Policies) -> Self {
        Policies {
            thumbnail_width: p.thumbnail_width,
            thumbnail_height: p.thumbnail_height,
        }
    }
}

/// What a purge removed.
#[pyclass(frozen, eq, hash, get_all, module = "avatarium")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PurgeReport {
    pub expired_pending: u64,
    pub blobs_deleted: u64,
    pub abandoned_registrations: u64,
}

#[pymethods]
impl PurgeReport {
    #[new]
    #[pyo3(signature = (expired_pending, blobs_deleted, abandoned_registrations = 0))]
    fn new(expired_pending: u64, blobs_deleted: u64, abandoned_registrations: u64) -> Self {
        PurgeReport {
            expired_pending,
            blobs_deleted,
            abandoned_registrations,
        }
    }

    fn __repr__(&self) -> String {
        format!(
            "PurgeReport(expired_pending={}, blobs_deleted={}, abandoned_registrations={})",
            self.expired_pending, self.blobs_deleted, self.abandoned_registrations
        )
    }
}

impl From<avatarium::PurgeReport> for PurgeReport {
    fn from(r: avatarium::PurgeReport) -> Self {
        PurgeReport {
            expired_pending: r.expired_pending,
            blobs_deleted: r.blobs_deleted,
            abandoned_registrations: r.abandoned_registrations,
        }
    }
}
