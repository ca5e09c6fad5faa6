//! The photo pipeline: bytes and limits in, a stored photo and a thumbnail out.
//! Pure: no I/O, no async, no knowledge of accounts or HTTP. It can be benchmarked and
//! fuzzed on its own.
//!
//! Steps: sniff the type from magic bytes → read the header and check byte/pixel/side/aspect
//! limits before any pixel buffer exists → decode (GIF: first frame only; JPEG: scaled in
//! the DCT domain where the output allows) → apply EXIF orientation → photo: fit inside
//! `photo_max_side`, never upscaled, re-encoded (JPEG stays JPEG, PNG stays PNG, GIF → PNG)
//! → thumbnail: cover-scaled then cropped (centre, or where attention goes) to exactly the
//! policy size, JPEG (PNG when the image has alpha). Re-encoding drops every piece of metadata and trailing data.

mod attention;
mod budget;
mod cancel;
mod decode;
mod encode;
mod format;
mod jpeg;
mod jpeg_plan;
mod resize;
mod types;
mod via_image;

pub use budget::memory_budget;
pub use cancel::Cancel;
pub use format::{accept_header, sniff};
pub(crate) use types::{Decoded, Layout, Pixels};
pub use types::{
    Encoded, InputFormat, Limits, OutputFormat, Thumbnail, ThumbnailCrop, ThumbnailScales,
};

use std::ops::RangeInclusive;

use crate::error::{Error, Result};
use crate::telemetry::{time_stage, Stage};
use format::Format;
use image::metadata::Orientation;

/// The pipeline's result.
#[derive(Debug, Clone)]
pub struct Processed {
    pub input_format: InputFormat,
    /// Source dimensions after orientation.
    pub source_width: u32,
    pub source_height: u32,
    pub photo: Encoded,
    /// The 1× thumbnail (`thumbnailURL`).
    pub thumbnail: Encoded,
    /// `(scale, thumbnail)` for each scale above 1 that was asked for, ascending.
    pub scaled_thumbnails: Vec<(u32, Encoded)>,
}

/// The thumbnail sides a policy or a caller may ask for, in pixels. Thumbnails are cut from
/// the already reduced photo (1024 px by default), so anything bigger is an upscale of it
/// at best. The one statement of this rule: the API's policy check uses it too.
pub const THUMBNAIL_SIDES: RangeInclusive<u32> = 1..=1024;

/// Run the whole pipeline with a centre-cropped thumbnail. Errors: 409010 (`MissingPhoto`)
/// for bytes that are not a valid GIF/PNG/JPEG/WebP, 413004 (`PhotoTooLarge`) for
/// byte/pixel/side/aspect limits, 400006 for a bad thumbnail size.
pub fn process(
    bytes: &[u8],
    limits: &Limits,
    thumb_width: u32,
    thumb_height: u32,
) -> Result<Processed> {
    let thumb = Thumbnail::centered(thumb_width, thumb_height);
    process_cancellable(bytes, limits, thumb, &Cancel::new())
}

/// [`process`] with any [`Thumbnail`], stopping with 504002 soon after `cancel` is set.
pub fn process_cancellable(
    bytes: &[u8],
    limits: &Limits,
    thumbnail: Thumbnail,
    cancel: &Cancel,
) -> Result<Processed> {
    process_scaled(bytes, limits, thumbnail, ThumbnailScales::ONE, cancel)
}

