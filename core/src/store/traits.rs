//! The two storage traits and the records they exchange. Every method is required: a
//! default that silently did nothing (or deleted without checking) would be a purge race
//! in any store, or wrapper around one, that forgot it.
//!
//! ```compile_fail,E0046
//! // A wrapper that forwards the account methods but not the purge coordination does
//! // not compile: it must say what `note_blob_write` and `delete_blob_if_unused` do.
//! use avatarium::error::Result;
//! use avatarium::store::{AccountRecord, MetaStore, PhotoRecord, PolicyRecord, RenditionRecord, SqlMetaStore};
//! use std::collections::HashSet;
//!
//! #[derive(Debug)]
//! struct Forgetful(SqlMetaStore);
//!
//! #[async_trait::async_trait]
//! impl MetaStore for Forgetful {
//!     async fn create_account(&self, u: &str, r: bool, n: i64) -> Result<bool> { self.0.create_account(u, r, n).await }
//!     async fn ensure_account(&self, u: &str, n: i64) -> Result<()> { self.0.ensure_account(u, n).await }
//!     async fn account(&self, u: &str) -> Result<Option<AccountRecord>> { self.0.account(u).await }
//!     async fn finalize(&self, u: &str) -> Result<bool> { self.0.finalize(u).await }
//!     async fn set_pending(&self, u: &str, p: &PhotoRecord) -> Result<bool> { self.0.set_pending(u, p).await }
//!     async fn publish_photo(&self, u: &str, p: &PhotoRecord) -> Result<bool> { self.0.publish_photo(u, p).await }
//!     async fn publish_pending(&self, u: &str, p: &str, t: &str, r: &[RenditionRecord], n: i64) -> Result<bool> { self.0.publish_pending(u, p, t, r, n).await }
//!     async fn remove_photos(&self, u: &str) -> Result<bool> { self.0.remove_photos(u).await }
//!     async fn thumbnail_policy(&self) -> Result<Option<PolicyRecord>> { self.0.thumbnail_policy().await }
//!     async fn set_thumbnail_policy(&self, p: &PolicyRecord) -> Result<()> { self.0.set_thumbnail_policy(p).await }
//!     async fn purge_expired_pending(&self, b: i64) -> Result<u64> { self.0.purge_expired_pending(b).await }
//!     async fn purge_abandoned_registrations(&self, b: i64) -> Result<u64> { self.0.purge_abandoned_registrations(b).await }
//!     async fn referenced_keys(&self) -> Result<HashSet<String>> { self.0.referenced_keys().await }
//!     async fn is_referenced(&self, k: &str) -> Result<bool> { self.0.is_referenced(k).await }
//! }
//! ```

use std::collections::HashSet;

use bytes::Bytes;

use crate::error::Result;
use crate::pipeline::{ThumbnailCrop, ThumbnailScales};

/// What a rendition is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RenditionKind {
    /// The photo (`photoURL`).
    Photo,
    /// A thumbnail at one scale (1×: `thumbnailURL`).
    Thumbnail,
}

impl RenditionKind {
    pub const ALL: [RenditionKind; 2] = [RenditionKind::Photo, RenditionKind::Thumbnail];

    /// `"photo"` or `"thumbnail"`, as stored and answered.
    pub fn name(self) -> &'static str {
        match self {
            RenditionKind::Photo => "photo",
            RenditionKind::Thumbnail => "thumbnail",
        }
    }

    pub fn from_name(name: &str) -> Option<RenditionKind> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }
}

/// One stored file of a photo: the photo itself, or one of its thumbnails. Its format is
/// its key's extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenditionRecord {
    pub kind: RenditionKind,
    pub key: String,
    pub width: u32,
    pub height: u32,
    /// 1 for the photo and the `thumbnailURL` thumbnail; 2–4 for high-density thumbnails.
    pub scale: u32,
}

/// A processed photo as the metadata records it: blob keys, never caller text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoRecord {
    pub photo_key: String,
    pub thumb_key: String,
    pub thumb_width: u32,
    pub thumb_height: u32,
    /// The crop its thumbnails were cut with (to know at publish whether they still match
    /// the policy).
    pub thumb_crop: ThumbnailCrop,
    /// Every file of the photo, `photo_key` and `thumb_key` included; empty for photos
    /// stored before renditions existed.
    pub renditions: Vec<RenditionRecord>,
    pub created_ms: i64,
}

/// The site policy as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyRecord {
    pub thumb_width: u32,
    pub thumb_height: u32,
    pub thumb_crop: ThumbnailCrop,
    pub thumb_scales: ThumbnailScales,
}

/// One account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub uid: String,
    pub is_registered: bool,
    pub created_ms: i64,
    /// The published photo: `(photo_key, thumb_key)`.
    pub published: Option<(String, String)>,
    /// The published photo's files (empty when none, or stored before renditions existed).
    pub published_renditions: Vec<RenditionRecord>,
    /// The pending (temporary) photo, expired or not: callers check the TTL.
    pub pending: Option<PhotoRecord>,
}

