//! profile-photo: the `accounts.importProfilePhoto` family of the Gigya Accounts API,
//! self-hosted. See `SPEC.md` of the project for methods, parameters and error codes.
//!
//! The public face is [`Client`]: typed async methods, one per API method, and the generic
//! [`Client::call`] that takes Gigya-style JSON parameters and returns the response envelope.
//! The crate never builds a tokio runtime of its own: callers (and the bindings) own it.

mod api;
pub mod clock;
pub mod config;
mod envelope;
pub mod error;
pub mod fetch;
pub mod pipeline;
pub mod store;
mod token;

pub use api::{
    AccountInfo, Client, ClientBuilder, Identity, ImportResult, PhotoUrls, Policies, PurgeReport,
    Registration,
};
pub use config::Config;
pub use envelope::Response;
pub use error::{Error, ErrorKind};

/// The library's version, as built.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
