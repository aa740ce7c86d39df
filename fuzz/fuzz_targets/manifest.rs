//! Manifest reading (spec/model-bundle.md), on arbitrary bytes and on tiny-hyper's manifest with one of
//! its hyper weight arrays replaced by the input as a packed string (section 6.1: base64 of little-endian
//! values).
//!
//! Checks: no panic, on either path of the reader (the text fast path and the tree path that names the
//! field of an error); a replaced array that is refused is refused naming that array's field; one that is
//! accepted has exactly the values the bytes give, and the manifest writes back to text that reads as the
//! same manifest.
#![no_main]

use std::sync::OnceLock;

use aez::model::Manifest;
use libfuzzer_sys::fuzz_target;

const TINY_HYPER: &[u8] = include_bytes!("../../fixtures/models/tiny-hyper/model.json");

fn base() -> &'static serde_json::Value {
    static BASE: OnceLock<serde_json::Value> = OnceLock::new();
    BASE.get_or_init(|| serde_json::from_slice(TINY_HYPER).expect("the fixture manifest is JSON"))
}

/// The packed arrays a case can replace: (JSON pointer, field path in errors, value bytes).
const FIELDS: [(&str, &str, usize); 4] = [
    ("/hyper/analysis/0/weights", "hyper.analysis[0].weights", 4),
    ("/hyper/analysis/2/bias", "hyper.analysis[2].bias", 4),
    (
        "/hyper/synthesis/layers/0/weights",
        "hyper.synthesis.layers[0].weights",
        2,
    ),
    (
        "/hyper/synthesis/layers/2/bias",
        "hyper.synthesis.layers[2].bias",
        4,
    ),
];

fuzz_target!(|data: &[u8]| {
    // Arbitrary bytes: an error or a manifest, never a panic.
    let _ = Manifest::from_json(data, "fuzz");

    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let which = usize::from(pick) % FIELDS.len();
    let (pointer, field, width) = FIELDS[which];
    let text = String::from_utf8_lossy(rest).into_owned();
    let mut m = base().clone();
    *m.pointer_mut(pointer).expect("the fixture has the field") =
        serde_json::Value::String(text.clone());
    let bytes = serde_json::to_vec(&m).expect("a JSON value writes");
    match Manifest::from_json(&bytes, "fuzz") {
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(field), "{field}: {msg}");
        }
        Ok(got) => {
            // Accepted: the string is base64 of whole values, as many as the layer has.
            let hy = got.hyper.as_ref().expect("tiny-hyper has a hyperprior");
            let raw = decode(&text).expect("an accepted string is base64");
            assert!(raw.len().is_multiple_of(width));
            // The values are the little-endian numbers of the bytes, bit for bit.
            let f32s = |v: &[f32]| v.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>();
            let got_bytes: Vec<u8> = match which {
                0 => f32s(&hy.analysis[0].weights),
                1 => f32s(&hy.analysis[2].bias),
                2 => hy.synthesis[0]
                    .weights
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect(),
                _ => hy.synthesis[2]
                    .bias
                    .iter()
                    .flat_map(|x| x.to_le_bytes())
                    .collect(),
            };
            assert_eq!(got_bytes, raw);
            let again = Manifest::from_json(got.to_json_pretty().as_bytes(), "fuzz")
                .expect("a manifest written back reads");
            assert_eq!(again, got);
        }
    }
});

/// Plain base64 (standard alphabet, padding), independent of the crate's decoder.
fn decode(s: &str) -> Option<Vec<u8>> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let b = s.as_bytes();
    if !b.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::new();
    for (i, q) in b.chunks(4).enumerate() {
        let last = i + 1 == b.len() / 4;
        let pad = q.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && !last) {
            return None;
        }
        let mut n = 0u32;
        for &c in &q[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}
