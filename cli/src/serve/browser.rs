//! Browsers: which pages may call (a request with an `Origin` header is a browser call,
//! allowed only from the site's `allowed_origins`), CORS headers (the page's own origin,
//! never `*`), the preflight, the SDK script and its typings, and the demo page.
//! Authentication of browser calls is auth.rs's; the refusal codes are documented in
//! docs/rest.md ("Browser").

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::State as AxumState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response as HttpResponse};
use sha2::{Digest, Sha256};

use super::error::RestError;
use super::{Conn, Site, State};

/// How long a preflight answer may be reused by the browser.
const PREFLIGHT_MAX_AGE: &str = "600";
/// The SDK changes only with the server binary: an hour, then a revalidation (ETag).
const SDK_CACHE_CONTROL: &str = "public, max-age=3600";

const SDK_JS: &str = include_str!("sdk/sdk.js");
const SDK_TYPES: &str = include_str!("sdk/sdk.d.ts");
const DEMO_HTML: &str = include_str!("sdk/demo.html");

/// `scheme://host[:port]` of a URL, serialised as a browser sends it as `Origin`
/// (lower case, no default port).
pub(crate) fn origin_of_url(url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    match lower.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            let origin = format!("{scheme}://{host}");
            super::origins::serialise(&origin).unwrap_or(origin)
        }
        None => lower,
    }
}

/// The `Origin` of a browser call; `None` for server code (which sends none).
pub(crate) fn request_origin(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ORIGIN)
        .map(|v| v.to_str().unwrap_or("null"))
}

/// Whether a page of `origin` may call `site`: one of its `allowed_origins`, or this
/// server's own pages (the demo) when the site has `demo = true`.
pub(crate) fn allows(state: &State, site: &Site, origin: &str) -> bool {
    site.origins.allows(origin)
        || (site.demo && super::origins::serialise(origin).is_some_and(|o| o == state.own_origin))
}

/// Whether the site the query's `apiKey` names allows `origin`: known before the address
/// budget or the body are looked at, so that those refusals reach an allowed page as an
/// envelope (CORS headers), not as a network error. An unknown apiKey has no site and so
/// no allowed origins: its refusal carries no CORS headers.
pub(crate) fn query_site_allows(state: &State, api_key: Option<&str>, origin: &str) -> bool {
    api_key
        .and_then(|k| state.sites.get(k))
        .is_some_and(|site| allows(state, site, origin))
}

/// 403007: the page's origin is not one the site allows. Nothing was done.
pub(crate) fn origin_refused() -> RestError {
    RestError::permission_denied(
        "This page's origin is not in the site's allowed_origins: nothing was done",
    )
}

/// The CORS headers of an answer to a page of `origin` (already checked).
pub(crate) fn allow_origin(response: &mut HttpResponse, origin: &str) {
    if let Ok(v) = HeaderValue::from_str(origin) {
        response
            .headers_mut()
            .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
}

/// Every API answer depends on the caller's `Origin` (CORS headers or a refusal): shared
/// caches must keep one copy per origin.
pub(crate) fn vary_origin(response: &mut HttpResponse) {
    response
        .headers_mut()
        .insert(header::VARY, HeaderValue::from_static("Origin"));
}

/// The `apiKey` of the query string (the form parser's caps apply).
fn query_api_key(uri: &Uri) -> Option<String> {
    let mut pairs = super::form::Pairs::default();
    pairs.parse(uri.query()?.as_bytes()).ok()?;
    pairs.get("apiKey").map(str::to_string)
}

/// `OPTIONS /<method>?apiKey=…`: the preflight of a browser call. Allowed origins get
/// exactly their own origin back; anything else 403 without CORS headers, so the browser
/// never sends the call.
pub(crate) async fn preflight(
    AxumState(state): AxumState<Arc<State>>,
    uri: Uri,
    headers: HeaderMap,
) -> HttpResponse {
    let api_key = query_api_key(&uri);
    let site = api_key.as_deref().and_then(|k| state.sites.get(k));
    let origin = request_origin(&headers);
    let mut response = match (site, origin) {
        (Some(site), Some(origin)) if allows(&state, site, origin) => {
            let mut r = StatusCode::NO_CONTENT.into_response();
            allow_origin(&mut r, origin);
            let h = r.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, POST"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("Content-Type"),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(PREFLIGHT_MAX_AGE),
            );
            r
        }
        _ => StatusCode::FORBIDDEN.into_response(),
    };
    vary_origin(&mut response);
    response
}

/// `GET /sdk.js?apiKey=…`: the Web SDK (it reads its apiKey from its own URL).
pub(crate) async fn sdk_js(headers: HeaderMap) -> HttpResponse {
    static ETAG: OnceLock<String> = OnceLock::new();
    asset(&headers, SDK_JS, "text/javascript; charset=utf-8", &ETAG)
}

/// `GET /sdk.d.ts`: the SDK's TypeScript typings.
pub(crate) async fn sdk_types(headers: HeaderMap) -> HttpResponse {
    static ETAG: OnceLock<String> = OnceLock::new();
    asset(&headers, SDK_TYPES, "text/plain; charset=utf-8", &ETAG)
}

/// A static text with a content-hash ETag and a cache lifetime; 304 on a match.
fn asset(
    headers: &HeaderMap,
    text: &'static str,
    content_type: &'static str,
    etag: &'static OnceLock<String>,
) -> HttpResponse {
    let etag = etag.get_or_init(|| {
        format!(
            "\"{}\"",
            &hex::encode(Sha256::digest(text.as_bytes()))[..32]
        )
    });
    super::reply::cacheable(
        headers,
        || Body::from(text),
        content_type,
        SDK_CACHE_CONTROL,
        etag,
    )
}

/// `GET /demo?apiKey=…` for a site with `demo = true` (404 otherwise): the SDK on a page
/// of this server, with a fresh registration's regToken minted here, so no site backend
/// is needed. Each visit writes an account: charged to the caller's address budget (429
/// when spent).
pub(crate) async fn demo(
    AxumState(state): AxumState<Arc<State>>,
    request: axum::extract::Request,
) -> HttpResponse {
    let Some(conn) = request.extensions().get::<Conn>().copied() else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    if !state.addresses.charge(conn.peer.ip()) {
        return StatusCode::TOO_MANY_REQUESTS.into_response();
    }
    let api_key = query_api_key(request.uri());
    let Some((api_key, site)) = api_key
        .as_deref()
        .and_then(|k| state.sites.get_key_value(k))
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if !site.demo {
        return StatusCode::NOT_FOUND.into_response();
    }
    let registration = match site.client.init_registration().await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(site = %site.name, error = %e, "demo: no registration");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let config = serde_json::json!({ "apiKey": api_key, "regToken": registration.reg_token });
    // JSON inside <script>: `<` escaped so no value can close the element.
    let config = config.to_string().replace('<', "\\u003c");
    let page = DEMO_HTML
        .replace("{{CONFIG}}", &config)
        .replace("{{API_KEY_URL}}", &url_encode(api_key));
    let mut response = page.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Each visit is a new registration: never cached.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_of_urls() {
        assert_eq!(
            origin_of_url("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            origin_of_url("HTTPS://Photos.Example.com/base/"),
            "https://photos.example.com"
        );
        assert_eq!(
            origin_of_url("https://photos.example.com:443/base/"),
            "https://photos.example.com"
        );
        assert_eq!(url_encode("3_a b&c"), "3_a%20b%26c");
    }

    #[test]
    fn the_sdk_stays_small() {
        assert!(SDK_JS.len() < 15 * 1024, "{} bytes", SDK_JS.len());
    }
}
