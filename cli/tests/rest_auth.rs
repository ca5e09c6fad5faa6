//! Authentication and the response shape of the REST endpoint: every auth code of SPEC.md
//! (400093, 403002, 403003, 403004, 403006, 403010) and 403048, signatures computed in the
//! test from SPEC.md's description, user keys, regToken-only client calls, JSONP,
//! `httpStatusCodes`, `context`, and HTTPS with a secret.

mod support;

use support::{b64, check_envelope, new_nonce, now, sign, Server, SiteConf};

const KEY: &str = "3_site-A";
const SECRET: &[u8] = b"the secret of site A";
const USER_KEY: &str = "AUserKey";
const USER_SECRET: &[u8] = b"a user key's own secret";

fn site_a() -> SiteConf {
    SiteConf::new(KEY, SECRET).user_key(USER_KEY, USER_SECRET)
}

fn secret() -> String {
    b64(SECRET)
}

fn loopback_server() -> Server {
    Server::start("", &[site_a()], &["--allow-loopback-plain-http"])
}

#[tokio::test]
async fn api_key_and_secret() {
    let s = loopback_server();
    let sec = secret();
    for r in [
        s.post("accounts.getPolicies", &[("apiKey", KEY), ("secret", &sec)])
            .await,
        s.get("accounts.getPolicies", &[("apiKey", KEY), ("secret", &sec)])
            .await,
    ] {
        assert_eq!(r.code(), 0, "{}", r.body);
        assert_eq!(r.status, 200);
        assert_eq!(r.json["profilePhoto"]["thumbnailWidth"], 64);
        assert_eq!(r.header("content-type"), "application/json; charset=utf-8");
    }
    // 400093: unknown or missing apiKey.
    for r in [
        s.post(
            "accounts.getPolicies",
            &[("apiKey", "3_nobody"), ("secret", &sec)],
        )
        .await,
        s.get("accounts.getPolicies", &[("secret", &sec)]).await,
    ] {
        assert_eq!(r.code(), 400093, "{}", r.body);
        assert_eq!(r.json["statusCode"], 400);
        assert_eq!(r.json["errorMessage"], "Invalid ApiKey parameter");
        check_envelope(&r.json, "400093");
    }
    // 403010: wrong secret, a user key with the site's secret, an unknown user key.
    let wrong = b64(b"not the secret");
    for params in [
        vec![("apiKey", KEY), ("secret", wrong.as_str())],
        vec![("apiKey", KEY), ("userKey", USER_KEY), ("secret", &sec)],
        vec![("apiKey", KEY), ("userKey", "nobody"), ("secret", &sec)],
        vec![("apiKey", KEY), ("secret", "%%% not base64")],
    ] {
        let r = s.post("accounts.getPolicies", &params).await;
        assert_eq!(r.code(), 403010, "{params:?}: {}", r.body);
        assert_eq!(r.json["errorMessage"], "Invalid secret");
    }
    // userKey + its own secret.
    let user_sec = b64(USER_SECRET);
    let r = s
        .post(
            "accounts.getPolicies",
            &[
                ("apiKey", KEY),
                ("userKey", USER_KEY),
                ("secret", &user_sec),
            ],
        )
        .await;
    assert_eq!(r.code(), 0, "{}", r.body);
    // No credential for a server-side call.
    let r = s
        .post("accounts.getAccountInfo", &[("apiKey", KEY), ("UID", "u1")])
        .await;
    assert_eq!(r.code(), 400002, "{}", r.body);
    assert!(r.json["errorDetails"].as_str().unwrap().contains("secret"));
    // Secrets never reach the log.
    let log = s.log();
    assert!(
        !log.contains(&sec) && !log.contains(&user_sec) && !log.contains(&wrong),
        "{log}"
    );
}

#[tokio::test]
async fn secret_over_plain_http_is_refused_but_signatures_work() {
    // No --allow-loopback-plain-http: plain HTTP is for signed and client calls only.
    let s = Server::start("", &[site_a()], &[]);
    let r = s
        .post(
            "accounts.getPolicies",
            &[("apiKey", KEY), ("secret", &secret())],
        )
        .await;
    assert_eq!(r.code(), 403006, "{}", r.body);
    assert_eq!(r.json["statusCode"], 403);
    // Even a wrong secret: it has leaked either way.
    let r = s
        .get(
            "accounts.getPolicies",
            &[("apiKey", KEY), ("secret", "d3Jvbmc=")],
        )
        .await;
    assert_eq!(r.code(), 403006, "{}", r.body);
    let r = s
        .signed(
            "POST",
            "accounts.getPolicies",
            &[("apiKey", KEY)],
            &secret(),
        )
        .await;
    assert_eq!(r.code(), 0, "{}", r.body);
}

