//! Coding with table sets (`model-bundle.md` section 7, `aez-format.md` 11.5): each image of a level with
//! `K` sets is coded as its set index `k` (with the level's choice table) followed by its `C` values, value
//! `c` with set `k`'s table of channel `c`. The encoder picks, per image, the set that codes it in the
//! fewest bits; the decoder only reads `k`, an integer, so the tables it decodes with never depend on
//! floating point. The zstd coder ignores tables and writes no index.

use std::sync::OnceLock;

use super::range::{RangeDecoder, RangeEncoder};
use super::table::{check_table, extend_cum, TableView};
use super::{zstd_coder, Coder, DecodeError, SymbolTable};
use crate::model::{TableList, TableSets};

/// A level's table sets, ready for coding. Nothing is built for a set until it codes a value: a
/// one-image run reads the `K * C` tables once (for its choice) and builds the `C` of the set it codes.
#[derive(Debug)]
pub struct SetTables {
    channels: usize,
    choice: SymbolTable,
    /// The `K * C` tables, set-major.
    tables: TableList,
    /// Per set: its tables' cumulative frequencies, built on first use.
    cums: Vec<OnceLock<SetCum>>,
    /// Every symbol's cost, built on the first choice (a decoder never needs them).
    costs: OnceLock<Costs>,
}

/// The cost ([`COST`] units) of every symbol of every table in flat arrays, for the encoder's choice:
/// table `t`'s are `cost[offs[t]..offs[t + 1]]`, its `len` symbols then the escape (its 16 raw bits
/// included).
#[derive(Debug)]
struct Costs {
    mins: Vec<i32>,
    offs: Vec<u32>,
    cost: Vec<u32>,
    /// Per set: the cost of its index plus an all-zero latent (most values are 0; the choice adds the
    /// difference of the others).
    base: Vec<u64>,
}

impl Costs {
    /// The costs of `tables`, `K` sets of `channels`, whose index is coded with `choice` (`K` symbols
    /// from 0, as [`SetTables::new`] checked).
    fn of(tables: &TableList, channels: usize, choice: &SymbolTable) -> Costs {
        let n = tables.len();
        let mut c = Costs {
            mins: Vec::with_capacity(n),
            offs: Vec::with_capacity(n + 1),
            cost: Vec::new(),
            base: (0..choice.len() as i32)
                .map(|k| {
                    choice
                        .view()
                        .symbol_of(k)
                        .map_or(0, |(_, f)| COST[f as usize])
                })
                .map(u64::from)
                .collect(),
        };
        for t in tables.iter() {
            c.mins.push(t.min);
            c.offs.push(c.cost.len() as u32);
            c.cost.extend(t.freqs.iter().map(|&f| COST[usize::from(f)]));
            c.cost.push(COST[usize::from(t.escape)] + RAW_BITS);
        }
        c.offs.push(c.cost.len() as u32);
        for t in 0..n {
            c.base[t / channels.max(1)] += u64::from(c.of_value(t, 0));
        }
        c
    }

    /// The cost of value `v` in table `t`.
    fn of_value(&self, t: usize, v: i32) -> u32 {
        let (a, b) = (self.offs[t] as usize, self.offs[t + 1] as usize);
        let esc = b - a - 1;
        let i = i64::from(v) - i64::from(self.mins[t]);
        let at = if (0..esc as i64).contains(&i) {
            i as usize
        } else {
            esc
        };
        self.cost[a + at]
    }
}

/// One set's `C` tables in one array: channel `c`'s cumulative frequencies are
/// `cum[starts[c]..starts[c + 1]]` (its `len + 2` entries).
#[derive(Debug)]
struct SetCum {
    starts: Vec<u32>,
    cum: Vec<u32>,
}

/// `COST[f]`: the bits of a symbol of frequency `f` (of 65536), `log2(65536 / f)`, in units of 2^-16
/// bit (`COST[0]` is unused). Integers computed at compile time: the encoder's choice of set is the same
/// on every machine, costs no floating point at run time, and a table set's choice adds up exactly.
static COST: [u32; 65536] = cost_table();

/// The extra cost of an escaped value: its 16 raw bits.
const RAW_BITS: u32 = 16 << 16;

const fn cost_table() -> [u32; 65536] {
    let mut t = [0u32; 65536];
    let mut f = 1;
    while f < 65536 {
        t[f] = (16 << 16) - log2_q16(f as u32);
        f += 1;
    }
    t
}

/// `log2(x)` for `1 <= x < 2^16` in 16.16 fixed point, bit by bit (square the mantissa; each time it
/// reaches 2, that fraction bit is 1), truncated at every step.
const fn log2_q16(x: u32) -> u32 {
    let e = 31 - x.leading_zeros();
    // The mantissa x / 2^e in [1, 2), 31 fraction bits.
    let mut m = (x as u64) << (31 - e);
    let mut r = e << 16;
    let mut bit = 1u32 << 15;
    while bit > 0 {
        m = (m * m) >> 31;
        if m >= 1 << 32 {
            m >>= 1;
            r |= bit;
        }
        bit >>= 1;
    }
    r
}

