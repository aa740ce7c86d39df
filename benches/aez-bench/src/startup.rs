//! One image at a time, as whole processes (issue "start-up as fast as the classical CLIs"): `aez compress`
//! and `aez decompress` of one file, interleaved with `cwebp -m 6` and `dwebp` on the same image, and the
//! medians and their ratio; for a 256x256 colour image also the time of the networks alone, measured in a
//! worker process with the sessions already built, so that what a run costs beyond its networks shows.
//!
//! Images: a 28x28 gray one (`fixtures/images/fmnist-t10k-00000.png`, the default model's size) and the
//! central 256x256 of Kodak's kodim23. Per backend (tract; ONNX Runtime when its library is known), as
//! `AEZ_BACKEND` selects it for the CLI. Each round runs the four commands once, in turn; a warm-up
//! round is not counted. `AEZ_PROFILE=1` on one more run of each gives the phases (printed with `-v`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use image::DynamicImage;
use serde::{Deserialize, Serialize};

use crate::speed::median;
use crate::BoxResult;

/// The 256x256 colour image: the centre of this Kodak photo.
pub const COLOUR_SOURCE: &str = "kodim23.png";
/// cwebp's quality: the one the one-image comparison uses (its time hardly depends on it).
pub const CWEBP_QUALITY: &str = "75";

/// How the table is made (for BENCHMARKS.md).
pub const METHOD: &str = "`aez compress in out.aez` and `aez decompress out.aez back.png` of one image as whole \
processes (the release binary, embedded models, no `-m`; one row also gives `--quality 10`, which takes a 28x28 \
gray image to `fmnist-conv-sets`), interleaved round by round with `cwebp -quiet -m 6 -q 75` \
and `dwebp -quiet` (Debian's `webp`) on the same image; medians of the wall times of the rounds after a warm-up \
round; ratio = aez / libwebp. Backend as `AEZ_BACKEND` sets it. For the 256x256 colour image, `beyond the networks` \
is the whole-process median less the median time of the encoder (decoder) network alone on that image in a warm \
process (`aez-bench startup-worker`: sessions built, no quantization or entropy coding).";

#[derive(Debug, clap::Args)]
pub struct StartupArgs {
    /// The aez binary (built with `cargo build --release`).
    #[arg(long, default_value = "target/release/aez")]
    pub aez: PathBuf,
    /// Timed rounds per image and backend (each runs the four commands once).
    #[arg(long, default_value_t = 15)]
    pub runs: usize,
    /// The Kodak folder (for the 256x256 colour image). Env AEZ_BENCH_KODAK.
    #[arg(long, env = "AEZ_BENCH_KODAK", default_value = "../shared/data/kodak")]
    pub kodak: PathBuf,
    /// ONNX Runtime library (default: ORT_DYLIB_PATH); without it only tract is measured.
    #[arg(long, env = "ORT_DYLIB_PATH")]
    pub ort_lib: Option<PathBuf>,
    /// Print each run's AEZ_PROFILE phases too.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Also write the results as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}

/// One image on one backend: medians in milliseconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StartupRow {
    pub image: String,
    pub backend: String,
    pub runs: usize,
    pub aez_compress_ms: f64,
    pub cwebp_ms: f64,
    pub aez_decompress_ms: f64,
    pub dwebp_ms: f64,
    pub aez_bytes: u64,
    pub webp_bytes: u64,
    /// The networks alone (encoder, decoder) in a warm process, for the colour image.
    pub encoder_ms: Option<f64>,
    pub decoder_ms: Option<f64>,
    /// The AEZ_PROFILE phases of one more run of each command (phase, ms).
    pub compress_phases: Vec<(String, f64)>,
    pub decompress_phases: Vec<(String, f64)>,
}

/// The networks' own time in a process whose sessions are built (printed by the worker as JSON).
#[derive(Debug, Serialize, Deserialize)]
pub struct NetworkTimes {
    pub backend: String,
    pub model: String,
    pub encoder_ms: f64,
    pub decoder_ms: f64,
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}

/// Runs `cmd` to completion, failing on a non-zero status (with its stderr).
fn run_ok(cmd: &mut Command, what: &str) -> BoxResult<std::process::Output> {
    let out = cmd
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what}: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(out)
}

/// [`run_ok`]'s wall time in ms.
fn timed(cmd: &mut Command, what: &str) -> BoxResult<f64> {
    let t = Instant::now();
    run_ok(cmd, what)?;
    Ok(ms(t))
}

/// The `aez: profile: PHASE: MS ms` lines of a run's stderr.
fn phases(stderr: &[u8]) -> Vec<(String, f64)> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("aez: profile: "))
        .filter_map(|l| {
            let (phase, t) = l.rsplit_once(": ")?;
            Some((phase.to_string(), t.strip_suffix(" ms")?.parse().ok()?))
        })
        .collect()
}

