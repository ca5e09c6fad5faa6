//! Whole-pipeline unit tests with generated and hand-crafted images.

use image::ExtendedColorType;

use super::testutil::*;
use super::*;

fn code(r: Result<impl std::fmt::Debug>) -> u32 {
    r.expect_err("expected an error").error_code()
}

fn details<T: std::fmt::Debug>(r: Result<T>) -> String {
    r.expect_err("expected an error").details().to_string()
}

fn limits() -> Limits {
    Limits::default()
}

#[test]
fn sniff_by_magic_only() {
    assert_eq!(sniff(b"GIF87a...."), Some(InputFormat::Gif));
    assert_eq!(sniff(b"GIF89a...."), Some(InputFormat::Gif));
    assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(InputFormat::Png));
    assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(InputFormat::Jpeg));
    assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(InputFormat::Webp));
    for other in [
        &b""[..],
        b"GIF8",
        b"\x89PNG\r\n\x1a",
        b"\xFF\xD8",
        b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>",
        b"RIFF\0\0\0\0WAVEfmt ",
        b"RIFF\0\0\0\0WEB",
        b"II*\0",
        b"BM",
        b"#?RADIANCE\n",
        b"\0\0\x01\0",
    ] {
        assert_eq!(sniff(other), None, "{other:?}");
    }
}

#[test]
fn unknown_magic_and_empty_are_409010() {
    assert_eq!(
        code(process(
            b"<html><script>alert(1)</script>",
            &limits(),
            64,
            64
        )),
        409010
    );
    assert_eq!(code(process(b"", &limits(), 64, 64)), 409010);
    assert_eq!(
        code(process(b"RIFF\0\0\0\0WEBPVP8 ", &limits(), 64, 64)),
        409010
    );
    assert_eq!(code(thumbnail(b"BM", &limits(), 64, 64)), 409010);
}

#[test]
fn byte_cap_is_checked_first() {
    let l = Limits {
        max_bytes: 10,
        ..limits()
    };
    // Even garbage is refused for its size before anything looks at it.
    let r = process(&[0u8; 11], &l, 64, 64);
    assert_eq!(code(process(&[0u8; 11], &l, 64, 64)), 413004);
    assert!(details(r).contains("11 bytes; the limit is 10 bytes"));
    assert_eq!(code(process(&make_jpeg(16, 16), &l, 64, 64)), 413004);
}

#[test]
fn thumbnail_size_is_validated() {
    let jpg = make_jpeg(16, 16);
    // The one rule, which the API's policy check shares: 1..=1024 on each side.
    assert_eq!(THUMBNAIL_SIDES, 1..=1024);
    let edge = process(&jpg, &limits(), 1024, 1).unwrap().thumbnail;
    assert_eq!((edge.width, edge.height), (1024, 1));
    assert_eq!(code(process(&jpg, &limits(), 1025, 1)), 400006);
    assert_eq!(code(thumbnail(&jpg, &limits(), 1, 1025)), 400006);
    for (w, h) in [
        (0, 64),
        (64, 0),
        (THUMBNAIL_SIDES.end() + 1, 64),
        (64, u32::MAX),
    ] {
        let e = process(&jpg, &limits(), w, h).unwrap_err();
        assert_eq!(e.error_code(), 400006, "{w}x{h}");
        assert!(e.details().contains("thumbnail"), "{}", e.details());
        assert!(
            e.details().contains("between 1 and 1024 pixels"),
            "{}",
            e.details()
        );
        assert_eq!(
            thumbnail(&jpg, &limits(), w, h).unwrap_err().error_code(),
            400006
        );
    }
}

