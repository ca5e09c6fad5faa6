//! The two routes: `/<namespace>.<method>` (GET query or POST form) answered with the
//! core's envelope, and `/photos/<site>/<key>` serving a site's local blobs.

use std::sync::Arc;
use std::time::Instant;

use avatarium::pipeline::OutputFormat;
use avatarium::{Envelope, ErrorKind};
use axum::body::Body;
use axum::extract::{Path, Request, State as AxumState};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Version};
use axum::response::{IntoResponse, Response as HttpResponse};

use super::auth::{self, Caller, RequestInfo};
use super::browser;
use super::error::RestError;
use super::metrics::{self, Budget};
use super::params;
use super::reply::Output;
use super::{Conn, Site, State};

/// `/<namespace>.<method>`. Order matters for cost: the caller's address budget first, then
/// the query and at most the first 64 KiB of the body to find the site, the site's budget,
/// and only then the rest of the body (up to the site's cap), the signature and the call.
pub(crate) async fn api(
    AxumState(state): AxumState<Arc<State>>,
    Path(method): Path<String>,
    request: Request,
) -> HttpResponse {
    let origin = browser::request_origin(request.headers()).map(str::to_string);
    let mut allowed = false;
    let mut response = call(state, method, request, origin.as_deref(), &mut allowed).await;
    browser::vary_origin(&mut response);
    if let (true, Some(origin)) = (allowed, &origin) {
        browser::allow_origin(&mut response, origin);
    }
    response
}