fn aez_cmd(a: &StartupArgs, backend: &str) -> Command {
    let mut c = Command::new(&a.aez);
    c.env("AEZ_BACKEND", backend).env_remove("AEZ_PROFILE");
    if backend == "onnxruntime" {
        if let Some(lib) = &a.ort_lib {
            c.env("ORT_DYLIB_PATH", lib);
        }
    } else {
        c.env_remove("ORT_DYLIB_PATH");
    }
    c
}

fn profiled(mut c: Command, what: &str) -> BoxResult<Vec<(String, f64)>> {
    Ok(phases(&run_ok(c.env("AEZ_PROFILE", "1"), what)?.stderr))
}

/// Measures one image on one backend.
fn measure(
    a: &StartupArgs,
    image: &Path,
    quality: Option<u8>,
    label: &str,
    backend: &str,
    dir: &Path,
) -> BoxResult<StartupRow> {
    let z = dir.join("one.aez");
    let back = dir.join("back.png");
    let webp = dir.join("one.webp");
    let wback = dir.join("wback.png");
    let compress = || {
        let mut c = aez_cmd(a, backend);
        c.arg("compress").arg("-f");
        if let Some(q) = quality {
            c.args(["--quality", &q.to_string()]);
        }
        c.arg(image).arg(&z);
        c
    };
    let decompress = || {
        let mut c = aez_cmd(a, backend);
        c.arg("decompress").arg("-f").arg(&z).arg(&back);
        c
    };
    let cwebp = || {
        let mut c = Command::new("cwebp");
        c.args(["-quiet", "-m", "6", "-q", CWEBP_QUALITY])
            .arg(image)
            .arg("-o")
            .arg(&webp);
        c
    };
    let dwebp = || {
        let mut c = Command::new("dwebp");
        c.arg("-quiet").arg(&webp).arg("-o").arg(&wback);
        c
    };
    let (mut tc, mut tw, mut td, mut tdw) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..=a.runs.max(1) {
        let c = timed(&mut compress(), "aez compress")?;
        let w = timed(&mut cwebp(), "cwebp")?;
        let d = timed(&mut decompress(), "aez decompress")?;
        let dw = timed(&mut dwebp(), "dwebp")?;
        if round > 0 {
            // round 0 warms the page cache
            tc.push(c);
            tw.push(w);
            td.push(d);
            tdw.push(dw);
        }
    }
    let compress_phases = profiled(compress(), "aez compress (profiled)")?;
    let decompress_phases = profiled(decompress(), "aez decompress (profiled)")?;
    Ok(StartupRow {
        image: label.to_string(),
        backend: backend.to_string(),
        runs: tc.len(),
        aez_compress_ms: median(&mut tc),
        cwebp_ms: median(&mut tw),
        aez_decompress_ms: median(&mut td),
        dwebp_ms: median(&mut tdw),
        aez_bytes: std::fs::metadata(&z)?.len(),
        webp_bytes: std::fs::metadata(&webp)?.len(),
        encoder_ms: None,
        decoder_ms: None,
        compress_phases,
        decompress_phases,
    })
}

/// The worker: the embedded bundle `model` on `backend`, sessions built by a warm-up, then the median of
/// `reps` encoder and decoder runs on `image` (networks only: no quantization or entropy coding).
pub fn worker(backend: &str, model: &str, image: &Path, reps: usize) -> BoxResult<NetworkTimes> {
    let choice: aez::BackendChoice = backend.parse()?;
    let bundle =
        aez::Bundle::embedded(model).ok_or_else(|| format!("no embedded bundle {model}"))??;
    let m = aez::Model::load(bundle, choice)?;
    let rgb = image::open(image)
        .map_err(|e| format!("cannot read {}: {e}", image.display()))?
        .into_rgb8();
    let (w, h) = rgb.dimensions();
    let px: Vec<f32> = rgb.as_raw().iter().map(|&v| f32::from(v) / 255.0).collect();
    let (mut te, mut td) = (Vec::new(), Vec::new());
    for round in 0..=reps.max(1) {
        let t = Instant::now();
        let (z, shape) = m.encode_images(&px, 1, w, h)?;
        let e = ms(t);
        let t = Instant::now();
        let y = m.decode_latents(&z, 1, shape)?;
        let d = ms(t);
        std::hint::black_box(y);
        if round > 0 {
            te.push(e);
            td.push(d);
        }
    }
    Ok(NetworkTimes {
        backend: m.backend().to_string(),
        model: model.to_string(),
        encoder_ms: median(&mut te),
        decoder_ms: median(&mut td),
    })
}

