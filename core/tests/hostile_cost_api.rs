//! Hostile cost at the API layer (issue 14): what a call that gave up (deadline, close)
//! still costs, which slot a slow origin can hold, and that a regToken works on its own
//! site only. Every bound is measured and printed: time to answer, time until the decode
//! slot is free, process CPU seconds after the call was answered.

mod support;

use std::time::{Duration, Instant};

use avatarium::{Config, Identity};
use bytes::Bytes;
use serde_json::json;
use support::http_server::{head, Step, StubResolver, TestServer};

use support::craft::*;
use support::hostile::*;

/// CPU seconds this process spends during `window` (wall time) from now.
async fn cpu_during(window: Duration) -> f64 {
    let before = cpu_seconds();
    tokio::time::sleep(window).await;
    cpu_seconds() - before
}

/// One test at a time: they measure the CPU of the whole process.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The largest PNG the default limits allow (50 MP RGBA, 200 MB of pixels, a few hundred
/// KB of bytes): its decode and resize take seconds at any optimisation level, yet every
/// step checks the cancel flag.
fn slow_photo() -> Vec<u8> {
    png_zeros(7071, 7071, 6)
}

/// One decode slot, so any slot held by abandoned work shows at once.
fn one_slot(dir: &std::path::Path, ports: &[u16]) -> Config {
    Config {
        max_concurrent_imports: Some(1),
        max_queued_imports: Some(8),
        ..config(dir, ports)
    }
}

/// The server answers 200 with a 4 KiB body it sends one byte per second.
async fn trickling_origin() -> TestServer {
    let mut steps = vec![Step::Send(head(
        200,
        &[("Content-Type", "image/png"), ("Content-Length", "4096")],
    ))];
    steps.push(Step::Trickle {
        bytes: png(8, 8),
        every: Duration::from_secs(1),
    });
    TestServer::always(steps).await
}

