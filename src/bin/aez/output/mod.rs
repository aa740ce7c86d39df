//! Where the CLI's output goes: stdout, atomic files ([`AtomicFile`]) and batch sinks (a directory of
//! PNGs, an IDX file).
//!
//! Every output file goes to a temporary file in the target's directory and is renamed onto the target only
//! when complete, so a reader never sees a half-written file and a failed or interrupted run leaves nothing
//! behind. Without `--force` an existing target is an error, checked up front ([`check_target`]) and again,
//! race-free, at the rename. A device or a pipe named as the output (`/dev/null`, `/dev/stdout`) is written
//! into directly, as a shell's `>` does, with or without `--force`.

mod atomic;
mod idx_sink;
mod png_dir;
pub mod registry;

use std::fs;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use aez::Error;

pub use atomic::{set_fsync, write_atomic, AtomicFile};
pub use idx_sink::{layout_text, IdxSink};
pub use png_dir::PngDirSink;

use crate::cli::Global;
use crate::error::{CliError, CliResult};

/// Where an output goes, as named on the command line.
#[derive(Debug, Clone)]
pub enum Output {
    /// `-`.
    Stdout,
    /// Anything else.
    File(PathBuf),
}

impl Output {
    /// `-` is stdout, anything else a path.
    pub fn parse(s: &str) -> Output {
        match aez::io::Input::parse(s) {
            aez::io::Input::Stdin => Output::Stdout,
            aez::io::Input::Path(p) => Output::File(p),
        }
    }
}

/// Fails with [`CliError::OutputExists`] when `target` exists and `force` is false, and always when it is
/// a directory or a block device (a file output never replaces either). A device or a pipe
/// ([`is_device`]) passes: it is written into, not replaced.
pub fn check_target(target: &Path, force: bool) -> CliResult {
    // What the name leads to (through links): a device or pipe is written into, a block device refused.
    let led_to = fs::metadata(target).map(|m| m.file_type());
    if led_to.as_ref().is_ok_and(is_device_type) {
        return Ok(());
    }
    let refuse = |what: &str, kind| {
        Err(Error::io(
            format!("cannot write {}", target.display()),
            std::io::Error::new(kind, what.to_string()),
        )
        .into())
    };
    match fs::symlink_metadata(target) {
        Ok(m) if m.is_dir() => refuse("is a directory", std::io::ErrorKind::IsADirectory),
        Ok(_) if led_to.is_ok_and(|t| is_block_device_type(&t)) => {
            refuse("is a block device", std::io::ErrorKind::InvalidInput)
        }
        Ok(_) if !force => Err(CliError::OutputExists(target.to_path_buf())),
        _ => Ok(()),
    }
}

/// True when `target` is (or links to) a character device (`/dev/null`, a terminal), a FIFO or a socket:
/// an output that is written into, never renamed onto.
pub fn is_device(target: &Path) -> bool {
    fs::metadata(target).is_ok_and(|m| is_device_type(&m.file_type()))
}

/// See [`is_device`].
pub fn is_device_type(t: &fs::FileType) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        t.is_char_device() || t.is_fifo() || t.is_socket()
    }
    #[cfg(not(unix))]
    {
        let _ = t;
        false
    }
}

fn is_block_device_type(t: &fs::FileType) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        t.is_block_device()
    }
    #[cfg(not(unix))]
    {
        let _ = t;
        false
    }
}

/// True when `path` names a directory output: it ends with a path separator or is an existing directory.
pub fn is_dir_target(path: &Path) -> bool {
    let s = path.as_os_str().to_string_lossy();
    s.ends_with('/') || s.ends_with(std::path::MAIN_SEPARATOR) || path.is_dir()
}

/// Refuses to write binary data to a terminal (unless `--force`): it would only garble the screen.
pub fn check_stdout_not_terminal(g: &Global, what: &str) -> CliResult {
    if !g.force && std::io::stdout().is_terminal() {
        return Err(CliError::Failed(Error::InvalidArgument {
            what: "output",
            value: format!("'-' ({what} to a terminal)"),
            expected: "stdout redirected to a file or a pipe, an output file name, or --force"
                .into(),
        }));
    }
    Ok(())
}

/// A failed write to stdout (a closed pipe becomes [`CliError::BrokenPipe`] on conversion).
pub fn stdout_err(e: std::io::Error) -> Error {
    Error::io("cannot write to stdout", e)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh temporary directory and the path `name` in it.
    pub fn tmp_path(name: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        (dir, p)
    }

    /// A small gray geometry for the sinks' tests.
    pub const G: aez::model::Geometry = aez::model::Geometry {
        width: 3,
        height: 2,
        channels: 1,
    };

    /// The names in `dir`, sorted.
    pub fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn dir_targets() {
        assert!(is_dir_target(Path::new("out/")));
        assert!(is_dir_target(Path::new(env!("CARGO_MANIFEST_DIR"))));
        assert!(!is_dir_target(Path::new("out.png")));
        assert!(matches!(Output::parse("-"), Output::Stdout));
    }

    #[test]
    fn existing_targets() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        check_target(&f, false).unwrap();
        fs::write(&f, b"").unwrap();
        assert!(matches!(
            check_target(&f, false),
            Err(CliError::OutputExists(_))
        ));
        check_target(&f, true).unwrap();
        let err = check_target(dir.path(), true).unwrap_err().to_string();
        assert!(err.ends_with("is a directory"), "{err}");
    }
}
