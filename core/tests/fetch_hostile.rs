//! The fetcher against hostile servers and URLs (THREATS.md (b) items 1–52 that can run
//! on one machine). Every server here listens on 127.0.0.1; every URL that reaches the
//! network names 127.0.0.1 (or a loopback address the policy refuses, which nothing
//! listens on). Private, link-local and metadata addresses are only ever refused before
//! connect: they are covered by `fetch_policy.rs`, which opens no socket.
//!
//! Outcome classes (THREATS.md (b)):
//! - BC: refused before connect: the server saw no connection.
//! - AH: refused after the response headers.
//! - AN(n): refused after about n body bytes.
//! - TO: refused by a deadline (504002).
//! - OK: fetched.

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use avatarium::error::{Error, ErrorKind};
use avatarium::fetch::{FetchConfig, Fetcher, NameResolver};
use bytes::Bytes;

use support::http_server::{
    self, head, ok, read_head, redirect, response, status, Step, StubResolver, TestServer,
    LOCALHOST,
};

const LOOPBACK_2: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
const CAP: u64 = 64 * 1024;

/// Allows exactly 127.0.0.1 and the test server's port; short deadlines.
fn cfg(port: u16) -> FetchConfig {
    FetchConfig {
        connect_timeout: Duration::from_millis(1000),
        timeout: Duration::from_millis(1500),
        max_redirects: 5,
        allowed_ports: vec![port],
        max_url_len: 2048,
        max_bytes: CAP,
        allow_loopback: false,
        allow_private: false,
        allow_addresses: vec![LOCALHOST],
    }
}

/// The same port, but no address of the deny table allowed at all.
fn strict(port: u16) -> FetchConfig {
    FetchConfig {
        allow_addresses: vec![],
        ..cfg(port)
    }
}

fn fetcher_with(config: FetchConfig, resolver: Arc<dyn NameResolver>) -> Fetcher {
    Fetcher::with_resolver(config, resolver).unwrap()
}

/// A fetcher whose resolver knows no name at all.
fn fetcher(config: FetchConfig) -> Fetcher {
    fetcher_with(config, StubResolver::sequence(vec![]))
}

async fn fetch_err(f: &Fetcher, url: &str) -> Error {
    match f.fetch(url).await {
        Ok(b) => panic!("{url} was fetched ({} bytes)", b.len()),
        Err(e) => e,
    }
}

async fn fetch_ok(f: &Fetcher, url: &str) -> Bytes {
    match f.fetch(url).await {
        Ok(b) => b,
        Err(e) => panic!("{url} failed: {e}"),
    }
}

#[track_caller]
fn assert_error(e: &Error, kind: ErrorKind, words: &str) {
    assert_eq!(e.kind(), kind, "{e}");
    assert!(
        e.details().contains(words),
        "details {:?} do not say {words:?}",
        e.details()
    );
    for leak in ["127.0.0.2", "10.0.0.1", "169.254"] {
        assert!(!e.details().contains(leak), "details leak an address: {e}");
    }
}

fn png_bytes() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend_from_slice(&[0u8; 100]);
    v
}

// ---------------------------------------------------------------------------------
// OK paths and what goes out on the wire.

#[tokio::test]
async fn fetches_from_the_allowed_origin_with_hardened_headers() {
    let server = TestServer::always(ok(&png_bytes())).await;
    let f = fetcher(cfg(server.port()));
    let body = fetch_ok(&f, &server.url("/photo.png")).await;
    assert_eq!(&body[..], &png_bytes()[..]);
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, "/photo.png");
    assert!(
        r.head.starts_with("GET /photo.png HTTP/1.1\r\n"),
        "{}",
        r.head
    );
    assert_eq!(r.header("accept-encoding").as_deref(), Some("identity"));
    // Every format the pipeline reads, from its table.
    assert_eq!(
        r.header("accept").as_deref(),
        Some("image/gif, image/png, image/jpeg, image/webp, */*;q=0.1")
    );
    assert!(r
        .header("user-agent")
        .is_some_and(|ua| ua.starts_with("avatarium/")));
    assert!(r.header("authorization").is_none());
    assert!(r.header("proxy-authorization").is_none());
}

#[tokio::test]
async fn fetches_a_name_through_the_injected_resolver() {
    let server = TestServer::always(ok(b"GIF89a-body")).await;
    let resolver = StubResolver::always(&[LOCALHOST]);
    let f = fetcher_with(cfg(server.port()), resolver.clone());
    let url = format!("http://photos.example:{}/a.gif", server.port());
    assert_eq!(&fetch_ok(&f, &url).await[..], b"GIF89a-body");
    assert_eq!(resolver.asked(), ["photos.example"]);
    let host = server.requests()[0].header("host").unwrap();
    assert_eq!(host, format!("photos.example:{}", server.port()));
}

