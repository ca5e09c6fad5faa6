//! PNG, GIF and WebP through the `image` crate (WebP: `image-webp`, pure Rust), with width/height caps and a `max_alloc` budget.
//! The header is read straight from the bytes and checked against the limits first, so they
//! hold whatever the decoder does next. We use `into_decoder()` only to read the
//! orientation, then do exactly what `ImageReader::decode()` does (reserve `total_bytes()`
//! from the budget, hand the rest to the decoder, `from_decoder`): THREATS.md finding 4 is
//! about skipping that reservation. GIF: the first frame, composited onto the logical
//! screen. WebP: the first frame of an animation, on its canvas. PNG text is never inflated.

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader};

use super::budget;
use super::cancel::Cancel;
use super::cancel::CancelReader;
use super::types::{check_dimensions, Decoded, Layout, Limits, Needed, Pixels};
use crate::error::{Error, Result};

/// How one `image`-crate format is read.
struct Kind {
    name: &'static str,
    format: ImageFormat,
    /// Width and height from the header, straight from the bytes.
    header: fn(&[u8]) -> Result<(u32, u32)>,
    /// Where the orientation comes from.
    orientation: OrientationFrom,
}

enum OrientationFrom {
    /// None in the format (GIF).
    Nowhere,
    /// The decoder (PNG eXIf: read with the other chunks, never inflated).
    Decoder,
    /// The WebP `EXIF` chunk, found in the bytes. image-webp allocates a metadata chunk's
    /// declared size before reading it: a 240-byte file declaring 4 GiB of EXIF asked for
    /// 4 GiB (fuzz/seeds/pipeline/webp-exif-size-4gib).
    WebpChunk,
}

const PNG: Kind = Kind {
    name: "PNG",
    format: ImageFormat::Png,
    header: png_header,
    orientation: OrientationFrom::Decoder,
};

const GIF: Kind = Kind {
    name: "GIF",
    format: ImageFormat::Gif,
    header: gif_header,
    orientation: OrientationFrom::Nowhere,
};

const WEBP: Kind = Kind {
    name: "WebP",
    format: ImageFormat::WebP,
    header: webp_header,
    orientation: OrientationFrom::WebpChunk,
};

/// A PNG. The whole image is decoded: PNG has no cheaper reduced decode.
pub(crate) fn decode_png(
    bytes: &[u8],
    limits: &Limits,
    _needed: Needed<'_>,
    cancel: &Cancel,
) -> Result<Decoded> {
    // The ICC profile is never used (outputs are re-encoded without one), yet the png crate
    // inflates it up to the whole allocation budget: a 2 MB PNG whose iCCP inflates to
    // 320 MiB cost 228 MiB of RSS (hostile_bombs.rs). Drop the chunk before decoding.
    let without_iccp = png_without_chunk(bytes, b"iCCP");
    let bytes = without_iccp.as_deref().unwrap_or(bytes);
    decode(bytes, &PNG, limits, cancel)
}

/// A GIF's first frame.
pub(crate) fn decode_gif(b: &[u8], l: &Limits, _: Needed<'_>, c: &Cancel) -> Result<Decoded> {
    decode(b, &GIF, l, c)
}

/// A WebP: lossy, lossless or extended (alpha, EXIF orientation, animation: the first
/// frame). The whole image is decoded: the format has no reduced decode.
pub(crate) fn decode_webp(b: &[u8], l: &Limits, _: Needed<'_>, c: &Cancel) -> Result<Decoded> {
    decode(b, &WEBP, l, c)
}

fn truncated(name: &str) -> Error {
    Error::bad_photo(format!("the {name} header is truncated"))
}

/// The IHDR, which must be the first chunk.
pub(crate) fn png_header(bytes: &[u8]) -> Result<(u32, u32)> {
    let ihdr = bytes.get(8..24).ok_or_else(|| truncated("PNG"))?;
    if &ihdr[4..8] != b"IHDR" {
        return Err(Error::bad_photo(
            "the PNG does not start with an IHDR chunk",
        ));
    }
    let w = u32::from_be_bytes([ihdr[8], ihdr[9], ihdr[10], ihdr[11]]);
    let h = u32::from_be_bytes([ihdr[12], ihdr[13], ihdr[14], ihdr[15]]);
    Ok((w, h))
}

