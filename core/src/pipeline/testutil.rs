//! Test helpers: image generators, hand-crafted hostile headers and structure walkers that
//! prove what an output file contains.

use std::io::Write;

use image::{ExtendedColorType, ImageEncoder};

/// The segments of a JPEG from SOI to EOI (marker, payload); `None` if the structure is
/// broken or **anything** follows EOI.
pub(crate) fn jpeg_segments(b: &[u8]) -> Option<Vec<(u8, Vec<u8>)>> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut out = vec![(0xD8, Vec::new())];
    let mut i = 2;
    loop {
        if *b.get(i)? != 0xFF {
            return None;
        }
        let m = *b.get(i + 1)?;
        i += 2;
        match m {
            0xD9 => {
                out.push((m, Vec::new()));
                return (i == b.len()).then_some(out);
            }
            0x01 | 0xD0..=0xD7 => out.push((m, Vec::new())),
            _ => {
                let len = usize::from(u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]));
                let payload = b.get(i + 2..i + len)?.to_vec();
                i += len;
                out.push((m, payload));
                if m == 0xDA {
                    // Entropy-coded data runs to the next marker that is not a stuffed
                    // 0xFF00 or a restart marker.
                    loop {
                        if *b.get(i)? == 0xFF {
                            let n = *b.get(i + 1)?;
                            if n != 0 && !(0xD0..=0xD7).contains(&n) {
                                break;
                            }
                        }
                        i += 1;
                    }
                }
            }
        }
    }
}

/// The chunks of a PNG; `None` if the structure is broken or anything follows IEND.
pub(crate) fn png_chunks(b: &[u8]) -> Option<Vec<([u8; 4], Vec<u8>)>> {
    if !b.starts_with(b"\x89PNG\r\n\x1a\n") {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 8;
    loop {
        let len = u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?) as usize;
        let kind: [u8; 4] = b.get(i + 4..i + 8)?.try_into().ok()?;
        let data = b.get(i + 8..i + 8 + len)?.to_vec();
        i += 12 + len;
        out.push((kind, data));
        if &kind == b"IEND" {
            return (i == b.len()).then_some(out);
        }
    }
}

pub(crate) fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    c.extend_from_slice(&png_crc(kind, data).to_be_bytes());
    c
}

/// Signature + a valid IHDR claiming `w`×`h` (8-bit, `color_type`) and nothing else.
pub(crate) fn png_header(w: u32, h: u32, color_type: u8) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, color_type, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png
}

/// A real PNG of `w`×`h` zero pixels (RGBA8) compressed by the `png` crate row by row:
/// a decompression bomb that never holds the image in memory while being made.
pub(crate) fn png_zero_bomb(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_compression(png::Compression::High);
    enc.set_filter(png::Filter::NoFilter);
    let mut writer = enc.write_header().unwrap();
    {
        let mut stream = writer.stream_writer().unwrap();
        let row = vec![0u8; w as usize * 4];
        for _ in 0..h {
            stream.write_all(&row).unwrap();
        }
        stream.finish().unwrap();
    }
    writer.finish().unwrap();
    out
}

/// A GIF whose logical screen is `sw`×`sh` holding one `fw`×`fh` frame at (0, 0) whose
/// image data is a single pixel (the rest missing, which decoders fill in).
pub(crate) fn gif_with_screen(sw: u16, sh: u16, fw: u16, fh: u16) -> Vec<u8> {
    let mut g = b"GIF89a".to_vec();
    g.extend_from_slice(&sw.to_le_bytes());
    g.extend_from_slice(&sh.to_le_bytes());
    g.extend_from_slice(&[0x80, 0, 0]); // global colour table of 2, background 0, aspect 0
    g.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    g.push(0x2C);
    g.extend_from_slice(&[0, 0, 0, 0]);
    g.extend_from_slice(&fw.to_le_bytes());
    g.extend_from_slice(&fh.to_le_bytes());
    g.push(0);
    // LZW minimum code size 2: clear (4), index 0, end (5).
    g.extend_from_slice(&[2, 2, 0x44, 0x01, 0, 0x3B]);
    g
}