/// One call; `allowed` is set once a browser call's origin is found allowed (its answer
/// then carries the CORS headers, refusals included, so the page can read them).
async fn call(
    state: Arc<State>,
    method: String,
    request: Request,
    origin: Option<&str>,
    allowed: &mut bool,
) -> HttpResponse {
    let started = Instant::now();
    if request.method() == Method::HEAD {
        // Calls change state: only GET and POST run them.
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let (parts, body) = request.into_parts();
    let Some(conn) = parts.extensions.get::<Conn>().copied() else {
        let e = RestError::kind(ErrorKind::Internal, "Internal error");
        return refuse(&Output::default(), &e, None, &method, started);
    };
    let ip = conn.peer.ip();
    // Every refusal before the site's credentials are proven is the caller's to pay.
    let failed = |out: &Output, e: &RestError, ctx: Option<serde_json::Value>| {
        state.addresses.charge(ip);
        refuse(out, e, ctx, &method, started)
    };
    // Refused before the body is read: HTTP/1 cannot reuse the connection (hyper closes
    // it), so the client is told, or it sends its next request into a closing socket.
    let http1 = parts.version < Version::HTTP_2;
    let unread = |mut response: HttpResponse| {
        if http1 {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    };

    // Query first: even when the body is refused, its output options apply.
    let mut p = match params::from_query(&parts) {
        Ok(p) => p,
        Err(e) => return unread(failed(&Output::default(), &e, None)),
    };
    let query_output = Output::from_params(&p).unwrap_or_else(|(out, _)| out);
    // The SDK names its site in the query: refusals from here on reach an allowed page.
    *allowed = origin.is_some_and(|o| browser::query_site_allows(&state, p.get("apiKey"), o));
    if !state.addresses.has_room(ip) {
        metrics::rate_limited(Budget::Address);
        let e = RestError::rate_limited(&format!(
            "More than {} unauthenticated or failed requests per minute from this address",
            state.addresses.per_minute()
        ));
        return unread(refuse(&query_output, &e, p.context(), &method, started));
    }
    let start = match params::read_start(&parts, body, &state.body_budget).await {
        Ok(s) => s,
        Err(e) => return unread(failed(&query_output, &e, p.context())),
    };
    // Output options from the first bytes too: refusals before the rest is read use them.
    let early_output =
        Output::from_lookup(|n| p.get(n).map(str::to_string).or_else(|| start.find(n)))
            .unwrap_or_else(|(out, _)| out);
    let early_context = p
        .context()
        .or_else(|| start.find("context").map(serde_json::Value::from));
    let body_key = start.find("apiKey");
    let site = match auth::resolve_site(&state, p.get("apiKey").or(body_key.as_deref())) {
        Ok(site) => site,
        Err(_) if p.get("apiKey").is_none() && body_key.is_none() && start.beyond_prefix() => {
            let e = RestError::invalid_api_key(
                "Missing parameter: apiKey (in the query string or the first 64 KiB of the body)",
            );
            return unread(failed(&early_output, &e, early_context.clone()));
        }
        Err(e) => return unread(failed(&early_output, &e, early_context.clone())),
    };
    // A page of an origin the site does not allow gets nothing done, and no CORS headers.
    if let Some(origin) = origin {
        if !browser::allows(&state, &site, origin) {
            return unread(failed(
                &early_output,
                &browser::origin_refused(),
                early_context,
            ));
        }
        *allowed = true;
    }
    // Checked, not taken: only a call that proves the site's credentials spends it.
    if !site.rate.has_room() {
        metrics::rate_limited(Budget::Site);
        return unread(failed(
            &early_output,
            &site_rate_limited(&site),
            early_context,
        ));
    }
    let (_held, photo) =
        match params::read_rest(&mut p, start, site.body_cap, &state.body_budget).await {
            Ok(read) => read,
            Err(e) => return unread(failed(&early_output, &e, early_context.clone())),
        };
    let output = match Output::from_params(&p) {
        Ok(o) => o,
        Err((out, e)) => return failed(&out, &e, p.context()),
    };
    // A signature covers the parameters, not a file part: signed uploads send photoBytes.
    if photo.is_some() && p.get("sig").is_some() {
        let e = RestError::kind(
            ErrorKind::InvalidParameter,
            "A signed request sends the photo as photoBytes (a multipart file is not signed)",
        );
        return failed(&output, &e, p.context());
    }
    let info = RequestInfo {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
        peer: conn.peer,
        tls: conn.tls,
        forwarded: conn.forwarded,
        api_method: &method,
        browser: origin.is_some(),
    };
    let (charged, budget) = match auth::authenticate(&state, &site, &info, &p) {
        Ok(Caller::Site) => (site.rate.allow(), Budget::Site),
        Ok(Caller::Token) => (state.addresses.charge(ip), Budget::Address),
        Err(e) => return failed(&output, &e, p.context()),
    };
    if !charged {
        metrics::rate_limited(budget);
        let e = site_rate_limited(&site);
        return refuse(&output, &e, p.context(), &method, started);
    }

    // The call runs in its own task: a caller hanging up does not cut an import short.
    let core_params = p.for_core();
    let client = site.client.clone();
    let call_method = method.clone();
    let task = tokio::spawn(async move {
        client
            .call_with_photo(&call_method, &core_params, photo)
            .await
    });
    let envelope = match task.await {
        Ok(response) => response.envelope(),
        Err(_) => RestError::kind(ErrorKind::Internal, "Internal error").envelope(p.context()),
    };
    answered(Some(&site), &method, &envelope, started, "call");
    output.render(&envelope)
}

/// Every answer of `/<method>`: one log event and its metrics. Only the call's identity,
/// outcome and duration: never parameters, credentials, tokens or URLs.
fn answered(
    site: Option<&Site>,
    method: &str,
    envelope: &Envelope,
    started: Instant,
    what: &'static str,
) {
    let seconds = started.elapsed().as_secs_f64();
    let method = metrics::method_label(method);
    let code = envelope.error_code();
    metrics::call(&method, code, seconds);
    tracing::info!(
        callId = envelope.call_id(),
        site = site.map(|s| s.name.as_str()),
        apiKey = site.map(|s| s.api_key.as_str()),
        method = %method,
        errorCode = code,
        durationMs = (seconds * 1e6).round() / 1e3,
        "{what}"
    );
}

fn site_rate_limited(site: &Site) -> RestError {
    RestError::rate_limited(&format!(
        "More than {} requests per minute for this apiKey",
        site.rate.per_minute()
    ))
}

/// A refusal before the core: logged by code only (never parameters or credentials).
fn refuse(
    output: &Output,
    e: &RestError,
    context: Option<serde_json::Value>,
    method: &str,
    started: Instant,
) -> HttpResponse {
    let envelope = e.envelope(context);
    answered(None, method, &envelope, started, "refused");
    output.render(&envelope)
}

/// How long a cache may keep a photo without asking again. Keys are content hashes, so the
/// bytes never change, but a removed photo must stop being served: a CDN drops it within
/// this time (the server itself refuses it at once).
const PHOTO_CACHE_CONTROL: &str = "public, max-age=300";

/// `GET /photos/<site>/<key>`: keys are the core's content hashes (64 hex digits and
/// `.jpg` or `.png`), so anything else is 404 and no path can leave the blob folder. A key
/// no account points at any more (removed or replaced photos) is 404 too, although its
/// blob stays until purge.
pub(crate) async fn photo(
    AxumState(state): AxumState<Arc<State>>,
    Path((site, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> HttpResponse {
    let Some(content_type) = photo_type(&key) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(site) = state.by_name.get(&site) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let Some(dir) = site.photo_dir.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    match site.client.is_served_key(&key).await {
        Ok(true) => {}
        Ok(false) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => {
            tracing::error!(site = %site.name, error = %e, "cannot look a photo up");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    let etag = format!("\"{}\"", &key[..64]);
    let bytes = match tokio::fs::read(dir.join(&key)).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return StatusCode::NOT_FOUND.into_response()
        }
        Err(e) => {
            tracing::error!(site = %site.name, error = %e, "cannot read a photo");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    super::reply::cacheable(
        &headers,
        || Body::from(bytes),
        content_type,
        PHOTO_CACHE_CONTROL,
        &etag,
    )
}

/// The Content-Type of a blob key, or `None` when it is not one of ours.
pub(crate) fn photo_type(key: &str) -> Option<&'static str> {
    let (hash, ext) = key.split_once('.')?;
    if hash.len() != 64 || !hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    OutputFormat::from_extension(ext).map(OutputFormat::content_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_keys_are_photos() {
        let h = "0123456789abcdef".repeat(4);
        assert_eq!(photo_type(&format!("{h}.jpg")), Some("image/jpeg"));
        assert_eq!(photo_type(&format!("{h}.png")), Some("image/png"));
        for bad in [
            format!("{h}.gif"),
            format!("{h}.jpg.png"),
            format!("{}.jpg", h.to_uppercase()),
            format!("../{}.jpg", &h[3..]),
            "..%2fsecret.key".to_string(),
            "secret.key".to_string(),
            h.clone(),
        ] {
            assert_eq!(photo_type(&bad), None, "{bad}");
        }
    }
}
