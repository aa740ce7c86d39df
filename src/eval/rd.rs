//! Rate-distortion: every codec setting (and every aez model that fits) on every image of a dataset.

use std::path::{Path, PathBuf};
use std::time::Instant;

use rayon::prelude::*;
use serde::Serialize;

use super::codecs::{roundtrip, Codec};
use super::data::Dataset;
use super::metrics::{psnr_from_mse, sse, ssim};
use super::BoxResult;

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

/// Per image of `ds`, the `(bytes, SSE, SSIM)` of aez's decoded images (bytes 0: aez's are the stream's),
/// after checking that `label` decoded as many images as the dataset has.
fn aez_distortions(
    ds: &Dataset,
    decoded: &[Vec<u8>],
    label: &str,
) -> BoxResult<Vec<(usize, u64, f64)>> {
    if decoded.len() != ds.images.len() {
        return Err(format!(
            "{label}: decoded {} images of {}",
            decoded.len(),
            ds.images.len()
        )
        .into());
    }
    Ok(ds
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
        .collect())
}

/// The settings swept for a dataset: denser for small images, fewer for large ones. AVIF at rav1e speed 6
/// for both (a slow setting a careful user would choose; speed 10 made AVIF look worse than it is).
pub fn sweep(ds: &Dataset) -> Vec<Codec> {
    let small = ds.images.iter().all(|i| i.pixels() <= 64 * 64);
    let mut v = vec![Codec::Png, Codec::PngBest, Codec::Qoi];
    if small {
        v.extend([5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 90, 95].map(Codec::Jpeg));
        v.extend([5, 10, 15, 20, 25, 30, 40, 50, 60, 70, 80, 90, 95].map(Codec::JpegBaseline));
        // WebP changes fastest between q0 and q5 on small images: every step there.
        v.extend(
            [
                0, 1, 2, 3, 4, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 100,
            ]
            .map(Codec::Webp),
        );
        v.extend([10, 15, 20, 30, 50, 80].map(|q| Codec::Avif(q, 6)));
    } else {
        v.extend([10, 20, 30, 40, 50, 60, 70, 80, 90, 95].map(Codec::Jpeg));
        v.extend([10, 30, 50, 70, 90].map(Codec::JpegBaseline));
        v.extend([5, 20, 40, 60, 75, 85, 95].map(Codec::Webp));
        v.extend([20, 40, 60, 80].map(|q| Codec::Avif(q, 6)));
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
        rows.extend(run_aez_bundle(
            ds,
            bundle,
            aez::BackendChoice::Tract,
            single_limit,
            notes,
        )?);
    }
    Ok(rows)
}

/// aez with one bundle on the dataset, on `backend`: a row per model (version 1) or per quality level
/// (version 2), or a note when the model cannot take the dataset's images.
pub fn run_aez_bundle(
    ds: &Dataset,
    bundle: aez::Bundle,
    backend: aez::BackendChoice,
    single_limit: usize,
    notes: &mut Vec<String>,
) -> BoxResult<Vec<RdRow>> {
    if bundle.manifest().bundle_version >= 2 {
        return run_aez_v2(ds, bundle, backend, single_limit, notes);
    }
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
            return Ok(Vec::new());
        }
    }
    let model = aez::Model::load(bundle, backend)?;
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
    let per = aez_distortions(ds, &decoded, &format!("aez {name}"))?;
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
    Ok(vec![row])
}

/// Why a version-2 model cannot take the dataset's images (`None`: it takes them all).
fn v2_misfit(ds: &Dataset, layout: &aez::layout::Layout) -> Option<String> {
    let c = usize::from(layout.image_channels);
    let kind = |c: usize| if c == 1 { "gray" } else { "RGB" };
    let article = |c: usize| if c == 1 { "a gray" } else { "an RGB" };
    if let Some(i) = ds.images.iter().find(|i| i.c != c) {
        return Some(format!(
            "it is {} model, the dataset has {} images",
            article(c),
            kind(i.c)
        ));
    }
    match layout.size {
        aez::layout::ImageSize::Fixed { width, height } => ds
            .images
            .iter()
            .find(|i| (i.w, i.h) != (width as usize, height as usize))
            .map(|i| {
                format!(
                    "it takes {width}x{height} images, the dataset has {}x{}",
                    i.w, i.h
                )
            }),
        aez::layout::ImageSize::Any { max_side, .. } => ds
            .images
            .iter()
            .find(|i| i.w.max(i.h) > max_side as usize)
            .map(|i| {
                format!(
                    "it takes up to {max_side} pixels per side, the dataset has {}x{}",
                    i.w, i.h
                )
            }),
    }
}

/// A dataset image as the `image` crate's type (gray or RGB, as loaded).
pub fn dynamic(img: &super::data::Image) -> BoxResult<image::DynamicImage> {
    let bad = || format!("{}x{}x{}: wrong number of samples", img.w, img.h, img.c);
    Ok(match img.c {
        1 => image::DynamicImage::ImageLuma8(
            image::GrayImage::from_raw(img.w as u32, img.h as u32, img.data.clone())
                .ok_or_else(bad)?,
        ),
        _ => image::DynamicImage::ImageRgb8(
            image::RgbImage::from_raw(img.w as u32, img.h as u32, img.data.clone())
                .ok_or_else(bad)?,
        ),
    })
}

