//! Storage behind two small traits: metadata ([`MetaStore`]) and blobs ([`BlobStore`]).
//! Nothing above this module knows which implementation runs.
//!
//! Crash safety: callers write blobs before the metadata that points at them, so a crash
//! leaves at worst unreferenced blobs, which [`crate::Client::purge`] removes.

mod blobs;
mod sql;

use std::collections::HashSet;

use bytes::Bytes;

pub use blobs::ObjectBlobStore;
pub use sql::SqlMetaStore;

use crate::error::Result;

/// A processed photo as the metadata records it: blob keys, never caller text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoRecord {
    pub photo_key: String,
    pub thumb_key: String,
    pub thumb_width: u32,
    pub thumb_height: u32,
    pub created_ms: i64,
}

/// One account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub uid: String,
    pub is_registered: bool,
    pub created_ms: i64,
    /// The published photo: `(photo_key, thumb_key)`.
    pub published: Option<(String, String)>,
    /// The pending (temporary) photo, expired or not: callers check the TTL.
    pub pending: Option<PhotoRecord>,
}

/// Account and photo metadata. Every method is one atomic statement or transaction, so
/// concurrent callers (threads, processes, machines) never see half an update.
#[async_trait::async_trait]
pub trait MetaStore: Send + Sync + std::fmt::Debug {
    /// Create an account; `false` if the UID already exists.
    async fn create_account(&self, uid: &str, registered: bool, now_ms: i64) -> Result<bool>;

    /// Create the account when absent (trusted server-side UID calls).
    async fn ensure_account(&self, uid: &str, now_ms: i64) -> Result<()>;

    async fn account(&self, uid: &str) -> Result<Option<AccountRecord>>;

    /// Mark registered; `false` when the account is missing or already registered.
    async fn finalize(&self, uid: &str) -> Result<bool>;

    /// Replace the pending photo; `false` when the account is missing.
    async fn set_pending(&self, uid: &str, photo: &PhotoRecord) -> Result<bool>;

    /// Publish `photo` directly (import with `publish=true`) and clear any pending photo;
    /// `false` when the account is missing.
    async fn publish_photo(&self, uid: &str, photo: &PhotoRecord) -> Result<bool>;

    /// Move the pending photo to the profile if it is still the one with `photo_key`,
    /// created at or after `not_before_ms` (the TTL), using `thumb_key` as its thumbnail.
    /// `false` when another call took or replaced it first (two publishes race safely).
    async fn publish_pending(
        &self,
        uid: &str,
        photo_key: &str,
        thumb_key: &str,
        not_before_ms: i64,
    ) -> Result<bool>;

    /// Clear the published photo and any pending one; `false` when the account is missing.
    async fn remove_photos(&self, uid: &str) -> Result<bool>;

    /// The site policy's thumbnail size, if one was set.
    async fn thumbnail_policy(&self) -> Result<Option<(u32, u32)>>;

    async fn set_thumbnail_policy(&self, width: u32, height: u32) -> Result<()>;

    /// Drop pending photos created before `before_ms`; returns how many.
    async fn purge_expired_pending(&self, before_ms: i64) -> Result<u64>;

    /// Every blob key some account points at (pending or published).
    async fn referenced_keys(&self) -> Result<HashSet<String>>;
}

/// One stored blob, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    pub key: String,
    pub last_modified_ms: i64,
}

/// Content-addressed blobs.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Store `bytes` under `key` (idempotent: keys are content hashes).
    async fn put(&self, key: &str, bytes: Bytes) -> Result<()>;

    async fn get(&self, key: &str) -> Result<Bytes>;

    async fn exists(&self, key: &str) -> Result<bool>;

    /// Delete; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<()>;

    async fn list(&self) -> Result<Vec<BlobMeta>>;
}
