//! The API's storage behaviour on both backends (embedded default and PostgreSQL + S3):
//! what `api.rs` checks on the embedded default, plus several clients sharing one set of
//! stores (as several processes do), and every error code of SPEC.md through `call`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use avatarium::clock::ManualClock;
use avatarium::{Client, Config, ErrorKind, Identity, PolicyChange};
use base64::Engine;
use bytes::Bytes;
use serde_json::json;
use support::scale::{kinds, unique_png, Backend, Kind};
use support::{fixture, repo_root, Reply, TestServer};

async fn server() -> TestServer {
    TestServer::with_files(&repo_root().join("conformance/files")).await
}

/// The backend's configuration, allowed to fetch from `server`.
fn config(b: &Backend, server: &TestServer) -> Config {
    let mut c = b.config();
    c.allow_addresses = vec![server.addr.ip()];
    c.fetch_allowed_ports = vec![server.addr.port()];
    c.fetch_timeout_ms = 3000;
    c.fetch_connect_timeout_ms = 1000;
    c
}

/// A client ("process") on `c`'s stores, reading time from `clock`.
async fn open_with(c: Config, clock: &ManualClock) -> Client {
    Client::builder(c)
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .unwrap()
}

fn uid(s: &str) -> Identity {
    Identity::uid(s)
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(b))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn dimensions(bytes: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(bytes).expect("decodable output");
    (img.width(), img.height())
}

#[tokio::test]
async fn import_then_publish_stores_photo_and_thumbnail_under_content_keys() {
    let server = server().await;
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let client = Client::open(config(&b, &server)).await.unwrap();
        let who = uid("alice");
        let r = client
            .import_profile_photo(&who, &server.url("/photo.jpg"), false)
            .await
            .unwrap();
        assert!(r.published.is_none());
        assert!(client.get_account_info(&who).await.unwrap().photo.is_none());
        let urls = client.publish_profile_photo(&who).await.unwrap();
        if let Some(base) = &b.public_base_url {
            assert!(
                urls.photo_url.starts_with(base.as_str()),
                "{}: {urls:?}",
                b.label()
            );
        }
        let photo = b.blob_at(&urls.photo_url).await;
        let thumb = b.blob_at(&urls.thumbnail_url).await;
        assert_eq!(dimensions(&photo), (320, 240), "{}", b.label());
        assert_eq!(dimensions(&thumb), (64, 64));
        assert_eq!(
            b.key_of(&urls.photo_url),
            format!("{}.jpg", sha256_hex(&photo))
        );
        assert_eq!(
            client.get_account_info(&who).await.unwrap().photo,
            Some(urls)
        );
        let e = client.publish_profile_photo(&who).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingPhoto);

        // A new import replaces the pending photo; PNG with alpha keeps a PNG thumbnail.
        client
            .import_profile_photo(&who, &server.url("/photo.jpg"), false)
            .await
            .unwrap();
        client
            .import_profile_photo(&who, &server.url("/photo.png"), false)
            .await
            .unwrap();
        let urls = client.publish_profile_photo(&who).await.unwrap();
        assert!(
            urls.photo_url.ends_with(".png") && urls.thumbnail_url.ends_with(".png"),
            "{urls:?}"
        );
        b.blob_at(&urls.thumbnail_url).await;
    }
}

#[tokio::test]
async fn uploads_formats_and_limits() {
    let server = server().await;
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let client = Client::open(config(&b, &server)).await.unwrap();
        let who = uid("carol");
        let urls = client
            .set_profile_photo(&who, Bytes::from(fixture("photo.gif")), true)
            .await
            .unwrap()
            .published
            .unwrap();
        assert!(urls.photo_url.ends_with(".png"));
        assert_eq!(
            dimensions(&b.blob_at(&urls.photo_url).await),
            (120, 90),
            "{}",
            b.label()
        );
        let e = client
            .set_profile_photo(&who, Bytes::from_static(b"not an image at all"), false)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingPhoto);
        let e = client
            .set_profile_photo(&who, Bytes::from(vec![0xFF; 7 * 1024 * 1024]), false)
            .await
            .unwrap_err();
        assert_eq!(e.error_code(), 413004);
        // The published photo is untouched by the failures.
        assert_eq!(
            client.get_account_info(&who).await.unwrap().photo,
            Some(urls)
        );
    }
}