/// The logical screen descriptor.
pub(crate) fn gif_header(bytes: &[u8]) -> Result<(u32, u32)> {
    let lsd = bytes.get(6..10).ok_or_else(|| truncated("GIF"))?;
    let w = u16::from_le_bytes([lsd[0], lsd[1]]);
    let h = u16::from_le_bytes([lsd[2], lsd[3]]);
    Ok((u32::from(w), u32::from(h)))
}

/// The size from the first chunk after `RIFF....WEBP`: a simple lossy (`VP8 `) or
/// lossless (`VP8L`) image, or the canvas of an extended one (`VP8X`).
pub(crate) fn webp_header(bytes: &[u8]) -> Result<(u32, u32)> {
    let chunk = bytes.get(12..16).ok_or_else(|| truncated("WebP"))?;
    let data = |range: std::ops::Range<usize>| bytes.get(20..).and_then(|d| d.get(range));
    let le = |b: &[u8]| b.iter().rev().fold(0u32, |n, &x| (n << 8) | u32::from(x));
    match chunk {
        b"VP8 " => {
            // Frame tag (3 bytes), start code 9d 01 2a, then 14-bit width and height.
            let frame = data(0..10).ok_or_else(|| truncated("WebP"))?;
            if frame[3..6] != [0x9d, 0x01, 0x2a] {
                return Err(Error::bad_photo("the WebP VP8 frame has no start code"));
            }
            Ok((le(&frame[6..8]) & 0x3fff, le(&frame[8..10]) & 0x3fff))
        }
        b"VP8L" => {
            // Signature 0x2f, then width - 1 and height - 1 in 14 bits each.
            let head = data(0..5).ok_or_else(|| truncated("WebP"))?;
            if head[0] != 0x2f {
                return Err(Error::bad_photo("the WebP VP8L signature is wrong"));
            }
            let bits = le(&head[1..5]);
            Ok(((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1))
        }
        b"VP8X" => {
            // Flags and reserved (4 bytes), then canvas width - 1 and height - 1 in 24 bits.
            let head = data(0..10).ok_or_else(|| truncated("WebP"))?;
            Ok((le(&head[4..7]) + 1, le(&head[7..10]) + 1))
        }
        _ => Err(Error::bad_photo(
            "the WebP does not start with a VP8, VP8L or VP8X chunk",
        )),
    }
}

/// The data of the first top-level chunk of this kind in an extended (`VP8X`) WebP, if it
/// lies whole inside the RIFF and the file. Simple (`VP8 `, `VP8L`) files have no metadata
/// chunks; image-webp reads none there either.
fn webp_chunk<'a>(webp: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    if webp.get(12..16)? != b"VP8X" {
        return None;
    }
    let riff_size = u32::from_le_bytes(webp.get(4..8)?.try_into().ok()?) as usize;
    let webp = webp.get(..8usize.checked_add(riff_size)?.min(webp.len()))?;
    let mut at = 12;
    while let Some(head) = webp.get(at..at + 8) {
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let data = webp.get(at + 8..(at + 8).checked_add(len)?)?;
        if &head[..4] == kind {
            return Some(data);
        }
        // Chunks are padded to an even length.
        at = at + 8 + len + (len & 1);
    }
    None
}

/// The `image` crate limits for our configuration.
pub(crate) fn image_limits(limits: &Limits) -> image::Limits {
    let mut l = image::Limits::default();
    l.max_image_width = Some(limits.max_side);
    l.max_image_height = Some(limits.max_side);
    l.max_alloc = Some(budget::memory_budget(limits));
    l
}

fn image_error(name: &str, e: ImageError) -> Error {
    match e {
        ImageError::Limits(_) => Error::too_large(format!(
            "the {name} image needs more memory to decode than the limits allow"
        ))
        .with_source(e),
        _ => Error::bad_photo(format!("the {name} image could not be decoded: {e}")),
    }
}

