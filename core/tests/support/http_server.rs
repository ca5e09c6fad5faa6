//! A raw-TCP HTTP/1.1 test server on 127.0.0.1 that can misbehave on purpose (trickle
//! bytes, lie about Content-Length, never answer, redirect, flood headers), and a stub
//! name resolver. (The plain file server of the API suites is `support::TestServer`.)
//!
//! Every socket here is bound to, or connects to, 127.0.0.1 only.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use avatarium::fetch::NameResolver;

pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// One thing the server does on a connection, in order.
#[derive(Debug, Clone)]
pub enum Step {
    /// Write these bytes.
    Send(Vec<u8>),
    /// Pause.
    Sleep(Duration),
    /// Write these bytes one at a time with a pause between them.
    Trickle { bytes: Vec<u8>, every: Duration },
    /// Write this chunk again and again until the client goes away.
    Endless(Vec<u8>),
    /// Say nothing; wait (up to 10 s) for the client to close the connection.
    WaitForClose,
}

/// The head of a request the server received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub head: String,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

type Handler = Arc<dyn Fn(&Request) -> Vec<Step> + Send + Sync>;

#[derive(Default)]
struct Stats {
    connections: AtomicUsize,
    requests: Mutex<Vec<Request>>,
    /// Connections on which the client went away before the script finished (a write
    /// failed, or `WaitForClose` saw EOF).
    client_closed: AtomicUsize,
    bytes_sent: AtomicUsize,
}

/// A server on 127.0.0.1:<random port>. Dropping it stops accepting.
pub struct TestServer {
    pub addr: SocketAddr,
    stats: Arc<Stats>,
    task: JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Read each request head, then run the steps the handler returns for it, then close.
    pub async fn start(handler: impl Fn(&Request) -> Vec<Step> + Send + Sync + 'static) -> Self {
        Self::spawn(Some(Arc::new(handler)), Vec::new()).await
    }

    /// Run `steps` on every connection without reading anything first.
    pub async fn start_raw(steps: Vec<Step>) -> Self {
        Self::spawn(None, steps).await
    }

    /// Serve `steps` for every request.
    pub async fn always(steps: Vec<Step>) -> Self {
        Self::start(move |_| steps.clone()).await
    }

    /// Serve `steps` for every request on a listener bound beforehand (its port can be
    /// known before the runtime starts). Call inside a runtime.
    pub fn on_std_listener(listener: std::net::TcpListener, steps: Vec<Step>) -> Self {
        assert!(listener.local_addr().unwrap().ip().is_loopback());
        listener.set_nonblocking(true).unwrap();
        let listener = TcpListener::from_std(listener).unwrap();
        Self::serve_on(
            listener,
            Some(Arc::new(move |_: &Request| steps.clone())),
            Vec::new(),
        )
    }

    async fn spawn(handler: Option<Handler>, raw_steps: Vec<Step>) -> Self {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        Self::serve_on(listener, handler, raw_steps)
    }

    fn serve_on(listener: TcpListener, handler: Option<Handler>, raw_steps: Vec<Step>) -> Self {
        let addr = listener.local_addr().unwrap();
        let stats = Arc::new(Stats::default());
        let task = {
            let stats = stats.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((stream, _)) = listener.accept().await else {
                        continue;
                    };
                    stats.connections.fetch_add(1, Ordering::SeqCst);
                    let stats = stats.clone();
                    let handler = handler.clone();
                    let raw_steps = raw_steps.clone();
                    tokio::spawn(async move {
                        serve(stream, handler, raw_steps, stats).await;
                    });
                }
            })
        };
        TestServer { addr, stats, task }
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port(), path)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.stats.connections.load(Ordering::SeqCst)
    }

    /// Request heads received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.stats.requests.lock().unwrap().clone()
    }

    pub fn client_closed(&self) -> usize {
        self.stats.client_closed.load(Ordering::SeqCst)
    }

    pub fn bytes_sent(&self) -> usize {
        self.stats.bytes_sent.load(Ordering::SeqCst)
    }

    /// Wait (up to `limit`) until `client_closed()` reaches `n`.
    pub async fn wait_client_closed(&self, n: usize, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.client_closed() >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.client_closed() >= n
    }
}

async fn serve(mut stream: TcpStream, handler: Option<Handler>, raw: Vec<Step>, stats: Arc<Stats>) {
    let steps = match handler {
        None => raw,
        Some(handler) => {
            let Some(request) = read_head(&mut stream).await else {
                return;
            };
            let steps = handler(&request);
            stats.requests.lock().unwrap().push(request);
            steps
        }
    };
    if run_steps(&mut stream, &steps, &stats).await.is_err() {
        stats.client_closed.fetch_add(1, Ordering::SeqCst);
        return;
    }
    let _ = stream.shutdown().await;
}

