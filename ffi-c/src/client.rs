//! `avatarium_client`: the core `Client` plus the one tokio runtime it runs on (STYLE.md §9, 12).
//! Blocking calls `block_on` that runtime; `_async` calls are spawned on it and report to
//! a C callback on a library worker thread.

use std::cell::Cell;
use std::ffi::{c_char, c_void, CString};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use avatarium_core::{Client, Error, Identity, Method, Request, Response};
use futures::FutureExt;
use tokio::runtime::Runtime;

use crate::error::{avatarium_status, Failure};
use crate::panic::{status_boundary, void_boundary};
use crate::{config, ffi};

/// How long `avatarium_client_free` waits for the worker threads after closing the client.
const FREE_WAIT: Duration = Duration::from_millis(250);

/// An open client: the stores, the fetcher and the library's own worker threads.
///
/// Opaque. Made by `avatarium_client_new()`, freed by the caller with `avatarium_client_free()`.
/// It may be used from several threads at once.
pub struct avatarium_client {
    runtime: Runtime,
    client: Client,
    calls: Arc<InFlight>,
}

/// The callback of the `_async` functions.
///
/// `response_json` is the response envelope (a NUL-terminated JSON object, as
/// `avatarium_client_call()` returns it). It is owned by the library and valid only until the
/// callback returns: copy it to keep it, and never free it. It is NULL only if the
/// library panicked while running the call (a bug).
///
/// The callback runs exactly once per accepted call, on a library worker thread (never the
/// thread that started the call), possibly at the same time as other callbacks: make
/// `user_data` safe to use from that thread. It may make blocking `avatarium_client_*` calls, but
/// must never call `avatarium_client_free()` (that call is refused), and must not throw a C++
/// exception or `longjmp` out.
pub type avatarium_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, response_json: *const c_char)>;

/// Calls in flight (blocking and async), so that `avatarium_client_free` can wait for them.
#[derive(Default)]
struct InFlight {
    count: Mutex<usize>,
    idle: Condvar,
}

/// One call in flight; counted until dropped (after its callback has returned).
struct CallGuard(Arc<InFlight>);

impl InFlight {
    fn start(self: &Arc<Self>) -> CallGuard {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        CallGuard(Arc::clone(self))
    }

