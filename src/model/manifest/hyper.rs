//! The `hyper` section of a version-2 manifest (spec/model-bundle.md section 6): a scale hyperprior whose
//! hyper-analysis (float, encoder side) and integer hyper-synthesis (decoder side, exact integers) live in
//! the manifest, with the scale tables and each level's hyper-latent tables.

use serde::{Deserialize, Serialize};

use super::check::{join, Ctx, Int, RawTable};
use super::packed::{ser_packed, Floats, Ints};
use super::{Table, MAX_LATENT_DIM};
use crate::error::Result;

/// Most layers of each of the two hyper networks.
pub const MAX_HYPER_LAYERS: usize = 8;
/// Most scale tables.
pub const MAX_SCALE_TABLES: usize = 256;
/// Largest `synthesis.shift`.
pub const MAX_HYPER_SHIFT: u32 = 24;
/// Largest hidden activation of the integer hyper-synthesis (activations are clamped to `0..=ACT_MAX`).
pub const HYPER_ACT_MAX: i64 = 255;
/// Largest `|weight|` of the integer hyper-synthesis (int16 without -32768).
pub const HYPER_WEIGHT_MAX: i64 = 32767;
/// Largest kernel side of a hyper-analysis layer.
pub const MAX_ANALYSIS_KERNEL: u32 = 7;

/// One float convolution of the hyper-analysis: `kernel x kernel`, zero padding `kernel / 2`, `stride` 1
/// or 2, then ReLU when `relu`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalysisLayer {
    /// Odd, 1..=7.
    pub kernel: u32,
    /// 1 or 2.
    pub stride: u32,
    /// Input channels.
    pub inputs: u32,
    /// Output channels.
    pub outputs: u32,
    /// ReLU after the convolution.
    pub relu: bool,
    /// `[outputs, inputs, kernel, kernel]`, row-major.
    #[serde(serialize_with = "ser_packed")]
    pub weights: Vec<f32>,
    /// `[outputs]`.
    #[serde(serialize_with = "ser_packed")]
    pub bias: Vec<f32>,
}

/// One integer 3x3 convolution of the hyper-synthesis (zero padding 1), after a 2x nearest-neighbour
/// upsampling when `upsample`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SynthesisLayer {
    /// Double both sides first.
    pub upsample: bool,
    /// Input channels.
    pub inputs: u32,
    /// Output channels.
    pub outputs: u32,
    /// `[outputs, inputs, 3, 3]`, row-major, each in `-32767..=32767`.
    #[serde(serialize_with = "ser_packed")]
    pub weights: Vec<i16>,
    /// `[outputs]`.
    #[serde(serialize_with = "ser_packed")]
    pub bias: Vec<i32>,
}

/// A validated `hyper` section.
#[derive(Debug, Clone, PartialEq)]
pub struct Hyper {
    /// Channels `Z` of the hyper-latent.
    pub channels: u32,
    /// The float hyper-analysis, `|q| -> z`.
    pub analysis: Vec<AnalysisLayer>,
    /// Fixed-point bits of the integer weights and biases.
    pub shift: u32,
    /// The integer hyper-synthesis, `z_hat -> table index`.
    pub synthesis: Vec<SynthesisLayer>,
    /// The table of each scale index.
    pub scale_tables: Vec<Table>,
    /// Per quality level, one table per hyper-latent channel.
    pub level_tables: Vec<Vec<Table>>,
}

impl Hyper {
    /// The hyper-latent's stride over the latent: the product of the analysis strides (a power of two, the
    /// synthesis's upsampling factor too).
    pub fn stride(&self) -> u32 {
        self.analysis.iter().map(|l| l.stride).product()
    }
}

#[derive(Deserialize)]
pub(super) struct RawHyper {
    channels: Int,
    analysis: Vec<RawAnalysis>,
    synthesis: RawSynthesis,
    scale_tables: Vec<RawTable>,
    levels: Vec<RawHyperLevel>,
}

#[derive(Deserialize)]
struct RawAnalysis {
    kernel: Int,
    stride: Int,
    inputs: Int,
    outputs: Int,
    relu: bool,
    weights: Floats,
    bias: Floats,
}

#[derive(Deserialize)]
struct RawSynthesis {
    shift: Int,
    layers: Vec<RawSynthesisLayer>,
}

#[derive(Deserialize)]
struct RawSynthesisLayer {
    upsample: bool,
    inputs: Int,
    outputs: Int,
    weights: Ints<2>,
    bias: Ints<4>,
}

