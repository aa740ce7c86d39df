//! Output safety of the `aez` command: nothing half-written on failure, nothing at all (not even a
//! temporary file) after SIGINT or SIGTERM (exit status 130 or 143), no overwrite without `--force`, and a
//! closed stdout (`aez decompress big.aez - | head -c 10`) ends quietly with exit status 141 (128 +
//! SIGPIPE, as `cat` or `gzip` report it).

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

    // The same through a shell pipeline, as users write it. (head's 10 bytes go to a file of the test's own,
    // not to /dev/null: on a machine where /dev/null is a regular file they would stay there, and every
    // later reader of /dev/null, such as cargo's probe of rustc, would read them.)
    let first = tmp.path().join("first");
    let script = format!(
        "'{}' decompress '{}' - | head -c 10 > '{}'; echo \"${{PIPESTATUS[0]}}\"",
        env!("CARGO_BIN_EXE_aez"),
        big.display(),
        first.display()
    );
    let o = Command::new("bash")
        .arg("-c")
        .arg(script)
        .output()
        .expect("bash");
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "141", "{o:?}");
    assert_eq!(std::fs::read(&first).unwrap().len(), 10);
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Started with some of its standard descriptors closed (`<&-`, `>&-`, `2>&-`), `aez -v` still writes the
/// files it was asked for, the same bytes as with them open, and succeeds (its notes to a closed stderr are
/// dropped, not written into a file that took descriptor 2).
#[test]
fn closed_standard_descriptors_are_not_reused_for_files() {
    let tmp = tempfile::tempdir().unwrap();
    let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images/fmnist-t10k-00000.png");
    let want = tmp.path().join("want.aez");
    let o = run(&["compress".as_ref(), png.as_os_str(), want.as_os_str()]);
    assert!(o.status.success(), "{o:?}");
    for (i, closing) in ["<&-", ">&-", "2>&-", "<&- >&- 2>&-"].iter().enumerate() {
        let out = tmp.path().join(format!("closed-{i}.aez"));
        let back = tmp.path().join(format!("closed-{i}.png"));
        // -v writes notes to stderr: with stderr closed they must not land in a file.
        let script = format!(
            "'{aez}' -v compress '{png}' '{out}' {closing} && '{aez}' -v decompress '{out}' '{back}' {closing}",
            aez = env!("CARGO_BIN_EXE_aez"),
            png = png.display(),
            out = out.display(),
            back = back.display(),
        );
        let o = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("bash");
        assert!(o.status.success(), "{closing}: {o:?}");
        assert_eq!(
            std::fs::read(&out).unwrap(),
            std::fs::read(&want).unwrap(),
            "{closing}"
        );
        let img = image::open(&back).unwrap_or_else(|e| panic!("{closing}: {e}"));
        assert_eq!((img.width(), img.height()), (28, 28), "{closing}");
    }
}

/// An output that is a device (here /dev/null, through a link in a directory of the test's own, so that a
/// regression would replace the link and not /dev/null) is written into, without `--force`, and stays what
/// it was: no temporary file beside it, nothing renamed onto it.
#[cfg(unix)]
#[test]
fn a_device_output_is_written_into_and_not_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let tmp = tempfile::tempdir().unwrap();
    let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images/fmnist-t10k-00000.png");
    let aez_file = tmp.path().join("x.aez");
    let o = run(&["compress".as_ref(), png.as_os_str(), aez_file.as_os_str()]);
    assert!(o.status.success(), "{o:?}");
    let null = tmp.path().join("null");
    std::os::unix::fs::symlink("/dev/null", &null).unwrap();
    // A batch goes to an IDX file (named so: the kind of output comes from the name, as for files).
    let null_idx = tmp.path().join("null.idx");
    std::os::unix::fs::symlink("/dev/null", &null_idx).unwrap();
    let big = big_input(tmp.path(), 1);
    for args in [
        vec!["compress".as_ref(), png.as_os_str(), null.as_os_str()],
        vec![
            "decompress".as_ref(),
            aez_file.as_os_str(),
            null.as_os_str(),
        ],
        vec!["decompress".as_ref(), big.as_os_str(), null_idx.as_os_str()],
    ] {
        let o = run(&args);
        assert!(o.status.success(), "{args:?}: {o:?}");
        for link in [&null, &null_idx] {
            let m = std::fs::metadata(link).unwrap();
            assert!(m.file_type().is_char_device(), "{args:?}");
        }
        assert!(temporaries(tmp.path()).is_empty(), "{args:?}");
    }
}

