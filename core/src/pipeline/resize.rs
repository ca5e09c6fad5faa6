//! Geometry and pixel work: fit-inside for the photo, cover-and-crop (centre or attention) for the
//! thumbnail (one `fast_image_resize` call with a source crop box, Lanczos3, alpha
//! premultiplied during the resize), and EXIF orientation on the finished small images.

use fast_image_resize as fr;
use image::metadata::Orientation;

use super::attention;
use super::types::{Layout, Pixels, ThumbnailCrop};
use crate::error::{Error, Result};

/// `w`×`h` scaled to fit inside `max_side`×`max_side`, keeping the aspect ratio; never
/// upscaled, never below 1 pixel.
pub(crate) fn fit_within(w: u32, h: u32, max_side: u32) -> (u32, u32) {
    let max_side = max_side.max(1);
    if w <= max_side && h <= max_side {
        return (w, h);
    }
    let (long, short) = (u64::from(w.max(h)), u64::from(w.min(h)));
    let scaled_short = ((short * u64::from(max_side) + long / 2) / long).max(1) as u32;
    if w >= h {
        (max_side, scaled_short)
    } else {
        (scaled_short, max_side)
    }
}

/// The source crop box `(left, top, width, height)` whose scale to `dw`×`dh` covers the
/// destination exactly: the largest centred region with the destination's aspect ratio.
pub(crate) fn cover_crop(sw: u32, sh: u32, dw: u32, dh: u32) -> (f64, f64, f64, f64) {
    let (sw_f, sh_f, dw_f, dh_f) = (f64::from(sw), f64::from(sh), f64::from(dw), f64::from(dh));
    if u64::from(sw) * u64::from(dh) > u64::from(dw) * u64::from(sh) {
        // The source is wider than the destination: cut the sides.
        let cw = sh_f * dw_f / dh_f;
        ((sw_f - cw) / 2.0, 0.0, cw, sh_f)
    } else {
        let ch = sw_f * dh_f / dw_f;
        (0.0, (sh_f - ch) / 2.0, sw_f, ch)
    }
}

/// How many source pixels (per direction) a cover scale of `w`×`h` to `tw`×`th` uses,
/// capped at the source: decoding fewer would mean upscaling.
pub(crate) fn cover_needs(w: u32, h: u32, tw: u32, th: u32) -> (u32, u32) {
    let (w64, h64, tw64, th64) = (u64::from(w), u64::from(h), u64::from(tw), u64::from(th));
    let (nw, nh) = if tw64 * h64 >= th64 * w64 {
        (tw64, (h64 * tw64).div_ceil(w64.max(1)))
    } else {
        ((w64 * th64).div_ceil(h64.max(1)), th64)
    };
    (nw.min(w64) as u32, nh.min(h64) as u32)
}

fn pixel_type(layout: Layout) -> fr::PixelType {
    match layout {
        Layout::Gray => fr::PixelType::U8,
        Layout::Rgb => fr::PixelType::U8x3,
        Layout::Rgba => fr::PixelType::U8x4,
    }
}

fn resize(src: &Pixels, dw: u32, dh: u32, crop: Option<(f64, f64, f64, f64)>) -> Result<Pixels> {
    let pt = pixel_type(src.layout);
    let src_view =
        fr::images::ImageRef::new(src.width, src.height, &src.data, pt).map_err(Error::internal)?;
    let mut dst = fr::images::Image::new(dw, dh, pt);
    let mut options =
        fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Lanczos3));
    if let Some((left, top, width, height)) = crop {
        options = options.crop(left, top, width, height);
    }
    fr::Resizer::new()
        .resize(&src_view, &mut dst, &options)
        .map_err(Error::internal)?;
    Ok(Pixels {
        data: dst.into_vec(),
        width: dw,
        height: dh,
        layout: src.layout,
    })
}

/// The whole of `src` resized to `dw`×`dh`.
pub(crate) fn resize_fit(src: &Pixels, dw: u32, dh: u32) -> Result<Pixels> {
    resize(src, dw, dh, None)
}