#[tokio::test]
async fn allow_loopback_admits_localhost_by_name() {
    let server = TestServer::always(ok(b"hi")).await;
    let resolver = StubResolver::always(&[LOCALHOST]);
    let config = FetchConfig {
        allow_loopback: true,
        allow_addresses: vec![],
        ..cfg(server.port())
    };
    let f = fetcher_with(config, resolver.clone());
    let url = format!("http://localhost:{}/", server.port());
    assert_eq!(&fetch_ok(&f, &url).await[..], b"hi");
    assert_eq!(resolver.asked(), ["localhost"]);
}

// ---------------------------------------------------------------------------------
// URL / SSRF, refused before connect (BC).

/// Items 1–4, 7, 8, 24, 29 in the loopback spellings (a wrong answer here would only
/// reach the test server, which counts it).
#[tokio::test]
async fn item_01_to_04_07_08_24_29_loopback_literals_are_refused_before_connect() {
    let server = TestServer::always(ok(b"secret")).await;
    let p = server.port();
    let f = fetcher(strict(p));
    for url in [
        format!("http://127.0.0.1:{p}/"),
        format!("http://127.1:{p}/"),
        format!("http://127.0.1:{p}/"),
        format!("http://2130706433:{p}/"),
        format!("http://0x7f000001:{p}/"),
        format!("http://0x7f.1:{p}/"),
        format!("http://0177.0.0.1:{p}/"),
        format!("http://0177.0.0.01:{p}/"),
        format!("http://[::1]:{p}/"),
        format!("http://[::ffff:127.0.0.1]:{p}/"),
        format!("http://[0:0:0:0:0:ffff:127.0.0.1]:{p}/"),
        format!("http://[::ffff:7f00:1]:{p}/"),
        format!("http:/\\127.0.0.1:{p}/"),
        format!("http:127.0.0.1:{p}/"),
        format!("http://%31%32%37.0.0.1:{p}/"),
        format!("https://127.0.0.1:{p}/"),
    ] {
        let e = fetch_err(&f, &url).await;
        assert_error(&e, ErrorKind::InvalidUrl, "forbidden address (loopback)");
    }
    assert_eq!(server.connections(), 0, "BC: no connection at all");

    // Control: the same spelling is fetched once 127.0.0.1 is allowed, so the refusals
    // above were the policy and not an unreachable server.
    let allowed = fetcher(cfg(p));
    assert_eq!(
        &fetch_ok(&allowed, &format!("http://0x7f000001:{p}/")).await[..],
        b"secret"
    );
    assert_eq!(server.connections(), 1);
}

/// Items 18 and 20: reserved names are refused without asking DNS.
#[tokio::test]
async fn item_18_20_reserved_names_are_refused_without_a_lookup() {
    let server = TestServer::always(ok(b"secret")).await;
    let p = server.port();
    let resolver = StubResolver::always(&[LOCALHOST]);
    let f = fetcher_with(cfg(p), resolver.clone());
    for url in [
        format!("http://localhost:{p}/"),
        format!("http://LOCALHOST.:{p}/"),
        format!("http://foo.localhost:{p}/"),
        format!("http://metadata.google.internal:{p}/computeMetadata/v1/"),
        format!("http://metadata.google.internal.:{p}/"),
        format!("http://photos:{p}/"),
    ] {
        let e = fetch_err(&f, &url).await;
        assert_error(&e, ErrorKind::InvalidUrl, "reserved for internal use");
    }
    assert!(resolver.asked().is_empty(), "{:?}", resolver.asked());
    assert_eq!(server.connections(), 0);
}

/// Item 19: a public-looking name that resolves to loopback.
#[tokio::test]
async fn item_19_name_resolving_to_loopback_is_refused_at_connect() {
    let server = TestServer::always(ok(b"secret")).await;
    let p = server.port();
    let resolver = StubResolver::always(&[LOCALHOST]);
    let f = fetcher_with(strict(p), resolver.clone());
    for name in ["localtest.me", "127.0.0.1.nip.io"] {
        let e = fetch_err(&f, &format!("http://{name}:{p}/")).await;
        assert_error(&e, ErrorKind::InvalidUrl, "resolves to a forbidden address");
        assert!(!e.details().contains("127.0.0.1"), "{e}");
    }
    assert_eq!(resolver.asked(), ["localtest.me", "127.0.0.1.nip.io"]);
    assert_eq!(server.connections(), 0);
}

