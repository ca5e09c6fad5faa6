//! A JPEG decoder for the one thing the pipeline does most: decode a large photo at 1/2,
//! 1/4 or 1/8 scale in the DCT domain (shrink-on-load). Safe Rust, no threads.
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

/// Natural (row-major) index of the k-th coefficient in zigzag order.
const ZIGZAG: [usize; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20,
    13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59,
    52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

/// Bits looked up at once. 11: a 2048-entry table catches code + value of nearly every AC
/// coefficient of a high-quality photo in one lookup (9 missed about one in five).
const LOOKAHEAD: u32 = 11;

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

struct Huffman {
    /// Indexed by the next 9 bits: (code length, symbol); length 0: longer code.
    fast: Box<[(u8, u8); 1 << LOOKAHEAD]>,
    /// AC only: (value << 8) | (run << 4) | total bits, when code + value fit in the
    /// lookahead; 0: not in the table.
    fast_ac: Box<[i32; 1 << LOOKAHEAD]>,
    maxcode: [i32; 18],
    valoffset: [i32; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn new(counts: &[u8; 16], values: &[u8], ac: bool) -> R<Huffman> {
        let mut fast = Box::new([(0u8, 0u8); 1 << LOOKAHEAD]);
        let mut maxcode = [-1i32; 18];
        let mut valoffset = [0i32; 17];
        let mut code: i32 = 0;
        let mut k: usize = 0;
        for len in 1..=16usize {
            let n = counts[len - 1] as usize;
            valoffset[len] = k as i32 - code;
            for _ in 0..n {
                if code >= (1 << len) {
                    return no("bad Huffman table");
                }
                if len as u32 <= LOOKAHEAD {
                    let shift = LOOKAHEAD - len as u32;
                    let base = (code as usize) << shift;
                    for e in &mut fast[base..base + (1 << shift)] {
                        *e = (len as u8, values[k]);
                    }
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                maxcode[len] = code - 1;
            }
            code <<= 1;
        }
        maxcode[17] = i32::MAX;
        let mut fast_ac = Box::new([0i32; 1 << LOOKAHEAD]);
        if ac {
            for (i, slot) in fast_ac.iter_mut().enumerate() {
                let (len, rs) = fast[i];
                let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
                let len = u32::from(len);
                if len == 0 || len + size > LOOKAHEAD || (size == 0 && run != 0 && run != 15) {
                    continue;
                }
                // EOB (0/0) and ZRL (15/0) fit the same form with value 0: EOB is the one
                // entry with run and value both 0; ZRL writes a zero 15 places on, which is
                // what skipping 16 zeros means.
                let bits = ((i as u32) >> (LOOKAHEAD - len - size)) & ((1 << size) - 1);
                let value = extend(bits, size);
                *slot = (value << 8) | (run << 4) as i32 | (len + size) as i32;
            }
        }
        Ok(Huffman {
            fast,
            fast_ac,
            maxcode,
            valoffset,
            values: values.to_vec(),
        })
    }
}

#[inline(always)]
fn extend(v: u32, s: u32) -> i32 {
    if s == 0 {
        0
    } else if v < (1 << (s - 1)) {
        v as i32 - (1 << s) + 1
    } else {
        v as i32
    }
}

/// Entropy-coded data: a left-aligned 64-bit buffer, byte stuffing removed, zeros fed
/// after a marker or the end (as libjpeg does with a truncated file).
#[derive(Clone, Copy)]
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u64,
    n: u32,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        Bits {
            data,
            pos,
            acc: 0,
            n: 0,
        }
    }

    #[inline(always)]
    fn refill(&mut self) {
        // Fast path: the next 8 bytes hold no 0xFF, take as many whole bytes as fit.
        if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
            let x = u64::from_be_bytes(chunk.try_into().unwrap_or([0xFF; 8]));
            let inv = !x;
            let has_ff = inv.wrapping_sub(0x0101_0101_0101_0101) & !inv & 0x8080_8080_8080_8080;
            if has_ff == 0 {
                let take = (63 - self.n) / 8;
                self.acc |= (x >> (64 - 8 * take)) << (64 - 8 * take - self.n);
                self.pos += take as usize;
                self.n += 8 * take;
                return;
            }
        }
        while self.n <= 56 {
            let mut b = 0u8;
            if let Some(&x) = self.data.get(self.pos) {
                if x != 0xFF {
                    b = x;
                    self.pos += 1;
                } else if self.data.get(self.pos + 1) == Some(&0) {
                    b = 0xFF;
                    self.pos += 2;
                }
                // Else a marker: stay before it and feed zeros.
            }
            self.acc |= u64::from(b) << (56 - self.n);
            self.n += 8;
        }
    }

    #[inline(always)]
    fn peek(&self, bits: u32) -> u32 {
        (self.acc >> (64 - bits)) as u32
    }

    #[inline(always)]
    fn consume(&mut self, bits: u32) {
        self.acc <<= bits;
        self.n -= bits;
    }

    #[inline(always)]
    fn get(&mut self, bits: u32) -> u32 {
        if bits == 0 {
            return 0;
        }
        if self.n < bits {
            self.refill();
        }
        let v = self.peek(bits);
        self.consume(bits);
        v
    }

    #[inline(always)]
    fn bit(&mut self) -> bool {
        self.get(1) != 0
    }

    #[inline(always)]
    fn receive_extend(&mut self, s: u32) -> i32 {
        let v = self.get(s);
        extend(v, s)
    }

    #[inline(always)]
    fn decode(&mut self, h: &Huffman) -> R<u8> {
        if self.n < 16 {
            self.refill();
        }
        self.symbol(h)
    }

    /// [`Bits::decode`] without the refill: the caller keeps at least 32 bits buffered.
    #[inline(always)]
    fn symbol(&mut self, h: &Huffman) -> R<u8> {
        let (len, sym) = h.fast[self.peek(LOOKAHEAD) as usize];
        if len > 0 {
            self.consume(u32::from(len));
            return Ok(sym);
        }
        self.decode_long(h)
    }

    /// One bit right after a symbol; no refill, as above.
    #[inline(always)]
    fn value_bit(&mut self) -> bool {
        let b = self.peek(1) != 0;
        self.consume(1);
        b
    }

    /// The `s`-bit value after a symbol (`s` ≥ 1), sign-extended; no refill, as above.
    #[inline(always)]
    fn value(&mut self, s: u32) -> i32 {
        if s == 0 {
            return 0;
        }
        let v = self.peek(s);
        self.consume(s);
        extend(v, s)
    }

    #[cold]
    fn decode_long(&mut self, h: &Huffman) -> R<u8> {
        for len in LOOKAHEAD + 1..=16 {
            let code = self.peek(len) as i32;
            if code <= h.maxcode[len as usize] {
                self.consume(len);
                let i = (h.valoffset[len as usize] + code) as usize;
                return h
                    .values
                    .get(i)
                    .copied()
                    .ok_or(Unsupported("bad Huffman code"));
            }
        }
        no("bad Huffman code")
    }

    /// At a restart interval: drop the buffered bits and step over an RSTn marker.
    fn restart(&mut self) {
        self.acc = 0;
        self.n = 0;
        // Normally the reader stands right at the RSTn; skip stray bytes up to it, but never
        // past another marker.
        while let Some(&x) = self.data.get(self.pos) {
            match (x, self.data.get(self.pos + 1)) {
                (0xFF, Some(0xD0..=0xD7)) => {
                    self.pos += 2;
                    return;
                }
                (0xFF, Some(0)) => self.pos += 2,
                (0xFF, _) => return,
                _ => self.pos += 1,
            }
        }
    }

    /// After a scan: the position of the next marker.
    fn end(&self) -> usize {
        let mut p = self.pos;
        while p + 1 < self.data.len()
            && (self.data[p] != 0xFF || matches!(self.data[p + 1], 0 | 0xD0..=0xD7))
        {
            p += 1;
        }
        p
    }
}

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

