//! IDX files of 8-bit images (the MNIST / Fashion-MNIST format), read and written record by record.
//!
//! An IDX image file is a 4-byte magic, big-endian `u32` dimensions, then the samples:
//!
//! | magic | dims | layout |
//! |---|---|---|
//! | `00 00 08 03` | count, rows, cols | gray images (1 channel) |
//! | `00 00 08 04` | count, rows, cols, channels (1 or 3) | interleaved samples |
//!
//! [`IdxReader`] accepts the file raw or gzip-compressed (detected by the `1f 8b` magic), checks the header
//! against [`IdxLimits`] before allocating anything, then reads one record at a time, so a 10,000-image file
//! never sits in memory whole. Byte offsets in its errors count bytes of the *uncompressed* IDX stream
//! (for a raw file, the file offset). [`IdxWriter`] writes records as they come and patches the count into
//! the header at the end, so it needs a seekable sink (a temporary file, or a `Cursor` when the result goes
//! to a pipe).

mod reader;
#[cfg(test)]
mod tests;
mod writer;

pub use reader::IdxReader;
pub use writer::IdxWriter;

/// Magic of an IDX file of unsigned bytes with 3 dimensions (count, rows, cols).
pub const MAGIC_IDX3_U8: [u8; 4] = [0, 0, 0x08, 0x03];
/// Magic of an IDX file of unsigned bytes with 4 dimensions (count, rows, cols, channels).
pub const MAGIC_IDX4_U8: [u8; 4] = [0, 0, 0x08, 0x04];
/// The two bytes every gzip member starts with.
pub const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Limits an [`IdxReader`] checks on the header before it allocates or reads any record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdxLimits {
    /// Most images a file may declare.
    pub max_count: u32,
    /// Largest number of rows or columns.
    pub max_side: u32,
    /// Largest record (rows * cols * channels bytes).
    pub max_record_bytes: u64,
}

impl Default for IdxLimits {
    /// 100 million images, sides up to 4096 (the model bundle's limit), records up to 48 MiB
    /// (4096 x 4096 x 3).
    fn default() -> Self {
        IdxLimits {
            max_count: 100_000_000,
            max_side: 4096,
            max_record_bytes: 4096 * 4096 * 3,
        }
    }
}

/// The header of an IDX image file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdxHeader {
    /// Number of images the file declares.
    pub count: u32,
    /// Image height.
    pub rows: u32,
    /// Image width.
    pub cols: u32,
    /// Samples per pixel: 1 (gray) or 3 (RGB); always 1 for an IDX3 file.
    pub channels: u8,
    /// Dimensions the magic declares: 3 (`00 00 08 03`: count, rows, cols) or 4 (`00 00 08 04`: count,
    /// rows, cols, channels). A gray image file may be either; it decides the header's size.
    pub ndims: u8,
}

impl IdxHeader {
    /// Bytes of one record (`rows * cols * channels`).
    pub fn record_bytes(&self) -> u64 {
        u64::from(self.rows) * u64::from(self.cols) * u64::from(self.channels)
    }

    /// True when the header is (or encodes as) IDX4: it was read with the IDX4 magic, or it has more than
    /// one channel, which IDX3 cannot say.
    pub fn is_idx4(&self) -> bool {
        self.ndims == 4 || self.channels != 1
    }

    /// Bytes of the header itself: 16 for IDX3, 20 for IDX4 (whatever the number of channels).
    pub fn header_bytes(&self) -> u64 {
        if self.is_idx4() {
            20
        } else {
            16
        }
    }

    /// Encodes the header: IDX3 unless [`IdxHeader::is_idx4`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(20);
        if self.is_idx4() {
            out.extend_from_slice(&MAGIC_IDX4_U8);
        } else {
            out.extend_from_slice(&MAGIC_IDX3_U8);
        }
        out.extend_from_slice(&self.count.to_be_bytes());
        out.extend_from_slice(&self.rows.to_be_bytes());
        out.extend_from_slice(&self.cols.to_be_bytes());
        if self.is_idx4() {
            out.extend_from_slice(&u32::from(self.channels).to_be_bytes());
        }
        out
    }
}

/// True when `bytes` start like an IDX image file (raw) or like gzip (which an IDX reader would try).
pub fn looks_like_idx(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
        || bytes.starts_with(&MAGIC_IDX3_U8)
        || bytes.starts_with(&MAGIC_IDX4_U8)
}
