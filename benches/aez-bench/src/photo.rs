//! Photo speed: how long a version-2 RGB model (any size) takes on one 768x512 photo, and the wall time and
//! peak memory of one 6000x4000 photo, per backend, each measurement in its own process.
//!
//! The targets (from the issue): a 768x512 photo compresses and decompresses in under 1 s each with ONNX
//! Runtime and under 3 s with tract on 2 cores; a 6000x4000 RGB photo compresses and decompresses with a
//! peak RSS under 1 GB.
//!
//! - `small`: `kodim01.png` (768x512) of the Kodak folder, at the bundle's default level: one warm-up
//!   compress + decompress, then `reps` timed rounds of `aez::compress_with` and `aez::decompress`
//!   (medians quoted, every time kept in the JSON).
//! - `big-compress` / `big-decompress`: a 6000x4000 RGB image made deterministically of the Kodak images
//!   ([`big_image`]), compressed once in one process (the file is kept) and decompressed once in another.
//!   Each reports its wall time and the process's peak RSS (VmHWM), with its resident set just before
//!   the image was made (compress) or the file read (decompress) beside it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use image::{DynamicImage, RgbImage};
use serde::{Deserialize, Serialize};

use crate::metrics::{psnr_from_mse, sse};
use crate::speed::{median, peak_rss_kib};
use crate::BoxResult;

/// The 768x512 image measured.
pub const SMALL_IMAGE: &str = "kodim01.png";
/// The size of the big image.
pub const BIG_SIZE: (u32, u32) = (6000, 4000);
/// Target seconds per direction for the 768x512 image: (tract, ONNX Runtime).
pub const TARGET_SMALL_S: (f64, f64) = (3.0, 1.0);
/// Target decompress seconds of a model with a hyperprior (issue 10): (tract, ONNX Runtime).
pub const TARGET_HYPER_DECODE_S: (f64, f64) = (1.5, 0.5);
/// Target peak RSS for the big image, bytes (1 GB).
pub const TARGET_PEAK_BYTES: f64 = 1e9;

/// The current resident set of this process (VmRSS) in KiB (0 when /proc is not there).
pub fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

fn status_kib(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// What one photo worker process measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhotoWorker {
    /// `small`, `big-compress` or `big-decompress`.
    pub task: String,
    /// The backend the model runs on, as it reports it.
    pub backend: String,
    /// Model name.
    pub model: String,
    /// Quality of the level coded (the bundle's default).
    pub quality: u8,
    /// Image size.
    pub width: u32,
    /// Image size.
    pub height: u32,
    /// Seconds to load the model.
    pub load_s: f64,
    /// Seconds of each timed compress (small: `reps`; big-compress: one; big-decompress: none).
    pub compress_s: Vec<f64>,
    /// Seconds of each timed decompress.
    pub decompress_s: Vec<f64>,
    /// Bytes of the compressed file.
    pub bytes: u64,
    /// PSNR (dB) of the decoded image against the original (RGB, all samples); not for big-compress.
    pub psnr: Option<f64>,
    /// Resident set (VmRSS) after the model was loaded, before the image was made or the file read, KiB.
    pub rss_before_kib: u64,
    /// Peak resident set of the process (VmHWM) when the timed work was done, KiB.
    pub peak_rss_kib: u64,
    /// Worker threads of `Options::default()` in this process.
    pub threads: usize,
}

/// Makes a deterministic `width x height` RGB image of the Kodak images (sorted by name): a grid of
/// 768x512 tiles, tile `k` (row-major) being image `k % n`, portrait images turned a quarter to
/// landscape, every other tile mirrored left-right and every other row of tiles top-bottom; the right
/// and bottom tiles cropped. Images are read one at a time.
pub fn big_image(kodak: &Path, width: u32, height: u32) -> BoxResult<RgbImage> {
    let files = kodak_files(kodak)?;
    if files.is_empty() {
        return Err(format!("no PNG images in {}", kodak.display()).into());
    }
    let (tw, th) = (768u32, 512u32);
    let mut out = RgbImage::new(width, height);
    let mut k = 0usize;
    for ty in 0..height.div_ceil(th) {
        for tx in 0..width.div_ceil(tw) {
            let p = &files[k % files.len()];
            k += 1;
            let mut t = image::open(p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?
                .into_rgb8();
            if t.height() > t.width() {
                t = image::imageops::rotate90(&t);
            }
            if tx % 2 == 1 {
                image::imageops::flip_horizontal_in_place(&mut t);
            }
            if ty % 2 == 1 {
                image::imageops::flip_vertical_in_place(&mut t);
            }
            let (x0, y0) = (tx * tw, ty * th);
            for y in 0..th.min(t.height()).min(height - y0) {
                for x in 0..tw.min(t.width()).min(width - x0) {
                    out.put_pixel(x0 + x, y0 + y, *t.get_pixel(x, y));
                }
            }
        }
    }
    Ok(out)
}

fn kodak_files(dir: &Path) -> BoxResult<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot list {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("png"))
        })
        .collect();
    v.sort();
    Ok(v)
}

