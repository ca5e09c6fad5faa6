//! Per-site request budgets (403048) and the nonces seen within the timestamp window
//! (403004), both in bounded memory.

use std::collections::{BTreeSet, HashSet};
use std::sync::Mutex;
use std::time::Instant;

use sha2::{Digest, Sha256};

/// A token bucket: `per_minute` requests, refilled continuously; 0 means no limit.
#[derive(Debug)]
pub(crate) struct RateLimit {
    per_minute: u32,
    state: Mutex<(f64, Instant)>,
}

impl RateLimit {
    pub fn new(per_minute: u32) -> Self {
        RateLimit {
            per_minute,
            state: Mutex::new((f64::from(per_minute), Instant::now())),
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Takes one request from the budget; `false` when it is spent.
    pub fn allow(&self) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = &mut *state;
        let now = Instant::now();
        let capacity = f64::from(self.per_minute);
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * capacity / 60.0).min(capacity);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Why a nonce was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceError {
    Reused,
    /// The table is full of live nonces: refuse rather than forget one (which would allow
    /// a replay).
    Full,
}

/// Nonces by (credential, nonce), kept until their request's timestamp leaves the window.
/// Entries are 32-byte hashes, so memory is bounded by `capacity` whatever callers send.
#[derive(Debug)]
pub(crate) struct NonceCache {
    capacity: usize,
    inner: Mutex<Nonces>,
}

#[derive(Debug, Default)]
struct Nonces {
    seen: HashSet<[u8; 32]>,
    by_expiry: BTreeSet<(i64, [u8; 32])>,
}

impl NonceCache {
    pub fn new(capacity: usize) -> Self {
        NonceCache {
            capacity,
            inner: Mutex::default(),
        }
    }

    /// Records `nonce` for `credential` until `expires` (Unix seconds); `now` prunes.
    pub fn check_and_insert(
        &self,
        credential: &str,
        nonce: &str,
        expires: i64,
        now: i64,
    ) -> Result<(), NonceError> {
        let mut h = Sha256::new();
        h.update((credential.len() as u64).to_le_bytes());
        h.update(credential.as_bytes());
        h.update(nonce.as_bytes());
        let id: [u8; 32] = h.finalize().into();

        let mut n = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        while let Some(&(exp, old)) = n.by_expiry.first() {
            if exp >= now {
                break;
            }
            n.by_expiry.pop_first();
            n.seen.remove(&old);
        }
        if n.seen.contains(&id) {
            return Err(NonceError::Reused);
        }
        if n.seen.len() >= self.capacity {
            return Err(NonceError::Full);
        }
        n.seen.insert(id);
        n.by_expiry.insert((expires, id));
        Ok(())
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().unwrap().seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_refuses_when_spent() {
        let r = RateLimit::new(3);
        assert!(r.allow() && r.allow() && r.allow());
        assert!(!r.allow());
        assert!(RateLimit::new(0).allow());
    }

    #[test]
    fn nonces_expire_and_are_bounded() {
        let c = NonceCache::new(2);
        c.check_and_insert("k", "n1", 100, 0).unwrap();
        assert_eq!(
            c.check_and_insert("k", "n1", 100, 1),
            Err(NonceError::Reused)
        );
        c.check_and_insert("other", "n1", 100, 1).unwrap();
        assert_eq!(c.check_and_insert("k", "n2", 100, 2), Err(NonceError::Full));
        // After expiry both entries go, and the nonce may be seen again.
        c.check_and_insert("k", "n1", 300, 101).unwrap();
        assert_eq!(c.len(), 1);
    }
}
