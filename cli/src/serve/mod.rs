//! `avatarium serve`: the REST endpoint of SPEC.md in front of one core client per
//! site. The core does all parsing and validation of API parameters; this layer does HTTP,
//! authentication, limits and photo serving. How to run and call it: docs/rest.md.

mod auth;
mod browser;
mod error;
mod form;
mod handlers;
mod health;
mod limits;
mod listener;
mod metrics;
mod multipart;
mod origins;
mod params;
mod proxies;
mod reply;
mod sign;
mod sites;
mod state;

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use avatarium::Client;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use limits::{AddressLimits, NonceCache, RateLimit};
use params::BodyBudget;
use proxies::TrustedProxies;
// Defined in state.rs, which imports no file that imports it; the handlers say `super::…`.
use state::{Conn, Site, State};

/// Form overhead allowed on top of the base64 of a site's largest photo.
const FORM_OVERHEAD: usize = 64 * 1024;
/// Client addresses whose budget is remembered at once (a few MiB at most).
const MAX_ADDRESSES: usize = 100_000;

#[derive(clap::Args, Debug)]
pub(crate) struct ServeArgs {
    /// Address and port to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP on an address that is not loopback (behind a TLS-terminating proxy).
    /// A `secret` is still refused over plain HTTP (403006): use signed requests.
    #[arg(long)]
    allow_plain_http: bool,
    /// Accept `secret` over plain HTTP from loopback peers (local tools and tests). Behind
    /// a proxy on the same machine, list the proxy in --trusted-proxy: its requests are
    /// then judged by the client's scheme and address, not by the loopback hop.
    #[arg(long)]
    allow_loopback_plain_http: bool,
    /// A proxy in front of this server (an IP address or a CIDR block; repeat it or
    /// separate by commas): its X-Forwarded-For, -Proto and -Host are believed, so budgets
    /// charge the client's address, `https` lets a secret through and signatures are
    /// checked against the public URL. No one else's are. Trusted proxies are exempt from
    /// --max-connections-per-address.
    #[arg(
        long = "trusted-proxy",
        value_name = "ADDR|CIDR",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<String>,
    /// This server's public origin (`https://photos.example.com`): the base of photo URLs
    /// and a URL signatures may be computed for. Default: the listening address.
    #[arg(long)]
    public_url: Option<String>,
    /// Requests per minute per apiKey (a site's `rate_limit_per_minute` overrides it; 0: no
    /// limit).
    #[arg(long, default_value_t = 6000)]
    rate_limit: u32,
    /// Unauthenticated and failed requests per minute per client address (IPv4 address or
    /// IPv6 /64; 0: no limit). Calls authenticated with a site's secret count against the
    /// site instead.
    #[arg(long, default_value_t = 600)]
    address_rate_limit: u32,
    /// Nonces of signed requests each site remembers within the timestamp window (32-byte
    /// hashes); when full, that site's signed requests get 403048 until old ones expire.
    #[arg(long, default_value_t = 100_000)]
    max_nonces: usize,
    /// Request body bytes held at once by all requests together; beyond it a request gets
    /// 503001 at once.
    #[arg(long, default_value_t = 256 * 1024 * 1024)]
    max_body_bytes_in_flight: usize,
    /// Open connections at once; further clients wait in the kernel's backlog.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// Open connections at once from one client address (IPv4 address or IPv6 /64);
    /// beyond it new ones are closed at once.
    #[arg(long, default_value_t = 64)]
    max_connections_per_address: usize,
    /// Milliseconds from accepting a connection to its first complete request head (TLS
    /// handshake and protocol detection included); then it is closed.
    #[arg(long, default_value_t = 10_000)]
    first_request_timeout_ms: u64,
    /// Milliseconds a connection may stay open with no request in flight (HTTP/1.1
    /// keep-alive and HTTP/2).
    #[arg(long, default_value_t = 60_000)]
    idle_timeout_ms: u64,
    /// Seconds to let calls in flight finish after SIGTERM or ctrl-c.
    #[arg(long, default_value_t = 30)]
    shutdown_grace: u64,
    /// Serve /metrics (and /healthz, /readyz) on this address too, plain HTTP, and no
    /// longer /metrics on --listen: keep it off the public port (docs/operate.md).
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
}

pub(crate) async fn run(
    args: &ServeArgs,
    config: Option<&Path>,
    data_dir: Option<&Path>,
) -> ExitCode {
    match start(args, config, data_dir).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("avatarium serve: {e}");
            ExitCode::from(2)
        }
    }
}

