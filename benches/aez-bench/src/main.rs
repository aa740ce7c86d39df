//! `aez-bench`: rate-distortion and speed of aez against PNG, QOI, JPEG, WebP and AVIF; writes CSV, JSON,
//! plots and BENCHMARKS.md. `benches/run.sh` is the one command that builds and runs it.

// The measuring engine, shared with `aez eval` (one copy of the code: src/eval/).
#[path = "../../../src/eval/mod.rs"]
mod eval;
mod photo;
mod report;
mod speed;
mod startup;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use clap::{Parser, Subcommand};

/// Errors of this tool: a message is enough.
pub use eval::BoxResult;
use eval::{codecs, curves, data, metrics, plot, rd};

#[derive(Debug, Parser)]
#[command(name = "aez-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Everything: rate-distortion on Fashion-MNIST and Kodak, speed, and BENCHMARKS.md.
    All(AllArgs),
    /// Only the speed section, as `all` measures it (same workers, rounds and medians), printed as the
    /// BENCHMARKS.md table; writes no report files (only `--json` when given).
    Speed(SpeedArgs),
    /// Rate-distortion of one or both datasets as `all` measures it (aez models under `--models`, the
    /// classical codecs of `--codecs`), printed as the BENCHMARKS.md tables; writes no report files (only
    /// `--json` when given).
    Rd(RdArgs),
    /// Photo speed: a version-2 RGB bundle on one 768x512 Kodak photo and on a 6000x4000 one, per backend,
    /// each in its own process (as `all` measures it), printed as the BENCHMARKS.md table.
    PhotoSpeed(PhotoArgs),
    /// One photo speed process (used by `photo-speed`; prints one JSON line).
    PhotoWorker {
        /// small, big-compress or big-decompress.
        #[arg(long)]
        task: String,
        /// tract or onnxruntime.
        #[arg(long, default_value = "tract")]
        backend: String,
        /// The bundle directory.
        #[arg(long)]
        bundle: PathBuf,
        /// The Kodak folder.
        #[arg(long, default_value = "../shared/data/kodak")]
        kodak: PathBuf,
        /// The big image's file (big-compress writes it, big-decompress reads it).
        #[arg(long, default_value = "big.aez")]
        file: PathBuf,
        /// Timed rounds (small).
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// The big image's size, WxH.
        #[arg(long, default_value = "6000x4000", value_parser = parse_size)]
        big: (u32, u32),
    },
    /// One image at a time as whole processes: `aez compress`/`decompress` interleaved with `cwebp -m 6`
    /// and `dwebp` on a 28x28 gray and a 256x256 colour image, per backend; prints the table (and the
    /// AEZ_PROFILE phases).
    Startup(startup::StartupArgs),
    /// The networks alone in a warm process (used by `startup`; prints one JSON line).
    StartupWorker {
        /// tract or onnxruntime.
        #[arg(long, default_value = "tract")]
        backend: String,
        /// The embedded bundle.
        #[arg(long)]
        model: String,
        /// The image.
        #[arg(long)]
        image: PathBuf,
        /// Timed runs.
        #[arg(long, default_value_t = 15)]
        reps: usize,
    },
    /// One worker pass for the speed table (used by `all`; prints one JSON line).
    SpeedWorker {
        /// png or aez.
        #[arg(long)]
        task: String,
        /// tract or onnxruntime (aez only).
        #[arg(long, default_value = "tract")]
        backend: String,
        /// The dataset (IDX file or image folder).
        #[arg(long)]
        data: PathBuf,
        /// Use only the first N images.
        #[arg(long)]
        limit: Option<usize>,
        /// aez worker threads per batch (`Options::with_threads`); default: `Options::default()`, one
        /// per core.
        #[arg(long)]
        threads: Option<usize>,
    },
}

