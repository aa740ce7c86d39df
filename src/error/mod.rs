//! The one public error type of aez.
//!
//! Every variant says what is wrong and where: the file (when known), the record index in a batch and the
//! byte offset in the stream. A damaged or truncated stream is an [`Error::Format`] whose [`FormatError`]
//! says which kind of fault it is, so a streaming caller can tell "wait for more bytes"
//! ([`Error::is_truncated`], [`FormatError::needed`]) from "damaged". Both enums are `#[non_exhaustive]`, so
//! new variants can be added without a breaking change.

use std::path::PathBuf;

/// Where in an `.aez` stream a problem was found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Location {
    /// The file being read, when the input is a file (not stdin or a buffer).
    pub file: Option<PathBuf>,
    /// 0-based index of the record in a batch stream, when the problem is inside a record.
    pub record: Option<u64>,
    /// Byte offset from the start of the stream where the bad field starts.
    pub offset: u64,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some(r) = self.record {
            write!(f, "record {r}, ")?;
        }
        write!(f, "byte offset {}", self.offset)
    }
}

mod format;

pub use format::FormatError;

/// All errors returned by the aez library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error, with the path or stream it happened on.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },

    /// The bytes are not a valid `.aez` stream: bad magic, reserved bits set, CRC mismatch, truncation...
    #[error("{at}: {what}")]
    Format {
        /// Where.
        at: Location,
        /// Which fault.
        what: FormatError,
    },

    /// A header or record claims sizes beyond the configured [`crate::Limits`]; refused before allocating.
    #[error("{at}: {what} is {value}, over the limit of {limit}")]
    Limit {
        /// Where the field is.
        at: Location,
        /// The field.
        what: &'static str,
        /// Its value.
        value: u64,
        /// The limit.
        limit: u64,
    },

    /// The stream names a model id that is not loaded / not known.
    #[error("{at}: stream needs model {wanted}, but the loaded model is {loaded}")]
    ModelMismatch {
        /// Where the model id is.
        at: Location,
        /// The model the stream names.
        wanted: String,
        /// The model given, or where the search looked.
        loaded: String,
    },

    /// A model bundle is invalid (bad manifest field, hash mismatch, missing file).
    #[error("model bundle {bundle}: {what}")]
    Model {
        /// The bundle's name or folder.
        bundle: String,
        /// What is wrong.
        what: String,
    },

    /// The inference backend failed (loading the ONNX Runtime library, building a session, running it).
    #[error("inference backend {backend}: {what}")]
    Runtime {
        /// The backend.
        backend: String,
        /// What failed.
        what: String,
    },

    /// An input image cannot be used (undecodable, wrong size for the model...).
    #[error("{input}: {what}")]
    Image {
        /// The input's name.
        input: String,
        /// What is wrong.
        what: String,
    },

    /// The entropy coder failed on valid-looking data (e.g. payload does not decode to the declared symbols).
    #[error("{at}: entropy decoding failed: {what}")]
    Entropy {
        /// Where the payload is.
        at: Location,
        /// What is wrong.
        what: String,
    },

    /// Invalid argument or configuration, with the valid range.
    #[error("invalid {what}: {value} (expected {expected})")]
    InvalidArgument {
        /// The argument.
        what: &'static str,
        /// Its value.
        value: String,
        /// The valid values.
        expected: String,
    },
}

/// `Result<T, aez::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with a description of what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// The format fault, for an [`Error::Format`].
    pub fn format_error(&self) -> Option<&FormatError> {
        match self {
            Error::Format { what, .. } => Some(what),
            _ => None,
        }
    }

    /// True when the input ended too early (a truncated stream), as opposed to damaged or refused: a
    /// streaming caller that has more bytes to come may wait for them.
    pub fn is_truncated(&self) -> bool {
        self.format_error().is_some_and(FormatError::is_truncated)
    }

    /// The location in the stream, for the errors that have one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Format { at, .. }
            | Error::Limit { at, .. }
            | Error::ModelMismatch { at, .. }
            | Error::Entropy { at, .. } => Some(at),
            _ => None,
        }
    }
}