/// Item 21: DNS rebinding. The resolver answers 127.0.0.1 (allowed), then 127.0.0.2
/// (loopback, not allowed; nothing listens there). Each connection resolves exactly once
/// and dials only what that lookup returned and the policy checked.
#[tokio::test]
async fn item_21_dns_rebinding_never_uses_an_unchecked_answer() {
    let server = TestServer::always(ok(b"first")).await;
    let p = server.port();
    let url = format!("http://rebind.example:{p}/");

    let resolver = StubResolver::sequence(vec![vec![LOCALHOST], vec![LOOPBACK_2]]);
    let f = fetcher_with(cfg(p), resolver.clone());
    assert_eq!(&fetch_ok(&f, &url).await[..], b"first");
    assert_eq!(resolver.asked().len(), 1, "one lookup per connection");
    let e = fetch_err(&f, &url).await;
    assert_error(&e, ErrorKind::InvalidUrl, "resolves to a forbidden address");
    assert_eq!(resolver.asked().len(), 2);
    assert_eq!(server.connections(), 1);

    // Within one request: a same-host redirect opens a new connection, which resolves
    // again and meets the rebound answer.
    let hop = TestServer::start(|r| {
        if r.path == "/a" {
            redirect(302, "/b")
        } else {
            ok(b"second hop")
        }
    })
    .await;
    let resolver = StubResolver::sequence(vec![vec![LOCALHOST], vec![LOOPBACK_2]]);
    let f = fetcher_with(cfg(hop.port()), resolver.clone());
    let e = fetch_err(&f, &format!("http://rebind.example:{}/a", hop.port())).await;
    assert_error(&e, ErrorKind::InvalidUrl, "resolves to a forbidden address");
    assert_eq!(resolver.asked().len(), 2);
    assert_eq!(hop.requests().len(), 1);
}

/// Item 22: mixed answers refuse the whole request, in either order.
#[tokio::test]
async fn item_22_mixed_answers_refuse_the_request() {
    let server = TestServer::always(ok(b"x")).await;
    let p = server.port();
    for answers in [[LOCALHOST, LOOPBACK_2], [LOOPBACK_2, LOCALHOST]] {
        let f = fetcher_with(cfg(p), StubResolver::always(&answers));
        let e = fetch_err(&f, &format!("http://mixed.example:{p}/")).await;
        assert_error(&e, ErrorKind::InvalidUrl, "resolves to a forbidden address");
    }
    assert_eq!(server.connections(), 0);
}

#[tokio::test]
async fn dns_failure_and_connect_failure_are_invalid_url() {
    // DNS failure.
    let server = TestServer::always(ok(b"x")).await;
    let f = fetcher(cfg(server.port()));
    let e = fetch_err(&f, &format!("http://nx.example:{}/", server.port())).await;
    assert_error(&e, ErrorKind::InvalidUrl, "could not be resolved");
    // An empty answer.
    let f = fetcher_with(cfg(server.port()), StubResolver::always(&[]));
    let e = fetch_err(&f, &format!("http://empty.example:{}/", server.port())).await;
    assert_error(&e, ErrorKind::InvalidUrl, "did not resolve to any address");
    assert_eq!(server.connections(), 0);

    // Connection refused: a port nothing listens on any more.
    let closed = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let f = fetcher(cfg(port));
    let e = fetch_err(&f, &format!("http://127.0.0.1:{port}/")).await;
    assert_error(&e, ErrorKind::InvalidUrl, "could not connect");
}

/// Item 23: userinfo.
#[tokio::test]
async fn item_23_userinfo_is_refused() {
    let server = TestServer::always(ok(b"x")).await;
    let p = server.port();
    let resolver = StubResolver::always(&[LOCALHOST]);
    let f = fetcher_with(cfg(p), resolver.clone());
    for url in [
        format!("http://evil.com@127.0.0.1:{p}/"),
        format!("http://127.0.0.1@evil.com:{p}/"),
        format!("http://user:pass@127.0.0.1:{p}/"),
    ] {
        let e = fetch_err(&f, &url).await;
        assert_error(&e, ErrorKind::InvalidUrl, "user name or password");
    }
    assert!(resolver.asked().is_empty());
    assert_eq!(server.connections(), 0);
}

/// Item 25: ports outside the list, explicit or by default.
#[tokio::test]
async fn item_25_ports_outside_the_list_are_refused() {
    let server = TestServer::always(ok(b"x")).await;
    let f = fetcher(cfg(server.port()));
    for (url, port) in [
        ("http://127.0.0.1:22/", 22),
        ("http://127.0.0.1:6379/", 6379),
        ("http://127.0.0.1:0/", 0),
        ("http://127.0.0.1:65535/", 65535),
        ("http://127.0.0.1/", 80),
        ("https://127.0.0.1/", 443),
    ] {
        let e = fetch_err(&f, url).await;
        assert_error(
            &e,
            ErrorKind::InvalidUrl,
            &format!("port {port} is not allowed"),
        );
    }
    let e = fetch_err(&f, "http://127.0.0.1:65536/").await;
    assert_error(&e, ErrorKind::InvalidUrl, "could not be parsed");
    assert_eq!(server.connections(), 0);
}

