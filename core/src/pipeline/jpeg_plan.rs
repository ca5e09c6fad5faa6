//! A cheap linear walk over a JPEG's markers, before any decoder sees the file: it reads
//! the frame header (SOF) and every scan header (SOS), steps over entropy-coded data without
//! decoding it, and refuses inconsistent structure with 409010. What it finds (scan count,
//! block visits, component layout) is what [`super::budget`] prices before decoding.
//!
//! Every decoder we use (ours, zune-jpeg, jpeg-decoder) walks the same markers the same
//! way: segments by their declared length, entropy data up to the next marker that is not
//! RSTn or a stuffed 0xFF, and the image ends at EOI. So the decoders cannot meet a scan
//! this walk did not count.

use crate::error::{Error, Result};

/// The next marker at or after `pos` and the position just past it. Junk and fill bytes
/// between segments are skipped, as libjpeg does; `None` at the end of the bytes. The one
/// rule for finding markers, shared by this walk and our decoder.
pub(crate) fn next_marker(bytes: &[u8], mut pos: usize) -> Option<(u8, usize)> {
    while pos < bytes.len()
        && !(bytes[pos] == 0xFF && bytes.get(pos + 1).is_some_and(|&m| m != 0 && m != 0xFF))
    {
        pos += 1;
    }
    let marker = *bytes.get(pos + 1)?;
    Some((marker, pos + 2))
}

/// Components in a frame or a scan: JPEG allows at most 4.
const MAX_COMPONENTS: usize = 4;

/// One frame component: its id and sampling factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameComponent {
    pub id: u8,
    pub h: u8,
    pub v: u8,
}

/// What the walk learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JpegPlan {
    pub width: u32,
    pub height: u32,
    pub progressive: bool,
    pub lossless: bool,
    pub components: Vec<FrameComponent>,
    /// SOS segments met before EOI (or the end of the bytes).
    pub scans: u64,
    /// Sum over the scans of the 8×8 blocks each one walks (see [`JpegPlan::scan_blocks`]).
    pub block_visits: u64,
}

impl JpegPlan {
    /// Walk `bytes` (which start with SOI). 409010 for a missing or inconsistent frame or scan
    /// header; a truncated file just ends the walk (the decoders refuse it on their own).
    /// The walk stops at scan `max_scans + 1`: the file is refused for that anyway, and a
    /// 6 MiB file of empty scans then costs no more than a short one.
    pub(crate) fn read(bytes: &[u8], max_scans: u64) -> Result<JpegPlan> {
        let mut plan: Option<JpegPlan> = None;
        let mut pos = 2;
        while let Some((marker, after)) = next_marker(bytes, pos) {
            pos = after;
            match marker {
                0xD9 => break,
                0xD0..=0xD7 | 0x01 | 0xD8 => continue,
                _ => {}
            }
            let Some(len) = bytes.get(pos..pos + 2) else {
                break;
            };
            let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
            let Some(seg) = bytes.get(pos + 2..pos + len.max(2)) else {
                break;
            };
            pos += len.max(2);
            match marker {
                0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                    if plan.is_some() {
                        return Err(Error::bad_photo("the JPEG has two frame headers"));
                    }
                    plan = Some(read_frame(marker, seg)?);
                }
                0xDA => {
                    let p = plan
                        .as_mut()
                        .ok_or_else(|| Error::bad_photo("the JPEG has a scan before its frame"))?;
                    let blocks = p.read_scan(seg)?;
                    p.scans += 1;
                    p.block_visits = p.block_visits.saturating_add(blocks);
                    if p.scans > max_scans {
                        break;
                    }
                    pos = entropy_end(bytes, pos);
                }
                _ => {}
            }
        }
        plan.ok_or_else(|| Error::bad_photo("the JPEG has no frame header"))
    }

    fn max_sampling(&self) -> (u64, u64) {
        let h = self.components.iter().map(|c| c.h).max().unwrap_or(1);
        let v = self.components.iter().map(|c| c.v).max().unwrap_or(1);
        (u64::from(h), u64::from(v))
    }

    /// MCUs across and down (interleaved layout).
    pub(crate) fn mcus(&self) -> (u64, u64) {
        let (hmax, vmax) = self.max_sampling();
        (
            u64::from(self.width).div_ceil(8 * hmax),
            u64::from(self.height).div_ceil(8 * vmax),
        )
    }

    /// Blocks a component holds in the padded (whole-MCU) grid: what decoders allocate.
    pub(crate) fn padded_blocks(&self, c: &FrameComponent) -> u64 {
        let (mx, my) = self.mcus();
        mx * u64::from(c.h) * my * u64::from(c.v)
    }

    /// Blocks a scan of `comps` (indices into the frame) walks: a one-component scan covers
    /// that component's own extent, an interleaved one every MCU.
    fn scan_blocks(&self, comps: &[usize]) -> u64 {
        if let [i] = comps {
            let c = &self.components[*i];
            let (hmax, vmax) = self.max_sampling();
            let w = (u64::from(self.width) * u64::from(c.h)).div_ceil(hmax);
            let h = (u64::from(self.height) * u64::from(c.v)).div_ceil(vmax);
            return w.div_ceil(8) * h.div_ceil(8);
        }
        comps
            .iter()
            .map(|&i| self.padded_blocks(&self.components[i]))
            .sum()
    }

    /// Check one SOS header against the frame; the blocks the scan will walk.
    fn read_scan(&self, seg: &[u8]) -> Result<u64> {
        let bad = |why: &str| Err(Error::bad_photo(format!("the JPEG scan header {why}")));
        let ns = usize::from(seg.first().copied().unwrap_or(0));
        if ns == 0 || ns > MAX_COMPONENTS || ns > self.components.len() {
            return bad(&format!("names {ns} components"));
        }
        if seg.len() < 1 + 2 * ns + 3 {
            return bad("is truncated");
        }
        let mut comps = Vec::with_capacity(ns);
        for pair in seg[1..1 + 2 * ns].chunks_exact(2) {
            let Some(i) = self.components.iter().position(|c| c.id == pair[0]) else {
                return bad(&format!("names component {} not in the frame", pair[0]));
            };
            if comps.contains(&i) {
                return bad(&format!("names component {} twice", pair[0]));
            }
            if pair[1] >> 4 > 3 || pair[1] & 15 > 3 {
                return bad("names a Huffman table beyond 3");
            }
            comps.push(i);
        }
        let p = 1 + 2 * ns;
        let (ss, se, ah, al) = (seg[p], seg[p + 1], seg[p + 2] >> 4, seg[p + 2] & 15);
        // Sequential and lossless decoders ignore or check these themselves (some baseline
        // encoders write zeros here); progressive scans steer the decoders' loops with them.
        if self.progressive
            && (se > 63
                || ss > se
                || (ss == 0 && se != 0)
                || (ss > 0 && ns != 1)
                || ah > 13
                || al > 13)
        {
            return bad(&format!(
                "has an invalid progression (Ss={ss} Se={se} Ah={ah} Al={al})"
            ));
        }
        Ok(self.scan_blocks(&comps))
    }
}

