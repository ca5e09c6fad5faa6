//! regTokens: opaque to callers, HMAC-SHA256-signed with the operator's keys, carrying the
//! UID and the expiry, and bound to one site. The first key signs; every key verifies
//! (rotation).
//!
//! Format: `<base64url(payload)>.<base64url(mac)>` with payload `v2|<uid>|<expiry ms>`. The
//! MAC covers the site scope (`Config::token_scope`: the apiKey under `serve`) followed by
//! the payload, so sites that share `secrets` still refuse each other's tokens, with the
//! error a forged token gets. The scope is signed, not carried: the token stays short.
//! `v1` tokens (unbound) are refused. Login sessions use the same keys and scope with
//! their own tag (`s1`, see [`TokenKeys::issue_session`]).
//!
//! The keys are the operator's `secrets`, or else (the embedded default) one key generated
//! once into `data_dir/secret.key`, readable by its owner only.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::config::Config;
use crate::error::{Error, Result};

type HmacSha256 = Hmac<Sha256>;

/// Longest token we even try to parse: tokens are ~100 bytes.
const MAX_TOKEN_LEN: usize = 512;

#[derive(Clone)]
pub(crate) struct TokenKeys {
    keys: Vec<Vec<u8>>,
    scope: String,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenKeys({} keys, redacted)", self.keys.len())
    }
}

fn forged(what: &str) -> Error {
    Error::unauthorized(format!("Invalid {what}: signature check failed"))
}

/// A login session, as its token carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SessionClaims {
    /// Random, 128 bits in hex: what a logout records.
    pub session_id: String,
    pub uid: String,
    pub issued_ms: i64,
    pub expires_ms: i64,
}

/// A verified token's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenClaims {
    pub uid: String,
    pub expires_ms: i64,
}

impl TokenKeys {
    /// The keys of `config`, valid for its site: its `secrets`, or else the key kept in
    /// `data_dir` (created on first use, see [`load_or_create_secret`]).
    pub fn from_config(config: &Config, data_dir: &Path) -> Result<Self> {
        let keys = if config.secrets.is_empty() {
            vec![load_or_create_secret(data_dir)?]
        } else {
            config
                .secrets
                .iter()
                .map(|s| s.as_bytes().to_vec())
                .collect()
        };
        Self::new(keys, config.token_scope())
    }

    /// `keys` must not be empty; the first signs. Tokens are valid for `scope` only.
    pub fn new(keys: Vec<Vec<u8>>, scope: &str) -> Result<Self> {
        if keys.is_empty() {
            return Err(Error::internal("no regToken key configured"));
        }
        Ok(TokenKeys {
            keys,
            scope: scope.to_string(),
        })
    }

    pub fn issue(&self, uid: &str, expires_ms: i64) -> String {
        self.seal(&format!("v2|{uid}|{expires_ms}"))
    }

