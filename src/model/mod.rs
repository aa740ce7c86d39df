//! Model bundles (spec/model-bundle.md), the registry of bundles in reach, and ready-to-run models.
//!
//! - [`Manifest`]: `model.json`, every field validated (errors name the bundle, the field and the bad value);
//! - [`Bundle`]: manifest + both ONNX networks, hash verified on every load; the default bundle is embedded in
//!   the binary (zero copy) and verified once, on first use;
//! - [`Registry`]: the bundles a process may load, by name, folder or model id, each read once;
//! - [`Model`]: a bundle with encoder and decoder sessions on a [`Backend`], shareable across threads.

mod bundle;
mod hash;
mod manifest;
mod registry;

use std::sync::{Arc, OnceLock};

pub use bundle::{
    Bundle, BundleSource, DEFAULT_MODEL_NAME, MANIFEST_FILE, MAX_MANIFEST_BYTES, MAX_ONNX_BYTES,
};
pub use hash::{bundle_hash, HASH_MAGIC};
pub use manifest::{
    hex, parse_hash, AnalysisLayer, Geometry, Hyper, ImageSize, Layout, Level, Manifest,
    NetworkSpec, Quantizer, SynthesisLayer, Table, TableList, TableRef, TableSets, TensorLayout,
    BUNDLE_VERSION, BUNDLE_VERSION_2, HYPER_ACT_MAX, HYPER_WEIGHT_MAX, MAX_ANY_SIDE,
    MAX_HYPER_LAYERS, MAX_HYPER_SHIFT, MAX_LATENT_DIM, MAX_LEVELS, MAX_NAME_LEN, MAX_SCALE_TABLES,
    MAX_SETS, MAX_SIDE, MAX_STRIDE, MAX_TABLE_LEN, PRECISION_BITS,
};
pub use registry::{Registry, ScanEntry, MODEL_PATH_ENV};

use crate::error::{Error, Result};
use crate::layout::LatentShape;
use crate::runtime::{self, Backend, BackendChoice, Network, Plan};

struct ModelInner {
    bundle: Bundle,
    layout: Layout,
    backend: Backend,
    choice: BackendChoice,
    encoder: OnceLock<Network>,
    decoder: OnceLock<Network>,
    /// Per level: its table sets ready for coding, or why they cannot be built; empty until first used
    /// (see [`Model::set_tables`]).
    sets: Vec<OnceLock<std::result::Result<crate::entropy::SetTables, String>>>,
}

/// Which of a model's two networks.
#[derive(Clone, Copy)]
enum Which {
    Encoder,
    Decoder,
}

impl ModelInner {
    /// The network `which`, its first session (of `plan`) built and its input and output checked against
    /// the manifest on first use. Two threads that both find it missing both build it; one is kept.
    fn network(&self, which: Which, plan: Plan) -> Result<&Network> {
        let cell = match which {
            Which::Encoder => &self.encoder,
            Which::Decoder => &self.decoder,
        };
        if let Some(n) = cell.get() {
            return Ok(n);
        }
        let built = self.build(which, plan)?;
        Ok(cell.get_or_init(|| built))
    }

    fn build(&self, which: Which, plan: Plan) -> Result<Network> {
        let (pixel_dims, latent_dims) = tensor_dims(&self.layout);
        let m = self.bundle.manifest();
        let (net, onnx, in_dims, out_dims) = match which {
            Which::Encoder => (
                &m.encoder,
                self.bundle.encoder_onnx_cow(),
                pixel_dims,
                latent_dims,
            ),
            Which::Decoder => (
                &m.decoder,
                self.bundle.decoder_onnx_cow(),
                latent_dims,
                pixel_dims,
            ),
        };
        let label = self.bundle.label();
        let spec = runtime::NetworkSpec {
            what: format!("{} of model bundle {label}", net.file),
            bundle: label,
            onnx,
            input: net.input.clone(),
            output: net.output.clone(),
            in_dims,
            out_dims,
            // Dense networks: one thread per session, a session per core (see `intra_threads`).
            intra_threads: usize::from(self.layout.tensors == TensorLayout::Flat),
        };
        Network::new(spec, self.choice, plan)
    }
}

