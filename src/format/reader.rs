//! Reading streams record by record from any [`Read`], checking everything the spec says a decoder MUST.

use std::io::{ErrorKind, Read};
use std::path::PathBuf;

use super::consts::*;
use super::head::{self, Head};
use super::{crc32, record_crc, Header, Kind, Limits};
use crate::error::{Error, Location, Result};

/// A header that passed its checks (CRC included), with where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamHeader {
    /// The parsed header, as stored: width and height 0 when the stream does not store them (geometry
    /// field `11`: the model's, see [`Header::model_geometry`]).
    pub header: Header,
    /// Offset of its magic in the input.
    pub offset: u64,
    /// 0-based index of this stream in a concatenation.
    pub stream: u64,
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
    /// The payload (not yet entropy-decoded).
    pub payload: Vec<u8>,
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
    Batch { hc: [u8; CRC_LEN], index: u64 },
    PendingSingle(Record),
    BetweenStreams,
    Done,
}

/// Reads an `.aez` input (one stream or a concatenation) one event at a time, never seeking and never
/// holding more than one record. After an error it returns `Ok(None)` forever.
#[derive(Debug)]
pub struct StreamReader<R: Read> {
    r: R,
    pos: u64,
    file: Option<PathBuf>,
    limits: Limits,
    state: State,
    next_index: u64,
    streams: u64,
}

