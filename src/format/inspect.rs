//! Walking a stream without a model, for `aez info`.

use std::io::Read;
use std::path::PathBuf;

use super::consts::VERSION;
use super::{Event, Header, Limits, StreamReader};
use crate::error::Result;

/// What [`inspect`] found about one stream of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSummary {
    /// Offset of the stream's first byte.
    pub offset: u64,
    /// Bytes of the whole stream (header to end marker or file CRC).
    pub bytes: u64,
    /// Container version (always [`VERSION`] for a stream that parsed).
    pub version: u8,
    /// The header, as stored (width and height 0 when they are the model's: no model is looked up here).
    pub header: Header,
    /// Number of records.
    pub records: u64,
    /// Sum of payload bytes.
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
}

/// Walks every stream of an input, checking every CRC, head and limit without a model or any decoding.
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
                    version: VERSION,
                    header: h.header,
                    records: 0,
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
