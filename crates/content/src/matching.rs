//! Literal string matching over UTF-16 views. Case-insensitive comparison
//! folds ASCII letters only; every other unit, non-ASCII letters included,
//! compares exactly (a documented limit: no Unicode case tables in the kernel).
//!
//! Work is linear in the value plus the pattern, counted on the [`Meter`]:
//! `equals`, `starts_with` and `ends_with` compare at most the pattern's
//! units; `contains` filters positions on the pattern's first and last units,
//! verifies candidates, and once verification has cost more than the value's
//! and the pattern's length together (only a value built against the
//! pattern gets there) finishes with Knuth-Morris-Pratt from where it stood:
//! at most [`contains_cost`] units in all. No allocation: the pattern and its
//! border table live on the stack, bounded by [`MAX_PATTERN_UNITS`].

use crate::anchor::fold;
use crate::format::MAX_PATTERN_UNITS;
use crate::meter::Meter;
use ringfence_wire::Text;

/// The most work units `contains` spends on a value of `value_units` and a
/// pattern of `pattern_units` (at most [`MAX_PATTERN_UNITS`]): the filter
/// (one per position), verification (its allowance, `value + pattern`, plus
/// the one compare that overran it: at most `pattern`), the border table (at
/// most 2 × `pattern`) and the Knuth-Morris-Pratt scan (at most 2 × `value`).
pub const fn contains_cost(value_units: u64, pattern_units: u64) -> u64 {
    value_units.saturating_mul(4).saturating_add(pattern_units.saturating_mul(4))
}

#[inline(always)]
fn same(a: u16, b: u16, fold_case: bool) -> bool {
    if fold_case { fold(a) == fold(b) } else { a == b }
}

/// The pattern's units in `buf`, folded when `fold_case`; `None` when it does
/// not fit (only possible in content that skipped validation).
fn load<'b>(pattern: Text<'_>, fold_case: bool, buf: &'b mut [u16; MAX_PATTERN_UNITS]) -> Option<&'b [u16]> {
    let out = buf.get_mut(..pattern.len())?;
    for (slot, unit) in out.iter_mut().zip(pattern.units()) {
        *slot = if fold_case { fold(unit) } else { unit };
    }
    Some(out)
}

/// Compares `value[at..at + p.len()]` with the loaded pattern `p`: whether
/// it is equal, and how many units were compared (one past the first
/// difference, or the whole pattern).
#[inline]
fn equal_at(value: Text<'_>, at: usize, p: &[u16], fold_case: bool) -> (bool, usize) {
    if let Some(v) = value.as_wide() {
        let Some(window) = at.checked_add(p.len()).and_then(|end| v.get(at..end)) else {
            return (false, 0);
        };
        return match window.iter().zip(p).position(|(&a, &b)| !same(a, b, fold_case)) {
            Some(k) => (false, k.wrapping_add(1)),
            None => (true, p.len()),
        };
    }
    if at.checked_add(p.len()).is_none_or(|end| end > value.len()) {
        return (false, 0);
    }
    let differs =
        |(k, &b): (usize, &u16)| value.unit(at.wrapping_add(k)).is_none_or(|a| !same(a, b, fold_case));
    match p.iter().enumerate().position(differs) {
        Some(k) => (false, k.wrapping_add(1)),
        None => (true, p.len()),
    }
}

/// Whether `value[at..]` starts with `pattern`, unit by unit: the path for
/// patterns too long to load, which only unvalidated content can have. It
/// compares at most `value.len() - at` units.
fn equal_at_slow(value: Text<'_>, at: usize, pattern: Text<'_>, fold_case: bool, meter: &mut Meter) -> bool {
    if at.checked_add(pattern.len()).is_none_or(|end| end > value.len()) {
        return false;
    }
    let mut compared = 0usize;
    let equal = (0..pattern.len()).all(|k| {
        compared = compared.wrapping_add(1);
        match (value.unit(at.wrapping_add(k)), pattern.unit(k)) {
            (Some(a), Some(b)) => same(a, b, fold_case),
            _ => false,
        }
    });
    meter.charge_usize(compared);
    equal
}

