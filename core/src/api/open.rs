//! Opening a [`Client`]: the builder, the embedded default's stores and generated secret.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::lifecycle::Lifecycle;
use super::limiter::Limiter;
use super::{Client, Inner};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::fetch::{FetchConfig, Fetcher, NameResolver, SystemResolver};
use crate::pipeline::Limits;
use crate::store::{BlobStore, MetaStore, ObjectBlobStore, SqlMetaStore};
use crate::token::TokenKeys;

/// Builds a [`Client`]; every part can be replaced (tests inject clocks, resolvers and
/// failing stores).
#[derive(Debug)]
pub struct ClientBuilder {
    config: Config,
    meta: Option<Arc<dyn MetaStore>>,
    blobs: Option<Arc<dyn BlobStore>>,
    clock: Option<Arc<dyn Clock>>,
    resolver: Option<Arc<dyn NameResolver>>,
}

impl Client {
    /// Open a client on the configured stores (the embedded default when none are set).
    pub async fn open(config: Config) -> Result<Client> {
        Self::builder(config).build().await
    }

    pub fn builder(config: Config) -> ClientBuilder {
        ClientBuilder {
            config,
            meta: None,
            blobs: None,
            clock: None,
            resolver: None,
        }
    }
}

impl ClientBuilder {
    pub fn meta_store(mut self, meta: Arc<dyn MetaStore>) -> Self {
        self.meta = Some(meta);
        self
    }

    pub fn blob_store(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.blobs = Some(blobs);
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    pub fn resolver(mut self, resolver: Arc<dyn NameResolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Open the stores (creating the embedded default on first use) and check the
    /// configuration.
    pub async fn build(self) -> Result<Client> {
        let config = self.config;
        config.validate()?;
        let data_dir = std::path::absolute(&config.data_dir).map_err(Error::internal)?;
        let needs_dir = self.meta.is_none() && config.database_url.is_none()
            || self.blobs.is_none() && config.blob_store.is_none()
            || config.secrets.is_empty();
        if needs_dir {
            std::fs::create_dir_all(&data_dir).map_err(Error::internal)?;
        }

        let meta: Arc<dyn MetaStore> = match self.meta {
            Some(m) => m,
            None => {
                let url = match &config.database_url {
                    Some(u) => u.clone(),
                    None => sqlite_url(&data_dir.join("avatarium.db")),
                };
                Arc::new(SqlMetaStore::connect(&url).await?)
            }
        };

        let blob_dir = blob_folder(&config, &data_dir)?;
        let local_blob_dir = match self.blobs {
            None => blob_dir.clone(),
            Some(_) => None,
        };
        let blobs: Arc<dyn BlobStore> = match self.blobs {
            Some(b) => b,
            None => match (&blob_dir, &config.blob_store) {
                (Some(dir), _) => Arc::new(ObjectBlobStore::local(dir)?),
                // A remote store: `s3://bucket?endpoint=…` (docs/scale-out.md).
                (None, Some(spec)) => crate::store::open_blob_store(spec)?,
                (None, None) => return Err(Error::missing("blob_store")),
            },
        };

        let public_base_url = match (&config.public_base_url, &blob_dir) {
            (Some(u), _) => with_trailing_slash(u),
            (None, Some(dir)) => url::Url::from_directory_path(dir)
                .map_err(|_| Error::invalid("public_base_url", "blob folder is not absolute"))?
                .to_string(),
            (None, None) => return Err(Error::missing("public_base_url")),
        };

        let secrets = if config.secrets.is_empty() {
            vec![load_or_create_secret(&data_dir)?]
        } else {
            config
                .secrets
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect()
        };

        let fetcher = Fetcher::with_resolver(
            fetch_config(&config),
            self.resolver.unwrap_or_else(|| Arc::new(SystemResolver)),
        )?;

        let limits = Limits {
            max_bytes: config.max_photo_bytes,
            max_pixels: config.max_pixels,
            max_side: config.max_side,
            max_aspect_ratio: config.max_aspect_ratio,
            photo_max_side: config.photo_max_side,
            jpeg_quality: config.jpeg_quality,
        };
        let limiter = Limiter::new(config.concurrency(), config.queue_len(), "imports");
        let fetches = Limiter::new(
            config.max_concurrent_fetches,
            config.max_queued_fetches,
            "fetches",
        );
        Ok(Client {
            inner: Arc::new(Inner {
                tokens: TokenKeys::new(secrets, config.token_scope())?,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                config,
                meta,
                blobs,
                fetcher,
                limits,
                public_base_url,
                limiter,
                fetches,
                life: Lifecycle::default(),
                local_blob_dir,
            }),
        })
    }
}

fn fetch_config(config: &Config) -> FetchConfig {
    FetchConfig {
        connect_timeout: Duration::from_millis(config.fetch_connect_timeout_ms),
        timeout: Duration::from_millis(config.fetch_timeout_ms),
        max_redirects: config.fetch_max_redirects,
        allowed_ports: config.fetch_allowed_ports.clone(),
        max_url_len: config.fetch_max_url_len,
        max_bytes: config.max_photo_bytes,
        allow_loopback: config.allow_loopback,
        allow_private: config.allow_private,
        allow_addresses: config.allow_addresses.clone(),
    }
}

fn with_trailing_slash(u: &str) -> String {
    if u.ends_with('/') {
        u.to_string()
    } else {
        format!("{u}/")
    }
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// The local blob folder, when the blob store is one (`None` for remote stores).
fn blob_folder(config: &Config, data_dir: &Path) -> Result<Option<PathBuf>> {
    match config.blob_store.as_deref() {
        None => Ok(Some(data_dir.join("blobs"))),
        Some(s) if s.starts_with("file://") => {
            let url = url::Url::parse(s).map_err(|e| Error::invalid("blob_store", e))?;
            let path = url
                .to_file_path()
                .map_err(|_| Error::invalid("blob_store", "not a local path"))?;
            Ok(Some(path))
        }
        Some(s) if s.contains("://") => Ok(None),
        Some(s) => Ok(Some(std::path::absolute(s).map_err(Error::internal)?)),
    }
}

/// The regToken key kept in `data_dir`, created once (atomically, so concurrent first
/// starts agree on one key).
fn load_or_create_secret(data_dir: &Path) -> Result<Vec<u8>> {
    use std::io::Write;
    let path = data_dir.join("secret.key");
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| Error::internal(e.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut f) => {
            f.write_all(hex::encode(key).as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(Error::internal)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::internal(e)),
    }
    // Another process may have just created it: wait until its content is complete.
    for _ in 0..50 {
        let text = std::fs::read_to_string(&path).map_err(Error::internal)?;
        let text = text.trim();
        if text.len() >= 64 {
            return Ok(text.as_bytes().to_vec());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(Error::internal(format!("{} is too short", path.display())))
}
