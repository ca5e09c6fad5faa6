//! Typed inputs and outputs of the API methods.

use serde::Serialize;

use crate::pipeline::{OutputFormat, ThumbnailCrop, ThumbnailScales};
use crate::store::RenditionKind;

/// Who a call is about: a trusted server-side `UID`, a `regToken` from
/// `accounts.initRegistration`, or a login session's token (`login_token`, the
/// `cookieValue` of `accounts.notifyLogin`).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Identity {
    Uid(String),
    RegToken(String),
    Session(String),
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identity::Uid(uid) => write!(f, "Uid({uid:?})"),
            // Tokens are credentials: never printed.
            Identity::RegToken(_) => write!(f, "RegToken(<redacted>)"),
            Identity::Session(_) => write!(f, "Session(<redacted>)"),
        }
    }
}

impl Identity {
    pub fn uid(uid: impl Into<String>) -> Self {
        Identity::Uid(uid.into())
    }

    pub fn reg_token(token: impl Into<String>) -> Self {
        Identity::RegToken(token.into())
    }

    pub fn session(token: impl Into<String>) -> Self {
        Identity::Session(token.into())
    }
}

/// The published photo's public URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhotoUrls {
    #[serde(rename = "photoURL")]
    pub photo_url: String,
    #[serde(rename = "thumbnailURL")]
    pub thumbnail_url: String,
    /// Every file of the photo (`profile.renditions`, ours): the photo, the thumbnail at
    /// each scale. Empty for a photo published before renditions existed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub renditions: Vec<Rendition>,
}

/// One file of a published photo, for `srcset` and friends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    pub kind: RenditionKind,
    pub format: OutputFormat,
    pub width: u32,
    pub height: u32,
    /// 1 for the photo and the `thumbnailURL` thumbnail; 2–4: the thumbnail for screens
    /// of that pixel density.
    pub scale: u32,
    pub url: String,
}

impl Rendition {
    /// The rendition as answered: `{kind, format, width, height, scale, url}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "kind": self.kind.name(),
            "format": self.format.name(),
            "width": self.width,
            "height": self.height,
            "scale": self.scale,
            "url": self.url,
        })
    }
}

impl Serialize for Rendition {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

/// The result of an import or upload: the account's UID, and the URLs when it was
/// published at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportResult {
    pub uid: String,
    pub published: Option<PhotoUrls>,
}

/// `accounts.getAccountInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    pub uid: String,
    pub is_registered: bool,
    pub photo: Option<PhotoUrls>,
}

/// `accounts.initRegistration`.
#[derive(Clone, PartialEq, Eq)]
pub struct Registration {
    pub uid: String,
    pub reg_token: String,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("uid", &self.uid)
            .field("reg_token", &"<redacted>")
            .finish()
    }
}

/// `accounts.notifyLogin`: the session the site's page sets as a cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginSession {
    pub uid: String,
    /// `glt_<apiKey>` (the site's token scope).
    pub cookie_name: String,
    /// The session token: the SDK sends it as `login_token`.
    pub cookie_value: String,
}

impl std::fmt::Debug for LoginSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginSession")
            .field("uid", &self.uid)
            .field("cookie_name", &self.cookie_name)
            .field("cookie_value", &"<redacted>")
            .finish()
    }
}

/// The site policy (`profilePhoto` part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policies {
    pub thumbnail_width: u32,
    pub thumbnail_height: u32,
    /// Where the thumbnail's window sits (`thumbnailCrop`: `"center"` or `"attention"`).
    pub thumbnail_crop: ThumbnailCrop,
    /// The thumbnail scales published photos get (`thumbnailScales`; 1 always).
    pub thumbnail_scales: ThumbnailScales,
}

impl Default for Policies {
    fn default() -> Self {
        Policies {
            thumbnail_width: 64,
            thumbnail_height: 64,
            thumbnail_crop: ThumbnailCrop::Center,
            thumbnail_scales: ThumbnailScales::ONE,
        }
    }
}

/// A `setPolicies` call: the fields it sets; `None` keeps the current value. Faces build
/// the crop and scales with [`ThumbnailCrop::from_name`] and [`ThumbnailScales::from_list`],
/// so their rules stay the core's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyChange {
    pub thumbnail_width: Option<u32>,
    pub thumbnail_height: Option<u32>,
    pub thumbnail_crop: Option<ThumbnailCrop>,
    pub thumbnail_scales: Option<ThumbnailScales>,
}

impl Policies {
    /// The 1× thumbnail these policies ask the pipeline for.
    pub fn thumbnail(&self) -> crate::pipeline::Thumbnail {
        crate::pipeline::Thumbnail {
            width: self.thumbnail_width,
            height: self.thumbnail_height,
            crop: self.thumbnail_crop,
        }
    }

    /// These policies with `change` applied.
    pub fn with(self, change: PolicyChange) -> Policies {
        Policies {
            thumbnail_width: change.thumbnail_width.unwrap_or(self.thumbnail_width),
            thumbnail_height: change.thumbnail_height.unwrap_or(self.thumbnail_height),
            thumbnail_crop: change.thumbnail_crop.unwrap_or(self.thumbnail_crop),
            thumbnail_scales: change.thumbnail_scales.unwrap_or(self.thumbnail_scales),
        }
    }
}

/// What a purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PurgeReport {
    #[serde(rename = "expiredPending")]
    pub expired_pending: u64,
    #[serde(rename = "blobsDeleted")]
    pub blobs_deleted: u64,
    /// Accounts from `initRegistration` never finalized, whose regToken has expired and
    /// that hold no published photo (with their pending photo).
    #[serde(rename = "abandonedRegistrations")]
    pub abandoned_registrations: u64,
}
