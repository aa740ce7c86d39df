//! Entropy coding: the integer symbols `q` of one image <-> the payload bytes of one record.
//!
//! Two coders, recorded in every stream's header by id (`spec/aez-format.md` sections 4 and 5):
//! [`Coder::Range`], a byte-wise range coder driven by the model's 16-bit tables (the default), and
//! [`Coder::Zstd`], a general-purpose baseline that needs no table. Both decoders accept any bytes without
//! panicking and reject payloads that are not exactly what their encoder writes.

mod range;
mod sets;
mod table;
mod zstd_coder;

pub use range::{RangeDecoder, RangeEncoder};
pub use sets::{decode_with_sets, encode_with_sets, SetTables};
pub use table::SymbolTable;

use crate::format::consts::{CODER_RANGE, CODER_ZSTD};
use crate::layout::LatentShape;

/// The lowest and highest quantized value (`i16`).
pub const Q_MIN: i32 = -32768;
/// See [`Q_MIN`].
pub const Q_MAX: i32 = 32767;
/// The sum of every table's frequencies plus its escape.
pub const TOTAL: u32 = 1 << 16;

/// An entropy coder, as recorded in the stream's flags byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Coder {
    /// Range coder over the model's integer tables (id 0, spec section 4).
    #[default]
    Range,
    /// zstd over zigzag varints (id 1, spec section 5).
    Zstd,
}

impl Coder {
    /// Every coder, in id order.
    pub const ALL: [Coder; 2] = [Coder::Range, Coder::Zstd];

    /// The id stored in the flags byte.
    pub fn id(self) -> u8 {
        match self {
            Coder::Range => CODER_RANGE,
            Coder::Zstd => CODER_ZSTD,
        }
    }

    /// The coder of an id, `None` for unknown ids.
    pub fn from_id(id: u8) -> Option<Coder> {
        match id {
            CODER_RANGE => Some(Coder::Range),
            CODER_ZSTD => Some(Coder::Zstd),
            _ => None,
        }
    }

    /// The name used on the command line and by `aez info`: `range` or `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Coder::Range => "range",
            Coder::Zstd => "zstd",
        }
    }
}

impl std::fmt::Display for Coder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Coder {
    type Err = crate::Error;

    /// `range` (also `ans`, `default`) or `zstd`.
    fn from_str(s: &str) -> crate::Result<Coder> {
        match s.to_ascii_lowercase().as_str() {
            "range" | "ans" | "default" => Ok(Coder::Range),
            "zstd" => Ok(Coder::Zstd),
            _ => Err(crate::Error::InvalidArgument {
                what: "coder",
                value: s.to_string(),
                expected: "range or zstd".into(),
            }),
        }
    }
}

/// An entropy decoding failure: what is wrong with the payload (the caller adds the location).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Encodes one image's values `q` with one table per value (a latent of shape `[K, 1, 1]`): see
/// [`encode_latent`].
pub fn encode_symbols(
    coder: Coder,
    tables: &[SymbolTable],
    q: &[i32],
    out: &mut Vec<u8>,
) -> crate::Result<()> {
    encode_latent(coder, tables, one_per_table(tables), q, out)
}

/// Decodes one payload with one table per value (a latent of shape `[K, 1, 1]`): see [`decode_latent`].
pub fn decode_symbols(
    coder: Coder,
    tables: &[SymbolTable],
    payload: &[u8],
    out: &mut Vec<i32>,
) -> Result<(), DecodeError> {
    decode_latent(coder, tables, one_per_table(tables), payload, out)
}

fn one_per_table(tables: &[SymbolTable]) -> LatentShape {
    LatentShape {
        channels: tables.len() as u32,
        height: 1,
        width: 1,
    }
}

/// The table of each element of a latent of `shape`, in coding order.
fn tables_in_order<'t>(
    tables: &'t [SymbolTable],
    shape: LatentShape,
) -> impl Iterator<Item = &'t SymbolTable> + 't {
    let p = shape.positions();
    tables
        .iter()
        .take(shape.channels as usize)
        .flat_map(move |t| std::iter::repeat_n(t, p))
}

/// The tables of `count` latents of `shape`, one after the other, in coding order.
fn repeated<'t>(
    tables: &'t [SymbolTable],
    shape: LatentShape,
    count: usize,
) -> impl Iterator<Item = &'t SymbolTable> + 't {
    (0..count).flat_map(move |_| tables_in_order(tables, shape))
}

/// Encodes one image's latent `q` of `shape` (channel-major, each value in `-32768..=32767`) with
/// `coder`, appending the payload to `out`. `tables` has one table per latent channel.
pub fn encode_latent(
    coder: Coder,
    tables: &[SymbolTable],
    shape: LatentShape,
    q: &[i32],
    out: &mut Vec<u8>,
) -> crate::Result<()> {
    encode_latents(coder, tables, shape, 1, q, out)
}

/// Encodes the latents of `count` images of `shape`, one after the other in `q` (a packed record, spec
/// 11.3), as one payload: the values of image 0, then image 1, ..., each channel-major.
pub fn encode_latents(
    coder: Coder,
    tables: &[SymbolTable],
    shape: LatentShape,
    count: usize,
    q: &[i32],
    out: &mut Vec<u8>,
) -> crate::Result<()> {
    if tables.len() != shape.channels as usize {
        return Err(crate::Error::InvalidArgument {
            what: "number of entropy tables",
            value: tables.len().to_string(),
            expected: format!("{} (one per latent channel of {shape})", shape.channels),
        });
    }
    if q.len() != shape.len() * count {
        return Err(crate::Error::InvalidArgument {
            what: "number of latent values",
            value: q.len().to_string(),
            expected: format!("{} ({count} latent(s) of {shape})", shape.len() * count),
        });
    }
    encode_with(coder, repeated(tables, shape, count), q, out)
}