/// [`process_cancellable`] that also makes the thumbnail at each of `scales` above 1
/// ([`Processed::scaled_thumbnails`]): the same window of the photo, `scale` times the
/// pixels. 400006 when a scaled side would pass [`THUMBNAIL_SIDES`].
pub fn process_scaled(
    bytes: &[u8],
    limits: &Limits,
    thumbnail: Thumbnail,
    scales: ThumbnailScales,
    cancel: &Cancel,
) -> Result<Processed> {
    let Thumbnail {
        width: thumb_width,
        height: thumb_height,
        crop,
    } = thumbnail;
    cancel.check()?;
    check_thumbnail_size(thumb_width, thumb_height)?;
    check_thumbnail_scales(thumb_width, thumb_height, scales)?;
    let (big_width, big_height) = (thumb_width * scales.max(), thumb_height * scales.max());
    let decoding = time_stage(Stage::Decode);
    let format = check_bytes(bytes, limits)?;
    let photo_max_side = limits.photo_max_side.max(1);
    let decoded = decode::decode(
        bytes,
        format,
        limits,
        &|w, h| {
            let photo = resize::fit_within(w, h, photo_max_side);
            let thumb = resize::cover_needs(w, h, big_width, big_height);
            (photo.0.max(thumb.0), photo.1.max(thumb.1))
        },
        cancel,
    )?;
    drop(decoding);
    let orientation = decoded.orientation;
    let swap = swaps_axes(orientation);
    let (source_width, source_height) = oriented(decoded.full_width, decoded.full_height, swap);

    // Everything is computed in the decoder's (un-oriented) frame and oriented at the end,
    // on the small outputs: resizing and flipping/rotating commute.
    let (pw, ph) = photo_target(&decoded, photo_max_side);
    let (tw, th) = oriented(thumb_width, thumb_height, swap);
    let (bw, bh) = oriented(big_width, big_height, swap);
    let source = decoded.pixels;
    let resizing = time_stage(Stage::Resize);
    let (photo, thumbs) = guarded(|| {
        cancel.check()?;
        let photo = if (pw, ph) == (source.width, source.height) {
            None
        } else {
            Some(resize::resize_fit(&source, pw, ph)?)
        };
        cancel.check()?;
        let photo_px = photo.as_ref().unwrap_or(&source);
        // The thumbnails come from the reduced photo unless the photo is too small to cover
        // the largest without upscaling while the decoded pixels are not (extreme aspect
        // ratios, large scales).
        let thumb_src = if photo_px.width >= bw && photo_px.height >= bh {
            photo_px
        } else {
            &source
        };
        let thumbs = cover_scales(thumb_src, (tw, th), crop, scales, orientation, cancel)?;
        let photo = match photo {
            Some(p) => p,
            None => source,
        };
        Ok((resize::apply_orientation(photo, orientation), thumbs))
    })?;
    drop(resizing);

    cancel.check()?;
    let encoding = time_stage(Stage::Encode);
    let photo_format = format.photo.unwrap_or_else(|| alpha_format(&photo));
    let photo = guarded(|| encode::encode(&photo, photo_format, limits.jpeg_quality))?;
    let mut thumbnails = encode_thumbnails(thumbs, limits, cancel)?.into_iter();
    drop(encoding);
    let (_, thumbnail) = thumbnails
        .next()
        .ok_or_else(|| Error::internal("no 1x thumbnail"))?;
    Ok(Processed {
        input_format: format.input,
        source_width,
        source_height,
        photo,
        thumbnail,
        scaled_thumbnails: thumbnails.collect(),
    })
}

/// A centre-cropped thumbnail from an already stored photo (used when the site policy
/// changed between import and publish).
pub fn thumbnail(
    bytes: &[u8],
    limits: &Limits,
    thumb_width: u32,
    thumb_height: u32,
) -> Result<Encoded> {
    let thumb = Thumbnail::centered(thumb_width, thumb_height);
    thumbnail_cancellable(bytes, limits, thumb, &Cancel::new())
}

/// [`thumbnail`] with any [`Thumbnail`], stopping with 504002 soon after `cancel` is set.
pub fn thumbnail_cancellable(
    bytes: &[u8],
    limits: &Limits,
    thumbnail: Thumbnail,
    cancel: &Cancel,
) -> Result<Encoded> {
    thumbnails_cancellable(bytes, limits, thumbnail, ThumbnailScales::ONE, cancel)?
        .by_scale
        .into_iter()
        .next()
        .map(|(_, encoded)| encoded)
        .ok_or_else(|| Error::internal("no 1x thumbnail"))
}

/// Thumbnails cut again from a stored photo, one per scale.
#[derive(Debug, Clone)]
pub struct Thumbnails {
    /// The photo's dimensions (stored photos carry no orientation: these are as shown).
    pub source_width: u32,
    pub source_height: u32,
    /// `(scale, thumbnail)`, ascending; 1× first.
    pub by_scale: Vec<(u32, Encoded)>,
}

