//! Atomic output files and batch sinks.
//!
//! Every output goes to a temporary file in the target's directory and is renamed onto the target only when
//! complete ([`AtomicFile::commit`]), so a reader never sees a half-written file and a failed run leaves
//! nothing behind (the temporary file is removed on drop). Without `force` an existing target is an error,
//! checked up front ([`check_target`]) and again, race-free, at the rename (`persist_noclobber`).

use std::fs;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use image::ImageFormat;
use tempfile::NamedTempFile;

use crate::error::{Error, Result};
use crate::io::idx::IdxWriter;
use crate::io::picture::{encode_image, pixels_to_image};
use crate::model::Geometry;

/// Fails with [`Error::OutputExists`] when `target` exists and `force` is false, and always when it is a
/// directory (a file output never replaces a directory).
pub fn check_target(target: &Path, force: bool) -> Result<()> {
    match fs::symlink_metadata(target) {
        Ok(m) if m.is_dir() => Err(Error::io(
            format!("cannot write {}", target.display()),
            std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"),
        )),
        Ok(_) if !force => Err(Error::OutputExists(target.to_path_buf())),
        _ => Ok(()),
    }
}

/// A file written under a temporary name next to its target and renamed onto it by
/// [`AtomicFile::commit`]. Dropped without a commit, it removes its temporary file.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    force: bool,
    tmp: BufWriter<NamedTempFile>,
}

impl AtomicFile {
    /// Creates the temporary file for `target` (after [`check_target`]).
    pub fn create(target: &Path, force: bool) -> Result<Self> {
        check_target(target, force)?;
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let mut builder = tempfile::Builder::new();
        builder.prefix(".aez-tmp-");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // As for any new file: 0666 minus the umask (tempfile's default 0600 would stick after rename).
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        let tmp = builder.tempfile_in(dir).map_err(|e| {
            Error::io(
                format!("cannot create a temporary file in {}", dir.display()),
                e,
            )
        })?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            force,
            tmp: BufWriter::with_capacity(256 * 1024, tmp),
        })
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Flushes and renames the temporary file onto the target (refusing to replace an existing file unless
    /// `force`).
    pub fn commit(self) -> Result<()> {
        let target = self.target;
        let tmp = self
            .tmp
            .into_inner()
            .map_err(|e| Error::io(format!("cannot write {}", target.display()), e.into_error()))?;
        let persisted = if self.force {
            tmp.persist(&target)
        } else {
            tmp.persist_noclobber(&target)
        };
        persisted.map(drop).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                Error::OutputExists(target.clone())
            } else {
                Error::io(format!("cannot write {}", target.display()), e.error)
            }
        })
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tmp.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.tmp.write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.tmp.flush()
    }
}

impl Seek for AtomicFile {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.tmp.seek(pos)
    }
}

/// Writes `bytes` to `target` atomically.
pub fn write_atomic(target: &Path, bytes: &[u8], force: bool) -> Result<()> {
    let mut f = AtomicFile::create(target, force)?;
    f.write_all(bytes)
        .map_err(|e| Error::io(format!("cannot write {}", target.display()), e))?;
    f.commit()
}

/// A batch sink writing each image as `<dir>/<index>.png`, the index zero-padded to a fixed width, each
/// file written atomically. Files written before a failure stay (each one is complete).
#[derive(Debug)]
pub struct PngDirSink {
    dir: PathBuf,
    geometry: Geometry,
    digits: usize,
    force: bool,
    next: u64,
}

impl PngDirSink {
    /// Creates `dir` (and its parents) if needed. `expected` is the number of images when known: names
    /// get enough digits for it (at least 5), else 6 digits.
    pub fn create(
        dir: &Path,
        geometry: Geometry,
        expected: Option<u64>,
        force: bool,
    ) -> Result<Self> {
        fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create directory {}", dir.display()), e))?;
        let digits = match expected {
            Some(n) => n.saturating_sub(1).to_string().len().max(5),
            None => 6,
        };
        Ok(PngDirSink {
            dir: dir.to_path_buf(),
            geometry,
            digits,
            force,
            next: 0,
        })
    }

    /// The path image `index` is written to.
    pub fn path_for(&self, index: u64) -> PathBuf {
        self.dir
            .join(format!("{index:0width$}.png", width = self.digits))
    }

    /// Writes the next image; returns its path.
    pub fn push(&mut self, pixels: Vec<u8>) -> Result<PathBuf> {
        let path = self.path_for(self.next);
        let png = encode_image(&pixels_to_image(pixels, &self.geometry)?, ImageFormat::Png)?;
        write_atomic(&path, &png, self.force)?;
        self.next += 1;
        Ok(path)
    }

