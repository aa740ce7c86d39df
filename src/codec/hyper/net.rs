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
        // Every layer after the first takes the previous one's activations, clamped to 0..=ACT_MAX.
        a = if i > 0 {
            conv_int_small(l, &a, h, w, hyper.shift, hi)
        } else {
            conv_int(l, &a, h, w, hyper.shift, hi)
        };
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

/// The input planes of a `kernel x kernel` convolution with zero padding `p = kernel / 2` and stride `s`
/// (1 or 2), split into its `s * s` phases (rows and columns of the zero-padded plane that are equal mod
/// `s`), each `ph x pw`: tap `(dy, dx)` of every output then reads one contiguous run of one phase.
struct Phases<T> {
    data: Vec<T>,
    s: usize,
    ph: usize,
    pw: usize,
}

impl<T: Copy + Default> Phases<T> {
    /// `a` is `[c, h, w]`; the output is `oh x ow`.
    fn new(
        a: &[T],
        (c, h, w): (usize, usize, usize),
        k: usize,
        s: usize,
        (oh, ow): (usize, usize),
    ) -> Self {
        let p = k / 2;
        let (ph, pw) = (oh + (k - 1) / s, ow + (k - 1) / s);
        let mut data = vec![T::default(); c * s * s * ph * pw];
        for ch in 0..c {
            for ry in 0..s {
                for rx in 0..s {
                    let phase = &mut data[((ch * s + ry) * s + rx) * ph * pw..][..ph * pw];
                    for yy in 0..ph {
                        // Row s * yy + ry of the padded plane is input row s * yy + ry - p.
                        let Some(iy) = (s * yy + ry).checked_sub(p).filter(|&y| y < h) else {
                            continue;
                        };
                        let src = &a[(ch * h + iy) * w..][..w];
                        for (xx, d) in phase[yy * pw..][..pw].iter_mut().enumerate() {
                            if let Some(ix) = (s * xx + rx).checked_sub(p).filter(|&x| x < w) {
                                *d = src[ix];
                            }
                        }
                    }
                }
            }
        }
        Phases { data, s, ph, pw }
    }

    /// The `n` values that tap `(dy, dx)` reads for outputs `0..n` of the wide output (rows `pw` apart)
    /// from input channel `i`.
    #[inline(always)]
    fn tap(&self, i: usize, dy: usize, dx: usize, n: usize) -> &[T] {
        let (s, len) = (self.s, self.ph * self.pw);
        let phase = &self.data[((i * s + dy % s) * s + dx % s) * len..][..len];
        &phase[(dy / s) * self.pw + dx / s..][..n]
    }
}

/// A `kernel x kernel` convolution of `[inputs, h, w]` with zero padding `kernel / 2` and stride `s` (1
/// or 2), as sums of whole shifted phase planes: the output is computed on rows `pw` apart (the phase
/// width; the columns past the output's are discarded), so each tap is one long contiguous loop.
/// `tap(o, i, t, wide, src)` adds tap `t = dy * kernel + dx` of input `i` to output `o`, in the order
/// (input, dy, dx); `finish(plane)` activates an output plane. Returns the output and its size.
#[inline(always)]
fn conv_planes<T: Copy + Default>(
    (ni, no, k, s): (usize, usize, usize, usize),
    a: &[T],
    (h, w): (usize, usize),
    mut tap: impl FnMut(usize, usize, usize, &mut [T], &[T]),
    mut finish: impl FnMut(&mut [T]),
) -> (Vec<T>, usize, usize) {
    let p = k / 2;
    let (oh, ow) = ((h + 2 * p - k) / s + 1, (w + 2 * p - k) / s + 1);
    let phases = Phases::new(a, (ni, h, w), k, s, (oh, ow));
    // Output (y, x) is wide[y * pw + x].
    let n = (oh - 1) * phases.pw + ow;
    let mut wide = vec![T::default(); n];
    let mut out = vec![T::default(); no * oh * ow];
    for o in 0..no {
        for i in 0..ni {
            for dy in 0..k {
                for dx in 0..k {
                    tap(o, i, dy * k + dx, &mut wide, phases.tap(i, dy, dx, n));
                }
            }
        }
        let plane = &mut out[o * oh * ow..][..oh * ow];
        for (y, row) in plane.chunks_exact_mut(ow).enumerate() {
            row.copy_from_slice(&wide[y * phases.pw..][..ow]);
        }
        finish(plane);
    }
    (out, oh, ow)
}

