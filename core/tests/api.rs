//! The API end to end on the embedded default (real SQLite, real folder) against a real
//! HTTP server on 127.0.0.1.

mod support;

use std::sync::Arc;
use std::time::Duration;

use avatarium::clock::ManualClock;
use avatarium::store::{
    BlobMeta, BlobStore, MetaStore, ObjectBlobStore, PhotoRecord, SqlMetaStore,
};
use avatarium::{Client, Config, ErrorKind, Identity, Policies, PolicyChange};
use bytes::Bytes;
use serde_json::{json, Value};
use support::*;

async fn setup() -> (tempfile::TempDir, TestServer, Client) {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_files(&repo_root().join("conformance/files")).await;
    let client = test_client(dir.path(), &server).await;
    (dir, server, client)
}

fn uid(s: &str) -> Identity {
    Identity::uid(s)
}

#[tokio::test]
async fn import_pending_then_publish_writes_photo_and_exact_thumbnail() {
    let (_dir, server, client) = setup().await;
    let who = uid("alice");
    let r = client
        .import_profile_photo(&who, &server.url("/photo.jpg"), false)
        .await
        .unwrap();
    assert_eq!(r.uid, "alice");
    assert!(r.published.is_none());
    assert!(client.get_account_info(&who).await.unwrap().photo.is_none());

    let urls = client.publish_profile_photo(&who).await.unwrap();
    assert!(urls.photo_url.starts_with("file://") && urls.photo_url.ends_with(".jpg"));
    let photo = blob_at(&urls.photo_url);
    let thumb = blob_at(&urls.thumbnail_url);
    assert_eq!(dimensions(&photo), (320, 240));
    assert_eq!(dimensions(&thumb), (64, 64));
    // Content-addressed key: the file name is the SHA-256 of its bytes.
    let name = urls.photo_url.rsplit('/').next().unwrap();
    assert_eq!(name, format!("{}.jpg", sha256_hex(&photo)));

    let info = client.get_account_info(&who).await.unwrap();
    assert_eq!(info.photo.as_ref(), Some(&urls));
    // The pending slot is gone.
    let e = client.publish_profile_photo(&who).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingPhoto);
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

#[tokio::test]
async fn new_import_replaces_pending_photo() {
    let (_dir, server, client) = setup().await;
    let who = uid("bob");
    client
        .import_profile_photo(&who, &server.url("/photo.jpg"), false)
        .await
        .unwrap();
    client
        .import_profile_photo(&who, &server.url("/photo.png"), false)
        .await
        .unwrap();
    let urls = client.publish_profile_photo(&who).await.unwrap();
    assert!(urls.photo_url.ends_with(".png"), "{urls:?}");
    // Alpha: the thumbnail stays PNG.
    assert!(urls.thumbnail_url.ends_with(".png"));
}

#[tokio::test]
async fn upload_bytes_and_limits() {
    let (_dir, _server, client) = setup().await;
    let who = uid("carol");
    let r = client
        .set_profile_photo(&who, Bytes::from(fixture("photo.gif")), true)
        .await
        .unwrap();
    let urls = r.published.unwrap();
    assert!(urls.photo_url.ends_with(".png"));
    assert_eq!(dimensions(&blob_at(&urls.photo_url)), (120, 90));

    let e = client
        .set_profile_photo(
            &who,
            Bytes::from_static(b"GIF89a\x01\x00\x01\x00junk"),
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingPhoto);
    let e = client
        .set_profile_photo(&who, Bytes::from(vec![0xFF; 7 * 1024 * 1024]), false)
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.error_code()),
        (ErrorKind::PhotoTooLarge, 413004)
    );
}

