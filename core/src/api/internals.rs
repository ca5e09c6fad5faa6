//! What the typed methods share: resolving the account, running the pipeline, storing
//! blobs, public URLs.

use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};

use super::client::Client;
use super::lifecycle::CancelOnDrop;
use super::limiter;
use super::types::{Identity, ImportResult, PhotoUrls, Policies, Rendition};
use crate::error::{Error, Result};
use crate::pipeline::{self, Cancel, Encoded, OutputFormat};
use crate::store::{AccountRecord, PhotoRecord, RenditionKind, RenditionRecord};
use crate::telemetry::{time_stage, Stage};

impl Client {
    /// The UID a write (import/upload) is for. A trusted UID gets a record on first use.
    pub(super) async fn resolve_for_write(&self, who: &Identity) -> Result<String> {
        match who {
            Identity::Uid(uid) => {
                check_uid(uid)?;
                self.inner.meta.ensure_account(uid, self.now_ms()).await?;
                Ok(uid.clone())
            }
            Identity::RegToken(_) | Identity::Session(_) => {
                Ok(self.resolve_existing(who).await?.uid)
            }
        }
    }

    /// The account a call is about; 403005 when unknown, or when the token is bad,
    /// expired, finalized or (a session) ended.
    pub(super) async fn resolve_existing(&self, who: &Identity) -> Result<AccountRecord> {
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
                // The TTL in force bounds every regToken, whatever its own expiry: purge
                // deletes registrations older than it, so one issued under a longer TTL
                // ends here rather than halfway through its flow.
                let ttl = ttl_ms(self.inner.config.reg_token_ttl_secs);
                if account.created_ms < self.now_ms() - ttl {
                    return Err(Error::unauthorized("Invalid regToken: expired"));
                }
                Ok(account)
            }
            Identity::Session(token) => self.session_account(token).await,
        }
    }

    pub(super) async fn store_photo(
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
                pipeline::process_scaled(
                    &bytes,
                    &limits,
                    policy.thumbnail(),
                    policy.thumbnail_scales,
                    cancel,
                )
            })
            .await?;
        let (thumb_width, thumb_height) = (processed.thumbnail.width, processed.thumbnail.height);
        let storing = time_stage(Stage::Store);
        // Blobs first, metadata second: a crash in between leaves only orphans for purge.
        let photo = RenditionRecord {
            kind: RenditionKind::Photo,
            width: processed.photo.width,
            height: processed.photo.height,
            scale: 1,
            key: self.put_blob(processed.photo).await?,
        };
        let mut by_scale = vec![(1, processed.thumbnail)];
        by_scale.extend(processed.scaled_thumbnails);
        let mut renditions = vec![photo];
        renditions.extend(self.put_thumbnails(by_scale).await?);
        let record = PhotoRecord {
            photo_key: renditions[0].key.clone(),
            thumb_key: thumb_key(&renditions)?,
            thumb_width,
            thumb_height,
            thumb_crop: policy.thumbnail_crop,
            renditions,
            created_ms: self.now_ms(),
        };
        let stored = if publish {
            self.inner.meta.publish_photo(&uid, &record).await?
        } else {
            self.inner.meta.set_pending(&uid, &record).await?
        };
        drop(storing);
        if !stored {
            return Err(Error::unauthorized("Unknown UID"));
        }
        tracing::info!(publish, photo = %record.photo_key, "photo stored");
        Ok(ImportResult {
            uid,
            published: publish
                .then(|| self.urls(&record.photo_key, &record.thumb_key, &record.renditions)),
        })
    }

    /// CPU work off the async threads, with the decode deadline. The work gets a cancel
    /// flag that is set when the deadline fires or this future is dropped (close, a caller
    /// that went away), so it stops at its next check instead of running to its end. The
    /// import permit moves into the blocking task and is released when the task really
    /// ends, so the bound on concurrent decodes (and their memory) holds; the cancel is
    /// what makes that end come soon.
    pub(super) async fn run_pipeline<T, F>(
        &self,
        permit: Option<limiter::Permit>,
        work: F,
    ) -> Result<T>
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

    pub(super) async fn put_blob(&self, encoded: Encoded) -> Result<String> {
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

    /// Each thumbnail's blob, as the renditions that point at them.
    pub(super) async fn put_thumbnails(
        &self,
        by_scale: Vec<(u32, Encoded)>,
    ) -> Result<Vec<RenditionRecord>> {
        let mut renditions = Vec::with_capacity(by_scale.len());
        for (scale, thumb) in by_scale {
            renditions.push(RenditionRecord {
                kind: RenditionKind::Thumbnail,
                width: thumb.width,
                height: thumb.height,
                scale,
                key: self.put_blob(thumb).await?,
            });
        }
        Ok(renditions)
    }

    pub(super) fn urls(
        &self,
        photo_key: &str,
        thumb_key: &str,
        renditions: &[RenditionRecord],
    ) -> PhotoUrls {
        let url = |key: &str| sanitize_url(&format!("{}{}", self.inner.public_base_url, key));
        PhotoUrls {
            photo_url: url(photo_key),
            thumbnail_url: url(thumb_key),
            renditions: renditions
                .iter()
                .filter_map(|r| {
                    // Keys are ours, `<sha256>.<extension>`: the extension is the format.
                    let extension = r.key.rsplit_once('.')?.1;
                    Some(Rendition {
                        kind: r.kind,
                        format: OutputFormat::from_extension(extension)?,
                        width: r.width,
                        height: r.height,
                        scale: r.scale,
                        url: url(&r.key),
                    })
                })
                .collect(),
        }
    }
}

/// The 1× thumbnail's key among `renditions` (the `thumbnailURL`).
pub(super) fn thumb_key(renditions: &[RenditionRecord]) -> Result<String> {
    renditions
        .iter()
        .find(|r| r.kind == RenditionKind::Thumbnail && r.scale == 1)
        .map(|r| r.key.clone())
        .ok_or_else(|| Error::internal("no 1x thumbnail"))
}

/// Whether the thumbnails of a pending photo are what `policy` asks for now (size, crop
/// and scales); photos stored before renditions existed are cut again.
pub(super) fn thumbnails_match(pending: &PhotoRecord, policy: &Policies) -> bool {
    let scales: Vec<u32> = pending
        .renditions
        .iter()
        .filter(|r| r.kind == RenditionKind::Thumbnail)
        .map(|r| r.scale)
        .collect();
    (pending.thumb_width, pending.thumb_height) == (policy.thumbnail_width, policy.thumbnail_height)
        && pending.thumb_crop == policy.thumbnail_crop
        && scales == policy.thumbnail_scales.to_vec()
}

pub(super) fn ttl_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX / 4)
}

/// UIDs are caller text that ends up in the database: keep them printable and bounded.
pub(super) fn check_uid(uid: &str) -> Result<()> {
    if uid.len() > 256 || uid.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(
            "UID",
            "must be at most 256 printable characters",
        ));
    }
    Ok(())
}

pub(super) fn new_uid() -> Result<String> {
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
