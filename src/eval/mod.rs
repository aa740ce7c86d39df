//! The measuring engine of `aez eval` (the CLI's `eval` feature) and of the benchmarks
//! (`benches/aez-bench`, which writes BENCHMARKS.md): one copy of the code, compiled into both, each of
//! which includes this folder as a module (`#[path]`). It is not part of the library's API.
//!
//! - [`data`]: images and datasets (IDX files, image folders);
//! - [`codecs`]: the classical codecs as whole-file round trips at the settings a careful user picks;
//! - [`metrics`]: squared error (PSNR) and SSIM;
//! - [`rd`]: rate-distortion rows of every codec setting and aez level;
//! - [`curves`]: Pareto fronts of the rows, bytes at a PSNR, the matched-quality table and BD-rate;
//! - [`plot`]: rate-distortion plots (SVG, PNG).
// Each of the two crates uses a part of the engine (the benchmarks its PNG plots and speed helpers,
// `aez eval` its input loading).
#![allow(dead_code)]

pub mod codecs;
pub mod curves;
pub mod data;
pub mod metrics;
pub mod plot;
pub mod rd;

/// The engine's result type: its errors are messages for a person (the file, the codec and setting,
/// what failed), from many libraries' error types.
pub type BoxResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;