/// Encodes `q` with value `i` coded by `tables[idx[i]]` (a latent whose tables a hyperprior chose, spec
/// 11.5); the zstd coder ignores the tables.
pub fn encode_indexed(
    coder: Coder,
    tables: &[SymbolTable],
    idx: &[u8],
    q: &[i32],
    out: &mut Vec<u8>,
) -> crate::Result<()> {
    if idx.len() != q.len() || idx.iter().any(|&k| usize::from(k) >= tables.len()) {
        return Err(crate::Error::InvalidArgument {
            what: "table indices",
            value: format!("{} indices for {} values", idx.len(), q.len()),
            expected: format!("one per value, each below {}", tables.len()),
        });
    }
    encode_with(coder, idx.iter().map(|&k| &tables[usize::from(k)]), q, out)
}

/// Decodes a payload of `idx.len()` values, value `i` with `tables[idx[i]]` ([`encode_indexed`]), with
/// the same one-to-one check as [`decode_latent`].
pub fn decode_indexed(
    coder: Coder,
    tables: &[SymbolTable],
    idx: &[u8],
    payload: &[u8],
    out: &mut Vec<i32>,
) -> Result<(), DecodeError> {
    out.clear();
    if idx.iter().any(|&k| usize::from(k) >= tables.len()) {
        return Err(DecodeError(format!(
            "a table index over the model's {} scale tables",
            tables.len()
        )));
    }
    decode_with(
        coder,
        || idx.iter().map(|&k| &tables[usize::from(k)]),
        idx.len(),
        payload,
        out,
    )
}

/// Refuses a value outside `i16`, which no table or escape can code.
pub(crate) fn check_values(q: &[i32]) -> crate::Result<()> {
    match q.iter().find(|&&v| !(Q_MIN..=Q_MAX).contains(&v)) {
        Some(&bad) => Err(crate::Error::InvalidArgument {
            what: "quantized value",
            value: bad.to_string(),
            expected: "-32768..=32767".into(),
        }),
        None => Ok(()),
    }
}

/// Encodes `q`, value `i` with the `i`-th table of `tables` (range coder) or none (zstd).
fn encode_with<'t>(
    coder: Coder,
    tables: impl Iterator<Item = &'t SymbolTable>,
    q: &[i32],
    out: &mut Vec<u8>,
) -> crate::Result<()> {
    check_values(q)?;
    match coder {
        Coder::Range => {
            let mut enc = RangeEncoder::new(out);
            for (t, &v) in tables.zip(q) {
                enc.encode_value(t, v);
            }
            enc.finish();
            Ok(())
        }
        Coder::Zstd => zstd_coder::encode(q, out),
    }
}

/// Decodes one payload into a latent of `shape` (exactly `shape.len()` values, channel-major),
/// replacing the contents of `out`. `tables` has one table per latent channel.
///
/// Rejects any payload that is not byte for byte what [`encode_latent`] writes for the values it decodes
/// to (so leftover and missing bytes are detected).
pub fn decode_latent(
    coder: Coder,
    tables: &[SymbolTable],
    shape: LatentShape,
    payload: &[u8],
    out: &mut Vec<i32>,
) -> Result<(), DecodeError> {
    decode_latents(coder, tables, shape, 1, payload, out)
}

/// Decodes a payload of `count` latents of `shape` (a packed record, [`encode_latents`]) into `out`
/// (exactly `count * shape.len()` values), with the same one-to-one check as [`decode_latent`].
pub fn decode_latents(
    coder: Coder,
    tables: &[SymbolTable],
    shape: LatentShape,
    count: usize,
    payload: &[u8],
    out: &mut Vec<i32>,
) -> Result<(), DecodeError> {
    out.clear();
    if tables.len() != shape.channels as usize {
        return Err(DecodeError(format!(
            "{} entropy tables for a latent of {shape}",
            tables.len()
        )));
    }
    decode_with(
        coder,
        || repeated(tables, shape, count),
        shape.len() * count,
        payload,
        out,
    )
}

/// Decodes `n` values, value `i` with the `i`-th table of `tables()` (range coder; called twice, for the
/// decoding and the one-to-one check) or none (zstd), appending them to `out`.
fn decode_with<'t, I: Iterator<Item = &'t SymbolTable>>(
    coder: Coder,
    tables: impl Fn() -> I,
    n: usize,
    payload: &[u8],
    out: &mut Vec<i32>,
) -> Result<(), DecodeError> {
    match coder {
        Coder::Range => {
            let mut dec = RangeDecoder::new(payload);
            for t in tables().take(n) {
                out.push(dec.decode_value(t)?);
            }
            // One-to-one check: the payload must be exactly the encoder's output for these values.
            let mut again = Vec::with_capacity(payload.len());
            let mut enc = RangeEncoder::new(&mut again);
            for (t, &v) in tables().zip(out.iter()) {
                enc.encode_value(t, v);
            }
            enc.finish();
            if again != payload {
                return Err(DecodeError(format!(
                    "leftover or missing payload bytes: the {n} values decoded re-encode to {} bytes, the payload has {}{}",
                    again.len(),
                    payload.len(),
                    if again.len() == payload.len() { " that differ" } else { "" }
                )));
            }
            Ok(())
        }
        Coder::Zstd => zstd_coder::decode(n, payload, out),
    }
}

#[cfg(test)]
mod tests;
