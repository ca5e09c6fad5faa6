//! The S3-compatible blob store, chosen by configuration:
//!
//! ```text
//! blob_store = "s3://BUCKET[/PREFIX]?endpoint=http://127.0.0.1:3900&region=us-east-1"
//! ```
//!
//! Query parameters (all optional):
//!
//! | parameter | default | meaning |
//! |---|---|---|
//! | `endpoint` | AWS | `http(s)://host[:port]` of an S3-compatible server (Garage, MinIO, Ceph, …) |
//! | `region` | `us-east-1` | must equal the server's region (Garage: `s3_region`) |
//! | `access_key_id`, `secret_access_key` | `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` | credentials; give both or neither |
//! | `session_token` | `AWS_SESSION_TOKEN` | temporary credentials |
//! | `virtual_hosted_style` | `false` | `BUCKET.host/key` instead of `host/BUCKET/key` |
//! | `connect_timeout_ms`, `timeout_ms` | 2000, 30000 | per request |
//! | `max_retries`, `retry_timeout_ms` | 2, 5000 | retries of failed requests, bounded so that a store that went away gives 500001 quickly |
//!
//! Credentials are required: the store never falls back to instance metadata services.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};

use super::blobs::ObjectBlobStore;
use crate::error::{Error, Result};

/// A parsed `s3://` blob store location.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Location {
    pub bucket: String,
    /// Folder inside the bucket (no leading or trailing `/`), if any.
    pub prefix: Option<String>,
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub virtual_hosted_style: bool,
    pub connect_timeout: Duration,
    pub timeout: Duration,
    pub max_retries: usize,
    pub retry_timeout: Duration,
}

/// Never prints the secret or the token.
impl std::fmt::Debug for S3Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Location")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn bad(why: impl std::fmt::Display) -> Error {
    // The spec may carry a secret: never echo it, only say what is wrong.
    Error::invalid("blob_store", why)
}

impl S3Location {
    /// Parse `s3://bucket[/prefix]?…`, taking credentials from the query or else from
    /// `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` in the environment.
    pub fn parse(spec: &str) -> Result<Self> {
        Self::parse_with_env(spec, |name| std::env::var(name).ok())
    }

    /// [`S3Location::parse`] with the environment given as a function (testable form).
    pub fn parse_with_env(spec: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let url = url::Url::parse(spec)
            .map_err(|_| bad("not a URL (expected s3://bucket?endpoint=…)"))?;
        if url.scheme() != "s3" {
            return Err(bad("expected an s3:// URL"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "put credentials in access_key_id / secret_access_key, not in the URL's user part",
            ));
        }
        let bucket = url.host_str().unwrap_or("").to_string();
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(bad(
                "the bucket name must be 3 to 63 characters of a-z, 0-9, '.' and '-'",
            ));
        }
        if url.port().is_some() {
            return Err(bad(
                "s3://bucket takes no port: give the server as endpoint=http://host:port",
            ));
        }
        let prefix = {
            let p = url.path().trim_matches('/');
            if p.is_empty() {
                None
            } else {
                let ok = p.split('/').all(|seg| {
                    !seg.is_empty()
                        && seg != "."
                        && seg != ".."
                        && seg.bytes().all(|b| {
                            b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.'
                        })
                });
                if !ok {
                    return Err(bad(
                        "the prefix must be folders of A-Z, a-z, 0-9, '-', '_' and '.'",
                    ));
                }
                Some(p.to_string())
            }
        };