#[derive(Deserialize)]
struct RawHyperLevel {
    tables: Vec<RawTable>,
}

/// Checks `len` entries at `field` against `want`.
fn count(ctx: &Ctx<'_>, len: usize, field: &str, want: usize, why: &str) -> Result<()> {
    if len == want {
        Ok(())
    } else {
        Err(ctx.err(
            field,
            format_args!("has {len} entries, expected {want} ({why})"),
        ))
    }
}

/// `n` layers at `field`: 1..=[`MAX_HYPER_LAYERS`].
fn layer_count(ctx: &Ctx<'_>, n: usize, field: &str) -> Result<usize> {
    if n == 0 || n > MAX_HYPER_LAYERS {
        return Err(ctx.err(
            field,
            format_args!("has {n} layers, expected 1..={MAX_HYPER_LAYERS}"),
        ));
    }
    Ok(n)
}

/// A layer's `inputs` (equal to `prev`: `first`, or the previous layer's outputs) and `outputs`, with
/// `lens = (weights, bias)` entries: `outputs * inputs * per` weights (`per_why` says so) and `outputs`
/// biases.
fn layer_shape(
    ctx: &Ctx<'_>,
    at: &str,
    (inputs, outputs): (Int, Int),
    prev: u32,
    first: &str,
    (weights, bias): (usize, usize),
    (per, per_why): (usize, &str),
) -> Result<(u32, u32)> {
    let max_ch = i64::from(MAX_LATENT_DIM);
    let inputs = ctx.int(inputs, &join(at, "inputs"), 1, max_ch)? as u32;
    if inputs != prev {
        return Err(ctx.bad(
            &join(at, "inputs"),
            &inputs.to_string(),
            &format!("{prev} ({first}, or the previous layer's outputs)"),
        ));
    }
    let outputs = ctx.int(outputs, &join(at, "outputs"), 1, max_ch)? as u32;
    let want = outputs as usize * inputs as usize * per;
    count(ctx, weights, &join(at, "weights"), want, per_why)?;
    count(ctx, bias, &join(at, "bias"), outputs as usize, "outputs")?;
    Ok((inputs, outputs))
}

