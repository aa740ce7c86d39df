//! The one public error type of aez.
//!
//! Every variant says what is wrong and where: the file (when known), the record index in a batch and the
//! byte offset in the stream. Variants are `#[non_exhaustive]` so new ones can be added without a breaking
//! change.

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

/// All errors returned by the aez library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O error, with the path or stream it happened on.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    /// The bytes are not a valid `.aez` stream: bad magic, reserved bits set, CRC mismatch, truncation...
    #[error("{at}: {what}")]
    Format { at: Location, what: String },

    /// A header or record claims sizes beyond the configured [`crate::Limits`]; refused before allocating.
    #[error("{at}: {what} is {value}, over the limit of {limit}")]
    Limit {
        at: Location,
        what: &'static str,
        value: u64,
        limit: u64,
    },

    /// The stream was made with a model that is not loaded / not known.
    #[error("{at}: stream needs model {wanted}, but the loaded model is {loaded}")]
    ModelMismatch {
        at: Location,
        wanted: String,
        loaded: String,
    },

    /// A model bundle is invalid (bad manifest field, hash mismatch, missing file).
    #[error("model bundle {bundle}: {what}")]
    Model { bundle: String, what: String },

    /// The inference backend failed (loading the ONNX Runtime library, building a session, running it).
    #[error("inference backend {backend}: {what}")]
    Runtime { backend: String, what: String },

    /// An input image cannot be used (undecodable, wrong size for the model...).
    #[error("{input}: {what}")]
    Image { input: String, what: String },

    /// The entropy coder failed on valid-looking data (e.g. payload does not decode to the declared symbols).
    #[error("{at}: entropy decoding failed: {what}")]
    Entropy { at: Location, what: String },

    /// Invalid argument or configuration, with the valid range.
    #[error("invalid {what}: {value} (expected {expected})")]
    InvalidArgument {
        what: &'static str,
        value: String,
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
}
