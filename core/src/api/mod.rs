//! The API: one typed async method per SPEC.md method, and [`Client::call`], the generic
//! Gigya-style entry point built on them (in `dispatch.rs`).

mod dispatch;
mod limiter;
mod served;
mod types;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sha2::{Digest, Sha256};

pub use types::{
    AccountInfo, Identity, ImportResult, PhotoUrls, Policies, PurgeReport, Registration,
};

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::error::{Error, ErrorKind, Result};
use crate::fetch::{FetchConfig, Fetcher, NameResolver, SystemResolver};
use crate::pipeline::{self, Encoded, Limits};
use crate::store::{
    AccountRecord, BlobStore, MetaStore, ObjectBlobStore, PhotoRecord, SqlMetaStore,
};
use crate::token::TokenKeys;
use limiter::ImportLimiter;

/// Thumbnail sizes a policy may set.
const THUMBNAIL_RANGE: std::ops::RangeInclusive<u32> = 1..=1024;

/// The engine. Cheap to clone; all clones share stores, limits and the fetcher.
///
/// It needs a tokio runtime to run on (the caller's); it never starts one of its own.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    fetcher: Fetcher,
    tokens: TokenKeys,
    clock: Arc<dyn Clock>,
    limits: Limits,
    public_base_url: String,
    limiter: ImportLimiter,
    local_blob_dir: Option<PathBuf>,
}

/// Builds a [`Client`]; every part can be replaced (tests inject clocks, resolvers and
/// failing stores).
#[derive(Debug)]
pub struct ClientBuilder {
    config: Config,
    meta: Option<Arc<dyn MetaStore>>,
    blobs: Option<Arc<dyn BlobStore>>,
    clock: Option<Arc<dyn Clock>>,
    resolver: Option<Arc<dyn NameResolver>>,
}

impl ClientBuilder {
    pub fn meta_store(mut self, meta: Arc<dyn MetaStore>) -> Self {
        self.meta = Some(meta);
        self
    }

    pub fn blob_store(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.blobs = Some(blobs);
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self
    }

    pub fn resolver(mut self, resolver: Arc<dyn NameResolver>) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// Open the stores (creating the embedded default on first use) and check the
    /// configuration.
    pub async fn build(self) -> Result<Client> {
        let config = self.config;
        config.validate()?;
        let data_dir = std::path::absolute(&config.data_dir).map_err(Error::internal)?;
        let needs_dir = self.meta.is_none() && config.database_url.is_none()
            || self.blobs.is_none() && config.blob_store.is_none()
            || config.secrets.is_empty();
        if needs_dir {
            std::fs::create_dir_all(&data_dir).map_err(Error::internal)?;
        }

        let meta: Arc<dyn MetaStore> = match self.meta {
            Some(m) => m,
            None => {
                let url = match &config.database_url {
                    Some(u) => u.clone(),
                    None => sqlite_url(&data_dir.join("avatarium.db")),
                };
                Arc::new(SqlMetaStore::connect(&url).await?)
            }
        };

        let blob_dir = blob_folder(&config, &data_dir)?;
        let local_blob_dir = match self.blobs {
            None => blob_dir.clone(),
            Some(_) => None,
        };
        let blobs: Arc<dyn BlobStore> = match self.blobs {
            Some(b) => b,
            None => match (&blob_dir, &config.blob_store) {
                (Some(dir), _) => Arc::new(ObjectBlobStore::local(dir)?),
                // A remote store: `s3://bucket?endpoint=…` (docs/scale-out.md).
                (None, Some(spec)) => crate::store::open_blob_store(spec)?,
                (None, None) => return Err(Error::missing("blob_store")),
            },
        };

        let public_base_url = match (&config.public_base_url, &blob_dir) {
            (Some(u), _) => with_trailing_slash(u),
            (None, Some(dir)) => url::Url::from_directory_path(dir)
                .map_err(|_| Error::invalid("public_base_url", "blob folder is not absolute"))?
                .to_string(),
            (None, None) => return Err(Error::missing("public_base_url")),
        };

        let secrets = if config.secrets.is_empty() {
            vec![load_or_create_secret(&data_dir)?]
        } else {
            config
                .secrets
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect()
        };

        let fetcher = Fetcher::with_resolver(
            fetch_config(&config),
            self.resolver.unwrap_or_else(|| Arc::new(SystemResolver)),
        )?;

        let limits = Limits {
            max_bytes: config.max_photo_bytes,
            max_pixels: config.max_pixels,
            max_side: config.max_side,
            max_aspect_ratio: config.max_aspect_ratio,
            photo_max_side: config.photo_max_side,
            jpeg_quality: config.jpeg_quality,
        };
        let limiter = ImportLimiter::new(config.concurrency(), config.queue_len());
        Ok(Client {
            inner: Arc::new(Inner {
                tokens: TokenKeys::new(secrets)?,
                clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
                config,
                meta,
                blobs,
                fetcher,
                limits,
                public_base_url,
                limiter,
                local_blob_dir,
            }),
        })
    }
}

