//! The bundle manifest (`model.json`) and its validation, field by field, as in spec/model-bundle.md section 2.
//!
//! The JSON is first parsed into a [`serde_json::Value`] and then walked field by field, so every error names
//! the field by its JSON path (`entropy.tables[3].freqs[7]`) and quotes the bad value, instead of a bare serde
//! message with a line number.

use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The only bundle version this reader understands (spec section 2, `bundle_version`).
pub const BUNDLE_VERSION: u32 = 1;
/// The only entropy-table precision this reader understands: frequencies sum to `2^16` per table.
pub const PRECISION_BITS: u32 = 16;
/// Largest accepted `input.width` / `input.height`.
pub const MAX_SIDE: u32 = 4096;
/// Largest accepted `latent_dim`.
pub const MAX_LATENT_DIM: u32 = 4096;
/// Largest accepted number of entries in one table's `freqs`.
pub const MAX_TABLE_LEN: usize = 4096;
/// Longest accepted bundle name.
pub const MAX_NAME_LEN: usize = 64;

/// Image geometry a model takes: every image is `width x height` with `channels` interleaved samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Geometry {
    /// Columns, 1..=4096.
    pub width: u32,
    /// Rows, 1..=4096.
    pub height: u32,
    /// 1 (gray) or 3 (RGB).
    pub channels: u8,
}

impl Geometry {
    /// Samples per image: `width * height * channels` (at most 4096 * 4096 * 3, so it fits any `usize` >= 32 bits).
    pub fn samples(&self) -> usize {
        self.width as usize * self.height as usize * self.channels as usize
    }
}

impl std::fmt::Display for Geometry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.channels {
            1 => "gray",
            3 => "RGB",
            _ => "channels",
        };
        write!(f, "{}x{} {}", self.width, self.height, kind)
    }
}

/// One latent dimension's integer entropy table (spec section 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// The quantized value of symbol index 0.
    pub min: i32,
    /// Frequencies of the in-range symbols `min ..= min + freqs.len() - 1`; none is zero.
    pub freqs: Vec<u16>,
    /// Frequency of the escape symbol (index `freqs.len()`), used for every value outside the range.
    pub escape: u16,
}

impl Table {
    /// The largest quantized value with its own symbol: `min + freqs.len() - 1`.
    pub fn max(&self) -> i32 {
        self.min + self.freqs.len() as i32 - 1
    }
}

/// The uniform scalar quantizer: `q = round((z - offset[d]) / step[d])`, `z' = q * step[d] + offset[d]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantizer {
    /// Per-dimension step, finite and > 0.
    pub step: Vec<f32>,
    /// Per-dimension offset, finite.
    pub offset: Vec<f32>,
}

impl Serialize for Quantizer {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("Quantizer", 3)?;
        st.serialize_field("kind", "uniform")?;
        st.serialize_field("step", &self.step)?;
        st.serialize_field("offset", &self.offset)?;
        st.end()
    }
}

/// Where a network lives in the bundle folder and the names of its single input and output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NetworkSpec {
    /// File name inside the bundle folder (a plain name: no path separators, not `.` or `..`).
    pub file: String,
    /// Name of the ONNX graph input.
    pub input: String,
    /// Name of the ONNX graph output.
    pub output: String,
}

/// The entropy section: precision and one table per latent dimension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entropy {
    /// Always 16: each table's frequencies plus escape sum to 65536.
    pub precision_bits: u32,
    /// Exactly `latent_dim` tables.
    pub tables: Vec<Table>,
}

/// A validated `model.json` (spec/model-bundle.md section 2).
///
/// Build one with [`Manifest::from_json`]; every field has been checked against the spec's rules. The `hash`
/// here is the one the manifest *claims*; [`crate::model::Bundle`] compares it with the hash of the files.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// Always [`BUNDLE_VERSION`].
    pub bundle_version: u32,
    /// 1..64 characters of `[a-z0-9._-]`.
    pub name: String,
    /// Free text (empty when absent).
    pub description: String,
    /// Informational, e.g. `LD32E3D3` (empty when absent).
    pub architecture: String,
    /// Informational, e.g. `linear` (empty when absent).
    pub latent_activation: String,
    /// Informational, e.g. `fashion-mnist` (empty when absent).
    pub dataset: String,
    /// Image geometry the encoder takes and the decoder produces.
    pub input: Geometry,
    /// The encoder network.
    pub encoder: NetworkSpec,
    /// The decoder network.
    pub decoder: NetworkSpec,
    /// `K`, the number of latents per image.
    pub latent_dim: u32,
    /// The quantizer, `K` steps and offsets.
    pub quantizer: Quantizer,
    /// The entropy tables, `K` of them.
    pub entropy: Entropy,
    /// Informational metrics (not hashed, not validated); `null` when absent.
    pub metrics: Value,
    /// The hash the manifest claims, `sha256:<hex>` in the JSON.
    #[serde(serialize_with = "serialize_hash")]
    pub hash: [u8; 32],
}

