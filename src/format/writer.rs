//! Writing streams: [`StreamWriter`] for batches, [`single_image`] for one-image files, of either version.

use std::io::{Error, ErrorKind, Write};

use super::consts::*;
use super::{crc32, head, record_crc, AnyHeader, Descriptors, ImageDesc, Kind};

/// Writes a batch stream (spec 2.4, 11.4): the header with its CRC at creation, one record per
/// [`StreamWriter::write_record`] (or [`StreamWriter::write_image`]), and the end marker at
/// [`StreamWriter::finish`].
///
/// Without `finish` the stream has no end marker, and every decoder reports it as truncated.
///
/// For a version-2 header the writer counts each image's records (`bands`, twice that with alpha; one
/// record per image without descriptors) and refuses, with [`ErrorKind::InvalidInput`], a record that
/// does not fit: an image of a per-image stream that does not start with [`StreamWriter::write_image`],
/// a `write_image` before the last image's records are all written, or a `finish` then. So it never
/// writes a stream that a reader refuses for its framing. Records stay opaque: what a payload holds is
/// the caller's.
#[derive(Debug)]
pub struct StreamWriter<W: Write> {
    w: W,
    hc: [u8; CRC_LEN],
    records: u64,
    bytes: u64,
    buf: Vec<u8>,
    /// Version 2: descriptor placement, records still to write of the current image, images begun.
    v2: Option<(Descriptors, u64, u64)>,
}

impl<W: Write> StreamWriter<W> {
    /// Writes the header (its kind is forced to [`Kind::Batch`]; see [`AnyHeader::stored_len`]) and the
    /// header CRC. A [`super::Header`] writes version 1, a [`super::HeaderV2`] version 2; a header that
    /// [`AnyHeader::validate`] refuses is refused with [`ErrorKind::InvalidInput`] before anything is
    /// written.
    pub fn new(mut w: W, header: impl Into<AnyHeader>) -> std::io::Result<Self> {
        let header = header.into().with_kind(Kind::Batch);
        if let AnyHeader::V2(_) = header {
            header.validate().map_err(|e| {
                Error::new(
                    ErrorKind::InvalidInput,
                    format!("invalid header: {}", e.what),
                )
            })?;
        }
        let h = header.to_bytes();
        let hc = crc32(&[&h]).to_le_bytes();
        let header_len = h.len();
        w.write_all(&h)?;
        w.write_all(&hc)?;
        Ok(StreamWriter {
            w,
            hc,
            records: 0,
            bytes: (header_len + CRC_LEN) as u64,
            buf: Vec::with_capacity(64),
            v2: header.descriptors().map(|d| (*d, 0, 0)),
        })
    }

    /// Writes one record: head, payload, CRC. Version 2: the next record of the current image, or the
    /// first of a new one when the stream's images share a description (no descriptor, or the header's);
    /// in a per-image stream an image starts with [`StreamWriter::write_image`].
    pub fn write_record(&mut self, payload: &[u8]) -> std::io::Result<()> {
        if let Some((descriptors, left, images)) = &mut self.v2 {
            if *left == 0 {
                *left = match descriptors {
                    Descriptors::Model => 1,
                    Descriptors::InHeader(d) => d.records(),
                    Descriptors::PerImage => return Err(invalid(
                        "a stream with per-image descriptors: start each image with write_image",
                    )),
                };
                *images += 1;
            }
            *left -= 1;
        }
        self.put(&[], payload)
    }

