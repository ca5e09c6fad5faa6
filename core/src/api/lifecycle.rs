//! What `Client::close` needs: a closing signal every call listens to, counts of the calls
//! and of the blocking pipeline work in flight, and the cancel-on-drop guard that stops a
//! decode whose caller stopped waiting (deadline, close, dropped future).

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};

use crate::error::{Error, ErrorKind, Result};
use crate::pipeline::Cancel;

/// The error of a call refused or interrupted because the client is closing: 503001, the
/// code of "the service cannot take this now" (SPEC.md has none for it).
pub(crate) fn closed_error() -> Error {
    Error::new(ErrorKind::Busy, "The client is closed")
}

#[derive(Debug)]
pub(crate) struct Lifecycle {
    closed: watch::Sender<bool>,
    /// Public calls in flight.
    pub calls: Tracker,
    /// Blocking pipeline tasks alive (they outlive an abandoned call until their next
    /// cancel check).
    pub work: Tracker,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            closed: watch::Sender::new(false),
            calls: Tracker::default(),
            work: Tracker::default(),
        }
    }
}

impl Lifecycle {
    pub fn close(&self) {
        self.closed.send_replace(true);
    }

    pub fn is_closed(&self) -> bool {
        *self.closed.borrow()
    }

    /// Run one public call: refused once closed, and cut short (its future dropped, so
    /// its fetch is closed and its decode cancelled) when the client closes meanwhile.
    pub async fn track<T>(&self, call: impl Future<Output = Result<T>>) -> Result<T> {
        // Counted before the flag is read: `close` sets the flag, then waits for the count.
        let _counted = self.calls.enter();
        let mut closed = self.closed.subscribe();
        if *closed.borrow_and_update() {
            return Err(closed_error());
        }
        tokio::select! {
            biased;
            _ = closed.wait_for(|c| *c) => Err(closed_error()),
            out = call => out,
        }
    }
}

/// A count of things in flight that can be waited on until it reaches zero.
#[derive(Debug, Default, Clone)]
pub(crate) struct Tracker(Arc<TrackerInner>);

#[derive(Debug, Default)]
struct TrackerInner {
    count: AtomicUsize,
    idle: Notify,
}

/// One thing in flight; uncounted when dropped (on any thread).
#[derive(Debug)]
pub(crate) struct Tracked(Arc<TrackerInner>);

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl Tracker {
    pub fn enter(&self) -> Tracked {
        self.0.count.fetch_add(1, Ordering::SeqCst);
        Tracked(Arc::clone(&self.0))
    }

    pub fn count(&self) -> usize {
        self.0.count.load(Ordering::SeqCst)
    }

    /// Wait until nothing is in flight, at most `limit`; true if that happened.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.0.idle.notified();
            tokio::pin!(notified);
            // Registered before the count is read, so a drop in between is not missed.
            notified.as_mut().enable();
            if self.count() == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.count() == 0;
            }
        }
    }
}

/// Cancels the pipeline work when dropped: on the deadline, on close, and when the
/// caller's future is dropped (a client that went away). After a normal end it cancels
/// work that has already finished, which is harmless.
pub(crate) struct CancelOnDrop(pub Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn close_interrupts_and_refuses() {
        let life = Arc::new(Lifecycle::default());
        let l = Arc::clone(&life);
        let pending =
            tokio::spawn(async move { l.track(std::future::pending::<Result<()>>()).await });
        while life.calls.count() == 0 {
            tokio::task::yield_now().await;
        }
        life.close();
        let interrupted = pending.await.unwrap().unwrap_err();
        assert_eq!(interrupted.kind(), ErrorKind::Busy);
        assert!(life.calls.wait_idle(Duration::from_secs(1)).await);
        let refused = life.track(async { Ok(()) }).await.unwrap_err();
        assert_eq!(refused.details(), "The client is closed");
    }

    #[tokio::test]
    async fn wait_idle_is_bounded() {
        let t = Tracker::default();
        let held = t.enter();
        let start = std::time::Instant::now();
        assert!(!t.wait_idle(Duration::from_millis(50)).await);
        assert!(start.elapsed() < Duration::from_secs(1));
        let t2 = t.clone();
        let waiter = tokio::spawn(async move { t2.wait_idle(Duration::from_secs(5)).await });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(held);
        assert!(waiter.await.unwrap());
    }
}
