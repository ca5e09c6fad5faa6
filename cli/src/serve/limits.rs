//! Request budgets (403048): one per site, charged only for calls that authenticated with
//! the site's credentials, and one per client address, charged for everything else
//! (unauthenticated and failed calls); and the nonces seen within the timestamp window
//! (403004), one table per site. All in bounded memory.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::IpAddr;
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
        self.with_tokens(|tokens| {
            if *tokens >= 1.0 {
                *tokens -= 1.0;
                true
            } else {
                false
            }
        })
    }

    /// Whether one request would be allowed now, taking nothing: a cheap check before
    /// reading a body for a call that is charged only once it authenticates.
    pub fn has_room(&self) -> bool {
        self.with_tokens(|tokens| *tokens >= 1.0)
    }

    fn with_tokens(&self, f: impl FnOnce(&mut f64) -> bool) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = &mut *state;
        refill(tokens, last, self.per_minute);
        f(tokens)
    }
}

/// Adds what `per_minute` earns since `last`, up to one minute's worth.
fn refill(tokens: &mut f64, last: &mut Instant, per_minute: u32) {
    let now = Instant::now();
    let capacity = f64::from(per_minute);
    *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * capacity / 60.0).min(capacity);
    *last = now;
}

/// The unit an address budget is kept for: an IPv4 address, or an IPv6 /64 (what one
/// customer line usually gets, so rotating within it buys nothing).
pub(crate) fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

/// One token bucket per client address, for calls not authenticated by a site's secret:
/// strangers who hold the public apiKey spend their own budget, never the site's.
#[derive(Debug)]
pub(crate) struct AddressLimits {
    per_minute: u32,
    capacity: usize,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl AddressLimits {
    /// `per_minute` for each address (0: no limit); `capacity` addresses remembered.
    pub fn new(per_minute: u32, capacity: usize) -> Self {
        AddressLimits {
            per_minute,
            capacity,
            buckets: Mutex::default(),
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// `false` when `ip` has spent its budget: refuse before any other work.
    pub fn has_room(&self, ip: IpAddr) -> bool {
        self.with_bucket(ip, false)
    }

    /// Takes one request from `ip`'s budget; `false` when it was already spent.
    pub fn charge(&self, ip: IpAddr) -> bool {
        self.with_bucket(ip, true)
    }

    fn with_bucket(&self, ip: IpAddr, take: bool) -> bool {
        if self.per_minute == 0 {
            return true;
        }
        let key = address_key(ip);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let Some((tokens, last)) = buckets.get_mut(&key) else {
            if !take {
                return true;
            }
            if buckets.len() >= self.capacity {
                self.forget_full(&mut buckets);
            }
            let full = f64::from(self.per_minute);
            buckets.insert(key, (full - 1.0, Instant::now()));
            return true;
        };
        refill(tokens, last, self.per_minute);
        if *tokens < 1.0 {
            return false;
        }
        if take {
            *tokens -= 1.0;
        }
        true
    }

    /// Makes room: a full bucket is the same as none. If every remembered address is still
    /// short (a flood from more addresses than `capacity`), all are forgotten: each then
    /// starts afresh, which such an attacker could have had anyway.
    fn forget_full(&self, buckets: &mut HashMap<IpAddr, (f64, Instant)>) {
        let per_minute = self.per_minute;
        buckets.retain(|_, (tokens, last)| {
            refill(tokens, last, per_minute);
            *tokens < f64::from(per_minute)
        });
        if buckets.len() >= self.capacity {
            buckets.clear();
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
    fn address_buckets_are_per_address_and_bounded() {
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let limits = AddressLimits::new(2, 1);
        assert!(limits.has_room(a));
        assert!(limits.charge(a) && limits.charge(a));
        assert!(!limits.has_room(a) && !limits.charge(a));
        // A second address when only one fits: the spent one is forgotten.
        assert!(limits.charge(b));
        assert!(limits.has_room(a));
        // An IPv6 /64 is one address.
        let v6 = AddressLimits::new(1, 10);
        assert!(v6.charge("2001:db8::1".parse().unwrap()));
        assert!(!v6.has_room("2001:db8::ffff:1".parse().unwrap()));
        assert!(v6.has_room("2001:db8:0:1::1".parse().unwrap()));
        assert!(AddressLimits::new(0, 0).charge(a));
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
