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

use crate::error::{Error, Result};

/// The three accepted input types, decided by magic bytes only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    Gif,
    Png,
    Jpeg,
}

/// What we write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Jpeg,
    Png,
}

impl OutputFormat {
    pub fn extension(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpg",
            OutputFormat::Png => "png",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "image/jpeg",
            OutputFormat::Png => "image/png",
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

/// The type of `bytes` from its magic number, or `None`.
pub fn sniff(bytes: &[u8]) -> Option<InputFormat> {
    if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        Some(InputFormat::Gif)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(InputFormat::Png)
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(InputFormat::Jpeg)
    } else {
        None
    }
}

/// Run the whole pipeline. Errors: 409010 (`MissingPhoto`) for bytes that are not a valid
/// GIF/PNG/JPEG, 413004 (`PhotoTooLarge`) for byte/pixel/side limits, 400006 for a bad
/// thumbnail size.
pub fn process(bytes: &[u8], limits: &Limits, thumb_width: u32, thumb_height: u32) -> Result<Processed> {
    let _ = (bytes, limits, thumb_width, thumb_height);
    Err(Error::bad_photo("pipeline not implemented"))
}

/// A thumbnail from an already stored photo (used when the site policy changed between
/// import and publish).
pub fn thumbnail(bytes: &[u8], limits: &Limits, thumb_width: u32, thumb_height: u32) -> Result<Encoded> {
    let _ = (bytes, limits, thumb_width, thumb_height);
    Err(Error::bad_photo("pipeline not implemented"))
}
