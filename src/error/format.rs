//! [`FormatError`]: the kinds of fault of an `.aez` stream's bytes.

/// What is wrong with the bytes of an `.aez` stream (the location is in [`Error::Format`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// The input is empty.
    Empty,
    /// The input ends inside `field`, which needs `needed` bytes from `from`; `available` were there.
    Truncated {
        /// The field being read, e.g. `the record payload`.
        field: &'static str,
        /// Offset of the field's first byte.
        from: u64,
        /// Bytes the field needs.
        needed: u64,
        /// Bytes the input had.
        available: u64,
    },
    /// The input ends inside the header: it needs `needed` bytes (`at_least`: before its flags are read,
    /// the minimum), `available` were there.
    TruncatedHeader {
        /// Bytes the header needs.
        needed: u64,
        /// The length is the minimum (the flags, which give the exact length, were not read).
        at_least: bool,
        /// Bytes the input had.
        available: u64,
    },
    /// A batch stream ends after `records` records without its end marker.
    MissingEndMarker {
        /// Records read before the input ended.
        records: u64,
    },
    /// Magic byte `index` is `found`, not `expected`: not an aez stream.
    BadMagic {
        /// 0..=3.
        index: u8,
        /// The byte in the input.
        found: u8,
        /// The byte the magic has there.
        expected: u8,
    },
    /// Bytes after the last stream that do not start another one.
    TrailingBytes(Box<FormatError>),
    /// A format version this decoder does not read.
    UnsupportedVersion {
        /// The version byte.
        found: u8,
        /// The highest version this decoder reads (it reads every version from 1 to this one).
        supported: u8,
    },
    /// A header field holds a value outside its valid range (reserved bits, unknown ids, zero sizes...).
    FieldOutOfRange {
        /// The field (`flags`, `coder id`, `width`...).
        field: &'static str,
        /// Its value.
        value: u64,
        /// The valid values, as text.
        valid: &'static str,
        /// The full message.
        message: String,
    },
    /// A stored CRC differs from the one computed over the bytes it covers.
    CrcMismatch {
        /// Which CRC: `header`, `record`, `end marker`, `file`.
        field: &'static str,
        /// The CRC in the stream.
        stored: u32,
        /// The CRC of the bytes.
        computed: u32,
        /// The full message.
        message: String,
    },
    /// A record head byte has odd parity.
    HeadParity {
        /// The head byte.
        byte: u8,
    },
    /// An extended record length does not match its stored complement.
    LengthComplement {
        /// The length.
        length: u32,
        /// The stored complement.
        complement: u32,
    },
    /// An extended record length that has a one-byte form (1..=126).
    NonCanonicalLength {
        /// The length.
        length: u32,
    },
    /// The stream's image size is not one its model takes.
    GeometryMismatch {
        /// The full message.
        message: String,
    },
    /// A one-image buffer holds no image, or more than one.
    ImageCount {
        /// The full message.
        message: String,
    },
    /// A version-2 image descriptor field over a caller limit ([`crate::Limits`]). A stream reader reports
    /// it as [`Error::Limit`]; [`crate::format::ImageDesc::parse`] returns it inside a field error.
    OverLimit {
        /// The field (`width`, `height`, `samples per image`, `bands`).
        field: &'static str,
        /// Its value.
        value: u64,
        /// The limit.
        limit: u64,
    },
    /// A varint (LEB128) of an image descriptor that is longer than its shortest form.
    NonCanonicalVarint {
        /// The field.
        field: &'static str,
    },
    /// An image descriptor that ends inside a field: the bytes that hold it (a record payload, or the
    /// length the header gives) are complete, so this is damage, not a truncated stream.
    ShortDescriptor {
        /// The field that is cut off.
        field: &'static str,
    },
    /// A version-2 batch stream whose end marker comes before the last image's records are all there.
    IncompleteImage {
        /// 0-based index of the image in its stream.
        image: u64,
        /// Records of it that were read.
        records: u64,
        /// Records its descriptor calls for.
        expected: u64,
    },
    /// An input of another format (an IDX file) is malformed.
    Input {
        /// What is wrong.
        message: String,
    },
}

