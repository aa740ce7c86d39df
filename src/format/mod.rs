//! The `.aez` container (`spec/aez-format.md`): bytes <-> structs, with no machine learning in here.
//!
//! - [`consts`]: every constant of the spec, named one to one;
//! - [`Header`]: the fixed 17-byte header of both kinds;
//! - [`head`]: the parity-protected record length;
//! - [`StreamWriter`] / [`single_image`]: writing;
//! - [`StreamReader`]: reading a stream (or a concatenation of streams) one record at a time from any
//!   [`std::io::Read`], checking every CRC, limit and reserved value;
//! - [`inspect`]: walking a stream without a model, for `aez info`.

pub mod consts;
pub mod head;
mod reader;
mod writer;

pub use reader::{inspect, Event, Record, StreamHeader, StreamReader, StreamSummary};
pub use writer::{single_image, StreamWriter};

use crate::entropy::Coder;
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

/// The fixed header (spec 2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// The entropy coder of every payload of the stream.
    pub coder: Coder,
    /// Single image or batch.
    pub kind: Kind,
    /// The first [`consts::MODEL_ID_LEN`] bytes of the model bundle's SHA-256.
    pub model_id: [u8; MODEL_ID_LEN],
    /// Image width, 1..=65535.
    pub width: u16,
    /// Image height, 1..=65535.
    pub height: u16,
}

/// A header field that broke a rule: its offset within the header and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Offset of the bad field from the header's first byte.
    pub offset: usize,
    /// What is wrong, quoting the value.
    pub what: String,
}

