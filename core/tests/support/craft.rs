//! Hostile files built here, byte by byte where the point is a lie (PNG chunks and zlib
//! streams, GIF screens and frames, JPEGs with lying headers, EXIF with GPS, ZIP
//! polyglots), and the parsers the suites check outputs with. JPEG scans and markers
//! edited in depth are in `jpeg_craft`.

pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 12);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    out.extend_from_slice(&png_crc(kind, data).to_be_bytes());
    out
}

pub const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Signature + IHDR (8-bit, `color_type`: 0 gray, 2 RGB, 6 RGBA).
pub fn png_head(w: u32, h: u32, color_type: u8) -> Vec<u8> {
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, color_type, 0, 0, 0]);
    let mut out = PNG_MAGIC.to_vec();
    out.extend(png_chunk(b"IHDR", &ihdr));
    out
}

fn channels(color_type: u8) -> u64 {
    match color_type {
        0 => 1,
        2 => 3,
        4 => 2,
        6 => 4,
        _ => 1,
    }
}

/// A complete, valid PNG of `w`×`h` black (zero) pixels: its IDAT inflates to
/// h × (1 + w × channels) bytes but is ~1/159 of that on disk.
pub fn png_zeros(w: u32, h: u32, color_type: u8) -> Vec<u8> {
    let raw = u64::from(h) * (1 + u64::from(w) * channels(color_type));
    let mut out = png_head(w, h, color_type);
    out.extend(png_chunk(b"IDAT", &zlib_zeros(raw)));
    out.extend(png_chunk(b"IEND", b""));
    out
}

/// A valid 1×1 gray PNG with an extra chunk `kind` of `data` before the IDAT.
pub fn png_1x1_with(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = png_head(1, 1, 0);
    out.extend(png_chunk(kind, data));
    out.extend(png_chunk(b"IDAT", &zlib_zeros(2)));
    out.extend(png_chunk(b"IEND", b""));
    out
}

/// iCCP whose profile inflates to `inflated` zero bytes.
pub fn png_iccp_bomb(inflated: u64) -> Vec<u8> {
    let mut data = b"bomb\0\0".to_vec();
    data.extend(zlib_zeros(inflated));
    png_1x1_with(b"iCCP", &data)
}

/// zTXt whose text inflates to `inflated` zero bytes.
pub fn png_ztxt_bomb(inflated: u64) -> Vec<u8> {
    let mut data = b"Comment\0\0".to_vec();
    data.extend(zlib_zeros(inflated));
    png_1x1_with(b"zTXt", &data)
}

/// Compressed iTXt whose text inflates to `inflated` zero bytes.
pub fn png_itxt_bomb(inflated: u64) -> Vec<u8> {
    // keyword \0, compression flag 1, method 0, language \0, translated keyword \0.
    let mut data = b"Comment\0\x01\0\0\0".to_vec();
    data.extend(zlib_zeros(inflated));
    png_1x1_with(b"iTXt", &data)
}

/// LSB-first bit writer for DEFLATE.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        self.acc |= u64::from(value) << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code: most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        let mut rev = 0;
        for i in 0..len {
            rev |= ((code >> i) & 1) << (len - 1 - i);
        }
        self.put(rev, len);
    }
}

/// A zlib stream of `n` zero bytes: one fixed-Huffman block, a literal 0 then
/// length-258/distance-1 copies (13 bits per 258 bytes, ratio ~159:1).
pub fn zlib_zeros(n: u64) -> Vec<u8> {
    let mut bits = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        n: 0,
    };
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // BTYPE = 01, fixed Huffman
    let mut left = n;
    if left > 0 {
        bits.code(0x30, 8); // literal 0
        left -= 1;
    }
    // The 13-bit copy, pre-reversed: length code 285 (8 bits 11000101), distance code 0.
    let copy = {
        let mut rev = 0u32;
        for i in 0..8 {
            rev |= ((0b1100_0101 >> i) & 1) << (7 - i);
        }
        rev
    };
    while left >= 258 {
        bits.put(copy, 13);
        left -= 258;
    }
    for _ in 0..left {
        bits.code(0x30, 8);
    }
    bits.code(0, 7); // end of block
    let mut out = bits.out;
    if bits.n > 0 {
        out.push(bits.acc as u8);
    }
    let adler = (((n % 65521) as u32) << 16) | 1;
    out.extend_from_slice(&adler.to_be_bytes());
    out
}

