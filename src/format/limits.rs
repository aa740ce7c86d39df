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
    /// These limits with another largest width and height.
    pub fn with_max_side(mut self, v: u32) -> Self {
        self.max_side = v;
        self
    }

    /// These limits with another largest `width * height * channels`.
    pub fn with_max_samples(mut self, v: u64) -> Self {
        self.max_samples = v;
        self
    }

    /// These limits with another largest record payload.
    pub fn with_max_payload(mut self, v: u32) -> Self {
        self.max_payload = v;
        self
    }

    /// These limits with another largest number of records per stream.
    pub fn with_max_records(mut self, v: u64) -> Self {
        self.max_records = v;
        self
    }
}
