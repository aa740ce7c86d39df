//! The entropy coders' tests (and the random tables other modules' tests use).

use super::*;

pub(crate) fn lcg(s: &mut u64) -> u64 {
    *s = s
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *s >> 33
}

/// A random valid table: `len` in 1..=max_len entries, escape >= 1.
pub(crate) fn random_table(seed: &mut u64, max_len: usize) -> SymbolTable {
    let len = 1 + (lcg(seed) as usize % max_len);
    let escape = 1 + (lcg(seed) % 4000) as u32;
    let mut w: Vec<u32> = (0..len).map(|_| 1 + (lcg(seed) % 1000) as u32).collect();
    let total: u32 = w.iter().sum();
    let target = TOTAL - escape;
    // Scale to `target`, each >= 1, then fix the sum on the largest.
    for x in w.iter_mut() {
        *x = ((u64::from(*x) * u64::from(target) / u64::from(total)) as u32).max(1);
    }
    let sum: u32 = w.iter().sum();
    let imax = (0..len).max_by_key(|&i| w[i]).unwrap();
    w[imax] = (i64::from(w[imax]) + i64::from(target) - i64::from(sum)) as u32;
    let freqs: Vec<u16> = w.iter().map(|&x| x as u16).collect();
    let min = (lcg(seed) % 64) as i32 - 32;
    SymbolTable::new(min, &freqs, escape as u16).unwrap()
}

#[test]
fn table_validation() {
    assert!(SymbolTable::new(0, &[], 1).is_err());
    assert!(SymbolTable::new(0, &[65535], 1).is_ok());
    assert!(SymbolTable::new(0, &[65534], 1).is_err());
    assert!(SymbolTable::new(0, &[0, 65535], 1).is_err());
    assert!(SymbolTable::new(0, &[65535], 0).is_err());
    assert!(SymbolTable::new(32767, &[65000, 535], 1).is_err());
    assert!(SymbolTable::new(-32769, &[65535], 1).is_err());
    let t = SymbolTable::new(-1, &[100, 65000, 435], 1).unwrap();
    assert_eq!(t.len(), 3);
    assert_eq!(t.lookup(0), (0, 0, 100));
    assert_eq!(t.lookup(99), (0, 0, 100));
    assert_eq!(t.lookup(100), (1, 100, 65000));
    assert_eq!(t.lookup(65535), (3, 65535, 1));
    assert_eq!(t.symbol_of(-1), Some((0, 100)));
    assert_eq!(t.symbol_of(2), None);
}

#[test]
fn coder_ids_and_names() {
    for c in Coder::ALL {
        assert_eq!(Coder::from_id(c.id()), Some(c));
        assert_eq!(c.name().parse::<Coder>().unwrap(), c);
    }
    assert_eq!(Coder::from_id(2), None);
    assert!("lzma".parse::<Coder>().is_err());
}

#[test]
fn random_round_trips_both_coders_with_escapes() {
    let mut seed = 7u64;
    for round in 0..300 {
        let k = 1 + (lcg(&mut seed) as usize % 40);
        let tables: Vec<SymbolTable> = (0..k).map(|_| random_table(&mut seed, 60)).collect();
        let q: Vec<i32> = tables
            .iter()
            .map(|t| match lcg(&mut seed) % 10 {
                0 => Q_MIN + (lcg(&mut seed) % 65536) as i32, // anything, mostly escapes
                1 => [Q_MIN, Q_MAX, t.min() - 1, t.min() + t.len() as i32]
                    [(lcg(&mut seed) % 4) as usize],
                _ => t.min() + (lcg(&mut seed) as usize % t.len()) as i32,
            })
            .collect();
        for coder in Coder::ALL {
            let mut p = Vec::new();
            encode_symbols(coder, &tables, &q, &mut p).unwrap();
            let mut back = Vec::new();
            decode_symbols(coder, &tables, &p, &mut back)
                .unwrap_or_else(|e| panic!("round {round} {coder}: {e}"));
            assert_eq!(back, q, "round {round} {coder}");
            // One more or one less byte never decodes to the same values: the coding is one-to-one
            // (it may be another image's canonical code; the record CRC is what catches that).
            let mut longer = p.clone();
            longer.push(1);
            if decode_symbols(coder, &tables, &longer, &mut back).is_ok() {
                assert_ne!(back, q, "{coder} longer");
            }
            if !p.is_empty() && decode_symbols(coder, &tables, &p[..p.len() - 1], &mut back).is_ok()
            {
                assert_ne!(back, q, "{coder} shorter");
            }
        }
    }
}

#[test]
fn decoders_never_panic_on_random_bytes() {
    let mut seed = 99u64;
    let tables: Vec<SymbolTable> = (0..32).map(|_| random_table(&mut seed, 30)).collect();
    let mut out = Vec::new();
    let mut accepted = 0;
    for _ in 0..20000 {
        let n = (lcg(&mut seed) % 40) as usize;
        let bytes: Vec<u8> = (0..n).map(|_| lcg(&mut seed) as u8).collect();
        for coder in Coder::ALL {
            if decode_symbols(coder, &tables, &bytes, &mut out).is_ok() {
                accepted += 1;
                let mut again = Vec::new();
                encode_symbols(coder, &tables, &out, &mut again).unwrap();
                assert_eq!(again, bytes, "an accepted payload is the encoder's output");
            }
        }
    }
    // Random byte strings are valid range codes only when they are canonical: some are.
    assert!(accepted > 0);
}

#[test]
fn wrong_value_count_is_an_error() {
    let t = SymbolTable::new(0, &[65535], 1).unwrap();
    let mut p = Vec::new();
    assert!(encode_symbols(Coder::Range, std::slice::from_ref(&t), &[0, 0], &mut p).is_err());
    assert!(encode_symbols(Coder::Range, &[t], &[40000], &mut p).is_err());
}