    fn wait_idle(&self) {
        let mut count = self.count.lock().unwrap_or_else(PoisonError::into_inner);
        while *count > 0 {
            count = self
                .idle
                .wait(count)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Drop for CallGuard {
    fn drop(&mut self) {
        let mut count = self.0.count.lock().unwrap_or_else(PoisonError::into_inner);
        *count -= 1;
        if *count == 0 {
            self.0.idle.notify_all();
        }
    }
}

thread_local! {
    /// Set while this thread runs a C callback: `avatarium_client_free` refuses to run there.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

/// A C callback and its `user_data`, moved to the worker thread that calls it.
struct Callback {
    function: unsafe extern "C" fn(*mut c_void, *const c_char),
    user_data: *mut c_void,
}

// SAFETY: the header makes the caller responsible for `user_data` being usable from a
// library worker thread; we only carry the pointer there.
unsafe impl Send for Callback {}

impl Callback {
    fn invoke(self, response: Option<CString>) {
        let ptr = response.as_ref().map_or(std::ptr::null(), |s| s.as_ptr());
        IN_CALLBACK.with(|f| f.set(true));
        // SAFETY: a C function pointer given to us with this user_data; the string lives
        // until after the call.
        unsafe { (self.function)(self.user_data, ptr) };
        IN_CALLBACK.with(|f| f.set(false));
    }
}

/// Where a call's envelope goes.
enum Reply<'a> {
    /// Blocking: the caller's `char **response_json`.
    Out(&'a mut *mut c_char),
    /// Async: a callback on a worker thread.
    Callback(Callback),
}

impl avatarium_client {
    /// Run one core operation and deliver its envelope. `op` gets its own handle on the
    /// core client (cheap: shared state).
    fn run<F, Fut>(&self, op: F, reply: Reply<'_>)
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Response> + Send + 'static,
    {
        let guard = self.calls.start();
        let future = op(self.client.clone());
        match reply {
            Reply::Out(out) => {
                let response = self.runtime.block_on(future);
                *out = ffi::c_string(response.to_json()).into_raw();
                drop(guard);
            }
            Reply::Callback(callback) => {
                self.runtime.spawn(async move {
                    let json = AssertUnwindSafe(future)
                        .catch_unwind()
                        .await
                        .ok()
                        .map(|response| ffi::c_string(response.to_json()));
                    // A blocking-pool thread, not an async worker: the callback may block,
                    // and may make blocking calls on this client.
                    let delivered = tokio::task::spawn_blocking(move || {
                        callback.invoke(json);
                        drop(guard);
                    });
                    let _ = delivered.await;
                });
            }
        }
    }
}

/// The `reply` of a `_async` function.
fn callback_reply(
    callback: avatarium_callback,
    user_data: *mut c_void,
) -> Result<Reply<'static>, Failure> {
    let function = callback.ok_or_else(|| Failure::null("callback"))?;
    Ok(Reply::Callback(Callback {
        function,
        user_data,
    }))
}

/// A typed request, or the core's refusal of the arguments it was built from.
type Built = Result<Request, (Method, Error)>;

/// The account named by exactly one of `uid` and `reg_token` (NULL or "" = absent): the
/// core's rule (`Identity::from_parts`); its refusal is answered as an envelope.
///
/// # Safety
/// `uid` and `reg_token` are NULL or NUL-terminated strings.
unsafe fn identity(
    method: Method,
    uid: *const c_char,
    reg_token: *const c_char,
) -> Result<Result<Identity, (Method, Error)>, Failure> {
    // SAFETY (both): the caller's contract.
    let uid = unsafe { ffi::opt_str_arg(uid, "uid") }?.map(str::to_owned);
    let reg_token = unsafe { ffi::opt_str_arg(reg_token, "reg_token") }?.map(str::to_owned);
    Ok(Identity::from_parts(uid, reg_token).map_err(|e| (method, e)))
}

impl avatarium_client {
    /// Run a typed request, or answer its refusal (with a callId, like any call).
    fn run_request(&self, built: Built, reply: Reply<'_>) {
        match built {
            Ok(request) => self.run(|core| async move { core.run(request).await }, reply),
            Err((method, err)) => {
                let response = self.client.refused(method, err);
                self.run(|_| async move { response }, reply)
            }
        }
    }
}

/// Open a client.
///
/// `config_json` is a JSON object with the keys of SPEC.md "Operator configuration"
/// (`{"data_dir": "/var/lib/pp", "allow_loopback": true}`; camelCase is accepted too).
/// NULL or "" means all defaults. Environment variables are not read.
///
/// On `AVATARIUM_STATUS_OK`, `*out` is a new client that the caller frees with
/// `avatarium_client_free()`. On any other status `*out` is NULL: `AVATARIUM_STATUS_INVALID_JSON` /
/// `AVATARIUM_STATUS_INVALID_CONFIG` for a bad document, `AVATARIUM_STATUS_INTERNAL` when the stores
/// cannot be opened.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn avatarium_client_new(
    config_json: *const c_char,
    out: *mut *mut avatarium_client,
) -> avatarium_status {
    status_boundary(|| {
        // SAFETY: the caller's contract.
        let out = unsafe { ffi::out_arg(out, "out") }?;
        // SAFETY: the caller's contract.
        let config = unsafe { config::from_c(config_json) }?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("avatarium")
            .build()
            .map_err(|e| {
                Failure::new(
                    avatarium_status::Internal,
                    format!("cannot start the runtime: {e}"),
                )
            })?;
        let client = runtime
            .block_on(Client::open(config))
            .map_err(|e| Failure::from_core(&e))?;
        *out = Box::into_raw(Box::new(avatarium_client {
            runtime,
            client,
            calls: Arc::default(),
        }));
        Ok(())
    })
}

/// Free a client. NULL is a no-op.
///
/// Calls in flight on this client end at once: their envelope is errorCode 503001
/// ("The client is closed") and their photo processing is cancelled. It waits until they
/// have all returned, including the callbacks of `_async` calls: after it returns, no
/// callback of this client runs any more. Then it stops the client's worker threads and
/// frees everything it owns. It does not wait behind a long decode: it returns within
/// about a second whatever is in flight.
///
/// Never call it from a callback: there it does nothing (the client stays open) and
/// `avatarium_last_error_message()` says so. Never call it while another thread may still start
/// calls on the same client, and never use the client afterwards.
///
/// # Safety
/// `client` is NULL or a pointer from `avatarium_client_new()` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn avatarium_client_free(client: *mut avatarium_client) {
    void_boundary(|| {
        if client.is_null() {
            return;
        }
        if IN_CALLBACK.with(Cell::get) || tokio::runtime::Handle::try_current().is_ok() {
            crate::error::set_last_error(
                "avatarium_client_free called from a callback or a library thread: refused, the client is not freed",
            );
            return;
        }
        // SAFETY: a pointer from `Box::into_raw` in `avatarium_client_new`, freed once.
        let avatarium_client {
            runtime,
            client,
            calls,
        } = *unsafe { Box::from_raw(client) };
        // Cancels what is in flight; bounded, so free never waits behind a decode.
        let _ = runtime.block_on(client.close());
        calls.wait_idle();
        {
            // Stores may spawn their closing work on drop.
            let _entered = runtime.enter();
            drop(client);
        }
        // Joins the worker threads (valgrind sees no thread left behind). The bound only
        // matters for pipeline work that ignored its cancel flag: it is left to finish alone.
        runtime.shutdown_timeout(FREE_WAIT);
    })
}

/// Call an API method by its Gigya name, blocking until it is done.
///
/// `method` is e.g. "accounts.importProfilePhoto"; `params_json` a JSON object of its
/// parameters (SPEC.md), or NULL / "" for none. On `AVATARIUM_STATUS_OK`, `*response_json` is the
/// response envelope, a JSON object with `errorCode` (0 on success), `statusCode`,
/// `callId`, `time`, ... that the caller frees with `avatarium_string_free()`. API errors are in
/// the envelope (`errorCode` != 0), not in the status. On any other status
/// `*response_json` is NULL.
///
/// # Safety
/// `client` is NULL or a live client; `method` and `params_json` are NULL or
/// NUL-terminated strings; `response_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn avatarium_client_call(
    client: *const avatarium_client,
    method: *const c_char,
    params_json: *const c_char,
    response_json: *mut *mut c_char,
) -> avatarium_status {
    status_boundary(|| {
        // SAFETY (all four): the caller's contract.
        let out = unsafe { ffi::out_arg(response_json, "response_json") }?;
        let c = unsafe { ffi::ref_arg(client, "client") }?;
        let method = unsafe { ffi::str_arg(method, "method") }?.to_string();
        let params = unsafe { ffi::json_arg(params_json, "params_json") }?;
        c.run(
            |core| async move { core.call(&method, &params).await },
            Reply::Out(out),
        );
        Ok(())
    })
}

/// `avatarium_client_call()` with a callback, as the seed's JavaScript API has: it copies its
/// arguments, returns at once and later calls `callback(user_data, response_json)` exactly
/// once on a library worker thread (see `avatarium_callback`).
///
/// On any status other than `AVATARIUM_STATUS_OK` the call was not started and the callback is
/// never called.
///
/// # Safety
/// As `avatarium_client_call()`; `user_data` is passed to the callback untouched.
#[no_mangle]
pub unsafe extern "C" fn avatarium_client_call_async(
    client: *const avatarium_client,
    method: *const c_char,
    params_json: *const c_char,
    callback: avatarium_callback,
    user_data: *mut c_void,
) -> avatarium_status {
    status_boundary(|| {
        // SAFETY (all three): the caller's contract.
        let c = unsafe { ffi::ref_arg(client, "client") }?;
        let method = unsafe { ffi::str_arg(method, "method") }?.to_string();
        let params = unsafe { ffi::json_arg(params_json, "params_json") }?;
        let reply = callback_reply(callback, user_data)?;
        c.run(
            |core| async move { core.call(&method, &params).await },
            reply,
        );
        Ok(())
    })
}

/// The request of `avatarium_client_import_photo()`.
///
/// # Safety
/// `uid`, `reg_token` and `url` are NULL or NUL-terminated strings.
unsafe fn import_request(
    uid: *const c_char,
    reg_token: *const c_char,
    url: *const c_char,
    publish: bool,
) -> Result<Built, Failure> {
    const METHOD: Method = Method::ImportProfilePhoto;
    // SAFETY (both): the caller's contract.
    let url = unsafe { ffi::str_arg(url, "url") }?.to_owned();
    Ok(
        unsafe { identity(METHOD, uid, reg_token) }?.map(|who| Request::ImportProfilePhoto {
            who,
            url,
            publish,
        }),
    )
}

/// `accounts.importProfilePhoto`, blocking: fetch the photo at `url` for the account named
/// by exactly one of `uid` and `reg_token` (the other NULL), keep it pending, or publish it
/// at once when `publish` is true. `*response_json` as for `avatarium_client_call()`.
///
/// # Safety
/// `client` is NULL or a live client; the strings are NULL or NUL-terminated;
/// `response_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn avatarium_client_import_photo(
    client: *const avatarium_client,
    uid: *const c_char,
    reg_token: *const c_char,
    url: *const c_char,
    publish: bool,
    response_json: *mut *mut c_char,
) -> avatarium_status {
    status_boundary(|| {
        // SAFETY (all three): the caller's contract.
        let out = unsafe { ffi::out_arg(response_json, "response_json") }?;
        let c = unsafe { ffi::ref_arg(client, "client") }?;
        let built = unsafe { import_request(uid, reg_token, url, publish) }?;
        c.run_request(built, Reply::Out(out));
        Ok(())
    })
}