/// [`thumbnail_cancellable`] at each of `scales`, and the photo's dimensions.
pub fn thumbnails_cancellable(
    bytes: &[u8],
    limits: &Limits,
    thumbnail: Thumbnail,
    scales: ThumbnailScales,
    cancel: &Cancel,
) -> Result<Thumbnails> {
    let Thumbnail {
        width: thumb_width,
        height: thumb_height,
        crop,
    } = thumbnail;
    cancel.check()?;
    check_thumbnail_size(thumb_width, thumb_height)?;
    check_thumbnail_scales(thumb_width, thumb_height, scales)?;
    let (big_width, big_height) = (thumb_width * scales.max(), thumb_height * scales.max());
    let decoding = time_stage(Stage::Decode);
    let format = check_bytes(bytes, limits)?;
    let decoded = decode::decode(
        bytes,
        format,
        limits,
        &|w, h| resize::cover_needs(w, h, big_width, big_height),
        cancel,
    )?;
    drop(decoding);
    let orientation = decoded.orientation;
    let swap = swaps_axes(orientation);
    let (source_width, source_height) = oriented(decoded.full_width, decoded.full_height, swap);
    let thumb = oriented(thumb_width, thumb_height, swap);
    let source = decoded.pixels;
    cancel.check()?;
    let resizing = time_stage(Stage::Resize);
    let thumbs = guarded(|| cover_scales(&source, thumb, crop, scales, orientation, cancel))?;
    drop(resizing);
    let _encoding = time_stage(Stage::Encode);
    Ok(Thumbnails {
        source_width,
        source_height,
        by_scale: encode_thumbnails(thumbs, limits, cancel)?,
    })
}

/// The cover thumbnail of `src` at each scale (`tw`×`th` at 1×, in `src`'s frame): one
/// window, placed once, so every scale shows the same part of the photo; oriented.
fn cover_scales(
    src: &Pixels,
    (tw, th): (u32, u32),
    crop: ThumbnailCrop,
    scales: ThumbnailScales,
    orientation: Orientation,
    cancel: &Cancel,
) -> Result<Vec<(u32, Pixels)>> {
    let window = resize::cover_window(src, tw, th, crop);
    scales
        .iter()
        .map(|scale| {
            cancel.check()?;
            let thumb = resize::resize_window(src, tw * scale, th * scale, window)?;
            Ok((scale, resize::apply_orientation(thumb, orientation)))
        })
        .collect()
}

/// Each thumbnail as JPEG, or PNG when it has alpha.
fn encode_thumbnails(
    thumbs: Vec<(u32, Pixels)>,
    limits: &Limits,
    cancel: &Cancel,
) -> Result<Vec<(u32, Encoded)>> {
    thumbs
        .into_iter()
        .map(|(scale, px)| {
            cancel.check()?;
            let encoded = guarded(|| encode::encode(&px, alpha_format(&px), limits.jpeg_quality))?;
            Ok((scale, encoded))
        })
        .collect()
}

/// Every scale of a `width`×`height` thumbnail within [`THUMBNAIL_SIDES`]: the policy's
/// check and the pipeline's are this one.
pub fn check_thumbnail_scales(width: u32, height: u32, scales: ThumbnailScales) -> Result<()> {
    check_scaled_thumbnail(width, height, scales, "profilePhoto.thumbnailScales")
}

/// [`check_thumbnail_scales`], naming `field` as the cause (the parameter a policy change
/// set: a wider thumbnail under scales already in force is the width's fault).
pub fn check_scaled_thumbnail(
    width: u32,
    height: u32,
    scales: ThumbnailScales,
    field: &str,
) -> Result<()> {
    let max = scales.max();
    let side = width.max(height).saturating_mul(max);
    if side > *THUMBNAIL_SIDES.end() {
        return Err(Error::invalid(
            field,
            format!(
                "{width}x{height} at {max}x is {side} pixels on a side; the limit is {}",
                THUMBNAIL_SIDES.end()
            ),
        ));
    }
    Ok(())
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
mod scale_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod testutil;
#[cfg(test)]
mod webp_tests;
