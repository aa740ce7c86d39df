//! The constants of `spec/aez-format.md`, named one to one with the spec.

/// Stream magic (spec 2.1): `\x89AEZ`.
pub const MAGIC: [u8; 4] = [0x89, b'A', b'E', b'Z'];
/// The container version this crate writes and reads (spec 2.1).
pub const VERSION: u8 = 1;

/// Offset of the magic in the header.
pub const OFF_MAGIC: usize = 0;
/// Offset of the version byte.
pub const OFF_VERSION: usize = 4;
/// Offset of the flags byte.
pub const OFF_FLAGS: usize = 5;
/// Offset of the model id.
pub const OFF_MODEL_ID: usize = 6;
/// Offset of the width (`u16` little-endian), when the geometry field is [`GEOMETRY_EXPLICIT`].
pub const OFF_WIDTH: usize = 13;
/// Offset of the height (`u16` little-endian), when the geometry field is [`GEOMETRY_EXPLICIT`].
pub const OFF_HEIGHT: usize = 15;
/// Former name of [`HEADER_LEN_EXPLICIT_GEOMETRY`], from before the geometry field; not a name of the
/// spec. Kept only until `tests/limits.rs` and `tests/corruption.rs` use the new names; then removed.
#[doc(hidden)]
pub const HEADER_LEN: usize = HEADER_LEN_EXPLICIT_GEOMETRY;
/// Length of the header's prefix (magic, version, flags): what is read before the layout is known.
pub const HEADER_PREFIX_LEN: usize = 6;
/// Length of the header when the geometry field is [`GEOMETRY_MODEL`] (no width and height stored).
pub const HEADER_LEN_MODEL_GEOMETRY: usize = 13;
/// Length of the header when the geometry field is [`GEOMETRY_EXPLICIT`] (width and height stored).
pub const HEADER_LEN_EXPLICIT_GEOMETRY: usize = 17;

/// Bytes of the bundle hash stored as the model id.
pub const MODEL_ID_LEN: usize = 7;

/// Flags bits 0-1: the coder id.
pub const FLAGS_CODER_MASK: u8 = 0b0000_0011;
/// Flags bits 2-3: the kind (`00` single, `11` batch: two bits apart, so one flipped bit cannot turn one
/// layout into the other).
pub const FLAGS_KIND_MASK: u8 = 0b0000_1100;
/// Shift of the kind bits in the flags byte.
pub const FLAGS_KIND_SHIFT: u8 = 2;
/// Flags bits 4-5: the geometry field (`00` width and height stored, `11` the model's geometry: two bits
/// apart, so one flipped bit cannot change the header's length).
pub const FLAGS_GEOMETRY_MASK: u8 = 0b0011_0000;
/// Shift of the geometry bits in the flags byte.
pub const FLAGS_GEOMETRY_SHIFT: u8 = 4;
/// Flags bits 6-7: reserved, MUST be zero.
pub const FLAGS_RESERVED_MASK: u8 = 0b1100_0000;

/// Coder id 0: the range coder over the model's 16-bit tables (spec 4).
pub const CODER_RANGE: u8 = 0;
/// Coder id 1: zstd (spec 5).
pub const CODER_ZSTD: u8 = 1;

/// Kind bits `00`: one image (spec 2.3).
pub const KIND_SINGLE: u8 = 0b00;
/// Kind bits `11`: a batch of records (spec 2.4).
pub const KIND_BATCH: u8 = 0b11;

/// Geometry bits `00`: width and height (`u16` each) follow the model id.
pub const GEOMETRY_EXPLICIT: u8 = 0b00;
/// Geometry bits `11`: the image has the model's geometry; no width or height is stored.
pub const GEOMETRY_MODEL: u8 = 0b11;

/// Bytes of a CRC-32 (header CRC, record CRC, file CRC).
pub const CRC_LEN: usize = 4;
/// Head byte of the end marker (batch).
pub const END_MARKER: u8 = 0x00;
/// Length of the end marker: head plus CRC.
pub const END_MARKER_LEN: usize = 1 + CRC_LEN;
/// Head byte announcing an extended length (`u32 n`, `u32 !n` follow).
pub const HEAD_EXTENDED: u8 = 0xFF;
/// Largest payload length carried by a one-byte head.
pub const HEAD_SHORT_MAX: usize = 126;
/// Length of an extended head: the byte plus `n` and `!n`.
pub const HEAD_EXTENDED_LEN: usize = 9;

/// Overhead of a single-image file beside its payload (payload of 1..=126 bytes, the model's geometry):
/// header, head, CRC.
pub const SINGLE_OVERHEAD: usize = HEADER_LEN_MODEL_GEOMETRY + 1 + CRC_LEN;
/// Overhead of a batch stream beside its records (the model's geometry): header, header CRC, end marker.
pub const BATCH_STREAM_OVERHEAD: usize = HEADER_LEN_MODEL_GEOMETRY + CRC_LEN + END_MARKER_LEN;
/// What an explicit geometry adds to [`SINGLE_OVERHEAD`] and [`BATCH_STREAM_OVERHEAD`].
pub const EXPLICIT_GEOMETRY_OVERHEAD: usize =
    HEADER_LEN_EXPLICIT_GEOMETRY - HEADER_LEN_MODEL_GEOMETRY;
/// Overhead of one batch record beside its payload (payload of 1..=126 bytes): head, CRC.
pub const BATCH_RECORD_OVERHEAD: usize = 1 + CRC_LEN;

/// `CRC32("123456789")`, the check value of CRC-32/ISO-HDLC (spec 1).
pub const CRC_CHECK_VALUE: u32 = 0xCBF4_3926;

/// Default limit: width and height (spec 6).
pub const DEFAULT_MAX_SIDE: u32 = 4096;
/// Default limit: samples per image (spec 6).
pub const DEFAULT_MAX_SAMPLES: u64 = 1 << 26;
/// Default limit: payload bytes per record (spec 6).
pub const DEFAULT_MAX_PAYLOAD: u32 = 65536;
/// Default limit: records per stream (spec 6).
pub const DEFAULT_MAX_RECORDS: u64 = 1 << 40;
