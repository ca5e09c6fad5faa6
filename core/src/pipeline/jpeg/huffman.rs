//! Huffman tables and the entropy-coded bit reader.

use super::{no, Unsupported, R};

/// Bits looked up at once. 11: a 2048-entry table catches code + value of nearly every AC
/// coefficient of a high-quality photo in one lookup (9 missed about one in five).
pub(super) const LOOKAHEAD: u32 = 11;

pub(super) struct Huffman {
    /// Indexed by the next 9 bits: (code length, symbol); length 0: longer code.
    pub(super) fast: Box<[(u8, u8); 1 << LOOKAHEAD]>,
    /// AC only: (value << 8) | (run << 4) | total bits, when code + value fit in the
    /// lookahead; 0: not in the table.
    pub(super) fast_ac: Box<[i32; 1 << LOOKAHEAD]>,
    pub(super) maxcode: [i32; 18],
    pub(super) valoffset: [i32; 17],
    pub(super) values: Vec<u8>,
}

impl Huffman {
    pub(super) fn new(counts: &[u8; 16], values: &[u8], ac: bool) -> R<Huffman> {
        let mut fast = Box::new([(0u8, 0u8); 1 << LOOKAHEAD]);
        let mut maxcode = [-1i32; 18];
        let mut valoffset = [0i32; 17];
        let mut code: i32 = 0;
        let mut k: usize = 0;
        for len in 1..=16usize {
            let n = counts[len - 1] as usize;
            valoffset[len] = k as i32 - code;
            for _ in 0..n {
                if code >= (1 << len) {
                    return no("bad Huffman table");
                }
                if len as u32 <= LOOKAHEAD {
                    let shift = LOOKAHEAD - len as u32;
                    let base = (code as usize) << shift;
                    for e in &mut fast[base..base + (1 << shift)] {
                        *e = (len as u8, values[k]);
                    }
                }
                code += 1;
                k += 1;
            }
            if n > 0 {
                maxcode[len] = code - 1;
            }
            code <<= 1;
        }
        maxcode[17] = i32::MAX;
        let mut fast_ac = Box::new([0i32; 1 << LOOKAHEAD]);
        if ac {
            for (i, slot) in fast_ac.iter_mut().enumerate() {
                let (len, rs) = fast[i];
                let (run, size) = (u32::from(rs >> 4), u32::from(rs & 15));
                let len = u32::from(len);
                if len == 0 || len + size > LOOKAHEAD || (size == 0 && run != 0 && run != 15) {
                    continue;
                }
                // EOB (0/0) and ZRL (15/0) fit the same form with value 0: EOB is the one
                // entry with run and value both 0; ZRL writes a zero 15 places on, which is
                // what skipping 16 zeros means.
                let bits = ((i as u32) >> (LOOKAHEAD - len - size)) & ((1 << size) - 1);
                let value = extend(bits, size);
                *slot = (value << 8) | (run << 4) as i32 | (len + size) as i32;
            }
        }
        Ok(Huffman {
            fast,
            fast_ac,
            maxcode,
            valoffset,
            values: values.to_vec(),
        })
    }
}

#[inline(always)]
pub(super) fn extend(v: u32, s: u32) -> i32 {
    if s == 0 {
        0
    } else if v < (1 << (s - 1)) {
        v as i32 - (1 << s) + 1
    } else {
        v as i32
    }
}

/// Entropy-coded data: a left-aligned 64-bit buffer, byte stuffing removed, zeros fed
/// after a marker or the end (as libjpeg does with a truncated file).
#[derive(Clone, Copy)]
pub(super) struct Bits<'a> {
    pub(super) data: &'a [u8],
    pub(super) pos: usize,
    pub(super) acc: u64,
    pub(super) n: u32,
}

impl<'a> Bits<'a> {
    pub(super) fn new(data: &'a [u8], pos: usize) -> Self {
        Bits {
            data,
            pos,
            acc: 0,
            n: 0,
        }
    }

