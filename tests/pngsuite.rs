//! Conformance: the PngSuite images in `fixtures/pngsuite` (every PNG colour type, bit depths 1 to 16,
//! interlaced and not, palettes with and without transparency, `tRNS` on gray and RGB, odd sizes) through
//! the `aez` binary, one file at a time and all in one stream, and damaged copies of them refused with an
//! error that names the file, leaving no output.
//!
//! Every file must decode with the `image` crate (the test fails otherwise, so a file the suite gains that
//! aez cannot read is noticed). Expected layout after a round trip: gray (with or without alpha), RGB or
//! RGBA at 8 bits, as the input's (16-bit samples are reduced to 8; a palette is RGB, or RGBA with `tRNS`;
//! `tRNS` on gray or RGB is an alpha channel); alpha is lossless.

use std::path::{Path, PathBuf};
use std::process::Output;

use image::{ColorType, DynamicImage};

use crate::cli_common;
use cli_common::*;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn suite() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures().join("pngsuite"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    v.sort();
    assert!(v.len() >= 28, "fixtures/pngsuite has {} PNG files", v.len());
    v
}

fn run(args: &[&dyn AsRef<std::ffi::OsStr>], dir: &Path) -> Output {
    run_in(args, dir, Some(&fixtures().join("models")))
}

fn read(p: &Path) -> DynamicImage {
    image::open(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The 8-bit layout aez gives back for an input of colour type `c`.
fn expected(c: ColorType) -> ColorType {
    match c {
        ColorType::L8 | ColorType::L16 => ColorType::L8,
        ColorType::La8 | ColorType::La16 => ColorType::La8,
        ColorType::Rgb8 | ColorType::Rgb16 => ColorType::Rgb8,
        ColorType::Rgba8 | ColorType::Rgba16 => ColorType::Rgba8,
        other => panic!("PngSuite decoded to {other:?}"),
    }
}

/// The alpha samples at 16 bits (8-bit alpha scaled by 257), so that 8- and 16-bit inputs compare alike.
fn alpha16(img: &DynamicImage) -> Vec<u16> {
    img.to_luma_alpha16().pixels().map(|p| p[1]).collect()
}

#[track_caller]
fn check_back(src: &Path, back: &Path) {
    let img = read(src);
    let out = read(back);
    let name = src.file_name().unwrap().to_string_lossy();
    assert_eq!(
        (out.width(), out.height()),
        (img.width(), img.height()),
        "{name}: size"
    );
    assert_eq!(out.color(), expected(img.color()), "{name}: layout");
    if img.color().has_alpha() {
        let (a, b) = (alpha16(&img), alpha16(&out));
        // 16-bit alpha comes back at 8 bits: within half a step of 8-bit rounding (257 / 2).
        let worst = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| x.abs_diff(y))
            .max()
            .unwrap_or(0);
        let bound = if img.color().bytes_per_pixel() > 4 || img.color() == ColorType::La16 {
            129
        } else {
            0
        };
        assert!(
            worst <= bound,
            "{name}: alpha differs by {worst} (16-bit units)"
        );
    }
}

#[test]
fn every_image_of_the_suite_comes_back_at_its_size_and_layout() {
    let d = tempfile::tempdir().unwrap();
    let tiny = fixtures().join("models/tiny-conv");
    for src in suite() {
        let stem = src.file_stem().unwrap().to_string_lossy().into_owned();
        let z = d.path().join(format!("{stem}.aez"));
        let back = d.path().join(format!("{stem}-back.png"));
        ok(&run(&[&"compress", &"-m", &tiny, &src, &z], d.path()));
        ok(&run(&[&"decompress", &z, &back], d.path()));
        check_back(&src, &back);
    }
}

#[test]
fn the_whole_suite_goes_through_one_stream_with_the_embedded_families() {
    // No -m: the embedded family models, as a new user gets them; colour and gray files in one output.
    let d = tempfile::tempdir().unwrap();
    let z = d.path().join("suite.aez");
    let out = d.path().join("out/");
    let files = suite();
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"compress"];
    args.extend(files.iter().map(|f| f as &dyn AsRef<std::ffi::OsStr>));
    args.extend([&"-o" as &dyn AsRef<std::ffi::OsStr>, &z]);
    let o = run_in(&args, d.path(), None);
    ok(&o);
    // Each file gets its family's model (gray-conv, photo-hyper), a new stream at each change: no colour
    // is lost to a gray model.
    let err = stderr(&o);
    assert!(!err.contains("colour is lost"), "{err}");
    let info = run_in(&[&"info", &"--json", &z], d.path(), None);
    let v: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    let models: std::collections::BTreeSet<String> = v[0]["streams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["model"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        models.into_iter().collect::<Vec<_>>(),
        vec!["gray-conv", "photo-hyper"]
    );
    // With -m, one model for all: a gray one says so for each colour image it cannot keep.
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> = vec![&"-m", &"gray-conv", &"compress"];
    args.extend(files.iter().map(|f| f as &dyn AsRef<std::ffi::OsStr>));
    let z1 = d.path().join("gray.aez");
    args.extend([&"-o" as &dyn AsRef<std::ffi::OsStr>, &z1]);
    let o1 = run_in(&args, d.path(), None);
    ok(&o1);
    let err = stderr(&o1);
    assert!(
        err.contains("basn2c08.png: colour image, model gray-conv is gray")
            && err.contains("colour is lost"),
        "{err}"
    );
    assert!(
        !err.contains("basn0g08.png"),
        "a gray input gets no note: {err}"
    );
    ok(&run_in(&[&"decompress", &z, &out], d.path(), None));
    let mut backs: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    backs.sort();
    assert_eq!(backs.len(), files.len(), "one image back per input");
    for (src, back) in files.iter().zip(&backs) {
        check_back(src, back);
    }
}

