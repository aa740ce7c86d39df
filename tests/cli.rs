//! End-to-end tests of the `aez` binary: every command-line form, the error paths and the exit statuses.
//!
//! They run the debug binary on the small fixtures (`fixtures/images`, the 64-image IDX) with the
//! embedded default model on the tract backend, each test in its own temporary directory. `compress`
//! without a model option is run as `-m default compress`: these tests pin the version-1 default model
//! and its streams (one record per image), which every version-1 file needs; without `-m` a 28x28 gray
//! input gets the same networks as the version-2 bundle `fmnist-ld64e3d3-v2` (packed batches, quality
//! levels), tested in `tests/cli_v2.rs`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::cli_common;
use cli_common::*;

const MODEL: &str = "fmnist-ld64e3d3";

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

fn img(i: usize) -> PathBuf {
    fixture(&format!("images/fmnist-t10k-{i:05}.png"))
}

fn idx64() -> PathBuf {
    fixture("idx/fmnist-t10k-64.idx")
}

fn idx64_gz() -> PathBuf {
    fixture("idx/fmnist-t10k-64.idx.gz")
}

/// `args`, with `-m default` in front of a `compress` that names no model.
fn pinned<'a>(args: &[&'a dyn AsRef<std::ffi::OsStr>]) -> Vec<&'a dyn AsRef<std::ffi::OsStr>> {
    let is = |a: &dyn AsRef<std::ffi::OsStr>, s: &str| a.as_ref() == std::ffi::OsStr::new(s);
    let compress = args.iter().any(|a| is(*a, "compress"));
    let model = args.iter().any(|a| is(*a, "-m") || is(*a, "--model"));
    let mut v: Vec<&dyn AsRef<std::ffi::OsStr>> = Vec::with_capacity(args.len() + 2);
    if compress && !model {
        v.extend([&"-m" as &dyn AsRef<std::ffi::OsStr>, &"default"]);
    }
    v.extend_from_slice(args);
    v
}

fn run(args: &[&dyn AsRef<std::ffi::OsStr>], dir: &Path) -> Output {
    run_in(&pinned(args), dir, None)
}

fn run_stdin(args: &[&dyn AsRef<std::ffi::OsStr>], dir: &Path, stdin: &[u8]) -> Output {
    run_stdin_in(&pinned(args), dir, stdin, None)
}

/// Asserts exit status 1 with one `aez: error: ...` line containing every piece of `wanted`.
#[track_caller]
fn fails(o: &Output, wanted: &[&str]) {
    fails_with(o, 1, wanted);
    assert!(stderr(o).contains("aez: error: "), "stderr: {}", stderr(o));
}

fn gray(path_or_bytes: &[u8]) -> (u32, u32, Vec<u8>) {
    let im = image::load_from_memory(path_or_bytes).expect("decodable image");
    assert_eq!(
        im.color(),
        image::ColorType::L8,
        "decoded PNGs are 8-bit gray"
    );
    (im.width(), im.height(), im.to_luma8().into_raw())
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    let mse: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum::<f64>()
        / a.len() as f64;
    10.0 * (255.0f64 * 255.0 / mse.max(1e-9)).log10()
}

fn idx_records(bytes: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(&bytes[..4], &[0, 0, 8, 3], "IDX3 magic");
    let n = u32::from_be_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(&bytes[8..16], &[0, 0, 0, 28, 0, 0, 0, 28]);
    assert_eq!(bytes.len(), 16 + n * 784, "IDX length matches its count");
    bytes[16..].chunks(784).map(<[u8]>::to_vec).collect()
}

