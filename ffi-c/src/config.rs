//! `config_json` → `avatarium_core::Config`. The keys, defaults and checks are core's
//! (`Config::from_value`, which accepts snake_case and camelCase); this file only maps the
//! outcome to a status.

use std::ffi::c_char;

use avatarium_core::Config;

use crate::error::{avatarium_status, Failure};
use crate::ffi;

/// NULL, "" or `null` give the defaults of SPEC.md.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string.
pub(crate) unsafe fn from_c(config_json: *const c_char) -> Result<Config, Failure> {
    // SAFETY: forwarded to the caller.
    let value = unsafe { ffi::json_arg(config_json, "config_json") }?;
    Config::from_value(value).map_err(|e| {
        Failure::new(
            avatarium_status::InvalidConfig,
            format!("config_json: {}", e.details()),
        )
    })
}
