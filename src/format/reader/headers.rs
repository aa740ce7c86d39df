//! The header half of [`StreamReader`]: the prefix, the rest of a version-1 or version-2 header, its CRC,
//! and the parse with the caller's limits.

use std::io::Read;

use super::super::consts::*;
use super::super::header_v2::{desc_len, Placement};
use super::super::{crc32, AnyHeader, FieldError, Header, Kind};
use super::{Event, Framing, State, StreamHeader, StreamReader};
use crate::error::{Error, FormatError, Result};

impl<R: Read> StreamReader<R> {
    pub(super) fn read_header(&mut self, first: u8) -> Result<Event> {
        let start = self.src.pos - 1;
        let mut h = [0u8; OFF_DESC + DESC_MAX_LEN];
        h[0] = first;
        // The prefix (magic, version, flags) first: the flags decide the header's length.
        let n = self.fill(&mut h[1..HEADER_PREFIX_LEN])?;
        // A wrong magic/version/flags is a better message than "truncated" (e.g. a text file).
        if let Err(e) = Header::check_prefix_upto(&h[..1 + n], self.limits.max_version) {
            let what = if self.streams > 0 && e.offset < 4 {
                FormatError::TrailingBytes(Box::new(e.what))
            } else {
                e.what
            };
            return Err(self.format_err(None, start + e.offset as u64, what));
        }
        if 1 + n < HEADER_PREFIX_LEN {
            return Err(self.truncated_header(HEADER_LEN_MODEL_GEOMETRY, true, 1 + n));
        }
        let len = if h[OFF_VERSION] == VERSION_2 {
            self.read_header_v2_rest(&mut h, start)?
        } else {
            // check_prefix accepted the flags, so the geometry bits are valid.
            let len =
                Header::stored_len_of_flags(h[OFF_FLAGS]).unwrap_or(HEADER_LEN_EXPLICIT_GEOMETRY);
            let rest = self.fill(&mut h[HEADER_PREFIX_LEN..len])?;
            if HEADER_PREFIX_LEN + rest < len {
                return Err(self.truncated_header(len, false, HEADER_PREFIX_LEN + rest));
            }
            len
        };
        let h = &h[..len];
        // check_prefix accepted the flags, so the kind bits are valid.
        let kind = Kind::from_flags(h[OFF_FLAGS]).unwrap_or(Kind::Batch);
        let stream = self.streams;
        let header = match kind {
            Kind::Batch => {
                let mut c = [0u8; CRC_LEN];
                self.exact(&mut c, None, "the header CRC")?;
                let (stored, computed) = (u32::from_le_bytes(c), crc32(&[h]));
                if stored != computed {
                    return Err(self.crc_err(None, start + len as u64, "header", stored, computed));
                }
                let header = self.parse_checked(h, start)?;
                self.state = State::Batch {
                    hc: c,
                    index: 0,
                    framing: header.descriptors().map(|d| Framing::new(*d)),
                };
                header
            }
            Kind::Single => {
                let mut rec = self.read_single_record(h)?;
                let header = self.parse_checked(h, start)?;
                if let Some(d) = header.descriptors() {
                    // A single-image stream is one untiled image without alpha (checked by the parse).
                    let mut f = Framing::new(*d);
                    rec.part = f.next(&rec.payload, &self.limits).ok();
                }
                self.next_index += 1;
                self.state = State::PendingSingle(rec);
                header
            }
        };
        self.streams += 1;
        Ok(Event::Header(StreamHeader {
            header: header.v1_view(),
            version: header.version(),
            descriptors: header.descriptors().copied(),
            offset: start,
            stream,
        }))
    }

    /// Reads the rest of a version-2 header whose prefix is in `h`: the model id, and for a header
    /// descriptor its length byte (checked by value: even parity, 4..=22) and the descriptor. Returns the
    /// header's length.
    fn read_header_v2_rest(&mut self, h: &mut [u8], start: u64) -> Result<usize> {
        // check_prefix accepted the flags, so the placement is valid.
        let placement = Placement::of_flags(h[OFF_FLAGS]).unwrap_or(Placement::Model);
        let fixed = if placement == Placement::InHeader {
            OFF_DESC
        } else {
            HEADER_LEN_V2_NO_DESC
        };
        let min = if placement == Placement::InHeader {
            OFF_DESC + DESC_MIN_LEN
        } else {
            HEADER_LEN_V2_NO_DESC
        };
        let rest = self.fill(&mut h[HEADER_PREFIX_LEN..fixed])?;
        if HEADER_PREFIX_LEN + rest < fixed {
            return Err(self.truncated_header(
                min,
                placement == Placement::InHeader,
                HEADER_PREFIX_LEN + rest,
            ));
        }
        if placement != Placement::InHeader {
            return Ok(fixed);
        }
        let d = match desc_len(h[OFF_DESC_LEN]) {
            Ok(d) => d,
            Err(e) => return Err(self.format_err(None, start + e.offset as u64, e.what)),
        };
        let len = OFF_DESC + d;
        let got = self.fill(&mut h[OFF_DESC..len])?;
        if OFF_DESC + got < len {
            return Err(self.truncated_header(len, false, OFF_DESC + got));
        }
        Ok(len)
    }

    fn truncated_header(&mut self, needed: usize, at_least: bool, available: usize) -> Error {
        let at = self.src.pos;
        self.format_err(
            None,
            at,
            FormatError::TruncatedHeader {
                needed: needed as u64,
                at_least,
                available: available as u64,
            },
        )
    }

    /// Parses a header whose CRC matched (batch) or whose stream's CRC matched (single image), checking
    /// the caller's limits on what it stores.
    fn parse_checked(&mut self, h: &[u8], start: u64) -> Result<AnyHeader> {
        match AnyHeader::parse(h, &self.limits) {
            Ok(x) => Ok(x),
            Err(e) => Err(self.field_err(None, start, e)),
        }
    }

    /// The error of a field at `base + e.offset`: a limit as [`Error::Limit`], the rest as
    /// [`Error::Format`].
    pub(super) fn field_err(&mut self, record: Option<u64>, base: u64, e: FieldError) -> Error {
        match e.what {
            FormatError::OverLimit {
                field,
                value,
                limit,
            } => {
                self.state = State::Done;
                Error::Limit {
                    at: self.location(record, base + e.offset as u64),
                    what: field,
                    value,
                    limit,
                }
            }
            what => self.format_err(record, base + e.offset as u64, what),
        }
    }
}
