//! The seed's code sample (`accounts.importProfilePhoto` with `publish: false` and a
//! callback that shows the result), in Rust; then the photo is published.
//!
//! It serves `examples/photos/astronaut.png` from a tiny HTTP server on 127.0.0.1 (the
//! "MY_SERVER" of the sample), so it runs anywhere without network access. Loopback is
//! refused by default; the example allows exactly that one address.
//!
//! Run: `cargo run -p avatarium-example`

use std::net::SocketAddr;

use avatarium::{Client, Config, Response};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The sample's `showPhotoInfo(response)`.
fn show_photo_info(response: &Response) {
    if response.is_ok() {
        println!("Photo imported: {}", response.to_json());
    } else {
        println!(
            "Error: {} ({})",
            response
                .get("errorMessage")
                .and_then(|v| v.as_str())
                .unwrap_or(""),
            response.error_code()
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let photo_server = serve_photo().await?;
    let data = tempfile::tempdir()?;
    let client = Client::open(Config {
        data_dir: data.path().to_path_buf(),
        allow_addresses: vec![photo_server.ip()],
        fetch_allowed_ports: vec![photo_server.port()],
        ..Config::default()
    })
    .await?;
    client
        .call(
            "accounts.setPolicies",
            &json!({"profilePhoto": {"thumbnailWidth": 64, "thumbnailHeight": 64}}),
        )
        .await;

    // function doImportPhoto() { gigya.accounts.importProfilePhoto({URL: …, publish: false, callback: showPhotoInfo}) }
    let photo_params = json!({
        "UID": "example-user",
        "URL": format!("http://{photo_server}/path/to/photo.png"),
        "publish": false,
    });
    let response = client
        .call("accounts.importProfilePhoto", &photo_params)
        .await;
    show_photo_info(&response);
    if !response.is_ok() {
        std::process::exit(1);
    }

    // Later: publish it.
    let published = client
        .call(
            "accounts.publishProfilePhoto",
            &json!({"UID": "example-user"}),
        )
        .await;
    println!("Published: {}", published.to_json());
    let info = client
        .call("accounts.getAccountInfo", &json!({"UID": "example-user"}))
        .await;
    println!("Account: {}", info.to_json());
    let thumbnail = info
        .get("profile")
        .and_then(|p| p.get("thumbnailURL"))
        .and_then(|u| u.as_str())
        .ok_or("no thumbnailURL after publishing")?;
    println!("thumbnailURL = {thumbnail}");
    Ok(())
}

/// Serve the sample photo at any path of a loopback port.
async fn serve_photo() -> std::io::Result<SocketAddr> {
    let photo = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../photos/astronaut.png"
    ))?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let photo = photo.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    photo.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(&photo).await;
            });
        }
    });
    Ok(addr)
}