    #[inline(always)]
    pub(super) fn refill(&mut self) {
        // Fast path: the next 8 bytes hold no 0xFF, take as many whole bytes as fit.
        if let Some(chunk) = self.data.get(self.pos..self.pos + 8) {
            let x = u64::from_be_bytes(chunk.try_into().unwrap_or([0xFF; 8]));
            let inv = !x;
            let has_ff = inv.wrapping_sub(0x0101_0101_0101_0101) & !inv & 0x8080_8080_8080_8080;
            if has_ff == 0 {
                let take = (63 - self.n) / 8;
                self.acc |= (x >> (64 - 8 * take)) << (64 - 8 * take - self.n);
                self.pos += take as usize;
                self.n += 8 * take;
                return;
            }
        }
        while self.n <= 56 {
            let mut b = 0u8;
            if let Some(&x) = self.data.get(self.pos) {
                if x != 0xFF {
                    b = x;
                    self.pos += 1;
                } else if self.data.get(self.pos + 1) == Some(&0) {
                    b = 0xFF;
                    self.pos += 2;
                }
                // Else a marker: stay before it and feed zeros.
            }
            self.acc |= u64::from(b) << (56 - self.n);
            self.n += 8;
        }
    }

    #[inline(always)]
    pub(super) fn peek(&self, bits: u32) -> u32 {
        (self.acc >> (64 - bits)) as u32
    }

    #[inline(always)]
    pub(super) fn consume(&mut self, bits: u32) {
        self.acc <<= bits;
        self.n -= bits;
    }

    #[inline(always)]
    pub(super) fn get(&mut self, bits: u32) -> u32 {
        if bits == 0 {
            return 0;
        }
        if self.n < bits {
            self.refill();
        }
        let v = self.peek(bits);
        self.consume(bits);
        v
    }

    #[inline(always)]
    pub(super) fn bit(&mut self) -> bool {
        self.get(1) != 0
    }

    #[inline(always)]
    pub(super) fn receive_extend(&mut self, s: u32) -> i32 {
        let v = self.get(s);
        extend(v, s)
    }

    #[inline(always)]
    pub(super) fn decode(&mut self, h: &Huffman) -> R<u8> {
        if self.n < 16 {
            self.refill();
        }
        self.symbol(h)
    }

    /// [`Bits::decode`] without the refill: the caller keeps at least 32 bits buffered.
    #[inline(always)]
    pub(super) fn symbol(&mut self, h: &Huffman) -> R<u8> {
        let (len, sym) = h.fast[self.peek(LOOKAHEAD) as usize];
        if len > 0 {
            self.consume(u32::from(len));
            return Ok(sym);
        }
        self.decode_long(h)
    }

    /// One bit right after a symbol; no refill, as above.
    #[inline(always)]
    pub(super) fn value_bit(&mut self) -> bool {
        let b = self.peek(1) != 0;
        self.consume(1);
        b
    }

    /// The `s`-bit value after a symbol (`s` ≥ 1), sign-extended; no refill, as above.
    #[inline(always)]
    pub(super) fn value(&mut self, s: u32) -> i32 {
        if s == 0 {
            return 0;
        }
        let v = self.peek(s);
        self.consume(s);
        extend(v, s)
    }

    #[cold]
    pub(super) fn decode_long(&mut self, h: &Huffman) -> R<u8> {
        for len in LOOKAHEAD + 1..=16 {
            let code = self.peek(len) as i32;
            if code <= h.maxcode[len as usize] {
                self.consume(len);
                let i = (h.valoffset[len as usize] + code) as usize;
                return h
                    .values
                    .get(i)
                    .copied()
                    .ok_or(Unsupported("bad Huffman code"));
            }
        }
        no("bad Huffman code")
    }

    /// At a restart interval: drop the buffered bits and step over an RSTn marker.
    pub(super) fn restart(&mut self) {
        self.acc = 0;
        self.n = 0;
        // Normally the reader stands right at the RSTn; skip stray bytes up to it, but never
        // past another marker.
        while let Some(&x) = self.data.get(self.pos) {
            match (x, self.data.get(self.pos + 1)) {
                (0xFF, Some(0xD0..=0xD7)) => {
                    self.pos += 2;
                    return;
                }
                (0xFF, Some(0)) => self.pos += 2,
                (0xFF, _) => return,
                _ => self.pos += 1,
            }
        }
    }

    /// After a scan: the position of the next marker.
    pub(super) fn end(&self) -> usize {
        let mut p = self.pos;
        while p + 1 < self.data.len()
            && (self.data[p] != 0xFF || matches!(self.data[p + 1], 0 | 0xD0..=0xD7))
        {
            p += 1;
        }
        p
    }
}
