//! Fetching a caller's URL safely. Knows nothing about images or accounts: URL in, bounded
//! bytes (or a refusal with the right error kind) out. The address policy lives in
//! [`policy`] and is applied here, never by callers.
//!
//! The layers of THREATS.md §3:
//! 1. [`policy::parse_url`] / [`policy::check_url`] on the caller's URL: scheme, userinfo,
//!    port, length, reserved names and IP literals (the resolver never sees literals).
//! 2. A `reqwest::dns::Resolve` wrapping the injected [`NameResolver`]: one lookup per
//!    connection, every answer checked, the whole request refused if any answer is denied,
//!    and only the checked addresses handed to the connector (no second lookup to race).
//! 3. A custom redirect policy: at most `max_redirects` hops, layer 1 on every target.
//! 4. No side doors: no proxy, no decompression, HTTP/1.1 only, no connection pool,
//!    connect / read / total timeouts, a streamed byte cap.

pub mod policy;

use std::error::Error as StdError;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{ACCEPT, ACCEPT_ENCODING, CONTENT_LENGTH};

use crate::error::{Error, Result};
use crate::telemetry::{self, Stage};

use self::policy::{AddressPolicy, Denial, UrlPolicy};

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

impl FetchConfig {
    /// The address rules of this configuration.
    pub fn address_policy(&self) -> AddressPolicy {
        AddressPolicy {
            allow_loopback: self.allow_loopback,
            allow_private: self.allow_private,
            allow_addresses: self.allow_addresses.clone(),
        }
    }