#[tokio::test]
async fn signed_requests() {
    let s = loopback_server();
    let sec = secret();
    // Valid over POST and GET, with the site's secret and with a user key's.
    for m in ["POST", "GET"] {
        let r = s
            .signed(
                m,
                "accounts.getPolicies",
                &[("apiKey", KEY), ("context", "a b~c/é")],
                &sec,
            )
            .await;
        assert_eq!(r.code(), 0, "{m}: {}", r.body);
        assert_eq!(r.json["context"], "a b~c/é");
        let r = s
            .signed(
                m,
                "accounts.getPolicies",
                &[("apiKey", KEY), ("userKey", USER_KEY)],
                &b64(USER_SECRET),
            )
            .await;
        assert_eq!(r.code(), 0, "{m} userKey: {}", r.body);
    }

    let url = format!("{}/accounts.getPolicies", s.base);
    let ts = now().to_string();
    let manual = |ts: &str, nonce: &str, http: &str, key: &str| {
        let params = [("apiKey", KEY), ("timestamp", ts), ("nonce", nonce)];
        sign(http, &url, &params, key)
    };

    // 403003: signed with another key, for another method, or a parameter changed after.
    let nonce = new_nonce();
    let bad_key = manual(&ts, &nonce, "POST", &b64(b"another key"));
    let r = s
        .post(
            "accounts.getPolicies",
            &[
                ("apiKey", KEY),
                ("timestamp", &ts),
                ("nonce", &nonce),
                ("sig", &bad_key),
            ],
        )
        .await;
    assert_eq!(r.code(), 403003, "{}", r.body);
    assert_eq!(r.json["errorMessage"], "Invalid request signature");
    let nonce = new_nonce();
    let as_post = manual(&ts, &nonce, "POST", &sec);
    let r = s
        .get(
            "accounts.getPolicies",
            &[
                ("apiKey", KEY),
                ("timestamp", &ts),
                ("nonce", &nonce),
                ("sig", &as_post),
            ],
        )
        .await;
    assert_eq!(r.code(), 403003, "signed as POST, sent as GET: {}", r.body);
    let r = s
        .post(
            "accounts.getPolicies",
            &[
                ("apiKey", KEY),
                ("timestamp", &ts),
                ("nonce", &nonce),
                ("sig", &as_post),
                ("extra", "1"),
            ],
        )
        .await;
    assert_eq!(r.code(), 403003, "an added parameter: {}", r.body);
    let r = s
        .post(
            "accounts.getPolicies",
            &[
                ("apiKey", KEY),
                ("timestamp", &ts),
                ("nonce", &nonce),
                ("sig", "garbage"),
            ],
        )
        .await;
    assert_eq!(r.code(), 403003, "{}", r.body);

    // 403002: timestamp outside ±120 s (and not a number).
    for ts in [now() - 200, now() + 200] {
        let ts = ts.to_string();
        let nonce = new_nonce();
        let sig = manual(&ts, &nonce, "POST", &sec);
        let r = s
            .post(
                "accounts.getPolicies",
                &[
                    ("apiKey", KEY),
                    ("timestamp", &ts),
                    ("nonce", &nonce),
                    ("sig", &sig),
                ],
            )
            .await;
        assert_eq!(r.code(), 403002, "ts {ts}: {}", r.body);
    }
    let nonce = new_nonce();
    let sig = manual("soon", &nonce, "POST", &sec);
    let r = s
        .post(
            "accounts.getPolicies",
            &[
                ("apiKey", KEY),
                ("timestamp", "soon"),
                ("nonce", &nonce),
                ("sig", &sig),
            ],
        )
        .await;
    assert_eq!(r.code(), 403002, "{}", r.body);
    // Within the window is fine.
    let ts_ok = (now() - 100).to_string();
    let nonce = new_nonce();
    let sig = manual(&ts_ok, &nonce, "POST", &sec);
    let replay = [
        ("apiKey", KEY),
        ("timestamp", ts_ok.as_str()),
        ("nonce", nonce.as_str()),
        ("sig", sig.as_str()),
    ];
    let r = s.post("accounts.getPolicies", &replay).await;
    assert_eq!(r.code(), 0, "{}", r.body);

    // 403004: the same request again.
    let r = s.post("accounts.getPolicies", &replay).await;
    assert_eq!(r.code(), 403004, "{}", r.body);
    assert_eq!(r.json["errorMessage"], "Duplicate nonce");

    // Milliseconds, as SAP's JS and npm SDKs send `Date.now()`: the same window and nonces.
    let ms = |secs: i64| (secs * 1000 + 123).to_string();
    let nonce = new_nonce();
    let ts_ms = ms(now() - 100);
    let sig = manual(&ts_ms, &nonce, "POST", &sec);
    let in_ms = [
        ("apiKey", KEY),
        ("timestamp", ts_ms.as_str()),
        ("nonce", nonce.as_str()),
        ("sig", sig.as_str()),
    ];
    let r = s.post("accounts.getPolicies", &in_ms).await;
    assert_eq!(r.code(), 0, "milliseconds: {}", r.body);
    let r = s.post("accounts.getPolicies", &in_ms).await;
    assert_eq!(r.code(), 403004, "milliseconds replayed: {}", r.body);
    for ts in [ms(now() - 200), ms(now() + 200)] {
        let nonce = new_nonce();
        let sig = manual(&ts, &nonce, "POST", &sec);
        let params = [
            ("apiKey", KEY),
            ("timestamp", ts.as_str()),
            ("nonce", nonce.as_str()),
            ("sig", sig.as_str()),
        ];
        let r = s.post("accounts.getPolicies", &params).await;
        assert_eq!(r.code(), 403002, "ms {ts}: {}", r.body);
    }

    // Missing nonce.
    let sig = sign("POST", &url, &[("apiKey", KEY), ("timestamp", &ts)], &sec);
    let r = s
        .post(
            "accounts.getPolicies",
            &[("apiKey", KEY), ("timestamp", &ts), ("sig", &sig)],
        )
        .await;
    assert_eq!(r.code(), 400002, "{}", r.body);
}

