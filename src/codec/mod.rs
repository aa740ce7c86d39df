//! The pipeline, both directions: pixels -> encoder network -> quantizer -> entropy coder -> container,
//! and back. The one module that knows every stage.
//!
//! - [`compress`] / [`decompress`]: one image <-> a self-contained `.aez` file (kind bits `00`);
//! - [`Encoder`] / [`Decoder`]: streams of many images (kind bits `11`), with inference batched inside
//!   ([`Options::batch_size`] images per network run, split over [`Options::threads`] workers), read and
//!   written one record at a time.

pub mod any;
mod coding;
mod decoder;
mod encoder;
mod hyper;
pub mod pixels;
mod resolve;
pub mod tiles;
mod v2;

use image::DynamicImage;

use crate::entropy::Coder;
use crate::error::{Error, FormatError, Location, Result};
use crate::format::{self, Kind};
use crate::model::{Geometry, Model, Registry};
use crate::runtime::BackendChoice;

pub use crate::format::Limits;
pub(crate) use coding::Coding;
pub use coding::{level_tables, model_id};
pub use decoder::Decoder;
pub use encoder::Encoder;
pub use hyper::{hyper_shape, scale_indices};

/// Default number of images per network run.
pub const DEFAULT_BATCH_SIZE: usize = 256;

/// Coding options. Build with [`Options::default`] (or [`Options::new`]) and the `with_*` methods.
///
/// ```
/// let o = aez::Options::default().with_coder(aez::Coder::Zstd).with_batch_size(64).with_threads(1);
/// assert_eq!(o.batch_size, 64);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Options {
    /// Entropy coder for new streams (decoders use the stream's).
    pub coder: Coder,
    /// Limits checked while decoding.
    pub limits: Limits,
    /// Images per network run, in both directions (>= 1). The decoder batches only records that have
    /// already arrived (it never waits for more input while it holds a decoded image), up to this many.
    pub batch_size: usize,
    /// Worker threads per batch (>= 1); the default is the machine's cores. Output bytes and order do
    /// not depend on it.
    pub threads: usize,
    /// Decoders: read exactly one stream and not one byte past its end (no read-ahead, no concatenated
    /// streams), for an `.aez` stream embedded in a longer input; [`Decoder::into_inner`] then returns the
    /// reader positioned just after it.
    pub single_stream: bool,
    /// Encoders: the model's quality level to code at (a `quality` of the bundle's levels, higher is
    /// better); `None`: the model's default level. Decoders read it from the stream.
    pub quality: Option<u8>,
    /// Encoders of version-2 batch streams: most images coded together in one record (a packed record,
    /// spec 11.3) when they share a descriptor and are untiled without alpha; 1: one record per image.
    /// A record costs 5 bytes or more (head, CRC), a quarter of a Fashion-MNIST image; packing
    /// [`DEFAULT_IMAGES_PER_RECORD`] images shares it (about 0.2 bytes per image). The price: damage to a
    /// record loses all its images (those before it are still delivered), and a reader gets the images
    /// of a record together ([`Encoder::flush`] ends a record early).
    pub images_per_record: usize,
}

/// Default [`Options::images_per_record`].
pub const DEFAULT_IMAGES_PER_RECORD: usize = 64;

impl Default for Options {
    fn default() -> Self {
        Options {
            coder: Coder::default(),
            limits: Limits::default(),
            batch_size: DEFAULT_BATCH_SIZE,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            single_stream: false,
            quality: None,
            images_per_record: DEFAULT_IMAGES_PER_RECORD,
        }
    }
}

impl Options {
    /// The default options with `coder`.
    pub fn new(coder: Coder) -> Self {
        Options::default().with_coder(coder)
    }

    setters! {
        /// These options with another coder.
        with_coder(coder: Coder);
        /// These options with other limits.
        with_limits(limits: Limits);
        /// These options with another batch size (0 is taken as 1).
        with_batch_size(batch_size: usize) => |n: usize| n.max(1);
        /// These options with another number of worker threads (0 is taken as 1).
        with_threads(threads: usize) => |n: usize| n.max(1);
        /// These options reading exactly one stream (see [`Options::single_stream`]).
        with_single_stream(single_stream: bool);
        /// These options coding at quality level `quality` (see [`Options::quality`]).
        with_quality(quality: Option<u8>);
        /// These options packing up to `n` images per record (see [`Options::images_per_record`]; 0 is
        /// taken as 1).
        with_images_per_record(images_per_record: usize) => |n: usize| n.max(1);
    }
}

