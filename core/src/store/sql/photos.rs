//! The photo slots (`pending`, `published`) of an account with their renditions, and the
//! site policy: the statements behind the photo methods of `MetaStore`.
//! An account's columns and its rendition rows change in one transaction, so a reader
//! (one statement: a join) sees both before or both after.

use sqlx::Row;

use super::{to_i64, to_u32, Pool, SqlMetaStore};
use crate::error::{Error, Result};
use crate::pipeline::{ThumbnailCrop, ThumbnailScales};
use crate::store::traits::{
    AccountRecord, PhotoRecord, PolicyRecord, RenditionKind, RenditionRecord,
};

/// The slots of `avatarium_renditions`.
const PENDING: &str = "pending";
const PUBLISHED: &str = "published";
const INSERT_RENDITION: &str =
    "INSERT INTO avatarium_renditions (uid, slot, kind, scale, blob_key, width, height)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING";
const DELETE_SLOT: &str = "DELETE FROM avatarium_renditions WHERE uid = $1 AND slot = $2";
/// Rendition rows whose photo is gone (its pending photo expired, its account purged).
const DELETE_ORPHAN_RENDITIONS: &str = "DELETE FROM avatarium_renditions WHERE NOT EXISTS (
     SELECT 1 FROM avatarium_accounts a WHERE a.uid = avatarium_renditions.uid
     AND ((avatarium_renditions.slot = 'pending' AND a.pending_photo_key IS NOT NULL)
       OR (avatarium_renditions.slot = 'published' AND a.photo_key IS NOT NULL)))";

