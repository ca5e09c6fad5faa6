//! Login sessions end to end on the embedded default (real SQLite): notifyLogin's token
//! acts for its user only; forged, other-site, expired and ended sessions get 403005; a
//! logout holds across a restart; purge drops end records once their sessions expired.

mod support;

use std::sync::Arc;
use std::time::Instant;

use avatarium::clock::ManualClock;
use avatarium::store::{MetaStore, SessionEnd, SqlMetaStore};
use avatarium::{Client, Config, ErrorKind, Identity};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use bytes::Bytes;
use serde_json::json;
use support::hostile::cpu_seconds;
use support::*;

fn config(dir: &std::path::Path, site: &str) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        site_id: Some(site.into()),
        secrets: vec!["shared-operator-key-0123456789".into()],
        session_ttl_secs: 600,
        ..Config::default()
    }
}

async fn client(dir: &std::path::Path, site: &str, clock: &ManualClock) -> Client {
    Client::builder(config(dir, site))
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .expect("open client")
}

fn refused(e: avatarium::Error, why: &str) {
    assert_eq!(e.kind(), ErrorKind::Unauthorized, "{e}");
    assert_eq!(e.error_code(), 403005);
    assert!(e.details().contains(why), "{e}");
}

#[tokio::test]
async fn a_session_acts_for_its_user_until_logout_even_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_now();
    let c = client(dir.path(), "3_siteA", &clock).await;
    let login = c.notify_login("alice").await.unwrap();
    assert_eq!(login.uid, "alice");
    assert_eq!(login.cookie_name, "glt_3_siteA");
    assert!(!format!("{login:?}").contains(&login.cookie_value));
    let me = Identity::session(&login.cookie_value);

    let photo = Bytes::from(fixture("photo.png"));
    let r = c.set_profile_photo(&me, photo, false).await.unwrap();
    assert_eq!(r.uid, "alice");
    c.publish_profile_photo(&me).await.unwrap();
    let info = c.get_account_info(&me).await.unwrap();
    assert_eq!(info.uid, "alice");
    assert!(info.is_registered && info.photo.is_some());
    // The same photo by UID: it is alice's account.
    let by_uid = c.get_account_info(&Identity::uid("alice")).await.unwrap();
    assert_eq!(by_uid.photo, info.photo);

    // A second session of the same user outlives the first one's logout.
    let other = Identity::session(c.notify_login("alice").await.unwrap().cookie_value);
    assert_eq!(c.logout(&me).await.unwrap(), "alice");
    refused(c.get_account_info(&me).await.unwrap_err(), "ended");
    refused(c.logout(&me).await.unwrap_err(), "ended");
    c.get_account_info(&other).await.unwrap();

    // A restart (a new process on the same store) keeps the logout.
    c.close().await.unwrap();
    drop(c);
    let c = client(dir.path(), "3_siteA", &clock).await;
    refused(c.get_account_info(&me).await.unwrap_err(), "ended");
    c.get_account_info(&other).await.unwrap();

    // The site's server ends every session of the user issued until now; a later login works.
    c.logout(&Identity::uid("alice")).await.unwrap();
    refused(c.get_account_info(&other).await.unwrap_err(), "ended");
    clock.advance_secs(1);
    let again = Identity::session(c.notify_login("alice").await.unwrap().cookie_value);
    c.get_account_info(&again).await.unwrap();
}

#[tokio::test]
async fn forged_foreign_expired_and_mistaken_tokens_get_403005() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_now();
    let a = client(&dir.path().join("a"), "3_siteA", &clock).await;
    let b = client(&dir.path().join("b"), "3_siteB", &clock).await;
    let token = a.notify_login("alice").await.unwrap().cookie_value;
    b.notify_login("alice").await.unwrap();

    // Another site sharing the operator's keys refuses it.
    refused(
        b.get_account_info(&Identity::session(&token))
            .await
            .unwrap_err(),
        "signature",
    );
    // Altered: a character in the middle of the signature changed (the last one may carry
    // only padding bits), or the payload's UID replaced, the signature kept.
    let (payload, mac) = token.split_once('.').unwrap();
    let flipped = format!("{payload}.{}", change_middle(mac));
    let claims = String::from_utf8(B64.decode(payload).unwrap()).unwrap();
    let (head, uid) = claims.rsplit_once('|').unwrap();
    assert_eq!(uid, "alice");
    let forged_uid = B64.encode(format!("{head}|mallory"));
    for bad in [flipped, format!("{forged_uid}.{mac}"), "x.y".into()] {
        let e = a
            .get_account_info(&Identity::session(bad))
            .await
            .unwrap_err();
        assert_eq!(e.error_code(), 403005, "{e}");
    }
    // A regToken is no session, and a session no regToken.
    let reg = a.init_registration().await.unwrap().reg_token;
    refused(
        a.get_account_info(&Identity::session(&reg))
            .await
            .unwrap_err(),
        "session",
    );
    refused(
        a.get_account_info(&Identity::reg_token(&token))
            .await
            .unwrap_err(),
        "regToken",
    );
    // Nothing written for a refused session.
    let e = a
        .set_profile_photo(
            &Identity::session(&reg),
            Bytes::from(fixture("photo.png")),
            true,
        )
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), 403005);
    // Expired: session_ttl_secs later.
    clock.advance_secs(600);
    refused(
        a.get_account_info(&Identity::session(&token))
            .await
            .unwrap_err(),
        "expired",
    );
}

