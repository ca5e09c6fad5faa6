use super::*;
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

fn photo_like(w: usize, h: usize, c: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(w * h * c);
    for y in 0..h {
        for x in 0..w {
            for k in 0..c {
                let f = ((x as f32 / 9.0).sin() + (y as f32 / 13.0).cos()) * 60.0;
                v.push(
                    (128.0 + f + (k * 40) as f32 - ((x ^ y) & 7) as f32).clamp(0.0, 255.0) as u8,
                );
            }
        }
    }
    v
}

fn reference(jpeg: &[u8], eighths: u32) -> (Vec<u8>, u16, u16) {
    let mut d = jpeg_decoder::Decoder::new(jpeg);
    d.read_info().unwrap();
    let i = d.info().unwrap();
    let (w, h) = (u32::from(i.width), u32::from(i.height));
    let (sw, sh) = (
        (w * eighths).div_ceil(8) as u16,
        (h * eighths).div_ceil(8) as u16,
    );
    let (ow, oh) = d.scale(sw, sh).unwrap();
    (d.decode().unwrap(), ow, oh)
}

/// Our decode at `eighths`/8 against jpeg-decoder's: same size, mean absolute
/// difference under 3 (of 255).
fn close_to_reference(jpeg: &[u8], eighths: u32, what: &str) -> Scaled {
    let ours = decode_scaled(jpeg, eighths, u64::MAX, &Cancel::new())
        .unwrap_or_else(|e| panic!("{what}: {e:?}"));
    let (theirs, tw, th) = reference(jpeg, eighths);
    assert_eq!(
        (ours.width, ours.height),
        (u32::from(tw), u32::from(th)),
        "{what}"
    );
    assert_eq!(ours.data.len(), theirs.len(), "{what}");
    let mad = ours
        .data
        .iter()
        .zip(&theirs)
        .map(|(&a, &b)| f64::from(a.abs_diff(b)))
        .sum::<f64>()
        / theirs.len() as f64;
    assert!(mad < 3.0, "{what}: mean difference {mad:.2}");
    ours
}

#[test]
fn matches_jpeg_decoder_at_every_scale_and_layout() {
    // 205×119 gives odd output sizes at 1/2 (103×60) and 1/4 (52×30), the edges of the
    // chroma upsampling.
    let cases = [
        (203u16, 117u16, SamplingFactor::R_4_2_0, false, 0u16, 3usize),
        (203, 117, SamplingFactor::R_4_2_0, true, 0, 3),
        (203, 117, SamplingFactor::R_4_4_4, false, 3, 3),
        (203, 117, SamplingFactor::R_4_2_2, true, 0, 3),
        (203, 117, SamplingFactor::R_4_2_0, false, 5, 3),
        (203, 117, SamplingFactor::R_4_4_4, true, 0, 1),
        (205, 119, SamplingFactor::R_4_2_0, false, 0, 3),
        (205, 119, SamplingFactor::R_4_2_2, false, 0, 3),
        (205, 119, SamplingFactor::R_4_4_0, true, 0, 3),
    ];
    for (w, h, sampling, progressive, restart, c) in cases {
        let px = photo_like(w.into(), h.into(), c);
        let mut jpeg = Vec::new();
        let mut e = Encoder::new(&mut jpeg, 90);
        e.set_sampling_factor(sampling);
        e.set_progressive(progressive);
        if restart > 0 {
            e.set_restart_interval(restart);
        }
        let ct = if c == 1 {
            ColorType::Luma
        } else {
            ColorType::Rgb
        };
        e.encode(&px, w, h, ct).unwrap();
        for eighths in [1, 2, 4] {
            let what =
                format!("{sampling:?} progressive={progressive} rst={restart} c={c} {eighths}/8");
            let ours = close_to_reference(&jpeg, eighths, &what);
            assert_eq!(ours.gray, c == 1, "{what}");
        }
    }
}

/// libjpeg's default progressive script (what cameras' and Pillow's progressive files
/// use) has successive-approximation refinement scans, which jpeg-encoder never writes:
/// these fixtures (crops of examples/photos/astronaut.png saved by Pillow 13 with
/// `progressive=True`) cover them.
#[test]
fn successive_approximation_matches_jpeg_decoder() {
    let files: [&[u8]; 3] = [
        include_bytes!("testdata/progressive_sa_420.jpg"),
        include_bytes!("testdata/progressive_sa_444.jpg"),
        include_bytes!("testdata/progressive_sa_gray.jpg"),
    ];
    for (n, jpeg) in files.iter().enumerate() {
        for eighths in [1, 2, 4] {
            close_to_reference(jpeg, eighths, &format!("file {n} {eighths}/8"));
        }
    }
}

#[test]
fn truncated_and_garbage_never_panic() {
    let px = photo_like(64, 48, 3);
    for progressive in [false, true] {
        let mut jpeg = Vec::new();
        let mut e = Encoder::new(&mut jpeg, 80);
        e.set_progressive(progressive);
        e.encode(&px, 64, 48, ColorType::Rgb).unwrap();
        for cut in (0..jpeg.len()).step_by(37) {
            let _ = decode_scaled(&jpeg[..cut], 4, u64::MAX, &Cancel::new());
        }
        let mut bad = jpeg.clone();
        for i in (200..bad.len()).step_by(11) {
            bad[i] = bad[i].wrapping_mul(31).wrapping_add(7);
        }
        let _ = decode_scaled(&bad, 2, u64::MAX, &Cancel::new());
    }
    assert!(decode_scaled(b"\xFF\xD8\xFF\xD9", 4, u64::MAX, &Cancel::new()).is_err());
}

/// Every frame the decoder accepts, at every scale it runs at, transforms blocks of 1, 2 or
/// 4 points per direction: the IDCT needs no 8-point case.
#[test]
fn blocks_are_at_most_four_points_for_every_layout_and_scale() {
    let mut seen = std::collections::BTreeSet::new();
    let factors = [0x11u8, 0x12, 0x21, 0x22];
    for n in [1, 2, 4] {
        for y in factors {
            for cb in factors {
                for cr in factors {
                    let mut sof = vec![8, 0, 77, 0, 99, 3];
                    sof.extend_from_slice(&[1, y, 0, 2, cb, 1, 3, cr, 1]);
                    let Ok(f) = parse_frame(&sof, true, n, None, u64::MAX, &Cancel::new()) else {
                        continue; // the luma does not carry the largest factors
                    };
                    for c in &f.comps {
                        assert!(c.sx <= idct::MAX_POINTS && c.sy <= idct::MAX_POINTS);
                        seen.insert((c.sx, c.sy));
                    }
                }
            }
        }
    }
    let all: Vec<(usize, usize)> = seen.into_iter().collect();
    assert_eq!(
        all,
        [(1, 1), (1, 2), (2, 1), (2, 2), (2, 4), (4, 2), (4, 4)]
    );
}
