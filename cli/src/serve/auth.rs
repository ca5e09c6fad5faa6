//! Who may call: Gigya's three ways (SPEC.md "REST endpoint").
//! - `apiKey` + `secret` (or `userKey` + `secret`), only over HTTPS (403006 otherwise, unless
//!   the operator allowed loopback plain HTTP); wrong secret 403010.
//! - A signed request: `timestamp` (±120 s, 403002), `nonce` (once, 403004) and `sig`
//!   (403003), keyed by the site's or the user key's secret.
//! - `apiKey` alone for the client-facing calls that carry a `regToken`, or a login
//!   session's `login_token` (the Web SDK), without a `UID`; and with nothing more for
//!   the methods the core's table opens to anyone holding the public apiKey
//!   (`initRegistration`).
//!
//! A browser call (one with an `Origin` header, already checked against the site's
//! `allowed_origins` by the handler) may only use the last way: a `secret`, `sig`,
//! `userKey` or `UID` from a page is refused with 403007, nothing done.
//!
//! The site (`apiKey`) is resolved before the body is read (`resolve_site`: unknown →
//! 400093). Budgets (403048) are charged by the handler: the site's only once its
//! credentials were checked here, so strangers holding the public apiKey cannot spend it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{header, HeaderMap, Method, Uri};
use subtle::ConstantTimeEq;

use super::error::RestError;
use super::params::Params;
use super::sign;
use super::{Site, State};

/// Seconds a signed request's `timestamp` may be away from the server's clock.
pub(crate) const WINDOW_SECS: i64 = 120;

/// The parts of the request authentication looks at.
pub(crate) struct RequestInfo<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub peer: SocketAddr,
    pub tls: bool,
    /// Through a trusted proxy (`Conn::forwarded`).
    pub forwarded: bool,
    /// The API method, from the path.
    pub api_method: &'a str,
    /// The request came from a web page (it has an `Origin` header).
    pub browser: bool,
}

/// How a request proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caller {
    /// The site's or a user key's secret, sent or used to sign: charged to the site.
    Site,
    /// Only the apiKey, with a regToken or a session token that the core checks later,
    /// or alone for a public method: charged to the caller's address, like any call not
    /// proven by a secret.
    Token,
}

/// The site of `api_key` (from the query or the first bytes of the body).
pub(crate) fn resolve_site(state: &State, api_key: Option<&str>) -> Result<Arc<Site>, RestError> {
    let api_key = api_key.ok_or_else(|| RestError::invalid_api_key("Missing parameter: apiKey"))?;
    state
        .sites
        .get(api_key)
        .cloned()
        .ok_or_else(|| RestError::invalid_api_key("Unknown apiKey"))
}

/// Checks the credentials of a request for `site` (whose apiKey `p` holds).
pub(crate) fn authenticate(
    state: &State,
    site: &Site,
    req: &RequestInfo<'_>,
    p: &Params,
) -> Result<Caller, RestError> {
    if req.browser {
        if ["secret", "sig", "userKey"]
            .iter()
            .any(|n| p.get(n).is_some())
        {
            return Err(RestError::permission_denied(
                "A browser call may not carry a secret, a signature or a userKey",
            ));
        }
        if p.get("UID").is_some() {
            return Err(RestError::permission_denied(
                "UID is not accepted from a browser: the session (login_token) names the user",
            ));
        }
    }
    let secure = req.tls
        || (state.allow_loopback_plain_http
            && !req.forwarded
            && req.peer.ip().to_canonical().is_loopback());
    if p.get("secret").is_some() && !secure {
        return Err(RestError::secret_over_http());
    }
    let user_key = p.get("userKey");
    let key = match user_key {
        Some(uk) => site.user_key_secret(uk),
        None => Some(site.secret()),
    };

    if let Some(sig) = p.get("sig") {
        verify_signed(state, req, p, key, sig)?;
        // The site's own table: only the credential within the site tells nonces apart.
        let credential = user_key.unwrap_or("");
        let nonce = p.get("nonce").unwrap_or("");
        let ts = timestamp(p)?;
        return match site.nonces.check_and_insert(
            credential,
            nonce,
            ts + WINDOW_SECS + 1,
            now_secs(),
        ) {
            Ok(()) => Ok(Caller::Site),
            Err(super::limits::NonceError::Reused) => Err(RestError::nonce_reused()),
            Err(super::limits::NonceError::Full) => Err(RestError::rate_limited(
                "Too many signed requests within the timestamp window",
            )),
        };
    }

    if let Some(secret) = p.get("secret") {
        let equal = match (key, super::sites::decode_secret(secret)) {
            (Some(k), Some(given)) => bool::from(k.ct_eq(&given)),
            _ => false,
        };
        return if equal {
            Ok(Caller::Site)
        } else {
            Err(RestError::invalid_secret())
        };
    }

    // Who may call what is the core's method table; REST only checks it.
    if let (Some(access), None) = (
        avatarium::Method::from_name(req.api_method).map(|m| m.access()),
        p.get("UID"),
    ) {
        let reg_token = access.reg_token && p.get("regToken").is_some();
        let session = access.session && p.get(avatarium::SESSION_PARAM).is_some();
        if reg_token || session || access.public_api_key {
            return Ok(Caller::Token);
        }
    }
    if req.browser {
        return Err(RestError::missing(
            "regToken or login_token (the session cookie's value)",
        ));
    }
    Err(RestError::missing(
        "secret (or a signed request with timestamp, nonce and sig)",
    ))
}