#[test]
fn compress_decompress_files() {
    let d = tmp();
    let o = run(&[&"compress", &img(0), &"out.aez"], d.path());
    ok(&o);
    assert!(
        o.stdout.is_empty() && o.stderr.is_empty(),
        "quiet by default: {}",
        stderr(&o)
    );
    let aez = std::fs::read(d.path().join("out.aez")).unwrap();
    assert_eq!(&aez[..4], b"\x89AEZ");
    assert!(aez.len() < 100, "one 28x28 image in {} bytes", aez.len());
    ok(&run(&[&"decompress", &"out.aez", &"back.png"], d.path()));
    let (w, h, px) = gray(&std::fs::read(d.path().join("back.png")).unwrap());
    assert_eq!((w, h), (28, 28));
    let (_, _, orig) = gray(&std::fs::read(img(0)).unwrap());
    let p = psnr(&px, &orig);
    assert!(p > 12.0, "PSNR {p:.1} dB");
    assert_eq!(ls(d.path()), vec!["back.png", "out.aez"]);
}

#[test]
fn compress_decompress_pipe() {
    let d = tmp();
    let png = std::fs::read(img(1)).unwrap();
    let c = run_stdin(&[&"compress", &"-", &"-"], d.path(), &png);
    ok(&c);
    // Same bytes as from a file.
    ok(&run(&[&"compress", &img(1), &"f.aez"], d.path()));
    assert_eq!(c.stdout, std::fs::read(d.path().join("f.aez")).unwrap());
    let back = run_stdin(&[&"decompress", &"-", &"-"], d.path(), &c.stdout);
    ok(&back);
    assert_eq!(&back.stdout[..8], b"\x89PNG\r\n\x1a\n");
    ok(&run(&[&"decompress", &"f.aez", &"f.png"], d.path()));
    assert_eq!(
        gray(&back.stdout).2,
        gray(&std::fs::read(d.path().join("f.png")).unwrap()).2
    );
    assert_eq!(ls(d.path()), vec!["f.aez", "f.png"], "nothing else written");
}

#[test]
fn idx_batch_round_trip() {
    let d = tmp();
    let o = run(&[&"compress", &idx64_gz(), &"t.aez"], d.path());
    ok(&o);
    assert!(
        o.stderr.is_empty(),
        "no progress bar when stderr is not a terminal"
    );
    ok(&run(&[&"compress", &idx64(), &"raw.aez"], d.path()));
    let t = std::fs::read(d.path().join("t.aez")).unwrap();
    assert_eq!(
        t,
        std::fs::read(d.path().join("raw.aez")).unwrap(),
        "gzip or raw IDX: same stream"
    );
    assert!(t.len() < 64 * 40, "64 images in {} bytes", t.len());
    ok(&run(&[&"decompress", &"t.aez", &"t.idx"], d.path()));
    let recs = idx_records(&std::fs::read(d.path().join("t.idx")).unwrap());
    assert_eq!(recs.len(), 64);
    let orig = idx_records(&std::fs::read(idx64()).unwrap());
    let mean_psnr = recs.iter().zip(&orig).map(|(a, b)| psnr(a, b)).sum::<f64>() / 64.0;
    assert!(mean_psnr > 15.0, "mean PSNR {mean_psnr:.1} dB");

    // Gzipped IDX output, and IDX on stdin / stdout.
    ok(&run(&[&"decompress", &"t.aez", &"t.idx.gz"], d.path()));
    let mut gz = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(d.path().join("t.idx.gz")).unwrap())
        .read_to_end(&mut gz)
        .unwrap();
    assert_eq!(gz, std::fs::read(d.path().join("t.idx")).unwrap());
    let s = run_stdin(
        &[&"compress", &"-", &"-"],
        d.path(),
        &std::fs::read(idx64_gz()).unwrap(),
    );
    ok(&s);
    assert_eq!(s.stdout, t, "IDX from stdin");
    let s = run_stdin(&[&"decompress", &"-", &"-"], d.path(), &t);
    ok(&s);
    assert_eq!(
        s.stdout,
        std::fs::read(d.path().join("t.idx")).unwrap(),
        "a batch goes to stdout as IDX"
    );
}

