//! Bytes → pixels. Every path reads the dimensions from the header and checks them against
//! the limits before a pixel buffer exists; decoding runs behind `catch_unwind` so a decoder
//! panic on hostile bytes is a refused photo, never a crash.
//!
//! - PNG and GIF go through the `image` crate with width/height caps and a `max_alloc`
//!   budget. We use `into_decoder()` only to read the orientation, then do exactly what
//!   `ImageReader::decode()` does (reserve `total_bytes()` from the budget, hand the rest to
//!   the decoder, `from_decoder`): THREATS.md finding 4 is about skipping that reservation.
//!   GIF: the first frame, composited onto the logical screen. PNG text is never inflated.
//! - JPEG: first a walk over its markers ([`JpegPlan`]) refuses inconsistent headers and
//!   prices the work (scans, block visits; [`budget`]). Then our scaled decoder, else
//!   zune-jpeg at full size, else `jpeg-decoder` with `scale()` so the DCT produces no more
//!   pixels than the outputs need (1/2, 1/4 or 1/8 of each side); the fallbacks' memory is
//!   estimated from the header and refused when over the budget.
//! - Every decoder is cancellable: ours checks the flag per MCU row, the others read their
//!   input through a [`CancelReader`].

use std::panic::{catch_unwind, AssertUnwindSafe};

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};
use jpeg_decoder::{CodingProcess, PixelFormat};

use super::budget::{self, Fallback};
use super::cancel::CancelReader;
use super::jpeg_plan::JpegPlan;
use super::{check_dimensions, Cancel, InputFormat, Layout, Limits, Pixels};
use crate::error::{Error, Result};

/// What the decoder produced.
#[derive(Debug)]
pub(crate) struct Decoded {
    /// Pixels in the file's own frame (orientation not applied); JPEGs may be smaller than
    /// the full image because of DCT scaling.
    pub pixels: Pixels,
    /// Full image dimensions from the header, in the file's own frame.
    pub full_width: u32,
    pub full_height: u32,
    pub orientation: Orientation,
}

/// Decode `bytes` (already sniffed as `format`). `needed(w, h)` says how many pixels the
/// caller needs in each direction from a `w`×`h` image; JPEG decoding may stop there.
pub(crate) fn decode(
    bytes: &[u8],
    format: InputFormat,
    limits: &Limits,
    needed: &dyn Fn(u32, u32) -> (u32, u32),
    cancel: &Cancel,
) -> Result<Decoded> {
    // Limit checks happen inside too, so a header parser panic is covered as well.
    let decoded = catch_unwind(AssertUnwindSafe(|| match format {
        InputFormat::Jpeg => decode_jpeg(bytes, limits, needed, cancel),
        InputFormat::Png | InputFormat::Gif => decode_with_image(bytes, format, limits, cancel),
    }));
    // A decoder cut short by the cancel reports a truncated file (or a partial image):
    // what it returned then is not the answer.
    cancel.check()?;
    decoded.unwrap_or_else(|_| {
        Err(Error::bad_photo(format!(
            "the {} image is malformed",
            name(format)
        )))
    })
}

fn name(format: InputFormat) -> &'static str {
    match format {
        InputFormat::Gif => "GIF",
        InputFormat::Png => "PNG",
        InputFormat::Jpeg => "JPEG",
    }
}

/// PNG: the IHDR must be the first chunk; GIF: the logical screen descriptor. Read straight
/// from the bytes so the limits hold whatever the decoder does next.
pub(crate) fn header_dimensions(bytes: &[u8], format: InputFormat) -> Result<(u32, u32)> {
    let truncated = || Error::bad_photo(format!("the {} header is truncated", name(format)));
    match format {
        InputFormat::Png => {
            let ihdr = bytes.get(8..24).ok_or_else(truncated)?;
            if &ihdr[4..8] != b"IHDR" {
                return Err(Error::bad_photo(
                    "the PNG does not start with an IHDR chunk",
                ));
            }
            let w = u32::from_be_bytes([ihdr[8], ihdr[9], ihdr[10], ihdr[11]]);
            let h = u32::from_be_bytes([ihdr[12], ihdr[13], ihdr[14], ihdr[15]]);
            Ok((w, h))
        }
        InputFormat::Gif => {
            let lsd = bytes.get(6..10).ok_or_else(truncated)?;
            let w = u16::from_le_bytes([lsd[0], lsd[1]]);
            let h = u16::from_le_bytes([lsd[2], lsd[3]]);
            Ok((u32::from(w), u32::from(h)))
        }
        InputFormat::Jpeg => Err(Error::bad_photo("JPEG dimensions come from the decoder")),
    }
}