impl SetTables {
    /// The coding form of `sets`, for a model of `channels` latent channels. Checks what the manifest
    /// reader checked (so a hand-built [`TableSets`] cannot make coding panic).
    pub fn new(sets: &TableSets, channels: usize) -> Result<SetTables, String> {
        let count = sets.count as usize;
        let tables = sets.tables().map_err(|e| e.to_string())?;
        if count == 0 || tables.len() != count * channels {
            return Err(format!(
                "{} tables for {count} sets of {channels} channels",
                tables.len()
            ));
        }
        let choice = SymbolTable::new(sets.choice.min, &sets.choice.freqs, sets.choice.escape)
            .map_err(|e| format!("choice: {e}"))?;
        if choice.min() != 0 || choice.len() != count {
            return Err(format!(
                "choice table has {} symbols from {}, expected {count} from 0",
                choice.len(),
                choice.min()
            ));
        }
        for (i, t) in tables.iter().enumerate() {
            check_table(t.min, t.freqs, t.escape).map_err(|e| format!("tables[{i}]: {e}"))?;
        }
        Ok(SetTables {
            channels,
            choice,
            tables: tables.clone(),
            cums: (0..count).map(|_| OnceLock::new()).collect(),
            costs: OnceLock::new(),
        })
    }

    /// The number of sets, `K`.
    fn count(&self) -> usize {
        self.cums.len()
    }

    /// Set `k`'s cumulative frequencies (`k < K`), built the first time.
    fn set(&self, k: usize) -> &SetCum {
        self.cums[k].get_or_init(|| {
            let c = self.channels;
            let mut starts = Vec::with_capacity(c + 1);
            let mut cum = Vec::new();
            for t in (k * c..(k + 1) * c).map(|t| self.tables.get(t)) {
                starts.push(cum.len() as u32);
                extend_cum(t.freqs, t.escape, &mut cum);
            }
            starts.push(cum.len() as u32);
            SetCum { starts, cum }
        })
    }

    /// Channel `c`'s table in set `s` (`self.set(k)`).
    fn view<'a>(&'a self, s: &'a SetCum, k: usize, c: usize) -> TableView<'a> {
        TableView {
            min: self.tables.get(k * self.channels + c).min,
            cum: &s.cum[s.starts[c] as usize..s.starts[c + 1] as usize],
        }
    }

    /// The set that codes `q` (one image's `C` values) in the fewest bits, index included; the lowest
    /// index of equals.
    pub fn best(&self, q: &[i32]) -> usize {
        let c = self.channels;
        let costs = self
            .costs
            .get_or_init(|| Costs::of(&self.tables, c, &self.choice));
        let nonzero: Vec<(usize, i32)> = q
            .iter()
            .enumerate()
            .filter(|&(_, &v)| v != 0)
            .map(|(ch, &v)| (ch, v))
            .collect();
        let mut best = (u64::MAX, 0);
        for (k, &base) in costs.base.iter().enumerate() {
            let mut b = base;
            for &(ch, v) in &nonzero {
                let t = k * c + ch;
                // The cost of 0 in `t` is part of `base`: the sum never goes below 0.
                b = (b + u64::from(costs.of_value(t, v))) - u64::from(costs.of_value(t, 0));
            }
            if b < best.0 {
                best = (b, k);
            }
        }
        best.1
    }
}

/// Encodes `count` images' values `q` (`count * C`, image after image) with `sets`, appending the payload
/// to `out`: range coder, per image its best set's index then its values; zstd, the values alone.
pub fn encode_with_sets(
    coder: Coder,
    sets: &SetTables,
    count: usize,
    q: &[i32],
    out: &mut Vec<u8>,
) -> crate::Result<()> {
    let c = sets.channels;
    if q.len() != count * c {
        return Err(crate::Error::InvalidArgument {
            what: "number of latent values",
            value: q.len().to_string(),
            expected: format!("{} ({count} latent(s) of {c} values)", count * c),
        });
    }
    super::check_values(q)?;
    match coder {
        Coder::Range => {
            let ks: Vec<usize> = q.chunks_exact(c.max(1)).map(|one| sets.best(one)).collect();
            write(sets, &ks, q, out);
            Ok(())
        }
        Coder::Zstd => zstd_coder::encode(q, out),
    }
}

/// The range code of images `q` with sets `ks` (one per image).
fn write(sets: &SetTables, ks: &[usize], q: &[i32], out: &mut Vec<u8>) {
    let mut enc = RangeEncoder::new(out);
    for (&k, one) in ks.iter().zip(q.chunks_exact(sets.channels.max(1))) {
        enc.encode_value(&sets.choice, k as i32);
        let s = sets.set(k);
        for (c, &v) in one.iter().enumerate() {
            enc.encode_view(sets.view(s, k, c), v);
        }
    }
    enc.finish();
}

