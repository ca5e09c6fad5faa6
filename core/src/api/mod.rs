//! The API: one typed async method per SPEC.md method, and [`Client::call`], the generic
//! Gigya-style entry point built on them (in `dispatch.rs`).

mod dispatch;
mod lifecycle;
mod limiter;
mod open;
mod served;
mod types;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};

pub use open::ClientBuilder;
pub use types::{
    AccountInfo, Identity, ImportResult, PhotoUrls, Policies, PurgeReport, Registration,
};

use crate::clock::Clock;
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::fetch::Fetcher;
use crate::pipeline::{self, Cancel, Encoded, Limits};
use crate::store::{AccountRecord, BlobStore, MetaStore, PhotoRecord};
use crate::token::TokenKeys;
use lifecycle::{CancelOnDrop, Lifecycle};
use limiter::Limiter;

/// How long [`Client::close`] waits for in-flight work to end after cancelling it.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

/// Thumbnail sizes a policy may set.
const THUMBNAIL_RANGE: std::ops::RangeInclusive<u32> = 1..=1024;

/// The engine. Cheap to clone; all clones share stores, limits and the fetcher.
///
/// It needs a tokio runtime to run on (the caller's); it never starts one of its own.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    fetcher: Fetcher,
    tokens: TokenKeys,
    clock: Arc<dyn Clock>,
    limits: Limits,
    public_base_url: String,
    /// Decode slots: held from the moment the bytes are in hand until the pipeline ends.
    limiter: Limiter,
    /// Fetch slots: held while fetching and while the fetched bytes wait for a decode slot.
    fetches: Limiter,
    life: Lifecycle,
    local_blob_dir: Option<PathBuf>,
}

impl Client {
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The local folder the blobs are kept in, when the blob store is one (the default):
    /// faces that serve the photos themselves (the REST endpoint) read them from there.
    pub fn local_blob_dir(&self) -> Option<&Path> {
        self.inner.local_blob_dir.as_deref()
    }

    fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// `accounts.importProfilePhoto`: fetch the photo at `url`, validate and re-encode it,
    /// keep it as the pending photo, or publish it at once.
    pub async fn import_profile_photo(
        &self,
        who: &Identity,
        url: &str,
        publish: bool,
    ) -> Result<ImportResult> {
        self.inner
            .life
            .track(async {
                let uid = self.resolve_for_write(who).await?;
                // A slow origin holds only a fetch slot, never a decode slot. The fetch slot is
                // kept until the decode slot is ours, so the bytes of fetched imports waiting
                // for a decoder are bounded by max_concurrent_fetches × max_photo_bytes.
                let fetching = self.inner.fetches.acquire().await?;
                let bytes = self.inner.fetcher.fetch(url).await?;
                let permit = self.inner.limiter.acquire().await?;
                drop(fetching);
                self.store_photo(uid, bytes, publish, permit).await
            })
            .await
    }

    /// `accounts.setProfilePhoto` / `accounts.uploadProfilePhoto`: the same from bytes.
    pub async fn set_profile_photo(
        &self,
        who: &Identity,
        bytes: Bytes,
        publish: bool,
    ) -> Result<ImportResult> {
        self.inner
            .life
            .track(async {
                if bytes.len() as u64 > self.inner.limits.max_bytes {
                    return Err(too_many_bytes(
                        bytes.len() as u64,
                        self.inner.limits.max_bytes,
                    ));
                }
                let uid = self.resolve_for_write(who).await?;
                let permit = self.inner.limiter.acquire().await?;
                self.store_photo(uid, bytes, publish, permit).await
            })
            .await
    }

