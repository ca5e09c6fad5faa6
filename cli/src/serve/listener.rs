//! The accept loop: plain TCP or TLS (rustls), HTTP/1.1 and HTTP/2, and what a connection
//! may cost before and between requests:
//! - at most `max_connections` open, and `per_address` from one client address;
//! - from accept to the first complete request head (TLS handshake and HTTP/2 preface
//!   detection included) at most `first_request`, else the connection is dropped;
//! - no request in flight for `idle` (HTTP/1 keep-alive and HTTP/2 alike): closed;
//! - HTTP/2 keep-alive pings, a cap on concurrent streams and on the header list.
//!
//! On shutdown, connections stop taking requests and calls in flight finish (up to the
//! grace period).

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;
use tower_service::Service;

use super::limits::address_key;
use super::proxies::TrustedProxies;
use super::Conn;

/// A request head that has begun must be complete within this (HTTP/1).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP/2: a ping after this much silence, and the connection dropped when its answer
/// does not come within `H2_PING_TIMEOUT`.
const H2_PING_INTERVAL: Duration = Duration::from_secs(20);
const H2_PING_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 streams at once per connection (each is a call; the per-address budgets and the
/// body budget bound them further).
const H2_MAX_STREAMS: u32 = 32;
/// HTTP/2 header list (decoded) per request; h2's default is 16 MiB.
const H2_MAX_HEADER_LIST: u32 = 32 * 1024;
/// Streams a client may reset before the connection is closed (rapid reset, CVE-2023-44487).
const H2_MAX_RESETS: usize = 32;
/// After an idle connection is asked to close, how long it may take (an HTTP/2 peer that
/// does not answer the GOAWAY's ping is cut off then).
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// What connections may cost; from the command line.
#[derive(Debug, Clone)]
pub(crate) struct ConnLimits {
    pub max_connections: usize,
    /// Not for trusted proxies: all their clients come through them.
    pub per_address: usize,
    pub trusted: Arc<TrustedProxies>,
    pub first_request: Duration,
    pub idle: Duration,
}

/// A TLS acceptor from PEM files (certificate chain, private key).
pub(crate) fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate", cert.display()));
    }
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| format!("{}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| format!("TLS: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn http_builder() -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_PING_INTERVAL)
        .keep_alive_timeout(H2_PING_TIMEOUT)
        .max_concurrent_streams(H2_MAX_STREAMS)
        .max_header_list_size(H2_MAX_HEADER_LIST)
        .max_pending_accept_reset_streams(H2_MAX_RESETS)
        .max_local_error_reset_streams(H2_MAX_RESETS);
    builder
}

/// Serves `app` until `shutdown` resolves, then waits up to `grace` for open calls.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    app: Router,
    limits: ConnLimits,
    shutdown: impl std::future::Future<Output = ()>,
    grace: Duration,
) {
    let builder = Arc::new(http_builder());
    let (stop, stopped) = watch::channel(false);
    let max = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let slots = Arc::new(Semaphore::new(max));
    let per_address = PerAddress::new(limits.per_address);
    tokio::pin!(shutdown);
    loop {
        // Past the global cap, clients wait in the kernel's backlog.
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: breathe, then go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let address_slot = if limits.trusted.trusts(peer.ip()) {
            None
        } else {
            let Some(address_slot) = per_address.enter(peer.ip()) else {
                tracing::debug!(peer = %peer, "too many connections from this address");
                continue;
            };
            Some(address_slot)
        };
        let deadline = Instant::now() + limits.first_request;
        let conn = Conn {
            peer,
            tls: tls.is_some(),
            forwarded: false,
        };
        let activity = Arc::new(Activity::new());
        let service = {
            let activity = Arc::clone(&activity);
            let app = app.clone();
            let trusted = Arc::clone(&limits.trusted);
            hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                let conn = trusted.client_view(conn, &mut request);
                request.extensions_mut().insert(conn);
                let mut app = app.clone();
                let in_flight = activity.begin();
                async move {
                    let _in_flight = in_flight;
                    app.call(request.map(axum::body::Body::new)).await
                }
            })
        };
        let builder = Arc::clone(&builder);
        let tls = tls.clone();
        let stopped = stopped.clone();
        let idle = limits.idle;
        tokio::spawn(async move {
            let _slots = (slot, address_slot);
            let watch = Watch {
                activity,
                deadline,
                idle,
                stopped,
            };
            match tls {
                None => watch.drive(&builder, stream, service).await,
                Some(acceptor) => {
                    // The handshake counts against the first-request deadline.
                    match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => watch.drive(&builder, stream, service).await,
                        _ => tracing::debug!(peer = %peer, "no TLS handshake in time"),
                    }
                }
            }
        });
    }
    drop(listener);
    tracing::info!("shutting down: finishing calls in flight");
    let _ = stop.send(true);
    // Every connection holds a slot until it ends.
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    if tokio::time::timeout(grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("calls still running after {grace:?}; stopping anyway");
    }
}