#[derive(Debug, clap::Args)]
struct SpeedArgs {
    /// Fashion-MNIST test images (IDX, raw or gzipped). Env AEZ_BENCH_FMNIST.
    #[arg(
        long,
        env = "AEZ_BENCH_FMNIST",
        default_value = "../shared/data/fashion-mnist/t10k-images-idx3-ubyte.gz"
    )]
    fmnist: PathBuf,
    /// ONNX Runtime library (default: ORT_DYLIB_PATH); without it only tract is measured.
    #[arg(long, env = "ORT_DYLIB_PATH")]
    ort_lib: Option<PathBuf>,
    /// Speed rounds (each runs every worker once).
    #[arg(long, default_value_t = 7)]
    reps: usize,
    /// CLI latency runs per backend (0: not measured).
    #[arg(long, default_value_t = 11)]
    cli_reps: usize,
    /// Use only the first N images.
    #[arg(long)]
    limit: Option<usize>,
    /// Also write the speed section as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// `WxH`, e.g. `6000x4000`.
fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("{s:?}: expected WxH, e.g. 6000x4000"))?;
    let p = |v: &str| {
        v.trim()
            .parse::<u32>()
            .ok()
            .filter(|&n| n > 0)
            .ok_or_else(|| format!("{s:?}: expected WxH with positive numbers"))
    };
    Ok((p(w)?, p(h)?))
}

#[derive(Debug, clap::Args)]
struct PhotoArgs {
    /// Directory of aez model bundles: the photo bundle is `photo-conv` there, else the first
    /// version-2 RGB bundle of any size (e.g. `--models fixtures/models` for tiny-conv).
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// This bundle directory instead of the one found under `--models`.
    #[arg(long)]
    bundle: Option<PathBuf>,
    /// The Kodak folder (kodim01.png and the tiles of the big image). Env AEZ_BENCH_KODAK.
    #[arg(long, env = "AEZ_BENCH_KODAK", default_value = "../shared/data/kodak")]
    kodak: PathBuf,
    /// ONNX Runtime library (default: ORT_DYLIB_PATH, else the Python onnxruntime package's).
    #[arg(long, env = "ORT_DYLIB_PATH")]
    ort_lib: Option<PathBuf>,
    /// Timed rounds of the 768x512 image, after one warm-up.
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// The big image's size.
    #[arg(long, default_value = "6000x4000", value_parser = parse_size)]
    big: (u32, u32),
    /// Skip the big image.
    #[arg(long)]
    no_big: bool,
    /// Also write the section as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct RdArgs {
    /// Fashion-MNIST test images (IDX, raw or gzipped). Env AEZ_BENCH_FMNIST.
    #[arg(
        long,
        env = "AEZ_BENCH_FMNIST",
        default_value = "../shared/data/fashion-mnist/t10k-images-idx3-ubyte.gz"
    )]
    fmnist: PathBuf,
    /// A folder of images (Kodak). Env AEZ_BENCH_KODAK.
    #[arg(long, env = "AEZ_BENCH_KODAK", default_value = "../shared/data/kodak")]
    kodak: PathBuf,
    /// Which datasets: fashion-mnist, kodak (comma separated).
    #[arg(long, value_delimiter = ',', default_value = "fashion-mnist,kodak")]
    datasets: Vec<String>,
    /// Directory of aez model bundles.
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Classical codec families to sweep (PNG, "PNG best", QOI, JPEG, WebP, AVIF; comma separated),
    /// `all` or `none`.
    #[arg(long, value_delimiter = ',', default_value = "all")]
    codecs: Vec<String>,
    /// Images compressed one by one for the single-file .aez size.
    #[arg(long, default_value_t = 1000)]
    single_limit: usize,
    /// Use only the first N images of each dataset.
    #[arg(long)]
    limit: Option<usize>,
    /// Also write the rows (and matched rows) as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct AllArgs {
    /// Fashion-MNIST test images (IDX, raw or gzipped). Env AEZ_BENCH_FMNIST.
    #[arg(
        long,
        env = "AEZ_BENCH_FMNIST",
        default_value = "../shared/data/fashion-mnist/t10k-images-idx3-ubyte.gz"
    )]
    fmnist: PathBuf,
    /// A folder of images (Kodak). Env AEZ_BENCH_KODAK. Skipped with a note when missing.
    #[arg(long, env = "AEZ_BENCH_KODAK", default_value = "../shared/data/kodak")]
    kodak: PathBuf,
    /// Directory of aez model bundles.
    #[arg(long, default_value = "models")]
    models: PathBuf,
    /// Output directory for CSV, JSON and plots.
    #[arg(long, default_value = "benches/results")]
    out: PathBuf,
    /// Where to write BENCHMARKS.md.
    #[arg(long, default_value = "BENCHMARKS.md")]
    md: PathBuf,
    /// ONNX Runtime library (default: ORT_DYLIB_PATH).
    #[arg(long, env = "ORT_DYLIB_PATH")]
    ort_lib: Option<PathBuf>,
    /// Speed rounds (each runs every worker once).
    #[arg(long, default_value_t = 7)]
    reps: usize,
    /// CLI latency runs per backend.
    #[arg(long, default_value_t = 11)]
    cli_reps: usize,
    /// Images compressed one by one for the single-file .aez size.
    #[arg(long, default_value_t = 1000)]
    single_limit: usize,
    /// Use only the first N images of each dataset (quick checks; the report says so).
    #[arg(long)]
    limit: Option<usize>,
    /// Skip the speed section.
    #[arg(long)]
    no_speed: bool,
    /// The aez binary for the one-image whole-process timings.
    #[arg(long, default_value = "target/release/aez")]
    aez_bin: PathBuf,
    /// The command to name in BENCHMARKS.md.
    #[arg(long, default_value = "benches/run.sh")]
    command: String,
    /// Criterion's output directory: the `stages` bench results found there go into the report.
    #[arg(long)]
    criterion_dir: Option<PathBuf>,
    /// Seconds the release build took (run.sh passes it; reported).
    #[arg(long)]
    build_seconds: Option<u64>,
    /// A README whose section between `<!-- benchmarks:start -->` and `<!-- benchmarks:end -->` gets the
    /// headline (left alone when it has no such markers).
    #[arg(long)]
    readme: Option<PathBuf>,
}