    /// Check signature (constant time, against every key) and expiry. The error's details
    /// say which check failed, never the token itself.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<TokenClaims> {
        const WHAT: &str = "regToken";
        let text = self.open(token, WHAT)?;
        let mut parts = text.split('|');
        let (Some("v2"), Some(uid), Some(exp), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(forged(WHAT));
        };
        let expires_ms: i64 = exp.parse().map_err(|_| forged(WHAT))?;
        if now_ms >= expires_ms {
            return Err(Error::unauthorized("Invalid regToken: expired"));
        }
        Ok(TokenClaims {
            uid: uid.to_string(),
            expires_ms,
        })
    }

    /// A login session's token: payload `s1|<session id>|<issued ms>|<expiry ms>|<uid>`
    /// (the UID last, so any character it holds is safe). Its own tag: a regToken is never
    /// a session and a session never a regToken, although both are signed by the same keys.
    pub fn issue_session(&self, session: &SessionClaims) -> String {
        let SessionClaims {
            session_id,
            uid,
            issued_ms,
            expires_ms,
        } = session;
        self.seal(&format!("s1|{session_id}|{issued_ms}|{expires_ms}|{uid}"))
    }

    /// A session token's claims, once its signature and expiry are checked. Whether it
    /// was ended (logout) is the store's to say.
    pub fn verify_session(&self, token: &str, now_ms: i64) -> Result<SessionClaims> {
        const WHAT: &str = "session";
        let text = self.open(token, WHAT)?;
        let mut parts = text.splitn(5, '|');
        let (Some("s1"), Some(sid), Some(issued), Some(exp), Some(uid)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(forged(WHAT));
        };
        let (Ok(issued_ms), Ok(expires_ms)) = (issued.parse::<i64>(), exp.parse::<i64>()) else {
            return Err(forged(WHAT));
        };
        if now_ms >= expires_ms {
            return Err(Error::unauthorized("Invalid session: expired"));
        }
        Ok(SessionClaims {
            session_id: sid.to_string(),
            uid: uid.to_string(),
            issued_ms,
            expires_ms,
        })
    }

    /// `<base64url(payload)>.<base64url(mac)>`.
    fn seal(&self, payload: &str) -> String {
        let mac = self.mac(&self.keys[0], payload.as_bytes()).finalize();
        format!("{}.{}", B64.encode(payload), B64.encode(mac.into_bytes()))
    }

    /// The payload of a token we signed for this scope (any of our keys, constant-time
    /// comparison); `what` names the token in the error.
    fn open(&self, token: &str, what: &str) -> Result<String> {
        let malformed = || Error::unauthorized(format!("Invalid {what}: malformed"));
        if token.len() > MAX_TOKEN_LEN {
            return Err(malformed());
        }
        let (payload_b64, mac_b64) = token.split_once('.').ok_or_else(malformed)?;
        let payload = B64.decode(payload_b64).map_err(|_| malformed())?;
        let mac = B64.decode(mac_b64).map_err(|_| forged(what))?;
        let signed_by_us = self
            .keys
            .iter()
            .any(|key| self.mac(key, &payload).verify_slice(&mac).is_ok());
        if !signed_by_us {
            return Err(forged(what));
        }
        String::from_utf8(payload).map_err(|_| forged(what))
    }

    /// HMAC over the scope (length-prefixed, so no scope/payload split is ambiguous) and
    /// the payload.
    fn mac(&self, key: &[u8], payload: &[u8]) -> HmacSha256 {
        let mut m =
            <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
        m.update(&(self.scope.len() as u64).to_be_bytes());
        m.update(self.scope.as_bytes());
        m.update(payload);
        m
    }
}

/// The generated key's file in `data_dir`.
const SECRET_FILE: &str = "secret.key";

/// Shortest key a secret file may hold: the generated one is 64 hex characters (32
/// random bytes), and the file's text is the key.
const MIN_SECRET_LEN: usize = 64;

/// The regToken key kept in `data_dir/secret.key`, generated on first use. The file
/// appears complete or not at all: it is written and synced under a temporary name, then
/// hard-linked into place, which fails when another process got there first, so
/// concurrent first starts all end up with the winner's key and nobody ever reads half a
/// file. An existing file that others may read or write, or that is too short, is refused
/// (not repaired): it is the operator's to fix.
pub(crate) fn load_or_create_secret(data_dir: &Path) -> Result<Vec<u8>> {
    let path = data_dir.join(SECRET_FILE);
    match read_secret(&path) {
        Err(SecretError::Missing) => {}
        other => return other.map_err(|e| e.into_error(&path)),
    }
    create_secret(data_dir, &path)?;
    read_secret(&path).map_err(|e| e.into_error(&path))
}

enum SecretError {
    Missing,
    Io(std::io::Error),
    OpenToOthers(u32),
    TooShort,
}

impl SecretError {
    fn into_error(self, path: &Path) -> Error {
        let path = path.display();
        match self {
            SecretError::Missing => Error::internal(format!("{path} vanished after it was created")),
            SecretError::Io(e) => Error::internal(format!("{path}: {e}")),
            SecretError::OpenToOthers(mode) => Error::invalid(
                "secrets",
                format!("{path} is open to other users (mode {mode:03o}): `chmod 600` it"),
            ),
            SecretError::TooShort => Error::invalid(
                "secrets",
                format!(
                    "{path} holds fewer than {MIN_SECRET_LEN} characters: remove it to generate a new key"
                ),
            ),
        }
    }
}

fn read_secret(path: &Path) -> std::result::Result<Vec<u8>, SecretError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(SecretError::Missing),
        Err(e) => return Err(SecretError::Io(e)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(SecretError::Io)?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(SecretError::OpenToOthers(mode & 0o777));
        }
    }
    let key = text.trim();
    if key.len() < MIN_SECRET_LEN {
        return Err(SecretError::TooShort);
    }
    Ok(key.as_bytes().to_vec())
}

