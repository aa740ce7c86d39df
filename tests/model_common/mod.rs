//! Helpers shared by the model and runtime tests (engineer B's): the real default bundle, the 100 reference
//! images and the reference numbers made by tests/data/make_model_reference.py.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

use aez::model::{bundle_hash, hex, Manifest};
use serde_json::Value;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The folder of the default bundle (the one embedded in the binary).
pub fn default_bundle_dir() -> PathBuf {
    root().join("models").join(aez::model::DEFAULT_MODEL_NAME)
}

/// The bundle files, for copying.
pub const BUNDLE_FILES: [&str; 3] = ["model.json", "encoder.onnx", "decoder.onnx"];

/// Copies the default bundle into `parent/name` and returns that folder.
pub fn copy_default_bundle(parent: &Path, name: &str) -> PathBuf {
    let dst = parent.join(name);
    std::fs::create_dir_all(&dst).unwrap();
    for f in BUNDLE_FILES {
        std::fs::copy(default_bundle_dir().join(f), dst.join(f)).unwrap();
    }
    dst
}

/// Reads `dir/model.json` as a JSON value.
pub fn read_manifest_value(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("model.json")).unwrap()).unwrap()
}

/// Writes `v` as `dir/model.json`.
pub fn write_manifest_value(dir: &Path, v: &Value) {
    std::fs::write(
        dir.join("model.json"),
        serde_json::to_vec_pretty(v).unwrap(),
    )
    .unwrap();
}

/// Recomputes the hash of the bundle in `dir` (after a change to a hashed field) and writes it into
/// model.json, so the bundle is valid again. Returns the new hash.
pub fn rehash(dir: &Path) -> [u8; 32] {
    let json = std::fs::read(dir.join("model.json")).unwrap();
    let m = Manifest::from_json(&json, "rehash").unwrap();
    let enc = std::fs::read(dir.join(&m.encoder.file)).unwrap();
    let dec = std::fs::read(dir.join(&m.decoder.file)).unwrap();
    let h = bundle_hash(&m, &enc, &dec);
    let mut v: Value = serde_json::from_slice(&json).unwrap();
    v["hash"] = Value::String(format!("sha256:{}", hex(&h)));
    write_manifest_value(dir, &v);
    h
}

/// The reference numbers (tests/data/model_reference.json), checked to belong to the embedded bundle.
pub fn reference() -> Value {
    let path = root().join("tests/data/model_reference.json");
    let r: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let bundle = aez::Bundle::embedded_default().unwrap();
    let want = format!("sha256:{}", bundle.hash_hex());
    assert_eq!(
        r["bundle_hash"].as_str(),
        Some(want.as_str()),
        "{} was made for another bundle than the embedded one; regenerate it with \
         `python3 tests/data/make_model_reference.py` and commit it",
        path.display()
    );
    r
}

/// The 100 reference images (8-bit, 784 samples each).
pub fn images_u8() -> Vec<u8> {
    let path = root().join("tests/data/fmnist-t10k-100.idx.gz");
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_end(&mut raw)
        .unwrap();
    assert_eq!(
        &raw[..16],
        &[0, 0, 8, 3, 0, 0, 0, 100, 0, 0, 0, 28, 0, 0, 0, 28]
    );
    assert_eq!(raw.len(), 16 + 100 * 784);
    raw.split_off(16)
}

/// The 100 reference images scaled to `[0, 1]` as the encoder takes them (`sample / 255`).
pub fn images_f32() -> Vec<f32> {
    images_u8().iter().map(|&b| b as f32 / 255.0).collect()
}

/// Mean squared error in f64.
pub fn mse(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| {
            let d = x as f64 - y as f64;
            d * d
        })
        .sum::<f64>()
        / a.len() as f64
}

/// Values of a JSON array of numbers.
pub fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