/// `M[s][x][u]` = ½·C(u)·cos((2x+1)uπ/2s): the `s`-point reduced IDCT.
fn idct_matrix(s: usize) -> [[f32; 8]; 8] {
    let mut m = [[0f32; 8]; 8];
    for (x, row) in m.iter_mut().enumerate().take(s) {
        for (u, e) in row.iter_mut().enumerate().take(s) {
            let c = if u == 0 {
                std::f32::consts::FRAC_1_SQRT_2
            } else {
                1.0
            };
            *e = 0.5 * c * (((2 * x + 1) * u) as f32 * std::f32::consts::PI / (2 * s) as f32).cos();
        }
    }
    m
}

struct Idct {
    m: [[[f32; 8]; 8]; 9],
    /// The same matrices transposed: `t[s][u][x]` = `m[s][x][u]`.
    t: [[[f32; 8]; 8]; 9],
}

impl Idct {
    fn new() -> Self {
        let mut m = [[[0f32; 8]; 8]; 9];
        let mut t = [[[0f32; 8]; 8]; 9];
        for s in [1, 2, 4, 8] {
            m[s] = idct_matrix(s);
            for x in 0..8 {
                for u in 0..8 {
                    t[s][u][x] = m[s][x][u];
                }
            }
        }
        Idct { m, t }
    }