/// Write a new key to `path` unless a file is there already (then the other one stays).
fn create_secret(data_dir: &Path, path: &Path) -> Result<()> {
    std::fs::create_dir_all(data_dir).map_err(Error::internal)?;
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| Error::internal(e.to_string()))?;
    let mut tag = [0u8; 8];
    getrandom::fill(&mut tag).map_err(|e| Error::internal(e.to_string()))?;
    let staging = data_dir.join(format!(".{SECRET_FILE}.{}.tmp", hex::encode(tag)));
    let written = write_private(&staging, hex::encode(key).as_bytes());
    let linked = written.and_then(|()| match std::fs::hard_link(&staging, path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    });
    // The staging name is ours alone; a crash may leave one behind, never a half key.
    let _ = std::fs::remove_file(&staging);
    linked.map_err(|e| Error::internal(format!("creating {}: {e}", path.display())))?;
    // The new name durable too: a key lost in a power cut would void the tokens issued.
    #[cfg(unix)]
    if let Ok(dir) = std::fs::File::open(data_dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// A new file with `bytes`, mode 0600 from the start, synced.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> TokenKeys {
        scoped(k, "site-a")
    }

    fn scoped(k: &[&str], scope: &str) -> TokenKeys {
        TokenKeys::new(k.iter().map(|s| s.as_bytes().to_vec()).collect(), scope).unwrap()
    }

    #[test]
    fn bound_to_the_site() {
        let a = scoped(&["shared-key-0123456789"], "site-a");
        let b = scoped(&["shared-key-0123456789"], "site-b");
        let t = a.issue("u1", 5000);
        assert_eq!(a.verify(&t, 0).unwrap().uid, "u1");
        let refused = b.verify(&t, 0).unwrap_err();
        assert_eq!(refused.kind(), crate::ErrorKind::Unauthorized);
        assert!(refused.details().contains("signature"), "{refused}");
        // Scope and payload cannot trade bytes: "site-a" + "x|…" is not "site-ax" + "|…".
        let ax = scoped(&["shared-key-0123456789"], "site-ax");
        assert!(ax.verify(&t, 0).is_err());
    }

    fn session(uid: &str, expires_ms: i64) -> SessionClaims {
        SessionClaims {
            session_id: "0123abcd".into(),
            uid: uid.into(),
            issued_ms: 10,
            expires_ms,
        }
    }

    #[test]
    fn sessions_and_reg_tokens_never_pass_for_each_other() {
        let k = keys(&["key-one-0123456789"]);
        let s = k.issue_session(&session("a|b", 5000));
        assert_eq!(k.verify_session(&s, 0).unwrap(), session("a|b", 5000));
        let e = k.verify(&s, 0).unwrap_err();
        assert!(e.details().contains("regToken"), "{e}");
        let r = k.issue("u1", 5000);
        let e = k.verify_session(&r, 0).unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Unauthorized);
        assert!(e.details().starts_with("Invalid session"), "{e}");
        let e = k.verify_session(&s, 5000).unwrap_err();
        assert!(e.details().contains("expired"), "{e}");
        assert!(scoped(&["key-one-0123456789"], "site-b")
            .verify_session(&s, 0)
            .is_err());
        let (_, mac) = s.split_once('.').unwrap();
        let other = B64.encode("s1|0123abcd|10|5000|admin");
        assert!(k.verify_session(&format!("{other}.{mac}"), 0).is_err());
    }

    #[test]
    fn unbound_v1_tokens_refused() {
        let k = keys(&["key-one-0123456789"]);
        let payload = "v1|u1|99999";
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(b"key-one-0123456789").unwrap();
        m.update(payload.as_bytes());
        let v1 = format!(
            "{}.{}",
            B64.encode(payload),
            B64.encode(m.finalize().into_bytes())
        );
        assert!(k.verify(&v1, 0).is_err());
    }

    #[test]
    fn round_trip_and_expiry() {
        let k = keys(&["key-one-0123456789"]);
        let t = k.issue("abc", 1000);
        assert_eq!(k.verify(&t, 999).unwrap().uid, "abc");
        let e = k.verify(&t, 1000).unwrap_err();
        assert!(e.details().contains("expired"));
    }

    #[test]
    fn rotation_old_key_still_verifies_new_key_signs() {
        let old = keys(&["old-key-0123456789"]);
        let t_old = old.issue("u1", 5000);
        let rotated = keys(&["new-key-0123456789", "old-key-0123456789"]);
        assert_eq!(rotated.verify(&t_old, 0).unwrap().uid, "u1");
        let t_new = rotated.issue("u2", 5000);
        assert!(old.verify(&t_new, 0).is_err());
    }

    #[test]
    fn forgeries_refused() {
        let k = keys(&["key-one-0123456789"]);
        let t = k.issue("abc", 10_000);
        let (p, m) = t.split_once('.').unwrap();
        // Payload altered to another UID, signature kept.
        let other = B64.encode("v2|admin|10000");
        assert!(k
            .verify(&format!("{other}.{m}"), 0)
            .unwrap_err()
            .details()
            .contains("signature"));
        // Expiry extended.
        let later = B64.encode("v2|abc|99999999");
        assert!(k.verify(&format!("{later}.{m}"), 0).is_err());
        // Garbage of all sorts.
        for bad in [
            "",
            ".",
            "abc",
            &format!("{p}."),
            &format!("{p}.!!!"),
            &"a".repeat(600),
        ] {
            assert!(k.verify(bad, 0).is_err(), "{bad}");
        }
        // Another operator's key.
        assert!(keys(&["someone-else-0123456"]).verify(&t, 0).is_err());
    }

    #[test]
    fn secret_file_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join("new");
        let key = load_or_create_secret(&data_dir).unwrap();
        assert_eq!(key.len(), 64);
        assert!(key.iter().all(u8::is_ascii_hexdigit));
        assert_eq!(load_or_create_secret(&data_dir).unwrap(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(data_dir.join(SECRET_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        // Only the key is left: no staging file.
        let names: Vec<_> = std::fs::read_dir(&data_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [SECRET_FILE]);
    }

    #[test]
    fn concurrent_first_starts_agree_on_one_key() {
        for _ in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let data_dir = dir.path().to_path_buf();
            let start = std::sync::Barrier::new(8);
            let keys: Vec<_> = std::thread::scope(|s| {
                let handles: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            start.wait();
                            load_or_create_secret(&data_dir)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            let first = keys[0].as_ref().unwrap();
            for k in &keys {
                assert_eq!(k.as_ref().unwrap(), first);
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn secret_file_open_to_others_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        load_or_create_secret(dir.path()).unwrap();
        let path = dir.path().join(SECRET_FILE);
        for mode in [0o644, 0o640, 0o602] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let e = load_or_create_secret(dir.path()).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter, "{e}");
            assert!(e.details().contains("chmod 600"), "{e}");
            assert!(e.details().contains(&format!("{mode:03o}")), "{e}");
        }
        // Not repaired behind the operator's back.
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o602);
    }

    /// A crash of the old writer (create, then write) left an empty file that every later
    /// start waited a second on and then failed with "too short". An empty or short file
    /// is refused at once, saying what to do.
    #[test]
    fn short_secret_file_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(SECRET_FILE);
        for text in ["", "0123abcd\n"] {
            std::fs::write(&path, text).unwrap();
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            }
            let started = std::time::Instant::now();
            let e = load_or_create_secret(dir.path()).unwrap_err();
            let took = started.elapsed();
            assert_eq!(e.kind(), crate::ErrorKind::InvalidParameter, "{e}");
            assert!(e.details().contains("remove it"), "{e}");
            assert!(took < std::time::Duration::from_millis(100), "{took:?}");
            // The file stays as it was: a key is never replaced.
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        }
    }

    #[test]
    fn operator_secrets_take_precedence_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            secrets: vec!["operator-key-0123456789".into()],
            ..Config::default()
        };
        let keys = TokenKeys::from_config(&config, dir.path()).unwrap();
        let token = keys.issue("u1", 5000);
        let by_name = TokenKeys::new(
            vec![b"operator-key-0123456789".to_vec()],
            config.token_scope(),
        );
        assert_eq!(by_name.unwrap().verify(&token, 0).unwrap().uid, "u1");
        assert!(
            !dir.path().join(SECRET_FILE).exists(),
            "a file was generated"
        );
    }
}
