//! Models with a scale hyperprior (spec/model-bundle.md section 6; aez-format.md 11.3 and 11.5): the bundle
//! and its checks, round trips of every colour layout, bands, the hyper bit against the model, the golden
//! files in `fixtures/golden-hyper/` (exact latents, by the entropy layer and the integer hyper-synthesis
//! alone), and the corruption matrix over them (every bit flip and every truncation refused, every image
//! before the damage delivered).
//!
//! The bundle is `fixtures/models/tiny-hyper` (RGB, stride 4, hyper stride 4, 2 levels), trained for 3,000
//! iterations on 64x64 BSDS500 crops by `aez_train.hyper_train --family tiny --z 4 --hidden 8` (see
//! fixtures/README.md). The golden files are regenerated with
//! `AEZ_BLESS=1 cargo test --test suite hyper::`.

use std::path::PathBuf;
use std::sync::OnceLock;

use aez::entropy::{decode_indexed, decode_latent, SymbolTable};
use aez::format::{Event, ImageDesc, StreamReader};
use aez::{BackendChoice, Bundle, Error, Limits, Model, Options};
use image::{DynamicImage, RgbaImage};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn golden_dir() -> PathBuf {
    root().join("fixtures/golden-hyper")
}

pub(crate) fn tiny_dir() -> PathBuf {
    root().join("fixtures/models/tiny-hyper")
}

fn model() -> &'static Model {
    static M: OnceLock<Model> = OnceLock::new();
    M.get_or_init(|| {
        let b = Bundle::from_dir(&tiny_dir()).expect("tiny-hyper");
        Model::load(b, BackendChoice::Auto).expect("loading tiny-hyper")
    })
}

fn limits() -> Limits {
    Limits::default().with_max_version(2)
}

fn pattern(w: u32, h: u32, seed: u32) -> RgbaImage {
    RgbaImage::from_fn(w, h, |x, y| {
        let v = |k: u32| {
            (((x * (3 + k) + y * (2 + k) + seed * 17) / 3 + (x * y) % (7 + k)) % 256) as u8
        };
        let a = if (x / 3 + seed).is_multiple_of(4) {
            0
        } else {
            (y * 20 + seed) as u8
        };
        image::Rgba([v(0), v(1), v(2), a])
    })
}

fn rgba(w: u32, h: u32, seed: u32) -> DynamicImage {
    DynamicImage::ImageRgba8(pattern(w, h, seed))
}

fn rgb(w: u32, h: u32, seed: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(rgba(w, h, seed).to_rgb8())
}

fn gray(w: u32, h: u32, seed: u32) -> DynamicImage {
    DynamicImage::ImageLuma8(rgba(w, h, seed).to_luma8())
}

fn gray_alpha(w: u32, h: u32, seed: u32) -> DynamicImage {
    DynamicImage::ImageLumaA8(rgba(w, h, seed).to_luma_alpha8())
}

fn small_payload() -> Options {
    Options::default().with_limits(Limits::default().with_max_payload(120))
}

fn decode_all(bytes: &[u8]) -> (Vec<DynamicImage>, Option<Error>) {
    crate::model_common::decode_images(bytes, model(), 2)
}

