//! Output files: CSV and JSON of every row, and the Markdown of BENCHMARKS.md and the README headline.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::curves::Matched;
use crate::photo::PhotoReport;
use crate::rd::RdRow;
use crate::speed::SpeedReport;
use crate::BoxResult;

/// Everything one run measured.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The command line.
    pub command: String,
    /// UTC date and time of the start.
    pub date: String,
    /// Machine description.
    pub machine: Vec<String>,
    /// Datasets: (name, description, source).
    pub datasets: Vec<(String, String, String)>,
    /// Rate-distortion rows of all datasets.
    pub rd: Vec<RdRow>,
    /// Matched-quality rows.
    pub matched: Vec<Matched>,
    /// Speed.
    pub speed: Option<SpeedReport>,
    /// Photo speed (each version-2 RGB model on a 768x512 and a 6000x4000 photo).
    pub photo: Vec<PhotoReport>,
    /// One image at a time as whole processes, against cwebp/dwebp (`aez-bench startup`).
    #[serde(default)]
    pub startup: Option<Vec<crate::startup::StartupRow>>,
    /// Skips and other notes.
    pub notes: Vec<String>,
    /// Plot files per dataset (relative to the repository root), (dataset, svg, png).
    pub plots: Vec<(String, String, String)>,
    /// Wall seconds of the whole run.
    pub total_seconds: f64,
    /// Criterion stage benchmarks: (stage, median ns per iteration of 256 images).
    pub stages: Vec<(String, f64)>,
}

/// The stages of `benches/stages.rs`, in order.
pub const STAGES: [&str; 8] = [
    "inference-encoder",
    "inference-decoder",
    "quantize",
    "dequantize",
    "entropy-range-encode",
    "entropy-range-decode",
    "container-write-batch",
    "container-read-batch",
];

/// Reads the median of each stage from criterion's `<dir>/stages/<stage>/new/estimates.json`.
pub fn read_stages(dir: &Path) -> Vec<(String, f64)> {
    STAGES
        .iter()
        .filter_map(|st| {
            let p = dir
                .join("stages")
                .join(st)
                .join("new")
                .join("estimates.json");
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(p).ok()?).ok()?;
            let ns = v.get("median")?.get("point_estimate")?.as_f64()?;
            Some((st.to_string(), ns))
        })
        .collect()
}

fn num(x: f64, prec: usize) -> String {
    if x.is_infinite() {
        "lossless".into()
    } else if x.is_nan() {
        "-".into()
    } else {
        format!("{x:.prec$}")
    }
}

/// Writes `rd.csv`.
pub fn write_csv(path: &Path, rows: &[RdRow]) -> BoxResult<()> {
    let mut s = String::from(
        "dataset,codec,setting,images,bytes_per_image,bpp,psnr_db,psnr_image_mean_db,ssim,lossless,single_file_bytes,seconds\n",
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{},{},{},{},{:.3},{:.5},{},{},{:.5},{},{},{:.2}",
            r.dataset,
            r.codec,
            r.setting,
            r.images,
            r.bytes,
            r.bpp,
            if r.psnr.is_finite() {
                format!("{:.4}", r.psnr)
            } else {
                "inf".into()
            },
            if r.psnr_image_mean.is_finite() {
                format!("{:.4}", r.psnr_image_mean)
            } else {
                "inf".into()
            },
            r.ssim,
            r.lossless,
            r.single_file_bytes
                .map_or(String::new(), |b| format!("{b:.3}")),
            r.seconds
        );
    }
    std::fs::write(path, s)?;
    Ok(())
}

/// The matched-quality table of one dataset.
pub fn matched_md(m: &[Matched], dataset: &str) -> String {
    let mine: Vec<&Matched> = m.iter().filter(|x| x.dataset == dataset).collect();
    let mut targets: Vec<f64> = Vec::new();
    for x in &mine {
        if !targets.contains(&x.target_db) {
            targets.push(x.target_db);
        }
    }
    let mut codecs: Vec<&str> = Vec::new();
    for x in &mine {
        if !codecs.contains(&x.codec.as_str()) {
            codecs.push(&x.codec);
        }
    }
    let mut s = String::from("| codec |");
    for t in &targets {
        let _ = write!(s, " bytes at {t} dB | aez is N x smaller |");
    }
    s.push_str("\n|---|");
    for _ in &targets {
        s.push_str("---:|---:|");
    }
    s.push('\n');
    for c in codecs {
        let _ = write!(s, "| {c} |");
        for t in &targets {
            match mine.iter().find(|x| x.codec == c && x.target_db == *t) {
                Some(x) => {
                    let b = match x.bytes {
                        Some(b) if x.note.starts_with("upper bound") => format!("<= {b:.1}"),
                        Some(b) if x.note.starts_with("lossless") => format!("{b:.1} (lossless)"),
                        Some(b) => format!("{b:.1}"),
                        None => format!("n/a: {}", x.note),
                    };
                    let r = match x.ratio_to_aez {
                        Some(r) if x.note.starts_with("upper bound") => format!("<= {r:.2}"),
                        Some(r) => format!("{r:.2}"),
                        None => "-".into(),
                    };
                    let _ = write!(s, " {b} | {r} |");
                }
                None => s.push_str(" - | - |"),
            }
        }
        s.push('\n');
    }
    s
}

