//! Rate-distortion: every codec setting (and every aez model that fits) on every image of a dataset.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use crate::codecs::{roundtrip, Codec};
use crate::data::Dataset;
use crate::metrics::{psnr_from_mse, sse, ssim};
use crate::BoxResult;

/// One point of a rate-distortion curve: a codec setting over a whole dataset.
#[derive(Debug, Clone, Serialize)]
pub struct RdRow {
    /// Dataset name.
    pub dataset: String,
    /// Codec family ("aez", "JPEG", ...): one curve each.
    pub codec: String,
    /// Setting (quality, model name).
    pub setting: String,
    /// Images measured.
    pub images: usize,
    /// Mean bytes per image, whole files (aez: the batch stream's bytes / images, container included).
    pub bytes: f64,
    /// Bits per pixel: 8 * bytes / pixels.
    pub bpp: f64,
    /// PSNR in dB of the mean squared error over every sample of the set (null: lossless).
    pub psnr: f64,
    /// Mean of the per-image PSNRs over images that are not reproduced exactly (null when all are).
    pub psnr_image_mean: f64,
    /// Mean SSIM (7x7 window).
    pub ssim: f64,
    /// Lossless codec.
    pub lossless: bool,
    /// aez only: mean bytes of a single-image .aez file.
    pub single_file_bytes: Option<f64>,
    /// Wall seconds for this row (encode + decode + metrics, all cores).
    pub seconds: f64,
}

impl RdRow {
    fn new(
        ds: &Dataset,
        codec: &str,
        setting: String,
        per: &[(usize, u64, f64)],
        secs: f64,
    ) -> RdRow {
        let n = per.len();
        let bytes: usize = per.iter().map(|p| p.0).sum();
        let sse_total: u64 = per.iter().map(|p| p.1).sum();
        let samples: usize = ds.images.iter().map(|i| i.data.len()).sum();
        let pixels = ds.pixels();
        let mut psnrs = Vec::new();
        for (img, p) in ds.images.iter().zip(per) {
            if p.1 > 0 {
                psnrs.push(psnr_from_mse(p.1 as f64 / img.data.len() as f64));
            }
        }
        RdRow {
            dataset: ds.name.clone(),
            codec: codec.to_string(),
            setting,
            images: n,
            bytes: bytes as f64 / n as f64,
            bpp: 8.0 * bytes as f64 / pixels as f64,
            psnr: psnr_from_mse(sse_total as f64 / samples as f64),
            psnr_image_mean: if psnrs.is_empty() {
                f64::INFINITY
            } else {
                psnrs.iter().sum::<f64>() / psnrs.len() as f64
            },
            ssim: per.iter().map(|p| p.2).sum::<f64>() / n as f64,
            lossless: sse_total == 0,
            single_file_bytes: None,
            seconds: secs,
        }
    }
}

/// The settings swept for a dataset: denser for small images, fewer (and a fast AVIF speed) for large ones.
pub fn sweep(ds: &Dataset) -> Vec<Codec> {
    let small = ds.images.iter().all(|i| i.pixels() <= 64 * 64);
    let mut v = vec![Codec::Png, Codec::PngBest, Codec::Qoi];
    if small {
        v.extend([5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95].map(Codec::Jpeg));
        v.extend([0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100].map(Codec::Webp));
        v.extend([10, 15, 20, 30, 50, 80].map(|q| Codec::Avif(q, 6)));
    } else {
        v.extend([10, 20, 30, 40, 50, 60, 70, 80, 90, 95].map(Codec::Jpeg));
        v.extend([5, 20, 40, 60, 75, 85, 95].map(Codec::Webp));
        v.extend([20, 40, 60, 80].map(|q| Codec::Avif(q, 10)));
    }
    v
}