async fn start(
    args: &ServeArgs,
    config: Option<&Path>,
    data_dir: Option<&Path>,
) -> Result<(), String> {
    let specs = sites::load(config, data_dir)?;
    let trusted = Arc::new(TrustedProxies::parse(&args.trusted_proxies)?);
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(listener::tls_acceptor(cert, key)?),
        _ => None,
    };
    if tls.is_none() && !args.listen.ip().to_canonical().is_loopback() && !args.allow_plain_http {
        return Err(format!(
            "{} is not a loopback address: give --tls-cert/--tls-key, or --allow-plain-http \
             behind a TLS-terminating proxy",
            args.listen
        ));
    }
    let tcp = TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = tcp.local_addr().map_err(|e| e.to_string())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = match &args.public_url {
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
            u.trim_end_matches('/').to_string()
        }
        Some(u) => {
            return Err(format!(
                "--public-url {u:?} must start with http:// or https://"
            ))
        }
        None => format!("{scheme}://{addr}"),
    };

    let admin = match args.admin_listen {
        Some(at) => Some(
            TcpListener::bind(at)
                .await
                .map_err(|e| format!("cannot listen on {at} (--admin-listen): {e}"))?,
        ),
        None => None,
    };
    let recorder = metrics::install()?;
    let state = Arc::new(open_sites(specs, args, &public_url, recorder).await?);
    let clients: Vec<Client> = state.sites.values().map(|s| s.client.clone()).collect();
    let mut app = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz));
    let admin_task = match admin {
        Some(tcp) => {
            let ops = app.clone().route("/metrics", get(metrics::render));
            Some(serve_admin(
                tcp,
                ops.with_state(Arc::clone(&state)),
                args,
                &trusted,
            )?)
        }
        None => {
            app = app.route("/metrics", get(metrics::render));
            None
        }
    };
    let app = app
        .route("/photos/{site}/{key}", get(handlers::photo))
        .route("/sdk.js", get(browser::sdk_js))
        .route("/sdk.d.ts", get(browser::sdk_types))
        .route("/demo", get(browser::demo))
        .route(
            "/{method}",
            get(handlers::api)
                .post(handlers::api)
                .options(browser::preflight),
        )
        .with_state(state);

    println!("listening on {scheme}://{addr}");
    let _ = std::io::stdout().flush();
    listener::serve(
        tcp,
        tls,
        app,
        conn_limits(args, &trusted),
        close_on_shutdown(clients),
        Duration::from_secs(args.shutdown_grace),
    )
    .await;
    if let Some(task) = admin_task {
        task.abort();
    }
    eprintln!("avatarium serve: stopped");
    Ok(())
}

fn conn_limits(args: &ServeArgs, trusted: &Arc<TrustedProxies>) -> listener::ConnLimits {
    listener::ConnLimits {
        max_connections: args.max_connections,
        per_address: args.max_connections_per_address,
        trusted: Arc::clone(trusted),
        first_request: Duration::from_millis(args.first_request_timeout_ms),
        idle: Duration::from_millis(args.idle_timeout_ms),
    }
}

/// The admin listener: /metrics, /healthz and /readyz only, plain HTTP (a scraper on a
/// private network or this machine), with the main listener's connection limits. It
/// stops when the main listener has stopped.
fn serve_admin(
    tcp: TcpListener,
    app: Router,
    args: &ServeArgs,
    trusted: &Arc<TrustedProxies>,
) -> Result<tokio::task::JoinHandle<()>, String> {
    let addr = tcp.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, "admin listener: /metrics, /healthz, /readyz");
    let limits = conn_limits(args, trusted);
    Ok(tokio::spawn(listener::serve(
        tcp,
        None,
        app,
        limits,
        std::future::pending(),
        Duration::ZERO,
    )))
}

/// The shutdown signal, then every site's client closed (all at once): calls in flight
/// answer 503001 and their decodes stop, so the grace period is not spent behind them.
async fn close_on_shutdown(clients: Vec<Client>) {
    listener::shutdown_signal().await;
    let closing: Vec<_> = clients
        .into_iter()
        .map(|c| tokio::spawn(async move { c.close().await }))
        .collect();
    for c in closing {
        let _ = c.await;
    }
}

/// Opens every site's client; a local blob store gets `/photos/<name>/` as its public URL
/// unless the site sets one.
async fn open_sites(
    specs: Vec<sites::SiteSpec>,
    args: &ServeArgs,
    public_url: &str,
    recorder: metrics_exporter_prometheus::PrometheusHandle,
) -> Result<State, String> {
    let mut state = State {
        sites: HashMap::new(),
        by_name: HashMap::new(),
        addresses: AddressLimits::new(args.address_rate_limit, MAX_ADDRESSES),
        body_budget: BodyBudget::new(args.max_body_bytes_in_flight),
        allow_loopback_plain_http: args.allow_loopback_plain_http,
        public_url: args.public_url.as_ref().map(|_| public_url.to_string()),
        own_origin: browser::origin_of_url(public_url),
        ready: state::ReadyCache::default(),
        metrics: recorder,
    };
    for spec in specs {
        let mut config = spec.config;
        let own_url = config.public_base_url.is_some();
        if !own_url {
            config.public_base_url = Some(format!("{public_url}/photos/{}/", spec.name));
        }
        let max_bytes = usize::try_from(config.max_photo_bytes).unwrap_or(usize::MAX);
        let client = Client::open(config)
            .await
            .map_err(|e| format!("site {}: {e}", spec.name))?;
        let photo_dir = client.local_blob_dir().map(Path::to_path_buf);
        if photo_dir.is_none() && !own_url {
            return Err(format!(
                "site {}: a remote blob_store needs its own public_base_url",
                spec.name
            ));
        }
        let b64 = max_bytes.div_ceil(3).saturating_mul(4);
        let body_cap = b64.saturating_add(b64 / 4).saturating_add(FORM_OVERHEAD);
        let site = Arc::new(Site {
            name: spec.name.clone(),
            api_key: spec.api_key.clone(),
            secret: spec.secret,
            user_keys: spec.user_keys,
            client,
            rate: RateLimit::new(spec.rate_limit_per_minute.unwrap_or(args.rate_limit)),
            nonces: NonceCache::new(args.max_nonces),
            body_cap,
            photo_dir,
            origins: spec.origins,
            demo: spec.demo,
        });
        tracing::info!(site = %site.name, "site ready");
        state.by_name.insert(spec.name, Arc::clone(&site));
        state.sites.insert(spec.api_key, site);
    }
    Ok(state)
}
