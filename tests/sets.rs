//! Table sets (spec/model-bundle.md section 7; aez-format.md 11.5): the shipped bundle
//! `models/fmnist-conv-sets` (fmnist-conv's networks and quantizers, 64 sets of per-latent tables per
//! level), its files against fmnist-conv's (the same pixels, fewer bytes), the golden files in
//! `fixtures/golden-sets/` (exact latents, by the container and the entropy layer alone: no network) and
//! the corruption matrix over them. The golden files are regenerated with
//! `AEZ_BLESS=1 cargo test --test suite sets::`.

use std::path::PathBuf;
use std::sync::OnceLock;

use aez::entropy::{decode_with_sets, SetTables};
use aez::format::{Descriptors, Event, StreamReader};
use aez::{BackendChoice, Bundle, Coder, Error, Limits, Model, Options};
use image::DynamicImage;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn golden_dir() -> PathBuf {
    root().join("fixtures/golden-sets")
}

fn load(name: &str) -> Model {
    let b = Bundle::from_dir(&root().join("models").join(name)).expect(name);
    Model::load(b, BackendChoice::Auto).expect(name)
}

fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| load("fmnist-conv-sets"))
}

fn limits() -> Limits {
    Limits::default().with_max_version(2)
}

/// The first `n` images of the 64-image IDX fixture (Fashion-MNIST test images 0..63).
fn fixture_images(n: usize) -> Vec<DynamicImage> {
    let idx = std::fs::read(root().join("fixtures/idx/fmnist-t10k-64.idx")).unwrap();
    idx[16..]
        .chunks_exact(784)
        .take(n)
        .map(|px| {
            DynamicImage::ImageLuma8(image::GrayImage::from_raw(28, 28, px.to_vec()).unwrap())
        })
        .collect()
}

fn batch(m: &Model, images: &[DynamicImage], opts: Options) -> Vec<u8> {
    let mut enc = aez::Encoder::new(Vec::new(), m, opts).unwrap();
    for img in images {
        enc.push_image(img).unwrap();
    }
    enc.finish().unwrap()
}

fn decode_all(bytes: &[u8]) -> (Vec<DynamicImage>, Option<Error>) {
    crate::model_common::decode_images(bytes, model(), 2)
}

/// Every image's latent, from the bytes by the container and the entropy layer alone: the level from the
/// header's descriptor (the default level without one), each record's images decoded with the level's
/// sets.
fn latents(bytes: &[u8]) -> Vec<Vec<i32>> {
    let b = model().bundle();
    let c = model().layout().channels as usize;
    let mut rd = StreamReader::new(bytes, None, limits());
    let (mut level, mut packed, mut coder) = (b.manifest().default_level, false, Coder::Range);
    let mut out = Vec::new();
    while let Some(ev) = rd.next_event().expect("a golden file parses") {
        match ev {
            Event::Header(h) => {
                coder = h.header.coder;
                (level, packed) = match h.descriptors {
                    Some(Descriptors::InHeader(d)) => (usize::from(d.level), d.packed),
                    _ => (b.manifest().default_level, false),
                };
            }
            Event::Record(r) => {
                // A packed record's count is read with its part (the body is what follows it).
                let body = r.body();
                let k = if packed {
                    r.part.unwrap().images as usize
                } else {
                    1
                };
                let sets = b.levels()[level]
                    .sets
                    .as_ref()
                    .expect("every level has sets");
                let t = SetTables::new(sets, c).unwrap();
                let mut q = Vec::new();
                decode_with_sets(coder, &t, k, body, &mut q).unwrap();
                out.extend(q.chunks_exact(c).map(<[i32]>::to_vec));
            }
        }
    }
    out
}

use crate::model_common::GoldenCase as Case;

fn cases() -> Vec<Case> {
    vec![
        Case {
            file: "packed-q8.aez",
            what: "Fashion-MNIST test images 0..3 at quality 8, one packed record (set index, latent, ...)",
            make: |m| batch(m, &fixture_images(4), Options::default().with_quality(Some(8))),
        },
        Case {
            file: "single-q13.aez",
            what: "test image 4 at quality 13: a single-image stream with a header descriptor",
            make: |m| {
                let img = fixture_images(5).pop().unwrap();
                aez::compress_with(m, &img, &Options::default().with_quality(Some(13))).unwrap()
            },
        },
        Case {
            file: "default.aez",
            what: "test images 5 and 6 at the default level: no descriptor, one record per image",
            make: |m| batch(m, &fixture_images(7)[5..], Options::default()),
        },
    ]
}