    /// Dequantized coefficients (natural order, only the low `sy`×`sx` used) → `sy`×`sx`
    /// pixels written at `out[y * stride + x]`.
    #[inline(always)]
    fn block(&self, f: &[f32; 64], sx: usize, sy: usize, out: &mut [u8], stride: usize) {
        // One monomorphised copy per layout the decoder meets, so the loops unroll.
        match (sx, sy) {
            (1, 1) => out[0] = clamp(f[0] * 0.125 + 128.0),
            (2, 2) => block_2x2(f, out, stride),
            (4, 4) => self.block_n::<4, 4>(f, out, stride),
            (2, 1) => self.block_n::<2, 1>(f, out, stride),
            (4, 2) => self.block_n::<4, 2>(f, out, stride),
            (8, 4) => self.block_n::<8, 4>(f, out, stride),
            (8, 8) => self.block_n::<8, 8>(f, out, stride),
            _ => self.block_dyn(f, sx, sy, out, stride),
        }
    }

    /// Separable `s`-point IDCT written as sums of scaled rows (`acc[x] += c · m[x]`), so
    /// the inner loops over `x` become SIMD lanes.
    #[inline(always)]
    fn block_n<const SX: usize, const SY: usize>(
        &self,
        f: &[f32; 64],
        out: &mut [u8],
        stride: usize,
    ) {
        let (mxt, myt) = (&self.t[SX], &self.t[SY]);
        // tmp[v][x] = Σ_u f[v][u]·mx[x][u]
        let mut tmp = [[0f32; SX]; SY];
        for (v, t) in tmp.iter_mut().enumerate() {
            for (u, col) in mxt.iter().enumerate().take(SX) {
                let c = f[v * 8 + u];
                for x in 0..SX {
                    t[x] += c * col[x];
                }
            }
        }
        // out[y][x] = 128 + Σ_v my[y][v]·tmp[v][x]
        let mut px = [[128f32; SX]; SY];
        for (v, t) in tmp.iter().enumerate() {
            for (y, row) in px.iter_mut().enumerate() {
                let c = myt[v][y];
                for x in 0..SX {
                    row[x] += c * t[x];
                }
            }
        }
        for (y, row) in px.iter().enumerate() {
            let Some(o) = out.get_mut(y * stride..y * stride + SX) else {
                return;
            };
            for (o, &v) in o.iter_mut().zip(row) {
                *o = clamp(v);
            }
        }
    }