/// A float convolution, `kernel x kernel` with zero padding `kernel / 2` and the layer's stride, then
/// ReLU if the layer has it: `[inputs, h, w] -> [outputs, h', w']`. Each output is its bias plus the taps
/// in the order (input, dy, dx); a tap on the zero padding adds `w * 0`, which changes nothing but the
/// sign of a zero.
fn conv_f32(l: &AnalysisLayer, a: &[f32], h: usize, w: usize) -> (Vec<f32>, usize, usize) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        return simd::conv_f32(l, a, h, w);
    }
    conv_f32_body(l, a, h, w)
}

/// [`conv_f32`] itself, inlined into each of its dispatch targets.
#[inline(always)]
fn conv_f32_body(l: &AnalysisLayer, a: &[f32], h: usize, w: usize) -> (Vec<f32>, usize, usize) {
    let (ni, no, k) = (l.inputs as usize, l.outputs as usize, l.kernel as usize);
    conv_planes(
        (ni, no, k, l.stride as usize),
        a,
        (h, w),
        |o, i, t, wide, src| {
            if i == 0 && t == 0 {
                wide.fill(l.bias[o]);
            }
            let wt = l.weights[(o * ni + i) * k * k + t];
            for (d, &v) in wide.iter_mut().zip(src) {
                *d += wt * v;
            }
        },
        |plane| {
            if l.relu {
                for v in plane.iter_mut() {
                    *v = v.max(0.0);
                }
            }
        },
    )
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
    conv_planes(
        (ni, no, 3, 1),
        a,
        (h, w),
        |o, i, t, wide, src| {
            if i == 0 && t == 0 {
                wide.fill(i64::from(l.bias[o]));
            }
            let wt = i64::from(l.weights[(o * ni + i) * 9 + t]);
            if wt != 0 {
                for (d, &v) in wide.iter_mut().zip(src) {
                    *d += wt * v;
                }
            }
        },
        |plane| {
            for v in plane.iter_mut() {
                *v = activate(*v, shift, hi);
            }
        },
    )
    .0
}

/// An integer layer's output from its accumulator: `floor((acc + 2^(shift - 1)) / 2^shift)` (no rounding
/// term for `shift` 0), clamped to `0..=hi`.
fn activate(acc: i64, shift: u32, hi: i64) -> i64 {
    let half = if shift == 0 { 0 } else { 1i64 << (shift - 1) };
    ((acc + half) >> shift).clamp(0, hi)
}

/// [`conv_int`] for inputs in `0..=HYPER_ACT_MAX` (every layer after the first takes a clamped one): the
/// nine taps of one input channel are summed in `i32` (`|sum| <= 9 * 32767 * 255 < 2^31`: exact) and that
/// sum added to the `i64` accumulator, so that the inner loops run on 16- and 32-bit lanes (the 64-bit
/// multiply-adds of `conv_int` do not vectorize on baseline x86-64). Integer sums in another grouping:
/// the same results.
fn conv_int_small(
    l: &SynthesisLayer,
    a: &[i64],
    h: usize,
    w: usize,
    shift: u32,
    hi: i64,
) -> Vec<i64> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        return simd::conv_int_small(l, a, (h, w), shift, hi);
    }
    conv_int_small_body(l, a, (h, w), shift, hi)
}