    /// The URL rules of this configuration.
    pub fn url_policy(&self) -> UrlPolicy {
        UrlPolicy {
            allowed_ports: self.allowed_ports.clone(),
            max_url_len: self.max_url_len,
            addresses: self.address_policy(),
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

/// How long the server may stay silent while we wait for the next bytes. The total
/// deadline (`FetchConfig::timeout`) is what stops a trickling server (THREATS.md §0.7).
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest buffer reserved up front from a declared Content-Length.
const MAX_PREALLOC: usize = 1024 * 1024;

const USER_AGENT: &str = concat!("avatarium/", env!("CARGO_PKG_VERSION"));

/// The fetcher: one reqwest client built for hostile URLs.
///
/// The client keeps no idle connections (`pool_max_idle_per_host(0)`), so a `Fetcher`
/// holds no sockets between calls and can be used from any tokio runtime (STYLE.md §9:
/// pooled connections belong to the runtime that opened them).
#[derive(Debug, Clone)]
pub struct Fetcher {
    config: FetchConfig,
    policy: Arc<UrlPolicy>,
    resolver: Arc<dyn NameResolver>,
    client: reqwest::Client,
}

impl Fetcher {
    pub fn new(config: FetchConfig) -> Result<Self> {
        Self::with_resolver(config, Arc::new(SystemResolver))
    }

    pub fn with_resolver(config: FetchConfig, resolver: Arc<dyn NameResolver>) -> Result<Self> {
        let policy = Arc::new(config.url_policy());
        let client = build_client(&config, policy.clone(), resolver.clone())?;
        Ok(Fetcher {
            config,
            policy,
            resolver,
            client,
        })
    }

    /// The configuration this fetcher was built with.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    /// The resolver this fetcher asks for names.
    pub fn resolver(&self) -> &Arc<dyn NameResolver> {
        &self.resolver
    }

    /// Fetch `url` and return its body. 404004 for a refused or unreachable URL (bad
    /// scheme/port/userinfo, denied address, DNS failure, connect failure, non-2xx status,
    /// too many redirects), 413004 when the body passes the byte cap, 504002 when the
    /// deadline passes.
    pub async fn fetch(&self, url: &str) -> Result<Bytes> {
        let url = policy::parse_url(url, &self.policy).map_err(refused)?;
        // From here on: the network part (a URL refused above took no time worth a sample).
        let _timer = telemetry::time_stage(Stage::Fetch);
        // reqwest enforces the same total deadline; this one also covers anything that
        // happens outside reqwest's clock and makes the bound independent of it.
        match tokio::time::timeout(self.config.timeout, self.fetch_checked(url)).await {
            Ok(result) => result,
            Err(_) => Err(deadline_passed(self.config.timeout)),
        }
    }

    async fn fetch_checked(&self, url: url::Url) -> Result<Bytes> {
        let mut response = self
            .client
            .get(url)
            .header(ACCEPT_ENCODING, "identity")
            .header(ACCEPT, crate::pipeline::accept_header())
            .send()
            .await
            .map_err(|e| self.map_error(e))?;

        // Defence in depth: the peer must be an address the policy allows. Only checked
        // addresses are ever dialled, so this never fires unless a layer above is broken.
        if let Some(peer) = response.remote_addr() {
            if let Err(denial) = policy::check_ip(peer.ip(), &self.policy.addresses) {
                telemetry::url_refused("peer_address");
                return Err(Error::invalid_url(
                    "The URL was refused: the server's address is forbidden",
                )
                .with_source(denial));
            }
        }

        let status = response.status();
        if !status.is_success() {
            let e = Error::invalid_url(format!(
                "The URL could not be fetched: the server answered HTTP {}",
                status.as_u16()
            ));
            // The origin's own trouble may pass; its 4xx will not.
            return Err(if status.is_server_error() {
                e.transient()
            } else {
                e
            });
        }

        let max = self.config.max_bytes;
        let declared = declared_length(&response);
        if let Some(len) = declared {
            if len > max {
                // Dropping the response closes the connection without reading the body.
                telemetry::url_refused(SIZE);
                return Err(too_large(max));
            }
        }

        let capacity = declared
            .and_then(|l| usize::try_from(l).ok())
            .unwrap_or(0)
            .min(MAX_PREALLOC);
        let mut body = BytesMut::with_capacity(capacity);
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => return Err(self.map_body_error(e)),
            };
            telemetry::fetched_bytes(chunk.len() as u64);
            if (body.len() as u64).saturating_add(chunk.len() as u64) > max {
                telemetry::url_refused(SIZE);
                return Err(too_large(max));
            }
            body.extend_from_slice(&chunk);
        }
        if let Some(len) = declared {
            if body.len() as u64 != len {
                return Err(closed_early());
            }
        }
        Ok(body.freeze())
    }

    fn map_error(&self, e: reqwest::Error) -> Error {
        if let Some(stop) = find_in_chain::<RedirectRefused>(&e) {
            let details = match stop {
                RedirectRefused::TooMany(max) => {
                    telemetry::url_refused("redirect_count");
                    format!("The URL was refused: more than {max} redirects")
                }
                RedirectRefused::Denied(d) => {
                    telemetry::url_refused("redirect_target");
                    format!("The URL was refused: redirect: {d}")
                }
            };
            return Error::invalid_url(details).with_source(e);
        }
        if let Some(denial) = find_in_chain::<Denial>(&e) {
            telemetry::url_refused(denial.reason());
            return Error::invalid_url(format!("The URL was refused: {denial}")).with_source(e);
        }
        if find_in_chain::<DnsFailure>(&e).is_some() {
            return Error::invalid_url(
                "The URL could not be fetched: the host name could not be resolved",
            )
            .with_source(e);
        }
        if e.is_timeout() {
            return deadline_passed(self.config.timeout).with_source(e);
        }
        if e.is_connect() {
            return Error::invalid_url(
                "The URL could not be fetched: could not connect to the server",
            )
            .with_source(e);
        }
        if e.is_redirect() {
            return Error::invalid_url(
                "The URL could not be fetched: the redirect could not be followed",
            )
            .with_source(e);
        }
        if e.is_body() || e.is_decode() {
            return closed_early().with_source(e);
        }
        Error::invalid_url(
            "The URL could not be fetched: the server's response was not valid HTTP/1.1 \
             (a TLS failure, a malformed or oversized header, or a closed connection)",
        )
        .with_source(e)
    }

    fn map_body_error(&self, e: reqwest::Error) -> Error {
        if e.is_timeout() {
            return deadline_passed(self.config.timeout).with_source(e);
        }
        closed_early().with_source(e)
    }
}

fn build_client(
    config: &FetchConfig,
    policy: Arc<UrlPolicy>,
    resolver: Arc<dyn NameResolver>,
) -> Result<reqwest::Client> {
    let max_redirects = config.max_redirects;
    let redirect_policy = {
        let policy = policy.clone();
        reqwest::redirect::Policy::custom(move |attempt| {
            // `previous` holds every URL already requested, the first one included, so
            // `previous.len() - 1` hops have been followed and this would be one more.
            let followed = attempt.previous().len().saturating_sub(1);
            if followed >= max_redirects as usize {
                return attempt.error(RedirectRefused::TooMany(max_redirects));
            }
            match policy::check_url(attempt.url(), &policy) {
                Ok(()) => attempt.follow(),
                Err(denial) => attempt.error(RedirectRefused::Denied(denial)),
            }
        })
    };
    let guarded = GuardedResolver {
        inner: resolver,
        policy: Arc::new(policy.addresses.clone()),
    };
    reqwest::Client::builder()
        .no_proxy()
        .no_gzip()
        .no_brotli()
        .no_deflate()
        .no_zstd()
        .http1_only()
        .redirect(redirect_policy)
        .referer(false)
        .retry(reqwest::retry::never())
        .dns_resolver(guarded)
        .connect_timeout(config.connect_timeout)
        .read_timeout(READ_TIMEOUT.min(config.timeout))
        .timeout(config.timeout)
        .pool_max_idle_per_host(0)
        .user_agent(USER_AGENT)
        .build()
        .map_err(Error::internal)
}

/// Layer 2: resolve once through the injected resolver, refuse the whole request if any
/// answer is denied, and hand the connector only the checked addresses.
struct GuardedResolver {
    inner: Arc<dyn NameResolver>,
    policy: Arc<AddressPolicy>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let inner = self.inner.clone();
        let policy = self.policy.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Layer 1 already applied the name rule; repeat it so this layer stands alone.
            policy::check_name(&host, &policy)?;
            let answers = inner.resolve(&host).await.map_err(DnsFailure)?;
            let allowed = policy::check_resolved(&answers, &policy)?;
            let addrs: reqwest::dns::Addrs =
                Box::new(allowed.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

/// Why the redirect policy stopped a chain.
#[derive(Debug)]
enum RedirectRefused {
    TooMany(u32),
    Denied(Denial),
}

impl fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedirectRefused::TooMany(max) => write!(f, "more than {max} redirects"),
            RedirectRefused::Denied(d) => write!(f, "redirect refused: {d}"),
        }
    }
}

