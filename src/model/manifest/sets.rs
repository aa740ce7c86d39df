//! Table sets (spec/model-bundle.md section 7): a level of a fixed-size flat model may code each image
//! with one of `K` sets of per-latent tables, the encoder choosing the set and the file carrying its
//! index (coded with the level's `choice` table) before the image's latent. The `K * C` tables are one
//! packed string (per table `i16 min`, `u16 len`, `u16 escape`, `len` times `u16` freqs, little-endian, in
//! base64), read into flat arrays: tens of thousands of tables, not tens of thousands of allocations.

use serde::ser::{SerializeStruct, Serializer};
use serde::{Deserialize, Serialize};

use std::sync::OnceLock;

use super::check::{field_what, Ctx, Int, RawTable};
use super::packed::{base64_decode, base64_encode};
use super::{Table, MAX_TABLE_LEN, PRECISION_BITS};
use crate::error::Result;

/// Most sets a level may have.
pub const MAX_SETS: u32 = 256;

/// `levels[l].sets`, as in the JSON.
#[derive(Deserialize)]
pub(super) struct RawSets {
    count: Int,
    choice: RawTable,
    tables: String,
}

/// One table of a [`TableList`], borrowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableRef<'a> {
    /// The quantized value of symbol index 0.
    pub min: i32,
    /// Frequencies of the in-range symbols; none is zero.
    pub freqs: &'a [u16],
    /// Frequency of the escape symbol.
    pub escape: u16,
}

/// Many tables in flat arrays: table `i` is `mins[i]`, `escapes[i]` and `freqs[starts[i]..starts[i + 1]]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableList {
    mins: Vec<i32>,
    escapes: Vec<u16>,
    starts: Vec<u32>,
    freqs: Vec<u16>,
}

impl TableList {
    /// The number of tables.
    pub fn len(&self) -> usize {
        self.mins.len()
    }

    /// True when there is no table.
    pub fn is_empty(&self) -> bool {
        self.mins.is_empty()
    }

    /// Table `i` (`i < len()`).
    pub fn get(&self, i: usize) -> TableRef<'_> {
        TableRef {
            min: self.mins[i],
            freqs: &self.freqs[self.starts[i] as usize..self.starts[i + 1] as usize],
            escape: self.escapes[i],
        }
    }

    /// Every table in order.
    pub fn iter(&self) -> impl Iterator<Item = TableRef<'_>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Appends a table (unchecked: for building lists in tests and tools; a manifest's are checked).
    pub fn push(&mut self, t: TableRef<'_>) {
        if self.starts.is_empty() {
            self.starts.push(0);
        }
        self.mins.push(t.min);
        self.escapes.push(t.escape);
        self.freqs.extend_from_slice(t.freqs);
        self.starts.push(self.freqs.len() as u32);
    }

    /// The packed bytes (before base64).
    fn packed(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len() * 6 + self.freqs.len() * 2);
        for t in self.iter() {
            out.extend_from_slice(&(t.min as i16).to_le_bytes());
            out.extend_from_slice(&(t.freqs.len() as u16).to_le_bytes());
            out.extend_from_slice(&t.escape.to_le_bytes());
            for f in t.freqs {
                out.extend_from_slice(&f.to_le_bytes());
            }
        }
        out
    }
}

impl<'a> From<&'a Table> for TableRef<'a> {
    fn from(t: &'a Table) -> TableRef<'a> {
        TableRef {
            min: t.min,
            freqs: &t.freqs,
            escape: t.escape,
        }
    }
}

/// A level's table sets: `count` sets of `C` tables (set-major: set 0's tables for channels 0..C, then set
/// 1's, ...) and the table that codes each image's set index.
#[derive(Debug, Clone)]
pub struct TableSets {
    /// `K`, 1..=[`MAX_SETS`].
    pub count: u32,
    /// The set index's table: `min` 0 and exactly `K` frequencies.
    pub choice: Table,
    /// The `K * C` tables, decoded (or, read with [`super::Manifest::from_json_deferred`], decoded on first
    /// use; `Err` holds the error's `what`).
    list: OnceLock<std::result::Result<TableList, String>>,
    deferred: Option<Box<Deferred>>,
}