    /// Version 2 with per-image descriptors: writes the first record of a new image, `desc || payload`,
    /// after checking `desc` ([`ImageDesc::validate`]) and that the last image's records are all written.
    /// Then [`StreamWriter::write_record`] writes the image's other records (`desc.records() - 1`).
    pub fn write_image(&mut self, desc: &ImageDesc, payload: &[u8]) -> std::io::Result<()> {
        match &mut self.v2 {
            Some((Descriptors::PerImage, left, images)) => {
                if *left != 0 {
                    return Err(invalid(&format!(
                        "image {} still has {left} records to write",
                        *images - 1
                    )));
                }
                desc.validate()
                    .map_err(|e| invalid(&format!("invalid image descriptor: {}", e.what)))?;
                *left = desc.records() - 1;
                *images += 1;
            }
            _ => {
                return Err(invalid(
                    "write_image needs a version-2 stream with per-image descriptors",
                ))
            }
        }
        let mut d = Vec::with_capacity(DESC_MAX_LEN);
        desc.write(&mut d);
        self.put(&d, payload)
    }

    /// Writes a record whose payload is `prefix || payload`.
    fn put(&mut self, prefix: &[u8], payload: &[u8]) -> std::io::Result<()> {
        let n = u32::try_from(prefix.len() + payload.len())
            .map_err(|_| Error::new(ErrorKind::InvalidInput, "payload over 4 GiB"))?;
        self.buf.clear();
        head::write(n, &mut self.buf);
        let crc = crc32(&[
            &self.hc,
            &self.records.to_le_bytes(),
            &self.buf,
            prefix,
            payload,
        ]);
        self.buf.extend_from_slice(prefix);
        self.buf.extend_from_slice(payload);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.w.write_all(&self.buf)?;
        self.records += 1;
        self.bytes += self.buf.len() as u64;
        Ok(())
    }

    /// Flushes the inner writer.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }

    /// The inner writer.
    pub fn get_ref(&self) -> &W {
        &self.w
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Images begun so far: the records for version 1, the images counted for version 2.
    pub fn images(&self) -> u64 {
        self.v2.map_or(self.records, |(_, _, images)| images)
    }

    /// Bytes written so far (header included; the end marker once finished).
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Writes the end marker, flushes, and returns the writer. Version 2: refused
    /// ([`ErrorKind::InvalidInput`], nothing written) while the last image has records to write.
    pub fn finish(mut self) -> std::io::Result<W> {
        if let Some((_, left, images)) = self.v2 {
            if left != 0 {
                return Err(invalid(&format!(
                    "image {} still has {left} records to write",
                    images - 1
                )));
            }
        }
        let crc = record_crc(&self.hc, self.records, &[END_MARKER], &[]);
        let mut end = [END_MARKER; END_MARKER_LEN];
        end[1..].copy_from_slice(&crc.to_le_bytes());
        self.w.write_all(&end)?;
        self.w.flush()?;
        Ok(self.w)
    }
}

fn invalid(message: &str) -> Error {
    Error::new(ErrorKind::InvalidInput, message.to_string())
}

/// The bytes of a one-image stream (spec 2.3, 11.4): header (kind forced to [`Kind::Single`]), head,
/// payload, CRC of all of it. A [`super::Header`] writes version 1, a [`super::HeaderV2`] version 2.
///
/// A version-2 single-image stream is one untiled image without alpha, described by no descriptor or the
/// header's; a header that breaks that (per-image descriptors, a tiled or alpha descriptor) gives bytes
/// that every reader refuses: check it with [`AnyHeader::validate`] first.
pub fn single_image(header: impl Into<AnyHeader>, payload: &[u8]) -> Vec<u8> {
    let header = header.into().with_kind(Kind::Single);
    debug_assert!(
        matches!(header, AnyHeader::V1(_)) || header.validate().is_ok(),
        "single_image: invalid version-2 header {header:?}"
    );
    let mut out =
        Vec::with_capacity(header.stored_len() + 1 + HEAD_EXTENDED_LEN + payload.len() + CRC_LEN);
    out.extend_from_slice(&header.to_bytes());
    // A payload longer than u32::MAX cannot be produced by any coder (limits are far below).
    head::write(payload.len().min(u32::MAX as usize) as u32, &mut out);
    out.extend_from_slice(payload);
    let crc = crc32(&[&out]);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}