impl StdError for RedirectRefused {}

/// The injected resolver failed (kept as the source for logs; never shown).
#[derive(Debug)]
struct DnsFailure(std::io::Error);

impl fmt::Display for DnsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "name resolution failed: {}", self.0)
    }
}

impl StdError for DnsFailure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.0)
    }
}

/// The first error of type `T` in `e`'s source chain, `e` included.
fn find_in_chain<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

/// The Content-Length the server declared, if any. reqwest's own `content_length()` comes
/// from the body's size hint; the header is read as well so neither can be missed.
fn declared_length(response: &reqwest::Response) -> Option<u64> {
    let from_header = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok());
    from_header.or_else(|| response.content_length())
}

/// The metrics reason of a body over the byte cap.
const SIZE: &str = "size";

fn refused(denial: Denial) -> Error {
    telemetry::url_refused(denial.reason());
    Error::invalid_url(format!("The URL was refused: {denial}")).with_source(denial)
}

fn too_large(max: u64) -> Error {
    Error::too_large(format!("The photo at the URL is larger than {max} bytes"))
}

fn closed_early() -> Error {
    Error::invalid_url(
        "The URL could not be fetched: the server closed the connection early or sent a malformed body",
    )
}

fn deadline_passed(timeout: Duration) -> Error {
    Error::timeout(format!(
        "The URL could not be fetched within {} ms",
        timeout.as_millis()
    ))
    .transient()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_builds_without_a_runtime() {
        let fetcher = Fetcher::new(FetchConfig::default()).unwrap();
        assert_eq!(fetcher.config().max_redirects, 5);
    }

    #[test]
    fn default_config_means_the_default_url_policy() {
        assert_eq!(FetchConfig::default().url_policy(), UrlPolicy::default());
    }

    #[test]
    fn chain_search_finds_nested_denials() {
        let inner = DnsFailure(std::io::Error::other("boom"));
        assert!(find_in_chain::<DnsFailure>(&inner).is_some());
        assert!(find_in_chain::<std::io::Error>(&inner).is_some());
        assert!(find_in_chain::<Denial>(&inner).is_none());
    }

    #[test]
    fn refusal_text_carries_no_resolved_address() {
        let e = refused(Denial::ResolvesToForbidden);
        assert_eq!(e.error_code(), 404004);
        assert!(e.details().contains("resolves to a forbidden address"));
    }
}