/// Stack size of the worker threads: rav1e recurses deeply and overflows the default 2 MiB.
const STACK_BYTES: usize = 64 << 20;

/// `aez-bench startup`: measures, prints the tables, and writes `--json`.
fn startup_only(a: &startup::StartupArgs) -> BoxResult<()> {
    let rows = startup::run(a)?;
    println!("{}", startup::table(&rows));
    if a.verbose {
        println!("{}", startup::phase_table(&rows));
    }
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_string_pretty(&rows)?)?;
    }
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .stack_size(STACK_BYTES)
        .build_global()
    {
        eprintln!("aez-bench: cannot set up the thread pool: {e}");
        std::process::exit(1);
    }
    let r = match cli.cmd {
        Cmd::All(a) => all(a),
        Cmd::Speed(a) => speed_only(a),
        Cmd::Rd(a) => rd_only(a),
        Cmd::PhotoSpeed(a) => photo_only(a),
        Cmd::PhotoWorker {
            task,
            backend,
            bundle,
            kodak,
            file,
            reps,
            big,
        } => photo::worker(&photo::WorkerArgs {
            task,
            backend,
            bundle,
            kodak,
            file,
            reps,
            big,
        })
        .and_then(|r| {
            println!("{}", serde_json::to_string(&r)?);
            Ok(())
        }),
        Cmd::Startup(a) => startup_only(&a),
        Cmd::StartupWorker {
            backend,
            model,
            image,
            reps,
        } => startup::worker(&backend, &model, &image, reps).and_then(|r| {
            println!("{}", serde_json::to_string(&r)?);
            Ok(())
        }),
        Cmd::SpeedWorker {
            task,
            backend,
            data,
            limit,
            threads,
        } => data::load("speed", &data, limit)
            .and_then(|ds| speed::worker(&ds, &task, &backend, threads))
            .and_then(|r| {
                println!("{}", serde_json::to_string(&r)?);
                Ok(())
            }),
    };
    if let Err(e) = r {
        eprintln!("aez-bench: {e}");
        std::process::exit(1);
    }
}