/// Replaces the rendition rows of `uid`'s `slot` with `renditions`, in transaction `tx`.
macro_rules! replace_slot {
    ($tx:expr, $uid:expr, $slot:expr, $renditions:expr) => {{
        sqlx::query(DELETE_SLOT)
            .bind($uid)
            .bind($slot)
            .execute(&mut *$tx)
            .await?;
        for r in $renditions {
            sqlx::query(INSERT_RENDITION)
                .bind($uid)
                .bind($slot)
                .bind(r.kind.name())
                .bind(to_i64(r.scale))
                .bind(&r.key)
                .bind(to_i64(r.width))
                .bind(to_i64(r.height))
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

impl SqlMetaStore {
    pub(super) async fn read_account(&self, uid: &str) -> Result<Option<AccountRecord>> {
        // One statement, so the account and its renditions are one snapshot.
        let sql = "SELECT a.uid, a.registered, a.created_ms, a.photo_key, a.thumb_key,
                   a.pending_photo_key, a.pending_thumb_key, a.pending_thumb_w, a.pending_thumb_h,
                   a.pending_thumb_crop, a.pending_created_ms, r.slot AS r_slot, r.kind AS r_kind,
                   r.scale AS r_scale, r.blob_key AS r_key, r.width AS r_width, r.height AS r_height
                   FROM avatarium_accounts a LEFT JOIN avatarium_renditions r ON r.uid = a.uid
                   WHERE a.uid = $1";
        macro_rules! read {
            ($rows:expr) => {{
                let rows = $rows;
                let Some(row) = rows.first() else {
                    return Ok(None);
                };
                let mut pending_renditions = Vec::new();
                let mut published_renditions = Vec::new();
                for r in &rows {
                    let Some(slot) = r.try_get::<Option<String>, _>("r_slot")? else {
                        continue;
                    };
                    let kind: String = r.try_get("r_kind")?;
                    let rendition = RenditionRecord {
                        kind: RenditionKind::from_name(&kind).ok_or_else(|| {
                            Error::internal(format!("unknown rendition kind {kind:?}"))
                        })?,
                        key: r.try_get("r_key")?,
                        width: to_u32(r.try_get::<i64, _>("r_width")?),
                        height: to_u32(r.try_get::<i64, _>("r_height")?),
                        scale: to_u32(r.try_get::<i64, _>("r_scale")?),
                    };
                    if slot == PENDING {
                        pending_renditions.push(rendition);
                    } else {
                        published_renditions.push(rendition);
                    }
                }
                let published = match (
                    row.try_get::<Option<String>, _>("photo_key")?,
                    row.try_get::<Option<String>, _>("thumb_key")?,
                ) {
                    (Some(p), Some(t)) => Some((p, t)),
                    _ => None,
                };
                let pending = match (
                    row.try_get::<Option<String>, _>("pending_photo_key")?,
                    row.try_get::<Option<String>, _>("pending_thumb_key")?,
                ) {
                    (Some(photo_key), Some(thumb_key)) => Some(PhotoRecord {
                        renditions: of_slot(
                            std::mem::take(&mut pending_renditions),
                            &photo_key,
                            &thumb_key,
                        ),
                        photo_key,
                        thumb_key,
                        thumb_width: to_u32(
                            row.try_get::<Option<i64>, _>("pending_thumb_w")?
                                .unwrap_or(0),
                        ),
                        thumb_height: to_u32(
                            row.try_get::<Option<i64>, _>("pending_thumb_h")?
                                .unwrap_or(0),
                        ),
                        // Rows from before crops existed were cut at the centre.
                        thumb_crop: match row.try_get::<Option<String>, _>("pending_thumb_crop")? {
                            Some(name) => {
                                ThumbnailCrop::from_name(&name).map_err(Error::internal)?
                            }
                            None => ThumbnailCrop::Center,
                        },
                        created_ms: row
                            .try_get::<Option<i64>, _>("pending_created_ms")?
                            .unwrap_or(0),
                    }),
                    _ => None,
                };
                Some(AccountRecord {
                    uid: row.try_get("uid")?,
                    is_registered: row.try_get::<i64, _>("registered")? != 0,
                    created_ms: row.try_get("created_ms")?,
                    published_renditions: match &published {
                        Some((photo_key, thumb_key)) => {
                            of_slot(published_renditions, photo_key, thumb_key)
                        }
                        None => Vec::new(),
                    },
                    published,
                    pending,
                })
            }};
        }
        on_pool!(self, p => {
            let rows = sqlx::query(sql).bind(uid).fetch_all(p).await?;
            Ok(read!(rows))
        })
    }

    pub(super) async fn write_pending(&self, uid: &str, photo: &PhotoRecord) -> Result<bool> {
        Ok(in_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE avatarium_accounts SET pending_photo_key = $2, pending_thumb_key = $3,
                 pending_thumb_w = $4, pending_thumb_h = $5, pending_created_ms = $6,
                 pending_thumb_crop = $7
                 WHERE uid = $1",
            )
            .bind(uid)
            .bind(&photo.photo_key)
            .bind(&photo.thumb_key)
            .bind(to_i64(photo.thumb_width))
            .bind(to_i64(photo.thumb_height))
            .bind(photo.created_ms)
            .bind(photo.thumb_crop.name())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                replace_slot!(tx, uid, PENDING, &photo.renditions);
            }
            n == 1
        }))
    }

    pub(super) async fn write_published(&self, uid: &str, photo: &PhotoRecord) -> Result<bool> {
        Ok(in_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE avatarium_accounts SET photo_key = $2, thumb_key = $3, published_ms = $4,
                 pending_photo_key = NULL, pending_thumb_key = NULL, pending_thumb_w = NULL,
                 pending_thumb_h = NULL, pending_created_ms = NULL, pending_thumb_crop = NULL
                 WHERE uid = $1",
            )
            .bind(uid)
            .bind(&photo.photo_key)
            .bind(&photo.thumb_key)
            .bind(photo.created_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                replace_slot!(tx, uid, PENDING, &[] as &[RenditionRecord]);
                replace_slot!(tx, uid, PUBLISHED, &photo.renditions);
            }
            n == 1
        }))
    }

    pub(super) async fn move_pending(
        &self,
        uid: &str,
        photo_key: &str,
        thumb_key: &str,
        renditions: &[RenditionRecord],
        not_before_ms: i64,
    ) -> Result<bool> {
        Ok(in_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE avatarium_accounts SET photo_key = pending_photo_key, thumb_key = $3,
                 published_ms = pending_created_ms,
                 pending_photo_key = NULL, pending_thumb_key = NULL, pending_thumb_w = NULL,
                 pending_thumb_h = NULL, pending_created_ms = NULL, pending_thumb_crop = NULL
                 WHERE uid = $1 AND pending_photo_key = $2 AND pending_created_ms >= $4",
            )
            .bind(uid)
            .bind(photo_key)
            .bind(thumb_key)
            .bind(not_before_ms)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if n == 1 {
                replace_slot!(tx, uid, PENDING, &[] as &[RenditionRecord]);
                replace_slot!(tx, uid, PUBLISHED, renditions);
            }
            n == 1
        }))
    }

    pub(super) async fn clear_photos(&self, uid: &str) -> Result<bool> {
        Ok(in_tx!(self, tx => {
            let n = sqlx::query(
                "UPDATE avatarium_accounts SET photo_key = NULL, thumb_key = NULL, published_ms = NULL,
                 pending_photo_key = NULL, pending_thumb_key = NULL, pending_thumb_w = NULL,
                 pending_thumb_h = NULL, pending_created_ms = NULL, pending_thumb_crop = NULL
                 WHERE uid = $1",
            )
            .bind(uid)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // Every file goes with the photo: none is served from now on, purge deletes them.
            sqlx::query("DELETE FROM avatarium_renditions WHERE uid = $1")
                .bind(uid)
                .execute(&mut *tx)
                .await?;
            n == 1
        }))
    }

    pub(super) async fn read_policy(&self) -> Result<Option<PolicyRecord>> {
        on_pool!(self, p => {
            let row = sqlx::query(
                "SELECT thumb_w, thumb_h, thumb_crop, thumb_scales FROM avatarium_policies WHERE id = 1",
            )
            .fetch_optional(p)
            .await?;
            match row {
                Some(r) => Ok(Some(PolicyRecord {
                    thumb_width: to_u32(r.try_get::<i64, _>("thumb_w")?),
                    thumb_height: to_u32(r.try_get::<i64, _>("thumb_h")?),
                    thumb_crop: ThumbnailCrop::from_name(r.try_get("thumb_crop")?)
                        .map_err(Error::internal)?,
                    thumb_scales: parse_scales(r.try_get("thumb_scales")?)?,
                })),
                None => Ok(None),
            }
        })
    }

    pub(super) async fn write_policy(&self, policy: &PolicyRecord) -> Result<()> {
        let scales: Vec<String> = policy.thumb_scales.iter().map(|s| s.to_string()).collect();
        on_pool!(self, p => sqlx::query(
            "INSERT INTO avatarium_policies (id, thumb_w, thumb_h, thumb_crop, thumb_scales)
             VALUES (1, $1, $2, $3, $4)
             ON CONFLICT (id) DO UPDATE SET thumb_w = excluded.thumb_w, thumb_h = excluded.thumb_h,
             thumb_crop = excluded.thumb_crop, thumb_scales = excluded.thumb_scales",
        )
        .bind(to_i64(policy.thumb_width))
        .bind(to_i64(policy.thumb_height))
        .bind(policy.thumb_crop.name())
        .bind(scales.join(","))
        .execute(p)
        .await
        .map(|_| ()))?;
        Ok(())
    }

    /// Rendition rows whose photo is gone; one statement, so a photo written meanwhile
    /// (its rows and its account columns commit together) is either seen whole or not at all.
    pub(super) async fn delete_orphan_renditions(&self) -> Result<u64> {
        Ok(on_pool!(self, p => sqlx::query(DELETE_ORPHAN_RENDITIONS)
            .execute(p)
            .await?
            .rows_affected()))
    }
}