/// A decoded image's samples in the layout of `like` (its size checked).
fn samples_like(back: &image::DynamicImage, like: &super::data::Image) -> BoxResult<Vec<u8>> {
    if (back.width() as usize, back.height() as usize) != (like.w, like.h) {
        return Err(format!(
            "decoded a {}x{} image for a {}x{} one",
            back.width(),
            back.height(),
            like.w,
            like.h
        )
        .into());
    }
    Ok(match like.c {
        1 => back.to_luma8().into_raw(),
        _ => back.to_rgb8().into_raw(),
    })
}

/// A version-2 model on the dataset: one row per quality level (family `aez <bundle>`, setting
/// `<bundle> q<quality>`), measured as the version-1 rows are: the whole batch stream of all images
/// (`Encoder::push_image`, then `Decoder::next_image`) for bytes and distortion, and single files
/// (`compress_with`) of the first `single_limit` images. A model that cannot take the dataset's images
/// (colour, size) gives a note instead.
fn run_aez_v2(
    ds: &Dataset,
    bundle: aez::Bundle,
    backend: aez::BackendChoice,
    single_limit: usize,
    notes: &mut Vec<String>,
) -> BoxResult<Vec<RdRow>> {
    let name = bundle.name().to_string();
    if let Some(why) = v2_misfit(ds, &bundle.layout()) {
        notes.push(format!("{}: aez model {name} skipped: {why}", ds.name));
        return Ok(Vec::new());
    }
    let qualities: Vec<u8> = bundle.levels().iter().map(|l| l.quality).collect();
    let model = aez::Model::load(bundle, backend)?;
    let inputs: Vec<image::DynamicImage> =
        ds.images.iter().map(dynamic).collect::<BoxResult<_>>()?;
    let mut rows = Vec::new();
    for q in qualities {
        let setting = format!("{name} q{q}");
        let options = aez::Options::default().with_quality(Some(q));
        let t = Instant::now();
        let mut enc = aez::Encoder::new(Vec::new(), &model, options.clone())?;
        for img in &inputs {
            enc.push_image(img)?;
        }
        let stream = enc.finish()?;
        let mut dec = aez::Decoder::new(&stream[..], &model, aez::Options::default())?;
        let mut decoded = Vec::with_capacity(ds.images.len());
        while let Some(img) = dec.next_image()? {
            let Some(like) = ds.images.get(decoded.len()) else {
                return Err(format!(
                    "aez {setting}: decoded more images than {}",
                    ds.images.len()
                )
                .into());
            };
            decoded.push(samples_like(&img, like).map_err(|e| format!("aez {setting}: {e}"))?);
        }
        let per = aez_distortions(ds, &decoded, &format!("aez {setting}"))?;
        let mut row = RdRow::new(
            ds,
            &format!("aez {name}"),
            setting,
            &per,
            t.elapsed().as_secs_f64(),
        );
        row.bytes = stream.len() as f64 / ds.images.len() as f64;
        row.bpp = 8.0 * stream.len() as f64 / ds.pixels() as f64;
        // Single-image files: one self-contained .aez per image, at this level.
        let k = single_limit.min(ds.images.len()).max(1);
        let mut single = 0usize;
        for img in inputs.iter().take(k) {
            single += aez::compress_with(&model, img, &options)?.len();
        }
        row.single_file_bytes = Some(single as f64 / k as f64);
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synthetic(name: &str, sizes: &[(usize, usize)], c: usize) -> Dataset {
        Dataset {
            name: name.into(),
            images: sizes
                .iter()
                .map(|&(w, h)| super::super::data::Image {
                    w,
                    h,
                    c,
                    data: (0..w * h * c).map(|i| ((i * 7) % 256) as u8).collect(),
                })
                .collect(),
        }
    }

    #[test]
    fn version_2_models_run_per_level_on_images_of_their_colour() {
        // Compiled into two crates (aez's CLI, aez-bench): the repository root is the first folder up with fixtures/.
        let models = Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|d| d.join("fixtures/models"))
            .find(|d| d.is_dir())
            .expect("fixtures/models above the crate");
        let levels = |name: &str| {
            aez::Bundle::from_dir(&models.join(name))
                .expect("fixture bundle")
                .levels()
                .len()
        };
        // Any sizes, mixed orientations (two runs of alike images in one stream).
        let rgb = synthetic("rgb", &[(40, 24), (40, 24), (24, 40), (9, 13)], 3);
        let mut notes = Vec::new();
        let rows = run_aez(&rgb, &models, 2, &mut notes).expect("run_aez");
        assert!(notes.is_empty(), "{notes:?}");
        let names = ["tiny-conv", "tiny-hyper"];
        assert_eq!(rows.len(), names.iter().map(|n| levels(n)).sum::<usize>());
        for name in names {
            let mine: Vec<_> = rows
                .iter()
                .filter(|r| r.codec == format!("aez {name}"))
                .collect();
            assert_eq!(mine.len(), levels(name), "{name}");
            for r in mine {
                assert!(r.setting.starts_with(&format!("{name} q")), "{}", r.setting);
                assert_eq!(r.images, 4);
                assert!(r.bytes > 0.0 && r.psnr.is_finite() && r.single_file_bytes.is_some());
            }
        }
        // The gray dataset: skipped with a note.
        let gray = synthetic("gray", &[(28, 28)], 1);
        let rows = run_aez(&gray, &models, 2, &mut notes).expect("run_aez");
        assert!(rows.is_empty());
        assert!(
            notes
                .iter()
                .any(|n| n.contains("tiny-conv skipped: it is an RGB model")),
            "{notes:?}"
        );
    }
}