#[test]
fn pixel_side_and_aspect_limits() {
    let png = make_png(200, 100, ExtendedColorType::Rgb8, &pattern(200, 100, 3));
    let tight_pixels = Limits {
        max_pixels: 10_000,
        ..limits()
    };
    let r = process(&png, &tight_pixels, 64, 64);
    assert_eq!(
        details(r),
        "image is 200x100 pixels; the limit is 10000 pixels"
    );
    let tight_side = Limits {
        max_side: 150,
        ..limits()
    };
    let e = process(&png, &tight_side, 64, 64).unwrap_err();
    assert_eq!(e.error_code(), 413004);
    assert!(
        e.details().contains("150 pixels per side"),
        "{}",
        e.details()
    );
    assert!(process(&png, &limits(), 64, 64).is_ok());

    // Aspect ratio: 20:1 passes, 21:1 is refused (T21), for each format.
    for (w, h) in [(420u32, 20u32), (20, 420)] {
        let too_long = [
            make_png(w, h, ExtendedColorType::L8, &pattern(w, h, 1)),
            make_jpeg(w, h),
            make_gif(w as u16, h as u16, false),
        ];
        for bytes in &too_long {
            let e = process(bytes, &limits(), 64, 64).unwrap_err();
            assert_eq!(e.error_code(), 413004);
            assert!(e.details().contains("aspect ratio"), "{}", e.details());
        }
    }
    let ok = process(&make_jpeg(400, 20), &limits(), 64, 64).unwrap();
    assert_eq!((ok.photo.width, ok.photo.height), (400, 20));
    assert_eq!((ok.thumbnail.width, ok.thumbnail.height), (64, 64));
}

#[test]
fn png_header_lie_is_refused_from_ihdr() {
    // 68 bytes: signature, a valid IHDR claiming 100000x100000, a tiny IDAT, IEND.
    let mut png = png_header(100_000, 100_000, 6);
    png.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(png_chunk(b"IEND", &[]));
    let e = process(&png, &limits(), 64, 64).unwrap_err();
    assert_eq!(e.error_code(), 413004);
    assert_eq!(
        e.details(),
        "image is 100000x100000 pixels; the limit is 50000000 pixels"
    );

    let wide = png_header(16385, 2, 0);
    assert!(details(process(&wide, &limits(), 64, 64)).contains("16384 pixels per side"));
}

#[test]
fn png_bomb_of_zeros_is_refused_before_decoding() {
    // 11000x11000 RGBA of zeros: 484 MB of pixels in a few hundred KB.
    let bomb = png_zero_bomb(11_000, 11_000);
    assert!(bomb.len() < 6 * 1024 * 1024, "{} bytes", bomb.len());
    let e = process(&bomb, &limits(), 64, 64).unwrap_err();
    assert_eq!(e.error_code(), 413004);
    assert_eq!(
        e.details(),
        "image is 11000x11000 pixels; the limit is 50000000 pixels"
    );
}

#[test]
fn gif_logical_screen_bomb_is_refused_from_header() {
    let gif = gif_with_screen(65535, 65535, 1, 1);
    assert!(gif.len() < 64);
    let e = process(&gif, &limits(), 64, 64).unwrap_err();
    assert_eq!(e.error_code(), 413004);
    assert!(
        e.details().starts_with("image is 65535x65535 pixels"),
        "{}",
        e.details()
    );
    // Even with generous pixel limits the side cap stops it.
    let loose = Limits {
        max_pixels: u64::MAX,
        max_aspect_ratio: 0,
        ..limits()
    };
    assert_eq!(code(process(&gif, &loose, 64, 64)), 413004);
}

#[test]
fn gif_frame_bigger_than_screen_is_refused_cheaply() {
    let gif = gif_with_screen(1, 1, 65535, 65535);
    let c = code(process(&gif, &limits(), 64, 64));
    assert!(c == 409010 || c == 413004, "{c}");
}

#[test]
fn jpeg_sof_lie_is_refused() {
    // SOI, SOF0 claiming 65500x65500 (3 components), EOI: no tables, no scan.
    let mut j = vec![0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8];
    j.extend_from_slice(&65500u16.to_be_bytes());
    j.extend_from_slice(&65500u16.to_be_bytes());
    j.extend_from_slice(&[3, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1, 0xFF, 0xD9]);
    let e = process(&j, &limits(), 64, 64).unwrap_err();
    assert_eq!(e.error_code(), 413004);
    assert!(e.details().contains("65500x65500"), "{}", e.details());
    // The same header at a legal size has no image data: not a valid JPEG.
    j[7..11].copy_from_slice(&[0, 16, 0, 16]);
    assert_eq!(code(process(&j, &limits(), 64, 64)), 409010);
}