    fn block_dyn(&self, f: &[f32; 64], sx: usize, sy: usize, out: &mut [u8], stride: usize) {
        let (mx, my) = (&self.m[sx], &self.m[sy]);
        // Rows: tmp[v][x] = Σ_u mx[x][u]·f[v][u].
        let mut tmp = [[0f32; 8]; 8];
        for v in 0..sy {
            let row = &f[v * 8..v * 8 + 8];
            for x in 0..sx {
                let mut acc = 0.0;
                for u in 0..sx {
                    acc += mx[x][u] * row[u];
                }
                tmp[v][x] = acc;
            }
        }
        for y in 0..sy {
            let o = &mut out[y * stride..y * stride + sx];
            for (x, px) in o.iter_mut().enumerate() {
                let mut acc = 0.0;
                for v in 0..sy {
                    acc += my[y][v] * tmp[v][x];
                }
                *px = clamp(acc + 128.0);
            }
        }
    }
}

/// The 2-point IDCT is a Haar step: both cosines are 1/√2, so the 2×2 block is sums and
/// differences of the four low coefficients over 8.
#[inline(always)]
fn block_2x2(f: &[f32; 64], out: &mut [u8], stride: usize) {
    let (a, b, c, d) = (f[0], f[1], f[8], f[9]);
    let (s0, s1) = (a + c, a - c);
    let (t0, t1) = (b + d, b - d);
    let row0 = [
        clamp((s0 + t0) * 0.125 + 128.0),
        clamp((s0 - t0) * 0.125 + 128.0),
    ];
    let row1 = [
        clamp((s1 + t1) * 0.125 + 128.0),
        clamp((s1 - t1) * 0.125 + 128.0),
    ];
    if let Some(o) = out.get_mut(..2) {
        o.copy_from_slice(&row0);
    }
    if let Some(o) = out.get_mut(stride..stride + 2) {
        o.copy_from_slice(&row1);
    }
}

/// Round to nearest and saturate, without a libm call.
#[inline(always)]
fn clamp(v: f32) -> u8 {
    // In [0.5, 255.5] the cast truncates to 0..=255; clamping first lets it vectorise.
    (v.clamp(0.0, 255.0) + 0.5) as u8
}

struct Frame {
    progressive: bool,
    width: usize,
    height: usize,
    comps: Vec<Component>,
    mcus_x: usize,
    mcus_y: usize,
}

