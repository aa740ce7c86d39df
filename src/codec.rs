//! The pipeline, both directions: pixels -> encoder network -> quantizer -> entropy coder -> container,
//! and back. The one module that knows every stage.
//!
//! - [`compress`] / [`decompress`]: one image <-> a self-contained `.aez` file (kind "single image");
//! - [`Encoder`] / [`Decoder`]: streams of many images (kind "batch"), with inference batched inside
//!   ([`Options::batch_size`] images per network run), read and written one record at a time.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

use image::DynamicImage;

use crate::entropy::{decode_symbols, encode_symbols, Coder, SymbolTable};
use crate::error::{Error, Location, Result};
use crate::format::consts::{MODEL_ID_LEN, OFF_FLAGS, OFF_HEIGHT, OFF_MODEL_ID, OFF_WIDTH};
use crate::format::{self, Event, Header, Kind, StreamHeader, StreamReader, StreamWriter};
use crate::model::{Bundle, Geometry, Model, Quantizer};
use crate::quant;
use crate::runtime::BackendChoice;

pub use crate::format::Limits;

/// Default number of images per network run.
pub const DEFAULT_BATCH_SIZE: usize = 256;

/// Coding options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Entropy coder for new streams (decoders use the stream's).
    pub coder: Coder,
    /// Limits checked while decoding.
    pub limits: Limits,
    /// Images per network run, in both directions (>= 1). The decoder reads up to this many records
    /// ahead before decoding them; use 1 for strictly one record at a time.
    pub batch_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            coder: Coder::default(),
            limits: Limits::default(),
            batch_size: DEFAULT_BATCH_SIZE,
        }
    }
}

impl Options {
    /// The default options with `coder`.
    pub fn new(coder: Coder) -> Self {
        Options::default().with_coder(coder)
    }

    /// These options with another coder.
    pub fn with_coder(mut self, coder: Coder) -> Self {
        self.coder = coder;
        self
    }

    /// These options with other limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// These options with another batch size (0 is taken as 1).
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }
}

/// Which model decodes a stream.
#[derive(Debug, Clone)]
pub enum ModelChoice {
    /// Exactly this model; a stream made with another one is a [`Error::ModelMismatch`].
    Given(Model),
    /// The model whose id the stream names, found with [`Bundle::find_by_id`] (embedded, `AEZ_MODEL_PATH`,
    /// `./models`) and loaded on this backend.
    Lookup(BackendChoice),
}

impl Default for ModelChoice {
    fn default() -> Self {
        ModelChoice::Lookup(BackendChoice::Auto)
    }
}

impl From<&Model> for ModelChoice {
    fn from(m: &Model) -> Self {
        ModelChoice::Given(m.clone())
    }
}

impl From<Model> for ModelChoice {
    fn from(m: Model) -> Self {
        ModelChoice::Given(m)
    }
}

/// The model-side constants of coding: tables, quantizer, geometry, id.
#[derive(Debug)]
struct Coding {
    model: Model,
    id: [u8; MODEL_ID_LEN],
    geometry: Geometry,
    quantizer: Quantizer,
    tables: Vec<SymbolTable>,
}

