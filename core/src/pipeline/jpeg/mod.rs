//! JPEG: [`decode_jpeg`] chooses the decoder and its budget (`select.rs`); the rest of this
//! module is our own decoder, for the one thing the pipeline does most: decode a large photo
//! at 1/2, 1/4 or 1/8 scale in the DCT domain (shrink-on-load). Safe Rust, no threads.
//!
//! It covers 8-bit Huffman-coded JPEGs, sequential (SOF0/SOF1) and progressive (SOF2), gray
//! or YCbCr, with chroma subsampled by 1 or 2 in each direction. Everything else (and any
//! file it does not like) is left to jpeg-decoder: [`decode_scaled`] returns `Unsupported`.
//!
//! Why it is fast:
//! - Huffman: a 64-bit bit buffer refilled 8 bytes at a time when they hold no 0xFF, and
//!   11-bit lookup tables that give code length, run and value of most AC coefficients
//!   (EOB and ZRL included) in one lookup; one refill check per coefficient.
//! - Sequential scans are decoded and inverse-transformed block by block without storing
//!   coefficients; only the `s`×`s` low frequencies a block needs are dequantized, and a
//!   block whose kept AC terms are all zero is filled flat with no transform.
//! - Progressive scans keep, per block, only those kept coefficients plus a 64-bit mask of
//!   which coefficients are nonzero: refinement needs nothing else, so a 20 MP file needs
//!   ~10 MB instead of 60, and correction bits are read for just the mask's set bits.
//! - The reduced IDCT (libjpeg's `jidctred` idea) produces `s`×`s` pixels per block
//!   directly. Subsampled chroma uses a twice larger IDCT to land on the output grid when
//!   that is at most 4 points; at 1/2 scale it uses the luma's size and libjpeg's "fancy"
//!   upsampling instead.

use image::metadata::Orientation;

use super::budget::MAX_SCANS;
use super::cancel::Cancel;

/// Natural (row-major) index of the k-th coefficient in zigzag order.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// The decoded image: 8-bit gray or interleaved RGB, `width`×`height` = the full size
/// scaled by `eighths`/8 and rounded up.
pub(crate) struct Scaled {
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub gray: bool,
    pub orientation: Orientation,
}

/// Why the fast path gave up (the caller then uses jpeg-decoder).
#[derive(Debug)]
pub(crate) struct Unsupported(#[allow(dead_code)] pub &'static str);

type R<T> = std::result::Result<T, Unsupported>;

fn no<T>(why: &'static str) -> R<T> {
    Err(Unsupported(why))
}

mod color;
mod huffman;
mod idct;
mod progressive;
mod select;
mod sequential;
#[cfg(test)]
mod tests;

pub(crate) use select::decode_jpeg;

use color::ycc_to_rgb;
use huffman::{Bits, Huffman};
use idct::{clamp, points, Idct};
use progressive::decode_progressive;
use sequential::decode_sequential;

#[derive(Clone)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    tq: usize,
    /// Output pixels per block, horizontally and vertically (the same for every component:
    /// subsampled chroma is upsampled afterwards, as libjpeg does).
    sx: usize,
    sy: usize,
    /// Upsampling factors to the output grid (1 or 2).
    fx: usize,
    fy: usize,
    /// Blocks in the padded (whole-MCU) grid, and in the component's own extent.
    bw: usize,
    bh: usize,
    own_bw: usize,
    own_bh: usize,
    plane: Vec<u8>,
    /// Progressive only: per block, the `kept` coefficients the reduced IDCT reads (DC and
    /// the low sy×sx corner), in zigzag order. The others only ever matter as zero or not,
    /// which `nonzero` records, so they are not stored.
    coefs: Vec<i16>,
    /// Zigzag index → slot in a block's `coefs`; 255 (out of range): not stored.
    slot: [u8; 64],
    kept: usize,
    /// Progressive only: per block, bit `k` set when zigzag coefficient `k` is nonzero (the
    /// refinement scans follow that history; kept here so no scan has to search for it).
    nonzero: Vec<u64>,
}

