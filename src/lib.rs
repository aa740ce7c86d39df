//! aez: a learned image codec.
//!
//! Module map (one module per stage of the data's path; each knows only its neighbours):
//! `io` (image files, IDX) -> `model` (bundle: manifest, hash, embedded default) -> `runtime` (ONNX
//! inference: tract or ONNX Runtime) -> `quant` (latents <-> integer symbols) -> `entropy` (symbols <->
//! payload bytes) -> `format` (the .aez container, constants from spec/aez-format.md). `codec` is the one
//! place that knows every stage.
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

pub mod codec;
pub mod entropy;
pub mod error;
pub mod format;
pub mod io;
pub mod layout;
pub mod model;
pub mod quant;
pub mod runtime;

pub use codec::{
    compress, compress_with, decompress, Decoder, Encoder, Limits, ModelChoice, Options,
};
pub use entropy::Coder;
pub use error::{Error, Location, Result};
pub use format::{inspect, StreamSummary};
pub use model::{Bundle, Model};
pub use runtime::{Backend, BackendChoice};

/// The README's examples, compiled and run by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
