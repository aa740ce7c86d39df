//! The real ONNX Runtime, loaded at run time from ORT_DYLIB_PATH. Every test here is skipped (with a note on
//! stderr) when ORT_DYLIB_PATH is not set, so the suite passes without ONNX Runtime installed.
//!
//! ort's backend is process-wide, so the cross-backend test runs each half in a child process: this test
//! binary re-runs itself with `--ignored --exact runtime_ort::child_encode_or_decode` and role variables.

use crate::model_common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use aez::{Backend, BackendChoice, Bundle, Error, Model};
use model_common::*;

fn ort_model() -> Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        Model::load(
            Bundle::embedded_default().unwrap(),
            BackendChoice::OnnxRuntime,
        )
        .unwrap()
    })
    .clone()
}

#[test]
fn onnxruntime_reproduces_the_reference() {
    let Some(_) = ort_dylib_or_skip("onnxruntime_reproduces_the_reference") else {
        return;
    };
    let m = ort_model();
    assert_eq!(m.backend(), Backend::OnnxRuntime);
    let shown = m.backend().to_string();
    assert!(shown.starts_with("onnxruntime 1."), "{shown}");
    assert!(m.backend().library_path().is_some());
    let x = images_f32();
    let z = m.encode(&x, 100).unwrap();
    let y = m.decode(&z, 100).unwrap();
    check_against_reference(&z, &y, &shown);
    // And from 8 threads: identical.
    let again: Vec<Vec<f32>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (m, x) = (m.clone(), &x);
                s.spawn(move || m.decode(&m.encode(x, 100).unwrap(), 100).unwrap())
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, yt) in again.iter().enumerate() {
        assert!(
            yt.iter().zip(&y).all(|(a, b)| a.to_bits() == b.to_bits()),
            "thread {i}"
        );
    }
}

#[test]
fn onnxruntime_process_refuses_tract() {
    let Some(_) = ort_dylib_or_skip("onnxruntime_process_refuses_tract") else {
        return;
    };
    let m = ort_model();
    let e = Model::load(m.bundle().clone(), BackendChoice::Tract).unwrap_err();
    assert!(matches!(e, Error::Runtime { .. }), "{e:?}");
    assert!(
        e.to_string().contains("already runs models on onnxruntime"),
        "{e}"
    );
}

/// Runs one half of the cross-backend test in a child process (see `tract_and_onnxruntime_interoperate`).
/// Ignored in normal runs: it only does something with AEZ_TEST_ROLE set.
#[test]
#[ignore = "helper: run as a child process by tract_and_onnxruntime_interoperate"]
fn child_encode_or_decode() {
    let role = std::env::var("AEZ_TEST_ROLE").expect("AEZ_TEST_ROLE");
    let backend: BackendChoice = std::env::var("AEZ_TEST_BACKEND").unwrap().parse().unwrap();
    let input = std::env::var("AEZ_TEST_IN").unwrap();
    let output = std::env::var("AEZ_TEST_OUT").unwrap();
    let m =
        Model::load(Bundle::embedded_default().unwrap(), backend).unwrap_or_else(|e| panic!("{e}"));
    let data: Vec<f32> = std::fs::read(&input)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let out = match role.as_str() {
        "encode" => m.encode(&data, data.len() / 784).unwrap(),
        "decode" => m
            .decode(&data, data.len() / m.bundle().latent_dim())
            .unwrap(),
        r => panic!("unknown role {r}"),
    };
    let bytes: Vec<u8> = out.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(&output, bytes).unwrap();
    std::fs::write(format!("{output}.backend"), m.backend().to_string()).unwrap();
}

fn write_f32(path: &Path, v: &[f32]) {
    std::fs::write(
        path,
        v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>(),
    )
    .unwrap();
}

fn read_f32(path: &Path) -> Vec<f32> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Runs `role` on `backend` in a child process; returns its output and the backend it reported.
fn child(role: &str, backend: &str, input: &Path, output: &Path) -> (Vec<f32>, String) {
    child_with(role, backend, input, output, None)
}

/// This test binary re-run as a child that runs only `child_encode_or_decode` with the given role and backend.
fn child_command(role: &str, backend: &str, input: &Path, output: &Path) -> Command {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--ignored",
        "--exact",
        "runtime_ort::child_encode_or_decode",
        "--nocapture",
    ])
    .env("AEZ_TEST_ROLE", role)
    .env("AEZ_TEST_BACKEND", backend)
    .env("AEZ_TEST_IN", input)
    .env("AEZ_TEST_OUT", output);
    cmd
}