#[tokio::test]
async fn regtoken_lifecycle_expiry_forgery_and_finalize() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_files(&repo_root().join("conformance/files")).await;
    let clock = ManualClock::starting_now();
    let client = Client::builder(test_config(dir.path(), &server))
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .unwrap();
    let reg = client.init_registration().await.unwrap();
    let who = Identity::reg_token(&reg.reg_token);
    let r = client
        .import_profile_photo(&who, &server.url("/photo.jpg"), true)
        .await
        .unwrap();
    assert_eq!(r.uid, reg.uid);
    assert!(!client.get_account_info(&who).await.unwrap().is_registered);

    // Forged: flip one character of the signature.
    let mut forged = reg.reg_token.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    let e = client
        .get_account_info(&Identity::reg_token(String::from_utf8(forged).unwrap()))
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), 403005);

    // Expired after one hour.
    clock.advance_secs(3601);
    let e = client.get_account_info(&who).await.unwrap_err();
    assert_eq!(e.error_code(), 403005);
    assert!(e.details().contains("expired"), "{}", e.details());

    // A fresh token, finalized, is refused afterwards; the UID keeps working.
    let reg = client.init_registration().await.unwrap();
    let info = client.finalize_registration(&reg.reg_token).await.unwrap();
    assert!(info.is_registered);
    let e = client
        .finalize_registration(&reg.reg_token)
        .await
        .unwrap_err();
    assert!(e.details().contains("finalized"));
    let e = client
        .import_profile_photo(
            &Identity::reg_token(&reg.reg_token),
            &server.url("/photo.jpg"),
            false,
        )
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), 403005);
    assert!(
        client
            .get_account_info(&uid(&reg.uid))
            .await
            .unwrap()
            .is_registered
    );
}

#[tokio::test]
async fn tokens_survive_restart_and_key_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start().await;
    let mut config = test_config(dir.path(), &server);
    config.secrets = vec!["old-secret-0123456789".into()];
    let client = Client::open(config.clone()).await.unwrap();
    let reg = client.init_registration().await.unwrap();
    drop(client);
    config.secrets = vec![
        "new-secret-0123456789".into(),
        "old-secret-0123456789".into(),
    ];
    let rotated = Client::open(config.clone()).await.unwrap();
    let who = Identity::reg_token(&reg.reg_token);
    assert_eq!(rotated.get_account_info(&who).await.unwrap().uid, reg.uid);
    config.secrets = vec!["new-secret-0123456789".into()];
    let retired = Client::open(config).await.unwrap();
    assert_eq!(
        retired
            .get_account_info(&who)
            .await
            .unwrap_err()
            .error_code(),
        403005
    );
}

#[tokio::test]
async fn generated_secret_is_kept_in_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start().await;
    let a = test_client(dir.path(), &server).await;
    let reg = a.init_registration().await.unwrap();
    let b = test_client(dir.path(), &server).await;
    assert!(b
        .get_account_info(&Identity::reg_token(&reg.reg_token))
        .await
        .is_ok());
    let key = std::fs::read_to_string(dir.path().join("secret.key")).unwrap();
    assert_eq!(key.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("secret.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "secret readable by others: {mode:o}");
    }
}

#[tokio::test]
async fn pending_ttl_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_files(&repo_root().join("conformance/files")).await;
    let clock = ManualClock::starting_now();
    let mut config = test_config(dir.path(), &server);
    config.purge_grace_secs = 60;
    let client = Client::builder(config)
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .unwrap();
    let who = uid("dave");
    client
        .import_profile_photo(&who, &server.url("/photo.jpg"), true)
        .await
        .unwrap();
    client
        .import_profile_photo(&who, &server.url("/photo.png"), false)
        .await
        .unwrap();
    clock.advance_secs(24 * 3600 + 1);
    let e = client.publish_profile_photo(&who).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::MissingPhoto);
    assert!(e.details().contains("expired"));

    // The blobs' mtimes are real time; move the clock far enough that they pass the grace.
    clock.advance_secs(3600);
    let report = client.purge().await.unwrap();
    assert_eq!(report.expired_pending, 1);
    assert_eq!(
        report.blobs_deleted, 2,
        "the expired pending photo and its thumbnail"
    );
    // The published photo survives purge.
    let info = client.get_account_info(&who).await.unwrap();
    let urls = info.photo.unwrap();
    blob_at(&urls.photo_url);
    blob_at(&urls.thumbnail_url);
    // Nothing left to purge.
    assert_eq!(client.purge().await.unwrap(), Default::default());
}