/// Renditions in answer order: the photo, then thumbnails by scale, then by key.
/// A slot's rendition rows, if they describe the slot's current photo and thumbnail. An
/// older build (the schema check lets it run on a newer schema during a rolling upgrade)
/// changes the key columns without touching these rows: stale rows are then ignored, and
/// a publish cuts the thumbnails again.
fn of_slot(
    renditions: Vec<RenditionRecord>,
    photo_key: &str,
    thumb_key: &str,
) -> Vec<RenditionRecord> {
    let has = |kind, scale, key: &str| {
        renditions
            .iter()
            .any(|r| r.kind == kind && r.scale == scale && r.key == key)
    };
    if has(RenditionKind::Photo, 1, photo_key) && has(RenditionKind::Thumbnail, 1, thumb_key) {
        sorted(renditions)
    } else {
        Vec::new()
    }
}

fn sorted(mut renditions: Vec<RenditionRecord>) -> Vec<RenditionRecord> {
    renditions.sort_by(|a, b| (a.kind, a.scale, &a.key).cmp(&(b.kind, b.scale, &b.key)));
    renditions
}

/// `thumb_scales` as stored: "1,2,3".
fn parse_scales(text: &str) -> Result<ThumbnailScales> {
    let values = text
        .split(',')
        .map(|s| s.trim().parse::<i64>())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Error::internal)?;
    ThumbnailScales::from_list(&values).map_err(Error::internal)
}
