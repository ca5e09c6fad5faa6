//! The request's parameters: the query string, plus the form body of a POST. Every value
//! is a string, as on the wire; the core parses them (`publish`, `profilePhoto`, ...).
//!
//! A body is read in two steps so that a stranger cannot make the server hold megabytes:
//! first at most [`PREFIX_BYTES`], enough to find the `apiKey` (the caller's site), then,
//! once the site is known and its budget allows, the rest up to that site's body cap.
//! Every byte held counts against one server-wide [`BodyBudget`]; when it is spent the
//! request fails at once (503001) instead of queueing.

use std::sync::Arc;
use std::time::Duration;

use avatarium::ErrorKind;
use axum::body::Body;
use axum::http::{header, request::Parts, Method};
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use serde_json::{Map, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::error::RestError;
use super::form::{self, Pairs};
use super::multipart;

/// A slow body is abandoned after this long (slowloris).
const BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes of a body read before the caller's site is known: an `apiKey` must come in the
/// query string or within them.
pub(crate) const PREFIX_BYTES: usize = 64 * 1024;

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

/// Name/value pairs of the whole request (see `form.rs` for the caps).
#[derive(Debug, Clone, Default)]
pub(crate) struct Params {
    pairs: Pairs,
}

impl Params {
    fn add(&mut self, text: &[u8]) -> Result<(), RestError> {
        self.pairs.parse(text).map_err(RestError::from)
    }

    /// The value of `name`; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.get(name)
    }

    pub fn pairs(&self) -> &[(String, String)] {
        self.pairs.pairs()
    }

    /// `context`, echoed by the core (and by REST-level refusals).
    pub fn context(&self) -> Option<Value> {
        self.get("context").map(Value::from)
    }

    /// The parameters the core receives: everything but credentials and output options.
    pub fn for_core(&self) -> Value {
        let map: Map<String, Value> = self
            .pairs()
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
        p.add(q.as_bytes())?;
    }
    Ok(p)
}

/// Body bytes held at once by all requests together.
#[derive(Debug, Clone)]
pub(crate) struct BodyBudget {
    bytes: Arc<Semaphore>,
    total: usize,
}

