//! Golden files: exact bitstreams and latents, decoded pixels within one 8-bit level.
//!
//! `fixtures/golden/` holds `.aez` files made from the fixture images with the default model, the latents
//! they carry (`golden.json`) and the pixels they decode to. This test checks, for the model embedded now:
//!
//! 1. the entropy decoder reads exactly the stored latents from each golden file (bit-exact everywhere);
//! 2. compressing the fixture images again gives exactly the golden bytes (encoder network, quantizer,
//!    coder and container; on another backend a latent on a rounding boundary could differ, and the
//!    message says which);
//! 3. decoding gives the stored pixels within 1 level per sample (`model-bundle.md` section 1);
//! 4. the hex dumps in `spec/aez-format.md` section 10 are the golden bytes.
//!
//! After the model changes, regenerate everything with `AEZ_BLESS=1 cargo test --test suite golden::`.

use std::path::{Path, PathBuf};

use aez::entropy::{decode_symbols, SymbolTable};
use aez::format::{Event, Limits, StreamReader};
use aez::{Coder, Decoder, Encoder, Model, Options};
use serde_json::{json, Value};

use crate::spec_dump;
use spec_dump::{dump, hex, replace_block};

/// Largest difference allowed between a decoded sample and the stored one.
const MAX_ABS_DIFF: u8 = 1;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn golden_dir() -> PathBuf {
    root().join("fixtures/golden")
}

/// The default model. (`AEZ_TEST_BUNDLE` names another bundle folder, for trying this test's machinery in a
/// scratch copy of the repository; the committed golden files are always the default model's.)
fn default_model() -> Model {
    match std::env::var_os("AEZ_TEST_BUNDLE") {
        Some(dir) => Model::load(
            aez::Bundle::from_dir(Path::new(&dir)).unwrap(),
            aez::BackendChoice::Auto,
        )
        .unwrap(),
        None => Model::default_model().unwrap(),
    }
}

fn bless() -> bool {
    std::env::var_os("AEZ_BLESS").is_some_and(|v| v != "0")
}

struct Case {
    file: &'static str,
    source: &'static str,
    coder: Coder,
    /// `None`: a one-image file from `source` (an image); `Some(n)`: a batch of the first n IDX records.
    batch: Option<usize>,
}

const CASES: &[Case] = &[
    Case {
        file: "fmnist-t10k-00000.aez",
        source: "fixtures/images/fmnist-t10k-00000.png",
        coder: Coder::Range,
        batch: None,
    },
    Case {
        file: "fmnist-t10k-00001.aez",
        source: "fixtures/images/fmnist-t10k-00001.png",
        coder: Coder::Range,
        batch: None,
    },
    Case {
        file: "fmnist-t10k-00002.aez",
        source: "fixtures/images/fmnist-t10k-00002.png",
        coder: Coder::Range,
        batch: None,
    },
    Case {
        file: "fmnist-t10k-00003-zstd.aez",
        source: "fixtures/images/fmnist-t10k-00003.png",
        coder: Coder::Zstd,
        batch: None,
    },
    Case {
        file: "fmnist-t10k-3.aez",
        source: "fixtures/idx/fmnist-t10k-64.idx",
        coder: Coder::Range,
        batch: Some(3),
    },
    Case {
        file: "fmnist-t10k-64.aez",
        source: "fixtures/idx/fmnist-t10k-64.idx",
        coder: Coder::Range,
        batch: Some(64),
    },
    Case {
        file: "fmnist-t10k-16-zstd.aez",
        source: "fixtures/idx/fmnist-t10k-64.idx",
        coder: Coder::Zstd,
        batch: Some(16),
    },
];

/// Files whose hex dump the spec shows.
const SPEC_DUMPS: &[&str] = &["fmnist-t10k-00000.aez", "fmnist-t10k-3.aez"];

/// The spec's dumps: the [`SPEC_DUMPS`] golden files, then the first one rewritten with an explicit
/// geometry (width and height stored, geometry field `00`), as the crate's writers write it.
fn spec_dumps(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = SPEC_DUMPS
        .iter()
        .map(|n| (n.to_string(), std::fs::read(dir.join(n)).unwrap()))
        .collect();
    let one = &v[0].1;
    let mut rd = aez::format::StreamReader::new(&one[..], None, Default::default());
    let mut header = None;
    let mut payload = vec![];
    while let Some(ev) = rd.next_event().unwrap() {
        match ev {
            aez::format::Event::Header(h) => header = Some(h.header),
            aez::format::Event::Record(r) => payload = r.payload,
        }
    }
    let explicit = aez::format::single_image(header.unwrap().resolved(28, 28), &payload);
    v.push((format!("{} with explicit geometry", v[0].0), explicit));
    v
}

fn source_images(case: &Case) -> Vec<Vec<u8>> {
    let path = root().join(case.source);
    match case.batch {
        None => vec![image::open(&path).unwrap().to_luma8().into_raw()],
        Some(n) => aez::io::IdxReader::open(&path, Default::default())
            .unwrap()
            .take(n)
            .collect::<aez::Result<Vec<_>>>()
            .unwrap(),
    }
}

