//! The corruption matrix over the golden files (`fixtures/golden/*.aez`, read at test time so that it
//! follows a regenerated model): every single-bit flip and every truncation of every golden file must
//! give an error that names the record and the byte offset, never a panic, never success; and a batch
//! must still deliver every good record before the damage, unchanged.
//!
//! Most of the matrix runs on the container and entropy layers (`StreamReader` + `decode_symbols`: what
//! decides which records are good; no network, so it is fast in a debug build). The full decoder
//! (`aez::Decoder`, with the network) runs every flip and truncation of the one-image files and of the
//! 3-record batch, and checks the images delivered before an error against the clean decode.

use std::collections::HashMap;
use std::path::PathBuf;

use aez::entropy::{decode_symbols, SymbolTable};
use aez::format::consts::{CRC_LEN, HEADER_LEN_EXPLICIT_GEOMETRY, HEADER_LEN_MODEL_GEOMETRY};
use aez::format::{Event, Kind, StreamReader};
use aez::{Decoder, Error, Limits, Location, Model, Options};

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/golden")
}

/// Every golden `.aez` file, smallest first.
fn golden_files() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(golden_dir())
        .expect("fixtures/golden")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "aez"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&p).expect("reading a golden file");
            (name, bytes)
        })
        .collect();
    assert!(v.len() >= 4, "expected the golden files in fixtures/golden");
    v.sort_by_key(|(n, b)| (b.len(), n.clone()));
    v
}

/// The latents golden.json records for `file`: one vector per record.
fn golden_latents(file: &str) -> Option<Vec<Vec<i32>>> {
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(golden_dir().join("golden.json")).ok()?).ok()?;
    let entry = json["files"]
        .as_array()?
        .iter()
        .find(|f| f["file"] == file)?;
    entry["q"]
        .as_array()?
        .iter()
        .map(|r| {
            r.as_str()?
                .split_whitespace()
                .map(|x| x.parse().ok())
                .collect()
        })
        .collect()
}

/// The entropy tables of the model a stream names, found like a decoder finds it (by id).
fn tables_for(id: &[u8; 7]) -> Vec<SymbolTable> {
    let b = aez::Registry::new().find_by_id(id)
        .expect("model lookup")
        .unwrap_or_else(|| {
            panic!("no model with the golden files' id {id:02x?}: regenerate them (see fixtures/golden/README.md)")
        });
    b.tables()
        .iter()
        .map(|t| SymbolTable::new(t.min, &t.freqs, t.escape).expect("valid table"))
        .collect()
}

/// What the container + entropy layers deliver: the latents of each good record, then the error.
struct Outcome {
    records: Vec<Vec<i32>>,
    error: Option<Error>,
}

fn layer(bytes: &[u8], tables: &mut HashMap<[u8; 7], Vec<SymbolTable>>) -> Outcome {
    let mut rd = StreamReader::new(bytes, None, Limits::default());
    let mut records = Vec::new();
    let mut coder = aez::Coder::Range;
    let mut id = [0u8; 7];
    let error = loop {
        match rd.next_event() {
            Ok(None) => break None,
            Ok(Some(Event::Header(h))) => {
                coder = h.header.coder;
                id = h.header.model_id;
                if !tables.contains_key(&id) {
                    // A damaged id is caught by a CRC before here; an unknown one means a missed flip.
                    panic!("a damaged header passed its checks: model id {id:02x?}");
                }
            }
            Ok(Some(Event::Record(rec))) => {
                let mut q = Vec::new();
                if let Err(e) = decode_symbols(coder, &tables[&id], &rec.payload, &mut q) {
                    break Some(Error::Entropy {
                        at: rd.location(Some(rec.index), rec.payload_offset),
                        what: e.0,
                    });
                }
                records.push(q);
            }
            Err(e) => break Some(e),
        }
    };
    Outcome { records, error }
}

fn location(e: &Error) -> &Location {
    match e {
        Error::Format { at, .. } | Error::Limit { at, .. } | Error::Entropy { at, .. } => at,
        other => panic!("expected a format error with a location, got: {other}"),
    }
}

/// The byte spans of a clean stream: `header` ends at `header_end`; record `i` spans `records[i]`
/// (head to CRC); a batch's end marker is `[records.last().1, len)`.
struct Layout {
    kind: Kind,
    header_end: usize,
    records: Vec<(usize, usize)>,
}

