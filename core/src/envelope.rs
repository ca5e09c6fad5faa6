//! The response envelope of SPEC.md: what goes on the wire, for every face.

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind};

/// One response envelope: `callId`, `errorCode`, `statusCode`, `statusReason`, `time`,
/// `apiVersion`, plus `errorMessage`/`errorDetails` on error, `context` when passed, and the
/// method's own fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope(Map<String, Value>);

impl Envelope {
    pub(crate) fn new(call_id: String, time: String, context: Option<Value>) -> Self {
        let mut m = Map::new();
        m.insert("callId".into(), Value::String(call_id));
        m.insert("errorCode".into(), Value::from(0));
        m.insert("statusCode".into(), Value::from(200));
        m.insert("statusReason".into(), Value::from("OK"));
        m.insert("time".into(), Value::String(time));
        m.insert("apiVersion".into(), Value::from(2));
        if let Some(ctx) = context {
            m.insert("context".into(), ctx);
        }
        Envelope(m)
    }

    /// An error envelope for a code outside [`ErrorKind`] (the REST endpoint's own
    /// authentication and rate-limit codes), with exactly the fields of an API error.
    pub fn error(
        error_code: u32,
        status_code: u16,
        message: &str,
        details: &str,
        context: Option<Value>,
    ) -> Envelope {
        use crate::clock::Clock;
        let now = crate::clock::SystemClock.now_ms();
        let mut r = Envelope::new(new_call_id(), format_time(now), context);
        r.0.insert("errorCode".into(), Value::from(error_code));
        r.0.insert("statusCode".into(), Value::from(status_code));
        r.0.insert(
            "statusReason".into(),
            Value::from(status_reason(status_code)),
        );
        r.0.insert("errorMessage".into(), Value::from(message));
        r.0.insert("errorDetails".into(), Value::from(details));
        r
    }

    pub(crate) fn set_error(&mut self, err: &Error) {
        let kind = err.kind();
        self.0
            .insert("errorCode".into(), Value::from(kind.error_code()));
        self.0
            .insert("statusCode".into(), Value::from(kind.status_code()));
        self.0.insert(
            "statusReason".into(),
            Value::from(status_reason(kind.status_code())),
        );
        self.0
            .insert("errorMessage".into(), Value::from(kind.message()));
        self.0
            .insert("errorDetails".into(), Value::from(err.details()));
    }

    pub(crate) fn extend(&mut self, fields: Map<String, Value>) {
        for (k, v) in fields {
            self.0.insert(k, v);
        }
    }

    /// Gigya's `errorCode`: 0 on success.
    pub fn error_code(&self) -> u32 {
        self.0
            .get("errorCode")
            .and_then(Value::as_u64)
            .and_then(|c| u32::try_from(c).ok())
            .unwrap_or(0)
    }

    pub fn status_code(&self) -> u16 {
        self.0
            .get("statusCode")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(200)
    }

    pub fn is_ok(&self) -> bool {
        self.error_code() == 0
    }

    /// The error kind when this is an error envelope.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        ErrorKind::from_error_code(self.error_code())
    }

    pub fn call_id(&self) -> &str {
        self.0.get("callId").and_then(Value::as_str).unwrap_or("")
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    pub fn into_value(self) -> Value {
        Value::Object(self.0)
    }

    /// The envelope as one JSON line.
    pub fn to_json(&self) -> String {
        Value::Object(self.0.clone()).to_string()
    }
}

impl From<Envelope> for Value {
    fn from(r: Envelope) -> Value {
        r.into_value()
    }
}

fn status_reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

/// A Gigya-style timestamp with milliseconds: `2026-11-27T10:42:25.943Z`.
pub(crate) fn format_time(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt).unwrap_or_default()
}

/// 32 hex characters of randomness.
pub(crate) fn new_call_id() -> String {
    let mut b = [0u8; 16];
    // A call id only needs to be unique; fall back to time if the OS RNG fails.
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        b = t.to_le_bytes();
    }
    hex::encode(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_constructor_has_the_api_error_fields() {
        let mut api = Envelope::new(new_call_id(), format_time(0), Some(Value::from("c")));
        api.set_error(&Error::missing("x"));
        let other = Envelope::error(403048, 403, "Rate limit", "d", Some(Value::from("c")));
        let keys = |r: &Envelope| r.as_map().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&api), keys(&other));
        assert_eq!(other.status_code(), 403);
        assert_eq!(other.get("statusReason"), Some(&Value::from("Forbidden")));
    }

    #[test]
    fn time_format() {
        assert_eq!(format_time(1_795_782_145_943), "2026-11-27T12:22:25.943Z");
        assert_eq!(format_time(5), "1970-01-01T00:00:00.005Z");
    }
}
