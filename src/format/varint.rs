//! The varints of the image descriptor (spec 11.2): unsigned LEB128, canonical, at most 5 bytes, `u32`.

use super::consts::VARINT_MAX_LEN;
use super::desc::{range, short};
use super::header::FieldError;
use crate::error::FormatError;

/// Appends `v` as an unsigned LEB128 varint (7 bits per byte, least significant first), 1 to 5 bytes.
pub fn write_varint(mut v: u32, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes of `v` as a varint.
pub fn varint_len(v: u32) -> usize {
    match v {
        0..=0x7f => 1,
        0x80..=0x3fff => 2,
        0x4000..=0x1f_ffff => 3,
        0x20_0000..=0xfff_ffff => 4,
        _ => 5,
    }
}

/// Reads a canonical varint of at most 5 bytes whose value fits a `u32`, at `*p`; moves `*p` past it.
pub fn varint(b: &[u8], p: &mut usize, field: &'static str) -> Result<u32, FieldError> {
    let start = *p;
    let mut v: u64 = 0;
    for i in 0..VARINT_MAX_LEN {
        let byte = *b.get(start + i).ok_or_else(|| short(start + i, field))?;
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return Err(FieldError {
                    offset: start,
                    what: FormatError::NonCanonicalVarint { field },
                });
            }
            if v > u64::from(u32::MAX) {
                return Err(range(
                    start,
                    field,
                    v,
                    "a u32",
                    &format!("{field} {v} is over 2^32 - 1"),
                ));
            }
            *p = start + i + 1;
            return Ok(v as u32);
        }
    }
    Err(range(
        start,
        field,
        v,
        "a varint of at most 5 bytes",
        &format!("the varint of {field} is longer than {VARINT_MAX_LEN} bytes"),
    ))
}
