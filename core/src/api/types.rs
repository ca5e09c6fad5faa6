//! Typed inputs and outputs of the API methods.

use serde::Serialize;

/// Who a call is about: a trusted server-side `UID`, or a `regToken` from
/// `accounts.initRegistration`.
#[derive(Clone, PartialEq, Eq)]
pub enum Identity {
    Uid(String),
    RegToken(String),
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Identity::Uid(uid) => write!(f, "Uid({uid:?})"),
            // Tokens are credentials: never printed.
            Identity::RegToken(_) => write!(f, "RegToken(<redacted>)"),
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
}

/// The published photo's public URLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PhotoUrls {
    #[serde(rename = "photoURL")]
    pub photo_url: String,
    #[serde(rename = "thumbnailURL")]
    pub thumbnail_url: String,
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

/// The site policy (`profilePhoto` part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policies {
    pub thumbnail_width: u32,
    pub thumbnail_height: u32,
}

impl Default for Policies {
    fn default() -> Self {
        Policies {
            thumbnail_width: 64,
            thumbnail_height: 64,
        }
    }
}

/// A `setPolicies` call: the fields it sets; `None` keeps the current value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PolicyChange {
    pub thumbnail_width: Option<u32>,
    pub thumbnail_height: Option<u32>,
}

impl Policies {
    /// These policies with `change` applied.
    pub fn with(self, change: PolicyChange) -> Policies {
        Policies {
            thumbnail_width: change.thumbnail_width.unwrap_or(self.thumbnail_width),
            thumbnail_height: change.thumbnail_height.unwrap_or(self.thumbnail_height),
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
}