#[tokio::test]
async fn purge_spares_young_blobs() {
    let (_dir, server, client) = setup().await;
    client
        .import_profile_photo(&uid("e"), &server.url("/photo.jpg"), false)
        .await
        .unwrap();
    client.remove_profile_photo(&uid("e")).await.unwrap();
    // Unreferenced now, but written a moment ago: within the grace period.
    assert_eq!(client.purge().await.unwrap().blobs_deleted, 0);
}

#[tokio::test]
async fn policies_shape_thumbnails_even_when_changed_after_import() {
    let (_dir, server, client) = setup().await;
    assert_eq!(client.policies().await.unwrap(), Policies::default());
    client
        .set_policies(PolicyChange {
            thumbnail_width: Some(100),
            thumbnail_height: Some(50),
            ..PolicyChange::default()
        })
        .await
        .unwrap();
    let who = uid("frank");
    let urls = client
        .import_profile_photo(&who, &server.url("/photo.jpg"), true)
        .await
        .unwrap()
        .published
        .unwrap();
    assert_eq!(dimensions(&blob_at(&urls.thumbnail_url)), (100, 50));

    client
        .import_profile_photo(&who, &server.url("/photo.jpg"), false)
        .await
        .unwrap();
    client
        .set_policies(PolicyChange {
            thumbnail_width: Some(30),
            thumbnail_height: Some(40),
            ..PolicyChange::default()
        })
        .await
        .unwrap();
    let urls = client.publish_profile_photo(&who).await.unwrap();
    assert_eq!(dimensions(&blob_at(&urls.thumbnail_url)), (30, 40));

    let e = client
        .set_policies(PolicyChange {
            thumbnail_width: Some(0),
            thumbnail_height: Some(10),
            ..PolicyChange::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), 400006);
    let e = client
        .set_policies(PolicyChange {
            thumbnail_width: Some(10),
            thumbnail_height: Some(5000),
            ..PolicyChange::default()
        })
        .await
        .unwrap_err();
    assert!(e.details().contains("thumbnailHeight"));
}

#[tokio::test]
async fn fetch_failures_map_to_codes() {
    let (_dir, server, client) = setup().await;
    let who = uid("gina");
    server.route("/hang", support::Reply::Hang);
    server.route("/gone", support::Reply::Status(410));
    let e = client
        .import_profile_photo(&who, &server.url("/gone"), false)
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), 404004);
    let e = client
        .import_profile_photo(&who, &server.url("/hang"), false)
        .await
        .unwrap_err();
    assert_eq!((e.error_code(), e.status_code()), (504002, 504));
    // The default configuration refuses loopback: no connection is made.
    let dir = tempfile::tempdir().unwrap();
    let strict = Client::open(Config {
        data_dir: dir.path().into(),
        ..Config::default()
    })
    .await
    .unwrap();
    let before = server.connections();
    let e = strict
        .import_profile_photo(&who, &server.url("/photo.jpg"), false)
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), 404004);
    assert!(
        !e.details().contains("127.0.0.1"),
        "internal address echoed: {}",
        e.details()
    );
    assert_eq!(server.connections(), before);
}