impl Client {
    /// Open a client on the configured stores (the embedded default when none are set).
    pub async fn open(config: Config) -> Result<Client> {
        Self::builder(config).build().await
    }

    pub fn builder(config: Config) -> ClientBuilder {
        ClientBuilder {
            config,
            meta: None,
            blobs: None,
            clock: None,
            resolver: None,
        }
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The local folder the blobs are kept in, when the blob store is one (the default):
    /// faces that serve the photos themselves (the REST endpoint) read them from there.
    pub fn local_blob_dir(&self) -> Option<&Path> {
        self.inner.local_blob_dir.as_deref()
    }

    fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// `accounts.importProfilePhoto`: fetch the photo at `url`, validate and re-encode it,
    /// keep it as the pending photo, or publish it at once.
    pub async fn import_profile_photo(
        &self,
        who: &Identity,
        url: &str,
        publish: bool,
    ) -> Result<ImportResult> {
        let uid = self.resolve_for_write(who).await?;
        let permit = self.inner.limiter.acquire().await?;
        let bytes = self.inner.fetcher.fetch(url).await?;
        self.store_photo(uid, bytes, publish, permit).await
    }

    /// `accounts.setProfilePhoto` / `accounts.uploadProfilePhoto`: the same from bytes.
    pub async fn set_profile_photo(
        &self,
        who: &Identity,
        bytes: Bytes,
        publish: bool,
    ) -> Result<ImportResult> {
        if bytes.len() as u64 > self.inner.limits.max_bytes {
            return Err(too_many_bytes(
                bytes.len() as u64,
                self.inner.limits.max_bytes,
            ));
        }
        let uid = self.resolve_for_write(who).await?;
        let permit = self.inner.limiter.acquire().await?;
        self.store_photo(uid, bytes, publish, permit).await
    }

    /// `accounts.publishProfilePhoto`: move the pending photo into the profile.
    pub async fn publish_profile_photo(&self, who: &Identity) -> Result<PhotoUrls> {
        let account = self.resolve_existing(who).await?;
        let pending = account
            .pending
            .ok_or_else(|| Error::bad_photo("There is no pending photo to publish"))?;
        let not_before = self.now_ms() - ttl_ms(self.inner.config.pending_ttl_secs);
        if pending.created_ms < not_before {
            return Err(Error::bad_photo("The pending photo has expired"));
        }
        let policy = self.policies().await?;
        let thumb_key = if (pending.thumb_width, pending.thumb_height)
            == (policy.thumbnail_width, policy.thumbnail_height)
        {
            pending.thumb_key.clone()
        } else {
            // The policy changed since the import: trim the stored photo again.
            let photo = self.inner.blobs.get(&pending.photo_key).await?;
            let limits = self.inner.limits.clone();
            let thumb = self
                .run_pipeline(None, move || {
                    pipeline::thumbnail(
                        &photo,
                        &limits,
                        policy.thumbnail_width,
                        policy.thumbnail_height,
                    )
                })
                .await?;
            self.put_blob(thumb).await?
        };
        let published = self
            .inner
            .meta
            .publish_pending(&account.uid, &pending.photo_key, &thumb_key, not_before)
            .await?;
        if !published {
            // Another call published, replaced or removed it first.
            return Err(Error::bad_photo("There is no pending photo to publish"));
        }
        Ok(self.urls(&pending.photo_key, &thumb_key))
    }

    /// `accounts.removeProfilePhoto`: clear the published photo and any pending one.
    pub async fn remove_profile_photo(&self, who: &Identity) -> Result<String> {
        let account = self.resolve_existing(who).await?;
        if !self.inner.meta.remove_photos(&account.uid).await? {
            return Err(Error::unauthorized("Unknown UID"));
        }
        Ok(account.uid)
    }

    /// `accounts.getAccountInfo`.
    pub async fn get_account_info(&self, who: &Identity) -> Result<AccountInfo> {
        let account = self.resolve_existing(who).await?;
        Ok(AccountInfo {
            photo: account.published.as_ref().map(|(p, t)| self.urls(p, t)),
            uid: account.uid,
            is_registered: account.is_registered,
        })
    }

    /// `accounts.initRegistration`: a new pending account and its regToken.
    pub async fn init_registration(&self) -> Result<Registration> {
        let now = self.now_ms();
        let uid = new_uid()?;
        if !self.inner.meta.create_account(&uid, false, now).await? {
            return Err(Error::internal("UID collision"));
        }
        let expires = now + ttl_ms(self.inner.config.reg_token_ttl_secs);
        Ok(Registration {
            reg_token: self.inner.tokens.issue(&uid, expires),
            uid,
        })
    }

    /// `accounts.finalizeRegistration`: mark the account registered; the token is refused
    /// afterwards.
    pub async fn finalize_registration(&self, reg_token: &str) -> Result<AccountInfo> {
        let account = self
            .resolve_existing(&Identity::RegToken(reg_token.to_string()))
            .await?;
        if !self.inner.meta.finalize(&account.uid).await? {
            return Err(Error::unauthorized(
                "Invalid regToken: registration already finalized",
            ));
        }
        Ok(AccountInfo {
            photo: account.published.as_ref().map(|(p, t)| self.urls(p, t)),
            uid: account.uid,
            is_registered: true,
        })
    }

    /// `accounts.getPolicies` (the `profilePhoto` part).
    pub async fn policies(&self) -> Result<Policies> {
        Ok(match self.inner.meta.thumbnail_policy().await? {
            Some((w, h)) => Policies {
                thumbnail_width: w,
                thumbnail_height: h,
            },
            None => Policies::default(),
        })
    }

    /// `accounts.setPolicies` (the `profilePhoto` part).
    pub async fn set_policies(&self, policies: Policies) -> Result<Policies> {
        for (name, v) in [
            ("thumbnailWidth", policies.thumbnail_width),
            ("thumbnailHeight", policies.thumbnail_height),
        ] {
            if !THUMBNAIL_RANGE.contains(&v) {
                return Err(Error::invalid(
                    &format!("profilePhoto.{name}"),
                    format!(
                        "must be between {} and {}",
                        THUMBNAIL_RANGE.start(),
                        THUMBNAIL_RANGE.end()
                    ),
                ));
            }
        }
        self.inner
            .meta
            .set_thumbnail_policy(policies.thumbnail_width, policies.thumbnail_height)
            .await?;
        Ok(policies)
    }

    /// Delete expired pending photos and blobs no account points at (older than the
    /// grace period, so an import between its blob write and its metadata commit is safe).
    pub async fn purge(&self) -> Result<PurgeReport> {
        let now = self.now_ms();
        let expired_pending = self
            .inner
            .meta
            .purge_expired_pending(now - ttl_ms(self.inner.config.pending_ttl_secs))
            .await?;
        // Listing before reading the references: a blob written and committed after the
        // listing is either too young to delete or already referenced.
        let blobs = self.inner.blobs.list().await?;
        let referenced = self.inner.meta.referenced_keys().await?;
        let cutoff = now - ttl_ms(self.inner.config.purge_grace_secs);
        let mut blobs_deleted = 0;
        for blob in blobs {
            if referenced.contains(&blob.key) || blob.last_modified_ms >= cutoff {
                continue;
            }
            // Re-checked under the key's lock: an import in any process may be writing it.
            if self
                .inner
                .meta
                .delete_blob_if_unused(&blob.key, cutoff, self.inner.blobs.as_ref())
                .await?
            {
                blobs_deleted += 1;
            }
        }
        tracing::info!(expired_pending, blobs_deleted, "purge done");
        Ok(PurgeReport {
            expired_pending,
            blobs_deleted,
        })
    }

    /// The generic entry point: Gigya-style method name and JSON parameters in, the
    /// response envelope out. Never fails: errors are in the envelope.
    pub async fn call(&self, method: &str, params: &serde_json::Value) -> crate::Response {
        dispatch::call(self, method, params).await
    }

    /// [`Client::purge`] with its report (`expiredPending`, `blobsDeleted`) in a response
    /// envelope, for faces that speak envelopes.
    pub async fn purge_envelope(&self) -> crate::Response {
        dispatch::purge(self).await
    }

    // ---- internals ----

    /// The UID a write (import/upload) is for. A trusted UID gets a record on first use.
    async fn resolve_for_write(&self, who: &Identity) -> Result<String> {
        match who {
            Identity::Uid(uid) => {
                check_uid(uid)?;
                self.inner.meta.ensure_account(uid, self.now_ms()).await?;
                Ok(uid.clone())
            }
            Identity::RegToken(_) => Ok(self.resolve_existing(who).await?.uid),
        }
    }

    /// The account a call is about; 403005 when unknown, or when the token is bad,
    /// expired or finalized.
    async fn resolve_existing(&self, who: &Identity) -> Result<AccountRecord> {
        match who {
            Identity::Uid(uid) => {
                check_uid(uid)?;
                self.inner
                    .meta
                    .account(uid)
                    .await?
                    .ok_or_else(|| Error::unauthorized("Unknown UID"))
            }
            Identity::RegToken(token) => {
                let claims = self.inner.tokens.verify(token, self.now_ms())?;
                let account = self
                    .inner
                    .meta
                    .account(&claims.uid)
                    .await?
                    .ok_or_else(|| Error::unauthorized("Invalid regToken: unknown account"))?;
                if account.is_registered {
                    return Err(Error::unauthorized(
                        "Invalid regToken: registration already finalized",
                    ));
                }
                Ok(account)
            }
        }
    }

    async fn store_photo(
        &self,
        uid: String,
        bytes: Bytes,
        publish: bool,
        permit: limiter::Permit,
    ) -> Result<ImportResult> {
        let policy = self.policies().await?;
        let limits = self.inner.limits.clone();
        let processed = self
            .run_pipeline(Some(permit), move || {
                pipeline::process(
                    &bytes,
                    &limits,
                    policy.thumbnail_width,
                    policy.thumbnail_height,
                )
            })
            .await?;
        let (thumb_width, thumb_height) = (processed.thumbnail.width, processed.thumbnail.height);
        // Blobs first, metadata second: a crash in between leaves only orphans for purge.
        let photo_key = self.put_blob(processed.photo).await?;
        let thumb_key = self.put_blob(processed.thumbnail).await?;
        let record = PhotoRecord {
            photo_key,
            thumb_key,
            thumb_width,
            thumb_height,
            created_ms: self.now_ms(),
        };
        let stored = if publish {
            self.inner.meta.publish_photo(&uid, &record).await?
        } else {
            self.inner.meta.set_pending(&uid, &record).await?
        };
        if !stored {
            return Err(Error::unauthorized("Unknown UID"));
        }
        tracing::info!(publish, photo = %record.photo_key, "photo stored");
        Ok(ImportResult {
            uid,
            published: publish.then(|| self.urls(&record.photo_key, &record.thumb_key)),
        })
    }

    /// CPU work off the async threads, with the decode deadline. The import permit moves
    /// into the blocking task: a timed-out decode keeps its slot until it really ends, so
    /// the bound on concurrent decodes (and their memory) holds.
    async fn run_pipeline<T, F>(&self, permit: Option<limiter::Permit>, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce() -> Result<T> + Send + 'static,
    {
        let task = tokio::task::spawn_blocking(move || {
            let result = work();
            drop(permit);
            result
        });
        let deadline = Duration::from_millis(self.inner.config.decode_timeout_ms);
        match tokio::time::timeout(deadline, task).await {
            Ok(Ok(result)) => result,
            Ok(Err(join_error)) => Err(Error::internal(join_error)),
            Err(_) => Err(Error::timeout("Processing the photo took too long")),
        }
    }

    async fn put_blob(&self, encoded: Encoded) -> Result<String> {
        let key = format!(
            "{}.{}",
            hex::encode(Sha256::digest(&encoded.bytes)),
            encoded.format.extension()
        );
        // Noted first, so that no purge deletes the key between this write and the
        // metadata that will point at it (the grace period covers that window).
        self.inner.meta.note_blob_write(&key, self.now_ms()).await?;
        self.inner
            .blobs
            .put(&key, Bytes::from(encoded.bytes))
            .await?;
        Ok(key)
    }

    fn urls(&self, photo_key: &str, thumb_key: &str) -> PhotoUrls {
        PhotoUrls {
            photo_url: sanitize_url(&format!("{}{}", self.inner.public_base_url, photo_key)),
            thumbnail_url: sanitize_url(&format!("{}{}", self.inner.public_base_url, thumb_key)),
        }
    }
}

fn fetch_config(config: &Config) -> FetchConfig {
    FetchConfig {
        connect_timeout: Duration::from_millis(config.fetch_connect_timeout_ms),
        timeout: Duration::from_millis(config.fetch_timeout_ms),
        max_redirects: config.fetch_max_redirects,
        allowed_ports: config.fetch_allowed_ports.clone(),
        max_url_len: config.fetch_max_url_len,
        max_bytes: config.max_photo_bytes,
        allow_loopback: config.allow_loopback,
        allow_private: config.allow_private,
        allow_addresses: config.allow_addresses.clone(),
    }
}

pub(crate) fn too_many_bytes(len: u64, max: u64) -> Error {
    Error::too_large(format!(
        "The photo is {len} bytes; the limit is {max} bytes"
    ))
}

fn ttl_ms(secs: u64) -> i64 {
    i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX / 4)
}

/// UIDs are caller text that ends up in the database: keep them printable and bounded.
fn check_uid(uid: &str) -> Result<()> {
    if uid.len() > 256 || uid.chars().any(|c| c.is_control()) {
        return Err(Error::invalid(
            "UID",
            "must be at most 256 printable characters",
        ));
    }
    Ok(())
}

fn new_uid() -> Result<String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| Error::internal(e.to_string()))?;
    Ok(hex::encode(b))
}