    /// `accounts.publishProfilePhoto`: move the pending photo into the profile.
    pub async fn publish_profile_photo(&self, who: &Identity) -> Result<PhotoUrls> {
        self.inner
            .life
            .track(async {
                let account = self.resolve_existing(who).await?;
                let pending = account
                    .pending
                    .ok_or_else(|| Error::bad_photo("There is no pending photo to publish"))?;
                let not_before = self.now_ms() - ttl_ms(self.inner.config.pending_ttl_secs);
                if pending.created_ms < not_before {
                    return Err(Error::bad_photo("The pending photo has expired"));
                }
                let policy = self.policies().await?;
                let thumb_key = if (pending.thumb_width, pending.thumb_height)
                    == (policy.thumbnail_width, policy.thumbnail_height)
                {
                    pending.thumb_key.clone()
                } else {
                    // The policy changed since the import: trim the stored photo again.
                    let photo = self.inner.blobs.get(&pending.photo_key).await?;
                    let limits = self.inner.limits.clone();
                    let thumb = self
                        .run_pipeline(None, move |cancel| {
                            pipeline::thumbnail_cancellable(
                                &photo,
                                &limits,
                                policy.thumbnail_width,
                                policy.thumbnail_height,
                                cancel,
                            )
                        })
                        .await?;
                    self.put_blob(thumb).await?
                };
                let published = self
                    .inner
                    .meta
                    .publish_pending(&account.uid, &pending.photo_key, &thumb_key, not_before)
                    .await?;
                if !published {
                    // Another call published, replaced or removed it first.
                    return Err(Error::bad_photo("There is no pending photo to publish"));
                }
                Ok(self.urls(&pending.photo_key, &thumb_key))
            })
            .await
    }

    /// `accounts.removeProfilePhoto`: clear the published photo and any pending one.
    pub async fn remove_profile_photo(&self, who: &Identity) -> Result<String> {
        self.inner
            .life
            .track(async {
                let account = self.resolve_existing(who).await?;
                if !self.inner.meta.remove_photos(&account.uid).await? {
                    return Err(Error::unauthorized("Unknown UID"));
                }
                Ok(account.uid)
            })
            .await
    }

    /// `accounts.getAccountInfo`.
    pub async fn get_account_info(&self, who: &Identity) -> Result<AccountInfo> {
        self.inner
            .life
            .track(async {
                let account = self.resolve_existing(who).await?;
                Ok(AccountInfo {
                    photo: account.published.as_ref().map(|(p, t)| self.urls(p, t)),
                    uid: account.uid,
                    is_registered: account.is_registered,
                })
            })
            .await
    }

    /// `accounts.initRegistration`: a new pending account and its regToken.
    pub async fn init_registration(&self) -> Result<Registration> {
        self.inner
            .life
            .track(async {
                let now = self.now_ms();
                let uid = new_uid()?;
                if !self.inner.meta.create_account(&uid, false, now).await? {
                    return Err(Error::internal("UID collision"));
                }
                let expires = now + ttl_ms(self.inner.config.reg_token_ttl_secs);
                Ok(Registration {
                    reg_token: self.inner.tokens.issue(&uid, expires),
                    uid,
                })
            })
            .await
    }

    /// `accounts.finalizeRegistration`: mark the account registered; the token is refused
    /// afterwards.
    pub async fn finalize_registration(&self, reg_token: &str) -> Result<AccountInfo> {
        self.inner
            .life
            .track(async {
                let account = self
                    .resolve_existing(&Identity::RegToken(reg_token.to_string()))
                    .await?;
                if !self.inner.meta.finalize(&account.uid).await? {
                    return Err(Error::unauthorized(
                        "Invalid regToken: registration already finalized",
                    ));
                }
                Ok(AccountInfo {
                    photo: account.published.as_ref().map(|(p, t)| self.urls(p, t)),
                    uid: account.uid,
                    is_registered: true,
                })
            })
            .await
    }

    /// `accounts.getPolicies` (the `profilePhoto` part).
    pub async fn policies(&self) -> Result<Policies> {
        self.inner
            .life
            .track(async {
                Ok(match self.inner.meta.thumbnail_policy().await? {
                    Some((w, h)) => Policies {
                        thumbnail_width: w,
                        thumbnail_height: h,
                    },
                    None => Policies::default(),
                })
            })
            .await
    }

    /// `accounts.setPolicies` (the `profilePhoto` part).
    pub async fn set_policies(&self, policies: Policies) -> Result<Policies> {
        self.inner
            .life
            .track(async {
                for (name, v) in [
                    ("thumbnailWidth", policies.thumbnail_width),
                    ("thumbnailHeight", policies.thumbnail_height),
                ] {
                    if !THUMBNAIL_RANGE.contains(&v) {
                        return Err(Error::invalid(
                            &format!("profilePhoto.{name}"),
                            format!(
                                "must be between {} and {}",
                                THUMBNAIL_RANGE.start(),
                                THUMBNAIL_RANGE.end()
                            ),
                        ));
                    }
                }
                self.inner
                    .meta
                    .set_thumbnail_policy(policies.thumbnail_width, policies.thumbnail_height)
                    .await?;
                Ok(policies)
            })
            .await
    }

