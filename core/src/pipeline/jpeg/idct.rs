//! The reduced inverse DCT: `sx`×`sy` pixels from the low `sx`×`sy` coefficients of a block.

/// The most points per direction a block is transformed to. The decoder only runs at 1/2,
/// 1/4 or 1/8 scale (`n` = 4, 2 or 1 pixels per luma block side) and gives subsampled chroma
/// a twice larger IDCT only while that is at most 4 points ([`points`]), so every block is
/// 1, 2 or 4 points in each direction, never 8.
pub(super) const MAX_POINTS: usize = 4;

/// IDCT points and upsampling factor in one direction for a component that is `ratio` (1 or
/// 2) times subsampled against the luma, at `n` (1, 2 or 4) output pixels per luma block:
/// a twice larger IDCT lands subsampled chroma on the output grid directly while that IDCT
/// is at most [`MAX_POINTS`]; an 8-point one (at 1/2 scale) costs more than the luma-sized
/// IDCT plus upsampling afterwards, as libjpeg does.
pub(super) fn points(n: usize, ratio: usize) -> (usize, usize) {
    debug_assert!(
        matches!(n, 1 | 2 | 4) && matches!(ratio, 1 | 2),
        "{n} {ratio}"
    );
    if n * ratio <= MAX_POINTS {
        (n * ratio, 1)
    } else {
        (n, ratio)
    }
}

/// `M[s][x][u]` = ½·C(u)·cos((2x+1)uπ/2s): the `s`-point reduced IDCT.
pub(super) fn idct_matrix(s: usize) -> [[f32; MAX_POINTS]; MAX_POINTS] {
    let mut m = [[0f32; MAX_POINTS]; MAX_POINTS];
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

/// An `s`×`s` matrix in the top-left corner of a [`MAX_POINTS`]-square one.
type Matrix = [[f32; MAX_POINTS]; MAX_POINTS];

pub(super) struct Idct {
    /// `m[s]` for `s` = 1, 2 and 4 (the other rows stay zero and are never read).
    pub(super) m: [Matrix; MAX_POINTS + 1],
    /// The same matrices transposed: `t[s][u][x]` = `m[s][x][u]`.
    pub(super) t: [Matrix; MAX_POINTS + 1],
}

impl Idct {
    pub(super) fn new() -> Self {
        let mut m = [[[0f32; MAX_POINTS]; MAX_POINTS]; MAX_POINTS + 1];
        let mut t = m;
        for s in [1, 2, 4] {
            m[s] = idct_matrix(s);
            for x in 0..MAX_POINTS {
                for u in 0..MAX_POINTS {
                    t[s][u][x] = m[s][x][u];
                }
            }
        }
        Idct { m, t }
    }

    /// Dequantized coefficients (natural order, only the low `sy`×`sx` used) → `sy`×`sx`
    /// pixels written at `out[y * stride + x]`. `sx` and `sy` are 1, 2 or 4 ([`points`]).
    #[inline(always)]
    pub(super) fn block(&self, f: &[f32; 64], sx: usize, sy: usize, out: &mut [u8], stride: usize) {
        debug_assert!(sx <= MAX_POINTS && sy <= MAX_POINTS, "{sx}x{sy}");
        // One monomorphised copy per common layout, so the loops unroll: 4:4:4 and 4:2:0
        // blocks at every scale, and 4:2:2 chroma. The rest (4:4:0 chroma: (1, 2), (2, 4))
        // is rare enough for the general loop.
        match (sx, sy) {
            (1, 1) => out[0] = clamp(f[0] * 0.125 + 128.0),
            (2, 2) => block_2x2(f, out, stride),
            (4, 4) => self.block_n::<4, 4>(f, out, stride),
            (2, 1) => self.block_n::<2, 1>(f, out, stride),
            (4, 2) => self.block_n::<4, 2>(f, out, stride),
            _ => self.block_dyn(f, sx, sy, out, stride),
        }
    }

    /// Separable `s`-point IDCT written as sums of scaled rows (`acc[x] += c · m[x]`), so
    /// the inner loops over `x` become SIMD lanes.
    #[inline(always)]
    pub(super) fn block_n<const SX: usize, const SY: usize>(
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

    pub(super) fn block_dyn(
        &self,
        f: &[f32; 64],
        sx: usize,
        sy: usize,
        out: &mut [u8],
        stride: usize,
    ) {
        let (mx, my) = (&self.m[sx], &self.m[sy]);
        // Rows: tmp[v][x] = Σ_u mx[x][u]·f[v][u].
        let mut tmp = [[0f32; MAX_POINTS]; MAX_POINTS];
        for v in 0..sy {
            let row = &f[v * 8..v * 8 + sx];
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
pub(super) fn block_2x2(f: &[f32; 64], out: &mut [u8], stride: usize) {
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
pub(super) fn clamp(v: f32) -> u8 {
    // In [0.5, 255.5] the cast truncates to 0..=255; clamping first lets it vectorise.
    (v.clamp(0.0, 255.0) + 0.5) as u8
}
