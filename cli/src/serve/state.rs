//! What every request of `serve` reads: the sites (credentials, core client, budgets),
//! the shared limits, and the connection a request came in on.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use avatarium::Client;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::Value;
use tokio::sync::Mutex;

use super::limits::{AddressLimits, NonceCache, RateLimit};
use super::origins::Origins;
use super::params::BodyBudget;

/// The connection a request came in on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Conn {
    /// The client: the TCP peer, or the address a trusted proxy named.
    pub peer: SocketAddr,
    /// HTTPS, on this connection or (when forwarded) as the proxy says the client spoke.
    pub tls: bool,
    /// Came through a trusted proxy: the TCP peer is the proxy, so a loopback peer says
    /// nothing about the client (no `--allow-loopback-plain-http` exemption).
    pub forwarded: bool,
}

/// One site: its credentials, its own core client and budget.
pub(crate) struct Site {
    pub name: String,
    /// Public (pages carry it); logged with each call.
    pub api_key: String,
    pub(super) secret: Vec<u8>,
    pub(super) user_keys: Vec<(String, Vec<u8>)>,
    pub client: Client,
    pub rate: RateLimit,
    /// Nonces of this site's signed requests (403004): one table per site, so one site's
    /// traffic never fills another's.
    pub nonces: NonceCache,
    /// The largest request body this site takes: the base64 of its largest photo, a
    /// quarter for form encoding, and the other fields.
    pub body_cap: usize,
    /// The local blob folder whose photos `/photos/<name>/` serves.
    pub photo_dir: Option<PathBuf>,
    /// Pages that may call this site from a browser.
    pub origins: Origins,
    /// `/demo?apiKey=…` is served (and its own page, on this server's origin, may call).
    pub demo: bool,
}

impl Site {
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    pub fn user_key_secret(&self, user_key: &str) -> Option<&[u8]> {
        self.user_keys
            .iter()
            .find(|(k, _)| k == user_key)
            .map(|(_, s)| s.as_slice())
    }
}

/// Shared by every request.
pub(crate) struct State {
    /// By apiKey.
    pub sites: HashMap<String, Arc<Site>>,
    /// By name (the photo path segment).
    pub by_name: HashMap<String, Arc<Site>>,
    /// Budgets of client addresses, for calls not authenticated by a site's secret.
    pub addresses: AddressLimits,
    /// Request body bytes held at once.
    pub body_budget: BodyBudget,
    pub allow_loopback_plain_http: bool,
    pub public_url: Option<String>,
    /// This server's own origin (the demo page's), from --public-url or the listener.
    pub own_origin: String,
    /// The last `/readyz` answer.
    pub ready: ReadyCache,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
}

/// The last `/readyz` answer (ready, body) and when it was found (serve/health.rs).
#[derive(Default)]
pub(crate) struct ReadyCache(pub(crate) Mutex<Option<(Instant, bool, Value)>>);
