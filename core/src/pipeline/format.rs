//! The image formats the pipeline knows, in one table ([`FORMATS`]): per format its magic
//! bytes, its name, its decoder (which reads the header and checks the limits before any
//! pixel buffer exists), what its photos are stored as, and its file extension and content
//! type. Adding a format (AVIF, HEIC) is its variant, its entry here and its decoder.

use super::cancel::Cancel;
use super::types::{Decoded, InputFormat, Limits, Needed, OutputFormat};
use super::{jpeg, via_image};
use crate::error::Result;

/// `(offset, bytes)` pairs that together identify a format.
pub(crate) type Signature = &'static [(usize, &'static [u8])];

/// Bytes (already sniffed as this format) → pixels in the file's own frame.
pub(crate) type DecodeFn = fn(&[u8], &Limits, Needed<'_>, &Cancel) -> Result<Decoded>;

/// Everything the pipeline knows about one format.
pub(crate) struct Format {
    pub input: InputFormat,
    /// For messages: "the PNG header is truncated".
    pub name: &'static str,
    /// A file is this format when it matches any of these signatures: each is a list of
    /// `(offset, bytes)` that must all be there. Never a name or a declared type.
    pub magic: &'static [Signature],
    pub decode: DecodeFn,
    /// What a photo of this format is re-encoded as (GIF: PNG, its first frame); `None`:
    /// JPEG, or PNG when the pixels have alpha (as thumbnails are).
    pub photo: Option<OutputFormat>,
    /// Stored files of this format are named `<sha256>.<extension>` and served with
    /// `content_type`; only the formats we write (`OutputFormat`) ever are.
    pub extension: &'static str,
    pub content_type: &'static str,
}

const GIF: Format = Format {
    input: InputFormat::Gif,
    name: "GIF",
    magic: &[&[(0, b"GIF87a")], &[(0, b"GIF89a")]],
    decode: via_image::decode_gif,
    photo: Some(OutputFormat::Png),
    extension: "gif",
    content_type: "image/gif",
};

const PNG: Format = Format {
    input: InputFormat::Png,
    name: "PNG",
    magic: &[&[(0, b"\x89PNG\r\n\x1a\n")]],
    decode: via_image::decode_png,
    photo: Some(OutputFormat::Png),
    extension: "png",
    content_type: "image/png",
};

const JPEG: Format = Format {
    input: InputFormat::Jpeg,
    name: "JPEG",
    magic: &[&[(0, &[0xFF, 0xD8, 0xFF])]],
    decode: jpeg::decode_jpeg,
    photo: Some(OutputFormat::Jpeg),
    extension: "jpg",
    content_type: "image/jpeg",
};

/// Lossy, lossless, with alpha, animated (the first frame): a RIFF container.
const WEBP: Format = Format {
    input: InputFormat::Webp,
    name: "WebP",
    magic: &[&[(0, b"RIFF"), (8, b"WEBP")]],
    decode: via_image::decode_webp,
    photo: None,
    extension: "webp",
    content_type: "image/webp",
};

/// Every format we accept, in sniffing order.
pub(crate) const FORMATS: [&Format; 4] = [&GIF, &PNG, &JPEG, &WEBP];

fn matches(bytes: &[u8], signature: Signature) -> bool {
    signature
        .iter()
        .all(|&(at, magic)| bytes.get(at..).is_some_and(|b| b.starts_with(magic)))
}

/// The table entry whose signature `bytes` carry, or `None`.
pub(crate) fn sniff_format(bytes: &[u8]) -> Option<&'static Format> {
    FORMATS
        .into_iter()
        .find(|f| f.magic.iter().any(|m| matches(bytes, m)))
}

/// The type of `bytes` from its magic number, or `None`.
pub fn sniff(bytes: &[u8]) -> Option<InputFormat> {
    sniff_format(bytes).map(|f| f.input)
}