#[tokio::test]
async fn client_calls_with_a_reg_token_need_only_the_api_key() {
    let s = loopback_server();
    let r = s
        .post(
            "accounts.initRegistration",
            &[("apiKey", KEY), ("secret", &secret())],
        )
        .await;
    assert_eq!(r.code(), 0, "{}", r.body);
    let token = r.json["regToken"].as_str().unwrap().to_string();
    let photo = b64(&support::fixture("photo.png"));
    let r = s
        .post(
            "accounts.setProfilePhoto",
            &[
                ("apiKey", KEY),
                ("regToken", &token),
                ("photoBytes", &photo),
                ("publish", "true"),
            ],
        )
        .await;
    assert_eq!(r.code(), 0, "{}", r.body);
    let r = s
        .get(
            "accounts.getAccountInfo",
            &[("apiKey", KEY), ("regToken", &token)],
        )
        .await;
    assert_eq!(r.code(), 0, "{}", r.body);
    assert_eq!(r.json["isRegistered"], false);
    assert!(r.json["profile"]["photoURL"]
        .as_str()
        .unwrap()
        .ends_with(".png"));
    let r = s
        .get(
            "accounts.finalizeRegistration",
            &[("apiKey", KEY), ("regToken", &token)],
        )
        .await;
    assert_eq!(r.code(), 0, "{}", r.body);
    // Not for server-side methods, not with a UID, and the token's checks stay the core's
    // (initRegistration needs no token: rest_browser_registration.rs).
    for (m, params) in [
        (
            "accounts.setPolicies",
            vec![
                ("regToken", token.as_str()),
                ("profilePhoto", "{\"thumbnailWidth\":9}"),
            ],
        ),
        ("accounts.getPolicies", vec![("regToken", token.as_str())]),
        (
            "accounts.getAccountInfo",
            vec![("regToken", token.as_str()), ("UID", "u1")],
        ),
        ("accounts.getAccountInfo", vec![("UID", "u1")]),
    ] {
        let mut p = params.clone();
        p.push(("apiKey", KEY));
        let r = s.post(m, &p).await;
        assert_eq!(r.code(), 400002, "{m} {params:?}: {}", r.body);
    }
    let r = s
        .get(
            "accounts.getAccountInfo",
            &[("apiKey", KEY), ("regToken", &token)],
        )
        .await;
    assert_eq!(r.code(), 403005, "finalized: {}", r.body);
    let r = s
        .get(
            "accounts.getAccountInfo",
            &[("apiKey", "3_other"), ("regToken", &token)],
        )
        .await;
    assert_eq!(r.code(), 400093, "{}", r.body);
}