/// The source crop box of a `dw`×`dh` cover thumbnail placed by `crop`. It depends on the
/// destination's aspect ratio only, so one window serves every scale of a thumbnail: the
/// 2× and 3× show exactly what the 1× shows.
pub(crate) fn cover_window(
    src: &Pixels,
    dw: u32,
    dh: u32,
    crop: ThumbnailCrop,
) -> (f64, f64, f64, f64) {
    let centred = cover_crop(src.width, src.height, dw, dh);
    match crop {
        ThumbnailCrop::Center => centred,
        ThumbnailCrop::Attention => attention::place(src, centred),
    }
}

/// The `window` of `src` (from [`cover_window`]) resized to `dw`×`dh`: a cover thumbnail,
/// cropped and scaled in one resize.
pub(crate) fn resize_window(
    src: &Pixels,
    dw: u32,
    dh: u32,
    window: (f64, f64, f64, f64),
) -> Result<Pixels> {
    resize(src, dw, dh, Some(window))
}

/// Apply an EXIF orientation, with the same meaning as `image`'s
/// `DynamicImage::apply_orientation`.
pub(crate) fn apply_orientation(px: Pixels, orientation: Orientation) -> Pixels {
    if orientation == Orientation::NoTransforms {
        return px;
    }
    let (w, h, c) = (px.width as usize, px.height as usize, px.layout.channels());
    let swap = matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    );
    let (dw, dh) = if swap { (h, w) } else { (w, h) };
    // Destination (x, y) → source (x, y).
    let source = |x: usize, y: usize| -> (usize, usize) {
        match orientation {
            Orientation::NoTransforms => (x, y),
            Orientation::FlipHorizontal => (w - 1 - x, y),
            Orientation::Rotate180 => (w - 1 - x, h - 1 - y),
            Orientation::FlipVertical => (x, h - 1 - y),
            Orientation::Rotate90 => (y, h - 1 - x),
            Orientation::Rotate270 => (w - 1 - y, x),
            Orientation::Rotate90FlipH => (y, x),
            Orientation::Rotate270FlipH => (w - 1 - y, h - 1 - x),
        }
    };
    let mut out = vec![0u8; px.data.len()];
    for (y, row) in out.chunks_exact_mut(dw * c).enumerate() {
        for (x, dst) in row.chunks_exact_mut(c).enumerate() {
            let (sx, sy) = source(x, y);
            let s = (sy * w + sx) * c;
            dst.copy_from_slice(&px.data[s..s + c]);
        }
    }
    Pixels {
        data: out,
        width: dw as u32,
        height: dh as u32,
        layout: px.layout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_never_upscales() {
        assert_eq!(fit_within(10, 10, 1024), (10, 10));
        assert_eq!(fit_within(1024, 1024, 1024), (1024, 1024));
        assert_eq!(fit_within(1024, 1, 1024), (1024, 1));
        assert_eq!(fit_within(6000, 4000, 1024), (1024, 683));
        assert_eq!(fit_within(4000, 6000, 1024), (683, 1024));
        assert_eq!(fit_within(1800, 1200, 1024), (1024, 683));
        assert_eq!(fit_within(100_000, 1, 1024), (1024, 1));
        for (w, h) in [(1, 1), (3000, 7), (1025, 1025), (16384, 16384), (500, 2000)] {
            let (fw, fh) = fit_within(w, h, 1024);
            assert!(fw <= w && fh <= h, "{w}x{h} upscaled to {fw}x{fh}");
            assert!(fw <= 1024 && fh <= 1024 && fw >= 1 && fh >= 1);
        }
    }

    #[test]
    fn cover_crop_keeps_destination_aspect() {
        let (l, t, w, h) = cover_crop(1000, 500, 64, 64);
        assert_eq!((l, t, w, h), (250.0, 0.0, 500.0, 500.0));
        let (l, t, w, h) = cover_crop(500, 1000, 64, 32);
        assert_eq!((l, t, w, h), (0.0, 375.0, 500.0, 250.0));
        assert_eq!(cover_crop(10, 10, 64, 64), (0.0, 0.0, 10.0, 10.0));
    }

    #[test]
    fn cover_needs_is_what_the_cover_scale_uses() {
        assert_eq!(cover_needs(6000, 4000, 64, 64), (96, 64));
        assert_eq!(cover_needs(4000, 6000, 64, 64), (64, 96));
        assert_eq!(cover_needs(10, 10, 64, 64), (10, 10));
        assert_eq!(cover_needs(16000, 800, 64, 64), (1280, 64));
    }

    fn gradient(w: u32, h: u32, layout: Layout) -> Pixels {
        let c = layout.channels();
        let mut data = Vec::with_capacity(w as usize * h as usize * c);
        for y in 0..h {
            for x in 0..w {
                for k in 0..c {
                    data.push(if k == 3 {
                        255
                    } else {
                        ((x * 7 + y * 3 + k as u32 * 50) % 256) as u8
                    });
                }
            }
        }
        Pixels {
            data,
            width: w,
            height: h,
            layout,
        }
    }

    #[test]
    fn cover_resize_gives_exact_sizes() {
        for (sw, sh, dw, dh) in [
            (1000, 500, 64, 64),
            (10, 10, 64, 64),
            (500, 1000, 64, 32),
            (64, 64, 64, 64),
            (1, 1, 3, 5),
        ] {
            for layout in [Layout::Gray, Layout::Rgb, Layout::Rgba] {
                let src = gradient(sw, sh, layout);
                let window = cover_window(&src, dw, dh, ThumbnailCrop::Center);
                let out = resize_window(&src, dw, dh, window).unwrap();
                assert_eq!((out.width, out.height), (dw, dh));
                assert_eq!(out.data.len(), (dw * dh) as usize * layout.channels());
            }
        }
    }

    #[test]
    fn alpha_is_premultiplied_during_resize() {
        // Left half opaque red, right half fully transparent *green*: the green must not
        // bleed into the visible pixels.
        let (w, h) = (64u32, 8u32);
        let mut data = Vec::new();
        for _ in 0..h {
            for x in 0..w {
                data.extend_from_slice(if x < w / 2 {
                    &[255, 0, 0, 255]
                } else {
                    &[0, 255, 0, 0]
                });
            }
        }
        let src = Pixels {
            data,
            width: w,
            height: h,
            layout: Layout::Rgba,
        };
        let out = resize_fit(&src, 16, 2).unwrap();
        for p in out.data.chunks_exact(4) {
            if p[3] > 16 {
                assert!(p[1] < 8, "green bled into a visible pixel: {p:?}");
            }
        }
    }

    #[test]
    fn orientation_matches_image_crate() {
        let all = [
            Orientation::NoTransforms,
            Orientation::FlipHorizontal,
            Orientation::Rotate180,
            Orientation::FlipVertical,
            Orientation::Rotate90FlipH,
            Orientation::Rotate90,
            Orientation::Rotate270FlipH,
            Orientation::Rotate270,
        ];
        for layout in [Layout::Gray, Layout::Rgb, Layout::Rgba] {
            let px = gradient(5, 3, layout);
            for o in all {
                let ours = apply_orientation(px.clone(), o);
                let mut theirs = match layout {
                    Layout::Gray => image::DynamicImage::ImageLuma8(
                        image::GrayImage::from_raw(5, 3, px.data.clone()).unwrap(),
                    ),
                    Layout::Rgb => image::DynamicImage::ImageRgb8(
                        image::RgbImage::from_raw(5, 3, px.data.clone()).unwrap(),
                    ),
                    Layout::Rgba => image::DynamicImage::ImageRgba8(
                        image::RgbaImage::from_raw(5, 3, px.data.clone()).unwrap(),
                    ),
                };
                theirs.apply_orientation(o);
                assert_eq!(
                    (ours.width, ours.height),
                    (theirs.width(), theirs.height()),
                    "{o:?}"
                );
                assert_eq!(ours.data, theirs.as_bytes(), "{o:?} {layout:?}");
            }
        }
    }
}
