//! The version-2 half of the [`Decoder`]: records gathered image by image, each image decoded whole.

use std::io::Read;

use super::Decoder;
use crate::codec::v2::{AnyCoding, ImageFault};
use crate::error::{Error, FormatError, Result};
use crate::format::Record;

impl<R: Read> Decoder<R> {
    /// Reads the records of the next images of a version-2 stream (at least one image, waiting for its
    /// records if needed; more only while their records are already here; at most `batch_size`) and
    /// decodes each.
    pub(super) fn fill_v2(&mut self, coding: &AnyCoding) -> Result<()> {
        let coder = self.header.header.coder;
        let mut images = 0;
        let mut parts: Vec<Record> = Vec::new();
        while images < self.batch_size {
            // Between images, never wait for input while holding a decoded image.
            if images > 0 && parts.is_empty() && !self.reader.next_record_ready() {
                break;
            }
            match self.next_record() {
                None => break,
                Some(rec) => {
                    let Some(part) = rec.part else {
                        return Err(Error::Format {
                            at: self.reader.location(Some(rec.index), rec.offset),
                            what: FormatError::Empty,
                        });
                    };
                    // A per-image descriptor is checked against the model before its image is read on.
                    if part.is_first() && part.desc_len > 0 {
                        if let Some(d) = &part.desc {
                            if let Err(e) = coding.check_desc(d) {
                                self.pending_err = Some(Error::Format {
                                    at: self.reader.location(
                                        Some(rec.index),
                                        rec.payload_offset + e.offset as u64,
                                    ),
                                    what: e.what,
                                });
                                self.finished = true;
                                return Ok(());
                            }
                        }
                    }
                    let last = part.is_last();
                    parts.push(rec);
                    if !last {
                        continue;
                    }
                    let desc = part.desc.or_else(|| coding.model_image()).ok_or_else(|| {
                        Error::Format {
                        at: self.reader.location(Some(parts[0].index), parts[0].offset),
                        what: FormatError::field(
                            "descriptor",
                            0,
                            "an image descriptor",
                            "a version-2 image without a descriptor, of a model that takes any size"
                                .into(),
                        ),
                    }
                    })?;
                    let bodies: Vec<&[u8]> = parts.iter().map(Record::body).collect();
                    let decoded = if desc.packed {
                        coding.decode_packed(coder, &desc, part.images as usize, bodies[0])
                    } else {
                        coding.decode(coder, &desc, &bodies).map(|img| vec![img])
                    };
                    match decoded {
                        Ok(imgs) => {
                            images += imgs.len();
                            self.ready.extend(imgs);
                        }
                        Err(fault) => {
                            let rec = match &fault {
                                ImageFault::Record(i, _) => &parts[*i],
                                _ => &parts[0],
                            };
                            let at = self.reader.location(Some(rec.index), rec.payload_offset);
                            self.pending_err = Some(match fault {
                                ImageFault::Record(_, what) => Error::Entropy { at, what },
                                ImageFault::Desc(message) => Error::Format {
                                    at,
                                    what: FormatError::GeometryMismatch { message },
                                },
                                ImageFault::Other(e) => e,
                            });
                            self.pending_header = None;
                            self.finished = true;
                            return Ok(());
                        }
                    }
                    parts.clear();
                }
            }
        }
        Ok(())
    }
}
