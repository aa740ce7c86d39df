//! Helpers shared by the end-to-end tests of the `aez` binary (tests/cli.rs, tests/cli_v2.rs).
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `aez` with a clean environment (no model folders, no ONNX Runtime, the tract backend).
pub fn aez() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aez"));
    c.env_remove("AEZ_MODEL_PATH")
        .env_remove("ORT_DYLIB_PATH")
        .env("AEZ_BACKEND", "tract");
    c
}

/// Runs `aez` in `dir`, with `AEZ_MODEL_PATH` set to `model_path` when given.
pub fn run_in(
    args: &[&dyn AsRef<std::ffi::OsStr>],
    dir: &Path,
    model_path: Option<&Path>,
) -> Output {
    let mut c = aez();
    c.current_dir(dir);
    if let Some(p) = model_path {
        c.env("AEZ_MODEL_PATH", p);
    }
    for a in args {
        c.arg(a);
    }
    c.output().expect("run aez")
}

/// Runs `aez` in `dir` with `stdin` on its standard input (and `AEZ_MODEL_PATH` when given).
pub fn run_stdin_in(
    args: &[&dyn AsRef<std::ffi::OsStr>],
    dir: &Path,
    stdin: &[u8],
    model_path: Option<&Path>,
) -> Output {
    let mut c = aez();
    c.current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = model_path {
        c.env("AEZ_MODEL_PATH", p);
    }
    for a in args {
        c.arg(a);
    }
    let mut child = c.spawn().expect("spawn aez");
    let mut sin = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        // The child may exit before reading everything (an error): a broken pipe here is fine.
        let _ = sin.write_all(&data);
    });
    let out = child.wait_with_output().expect("wait aez");
    writer.join().unwrap();
    out
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[track_caller]
pub fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "aez failed: {:?}\nstderr: {}",
        o.status,
        stderr(o)
    );
}

/// Asserts exit status `code` with an error message containing every piece of `wanted`.
#[track_caller]
pub fn fails_with(o: &Output, code: i32, wanted: &[&str]) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "status {:?}, stderr: {err}",
        o.status
    );
    assert!(err.contains("error: "), "stderr: {err}");
    for w in wanted {
        assert!(err.contains(w), "stderr lacks {w:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// A temporary directory for one test.
pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Names in `dir`, sorted.
pub fn ls(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}