fn layout(bytes: &[u8]) -> Layout {
    let mut rd = StreamReader::new(bytes, None, Limits::default());
    let mut kind = Kind::Single;
    let mut records = Vec::new();
    while let Some(ev) = rd.next_event().expect("a golden file parses") {
        match ev {
            Event::Header(h) => {
                assert_eq!(h.offset, 0, "golden files hold one stream");
                kind = h.header.kind;
            }
            Event::Record(r) => records.push((
                r.offset as usize,
                r.payload_offset as usize + r.payload.len() + CRC_LEN,
            )),
        }
    }
    // Geometry field `11`: the model's geometry, not stored (13 bytes); `00`: stored (17 bytes).
    let header_len = if bytes[5] & 0x30 == 0x30 {
        HEADER_LEN_MODEL_GEOMETRY
    } else {
        HEADER_LEN_EXPLICIT_GEOMETRY
    };
    let header_end = match kind {
        Kind::Single => header_len,
        Kind::Batch => header_len + CRC_LEN,
    };
    Layout {
        kind,
        header_end,
        records,
    }
}

/// The record whose bytes include `pos`, if any.
fn record_at(l: &Layout, pos: usize) -> Option<usize> {
    l.records.iter().position(|&(a, b)| a <= pos && pos < b)
}

/// A golden file's name, clean records and layout.
struct Golden<'a> {
    name: &'a str,
    clean: &'a [Vec<i32>],
    l: &'a Layout,
}

/// Runs one damaged input (damage at byte `pos`, or cut to `pos` bytes for a truncation) through the
/// layers and checks the outcome.
fn check_damaged(
    g: &Golden,
    what: &str,
    damaged: &[u8],
    pos: usize,
    truncation: bool,
    tables: &mut HashMap<[u8; 7], Vec<SymbolTable>>,
) {
    let (name, clean, l) = (g.name, g.clean, g.l);
    let ctx = format!("{name}, {what}");
    let out = layer(damaged, tables);
    let Some(err) = out.error else {
        panic!(
            "{ctx}: damage not detected ({} records delivered)",
            out.records.len()
        );
    };
    let at = location(&err);
    assert!(
        at.offset <= damaged.len() as u64,
        "{ctx}: offset {} is past the input ({err})",
        at.offset
    );
    // Every record delivered is an undamaged one, unchanged.
    assert!(out.records.len() <= clean.len(), "{ctx}: extra records");
    assert_eq!(
        out.records[..],
        clean[..out.records.len()],
        "{ctx}: a delivered record differs from the clean one"
    );
    match record_at(l, pos) {
        Some(i) => {
            // Damage inside record i: records 0..i delivered (batch), the error names record i.
            if l.kind == Kind::Batch {
                assert_eq!(
                    out.records.len(),
                    i,
                    "{ctx}: good records before the damage not all delivered ({err})"
                );
            }
            assert_eq!(
                at.record,
                Some(i as u64),
                "{ctx}: error does not name record {i}: {err}"
            );
            let (a, b) = l.records[i];
            assert!(
                (a as u64..=b as u64).contains(&at.offset),
                "{ctx}: offset {} outside record {i} ({a}..{b}): {err}",
                at.offset
            );
        }
        None if pos < l.header_end => {
            assert!(
                out.records.is_empty(),
                "{ctx}: records delivered after header damage"
            );
            if l.kind == Kind::Batch {
                // The header and its CRC: reported there, before any record.
                assert!(at.offset <= l.header_end as u64, "{ctx}: {err}");
                assert_eq!(
                    at.record, None,
                    "{ctx}: header damage names a record: {err}"
                );
            } else {
                // A one-image file's CRC covers its header: the magic, version and flags are reported
                // where they are, any other header damage at the file CRC (of record 0).
                assert!(at.record.is_none() || at.record == Some(0), "{ctx}: {err}");
            }
        }
        None => {
            // The end marker (batch) or, for a truncation, its very start.
            assert_eq!(
                l.kind,
                Kind::Batch,
                "{ctx}: damage past a one-image file's CRC?"
            );
            assert_eq!(
                out.records.len(),
                clean.len(),
                "{ctx}: good records not all delivered ({err})"
            );
            let marker = l.records.last().map_or(l.header_end, |r| r.1);
            assert!(at.offset as usize >= marker, "{ctx}: {err}");
        }
    }
    if truncation {
        assert_eq!(
            at.offset, pos as u64,
            "{ctx}: a truncation is reported where the bytes ran out: {err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("truncated") || msg.contains("empty input"),
            "{ctx}: a truncation is reported as such: {msg}"
        );
    }
}

/// How much of a file gets every bit flipped (all of it, except the big batch: header, the first 4
/// records, the last record and the end marker; its truncations are all checked).
fn flip_ranges(bytes: &[u8], l: &Layout) -> Vec<(usize, usize)> {
    if bytes.len() <= 800 {
        return vec![(0, bytes.len())];
    }
    let first = l.records.get(3).map_or(bytes.len(), |r| r.1);
    let last = l.records.last().map_or(l.header_end, |r| r.0);
    vec![(0, first), (last.max(first), bytes.len())]
}