fn psnr_rgb(a: &RgbImage, b: &DynamicImage) -> f64 {
    let b = b.to_rgb8();
    if a.dimensions() != b.dimensions() {
        return f64::NAN;
    }
    psnr_from_mse(sse(a.as_raw(), b.as_raw()) as f64 / a.as_raw().len() as f64)
}

/// Arguments of one worker process.
#[derive(Debug, Clone)]
pub struct WorkerArgs {
    /// `small`, `big-compress` or `big-decompress`.
    pub task: String,
    /// `tract` or `onnxruntime`.
    pub backend: String,
    /// The bundle directory.
    pub bundle: PathBuf,
    /// The Kodak folder.
    pub kodak: PathBuf,
    /// big-compress writes the file here, big-decompress reads it.
    pub file: PathBuf,
    /// Timed rounds (small).
    pub reps: usize,
    /// The big image's size.
    pub big: (u32, u32),
}

/// Runs one photo worker in this process.
pub fn worker(a: &WorkerArgs) -> BoxResult<PhotoWorker> {
    let choice: aez::BackendChoice = a.backend.parse()?;
    let t = Instant::now();
    let model = aez::Model::load(aez::Bundle::from_dir(&a.bundle)?, choice)?;
    let load_s = t.elapsed().as_secs_f64();
    let quality = model.bundle().default_level().quality;
    let options = aez::Options::default();
    let mut r = PhotoWorker {
        task: a.task.clone(),
        backend: model.backend().to_string(),
        model: model.bundle().name().to_string(),
        quality,
        width: 0,
        height: 0,
        load_s,
        compress_s: Vec::new(),
        decompress_s: Vec::new(),
        bytes: 0,
        psnr: None,
        rss_before_kib: rss_kib(),
        peak_rss_kib: 0,
        threads: options.threads,
    };
    match a.task.as_str() {
        "small" => {
            let p = a.kodak.join(SMALL_IMAGE);
            let rgb = image::open(&p)
                .map_err(|e| format!("cannot read {}: {e}", p.display()))?
                .into_rgb8();
            (r.width, r.height) = rgb.dimensions();
            let img = DynamicImage::ImageRgb8(rgb);
            // Warm-up.
            let bytes = aez::compress_with(&model, &img, &options)?;
            let back = aez::decompress(&model, &bytes)?;
            for _ in 0..a.reps.max(1) {
                let t = Instant::now();
                let b = aez::compress_with(&model, &img, &options)?;
                r.compress_s.push(t.elapsed().as_secs_f64());
                let t = Instant::now();
                let d = aez::decompress(&model, &b)?;
                r.decompress_s.push(t.elapsed().as_secs_f64());
                if b != bytes || d.as_bytes() != back.as_bytes() {
                    return Err("compress/decompress gave different results on a rerun".into());
                }
            }
            r.peak_rss_kib = peak_rss_kib();
            r.bytes = bytes.len() as u64;
            r.psnr = Some(psnr_rgb(img.as_rgb8().ok_or("not RGB")?, &back));
        }
        "big-compress" => {
            let rgb = big_image(&a.kodak, a.big.0, a.big.1)?;
            (r.width, r.height) = rgb.dimensions();
            let img = DynamicImage::ImageRgb8(rgb);
            let t = Instant::now();
            let bytes = aez::compress_with(&model, &img, &options)?;
            r.compress_s.push(t.elapsed().as_secs_f64());
            r.peak_rss_kib = peak_rss_kib();
            r.bytes = bytes.len() as u64;
            std::fs::write(&a.file, &bytes)?;
        }
        "big-decompress" => {
            let bytes = std::fs::read(&a.file)?;
            let t = Instant::now();
            let back = aez::decompress(&model, &bytes)?;
            r.decompress_s.push(t.elapsed().as_secs_f64());
            r.peak_rss_kib = peak_rss_kib();
            (r.width, r.height) = (back.width(), back.height());
            r.bytes = bytes.len() as u64;
            drop(bytes);
            // After the peak was read: the original, for the PSNR.
            let want = big_image(&a.kodak, a.big.0, a.big.1)?;
            r.psnr = Some(psnr_rgb(&want, &back));
        }
        other => {
            return Err(format!(
                "unknown photo worker task {other:?} (small, big-compress or big-decompress)"
            )
            .into())
        }
    }
    Ok(r)
}

