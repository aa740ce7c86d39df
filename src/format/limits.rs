//! Limits a decoder checks before allocating (spec section 6).

use super::consts::*;

/// Limits a decoder checks before allocating (spec section 6). Build with [`Limits::default`] and the
/// `with_*` methods.
///
/// ```
/// let limits = aez::Limits::default().with_max_side(1024).with_max_payload(4096);
/// assert_eq!(limits.max_side, 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest accepted width and height.
    pub max_side: u32,
    /// Largest accepted `width * height * channels` of one image.
    pub max_samples: u64,
    /// Largest accepted payload of one record, in bytes.
    pub max_payload: u32,
    /// Largest accepted number of records in one stream.
    pub max_records: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_side: DEFAULT_MAX_SIDE,
            max_samples: DEFAULT_MAX_SAMPLES,
            max_payload: DEFAULT_MAX_PAYLOAD,
            max_records: DEFAULT_MAX_RECORDS,
        }
    }
}

impl Limits {
    setters! {
        /// These limits with another largest width and height.
        with_max_side(max_side: u32);
        /// These limits with another largest `width * height * channels`.
        with_max_samples(max_samples: u64);
        /// These limits with another largest record payload.
        with_max_payload(max_payload: u32);
        /// These limits with another largest number of records per stream.
        with_max_records(max_records: u64);
    }
}
