//! Progressive scans: coefficients gathered over the scans, transformed at the end.

use super::huffman::{Bits, Huffman, LOOKAHEAD};
use super::{no, scan_layout, Component, Frame, Unsupported, R};

pub(super) fn decode_progressive(
    bits: &mut Bits,
    f: &mut Frame,
    sc: &[(usize, usize, usize)],
    dc: &[Option<Huffman>; 4],
    ac: &[Option<Huffman>; 4],
    restart_interval: usize,
    (ss, se, ah, al): (usize, usize, u32, u32),
) -> R<()> {
    if ss > 0 {
        // AC scans (most of a progressive file) hold one component: a plain loop.
        let t = ac[sc[0].2]
            .as_ref()
            .ok_or(Unsupported("missing AC table"))?;
        let c = &mut f.comps[sc[0].0];
        return ac_scan(bits, c, t, restart_interval, (ss, se, ah, al), &f.cancel);
    }
    dc_scan(bits, f, sc, dc, restart_interval, ah, al)
}

/// A DC scan of a progressive file: first pass (DC differences) or refinement (one bit per
/// block), over MCUs when it holds several components.
pub(super) fn dc_scan(
    bits: &mut Bits,
    f: &mut Frame,
    sc: &[(usize, usize, usize)],
    dc: &[Option<Huffman>; 4],
    restart_interval: usize,
    ah: u32,
    al: u32,
) -> R<()> {
    let mut tables: Vec<&Huffman> = Vec::with_capacity(sc.len());
    if ah == 0 {
        for s in sc {
            tables.push(dc[s.1].as_ref().ok_or(Unsupported("missing DC table"))?);
        }
    }
    let (units_x, units_y, blocks) = scan_layout(f, sc);
    let mut pred = [0i32; 4];
    let mut count = 0usize;
    for uy in 0..units_y {
        if f.cancel.is_cancelled() {
            return no("cancelled");
        }
        for ux in 0..units_x {
            if restart_interval > 0 && count > 0 && count.is_multiple_of(restart_interval) {
                bits.restart();
                pred = [0; 4];
            }
            count += 1;
            for b in &blocks {
                let (i, bx, by) = b.at(ux, uy);
                let c = &mut f.comps[sc[i].0];
                let coef = c
                    .coefs
                    .get_mut((by * c.bw + bx) * c.kept)
                    .ok_or(Unsupported("block outside"))?;
                if let Some(t) = tables.get(i) {
                    let s = u32::from(bits.decode(t)?);
                    if s > 11 {
                        return no("DC size");
                    }
                    // Wraps on hostile input (garbage, never a panic), as in sequential.rs.
                    pred[i] = pred[i].wrapping_add(bits.receive_extend(s));
                    *coef = (pred[i] << al) as i16;
                } else if bits.bit() {
                    *coef |= 1 << al;
                }
            }
        }
    }
    Ok(())
}

/// One AC scan of a progressive file (always a single component, blocks in raster order
/// over the component's own extent).
pub(super) fn ac_scan(
    bits: &mut Bits,
    c: &mut Component,
    t: &Huffman,
    restart_interval: usize,
    (ss, se, ah, al): (usize, usize, u32, u32),
    cancel: &super::Cancel,
) -> R<()> {
    // `min` again so no shift below can overflow whatever the caller checked.
    let band = Band {
        ss,
        se: se.min(63),
        al,
    };
    let mut eobrun = 0u32;
    let mut count = 0usize;
    for by in 0..c.own_bh {
        if cancel.is_cancelled() {
            return no("cancelled");
        }
        for bx in 0..c.own_bw {
            if restart_interval > 0 && count > 0 && count.is_multiple_of(restart_interval) {
                bits.restart();
                eobrun = 0;
            }
            count += 1;
            let b = by * c.bw + bx;
            let blk = c
                .coefs
                .get_mut(b * c.kept..(b + 1) * c.kept)
                .ok_or(Unsupported("block outside"))?;
            let nonzero = c.nonzero.get_mut(b).ok_or(Unsupported("block outside"))?;
            let blk = Block {
                coefs: blk,
                slot: &c.slot,
                nonzero,
            };
            if ah == 0 {
                ac_first(bits, t, blk, band, &mut eobrun)?;
            } else {
                ac_refine(bits, t, blk, band, &mut eobrun)?;
            }
        }
    }
    Ok(())
}

/// One progressive block's stored coefficients (see [`Component::coefs`]).
pub(super) struct Block<'a> {
    pub(super) coefs: &'a mut [i16],
    pub(super) slot: &'a [u8; 64],
    /// Bit `k`: zigzag coefficient `k` is nonzero (see [`Component::nonzero`]).
    pub(super) nonzero: &'a mut u64,
}

impl Block<'_> {
    /// The stored coefficient at zigzag index `k`; `None` when it is not kept.
    #[inline(always)]
    pub(super) fn get_mut(&mut self, k: usize) -> Option<&mut i16> {
        self.coefs.get_mut(usize::from(self.slot[k & 63]))
    }

    #[inline(always)]
    pub(super) fn set(&mut self, k: usize, v: i16) {
        if let Some(c) = self.get_mut(k) {
            *c = v;
        }
    }
}

