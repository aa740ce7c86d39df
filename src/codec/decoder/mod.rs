//! The streaming decoder of one stream or a concatenation of streams.

use std::collections::VecDeque;
use std::io::Read;
use std::path::PathBuf;

use image::DynamicImage;

use super::coding::DecodeFailure;
use super::resolve::{resolve, Current};
mod images_v2;
use super::{samples_image, Limits, ModelChoice, Options};
use crate::error::{Error, FormatError, Result};
use crate::format::{Event, Header, Record, StreamHeader, StreamReader};
use crate::model::{Geometry, Model, Registry};

/// Reads a stream (or a concatenation of streams) and yields each image's 8-bit samples.
///
/// Records are read one at a time, never seeking. Records that have already arrived (up to
/// [`Options::batch_size`]) are run through the decoder network together; the decoder never waits for
/// more input while it holds a decoded image, so each image is delivered as soon as its record is in.
/// Every good record before a damaged one is delivered before the error, and after an error the decoder
/// yields nothing more. Errors carry [`crate::Location`]s (file, record index in the whole input, byte
/// offset). The same bytes give the same result whatever sizes the `Read` returns.
///
/// ```
/// # fn main() -> aez::Result<()> {
/// # let model = aez::Model::default_model()?;
/// # let mut enc = aez::Encoder::new(Vec::new(), &model, aez::Options::default())?;
/// # enc.push_pixels(&[0; 28 * 28])?;
/// # let bytes = enc.finish()?;
/// // Find the model by the stream's id (embedded, AEZ_MODEL_PATH):
/// let mut dec = aez::Decoder::new(&bytes[..], aez::ModelChoice::default(), aez::Options::default())?;
/// assert_eq!((dec.header().width, dec.header().height), (28, 28));
/// let mut buf = vec![0u8; dec.image_len()];
/// while dec.next_pixels_into(&mut buf)? {
///     // buf holds the next image
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Decoder<R: Read> {
    reader: StreamReader<R>,
    choice: ModelChoice,
    registry: Option<Registry>,
    batch_size: usize,
    threads: usize,
    limits: Limits,
    models: Vec<Current>,
    current: Current,
    header: StreamHeader,
    resolved: Header,
    ready: VecDeque<DynamicImage>,
    pending_header: Option<StreamHeader>,
    pending_err: Option<Error>,
    finished: bool,
    delivered: u64,
}

impl<R: Read> Decoder<R> {
    /// Reads the first header from `r` and resolves its model.
    pub fn new(r: R, model: impl Into<ModelChoice>, options: Options) -> Result<Self> {
        Self::with_file(r, None, model, options)
    }

    /// As [`Decoder::new`], naming the input `file` in error locations.
    pub fn with_file(
        r: R,
        file: Option<PathBuf>,
        model: impl Into<ModelChoice>,
        options: Options,
    ) -> Result<Self> {
        let mut reader = StreamReader::new(r, file, options.limits).accept_version_2();
        if options.single_stream {
            reader = reader.single_stream();
        }
        let header = match reader.next_event()? {
            Some(Event::Header(h)) => h,
            // The reader always starts with a header or an error; anything else is a bug, reported as such.
            _ => {
                return Err(Error::Format {
                    at: reader.location(None, 0),
                    what: FormatError::Empty,
                })
            }
        };
        let choice = model.into();
        let mut registry = match &choice {
            ModelChoice::Given(_) => None,
            ModelChoice::Lookup(_) => Some(Registry::from_env()),
            ModelChoice::Registry(r, _) => Some(r.clone()),
        };
        let mut models = Vec::new();
        let threads = options.threads.max(1);
        let current = resolve(
            &reader,
            &choice,
            &mut registry,
            &mut models,
            &header,
            &options.limits,
            threads,
        )?;
        let resolved = resolved_header(&current, &header);
        Ok(Decoder {
            reader,
            choice,
            registry,
            batch_size: options.batch_size.max(1),
            threads,
            limits: options.limits,
            models,
            current,
            header,
            resolved,
            ready: VecDeque::new(),
            pending_header: None,
            pending_err: None,
            finished: false,
            delivered: 0,
        })
    }

    /// The header of the stream being read (it changes at each concatenated stream), with its width and
    /// height resolved from the model when the stream does not store them (geometry field `11`).
    pub fn header(&self) -> &Header {
        &self.resolved
    }

    /// The header as stored (width and height 0 when not stored), with its offset and stream index.
    pub fn stream_header(&self) -> &StreamHeader {
        &self.header
    }

    /// The model decoding the current stream.
    pub fn model(&self) -> &Model {
        self.current.model()
    }

    /// The geometry of the current stream's images: the model's for a version-1 stream; for a version-2
    /// stream the size and channels (alpha included) of its images when the stream says them once in its
    /// header, else (images of several sizes) width and height 0.
    pub fn geometry(&self) -> Geometry {
        match &self.current {
            Current::V1(c) => c.geometry,
            Current::V2(_) => match self
                .header
                .descriptors
                .as_ref()
                .and_then(|d| d.header_desc())
            {
                Some(d) => Geometry {
                    width: d.width,
                    height: d.height,
                    channels: d.colour.channels() as u8,
                },
                None => Geometry {
                    width: 0,
                    height: 0,
                    channels: 0,
                },
            },
        }
    }

    /// Samples of one image of the current stream (`width * height * channels`; 0 when its images vary).
    pub fn image_len(&self) -> usize {
        self.geometry().samples()
    }