/// Path of the ONNX Runtime library for the ORT tests, or `None` (and a note on stderr) when not set.
pub fn ort_dylib_or_skip(test: &str) -> Option<PathBuf> {
    match std::env::var_os("ORT_DYLIB_PATH") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            // Written to the stderr handle directly: libtest captures eprintln! of passing tests, so the note
            // would not be seen.
            use std::io::Write;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test}: ORT_DYLIB_PATH is not set (point it at libonnxruntime.so.1.x, e.g. the one in \
                 python3 -c \"import onnxruntime,os;print(os.path.dirname(onnxruntime.__file__))\"/capi)"
            );
            None
        }
    }
}

/// Checks encoder+decoder outputs against the reference: test MSE, per-image MSE and the first latents.
pub fn check_against_reference(latents: &[f32], decoded: &[f32], what: &str) {
    let r = reference();
    let x = images_f32();
    let n = 100;
    assert_eq!(decoded.len(), n * 784);
    let got = mse(decoded, &x);
    let want = r["test_mse"].as_f64().unwrap();
    eprintln!("{what}: test MSE over {n} images {got:.7} (reference {want:.7})");
    assert!(
        (got - want).abs() <= 1e-6 + 1e-4 * want,
        "{what}: test MSE {got} vs reference {want}"
    );
    let per = f64s(&r["per_image_mse"]);
    for i in 0..n {
        let g = mse(&decoded[i * 784..(i + 1) * 784], &x[i * 784..(i + 1) * 784]);
        assert!(
            (g - per[i]).abs() <= 1e-6 + 1e-4 * per[i],
            "{what}: image {i} MSE {g} vs {}",
            per[i]
        );
    }
    let k = latents.len() / n;
    for (i, row) in r["latents_first4"].as_array().unwrap().iter().enumerate() {
        let want = f64s(row);
        assert_eq!(want.len(), k);
        for d in 0..k {
            let g = latents[i * k + d] as f64;
            assert!(
                (g - want[d]).abs() <= 1e-4 * (1.0 + want[d].abs()),
                "{what}: latent {d} of image {i} is {g}, reference {}",
                want[d]
            );
        }
    }
}

/// The version-2 form (spec/model-bundle.md section 5) of the version-1 manifest `v1`: the same networks,
/// a fixed size with flat tensors, and one level of quality `quality` made of its quantizer and tables. Its
/// `hash` is left as it was (wrong for version 2): see [`set_hash`].
pub fn to_version_2(v1: &Value, quality: u8) -> Value {
    let mut v2 = v1.clone();
    let o = v2.as_object_mut().unwrap();
    for k in ["input", "latent_dim", "quantizer", "entropy"] {
        o.remove(k);
    }
    o.insert("bundle_version".into(), 2.into());
    o.insert(
        "input".into(),
        serde_json::json!({
            "channels": v1["input"]["channels"],
            "size": {"kind": "fixed", "width": v1["input"]["width"], "height": v1["input"]["height"]},
        }),
    );
    o.insert("tensor_layout".into(), "flat".into());
    o.insert(
        "latent".into(),
        serde_json::json!({"channels": v1["latent_dim"]}),
    );
    o.insert(
        "entropy".into(),
        serde_json::json!({"precision_bits": v1["entropy"]["precision_bits"]}),
    );
    o.insert(
        "levels".into(),
        serde_json::json!([{
            "quality": quality,
            "quantizer": v1["quantizer"],
            "tables": v1["entropy"]["tables"],
        }]),
    );
    o.insert("default_quality".into(), quality.into());
    v2
}

/// Computes the bundle hash of manifest `v` (of either version) with these networks, writes it into `v` and
/// returns it.
pub fn set_hash(v: &mut Value, encoder: &[u8], decoder: &[u8]) -> [u8; 32] {
    let m = Manifest::from_json(v.to_string().as_bytes(), "set_hash").unwrap();
    let h = bundle_hash(&m, encoder, decoder);
    v["hash"] = Value::String(format!("sha256:{}", hex(&h)));
    h
}