/// The 768x512 figures of one backend.
#[derive(Debug, Clone, Serialize)]
pub struct SmallRow {
    /// Backend asked for.
    pub backend: String,
    /// Image size.
    pub width: u32,
    /// Image size.
    pub height: u32,
    /// Median compress seconds.
    pub compress_s: f64,
    /// Median decompress seconds.
    pub decompress_s: f64,
    /// Target seconds per direction (compress, and decompress unless `target_decompress_s` says).
    pub target_s: f64,
    /// Target decompress seconds.
    pub target_decompress_s: f64,
    /// Timed rounds (after one warm-up).
    pub runs: usize,
    /// File bytes.
    pub bytes: u64,
    /// Bits per pixel.
    pub bpp: f64,
    /// PSNR (dB).
    pub psnr: f64,
    /// Model load seconds.
    pub load_s: f64,
    /// Peak RSS of the worker, MiB.
    pub peak_rss_mib: f64,
    /// Every time, (compress, decompress) seconds.
    pub times: Vec<(f64, f64)>,
}

/// The big-image figures of one backend and direction.
#[derive(Debug, Clone, Serialize)]
pub struct BigRow {
    /// Backend asked for.
    pub backend: String,
    /// `compress` or `decompress`.
    pub direction: String,
    /// Image size.
    pub width: u32,
    /// Image size.
    pub height: u32,
    /// Wall seconds of the one call.
    pub seconds: f64,
    /// Peak RSS (VmHWM) of the process, MiB.
    pub peak_rss_mib: f64,
    /// RSS after the model was loaded, before the image was made / the file read, MiB.
    pub rss_before_mib: f64,
    /// File bytes.
    pub bytes: u64,
    /// PSNR (dB), decompress only.
    pub psnr: Option<f64>,
}

/// The photo speed section.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PhotoReport {
    /// Bundle name.
    pub model: String,
    /// Its directory.
    pub bundle: String,
    /// The level coded (the bundle's default).
    pub quality: u8,
    /// Worker threads (`Options::default()`, one per core).
    pub threads: usize,
    /// 768x512 rows, per backend.
    pub small: Vec<SmallRow>,
    /// Big image rows, per backend and direction.
    pub big: Vec<BigRow>,
    /// What was not measured and why.
    pub notes: Vec<String>,
}

/// The photo bundle under `models`: a version-2 RGB model of any size, `photo-conv` when there is one,
/// else the first in name order.
pub fn photo_bundle(models: &Path) -> Option<PathBuf> {
    photo_bundles(models).into_iter().next()
}

/// Every version-2 RGB bundle of any size under `models`: `photo-conv` first, then by name.
pub fn photo_bundles(models: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for dir in crate::rd::model_dirs(models) {
        let Ok(b) = aez::Bundle::from_dir(&dir) else {
            continue;
        };
        let l = b.layout();
        if b.manifest().bundle_version >= 2 && l.image_channels == 3 && l.fixed_size().is_none() {
            found.push((b.name() != "photo-conv", b.name().to_string(), dir));
        }
    }
    found.sort();
    found.into_iter().map(|(_, _, d)| d).collect()
}

/// The ONNX Runtime library: `given` (ORT_DYLIB_PATH), else the one of the Python `onnxruntime`
/// package, as benches/run.sh finds it.
pub fn find_ort(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = given.filter(|p| p.is_file()) {
        return Some(p.to_path_buf());
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("capi");
    let mut libs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("libonnxruntime.so"))
        })
        .collect();
    libs.sort();
    libs.into_iter().next()
}

fn run_worker(a: &WorkerArgs, ort: Option<&Path>) -> BoxResult<PhotoWorker> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args(["photo-worker", "--task", &a.task, "--backend", &a.backend])
        .arg("--bundle")
        .arg(&a.bundle)
        .arg("--kodak")
        .arg(&a.kodak)
        .arg("--file")
        .arg(&a.file)
        .arg("--reps")
        .arg(a.reps.to_string())
        .arg("--big")
        .arg(format!("{}x{}", a.big.0, a.big.1))
        .env("AEZ_BACKEND", &a.backend);
    match ort {
        Some(p) => cmd.env("ORT_DYLIB_PATH", p),
        None => cmd.env_remove("ORT_DYLIB_PATH"),
    };
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!(
            "photo worker {}/{} failed: {}",
            a.task,
            a.backend,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().ok_or("photo worker printed nothing")?;
    Ok(serde_json::from_str(line)?)
}

