//! What goes back: the core's envelope as JSON or JSONP, with HTTP 200 or, when the caller
//! asks with `httpStatusCodes=true`, the envelope's `statusCode`. REST-level refusals
//! (authentication, rate limit, body cap) use the same envelope, built by the core's
//! `Envelope::error`.

use avatarium::Envelope;
use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};

use super::error::RestError;
use super::params::Params;

/// How the caller wants the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Output {
    /// `format=jsonp`: the validated callback name.
    pub callback: Option<String>,
    /// `httpStatusCodes=true`.
    pub http_status_codes: bool,
}

impl Output {
    /// `format`, `callback` and `httpStatusCodes`. On error, the output that still applies
    /// (plain JSON, with the status-code choice) comes back with the refusal.
    pub fn from_params(p: &Params) -> Result<Output, (Output, RestError)> {
        Self::from_lookup(|name| p.get(name).map(str::to_string))
    }

    /// The same from any source of parameters (the query and the first bytes of a body,
    /// before the whole body is read).
    pub fn from_lookup(
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Output, (Output, RestError)> {
        let mut out = Output {
            callback: None,
            http_status_codes: get("httpStatusCodes")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
        };
        match get("format").as_deref() {
            None => {}
            Some(f) if f.eq_ignore_ascii_case("json") => {}
            Some(f) if f.eq_ignore_ascii_case("jsonp") => match get("callback") {
                None => return Err((out, RestError::missing("callback"))),
                Some(cb) if valid_callback(&cb) => out.callback = Some(cb),
                Some(_) => {
                    return Err((
                        out,
                        RestError::invalid("callback", "not a JavaScript function name"),
                    ))
                }
            },
            Some(_) => return Err((out, RestError::invalid("format", "expected json or jsonp"))),
        }
        Ok(out)
    }

    pub fn render(&self, envelope: &Envelope) -> HttpResponse {
        let status = if self.http_status_codes {
            StatusCode::from_u16(envelope.status_code()).unwrap_or(StatusCode::OK)
        } else {
            StatusCode::OK
        };
        let json = envelope.to_json();
        let (body, content_type) = match &self.callback {
            // `/**/` first, as Gigya and every major JSONP API: the answer then never starts
            // with caller-chosen bytes, so it cannot be sniffed as another type (a Flash
            // file, Rosetta Flash). U+2028/2029 are valid in JSON strings but not in older
            // JavaScript source.
            Some(cb) => (
                format!(
                    "/**/{cb}({});",
                    json.replace('\u{2028}', "\\u2028")
                        .replace('\u{2029}', "\\u2029")
                ),
                "text/javascript; charset=utf-8",
            ),
            None => (json, "application/json; charset=utf-8"),
        };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }
}

/// A dotted JavaScript name (`cb`, `gigya.callback`, `$jq_1`), at most 128 characters:
/// nothing that could end the call expression and run other code.
pub(crate) fn valid_callback(name: &str) -> bool {
    let ident = |part: &str| {
        let mut bytes = part.bytes();
        bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'$')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
    };
    name.len() <= 128 && name.split('.').all(ident)
}

/// A cacheable file (a photo, the SDK) under a strong `etag`: 304 when the request's
/// `If-None-Match` names it (or `*`), else `body`; either way with its type, cache lifetime
/// and `nosniff`.
pub(crate) fn cacheable(
    request: &HeaderMap,
    body: impl FnOnce() -> Body,
    content_type: &'static str,
    cache_control: &'static str,
    etag: &str,
) -> HttpResponse {
    let not_modified = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, body()).into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_names() {
        for ok in ["cb", "gigya.callback", "$jq_1", "a.b.c", "_x9"] {
            assert!(valid_callback(ok), "{ok}");
        }
        for bad in [
            "",
            "1a",
            "a..b",
            "a.",
            "alert(1);x",
            "a b",
            "a-b",
            "a[0]",
            "x\u{2028}",
            &"a".repeat(129),
        ] {
            assert!(!valid_callback(bad), "{bad:?}");
        }
    }

    #[test]
    fn jsonp_starts_with_a_comment() {
        let out = Output {
            callback: Some("cb".into()),
            http_status_codes: false,
        };
        let r = out.render(&RestError::missing("x").envelope(None));
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        assert_eq!(
            r.headers()["content-type"],
            "text/javascript; charset=utf-8"
        );
    }
}