/// The `image` crate limits for our configuration.
pub(crate) fn image_limits(limits: &Limits) -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_side);
    l.max_image_height = Some(limits.max_side);
    l.max_alloc = Some(budget::memory_budget(limits));
    l
}

fn image_error(format: InputFormat, e: ImageError) -> Error {
    match e {
        ImageError::Limits(_) => Error::too_large(format!(
            "the {} image needs more memory to decode than the limits allow",
            name(format)
        ))
        .with_source(e),
        _ => Error::bad_photo(format!(
            "the {} image could not be decoded: {e}",
            name(format)
        )),
    }
}

fn decode_with_image(
    bytes: &[u8],
    format: InputFormat,
    limits: &Limits,
    cancel: &Cancel,
) -> Result<Decoded> {
    let (w, h) = header_dimensions(bytes, format)?;
    check_dimensions(w, h, limits)?;

    let image_format = if format == InputFormat::Png {
        ImageFormat::Png
    } else {
        ImageFormat::Gif
    };
    let err = |e| image_error(format, e);
    // The ICC profile is never used (outputs are re-encoded without one), yet the png crate
    // inflates it up to the whole allocation budget: a 2 MB PNG whose iCCP inflates to
    // 320 MiB cost 228 MiB of RSS (hostile_bombs.rs). Drop the chunk before decoding.
    let without_iccp = match format {
        InputFormat::Png => png_without_chunk(bytes, b"iCCP"),
        InputFormat::Gif | InputFormat::Jpeg => None,
    };
    let bytes = without_iccp.as_deref().unwrap_or(bytes);
    let mut budget = image_limits(limits);
    let mut reader = ImageReader::with_format(CancelReader::new(bytes, cancel), image_format);
    reader.limits(budget.clone());
    let mut decoder = reader.into_decoder().map_err(err)?;
    let (dw, dh) = decoder.dimensions();
    check_dimensions(dw, dh, limits)?;
    // PNG eXIf (raw, never inflated); GIF has none. A bad EXIF block means no rotation.
    let orientation = match format {
        InputFormat::Png => decoder.orientation().unwrap_or(Orientation::NoTransforms),
        _ => Orientation::NoTransforms,
    };
    // What `ImageReader::decode()` does: the output buffer comes out of the budget first.
    budget.reserve(decoder.total_bytes()).map_err(err)?;
    decoder.set_limits(budget).map_err(err)?;
    let image = DynamicImage::from_decoder(decoder).map_err(err)?;
    let pixels = from_dynamic(image);
    if (pixels.width, pixels.height) != (dw, dh) {
        return Err(Error::bad_photo(format!(
            "the {} decoder returned a wrong size",
            name(format)
        )));
    }
    Ok(Decoded {
        pixels,
        full_width: dw,
        full_height: dh,
        orientation,
    })
}

/// `png` without its `kind` chunks, or `None` when it has none (no copy is made then).
/// Chunks are walked by their declared lengths; from the first one that does not fit, the
/// rest is copied as it is and left to the decoder to refuse.
fn png_without_chunk(png: &[u8], kind: &[u8; 4]) -> Option<Vec<u8>> {
    let mut spans = Vec::new();
    let mut at = 8;
    while let Some(head) = png.get(at..at + 8) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let end = at.checked_add(12)?.checked_add(len)?;
        if end > png.len() {
            break;
        }
        if &head[4..8] == kind {
            spans.push(at..end);
        }
        if &head[4..8] == b"IEND" {
            break;
        }
        at = end;
    }
    if spans.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(png.len());
    let mut from = 0;
    for span in spans {
        out.extend_from_slice(&png[from..span.start]);
        from = span.end;
    }
    out.extend_from_slice(&png[from..]);
    Some(out)
}

/// To 8-bit gray, RGB or RGBA; RGBA that is fully opaque loses its alpha channel.
fn from_dynamic(image: DynamicImage) -> Pixels {
    let (width, height) = (image.width(), image.height());
    let (data, layout) = match image {
        DynamicImage::ImageLuma8(b) => (b.into_raw(), Layout::Gray),
        DynamicImage::ImageLuma16(_) => (image.to_luma8().into_raw(), Layout::Gray),
        DynamicImage::ImageRgb8(b) => (b.into_raw(), Layout::Rgb),
        DynamicImage::ImageRgb16(_) | DynamicImage::ImageRgb32F(_) => {
            (image.to_rgb8().into_raw(), Layout::Rgb)
        }
        other => (other.into_rgba8().into_raw(), Layout::Rgba),
    };
    drop_opaque_alpha(Pixels {
        data,
        width,
        height,
        layout,
    })
}