/// What decoding a deferred [`TableSets`] needs.
#[derive(Debug, Clone)]
struct Deferred {
    text: String,
    want: usize,
    bundle: String,
    field: String,
}

impl TableSets {
    /// Sets made of decoded tables (`K * C` of them; the manifest reader checks the counts, this does
    /// not).
    pub fn new(count: u32, choice: Table, tables: TableList) -> TableSets {
        TableSets {
            count,
            choice,
            list: OnceLock::from(Ok(tables)),
            deferred: None,
        }
    }

    /// The `K * C` tables, set-major. An error only for a manifest read with deferred decoding whose
    /// packed tables break section 7.1's rules (the error [`super::Manifest::from_json`] would give).
    pub fn tables(&self) -> Result<&TableList> {
        let list = self.list.get_or_init(|| match &self.deferred {
            Some(d) => decode(&d.text, &d.field, d.want),
            None => Ok(TableList::default()),
        });
        list.as_ref().map_err(|what| crate::Error::Model {
            bundle: self
                .deferred
                .as_ref()
                .map(|d| d.bundle.clone())
                .unwrap_or_default(),
            what: what.clone(),
        })
    }
}

impl PartialEq for TableSets {
    fn eq(&self, other: &TableSets) -> bool {
        fn list(s: &TableSets) -> std::result::Result<&TableList, String> {
            s.tables().map_err(|e| e.to_string())
        }
        self.count == other.count && self.choice == other.choice && list(self) == list(other)
    }
}

impl Eq for TableSets {}

impl Serialize for TableSets {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("TableSets", 3)?;
        st.serialize_field("count", &self.count)?;
        st.serialize_field("choice", &self.choice)?;
        let text = match (self.tables(), &self.deferred) {
            (Ok(list), _) => base64_encode(&list.packed()),
            // Tables that do not decode are written back as they were read.
            (Err(_), Some(d)) => d.text.clone(),
            (Err(_), None) => String::new(),
        };
        st.serialize_field("tables", &text)?;
        st.end()
    }
}

/// Checks `levels[l].sets` (`at`) of a model of `c` latent channels: section 7.1's rules (its packed
/// tables' on first use, with [`Ctx::defer_sets`]).
pub(super) fn sets(ctx: &Ctx<'_>, raw: RawSets, at: &str, c: usize) -> Result<TableSets> {
    let count_field = format!("{at}.count");
    let k = ctx.int(raw.count, &count_field, 1, i64::from(MAX_SETS))? as u32;
    let choice_field = format!("{at}.choice");
    let choice = ctx.one_table(raw.choice, &choice_field)?;
    if choice.min != 0 || choice.freqs.len() != k as usize {
        return Err(ctx.err(
            &choice_field,
            format_args!(
                "has min {} and {} frequencies, expected min 0 and {k} (one per set of {count_field})",
                choice.min,
                choice.freqs.len()
            ),
        ));
    }
    let field = format!("{at}.tables");
    let want = k as usize * c;
    if ctx.defer_sets {
        return Ok(TableSets {
            count: k,
            choice,
            list: OnceLock::new(),
            deferred: Some(Box::new(Deferred {
                text: raw.tables,
                want,
                bundle: ctx.bundle.to_string(),
                field,
            })),
        });
    }
    let tables = decode(&raw.tables, &field, want).map_err(|what| crate::Error::Model {
        bundle: ctx.bundle.to_string(),
        what,
    })?;
    Ok(TableSets::new(k, choice, tables))
}

/// The `want` tables of packed text `text` (field `field`), or the error's `what`.
fn decode(text: &str, field: &str, want: usize) -> std::result::Result<TableList, String> {
    let bytes = base64_decode(text.as_bytes()).map_err(|e| field_what(field, e))?;
    unpack(&bytes, want).map_err(|(i, what)| field_what(&format!("{field}[{i}]"), what))
}

