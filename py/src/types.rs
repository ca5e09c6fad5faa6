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

/// One file of a published photo (`profile.renditions`): the photo, or its thumbnail at
/// one scale, for `srcset` and friends.
#[pyclass(frozen, eq, hash, get_all, from_py_object, module = "avatarium")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Rendition {
    /// `"photo"` or `"thumbnail"`.
    pub kind: String,
    /// `"jpeg"` or `"png"`.
    pub format: String,
    pub width: u32,
    pub height: u32,
    pub scale: u32,
    pub url: String,
}

#[pymethods]
impl Rendition {
    #[new]
    fn new(kind: String, format: String, width: u32, height: u32, scale: u32, url: String) -> Self {
        Rendition {
            kind,
            format,
            width,
            height,
            scale,
            url,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Rendition(kind={}, format={}, width={}, height={}, scale={}, url={})",
            repr_str(py, &self.kind)?,
            repr_str(py, &self.format)?,
            self.width,
            self.height,
            self.scale,
            repr_str(py, &self.url)?
        ))
    }
}

impl From<avatarium::Rendition> for Rendition {
    fn from(r: avatarium::Rendition) -> Self {
        Rendition {
            kind: r.kind.name().to_owned(),
            format: r.format.name().to_owned(),
            width: r.width,
            height: r.height,
            scale: r.scale,
            url: r.url,
        }
    }
}

fn renditions(urls: Option<&mut avatarium::PhotoUrls>) -> Vec<Rendition> {
    urls.map(|u| std::mem::take(&mut u.renditions))
        .unwrap_or_default()
        .into_iter()
        .map(Rendition::from)
        .collect()
}

/// `, renditions=[…]` for a repr, or nothing when there are none (reprs stay short).
fn repr_renditions(py: Python<'_>, list: &[Rendition]) -> PyResult<String> {
    if list.is_empty() {
        return Ok(String::new());
    }
    let items = list
        .iter()
        .map(|r| r.__repr__(py))
        .collect::<PyResult<Vec<_>>>()?;
    Ok(format!(", renditions=[{}]", items.join(", ")))
}

/// An import or upload: the account's UID, and the URLs when it was published at once.
#[pyclass(frozen, eq, hash, get_all, module = "avatarium")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ImportResult {
    pub uid: String,
    pub photo_url: Option<String>,
    pub thumbnail_url: Option<String>,
    /// Every file of the photo when it was published (empty otherwise).
    pub renditions: Vec<Rendition>,
}

#[pymethods]
impl ImportResult {
    #[new]
    #[pyo3(signature = (uid, photo_url=None, thumbnail_url=None, renditions=Vec::new()))]
    fn new(
        uid: String,
        photo_url: Option<String>,
        thumbnail_url: Option<String>,
        renditions: Vec<Rendition>,
    ) -> Self {
        ImportResult {
            uid,
            photo_url,
            thumbnail_url,
            renditions,
        }
    }

    /// Whether the photo was published (else it is pending).
    #[getter]
    fn published(&self) -> bool {
        self.photo_url.is_some()
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "ImportResult(uid={}, photo_url={}, thumbnail_url={}{})",
            repr_str(py, &self.uid)?,
            repr_opt(py, self.photo_url.as_deref())?,
            repr_opt(py, self.thumbnail_url.as_deref())?,
            repr_renditions(py, &self.renditions)?
        ))
    }
}

impl From<avatarium::ImportResult> for ImportResult {
    fn from(mut r: avatarium::ImportResult) -> Self {
        let renditions = renditions(r.published.as_mut());
        let (photo_url, thumbnail_url) = match r.published {
            Some(u) => (Some(u.photo_url), Some(u.thumbnail_url)),
            None => (None, None),
        };
        ImportResult {
            uid: r.uid,
            photo_url,
            thumbnail_url,
            renditions,
        }
    }
}

/// The published photo's URLs (`accounts.publishProfilePhoto`).
#[pyclass(frozen, eq, hash, get_all, module = "avatarium")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhotoUrls {
    pub photo_url: String,
    pub thumbnail_url: String,
    /// Every file of the photo (empty for one published before renditions existed).
    pub renditions: Vec<Rendition>,
}

