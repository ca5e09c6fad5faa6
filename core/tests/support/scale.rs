//! Backends for the scale-out tests (issue 8). Every scale test runs its scenario against
//! the embedded default (SQLite + a local folder, always) and against PostgreSQL + an
//! S3-compatible bucket when `scripts/test-scale.sh` started them:
//!
//! - `AVATARIUM_TEST_DATABASE_URL`: a PostgreSQL URL whose user may `CREATE DATABASE`; each
//!   backend gets a fresh database of its own.
//! - `AVATARIUM_TEST_BLOB_STORE`: `s3://bucket?endpoint=…&region=…` (credentials in the query or
//!   in `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`); each backend gets a fresh prefix.
//!   `AVATARIUM_TEST_BLOB_STORES` may list one such URL per node of a cluster (space-separated).
//! - `AVATARIUM_REQUIRE_SERVICES=1`: the variables above must be set; a test FAILS instead of
//!   running the embedded variant alone (the test script sets it once it has started them).

use std::sync::Arc;

use avatarium::store::{BlobStore, ObjectBlobStore, S3Location, SqlMetaStore};
use avatarium::Config;
use bytes::Bytes;
use sqlx::Connection;

/// Which stores a backend uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SQLite file + local folder in a temporary `data_dir`.
    Embedded,
    /// PostgreSQL + S3-compatible bucket.
    Scale,
}

/// The external services, when configured.
#[derive(Debug, Clone)]
pub struct Services {
    pub database_url: String,
    /// One `s3://` URL per node (the first is the default).
    pub blob_stores: Vec<String>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

pub fn services_required() -> bool {
    var("AVATARIUM_REQUIRE_SERVICES").is_some_and(|v| v != "0")
}

/// The configured services; panics when they are required and missing.
pub fn services() -> Option<Services> {
    match (
        var("AVATARIUM_TEST_DATABASE_URL"),
        var("AVATARIUM_TEST_BLOB_STORE"),
    ) {
        (Some(database_url), Some(first)) => {
            let mut blob_stores: Vec<String> = var("AVATARIUM_TEST_BLOB_STORES")
                .map(|s| s.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default();
            if blob_stores.first() != Some(&first) {
                blob_stores.retain(|s| s != &first);
                blob_stores.insert(0, first);
            }
            Some(Services {
                database_url,
                blob_stores,
            })
        }
        _ => {
            assert!(
                !services_required(),
                "AVATARIUM_REQUIRE_SERVICES=1 but AVATARIUM_TEST_DATABASE_URL and AVATARIUM_TEST_BLOB_STORE are not both set: \
                 the PostgreSQL + S3 services were not started (scripts/test-scale.sh starts them)"
            );
            eprintln!(
                "note: PostgreSQL + S3 variant not run (AVATARIUM_TEST_DATABASE_URL / AVATARIUM_TEST_BLOB_STORE unset; \
                 scripts/test-scale.sh sets them)"
            );
            None
        }
    }
}

/// The kinds to run: always the embedded default, plus PostgreSQL + S3 when configured.
pub fn kinds() -> Vec<Kind> {
    let mut kinds = vec![Kind::Embedded];
    if services().is_some() {
        kinds.push(Kind::Scale);
    }
    kinds
}

/// A short random hex name.
pub fn random_name(prefix: &str) -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).expect("random");
    format!("{prefix}{}", hex::encode(b))
}

