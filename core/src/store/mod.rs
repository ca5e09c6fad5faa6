//! Storage behind two small traits: metadata ([`MetaStore`]) and blobs ([`BlobStore`]).
//! Nothing above this module knows which implementation runs: [`open_meta_store`] and
//! [`open_blob_store`] turn the operator's settings into one.
//!
//! Crash safety: callers write blobs before the metadata that points at them, so a crash
//! leaves at worst unreferenced blobs, which [`crate::Client::purge`] removes.

mod blobs;
mod migrations;
mod s3;
mod sql;
mod traits;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use blobs::ObjectBlobStore;
pub use s3::S3Location;
pub use sql::SqlMetaStore;
pub use traits::{
    AccountRecord, BatchRecord, BlobMeta, BlobStore, MetaStore, PhotoRecord, PolicyRecord,
    RenditionKind, RenditionRecord, SessionEnd,
};

use crate::error::{Error, Result};

/// The embedded default's SQLite file, in `data_dir`.
const DEFAULT_DATABASE_FILE: &str = "avatarium.db";
/// The embedded default's blob folder, in `data_dir`.
const DEFAULT_BLOB_FOLDER: &str = "blobs";

/// The metadata store of a `database_url` setting (`sqlite://…` or `postgres://…`), or
/// without one the embedded default: a SQLite file in `data_dir` (the folder is created
/// when missing). The schema is brought up to date either way.
pub async fn open_meta_store(
    database_url: Option<&str>,
    data_dir: &Path,
) -> Result<Arc<dyn MetaStore>> {
    let url = match database_url {
        Some(url) => url.to_string(),
        None => {
            std::fs::create_dir_all(data_dir).map_err(Error::internal)?;
            format!(
                "sqlite://{}",
                data_dir.join(DEFAULT_DATABASE_FILE).display()
            )
        }
    };
    Ok(Arc::new(SqlMetaStore::connect(&url).await?))
}

/// The blob store of a `blob_store` setting: a folder path, `file://…`, or
/// `s3://bucket[/prefix]?endpoint=…&region=…` (see [`S3Location`]); without one the
/// embedded default, `blobs/` in `data_dir`. Local folders are created when missing.
pub fn open_blob_store(setting: Option<&str>, data_dir: &Path) -> Result<Arc<dyn BlobStore>> {
    if let Some(folder) = blob_folder(setting, data_dir)? {
        return Ok(Arc::new(ObjectBlobStore::local(&folder)?));
    }
    match setting {
        Some(spec) if spec.starts_with("s3://") => {
            Ok(Arc::new(ObjectBlobStore::s3(&S3Location::parse(spec)?)?))
        }
        _ => Err(Error::invalid(
            "blob_store",
            "expected a folder, file://… or s3://bucket?endpoint=…",
        )),
    }
}

/// The local folder a `blob_store` setting names (absolute), or `None` for a remote
/// store (any other `scheme://`).
pub fn blob_folder(setting: Option<&str>, data_dir: &Path) -> Result<Option<PathBuf>> {
    let folder = match setting {
        None => data_dir.join(DEFAULT_BLOB_FOLDER),
        Some(s) if s.starts_with("file://") => url::Url::parse(s)
            .map_err(|e| Error::invalid("blob_store", e))?
            .to_file_path()
            .map_err(|_| Error::invalid("blob_store", "not a local path"))?,
        Some(s) if s.contains("://") => return Ok(None),
        Some(s) => PathBuf::from(s),
    };
    std::path::absolute(folder)
        .map(Some)
        .map_err(Error::internal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[tokio::test]
    async fn meta_store_default_is_a_sqlite_file_in_data_dir() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("not-yet");
        let meta = open_meta_store(None, &data_dir).await.unwrap();
        assert!(meta.create_account("u1", true, 1).await.unwrap());
        assert!(data_dir.join(DEFAULT_DATABASE_FILE).is_file());
        // The same file again: the account is there.
        let again = open_meta_store(None, &data_dir).await.unwrap();
        assert!(again.account("u1").await.unwrap().is_some());
    }

    #[tokio::test]
    async fn meta_store_refuses_other_urls_and_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("untouched");
        for url in ["mysql://db/x", "redis://127.0.0.1:9", "avatarium.db"] {
            let e = open_meta_store(Some(url), &data_dir).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidParameter, "{url}: {e}");
            assert!(e.details().contains("database_url"), "{url}: {e}");
        }
        assert!(!data_dir.exists(), "a refused URL created the data dir");
    }

    #[test]
    fn blob_folders_and_remote_stores() {
        let data_dir = Path::new("/srv/data");
        let folder = |s| blob_folder(s, data_dir).unwrap();
        assert_eq!(folder(None), Some(PathBuf::from("/srv/data/blobs")));
        assert_eq!(
            folder(Some("file:///var/photos")),
            Some(PathBuf::from("/var/photos"))
        );
        assert_eq!(
            folder(Some("/var/photos")),
            Some(PathBuf::from("/var/photos"))
        );
        let relative = folder(Some("photos")).unwrap();
        assert!(relative.is_absolute() && relative.ends_with("photos"));
        assert_eq!(
            folder(Some("s3://bucket?endpoint=http://127.0.0.1:9")),
            None
        );
        let e = blob_folder(Some("file://host/x"), data_dir).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidParameter);
    }

    #[test]
    fn blob_store_refuses_unknown_schemes() {
        let dir = tempfile::tempdir().unwrap();
        for spec in ["gs://bucket", "http://127.0.0.1:9/b"] {
            let e = open_blob_store(Some(spec), dir.path()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidParameter, "{spec}: {e}");
            assert!(e.details().contains("blob_store"), "{spec}: {e}");
        }
        let blobs = open_blob_store(None, dir.path()).unwrap();
        assert!(
            format!("{blobs:?}").contains("LocalFileSystem"),
            "{blobs:?}"
        );
        assert!(dir.path().join(DEFAULT_BLOB_FOLDER).is_dir());
    }
}
