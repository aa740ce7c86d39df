//! The byte-wise range coder of `spec/aez-format.md` section 4.
//!
//! 32-bit window, 16-bit table precision, carry propagated into the bytes already written, and the
//! shortest termination: the fewest final bytes that pin a value inside the last interval, then every
//! trailing zero byte dropped (the decoder reads zeros past the end). Measured against `constriction`'s
//! coders in the spec's table: about one byte per 32-symbol record smaller than the best of them.

use super::table::TableView;
use super::{DecodeError, SymbolTable, Q_MAX, Q_MIN, TOTAL};

const TOP: u64 = 1 << 32;
const BOT: u64 = 1 << 24;

/// Encodes values into a byte buffer (appending to it).
#[derive(Debug)]
pub struct RangeEncoder<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    low: u64,
    range: u64,
}

impl<'a> RangeEncoder<'a> {
    /// An encoder appending to `out`.
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        let start = out.len();
        RangeEncoder {
            out,
            start,
            low: 0,
            range: TOP,
        }
    }

    /// Adds 1 to the bytes written so far, read as one big-endian number.
    fn carry(&mut self) {
        for b in self.out[self.start..].iter_mut().rev() {
            if *b == 0xFF {
                *b = 0;
            } else {
                *b += 1;
                return;
            }
        }
        // Unreachable: the coded value stays below 1.0 (low + range never exceeds the initial 2^32), so a
        // carry always finds a byte below 0xFF. Nothing to do if it ever did not.
    }

    /// Codes the symbol `[c, c + f)` of a 16-bit distribution (`f >= 1`, `c + f <= 65536`).
    pub fn encode(&mut self, c: u32, f: u32) {
        let r = self.range >> 16;
        self.low += r * u64::from(c);
        self.range = r * u64::from(f);
        if self.low >= TOP {
            self.low -= TOP;
            self.carry();
        }
        while self.range < BOT {
            self.out.push((self.low >> 24) as u8);
            self.low = (self.low << 8) & (TOP - 1);
            self.range <<= 8;
        }
    }

    /// Codes `q` with table `t`: its symbol, or the escape and the two bytes of `q + 32768`.
    pub fn encode_value(&mut self, t: &SymbolTable, q: i32) {
        self.encode_view(t.view(), q)
    }

    /// [`RangeEncoder::encode_value`] with a borrowed table.
    pub(crate) fn encode_view(&mut self, t: TableView<'_>, q: i32) {
        match t.symbol_of(q) {
            Some((c, f)) => self.encode(c, f),
            None => {
                let (c, f) = t.escape();
                self.encode(c, f);
                let u = (q.clamp(Q_MIN, Q_MAX) - Q_MIN) as u32;
                self.encode((u >> 8) * 256, 256);
                self.encode((u & 0xFF) * 256, 256);
            }
        }
    }

    /// Writes the shortest termination and drops trailing zero bytes.
    pub fn finish(mut self) {
        for k in 0..=4u32 {
            let unit = 1u64 << (32 - 8 * k);
            let mut v = self.low.div_ceil(unit) * unit;
            if v < self.low + self.range {
                if v >= TOP {
                    v -= TOP;
                    self.carry();
                }
                for i in 0..k {
                    self.out.push((v >> (24 - 8 * i)) as u8);
                }
                break;
            }
        }
        while self.out.len() > self.start && self.out.last() == Some(&0) {
            self.out.pop();
        }
    }
}

/// Decodes values from a payload; reads zeros past its end.
#[derive(Debug)]
pub struct RangeDecoder<'a> {
    data: &'a [u8],
    pos: usize,
    code: u64,
    range: u64,
}

impl<'a> RangeDecoder<'a> {
    /// A decoder over one payload.
    pub fn new(data: &'a [u8]) -> Self {
        let mut d = RangeDecoder {
            data,
            pos: 0,
            code: 0,
            range: TOP,
        };
        for _ in 0..4 {
            d.code = (d.code << 8) | u64::from(d.next_byte());
        }
        d
    }

