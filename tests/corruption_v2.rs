//! Version-2 codec files made with the test bundle `fixtures/models/tiny-conv` (random weights: the pixels
//! are noise, but sizes, colour layouts, alpha, bands, streams and latents are real), and the corruption
//! matrix over them.
//!
//! The golden files in `fixtures/golden-v2-codec/` (see its README) are regenerated with
//!
//! ```sh
//! AEZ_BLESS=1 cargo test --test suite corruption_v2::
//! ```
//!
//! and otherwise checked: each still decodes to the same images (size and colour layout exactly, pixels
//! within 1 level, alpha exactly) from the same latents (exactly, by the entropy layer alone).
//!
//! Then every single-bit flip and every truncation of every one of them goes through the full decoder
//! (`aez::Decoder`, the network included): it must end in an error (never success, never a panic) that
//! carries a location (the damaged record and an offset inside it, or the damaged header or end marker);
//! every image whose bytes all come before the damage is delivered first, unchanged; `aez::inspect`
//! refuses the damaged input too; and a truncation is reported as one, where the bytes ran out. The one
//! exception is a cut exactly between two concatenated streams (the encoder starts a new stream when the
//! descriptor changes): what is left is a valid input, and it must decode to exactly the images before
//! the cut.

use crate::readers;
use readers::OneByte;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use aez::entropy::{decode_latent, decode_latents, SymbolTable};
use aez::format::consts::CRC_LEN;
use aez::format::{Descriptors, Event, HeaderV2, ImageDesc, Kind, StreamReader, StreamWriter};
use aez::layout::LatentShape;
use aez::{BackendChoice, Bundle, Coder, Decoder, Error, Limits, Location, Model, Options};
use image::{DynamicImage, RgbaImage};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn golden_dir() -> PathBuf {
    root().join("fixtures/golden-v2-codec")
}

fn bless() -> bool {
    std::env::var_os("AEZ_BLESS").is_some_and(|v| v != "0")
}

fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        let b = Bundle::from_dir(&root().join("fixtures/models/tiny-conv")).expect("tiny-conv");
        Model::load(b, BackendChoice::Auto).expect("loading tiny-conv")
    })
}

/// Limits that read version 2 (the defaults otherwise).
fn limits() -> Limits {
    Limits::default().with_max_version(2)
}

// ------------------------------------------------------------------------------------------------
// The golden files.

/// A deterministic RGBA test pattern, different for each `seed`; its alpha has flat runs and edges.
fn pattern(w: u32, h: u32, seed: u32) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, y| {
        let v =
            |k: u32| ((x * (13 + k) + y * (7 + 3 * k) + seed * 31 + (x * y) % (5 + k)) % 256) as u8;
        let a = if (x + seed).is_multiple_of(5) {
            0
        } else {
            ((y * 40 + x * 9 + seed) % 256) as u8
        };
        image::Rgba([v(0), v(1), v(2), a])
    })
}

fn gray(w: u32, h: u32, seed: u32) -> DynamicImage {
    DynamicImage::ImageLuma8(DynamicImage::ImageRgba8(pattern(w, h, seed)).to_luma8())
}

fn gray_alpha(w: u32, h: u32, seed: u32) -> DynamicImage {
    DynamicImage::ImageLumaA8(DynamicImage::ImageRgba8(pattern(w, h, seed)).to_luma_alpha8())
}

fn rgb(w: u32, h: u32, seed: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(pattern(w, h, seed)).to_rgb8())
}

fn rgba(w: u32, h: u32, seed: u32) -> DynamicImage {
    DynamicImage::ImageRgba8(pattern(w, h, seed))
}

/// The record payload limit that makes the tiled files band (with room for the per-image descriptor).
const TILED_MAX_PAYLOAD: u32 = 100;

fn tiled_options() -> Options {
    Options::default().with_limits(Limits::default().with_max_payload(TILED_MAX_PAYLOAD))
}

