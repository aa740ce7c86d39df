//! How a command fails, and the exit status each failure gives.

use std::path::PathBuf;

/// Exit status when standard output is closed early (e.g. `aez decompress big.aez - | head -c 10`):
/// 128 + SIGPIPE, what a shell reports for `cat` or `gzip` in the same place. Nothing is printed.
pub const EXIT_BROKEN_PIPE: u8 = 141;

/// How a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Stdout was closed by the reader: end quietly.
    #[error("standard output closed")]
    BrokenPipe,
    /// The arguments of a subcommand make no sense together (exit status 2, like clap's own errors).
    #[error("{1}")]
    Usage(&'static str, String),
    /// Refusing to overwrite an existing output file without `--force` (exit status 1).
    #[error("{}: output exists (use --force to overwrite)", .0.display())]
    OutputExists(PathBuf),
    /// Anything else (exit status 1).
    #[error(transparent)]
    Failed(aez::Error),
    /// `aez eval` failed: an input it cannot read, a codec that failed on an image (exit status 1).
    #[error("{0}")]
    Eval(String),
}

impl From<aez::Error> for CliError {
    fn from(e: aez::Error) -> Self {
        if is_broken_pipe(&e) {
            CliError::BrokenPipe
        } else {
            CliError::Failed(e)
        }
    }
}

/// `Result<T, CliError>`.
pub type CliResult<T = ()> = std::result::Result<T, CliError>;

/// True when `e` (or an error it wraps) is an `io::ErrorKind::BrokenPipe`.
fn is_broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::BrokenPipe {
                return true;
            }
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_broken_pipe() {
        let e = CliError::OutputExists(PathBuf::from("a/o.aez"));
        assert_eq!(
            e.to_string(),
            "a/o.aez: output exists (use --force to overwrite)"
        );
        let pipe = aez::Error::io(
            "cannot write to stdout",
            std::io::Error::from(std::io::ErrorKind::BrokenPipe),
        );
        assert!(matches!(CliError::from(pipe), CliError::BrokenPipe));
        let other = aez::Error::io("x", std::io::Error::other("y"));
        assert_eq!(CliError::from(other).to_string(), "x: y");
    }
}