/// A test pattern: a bright block in the top-left quarter, so every rotation and flip of it
/// is distinguishable.
pub(crate) fn pattern(w: u32, h: u32, channels: usize) -> Vec<u8> {
    let mut data = Vec::with_capacity(w as usize * h as usize * channels);
    for y in 0..h {
        for x in 0..w {
            let hot = x < w / 2 && y < h / 2 && !(x < w / 4 && y < h / 4);
            for c in 0..channels {
                data.push(match (c, hot) {
                    (3, _) => 255,
                    (_, true) => 230,
                    (_, false) => (20 + (x + y) % 40) as u8,
                });
            }
        }
    }
    data
}

pub(crate) fn make_png(w: u32, h: u32, color: ExtendedColorType, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(data, w, h, color)
        .unwrap();
    out
}

pub(crate) fn make_jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .write_image(&pattern(w, h, 3), w, h, ExtendedColorType::Rgb8)
        .unwrap();
    out
}

pub(crate) fn make_gif(w: u16, h: u16, transparent: bool) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut data = pattern(u32::from(w), u32::from(h), 4);
        if transparent {
            for px in data.chunks_exact_mut(4).step_by(3) {
                px[3] = 0;
            }
        }
        let mut enc = image::codecs::gif::GifEncoder::new(&mut out);
        let frame = image::Frame::new(
            image::RgbaImage::from_raw(u32::from(w), u32::from(h), data).unwrap(),
        );
        enc.encode_frame(frame).unwrap();
    }
    out
}

/// A little-endian TIFF/EXIF block with Orientation = `orientation` and a GPS IFD.
pub(crate) fn exif_with_gps(orientation: u16) -> Vec<u8> {
    let mut t = b"II\x2A\x00".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    t.extend_from_slice(&2u16.to_le_bytes());
    // Orientation, SHORT, 1
    t.extend_from_slice(&0x0112u16.to_le_bytes());
    t.extend_from_slice(&3u16.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&orientation.to_le_bytes());
    t.extend_from_slice(&[0, 0]);
    // GPS IFD pointer, LONG, 1 → offset 38
    t.extend_from_slice(&0x8825u16.to_le_bytes());
    t.extend_from_slice(&4u16.to_le_bytes());
    t.extend_from_slice(&1u32.to_le_bytes());
    t.extend_from_slice(&38u32.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len(), 38);
    // GPS IFD: GPSLatitudeRef = "N"
    t.extend_from_slice(&1u16.to_le_bytes());
    t.extend_from_slice(&1u16.to_le_bytes());
    t.extend_from_slice(&2u16.to_le_bytes());
    t.extend_from_slice(&2u32.to_le_bytes());
    t.extend_from_slice(b"N\0\0\0");
    t.extend_from_slice(&0u32.to_le_bytes());
    t
}

/// `jpeg` with an APP1 Exif segment (orientation + GPS) and a COM segment inserted after
/// SOI, and a ZIP-looking tail after EOI.
pub(crate) fn jpeg_with_metadata(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend(exif_with_gps(orientation));
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    let comment = b"secret comment GPS 43.4674N";
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&((comment.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(comment);
    out.extend_from_slice(&jpeg[2..]);
    out.extend_from_slice(b"PK\x03\x04 trailing zip after EOI");
    out
}

/// `png` with tEXt and eXIf chunks after IHDR and HTML after IEND.
pub(crate) fn png_with_metadata(png: &[u8], orientation: u16) -> Vec<u8> {
    let ihdr_end = 8 + 12 + 13;
    let mut out = png[..ihdr_end].to_vec();
    out.extend(png_chunk(b"tEXt", b"Comment\0secret GPS 43.4674N"));
    out.extend(png_chunk(b"eXIf", &exif_with_gps(orientation)));
    out.extend_from_slice(&png[ihdr_end..]);
    out.extend_from_slice(b"<html><script>alert(1)</script>");
    out
}

/// PNG's chunk CRC: CRC-32 (IEEE) over the chunk type and data.
fn png_crc(kind: &[u8; 4], data: &[u8]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    crc.finalize()
}
