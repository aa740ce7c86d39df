//! Same bits everywhere, format version 2: a stream encoded on one inference backend decodes on the other
//! (tract <-> ONNX Runtime), its latents being the same bytes' latents, so only the final pixels may differ
//! by one 8-bit level. On the convolutional fixture `fixtures/models/tiny-conv` (images of several sizes,
//! with alpha, one tiled into bands), and on crops of all 24 Kodak photos with the embedded photo model
//! `photo-conv` (from `AEZ_KODAK` or `../shared/data/kodak`; that half is skipped with a note when the
//! photos are not there). ort's backend is process-wide, so each half runs in a child process: this test
//! binary re-run with `--ignored --exact child_v2`. Skipped without ORT_DYLIB_PATH.

use std::path::{Path, PathBuf};
use std::process::Command;

use aez::{BackendChoice, Bundle, Model, Options};
use image::DynamicImage;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/models/tiny-conv")
}

/// The images: several sizes and layouts; the last is banded by a small payload limit.
fn images() -> Vec<DynamicImage> {
    let rgba = |w: u32, h: u32| {
        image::RgbaImage::from_fn(w, h, |x, y| {
            image::Rgba([
                (x * 11 % 256) as u8,
                (y * 5 % 256) as u8,
                ((x * y) % 256) as u8,
                ((x + y) % 256) as u8,
            ])
        })
    };
    vec![
        DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba(37, 21)).to_rgb8()),
        DynamicImage::ImageRgba8(rgba(64, 64)),
        DynamicImage::ImageLuma8(DynamicImage::ImageRgba8(rgba(9, 40)).to_luma8()),
        DynamicImage::ImageRgba8(rgba(400, 300)),
    ]
}

/// The Kodak photos' folder, when it is there.
fn kodak_dir() -> Option<PathBuf> {
    let d = std::env::var_os("AEZ_KODAK")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/kodak"));
    d.join("kodim01.png").exists().then_some(d)
}

/// An 80x56 crop (not a multiple of the model's stride 16: padded, then cropped back) from the middle of
/// each of the 24 Kodak photos.
fn kodak_crops(dir: &Path) -> Vec<DynamicImage> {
    (1..=24)
        .map(|i| {
            let p = dir.join(format!("kodim{i:02}.png"));
            let img = image::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let (w, h) = (img.width(), img.height());
            img.crop_imm(w / 2 - 40, h / 2 - 28, 80, 56)
        })
        .collect()
}

/// All 24 Kodak photos, whole.
fn kodak_full(dir: &Path) -> Vec<DynamicImage> {
    (1..=24)
        .map(|i| {
            let p = dir.join(format!("kodim{i:02}.png"));
            image::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

/// The model and images of a set: "tiny" (the fixture) or "kodak" (the embedded photo model).
fn set(name: &str, backend: BackendChoice) -> (Model, Vec<DynamicImage>) {
    match name {
        "tiny" => (
            Model::load(Bundle::from_dir(&fixture()).unwrap(), backend).unwrap(),
            images(),
        ),
        "kodak" => (
            Model::load(Bundle::embedded("photo-conv").unwrap().unwrap(), backend).unwrap(),
            kodak_crops(&kodak_dir().expect("Kodak photos")),
        ),
        "tiny-hyper" => (
            Model::load(
                Bundle::from_dir(&fixture().with_file_name("tiny-hyper")).unwrap(),
                backend,
            )
            .unwrap(),
            images(),
        ),
        "kodak-full-hyper" => (
            Model::load(hyper_photo_bundle(), backend).unwrap(),
            kodak_full(&kodak_dir().expect("Kodak photos")),
        ),
        "kodak-hyper" => (
            Model::load(hyper_photo_bundle(), backend).unwrap(),
            kodak_crops(&kodak_dir().expect("Kodak photos")),
        ),
        s => panic!("unknown set {s}"),
    }
}

/// The photo model with a hyperprior (`models/photo-hyper`, embedded).
fn hyper_photo_bundle() -> Bundle {
    Bundle::embedded("photo-hyper")
        .expect("photo-hyper is embedded")
        .unwrap()
}

fn options() -> Options {
    Options::default().with_limits(aez::Limits::default().with_max_payload(4096))
}

#[test]
#[ignore = "helper: run as a child process by v2_streams_cross_backends"]
fn child_v2() {
    let role = std::env::var("AEZ_V2_ROLE").unwrap();
    let backend: BackendChoice = std::env::var("AEZ_V2_BACKEND").unwrap().parse().unwrap();
    let dir = PathBuf::from(std::env::var("AEZ_V2_DIR").unwrap());
    let (m, images) = set(&std::env::var("AEZ_V2_SET").unwrap(), backend);
    for (i, img) in images.iter().enumerate() {
        match role.as_str() {
            "compress" => {
                let bytes = aez::compress_with(&m, img, &options()).unwrap();
                std::fs::write(dir.join(format!("{i}.{backend}.aez")), bytes).unwrap();
            }
            "decompress" => {
                for from in ["tract", "onnxruntime"] {
                    let bytes = std::fs::read(dir.join(format!("{i}.{from}.aez"))).unwrap();
                    let back = aez::decompress_with(&m, &bytes, &options()).unwrap();
                    std::fs::write(
                        dir.join(format!("{i}.{from}.by-{backend}.raw")),
                        back.as_bytes(),
                    )
                    .unwrap();
                }
            }
            r => panic!("unknown role {r}"),
        }
    }
}

fn child(set: &str, role: &str, backend: &str, dir: &Path) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "backends_v2::child_v2",
            "--nocapture",
        ])
        .env("AEZ_V2_SET", set)
        .env("AEZ_V2_ROLE", role)
        .env("AEZ_V2_BACKEND", backend)
        .env("AEZ_V2_DIR", dir)
        .env_remove("AEZ_BACKEND")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child {role} on {backend}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // A filter that names no test also succeeds: make sure the child ran.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("1 passed"),
        "child {role} on {backend} ran no test: {stdout}"
    );
}