/// Each image's descriptor, hyper-latent and latent, from the bytes by the container, the entropy layer
/// and the integer hyper-synthesis alone (no network): each latent record's hyper-latent share first
/// (its length as a varint, then its rows), then, with the whole hyper-latent's tables, the latents.
fn latents(bytes: &[u8]) -> Vec<(ImageDesc, Vec<i32>, Vec<i32>)> {
    let b = model().bundle();
    let hy = b.manifest().hyper.as_ref().expect("a hyperprior");
    let tables = |ts: &[aez::model::Table]| -> Vec<SymbolTable> {
        ts.iter()
            .map(|t| SymbolTable::new(t.min, &t.freqs, t.escape).unwrap())
            .collect()
    };
    let scales = tables(&hy.scale_tables);
    let layout = *model().layout();
    let mut rd = StreamReader::new(bytes, None, limits());
    let mut coder = aez::Coder::Range;
    // Per image: its descriptor and its latent records' bodies.
    let mut images: Vec<(ImageDesc, Vec<Vec<u8>>)> = Vec::new();
    let mut coders = Vec::new();
    while let Some(ev) = rd.next_event().expect("a golden file parses") {
        match ev {
            Event::Header(h) => coder = h.header.coder,
            Event::Record(r) => {
                let part = r.part.expect("version 2");
                let desc = part.desc.expect("a descriptor");
                assert!(
                    desc.hyper,
                    "every image of a hyperprior model has the hyper bit"
                );
                if part.is_first() {
                    images.push((desc, Vec::new()));
                    coders.push(coder);
                }
                if !part.alpha {
                    images.last_mut().unwrap().1.push(r.body().to_vec());
                }
            }
        }
    }
    let mut out = Vec::new();
    for ((desc, bodies), coder) in images.into_iter().zip(coders) {
        let latent = layout.latent_shape(desc.width, desc.height).unwrap();
        let zs = aez::codec::hyper_shape(hy, latent);
        let zt = tables(&hy.level_tables[usize::from(desc.level)]);
        let n = bodies.len();
        let rz = (zs.height as usize).div_ceil(n);
        let mut shares: Vec<Vec<i32>> = Vec::new();
        let mut rests = Vec::new();
        for (i, body) in bodies.iter().enumerate() {
            let mut p = 0;
            let len = aez::format::varint(body, &mut p, "share").unwrap() as usize;
            let (share, rest) = body[p..].split_at(len);
            let (a, e) = (
                (i * rz).min(zs.height as usize),
                ((i + 1) * rz).min(zs.height as usize),
            );
            let mut v = Vec::new();
            if a < e {
                let rows = aez::layout::LatentShape {
                    height: (e - a) as u32,
                    ..zs
                };
                decode_latent(coder, &zt, rows, share, &mut v).expect("a golden share decodes");
            } else {
                assert!(share.is_empty());
            }
            shares.push(v);
            rests.push(rest.to_vec());
        }
        // Reassemble [Z, zh, zw] from the row shares.
        let (zh, zw) = (zs.height as usize, zs.width as usize);
        let mut z = vec![0i32; zs.len()];
        for (i, v) in shares.iter().enumerate() {
            let a = (i * rz).min(zh);
            let rows = v.len() / (zs.channels as usize * zw).max(1);
            for c in 0..zs.channels as usize {
                z[c * zh * zw + a * zw..][..rows * zw]
                    .copy_from_slice(&v[c * rows * zw..][..rows * zw]);
            }
        }
        let idx = aez::codec::scale_indices(hy, &z, latent).unwrap();
        let mut q = Vec::new();
        for (i, rest) in rests.iter().enumerate() {
            let rows = desc.band_latent_rows(i as u32, latent.height);
            let (h, w) = (latent.height as usize, latent.width as usize);
            let mut band_idx = Vec::new();
            for c in 0..latent.channels as usize {
                band_idx.extend_from_slice(
                    &idx[c * h * w + rows.start as usize * w..c * h * w + rows.end as usize * w],
                );
            }
            let mut v = Vec::new();
            decode_indexed(coder, &scales, &band_idx, rest, &mut v).expect("a golden band decodes");
            q.extend(v);
        }
        out.push((desc, z, q));
    }
    out
}

use crate::model_common::GoldenCase as Case;

fn cases() -> Vec<Case> {
    vec![
        Case {
            file: "rgb.aez",
            what: "one 40x24 RGB image at the default level: a single-image stream (its one record holds \
                   the hyper-latent, then the latent)",
            make: |m| aez::compress(m, &rgb(40, 24, 1)).unwrap(),
        },
        Case {
            file: "tiled-rgba.aez",
            what: "one 48x40 RGBA image at quality 1 for a 120-byte payload limit: bands of latent rows, \
                   each a latent record (its share of the hyper-latent first) and an alpha record",
            make: |m| aez::compress_with(m, &rgba(48, 40, 2), &small_payload().with_quality(Some(1))).unwrap(),
        },
        Case {
            file: "mixed.aez",
            what: "the encoder's stream of 9x7 gray, 9x7 gray, 21x13 gray+alpha: two concatenated streams",
            make: |m| {
                let mut enc = aez::Encoder::new(Vec::new(), m, Options::default()).unwrap();
                for img in [gray(9, 7, 3), gray(9, 7, 4), gray_alpha(21, 13, 5)] {
                    enc.push_image(&img).unwrap();
                }
                enc.finish().unwrap()
            },
        },
    ]
}

