//! The API. A [`Request`] (typed, or parsed from Gigya parameters by [`Request::parse`])
//! runs with [`Client::run`] and gives a [`Response`]; the typed async methods it runs on
//! are public too (`accounts.rs`). [`Client::call`] is the generic Gigya-style entry point.

mod accounts;
mod client;
mod health;
mod internals;
mod lifecycle;
mod limiter;
mod method;
mod open;
mod params;
mod policy_params;
mod request;
mod response;
mod served;
mod sessions;
mod types;

use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;

pub use crate::pipeline::{ThumbnailCrop, ThumbnailScales};
pub use crate::store::RenditionKind;
pub use client::Client;
pub use health::Readiness;
pub use method::{Access, Method, PhotoInput};
pub use open::ClientBuilder;
pub use request::{Request, SESSION_PARAM};
pub use response::{Output, Response};
pub use types::{
    AccountInfo, Identity, ImportResult, LoginSession, PhotoUrls, Policies, PolicyChange,
    PurgeReport, Registration, Rendition,
};

use crate::envelope::{format_time, new_call_id};
use crate::error::{Error, ErrorKind, Result};

/// How long [`Client::close`] waits for in-flight work to end after cancelling it.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

impl Client {
    /// Run one request. Never fails: an error is the response's result.
    pub async fn run(&self, request: Request) -> Response {
        let method = request.method();
        let result = self.output(request).await;
        self.respond(&method.to_string(), None, result)
    }

    /// The generic entry point: a Gigya method name and its JSON parameters (`photoBytes`
    /// in base64, as on Gigya's wire) in, the response out; `context` is echoed. Never
    /// fails: errors are in the response.
    pub async fn call(&self, method_name: &str, params: &Value) -> Response {
        self.call_with_photo(method_name, params, None).await
    }

    /// [`Client::call`] with the upload's file given raw beside the parameters (no base64),
    /// as a face holding bytes passes it; see [`Request::parse_with_photo`].
    pub async fn call_with_photo(
        &self,
        method_name: &str,
        params: &Value,
        photo: Option<Bytes>,
    ) -> Response {
        let context = params.get("context").filter(|v| !v.is_null()).cloned();
        let result = match Method::from_name(method_name) {
            None => Err(Error::invalid(
                "method",
                format!("unknown method {method_name:?}"),
            )),
            Some(method) => {
                match Request::parse_with_photo(method, params, self.max_photo_bytes(), photo) {
                    Ok(request) => self.output(request).await,
                    Err(e) => Err(e),
                }
            }
        };
        self.respond(method_name, context, result)
    }

    /// The response of a request that could not be built: a face's typed arguments refused
    /// by the core's own rules (e.g. [`Identity::from_parts`]), answered like any call.
    pub fn refused(&self, method: Method, error: Error) -> Response {
        self.respond(&method.to_string(), None, Err(error))
    }

    /// [`Client::purge`] as a response (`expiredPending`, `blobsDeleted`,
    /// `abandonedRegistrations`), for faces that speak envelopes.
    pub async fn purge_response(&self) -> Response {
        let result = self.purge().await.map(Output::Purged);
        self.respond("purge", None, result)
    }

    async fn output(&self, request: Request) -> Result<Output> {
        Ok(match request {
            Request::ImportProfilePhoto { who, url, publish } => {
                Output::Imported(self.import_profile_photo(&who, &url, publish).await?)
            }
            Request::SetProfilePhoto {
                who,
                photo,
                publish,
            } => Output::Imported(self.set_profile_photo(&who, photo, publish).await?),
            Request::PublishProfilePhoto { who } => Output::Published {
                urls: self.publish_profile_photo(&who).await?,
                uid: match who {
                    Identity::Uid(uid) => Some(uid),
                    Identity::RegToken(_) | Identity::Session(_) => None,
                },
            },
            Request::RemoveProfilePhoto { who } => Output::Removed {
                uid: self.remove_profile_photo(&who).await?,
            },
            Request::GetAccountInfo { who } => Output::Account(self.get_account_info(&who).await?),
            Request::InitRegistration => Output::Registration(self.init_registration().await?),
            Request::FinalizeRegistration { reg_token } => {
                Output::Account(self.finalize_registration(&reg_token).await?)
            }
            Request::GetPolicies => Output::Policies(self.policies().await?),
            Request::SetPolicies(change) => Output::Policies(self.set_policies(change).await?),
            Request::NotifyLogin { site_uid } => {
                Output::Session(self.notify_login(&site_uid).await?)
            }
            Request::Logout { who } => Output::LoggedOut {
                uid: self.logout(&who).await?,
            },
        })
    }

    fn respond(&self, method: &str, context: Option<Value>, result: Result<Output>) -> Response {
        let call_id = new_call_id();
        if let Err(err) = &result {
            if err.kind() == ErrorKind::Internal {
                tracing::error!(method, call_id, error = ?err, "internal error");
            } else {
                tracing::debug!(
                    method,
                    code = err.error_code(),
                    details = err.details(),
                    "call refused"
                );
            }
        }
        Response::new(call_id, format_time(self.now_ms()), context, result)
    }

    /// Close the client: calls made from now on fail with 503001 ("The client is
    /// closed"), calls in flight end at once with the same error (their fetches are
    /// dropped, their decodes cancelled), and this returns when the cancelled pipeline work
    /// has stopped too, or after a bounded wait (1 s) with 504002 if some has not. Closing
    /// twice is harmless. The stores stay open until the last clone is dropped.
    pub async fn close(&self) -> Result<()> {
        let life = &self.inner.life;
        let start = std::time::Instant::now();
        life.close();
        let calls_ended = life.calls.wait_idle(CLOSE_WAIT).await;
        let work_ended = life
            .work
            .wait_idle(CLOSE_WAIT.saturating_sub(start.elapsed()))
            .await;
        if calls_ended && work_ended {
            Ok(())
        } else {
            tracing::warn!(
                calls = life.calls.count(),
                decodes = life.work.count(),
                "close: work still running after the wait"
            );
            Err(Error::timeout("Work in flight did not stop in time"))
        }
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind, kind.message())
    }
}