impl BodyBudget {
    pub fn new(total: usize) -> Self {
        let total = total.min(Semaphore::MAX_PERMITS);
        BodyBudget {
            bytes: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// Takes `n` bytes now, or refuses with 503001.
    fn take(&self, n: usize, held: &mut Held) -> Result<(), RestError> {
        if n == 0 {
            return Ok(());
        }
        let permit = u32::try_from(n)
            .ok()
            .and_then(|n| Arc::clone(&self.bytes).try_acquire_many_owned(n).ok())
            .ok_or_else(|| {
                RestError::kind(
                    ErrorKind::Busy,
                    format!(
                        "The server holds {} bytes of request bodies at most; try again later",
                        self.total
                    ),
                )
            })?;
        match &mut held.0 {
            Some(p) => p.merge(permit),
            None => held.0 = Some(permit),
        }
        Ok(())
    }
}

/// Body bytes this request holds; given back when dropped.
#[derive(Debug, Default)]
pub(crate) struct Held(Option<OwnedSemaphorePermit>);

impl Held {
    pub fn bytes(&self) -> usize {
        self.0.as_ref().map_or(0, OwnedSemaphorePermit::num_permits)
    }
}

/// A body of which at most [`PREFIX_BYTES`] were read.
pub(crate) struct BodyStart {
    bytes: BytesMut,
    /// The boundary of a `multipart/form-data` body; `None` for a form.
    multipart: Option<String>,
    rest: Option<Body>,
    declared: Option<u64>,
    deadline: Instant,
    pub held: Held,
}

impl BodyStart {
    /// `name` from the complete pairs within the first [`PREFIX_BYTES`]. Only those count,
    /// even when more arrived in the same read, so where an `apiKey` may stand does not
    /// depend on how the network cut the body.
    pub fn find(&self, name: &str) -> Option<String> {
        // A multipart body's parameters are read only once it is whole: its apiKey goes in
        // the query string.
        if self.multipart.is_some() {
            return None;
        }
        let end = self.bytes.len().min(PREFIX_BYTES);
        form::find_in_prefix(&self.bytes[..end], !self.beyond_prefix(), name)
    }

    /// Whether the body is longer than what [`BodyStart::find`] looks at.
    pub fn beyond_prefix(&self) -> bool {
        self.rest.is_some() || self.bytes.len() > PREFIX_BYTES
    }
}

/// Reads the first bytes of a POST's body (nothing for a GET): a form, or a multipart body
/// (`multipart.rs`).
pub(crate) async fn read_start(
    parts: &Parts,
    body: Body,
    budget: &BodyBudget,
) -> Result<BodyStart, RestError> {
    let deadline = Instant::now() + BODY_TIMEOUT;
    let mut start = BodyStart {
        bytes: BytesMut::new(),
        multipart: None,
        rest: None,
        declared: None,
        deadline,
        held: Held::default(),
    };
    if parts.method != Method::POST {
        return Ok(start);
    }
    if let Some(ct) = parts.headers.get(header::CONTENT_TYPE) {
        let essence = ct
            .to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim();
        start.multipart = multipart::boundary(ct.to_str().unwrap_or(""));
        if start.multipart.is_none()
            && !essence.eq_ignore_ascii_case("application/x-www-form-urlencoded")
        {
            return Err(RestError::kind(
                ErrorKind::InvalidParameter,
                "Content-Type must be application/x-www-form-urlencoded, or multipart/form-data with a boundary",
            ));
        }
    }
    start.declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // A declared length is reserved at once, so a refusal costs no read.
    if let Some(n) = start.declared {
        let first = usize::try_from(n).unwrap_or(usize::MAX).min(PREFIX_BYTES);
        budget.take(first, &mut start.held)?;
    }
    let mut body = body;
    while start.bytes.len() < PREFIX_BYTES {
        match next_frame(&mut body, deadline).await? {
            Some(data) => {
                let more = (start.bytes.len() + data.len()).saturating_sub(start.held.bytes());
                budget.take(more, &mut start.held)?;
                start.bytes.extend_from_slice(&data);
            }
            None => return Ok(start),
        }
    }
    start.rest = Some(body);
    Ok(start)
}

/// Reads the rest of the body, at most `cap` bytes in all, and adds the body's pairs to
/// `p`. Returns the bytes held, to keep until the call ends, and a multipart body's `photo`
/// file.
pub(crate) async fn read_rest(
    p: &mut Params,
    start: BodyStart,
    cap: usize,
    budget: &BodyBudget,
) -> Result<(Held, Option<Bytes>), RestError> {
    let BodyStart {
        mut bytes,
        multipart,
        rest,
        declared,
        deadline,
        mut held,
    } = start;
    let too_large = || {
        RestError::kind(
            ErrorKind::PhotoTooLarge,
            format!("The request body is over the limit of {cap} bytes"),
        )
    };
    if declared.is_some_and(|n| n > cap as u64) || bytes.len() > cap {
        return Err(too_large());
    }
    if let Some(mut body) = rest {
        if let Some(n) = declared {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            budget.take(n.saturating_sub(held.bytes()), &mut held)?;
        }
        while let Some(data) = next_frame(&mut body, deadline).await? {
            if bytes.len() + data.len() > cap {
                return Err(too_large());
            }
            let more = (bytes.len() + data.len()).saturating_sub(held.bytes());
            budget.take(more, &mut held)?;
            bytes.extend_from_slice(&data);
        }
    }
    let photo = match multipart {
        Some(boundary) => multipart::parse(bytes.freeze(), &boundary, &mut p.pairs).await?,
        None => {
            p.add(&bytes)?;
            None
        }
    };
    Ok((held, photo))
}

/// The next data frame (trailers are skipped), by `deadline`.
async fn next_frame(body: &mut Body, deadline: Instant) -> Result<Option<Bytes>, RestError> {
    loop {
        let frame = match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => {
                return Err(RestError::kind(
                    ErrorKind::Timeout,
                    "The request body was not received in time",
                ))
            }
            Ok(None) => return Ok(None),
            Ok(Some(Err(_))) => {
                return Err(RestError::kind(
                    ErrorKind::InvalidParameter,
                    "The request body could not be read",
                ))
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            return Ok(Some(data));
        }
    }
}

/// Adds the pairs of a body read in one go (tests).
#[cfg(test)]
fn add_all(p: &mut Params, text: &[u8]) -> Result<(), RestError> {
    p.add(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_filter() {
        let mut p = Params::default();
        add_all(&mut p, b"a=1&b=x+y%2B&apiKey=k&secret=s&context=c&e=").unwrap();
        assert_eq!(p.get("b"), Some("x y+"));
        assert_eq!(p.get("e"), None);
        let core = p.for_core();
        assert_eq!(core["a"], "1");
        assert_eq!(core["context"], "c");
        assert!(core.get("secret").is_none() && core.get("apiKey").is_none());
        let err = add_all(&mut p, b"a=2").unwrap_err();
        assert_eq!(err.code, 400006);
    }

    #[test]
    fn the_budget_refuses_at_once_and_comes_back() {
        let budget = BodyBudget::new(10);
        let mut a = Held::default();
        budget.take(6, &mut a).unwrap();
        budget.take(2, &mut a).unwrap();
        assert_eq!(a.bytes(), 8);
        let mut b = Held::default();
        assert_eq!(budget.take(3, &mut b).unwrap_err().code, 503001);
        drop(a);
        budget.take(10, &mut b).unwrap();
    }
}
