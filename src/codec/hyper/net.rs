//! The hyperprior's two networks as the codec computes them (spec/model-bundle.md sections 6.2 and 6.3):
//! the float hyper-analysis of the encoder, and the integer hyper-synthesis of both sides.

use super::hyper_shape;
use crate::layout::LatentShape;
use crate::model::{AnalysisLayer, Hyper, SynthesisLayer, HYPER_ACT_MAX};

/// The quantized hyper-latent of a quantized latent `q` of `shape` (channel-major): `|q|` padded at the
/// bottom and right to a multiple of the hyper stride by repeating its last row and column, the analysis
/// layers, then rounding half away from zero.
pub(super) fn analysis(hyper: &Hyper, q: &[i32], shape: LatentShape) -> Vec<i32> {
    let r = hyper.stride() as usize;
    let (c, h, w) = (
        shape.channels as usize,
        shape.height as usize,
        shape.width as usize,
    );
    // |q|, padded at the bottom and right to a multiple of r by repeating the last row and column.
    let (ph, pw) = (h.div_ceil(r) * r, w.div_ceil(r) * r);
    let mut a = vec![0f32; c * ph * pw];
    for ch in 0..c {
        for y in 0..ph {
            let src = &q[ch * h * w + y.min(h - 1) * w..][..w];
            let dst = &mut a[ch * ph * pw + y * pw..][..pw];
            for (x, d) in dst.iter_mut().enumerate() {
                *d = src[x.min(w - 1)].unsigned_abs() as f32;
            }
        }
    }
    let (z, _, _) = hyper
        .analysis
        .iter()
        .fold((a, ph, pw), |(a, h, w), l| conv_f32(l, &a, h, w));
    z.iter()
        .map(|&v| crate::quant::quantize_one(v, 1.0, 0.0).unwrap_or(0))
        .collect()
}

/// The table index of every element of a latent of `shape` from the quantized hyper-latent `z` (of
/// [`hyper_shape`]'s length), in exact integer arithmetic.
pub(super) fn synthesis(hyper: &Hyper, z: &[i32], shape: LatentShape) -> Vec<u8> {
    let zs = hyper_shape(hyper, shape);
    let (mut a, mut h, mut w): (Vec<i64>, usize, usize) = (
        z.iter().map(|&v| i64::from(v)).collect(),
        zs.height as usize,
        zs.width as usize,
    );
    let last = hyper.synthesis.len() - 1;
    let top = hyper.scale_tables.len() as i64 - 1;
    for (i, l) in hyper.synthesis.iter().enumerate() {
        if l.upsample {
            a = upsample(&a, l.inputs as usize, h, w);
            h *= 2;
            w *= 2;
        }
        let hi = if i == last { top } else { HYPER_ACT_MAX };
        a = conv_int(l, &a, h, w, hyper.shift, hi);
    }
    // Crop [C, h', w'] to the latent's [C, h, w].
    let (c, lh, lw) = (
        shape.channels as usize,
        shape.height as usize,
        shape.width as usize,
    );
    let mut out = Vec::with_capacity(c * lh * lw);
    for ch in 0..c {
        for y in 0..lh {
            out.extend(a[ch * h * w + y * w..][..lw].iter().map(|&v| v as u8));
        }
    }
    out
}