    /// Delete expired pending photos and blobs no account points at (older than the
    /// grace period, so an import between its blob write and its metadata commit is safe).
    pub async fn purge(&self) -> Result<PurgeReport> {
        self.inner
            .life
            .track(async {
                let now = self.now_ms();
                let expired_pending = self
                    .inner
                    .meta
                    .purge_expired_pending(now - ttl_ms(self.inner.config.pending_ttl_secs))
                    .await?;
                // Listing before reading the references: a blob written and committed after the
                // listing is either too young to delete or already referenced.
                let blobs = self.inner.blobs.list().await?;
                let referenced = self.inner.meta.referenced_keys().await?;
                let cutoff = now - ttl_ms(self.inner.config.purge_grace_secs);
                let mut blobs_deleted = 0;
                for blob in blobs {
                    if referenced.contains(&blob.key) || blob.last_modified_ms >= cutoff {
                        continue;
                    }
                    // Re-checked under the key's lock: an import in any process may be writing it.
                    if self
                        .inner
                        .meta
                        .delete_blob_if_unused(&blob.key, cutoff, self.inner.blobs.as_ref())
                        .await?
                    {
                        blobs_deleted += 1;
                    }
                }
                tracing::info!(expired_pending, blobs_deleted, "purge done");
                Ok(PurgeReport {
                    expired_pending,
                    blobs_deleted,
                })
            })
            .await
    }

    /// The generic entry point: Gigya-style method name and JSON parameters in, the
    /// response envelope out. Never fails: errors are in the envelope.
    pub async fn call(&self, method: &str, params: &serde_json::Value) -> crate::Response {
        dispatch::call(self, method, params).await
    }

    /// [`Client::purge`] with its report (`expiredPending`, `blobsDeleted`) in a response
    /// envelope, for faces that speak envelopes.
    pub async fn purge_envelope(&self) -> crate::Response {
        dispatch::purge(self).await
    }

    /// Close the client: calls made from now on fail with 503001 ("The client is
    /// closed"), calls in flight end at once with the same error (their fetches are
    /// dropped, their decodes cancelled), and this returns when the cancelled pipeline work
    /// has stopped too, or after a bounded wait (1 s) with 504002 if some has not. Closing
    /// twice is harmless. The stores stay open until the last clone is dropped.
    pub async fn close(&self) -> Result<()> {
        let life = &self.inner.life;
        let start = std::time::Instant::now();
        life.close();
        let calls_ended = life.calls.wait_idle(CLOSE_WAIT).await;
        let work_ended = life
            .work
            .wait_idle(CLOSE_WAIT.saturating_sub(start.elapsed()))
            .await;
        if calls_ended && work_ended {
            Ok(())
        } else {
            tracing::warn!(
                calls = life.calls.count(),
                decodes = life.work.count(),
                "close: work still running after the wait"
            );
            Err(Error::timeout("Work in flight did not stop in time"))
        }
    }

    // ---- internals ----

    /// The UID a write (import/upload) is for. A trusted UID gets a record on first use.
    async fn resolve_for_write(&self, who: &Identity) -> Result<String> {
        match who {
            Identity::Uid(uid) => {
                check_uid(uid)?;
                self.inner.meta.ensure_account(uid, self.now_ms()).await?;
                Ok(uid.clone())
            }
            Identity::RegToken(_) => Ok(self.resolve_existing(who).await?.uid),
        }
    }

    /// The account a call is about; 403005 when unknown, or when the token is bad,
    /// expired or finalized.
    async fn resolve_existing(&self, who: &Identity) -> Result<AccountRecord> {
        match who {
            Identity::Uid(uid) => {
                check_uid(uid)?;
                self.inner
                    .meta
                    .account(uid)
                    .await?
                    .ok_or_else(|| Error::unauthorized("Unknown UID"))
            }
            Identity::RegToken(token) => {
                let claims = self.inner.tokens.verify(token, self.now_ms())?;
                let account = self
                    .inner
                    .meta
                    .account(&claims.uid)
                    .await?
                    .ok_or_else(|| Error::unauthorized("Invalid regToken: unknown account"))?;
                if account.is_registered {
                    return Err(Error::unauthorized(
                        "Invalid regToken: registration already finalized",
                    ));
                }
                Ok(account)
            }
        }
    }