/// Damaged copies of a PNG: cut short, a flipped bit in IHDR (its CRC fails), in the image data, and a
/// broken signature.
fn damaged(bytes: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut v = vec![
        ("truncated-half", bytes[..bytes.len() / 2].to_vec()),
        ("truncated-ihdr", bytes[..20].to_vec()),
    ];
    let mut ihdr = bytes.to_vec();
    ihdr[17] ^= 0x01; // inside IHDR's width
    v.push(("ihdr-bit", ihdr));
    let idat = bytes
        .windows(4)
        .position(|w| w == b"IDAT")
        .expect("an IDAT chunk");
    let mut data = bytes.to_vec();
    data[idat + 8] ^= 0x40;
    v.push(("idat-bit", data));
    let mut sig = bytes.to_vec();
    sig[1] = b'Q';
    v.push(("signature", sig));
    v
}

#[test]
fn damaged_copies_are_refused_with_the_file_named_and_no_output() {
    let d = tempfile::tempdir().unwrap();
    let tiny = fixtures().join("models/tiny-conv");
    for src in suite() {
        let bytes = std::fs::read(&src).unwrap();
        let stem = src.file_stem().unwrap().to_string_lossy().into_owned();
        for (what, bad) in damaged(&bytes) {
            let name = format!("{stem}-{what}.png");
            let p = d.path().join(&name);
            std::fs::write(&p, &bad).unwrap();
            let z = d.path().join(format!("{stem}-{what}.aez"));
            let o = run(&[&"compress", &"-m", &tiny, &p, &z], d.path());
            let err = stderr(&o);
            assert!(!o.status.success(), "{name} was accepted");
            assert!(
                err.contains(&name),
                "{name}: the error names the file: {err}"
            );
            assert!(!err.contains("panicked"), "{name}: {err}");
            assert!(!z.exists(), "{name}: no output is left");
        }
    }
    // Only the damaged inputs remain: no temporary file of a failed run is left behind.
    for e in std::fs::read_dir(d.path()).unwrap() {
        let n = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(n.ends_with(".png"), "left behind: {n}");
    }
}
