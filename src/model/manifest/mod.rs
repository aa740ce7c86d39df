//! The bundle manifest (`model.json`): version 1 (spec/model-bundle.md section 2) and version 2 (section 5).
//!
//! Each version is a set of `#[derive(Deserialize)]` structs ([`v1`], [`v2`]; the informational fields both
//! share, [`info`]) read through `serde_path_to_error`, then a validation pass over those typed structs
//! ([`check`]). Every error names the field by its JSON path (`entropy.tables[3].freqs[7]`,
//! `levels[2].quantizer.step[5]`) and quotes the bad value. Both versions become the one [`Manifest`]: a
//! [`Layout`] and a list of quality [`Level`]s (version 1: exactly one, quality 0).

mod check;
mod hyper;
mod info;
mod packed;
mod sets;
mod v1;
mod v2;

use serde::de::{Deserializer, IgnoredAny};
use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::layout::{ImageSize, Layout, TensorLayout};
pub use hyper::{
    AnalysisLayer, Hyper, SynthesisLayer, HYPER_ACT_MAX, HYPER_WEIGHT_MAX, MAX_HYPER_LAYERS,
    MAX_HYPER_SHIFT, MAX_SCALE_TABLES,
};

pub use sets::{TableList, TableRef, TableSets, MAX_SETS};

use crate::error::{Error, Result};
use check::{show, Ctx};

/// Bundle version 1: one fixed image size, flat tensors, one quantizer and one table per latent (section 2).
pub const BUNDLE_VERSION: u32 = 1;
/// Bundle version 2: a fixed size or any size (stride), flat or NCHW tensors, one or more quality levels, each
/// with its own per-channel quantizer and tables (section 5).
pub const BUNDLE_VERSION_2: u32 = 2;
/// The only entropy-table precision this reader understands: frequencies sum to `2^16` per table.
pub const PRECISION_BITS: u32 = 16;
/// Largest accepted fixed width or height (`input.width` / `input.height` in version 1, `input.size.width` /
/// `input.size.height` in version 2).
pub const MAX_SIDE: u32 = 4096;
/// Largest accepted `input.size.max_side` of an any-size (version 2) model.
pub const MAX_ANY_SIDE: u32 = 65535;
/// Largest accepted `input.size.stride` of an any-size (version 2) model; it is also a power of two.
pub const MAX_STRIDE: u32 = 256;
/// Largest accepted number of latent channels: `latent_dim` (version 1), `latent.channels` (version 2).
pub const MAX_LATENT_DIM: u32 = 4096;
/// Largest accepted number of quality levels (version 2 `levels`).
pub const MAX_LEVELS: usize = 16;
/// Largest accepted number of entries in one table's `freqs`.
pub const MAX_TABLE_LEN: usize = 4096;
/// Longest accepted bundle name.
pub const MAX_NAME_LEN: usize = 64;

/// Image geometry of a fixed-size model: every image is `width x height` with `channels` interleaved samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Geometry {
    /// Columns, 1..=4096 (0 from [`crate::model::Bundle::geometry`] for an any-size model: not fixed).
    pub width: u32,
    /// Rows, 1..=4096 (0 from [`crate::model::Bundle::geometry`] for an any-size model: not fixed).
    pub height: u32,
    /// 1 (gray) or 3 (RGB).
    pub channels: u8,
}

impl Geometry {
    /// Samples per image: `width * height * channels` (at most 4096 * 4096 * 3, so it fits any `usize` >= 32 bits).
    pub fn samples(&self) -> usize {
        self.width as usize * self.height as usize * self.channels as usize
    }
}

impl std::fmt::Display for Geometry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.channels {
            1 => "gray",
            3 => "RGB",
            _ => "channels",
        };
        write!(f, "{}x{} {}", self.width, self.height, kind)
    }
}

/// One latent channel's integer entropy table (spec section 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// The quantized value of symbol index 0.
    pub min: i32,
    /// Frequencies of the in-range symbols `min ..= min + freqs.len() - 1`; none is zero.
    pub freqs: Vec<u16>,
    /// Frequency of the escape symbol (index `freqs.len()`), used for every value outside the range.
    pub escape: u16,
}

impl Table {
    /// The largest quantized value with its own symbol: `min + freqs.len() - 1`.
    pub fn max(&self) -> i32 {
        self.min + self.freqs.len() as i32 - 1
    }
}

/// The uniform scalar quantizer: `q = round((z - offset[c]) / step[c])`, `z' = q * step[c] + offset[c]`, one
/// step and offset per latent channel `c`.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantizer {
    /// Per-channel step, finite and > 0.
    pub step: Vec<f32>,
    /// Per-channel offset, finite.
    pub offset: Vec<f32>,
}

impl Serialize for Quantizer {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Quantizer", 3)?;
        st.serialize_field("kind", "uniform")?;
        st.serialize_field("step", &self.step)?;
        st.serialize_field("offset", &self.offset)?;
        st.end()
    }
}