#[tokio::test]
async fn rate_limit_per_api_key() {
    let s = Server::start(
        "",
        &[
            site_a().extra("rate_limit_per_minute = 3"),
            SiteConf::new("3_other", b"other secret"),
        ],
        &["--allow-loopback-plain-http"],
    );
    let sec = secret();
    for _ in 0..3 {
        let r = s
            .post("accounts.getPolicies", &[("apiKey", KEY), ("secret", &sec)])
            .await;
        assert_eq!(r.code(), 0, "{}", r.body);
    }
    let r = s
        .post(
            "accounts.getPolicies",
            &[
                ("apiKey", KEY),
                ("secret", &sec),
                ("httpStatusCodes", "true"),
            ],
        )
        .await;
    assert_eq!(r.code(), 403048, "{}", r.body);
    assert_eq!(r.status, 403);
    check_envelope(&r.json, "403048");
    // Another site's budget is its own.
    let r = s
        .post(
            "accounts.getPolicies",
            &[("apiKey", "3_other"), ("secret", &b64(b"other secret"))],
        )
        .await;
    assert_eq!(r.code(), 0, "{}", r.body);
}

#[tokio::test]
async fn jsonp_status_codes_and_context() {
    let s = loopback_server();
    let sec = secret();
    let r = s
        .get(
            "accounts.getPolicies",
            &[
                ("apiKey", KEY),
                ("secret", &sec),
                ("format", "jsonp"),
                ("callback", "gigya.callback"),
                ("context", "R42"),
            ],
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type").starts_with("text/javascript"),
        "{:?}",
        r.headers
    );
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    let inner = r
        .body
        .strip_prefix("/**/gigya.callback(")
        .and_then(|b| b.strip_suffix(");"));
    let inner: serde_json::Value = serde_json::from_str(inner.expect(&r.body)).unwrap();
    assert_eq!(inner["errorCode"], 0);
    assert_eq!(inner["context"], "R42");
    // JSONP also for refusals, with the context echoed.
    let r = s
        .post(
            "accounts.getPolicies",
            &[
                ("apiKey", "nope"),
                ("format", "jsonp"),
                ("callback", "cb"),
                ("context", "c1"),
            ],
        )
        .await;
    assert!(
        r.body.starts_with("/**/cb({")
            && r.body.contains("400093")
            && r.body.contains("\"context\":\"c1\""),
        "{}",
        r.body
    );
    // Bad or missing callback: a JSON refusal, never the caller's text as code.
    let r = s
        .get(
            "accounts.getPolicies",
            &[
                ("apiKey", KEY),
                ("secret", &sec),
                ("format", "jsonp"),
                ("callback", "alert(1);x"),
            ],
        )
        .await;
    assert_eq!(r.code(), 400006, "{}", r.body);
    assert!(!r.body.contains("alert"));
    let r = s
        .get(
            "accounts.getPolicies",
            &[("apiKey", KEY), ("secret", &sec), ("format", "jsonp")],
        )
        .await;
    assert_eq!(r.code(), 400002, "{}", r.body);
    let r = s
        .get(
            "accounts.getPolicies",
            &[("apiKey", KEY), ("secret", &sec), ("format", "xml")],
        )
        .await;
    assert_eq!(r.code(), 400006, "{}", r.body);

    // httpStatusCodes: the HTTP status follows statusCode only when asked.
    let unknown_uid = [
        ("apiKey", KEY),
        ("secret", sec.as_str()),
        ("UID", "never-seen"),
    ];
    let r = s.post("accounts.getAccountInfo", &unknown_uid).await;
    assert_eq!((r.status, r.code()), (200, 403005));
    let mut with = unknown_uid.to_vec();
    with.push(("httpStatusCodes", "true"));
    let core_error = s.post("accounts.getAccountInfo", &with).await;
    assert_eq!((core_error.status, core_error.code()), (403, 403005));
    let r = s
        .get(
            "accounts.getPolicies",
            &[("apiKey", "x"), ("httpStatusCodes", "true")],
        )
        .await;
    assert_eq!((r.status, r.code()), (400, 400093));
    let r = s
        .get(
            "accounts.getPolicies",
            &[
                ("apiKey", KEY),
                ("secret", &sec),
                ("httpStatusCodes", "true"),
            ],
        )
        .await;
    assert_eq!((r.status, r.code()), (200, 0));

    // A REST refusal has exactly the fields of a core error envelope.
    let rest_error = s
        .post(
            "accounts.getAccountInfo",
            &[("apiKey", KEY), ("secret", "d3Jvbmc="), ("context", "c")],
        )
        .await;
    let mut with_ctx = with.clone();
    with_ctx.push(("context", "c"));
    let core_error = s.post("accounts.getAccountInfo", &with_ctx).await;
    assert_eq!(rest_error.code(), 403010);
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&rest_error.json), keys(&core_error.json));
    assert_eq!(rest_error.json["context"], "c");
}