/// One golden file: its name, what it is, and how it is made from the model.
struct Case {
    file: &'static str,
    what: &'static str,
    make: fn(&Model) -> Vec<u8>,
    /// Streams, images and (over all images) bands with more than one band, checked on the file.
    streams: usize,
    images: usize,
    tiled: u64,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            file: "single-rgb.aez",
            what: "one 8x6 RGB image: a single-image stream with a header descriptor",
            make: |m| aez::compress(m, &rgb(8, 6, 1)).expect("compress"),
            streams: 1,
            images: 1,
            tiled: 0,
        },
        Case {
            file: "gray-alpha.aez",
            what: "one 7x5 gray+alpha image: a batch of its latent record and its alpha record",
            make: |m| aez::compress(m, &gray_alpha(7, 5, 2)).expect("compress"),
            streams: 1,
            images: 1,
            tiled: 0,
        },
        Case {
            file: "tiled-rgba.aez",
            what: "one 16x12 RGBA image coded for a 100-byte payload limit: bands of latent rows, each a \
                   latent and an alpha record",
            make: |m| aez::compress_with(m, &rgba(16, 12, 3), &tiled_options()).expect("compress"),
            streams: 1,
            images: 1,
            tiled: 1,
        },
        Case {
            file: "mixed-batch.aez",
            what: "the encoder's stream of 6x6 RGB, 6x6 RGB, 9x3 gray, 5x4 RGBA: a new concatenated stream \
                   at each change of descriptor (three streams)",
            make: |m| {
                let opts = Options::default().with_images_per_record(1);
                let mut enc = aez::Encoder::new(Vec::new(), m, opts).expect("encoder");
                for img in [rgb(6, 6, 4), rgb(6, 6, 5), gray(9, 3, 6), rgba(5, 4, 7)] {
                    enc.push_image(&img).expect("push");
                }
                enc.finish().expect("finish")
            },
            streams: 3,
            images: 4,
            tiled: 0,
        },
        Case {
            file: "packed-batch.aez",
            what: "the encoder's stream of seven 6x5 gray images packed 3 per record (records of 3, 3 and 1 \
                   images), then two 4x4 RGB images (a second stream, one record of 2)",
            make: |m| {
                let opts = Options::default().with_images_per_record(3);
                let mut enc = aez::Encoder::new(Vec::new(), m, opts).expect("encoder");
                for i in 0..7 {
                    enc.push_image(&gray(6, 5, 20 + i)).expect("push");
                }
                for i in 0..2 {
                    enc.push_image(&rgb(4, 4, 30 + i)).expect("push");
                }
                enc.finish().expect("finish")
            },
            streams: 2,
            images: 9,
            tiled: 0,
        },
        Case {
            file: "mixed-per-image.aez",
            what: "one batch with per-image descriptors (written with StreamWriter::write_image from the \
                   codec's records): 4x4 gray, 12x10 RGBA in bands, 3x2 RGB, 2x9 gray+alpha",
            make: |m| {
                let imgs = [
                    (gray(4, 4, 8), Options::default()),
                    (rgba(12, 10, 9), tiled_options()),
                    (rgb(3, 2, 10), Options::default()),
                    (gray_alpha(2, 9, 11), Options::default()),
                ];
                let id = aez::codec::model_id(m.bundle());
                let header = HeaderV2::new(Coder::Range, Kind::Batch, id, Descriptors::PerImage);
                let mut w = StreamWriter::new(Vec::new(), header).expect("writer");
                for (img, opts) in &imgs {
                    let one = aez::compress_with(m, img, opts).expect("compress");
                    let (desc, bodies) = one_image(&one);
                    w.write_image(&desc, &bodies[0]).expect("write_image");
                    for b in &bodies[1..] {
                        w.write_record(b).expect("write_record");
                    }
                }
                w.finish().expect("finish")
            },
            streams: 1,
            images: 4,
            tiled: 1,
        },
    ]
}

/// The descriptor and record bodies of a one-image stream.
fn one_image(bytes: &[u8]) -> (ImageDesc, Vec<Vec<u8>>) {
    let mut rd = StreamReader::new(bytes, None, limits());
    let mut desc = None;
    let mut bodies = Vec::new();
    while let Some(ev) = rd.next_event().expect("a fresh stream parses") {
        if let Event::Record(r) = ev {
            let part = r.part.expect("version 2");
            desc = part.desc;
            bodies.push(r.body().to_vec());
        }
    }
    (desc.expect("a descriptor"), bodies)
}