/// `avatarium_client_import_photo()` with a callback (see `avatarium_client_call_async()`).
///
/// # Safety
/// As `avatarium_client_import_photo()`; `user_data` is passed to the callback untouched.
#[no_mangle]
pub unsafe extern "C" fn avatarium_client_import_photo_async(
    client: *const avatarium_client,
    uid: *const c_char,
    reg_token: *const c_char,
    url: *const c_char,
    publish: bool,
    callback: avatarium_callback,
    user_data: *mut c_void,
) -> avatarium_status {
    status_boundary(|| {
        // SAFETY (both): the caller's contract.
        let c = unsafe { ffi::ref_arg(client, "client") }?;
        let built = unsafe { import_request(uid, reg_token, url, publish) }?;
        c.run_request(built, callback_reply(callback, user_data)?);
        Ok(())
    })
}

/// The request of `avatarium_client_upload_photo()`: the bytes copied raw (the core
/// checks their size).
///
/// # Safety
/// As `avatarium_client_upload_photo()`.
unsafe fn upload_request(
    uid: *const c_char,
    reg_token: *const c_char,
    photo: *const u8,
    photo_len: usize,
    publish: bool,
) -> Result<Built, Failure> {
    // SAFETY (both): the caller's contract.
    let who = unsafe { identity(Method::SetProfilePhoto, uid, reg_token) }?;
    let bytes = unsafe { ffi::bytes_arg(photo, photo_len, "photo") }?;
    Ok(who.map(|who| Request::SetProfilePhoto {
        who,
        // One copy, owned by the request (`Vec` → `Bytes` moves it).
        photo: bytes.to_vec().into(),
        publish,
    }))
}