/// Where a network lives in the bundle folder and the names of its single input and output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkSpec {
    /// File name inside the bundle folder (a plain name: no path separators, not `.` or `..`).
    pub file: String,
    /// Name of the ONNX graph input.
    pub input: String,
    /// Name of the ONNX graph output.
    pub output: String,
}

/// One quality level: the quantizer and the entropy tables used to code an image at that quality.
#[derive(Debug, Clone, PartialEq)]
pub struct Level {
    /// The level's quality number, 0..=255; levels are in ascending quality order (version 1: the one level
    /// has quality 0).
    pub quality: u8,
    /// One step and offset per latent channel.
    pub quantizer: Quantizer,
    /// One table per latent channel; none (empty) in a model with a hyperprior or a level with `sets`.
    pub tables: Vec<Table>,
    /// The level's table sets (section 7), if it codes each image with one of several.
    pub sets: Option<TableSets>,
}

/// A validated `model.json` of either bundle version (spec/model-bundle.md sections 2 and 5).
///
/// Build one with [`Manifest::from_json`]; every field has been checked against the spec's rules. The `hash`
/// here is the one the manifest *claims*; [`crate::model::Bundle`] compares it with the hash of the files.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// [`BUNDLE_VERSION`] or [`BUNDLE_VERSION_2`]: the JSON shape it was read from and is written in.
    pub bundle_version: u32,
    /// 1..64 characters of `[a-z0-9._-]`.
    pub name: String,
    /// Free text (empty when absent).
    pub description: String,
    /// Informational, e.g. `LD32E3D3` (empty when absent).
    pub architecture: String,
    /// Informational, e.g. `linear` (empty when absent).
    pub latent_activation: String,
    /// Informational, e.g. `fashion-mnist` (empty when absent).
    pub dataset: String,
    /// Image channels, image size (fixed or any), latent channels `C`, tensor layout. Version 1: a fixed size
    /// with flat tensors and `C` = `latent_dim`.
    pub layout: Layout,
    /// The encoder network.
    pub encoder: NetworkSpec,
    /// The decoder network.
    pub decoder: NetworkSpec,
    /// Always [`PRECISION_BITS`]: each table's frequencies plus escape sum to 65536.
    pub precision_bits: u32,
    /// The quality levels, 1..=[`MAX_LEVELS`] in strictly ascending quality, each with `C` steps, offsets and
    /// tables. Version 1: exactly one, quality 0, made of its `quantizer` and `entropy.tables`.
    pub levels: Vec<Level>,
    /// Index into `levels` of the level used when none is asked for (version 1: 0).
    pub default_level: usize,
    /// The scale hyperprior (version 2, section 6), if the model has one.
    pub hyper: Option<Hyper>,
    /// Informational metrics (not hashed, not validated); `null` when absent.
    pub metrics: Value,
    /// The hash the manifest claims, `sha256:<hex>` in the JSON.
    pub hash: [u8; 32],
}

/// What is read of a manifest before its version is known: the version itself, and which version's fields it
/// has, so that a version that does not match the rest of the file is named as the problem.
#[derive(Deserialize)]
struct Probe {
    #[serde(default, deserialize_with = "present")]
    bundle_version: Option<Value>,
    latent_dim: Option<IgnoredAny>,
    quantizer: Option<IgnoredAny>,
    levels: Option<IgnoredAny>,
}

/// Where a manifest's typed parts are read from: its JSON tree (errors name the field and quote the value)
/// or its text (no tree is built; errors are plain, for the fast path of [`Manifest::from_json`]).
trait Source {
    fn parse<T: serde::de::DeserializeOwned>(&self, ctx: &Ctx<'_>) -> Result<T>;
}

impl Source for Value {
    fn parse<T: serde::de::DeserializeOwned>(&self, ctx: &Ctx<'_>) -> Result<T> {
        ctx.parse(self)
    }
}

/// A manifest's text.
struct Text<'a>(&'a [u8]);

impl Source for Text<'_> {
    fn parse<T: serde::de::DeserializeOwned>(&self, ctx: &Ctx<'_>) -> Result<T> {
        serde_json::from_slice(self.0).map_err(|e| ctx.err("", e))
    }
}

/// `Some(value)` for a present field, even `null` (plain `Option` makes `null` look absent).
fn present<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

impl Manifest {
    /// Parses and validates a manifest of either version, chosen by its `bundle_version`. `bundle` names the
    /// bundle in errors (its folder, or `embedded ...`).
    ///
    /// Every rule of spec/model-bundle.md section 2 (version 1) or 5 (version 2) is checked except the hash,
    /// which needs the network files: the `hash` field must be well-formed here, and [`crate::model::Bundle`]
    /// checks its value. Unknown fields are ignored in both versions.
    pub fn from_json(bytes: &[u8], bundle: &str) -> Result<Manifest> {
        Manifest::parse(bytes, bundle, false)
    }