/// The tables of each level of the model.
fn level_tables(m: &Model) -> Vec<Vec<SymbolTable>> {
    aez::codec::level_tables(m.bundle()).expect("valid tables")
}

/// Each image's descriptor and whole quantized latent (its bands' latents, in order), by the container
/// and entropy layers alone.
fn latents(bytes: &[u8], m: &Model) -> Vec<(ImageDesc, Vec<i32>)> {
    let tables = level_tables(m);
    let layout = *m.layout();
    let mut rd = StreamReader::new(bytes, None, limits());
    let mut coder = Coder::Range;
    let mut out: Vec<(ImageDesc, Vec<i32>)> = Vec::new();
    while let Some(ev) = rd.next_event().expect("a golden file parses") {
        match ev {
            Event::Header(h) => coder = h.header.coder,
            Event::Record(r) => {
                let part = r.part.expect("version 2");
                let desc = part.desc.expect("a descriptor");
                let latent = layout
                    .latent_shape(desc.width, desc.height)
                    .expect("a size it takes");
                if desc.packed {
                    // A packed record: its images' latents coded as one.
                    let k = part.images as usize;
                    let mut q = Vec::new();
                    decode_latents(
                        coder,
                        &tables[usize::from(desc.level)],
                        latent,
                        k,
                        r.body(),
                        &mut q,
                    )
                    .expect("a golden packed record decodes");
                    for one in q.chunks_exact(latent.len()) {
                        out.push((desc, one.to_vec()));
                    }
                    continue;
                }
                if part.is_first() {
                    out.push((desc, Vec::new()));
                }
                if part.alpha {
                    continue;
                }
                let rows = desc.band_latent_rows(part.band, latent.height);
                let shape = LatentShape {
                    height: rows.end - rows.start,
                    ..latent
                };
                let mut q = Vec::new();
                decode_latent(
                    coder,
                    &tables[usize::from(desc.level)],
                    shape,
                    r.body(),
                    &mut q,
                )
                .expect("a golden latent decodes");
                out.last_mut().expect("an image").1.extend(q);
            }
        }
    }
    out
}

fn decode_all(bytes: &[u8], batch: usize) -> (Vec<DynamicImage>, Option<Error>) {
    crate::model_common::decode_images(bytes, model(), batch)
}

fn colour_name(img: &DynamicImage) -> &'static str {
    match img {
        DynamicImage::ImageLuma8(_) => "gray",
        DynamicImage::ImageLumaA8(_) => "gray+alpha",
        DynamicImage::ImageRgb8(_) => "RGB",
        DynamicImage::ImageRgba8(_) => "RGBA",
        _ => "other",
    }
}

fn alpha_of(img: &DynamicImage) -> Option<Vec<u8>> {
    img.color()
        .has_alpha()
        .then(|| img.to_luma_alpha8().pixels().map(|p| p[1]).collect())
}

fn ints(q: &[i32]) -> String {
    q.iter().map(i32::to_string).collect::<Vec<_>>().join(" ")
}

fn golden_json() -> serde_json::Value {
    let path = golden_dir().join("golden.json");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (AEZ_BLESS=1 cargo test --test suite corruption_v2::)",
            path.display()
        )
    });
    serde_json::from_slice(&bytes).expect("golden.json")
}

fn read_golden(file: &str) -> Vec<u8> {
    crate::model_common::read_golden(&golden_dir(), file, "corruption_v2")
}

