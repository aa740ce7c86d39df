//! The version-2 header (spec 11.1): [`HeaderV2`] and [`Descriptors`].
//!
//! [`Header`] stays the version-1 header, field for field (code outside the container builds it with
//! struct literals); a version-2 header is a [`HeaderV2`], and [`super::AnyHeader`] is either.

use super::consts::*;
use super::desc::ImageDesc;
use super::head::with_parity;
use super::header::{bad_flags, coder_and_kind, flags_err, FieldError, Header};
use super::varint::varint_len;
use super::{Kind, Limits};
use crate::entropy::Coder;
use crate::error::FormatError;

/// Where the image descriptors of a version-2 stream live (flags bits 4-5 and 6-7, spec 11.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Descriptors {
    /// Geometry `11`, descriptor `00`: no descriptor. Every image has the model's fixed size, the model's
    /// channels (gray or RGB, no alpha), the model's default level, untiled: one record per image, and
    /// the header is version 1's 13 bytes.
    Model,
    /// Geometry `00`, descriptor `00`: one descriptor in the header, for every image of the stream.
    InHeader(ImageDesc),
    /// Geometry `00`, descriptor `11` (batch only): each image's first record starts with its descriptor.
    PerImage,
}

impl Descriptors {
    /// The geometry and descriptor bits of the flags byte (bits 4-7).
    pub fn flags_bits(&self) -> u8 {
        let (g, d) = match self {
            Descriptors::Model => (GEOMETRY_MODEL, DESCRIPTOR_SHARED),
            Descriptors::InHeader(_) => (GEOMETRY_EXPLICIT, DESCRIPTOR_SHARED),
            Descriptors::PerImage => (GEOMETRY_EXPLICIT, DESCRIPTOR_PER_IMAGE),
        };
        (g << FLAGS_GEOMETRY_SHIFT) | (d << FLAGS_DESCRIPTOR_SHIFT)
    }

    /// The header's descriptor, if any.
    pub fn header_desc(&self) -> Option<&ImageDesc> {
        match self {
            Descriptors::InHeader(d) => Some(d),
            _ => None,
        }
    }
}

/// The placement of a version-2 flags byte, before the descriptor is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    Model,
    InHeader,
    PerImage,
}

impl Placement {
    /// The placement of a flags byte that [`Header::check_prefix`] accepted as version 2.
    pub(crate) fn of_flags(f: u8) -> Option<Placement> {
        let g = (f & FLAGS_GEOMETRY_MASK) >> FLAGS_GEOMETRY_SHIFT;
        let d = (f & FLAGS_DESCRIPTOR_MASK) >> FLAGS_DESCRIPTOR_SHIFT;
        match (g, d) {
            (GEOMETRY_MODEL, DESCRIPTOR_SHARED) => Some(Placement::Model),
            (GEOMETRY_EXPLICIT, DESCRIPTOR_SHARED) => Some(Placement::InHeader),
            (GEOMETRY_EXPLICIT, DESCRIPTOR_PER_IMAGE) => Some(Placement::PerImage),
            _ => None,
        }
    }
}

