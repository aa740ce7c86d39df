//! The model-side constants of coding (tables, quantizer, layout, id) and the batch work of both
//! directions, split over worker threads.

use crate::entropy::{decode_latent, encode_latent, Coder, SymbolTable};
use crate::error::{Error, Result};
use crate::format::consts::MODEL_ID_LEN;
use crate::format::{Header, Kind, Record};
use crate::layout::LatentShape;
use crate::model::{Bundle, Geometry, Model, Quantizer};
use crate::quant;

/// Fewest images per worker: below this a batch runs on the calling thread only.
const MIN_PER_WORKER: usize = 16;

/// The model id of a bundle: the first [`MODEL_ID_LEN`] bytes of its hash.
pub fn model_id(bundle: &Bundle) -> [u8; MODEL_ID_LEN] {
    let mut id = [0u8; MODEL_ID_LEN];
    id.copy_from_slice(&bundle.hash()[..MODEL_ID_LEN]);
    id
}

/// The coding tables of each of a bundle's quality levels (one per latent channel each), in level order.
pub fn level_tables(bundle: &Bundle) -> Result<Vec<Vec<SymbolTable>>> {
    bundle
        .levels()
        .iter()
        .enumerate()
        .map(|(l, lv)| symbol_tables(bundle, &lv.tables, &format!("levels[{l}].tables")))
        .collect()
}

/// The coding tables of a bundle's `tables` (errors name `field[i]`).
pub(crate) fn symbol_tables(
    bundle: &Bundle,
    tables: &[crate::model::Table],
    field: &str,
) -> Result<Vec<SymbolTable>> {
    tables
        .iter()
        .enumerate()
        .map(|(i, t)| {
            SymbolTable::new(t.min, &t.freqs, t.escape).map_err(|what| Error::Model {
                bundle: bundle.label(),
                what: format!("{field}[{i}]: {what}"),
            })
        })
        .collect()
}

/// `round(clamp(x, 0, 1) * 255)` (`model-bundle.md` section 1); NaN gives 0.
pub(crate) fn to_u8(x: f32) -> u8 {
    (x.clamp(0.0, 1.0) * 255.0).round() as u8
}

/// What failed in [`Coding::decode_records`]: the entropy error of one record, or the network's error.
#[derive(Debug)]
pub(crate) enum DecodeFailure {
    /// Record `records[i]` does not decode (index into the slice given), with what is wrong.
    Entropy(usize, String),
    /// The network or the quantizer failed.
    Other(Error),
}

/// The model-side constants of coding for one model, and its batch work.
#[derive(Debug)]
pub(crate) struct Coding {
    pub(crate) model: Model,
    pub(crate) id: [u8; MODEL_ID_LEN],
    pub(crate) geometry: Geometry,
    /// The latent of one image of `geometry`.
    pub(crate) shape: LatentShape,
    quantizer: Quantizer,
    tables: Vec<SymbolTable>,
    threads: usize,
}

impl Coding {
    pub(crate) fn new(model: &Model, threads: usize) -> Result<Coding> {
        let b = model.bundle();
        let tables = symbol_tables(b, b.tables(), "entropy.tables")?;
        let geometry = b.geometry();
        let shape = model
            .layout()
            .latent_shape(geometry.width, geometry.height)
            .map_err(|e| Error::Model {
                bundle: b.label(),
                what: format!(
                    "its own geometry {geometry} does not fit its layout ({})",
                    e.expected
                ),
            })?;
        Ok(Coding {
            model: model.clone(),
            id: model_id(b),
            geometry,
            shape,
            quantizer: b.quantizer().clone(),
            tables,
            threads: threads.max(1),
        })
    }

    /// `h` with an elided geometry replaced by the model's (bundles have sides of 1..=4096).
    pub(crate) fn resolve_header(&self, h: &Header) -> Header {
        let side = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
        h.resolved(side(self.geometry.width), side(self.geometry.height))
    }

    /// The header of a stream of this model's images: they always have the model's geometry, so it is
    /// not stored (geometry field `11`, spec 2.1).
    pub(crate) fn header(&self, coder: Coder, kind: Kind) -> Header {
        Header::model_geometry(coder, kind, self.id)
    }

    /// Builds the encoder's (`encoder`) or decoder's sessions for `workers` parallel runs on this model's
    /// images.
    fn reserve(&self, encoder: bool, workers: usize) -> Result<()> {
        let pixels = self.geometry.width as usize * self.geometry.height as usize;
        self.model.reserve_sessions(encoder, workers, pixels)
    }

    /// Workers for `n` images: one per [`MIN_PER_WORKER`] images, at most `threads`.
    fn workers(&self, n: usize) -> usize {
        (n / MIN_PER_WORKER).clamp(1, self.threads)
    }

