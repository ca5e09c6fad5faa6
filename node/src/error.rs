//! Core errors → JS errors (STYLE.md §5).
//!
//! Sync functions throw a napi error whose status is the core's stable code, so `err.code`
//! is `"INVALID_PARAMETER"` etc. directly. Async functions can only reject with the default
//! status (napi-rs/napi-rs#1632, #2333), so they reject with the reason `"[CODE] details"`
//! and `index.js` lifts both forms into `ProfilePhotoError`.
//!
//! Errors of calls never come through here: the core answers them in the envelope.

use avatarium::{Error, ErrorKind};
use napi_derive::napi;

/// The rejection code of a call cancelled through its `AbortSignal` (not a core code:
/// `index.js` turns it into an `AbortError`).
pub const ABORTED: &str = "ABORTED";

/// A napi error status that is one of the core's SCREAMING_SNAKE codes.
pub struct Code(pub &'static str);

impl AsRef<str> for Code {
    fn as_ref(&self) -> &str {
        self.0
    }
}

/// The details plus the internal cause chain. Only used for opening a client, whose
/// caller is the operator (call errors go into envelopes, where causes are never shown).
fn describe(err: &Error) -> String {
    let mut text = err.details().to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// For sync functions: `err.code` is the core code.
pub fn thrown(err: Error) -> napi::Error<Code> {
    napi::Error::new(Code(err.code()), describe(&err))
}

/// For async functions: the reason carries the code as a `[CODE] ` prefix.
pub fn rejected(err: Error) -> napi::Error {
    reason(err.code(), &describe(&err))
}

pub fn reason(code: &str, details: &str) -> napi::Error {
    napi::Error::from_reason(format!("[{code}] {details}"))
}

/// One row of the core's error table.
#[napi(object)]
pub struct ErrorKindInfo {
    /// Stable SCREAMING_SNAKE name (`err.code`).
    pub code: String,
    /// Gigya `errorCode`, e.g. 400006.
    pub error_code: u32,
    /// HTTP status that goes with it, e.g. 400.
    pub status_code: u32,
    /// Gigya `errorMessage`, e.g. "Invalid parameter value".
    pub message: String,
}

/// Every error kind of the core (`ErrorKind::ALL`), for `index.js` to build
/// `ProfilePhotoError`s from codes without a table of its own.
#[napi]
pub fn error_kinds() -> Vec<ErrorKindInfo> {
    ErrorKind::ALL
        .iter()
        .map(|k| ErrorKindInfo {
            code: k.code().to_string(),
            error_code: k.error_code(),
            status_code: u32::from(k.status_code()),
            message: k.message().to_string(),
        })
        .collect()
}