/// Names in `dir` of the temporary files `aez` writes outputs under.
fn temporaries(dir: &Path) -> Vec<String> {
    listing(dir)
        .into_iter()
        .filter(|n| n.starts_with(".aez-tmp-"))
        .collect()
}

/// Runs `aez ARGS`, whose output goes into the empty directory `out_dir`; once the output's temporary
/// file exists there, sends `signal` (`INT` or `TERM`), then checks that `aez` exits quietly with `code`
/// and leaves `out_dir` empty: no temporary file, no output.
fn interrupt_leaves_nothing(args: &[&std::ffi::OsStr], out_dir: &Path, signal: &str, code: i32) {
    assert!(listing(out_dir).is_empty());
    let mut child = aez()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let start = Instant::now();
    while temporaries(out_dir).is_empty() {
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!(
                "aez ended ({status}) before its temporary file was seen: make the input bigger"
            );
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("no temporary file in {} after 60 s", out_dir.display());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let sent = Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let start = Instant::now();
    loop {
        if child.try_wait().expect("try_wait").is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("aez still running 60 s after SIG{signal}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(code), "after SIG{signal}: {o:?}");
    assert!(
        o.stderr.is_empty(),
        "quiet after SIG{signal}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        listing(out_dir),
        Vec::<String>::new(),
        "after SIG{signal}, nothing in the output directory"
    );
}

#[test]
fn an_interrupted_compress_leaves_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    // 2000 x 64 images: seconds of work, far more than it takes to see the temporary file.
    let mut args = vec![std::ffi::OsString::from("compress")];
    args.extend(std::iter::repeat_n(
        "fixtures/idx/fmnist-t10k-64.idx".into(),
        2000,
    ));
    args.extend(["-o".into(), out_dir.join("all.aez").into_os_string()]);
    let args: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
    interrupt_leaves_nothing(&args, &out_dir, "INT", 130);
}

#[test]
fn an_interrupted_decompress_leaves_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let big = big_input(tmp.path(), 1000); // 64,000 images: seconds of work
    for (signal, code, name) in [("INT", 130, "all.idx"), ("TERM", 143, "all.idx.gz")] {
        let out_dir = tmp.path().join(format!("out-{signal}"));
        std::fs::create_dir(&out_dir).unwrap();
        let out = out_dir.join(name);
        interrupt_leaves_nothing(args!["decompress", big, out], &out_dir, signal, code);
    }
}

/// `--fsync` makes outputs durable (fsync of the file and its directory); the bytes and the files left are
/// the same as without it, and a refused overwrite is refused the same way.
#[test]
fn fsync_writes_the_same_files() {
    let d = tempfile::tempdir().unwrap();
    let png = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/images/fmnist-t10k-00000.png");
    let p = |n: &str| d.path().join(n);
    let ok = |o: Output| assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    ok(run(args!["compress", png, p("a.aez")]));
    ok(run(args!["decompress", p("a.aez"), p("a.png")]));
    ok(run(args!["--fsync", "compress", png, p("b.aez")]));
    ok(run(args!["decompress", "--fsync", p("b.aez"), p("b.png")]));
    let read = |n: &str| std::fs::read(p(n)).unwrap();
    assert_eq!(read("a.aez"), read("b.aez"));
    assert_eq!(read("a.png"), read("b.png"));
    assert_eq!(listing(d.path()), ["a.aez", "a.png", "b.aez", "b.png"]);
    let o = run(args!["--fsync", "compress", png, p("a.aez")]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(listing(d.path()), ["a.aez", "a.png", "b.aez", "b.png"]);
}
