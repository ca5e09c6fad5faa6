//! Hand-made JPEGs for the decoder-cost suite (hostile_cost_decode.rs): real small files
//! from jpeg-encoder, then their headers edited, scans appended or entropy data replaced.

use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

/// A real `w`×`h` JPEG (a noisy gradient) from jpeg-encoder with its standard Huffman tables.
pub fn encoded(w: u16, h: u16, progressive: bool, sampling: SamplingFactor) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(usize::from(w) * usize::from(h) * 3);
    let mut seed = 0x2545_f491u32;
    for y in 0..u32::from(h) {
        for x in 0..u32::from(w) {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            let n = (seed & 31) as u8;
            rgb.extend_from_slice(&[
                (x * 200 / u32::from(w)) as u8 + n,
                (y * 200 / u32::from(h)) as u8 + n,
                128 + n,
            ]);
        }
    }
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, 90);
    enc.set_progressive(progressive);
    enc.set_sampling_factor(sampling);
    enc.encode(&rgb, w, h, ColorType::Rgb)
        .expect("jpeg-encoder");
    out
}

/// Offset of the first `FF marker` segment of one of `markers`.
pub fn find(jpeg: &[u8], markers: &[u8]) -> usize {
    let mut pos = 2;
    while pos + 4 <= jpeg.len() {
        let m = jpeg[pos + 1];
        if markers.contains(&m) {
            return pos;
        }
        let len = usize::from(u16::from_be_bytes([jpeg[pos + 2], jpeg[pos + 3]]));
        pos += 2 + len;
    }
    panic!("marker {markers:02X?} not found");
}

/// `jpeg` with its SOF claiming `w`×`h`.
pub fn with_size(mut jpeg: Vec<u8>, w: u16, h: u16) -> Vec<u8> {
    let sof = find(&jpeg, &[0xC0, 0xC1, 0xC2]);
    jpeg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    jpeg
}

/// One SOS segment with no entropy-coded data after it.
pub fn empty_scan(components: &[u8], ss: u8, se: u8, ah: u8, al: u8) -> Vec<u8> {
    let len = 6 + 2 * components.len() as u16;
    let mut s = vec![0xFF, 0xDA];
    s.extend_from_slice(&len.to_be_bytes());
    s.push(components.len() as u8);
    for &c in components {
        s.extend_from_slice(&[c, 0x00]);
    }
    s.extend_from_slice(&[ss, se, (ah << 4) | al]);
    s
}

/// `jpeg` with `n` copies of `scan` inserted before its EOI.
pub fn with_scans(mut jpeg: Vec<u8>, scan: &[u8], n: usize) -> Vec<u8> {
    assert_eq!(jpeg[jpeg.len() - 2..], [0xFF, 0xD9]);
    jpeg.truncate(jpeg.len() - 2);
    jpeg.reserve(scan.len() * n + 2);
    for _ in 0..n {
        jpeg.extend_from_slice(scan);
    }
    jpeg.extend_from_slice(&[0xFF, 0xD9]);
    jpeg
}

/// SOS segments in `jpeg`.
pub fn scan_count(jpeg: &[u8]) -> usize {
    jpeg.windows(2).filter(|w| w == &[0xFF, 0xDA]).count()
}

/// A valid baseline 4:2:0 JPEG of `w`×`h` flat gray blocks, built without encoding them:
/// the header of a small jpeg-encoder file (standard Annex K tables) and, per MCU, four
/// luma blocks "DC diff 0 (00), EOB (1010)" and two chroma blocks "00, EOB (00)": exactly
/// the four bytes 28 A2 8A 00. A 50 MP file is ~780 KB.
pub fn flat_baseline(w: u16, h: u16) -> Vec<u8> {
    let small = encoded(16, 16, false, SamplingFactor::R_4_2_0);
    let sos = find(&small, &[0xDA]);
    let sos_len = usize::from(u16::from_be_bytes([small[sos + 2], small[sos + 3]]));
    let mut out = with_size(small[..sos + 2 + sos_len].to_vec(), w, h);
    let mcus = usize::from(w).div_ceil(16) * usize::from(h).div_ceil(16);
    out.reserve(mcus * 4 + 2);
    for _ in 0..mcus {
        out.extend_from_slice(&[0x28, 0xA2, 0x8A, 0x00]);
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// A tiny progressive JPEG header of `nc` components (ids 1..=nc, sampling 1×1) claiming
/// `w`×`h`, with one DC scan of no data: the shape that makes jpeg-decoder allocate a
/// full-resolution coefficient plane per component (~200 bytes on disk).
pub fn progressive_header(w: u16, h: u16, nc: u8) -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    // DQT: table 0, all ones.
    j.extend_from_slice(&[0xFF, 0xDB, 0x00, 0x43, 0x00]);
    j.extend_from_slice(&[1; 64]);
    // SOF2
    j.extend_from_slice(&[0xFF, 0xC2]);
    j.extend_from_slice(&(8 + 3 * u16::from(nc)).to_be_bytes());
    j.push(8);
    j.extend_from_slice(&h.to_be_bytes());
    j.extend_from_slice(&w.to_be_bytes());
    j.push(nc);
    for id in 1..=nc {
        j.extend_from_slice(&[id, 0x11, 0]);
    }
    // DHT: DC table 0 with one 1-bit code for category 0.
    j.extend_from_slice(&[0xFF, 0xC4, 0x00, 0x14, 0x00, 1]);
    j.extend_from_slice(&[0; 15]);
    j.push(0);
    let ids: Vec<u8> = (1..=nc).collect();
    j.extend(empty_scan(&ids, 0, 0, 0, 0));
    j.extend_from_slice(&[0xFF, 0xD9]);
    j
}

/// `jpeg` with byte `at` of its first segment of `marker` (counted from the segment's
/// length field) set to `value`.
pub fn patch(mut jpeg: Vec<u8>, marker: u8, at: usize, value: u8) -> Vec<u8> {
    let seg = find(&jpeg, &[marker]);
    jpeg[seg + 2 + at] = value;
    jpeg
}

/// `jpeg` with byte `to` of its first `marker` segment set to its byte `from` (offsets as
/// in [`patch`]): e.g. a second component id made equal to the first.
pub fn copy_byte(jpeg: Vec<u8>, marker: u8, from: usize, to: usize) -> Vec<u8> {
    let value = jpeg[find(&jpeg, &[marker]) + 2 + from];
    patch(jpeg, marker, to, value)
}

/// The id of the first frame component (luma): jpeg-encoder numbers them from 0.
pub fn first_component(jpeg: &[u8]) -> u8 {
    jpeg[find(jpeg, &[0xC0, 0xC1, 0xC2]) + 2 + 8]
}