/// A GIF89a with a 2-colour palette, a `sw`×`sh` logical screen and `frames` image
/// descriptors of `fw`×`fh` each holding one pixel of LZW data (clear, 0, end).
pub fn gif(sw: u16, sh: u16, fw: u16, fh: u16, frames: usize) -> Vec<u8> {
    let mut out = b"GIF89a".to_vec();
    out.extend_from_slice(&sw.to_le_bytes());
    out.extend_from_slice(&sh.to_le_bytes());
    out.extend_from_slice(&[0x80, 0, 0]); // global colour table of 2 entries
    out.extend_from_slice(&[0, 0, 0, 255, 255, 255]);
    for _ in 0..frames {
        out.extend_from_slice(&[0x21, 0xF9, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00]); // GCE, 10 ms
        out.push(0x2C);
        out.extend_from_slice(&[0, 0, 0, 0]);
        out.extend_from_slice(&fw.to_le_bytes());
        out.extend_from_slice(&fh.to_le_bytes());
        out.push(0);
        // LZW minimum code size 2; codes clear(4), 0, end(5) in 3 bits each.
        out.extend_from_slice(&[0x02, 0x02, 0x44, 0x01, 0x00]);
    }
    out.push(0x3B);
    out
}

/// A real animated GIF from the `gif` encoder: `frames` frames of `w`×`h`, a 4-colour
/// palette, stripes that move by one pixel per frame.
pub fn gif_frames(w: u16, h: u16, frames: usize) -> Vec<u8> {
    let palette = [0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 255, 255];
    let mut out = Vec::new();
    {
        let mut enc = gif::Encoder::new(&mut out, w, h, &palette).unwrap();
        for f in 0..frames {
            let px: Vec<u8> = (0..usize::from(w) * usize::from(h))
                .map(|i| (((i % usize::from(w)) + f) / 4 % 4) as u8)
                .collect();
            let mut frame = gif::Frame::from_indexed_pixels(w, h, px, None);
            frame.delay = 1;
            enc.write_frame(&frame).unwrap();
        }
    }
    out
}

/// A small real JPEG (a gradient), from the `image` encoder.
pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w.max(1)) as u8, (y * 255 / h.max(1)) as u8, 128])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode_image(&img)
        .unwrap();
    out
}

/// A small real PNG (a gradient, RGB).
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x * 255 / w.max(1)) as u8, 64, (y * 255 / h.max(1)) as u8])
    });
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

