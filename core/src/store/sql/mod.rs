//! [`MetaStore`] on SQL: SQLite (the embedded default) or PostgreSQL, chosen by URL.
//! One dialect serves both: `$n` placeholders (SQLite numbers them in order of first
//! appearance), `ON CONFLICT`, BIGINT columns. Every account write is one statement, so
//! each is atomic on both databases without explicit locking.
//!
//! Purge is the one place that needs a lock across processes: deciding that a blob is
//! unused and deleting it must not interleave with an import that is about to write the
//! same (content-addressed) key. The key's lock is a PostgreSQL advisory lock (exclusive
//! for the purge, shared for the import's note), or SQLite's write lock (`BEGIN
//! IMMEDIATE`), held while the blob is deleted.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::Row;

use super::migrations::MIGRATIONS;
use super::traits::{
    AccountRecord, BatchRecord, BlobStore, MetaStore, PhotoRecord, PolicyRecord, RenditionRecord,
    SessionEnd,
};
use crate::error::{Error, Result};

/// The advisory lock id of the migration step (any constant unique to this schema).
const MIGRATION_LOCK: i64 = 7467351205;

/// The advisory lock id that guards one blob key: 63 bits of its SHA-256, with a domain
/// tag so it cannot meet [`MIGRATION_LOCK`] or another application's ids by design.
fn blob_lock_id(key: &str) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("avatarium blob {key}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first) & i64::MAX
}

const NOTE_BLOB_WRITE: &str =
    "INSERT INTO avatarium_blob_writes (blob_key, written_ms) VALUES ($1, $2)
     ON CONFLICT (blob_key) DO UPDATE SET written_ms = CASE
         WHEN excluded.written_ms > avatarium_blob_writes.written_ms THEN excluded.written_ms
         ELSE avatarium_blob_writes.written_ms END";
const BLOB_WRITTEN_MS: &str = "SELECT written_ms FROM avatarium_blob_writes WHERE blob_key = $1";
const BLOB_REFERENCES: &str =
    "SELECT (SELECT COUNT(*) FROM avatarium_accounts WHERE photo_key = $1 OR thumb_key = $1
     OR pending_photo_key = $1 OR pending_thumb_key = $1)
     + (SELECT COUNT(*) FROM avatarium_renditions WHERE blob_key = $1)";
const END_SESSIONS: &str =
    "INSERT INTO avatarium_session_ends (end_key, at_ms, expires_ms) VALUES ($1, $2, $3)
     ON CONFLICT (end_key) DO UPDATE SET
         at_ms = CASE WHEN excluded.at_ms > avatarium_session_ends.at_ms
             THEN excluded.at_ms ELSE avatarium_session_ends.at_ms END,
         expires_ms = CASE WHEN excluded.expires_ms > avatarium_session_ends.expires_ms
             THEN excluded.expires_ms ELSE avatarium_session_ends.expires_ms END";
const SESSION_ENDED: &str = "SELECT COUNT(*) FROM avatarium_session_ends
     WHERE end_key = $1 OR (end_key = $2 AND at_ms >= $3)";
const FORGET_BLOB: &str = "DELETE FROM avatarium_blob_writes WHERE blob_key = $1";

