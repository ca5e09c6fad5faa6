//! Pixels → bytes. Encoding from pixels is what strips metadata: the encoders are given no
//! EXIF, ICC, text or comment, and write nothing after EOI / IEND.

use super::types::{Encoded, Layout, OutputFormat, Pixels};
use crate::error::{Error, Result};

pub(crate) fn encode(px: &Pixels, format: OutputFormat, jpeg_quality: u8) -> Result<Encoded> {
    let bytes = match format {
        OutputFormat::Jpeg => jpeg(px, jpeg_quality)?,
        OutputFormat::Png => png(px)?,
    };
    Ok(Encoded {
        bytes,
        format,
        width: px.width,
        height: px.height,
    })
}

/// Baseline JPEG, 4:2:0, no APPn segment but the JFIF header. Alpha (if any) is dropped.
fn jpeg(px: &Pixels, quality: u8) -> Result<Vec<u8>> {
    let too_big = || Error::internal(format!("{}x{} is too large for JPEG", px.width, px.height));
    let w = u16::try_from(px.width).map_err(|_| too_big())?;
    let h = u16::try_from(px.height).map_err(|_| too_big())?;
    let color = match px.layout {
        Layout::Gray => jpeg_encoder::ColorType::Luma,
        Layout::Rgb => jpeg_encoder::ColorType::Rgb,
        Layout::Rgba => jpeg_encoder::ColorType::Rgba,
    };
    let mut out = Vec::with_capacity(px.data.len() / 8 + 1024);
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality.clamp(1, 100));
    encoder.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    encoder.set_progressive(false);
    encoder
        .encode(&px.data, w, h, color)
        .map_err(Error::internal)?;
    Ok(out)
}

/// 8-bit PNG with fast compression and adaptive filtering; only IHDR, IDAT and IEND.
fn png(px: &Pixels) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(px.data.len() / 2 + 1024);
    let mut encoder = png::Encoder::new(&mut out, px.width, px.height);
    encoder.set_color(match px.layout {
        Layout::Gray => png::ColorType::Grayscale,
        Layout::Rgb => png::ColorType::Rgb,
        Layout::Rgba => png::ColorType::Rgba,
    });
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    encoder.set_filter(png::Filter::Adaptive);
    let mut writer = encoder.write_header().map_err(Error::internal)?;
    writer.write_image_data(&px.data).map_err(Error::internal)?;
    writer.finish().map_err(Error::internal)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(layout: Layout) -> Pixels {
        let (w, h) = (33u32, 17u32);
        Pixels {
            data: (0..w * h * layout.channels() as u32)
                .map(|i| (i % 251) as u8)
                .collect(),
            width: w,
            height: h,
            layout,
        }
    }

    #[test]
    fn encodes_and_round_trips_sizes() {
        for layout in [Layout::Gray, Layout::Rgb, Layout::Rgba] {
            let j = encode(&px(layout), OutputFormat::Jpeg, 85).unwrap();
            assert!(j.bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && j.bytes.ends_with(&[0xFF, 0xD9]));
            let img = image::load_from_memory(&j.bytes).unwrap();
            assert_eq!((img.width(), img.height()), (33, 17));

            let p = encode(&px(layout), OutputFormat::Png, 85).unwrap();
            let img = image::load_from_memory(&p.bytes).unwrap();
            assert_eq!((img.width(), img.height()), (33, 17));
            assert_eq!(img.color().has_alpha(), layout == Layout::Rgba);
            // PNG is lossless.
            assert_eq!(img.as_bytes(), &px(layout).data[..]);
        }
    }

    #[test]
    fn jpeg_is_baseline_420() {
        let j = encode(&px(Layout::Rgb), OutputFormat::Jpeg, 85)
            .unwrap()
            .bytes;
        let segments = crate::pipeline::testutil::jpeg_segments(&j).unwrap();
        assert!(segments.iter().all(|(m, _)| *m != 0xC2), "progressive");
        let sof = &segments.iter().find(|(m, _)| *m == 0xC0).expect("SOF0").1;
        // precision, height, width, then 3 components: luma sampled 2x2, chroma 1x1.
        assert_eq!(sof[5], 3);
        assert_eq!((sof[7], sof[10], sof[13]), (0x22, 0x11, 0x11));
    }
}