#[test]
fn golden_v2_codec_files_decode_to_their_images() {
    let m = model();
    if bless() {
        std::fs::create_dir_all(golden_dir()).expect("mkdir");
        let mut files = Vec::new();
        for c in cases() {
            let bytes = (c.make)(m);
            let (images, err) = decode_all(&bytes, 1);
            assert!(err.is_none(), "{}: {err:?}", c.file);
            let mut decoded = Vec::new();
            let mut entries = Vec::new();
            for ((desc, q), img) in latents(&bytes, m).iter().zip(&images) {
                decoded.extend_from_slice(img.as_bytes());
                entries.push(serde_json::json!({
                    "width": desc.width,
                    "height": desc.height,
                    "colour": colour_name(img),
                    "descriptor": desc.to_string(),
                    "q": ints(q),
                }));
            }
            std::fs::write(golden_dir().join(c.file), &bytes).expect("write");
            std::fs::write(
                golden_dir().join(format!("{}.decoded.u8", c.file)),
                &decoded,
            )
            .expect("write");
            files.push(serde_json::json!({
                "file": c.file,
                "what": c.what,
                "bytes": bytes.len(),
                "images": entries,
            }));
        }
        let json = serde_json::json!({
            "model": m.bundle().name(),
            "hash": aez::model::hex(m.bundle().hash()),
            "backend": aez::active_backend().map_or("none".to_string(), |b| b.to_string()),
            "files": files,
        });
        let mut text = serde_json::to_string_pretty(&json).expect("json");
        text.push('\n');
        std::fs::write(golden_dir().join("golden.json"), text).expect("write");
    }
    let json = golden_json();
    for c in cases() {
        let bytes = read_golden(c.file);
        let entry = json["files"]
            .as_array()
            .and_then(|f| f.iter().find(|f| f["file"] == c.file))
            .unwrap_or_else(|| panic!("{}: not in golden.json", c.file));
        let want = entry["images"].as_array().expect("images");
        // The structure the case describes.
        let info = aez::inspect(&bytes[..], None, limits()).expect("inspect");
        assert_eq!(info.len(), c.streams, "{}: streams", c.file);
        assert_eq!(
            info.iter().map(|s| s.images).sum::<u64>(),
            c.images as u64,
            "{}",
            c.file
        );
        assert_eq!(
            info.iter().map(|s| s.tiled_images).sum::<u64>(),
            c.tiled,
            "{}",
            c.file
        );
        assert!(info.iter().all(|s| s.version == 2), "{}: version 2", c.file);
        if c.tiled > 0 {
            assert!(info
                .iter()
                .all(|s| s.max_payload <= u64::from(TILED_MAX_PAYLOAD)));
        }
        // Latents exactly.
        let q = latents(&bytes, model());
        assert_eq!(q.len(), want.len(), "{}: images", c.file);
        for (i, ((desc, q), w)) in q.iter().zip(want).enumerate() {
            assert_eq!(w["descriptor"], desc.to_string(), "{}: image {i}", c.file);
            assert_eq!(w["q"], ints(q), "{}: image {i}: latents differ", c.file);
        }
        // Pixels within 1 level, alpha exactly, from a slice and from a one-byte reader.
        let (images, err) = decode_all(&bytes, 2);
        assert!(err.is_none(), "{}: {err:?}", c.file);
        let mut dec = Decoder::new(OneByte(&bytes), model(), Options::default()).expect("decoder");
        let mut one = Vec::new();
        while let Some(img) = dec.next_image().expect("one byte per read") {
            one.push(img);
        }
        assert!(
            one == images,
            "{}: one byte per read decodes otherwise",
            c.file
        );
        let decoded = read_golden(&format!("{}.decoded.u8", c.file));
        let mut at = 0;
        for (i, (img, w)) in images.iter().zip(want).enumerate() {
            assert_eq!(
                (img.width(), img.height(), colour_name(img)),
                (
                    w["width"].as_u64().unwrap() as u32,
                    w["height"].as_u64().unwrap() as u32,
                    w["colour"].as_str().unwrap()
                ),
                "{}: image {i}",
                c.file
            );
            let got = img.as_bytes();
            let old = &decoded[at..at + got.len()];
            at += got.len();
            let worst = got
                .iter()
                .zip(old)
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap_or(0);
            assert!(
                worst <= 1,
                "{}: image {i}: pixels differ by up to {worst}",
                c.file
            );
            if img.color().has_alpha() {
                let n = usize::from(img.color().channel_count());
                let a: Vec<u8> = got.iter().skip(n - 1).step_by(n).copied().collect();
                let b: Vec<u8> = old.iter().skip(n - 1).step_by(n).copied().collect();
                assert_eq!(a, b, "{}: image {i}: alpha differs", c.file);
                assert_eq!(alpha_of(img).as_deref(), Some(&a[..]));
            }
        }
        assert_eq!(at, decoded.len(), "{}: decoded bytes", c.file);
    }
}

// ------------------------------------------------------------------------------------------------
// The corruption matrix.

