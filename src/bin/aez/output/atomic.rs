//! Atomic output files: written under a temporary name next to the target, then renamed.
//!
//! A reader never sees a half-written file, and a failed or interrupted run leaves nothing behind: the
//! temporary file is removed on drop, and by the signal handler (it is on the [`registry`] from its creation
//! to its rename). With `--fsync` ([`set_fsync`]), [`AtomicFile::commit`] also fsyncs the file before the
//! rename and the directory after it, so that after a crash the target is either the old file or the
//! complete new one; without it (the default, as gzip, zstd and cwebp) the rename is atomic but not durable.
//!
//! A target that is a device or a pipe (`/dev/null`, `/dev/stdout`, a FIFO: [`is_device`]) is not a file to
//! replace but a place to write into: it is opened and written directly, as a shell's `>` would, and never
//! renamed onto (which, run as root, would replace `/dev/null` itself with a regular file).

use std::fs::{self, File};
use std::io::{BufWriter, IsTerminal, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use aez::Error;
use tempfile::NamedTempFile;

use super::registry::{self, Registered};
use super::{check_target, is_device};
use crate::error::{CliError, CliResult};

/// The prefix of every temporary file (hidden, and recognisable as ours).
pub const TMP_PREFIX: &str = ".aez-tmp-";

/// A file written under a temporary name next to its target and renamed onto it by
/// [`AtomicFile::commit`]. Dropped without a commit, it removes its temporary file. A device or pipe
/// target is written directly instead.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    force: bool,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    /// A temporary file next to the target.
    Temporary {
        tmp: BufWriter<NamedTempFile>,
        // After `tmp`, so it is dropped after the file is removed: a signal in between still finds it.
        registered: Registered,
    },
    /// The target itself, a device or a pipe.
    Device(BufWriter<File>),
}

/// Bytes buffered before a write reaches the file.
const BUFFER: usize = 256 * 1024;

/// Whether commits fsync (`--fsync`).
static FSYNC: AtomicBool = AtomicBool::new(false);

/// Makes every later [`AtomicFile::commit`] durable (`--fsync`).
pub fn set_fsync(on: bool) {
    FSYNC.store(on, Ordering::Relaxed);
}

