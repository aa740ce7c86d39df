//! [`IdxSink`]: a batch written as one IDX file (raw or gzipped), atomically, or buffered for a pipe.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use aez::io::IdxWriter;
use aez::model::Geometry;
use aez::Error;

use super::AtomicFile;
use crate::error::CliResult;

/// Where an IDX batch goes: a file (atomically) or a writer such as stdout (buffered, since the count in
/// the header is known only at the end).
#[derive(Debug)]
enum IdxTarget {
    File(AtomicFile),
    Buffer(std::io::Cursor<Vec<u8>>),
}

impl Write for IdxTarget {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            IdxTarget::File(f) => f.write(buf),
            IdxTarget::Buffer(b) => b.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            IdxTarget::File(f) => f.flush(),
            IdxTarget::Buffer(b) => b.flush(),
        }
    }
}

impl Seek for IdxTarget {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        match self {
            IdxTarget::File(f) => f.seek(pos),
            IdxTarget::Buffer(b) => b.seek(pos),
        }
    }
}

/// A batch sink writing an IDX file (`.idx`, or gzipped when `gzip`). Nothing reaches the target before
/// [`IdxSink::finish_to`]; dropping the sink (after an error) leaves no file. Calling `finish_to` after an
/// error keeps the good records (the CLI's `--partial`).
#[derive(Debug)]
pub struct IdxSink {
    writer: IdxWriter<IdxTarget>,
    gzip: bool,
    /// Bytes a buffered (stdout) sink may hold.
    max_buffer: u64,
}

/// Most bytes an [`IdxSink`] for a pipe buffers (the whole file waits for its count): 2 GiB.
pub const MAX_IDX_BUFFER: u64 = 2 << 30;

impl IdxSink {
    /// An IDX sink to a file, written atomically.
    pub fn to_file(target: &Path, geometry: Geometry, gzip: bool, force: bool) -> CliResult<Self> {
        let f = AtomicFile::create(target, force)?;
        Ok(IdxSink {
            writer: IdxWriter::new(
                IdxTarget::File(f),
                geometry.height,
                geometry.width,
                geometry.channels,
            )?,
            gzip,
            max_buffer: u64::MAX,
        })
    }

    /// An IDX sink to memory, handed to a writer (stdout) by [`IdxSink::finish_to`].
    pub fn buffered(geometry: Geometry, gzip: bool) -> CliResult<Self> {
        Ok(IdxSink {
            writer: IdxWriter::new(
                IdxTarget::Buffer(std::io::Cursor::new(Vec::new())),
                geometry.height,
                geometry.width,
                geometry.channels,
            )?,
            gzip,
            max_buffer: MAX_IDX_BUFFER,
        })
    }

    /// Appends one image.
    pub fn push(&mut self, pixels: &[u8]) -> CliResult {
        let record = pixels.len() as u64;
        if (u64::from(self.writer.count()) + 1) * record > self.max_buffer {
            return Err(Error::Limit {
                at: aez::Location::default(),
                what: "IDX output buffered for a pipe, in bytes (write to a file instead)",
                value: (u64::from(self.writer.count()) + 1) * record,
                limit: self.max_buffer,
            }
            .into());
        }
        Ok(self.writer.write_record(pixels)?)
    }

    /// Images written so far.
    #[cfg(test)]
    pub fn count(&self) -> u32 {
        self.writer.count()
    }

    /// Completes the file: patches the count, gzips if asked, and renames it onto the target (file sink)
    /// or writes it all to `out` (buffered sink; `out` is ignored for a file sink).
    pub fn finish_to(self, out: &mut dyn Write) -> CliResult {
        let gzip = self.gzip;
        match self.writer.finish()? {
            IdxTarget::File(mut f) => {
                if gzip {
                    let target = f.target().to_path_buf();
                    let ctx = |e| Error::io(format!("cannot write {}", target.display()), e);
                    // Re-read the finished raw IDX from the temporary file and gzip it into a second one.
                    let mut gz_file = f.create_sibling()?;
                    {
                        let raw = f.rewound().map_err(ctx)?;
                        let mut enc = flate2::write::GzEncoder::new(
                            &mut gz_file,
                            flate2::Compression::default(),
                        );
                        std::io::copy(raw, &mut enc).map_err(ctx)?;
                        enc.finish().map_err(ctx)?;
                    }
                    drop(f);
                    gz_file.commit()
                } else {
                    f.commit()
                }
            }
            IdxTarget::Buffer(b) => {
                let bytes = b.into_inner();
                let ctx = |e| Error::io("cannot write IDX output", e);
                if gzip {
                    let mut enc =
                        flate2::write::GzEncoder::new(&mut *out, flate2::Compression::default());
                    enc.write_all(&bytes).map_err(ctx)?;
                    enc.finish().map_err(ctx)?;
                } else {
                    out.write_all(&bytes).map_err(ctx)?;
                }
                out.flush().map_err(ctx)?;
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::tests::{entries, G};
    use aez::io::{IdxLimits, IdxReader};

    #[test]
    fn idx_sink_file_gzip_buffer_and_abandon() {
        let dir = tempfile::tempdir().unwrap();
        for gzip in [false, true] {
            let target = dir.path().join(if gzip { "o.idx.gz" } else { "o.idx" });
            let mut sink = IdxSink::to_file(&target, G, gzip, false).unwrap();
            sink.push(&[1, 2, 3, 4, 5, 6]).unwrap();
            sink.push(&[7; 6]).unwrap();
            assert_eq!(sink.count(), 2);
            assert!(!target.exists());
            sink.finish_to(&mut std::io::sink()).unwrap();
            let recs: Vec<_> = IdxReader::open(&target, IdxLimits::default())
                .unwrap()
                .collect::<aez::Result<_>>()
                .unwrap();
            assert_eq!(recs, vec![vec![1, 2, 3, 4, 5, 6], vec![7; 6]]);
        }
        // Abandoned sink: no file, no temporary left.
        let target = dir.path().join("gone.idx");
        let mut sink = IdxSink::to_file(&target, G, false, false).unwrap();
        sink.push(&[0; 6]).unwrap();
        drop(sink);
        assert_eq!(entries(dir.path()), vec!["o.idx", "o.idx.gz"]);

        let mut sink = IdxSink::buffered(G, false).unwrap();
        sink.push(&[3; 6]).unwrap();
        let mut out = Vec::new();
        sink.finish_to(&mut out).unwrap();
        assert_eq!(&out[..8], &[0, 0, 8, 3, 0, 0, 0, 1]);
        assert_eq!(out.len(), 16 + 6);
    }
}