/// Decodes a payload of `count` images coded with `sets` ([`encode_with_sets`]) into `out` (exactly
/// `count * C` values), rejecting a set index outside `0..K` and, as every decoder here, any payload that
/// is not byte for byte what the encoder writes for what it decodes to.
pub fn decode_with_sets(
    coder: Coder,
    sets: &SetTables,
    count: usize,
    payload: &[u8],
    out: &mut Vec<i32>,
) -> Result<(), DecodeError> {
    out.clear();
    let c = sets.channels;
    match coder {
        Coder::Range => {
            let mut dec = RangeDecoder::new(payload);
            let mut ks = Vec::with_capacity(count.min(1 << 20));
            for i in 0..count {
                let k = dec.decode_value(&sets.choice)?;
                if !(0..sets.count() as i32).contains(&k) {
                    return Err(DecodeError(format!(
                        "image {i} of the record names table set {k}, but the level has {} (0..={})",
                        sets.count(),
                        sets.count() - 1
                    )));
                }
                let k = k as usize;
                ks.push(k);
                let s = sets.set(k);
                for ch in 0..c {
                    out.push(dec.decode_view(sets.view(s, k, ch))?);
                }
            }
            let mut again = Vec::with_capacity(payload.len());
            write(sets, &ks, out, &mut again);
            if again != payload {
                return Err(DecodeError(format!(
                    "leftover or missing payload bytes: the {} values decoded re-encode to {} bytes, the payload has {}{}",
                    out.len(),
                    again.len(),
                    payload.len(),
                    if again.len() == payload.len() { " that differ" } else { "" }
                )));
            }
            Ok(())
        }
        Coder::Zstd => zstd_coder::decode(count * c, payload, out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Table, TableList};

    /// Two sets of 3 channels: set 0 expects zeros, set 1 expects 2s.
    fn sets() -> SetTables {
        let zeros = Table {
            min: -1,
            freqs: vec![100, 65000, 435],
            escape: 1,
        };
        let twos = Table {
            min: 1,
            freqs: vec![500, 65000, 35],
            escape: 1,
        };
        let mut tables = TableList::default();
        for t in [&zeros, &zeros, &zeros, &twos, &twos, &twos] {
            tables.push(t.into());
        }
        let s = TableSets::new(
            2,
            Table {
                min: 0,
                freqs: vec![30000, 35535],
                escape: 1,
            },
            tables,
        );
        SetTables::new(&s, 3).unwrap()
    }

    #[test]
    fn each_image_gets_its_best_set_and_decodes_back() {
        let s = sets();
        assert_eq!(s.best(&[0, 0, 0]), 0);
        assert_eq!(s.best(&[2, 2, 0]), 1);
        let q = vec![0, 0, 0, 2, 2, 2, 0, 1, -1, 300, 2, 2];
        let mut p = Vec::new();
        encode_with_sets(Coder::Range, &s, 4, &q, &mut p).unwrap();
        let mut back = Vec::new();
        decode_with_sets(Coder::Range, &s, 4, &p, &mut back).unwrap();
        assert_eq!(back, q);
        // Better than coding everything with either set alone.
        let mut one = Vec::new();
        write(&s, &[0, 0, 0, 0], &q, &mut one);
        let mut two = Vec::new();
        write(&s, &[1, 1, 1, 1], &q, &mut two);
        assert!(
            p.len() < one.len() && p.len() < two.len(),
            "{} {} {}",
            p.len(),
            one.len(),
            two.len()
        );
        // Damage never panics (a changed payload may be another file's: the container's CRCs catch
        // that); bytes after the termination are refused.
        for i in 0..p.len() {
            for bit in 0..8 {
                let mut d = p.clone();
                d[i] ^= 1 << bit;
                let _ = decode_with_sets(Coder::Range, &s, 4, &d, &mut back);
            }
        }
        let mut extra = p.clone();
        extra.push(0x55);
        assert!(decode_with_sets(Coder::Range, &s, 4, &extra, &mut back).is_err());
        // zstd: the values alone.
        let mut z = Vec::new();
        encode_with_sets(Coder::Zstd, &s, 4, &q, &mut z).unwrap();
        decode_with_sets(Coder::Zstd, &s, 4, &z, &mut back).unwrap();
        assert_eq!(back, q);
    }

    #[test]
    fn costs_are_log2_to_within_two_units() {
        for f in 1..65536u32 {
            let exact = (65536.0 / f64::from(f)).log2() * 65536.0;
            let got = f64::from(COST[f as usize]);
            assert!((got - exact).abs() <= 2.0, "{f}: {got} {exact}");
        }
        assert_eq!(COST[1], 16 << 16);
        assert_eq!(COST[32768], 1 << 16);
        assert_eq!(COST[16384], 2 << 16);
    }

    #[test]
    fn a_set_index_past_the_sets_is_refused() {
        let s = sets();
        // Index 2 escapes from the choice table (0..=1): a file no encoder writes.
        let mut p = Vec::new();
        let mut enc = RangeEncoder::new(&mut p);
        enc.encode_value(&s.choice, 2);
        for _ in 0..3 {
            enc.encode_view(s.view(s.set(0), 0, 0), 0);
        }
        enc.finish();
        let mut back = Vec::new();
        let e = decode_with_sets(Coder::Range, &s, 1, &p, &mut back).unwrap_err();
        assert!(
            e.0.contains("names table set 2, but the level has 2"),
            "{}",
            e.0
        );
    }
}