/// A complete small JPEG whose SOF claims `w`×`h` (the scan data is that of 16×16).
pub fn jpeg_sof_lie(w: u16, h: u16) -> Vec<u8> {
    let mut j = jpeg(16, 16);
    let sof = j
        .windows(2)
        .position(|m| m[0] == 0xFF && (m[1] == 0xC0 || m[1] == 0xC2))
        .expect("SOF");
    // FF C0, length (2), precision (1), height (2), width (2).
    j[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    j[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    j
}

/// A TIFF (EXIF) block, little-endian, with Orientation 1 and a GPS IFD at N 43°28'2.63"
/// (the coordinates of the ianare sample).
pub fn exif_with_gps() -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    // IFD0 at 8: two entries.
    t.extend_from_slice(&2u16.to_le_bytes());
    // Orientation (0x0112) SHORT 1 = 1.
    t.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
    // GPS IFD pointer (0x8825) LONG 1 -> 38.
    t.extend_from_slice(&[0x25, 0x88, 4, 0, 1, 0, 0, 0]);
    t.extend_from_slice(&38u32.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len(), 38);
    // GPS IFD at 38: LatitudeRef "N", Latitude 3 RATIONALs at 68.
    t.extend_from_slice(&2u16.to_le_bytes());
    t.extend_from_slice(&[0x01, 0x00, 2, 0, 2, 0, 0, 0, b'N', 0, 0, 0]);
    t.extend_from_slice(&[0x02, 0x00, 5, 0, 3, 0, 0, 0]);
    t.extend_from_slice(&68u32.to_le_bytes());
    t.extend_from_slice(&0u32.to_le_bytes());
    assert_eq!(t.len(), 68);
    for (n, d) in [(43u32, 1u32), (28, 1), (263, 100)] {
        t.extend_from_slice(&n.to_le_bytes());
        t.extend_from_slice(&d.to_le_bytes());
    }
    t
}

/// `jpeg` with an APP1 Exif segment (GPS included) and a COM segment right after SOI.
pub fn jpeg_with_gps(jpeg: &[u8]) -> Vec<u8> {
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(exif_with_gps());
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend(payload);
    let com = b"GPS 43.4674N 11.8851E";
    out.extend_from_slice(&[0xFF, 0xFE]);
    out.extend_from_slice(&((com.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(com);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// `png` with an eXIf chunk (GPS included) and a tEXt chunk right after IHDR.
pub fn png_with_gps(png: &[u8]) -> Vec<u8> {
    let ihdr_end = 8 + 25;
    let mut out = png[..ihdr_end].to_vec();
    out.extend(png_chunk(b"eXIf", &exif_with_gps()));
    out.extend(png_chunk(b"tEXt", b"GPS\x0043.4674N 11.8851E"));
    out.extend_from_slice(&png[ihdr_end..]);
    out
}

/// A minimal ZIP archive (one stored file) for JPEG+ZIP polyglots.
pub fn zip_archive() -> Vec<u8> {
    let name = b"evil.class";
    let data = b"CAFEBABE payload";
    let crc = crc32fast::hash(data);
    let mut z = b"PK\x03\x04".to_vec();
    z.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    z.extend_from_slice(&crc.to_le_bytes());
    z.extend_from_slice(&(data.len() as u32).to_le_bytes());
    z.extend_from_slice(&(data.len() as u32).to_le_bytes());
    z.extend_from_slice(&(name.len() as u16).to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z.extend_from_slice(name);
    z.extend_from_slice(data);
    let cd_start = z.len() as u32;
    z.extend_from_slice(b"PK\x01\x02");
    z.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    z.extend_from_slice(&crc.to_le_bytes());
    z.extend_from_slice(&(data.len() as u32).to_le_bytes());
    z.extend_from_slice(&(data.len() as u32).to_le_bytes());
    z.extend_from_slice(&(name.len() as u16).to_le_bytes());
    z.extend_from_slice(&[0; 12]);
    z.extend_from_slice(&0u32.to_le_bytes());
    z.extend_from_slice(name);
    let cd_len = z.len() as u32 - cd_start;
    z.extend_from_slice(b"PK\x05\x06");
    z.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    z.extend_from_slice(&cd_len.to_le_bytes());
    z.extend_from_slice(&cd_start.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    z
}

/// The chunks of a PNG, or `None` if the structure is broken. The last one is IEND and
/// the file ends exactly there when `Some` is returned.
pub fn png_chunks(b: &[u8]) -> Option<Vec<([u8; 4], Vec<u8>)>> {
    let mut rest = b.strip_prefix(PNG_MAGIC)?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize;
        let kind: [u8; 4] = rest.get(4..8)?.try_into().ok()?;
        let data = rest.get(8..8 + len)?.to_vec();
        rest = rest.get(12 + len..)?;
        out.push((kind, data));
        if &kind == b"IEND" {
            return rest.is_empty().then_some(out);
        }
    }
    None
}

/// The markers of a JPEG up to EOI, or `None` if the structure is broken or anything
/// follows EOI.
pub fn jpeg_markers(b: &[u8]) -> Option<Vec<u8>> {
    if !b.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut i = 2;
    let mut markers = vec![0xD8];
    loop {
        if *b.get(i)? != 0xFF {
            return None;
        }
        let m = *b.get(i + 1)?;
        markers.push(m);
        if m == 0xD9 {
            return (i + 2 == b.len()).then_some(markers);
        }
        let len = u16::from_be_bytes([*b.get(i + 2)?, *b.get(i + 3)?]) as usize;
        i += 2 + len;
        if m == 0xDA {
            // Entropy-coded data: skip to the next marker that is not RST or stuffing.
            while b.get(i)? != &0xFF || matches!(b.get(i + 1)?, 0x00 | 0xD0..=0xD7) {
                i += 1;
            }
        }
    }
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// PNG's chunk CRC: CRC-32 (IEEE) over the chunk type and data.
fn png_crc(kind: &[u8; 4], data: &[u8]) -> u32 {
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    crc.finalize()
}