fn verify_signed(
    state: &State,
    req: &RequestInfo<'_>,
    p: &Params,
    key: Option<&[u8]>,
    sig: &str,
) -> Result<(), RestError> {
    let ts = timestamp(p)?;
    let skew = i128::from(now_secs()) - i128::from(ts);
    if skew.abs() > i128::from(WINDOW_SECS) {
        return Err(RestError::expired(&format!(
            "The timestamp is more than {WINDOW_SECS} seconds away from the server's clock"
        )));
    }
    let nonce = p.get("nonce").ok_or_else(|| RestError::missing("nonce"))?;
    if nonce.len() > 256 {
        return Err(RestError::invalid("nonce", "longer than 256 characters"));
    }
    let Some(key) = key else {
        return Err(RestError::bad_signature());
    };
    let params: Vec<(&str, &str)> = p
        .pairs()
        .iter()
        .filter(|(k, _)| k != "sig")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let valid = candidate_urls(state, req).iter().any(|url| {
        let base = sign::base_string(req.method.as_str(), url, params.iter().copied());
        sign::verify(key, &base, sig)
    });
    if valid {
        Ok(())
    } else {
        Err(RestError::bad_signature())
    }
}

/// The URL the caller signed: as this server received it, and as the operator's public
/// URL names it (a TLS-terminating proxy in front changes scheme and host).
fn candidate_urls(state: &State, req: &RequestInfo<'_>) -> Vec<String> {
    let path = req.uri.path();
    let authority = req
        .uri
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            req.headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_default();
    let scheme = if req.tls { "https" } else { "http" };
    let mut urls = vec![sign::normalised_url(scheme, &authority, path)];
    if let Some((scheme, authority)) = state
        .public_url
        .as_deref()
        .and_then(|u| u.split_once("://"))
    {
        let url = sign::normalised_url(scheme, authority.trim_end_matches('/'), path);
        if !urls.contains(&url) {
            urls.push(url);
        }
    }
    urls
}

/// Past this, a `timestamp` is in milliseconds: as seconds it would be after the year 5000,
/// as milliseconds it is any time after March 1973.
const MILLISECONDS_FROM: i64 = 100_000_000_000;

/// The request's `timestamp` in seconds. Gigya's REST takes seconds, but SAP's JS and npm
/// SDKs send `Date.now()` milliseconds; both are read, for the window and the nonce memory.
fn timestamp(p: &Params) -> Result<i64, RestError> {
    let ts = p
        .get("timestamp")
        .ok_or_else(|| RestError::missing("timestamp"))?
        .trim()
        .parse::<i64>()
        .map_err(|_| RestError::expired("The timestamp is not a number of seconds"))?;
    Ok(if ts.abs() >= MILLISECONDS_FROM {
        ts.div_euclid(1000)
    } else {
        ts
    })
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
