//! Model bundles: loading a folder (`model.json`, `encoder.onnx`, `decoder.onnx`), verifying every manifest
//! field and the hash, the embedded default bundle, and lookup by name or by model id (hash prefix).

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::hash::bundle_hash;
use super::manifest::{hex, Geometry, Layout, Level, Manifest, Quantizer, Table};
use crate::error::{Error, Result};

/// Largest `model.json` read: the largest valid manifest (4096 tables of 4096 entries) is far bigger, but real
/// ones are a few KB; refusing more keeps a stray file from being read into memory whole.
pub const MAX_MANIFEST_BYTES: u64 = 8 << 20;
/// Largest ONNX network file read (each of encoder and decoder).
pub const MAX_ONNX_BYTES: u64 = 256 << 20;
/// Name of the manifest file in a bundle folder.
pub const MANIFEST_FILE: &str = "model.json";
/// Environment variable with extra folders of bundle folders, `:`-separated, searched after the embedded
/// bundle and before `./models`.
pub const MODEL_PATH_ENV: &str = "AEZ_MODEL_PATH";
/// The name of the embedded default bundle.
pub const DEFAULT_MODEL_NAME: &str = "fmnist-ld64e3d3";

/// Where a bundle was loaded from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleSource {
    /// Compiled into the binary.
    Embedded,
    /// A bundle folder on disk.
    Dir(PathBuf),
    /// Bytes handed to [`Bundle::from_parts`], with the caller's label.
    Memory(String),
}

impl std::fmt::Display for BundleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BundleSource::Embedded => write!(f, "embedded"),
            BundleSource::Dir(p) => write!(f, "{}", p.display()),
            BundleSource::Memory(label) => write!(f, "{label}"),
        }
    }
}

struct Inner {
    manifest: Manifest,
    encoder: Cow<'static, [u8]>,
    decoder: Cow<'static, [u8]>,
    hash: [u8; 32],
    source: BundleSource,
}

/// A verified model bundle: the manifest plus both ONNX networks, whose hash equals the manifest's.
///
/// Cheap to clone (shared). The embedded bundle's network bytes are borrowed from the binary (no copy).
#[derive(Clone)]
pub struct Bundle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Bundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bundle")
            .field("name", &self.inner.manifest.name)
            .field("hash", &self.hash_hex())
            .field("source", &self.inner.source)
            .field("encoder_bytes", &self.inner.encoder.len())
            .field("decoder_bytes", &self.inner.decoder.len())
            .finish()
    }
}

/// One entry of [`Bundle::scan`]: a bundle found in the search path, or why it could not be loaded.
#[derive(Debug)]
pub struct ScanEntry {
    /// The embedded bundle or the folder.
    pub source: BundleSource,
    /// The verified bundle, or the error that kept it from loading.
    pub bundle: Result<Bundle>,
}

mod embedded {
    //! The default bundle, compiled in. Regenerate by replacing the files under models/fmnist-ld64e3d3/.
    pub(super) static MANIFEST: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/fmnist-ld64e3d3/model.json"
    ));
    pub(super) static ENCODER: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/fmnist-ld64e3d3/encoder.onnx"
    ));
    pub(super) static DECODER: &[u8] = include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/models/fmnist-ld64e3d3/decoder.onnx"
    ));
}

/// The embedded bundle, verified once on first use. The error is kept as text (errors are not `Clone`).
static EMBEDDED: OnceLock<std::result::Result<Bundle, String>> = OnceLock::new();

fn embedded_label() -> String {
    format!("embedded {DEFAULT_MODEL_NAME}")
}