#[test]
fn every_bit_flip_and_truncation_of_every_golden_file_is_reported_at_the_layers() {
    let mut tables = HashMap::new();
    let mut checked = 0usize;
    for (name, bytes) in golden_files() {
        let id: [u8; 7] = bytes[6..13].try_into().unwrap();
        tables.entry(id).or_insert_with(|| tables_for(&id));
        let clean = layer(&bytes, &mut tables);
        assert!(
            clean.error.is_none(),
            "{name}: clean file fails: {:?}",
            clean.error
        );
        if let Some(q) = golden_latents(&name) {
            assert_eq!(clean.records, q, "{name}: latents differ from golden.json");
        }
        let l = layout(&bytes);
        assert_eq!(l.records.len(), clean.records.len());
        let g = Golden {
            name: &name,
            clean: &clean.records,
            l: &l,
        };
        for cut in 0..bytes.len() {
            check_damaged(
                &g,
                &format!("truncated to {cut} bytes"),
                &bytes[..cut],
                cut,
                true,
                &mut tables,
            );
            checked += 1;
        }
        for (from, to) in flip_ranges(&bytes, &l) {
            for pos in from..to {
                for bit in 0..8 {
                    let mut d = bytes.clone();
                    d[pos] ^= 1 << bit;
                    check_damaged(
                        &g,
                        &format!("bit {bit} of byte {pos} flipped"),
                        &d,
                        pos,
                        false,
                        &mut tables,
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 10_000, "only {checked} damaged inputs checked");
}

fn decode_all(bytes: &[u8], model: &Model, batch: usize) -> (Vec<Vec<u8>>, Option<Error>) {
    let opts = Options::default().with_batch_size(batch);
    let mut dec = match Decoder::new(bytes, model, opts) {
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

#[test]
fn full_decoder_reports_every_flip_and_truncation_of_the_small_files_and_keeps_good_records() {
    let mut checked = 0usize;
    for (name, bytes) in golden_files().into_iter().filter(|(_, b)| b.len() <= 128) {
        let id: [u8; 7] = bytes[6..13].try_into().unwrap();
        let bundle = aez::Registry::new()
            .find_by_id(&id)
            .expect("lookup")
            .expect("the golden files' model");
        let model = Model::load(bundle, aez::BackendChoice::Auto).expect("loading the model");
        let l = layout(&bytes);
        // Batch size 1: each image is decoded alone, exactly as in the clean run.
        let (clean, err) = decode_all(&bytes, &model, 1);
        assert!(err.is_none(), "{name}: {err:?}");
        assert_eq!(clean.len(), l.records.len());
        let mut damaged: Vec<(String, Vec<u8>, usize, bool)> = Vec::new();
        for cut in 0..bytes.len() {
            damaged.push((
                format!("truncated to {cut}"),
                bytes[..cut].to_vec(),
                cut,
                true,
            ));
        }
        for pos in 0..bytes.len() {
            for bit in 0..8 {
                let mut d = bytes.clone();
                d[pos] ^= 1 << bit;
                damaged.push((format!("bit {bit} of byte {pos}"), d, pos, false));
            }
        }
        for (what, d, pos, truncation) in damaged {
            let (images, err) = decode_all(&d, &model, 1);
            let Some(err) = err else {
                panic!(
                    "{name}, {what}: damage not detected, {} images returned as success",
                    images.len()
                );
            };
            // `aez::decompress` (one image) never succeeds either.
            assert!(
                aez::decompress(&model, &d).is_err(),
                "{name}, {what}: decompress succeeded"
            );
            assert_eq!(
                images[..],
                clean[..images.len()],
                "{name}, {what}: a delivered image differs"
            );
            let at = match &err {
                Error::Format { at, .. } | Error::Limit { at, .. } | Error::Entropy { at, .. } => {
                    at
                }
                Error::ModelMismatch { .. } => {
                    panic!("{name}, {what}: a damaged model id passed the CRC")
                }
                other => panic!("{name}, {what}: unexpected error {other}"),
            };
            if let Some(i) = record_at(&l, pos) {
                assert_eq!(at.record, Some(i as u64), "{name}, {what}: {err}");
                if l.kind == Kind::Batch {
                    assert_eq!(
                        images.len(),
                        i,
                        "{name}, {what}: good images before the damage not delivered"
                    );
                }
            }
            if truncation {
                assert_eq!(at.offset, pos as u64, "{name}, {what}: {err}");
            }
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked} damaged inputs checked");
}
