//! Output safety of the `aez` command: nothing half-written on failure or interrupt, no overwrite
//! without `--force`, and a closed stdout (`aez decompress big.aez - | head -c 10`) ends quietly with
//! exit status 141 (128 + SIGPIPE, as `cat` or `gzip` report it).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn aez() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aez"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/golden")
        .join(name)
}

fn run(args: &[&std::ffi::OsStr]) -> Output {
    aez().args(args).output().expect("running aez")
}

macro_rules! args {
    ($($a:expr),* $(,)?) => { &[$(std::ffi::OsStr::new(&$a)),*] };
}

/// Files in `dir` (names), sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("listing")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `copies` concatenated copies of the 64-image golden batch (a valid input of `64 * copies` images).
fn big_input(dir: &Path, copies: usize) -> PathBuf {
    let one = std::fs::read(golden("fmnist-t10k-64.aez")).expect("golden batch");
    let p = dir.join("big.aez");
    std::fs::write(&p, one.repeat(copies)).expect("writing big.aez");
    p
}

#[test]
fn no_overwrite_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.png");
    std::fs::write(&out, b"keep me").unwrap();
    let o = run(args!["decompress", golden("fmnist-t10k-00000.aez"), out]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("--force"),
        "{o:?}"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");

    let aez_out = tmp.path().join("out.aez");
    std::fs::write(&aez_out, b"keep me too").unwrap();
    let img = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images/fmnist-t10k-00000.png");
    let o = run(args!["compress", img, aez_out]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert_eq!(std::fs::read(&aez_out).unwrap(), b"keep me too");

    let o = run(args![
        "decompress",
        golden("fmnist-t10k-00000.aez"),
        out,
        "--force"
    ]);
    assert!(o.status.success(), "{o:?}");
    let png = image::open(&out).expect("a complete PNG replaced the file");
    assert_eq!((png.width(), png.height()), (28, 28));
    assert_eq!(
        listing(tmp.path()),
        ["out.aez", "out.png"],
        "no temporary files left"
    );
}

#[test]
fn nothing_half_written_when_decoding_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bad_single = std::fs::read(golden("fmnist-t10k-00000.aez")).unwrap();
    bad_single[20] ^= 0x10;
    let bad_single_p = tmp.path().join("bad1.aez");
    std::fs::write(&bad_single_p, &bad_single).unwrap();
    let batch = std::fs::read(golden("fmnist-t10k-64.aez")).unwrap();
    let truncated_p = tmp.path().join("trunc.aez");
    std::fs::write(&truncated_p, &batch[..batch.len() - 3]).unwrap();

    let outs = tmp.path().join("outs");
    std::fs::create_dir(&outs).unwrap();
    for (input, out) in [
        (&bad_single_p, "one.png"),
        (&truncated_p, "all.idx"),
        (&truncated_p, "all.idx.gz"),
        (&truncated_p, "one.png"),
    ] {
        let o = run(args!["decompress", input, outs.join(out)]);
        assert_eq!(o.status.code(), Some(1), "{input:?} -> {out}: {o:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        // A damaged stream is reported where it is damaged; a batch for one image file, as such.
        let why = if out == "one.png" && input == &truncated_p {
            "more than one image"
        } else {
            "byte offset"
        };
        assert!(err.contains(why), "the error says what is wrong: {err}");
        assert!(
            listing(&outs).is_empty(),
            "{input:?} -> {out}: left {:?}",
            listing(&outs)
        );
    }
    // Compressing an unreadable image writes nothing either.
    let junk = tmp.path().join("junk.png");
    std::fs::write(&junk, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let o = run(args!["compress", junk, outs.join("x.aez")]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    assert!(listing(&outs).is_empty(), "left {:?}", listing(&outs));
}

#[test]
fn a_directory_keeps_exactly_the_complete_images_before_the_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let clean_dir = tmp.path().join("clean/");
    let o = run(args!["decompress", golden("fmnist-t10k-64.aez"), clean_dir]);
    assert!(o.status.success(), "{o:?}");
    // Damage record 5: after the header (13 bytes, or 17 with stored geometry) and its CRC, records
    // are head, payload, CRC each.
    let mut bytes = std::fs::read(golden("fmnist-t10k-64.aez")).unwrap();
    let mut pos = if bytes[5] & 0x30 == 0x30 { 13 } else { 17 } + 4;
    for _ in 0..5 {
        pos += 1 + usize::from(bytes[pos] & 0x7f) + 4;
    }
    bytes[pos + 2] ^= 0x01;
    let bad = tmp.path().join("bad.aez");
    std::fs::write(&bad, &bytes).unwrap();
    let out_dir = tmp.path().join("part/");
    let o = run(args!["decompress", bad, out_dir]);
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("record 5"),
        "the error names the record: {err}"
    );
    let names = listing(&out_dir);
    assert_eq!(names.len(), 5, "the 5 good images, nothing else: {names:?}");
    for n in names {
        let a = std::fs::read(out_dir.join(&n)).unwrap();
        let b = std::fs::read(clean_dir.join(&n)).unwrap();
        assert_eq!(a, b, "{n} is complete and identical to the clean decode");
    }
}

#[test]
fn closed_stdout_ends_quietly_with_status_141() {
    let tmp = tempfile::tempdir().unwrap();
    let big = big_input(tmp.path(), 16); // 1024 images: 800 KB of IDX, more than a pipe holds
    let mut child = aez()
        .args([
            std::ffi::OsStr::new("decompress"),
            big.as_os_str(),
            "-".as_ref(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = [0u8; 10];
    child
        .stdout
        .take()
        .unwrap()
        .read_exact(&mut first)
        .expect("10 bytes");
    // The read end is closed now (dropped).
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(141), "{o:?}");
    assert!(
        o.stderr.is_empty(),
        "nothing printed: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    // The same through a shell pipeline, as users write it.
    let script = format!(
        "'{}' decompress '{}' - | head -c 10 > /dev/null; echo \"${{PIPESTATUS[0]}}\"",
        env!("CARGO_BIN_EXE_aez"),
        big.display()
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(script)
        .output()
        .expect("bash");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "141", "{o:?}");
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn an_interrupted_decompress_leaves_no_output_file() {
    let tmp = tempfile::tempdir().unwrap();
    let big = big_input(tmp.path(), 1000); // 64,000 images: seconds of work
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("all.idx");
    let mut child = aez()
        .args([
            std::ffi::OsStr::new("decompress"),
            big.as_os_str(),
            out.as_os_str(),
        ])
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    let start = Instant::now();
    let status = child.wait().expect("wait");
    assert!(start.elapsed() < Duration::from_secs(60));
    if status.success() {
        // It finished before the signal: then the file is complete.
        let len = std::fs::metadata(&out).expect("complete output").len();
        assert_eq!(len, 16 + 64_000 * 784);
    } else {
        assert!(!out.exists(), "an interrupted run left {}", out.display());
        // Only the hidden temporary file may remain (the process was killed by the signal).
        for n in listing(&out_dir) {
            assert!(n.starts_with(".aez-tmp-"), "unexpected file {n}");
        }
    }
}
