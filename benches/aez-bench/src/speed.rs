//! Speed: images per second of aez (each backend in its own process) against PNG on the same images, peak
//! memory, and the latency of the `aez` CLI on one image. Every measurement is repeated; medians are quoted.
//!
//! aez is measured twice per backend: with one worker thread per batch (`Options::threads` = 1) and with
//! the default (`Options::default()`: one worker per core), and the report gives the ratio of the two.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::codecs::{png_decode, png_encode};
use crate::data::Dataset;
use crate::BoxResult;

/// What one worker process measured (one pass over the images).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerResult {
    /// "png" or "aez".
    pub task: String,
    /// Backend as the model reports it ("-" for PNG).
    pub backend: String,
    /// Model name ("-" for PNG).
    pub model: String,
    /// aez: `Options::threads` of the run (PNG: 1, it runs on the calling thread).
    #[serde(default)]
    pub threads: usize,
    /// Images.
    pub images: usize,
    /// Seconds to load the model (0 for PNG).
    pub load_s: f64,
    /// Seconds to encode all images.
    pub encode_s: f64,
    /// Seconds to decode all images.
    pub decode_s: f64,
    /// Bytes produced (all images).
    pub bytes: u64,
    /// Peak resident memory of the worker process (VmHWM), KiB.
    pub peak_rss_kib: u64,
}

/// The peak resident set size of this process in KiB (0 when /proc is not there).
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// The aez options of a speed pass: the default ones (one worker thread per core) when `threads` is
/// `None`, else the default ones with that many worker threads.
pub fn aez_options(threads: Option<usize>) -> aez::Options {
    let o = aez::Options::default();
    match threads {
        Some(n) => o.with_threads(n),
        None => o,
    }
}

/// Runs one worker pass in this process; `threads` as in [`aez_options`] (aez only).
pub fn worker(
    ds: &Dataset,
    task: &str,
    backend: &str,
    threads: Option<usize>,
) -> BoxResult<WorkerResult> {
    match task {
        "png" => {
            let t = Instant::now();
            let mut files = Vec::with_capacity(ds.images.len());
            for img in &ds.images {
                files.push(png_encode(img, png::Compression::High)?);
            }
            let encode_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let mut n = 0usize;
            for f in &files {
                n += png_decode(f)?.len();
            }
            let decode_s = t.elapsed().as_secs_f64();
            if n != ds.images.iter().map(|i| i.data.len()).sum::<usize>() {
                return Err("PNG decoded a different number of samples".into());
            }
            Ok(WorkerResult {
                task: "png".into(),
                backend: "-".into(),
                model: "-".into(),
                threads: 1,
                images: ds.images.len(),
                load_s: 0.0,
                encode_s,
                decode_s,
                bytes: files.iter().map(|f| f.len() as u64).sum(),
                peak_rss_kib: peak_rss_kib(),
            })
        }
        "aez" => {
            let choice: aez::BackendChoice = backend.parse()?;
            let t = Instant::now();
            let model = aez::Model::load(aez::Bundle::embedded_default()?, choice)?;
            let load_s = t.elapsed().as_secs_f64();
            let options = aez_options(threads);
            let t = Instant::now();
            let mut enc = aez::Encoder::new(Vec::new(), &model, options.clone())?;
            for img in &ds.images {
                enc.push_pixels(&img.data)?;
            }
            let stream = enc.finish()?;
            let encode_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let mut dec = aez::Decoder::new(&stream[..], &model, options.clone())?;
            let mut n = 0usize;
            while let Some(px) = dec.next_pixels()? {
                n += usize::from(!px.is_empty());
            }
            let decode_s = t.elapsed().as_secs_f64();
            if n != ds.images.len() {
                return Err(format!("aez decoded {n} images of {}", ds.images.len()).into());
            }
            Ok(WorkerResult {
                task: "aez".into(),
                backend: model.backend().to_string(),
                model: model.bundle().name().to_string(),
                threads: options.threads,
                images: ds.images.len(),
                load_s,
                encode_s,
                decode_s,
                bytes: stream.len() as u64,
                peak_rss_kib: peak_rss_kib(),
            })
        }
        other => Err(format!("unknown worker task {other:?} (png or aez)").into()),
    }
}

