//! Reading streams record by record from any [`Read`], checking everything the spec says a decoder MUST.
//!
//! The reader keeps a small read-ahead buffer ([`super::READ_BUFFER`] bytes) so that it can tell, without
//! blocking, whether the next record has fully arrived ([`StreamReader::next_record_ready`]): a decoder
//! batches the network only over records already here and delivers the rest promptly. In
//! [`StreamReader::single_stream`] mode it reads exactly the bytes of one stream and no byte more, for a
//! stream embedded in a longer input.
//!
//! Version 2 (spec 11) is read only when asked ([`Limits::max_version`], or
//! [`StreamReader::accept_version_2`]): with the default limits a reader refuses it as an unsupported
//! version, so that a decoder of version-1 images never takes a version-2 stream's records for
//! version-1 ones.

use std::io::Read;
use std::path::PathBuf;

use super::consts::*;
use super::head::{self, Head};
use super::source::ByteSource;
use super::{AnyHeader, Descriptors, Header, HeaderV2, ImageDesc, Limits};
use crate::error::{Error, FormatError, Location, Result};

mod headers;
mod images;
mod records;

pub(crate) use images::Framing;
pub use images::Part;

/// A header that passed its checks (CRC included), with where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHeader {
    /// The parsed header, as stored: width and height 0 when the stream does not store them (geometry
    /// field `11`: the model's, see [`Header::model_geometry`]). For a version-2 stream: its coder, kind
    /// and model id, with width and height 0 (the sizes are in [`StreamHeader::descriptors`]).
    pub header: Header,
    /// The version byte: 1 or 2.
    pub version: u8,
    /// Version 2: where the stream's image descriptors live (the header's descriptor, if any, is in
    /// [`Descriptors::InHeader`]); `None` for version 1.
    pub descriptors: Option<Descriptors>,
    /// Offset of its magic in the input.
    pub offset: u64,
    /// 0-based index of this stream in a concatenation.
    pub stream: u64,
}

impl StreamHeader {
    /// The header as a header of either version.
    pub fn any(&self) -> AnyHeader {
        match self.descriptors {
            None => AnyHeader::V1(self.header),
            Some(descriptors) => AnyHeader::V2(HeaderV2 {
                coder: self.header.coder,
                kind: self.header.kind,
                model_id: self.header.model_id,
                descriptors,
            }),
        }
    }

    /// The version-2 header's descriptor (geometry `00`, descriptor `00`), for every image of the stream.
    pub fn header_desc(&self) -> Option<&ImageDesc> {
        self.descriptors.as_ref().and_then(Descriptors::header_desc)
    }
}

/// One record whose CRC matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 0-based index of the record in the whole input (all concatenated streams).
    pub index: u64,
    /// 0-based index within its stream (the index bound into the record CRC).
    pub index_in_stream: u64,
    /// Offset of the record's head byte.
    pub offset: u64,
    /// Offset of the first payload byte.
    pub payload_offset: u64,
    /// The payload (not yet entropy-decoded), as stored: in a per-image version-2 stream an image's first
    /// payload starts with its descriptor (see [`Record::body`]).
    pub payload: Vec<u8>,
    /// Version 2: the image, band and plane this record is; `None` for version 1 (one record per image).
    pub part: Option<Part>,
}

impl Record {
    /// The payload after the image descriptor it may start with ([`Part::desc_len`]): the coded latents
    /// or alpha plane. The whole payload for version 1.
    pub fn body(&self) -> &[u8] {
        let skip = self.part.map_or(0, |p| p.desc_len);
        &self.payload[skip.min(self.payload.len())..]
    }
}

/// What [`StreamReader::next_event`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The start of a stream (the first, or one concatenated after it).
    Header(StreamHeader),
    /// A record of the current stream.
    Record(Record),
}

#[derive(Debug)]
enum State {
    Start,
    Batch {
        hc: [u8; CRC_LEN],
        index: u64,
        /// Version 2: the image framing.
        framing: Option<Framing>,
    },
    PendingSingle(Record),
    BetweenStreams,
    Done,
}

/// Reads an `.aez` input (one stream or a concatenation) one event at a time, never seeking and never
/// holding more than one record (plus [`super::READ_BUFFER`] bytes read ahead). After an error it returns
/// `Ok(None)` forever.
#[derive(Debug)]
pub struct StreamReader<R: Read> {
    src: ByteSource<R>,
    file: Option<PathBuf>,
    limits: Limits,
    state: State,
    next_index: u64,
    streams: u64,
    /// Exact reads only, and the end after the first stream.
    single: bool,
}

impl<R: Read> StreamReader<R> {
    /// A reader over `r`; `file` names the input in error locations.
    pub fn new(r: R, file: Option<PathBuf>, limits: Limits) -> Self {
        StreamReader {
            src: ByteSource::new(r),
            file,
            limits,
            state: State::Start,
            next_index: 0,
            streams: 0,
            single: false,
        }
    }

