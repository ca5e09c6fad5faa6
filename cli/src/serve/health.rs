//! `/healthz` (the process answers) and `/readyz` (every site's metadata and blob store
//! answer within [`PROBE_TIMEOUT`]). Neither needs an apiKey nor spends a budget: a load
//! balancer calls them. `/readyz` probes at most once per [`PROBE_INTERVAL`] however often
//! it is asked, so it cannot be used to hammer the stores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State as AxumState;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::State;

/// How long each store has to answer a probe.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
/// The shortest time between two probes of the stores; askers in between get the last
/// answer.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// `GET /healthz`: the process is alive and serving.
pub(crate) async fn healthz() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        "ok\n",
    )
        .into_response()
}

/// `GET /readyz`: 200 when every site's stores answer and its client takes calls, else
/// 503; the body names each site's `metadataStore` and `blobStore` as `ok`, `timeout` or
/// `failed` (the cause is logged, never returned: it may name hosts or paths) and its
/// `calls` as `ok` or `closed` (shutting down).
pub(crate) async fn readyz(AxumState(state): AxumState<Arc<State>>) -> Response {
    // Held across the probe: concurrent askers wait for it and share its answer.
    let mut last = state.ready.0.lock().await;
    let fresh = last
        .as_ref()
        .filter(|(at, _, _)| at.elapsed() < PROBE_INTERVAL)
        .map(|(_, ready, body)| (*ready, body.clone()));
    let (ready, body) = match fresh {
        Some(answer) => answer,
        None => {
            let answer = probe(&state).await;
            *last = Some((Instant::now(), answer.0, answer.1.clone()));
            answer
        }
    };
    drop(last);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// Probes every site at once.
async fn probe(state: &State) -> (bool, Value) {
    let probes = state
        .by_name
        .iter()
        .map(|(name, site)| async move { (name.clone(), site.client.ready(PROBE_TIMEOUT).await) });
    let mut sites = Map::new();
    let mut ready = true;
    for (name, r) in futures::future::join_all(probes).await {
        ready &= r.is_ready();
        let mut parts = Map::new();
        for (part, answer) in [("metadataStore", &r.metadata), ("blobStore", &r.blobs)] {
            parts.insert(part.into(), Value::from(verdict(&name, part, answer)));
        }
        let calls = if r.open { "ok" } else { "closed" };
        parts.insert("calls".into(), Value::from(calls));
        sites.insert(name, Value::Object(parts));
    }
    (ready, json!({ "ready": ready, "sites": sites }))
}

fn verdict(site: &str, part: &str, answer: &avatarium::error::Result<()>) -> &'static str {
    match answer {
        Ok(()) => "ok",
        Err(e) => {
            tracing::warn!(site, part, error = ?e, "not ready");
            match e.kind() {
                avatarium::ErrorKind::Timeout => "timeout",
                _ => "failed",
            }
        }
    }
}
