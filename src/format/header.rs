//! The version-1 stream header (spec 2.1): 13 bytes, or 17 with an explicit geometry; and the checks of
//! the first 6 bytes (magic, version, flags) of a header of either version.

use super::consts::*;
use super::Kind;
use crate::entropy::Coder;
use crate::error::FormatError;

/// The version-1 header (spec 2.1): 13 bytes when the images have the model's geometry, 17 when width
/// and height are stored. (A version-2 header is a [`super::HeaderV2`]; [`super::AnyHeader`] is either.
/// This struct keeps version 1's fields as they were, because code outside the container builds it with
/// struct literals.)
///
/// `width == 0 && height == 0` stands for the geometry field `11`: the images have the model's geometry
/// and no width or height is stored (see [`Header::model_geometry`]); the codec resolves them from the
/// model after looking it up ([`Header::resolved`]). Any other value is stored (geometry field `00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// The entropy coder of every payload of the stream.
    pub coder: Coder,
    /// Single image or batch.
    pub kind: Kind,
    /// The first [`consts::MODEL_ID_LEN`] bytes of the model bundle's SHA-256.
    pub model_id: [u8; MODEL_ID_LEN],
    /// Image width, 1..=65535; 0 (with `height` 0): the model's, not stored.
    pub width: u16,
    /// Image height, 1..=65535; 0 (with `width` 0): the model's, not stored.
    pub height: u16,
}

/// A header field that broke a rule: its offset within the header and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Offset of the bad field from the header's first byte.
    pub offset: usize,
    /// What is wrong.
    pub what: FormatError,
}

impl Header {
    /// A header for images of the model's geometry: the geometry field is `11` and no width or height
    /// is stored (what the codec's encoders write for every image of the model's geometry).
    pub fn model_geometry(coder: Coder, kind: Kind, model_id: [u8; MODEL_ID_LEN]) -> Header {
        Header {
            coder,
            kind,
            model_id,
            width: 0,
            height: 0,
        }
    }

    /// Whether width and height are stored (geometry field `00`); `false`: the model's (`11`).
    pub fn geometry_stored(&self) -> bool {
        self.width != 0 || self.height != 0
    }

    /// The header with an elided geometry replaced by `width` x `height` (the model's, once it is known);
    /// a header that stores its geometry is returned unchanged.
    pub fn resolved(&self, width: u16, height: u16) -> Header {
        if self.geometry_stored() {
            *self
        } else {
            Header {
                width,
                height,
                ..*self
            }
        }
    }

    /// Bytes of this header as stored: [`HEADER_LEN_EXPLICIT_GEOMETRY`] or [`HEADER_LEN_MODEL_GEOMETRY`].
    pub fn stored_len(&self) -> usize {
        if self.geometry_stored() {
            HEADER_LEN_EXPLICIT_GEOMETRY
        } else {
            HEADER_LEN_MODEL_GEOMETRY
        }
    }

    /// The stored length of a version-1 header whose flags byte is `flags`; `None` for the invalid
    /// geometry bits `01` and `10`.
    pub fn stored_len_of_flags(flags: u8) -> Option<usize> {
        match (flags & FLAGS_GEOMETRY_MASK) >> FLAGS_GEOMETRY_SHIFT {
            GEOMETRY_EXPLICIT => Some(HEADER_LEN_EXPLICIT_GEOMETRY),
            GEOMETRY_MODEL => Some(HEADER_LEN_MODEL_GEOMETRY),
            _ => None,
        }
    }

    /// The header's bytes as stored (13 or 17, see [`Header::stored_len`]).
    pub fn to_bytes(&self) -> Vec<u8> {
        let geometry = if self.geometry_stored() {
            GEOMETRY_EXPLICIT
        } else {
            GEOMETRY_MODEL
        };
        let mut b = Vec::with_capacity(HEADER_LEN_EXPLICIT_GEOMETRY);
        b.extend_from_slice(&MAGIC);
        b.push(VERSION);
        b.push(
            self.coder.id()
                | (self.kind.id() << FLAGS_KIND_SHIFT)
                | (geometry << FLAGS_GEOMETRY_SHIFT),
        );
        b.extend_from_slice(&self.model_id);
        if self.geometry_stored() {
            b.extend_from_slice(&self.width.to_le_bytes());
            b.extend_from_slice(&self.height.to_le_bytes());
        }
        b
    }

    /// Checks the magic, the version (1 or 2) and the flags byte (the fields checked before any CRC; the
    /// flags decide the layout) in the first bytes of a header of either version, as many as `b` has.
    pub fn check_prefix(b: &[u8]) -> Result<(), FieldError> {
        Self::check_prefix_upto(b, MAX_VERSION)
    }

