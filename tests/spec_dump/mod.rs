//! The spec's byte dumps, shared by the tests that check them against the golden files (tests/golden.rs
//! for version 1, tests/format_v2.rs for version 2).
#![allow(dead_code)]

/// The bytes as lowercase hex, no separators.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `xxd`-style dump: offset, 16 bytes in hex, the printable ones as text.
pub fn dump(b: &[u8]) -> String {
    let mut s = String::new();
    for (i, chunk) in b.chunks(16).enumerate() {
        let hexes: Vec<String> = chunk.iter().map(|x| format!("{x:02x}")).collect();
        let ascii: String = chunk
            .iter()
            .map(|&c| {
                if (0x20..0x7f).contains(&c) {
                    c as char
                } else {
                    '.'
                }
            })
            .collect();
        s.push_str(&format!(
            "{:08x}  {:<48} |{}|\n",
            i * 16,
            hexes.join(" "),
            ascii
        ));
    }
    s
}

/// Replaces the block of `spec` from the marker `open` through the next `close` with `want`: `None` when
/// there is no `open` marker, else whether the block was already `want`.
pub fn replace_block(spec: &mut String, open: &str, close: &str, want: &str) -> Option<bool> {
    let a = spec.find(open)?;
    let b = spec[a..]
        .find(close)
        .map_or(spec.len(), |x| a + x + close.len());
    let same = spec[a..b] == *want;
    spec.replace_range(a..b, want);
    Some(same)
}
