//! [`BlobStore`] on `object_store`: a local folder by default; any store object_store
//! speaks behind the same code.

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use super::traits::{BlobMeta, BlobStore};
use crate::error::{Error, Result};

/// The key readiness probes look up: not of the engine's shape, so never listed or purged.
const PING_KEY: &str = "avatarium-ready-probe";

#[derive(Clone)]
pub struct ObjectBlobStore {
    store: Arc<dyn ObjectStore>,
}

/// Prints only what the store is (`LocalFileSystem(…)`, `AmazonS3(bucket)`): an S3
/// client's own `Debug` would show its credentials.
impl std::fmt::Debug for ObjectBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ObjectBlobStore({})", self.store)
    }
}

impl ObjectBlobStore {
    pub fn new(store: Arc<dyn ObjectStore>) -> Self {
        ObjectBlobStore { store }
    }

    /// A folder on the local disk (created when missing).
    pub fn local(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(Error::internal)?;
        let fs = LocalFileSystem::new_with_prefix(dir).map_err(Error::internal)?;
        Ok(Self::new(Arc::new(fs)))
    }

    fn path(key: &str) -> Result<ObjectPath> {
        // Keys are our own content hashes; refuse anything else rather than trust it.
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
        {
            return Err(Error::internal(format!("invalid blob key {key:?}")));
        }
        Ok(ObjectPath::from(key))
    }
}

#[async_trait::async_trait]
impl BlobStore for ObjectBlobStore {
    async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        let path = Self::path(key)?;
        self.store.put(&path, PutPayload::from(bytes)).await?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let path = Self::path(key)?;
        Ok(self.store.get(&path).await?.bytes().await?)
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        let path = Self::path(key)?;
        match self.store.head(&path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let path = Self::path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn ping(&self) -> Result<()> {
        // Absent is the usual answer; any other failure (a folder that is no folder, an
        // unreachable endpoint, refused credentials) is not.
        self.exists(PING_KEY).await.map(drop)
    }

    async fn list(&self) -> Result<Vec<BlobMeta>> {
        let metas: Vec<_> = self.store.list(None).try_collect().await?;
        Ok(metas
            .into_iter()
            .filter(|m| is_engine_key(m.location.as_ref()))
            .map(|m| BlobMeta {
                key: m.location.to_string(),
                last_modified_ms: m.last_modified.timestamp_millis(),
            })
            .collect())
    }
}

/// Whether `key` has the shape the engine gives its blobs: the SHA-256 of the content in
/// lower-case hex, a dot, a short extension. Listing returns only those, so purge never
/// touches other objects that share the bucket, prefix or folder (nor a store's temporary
/// files).
fn is_engine_key(key: &str) -> bool {
    match key.split_once('.') {
        Some((hash, ext)) => {
            hash.len() == 64
                && hash
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                && (1..=8).contains(&ext.len())
                && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_engine_key;

    #[test]
    fn only_content_hash_keys_are_ours() {
        let hash = "eda6811216e67e661041ff8b8c49fd9320f517bafd3c16a8fe536f1352cf0298";
        assert!(is_engine_key(&format!("{hash}.png")));
        assert!(is_engine_key(&format!("{hash}.jpg")));
        for other in [
            "readme.txt".to_string(),
            hash.to_string(),
            format!("{hash}.png#1"),
            format!("{hash}.tar.gz"),
            format!("dir/{hash}.png"),
            hash.to_uppercase() + ".png",
        ] {
            assert!(!is_engine_key(&other), "{other}");
        }
    }
}