/// Checks a version-2 flags byte (spec 11.1): coder, kind, geometry and descriptor fields, and their
/// combination.
pub(crate) fn check_flags_v2(f: u8) -> Result<(), FieldError> {
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
    let fields: [(u8, u8, &'static str, &'static str, &str); 3] = [
        (
            FLAGS_KIND_MASK,
            FLAGS_KIND_SHIFT,
            "kind bits",
            "0b00 (single image) or 0b11 (batch)",
            "00 single image, 11 batch",
        ),
        (
            FLAGS_GEOMETRY_MASK,
            FLAGS_GEOMETRY_SHIFT,
            "geometry field",
            "0b00 (described) or 0b11 (the model's)",
            "00 described, 11 the model's",
        ),
        (
            FLAGS_DESCRIPTOR_MASK,
            FLAGS_DESCRIPTOR_SHIFT,
            "descriptor field",
            "0b00 (shared) or 0b11 (per image)",
            "00 shared, 11 per image",
        ),
    ];
    for (mask, shift, field, valid, says) in fields {
        let bits = (f & mask) >> shift;
        if bits != 0b00 && bits != 0b11 {
            return Err(flags_err(
                field,
                bits,
                valid,
                format!("invalid {field} {bits:02b} in flags byte 0x{f:02x} ({says})"),
            ));
        }
    }
    let Some(placement) = Placement::of_flags(f) else {
        return Err(flags_err(
            "descriptor placement",
            f >> FLAGS_GEOMETRY_SHIFT,
            "geometry 11 + descriptor 00, 00 + 00, or 00 + 11",
            format!(
                "invalid descriptor placement in flags byte 0x{f:02x}: geometry 11 with descriptor 11 \
                 (valid: 11+00 the model's, 00+00 in the header, 00+11 per image)"
            ),
        ));
    };
    if placement == Placement::PerImage && Kind::from_flags(f) == Some(Kind::Single) {
        return Err(flags_err(
            "descriptor placement",
            f >> FLAGS_GEOMETRY_SHIFT,
            "per-image descriptors in a batch only",
            format!(
                "invalid descriptor placement in flags byte 0x{f:02x}: per-image descriptors in a \
                 single-image stream (its one image's descriptor goes in the header)"
            ),
        ));
    }
    Ok(())
}

/// A version-2 header (spec 11.1): 13 bytes, or 14 plus the descriptor's 4 to 22 when the descriptor is in
/// the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HeaderV2 {
    /// The entropy coder of every latent payload of the stream.
    pub coder: Coder,
    /// Single image or batch.
    pub kind: Kind,
    /// The first [`MODEL_ID_LEN`] bytes of the model bundle's hash.
    pub model_id: [u8; MODEL_ID_LEN],
    /// Where the image descriptors live.
    pub descriptors: Descriptors,
}

impl HeaderV2 {
    /// A version-2 header.
    pub fn new(
        coder: Coder,
        kind: Kind,
        model_id: [u8; MODEL_ID_LEN],
        descriptors: Descriptors,
    ) -> Self {
        HeaderV2 {
            coder,
            kind,
            model_id,
            descriptors,
        }
    }

    /// The header's bytes as stored: magic, `02`, flags, model id, and for a header descriptor its length
    /// byte (even parity) and the descriptor.
    pub fn to_bytes(self) -> Vec<u8> {
        let mut b = Vec::with_capacity(OFF_DESC + DESC_MAX_LEN);
        b.extend_from_slice(&MAGIC);
        b.push(VERSION_2);
        b.push(
            self.coder.id() | (self.kind.id() << FLAGS_KIND_SHIFT) | self.descriptors.flags_bits(),
        );
        b.extend_from_slice(&self.model_id);
        if let Descriptors::InHeader(d) = &self.descriptors {
            let mut desc = Vec::with_capacity(DESC_MAX_LEN);
            d.write(&mut desc);
            b.push(with_parity(desc.len() as u8));
            b.extend_from_slice(&desc);
        }
        b
    }

    /// Bytes of this header as stored.
    pub fn stored_len(&self) -> usize {
        match &self.descriptors {
            Descriptors::InHeader(d) => OFF_DESC + d.encoded_len(),
            _ => HEADER_LEN_V2_NO_DESC,
        }
    }

