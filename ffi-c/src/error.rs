//! `avatarium_status` and the thread-local last-error message. API errors are never
//! statuses: they are born in core (`avatarium_core::ErrorKind`) and travel in the response
//! envelope; this file only maps core errors that happen before there is a client.
//!
//! A leaf: the files that report failures (`ffi.rs`, `panic.rs`, `client.rs`, …) import it,
//! and it imports none of them.

use std::cell::RefCell;
use std::ffi::{c_char, CString};

use avatarium_core::ErrorKind;

use crate::cstring::c_string;

/// What a library function reports about the call itself. An API error (an envelope with
/// `errorCode` != 0) is not a failure of the call: it comes with `AVATARIUM_STATUS_OK`.
///
/// The values are stable: a value never changes meaning, and retired values are never
/// reused. When a function returns anything but `AVATARIUM_STATUS_OK`, its out-parameters are
/// NULL and `avatarium_last_error_message()` says why.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum avatarium_status {
    /// Success.
    Ok = 0,
    /// A pointer argument that must not be NULL was NULL.
    NullArgument = 1,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 2,
    /// `config_json` or `params_json` is not valid JSON.
    InvalidJson = 3,
    /// The configuration was refused: an unknown key, a value of the wrong type or out of
    /// range (SPEC.md "Operator configuration").
    InvalidConfig = 4,
    /// The library failed: the runtime could not start, the stores could not be opened, ...
    Internal = 5,
    /// The library panicked (a bug); the call was abandoned without unwinding into C.
    Panic = 6,
}

/// A failed call: its status and the message `avatarium_last_error_message` will return.
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: avatarium_status,
    pub message: String,
}

impl Failure {
    pub fn new(status: avatarium_status, message: impl Into<String>) -> Self {
        Failure {
            status,
            message: message.into(),
        }
    }

    pub fn null(argument: &str) -> Self {
        Failure::new(
            avatarium_status::NullArgument,
            format!("{argument} is NULL"),
        )
    }

    /// A core error raised while opening a client: configuration errors are the caller's,
    /// everything else is ours. The whole cause chain goes into the message (it stays in
    /// the caller's process; envelopes never carry it).
    pub fn from_core(err: &avatarium_core::Error) -> Self {
        let status = match err.kind() {
            ErrorKind::MissingParameter | ErrorKind::InvalidParameter => {
                avatarium_status::InvalidConfig
            }
            _ => avatarium_status::Internal,
        };
        let mut message = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Failure::new(status, message)
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(crate) fn set_last_error(message: &str) {
    let text = c_string(message.to_string());
    LAST_ERROR.with(|e| *e.borrow_mut() = text);
}

pub(crate) fn clear_last_error() {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        if !e.as_bytes().is_empty() {
            *e = CString::default();
        }
    });
}

/// Why the last call on this thread failed: a NUL-terminated message, "" when the last
/// call succeeded. It is owned by the library (never free it) and valid until the next
/// `avatarium_` call on the same thread. It explains statuses (misuse, internal failures); API
/// errors are described by the envelope's `errorMessage` and `errorDetails`.
#[no_mangle]
pub extern "C" fn avatarium_last_error_message() -> *const c_char {
    // No panic boundary needed: nothing here can panic except a failed TLS access
    // during thread teardown, which `try_with` turns into "".
    LAST_ERROR
        .try_with(|e| e.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}
