//! What goes back: the core's envelope as JSON or JSONP, with HTTP 200 or, when the caller
//! asks with `httpStatusCodes=true`, the envelope's `statusCode`. REST-level refusals
//! (authentication, rate limit, body cap) use the same envelope, built by the core's
//! `Response::error`.

use avatarium::{Envelope, ErrorKind};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use serde_json::Value;

use super::params::Params;

/// A refusal before the core is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RestError {
    pub code: u32,
    pub status: u16,
    pub message: &'static str,
    pub details: String,
}

impl RestError {
    fn new(code: u32, status: u16, message: &'static str, details: impl Into<String>) -> Self {
        RestError {
            code,
            status,
            message,
            details: details.into(),
        }
    }

    /// One of the core's kinds (400002, 400006, 413004, ...), with its message and status.
    pub fn kind(kind: ErrorKind, details: impl Into<String>) -> Self {
        Self::new(
            kind.error_code(),
            kind.status_code(),
            kind.message(),
            details,
        )
    }

    /// A core error (the form parser's refusals): its kind and details.
    pub fn from_core(e: &avatarium::Error) -> Self {
        Self::kind(e.kind(), e.details())
    }

    pub fn missing(param: &str) -> Self {
        Self::kind(
            ErrorKind::MissingParameter,
            format!("Missing parameter: {param}"),
        )
    }

    pub fn invalid(param: &str, why: &str) -> Self {
        Self::kind(
            ErrorKind::InvalidParameter,
            format!("Invalid parameter {param}: {why}"),
        )
    }

    /// 400093: no such site.
    pub fn invalid_api_key(details: &str) -> Self {
        Self::new(400093, 400, "Invalid ApiKey parameter", details)
    }

    /// 403002: `timestamp` outside the window.
    pub fn expired(details: &str) -> Self {
        Self::new(403002, 403, "Request has expired", details)
    }

    /// 403003: the signature does not match.
    pub fn bad_signature() -> Self {
        Self::new(
            403003,
            403,
            "Invalid request signature",
            "The signature does not match the request",
        )
    }

    /// 403004: the nonce was used before, within the window.
    pub fn nonce_reused() -> Self {
        Self::new(
            403004,
            403,
            "Duplicate nonce",
            "This nonce was already used",
        )
    }

    /// 403006: a secret arrived over plain HTTP.
    pub fn secret_over_http() -> Self {
        Self::new(
            403006,
            403,
            "Secret Sent Over Http",
            "The secret must only be sent over HTTPS; use HTTPS or a signed request",
        )
    }

    /// 403010: the secret (or the user key) is wrong.
    pub fn invalid_secret() -> Self {
        Self::new(403010, 403, "Invalid secret", "Invalid secret or user key")
    }

    /// 403048: the site's request budget is spent.
    pub fn rate_limited(details: &str) -> Self {
        Self::new(403048, 403, "Api rate limit exceeded", details)
    }

    pub fn envelope(&self, context: Option<Value>) -> Envelope {
        Envelope::error(self.code, self.status, self.message, &self.details, context)
    }
}

impl From<avatarium::Error> for RestError {
    fn from(e: avatarium::Error) -> Self {
        Self::from_core(&e)
    }
}

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

    #[test]
    fn rest_errors_have_the_envelope_fields() {
        let e = RestError::rate_limited("slow down").envelope(Some(Value::from("ctx")));
        let v = e.into_value();
        assert_eq!(v["errorCode"], 403048);
        assert_eq!(v["statusCode"], 403);
        assert_eq!(v["statusReason"], "Forbidden");
        assert_eq!(v["context"], "ctx");
        assert_eq!(v["apiVersion"], 2);
        assert!(v["callId"].as_str().unwrap().len() == 32);
    }
}
