//! Sites from the operator configuration (beside the top-level `log_format`, see
//! logging.rs): `[[sites]]` tables with `api_key`, `secret`
//! (base64), optional `name`, `rate_limit_per_minute`, `allowed_origins`, `demo`,
//! `[[sites.user_keys]]`, and any core
//! configuration key to override for that site. Every site gets its own storage: `data_dir`,
//! `database_url`, `blob_store` and `public_base_url` are never inherited from the top level
//! (`data_dir` defaults to `<data_dir>/sites/<name>`). All other top-level keys (and
//! `AVATARIUM_*` variables) are the defaults of every site; the core parses and checks
//! the result.

use std::collections::HashSet;
use std::path::Path;

use avatarium::Config;
use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::origins::Origins;

/// Standard alphabet, padding optional: secrets as Gigya issues them.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Per-site storage keys: never inherited.
const STORAGE_KEYS: [&str; 4] = ["data_dir", "database_url", "blob_store", "public_base_url"];

#[derive(Deserialize)]
struct SiteTable {
    api_key: String,
    secret: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    rate_limit_per_minute: Option<u32>,
    #[serde(default)]
    user_keys: Vec<UserKeyTable>,
    /// Pages whose scripts may call this site from a browser (origins.rs).
    #[serde(default)]
    allowed_origins: Vec<String>,
    /// Serve `/demo?apiKey=…` for this site.
    #[serde(default)]
    demo: bool,
    /// Core configuration keys for this site.
    #[serde(flatten)]
    core: toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserKeyTable {
    user_key: String,
    secret: String,
}

/// One site, ready to open. Secrets are decoded bytes; nothing here is ever printed.
pub(crate) struct SiteSpec {
    pub api_key: String,
    pub name: String,
    pub secret: Vec<u8>,
    pub user_keys: Vec<(String, Vec<u8>)>,
    pub rate_limit_per_minute: Option<u32>,
    pub origins: Origins,
    pub demo: bool,
    pub config: Config,
}

impl std::fmt::Debug for SiteSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user_keys: Vec<&str> = self.user_keys.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("SiteSpec")
            .field("api_key", &self.api_key)
            .field("name", &self.name)
            .field("secret", &"<redacted>")
            .field("user_keys", &user_keys)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("data_dir", &self.config.data_dir)
            .finish()
    }
}

/// Reads the sites of the configuration file.
pub(crate) fn load(path: Option<&Path>, data_dir: Option<&Path>) -> Result<Vec<SiteSpec>, String> {
    let path = path.ok_or("serve needs --config FILE with at least one [[sites]] table")?;
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text, data_dir).map_err(|e| format!("{}: {e}", path.display()))
}

pub(crate) fn parse(text: &str, data_dir: Option<&Path>) -> Result<Vec<SiteSpec>, String> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
    let sites = table.remove("sites").ok_or("no [[sites]] table")?;
    // Read (and checked) when logging starts: not a core key.
    table.remove(crate::logging::FORMAT_KEY);
    let sites: Vec<SiteTable> = sites
        .try_into()
        .map_err(|e: toml::de::Error| format!("[[sites]]: {}", e.message()))?;
    if sites.is_empty() {
        return Err("no [[sites]] table".into());
    }

    let mut top = Config::from_value(to_json(toml::Value::Table(table))?)
        .and_then(Config::with_env)
        .map_err(|e| e.details().to_string())?;
    if let Some(dir) = data_dir {
        top.data_dir = dir.to_path_buf();
    }
    for (key, set) in [
        ("database_url", top.database_url.is_some()),
        ("blob_store", top.blob_store.is_some()),
        ("public_base_url", top.public_base_url.is_some()),
    ] {
        if set {
            tracing::warn!("top-level {key} is ignored by serve: set it per site");
        }
    }
    let defaults = to_json_value(&top)?;

    let mut specs = Vec::with_capacity(sites.len());
    let (mut keys, mut names, mut dirs) = (HashSet::new(), HashSet::new(), HashSet::new());
    for (i, site) in sites.into_iter().enumerate() {
        let at = format!("sites[{i}]");
        let spec = site_spec(site, &top.data_dir, &defaults).map_err(|e| format!("{at}: {e}"))?;
        if !keys.insert(spec.api_key.clone()) {
            return Err(format!("{at}: api_key is used by another site"));
        }
        if !names.insert(spec.name.clone()) {
            return Err(format!(
                "{at}: name {:?} is used by another site",
                spec.name
            ));
        }
        let dir = std::path::absolute(&spec.config.data_dir).map_err(|e| format!("{at}: {e}"))?;
        if !dirs.insert(dir) {
            return Err(format!("{at}: data_dir is used by another site"));
        }
        specs.push(spec);
    }
    Ok(specs)
}

