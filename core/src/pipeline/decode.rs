//! Bytes → pixels: the format table's decoder for the sniffed format, behind
//! `catch_unwind` so a decoder panic on hostile bytes is a refused photo, never a crash.
//! Every decoder reads the dimensions from the header and checks them against the limits
//! before a pixel buffer exists; how is its own business (`via_image`, `jpeg::select`).

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::cancel::Cancel;
use super::format::Format;
use super::types::{Decoded, Limits, Needed};
use crate::error::{Error, Result};

/// Decode `bytes` (already sniffed as `format`). `needed` says how many pixels the caller
/// needs; a decoder that scales while decoding may stop there.
pub(crate) fn decode(
    bytes: &[u8],
    format: &Format,
    limits: &Limits,
    needed: Needed<'_>,
    cancel: &Cancel,
) -> Result<Decoded> {
    // Limit checks happen inside too, so a header parser panic is covered as well.
    let decoded = catch_unwind(AssertUnwindSafe(|| {
        (format.decode)(bytes, limits, needed, cancel)
    }));
    // A decoder cut short by the cancel reports a truncated file (or a partial image):
    // what it returned then is not the answer.
    cancel.check()?;
    decoded.unwrap_or_else(|_| {
        Err(Error::bad_photo(format!(
            "the {} image is malformed",
            format.name
        )))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::format::FORMATS;

    fn panics(_: &[u8], _: &Limits, _: Needed<'_>, _: &Cancel) -> Result<Decoded> {
        panic!("a decoder bug on hostile bytes")
    }

    #[test]
    fn a_decoder_panic_is_a_refused_photo_and_a_cancel_wins_over_any_answer() {
        let fmt = |decode| Format {
            decode,
            ..*FORMATS[1]
        };
        let needed = |w, h| (w, h);
        let cancel = Cancel::new();
        let e = decode(b"", &fmt(panics), &Limits::default(), &needed, &cancel).unwrap_err();
        assert_eq!(e.error_code(), 409010);
        assert!(e.details().contains("the PNG image is malformed"), "{e}");

        // The real PNG decoder on a real PNG, cancelled before it starts: 504002, whatever
        // it returned.
        let png = crate::pipeline::testutil::make_png(
            8,
            8,
            image::ExtendedColorType::Rgb8,
            &[7; 8 * 8 * 3],
        );
        let ok = decode(&png, FORMATS[1], &Limits::default(), &needed, &cancel).unwrap();
        assert_eq!((ok.full_width, ok.full_height), (8, 8));
        cancel.cancel();
        let e = decode(&png, FORMATS[1], &Limits::default(), &needed, &cancel).unwrap_err();
        assert_eq!(e.error_code(), 504002);
        let e = decode(b"", &fmt(panics), &Limits::default(), &needed, &cancel).unwrap_err();
        assert_eq!(e.error_code(), 504002);
    }
}
