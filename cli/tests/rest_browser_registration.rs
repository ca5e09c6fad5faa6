//! A registration page with the apiKey alone: `initRegistration` from an allowed origin
//! works and is charged to the caller's address budget (not the site's), a forbidden
//! origin gets 403007 and no regToken, and refusals by the address budget reach an
//! allowed page as an envelope (CORS headers) at next to no cost.

mod support;

use std::time::Instant;

use support::{b64, Reply, Server, SiteConf};

const KEY: &str = "3_siteA";
const SECRET: &[u8] = b"the secret of site A";
const PAGE: &str = "http://127.0.0.1:8001";
const EVIL: &str = "http://127.0.0.2:8001";

fn site_a(rate_limit_per_minute: u32) -> SiteConf {
    SiteConf::new(KEY, SECRET).extra(&format!(
        "allowed_origins = [\"http://127.0.0.1:8001\", \"https://www.example.com:443\"]\n\
         rate_limit_per_minute = {rate_limit_per_minute}"
    ))
}

/// `initRegistration` as the SDK sends it from a page of `origin`: the apiKey in the
/// query, nothing else.
async fn page_init(s: &Server, origin: &str, key: &str) -> Reply {
    let r = s
        .client
        .post(format!("{}/accounts.initRegistration?apiKey={key}", s.base))
        .header("origin", origin)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("context=c1")
        .send()
        .await
        .unwrap();
    Reply::from(r).await
}

#[tokio::test]
async fn a_page_registers_with_the_api_key_alone_on_the_address_budget() {
    let s = Server::start(
        "",
        &[site_a(1000)],
        &["--allow-loopback-plain-http", "--address-rate-limit", "4"],
    );
    // Each call is on the address's budget (4 a minute), from any allowed origin.
    let mut tokens = Vec::new();
    for origin in [PAGE, "https://www.example.com", PAGE] {
        let r = page_init(&s, origin, KEY).await;
        assert_eq!(r.code(), 0, "{origin}: {}", r.body);
        assert_eq!(r.json["context"], "c1");
        assert_eq!(r.header("access-control-allow-origin"), origin);
        tokens.push(r.json["regToken"].as_str().unwrap().to_string());
    }
    // The regToken works for the rest of the flow (here: reading the new account).
    let r = s
        .get(
            "accounts.getAccountInfo",
            &[("apiKey", KEY), ("regToken", &tokens[0])],
        )
        .await;
    assert_eq!(r.json["isRegistered"], false, "{}", r.body);

    // The address budget is spent: 403048, readable by the page (CORS headers), and cheap.
    let cpu = s.cpu_seconds();
    let started = Instant::now();
    for _ in 0..20 {
        let r = page_init(&s, PAGE, KEY).await;
        assert_eq!(r.code(), 403048, "{}", r.body);
        assert_eq!(r.header("access-control-allow-origin"), PAGE);
        assert_eq!(r.header("vary"), "Origin");
        assert!(r.json.get("regToken").is_none());
    }
    let (cpu, wall) = (s.cpu_seconds() - cpu, started.elapsed());
    // Measured: 0 to 0.01 s of server CPU (10 ms ticks) and ~12 ms for the 20.
    assert!(cpu < 0.3, "{cpu} s of server CPU for 20 refusals");
    assert!(wall.as_secs_f64() < 2.0, "{wall:?} for 20 refusals");
    // A page of another origin gets no CORS headers, so it reads nothing.
    let r = page_init(&s, EVIL, KEY).await;
    assert_eq!(r.code(), 403048, "{}", r.body);
    assert!(r.headers.get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn page_registrations_leave_the_site_budget_to_its_server() {
    // The site's budget is 1 a minute; the address budget is off.
    let s = Server::start(
        "",
        &[site_a(1)],
        &["--allow-loopback-plain-http", "--address-rate-limit", "0"],
    );
    for _ in 0..5 {
        let r = page_init(&s, PAGE, KEY).await;
        assert_eq!(r.code(), 0, "{}", r.body);
    }
    // Strangers spent none of it: the server's call still runs, and then it is spent.
    let sec = b64(SECRET);
    let server = [("apiKey", KEY), ("secret", sec.as_str())];
    let r = s.post("accounts.initRegistration", &server).await;
    assert_eq!(r.code(), 0, "{}", r.body);
    let r = s.post("accounts.initRegistration", &server).await;
    assert_eq!(r.code(), 403048, "{}", r.body);
}

#[tokio::test]
async fn a_forbidden_origin_gets_no_registration() {
    let s = Server::start("", &[site_a(1000)], &["--allow-loopback-plain-http"]);
    for origin in [
        EVIL,
        "null",
        "https://www.example.com:8443",
        "http://www.example.com",
    ] {
        let r = page_init(&s, origin, KEY).await;
        assert_eq!(r.code(), 403007, "{origin}: {}", r.body);
        assert_eq!(r.json["errorMessage"], "Permission denied");
        assert!(r.json.get("regToken").is_none());
        assert!(r.headers.get("access-control-allow-origin").is_none());
    }
    // An unknown apiKey has no site, so no allowed origins: 400093 without CORS headers.
    let r = page_init(&s, PAGE, "3_nobody").await;
    assert_eq!(r.code(), 400093, "{}", r.body);
    assert!(r.headers.get("access-control-allow-origin").is_none());
    // Server code without a secret (no Origin) may call it too, as Gigya allows; with a
    // UID it is a server call and needs the secret.
    let r = s
        .post("accounts.initRegistration", &[("apiKey", KEY)])
        .await;
    assert_eq!(r.code(), 0, "{}", r.body);
    let r = s
        .post(
            "accounts.initRegistration",
            &[("apiKey", KEY), ("UID", "u1")],
        )
        .await;
    assert_eq!(r.code(), 400002, "{}", r.body);
}
