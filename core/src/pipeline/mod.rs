//! The photo pipeline: bytes and limits in, a stored photo and a thumbnail out.
//! Pure: no I/O, no async, no knowledge of accounts or HTTP. It can be benchmarked and
//! fuzzed on its own.
//!
//! Steps: sniff the type from magic bytes → read the header and check byte/pixel/side/aspect
//! limits before any pixel buffer exists → decode (GIF: first frame only; JPEG: scaled in
//! the DCT domain where the output allows) → apply EXIF orientation → photo: fit inside
//! `photo_max_side`, never upscaled, re-encoded (JPEG stays JPEG, PNG stays PNG, GIF → PNG)
//! → thumbnail: cover-scaled then centre-cropped to exactly the policy size, JPEG (PNG when
//! the image has alpha). Re-encoding drops every piece of metadata and trailing data.

mod budget;
mod cancel;
mod decode;
mod encode;
mod format;
mod jpeg;
mod jpeg_plan;
mod resize;
mod via_image;

pub use cancel::Cancel;
pub use format::{accept_header, sniff, InputFormat, OutputFormat};

use std::ops::RangeInclusive;

use crate::error::{Error, Result};
use format::Format;
use image::metadata::Orientation;

/// Limits and output settings (from the operator configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub max_bytes: u64,
    pub max_pixels: u64,
    pub max_side: u32,
    pub max_aspect_ratio: u32,
    pub photo_max_side: u32,
    pub jpeg_quality: u8,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 6 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_side: 16384,
            max_aspect_ratio: 20,
            photo_max_side: 1024,
            jpeg_quality: 85,
        }
    }
}

/// One encoded image.
#[derive(Clone, PartialEq, Eq)]
pub struct Encoded {
    pub bytes: Vec<u8>,
    pub format: OutputFormat,
    pub width: u32,
    pub height: u32,
}

impl std::fmt::Debug for Encoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Encoded({:?} {}x{}, {} bytes)",
            self.format,
            self.width,
            self.height,
            self.bytes.len()
        )
    }
}

/// The pipeline's result.
#[derive(Debug, Clone)]
pub struct Processed {
    pub input_format: InputFormat,
    /// Source dimensions after orientation.
    pub source_width: u32,
    pub source_height: u32,
    pub photo: Encoded,
    pub thumbnail: Encoded,
}

/// The thumbnail sides a policy or a caller may ask for, in pixels. Thumbnails are cut from
/// the already reduced photo (1024 px by default), so anything bigger is an upscale of it
/// at best. The one statement of this rule: the API's policy check uses it too.
pub const THUMBNAIL_SIDES: RangeInclusive<u32> = 1..=1024;

/// Run the whole pipeline. Errors: 409010 (`MissingPhoto`) for bytes that are not a valid
/// GIF/PNG/JPEG/WebP, 413004 (`PhotoTooLarge`) for byte/pixel/side/aspect limits, 400006 for a bad
/// thumbnail size.
pub fn process(
    bytes: &[u8],
    limits: &Limits,
    thumb_width: u32,
    thumb_height: u32,
) -> Result<Processed> {
    process_cancellable(bytes, limits, thumb_width, thumb_height, &Cancel::new())
}

