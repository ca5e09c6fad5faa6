//! Which JPEG decoder runs, within which budget. A walk over the markers ([`JpegPlan`])
//! first refuses inconsistent headers and prices the work (scans, block visits;
//! [`budget`]). Then our scaled decoder ([`super::decode_scaled`]) when the outputs need
//! 1/2, 1/4 or 1/8 of each side, else zune-jpeg at full size, else `jpeg-decoder` with
//! `scale()` so the DCT produces no more pixels than the outputs need; the fallbacks'
//! memory is estimated from the header and refused when over the budget. Every decoder is
//! cancellable: ours checks the flag per MCU row, the others read their input through a
//! [`CancelReader`], and once cancelled no other decoder gets a turn.

use image::metadata::Orientation;
use jpeg_decoder::{CodingProcess, PixelFormat};

use crate::error::{Error, Result};
use crate::pipeline::budget::{self, Fallback};
use crate::pipeline::cancel::Cancel;
use crate::pipeline::cancel::CancelReader;
use crate::pipeline::jpeg_plan::JpegPlan;
use crate::pipeline::types::{check_dimensions, Decoded, Layout, Limits, Needed, Pixels};

fn jpeg_error(e: jpeg_decoder::Error) -> Error {
    Error::bad_photo(format!("the JPEG image could not be decoded: {e}"))
}

/// Decode a JPEG (already sniffed) at the smallest DCT scale that still gives the pixels
/// `needed` asks for.
pub(crate) fn decode_jpeg(
    bytes: &[u8],
    limits: &Limits,
    needed: Needed<'_>,
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
            let ours = super::decode_scaled(bytes, eighths, max_coef, cancel);
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
        let d = decode_jpeg(&jpeg, &Limits::default(), &fit_1024, &Cancel::new()).unwrap();
        // 1/2 gives 1500x1000 ≥ 1024x683; 1/4 (750x500) would be too small.
        assert_eq!((d.pixels.width, d.pixels.height), (1500, 1000));
        assert_eq!((d.full_width, d.full_height), (3000, 2000));
        assert_eq!(d.pixels.data.len(), 1500 * 1000 * 3);
        let d = decode_jpeg(&jpeg, &Limits::default(), &|_, _| (64, 64), &Cancel::new()).unwrap();
        assert_eq!((d.pixels.width, d.pixels.height), (375, 250));
        let d = decode_jpeg(&jpeg, &Limits::default(), &|w, h| (w, h), &Cancel::new()).unwrap();
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
        let d = decode_jpeg(&jpeg, &Limits::default(), &fit_1024, &Cancel::new()).unwrap();
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
        let d = decode_jpeg(&gray, &Limits::default(), &fit_1024, &Cancel::new()).unwrap();
        assert_eq!((d.pixels.layout, d.pixels.data.len()), (Layout::Gray, 64));
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
