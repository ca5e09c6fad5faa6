//! The storage layer on both backends: SQLite + folder and PostgreSQL + S3 (see
//! `support::scale` for how the services are found). Migrations, the account statements
//! under concurrency, the blob stores, and the purge lock that keeps a deletion and a
//! write of the same key apart across processes.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use avatarium::pipeline::{ThumbnailCrop, ThumbnailScales};
use avatarium::store::{
    BlobMeta, BlobStore, MetaStore, ObjectBlobStore, PhotoRecord, PolicyRecord, RenditionKind,
    RenditionRecord, S3Location, SqlMetaStore,
};
use bytes::Bytes;
use sqlx::Connection;
use support::scale::{kinds, Backend, Kind};

fn photo(key: &str, created_ms: i64) -> PhotoRecord {
    let rendition = |kind, key: String, side, scale| RenditionRecord {
        kind,
        key,
        width: side,
        height: side,
        scale,
    };
    PhotoRecord {
        photo_key: format!("{key}.jpg"),
        thumb_key: format!("{key}-t.jpg"),
        thumb_width: 64,
        thumb_height: 64,
        thumb_crop: ThumbnailCrop::Attention,
        renditions: vec![
            rendition(RenditionKind::Photo, format!("{key}.jpg"), 500, 1),
            rendition(RenditionKind::Thumbnail, format!("{key}-t.jpg"), 64, 1),
            rendition(RenditionKind::Thumbnail, format!("{key}-t2.jpg"), 128, 2),
        ],
        created_ms,
    }
}