    fn next_byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos = self.pos.saturating_add(1);
        b
    }

    /// The target `x` in `0..65536` of the next symbol.
    fn target(&self) -> Result<u32, DecodeError> {
        let r = self.range >> 16;
        let x = self.code / r.max(1);
        if x >= u64::from(TOTAL) {
            return Err(DecodeError(
                "payload is not a valid range code (value beyond the last symbol)".into(),
            ));
        }
        Ok(x as u32)
    }

    /// Consumes the symbol `[c, c + f)`.
    fn consume(&mut self, c: u32, f: u32) {
        let r = self.range >> 16;
        self.code -= r * u64::from(c);
        self.range = r * u64::from(f);
        while self.range < BOT {
            self.code = ((self.code << 8) | u64::from(self.next_byte())) & (TOP - 1);
            self.range <<= 8;
        }
    }

    /// Decodes one value with table `t`.
    pub fn decode_value(&mut self, t: &SymbolTable) -> Result<i32, DecodeError> {
        self.decode_view(t.view())
    }

    /// [`RangeDecoder::decode_value`] with a borrowed table.
    pub(crate) fn decode_view(&mut self, t: TableView<'_>) -> Result<i32, DecodeError> {
        let x = self.target()?;
        let (s, c, f) = t.lookup(x);
        self.consume(c, f);
        if s < t.len() {
            return Ok(t.min + s as i32);
        }
        let mut u = 0u32;
        for _ in 0..2 {
            let b = self.target()? >> 8;
            self.consume(b * 256, 256);
            u = (u << 8) | b;
        }
        let q = u as i32 + Q_MIN;
        if t.symbol_of(q).is_some() {
            return Err(DecodeError(format!(
                "escaped value {q} lies in the table's range {}..={} (non-canonical)",
                t.min,
                t.min + t.len() as i32 - 1
            )));
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{lcg, random_table};
    use super::*;

    fn encode_all(tables: &[SymbolTable], q: &[i32]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut e = RangeEncoder::new(&mut out);
        for (t, &v) in tables.iter().zip(q) {
            e.encode_value(t, v);
        }
        e.finish();
        out
    }

    #[test]
    fn single_symbol_streams() {
        // One table where symbol 0 has cum 0: coding it from the start gives an empty payload.
        let t = SymbolTable::new(5, &[60000, 5535], 1).unwrap();
        let mut out = Vec::new();
        let mut e = RangeEncoder::new(&mut out);
        e.encode_value(&t, 5);
        e.finish();
        assert!(out.is_empty());
        let mut d = RangeDecoder::new(&out);
        assert_eq!(d.decode_value(&t), Ok(5));
    }

    #[test]
    fn near_entropy_on_skewed_tables() {
        let mut seed = 3u64;
        let tables: Vec<SymbolTable> = (0..32).map(|_| random_table(&mut seed, 20)).collect();
        let (mut bits, mut bytes) = (0f64, 0usize);
        for _ in 0..2000 {
            let q: Vec<i32> = tables
                .iter()
                .map(|t| {
                    // Draw from the table's own distribution.
                    let x = (lcg(&mut seed) % 65536) as u32;
                    let (s, _, f) = t.lookup(x);
                    bits -= (f64::from(f) / 65536.0).log2();
                    if s < t.len() {
                        t.min() + s as i32
                    } else {
                        t.min() - 1000
                    }
                })
                .collect();
            let out = encode_all(&tables, &q);
            bytes += out.len();
            // Escapes cost 16 raw bits beyond the escape symbol's information.
            bits += 16.0
                * q.iter()
                    .zip(&tables)
                    .filter(|(&v, t)| t.symbol_of(v).is_none())
                    .count() as f64;
        }
        let over = bytes as f64 / 2000.0 - bits / 8.0 / 2000.0;
        assert!(
            over < 0.6,
            "range coder overhead {over} bytes/record over the information content"
        );
    }

    #[test]
    fn carries_propagate_through_ff_runs() {
        // Tables that put almost all mass on the last symbol push `low` up and make long 0xff runs.
        let t = SymbolTable::new(0, &[1, 65534], 1).unwrap();
        let tables = vec![t; 200];
        let mut seed = 11u64;
        for _ in 0..500 {
            let q: Vec<i32> = (0..200)
                .map(|_| {
                    if lcg(&mut seed).is_multiple_of(50) {
                        0
                    } else {
                        1
                    }
                })
                .collect();
            let out = encode_all(&tables, &q);
            let mut d = RangeDecoder::new(&out);
            let back: Vec<i32> = tables.iter().map(|t| d.decode_value(t).unwrap()).collect();
            assert_eq!(back, q);
        }
    }
}

#[cfg(test)]
mod vector {
    use super::*;

    /// The spec's test vector (section 4): two tables, values including an escape.
    #[test]
    fn spec_test_vector() {
        let a = SymbolTable::new(-1, &[16384, 32768, 16383], 1).unwrap();
        let b = SymbolTable::new(0, &[60000, 5000], 536).unwrap();
        let tables = [a.clone(), b.clone(), a, b];
        let q = [0, 1, -1, 300];
        let mut out = Vec::new();
        let mut e = RangeEncoder::new(&mut out);
        for (t, &v) in tables.iter().zip(&q) {
            e.encode_value(t, v);
        }
        e.finish();
        assert_eq!(out, VECTOR);
        let mut d = RangeDecoder::new(&out);
        let back: Vec<i32> = tables.iter().map(|t| d.decode_value(t).unwrap()).collect();
        assert_eq!(back, q);
    }

    const VECTOR: &[u8] = &[0xb7, 0x9e, 0x77, 0x65];
}