fn read(file: &str) -> Vec<u8> {
    crate::model_common::read_golden(&golden_dir(), file, "sets")
}

fn ints(q: &[i32]) -> String {
    q.iter().map(i32::to_string).collect::<Vec<_>>().join(" ")
}

#[test]
fn golden_files_decode_to_their_latents() {
    let lines = |bytes: &[u8]| latents(bytes).iter().map(|q| ints(q)).collect::<Vec<_>>();
    if std::env::var_os("AEZ_BLESS").is_some_and(|v| v != "0") {
        std::fs::create_dir_all(golden_dir()).unwrap();
        let mut files = Vec::new();
        for c in cases() {
            let bytes = (c.make)(model());
            std::fs::write(golden_dir().join(c.file), &bytes).unwrap();
            files.push(
                serde_json::json!({"file": c.file, "what": c.what, "bytes": bytes.len(),
                                          "latents": lines(&bytes)}),
            );
        }
        let json = serde_json::json!({"model": model().bundle().name(),
                                      "hash": model().bundle().hash_hex(), "files": files});
        crate::model_common::write_golden_json(&golden_dir(), &json);
    }
    let json: serde_json::Value = serde_json::from_slice(&read("golden.json")).unwrap();
    assert_eq!(json["hash"], model().bundle().hash_hex());
    for c in cases() {
        let bytes = read(c.file);
        let entry = crate::model_common::golden_entry(&json, c.file);
        assert_eq!(
            entry["latents"],
            serde_json::json!(lines(&bytes)),
            "{}",
            c.file
        );
        let (images, err) = decode_all(&bytes);
        assert!(err.is_none(), "{}: {err:?}", c.file);
        assert_eq!(
            images.len(),
            entry["latents"].as_array().unwrap().len(),
            "{}",
            c.file
        );
    }
}

#[test]
fn every_bit_flip_and_truncation_of_the_golden_files_is_refused() {
    for c in cases() {
        crate::model_common::corruption_matrix(c.file, &read(c.file), limits(), decode_all);
    }
}

#[test]
fn sets_decode_to_fmnist_conv_pixels_in_fewer_bytes() {
    // The same networks and quantizers: the same latents and pixels; the sets code them smaller.
    let plain = load("fmnist-conv");
    let images = fixture_images(64);
    for quality in [8, 9, 13] {
        for coder in [Coder::Range, Coder::Zstd] {
            let opts = Options::default()
                .with_quality(Some(quality))
                .with_coder(coder);
            let a = batch(&plain, &images, opts.clone());
            let b = batch(model(), &images, opts);
            let (da, ea) = crate::model_common::decode_images(&a, &plain, 64);
            let (db, eb) = decode_all(&b);
            assert!(ea.is_none() && eb.is_none(), "{ea:?} {eb:?}");
            assert_eq!(da, db, "quality {quality} {coder}: the pixels differ");
            match coder {
                // Measured: 26-28% smaller on Fashion-MNIST's validation images.
                Coder::Range => assert!(
                    (b.len() as f64) < 0.85 * a.len() as f64,
                    "quality {quality}: {} bytes with sets, {} without",
                    b.len(),
                    a.len()
                ),
                // zstd ignores tables: only the model id differs.
                Coder::Zstd => assert_eq!(a.len(), b.len(), "quality {quality} zstd"),
            }
        }
    }
}

#[test]
fn a_single_file_round_trips_at_every_level() {
    let img = fixture_images(1).pop().unwrap();
    for lv in model().bundle().levels() {
        let opts = Options::default().with_quality(Some(lv.quality));
        let bytes = aez::compress_with(model(), &img, &opts).unwrap();
        let back = aez::decompress(model(), &bytes).unwrap();
        assert_eq!(
            (back.width(), back.height(), back.color()),
            (28, 28, image::ColorType::L8)
        );
        assert!(
            lv.sets.as_ref().is_some_and(|s| s.count == 64),
            "quality {}",
            lv.quality
        );
    }
}
