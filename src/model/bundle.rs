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

/// The files of one bundle compiled into the binary.
struct EmbeddedFiles {
    name: &'static str,
    /// The hash the manifest claims (64 lowercase hex digits): a lookup key only, never trusted.
    claimed_hash: &'static str,
    manifest: &'static [u8],
    encoder: &'static [u8],
    decoder: &'static [u8],
}

// The bundles compiled in, the default first (the list is in build.rs, which reads each manifest's claimed
// hash). Regenerate one by replacing the files under `models/<name>/`.
include!(concat!(env!("OUT_DIR"), "/embedded.rs"));

/// The embedded bundles, each verified once on first use. Errors are kept as text (errors are not
/// `Clone`).
static EMBEDDED: [OnceLock<std::result::Result<Bundle, String>>; EMBEDDED_FILES.len()] =
    [const { OnceLock::new() }; EMBEDDED_FILES.len()];

fn embedded_label_of(name: &str) -> String {
    format!("embedded {name}")
}

fn embedded_label() -> String {
    embedded_label_of(DEFAULT_MODEL_NAME)
}

/// Embedded bundle `i`, verified on first use.
fn embedded_at(i: usize) -> Result<Bundle> {
    let f = &EMBEDDED_FILES[i];
    let label = embedded_label_of(f.name);
    let r = EMBEDDED[i].get_or_init(|| {
        // A release build also leaves each level's table sets undecoded until a run codes with them.
        let read = if cfg!(debug_assertions) {
            Manifest::from_json
        } else {
            Manifest::from_json_deferred
        };
        let m = read(f.manifest, &label).map_err(|e| e.to_string())?;
        if m.encoder.file != "encoder.onnx" || m.decoder.file != "decoder.onnx" {
            return Err(format!(
                "model bundle {label}: the embedded manifest names networks {:?} and {:?}, but encoder.onnx \
                 and decoder.onnx are the files compiled in",
                m.encoder.file, m.decoder.file
            ));
        }
        // The embedded bytes are part of the executable, as its code is: a release build takes the hash
        // the manifest claims instead of hashing megabytes of networks at every start (the start-up cost
        // of a one-image run). Every embedded bundle is hashed and checked by the test suite
        // (`embedded_bundles_verify`) and on first use in debug builds.
        if cfg!(debug_assertions) {
            Bundle::from_parts(
                f.manifest,
                Cow::Borrowed(f.encoder),
                Cow::Borrowed(f.decoder),
                BundleSource::Embedded,
            )
            .map_err(|e| e.to_string())
        } else {
            Ok(Bundle::with_claimed_hash(
                m,
                Cow::Borrowed(f.encoder),
                Cow::Borrowed(f.decoder),
                BundleSource::Embedded,
            ))
        }
    });
    match r {
        Ok(b) => Ok(b.clone()),
        Err(what) => Err(Error::Model {
            bundle: label,
            what: what.clone(),
        }),
    }
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

/// Reads and parses (without verifying the networks) the manifest of the bundle folder `dir`.
pub(crate) fn read_manifest_file(dir: &Path) -> Result<Manifest> {
    let label = dir.display().to_string();
    let json = read_limited(&dir.join(MANIFEST_FILE), MAX_MANIFEST_BYTES, &label)?;
    Manifest::from_json(&json, &label)
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
        // Verified: the claimed hash is the computed one.
        Ok(Bundle::with_claimed_hash(
            manifest, encoder, decoder, source,
        ))
    }

    /// A bundle whose hash is the one its manifest claims, not computed: for [`Bundle::from_parts`] after
    /// its check, and for the embedded bundles of a release build (see `embedded_at`).
    fn with_claimed_hash(
        manifest: Manifest,
        encoder: Cow<'static, [u8]>,
        decoder: Cow<'static, [u8]>,
        source: BundleSource,
    ) -> Bundle {
        let hash = manifest.hash;
        Bundle {
            inner: Arc::new(Inner {
                manifest,
                encoder,
                decoder,
                hash,
                source,
            }),
        }
    }

    /// Computes the hash of this bundle's networks and manifest fields (spec section 4), which verified
    /// bundles already have; for checking the embedded ones, which a release build does not hash.
    pub fn computed_hash(&self) -> [u8; 32] {
        bundle_hash(
            &self.inner.manifest,
            &self.inner.encoder,
            &self.inner.decoder,
        )
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
        embedded_at(0)
    }

    /// Every bundle compiled into the binary, the default first, each verified on first use.
    pub fn embedded_all() -> Vec<Result<Bundle>> {
        (0..EMBEDDED_FILES.len()).map(embedded_at).collect()
    }

    /// The embedded bundles whose manifests claim a hash starting with `prefix`, in order, each verified
    /// on first use (a claimed hash is only where to look; a bundle that does not verify is an error).
    /// Only the bundles that match are read.
    pub fn embedded_claiming(prefix: &[u8]) -> impl Iterator<Item = Result<Bundle>> + '_ {
        let wanted = hex(prefix);
        EMBEDDED_FILES
            .iter()
            .enumerate()
            .filter(move |(_, f)| f.claimed_hash.starts_with(&wanted))
            .map(|(i, _)| embedded_at(i))
    }

    /// The names of the bundles compiled in, the default first (nothing is verified).
    pub fn embedded_names() -> impl Iterator<Item = &'static str> {
        EMBEDDED_FILES.iter().map(|f| f.name)
    }

    /// The embedded bundle named `name`, if one is compiled in.
    pub fn embedded(name: &str) -> Option<Result<Bundle>> {
        EMBEDDED_FILES
            .iter()
            .position(|f| f.name == name)
            .map(embedded_at)
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

    /// The encoder network, borrowed from the binary for the embedded bundle.
    pub(crate) fn encoder_onnx_cow(&self) -> Cow<'static, [u8]> {
        self.inner.encoder.clone()
    }

    /// The decoder network, borrowed from the binary for the embedded bundle.
    pub(crate) fn decoder_onnx_cow(&self) -> Cow<'static, [u8]> {
        self.inner.decoder.clone()
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
            BundleSource::Embedded => embedded_label_of(self.name()),
            other => format!("{} ({other})", self.name()),
        }
    }
}