/// A float convolution, `kernel x kernel` with zero padding `kernel / 2` and the layer's stride, then
/// ReLU if the layer has it: `[inputs, h, w] -> [outputs, h', w']`.
fn conv_f32(l: &AnalysisLayer, a: &[f32], h: usize, w: usize) -> (Vec<f32>, usize, usize) {
    let (k, s) = (l.kernel as usize, l.stride as usize);
    let p = k / 2;
    let oh = (h + 2 * p - k) / s + 1;
    let ow = (w + 2 * p - k) / s + 1;
    let (ni, no) = (l.inputs as usize, l.outputs as usize);
    let mut out = vec![0f32; no * oh * ow];
    for o in 0..no {
        let plane = &mut out[o * oh * ow..][..oh * ow];
        plane.fill(l.bias[o]);
        for i in 0..ni {
            let src = &a[i * h * w..][..h * w];
            for dy in 0..k {
                for dx in 0..k {
                    let wt = l.weights[((o * ni + i) * k + dy) * k + dx];
                    // Output columns whose input column x * s + dx - p lies in 0..w.
                    let x0 = p.saturating_sub(dx).div_ceil(s);
                    let x1 = ((w + p).saturating_sub(dx + 1) / s + 1).min(ow);
                    if x0 >= x1 {
                        continue;
                    }
                    for y in 0..oh {
                        let iy = (y * s + dy) as isize - p as isize;
                        if iy < 0 || iy >= h as isize {
                            continue;
                        }
                        let row = &src[iy as usize * w..][..w];
                        let dst = &mut plane[y * ow + x0..y * ow + x1];
                        let first = x0 * s + dx - p;
                        if s == 1 {
                            for (d, &v) in dst.iter_mut().zip(&row[first..]) {
                                *d += wt * v;
                            }
                        } else {
                            for (d, &v) in dst.iter_mut().zip(row[first..].iter().step_by(s)) {
                                *d += wt * v;
                            }
                        }
                    }
                }
            }
        }
        if l.relu {
            for v in plane.iter_mut() {
                *v = v.max(0.0);
            }
        }
    }
    (out, oh, ow)
}

/// Nearest-neighbour 2x upsampling of `[c, h, w]`.
fn upsample(a: &[i64], c: usize, h: usize, w: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(c * 4 * h * w);
    for ch in 0..c {
        for y in 0..2 * h {
            let row = &a[ch * h * w + (y / 2) * w..][..w];
            for x in 0..2 * w {
                out.push(row[x / 2]);
            }
        }
    }
    out
}

/// An integer 3x3 convolution with zero padding 1 (spec section 6.3): `acc = bias + sum(w * a)` exactly,
/// `v = floor((acc + 2^(shift - 1)) / 2^shift)` (no rounding term for `shift` 0), clamped to `0..=hi`.
/// `|acc| < 2^47` for every valid model and input (`|a| <= 2^15`, `|w| < 2^15`, at most 4096 * 9 terms), so
/// `i64` never overflows.
fn conv_int(l: &SynthesisLayer, a: &[i64], h: usize, w: usize, shift: u32, hi: i64) -> Vec<i64> {
    let (ni, no) = (l.inputs as usize, l.outputs as usize);
    let half = if shift == 0 { 0 } else { 1i64 << (shift - 1) };
    let mut out = vec![0i64; no * h * w];
    for o in 0..no {
        let plane = &mut out[o * h * w..][..h * w];
        plane.fill(i64::from(l.bias[o]));
        for i in 0..ni {
            let src = &a[i * h * w..][..h * w];
            for dy in 0..3 {
                for dx in 0..3 {
                    let wt = i64::from(l.weights[((o * ni + i) * 3 + dy) * 3 + dx]);
                    if wt == 0 {
                        continue;
                    }
                    // Output rows y whose input row y + dy - 1 exists, columns likewise.
                    let y0 = usize::from(dy == 0);
                    let y1 = if dy == 2 { h - 1 } else { h };
                    let x0 = usize::from(dx == 0);
                    let x1 = if dx == 2 { w - 1 } else { w };
                    for y in y0..y1 {
                        let iy = y + dy - 1;
                        let row = &src[iy * w + x0 + dx - 1..][..x1.saturating_sub(x0)];
                        let dst = &mut plane[y * w + x0..][..x1.saturating_sub(x0)];
                        for (d, &v) in dst.iter_mut().zip(row) {
                            *d += wt * v;
                        }
                    }
                }
            }
        }
        for v in plane.iter_mut() {
            *v = ((*v + half) >> shift).clamp(0, hi);
        }
    }
    out
}

