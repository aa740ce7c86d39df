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
//! model: tiny-conv         # optional, version 2: first put the id of fixtures/models/tiny-conv in
//!                          # the header, and re-seal every CRC that was valid (header, records, end
//!                          # marker, a single image's file CRC) so that it stays valid
//! open: ...                # optional: the documented result is the spec's, and the library does not
//!                          # give it yet (a reported bug, said here): the test then requires that the
//!                          # result still differs, so that the fix removes this line
//! ```
//!
//! Each input is decoded with the model its header names (looked up like `aez decompress` does, in the
//! embedded models and `fixtures/models/`, where the version-2 test bundle `tiny-conv` is) from a slice
//! and from a reader that returns one byte per call (the two must agree exactly), and walked by
//! `aez::inspect` (versions 1 and 2). None of it may panic, and the result must be the documented one.

use crate::readers;
use readers::OneByte;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use aez::{BackendChoice, Decoder, Error, Limits, ModelChoice, Options, Registry};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn findings_dir() -> PathBuf {
    root().join("tests/fuzz_findings")
}

/// The embedded models and the test bundles of `fixtures/models/`.
fn models() -> ModelChoice {
    ModelChoice::Registry(
        Registry::with_dirs([root().join("fixtures/models")]),
        BackendChoice::Auto,
    )
}