/// Run a script on any stream (plain TCP or TLS). `Err` means the client went away.
pub async fn run_steps<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    steps: &[Step],
    stats_counter: &StatsHandle,
) -> std::io::Result<()> {
    for step in steps {
        match step {
            Step::Send(bytes) => {
                stream.write_all(bytes).await?;
                stream.flush().await?;
                stats_counter.sent(bytes.len());
            }
            Step::Sleep(d) => tokio::time::sleep(*d).await,
            Step::Trickle { bytes, every } => {
                for b in bytes {
                    stream.write_all(std::slice::from_ref(b)).await?;
                    stream.flush().await?;
                    stats_counter.sent(1);
                    tokio::time::sleep(*every).await;
                }
            }
            Step::Endless(chunk) => loop {
                stream.write_all(chunk).await?;
                stats_counter.sent(chunk.len());
            },
            Step::WaitForClose => {
                let mut buf = [0u8; 4096];
                let waited = tokio::time::timeout(Duration::from_secs(10), async {
                    loop {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                    }
                })
                .await;
                if waited.is_ok() {
                    return Err(std::io::ErrorKind::ConnectionAborted.into());
                }
            }
        }
    }
    Ok(())
}

/// What `run_steps` reports to; `Arc<Stats>` is one.
pub type StatsHandle = dyn SentCounter + Send + Sync;

pub trait SentCounter {
    fn sent(&self, n: usize);
}

impl SentCounter for Arc<Stats> {
    fn sent(&self, n: usize) {
        self.bytes_sent.fetch_add(n, Ordering::SeqCst);
    }
}

impl SentCounter for () {
    fn sent(&self, _: usize) {}
}

/// Read one request head (up to 64 KiB). `None` if the client closed first.
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Request> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        if buf.len() > 64 * 1024 {
            return None;
        }
        match stream.read(&mut byte).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&byte[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buf).into_owned();
    let mut first = head.lines().next().unwrap_or("").split(' ');
    let method = first.next().unwrap_or("").to_owned();
    let path = first.next().unwrap_or("").to_owned();
    Some(Request { method, path, head })
}

/// A complete response with Content-Length and `Connection: close`.
pub fn response(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// Just a head: status line, the given headers, blank line. Nothing is added.
pub fn head(status: u16, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status} X\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.into_bytes()
}

pub fn ok(body: &[u8]) -> Vec<Step> {
    vec![Step::Send(response(
        200,
        &[("Content-Type", "image/png")],
        body,
    ))]
}

pub fn status(code: u16) -> Vec<Step> {
    vec![Step::Send(response(code, &[], b"nope"))]
}

pub fn redirect(code: u16, location: &str) -> Vec<Step> {
    vec![Step::Send(response(code, &[("Location", location)], b""))]
}

/// A name resolver with scripted answers that records every name it is asked.
#[derive(Debug, Default)]
pub struct StubResolver {
    /// Answers handed out in order; the last one repeats.
    script: Mutex<VecDeque<Vec<IpAddr>>>,
    /// Per-name answers, used before `script`.
    by_name: Mutex<Vec<(String, Vec<IpAddr>)>>,
    asked: Mutex<Vec<String>>,
}

impl StubResolver {
    /// Every name answers `answers`.
    pub fn always(answers: &[IpAddr]) -> Arc<Self> {
        Self::sequence(vec![answers.to_vec()])
    }

    /// The n-th lookup answers `seq[n]`; the last entry repeats.
    pub fn sequence(seq: Vec<Vec<IpAddr>>) -> Arc<Self> {
        Arc::new(StubResolver {
            script: Mutex::new(seq.into()),
            ..Default::default()
        })
    }

    /// `name` answers `answers`; other names fall back to the script (or fail).
    pub fn with_name(self: Arc<Self>, name: &str, answers: &[IpAddr]) -> Arc<Self> {
        self.by_name
            .lock()
            .unwrap()
            .push((name.to_owned(), answers.to_vec()));
        self
    }

    /// The names asked so far, in order.
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl NameResolver for StubResolver {
    async fn resolve(&self, host: &str) -> std::io::Result<Vec<IpAddr>> {
        self.asked.lock().unwrap().push(host.to_owned());
        if let Some((_, a)) = self.by_name.lock().unwrap().iter().find(|(n, _)| n == host) {
            return Ok(a.clone());
        }
        let mut script = self.script.lock().unwrap();
        match script.len() {
            0 => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no such host (stub)",
            )),
            1 => Ok(script[0].clone()),
            _ => Ok(script.pop_front().unwrap()),
        }
    }
}