impl<R: Read> StreamReader<R> {
    /// A reader over `r`; `file` names the input in error locations.
    pub fn new(r: R, file: Option<PathBuf>, limits: Limits) -> Self {
        StreamReader {
            r,
            pos: 0,
            file,
            limits,
            state: State::Start,
            next_index: 0,
            streams: 0,
        }
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.pos
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

    /// Gives the inner reader back.
    pub fn into_inner(self) -> R {
        self.r
    }

    /// A location in this input.
    pub fn location(&self, record: Option<u64>, offset: u64) -> Location {
        Location {
            file: self.file.clone(),
            record,
            offset,
        }
    }

    fn format_err(&mut self, record: Option<u64>, offset: u64, what: impl Into<String>) -> Error {
        self.state = State::Done;
        Error::Format {
            at: self.location(record, offset),
            what: what.into(),
        }
    }

    /// Reads until `buf` is full or EOF; returns the bytes read.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.r.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => {
                    n += k;
                    self.pos += k as u64;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.state = State::Done;
                    let name = match &self.file {
                        Some(f) => f.display().to_string(),
                        None => "input".to_string(),
                    };
                    return Err(Error::io(
                        format!("{name}: reading at byte offset {}", self.pos),
                        e,
                    ));
                }
            }
        }
        Ok(n)
    }

    /// Reads exactly `buf.len()` bytes, or reports a truncation naming `what`.
    fn exact(&mut self, buf: &mut [u8], record: Option<u64>, what: &str) -> Result<()> {
        let start = self.pos;
        let n = self.fill(buf)?;
        if n < buf.len() {
            let at = self.pos;
            return Err(self.format_err(
                record,
                at,
                format!(
                    "truncated stream: {what} needs {} bytes from offset {start}, only {n} present",
                    buf.len()
                ),
            ));
        }
        Ok(())
    }

    /// The next header or record, or `None` at the clean end of the input.
    pub fn next_event(&mut self) -> Result<Option<Event>> {
        loop {
            match std::mem::replace(&mut self.state, State::Done) {
                State::Done => return Ok(None),
                State::Start => {
                    let mut first = [0u8; 1];
                    if self.fill(&mut first)? == 0 {
                        return Err(self.format_err(None, 0, "empty input: not an aez stream"));
                    }
                    return self.read_header(first[0]).map(Some);
                }
                State::BetweenStreams => {
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
                State::Batch { hc, index } => {
                    self.state = State::Batch { hc, index };
                    if let Some(rec) = self.read_batch_item(hc, index)? {
                        return Ok(Some(Event::Record(rec)));
                    }
                    // End marker read: state is BetweenStreams, loop to look for another stream.
                }
            }
        }
    }

    fn read_header(&mut self, first: u8) -> Result<Event> {
        let start = self.pos - 1;
        let mut h = [0u8; HEADER_LEN_EXPLICIT_GEOMETRY];
        h[0] = first;
        // The prefix (magic, version, flags) first: the flags decide the header's length.
        let n = self.fill(&mut h[1..HEADER_PREFIX_LEN])?;
        // A wrong magic/version/flags is a better message than "truncated" (e.g. a text file).
        if let Err(e) = Header::check_prefix(&h[..1 + n]) {
            let what = if self.streams > 0 && e.offset < 4 {
                format!("trailing bytes after the last stream ({})", e.what)
            } else {
                e.what
            };
            return Err(self.format_err(None, start + e.offset as u64, what));
        }
        // check_prefix accepted the flags, so the geometry bits are valid.
        let len = match h
            .get(OFF_FLAGS)
            .and_then(|&f| Header::stored_len_of_flags(f))
        {
            Some(len) if 1 + n == HEADER_PREFIX_LEN => len,
            _ => {
                let at = self.pos;
                return Err(self.format_err(
                    None,
                    at,
                    format!(
                        "truncated stream: the header needs at least {HEADER_LEN_MODEL_GEOMETRY} bytes, only {} present",
                        1 + n
                    ),
                ));
            }
        };
        let rest = self.fill(&mut h[HEADER_PREFIX_LEN..len])?;
        if HEADER_PREFIX_LEN + rest < len {
            let at = self.pos;
            return Err(self.format_err(
                None,
                at,
                format!(
                    "truncated stream: the header needs {len} bytes, only {} present",
                    HEADER_PREFIX_LEN + rest
                ),
            ));
        }
        let h = &h[..len];
        // check_prefix accepted the flags, so the kind bits are valid.
        let kind = Kind::from_flags(h[OFF_FLAGS]).unwrap_or(Kind::Batch);
        let stream = self.streams;
        let (header, pending) = match kind {
            Kind::Batch => {
                let mut c = [0u8; CRC_LEN];
                self.exact(&mut c, None, "the header CRC")?;
                let want = crc32(&[h]);
                if u32::from_le_bytes(c) != want {
                    return Err(self.format_err(
                        None,
                        start + len as u64,
                        format!(
                            "header CRC mismatch: stored 0x{:08x}, computed 0x{want:08x} (damaged header)",
                            u32::from_le_bytes(c)
                        ),
                    ));
                }
                let header = self.parse_checked(h, start)?;
                self.state = State::Batch { hc: c, index: 0 };
                (header, None)
            }
            Kind::Single => {
                let index = self.next_index;
                let head_off = self.pos;
                let mut hb = [0u8; 1];
                self.exact(&mut hb, Some(index), "the record head")?;
                let mut head_bytes = vec![hb[0]];
                let n = match head::parse(hb[0]) {
                    Err(what) => return Err(self.format_err(Some(index), head_off, what)),
                    Ok(Head::End) => {
                        return Err(self.format_err(
                            Some(index),
                            head_off,
                            "a single-image stream has no end marker (head 0x00 is invalid here)",
                        ))
                    }
                    Ok(Head::Len(n)) => n,
                    Ok(Head::Extended) => self.read_extended(index, head_off, &mut head_bytes)?,
                };
                self.check_payload_len(n, index, head_off)?;
                let payload_offset = self.pos;
                let mut payload = vec![0u8; n as usize];
                self.exact(&mut payload, Some(index), "the payload")?;
                let crc_off = self.pos;
                let mut c = [0u8; CRC_LEN];
                self.exact(&mut c, Some(index), "the file CRC")?;
                let want = crc32(&[h, &head_bytes, &payload]);
                if u32::from_le_bytes(c) != want {
                    return Err(self.format_err(
                        Some(index),
                        crc_off,
                        format!(
                            "CRC mismatch: stored 0x{:08x}, computed 0x{want:08x} (damaged file)",
                            u32::from_le_bytes(c)
                        ),
                    ));
                }
                let header = self.parse_checked(h, start)?;
                self.next_index += 1;
                let rec = Record {
                    index,
                    index_in_stream: 0,
                    offset: head_off,
                    payload_offset,
                    payload,
                };
                (header, Some(rec))
            }
        };
        if let Some(rec) = pending {
            self.state = State::PendingSingle(rec);
        }
        self.streams += 1;
        Ok(Event::Header(StreamHeader {
            header,
            offset: start,
            stream,
        }))
    }

    fn parse_checked(&mut self, h: &[u8], start: u64) -> Result<Header> {
        let header = match Header::parse(h) {
            Ok(x) => x,
            Err(e) => return Err(self.format_err(None, start + e.offset as u64, e.what)),
        };
        // An elided geometry is the model's: checked against the limits once the model is known.
        let side = u64::from(self.limits.max_side);
        for (what, value, off) in [
            ("width", header.width, OFF_WIDTH),
            ("height", header.height, OFF_HEIGHT),
        ] {
            if u64::from(value) > side {
                self.state = State::Done;
                return Err(Error::Limit {
                    at: self.location(None, start + off as u64),
                    what,
                    value: value.into(),
                    limit: side,
                });
            }
        }
        Ok(header)
    }

    fn read_extended(
        &mut self,
        index: u64,
        head_off: u64,
        head_bytes: &mut Vec<u8>,
    ) -> Result<u32> {
        let mut x = [0u8; HEAD_EXTENDED_LEN - 1];
        self.exact(&mut x, Some(index), "the extended record length")?;
        head_bytes.extend_from_slice(&x);
        match head::parse_extended(&x) {
            Ok(n) => Ok(n),
            Err(what) => Err(self.format_err(Some(index), head_off + 1, what)),
        }
    }

    fn check_payload_len(&mut self, n: u32, index: u64, head_off: u64) -> Result<()> {
        if n > self.limits.max_payload {
            self.state = State::Done;
            return Err(Error::Limit {
                at: self.location(Some(index), head_off),
                what: "record payload length",
                value: n.into(),
                limit: self.limits.max_payload.into(),
            });
        }
        Ok(())
    }

    /// Reads a record or the end marker of a batch stream. `Ok(None)`: end marker read and checked.
    fn read_batch_item(&mut self, hc: [u8; CRC_LEN], index: u64) -> Result<Option<Record>> {
        let global = self.next_index;
        let head_off = self.pos;
        let mut hb = [0u8; 1];
        if self.fill(&mut hb)? == 0 {
            return Err(self.format_err(
                Some(global),
                head_off,
                format!("truncated stream: it ends after {index} records without its end marker"),
            ));
        }
        let mut head_bytes = vec![hb[0]];
        let n = match head::parse(hb[0]) {
            Err(what) => return Err(self.format_err(Some(global), head_off, what)),
            Ok(Head::End) => {
                let mut c = [0u8; CRC_LEN];
                self.exact(&mut c, None, "the end marker's CRC")?;
                let want = record_crc(&hc, index, &[END_MARKER], &[]);
                if u32::from_le_bytes(c) != want {
                    return Err(self.format_err(
                        None,
                        head_off,
                        format!(
                            "end marker CRC mismatch after {index} records: stored 0x{:08x}, computed 0x{want:08x} \
                             (damaged marker, or records missing or added)",
                            u32::from_le_bytes(c)
                        ),
                    ));
                }
                self.state = State::BetweenStreams;
                return Ok(None);
            }
            Ok(Head::Len(n)) => n,
            Ok(Head::Extended) => self.read_extended(global, head_off, &mut head_bytes)?,
        };
        if index >= self.limits.max_records {
            self.state = State::Done;
            return Err(Error::Limit {
                at: self.location(Some(global), head_off),
                what: "records in one stream",
                value: index + 1,
                limit: self.limits.max_records,
            });
        }
        self.check_payload_len(n, global, head_off)?;
        let payload_offset = self.pos;
        let mut payload = vec![0u8; n as usize];
        self.exact(&mut payload, Some(global), "the record payload")?;
        let mut c = [0u8; CRC_LEN];
        self.exact(&mut c, Some(global), "the record CRC")?;
        let want = record_crc(&hc, index, &head_bytes, &payload);
        if u32::from_le_bytes(c) != want {
            return Err(self.format_err(
                Some(global),
                head_off,
                format!(
                    "record CRC mismatch: stored 0x{:08x}, computed 0x{want:08x} (damaged record)",
                    u32::from_le_bytes(c)
                ),
            ));
        }
        self.state = State::Batch {
            hc,
            index: index + 1,
        };
        self.next_index += 1;
        Ok(Some(Record {
            index: global,
            index_in_stream: index,
            offset: head_off,
            payload_offset,
            payload,
        }))
    }
}

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