fn sh(cmd: &str, args: &[&str]) -> Option<String> {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn machine() -> Vec<String> {
    let mut v = Vec::new();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map_or("unknown".to_string(), |s| s.trim().to_string());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    v.push(format!(
        "CPU: {model}; {cores} logical cores available to the process"
    ));
    if let Some(mem) = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().map(str::to_string))
    {
        v.push(format!(
            "Memory: {}",
            mem.trim_start_matches("MemTotal:").trim()
        ));
    }
    if let Some(u) = sh("uname", &["-srm"]) {
        v.push(format!("OS: {u}"));
    }
    if let Ok(rv) = std::env::var("AEZ_BENCH_RUSTC") {
        v.push(format!("Compiler: {rv}"));
    }
    v.push(format!(
        "Build: {} profile",
        if cfg!(debug_assertions) {
            "debug (numbers not representative)"
        } else {
            "release"
        }
    ));
    v
}

fn all(a: AllArgs) -> BoxResult<()> {
    let start = Instant::now();
    let date = sh("date", &["-u", "+%Y-%m-%d %H:%M"]).unwrap_or_else(|| "unknown date".into());
    std::fs::create_dir_all(&a.out)?;
    let mut notes = Vec::new();
    if let Some(n) = a.limit {
        notes.push(format!(
            "limited to the first {n} images of each dataset (--limit): not a full run"
        ));
    }
    let mut datasets = Vec::new();
    let mut rd_rows = Vec::new();
    let mut matched = Vec::new();
    let mut plots = Vec::new();
    let mut fmnist = None;
    for (name, path) in [("fashion-mnist", &a.fmnist), ("kodak", &a.kodak)] {
        if !path.exists() {
            notes.push(format!("{name}: {} not found, skipped", path.display()));
            continue;
        }
        let t = Instant::now();
        let ds = data::load(name, path, a.limit)?;
        eprintln!("{name}: {} from {}", ds.describe(), path.display());
        datasets.push((name.to_string(), ds.describe(), path.display().to_string()));
        let mut rows = rd::run_aez(&ds, &a.models, a.single_limit, &mut notes)?;
        for r in &rows {
            eprintln!(
                "  aez {:<24} {:>8.2} B {:>6.2} dB ssim {:.4} ({:.1} s)",
                r.setting, r.bytes, r.psnr, r.ssim, r.seconds
            );
        }
        for codec in rd::sweep(&ds) {
            let r = rd::run_codec(&ds, codec)?;
            eprintln!(
                "  {:<8} {:<16} {:>10.1} B {:>8} dB ssim {:.4} ({:.1} s)",
                r.codec,
                r.setting,
                r.bytes,
                if r.psnr.is_finite() {
                    format!("{:.2}", r.psnr)
                } else {
                    "inf".into()
                },
                r.ssim,
                r.seconds
            );
            rows.push(r);
        }
        matched.extend(curves::matched(&rows, &[21.1, 25.0]));
        let stem = format!("{name}-rd");
        let title = format!("{name}: {}", ds.describe());
        match plot::rd_plot(&a.out, &stem, &title, &rows) {
            Ok(()) => plots.push((
                name.to_string(),
                rel(&a.out.join(format!("{stem}.svg"))),
                rel(&a.out.join(format!("{stem}.png"))),
            )),
            Err(e) => notes.push(format!("{name}: plot not drawn: {e}")),
        }
        notes.push(format!(
            "{name}: rate-distortion took {:.1} s",
            t.elapsed().as_secs_f64()
        ));
        rd_rows.extend(rows);
        if name == "fashion-mnist" {
            fmnist = Some(ds);
        }
    }
    report::write_csv(&a.out.join("rd.csv"), &rd_rows)?;
    let speed = match (&fmnist, a.no_speed) {
        (Some(ds), false) => {
            let t = Instant::now();
            eprintln!("speed: {} rounds", a.reps);
            let s = speed::measure(
                ds,
                &a.fmnist,
                a.limit,
                &speed::sibling_aez(),
                a.ort_lib.as_deref().filter(|p| p.is_file()),
                a.reps,
                a.cli_reps,
            )?;
            notes.push(format!("speed took {:.1} s", t.elapsed().as_secs_f64()));
            Some(s)
        }
        _ => None,
    };
    let photo = match (a.no_speed, a.kodak.join(photo::SMALL_IMAGE).is_file()) {
        (true, _) => Vec::new(),
        (false, false) => {
            notes.push(format!(
                "photo speed: {} not found, skipped",
                a.kodak.join(photo::SMALL_IMAGE).display()
            ));
            Vec::new()
        }
        (false, true) => {
            let dirs = photo::photo_bundles(&a.models);
            if dirs.is_empty() {
                notes.push(format!(
                    "photo speed: no version-2 RGB model of any size under {}, skipped",
                    a.models.display()
                ));
            }
            let mut out = Vec::new();
            for dir in dirs {
                let t = Instant::now();
                eprintln!("photo speed: {}", dir.display());
                let ort = photo::find_ort(a.ort_lib.as_deref());
                let p = photo::measure(&dir, &a.kodak, ort.as_deref(), 5, Some(photo::BIG_SIZE))?;
                notes.push(format!(
                    "photo speed of {} took {:.1} s",
                    p.model,
                    t.elapsed().as_secs_f64()
                ));
                out.push(p);
            }
            out
        }
    };
    let startup = if a.no_speed {
        None
    } else {
        let t = Instant::now();
        let sa = startup::StartupArgs {
            aez: a.aez_bin.clone(),
            runs: 15,
            kodak: a.kodak.clone(),
            ort_lib: photo::find_ort(a.ort_lib.as_deref()),
            verbose: false,
            json: None,
        };
        match startup::run(&sa) {
            Ok(rows) => {
                notes.push(format!(
                    "one image at a time took {:.1} s",
                    t.elapsed().as_secs_f64()
                ));
                Some(rows)
            }
            Err(e) => {
                notes.push(format!("one image at a time: not measured: {e}"));
                None
            }
        }
    };
    if let Some(b) = a.build_seconds {
        notes.push(format!(
            "the release build before the run took {b} s (not included in the run time above)"
        ));
    }
    let stages = a
        .criterion_dir
        .as_deref()
        .map(report::read_stages)
        .unwrap_or_default();
    let rep = report::Report {
        stages,
        command: a.command.trim().to_string(),
        date,
        machine: machine(),
        datasets,
        rd: rd_rows,
        matched,
        speed,
        photo,
        startup,
        notes,
        plots,
        total_seconds: start.elapsed().as_secs_f64(),
    };
    std::fs::write(
        a.out.join("results.json"),
        serde_json::to_string_pretty(&rep)?,
    )?;
    let md = report::benchmarks_md(&rep);
    std::fs::write(&a.md, &md)?;
    std::fs::write(a.out.join("headline.md"), report::headline_md(&rep))?;
    if let Some(readme) = &a.readme {
        match splice_readme(readme, &report::headline_md(&rep)) {
            Ok(true) => eprintln!("updated the benchmark section of {}", readme.display()),
            Ok(false) => eprintln!(
                "{} has no <!-- benchmarks:start --> / <!-- benchmarks:end --> markers: left alone",
                readme.display()
            ),
            Err(e) => eprintln!("{} not updated: {e}", readme.display()),
        }
    }
    println!("{md}");
    eprintln!(
        "wrote {}, {}/rd.csv, results.json, headline.md and plots in {:.1} s",
        a.md.display(),
        a.out.display(),
        rep.total_seconds
    );
    Ok(())
}