async fn schema_versions(b: &Backend) -> Vec<i64> {
    let sql = "SELECT version FROM avatarium_schema ORDER BY version";
    match &b.database_url {
        Some(url) => {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
        }
        None => {
            let url = format!("sqlite://{}", b.dir.path().join("avatarium.db").display());
            let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
            sqlx::query_scalar(sql).fetch_all(&mut c).await.unwrap()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_run_once_even_when_processes_start_together() {
    for kind in kinds() {
        let b = Backend::new(kind).await;
        // Six stores connect to a fresh database at once: one migrates, the rest wait.
        let stores = futures::future::join_all((0..6).map(|_| b.meta())).await;
        let versions = schema_versions(&b).await;
        let n = i64::try_from(versions.len()).unwrap();
        assert!(n >= 8, "{}: {versions:?}", b.label());
        assert_eq!(
            versions,
            (1..=n).collect::<Vec<_>>(),
            "{}: each step once, in order",
            b.label()
        );
        // Reconnecting applies nothing new.
        drop(stores);
        b.meta().await;
        assert_eq!(schema_versions(&b).await.len(), versions.len());
    }
}

/// Several processes opening a brand-new SQLite file at once (the embedded default, first
/// start): each waits for the one that creates the schema instead of failing "database is
/// locked".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_sqlite_file_opened_by_many_at_once() {
    for round in 0..40 {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("avatarium.db").display());
        let opens = (0..10).map(|_| SqlMetaStore::connect(&url));
        for (i, r) in futures::future::join_all(opens)
            .await
            .into_iter()
            .enumerate()
        {
            let store = r.unwrap_or_else(|e| panic!("round {round}, store {i}: {e:?}"));
            store.close().await;
        }
    }
}

#[tokio::test]
async fn an_older_schema_is_brought_up_to_date() {
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let meta = b.meta().await;
        meta.create_account("old", true, 1).await.unwrap();
        meta.close().await;
        // Roll the schema back to the first three steps (before the scale-out tables and
        // the renditions).
        let rollback = [
            "DROP TABLE avatarium_blob_writes",
            "DROP INDEX avatarium_accounts_photo_key",
            "DROP TABLE avatarium_renditions",
            "ALTER TABLE avatarium_policies DROP COLUMN thumb_crop",
            "ALTER TABLE avatarium_policies DROP COLUMN thumb_scales",
            "ALTER TABLE avatarium_accounts DROP COLUMN pending_thumb_crop",
            "DELETE FROM avatarium_schema WHERE version > 3",
        ];
        match &b.database_url {
            Some(url) => {
                let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                for s in rollback {
                    sqlx::query(s).execute(&mut c).await.unwrap();
                }
            }
            None => {
                let url = format!("sqlite://{}", b.dir.path().join("avatarium.db").display());
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                for s in rollback {
                    sqlx::query(s).execute(&mut c).await.unwrap();
                }
            }
        }
        let meta = b.meta().await;
        assert!(schema_versions(&b).await.len() >= 8, "{}", b.label());
        // The old account survived, and the new table works.
        assert!(meta.account("old").await.unwrap().is_some());
        meta.note_blob_write("k.jpg", 5).await.unwrap();
        assert!(meta.thumbnail_policy().await.unwrap().is_none());
        assert!(meta.is_referenced("k.jpg").await.is_ok());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_statements_are_atomic_under_concurrency() {
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let label = b.label();
        // Two stores on the same database: two processes.
        let (m1, m2) = (Arc::new(b.meta().await), Arc::new(b.meta().await));
        assert!(m1.create_account("u", false, 10).await.unwrap());
        assert!(
            !m2.create_account("u", true, 11).await.unwrap(),
            "{label}: a UID is created once"
        );
        m2.ensure_account("v", 12).await.unwrap();
        m1.ensure_account("v", 13).await.unwrap();
        let v = m1.account("v").await.unwrap().unwrap();
        assert!(v.is_registered && v.created_ms == 12, "{label}: {v:?}");

        // Concurrent set_pending: the last write wins whole (photo and its thumbnail agree).
        let writes = (0..16).map(|i| {
            let m = if i % 2 == 0 { m1.clone() } else { m2.clone() };
            async move {
                m.set_pending("u", &photo(&format!("p{i}"), 100 + i))
                    .await
                    .unwrap()
            }
        });
        assert!(futures::future::join_all(writes)
            .await
            .into_iter()
            .all(|ok| ok));
        let pending = m1.account("u").await.unwrap().unwrap().pending.unwrap();
        let stem = pending.photo_key.trim_end_matches(".jpg");
        assert_eq!(
            pending.thumb_key,
            format!("{stem}-t.jpg"),
            "{label}: torn pending record"
        );

        // Racing publishes of that pending photo: exactly one wins.
        let publishes = (0..12).map(|i| {
            let m = if i % 2 == 0 { m1.clone() } else { m2.clone() };
            let (p, t) = (pending.photo_key.clone(), pending.thumb_key.clone());
            let r = pending.renditions.clone();
            async move { m.publish_pending("u", &p, &t, &r, 0).await.unwrap() }
        });
        let won = futures::future::join_all(publishes)
            .await
            .into_iter()
            .filter(|w| *w)
            .count();
        assert_eq!(won, 1, "{label}");
        let acc = m2.account("u").await.unwrap().unwrap();
        assert_eq!(
            acc.published,
            Some((pending.photo_key.clone(), pending.thumb_key.clone()))
        );
        assert!(acc.pending.is_none());
        // The renditions moved with it, read back in answer order.
        assert_eq!(acc.published_renditions, pending.renditions, "{label}");
        assert_eq!(pending.thumb_crop, ThumbnailCrop::Attention);
        let scales: Vec<u32> = acc.published_renditions.iter().map(|r| r.scale).collect();
        assert_eq!(scales, [1, 1, 2], "{label}");
        let t2 = format!("{stem}-t2.jpg");
        assert!(m1.is_referenced(&t2).await.unwrap(), "{label}");

        // A stale publish (the pending photo was replaced) does nothing.
        m1.set_pending("u", &photo("new", 500)).await.unwrap();
        assert!(!m2
            .publish_pending("u", "p0.jpg", "p0-t.jpg", &[], 0)
            .await
            .unwrap());
        // TTL: a pending photo older than not_before is not published.
        assert!(!m2
            .publish_pending("u", "new.jpg", "new-t.jpg", &[], 501)
            .await
            .unwrap());

        let refs = m1.referenced_keys().await.unwrap();
        assert!(
            refs.contains("new.jpg") && refs.contains(&pending.photo_key),
            "{label}: {refs:?}"
        );
        assert!(
            refs.contains("new-t2.jpg") && refs.contains(&t2),
            "{label}: {refs:?}"
        );
        assert_eq!(m2.purge_expired_pending(501).await.unwrap(), 1);
        assert!(m1.account("u").await.unwrap().unwrap().pending.is_none());
        // The expired photo's renditions went with it; the published ones stay.
        assert!(!m1.is_referenced("new-t2.jpg").await.unwrap(), "{label}");
        assert!(m1.is_referenced(&t2).await.unwrap(), "{label}");

        m1.publish_photo("u", &photo("direct", 600)).await.unwrap();
        assert_eq!(
            m2.account("u").await.unwrap().unwrap().published.unwrap().0,
            "direct.jpg"
        );
        assert!(m1.is_referenced("direct-t2.jpg").await.unwrap(), "{label}");
        assert!(!m1.is_referenced(&t2).await.unwrap(), "{label}: replaced");
        assert!(m2.remove_photos("u").await.unwrap());
        assert!(!m2.remove_photos("nobody").await.unwrap());
        assert!(m1.referenced_keys().await.unwrap().is_empty(), "{label}");
        assert!(!m1.is_referenced("direct-t2.jpg").await.unwrap(), "{label}");
        assert!(m1
            .account("u")
            .await
            .unwrap()
            .unwrap()
            .published_renditions
            .is_empty());

        assert!(m1.finalize("u").await.unwrap());
        assert!(!m2.finalize("u").await.unwrap(), "{label}: finalized once");

        assert_eq!(m1.thumbnail_policy().await.unwrap(), None);
        let policy = |w, h, crop, scales: &[i64]| PolicyRecord {
            thumb_width: w,
            thumb_height: h,
            thumb_crop: crop,
            thumb_scales: ThumbnailScales::from_list(scales).unwrap(),
        };
        m1.set_thumbnail_policy(&policy(100, 50, ThumbnailCrop::Center, &[1]))
            .await
            .unwrap();
        let last = policy(30, 40, ThumbnailCrop::Attention, &[1, 2, 4]);
        m2.set_thumbnail_policy(&last).await.unwrap();
        assert_eq!(m1.thumbnail_policy().await.unwrap(), Some(last));
    }
}

/// What `initRegistration` with the public apiKey alone leaves behind: purge deletes an
/// account never finalized, created before the cut-off, with no published photo (its
/// pending photo with it), and nothing else; on both backends' SQL.
#[tokio::test]
async fn purge_deletes_abandoned_registrations_only() {
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let label = b.label();
        let m = b.meta().await;
        assert!(m.create_account("abandoned", false, 10).await.unwrap());
        assert!(m.set_pending("abandoned", &photo("a", 10)).await.unwrap());
        assert!(m.create_account("bare", false, 10).await.unwrap());
        assert!(m.create_account("finalized", false, 10).await.unwrap());
        assert!(m.finalize("finalized").await.unwrap());
        assert!(m.create_account("published", false, 10).await.unwrap());
        assert!(m.publish_photo("published", &photo("p", 10)).await.unwrap());
        m.ensure_account("server", 10).await.unwrap();
        // Created at the cut-off: its regToken is still valid.
        assert!(m.create_account("recent", false, 1000).await.unwrap());

        assert_eq!(
            m.purge_abandoned_registrations(1000).await.unwrap(),
            2,
            "{label}"
        );
        for gone in ["abandoned", "bare"] {
            assert!(m.account(gone).await.unwrap().is_none(), "{label}: {gone}");
        }
        for kept in ["finalized", "published", "server", "recent"] {
            assert!(m.account(kept).await.unwrap().is_some(), "{label}: {kept}");
        }
        // The pending photo's keys are unreferenced now: the blob sweep takes them.
        let refs = m.referenced_keys().await.unwrap();
        assert!(
            !refs.contains("a.jpg") && refs.contains("p.jpg"),
            "{label}: {refs:?}"
        );
        assert_eq!(m.purge_abandoned_registrations(1000).await.unwrap(), 0);
    }
}

