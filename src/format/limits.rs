//! Limits a decoder checks before allocating (spec sections 6 and 11.6).

use super::consts::*;

/// Limits a decoder checks before allocating (spec sections 6 and 11.6). Build with [`Limits::default`]
/// and the `with_*` methods.
///
/// ```
/// let limits = aez::Limits::default().with_max_side(1024).with_max_payload(4096);
/// assert_eq!(limits.max_side, 1024);
/// assert_eq!(limits.max_side_v2, 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest accepted width and height of a version-1 stream (default [`DEFAULT_MAX_SIDE`], 4096).
    pub max_side: u32,
    /// Largest accepted width and height in a version-2 image descriptor (default
    /// [`DEFAULT_MAX_SIDE_V2`], 16384).
    pub max_side_v2: u32,
    /// Largest accepted `width * height * channels` of one image (both versions); `u64::MAX`: none.
    pub max_samples: u64,
    /// Largest accepted payload of one record, in bytes.
    pub max_payload: u32,
    /// Largest accepted number of records in one stream.
    pub max_records: u64,
    /// Largest accepted number of bands of one version-2 image (default [`DEFAULT_MAX_BANDS`]).
    pub max_bands: u32,
    /// Largest accepted number of images in one packed record (default [`DEFAULT_MAX_PACK`]).
    pub max_pack: u32,
    /// Highest container version read (default [`DEFAULT_MAX_VERSION`], 1: version 2 is read only when
    /// a caller asks, with [`Limits::with_max_version`]`(2)` or [`super::StreamReader::accept_version_2`],
    /// because a version-2 record is a band of an image, not a version-1 image).
    pub max_version: u8,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_side: DEFAULT_MAX_SIDE,
            max_side_v2: DEFAULT_MAX_SIDE_V2,
            max_samples: DEFAULT_MAX_SAMPLES,
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_records: DEFAULT_MAX_RECORDS,
            max_bands: DEFAULT_MAX_BANDS,
            max_pack: DEFAULT_MAX_PACK,
            max_version: DEFAULT_MAX_VERSION,
        }
    }
}

impl Limits {
    /// Every limit at its largest value, every version read: only the format's own ranges are checked
    /// (for parsing bytes that are trusted, or whose limits are checked elsewhere).
    pub fn unlimited() -> Self {
        Limits {
            max_side: u32::MAX,
            max_side_v2: u32::MAX,
            max_samples: u64::MAX,
            max_payload: u32::MAX,
            max_records: u64::MAX,
            max_bands: u32::MAX,
            max_pack: u32::MAX,
            max_version: MAX_VERSION,
        }
    }

    /// These limits with another largest width and height, for **both** versions (`max_side` and
    /// `max_side_v2`): a caller's side limit holds for every stream. To change version 2's alone, use
    /// [`Limits::with_max_side_v2`] after this.
    pub fn with_max_side(mut self, max_side: u32) -> Self {
        self.max_side = max_side;
        self.max_side_v2 = max_side;
        self
    }

    setters! {
        /// These limits with another largest width and height of version-2 images only.
        with_max_side_v2(max_side_v2: u32);
        /// These limits with another largest `width * height * channels`.
        with_max_samples(max_samples: u64);
        /// These limits with another largest record payload.
        with_max_payload(max_payload: u32);
        /// These limits with another largest number of records per stream.
        with_max_records(max_records: u64);
        /// These limits with another largest number of bands of one version-2 image.
        with_max_bands(max_bands: u32);
        /// These limits with another largest number of images in one packed record.
        with_max_pack(max_pack: u32);
        /// These limits reading versions 1 to `max_version` (2 reads version 2 too; values above
        /// [`MAX_VERSION`] read what this crate knows, as [`MAX_VERSION`]).
        with_max_version(max_version: u8);
    }
}