#[tokio::test]
async fn regtokens_from_one_client_work_in_another_sharing_the_secrets() {
    let server = server().await;
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let clock = ManualClock::starting_now();
        let mut c = config(&b, &server);
        c.secrets = vec!["shared-secret-0123456789".into()];
        let a = open_with(c.clone(), &clock).await;
        // Another client ("process") on the same stores, talking to another S3 node.
        let mut c2 = c.clone();
        b.apply(&mut c2, 1);
        let other = open_with(c2, &clock).await;

        let reg = a.init_registration().await.unwrap();
        let who = Identity::reg_token(&reg.reg_token);
        let r = other
            .import_profile_photo(&who, &server.url("/photo.jpg"), true)
            .await
            .unwrap();
        assert_eq!(r.uid, reg.uid, "{}", b.label());
        let info = a.get_account_info(&who).await.unwrap();
        assert!(!info.is_registered);
        assert_eq!(
            info.photo, r.published,
            "the same URLs whichever client serves"
        );
        assert_eq!(
            other
                .finalize_registration(&reg.reg_token)
                .await
                .unwrap()
                .uid,
            reg.uid
        );
        let e = a.finalize_registration(&reg.reg_token).await.unwrap_err();
        assert!(e.details().contains("finalized"), "{}", e.details());

        // A client with other secrets refuses the token: 403005.
        let mut c3 = c.clone();
        c3.secrets = vec!["another-secret-0123456789".into()];
        let stranger = Client::open(c3).await.unwrap();
        let reg = a.init_registration().await.unwrap();
        let e = stranger
            .get_account_info(&Identity::reg_token(&reg.reg_token))
            .await
            .unwrap_err();
        assert_eq!(e.error_code(), 403005);
        // Expiry holds everywhere.
        clock.advance_secs(3601);
        let e = other
            .get_account_info(&Identity::reg_token(&reg.reg_token))
            .await
            .unwrap_err();
        assert!(e.details().contains("expired"), "{}", e.details());
    }
}

/// Issue 16: a logout on one client ("process") ends the session for every other on the
/// same stores and for a client opened afterwards (a restart); "log out everywhere" by UID
/// too; expired sessions are refused everywhere.
#[tokio::test]
async fn sessions_end_in_every_client_on_both_backends() {
    let server = server().await;
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let clock = ManualClock::starting_now();
        let mut c = config(&b, &server);
        c.secrets = vec!["shared-secret-0123456789".into()];
        let a = open_with(c.clone(), &clock).await;
        let mut c2 = c.clone();
        b.apply(&mut c2, 1);
        let other = open_with(c2, &clock).await;

        let one = a.notify_login("sam").await.unwrap().cookie_value;
        let two = a.notify_login("sam").await.unwrap().cookie_value;
        let session = |t: &str| Identity::session(t);
        assert_eq!(
            other.get_account_info(&session(&one)).await.unwrap().uid,
            "sam"
        );
        // One session ended by the other client: refused by both, the second still works.
        other.logout(&session(&one)).await.unwrap();
        for (name, client) in [("a", &a), ("other", &other)] {
            let e = client.get_account_info(&session(&one)).await.unwrap_err();
            assert_eq!(e.error_code(), 403005, "{} {name}: {e}", b.label());
        }
        assert!(a.get_account_info(&session(&two)).await.is_ok());
        // Every session of the user, by UID, then a client opened afterwards.
        clock.advance_secs(1);
        a.logout(&uid("sam")).await.unwrap();
        let reopened = open_with(c.clone(), &clock).await;
        for (name, client) in [("other", &other), ("reopened", &reopened)] {
            let e = client.get_account_info(&session(&two)).await.unwrap_err();
            assert_eq!(e.error_code(), 403005, "{} {name}: {e}", b.label());
        }
        // A session issued after the logout works; once expired, nowhere.
        clock.advance_secs(1);
        let three = a.notify_login("sam").await.unwrap().cookie_value;
        assert!(other.get_account_info(&session(&three)).await.is_ok());
        clock.advance_secs(86_401);
        let e = other.get_account_info(&session(&three)).await.unwrap_err();
        assert_eq!(e.error_code(), 403005, "{}: {e}", b.label());
    }
}