/// `accounts.setProfilePhoto` from raw bytes, blocking: the photo file's `photo_len` bytes
/// at `photo` (no base64 needed; the library copies them before returning), for the
/// account named by exactly one of `uid` and `reg_token`. `photo` may be NULL only when
/// `photo_len` is 0. `*response_json` as for `avatarium_client_call()`.
///
/// # Safety
/// `client` is NULL or a live client; the strings are NULL or NUL-terminated; `photo` is
/// NULL or points at `photo_len` readable bytes; `response_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn avatarium_client_upload_photo(
    client: *const avatarium_client,
    uid: *const c_char,
    reg_token: *const c_char,
    photo: *const u8,
    photo_len: usize,
    publish: bool,
    response_json: *mut *mut c_char,
) -> avatarium_status {
    status_boundary(|| {
        // SAFETY (all three): the caller's contract.
        let out = unsafe { ffi::out_arg(response_json, "response_json") }?;
        let c = unsafe { ffi::ref_arg(client, "client") }?;
        let built = unsafe { upload_request(uid, reg_token, photo, photo_len, publish) }?;
        c.run_request(built, Reply::Out(out));
        Ok(())
    })
}

/// `avatarium_client_upload_photo()` with a callback (see `avatarium_client_call_async()`). The bytes
/// are copied before it returns.
///
/// # Safety
/// As `avatarium_client_upload_photo()`; `user_data` is passed to the callback untouched.
#[no_mangle]
pub unsafe extern "C" fn avatarium_client_upload_photo_async(
    client: *const avatarium_client,
    uid: *const c_char,
    reg_token: *const c_char,
    photo: *const u8,
    photo_len: usize,
    publish: bool,
    callback: avatarium_callback,
    user_data: *mut c_void,
) -> avatarium_status {
    status_boundary(|| {
        // SAFETY (both): the caller's contract.
        let c = unsafe { ffi::ref_arg(client, "client") }?;
        let built = unsafe { upload_request(uid, reg_token, photo, photo_len, publish) }?;
        c.run_request(built, callback_reply(callback, user_data)?);
        Ok(())
    })
}