/// `aez-bench speed`: the speed section alone, printed.
fn speed_only(a: SpeedArgs) -> BoxResult<()> {
    let start = Instant::now();
    let ds = data::load("fashion-mnist", &a.fmnist, a.limit)?;
    eprintln!(
        "fashion-mnist: {} from {}",
        ds.describe(),
        a.fmnist.display()
    );
    eprintln!("speed: {} rounds", a.reps);
    let s = speed::measure(
        &ds,
        &a.fmnist,
        a.limit,
        &speed::sibling_aez(),
        a.ort_lib.as_deref().filter(|p| p.is_file()),
        a.reps,
        a.cli_reps,
    )?;
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_string_pretty(&s)?)?;
    }
    let mut md = report::speed_md(&s);
    for n in &s.notes {
        md.push_str(&format!("\n- note: {n}\n"));
    }
    println!("{md}");
    for m in machine() {
        eprintln!("{m}");
    }
    eprintln!("speed took {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// `aez-bench photo-speed`: the photo speed section alone, printed.
fn photo_only(a: PhotoArgs) -> BoxResult<()> {
    let start = Instant::now();
    let dir = match a.bundle.clone().or_else(|| photo::photo_bundle(&a.models)) {
        Some(d) => d,
        None => {
            println!(
                "photo speed not measured: no version-2 RGB model of any size under {} (use --models or --bundle)",
                a.models.display()
            );
            return Ok(());
        }
    };
    let ort = photo::find_ort(a.ort_lib.as_deref());
    eprintln!(
        "photo speed: {}; ONNX Runtime: {}",
        dir.display(),
        ort.as_deref()
            .map_or("not found".to_string(), |p| p.display().to_string())
    );
    let p = photo::measure(
        &dir,
        &a.kodak,
        ort.as_deref(),
        a.reps,
        (!a.no_big).then_some(a.big),
    )?;
    if let Some(path) = &a.json {
        std::fs::write(path, serde_json::to_string_pretty(&p)?)?;
    }
    println!("{}", photo::md(&p));
    for m in machine() {
        eprintln!("{m}");
    }
    eprintln!("photo speed took {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// `aez-bench rd`: rate-distortion of the chosen datasets, printed.
fn rd_only(a: RdArgs) -> BoxResult<()> {
    let start = Instant::now();
    let want = |fam: &str| {
        a.codecs
            .iter()
            .any(|c| c.eq_ignore_ascii_case("all") || c.trim().eq_ignore_ascii_case(fam))
    };
    let mut notes = Vec::new();
    let mut all_rows = Vec::new();
    let mut all_matched = Vec::new();
    let mut md = String::new();
    for (name, path) in [("fashion-mnist", &a.fmnist), ("kodak", &a.kodak)] {
        if !a.datasets.iter().any(|d| d == name) {
            continue;
        }
        let ds = data::load(name, path, a.limit)?;
        eprintln!("{name}: {} from {}", ds.describe(), path.display());
        let mut rows = rd::run_aez(&ds, &a.models, a.single_limit, &mut notes)?;
        for r in &rows {
            eprintln!(
                "  {:<16} {:<24} {:>10.2} B {:>6.2} dB (image mean {:.2}) ssim {:.4} ({:.1} s)",
                r.codec, r.setting, r.bytes, r.psnr, r.psnr_image_mean, r.ssim, r.seconds
            );
        }
        for codec in rd::sweep(&ds).into_iter().filter(|c| want(c.family())) {
            let r = rd::run_codec(&ds, codec)?;
            eprintln!(
                "  {:<16} {:<24} {:>10.1} B {:>6.2} dB ({:.1} s)",
                r.codec, r.setting, r.bytes, r.psnr, r.seconds
            );
            rows.push(r);
        }
        let matched = curves::matched(&rows, &[21.1, 25.0]);
        md.push_str(&format!(
            "
## Rate-distortion: {name} ({})

### Matched quality

{}
### All settings

{}",
            ds.describe(),
            report::matched_md(&matched, name),
            report::rd_md(&rows, name)
        ));
        all_rows.extend(rows);
        all_matched.extend(matched);
    }
    if let Some(p) = &a.json {
        std::fs::write(
            p,
            serde_json::to_string_pretty(&serde_json::json!({
                "rd": all_rows,
                "matched": all_matched,
                "notes": notes,
            }))?,
        )?;
    }
    for n in &notes {
        md.push_str(&format!(
            "
- note: {n}
"
        ));
    }
    println!("{md}");
    eprintln!("rd took {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// `p` as written (relative paths stay relative to the repository root, where run.sh runs).
fn rel(p: &Path) -> String {
    p.display().to_string()
}

/// Replaces the text between the README's benchmark markers; false when it has none.
fn splice_readme(path: &Path, body: &str) -> BoxResult<bool> {
    const START: &str = "<!-- benchmarks:start -->";
    const END: &str = "<!-- benchmarks:end -->";
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(false);
    };
    let (Some(a), Some(b)) = (text.find(START), text.find(END)) else {
        return Ok(false);
    };
    if b < a {
        return Ok(false);
    }
    let new = format!("{}{START}\n{}\n{}", &text[..a], body.trim_end(), &text[b..]);
    std::fs::write(path, new)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("6000x4000"), Ok((6000, 4000)));
        assert_eq!(parse_size("16X9"), Ok((16, 9)));
        assert!(parse_size("6000").is_err());
        assert!(parse_size("0x5").is_err());
    }
}