    /// [`Header::check_prefix`] for a reader of versions 1 to `max_version` only: a higher version is
    /// refused as unsupported, at offset 4.
    pub fn check_prefix_upto(b: &[u8], max_version: u8) -> Result<(), FieldError> {
        for (i, (&got, &want)) in b.iter().zip(MAGIC.iter()).enumerate() {
            if got != want {
                return Err(FieldError {
                    offset: OFF_MAGIC + i,
                    what: FormatError::BadMagic {
                        index: i as u8,
                        found: got,
                        expected: want,
                    },
                });
            }
        }
        if let Some(&v) = b.get(OFF_VERSION) {
            if v == 0 || v > max_version.min(MAX_VERSION) {
                return Err(FieldError {
                    offset: OFF_VERSION,
                    what: FormatError::UnsupportedVersion {
                        found: v,
                        supported: max_version.min(MAX_VERSION),
                    },
                });
            }
        }
        if let (Some(&VERSION_2), Some(&f)) = (b.get(OFF_VERSION), b.get(OFF_FLAGS)) {
            return super::header_v2::check_flags_v2(f);
        }
        if let Some(&f) = b.get(OFF_FLAGS) {
            if f & FLAGS_RESERVED_MASK != 0 {
                return Err(flags_err(
                    "reserved flag bits",
                    f,
                    "0 (bits 6-7)",
                    format!(
                        "reserved flag bits set: flags byte is 0x{f:02x} (bits 6-7 must be zero)"
                    ),
                ));
            }
            if Coder::from_id(f & FLAGS_CODER_MASK).is_none() {
                return Err(flags_err(
                    "coder id",
                    f & FLAGS_CODER_MASK,
                    "0 (range) or 1 (zstd)",
                    format!(
                        "unknown coder id {} (known: 0 range, 1 zstd)",
                        f & FLAGS_CODER_MASK
                    ),
                ));
            }
            // The two-bit fields whose two valid values are two bit flips apart.
            let fields: [(bool, u8, u8, &'static str, &'static str, &str); 2] = [
                (
                    Kind::from_flags(f).is_some(),
                    FLAGS_KIND_MASK,
                    FLAGS_KIND_SHIFT,
                    "kind bits",
                    "0b00 (single image) or 0b11 (batch)",
                    "00 single image, 11 batch",
                ),
                (
                    Self::stored_len_of_flags(f).is_some(),
                    FLAGS_GEOMETRY_MASK,
                    FLAGS_GEOMETRY_SHIFT,
                    "geometry field",
                    "0b00 (stored) or 0b11 (the model's)",
                    "00 width and height stored, 11 the model's",
                ),
            ];
            for (valid_now, mask, shift, field, valid, says) in fields {
                if !valid_now {
                    let bits = (f & mask) >> shift;
                    return Err(flags_err(
                        field,
                        bits,
                        valid,
                        format!("invalid {field} {bits:02b} in flags byte 0x{f:02x} ({says})"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Parses a version-1 header as stored: `b` holds exactly its 13 or 17 bytes (the length its flags
    /// give). Checks every field's range except against limits and models. A version-2 header is refused
    /// as an unsupported version (at offset 4): [`super::AnyHeader::parse`] reads both.
    pub fn parse(b: &[u8]) -> Result<Header, FieldError> {
        Self::check_prefix_upto(b, VERSION_1)?;
        if b.len() < HEADER_PREFIX_LEN {
            return Err(FieldError {
                offset: b.len(),
                what: FormatError::TruncatedHeader {
                    needed: HEADER_LEN_MODEL_GEOMETRY as u64,
                    at_least: true,
                    available: b.len() as u64,
                },
            });
        }
        let flags = b[OFF_FLAGS];
        let (coder, kind) = coder_and_kind(flags)?;
        let Some(len) = Self::stored_len_of_flags(flags) else {
            return Err(bad_flags(flags));
        };
        if b.len() != len {
            let what = if b.len() < len {
                FormatError::TruncatedHeader {
                    needed: len as u64,
                    at_least: false,
                    available: b.len() as u64,
                }
            } else {
                FormatError::field(
                    "header length",
                    b.len() as u64,
                    "the length the flags byte gives",
                    format!(
                        "the header is {len} bytes (flags byte 0x{flags:02x}), {} given",
                        b.len()
                    ),
                )
            };
            return Err(FieldError {
                offset: b.len().min(len),
                what,
            });
        }
        let mut model_id = [0u8; MODEL_ID_LEN];
        model_id.copy_from_slice(&b[OFF_MODEL_ID..OFF_MODEL_ID + MODEL_ID_LEN]);
        if len == HEADER_LEN_MODEL_GEOMETRY {
            return Ok(Header::model_geometry(coder, kind, model_id));
        }
        let width = u16::from_le_bytes([b[OFF_WIDTH], b[OFF_WIDTH + 1]]);
        let height = u16::from_le_bytes([b[OFF_HEIGHT], b[OFF_HEIGHT + 1]]);
        if width == 0 {
            return Err(FieldError {
                offset: OFF_WIDTH,
                what: FormatError::field(
                    "width",
                    0,
                    "1..=65535",
                    "width is 0 (expected 1..=65535)".into(),
                ),
            });
        }
        if height == 0 {
            return Err(FieldError {
                offset: OFF_HEIGHT,
                what: FormatError::field(
                    "height",
                    0,
                    "1..=65535",
                    "height is 0 (expected 1..=65535)".into(),
                ),
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

    /// The image size as text: `28x28`, or `the model's` when the geometry is not stored.
    pub fn geometry_text(&self) -> String {
        if self.geometry_stored() {
            format!("{}x{}", self.width, self.height)
        } else {
            "the model's".into()
        }
    }
}

/// A flags byte that [`Header::check_prefix`] should have refused.
pub(crate) fn bad_flags(flags: u8) -> FieldError {
    flags_err(
        "flags",
        flags,
        "a valid flags byte",
        format!("invalid flags byte 0x{flags:02x}"),
    )
}

/// The coder and kind of a flags byte (both versions), or the flags byte's fault.
pub(crate) fn coder_and_kind(flags: u8) -> Result<(Coder, Kind), FieldError> {
    match (
        Coder::from_id(flags & FLAGS_CODER_MASK),
        Kind::from_flags(flags),
    ) {
        (Some(c), Some(k)) => Ok((c, k)),
        _ => Err(bad_flags(flags)),
    }
}

/// A fault of the flags byte.
pub(crate) fn flags_err(
    field: &'static str,
    value: u8,
    valid: &'static str,
    message: String,
) -> FieldError {
    FieldError {
        offset: OFF_FLAGS,
        what: FormatError::field(field, value.into(), valid, message),
    }
}

#[cfg(test)]
#[path = "header_tests.rs"]
mod tests;