#[tokio::test]
async fn unknown_uid_reads_are_unauthorized_and_first_write_creates() {
    let (_dir, server, client) = setup().await;
    for e in [
        client.get_account_info(&uid("nobody")).await.unwrap_err(),
        client
            .publish_profile_photo(&uid("nobody"))
            .await
            .unwrap_err(),
        client
            .remove_profile_photo(&uid("nobody"))
            .await
            .unwrap_err(),
    ] {
        assert_eq!(e.error_code(), 403005);
    }
    client
        .import_profile_photo(&uid("nobody"), &server.url("/photo.jpg"), false)
        .await
        .unwrap();
    assert!(
        client
            .get_account_info(&uid("nobody"))
            .await
            .unwrap()
            .is_registered
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_imports_end_with_one_consistent_pending_photo() {
    let (_dir, server, client) = setup().await;
    let who = uid("race");
    let (jpg, png) = (server.url("/photo.jpg"), server.url("/photo.png"));
    let (a, b) = tokio::join!(
        client.import_profile_photo(&who, &jpg, false),
        client.import_profile_photo(&who, &png, false),
    );
    a.unwrap();
    b.unwrap();
    // Two publishes race: exactly one wins, the other finds nothing pending.
    let (p1, p2) = tokio::join!(
        client.publish_profile_photo(&who),
        client.publish_profile_photo(&who)
    );
    let winners: Vec<_> = [p1, p2]
        .into_iter()
        .filter_map(|r| match r {
            Ok(u) => Some(u),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::MissingPhoto);
                None
            }
        })
        .collect();
    assert_eq!(winners.len(), 1);
    let info = client.get_account_info(&who).await.unwrap().photo.unwrap();
    assert_eq!(info, winners[0]);
    let photo = blob_at(&info.photo_url);
    let thumb = blob_at(&info.thumbnail_url);
    // The thumbnail belongs to the photo that won: same format family.
    assert_eq!(
        info.photo_url.ends_with(".png"),
        info.thumbnail_url.ends_with(".png")
    );
    assert!(!photo.is_empty() && !thumb.is_empty());
}

/// A metadata store that fails every write after the blobs are in: a crash between the two.
#[derive(Debug)]
struct FailingWrites(SqlMetaStore);

#[async_trait::async_trait]
impl MetaStore for FailingWrites {
    async fn create_account(&self, uid: &str, r: bool, now: i64) -> avatarium::error::Result<bool> {
        self.0.create_account(uid, r, now).await
    }
    async fn ensure_account(&self, uid: &str, now: i64) -> avatarium::error::Result<()> {
        self.0.ensure_account(uid, now).await
    }
    async fn account(
        &self,
        uid: &str,
    ) -> avatarium::error::Result<Option<avatarium::store::AccountRecord>> {
        self.0.account(uid).await
    }
    async fn finalize(&self, uid: &str) -> avatarium::error::Result<bool> {
        self.0.finalize(uid).await
    }
    async fn set_pending(&self, _: &str, _: &PhotoRecord) -> avatarium::error::Result<bool> {
        Err(avatarium::Error::internal("disk on fire at /secret/path"))
    }
    async fn publish_photo(&self, _: &str, _: &PhotoRecord) -> avatarium::error::Result<bool> {
        Err(avatarium::Error::internal("disk on fire at /secret/path"))
    }
    async fn publish_pending(
        &self,
        u: &str,
        p: &str,
        t: &str,
        r: &[avatarium::store::RenditionRecord],
        n: i64,
    ) -> avatarium::error::Result<bool> {
        self.0.publish_pending(u, p, t, r, n).await
    }
    async fn remove_photos(&self, uid: &str) -> avatarium::error::Result<bool> {
        self.0.remove_photos(uid).await
    }
    async fn thumbnail_policy(
        &self,
    ) -> avatarium::error::Result<Option<avatarium::store::PolicyRecord>> {
        self.0.thumbnail_policy().await
    }
    async fn set_thumbnail_policy(
        &self,
        p: &avatarium::store::PolicyRecord,
    ) -> avatarium::error::Result<()> {
        self.0.set_thumbnail_policy(p).await
    }
    async fn purge_expired_pending(&self, before: i64) -> avatarium::error::Result<u64> {
        self.0.purge_expired_pending(before).await
    }
    async fn purge_abandoned_registrations(&self, before: i64) -> avatarium::error::Result<u64> {
        self.0.purge_abandoned_registrations(before).await
    }
    async fn referenced_keys(&self) -> avatarium::error::Result<std::collections::HashSet<String>> {
        self.0.referenced_keys().await
    }
    async fn is_referenced(&self, key: &str) -> avatarium::error::Result<bool> {
        self.0.is_referenced(key).await
    }
    async fn end_sessions(
        &self,
        end: &avatarium::store::SessionEnd,
        expires: i64,
    ) -> avatarium::error::Result<()> {
        self.0.end_sessions(end, expires).await
    }
    async fn session_ended(&self, s: &str, u: &str, at: i64) -> avatarium::error::Result<bool> {
        self.0.session_ended(s, u, at).await
    }
    async fn purge_session_ends(&self, now: i64) -> avatarium::error::Result<u64> {
        self.0.purge_session_ends(now).await
    }
    async fn ping(&self) -> avatarium::error::Result<()> {
        self.0.ping().await
    }
    // Purge coordination works: only the account writes are broken.
    async fn note_blob_write(&self, key: &str, now: i64) -> avatarium::error::Result<()> {
        self.0.note_blob_write(key, now).await
    }
    async fn delete_blob_if_unused(
        &self,
        key: &str,
        cutoff: i64,
        blobs: &dyn BlobStore,
    ) -> avatarium::error::Result<bool> {
        self.0.delete_blob_if_unused(key, cutoff, blobs).await
    }
    async fn batch_records(
        &self,
        key: &str,
        first: u64,
        last: u64,
    ) -> avatarium::error::Result<Vec<avatarium::store::BatchRecord>> {
        self.0.batch_records(key, first, last).await
    }
    async fn record_batch_row(
        &self,
        key: &str,
        record: &avatarium::store::BatchRecord,
        now: i64,
    ) -> avatarium::error::Result<()> {
        self.0.record_batch_row(key, record, now).await
    }
}

