//! WebP in: lossy, lossless with alpha, animated, EXIF-oriented, and lying or truncated
//! headers. Fixtures made with libwebp (Pillow 13), see testdata/ and conformance/files/.

use super::*;

const LOSSY: &[u8] = include_bytes!("../../../conformance/files/photo.webp");
const LOSSLESS_ALPHA: &[u8] = include_bytes!("../../../conformance/files/alpha.webp");
/// 64×48, two frames: red, then blue.
const ANIMATED: &[u8] = include_bytes!("testdata/animated.webp");
/// 40×20 stored, EXIF orientation 6 (rotate 90° clockwise): 20×40 shown; the left quarter
/// of the stored image is white, the rest green.
const ORIENTED: &[u8] = include_bytes!("testdata/oriented.webp");

fn rgba(encoded: &Encoded) -> image::RgbaImage {
    image::load_from_memory(&encoded.bytes).unwrap().to_rgba8()
}

/// A RIFF/WEBP file whose first chunk is `fourcc` with `data` (sizes as declared, not true).
fn webp(fourcc: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut f = b"RIFF\0\0\0\0WEBP".to_vec();
    f.extend_from_slice(fourcc);
    f.extend_from_slice(&(data.len() as u32).to_le_bytes());
    f.extend_from_slice(data);
    f
}

#[test]
fn lossy_webp_becomes_jpeg_and_alpha_webp_png() {
    let p = process(LOSSY, &Limits::default(), 64, 64).unwrap();
    assert_eq!(p.input_format, InputFormat::Webp);
    assert_eq!((p.source_width, p.source_height), (320, 240));
    assert_eq!(
        (p.photo.format, p.photo.width, p.photo.height),
        (OutputFormat::Jpeg, 320, 240)
    );
    assert_eq!(p.thumbnail.format, OutputFormat::Jpeg);

    let p = process(LOSSLESS_ALPHA, &Limits::default(), 64, 64).unwrap();
    assert_eq!((p.source_width, p.source_height), (200, 200));
    assert_eq!(
        (p.photo.format, p.thumbnail.format),
        (OutputFormat::Png, OutputFormat::Png)
    );
    assert!(rgba(&p.photo).pixels().any(|px| px[3] < 255), "alpha kept");
}

#[test]
fn an_animation_gives_its_first_frame() {
    let p = process(ANIMATED, &Limits::default(), 16, 16).unwrap();
    assert_eq!((p.source_width, p.source_height), (64, 48));
    let photo = rgba(&p.photo);
    let px = photo.get_pixel(32, 24);
    assert!(px[0] > 200 && px[2] < 50, "first frame is red: {px:?}");
}

#[test]
fn exif_orientation_is_applied() {
    let p = process(ORIENTED, &Limits::default(), 8, 8).unwrap();
    assert_eq!((p.source_width, p.source_height), (20, 40));
    let photo = rgba(&p.photo);
    assert_eq!((photo.width(), photo.height()), (20, 40));
    // Rotated clockwise: the stored left quarter is now the top.
    assert!(photo.get_pixel(10, 2)[1] > 200 && photo.get_pixel(10, 2)[0] > 200);
    assert!(
        photo.get_pixel(10, 35)[0] < 60,
        "{:?}",
        photo.get_pixel(10, 35)
    );
}

#[test]
fn header_sizes_are_checked_before_any_decoder_runs() {
    let limits = Limits::default();
    // Canvas 16384×16384 (268 MP): refused from the header.
    let mut canvas = vec![0u8; 10];
    canvas[4..7].copy_from_slice(&16383u32.to_le_bytes()[..3]);
    canvas[7..10].copy_from_slice(&16383u32.to_le_bytes()[..3]);
    let bomb = webp(b"VP8X", &canvas);
    assert_eq!(code(process(&bomb, &limits, 64, 64)), 413004);
    // Lossless 16384×16384 the same way.
    let bits: u32 = 16383 | (16383 << 14);
    let mut vp8l = vec![0x2f];
    vp8l.extend_from_slice(&bits.to_le_bytes());
    assert_eq!(
        code(process(&webp(b"VP8L", &vp8l), &limits, 64, 64)),
        413004
    );
    // Lossy: 14-bit sides, 16383×16383.
    let vp8 = [0, 0, 0, 0x9d, 0x01, 0x2a, 0xff, 0x3f, 0xff, 0x3f];
    assert_eq!(code(process(&webp(b"VP8 ", &vp8), &limits, 64, 64)), 413004);
}

#[test]
fn truncated_lying_and_unknown_chunks_are_refused_without_a_panic() {
    let limits = Limits::default();
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("no chunk".into(), b"RIFF\0\0\0\0WEBP".to_vec()),
        ("unknown chunk".into(), webp(b"ALPH", &[0; 16])),
        ("VP8 without start code".into(), webp(b"VP8 ", &[0; 10])),
        (
            "VP8L bad signature".into(),
            webp(b"VP8L", &[0x2e, 0, 0, 0, 0]),
        ),
        ("VP8X with no frame".into(), webp(b"VP8X", &[0; 10])),
    ];
    // (The last byte is the RIFF pad byte: a file without it still decodes, rightly.)
    for cut in [13, 20, 30, 100, LOSSY.len() / 2, LOSSY.len() * 3 / 4] {
        cases.push((format!("lossy cut at {cut}"), LOSSY[..cut].to_vec()));
    }
    for cut in [25, 60, LOSSLESS_ALPHA.len() / 2] {
        cases.push((
            format!("lossless cut at {cut}"),
            LOSSLESS_ALPHA[..cut].to_vec(),
        ));
    }
    // The header says 1000×1000 but the frame inside is 320×240.
    let mut lying = LOSSY.to_vec();
    lying[26..28].copy_from_slice(&1000u16.to_le_bytes());
    lying[28..30].copy_from_slice(&1000u16.to_le_bytes());
    cases.push(("lying VP8 size".into(), lying));
    for (what, bytes) in cases {
        let r = process(&bytes, &limits, 64, 64);
        assert!(r.is_err(), "{what}: {r:?}");
        assert_eq!(code(r), 409010, "{what}");
    }
}

fn code<T: std::fmt::Debug>(r: Result<T>) -> u32 {
    r.expect_err("expected an error").error_code()
}