/// Every image of `bytes` decoded with `model` (batch size `batch`, one thread), and the error that ended
/// the stream, if any.
pub fn decode_images(
    bytes: &[u8],
    model: &aez::Model,
    batch: usize,
) -> (Vec<image::DynamicImage>, Option<aez::Error>) {
    let opts = aez::Options::default()
        .with_batch_size(batch)
        .with_threads(1);
    let mut dec = match aez::Decoder::new(bytes, model, opts) {
        Ok(d) => d,
        Err(e) => return (Vec::new(), Some(e)),
    };
    let mut images = Vec::new();
    loop {
        match dec.next_image() {
            Ok(Some(p)) => images.push(p),
            Ok(None) => return (images, None),
            Err(e) => return (images, Some(e)),
        }
    }
}

/// A golden file of `dir`, with how to make it again (`module`: the test module that blesses it) when
/// it is missing.
pub fn read_golden(dir: &Path, file: &str, module: &str) -> Vec<u8> {
    let path = dir.join(file);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (AEZ_BLESS=1 cargo test --test suite {module}::)",
            path.display()
        )
    })
}

/// The corruption matrix of a golden file `bytes` (named `file`): every bit flip is refused and delivers
/// only images of the clean decoding, every image whose records end before the flip among them; every
/// truncation is refused likewise, except a cut between concatenated streams (a valid input of the
/// streams before it).
pub fn corruption_matrix(
    file: &str,
    bytes: &[u8],
    limits: aez::Limits,
    decode_all: impl Fn(&[u8]) -> (Vec<image::DynamicImage>, Option<aez::Error>),
) {
    use aez::format::{Event, StreamReader};
    let (clean, err) = decode_all(bytes);
    assert!(err.is_none(), "{file}: {err:?}");
    // Where each image's records end.
    let mut ends = Vec::new();
    let mut rd = StreamReader::new(bytes, None, limits);
    while let Some(ev) = rd.next_event().unwrap() {
        if let Event::Record(r) = ev {
            if r.part.unwrap().is_last() {
                ends.push(r.payload_offset as usize + r.payload.len() + 4);
            }
        }
    }
    // Streams end where the next begins: a cut there leaves a valid input of the images before it.
    let starts: Vec<usize> = aez::inspect(bytes, None, limits)
        .unwrap()
        .iter()
        .map(|s| s.offset as usize)
        .collect();
    for bit in 0..bytes.len() * 8 {
        let mut b = bytes.to_vec();
        b[bit / 8] ^= 1 << (bit % 8);
        let (images, err) = decode_all(&b);
        assert!(err.is_some(), "{file}: bit {bit} flipped decodes");
        let before = ends.iter().filter(|&&e| e <= bit / 8).count();
        assert!(
            images[..] == clean[..images.len()],
            "{file}: bit {bit}: the images delivered differ"
        );
        assert!(
            images.len() >= before,
            "{file}: bit {bit}: an image before the damage is lost"
        );
    }
    for cut in 0..bytes.len() {
        let (images, err) = decode_all(&bytes[..cut]);
        if starts.contains(&cut) && cut > 0 {
            assert!(err.is_none(), "{file}: a cut between streams is valid");
            continue;
        }
        assert!(err.is_some(), "{file}: cut at {cut} decodes");
        assert_eq!(images[..], clean[..images.len()], "{file}: cut at {cut}");
        let before = ends.iter().filter(|&&e| e <= cut).count();
        assert!(
            images.len() >= before,
            "{file}: cut at {cut}: an image is lost"
        );
    }
}

/// Writes a golden folder's `golden.json` (pretty, newline-terminated).
pub fn write_golden_json(dir: &Path, json: &serde_json::Value) {
    std::fs::write(
        dir.join("golden.json"),
        serde_json::to_string_pretty(json).unwrap() + "\n",
    )
    .unwrap();
}

/// The entry of `file` in a golden folder's `golden.json` (its `files` list).
pub fn golden_entry<'a>(json: &'a serde_json::Value, file: &str) -> &'a serde_json::Value {
    json["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"] == file)
        .unwrap_or_else(|| panic!("{file} is not in golden.json"))
}

/// A golden file: its name, what it holds (for golden.json) and how it is made from the test's model.
pub struct GoldenCase {
    pub file: &'static str,
    pub what: &'static str,
    pub make: fn(&aez::Model) -> Vec<u8>,
}
