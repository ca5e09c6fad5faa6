//! A cancel flag the caller sets when it stops waiting (decode deadline, client close).
//! Decoders check it at least once per MCU row / scan / chunk of input, so the CPU and the
//! import slot are free soon after the caller gave up instead of when the decode ends.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

/// Shared by the waiting caller (which cancels) and the blocking work (which checks).
#[derive(Debug, Clone, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A flag that nobody has set yet.
    pub fn new() -> Self {
        Cancel::default()
    }

    /// Ask the work to stop at its next check.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// `Err(504002)` once cancelled: the caller has already answered with the timeout, so
    /// this error is only what the abandoned work returns to nobody.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::timeout("Processing the photo was cancelled"))
        } else {
            Ok(())
        }
    }
}
