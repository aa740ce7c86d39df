//! The record head (spec 2.2): a payload length whose every single-bit flip is detected.
//!
//! One byte `h` with even parity; `v = h & 0x7f`: 0 is the end marker, 1..=126 a payload length, 127
//! (`h = 0xff`) announces `u32 n, u32 !n`.

use super::consts::{END_MARKER, HEAD_EXTENDED, HEAD_EXTENDED_LEN, HEAD_SHORT_MAX};
use crate::error::FormatError;

/// What a head byte says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// The end marker (batch streams).
    End,
    /// A payload of this many bytes follows.
    Len(u32),
    /// An extended length follows (8 more bytes, see [`parse_extended`]).
    Extended,
}

/// Appends the head of a payload of `n` bytes.
pub fn write(n: u32, out: &mut Vec<u8>) {
    if (1..=HEAD_SHORT_MAX as u32).contains(&n) {
        out.push(with_parity(n as u8));
    } else {
        out.push(HEAD_EXTENDED);
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(!n).to_le_bytes());
    }
}

/// The byte `v | parity(v) << 7`, with an even number of one bits.
pub fn with_parity(v: u8) -> u8 {
    let v = v & 0x7f;
    v | (((v.count_ones() & 1) as u8) << 7)
}

/// Reads a head byte.
pub fn parse(h: u8) -> Result<Head, FormatError> {
    if !h.count_ones().is_multiple_of(2) {
        return Err(FormatError::HeadParity { byte: h });
    }
    Ok(match h {
        END_MARKER => Head::End,
        HEAD_EXTENDED => Head::Extended,
        _ => Head::Len(u32::from(h & 0x7f)),
    })
}

/// Reads the 8 bytes after [`HEAD_EXTENDED`]: `n` and its complement.
pub fn parse_extended(b: &[u8; HEAD_EXTENDED_LEN - 1]) -> Result<u32, FormatError> {
    let n = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let not_n = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    if n != !not_n {
        return Err(FormatError::LengthComplement {
            length: n,
            complement: not_n,
        });
    }
    if (1..=HEAD_SHORT_MAX as u32).contains(&n) {
        return Err(FormatError::NonCanonicalLength { length: n });
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_short_head_round_trips_and_every_bit_flip_is_caught() {
        for n in 1..=HEAD_SHORT_MAX as u32 {
            let mut b = Vec::new();
            write(n, &mut b);
            assert_eq!(b.len(), 1);
            assert_eq!(parse(b[0]), Ok(Head::Len(n)));
            for bit in 0..8 {
                assert!(parse(b[0] ^ (1 << bit)).is_err(), "n={n} bit={bit}");
            }
        }
        for bit in 0..8 {
            assert!(parse(END_MARKER ^ (1 << bit)).is_err());
            assert!(parse(HEAD_EXTENDED ^ (1 << bit)).is_err());
        }
    }

    #[test]
    fn spec_vectors() {
        let enc = |n: u32| {
            let mut b = Vec::new();
            write(n, &mut b);
            b
        };
        assert_eq!(enc(20), [0x14]);
        assert_eq!(enc(21), [0x95]);
        assert_eq!(enc(126), [0x7e]);
        assert_eq!(enc(0), [0xff, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(enc(127), [0xff, 0x7f, 0, 0, 0, 0x80, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn extended_heads() {
        for n in [0u32, 127, 128, 65536, u32::MAX] {
            let mut b = Vec::new();
            write(n, &mut b);
            assert_eq!(b.len(), HEAD_EXTENDED_LEN);
            assert_eq!(parse(b[0]), Ok(Head::Extended));
            let rest: [u8; 8] = b[1..].try_into().unwrap();
            assert_eq!(parse_extended(&rest), Ok(n));
            for bit in 0..64 {
                let mut r = rest;
                r[bit / 8] ^= 1 << (bit % 8);
                assert!(parse_extended(&r).is_err(), "n={n} bit={bit}");
            }
        }
        let mut r = [0u8; 8];
        r[..4].copy_from_slice(&5u32.to_le_bytes());
        r[4..].copy_from_slice(&(!5u32).to_le_bytes());
        assert!(parse_extended(&r)
            .unwrap_err()
            .to_string()
            .contains("non-canonical"));
    }
}