    /// Images written so far.
    pub fn count(&self) -> u64 {
        self.next
    }
}

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
/// [`IdxSink::finish`]; dropping the sink (after an error) leaves no file. Calling `finish` after an error
/// keeps the good records (the CLI's `--partial`).
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
    pub fn to_file(target: &Path, geometry: Geometry, gzip: bool, force: bool) -> Result<Self> {
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
    pub fn buffered(geometry: Geometry, gzip: bool) -> Result<Self> {
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
    pub fn push(&mut self, pixels: &[u8]) -> Result<()> {
        let record = pixels.len() as u64;
        if (u64::from(self.writer.count()) + 1) * record > self.max_buffer {
            return Err(Error::Limit {
                at: crate::error::Location::default(),
                what: "IDX output buffered for a pipe, in bytes (write to a file instead)",
                value: (u64::from(self.writer.count()) + 1) * record,
                limit: self.max_buffer,
            });
        }
        self.writer.write_record(pixels)
    }

    /// Images written so far.
    pub fn count(&self) -> u32 {
        self.writer.count()
    }

    /// Completes the file: patches the count, gzips if asked, and renames it onto the target (file sink)
    /// or writes it all to `out` (buffered sink; `out` is ignored for a file sink).
    pub fn finish_to(self, out: &mut dyn Write) -> Result<()> {
        let gzip = self.gzip;
        match self.writer.finish()? {
            IdxTarget::File(mut f) => {
                if gzip {
                    let target = f.target().to_path_buf();
                    let ctx = |e| Error::io(format!("cannot write {}", target.display()), e);
                    // Re-read the finished raw IDX from the temporary file and gzip it into a second one.
                    let mut gz_file = AtomicFile::create_sibling(&f)?;
                    {
                        let raw = f.tmp.get_mut().as_file_mut();
                        raw.seek(SeekFrom::Start(0)).map_err(ctx)?;
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
                out.flush().map_err(ctx)
            }
        }
    }
}

impl AtomicFile {
    /// A second temporary file for the same target (used to gzip a finished one).
    fn create_sibling(other: &AtomicFile) -> Result<AtomicFile> {
        AtomicFile::create(&other.target, other.force)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::idx::{IdxLimits, IdxReader};

    const G: Geometry = Geometry {
        width: 3,
        height: 2,
        channels: 1,
    };

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn atomic_file_commit_noclobber_and_drop() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.bin");
        let mut f = AtomicFile::create(&target, false).unwrap();
        f.write_all(b"abc").unwrap();
        assert!(
            !target.exists(),
            "nothing under the final name before commit"
        );
        f.commit().unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"abc");

        let err = AtomicFile::create(&target, false).unwrap_err();
        assert!(matches!(err, Error::OutputExists(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "{}: output exists (use --force to overwrite)",
                target.display()
            )
        );

        // Dropped without commit: no temporary file remains, the old file is untouched.
        let mut f = AtomicFile::create(&target, true).unwrap();
        f.write_all(b"zzz").unwrap();
        drop(f);
        assert_eq!(entries(dir.path()), vec!["out.bin"]);
        assert_eq!(fs::read(&target).unwrap(), b"abc");

        write_atomic(&target, b"new", true).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert!(check_target(dir.path(), true).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn committed_file_is_not_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("p");
        write_atomic(&target, b"x", false).unwrap();
        let mode = fs::metadata(&target).unwrap().permissions().mode();
        // 0666 minus a umask that, in any sane setup, leaves the owner rw and gives more than 0600.
        assert_eq!(mode & 0o600, 0o600);
    }

    #[test]
    fn png_dir_sink_names_and_keeps_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a/b");
        let mut sink = PngDirSink::create(&out, G, Some(3), false).unwrap();
        let p = sink.push(vec![0, 50, 100, 150, 200, 250]).unwrap();
        assert_eq!(p, out.join("00000.png"));
        sink.push(vec![1; 6]).unwrap();
        assert!(sink.push(vec![1; 5]).is_err());
        assert_eq!(sink.count(), 2);
        assert_eq!(entries(&out), vec!["00000.png", "00001.png"]);
        let img = crate::io::picture::read_image(&out.join("00000.png")).unwrap();
        assert_eq!(img.to_luma8().into_raw(), vec![0, 50, 100, 150, 200, 250]);
        // Existing names are refused without force.
        let again = PngDirSink::create(&out, G, None, false).unwrap();
        assert_eq!(again.path_for(7), out.join("000007.png"));
        let mut again = PngDirSink::create(&out, G, Some(2), false).unwrap();
        assert!(matches!(
            again.push(vec![0; 6]),
            Err(Error::OutputExists(_))
        ));
        let mut forced = PngDirSink::create(&out, G, Some(100_001), true).unwrap();
        assert_eq!(forced.path_for(1), out.join("000001.png"));
        forced.digits = 5;
        forced.push(vec![9; 6]).unwrap();
    }

    #[test]
    fn idx_sink_file_gzip_buffer_and_abandon() {
        let dir = tempfile::tempdir().unwrap();
        for gzip in [false, true] {
            let target = dir.path().join(if gzip { "o.idx.gz" } else { "o.idx" });
            let mut sink = IdxSink::to_file(&target, G, gzip, false).unwrap();
            sink.push(&[1, 2, 3, 4, 5, 6]).unwrap();
            sink.push(&[7; 6]).unwrap();
            assert!(!target.exists());
            sink.finish_to(&mut std::io::sink()).unwrap();
            let recs: Vec<_> = IdxReader::open(&target, IdxLimits::default())
                .unwrap()
                .collect::<Result<_>>()
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