#[tokio::test]
async fn blob_stores_round_trip_and_prefixes_isolate() {
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let label = b.label();
        let blobs = b.blobs.clone();
        // Keys as the engine makes them: SHA-256 hex and an extension.
        let (abc, def) = (
            format!("{}.jpg", "a".repeat(64)),
            format!("{}.png", "d".repeat(64)),
        );
        assert!(
            blobs.list().await.unwrap().is_empty(),
            "{label}: fresh store"
        );
        blobs.put(&abc, Bytes::from_static(b"one")).await.unwrap();
        blobs.put(&abc, Bytes::from_static(b"one")).await.unwrap(); // idempotent
        blobs.put(&def, Bytes::from_static(b"two")).await.unwrap();
        assert_eq!(blobs.get(&abc).await.unwrap(), Bytes::from_static(b"one"));
        assert!(blobs.exists(&def).await.unwrap());
        assert!(!blobs.exists("nope.png").await.unwrap());
        assert_eq!(
            blobs.get("nope.png").await.unwrap_err().error_code(),
            500001
        );
        let mut listed: Vec<BlobMeta> = blobs.list().await.unwrap();
        listed.sort_by(|a, b| a.key.cmp(&b.key));
        assert_eq!(
            listed.iter().map(|m| m.key.as_str()).collect::<Vec<_>>(),
            [abc.as_str(), def.as_str()]
        );
        let now = avatarium::clock::Clock::now_ms(&avatarium::clock::SystemClock);
        for m in &listed {
            assert!(
                (m.last_modified_ms - now).abs() < 120_000,
                "{label}: last_modified {m:?}"
            );
        }
        blobs.delete(&abc).await.unwrap();
        blobs.delete(&abc).await.unwrap(); // missing is fine
        assert!(!blobs.exists(&abc).await.unwrap());
        // Other objects in the same place are not the engine's: not listed, so never purged.
        blobs
            .put("readme.txt", Bytes::from_static(b"hello"))
            .await
            .unwrap();
        assert_eq!(blobs.list().await.unwrap().len(), 1, "{label}");
        assert!(blobs.exists("readme.txt").await.unwrap());
        // Keys are our own hashes: anything path-like is refused before any request.
        for bad in ["../x", "a/b", "", "a b"] {
            assert_eq!(
                blobs.put(bad, Bytes::new()).await.unwrap_err().error_code(),
                500001,
                "{bad:?}"
            );
        }
        if kind == Kind::Scale {
            // Another prefix of the same bucket sees none of it.
            let other = Backend::new(Kind::Scale).await;
            assert!(other.blobs.list().await.unwrap().is_empty());
            // Several nodes of the cluster serve the same bucket.
            for spec in &b.blob_stores[1..] {
                let node = ObjectBlobStore::s3(&S3Location::parse(spec).unwrap()).unwrap();
                assert_eq!(node.get(&def).await.unwrap(), Bytes::from_static(b"two"));
            }
        }
    }
}