/// Measures the photo speed section with the bundle at `bundle`: every backend (tract; ONNX Runtime when
/// `ort` is given), the 768x512 image (`reps` timed rounds) and, unless `big` is `None`, the big image.
pub fn measure(
    bundle: &Path,
    kodak: &Path,
    ort: Option<&Path>,
    reps: usize,
    big: Option<(u32, u32)>,
) -> BoxResult<PhotoReport> {
    let b = aez::Bundle::from_dir(bundle)?;
    let mut rep = PhotoReport {
        model: b.name().to_string(),
        bundle: bundle.display().to_string(),
        quality: b.default_level().quality,
        threads: aez::Options::default().threads,
        ..PhotoReport::default()
    };
    let hyper = b.manifest().hyper.is_some();
    drop(b);
    if !kodak.join(SMALL_IMAGE).is_file() {
        rep.notes.push(format!(
            "photo speed not measured: {} not found",
            kodak.join(SMALL_IMAGE).display()
        ));
        return Ok(rep);
    }
    let mut backends = vec!["tract"];
    if ort.is_some() {
        backends.push("onnxruntime");
    } else {
        rep.notes.push(
            "ONNX Runtime not found (ORT_DYLIB_PATH unset and no Python onnxruntime package): its rows are missing"
                .into(),
        );
    }
    let dir = std::env::temp_dir().join(format!("aez-bench-photo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for backend in backends {
        let args = |task: &str| WorkerArgs {
            task: task.into(),
            backend: backend.into(),
            bundle: bundle.to_path_buf(),
            kodak: kodak.to_path_buf(),
            file: dir.join(format!("big-{backend}.aez")),
            reps,
            big: big.unwrap_or(BIG_SIZE),
        };
        eprintln!("  photo speed: {backend}, {SMALL_IMAGE}, {reps} rounds");
        match run_worker(&args("small"), ort) {
            Ok(w) => {
                let mut c = w.compress_s.clone();
                let mut d = w.decompress_s.clone();
                rep.small.push(SmallRow {
                    backend: backend.into(),
                    width: w.width,
                    height: w.height,
                    compress_s: median(&mut c),
                    decompress_s: median(&mut d),
                    target_s: if backend == "tract" {
                        TARGET_SMALL_S.0
                    } else {
                        TARGET_SMALL_S.1
                    },
                    target_decompress_s: match (hyper, backend == "tract") {
                        (true, true) => TARGET_HYPER_DECODE_S.0,
                        (true, false) => TARGET_HYPER_DECODE_S.1,
                        (false, true) => TARGET_SMALL_S.0,
                        (false, false) => TARGET_SMALL_S.1,
                    },
                    runs: w.compress_s.len(),
                    bytes: w.bytes,
                    bpp: 8.0 * w.bytes as f64 / (f64::from(w.width) * f64::from(w.height)),
                    psnr: w.psnr.unwrap_or(f64::NAN),
                    load_s: w.load_s,
                    peak_rss_mib: w.peak_rss_kib as f64 / 1024.0,
                    times: w
                        .compress_s
                        .iter()
                        .copied()
                        .zip(w.decompress_s.iter().copied())
                        .collect(),
                });
            }
            Err(e) => rep.notes.push(e.to_string()),
        }
        let Some((bw, bh)) = big else { continue };
        for (task, direction) in [
            ("big-compress", "compress"),
            ("big-decompress", "decompress"),
        ] {
            eprintln!("  photo speed: {backend}, {bw}x{bh}, {direction}");
            match run_worker(&args(task), ort) {
                Ok(w) => rep.big.push(BigRow {
                    backend: backend.into(),
                    direction: direction.into(),
                    width: w.width,
                    height: w.height,
                    seconds: w
                        .compress_s
                        .first()
                        .or(w.decompress_s.first())
                        .copied()
                        .unwrap_or(f64::NAN),
                    peak_rss_mib: w.peak_rss_kib as f64 / 1024.0,
                    rss_before_mib: w.rss_before_kib as f64 / 1024.0,
                    bytes: w.bytes,
                    psnr: w.psnr,
                }),
                Err(e) => {
                    rep.notes.push(e.to_string());
                    break; // no file to decompress
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(rep)
}

/// The Markdown of the section: the 768x512 table and the big-image table, targets beside the figures.
pub fn md(r: &PhotoReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Model `{}` (`{}`) at its default level (quality {}), `Options::default()` ({} worker threads), \
         release build; each line below is its own process.\n",
        r.model, r.bundle, r.quality, r.threads
    );
    if !r.small.is_empty() {
        s.push_str(
            "One 768x512 photo (`kodim01.png`): median wall time of `aez::compress_with` and of \
             `aez::decompress` after one warm-up:\n\n\
             | backend | image | compress (s) | decompress (s) | target (compress, decompress) | met | runs | bytes | bpp | PSNR (dB) | model load (s) | peak RSS (MiB) |\n\
             |---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|\n",
        );
        for x in &r.small {
            let met = x.compress_s < x.target_s && x.decompress_s < x.target_decompress_s;
            let _ = writeln!(
                s,
                "| {} | {}x{} | {:.3} | {:.3} | < {} s, < {} s | {} | {} | {} | {:.4} | {:.2} | {:.3} | {:.1} |",
                x.backend,
                x.width,
                x.height,
                x.compress_s,
                x.decompress_s,
                x.target_s,
                x.target_decompress_s,
                if met { "yes" } else { "no" },
                x.runs,
                x.bytes,
                x.bpp,
                x.psnr,
                x.load_s,
                x.peak_rss_mib
            );
        }
    }
    if !r.big.is_empty() {
        let target_mib = TARGET_PEAK_BYTES / (1024.0 * 1024.0);
        let _ = writeln!(
            s,
            "\nOne big RGB photo made of the Kodak images (768x512 tiles, mirrored; `photo::big_image`), \
             compressed once in one process and decompressed once in another: wall time of the call and \
             the process's peak RSS (VmHWM; it includes the {:.1} MiB of the image's own samples), with \
             its RSS before the image was made (compress) or the file read (decompress), i.e. after the \
             model was loaded:\n\n\
             | backend | direction | image | wall (s) | peak RSS (MiB) | RSS before (MiB) | peak - before (MiB) | target peak | met | bytes | PSNR (dB) |\n\
             |---|---|---|---:|---:|---:|---:|---:|---|---:|---:|",
            r.big
                .first()
                .map_or(0.0, |b| f64::from(b.width) * f64::from(b.height) * 3.0 / 1048576.0)
        );
        for b in &r.big {
            let _ = writeln!(
                s,
                "| {} | {} | {}x{} | {:.2} | {:.1} | {:.1} | {:.1} | < 1 GB ({target_mib:.0} MiB) | {} | {} | {} |",
                b.backend,
                b.direction,
                b.width,
                b.height,
                b.seconds,
                b.peak_rss_mib,
                b.rss_before_mib,
                b.peak_rss_mib - b.rss_before_mib,
                if b.peak_rss_mib * 1048576.0 < TARGET_PEAK_BYTES {
                    "yes"
                } else {
                    "no"
                },
                b.bytes,
                b.psnr.map_or("-".into(), |p| format!("{p:.2}"))
            );
        }
    }
    for n in &r.notes {
        let _ = writeln!(s, "\n- note: {n}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder of three small PNGs (two landscape, one portrait) of known pixels.
    fn folder() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("aez-bench-photo-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        for (i, (w, h)) in [(768u32, 512u32), (512, 768), (768, 512)]
            .iter()
            .enumerate()
        {
            let img = RgbImage::from_fn(*w, *h, |x, y| {
                image::Rgb([(x % 251) as u8, (y % 241) as u8, i as u8 * 80])
            });
            img.save(dir.join(format!("kodim{:02}.png", i + 1)))
                .expect("write png");
        }
        dir
    }

    #[test]
    fn big_image_tiles_mirror_and_crop_deterministically() {
        let dir = folder();
        let a = big_image(&dir, 2000, 1100).expect("big image");
        let b = big_image(&dir, 2000, 1100).expect("big image");
        assert_eq!(a.dimensions(), (2000, 1100));
        assert_eq!(a.as_raw(), b.as_raw());
        // Tile (0, 0): image 1 as it is.
        assert_eq!(a.get_pixel(5, 7).0, [5, 7, 0]);
        // Tile (1, 0): image 2 (portrait, turned a quarter) mirrored left-right: blue 80.
        assert_eq!(a.get_pixel(768 + 3, 4).0[2], 80);
        // Tile (2, 0): image 3, not mirrored, cropped at the right edge.
        assert_eq!(a.get_pixel(1536 + 9, 2).0, [9, 2, 160]);
        // Tile (0, 1): image 1 again (k = 3), mirrored top-bottom.
        assert_eq!(a.get_pixel(6, 512).0, [6, (511 % 241) as u8, 0]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