#[test]
fn many_inputs_to_batch_and_directory() {
    let d = tmp();
    let o = run(
        &[
            &"compress",
            &img(2),
            &img(3),
            &fixture("images/fmnist-t10k-00000-rgb.png"),
            &"-o",
            &"b.aez",
        ],
        d.path(),
    );
    ok(&o);
    ok(&run(&[&"decompress", &"b.aez", &"outdir/"], d.path()));
    assert_eq!(
        ls(&d.path().join("outdir")),
        vec!["000000.png", "000001.png", "000002.png"]
    );
    // Each image of the batch decodes like the same image compressed alone (within one level: the
    // backend may batch differently).
    for (i, src) in [img(2), img(3), img(0)].iter().enumerate() {
        ok(&run(&[&"compress", src, &"--force", &"one.aez"], d.path()));
        ok(&run(
            &[&"decompress", &"one.aez", &"--force", &"one.png"],
            d.path(),
        ));
        let alone = gray(&std::fs::read(d.path().join("one.png")).unwrap()).2;
        let batch = gray(&std::fs::read(d.path().join(format!("outdir/{i:06}.png"))).unwrap()).2;
        assert!(
            alone.iter().zip(&batch).all(|(a, b)| a.abs_diff(*b) <= 1),
            "image {i}"
        );
    }
    // An existing directory works without a trailing slash; the names exist, so --force is needed.
    fails(
        &run(&[&"decompress", &"b.aez", &"outdir"], d.path()),
        &["output exists"],
    );
    ok(&run(
        &[&"decompress", &"b.aez", &"outdir", &"--force"],
        d.path(),
    ));
    // A batch to one image file is refused, and writes nothing.
    fails(
        &run(&[&"decompress", &"b.aez", &"x.png"], d.path()),
        &["more than one image"],
    );
    assert!(!d.path().join("x.png").exists());
}

#[test]
fn colour_inputs_are_converted() {
    let d = tmp();
    ok(&run(
        &[
            &"compress",
            &fixture("images/fmnist-t10k-00000-rgb.png"),
            &"rgb.aez",
        ],
        d.path(),
    ));
    ok(&run(&[&"compress", &img(0), &"gray.aez"], d.path()));
    assert_eq!(
        std::fs::read(d.path().join("rgb.aez")).unwrap(),
        std::fs::read(d.path().join("gray.aez")).unwrap(),
        "an RGB copy (R=G=B) of a gray image compresses to the same stream"
    );
    ok(&run(
        &[
            &"compress",
            &fixture("images/fmnist-t10k-00000-rgb.jpg"),
            &"jpg.aez",
        ],
        d.path(),
    ));
    ok(&run(&[&"decompress", &"jpg.aez", &"jpg.bmp"], d.path()));
    let bmp = std::fs::read(d.path().join("jpg.bmp")).unwrap();
    assert_eq!(&bmp[..2], b"BM", "the output extension picks the format");
}

#[test]
fn info_text_and_json() {
    let d = tmp();
    ok(&run(&[&"compress", &idx64(), &"t.aez"], d.path()));
    let o = run(&[&"info", &"t.aez"], d.path());
    ok(&o);
    let text = stdout(&o);
    for w in [
        "t.aez",
        "64 images",
        "batch",
        MODEL,
        "range",
        "28x28",
        "overhead",
    ] {
        assert!(text.contains(w), "info lacks {w:?}:\n{text}");
    }
    let o = run(&[&"info", &"--json", &"t.aez"], d.path());
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    let f = &v[0];
    let len = std::fs::metadata(d.path().join("t.aez")).unwrap().len();
    assert_eq!(f["bytes"], len);
    assert_eq!(f["records"], 64);
    let s = &f["streams"][0];
    assert_eq!(s["model"], MODEL);
    assert_eq!(s["coder"], "range");
    assert_eq!(s["kind"], "batch");
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(28), Some(28))
    );
    assert_eq!(s["version"], 1);
    assert_eq!(
        s["overhead_bytes"].as_u64().unwrap() + s["payload_bytes"].as_u64().unwrap(),
        len
    );
    // Batch overhead per the spec: per stream + per record (payloads < 127 bytes).
    use aez::format::consts::{BATCH_RECORD_OVERHEAD, BATCH_STREAM_OVERHEAD, SINGLE_OVERHEAD};
    assert_eq!(
        s["overhead_bytes"],
        BATCH_STREAM_OVERHEAD + 64 * BATCH_RECORD_OVERHEAD
    );

    ok(&run(
        &[&"compress", &img(4), &"--coder", &"zstd", &"z.aez"],
        d.path(),
    ));
    let v: serde_json::Value =
        serde_json::from_slice(&run(&[&"info", &"--json", &"z.aez"], d.path()).stdout).unwrap();
    assert_eq!(v[0]["streams"][0]["coder"], "zstd");
    assert_eq!(v[0]["streams"][0]["kind"], "single");
    assert_eq!(v[0]["streams"][0]["overhead_bytes"], SINGLE_OVERHEAD);
}

