//! The seed's code sample (`accounts.importProfilePhoto` with `publish: false` and a
//! callback that shows the result), in Rust; then the photo is published.
//!
//! It serves `examples/photos/astronaut.png` from a tiny HTTP server on 127.0.0.1 (the
//! "MY_SERVER" of the sample), so it runs anywhere without network access. Loopback is
//! refused by default; the example allows exactly that one address.
//!
//! Run: `cargo run -p avatarium-example`

use std::net::SocketAddr;

use avatarium::{Client, Config, Identity, Output, PolicyChange, Request, Response};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The sample's `showPhotoInfo(response)`.
fn show_photo_info(response: &Response) {
    if response.is_ok() {
        println!("Photo imported: {}", response.to_json());
    } else {
        let message = response.error_kind().map_or("", |kind| kind.message());
        println!("Error: {message} ({})", response.error_code());
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
    // Typed: a Request per method, a Response with a typed result.
    client
        .run(Request::SetPolicies(PolicyChange {
            thumbnail_width: Some(64),
            thumbnail_height: Some(64),
            ..PolicyChange::default()
        }))
        .await
        .into_result()?;

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
    let who = Identity::uid("example-user");
    let published = client
        .run(Request::PublishProfilePhoto { who: who.clone() })
        .await;
    println!("Published: {}", published.to_json());
    let info = client.run(Request::GetAccountInfo { who }).await;
    println!("Account: {}", info.to_json());
    let Ok(Output::Account(account)) = info.into_result() else {
        return Err("getAccountInfo failed".into());
    };
    let photo = account.photo.ok_or("no photo after publishing")?;
    println!("thumbnailURL = {}", photo.thumbnail_url);
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