    /// Images delivered so far.
    pub fn images_delivered(&self) -> u64 {
        self.delivered
    }

    /// Bytes of input consumed so far (including records decoded and not yet delivered).
    pub fn bytes_read(&self) -> u64 {
        self.reader.position()
    }

    /// The next image's 8-bit samples (model geometry, row-major, channels interleaved), or `None` at the
    /// end of the input.
    pub fn next_pixels(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(self.next_decoded()?.map(DynamicImage::into_bytes))
    }

    /// The next decoded image, filling the queue as needed.
    fn next_decoded(&mut self) -> Result<Option<DynamicImage>> {
        loop {
            if let Some(p) = self.ready.pop_front() {
                self.delivered += 1;
                return Ok(Some(p));
            }
            if let Some(e) = self.pending_err.take() {
                self.finished = true;
                return Err(e);
            }
            if let Some(h) = self.pending_header.take() {
                match resolve(
                    &self.reader,
                    &self.choice,
                    &mut self.registry,
                    &mut self.models,
                    &h,
                    &self.limits,
                    self.threads,
                ) {
                    Ok(c) => {
                        self.resolved = resolved_header(&c, &h);
                        self.current = c;
                        self.header = h;
                    }
                    Err(e) => {
                        self.finished = true;
                        return Err(e);
                    }
                }
                continue;
            }
            if self.finished {
                return Ok(None);
            }
            if let Err(e) = self.fill() {
                self.finished = true;
                return Err(e);
            }
        }
    }

    /// Decodes the next image into `out`, which must hold [`Decoder::image_len`] samples of the current
    /// stream (check it again after a concatenated stream of another model begins). `false` at the end
    /// of the input.
    pub fn next_pixels_into(&mut self, out: &mut [u8]) -> Result<bool> {
        let want = self.image_len();
        if self.ready.is_empty() && out.len() != want {
            // Checked before anything is consumed when nothing is pending.
            return Err(bad_len(out.len(), want));
        }
        match self.next_decoded()? {
            Some(img) if img.as_bytes().len() == out.len() => {
                out.copy_from_slice(img.as_bytes());
                Ok(true)
            }
            Some(img) => {
                let len = img.as_bytes().len();
                self.ready.push_front(img);
                self.delivered -= 1;
                Err(bad_len(out.len(), len))
            }
            None => Ok(false),
        }
    }

    /// The next image as an [`image::DynamicImage`]: of the model's geometry (version 1), or of the size
    /// and colour layout of the image that was compressed (version 2: a gray input decodes to gray, RGBA
    /// to RGBA).
    pub fn next_image(&mut self) -> Result<Option<DynamicImage>> {
        self.next_decoded()
    }

    /// The next record of the current stream; `None` when the stream ends there: at the end of the input,
    /// at a concatenated stream's header, or at an error (each kept for `next_decoded`).
    fn next_record(&mut self) -> Option<Record> {
        match self.reader.next_event() {
            Err(e) => self.pending_err = Some(e),
            Ok(None) => self.finished = true,
            Ok(Some(Event::Header(h))) => self.pending_header = Some(h),
            Ok(Some(Event::Record(rec))) => return Some(rec),
        }
        None
    }

    /// Reads the records of the current stream that are already here (at least one, waiting for it if
    /// needed; at most `batch_size`) and decodes them together.
    fn fill(&mut self) -> Result<()> {
        let coding = match self.current.clone() {
            Current::V1(c) => c,
            Current::V2(c) => return self.fill_v2(&c),
        };
        let mut records: Vec<Record> = Vec::new();
        while records.len() < self.batch_size {
            // Never wait for input while holding a decoded record: decode what is here first.
            if !records.is_empty() && !self.reader.next_record_ready() {
                break;
            }
            match self.next_record() {
                Some(rec) => records.push(rec),
                None => break,
            }
        }
        if records.is_empty() {
            return Ok(());
        }
        let (images, failure) = coding.decode_records(self.header.header.coder, &records);
        for img in images {
            self.ready.push_back(samples_image(img, coding.geometry)?);
        }
        match failure {
            None => Ok(()),
            Some(DecodeFailure::Entropy(i, what)) => {
                let rec = &records[i];
                // The entropy error comes first; a later reader error is not reached.
                self.pending_err = Some(Error::Entropy {
                    at: self.reader.location(Some(rec.index), rec.payload_offset),
                    what,
                });
                self.pending_header = None;
                self.finished = true;
                Ok(())
            }
            Some(DecodeFailure::Other(e)) => Err(e),
        }
    }

    /// Gives the inner reader back, positioned after what was read. With
    /// [`Options::single_stream`] that is just after the stream; otherwise bytes read ahead are lost.
    pub fn into_inner(self) -> R {
        self.reader.into_inner()
    }
}

/// A header as the decoder reports it: a version-1 stream's with the model's size when elided.
fn resolved_header(current: &Current, h: &StreamHeader) -> Header {
    match current {
        Current::V1(c) => c.resolve_header(&h.header),
        Current::V2(_) => h.header,
    }
}

fn bad_len(got: usize, want: usize) -> Error {
    Error::InvalidArgument {
        what: "output buffer length",
        value: got.to_string(),
        expected: format!("{want} samples (Decoder::image_len)"),
    }
}

impl<R: Read> Iterator for Decoder<R> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_pixels().transpose()
    }
}
