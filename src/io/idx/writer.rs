//! [`IdxWriter`]: records written as they come, the count patched into the header at the end.

use std::io::{Seek, SeekFrom, Write};

use super::IdxHeader;
use crate::error::{Error, Location, Result};

/// Writes an IDX image file record by record; [`IdxWriter::finish`] patches the record count into the
/// header, so the sink must be seekable (a file, or a `Cursor<Vec<u8>>` to be copied to a pipe after).
#[derive(Debug)]
pub struct IdxWriter<W: Write + Seek> {
    inner: W,
    header: IdxHeader,
    start: u64,
    written: u32,
}

impl<W: Write + Seek> IdxWriter<W> {
    /// Starts an IDX file of `rows` x `cols` images with `channels` (1 or 3) samples per pixel, at the
    /// sink's current position.
    pub fn new(mut inner: W, rows: u32, cols: u32, channels: u8) -> Result<Self> {
        if channels != 1 && channels != 3 {
            return Err(Error::InvalidArgument {
                what: "IDX channels",
                value: channels.to_string(),
                expected: "1 or 3".into(),
            });
        }
        let header = IdxHeader {
            count: 0,
            rows,
            cols,
            channels,
            // Gray images as IDX3 (what MNIST tools read), colour as IDX4.
            ndims: if channels == 1 { 3 } else { 4 },
        };
        let start = inner
            .stream_position()
            .map_err(|e| Error::io("cannot write IDX header", e))?;
        inner
            .write_all(&header.to_bytes())
            .map_err(|e| Error::io("cannot write IDX header", e))?;
        Ok(IdxWriter {
            inner,
            header,
            start,
            written: 0,
        })
    }

    /// Appends one record of exactly `rows * cols * channels` bytes.
    pub fn write_record(&mut self, pixels: &[u8]) -> Result<()> {
        if pixels.len() as u64 != self.header.record_bytes() {
            return Err(Error::InvalidArgument {
                what: "IDX record length",
                value: pixels.len().to_string(),
                expected: format!(
                    "{} ({}x{}x{})",
                    self.header.record_bytes(),
                    self.header.cols,
                    self.header.rows,
                    self.header.channels
                ),
            });
        }
        if self.written == u32::MAX {
            return Err(Error::Limit {
                at: Location::default(),
                what: "IDX image count",
                value: u64::from(u32::MAX) + 1,
                limit: u32::MAX.into(),
            });
        }
        self.inner
            .write_all(pixels)
            .map_err(|e| Error::io(format!("cannot write IDX record {}", self.written), e))?;
        self.written += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn count(&self) -> u32 {
        self.written
    }

    /// Patches the count into the header, flushes, and returns the sink positioned at the end.
    pub fn finish(mut self) -> Result<W> {
        let end = self
            .inner
            .stream_position()
            .map_err(|e| Error::io("cannot finish IDX file", e))?;
        self.inner
            .seek(SeekFrom::Start(self.start + 4))
            .and_then(|_| self.inner.write_all(&self.written.to_be_bytes()))
            .and_then(|_| self.inner.seek(SeekFrom::Start(end)))
            .and_then(|_| self.inner.flush())
            .map_err(|e| Error::io("cannot finish IDX file", e))?;
        Ok(self.inner)
    }
}