/// One configuration of the speed table and its repeated measurements.
#[derive(Debug, Clone, Serialize)]
pub struct SpeedRow {
    /// "PNG encode / decode (...)" or "aez compress / decompress (tract, 1 thread)".
    pub name: String,
    /// Backend / model details.
    pub detail: String,
    /// aez: the backend asked for ("tract", "onnxruntime"); None for PNG.
    pub backend: Option<String>,
    /// Worker threads per batch (`Options::threads`); 1 for PNG.
    pub threads: usize,
    /// aez: whether this is the default `Options` (one worker per core) rather than `with_threads(1)`.
    pub all_cores: bool,
    /// Images per pass.
    pub images: usize,
    /// Median images per second, encode.
    pub encode_ips: f64,
    /// Median images per second, decode.
    pub decode_ips: f64,
    /// Median model load seconds.
    pub load_s: f64,
    /// Median peak RSS, MiB.
    pub peak_rss_mib: f64,
    /// Encode speed / PNG's (same run).
    pub encode_vs_png: f64,
    /// Decode speed / PNG's.
    pub decode_vs_png: f64,
    /// aez, default threads: encode speed / the same backend's 1-thread encode speed (same run).
    pub encode_vs_1_thread: Option<f64>,
    /// aez, default threads: decode speed / the same backend's 1-thread decode speed (same run).
    pub decode_vs_1_thread: Option<f64>,
    /// Runs.
    pub runs: usize,
}

/// Single-image CLI latency of one backend.
#[derive(Debug, Clone, Serialize)]
pub struct CliRow {
    /// Backend.
    pub backend: String,
    /// Median ms from process start to exit, `aez compress one.png one.aez`.
    pub compress_ms: f64,
    /// Median ms, `aez decompress one.aez one.png`.
    pub decompress_ms: f64,
    /// Runs.
    pub runs: usize,
}

/// The whole speed section.
#[derive(Debug, Clone, Serialize, Default)]
pub struct SpeedReport {
    /// Throughput rows (PNG first).
    pub rows: Vec<SpeedRow>,
    /// CLI latency rows.
    pub cli: Vec<CliRow>,
    /// What could not be measured and why.
    pub notes: Vec<String>,
}

/// The median of `v` (NaN when empty).
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// One worker process to run each round.
#[derive(Debug, Clone, Copy)]
struct Config {
    /// "png" or "aez".
    task: &'static str,
    /// "-", "tract" or "onnxruntime".
    backend: &'static str,
    /// `Some(1)`: `with_threads(1)`; `None`: the default options.
    threads: Option<usize>,
}

