//! YCbCr to RGB, with chroma upsampling where a plane is stored subsampled.

use super::Component;

/// JFIF YCbCr → RGB (BT.601 full range), fixed point as libjpeg does.
pub(super) fn ycc_to_rgb(comps: &[Component], w: usize, h: usize) -> Vec<u8> {
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
pub(super) fn chroma_row<'a>(
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