/// Reads a whole file of at most `limit` bytes, refusing a bigger one before reading it.
fn read_limited(path: &Path, limit: u64, bundle: &str) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|e| {
        Error::io(
            format!("model bundle {bundle}: opening {}", path.display()),
            e,
        )
    })?;
    let meta = file.metadata().map_err(|e| {
        Error::io(
            format!(
                "model bundle {bundle}: reading metadata of {}",
                path.display()
            ),
            e,
        )
    })?;
    if !meta.is_file() {
        return Err(Error::Model {
            bundle: bundle.to_string(),
            what: format!("{} is not a regular file", path.display()),
        });
    }
    let too_big = |len: u64| Error::Model {
        bundle: bundle.to_string(),
        what: format!(
            "{} is {len} bytes, over the limit of {limit} bytes",
            path.display()
        ),
    };
    if meta.len() > limit {
        return Err(too_big(meta.len()));
    }
    let mut buf = Vec::with_capacity(meta.len() as usize);
    // take(limit + 1) guards against a file that grows while being read.
    file.take(limit + 1).read_to_end(&mut buf).map_err(|e| {
        Error::io(
            format!("model bundle {bundle}: reading {}", path.display()),
            e,
        )
    })?;
    if buf.len() as u64 > limit {
        return Err(too_big(buf.len() as u64));
    }
    Ok(buf)
}

/// The folders searched for bundles, in order: each entry of `AEZ_MODEL_PATH`, then `./models`.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(v) = std::env::var_os(MODEL_PATH_ENV) {
        for p in std::env::split_paths(&v) {
            if !p.as_os_str().is_empty() {
                dirs.push(p);
            }
        }
    }
    dirs.push(PathBuf::from("models"));
    dirs
}

/// The bundle folders in `dir`: `dir` itself when it holds a `model.json`, else its sub-folders that do,
/// in name order. A folder that cannot be read gives nothing.
fn bundle_dirs_in(dir: &Path) -> Vec<PathBuf> {
    if dir.join(MANIFEST_FILE).is_file() {
        return vec![dir.to_path_buf()];
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join(MANIFEST_FILE).is_file())
        .collect();
    out.sort();
    out
}

impl Bundle {
    /// Builds a bundle from a manifest and the two network files, verifying every field and the hash.
    /// `source` says where it came from (used in errors and by [`Bundle::source`]).
    pub fn from_parts(
        manifest_json: &[u8],
        encoder: Cow<'static, [u8]>,
        decoder: Cow<'static, [u8]>,
        source: BundleSource,
    ) -> Result<Bundle> {
        let label = match &source {
            BundleSource::Embedded => embedded_label(),
            other => other.to_string(),
        };
        let manifest = Manifest::from_json(manifest_json, &label)?;
        let hash = bundle_hash(&manifest, &encoder, &decoder);
        if hash != manifest.hash {
            return Err(Error::Model {
                bundle: label,
                what: format!(
                    "hash mismatch: model.json says sha256:{}, but the networks, quantizer and tables hash to \
                     sha256:{} (a file was changed or corrupted)",
                    hex(&manifest.hash),
                    hex(&hash)
                ),
            });
        }
        Ok(Bundle {
            inner: Arc::new(Inner {
                manifest,
                encoder,
                decoder,
                hash,
                source,
            }),
        })
    }

    /// Loads and verifies the bundle in folder `dir`: `model.json` and the two networks it names.
    pub fn from_dir(dir: &Path) -> Result<Bundle> {
        let label = dir.display().to_string();
        let manifest_path = dir.join(MANIFEST_FILE);
        let json = read_limited(&manifest_path, MAX_MANIFEST_BYTES, &label)?;
        // Parse first to learn the file names (and fail early on a bad manifest without reading the networks).
        let manifest = Manifest::from_json(&json, &label)?;
        let encoder = read_limited(&dir.join(&manifest.encoder.file), MAX_ONNX_BYTES, &label)?;
        let decoder = read_limited(&dir.join(&manifest.decoder.file), MAX_ONNX_BYTES, &label)?;
        Bundle::from_parts(
            &json,
            Cow::Owned(encoder),
            Cow::Owned(decoder),
            BundleSource::Dir(dir.to_path_buf()),
        )
    }