impl Header {
    /// The header's 17 bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[OFF_MAGIC..OFF_MAGIC + 4].copy_from_slice(&MAGIC);
        b[OFF_VERSION] = VERSION;
        b[OFF_FLAGS] = self.coder.id() | (self.kind.id() << FLAGS_KIND_SHIFT);
        b[OFF_MODEL_ID..OFF_MODEL_ID + MODEL_ID_LEN].copy_from_slice(&self.model_id);
        b[OFF_WIDTH..OFF_WIDTH + 2].copy_from_slice(&self.width.to_le_bytes());
        b[OFF_HEIGHT..OFF_HEIGHT + 2].copy_from_slice(&self.height.to_le_bytes());
        b
    }

    /// Checks the magic, the version and the flags byte (the fields checked before any CRC).
    pub fn check_prefix(b: &[u8]) -> Result<(), FieldError> {
        for (i, (&got, &want)) in b.iter().zip(MAGIC.iter()).enumerate() {
            if got != want {
                return Err(FieldError {
                    offset: OFF_MAGIC + i,
                    what: format!(
                        "not an aez stream: magic byte {i} is 0x{got:02x}, expected 0x{want:02x} (magic 89 41 45 5a)"
                    ),
                });
            }
        }
        if let Some(&v) = b.get(OFF_VERSION) {
            if v != VERSION {
                return Err(FieldError {
                    offset: OFF_VERSION,
                    what: format!(
                        "unsupported format version {v} (this decoder reads version {VERSION})"
                    ),
                });
            }
        }
        if let Some(&f) = b.get(OFF_FLAGS) {
            if f & FLAGS_RESERVED_MASK != 0 {
                return Err(FieldError {
                    offset: OFF_FLAGS,
                    what: format!(
                        "reserved flag bits set: flags byte is 0x{f:02x} (bits 4-7 must be zero)"
                    ),
                });
            }
            if Coder::from_id(f & FLAGS_CODER_MASK).is_none() {
                return Err(FieldError {
                    offset: OFF_FLAGS,
                    what: format!(
                        "unknown coder id {} (known: 0 range, 1 zstd)",
                        f & FLAGS_CODER_MASK
                    ),
                });
            }
            if Kind::from_flags(f).is_none() {
                return Err(FieldError {
                    offset: OFF_FLAGS,
                    what: format!(
                        "invalid kind bits {:02b} in flags byte 0x{f:02x} (00 single image, 11 batch)",
                        (f & FLAGS_KIND_MASK) >> FLAGS_KIND_SHIFT
                    ),
                });
            }
        }
        Ok(())
    }

    /// Parses the 17 header bytes; checks every field's range except against limits and models.
    pub fn parse(b: &[u8; HEADER_LEN]) -> Result<Header, FieldError> {
        Self::check_prefix(b)?;
        let flags = b[OFF_FLAGS];
        let coder = Coder::from_id(flags & FLAGS_CODER_MASK).ok_or(FieldError {
            offset: OFF_FLAGS,
            what: "unknown coder id".into(),
        })?;
        let kind = Kind::from_flags(flags).ok_or(FieldError {
            offset: OFF_FLAGS,
            what: "invalid kind bits".into(),
        })?;
        let mut model_id = [0u8; MODEL_ID_LEN];
        model_id.copy_from_slice(&b[OFF_MODEL_ID..OFF_MODEL_ID + MODEL_ID_LEN]);
        let width = u16::from_le_bytes([b[OFF_WIDTH], b[OFF_WIDTH + 1]]);
        let height = u16::from_le_bytes([b[OFF_HEIGHT], b[OFF_HEIGHT + 1]]);
        if width == 0 {
            return Err(FieldError {
                offset: OFF_WIDTH,
                what: "width is 0 (expected 1..=65535)".into(),
            });
        }
        if height == 0 {
            return Err(FieldError {
                offset: OFF_HEIGHT,
                what: "height is 0 (expected 1..=65535)".into(),
            });
        }
        Ok(Header {
            coder,
            kind,
            model_id,
            width,
            height,
        })
    }

    /// The model id as lowercase hex.
    pub fn model_id_hex(&self) -> String {
        self.model_id.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Limits a decoder checks before allocating (spec section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted width and height.
    pub max_side: u32,
    /// Largest accepted `width * height * channels` of one image.
    pub max_samples: u64,
    /// Largest accepted payload of one record, in bytes.
    pub max_payload: u32,
    /// Largest accepted number of records in one stream.
    pub max_records: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_side: DEFAULT_MAX_SIDE,
            max_samples: DEFAULT_MAX_SAMPLES,
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_records: DEFAULT_MAX_RECORDS,
        }
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

    #[test]
    fn header_round_trip_and_layout() {
        let h = Header {
            coder: Coder::Zstd,
            kind: Kind::Batch,
            model_id: [1, 2, 3, 4, 5, 6, 7],
            width: 28,
            height: 0x1234,
        };
        let b = h.to_bytes();
        assert_eq!(
            b,
            [0x89, 0x41, 0x45, 0x5a, 1, 0b1101, 1, 2, 3, 4, 5, 6, 7, 28, 0, 0x34, 0x12]
        );
        assert_eq!(Header::parse(&b), Ok(h));
    }

    #[test]
    fn header_rejects_each_bad_field() {
        let good = Header {
            coder: Coder::Range,
            kind: Kind::Single,
            model_id: [9; 7],
            width: 28,
            height: 28,
        }
        .to_bytes();
        let cases: &[(usize, u8, usize, &str)] = &[
            (0, 0x09, 0, "magic"),
            (3, b'Y', 3, "magic"),
            (4, 2, 4, "version 2"),
            (5, 0x10, 5, "reserved"),
            (5, 0x04, 5, "invalid kind bits 01"),
            (5, 0x08, 5, "invalid kind bits 10"),
            (5, 0x80, 5, "reserved"),
            (5, 0x02, 5, "unknown coder id 2"),
            (5, 0x03, 5, "unknown coder id 3"),
        ];
        for &(at, val, off, needle) in cases {
            let mut b = good;
            b[at] = val;
            let e = Header::parse(&b).unwrap_err();
            assert_eq!(e.offset, off, "{needle}");
            assert!(
                e.what.contains(needle),
                "{} should contain {needle}",
                e.what
            );
        }
        let mut b = good;
        b[OFF_WIDTH] = 0;
        assert_eq!(Header::parse(&b).unwrap_err().offset, OFF_WIDTH);
        let mut b = good;
        b[OFF_HEIGHT] = 0;
        assert_eq!(Header::parse(&b).unwrap_err().offset, OFF_HEIGHT);
    }
}
