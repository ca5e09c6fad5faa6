//! The typed methods: one async method per SPEC.md method, and the operator's purge.

use bytes::Bytes;

use super::client::Client;
use super::internals::{new_uid, thumb_key, thumbnails_match, ttl_ms};
use super::types::{
    AccountInfo, Identity, ImportResult, PhotoUrls, Policies, PolicyChange, PurgeReport,
    Registration,
};
use crate::error::{Error, Result};
use crate::pipeline;
use crate::pipeline::THUMBNAIL_SIDES;
use crate::store::{PolicyRecord, RenditionKind, RenditionRecord};

impl Client {
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
                // Empty is missing, as for Gigya's parameters (typed faces get the same answer).
                if url.is_empty() {
                    return Err(Error::missing("url"));
                }
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
                    return Err(Error::photo_too_large(
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
                let (thumb_key, renditions) = if thumbnails_match(&pending, &policy) {
                    (pending.thumb_key.clone(), pending.renditions.clone())
                } else {
                    // The policy changed since the import (size, crop or scales): cut the
                    // thumbnails again from the stored photo. A decode slot like any import's:
                    // publishes of re-cut photos are CPU work too (up to 4 scales).
                    let permit = self.inner.limiter.acquire().await?;
                    let photo = self.inner.blobs.get(&pending.photo_key).await?;
                    let limits = self.inner.limits.clone();
                    let thumbs = self
                        .run_pipeline(Some(permit), move |cancel| {
                            pipeline::thumbnails_cancellable(
                                &photo,
                                &limits,
                                policy.thumbnail(),
                                policy.thumbnail_scales,
                                cancel,
                            )
                        })
                        .await?;
                    let mut renditions = vec![RenditionRecord {
                        kind: RenditionKind::Photo,
                        key: pending.photo_key.clone(),
                        width: thumbs.source_width,
                        height: thumbs.source_height,
                        scale: 1,
                    }];
                    renditions.extend(self.put_thumbnails(thumbs.by_scale).await?);
                    (thumb_key(&renditions)?, renditions)
                };
                let published = self
                    .inner
                    .meta
                    .publish_pending(
                        &account.uid,
                        &pending.photo_key,
                        &thumb_key,
                        &renditions,
                        not_before,
                    )
                    .await?;
                if !published {
                    // Another call published, replaced or removed it first.
                    return Err(Error::bad_photo("There is no pending photo to publish"));
                }
                Ok(self.urls(&pending.photo_key, &thumb_key, &renditions))
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
                    photo: account
                        .published
                        .as_ref()
                        .map(|(p, t)| self.urls(p, t, &account.published_renditions)),
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
                if reg_token.is_empty() {
                    return Err(Error::missing("regToken"));
                }
                let account = self
                    .resolve_existing(&Identity::RegToken(reg_token.to_string()))
                    .await?;
                if !self.inner.meta.finalize(&account.uid).await? {
                    return Err(Error::unauthorized(
                        "Invalid regToken: registration already finalized",
                    ));
                }
                Ok(AccountInfo {
                    photo: account
                        .published
                        .as_ref()
                        .map(|(p, t)| self.urls(p, t, &account.published_renditions)),
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
                    Some(p) => Policies {
                        thumbnail_width: p.thumb_width,
                        thumbnail_height: p.thumb_height,
                        thumbnail_crop: p.thumb_crop,
                        thumbnail_scales: p.thumb_scales,
                    },
                    None => Policies::default(),
                })
            })
            .await
    }

    /// `accounts.setPolicies` (the `profilePhoto` part): the fields `change` sets, the
    /// others kept. Returns the policies now in force.
    pub async fn set_policies(&self, change: PolicyChange) -> Result<Policies> {
        self.inner
            .life
            .track(async {
                let blamed = scaled_side_field(&change);
                let policies = self.policies().await?.with(change);
                for (name, v) in [
                    ("thumbnailWidth", policies.thumbnail_width),
                    ("thumbnailHeight", policies.thumbnail_height),
                ] {
                    if !THUMBNAIL_SIDES.contains(&v) {
                        return Err(Error::invalid(
                            &format!("profilePhoto.{name}"),
                            format!(
                                "must be between {} and {}",
                                THUMBNAIL_SIDES.start(),
                                THUMBNAIL_SIDES.end()
                            ),
                        ));
                    }
                }
                pipeline::check_scaled_thumbnail(
                    policies.thumbnail_width,
                    policies.thumbnail_height,
                    policies.thumbnail_scales,
                    blamed,
                )?;
                self.inner
                    .meta
                    .set_thumbnail_policy(&PolicyRecord {
                        thumb_width: policies.thumbnail_width,
                        thumb_height: policies.thumbnail_height,
                        thumb_crop: policies.thumbnail_crop,
                        thumb_scales: policies.thumbnail_scales,
                    })
                    .await?;
                Ok(policies)
            })
            .await
    }

    /// Delete expired pending photos, abandoned registrations (never finalized, regToken
    /// expired, nothing published: what strangers holding the public apiKey can create)
    /// and blobs no account points at (older than the grace period, so an import between
    /// its blob write and its metadata commit is safe).
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
                // Their regTokens expired: no call can reach these accounts any more. Their
                // pending blobs become unreferenced and go below, after the grace period.
                let abandoned_registrations = self
                    .inner
                    .meta
                    .purge_abandoned_registrations(
                        now - ttl_ms(self.inner.config.reg_token_ttl_secs),
                    )
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
                let session_ends = self.inner.meta.purge_session_ends(now).await?;
                tracing::info!(
                    expired_pending,
                    abandoned_registrations,
                    blobs_deleted,
                    session_ends,
                    "purge done"
                );
                Ok(PurgeReport {
                    expired_pending,
                    blobs_deleted,
                    abandoned_registrations,
                })
            })
            .await
    }
}

/// The field to name when the largest scaled thumbnail side passes the limit: the scales
/// when the change sets them, else the side it widened.
fn scaled_side_field(change: &PolicyChange) -> &'static str {
    match (
        change.thumbnail_scales,
        change.thumbnail_width,
        change.thumbnail_height,
    ) {
        (Some(_), _, _) | (None, None, None) => "profilePhoto.thumbnailScales",
        (None, Some(w), Some(h)) if h > w => "profilePhoto.thumbnailHeight",
        (None, Some(_), _) => "profilePhoto.thumbnailWidth",
        (None, None, Some(_)) => "profilePhoto.thumbnailHeight",
    }
}