fn serialize_hash<S: Serializer>(h: &[u8; 32], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&format!("sha256:{}", hex(h)))
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses `sha256:<64 lowercase hex digits>` into the 32 hash bytes.
pub fn parse_hash(s: &str) -> Option<[u8; 32]> {
    let hexpart = s.strip_prefix("sha256:")?;
    if hexpart.len() != 64 {
        return None;
    }
    let digits = hexpart.as_bytes();
    let mut out = [0u8; 32];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let hi = lower_hex_digit(pair[0])?;
        let lo = lower_hex_digit(pair[1])?;
        out[i] = (hi << 4) | lo;
    }
    Some(out)
}

fn lower_hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

/// Walks a JSON value with the path of the field, producing errors that name the bundle and the field.
struct Walker<'a> {
    bundle: &'a str,
}

/// A short rendering of a JSON value for an error message.
fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}

impl<'a> Walker<'a> {
    fn err(&self, field: &str, what: impl std::fmt::Display) -> Error {
        Error::Model {
            bundle: self.bundle.to_string(),
            what: format!("model.json field `{field}` {what}"),
        }
    }

    fn bad(&self, field: &str, v: &Value, expected: &str) -> Error {
        self.err(field, format_args!("is {}, expected {expected}", show(v)))
    }

    fn object<'v>(&self, v: &'v Value, field: &str) -> Result<&'v Map<String, Value>> {
        v.as_object().ok_or_else(|| self.bad(field, v, "an object"))
    }

    fn get<'v>(&self, obj: &'v Map<String, Value>, parent: &str, key: &str) -> Result<&'v Value> {
        let field = join(parent, key);
        obj.get(key).ok_or_else(|| self.err(&field, "is missing"))
    }

    /// An integer field in `lo..=hi`.
    fn int(&self, v: &Value, field: &str, lo: i64, hi: i64) -> Result<i64> {
        let expected = || format!("an integer in {lo}..={hi}");
        match v.as_i64() {
            Some(x) if (lo..=hi).contains(&x) => Ok(x),
            _ => Err(self.bad(field, v, &expected())),
        }
    }

    fn int_field(
        &self,
        obj: &Map<String, Value>,
        parent: &str,
        key: &str,
        lo: i64,
        hi: i64,
    ) -> Result<i64> {
        let v = self.get(obj, parent, key)?;
        self.int(v, &join(parent, key), lo, hi)
    }

    fn string<'v>(&self, v: &'v Value, field: &str) -> Result<&'v str> {
        v.as_str().ok_or_else(|| self.bad(field, v, "a string"))
    }

    fn string_field(&self, obj: &Map<String, Value>, parent: &str, key: &str) -> Result<String> {
        let v = self.get(obj, parent, key)?;
        Ok(self.string(v, &join(parent, key))?.to_string())
    }

    /// An optional informational string: absent means empty.
    fn opt_string_field(&self, obj: &Map<String, Value>, key: &str) -> Result<String> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(v) => Ok(self.string(v, key)?.to_string()),
        }
    }

    fn array<'v>(&self, v: &'v Value, field: &str) -> Result<&'v Vec<Value>> {
        v.as_array().ok_or_else(|| self.bad(field, v, "an array"))
    }

    /// A finite number that is exactly representable as the nearest binary32 of its decimal text.
    fn f32_finite(&self, v: &Value, field: &str, positive: bool) -> Result<f32> {
        let expected = if positive {
            "a finite number > 0"
        } else {
            "a finite number"
        };
        let x = match v.as_f64() {
            Some(x) => x as f32,
            None => return Err(self.bad(field, v, expected)),
        };
        if !x.is_finite() || (positive && x <= 0.0) {
            return Err(self.bad(field, v, expected));
        }
        Ok(x)
    }

    fn network(&self, obj: &Map<String, Value>, key: &str) -> Result<NetworkSpec> {
        let o = self.object(self.get(obj, "", key)?, key)?;
        let file = self.string_field(o, key, "file")?;
        let file_field = join(key, "file");
        let plain = !file.is_empty()
            && file != "."
            && file != ".."
            && !file.contains(['/', '\\', '\0'])
            && file.len() <= 255;
        if !plain {
            return Err(self.bad(
                &file_field,
                &Value::String(file),
                "a plain file name inside the bundle folder (no path separators, not . or ..)",
            ));
        }
        let input = self.string_field(o, key, "input")?;
        let output = self.string_field(o, key, "output")?;
        for (name, sub) in [(&input, "input"), (&output, "output")] {
            if name.is_empty() || name.len() > 256 {
                return Err(self.bad(
                    &join(key, sub),
                    &Value::String(name.clone()),
                    "a tensor name of 1..=256 bytes",
                ));
            }
        }
        Ok(NetworkSpec {
            file,
            input,
            output,
        })
    }

    fn table(&self, v: &Value, field: &str, precision_bits: u32) -> Result<Table> {
        let o = self.object(v, field)?;
        let min = self.int_field(o, field, "min", -32768, 32767)?;
        let freqs_field = join(field, "freqs");
        let freqs_v = self.array(self.get(o, field, "freqs")?, &freqs_field)?;
        if freqs_v.is_empty() || freqs_v.len() > MAX_TABLE_LEN {
            return Err(self.err(
                &freqs_field,
                format_args!(
                    "has {} entries, expected 1..={MAX_TABLE_LEN}",
                    freqs_v.len()
                ),
            ));
        }
        let top = min + freqs_v.len() as i64 - 1;
        if top > 32767 {
            return Err(self.err(
                &freqs_field,
                format_args!(
                    "has {} entries from min {min}, so its top value {top} is over 32767",
                    freqs_v.len()
                ),
            ));
        }
        let mut freqs = Vec::with_capacity(freqs_v.len());
        let mut sum: u64 = 0;
        for (i, f) in freqs_v.iter().enumerate() {
            let x = self.int(f, &format!("{freqs_field}[{i}]"), 1, 65535)?;
            sum += x as u64;
            freqs.push(x as u16);
        }
        let escape = self.int_field(o, field, "escape", 1, 65535)?;
        sum += escape as u64;
        let total = 1u64 << precision_bits;
        if sum != total {
            return Err(self.err(
                field,
                format_args!("has sum(freqs) + escape = {sum}, expected exactly {total} (2^{precision_bits})"),
            ));
        }
        Ok(Table {
            min: min as i32,
            freqs,
            escape: escape as u16,
        })
    }
}

fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

impl Manifest {
    /// Parses and validates a manifest. `bundle` names the bundle in errors (its folder, or `embedded ...`).
    ///
    /// Every rule of spec/model-bundle.md section 2 is checked except the hash, which needs the network files:
    /// the `hash` field must be well-formed here, and [`crate::model::Bundle`] checks its value.
    pub fn from_json(bytes: &[u8], bundle: &str) -> Result<Manifest> {
        let w = Walker { bundle };
        let root: Value = serde_json::from_slice(bytes).map_err(|e| Error::Model {
            bundle: bundle.to_string(),
            what: format!("model.json is not valid JSON: {e}"),
        })?;
        let top = root.as_object().ok_or_else(|| Error::Model {
            bundle: bundle.to_string(),
            what: format!("model.json is {}, expected a JSON object", show(&root)),
        })?;

        // bundle_version first: a future version may change every other field.
        let version_v = w.get(top, "", "bundle_version")?;
        if version_v.as_u64() != Some(BUNDLE_VERSION as u64) {
            return Err(w.bad(
                "bundle_version",
                version_v,
                &format!("{BUNDLE_VERSION} (the only bundle version this aez reads)"),
            ));
        }

        let name_v = w.get(top, "", "name")?;
        let name = w.string(name_v, "name")?;
        let name_ok = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(&c));
        if !name_ok {
            return Err(w.bad("name", name_v, "1..64 characters of [a-z0-9._-]"));
        }
        let name = name.to_string();

        let description = w.opt_string_field(top, "description")?;
        let architecture = w.opt_string_field(top, "architecture")?;
        let latent_activation = w.opt_string_field(top, "latent_activation")?;
        let dataset = w.opt_string_field(top, "dataset")?;

        let input_o = w.object(w.get(top, "", "input")?, "input")?;
        let width = w.int_field(input_o, "input", "width", 1, MAX_SIDE as i64)? as u32;
        let height = w.int_field(input_o, "input", "height", 1, MAX_SIDE as i64)? as u32;
        let channels_v = w.get(input_o, "input", "channels")?;
        let channels = match channels_v.as_u64() {
            Some(c @ (1 | 3)) => c as u8,
            _ => return Err(w.bad("input.channels", channels_v, "1 (gray) or 3 (RGB)")),
        };
        let input = Geometry {
            width,
            height,
            channels,
        };

        let encoder = w.network(top, "encoder")?;
        let decoder = w.network(top, "decoder")?;

        let k = w.int_field(top, "", "latent_dim", 1, MAX_LATENT_DIM as i64)? as usize;