#[test]
fn models_lists_the_default() {
    let d = tmp();
    let o = run(&[&"models"], d.path());
    ok(&o);
    let text = stdout(&o);
    let line = text
        .lines()
        .find(|l| l.starts_with(MODEL))
        .expect("default model listed");
    assert!(
        line.contains("(default: ") && line.contains("sha256:") && line.contains("embedded"),
        "{line}"
    );
    let o = run(&[&"models", &"--json"], d.path());
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let m = v
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == MODEL)
        .unwrap();
    assert_eq!(m["default"], true);
    assert_eq!(m["hash"].as_str().unwrap().len(), "sha256:".len() + 64);
}

#[test]
fn verbose_names_the_backend() {
    let d = tmp();
    let o = run(
        &[
            &"-v",
            &"--backend",
            &"tract",
            &"compress",
            &img(0),
            &"o.aez",
        ],
        d.path(),
    );
    ok(&o);
    let err = stderr(&o);
    assert!(
        err.contains("backend tract") && err.contains(MODEL),
        "{err}"
    );
    let o = run(&[&"-q", &"compress", &img(0), &"q.aez"], d.path());
    ok(&o);
    assert!(o.stderr.is_empty());
}

#[test]
fn usage_errors_exit_2() {
    let d = tmp();
    for args in [
        vec!["compress", "a.png"],
        vec!["compress", "a.png", "b.png", "c.png"],
        vec!["--backend", "cuda", "models"],
        vec!["decompress", "x.aez"],
        vec!["frobnicate"],
        vec!["compress", "-", "-", "-o", "x.aez"],
    ] {
        let o = run(
            &args
                .iter()
                .map(|s| s as &dyn AsRef<std::ffi::OsStr>)
                .collect::<Vec<_>>(),
            d.path(),
        );
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("error"), "{args:?}");
    }
    assert!(ls(d.path()).is_empty());
    let o = run(&[&"--help"], d.path());
    ok(&o);
    assert!(stdout(&o).contains("compress") && stdout(&o).contains("Exit status"));
}

#[test]
fn missing_input_and_bad_images() {
    let d = tmp();
    let o = run(&[&"compress", &"nope.png", &"o.aez"], d.path());
    fails(&o, &["nope.png"]);
    let o = run(&[&"decompress", &"nope.aez", &"o.png"], d.path());
    fails(&o, &["nope.aez"]);
    // The dense default model takes 28x28 only (without -m a 32x32 image gets the gray family instead).
    let wrong = fixture("images/wrong-size-32x32.png");
    let o = run(
        &[&"-m", &"default", &"compress", &wrong, &"o.aez"],
        d.path(),
    );
    fails(
        &o,
        &[&format!(
            "aez: error: {}: image is 32x32, model {MODEL} takes 28x28\n",
            wrong.display()
        )],
    );
    let o = run_stdin(
        &[&"compress", &"-", &"o.aez"],
        d.path(),
        b"not an image at all",
    );
    fails(&o, &["<stdin>", "not an image"]);
    let o = run_stdin(&[&"compress", &"-", &"o.aez"], d.path(), b"");
    fails(&o, &["<stdin>"]);
    assert!(
        ls(d.path()).is_empty(),
        "no output, no temporary file: {:?}",
        ls(d.path())
    );
}