/// A stream of a golden file: where it starts, where its header (and header CRC) ends, where its end
/// marker starts (batch), where it ends.
#[derive(Debug)]
struct StreamSpan {
    start: usize,
    header_end: usize,
    kind: Kind,
    marker: Option<usize>,
    end: usize,
    /// Its first record's index in the whole input.
    first_record: u64,
}

/// The byte spans of a clean golden file.
#[derive(Debug)]
struct Spans {
    streams: Vec<StreamSpan>,
    /// Each record (global index order): head to CRC end.
    records: Vec<(usize, usize)>,
    /// Where each image's last record ends.
    image_ends: Vec<usize>,
}

fn spans(bytes: &[u8]) -> Spans {
    let mut rd = StreamReader::new(bytes, None, limits());
    let mut streams: Vec<StreamSpan> = Vec::new();
    let mut records = Vec::new();
    let mut image_ends = Vec::new();
    while let Some(ev) = rd.next_event().expect("a golden file parses") {
        match ev {
            Event::Header(h) => {
                let start = h.offset as usize;
                if let Some(last) = streams.last_mut() {
                    last.end = start;
                }
                let kind = h.header.kind;
                let crc = if kind == Kind::Batch { CRC_LEN } else { 0 };
                streams.push(StreamSpan {
                    start,
                    header_end: start + h.any().stored_len() + crc,
                    kind,
                    marker: None,
                    end: bytes.len(),
                    first_record: records.len() as u64,
                });
            }
            Event::Record(r) => {
                let end = r.payload_offset as usize + r.payload.len() + CRC_LEN;
                records.push((r.offset as usize, end));
                let part = r.part.expect("version 2");
                if part.is_last() {
                    // A packed record's images all end with it.
                    image_ends.extend(std::iter::repeat_n(end, part.images as usize));
                }
            }
        }
    }
    for s in &mut streams {
        if s.kind == Kind::Batch {
            let last = records
                .iter()
                .filter(|&&(a, _)| a >= s.start && a < s.end)
                .map(|&(_, b)| b)
                .max();
            s.marker = Some(last.unwrap_or(s.header_end));
        }
    }
    Spans {
        streams,
        records,
        image_ends,
    }
}

fn location(e: &Error) -> Option<&Location> {
    match e {
        Error::Format { at, .. } | Error::Limit { at, .. } | Error::Entropy { at, .. } => Some(at),
        _ => None,
    }
}