#[tokio::test]
async fn https_accepts_the_secret() {
    let tls = support::repo_root().join("cli/tests/tls");
    let cert = tls.join("localhost-cert.pem");
    let key = tls.join("localhost-key.pem");
    let mut s = Server::start(
        "",
        &[site_a()],
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);
    let pem = std::fs::read(&cert).unwrap();
    s.client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).unwrap()])
        .build()
        .unwrap();
    let r = s
        .post(
            "accounts.getPolicies",
            &[("apiKey", KEY), ("secret", &secret())],
        )
        .await;
    assert_eq!(r.code(), 0, "{}", r.body);
    let r = s
        .post(
            "accounts.getPolicies",
            &[("apiKey", KEY), ("secret", "d3Jvbmc=")],
        )
        .await;
    assert_eq!(r.code(), 403010, "{}", r.body);
    // The signature covers https:// and the port.
    let r = s
        .signed("GET", "accounts.getPolicies", &[("apiKey", KEY)], &secret())
        .await;
    assert_eq!(r.code(), 0, "{}", r.body);
}

/// Sites that share `secrets` and even one database: a regToken minted for site A is
/// refused by site B with the answer a forged token gets (issue 14), and still works on A.
#[tokio::test]
async fn a_reg_token_works_on_its_own_site_only() {
    let db = tempfile::tempdir().unwrap();
    let shared_db = format!(
        "database_url = {:?}\n",
        format!("sqlite://{}", db.path().join("shared.db").display())
    );
    let (key_b, secret_b) = ("3_site-B", b"the secret of site B".as_slice());
    let s = Server::start(
        "secrets = [\"one-secret-for-every-site-0123\"]",
        &[
            site_a().extra(&shared_db),
            SiteConf::new(key_b, secret_b).extra(&shared_db),
        ],
        &["--allow-loopback-plain-http"],
    );
    let r = s
        .post(
            "accounts.initRegistration",
            &[("apiKey", KEY), ("secret", &secret())],
        )
        .await;
    assert_eq!(r.code(), 0, "{}", r.body);
    let token = r.json["regToken"].as_str().unwrap().to_string();

    let on_b = s
        .get(
            "accounts.getAccountInfo",
            &[("apiKey", key_b), ("regToken", &token)],
        )
        .await;
    assert_eq!(on_b.code(), 403005, "{}", on_b.body);
    let forged = s
        .get(
            "accounts.getAccountInfo",
            &[("apiKey", KEY), ("regToken", &format!("{token}x"))],
        )
        .await;
    assert_eq!(forged.code(), 403005, "{}", forged.body);
    assert_eq!(on_b.json["errorDetails"], forged.json["errorDetails"]);

    let on_a = s
        .get(
            "accounts.getAccountInfo",
            &[("apiKey", KEY), ("regToken", &token)],
        )
        .await;
    assert_eq!(on_a.code(), 0, "{}", on_a.body);
}
