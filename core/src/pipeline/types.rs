//! The pipeline's shared vocabulary: formats, limits, pixels and what decoders return, plus
//! the one dimension check every decoder runs on its header. A leaf: the pipeline's files
//! all use it and it uses none of them.

use image::metadata::Orientation;

use crate::error::{Error, Result};

/// The accepted input types, decided by magic bytes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Gif,
    Png,
    Jpeg,
    Webp,
}

/// What we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Jpeg,
    Png,
}

/// Where the thumbnail's cover window sits in the photo (`profilePhoto.thumbnailCrop`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThumbnailCrop {
    /// The centre (Gigya's behaviour).
    #[default]
    Center,
    /// The most salient region: skin tones, saturation, detail (sharp's `attention`).
    Attention,
}

impl ThumbnailCrop {
    /// Every crop, for messages and checks.
    pub const ALL: [ThumbnailCrop; 2] = [ThumbnailCrop::Center, ThumbnailCrop::Attention];

    /// The policy's spelling: `"center"` or `"attention"`.
    pub fn name(self) -> &'static str {
        match self {
            ThumbnailCrop::Center => "center",
            ThumbnailCrop::Attention => "attention",
        }
    }

    /// The crop spelled `name` (exactly, as [`ThumbnailCrop::name`] writes it); anything
    /// else is 400006 naming `profilePhoto.thumbnailCrop`.
    pub fn from_name(name: &str) -> Result<ThumbnailCrop> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| {
                Error::invalid(
                    "profilePhoto.thumbnailCrop",
                    format!("{name:?} is not \"center\" or \"attention\""),
                )
            })
    }
}

/// The thumbnail scales a policy stores (`profilePhoto.thumbnailScales`): 1× (the
/// `thumbnailURL`) always, and any of 2×–4× for high-density screens. A set of small
/// integers, kept as a bit set so that policies stay `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ThumbnailScales(u8);

impl ThumbnailScales {
    /// The largest scale a policy may ask for.
    pub const MAX: u32 = 4;
    /// Only 1× (the default, and Gigya's behaviour).
    pub const ONE: ThumbnailScales = ThumbnailScales(1);

    /// The scales of a policy's list: each an integer from 1 to [`ThumbnailScales::MAX`],
    /// none twice, 1 among them (it is the `thumbnailURL`). Anything else is 400006 naming
    /// `profilePhoto.thumbnailScales`.
    pub fn from_list(values: &[i64]) -> Result<ThumbnailScales> {
        let bad = |why: String| Error::invalid("profilePhoto.thumbnailScales", why);
        let mut bits = 0u8;
        for &v in values {
            let scale = u32::try_from(v)
                .ok()
                .filter(|s| (1..=Self::MAX).contains(s))
                .ok_or_else(|| bad(format!("{v} is not an integer from 1 to {}", Self::MAX)))?;
            let bit = 1u8 << (scale - 1);
            if bits & bit != 0 {
                return Err(bad(format!("{scale} is listed twice")));
            }
            bits |= bit;
        }
        if bits & 1 == 0 {
            return Err(bad(
                "must include 1 (thumbnailURL is the 1x thumbnail)".into()
            ));
        }
        Ok(ThumbnailScales(bits))
    }

    /// The scales, ascending (1 first).
    pub fn iter(self) -> impl Iterator<Item = u32> {
        (1..=Self::MAX).filter(move |s| self.0 & (1 << (s - 1)) != 0)
    }

    /// The largest scale.
    pub fn max(self) -> u32 {
        self.iter().last().unwrap_or(1)
    }

    pub fn to_vec(self) -> Vec<u32> {
        self.iter().collect()
    }
}

impl Default for ThumbnailScales {
    fn default() -> Self {
        ThumbnailScales::ONE
    }
}

impl std::fmt::Debug for ThumbnailScales {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The thumbnail a policy asks for: exact size and crop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thumbnail {
    pub width: u32,
    pub height: u32,
    pub crop: ThumbnailCrop,
}

impl Thumbnail {
    /// A centre-cropped `width`×`height` thumbnail.
    pub fn centered(width: u32, height: u32) -> Thumbnail {
        Thumbnail {
            width,
            height,
            crop: ThumbnailCrop::Center,
        }
    }
}

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