fn decode(bytes: &[u8], kind: &Kind, limits: &Limits, cancel: &Cancel) -> Result<Decoded> {
    let (w, h) = (kind.header)(bytes)?;
    check_dimensions(w, h, limits)?;

    let err = |e| image_error(kind.name, e);
    let mut budget = image_limits(limits);
    let mut reader = ImageReader::with_format(CancelReader::new(bytes, cancel), kind.format);
    reader.limits(budget.clone());
    let mut decoder = reader.into_decoder().map_err(err)?;
    let (dw, dh) = decoder.dimensions();
    check_dimensions(dw, dh, limits)?;
    // A bad or missing EXIF block means no rotation.
    let orientation = match kind.orientation {
        OrientationFrom::Nowhere => None,
        OrientationFrom::Decoder => decoder.orientation().ok(),
        OrientationFrom::WebpChunk => {
            webp_chunk(bytes, b"EXIF").and_then(Orientation::from_exif_chunk)
        }
    }
    .unwrap_or(Orientation::NoTransforms);
    // What `ImageReader::decode()` does: the output buffer comes out of the budget first.
    budget.reserve(decoder.total_bytes()).map_err(err)?;
    decoder.set_limits(budget).map_err(err)?;
    let image = DynamicImage::from_decoder(decoder).map_err(err)?;
    let pixels = from_dynamic(image);
    if (pixels.width, pixels.height) != (dw, dh) {
        return Err(Error::bad_photo(format!(
            "the {} decoder returned a wrong size",
            kind.name
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
fn drop_opaque_alpha(mut px: Pixels) -> Pixels {
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

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(png_header(&png).unwrap(), (100_000, 7));
        assert_eq!(png_header(&png[..20]).unwrap_err().error_code(), 409010);
        let mut not_ihdr = png.clone();
        not_ihdr[12..16].copy_from_slice(b"IDAT");
        assert_eq!(png_header(&not_ihdr).unwrap_err().error_code(), 409010);

        let gif = b"GIF89a\xff\xff\x01\x00";
        assert_eq!(gif_header(gif).unwrap(), (65535, 1));
        assert_eq!(gif_header(b"GIF89a\x01").unwrap_err().error_code(), 409010);
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

    fn riff(chunks: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
        let mut body = b"WEBP".to_vec();
        for (kind, data) in chunks {
            body.extend_from_slice(*kind);
            body.extend_from_slice(&(data.len() as u32).to_le_bytes());
            body.extend_from_slice(data);
            if data.len() % 2 == 1 {
                body.push(0);
            }
        }
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn webp_chunks_are_found_past_odd_padding() {
        let webp = riff(&[(b"VP8X", &[0; 10]), (b"ICCP", b"odd"), (b"EXIF", b"exif")]);
        assert_eq!(webp_chunk(&webp, b"EXIF"), Some(&b"exif"[..]));
        assert_eq!(webp_chunk(&webp, b"ICCP"), Some(&b"odd"[..]));
        assert_eq!(webp_chunk(&webp, b"XMP "), None);
    }

    #[test]
    fn a_webp_chunk_declared_past_the_end_is_not_read() {
        let mut webp = riff(&[(b"VP8X", &[0; 10]), (b"EXIF", b"exif")]);
        let size_at = webp.len() - 8;
        webp[size_at..size_at + 4].copy_from_slice(&0xffff_ff1au32.to_le_bytes());
        assert_eq!(webp_chunk(&webp, b"EXIF"), None);
        webp.truncate(webp.len() - 6);
        assert_eq!(webp_chunk(&webp, b"EXIF"), None);
    }

    #[test]
    fn webp_chunks_are_read_inside_the_riff_of_an_extended_file_only() {
        let simple = riff(&[(b"VP8L", &[0x2f, 0, 0, 0, 0]), (b"EXIF", b"exif")]);
        assert_eq!(webp_chunk(&simple, b"EXIF"), None);
        let mut extended = riff(&[(b"VP8X", &[0; 10])]);
        extended.extend_from_slice(b"EXIF\x04\0\0\0exif");
        assert_eq!(webp_chunk(&extended, b"EXIF"), None, "after the RIFF's end");
        let riff_size = extended.len() as u32 - 8;
        extended[4..8].copy_from_slice(&riff_size.to_le_bytes());
        assert_eq!(webp_chunk(&extended, b"EXIF"), Some(&b"exif"[..]));
    }
}