    /// The default bundle compiled into the binary (`models/fmnist-ld64e3d3`), verified on first use.
    pub fn embedded_default() -> Result<Bundle> {
        let r = EMBEDDED.get_or_init(|| {
            let m = Manifest::from_json(embedded::MANIFEST, &embedded_label()).map_err(|e| e.to_string())?;
            if m.encoder.file != "encoder.onnx" || m.decoder.file != "decoder.onnx" {
                return Err(format!(
                    "model bundle {}: the embedded manifest names networks {:?} and {:?}, but encoder.onnx and \
                     decoder.onnx are the files compiled in",
                    embedded_label(),
                    m.encoder.file,
                    m.decoder.file
                ));
            }
            Bundle::from_parts(
                embedded::MANIFEST,
                Cow::Borrowed(embedded::ENCODER),
                Cow::Borrowed(embedded::DECODER),
                BundleSource::Embedded,
            )
            .map_err(|e| e.to_string())
        });
        match r {
            Ok(b) => Ok(b.clone()),
            Err(what) => Err(Error::Model {
                bundle: embedded_label(),
                what: what.clone(),
            }),
        }
    }

    /// Opens a bundle by name or path.
    ///
    /// A `spec` that contains a path separator, starts with `.`, or names an existing folder holding a
    /// `model.json` and is not a known name, is loaded with [`Bundle::from_dir`]. Otherwise it is a name:
    /// `default` or the embedded bundle's name gives the embedded bundle; any other name is looked up as a
    /// folder `<dir>/<name>` in each of [`search_dirs`].
    pub fn open(spec: &str) -> Result<Bundle> {
        if spec.is_empty() {
            return Err(Error::InvalidArgument {
                what: "model",
                value: String::new(),
                expected: "a model name (see `aez models`) or a bundle folder".into(),
            });
        }
        let looks_like_path =
            spec.contains(std::path::MAIN_SEPARATOR) || spec.contains('/') || spec.starts_with('.');
        if looks_like_path {
            return Bundle::from_dir(Path::new(spec));
        }
        if spec == "default" || spec == DEFAULT_MODEL_NAME {
            return Bundle::embedded_default();
        }
        for dir in search_dirs() {
            let candidate = dir.join(spec);
            if candidate.join(MANIFEST_FILE).is_file() {
                return Bundle::from_dir(&candidate);
            }
        }
        let here = Path::new(spec);
        if here.join(MANIFEST_FILE).is_file() {
            return Bundle::from_dir(here);
        }
        let known: Vec<String> = Bundle::known()
            .into_iter()
            .map(|(name, _, _)| name)
            .collect();
        Err(Error::InvalidArgument {
            what: "model",
            value: spec.to_string(),
            expected: format!(
                "one of: default, {} (or a bundle folder; folders searched: {})",
                known.join(", "),
                search_dirs()
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        })
    }

    /// Finds the bundle whose hash starts with `prefix` (a model id from an `.aez` header): the embedded
    /// bundle first, then the bundle folders in [`search_dirs`]. Returns `Ok(None)` when none matches.
    ///
    /// A folder whose manifest cannot be read is skipped; a folder whose manifest *claims* the wanted hash but
    /// fails verification is an error (it is the bundle the caller wants, and it is damaged).
    pub fn find_by_id(prefix: &[u8]) -> Result<Option<Bundle>> {
        if prefix.is_empty() || prefix.len() > 32 {
            return Err(Error::InvalidArgument {
                what: "model id length",
                value: prefix.len().to_string(),
                expected: "1..=32 bytes".into(),
            });
        }
        if let Ok(b) = Bundle::embedded_default() {
            if b.hash().starts_with(prefix) {
                return Ok(Some(b));
            }
        }
        for dir in search_dirs() {
            for bdir in bundle_dirs_in(&dir) {
                let label = bdir.display().to_string();
                let Ok(json) = read_limited(&bdir.join(MANIFEST_FILE), MAX_MANIFEST_BYTES, &label)
                else {
                    continue;
                };
                let Ok(m) = Manifest::from_json(&json, &label) else {
                    continue;
                };
                if m.hash.starts_with(prefix) {
                    return Bundle::from_dir(&bdir).map(Some);
                }
            }
        }
        Ok(None)
    }

    /// Every bundle in reach: the embedded one, then each bundle folder in [`search_dirs`], with the error
    /// for those that do not load. Each is fully verified (hash included).
    pub fn scan() -> Vec<ScanEntry> {
        let mut out = vec![ScanEntry {
            source: BundleSource::Embedded,
            bundle: Bundle::embedded_default(),
        }];
        for dir in search_dirs() {
            for bdir in bundle_dirs_in(&dir) {
                out.push(ScanEntry {
                    bundle: Bundle::from_dir(&bdir),
                    source: BundleSource::Dir(bdir),
                });
            }
        }
        out
    }

    /// The valid bundles of [`Bundle::scan`] as `(name, hash hex, source)`, for `aez models`.
    pub fn known() -> Vec<(String, String, String)> {
        Bundle::scan()
            .into_iter()
            .filter_map(|e| e.bundle.ok())
            .map(|b| (b.name().to_string(), b.hash_hex(), b.source().to_string()))
            .collect()
    }

    /// The SHA-256 bundle hash (spec section 4); equal to the manifest's `hash`.
    pub fn hash(&self) -> &[u8; 32] {
        &self.inner.hash
    }

    /// The hash as 64 lowercase hex digits (without the `sha256:` prefix).
    pub fn hash_hex(&self) -> String {
        hex(&self.inner.hash)
    }

    /// The validated manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.inner.manifest
    }