fn ints(q: &[i32]) -> String {
    q.iter().map(i32::to_string).collect::<Vec<_>>().join(" ")
}

fn read(file: &str) -> Vec<u8> {
    crate::model_common::read_golden(&golden_dir(), file, "hyper")
}

#[test]
fn golden_hyper_files_decode_to_their_latents_and_images() {
    if std::env::var_os("AEZ_BLESS").is_some_and(|v| v != "0") {
        std::fs::create_dir_all(golden_dir()).unwrap();
        let mut files = Vec::new();
        for c in cases() {
            let bytes = (c.make)(model());
            let (images, err) = decode_all(&bytes);
            assert!(err.is_none(), "{}: {err:?}", c.file);
            let decoded: Vec<u8> = images.iter().flat_map(|i| i.as_bytes().to_vec()).collect();
            let entries: Vec<serde_json::Value> = latents(&bytes)
                .iter()
                .map(|(d, z, q)| {
                    serde_json::json!({"descriptor": d.to_string(), "z": ints(z), "q": ints(q)})
                })
                .collect();
            std::fs::write(golden_dir().join(c.file), &bytes).unwrap();
            std::fs::write(golden_dir().join(format!("{}.decoded.u8", c.file)), decoded).unwrap();
            files.push(
                serde_json::json!({"file": c.file, "what": c.what, "bytes": bytes.len(),
                                          "images": entries}),
            );
        }
        let json = serde_json::json!({
            "model": model().bundle().name(),
            "hash": model().bundle().hash_hex(),
            "backend": aez::active_backend().map_or("none".to_string(), |b| b.to_string()),
            "files": files,
        });
        crate::model_common::write_golden_json(&golden_dir(), &json);
    }
    let json: serde_json::Value = serde_json::from_slice(&read("golden.json")).unwrap();
    assert_eq!(json["hash"], model().bundle().hash_hex());
    for c in cases() {
        let bytes = read(c.file);
        let entry = crate::model_common::golden_entry(&json, c.file);
        let want = entry["images"].as_array().unwrap();
        let got = latents(&bytes);
        assert_eq!(got.len(), want.len(), "{}", c.file);
        for ((d, z, q), w) in got.iter().zip(want) {
            assert_eq!(w["descriptor"], d.to_string(), "{}", c.file);
            assert_eq!(w["z"], ints(z), "{}: hyper-latent", c.file);
            assert_eq!(w["q"], ints(q), "{}: latent", c.file);
        }
        let (images, err) = decode_all(&bytes);
        assert!(err.is_none(), "{}: {err:?}", c.file);
        let decoded: Vec<u8> = images.iter().flat_map(|i| i.as_bytes().to_vec()).collect();
        let old = read(&format!("{}.decoded.u8", c.file));
        assert_eq!(decoded.len(), old.len(), "{}", c.file);
        let worst = decoded
            .iter()
            .zip(&old)
            .map(|(a, b)| a.abs_diff(*b))
            .max()
            .unwrap_or(0);
        assert!(worst <= 1, "{}: pixels differ by up to {worst}", c.file);
    }
}

#[test]
fn every_colour_layout_round_trips_with_a_hyper_latent() {
    for img in [
        rgb(1, 1, 0),
        rgb(37, 21, 1),
        rgba(64, 64, 2),
        gray(9, 40, 3),
        gray_alpha(17, 5, 4),
    ] {
        let bytes = aez::compress(model(), &img).unwrap();
        let info = aez::inspect(&bytes[..], None, limits()).unwrap();
        let alpha = img.color().has_alpha();
        // The latent record (with the hyper-latent), and the alpha record.
        assert_eq!(info[0].records, 1 + u64::from(alpha), "{:?}", img.color());
        let back = aez::decompress(model(), &bytes).unwrap();
        assert_eq!(
            (back.width(), back.height(), back.color()),
            (img.width(), img.height(), img.color())
        );
        if alpha {
            let a = |i: &DynamicImage| -> Vec<u8> {
                i.to_luma_alpha8().pixels().map(|p| p[1]).collect()
            };
            assert_eq!(a(&back), a(&img), "alpha is lossless");
        }
        assert_eq!(
            aez::decompress(model(), &bytes).unwrap(),
            back,
            "decodes the same twice"
        );
    }
}

