//! Latents <-> integer symbols, exactly as `spec/model-bundle.md` section 3 says.
//!
//! Quantize (encoder side): `q = round((z - offset[d]) / step[d])`, rounding half away from zero, clamped
//! to `-32768..=32767`; NaN is an error. Dequantize (decoder side): `(q as f32) * step[d] + offset[d]`, one
//! f32 multiply then one f32 add (Rust never fuses them into an FMA on its own), so every machine gets the
//! same latent bits.

use crate::error::{Error, Result};
use crate::model::Quantizer;

/// Quantizes `n = latents.len() / K` images' latents (row-major, `K = quantizer.step.len()` per image).
pub fn quantize(latents: &[f32], quantizer: &Quantizer) -> Result<Vec<i32>> {
    let k = quantizer.step.len();
    if k == 0 || !latents.len().is_multiple_of(k) || quantizer.offset.len() != k {
        return Err(Error::InvalidArgument {
            what: "latent count",
            value: latents.len().to_string(),
            expected: format!("a multiple of the latent dimension {k}"),
        });
    }
    latents
        .iter()
        .enumerate()
        .map(|(i, &z)| {
            let d = i % k;
            quantize_one(z, quantizer.step[d], quantizer.offset[d]).ok_or_else(|| {
                Error::InvalidArgument {
                    what: "latent value",
                    value: format!("NaN (image {}, dimension {d})", i / k),
                    expected: "a number: the encoder network produced NaN".into(),
                }
            })
        })
        .collect()
}

/// One value: `None` for NaN.
pub fn quantize_one(z: f32, step: f32, offset: f32) -> Option<i32> {
    let x = (z - offset) / step;
    if x.is_nan() {
        return None;
    }
    // f32::round rounds half away from zero; clamp also handles +-inf.
    Some(x.round().clamp(-32768.0, 32767.0) as i32)
}

/// Dequantizes `q` (row-major, `K` per image) into latents.
pub fn dequantize(q: &[i32], quantizer: &Quantizer) -> Result<Vec<f32>> {
    let k = quantizer.step.len();
    if k == 0 || !q.len().is_multiple_of(k) || quantizer.offset.len() != k {
        return Err(Error::InvalidArgument {
            what: "quantized value count",
            value: q.len().to_string(),
            expected: format!("a multiple of the latent dimension {k}"),
        });
    }
    Ok(q.iter()
        .enumerate()
        .map(|(i, &v)| dequantize_one(v, quantizer.step[i % k], quantizer.offset[i % k]))
        .collect())
}

/// One value: `(q as f32) * step + offset`, multiply then add, no FMA.
#[inline]
pub fn dequantize_one(q: i32, step: f32, offset: f32) -> f32 {
    let m = q as f32 * step;
    m + offset
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qz(step: Vec<f32>, offset: Vec<f32>) -> Quantizer {
        Quantizer { step, offset }
    }

    #[test]
    fn rounds_half_away_from_zero_and_clamps() {
        let q = qz(vec![0.5], vec![0.0]);
        let z = [
            0.25,
            -0.25,
            0.75,
            -0.75,
            0.24,
            1e9,
            -1e9,
            f32::INFINITY,
            f32::NEG_INFINITY,
            0.0,
        ];
        assert_eq!(
            quantize(&z, &q).unwrap(),
            vec![1, -1, 2, -2, 0, 32767, -32768, 32767, -32768, 0]
        );
    }

    #[test]
    fn nan_is_an_error_naming_the_place() {
        let q = qz(vec![1.0, 1.0], vec![0.0, 0.0]);
        let e = quantize(&[0.0, 1.0, 2.0, f32::NAN], &q)
            .unwrap_err()
            .to_string();
        assert!(e.contains("image 1, dimension 1"), "{e}");
    }

    #[test]
    fn offset_then_step() {
        let q = qz(vec![0.1, 2.0], vec![1.0, -3.0]);
        assert_eq!(
            quantize(&[1.26, -3.0, 0.94, 1.0], &q).unwrap(),
            vec![3, 0, -1, 2]
        );
        let z = dequantize(&[3, 0, -1, 2], &q).unwrap();
        assert_eq!(z, vec![3.0f32 * 0.1 + 1.0, -3.0, -0.1 + 1.0, 1.0]);
    }

    #[test]
    fn dequantize_is_mul_then_add_not_fma() {
        // Values where a fused multiply-add would round differently from mul-then-add.
        let (q, step, offset) = (3i32, 0.1f32, -0.3f32);
        let unfused = (q as f32 * step) + offset;
        let fused = (q as f32).mul_add(step, offset);
        assert_ne!(
            unfused.to_bits(),
            fused.to_bits(),
            "pick values where FMA differs"
        );
        assert_eq!(dequantize_one(q, step, offset).to_bits(), unfused.to_bits());
    }

    #[test]
    fn quantize_dequantize_round_trip_on_grid() {
        let q = qz(vec![0.37, 1.5, 0.01], vec![0.2, -1.0, 0.0]);
        let sym: Vec<i32> = (-50..50).flat_map(|i| [i, -i * 3, i * 100]).collect();
        let z = dequantize(&sym, &q).unwrap();
        assert_eq!(quantize(&z, &q).unwrap(), sym);
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let q = qz(vec![1.0, 1.0], vec![0.0, 0.0]);
        assert!(quantize(&[1.0, 2.0, 3.0], &q).is_err());
        assert!(dequantize(&[1], &q).is_err());
    }
}
