//! The one support module of the core test binaries: each declares `mod support;` and
//! uses what it needs. Here: a file server on 127.0.0.1 with routes that behave well or
//! badly, fixtures, and clients on a fresh embedded store. Submodules:
//!
//! - `http_server`: a raw-TCP server that misbehaves step by step, and a stub resolver;
//! - `hostile`: clients, envelope checks and cost measurement of the hostile suites;
//! - `craft`, `jpeg_craft`: hostile files built byte by byte;
//! - `conformance`: the runner of `conformance/cases.json`;
//! - `scale`: the backends (embedded, PostgreSQL + S3) of the scale-out suites.
//!
//! No binary uses all of it; what one leaves unused is not dead code.
#![allow(dead_code)]

pub mod conformance;
pub mod craft;
pub mod hostile;
pub mod http_server;
pub mod jpeg_craft;
pub mod scale;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use avatarium::{Client, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What a route answers.
#[derive(Clone, Debug)]
pub enum Reply {
    Body(Vec<u8>, &'static str),
    Status(u16),
    Redirect(String),
    /// Headers at once, then the body one byte every `Duration`.
    Trickle(Vec<u8>, Duration),
    /// Accept and never answer.
    Hang,
}

#[derive(Clone)]
pub struct TestServer {
    pub addr: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Reply>>>,
    connections: Arc<AtomicUsize>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let server = TestServer {
            addr: listener.local_addr().expect("local addr"),
            routes: Arc::default(),
            connections: Arc::default(),
        };
        let s = server.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                s.connections.fetch_add(1, Ordering::SeqCst);
                let s = s.clone();
                tokio::spawn(async move { s.serve(sock).await });
            }
        });
        server
    }

    /// A server with every file of `dir` at `/<name>`.
    pub async fn with_files(dir: &Path) -> TestServer {
        let server = Self::start().await;
        for entry in std::fs::read_dir(dir).expect("read fixture dir") {
            let path = entry.expect("entry").path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            server.route(
                &format!("/{name}"),
                Reply::Body(std::fs::read(&path).unwrap(), "application/octet-stream"),
            );
        }
        server
    }

    pub fn route(&self, path: &str, reply: Reply) {
        self.routes.lock().unwrap().insert(path.to_string(), reply);
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    async fn serve(&self, mut sock: TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if buf.len() > 64 * 1024 {
                return;
            }
        }
        let head = String::from_utf8_lossy(&buf);
        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
        let reply = self
            .routes
            .lock()
            .unwrap()
            .get(&path)
            .cloned()
            .unwrap_or(Reply::Status(404));
        let _ = match reply {
            Reply::Body(body, ctype) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                write_all(&mut sock, &[head.as_bytes(), &body].concat()).await
            }
            Reply::Status(code) => {
                let head = format!(
                    "HTTP/1.1 {code} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                write_all(&mut sock, head.as_bytes()).await
            }
            Reply::Redirect(to) => {
                let head = format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                write_all(&mut sock, head.as_bytes()).await
            }
            Reply::Trickle(body, every) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                if sock.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for b in body {
                    tokio::time::sleep(every).await;
                    if sock.write_all(&[b]).await.is_err() {
                        return;
                    }
                }
                Ok(())
            }
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok(())
            }
        };
    }
}

async fn write_all(sock: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    sock.write_all(bytes).await?;
    sock.shutdown().await
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(repo_root().join("conformance/files").join(name)).expect("fixture")
}

/// A configuration on a fresh data dir that may fetch from `server` (loopback allowed
/// for exactly its address and port).
pub fn test_config(dir: &Path, server: &TestServer) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        allow_addresses: vec![server.addr.ip()],
        fetch_allowed_ports: vec![server.addr.port()],
        fetch_timeout_ms: 3000,
        fetch_connect_timeout_ms: 1000,
        ..Config::default()
    }
}

pub async fn test_client(dir: &Path, server: &TestServer) -> Client {
    Client::open(test_config(dir, server))
        .await
        .expect("open client")
}

/// Dimensions of an encoded image.
pub fn dimensions(bytes: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(bytes).expect("decodable output");
    (img.width(), img.height())
}

/// The blob a photo URL points at, read from the local folder.
pub fn blob_at(url: &str) -> Vec<u8> {
    let path = url::Url::parse(url).unwrap().to_file_path().unwrap();
    std::fs::read(path).expect("blob exists")
}
