//! The request's parameters: the query string, plus the form body of a POST. Every value
//! is a string, as on the wire; the core parses them (`publish`, `profilePhoto`, ...).

use std::time::Duration;

use avatarium::ErrorKind;
use axum::body::Body;
use axum::http::{header, request::Parts, Method};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde_json::{Map, Value};

use super::reply::RestError;

/// A slow body is abandoned after this long (slowloris).
const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// Parameters that belong to the REST layer and never reach the core.
const REST_ONLY: [&str; 9] = [
    "apiKey",
    "userKey",
    "secret",
    "sig",
    "timestamp",
    "nonce",
    "format",
    "callback",
    "httpStatusCodes",
];

/// Name/value pairs in arrival order; each name at most once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Pairs from `application/x-www-form-urlencoded` text. A repeated name is refused: it
    /// would make the signed text ambiguous.
    pub fn parse(text: &[u8], into: &mut Params) -> Result<(), RestError> {
        for (k, v) in form_urlencoded::parse(text) {
            if into.pairs.iter().any(|(name, _)| *name == k) {
                return Err(RestError::invalid(&k, "given more than once"));
            }
            into.pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(())
    }

    /// The value of `name`; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// `context`, echoed by the core (and by REST-level refusals).
    pub fn context(&self) -> Option<Value> {
        self.get("context").map(Value::from)
    }

    /// The parameters the core receives: everything but credentials and output options.
    pub fn for_core(&self) -> Value {
        let map: Map<String, Value> = self
            .pairs
            .iter()
            .filter(|(k, _)| !REST_ONLY.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect();
        Value::Object(map)
    }
}

/// The query string's parameters.
pub(crate) fn from_query(parts: &Parts) -> Result<Params, RestError> {
    let mut p = Params::default();
    if let Some(q) = parts.uri.query() {
        Params::parse(q.as_bytes(), &mut p)?;
    }
    Ok(p)
}

/// Adds a POST's form body to `p`, reading at most `cap` bytes.
pub(crate) async fn add_body(
    p: &mut Params,
    parts: &Parts,
    body: Body,
    cap: usize,
) -> Result<(), RestError> {
    if parts.method != Method::POST {
        return Ok(());
    }
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
        let essence = ct
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim();
        if !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(RestError::kind(
                ErrorKind::InvalidParameter,
                "Content-Type must be application/x-www-form-urlencoded",
            ));
        }
    }
    let too_large = || {
        RestError::kind(
            ErrorKind::PhotoTooLarge,
            format!("The request body is over the limit of {cap} bytes"),
        )
    };
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        return Err(too_large());
    }
    let read = tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, cap).collect()).await;
    let bytes = match read {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large()),
        Ok(Err(_)) => {
            return Err(RestError::kind(
                ErrorKind::InvalidParameter,
                "The request body could not be read",
            ))
        }
        Err(_) => {
            return Err(RestError::kind(
                ErrorKind::Timeout,
                "The request body was not received in time",
            ))
        }
    };
    Params::parse(&bytes, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_filter() {
        let mut p = Params::default();
        Params::parse(b"a=1&b=x+y%2B&apiKey=k&secret=s&context=c&e=", &mut p).unwrap();
        assert_eq!(p.get("b"), Some("x y+"));
        assert_eq!(p.get("e"), None);
        let core = p.for_core();
        assert_eq!(core["a"], "1");
        assert_eq!(core["context"], "c");
        assert!(core.get("secret").is_none() && core.get("apiKey").is_none());
        let err = Params::parse(b"a=2", &mut p).unwrap_err();
        assert_eq!(err.code, 400006);
    }
}
