//! Version 2 of `model.json` (spec/model-bundle.md section 5): image channels and a fixed size or any size
//! (stride, largest side), the tensor layout, latent channels, and 1..=16 quality levels, each with its own
//! per-channel quantizer and tables.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::check::{join, show, Ctx, Int, RawNetwork, RawQuantizer, RawTable};
use super::info::Body;
use super::{
    ImageSize, Layout, Level, Manifest, NetworkSpec, Quantizer, Table, TensorLayout, MAX_ANY_SIDE,
    MAX_LATENT_DIM, MAX_LEVELS, MAX_SIDE, MAX_STRIDE,
};
use crate::error::Result;

/// The version-2 fields of a `model.json` as written, before validation; the shared ones are read by
/// [`super::info::read`]. Unknown fields are ignored, as in version 1.
#[derive(Deserialize)]
pub(super) struct Raw {
    input: RawInput,
    tensor_layout: String,
    latent: RawLatent,
    encoder: RawNetwork,
    decoder: RawNetwork,
    entropy: RawEntropy,
    levels: Vec<RawLevel>,
    default_quality: Int,
    #[serde(default)]
    hyper: Option<super::hyper::RawHyper>,
}

#[derive(Deserialize)]
struct RawInput {
    channels: Int,
    size: RawSize,
}

/// `{"kind": "fixed", "width", "height"}` or `{"kind": "any", "stride", "max_side"}`; which fields belong to
/// which kind is checked in [`size`], so that each error names its field.
#[derive(Deserialize)]
struct RawSize {
    kind: String,
    #[serde(default, deserialize_with = "present")]
    width: Option<Int>,
    #[serde(default, deserialize_with = "present")]
    height: Option<Int>,
    #[serde(default, deserialize_with = "present")]
    stride: Option<Int>,
    #[serde(default, deserialize_with = "present")]
    max_side: Option<Int>,
}