#[test]
fn bands_decode_to_the_same_image_as_one_band() {
    let img = rgb(120, 90, 7);
    let whole = aez::compress(model(), &img).unwrap();
    let banded = aez::compress_with(model(), &img, &small_payload()).unwrap();
    let info = aez::inspect(&banded[..], None, limits()).unwrap();
    assert_eq!(
        info[0].tiled_images, 1,
        "the small payload limit bands the image"
    );
    assert!(info[0].max_payload <= 120);
    assert_eq!(
        aez::decompress(model(), &whole).unwrap(),
        aez::decompress(model(), &banded).unwrap(),
        "the bands code the same latent with the same tables"
    );
}

/// A file's stream with its descriptor's hyper bit flipped and every CRC made valid again: the decoder
/// must refuse it by the model (a hyperprior model's image without its hyper-latent), at the layout byte.
#[test]
fn the_hyper_bit_must_match_the_model() {
    use aez::format::{Descriptors, HeaderV2, Kind, StreamWriter};
    let bytes = aez::compress(model(), &rgb(20, 12, 9)).unwrap();
    let mut rd = StreamReader::new(&bytes[..], None, limits());
    let mut desc = None;
    let mut bodies = Vec::new();
    while let Some(ev) = rd.next_event().unwrap() {
        if let Event::Record(r) = ev {
            desc = r.part.unwrap().desc;
            bodies.push(r.body().to_vec());
        }
    }
    let desc = desc.unwrap();
    // Without the bit, the decoder refuses the image (by the model, before any payload).
    let id = aez::codec::model_id(model().bundle());
    let header = HeaderV2::new(
        aez::Coder::Range,
        Kind::Batch,
        id,
        Descriptors::InHeader(desc.with_hyper(false)),
    );
    let mut w = StreamWriter::new(Vec::new(), header).unwrap();
    for b in &bodies {
        w.write_record(b).unwrap();
    }
    let forged = w.finish().unwrap();
    let (images, err) = decode_all(&forged);
    assert!(images.is_empty());
    let e = err.expect("refused").to_string();
    assert!(e.contains("hyper"), "{e}");
    // The tiny-conv model refuses an image with the bit.
    let conv = Model::load(
        Bundle::from_dir(&root().join("fixtures/models/tiny-conv")).unwrap(),
        BackendChoice::Auto,
    )
    .unwrap();
    let header = HeaderV2::new(
        aez::Coder::Range,
        Kind::Batch,
        aez::codec::model_id(conv.bundle()),
        Descriptors::InHeader(
            ImageDesc::untiled(8, 8, aez::format::Colour::Rgb, 0).with_hyper(true),
        ),
    );
    let mut w = StreamWriter::new(Vec::new(), header).unwrap();
    w.write_record(&[0]).unwrap();
    let forged = w.finish().unwrap();
    let err = aez::decompress(&conv, &forged).unwrap_err();
    let e = err.to_string();
    assert!(e.contains("has a hyper-latent, but model"), "{e}");
    // At the header descriptor's layout byte: after its width and height (one byte each for 8).
    let at = err.location().expect("a location");
    assert_eq!(
        (at.record, at.offset),
        (None, (aez::format::consts::OFF_DESC + 2) as u64),
        "{e}"
    );
}

/// Every single-bit flip and every truncation of every golden file is an error (never success, never a
/// panic), and every image whose bytes all come before the damage is delivered first, unchanged.
#[test]
fn every_bit_flip_and_truncation_of_the_golden_files_is_refused() {
    for c in cases() {
        crate::model_common::corruption_matrix(c.file, &read(c.file), limits(), decode_all);
    }
}