/// BD-rate of each aez curve (every bundle's levels, and all of aez together) against each classical
/// codec on one dataset, with `curves::bd_rate` (the code `aez eval` prints it with).
pub fn bd_md(rows: &[RdRow], dataset: &str) -> String {
    let mine: Vec<RdRow> = rows
        .iter()
        .filter(|r| r.dataset == dataset)
        .cloned()
        .collect();
    let fams = crate::curves::families(&mine);
    let (aez, others): (Vec<&String>, Vec<&String>) =
        fams.iter().partition(|f| crate::curves::is_aez(f));
    let mut s = String::from(
        "BD-rate (percent bytes at the same PSNR, log-averaged over the PSNR range both curves cover; \
         negative: aez is smaller):\n\n| aez curve |",
    );
    for o in &others {
        let _ = write!(s, " vs {o} |");
    }
    s.push_str("\n|---|");
    for _ in &others {
        s.push_str("---:|");
    }
    s.push('\n');
    let all = crate::curves::front_of(&mine, crate::curves::is_aez);
    let mut curves: Vec<(String, Vec<(f64, f64)>)> = aez
        .iter()
        .map(|f| (f.to_string(), crate::curves::front(&mine, f)))
        .collect();
    if aez.len() > 1 {
        curves.push(("every aez model together".into(), all));
    }
    for (name, front) in curves {
        let _ = write!(s, "| {name} |");
        for o in &others {
            match crate::curves::bd_rate(&front, &crate::curves::front(&mine, o)) {
                Some((p, _)) => {
                    let _ = write!(s, " {p:+.1}% |");
                }
                None => s.push_str(" - |"),
            }
        }
        s.push('\n');
    }
    s
}

/// The table of every setting of one dataset.
pub fn rd_md(rows: &[RdRow], dataset: &str) -> String {
    let mut s = String::from(
        "| codec | setting | bytes/image | bpp | PSNR (dB) | mean image PSNR | SSIM | single .aez file |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in rows.iter().filter(|r| r.dataset == dataset) {
        let _ = writeln!(
            s,
            "| {} | {} | {:.1} | {:.4} | {} | {} | {:.4} | {} |",
            r.codec,
            r.setting,
            r.bytes,
            r.bpp,
            num(r.psnr, 2),
            num(r.psnr_image_mean, 2),
            r.ssim,
            r.single_file_bytes
                .map_or("-".into(), |b| format!("{b:.1}"))
        );
    }
    s
}

/// The speed tables: throughput, threads (default vs 1 thread per backend), CLI latency.
pub fn speed_md(sp: &SpeedReport) -> String {
    let mut s = String::from(
        "| what | detail | images | encode img/s | decode img/s | encode vs PNG | decode vs PNG | model load (s) | peak RSS (MiB) | runs |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for r in &sp.rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {:.0} | {:.2}x | {:.2}x | {:.3} | {:.1} | {} |",
            r.name,
            r.detail,
            r.images,
            r.encode_ips,
            r.decode_ips,
            r.encode_vs_png,
            r.decode_vs_png,
            r.load_s,
            r.peak_rss_mib,
            r.runs
        );
    }
    let defaults: Vec<_> = sp.rows.iter().filter(|r| r.all_cores).collect();
    if !defaults.is_empty() {
        s.push_str("\nWorker threads per batch, per backend: 1 thread (`Options::default().with_threads(1)`) against the \
default (`Options::default()`, one worker per core), images/s (median), same run:\n\n\
| backend | compress, 1 thread | compress, all cores | ratio | decompress, 1 thread | decompress, all cores | ratio |\n\
|---|---:|---:|---:|---:|---:|---:|\n");
        for d in defaults {
            let b = d.backend.as_deref().unwrap_or("-");
            let one = sp
                .rows
                .iter()
                .find(|r| r.backend.as_deref() == Some(b) && !r.all_cores && r.threads == 1);
            let ips = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.0}"));
            let ratio = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.2}x"));
            let _ = writeln!(
                s,
                "| {b} | {} | {:.0} ({} threads) | {} | {} | {:.0} | {} |",
                ips(one.map(|r| r.encode_ips)),
                d.encode_ips,
                d.threads,
                ratio(d.encode_vs_1_thread),
                ips(one.map(|r| r.decode_ips)),
                d.decode_ips,
                ratio(d.decode_vs_1_thread),
            );
        }
    }
    if !sp.cli.is_empty() {
        s.push_str("\nSingle-image CLI latency, process start to exit (median):\n\n| backend | `aez compress one.png one.aez` (ms) | `aez decompress one.aez one.png` (ms) | runs |\n|---|---:|---:|---:|\n");
        for c in &sp.cli {
            let _ = writeln!(
                s,
                "| {} | {:.1} | {:.1} | {} |",
                c.backend, c.compress_ms, c.decompress_ms, c.runs
            );
        }
    }
    s
}