fn run_worker(
    exe: &Path,
    data: &Path,
    limit: Option<usize>,
    c: Config,
    ort: Option<&Path>,
) -> BoxResult<WorkerResult> {
    let mut cmd = Command::new(exe);
    cmd.args([
        "speed-worker",
        "--task",
        c.task,
        "--backend",
        c.backend,
        "--data",
    ])
    .arg(data)
    .env("AEZ_BACKEND", c.backend);
    if let Some(n) = c.threads {
        cmd.arg("--threads").arg(n.to_string());
    }
    if let Some(n) = limit {
        cmd.arg("--limit").arg(n.to_string());
    }
    match ort {
        Some(p) => cmd.env("ORT_DYLIB_PATH", p),
        None => cmd.env_remove("ORT_DYLIB_PATH"),
    };
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(format!(
            "worker {}/{}/{} failed: {}",
            c.task,
            c.backend,
            c.threads
                .map_or("default".to_string(), |n| format!("{n} thread(s)")),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().last().ok_or("worker printed nothing")?;
    Ok(serde_json::from_str(line)?)
}

/// Measures throughput (workers interleaved, `reps` rounds) and CLI latency (`cli_reps` runs per backend).
/// `limit`: the workers use only the first N images of `data` (as `ds` was loaded).
pub fn measure(
    ds: &Dataset,
    data: &Path,
    limit: Option<usize>,
    aez_cli: &Path,
    ort: Option<&Path>,
    reps: usize,
    cli_reps: usize,
) -> BoxResult<SpeedReport> {
    let exe = std::env::current_exe()?;
    let mut rep = SpeedReport::default();
    let mut backends = vec!["tract"];
    if ort.is_some() {
        backends.push("onnxruntime");
    } else {
        rep.notes
            .push("ONNX Runtime not found (set ORT_DYLIB_PATH): its rows are missing".into());
    }
    let cores = aez::Options::default().threads;
    if cores == 1 {
        rep.notes.push(
            "one core available: the default options run one worker thread, so only the 1-thread rows are measured"
                .into(),
        );
    }
    let mut configs = vec![Config {
        task: "png",
        backend: "-",
        threads: None,
    }];
    for b in backends {
        configs.push(Config {
            task: "aez",
            backend: b,
            threads: Some(1),
        });
        if cores > 1 {
            configs.push(Config {
                task: "aez",
                backend: b,
                threads: None,
            });
        }
    }
    let mut results: Vec<Vec<WorkerResult>> = vec![Vec::new(); configs.len()];
    for round in 0..reps {
        for (i, c) in configs.iter().enumerate() {
            match run_worker(&exe, data, limit, *c, ort) {
                Ok(r) => results[i].push(r),
                Err(e) => rep.notes.push(format!("round {round}: {e}")),
            }
        }
        eprintln!("  speed round {}/{reps} done", round + 1);
    }
    let med = |v: &[WorkerResult], f: &dyn Fn(&WorkerResult) -> f64| {
        let mut x: Vec<f64> = v.iter().map(f).collect();
        median(&mut x)
    };
    let png = &results[0];
    let png_enc = med(png, &|r| r.images as f64 / r.encode_s);
    let png_dec = med(png, &|r| r.images as f64 / r.decode_s);
    // (backend, encode, decode) of the 1-thread rows, for the ratios of the default rows.
    let mut one_thread: Vec<(&str, f64, f64)> = Vec::new();
    for (c, v) in configs.iter().zip(&results) {
        let Some(first) = v.first() else { continue };
        let enc = med(v, &|r| r.images as f64 / r.encode_s);
        let dec = med(v, &|r| r.images as f64 / r.decode_s);
        let aez = c.task != "png";
        let all_cores = aez && c.threads.is_none();
        let threads = if aez { first.threads } else { 1 };
        let threads_text = match (all_cores, threads) {
            (true, n) => format!("{n} threads = all cores, Options::default()"),
            (false, 1) => "1 thread".to_string(),
            (false, n) => format!("{n} threads"),
        };
        if aez && c.threads == Some(1) {
            one_thread.push((c.backend, enc, dec));
        }
        let base = one_thread
            .iter()
            .find(|b| all_cores && b.0 == c.backend)
            .copied();
        rep.rows.push(SpeedRow {
            name: if aez {
                format!("aez compress / decompress ({}, {threads_text})", c.backend)
            } else {
                "PNG encode / decode (png crate, Compression::High)".into()
            },
            detail: if aez {
                format!(
                    "{} on {}, {:.2} B/image (batch stream)",
                    first.model,
                    first.backend,
                    first.bytes as f64 / first.images as f64
                )
            } else {
                format!("{:.1} B/image", first.bytes as f64 / first.images as f64)
            },
            backend: aez.then(|| c.backend.to_string()),
            threads,
            all_cores,
            images: first.images,
            encode_ips: enc,
            decode_ips: dec,
            load_s: med(v, &|r| r.load_s),
            peak_rss_mib: med(v, &|r| r.peak_rss_kib as f64 / 1024.0),
            encode_vs_png: enc / png_enc,
            decode_vs_png: dec / png_dec,
            encode_vs_1_thread: base.map(|b| enc / b.1),
            decode_vs_1_thread: base.map(|b| dec / b.2),
            runs: v.len(),
        });
    }
    // CLI latency, one 28x28 image.
    if cli_reps == 0 {
        return Ok(rep);
    }
    if !aez_cli.is_file() {
        rep.notes.push(format!(
            "CLI latency not measured: {} not found (build it with cargo build --release)",
            aez_cli.display()
        ));
        return Ok(rep);
    }
    let Some(img) = ds.images.first() else {
        return Ok(rep);
    };
    let dir = std::env::temp_dir().join(format!("aez-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let input = dir.join("one.png");
    std::fs::write(&input, png_encode(img, png::Compression::High)?)?;
    let packed = dir.join("one.aez");
    let output = dir.join("back.png");
    let mut backends = vec!["tract"];
    if ort.is_some() {
        backends.push("onnxruntime");
    }
    for b in backends {
        let time = |args: &[&Path]| -> BoxResult<f64> {
            let mut cmd = Command::new(aez_cli);
            cmd.args(["--backend", b, "--force", "--quiet"]).args(args);
            match ort {
                Some(p) => cmd.env("ORT_DYLIB_PATH", p),
                None => cmd.env_remove("ORT_DYLIB_PATH"),
            };
            let t = Instant::now();
            let out = cmd.output()?;
            let ms = t.elapsed().as_secs_f64() * 1e3;
            if !out.status.success() {
                return Err(format!(
                    "aez {:?} ({b}) failed: {}",
                    args,
                    String::from_utf8_lossy(&out.stderr).trim()
                )
                .into());
            }
            Ok(ms)
        };
        let mut c = Vec::new();
        let mut d = Vec::new();
        let mut failed = None;
        for _ in 0..cli_reps {
            match time(&[Path::new("compress"), &input, &packed])
                .and_then(|x| Ok((x, time(&[Path::new("decompress"), &packed, &output])?)))
            {
                Ok((x, y)) => {
                    c.push(x);
                    d.push(y);
                }
                Err(e) => {
                    failed = Some(e.to_string());
                    break;
                }
            }
        }
        if let Some(e) = failed {
            rep.notes.push(format!("CLI latency ({b}): {e}"));
        }
        if !c.is_empty() {
            rep.cli.push(CliRow {
                backend: b.into(),
                compress_ms: median(&mut c),
                decompress_ms: median(&mut d),
                runs: c.len(),
            });
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(rep)
}

/// The `aez` binary next to this one (same profile).
pub fn sibling_aez() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(|d| d.join("aez")))
        .unwrap_or_else(|| PathBuf::from("aez"))
}
