//! Operator configuration: one document with the same keys everywhere (a TOML file,
//! `AVATARIUM_<KEY>` environment variables, the JSON given to the C client, Python
//! keyword arguments, Node options in camelCase).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The regToken scope of a client without `site_id` (CLI, C, Python, Node on one store).
pub const EMBEDDED_SITE: &str = "avatarium-embedded";

/// Every operator setting, with the defaults of SPEC.md.
#[derive(Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Home of the embedded default (SQLite file, blob folder, generated secret).
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: `avatarium.db` in `data_dir`.
    pub database_url: Option<String>,
    /// A folder path, `file://…`, or `s3://bucket?endpoint=…&region=…`; default: `blobs/` in `data_dir`.
    pub blob_store: Option<String>,
    /// Prefix of `photoURL` / `thumbnailURL`; default: the `file://` URL of the blob folder.
    pub public_base_url: Option<String>,
    /// regToken keys (any string; at least 16 bytes): the first signs, all verify.
    /// Default: one key generated once and kept in `data_dir/secret.key`.
    pub secrets: Vec<String>,
    pub max_photo_bytes: u64,
    pub max_pixels: u64,
    pub max_side: u32,
    /// Photos whose long side is more than this many times the short side are refused
    /// (THREATS.md T21: they make degenerate thumbnails).
    pub max_aspect_ratio: u32,
    pub photo_max_side: u32,
    pub jpeg_quality: u8,
    pub pending_ttl_secs: u64,
    pub reg_token_ttl_secs: u64,
    /// How long a login session (`accounts.notifyLogin`) lasts.
    pub session_ttl_secs: u64,
    pub fetch_connect_timeout_ms: u64,
    pub fetch_timeout_ms: u64,
    pub fetch_max_redirects: u32,
    pub fetch_allowed_ports: Vec<u16>,
    pub fetch_max_url_len: usize,
    /// Let the fetcher reach 127.0.0.0/8 and ::1.
    pub allow_loopback: bool,
    /// Let the fetcher reach private ranges (RFC 1918, ULA, CGNAT).
    pub allow_private: bool,
    /// Exactly these addresses are allowed although the deny table covers them (test
    /// harnesses: allow one loopback origin, keep the rest of loopback refused).
    pub allow_addresses: Vec<IpAddr>,
    /// Decoding a photo longer than this is abandoned with 504002 (CPU bombs).
    pub decode_timeout_ms: u64,
    /// Imports processed at once; default 2 × CPU cores.
    pub max_concurrent_imports: Option<usize>,
    /// Imports that may wait for a slot; beyond it calls fail fast (503001).
    pub max_queued_imports: Option<usize>,
    /// URL fetches in flight at once. Fetches have their own slots so that slow origins
    /// occupy only these, never a decode slot (an import takes its decode slot once the
    /// bytes are in hand).
    pub max_concurrent_fetches: usize,
    /// Fetches that may wait for a slot; beyond it calls fail fast (503001).
    pub max_queued_fetches: usize,
    /// The site this client serves: regTokens are signed for it and refused by any other
    /// site, even one sharing `secrets`. `serve` sets it to the site's apiKey; unset, a
    /// fixed scope shared by the embedded faces (CLI, C, Python, Node).
    pub site_id: Option<String>,
    /// Blobs younger than this are never purged, even when unreferenced: an import may
    /// have written its blobs and not yet committed the metadata that points at them.
    pub purge_grace_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("./avatarium-data"),
            database_url: None,
            blob_store: None,
            public_base_url: None,
            secrets: Vec::new(),
            max_photo_bytes: 6 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_side: 16384,
            max_aspect_ratio: 20,
            photo_max_side: 1024,
            jpeg_quality: 85,
            pending_ttl_secs: 24 * 3600,
            reg_token_ttl_secs: 3600,
            session_ttl_secs: 24 * 3600,
            fetch_connect_timeout_ms: 5000,
            fetch_timeout_ms: 10000,
            fetch_max_redirects: 5,
            fetch_allowed_ports: vec![80, 443],
            fetch_max_url_len: 2048,
            allow_loopback: false,
            allow_private: false,
            allow_addresses: Vec::new(),
            decode_timeout_ms: 10000,
            max_concurrent_imports: None,
            max_queued_imports: None,
            max_concurrent_fetches: 32,
            max_queued_fetches: 128,
            site_id: None,
            purge_grace_secs: 3600,
        }
    }
}