/// The README headline: the Fashion-MNIST matched-quality table, the plot and the speed ratios.
pub fn headline_md(r: &Report) -> String {
    let mut s = String::new();
    let Some((ds, desc, _)) = r.datasets.first() else {
        return s;
    };
    let _ = writeln!(
        s,
        "Bytes per image each codec needs on the {ds} test set ({desc}) at the study's PSNR (21.1 dB) and at 25 dB, \
         whole files, interpolated on each codec's curve ([BENCHMARKS.md](BENCHMARKS.md), generated by `benches/run.sh` \
         on {}):\n",
        r.date
    );
    s.push_str(&matched_md(&r.matched, ds));
    if let Some((_, svg, _)) = r.plots.iter().find(|p| &p.0 == ds) {
        let _ = writeln!(s, "\n![rate-distortion on {ds}]({svg})");
    }
    if let Some(sp) = &r.speed {
        s.push('\n');
        for row in &sp.rows {
            if row.backend.is_none() {
                continue;
            }
            let _ = write!(
                s,
                "- {}: {:.0} images/s compress ({:.2}x PNG encode), {:.0} images/s decompress ({:.2}x PNG decode)",
                row.name, row.encode_ips, row.encode_vs_png, row.decode_ips, row.decode_vs_png
            );
            match (row.encode_vs_1_thread, row.decode_vs_1_thread) {
                (Some(e), Some(d)) => {
                    let _ = writeln!(s, "; {e:.2}x / {d:.2}x the 1-thread figures");
                }
                _ => s.push('\n'),
            }
        }
    }
    s
}

