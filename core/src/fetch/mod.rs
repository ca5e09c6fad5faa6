//! Fetching a caller's URL safely. Knows nothing about images or accounts: URL in, bounded
//! bytes (or a refusal with the right error kind) out. The address policy lives in
//! [`policy`] and is applied here, never by callers.

pub mod policy;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::error::{Error, Result};

/// Fetch settings (from the operator configuration).
#[derive(Debug, Clone)]
pub struct FetchConfig {
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub max_redirects: u32,
    pub allowed_ports: Vec<u16>,
    pub max_url_len: usize,
    pub max_bytes: u64,
    pub allow_loopback: bool,
    pub allow_private: bool,
    pub allow_addresses: Vec<IpAddr>,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            max_redirects: 5,
            allowed_ports: vec![80, 443],
            max_url_len: 2048,
            max_bytes: 6 * 1024 * 1024,
            allow_loopback: false,
            allow_private: false,
            allow_addresses: Vec::new(),
        }
    }
}

/// Name resolution, injectable so tests can answer with any address without a packet
/// being sent (DNS rebinding, private answers).
#[async_trait::async_trait]
pub trait NameResolver: Send + Sync + std::fmt::Debug {
    async fn resolve(&self, host: &str) -> std::io::Result<Vec<IpAddr>>;
}

/// The system resolver (getaddrinfo through tokio).
#[derive(Debug, Default)]
pub struct SystemResolver;

#[async_trait::async_trait]
impl NameResolver for SystemResolver {
    async fn resolve(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        let addrs = tokio::net::lookup_host((host, 0)).await?;
        Ok(addrs.map(|a: SocketAddr| a.ip()).collect())
    }
}

/// The fetcher: one reqwest client built for hostile URLs.
#[derive(Debug, Clone)]
pub struct Fetcher {
    config: FetchConfig,
    resolver: Arc<dyn NameResolver>,
}

impl Fetcher {
    pub fn new(config: FetchConfig) -> Result<Self> {
        Self::with_resolver(config, Arc::new(SystemResolver))
    }

    pub fn with_resolver(config: FetchConfig, resolver: Arc<dyn NameResolver>) -> Result<Self> {
        Ok(Fetcher { config, resolver })
    }

    /// Fetch `url` and return its body. 404004 for a refused or unreachable URL (bad
    /// scheme/port/userinfo, denied address, DNS failure, connect failure, non-2xx status,
    /// too many redirects), 413004 when the body passes the byte cap, 504002 when the
    /// deadline passes.
    pub async fn fetch(&self, url: &str) -> Result<Bytes> {
        let _ = (&self.config, &self.resolver, url);
        Err(Error::invalid_url("fetcher not implemented"))
    }
}