/// The directory a file output goes to (`.` for a bare file name).
fn dir_of(target: &Path) -> &Path {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Fsyncs a directory, so that a rename in it survives a crash. Best effort: some filesystems (and
/// systems) refuse to open or fsync a directory, and the file itself is already durable.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

impl AtomicFile {
    /// Creates the temporary file for `target` (after [`check_target`]), or opens `target` itself when
    /// it is a device or a pipe ([`is_device`]; a terminal only with `force`).
    pub fn create(target: &Path, force: bool) -> CliResult<Self> {
        check_target(target, force)?;
        if is_device(target) {
            return Ok(AtomicFile {
                target: target.to_path_buf(),
                force,
                kind: Kind::Device(BufWriter::with_capacity(
                    BUFFER,
                    open_device(target, force)?,
                )),
            });
        }
        let dir = dir_of(target);
        let mut builder = tempfile::Builder::new();
        builder.prefix(TMP_PREFIX);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // As for any new file: 0666 minus the umask (tempfile's default 0600 would stick after rename).
            builder.permissions(fs::Permissions::from_mode(0o666));
        }
        let (tmp, registered) = registry::create(|| builder.tempfile_in(dir), |t| t.path())
            .map_err(|e| {
                Error::io(
                    format!("cannot create a temporary file in {}", dir.display()),
                    e,
                )
            })?;
        Ok(AtomicFile {
            target: target.to_path_buf(),
            force,
            kind: Kind::Temporary {
                tmp: BufWriter::with_capacity(BUFFER, tmp),
                registered,
            },
        })
    }

    /// The temporary file's path (`None` for a device target).
    #[cfg(test)]
    fn temporary(&self) -> Option<&Path> {
        match &self.kind {
            Kind::Temporary { tmp, .. } => Some(tmp.get_ref().path()),
            Kind::Device(_) => None,
        }
    }

    /// True when the target is a device or a pipe, written directly (it cannot be read back or seeked).
    pub fn is_device(&self) -> bool {
        matches!(self.kind, Kind::Device(_))
    }

    /// The final path.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// A second temporary file for the same target (used to gzip a finished one).
    pub fn create_sibling(&self) -> CliResult<AtomicFile> {
        AtomicFile::create(&self.target, self.force)
    }

    /// The temporary file itself, everything written so far flushed to it, positioned at its start (an
    /// error for a device target, whose bytes are gone).
    pub fn rewound(&mut self) -> std::io::Result<&mut File> {
        let Kind::Temporary { tmp, .. } = &mut self.kind else {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "a device or pipe cannot be read back",
            ));
        };
        tmp.flush()?;
        let file = tmp.get_mut().as_file_mut();
        file.seek(SeekFrom::Start(0))?;
        Ok(file)
    }

    /// Flushes the temporary file and renames it onto the target (refusing to replace an existing file
    /// unless `force`); with [`set_fsync`], fsyncs the file before and the directory after.
    /// A device target is only flushed (there is nothing to rename, and a device need not support fsync).
    pub fn commit(self) -> CliResult {
        let AtomicFile {
            target,
            force,
            kind,
        } = self;
        let ctx = |e| Error::io(format!("cannot write {}", target.display()), e);
        let (tmp, registered) = match kind {
            Kind::Temporary { tmp, registered } => (tmp, registered),
            Kind::Device(mut f) => return Ok(f.flush().map_err(ctx)?),
        };
        let tmp = tmp.into_inner().map_err(|e| ctx(e.into_error()))?;
        let sync = FSYNC.load(Ordering::Relaxed);
        if sync {
            tmp.as_file().sync_all().map_err(ctx)?;
        }
        let persisted = registry::rename(&registered, || {
            if force {
                tmp.persist(&target)
            } else {
                tmp.persist_noclobber(&target)
            }
        });
        match persisted {
            Ok(_) => {
                if sync {
                    sync_dir(dir_of(&target));
                }
                Ok(())
            }
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                Err(CliError::OutputExists(target.clone()))
            }
            Err(e) => Err(ctx(e.error).into()),
        }
    }
}

impl AtomicFile {
    fn writer(&mut self) -> &mut dyn WriteSeek {
        match &mut self.kind {
            Kind::Temporary { tmp, .. } => tmp,
            Kind::Device(f) => f,
        }
    }
}

trait WriteSeek: Write + Seek {}
impl<T: Write + Seek> WriteSeek for T {}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer().write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.writer().write_all(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.writer().flush()
    }
}

impl Seek for AtomicFile {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.writer().seek(pos)
    }
}

/// Opens the device or pipe `target` for writing (without creating or truncating anything), and checks that
/// what was opened is still one (not a regular file put there meanwhile, which would be overwritten in
/// place) and, unless `force`, not a terminal.
fn open_device(target: &Path, force: bool) -> CliResult<File> {
    let ctx = |e| Error::io(format!("cannot write {}", target.display()), e);
    let f = fs::OpenOptions::new()
        .write(true)
        .open(target)
        .map_err(ctx)?;
    let still = f.metadata().map_err(ctx)?;
    if !super::is_device_type(&still.file_type()) {
        return Err(ctx(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "was replaced while being opened",
        ))
        .into());
    }
    if !force && f.is_terminal() {
        return Err(CliError::Failed(Error::InvalidArgument {
            what: "output",
            value: format!("'{}' (a terminal)", target.display()),
            expected: "a file, a pipe, or --force".into(),
        }));
    }
    Ok(f)
}

