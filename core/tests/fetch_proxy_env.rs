//! THREATS.md (b) item 51 / §0.3: proxy variables in the environment are ignored. A test
//! binary of its own, so the variables never leak into other tests; they are set before
//! any runtime or thread starts.

mod support;

use std::time::Duration;

use avatarium::error::ErrorKind;
use avatarium::fetch::{FetchConfig, Fetcher};

use support::http_server::{self, ok, StubResolver, TestServer, LOCALHOST};

const PROXY_VARS: [&str; 6] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

#[test]
fn item_51_proxy_environment_is_ignored() {
    // The proxy's port is only known once it listens, so reserve it first on a plain
    // std listener, hand it to the environment, then serve on it inside the runtime.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let proxy_port = reserved.local_addr().unwrap().port();
    for var in PROXY_VARS {
        std::env::set_var(var, format!("http://127.0.0.1:{proxy_port}"));
    }
    std::env::remove_var("NO_PROXY");
    std::env::remove_var("no_proxy");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let proxy = http_server::TestServer::on_std_listener(reserved, ok(b"from the proxy"));
        let origin = TestServer::always(ok(b"from the origin")).await;
        let config = FetchConfig {
            connect_timeout: Duration::from_millis(1000),
            timeout: Duration::from_millis(1500),
            allowed_ports: vec![origin.port(), 443],
            allow_addresses: vec![LOCALHOST],
            ..FetchConfig::default()
        };

        // A name: through a proxy it would never reach our resolver.
        let resolver = StubResolver::always(&[LOCALHOST]);
        let f = Fetcher::with_resolver(config.clone(), resolver.clone()).unwrap();
        let url = format!("http://photos.example:{}/a.png", origin.port());
        let body = f.fetch(&url).await.unwrap();
        assert_eq!(&body[..], b"from the origin");
        assert_eq!(resolver.asked(), ["photos.example"]);

        // An IP literal.
        let body = f.fetch(&origin.url("/b.png")).await.unwrap();
        assert_eq!(&body[..], b"from the origin");

        // A name whose answer is forbidden stays refused (a proxy would have fetched it).
        let strict = FetchConfig {
            allow_addresses: vec![],
            ..config
        };
        let f = Fetcher::with_resolver(strict, StubResolver::always(&[LOCALHOST])).unwrap();
        let e = f
            .fetch(&format!(
                "http://internal.corp.example:{}/secret",
                origin.port()
            ))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidUrl, "{e}");
        assert!(
            e.details().contains("resolves to a forbidden address"),
            "{e}"
        );

        assert_eq!(proxy.connections(), 0, "the proxy was used");
        assert_eq!(origin.connections(), 2);
    });
}