/// Decode `bytes` at `eighths`/8 of full size (1, 2 or 4). `Err(Unsupported)`: use another
/// decoder. `max_coef_bytes` caps the coefficient store of a progressive file.
pub(crate) fn decode_scaled(bytes: &[u8], eighths: u32, max_coef_bytes: u64) -> R<Scaled> {
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
        // Next marker; junk between segments is skipped, as libjpeg does.
        while pos < bytes.len()
            && !(bytes[pos] == 0xFF && bytes.get(pos + 1).is_some_and(|&m| m != 0 && m != 0xFF))
        {
            pos += 1;
        }
        let Some(&marker) = bytes.get(pos + 1) else {
            if scans > 0 {
                break; // truncated after a scan: show what we have
            }
            return no("no marker");
        };
        pos += 2;
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
                )?);
            }
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return no("coding process"),
            0xDA => {
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
        // Subsampled chroma: a twice larger IDCT lands it on the output grid directly while
        // that IDCT is at most 4 points; an 8-point one (at 1/2 scale) costs more than the
        // luma-sized IDCT plus upsampling afterwards, as libjpeg does.
        let grid = |n_full: usize, f: usize| if n_full <= 4 { (n_full, 1) } else { (n, f) };
        (c.sx, c.fx) = grid(n * hmax / c.h, hmax / c.h);
        (c.sy, c.fy) = grid(n * vmax / c.v, vmax / c.v);
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

#[allow(clippy::too_many_arguments)]
fn decode_sequential(
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
fn decode_block(
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
    *pred += bits.value(s);
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

fn decode_progressive(
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
        return ac_scan(bits, c, t, restart_interval, (ss, se, ah, al));
    }
    dc_scan(bits, f, sc, dc, restart_interval, ah, al)
}

/// A DC scan of a progressive file: first pass (DC differences) or refinement (one bit per
/// block), over MCUs when it holds several components.
fn dc_scan(
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
                    pred[i] += bits.receive_extend(s);
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
fn ac_scan(
    bits: &mut Bits,
    c: &mut Component,
    t: &Huffman,
    restart_interval: usize,
    (ss, se, ah, al): (usize, usize, u32, u32),
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
struct Block<'a> {
    coefs: &'a mut [i16],
    slot: &'a [u8; 64],
    /// Bit `k`: zigzag coefficient `k` is nonzero (see [`Component::nonzero`]).
    nonzero: &'a mut u64,
}

impl Block<'_> {
    /// The stored coefficient at zigzag index `k`; `None` when it is not kept.
    #[inline(always)]
    fn get_mut(&mut self, k: usize) -> Option<&mut i16> {
        self.coefs.get_mut(usize::from(self.slot[k & 63]))
    }

    #[inline(always)]
    fn set(&mut self, k: usize, v: i16) {
        if let Some(c) = self.get_mut(k) {
            *c = v;
        }
    }
}

/// The spectral band `ss..=se` (1 ≤ ss ≤ se ≤ 63, checked at the SOS) and the bit position
/// `al` of a progressive AC scan.
#[derive(Clone, Copy)]
struct Band {
    ss: usize,
    se: usize,
    al: u32,
}

/// A first AC scan (Ah = 0) of one block. Progressive coefficients are kept in zigzag
/// order, so the scans walk them contiguously.
#[inline(always)]
fn ac_first(
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
fn ac_refine(
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
fn correct(bits: &mut Bits, blk: &mut Block, mut m: u64, p1: i16, m1: i16) {
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
                        *c += if *c >= 0 { p1 } else { m1 };
                    }
                }
            }
            word <<= 1;
        }
    }
}

/// JFIF YCbCr → RGB (BT.601 full range), fixed point as libjpeg does.
fn ycc_to_rgb(comps: &[Component], w: usize, h: usize) -> Vec<u8> {
    const FIX: i32 = 16;
    let f = |x: f64| (x * f64::from(1 << FIX) + 0.5) as i32;
    let (cr_r, cb_g, cr_g, cb_b) = (f(1.402), f(0.344136), f(0.714136), f(1.772));
    let half = 1 << (FIX - 1);
    let mut out = vec![0u8; w * h * 3];
    let ys = comps[0].bw * comps[0].sx;
    let (mut cb_buf, mut cr_buf) = (vec![0u8; w], vec![0u8; w]);
    let mut col = Vec::new();
    for (y, row) in out.chunks_exact_mut(w * 3).enumerate() {
        let yr = &comps[0].plane[y * ys..y * ys + w];
        let cbr = chroma_row(&comps[1], y, w, h, &mut col, &mut cb_buf);
        let crr = chroma_row(&comps[2], y, w, h, &mut col, &mut cr_buf);
        for (((px, &yy), &cb), &cr) in row.chunks_exact_mut(3).zip(yr).zip(cbr).zip(crr) {
            let yy = i32::from(yy);
            let cb = i32::from(cb) - 128;
            let cr = i32::from(cr) - 128;
            px[0] = (yy + ((cr_r * cr + half) >> FIX)).clamp(0, 255) as u8;
            px[1] = (yy - ((cb_g * cb + cr_g * cr - half) >> FIX)).clamp(0, 255) as u8;
            px[2] = (yy + ((cb_b * cb + half) >> FIX)).clamp(0, 255) as u8;
        }
    }
    out
}