fn make(model: &Model, case: &Case, imgs: &[Vec<u8>]) -> Vec<u8> {
    let options = Options::default().with_coder(case.coder);
    match case.batch {
        None => aez::codec::compress_pixels(model, &imgs[0], &options).unwrap(),
        Some(_) => {
            let mut enc = Encoder::new(Vec::new(), model, options).unwrap();
            for p in imgs {
                enc.push_pixels(p).unwrap();
            }
            enc.finish().unwrap()
        }
    }
}

/// The latents of every record, read with the entropy decoder only (no network).
fn latents(model: &Model, bytes: &[u8]) -> Vec<Vec<i32>> {
    let tables: Vec<SymbolTable> = model
        .bundle()
        .tables()
        .iter()
        .map(|t| SymbolTable::new(t.min, &t.freqs, t.escape).unwrap())
        .collect();
    let mut rd = StreamReader::new(bytes, None, Limits::default());
    let mut coder = Coder::Range;
    let mut out = vec![];
    while let Some(ev) = rd.next_event().unwrap() {
        match ev {
            Event::Header(h) => coder = h.header.coder,
            Event::Record(r) => {
                let mut q = vec![];
                decode_symbols(coder, &tables, &r.payload, &mut q).unwrap();
                out.push(q);
            }
        }
    }
    out
}

fn decode_pixels(model: &Model, bytes: &[u8]) -> Vec<Vec<u8>> {
    Decoder::new(bytes, model, Options::default())
        .unwrap()
        .collect::<aez::Result<Vec<_>>>()
        .unwrap()
}

/// The field-by-field reading of a stream, for the spec.
fn fields(b: &[u8]) -> String {
    use aez::format::consts::*;
    let flags = b[OFF_FLAGS];
    let geometry = (flags & FLAGS_GEOMETRY_MASK) >> FLAGS_GEOMETRY_SHIFT;
    let mut s = format!(
        "magic {} | version {:02x} | flags {:02x} | model id {}",
        hex(&b[0..4]),
        b[OFF_VERSION],
        flags,
        hex(&b[OFF_MODEL_ID..OFF_MODEL_ID + MODEL_ID_LEN]),
    );
    let mut p = if geometry == GEOMETRY_EXPLICIT {
        s.push_str(&format!(
            " | width {:02x} {:02x} | height {:02x} {:02x}",
            b[OFF_WIDTH],
            b[OFF_WIDTH + 1],
            b[OFF_HEIGHT],
            b[OFF_HEIGHT + 1]
        ));
        HEADER_LEN_EXPLICIT_GEOMETRY
    } else {
        s.push_str(" | (geometry: the model's)");
        HEADER_LEN_MODEL_GEOMETRY
    };
    s.push('\n');
    let single = flags & FLAGS_KIND_MASK == 0;
    if !single {
        s.push_str(&format!("header CRC {}\n", hex(&b[p..p + 4])));
        p += 4;
    }
    let mut i = 0;
    while p < b.len() {
        let h = b[p];
        if h == END_MARKER && !single {
            s.push_str(&format!("end marker 00 | CRC {}\n", hex(&b[p + 1..p + 5])));
            break;
        }
        let n = (h & 0x7f) as usize; // the golden payloads all use one-byte heads
        s.push_str(&format!(
            "record {i}: head {h:02x} ({n} bytes) | payload {} | CRC {}\n",
            hex(&b[p + 1..p + 1 + n]),
            hex(&b[p + 1 + n..p + 5 + n])
        ));
        p += 5 + n;
        i += 1;
    }
    s
}

fn spec_block(name: &str, bytes: &[u8]) -> String {
    format!(
        "<!-- golden-hex {name} -->\n`{name}` ({} bytes):\n\n```text\n{}\n{}```\n<!-- /golden-hex -->",
        bytes.len(),
        fields(bytes).trim_end(),
        dump(bytes)
    )
}

/// Replaces (or, blessing, appends) the spec's block for `name`; returns whether it already matched.
fn spec_matches(spec: &mut String, name: &str, bytes: &[u8]) -> bool {
    let want = spec_block(name, bytes);
    let open = format!("<!-- golden-hex {name} -->");
    replace_block(spec, &open, "<!-- /golden-hex -->", &want).unwrap_or_else(|| {
        spec.push_str(&format!("\n{want}\n"));
        false
    })
}

/// One record's latents as one line of JSON: `"3 -1 0 ..."`.
fn q_line(q: &[i32]) -> String {
    q.iter().map(i32::to_string).collect::<Vec<_>>().join(" ")
}

fn max_diff(a: &[Vec<u8>], b: &[Vec<u8>]) -> u8 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(&p, &q)| p.abs_diff(q)))
        .max()
        .unwrap_or(0)
}

