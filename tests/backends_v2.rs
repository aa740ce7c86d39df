//! Same bits everywhere, format version 2: a stream encoded on one inference backend decodes on the other
//! (tract <-> ONNX Runtime), its latents being the same bytes' latents, so only the final pixels may differ
//! by one 8-bit level. On the convolutional fixture `fixtures/models/tiny-conv` (images of several sizes,
//! with alpha, one tiled into bands). ort's backend is process-wide, so each half runs in a child process:
//! this test binary re-run with `--ignored --exact child_v2`. Skipped without ORT_DYLIB_PATH.

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

fn options() -> Options {
    Options::default().with_limits(aez::Limits::default().with_max_payload(4096))
}

#[test]
#[ignore = "helper: run as a child process by v2_streams_cross_backends"]
fn child_v2() {
    let role = std::env::var("AEZ_V2_ROLE").unwrap();
    let backend: BackendChoice = std::env::var("AEZ_V2_BACKEND").unwrap().parse().unwrap();
    let dir = PathBuf::from(std::env::var("AEZ_V2_DIR").unwrap());
    let m = Model::load(Bundle::from_dir(&fixture()).unwrap(), backend).unwrap();
    for (i, img) in images().iter().enumerate() {
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

fn child(role: &str, backend: &str, dir: &Path) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "child_v2", "--nocapture"])
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
}

#[test]
fn v2_streams_cross_backends() {
    if std::env::var_os("ORT_DYLIB_PATH").is_none_or(|p| p.is_empty()) {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED v2_streams_cross_backends: ORT_DYLIB_PATH is not set"
        );
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    for b in ["tract", "onnxruntime"] {
        child("compress", b, tmp.path());
    }
    for b in ["tract", "onnxruntime"] {
        child("decompress", b, tmp.path());
    }
    let mut same_bytes = 0;
    for (i, img) in images().iter().enumerate() {
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
                "image {i} encoded by {from}: tract and ONNX Runtime decodes differ by {worst} levels"
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
        "{same_bytes} of {} images were encoded to the same bytes by both backends",
        images().len()
    );
}
