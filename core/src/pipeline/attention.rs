//! The `"attention"` thumbnail crop: the cover window slides along the source's long axis to
//! where the picture is most salient, instead of sitting in the centre.
//!
//! The idea of sharp's `attention` strategy and of smartcrop: a pixel draws the eye by skin
//! tone, colour saturation and detail (luma edges). The cover window already spans the whole
//! of one axis, so only its position along the other is free: the score is summed per column
//! (or row) and the window goes where its sum is highest, a prefix-sum scan.
//!
//! Cost: the scores are taken on a grid of at most `GRID`×`GRID` sample points, one pixel
//! each (the source here is the already reduced photo), so the search costs a few tens of
//! microseconds whatever the photo's size: a fraction of the thumbnail's resize.

use super::types::{Layout, Pixels};

/// Sample points along the long axis (the short one gets proportionally fewer).
const GRID: u32 = 96;

/// The weights of the three cues (smartcrop's defaults, rescaled: skin counts most).
const SKIN_WEIGHT: f32 = 1.8;
const SATURATION_WEIGHT: f32 = 0.3;
const DETAIL_WEIGHT: f32 = 0.2;

/// A skin tone as a normalised RGB direction (smartcrop's).
const SKIN: [f32; 3] = [0.78, 0.57, 0.44];

/// The crop box `(left, top, width, height)` of a `width`×`height` cover window inside `src`,
/// placed on the most salient region along the free axis. Ties (a flat picture) keep the
/// window nearest the centre.
pub(crate) fn place(src: &Pixels, window: (f64, f64, f64, f64)) -> (f64, f64, f64, f64) {
    let (_, _, cw, ch) = window;
    let (sw, sh) = (f64::from(src.width), f64::from(src.height));
    let horizontal = sw - cw > 0.5;
    let vertical = sh - ch > 0.5;
    if !horizontal && !vertical {
        return window;
    }
    let step = (src.width.max(src.height).div_ceil(GRID)).max(1);
    let (gw, gh) = (src.width.div_ceil(step), src.height.div_ceil(step));
    let scores = grid_scores(src, step, gw, gh);
    // Per column (window moves sideways) or per row (up and down).
    let lines: Vec<f32> = if horizontal {
        (0..gw)
            .map(|x| (0..gh).map(|y| scores[(y * gw + x) as usize]).sum())
            .collect()
    } else {
        (0..gh)
            .map(|y| {
                scores[(y * gw) as usize..((y + 1) * gw) as usize]
                    .iter()
                    .sum()
            })
            .collect()
    };
    let (extent, size) = if horizontal { (sw, cw) } else { (sh, ch) };
    let start = best_start(&lines, size / extent);
    let offset = (start * extent).clamp(0.0, extent - size);
    if horizontal {
        (offset, 0.0, cw, ch)
    } else {
        (0.0, offset, cw, ch)
    }
}

/// Where a window covering `fraction` of `lines` starts (as a fraction of the whole) so that
/// it holds the largest sum; among equal sums, the one nearest the centre.
fn best_start(lines: &[f32], fraction: f64) -> f64 {
    let n = lines.len();
    let len = ((fraction * n as f64).round() as usize).clamp(1, n);
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0f64);
    for v in lines {
        prefix.push(prefix[prefix.len() - 1] + f64::from(*v));
    }
    let centre = (n - len) as f64 / 2.0;
    let total = prefix[n].max(f64::MIN_POSITIVE);
    let mut best = (f64::MIN, 0usize);
    for start in 0..=n - len {
        let sum = prefix[start + len] - prefix[start];
        // A gentle pull to the centre: decides ties and near-ties (less than 1% of the
        // picture's total score) without overruling a real subject.
        let distance = (start as f64 - centre).abs() / n as f64;
        let score = sum / total - 0.01 * distance;
        if score > best.0 {
            best = (score, start);
        }
    }
    best.1 as f64 / n as f64
}

/// The saliency of each grid point (`gw`×`gh`, row-major), sampled every `step` pixels.
fn grid_scores(src: &Pixels, step: u32, gw: u32, gh: u32) -> Vec<f32> {
    let channels = src.layout.channels();
    let row = src.width as usize * channels;
    let rgba = |x: u32, y: u32| -> [f32; 4] {
        let i = y as usize * row + x as usize * channels;
        let p = &src.data[i..i + channels];
        match src.layout {
            Layout::Gray => [p[0].into(), p[0].into(), p[0].into(), 255.0],
            Layout::Rgb => [p[0].into(), p[1].into(), p[2].into(), 255.0],
            Layout::Rgba => [p[0].into(), p[1].into(), p[2].into(), p[3].into()],
        }
    };
    let mut samples = Vec::with_capacity((gw * gh) as usize);
    for gy in 0..gh {
        for gx in 0..gw {
            let x = (gx * step + step / 2).min(src.width - 1);
            let y = (gy * step + step / 2).min(src.height - 1);
            samples.push(rgba(x, y));
        }
    }
    let luma = |p: &[f32; 4]| (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]) / 255.0;
    let lumas: Vec<f32> = samples.iter().map(luma).collect();
    let at = |x: u32, y: u32| lumas[(y * gw + x) as usize];
    let mut scores = Vec::with_capacity(samples.len());
    for gy in 0..gh {
        for gx in 0..gw {
            let p = &samples[(gy * gw + gx) as usize];
            let alpha = p[3] / 255.0;
            let l = at(gx, gy);
            // A 4-neighbour Laplacian on the grid: edges at the scale a thumbnail keeps.
            let neighbours = [
                at(gx.saturating_sub(1), gy),
                at((gx + 1).min(gw - 1), gy),
                at(gx, gy.saturating_sub(1)),
                at(gx, (gy + 1).min(gh - 1)),
            ];
            let detail = (4.0 * l - neighbours.iter().sum::<f32>()).abs().min(1.0);
            let score = SKIN_WEIGHT * skin(p, l)
                + SATURATION_WEIGHT * saturation(p, l)
                + DETAIL_WEIGHT * detail;
            scores.push(score * alpha);
        }
    }
    scores
}

