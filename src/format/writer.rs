//! Writing streams: [`StreamWriter`] for batches, [`single_image`] for one-image files.

use std::io::Write;

use super::consts::*;
use super::{crc32, head, record_crc, Header, Kind};

/// Writes a batch stream (spec 2.4): the header with its CRC at creation, one record per
/// [`StreamWriter::write_record`], and the end marker at [`StreamWriter::finish`].
///
/// Without `finish` the stream has no end marker, and every decoder reports it as truncated.
#[derive(Debug)]
pub struct StreamWriter<W: Write> {
    w: W,
    hc: [u8; CRC_LEN],
    records: u64,
    bytes: u64,
    buf: Vec<u8>,
}

impl<W: Write> StreamWriter<W> {
    /// Writes the header (its kind is forced to [`Kind::Batch`]; 13 or 17 bytes, see
    /// [`Header::stored_len`]) and the header CRC.
    pub fn new(mut w: W, header: Header) -> std::io::Result<Self> {
        let h = Header {
            kind: Kind::Batch,
            ..header
        }
        .to_bytes();
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
        })
    }

    /// Writes one record: head, payload, CRC.
    pub fn write_record(&mut self, payload: &[u8]) -> std::io::Result<()> {
        let n = u32::try_from(payload.len()).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "payload over 4 GiB")
        })?;
        self.buf.clear();
        head::write(n, &mut self.buf);
        let crc = record_crc(&self.hc, self.records, &self.buf, payload);
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

    /// Bytes written so far (header included; the end marker once finished).
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    /// Writes the end marker, flushes, and returns the writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        let crc = record_crc(&self.hc, self.records, &[END_MARKER], &[]);
        let mut end = [END_MARKER; END_MARKER_LEN];
        end[1..].copy_from_slice(&crc.to_le_bytes());
        self.w.write_all(&end)?;
        self.w.flush()?;
        Ok(self.w)
    }
}

/// The bytes of a one-image stream (spec 2.3): header (kind forced to [`Kind::Single`]), head, payload,
/// CRC of all of it.
pub fn single_image(header: Header, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        SINGLE_OVERHEAD + EXPLICIT_GEOMETRY_OVERHEAD + HEAD_EXTENDED_LEN + payload.len(),
    );
    out.extend_from_slice(
        &Header {
            kind: Kind::Single,
            ..header
        }
        .to_bytes(),
    );
    // A payload longer than u32::MAX cannot be produced by any coder (limits are far below).
    head::write(payload.len().min(u32::MAX as usize) as u32, &mut out);
    out.extend_from_slice(payload);
    let crc = crc32(&[&out]);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}