/// Requests of one connection: how many began, how many are running, when the last ended.
struct Activity {
    started: AtomicU64,
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

impl Activity {
    fn new() -> Self {
        Activity {
            started: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        }
    }

    fn begin(self: &Arc<Self>) -> InFlight {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(Arc::clone(self))
    }

    fn idle_since(&self) -> Instant {
        *self.last.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One request running; ends when the service has produced its answer.
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self.0.last.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs one connection under the first-request deadline, the idle timeout and shutdown.
struct Watch {
    activity: Arc<Activity>,
    deadline: Instant,
    idle: Duration,
    stopped: watch::Receiver<bool>,
}

impl Watch {
    async fn drive<I, S>(mut self, builder: &auto::Builder<TokioExecutor>, io: I, service: S)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        S: hyper::service::Service<
                hyper::Request<Incoming>,
                Response = axum::response::Response,
                Error = std::convert::Infallible,
            > + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
        tokio::pin!(conn);
        // Set once the connection was asked to close: it must be gone by then.
        let mut closing: Option<Instant> = None;
        loop {
            let started = self.activity.started.load(Ordering::Relaxed) > 0;
            let wake = match closing {
                Some(at) => at,
                None if !started => self.deadline,
                // While a request runs, the connection is not idle: look again one idle
                // period later (waking at `last end + idle`, already past, would spin).
                None if self.activity.in_flight.load(Ordering::Acquire) > 0 => {
                    Instant::now() + self.idle
                }
                None => self.activity.idle_since() + self.idle,
            };
            tokio::select! {
                result = conn.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                    return;
                }
                _ = self.stopped.changed(), if closing.is_none() => {
                    // A request may have begun while this branch waited.
                    if self.activity.started.load(Ordering::Relaxed) == 0 {
                        return;
                    }
                    conn.as_mut().graceful_shutdown();
                    // Calls in flight finish within the server's grace period.
                    closing = Some(Instant::now() + Duration::from_secs(86_400));
                }
                () = tokio::time::sleep_until(wake) => {
                    // A request may have begun while this branch slept.
                    let started = self.activity.started.load(Ordering::Relaxed) > 0;
                    if closing.is_some() || !started {
                        // Closing took too long, or no request came in time.
                        return;
                    }
                    let idle_for = Instant::now().duration_since(self.activity.idle_since());
                    if self.activity.in_flight.load(Ordering::Acquire) == 0 && idle_for >= self.idle {
                        conn.as_mut().graceful_shutdown();
                        closing = Some(Instant::now() + CLOSE_GRACE);
                    }
                }
            }
        }
    }
}

/// Open connections per client address (IPv4 address or IPv6 /64).
#[derive(Clone)]
struct PerAddress {
    max: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerAddress {
    fn new(max: usize) -> Self {
        PerAddress {
            max: max.max(1),
            open: Arc::default(),
        }
    }

    /// A place for one more connection from `ip`, or `None` when it has `max` open.
    fn enter(&self, ip: IpAddr) -> Option<AddressSlot> {
        let key = address_key(ip);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(key).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            key,
            table: self.clone(),
        })
    }
}

struct AddressSlot {
    key: IpAddr,
    table: PerAddress,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Resolves on ctrl-c or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_address_cap_counts_and_frees() {
        let table = PerAddress::new(2);
        let ip: IpAddr = "192.0.2.7".parse().unwrap();
        let a = table.enter(ip).unwrap();
        let _b = table.enter(ip).unwrap();
        assert!(table.enter(ip).is_none());
        assert!(table.enter("192.0.2.8".parse().unwrap()).is_some());
        drop(a);
        assert!(table.enter(ip).is_some());
    }
}
