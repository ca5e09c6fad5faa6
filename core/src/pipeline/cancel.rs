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

/// Input for the decoders we do not own (jpeg-decoder, zune-jpeg, png, gif): a cursor over
/// the bytes that hands them out at most [`CancelReader::STEP`] bytes at a time and reports
/// the end of the input once `cancel` is set. Those decoders read incrementally, so each
/// stops within one step of input (or one MCU row: zune-jpeg checks for the end per row)
/// of the cancel; the caller then turns whatever they return into 504002.
pub(crate) struct CancelReader<'a> {
    inner: std::io::Cursor<&'a [u8]>,
    cancel: &'a Cancel,
}

impl<'a> CancelReader<'a> {
    /// 8 KiB: even a zlib stream of zeros (~1000:1) inflates only a few MB per step.
    pub(crate) const STEP: usize = 8 * 1024;

    pub(crate) fn new(bytes: &'a [u8], cancel: &'a Cancel) -> Self {
        CancelReader {
            inner: std::io::Cursor::new(bytes),
            cancel,
        }
    }
}

impl std::io::Read for CancelReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Ok(0);
        }
        let n = buf.len().min(Self::STEP);
        self.inner.read(&mut buf[..n])
    }
}

impl std::io::BufRead for CancelReader<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if self.cancel.is_cancelled() {
            return Ok(&[]);
        }
        let buf = self.inner.fill_buf()?;
        Ok(&buf[..buf.len().min(Self::STEP)])
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
    }
}

impl std::io::Seek for CancelReader<'_> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.inner.seek(pos)
    }
}