    /// Parses a version-2 header as stored (`b` holds exactly its bytes), checking every field's range and
    /// the header descriptor against `limits` (a limit is reported as [`FormatError::OverLimit`]).
    pub fn parse(b: &[u8], limits: &Limits) -> Result<HeaderV2, FieldError> {
        Header::check_prefix(b)?;
        if b.len() < HEADER_LEN_V2_NO_DESC {
            return Err(truncated(b.len(), HEADER_LEN_V2_NO_DESC, true));
        }
        if b[OFF_VERSION] != VERSION_2 {
            return Err(FieldError {
                offset: OFF_VERSION,
                what: FormatError::field(
                    "version",
                    b[OFF_VERSION].into(),
                    "2",
                    format!(
                        "a version-2 header has version byte 2, not {}",
                        b[OFF_VERSION]
                    ),
                ),
            });
        }
        let flags = b[OFF_FLAGS];
        let (coder, kind) = coder_and_kind(flags)?;
        let Some(placement) = Placement::of_flags(flags) else {
            return Err(bad_flags(flags));
        };
        let mut model_id = [0u8; MODEL_ID_LEN];
        model_id.copy_from_slice(&b[OFF_MODEL_ID..OFF_MODEL_ID + MODEL_ID_LEN]);
        let descriptors = match placement {
            Placement::Model => Descriptors::Model,
            Placement::PerImage => Descriptors::PerImage,
            Placement::InHeader => {
                let &dl = b
                    .get(OFF_DESC_LEN)
                    .ok_or_else(|| truncated(b.len(), OFF_DESC + DESC_MIN_LEN, true))?;
                let d = desc_len(dl)?;
                if b.len() < OFF_DESC + d {
                    return Err(truncated(b.len(), OFF_DESC + d, false));
                }
                check_len(b, OFF_DESC + d)?;
                let (desc, used) =
                    ImageDesc::parse(&b[OFF_DESC..], limits).map_err(|e| FieldError {
                        offset: OFF_DESC + e.offset,
                        what: e.what,
                    })?;
                if used != d {
                    return Err(FieldError {
                        offset: OFF_DESC_LEN,
                        what: FormatError::field(
                            "descriptor length",
                            d as u64,
                            "the descriptor's length",
                            format!("the descriptor length byte says {d} bytes, the descriptor has {used}"),
                        ),
                    });
                }
                if kind == Kind::Single && (desc.records() != 1 || desc.packed) {
                    return Err(FieldError {
                        offset: OFF_DESC + varint_len(desc.width) + varint_len(desc.height),
                        what: FormatError::field(
                            "layout byte",
                            b[OFF_DESC + varint_len(desc.width) + varint_len(desc.height)].into(),
                            "untiled, no alpha, not packed, in a single-image stream",
                            format!(
                                "a single-image stream holds one record: an untiled image without alpha, not {desc}"
                            ),
                        ),
                    });
                }
                return Ok(HeaderV2::new(
                    coder,
                    kind,
                    model_id,
                    Descriptors::InHeader(desc),
                ));
            }
        };
        check_len(b, HEADER_LEN_V2_NO_DESC)?;
        Ok(HeaderV2::new(coder, kind, model_id, descriptors))
    }
}

/// The descriptor length a header's length byte gives (spec 11.1): even parity, `DESC_MIN_LEN..=DESC_MAX_LEN`.
/// Errors are at [`OFF_DESC_LEN`].
pub(crate) fn desc_len(byte: u8) -> Result<usize, FieldError> {
    if !byte.count_ones().is_multiple_of(2) {
        return Err(FieldError {
            offset: OFF_DESC_LEN,
            what: FormatError::field(
                "descriptor length",
                byte.into(),
                "a byte with even parity",
                format!("descriptor length byte 0x{byte:02x} has odd parity (damaged header)"),
            ),
        });
    }
    let d = usize::from(byte & 0x7f);
    if !(DESC_MIN_LEN..=DESC_MAX_LEN).contains(&d) {
        return Err(FieldError {
            offset: OFF_DESC_LEN,
            what: FormatError::field(
                "descriptor length",
                d as u64,
                "4..=22",
                format!("descriptor length {d} (expected {DESC_MIN_LEN}..={DESC_MAX_LEN})"),
            ),
        });
    }
    Ok(d)
}

fn truncated(available: usize, needed: usize, at_least: bool) -> FieldError {
    FieldError {
        offset: available,
        what: FormatError::TruncatedHeader {
            needed: needed as u64,
            at_least,
            available: available as u64,
        },
    }
}

fn check_len(b: &[u8], len: usize) -> Result<(), FieldError> {
    if b.len() == len {
        return Ok(());
    }
    if b.len() < len {
        return Err(truncated(b.len(), len, false));
    }
    Err(FieldError {
        offset: len,
        what: FormatError::field(
            "header length",
            b.len() as u64,
            "the length the header gives",
            format!("the header is {len} bytes, {} given", b.len()),
        ),
    })
}

#[cfg(test)]
#[path = "header_v2_tests.rs"]
mod tests;