/// How close the colour's direction is to a skin tone, for mid luma (0 to 1).
fn skin(p: &[f32; 4], luma: f32) -> f32 {
    if !(0.2..=0.95).contains(&luma) {
        return 0.0;
    }
    let norm = (p[0] * p[0] + p[1] * p[1] + p[2] * p[2]).sqrt().max(1.0);
    let d = (0..3)
        .map(|i| (p[i] / norm - SKIN[i]).powi(2))
        .sum::<f32>()
        .sqrt();
    (1.0 - d / 0.2).clamp(0.0, 1.0)
}

/// Chroma relative to brightness, for luma away from black and white (0 to 1).
fn saturation(p: &[f32; 4], luma: f32) -> f32 {
    if !(0.05..=0.95).contains(&luma) {
        return 0.0;
    }
    let max = p[0].max(p[1]).max(p[2]);
    let min = p[0].min(p[1]).min(p[2]);
    if max <= 0.0 {
        0.0
    } else {
        (max - min) / max
    }
}

#[cfg(test)]
mod tests {
    use super::super::resize::cover_crop;
    use super::*;

    /// A `w`×`h` RGB picture of flat grey with a skin-toned, textured disc of radius `r`
    /// centred at (`cx`, `cy`).
    fn subject(w: u32, h: u32, cx: u32, cy: u32, r: u32) -> Pixels {
        let mut data = Vec::with_capacity((w * h * 3) as usize);
        for y in 0..h {
            for x in 0..w {
                let (dx, dy) = (x.abs_diff(cx), y.abs_diff(cy));
                if dx * dx + dy * dy <= r * r {
                    let t = if (x / 3 + y / 3) % 2 == 0 { 0 } else { 30 };
                    data.extend_from_slice(&[224 - t, 168 - t, 130 - t]);
                } else {
                    data.extend_from_slice(&[128, 128, 128]);
                }
            }
        }
        Pixels {
            data,
            width: w,
            height: h,
            layout: Layout::Rgb,
        }
    }

    fn window_holds(window: (f64, f64, f64, f64), cx: u32, cy: u32) -> bool {
        let (l, t, w, h) = window;
        (l..l + w).contains(&f64::from(cx)) && (t..t + h).contains(&f64::from(cy))
    }

    #[test]
    fn the_window_moves_onto_the_subject_along_the_free_axis() {
        // A wide picture, a face near its left edge: the centre crop misses it.
        let src = subject(900, 300, 120, 150, 60);
        let centred = cover_crop(900, 300, 64, 64);
        assert!(!window_holds(centred, 120, 150), "{centred:?}");
        let placed = place(&src, centred);
        assert!(window_holds(placed, 120, 150), "{placed:?}");
        assert_eq!((placed.2, placed.3), (centred.2, centred.3), "same size");
        // A tall one, the subject at the bottom.
        let src = subject(300, 1000, 150, 900, 70);
        let centred = cover_crop(300, 1000, 64, 64);
        let placed = place(&src, centred);
        assert!(window_holds(placed, 150, 900), "{placed:?}");
        assert!(placed.1 + placed.3 <= 1000.0);
    }

    #[test]
    fn a_flat_picture_keeps_the_centre_and_a_fixed_window_stays() {
        let flat = subject(800, 400, 0, 0, 0);
        let centred = cover_crop(800, 400, 64, 64);
        let placed = place(&flat, centred);
        assert!(
            (placed.0 - centred.0).abs() <= 800.0 / f64::from(GRID),
            "{placed:?}"
        );
        // Same aspect as the thumbnail: nothing to move.
        let square = subject(500, 500, 50, 50, 30);
        let whole = cover_crop(500, 500, 64, 64);
        assert_eq!(place(&square, whole), whole);
    }

    #[test]
    fn transparent_pixels_draw_no_attention() {
        // The same subject twice: the left one fully transparent.
        let mut src = subject(900, 300, 150, 150, 60);
        let right = subject(900, 300, 750, 150, 60);
        let mut data = Vec::new();
        for (i, (a, b)) in src.data.chunks(3).zip(right.data.chunks(3)).enumerate() {
            let x = (i % 900) as u32;
            let (px, alpha) = if x < 450 { (a, 0) } else { (b, 255) };
            data.extend_from_slice(px);
            data.push(alpha);
        }
        src.data = data;
        src.layout = Layout::Rgba;
        let placed = place(&src, cover_crop(900, 300, 64, 64));
        assert!(window_holds(placed, 750, 150), "{placed:?}");
    }
}