/// Runs one classical codec setting over the dataset (images in parallel).
pub fn run_codec(ds: &Dataset, codec: Codec) -> BoxResult<RdRow> {
    let t = Instant::now();
    let per: Vec<(usize, u64, f64)> = ds
        .images
        .par_iter()
        .map(|img| -> Result<(usize, u64, f64), String> {
            let (bytes, back) = roundtrip(codec, img).map_err(|e| e.to_string())?;
            Ok((
                bytes.len(),
                sse(&img.data, &back),
                ssim(&img.data, &back, img.w, img.h, img.c),
            ))
        })
        .collect::<Result<_, String>>()
        .map_err(|e| format!("{} {}: {e}", codec.family(), codec.setting()))?;
    Ok(RdRow::new(
        ds,
        codec.family(),
        codec.setting(),
        &per,
        t.elapsed().as_secs_f64(),
    ))
}

/// The model bundle directories under `dir` (those with a model.json), sorted.
pub fn model_dirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join("model.json").is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// aez on the dataset with every model under `models`: rows for those that fit, notes for those that do not.
/// `single_limit` bounds the images compressed one by one for the single-file size.
pub fn run_aez(
    ds: &Dataset,
    models: &Path,
    single_limit: usize,
    notes: &mut Vec<String>,
) -> BoxResult<Vec<RdRow>> {
    let mut rows = Vec::new();
    let dirs = model_dirs(models);
    if dirs.is_empty() {
        notes.push(format!(
            "{}: no aez model bundles in {}",
            ds.name,
            models.display()
        ));
    }
    for dir in dirs {
        let bundle = match aez::Bundle::from_dir(&dir) {
            Ok(b) => b,
            Err(e) => {
                notes.push(format!("{}: model {} skipped: {e}", ds.name, dir.display()));
                continue;
            }
        };
        let name = bundle.name().to_string();
        let g = bundle.geometry();
        let want = (g.width as usize, g.height as usize, usize::from(g.channels));
        match ds.uniform_geometry() {
            Some(have) if have == want => {}
            other => {
                let have = match other {
                    Some((w, h, c)) => format!("{w}x{h}x{c}"),
                    None => {
                        let mut sizes: Vec<String> = Vec::new();
                        for i in &ds.images {
                            let g = format!("{}x{}x{}", i.w, i.h, i.c);
                            if !sizes.contains(&g) {
                                sizes.push(g);
                            }
                        }
                        sizes.join(" and ")
                    }
                };
                notes.push(format!(
                    "{}: aez model {name} skipped: it takes {}x{}x{} images, the dataset has {have}",
                    ds.name, want.0, want.1, want.2
                ));
                continue;
            }
        }
        let model = aez::Model::load(bundle, aez::BackendChoice::Tract)?;
        let t = Instant::now();
        let mut enc = aez::Encoder::new(Vec::new(), &model, aez::Options::default())?;
        for img in &ds.images {
            enc.push_pixels(&img.data)?;
        }
        let stream = enc.finish()?;
        let mut dec = aez::Decoder::new(&stream[..], &model, aez::Options::default())?;
        let mut decoded = Vec::with_capacity(ds.images.len());
        while let Some(px) = dec.next_pixels()? {
            decoded.push(px);
        }
        if decoded.len() != ds.images.len() {
            return Err(format!(
                "aez {name}: decoded {} images of {}",
                decoded.len(),
                ds.images.len()
            )
            .into());
        }
        let per: Vec<(usize, u64, f64)> = ds
            .images
            .par_iter()
            .zip(decoded.par_iter())
            .map(|(img, back)| {
                (
                    0,
                    sse(&img.data, back),
                    ssim(&img.data, back, img.w, img.h, img.c),
                )
            })
            .collect();
        let mut row = RdRow::new(ds, "aez", name.clone(), &per, t.elapsed().as_secs_f64());
        row.bytes = stream.len() as f64 / ds.images.len() as f64;
        row.bpp = 8.0 * stream.len() as f64 / ds.pixels() as f64;
        // Single-image files: one self-contained .aez per image.
        let k = single_limit.min(ds.images.len()).max(1);
        let mut single = 0usize;
        for img in ds.images.iter().take(k) {
            single += aez::compress_pixels(&model, &img.data, &aez::Options::default())?.len();
        }
        row.single_file_bytes = Some(single as f64 / k as f64);
        rows.push(row);
    }
    Ok(rows)
}

