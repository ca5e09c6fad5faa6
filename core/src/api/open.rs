//! Opening a [`Client`]: the builder, which wires the stores (`store::open_*`), the
//! regToken keys (`token.rs`), the fetcher and the limits together.

use std::sync::Arc;
use std::time::Duration;

use super::client::{Client, Inner};
use super::lifecycle::Lifecycle;
use super::limiter::{self, Limiter};
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::fetch::{FetchConfig, Fetcher, NameResolver, SystemResolver};
use crate::pipeline::Limits;
use crate::store::{self, BlobStore, MetaStore};
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
        let meta = match self.meta {
            Some(m) => m,
            None => store::open_meta_store(config.database_url.as_deref(), &data_dir).await?,
        };
        let blob_dir = store::blob_folder(config.blob_store.as_deref(), &data_dir)?;
        let (blobs, local_blob_dir) = match self.blobs {
            Some(b) => (b, None),
            None => (
                store::open_blob_store(config.blob_store.as_deref(), &data_dir)?,
                blob_dir.clone(),
            ),
        };
        let public_base_url = match (&config.public_base_url, &blob_dir) {
            (Some(u), _) => with_trailing_slash(u),
            (None, Some(dir)) => url::Url::from_directory_path(dir)
                .map_err(|_| Error::invalid("public_base_url", "blob folder is not absolute"))?
                .to_string(),
            (None, None) => return Err(Error::missing("public_base_url")),
        };
        let tokens = TokenKeys::from_config(&config, &data_dir)?;

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
        let limiter = Limiter::new(
            config.concurrency(),
            config.queue_len(),
            "imports",
            limiter::IMPORT_GAUGES,
        );
        let fetches = Limiter::new(
            config.max_concurrent_fetches,
            config.max_queued_fetches,
            "fetches",
            limiter::FETCH_GAUGES,
        );
        Ok(Client {
            inner: Arc::new(Inner {
                tokens,
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