/// Gigya percent-encodes these in stored URL fields.
fn sanitize_url(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    for c in url.chars() {
        match c {
            '"' => out.push_str("%22"),
            '\'' => out.push_str("%27"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            _ => out.push(c),
        }
    }
    out
}

fn with_trailing_slash(u: &str) -> String {
    if u.ends_with('/') {
        u.to_string()
    } else {
        format!("{u}/")
    }
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

/// The local blob folder, when the blob store is one (`None` for remote stores).
fn blob_folder(config: &Config, data_dir: &Path) -> Result<Option<PathBuf>> {
    match config.blob_store.as_deref() {
        None => Ok(Some(data_dir.join("blobs"))),
        Some(s) if s.starts_with("file://") => {
            let url = url::Url::parse(s).map_err(|e| Error::invalid("blob_store", e))?;
            let path = url
                .to_file_path()
                .map_err(|_| Error::invalid("blob_store", "not a local path"))?;
            Ok(Some(path))
        }
        Some(s) if s.contains("://") => Ok(None),
        Some(s) => Ok(Some(std::path::absolute(s).map_err(Error::internal)?)),
    }
}

/// The regToken key kept in `data_dir`, created once (atomically, so concurrent first
/// starts agree on one key).
fn load_or_create_secret(data_dir: &Path) -> Result<Vec<u8>> {
    use std::io::Write;
    let path = data_dir.join("secret.key");
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| Error::internal(e.to_string()))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(&path) {
        Ok(mut f) => {
            f.write_all(hex::encode(key).as_bytes())
                .and_then(|_| f.sync_all())
                .map_err(Error::internal)?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(Error::internal(e)),
    }
    // Another process may have just created it: wait until its content is complete.
    for _ in 0..50 {
        let text = std::fs::read_to_string(&path).map_err(Error::internal)?;
        let text = text.trim();
        if text.len() >= 64 {
            return Ok(text.as_bytes().to_vec());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(Error::internal(format!("{} is too short", path.display())))
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Error::new(kind, kind.message())
    }
}