#[tokio::test]
async fn crash_between_blob_and_metadata_leaves_only_orphans_that_purge_removes() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_files(&repo_root().join("conformance/files")).await;
    let db = format!("sqlite://{}", dir.path().join("meta.db").display());
    let sql = SqlMetaStore::connect(&db).await.unwrap();
    let blobs = Arc::new(ObjectBlobStore::local(&dir.path().join("blobs")).unwrap());
    let mut config = test_config(dir.path(), &server);
    config.purge_grace_secs = 0;
    let broken = Client::builder(config.clone())
        .meta_store(Arc::new(FailingWrites(sql.clone())))
        .blob_store(blobs.clone())
        .build()
        .await
        .unwrap();
    let who = uid("henry");
    let r = broken
        .call(
            "accounts.importProfilePhoto",
            &json!({"UID": "henry", "url": server.url("/photo.jpg"), "publish": true}),
        )
        .await;
    assert_eq!(r.error_code(), 500001);
    assert_eq!(
        r.envelope().get("errorDetails"),
        Some(&json!("Internal error")),
        "cause leaked: {r:?}"
    );
    // Blobs were written, the profile points at nothing.
    assert_eq!(blobs.list().await.unwrap().len(), 2);
    let healthy = Client::builder(config)
        .meta_store(Arc::new(sql))
        .blob_store(blobs.clone())
        .build()
        .await
        .unwrap();
    assert!(healthy
        .get_account_info(&who)
        .await
        .unwrap()
        .photo
        .is_none());
    tokio::time::sleep(Duration::from_millis(20)).await;
    let report = healthy.purge().await.unwrap();
    assert_eq!(report.blobs_deleted, 2);
    assert!(blobs.list().await.unwrap().is_empty());
}

/// A blob store that is down.
#[derive(Debug)]
struct DownBlobs;

#[async_trait::async_trait]
impl BlobStore for DownBlobs {
    async fn put(&self, _: &str, _: Bytes) -> avatarium::error::Result<()> {
        Err(avatarium::Error::internal("connection refused"))
    }
    async fn get(&self, _: &str) -> avatarium::error::Result<Bytes> {
        Err(avatarium::Error::internal("connection refused"))
    }
    async fn exists(&self, _: &str) -> avatarium::error::Result<bool> {
        Err(avatarium::Error::internal("connection refused"))
    }
    async fn delete(&self, _: &str) -> avatarium::error::Result<()> {
        Err(avatarium::Error::internal("connection refused"))
    }
    async fn ping(&self) -> avatarium::error::Result<()> {
        Err(avatarium::Error::internal("connection refused"))
    }
    async fn list(&self) -> avatarium::error::Result<Vec<BlobMeta>> {
        Err(avatarium::Error::internal("connection refused"))
    }
}

