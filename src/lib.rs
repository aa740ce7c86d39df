//! aez: a learned image codec.
//!
//! The public surface is what this page lists: [`Model`], [`Bundle`] and [`Registry`] (models and where
//! they come from), [`Encoder`] and [`Decoder`] (streams of images), [`compress`] / [`decompress`] (one
//! image), [`Options`] and [`Limits`], [`Error`], and [`inspect`] (a stream's structure without a
//! model). The latent [`layout`] is the one description of a model's latent that every stage shares.
//!
//! Module map (one module per stage of the data's path; each knows only its neighbours):
//! [`io`] (image files, IDX) -> [`model`] (bundle: manifest, hash, embedded default, registry) -> `runtime`
//! (ONNX inference: tract or ONNX Runtime) -> `quant` (latents <-> integer symbols) -> `entropy`
//! (symbols <-> payload bytes) -> `format` (the .aez container, constants from spec/aez-format.md).
//! `codec` is the one place that knows every stage. The stage modules are crate-private; the
//! `internals` feature exposes them, without any stability promise, for aez's own tests, fuzz targets
//! and benchmarks.
//!
//! ```
//! # fn main() -> aez::Result<()> {
//! let model = aez::Model::default_model()?;
//! let img = image::DynamicImage::ImageLuma8(image::GrayImage::new(28, 28));
//! let bytes = aez::compress(&model, &img)?;            // a self-contained .aez file
//! let back = aez::decompress(&model, &bytes)?;         // or aez::ModelChoice::default(): find by id
//! assert_eq!(back.width(), 28);
//! let info = aez::inspect(&bytes[..], None, aez::Limits::default())?; // no model needed
//! assert_eq!(info[0].records, 1);
//! # Ok(()) }
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]
// Without `internals`, items the crate's own code does not use are still used by its tests and tools.
#![cfg_attr(not(feature = "internals"), allow(dead_code, unused_imports))]

/// `with_FIELD(mut self, v) -> Self` builder methods for a `#[non_exhaustive]` options struct.
macro_rules! setters {
    ($($(#[$m:meta])* $name:ident($field:ident: $ty:ty)$( => $conv:expr)?;)*) => {$(
        $(#[$m])*
        pub fn $name(mut self, v: $ty) -> Self {
            self.$field = v;
            $( self.$field = $conv(self.$field); )?
            self
        }
    )*};
}

/// Declares stage modules: crate-private, or public (and hidden from the docs) with `internals`.
macro_rules! stage_modules {
    ($($(#[$m:meta])* $name:ident;)*) => {$(
        $(#[$m])*
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $name;
        $(#[$m])*
        #[cfg(not(feature = "internals"))]
        pub(crate) mod $name;
    )*};
}

// rustfmt does not expand macros, so it would not reach the modules `stage_modules!` declares; these
// declarations are never compiled (`cfg(any())` is false) and only let `cargo fmt` find their files.
#[cfg(any())]
mod codec;
#[cfg(any())]
mod entropy;
#[cfg(any())]
mod format;
#[cfg(any())]
mod quant;
#[cfg(any())]
mod runtime;

stage_modules! {
    /// The pipeline, both directions.
    codec;
    /// Entropy coding.
    entropy;
    /// The `.aez` container.
    format;
    /// Latents <-> integer symbols.
    quant;
    /// ONNX inference.
    runtime;
}

pub mod error;
pub mod io;
pub mod layout;
pub mod model;

pub use codec::{
    compress, compress_pixels, compress_with, decompress, decompress_with, model_id, Decoder,
    Encoder, Limits, ModelChoice, Options, DEFAULT_BATCH_SIZE, DEFAULT_IMAGES_PER_RECORD,
};
pub use entropy::Coder;
pub use error::{Error, FormatError, Location, Result};
pub use format::consts::MODEL_ID_LEN;
pub use format::{
    inspect, Colour, Descriptors, Header, ImageDesc, Kind, StreamHeader, StreamSummary,
};
pub use model::{Bundle, BundleSource, Geometry, Model, Registry, ScanEntry};
pub use runtime::{active_backend, backend_note, Backend, BackendChoice};

/// The README's examples, compiled and run by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
