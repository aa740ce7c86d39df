//! Version 1 of `model.json` (spec/model-bundle.md section 2): one fixed image size, flat tensors, one
//! quantizer and one entropy table per latent. Read into a [`Manifest`] with one level (quality 0), written
//! back in exactly that shape.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::check::{Ctx, Int, RawNetwork, RawQuantizer, RawTable};
use super::{
    hash_text, Geometry, Layout, Level, Manifest, NetworkSpec, Quantizer, Table, BUNDLE_VERSION,
    MAX_LATENT_DIM, MAX_SIDE,
};
use crate::error::Result;

/// A version-1 `model.json` as written, before validation. Unknown fields are ignored, as they always were.
#[derive(Deserialize)]
struct Raw {
    name: String,
    description: Option<String>,
    architecture: Option<String>,
    latent_activation: Option<String>,
    dataset: Option<String>,
    input: RawInput,
    encoder: RawNetwork,
    decoder: RawNetwork,
    latent_dim: Int,
    quantizer: RawQuantizer,
    entropy: RawEntropy,
    metrics: Option<Value>,
    hash: String,
}

#[derive(Deserialize)]
struct RawInput {
    width: Int,
    height: Int,
    channels: Int,
}

#[derive(Deserialize)]
struct RawEntropy {
    precision_bits: Int,
    tables: Vec<RawTable>,
}

/// Reads and validates a version-1 manifest (its `bundle_version` already checked).
pub(super) fn read(ctx: &Ctx<'_>, root: &Value) -> Result<Manifest> {
    let raw: Raw = ctx.parse(root)?;
    let name = ctx.name(raw.name)?;

    let side = i64::from(MAX_SIDE);
    let width = ctx.int(raw.input.width, "input.width", 1, side)? as u32;
    let height = ctx.int(raw.input.height, "input.height", 1, side)? as u32;
    let channels = match raw.input.channels.0 {
        c @ (1 | 3) => c as u8,
        c => return Err(ctx.bad("input.channels", &c.to_string(), "1 (gray) or 3 (RGB)")),
    };

    let encoder = ctx.network(raw.encoder, "encoder")?;
    let decoder = ctx.network(raw.decoder, "decoder")?;

    let k = ctx.int(raw.latent_dim, "latent_dim", 1, i64::from(MAX_LATENT_DIM))? as usize;
    let quantizer = ctx.quantizer(raw.quantizer, "quantizer", k, "latent_dim")?;
    let precision_bits = ctx.precision(raw.entropy.precision_bits, "entropy.precision_bits")?;
    let tables = ctx.tables(raw.entropy.tables, "entropy.tables", k, "latent_dim")?;
    let hash = ctx.hash(&raw.hash)?;

    Ok(Manifest {
        bundle_version: BUNDLE_VERSION,
        name,
        description: raw.description.unwrap_or_default(),
        architecture: raw.architecture.unwrap_or_default(),
        latent_activation: raw.latent_activation.unwrap_or_default(),
        dataset: raw.dataset.unwrap_or_default(),
        layout: Layout::dense(width, height, channels, k as u32),
        encoder,
        decoder,
        precision_bits,
        levels: vec![Level {
            quality: 0,
            quantizer,
            tables,
        }],
        default_level: 0,
        metrics: raw.metrics.unwrap_or(Value::Null),
        hash,
    })
}

/// A manifest in the version-1 shape, for [`Manifest::to_json_pretty`].
#[derive(Serialize)]
pub(super) struct Out<'a> {
    bundle_version: u32,
    name: &'a str,
    description: &'a str,
    architecture: &'a str,
    latent_activation: &'a str,
    dataset: &'a str,
    input: Geometry,
    encoder: &'a NetworkSpec,
    decoder: &'a NetworkSpec,
    latent_dim: u32,
    quantizer: Option<&'a Quantizer>,
    entropy: OutEntropy<'a>,
    metrics: &'a Value,
    hash: String,
}

#[derive(Serialize)]
struct OutEntropy<'a> {
    precision_bits: u32,
    tables: &'a [Table],
}

impl<'a> Out<'a> {
    /// The version-1 form of `m`: its geometry (0x0 for a hand-built any-size one) and its default level.
    pub(super) fn new(m: &'a Manifest) -> Out<'a> {
        let level = m.levels.get(m.default_level);
        Out {
            bundle_version: m.bundle_version,
            name: &m.name,
            description: &m.description,
            architecture: &m.architecture,
            latent_activation: &m.latent_activation,
            dataset: &m.dataset,
            input: m.geometry().unwrap_or(Geometry {
                width: 0,
                height: 0,
                channels: m.layout.image_channels,
            }),
            encoder: &m.encoder,
            decoder: &m.decoder,
            latent_dim: m.layout.channels,
            quantizer: level.map(|l| &l.quantizer),
            entropy: OutEntropy {
                precision_bits: m.precision_bits,
                tables: level.map_or(&[], |l| &l.tables),
            },
            metrics: &m.metrics,
            hash: hash_text(&m.hash),
        }
    }
}