/// A model ready to run: a verified [`Bundle`] plus encoder and decoder sessions on one [`Backend`].
///
/// `Clone` is cheap (shared) and a `Model` can be used from many threads at once: each network keeps a
/// session per concurrent run, up to one per core (see [`runtime::Network`]).
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

/// The networks' tensor dimensions of a layout: pixels and latents, `None` where dynamic.
fn tensor_dims(l: &Layout) -> (Vec<Option<usize>>, Vec<Option<usize>>) {
    let c = Some(usize::from(l.image_channels));
    let k = Some(l.channels as usize);
    match (l.tensors, l.size) {
        (TensorLayout::Flat, crate::layout::ImageSize::Fixed { width, height }) => (
            vec![
                None,
                Some(width as usize * height as usize * usize::from(l.image_channels)),
            ],
            vec![None, k],
        ),
        (TensorLayout::Flat, _) => (vec![None, None], vec![None, k]),
        (TensorLayout::Nchw, _) => (vec![None, c, None, None], vec![None, k, None, None]),
    }
}

/// Transposes each of the `n` row-major `rows x cols` matrices in `x`: interleaved `H x W x C` samples
/// to `[C, H, W]` planes with `(rows, cols) = (H * W, C)`, and back with `(C, H * W)`.
pub(crate) fn transpose_each(x: &[f32], n: usize, rows: usize, cols: usize) -> Vec<f32> {
    if rows == 1 || cols == 1 {
        return x.to_vec();
    }
    let mut out = vec![0.0; x.len()];
    let len = rows * cols;
    for (src, dst) in x.chunks_exact(len).zip(out.chunks_exact_mut(len)).take(n) {
        for r in 0..rows {
            for c in 0..cols {
                dst[c * rows + r] = src[r * cols + c];
            }
        }
    }
    out
}

impl Model {
    /// Builds the encoder and decoder sessions of `bundle` on the backend `choice` resolves to (see
    /// [`BackendChoice`]; the first model loaded in a process fixes its backend), checking each network's
    /// input and output against the manifest. Each call builds new sessions: [`Registry::load`] builds them
    /// once per bundle. [`Model::load_lazily`] builds each network on first use instead. A dense network
    /// (a chain of `Gemm` layers) is read and checked here, and runs its first few images on aez's own
    /// code: its session is built when a larger batch first needs it.
    pub fn load(bundle: Bundle, choice: BackendChoice) -> Result<Model> {
        let m = Model::load_lazily(bundle, choice)?;
        m.inner.network(Which::Encoder, Plan::Optimized)?;
        m.inner.network(Which::Decoder, Plan::Optimized)?;
        Ok(m)
    }

    /// As [`Model::load`], but each network's first session is built (and checked) when it first runs,
    /// so a model that only encodes never builds its decoder and the other way round: what a one-image
    /// `aez compress` or `aez decompress` needs. The backend is started (or checked) here; a network that
    /// does not fit the manifest is an error of the first call that runs it.
    pub fn load_lazily(bundle: Bundle, choice: BackendChoice) -> Result<Model> {
        let backend = runtime::check_choice(choice)?;
        let layout = bundle.layout();
        let bundle_levels = bundle.levels().len();
        Ok(Model {
            inner: Arc::new(ModelInner {
                bundle,
                layout,
                backend,
                choice,
                encoder: OnceLock::new(),
                decoder: OnceLock::new(),
                sets: (0..bundle_levels).map(|_| OnceLock::new()).collect(),
            }),
        })
    }

    /// Level `level`'s table sets ready for coding (`model-bundle.md` section 7): tens of thousands of
    /// tables, built the first time they are asked for and shared by every coder of the model, so that a
    /// run pays only for the level it codes.
    pub(crate) fn set_tables(&self, level: usize) -> Result<&crate::entropy::SetTables> {
        let i = &*self.inner;
        let model_err = |what: String| Error::Model {
            bundle: i.bundle.label(),
            what,
        };
        let sets = i.bundle.levels().get(level).and_then(|l| l.sets.as_ref());
        let (Some(cell), Some(sets)) = (i.sets.get(level), sets) else {
            return Err(model_err(format!("levels[{level}] has no table sets")));
        };
        // Decoded here when the manifest deferred them, with the manifest reader's error.
        sets.tables()?;
        cell.get_or_init(|| {
            crate::entropy::SetTables::new(sets, i.layout.channels as usize)
                .map_err(|e| format!("levels[{level}].sets: {e}"))
        })
        .as_ref()
        .map_err(|what| model_err(what.clone()))
    }

