//! Where the log goes and in which shape: stderr, filtered by `AVATARIUM_LOG` (default
//! `warn`), as text or as one JSON object per line. The shape comes from
//! `AVATARIUM_LOG_FORMAT`, else from `log_format` in `serve`'s configuration file, else text.

use std::path::Path;

use tracing_subscriber::EnvFilter;

/// The variable that picks the shape; it overrides the file, as every `AVATARIUM_<KEY>` does.
const FORMAT_VAR: &str = "AVATARIUM_LOG_FORMAT";
/// The configuration file's key (top level, beside `[[sites]]`).
pub(crate) const FORMAT_KEY: &str = "log_format";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err(format!("{FORMAT_KEY} must be \"text\" or \"json\"")),
        }
    }
}

/// The shape from the variable's value, else the configuration file's key, else text.
pub(crate) fn choose(var: Option<&str>, file_text: Option<&str>) -> Result<LogFormat, String> {
    if let Some(v) = var {
        return LogFormat::parse(v).map_err(|e| format!("{FORMAT_VAR}: {e}"));
    }
    let Some(text) = file_text else {
        return Ok(LogFormat::Text);
    };
    // Errors in the rest of the file are reported by whoever reads it next.
    let Ok(table) = toml::from_str::<toml::Table>(text) else {
        return Ok(LogFormat::Text);
    };
    match table.get(FORMAT_KEY) {
        None => Ok(LogFormat::Text),
        Some(toml::Value::String(s)) => LogFormat::parse(s),
        Some(_) => LogFormat::parse(""),
    }
}

/// The shape for this process: `config` is read only when it is `serve`'s.
pub(crate) fn format_for(config: Option<&Path>) -> Result<LogFormat, String> {
    let var = std::env::var(FORMAT_VAR).ok();
    let text = match (&var, config) {
        (None, Some(path)) => std::fs::read_to_string(path).ok(),
        _ => None,
    };
    choose(var.as_deref(), text.as_deref())
}

pub(crate) fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("AVATARIUM_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        // Each event's fields at the top level of its object, beside timestamp and level.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_variable_wins_then_the_file_then_text() {
        let file = "log_format = \"json\"\n[[sites]]\napi_key = \"k\"\n";
        assert_eq!(choose(None, Some(file)), Ok(LogFormat::Json));
        assert_eq!(choose(Some("text"), Some(file)), Ok(LogFormat::Text));
        assert_eq!(choose(Some("JSON"), None), Ok(LogFormat::Json));
        assert_eq!(choose(None, None), Ok(LogFormat::Text));
        assert_eq!(choose(None, Some("[[sites]]\n")), Ok(LogFormat::Text));
        assert!(choose(Some("yaml"), None).unwrap_err().contains(FORMAT_VAR));
        assert!(choose(None, Some("log_format = 1")).is_err());
        assert!(choose(None, Some("log_format = \"xml\"")).is_err());
    }
}