fn compare_at(value: Text<'_>, at: usize, pattern: Text<'_>, fold_case: bool, meter: &mut Meter) -> bool {
    let mut buf = [0u16; MAX_PATTERN_UNITS];
    match load(pattern, fold_case, &mut buf) {
        Some(p) => {
            let (equal, compared) = equal_at(value, at, p, fold_case);
            meter.charge_usize(compared);
            equal
        }
        None => equal_at_slow(value, at, pattern, fold_case, meter),
    }
}

pub(crate) fn equals(value: Text<'_>, pattern: Text<'_>, fold_case: bool, meter: &mut Meter) -> bool {
    value.len() == pattern.len() && compare_at(value, 0, pattern, fold_case, meter)
}

pub(crate) fn starts_with(value: Text<'_>, pattern: Text<'_>, fold_case: bool, meter: &mut Meter) -> bool {
    compare_at(value, 0, pattern, fold_case, meter)
}

pub(crate) fn ends_with(value: Text<'_>, pattern: Text<'_>, fold_case: bool, meter: &mut Meter) -> bool {
    match value.len().checked_sub(pattern.len()) {
        Some(at) => compare_at(value, at, pattern, fold_case, meter),
        None => false,
    }
}

/// Whether `value` contains `pattern`. A pattern longer than
/// [`MAX_PATTERN_UNITS`] (only in content that skipped validation) is no match.
pub(crate) fn contains(value: Text<'_>, pattern: Text<'_>, fold_case: bool, meter: &mut Meter) -> bool {
    if value.len() < pattern.len() {
        return false;
    }
    if pattern.is_empty() {
        return true;
    }
    let mut buf = [0u16; MAX_PATTERN_UNITS];
    let Some(p) = load(pattern, fold_case, &mut buf) else { return false };
    let mut search = Search::new(value.len(), p.len());
    match value.as_wide() {
        Some(v) => contains_wide(v, p, fold_case, &mut search, meter),
        None => search.from(value, 0, p, fold_case, meter),
    }
}

/// The verification allowance of one `contains`.
struct Search {
    allowance: usize,
}

impl Search {
    fn new(value_units: usize, pattern_units: usize) -> Self {
        Search { allowance: value_units.saturating_add(pattern_units) }
    }

    /// Verifies the pattern at `at`; `None` while the allowance lasts and
    /// there is no match, `Some(found)` once the answer is known.
    #[inline]
    fn verify(
        &mut self,
        value: Text<'_>,
        at: usize,
        p: &[u16],
        fold_case: bool,
        meter: &mut Meter,
    ) -> Option<bool> {
        let (equal, compared) = equal_at(value, at, p, fold_case);
        meter.charge_usize(compared);
        if equal {
            return Some(true);
        }
        self.allowance = self.allowance.saturating_sub(compared);
        if self.allowance == 0 {
            // Every start before `at + 1` has been ruled out.
            return Some(kmp(value, at.saturating_add(1), p, fold_case, meter));
        }
        None
    }

    /// Verifies every start from `first` on.
    fn from(&mut self, value: Text<'_>, first: usize, p: &[u16], fold_case: bool, meter: &mut Meter) -> bool {
        let starts = value.len().saturating_add(1).saturating_sub(p.len());
        for at in first..starts {
            if let Some(found) = self.verify(value, at, p, fold_case, meter) {
                return found;
            }
        }
        false
    }
}

/// Border lengths of `p` (the longest proper prefix of `p[..=i]` that is also
/// its suffix), at most 2 × `p.len()` steps. `p` is at most
/// [`MAX_PATTERN_UNITS`] long, so every border fits a `u8`.
fn borders(p: &[u16], meter: &mut Meter) -> [u8; MAX_PATTERN_UNITS] {
    let mut border = [0u8; MAX_PATTERN_UNITS];
    let mut k = 0usize;
    for (i, &c) in p.iter().enumerate().skip(1) {
        meter.charge(1);
        while k > 0 && p.get(k) != Some(&c) {
            meter.charge(1);
            k = border.get(k.wrapping_sub(1)).map_or(0, |&b| usize::from(b));
        }
        if p.get(k) == Some(&c) {
            k = k.wrapping_add(1);
        }
        if let Some(slot) = border.get_mut(i) {
            *slot = u8::try_from(k).unwrap_or(0);
        }
    }
    border
}