async fn wait_connections(server: &TestServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.connections() < n {
        assert!(
            Instant::now() < deadline,
            "{} connections",
            server.connections()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickling_origins_hold_fetch_slots_never_the_decode_slot() {
    let _serial = SERIAL.lock().await;
    let origin = trickling_origin().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        max_concurrent_fetches: 4,
        fetch_timeout_ms: 4000,
        ..one_slot(dir.path(), &[origin.port()])
    };
    let client = client(cfg, StubResolver::sequence(vec![])).await;

    // Three imports whose origin sends one byte a second: they will take 4 s to fail.
    let mut slow = Vec::new();
    for i in 0..3 {
        let (c, url) = (client.clone(), origin.url(&format!("/slow{i}.png")));
        slow.push(tokio::spawn(async move {
            import(&c, &format!("slow{i}"), &url).await
        }));
    }
    wait_connections(&origin, 3).await;

    // An upload meanwhile is decoded at once: the single decode slot is free.
    let (r, took) = {
        let t = Instant::now();
        let r = upload(&client, "uploader", &png(64, 64)).await;
        (r, t.elapsed())
    };
    println!(
        "upload beside 3 trickling fetches (1 decode slot): answered in {} ms",
        took.as_millis()
    );
    assert!(r.is_ok(), "{}", r.to_json());
    assert!(
        took < Duration::from_millis(1000),
        "the upload waited {took:?} behind the fetches"
    );
    for t in &slow {
        assert!(!t.is_finished(), "the trickling imports are still fetching");
    }
    for t in slow {
        let r = t.await.unwrap();
        assert_eq!(r.error_code(), 504002, "{}", r.to_json());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetches_past_their_queue_fail_fast_with_503001() {
    let _serial = SERIAL.lock().await;
    let origin = trickling_origin().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        max_concurrent_fetches: 1,
        max_queued_fetches: 1,
        ..one_slot(dir.path(), &[origin.port()])
    };
    let client = client(cfg, StubResolver::sequence(vec![])).await;
    let running = {
        let (c, url) = (client.clone(), origin.url("/a.png"));
        tokio::spawn(async move { import(&c, "a", &url).await })
    };
    wait_connections(&origin, 1).await;
    let queued = {
        let (c, url) = (client.clone(), origin.url("/b.png"));
        tokio::spawn(async move { import(&c, "b", &url).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;

    let t = Instant::now();
    let r = import(&client, "c", &origin.url("/c.png")).await;
    let took = t.elapsed();
    println!(
        "third fetch with 1 running + 1 queued: 503001 in {} ms",
        took.as_millis()
    );
    assert_eq!(r.error_code(), 503001, "{}", r.to_json());
    assert!(details(&r).contains("Too many fetches"), "{}", r.to_json());
    assert!(took < Duration::from_millis(200), "{took:?}");
    assert_eq!(
        origin.connections(),
        1,
        "the queued fetch has not connected"
    );
    // Uploads are not fetches: the fetch queue does not refuse them.
    assert!(upload(&client, "d", &png(16, 16)).await.is_ok());
    running.abort();
    queued.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_answers_calls_in_flight_at_once_and_refuses_new_ones() {
    let _serial = SERIAL.lock().await;
    let origin = trickling_origin().await;
    let jpeg = slow_photo();
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        decode_timeout_ms: 60_000,
        fetch_timeout_ms: 10_000,
        ..one_slot(dir.path(), &[origin.port()])
    };
    let client = client(cfg, StubResolver::sequence(vec![])).await;

    let decoding = {
        let (c, jpeg) = (client.clone(), jpeg.clone());
        tokio::spawn(async move {
            let r = c
                .set_profile_photo(&Identity::uid("decoding"), Bytes::from(jpeg), false)
                .await;
            (r, Instant::now())
        })
    };
    let fetching = {
        let (c, url) = (client.clone(), origin.url("/slow.png"));
        tokio::spawn(async move {
            let r = import(&c, "fetching", &url).await;
            (r, Instant::now())
        })
    };
    wait_connections(&origin, 1).await;
    // The typed call reaches the decoder within milliseconds; the decode itself (not yet
    // the resize, which cannot be cut) runs for ~250 ms.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!decoding.is_finished(), "the decode is still running");

    let closing = Instant::now();
    let closed = client.close().await;
    let close_took = closing.elapsed();
    let (decode_r, decode_at) = decoding.await.unwrap();
    let (fetch_r, fetch_at) = fetching.await.unwrap();
    let answered = |at: Instant| at.saturating_duration_since(closing);
    println!(
        "close with a decode and a fetch in flight: returned in {} ms ({:?}); the decode's \
         caller answered after {} ms, the fetch's after {} ms",
        close_took.as_millis(),
        closed.as_ref().map_err(|e| e.details().to_string()),
        answered(decode_at).as_millis(),
        answered(fetch_at).as_millis()
    );
    let decode_e = decode_r.unwrap_err();
    assert_eq!(decode_e.error_code(), 503001, "{decode_e}");
    assert_eq!(decode_e.details(), "The client is closed");
    assert_eq!(fetch_r.error_code(), 503001, "{}", fetch_r.to_json());
    assert_eq!(details(&fetch_r), "The client is closed");
    assert!(answered(decode_at) < Duration::from_millis(300));
    assert!(answered(fetch_at) < Duration::from_millis(300));
    // The fetch's connection was closed, not left to run out its 10 s.
    assert!(origin.wait_client_closed(1, Duration::from_secs(2)).await);
    // The decoders check the cancel flag per MCU row, so close does not wait behind them.
    assert!(close_took < Duration::from_millis(1000), "{close_took:?}");

    let t = Instant::now();
    let r = upload(&client, "after", &png(8, 8)).await;
    assert_eq!(r.error_code(), 503001, "{}", r.to_json());
    assert_eq!(details(&r), "The client is closed");
    assert!(t.elapsed() < Duration::from_millis(50));
    let e = client
        .get_account_info(&Identity::uid("after"))
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), 503001);
    // Twice is harmless.
    let _ = client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_504002_the_decode_slot_and_the_cpu_are_free_within_200ms() {
    let _serial = SERIAL.lock().await;
    let jpeg = slow_photo();
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config {
        decode_timeout_ms: 100,
        ..one_slot(dir.path(), &[9])
    };
    let client = client(cfg, StubResolver::sequence(vec![])).await;
    // Warm the store up so the measured upload is only a decode slot and a tiny decode.
    assert!(upload(&client, "warm", &png(8, 8)).await.is_ok());

    let r = client
        .set_profile_photo(&Identity::uid("bomb"), Bytes::from(jpeg), false)
        .await;
    assert_eq!(r.unwrap_err().error_code(), 504002);
    let timed_out = Instant::now();
    // The next import starts at once; the CPU of the whole second after the 504002 is
    // measured meanwhile (an 8×8 import costs a few ms of it).
    let next = {
        let c = client.clone();
        tokio::spawn(async move {
            let r = upload(&c, "next", &png(8, 8)).await;
            (r, timed_out.elapsed())
        })
    };
    let cpu = cpu_during(Duration::from_secs(1)).await;
    let (next, slot_free) = next.await.unwrap();
    assert!(next.is_ok(), "{}", next.to_json());
    println!(
        "after 504002: the next import done in {} ms (the slot was free by then); \
         {cpu:.2} CPU s in the following second",
        slot_free.as_millis()
    );
    // Measured 13–15 ms and 0.02 CPU s (the deadline falls inside the decode, which stops
    // at its next read); without the cancel the decode and resize ran ~500 ms more. A
    // deadline that falls inside the resize of these 50 MP costs up to ~350 ms more: one
    // resize call cannot be cut (docs/budgets.md).
    assert!(slot_free < Duration::from_millis(200), "{slot_free:?}");
    assert!(cpu < 0.2, "{cpu} CPU s spent after the timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_stops_the_decode_in_flight_within_a_second() {
    let _serial = SERIAL.lock().await;
    let jpeg = slow_photo();
    let dir = tempfile::tempdir().unwrap();
    let client = client(
        Config {
            decode_timeout_ms: 60_000,
            ..one_slot(dir.path(), &[9])
        },
        StubResolver::sequence(vec![]),
    )
    .await;
    let c = client.clone();
    let decoding = tokio::spawn(async move {
        c.set_profile_photo(&Identity::uid("decoding"), Bytes::from(jpeg), false)
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!decoding.is_finished(), "the decode is still running");
    let t = Instant::now();
    let closed = client.close().await;
    let took = t.elapsed();
    let cpu = cpu_during(Duration::from_secs(1)).await;
    println!(
        "close with a decode in flight: {} ms, {:?}; {cpu:.2} CPU s in the following second",
        took.as_millis(),
        closed.as_ref().map_err(|e| e.details().to_string())
    );
    assert!(
        closed.is_ok(),
        "the decode did not stop within close's wait"
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
    assert!(cpu < 0.2, "{cpu} CPU s after close");
    assert_eq!(decoding.await.unwrap().unwrap_err().error_code(), 503001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reg_token_works_on_its_own_site_only() {
    let _serial = SERIAL.lock().await;
    // Two sites on one store sharing one secret: only the site identity differs, so the
    // refusal can come from nothing but the binding.
    let dir = tempfile::tempdir().unwrap();
    let site = |id: Option<&str>| Config {
        secrets: vec!["shared-secret-0123456789".into()],
        site_id: id.map(str::to_string),
        ..config(dir.path(), &[9])
    };
    let a = client(site(Some("apikey-A")), StubResolver::sequence(vec![])).await;
    let b = client(site(Some("apikey-B")), StubResolver::sequence(vec![])).await;
    let embedded = client(site(None), StubResolver::sequence(vec![])).await;

    let reg = a.call("accounts.initRegistration", &json!({})).await;
    assert!(reg.is_ok(), "{}", reg.to_json());
    let Ok(avatarium::Output::Registration(registration)) = reg.into_result() else {
        panic!("initRegistration gives a Registration")
    };
    let token = registration.reg_token;
    let info = json!({ "regToken": token });

    let own = a.call("accounts.getAccountInfo", &info).await;
    assert!(own.is_ok(), "{}", own.to_json());
    for other in [&b, &embedded] {
        let r = other.call("accounts.getAccountInfo", &info).await;
        assert_refused(&r, 403005, "Invalid regToken");
        // The same answer a forged token gets.
        let mut forged = token.clone();
        let last = forged.pop();
        forged.push(if last == Some('A') { 'B' } else { 'A' });
        let f = a
            .call("accounts.getAccountInfo", &json!({ "regToken": forged }))
            .await;
        assert_eq!(f.error_code(), r.error_code());
        assert_eq!(details(&f), details(&r));
        let w = other
            .call(
                "accounts.finalizeRegistration",
                &json!({ "regToken": token }),
            )
            .await;
        assert_eq!(w.error_code(), 403005, "{}", w.to_json());
    }
    // Still valid where it was issued (the refusals changed nothing).
    let done = a
        .call(
            "accounts.finalizeRegistration",
            &json!({ "regToken": token }),
        )
        .await;
    assert!(done.is_ok(), "{}", done.to_json());
}