/// Exactly `want` packed tables filling `bytes`, each by section 2's rules; an error names the table
/// index.
fn unpack(bytes: &[u8], want: usize) -> std::result::Result<TableList, (usize, String)> {
    let mut list = TableList {
        mins: Vec::with_capacity(want),
        escapes: Vec::with_capacity(want),
        starts: Vec::with_capacity(want + 1),
        freqs: Vec::with_capacity(bytes.len() / 2),
    };
    list.starts.push(0);
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let mut at = 0usize;
    for i in 0..want {
        if bytes.len() - at < 6 {
            return Err((
                i,
                format!(
                    "is missing: the packed tables end after {i} of the {want} (K x latent.channels)"
                ),
            ));
        }
        let min = i32::from(u16_at(at) as i16);
        let len = usize::from(u16_at(at + 2));
        let escape = u16_at(at + 4);
        at += 6;
        if len == 0 || len > MAX_TABLE_LEN {
            return Err((
                i,
                format!("has {len} frequencies, expected 1..={MAX_TABLE_LEN}"),
            ));
        }
        let top = i64::from(min) + len as i64 - 1;
        if top > 32767 {
            return Err((
                i,
                format!(
                    "has {len} frequencies from min {min}, so its top value {top} is over 32767"
                ),
            ));
        }
        if bytes.len() - at < 2 * len {
            return Err((
                i,
                format!(
                    "is cut short: {len} frequencies, {} bytes left",
                    bytes.len() - at
                ),
            ));
        }
        if escape == 0 {
            return Err((i, "has escape 0, expected 1..=65535".into()));
        }
        let before = list.freqs.len();
        list.freqs.extend(
            bytes[at..at + 2 * len]
                .chunks_exact(2)
                .map(|b| u16::from_le_bytes([b[0], b[1]])),
        );
        let fs = &list.freqs[before..];
        if let Some(j) = fs.iter().position(|&f| f == 0) {
            return Err((i, format!("has freqs[{j}] = 0, expected 1..=65535")));
        }
        let sum = u64::from(escape) + fs.iter().map(|&f| u64::from(f)).sum::<u64>();
        at += 2 * len;
        let total = 1u64 << PRECISION_BITS;
        if sum != total {
            return Err((
                i,
                format!("has sum(freqs) + escape = {sum}, expected exactly {total} (2^{PRECISION_BITS})"),
            ));
        }
        list.mins.push(min);
        list.escapes.push(escape);
        list.starts.push(list.freqs.len() as u32);
    }
    if at != bytes.len() {
        return Err((
            want,
            format!(
                "is {} bytes of no table: the {want} tables (K x latent.channels) end before them",
                bytes.len() - at
            ),
        ));
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(tables: &[Table]) -> TableList {
        let mut l = TableList::default();
        for t in tables {
            l.push(t.into());
        }
        l
    }

    #[test]
    fn packed_tables_round_trip_and_are_checked() {
        let a = Table {
            min: -2,
            freqs: vec![100, 65000, 435],
            escape: 1,
        };
        let b = Table {
            min: 5,
            freqs: vec![65535],
            escape: 1,
        };
        let l = list(&[a.clone(), b.clone()]);
        let bytes = l.packed();
        assert_eq!(bytes.len(), 6 + 6 + 6 + 2);
        assert_eq!(unpack(&bytes, 2).unwrap(), l);
        assert_eq!(l.get(0), TableRef::from(&a));
        assert_eq!(l.get(1), TableRef::from(&b));
        // Too few, too many, cut short, bad sums, zero frequencies, ranges.
        assert_eq!(unpack(&bytes, 3).unwrap_err().0, 2);
        assert!(unpack(&bytes, 1).unwrap_err().1.contains("of no table"));
        assert!(unpack(&bytes[..bytes.len() - 1], 2)
            .unwrap_err()
            .1
            .contains("cut short"));
        let mut bad = bytes.clone();
        bad[6] = 0; // a's first frequency 100 -> 0
        assert!(unpack(&bad, 2).unwrap_err().1.contains("freqs[0] = 0"));
        let mut bad = bytes.clone();
        bad[7] = 1; // 100 -> 356: the sum is off
        assert!(unpack(&bad, 2).unwrap_err().1.contains("sum(freqs)"));
        let mut bad = bytes.clone();
        bad[4] = 0; // escape 0
        assert!(unpack(&bad, 2).unwrap_err().1.contains("escape 0"));
        let top = list(&[Table {
            min: 32767,
            freqs: vec![30000, 35535],
            escape: 1,
        }]);
        assert!(unpack(&top.packed(), 1)
            .unwrap_err()
            .1
            .contains("over 32767"));
    }
}