impl Config {
    /// A configuration from a JSON object (C client, Python kwargs, Node options after
    /// their camelCase names are mapped). Missing keys take their defaults.
    pub fn from_json(json: &str) -> Result<Config> {
        let trimmed = json.trim();
        if trimmed.is_empty() {
            return Ok(Config::default());
        }
        serde_json::from_str(trimmed).map_err(|e| Error::invalid("config", e))
    }

    /// A configuration from a JSON value (see [`Config::from_json`]); camelCase keys are
    /// accepted as well as snake_case.
    pub fn from_value(value: serde_json::Value) -> Result<Config> {
        let value = match value {
            serde_json::Value::Null => return Ok(Config::default()),
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.into_iter()
                    .map(|(k, v)| (camel_to_snake(&k), v))
                    .collect(),
            ),
            _ => return Err(Error::invalid("config", "expected an object")),
        };
        serde_json::from_value(value).map_err(|e| Error::invalid("config", e))
    }

    /// A configuration from a TOML document.
    pub fn from_toml(text: &str) -> Result<Config> {
        toml::from_str(text).map_err(|e| Error::invalid("config", e))
    }

    /// Read a TOML file.
    pub fn from_toml_file(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::invalid("config", format!("{}: {e}", path.display())))?;
        Self::from_toml(&text)
    }

    /// Overlay `AVATARIUM_<KEY>` environment variables (e.g. `AVATARIUM_DATA_DIR`,
    /// `AVATARIUM_ALLOW_LOOPBACK=true`, `AVATARIUM_SECRETS=k1,k2`).
    pub fn with_env(self) -> Result<Config> {
        self.with_vars(std::env::vars())
    }

    /// Overlay variables from an iterator (testable form of [`Config::with_env`]).
    pub fn with_vars(self, vars: impl IntoIterator<Item = (String, String)>) -> Result<Config> {
        let mut doc = serde_json::to_value(&self).map_err(Error::internal)?;
        let serde_json::Value::Object(map) = &mut doc else {
            return Err(Error::internal("config is not an object"));
        };
        for (name, raw) in vars {
            let Some(key) = name.strip_prefix("AVATARIUM_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            let Some(current) = map.get(&key) else {
                continue; // AVATARIUM_LOG and friends are not configuration keys
            };
            let value = env_value(current, &raw).ok_or_else(|| {
                Error::invalid("config", format!("AVATARIUM_{}", key.to_uppercase()))
            })?;
            map.insert(key, value);
        }
        serde_json::from_value(doc).map_err(|e| Error::invalid("config", e))
    }

    /// Check ranges that would make the service unsafe or unusable.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str| Err(Error::invalid("config", what.to_string()));
        if self.max_photo_bytes == 0 {
            return bad("max_photo_bytes must be positive");
        }
        if self.max_side == 0 || self.max_pixels == 0 {
            return bad("max_side and max_pixels must be positive");
        }
        if self.photo_max_side == 0 {
            return bad("photo_max_side must be positive");
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return bad("jpeg_quality must be 1..=100");
        }
        if self.max_aspect_ratio == 0 {
            return bad("max_aspect_ratio must be positive");
        }
        if self.fetch_allowed_ports.is_empty() {
            return bad("fetch_allowed_ports must not be empty");
        }
        if self.secrets.iter().any(|s| s.len() < 16) {
            return bad("every secret must be at least 16 bytes");
        }
        if self.reg_token_ttl_secs == 0 {
            return bad("reg_token_ttl_secs must be positive");
        }
        if self.session_ttl_secs == 0 {
            return bad("session_ttl_secs must be positive");
        }
        if self.max_concurrent_fetches == 0 {
            return bad("max_concurrent_fetches must be positive");
        }
        if self
            .site_id
            .as_ref()
            .is_some_and(|s| s.is_empty() || s.len() > 256)
        {
            return bad("site_id must be 1 to 256 bytes");
        }
        Ok(())
    }

    /// Imports processed at once.
    pub fn concurrency(&self) -> usize {
        self.max_concurrent_imports.unwrap_or_else(|| {
            2 * std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
    }

    /// Imports that may wait for a slot.
    pub fn queue_len(&self) -> usize {
        self.max_queued_imports
            .unwrap_or_else(|| 8 * self.concurrency())
    }

    /// The scope regTokens are signed for: `site_id`, or the embedded default's.
    pub fn token_scope(&self) -> &str {
        self.site_id.as_deref().unwrap_or(EMBEDDED_SITE)
    }
}

/// Debug output goes to logs: secrets and credentials in store URLs are redacted.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut doc = serde_json::to_value(self).map_err(|_| std::fmt::Error)?;
        if let serde_json::Value::Object(map) = &mut doc {
            let keys = self.secrets.len();
            map.insert("secrets".into(), format!("<{keys} redacted>").into());
            for key in ["database_url", "blob_store"] {
                if let Some(serde_json::Value::String(url)) = map.get(key) {
                    let redacted = redact_url(url);
                    map.insert(key.into(), redacted.into());
                }
            }
        }
        write!(f, "Config {doc}")
    }
}

