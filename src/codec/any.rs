//! One image of any size through a model's latent layout, as band payloads: pad, analyse (tile by tile),
//! quantize with a quality level's quantizer, and range-code the latent in bands of whole latent rows;
//! the alpha plane, when there is one, as one lossless zstd frame per band of pixel rows. And back.

use super::pixels::Prepared;
use super::tiles::{analyse, synthesise, Plan};
use crate::entropy::{
    decode_indexed, decode_latents, decode_with_sets, encode_indexed, encode_latents,
    encode_with_sets, Coder, DecodeError, SetTables, SymbolTable,
};
use crate::error::{Error, Result};
use crate::layout::LatentShape;
use crate::model::{Model, Quantizer};
use crate::quant;

/// zstd level of alpha planes (lossless; alpha planes are mostly flat).
const ALPHA_LEVEL: i32 = 19;

/// One quality level, ready for coding.
#[derive(Debug, Clone)]
pub struct LevelCoding {
    /// The level's quality number.
    pub quality: u8,
    /// Its per-channel quantizer.
    pub quantizer: Quantizer,
    /// Its per-channel tables (none with `sets`).
    pub tables: Vec<SymbolTable>,
    /// Its table sets, if it has them (`model-bundle.md` section 7): each image coded with one of them.
    pub sets: Option<LazySets>,
}

/// A level's table sets: the model's, built on first use ([`Model::set_tables`]).
#[derive(Debug, Clone)]
pub struct LazySets {
    model: Model,
    level: usize,
}

impl LazySets {
    /// The sets of level `level` of `model`'s bundle, if it has them.
    pub fn of(model: &Model, level: usize) -> Option<LazySets> {
        model.bundle().levels().get(level)?.sets.as_ref()?;
        Some(LazySets {
            model: model.clone(),
            level,
        })
    }

    /// The coding tables (built the first time any coder of the model asks).
    pub fn tables(&self) -> Result<&SetTables> {
        self.model.set_tables(self.level)
    }
}

impl LevelCoding {
    /// Codes `count` latents of `shape`, one after the other in `q`, appending the payload to `out`: with
    /// the level's table sets when it has them (a flat model: whole latents), else its per-channel tables.
    pub fn encode(
        &self,
        coder: Coder,
        shape: LatentShape,
        count: usize,
        q: &[i32],
        out: &mut Vec<u8>,
    ) -> Result<()> {
        match &self.sets {
            Some(sets) => encode_with_sets(coder, sets.tables()?, count, q, out),
            None => encode_latents(coder, &self.tables, shape, count, q, out),
        }
    }

    /// Decodes a payload of [`LevelCoding::encode`] into `out`: the outer error is the model's (its sets
    /// cannot be built), the inner one the payload's.
    pub fn decode(
        &self,
        coder: Coder,
        shape: LatentShape,
        count: usize,
        payload: &[u8],
        out: &mut Vec<i32>,
    ) -> Result<std::result::Result<(), DecodeError>> {
        Ok(match &self.sets {
            Some(sets) => decode_with_sets(coder, sets.tables()?, count, payload, out),
            None => decode_latents(coder, &self.tables, shape, count, payload, out),
        })
    }
}

/// Rows `a..b` of every channel of `v`, a channel-major `[C, h, w]` array of `shape`, as `[C, b - a, w]`.
pub(crate) fn rows_of<T: Copy>(v: &[T], shape: LatentShape, (a, b): (u32, u32)) -> Vec<T> {
    let (h, w) = (shape.height as usize, shape.width as usize);
    let mut out = Vec::with_capacity(shape.channels as usize * (b - a) as usize * w);
    for c in 0..shape.channels as usize {
        out.extend_from_slice(&v[c * h * w + a as usize * w..c * h * w + b as usize * w]);
    }
    out
}

/// The inverse of [`rows_of`]: `rows` (`[C, b - a, w]`) written into rows `a..b` of `dst` (`[C, h, w]` of
/// `shape`).
pub(crate) fn put_rows<T: Copy>(dst: &mut [T], shape: LatentShape, (a, b): (u32, u32), rows: &[T]) {
    let (h, w) = (shape.height as usize, shape.width as usize);
    let n = (b - a) as usize * w;
    if n == 0 {
        return;
    }
    for (c, part) in rows.chunks_exact(n).enumerate() {
        dst[c * h * w + a as usize * w..][..n].copy_from_slice(part);
    }
}