/// Writes `bytes` to `target` atomically.
pub fn write_atomic(target: &Path, bytes: &[u8], force: bool) -> CliResult {
    let mut f = AtomicFile::create(target, force)?;
    f.write_all(bytes)
        .map_err(|e| Error::io(format!("cannot write {}", target.display()), e))?;
    f.commit()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::output::tests::{entries, tmp_path};

    #[test]
    fn atomic_file_commit_noclobber_and_drop() {
        let (dir, target) = tmp_path("out.bin");
        let mut f = AtomicFile::create(&target, false).unwrap();
        f.write_all(b"abc").unwrap();
        assert!(
            !target.exists(),
            "nothing under the final name before commit"
        );
        let tmp_path = f.temporary().unwrap().to_path_buf();
        assert!(tmp_path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(TMP_PREFIX));
        assert!(registry::registered().contains(&tmp_path));
        f.commit().unwrap();
        assert!(!registry::registered().contains(&tmp_path));
        assert_eq!(fs::read(&target).unwrap(), b"abc");

        let err = AtomicFile::create(&target, false).unwrap_err();
        assert!(matches!(err, CliError::OutputExists(_)), "{err:?}");
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
        let tmp_path = f.temporary().unwrap().to_path_buf();
        drop(f);
        assert!(!registry::registered().contains(&tmp_path));
        assert_eq!(entries(dir.path()), vec!["out.bin"]);
        assert_eq!(fs::read(&target).unwrap(), b"abc");

        write_atomic(&target, b"new", true).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert!(check_target(dir.path(), true).is_err());
    }

    #[test]
    fn a_file_that_appears_meanwhile_is_not_replaced() {
        let (dir, target) = tmp_path("race");
        let mut f = AtomicFile::create(&target, false).unwrap();
        f.write_all(b"mine").unwrap();
        fs::write(&target, b"theirs").unwrap();
        assert!(matches!(f.commit(), Err(CliError::OutputExists(_))));
        assert_eq!(fs::read(&target).unwrap(), b"theirs");
        assert_eq!(entries(dir.path()), vec!["race"]);
    }

    #[test]
    fn a_bare_file_name_goes_to_the_current_directory() {
        assert_eq!(dir_of(Path::new("o.aez")), Path::new("."));
        assert_eq!(dir_of(Path::new("a/o.aez")), Path::new("a"));
        sync_dir(Path::new("/nonexistent/dir")); // ignored
    }

    /// Makes a FIFO at `path`.
    #[cfg(unix)]
    pub fn mkfifo(path: &Path) {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
        assert_eq!(rc, 0, "mkfifo {}", path.display());
    }

    #[cfg(unix)]
    #[test]
    fn a_device_or_a_pipe_is_written_into_and_never_replaced() {
        use std::os::unix::fs::FileTypeExt;
        // /dev/null through a link (were the link renamed onto, as it would be were /dev/null itself, only
        // the link would go), with and without --force.
        let (dir, link) = tmp_path("null");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        for force in [false, true] {
            write_atomic(&link, b"abc", force).unwrap();
            assert!(fs::metadata(&link).unwrap().file_type().is_char_device());
        }
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        // A FIFO gets the bytes, and stays a FIFO; nothing else appears beside it.
        let fifo = dir.path().join("fifo");
        mkfifo(&fifo);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || fs::read(fifo).unwrap())
        };
        let mut f = AtomicFile::create(&fifo, false).unwrap();
        assert!(f.is_device() && f.temporary().is_none());
        f.write_all(b"through the pipe").unwrap();
        assert!(f.rewound().is_err(), "a pipe cannot be read back");
        f.commit().unwrap();
        assert_eq!(reader.join().unwrap(), b"through the pipe");
        assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(entries(dir.path()), vec!["fifo", "null"]);
    }

    #[cfg(unix)]
    #[test]
    fn committed_file_is_not_private() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, target) = tmp_path("p");
        write_atomic(&target, b"x", false).unwrap();
        let mode = fs::metadata(&target).unwrap().permissions().mode();
        // 0666 minus a umask that, in any sane setup, leaves the owner rw and gives more than 0600.
        assert_eq!(mode & 0o600, 0o600);
    }
}