#[tokio::test]
async fn storage_down_is_500001_and_nothing_half_published() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_files(&repo_root().join("conformance/files")).await;
    let client = Client::builder(test_config(dir.path(), &server))
        .blob_store(Arc::new(DownBlobs))
        .build()
        .await
        .unwrap();
    let r = client
        .call(
            "accounts.setProfilePhoto",
            &json!({"UID": "ivy", "photoBytes": base64_of("photo.jpg"), "publish": true}),
        )
        .await;
    assert_eq!((r.error_code(), r.status_code()), (500001, 500));
    assert_eq!(
        r.envelope().get("errorMessage"),
        Some(&json!("General server error"))
    );
    let info = client
        .call("accounts.getAccountInfo", &json!({"UID": "ivy"}))
        .await;
    assert_eq!(info.envelope().get("profile"), Some(&json!({})));
}

fn base64_of(name: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(fixture(name))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_beyond_the_queue_fail_fast() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_files(&repo_root().join("conformance/files")).await;
    server.route(
        "/slow",
        support::Reply::Trickle(
            fixture("photo.jpg")[..40].to_vec(),
            Duration::from_millis(50),
        ),
    );
    let mut config = test_config(dir.path(), &server);
    // Slow fetches hold fetch slots (their own bound), never decode slots (issue 14).
    config.max_concurrent_fetches = 1;
    config.max_queued_fetches = 1;
    let client = Client::open(config).await.unwrap();
    let slow = |c: Client, s: TestServer, u: &'static str| async move {
        c.import_profile_photo(&uid(u), &s.url("/slow"), false)
            .await
    };
    let first = tokio::spawn(slow(client.clone(), server.clone(), "q1"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = tokio::spawn(slow(client.clone(), server.clone(), "q2"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = client
        .call(
            "accounts.importProfilePhoto",
            &json!({"UID": "q3", "url": server.url("/photo.jpg")}),
        )
        .await;
    if r.error_code() != 503001 {
        panic!(
            "{r:?}; first: {:?}; second: {:?}",
            first.await,
            second.await
        );
    }
    assert_eq!(r.status_code(), 503);
    // The running and the queued one finish (as bad photos: the body is truncated).
    assert_eq!(
        first.await.unwrap().unwrap_err().kind(),
        ErrorKind::MissingPhoto
    );
    assert_eq!(
        second.await.unwrap().unwrap_err().kind(),
        ErrorKind::MissingPhoto
    );
    // Capacity is back.
    assert!(client
        .import_profile_photo(&uid("q3"), &server.url("/photo.jpg"), false)
        .await
        .is_ok());
}

#[tokio::test]
async fn envelope_shape_and_context() {
    let (_dir, _server, client) = setup().await;
    let r = client
        .call("accounts.getPolicies", &json!({"context": {"a": 1}}))
        .await
        .into_value();
    assert_eq!(r["context"], json!({"a": 1}));
    assert_eq!(r["statusReason"], "OK");
    let r = client
        .call("accounts.getPolicies", &Value::String("x".into()))
        .await;
    assert_eq!(r.error_code(), 400006);
    let r = client
        .call(
            "accounts.getAccountInfo",
            &json!({"UID": "x", "regToken": "y"}),
        )
        .await;
    assert_eq!(r.error_code(), 400006);
    let r = client.call("accounts.getAccountInfo", &json!({})).await;
    assert_eq!(r.error_code(), 400002);
    assert!(r
        .envelope()
        .get("errorDetails")
        .unwrap()
        .as_str()
        .unwrap()
        .contains("UID or regToken"));
}

#[tokio::test]
async fn stored_urls_are_sanitised() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::with_files(&repo_root().join("conformance/files")).await;
    let mut config = test_config(dir.path(), &server);
    config.public_base_url = Some("https://cdn.example/a\"b'<c>/".into());
    let client = Client::open(config).await.unwrap();
    let urls = client
        .set_profile_photo(&uid("j"), Bytes::from(fixture("photo.jpg")), true)
        .await
        .unwrap()
        .published
        .unwrap();
    assert!(
        urls.photo_url
            .starts_with("https://cdn.example/a%22b%27%3Cc%3E/"),
        "{}",
        urls.photo_url
    );
}
