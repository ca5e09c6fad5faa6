//! Client options: JS object → JSON text (in `index.js`) → `avatarium::Config`.
//! The core maps camelCase keys and checks every value.

use avatarium::{Config, Error};

/// The options as JSON text (`JSON.stringify(options)`); empty text means defaults.
pub fn from_json_text(text: &str) -> Result<Config, Error> {
    if text.trim().is_empty() {
        return Ok(Config::default());
    }
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| Error::invalid("options", e))?;
    Config::from_value(value)
}