    /// The embedded default bundle on the [`BackendChoice::Auto`] backend.
    pub fn default_model() -> Result<Model> {
        Model::load(Bundle::embedded_default()?, BackendChoice::Auto)
    }

    /// The bundle this model runs.
    pub fn bundle(&self) -> &Bundle {
        &self.inner.bundle
    }

    /// The latent layout.
    pub fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    /// The backend the sessions run on (`Display`: `tract` or `onnxruntime <version>`).
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// Builds encoder (`encoder`) or decoder sessions until `k` runs of that network on images of
    /// `pixels` pixels can proceed in parallel (at most one per core).
    pub(crate) fn reserve_sessions(&self, encoder: bool, k: usize, pixels: usize) -> Result<()> {
        let which = if encoder {
            Which::Encoder
        } else {
            Which::Decoder
        };
        let plan = self.plan(pixels);
        self.inner.network(which, plan)?.reserve(k, plan)
    }

    /// The session plan of runs on images of `pixels` pixels: flat (dense) networks are always
    /// optimized, convolutional ones by the image size (see [`Plan`]).
    fn plan(&self, pixels: usize) -> Plan {
        match self.inner.layout.tensors {
            TensorLayout::Flat => Plan::Optimized,
            TensorLayout::Nchw => Plan::for_pixels(pixels),
        }
    }

    /// The fixed image size, or an error for a model that takes any size.
    fn fixed(&self) -> Result<(u32, u32)> {
        self.inner
            .layout
            .fixed_size()
            .ok_or_else(|| Error::InvalidArgument {
                what: "image size",
                value: "not given".into(),
                expected: "the image size: the model takes any size".into(),
            })
    }

    /// Encodes `n` images of the model's fixed size: `pixels` holds `n * width * height * channels`
    /// samples in `[0, 1]` (row-major, channels interleaved); returns `n` latents of the model's layout.
    pub fn encode(&self, pixels: &[f32], n: usize) -> Result<Vec<f32>> {
        let (w, h) = self.fixed()?;
        Ok(self.encode_images(pixels, n, w, h)?.0)
    }

    /// Decodes `n` latents of a fixed-size model into `n * width * height * channels` floats, nominally
    /// in `[0, 1]`; clamping and rounding to 8-bit samples is the caller's.
    pub fn decode(&self, latents: &[f32], n: usize) -> Result<Vec<f32>> {
        let (w, h) = self.fixed()?;
        let shape = self
            .inner
            .layout
            .latent_shape(w, h)
            .map_err(|e| self.size_err(w, h, e.expected))?;
        self.decode_latents(latents, n, shape)
    }

    fn size_err(&self, w: u32, h: u32, expected: String) -> Error {
        Error::Image {
            input: "image".into(),
            what: format!(
                "is {w}x{h}, model {} takes {expected}",
                self.inner.bundle.name()
            ),
        }
    }

    /// An error unless a network returned the shape the layout says.
    fn check_shape(&self, network: &str, got: &[usize], want: &[usize]) -> Result<()> {
        if got == want {
            return Ok(());
        }
        Err(Error::Runtime {
            backend: self.backend().to_string(),
            what: format!(
                "{network} of {} returned shape {got:?}, expected {want:?}",
                self.inner.bundle.name()
            ),
        })
    }

    /// Encodes `n` images of `width x height` (already padded to the stride), interleaved samples in
    /// `[0, 1]`; returns their latents, channel-major, and the latent shape of one image.
    pub fn encode_images(
        &self,
        pixels: &[f32],
        n: usize,
        width: u32,
        height: u32,
    ) -> Result<(Vec<f32>, LatentShape)> {
        let l = &self.inner.layout;
        let shape = l
            .latent_shape(width, height)
            .map_err(|e| self.size_err(width, height, e.expected))?;
        let (w, h, c) = (
            width as usize,
            height as usize,
            usize::from(l.image_channels),
        );
        let plan = self.plan(w * h);
        let encoder = self.inner.network(Which::Encoder, plan)?;
        let out = match l.tensors {
            TensorLayout::Flat => encoder.run(pixels, &[n, w * h * c], plan)?,
            TensorLayout::Nchw => {
                let planar = transpose_each(pixels, n, w * h, c);
                encoder.run(&planar, &[n, c, h, w], plan)?
            }
        };
        let want = match l.tensors {
            TensorLayout::Flat => vec![n, shape.len()],
            TensorLayout::Nchw => vec![
                n,
                shape.channels as usize,
                shape.height as usize,
                shape.width as usize,
            ],
        };
        self.check_shape("encoder", &out.shape, &want)?;
        Ok((out.data, shape))
    }