impl FormatError {
    /// For a truncation: how many more bytes the field being read needed (at least 1). `None` for every
    /// other fault. A streaming caller that has not seen the end of its input yet may wait for these bytes
    /// and try again; any other fault means the bytes are damaged.
    pub fn needed(&self) -> Option<u64> {
        match self {
            FormatError::Empty => Some(1),
            FormatError::Truncated {
                needed, available, ..
            }
            | FormatError::TruncatedHeader {
                needed, available, ..
            } => Some(needed.saturating_sub(*available).max(1)),
            FormatError::MissingEndMarker { .. } => Some(1),
            _ => None,
        }
    }

    /// True for the faults of an input that ended too early (see [`FormatError::needed`]).
    pub fn is_truncated(&self) -> bool {
        self.needed().is_some()
    }

    /// A fault of an input of another format (IDX).
    pub(crate) fn input(message: impl Into<String>) -> Self {
        FormatError::Input {
            message: message.into(),
        }
    }

    /// A field holding a value out of its range.
    pub(crate) fn field(
        field: &'static str,
        value: u64,
        valid: &'static str,
        message: String,
    ) -> Self {
        FormatError::FieldOutOfRange {
            field,
            value,
            valid,
            message,
        }
    }
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FormatError::Empty => f.write_str("empty input: not an aez stream"),
            FormatError::Truncated {
                field,
                from,
                needed,
                available,
            } => write!(
                f,
                "truncated stream: {field} needs {needed} bytes from offset {from}, only {available} present"
            ),
            FormatError::TruncatedHeader {
                needed,
                at_least,
                available,
            } => write!(
                f,
                "truncated stream: the header needs {}{needed} bytes, only {available} present",
                if *at_least { "at least " } else { "" }
            ),
            FormatError::MissingEndMarker { records } => write!(
                f,
                "truncated stream: it ends after {records} records without its end marker"
            ),
            FormatError::BadMagic {
                index,
                found,
                expected,
            } => write!(
                f,
                "not an aez stream: magic byte {index} is 0x{found:02x}, expected 0x{expected:02x} (magic 89 41 45 5a)"
            ),
            FormatError::TrailingBytes(inner) => {
                write!(f, "trailing bytes after the last stream ({inner})")
            }
            FormatError::UnsupportedVersion { found, supported } => {
                if *supported <= 1 {
                    write!(
                        f,
                        "unsupported format version {found} (this decoder reads version {supported})"
                    )
                } else {
                    write!(
                        f,
                        "unsupported format version {found} (this decoder reads versions 1 to {supported})"
                    )
                }
            }
            FormatError::OverLimit {
                field,
                value,
                limit,
            } => write!(f, "{field} is {value}, over the limit of {limit}"),
            FormatError::NonCanonicalVarint { field } => write!(
                f,
                "non-canonical varint in the image descriptor's {field} (a longer form than the shortest)"
            ),
            FormatError::ShortDescriptor { field } => write!(
                f,
                "the image descriptor ends inside its {field} (damaged descriptor)"
            ),
            FormatError::IncompleteImage {
                image,
                records,
                expected,
            } => write!(
                f,
                "the end marker comes after {records} of the {expected} records of image {image} (records missing)"
            ),
            FormatError::FieldOutOfRange { message, .. }
            | FormatError::CrcMismatch { message, .. }
            | FormatError::GeometryMismatch { message }
            | FormatError::ImageCount { message }
            | FormatError::Input { message } => f.write_str(message),
            FormatError::HeadParity { byte } => write!(
                f,
                "record head byte 0x{byte:02x} has odd parity (a damaged length or a damaged stream)"
            ),
            FormatError::LengthComplement { length, complement } => write!(
                f,
                "extended record length {length} does not match its complement 0x{complement:08x} (damaged length)"
            ),
            FormatError::NonCanonicalLength { length } => write!(
                f,
                "non-canonical extended record length {length} (lengths 1..=126 use the one-byte head)"
            ),
        }
    }
}
