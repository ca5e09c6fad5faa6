//! The engine's handle and what it holds.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::lifecycle::Lifecycle;
use super::limiter::Limiter;
use crate::clock::Clock;
use crate::config::Config;
use crate::fetch::Fetcher;
use crate::pipeline::Limits;
use crate::store::{BlobStore, MetaStore};
use crate::token::TokenKeys;

/// The engine. Cheap to clone; all clones share stores, limits and the fetcher.
///
/// It needs a tokio runtime to run on (the caller's); it never starts one of its own.
#[derive(Clone, Debug)]
pub struct Client {
    pub(super) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) config: Config,
    pub(super) meta: Arc<dyn MetaStore>,
    pub(super) blobs: Arc<dyn BlobStore>,
    pub(super) fetcher: Fetcher,
    pub(super) tokens: TokenKeys,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) limits: Limits,
    pub(super) public_base_url: String,
    /// Decode slots: held from the moment the bytes are in hand until the pipeline ends.
    pub(super) limiter: Limiter,
    /// Fetch slots: held while fetching and while the fetched bytes wait for a decode slot.
    pub(super) fetches: Limiter,
    pub(super) life: Lifecycle,
    pub(super) local_blob_dir: Option<PathBuf>,
}

impl Client {
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The local folder the blobs are kept in, when the blob store is one (the default):
    /// faces that serve the photos themselves (the REST endpoint) read them from there.
    pub fn local_blob_dir(&self) -> Option<&Path> {
        self.inner.local_blob_dir.as_deref()
    }

    /// The largest photo file accepted (`max_photo_bytes`), for faces that bound uploads.
    pub fn max_photo_bytes(&self) -> u64 {
        self.inner.limits.max_bytes
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// The metadata store, for the core's modules beside the API (batch progress).
    pub(crate) fn meta(&self) -> &dyn MetaStore {
        self.inner.meta.as_ref()
    }
}
