//! `avatarium._native`: the compiled half of the `avatarium` Python package.
//!
//! Thin by design (STYLE.md §2): every file converts between Python and one part of the
//! core — `api.rs` (the client), `types.rs` (typed results), `render.rs` (responses), `batch.rs` (batch import), `config.rs` (settings),
//! `envelope.rs` (JSON values), `error.rs` (exceptions) — and `runtime.rs` owns the one
//! tokio runtime (§9, §10). The pure-Python layer (`python/avatarium/`) adds the
//! `client.accounts` namespace, keyword settings and the `async def` wrappers.

use pyo3::prelude::*;

mod api;
mod batch;
mod config;
mod envelope;
mod error;
mod render;
mod runtime;
mod types;

/// Module init does logging only (§18): `AVATARIUM_LOG=debug` (a tracing filter) turns on
/// the core's logs on stderr. No runtime and no I/O start here.
fn init_logging() {
    if let Ok(filter) = std::env::var("AVATARIUM_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .try_init();
    }
}

#[pymodule(gil_used = false)]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    init_logging();
    m.add("__version__", avatarium::VERSION)?;
    m.add_class::<api::Client>()?;
    m.add_class::<batch::Batch>()?;
    m.add_class::<batch::RowResult>()?;
    m.add_class::<batch::BatchProgress>()?;
    m.add_class::<types::ImportResult>()?;
    m.add_class::<types::PhotoUrls>()?;
    m.add_class::<types::Rendition>()?;
    m.add_class::<types::AccountInfo>()?;
    m.add_class::<types::Registration>()?;
    m.add_class::<types::Policies>()?;
    m.add_class::<types::PurgeReport>()?;
    error::register(m)?;
    m.add_function(wrap_pyfunction!(runtime::_shutdown, m)?)?;
    Ok(())
}