    /// Reads version-2 streams too (spec 11), not only version 1. A caller that asks for this MUST look at
    /// [`StreamHeader::version`] and each [`Record::part`]: a version-2 record is a band of an image (or
    /// its alpha plane), not a version-1 image. The same as limits with
    /// [`Limits::with_max_version`]`(2)`.
    pub fn accept_version_2(mut self) -> Self {
        self.limits.max_version = VERSION_2;
        self
    }

    /// Reads one stream only, and not one byte past its end: no read-ahead, and after the stream's end
    /// marker (or a single image's CRC) the reader ends without looking for a concatenated stream. The
    /// inner reader ([`StreamReader::into_inner`]) is then positioned just after the stream.
    pub fn single_stream(mut self) -> Self {
        self.single = true;
        self.src.exact = true;
        self
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.src.pos
    }

    /// Records returned so far (whole input).
    pub fn records_read(&self) -> u64 {
        self.next_index
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The input's name in error locations.
    pub fn file(&self) -> Option<&PathBuf> {
        self.file.as_ref()
    }

    /// Gives the inner reader back. Bytes read ahead and not consumed are lost, except in
    /// [`StreamReader::single_stream`] mode, which reads none.
    pub fn into_inner(self) -> R {
        self.src.into_inner()
    }

    /// A location in this input.
    pub fn location(&self, record: Option<u64>, offset: u64) -> Location {
        Location {
            file: self.file.clone(),
            record,
            offset,
        }
    }

    pub(super) fn format_err(
        &mut self,
        record: Option<u64>,
        offset: u64,
        what: FormatError,
    ) -> Error {
        self.state = State::Done;
        Error::Format {
            at: self.location(record, offset),
            what,
        }
    }

    fn read_err(&mut self, e: std::io::Error) -> Error {
        self.state = State::Done;
        let name = match &self.file {
            Some(f) => f.display().to_string(),
            None => "input".to_string(),
        };
        Error::io(
            format!("{name}: reading at byte offset {}", self.src.pos),
            e,
        )
    }

    /// Reads until `out` is full or EOF; returns the bytes read.
    pub(super) fn fill(&mut self, out: &mut [u8]) -> Result<usize> {
        match self.src.fill(out) {
            Ok(n) => Ok(n),
            Err(e) => Err(self.read_err(e)),
        }
    }

    /// Reads exactly `out.len()` bytes of `field`, or reports a truncation.
    pub(super) fn exact(
        &mut self,
        out: &mut [u8],
        record: Option<u64>,
        field: &'static str,
    ) -> Result<()> {
        let start = self.src.pos;
        let n = self.fill(out)?;
        if n < out.len() {
            let at = self.src.pos;
            return Err(self.format_err(
                record,
                at,
                FormatError::Truncated {
                    field,
                    from: start,
                    needed: out.len() as u64,
                    available: n as u64,
                },
            ));
        }
        Ok(())
    }

    /// True when the next event is a record (or a batch's end marker, or an error in its head) whose bytes
    /// have all been read ahead already: [`StreamReader::next_event`] returns it without any I/O. False
    /// when it would have to read (or the next event is a stream header).
    pub fn next_record_ready(&self) -> bool {
        match &self.state {
            State::PendingSingle(_) => true,
            State::Batch { .. } => {
                let b = self.src.buffered();
                let Some(&h) = b.first() else {
                    return false;
                };
                let need = match head::parse(h) {
                    Err(_) => 1,
                    Ok(Head::End) => END_MARKER_LEN,
                    Ok(Head::Len(n)) => 1 + n as usize + CRC_LEN,
                    Ok(Head::Extended) => {
                        let Some(x) = b.get(1..HEAD_EXTENDED_LEN) else {
                            return false;
                        };
                        let mut e = [0u8; HEAD_EXTENDED_LEN - 1];
                        e.copy_from_slice(x);
                        match head::parse_extended(&e) {
                            Ok(n) if n <= self.limits.max_payload => {
                                HEAD_EXTENDED_LEN + n as usize + CRC_LEN
                            }
                            _ => HEAD_EXTENDED_LEN,
                        }
                    }
                };
                b.len() >= need
            }
            _ => false,
        }
    }

    /// The next header or record, or `None` at the clean end of the input.
    pub fn next_event(&mut self) -> Result<Option<Event>> {
        loop {
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return Ok(None),
                State::Start => {
                    let mut first = [0u8; 1];
                    if self.fill(&mut first)? == 0 {
                        return Err(self.format_err(None, 0, FormatError::Empty));
                    }
                    return self.read_header(first[0]).map(Some);
                }
                State::BetweenStreams => {
                    if self.single {
                        return Ok(None);
                    }
                    let mut first = [0u8; 1];
                    if self.fill(&mut first)? == 0 {
                        return Ok(None);
                    }
                    return self.read_header(first[0]).map(Some);
                }
                State::PendingSingle(rec) => {
                    self.state = State::BetweenStreams;
                    return Ok(Some(Event::Record(rec)));
                }
                State::Batch { hc, index, framing } => {
                    self.state = State::Batch { hc, index, framing };
                    if let Some(rec) = self.read_batch_item(hc, index, framing)? {
                        return Ok(Some(Event::Record(rec)));
                    }
                    // End marker read: state is BetweenStreams, loop to look for another stream.
                }
            }
        }
    }
}