struct Frame {
    progressive: bool,
    width: usize,
    height: usize,
    comps: Vec<Component>,
    mcus_x: usize,
    mcus_y: usize,
    /// Checked once per scan and per MCU row: a cancelled decode stops within one row.
    cancel: Cancel,
}

/// Decode `bytes` at `eighths`/8 of full size (1, 2 or 4). `Err(Unsupported)`: use another
/// decoder (or, once `cancel` is set, stop: the caller checks it before trying another).
/// `max_coef_bytes` caps the coefficient store of a progressive file.
pub(crate) fn decode_scaled(
    bytes: &[u8],
    eighths: u32,
    max_coef_bytes: u64,
    cancel: &Cancel,
) -> R<Scaled> {
    let n = match eighths {
        1 | 2 | 4 => eighths as usize,
        _ => return no("scale"),
    };
    if bytes.get(..2) != Some(&[0xFF, 0xD8]) {
        return no("no SOI");
    }
    let idct = Idct::new();
    let mut qt: [Option<[u16; 64]>; 4] = [None; 4];
    let mut dc: [Option<Huffman>; 4] = [None, None, None, None];
    let mut ac: [Option<Huffman>; 4] = [None, None, None, None];
    let mut frame: Option<Frame> = None;
    let mut restart_interval = 0usize;
    let mut orientation = Orientation::NoTransforms;
    let mut exif_seen = false;
    let mut adobe_transform: Option<u8> = None;
    let mut scans = 0usize;
    let mut pos = 2;
    loop {
        let Some((marker, after)) = super::jpeg_plan::next_marker(bytes, pos) else {
            if scans > 0 {
                break; // truncated after a scan: show what we have
            }
            return no("no marker");
        };
        pos = after;
        if marker == 0xD9 {
            break;
        }
        if (0xD0..=0xD7).contains(&marker) || marker == 0x01 {
            continue;
        }
        let len = match bytes.get(pos..pos + 2) {
            Some(l) => usize::from(u16::from_be_bytes([l[0], l[1]])),
            None => return no("truncated segment"),
        };
        let seg = bytes
            .get(pos + 2..pos + len)
            .ok_or(Unsupported("truncated segment"))?;
        if len < 2 {
            return no("bad segment length");
        }
        pos += len;
        match marker {
            0xE1 if !exif_seen && seg.starts_with(b"Exif\0\0") => {
                exif_seen = true;
                orientation =
                    Orientation::from_exif_chunk(&seg[6..]).unwrap_or(Orientation::NoTransforms);
            }
            0xEE if seg.starts_with(b"Adobe") && seg.len() >= 12 => {
                adobe_transform = Some(seg[11]);
            }
            0xDB => {
                let mut s = seg;
                while !s.is_empty() {
                    let (p, id) = (s[0] >> 4, usize::from(s[0] & 15));
                    if id > 3 {
                        return no("DQT id");
                    }
                    let mut t = [0u16; 64];
                    if p == 0 {
                        let v = s.get(1..65).ok_or(Unsupported("DQT"))?;
                        for (d, &x) in t.iter_mut().zip(v) {
                            *d = u16::from(x);
                        }
                        s = &s[65..];
                    } else {
                        let v = s.get(1..129).ok_or(Unsupported("DQT"))?;
                        for (d, x) in t.iter_mut().zip(v.chunks_exact(2)) {
                            *d = u16::from_be_bytes([x[0], x[1]]);
                        }
                        s = &s[129..];
                    }
                    qt[id] = Some(t);
                }
            }
            0xC4 => {
                let mut s = seg;
                while !s.is_empty() {
                    let (class, id) = (s[0] >> 4, usize::from(s[0] & 15));
                    let counts: [u8; 16] = s
                        .get(1..17)
                        .and_then(|c| c.try_into().ok())
                        .ok_or(Unsupported("DHT"))?;
                    let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
                    let values = s.get(17..17 + total).ok_or(Unsupported("DHT"))?;
                    if id > 3 || class > 1 || total > 256 {
                        return no("DHT");
                    }
                    let table = Huffman::new(&counts, values, class == 1)?;
                    if class == 0 {
                        dc[id] = Some(table);
                    } else {
                        ac[id] = Some(table);
                    }
                    s = &s[17 + total..];
                }
            }
            0xDD => {
                let v = seg.get(..2).ok_or(Unsupported("DRI"))?;
                restart_interval = usize::from(u16::from_be_bytes([v[0], v[1]]));
            }
            0xC0..=0xC2 => {
                if frame.is_some() {
                    return no("two frames");
                }
                frame = Some(parse_frame(
                    seg,
                    marker == 0xC2,
                    n,
                    adobe_transform,
                    max_coef_bytes,
                    cancel,
                )?);
            }
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return no("coding process"),
            0xDA => {
                // The caller refused files over the scan cap already (jpeg_plan); this keeps
                // the cap even for a file that walks differently here.
                if scans >= MAX_SCANS as usize {
                    return no("too many scans");
                }
                if cancel.is_cancelled() {
                    return no("cancelled");
                }
                let f = frame.as_mut().ok_or(Unsupported("scan before frame"))?;
                if adobe_transform == Some(0) && f.comps.len() == 3 {
                    return no("Adobe RGB");
                }
                pos = decode_scan(bytes, pos, seg, f, &qt, &dc, &ac, restart_interval, &idct)?;
                scans += 1;
            }
            _ => {}
        }
    }
    let mut f = frame.ok_or(Unsupported("no frame"))?;
    if f.progressive {
        for c in &mut f.comps {
            let q = qt[c.tq].ok_or(Unsupported("missing DQT"))?;
            let stride = c.bw * c.sx;
            // (zigzag index, slot, natural index, quantizer) of the kept AC terms.
            let kept: Vec<(usize, usize, usize, f32)> = (1..64)
                .filter(|&k| usize::from(c.slot[k]) < c.kept)
                .map(|k| (k, usize::from(c.slot[k]), ZIGZAG[k], f32::from(q[k])))
                .collect();
            let kept_mask = kept.iter().fold(0u64, |m, &(k, ..)| m | 1 << k);
            let q0 = f32::from(q[0]);
            let mut fl = [0f32; 64];
            for (i, blk) in c.coefs.chunks_exact(c.kept).enumerate() {
                let (by, bx) = (i / c.bw, i % c.bw);
                if bx == 0 && cancel.is_cancelled() {
                    return no("cancelled");
                }
                let o = by * c.sy * stride + bx * c.sx;
                fl[0] = f32::from(blk[0]) * q0;
                if c.nonzero.get(i).is_some_and(|&m| m & kept_mask == 0) {
                    // Flat block: no transform.
                    let px = clamp(fl[0] * 0.125 + 128.0);
                    for y in 0..c.sy {
                        if let Some(row) = c.plane.get_mut(o + y * stride..o + y * stride + c.sx) {
                            row.fill(px);
                        }
                    }
                    continue;
                }
                for &(_, slot, z, q) in &kept {
                    fl[z] = f32::from(blk[slot]) * q;
                }
                idct.block(&fl, c.sx, c.sy, &mut c.plane[o..], stride);
            }
            c.coefs = Vec::new();
            c.nonzero = Vec::new();
        }
    }
    let out_w = (f.width * n).div_ceil(8);
    let out_h = (f.height * n).div_ceil(8);
    let gray = f.comps.len() == 1;
    let data = if gray {
        let c = &f.comps[0];
        let stride = c.bw * c.sx;
        let mut out = Vec::with_capacity(out_w * out_h);
        for y in 0..out_h {
            out.extend_from_slice(&c.plane[y * stride..y * stride + out_w]);
        }
        out
    } else {
        ycc_to_rgb(&f.comps, out_w, out_h)
    };
    Ok(Scaled {
        data,
        width: out_w as u32,
        height: out_h as u32,
        gray,
        orientation,
    })
}

