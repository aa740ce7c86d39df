//! IDX files of 8-bit images (the MNIST / Fashion-MNIST format), read and written record by record.
//!
//! An IDX image file is a 4-byte magic, big-endian `u32` dimensions, then the samples:
//!
//! | magic | dims | layout |
//! |---|---|---|
//! | `00 00 08 03` | count, rows, cols | gray images (1 channel) |
//! | `00 00 08 04` | count, rows, cols, channels (1 or 3) | interleaved samples |
//!
//! [`IdxReader`] accepts the file raw or gzip-compressed (detected by the `1f 8b` magic), checks the header
//! against [`IdxLimits`] before allocating anything, then reads one record at a time, so a 10,000-image file
//! never sits in memory whole. Byte offsets in its errors count bytes of the *uncompressed* IDX stream
//! (for a raw file, the file offset). [`IdxWriter`] writes records as they come and patches the count into
//! the header at the end, so it needs a seekable sink (a temporary file, or a `Cursor` when the result goes
//! to a pipe).

use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use super::read_up_to as read_full;
use crate::error::{Error, FormatError, Location, Result};

/// Magic of an IDX file of unsigned bytes with 3 dimensions (count, rows, cols).
pub const MAGIC_IDX3_U8: [u8; 4] = [0, 0, 0x08, 0x03];
/// Magic of an IDX file of unsigned bytes with 4 dimensions (count, rows, cols, channels).
pub const MAGIC_IDX4_U8: [u8; 4] = [0, 0, 0x08, 0x04];
/// The two bytes every gzip member starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Limits an [`IdxReader`] checks on the header before it allocates or reads any record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdxLimits {
    /// Most images a file may declare.
    pub max_count: u32,
    /// Largest number of rows or columns.
    pub max_side: u32,
    /// Largest record (rows * cols * channels bytes).
    pub max_record_bytes: u64,
}

impl Default for IdxLimits {
    /// 100 million images, sides up to 4096 (the model bundle's limit), records up to 48 MiB
    /// (4096 x 4096 x 3).
    fn default() -> Self {
        IdxLimits {
            max_count: 100_000_000,
            max_side: 4096,
            max_record_bytes: 4096 * 4096 * 3,
        }
    }
}

/// The header of an IDX image file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdxHeader {
    /// Number of images the file declares.
    pub count: u32,
    /// Image height.
    pub rows: u32,
    /// Image width.
    pub cols: u32,
    /// Samples per pixel: 1 (gray) or 3 (RGB); always 1 for an IDX3 file.
    pub channels: u8,
}

impl IdxHeader {
    /// Bytes of one record (`rows * cols * channels`).
    pub fn record_bytes(&self) -> u64 {
        u64::from(self.rows) * u64::from(self.cols) * u64::from(self.channels)
    }

    /// Bytes of the header itself: 16 for IDX3, 20 for IDX4.
    pub fn header_bytes(&self) -> u64 {
        if self.channels == 1 {
            16
        } else {
            20
        }
    }

    /// Encodes the header (IDX3 for one channel, IDX4 otherwise).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20);
        if self.channels == 1 {
            out.extend_from_slice(&MAGIC_IDX3_U8);
        } else {
            out.extend_from_slice(&MAGIC_IDX4_U8);
        }
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&self.rows.to_be_bytes());
        out.extend_from_slice(&self.cols.to_be_bytes());
        if self.channels != 1 {
            out.extend_from_slice(&u32::from(self.channels).to_be_bytes());
        }
        out
    }
}

/// True when `bytes` start like an IDX image file (raw) or like gzip (which an IDX reader would try).
pub fn looks_like_idx(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
        || bytes.starts_with(&MAGIC_IDX3_U8)
        || bytes.starts_with(&MAGIC_IDX4_U8)
}

/// A streaming reader of an IDX image file, raw or gzipped. Also an `Iterator` of records.
pub struct IdxReader<R> {
    inner: R,
    name: Option<PathBuf>,
    header: IdxHeader,
    /// Records read so far.
    next: u32,
    /// Offset in the uncompressed stream of the next unread byte.
    offset: u64,
    failed: bool,
}

