//! What both manifest versions share: the typed forms of the common parts (networks, quantizer, tables), an
//! integer leaf type, their validation rules, and the errors, which name the field by its JSON path and quote
//! the bad value.

use serde::de::{self, DeserializeOwned, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{Number, Value};
use serde_path_to_error::Segment;

use super::{
    parse_hash, NetworkSpec, Quantizer, Table, MAX_NAME_LEN, MAX_TABLE_LEN, PRECISION_BITS,
};
use crate::error::{Error, Result};

/// A JSON integer of any size JSON carries (`i64` or `u64`), kept exact so that a range error quotes it as
/// written. A float, even `32.0`, is not an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Int(pub i128);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Int, D::Error> {
        struct IntVisitor;
        impl Visitor<'_> for IntVisitor {
            type Value = Int;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Int, E> {
                Ok(Int(v.into()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Int, E> {
                Ok(Int(v.into()))
            }
        }
        d.deserialize_i64(IntVisitor)
    }
}

/// `encoder` / `decoder`, as in the JSON.
#[derive(Deserialize)]
pub(super) struct RawNetwork {
    file: String,
    input: String,
    output: String,
}

/// A `quantizer` object, as in the JSON (numbers kept as written, for quoting).
#[derive(Deserialize)]
pub(super) struct RawQuantizer {
    kind: String,
    step: Vec<Number>,
    offset: Vec<Number>,
}

/// One entropy table, as in the JSON.
#[derive(Deserialize)]
pub(super) struct RawTable {
    min: Int,
    freqs: Vec<Int>,
    escape: Int,
}

/// A short rendering of a JSON value for an error message.
pub(super) fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 80 {
        let cut: String = s.chars().take(77).collect();
        format!("{cut}...")
    } else {
        s
    }
}

fn show_str(s: &str) -> String {
    show(&Value::String(s.to_string()))
}

/// `parent.key`, or `key` at the top level.
pub(super) fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// serde's name for what it expected, in the words of JSON: `struct RawInput with 3 elements` is an object.
fn plain(expected: &str) -> &str {
    match expected {
        e if e.starts_with("struct ") || e.starts_with("a map") => "an object",
        "a sequence" => "an array",
        "a JSON number" => "a number",
        e => e,
    }
}

/// The `what` of [`Ctx::err`]: `model.json field `FIELD` WHAT`.
pub(super) fn field_what(field: &str, what: impl std::fmt::Display) -> String {
    format!("model.json field `{field}` {what}")
}

/// The manifest's bundle, for errors.
pub(super) struct Ctx<'a> {
    pub(super) bundle: &'a str,
    /// Leave the levels' packed table sets undecoded until first use ([`super::Manifest::from_json_deferred`]).
    pub(super) defer_sets: bool,
}