/// Runs one damaged input (damage at byte `pos`, or cut to `pos` bytes) through the decoder and checks
/// what it delivers and reports.
fn check_damaged(
    name: &str,
    what: &str,
    d: &[u8],
    pos: usize,
    truncation: bool,
    s: &Spans,
    clean: &[DynamicImage],
) {
    let ctx = format!("{name}, {what}");
    let batch = if pos.is_multiple_of(2) { 1 } else { 3 };
    let (images, err) = decode_all(d, batch);
    // Every image whose bytes all come before the damage, unchanged, and no other.
    let before = s.image_ends.iter().filter(|&&e| e <= pos).count();
    assert!(
        images.len() <= clean.len() && images[..] == clean[..images.len()],
        "{ctx}: a delivered image differs from the clean one ({err:?})"
    );
    if truncation && pos > 0 && s.streams.iter().any(|st| st.start == pos) {
        // A cut between two concatenated streams leaves a valid input.
        assert!(err.is_none(), "{ctx}: a cut between streams: {err:?}");
        assert_eq!(images.len(), before, "{ctx}: a cut between streams");
        return;
    }
    let Some(err) = err else {
        panic!(
            "{ctx}: damage not detected, {} images returned as success",
            images.len()
        );
    };
    assert_eq!(
        images.len(),
        before,
        "{ctx}: images delivered before the damage ({err})"
    );
    let at = match (location(&err), &err) {
        (Some(at), _) => at,
        (None, Error::ModelMismatch { .. }) => {
            panic!("{ctx}: a damaged model id passed the CRC: {err}")
        }
        (None, _) => panic!("{ctx}: an error without a location: {err}"),
    };
    assert!(
        at.offset <= d.len() as u64,
        "{ctx}: offset past the input: {err}"
    );
    if let Some(r) = s.records.iter().position(|&(a, b)| a <= pos && pos < b) {
        let (a, b) = s.records[r];
        assert_eq!(
            at.record,
            Some(r as u64),
            "{ctx}: the error names another record: {err}"
        );
        assert!(
            (a as u64..=b as u64).contains(&at.offset),
            "{ctx}: offset {} outside record {r} ({a}..{b}): {err}",
            at.offset
        );
    } else {
        let st = s
            .streams
            .iter()
            .find(|st| st.start <= pos && pos < st.end.max(st.start + 1))
            .unwrap_or_else(|| panic!("{ctx}: damage outside every stream"));
        if pos < st.header_end {
            if st.kind == Kind::Batch {
                assert_eq!(
                    at.record, None,
                    "{ctx}: header damage names a record: {err}"
                );
                assert!(
                    (st.start as u64..=st.header_end as u64).contains(&at.offset),
                    "{ctx}: header damage reported at {}: {err}",
                    at.offset
                );
            } else {
                // A single image's CRC covers its header: the magic, version, flags and descriptor
                // length are reported where they are, other header damage at the file CRC.
                assert!(
                    at.record.is_none() || at.record == Some(st.first_record),
                    "{ctx}: {err}"
                );
                assert!(
                    (st.start as u64..=st.end as u64).contains(&at.offset),
                    "{ctx}: {err}"
                );
            }
        } else {
            let marker = st
                .marker
                .unwrap_or_else(|| panic!("{ctx}: damage past a single image's CRC"));
            assert!(
                at.offset as usize >= marker && at.offset as usize <= st.end,
                "{ctx}: end marker damage reported at {}: {err}",
                at.offset
            );
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
    // The container walk alone refuses it too.
    assert!(
        aez::inspect(d, None, limits()).is_err(),
        "{ctx}: inspect accepts the damaged input"
    );
    if clean.len() == 1 {
        assert!(
            aez::decompress(model(), d).is_err(),
            "{ctx}: decompress succeeded"
        );
    }
}

/// Every truncation and every single-bit flip of one golden file.
fn matrix(file: &str) {
    let bytes = read_golden(file);
    let s = spans(&bytes);
    let (clean, err) = decode_all(&bytes, 1);
    assert!(err.is_none(), "{file}: {err:?}");
    assert_eq!(clean.len(), s.image_ends.len());
    let mut checked = 0usize;
    for cut in 0..bytes.len() {
        check_damaged(
            file,
            &format!("cut to {cut} bytes"),
            &bytes[..cut],
            cut,
            true,
            &s,
            &clean,
        );
        checked += 1;
    }
    for pos in 0..bytes.len() {
        for bit in 0..8 {
            let mut d = bytes.clone();
            d[pos] ^= 1 << bit;
            check_damaged(
                file,
                &format!("bit {bit} of byte {pos} flipped"),
                &d,
                pos,
                false,
                &s,
                &clean,
            );
            checked += 1;
        }
    }
    assert_eq!(checked, bytes.len() * 9);
}

#[test]
fn every_flip_and_truncation_of_single_rgb_is_refused() {
    matrix("single-rgb.aez");
}

#[test]
fn every_flip_and_truncation_of_gray_alpha_is_refused() {
    matrix("gray-alpha.aez");
}

#[test]
fn every_flip_and_truncation_of_tiled_rgba_is_refused() {
    matrix("tiled-rgba.aez");
}

#[test]
fn every_flip_and_truncation_of_mixed_batch_is_refused() {
    matrix("mixed-batch.aez");
}

#[test]
fn every_flip_and_truncation_of_packed_batch_is_refused() {
    matrix("packed-batch.aez");
}

#[test]
fn every_flip_and_truncation_of_mixed_per_image_is_refused() {
    matrix("mixed-per-image.aez");
}

#[test]
fn the_golden_v2_codec_files_are_all_in_the_matrix() {
    // Every .aez in the folder is a case (and so goes through the matrix).
    let names: BTreeMap<String, ()> = std::fs::read_dir(golden_dir())
        .expect("fixtures/golden-v2-codec")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".aez"))
        .map(|n| (n, ()))
        .collect();
    let cases: BTreeMap<String, ()> = cases().iter().map(|c| (c.file.to_string(), ())).collect();
    assert_eq!(names, cases);
}