fn network_times(a: &StartupArgs, backend: &str, image: &Path) -> BoxResult<NetworkTimes> {
    let exe = std::env::current_exe()?;
    let mut c = Command::new(exe);
    c.args([
        "startup-worker",
        "--backend",
        backend,
        "--model",
        "photo-conv",
    ])
    .arg("--image")
    .arg(image)
    .args(["--reps", &a.runs.max(1).to_string()]);
    if backend == "onnxruntime" {
        if let Some(lib) = &a.ort_lib {
            c.env("ORT_DYLIB_PATH", lib);
        }
    }
    let out = run_ok(&mut c, &format!("startup worker ({backend})"))?;
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The colour test image: the centre 256x256 of kodim23, written to `dir`.
fn colour_image(kodak: &Path, dir: &Path) -> BoxResult<PathBuf> {
    let src = kodak.join(COLOUR_SOURCE);
    let img = image::open(&src).map_err(|e| format!("cannot read {}: {e}", src.display()))?;
    let (w, h) = (img.width(), img.height());
    let crop = DynamicImage::ImageRgb8(
        img.crop_imm((w - 256) / 2, (h - 256) / 2, 256, 256)
            .into_rgb8(),
    );
    let p = dir.join("kodim23-256.png");
    crop.save(&p)?;
    Ok(p)
}

/// Every row: both images on every backend in reach.
pub fn run(a: &StartupArgs) -> BoxResult<Vec<StartupRow>> {
    for tool in ["cwebp", "dwebp"] {
        if Command::new(tool).arg("-version").output().is_err() {
            return Err(format!("{tool} is not installed (Debian package webp)").into());
        }
    }
    let tmp = std::env::temp_dir().join(format!("aez-startup-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let gray =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/images/fmnist-t10k-00000.png");
    // (image, --quality, label, colour). Quality 10 of a 28x28 gray image goes to fmnist-conv-sets, the
    // embedded bundle with the largest manifest (64 table sets per level).
    let mut images = vec![
        (
            gray.clone(),
            None,
            "28x28 gray (Fashion-MNIST)".to_string(),
            false,
        ),
        (
            gray,
            Some(10),
            "28x28 gray, `--quality 10` (fmnist-conv-sets)".to_string(),
            false,
        ),
    ];
    match colour_image(&a.kodak, &tmp) {
        Ok(p) => images.push((p, None, "256x256 RGB (kodim23 centre)".to_string(), true)),
        Err(e) => eprintln!("startup: no colour image: {e}"),
    }
    let mut backends = vec!["tract"];
    if a.ort_lib.is_some() {
        backends.push("onnxruntime");
    } else {
        eprintln!("startup: ONNX Runtime not measured (no ORT_DYLIB_PATH)");
    }
    let mut rows = Vec::new();
    for backend in &backends {
        for (img, quality, label, colour) in &images {
            let mut row = measure(a, img, *quality, label, backend, &tmp)?;
            if *colour {
                let n = network_times(a, backend, img)?;
                row.encoder_ms = Some(n.encoder_ms);
                row.decoder_ms = Some(n.decoder_ms);
            }
            rows.push(row);
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(rows)
}

/// The BENCHMARKS.md table of `rows`.
pub fn table(rows: &[StartupRow]) -> String {
    let mut s = String::from(
        "| image | backend | aez compress | cwebp -m 6 | ratio | aez decompress | dwebp | ratio | beyond the networks (c / d) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows {
        let beyond = match (r.encoder_ms, r.decoder_ms) {
            (Some(e), Some(d)) => format!(
                "{:.1} / {:.1} ms",
                r.aez_compress_ms - e,
                r.aez_decompress_ms - d
            ),
            _ => "-".into(),
        };
        s.push_str(&format!(
            "| {} | {} | {:.1} ms | {:.1} ms | {:.2}x | {:.1} ms | {:.1} ms | {:.2}x | {beyond} |\n",
            r.image,
            r.backend,
            r.aez_compress_ms,
            r.cwebp_ms,
            r.aez_compress_ms / r.cwebp_ms,
            r.aez_decompress_ms,
            r.dwebp_ms,
            r.aez_decompress_ms / r.dwebp_ms,
        ));
    }
    s
}

/// The phases of each row's profiled runs, as a table per command.
pub fn phase_table(rows: &[StartupRow]) -> String {
    let mut s = String::new();
    for r in rows {
        for (cmd, ph) in [
            ("compress", &r.compress_phases),
            ("decompress", &r.decompress_phases),
        ] {
            let parts: Vec<String> = ph.iter().map(|(p, t)| format!("{p} {t:.2}")).collect();
            s.push_str(&format!(
                "- {} on {}, `aez {cmd}` (ms): {}\n",
                r.image,
                r.backend,
                parts.join("; ")
            ));
        }
    }
    s
}