/// A blob store whose deletes wait for a signal: purge holds the key's lock meanwhile.
#[derive(Debug)]
struct SlowDeletes {
    inner: Arc<dyn BlobStore>,
    entered: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Notify>,
    deletes: AtomicUsize,
}

#[async_trait::async_trait]
impl BlobStore for SlowDeletes {
    async fn put(&self, key: &str, bytes: Bytes) -> avatarium::error::Result<()> {
        self.inner.put(key, bytes).await
    }
    async fn get(&self, key: &str) -> avatarium::error::Result<Bytes> {
        self.inner.get(key).await
    }
    async fn exists(&self, key: &str) -> avatarium::error::Result<bool> {
        self.inner.exists(key).await
    }
    async fn delete(&self, key: &str) -> avatarium::error::Result<()> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.entered.notify_one();
        self.release.notified().await;
        self.inner.delete(key).await
    }
    async fn ping(&self) -> avatarium::error::Result<()> {
        self.inner.ping().await
    }
    async fn list(&self) -> avatarium::error::Result<Vec<BlobMeta>> {
        self.inner.list().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_decisions_and_writes_of_the_same_key_exclude_each_other() {
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let label = b.label();
        let purger = Arc::new(b.meta().await);
        let writer = Arc::new(b.meta().await); // another process
        let blobs = b.blobs.clone();
        blobs.put("k.jpg", Bytes::from_static(b"k")).await.unwrap();

        // A recent write protects the key; an old one does not.
        writer.note_blob_write("k.jpg", 1_000).await.unwrap();
        assert!(
            !purger
                .delete_blob_if_unused("k.jpg", 1_000, blobs.as_ref())
                .await
                .unwrap(),
            "{label}"
        );
        assert!(blobs.exists("k.jpg").await.unwrap());
        // A referenced key is never deleted, however old.
        writer.ensure_account("w", 1).await.unwrap();
        writer.set_pending("w", &photo("k", 2)).await.unwrap();
        assert!(
            !purger
                .delete_blob_if_unused("k.jpg", 5_000, blobs.as_ref())
                .await
                .unwrap(),
            "{label}"
        );
        writer.remove_photos("w").await.unwrap();
        assert!(
            purger
                .delete_blob_if_unused("k.jpg", 5_000, blobs.as_ref())
                .await
                .unwrap(),
            "{label}"
        );
        assert!(!blobs.exists("k.jpg").await.unwrap());
        // Already gone: not counted twice.
        assert!(!purger
            .delete_blob_if_unused("k.jpg", 5_000, blobs.as_ref())
            .await
            .unwrap());

        // While a purge is deleting, a write of the same key waits for it to finish, so
        // the write lands after the deletion, never before it.
        blobs.put("k.jpg", Bytes::from_static(b"k")).await.unwrap();
        let slow = Arc::new(SlowDeletes {
            inner: blobs.clone(),
            entered: Arc::default(),
            release: Arc::default(),
            deletes: AtomicUsize::new(0),
        });
        let purge = {
            let (purger, slow) = (purger.clone(), slow.clone());
            tokio::spawn(async move {
                purger
                    .delete_blob_if_unused("k.jpg", i64::MAX, slow.as_ref())
                    .await
            })
        };
        slow.entered.notified().await;
        let note = {
            let writer = writer.clone();
            tokio::spawn(async move { writer.note_blob_write("k.jpg", 9_000).await })
        };
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(
            !note.is_finished(),
            "{label}: the write's note did not wait for the purge"
        );
        slow.release.notify_one();
        assert!(purge.await.unwrap().unwrap());
        note.await.unwrap().unwrap();
        assert_eq!(slow.deletes.load(Ordering::SeqCst), 1);
        // The note is in: a purge with an older cutoff leaves the rewritten blob alone.
        blobs.put("k.jpg", Bytes::from_static(b"k")).await.unwrap();
        assert!(!purger
            .delete_blob_if_unused("k.jpg", 9_000, blobs.as_ref())
            .await
            .unwrap());
        assert!(blobs.exists("k.jpg").await.unwrap(), "{label}");

        // Writes of different keys do not wait for each other's purges.
        blobs.put("x.jpg", Bytes::from_static(b"x")).await.unwrap();
        let purge = {
            let (purger, slow) = (purger.clone(), slow.clone());
            tokio::spawn(async move {
                purger
                    .delete_blob_if_unused("x.jpg", i64::MAX, slow.as_ref())
                    .await
            })
        };
        slow.entered.notified().await;
        if kind == Kind::Scale {
            // PostgreSQL locks per key (SQLite has one write lock for the whole file).
            tokio::time::timeout(
                Duration::from_secs(5),
                writer.note_blob_write("other.jpg", 1),
            )
            .await
            .expect("a note for another key waited for an unrelated purge")
            .unwrap();
        }
        slow.release.notify_one();
        assert!(purge.await.unwrap().unwrap());
    }
}