impl Coding {
    fn new(model: &Model) -> Result<Coding> {
        let b = model.bundle();
        let tables = b
            .tables()
            .iter()
            .enumerate()
            .map(|(d, t)| {
                SymbolTable::new(t.min, &t.freqs, t.escape).map_err(|what| Error::Model {
                    bundle: b.label(),
                    what: format!("entropy.tables[{d}]: {what}"),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Coding {
            model: model.clone(),
            id: model_id(b),
            geometry: b.geometry(),
            quantizer: b.quantizer().clone(),
            tables,
        })
    }

    fn k(&self) -> usize {
        self.tables.len()
    }

    /// `h` with an elided geometry replaced by the model's (bundles have sides of 1..=4096).
    fn resolve_header(&self, h: &Header) -> Header {
        let side = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
        h.resolved(side(self.geometry.width), side(self.geometry.height))
    }

    /// The header of a stream of this model's images: they always have the model's geometry, so it is
    /// not stored (geometry field `11`, spec 2.1).
    fn header(&self, coder: Coder, kind: Kind) -> Header {
        Header::model_geometry(coder, kind, self.id)
    }

    /// Runs the encoder network on `n` images of 8-bit samples and codes each into a payload.
    fn encode_batch(&self, coder: Coder, samples: &[f32], n: usize) -> Result<Vec<Vec<u8>>> {
        let z = self.model.encode(samples, n)?;
        let q = quant::quantize(&z, &self.quantizer)?;
        let k = self.k();
        if q.len() != n * k {
            return Err(Error::Runtime {
                backend: self.model.backend().to_string(),
                what: format!(
                    "encoder returned {} latents for {n} images, expected {}",
                    q.len(),
                    n * k
                ),
            });
        }
        q.chunks_exact(k)
            .map(|qi| {
                let mut p = Vec::with_capacity(k);
                encode_symbols(coder, &self.tables, qi, &mut p)?;
                Ok(p)
            })
            .collect()
    }

    /// Runs the decoder network on `n` images' symbols and returns 8-bit samples per image.
    fn decode_batch(&self, q: &[i32], n: usize) -> Result<Vec<Vec<u8>>> {
        let z = quant::dequantize(q, &self.quantizer)?;
        let x = self.model.decode(&z, n)?;
        let s = self.geometry.samples();
        if x.len() != n * s {
            return Err(Error::Runtime {
                backend: self.model.backend().to_string(),
                what: format!(
                    "decoder returned {} samples for {n} images, expected {}",
                    x.len(),
                    n * s
                ),
            });
        }
        Ok(x.chunks_exact(s)
            .map(|img| img.iter().map(|&v| to_u8(v)).collect())
            .collect())
    }
}

/// `round(clamp(x, 0, 1) * 255)` (`model-bundle.md` section 1); NaN gives 0.
fn to_u8(x: f32) -> u8 {
    (x.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// The model id of a bundle: the first [`MODEL_ID_LEN`] bytes of its hash.
pub fn model_id(bundle: &Bundle) -> [u8; MODEL_ID_LEN] {
    let mut id = [0u8; MODEL_ID_LEN];
    id.copy_from_slice(&bundle.hash()[..MODEL_ID_LEN]);
    id
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The samples of `img` in the model's geometry (8-bit, row-major, channels interleaved).
fn image_samples(img: &DynamicImage, g: Geometry) -> Result<Vec<u8>> {
    if img.width() != g.width || img.height() != g.height {
        return Err(Error::Image {
            input: "image".into(),
            what: format!(
                "is {}x{}, the model takes {}x{} (resize or crop it first)",
                img.width(),
                img.height(),
                g.width,
                g.height
            ),
        });
    }
    Ok(match g.channels {
        1 => img.to_luma8().into_raw(),
        _ => img.to_rgb8().into_raw(),
    })
}

/// Builds an image of the model's geometry from 8-bit samples.
fn samples_image(samples: Vec<u8>, g: Geometry) -> Result<DynamicImage> {
    let bad = || Error::Image {
        input: "decoded image".into(),
        what: format!("has the wrong number of samples for {g}"),
    };
    Ok(match g.channels {
        1 => DynamicImage::ImageLuma8(
            image::GrayImage::from_raw(g.width, g.height, samples).ok_or_else(bad)?,
        ),
        _ => DynamicImage::ImageRgb8(
            image::RgbImage::from_raw(g.width, g.height, samples).ok_or_else(bad)?,
        ),
    })
}

fn to_f32(samples: &[u8], out: &mut Vec<f32>) {
    out.extend(samples.iter().map(|&s| f32::from(s) / 255.0));
}

/// Compresses one image into a self-contained `.aez` file with the default [`Options`].
///
/// The image must have the model's width and height; it is converted to the model's channels.
///
/// ```
/// # fn main() -> aez::Result<()> {
/// let model = aez::Model::default_model()?;
/// let img = image::DynamicImage::ImageLuma8(image::GrayImage::new(28, 28));
/// let bytes = aez::compress(&model, &img)?;
/// assert!(bytes.len() <= 48);
/// let back = aez::decompress(&model, &bytes)?;
/// assert_eq!((back.width(), back.height()), (28, 28));
/// # Ok(()) }
/// ```
pub fn compress(model: &Model, img: &DynamicImage) -> Result<Vec<u8>> {
    compress_with(model, img, &Options::default())
}

/// [`compress`] with explicit options (the coder).
pub fn compress_with(model: &Model, img: &DynamicImage, options: &Options) -> Result<Vec<u8>> {
    let coding = Coding::new(model)?;
    let samples = image_samples(img, coding.geometry)?;
    compress_samples(&coding, &samples, options.coder)
}

/// Compresses one image given as 8-bit samples in the model's geometry.
pub fn compress_pixels(model: &Model, samples: &[u8], options: &Options) -> Result<Vec<u8>> {
    let coding = Coding::new(model)?;
    compress_samples(&coding, samples, options.coder)
}

fn compress_samples(coding: &Coding, samples: &[u8], coder: Coder) -> Result<Vec<u8>> {
    check_samples(samples.len(), coding.geometry)?;
    let mut x = Vec::with_capacity(samples.len());
    to_f32(samples, &mut x);
    let payloads = coding.encode_batch(coder, &x, 1)?;
    let payload = payloads.first().map(Vec::as_slice).unwrap_or_default();
    Ok(format::single_image(
        coding.header(coder, Kind::Single),
        payload,
    ))
}

fn check_samples(n: usize, g: Geometry) -> Result<()> {
    if n != g.samples() {
        return Err(Error::InvalidArgument {
            what: "number of samples",
            value: n.to_string(),
            expected: format!("{} for one {g} image", g.samples()),
        });
    }
    Ok(())
}

/// Decompresses a one-image `.aez` buffer (either kind, holding exactly one image).
///
/// `model` is a [`Model`] (`&model`), or [`ModelChoice::Lookup`] to find the stream's model by its id.
/// Trailing bytes after the image are an error.
pub fn decompress(model: impl Into<ModelChoice>, bytes: &[u8]) -> Result<DynamicImage> {
    let mut dec = Decoder::new(bytes, model, Options::default().with_batch_size(1))?;
    let g = dec.geometry();
    let first = dec.next_pixels()?;
    let Some(samples) = first else {
        return Err(Error::Format {
            at: Location {
                file: None,
                record: None,
                offset: bytes.len() as u64,
            },
            what: "the stream holds no image".into(),
        });
    };
    if dec.next_pixels()?.is_some() {
        return Err(Error::Format {
            at: Location {
                file: None,
                record: Some(1),
                offset: 0,
            },
            what: "the buffer holds more than one image (use aez::Decoder for batches)".into(),
        });
    }
    samples_image(samples, g)
}

/// Writes a batch stream: [`Encoder::push_pixels`] / [`Encoder::push_image`] per image, then the required
/// [`Encoder::finish`].
///
/// Images are buffered and run through the encoder network [`Options::batch_size`] at a time. Dropping an
/// encoder without `finish` loses the buffered images and leaves the stream without its end marker, so
/// every decoder reports it as truncated: it never looks complete.
///
/// ```
/// # fn main() -> aez::Result<()> {
/// let model = aez::Model::default_model()?;
/// let mut enc = aez::Encoder::new(Vec::new(), &model, aez::Options::default())?;
/// for i in 0..10u8 {
///     enc.push_pixels(&[i * 20; 28 * 28])?;
/// }
/// let bytes = enc.finish()?;
/// let mut dec = aez::Decoder::new(&bytes[..], &model, aez::Options::default())?;
/// let mut n = 0;
/// while let Some(pixels) = dec.next_pixels()? {
///     assert_eq!(pixels.len(), 28 * 28);
///     n += 1;
/// }
/// assert_eq!(n, 10);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Encoder<W: Write> {
    writer: Option<StreamWriter<W>>,
    coding: Coding,
    coder: Coder,
    batch_size: usize,
    pending: Vec<f32>,
    pending_n: usize,
}

impl<W: Write> Encoder<W> {
    /// Starts a batch stream on `w` (the header is written now) for `model`.
    pub fn new(w: W, model: &Model, options: Options) -> Result<Self> {
        let coding = Coding::new(model)?;
        let header = coding.header(options.coder, Kind::Batch);
        let writer =
            StreamWriter::new(w, header).map_err(|e| Error::io("writing the aez header", e))?;
        let batch_size = options.batch_size.max(1);
        Ok(Encoder {
            writer: Some(writer),
            pending: Vec::with_capacity(batch_size.min(1024) * coding.geometry.samples()),
            coding,
            coder: options.coder,
            batch_size,
            pending_n: 0,
        })
    }

    fn failed() -> Error {
        Error::InvalidArgument {
            what: "use of an encoder",
            value: "after an earlier error".into(),
            expected: "a new encoder (the stream is incomplete)".into(),
        }
    }

    /// Adds one image: `width * height * channels` 8-bit samples in the model's geometry, row-major,
    /// channels interleaved.
    pub fn push_pixels(&mut self, samples: &[u8]) -> Result<()> {
        if self.writer.is_none() {
            return Err(Self::failed());
        }
        check_samples(samples.len(), self.coding.geometry)?;
        to_f32(samples, &mut self.pending);
        self.pending_n += 1;
        if self.pending_n >= self.batch_size {
            self.flush_batch()?;
        }
        Ok(())
    }

    /// Adds one image of the model's width and height (converted to the model's channels).
    pub fn push_image(&mut self, img: &DynamicImage) -> Result<()> {
        let s = image_samples(img, self.coding.geometry)?;
        self.push_pixels(&s)
    }

    fn flush_batch(&mut self) -> Result<()> {
        if self.pending_n == 0 {
            return Ok(());
        }
        let result = self
            .coding
            .encode_batch(self.coder, &self.pending, self.pending_n);
        self.pending.clear();
        self.pending_n = 0;
        let payloads = match result {
            Ok(p) => p,
            Err(e) => {
                self.writer = None;
                return Err(e);
            }
        };
        let Some(w) = self.writer.as_mut() else {
            return Err(Self::failed());
        };
        for p in &payloads {
            if let Err(e) = w.write_record(p) {
                self.writer = None;
                return Err(Error::io("writing an aez record", e));
            }
        }
        Ok(())
    }

    /// Images written to the stream so far (buffered ones not included).
    pub fn records_written(&self) -> u64 {
        self.writer.as_ref().map_or(0, |w| w.records())
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.writer.as_ref().map_or(0, |w| w.bytes_written())
    }

    /// Encodes the buffered images, writes the end marker and returns the writer. Required.
    pub fn finish(mut self) -> Result<W> {
        self.flush_batch()?;
        let w = self.writer.take().ok_or_else(Self::failed)?;
        w.finish()
            .map_err(|e| Error::io("writing the aez end marker", e))
    }
}

/// Reads a stream (or a concatenation of streams) and yields each image's 8-bit samples.
///
/// Records are read one at a time, never seeking; up to [`Options::batch_size`] are read ahead and run
/// through the decoder network together. Every good record before a damaged one is delivered before the
/// error, and after an error the decoder yields nothing more. Errors carry [`Location`]s (file, record
/// index in the whole input, byte offset). The same bytes give the same result whatever sizes the
/// `Read` returns.
///
/// ```
/// # fn main() -> aez::Result<()> {
/// # let model = aez::Model::default_model()?;
/// # let mut enc = aez::Encoder::new(Vec::new(), &model, aez::Options::default())?;
/// # enc.push_pixels(&[0; 28 * 28])?;
/// # let bytes = enc.finish()?;
/// // Find the model by the stream's id (embedded, AEZ_MODEL_PATH, ./models):
/// let dec = aez::Decoder::new(&bytes[..], aez::ModelChoice::default(), aez::Options::default())?;
/// assert_eq!((dec.header().width, dec.header().height), (28, 28));
/// for pixels in dec {
///     let pixels = pixels?;
///     assert_eq!(pixels.len(), 28 * 28);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Decoder<R: Read> {
    reader: StreamReader<R>,
    choice: ModelChoice,
    batch_size: usize,
    limits: Limits,
    models: Vec<Arc<Coding>>,
    current: Arc<Coding>,
    header: StreamHeader,
    resolved: Header,
    ready: VecDeque<Vec<u8>>,
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
        let mut reader = StreamReader::new(r, file, options.limits);
        let header = match reader.next_event()? {
            Some(Event::Header(h)) => h,
            // The reader always starts with a header or an error; anything else is a bug, reported as such.
            _ => {
                return Err(Error::Format {
                    at: reader.location(None, 0),
                    what: "no stream header".into(),
                })
            }
        };
        let choice = model.into();
        let mut models = Vec::new();
        let current = resolve(&reader, &choice, &mut models, &header, &options.limits)?;
        let resolved = current.resolve_header(&header.header);
        Ok(Decoder {
            reader,
            choice,
            batch_size: options.batch_size.max(1),
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
        &self.current.model
    }

    /// The geometry of the current stream's images.
    pub fn geometry(&self) -> Geometry {
        self.current.geometry
    }

    /// Images delivered so far.
    pub fn images_delivered(&self) -> u64 {
        self.delivered
    }

    /// Bytes of input consumed so far (including records read ahead).
    pub fn bytes_read(&self) -> u64 {
        self.reader.position()
    }

    /// The next image's 8-bit samples (model geometry, row-major, channels interleaved), or `None` at the
    /// end of the input.
    pub fn next_pixels(&mut self) -> Result<Option<Vec<u8>>> {
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
                    &mut self.models,
                    &h,
                    &self.limits,
                ) {
                    Ok(c) => {
                        self.resolved = c.resolve_header(&h.header);
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

    /// The next image as an [`image::DynamicImage`].
    pub fn next_image(&mut self) -> Result<Option<DynamicImage>> {
        let g = self.current.geometry;
        match self.next_pixels()? {
            Some(s) => samples_image(s, g).map(Some),
            None => Ok(None),
        }
    }

    /// Reads up to `batch_size` records of the current stream and decodes them together.
    fn fill(&mut self) -> Result<()> {
        let coding = self.current.clone();
        let k = coding.k();
        let mut q_all: Vec<i32> = Vec::with_capacity(self.batch_size.min(1024) * k);
        let mut q = Vec::with_capacity(k);
        let mut n = 0;
        while n < self.batch_size {
            match self.reader.next_event() {
                Err(e) => {
                    self.pending_err = Some(e);
                    break;
                }
                Ok(None) => {
                    self.finished = true;
                    break;
                }
                Ok(Some(Event::Header(h))) => {
                    self.pending_header = Some(h);
                    break;
                }
                Ok(Some(Event::Record(rec))) => {
                    if let Err(e) = decode_symbols(
                        self.header.header.coder,
                        &coding.tables,
                        &rec.payload,
                        &mut q,
                    ) {
                        self.pending_err = Some(Error::Entropy {
                            at: self.reader.location(Some(rec.index), rec.payload_offset),
                            what: e.0,
                        });
                        break;
                    }
                    q_all.extend_from_slice(&q);
                    n += 1;
                }
            }
        }
        if n > 0 {
            let images = coding.decode_batch(&q_all, n)?;
            self.ready.extend(images);
        }
        Ok(())
    }

    /// Gives the inner reader back (positioned after what was read, read-ahead included).
    pub fn into_inner(self) -> R {
        self.reader.into_inner()
    }
}

impl<R: Read> Iterator for Decoder<R> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_pixels().transpose()
    }
}

/// Finds the model of a stream header (cached per id) and checks the header against it.
fn resolve<R: Read>(
    reader: &StreamReader<R>,
    choice: &ModelChoice,
    models: &mut Vec<Arc<Coding>>,
    h: &StreamHeader,
    limits: &Limits,
) -> Result<Arc<Coding>> {
    let id = h.header.model_id;
    let at = |off: usize| reader.location(None, h.offset + off as u64);
    let coding = if let Some(c) = models.iter().find(|c| c.id == id) {
        c.clone()
    } else {
        let model =
            match choice {
                ModelChoice::Given(m) => {
                    if model_id(m.bundle()) != id {
                        return Err(Error::ModelMismatch {
                            at: at(OFF_MODEL_ID),
                            wanted: format!("with id {}", hex(&id)),
                            loaded: format!(
                                "{} (id {})",
                                m.bundle().name(),
                                hex(&model_id(m.bundle()))
                            ),
                        });
                    }
                    m.clone()
                }
                ModelChoice::Lookup(backend) => match Bundle::find_by_id(&id)? {
                    Some(b) => Model::load(b, *backend)?,
                    None => return Err(Error::ModelMismatch {
                        at: at(OFF_MODEL_ID),
                        wanted: format!("with id {}", hex(&id)),
                        loaded:
                            "none known (searched the embedded model, AEZ_MODEL_PATH and ./models)"
                                .into(),
                    }),
                },
            };
        let c = Arc::new(Coding::new(&model)?);
        models.push(c.clone());
        c
    };
    let g = coding.geometry;
    // Where the geometry is said: the width and height, or the geometry field of the flags byte.
    let geometry_off = if h.header.geometry_stored() {
        OFF_WIDTH
    } else {
        OFF_FLAGS
    };
    if h.header.geometry_stored() {
        if u32::from(h.header.width) != g.width || u32::from(h.header.height) != g.height {
            let off = if u32::from(h.header.width) != g.width {
                OFF_WIDTH
            } else {
                OFF_HEIGHT
            };
            return Err(Error::Format {
                at: at(off),
                what: format!(
                    "stream says {}x{} images, its model {} takes {}",
                    h.header.width,
                    h.header.height,
                    coding.model.bundle().name(),
                    g
                ),
            });
        }
    } else {
        // The reader checked stored sides against the limit; the model's are checked here.
        let side = u64::from(limits.max_side);
        for (what, value) in [("width", g.width), ("height", g.height)] {
            if u64::from(value) > side {
                return Err(Error::Limit {
                    at: at(OFF_FLAGS),
                    what,
                    value: value.into(),
                    limit: side,
                });
            }
        }
    }
    let samples = g.samples() as u64;
    if samples > limits.max_samples {
        return Err(Error::Limit {
            at: at(geometry_off),
            what: "samples per image",
            value: samples,
            limit: limits.max_samples,
        });
    }
    Ok(coding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_u8_clamps_and_rounds() {
        assert_eq!(to_u8(-0.5), 0);
        assert_eq!(to_u8(0.0), 0);
        assert_eq!(to_u8(0.5 / 255.0), 1);
        assert_eq!(to_u8(0.49 / 255.0), 0);
        assert_eq!(to_u8(1.0), 255);
        assert_eq!(to_u8(7.0), 255);
        assert_eq!(to_u8(f32::NAN), 0);
    }
}