#[test]
fn truncated_and_corrupt_files_are_409010() {
    let l = limits();
    let files = [
        make_jpeg(300, 200),
        make_png(300, 200, ExtendedColorType::Rgb8, &pattern(300, 200, 3)),
        make_gif(300, 200, false),
    ];
    for f in &files {
        for cut in [4, 12, 30, f.len() / 2, f.len() - 3] {
            match process(&f[..cut], &l, 64, 64) {
                Ok(p) => assert_eq!((p.source_width, p.source_height), (300, 200)),
                Err(e) => assert_eq!(e.error_code(), 409010, "cut at {cut}: {}", e.details()),
            }
        }
    }
    // A flipped byte in the PNG's IDAT breaks its CRC.
    let mut png = files[1].clone();
    let n = png.len();
    png[n - 20] ^= 0xFF;
    assert_eq!(code(process(&png, &l, 64, 64)), 409010);
}

#[test]
fn formats_and_sizes() {
    let l = limits();
    // JPEG → JPEG, large: fit inside 1024, thumbnail exact.
    let p = process(&make_jpeg(3000, 2000), &l, 64, 64).unwrap();
    assert_eq!(p.input_format, InputFormat::Jpeg);
    assert_eq!((p.source_width, p.source_height), (3000, 2000));
    assert_eq!(
        (p.photo.format, p.photo.width, p.photo.height),
        (OutputFormat::Jpeg, 1024, 683)
    );
    assert_eq!(
        (p.thumbnail.format, p.thumbnail.width, p.thumbnail.height),
        (OutputFormat::Jpeg, 64, 64)
    );
    let img = image::load_from_memory(&p.photo.bytes).unwrap();
    assert_eq!((img.width(), img.height()), (1024, 683));

    // Small JPEG: never upscaled; the thumbnail is (10x10 → 64x64 is fine).
    let p = process(&make_jpeg(10, 10), &l, 64, 64).unwrap();
    assert_eq!((p.photo.width, p.photo.height), (10, 10));
    assert_eq!((p.thumbnail.width, p.thumbnail.height), (64, 64));

    // PNG → PNG; non-square thumbnail policy.
    let png = make_png(1000, 500, ExtendedColorType::Rgb8, &pattern(1000, 500, 3));
    let p = process(&png, &l, 120, 40).unwrap();
    assert_eq!(
        (p.photo.format, p.photo.width, p.photo.height),
        (OutputFormat::Png, 1000, 500)
    );
    assert_eq!(
        (p.thumbnail.format, p.thumbnail.width, p.thumbnail.height),
        (OutputFormat::Jpeg, 120, 40)
    );
    let thumb = image::load_from_memory(&p.thumbnail.bytes).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (120, 40));

    // GIF → PNG (first frame); opaque GIF thumbnail is JPEG, transparent one PNG.
    let p = process(&make_gif(300, 200, false), &l, 64, 64).unwrap();
    assert_eq!(
        (p.input_format, p.photo.format),
        (InputFormat::Gif, OutputFormat::Png)
    );
    assert_eq!(p.thumbnail.format, OutputFormat::Jpeg);
    let p = process(&make_gif(300, 200, true), &l, 64, 64).unwrap();
    assert_eq!(
        (p.photo.format, p.thumbnail.format),
        (OutputFormat::Png, OutputFormat::Png)
    );
    let thumb = image::load_from_memory(&p.thumbnail.bytes).unwrap();
    assert!(thumb.color().has_alpha());

    // A photo_max_side of its own.
    let small = Limits {
        photo_max_side: 100,
        ..limits()
    };
    let p = process(&make_jpeg(3000, 2000), &small, 64, 64).unwrap();
    assert_eq!((p.photo.width, p.photo.height), (100, 67));
}

