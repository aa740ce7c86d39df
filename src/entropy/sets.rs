//! Coding with table sets (`model-bundle.md` section 7, `aez-format.md` 11.5): each image of a level with
//! `K` sets is coded as its set index `k` (with the level's choice table) followed by its `C` values, value
//! `c` with set `k`'s table of channel `c`. The encoder picks, per image, the set that codes it in the
//! fewest bits; the decoder only reads `k`, an integer, so the tables it decodes with never depend on
//! floating point. The zstd coder ignores tables and writes no index.

use super::range::{RangeDecoder, RangeEncoder};
use super::table::{push_cum, TableView};
use super::{zstd_coder, Coder, DecodeError, SymbolTable, TOTAL};
use crate::model::TableSets;

/// A level's table sets, ready for coding: the cumulative frequencies of all `K * C` tables in one array,
/// and each symbol's cost in bits (for the encoder's choice).
#[derive(Debug, Clone)]
pub struct SetTables {
    channels: usize,
    count: usize,
    choice: SymbolTable,
    /// Table `t`'s minimum.
    mins: Vec<i32>,
    /// Table `t`'s cumulative frequencies are `cum[starts[t]..starts[t + 1]]` (its `len + 2` entries).
    starts: Vec<u32>,
    cum: Vec<u32>,
    /// `cost[starts[t] + i]`: bits of symbol `i` of table `t` (`i = len`: the escape, plus its 16 raw
    /// bits).
    cost: Vec<f32>,
    /// Per set: the bits of an all-zero latent (most values are 0; the choice adds the others' difference).
    zero: Vec<f64>,
    /// Per set: the bits of its index.
    choice_cost: Vec<f64>,
}

fn bits(f: u32) -> f32 {
    (f64::from(TOTAL) / f64::from(f)).log2() as f32
}

impl SetTables {
    /// The coding form of `sets`, for a model of `channels` latent channels. Checks what the manifest
    /// reader checked (so a hand-built [`TableSets`] cannot make coding panic).
    pub fn new(sets: &TableSets, channels: usize) -> Result<SetTables, String> {
        let count = sets.count as usize;
        if count == 0 || sets.tables.len() != count * channels {
            return Err(format!(
                "{} tables for {count} sets of {channels} channels",
                sets.tables.len()
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
        let n = sets.tables.len();
        let mut mins = Vec::with_capacity(n);
        let mut starts = Vec::with_capacity(n + 1);
        let mut cum = Vec::new();
        let mut cost = Vec::new();
        for (i, t) in sets.tables.iter().enumerate() {
            let a = cum.len();
            starts.push(a as u32);
            mins.push(t.min);
            push_cum(t.min, t.freqs, t.escape, &mut cum)
                .map_err(|e| format!("tables[{i}]: {e}"))?;
            for w in cum[a..].windows(2) {
                cost.push(bits(w[1] - w[0]));
            }
            // The escape's cost includes its 16 raw bits; the last cost slot pads `cost` to `cum`'s length.
            let esc = cost.len() - 1;
            cost[esc] += 16.0;
            cost.push(0.0);
        }
        starts.push(cum.len() as u32);
        let mut me = SetTables {
            channels,
            count,
            choice,
            mins,
            starts,
            cum,
            cost,
            zero: Vec::new(),
            choice_cost: Vec::new(),
        };
        me.zero = (0..count)
            .map(|k| (0..channels).map(|c| f64::from(me.cost_of(k, c, 0))).sum())
            .collect();
        let cv = me.choice.view();
        me.choice_cost = (0..count as i32)
            .map(|k| {
                cv.symbol_of(k)
                    .map_or(f64::INFINITY, |(_, f)| f64::from(bits(f)))
            })
            .collect();
        Ok(me)
    }

    fn view(&self, k: usize, c: usize) -> TableView<'_> {
        let t = k * self.channels + c;
        TableView {
            min: self.mins[t],
            cum: &self.cum[self.starts[t] as usize..self.starts[t + 1] as usize],
        }
    }

    /// Bits of value `v` in set `k`'s table of channel `c`.
    fn cost_of(&self, k: usize, c: usize, v: i32) -> f32 {
        let t = k * self.channels + c;
        let (a, b) = (self.starts[t] as usize, self.starts[t + 1] as usize);
        let len = b - a - 2;
        let i = i64::from(v) - i64::from(self.mins[t]);
        let at = if i >= 0 && (i as usize) < len {
            i as usize
        } else {
            len
        };
        self.cost[a + at]
    }

    /// The set that codes `q` (one image's `C` values) in the fewest bits, index included; the lowest
    /// index of equals.
    pub fn best(&self, q: &[i32]) -> usize {
        let nonzero: Vec<(usize, i32)> = q
            .iter()
            .enumerate()
            .filter(|&(_, &v)| v != 0)
            .map(|(c, &v)| (c, v))
            .collect();
        let mut best = (f64::INFINITY, 0);
        for k in 0..self.count {
            let mut b = self.zero[k] + self.choice_cost[k];
            for &(c, v) in &nonzero {
                b += f64::from(self.cost_of(k, c, v) - self.cost_of(k, c, 0));
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
        for (c, &v) in one.iter().enumerate() {
            enc.encode_view(sets.view(k, c), v);
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
                if !(0..sets.count as i32).contains(&k) {
                    return Err(DecodeError(format!(
                        "image {i} of the record names table set {k}, but the level has {} (0..={})",
                        sets.count,
                        sets.count - 1
                    )));
                }
                let k = k as usize;
                ks.push(k);
                for ch in 0..c {
                    out.push(dec.decode_view(sets.view(k, ch))?);
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
        let s = TableSets {
            count: 2,
            choice: Table {
                min: 0,
                freqs: vec![30000, 35535],
                escape: 1,
            },
            tables,
        };
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
    fn a_set_index_past_the_sets_is_refused() {
        let s = sets();
        // Index 2 escapes from the choice table (0..=1): a file no encoder writes.
        let mut p = Vec::new();
        let mut enc = RangeEncoder::new(&mut p);
        enc.encode_value(&s.choice, 2);
        for _ in 0..3 {
            enc.encode_view(s.view(0, 0), 0);
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
