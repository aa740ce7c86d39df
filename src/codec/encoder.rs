//! The streaming encoder of batch streams.

use std::io::Write;

use image::DynamicImage;

use std::sync::Arc;

use super::v2::AnyCoding;
use super::{check_samples, image_samples, to_f32, Coding, Options};
use crate::entropy::Coder;
use crate::error::{Error, Result};
use crate::format::{Descriptors, HeaderV2, ImageDesc, Kind, StreamWriter};
use crate::model::Model;

/// Writes a batch stream: [`Encoder::push_pixels`] / [`Encoder::push_image`] per image, then the required
/// [`Encoder::finish`].
///
/// Images are buffered and run through the encoder network [`Options::batch_size`] at a time;
/// [`Encoder::flush`] codes and writes the buffered ones now. Dropping an encoder without `finish` loses
/// the buffered images and leaves the stream without its end marker, so every decoder reports it as
/// truncated: it never looks complete.
///
/// ```
/// # fn main() -> aez::Result<()> {
/// let model = aez::Model::default_model()?;
/// let mut enc = aez::Encoder::new(Vec::new(), &model, aez::Options::default())?;
/// for i in 0..10u8 {
///     enc.push_pixels(&[i * 20; 28 * 28])?;
/// }
/// enc.flush()?; // the 10 records are in the writer now
/// assert_eq!(enc.records_written(), 10);
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
    /// Version-1 bundles: the fixed-size coding, batched. `None` for version-2 bundles.
    coding: Option<Coding>,
    /// Version-2 bundles: the any-size coding, one image at a time.
    v2: Option<V2State<W>>,
    coder: Coder,
    batch_size: usize,
    pending: Vec<f32>,
    pending_n: usize,
}

/// A version-2 encoder's state: the header is written with the first image's descriptor (every image of
/// the stream shares it, so it costs nothing per image); an image with another descriptor finishes the
/// stream and starts a concatenated one.
#[derive(Debug)]
struct V2State<W> {
    coding: Arc<AnyCoding>,
    level: u8,
    max_payload: usize,
    /// The writer while no stream is open (before the first image).
    idle: Option<W>,
    /// The descriptor of the open stream.
    desc: Option<ImageDesc>,
    /// Records and bytes of the streams finished before the open one.
    records_before: u64,
    bytes_before: u64,
    /// Most images per packed record ([`Options::images_per_record`]); 1: no packing.
    pack: usize,
    /// The quantized latents of the images waiting for the open packed record, one after the other.
    packed: Vec<i32>,
    /// Images in `packed`, and the sum of their one-image payload sizes (the record's size, nearly).
    packed_n: usize,
    packed_bytes: usize,
}

/// Bytes kept free in a packed record's budget: its image count (a varint of at most 5 bytes) and what
/// coding the images together may add to the sum of their one-image payloads (it shares one coder
/// termination, so it is nearly always smaller).
const PACK_MARGIN: usize = 16;