#[tokio::test]
async fn pending_ttl_and_purge_counts_are_exact() {
    let server = server().await;
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let clock = ManualClock::starting_now();
        let mut c = config(&b, &server);
        c.purge_grace_secs = 60;
        let client = Client::builder(c)
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
            .set_profile_photo(&who, Bytes::from(unique_png(1)), false)
            .await
            .unwrap();
        // Replaced: the first pending photo is unreferenced now, but young, so spared.
        client
            .set_profile_photo(&who, Bytes::from(unique_png(2)), false)
            .await
            .unwrap();
        assert_eq!(
            client.purge().await.unwrap(),
            Default::default(),
            "{}",
            b.label()
        );

        // An object that is not the engine's shares the store: purge leaves it alone.
        b.blobs
            .put("readme.txt", Bytes::from_static(b"not ours"))
            .await
            .unwrap();
        clock.advance_secs(24 * 3600 + 1);
        let e = client.publish_profile_photo(&who).await.unwrap_err();
        assert!(e.details().contains("expired"));
        clock.advance_secs(3600);
        let report = client.purge().await.unwrap();
        assert_eq!(report.expired_pending, 1, "{}", b.label());
        assert_eq!(
            report.blobs_deleted,
            4,
            "{}: both pending photos and their thumbnails",
            b.label()
        );
        let urls = client.get_account_info(&who).await.unwrap().photo.unwrap();
        b.blob_at(&urls.photo_url).await;
        b.blob_at(&urls.thumbnail_url).await;
        assert_eq!(client.purge().await.unwrap(), Default::default());
        let mut keys: Vec<String> = b
            .blobs
            .list()
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect();
        keys.sort();
        let mut want = vec![b.key_of(&urls.photo_url), b.key_of(&urls.thumbnail_url)];
        want.sort();
        assert_eq!(keys, want, "{}: only the published blobs remain", b.label());
        assert!(b.blobs.exists("readme.txt").await.unwrap(), "{}", b.label());
    }
}