fn parse_frame(
    seg: &[u8],
    progressive: bool,
    n: usize,
    adobe: Option<u8>,
    max_coef_bytes: u64,
    cancel: &Cancel,
) -> R<Frame> {
    if seg.len() < 6 || seg[0] != 8 {
        return no("not 8-bit");
    }
    let height = usize::from(u16::from_be_bytes([seg[1], seg[2]]));
    let width = usize::from(u16::from_be_bytes([seg[3], seg[4]]));
    let nc = usize::from(seg[5]);
    if width == 0 || height == 0 || !(nc == 1 || nc == 3) || seg.len() < 6 + 3 * nc {
        return no("components");
    }
    let mut comps = Vec::new();
    for i in 0..nc {
        let c = &seg[6 + 3 * i..9 + 3 * i];
        let (h, v, tq) = (
            usize::from(c[1] >> 4),
            usize::from(c[1] & 15),
            usize::from(c[2]),
        );
        if !(1..=2).contains(&h) || !(1..=2).contains(&v) || tq > 3 {
            return no("sampling");
        }
        if comps.iter().any(|o: &Component| o.id == c[0]) {
            return no("duplicate component");
        }
        comps.push(Component {
            id: c[0],
            h,
            v,
            tq,
            sx: 0,
            sy: 0,
            fx: 1,
            fy: 1,
            bw: 0,
            bh: 0,
            own_bw: 0,
            own_bh: 0,
            plane: Vec::new(),
            coefs: Vec::new(),
            slot: [u8::MAX; 64],
            kept: 0,
            nonzero: Vec::new(),
        });
    }
    if nc == 3
        && (adobe == Some(0) || (comps[0].id, comps[1].id, comps[2].id) == (b'R', b'G', b'B'))
    {
        return no("RGB JPEG");
    }
    let hmax = comps.iter().map(|c| c.h).max().unwrap_or(1);
    let vmax = comps.iter().map(|c| c.v).max().unwrap_or(1);
    // The luma component must carry the largest factors.
    if comps[0].h != hmax || comps[0].v != vmax {
        return no("sampling layout");
    }
    let mcus_x = width.div_ceil(8 * hmax);
    let mcus_y = height.div_ceil(8 * vmax);
    let mut coef_bytes = 0u64;
    for c in &mut comps {
        // Factors are 1 or 2 and the luma's the largest (checked above): ratios are 1 or 2.
        (c.sx, c.fx) = points(n, hmax / c.h);
        (c.sy, c.fy) = points(n, vmax / c.v);
        c.bw = mcus_x * c.h;
        c.bh = mcus_y * c.v;
        c.own_bw = (width * c.h).div_ceil(hmax).div_ceil(8);
        c.own_bh = (height * c.v).div_ceil(vmax).div_ceil(8);
        c.plane = vec![0u8; c.bw * c.sx * c.bh * c.sy];
        for (k, &z) in ZIGZAG.iter().enumerate() {
            if z / 8 < c.sy && z % 8 < c.sx {
                c.slot[k] = c.kept as u8;
                c.kept += 1;
            }
        }
        if progressive {
            coef_bytes += (c.bw * c.bh * (c.kept * 2 + 8)) as u64;
        }
    }
    if coef_bytes > max_coef_bytes {
        return no("coefficient memory");
    }
    if progressive {
        for c in &mut comps {
            c.coefs = vec![0i16; c.bw * c.bh * c.kept];
            c.nonzero = vec![0u64; c.bw * c.bh];
        }
    }
    Ok(Frame {
        progressive,
        width,
        height,
        comps,
        mcus_x,
        mcus_y,
        cancel: cancel.clone(),
    })
}

