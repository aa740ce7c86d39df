//! Generates `$OUT_DIR/embedded.rs`: the table of the model bundles compiled into the library (the
//! default first), each with the hash its manifest claims, so that finding an embedded bundle by model id
//! (every `aez decompress`) reads one manifest instead of parsing and hashing every bundle. The claimed
//! hash is only a lookup key: the bundle found is verified like any other (src/model/bundle.rs).

use std::fmt::Write as _;
use std::path::Path;

/// The bundles under `models/` that are compiled in; the first is the default (`DEFAULT_MODEL_NAME`).
const EMBEDDED: &[&str] = &[
    "fmnist-ld64e3d3",
    "fmnist-ld64e3d3-v2",
    "fmnist-conv",
    "fmnist-conv-sets",
    "gray-conv",
    "photo-conv",
    "photo-hyper",
];

fn main() {
    let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = std::env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let mut code = String::from("static EMBEDDED_FILES: &[EmbeddedFiles] = &[\n");
    for name in EMBEDDED {
        let dir = Path::new(&root).join("models").join(name);
        let manifest = dir.join("model.json");
        println!("cargo:rerun-if-changed={}", manifest.display());
        let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| {
            panic!(
                "embedded bundle {name}: reading {}: {e}",
                manifest.display()
            )
        });
        let json: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "embedded bundle {name}: {} is not JSON: {e}",
                manifest.display()
            )
        });
        let hash = json["hash"]
            .as_str()
            .and_then(|h| h.strip_prefix("sha256:"))
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .unwrap_or_else(|| {
                panic!("embedded bundle {name}: model.json has no \"hash\": \"sha256:<64 hex>\"")
            });
        let file = |f: &str| {
            let p = dir.join(f);
            println!("cargo:rerun-if-changed={}", p.display());
            format!("include_bytes!({:?})", p.display().to_string())
        };
        writeln!(
            code,
            "    EmbeddedFiles {{ name: {name:?}, claimed_hash: {:?}, manifest: {}, encoder: {}, decoder: {} }},",
            hash.to_ascii_lowercase(),
            file("model.json"),
            file("encoder.onnx"),
            file("decoder.onnx"),
        )
        .expect("writing to a String");
    }
    code.push_str("];\n");
    std::fs::write(Path::new(&out).join("embedded.rs"), code).expect("writing embedded.rs");
    println!("cargo:rerun-if-changed=build.rs");
}