#[test]
fn manifest_rules_name_the_field() {
    let dir = tiny_dir();
    let packed: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap();
    let b = Bundle::from_dir(&dir).unwrap();
    // Written back and read again: the same manifest.
    let again =
        aez::model::Manifest::from_json(b.manifest().to_json_pretty().as_bytes(), "t").unwrap();
    assert_eq!(&again, b.manifest());
    // The weights as JSON arrays instead of packed strings (section 6.1): the same manifest, and the same
    // hash (the bundle's own, which `from_json` checks against nothing, so it is compared here).
    let hy = b.manifest().hyper.as_ref().unwrap();
    assert!(packed["hyper"]["analysis"][0]["weights"].is_string());
    let mut json = packed.clone();
    for (i, l) in hy.analysis.iter().enumerate() {
        json["hyper"]["analysis"][i]["weights"] = serde_json::json!(l.weights);
        json["hyper"]["analysis"][i]["bias"] = serde_json::json!(l.bias);
    }
    for (i, l) in hy.synthesis.iter().enumerate() {
        json["hyper"]["synthesis"]["layers"][i]["weights"] = serde_json::json!(l.weights);
        json["hyper"]["synthesis"]["layers"][i]["bias"] = serde_json::json!(l.bias);
    }
    let arrays = aez::model::Manifest::from_json(&serde_json::to_vec(&json).unwrap(), "t").unwrap();
    assert_eq!(&arrays, b.manifest());
    assert_eq!(
        aez::model::bundle_hash(&arrays, b.encoder_onnx(), b.decoder_onnx()),
        aez::model::bundle_hash(b.manifest(), b.encoder_onnx(), b.decoder_onnx())
    );
    type Edit = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit)> = vec![
        (
            "hyper.synthesis.layers[0].weights[0]",
            Box::new(|m| m["hyper"]["synthesis"]["layers"][0]["weights"][0] = 40000.into()),
        ),
        (
            "hyper.analysis[1].weights",
            Box::new(|m| m["hyper"]["analysis"][1]["weights"] = "AAA=".into()),
        ),
        (
            "hyper.analysis[0].bias",
            Box::new(|m| m["hyper"]["analysis"][0]["bias"] = "AAAA AAA=".into()),
        ),
        (
            "hyper.synthesis.layers[2].weights",
            Box::new(|m| m["hyper"]["synthesis"]["layers"][2]["weights"] = "AAA=".into()),
        ),
        (
            "hyper.synthesis.layers[0].weights",
            Box::new(|m| m["hyper"]["synthesis"]["layers"][0]["weights"] = "AIA=".into()),
        ),
        (
            "hyper.synthesis.layers[1].inputs",
            Box::new(|m| m["hyper"]["synthesis"]["layers"][1]["inputs"] = 3.into()),
        ),
        (
            "hyper.analysis[0].kernel",
            Box::new(|m| m["hyper"]["analysis"][0]["kernel"] = 4.into()),
        ),
        (
            "hyper.levels",
            Box::new(|m| {
                m["hyper"]["levels"].as_array_mut().unwrap().pop();
            }),
        ),
        (
            "levels[0].tables",
            Box::new(|m| {
                let t = m["hyper"]["scale_tables"][0].clone();
                m["levels"][0]["tables"] = serde_json::json!([t]);
            }),
        ),
        (
            "hyper.synthesis.layers",
            Box::new(|m| m["hyper"]["synthesis"]["layers"][1]["upsample"] = false.into()),
        ),
        (
            "hyper.scale_tables",
            Box::new(|m| m["hyper"]["scale_tables"] = serde_json::json!([])),
        ),
    ];
    for (field, edit) in cases {
        let mut m = json.clone();
        edit(&mut m);
        let e = aez::model::Manifest::from_json(&serde_json::to_vec(&m).unwrap(), "t")
            .expect_err(field)
            .to_string();
        assert!(e.contains(field), "{field}: {e}");
    }
    // A packed string can hold a NaN, which no JSON number can: refused by its field.
    let mut nan = b.manifest().clone();
    nan.hyper.as_mut().unwrap().analysis[2].bias[1] = f32::NAN;
    let e = aez::model::Manifest::from_json(nan.to_json_pretty().as_bytes(), "t")
        .unwrap_err()
        .to_string();
    assert!(e.contains("hyper.analysis[2].bias[1]"), "{e}");
    // A weight changed within its range: the manifest is valid, the hash is not.
    let mut m = json.clone();
    let w = m["hyper"]["synthesis"]["layers"][2]["weights"][5]
        .as_i64()
        .unwrap();
    m["hyper"]["synthesis"]["layers"][2]["weights"][5] = (w + 1).into();
    let tmp = tempfile::tempdir().unwrap();
    for f in ["encoder.onnx", "decoder.onnx"] {
        std::fs::copy(dir.join(f), tmp.path().join(f)).unwrap();
    }
    std::fs::write(
        tmp.path().join("model.json"),
        serde_json::to_vec(&m).unwrap(),
    )
    .unwrap();
    let e = Bundle::from_dir(tmp.path()).unwrap_err().to_string();
    assert!(e.contains("hash mismatch"), "{e}");
}