#[test]
fn existing_output_needs_force() {
    let d = tmp();
    std::fs::write(d.path().join("o.aez"), b"precious").unwrap();
    let o = run(&[&"compress", &img(0), &"o.aez"], d.path());
    fails(&o, &["o.aez", "output exists (use --force to overwrite)"]);
    assert_eq!(std::fs::read(d.path().join("o.aez")).unwrap(), b"precious");
    ok(&run(
        &[&"compress", &img(0), &"o.aez", &"--force"],
        d.path(),
    ));
    assert_eq!(
        &std::fs::read(d.path().join("o.aez")).unwrap()[..4],
        b"\x89AEZ"
    );
    std::fs::write(d.path().join("o.png"), b"precious").unwrap();
    fails(
        &run(&[&"decompress", &"o.aez", &"o.png"], d.path()),
        &["output exists"],
    );
    assert_eq!(std::fs::read(d.path().join("o.png")).unwrap(), b"precious");
    ok(&run(&[&"-f", &"decompress", &"o.aez", &"o.png"], d.path()));
    gray(&std::fs::read(d.path().join("o.png")).unwrap());
    assert_eq!(ls(d.path()), vec!["o.aez", "o.png"]);
}

#[test]
fn corrupt_and_truncated_streams() {
    let d = tmp();
    ok(&run(&[&"compress", &idx64(), &"t.aez"], d.path()));
    let good = std::fs::read(d.path().join("t.aez")).unwrap();

    // A flipped bit in record 10's payload: the records before it are written to a directory, and the
    // error names the record and its offset.
    let info: serde_json::Value =
        serde_json::from_slice(&run(&[&"info", &"--json", &"t.aez"], d.path()).stdout).unwrap();
    assert_eq!(info[0]["records"], 64);
    let mut bad = good.clone();
    let mid = good.len() / 2;
    bad[mid] ^= 0x10;
    std::fs::write(d.path().join("bad.aez"), &bad).unwrap();
    let o = run(&[&"decompress", &"bad.aez", &"dir/"], d.path());
    fails(&o, &["bad.aez", "record ", "byte offset "]);
    let kept = ls(&d.path().join("dir"));
    assert!(!kept.is_empty() && kept.len() < 64, "kept {}", kept.len());
    assert_eq!(kept[0], "000000.png");
    // To a file: nothing without --partial; the good records with it.
    fails(
        &run(&[&"decompress", &"bad.aez", &"bad.idx"], d.path()),
        &["record "],
    );
    assert!(!d.path().join("bad.idx").exists());
    fails(
        &run(
            &[&"decompress", &"bad.aez", &"bad.idx", &"--partial"],
            d.path(),
        ),
        &["record "],
    );
    let part = idx_records(&std::fs::read(d.path().join("bad.idx")).unwrap());
    assert_eq!(part.len(), kept.len());
    fails(
        &run(&[&"info", &"bad.aez"], d.path()),
        &["bad.aez", "byte offset"],
    );

    // Truncated: cut in the middle of the stream.
    std::fs::write(d.path().join("cut.aez"), &good[..good.len() - 40]).unwrap();
    let o = run(&[&"decompress", &"cut.aez", &"cut.idx"], d.path());
    fails(&o, &["cut.aez", "byte offset"]);
    assert!(!d.path().join("cut.idx").exists());
    // Not an aez stream at all, and a truncated header.
    let o = run(&[&"decompress", &img(0), &"x.png"], d.path());
    fails(&o, &["not an aez stream"]);
    std::fs::write(d.path().join("short.aez"), &good[..10]).unwrap();
    fails(
        &run(&[&"decompress", &"short.aez", &"x.png"], d.path()),
        &["short.aez"],
    );
    std::fs::write(d.path().join("empty.aez"), b"").unwrap();
    fails(
        &run(&[&"decompress", &"empty.aez", &"x.png"], d.path()),
        &["empty.aez"],
    );
    assert!(!d.path().join("x.png").exists());
    let names = ls(d.path());
    assert!(
        names.iter().all(|n| !n.starts_with(".aez-tmp")),
        "{names:?}"
    );
}