/// [`process`] that stops with 504002 soon after `cancel` is set.
pub fn process_cancellable(
    bytes: &[u8],
    limits: &Limits,
    thumb_width: u32,
    thumb_height: u32,
    cancel: &Cancel,
) -> Result<Processed> {
    cancel.check()?;
    check_thumbnail_size(thumb_width, thumb_height)?;
    let format = check_bytes(bytes, limits)?;
    let photo_max_side = limits.photo_max_side.max(1);
    let decoded = decode::decode(
        bytes,
        format,
        limits,
        &|w, h| {
            let photo = resize::fit_within(w, h, photo_max_side);
            let thumb = resize::cover_needs(w, h, thumb_width, thumb_height);
            (photo.0.max(thumb.0), photo.1.max(thumb.1))
        },
        cancel,
    )?;
    let orientation = decoded.orientation;
    let swap = swaps_axes(orientation);
    let (source_width, source_height) = oriented(decoded.full_width, decoded.full_height, swap);

    // Everything is computed in the decoder's (un-oriented) frame and oriented at the end,
    // on the small outputs: resizing and flipping/rotating commute.
    let (pw, ph) = photo_target(&decoded, photo_max_side);
    let (tw, th) = oriented(thumb_width, thumb_height, swap);
    let source = decoded.pixels;
    let (photo, thumb) = guarded(|| {
        cancel.check()?;
        let photo = if (pw, ph) == (source.width, source.height) {
            None
        } else {
            Some(resize::resize_fit(&source, pw, ph)?)
        };
        cancel.check()?;
        let photo_px = photo.as_ref().unwrap_or(&source);
        // The thumbnail comes from the reduced photo unless the photo is too small to cover
        // it without upscaling while the decoded pixels are not (extreme aspect ratios).
        let thumb_src = if photo_px.width >= tw && photo_px.height >= th {
            photo_px
        } else {
            &source
        };
        let thumb = resize::resize_cover(thumb_src, tw, th)?;
        let photo = match photo {
            Some(p) => p,
            None => source,
        };
        Ok((
            resize::apply_orientation(photo, orientation),
            resize::apply_orientation(thumb, orientation),
        ))
    })?;

    cancel.check()?;
    let photo_format = format.photo.unwrap_or_else(|| alpha_format(&photo));
    let photo = guarded(|| encode::encode(&photo, photo_format, limits.jpeg_quality))?;
    cancel.check()?;
    let thumbnail = guarded(|| encode::encode(&thumb, alpha_format(&thumb), limits.jpeg_quality))?;
    Ok(Processed {
        input_format: format.input,
        source_width,
        source_height,
        photo,
        thumbnail,
    })
}

/// A thumbnail from an already stored photo (used when the site policy changed between
/// import and publish).
pub fn thumbnail(
    bytes: &[u8],
    limits: &Limits,
    thumb_width: u32,
    thumb_height: u32,
) -> Result<Encoded> {
    thumbnail_cancellable(bytes, limits, thumb_width, thumb_height, &Cancel::new())
}

/// [`thumbnail`] that stops with 504002 soon after `cancel` is set.
pub fn thumbnail_cancellable(
    bytes: &[u8],
    limits: &Limits,
    thumb_width: u32,
    thumb_height: u32,
    cancel: &Cancel,
) -> Result<Encoded> {
    cancel.check()?;
    check_thumbnail_size(thumb_width, thumb_height)?;
    let format = check_bytes(bytes, limits)?;
    let decoded = decode::decode(
        bytes,
        format,
        limits,
        &|w, h| resize::cover_needs(w, h, thumb_width, thumb_height),
        cancel,
    )?;
    let orientation = decoded.orientation;
    let (tw, th) = oriented(thumb_width, thumb_height, swaps_axes(orientation));
    let source = decoded.pixels;
    cancel.check()?;
    let thumb = guarded(|| {
        let thumb = resize::resize_cover(&source, tw, th)?;
        Ok(resize::apply_orientation(thumb, orientation))
    })?;
    cancel.check()?;
    guarded(|| encode::encode(&thumb, alpha_format(&thumb), limits.jpeg_quality))
}

/// Decoded pixels, 8 bits per channel, rows packed without padding.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Pixels {
    pub data: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub layout: Layout,
}

impl std::fmt::Debug for Pixels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Pixels({:?} {}x{})",
            self.layout, self.width, self.height
        )
    }
}

/// What a decoder produced.
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

/// `needed(w, h)`: how many pixels the caller needs in each direction from a `w`×`h` image;
/// a decoder that can scale while decoding (JPEG) may stop there.
pub(crate) type Needed<'a> = &'a dyn Fn(u32, u32) -> (u32, u32);

