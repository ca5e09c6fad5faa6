//! A loopback origin serving the benchmark corpus, for the import and batch benchmarks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Files by name.
pub type Files = HashMap<String, Vec<u8>>;

/// The corpus's images (JPEG, PNG, GIF): sorted names, and the files.
pub fn read_corpus(dir: &Path) -> std::io::Result<(Vec<String>, Files)> {
    let mut names = Vec::new();
    let mut files = HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let p = entry?.path();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("jpg" | "png" | "gif")
        ) {
            files.insert(name.clone(), std::fs::read(&p)?);
            names.push(name);
        }
    }
    names.sort();
    Ok((names, files))
}

/// Serve `files` (name → bytes) at `/name` on a loopback port, one request per connection;
/// a query string is ignored.
pub async fn serve(files: Arc<Files>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let files = files.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = 0;
                while got < buf.len() {
                    match sock.read(&mut buf[got..]).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n,
                    }
                    if buf[..got].windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
                let head = String::from_utf8_lossy(&buf[..got]);
                let path = head.split_whitespace().nth(1).unwrap_or("/");
                let name = path.trim_start_matches('/').split('?').next().unwrap_or("");
                let (status, body): (&str, &[u8]) = match files.get(name) {
                    Some(b) => ("200 OK", b),
                    None => ("404 Not Found", b""),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    Ok(addr)
}