        let quant_o = w.object(w.get(top, "", "quantizer")?, "quantizer")?;
        let kind_v = w.get(quant_o, "quantizer", "kind")?;
        if kind_v.as_str() != Some("uniform") {
            return Err(w.bad("quantizer.kind", kind_v, "\"uniform\""));
        }
        let mut vectors = Vec::with_capacity(2);
        for (key, positive) in [("step", true), ("offset", false)] {
            let field = join("quantizer", key);
            let arr = w.array(w.get(quant_o, "quantizer", key)?, &field)?;
            if arr.len() != k {
                return Err(w.err(
                    &field,
                    format_args!("has {} entries, expected latent_dim = {k}", arr.len()),
                ));
            }
            let mut out = Vec::with_capacity(k);
            for (d, v) in arr.iter().enumerate() {
                out.push(w.f32_finite(v, &format!("{field}[{d}]"), positive)?);
            }
            vectors.push(out);
        }
        let offset = vectors.pop().unwrap_or_default();
        let step = vectors.pop().unwrap_or_default();

        let ent_o = w.object(w.get(top, "", "entropy")?, "entropy")?;
        let precision_v = w.get(ent_o, "entropy", "precision_bits")?;
        if precision_v.as_u64() != Some(PRECISION_BITS as u64) {
            return Err(w.bad(
                "entropy.precision_bits",
                precision_v,
                &PRECISION_BITS.to_string(),
            ));
        }
        let precision_bits = PRECISION_BITS;
        let tables_v = w.array(w.get(ent_o, "entropy", "tables")?, "entropy.tables")?;
        if tables_v.len() != k {
            return Err(w.err(
                "entropy.tables",
                format_args!("has {} entries, expected latent_dim = {k}", tables_v.len()),
            ));
        }
        let mut tables = Vec::with_capacity(k);
        for (d, t) in tables_v.iter().enumerate() {
            tables.push(w.table(t, &format!("entropy.tables[{d}]"), precision_bits)?);
        }

        let metrics = top.get("metrics").cloned().unwrap_or(Value::Null);

        let hash_v = w.get(top, "", "hash")?;
        let hash = hash_v.as_str().and_then(parse_hash).ok_or_else(|| {
            w.bad(
                "hash",
                hash_v,
                "\"sha256:\" followed by 64 lowercase hex digits",
            )
        })?;

        Ok(Manifest {
            bundle_version: BUNDLE_VERSION,
            name,
            description,
            architecture,
            latent_activation,
            dataset,
            input,
            encoder,
            decoder,
            latent_dim: k as u32,
            quantizer: Quantizer { step, offset },
            entropy: Entropy {
                precision_bits,
                tables,
            },
            metrics,
            hash,
        })
    }

    /// The manifest as pretty JSON (the same shape as `model.json`).
    pub fn to_json_pretty(&self) -> String {
        // Serializing plain data to a String cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_parse_round_trip_and_rejects_bad_forms() {
        let h: [u8; 32] = std::array::from_fn(|i| (i * 7 + 3) as u8);
        let s = format!("sha256:{}", hex(&h));
        assert_eq!(parse_hash(&s), Some(h));
        assert_eq!(parse_hash(&s.to_uppercase()), None);
        assert_eq!(parse_hash(&s[..s.len() - 1]), None);
        assert_eq!(parse_hash(&s.replace("sha256:", "sha512:")), None);
        assert_eq!(parse_hash(&format!("{s}0")), None);
    }

    #[test]
    fn tiny_manifest_is_accepted_and_each_rule_is_named() {
        let good = serde_json::json!({
            "bundle_version": 1, "name": "t", "input": {"width": 2, "height": 1, "channels": 1},
            "encoder": {"file": "e.onnx", "input": "pixels", "output": "latent"},
            "decoder": {"file": "d.onnx", "input": "latent", "output": "pixels"},
            "latent_dim": 1,
            "quantizer": {"kind": "uniform", "step": [0.5], "offset": [0.0]},
            "entropy": {"precision_bits": 16, "tables": [{"min": -1, "freqs": [65000, 500], "escape": 36}]},
            "hash": format!("sha256:{}", "ab".repeat(32)),
        });
        let m = Manifest::from_json(good.to_string().as_bytes(), "t").unwrap();
        assert_eq!(m.entropy.tables[0].max(), 0);
        assert_eq!(m.input.samples(), 2);
        let round = Manifest::from_json(m.to_json_pretty().as_bytes(), "t").unwrap();
        assert_eq!(round, m);

        let cases: &[(&str, Value, &str)] = &[
            ("/encoder/file", "../x.onnx".into(), "encoder.file"),
            ("/decoder/output", "".into(), "decoder.output"),
            ("/quantizer/offset/0", 1e39.into(), "quantizer.offset[0]"),
            ("/latent_dim", 1.5.into(), "latent_dim"),
        ];
        for (ptr, val, field) in cases {
            let mut bad = good.clone();
            *bad.pointer_mut(ptr).unwrap() = val.clone();
            let e = Manifest::from_json(bad.to_string().as_bytes(), "t")
                .unwrap_err()
                .to_string();
            assert!(e.contains(&format!("`{field}`")), "{ptr}: {e}");
        }
    }
}