/// [`conv_int_small`] itself, inlined into each of its dispatch targets.
#[inline(always)]
fn conv_int_small_body(
    l: &SynthesisLayer,
    a: &[i64],
    (h, w): (usize, usize),
    shift: u32,
    hi: i64,
) -> Vec<i64> {
    let (ni, no) = (l.inputs as usize, l.outputs as usize);
    debug_assert!(a.iter().all(|v| (0..=HYPER_ACT_MAX).contains(v)));
    let a16: Vec<i16> = a.iter().map(|&v| v as i16).collect();
    let phases = Phases::new(&a16, (ni, h, w), 3, 1, (h, w));
    let n = (h - 1) * phases.pw + w;
    let mut acc = vec![0i64; n];
    let mut part = vec![0i32; n];
    let mut out = vec![0i64; no * h * w];
    for o in 0..no {
        acc.fill(i64::from(l.bias[o]));
        for i in 0..ni {
            let taps = &l.weights[(o * ni + i) * 9..][..9];
            if taps.iter().all(|&t| t == 0) {
                continue;
            }
            part.fill(0);
            for (t, &wt) in taps.iter().enumerate() {
                if wt == 0 {
                    continue;
                }
                let wt = i32::from(wt);
                for (d, &v) in part.iter_mut().zip(phases.tap(i, t / 3, t % 3, n)) {
                    *d += wt * i32::from(v);
                }
            }
            for (d, &v) in acc.iter_mut().zip(&part) {
                *d += i64::from(v);
            }
        }
        let plane = &mut out[o * h * w..][..h * w];
        for (y, row) in plane.chunks_exact_mut(w).enumerate() {
            for (d, &v) in row.iter_mut().zip(&acc[y * phases.pw..][..w]) {
                *d = activate(v, shift, hi);
            }
        }
    }
    out
}

/// The hot convolutions compiled for AVX2 as well as for the baseline, chosen at run time by the CPU's
/// features. The same operations on each element in the same order, only more lanes at a time: the integer
/// results are the same integers, and the float ones the same floats (separate multiplies and adds; Rust
/// never fuses them into a multiply-add), so the choice changes no output.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
mod simd {
    use crate::model::{AnalysisLayer, SynthesisLayer};

    pub(super) fn conv_f32(
        l: &AnalysisLayer,
        a: &[f32],
        h: usize,
        w: usize,
    ) -> (Vec<f32>, usize, usize) {
        #[target_feature(enable = "avx2")]
        fn avx2(l: &AnalysisLayer, a: &[f32], h: usize, w: usize) -> (Vec<f32>, usize, usize) {
            super::conv_f32_body(l, a, h, w)
        }
        // SAFETY: called only when the CPU has AVX2 (`is_x86_feature_detected`, the caller).
        unsafe { avx2(l, a, h, w) }
    }

