//! Rust text to C strings: the one rule for text that cannot be one as it is. A leaf:
//! `error.rs` (the last-error message) and every returned string use it.

use std::ffi::CString;

/// A C string from Rust text; interior NULs (never produced by serde_json) become U+FFFD.
pub(crate) fn c_string(text: String) -> CString {
    CString::new(text).unwrap_or_else(|e| {
        let cleaned = String::from_utf8_lossy(&e.into_vec()).replace('\0', "\u{fffd}");
        CString::new(cleaned).unwrap_or_default()
    })
}
