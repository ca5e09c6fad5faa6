//! Thumbnail scales (`profilePhoto.thumbnailScales`): the list's rules, every scale's size,
//! one window for all of them, orientation, and the side limit.

use image::ExtendedColorType;

use super::testutil::*;
use super::*;

fn scales(list: &[i64]) -> ThumbnailScales {
    ThumbnailScales::from_list(list).unwrap()
}

fn sizes(p: &Processed) -> Vec<(u32, u32, u32)> {
    let mut out = vec![(1, p.thumbnail.width, p.thumbnail.height)];
    out.extend(
        p.scaled_thumbnails
            .iter()
            .map(|(s, e)| (*s, e.width, e.height)),
    );
    out
}

/// The mean colour of an encoded image, and that it decodes to its stated size.
fn mean_rgb(encoded: &Encoded) -> [f64; 3] {
    let img = image::load_from_memory(&encoded.bytes).unwrap().to_rgb8();
    assert_eq!((img.width(), img.height()), (encoded.width, encoded.height));
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
fn the_list_rules() {
    assert_eq!(ThumbnailScales::default(), ThumbnailScales::ONE);
    assert_eq!(scales(&[3, 1, 2]).to_vec(), [1, 2, 3]);
    assert_eq!(scales(&[1, 4]).max(), 4);
    assert_eq!(format!("{:?}", scales(&[1, 2])), "[1, 2]");
    for (bad, why) in [
        (&[][..], "must include 1"),
        (&[2], "must include 1"),
        (&[1, 1], "twice"),
        (&[0, 1], "from 1 to 4"),
        (&[1, 5], "from 1 to 4"),
        (&[1, -3], "from 1 to 4"),
        (&[1, i64::MAX], "from 1 to 4"),
    ] {
        let e = ThumbnailScales::from_list(bad).unwrap_err();
        assert_eq!(e.error_code(), 400006, "{bad:?}");
        assert!(e.details().contains("profilePhoto.thumbnailScales"), "{e}");
        assert!(e.details().contains(why), "{bad:?}: {e}");
    }
    assert_eq!(
        ThumbnailCrop::from_name("attention").unwrap(),
        ThumbnailCrop::Attention
    );
    for c in ThumbnailCrop::ALL {
        assert_eq!(ThumbnailCrop::from_name(c.name()).unwrap(), c);
    }
    for bad in ["", "Center", "centre", "attention "] {
        let e = ThumbnailCrop::from_name(bad).unwrap_err();
        assert!(e.details().contains("profilePhoto.thumbnailCrop"), "{e}");
    }
}

#[test]
fn every_scale_is_made_and_the_1x_is_unchanged() {
    let jpeg = make_jpeg(640, 480);
    let thumb = Thumbnail::centered(60, 40);
    let p = process_scaled(
        &jpeg,
        &Limits::default(),
        thumb,
        scales(&[1, 2, 4]),
        &Cancel::new(),
    )
    .unwrap();
    assert_eq!(sizes(&p), [(1, 60, 40), (2, 120, 80), (4, 240, 160)]);
    for (_, t) in &p.scaled_thumbnails {
        assert_eq!(t.format, OutputFormat::Jpeg);
        mean_rgb(t);
    }
    // Scales change nothing about the photo and the 1x thumbnail.
    let plain = process_cancellable(&jpeg, &Limits::default(), thumb, &Cancel::new()).unwrap();
    assert_eq!((&plain.photo, &plain.thumbnail), (&p.photo, &p.thumbnail));
    assert!(plain.scaled_thumbnails.is_empty());

    // The same from a stored photo, with its size.
    let again = thumbnails_cancellable(
        &plain.photo.bytes,
        &Limits::default(),
        thumb,
        scales(&[1, 3]),
        &Cancel::new(),
    )
    .unwrap();
    assert_eq!((again.source_width, again.source_height), (640, 480));
    let got: Vec<_> = again
        .by_scale
        .iter()
        .map(|(s, e)| (*s, e.width, e.height))
        .collect();
    assert_eq!(got, [(1, 60, 40), (3, 180, 120)]);
}

#[test]
fn orientation_applies_to_every_scale() {
    // Stored 80×40, EXIF 6: shown 40×80, so a 30×60 thumbnail is cut without distortion.
    let jpeg = jpeg_with_metadata(&make_jpeg(80, 40), 6);
    let p = process_scaled(
        &jpeg,
        &Limits::default(),
        Thumbnail::centered(30, 60),
        scales(&[1, 2]),
        &Cancel::new(),
    )
    .unwrap();
    assert_eq!((p.source_width, p.source_height), (40, 80));
    assert_eq!(sizes(&p), [(1, 30, 60), (2, 60, 120)]);
}

#[test]
fn all_scales_show_the_same_window() {
    // Grey, with a skin-toned disc on the left: the attention window goes there at every
    // scale, so the 3x thumbnail looks like the 1x one.
    let (w, h) = (900u32, 300u32);
    let mut data = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let (dx, dy) = (x.abs_diff(150), y.abs_diff(150));
            if dx * dx + dy * dy <= 140 * 140 {
                let t = if (x / 3 + y / 3) % 2 == 0 { 0 } else { 24 };
                data.extend_from_slice(&[224 - t, 168 - t, 130 - t]);
            } else {
                data.extend_from_slice(&[128, 128, 128]);
            }
        }
    }
    let png = make_png(w, h, ExtendedColorType::Rgb8, &data);
    let thumb = Thumbnail {
        width: 64,
        height: 64,
        crop: ThumbnailCrop::Attention,
    };
    let p = process_scaled(
        &png,
        &Limits::default(),
        thumb,
        scales(&[1, 3]),
        &Cancel::new(),
    )
    .unwrap();
    let one = mean_rgb(&p.thumbnail);
    let three = mean_rgb(&p.scaled_thumbnails[0].1);
    assert!(one[0] > 180.0 && one[0] - one[2] > 60.0, "1x: {one:?}");
    for c in 0..3 {
        assert!(
            (one[c] - three[c]).abs() < 6.0,
            "1x {one:?} vs 3x {three:?}"
        );
    }
}

#[test]
fn a_scaled_side_past_the_limit_is_refused_before_decoding() {
    let e = check_thumbnail_scales(400, 100, scales(&[1, 3])).unwrap_err();
    assert_eq!(e.error_code(), 400006);
    assert!(e.details().contains("profilePhoto.thumbnailScales"), "{e}");
    assert!(e.details().contains("1200"), "{e}");
    assert!(check_thumbnail_scales(256, 256, scales(&[1, 2, 3, 4])).is_ok());
    // Not even a valid image is needed to be refused.
    let e = process_scaled(
        b"nope",
        &Limits::default(),
        Thumbnail::centered(300, 300),
        scales(&[1, 4]),
        &Cancel::new(),
    )
    .unwrap_err();
    assert_eq!(e.error_code(), 400006);
    // A cancelled call stops with 504002.
    let cancel = Cancel::new();
    cancel.cancel();
    let e = process_scaled(
        &make_jpeg(64, 64),
        &Limits::default(),
        Thumbnail::centered(8, 8),
        scales(&[1, 2]),
        &cancel,
    )
    .unwrap_err();
    assert_eq!(e.error_code(), 504002);
}