impl<R> std::fmt::Debug for IdxReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdxReader")
            .field("name", &self.name)
            .field("header", &self.header)
            .field("next", &self.next)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl IdxReader<Box<dyn Read + Send>> {
    /// Opens an IDX file, raw or gzipped.
    pub fn open(path: &Path, limits: IdxLimits) -> Result<Self> {
        let file = std::fs::File::open(path)
            .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
        Self::from_reader(file, Some(path.to_path_buf()), limits)
    }

    /// Reads an IDX stream, raw or gzipped (detected by its first two bytes). `name` is used in errors.
    pub fn from_reader<S: Read + Send + 'static>(
        source: S,
        name: Option<PathBuf>,
        limits: IdxLimits,
    ) -> Result<Self> {
        // Peek at the first two bytes without losing them: read them, then chain them back in front.
        let mut source = source;
        let mut head = [0u8; 2];
        let got = read_full(&mut source, &mut head)
            .map_err(|e| Error::io(format!("cannot read {}", display_name(name.as_deref())), e))?;
        let gz = got == 2 && head == GZIP_MAGIC;
        let buffered = BufReader::with_capacity(
            64 * 1024,
            std::io::Cursor::new(head[..got].to_vec()).chain(source),
        );
        let inner: Box<dyn Read + Send> = if gz {
            Box::new(MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        IdxReader::new(inner, name, limits)
    }
}

fn display_name(name: Option<&Path>) -> String {
    match name {
        Some(p) => p.display().to_string(),
        None => "<stdin>".to_string(),
    }
}

impl<R: Read> IdxReader<R> {
    /// Reads and validates the header of an uncompressed IDX stream.
    pub fn new(mut inner: R, name: Option<PathBuf>, limits: IdxLimits) -> Result<Self> {
        let at = |offset: u64| Location {
            file: Some(name.clone().unwrap_or_else(|| PathBuf::from("<stdin>"))),
            record: None,
            offset,
        };
        let mut magic = [0u8; 4];
        read_exact_or(&mut inner, &mut magic, || Error::Format {
            at: at(0),
            what: FormatError::input("not an IDX file: shorter than the 4-byte magic".to_string()),
        })?;
        let ndims = match magic {
            MAGIC_IDX3_U8 => 3,
            MAGIC_IDX4_U8 => 4,
            [0, 0, 0x08, n] => {
                return Err(Error::Format {
                    at: at(3),
                    what: FormatError::input(format!(
                        "IDX file of unsigned bytes with {n} dimensions; images need 3 \
                         (count, rows, cols) or 4 (count, rows, cols, channels)"
                    )),
                })
            }
            [0, 0, t, _] => {
                return Err(Error::Format {
                    at: at(2),
                    what: FormatError::input(format!(
                        "IDX element type 0x{t:02x} is not unsigned bytes (0x08)"
                    )),
                })
            }
            _ => {
                return Err(Error::Format {
                    at: at(0),
                    what: FormatError::input(format!(
                    "not an IDX file: magic is {:02x} {:02x} {:02x} {:02x}, expected 00 00 08 03",
                    magic[0], magic[1], magic[2], magic[3]
                )),
                })
            }
        };
        let mut dims = [0u32; 4];
        for (i, d) in dims.iter_mut().take(ndims).enumerate() {
            let mut b = [0u8; 4];
            read_exact_or(&mut inner, &mut b, || Error::Format {
                at: at(4 + 4 * i as u64),
                what: FormatError::input(format!("truncated IDX header: dimension {i} missing")),
            })?;
            *d = u32::from_be_bytes(b);
        }
        let (count, rows, cols) = (dims[0], dims[1], dims[2]);
        let channels = if ndims == 4 { dims[3] } else { 1 };
        if count > limits.max_count {
            return Err(Error::Limit {
                at: at(4),
                what: "IDX image count",
                value: count.into(),
                limit: limits.max_count.into(),
            });
        }
        for (i, (what, v)) in [("IDX rows", rows), ("IDX columns", cols)]
            .iter()
            .enumerate()
        {
            if *v == 0 {
                return Err(Error::Format {
                    at: at(8 + 4 * i as u64),
                    what: FormatError::input(format!("{what} is 0")),
                });
            }
            if *v > limits.max_side {
                return Err(Error::Limit {
                    at: at(8 + 4 * i as u64),
                    what,
                    value: (*v).into(),
                    limit: limits.max_side.into(),
                });
            }
        }
        if channels != 1 && channels != 3 {
            return Err(Error::Format {
                at: at(16),
                what: FormatError::input(format!("IDX channels is {channels}, expected 1 or 3")),
            });
        }
        let header = IdxHeader {
            count,
            rows,
            cols,
            channels: channels as u8,
        };
        if header.record_bytes() > limits.max_record_bytes {
            return Err(Error::Limit {
                at: at(8),
                what: "IDX record size in bytes",
                value: header.record_bytes(),
                limit: limits.max_record_bytes,
            });
        }
        let offset = header.header_bytes();
        Ok(IdxReader {
            inner,
            name,
            header,
            next: 0,
            offset,
            failed: false,
        })
    }

    /// The validated header.
    pub fn header(&self) -> &IdxHeader {
        &self.header
    }

    /// The file name used in errors (`None` for stdin).
    pub fn name(&self) -> Option<&Path> {
        self.name.as_deref()
    }

    /// Index of the next record [`IdxReader::next_record`] will return (the number of records read so far).
    pub fn records_read(&self) -> u32 {
        self.next
    }

    fn location(&self, record: Option<u64>, offset: u64) -> Location {
        Location {
            file: Some(
                self.name
                    .clone()
                    .unwrap_or_else(|| PathBuf::from("<stdin>")),
            ),
            record,
            offset,
        }
    }

    /// Reads the next record into `buf` (resized to the record size). Returns `Ok(false)` after the last
    /// record, once it has checked that nothing follows it.
    pub fn read_record(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        if self.failed {
            return Ok(false);
        }
        let result = self.read_record_inner(buf);
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    fn read_record_inner(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        if self.next == self.header.count {
            // Anything after the declared records is an error, not silently ignored data.
            let mut probe = [0u8; 1];
            let n = read_full(&mut self.inner, &mut probe).map_err(|e| self.io_error(e))?;
            if n > 0 {
                return Err(Error::Format {
                    at: self.location(None, self.offset),
                    what: FormatError::input(format!(
                        "data after the last of the {} records the IDX header declares",
                        self.header.count
                    )),
                });
            }
            return Ok(false);
        }
        // record_bytes() was checked against the limits in new(), so it fits in usize here.
        let len = self.header.record_bytes() as usize;
        buf.resize(len, 0);
        let got = read_full(&mut self.inner, buf).map_err(|e| self.io_error(e))?;
        if got < len {
            return Err(Error::Format {
                at: self.location(Some(self.next.into()), self.offset + got as u64),
                what: FormatError::input(format!(
                    "truncated IDX file: record needs {len} bytes, only {got} left (the header declares {} records)",
                    self.header.count
                )),
            });
        }
        self.offset += len as u64;
        self.next += 1;
        Ok(true)
    }

    fn io_error(&self, e: std::io::Error) -> Error {
        let what = format!(
            "{}: record {}, byte offset {}",
            display_name(self.name.as_deref()),
            self.next,
            self.offset
        );
        if is_gzip_damage(&e) {
            // flate2 reports corrupt or cut gzip data this way.
            Error::Format {
                at: self.location(Some(self.next.into()), self.offset),
                what: FormatError::input(format!("corrupt or truncated gzip data: {e}")),
            }
        } else {
            Error::io(format!("cannot read {what}"), e)
        }
    }

    /// Reads the next record as a new vector; `Ok(None)` at the end.
    pub fn next_record(&mut self) -> Result<Option<Vec<u8>>> {
        let mut buf = Vec::new();
        Ok(self.read_record(&mut buf)?.then_some(buf))
    }
}

impl<R: Read> Iterator for IdxReader<R> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// The errors flate2 gives for damaged or cut gzip data (as opposed to failures of the underlying reader).
fn is_gzip_damage(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::InvalidInput
            | std::io::ErrorKind::InvalidData
            | std::io::ErrorKind::UnexpectedEof
    )
}

fn read_exact_or<R: Read>(r: &mut R, buf: &mut [u8], short: impl FnOnce() -> Error) -> Result<()> {
    match read_full(r, buf) {
        Ok(n) if n == buf.len() => Ok(()),
        Ok(_) => Err(short()),
        Err(e) if is_gzip_damage(&e) => {
            let mut err = short();
            if let Error::Format { what, .. } = &mut err {
                *what = FormatError::input(format!("corrupt or truncated gzip data: {e}"));
            }
            Err(err)
        }
        Err(e) => Err(Error::io("cannot read IDX header", e)),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn idx(count: u32, rows: u32, cols: u32, records: &[u8]) -> Vec<u8> {
        let mut v = MAGIC_IDX3_U8.to_vec();
        for d in [count, rows, cols] {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v.extend_from_slice(records);
        v
    }

    fn reader(bytes: Vec<u8>) -> Result<IdxReader<Box<dyn Read + Send>>> {
        IdxReader::from_reader(
            Cursor::new(bytes),
            Some("t.idx".into()),
            IdxLimits::default(),
        )
    }

    #[test]
    fn reads_records_then_end() {
        let mut r = reader(idx(2, 2, 3, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12])).unwrap();
        assert_eq!(
            *r.header(),
            IdxHeader {
                count: 2,
                rows: 2,
                cols: 3,
                channels: 1
            }
        );
        assert_eq!(r.next_record().unwrap(), Some(vec![1, 2, 3, 4, 5, 6]));
        assert_eq!(r.next_record().unwrap(), Some(vec![7, 8, 9, 10, 11, 12]));
        assert_eq!(r.next_record().unwrap(), None);
    }

    #[test]
    fn reads_gzip() {
        use flate2::write::GzEncoder;
        let raw = idx(1, 1, 2, &[9, 8]);
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&raw).unwrap();
        let recs: Vec<_> = reader(gz.finish().unwrap())
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(recs, vec![vec![9, 8]]);
    }

    #[test]
    fn truncated_record_names_record_and_offset() {
        let mut r = reader(idx(2, 2, 2, &[1, 2, 3, 4, 5])).unwrap();
        assert!(r.next_record().unwrap().is_some());
        let err = r.next_record().unwrap_err();
        match &err {
            Error::Format { at, .. } => {
                assert_eq!(at.record, Some(1));
                assert_eq!(at.offset, 16 + 4 + 1);
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err
            .to_string()
            .starts_with("t.idx: record 1, byte offset 21: truncated"));
        // After an error the iterator ends.
        assert!(r.next().is_none());
    }

    #[test]
    fn trailing_data_is_an_error() {
        let mut r = reader(idx(1, 1, 1, &[1, 2])).unwrap();
        assert!(r.next_record().unwrap().is_some());
        let err = r.next_record().unwrap_err().to_string();
        assert!(
            err.contains("byte offset 17") && err.contains("after the last"),
            "{err}"
        );
    }

    #[test]
    fn bad_magic_and_limits_refused_before_reading() {
        let err = reader(b"\x89PNG\r\n\x1a\n".to_vec())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an IDX file"), "{err}");
        let err = reader(vec![0, 0, 8, 1, 0, 0, 0, 1])
            .unwrap_err()
            .to_string();
        assert!(err.contains("1 dimensions"), "{err}");
        let err = reader(vec![0, 0, 0x0d, 3]).unwrap_err().to_string();
        assert!(err.contains("0x0d"), "{err}");
        // Huge dimensions: a Limit error, not an allocation.
        let err = reader(idx(1, 1 << 20, 1 << 20, &[])).unwrap_err();
        assert!(matches!(err, Error::Limit { .. }), "{err:?}");
        let limits = IdxLimits {
            max_count: 10,
            ..IdxLimits::default()
        };
        let err = IdxReader::new(Cursor::new(idx(11, 1, 1, &[0; 11])), None, limits).unwrap_err();
        assert!(
            err.to_string()
                .contains("IDX image count is 11, over the limit of 10"),
            "{err}"
        );
        let err = reader(idx(1, 0, 5, &[])).unwrap_err().to_string();
        assert!(err.contains("rows is 0"), "{err}");
        let err = reader(vec![0, 0, 8, 3, 0, 0]).unwrap_err().to_string();
        assert!(
            err.contains("byte offset 4") && err.contains("dimension 0"),
            "{err}"
        );
    }

    #[test]
    fn writer_patches_count_and_round_trips() {
        let mut w = IdxWriter::new(Cursor::new(Vec::new()), 2, 2, 1).unwrap();
        w.write_record(&[1, 2, 3, 4]).unwrap();
        w.write_record(&[5, 6, 7, 8]).unwrap();
        assert!(w.write_record(&[1]).is_err());
        let bytes = w.finish().unwrap().into_inner();
        assert_eq!(bytes, idx(2, 2, 2, &[1, 2, 3, 4, 5, 6, 7, 8]));

        let mut w = IdxWriter::new(Cursor::new(Vec::new()), 1, 2, 3).unwrap();
        w.write_record(&[1, 2, 3, 4, 5, 6]).unwrap();
        let bytes = w.finish().unwrap().into_inner();
        assert_eq!(&bytes[..4], &MAGIC_IDX4_U8);
        let mut r = reader(bytes).unwrap();
        assert_eq!(r.header().channels, 3);
        assert_eq!(r.next_record().unwrap(), Some(vec![1, 2, 3, 4, 5, 6]));
        assert_eq!(r.next_record().unwrap(), None);
    }

    /// Returns at most one byte per `read` call, like a slow pipe.
    struct OneByte(Cursor<Vec<u8>>);

    impl Read for OneByte {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(1);
            self.0.read(&mut buf[..n])
        }
    }

    #[test]
    fn one_byte_reads_give_the_same_records() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/idx");
        for name in ["fmnist-t10k-64.idx", "fmnist-t10k-64.idx.gz"] {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            let whole: Vec<_> = reader(bytes.clone())
                .unwrap()
                .collect::<Result<_>>()
                .unwrap();
            let slow: Vec<_> =
                IdxReader::from_reader(OneByte(Cursor::new(bytes)), None, IdxLimits::default())
                    .unwrap()
                    .collect::<Result<_>>()
                    .unwrap();
            assert_eq!(whole.len(), 64);
            assert_eq!(whole, slow, "{name}");
        }
    }

    #[test]
    fn corrupt_gzip_is_a_format_error() {
        let gz = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/idx/fmnist-t10k-64.idx.gz"),
        )
        .unwrap();
        // Cut the gzip stream short: the records it still holds come out, then an error with a location.
        let mut r = reader(gz[..gz.len() / 2].to_vec()).unwrap();
        let mut n = 0;
        let err = loop {
            match r.next_record() {
                Ok(Some(_)) => n += 1,
                Ok(None) => panic!("a cut gzip stream must not end cleanly"),
                Err(e) => break e,
            }
        };
        assert!(n > 0 && n < 64, "{n}");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("t.idx: record {n}, byte offset ")),
            "{text}"
        );
    }

    #[test]
    fn fixture_idx_raw_and_gz_agree() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/idx");
        let raw: Vec<_> = IdxReader::open(&dir.join("fmnist-t10k-64.idx"), IdxLimits::default())
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        let gz: Vec<_> = IdxReader::open(&dir.join("fmnist-t10k-64.idx.gz"), IdxLimits::default())
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(raw.len(), 64);
        assert_eq!(raw, gz);
        assert!(raw.iter().all(|r| r.len() == 784));
    }
}