impl<W: Write> Encoder<W> {
    /// Starts a batch stream on `w` (the header is written now) for `model`.
    pub fn new(w: W, model: &Model, options: Options) -> Result<Self> {
        if model.bundle().manifest().bundle_version != crate::model::BUNDLE_VERSION {
            let coding = Arc::new(AnyCoding::new(model)?);
            let level = coding.level_index(options.quality)?;
            return Ok(Encoder {
                writer: None,
                coding: None,
                v2: Some(V2State {
                    coding,
                    level,
                    max_payload: options.limits.max_payload as usize,
                    idle: Some(w),
                    desc: None,
                    records_before: 0,
                    bytes_before: 0,
                    pack: options.images_per_record.max(1),
                    packed: Vec::new(),
                    packed_n: 0,
                    packed_bytes: 0,
                }),
                coder: options.coder,
                batch_size: options.batch_size.max(1),
                pending: Vec::new(),
                pending_n: 0,
            });
        }
        if let Some(q) = options
            .quality
            .filter(|&q| q != model.bundle().default_level().quality)
        {
            return Err(Error::InvalidArgument {
                what: "quality",
                value: q.to_string(),
                expected: format!(
                    "{} (model {} has one level)",
                    model.bundle().default_level().quality,
                    model.bundle().name()
                ),
            });
        }
        let coding = Coding::new(model, options.threads)?;
        let header = coding.header(options.coder, Kind::Batch);
        let writer =
            StreamWriter::new(w, header).map_err(|e| Error::io("writing the aez header", e))?;
        let batch_size = options.batch_size.max(1);
        Ok(Encoder {
            writer: Some(writer),
            pending: Vec::with_capacity(batch_size.min(1024) * coding.geometry.samples()),
            coding: Some(coding),
            v2: None,
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
    /// channels interleaved (models of a fixed size; for any size use [`Encoder::push_image`]).
    pub fn push_pixels(&mut self, samples: &[u8]) -> Result<()> {
        if self.writer.is_none() && self.v2.as_ref().is_none_or(|v| v.idle.is_none()) {
            return Err(Self::failed());
        }
        let Some(coding) = &self.coding else {
            let g = self
                .v2
                .as_ref()
                .and_then(|v| v.coding.model.bundle().manifest().geometry());
            let img = g
                .and_then(|g| super::samples_image(samples.to_vec(), g).ok())
                .ok_or_else(|| Error::InvalidArgument {
                    what: "push_pixels",
                    value: format!("{} samples", samples.len()),
                    expected: "push_image: this model takes images of any size".into(),
                })?;
            return self.push_image(&img);
        };
        check_samples(samples.len(), coding.geometry)?;
        to_f32(samples, &mut self.pending);
        self.pending_n += 1;
        if self.pending_n >= self.batch_size {
            self.write_batch()?;
        }
        Ok(())
    }

    /// Adds one image: for a model of a fixed size, one of its width and height (converted to the
    /// model's channels); for a model that takes any size, any image (its size, colour layout and alpha
    /// are kept; 16-bit samples are reduced to 8 bits).
    pub fn push_image(&mut self, img: &DynamicImage) -> Result<()> {
        if let Some(coding) = &self.coding {
            let s = image_samples(img, coding.geometry)?;
            return self.push_pixels(&s);
        }
        let coder = self.coder;
        let v = self.v2_state()?;
        let (desc, records, q) =
            v.coding
                .encode_keeping_latent(coder, img, v.level, v.max_payload)?;
        // Images of one descriptor, untiled, without alpha and without a hyper-latent, whose payload
        // leaves room, are packed.
        let packable = v.pack > 1
            && records.len() == 1
            && !desc.is_tiled()
            && !desc.colour.has_alpha()
            && !desc.hyper
            && records[0].len() + PACK_MARGIN <= v.max_payload;
        let desc = desc.with_packed(packable);
        if v.desc != Some(desc) {
            self.start_stream(desc)?;
        }
        if !packable {
            return self.write_records(&records);
        }
        let len = records[0].len();
        let v = self.v2_state()?;
        if v.packed_n > 0 && v.packed_bytes + len + PACK_MARGIN > v.max_payload {
            self.write_packed()?;
        }
        let v = self.v2_state()?;
        v.packed.extend_from_slice(&q);
        v.packed_n += 1;
        v.packed_bytes += len;
        if v.packed_n >= v.pack {
            self.write_packed()?;
        }
        Ok(())
    }

    /// The version-2 state (an error for a version-1 encoder).
    fn v2_state(&mut self) -> Result<&mut V2State<W>> {
        self.v2.as_mut().ok_or_else(Self::failed)
    }

    /// Ends the open stream (its waiting packed images first) and starts one for images of `desc`: the
    /// first image, or one with another descriptor.
    fn start_stream(&mut self, desc: ImageDesc) -> Result<()> {
        self.write_packed()?;
        let coder = self.coder;
        let writer = self.writer.take();
        let v = self.v2_state()?;
        if let Some(w) = writer {
            v.records_before += w.records();
            v.bytes_before += w.bytes_written() + crate::format::consts::END_MARKER_LEN as u64;
            let inner = w
                .finish()
                .map_err(|e| Error::io("writing the aez end marker", e))?;
            v.idle = Some(inner);
        }
        let inner = v.idle.take().ok_or_else(Self::failed)?;
        let header = HeaderV2::new(coder, Kind::Batch, v.coding.id, Descriptors::InHeader(desc));
        v.desc = Some(desc);
        self.writer = Some(
            StreamWriter::new(inner, header).map_err(|e| Error::io("writing the aez header", e))?,
        );
        Ok(())
    }

    /// Codes the images waiting for the open packed record as one record (two or more if, against the
    /// odds, they code to more than the payload limit together) and writes it.
    fn write_packed(&mut self) -> Result<()> {
        let coder = self.coder;
        let Some(v) = self.v2.as_mut() else {
            return Ok(());
        };
        if v.packed_n == 0 {
            return Ok(());
        }
        let desc = v.desc.ok_or_else(Self::failed)?;
        let qs = std::mem::take(&mut v.packed);
        let k = std::mem::take(&mut v.packed_n);
        v.packed_bytes = 0;
        let per = qs.len() / k;
        let mut payloads = Vec::new();
        let mut todo = vec![(0usize, k)];
        while let Some((first, n)) = todo.pop() {
            let p = v
                .coding
                .code_packed(coder, &desc, n, &qs[first * per..(first + n) * per])?;
            if p.len() > v.max_payload && n > 1 {
                // The second half goes on the stack first, so the first half is written first.
                todo.push((first + n / 2, n - n / 2));
                todo.push((first, n / 2));
                continue;
            }
            payloads.push(p);
        }
        self.write_records(&payloads)
    }

    /// Writes coded records; a write error ends the stream.
    fn write_records(&mut self, records: &[Vec<u8>]) -> Result<()> {
        let Some(w) = self.writer.as_mut() else {
            return Err(Self::failed());
        };
        for r in records {
            if let Err(e) = w.write_record(r) {
                self.writer = None;
                return Err(Error::io("writing an aez record", e));
            }
        }
        Ok(())
    }

    /// Codes and writes the buffered images.
    fn write_batch(&mut self) -> Result<()> {
        if self.pending_n == 0 {
            return Ok(());
        }
        let Some(coding) = &self.coding else {
            return Ok(());
        };
        let result = coding.encode_batch(self.coder, &self.pending, self.pending_n);
        self.pending.clear();
        self.pending_n = 0;
        let payloads = match result {
            Ok(p) => p,
            Err(e) => {
                self.writer = None;
                return Err(e);
            }
        };
        self.write_records(&payloads)
    }

    /// Codes and writes the images buffered so far (a short batch) and flushes the writer, so that a
    /// reader at the other end of a pipe can decode them now. The stream stays open.
    pub fn flush(&mut self) -> Result<()> {
        self.write_batch()?;
        self.write_packed()?;
        if self.writer.is_none() && self.v2.as_ref().is_some_and(|v| v.idle.is_some()) {
            return Ok(()); // nothing written yet
        }
        let w = self.writer.as_mut().ok_or_else(Self::failed)?;
        w.flush()
            .map_err(|e| Error::io("flushing the aez stream", e))
    }

    /// Records written to the stream so far: one per image (a band of a tiled image, an alpha plane,
    /// and a packed record of several images are a record each).
    pub fn records_written(&self) -> u64 {
        let before = self.v2.as_ref().map_or(0, |v| v.records_before);
        before + self.writer.as_ref().map_or(0, |w| w.records())
    }

    /// Images pushed and not yet written (they are coded at the next full batch, `flush` or `finish`).
    pub fn images_buffered(&self) -> usize {
        self.pending_n + self.v2.as_ref().map_or(0, |v| v.packed_n)
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        let before = self.v2.as_ref().map_or(0, |v| v.bytes_before);
        before + self.writer.as_ref().map_or(0, |w| w.bytes_written())
    }

    /// The writer (`None` after an error).
    pub fn get_ref(&self) -> Option<&W> {
        match (&self.writer, &self.v2) {
            (Some(w), _) => Some(w.get_ref()),
            (None, Some(v)) => v.idle.as_ref(),
            (None, None) => None,
        }
    }

    /// Encodes the buffered images, writes the end marker and returns the writer. Required.
    pub fn finish(mut self) -> Result<W> {
        self.write_batch()?;
        self.write_packed()?;
        if self.writer.is_none() {
            if let Some(v) = self.v2.as_mut() {
                // No image: an empty stream, without a descriptor.
                let inner = v.idle.take().ok_or_else(Self::failed)?;
                let header =
                    HeaderV2::new(self.coder, Kind::Batch, v.coding.id, Descriptors::PerImage);
                self.writer = Some(
                    StreamWriter::new(inner, header)
                        .map_err(|e| Error::io("writing the aez header", e))?,
                );
            }
        }
        let w = self.writer.take().ok_or_else(Self::failed)?;
        w.finish()
            .map_err(|e| Error::io("writing the aez end marker", e))
    }
}
