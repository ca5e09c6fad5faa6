//! `--trusted-proxy`: behind a TLS-terminating proxy, a request is judged as its client
//! sent it (scheme for a secret, host for a signature, address for the budgets), and only
//! the listed proxies' forwarding headers are believed.

mod support;

use support::{b64, form, new_nonce, now, sign, Reply, Server, SiteConf};

const KEY: &str = "3_site-P";
const SECRET: &[u8] = b"the secret of site P";
const PUBLIC: &str = "https://photos.example.com";

fn site() -> SiteConf {
    SiteConf::new(KEY, SECRET)
}

/// A POST of `params` with extra request headers, as a proxy would forward it.
async fn forwarded(s: &Server, params: &[(&str, &str)], headers: &[(&str, &str)]) -> Reply {
    let mut request = s
        .client
        .post(format!("{}/accounts.getPolicies", s.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(params));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Reply::from(request.send().await.unwrap()).await
}

/// The params of a request signed for the public URL a client saw.
fn signed_for_public_url() -> Vec<(String, String)> {
    let ts = now().to_string();
    let nonce = new_nonce();
    let p = vec![("apiKey", KEY), ("timestamp", &ts), ("nonce", &nonce)];
    let sig = sign(
        "POST",
        &format!("{PUBLIC}/accounts.getPolicies"),
        &p,
        &b64(SECRET),
    );
    let mut owned: Vec<(String, String)> = p
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    owned.push(("sig".into(), sig));
    owned
}

fn borrowed(p: &[(String, String)]) -> Vec<(&str, &str)> {
    p.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

const FROM_PROXY: [(&str, &str); 3] = [
    ("x-forwarded-proto", "https"),
    ("x-forwarded-host", "photos.example.com"),
    ("x-forwarded-for", "203.0.113.7"),
];

#[tokio::test]
async fn a_trusted_proxy_s_scheme_and_host_are_believed() {
    let s = Server::start("", &[site()], &["--trusted-proxy", "127.0.0.0/8"]);
    let secret = b64(SECRET);
    let with_secret = [("apiKey", KEY), ("secret", secret.as_str())];
    // The client spoke HTTPS to the proxy: its secret is taken.
    let r = forwarded(&s, &with_secret, &FROM_PROXY).await;
    assert_eq!(r.code(), 0, "{}", r.body);
    // The proxy says the client used plain HTTP, or says nothing: the hop is plain HTTP.
    let r = forwarded(&s, &with_secret, &[("x-forwarded-proto", "http")]).await;
    assert_eq!(r.code(), 403006, "{}", r.body);
    let r = forwarded(&s, &with_secret, &[]).await;
    assert_eq!(r.code(), 403006, "{}", r.body);
    // A signature over the public URL the client called.
    let p = signed_for_public_url();
    let r = forwarded(&s, &borrowed(&p), &FROM_PROXY).await;
    assert_eq!(r.code(), 0, "{}", r.body);
    // Without the forwarded host, the server sees another URL than the one signed.
    let p = signed_for_public_url();
    let r = forwarded(&s, &borrowed(&p), &[("x-forwarded-proto", "https")]).await;
    assert_eq!(r.code(), 403003, "{}", r.body);
}

#[tokio::test]
async fn a_loopback_proxy_does_not_make_its_clients_local() {
    // The proxy on this machine: --allow-loopback-plain-http is for local tools, not for
    // whatever the proxy forwards.
    let s = Server::start(
        "",
        &[site()],
        &[
            "--trusted-proxy",
            "127.0.0.1",
            "--allow-loopback-plain-http",
        ],
    );
    let secret = b64(SECRET);
    let with_secret = [("apiKey", KEY), ("secret", secret.as_str())];
    for headers in [
        &[
            ("x-forwarded-proto", "http"),
            ("x-forwarded-for", "203.0.113.7"),
        ][..],
        &[("x-forwarded-for", "203.0.113.7")],
        &[("x-forwarded-proto", "http")],
    ] {
        let r = forwarded(&s, &with_secret, headers).await;
        assert_eq!(r.code(), 403006, "{headers:?}: {}", r.body);
    }
    let r = forwarded(&s, &with_secret, &FROM_PROXY).await;
    assert_eq!(r.code(), 0, "{}", r.body);
}

#[tokio::test]
async fn anyone_else_s_forwarding_headers_are_ignored() {
    // The proxies are elsewhere: this loopback caller is a client like any other.
    let s = Server::start("", &[site()], &["--trusted-proxy", "10.0.0.0/8,fd00::/8"]);
    let secret = b64(SECRET);
    let r = forwarded(&s, &[("apiKey", KEY), ("secret", &secret)], &FROM_PROXY).await;
    assert_eq!(r.code(), 403006, "{}", r.body);
    let p = signed_for_public_url();
    let r = forwarded(&s, &borrowed(&p), &FROM_PROXY).await;
    assert_eq!(r.code(), 403003, "{}", r.body);
}

/// `n` requests with a wrong secret, each charged to the address the proxy names.
async fn failures(s: &Server, n: usize, forwarded_for: &str) -> Vec<i64> {
    let wrong = b64(b"a guessed secret");
    let mut codes = Vec::new();
    for _ in 0..n {
        let headers = [
            ("x-forwarded-proto", "https"),
            ("x-forwarded-for", forwarded_for),
        ];
        let r = forwarded(s, &[("apiKey", KEY), ("secret", &wrong)], &headers).await;
        codes.push(r.code());
    }
    codes
}

#[tokio::test]
async fn budgets_charge_the_client_the_proxy_names() {
    let s = Server::start(
        "",
        &[site()],
        &["--trusted-proxy", "127.0.0.1", "--address-rate-limit", "3"],
    );
    assert_eq!(
        failures(&s, 4, "203.0.113.7").await,
        [403010, 403010, 403010, 403048]
    );
    // Another client behind the same proxy still has its budget.
    assert_eq!(failures(&s, 1, "203.0.113.8").await, [403010]);
    // What the spent client writes further left is its own word: still 203.0.113.7.
    assert_eq!(failures(&s, 1, "198.51.100.1, 203.0.113.7").await, [403048]);

    // Not trusted: the forwarded addresses are ignored and the caller's own pays.
    let s = Server::start("", &[site()], &["--address-rate-limit", "3"]);
    let mut codes = Vec::new();
    for client in ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"] {
        codes.extend(failures(&s, 1, client).await);
    }
    assert_eq!(codes, [403006, 403006, 403006, 403048]);
}

#[tokio::test]
async fn a_trusted_proxy_is_not_held_to_the_per_address_connection_cap() {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    // Four keep-alive connections, all left open: none frees a slot while they are counted.
    // One over the cap is closed at once, unanswered.
    let answered = |s: &Server| {
        let addr = s.base.trim_start_matches("http://").to_string();
        let conns: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(&addr).unwrap()).collect();
        let request = format!("GET /accounts.getPolicies?apiKey={KEY} HTTP/1.1\r\nHost: x\r\n\r\n");
        conns
            .into_iter()
            .map(|mut c| {
                c.set_read_timeout(Some(std::time::Duration::from_secs(10)))
                    .unwrap();
                let _ = c.write_all(request.as_bytes());
                let mut head = [0u8; 12];
                let answered = c.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1");
                (answered, c)
            })
            .collect::<Vec<_>>() // every connection stays open until all are counted
            .iter()
            .filter(|(answered, _)| *answered)
            .count()
    };
    let args = ["--max-connections-per-address", "2"];
    assert_eq!(answered(&Server::start("", &[site()], &args)), 2);
    let trusted: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--trusted-proxy", "127.0.0.1"])
        .collect();
    assert_eq!(answered(&Server::start("", &[site()], &trusted)), 4);
}