/// The bands `(a, b)` of latent rows for `band_rows` rows per band (0: one band).
pub fn bands(plan: &Plan, band_rows: u32) -> Vec<(u32, u32)> {
    let h = plan.latent.height;
    let r = if band_rows == 0 { h.max(1) } else { band_rows };
    (0..h)
        .step_by(r as usize)
        .map(|a| (a, (a + r).min(h)))
        .collect()
}

/// Pixel rows of the image that band `(a, b)` of latent rows covers.
pub fn pixel_rows(plan: &Plan, (a, b): (u32, u32)) -> (u32, u32) {
    let s = plan.stride.1;
    ((a * s).min(plan.height), (b * s).min(plan.height))
}

/// The quantized latent of an image (`[C, h, w]`, channel-major).
pub fn quantized_latent(
    model: &Model,
    plan: &Plan,
    img: &Prepared,
    level: &LevelCoding,
) -> Result<Vec<i32>> {
    let z = analyse(model, plan, &img.samples)?;
    quant::quantize(&z, &level.quantizer, plan.latent)
}

/// The tables a hyperprior chose for a latent: the scale tables and each element's index into them
/// (`[C, h, w]`, channel-major).
pub type Scales<'a> = Option<(&'a [SymbolTable], &'a [u8])>;

/// The range-coded (or zstd-coded) payload of each band of `q`: each value with its channel's table of
/// `level`, or with the table `scales` chose for it.
pub fn code_bands(
    coder: Coder,
    plan: &Plan,
    q: &[i32],
    level: &LevelCoding,
    scales: Scales<'_>,
    band_rows: u32,
) -> Result<Vec<Vec<u8>>> {
    bands(plan, band_rows)
        .into_iter()
        .map(|band| {
            let mut p = Vec::new();
            let values = rows_of(q, plan.latent, band);
            match scales {
                None => level.encode(coder, plan.band_shape(band.0, band.1), 1, &values, &mut p)?,
                Some((tables, idx)) => encode_indexed(
                    coder,
                    tables,
                    &rows_of(idx, plan.latent, band),
                    &values,
                    &mut p,
                )?,
            }
            Ok(p)
        })
        .collect()
}

/// The alpha plane's payload per band: each pixel row as its first value then the differences to the
/// left neighbour (mod 256), zstd-compressed.
pub fn code_alpha(plan: &Plan, alpha: &[u8], band_rows: u32) -> Result<Vec<Vec<u8>>> {
    let w = plan.width as usize;
    bands(plan, band_rows)
        .into_iter()
        .map(|band| {
            let (y0, y1) = pixel_rows(plan, band);
            let mut raw = Vec::with_capacity((y1 - y0) as usize * w);
            for row in alpha[y0 as usize * w..y1 as usize * w].chunks_exact(w) {
                let mut prev = 0u8;
                for &v in row {
                    raw.push(v.wrapping_sub(prev));
                    prev = v;
                }
            }
            zstd::bulk::compress(&raw, ALPHA_LEVEL).map_err(|e| Error::Runtime {
                backend: "zstd".into(),
                what: format!("compressing an alpha plane: {e}"),
            })
        })
        .collect()
}

/// Decodes band `band`'s alpha payload into `out` (the whole plane, `width x height`). The frame must
/// declare exactly the band's size and decode to it.
pub fn decode_alpha(
    plan: &Plan,
    band: (u32, u32),
    payload: &[u8],
    out: &mut [u8],
) -> std::result::Result<(), String> {
    let w = plan.width as usize;
    let (y0, y1) = pixel_rows(plan, band);
    let want = (y1 - y0) as usize * w;
    match zstd::zstd_safe::get_frame_content_size(payload) {
        Ok(Some(n)) if n == want as u64 => {}
        Ok(Some(n)) => {
            return Err(format!(
                "alpha frame declares {n} bytes, the band has {want}"
            ))
        }
        Ok(None) => return Err("alpha frame has no content size".into()),
        Err(_) => return Err("alpha payload is not a zstd frame".into()),
    }
    // Exactly one frame and nothing after it (no skippable frames, no second frame).
    match zstd::zstd_safe::find_frame_compressed_size(payload) {
        Ok(n) if n == payload.len() => {}
        _ => return Err("alpha payload is not exactly one zstd frame".into()),
    }
    let raw = zstd::bulk::decompress(payload, want)
        .map_err(|e| format!("alpha frame does not decode: {e}"))?;
    if raw.len() != want {
        return Err(format!(
            "alpha frame decodes to {} bytes, the band has {want}",
            raw.len()
        ));
    }
    let dst = &mut out[y0 as usize * w..y1 as usize * w];
    for (drow, srow) in dst.chunks_exact_mut(w).zip(raw.chunks_exact(w)) {
        let mut prev = 0u8;
        for (d, &s) in drow.iter_mut().zip(srow) {
            prev = prev.wrapping_add(s);
            *d = prev;
        }
    }
    Ok(())
}