/// What a logout ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    /// One session (a logout by the session itself).
    One { session_id: String },
    /// Every session of `uid` issued at or before `at_ms` (a logout by the site's server).
    AllOf { uid: String, at_ms: i64 },
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
    /// created at or after `not_before_ms` (the TTL), using `thumb_key` as its thumbnail
    /// and `renditions` as its files (replacing the pending ones in one step).
    /// `false` when another call took or replaced it first (two publishes race safely).
    async fn publish_pending(
        &self,
        uid: &str,
        photo_key: &str,
        thumb_key: &str,
        renditions: &[RenditionRecord],
        not_before_ms: i64,
    ) -> Result<bool>;

    /// Clear the published photo and any pending one, with their renditions; `false` when
    /// the account is missing.
    async fn remove_photos(&self, uid: &str) -> Result<bool>;

    /// The site policy, if one was set.
    async fn thumbnail_policy(&self) -> Result<Option<PolicyRecord>>;

    async fn set_thumbnail_policy(&self, policy: &PolicyRecord) -> Result<()>;

    /// Drop pending photos created before `before_ms`; returns how many.
    async fn purge_expired_pending(&self, before_ms: i64) -> Result<u64>;

    /// Delete accounts never finalized (`create_account(uid, false, …)`) created before
    /// `created_before_ms` and holding no published photo, with their pending photo;
    /// returns how many. Each account is judged and deleted in one statement, so a
    /// finalize or a publish that commits first keeps it.
    async fn purge_abandoned_registrations(&self, created_before_ms: i64) -> Result<u64>;

    /// Every blob key some account points at (pending or published, renditions included).
    async fn referenced_keys(&self) -> Result<HashSet<String>>;

    /// Whether some account points at blob `key` (pending or published, any rendition). Asked on every
    /// photo request, so no default: a store answers it with one indexed look-up.
    async fn is_referenced(&self, key: &str) -> Result<bool>;

    /// Record that sessions ended, in every process sharing the store. `expires_ms` is
    /// when the sessions it ends expire anyway: the record may go then.
    async fn end_sessions(&self, end: &SessionEnd, expires_ms: i64) -> Result<()>;

    /// Whether session `session_id` of `uid`, issued at `issued_ms`, was ended. Asked on
    /// every session call: one indexed look-up.
    async fn session_ended(&self, session_id: &str, uid: &str, issued_ms: i64) -> Result<bool>;

    /// A readiness probe: one trivial query that proves the store answers and holds the
    /// schema this build needs. Callers bound it with a timeout.
    async fn ping(&self) -> Result<()>;

    /// Drop end records whose sessions have expired (`expires_ms` before `now_ms`).
    async fn purge_session_ends(&self, now_ms: i64) -> Result<u64>;

    /// Record that blob `key` is about to be written (called before the blob write).
    /// Until `now_ms` is older than the purge cutoff, no purge in any process deletes the
    /// blob, even if it was an orphan with the same content a moment before.
    ///
    /// No default: a store that did nothing here would let a purge in another process
    /// delete a blob that an import is writing and about to point at. A wrapper forwards
    /// it to the store it wraps.
    async fn note_blob_write(&self, key: &str, now_ms: i64) -> Result<()>;

    /// Purge's last step for one blob: delete `key` from `blobs` unless an account points
    /// at it or a write of it was noted at or after `cutoff_ms`. The decision and the
    /// deletion are atomic with respect to [`MetaStore::note_blob_write`] for the same key
    /// in every process sharing the store, so an import that notes its write either
    /// stops the deletion or writes its blob after it. `true` when this call deleted it.
    ///
    /// No default: deleting on the caller's snapshot alone is the race this method exists
    /// to close. A wrapper forwards it to the store it wraps.
    async fn delete_blob_if_unused(
        &self,
        key: &str,
        cutoff_ms: i64,
        blobs: &dyn BlobStore,
    ) -> Result<bool>;

    /// Batch progress: the recorded rows of input `input_key` with `first <= row <= last`.
    /// One indexed range read per block of rows.
    async fn batch_records(
        &self,
        input_key: &str,
        first: u64,
        last: u64,
    ) -> Result<Vec<BatchRecord>>;

    /// Record a batch row's result, replacing the row's earlier record: one statement, so
    /// a row is either recorded whole or not at all.
    async fn record_batch_row(
        &self,
        input_key: &str,
        record: &BatchRecord,
        now_ms: i64,
    ) -> Result<()>;
}

/// One row of a batch import as its progress records it (see `crate::batch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRecord {
    /// The row's position in its input (0 = the first data row).
    pub row: u64,
    /// A digest of the row's UID and URL: a record is the row's only while it matches.
    pub digest: String,
    /// The row's Gigya `errorCode` (0: imported).
    pub error_code: u32,
    /// `errorDetails` of a failed row.
    pub details: Option<String>,
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

    /// A readiness probe: one cheap request (a look-up of a key that need not exist) that
    /// proves the store answers and the credentials are accepted. Callers bound it with a
    /// timeout.
    async fn ping(&self) -> Result<()>;

    /// The engine's blobs: keys of the shape it writes (`<sha256 hex>.<ext>`); other
    /// objects sharing the bucket, prefix or folder are not listed, so never purged.
    async fn list(&self) -> Result<Vec<BlobMeta>>;
}
