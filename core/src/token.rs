//! regTokens: opaque to callers, HMAC-SHA256-signed with the operator's keys, carrying the
//! UID and the expiry, and bound to one site. The first key signs; every key verifies
//! (rotation).
//!
//! Format: `<base64url(payload)>.<base64url(mac)>` with payload `v2|<uid>|<expiry ms>`. The
//! MAC covers the site scope (`Config::token_scope`: the apiKey under `serve`) followed by
//! the payload, so sites that share `secrets` still refuse each other's tokens, with the
//! error a forged token gets. The scope is signed, not carried: the token stays short.
//! `v1` tokens (unbound) are refused.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

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

/// A verified token's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenClaims {
    pub uid: String,
    pub expires_ms: i64,
}

impl TokenKeys {
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
        let payload = format!("v2|{uid}|{expires_ms}");
        let mac = self.mac(&self.keys[0], payload.as_bytes()).finalize();
        format!("{}.{}", B64.encode(payload), B64.encode(mac.into_bytes()))
    }

    /// Check signature (constant time, against every key) and expiry. The error's details
    /// say which check failed, never the token itself.
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<TokenClaims> {
        let forged = || Error::unauthorized("Invalid regToken: signature check failed");
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::unauthorized("Invalid regToken: malformed"));
        }
        let (payload_b64, mac_b64) = token
            .split_once('.')
            .ok_or_else(|| Error::unauthorized("Invalid regToken: malformed"))?;
        let payload = B64
            .decode(payload_b64)
            .map_err(|_| Error::unauthorized("Invalid regToken: malformed"))?;
        let mac = B64.decode(mac_b64).map_err(|_| forged())?;
        let signed_by_us = self
            .keys
            .iter()
            .any(|key| self.mac(key, &payload).verify_slice(&mac).is_ok());
        if !signed_by_us {
            return Err(forged());
        }
        let text = std::str::from_utf8(&payload).map_err(|_| forged())?;
        let mut parts = text.split('|');
        let (Some("v2"), Some(uid), Some(exp), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(forged());
        };
        let expires_ms: i64 = exp.parse().map_err(|_| forged())?;
        if now_ms >= expires_ms {
            return Err(Error::unauthorized("Invalid regToken: expired"));
        }
        Ok(TokenClaims {
            uid: uid.to_string(),
            expires_ms,
        })
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
}
