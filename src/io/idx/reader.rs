//! [`IdxReader`]: header validation against [`IdxLimits`], then one record at a time, raw or gzipped.

use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

use super::{IdxHeader, IdxLimits, GZIP_MAGIC, MAGIC_IDX3_U8, MAGIC_IDX4_U8};
use crate::error::{Error, FormatError, Location, Result};
use crate::io::read_up_to as read_full;

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
            ndims: ndims as u8,
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
