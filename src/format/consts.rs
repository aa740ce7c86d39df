//! The constants of `spec/aez-format.md`, named one to one with the spec.

/// Stream magic (spec 2.1): `\x89AEZ`.
pub const MAGIC: [u8; 4] = [0x89, b'A', b'E', b'Z'];
/// Version 1 (spec 2.1), the name section 2.1 gives it; the same as [`VERSION_1`].
pub const VERSION: u8 = VERSION_1;
/// Version byte of a version-1 stream (spec 2.1).
pub const VERSION_1: u8 = 1;
/// Version byte of a version-2 stream (spec 11.1). `0b10` against version 1's `0b01`: two bit flips apart,
/// so one flipped bit never turns a stream of one version into the other.
pub const VERSION_2: u8 = 2;
/// The highest version this crate reads and writes.
pub const MAX_VERSION: u8 = VERSION_2;
/// The highest version read by default ([`super::Limits::max_version`]): 1, so that a reader that knows
/// only version-1 records never misreads a version-2 band as an image; the codec's decoder and `aez info`
/// opt in to version 2.
pub const DEFAULT_MAX_VERSION: u8 = VERSION_1;

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
/// Flags bits 6-7 of version 1: reserved, MUST be zero.
pub const FLAGS_RESERVED_MASK: u8 = 0b1100_0000;
/// Flags bits 6-7 of version 2: the descriptor field (spec 11.1), `00` or `11`.
pub const FLAGS_DESCRIPTOR_MASK: u8 = 0b1100_0000;
/// Shift of the descriptor bits in the flags byte.
pub const FLAGS_DESCRIPTOR_SHIFT: u8 = 6;

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

/// Version 2, descriptor bits `00`: every image of the stream has the same description, the header's
/// (geometry `00`) or the model's (geometry `11`).
pub const DESCRIPTOR_SHARED: u8 = 0b00;
/// Version 2, descriptor bits `11` (with geometry `00`, batch only): each image's first record starts with
/// its own descriptor.
pub const DESCRIPTOR_PER_IMAGE: u8 = 0b11;

/// Version 2: offset of the header descriptor's length byte (geometry `00`, descriptor `00`).
pub const OFF_DESC_LEN: usize = 13;
/// Version 2: offset of the header descriptor.
pub const OFF_DESC: usize = 14;
/// Version 2: the header's length without a descriptor (the model's description): as version 1's.
pub const HEADER_LEN_V2_NO_DESC: usize = 13;
/// Version 2: what a header descriptor adds to the header beside the descriptor itself (its length byte).
pub const HEADER_DESC_LEN_OVERHEAD: usize = 1;
/// Shortest image descriptor: one-byte width and height, layout, level.
pub const DESC_MIN_LEN: usize = 4;
/// Longest image descriptor: four 5-byte varints, layout, level.
pub const DESC_MAX_LEN: usize = 4 * VARINT_MAX_LEN + 2;
/// Longest varint (LEB128) of a descriptor: 5 bytes hold 32 bits.
pub const VARINT_MAX_LEN: usize = 5;

/// Layout byte bits 0-1: the colour layout of the decoded image.
pub const LAYOUT_COLOUR_MASK: u8 = 0b0000_0011;
/// Layout byte bit 2: tiled (band height and band count follow the level).
pub const LAYOUT_TILED: u8 = 0b0000_0100;
/// Layout byte bit 3: packed, several whole images per record (spec 11.3; header descriptors of
/// batches only, untiled, no alpha).
pub const LAYOUT_PACKED: u8 = 0b0000_1000;
/// Layout byte bit 4: hyper, the image's first record is its hyper-latent (spec 11.3; models with a
/// hyperprior, never packed).
pub const LAYOUT_HYPER: u8 = 0b0001_0000;
/// Layout byte bits 5-7: reserved, MUST be zero.
pub const LAYOUT_RESERVED_MASK: u8 = 0b1110_0000;
/// Colour 0: gray, 1 sample per pixel.
pub const COLOUR_GRAY: u8 = 0;
/// Colour 1: gray and alpha, 2 samples per pixel (alpha records carry the alpha plane).
pub const COLOUR_GRAY_ALPHA: u8 = 1;
/// Colour 2: RGB, 3 samples per pixel.
pub const COLOUR_RGB: u8 = 2;
/// Colour 3: RGB and alpha, 4 samples per pixel.
pub const COLOUR_RGBA: u8 = 3;

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

/// Default limit: width and height of a version-1 stream (spec 6).
pub const DEFAULT_MAX_SIDE: u32 = 4096;
/// Default limit: width and height in a version-2 image descriptor (spec 11.6).
pub const DEFAULT_MAX_SIDE_V2: u32 = 16384;
/// Default limit: samples per image (spec 6, 11.6): 256 Mi 8-bit samples, so 6000x4000 RGBA (96 Mi) and
/// 8192x8192 RGBA (256 Mi) pass. (Version 1 had 2^26; every version-1 image passes its side limit of 4096
/// first, and 4096 x 4096 x 3 < 2^26, so no version-1 stream is read differently.)
pub const DEFAULT_MAX_SAMPLES: u64 = 1 << 28;
/// Default limit: bands of one version-2 image (spec 11.6).
pub const DEFAULT_MAX_BANDS: u32 = 4096;
/// Default limit: images in one packed record (spec 11.6).
pub const DEFAULT_MAX_PACK: u32 = 4096;
/// Default limit: payload bytes per record (spec 6).
pub const DEFAULT_MAX_PAYLOAD: u32 = 65536;
/// Default limit: records per stream (spec 6).
pub const DEFAULT_MAX_RECORDS: u64 = 1 << 40;
