//! [`AnyHeader`]: a header of either version, what the writers take and what [`AnyHeader::parse`] returns.

use super::consts::*;
use super::header::{FieldError, Header};
use super::header_v2::{Descriptors, HeaderV2};
use super::{Kind, Limits};
use crate::entropy::Coder;
use crate::error::FormatError;

/// A header of either version: what the writers take ([`super::StreamWriter::new`],
/// [`super::single_image`]) and what [`AnyHeader::parse`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnyHeader {
    /// Version 1 (spec 2.1).
    V1(Header),
    /// Version 2 (spec 11.1).
    V2(HeaderV2),
}

impl From<Header> for AnyHeader {
    fn from(h: Header) -> Self {
        AnyHeader::V1(h)
    }
}

impl From<HeaderV2> for AnyHeader {
    fn from(h: HeaderV2) -> Self {
        AnyHeader::V2(h)
    }
}

impl AnyHeader {
    /// The version byte: [`VERSION_1`] or [`VERSION_2`].
    pub fn version(&self) -> u8 {
        match self {
            AnyHeader::V1(_) => VERSION_1,
            AnyHeader::V2(_) => VERSION_2,
        }
    }

    /// The coder of the stream's payloads.
    pub fn coder(&self) -> Coder {
        match self {
            AnyHeader::V1(h) => h.coder,
            AnyHeader::V2(h) => h.coder,
        }
    }

    /// Single image or batch.
    pub fn kind(&self) -> Kind {
        match self {
            AnyHeader::V1(h) => h.kind,
            AnyHeader::V2(h) => h.kind,
        }
    }

    /// The header with another kind (what the writers force).
    pub fn with_kind(self, kind: Kind) -> AnyHeader {
        match self {
            AnyHeader::V1(h) => AnyHeader::V1(Header { kind, ..h }),
            AnyHeader::V2(h) => AnyHeader::V2(HeaderV2 { kind, ..h }),
        }
    }

    /// The model id.
    pub fn model_id(&self) -> [u8; MODEL_ID_LEN] {
        match self {
            AnyHeader::V1(h) => h.model_id,
            AnyHeader::V2(h) => h.model_id,
        }
    }

    /// The version-2 descriptor placement; `None` for version 1.
    pub fn descriptors(&self) -> Option<&Descriptors> {
        match self {
            AnyHeader::V1(_) => None,
            AnyHeader::V2(h) => Some(&h.descriptors),
        }
    }

    /// The fields both versions share as a [`Header`]: a version-1 header as it is; for version 2 its coder,
    /// kind and model id with width and height 0 (its sizes are in its descriptors).
    pub fn v1_view(&self) -> Header {
        match self {
            AnyHeader::V1(h) => *h,
            AnyHeader::V2(h) => Header::model_geometry(h.coder, h.kind, h.model_id),
        }
    }

    /// The header's bytes as stored.
    pub fn to_bytes(self) -> Vec<u8> {
        match self {
            AnyHeader::V1(h) => h.to_bytes(),
            AnyHeader::V2(h) => h.to_bytes(),
        }
    }

    /// Bytes of the header as stored.
    pub fn stored_len(&self) -> usize {
        match self {
            AnyHeader::V1(h) => h.stored_len(),
            AnyHeader::V2(h) => h.stored_len(),
        }
    }

    /// Checks the magic, version and flags in the first bytes of a header of either version (as
    /// [`Header::check_prefix`]).
    pub fn check_prefix(b: &[u8]) -> Result<(), FieldError> {
        Header::check_prefix(b)
    }

    /// Parses a header of either version as stored (`b` holds exactly its bytes), checking every field's
    /// range and the caller's side and sample limits on what the header stores (a limit is reported as
    /// [`FormatError::OverLimit`]; a stream reader reports it as [`crate::Error::Limit`]).
    pub fn parse(b: &[u8], limits: &Limits) -> Result<AnyHeader, FieldError> {
        Header::check_prefix(b)?;
        match b.get(OFF_VERSION) {
            Some(&VERSION_2) => HeaderV2::parse(b, limits).map(AnyHeader::V2),
            _ => {
                let h = Header::parse(b)?;
                for (field, value, offset) in [
                    ("width", h.width, OFF_WIDTH),
                    ("height", h.height, OFF_HEIGHT),
                ] {
                    if u32::from(value) > limits.max_side {
                        return Err(FieldError {
                            offset,
                            what: FormatError::OverLimit {
                                field,
                                value: value.into(),
                                limit: limits.max_side.into(),
                            },
                        });
                    }
                }
                Ok(AnyHeader::V1(h))
            }
        }
    }

    /// Checks that the header's bytes parse back to it with no limits: what a writer checks before
    /// writing (a version-2 single-image header with a tiled or alpha descriptor, or an invalid
    /// descriptor, is refused here).
    pub fn validate(&self) -> Result<(), FieldError> {
        let b = self.to_bytes();
        let back = AnyHeader::parse(&b, &Limits::unlimited())?;
        if back != *self {
            // Only a descriptor that does not read back (see ImageDesc::validate) gets here.
            if let Some(Descriptors::InHeader(d)) = self.descriptors() {
                d.validate().map_err(|e| FieldError {
                    offset: OFF_DESC + e.offset,
                    what: e.what,
                })?;
            }
            return Err(FieldError {
                offset: 0,
                what: FormatError::field(
                    "header",
                    0,
                    "a header that reads back",
                    "the header does not read back as written".into(),
                ),
            });
        }
        Ok(())
    }
}
