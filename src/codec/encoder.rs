//! The streaming encoder of batch streams.

use std::io::Write;

use image::DynamicImage;

use super::{check_samples, image_samples, to_f32, Coding, Options};
use crate::entropy::Coder;
use crate::error::{Error, Result};
use crate::format::{Kind, StreamWriter};
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
    coding: Coding,
    coder: Coder,
    batch_size: usize,
    pending: Vec<f32>,
    pending_n: usize,
}

impl<W: Write> Encoder<W> {
    /// Starts a batch stream on `w` (the header is written now) for `model`.
    pub fn new(w: W, model: &Model, options: Options) -> Result<Self> {
        let coding = Coding::new(model, options.threads)?;
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
            self.write_batch()?;
        }
        Ok(())
    }

    /// Adds one image of the model's width and height (converted to the model's channels).
    pub fn push_image(&mut self, img: &DynamicImage) -> Result<()> {
        let s = image_samples(img, self.coding.geometry)?;
        self.push_pixels(&s)
    }

    /// Codes and writes the buffered images.
    fn write_batch(&mut self) -> Result<()> {
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

    /// Codes and writes the images buffered so far (a short batch) and flushes the writer, so that a
    /// reader at the other end of a pipe can decode them now. The stream stays open.
    pub fn flush(&mut self) -> Result<()> {
        self.write_batch()?;
        let w = self.writer.as_mut().ok_or_else(Self::failed)?;
        w.flush().map_err(|e| Error::io("flushing the aez stream", e))
    }

    /// Images written to the stream so far (buffered ones not included).
    pub fn records_written(&self) -> u64 {
        self.writer.as_ref().map_or(0, |w| w.records())
    }

    /// Images pushed and not yet written (they are coded at the next full batch, `flush` or `finish`).
    pub fn images_buffered(&self) -> usize {
        self.pending_n
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.writer.as_ref().map_or(0, |w| w.bytes_written())
    }

    /// The writer (`None` after an error).
    pub fn get_ref(&self) -> Option<&W> {
        self.writer.as_ref().map(StreamWriter::get_ref)
    }

    /// Encodes the buffered images, writes the end marker and returns the writer. Required.
    pub fn finish(mut self) -> Result<W> {
        self.write_batch()?;
        let w = self.writer.take().ok_or_else(Self::failed)?;
        w.finish()
            .map_err(|e| Error::io("writing the aez end marker", e))
    }
}