#[test]
fn sixteen_bit_and_alpha_pngs() {
    // 16-bit RGBA with real transparency: 8-bit RGBA PNG out, PNG thumbnail.
    let (w, h) = (40u32, 30u32);
    let mut data16 = Vec::new();
    for y in 0..h {
        for x in 0..w {
            let a: u16 = if x < w / 2 { 65535 } else { 0 };
            for v in [x as u16 * 1600, y as u16 * 2000, 30000, a] {
                data16.extend_from_slice(&v.to_be_bytes());
            }
        }
    }
    // image's PNG encoder wants native-endian u16 samples.
    let ne: Vec<u8> = data16
        .chunks_exact(2)
        .flat_map(|c| u16::from_be_bytes([c[0], c[1]]).to_ne_bytes())
        .collect();
    let png = make_png(w, h, ExtendedColorType::Rgba16, &ne);
    let p = process(&png, &limits(), 64, 64).unwrap();
    let out = png_chunks(&p.photo.bytes).unwrap();
    assert_eq!(out[0].1[8..10], [8, 6], "8-bit RGBA IHDR");
    assert_eq!(p.thumbnail.format, OutputFormat::Png);
    let photo = image::load_from_memory(&p.photo.bytes).unwrap().to_rgba8();
    assert_eq!(photo.get_pixel(1, 1)[3], 255);
    assert_eq!(photo.get_pixel(w - 1, 1)[3], 0);
    assert_eq!(photo.get_pixel(10, 10)[0], ((10u32 * 1600) >> 8) as u8);

    // 16-bit gray, opaque.
    let g: Vec<u8> = (0..w * h)
        .flat_map(|i| (i as u16 * 50).to_ne_bytes())
        .collect();
    let p = process(
        &make_png(w, h, ExtendedColorType::L16, &g),
        &limits(),
        64,
        64,
    )
    .unwrap();
    assert_eq!(png_chunks(&p.photo.bytes).unwrap()[0].1[8..10], [8, 0]);
    assert_eq!(p.thumbnail.format, OutputFormat::Jpeg);
}

/// Every marker of an output JPEG is structural: SOI, one JFIF APP0, DQT, SOF0, DHT, SOS,
/// EOI, and nothing after EOI.
fn assert_clean_jpeg(bytes: &[u8]) {
    let segments = jpeg_segments(bytes).expect("well-formed JPEG with nothing after EOI");
    for (m, payload) in &segments {
        assert!(
            matches!(m, 0xD8 | 0xD9 | 0xDB | 0xC0 | 0xC4 | 0xDA)
                || (*m == 0xE0 && payload.starts_with(b"JFIF\0")),
            "unexpected marker {m:#x}"
        );
    }
    for needle in [&b"Exif"[..], b"GPS", b"secret", b"PK\x03\x04"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{needle:?} survived"
        );
    }
}

fn assert_clean_png(bytes: &[u8]) {
    let chunks = png_chunks(bytes).expect("well-formed PNG with nothing after IEND");
    for (kind, _) in &chunks {
        assert!(
            matches!(kind, b"IHDR" | b"IDAT" | b"IEND"),
            "unexpected chunk {:?}",
            String::from_utf8_lossy(kind)
        );
    }
    for needle in [&b"Exif"[..], b"GPS", b"secret", b"<html"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "{needle:?} survived"
        );
    }
}