/// `scheme://host/path` without userinfo or query (where credentials travel).
fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.has_host() => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            let had_query = u.query().is_some();
            u.set_query(None);
            if had_query {
                format!("{u}?<redacted>")
            } else {
                u.to_string()
            }
        }
        _ => url.split('?').next().unwrap_or_default().to_string(),
    }
}

fn env_value(current: &serde_json::Value, raw: &str) -> Option<serde_json::Value> {
    use serde_json::Value;
    Some(match current {
        Value::Bool(_) => Value::Bool(match raw.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => return None,
        }),
        Value::Number(_) => Value::Number(raw.trim().parse::<u64>().ok()?.into()),
        Value::Array(_) => Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| match s.parse::<u64>() {
                    Ok(n) => Value::Number(n.into()),
                    Err(_) => Value::String(s.to_string()),
                })
                .collect(),
        ),
        // Strings, and optional settings currently unset (null).
        _ => match raw.trim().parse::<u64>() {
            Ok(n) if current.is_null() && raw.trim().chars().all(|c| c.is_ascii_digit()) => {
                Value::Number(n.into())
            }
            _ => Value::String(raw.to_string()),
        },
    })
}

fn camel_to_snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_spec() {
        let c = Config::default();
        assert_eq!(c.max_photo_bytes, 6_291_456);
        assert_eq!((c.max_pixels, c.max_side), (50_000_000, 16384));
        assert_eq!((c.photo_max_side, c.jpeg_quality), (1024, 85));
        assert_eq!((c.pending_ttl_secs, c.reg_token_ttl_secs), (86400, 3600));
        assert_eq!(c.fetch_allowed_ports, vec![80, 443]);
        assert!(!c.allow_loopback && !c.allow_private);
        assert_eq!((c.max_concurrent_fetches, c.max_queued_fetches), (32, 128));
        assert_eq!(c.token_scope(), EMBEDDED_SITE);
        c.validate().unwrap();
        for bad in [
            Config {
                max_concurrent_fetches: 0,
                ..Config::default()
            },
            Config {
                site_id: Some(String::new()),
                ..Config::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn env_overlay_and_camel_case() {
        let c = Config::default()
            .with_vars([
                ("AVATARIUM_ALLOW_LOOPBACK".to_string(), "true".to_string()),
                ("AVATARIUM_DATA_DIR".to_string(), "/tmp/x".to_string()),
                (
                    "AVATARIUM_FETCH_ALLOWED_PORTS".to_string(),
                    "80,8080".to_string(),
                ),
                (
                    "AVATARIUM_MAX_CONCURRENT_IMPORTS".to_string(),
                    "3".to_string(),
                ),
                ("AVATARIUM_LOG".to_string(), "debug".to_string()),
            ])
            .unwrap();
        assert!(c.allow_loopback);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(c.fetch_allowed_ports, vec![80, 8080]);
        assert_eq!(c.max_concurrent_imports, Some(3));
        assert!(Config::default()
            .with_vars([("AVATARIUM_ALLOW_LOOPBACK".into(), "maybe".into())])
            .is_err());

        let c = Config::from_value(serde_json::json!({"dataDir": "/d", "allowLoopback": true}))
            .unwrap();
        assert_eq!(c.data_dir, PathBuf::from("/d"));
        assert!(c.allow_loopback);
        assert!(Config::from_json(r#"{"no_such_key": 1}"#).is_err());
    }

    #[test]
    fn debug_redacts_credentials() {
        let c = Config {
            secrets: vec!["super-secret-key-0123".into()],
            database_url: Some("postgres://app:hunter2@db.example:5432/pp".into()),
            blob_store: Some("s3://b?endpoint=http://x&secret_access_key=abc123".into()),
            ..Config::default()
        };
        let shown = format!("{c:?}");
        for leaked in ["super-secret-key-0123", "hunter2", "abc123"] {
            assert!(!shown.contains(leaked), "{leaked} in {shown}");
        }
        assert!(
            shown.contains("db.example") && shown.contains("<1 redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn toml_file_form() {
        let c = Config::from_toml("data_dir = \"/srv/pp\"\nsecrets = [\"0123456789abcdef0123\"]\n")
            .unwrap();
        assert_eq!(c.secrets.len(), 1);
        assert_eq!(c.data_dir, PathBuf::from("/srv/pp"));
    }
}