/// `accounts.publishProfilePhoto`, blocking: publish the pending photo of the account
/// named by exactly one of `uid` and `reg_token`. `*response_json` as for
/// `avatarium_client_call()`.
///
/// # Safety
/// `client` is NULL or a live client; the strings are NULL or NUL-terminated;
/// `response_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn avatarium_client_publish_photo(
    client: *const avatarium_client,
    uid: *const c_char,
    reg_token: *const c_char,
    response_json: *mut *mut c_char,
) -> avatarium_status {
    status_boundary(|| {
        // SAFETY (all four): the caller's contract.
        let out = unsafe { ffi::out_arg(response_json, "response_json") }?;
        let c = unsafe { ffi::ref_arg(client, "client") }?;
        let built = unsafe { identity(Method::PublishProfilePhoto, uid, reg_token) }?
            .map(|who| Request::PublishProfilePhoto { who });
        c.run_request(built, Reply::Out(out));
        Ok(())
    })
}

/// The operator's purge, blocking: delete expired pending photos, abandoned registrations
/// and blobs no account points at. `*response_json` is an envelope with `expiredPending`,
/// `blobsDeleted` and `abandonedRegistrations`, freed with `avatarium_string_free()`.
///
/// # Safety
/// `client` is NULL or a live client; `response_json` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn avatarium_client_purge(
    client: *const avatarium_client,
    response_json: *mut *mut c_char,
) -> avatarium_status {
    status_boundary(|| {
        // SAFETY (both): the caller's contract.
        let out = unsafe { ffi::out_arg(response_json, "response_json") }?;
        let c = unsafe { ffi::ref_arg(client, "client") }?;
        c.run(
            |core| async move { core.purge_response().await },
            Reply::Out(out),
        );
        Ok(())
    })
}