/// The whole BENCHMARKS.md.
pub fn benchmarks_md(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# aez benchmarks\n");
    let _ = writeln!(
        s,
        "Generated by `{}` on {} (UTC); the whole run took {:.1} min. Every number below is what that run printed \
         (also in `benches/results/results.json` and `rd.csv`). Do not edit by hand: rerun the command.\n",
        r.command,
        r.date,
        r.total_seconds / 60.0
    );
    s.push_str("## Machine\n\n");
    for m in &r.machine {
        let _ = writeln!(s, "- {m}");
    }
    s.push_str("\n## Data\n\n");
    for (n, d, src) in &r.datasets {
        let _ = writeln!(s, "- {n}: {d}, from `{src}`");
    }
    s.push_str(
        "\n## Method\n\n\
- The measuring code is `src/eval/` (codecs, metrics, curves, matched quality, BD-rate), the same that `aez eval` \
runs on your images (`cargo install --path . --features eval`).\n\
- Bytes are whole files: a PNG/QOI/JPEG/WebP/AVIF file per image. For aez, `bytes/image` is the whole batch stream \
(header, records, end marker) of all the images divided by their number; `single .aez file` is the mean size of a \
self-contained one-image file (`aez::compress`). bpp = 8 x bytes / pixels.\n\
- PSNR (dB) = 10 log10(255^2 / MSE) with the MSE over every sample of the set (as the training reports it); the mean \
of per-image PSNRs is shown too. SSIM: single scale, 7x7 uniform window, sample covariance, K1 = 0.01, K2 = 0.03, \
mean over windows and channels (written here; no AGPL code). Gray images that a codec stores as RGB (QOI, WebP) are \
compared after averaging the three decoded channels.\n\
- PNG: the `png` crate, `Compression::High` (speed baseline) and `PNG best` = deflate level 9 with the smallest of \
its 7 filter strategies per image. QOI: `qoi`. JPEG: mozjpeg at its defaults, as its `cjpeg` (trellis, progressive, \
optimized Huffman tables; gray as one channel, RGB as YCbCr 4:2:0), decoded by `image`. WebP lossy: libwebp via \
`webp` at method 6, as `cwebp -m 6` (gray expanded to RGB), decoded by `image`. AVIF: `rav1e` still picture + `avif-serialize`, \
i.e. what `ravif` does, with ravif's quality-to-quantizer mapping (gray as AV1 4:0:0, colour as BT.601 full-range \
4:4:4); the decoded pixels are rav1e's reconstruction, because no AV1 decoder builds offline here.\n\
- aez: every model bundle under `models/` that can take the dataset's images, tract backend, range coder. Version-1 \
(dense) bundles: those whose fixed geometry is the dataset's, one point per model on the `aez` curve. Version-2 \
bundles: those of the dataset's colour (gray or RGB) that take its sizes, one curve per bundle (`aez <bundle>`) with a \
point per quality level (`<bundle> q<quality>`), the batch stream made with `aez::Encoder::push_image` and read back \
with `aez::Decoder::next_image` (each image at its own size), the single files with `aez::compress_with`. A model that \
cannot take the dataset's images is skipped with a note.\n\
- Matched quality: each codec's Pareto front (bytes vs PSNR), log(bytes) interpolated linearly in PSNR between the \
two settings around the target; `<=` when the codec's smallest setting already exceeds the target; n/a when its best \
setting does not reach it. \"aez is N x smaller\" = codec bytes / aez bytes at the same PSNR, aez being the Pareto front of all its models \
together (every `aez` and `aez <bundle>` point).\n\
- Speed: release build, one pass over the images per worker process; the PNG, aez-tract and aez-ONNX-Runtime workers \
run interleaved, several rounds, and the medians are quoted, with ratios to PNG from the same run. Each aez backend \
runs in its own process (ort's API is process-global). PNG: one image at a time on one thread. aez: one batch stream \
(`aez::Encoder::push_pixels`, then `aez::Decoder::next_pixels`), batch size 256, in memory (images decoded from the \
IDX file before timing, no file I/O; model load timed apart), measured twice per backend: 1 worker thread per batch \
(`Options::default().with_threads(1)`) and the default (`Options::default()`, one worker per core), with the ratio \
between the two from the same run. ONNX Runtime sessions of these dense networks run one intra-op thread each (aez runs one session per worker), so its 1-thread row is one thread too. Peak RSS is the worker's VmHWM (it holds all images and the \
encoded stream). CLI latency: wall time of the `aez` binary from spawn to exit on one 28x28 PNG.\n",
    );
    for (n, _, _) in &r.datasets {
        let _ = writeln!(s, "\n## Rate-distortion: {n}\n");
        if let Some((_, svg, png)) = r.plots.iter().find(|p| &p.0 == n) {
            let _ = writeln!(s, "![rate-distortion on {n}]({svg}) ([PNG]({png}))\n");
        }
        let _ = writeln!(s, "### Matched quality\n");
        s.push_str(&matched_md(&r.matched, n));
        let _ = writeln!(s, "\n{}", bd_md(&r.rd, n));
        let _ = writeln!(s, "### All settings\n");
        s.push_str(&rd_md(&r.rd, n));
    }
    if let Some(sp) = &r.speed {
        let first = r.datasets.first().map_or("", |d| d.0.as_str());
        let _ = writeln!(s, "\n## Speed ({first})\n");
        s.push_str(&speed_md(sp));
        for n in &sp.notes {
            let _ = writeln!(s, "\n- note: {n}");
        }
    }
    if !r.photo.is_empty() {
        s.push_str("\n## Photo speed\n\n");
    }
    for p in &r.photo {
        s.push_str(&crate::photo::md(p));
    }
    if let Some(rows) = &r.startup {
        s.push_str("\n## One image at a time (whole processes)\n\n");
        s.push_str(crate::startup::METHOD);
        s.push_str("\n\n");
        s.push_str(&crate::startup::table(rows));
        s.push_str("\nPhases of one more run of each (`AEZ_PROFILE=1`):\n\n");
        s.push_str(&crate::startup::phase_table(rows));
        s.push_str(
            "\nWhere the time inside these phases goes (profiles with `perf` and `strace`, what was changed \
             for it and what was measured and left): [benches/startup.md](benches/startup.md).\n",
        );
    }
    s.push_str("\n## Stage benchmarks\n\nCriterion (`cargo bench -p aez-bench --bench stages`, run by `benches/run.sh` with 1 s warm-up \
and 3 s measurement per stage): the embedded default model on tract, one iteration = 256 Fashion-MNIST test images; \
median time.\n\n");
    if r.stages.is_empty() {
        s.push_str("Not measured in this run (no criterion results were found).\n");
    } else {
        s.push_str("| stage | median per 256 images (us) | per image (ns) |\n|---|---:|---:|\n");
        for (st, ns) in &r.stages {
            let _ = writeln!(s, "| {st} | {:.1} | {:.0} |", ns / 1e3, ns / 256.0);
        }
    }
    if !r.notes.is_empty() {
        s.push_str("\n## Notes\n\n");
        for n in &r.notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    s
}
