//! Walking a stream without a model, for `aez info`.

use std::io::Read;
use std::path::PathBuf;

use super::{Descriptors, Event, Header, Limits, StreamReader};
use crate::error::Result;

/// What [`inspect`] found about one stream of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    /// Offset of the stream's first byte.
    pub offset: u64,
    /// Bytes of the whole stream (header to end marker or file CRC).
    pub bytes: u64,
    /// Container version: [`super::consts::VERSION_1`] or [`super::consts::VERSION_2`].
    pub version: u8,
    /// The header, as stored (width and height 0 when they are the model's: no model is looked up here;
    /// for version 2 always 0, the sizes being in the descriptors).
    pub header: Header,
    /// Version 2: where the descriptors live (the header's descriptor included); `None` for version 1.
    pub descriptors: Option<Descriptors>,
    /// Number of records.
    pub records: u64,
    /// Number of images: the records for version 1; for version 2 the images begun (each one complete
    /// once the stream has been read without error).
    pub images: u64,
    /// Version 2: records that hold an alpha plane (the others hold latents).
    pub alpha_records: u64,
    /// Version 2: images that are tiled (more than one band).
    pub tiled_images: u64,
    /// Version 2: the largest width and height over the stream's descriptors (0 without descriptors).
    pub max_width: u32,
    /// See [`StreamSummary::max_width`].
    pub max_height: u32,
    /// Sum of payload bytes (descriptors at the start of payloads included).
    pub payload_bytes: u64,
    /// Smallest payload (0 when there are no records).
    pub min_payload: u64,
    /// Largest payload.
    pub max_payload: u64,
}

impl StreamSummary {
    /// Mean bytes per record, container overhead included (0 when there are no records).
    pub fn bytes_per_record(&self) -> f64 {
        if self.records == 0 {
            0.0
        } else {
            self.bytes as f64 / self.records as f64
        }
    }

    /// Mean bytes per image, container overhead included (0 when there are no images).
    pub fn bytes_per_image(&self) -> f64 {
        if self.images == 0 {
            0.0
        } else {
            self.bytes as f64 / self.images as f64
        }
    }
}

/// Walks every stream of an input, checking every CRC, head, limit and (version 2) descriptor and image
/// framing, without a model or any decoding. Version 2 is read when `limits` ask for it
/// ([`Limits::with_max_version`]`(2)`), as by [`StreamReader`].
///
/// Returns the summaries of the streams; the first problem is an error (with its location).
pub fn inspect<R: Read>(r: R, file: Option<PathBuf>, limits: Limits) -> Result<Vec<StreamSummary>> {
    let mut rd = StreamReader::new(r, file, limits);
    let mut out: Vec<StreamSummary> = Vec::new();
    while let Some(ev) = rd.next_event()? {
        match ev {
            Event::Header(h) => {
                if let Some(last) = out.last_mut() {
                    last.bytes = h.offset - last.offset;
                }
                out.push(StreamSummary {
                    offset: h.offset,
                    bytes: 0,
                    version: h.version,
                    header: h.header,
                    descriptors: h.descriptors,
                    records: 0,
                    images: 0,
                    alpha_records: 0,
                    tiled_images: 0,
                    max_width: 0,
                    max_height: 0,
                    payload_bytes: 0,
                    min_payload: 0,
                    max_payload: 0,
                });
            }
            Event::Record(rec) => {
                if let Some(last) = out.last_mut() {
                    let n = rec.payload.len() as u64;
                    last.min_payload = if last.records == 0 {
                        n
                    } else {
                        last.min_payload.min(n)
                    };
                    last.max_payload = last.max_payload.max(n);
                    last.records += 1;
                    last.payload_bytes += n;
                    match rec.part {
                        None => last.images += 1,
                        Some(p) => {
                            last.alpha_records += u64::from(p.alpha);
                            if p.is_first() {
                                last.images += u64::from(p.images);
                                if let Some(d) = p.desc {
                                    last.tiled_images += u64::from(d.is_tiled());
                                    last.max_width = last.max_width.max(d.width);
                                    last.max_height = last.max_height.max(d.height);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let end = rd.position();
    if let Some(last) = out.last_mut() {
        last.bytes = end - last.offset;
    }
    Ok(out)
}