fn decode<R: Read>(r: R) -> (Vec<Vec<u8>>, Option<Error>) {
    let mut dec = match Decoder::new(r, models(), Options::default()) {
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

/// The stored length of the version-2 header at the start of `b` (13, or 14 + the descriptor length).
fn v2_header_len(b: &[u8]) -> Option<usize> {
    let flags = *b.get(5)?;
    if flags & 0xf0 == 0 {
        Some(14 + usize::from(*b.get(13)? & 0x7f))
    } else {
        Some(13)
    }
}

/// Puts the id of `fixtures/models/tiny-conv` into a version-2 stream's header and re-seals every CRC
/// that was valid before: a single image's file CRC, or a batch's header CRC and then, walking the
/// records while their heads read, each record CRC and the end marker's CRC that matched the old
/// header CRC.
fn with_tiny_model(mut b: Vec<u8>) -> Vec<u8> {
    use aez::format::{crc32, head, record_crc};
    let bundle =
        aez::Bundle::from_dir(&root().join("fixtures/models/tiny-conv")).expect("tiny-conv");
    let id = aez::codec::model_id(&bundle);
    let Some(hlen) = v2_header_len(&b).filter(|&n| b.len() >= n + 4) else {
        if b.len() >= 13 {
            b[6..13].copy_from_slice(&id);
        }
        return b;
    };
    let crc_at = |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap());
    if b[5] & 0x0c == 0 {
        // Single image: the file CRC is the last 4 bytes.
        let n = b.len() - 4;
        let valid = crc32(&[&b[..n]]) == crc_at(&b, n);
        b[6..13].copy_from_slice(&id);
        if valid {
            let c = crc32(&[&b[..n]]);
            b[n..].copy_from_slice(&c.to_le_bytes());
        }
        return b;
    }
    let old_hc: [u8; 4] = b[hlen..hlen + 4].try_into().unwrap();
    let header_valid = crc32(&[&b[..hlen]]) == u32::from_le_bytes(old_hc);
    b[6..13].copy_from_slice(&id);
    if !header_valid {
        return b;
    }
    let hc = crc32(&[&b[..hlen]]).to_le_bytes();
    b[hlen..hlen + 4].copy_from_slice(&hc);
    let mut at = hlen + 4;
    let mut index = 0u64;
    while at < b.len() {
        let (head_len, n) = match head::parse(b[at]) {
            Ok(head::Head::End) => (1, 0usize),
            Ok(head::Head::Len(n)) => (1, n as usize),
            Ok(head::Head::Extended) if at + 9 <= b.len() => {
                let x: [u8; 8] = b[at + 1..at + 9].try_into().unwrap();
                match head::parse_extended(&x) {
                    Ok(n) => (9, n as usize),
                    Err(_) => break,
                }
            }
            _ => break,
        };
        let crc_off = at + head_len + n;
        if crc_off + 4 > b.len() {
            break;
        }
        let (h, p) = (
            b[at..at + head_len].to_vec(),
            b[at + head_len..crc_off].to_vec(),
        );
        if record_crc(&old_hc, index, &h, &p) == crc_at(&b, crc_off) {
            let c = record_crc(&hc, index, &h, &p);
            b[crc_off..crc_off + 4].copy_from_slice(&c.to_le_bytes());
        }
        at = crc_off + 4;
        index += 1;
        if h == [0] {
            break;
        }
    }
    b
}

/// Decodes one finding and compares the result with its `.expect`: the mismatches, if any.
fn check(name: &str, bytes: &[u8], expect: &HashMap<String, String>) -> Vec<String> {
    let patched;
    let bytes = match expect.get("model").map(String::as_str) {
        Some("default") => {
            patched = with_default_model(bytes.to_vec());
            &patched[..]
        }
        Some("tiny-conv") => {
            patched = with_tiny_model(bytes.to_vec());
            &patched[..]
        }
        Some(other) => panic!("{name}: unknown model {other:?} (default or tiny-conv)"),
        None => bytes,
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
    if aez::inspect(bytes, None, Limits::default().with_max_version(2)).is_err() {
        assert!(err.is_some(), "{name}: inspect fails but decoding succeeds");
    }
    let mut bad = Vec::new();
    let want_images: usize = expect
        .get("images")
        .map_or(0, |v| v.parse().expect("images: N"));
    if images.len() != want_images {
        bad.push(format!(
            "{} images delivered, expected {want_images}",
            images.len()
        ));
    }
    match expect.get("result").map(String::as_str) {
        Some("ok") => {
            if let Some(e) = &err {
                bad.push(format!("expected success, got: {e}"));
            }
        }
        Some("error") => {
            let Some(e) = err else {
                bad.push("expected an error, decoding succeeded".into());
                return bad;
            };
            let msg = e.to_string();
            if let Some(k) = expect.get("kind") {
                if &variant(&e) != k {
                    bad.push(format!("kind {} (expected {k}): {msg}", variant(&e)));
                }
            }
            if let Some(m) = expect.get("message") {
                if !msg.contains(m.as_str()) {
                    bad.push(format!("message {msg:?} lacks {m:?}"));
                }
            }
            let at = location(&e);
            if let Some(r) = expect.get("record") {
                let want = if r == "none" {
                    None
                } else {
                    Some(r.parse::<u64>().expect("record: N"))
                };
                if at.and_then(|a| a.record) != want {
                    bad.push(format!(
                        "record {:?} (expected {want:?}) in {msg}",
                        at.and_then(|a| a.record)
                    ));
                }
            }
            if let Some(o) = expect.get("offset") {
                let want: u64 = o.parse().expect("offset: N");
                if at.map(|a| a.offset) != Some(want) {
                    bad.push(format!(
                        "offset {:?} (expected {want}) in {msg}",
                        at.map(|a| a.offset)
                    ));
                }
            }
        }
        other => panic!("{name}: .expect needs `result: ok` or `result: error`, has {other:?}"),
    }
    bad
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
        let expect = parse_expect(Path::new(&exp));
        let bad = check(&name, &bytes, &expect);
        match expect.get("open") {
            None => assert!(bad.is_empty(), "{name}: {}", bad.join("; ")),
            Some(why) => {
                // A reported bug: the documented (spec) result is not given yet.
                assert!(
                    !bad.is_empty(),
                    "{name}: gives its documented result now: remove the `open:` line of its .expect ({why})"
                );
                eprintln!("{name}: open ({why}): {}", bad.join("; "));
            }
        }
    }
}
