//! The SQL schema, as the steps that built it: SQLite and PostgreSQL read the same text.

/// Schema steps, applied in order once each; the index + 1 is the schema version.
pub(super) const MIGRATIONS: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS avatarium_accounts (
        uid TEXT PRIMARY KEY,
        registered BIGINT NOT NULL,
        created_ms BIGINT NOT NULL,
        photo_key TEXT,
        thumb_key TEXT,
        published_ms BIGINT,
        pending_photo_key TEXT,
        pending_thumb_key TEXT,
        pending_thumb_w BIGINT,
        pending_thumb_h BIGINT,
        pending_created_ms BIGINT
    )",
    "CREATE INDEX IF NOT EXISTS avatarium_accounts_pending_created ON avatarium_accounts (pending_created_ms)",
    "CREATE TABLE IF NOT EXISTS avatarium_policies (
        id BIGINT PRIMARY KEY,
        thumb_w BIGINT NOT NULL,
        thumb_h BIGINT NOT NULL
    )",
    // Scale-out: when each blob was last about to be written (purge coordination), and the
    // indexes purge's per-blob "is it still referenced" check needs.
    "CREATE TABLE IF NOT EXISTS avatarium_blob_writes (
        blob_key TEXT PRIMARY KEY,
        written_ms BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS avatarium_accounts_photo_key ON avatarium_accounts (photo_key)",
    "CREATE INDEX IF NOT EXISTS avatarium_accounts_thumb_key ON avatarium_accounts (thumb_key)",
    "CREATE INDEX IF NOT EXISTS avatarium_accounts_pending_photo_key ON avatarium_accounts (pending_photo_key)",
    "CREATE INDEX IF NOT EXISTS avatarium_accounts_pending_thumb_key ON avatarium_accounts (pending_thumb_key)",
    // Ended login sessions: `s:<session id>` (one session), or `u:<uid>` (every session of
    // the user issued at or before `at_ms`). A row is needed only until `expires_ms`, when
    // the sessions it ends have expired anyway; purge drops it then.
    "CREATE TABLE IF NOT EXISTS avatarium_session_ends (
        end_key TEXT PRIMARY KEY,
        at_ms BIGINT NOT NULL,
        expires_ms BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS avatarium_session_ends_expires ON avatarium_session_ends (expires_ms)",
    // Thumbnail crop and scales of the site policy (`profilePhoto.thumbnailCrop`,
    // `profilePhoto.thumbnailScales`: comma-separated), the crop a pending photo's thumbnails
    // were cut with, and every file of each photo (`slot`: `pending` or `published`).
    "ALTER TABLE avatarium_policies ADD COLUMN thumb_crop TEXT NOT NULL DEFAULT 'center'",
    "ALTER TABLE avatarium_policies ADD COLUMN thumb_scales TEXT NOT NULL DEFAULT '1'",
    "ALTER TABLE avatarium_accounts ADD COLUMN pending_thumb_crop TEXT",
    "CREATE TABLE IF NOT EXISTS avatarium_renditions (
        uid TEXT NOT NULL,
        slot TEXT NOT NULL,
        kind TEXT NOT NULL,
        scale BIGINT NOT NULL,
        blob_key TEXT NOT NULL,
        width BIGINT NOT NULL,
        height BIGINT NOT NULL,
        PRIMARY KEY (uid, slot, kind, scale, blob_key)
    )",
    "CREATE INDEX IF NOT EXISTS avatarium_renditions_blob_key ON avatarium_renditions (blob_key)",
    // Batch imports' progress (`sql/batch.rs`): one row per input row done, keyed by the
    // input's identity and the row's position.
    "CREATE TABLE IF NOT EXISTS avatarium_batch_rows (
        input_key TEXT NOT NULL,
        row_index BIGINT NOT NULL,
        row_digest TEXT NOT NULL,
        error_code BIGINT NOT NULL,
        details TEXT,
        done_ms BIGINT NOT NULL,
        PRIMARY KEY (input_key, row_index)
    )",
];
