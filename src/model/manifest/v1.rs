//! Version 1 of `model.json` (spec/model-bundle.md section 2): one fixed image size, flat tensors, one
//! quantizer and one entropy table per latent. Read into a [`Manifest`] with one level (quality 0), written
//! back in exactly that shape.

use serde::{Deserialize, Serialize};

use super::check::{Ctx, Int, RawNetwork, RawQuantizer, RawTable};
use super::info::Body;
use super::{
    Geometry, Layout, Level, Manifest, NetworkSpec, Quantizer, Table, MAX_LATENT_DIM, MAX_SIDE,
};
use crate::error::Result;

/// The version-1 fields of a `model.json` as written, before validation; the shared ones are read by
/// [`super::info::read`]. Unknown fields are ignored, as they always were.
#[derive(Deserialize)]
pub(super) struct Raw {
    input: RawInput,
    encoder: RawNetwork,
    decoder: RawNetwork,
    latent_dim: Int,
    quantizer: RawQuantizer,
    entropy: RawEntropy,
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

/// Validates the version-1 fields of a manifest (for [`super::info::read`]).
pub(super) fn body(ctx: &Ctx<'_>, raw: Raw) -> Result<Body> {
    let side = i64::from(MAX_SIDE);
    let width = ctx.int(raw.input.width, "input.width", 1, side)? as u32;
    let height = ctx.int(raw.input.height, "input.height", 1, side)? as u32;
    let channels = ctx.image_channels(raw.input.channels)?;

    let encoder = ctx.network(raw.encoder, "encoder")?;
    let decoder = ctx.network(raw.decoder, "decoder")?;

    let k = ctx.int(raw.latent_dim, "latent_dim", 1, i64::from(MAX_LATENT_DIM))? as usize;
    let quantizer = ctx.quantizer(raw.quantizer, "quantizer", k, "latent_dim")?;
    let precision_bits = ctx.precision(raw.entropy.precision_bits, "entropy.precision_bits")?;
    let tables = ctx.tables(raw.entropy.tables, "entropy.tables", k, "latent_dim")?;

    Ok(Body {
        layout: Layout::dense(width, height, channels, k as u32),
        encoder,
        decoder,
        precision_bits,
        levels: vec![Level {
            quality: 0,
            quantizer,
            tables,
            sets: None,
        }],
        default_level: 0,
        hyper: None,
    })
}

/// The version-1 fields of a manifest, for [`Manifest::to_json_pretty`].
#[derive(Serialize)]
pub(super) struct OutBody<'a> {
    input: Geometry,
    encoder: &'a NetworkSpec,
    decoder: &'a NetworkSpec,
    latent_dim: u32,
    quantizer: Option<&'a Quantizer>,
    entropy: OutEntropy<'a>,
}

#[derive(Serialize)]
struct OutEntropy<'a> {
    precision_bits: u32,
    tables: &'a [Table],
}

impl<'a> OutBody<'a> {
    /// The version-1 form of `m`: its geometry (0x0 for a hand-built any-size one) and its default level.
    pub(super) fn new(m: &'a Manifest) -> OutBody<'a> {
        let level = m.levels.get(m.default_level);
        OutBody {
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
        }
    }
}