/// Runs `body` in a write transaction on whichever pool is configured, committing when
/// it ends (an early `?` drops the transaction: rolled back). SQLite takes its write lock
/// at the start, so two writers wait for each other instead of failing on the upgrade.
macro_rules! in_tx {
    ($self:expr, $tx:ident => $body:expr) => {
        match &$self.pool {
            Pool::Sqlite(p) => {
                let mut $tx = p.begin_with("BEGIN IMMEDIATE").await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
            Pool::Postgres(p) => {
                let mut $tx = p.begin().await?;
                let out = $body;
                $tx.commit().await?;
                out
            }
        }
    };
}

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same body against whichever pool is configured.
macro_rules! on_pool {
    ($self:expr, $p:ident => $body:expr) => {
        match &$self.pool {
            Pool::Sqlite($p) => $body,
            Pool::Postgres($p) => $body,
        }
    };
}

// After the macro, which they use.
mod batch;
mod photos;

#[derive(Debug, Clone)]
pub struct SqlMetaStore {
    pool: Pool,
}

impl SqlMetaStore {
    /// Connect to `sqlite://path` (created when missing) or `postgres://…` and bring the
    /// schema up to date.
    pub async fn connect(url: &str) -> Result<Self> {
        let pool = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let pool = PgPoolOptions::new()
                .max_connections(16)
                // A database that went away fails calls with 500001 after this long, rather
                // than leaving them hanging; connections are checked before use, so the
                // first call after it comes back works.
                .acquire_timeout(Duration::from_secs(5))
                .test_before_acquire(true)
                .connect(url)
                .await
                .map_err(Error::internal)?;
            Pool::Postgres(pool)
        } else if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|e| Error::invalid("database_url", e))?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10));
            return Self::connect_sqlite(opts).await;
        } else {
            return Err(Error::invalid(
                "database_url",
                "expected sqlite:… or postgres://…",
            ));
        };
        let store = SqlMetaStore { pool };
        store.migrate().await?;
        Ok(store)
    }

    /// Open (and migrate) a SQLite file. The first switch of a new file to WAL needs an
    /// exclusive lock that SQLite does not wait for, so processes opening a new file at
    /// the same moment can see "database is locked": they retry for a while.
    async fn connect_sqlite(opts: SqliteConnectOptions) -> Result<Self> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut pause = Duration::from_millis(10);
        loop {
            let attempt = async {
                let pool = SqlitePoolOptions::new()
                    .max_connections(8)
                    .connect_with(opts.clone())
                    .await
                    .map_err(Error::internal)?;
                let store = SqlMetaStore {
                    pool: Pool::Sqlite(pool),
                };
                store.migrate().await?;
                Ok::<_, Error>(store)
            }
            .await;
            match attempt {
                Err(e) if is_sqlite_busy(&e) && std::time::Instant::now() < deadline => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                other => return other,
            }
        }
    }

    async fn migrate(&self) -> Result<()> {
        // Several processes may start at once: one migrates, the others wait for it.
        macro_rules! steps {
            ($tx:expr) => {{
                let mut tx = $tx;
                sqlx::query(
                    "CREATE TABLE IF NOT EXISTS avatarium_schema (version BIGINT NOT NULL)",
                )
                .execute(&mut *tx)
                .await?;
                let current: Option<i64> =
                    sqlx::query_scalar("SELECT MAX(version) FROM avatarium_schema")
                        .fetch_one(&mut *tx)
                        .await?;
                let current = usize::try_from(current.unwrap_or(0)).unwrap_or(0);
                for (i, step) in MIGRATIONS.iter().enumerate().skip(current) {
                    // Our own constant schema text, not caller input.
                    sqlx::query(sqlx::AssertSqlSafe(*step))
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("INSERT INTO avatarium_schema (version) VALUES ($1)")
                        .bind(i64::try_from(i + 1).unwrap_or(i64::MAX))
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }};
        }
        match &self.pool {
            Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(MIGRATION_LOCK)
                    .execute(&mut *tx)
                    .await?;
                steps!(tx)
            }
            // The write lock from the start (a deferred transaction that later writes
            // fails at once with "database is locked" when another connection writes;
            // an immediate one waits for the lock, up to the busy timeout).
            Pool::Sqlite(p) => steps!(p.begin_with("BEGIN IMMEDIATE").await?),
        }
    }

    /// Close the pool (waits for connections to be returned).
    pub async fn close(&self) {
        on_pool!(self, p => p.close().await)
    }
}

/// SQLITE_BUSY / SQLITE_LOCKED (and their extended codes) somewhere in the cause.
fn is_sqlite_busy(e: &Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(sqlx::Error::Database(db)) = s.downcast_ref::<sqlx::Error>() {
            let primary = db
                .code()
                .and_then(|c| c.parse::<i32>().ok())
                .map(|c| c & 0xff);
            return matches!(primary, Some(5 | 6));
        }
        source = s.source();
    }
    false
}

fn to_i64(v: u32) -> i64 {
    i64::from(v)
}

fn to_u32(v: i64) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

