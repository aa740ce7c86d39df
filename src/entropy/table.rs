//! One latent channel's integer table, ready for coding.

use super::{Q_MAX, Q_MIN, TOTAL};

/// One latent channel's table, ready for coding: cumulative frequencies including the escape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SymbolTable {
    min: i32,
    /// `cum[i]` for `i in 0..=len+1`: `cum[len]` starts the escape, `cum[len + 1] = 65536`.
    cum: Vec<u32>,
}

impl SymbolTable {
    /// Builds a table from the manifest's `(min, freqs, escape)`; checks the rules of `model-bundle.md`
    /// (no zero frequency, sum 65536, range within `i16`).
    pub fn new(min: i32, freqs: &[u16], escape: u16) -> Result<SymbolTable, String> {
        let mut cum = Vec::with_capacity(freqs.len() + 2);
        push_cum(min, freqs, escape, &mut cum)?;
        Ok(SymbolTable { min, cum })
    }

    /// The table as a borrowed view (what the coders work on).
    pub(crate) fn view(&self) -> TableView<'_> {
        TableView {
            min: self.min,
            cum: &self.cum,
        }
    }

    /// Number of in-range symbols.
    pub fn len(&self) -> usize {
        self.cum.len() - 2
    }

    /// Never true (a table has at least one in-range symbol); for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of symbol 0.
    pub fn min(&self) -> i32 {
        self.min
    }

    /// `(cum, freq)` of the in-range symbol of `q`, or `None` when `q` needs the escape.
    #[cfg(test)]
    pub(crate) fn symbol_of(&self, q: i32) -> Option<(u32, u32)> {
        self.view().symbol_of(q)
    }

    /// The symbol index `s` with `cum[s] <= x < cum[s+1]` for `x < 65536`, and its `(cum, freq)`.
    #[cfg(test)]
    pub(crate) fn lookup(&self, x: u32) -> (usize, u32, u32) {
        self.view().lookup(x)
    }
}

/// Checks a table's `(min, freqs, escape)` by the rules of `model-bundle.md` (no zero frequency, sum
/// 65536, range within `i16`) and appends its `len + 2` cumulative frequencies to `cum` (on an error,
/// `cum` is unchanged).
pub(crate) fn push_cum(
    min: i32,
    freqs: &[u16],
    escape: u16,
    cum: &mut Vec<u32>,
) -> Result<(), String> {
    check_table(min, freqs, escape)?;
    extend_cum(freqs, escape, cum);
    Ok(())
}

/// The rules of [`push_cum`], without building anything.
pub(crate) fn check_table(min: i32, freqs: &[u16], escape: u16) -> Result<(), String> {
    if freqs.is_empty() {
        return Err("table has no frequencies".into());
    }
    if freqs.contains(&0) || escape == 0 {
        return Err("table has a zero frequency".into());
    }
    let max = i64::from(min) + freqs.len() as i64 - 1;
    if i64::from(min) < i64::from(Q_MIN) || max > i64::from(Q_MAX) {
        return Err(format!(
            "table range {min}..={max} is outside -32768..=32767"
        ));
    }
    // At most 65535 frequencies of at most 65535 each: no overflow in 64 bits.
    let sum = freqs.iter().map(|&f| u64::from(f)).sum::<u64>() + u64::from(escape);
    if sum != u64::from(TOTAL) {
        return Err(format!(
            "frequencies plus escape sum to {sum}, expected 65536"
        ));
    }
    Ok(())
}

/// Appends the `len + 2` cumulative frequencies of a table that [`check_table`] accepted.
pub(crate) fn extend_cum(freqs: &[u16], escape: u16, cum: &mut Vec<u32>) {
    let mut acc = 0u32;
    for &f in freqs {
        cum.push(acc);
        acc += u32::from(f);
    }
    cum.push(acc);
    cum.push(acc + u32::from(escape));
}

/// A table's cumulative frequencies, borrowed: `cum[i]` for `i in 0..=len+1`, `cum[len]` starting the
/// escape and `cum[len + 1] = 65536` (a [`SymbolTable`]'s, or one of many in a flat array).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TableView<'a> {
    pub(crate) min: i32,
    pub(crate) cum: &'a [u32],
}

impl TableView<'_> {
    /// Number of in-range symbols.
    pub(crate) fn len(&self) -> usize {
        self.cum.len() - 2
    }

    /// `(cum, freq)` of the in-range symbol of `q`, or `None` when `q` needs the escape.
    pub(crate) fn symbol_of(&self, q: i32) -> Option<(u32, u32)> {
        let i = i64::from(q) - i64::from(self.min);
        if i >= 0 && (i as usize) < self.len() {
            let i = i as usize;
            Some((self.cum[i], self.cum[i + 1] - self.cum[i]))
        } else {
            None
        }
    }

    /// `(cum, freq)` of the escape symbol.
    pub(crate) fn escape(&self) -> (u32, u32) {
        let len = self.len();
        (self.cum[len], TOTAL - self.cum[len])
    }

    /// The symbol index `s` with `cum[s] <= x < cum[s+1]` for `x < 65536`, and its `(cum, freq)`.
    pub(crate) fn lookup(&self, x: u32) -> (usize, u32, u32) {
        // partition_point: first index whose cum > x; cum[0] = 0 <= x, so the result is >= 1.
        let s = self.cum.partition_point(|&c| c <= x).saturating_sub(1);
        let s = s.min(self.len());
        (s, self.cum[s], self.cum[s + 1] - self.cum[s])
    }
}
