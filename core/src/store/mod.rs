//! Storage behind two small traits: metadata ([`MetaStore`]) and blobs ([`BlobStore`]).
//! Nothing above this module knows which implementation runs.
//!
//! Crash safety: callers write blobs before the metadata that points at them, so a crash
//! leaves at worst unreferenced blobs, which [`crate::Client::purge`] removes.

mod blobs;
mod s3;
mod sql;

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;

pub use blobs::ObjectBlobStore;
pub use s3::S3Location;
pub use sql::SqlMetaStore;

use crate::error::{Error, Result};

/// The blob store named by a `blob_store` setting that is a URL other than `file://`:
/// today `s3://bucket[/prefix]?endpoint=…&region=…` (see [`S3Location`]).
pub fn open_blob_store(spec: &str) -> Result<Arc<dyn BlobStore>> {
    if spec.starts_with("s3://") {
        let location = S3Location::parse(spec)?;
        return Ok(Arc::new(ObjectBlobStore::s3(&location)?));
    }
    Err(Error::invalid(
        "blob_store",
        "expected a folder, file://… or s3://bucket?endpoint=…",
    ))
}

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

    /// Whether some account points at blob `key` (pending or published). Asked on every
    /// photo request, so no default: a store answers it with one indexed look-up.
    async fn is_referenced(&self, key: &str) -> Result<bool>;

    /// Record that blob `key` is about to be written (call it before the blob write).
    /// Until `now_ms` is older than the purge cutoff, no purge in any process deletes the
    /// blob, even if it was an orphan with the same content a moment before.
    ///
    /// The default does nothing (stores that do not coordinate purges).
    async fn note_blob_write(&self, key: &str, now_ms: i64) -> Result<()> {
        let _ = (key, now_ms);
        Ok(())
    }

    /// Purge's last step for one blob: delete `key` from `blobs` unless an account points
    /// at it or a write of it was noted at or after `cutoff_ms`. The decision and the
    /// deletion are atomic with respect to [`MetaStore::note_blob_write`] for the same key
    /// in every process sharing the store, so an import that notes its write either
    /// stops the deletion or writes its blob after it. `true` when this call deleted it.
    ///
    /// The default deletes unconditionally (the caller checked a snapshot).
    async fn delete_blob_if_unused(
        &self,
        key: &str,
        cutoff_ms: i64,
        blobs: &dyn BlobStore,
    ) -> Result<bool> {
        let _ = cutoff_ms;
        blobs.delete(key).await?;
        Ok(true)
    }
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

    /// The engine's blobs: keys of the shape it writes (`<sha256 hex>.<ext>`); other
    /// objects sharing the bucket, prefix or folder are not listed, so never purged.
    async fn list(&self) -> Result<Vec<BlobMeta>>;
}
