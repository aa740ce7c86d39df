//! The record-level half of [`StreamReader`]: heads, payloads, CRCs and end markers.

use std::io::Read;

use super::super::consts::*;
use super::super::head::{self, Head};
use super::super::{crc32, record_crc};
use super::{Framing, Record, State, StreamReader};
use crate::error::{Error, FormatError, Result};

impl<R: Read> StreamReader<R> {
    pub(super) fn crc_err(
        &mut self,
        record: Option<u64>,
        offset: u64,
        field: &'static str,
        stored: u32,
        computed: u32,
    ) -> Error {
        let message = match field {
            "header" => format!(
                "header CRC mismatch: stored 0x{stored:08x}, computed 0x{computed:08x} (damaged header)"
            ),
            "file" => format!(
                "CRC mismatch: stored 0x{stored:08x}, computed 0x{computed:08x} (damaged file)"
            ),
            _ => format!(
                "record CRC mismatch: stored 0x{stored:08x}, computed 0x{computed:08x} (damaged record)"
            ),
        };
        self.format_err(
            record,
            offset,
            FormatError::CrcMismatch {
                field,
                stored,
                computed,
                message,
            },
        )
    }

    /// The record of a single-image stream whose header `h` was read: head, payload, file CRC.
    pub(super) fn read_single_record(&mut self, h: &[u8]) -> Result<Record> {
        let index = self.next_index;
        let head_off = self.src.pos;
        let mut hb = [0u8; 1];
        self.exact(&mut hb, Some(index), "the record head")?;
        let mut head_bytes = vec![hb[0]];
        let n = match head::parse(hb[0]) {
            Err(what) => return Err(self.format_err(Some(index), head_off, what)),
            Ok(Head::End) => {
                return Err(self.format_err(
                    Some(index),
                    head_off,
                    FormatError::field(
                        "record head",
                        0,
                        "a payload length",
                        "a single-image stream has no end marker (head 0x00 is invalid here)"
                            .into(),
                    ),
                ))
            }
            Ok(Head::Len(n)) => n,
            Ok(Head::Extended) => self.read_extended(index, head_off, &mut head_bytes)?,
        };
        self.check_payload_len(n, index, head_off)?;
        let payload_offset = self.src.pos;
        let mut payload = vec![0u8; n as usize];
        self.exact(&mut payload, Some(index), "the payload")?;
        let crc_off = self.src.pos;
        let mut c = [0u8; CRC_LEN];
        self.exact(&mut c, Some(index), "the file CRC")?;
        let (stored, computed) = (u32::from_le_bytes(c), crc32(&[h, &head_bytes, &payload]));
        if stored != computed {
            return Err(self.crc_err(Some(index), crc_off, "file", stored, computed));
        }
        Ok(Record {
            index,
            index_in_stream: 0,
            offset: head_off,
            payload_offset,
            payload,
            part: None,
        })
    }

    pub(super) fn read_extended(
        &mut self,
        index: u64,
        head_off: u64,
        head_bytes: &mut Vec<u8>,
    ) -> Result<u32> {
        let mut x = [0u8; HEAD_EXTENDED_LEN - 1];
        self.exact(&mut x, Some(index), "the extended record length")?;
        head_bytes.extend_from_slice(&x);
        match head::parse_extended(&x) {
            Ok(n) => Ok(n),
            Err(what) => Err(self.format_err(Some(index), head_off + 1, what)),
        }
    }

    pub(super) fn check_payload_len(&mut self, n: u32, index: u64, head_off: u64) -> Result<()> {
        if n > self.limits.max_payload {
            self.state = State::Done;
            return Err(Error::Limit {
                at: self.location(Some(index), head_off),
                what: "record payload length",
                value: n.into(),
                limit: self.limits.max_payload.into(),
            });
        }
        Ok(())
    }

    /// Reads a record or the end marker of a batch stream. `Ok(None)`: end marker read and checked.
    pub(super) fn read_batch_item(
        &mut self,
        hc: [u8; CRC_LEN],
        index: u64,
        mut framing: Option<Framing>,
    ) -> Result<Option<Record>> {
        let global = self.next_index;
        let head_off = self.src.pos;
        let mut hb = [0u8; 1];
        if self.fill(&mut hb)? == 0 {
            return Err(self.format_err(
                Some(global),
                head_off,
                FormatError::MissingEndMarker { records: index },
            ));
        }
        let mut head_bytes = vec![hb[0]];
        let n = match head::parse(hb[0]) {
            Err(what) => return Err(self.format_err(Some(global), head_off, what)),
            Ok(Head::End) => {
                let mut c = [0u8; CRC_LEN];
                self.exact(&mut c, None, "the end marker's CRC")?;
                let (stored, computed) = (
                    u32::from_le_bytes(c),
                    record_crc(&hc, index, &[END_MARKER], &[]),
                );
                if stored != computed {
                    let message = format!(
                        "end marker CRC mismatch after {index} records: stored 0x{stored:08x}, computed \
                         0x{computed:08x} (damaged marker, or records missing or added)"
                    );
                    return Err(self.format_err(
                        None,
                        head_off,
                        FormatError::CrcMismatch {
                            field: "end marker",
                            stored,
                            computed,
                            message,
                        },
                    ));
                }
                if let Some((image, records, expected)) = framing.and_then(|f| f.incomplete()) {
                    return Err(self.format_err(
                        None,
                        head_off,
                        FormatError::IncompleteImage {
                            image,
                            records,
                            expected,
                        },
                    ));
                }
                self.state = State::BetweenStreams;
                return Ok(None);
            }
            Ok(Head::Len(n)) => n,
            Ok(Head::Extended) => self.read_extended(global, head_off, &mut head_bytes)?,
        };
        if index >= self.limits.max_records {
            self.state = State::Done;
            return Err(Error::Limit {
                at: self.location(Some(global), head_off),
                what: "records in one stream",
                value: index + 1,
                limit: self.limits.max_records,
            });
        }
        self.check_payload_len(n, global, head_off)?;
        let payload_offset = self.src.pos;
        let mut payload = vec![0u8; n as usize];
        self.exact(&mut payload, Some(global), "the record payload")?;
        let mut c = [0u8; CRC_LEN];
        self.exact(&mut c, Some(global), "the record CRC")?;
        let (stored, computed) = (
            u32::from_le_bytes(c),
            record_crc(&hc, index, &head_bytes, &payload),
        );
        if stored != computed {
            return Err(self.crc_err(Some(global), head_off, "record", stored, computed));
        }
        // Version 2: which image, band and plane (a per-image descriptor is parsed here, after the CRC).
        let part = match framing.as_mut() {
            None => None,
            Some(f) => match f.next(&payload, &self.limits) {
                Ok(p) => Some(p),
                Err(e) => return Err(self.field_err(Some(global), payload_offset, e)),
            },
        };
        self.state = State::Batch {
            hc,
            index: index + 1,
            framing,
        };
        self.next_index += 1;
        Ok(Some(Record {
            index: global,
            index_in_stream: index,
            offset: head_off,
            payload_offset,
            payload,
            part,
        }))
    }
}
