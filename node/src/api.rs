//! `avatarium::Client` for JS: open it, start generic calls, await or cancel them.
//!
//! A call is started synchronously and runs as a task on napi's tokio runtime; the JS thread
//! only gets the envelope back (as JSON text). `PendingCall::cancel` aborts the task, which
//! drops the core's future (an in-flight fetch is cancelled, its connection closed).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use avatarium::{Client, ErrorKind, Method, Response};
use napi::bindgen_prelude::{block_on, spawn, Buffer};
use napi_derive::napi;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::config;
use crate::error::{reason, rejected, thrown, Code, ABORTED};

/// An open client (stores opened, configuration checked). Cheap to share: every call
/// works on a clone of the core client.
#[napi]
pub struct NativeClient {
    inner: Client,
}

#[napi]
impl NativeClient {
    /// Open a client from options given as JSON text, blocking the calling thread while the
    /// stores open (milliseconds for the embedded SQLite default). Throws with `err.code`.
    #[napi(factory, catch_unwind)]
    pub fn open_sync(options: String) -> napi::Result<NativeClient, Code> {
        let config = config::from_json_text(&options).map_err(thrown)?;
        let inner = block_on(Client::open(config)).map_err(thrown)?;
        Ok(NativeClient { inner })
    }

    /// Open a client without blocking the JS thread. Rejects with `"[CODE] details"`.
    #[napi(catch_unwind)]
    pub async fn open(options: String) -> napi::Result<NativeClient> {
        let config = config::from_json_text(&options).map_err(rejected)?;
        let inner = Client::open(config).await.map_err(rejected)?;
        Ok(NativeClient { inner })
    }

    /// Start `Client::call(method, params)`; `params` is JSON text. Text that is not JSON
    /// reaches the core as a non-object, which it answers with 400006. `photo`, when given,
    /// is the upload's file, raw (no base64): the core parses the params with it beside them.
    #[napi]
    pub fn start(&self, method: String, params: String, photo: Option<Buffer>) -> PendingCall {
        let client = self.inner.clone();
        // Copied now: the Buffer belongs to the JS thread.
        let photo = photo.map(|b| b.to_vec());
        PendingCall::spawn(async move {
            let params = serde_json::from_str(&params).unwrap_or(Value::Bool(false));
            client
                .call_with_photo(&method, &params, photo.map(Into::into))
                .await
        })
    }

    /// Start a batch import (core `Client::batch_feed`); `index.js` feeds it rows and
    /// takes its results. Throws `INVALID_PARAMETER` for a bad shard.
    #[napi]
    pub fn start_batch(
        &self,
        settings: crate::batch::BatchSettings,
    ) -> napi::Result<crate::batch::NativeBatch, Code> {
        crate::batch::start(&self.inner, settings)
    }

    /// Start `Client::purge_response()`.
    #[napi]
    pub fn start_purge(&self) -> PendingCall {
        let client = self.inner.clone();
        PendingCall::spawn(async move { client.purge_response().await })
    }

    /// `Client::close()`: calls in flight end with 503001 and later calls get it too.
    /// Resolves when the cancelled work has stopped; rejects with `"[TIMEOUT] …"` when
    /// some was still running after the core's bounded wait. Closing twice is harmless.
    #[napi(catch_unwind)]
    pub async fn close(&self) -> napi::Result<()> {
        self.inner.close().await.map_err(rejected)
    }
}

/// One method of the core's table (`Method::ALL`).
#[napi(object)]
pub struct MethodInfo {
    /// The full Gigya name, e.g. `accounts.importProfilePhoto`.
    pub name: String,
    /// The name within its namespace, e.g. `importProfilePhoto`.
    pub short_name: String,
    /// Other names of the same method, e.g. `uploadProfilePhoto`.
    pub aliases: Vec<String>,
}

/// Every method of the core, for `index.js` to build `client.accounts` without a list of
/// its own.
#[napi]
pub fn methods() -> Vec<MethodInfo> {
    Method::ALL
        .iter()
        .map(|m| MethodInfo {
            name: m.name(),
            short_name: m.short_name().to_string(),
            aliases: m.aliases().iter().map(|a| a.to_string()).collect(),
        })
        .collect()
}

/// A call running on the runtime: `result()` once, `cancel()` any time.
#[napi]
pub struct PendingCall {
    receiver: Mutex<Option<oneshot::Receiver<String>>>,
    task: tokio::task::AbortHandle,
    cancelled: Arc<AtomicBool>,
}

impl PendingCall {
    fn spawn<F>(call: F) -> PendingCall
    where
        F: std::future::Future<Output = Response> + Send + 'static,
    {
        let (sender, receiver) = oneshot::channel();
        let handle = spawn(async move {
            let _ = sender.send(call.await.to_json());
        });
        PendingCall {
            receiver: Mutex::new(Some(receiver)),
            task: handle.abort_handle(),
            cancelled: Arc::new(AtomicBool::new(false)),
        }
    }
}

#[napi]
impl PendingCall {
    /// The envelope as JSON text. Rejects with `"[ABORTED] …"` after `cancel()`, and with
    /// `"[INTERNAL] …"` if the task died (a panic in the core).
    #[napi(catch_unwind)]
    pub async fn result(&self) -> napi::Result<String> {
        let receiver = self
            .receiver
            .lock()
            .map_err(|_| reason(ErrorKind::Internal.code(), "lock poisoned"))?
            .take()
            .ok_or_else(|| reason(ErrorKind::Internal.code(), "result() was already awaited"))?;
        match receiver.await {
            Ok(envelope) => Ok(envelope),
            Err(_) if self.cancelled.load(Ordering::SeqCst) => {
                Err(reason(ABORTED, "The call was cancelled"))
            }
            Err(_) => Err(reason(
                ErrorKind::Internal.code(),
                "The call ended without a response",
            )),
        }
    }

    /// Abort the call: its future is dropped on the runtime (an in-flight fetch stops).
    /// No effect once it has finished.
    #[napi]
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::SeqCst);
        self.task.abort();
    }
}