    pub(super) fn conv_int_small(
        l: &SynthesisLayer,
        a: &[i64],
        hw: (usize, usize),
        shift: u32,
        hi: i64,
    ) -> Vec<i64> {
        #[target_feature(enable = "avx2")]
        fn avx2(
            l: &SynthesisLayer,
            a: &[i64],
            hw: (usize, usize),
            shift: u32,
            hi: i64,
        ) -> Vec<i64> {
            super::conv_int_small_body(l, a, hw, shift, hi)
        }
        // SAFETY: called only when the CPU has AVX2 (`is_x86_feature_detected`, the caller).
        unsafe { avx2(l, a, hw, shift, hi) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in `-1..1` (and some exact zeros).
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut x = seed.wrapping_mul(2654435761).wrapping_add(12345);
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                if x.is_multiple_of(7) {
                    0.0
                } else {
                    (x % 20001) as f32 / 10000.0 - 1.0
                }
            })
            .collect()
    }

    /// The row-by-row convolution aez had before (any stride): the reference.
    fn rows_f32(l: &AnalysisLayer, a: &[f32], h: usize, w: usize) -> (Vec<f32>, usize, usize) {
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

    /// The phase-plane form gives the row-by-row form's values exactly, for every kernel size, both
    /// strides and odd shapes, with and without ReLU.
    #[test]
    fn phase_planes_equal_the_row_by_row_convolution() {
        for (k, s, ni, no, h, w, relu) in [
            (1, 1, 2, 3, 1, 1, false),
            (3, 1, 4, 5, 1, 7, true),
            (3, 1, 3, 2, 6, 1, false),
            (5, 1, 2, 4, 9, 5, true),
            (7, 1, 3, 3, 4, 11, false),
            (1, 2, 2, 2, 5, 4, false),
            (3, 2, 2, 3, 1, 1, true),
            (5, 2, 3, 2, 7, 6, false),
            (5, 2, 2, 3, 8, 9, true),
            (7, 2, 2, 2, 2, 13, false),
        ] {
            let l = AnalysisLayer {
                kernel: k as u32,
                stride: s as u32,
                inputs: ni as u32,
                outputs: no as u32,
                relu,
                weights: values(no * ni * k * k, 1),
                bias: values(no, 2),
            };
            let a = values(ni * h * w, 3);
            let (fast, fh, fw) = conv_f32(&l, &a, h, w);
            let (rows, rh, rw) = rows_f32(&l, &a, h, w);
            assert_eq!((fh, fw), (rh, rw));
            assert_eq!(fast, rows, "kernel {k} stride {s}, {ni}->{no}, {h}x{w}");
        }
    }

    /// Where the CPU has AVX2, the convolutions compiled for it give the baseline's values bit for bit
    /// (floats compared as bits), on the shapes of the tests above and a photo-sized plane.
    #[test]
    #[cfg(target_arch = "x86_64")]
    fn the_avx2_convolutions_equal_the_baseline_ones() {
        if !std::arch::is_x86_feature_detected!("avx2") {
            return;
        }
        for (k, s, ni, no, h, w) in [
            (3, 1, 5, 4, 7, 9),
            (5, 2, 3, 6, 13, 17),
            (3, 1, 96, 3, 32, 48),
        ] {
            let l = AnalysisLayer {
                kernel: k as u32,
                stride: s as u32,
                inputs: ni as u32,
                outputs: no as u32,
                relu: true,
                weights: values(no * ni * k * k, 4),
                bias: values(no, 5),
            };
            let a = values(ni * h * w, 6);
            let (base, bh, bw) = conv_f32_body(&l, &a, h, w);
            let (fast, fh, fw) = simd::conv_f32(&l, &a, h, w);
            assert_eq!((bh, bw), (fh, fw));
            let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(
                bits(&base),
                bits(&fast),
                "kernel {k} stride {s}, {ni}->{no}, {h}x{w}"
            );
            let li = SynthesisLayer {
                upsample: false,
                inputs: ni as u32,
                outputs: no as u32,
                weights: values(no * ni * 9, 7)
                    .iter()
                    .map(|v| (v * 32767.0) as i16)
                    .collect(),
                bias: (0..no).map(|o| o as i32 * 4093 - 5000).collect(),
            };
            let ai: Vec<i64> = values(ni * h * w, 8)
                .iter()
                .map(|v| (v.abs() * 255.0) as i64)
                .collect();
            assert_eq!(
                conv_int_small_body(&li, &ai, (h, w), 12, 255),
                simd::conv_int_small(&li, &ai, (h, w), 12, 255)
            );
        }
    }

    /// The 32-bit grouping of `conv_int_small` gives `conv_int`'s results, at the extremes too: every
    /// weight +-32767 and every input 255 (the largest nine-tap sum), and pseudo-random ones, odd shapes.
    #[test]
    fn small_input_convolution_equals_the_64_bit_one() {
        let mut x = 12345u32;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x
        };
        for (ni, no, h, w, shift, hi) in [
            (1, 1, 1, 1, 12, 255),
            (3, 2, 1, 9, 12, 63),
            (48, 5, 4, 6, 12, 255),
            (7, 3, 5, 1, 0, 255),
            (300, 2, 3, 3, 12, 63),
        ] {
            for mode in 0..3 {
                let weights: Vec<i16> = (0..no * ni * 9)
                    .map(|j| match mode {
                        0 => 32767,
                        1 => {
                            if j % 2 == 0 {
                                -32767
                            } else {
                                32767
                            }
                        }
                        _ => ((next() % 65535) as i32 - 32767) as i16,
                    })
                    .collect();
                let l = SynthesisLayer {
                    upsample: false,
                    inputs: ni as u32,
                    outputs: no as u32,
                    weights,
                    bias: (0..no).map(|o| o as i32 * 1000 - 7).collect(),
                };
                let a: Vec<i64> = (0..ni * h * w)
                    .map(|_| {
                        if mode < 2 {
                            255
                        } else {
                            i64::from(next() % 256)
                        }
                    })
                    .collect();
                assert_eq!(
                    conv_int_small(&l, &a, h, w, shift, hi),
                    conv_int(&l, &a, h, w, shift, hi),
                    "{ni}->{no}, {h}x{w}, mode {mode}"
                );
            }
        }
    }
}