/// Validates `hyper` for a model of `c` latent channels and `levels` quality levels.
pub(super) fn hyper(ctx: &Ctx<'_>, raw: RawHyper, c: u32, levels: usize) -> Result<Hyper> {
    let max_ch = i64::from(MAX_LATENT_DIM);
    let z = ctx.int(raw.channels, "hyper.channels", 1, max_ch)? as u32;

    let n = layer_count(ctx, raw.analysis.len(), "hyper.analysis")?;
    let mut analysis = Vec::with_capacity(n);
    let mut prev = c;
    for (i, l) in raw.analysis.into_iter().enumerate() {
        let at = format!("hyper.analysis[{i}]");
        let kernel = ctx.int(
            l.kernel,
            &join(&at, "kernel"),
            1,
            i64::from(MAX_ANALYSIS_KERNEL),
        )? as u32;
        if kernel.is_multiple_of(2) {
            return Err(ctx.bad(&join(&at, "kernel"), &kernel.to_string(), "odd"));
        }
        let stride = ctx.int(l.stride, &join(&at, "stride"), 1, 2)? as u32;
        let k = kernel as usize;
        let (inputs, outputs) = layer_shape(
            ctx,
            &at,
            (l.inputs, l.outputs),
            prev,
            "the latent's channels",
            (l.weights.0.len(), l.bias.0.len()),
            (k * k, "outputs * inputs * kernel * kernel"),
        )?;
        // A packed string can hold any binary32, JSON numbers only finite ones: both must be finite.
        for (name, values) in [("weights", &l.weights.0), ("bias", &l.bias.0)] {
            if let Some(j) = values.iter().position(|v| !v.is_finite()) {
                return Err(ctx.bad(
                    &format!("{at}.{name}[{j}]"),
                    &values[j].to_string(),
                    "a finite number",
                ));
            }
        }
        analysis.push(AnalysisLayer {
            kernel,
            stride,
            inputs,
            outputs,
            relu: l.relu,
            weights: l.weights.0,
            bias: l.bias.0,
        });
        prev = outputs;
    }
    if prev != z {
        return Err(ctx.bad(
            &format!("hyper.analysis[{}].outputs", n - 1),
            &prev.to_string(),
            &format!("hyper.channels = {z}"),
        ));
    }

    let shift = ctx.int(
        raw.synthesis.shift,
        "hyper.synthesis.shift",
        0,
        i64::from(MAX_HYPER_SHIFT),
    )? as u32;
    let n = layer_count(ctx, raw.synthesis.layers.len(), "hyper.synthesis.layers")?;
    let mut synthesis = Vec::with_capacity(n);
    let mut prev = z;
    for (i, l) in raw.synthesis.layers.into_iter().enumerate() {
        let at = format!("hyper.synthesis.layers[{i}]");
        let (inputs, outputs) = layer_shape(
            ctx,
            &at,
            (l.inputs, l.outputs),
            prev,
            "hyper.channels",
            (l.weights.0.len(), l.bias.0.len()),
            (9, "outputs * inputs * 3 * 3"),
        )?;
        let mut weights = Vec::with_capacity(l.weights.0.len());
        for (j, &w) in l.weights.0.iter().enumerate() {
            if !(-HYPER_WEIGHT_MAX..=HYPER_WEIGHT_MAX).contains(&w) {
                return Err(ctx.bad(
                    &format!("{at}.weights[{j}]"),
                    &w.to_string(),
                    &format!("an integer in -{HYPER_WEIGHT_MAX}..={HYPER_WEIGHT_MAX}"),
                ));
            }
            weights.push(w as i16);
        }
        let mut bias = Vec::with_capacity(l.bias.0.len());
        for (j, &b) in l.bias.0.iter().enumerate() {
            let b32 = i32::try_from(b).map_err(|_| {
                ctx.bad(
                    &format!("{at}.bias[{j}]"),
                    &b.to_string(),
                    "an integer in -2147483648..=2147483647",
                )
            })?;
            bias.push(b32);
        }
        synthesis.push(SynthesisLayer {
            upsample: l.upsample,
            inputs,
            outputs,
            weights,
            bias,
        });
        prev = outputs;
    }
    if prev != c {
        return Err(ctx.bad(
            &format!("hyper.synthesis.layers[{}].outputs", n - 1),
            &prev.to_string(),
            &format!("latent.channels = {c}"),
        ));
    }
    let ups = synthesis.iter().filter(|l| l.upsample).count() as u32;
    let stride: u32 = analysis.iter().map(|l| l.stride).product();
    if 1u32 << ups != stride {
        return Err(ctx.err(
            "hyper.synthesis.layers",
            format_args!(
                "upsample {ups} times (a factor of {}), but the analysis strides multiply to {stride}",
                1u32 << ups
            ),
        ));
    }

    let s = raw.scale_tables.len();
    if s == 0 || s > MAX_SCALE_TABLES {
        return Err(ctx.err(
            "hyper.scale_tables",
            format_args!("has {s} tables, expected 1..={MAX_SCALE_TABLES}"),
        ));
    }
    let scale_tables = ctx.tables(raw.scale_tables, "hyper.scale_tables", s, "its own count")?;
    count(
        ctx,
        raw.levels.len(),
        "hyper.levels",
        levels,
        "one per entry of levels",
    )?;
    let mut level_tables = Vec::with_capacity(levels);
    for (i, l) in raw.levels.into_iter().enumerate() {
        level_tables.push(ctx.tables(
            l.tables,
            &format!("hyper.levels[{i}].tables"),
            z as usize,
            "hyper.channels",
        )?);
    }
    Ok(Hyper {
        channels: z,
        analysis,
        shift,
        synthesis,
        scale_tables,
        level_tables,
    })
}

/// `hyper` as written, for [`super::Manifest::to_json_pretty`].
#[derive(Serialize)]
pub(super) struct OutHyper<'a> {
    channels: u32,
    analysis: &'a [AnalysisLayer],
    synthesis: OutSynthesis<'a>,
    scale_tables: &'a [Table],
    levels: Vec<OutHyperLevel<'a>>,
}

#[derive(Serialize)]
struct OutSynthesis<'a> {
    shift: u32,
    layers: &'a [SynthesisLayer],
}

#[derive(Serialize)]
struct OutHyperLevel<'a> {
    tables: &'a [Table],
}

impl<'a> OutHyper<'a> {
    pub(super) fn new(h: &'a Hyper) -> OutHyper<'a> {
        OutHyper {
            channels: h.channels,
            analysis: &h.analysis,
            synthesis: OutSynthesis {
                shift: h.shift,
                layers: &h.synthesis,
            },
            scale_tables: &h.scale_tables,
            levels: h
                .level_tables
                .iter()
                .map(|t| OutHyperLevel { tables: t })
                .collect(),
        }
    }
}