    async fn store_photo(
        &self,
        uid: String,
        bytes: Bytes,
        publish: bool,
        permit: limiter::Permit,
    ) -> Result<ImportResult> {
        let policy = self.policies().await?;
        let limits = self.inner.limits.clone();
        let processed = self
            .run_pipeline(Some(permit), move |cancel| {
                pipeline::process_cancellable(
                    &bytes,
                    &limits,
                    policy.thumbnail_width,
                    policy.thumbnail_height,
                    cancel,
                )
            })
            .await?;
        let (thumb_width, thumb_height) = (processed.thumbnail.width, processed.thumbnail.height);
        // Blobs first, metadata second: a crash in between leaves only orphans for purge.
        let photo_key = self.put_blob(processed.photo).await?;
        let thumb_key = self.put_blob(processed.thumbnail).await?;
        let record = PhotoRecord {
            photo_key,
            thumb_key,
            thumb_width,
            thumb_height,
            created_ms: self.now_ms(),
        };
        let stored = if publish {
            self.inner.meta.publish_photo(&uid, &record).await?
        } else {
            self.inner.meta.set_pending(&uid, &record).await?
        };
        if !stored {
            return Err(Error::unauthorized("Unknown UID"));
        }
        tracing::info!(publish, photo = %record.photo_key, "photo stored");
        Ok(ImportResult {
            uid,
            published: publish.then(|| self.urls(&record.photo_key, &record.thumb_key)),
        })
    }

    /// CPU work off the async threads, with the decode deadline. The work gets a cancel
    /// flag that is set when the deadline fires or this future is dropped (close, a caller
    /// that went away), so it stops at its next check instead of running to its end. The
    /// import permit moves into the blocking task and is released when the task really
    /// ends, so the bound on concurrent decodes (and their memory) holds; the cancel is
    /// what makes that end come soon.
    async fn run_pipeline<T, F>(&self, permit: Option<limiter::Permit>, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Cancel) -> Result<T> + Send + 'static,
    {
        let cancel = Cancel::new();
        let _cancel_on_drop = CancelOnDrop(cancel.clone());
        let alive = self.inner.life.work.enter();
        let task = tokio::task::spawn_blocking(move || {
            let result = work(&cancel);
            drop(permit);
            drop(alive);
            result
        });
        let deadline = Duration::from_millis(self.inner.config.decode_timeout_ms);
        match tokio::time::timeout(deadline, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => Err(Error::internal(join_error)),
            Err(_) => Err(Error::timeout("Processing the photo took too long")),
        }
    }

    async fn put_blob(&self, encoded: Encoded) -> Result<String> {
        let key = format!(
            "{}.{}",
            hex::encode(Sha256::digest(&encoded.bytes)),
            encoded.format.extension()
        );
        // Noted first, so that no purge deletes the key between this write and the
        // metadata that will point at it (the grace period covers that window).
        self.inner.meta.note_blob_write(&key, self.now_ms()).await?;
        self.inner
            .blobs
            .put(&key, Bytes::from(encoded.bytes))
            .await?;
        Ok(key)
    }

    fn urls(&self, photo_key: &str, thumb_key: &str) -> PhotoUrls {
        PhotoUrls {
            photo_url: sanitize_url(&format!("{}{}", self.inner.public_base_url, photo_key)),
            thumbnail_url: sanitize_url(&format!("{}{}", self.inner.public_base_url, thumb_key)),
        }
    }
}

pub(crate) fn too_many_bytes(len: u64, max: u64) -> Error {
    Error::too_large(format!(
        "The photo is {len} bytes; the limit is {max} bytes"
    ))
}

fn ttl_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX / 4)
}

/// UIDs are caller text that ends up in the database: keep them printable and bounded.
fn check_uid(uid: &str) -> Result<()> {
    if uid.len() > 256 || uid.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(
            "UID",
            "must be at most 256 printable characters",
        ));
    }
    Ok(())
}

fn new_uid() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::internal(e.to_string()))?;
    Ok(hex::encode(b))
}

/// Gigya percent-encodes these in stored URL fields.
fn sanitize_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '"' => out.push_str("%22"),
            '\'' => out.push_str("%27"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            _ => out.push(c),
        }
    }
    out
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind, kind.message())
    }
}
