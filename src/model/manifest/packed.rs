//! The hyperprior's weight arrays (spec/model-bundle.md section 6.1) are hundreds of thousands of numbers:
//! written as JSON numbers they made photo-hyper's manifest 2.7 MB, whose parse took 13 to 19 ms of every
//! run. A manifest may give each of them either as a JSON array of numbers or as a string: the values'
//! little-endian bytes in base64 (RFC 4648, standard alphabet, with padding), which reads about ten times
//! faster. Both forms give the same values, so the bundle hash (computed over the values) is the same.

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::Serializer;
use serde::Deserialize;

/// A float array: `f32` little-endian when packed.
#[derive(Debug)]
pub(super) struct Floats(pub Vec<f32>);

/// An integer array of `W`-byte two's-complement little-endian values when packed (`W` = 2 or 4), kept
/// as `i64` so that a range error of the array form quotes the value as written.
#[derive(Debug)]
pub(super) struct Ints<const W: usize>(pub Vec<i64>);

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The 6-bit value of each byte, or 0xFF.
const fn sextets() -> [u8; 256] {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 64 {
        t[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    t
}
const SEXTET: [u8; 256] = sextets();

/// Strict base64: a length that is a multiple of 4, the standard alphabet, `=` only as the last one or two
/// characters, and zero bits after the last byte (so that each byte string has exactly one encoding).
pub(super) fn base64_decode(s: &[u8]) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(4) {
        return Err(format!(
            "is {} characters of base64, not a multiple of 4",
            s.len()
        ));
    }
    let pad = s.iter().rev().take(2).take_while(|&&c| c == b'=').count();
    let body = &s[..s.len() - pad];
    let mut out = Vec::with_capacity(s.len() / 4 * 3);
    // Whole groups of 4 characters to 3 bytes (megabytes of tables: the bit-at-a-time loop below was
    // most of a manifest's read); the last group, and any group with a bad character, go on below.
    let whole = body.len() / 4 * 4;
    let mut done = 0;
    for (g, four) in body[..whole].chunks_exact(4).enumerate() {
        let v = four.iter().map(|&c| SEXTET[c as usize]);
        if v.clone().any(|x| x == 0xFF) {
            break;
        }
        let n = v.fold(0u32, |acc, x| (acc << 6) | u32::from(x));
        out.extend_from_slice(&n.to_be_bytes()[1..]);
        done = 4 * (g + 1);
    }
    let mut acc = 0u32;
    let mut bits = 0u32;
    for (i, &c) in body.iter().enumerate().skip(done) {
        let v = SEXTET[c as usize];
        if v == 0xFF {
            return Err(format!(
                "has {:?} at character {i}, which is not base64",
                char::from(c)
            ));
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if acc != 0 {
        return Err("has non-zero bits after its last byte (not canonical base64)".into());
    }
    Ok(out)
}

/// Standard base64 with padding.
pub(super) fn base64_encode(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                s.push(char::from(ALPHABET[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// The bytes of a packed string of `width`-byte values.
fn unpack<E: de::Error>(s: &str, width: usize, what: &str) -> Result<Vec<u8>, E> {
    let bytes = base64_decode(s.as_bytes()).map_err(|e| E::custom(format!("the string {e}")))?;
    if !bytes.len().is_multiple_of(width) {
        return Err(E::custom(format!(
            "the string holds {} bytes, not a whole number of {what} ({width} bytes each)",
            bytes.len()
        )));
    }
    Ok(bytes)
}

impl<'de> Deserialize<'de> for Floats {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Floats, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Floats;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array of numbers, or a string of little-endian float32 in base64")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Floats, A::Error> {
                let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(x) = seq.next_element::<f32>()? {
                    v.push(x);
                }
                Ok(Floats(v))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Floats, E> {
                let bytes = unpack::<E>(s, 4, "float32 values")?;
                Ok(Floats(
                    bytes
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                        .collect(),
                ))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de, const W: usize> Deserialize<'de> for Ints<W> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ints<W>, D::Error> {
        struct V<const W: usize>;
        impl<'de, const W: usize> Visitor<'de> for V<W> {
            type Value = Ints<W>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(
                    f,
                    "an array of integers, or a string of little-endian int{} in base64",
                    W * 8
                )
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ints<W>, A::Error> {
                let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(x) = seq.next_element::<i64>()? {
                    v.push(x);
                }
                Ok(Ints(v))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Ints<W>, E> {
                let bytes = unpack::<E>(s, W, &format!("int{} values", W * 8))?;
                Ok(Ints(
                    bytes
                        .chunks_exact(W)
                        .map(|b| match *b {
                            [a, b] => i64::from(i16::from_le_bytes([a, b])),
                            [a, b, c, d] => i64::from(i32::from_le_bytes([a, b, c, d])),
                            _ => unreachable!("Ints is only made with W = 2 or 4"),
                        })
                        .collect(),
                ))
            }
        }
        d.deserialize_any(V::<W>)
    }
}

/// A value of a packed array: its little-endian bytes.
pub(super) trait LeBytes: Copy {
    /// Appends the value's little-endian bytes.
    fn put_le(self, out: &mut Vec<u8>);
}

macro_rules! le_bytes {
    ($($t:ty),*) => {$(
        impl LeBytes for $t {
            fn put_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
    )*};
}
le_bytes!(f32, i16, i32);

/// `serialize_with` of a weight array (float32, int16 or int32): packed.
pub(super) fn ser_packed<T: LeBytes, V: AsRef<[T]>, S: Serializer>(
    v: &V,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut bytes = Vec::new();
    for &x in v.as_ref() {
        x.put_le(&mut bytes);
    }
    s.serialize_str(&base64_encode(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_is_strict() {
        for n in 0..40usize {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            let s = base64_encode(&bytes);
            assert_eq!(base64_decode(s.as_bytes()).unwrap(), bytes, "{n} bytes");
        }
        // RFC 4648 section 10 test vectors
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(plain.as_bytes()), enc);
            assert_eq!(base64_decode(enc.as_bytes()).unwrap(), plain.as_bytes());
        }
        for bad in [
            "Zg=", "Zh==", "Zm9", "Zm9v\n", "Z===", "=Zg=", "Zm-v", "Zg==Zg==",
        ] {
            assert!(base64_decode(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn both_forms_give_the_same_values() {
        let f: Floats = serde_json::from_str("[1.5, -2, 0.1]").unwrap();
        let packed = serde_json::to_string(&Wrap(&f.0)).unwrap();
        let g: Floats = serde_json::from_str(&packed).unwrap();
        assert_eq!(f.0, g.0);
        let i: Ints<2> = serde_json::from_str("\"AYD/fw==\"").unwrap();
        assert_eq!(i.0, vec![-32767, 32767]);
        let j: Ints<4> = serde_json::from_str("\"/////w==\"").unwrap();
        assert_eq!(j.0, vec![-1]);
        let e = serde_json::from_str::<Ints<4>>("\"AAA=\"").unwrap_err();
        assert!(e.to_string().contains("not a whole number"), "{e}");
    }

    struct Wrap<'a>(&'a [f32]);
    impl serde::Serialize for Wrap<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            ser_packed(&self.0, s)
        }
    }
}