#[allow(clippy::too_many_arguments)]
fn decode_scan(
    bytes: &[u8],
    pos: usize,
    seg: &[u8],
    f: &mut Frame,
    qt: &[Option<[u16; 64]>; 4],
    dc: &[Option<Huffman>; 4],
    ac: &[Option<Huffman>; 4],
    restart_interval: usize,
    idct: &Idct,
) -> R<usize> {
    let ns = usize::from(*seg.first().ok_or(Unsupported("SOS"))?);
    if ns == 0 || ns > f.comps.len() || seg.len() < 1 + 2 * ns + 3 {
        return no("SOS");
    }
    // (component index, DC table, AC table)
    let mut sc: Vec<(usize, usize, usize)> = Vec::with_capacity(ns);
    for i in 0..ns {
        let id = seg[1 + 2 * i];
        let t = seg[2 + 2 * i];
        let ci = f
            .comps
            .iter()
            .position(|c| c.id == id)
            .ok_or(Unsupported("scan component"))?;
        let (td, ta) = (usize::from(t >> 4), usize::from(t & 15));
        if td > 3 || ta > 3 {
            return no("scan tables");
        }
        if sc.iter().any(|s| s.0 == ci) {
            return no("component twice in a scan");
        }
        sc.push((ci, td, ta));
    }
    let p = 1 + 2 * ns;
    let (ss, se, ah, al) = (
        usize::from(seg[p]),
        usize::from(seg[p + 1]),
        u32::from(seg[p + 2] >> 4),
        u32::from(seg[p + 2] & 15),
    );
    let mut bits = Bits::new(bytes, pos);
    if !f.progressive {
        if ss != 0 || se != 63 || ah != 0 || al != 0 {
            return no("sequential scan parameters");
        }
        decode_sequential(&mut bits, f, &sc, qt, dc, ac, restart_interval, idct)?;
    } else {
        if ss > se || se > 63 || al > 13 || (ss == 0 && se != 0) || (ss > 0 && ns != 1) {
            return no("progressive scan parameters");
        }
        decode_progressive(
            &mut bits,
            f,
            &sc,
            dc,
            ac,
            restart_interval,
            (ss, se, ah, al),
        )?;
    }
    Ok(bits.end())
}

