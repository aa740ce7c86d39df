//! Model bundles (spec/model-bundle.md) and ready-to-run models.
//!
//! - [`Manifest`]: `model.json`, every field validated (errors name the bundle, the field and the bad value);
//! - [`Bundle`]: manifest + both ONNX networks, hash verified on every load; the default bundle is embedded in
//!   the binary (zero copy) and verified once, on first use; lookup by name, folder or model id;
//! - [`Model`]: a bundle with encoder and decoder sessions on a [`Backend`], shareable across threads.

mod bundle;
mod hash;
mod manifest;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

pub use bundle::{
    search_dirs, Bundle, BundleSource, ScanEntry, DEFAULT_MODEL_NAME, MANIFEST_FILE,
    MAX_MANIFEST_BYTES, MAX_ONNX_BYTES, MODEL_PATH_ENV,
};
pub use hash::{bundle_hash, HASH_MAGIC};
pub use manifest::{
    hex, parse_hash, Geometry, ImageSize, Layout, Level, Manifest, NetworkSpec, Quantizer, Table,
    TensorLayout, BUNDLE_VERSION, BUNDLE_VERSION_2, MAX_ANY_SIDE, MAX_LATENT_DIM, MAX_LEVELS,
    MAX_NAME_LEN, MAX_SIDE, MAX_STRIDE, MAX_TABLE_LEN, PRECISION_BITS,
};

use crate::error::{Error, Result};
use crate::runtime::{self, Backend, BackendChoice, Network};

struct ModelInner {
    bundle: Bundle,
    backend: Backend,
    encoder: Network,
    decoder: Network,
}

/// A model ready to run: a verified [`Bundle`] plus encoder and decoder sessions on one [`Backend`].
///
/// `Clone` is cheap (shared) and a `Model` can be used from many threads at once; runs of the same network
/// take turns (see [`runtime::Network`]).
#[derive(Clone)]
pub struct Model {
    inner: Arc<ModelInner>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("bundle", &self.inner.bundle)
            .field("backend", &self.inner.backend)
            .finish()
    }
}

/// Models already built in this process, by bundle hash. Equal hashes mean equal networks, quantizer and
/// tables, so their sessions can be shared; this makes repeated loads (one per decoded file, say) cheap.
static LOADED: Mutex<Option<HashMap<[u8; 32], Model>>> = Mutex::new(None);

impl Model {
    /// Builds the encoder and decoder sessions of `bundle` on the backend `choice` resolves to (see
    /// [`BackendChoice`]; the first model loaded in a process fixes its backend).
    ///
    /// Sessions are built once per bundle hash and process: loading a bundle with the hash of one loaded before
    /// returns (a clone of) that model.
    pub fn load(bundle: Bundle, choice: BackendChoice) -> Result<Model> {
        // Resolve (and check) the backend first: asking for another backend than the process's is an error
        // even when the model is cached.
        runtime::check_choice(choice)?;
        let mut cache = LOADED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(m) = cache.as_ref().and_then(|c| c.get(bundle.hash())) {
            return Ok(m.clone());
        }
        let model = Model::build(bundle, choice)?;
        cache
            .get_or_insert_with(HashMap::new)
            .insert(*model.bundle().hash(), model.clone());
        Ok(model)
    }

    fn build(bundle: Bundle, choice: BackendChoice) -> Result<Model> {
        let label = bundle.label();
        let layout = bundle.layout();
        if layout.fixed_size().is_none() || layout.tensors != TensorLayout::Flat {
            // The sessions below take [N, samples] and give [N, K]: fixed-size flat networks only.
            return Err(Error::Model {
                bundle: label,
                what: format!(
                    "takes images of {} with {} tensors, but this aez runs only fixed-size models with flat \
                     tensors",
                    layout.size_text(),
                    layout.tensors.name()
                ),
            });
        }
        let samples = bundle.geometry().samples();
        let k = bundle.latent_dim();
        let m = bundle.manifest();
        let encoder = Network::new(
            runtime::NetworkSpec {
                what: format!("{} of model bundle {label}", m.encoder.file),
                bundle: label.clone(),
                onnx: bundle.encoder_onnx(),
                input: &m.encoder.input,
                output: &m.encoder.output,
                in_width: samples,
                out_width: k,
            },
            choice,
        )?;
        let decoder = Network::new(
            runtime::NetworkSpec {
                what: format!("{} of model bundle {label}", m.decoder.file),
                bundle: label.clone(),
                onnx: bundle.decoder_onnx(),
                input: &m.decoder.input,
                output: &m.decoder.output,
                in_width: k,
                out_width: samples,
            },
            choice,
        )?;
        let backend = encoder.backend();
        Ok(Model {
            inner: Arc::new(ModelInner {
                bundle,
                backend,
                encoder,
                decoder,
            }),
        })
    }

    /// The embedded default bundle on the [`BackendChoice::Auto`] backend.
    pub fn default_model() -> Result<Model> {
        Model::load(Bundle::embedded_default()?, BackendChoice::Auto)
    }

    /// The bundle this model runs.
    pub fn bundle(&self) -> &Bundle {
        &self.inner.bundle
    }

    /// The backend the sessions run on (`Display`: `tract` or `onnxruntime <version>`).
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Encodes `n` images: `pixels` holds `n * width * height * channels` samples in `[0, 1]` (row-major,
    /// channels interleaved); returns `n * K` latents.
    pub fn encode(&self, pixels: &[f32], n: usize) -> Result<Vec<f32>> {
        self.inner.encoder.run(pixels, n)
    }

    /// Decodes `n` latent vectors (`n * K` floats) into `n * width * height * channels` floats, nominally in
    /// `[0, 1]`; clamping and rounding to 8-bit samples is the caller's.
    pub fn decode(&self, latents: &[f32], n: usize) -> Result<Vec<f32>> {
        self.inner.decoder.run(latents, n)
    }
}