/// RGBA whose alpha is 255 everywhere becomes RGB, in place.
pub(crate) fn drop_opaque_alpha(mut px: Pixels) -> Pixels {
    // AND of the alpha bytes, a block at a time: vectorises, and stops at the first block
    // with transparency.
    let opaque = |block: &[u8]| block.chunks_exact(4).fold(255u8, |a, p| a & p[3]) == 255;
    if px.layout != Layout::Rgba || !px.data.chunks(4096).all(opaque) {
        return px;
    }
    // In place, front to back (the write index never passes the read index); four pixels
    // per step as fixed-size arrays so the compiler emits shuffles, not 3-byte memmoves.
    let n = px.data.len() / 4;
    let (mut r, mut w) = (0, 0);
    while r + 16 <= n * 4 {
        let mut q = [0u8; 16];
        q.copy_from_slice(&px.data[r..r + 16]);
        let rgb = [
            q[0], q[1], q[2], q[4], q[5], q[6], q[8], q[9], q[10], q[12], q[13], q[14],
        ];
        px.data[w..w + 12].copy_from_slice(&rgb);
        r += 16;
        w += 12;
    }
    while r < n * 4 {
        px.data.copy_within(r..r + 3, w);
        r += 4;
        w += 3;
    }
    px.data.truncate(n * 3);
    px.layout = Layout::Rgb;
    px
}

fn jpeg_error(e: jpeg_decoder::Error) -> Error {
    Error::bad_photo(format!("the JPEG image could not be decoded: {e}"))
}

fn decode_jpeg(
    bytes: &[u8],
    limits: &Limits,
    needed: &dyn Fn(u32, u32) -> (u32, u32),
    cancel: &Cancel,
) -> Result<Decoded> {
    // Structure and work first, before any decoder sees the file.
    let plan = JpegPlan::read(bytes, budget::MAX_SCANS)?;
    check_dimensions(plan.width, plan.height, limits)?;
    budget::check_work(&plan, limits)?;
    let mut decoder = jpeg_decoder::Decoder::new(CancelReader::new(bytes, cancel));
    decoder.read_info().map_err(jpeg_error)?;
    let info = decoder
        .info()
        .ok_or_else(|| Error::bad_photo("the JPEG image has no frame header"))?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    if (w, h) != (plan.width, plan.height) {
        return Err(Error::bad_photo("the JPEG frame header is inconsistent"));
    }

    let (out_w, out_h) = if info.coding_process == CodingProcess::Lossless {
        (w, h)
    } else {
        let (nw, nh) = needed(w, h);
        let eighths = dct_scale(w, h, nw, nh);
        if eighths < 8 {
            // Our own scaled decoder; anything it does not cover goes to jpeg-decoder.
            let max_coef = limits
                .max_pixels
                .saturating_mul(6)
                .saturating_add(budget::ALLOC_SLACK);
            let ours = super::jpeg::decode_scaled(bytes, eighths, max_coef, cancel);
            // Cancelled: no other decoder gets a turn.
            cancel.check()?;
            if let Ok(s) = ours {
                if (s.width, s.height) == (scaled(w, eighths), scaled(h, eighths)) {
                    return Ok(Decoded {
                        pixels: Pixels {
                            data: s.data,
                            width: s.width,
                            height: s.height,
                            layout: if s.gray { Layout::Gray } else { Layout::Rgb },
                        },
                        full_width: w,
                        full_height: h,
                        orientation: s.orientation,
                    });
                }
            }
        }
        if eighths == 8 && matches!(info.pixel_format, PixelFormat::L8 | PixelFormat::RGB24) {
            // Full size: zune-jpeg decodes faster than jpeg-decoder and needs no threads.
            budget::check_fallback_memory(&plan, Fallback::Zune, limits)?;
            let gray = info.pixel_format == PixelFormat::L8;
            return decode_jpeg_full(bytes, limits, w, h, gray, cancel);
        }
        let (sw, sh) = (scaled(w, eighths), scaled(h, eighths));
        let (mut ow, mut oh) = scale_to(&mut decoder, sw, sh)?;
        if ow < sw.min(w) || oh < sh.min(h) {
            // jpeg-decoder chose a smaller scale than asked for: take the full size.
            (ow, oh) = scale_to(&mut decoder, w, h)?;
        }
        (ow, oh)
    };
    // The scale jpeg-decoder settled on, for its memory estimate.
    let eighths = [1, 2, 4]
        .into_iter()
        .find(|&e| (scaled(w, e), scaled(h, e)) == (out_w, out_h))
        .unwrap_or(8);
    budget::check_fallback_memory(&plan, Fallback::JpegDecoder { eighths }, limits)?;
    let components = info.pixel_format.pixel_bytes() as u64;
    let max_buffer = u64::from(out_w) * u64::from(out_h) * components;
    decoder.set_max_decoding_buffer_size(usize::try_from(max_buffer).unwrap_or(usize::MAX));
    let data = decoder.decode().map_err(jpeg_error)?;
    let pixel_format = decoder.info().map_or(info.pixel_format, |i| i.pixel_format);
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);

    let expected = u64::from(out_w) * u64::from(out_h) * pixel_format.pixel_bytes() as u64;
    if data.len() as u64 != expected {
        return Err(Error::bad_photo(
            "the JPEG decoder returned a wrong number of pixels",
        ));
    }
    let (data, layout) = match pixel_format {
        PixelFormat::L8 => (data, Layout::Gray),
        PixelFormat::RGB24 => (data, Layout::Rgb),
        PixelFormat::L16 => (gray16_to_gray8(&data), Layout::Gray),
        PixelFormat::CMYK32 => (cmyk_to_rgb(&data), Layout::Rgb),
    };
    Ok(Decoded {
        pixels: Pixels {
            data,
            width: out_w,
            height: out_h,
            layout,
        },
        full_width: w,
        full_height: h,
        orientation,
    })
}