#[async_trait::async_trait]
impl MetaStore for SqlMetaStore {
    async fn create_account(&self, uid: &str, registered: bool, now_ms: i64) -> Result<bool> {
        let done = on_pool!(self, p => sqlx::query(
            "INSERT INTO avatarium_accounts (uid, registered, created_ms) VALUES ($1, $2, $3)
             ON CONFLICT (uid) DO NOTHING",
        )
        .bind(uid)
        .bind(i64::from(registered))
        .bind(now_ms)
        .execute(p)
        .await?
        .rows_affected());
        Ok(done == 1)
    }

    async fn ensure_account(&self, uid: &str, now_ms: i64) -> Result<()> {
        self.create_account(uid, true, now_ms).await.map(|_| ())
    }

    async fn account(&self, uid: &str) -> Result<Option<AccountRecord>> {
        self.read_account(uid).await
    }

    async fn finalize(&self, uid: &str) -> Result<bool> {
        let n = on_pool!(self, p => sqlx::query(
            "UPDATE avatarium_accounts SET registered = 1 WHERE uid = $1 AND registered = 0",
        )
        .bind(uid)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n == 1)
    }

    async fn set_pending(&self, uid: &str, photo: &PhotoRecord) -> Result<bool> {
        self.write_pending(uid, photo).await
    }

    async fn publish_photo(&self, uid: &str, photo: &PhotoRecord) -> Result<bool> {
        self.write_published(uid, photo).await
    }

    async fn publish_pending(
        &self,
        uid: &str,
        photo_key: &str,
        thumb_key: &str,
        renditions: &[RenditionRecord],
        not_before_ms: i64,
    ) -> Result<bool> {
        self.move_pending(uid, photo_key, thumb_key, renditions, not_before_ms)
            .await
    }

    async fn remove_photos(&self, uid: &str) -> Result<bool> {
        self.clear_photos(uid).await
    }

    async fn ping(&self) -> Result<()> {
        let version: Option<i64> = on_pool!(self, p => {
            sqlx::query_scalar("SELECT MAX(version) FROM avatarium_schema")
                .fetch_one(p)
                .await?
        });
        // A database restored from an older backup, or wiped, is not one we can serve.
        let needed = i64::try_from(MIGRATIONS.len()).unwrap_or(i64::MAX);
        match version {
            Some(v) if v >= needed => Ok(()),
            other => Err(Error::internal(format!(
                "schema version {} where this build needs {needed}",
                other.unwrap_or(0)
            ))),
        }
    }

    async fn thumbnail_policy(&self) -> Result<Option<PolicyRecord>> {
        self.read_policy().await
    }

    async fn set_thumbnail_policy(&self, policy: &PolicyRecord) -> Result<()> {
        self.write_policy(policy).await
    }

    async fn purge_expired_pending(&self, before_ms: i64) -> Result<u64> {
        let n = on_pool!(self, p => sqlx::query(
            "UPDATE avatarium_accounts SET pending_photo_key = NULL, pending_thumb_key = NULL,
             pending_thumb_w = NULL, pending_thumb_h = NULL, pending_created_ms = NULL,
             pending_thumb_crop = NULL
             WHERE pending_created_ms < $1",
        )
        .bind(before_ms)
        .execute(p)
        .await?
        .rows_affected());
        self.delete_orphan_renditions().await?;
        Ok(n)
    }

    async fn purge_abandoned_registrations(&self, created_before_ms: i64) -> Result<u64> {
        let n = on_pool!(self, p => sqlx::query(
            "DELETE FROM avatarium_accounts
             WHERE registered = 0 AND created_ms < $1 AND photo_key IS NULL",
        )
        .bind(created_before_ms)
        .execute(p)
        .await?
        .rows_affected());
        self.delete_orphan_renditions().await?;
        Ok(n)
    }

    async fn referenced_keys(&self) -> Result<HashSet<String>> {
        let sql =
            "SELECT photo_key, thumb_key, pending_photo_key, pending_thumb_key FROM avatarium_accounts
                   WHERE photo_key IS NOT NULL OR pending_photo_key IS NOT NULL";
        on_pool!(self, p => {
            let rows = sqlx::query(sql).fetch_all(p).await?;
            let mut keys = HashSet::new();
            for row in rows {
                for col in ["photo_key", "thumb_key", "pending_photo_key", "pending_thumb_key"] {
                    if let Some(k) = row.try_get::<Option<String>, _>(col)? {
                        keys.insert(k);
                    }
                }
            }
            let renditions: Vec<String> =
                sqlx::query_scalar("SELECT DISTINCT blob_key FROM avatarium_renditions")
                    .fetch_all(p)
                    .await?;
            keys.extend(renditions);
            Ok(keys)
        })
    }

