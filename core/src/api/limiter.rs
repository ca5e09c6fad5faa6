//! Bounds on concurrent work: N run, up to Q wait, the rest fail fast (503001) instead of
//! piling up memory. One limiter for decodes (imports), one for fetches.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{Error, ErrorKind, Result};

#[derive(Debug)]
pub(crate) struct Limiter {
    slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    max_waiting: usize,
    /// What runs, plural ("imports", "fetches"), for the 503001 details.
    what: &'static str,
}

/// One running unit of work; the slot is free again when this is dropped.
#[derive(Debug)]
pub(crate) struct Permit(#[allow(dead_code)] OwnedSemaphorePermit);

/// Counts a waiter for as long as it waits (also when its future is dropped).
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Limiter {
    pub fn new(running: usize, max_waiting: usize, what: &'static str) -> Self {
        Limiter {
            slots: Arc::new(Semaphore::new(running.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            max_waiting,
            what,
        }
    }

    pub async fn acquire(&self) -> Result<Permit> {
        if let Ok(p) = Arc::clone(&self.slots).try_acquire_owned() {
            return Ok(Permit(p));
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_waiting {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Error::new(
                ErrorKind::Busy,
                format!("Too many {} in progress; try again later", self.what),
            ));
        }
        let _waiting = Waiting(Arc::clone(&self.waiting));
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .map_err(Error::internal)?;
        Ok(Permit(permit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bounded_queue_fails_fast() {
        let l = Arc::new(Limiter::new(1, 1, "fetches"));
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
        drop(first);
        waiter.await.unwrap().unwrap();
        assert_eq!(l.waiting.load(Ordering::SeqCst), 0);
    }
}