    /// Runs the encoder network on `n` images of samples in `[0, 1]` and codes each into a payload.
    pub(crate) fn encode_batch(&self, coder: Coder, x: &[f32], n: usize) -> Result<Vec<Vec<u8>>> {
        let per_image = self.geometry.samples();
        let workers = self.workers(n);
        if workers == 1 {
            return self.encode_chunk(coder, x, n);
        }
        self.reserve(true, workers)?;
        let parts: Vec<&[f32]> = x.chunks(chunk_len(n, workers) * per_image).collect();
        let done = in_parallel(workers, parts.len(), |i| {
            self.encode_chunk(coder, parts[i], parts[i].len() / per_image)
        });
        let mut out = Vec::with_capacity(n);
        for p in done {
            out.extend(p.unwrap_or_else(|| Err(worker_panicked()))?);
        }
        Ok(out)
    }

    fn encode_chunk(&self, coder: Coder, x: &[f32], n: usize) -> Result<Vec<Vec<u8>>> {
        let (z, shape) =
            self.model
                .encode_images(x, n, self.geometry.width, self.geometry.height)?;
        let q = quant::quantize(&z, &self.quantizer, shape)?;
        q.chunks_exact(shape.len())
            .map(|qi| {
                let mut p = Vec::with_capacity(shape.len());
                encode_latent(coder, &self.tables, shape, qi, &mut p)?;
                Ok(p)
            })
            .collect()
    }

    /// Entropy-decodes `records` and runs the decoder network on them: the 8-bit samples of each image,
    /// in order. On a failure, the images of the records before the first bad one (all of them decoded)
    /// and the failure.
    pub(crate) fn decode_records(
        &self,
        coder: Coder,
        records: &[Record],
    ) -> (Vec<Vec<u8>>, Option<DecodeFailure>) {
        let workers = self.workers(records.len());
        if workers == 1 {
            return self.decode_chunk(coder, records, 0);
        }
        if let Err(e) = self.reserve(false, workers) {
            return (Vec::new(), Some(DecodeFailure::Other(e)));
        }
        let chunk = chunk_len(records.len(), workers);
        let parts: Vec<&[Record]> = records.chunks(chunk).collect();
        let done = in_parallel(workers, parts.len(), |i| {
            self.decode_chunk(coder, parts[i], i * chunk)
        });
        let mut out = Vec::with_capacity(records.len());
        for part in done {
            let (images, failure) =
                part.unwrap_or_else(|| (Vec::new(), Some(DecodeFailure::Other(worker_panicked()))));
            out.extend(images);
            if failure.is_some() {
                return (out, failure);
            }
        }
        (out, None)
    }

    /// [`Coding::decode_records`] on one thread; entropy errors name `first + i`.
    fn decode_chunk(
        &self,
        coder: Coder,
        records: &[Record],
        first: usize,
    ) -> (Vec<Vec<u8>>, Option<DecodeFailure>) {
        let per = self.shape.len();
        let mut q_all: Vec<i32> = Vec::with_capacity(records.len() * per);
        let mut q = Vec::with_capacity(per);
        let mut failure = None;
        for (i, rec) in records.iter().enumerate() {
            if let Err(e) = decode_latent(coder, &self.tables, self.shape, &rec.payload, &mut q) {
                failure = Some(DecodeFailure::Entropy(first + i, e.0));
                break;
            }
            q_all.extend_from_slice(&q);
        }
        let n = q_all.len() / per.max(1);
        if n == 0 {
            return (Vec::new(), failure);
        }
        match self.decode_symbols(&q_all, n) {
            Ok(images) => (images, failure),
            Err(e) => (Vec::new(), Some(DecodeFailure::Other(e))),
        }
    }

    /// Runs the decoder network on `n` images' symbols and returns 8-bit samples per image.
    fn decode_symbols(&self, q: &[i32], n: usize) -> Result<Vec<Vec<u8>>> {
        let z = quant::dequantize(q, &self.quantizer, self.shape)?;
        let x = self.model.decode_latents(&z, n, self.shape)?;
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

/// Images per piece of a batch split over `workers`: a few pieces per worker, so that a worker slowed
/// down (by another process on its core) holds up the batch by one small piece only.
fn chunk_len(n: usize, workers: usize) -> usize {
    n.div_ceil(workers * 2).max(MIN_PER_WORKER)
}

/// Runs `job(0..pieces)` on `workers` scoped threads that take the pieces in turn; the results in piece
/// order (`None` for a piece whose worker panicked).
fn in_parallel<T: Send>(
    workers: usize,
    pieces: usize,
    job: impl Fn(usize) -> T + Sync,
) -> Vec<Option<T>> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<T>> = (0..pieces).map(|_| None).collect();
    let slots: Vec<std::sync::Mutex<&mut Option<T>>> =
        results.iter_mut().map(std::sync::Mutex::new).collect();
    std::thread::scope(|s| {
        for _ in 0..workers.min(pieces) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= pieces {
                    break;
                }
                // A panicking piece leaves its slot empty (reported as an error) instead of taking the
                // scope, and the caller, down with it.
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(i)));
                if let (Ok(r), Ok(mut slot)) = (r, slots[i].lock()) {
                    **slot = Some(r);
                }
            });
        }
    });
    drop(slots);
    results
}

fn worker_panicked() -> Error {
    Error::Runtime {
        backend: "worker thread".into(),
        what: "a coding worker panicked".into(),
    }
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
