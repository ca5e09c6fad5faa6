//! Operator settings from Python: keyword arguments named like SPEC.md's config keys, or a
//! TOML file, optionally overlaid with `AVATARIUM_<KEY>` environment variables. Parsing
//! and checking are the core's (`Config::from_value`, `from_toml_file`, `with_env`).

use std::path::PathBuf;

use avatarium::{Config, Error};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::envelope;

/// The settings, copied out of Python (so the rest runs without the GIL).
pub struct Settings {
    keywords: Option<serde_json::Value>,
    file: Option<PathBuf>,
    use_env: bool,
}

impl Settings {
    pub fn extract(
        settings: Option<&Bound<'_, PyDict>>,
        config_file: Option<PathBuf>,
        use_env: bool,
    ) -> PyResult<Self> {
        let keywords = match settings {
            Some(d) if !d.is_empty() => Some(envelope::to_json(d.as_any())?),
            _ => None,
        };
        if keywords.is_some() && config_file.is_some() {
            return Err(PyTypeError::new_err(
                "pass either config_file or keyword settings, not both \
                 (use_env=True overlays AVATARIUM_<KEY> variables on either)",
            ));
        }
        Ok(Settings {
            keywords,
            file: config_file,
            use_env,
        })
    }

    /// Open a core client on these settings (reading the config file, if any).
    pub async fn open(self) -> Result<avatarium::Client, Error> {
        avatarium::Client::open(self.into_config()?).await
    }

    fn into_config(self) -> Result<Config, Error> {
        let config = match (self.file, self.keywords) {
            (Some(path), _) => Config::from_toml_file(&path)?,
            (None, Some(keywords)) => Config::from_value(keywords)?,
            (None, None) => Config::default(),
        };
        if self.use_env {
            config.with_env()
        } else {
            Ok(config)
        }
    }
}