/// `Some` for a present field: `null` is a bad integer, not an absent field.
fn present<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Option<Int>, D::Error> {
    Int::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct RawLatent {
    channels: Int,
}

#[derive(Deserialize)]
struct RawEntropy {
    precision_bits: Int,
}

#[derive(Deserialize)]
struct RawLevel {
    quality: Int,
    quantizer: RawQuantizer,
    tables: Vec<RawTable>,
    #[serde(default)]
    sets: Option<super::sets::RawSets>,
}

/// Validates the version-2 fields of a manifest (for [`super::info::read`]).
pub(super) fn body(ctx: &Ctx<'_>, raw: Raw) -> Result<Body> {
    let image_channels = ctx.image_channels(raw.input.channels)?;
    let size = size(ctx, &raw.input.size)?;
    let tensors = match (raw.tensor_layout.as_str(), size) {
        ("flat", ImageSize::Fixed { .. }) => TensorLayout::Flat,
        ("flat", ImageSize::Any { .. }) => {
            return Err(ctx.bad(
                "tensor_layout",
                "\"flat\"",
                "\"nchw\" for an `any` input size (flat networks take one fixed size)",
            ))
        }
        ("nchw", _) => TensorLayout::Nchw,
        (other, _) => {
            return Err(ctx.bad(
                "tensor_layout",
                &show(&Value::String(other.to_string())),
                "\"flat\" or \"nchw\"",
            ))
        }
    };
    let k = ctx.int(
        raw.latent.channels,
        "latent.channels",
        1,
        i64::from(MAX_LATENT_DIM),
    )? as usize;
    let layout = Layout {
        image_channels,
        size,
        channels: k as u32,
        tensors,
    };

    let encoder = ctx.network(raw.encoder, "encoder")?;
    let decoder = ctx.network(raw.decoder, "decoder")?;
    let precision_bits = ctx.precision(raw.entropy.precision_bits, "entropy.precision_bits")?;

    let n = raw.levels.len();
    if n == 0 || n > MAX_LEVELS {
        return Err(ctx.err(
            "levels",
            format_args!("has {n} entries, expected 1..={MAX_LEVELS}"),
        ));
    }
    let mut levels: Vec<Level> = Vec::with_capacity(n);
    for (i, l) in raw.levels.into_iter().enumerate() {
        let at = format!("levels[{i}]");
        let quality_field = join(&at, "quality");
        let quality = ctx.int(l.quality, &quality_field, 0, 255)? as u8;
        if let Some(prev) = levels.last() {
            if quality <= prev.quality {
                return Err(ctx.bad(
                    &quality_field,
                    &quality.to_string(),
                    &format!(
                        "more than the previous level's {} (qualities are distinct and ascending)",
                        prev.quality
                    ),
                ));
            }
        }
        let quantizer =
            ctx.quantizer(l.quantizer, &join(&at, "quantizer"), k, "latent.channels")?;
        // With a hyperprior the latent's tables are its scale tables (section 6): none per channel.
        let (want, why) = if raw.hyper.is_some() {
            (
                0,
                "none: a model with a hyperprior codes with hyper.scale_tables",
            )
        } else if l.sets.is_some() {
            (0, "none: a level with sets codes with its sets' tables")
        } else {
            (k, "latent.channels")
        };
        let tables = ctx.tables(l.tables, &join(&at, "tables"), want, why)?;
        let sets = match l.sets {
            None => None,
            Some(raw_sets) => {
                let field = join(&at, "sets");
                if tensors != TensorLayout::Flat || raw.hyper.is_some() {
                    return Err(ctx.err(
                        &field,
                        "is given, but table sets are for fixed-size models with flat tensors and no hyperprior",
                    ));
                }
                Some(super::sets::sets(ctx, raw_sets, &field, k)?)
            }
        };
        levels.push(Level {
            quality,
            quantizer,
            tables,
            sets,
        });
    }
    let default_quality = raw.default_quality.0;
    let Some(default_level) = levels
        .iter()
        .position(|l| i128::from(l.quality) == default_quality)
    else {
        let qualities: Vec<String> = levels.iter().map(|l| l.quality.to_string()).collect();
        return Err(ctx.bad(
            "default_quality",
            &default_quality.to_string(),
            &format!(
                "the quality of one of the levels ({})",
                qualities.join(", ")
            ),
        ));
    };

    let hyper = match raw.hyper {
        None => None,
        Some(h) => {
            if !matches!(size, ImageSize::Any { .. }) || tensors != TensorLayout::Nchw {
                return Err(ctx.err(
                    "hyper",
                    "is given, but a hyperprior is for models of any size with nchw tensors",
                ));
            }
            Some(super::hyper::hyper(ctx, h, k as u32, levels.len())?)
        }
    };

    Ok(Body {
        layout,
        encoder,
        decoder,
        precision_bits,
        levels,
        default_level,
        hyper,
    })
}

/// `input.size`: a fixed `width x height` (1..=4096 each), or any size with a power-of-two `stride`
/// (1..=256) and a `max_side` (1..=65535). A field of the other kind is refused, not ignored.
fn size(ctx: &Ctx<'_>, raw: &RawSize) -> Result<ImageSize> {
    let field = |key: &str| join("input.size", key);
    let need = |x: Option<Int>, key: &str| x.ok_or_else(|| ctx.err(&field(key), "is missing"));
    // A size of kind `kind` has only `has`: the first of `others` given is refused.
    let refuse = |kind: &str, has: &str, others: [(Option<Int>, &str); 2]| match others {
        [(Some(_), key), _] | [_, (Some(_), key)] => Err(ctx.err(
            &field(key),
            format_args!("is given, but a size of kind \"{kind}\" has only {has}"),
        )),
        _ => Ok(()),
    };
    match raw.kind.as_str() {
        "fixed" => {
            let others = [(raw.stride, "stride"), (raw.max_side, "max_side")];
            refuse("fixed", "`width` and `height`", others)?;
            let side = i64::from(MAX_SIDE);
            let width = ctx.int(need(raw.width, "width")?, &field("width"), 1, side)? as u32;
            let height = ctx.int(need(raw.height, "height")?, &field("height"), 1, side)? as u32;
            Ok(ImageSize::Fixed { width, height })
        }
        "any" => {
            let others = [(raw.width, "width"), (raw.height, "height")];
            refuse("any", "`stride` and `max_side`", others)?;
            let stride_field = field("stride");
            let stride = need(raw.stride, "stride")?;
            let stride = match ctx.int(stride, &stride_field, 1, i64::from(MAX_STRIDE)) {
                Ok(s) if (s as u32).is_power_of_two() => s as u32,
                _ => {
                    return Err(ctx.bad(
                        &stride_field,
                        &stride.0.to_string(),
                        &format!("a power of two in 1..={MAX_STRIDE}"),
                    ))
                }
            };
            let max_side = need(raw.max_side, "max_side")?;
            let max_side = ctx.int(max_side, &field("max_side"), 1, i64::from(MAX_ANY_SIDE))?;
            Ok(ImageSize::Any {
                stride,
                max_side: max_side as u32,
            })
        }
        other => Err(ctx.bad(
            &field("kind"),
            &show(&Value::String(other.to_string())),
            "\"fixed\" or \"any\"",
        )),
    }
}

/// The version-2 fields of a manifest, for [`Manifest::to_json_pretty`].
#[derive(Serialize)]
pub(super) struct OutBody<'a> {
    input: OutInput,
    tensor_layout: &'static str,
    latent: OutLatent,
    encoder: &'a NetworkSpec,
    decoder: &'a NetworkSpec,
    entropy: OutEntropy,
    levels: Vec<OutLevel<'a>>,
    default_quality: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    hyper: Option<super::hyper::OutHyper<'a>>,
}

#[derive(Serialize)]
struct OutInput {
    channels: u8,
    size: OutSize,
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum OutSize {
    Fixed { width: u32, height: u32 },
    Any { stride: u32, max_side: u32 },
}

#[derive(Serialize)]
struct OutLatent {
    channels: u32,
}

#[derive(Serialize)]
struct OutEntropy {
    precision_bits: u32,
}

#[derive(Serialize)]
struct OutLevel<'a> {
    quality: u8,
    quantizer: &'a Quantizer,
    tables: &'a [Table],
    #[serde(skip_serializing_if = "Option::is_none")]
    sets: Option<&'a super::TableSets>,
}

impl<'a> OutBody<'a> {
    /// The version-2 form of `m`.
    pub(super) fn new(m: &'a Manifest) -> OutBody<'a> {
        let l = &m.layout;
        OutBody {
            input: OutInput {
                channels: l.image_channels,
                size: match l.size {
                    ImageSize::Fixed { width, height } => OutSize::Fixed { width, height },
                    ImageSize::Any { stride, max_side } => OutSize::Any { stride, max_side },
                },
            },
            tensor_layout: l.tensors.name(),
            latent: OutLatent {
                channels: l.channels,
            },
            encoder: &m.encoder,
            decoder: &m.decoder,
            entropy: OutEntropy {
                precision_bits: m.precision_bits,
            },
            levels: m
                .levels
                .iter()
                .map(|lv| OutLevel {
                    quality: lv.quality,
                    quantizer: &lv.quantizer,
                    tables: &lv.tables,
                    sets: lv.sets.as_ref(),
                })
                .collect(),
            default_quality: m.levels.get(m.default_level).map(|lv| lv.quality),
            hyper: m.hyper.as_ref().map(super::hyper::OutHyper::new),
        }
    }
}
