//! `RestError`: a refusal by the REST layer itself (authentication, rate limit, body cap,
//! a malformed form), before or instead of a core call. A leaf: it imports nothing from
//! the other files of `serve`, which all import it. Codes of the core's own kinds come
//! from the core's `ErrorKind`; the REST-only ones (400093, 403002, …) are Gigya's.

use avatarium::{Envelope, ErrorKind};
use serde_json::Value;

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

    /// 403007: the caller may not make this call this way (a browser page of an origin
    /// the site does not allow, a secret or a `UID` sent from a browser).
    pub fn permission_denied(details: &str) -> Self {
        Self::new(403007, 403, "Permission denied", details)
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

#[cfg(test)]
mod tests {
    use super::*;

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
