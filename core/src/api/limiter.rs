//! Bounds on concurrent work: N run, up to Q wait, the rest fail fast (503001) instead of
//! piling up memory. One limiter for decodes (imports), one for fetches.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, ErrorKind, Result};
use crate::telemetry;

#[derive(Debug)]
pub(crate) struct Limiter {
    slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    /// What runs, plural ("imports", "fetches"), for the 503001 details.
    what: &'static str,
    gauges: Gauges,
}

/// The gauges a limiter moves: units running, units waiting.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gauges {
    pub running: &'static str,
    pub queued: &'static str,
}

pub(crate) const IMPORT_GAUGES: Gauges = Gauges {
    running: telemetry::IMPORTS_RUNNING,
    queued: telemetry::IMPORTS_QUEUED,
};
pub(crate) const FETCH_GAUGES: Gauges = Gauges {
    running: telemetry::FETCHES_RUNNING,
    queued: telemetry::FETCHES_QUEUED,
};

/// One running unit of work; the slot is free again when this is dropped.
#[derive(Debug)]
pub(crate) struct Permit {
    _slot: OwnedSemaphorePermit,
    running: &'static str,
}

impl Permit {
    fn new(slot: OwnedSemaphorePermit, running: &'static str) -> Self {
        telemetry::gauge_add(running, 1.0);
        Permit {
            _slot: slot,
            running,
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        telemetry::gauge_add(self.running, -1.0);
    }
}

/// Counts a waiter for as long as it waits (also when its future is dropped).
struct Waiting(Arc<AtomicUsize>, &'static str);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
        telemetry::gauge_add(self.1, -1.0);
    }
}

impl Limiter {
    pub fn new(running: usize, max_waiting: usize, what: &'static str, gauges: Gauges) -> Self {
        Limiter {
            slots: Arc::new(Semaphore::new(running.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting,
            what,
            gauges,
        }
    }

    pub async fn acquire(&self) -> Result<Permit> {
        if let Ok(p) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(Permit::new(p, self.gauges.running));
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::new(
                ErrorKind::Busy,
                format!("Too many {} in progress; try again later", self.what),
            )
            .transient());
        }
        telemetry::gauge_add(self.gauges.queued, 1.0);
        let waiting = Waiting(Arc::clone(&self.waiting), self.gauges.queued);
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(Error::internal)?;
        drop(waiting);
        Ok(Permit::new(permit, self.gauges.running))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_queue_fails_fast() {
        let l = Arc::new(Limiter::new(1, 1, "fetches", FETCH_GAUGES));
        let first = l.acquire().await.unwrap();
        let l2 = Arc::clone(&l);
        let waiter = tokio::spawn(async move { l2.acquire().await.map(|_| ()) });
        tokio::task::yield_now().await;
        while l.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let third = l.acquire().await.unwrap_err();
        assert_eq!(third.kind(), ErrorKind::Busy);
        assert!(third.details().contains("Too many fetches"), "{third}");
        assert!(third.is_transient(), "a full queue may have room later");
        drop(first);
        waiter.await.unwrap().unwrap();
        assert_eq!(l.waiting.load(Ordering::SeqCst), 0);
    }
}