impl Ctx<'_> {
    /// `model.json field `FIELD` WHAT`.
    pub(super) fn err(&self, field: &str, what: impl std::fmt::Display) -> Error {
        Error::Model {
            bundle: self.bundle.to_string(),
            what: field_what(field, what),
        }
    }

    /// `model.json field `FIELD` is SHOWN, expected EXPECTED`.
    pub(super) fn bad(&self, field: &str, shown: &str, expected: &str) -> Error {
        self.err(field, format_args!("is {shown}, expected {expected}"))
    }

    /// Deserializes `T` from the parsed manifest. A type error or missing field names its JSON path, and a
    /// value of the wrong type is quoted from `root` (serde's own message describes it less plainly).
    pub(super) fn parse<T: DeserializeOwned>(&self, root: &Value) -> Result<T> {
        serde_path_to_error::deserialize(root).map_err(|e| {
            let at = match e.path().to_string() {
                dot if dot == "." => String::new(),
                p => p,
            };
            let msg = e.inner().to_string();
            if let Some(field) = msg
                .strip_prefix("missing field `")
                .and_then(|m| m.strip_suffix('`'))
            {
                return self.err(&join(&at, field), "is missing");
            }
            let value = e.path().iter().try_fold(root, |v, seg| match seg {
                Segment::Seq { index } => v.get(*index),
                Segment::Map { key } => v.get(key.as_str()),
                _ => None,
            });
            // serde's messages are `invalid type: <what it got>, expected <what>` (or `invalid value: ...`).
            match (value, msg.split_once(", expected ")) {
                (Some(v), Some((_, expected))) => self.bad(&at, &show(v), plain(expected)),
                (Some(v), None) => self.err(&at, format_args!("is {}: {msg}", show(v))),
                (None, _) => self.err(&at, msg),
            }
        })
    }

    /// An integer in `lo..=hi`.
    pub(super) fn int(&self, x: Int, field: &str, lo: i64, hi: i64) -> Result<i64> {
        self.int_at(x, || field.to_string(), lo, hi)
    }

    /// [`Ctx::int`] with the field's name made only for an error (a manifest has up to millions of
    /// table entries, and naming each one up front was most of the time of reading a large manifest).
    pub(super) fn int_at(
        &self,
        x: Int,
        field: impl FnOnce() -> String,
        lo: i64,
        hi: i64,
    ) -> Result<i64> {
        if (i128::from(lo)..=i128::from(hi)).contains(&x.0) {
            Ok(x.0 as i64)
        } else {
            Err(self.bad(
                &field(),
                &x.0.to_string(),
                &format!("an integer in {lo}..={hi}"),
            ))
        }
    }

    /// `name`: 1..64 characters of `[a-z0-9._-]`.
    pub(super) fn name(&self, name: String) -> Result<String> {
        let ok = !name.is_empty()
            && name.len() <= MAX_NAME_LEN
            && name
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(&c));
        if ok {
            Ok(name)
        } else {
            Err(self.bad("name", &show_str(&name), "1..64 characters of [a-z0-9._-]"))
        }
    }

    /// `entropy.precision_bits`: 16.
    pub(super) fn precision(&self, x: Int, field: &str) -> Result<u32> {
        if x.0 == i128::from(PRECISION_BITS) {
            Ok(PRECISION_BITS)
        } else {
            Err(self.bad(field, &x.0.to_string(), &PRECISION_BITS.to_string()))
        }
    }

    /// `hash`: `sha256:` and 64 lowercase hex digits.
    pub(super) fn hash(&self, s: &str) -> Result<[u8; 32]> {
        parse_hash(s).ok_or_else(|| {
            self.bad(
                "hash",
                &show_str(s),
                "\"sha256:\" followed by 64 lowercase hex digits",
            )
        })
    }

    /// `input.channels`: 1 (gray) or 3 (RGB).
    pub(super) fn image_channels(&self, x: Int) -> Result<u8> {
        match x.0 {
            c @ (1 | 3) => Ok(c as u8),
            c => Err(self.bad("input.channels", &c.to_string(), "1 (gray) or 3 (RGB)")),
        }
    }

    /// `len` entries at `field`, expected `k`; `k_field` names where `k` comes from.
    fn count(&self, len: usize, field: &str, k: usize, k_field: &str) -> Result<()> {
        if len == k {
            Ok(())
        } else {
            Err(self.err(
                field,
                format_args!("has {len} entries, expected {k_field} = {k}"),
            ))
        }
    }

    /// `encoder` or `decoder` (`key`): a plain file name and two tensor names.
    pub(super) fn network(&self, raw: RawNetwork, key: &str) -> Result<NetworkSpec> {
        let file = raw.file;
        let plain = !file.is_empty()
            && file != "."
            && file != ".."
            && !file.contains(['/', '\\', '\0'])
            && file.len() <= 255;
        if !plain {
            return Err(self.bad(
                &join(key, "file"),
                &show_str(&file),
                "a plain file name inside the bundle folder (no path separators, not . or ..)",
            ));
        }
        for (name, sub) in [(&raw.input, "input"), (&raw.output, "output")] {
            if name.is_empty() || name.len() > 256 {
                return Err(self.bad(
                    &join(key, sub),
                    &show_str(name),
                    "a tensor name of 1..=256 bytes",
                ));
            }
        }
        Ok(NetworkSpec {
            file,
            input: raw.input,
            output: raw.output,
        })
    }

    /// A uniform quantizer at `field` with `k` steps and offsets; `k_field` names where `k` comes from.
    pub(super) fn quantizer(
        &self,
        raw: RawQuantizer,
        field: &str,
        k: usize,
        k_field: &str,
    ) -> Result<Quantizer> {
        if raw.kind != "uniform" {
            return Err(self.bad(&join(field, "kind"), &show_str(&raw.kind), "\"uniform\""));
        }
        let step = self.f32s(&raw.step, &join(field, "step"), k, k_field, true)?;
        let offset = self.f32s(&raw.offset, &join(field, "offset"), k, k_field, false)?;
        Ok(Quantizer { step, offset })
    }

    /// `k` finite binary32 numbers (each the nearest binary32 of its decimal text), `> 0` when `positive`.
    fn f32s(
        &self,
        raw: &[Number],
        field: &str,
        k: usize,
        k_field: &str,
        positive: bool,
    ) -> Result<Vec<f32>> {
        self.count(raw.len(), field, k, k_field)?;
        let expected = if positive {
            "a finite number > 0"
        } else {
            "a finite number"
        };
        let mut out = Vec::with_capacity(k);
        for (c, n) in raw.iter().enumerate() {
            let x = n.as_f64().map(|x| x as f32).unwrap_or(f32::NAN);
            if !x.is_finite() || (positive && x <= 0.0) {
                return Err(self.bad(&format!("{field}[{c}]"), &n.to_string(), expected));
            }
            out.push(x);
        }
        Ok(out)
    }

    /// `k` tables at `field` (`field[c]` each); `k_field` names where `k` comes from.
    pub(super) fn tables(
        &self,
        raw: Vec<RawTable>,
        field: &str,
        k: usize,
        k_field: &str,
    ) -> Result<Vec<Table>> {
        self.count(raw.len(), field, k, k_field)?;
        raw.into_iter()
            .enumerate()
            .map(|(c, t)| self.table(t, &|| format!("{field}[{c}]")))
            .collect()
    }

    /// One table at `field` (spec section 2's rules).
    pub(super) fn one_table(&self, raw: RawTable, field: &str) -> Result<Table> {
        self.table(raw, &|| field.to_string())
    }

    /// One table (spec section 2's rules for `min`, `freqs`, `escape` and their sum); `field` names it,
    /// called only for an error.
    fn table(&self, raw: RawTable, field: &dyn Fn() -> String) -> Result<Table> {
        let min = self.int_at(raw.min, || join(&field(), "min"), -32768, 32767)?;
        let freqs_field = || join(&field(), "freqs");
        let len = raw.freqs.len();
        if len == 0 || len > MAX_TABLE_LEN {
            return Err(self.err(
                &freqs_field(),
                format_args!("has {len} entries, expected 1..={MAX_TABLE_LEN}"),
            ));
        }
        let top = min + len as i64 - 1;
        if top > 32767 {
            return Err(self.err(
                &freqs_field(),
                format_args!(
                    "has {len} entries from min {min}, so its top value {top} is over 32767"
                ),
            ));
        }
        let mut freqs = Vec::with_capacity(len);
        let mut sum: u64 = 0;
        for (i, f) in raw.freqs.into_iter().enumerate() {
            let x = self.int_at(f, || format!("{}[{i}]", freqs_field()), 1, 65535)?;
            sum += x as u64;
            freqs.push(x as u16);
        }
        let escape = self.int_at(raw.escape, || join(&field(), "escape"), 1, 65535)?;
        sum += escape as u64;
        let total = 1u64 << PRECISION_BITS;
        if sum != total {
            return Err(self.err(
                &field(),
                format_args!(
                    "has sum(freqs) + escape = {sum}, expected exactly {total} (2^{PRECISION_BITS})"
                ),
            ));
        }
        Ok(Table {
            min: min as i32,
            freqs,
            escape: escape as u16,
        })
    }
}
