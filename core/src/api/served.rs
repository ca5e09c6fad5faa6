//! Which blob keys a server may still hand out: a photo stays public only while some
//! account points at it (published or pending). After `removeProfilePhoto` (or a newer
//! photo) the old key is refused at once, although its blob stays until purge.

use super::client::Client;
use crate::error::Result;

impl Client {
    /// Whether blob `key` is the photo or thumbnail, published or pending, of some account
    /// of this client's store: one indexed look-up, cheap enough for every photo request.
    pub async fn is_served_key(&self, key: &str) -> Result<bool> {
        self.inner.meta.is_referenced(key).await
    }
}