/// Row `y` of a chroma plane on the `w`×`h` output grid: the stored row itself, or, for a
/// plane stored subsampled, the row upsampled into `buf` with libjpeg's "fancy" triangle
/// filter (each output sample is ¾ the nearer stored sample and ¼ the next one, in each
/// subsampled direction).
fn chroma_row<'a>(
    c: &'a Component,
    y: usize,
    w: usize,
    h: usize,
    col: &mut Vec<u16>,
    buf: &'a mut [u8],
) -> &'a [u8] {
    let stride = c.bw * c.sx;
    if c.fx == 1 && c.fy == 1 {
        return &c.plane[y * stride..y * stride + w];
    }
    // Stored samples that cover the image (beyond them is MCU padding).
    let (cw, ch) = (w.div_ceil(c.fx), h.div_ceil(c.fy));
    let row = |r: usize| &c.plane[r * stride..r * stride + cw];
    // Vertical pass into `col`, scaled by 4.
    col.clear();
    if c.fy == 2 {
        let near = y / 2;
        let far = if y.is_multiple_of(2) {
            near.saturating_sub(1)
        } else {
            (near + 1).min(ch - 1)
        };
        col.extend(
            row(near)
                .iter()
                .zip(row(far))
                .map(|(&a, &b)| 3 * u16::from(a) + u16::from(b)),
        );
    } else {
        col.extend(row(y).iter().map(|&a| 4 * u16::from(a)));
    }
    if c.fx == 1 {
        for (o, &v) in buf.iter_mut().zip(col.iter()) {
            *o = ((v + 2) >> 2) as u8;
        }
        return buf;
    }
    // Horizontal: the two outputs of stored sample i lean towards i-1 and i+1. The first and
    // last samples have no outer neighbour and use themselves.
    let last = cw - 1;
    let at = |i: usize, n: usize| ((3 * col[i] + col[n] + 8 - (n > i) as u16) >> 4) as u8;
    buf[0] = at(0, 0);
    if w > 1 {
        buf[1] = at(0, 1.min(last));
    }
    if let Some(rest) = buf.get_mut(2..) {
        for (pair, win) in rest.chunks_exact_mut(2).zip(col.windows(3)) {
            let here = 3 * win[1];
            pair[0] = ((here + win[0] + 8) >> 4) as u8;
            pair[1] = ((here + win[2] + 7) >> 4) as u8;
        }
    }
    // The tail the windows did not reach (the last sample, and an odd width's end).
    for (x, o) in buf.iter_mut().enumerate().skip((2 * last).max(2)) {
        let i = x / 2;
        let n = if x % 2 == 0 { i - 1 } else { (i + 1).min(last) };
        *o = at(i, n);
    }
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

    fn photo_like(w: usize, h: usize, c: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(w * h * c);
        for y in 0..h {
            for x in 0..w {
                for k in 0..c {
                    let f = ((x as f32 / 9.0).sin() + (y as f32 / 13.0).cos()) * 60.0;
                    v.push(
                        (128.0 + f + (k * 40) as f32 - ((x ^ y) & 7) as f32).clamp(0.0, 255.0)
                            as u8,
                    );
                }
            }
        }
        v
    }

    fn reference(jpeg: &[u8], eighths: u32) -> (Vec<u8>, u16, u16) {
        let mut d = jpeg_decoder::Decoder::new(jpeg);
        d.read_info().unwrap();
        let i = d.info().unwrap();
        let (w, h) = (u32::from(i.width), u32::from(i.height));
        let (sw, sh) = (
            (w * eighths).div_ceil(8) as u16,
            (h * eighths).div_ceil(8) as u16,
        );
        let (ow, oh) = d.scale(sw, sh).unwrap();
        (d.decode().unwrap(), ow, oh)
    }

    /// Our decode at `eighths`/8 against jpeg-decoder's: same size, mean absolute
    /// difference under 3 (of 255).
    fn close_to_reference(jpeg: &[u8], eighths: u32, what: &str) -> Scaled {
        let ours =
            decode_scaled(jpeg, eighths, u64::MAX).unwrap_or_else(|e| panic!("{what}: {e:?}"));
        let (theirs, tw, th) = reference(jpeg, eighths);
        assert_eq!(
            (ours.width, ours.height),
            (u32::from(tw), u32::from(th)),
            "{what}"
        );
        assert_eq!(ours.data.len(), theirs.len(), "{what}");
        let mad = ours
            .data
            .iter()
            .zip(&theirs)
            .map(|(&a, &b)| f64::from(a.abs_diff(b)))
            .sum::<f64>()
            / theirs.len() as f64;
        assert!(mad < 3.0, "{what}: mean difference {mad:.2}");
        ours
    }

    #[test]
    fn matches_jpeg_decoder_at_every_scale_and_layout() {
        // 205×119 gives odd output sizes at 1/2 (103×60) and 1/4 (52×30), the edges of the
        // chroma upsampling.
        let cases = [
            (203u16, 117u16, SamplingFactor::R_4_2_0, false, 0u16, 3usize),
            (203, 117, SamplingFactor::R_4_2_0, true, 0, 3),
            (203, 117, SamplingFactor::R_4_4_4, false, 3, 3),
            (203, 117, SamplingFactor::R_4_2_2, true, 0, 3),
            (203, 117, SamplingFactor::R_4_2_0, false, 5, 3),
            (203, 117, SamplingFactor::R_4_4_4, true, 0, 1),
            (205, 119, SamplingFactor::R_4_2_0, false, 0, 3),
            (205, 119, SamplingFactor::R_4_2_2, false, 0, 3),
            (205, 119, SamplingFactor::R_4_4_0, true, 0, 3),
        ];
        for (w, h, sampling, progressive, restart, c) in cases {
            let px = photo_like(w.into(), h.into(), c);
            let mut jpeg = Vec::new();
            let mut e = Encoder::new(&mut jpeg, 90);
            e.set_sampling_factor(sampling);
            e.set_progressive(progressive);
            if restart > 0 {
                e.set_restart_interval(restart);
            }
            let ct = if c == 1 {
                ColorType::Luma
            } else {
                ColorType::Rgb
            };
            e.encode(&px, w, h, ct).unwrap();
            for eighths in [1, 2, 4] {
                let what = format!(
                    "{sampling:?} progressive={progressive} rst={restart} c={c} {eighths}/8"
                );
                let ours = close_to_reference(&jpeg, eighths, &what);
                assert_eq!(ours.gray, c == 1, "{what}");
            }
        }
    }

    /// libjpeg's default progressive script (what cameras' and Pillow's progressive files
    /// use) has successive-approximation refinement scans, which jpeg-encoder never writes:
    /// these fixtures (crops of examples/photos/astronaut.png saved by Pillow 13 with
    /// `progressive=True`) cover them.
    #[test]
    fn successive_approximation_matches_jpeg_decoder() {
        let files: [&[u8]; 3] = [
            include_bytes!("testdata/progressive_sa_420.jpg"),
            include_bytes!("testdata/progressive_sa_444.jpg"),
            include_bytes!("testdata/progressive_sa_gray.jpg"),
        ];
        for (n, jpeg) in files.iter().enumerate() {
            for eighths in [1, 2, 4] {
                close_to_reference(jpeg, eighths, &format!("file {n} {eighths}/8"));
            }
        }
    }

    #[test]
    fn truncated_and_garbage_never_panic() {
        let px = photo_like(64, 48, 3);
        for progressive in [false, true] {
            let mut jpeg = Vec::new();
            let mut e = Encoder::new(&mut jpeg, 80);
            e.set_progressive(progressive);
            e.encode(&px, 64, 48, ColorType::Rgb).unwrap();
            for cut in (0..jpeg.len()).step_by(37) {
                let _ = decode_scaled(&jpeg[..cut], 4, u64::MAX);
            }
            let mut bad = jpeg.clone();
            for i in (200..bad.len()).step_by(11) {
                bad[i] = bad[i].wrapping_mul(31).wrapping_add(7);
            }
            let _ = decode_scaled(&bad, 2, u64::MAX);
        }
        assert!(decode_scaled(b"\xFF\xD8\xFF\xD9", 4, u64::MAX).is_err());
    }
}