/// A full-size decode with zune-jpeg (8-bit gray or YCbCr/RGB JPEGs, already checked
/// against the limits from jpeg-decoder's header parse).
fn decode_jpeg_full(
    bytes: &[u8],
    limits: &Limits,
    w: u32,
    h: u32,
    gray: bool,
    cancel: &Cancel,
) -> Result<Decoded> {
    use zune_core::colorspace::ColorSpace;
    let side = limits.max_side as usize;
    let options = zune_core::options::DecoderOptions::default()
        .set_max_width(side)
        .set_max_height(side)
        .jpeg_set_max_scans(budget::MAX_SCANS as usize)
        .jpeg_set_out_colorspace(if gray {
            ColorSpace::Luma
        } else {
            ColorSpace::RGB
        });
    let mut decoder =
        zune_jpeg::JpegDecoder::new_with_options(CancelReader::new(bytes, cancel), options);
    let err = |e: zune_jpeg::errors::DecodeErrors| {
        Error::bad_photo(format!("the JPEG image could not be decoded: {e}"))
    };
    decoder.decode_headers().map_err(err)?;
    let info = decoder
        .info()
        .ok_or_else(|| Error::bad_photo("the JPEG image has no frame header"))?;
    if (u32::from(info.width), u32::from(info.height)) != (w, h) {
        return Err(Error::bad_photo("the JPEG frame header is inconsistent"));
    }
    let data = decoder.decode().map_err(err)?;
    let (layout, channels) = match decoder.output_colorspace() {
        Some(ColorSpace::Luma) => (Layout::Gray, 1),
        Some(ColorSpace::RGB) => (Layout::Rgb, 3),
        other => {
            return Err(Error::bad_photo(format!(
                "the JPEG decoder returned an unexpected colour space {other:?}"
            )))
        }
    };
    if data.len() as u64 != u64::from(w) * u64::from(h) * channels {
        return Err(Error::bad_photo(
            "the JPEG decoder returned a wrong number of pixels",
        ));
    }
    let orientation = decoder
        .exif()
        .and_then(|e| Orientation::from_exif_chunk(e))
        .unwrap_or(Orientation::NoTransforms);
    Ok(Decoded {
        pixels: Pixels {
            data,
            width: w,
            height: h,
            layout,
        },
        full_width: w,
        full_height: h,
        orientation,
    })
}

fn scale_to(
    decoder: &mut jpeg_decoder::Decoder<CancelReader>,
    w: u32,
    h: u32,
) -> Result<(u32, u32)> {
    let clamp = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    let (ow, oh) = decoder.scale(clamp(w), clamp(h)).map_err(jpeg_error)?;
    Ok((u32::from(ow), u32::from(oh)))
}

