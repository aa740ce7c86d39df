//! Replays every input in `tests/fuzz_findings/` through the decoder.
//!
//! Each input `NAME` (inputs found by the fuzz targets in `fuzz/`, and hand-made hostile inputs that
//! seed them; see `scripts/fuzz.sh`) has a `NAME.expect` file with its documented result:
//!
//! ```text
//! result: error            # or: result: ok
//! kind: Limit              # the aez::Error variant (error only)
//! record: 0                # the record index in the error's location, or none
//! offset: 17               # the byte offset in the error's location
//! message: ...             # a substring of the error's message
//! images: 3                # images delivered (before the error, or in all); optional, default 0
//! model: default           # optional: first put the default model's id in the header (and fix the
//!                          # header CRC of a batch), so the input stays valid when the model changes
//! ```
//!
//! Each input is decoded with the model its header names (looked up like `aez decompress` does) from a
//! slice and from a reader that returns one byte per call (the two must agree exactly), and walked by
//! `aez::inspect`. None of it may panic, and the result must be the documented one.

mod readers;
use readers::OneByte;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use aez::{Decoder, Error, Limits, ModelChoice, Options};

fn findings_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_findings")
}

fn decode<R: Read>(r: R) -> (Vec<Vec<u8>>, Option<Error>) {
    let mut dec = match Decoder::new(r, ModelChoice::default(), Options::default()) {
        Ok(d) => d,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut images = Vec::new();
    loop {
        match dec.next_pixels() {
            Ok(Some(p)) => images.push(p),
            Ok(None) => return (images, None),
            Err(e) => return (images, Some(e)),
        }
    }
}

fn variant(e: &Error) -> String {
    format!("{e:?}")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

fn location(e: &Error) -> Option<&aez::Location> {
    match e {
        Error::Format { at, .. }
        | Error::Limit { at, .. }
        | Error::Entropy { at, .. }
        | Error::ModelMismatch { at, .. } => Some(at),
        _ => None,
    }
}

fn parse_expect(path: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!(
            "{}: every finding needs its .expect file: {e}",
            path.display()
        )
    });
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("{}: bad line {l:?}", path.display()));
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

/// Puts the default model's id into the header at bytes 6..13 and, for a batch stream, fixes the
/// header CRC that follows the header.
fn with_default_model(mut bytes: Vec<u8>) -> Vec<u8> {
    use aez::format::consts::{HEADER_LEN_EXPLICIT_GEOMETRY, HEADER_LEN_MODEL_GEOMETRY};
    let model = aez::Model::default_model().expect("default model");
    let id = aez::codec::model_id(model.bundle());
    if bytes.len() >= 13 {
        bytes[6..13].copy_from_slice(&id);
    }
    let flags = bytes.get(5).copied().unwrap_or(0);
    let len = if flags & 0x30 == 0x30 {
        HEADER_LEN_MODEL_GEOMETRY
    } else {
        HEADER_LEN_EXPLICIT_GEOMETRY
    };
    if flags & 0x0c == 0x0c && bytes.len() >= len + 4 {
        let crc = aez::format::crc32(&[&bytes[..len]]);
        bytes[len..len + 4].copy_from_slice(&crc.to_le_bytes());
    }
    bytes
}

fn check(name: &str, bytes: &[u8], expect: &HashMap<String, String>) {
    let patched;
    let bytes = if expect.get("model").is_some_and(|m| m == "default") {
        patched = with_default_model(bytes.to_vec());
        &patched[..]
    } else {
        bytes
    };
    let (images, err) = decode(bytes);
    let (images1, err1) = decode(OneByte(bytes));
    assert_eq!(
        images, images1,
        "{name}: one byte per read gives other images"
    );
    assert_eq!(
        err.as_ref().map(ToString::to_string),
        err1.as_ref().map(ToString::to_string),
        "{name}: one byte per read gives another result"
    );
    // The container walk alone must not panic; when it fails, decoding failed too.
    if aez::inspect(bytes, None, Limits::default()).is_err() {
        assert!(err.is_some(), "{name}: inspect fails but decoding succeeds");
    }
    let want_images: usize = expect
        .get("images")
        .map_or(0, |v| v.parse().expect("images: N"));
    assert_eq!(images.len(), want_images, "{name}: images delivered");
    match expect.get("result").map(String::as_str) {
        Some("ok") => assert!(err.is_none(), "{name}: expected success, got {err:?}"),
        Some("error") => {
            let Some(e) = err else {
                panic!("{name}: expected an error, decoding succeeded");
            };
            let msg = e.to_string();
            if let Some(k) = expect.get("kind") {
                assert_eq!(&variant(&e), k, "{name}: {msg}");
            }
            if let Some(m) = expect.get("message") {
                assert!(
                    msg.contains(m.as_str()),
                    "{name}: message {msg:?} lacks {m:?}"
                );
            }
            let at = location(&e);
            if let Some(r) = expect.get("record") {
                let want = if r == "none" {
                    None
                } else {
                    Some(r.parse::<u64>().expect("record: N"))
                };
                assert_eq!(at.and_then(|a| a.record), want, "{name}: record in {msg}");
            }
            if let Some(o) = expect.get("offset") {
                let want: u64 = o.parse().expect("offset: N");
                assert_eq!(at.map(|a| a.offset), Some(want), "{name}: offset in {msg}");
            }
        }
        other => panic!("{name}: .expect needs `result: ok` or `result: error`, has {other:?}"),
    }
}

#[test]
fn every_fuzz_finding_gives_its_documented_result() {
    let mut names: Vec<PathBuf> = std::fs::read_dir(findings_dir())
        .expect("tests/fuzz_findings")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_none_or(|x| x != "expect" && x != "md"))
        .collect();
    names.sort();
    assert!(
        !names.is_empty(),
        "no regression inputs in tests/fuzz_findings"
    );
    for p in &names {
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(p).expect("reading a finding");
        let mut exp = p.clone().into_os_string();
        exp.push(".expect");
        check(&name, &bytes, &parse_expect(Path::new(&exp)));
    }
}