fn write_decoded(path: &Path, batch: bool, imgs: &[Vec<u8>]) {
    if batch {
        std::fs::write(path, imgs.concat()).unwrap();
    } else {
        image::GrayImage::from_raw(28, 28, imgs[0].clone())
            .unwrap()
            .save(path)
            .unwrap();
    }
}

fn read_decoded(path: &Path, batch: bool) -> Vec<Vec<u8>> {
    if batch {
        std::fs::read(path)
            .unwrap()
            .chunks(28 * 28)
            .map(<[u8]>::to_vec)
            .collect()
    } else {
        vec![image::open(path).unwrap().to_luma8().into_raw()]
    }
}

#[test]
fn golden_files() {
    let model = default_model();
    let dir = golden_dir();
    let spec_path = root().join("spec/aez-format.md");
    let mut spec = std::fs::read_to_string(&spec_path).unwrap();
    let model_hash = model.bundle().hash_hex();

    if bless() {
        std::fs::create_dir_all(&dir).unwrap();
        let mut files = vec![];
        for case in CASES {
            let imgs = source_images(case);
            let bytes = make(&model, case, &imgs);
            std::fs::write(dir.join(case.file), &bytes).unwrap();
            let decoded_name = format!(
                "{}.decoded.{}",
                case.file,
                if case.batch.is_some() { "u8" } else { "png" }
            );
            write_decoded(
                &dir.join(&decoded_name),
                case.batch.is_some(),
                &decode_pixels(&model, &bytes),
            );
            files.push(json!({
                "file": case.file,
                "source": case.source,
                "coder": case.coder.name(),
                "images": imgs.len(),
                "bytes": bytes.len(),
                "decoded": decoded_name,
                "q": latents(&model, &bytes).iter().map(|q| q_line(q)).collect::<Vec<_>>(),
            }));
        }
        let meta = json!({
            "model": model_hash,
            "model_name": model.bundle().name(),
            "backend": model.backend().to_string(),
            "max_abs_diff": MAX_ABS_DIFF,
            "regenerate": "AEZ_BLESS=1 cargo test --test suite golden::",
            "files": files,
        });
        std::fs::write(
            dir.join("golden.json"),
            serde_json::to_string_pretty(&meta).unwrap() + "\n",
        )
        .unwrap();
        for (name, bytes) in spec_dumps(&dir) {
            spec_matches(&mut spec, &name, &bytes);
        }
        std::fs::write(&spec_path, &spec).unwrap();
        eprintln!(
            "blessed {} golden files for model {model_hash}",
            CASES.len()
        );
        return;
    }

    let meta: Value =
        serde_json::from_slice(&std::fs::read(dir.join("golden.json")).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: run AEZ_BLESS=1 cargo test --test suite golden::",
                dir.join("golden.json").display()
            )
        }))
        .unwrap();
    assert_eq!(
        meta["model"].as_str(),
        Some(model_hash.as_str()),
        "the golden files were made with another model: run AEZ_BLESS=1 cargo test --test suite golden::"
    );
    let mut problems = vec![];
    for (case, m) in CASES.iter().zip(meta["files"].as_array().unwrap()) {
        assert_eq!(m["file"].as_str(), Some(case.file));
        let golden = std::fs::read(dir.join(case.file)).unwrap();
        // 1. Latents, exactly.
        let want_q: Vec<Vec<i32>> = m["q"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                l.as_str()
                    .unwrap()
                    .split(' ')
                    .map(|v| v.parse().unwrap())
                    .collect()
            })
            .collect();
        assert_eq!(latents(&model, &golden), want_q, "{}: latents", case.file);
        // 2. The bitstream, exactly.
        let imgs = source_images(case);
        let again = make(&model, case, &imgs);
        if again != golden {
            let q2 = latents(&model, &again);
            let diff: usize = q2
                .iter()
                .zip(&want_q)
                .map(|(a, b)| a.iter().zip(b).filter(|(x, y)| x != y).count())
                .sum();
            problems.push(format!(
                "{}: re-encoding gives other bytes ({} vs {} bytes, {diff} latents differ)",
                case.file,
                again.len(),
                golden.len()
            ));
        }
        // 3. Pixels, within the tolerance.
        let decoded = decode_pixels(&model, &golden);
        let want = read_decoded(
            &dir.join(m["decoded"].as_str().unwrap()),
            case.batch.is_some(),
        );
        let d = max_diff(&decoded, &want);
        if d > MAX_ABS_DIFF {
            problems.push(format!(
                "{}: decoded pixels differ by up to {d} levels",
                case.file
            ));
        }
    }
    // 4. The spec's test vectors.
    for (name, bytes) in spec_dumps(&dir) {
        if !spec_matches(&mut spec, &name, &bytes) {
            problems.push(format!(
                "spec/aez-format.md: the hex dump of {name} is not the golden file"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n(after a model change: AEZ_BLESS=1 cargo test --test suite golden::)",
        problems.join("\n")
    );
}
