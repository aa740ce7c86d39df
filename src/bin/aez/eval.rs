//! `aez eval`: aez against the classical codecs on the user's images, with the benchmarks' engine
//! (`src/eval/`, compiled in with the `eval` feature).

use std::io::Write;

use serde::Serialize;

use crate::cli::{EvalArgs, Global};
use crate::error::{CliError, CliResult};
use crate::eval::codecs::Codec;
use crate::eval::curves::{self, Matched};
use crate::eval::data::{self, Dataset};
use crate::eval::rd::{self, RdRow};
use crate::model::{backend_choice, family_bundle, family_in_reach, FMNIST_FAMILY, FMNIST_HIGH};
use crate::progress::note;

/// aez's BD-rate against one codec.
#[derive(Debug, Serialize)]
struct BdRate {
    /// The classical codec.
    codec: String,
    /// Percent: aez's bytes at the same PSNR relative to the codec's, averaged in log over the PSNR
    /// range both curves cover (negative: aez needs fewer bytes). None when they share no range.
    percent: Option<f64>,
    /// The PSNR range both cover, dB.
    range_db: Option<(f64, f64)>,
}

/// `--json`.
#[derive(Debug, Serialize)]
struct Report<'a> {
    images: usize,
    description: String,
    /// What the "psnr" of a row is.
    psnr: &'static str,
    rows: &'a [RdRow],
    matched: Vec<Matched>,
    bd_rate: Vec<BdRate>,
    notes: &'a [String],
}

fn failed(msg: impl std::fmt::Display) -> CliError {
    CliError::Eval(msg.to_string())
}

/// The classical settings `--codecs` asks for, from the benchmarks' sweep for the dataset.
fn settings(ds: &Dataset, wanted: &[String]) -> CliResult<Vec<Codec>> {
    const KNOWN: [&str; 5] = ["png", "jpeg", "webp", "avif", "qoi"];
    for w in wanted {
        if !KNOWN.contains(&w.as_str()) {
            return Err(CliError::Usage(
                "eval",
                format!(
                    "--codecs: unknown codec {w:?} (known: {})",
                    KNOWN.join(", ")
                ),
            ));
        }
    }
    let has = |k: &str| wanted.iter().any(|w| w == k);
    Ok(rd::sweep(ds)
        .into_iter()
        .filter(|c| match c {
            // PNG at its best compression only (the fast preset is for the speed benchmark).
            Codec::PngBest => has("png"),
            Codec::Png => false,
            Codec::Qoi => has("qoi"),
            Codec::Jpeg(_) | Codec::JpegBaseline(_) => has("jpeg"),
            Codec::Webp(_) => has("webp"),
            Codec::Avif(..) => has("avif"),
        })
        .collect())
}

/// The bundles to measure: `-m`, or what compress picks for the first image (for 28x28 gray images both
/// Fashion-MNIST bundles, whose levels are one quality scale).
fn bundles(g: &Global, ds: &Dataset) -> CliResult<Vec<aez::Bundle>> {
    if let Some(spec) = &g.model {
        return Ok(vec![crate::registry().open(spec)?]);
    }
    let first = ds
        .images
        .first()
        .map(rd::dynamic)
        .transpose()
        .map_err(failed)?;
    let (b, why) = family_bundle(first.as_ref(), None)?;
    if g.verbose {
        note(g, &format!("model {}: {why}", b.name()));
    }
    let mut v = vec![b];
    if v[0].name() == FMNIST_FAMILY && family_in_reach(FMNIST_HIGH) {
        v.push(crate::registry().open(FMNIST_HIGH)?);
    }
    Ok(v)
}

