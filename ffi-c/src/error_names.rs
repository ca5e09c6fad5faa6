//! `avatarium_error_code_name`: the stable names of the envelope's error codes, taken
//! from the core's `ErrorKind` (never a table of our own).

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use avatarium_core::ErrorKind;

use crate::cstring::c_string;
use crate::panic::pointer_boundary;

/// The stable SCREAMING_SNAKE name of an envelope's `errorCode` (400002 ->
/// "MISSING_PARAMETER", 504002 -> "TIMEOUT", 503001 -> "BUSY", ...), the same string the
/// Python and Node bindings use. NULL for 0 and for codes this library never returns.
/// The string is static: never free it.
#[no_mangle]
pub extern "C" fn avatarium_error_code_name(error_code: u32) -> *const c_char {
    pointer_boundary(|| {
        static NAMES: OnceLock<Vec<(u32, CString)>> = OnceLock::new();
        let names = NAMES.get_or_init(|| {
            ErrorKind::ALL
                .iter()
                .map(|k| (k.error_code(), c_string(k.code().to_string())))
                .collect()
        });
        names
            .iter()
            .find(|(code, _)| *code == error_code)
            .map_or(std::ptr::null(), |(_, name)| name.as_ptr())
    })
}