fn site_spec(site: SiteTable, top_dir: &Path, defaults: &Value) -> Result<SiteSpec, String> {
    if site.api_key.is_empty()
        || site.api_key.len() > 256
        || site.api_key.chars().any(char::is_control)
    {
        return Err("api_key must be 1 to 256 printable characters".into());
    }
    let secret = decode_secret(&site.secret).ok_or("secret is not base64")?;
    let origins = Origins::parse(&site.allowed_origins)?;
    let mut user_keys = Vec::new();
    for (j, uk) in site.user_keys.into_iter().enumerate() {
        if uk.user_key.is_empty() {
            return Err(format!("user_keys[{j}]: user_key is empty"));
        }
        let s = decode_secret(&uk.secret).ok_or(format!("user_keys[{j}]: secret is not base64"))?;
        user_keys.push((uk.user_key, s));
    }
    let name = match site.name {
        Some(n) if valid_name(&n) => n,
        Some(_) => return Err("name must be 1 to 64 of A-Z a-z 0-9 _ -".into()),
        None if valid_name(&site.api_key) => site.api_key.clone(),
        None => format!(
            "site-{}",
            &hex::encode(Sha256::digest(site.api_key.as_bytes()))[..16]
        ),
    };

    let Value::Object(mut map) = defaults.clone() else {
        return Err("configuration is not a table".into());
    };
    for key in STORAGE_KEYS {
        map.remove(key);
    }
    map.insert(
        "data_dir".into(),
        Value::from(
            top_dir
                .join("sites")
                .join(&name)
                .to_string_lossy()
                .into_owned(),
        ),
    );
    if let Value::Object(own) = to_json(toml::Value::Table(site.core))? {
        map.extend(own);
    }
    // regTokens are signed for this site alone, although sites may share `secrets`.
    map.insert("site_id".into(), Value::from(site.api_key.clone()));
    let config = Config::from_value(Value::Object(map)).map_err(|e| e.details().to_string())?;
    Ok(SiteSpec {
        api_key: site.api_key,
        name,
        secret,
        user_keys,
        rate_limit_per_minute: site.rate_limit_per_minute,
        origins,
        demo: site.demo,
        config,
    })
}

pub(crate) fn decode_secret(s: &str) -> Option<Vec<u8>> {
    BASE64.decode(s.trim()).ok().filter(|b| !b.is_empty())
}

/// Names become a folder and a URL path segment.
fn valid_name(n: &str) -> bool {
    (1..=64).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn to_json(v: toml::Value) -> Result<Value, String> {
    serde_json::to_value(v).map_err(|e| e.to_string())
}

fn to_json_value(c: &Config) -> Result<Value, String> {
    serde_json::to_value(c).map_err(|e| e.to_string())
}

/// A TOML error without the quoted source line (which could hold a secret).
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {}", e.message())
        }
        None => e.message().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    const TWO_SITES: &str = r#"
max_photo_bytes = 1000
allow_loopback = true

[[sites]]
api_key = "3_main-KEY"
secret = "c2VjcmV0LW9uZQ=="
rate_limit_per_minute = 5
[[sites.user_keys]]
user_key = "UK1"
secret = "dXNlci1zZWNyZXQ"

[[sites]]
api_key = "key with spaces"
secret = "c2VjcmV0LXR3bw=="
max_photo_bytes = 2000
data_dir = "/tmp/elsewhere"
"#;

    #[test]
    fn sites_inherit_all_but_storage() {
        let sites = parse(TWO_SITES, Some(Path::new("/srv/pp"))).unwrap();
        assert_eq!(sites.len(), 2);
        let (a, b) = (&sites[0], &sites[1]);
        assert_eq!(a.name, "3_main-KEY");
        assert_eq!(a.secret, b"secret-one");
        assert_eq!(
            a.user_keys,
            vec![("UK1".to_string(), b"user-secret".to_vec())]
        );
        assert_eq!(a.config.data_dir, PathBuf::from("/srv/pp/sites/3_main-KEY"));
        assert_eq!(a.config.max_photo_bytes, 1000);
        assert!(a.config.allow_loopback);
        assert_eq!(a.rate_limit_per_minute, Some(5));
        assert!(b.name.starts_with("site-") && b.name.len() == 21);
        assert_eq!(b.config.max_photo_bytes, 2000);
        assert_eq!(b.config.data_dir, PathBuf::from("/tmp/elsewhere"));
    }

    #[test]
    fn mistakes_are_refused_without_quoting_secrets() {
        let dup = TWO_SITES.replace("key with spaces", "3_main-KEY");
        assert!(parse(&dup, None).unwrap_err().contains("api_key"));
        let typo = TWO_SITES.replace("max_photo_bytes = 2000", "max_photo_byte = 2000");
        assert!(parse(&typo, None).is_err());
        let bad = TWO_SITES.replace("c2VjcmV0LXR3bw==", "not*base64!");
        let e = parse(&bad, None).unwrap_err();
        assert!(e.contains("secret") && !e.contains("not*base64"), "{e}");
        let broken = "secret = \"hunter2hunter2\" x\n[[sites]]";
        let e = parse(broken, None).unwrap_err();
        assert!(e.starts_with("line 1") && !e.contains("hunter2"), "{e}");
        assert!(parse("data_dir = \"/x\"", None).is_err());
        let star = TWO_SITES.replace("rate_limit_per_minute = 5", "allowed_origins = [\"*\"]");
        assert!(parse(&star, None).unwrap_err().contains("allowed_origins"));
    }
}