/// Item 26: schemes other than http/https.
#[tokio::test]
async fn item_26_other_schemes_are_refused() {
    let server = TestServer::always(ok(b"x")).await;
    let p = server.port();
    let f = fetcher(cfg(p));
    for url in [
        "file:///etc/passwd".to_owned(),
        format!("gopher://127.0.0.1:{p}/_INFO"),
        format!("dict://127.0.0.1:{p}/stats"),
        format!("ftp://127.0.0.1:{p}/"),
        format!("ldap://127.0.0.1:{p}/"),
        format!("jar:http://127.0.0.1:{p}!/"),
        "data:image/png;base64,iVBORw0KGgo=".to_owned(),
        "javascript:alert(1)".to_owned(),
        format!("ws://127.0.0.1:{p}/"),
    ] {
        let e = fetch_err(&f, &url).await;
        assert_error(&e, ErrorKind::InvalidUrl, "only http and https");
    }
    assert_eq!(server.connections(), 0);
}

/// Item 27: IDNA-mapped names are resolved as what they map to; NUL in a host is refused.
#[tokio::test]
async fn item_27_idna_names_resolve_normally() {
    let server = TestServer::always(ok(b"idna")).await;
    let p = server.port();
    let resolver = StubResolver::sequence(vec![]).with_name("example.com", &[LOCALHOST]);
    let f = fetcher_with(cfg(p), resolver.clone());
    let body = fetch_ok(&f, &format!("http://ⓔⓧⓐⓜⓟⓛⓔ.ⓒⓞⓜ:{p}/")).await;
    assert_eq!(&body[..], b"idna");
    let body = fetch_ok(&f, &format!("http://exa\u{AD}mple.com:{p}/")).await;
    assert_eq!(&body[..], b"idna");
    assert_eq!(resolver.asked(), ["example.com", "example.com"]);
    let e = fetch_err(&f, &format!("http://127.0.0.1%00.evil.com:{p}/")).await;
    assert_error(&e, ErrorKind::InvalidUrl, "could not be parsed");
    assert_eq!(server.connections(), 2);
}

/// Item 28: a 100 KB URL.
#[tokio::test]
async fn item_28_long_urls_are_refused() {
    let server = TestServer::always(ok(b"x")).await;
    let f = fetcher(cfg(server.port()));
    let long = server.url(&format!("/{}", "a".repeat(100 * 1024)));
    let e = fetch_err(&f, &long).await;
    assert_error(&e, ErrorKind::InvalidUrl, "longer than 2048 bytes");
    assert_eq!(server.connections(), 0);
}

// ---------------------------------------------------------------------------------
// Redirects (AH: refused after the 3xx headers).

fn redirecting_to(location: String) -> impl Fn(&http_server::Request) -> Vec<Step> {
    move |r| {
        if r.path == "/start" {
            redirect(302, &location)
        } else {
            ok(b"internal secret")
        }
    }
}

/// Item 30: allowed origin → 127.0.0.2 (loopback, not allowed) in two spellings, and to
/// hops that break the other URL rules.
#[tokio::test]
async fn item_30_redirects_to_forbidden_literals_are_refused() {
    for (target, words) in [
        (
            "http://127.0.0.2:{p}/internal-secret",
            "forbidden address (loopback)",
        ),
        (
            "http://[::ffff:127.0.0.2]:{p}/internal",
            "forbidden address (loopback)",
        ),
        (
            "http://2130706434:{p}/internal",
            "forbidden address (loopback)",
        ),
        ("http://u:p@127.0.0.1:{p}/internal", "user name or password"),
        ("http://127.0.0.1:22/internal", "port 22 is not allowed"),
        ("http://localhost:{p}/internal", "reserved for internal use"),
    ] {
        let server_port = Arc::new(AtomicUsize::new(0));
        let sp = server_port.clone();
        let server = TestServer::start(move |r| {
            let p = sp.load(Ordering::SeqCst);
            redirecting_to(target.replace("{p}", &p.to_string()))(r)
        })
        .await;
        server_port.store(server.port() as usize, Ordering::SeqCst);
        let f = fetcher(cfg(server.port()));
        let e = fetch_err(&f, &server.url("/start")).await;
        assert_error(&e, ErrorKind::InvalidUrl, "redirect");
        assert_error(&e, ErrorKind::InvalidUrl, words);
        assert_eq!(server.requests().len(), 1, "{target}: AH after hop 0");
    }
}

/// Item 32: a redirect to a name; the resolver refuses its answer at connect time.
#[tokio::test]
async fn item_32_redirect_to_a_name_with_a_forbidden_answer() {
    let resolver = StubResolver::sequence(vec![]).with_name("internal.example", &[LOOPBACK_2]);
    let port = Arc::new(AtomicUsize::new(0));
    let sp = port.clone();
    let server = TestServer::start(move |r| {
        let p = sp.load(Ordering::SeqCst);
        redirecting_to(format!("http://internal.example:{p}/secret"))(r)
    })
    .await;
    port.store(server.port() as usize, Ordering::SeqCst);
    let f = fetcher_with(cfg(server.port()), resolver.clone());
    let e = fetch_err(&f, &server.url("/start")).await;
    assert_error(&e, ErrorKind::InvalidUrl, "resolves to a forbidden address");
    assert_eq!(resolver.asked(), ["internal.example"]);
    assert_eq!(server.requests().len(), 1);
}