#[test]
fn metadata_and_trailing_data_never_survive() {
    // JPEG with APP1 Exif (orientation 6 + GPS IFD), a COM segment and a ZIP after EOI.
    let jpeg = jpeg_with_metadata(&make_jpeg(300, 200), 6);
    assert!(
        jpeg_segments(&jpeg).is_none(),
        "the input really has trailing data"
    );
    let p = process(&jpeg, &limits(), 64, 64).unwrap();
    // Orientation 6 was applied: 300x200 stored sideways is 200x300.
    assert_eq!((p.source_width, p.source_height), (200, 300));
    assert_eq!((p.photo.width, p.photo.height), (200, 300));
    assert_clean_jpeg(&p.photo.bytes);
    assert_clean_jpeg(&p.thumbnail.bytes);
    assert_clean_jpeg(&thumbnail(&jpeg, &limits(), 64, 64).unwrap().bytes);

    // PNG with tEXt, eXIf (orientation 8 + GPS) and HTML after IEND.
    let png = png_with_metadata(
        &make_png(300, 200, ExtendedColorType::Rgba8, &pattern(300, 200, 4)),
        8,
    );
    assert!(
        png_chunks(&png).is_none(),
        "the input really has trailing data"
    );
    let p = process(&png, &limits(), 64, 64).unwrap();
    assert_eq!(
        (p.photo.width, p.photo.height),
        (200, 300),
        "PNG eXIf orientation applied"
    );
    assert_clean_png(&p.photo.bytes);
    assert_clean_jpeg(&p.thumbnail.bytes);

    // GIF with junk after the trailer.
    let mut gif = make_gif(30, 20, true);
    gif.extend_from_slice(b"<html>secret");
    let p = process(&gif, &limits(), 64, 64).unwrap();
    assert_clean_png(&p.photo.bytes);
    assert_clean_png(&p.thumbnail.bytes);
}

/// Mean absolute difference of two equally sized RGB images, after shrinking both to 16x16.
fn mad(a: &[u8], b: &[u8]) -> f64 {
    let small = |bytes: &[u8]| {
        image::load_from_memory(bytes)
            .unwrap()
            .resize_exact(16, 16, image::imageops::FilterType::Triangle)
            .to_rgb8()
    };
    let (a, b) = (small(a), small(b));
    a.as_raw()
        .iter()
        .zip(b.as_raw())
        .map(|(x, y)| (f64::from(*x) - f64::from(*y)).abs())
        .sum::<f64>()
        / a.as_raw().len() as f64
}

#[test]
fn every_exif_orientation_is_applied() {
    // The upright pattern, then each orientation stored the way a camera would: the raw
    // pixels are the upright image with the inverse transform applied.
    let (w, h) = (240u32, 160u32);
    let upright = process(&make_jpeg(w, h), &limits(), 64, 64).unwrap();
    for value in 1..=8u16 {
        let o = Orientation::from_exif(value as u8).unwrap();
        let mut stored = image::DynamicImage::ImageRgb8(
            image::RgbImage::from_raw(w, h, pattern(w, h, 3)).unwrap(),
        );
        // Inverse of each orientation: rotations invert to the opposite rotation, flips and
        // transposes are their own inverse.
        stored.apply_orientation(match o {
            Orientation::Rotate90 => Orientation::Rotate270,
            Orientation::Rotate270 => Orientation::Rotate90,
            other => other,
        });
        let mut raw = Vec::new();
        stored
            .write_to(
                &mut std::io::Cursor::new(&mut raw),
                image::ImageFormat::Jpeg,
            )
            .unwrap();
        let jpeg = jpeg_with_metadata(&raw, value);
        let p = process(&jpeg, &limits(), 64, 64).unwrap();
        assert_eq!(
            (p.photo.width, p.photo.height),
            (w, h),
            "orientation {value}"
        );
        let d = mad(&p.photo.bytes, &upright.photo.bytes);
        assert!(d < 6.0, "orientation {value}: photo differs by {d}");
        let d = mad(&p.thumbnail.bytes, &upright.thumbnail.bytes);
        assert!(d < 8.0, "orientation {value}: thumbnail differs by {d}");
        // And the check can fail: the un-rotated stored image is far from upright.
        if value != 1 {
            let plain = process(&raw, &limits(), 64, 64).unwrap();
            if (plain.photo.width, plain.photo.height) == (w, h) {
                assert!(
                    mad(&plain.photo.bytes, &upright.photo.bytes) > 20.0,
                    "orientation {value}"
                );
            }
        }
    }
    // 0 and 9 are invalid: no rotation.
    for value in [0u16, 9, 65535] {
        let p = process(
            &jpeg_with_metadata(&make_jpeg(w, h), value),
            &limits(),
            64,
            64,
        )
        .unwrap();
        assert_eq!(
            (p.photo.width, p.photo.height),
            (w, h),
            "orientation {value}"
        );
    }
}