#[pymethods]
impl PhotoUrls {
    #[new]
    #[pyo3(signature = (photo_url, thumbnail_url, renditions=Vec::new()))]
    fn new(photo_url: String, thumbnail_url: String, renditions: Vec<Rendition>) -> Self {
        PhotoUrls {
            photo_url,
            thumbnail_url,
            renditions,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "PhotoUrls(photo_url={}, thumbnail_url={}{})",
            repr_str(py, &self.photo_url)?,
            repr_str(py, &self.thumbnail_url)?,
            repr_renditions(py, &self.renditions)?
        ))
    }
}

impl From<avatarium::PhotoUrls> for PhotoUrls {
    fn from(mut u: avatarium::PhotoUrls) -> Self {
        PhotoUrls {
            renditions: renditions(Some(&mut u)),
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
    /// Every file of the published photo (empty when none, or published before
    /// renditions existed).
    pub renditions: Vec<Rendition>,
}

#[pymethods]
impl AccountInfo {
    #[new]
    #[pyo3(signature = (uid, is_registered, photo_url=None, thumbnail_url=None, renditions=Vec::new()))]
    fn new(
        uid: String,
        is_registered: bool,
        photo_url: Option<String>,
        thumbnail_url: Option<String>,
        renditions: Vec<Rendition>,
    ) -> Self {
        AccountInfo {
            uid,
            is_registered,
            photo_url,
            thumbnail_url,
            renditions,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "AccountInfo(uid={}, is_registered={}, photo_url={}, thumbnail_url={}{})",
            repr_str(py, &self.uid)?,
            if self.is_registered { "True" } else { "False" },
            repr_opt(py, self.photo_url.as_deref())?,
            repr_opt(py, self.thumbnail_url.as_deref())?,
            repr_renditions(py, &self.renditions)?
        ))
    }
}

impl From<avatarium::AccountInfo> for AccountInfo {
    fn from(mut a: avatarium::AccountInfo) -> Self {
        let renditions = renditions(a.photo.as_mut());
        let (photo_url, thumbnail_url) = match a.photo {
            Some(u) => (Some(u.photo_url), Some(u.thumbnail_url)),
            None => (None, None),
        };
        AccountInfo {
            uid: a.uid,
            is_registered: a.is_registered,
            photo_url,
            thumbnail_url,
            renditions,
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

/// The site policy (`profilePhoto` part): the thumbnail size, crop and scales.
#[pyclass(frozen, eq, hash, get_all, module = "avatarium")]
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Policies {
    pub thumbnail_width: u32,
    pub thumbnail_height: u32,
    /// `"center"` or `"attention"`.
    pub thumbnail_crop: String,
    /// Ascending, 1 first.
    pub thumbnail_scales: Vec<u32>,
}

#[pymethods]
impl Policies {
    #[new]
    #[pyo3(signature = (thumbnail_width=64, thumbnail_height=64, thumbnail_crop="center", thumbnail_scales=vec![1]))]
    fn new(
        thumbnail_width: u32,
        thumbnail_height: u32,
        thumbnail_crop: &str,
        thumbnail_scales: Vec<u32>,
    ) -> Self {
        Policies {
            thumbnail_width,
            thumbnail_height,
            thumbnail_crop: thumbnail_crop.to_owned(),
            thumbnail_scales,
        }
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let scales: Vec<String> = self.thumbnail_scales.iter().map(u32::to_string).collect();
        Ok(format!(
            "Policies(thumbnail_width={}, thumbnail_height={}, thumbnail_crop={}, thumbnail_scales=[{}])",
            self.thumbnail_width,
            self.thumbnail_height,
            repr_str(py, &self.thumbnail_crop)?,
            scales.join(", ")
        ))
    }
}

impl From<avatarium::Policies> for Policies {
    fn from(p: avatarium::Policies) -> Self {
        Policies {
            thumbnail_width: p.thumbnail_width,
            thumbnail_height: p.thumbnail_height,
            thumbnail_crop: p.thumbnail_crop.name().to_owned(),
            thumbnail_scales: p.thumbnail_scales.to_vec(),
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