/// A fresh PostgreSQL database next to the one `admin_url` names; returns its URL.
pub async fn fresh_database(admin_url: &str) -> String {
    let name = random_name("avatarium_t_");
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to AVATARIUM_TEST_DATABASE_URL");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .expect("CREATE DATABASE");
    admin.close().await.ok();
    let mut url = url::Url::parse(admin_url).expect("database URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// `spec` (an `s3://bucket[/p]?…` URL) with `/prefix` appended to its path.
pub fn with_prefix(spec: &str, prefix: &str) -> String {
    let mut url = url::Url::parse(spec).expect("blob store URL");
    let path = format!("{}/{prefix}", url.path().trim_end_matches('/'));
    url.set_path(&path);
    url.to_string()
}

/// One isolated set of stores and the configuration that points at it.
pub struct Backend {
    pub kind: Kind,
    pub dir: tempfile::TempDir,
    pub database_url: Option<String>,
    /// The blob store URL of each node (Scale), all with this backend's prefix.
    pub blob_stores: Vec<String>,
    /// `public_base_url` as configured (Scale: a CDN in front of the bucket).
    pub public_base_url: Option<String>,
    /// The same blobs the clients write, for checks.
    pub blobs: Arc<dyn BlobStore>,
}

impl Backend {
    pub async fn new(kind: Kind) -> Backend {
        let dir = tempfile::tempdir().expect("tempdir");
        match kind {
            Kind::Embedded => {
                let blobs = Arc::new(
                    ObjectBlobStore::local(&dir.path().join("blobs")).expect("local blobs"),
                );
                Backend {
                    kind,
                    dir,
                    database_url: None,
                    blob_stores: Vec::new(),
                    public_base_url: None,
                    blobs,
                }
            }
            Kind::Scale => {
                let services = services().expect("services");
                let database_url = fresh_database(&services.database_url).await;
                let prefix = random_name("t");
                let blob_stores: Vec<String> = services
                    .blob_stores
                    .iter()
                    .map(|s| with_prefix(s, &prefix))
                    .collect();
                let location =
                    S3Location::parse(&blob_stores[0]).expect("AVATARIUM_TEST_BLOB_STORE");
                let blobs = Arc::new(ObjectBlobStore::s3(&location).expect("s3 store"));
                Backend {
                    kind,
                    dir,
                    database_url: Some(database_url),
                    blob_stores,
                    public_base_url: Some(format!("https://cdn.example.test/{prefix}/")),
                    blobs,
                }
            }
        }
    }

    pub fn label(&self) -> &'static str {
        match self.kind {
            Kind::Embedded => "embedded (SQLite + folder)",
            Kind::Scale => "PostgreSQL + S3",
        }
    }

    /// The configuration of a client on these stores (node 0 of the bucket's cluster).
    pub fn config(&self) -> Config {
        self.config_for_node(0)
    }

    /// The configuration of a client that talks to node `node` of the S3 cluster.
    pub fn config_for_node(&self, node: usize) -> Config {
        let mut config = Config {
            data_dir: self.dir.path().to_path_buf(),
            ..Config::default()
        };
        self.apply(&mut config, node);
        config
    }

    /// Point `config` at these stores.
    pub fn apply(&self, config: &mut Config, node: usize) {
        config.data_dir = self.dir.path().to_path_buf();
        config.database_url = self.database_url.clone();
        config.blob_store = (!self.blob_stores.is_empty())
            .then(|| self.blob_stores[node % self.blob_stores.len()].clone());
        config.public_base_url = self.public_base_url.clone();
    }

    /// A SQL store on the same database (for checks below the API).
    pub async fn meta(&self) -> SqlMetaStore {
        let url = match &self.database_url {
            Some(u) => u.clone(),
            None => format!(
                "sqlite://{}",
                self.dir.path().join("avatarium.db").display()
            ),
        };
        SqlMetaStore::connect(&url).await.expect("meta store")
    }

    /// The blob key a photo URL names, checking that the URL starts with the configured base.
    pub fn key_of(&self, url: &str) -> String {
        match &self.public_base_url {
            Some(base) => url
                .strip_prefix(base.as_str())
                .unwrap_or_else(|| panic!("{}: {url} does not start with {base}", self.label()))
                .to_string(),
            None => {
                assert!(url.starts_with("file://"), "{}: {url}", self.label());
                url.rsplit('/').next().unwrap().to_string()
            }
        }
    }

    /// The bytes a photo URL points at; panics when the blob is missing.
    pub async fn blob_at(&self, url: &str) -> Bytes {
        let key = self.key_of(url);
        match self.blobs.get(&key).await {
            Ok(b) => b,
            Err(e) => panic!(
                "{}: {url} points at no blob: {e} ({:?})",
                self.label(),
                std::error::Error::source(&e)
            ),
        }
    }

    pub async fn url_resolves(&self, url: &str) -> bool {
        self.blobs.exists(&self.key_of(url)).await.expect("exists")
    }
}

/// Runs a shell command given by an environment variable (service control); panics on
/// failure.
pub fn run_control(var_name: &str) {
    let cmd = var(var_name).unwrap_or_else(|| panic!("{var_name} is not set"));
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .status()
        .unwrap_or_else(|e| panic!("{var_name}: {e}"));
    assert!(status.success(), "{var_name} ({cmd}) failed: {status}");
}

/// A small PNG whose pixels come from `seed`: every seed gives different bytes, so a
/// different content-addressed key.
pub fn unique_png(seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let img = image::RgbImage::from_fn(48, 36, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let b = state.to_le_bytes();
        image::Rgb([b[0], b[1], b[2]])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}