#[test]
fn thumbnail_of_a_stored_photo() {
    let p = process(&make_jpeg(3000, 2000), &limits(), 64, 64).unwrap();
    let t = thumbnail(&p.photo.bytes, &limits(), 100, 50).unwrap();
    assert_eq!((t.format, t.width, t.height), (OutputFormat::Jpeg, 100, 50));
    let img = image::load_from_memory(&t.bytes).unwrap();
    assert_eq!((img.width(), img.height()), (100, 50));

    let alpha = process(&make_gif(40, 40, true), &limits(), 64, 64).unwrap();
    let t = thumbnail(&alpha.photo.bytes, &limits(), 32, 32).unwrap();
    assert_eq!((t.format, t.width, t.height), (OutputFormat::Png, 32, 32));
}

#[test]
fn extreme_but_allowed_aspect_gives_a_sharp_thumbnail_source() {
    // 4000x200 (20:1): the photo is 1024x51, too short to cover 64x64, so the thumbnail is
    // cut from the decoded pixels instead of being upscaled from the photo.
    let p = process(&make_jpeg(4000, 200), &limits(), 64, 64).unwrap();
    assert_eq!((p.photo.width, p.photo.height), (1024, 51));
    assert_eq!((p.thumbnail.width, p.thumbnail.height), (64, 64));
}

/// A 1800×600 picture, grey but for a skin-toned textured disc filling most of its left
/// square (about 2/3 of it: a window on it is about 2/3 skin).
fn face_on_the_left() -> Vec<u8> {
    let (w, h) = (1800u32, 600u32);
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x.abs_diff(300), y.abs_diff(300));
            if dx * dx + dy * dy <= 280 * 280 {
                let t = if (x / 6 + y / 6) % 2 == 0 { 0 } else { 24 };
                data.extend_from_slice(&[224 - t, 168 - t, 130 - t]);
            } else {
                data.extend_from_slice(&[128, 128, 128]);
            }
        }
    }
    make_png(w, h, ExtendedColorType::Rgb8, &data)
}

/// The mean colour of an encoded thumbnail.
fn mean_rgb(encoded: &Encoded) -> [f64; 3] {
    let img = image::load_from_memory(&encoded.bytes).unwrap().to_rgb8();
    let mut sum = [0f64; 3];
    for p in img.pixels() {
        for (s, v) in sum.iter_mut().zip(p.0) {
            *s += f64::from(v);
        }
    }
    let n = f64::from(img.width() * img.height());
    sum.map(|s| s / n)
}

#[test]
fn attention_crop_keeps_the_subject_the_centre_crop_cuts_off() {
    let png = face_on_the_left();
    let crop = |crop| Thumbnail {
        width: 64,
        height: 64,
        crop,
    };
    let centre =
        process_cancellable(&png, &limits(), crop(ThumbnailCrop::Center), &Cancel::new()).unwrap();
    let attention = process_cancellable(
        &png,
        &limits(),
        crop(ThumbnailCrop::Attention),
        &Cancel::new(),
    )
    .unwrap();
    // Same photo; the thumbnails differ only in where the window sits.
    assert_eq!(centre.photo, attention.photo);
    assert_eq!(
        (attention.thumbnail.width, attention.thumbnail.height),
        (64, 64)
    );
    let grey = mean_rgb(&centre.thumbnail);
    assert!(
        grey.iter().all(|c| (c - 128.0).abs() < 3.0),
        "centre: {grey:?}"
    );
    let skin = mean_rgb(&attention.thumbnail);
    assert!(
        skin[0] > 180.0 && skin[0] - skin[2] > 60.0,
        "attention: {skin:?}"
    );
    // A thumbnail cut again from the stored photo lands in the same place.
    let again = thumbnail_cancellable(
        &attention.photo.bytes,
        &limits(),
        crop(ThumbnailCrop::Attention),
        &Cancel::new(),
    )
    .unwrap();
    let again = mean_rgb(&again);
    assert!(
        again[0] > 180.0 && again[0] - again[2] > 60.0,
        "again: {again:?}"
    );
}
