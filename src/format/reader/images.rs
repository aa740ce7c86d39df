//! Which image, band and plane each record of a version-2 stream is (spec 11.3): the container counts an
//! image's records itself from its descriptor (`bands`, and alpha or not), so it needs no model.

use super::super::desc::{over, range, within_samples};
use super::super::header::FieldError;
use super::super::varint::varint;
use super::super::{Descriptors, ImageDesc, Limits};
use crate::error::FormatError;

/// Where a record of a version-2 stream belongs (spec 11.3). Records of an image come band by band: the
/// latent record of band 0, then (for a colour with alpha) the alpha record of band 0, then band 1...
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    /// 0-based index of the image within its stream (of a packed record: of its first image).
    pub image: u64,
    /// Whole images in the record: its count for a packed record (spec 11.3), else 1.
    pub images: u32,
    /// 0-based band of the image (0 for an untiled image).
    pub band: u32,
    /// Bands of the image (1 when untiled).
    pub bands: u32,
    /// An alpha record (the alpha plane of the band); `false`: a latent record.
    pub alpha: bool,
    /// The image's descriptor: the header's, or the one at the start of the image's first record; `None`
    /// when the stream has no descriptor (the model's size, channels and default level, untiled).
    pub desc: Option<ImageDesc>,
    /// Bytes at the start of the payload before the coded latents: the image's descriptor on the first
    /// record of an image of a per-image stream, a packed record's image count, else 0.
    /// [`super::Record::body`] is the payload after them.
    pub desc_len: usize,
}

impl Part {
    /// Whether this is the image's first record (band 0's latent record).
    pub fn is_first(&self) -> bool {
        self.band == 0 && !self.alpha
    }

    /// Whether this is the image's last record.
    pub fn is_last(&self) -> bool {
        let alpha = self.desc.is_some_and(|d| d.colour.has_alpha());
        self.band + 1 == self.bands && self.alpha == alpha
    }
}

/// The image framing of a version-2 batch (or single-image) stream being read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Framing {
    descriptors: Descriptors,
    /// Index of the current image (or of the next one when `done == total`).
    image: u64,
    desc: Option<ImageDesc>,
    total: u64,
    done: u64,
}

impl Framing {
    pub(crate) fn new(descriptors: Descriptors) -> Self {
        Framing {
            descriptors,
            image: 0,
            desc: None,
            total: 0,
            done: 0,
        }
    }

    /// The part of the next record, whose CRC matched; parses the descriptor at the start of an image's
    /// first record in a per-image stream. Errors are at offsets within `payload`.
    pub(crate) fn next(&mut self, payload: &[u8], limits: &Limits) -> Result<Part, FieldError> {
        if let Descriptors::InHeader(d) = self.descriptors {
            if d.packed {
                return self.next_packed(d, payload, limits);
            }
        }
        let mut desc_len = 0;
        if self.done == self.total {
            if self.total != 0 {
                self.image += 1;
            }
            self.desc = match self.descriptors {
                Descriptors::Model => None,
                Descriptors::InHeader(d) => Some(d),
                Descriptors::PerImage => {
                    let (d, used) = ImageDesc::parse(payload, limits)?;
                    if d.packed {
                        let at =
                            super::super::varint_len(d.width) + super::super::varint_len(d.height);
                        return Err(range(
                            at,
                            "layout byte",
                            payload[at].into(),
                            "packed only in a header descriptor",
                            "a per-image descriptor with the packed bit (packing is for the images of \
                             one header descriptor)",
                        ));
                    }
                    desc_len = used;
                    Some(d)
                }
            };
            self.total = self.desc.map_or(1, |d| d.records());
            self.done = 0;
        }
        let per_band = if self.desc.is_some_and(|d| d.colour.has_alpha()) {
            2
        } else {
            1
        };
        let part = Part {
            image: self.image,
            images: 1,
            band: (self.done / per_band) as u32,
            bands: self.desc.map_or(1, |d| d.bands),
            alpha: self.done % per_band == 1,
            desc: self.desc,
            desc_len,
        };
        self.done += 1;
        Ok(part)
    }

    /// A packed record (spec 11.3): its payload starts with the count `k` of its images (a varint, 1 to
    /// the pack limit, and `k` images within the samples limit); the next record's first image is `k` on.
    fn next_packed(
        &mut self,
        d: ImageDesc,
        payload: &[u8],
        limits: &Limits,
    ) -> Result<Part, FieldError> {
        let mut p = 0;
        let k = varint(payload, &mut p, "images in the record").map_err(|e| match e.what {
            // Not a descriptor: a count cut short by the payload's end is a damaged record.
            FormatError::ShortDescriptor { .. } => range(
                0,
                "images in the record",
                0,
                "a varint count",
                "the payload ends inside its image count (a packed record starts with one)",
            ),
            _ => e,
        })?;
        if k == 0 {
            return Err(range(
                0,
                "images in the record",
                0,
                ">= 1",
                "a packed record of 0 images",
            ));
        }
        if k > limits.max_pack {
            return Err(over(
                0,
                "images in the record",
                k.into(),
                limits.max_pack.into(),
            ));
        }
        within_samples(d.samples() * u128::from(k), "samples per record", limits)?;
        if self.total != 0 {
            self.image += self.total;
        }
        self.total = u64::from(k);
        self.done = self.total;
        self.desc = Some(d);
        Ok(Part {
            image: self.image,
            images: k,
            band: 0,
            bands: 1,
            alpha: false,
            desc: Some(d),
            desc_len: p,
        })
    }

    /// `(image, records read, records expected)` when an image is not complete.
    pub(crate) fn incomplete(&self) -> Option<(u64, u64, u64)> {
        (self.done < self.total).then_some((self.image, self.done, self.total))
    }
}
