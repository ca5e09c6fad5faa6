//! `/metrics`: the Prometheus text format, rendered by metrics-exporter-prometheus from
//! what the process recorded through the `metrics` facade: the core's stage timings,
//! fetch bytes, refused URLs and slot gauges (avatarium::telemetry), and this layer's
//! calls, call latency and rate-limit refusals. Served on the main listener, or on
//! `--admin-listen` alone when it is given (docs/operate.md says why).

use std::sync::Arc;
use std::time::Duration;

use avatarium::{telemetry, Method};
use axum::extract::State as AxumState;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, histogram, Unit};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use super::State;

/// Counter: answers of `/<method>`, labels `method`, `error_code`.
pub(crate) const CALLS: &str = "avatarium_calls_total";
/// Histogram: seconds from request to answer, label `method`.
pub(crate) const CALL_SECONDS: &str = "avatarium_call_seconds";
/// Counter: calls refused for a spent budget (403048), label `scope` (`site`, `address`).
pub(crate) const RATE_LIMITED: &str = "avatarium_rate_limited_total";

/// Bucket bounds in seconds for every `_seconds` histogram: a 1 ms stage to a call that
/// ran into the fetch deadline (10 s) or the decode deadline.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often recorded histogram samples are folded into their buckets when nobody
/// scrapes (otherwise they would pile up between scrapes).
const UPKEEP: Duration = Duration::from_secs(5);

/// Installs the process-wide recorder (once, at start) and keeps it tidy.
pub(crate) fn install() -> Result<PrometheusHandle, String> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .map_err(|e| format!("metrics: {e}"))?
        .install_recorder()
        .map_err(|e| format!("metrics: {e}"))?;
    describe();
    // Present from the first scrape, at 0: an absent series reads as "no data", not "idle".
    for gauge in [
        telemetry::IMPORTS_RUNNING,
        telemetry::IMPORTS_QUEUED,
        telemetry::FETCHES_RUNNING,
        telemetry::FETCHES_QUEUED,
    ] {
        metrics::gauge!(gauge).set(0.0);
    }
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(UPKEEP);
        loop {
            tick.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

fn describe() {
    describe_counter!(CALLS, "API calls answered, by method and errorCode");
    describe_histogram!(CALL_SECONDS, Unit::Seconds, "Time to answer an API call");
    describe_counter!(RATE_LIMITED, "Calls refused for a spent request budget");
    describe_histogram!(
        telemetry::STAGE_SECONDS,
        Unit::Seconds,
        "Time an import spent per stage"
    );
    describe_counter!(
        telemetry::FETCH_BYTES,
        Unit::Bytes,
        "Body bytes received from callers' URLs"
    );
    describe_counter!(
        telemetry::URLS_REFUSED,
        "Callers' URLs refused by the fetch policy, by rule"
    );
    describe_gauge!(telemetry::IMPORTS_RUNNING, "Imports holding a decode slot");
    describe_gauge!(
        telemetry::IMPORTS_QUEUED,
        "Imports waiting for a decode slot"
    );
    describe_gauge!(
        telemetry::FETCHES_RUNNING,
        "URL fetches holding a fetch slot"
    );
    describe_gauge!(
        telemetry::FETCHES_QUEUED,
        "URL fetches waiting for a fetch slot"
    );
}

/// The `method` label: the method's Gigya name, or `unknown` (the path is caller text, and
/// a label per distinct path would let callers grow the series without bound).
pub(crate) fn method_label(path_method: &str) -> String {
    Method::from_name(path_method)
        .map(Method::name)
        .unwrap_or_else(|| "unknown".into())
}

/// One answered call.
pub(crate) fn call(method: &str, error_code: u32, seconds: f64) {
    counter!(CALLS, "method" => method.to_string(), "error_code" => error_code.to_string())
        .increment(1);
    histogram!(CALL_SECONDS, "method" => method.to_string()).record(seconds);
}

/// Where a spent budget refused a call.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Budget {
    Site,
    Address,
}

pub(crate) fn rate_limited(budget: Budget) {
    let scope = match budget {
        Budget::Site => "site",
        Budget::Address => "address",
    };
    counter!(RATE_LIMITED, "scope" => scope).increment(1);
}

/// `GET /metrics`.
pub(crate) async fn render(AxumState(state): AxumState<Arc<State>>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        state.metrics.render(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_labels_are_bounded() {
        assert_eq!(
            method_label("accounts.uploadProfilePhoto"),
            "accounts.setProfilePhoto"
        );
        assert_eq!(
            method_label("ACCOUNTS.importprofilephoto"),
            "accounts.importProfilePhoto"
        );
        assert_eq!(method_label("accounts.x-token-abc"), "unknown");
        assert_eq!(method_label(&"a".repeat(5000)), "unknown");
    }
}