#[tokio::test]
async fn policies_are_shared_and_shape_thumbnails() {
    let server = server().await;
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let client = Client::open(config(&b, &server)).await.unwrap();
        let other = Client::open(config(&b, &server)).await.unwrap();
        client
            .set_policies(PolicyChange {
                thumbnail_width: Some(100),
                thumbnail_height: Some(50),
                ..PolicyChange::default()
            })
            .await
            .unwrap();
        assert_eq!(
            other.policies().await.unwrap().thumbnail_width,
            100,
            "{}",
            b.label()
        );
        let who = uid("frank");
        client
            .import_profile_photo(&who, &server.url("/photo.jpg"), false)
            .await
            .unwrap();
        other
            .set_policies(PolicyChange {
                thumbnail_width: Some(30),
                thumbnail_height: Some(40),
                ..PolicyChange::default()
            })
            .await
            .unwrap();
        // The policy changed after the import: the publish trims again.
        let urls = client.publish_profile_photo(&who).await.unwrap();
        assert_eq!(
            dimensions(&b.blob_at(&urls.thumbnail_url).await),
            (30, 40),
            "{}",
            b.label()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_clients_on_one_store_end_consistent() {
    let server = server().await;
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let mut clients = Vec::new();
        for node in 0..3 {
            let mut c = config(&b, &server);
            b.apply(&mut c, node);
            c.secrets = vec!["shared-secret-0123456789".into()];
            clients.push(Client::open(c).await.unwrap());
        }
        let who = uid("race");
        // Imports from three clients at once, then racing publishes: one wins.
        let sources = ["/photo.jpg", "/photo.png", "/photo.gif"];
        let urls: Vec<String> = sources.iter().map(|s| server.url(s)).collect();
        let imports = clients
            .iter()
            .zip(&urls)
            .map(|(c, u)| c.import_profile_photo(&who, u, false));
        for r in futures::future::join_all(imports).await {
            r.unwrap();
        }
        let publishes = clients.iter().map(|c| c.publish_profile_photo(&who));
        let results = futures::future::join_all(publishes).await;
        let winners: Vec<_> = results
            .into_iter()
            .filter_map(|r| match r {
                Ok(u) => Some(u),
                Err(e) => {
                    assert_eq!(e.kind(), ErrorKind::MissingPhoto, "{}", b.label());
                    None
                }
            })
            .collect();
        assert_eq!(winners.len(), 1, "{}", b.label());
        for c in &clients {
            assert_eq!(
                c.get_account_info(&who).await.unwrap().photo.as_ref(),
                Some(&winners[0])
            );
        }
        b.blob_at(&winners[0].photo_url).await;
        b.blob_at(&winners[0].thumbnail_url).await;

        // Uploads with publish=true from every client, many rounds: the last publish wins
        // whole (photo and thumbnail from the same upload) and both blobs exist.
        for round in 0..4u64 {
            let uploads = clients.iter().enumerate().map(|(i, c)| {
                let bytes = Bytes::from(unique_png(round * 10 + i as u64));
                c.set_profile_photo(&who, bytes, true)
            });
            let done: Vec<_> = futures::future::join_all(uploads)
                .await
                .into_iter()
                .map(|r| r.unwrap().published.unwrap())
                .collect();
            let now = clients[0]
                .get_account_info(&who)
                .await
                .unwrap()
                .photo
                .unwrap();
            assert!(
                done.contains(&now),
                "{}: the profile is one of the publishes: {now:?}",
                b.label()
            );
            b.blob_at(&now.photo_url).await;
            b.blob_at(&now.thumbnail_url).await;
        }
    }
}

/// A blob store URL with the right key id and a wrong secret: every request is refused.
fn with_wrong_secret(spec: &str) -> String {
    let mut url = url::Url::parse(spec).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let key_id = pairs
        .iter()
        .find(|(k, _)| k == "access_key_id")
        .map(|(_, v)| v.clone())
        .or_else(|| std::env::var("AWS_ACCESS_KEY_ID").ok())
        .expect("an access key id");
    let mut q = url.query_pairs_mut();
    q.clear();
    for (k, v) in pairs
        .iter()
        .filter(|(k, _)| k != "access_key_id" && k != "secret_access_key")
    {
        q.append_pair(k, v);
    }
    q.append_pair("access_key_id", &key_id);
    q.append_pair("secret_access_key", &"0".repeat(64));
    drop(q);
    url.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_code_through_call() {
    let server = server().await;
    server.route("/hang", Reply::Hang);
    server.route(
        "/slow",
        Reply::Trickle(
            fixture("photo.jpg")[..40].to_vec(),
            Duration::from_millis(100),
        ),
    );
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let mut c = config(&b, &server);
        c.fetch_timeout_ms = 500;
        c.max_photo_bytes = 100_000;
        let client = Client::open(c.clone()).await.unwrap();
        let label = b.label();
        let call = |method: &'static str, params: serde_json::Value| {
            let client = client.clone();
            async move { client.call(method, &params).await }
        };
        let jpg = b64(&fixture("photo.jpg"));
        let cases = [
            ("accounts.importProfilePhoto", json!({"UID": "e1"}), 400002),
            (
                "accounts.getAccountInfo",
                json!({"UID": "e1", "regToken": "x"}),
                400006,
            ),
            (
                "accounts.getAccountInfo",
                json!({"UID": "never-written"}),
                403005,
            ),
            (
                "accounts.importProfilePhoto",
                json!({"UID": "e1", "url": server.url("/missing")}),
                404004,
            ),
            (
                "accounts.setProfilePhoto",
                json!({"UID": "e1", "photoBytes": b64(b"not an image at all")}),
                409010,
            ),
            (
                "accounts.setProfilePhoto",
                json!({"UID": "e1", "photoBytes": b64(&fixture("big.png"))}),
                413004,
            ),
            (
                "accounts.importProfilePhoto",
                json!({"UID": "e1", "url": server.url("/hang")}),
                504002,
            ),
            (
                "accounts.setProfilePhoto",
                json!({"UID": "e1", "photoBytes": jpg.clone(), "publish": true}),
                0,
            ),
        ];
        for (method, params, want) in cases {
            let r = call(method, params.clone()).await;
            assert_eq!(r.error_code(), want, "{label}: {method} {params} → {r:?}");
        }
        let before = client
            .get_account_info(&uid("e1"))
            .await
            .unwrap()
            .photo
            .unwrap();

        // 503001: one fetch running, one queued, the third fails fast (slow origins hold
        // fetch slots; the decode slot is only taken with the bytes in hand).
        let mut busy_config = c.clone();
        busy_config.max_concurrent_fetches = 1;
        busy_config.max_queued_fetches = 1;
        busy_config.fetch_timeout_ms = 10_000;
        let busy = Client::open(busy_config).await.unwrap();
        let slow = |u: &'static str| {
            let (busy, url) = (busy.clone(), server.url("/slow"));
            tokio::spawn(async move { busy.import_profile_photo(&uid(u), &url, false).await })
        };
        let first = slow("q1");
        tokio::time::sleep(Duration::from_millis(600)).await;
        let second = slow("q2");
        tokio::time::sleep(Duration::from_millis(600)).await;
        let r = busy
            .call(
                "accounts.importProfilePhoto",
                &json!({"UID": "q3", "url": server.url("/photo.jpg")}),
            )
            .await;
        assert_eq!(
            (r.error_code(), r.status_code()),
            (503001, 503),
            "{label}: {r:?}"
        );
        let _ = (first.await, second.await);

        // 500001: the blob store refuses the writes. Nothing is half-published.
        let broken_config = match kind {
            Kind::Scale => {
                let mut bc = c.clone();
                bc.blob_store = Some(with_wrong_secret(bc.blob_store.as_deref().unwrap()));
                bc
            }
            Kind::Embedded => c.clone(),
        };
        let broken = Client::open(broken_config).await.unwrap();
        if kind == Kind::Embedded {
            // The folder becomes a file: every blob write fails.
            let blobs = b.dir.path().join("blobs");
            std::fs::rename(&blobs, b.dir.path().join("blobs.moved")).unwrap();
            std::fs::write(&blobs, b"not a folder").unwrap();
        }
        let r = broken
            .call(
                "accounts.setProfilePhoto",
                &json!({"UID": "e1", "photoBytes": b64(&unique_png(7)), "publish": true}),
            )
            .await;
        assert_eq!(
            (r.error_code(), r.status_code()),
            (500001, 500),
            "{label}: {r:?}"
        );
        assert_eq!(
            r.envelope().get("errorDetails"),
            Some(&json!("Internal error")),
            "{label}: cause leaked: {r:?}"
        );
        if kind == Kind::Scale {
            // (A local folder that is a file lists as empty: nothing to purge.)
            let r = broken.purge_response().await;
            assert_eq!(r.error_code(), 500001, "{label}: {r:?}");
        }
        if kind == Kind::Embedded {
            let blobs = b.dir.path().join("blobs");
            std::fs::remove_file(&blobs).unwrap();
            std::fs::rename(b.dir.path().join("blobs.moved"), &blobs).unwrap();
        }
        let after = client
            .get_account_info(&uid("e1"))
            .await
            .unwrap()
            .photo
            .unwrap();
        assert_eq!(
            after, before,
            "{label}: a failed publish changed the profile"
        );
        b.blob_at(&after.photo_url).await;
    }
}