    /// [`Manifest::from_json`], except that each level's table sets (megabytes of packed tables in a large
    /// model) are decoded and checked the first time they are asked for ([`TableSets::tables`]), so that a
    /// run pays only for the level it codes. For the embedded bundles of a release build, whose every value
    /// the test suite checks.
    pub(crate) fn from_json_deferred(bytes: &[u8], bundle: &str) -> Result<Manifest> {
        Manifest::parse(bytes, bundle, true)
    }

    fn parse(bytes: &[u8], bundle: &str, defer_sets: bool) -> Result<Manifest> {
        let ctx = Ctx { bundle, defer_sets };
        // Fast path: the typed fields straight from the text, without a JSON tree (most of the time of
        // reading a manifest of thousands of tables went to building the tree). Where both succeed they
        // agree (the same types read the same JSON); on any error the tree path below reports it, naming
        // the field and quoting its value.
        if let Ok(m) = Manifest::read(&ctx, &Text(bytes)) {
            return Ok(m);
        }
        let root: Value = serde_json::from_slice(bytes).map_err(|e| Error::Model {
            bundle: bundle.to_string(),
            what: format!("model.json is not valid JSON: {e}"),
        })?;
        if !root.is_object() {
            return Err(Error::Model {
                bundle: bundle.to_string(),
                what: format!("model.json is {}, expected a JSON object", show(&root)),
            });
        }
        Manifest::read(&ctx, &root)
    }

    /// Reads a manifest from `src` (the text, or its JSON tree for messages that quote values).
    fn read(ctx: &Ctx<'_>, src: &impl Source) -> Result<Manifest> {
        // bundle_version first: each version has its own fields. One pass reads it with the shared fields;
        // where those do not parse, the version fields are read alone first, so that a wrong version is
        // named before them.
        let (probe, info) = match src.parse::<info::RawInfo>(ctx) {
            Ok(i) => (i.probe(), Some(i)),
            Err(_) => (src.parse::<Probe>(ctx)?, None),
        };
        let version = probe
            .bundle_version
            .ok_or_else(|| ctx.err("bundle_version", "is missing"))?;
        let v1_fields = probe.latent_dim.is_some() || probe.quantizer.is_some();
        let v2_fields = probe.levels.is_some();
        match version.as_u64() {
            Some(1) if v2_fields && !v1_fields => Err(ctx.err(
                "bundle_version",
                "is 1, but the manifest has the version-2 field `levels` and not the version-1 fields \
                 `latent_dim` and `quantizer` (version 1: spec/model-bundle.md section 2)",
            )),
            Some(1) => info::read(ctx, src, info, BUNDLE_VERSION, v1::body),
            Some(2) if v1_fields && !v2_fields => Err(ctx.err(
                "bundle_version",
                "is 2, but the manifest has the version-1 fields `latent_dim` and `quantizer` and not the \
                 version-2 field `levels` (version 2: spec/model-bundle.md section 5)",
            )),
            Some(2) => info::read(ctx, src, info, BUNDLE_VERSION_2, v2::body),
            _ => Err(ctx.bad(
                "bundle_version",
                &show(&version),
                "1 or 2 (the bundle versions this aez reads)",
            )),
        }
    }

    /// The manifest as pretty JSON, in the shape of its own `bundle_version` (`from_json` reads it back equal).
    pub fn to_json_pretty(&self) -> String {
        let out = if self.bundle_version == BUNDLE_VERSION {
            serde_json::to_string_pretty(&info::Out::new(self, v1::OutBody::new(self)))
        } else {
            serde_json::to_string_pretty(&info::Out::new(self, v2::OutBody::new(self)))
        };
        // Serializing plain data to a String cannot fail.
        out.unwrap_or_default()
    }

    /// The image geometry of a fixed-size model; `None` for an any-size model.
    pub fn geometry(&self) -> Option<Geometry> {
        self.layout.fixed_size().map(|(width, height)| Geometry {
            width,
            height,
            channels: self.layout.image_channels,
        })
    }

    /// The level of quality `quality` and its index in `levels`, if the model has one.
    pub fn level_by_quality(&self, quality: u8) -> Option<(usize, &Level)> {
        self.levels
            .iter()
            .enumerate()
            .find(|(_, l)| l.quality == quality)
    }
}

/// `sha256:<hex>`, the JSON form of a hash.
fn hash_text(h: &[u8; 32]) -> String {
    format!("sha256:{}", hex(h))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses `sha256:<64 lowercase hex digits>` into the 32 hash bytes.
pub fn parse_hash(s: &str) -> Option<[u8; 32]> {
    let hexpart = s.strip_prefix("sha256:")?;
    if hexpart.len() != 64 {
        return None;
    }
    let digits = hexpart.as_bytes();
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let hi = lower_hex_digit(pair[0])?;
        let lo = lower_hex_digit(pair[1])?;
        out[i] = (hi << 4) | lo;
    }
    Some(out)
}

fn lower_hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