/// Knuth-Morris-Pratt over `value[first..]`: at most 2 × the units scanned.
fn kmp(value: Text<'_>, first: usize, p: &[u16], fold_case: bool, meter: &mut Meter) -> bool {
    let border = borders(p, meter);
    let m = p.len();
    let mut k = 0usize;
    let mut step = |unit: u16| {
        let c = if fold_case { fold(unit) } else { unit };
        meter.charge(1);
        while k > 0 && p.get(k) != Some(&c) {
            meter.charge(1);
            k = border.get(k.wrapping_sub(1)).map_or(0, |&b| usize::from(b));
        }
        if p.get(k) == Some(&c) {
            k = k.wrapping_add(1);
        }
        k == m
    };
    match value.as_wide() {
        Some(v) => v.get(first..).unwrap_or(&[]).iter().any(|&u| step(u)),
        None => value.units().skip(first).any(step),
    }
}

/// Positions tested per filter block.
const BLOCK: usize = 32;

/// `fold` without a branch, so that the filter below vectorises.
#[inline(always)]
fn fold_lanes(unit: u16) -> u16 {
    unit | (u16::from(unit.wrapping_sub(0x41) < 26) << 5)
}

/// Whether some position `k` has `heads[k]` and `tails[k]` equal to the
/// pattern's first and last units: an OR-reduction the compiler vectorises.
#[inline(always)]
fn block_hit<const FOLD: bool>(heads: &[u16; BLOCK], tails: &[u16; BLOCK], first: u16, last: u16) -> bool {
    heads.iter().zip(tails).fold(false, |any, (&a, &b)| {
        let (a, b) = if FOLD { (fold_lanes(a), fold_lanes(b)) } else { (a, b) };
        any | ((a == first) & (b == last))
    })
}

