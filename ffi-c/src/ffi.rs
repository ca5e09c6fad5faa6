//! Checked conversions of C arguments (the model is rustls-ffi's `try_ref_from_ptr!`
//! family): NULL gives `AVATARIUM_STATUS_NULL_ARGUMENT`, never a crash.

use std::ffi::{c_char, CStr};

use serde_json::Value;

// Kept in the leaf cstring.rs, so that error.rs can use it without importing this file.
pub(crate) use crate::cstring::c_string;
use crate::error::{avatarium_status, Failure};

/// A required string argument.
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn str_arg<'a>(ptr: *const c_char, name: &str) -> Result<&'a str, Failure> {
    // SAFETY: forwarded to the caller.
    unsafe { opt_str_arg(ptr, name) }?.ok_or_else(|| Failure::null(name))
}

/// An optional string argument (NULL is `None`).
///
/// # Safety
/// `ptr` is NULL or a NUL-terminated string that stays valid for `'a`.
pub(crate) unsafe fn opt_str_arg<'a>(
    ptr: *const c_char,
    name: &str,
) -> Result<Option<&'a str>, Failure> {
    if ptr.is_null() {
        return Ok(None);
    }
    // SAFETY: not NULL; NUL-terminated per the caller's contract.
    let text = unsafe { CStr::from_ptr(ptr) };
    text.to_str().map(Some).map_err(|e| {
        Failure::new(
            avatarium_status::InvalidUtf8,
            format!("{name} is not valid UTF-8: {e}"),
        )
    })
}

/// A JSON document argument; NULL, "" or only whitespace is `Value::Null`.
///
/// # Safety
/// As [`opt_str_arg`].
pub(crate) unsafe fn json_arg(ptr: *const c_char, name: &str) -> Result<Value, Failure> {
    // SAFETY: forwarded to the caller.
    let Some(text) = unsafe { opt_str_arg(ptr, name) }? else {
        return Ok(Value::Null);
    };
    if text.trim().is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_str(text).map_err(|e| {
        Failure::new(
            avatarium_status::InvalidJson,
            format!("{name} is not valid JSON: {e}"),
        )
    })
}

/// A byte buffer argument `(ptr, len)`; `ptr` may be NULL only when `len` is 0.
///
/// # Safety
/// `ptr` is NULL or points at `len` readable bytes valid for `'a`.
pub(crate) unsafe fn bytes_arg<'a>(
    ptr: *const u8,
    len: usize,
    name: &str,
) -> Result<&'a [u8], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::null(name));
    }
    // SAFETY: not NULL, `len` readable bytes per the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A required reference argument.
///
/// # Safety
/// `ptr` is NULL or points at a live `T` for `'a`.
pub(crate) unsafe fn ref_arg<'a, T>(ptr: *const T, name: &str) -> Result<&'a T, Failure> {
    // SAFETY: forwarded to the caller.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(name))
}

/// An out-parameter `T **out`: checked, and set to NULL at once so that every failure
/// leaves NULL behind.
///
/// # Safety
/// `out` is NULL or points at writable storage for one pointer.
pub(crate) unsafe fn out_arg<'a, T>(
    out: *mut *mut T,
    name: &str,
) -> Result<&'a mut *mut T, Failure> {
    // SAFETY: forwarded to the caller.
    let slot = unsafe { out.as_mut() }.ok_or_else(|| Failure::null(name))?;
    *slot = std::ptr::null_mut();
    Ok(slot)
}