/// Item 33: redirects to other schemes.
#[tokio::test]
async fn item_33_redirects_to_other_schemes_are_refused() {
    for target in [
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
        "ftp://127.0.0.1/",
        "data:text/plain,hi",
    ] {
        let server = TestServer::start(redirecting_to(target.to_owned())).await;
        let f = fetcher(cfg(server.port()));
        let e = fetch_err(&f, &server.url("/start")).await;
        assert_eq!(e.kind(), ErrorKind::InvalidUrl, "{target}: {e}");
        assert_eq!(server.requests().len(), 1, "{target}");
    }
}

/// Item 34: a loop is cut after max_redirects hops (max + 1 requests).
#[tokio::test]
async fn item_34_redirect_loops_stop_at_the_cap() {
    for max in [0u32, 2, 5] {
        let server = TestServer::always(redirect(302, "/loop")).await;
        let f = fetcher(FetchConfig {
            max_redirects: max,
            ..cfg(server.port())
        });
        let e = fetch_err(&f, &server.url("/loop")).await;
        assert_error(
            &e,
            ErrorKind::InvalidUrl,
            &format!("more than {max} redirects"),
        );
        assert_eq!(server.requests().len(), max as usize + 1);
    }
}

/// Item 35: a chain across different hosts (names resolved by the stub): 5 hops are
/// followed, the 6th is refused.
#[tokio::test]
async fn item_35_chains_across_hosts_stop_at_the_cap() {
    for (hops, fetched) in [(5usize, true), (6, false)] {
        let port = Arc::new(AtomicUsize::new(0));
        let sp = port.clone();
        let server = TestServer::start(move |r| {
            let p = sp.load(Ordering::SeqCst);
            let n: usize = r.path.trim_start_matches("/hop/").parse().unwrap_or(0);
            if n < hops {
                let code = if n.is_multiple_of(2) { 307 } else { 308 };
                redirect(
                    code,
                    &format!("http://h{}.example:{p}/hop/{}", n + 1, n + 1),
                )
            } else {
                ok(b"end of chain")
            }
        })
        .await;
        port.store(server.port() as usize, Ordering::SeqCst);
        let resolver = StubResolver::always(&[LOCALHOST]);
        let f = fetcher_with(cfg(server.port()), resolver.clone());
        let url = format!("http://h0.example:{}/hop/0", server.port());
        let got = f.fetch(&url).await;
        if fetched {
            assert_eq!(&got.unwrap()[..], b"end of chain");
        } else {
            assert_error(
                &got.unwrap_err(),
                ErrorKind::InvalidUrl,
                "more than 5 redirects",
            );
        }
        assert_eq!(server.requests().len(), 6, "hops={hops}");
        // Every hop to a new host went through the resolver.
        assert_eq!(resolver.asked().len(), 6);
        assert!(server
            .requests()
            .iter()
            .all(|r| r.header("referer").is_none()));
    }
}

// ---------------------------------------------------------------------------------
// Hostile transport.

/// Item 37: headers, then one byte every 100 ms: cut by the total deadline.
#[tokio::test]
async fn item_37_trickled_body_is_cut_at_the_total_deadline() {
    let server = TestServer::always(vec![
        Step::Send(head(200, &[("Content-Length", "200")])),
        Step::Trickle {
            bytes: vec![b'x'; 200],
            every: Duration::from_millis(100),
        },
    ])
    .await;
    let f = fetcher(FetchConfig {
        timeout: Duration::from_millis(1000),
        ..cfg(server.port())
    });
    let t = Instant::now();
    let e = fetch_err(&f, &server.url("/")).await;
    let took = t.elapsed();
    assert_error(&e, ErrorKind::Timeout, "within 1000 ms");
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert!(took < Duration::from_millis(2500), "{took:?}");
}

/// Item 37 variant: a slowloris status line and headers.
#[tokio::test]
async fn item_37_trickled_headers_are_cut_at_the_total_deadline() {
    let server = TestServer::always(vec![Step::Trickle {
        bytes: head(200, &[("Content-Length", "2"), ("X-Pad", &"p".repeat(200))]),
        every: Duration::from_millis(50),
    }])
    .await;
    let f = fetcher(FetchConfig {
        timeout: Duration::from_millis(1000),
        ..cfg(server.port())
    });
    let t = Instant::now();
    let e = fetch_err(&f, &server.url("/")).await;
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(t.elapsed() < Duration::from_millis(2500));
}

/// Item 38: the server accepts and never sends a status line.
#[tokio::test]
async fn item_38_silent_server_times_out() {
    let server = TestServer::always(vec![Step::WaitForClose]).await;
    let f = fetcher(FetchConfig {
        timeout: Duration::from_millis(800),
        ..cfg(server.port())
    });
    let t = Instant::now();
    let e = fetch_err(&f, &server.url("/")).await;
    assert_error(&e, ErrorKind::Timeout, "within 800 ms");
    assert!(t.elapsed() < Duration::from_millis(2000));
    assert_eq!(server.requests().len(), 1);
    // The client hangs up rather than leaving the connection open.
    assert!(server.wait_client_closed(1, Duration::from_secs(2)).await);
}