    /// Decodes `n` latents of `shape` (channel-major) into interleaved samples of images of the padded
    /// size that shape stands for, nominally in `[0, 1]`.
    pub fn decode_latents(
        &self,
        latents: &[f32],
        n: usize,
        shape: LatentShape,
    ) -> Result<Vec<f32>> {
        let l = &self.inner.layout;
        let (sx, sy) = l.stride();
        let (w, h, c) = (
            shape.width as usize * sx as usize,
            shape.height as usize * sy as usize,
            usize::from(l.image_channels),
        );
        let plan = self.plan(w * h);
        let decoder = self.inner.network(Which::Decoder, plan)?;
        let (out, want) = match l.tensors {
            TensorLayout::Flat => (
                decoder.run(latents, &[n, shape.len()], plan)?,
                vec![n, w * h * c],
            ),
            TensorLayout::Nchw => (
                decoder.run(
                    latents,
                    &[
                        n,
                        shape.channels as usize,
                        shape.height as usize,
                        shape.width as usize,
                    ],
                    plan,
                )?,
                vec![n, c, h, w],
            ),
        };
        self.check_shape("decoder", &out.shape, &want)?;
        Ok(match l.tensors {
            TensorLayout::Flat => out.data,
            TensorLayout::Nchw => transpose_each(&out.data, n, c, w * h),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planar_and_interleaved_are_inverse() {
        let x: Vec<f32> = (0..2 * 3 * 4 * 3).map(|v| v as f32).collect();
        let p = transpose_each(&x, 2, 4 * 3, 3);
        assert_eq!(
            p[1], 3.0,
            "second sample of plane 0 is the second pixel's first channel"
        );
        assert_eq!(transpose_each(&p, 2, 3, 4 * 3), x);
    }

    /// Both session plans run the same networks: tiny-conv's encoder and decoder on a 64x40 image (and
    /// its latent) agree to float rounding on either plan (on ONNX Runtime both are its optimized
    /// session); and the plan follows the image size.
    #[test]
    fn optimized_and_plain_sessions_compute_the_same_networks() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/models/tiny-conv");
        let model =
            Model::load_lazily(Bundle::from_dir(&dir).unwrap(), BackendChoice::Auto).unwrap();
        let (w, h) = (64usize, 40usize);
        let x: Vec<f32> = (0..3 * w * h)
            .map(|i| ((i * 7919) % 256) as f32 / 255.0)
            .collect();
        let shape = [1, 3, h, w];
        let enc = model
            .inner
            .network(Which::Encoder, Plan::Optimized)
            .unwrap();
        let a = enc.run(&x, &shape, Plan::Optimized).unwrap();
        let b = enc.run(&x, &shape, Plan::Plain).unwrap();
        assert_eq!(a.shape, b.shape);
        let close = |u: &[f32], v: &[f32]| {
            u.iter()
                .zip(v)
                .all(|(p, q)| (p - q).abs() <= 1e-4 * (1.0 + p.abs()))
        };
        assert!(close(&a.data, &b.data), "encoder outputs differ");
        let dec = model.inner.network(Which::Decoder, Plan::Plain).unwrap();
        let ya = dec.run(&a.data, &a.shape, Plan::Optimized).unwrap();
        let yb = dec.run(&a.data, &a.shape, Plan::Plain).unwrap();
        assert_eq!(ya.shape, yb.shape);
        assert!(close(&ya.data, &yb.data), "decoder outputs differ");
        assert_eq!(model.plan(w * h), Plan::Optimized);
        assert_eq!(model.plan(256 * 256), Plan::Plain);
    }
}
