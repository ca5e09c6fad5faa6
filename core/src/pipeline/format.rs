//! The image formats the pipeline knows, in one table ([`FORMATS`]): per format its magic
//! bytes, its name, its decoder (which reads the header and checks the limits before any
//! pixel buffer exists), what its photos are stored as, and its file extension and content
//! type. Adding a format (WebP, AVIF) is its variant, its entry here and its decoder.

use super::{jpeg, via_image, Cancel, Decoded, Limits, Needed};
use crate::error::Result;

/// The accepted input types, decided by magic bytes only.
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

/// Bytes (already sniffed as this format) → pixels in the file's own frame.
pub(crate) type DecodeFn = fn(&[u8], &Limits, Needed<'_>, &Cancel) -> Result<Decoded>;

/// Everything the pipeline knows about one format.
pub(crate) struct Format {
    pub input: InputFormat,
    /// For messages: "the PNG header is truncated".
    pub name: &'static str,
    /// Any of these prefixes makes a file this format. Never a name or a declared type.
    pub magic: &'static [&'static [u8]],
    pub decode: DecodeFn,
    /// What a photo of this format is re-encoded as (GIF: PNG, its first frame).
    pub photo: OutputFormat,
    /// Stored files of this format are named `<sha256>.<extension>` and served with
    /// `content_type`; only the formats we write (`OutputFormat`) ever are.
    pub extension: &'static str,
    pub content_type: &'static str,
}

const GIF: Format = Format {
    input: InputFormat::Gif,
    name: "GIF",
    magic: &[b"GIF87a", b"GIF89a"],
    decode: via_image::decode_gif,
    photo: OutputFormat::Png,
    extension: "gif",
    content_type: "image/gif",
};

const PNG: Format = Format {
    input: InputFormat::Png,
    name: "PNG",
    magic: &[b"\x89PNG\r\n\x1a\n"],
    decode: via_image::decode_png,
    photo: OutputFormat::Png,
    extension: "png",
    content_type: "image/png",
};

const JPEG: Format = Format {
    input: InputFormat::Jpeg,
    name: "JPEG",
    magic: &[&[0xFF, 0xD8, 0xFF]],
    decode: jpeg::decode_jpeg,
    photo: OutputFormat::Jpeg,
    extension: "jpg",
    content_type: "image/jpeg",
};

/// Every format we accept, in sniffing order.
pub(crate) const FORMATS: [&Format; 3] = [&GIF, &PNG, &JPEG];

/// The table entry `bytes` start with, or `None`.
pub(crate) fn sniff_format(bytes: &[u8]) -> Option<&'static Format> {
    FORMATS
        .into_iter()
        .find(|f| f.magic.iter().any(|m| bytes.starts_with(m)))
}

/// The type of `bytes` from its magic number, or `None`.
pub fn sniff(bytes: &[u8]) -> Option<InputFormat> {
    sniff_format(bytes).map(|f| f.input)
}

/// "GIF, PNG or JPEG": the accepted formats, for messages.
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
                let found = sniff_format(m).map(|g| g.input);
                assert_eq!(found, Some(f.input), "{}", f.name);
                assert_eq!(sniff_format(&m[..m.len() - 1]).map(|g| g.name), None);
            }
        }
        let inputs: Vec<InputFormat> = FORMATS.iter().map(|f| f.input).collect();
        assert_eq!(
            inputs,
            [InputFormat::Gif, InputFormat::Png, InputFormat::Jpeg]
        );
    }

    #[test]
    fn written_formats_are_stored_as_themselves_under_one_extension_each() {
        for out in OutputFormat::ALL {
            assert_eq!(out.spec().photo, out, "{out:?}");
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
        for other in ["gif", "jpeg", "JPG", "", "png ", ".png"] {
            assert_eq!(OutputFormat::from_extension(other), None, "{other:?}");
        }
        assert_eq!(accepted_names(), "GIF, PNG or JPEG");
    }
}