/// The fetcher's `Accept` header: every format we read, anything else much less welcome
/// (a server that ignores it still gets its bytes sniffed).
pub fn accept_header() -> String {
    let types: Vec<&str> = FORMATS.iter().map(|f| f.content_type).collect();
    format!("{}, */*;q=0.1", types.join(", "))
}

/// "GIF, PNG, JPEG or WebP": the accepted formats, for messages.
pub(crate) fn accepted_names() -> String {
    let names: Vec<&str> = FORMATS.iter().map(|f| f.name).collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => names.concat(),
    }
}

impl OutputFormat {
    /// Every format we write.
    pub const ALL: [OutputFormat; 2] = [OutputFormat::Jpeg, OutputFormat::Png];

    fn spec(self) -> &'static Format {
        match self {
            OutputFormat::Jpeg => &JPEG,
            OutputFormat::Png => &PNG,
        }
    }

    /// The file extension of stored photos in this format, without the dot ("jpg").
    pub fn extension(self) -> &'static str {
        self.spec().extension
    }

    /// The format's name in renditions: the content type's subtype ("jpeg", "png").
    pub fn name(self) -> &'static str {
        let t = self.content_type();
        t.strip_prefix("image/").unwrap_or(t)
    }

    /// The HTTP content type ("image/jpeg").
    pub fn content_type(self) -> &'static str {
        self.spec().content_type
    }

    /// The format we store under `extension` ("jpg", exactly: case matters), or `None`
    /// (formats we only read, like GIF, are never stored).
    pub fn from_extension(extension: &str) -> Option<OutputFormat> {
        Self::ALL.into_iter().find(|f| f.extension() == extension)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_found_by_its_own_magic_only() {
        for f in FORMATS {
            for m in f.magic {
                // The signature's bytes at their offsets, zeros between.
                let len = m.iter().map(|(at, b)| at + b.len()).max().unwrap_or(0);
                let mut file = vec![0u8; len];
                for (at, b) in m.iter() {
                    file[*at..at + b.len()].copy_from_slice(b);
                }
                let found = sniff_format(&file).map(|g| g.input);
                assert_eq!(found, Some(f.input), "{}", f.name);
                assert_eq!(sniff_format(&file[..len - 1]).map(|g| g.name), None);
                // Every part of a signature counts.
                for (at, _) in m.iter() {
                    let mut broken = file.clone();
                    broken[*at] ^= 0xFF;
                    assert_eq!(sniff_format(&broken).map(|g| g.name), None, "{}", f.name);
                }
            }
        }
        let inputs: Vec<InputFormat> = FORMATS.iter().map(|f| f.input).collect();
        let all = [
            InputFormat::Gif,
            InputFormat::Png,
            InputFormat::Jpeg,
            InputFormat::Webp,
        ];
        assert_eq!(inputs, all);
        assert_eq!(accepted_names(), "GIF, PNG, JPEG or WebP");
        assert_eq!(
            accept_header(),
            "image/gif, image/png, image/jpeg, image/webp, */*;q=0.1"
        );
    }

    #[test]
    fn written_formats_are_stored_as_themselves_under_one_extension_each() {
        for out in OutputFormat::ALL {
            assert_eq!(out.spec().photo, Some(out), "{out:?}");
            assert_eq!(OutputFormat::from_extension(out.extension()), Some(out));
        }
        assert_eq!(
            (
                OutputFormat::Jpeg.extension(),
                OutputFormat::Jpeg.content_type()
            ),
            ("jpg", "image/jpeg")
        );
        assert_eq!(
            (
                OutputFormat::Png.extension(),
                OutputFormat::Png.content_type()
            ),
            ("png", "image/png")
        );
        assert_eq!(
            (OutputFormat::Jpeg.name(), OutputFormat::Png.name()),
            ("jpeg", "png")
        );
        for other in ["gif", "jpeg", "JPG", "", "png ", ".png"] {
            assert_eq!(OutputFormat::from_extension(other), None, "{other:?}");
        }
        assert_eq!(accepted_names(), "GIF, PNG, JPEG or WebP");
    }
}