/// Decodes band `band`'s latent payload into its rows of `q` (the whole `[C, h, w]` latent), with the
/// tables of `level` or those `scales` chose.
pub fn decode_band(
    coder: Coder,
    plan: &Plan,
    level: &LevelCoding,
    scales: Scales<'_>,
    band: (u32, u32),
    payload: &[u8],
    q: &mut [i32],
) -> std::result::Result<(), String> {
    let shape = plan.band_shape(band.0, band.1);
    let mut vals = Vec::with_capacity(shape.len());
    match scales {
        None => level
            .decode(coder, shape, 1, payload, &mut vals)
            .map_err(|e| e.to_string())?,
        Some((tables, idx)) => decode_indexed(
            coder,
            tables,
            &rows_of(idx, plan.latent, band),
            payload,
            &mut vals,
        ),
    }
    .map_err(|e| e.0)?;
    put_rows(q, plan.latent, band, &vals);
    Ok(())
}

/// The decoded image's samples (the model's channels, `width x height`) of a whole quantized latent.
pub fn reconstruct(model: &Model, plan: &Plan, q: &[i32], level: &LevelCoding) -> Result<Vec<u8>> {
    let z = quant::dequantize(q, &level.quantizer, plan.latent)?;
    synthesise(model, plan, &z)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{ImageSize, Layout, TensorLayout};

    fn plan(w: u32, h: u32) -> Plan {
        let l = Layout {
            image_channels: 3,
            size: ImageSize::Any {
                stride: 16,
                max_side: 65535,
            },
            channels: 2,
            tensors: TensorLayout::Nchw,
        };
        Plan::new(&l, w, h, "t").unwrap()
    }

    #[test]
    fn bands_cover_the_latent_and_the_image() {
        let p = plan(100, 70); // latent 7 x 5
        assert_eq!(bands(&p, 0), vec![(0, 5)]);
        assert_eq!(bands(&p, 2), vec![(0, 2), (2, 4), (4, 5)]);
        assert_eq!(pixel_rows(&p, (4, 5)), (64, 70));
        let q: Vec<i32> = (0..p.latent.len() as i32).collect();
        let b = rows_of(&q, p.latent, (2, 4));
        assert_eq!(b.len(), 2 * 2 * 7);
        assert_eq!(b[0], 14);
        assert_eq!(b[14], 35 + 14);
    }

    #[test]
    fn alpha_is_lossless_per_band_and_checked() {
        let p = plan(33, 40);
        let alpha: Vec<u8> = (0..33 * 40).map(|i| ((i * 7) % 256) as u8).collect();
        let payloads = code_alpha(&p, &alpha, 1).unwrap();
        assert_eq!(payloads.len(), 3);
        let mut out = vec![0u8; alpha.len()];
        for (band, pl) in bands(&p, 1).into_iter().zip(&payloads) {
            decode_alpha(&p, band, pl, &mut out).unwrap();
        }
        assert_eq!(out, alpha);
        // A frame of another band's size is refused.
        assert!(decode_alpha(&p, (2, 3), &payloads[0], &mut out).is_err());
        assert!(decode_alpha(&p, (0, 1), b"junk", &mut out).is_err());
        // A trailing skippable frame is refused.
        let mut extra = payloads[0].clone();
        extra.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]);
        assert!(decode_alpha(&p, (0, 1), &extra, &mut out).is_err());
    }
}
