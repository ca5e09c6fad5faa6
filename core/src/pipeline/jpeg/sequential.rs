//! Sequential (baseline) scans: decoded and transformed block by block.

use super::huffman::{Bits, Huffman, LOOKAHEAD};
use super::idct::{clamp, Idct};
use super::{no, scan_layout, Frame, Unsupported, R, ZIGZAG};

#[allow(clippy::too_many_arguments)]
pub(super) fn decode_sequential(
    bits: &mut Bits,
    f: &mut Frame,
    sc: &[(usize, usize, usize)],
    qt: &[Option<[u16; 64]>; 4],
    dc: &[Option<Huffman>; 4],
    ac: &[Option<Huffman>; 4],
    restart_interval: usize,
    idct: &Idct,
) -> R<()> {
    struct Ctx<'t> {
        dc: &'t Huffman,
        ac: &'t Huffman,
        q: [f32; 64],
        keep: [bool; 64],
        sx: usize,
        sy: usize,
        stride: usize,
    }
    let mut ctx = Vec::with_capacity(sc.len());
    for &(ci, td, ta) in sc {
        let c = &f.comps[ci];
        let q = qt[c.tq].ok_or(Unsupported("missing DQT"))?;
        let mut keep = [false; 64];
        for k in 0..64 {
            let z = ZIGZAG[k];
            if z / 8 < c.sy && z % 8 < c.sx {
                keep[k] = true;
            }
        }
        ctx.push(Ctx {
            dc: dc[td].as_ref().ok_or(Unsupported("missing DC table"))?,
            ac: ac[ta].as_ref().ok_or(Unsupported("missing AC table"))?,
            q: q.map(f32::from),
            keep,
            sx: c.sx,
            sy: c.sy,
            stride: c.bw * c.sx,
        });
    }
    let mut pred = vec![0i32; sc.len()];
    let comp_of: Vec<usize> = sc.iter().map(|s| s.0).collect();
    // Split the planes out so they can be written while `f` is read.
    let mut planes: Vec<Vec<u8>> = comp_of
        .iter()
        .map(|&ci| std::mem::take(&mut f.comps[ci].plane))
        .collect();
    let mut blk = [0f32; 64];
    let (units_x, units_y, blocks) = scan_layout(f, sc);
    let mut count = 0usize;
    let mut result = Ok(());
    'scan: for uy in 0..units_y {
        if f.cancel.is_cancelled() {
            result = no("cancelled");
            break;
        }
        for ux in 0..units_x {
            if restart_interval > 0 && count > 0 && count.is_multiple_of(restart_interval) {
                bits.restart();
                pred.iter_mut().for_each(|p| *p = 0);
            }
            count += 1;
            for b in &blocks {
                let (i, bx, by) = b.at(ux, uy);
                let t = &ctx[i];
                let ac_kept =
                    match decode_block(bits, t.dc, t.ac, &mut pred[i], &t.keep, &t.q, &mut blk) {
                        Ok(kept) => kept,
                        Err(e) => {
                            result = Err(e);
                            break 'scan;
                        }
                    };
                let o = by * t.sy * t.stride + bx * t.sx;
                let plane = &mut planes[i];
                if ac_kept {
                    if o < plane.len() {
                        idct.block(&blk, t.sx, t.sy, &mut plane[o..], t.stride);
                    }
                    // Only the low sy×sx corner is ever written: clear just that.
                    for row in blk.chunks_exact_mut(8).take(t.sy) {
                        row[..t.sx].fill(0.0);
                    }
                } else {
                    // DC alone (smooth areas, most chroma blocks): flat, no transform.
                    let px = clamp(blk[0] * 0.125 + 128.0);
                    for y in 0..t.sy {
                        let r = o + y * t.stride;
                        if let Some(row) = plane.get_mut(r..r + t.sx) {
                            row.fill(px);
                        }
                    }
                    blk[0] = 0.0;
                }
            }
        }
    }
    for (&ci, p) in comp_of.iter().zip(planes) {
        f.comps[ci].plane = p;
    }
    result
}

/// One block of a sequential scan: the DC difference and the AC run, dequantized into `blk`
/// (natural order) where `keep` says the coefficient is used. True when a kept AC
/// coefficient was written (otherwise the block is flat).
#[inline(always)]
pub(super) fn decode_block(
    bits: &mut Bits,
    dc: &Huffman,
    ac: &Huffman,
    pred: &mut i32,
    keep: &[bool; 64],
    q: &[f32; 64],
    blk: &mut [f32; 64],
) -> R<bool> {
    // After a refill at least 56 bits are buffered: a code (≤ 16 bits) and its value
    // (≤ 15) always fit, so each coefficient needs one refill check at most.
    if bits.n < 32 {
        bits.refill();
    }
    let s = u32::from(bits.symbol(dc)?);
    if s > 11 {
        return no("DC size");
    }
    // Hostile files can push the prediction anywhere: wrap as libjpeg does (the value is
    // garbage then, never a panic).
    *pred = pred.wrapping_add(bits.value(s));
    blk[0] = *pred as f32 * q[0];
    let mut ac_kept = false;
    let mut k = 1usize;
    while k < 64 {
        if bits.n < 32 {
            bits.refill();
        }
        let fast = ac.fast_ac[bits.peek(LOOKAHEAD) as usize];
        let v = if fast != 0 {
            bits.consume((fast & 15) as u32);
            if fast & !15 == 0 {
                break; // EOB
            }
            k += ((fast >> 4) & 15) as usize;
            fast >> 8
        } else {
            let rs = bits.symbol(ac)?;
            let (r, s) = (usize::from(rs >> 4), u32::from(rs & 15));
            if s == 0 {
                if r != 15 {
                    break;
                }
                k += 16;
                continue;
            }
            k += r;
            bits.value(s)
        };
        if k > 63 {
            return no("AC overflow");
        }
        if keep[k] {
            blk[ZIGZAG[k]] = v as f32 * q[k];
            ac_kept = true;
        }
        k += 1;
    }
    Ok(ac_kept)
}
