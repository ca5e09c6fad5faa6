//! The loopback origin `import-batch` tests import from. It counts hits per path and the
//! most requests it ever held at once, and answers by the path's first segment:
//! `/ok/…` a JPEG, `/slow/…` the same after 200 ms, `/flaky/…` 503 twice then the JPEG,
//! `/down/…` always 503, `/bomb/…` a PNG whose header claims 100000 × 100000 pixels,
//! anything else 404.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

#[derive(Default)]
pub struct Counts {
    hits: Mutex<HashMap<String, usize>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl Counts {
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

pub struct Origin {
    pub addr: SocketAddr,
    pub counts: Arc<Counts>,
}

impl Origin {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Leaves `in_flight` when the request ends, answered or dropped.
struct InFlight(Arc<Counts>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve(
    State(counts): State<Arc<Counts>>,
    UrlPath((kind, name)): UrlPath<(String, String)>,
) -> Response {
    let path = format!("/{kind}/{name}");
    let hit = {
        let mut hits = counts.hits.lock().unwrap();
        let n = hits.entry(path).or_default();
        *n += 1;
        *n
    };
    let now = counts.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    counts.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let _guard = InFlight(Arc::clone(&counts));
    let jpeg = || {
        let bytes = std::fs::read(repo_root().join("conformance/files/photo.jpg")).unwrap();
        ([("content-type", "image/jpeg")], bytes).into_response()
    };
    match kind.as_str() {
        "ok" => jpeg(),
        "slow" => {
            tokio::time::sleep(Duration::from_millis(200)).await;
            jpeg()
        }
        "flaky" if hit > 2 => jpeg(),
        "flaky" | "down" => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        "bomb" => ([("content-type", "image/png")], bomb_png()).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

pub async fn start() -> Origin {
    let counts = Arc::new(Counts::default());
    let app = Router::new()
        .route("/{kind}/{name}", get(serve))
        .with_state(Arc::clone(&counts));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Origin { addr, counts }
}

/// A PNG whose IHDR claims 100000 × 100000 RGB pixels (30 GB decoded): refused from the
/// header, before any pixel buffer exists.
fn bomb_png() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(png: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    png.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = png.len();
    png.extend_from_slice(kind);
    png.extend_from_slice(data);
    let crc = crc32(&png[start..]);
    png.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