#[test]
fn failed_batch_compress_keeps_nothing_unless_partial() {
    let d = tmp();
    let wrong = fixture("images/wrong-size-32x32.png");
    let o = run(
        &[
            &"compress",
            &img(0),
            &img(1),
            &wrong,
            &img(2),
            &"-o",
            &"b.aez",
        ],
        d.path(),
    );
    fails(&o, &["wrong-size-32x32.png: image is 32x32"]);
    assert!(ls(d.path()).is_empty(), "{:?}", ls(d.path()));
    let o = run(
        &[
            &"compress",
            &img(0),
            &img(1),
            &wrong,
            &img(2),
            &"-o",
            &"b.aez",
            &"--partial",
        ],
        d.path(),
    );
    fails(&o, &["wrong-size-32x32.png"]);
    let v: serde_json::Value =
        serde_json::from_slice(&run(&[&"info", &"--json", &"b.aez"], d.path()).stdout).unwrap();
    assert_eq!(v[0]["records"], 2, "the two images before the bad one");
}

#[test]
fn closed_stdout_ends_quietly() {
    let d = tmp();
    ok(&run(&[&"compress", &idx64(), &"t.aez"], d.path()));
    // stdout closed before anything is written.
    let mut c = aez();
    c.current_dir(d.path())
        .args(["decompress", "t.aez", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(141), "stderr: {}", stderr(&out));
    assert!(out.stderr.is_empty(), "stderr: {}", stderr(&out));

    // `| head -c 10` on more output than a pipe buffer holds (a concatenation of 12 streams).
    let t = std::fs::read(d.path().join("t.aez")).unwrap();
    std::fs::write(d.path().join("big.aez"), t.repeat(12)).unwrap();
    let bin = env!("CARGO_BIN_EXE_aez");
    let o = Command::new("sh")
        .current_dir(d.path())
        .env("AEZ_BACKEND", "tract")
        .arg("-c")
        .arg(format!("'{bin}' decompress big.aez - | head -c 10 | wc -c"))
        .output()
        .unwrap();
    let text = stdout(&o);
    assert!(text.trim_start().starts_with("10"), "{text}");
    assert!(
        !stderr(&o).contains("panicked") && !stderr(&o).contains("error"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn empty_idx_gives_an_empty_batch() {
    let d = tmp();
    let mut empty = vec![0u8, 0, 8, 3, 0, 0, 0, 0];
    empty.extend_from_slice(&[0, 0, 0, 28, 0, 0, 0, 28]);
    std::fs::write(d.path().join("e.idx"), &empty).unwrap();
    ok(&run(&[&"compress", &"e.idx", &"e.aez"], d.path()));
    let v: serde_json::Value =
        serde_json::from_slice(&run(&[&"info", &"--json", &"e.aez"], d.path()).stdout).unwrap();
    assert_eq!(v[0]["records"], 0);
    assert_eq!(v[0]["streams"][0]["kind"], "batch");
    ok(&run(&[&"decompress", &"e.aez", &"back.idx"], d.path()));
    assert_eq!(std::fs::read(d.path().join("back.idx")).unwrap(), empty);
    ok(&run(&[&"decompress", &"e.aez", &"dir/"], d.path()));
    assert!(ls(&d.path().join("dir")).is_empty());
}

#[test]
fn model_option_by_path_and_unknown_name() {
    let d = tmp();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(MODEL);
    ok(&run(
        &[&"--model", &dir, &"compress", &img(5), &"p.aez"],
        d.path(),
    ));
    ok(&run(&[&"compress", &img(5), &"e.aez"], d.path()));
    assert_eq!(
        std::fs::read(d.path().join("p.aez")).unwrap(),
        std::fs::read(d.path().join("e.aez")).unwrap(),
        "the bundle folder of the default model and the embedded copy give the same stream"
    );
    ok(&run(
        &[&"decompress", &"p.aez", &"--model", &dir, &"p.png"],
        d.path(),
    ));
    let o = run(
        &[&"--model", &"no-such-model", &"compress", &img(5), &"x.aez"],
        d.path(),
    );
    fails(&o, &["no-such-model"]);
    assert!(!d.path().join("x.aez").exists());
}
