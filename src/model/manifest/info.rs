//! The top-level fields both manifest versions share: the informational ones (`name`, `description`,
//! `architecture`, `latent_activation`, `dataset`, `metrics`, `hash`). Each version reads, checks and writes
//! its own fields ([`Body`], [`Out`]'s `body`) between them.

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::check::Ctx;
use super::{hash_text, Layout, Level, Manifest, NetworkSpec};
use crate::error::Result;

/// The shared fields as written, before validation. They are read from the whole manifest apart from the
/// version's own fields (not through `#[serde(flatten)]`, which would lose their paths in errors), in the
/// same pass as the fields that tell the version ([`super::Probe`]): a pass over a large manifest's text
/// is milliseconds.
#[derive(Deserialize)]
pub(super) struct RawInfo {
    name: String,
    description: Option<String>,
    architecture: Option<String>,
    latent_activation: Option<String>,
    dataset: Option<String>,
    metrics: Option<Value>,
    hash: String,
    #[serde(default, deserialize_with = "super::present")]
    bundle_version: Option<Value>,
    latent_dim: Option<IgnoredAny>,
    quantizer: Option<IgnoredAny>,
    levels: Option<IgnoredAny>,
}

impl RawInfo {
    /// The version fields read with the shared ones.
    pub(super) fn probe(&self) -> super::Probe {
        super::Probe {
            bundle_version: self.bundle_version.clone(),
            latent_dim: self.latent_dim,
            quantizer: self.quantizer,
            levels: self.levels,
        }
    }
}

/// The fields of a [`Manifest`] that a version reads from its own fields.
pub(super) struct Body {
    pub(super) layout: Layout,
    pub(super) encoder: NetworkSpec,
    pub(super) decoder: NetworkSpec,
    pub(super) precision_bits: u32,
    pub(super) levels: Vec<Level>,
    pub(super) default_level: usize,
    pub(super) hyper: Option<super::Hyper>,
}

/// Reads and validates a manifest of version `bundle_version` (already checked): the shared fields, and the
/// version's own fields `R`, which `body` validates. The shared fields are parsed first (of a missing or
/// ill-typed shared field and version field, the shared one is named); `name` is checked first, `hash` last.
pub(super) fn read<R: DeserializeOwned>(
    ctx: &Ctx<'_>,
    src: &impl super::Source,
    info: Option<RawInfo>,
    bundle_version: u32,
    body: impl FnOnce(&Ctx<'_>, R) -> Result<Body>,
) -> Result<Manifest> {
    let info: RawInfo = match info {
        Some(i) => i,
        None => src.parse(ctx)?,
    };
    let raw: R = src.parse(ctx)?;
    let name = ctx.name(info.name)?;
    let body = body(ctx, raw)?;
    let hash = ctx.hash(&info.hash)?;
    Ok(Manifest {
        bundle_version,
        name,
        description: info.description.unwrap_or_default(),
        architecture: info.architecture.unwrap_or_default(),
        latent_activation: info.latent_activation.unwrap_or_default(),
        dataset: info.dataset.unwrap_or_default(),
        layout: body.layout,
        encoder: body.encoder,
        decoder: body.decoder,
        precision_bits: body.precision_bits,
        levels: body.levels,
        default_level: body.default_level,
        hyper: body.hyper,
        metrics: info.metrics.unwrap_or(Value::Null),
        hash,
    })
}

/// A manifest for [`Manifest::to_json_pretty`]: the shared fields, with a version's own (`body`) in between.
#[derive(Serialize)]
pub(super) struct Out<'a, B> {
    bundle_version: u32,
    name: &'a str,
    description: &'a str,
    architecture: &'a str,
    latent_activation: &'a str,
    dataset: &'a str,
    #[serde(flatten)]
    body: B,
    metrics: &'a Value,
    hash: String,
}

impl<'a, B> Out<'a, B> {
    /// `m` in the shape whose own fields are `body`.
    pub(super) fn new(m: &'a Manifest, body: B) -> Out<'a, B> {
        Out {
            bundle_version: m.bundle_version,
            name: &m.name,
            description: &m.description,
            architecture: &m.architecture,
            latent_activation: &m.latent_activation,
            dataset: &m.dataset,
            body,
            metrics: &m.metrics,
            hash: hash_text(&m.hash),
        }
    }
}