/// Which model decodes a stream.
#[derive(Debug, Clone)]
pub enum ModelChoice {
    /// Exactly this model; a stream made with another one is a [`Error::ModelMismatch`].
    Given(Model),
    /// The model whose id the stream names, found in [`Registry::from_env`] (the embedded models and
    /// `AEZ_MODEL_PATH`) and loaded on this backend.
    Lookup(BackendChoice),
    /// The model whose id the stream names, found in this registry and loaded on this backend.
    Registry(Registry, BackendChoice),
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

/// The samples of `img` in the model's geometry (8-bit, row-major, channels interleaved).
pub(crate) fn image_samples(img: &DynamicImage, g: Geometry) -> Result<Vec<u8>> {
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
pub(crate) fn samples_image(samples: Vec<u8>, g: Geometry) -> Result<DynamicImage> {
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

pub(crate) fn to_f32(samples: &[u8], out: &mut Vec<f32>) {
    out.extend(samples.iter().map(|&s| f32::from(s) / 255.0));
}

pub(crate) fn check_samples(n: usize, g: Geometry) -> Result<()> {
    if n != g.samples() {
        return Err(Error::InvalidArgument {
            what: "number of samples",
            value: n.to_string(),
            expected: format!("{} for one {g} image", g.samples()),
        });
    }
    Ok(())
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

/// [`compress`] with explicit options (the coder, the quality level).
///
/// A model of a version-2 bundle takes any image: its size, colour layout and alpha are kept. A small
/// image becomes a single-image stream; one that needs several records (tiles, alpha) a one-image batch
/// stream.
pub fn compress_with(model: &Model, img: &DynamicImage, options: &Options) -> Result<Vec<u8>> {
    if model.bundle().manifest().bundle_version != crate::model::BUNDLE_VERSION {
        let coding = v2::AnyCoding::new(model)?;
        let level = coding.level_index(options.quality)?;
        let (desc, records) = coding.encode(
            options.coder,
            img,
            level,
            options.limits.max_payload as usize,
        )?;
        // The model's own image (its fixed size and channels, its default level) needs no descriptor:
        // version 1's 13-byte header (spec 11.1, placement none).
        let placement = if coding.is_model_image(&desc) {
            crate::format::Descriptors::Model
        } else {
            crate::format::Descriptors::InHeader(desc)
        };
        let header = |kind| crate::format::HeaderV2::new(options.coder, kind, coding.id, placement);
        if let [one] = &records[..] {
            return Ok(format::single_image(header(Kind::Single), one));
        }
        let mut w = format::StreamWriter::new(Vec::new(), header(Kind::Batch))
            .map_err(|e| Error::io("writing the aez header", e))?;
        for r in &records {
            w.write_record(r)
                .map_err(|e| Error::io("writing an aez record", e))?;
        }
        return w
            .finish()
            .map_err(|e| Error::io("writing the aez end marker", e));
    }
    let coding = Coding::new(model, 1)?;
    let samples = image_samples(img, coding.geometry)?;
    compress_samples(&coding, &samples, options.coder)
}

/// Compresses one image given as 8-bit samples in the model's geometry.
pub fn compress_pixels(model: &Model, samples: &[u8], options: &Options) -> Result<Vec<u8>> {
    let coding = Coding::new(model, 1)?;
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

/// Decompresses a one-image `.aez` buffer (either kind, holding exactly one image).
///
/// `model` is a [`Model`] (`&model`), or [`ModelChoice::Lookup`] to find the stream's model by its id.
/// Trailing bytes after the image are an error.
pub fn decompress(model: impl Into<ModelChoice>, bytes: &[u8]) -> Result<DynamicImage> {
    decompress_with(model, bytes, &Options::default())
}

/// [`decompress`] with explicit options (the limits).
pub fn decompress_with(
    model: impl Into<ModelChoice>,
    bytes: &[u8],
    options: &Options,
) -> Result<DynamicImage> {
    let opts = options.clone().with_batch_size(1).with_threads(1);
    let mut dec = Decoder::new(bytes, model, opts)?;
    let first = dec.next_image()?;
    let Some(image) = first else {
        return Err(Error::Format {
            at: Location {
                file: None,
                record: None,
                offset: bytes.len() as u64,
            },
            what: FormatError::ImageCount {
                message: "the stream holds no image".into(),
            },
        });
    };
    if dec.next_image()?.is_some() {
        return Err(Error::Format {
            at: Location {
                file: None,
                record: Some(1),
                offset: 0,
            },
            what: FormatError::ImageCount {
                message: "the buffer holds more than one image (use aez::Decoder for batches)"
                    .into(),
            },
        });
    }
    Ok(image)
}
