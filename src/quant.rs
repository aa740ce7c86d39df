//! Latents <-> integer symbols, exactly as `spec/model-bundle.md` section 3 says.
//!
//! Quantize (encoder side), for element `i` of channel `d` of a latent laid out as [`LatentShape`] says:
//! `q = round((z - offset[d]) / step[d])`, rounding half away from zero, clamped
//! to `-32768..=32767`; NaN is an error. Dequantize (decoder side): `(q as f32) * step[d] + offset[d]`, one
//! f32 multiply then one f32 add (Rust never fuses them into an FMA on its own), so every machine gets the
//! same latent bits.

use crate::error::{Error, Result};
use crate::layout::LatentShape;
use crate::model::Quantizer;

fn check(len: usize, quantizer: &Quantizer, shape: LatentShape, what: &'static str) -> Result<()> {
    let c = shape.channels as usize;
    if shape.is_empty()
        || !len.is_multiple_of(shape.len())
        || quantizer.step.len() != c
        || quantizer.offset.len() != c
    {
        return Err(Error::InvalidArgument {
            what,
            value: len.to_string(),
            expected: format!(
                "a multiple of {} (latents of {shape}, with {c} quantizer steps)",
                shape.len()
            ),
        });
    }
    Ok(())
}

/// Quantizes `n = latents.len() / shape.len()` images' latents, each of `shape` (channel-major); element
/// `i` of an image uses its channel's step and offset.
pub fn quantize(latents: &[f32], quantizer: &Quantizer, shape: LatentShape) -> Result<Vec<i32>> {
    check(latents.len(), quantizer, shape, "latent count")?;
    let per = shape.len();
    latents
        .iter()
        .enumerate()
        .map(|(i, &z)| {
            let d = shape.channel_of(i % per);
            quantize_one(z, quantizer.step[d], quantizer.offset[d]).ok_or_else(|| {
                Error::InvalidArgument {
                    what: "latent value",
                    value: format!("NaN (image {}, dimension {d})", i / per),
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

/// Dequantizes `q` (images' latents of `shape`, channel-major) into latents.
pub fn dequantize(q: &[i32], quantizer: &Quantizer, shape: LatentShape) -> Result<Vec<f32>> {
    check(q.len(), quantizer, shape, "quantized value count")?;
    let per = shape.len();
    Ok(q.iter()
        .enumerate()
        .map(|(i, &v)| {
            let d = shape.channel_of(i % per);
            dequantize_one(v, quantizer.step[d], quantizer.offset[d])
        })
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

    fn k(q: &Quantizer) -> LatentShape {
        LatentShape {
            channels: q.step.len() as u32,
            height: 1,
            width: 1,
        }
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
            quantize(&z, &q, k(&q)).unwrap(),
            vec![1, -1, 2, -2, 0, 32767, -32768, 32767, -32768, 0]
        );
    }

    #[test]
    fn nan_is_an_error_naming_the_place() {
        let q = qz(vec![1.0, 1.0], vec![0.0, 0.0]);
        let e = quantize(&[0.0, 1.0, 2.0, f32::NAN], &q, k(&q))
            .unwrap_err()
            .to_string();
        assert!(e.contains("image 1, dimension 1"), "{e}");
    }

    #[test]
    fn offset_then_step() {
        let q = qz(vec![0.1, 2.0], vec![1.0, -3.0]);
        assert_eq!(
            quantize(&[1.26, -3.0, 0.94, 1.0], &q, k(&q)).unwrap(),
            vec![3, 0, -1, 2]
        );
        let z = dequantize(&[3, 0, -1, 2], &q, k(&q)).unwrap();
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
        let z = dequantize(&sym, &q, k(&q)).unwrap();
        assert_eq!(quantize(&z, &q, k(&q)).unwrap(), sym);
    }

    #[test]
    fn channel_major_latents_use_their_channels_step() {
        let q = qz(vec![1.0, 10.0], vec![0.0, 0.0]);
        let shape = LatentShape {
            channels: 2,
            height: 1,
            width: 3,
        };
        let z = [1.0, 2.0, 3.0, 10.0, 20.0, 30.0];
        assert_eq!(quantize(&z, &q, shape).unwrap(), vec![1, 2, 3, 1, 2, 3]);
        assert_eq!(
            dequantize(&[1, 2, 3, 1, 2, 3], &q, shape).unwrap(),
            z.to_vec()
        );
    }

    #[test]
    fn length_mismatch_is_an_error() {
        let q = qz(vec![1.0, 1.0], vec![0.0, 0.0]);
        assert!(quantize(&[1.0, 2.0, 3.0], &q, k(&q)).is_err());
        assert!(dequantize(&[1], &q, k(&q)).is_err());
    }
}