fn ort_missing(test: &str) -> bool {
    let missing = std::env::var_os("ORT_DYLIB_PATH").is_none_or(|p| p.is_empty());
    if missing {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: ORT_DYLIB_PATH is not set"
        );
    }
    missing
}

/// Encodes the set on both backends, decodes every file on both, and checks that the decodes of one file
/// differ by at most one 8-bit level (alpha: identical). Returns how many images both backends encoded
/// to the same bytes (the same latents; a latent within float rounding of a quantizer boundary may round
/// either way, which the format allows: each file then decodes the same everywhere).
fn cross(set: &str, images: &[DynamicImage]) -> usize {
    let tmp = tempfile::tempdir().unwrap();
    for b in ["tract", "onnxruntime"] {
        child(set, "compress", b, tmp.path());
    }
    for b in ["tract", "onnxruntime"] {
        child(set, "decompress", b, tmp.path());
    }
    let mut same_bytes = 0;
    for (i, img) in images.iter().enumerate() {
        let read = |name: String| std::fs::read(tmp.path().join(name)).unwrap();
        if read(format!("{i}.tract.aez")) == read(format!("{i}.onnxruntime.aez")) {
            same_bytes += 1;
        }
        for from in ["tract", "onnxruntime"] {
            let a = read(format!("{i}.{from}.by-tract.raw"));
            let b = read(format!("{i}.{from}.by-onnxruntime.raw"));
            assert_eq!(a.len(), b.len());
            let worst = a.iter().zip(&b).map(|(x, y)| x.abs_diff(*y)).max().unwrap();
            assert!(
                worst <= 1,
                "{set} image {i} encoded by {from}: tract and ONNX Runtime decodes differ by {worst} levels"
            );
            if img.color().has_alpha() {
                // Alpha is lossless and needs no network: identical.
                let ch = img.color().channel_count() as usize;
                let alpha = |v: &[u8]| {
                    v.iter()
                        .skip(ch - 1)
                        .step_by(ch)
                        .copied()
                        .collect::<Vec<_>>()
                };
                assert_eq!(alpha(&a), alpha(&b));
            }
        }
    }
    eprintln!(
        "{set}: {same_bytes} of {} images were encoded to the same bytes by both backends",
        images.len()
    );
    same_bytes
}

#[test]
fn v2_streams_cross_backends() {
    if ort_missing("v2_streams_cross_backends") {
        return;
    }
    cross("tiny", &images());
}

#[test]
fn kodak_crops_cross_backends_with_the_photo_model() {
    if ort_missing("kodak_crops_cross_backends_with_the_photo_model") {
        return;
    }
    kodak_crops_cross("kodak_crops_cross_backends_with_the_photo_model", "kodak");
}

/// Crops of all 24 Kodak photos through [`cross`] with the model of `label`, most of them encoded to the
/// same bytes on both backends; skipped (naming `what`) without the photos.
fn kodak_crops_cross(what: &str, label: &str) {
    let Some(dir) = kodak_dir() else {
        eprintln!("SKIPPED {what}: no Kodak photos (AEZ_KODAK)");
        return;
    };
    let crops = kodak_crops(&dir);
    let same = cross(label, &crops);
    // Float differences between the backends (about 1e-6 here) flip a rounding only rarely: most files
    // come out byte for byte the same.
    assert!(
        same * 2 >= crops.len(),
        "only {same} of 24 Kodak crops encoded alike"
    );
}

/// A hyperprior model's files: the latents come from the bytes by integer arithmetic alone (the
/// hyper-synthesis is the codec's own integer code), so a file decodes to the same latents on both
/// backends and its pixels differ by at most one level; on the test bundle (images of every layout, one
/// banded) and on crops of all 24 Kodak photos with the embedded photo-hyper model.
#[test]
fn hyper_streams_cross_backends() {
    if ort_missing("hyper_streams_cross_backends") {
        return;
    }
    cross("tiny-hyper", &images());
    kodak_crops_cross(
        "the Kodak half of hyper_streams_cross_backends",
        "kodak-hyper",
    );
}

/// As [`hyper_streams_cross_backends`] on all 24 Kodak photos whole (768x512): minutes in a release
/// build, so not in the default run: `cargo test --release --test suite backends_v2::kodak_whole --
/// --ignored` with ORT_DYLIB_PATH set.
#[test]
#[ignore = "slow: 24 whole photos, encoded and decoded on both backends (run in a release build)"]
fn kodak_whole_photos_cross_backends_with_the_hyper_model() {
    if ort_missing("kodak_whole_photos_cross_backends_with_the_hyper_model") {
        return;
    }
    let dir = kodak_dir().expect("the Kodak photos (AEZ_KODAK)");
    let same = cross("kodak-full-hyper", &kodak_full(&dir));
    eprintln!("{same} of 24 whole Kodak photos encoded to the same bytes on both backends");
}
