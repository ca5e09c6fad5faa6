//! Work budgets, decided from the header before any decoder runs (docs/budgets.md).
//!
//! The pixel limits alone do not bound a decoder's work or memory: a progressive JPEG may
//! repeat scans over the same blocks as often as it likes (each empty scan costs ~10 bytes
//! and a walk over every block), and the fallback decoders keep full-resolution coefficient
//! planes whatever output size we ask for. So each JPEG is priced from its markers
//! ([`JpegPlan`]): scans, block visits and the fallback decoders' memory, and refused with
//! 413004 when over.

use super::jpeg_plan::JpegPlan;
use super::types::Limits;
use crate::error::{Error, Result};

/// The most scans a JPEG may have. libjpeg's progressive scripts use 10 scans for colour
/// (6 for gray), sequential files at most 4; encoders that refine bit by bit stay in the
/// tens. zune-jpeg refuses more than 100 scans by default: taking the same number keeps
/// every decoder path in agreement (a file with 101 scans would otherwise decode or fail
/// depending on the output size asked for). The block-visit budget below is the real bound
/// on CPU; this cap bounds the per-scan overhead of tiny images too.
pub(crate) const MAX_SCANS: u64 = 100;

/// Block visits allowed, in full passes over an image of `max_pixels` with one component:
/// the budget is `max_pixels / 64 × FULL_PASSES` 8×8 blocks. libjpeg's progression walks a
/// 4:4:4 colour image in 14 component passes (DC scans count every component), 4:2:0 in
/// about 8; 32 leaves room for encoders with more refinement scans. At the default 50 MP
/// that is 25 M block visits, a bounded cost on every decoder (docs/budgets.md has the
/// measured figures), where an unbounded file could ask for hours.
pub(crate) const FULL_PASSES: u64 = 32;

/// Room for the decoders' own buffers (rows, palettes, Huffman tables, ICC profile) on top
/// of the image.
pub(crate) const ALLOC_SLACK: u64 = 32 * 1024 * 1024;

/// Bytes a decode may allocate: 4 bytes per allowed pixel (RGBA) plus slack. The `image`
/// crate gets this as `max_alloc`; the JPEG fallbacks are priced against it.
pub fn memory_budget(limits: &Limits) -> u64 {
    limits
        .max_pixels
        .saturating_mul(4)
        .saturating_add(ALLOC_SLACK)
}

/// The most block visits a JPEG may ask for under `limits`.
pub(crate) fn block_visit_budget(limits: &Limits) -> u64 {
    (limits.max_pixels / 64).max(1).saturating_mul(FULL_PASSES)
}

/// Scans and block visits against the budget: 413004 when over.
pub(crate) fn check_work(plan: &JpegPlan, limits: &Limits) -> Result<()> {
    if plan.scans > MAX_SCANS {
        return Err(Error::too_large(format!(
            "the JPEG has more than {MAX_SCANS} scans"
        )));
    }
    let budget = block_visit_budget(limits);
    if plan.block_visits > budget {
        return Err(Error::too_large(format!(
            "decoding the JPEG would walk {} blocks over its {} scans; the limit is {budget}",
            plan.block_visits, plan.scans
        )));
    }
    Ok(())
}

/// Which fallback decoder, for [`check_fallback_memory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fallback {
    /// jpeg-decoder, with its IDCT scaled to `eighths`/8 (1, 2, 4 or 8).
    JpegDecoder { eighths: u32 },
    /// zune-jpeg at full size.
    Zune,
}

/// What `decoder` will allocate for `plan`, from the header alone: for progressive files
/// a full-resolution i16 coefficient plane per component (both keep one, whatever the
/// output size), the component sample planes, the output and our conversion of it.
pub(crate) fn fallback_memory(plan: &JpegPlan, decoder: Fallback) -> u64 {
    let blocks: u64 = plan.components.iter().map(|c| plan.padded_blocks(c)).sum();
    let coefficients = if plan.progressive { blocks * 64 * 2 } else { 0 };
    let eighths = match decoder {
        Fallback::JpegDecoder { eighths } => u64::from(eighths.clamp(1, 8)),
        Fallback::Zune => 8,
    };
    // Lossless samples are up to 16 bits.
    let sample_bytes = if plan.lossless { 2 } else { 1 };
    let planes = blocks * eighths * eighths * sample_bytes;
    let (w, h) = (u64::from(plan.width), u64::from(plan.height));
    let out_pixels = (w * eighths).div_ceil(8) * (h * eighths).div_ceil(8);
    let channels = plan.components.len() as u64;
    // The decoder's output, then our conversion to gray/RGB (at most 3 bytes a pixel).
    let output = out_pixels * channels * sample_bytes + out_pixels * 3;
    coefficients + planes + output
}

/// 413004 when `decoder` would need more memory for `plan` than [`memory_budget`].
pub(crate) fn check_fallback_memory(
    plan: &JpegPlan,
    decoder: Fallback,
    limits: &Limits,
) -> Result<()> {
    let need = fallback_memory(plan, decoder);
    let budget = memory_budget(limits);
    if need > budget {
        return Err(Error::too_large(format!(
            "decoding the {}x{} JPEG ({} components{}) needs about {} MB; the limit is {} MB",
            plan.width,
            plan.height,
            plan.components.len(),
            if plan.progressive {
                ", progressive"
            } else {
                ""
            },
            need / 1_000_000,
            budget / 1_000_000
        )));
    }
    Ok(())
}
