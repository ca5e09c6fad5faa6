//! avatarium: the `accounts.importProfilePhoto` family of the Gigya Accounts API,
//! self-hosted. See `SPEC.md` of the project for methods, parameters and error codes.
//!
//! The public face is [`Client`]: a typed [`Request`] per API method (the [`Method`] table
//! says which exist and who may call them) runs with [`Client::run`] and gives a typed
//! [`Response`] that renders Gigya's envelope; the generic [`Client::call`] takes Gigya-style
//! JSON parameters. The typed async methods underneath are public too.
//! The crate never builds a tokio runtime of its own: callers (and the bindings) own it.
//!
//! Cargo feature `service` (default) builds the service: the API, the fetcher, the stores
//! and regTokens. Without it only the pure parts remain ([`pipeline`], [`fetch::policy`],
//! [`config`], [`error`], [`clock`]), which is what the fuzz targets link.

// Memory safety rests on the compiler alone: no unsafe code here (issue 14).
#![forbid(unsafe_code)]

#[cfg(feature = "service")]
mod api;
#[cfg(feature = "service")]
pub mod batch;
pub mod clock;
pub mod config;
#[cfg(feature = "service")]
mod envelope;
pub mod error;
#[cfg(feature = "service")]
pub mod fetch;
/// Without the `service` feature: only the pure URL/address policy of the fetcher.
#[cfg(not(feature = "service"))]
pub mod fetch {
    pub mod policy;
}
pub mod pipeline;
#[cfg(feature = "service")]
pub mod store;
pub mod telemetry;
#[cfg(feature = "service")]
mod token;

#[cfg(feature = "service")]
pub use api::{
    Access, AccountInfo, Client, ClientBuilder, Identity, ImportResult, LoginSession, Method,
    Output, PhotoInput, PhotoUrls, Policies, PolicyChange, PurgeReport, Readiness, Registration,
    Rendition, RenditionKind, Request, Response, ThumbnailCrop, ThumbnailScales, SESSION_PARAM,
};
pub use config::Config;
#[cfg(feature = "service")]
pub use envelope::Envelope;
pub use error::{Error, ErrorKind};

/// The library's version, as built.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