/// `len` scaled by `eighths`/8, rounded up as the IDCT does.
pub(crate) fn scaled(len: u32, eighths: u32) -> u32 {
    (len * eighths).div_ceil(8)
}

/// The smallest IDCT scale (1, 2, 4 or 8 eighths) that still gives at least `need_w`×`need_h`.
pub(crate) fn dct_scale(w: u32, h: u32, need_w: u32, need_h: u32) -> u32 {
    [1, 2, 4]
        .into_iter()
        .find(|&e| scaled(w, e) >= need_w.min(w) && scaled(h, e) >= need_h.min(h))
        .unwrap_or(8)
}

/// Lossless JPEGs with 9–16 bit samples come out as native-endian u16. The precision is not
/// exposed, so shift by what the samples actually use.
fn gray16_to_gray8(data: &[u8]) -> Vec<u8> {
    let samples = || {
        data.chunks_exact(2)
            .map(|c| u16::from_ne_bytes([c[0], c[1]]))
    };
    let max = samples().max().unwrap_or(0);
    let bits = 16 - max.leading_zeros();
    let shift = bits.saturating_sub(8);
    samples().map(|v| (v >> shift) as u8).collect()
}

/// jpeg-decoder hands back CMYK as ink amounts (0 = no ink); naive CMYK → RGB, the same
/// conversion the `image` crate used when it decoded with jpeg-decoder.
fn cmyk_to_rgb(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() / 4 * 3);
    for p in data.chunks_exact(4) {
        let k = 255 - u16::from(p[3]);
        for &c in &p[..3] {
            out.push(((255 - u16::from(c)) * k / 255) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dct_scale_picks_smallest_sufficient() {
        // 6000x4000 → 1024x683 photo: 1/4 gives 1500x1000, 1/8 would be 750x500.
        assert_eq!(dct_scale(6000, 4000, 1024, 683), 2);
        assert_eq!(scaled(6000, 2), 1500);
        assert_eq!(dct_scale(8000, 6000, 1024, 768), 2);
        assert_eq!(dct_scale(9000, 6000, 1024, 683), 1);
        assert_eq!(dct_scale(1800, 1200, 1024, 683), 8);
        assert_eq!(dct_scale(2048, 2048, 1024, 1024), 4);
        assert_eq!(dct_scale(2049, 2049, 1024, 1024), 4);
        // Never below what is needed, in both directions.
        for (w, h, nw, nh) in [
            (4000, 3000, 64, 64),
            (31, 17, 64, 64),
            (16000, 800, 1024, 64),
        ] {
            let e = dct_scale(w, h, nw, nh);
            assert!(
                scaled(w, e) >= nw.min(w) && scaled(h, e) >= nh.min(h),
                "{w}x{h} at {e}/8"
            );
        }
    }

    fn fit_1024(w: u32, h: u32) -> (u32, u32) {
        crate::pipeline::resize::fit_within(w, h, 1024)
    }

    #[test]
    fn jpeg_is_decoded_at_a_reduced_dct_scale() {
        let jpeg = crate::pipeline::testutil::make_jpeg(3000, 2000);
        let d = decode(
            &jpeg,
            InputFormat::Jpeg,
            &Limits::default(),
            &fit_1024,
            &Cancel::new(),
        )
        .unwrap();
        // 1/2 gives 1500x1000 ≥ 1024x683; 1/4 (750x500) would be too small.
        assert_eq!((d.pixels.width, d.pixels.height), (1500, 1000));
        assert_eq!((d.full_width, d.full_height), (3000, 2000));
        assert_eq!(d.pixels.data.len(), 1500 * 1000 * 3);
        let d = decode(
            &jpeg,
            InputFormat::Jpeg,
            &Limits::default(),
            &|_, _| (64, 64),
            &Cancel::new(),
        )
        .unwrap();
        assert_eq!((d.pixels.width, d.pixels.height), (375, 250));
        let d = decode(
            &jpeg,
            InputFormat::Jpeg,
            &Limits::default(),
            &|w, h| (w, h),
            &Cancel::new(),
        )
        .unwrap();
        assert_eq!((d.pixels.width, d.pixels.height), (3000, 2000));
    }

    #[test]
    fn cmyk_and_gray_jpegs_become_rgb_and_gray() {
        // 16x8: left half no ink (white), right half full cyan.
        let mut cmyk = Vec::new();
        for _ in 0..8 {
            for x in 0..16 {
                cmyk.extend_from_slice(if x < 8 {
                    &[0, 0, 0, 0]
                } else {
                    &[255, 0, 0, 0]
                });
            }
        }
        let mut jpeg = Vec::new();
        jpeg_encoder::Encoder::new(&mut jpeg, 95)
            .encode(&cmyk, 16, 8, jpeg_encoder::ColorType::Cmyk)
            .unwrap();
        let d = decode(
            &jpeg,
            InputFormat::Jpeg,
            &Limits::default(),
            &fit_1024,
            &Cancel::new(),
        )
        .unwrap();
        assert_eq!(d.pixels.layout, Layout::Rgb);
        let px = |x: usize| &d.pixels.data[(4 * 16 + x) * 3..(4 * 16 + x) * 3 + 3];
        assert!(px(1).iter().all(|&v| v > 235), "white: {:?}", px(1));
        assert!(
            px(14)[0] < 20 && px(14)[1] > 235 && px(14)[2] > 235,
            "cyan: {:?}",
            px(14)
        );

        let mut gray = Vec::new();
        jpeg_encoder::Encoder::new(&mut gray, 90)
            .encode(&[128; 64], 8, 8, jpeg_encoder::ColorType::Luma)
            .unwrap();
        let d = decode(
            &gray,
            InputFormat::Jpeg,
            &Limits::default(),
            &fit_1024,
            &Cancel::new(),
        )
        .unwrap();
        assert_eq!((d.pixels.layout, d.pixels.data.len()), (Layout::Gray, 64));
    }

    #[test]
    fn decoder_limits_come_from_our_limits() {
        let l = image_limits(&Limits::default());
        assert_eq!(
            (l.max_image_width, l.max_image_height),
            (Some(16384), Some(16384))
        );
        assert_eq!(l.max_alloc, Some(200_000_000 + budget::ALLOC_SLACK));
    }

    #[test]
    fn png_and_gif_headers() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        png.extend_from_slice(&100_000u32.to_be_bytes());
        png.extend_from_slice(&7u32.to_be_bytes());
        assert_eq!(
            header_dimensions(&png, InputFormat::Png).unwrap(),
            (100_000, 7)
        );
        assert_eq!(
            header_dimensions(&png[..20], InputFormat::Png)
                .unwrap_err()
                .error_code(),
            409010
        );
        let mut not_ihdr = png.clone();
        not_ihdr[12..16].copy_from_slice(b"IDAT");
        assert_eq!(
            header_dimensions(&not_ihdr, InputFormat::Png)
                .unwrap_err()
                .error_code(),
            409010
        );

        let gif = b"GIF89a\xff\xff\x01\x00";
        assert_eq!(
            header_dimensions(gif, InputFormat::Gif).unwrap(),
            (65535, 1)
        );
        assert_eq!(
            header_dimensions(b"GIF89a\x01", InputFormat::Gif)
                .unwrap_err()
                .error_code(),
            409010
        );
    }

    #[test]
    fn opaque_alpha_is_dropped_and_real_alpha_kept() {
        let px = |a: u8| Pixels {
            data: vec![1, 2, 3, 255, 4, 5, 6, a],
            width: 2,
            height: 1,
            layout: Layout::Rgba,
        };
        let opaque = drop_opaque_alpha(px(255));
        assert_eq!(opaque.layout, Layout::Rgb);
        assert_eq!(opaque.data, vec![1, 2, 3, 4, 5, 6]);
        let kept = drop_opaque_alpha(px(254));
        assert_eq!(kept.layout, Layout::Rgba);
        assert_eq!(kept.data.len(), 8);
        // Seven pixels: one four-pixel step and three single ones.
        let rgba: Vec<u8> = (0..7u8)
            .flat_map(|i| [i * 3, i * 3 + 1, i * 3 + 2, 255])
            .collect();
        let rgb = drop_opaque_alpha(Pixels {
            data: rgba,
            width: 7,
            height: 1,
            layout: Layout::Rgba,
        });
        assert_eq!(rgb.data, (0..21u8).collect::<Vec<_>>());
    }

    #[test]
    fn colour_conversions() {
        assert_eq!(
            cmyk_to_rgb(&[0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 255]),
            vec![255, 255, 255, 0, 255, 255, 0, 0, 0]
        );
        let g16: Vec<u8> = [0u16, 4095, 2048]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        assert_eq!(gray16_to_gray8(&g16), vec![0, 255, 128]);
    }
}
