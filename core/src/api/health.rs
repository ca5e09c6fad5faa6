//! Readiness: whether this client's stores answer, for a face's health endpoint
//! (`avatarium serve`'s `/readyz`).

use std::future::Future;
use std::time::Duration;

use super::client::Client;
use crate::error::{Error, Result};

/// The answer of each store to one readiness probe. An error is `Timeout` (504002) when
/// the store did not answer in time, another kind when it answered with a failure; its
/// details are for logs (they may name hosts or paths), not for the caller.
#[derive(Debug)]
pub struct Readiness {
    /// Whether the client still takes calls: a closed one (a server shutting down) answers
    /// every call 503001, so it is not ready whatever its stores say.
    pub open: bool,
    /// The metadata store (SQLite or PostgreSQL).
    pub metadata: Result<()>,
    /// The blob store (a local folder or S3).
    pub blobs: Result<()>,
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.open && self.metadata.is_ok() && self.blobs.is_ok()
    }
}

impl Client {
    /// Probes both stores at once, each given at most `timeout`: the metadata store with
    /// one trivial query (which also checks the schema), the blob store with one look-up.
    /// Costs no decode or fetch slot; on a closed client the stores are still probed (for
    /// the log) but the answer is not ready.
    pub async fn ready(&self, timeout: Duration) -> Readiness {
        let (metadata, blobs) = tokio::join!(
            bounded("metadata store", timeout, self.inner.meta.ping()),
            bounded("blob store", timeout, self.inner.blobs.ping()),
        );
        Readiness {
            open: !self.inner.life.is_closed(),
            metadata,
            blobs,
        }
    }
}

async fn bounded(
    what: &str,
    timeout: Duration,
    probe: impl Future<Output = Result<()>>,
) -> Result<()> {
    match tokio::time::timeout(timeout, probe).await {
        Ok(answer) => answer,
        Err(_) => Err(Error::timeout(format!(
            "The {what} did not answer within {} ms",
            timeout.as_millis()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::ErrorKind;

    #[tokio::test]
    async fn a_blob_folder_that_is_a_file_is_not_ready() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_path_buf(),
            ..Config::default()
        };
        let client = Client::open(config).await.unwrap();
        let ok = client.ready(Duration::from_secs(2)).await;
        assert!(ok.is_ready(), "{ok:?}");
        let blobs = dir.path().join("blobs");
        std::fs::remove_dir_all(&blobs).unwrap();
        std::fs::write(&blobs, b"not a folder").unwrap();
        let r = client.ready(Duration::from_secs(2)).await;
        assert!(r.metadata.is_ok(), "{r:?}");
        let e = r.blobs.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Internal, "{e}");
        std::fs::remove_file(&blobs).unwrap();
        std::fs::create_dir(&blobs).unwrap();
        assert!(client.ready(Duration::from_secs(2)).await.is_ready());
        // Closed (a server shutting down): not ready, although its stores answer.
        client.close().await.unwrap();
        let r = client.ready(Duration::from_secs(2)).await;
        assert!(!r.open && r.metadata.is_ok() && r.blobs.is_ok(), "{r:?}");
        assert!(!r.is_ready());
    }
}