/// The channel layouts the pipeline works in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Gray,
    Rgb,
    /// Straight (not premultiplied) alpha.
    Rgba,
}

impl Layout {
    pub fn channels(self) -> usize {
        match self {
            Layout::Gray => 1,
            Layout::Rgb => 3,
            Layout::Rgba => 4,
        }
    }
}

fn check_thumbnail_size(width: u32, height: u32) -> Result<()> {
    for (param, value) in [("thumbnailWidth", width), ("thumbnailHeight", height)] {
        if !THUMBNAIL_SIDES.contains(&value) {
            return Err(Error::invalid(
                param,
                format!(
                    "{value} is not between {} and {} pixels",
                    THUMBNAIL_SIDES.start(),
                    THUMBNAIL_SIDES.end()
                ),
            ));
        }
    }
    Ok(())
}

/// The byte cap (first, before looking at anything else), then the magic bytes.
fn check_bytes(bytes: &[u8], limits: &Limits) -> Result<&'static Format> {
    let len = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if len > limits.max_bytes {
        return Err(Error::too_large(format!(
            "photo is {len} bytes; the limit is {} bytes",
            limits.max_bytes
        )));
    }
    if bytes.is_empty() {
        return Err(Error::bad_photo("photo is empty"));
    }
    format::sniff_format(bytes).ok_or_else(|| {
        Error::bad_photo(format!(
            "not a {} image (unrecognised magic bytes)",
            format::accepted_names()
        ))
    })
}

/// Header dimensions against the pixel, side and aspect-ratio limits (T12, T21). Called with
/// the dimensions from the file header, before any pixel buffer exists.
pub(crate) fn check_dimensions(width: u32, height: u32, limits: &Limits) -> Result<()> {
    if width == 0 || height == 0 {
        return Err(Error::bad_photo(format!(
            "image is {width}x{height} pixels; it has no pixels"
        )));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(Error::too_large(format!(
            "image is {width}x{height} pixels; the limit is {} pixels",
            limits.max_pixels
        )));
    }
    if width.max(height) > limits.max_side {
        return Err(Error::too_large(format!(
            "image is {width}x{height} pixels; the limit is {} pixels per side",
            limits.max_side
        )));
    }
    let (long, short) = (width.max(height), width.min(height));
    // 0 means no aspect-ratio limit.
    if limits.max_aspect_ratio > 0
        && u64::from(long) > u64::from(short) * u64::from(limits.max_aspect_ratio)
    {
        return Err(Error::too_large(format!(
            "image is {width}x{height} pixels; its aspect ratio is over the limit of {}:1",
            limits.max_aspect_ratio
        )));
    }
    Ok(())
}

/// The photo size in the decoder's frame: the full image fitted inside `max_side`, unless the
/// decoder handed us fewer pixels than that (then fit what we have, never upscaling).
fn photo_target(decoded: &Decoded, max_side: u32) -> (u32, u32) {
    let (w, h) = resize::fit_within(decoded.full_width, decoded.full_height, max_side);
    if w <= decoded.pixels.width && h <= decoded.pixels.height {
        (w, h)
    } else {
        resize::fit_within(decoded.pixels.width, decoded.pixels.height, max_side)
    }
}

/// JPEG, or PNG when the pixels have alpha.
fn alpha_format(pixels: &Pixels) -> OutputFormat {
    if pixels.layout == Layout::Rgba {
        OutputFormat::Png
    } else {
        OutputFormat::Jpeg
    }
}

fn swaps_axes(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

fn oriented(width: u32, height: u32, swap: bool) -> (u32, u32) {
    if swap {
        (height, width)
    } else {
        (width, height)
    }
}

/// Resizing and encoding only see pixels we made, so a panic there is our bug: report it
/// as an internal error rather than unwinding into the caller.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Error::internal(
            "photo pipeline panicked while resizing or encoding",
        ))
    })
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;
#[cfg(test)]
mod webp_tests;