#[tokio::test]
async fn a_down_database_fails_fast_with_500001() {
    // A port nothing listens on: connecting fails (no hang), as a storage error.
    let started = std::time::Instant::now();
    let e = SqlMetaStore::connect("postgres://postgres@127.0.0.1:9/none")
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), 500001);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let e = SqlMetaStore::connect("mysql://x").await.unwrap_err();
    assert_eq!(e.error_code(), 400006);
}

/// The readiness probes on both backends: both stores answer; a database rolled back to an
/// older schema fails the metadata probe; blobs the store refuses (an S3 key pair the
/// server does not know, a folder that is a file) fail the blob probe. Each answer is
/// quick: a refusal, not a wait for the probe's timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_probes_pass_on_healthy_stores_and_fail_on_broken_ones() {
    let timeout = Duration::from_secs(2);
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let client = avatarium::Client::open(b.config()).await.unwrap();
        let r = client.ready(timeout).await;
        assert!(r.is_ready(), "{}: {r:?}", b.label());
        b.meta().await.ping().await.unwrap();
        b.blobs.ping().await.unwrap();

        // The blobs refused.
        let broken = match kind {
            Kind::Scale => {
                let mut location = S3Location::parse(&b.blob_stores[0]).unwrap();
                location.secret_access_key = "not-the-secret-0123456789".into();
                location.max_retries = 0;
                let store: Arc<dyn BlobStore> = Arc::new(ObjectBlobStore::s3(&location).unwrap());
                avatarium::Client::builder(b.config())
                    .blob_store(store)
                    .build()
                    .await
                    .unwrap()
            }
            Kind::Embedded => {
                let blobs = b.dir.path().join("blobs");
                std::fs::remove_dir_all(&blobs).unwrap();
                std::fs::write(&blobs, b"not a folder").unwrap();
                client.clone()
            }
        };
        let asked = std::time::Instant::now();
        let r = broken.ready(timeout).await;
        let took = asked.elapsed();
        assert!(r.metadata.is_ok(), "{}: {r:?}", b.label());
        let e = r.blobs.as_ref().unwrap_err();
        assert_ne!(
            e.kind(),
            avatarium::ErrorKind::Timeout,
            "{}: {e}",
            b.label()
        );
        assert!(took < Duration::from_secs(1), "{}: {took:?}", b.label());

        // The database rolled back to schema 1 (a restore of an old backup).
        let sql = "DELETE FROM avatarium_schema WHERE version > 1";
        match &b.database_url {
            Some(url) => {
                let mut c = sqlx::PgConnection::connect(url).await.unwrap();
                sqlx::query(sql).execute(&mut c).await.unwrap();
            }
            None => {
                let url = format!("sqlite://{}", b.dir.path().join("avatarium.db").display());
                let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
                sqlx::query(sql).execute(&mut c).await.unwrap();
            }
        }
        let r = client.ready(timeout).await;
        let e = r.metadata.as_ref().unwrap_err();
        // The cause is kept for the log (the caller of /readyz sees only "failed").
        assert!(
            format!("{e:?}").contains("schema version 1"),
            "{}: {e:?}",
            b.label()
        );
        client.close().await.unwrap();
    }
}
