//! The per-host limit of a batch: at most N imports in flight per origin host, so a batch
//! never hammers one origin however its rows are ordered. A host's entry lives only while
//! some row of it is running or waiting, so memory follows the rows in flight, not the
//! number of hosts seen.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

#[derive(Debug)]
pub(super) struct HostLimits {
    per_host: usize,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

/// A row's slot at its host; freed (and the host forgotten when idle) on drop.
#[derive(Debug)]
pub(super) struct HostSlot {
    permit: Option<OwnedSemaphorePermit>,
    host: String,
    hosts: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl HostLimits {
    pub fn new(per_host: usize) -> Self {
        HostLimits {
            per_host: per_host.max(1),
            hosts: Arc::default(),
        }
    }

    /// Wait for a slot at `host` (lower-cased by the caller).
    pub async fn acquire(&self, host: &str) -> HostSlot {
        let slots = {
            let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(
                hosts
                    .entry(host.to_string())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.per_host))),
            )
        };
        // The semaphore is never closed, so acquiring fails never; a closed one would
        // mean no limit rather than a stuck batch.
        let permit = slots.acquire_owned().await.ok();
        HostSlot {
            permit,
            host: host.to_string(),
            hosts: Arc::clone(&self.hosts),
        }
    }

    #[cfg(test)]
    fn known_hosts(&self) -> usize {
        self.hosts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

impl Drop for HostSlot {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        // Only the map holds it: nobody runs or waits at this host any more. Waiters
        // clone the Arc under this same lock, so none can appear between check and removal.
        if hosts
            .get(&self.host)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            hosts.remove(&self.host);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limits_each_host_and_forgets_idle_ones() {
        let limits = HostLimits::new(2);
        let a1 = limits.acquire("a").await;
        let _a2 = limits.acquire("a").await;
        let b = limits.acquire("b").await;
        // A third slot at "a" waits; "b" is independent.
        let third =
            tokio::time::timeout(std::time::Duration::from_millis(50), limits.acquire("a")).await;
        assert!(third.is_err(), "a third slot at one host must wait");
        drop(b);
        assert_eq!(limits.known_hosts(), 1, "an idle host is forgotten");
        drop(a1);
        let _a3 = limits.acquire("a").await;
        assert_eq!(limits.known_hosts(), 1);
    }
}