        let mut loc = S3Location {
            bucket,
            prefix,
            endpoint: None,
            region: "us-east-1".into(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            session_token: None,
            virtual_hosted_style: false,
            connect_timeout: Duration::from_millis(2000),
            timeout: Duration::from_millis(30_000),
            max_retries: 2,
            retry_timeout: Duration::from_millis(5000),
        };
        let (mut key_id, mut secret, mut token) = (None, None, None);
        let millis = |name: &str, v: &str| -> Result<Duration> {
            v.parse::<u64>()
                .ok()
                .filter(|ms| *ms > 0)
                .map(Duration::from_millis)
                .ok_or_else(|| bad(format!("{name} must be a positive number of milliseconds")))
        };
        for (name, value) in url.query_pairs() {
            let value = value.to_string();
            match name.as_ref() {
                "endpoint" => {
                    let ep = url::Url::parse(&value).map_err(|_| bad("endpoint is not a URL"))?;
                    if !matches!(ep.scheme(), "http" | "https") || ep.host_str().is_none() {
                        return Err(bad(
                            "endpoint must be http://host[:port] or https://host[:port]",
                        ));
                    }
                    loc.endpoint = Some(value.trim_end_matches('/').to_string());
                }
                "region" if !value.is_empty() => loc.region = value,
                "access_key_id" => key_id = Some(value),
                "secret_access_key" => secret = Some(value),
                "session_token" => token = Some(value),
                "virtual_hosted_style" => {
                    loc.virtual_hosted_style = match value.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(bad("virtual_hosted_style must be true or false")),
                    }
                }
                "connect_timeout_ms" => loc.connect_timeout = millis("connect_timeout_ms", &value)?,
                "timeout_ms" => loc.timeout = millis("timeout_ms", &value)?,
                "retry_timeout_ms" => loc.retry_timeout = millis("retry_timeout_ms", &value)?,
                "max_retries" => {
                    loc.max_retries = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n <= 10)
                        .ok_or_else(|| bad("max_retries must be 0 to 10"))?
                }
                other => {
                    // A typo must not silently fall back to a default.
                    let other: String = other.chars().take(40).collect();
                    return Err(bad(format!("unknown parameter {other:?}")));
                }
            }
        }
        match (key_id, secret) {
            (Some(k), Some(s)) => {
                loc.access_key_id = k;
                loc.secret_access_key = s;
                loc.session_token = token;
            }
            (None, None) => {
                match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
                    (Some(k), Some(s)) if !k.is_empty() && !s.is_empty() => {
                        loc.access_key_id = k;
                        loc.secret_access_key = s;
                    }
                    _ => {
                        return Err(bad(
                            "no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
                             or access_key_id and secret_access_key in the query",
                        ))
                    }
                }
                loc.session_token =
                    token.or_else(|| env("AWS_SESSION_TOKEN").filter(|t| !t.is_empty()));
            }
            _ => {
                return Err(bad(
                    "give both access_key_id and secret_access_key, or neither",
                ))
            }
        }
        if loc.access_key_id.is_empty() || loc.secret_access_key.is_empty() {
            return Err(bad("access_key_id and secret_access_key must not be empty"));
        }
        Ok(loc)
    }

    /// The object store client for this location (no request is made yet).
    pub fn object_store(&self) -> Result<Arc<dyn ObjectStore>> {
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(100),
                max_backoff: Duration::from_secs(1),
                base: 2.0,
            },
            max_retries: self.max_retries,
            retry_timeout: self.retry_timeout,
        };
        let options = ClientOptions::new()
            .with_connect_timeout(self.connect_timeout)
            .with_timeout(self.timeout);
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&self.bucket)
            .with_region(&self.region)
            .with_access_key_id(&self.access_key_id)
            .with_secret_access_key(&self.secret_access_key)
            .with_virtual_hosted_style_request(self.virtual_hosted_style)
            .with_retry(retry)
            .with_client_options(options);
        if let Some(endpoint) = &self.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        if let Some(token) = &self.session_token {
            builder = builder.with_token(token);
        }
        let s3 = builder
            .build()
            .map_err(|e| bad("cannot configure the S3 client").with_source(e))?;
        Ok(match &self.prefix {
            Some(prefix) => Arc::new(PrefixStore::new(s3, prefix.as_str())),
            None => Arc::new(s3),
        })
    }
}

impl ObjectBlobStore {
    /// An S3-compatible bucket (see the module documentation for the URL form).
    pub fn s3(location: &S3Location) -> Result<Self> {
        Ok(Self::new(location.object_store()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn parses_endpoint_region_prefix_and_query_credentials() {
        let loc = S3Location::parse_with_env(
            "s3://photos/site-a/v1?endpoint=http://127.0.0.1:3900/&region=garage\
             &access_key_id=GK1&secret_access_key=s3cr3t&max_retries=0&timeout_ms=1500",
            no_env,
        )
        .unwrap();
        assert_eq!(loc.bucket, "photos");
        assert_eq!(loc.prefix.as_deref(), Some("site-a/v1"));
        assert_eq!(loc.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
        assert_eq!(loc.region, "garage");
        assert_eq!(
            (loc.access_key_id.as_str(), loc.secret_access_key.as_str()),
            ("GK1", "s3cr3t")
        );
        assert_eq!(loc.max_retries, 0);
        assert_eq!(loc.timeout, Duration::from_millis(1500));
        assert!(!format!("{loc:?}").contains("s3cr3t"));
        loc.object_store().unwrap();
    }

    #[test]
    fn credentials_from_the_environment() {
        let env = |name: &str| match name {
            "AWS_ACCESS_KEY_ID" => Some("GKenv".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("envsecret".to_string()),
            _ => None,
        };
        let loc = S3Location::parse_with_env("s3://photos", env).unwrap();
        assert_eq!(
            (loc.access_key_id.as_str(), loc.region.as_str()),
            ("GKenv", "us-east-1")
        );
        assert_eq!(
            (loc.endpoint.as_deref(), loc.prefix.as_deref()),
            (None, None)
        );
    }

    #[test]
    fn refuses_bad_specs_without_echoing_them() {
        for spec in [
            "s3://photos",                                             // no credentials
            "s3://photos?access_key_id=GK1",                           // half the pair
            "s3://Photos?access_key_id=a&secret_access_key=TOPSECRET", // bucket case
            "s3://photos?endpoint=ftp://x&access_key_id=a&secret_access_key=TOPSECRET",
            "s3://photos?endpont=http://x&access_key_id=a&secret_access_key=TOPSECRET",
            "s3://photos/a%20b?access_key_id=a&secret_access_key=TOPSECRET",
            "s3://a:TOPSECRET@photos",
            "s3://photos:9000?access_key_id=a&secret_access_key=TOPSECRET",
            "file:///tmp/x",
        ] {
            let e = S3Location::parse_with_env(spec, no_env).unwrap_err();
            assert_eq!(e.error_code(), 400006, "{spec}");
            assert!(!e.details().contains("TOPSECRET"), "{}", e.details());
        }
    }
}
