//! Node addon for avatarium: the native layer of the npm package `avatarium`.
//!
//! Thin by design (STYLE.md §2): every function takes JS values, converts them to core
//! types, calls one core function and converts back. Parameter parsing, validation and
//! error codes all live in the core; `index.js` adds the Gigya-style API on top.
//!
//! Async work runs on napi's tokio runtime, the one runtime of this addon (STYLE.md §9, §11);
//! the sync constructor uses `napi::bindgen_prelude::block_on` on that same runtime.

#![deny(clippy::all)]

mod api;
mod batch;
mod config;
mod error;

pub use api::{methods, MethodInfo, NativeClient, PendingCall};
pub use batch::{BatchCounts, BatchEvent, BatchSettings, NativeBatch};
pub use error::{error_kinds, ErrorKindInfo};

use napi_derive::napi;

/// Module init does logging only (STYLE.md §18): `AVATARIUM_LOG=debug` (any
/// `tracing` filter) sends the core's logs to stderr. No runtime, no I/O.
#[napi_derive::module_init]
fn init() {
    if let Ok(filter) = std::env::var("AVATARIUM_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .try_init();
    }
}

/// The version of the core this addon was built from.
#[napi]
pub fn version() -> String {
    avatarium::VERSION.to_string()
}