/// Runs `aez eval`.
pub fn eval(g: &Global, a: &EvalArgs) -> CliResult {
    let name = a
        .inputs
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    let ds = data::load_inputs(&name, &a.inputs, a.limit).map_err(failed)?;
    let codecs = settings(&ds, &a.codecs)?;
    let bundles = bundles(g, &ds)?;
    let aez_levels: usize = bundles.iter().map(|b| b.levels().len().max(1)).sum();
    note(
        g,
        &format!(
            "eval: {} ({}); {} aez level{} of {}, {} classical settings",
            ds.describe(),
            name,
            aez_levels,
            if aez_levels == 1 { "" } else { "s" },
            bundles
                .iter()
                .map(|b| b.name().to_string())
                .collect::<Vec<_>>()
                .join(" and "),
            codecs.len()
        ),
    );
    let bar = crate::progress::progress(g, Some((aez_levels + codecs.len()) as u64), "eval");
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg:20} {bar:40} {pos}/{len} settings ({elapsed}, eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let backend = backend_choice(g.backend);
    for b in bundles {
        bar.set_message(format!("aez {}", b.name()));
        let n = b.levels().len().max(1) as u64;
        let got = rd::run_aez_bundle(&ds, b, backend, 1000, &mut notes).map_err(failed)?;
        rows.extend(got);
        bar.inc(n);
    }
    if !rows.iter().any(|r| curves::is_aez(&r.codec)) {
        return Err(failed(format!(
            "no aez model takes these images: {}",
            notes.join("; ")
        )));
    }
    for c in codecs {
        bar.set_message(format!("{} {}", c.family(), c.setting()));
        rows.push(rd::run_codec(&ds, c).map_err(failed)?);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let aez_front = curves::front_of(&rows, curves::is_aez);
    let targets: Vec<f64> = rows
        .iter()
        .filter(|r| curves::is_aez(&r.codec))
        .map(|r| r.psnr)
        .collect();
    let matched = curves::matched(&rows, &targets);
    let bd: Vec<BdRate> = curves::families(&rows)
        .into_iter()
        .filter(|f| !curves::is_aez(f))
        .map(|f| {
            let bd = curves::bd_rate(&aez_front, &curves::front(&rows, &f));
            BdRate {
                percent: bd.map(|b| b.0),
                range_db: bd.map(|b| b.1),
                codec: f,
            }
        })
        .collect();
    if let Some(path) = &a.plot {
        crate::eval::plot::rd_svg(path, &format!("aez eval: {}", ds.describe()), &rows)
            .map_err(|e| failed(format!("--plot {}: {e}", path.display())))?;
    }
    let out = std::io::stdout();
    let mut out = out.lock();
    let text = if a.json {
        let report = Report {
            images: ds.images.len(),
            description: ds.describe(),
            psnr: "PSNR of the mean squared error over all samples of all images",
            rows: &rows,
            matched,
            bd_rate: bd,
            notes: &notes,
        };
        serde_json::to_string_pretty(&report).map_err(failed)? + "\n"
    } else {
        tables(&ds, &rows, &aez_front, &matched, &bd, &notes)
    };
    out.write_all(text.as_bytes())
        .map_err(|e| aez::Error::io("cannot write to stdout", e))?;
    Ok(())
}

fn num(x: Option<f64>, prec: usize) -> String {
    match x {
        Some(v) if v.is_finite() => format!("{v:.prec$}"),
        Some(_) => "lossless".into(),
        None => "-".into(),
    }
}

/// The text report: every row, the matched-quality table and the BD-rates.
fn tables(
    ds: &Dataset,
    rows: &[RdRow],
    aez_front: &[(f64, f64)],
    matched: &[Matched],
    bd: &[BdRate],
    notes: &[String],
) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "{}\n", ds.describe());
    let _ = writeln!(
        s,
        "{:<24} {:<28} {:>10} {:>8} {:>8} {:>10} {:>7}",
        "codec", "setting", "B/image", "bpp", "PSNR", "mean PSNR", "SSIM"
    );
    for r in rows {
        let _ = writeln!(
            s,
            "{:<24} {:<28} {:>10.1} {:>8.4} {:>8} {:>10} {:>7.4}",
            r.codec,
            r.setting,
            r.bytes,
            r.bpp,
            num(Some(r.psnr), 2),
            num(Some(r.psnr_image_mean), 2),
            r.ssim
        );
    }
    let _ = writeln!(
        s,
        "\nPSNR: of the mean squared error over all samples (dB); mean PSNR: the mean of per-image PSNRs.\n\
         aez: whole batch stream / images (container included); the others: whole files."
    );
    let fams: Vec<String> = curves::families(rows)
        .into_iter()
        .filter(|f| !curves::is_aez(f))
        .collect();
    let _ = writeln!(
        s,
        "\nMatched quality: bytes per image at each aez level's PSNR (interpolated on each codec's \
         curve), and how many times aez's bytes that is; <=: the codec's smallest setting is already \
         above that PSNR"
    );
    let _ = write!(s, "{:>8} {:>10}", "PSNR", "aez B");
    for f in &fams {
        let _ = write!(s, " {:>20}", f);
    }
    let _ = writeln!(s);
    let mut targets: Vec<f64> = matched.iter().map(|m| m.target_db).collect();
    targets.dedup();
    for t in targets {
        let aez = curves::bytes_at(aez_front, t).0;
        let _ = write!(s, "{:>8.2} {:>10}", t, num(aez, 1));
        for f in &fams {
            let m = matched.iter().find(|m| m.target_db == t && &m.codec == f);
            let cell = match m {
                // At most: the codec's smallest setting is already above the PSNR.
                Some(Matched {
                    bytes: Some(b),
                    ratio_to_aez,
                    note,
                    ..
                }) => {
                    let le = if note.starts_with("upper bound") {
                        "<="
                    } else {
                        ""
                    };
                    match ratio_to_aez {
                        Some(r) => format!("{le}{b:.1} ({le}{r:.2}x)"),
                        None => format!("{le}{b:.1}"),
                    }
                }
                _ => "not reached".into(),
            };
            let _ = write!(s, " {:>20}", cell);
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "\nBD-rate of aez against each (its bytes at the same PSNR, log-averaged over the range both cover; \
         negative: aez is smaller)"
    );
    for b in bd {
        let _ = match (b.percent, b.range_db) {
            (Some(p), Some((lo, hi))) => {
                writeln!(
                    s,
                    "  {:<12} {:>+8.1}%   over {lo:.2}-{hi:.2} dB",
                    b.codec, p
                )
            }
            _ => writeln!(
                s,
                "  {:<12} {:>9}   (the curves share no PSNR range)",
                b.codec, "-"
            ),
        };
    }
    for n in notes {
        let _ = writeln!(s, "note: {n}");
    }
    s
}