fn read_frame(marker: u8, seg: &[u8]) -> Result<JpegPlan> {
    let bad = |why: String| Err(Error::bad_photo(format!("the JPEG frame header {why}")));
    if seg.len() < 6 {
        return bad("is truncated".into());
    }
    let height = u32::from(u16::from_be_bytes([seg[1], seg[2]]));
    let width = u32::from(u16::from_be_bytes([seg[3], seg[4]]));
    let nc = usize::from(seg[5]);
    if nc == 0 || nc > MAX_COMPONENTS {
        return bad(format!("has {nc} components"));
    }
    let Some(list) = seg.get(6..6 + 3 * nc) else {
        return bad("is truncated".into());
    };
    let mut components: Vec<FrameComponent> = Vec::with_capacity(nc);
    for c in list.chunks_exact(3) {
        let (id, h, v) = (c[0], c[1] >> 4, c[1] & 15);
        if components.iter().any(|o| o.id == id) {
            return bad(format!("names component {id} twice"));
        }
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return bad(format!("gives component {id} sampling {h}x{v}"));
        }
        if c[2] > 3 {
            return bad(format!("gives component {id} quantization table {}", c[2]));
        }
        components.push(FrameComponent { id, h, v });
    }
    Ok(JpegPlan {
        width,
        height,
        progressive: matches!(marker, 0xC2 | 0xC6 | 0xCA | 0xCE),
        lossless: matches!(marker, 0xC3 | 0xC7 | 0xCB | 0xCF),
        components,
        scans: 0,
        block_visits: 0,
    })
}

/// The offset of the marker that ends the entropy-coded data starting at `pos`: the first
/// 0xFF followed by neither a stuffed 0x00, an RSTn nor another fill 0xFF.
fn entropy_end(bytes: &[u8], mut pos: usize) -> usize {
    while pos + 1 < bytes.len() {
        if bytes[pos] == 0xFF && !matches!(bytes[pos + 1], 0x00 | 0xD0..=0xD7 | 0xFF) {
            return pos;
        }
        pos += 1;
    }
    bytes.len()
}