/// The spectral band `ss..=se` (1 ≤ ss ≤ se ≤ 63, checked at the SOS) and the bit position
/// `al` of a progressive AC scan.
#[derive(Clone, Copy)]
pub(super) struct Band {
    pub(super) ss: usize,
    pub(super) se: usize,
    pub(super) al: u32,
}

/// A first AC scan (Ah = 0) of one block. Progressive coefficients are kept in zigzag
/// order, so the scans walk them contiguously.
#[inline(always)]
pub(super) fn ac_first(
    bits: &mut Bits,
    t: &Huffman,
    mut blk: Block,
    Band { ss, se, al }: Band,
    eobrun: &mut u32,
) -> R<()> {
    if *eobrun > 0 {
        *eobrun -= 1;
        return Ok(());
    }
    let mut k = ss;
    while k <= se {
        if bits.n < 32 {
            bits.refill();
        }
        let fast = t.fast_ac[bits.peek(LOOKAHEAD) as usize];
        if fast != 0 {
            bits.consume((fast & 15) as u32);
            if fast & !15 == 0 {
                break; // EOB of this block alone (EOBRUN 0)
            }
            k += ((fast >> 4) & 15) as usize;
            if k > se {
                return no("AC overflow");
            }
            let c = ((fast >> 8) << al) as i16;
            blk.set(k, c);
            *blk.nonzero |= u64::from(c != 0) << k;
            k += 1;
            continue;
        }
        let rs = bits.symbol(t)?;
        let (r, s) = (u32::from(rs >> 4), u32::from(rs & 15));
        if s != 0 {
            k += r as usize;
            if k > se {
                return no("AC overflow");
            }
            let c = (bits.value(s) << al) as i16;
            blk.set(k, c);
            *blk.nonzero |= u64::from(c != 0) << k;
        } else if r == 15 {
            k += 15;
        } else {
            *eobrun = (1 << r) - 1;
            if r > 0 {
                *eobrun += bits.get(r);
            }
            break;
        }
        k += 1;
    }
    Ok(())
}

/// An AC refinement scan (Ah > 0) of one block: libjpeg's decode_mcu_AC_refine.
#[inline(always)]
pub(super) fn ac_refine(
    bits: &mut Bits,
    t: &Huffman,
    mut blk: Block,
    Band { ss, se, al }: Band,
    eobrun: &mut u32,
) -> R<()> {
    let p1: i16 = 1 << al;
    let m1: i16 = -1 << al;
    // Positions ≥ k, and < k, as masks.
    let from = |k: usize| if k >= 64 { 0 } else { u64::MAX << k };
    let band = from(ss) & (u64::MAX >> (63 - se));
    let mut k = ss;
    if *eobrun == 0 {
        while k <= se {
            if bits.n < 32 {
                bits.refill();
            }
            let rs = bits.symbol(t)?;
            let (r, s) = (u32::from(rs >> 4), rs & 15);
            let mut value = 0i16;
            if s != 0 {
                value = if bits.value_bit() { p1 } else { m1 };
            } else if r != 15 {
                *eobrun = 1 << r;
                if r > 0 {
                    *eobrun += bits.get(r);
                }
                break;
            }
            // The symbol lands on the (r+1)-th coefficient from k that is still zero; the
            // nonzero ones passed on the way each take a correction bit.
            let ahead = band & from(k);
            let mut zeros = !*blk.nonzero & ahead;
            for _ in 0..r {
                zeros &= zeros.wrapping_sub(1);
            }
            let target = if zeros == 0 {
                se + 1
            } else {
                zeros.trailing_zeros() as usize
            };
            let passed = *blk.nonzero & ahead & !from(target);
            correct(bits, &mut blk, passed, p1, m1);
            k = target;
            if s != 0 && k <= se {
                blk.set(k, value);
                *blk.nonzero |= 1 << k;
            }
            k += 1;
        }
    }
    if *eobrun > 0 {
        // The rest of the band only refines coefficients already nonzero.
        let rest = *blk.nonzero & band & from(k);
        correct(bits, &mut blk, rest, p1, m1);
        *eobrun -= 1;
    }
    Ok(())
}

/// Correction bits, one per coefficient in `m` (nonzero ones), in zigzag order: a 1 adds
/// the refined bit away from zero unless it is already set. Up to 32 bits are taken at once.
#[inline(always)]
pub(super) fn correct(bits: &mut Bits, blk: &mut Block, mut m: u64, p1: i16, m1: i16) {
    while m != 0 {
        let n = m.count_ones().min(32);
        if bits.n < n {
            bits.refill();
        }
        let mut word = bits.peek(n) << (32 - n);
        bits.consume(n);
        for _ in 0..n {
            let k = m.trailing_zeros() as usize;
            m &= m - 1;
            if word & 0x8000_0000 != 0 {
                if let Some(c) = blk.get_mut(k) {
                    if (*c & p1) == 0 {
                        // Wraps at i16::MIN on hostile input instead of panicking.
                        *c = c.wrapping_add(if *c >= 0 { p1 } else { m1 });
                    }
                }
            }
            word <<= 1;
        }
    }
}