/// [`child`] with `AEZ_BACKEND` set to `aez_backend` (or removed).
fn child_with(
    role: &str,
    backend: &str,
    input: &Path,
    output: &Path,
    aez_backend: Option<&str>,
) -> (Vec<f32>, String) {
    let mut cmd = child_command(role, backend, input, output);
    match aez_backend {
        Some(v) => cmd.env("AEZ_BACKEND", v),
        None => cmd.env_remove("AEZ_BACKEND"),
    };
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "child {role} on {backend} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let shown = std::fs::read_to_string(format!("{}.backend", output.display())).unwrap();
    (read_f32(output), shown)
}

#[test]
fn tract_and_onnxruntime_interoperate() {
    let Some(_) = ort_dylib_or_skip("tract_and_onnxruntime_interoperate") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let p = |name: &str| tmp.path().join(name);
    let x = images_f32();
    write_f32(&p("x"), &x);
    let (z_tract, b1) = child("encode", "tract", &p("x"), &p("z_tract"));
    let (z_ort, b2) = child("encode", "onnxruntime", &p("x"), &p("z_ort"));
    assert_eq!(b1, "tract");
    assert!(b2.starts_with("onnxruntime"), "{b2}");
    // Encoded with tract, decoded with ONNX Runtime, and the other way round.
    let (y_tract_ort, _) = child("decode", "onnxruntime", &p("z_tract"), &p("y1"));
    let (y_ort_tract, _) = child("decode", "tract", &p("z_ort"), &p("y2"));
    check_against_reference(&z_tract, &y_tract_ort, "tract encode + onnxruntime decode");
    check_against_reference(&z_ort, &y_ort_tract, "onnxruntime encode + tract decode");
    // Latents agree closely; 8-bit pixels differ by at most one level (spec section 1).
    let max_dz = z_tract
        .iter()
        .zip(&z_ort)
        .map(|(a, b)| (a - b).abs() / (1.0 + a.abs().max(b.abs())))
        .fold(0.0f32, f32::max);
    assert!(max_dz <= 1e-4, "latents differ by {max_dz} (relative)");
    let to8 = |v: f32| (v.clamp(0.0, 1.0) * 255.0).round() as i32;
    let max_d8 = y_tract_ort
        .iter()
        .zip(&y_ort_tract)
        .map(|(a, b)| (to8(*a) - to8(*b)).abs())
        .max()
        .unwrap();
    assert!(max_d8 <= 1, "8-bit pixels differ by {max_d8} levels");
    // Auto follows AEZ_BACKEND; without it, a set ORT_DYLIB_PATH means ONNX Runtime.
    let (_, b) = child_with("encode", "auto", &p("x"), &p("z3"), Some("tract"));
    assert_eq!(b, "tract");
    let (_, b) = child_with("encode", "auto", &p("x"), &p("z4"), Some("onnxruntime"));
    assert!(b.starts_with("onnxruntime 1."), "{b}");
    let (_, b) = child_with("encode", "auto", &p("x"), &p("z5"), None);
    assert!(b.starts_with("onnxruntime 1."), "{b}");
    eprintln!("tract vs onnxruntime: max relative latent difference {max_dz:e}, max 8-bit pixel difference {max_d8}");
}

#[test]
fn a_bad_library_path_is_a_clear_error_and_auto_falls_back_to_tract() {
    // Needs no ONNX Runtime. In a child process (this one may already have a backend): a path that is not
    // ONNX Runtime.
    let tmp = tempfile::tempdir().unwrap();
    let fake = tmp.path().join("libonnxruntime.so.1.99.0");
    std::fs::write(&fake, b"not a shared library").unwrap();
    write_f32(&tmp.path().join("x"), &images_f32()[..784]);
    let out = child_command(
        "encode",
        "onnxruntime",
        &tmp.path().join("x"),
        &tmp.path().join("z"),
    )
    .env("ORT_DYLIB_PATH", &fake)
    .output()
    .unwrap();
    assert!(!out.status.success());
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("inference backend onnxruntime")
            && text.contains(&fake.display().to_string()),
        "{text}"
    );

    // With Auto, the same bad path falls back to tract (and says why in runtime::backend_note()).
    let out = child_command(
        "encode",
        "auto",
        &tmp.path().join("x"),
        &tmp.path().join("z"),
    )
    .env("ORT_DYLIB_PATH", &fake)
    .env_remove("AEZ_BACKEND")
    .output()
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("z.backend")).unwrap(),
        "tract"
    );
}