#[tokio::test]
async fn the_blob_store_setting_is_checked_when_the_client_opens() {
    let dir = tempfile::tempdir().unwrap();
    let base = Config {
        data_dir: dir.path().to_path_buf(),
        public_base_url: Some("https://cdn.example.test/".into()),
        ..Config::default()
    };
    for (spec, want) in [
        ("s3://photos?endpoint=http://127.0.0.1:9&access_key_id=a&secret_access_key=TOPSECRET&nope=1", 400006),
        ("s3://photos?endpoint=http://127.0.0.1:9&access_key_id=a", 400006),
        ("gs://photos", 400006),
    ] {
        let config = Config {
            blob_store: Some(spec.into()),
            ..base.clone()
        };
        let e = Client::open(config).await.unwrap_err();
        assert_eq!(e.error_code(), want, "{spec}");
        assert!(!e.details().contains("TOPSECRET"), "{}", e.details());
    }
    // A remote store needs public_base_url: photo URLs cannot be derived from a bucket.
    let config = Config {
        blob_store: Some(
            "s3://photos?endpoint=http://127.0.0.1:9&access_key_id=a&secret_access_key=b".into(),
        ),
        public_base_url: None,
        ..base.clone()
    };
    assert_eq!(Client::open(config).await.unwrap_err().error_code(), 400002);
    // Opening makes no request: an unreachable endpoint fails the first call, as 500001,
    // within the bounded retries.
    let config = Config {
        blob_store: Some(
            "s3://photos?endpoint=http://127.0.0.1:9&access_key_id=a&secret_access_key=b&connect_timeout_ms=500".into(),
        ),
        ..base
    };
    let client = Client::open(config).await.unwrap();
    let started = std::time::Instant::now();
    let r = client
        .call(
            "accounts.setProfilePhoto",
            &json!({"UID": "x", "photoBytes": b64(&fixture("photo.jpg"))}),
        )
        .await;
    assert_eq!(r.error_code(), 500001, "{r:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

/// The backend's blobs, with deletes held at a gate until it opens.
#[derive(Debug)]
struct GatedDeletes {
    inner: Arc<dyn avatarium::store::BlobStore>,
    entered: tokio::sync::Notify,
    gate: tokio::sync::Semaphore,
}

#[async_trait::async_trait]
impl avatarium::store::BlobStore for GatedDeletes {
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
        self.entered.notify_one();
        self.gate.acquire().await.expect("gate").forget();
        self.inner.delete(key).await
    }
    async fn ping(&self) -> avatarium::error::Result<()> {
        self.inner.ping().await
    }
    async fn list(&self) -> avatarium::error::Result<Vec<avatarium::store::BlobMeta>> {
        self.inner.list().await
    }
}

/// The race purge must win cleanly: a photo became an old orphan; a purge (another
/// process) is deleting it when an import of the same photo — the same content-addressed
/// keys — comes in. The import waits for the deletion and writes its blobs after it, so
/// the profile never points at a deleted blob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_and_an_import_of_the_same_photo_never_interleave() {
    let server = server().await;
    let photo = Bytes::from(fixture("photo.jpg"));
    for kind in kinds() {
        let b = Backend::new(kind).await;
        let clock = ManualClock::starting_now();
        let importer = Client::builder(config(&b, &server))
            .clock(Arc::new(clock.clone()))
            .build()
            .await
            .unwrap();
        importer
            .set_profile_photo(&uid("old"), photo.clone(), false)
            .await
            .unwrap();
        importer.remove_profile_photo(&uid("old")).await.unwrap();
        clock.advance_secs(2 * 3600); // past the purge grace

        let gated = Arc::new(GatedDeletes {
            inner: b.blobs.clone(),
            entered: tokio::sync::Notify::new(),
            gate: tokio::sync::Semaphore::new(0),
        });
        let purger = Client::builder(config(&b, &server))
            .clock(Arc::new(clock.clone()))
            .blob_store(gated.clone())
            .build()
            .await
            .unwrap();
        let purge = tokio::spawn(async move { purger.purge().await });
        gated.entered.notified().await;
        let import = {
            let (importer, photo) = (importer.clone(), photo.clone());
            tokio::spawn(async move { importer.set_profile_photo(&uid("new"), photo, true).await })
        };
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(
            !import.is_finished(),
            "{}: the import did not wait for the deletion",
            b.label()
        );
        gated.gate.add_permits(16);
        let report = purge.await.unwrap().unwrap();
        assert!(
            (1..=2).contains(&report.blobs_deleted),
            "{}: {report:?}",
            b.label()
        );
        let urls = import.await.unwrap().unwrap().published.unwrap();
        b.blob_at(&urls.photo_url).await;
        b.blob_at(&urls.thumbnail_url).await;
        assert_eq!(
            importer.get_account_info(&uid("new")).await.unwrap().photo,
            Some(urls)
        );
    }
}