/// Item 39 (loopback stand-in for "a host that drops SYNs"): a listener whose accept
/// queue is full drops new SYNs, so the connect hangs until the connect timeout.
#[tokio::test]
async fn item_39_stalled_connect_hits_the_connect_timeout() {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((Ipv4Addr::LOCALHOST, 0).into()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    // Fill the accept queue (never accepted).
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(
            Duration::from_millis(200),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        {
            Ok(Ok(s)) => fillers.push(s),
            _ => break,
        }
    }
    let f = fetcher(FetchConfig {
        connect_timeout: Duration::from_millis(300),
        timeout: Duration::from_millis(3000),
        ..cfg(addr.port())
    });
    let t = Instant::now();
    let e = fetch_err(&f, &format!("http://127.0.0.1:{}/", addr.port())).await;
    let took = t.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(took < Duration::from_millis(2000), "{took:?}");
    drop(fillers);
    drop(listener);
}

/// Item 40: endless bodies (chunked and close-delimited) are cut at the cap.
#[tokio::test]
async fn item_40_endless_bodies_are_cut_at_the_cap() {
    let mut chunk = b"1000\r\n".to_vec();
    chunk.extend_from_slice(&[b'z'; 0x1000]);
    chunk.extend_from_slice(b"\r\n");
    for steps in [
        vec![
            Step::Send(head(200, &[("Transfer-Encoding", "chunked")])),
            Step::Endless(chunk.clone()),
        ],
        vec![
            Step::Send(head(200, &[("Connection", "close")])),
            Step::Endless(vec![b'z'; 0x1000]),
        ],
    ] {
        let server = TestServer::always(steps).await;
        let f = fetcher(cfg(server.port()));
        let t = Instant::now();
        let e = fetch_err(&f, &server.url("/")).await;
        assert_error(
            &e,
            ErrorKind::PhotoTooLarge,
            &format!("larger than {CAP} bytes"),
        );
        assert!(t.elapsed() < Duration::from_millis(1000));
        assert!(server.wait_client_closed(1, Duration::from_secs(2)).await);
    }
}

/// Item 41: a declared length over the cap is refused after the headers, without
/// reading the body; the client closes the connection.
#[tokio::test]
async fn item_41_declared_length_over_the_cap_is_refused_after_headers() {
    // The body only starts after a pause: a client that waited for it would be slow.
    let server = TestServer::always(vec![
        Step::Send(head(200, &[("Content-Length", "10737418240")])),
        Step::Sleep(Duration::from_millis(2500)),
        Step::Endless(vec![0u8; 64 * 1024]),
    ])
    .await;
    let f = fetcher(cfg(server.port()));
    let t = Instant::now();
    let e = fetch_err(&f, &server.url("/")).await;
    assert_error(
        &e,
        ErrorKind::PhotoTooLarge,
        &format!("larger than {CAP} bytes"),
    );
    assert!(
        t.elapsed() < Duration::from_millis(1000),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(server.connections(), 1);
    assert!(server.wait_client_closed(1, Duration::from_secs(5)).await);
    // The body was never drained: the server wrote at most what the socket buffers held.
    assert!(
        server.bytes_sent() < 64 * 1024 * 1024,
        "{}",
        server.bytes_sent()
    );

    // Just over and exactly at the cap.
    let over = TestServer::always(vec![Step::Send(response(
        200,
        &[],
        &vec![b'a'; CAP as usize + 1],
    ))])
    .await;
    let e = fetch_err(&fetcher(cfg(over.port())), &over.url("/")).await;
    assert_eq!(e.kind(), ErrorKind::PhotoTooLarge);
    let exact = TestServer::always(ok(&vec![b'a'; CAP as usize])).await;
    let body = fetch_ok(&fetcher(cfg(exact.port())), &exact.url("/")).await;
    assert_eq!(body.len() as u64, CAP);
}

/// Item 42: `Content-Length: 1000`, 10 bytes, then FIN.
#[tokio::test]
async fn item_42_short_body_is_an_error() {
    let server = TestServer::always(vec![
        Step::Send(head(200, &[("Content-Length", "1000")])),
        Step::Send(vec![b'q'; 10]),
    ])
    .await;
    let f = fetcher(cfg(server.port()));
    let e = fetch_err(&f, &server.url("/")).await;
    assert_error(&e, ErrorKind::InvalidUrl, "closed the connection early");
}

/// Item 43: `Content-Length: 5`, then 16 bytes: only 5 are returned.
#[tokio::test]
async fn item_43_long_body_is_truncated_to_the_declared_length() {
    let server = TestServer::always(vec![
        Step::Send(head(200, &[("Content-Length", "5")])),
        Step::Send(b"0123456789abcdef".to_vec()),
    ])
    .await;
    let f = fetcher(cfg(server.port()));
    assert_eq!(&fetch_ok(&f, &server.url("/")).await[..], b"01234");
}

/// Item 44: an overflowing chunk size.
#[tokio::test]
async fn item_44_chunk_size_overflow_is_an_error() {
    let server = TestServer::always(vec![
        Step::Send(head(200, &[("Transfer-Encoding", "chunked")])),
        Step::Send(b"FFFFFFFFFFFFFFFFFF\r\nabc".to_vec()),
    ])
    .await;
    let f = fetcher(cfg(server.port()));
    let e = fetch_err(&f, &server.url("/")).await;
    assert_eq!(e.kind(), ErrorKind::InvalidUrl, "{e}");
}

/// Item 45: 200 one-byte chunks with 4000-byte extensions.
#[tokio::test]
async fn item_45_chunk_extension_flood_is_an_error() {
    let mut body = Vec::new();
    for _ in 0..200 {
        body.extend_from_slice(format!("1;{}\r\nx\r\n", "e".repeat(4000)).as_bytes());
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let server = TestServer::always(vec![
        Step::Send(head(200, &[("Transfer-Encoding", "chunked")])),
        Step::Send(body),
    ])
    .await;
    let f = fetcher(cfg(server.port()));
    let e = fetch_err(&f, &server.url("/")).await;
    assert_eq!(e.kind(), ErrorKind::InvalidUrl, "{e}");
}

/// Items 46 and 47: 5000 headers; one 1 MiB header.
#[tokio::test]
async fn item_46_47_header_floods_are_refused() {
    let many: Vec<(String, String)> = (0..5000).map(|i| (format!("X-H{i}"), "v".into())).collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let big = "b".repeat(1024 * 1024);
    for raw in [
        response(200, &many, b"x"),
        response(200, &[("X-Big", big.as_str())], b"x"),
    ] {
        let server = TestServer::always(vec![Step::Send(raw)]).await;
        let f = fetcher(cfg(server.port()));
        let e = fetch_err(&f, &server.url("/")).await;
        assert_error(&e, ErrorKind::InvalidUrl, "not valid HTTP/1.1");
        assert_eq!(server.requests().len(), 1);
    }
}

/// Item 48: `Content-Encoding: gzip` is not decoded; the bytes come back as sent.
#[tokio::test]
async fn item_48_gzip_body_is_returned_compressed() {
    // gzip of 1000 zero bytes.
    let gz: Vec<u8> = vec![
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0xff, 0x63, 0x60, 0x18, 0x05, 0xa3,
        0x60, 0x14, 0x0c, 0x77, 0x00, 0x00, 0x38, 0xa5, 0xc9, 0xa3, 0xe8, 0x03, 0x00, 0x00,
    ];
    let server = TestServer::always(vec![Step::Send(response(
        200,
        &[("Content-Encoding", "gzip"), ("Content-Type", "image/png")],
        &gz,
    ))])
    .await;
    let f = fetcher(cfg(server.port()));
    let body = fetch_ok(&f, &server.url("/")).await;
    assert_eq!(&body[..], &gz[..]);
    assert_eq!(&body[..2], &[0x1f, 0x8b]);
    assert_eq!(
        server.requests()[0].header("accept-encoding").as_deref(),
        Some("identity")
    );
}

/// Item 49: Content-Type is not the fetcher's business; the bytes decide later.
#[tokio::test]
async fn item_49_content_type_is_ignored() {
    let server = TestServer::always(vec![Step::Send(response(
        200,
        &[("Content-Type", "text/html")],
        &png_bytes(),
    ))])
    .await;
    let f = fetcher(cfg(server.port()));
    assert_eq!(&fetch_ok(&f, &server.url("/")).await[..], &png_bytes()[..]);
}

/// Item 50: an empty 200 (and a 204) return empty bytes; the pipeline calls it 409010.
#[tokio::test]
async fn item_50_empty_body_is_returned_empty() {
    for raw in [response(200, &[], b""), head(204, &[])] {
        let server = TestServer::always(vec![Step::Send(raw)]).await;
        let f = fetcher(cfg(server.port()));
        assert!(fetch_ok(&f, &server.url("/")).await.is_empty());
    }
}

#[tokio::test]
async fn non_2xx_statuses_are_invalid_url_with_the_status() {
    for code in [404u16, 403, 500, 503, 304, 301, 418] {
        let server = TestServer::always(status(code)).await;
        let f = fetcher(cfg(server.port()));
        let e = fetch_err(&f, &server.url("/")).await;
        assert_error(&e, ErrorKind::InvalidUrl, &format!("HTTP {code}"));
        assert_eq!(e.error_code(), 404004);
    }
}

// ---------------------------------------------------------------------------------
// Item 52: TLS failures.

/// A throwaway self-signed certificate for 127.0.0.1 / localhost (valid until 2126).
/// Its key protects nothing.
const SELF_SIGNED_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUHSMSNSspDZRHd/UZeu+BtuRB7pUwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNzExMzU0N1oYDzIxMjYxMTAz
MTEzNTQ3WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARL99kFE2PEca4WcT2gtORU0yOaxNOZL0yTIidhTqVIYHfdK2mptODv
2zEypQbyAOIZxNDVvkD5o+iELyBDhdUCo28wbTAdBgNVHQ4EFgQUuB9Kg06jrEbH
N3gowPLtB9TCkQowHwYDVR0jBBgwFoAUuB9Kg06jrEbHN3gowPLtB9TCkQowDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARhwR/AAABgglsb2NhbGhvc3QwCgYIKoZI
zj0EAwIDSAAwRQIhAJZUdEriykiN5XmsFh2g/YdqDHYQmPjhCOPKyd9NgnkjAiB4
cxkrawhJ8kuy45IA8omUw35LxeNip3SFH6TFhkLC2Q==
-----END CERTIFICATE-----
";

const SELF_SIGNED_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDBaZXPyuofOPfyul
+y2DBRKC/3HPinb5ZPdl4FguNkOhRANCAARL99kFE2PEca4WcT2gtORU0yOaxNOZ
L0yTIidhTqVIYHfdK2mptODv2zEypQbyAOIZxNDVvkD5o+iELyBDhdUC
-----END PRIVATE KEY-----
";

struct TlsServer {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    handshakes: Arc<AtomicUsize>,
    requests: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn tls_server() -> TlsServer {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let certs = vec![CertificateDer::from_pem_slice(SELF_SIGNED_CERT.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(SELF_SIGNED_KEY.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let handshakes = Arc::new(AtomicUsize::new(0));
    let requests = Arc::new(AtomicUsize::new(0));
    let (c, h, r) = (connections.clone(), handshakes.clone(), requests.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            c.fetch_add(1, Ordering::SeqCst);
            let (acceptor, h, r) = (acceptor.clone(), h.clone(), r.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                h.fetch_add(1, Ordering::SeqCst);
                if read_head(&mut tls).await.is_some() {
                    r.fetch_add(1, Ordering::SeqCst);
                    let _ = http_server::run_steps(&mut tls, &ok(b"tls secret"), &()).await;
                }
            });
        }
    });
    TlsServer {
        addr,
        connections,
        handshakes,
        requests,
        task,
    }
}

#[tokio::test]
async fn item_52_untrusted_certificate_is_refused() {
    let server = tls_server().await;
    let p = server.addr.port();
    let resolver = StubResolver::always(&[LOCALHOST]);
    let f = fetcher_with(cfg(p), resolver);
    for url in [
        format!("https://127.0.0.1:{p}/"),
        format!("https://localhost.example:{p}/"),
    ] {
        let e = fetch_err(&f, &url).await;
        assert_error(&e, ErrorKind::InvalidUrl, "could not");
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
    assert_eq!(server.handshakes.load(Ordering::SeqCst), 0);
    assert_eq!(
        server.requests.load(Ordering::SeqCst),
        0,
        "no application bytes"
    );
}

#[tokio::test]
async fn item_52_https_to_a_plain_http_server_is_refused() {
    let server = TestServer::start_raw(vec![Step::Send(response(200, &[], b"plain"))]).await;
    let f = fetcher(cfg(server.port()));
    let e = fetch_err(&f, &format!("https://127.0.0.1:{}/", server.port())).await;
    assert_eq!(e.kind(), ErrorKind::InvalidUrl, "{e}");
}

/// The refusal happens whatever the error `Display` of reqwest says; the caller sees
/// only our words.
#[tokio::test]
async fn error_details_do_not_echo_resolved_addresses() {
    let server = TestServer::always(ok(b"x")).await;
    let f = fetcher_with(strict(server.port()), StubResolver::always(&[LOCALHOST]));
    let e = fetch_err(&f, &format!("http://sneaky.example:{}/", server.port())).await;
    assert!(!e.details().contains("127."), "{}", e.details());
    assert!(!e.details().contains("sneaky"), "{}", e.details());
}

/// STYLE.md §9: a fetcher keeps no pooled connection, so one built outside any runtime
/// works from one runtime after another.
#[test]
fn one_fetcher_serves_successive_runtimes() {
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = reserved.local_addr().unwrap().port();
    let f = fetcher(cfg(port));
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = {
        let _guard = server_rt.enter();
        TestServer::on_std_listener(reserved, ok(b"again"))
    };
    for _ in 0..2 {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let body = rt
            .block_on(f.fetch(&format!("http://127.0.0.1:{port}/")))
            .unwrap();
        assert_eq!(&body[..], b"again");
        drop(rt);
    }
    assert_eq!(server.connections(), 2);
    drop(server);
}