    async fn is_referenced(&self, key: &str) -> Result<bool> {
        on_pool!(self, p => {
            let refs: i64 = sqlx::query_scalar(BLOB_REFERENCES).bind(key).fetch_one(p).await?;
            Ok(refs > 0)
        })
    }

    async fn end_sessions(&self, end: &SessionEnd, expires_ms: i64) -> Result<()> {
        let (key, at_ms) = match end {
            SessionEnd::One { session_id } => (format!("s:{session_id}"), 0),
            SessionEnd::AllOf { uid, at_ms } => (format!("u:{uid}"), *at_ms),
        };
        on_pool!(self, p => sqlx::query(END_SESSIONS)
            .bind(key)
            .bind(at_ms)
            .bind(expires_ms)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    async fn session_ended(&self, session_id: &str, uid: &str, issued_ms: i64) -> Result<bool> {
        on_pool!(self, p => {
            let n: i64 = sqlx::query_scalar(SESSION_ENDED)
                .bind(format!("s:{session_id}"))
                .bind(format!("u:{uid}"))
                .bind(issued_ms)
                .fetch_one(p)
                .await?;
            Ok(n > 0)
        })
    }

    async fn purge_session_ends(&self, now_ms: i64) -> Result<u64> {
        let n = on_pool!(self, p => sqlx::query(
            "DELETE FROM avatarium_session_ends WHERE expires_ms < $1",
        )
        .bind(now_ms)
        .execute(p)
        .await?
        .rows_affected());
        Ok(n)
    }

    async fn note_blob_write(&self, key: &str, now_ms: i64) -> Result<()> {
        match &self.pool {
            Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock_shared($1)")
                    .bind(blob_lock_id(key))
                    .execute(&mut *tx)
                    .await?;
                sqlx::query(NOTE_BLOB_WRITE)
                    .bind(key)
                    .bind(now_ms)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            // One statement: it waits for SQLite's write lock like any other write.
            Pool::Sqlite(p) => {
                sqlx::query(NOTE_BLOB_WRITE)
                    .bind(key)
                    .bind(now_ms)
                    .execute(p)
                    .await?;
            }
        }
        Ok(())
    }

    async fn delete_blob_if_unused(
        &self,
        key: &str,
        cutoff_ms: i64,
        blobs: &dyn BlobStore,
    ) -> Result<bool> {
        // The same steps on both databases, under the key's lock; returning early drops
        // the transaction, which rolls back and releases the lock.
        macro_rules! decide_and_delete {
            ($tx:expr) => {{
                let mut tx = $tx;
                let written: Option<i64> = sqlx::query_scalar(BLOB_WRITTEN_MS)
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await?;
                if written.is_some_and(|w| w >= cutoff_ms) {
                    return Ok(false);
                }
                let refs: i64 = sqlx::query_scalar(BLOB_REFERENCES)
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await?;
                if refs > 0 {
                    return Ok(false);
                }
                // Another purge may have taken it first: count each deletion once. Delete
                // even when it reads as missing: a store may still list what it cannot
                // read (an upload cut off when an S3 node went down, seen with Garage).
                let deleted = blobs.exists(key).await?;
                blobs.delete(key).await?;
                sqlx::query(FORGET_BLOB).bind(key).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(deleted)
            }};
        }
        match &self.pool {
            Pool::Postgres(p) => {
                let mut tx = p.begin().await?;
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(blob_lock_id(key))
                    .execute(&mut *tx)
                    .await?;
                decide_and_delete!(tx)
            }
            Pool::Sqlite(p) => decide_and_delete!(p.begin_with("BEGIN IMMEDIATE").await?),
        }
    }

    async fn batch_records(
        &self,
        input_key: &str,
        first: u64,
        last: u64,
    ) -> Result<Vec<BatchRecord>> {
        self.read_batch_records(input_key, first, last).await
    }

    async fn record_batch_row(
        &self,
        input_key: &str,
        record: &BatchRecord,
        now_ms: i64,
    ) -> Result<()> {
        self.write_batch_row(input_key, record, now_ms).await
    }
}
