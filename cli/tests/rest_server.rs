//! The server around the calls: photo serving, the body cap, error codes that need a
//! misbehaving store or origin (500001, 504002, 503001), graceful shutdown, and the CLI's
//! other commands still working.

mod support;

use std::time::Duration;

use support::{b64, fixture, origin, Server, SiteConf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const KEY: &str = "site1";
const SECRET: &[u8] = b"site one secret";

fn creds() -> [(&'static str, String); 2] {
    [("apiKey", KEY.to_string()), ("secret", b64(SECRET))]
}

async fn call(s: &Server, method: &str, params: &[(&str, &str)]) -> support::Reply {
    let c = creds();
    let mut all: Vec<(&str, &str)> = c.iter().map(|(k, v)| (*k, v.as_str())).collect();
    all.extend_from_slice(params);
    s.post(method, &all).await
}

/// A raw HTTP/1.1 GET, so that the path reaches the server exactly as written.
async fn raw_get(s: &Server, path: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", s.port()))
        .await
        .unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    tcp.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn published_photos_are_served() {
    let s = Server::start(
        "",
        &[SiteConf::new(KEY, SECRET)],
        &["--allow-loopback-plain-http"],
    );
    let photo = b64(&fixture("photo.jpg"));
    let r = call(
        &s,
        "accounts.setProfilePhoto",
        &[("UID", "u1"), ("photoBytes", &photo), ("publish", "true")],
    )
    .await;
    assert_eq!(r.code(), 0, "{}", r.body);
    let photo_url = r.json["photoURL"].as_str().unwrap().to_string();
    let thumb_url = r.json["thumbnailURL"].as_str().unwrap().to_string();
    assert!(
        photo_url.starts_with(&format!("{}/photos/{KEY}/", s.base)),
        "{photo_url}"
    );

    for url in [&photo_url, &thumb_url] {
        let resp = s.client.get(url.as_str()).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let h = resp.headers().clone();
        assert_eq!(h["content-type"], "image/jpeg");
        assert_eq!(h["cache-control"], "public, max-age=31536000, immutable");
        assert_eq!(h["x-content-type-options"], "nosniff");
        let etag = h["etag"].to_str().unwrap().to_string();
        let bytes = resp.bytes().await.unwrap();
        assert_eq!(&bytes[..3], &[0xFF, 0xD8, 0xFF]);
        let again = s
            .client
            .get(url.as_str())
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304);
        let head = s.client.head(url.as_str()).send().await.unwrap();
        assert_eq!(head.status(), 200);
    }

    // PNG uploads are served as PNG.
    let png = b64(&fixture("photo.png"));
    let r = call(
        &s,
        "accounts.setProfilePhoto",
        &[("UID", "u2"), ("photoBytes", &png), ("publish", "true")],
    )
    .await;
    let url = r.json["photoURL"].as_str().unwrap();
    let resp = s.client.get(url).send().await.unwrap();
    assert_eq!(resp.headers()["content-type"], "image/png");

    // Nothing but our keys, in our sites' folders.
    let key = photo_url.rsplit('/').next().unwrap();
    std::fs::write(s.site_dir(KEY).join("blobs/notes.txt"), "x").unwrap();
    for path in [
        format!("/photos/{KEY}/secret.key"),
        format!("/photos/{KEY}/..%2Fsecret.key"),
        format!("/photos/{KEY}/../secret.key"),
        format!("/photos/{KEY}/../../{KEY}/secret.key"),
        format!("/photos/{KEY}/notes.txt"),
        format!("/photos/{KEY}/{}", key.replace(".jpg", ".png")),
        format!("/photos/{KEY}/{}", key.to_uppercase()),
        format!("/photos/nosuchsite/{key}"),
        format!("/photos/{KEY}/{key}/x"),
    ] {
        let answer = raw_get(&s, &path).await;
        assert!(!answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
        assert!(!answer.contains("image/"), "{path}: {answer}");
    }
    // HEAD does not run calls.
    let head = s
        .client
        .head(format!("{}/accounts.getPolicies", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 405);
    assert!(raw_get(&s, &format!("/photos/{KEY}/{key}"))
        .await
        .starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn uploads_over_the_byte_cap() {
    let s = Server::start(
        "max_photo_bytes = 100000",
        &[SiteConf::new(KEY, SECRET)],
        &["--allow-loopback-plain-http"],
    );
    // Under the body cap, over the photo cap: the core says 413004.
    let mid = b64(&vec![0u8; 120_000]);
    let r = call(
        &s,
        "accounts.setProfilePhoto",
        &[
            ("UID", "u1"),
            ("photoBytes", &mid),
            ("httpStatusCodes", "true"),
        ],
    )
    .await;
    assert_eq!((r.status, r.code()), (413, 413004), "{}", r.body);
    assert_eq!(r.json["errorMessage"], "Profile photo too large");
    // Over the body cap: refused before the body is read, same code.
    let huge = "A".repeat(600_000);
    let r = s
        .client
        .post(format!(
            "{}/accounts.setProfilePhoto?httpStatusCodes=true",
            s.base
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(support::form(&[
            ("apiKey", KEY),
            ("UID", "u1"),
            ("photoBytes", &huge),
        ]))
        .send()
        .await
        .unwrap();
    let r = support::Reply::from(r).await;
    assert_eq!((r.status, r.code()), (413, 413004), "{}", r.body);
    assert!(
        r.json["errorDetails"].as_str().unwrap().contains("body"),
        "{}",
        r.body
    );
    // The same without a Content-Length (chunked).
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", s.port()))
        .await
        .unwrap();
    let head = "POST /accounts.setProfilePhoto HTTP/1.1\r\nHost: 127.0.0.1\r\n\
                Content-Type: application/x-www-form-urlencoded\r\n\
                Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n";
    tcp.write_all(head.as_bytes()).await.unwrap();
    let body = format!("apiKey={KEY}&UID=u1&photoBytes={huge}");
    for chunk in body.as_bytes().chunks(65536) {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), chunk, b"\r\n"].concat();
        if tcp.write_all(&framed).await.is_err() {
            break; // the server may answer and close before the body ends
        }
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.contains("\"errorCode\":413004"), "{answer}");
    // Other content types are refused.
    let r = s
        .client
        .post(format!("{}/accounts.getPolicies", s.base))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(support::Reply::from(r).await.code(), 400006);
}

#[tokio::test]
async fn storage_failure_timeout_and_busy() {
    let origin = origin().await;
    let top = format!(
        "allow_loopback = true\nfetch_allowed_ports = [{}]\nfetch_timeout_ms = 500\n",
        origin.port()
    );
    let busy = SiteConf::new("busy", b"busy secret")
        .extra("max_concurrent_fetches = 1\nmax_queued_fetches = 0\nfetch_timeout_ms = 3000");
    let s = Server::start(
        &top,
        &[SiteConf::new(KEY, SECRET), busy],
        &["--allow-loopback-plain-http"],
    );

    // 504002: the origin accepts and never answers.
    let hang = format!("http://{origin}/hang");
    let r = call(
        &s,
        "accounts.importProfilePhoto",
        &[("UID", "u1"), ("url", &hang)],
    )
    .await;
    assert_eq!(r.code(), 504002, "{}", r.body);
    assert_eq!(r.json["errorMessage"], "Request timeout");

    // 503001: one fetch running, none may wait (a hanging fetch holds a fetch slot).
    let busy_secret = b64(b"busy secret");
    let slow = {
        let (client, base, hang, sec) = (
            s.client.clone(),
            s.base.clone(),
            hang.clone(),
            busy_secret.clone(),
        );
        tokio::spawn(async move {
            let body = support::form(&[
                ("apiKey", "busy"),
                ("secret", &sec),
                ("UID", "u1"),
                ("url", &hang),
            ]);
            client
                .post(format!("{base}/accounts.importProfilePhoto"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let photo = b64(&fixture("photo.jpg"));
    let r = s
        .post(
            "accounts.importProfilePhoto",
            &[
                ("apiKey", "busy"),
                ("secret", &busy_secret),
                ("UID", "u2"),
                ("url", &hang),
            ],
        )
        .await;
    assert_eq!(r.code(), 503001, "{}", r.body);
    assert!(slow.await.unwrap().contains("504002"));

    // 500001: the blob folder is replaced by a file after the server opened it.
    let blobs = s.site_dir(KEY).join("blobs");
    std::fs::remove_dir_all(&blobs).unwrap();
    std::fs::write(&blobs, "not a folder").unwrap();
    let r = call(
        &s,
        "accounts.setProfilePhoto",
        &[("UID", "u1"), ("photoBytes", &photo)],
    )
    .await;
    assert_eq!(r.code(), 500001, "{}", r.body);
    assert_eq!(r.json["errorDetails"], "Internal error");
}

/// On SIGTERM the site's client is closed: the call in flight answers 503001 at once
/// instead of running out its 2 s fetch timeout, and the server exits.
#[tokio::test]
async fn sigterm_finishes_calls_in_flight() {
    let origin = origin().await;
    let top = format!(
        "allow_loopback = true\nfetch_allowed_ports = [{}]\nfetch_timeout_ms = 2000\n",
        origin.port()
    );
    let mut s = Server::start(
        &top,
        &[SiteConf::new(KEY, SECRET)],
        &["--allow-loopback-plain-http"],
    );
    let in_flight = {
        let (client, base) = (s.client.clone(), s.base.clone());
        let body = support::form(&[
            ("apiKey", KEY),
            ("secret", &b64(SECRET)),
            ("UID", "u1"),
            ("url", &format!("http://{origin}/hang")),
        ]);
        tokio::spawn(async move {
            client
                .post(format!("{base}/accounts.importProfilePhoto"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = s.base.clone();
    let stopping = std::time::Instant::now();
    let status = tokio::task::spawn_blocking(move || s.terminate())
        .await
        .unwrap();
    let took = stopping.elapsed();
    assert!(status.success(), "{status:?}");
    let body = in_flight.await.unwrap();
    assert!(body.contains("\"errorCode\":503001"), "{body}");
    assert!(body.contains("The client is closed"), "{body}");
    println!(
        "SIGTERM with a hanging fetch in flight: exited in {} ms",
        took.as_millis()
    );
    assert!(took < Duration::from_millis(1500), "{took:?}");
    assert!(reqwest::get(format!("{base}/accounts.getPolicies"))
        .await
        .is_err());
}

#[test]
fn other_commands_still_work() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_avatarium"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("policies")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["profilePhoto"]["thumbnailWidth"], 64);
    // serve without sites says so.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_avatarium"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("[[sites]]"));
    // Plain HTTP on a public address needs the explicit flag.
    let config = dir.path().join("pp.toml");
    std::fs::write(
        &config,
        "[[sites]]\napi_key = \"k\"\nsecret = \"c2VjcmV0\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_avatarium"))
        .arg("--config")
        .arg(&config)
        .args(["serve", "--listen", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-plain-http"));
}
