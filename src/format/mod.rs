//! The `.aez` container (`spec/aez-format.md`): bytes <-> structs, with no machine learning in here.
//!
//! - [`consts`]: every constant of the spec, named one to one;
//! - [`Header`]: the version-1 header of both kinds (13 bytes, or 17 with an explicit geometry);
//! - [`HeaderV2`], [`Descriptors`], [`ImageDesc`], [`Colour`]: the version-2 header and its image
//!   descriptors (spec 11); [`AnyHeader`]: a header of either version;
//! - [`head`]: the parity-protected record length;
//! - [`StreamWriter`] / [`single_image`]: writing;
//! - [`StreamReader`]: reading a stream (or a concatenation of streams) one record at a time from any
//!   [`std::io::Read`], checking every CRC, limit and reserved value, and for version 2 telling which
//!   image, band and plane each record is ([`Part`]);
//! - [`inspect`]: walking a stream without a model, for `aez info`.

pub mod consts;
pub mod head;
mod reader;
mod writer;

mod any_header;
mod desc;
mod header;
mod header_v2;
mod inspect;
mod limits;
mod source;
mod varint;

pub use any_header::AnyHeader;
pub use desc::{Colour, ImageDesc};
pub use header::{FieldError, Header};
pub use header_v2::{Descriptors, HeaderV2};
pub use inspect::{inspect, StreamSummary};
pub use limits::Limits;
pub use reader::{Event, Part, Record, StreamHeader, StreamReader};
pub use source::READ_BUFFER;
pub use varint::{varint, varint_len, write_varint};
pub use writer::{single_image, StreamWriter};

use consts::*;

/// The two layouts of spec section 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// One image, one CRC over the whole file (spec 2.3).
    Single,
    /// A header, any number of records and an end marker (spec 2.4).
    Batch,
}

impl Kind {
    /// The kind bits' value (spec 2.1).
    pub fn id(self) -> u8 {
        match self {
            Kind::Single => KIND_SINGLE,
            Kind::Batch => KIND_BATCH,
        }
    }

    /// The kind of a flags byte; `None` for the invalid kind bits `01` and `10`.
    pub fn from_flags(flags: u8) -> Option<Kind> {
        match (flags & FLAGS_KIND_MASK) >> FLAGS_KIND_SHIFT {
            KIND_SINGLE => Some(Kind::Single),
            KIND_BATCH => Some(Kind::Batch),
            _ => None,
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Single => "single image",
            Kind::Batch => "batch",
        })
    }
}

/// `CRC32` of the concatenation of `parts` (CRC-32/ISO-HDLC, spec section 1).
pub fn crc32(parts: &[&[u8]]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    for p in parts {
        h.update(p);
    }
    h.finalize()
}

/// The CRC of record `index` (or of the end marker, with `index` = record count) of a batch stream whose
/// stored header CRC is `hc`: `CRC32(hc || u64 index || head || payload)` (spec 2.4).
pub fn record_crc(hc: &[u8; CRC_LEN], index: u64, head: &[u8], payload: &[u8]) -> u32 {
    crc32(&[hc, &index.to_le_bytes(), head, payload])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_check_value() {
        assert_eq!(crc32(&[b"123456789"]), CRC_CHECK_VALUE);
        assert_eq!(crc32(&[b"1234", b"56789"]), CRC_CHECK_VALUE);
    }
}