/// Substring search on a slice: a branch-free filter on the pattern's first
/// and last units over blocks of positions, then a full compare where both
/// match, within the search's allowance.
fn contains_wide(v: &[u16], p: &[u16], fold_case: bool, search: &mut Search, meter: &mut Meter) -> bool {
    let (Some(&first), Some(&last)) = (p.first(), p.last()) else { return true };
    let tail = p.len().saturating_sub(1);
    let Some(starts) = v.len().checked_sub(tail) else { return false };
    let heads = v.get(..starts).unwrap_or(&[]);
    let tails = v.get(tail..).unwrap_or(&[]);
    let text = Text::wide(v);
    let mut base = 0usize;
    let mut head_blocks = heads.chunks_exact(BLOCK);
    for (h, t) in (&mut head_blocks).zip(tails.chunks_exact(BLOCK)) {
        let (Ok(h), Ok(t)) = (<&[u16; BLOCK]>::try_from(h), <&[u16; BLOCK]>::try_from(t)) else { break };
        meter.charge_usize(BLOCK);
        let hit = if fold_case {
            block_hit::<true>(h, t, first, last)
        } else {
            block_hit::<false>(h, t, first, last)
        };
        let end = base.wrapping_add(BLOCK);
        if hit {
            for at in base..end {
                if let Some(found) = search.verify(text, at, p, fold_case, meter) {
                    return found;
                }
            }
        }
        base = end;
    }
    search.from(text, base, p, fold_case, meter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::vec;
    use std::vec::Vec;

    fn w(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    fn meter() -> Meter {
        Meter::new(u64::MAX)
    }

    fn le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn string_operators_agree_on_wide_and_byte_views() {
        let value = r"C:\Windows\System32\svchost.exe";
        let cases: [(&str, [bool; 4]); 5] = [
            (r"c:\windows\system32\SVCHOST.EXE", [true, true, true, true]),
            (r"C:\Windows", [false, true, false, true]),
            ("SVCHOST.exe", [false, false, true, true]),
            ("system32", [false, false, false, true]),
            ("", [false, true, true, true]),
        ];
        let (vw, vb) = (w(value), le(value));
        for (pattern, [eq, sw, ew, ct]) in cases {
            let (pw, pb) = (w(pattern), le(pattern));
            let views = [
                (Text::wide(&vw), Text::wide(&pw)),
                (Text::from_le_bytes(&vb).unwrap(), Text::from_le_bytes(&pb).unwrap()),
                (Text::wide(&vw), Text::from_le_bytes(&pb).unwrap()),
            ];
            for (v, p) in views {
                assert_eq!(equals(v, p, true, &mut meter()), eq, "{pattern} equals");
                assert_eq!(starts_with(v, p, true, &mut meter()), sw, "{pattern} starts_with");
                assert_eq!(ends_with(v, p, true, &mut meter()), ew, "{pattern} ends_with");
                assert_eq!(contains(v, p, true, &mut meter()), ct, "{pattern} contains");
            }
        }
    }

    #[test]
    fn case_sensitive_comparison_distinguishes_ascii_case() {
        let (v, p) = (w("PowerShell.exe"), w("powershell"));
        assert!(!contains(Text::wide(&v), Text::wide(&p), false, &mut meter()));
        assert!(contains(Text::wide(&v), Text::wide(&p), true, &mut meter()));
    }

    #[test]
    fn non_ascii_letters_compare_exactly_even_without_case() {
        let (v, p) = (w("ÄRGER"), w("ärger"));
        assert!(!equals(Text::wide(&v), Text::wide(&p), true, &mut meter()));
    }

    #[test]
    fn an_empty_value_contains_only_the_empty_pattern() {
        let (e, p) = (w(""), w("a"));
        assert!(contains(Text::wide(&e), Text::wide(&e), false, &mut meter()));
        assert!(!contains(Text::wide(&e), Text::wide(&p), false, &mut meter()));
    }

    fn naive(v: &[u16], p: &[u16], fold_case: bool) -> bool {
        p.is_empty() || v.windows(p.len()).any(|w| w.iter().zip(p).all(|(&a, &b)| same(a, b, fold_case)))
    }

    #[test]
    fn a_value_built_against_the_pattern_costs_at_most_the_linear_bound() {
        // Every position passes the first/last filter and verifies 128 units
        // before it fails: 4 million compares the old matcher made.
        let pattern: Vec<u16> = w(&format!("{}b{}", "a".repeat(127), "a".repeat(128)));
        let n = 32767usize;
        let without = vec![u16::from(b'a'); n];
        let mut with = vec![u16::from(b'A'); n - pattern.len()];
        with.extend_from_slice(&pattern);
        let bytes: Vec<u8> = without.iter().flat_map(|u| u.to_le_bytes()).collect();
        let cases = [
            (Text::wide(&without), false),
            (Text::wide(&with), true),
            (Text::from_le_bytes(&bytes).unwrap(), false),
        ];
        let bound = contains_cost(n as u64, pattern.len() as u64);
        for (value, expected) in cases {
            let mut m = meter();
            assert_eq!(contains(value, Text::wide(&pattern), true, &mut m), expected);
            assert!(m.used() <= bound, "{} units, bound {bound}", m.used());
            assert!(m.used() >= n as u64, "the whole value was looked at");
        }
    }

    #[test]
    fn a_pattern_longer_than_the_limit_is_no_match_at_no_cost() {
        let value = vec![u16::from(b'a'); 20_000];
        let pattern = vec![u16::from(b'a'); MAX_PATTERN_UNITS + 1];
        let mut m = meter();
        assert!(!contains(Text::wide(&value), Text::wide(&pattern), false, &mut m));
        assert_eq!(m.used(), 0);
    }

    proptest::proptest! {
        #[test]
        fn contains_agrees_with_the_definition_within_its_cost(
            v in proptest::collection::vec(proptest::sample::select(vec![0x61u16, 0x41, 0x62, 0xE4, 0xC4]), 0..300),
            p in proptest::collection::vec(proptest::sample::select(vec![0x61u16, 0x41, 0x62, 0xE4]), 0..40),
            fold_case: bool,
        ) {
            let bytes: Vec<u8> = v.iter().flat_map(|u| u.to_le_bytes()).collect();
            let expected = naive(&v, &p, fold_case);
            for value in [Text::wide(&v), Text::from_le_bytes(&bytes).unwrap()] {
                let mut m = meter();
                proptest::prop_assert_eq!(contains(value, Text::wide(&p), fold_case, &mut m), expected);
                proptest::prop_assert!(m.used() <= contains_cost(v.len() as u64, p.len() as u64));
            }
            // The fallback alone, from the start.
            let folded: Vec<u16> = p.iter().map(|&u| if fold_case { fold(u) } else { u }).collect();
            if !p.is_empty() {
                let mut m = meter();
                proptest::prop_assert_eq!(kmp(Text::wide(&v), 0, &folded, fold_case, &mut m), expected);
                proptest::prop_assert!(m.used() <= 2 * (v.len() + p.len()) as u64);
            }
        }
    }
}