#[tokio::test]
async fn the_generic_call_speaks_gigya_fields() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_now();
    let c = client(dir.path(), "3_siteA", &clock).await;
    let r = c
        .call(
            "accounts.notifyLogin",
            &json!({"siteUID": "bob", "context": "c1"}),
        )
        .await
        .into_value();
    assert_eq!(r["errorCode"], 0, "{r}");
    assert_eq!(r["UID"], "bob");
    assert_eq!(r["context"], "c1");
    assert_eq!(r["sessionInfo"]["cookieName"], "glt_3_siteA");
    let token = r["sessionInfo"]["cookieValue"]
        .as_str()
        .unwrap()
        .to_string();
    let info = c
        .call("accounts.getAccountInfo", &json!({"login_token": token}))
        .await
        .into_value();
    assert_eq!(info["UID"], "bob", "{info}");
    let out = c
        .call("accounts.logout", &json!({"login_token": token}))
        .await
        .into_value();
    assert_eq!(out["errorCode"], 0, "{out}");
    assert_eq!(out["UID"], "bob");
    let after = c
        .call("accounts.getAccountInfo", &json!({"login_token": token}))
        .await
        .into_value();
    assert_eq!(after["errorCode"], 403005, "{after}");
    let e = c
        .call("accounts.logout", &json!({"regToken": "t"}))
        .await
        .into_value();
    assert_eq!(e["errorCode"], 400006, "{e}");
    let e = c
        .call("accounts.notifyLogin", &json!({}))
        .await
        .into_value();
    assert_eq!(e["errorCode"], 400002, "{e}");
}

/// A session call's cost with ended sessions on record. (300 rows are too few for a table
/// scan to show: this bounds the per-call work, not the index, which sql.rs declares.)
#[tokio::test]
async fn the_end_check_stays_cheap_with_many_logouts() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_now();
    let c = client(dir.path(), "3_siteA", &clock).await;
    for i in 0..300 {
        let t = c.notify_login(&format!("u{i}")).await.unwrap().cookie_value;
        c.logout(&Identity::session(t)).await.unwrap();
    }
    let me = Identity::session(c.notify_login("alice").await.unwrap().cookie_value);
    let cpu = cpu_seconds();
    let started = Instant::now();
    for _ in 0..200 {
        c.get_account_info(&me).await.unwrap();
    }
    let took = started.elapsed();
    let spent = cpu_seconds() - cpu;
    // Measured ~0.05 s wall and CPU for 200 calls here.
    assert!(took.as_secs_f64() < 2.0, "{took:?}");
    assert!(spent < 2.0, "{spent} CPU s");
}

#[tokio::test]
async fn purge_drops_end_records_once_their_sessions_expired() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("meta.db").display());
    let sql = SqlMetaStore::connect(&db).await.unwrap();
    let one = SessionEnd::One {
        session_id: "s1".into(),
    };
    let all = SessionEnd::AllOf {
        uid: "bob".into(),
        at_ms: 500,
    };
    sql.end_sessions(&one, 1000).await.unwrap();
    sql.end_sessions(&all, 2000).await.unwrap();
    assert!(sql.session_ended("s1", "alice", 0).await.unwrap());
    assert!(sql.session_ended("s9", "bob", 500).await.unwrap());
    assert!(!sql.session_ended("s9", "bob", 501).await.unwrap());
    assert!(!sql.session_ended("s9", "alice", 0).await.unwrap());
    assert_eq!(sql.purge_session_ends(1500).await.unwrap(), 1);
    assert!(!sql.session_ended("s1", "alice", 0).await.unwrap());
    assert!(sql.session_ended("s9", "bob", 400).await.unwrap());
    assert_eq!(sql.purge_session_ends(2001).await.unwrap(), 1);
}

/// `s` with its middle character replaced by another one.
fn change_middle(s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let i = chars.len() / 2;
    chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// A shorter `session_ttl_secs` binds sessions issued under the longer one: end records are
/// kept for the TTL in force, so such a session must not outlive them.
#[tokio::test]
async fn a_shorter_ttl_ends_sessions_issued_under_a_longer_one() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::starting_now();
    let long = client(dir.path(), "3_siteA", &clock).await;
    let token = long.notify_login("ttl-user").await.unwrap().cookie_value;
    let me = Identity::session(&token);
    long.close().await.unwrap();
    // Reopened with one minute instead of ten: the old token's own expiry says ten.
    let mut c = config(dir.path(), "3_siteA");
    c.session_ttl_secs = 60;
    let short = Client::builder(c)
        .clock(Arc::new(clock.clone()))
        .build()
        .await
        .unwrap();
    assert!(short.get_account_info(&me).await.is_ok());
    clock.advance_secs(61);
    refused(short.get_account_info(&me).await.unwrap_err(), "expired");
    assert!(
        long_lived_elsewhere(&dir, &clock, &me).await,
        "the token itself is still valid"
    );
}

/// Whether a client with the original ten-minute TTL still takes `me` (shows the refusal
/// above comes from the TTL in force, not from the token's own expiry).
async fn long_lived_elsewhere(dir: &tempfile::TempDir, clock: &ManualClock, me: &Identity) -> bool {
    client(dir.path(), "3_siteA", clock)
        .await
        .get_account_info(me)
        .await
        .is_ok()
}