/// Where a scan's blocks are: `units_x`×`units_y` units (MCUs, or single blocks of a
/// one-component scan, over that component's own extent), each holding `blocks`.
fn scan_layout(f: &Frame, sc: &[(usize, usize, usize)]) -> (usize, usize, Vec<BlockAt>) {
    if let [(ci, _, _)] = sc {
        let c = &f.comps[*ci];
        let one = BlockAt {
            i: 0,
            mx: 1,
            my: 1,
            dx: 0,
            dy: 0,
        };
        return (c.own_bw, c.own_bh, vec![one]);
    }
    let mut blocks = Vec::new();
    for (i, &(ci, _, _)) in sc.iter().enumerate() {
        let c = &f.comps[ci];
        for dy in 0..c.v {
            for dx in 0..c.h {
                let (mx, my) = (c.h, c.v);
                blocks.push(BlockAt { i, mx, my, dx, dy });
            }
        }
    }
    (f.mcus_x, f.mcus_y, blocks)
}

/// One block of a scan unit: scan component `i`, at block (`ux`·`mx` + `dx`,
/// `uy`·`my` + `dy`) of that component.
struct BlockAt {
    i: usize,
    mx: usize,
    my: usize,
    dx: usize,
    dy: usize,
}

impl BlockAt {
    #[inline(always)]
    fn at(&self, ux: usize, uy: usize) -> (usize, usize, usize) {
        (self.i, ux * self.mx + self.dx, uy * self.my + self.dy)
    }
}