    /// The bundle's name (from the manifest).
    pub fn name(&self) -> &str {
        &self.inner.manifest.name
    }

    /// The image geometry of a fixed-size model. An any-size model has no fixed geometry: its `width` and
    /// `height` are 0 ("not fixed") and only `channels` is meaningful; see [`Bundle::layout`].
    pub fn geometry(&self) -> Geometry {
        let m = &self.inner.manifest;
        m.geometry().unwrap_or(Geometry {
            width: 0,
            height: 0,
            channels: m.layout.image_channels,
        })
    }

    /// The model's layout: image channels, image size (fixed, or any with a stride), latent channels and
    /// tensor layout.
    pub fn layout(&self) -> Layout {
        self.inner.manifest.layout
    }

    /// `C`, the number of latent channels (for a fixed-size model, the number of latents per image).
    pub fn latent_dim(&self) -> usize {
        self.inner.manifest.layout.channels as usize
    }

    /// The quality levels, in ascending quality (one, quality 0, for a version-1 bundle).
    pub fn levels(&self) -> &[Level] {
        &self.inner.manifest.levels
    }

    /// The level used when none is asked for (its index is `manifest().default_level`).
    pub fn default_level(&self) -> &Level {
        // A Bundle holds a validated manifest: `default_level` indexes its non-empty `levels`.
        let m = &self.inner.manifest;
        &m.levels[m.default_level]
    }

    /// The default level's quantizer (C steps and offsets).
    pub fn quantizer(&self) -> &Quantizer {
        &self.default_level().quantizer
    }

    /// The default level's C integer entropy tables.
    pub fn tables(&self) -> &[Table] {
        &self.default_level().tables
    }

    /// The encoder network (ONNX bytes).
    pub fn encoder_onnx(&self) -> &[u8] {
        &self.inner.encoder
    }

    /// The decoder network (ONNX bytes).
    pub fn decoder_onnx(&self) -> &[u8] {
        &self.inner.decoder
    }

    /// Where the bundle came from.
    pub fn source(&self) -> &BundleSource {
        &self.inner.source
    }

    /// A label for messages: the name, and the folder when it came from disk.
    pub fn label(&self) -> String {
        match &self.inner.source {
            BundleSource::Embedded => embedded_label(),
            other => format!("{} ({other})", self.name()),
        }
    }
}