/// Bytes a curve needs at `target` dB.
#[derive(Debug, Clone, Serialize)]
pub struct Matched {
    /// Dataset.
    pub dataset: String,
    /// Codec family.
    pub codec: String,
    /// Target PSNR (dB).
    pub target_db: f64,
    /// Interpolated mean bytes per image, if the curve reaches the target.
    pub bytes: Option<f64>,
    /// Bytes of this codec / bytes of aez (how many times smaller aez is), when both exist.
    pub ratio_to_aez: Option<f64>,
    /// How the number was found.
    pub note: String,
}

/// The families in first-seen order.
pub fn families(rows: &[RdRow]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for r in rows {
        if !v.contains(&r.codec) {
            v.push(r.codec.clone());
        }
    }
    v
}

/// The Pareto front of a family's points, (bytes, psnr), by increasing bytes and PSNR.
pub fn front(rows: &[RdRow], family: &str) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = rows
        .iter()
        .filter(|r| r.codec == family)
        .map(|r| (r.bytes, r.psnr))
        .collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out: Vec<(f64, f64)> = Vec::new();
    for p in pts {
        if out.last().is_none_or(|l| p.1 > l.1) {
            out.push(p);
        }
    }
    out
}

/// Bytes needed at `target` dB on a front: log-bytes interpolated linearly in PSNR between the two points
/// around it. Returns (bytes, note).
pub fn bytes_at(front: &[(f64, f64)], target: f64) -> (Option<f64>, String) {
    let Some(&(b0, p0)) = front.first() else {
        return (None, "no points".into());
    };
    if p0.is_infinite() {
        return (Some(b0), "lossless".into());
    }
    if target <= p0 {
        return (
            Some(b0),
            format!("upper bound: its smallest setting already gives {p0:.2} dB"),
        );
    }
    for w in front.windows(2) {
        let ((ba, pa), (bb, pb)) = (w[0], w[1]);
        if target <= pb {
            if pb.is_infinite() {
                return (Some(bb), "lossless point".into());
            }
            let f = (target - pa) / (pb - pa);
            let b = (ba.ln() + f * (bb.ln() - ba.ln())).exp();
            return (
                Some(b),
                format!("between {ba:.1} B ({pa:.2} dB) and {bb:.1} B ({pb:.2} dB)"),
            );
        }
    }
    let pmax = front.last().map_or(p0, |l| l.1);
    (None, format!("not reached (max {pmax:.2} dB)"))
}

/// The matched-quality table of a dataset's rows at the given targets.
pub fn matched(rows: &[RdRow], targets: &[f64]) -> Vec<Matched> {
    let mut out = Vec::new();
    let Some(ds) = rows.first().map(|r| r.dataset.clone()) else {
        return out;
    };
    for &t in targets {
        let aez = bytes_at(&front(rows, "aez"), t).0;
        let aez = if rows.iter().any(|r| r.codec == "aez") {
            aez
        } else {
            None
        };
        for fam in families(rows) {
            let (bytes, note) = bytes_at(&front(rows, &fam), t);
            out.push(Matched {
                dataset: ds.clone(),
                codec: fam.clone(),
                target_db: t,
                bytes,
                ratio_to_aez: match (bytes, aez) {
                    (Some(b), Some(a)) if fam != "aez" => Some(b / a),
                    _ => None,
                },
                note,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolation_on_log_bytes() {
        let f = [(100.0, 20.0), (400.0, 22.0)];
        let (b, _) = bytes_at(&f, 21.0);
        assert!((b.expect("reached") - 200.0).abs() < 1e-9);
        assert!(bytes_at(&f, 23.0).0.is_none());
        assert_eq!(bytes_at(&f, 19.0).0, Some(100.0));
        assert_eq!(bytes_at(&[(50.0, f64::INFINITY)], 25.0).0, Some(50.0));
    }
}
