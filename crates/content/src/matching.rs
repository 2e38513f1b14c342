//! Literal string matching over UTF-16 views. Case-insensitive comparison
//! folds ASCII letters only; every other unit, non-ASCII letters included,
//! compares exactly (a documented limit: no Unicode case tables in the kernel).
//!
//! Work is linear in the value plus the pattern, counted on the [`Meter`]:
//! `equals`, `starts_with` and `ends_with` compare at most the pattern's
//! units; `contains` runs Two-Way behind a skip loop on two rare units
//! ([`crate::two_way`]): at most [`contains_cost`] units whatever the text.
//! No allocation: the pattern lives on the stack, bounded by
//! [`MAX_PATTERN_UNITS`].

use crate::anchor::{self, fold};
use crate::format::MAX_PATTERN_UNITS;
use crate::meter::Meter;
use crate::two_way::{self, LeUnits, Needle};
use ringfence_wire::Text;

/// The most work units `contains` spends on a value of `value_units` and a
/// pattern of `pattern_units` (at most [`MAX_PATTERN_UNITS`]): preparing the
/// pattern (at most 6 × `pattern`: its rare units, two maximal suffixes, the
/// period check), the skip loop (at most 2 × `value` positions tested) and
/// Two-Way's compares (at most 2 × `value`).
pub const fn contains_cost(value_units: u64, pattern_units: u64) -> u64 {
    value_units.saturating_mul(4).saturating_add(pattern_units.saturating_mul(6))
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

/// Whether `value[at..]` starts with `pattern`, unit by unit: the path for a
/// value given as bytes (a decoded record). It
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
    // Pattern strings are byte views into the content: compared where they lie,
    // two bytes per unit, with no copy (this runs for every candidate rule).
    let (equal, compared) = match (value.as_wide(), pattern.as_le_bytes()) {
        (Some(v), Some(p)) => equal_wide_le(v, at, p, fold_case),
        _ => return equal_at_slow(value, at, pattern, fold_case, meter),
    };
    meter.charge_usize(compared);
    equal
}

/// Compares `v[at..at + units]` with the UTF-16LE pattern `p`: whether it is
/// equal, and how many units were compared (one past the first difference, or
/// the whole pattern). Four units to a step, folded at once
/// ([`anchor::fold_word`]); the first differing lane gives the count.
#[inline]
fn equal_wide_le(v: &[u16], at: usize, p: &[u8], fold_case: bool) -> (bool, usize) {
    let units = p.len() / 2;
    let Some(window) = at.checked_add(units).and_then(|end| v.get(at..end)) else {
        return (false, 0);
    };
    let folded = |word: u64| if fold_case { anchor::fold_word(word) } else { word };
    let mut compared = 0usize;
    let mut values = window.chunks_exact(4);
    let mut patterns = p.chunks_exact(8);
    for (value, pattern) in (&mut values).zip(&mut patterns) {
        let a = folded(anchor::lanes([0, 1, 2, 3].map(|k| value.get(k).copied().unwrap_or(0))));
        let b = folded(pattern.try_into().map_or(0, u64::from_le_bytes));
        let differ = a ^ b;
        if differ != 0 {
            let lane = (differ.trailing_zeros() / 16) as usize;
            return (false, compared.wrapping_add(lane).wrapping_add(1));
        }
        compared = compared.wrapping_add(4);
    }
    if values.remainder().is_empty() {
        return (true, units);
    }
    // One to three units left of a pattern of four or more: its last four, overlapping
    // units already compared equal, as one more word. The first differing lane is then
    // past the overlap, so the count is what the unit compare would give.
    if let (Some(value), Some(pattern)) = (window.last_chunk::<4>(), p.last_chunk::<8>()) {
        let differ = folded(anchor::lanes(*value)) ^ folded(u64::from_le_bytes(*pattern));
        if differ == 0 {
            return (true, units);
        }
        let lane = (differ.trailing_zeros() / 16) as usize;
        return (false, units.wrapping_sub(4).wrapping_add(lane).wrapping_add(1));
    }
    // A pattern of one to three units: unit by unit.
    let pairs = patterns
        .remainder()
        .chunks_exact(2)
        .map(|pair| pair.first().zip(pair.get(1)).map_or(0, |(&lo, &hi)| u16::from_le_bytes([lo, hi])));
    match values.remainder().iter().zip(pairs).position(|(&a, b)| !same(a, b, fold_case)) {
        Some(k) => (false, compared.wrapping_add(k).wrapping_add(1)),
        None => (true, units),
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
    if pattern.len() > MAX_PATTERN_UNITS {
        return false;
    }
    // The search's work is known only once it is done: its bound must fit first.
    let bound = contains_cost(value.len() as u64, pattern.len() as u64);
    if !meter.affords(bound) {
        meter.charge(bound);
        return false;
    }
    let mut buf = [0u16; MAX_PATTERN_UNITS];
    let Some(p) = load(pattern, fold_case, &mut buf) else { return false };
    let mut work = 0usize;
    let Some(needle) = Needle::new(p, &mut work) else { return false };
    let found = match (value.as_wide(), value.as_le_bytes(), fold_case) {
        (Some(v), _, true) => two_way::find::<_, true>(v, &needle, &mut work),
        (Some(v), _, false) => two_way::find::<_, false>(v, &needle, &mut work),
        (None, Some(b), true) => two_way::find::<_, true>(LeUnits(b), &needle, &mut work),
        (None, Some(b), false) => two_way::find::<_, false>(LeUnits(b), &needle, &mut work),
        (None, None, _) => false,
    };
    meter.charge_usize(work);
    found
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

    /// What [`equal_wide_le`] must answer, one unit at a time.
    fn equal_reference(v: &[u16], at: usize, p: &[u16], fold_case: bool) -> (bool, usize) {
        let Some(window) = v.get(at..at + p.len()) else { return (false, 0) };
        match window.iter().zip(p).position(|(&a, &b)| !same(a, b, fold_case)) {
            Some(k) => (false, k + 1),
            None => (true, p.len()),
        }
    }

    proptest::proptest! {
        #[test]
        fn the_word_compare_agrees_with_the_unit_compare_and_its_count(
            v in proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 0..40),
            p in proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 0..20),
            at in 0usize..24,
            fold_case: bool,
        ) {
            // As drawn (mostly unequal), then planted at `at` (equal), then with its last unit changed.
            let pb: Vec<u8> = p.iter().flat_map(|u| u.to_le_bytes()).collect();
            proptest::prop_assert_eq!(equal_wide_le(&v, at, &pb, fold_case), equal_reference(&v, at, &p, fold_case));
            let mut planted = v.clone();
            if at + p.len() <= planted.len() {
                planted[at..at + p.len()].copy_from_slice(&p);
                let expected = equal_reference(&planted, at, &p, fold_case);
                proptest::prop_assert_eq!(equal_wide_le(&planted, at, &pb, fold_case), expected);
                proptest::prop_assert!(expected.0);
                // A difference at each position in turn (the overlapping last word included).
                for k in 0..p.len() {
                    let mut changed = planted.clone();
                    changed[at + k] ^= 0x0100;
                    let expected = equal_reference(&changed, at, &p, fold_case);
                    proptest::prop_assert_eq!(equal_wide_le(&changed, at, &pb, fold_case), expected);
                    proptest::prop_assert_eq!(expected, (false, k + 1));
                }
                if let Some(last) = planted.get_mut(at + p.len().saturating_sub(1)).filter(|_| !p.is_empty()) {
                    *last ^= 0x0100;
                    let expected = equal_reference(&planted, at, &p, fold_case);
                    proptest::prop_assert_eq!(equal_wide_le(&planted, at, &pb, fold_case), expected);
                    proptest::prop_assert_eq!(expected, (false, p.len()));
                }
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

    /// Values and patterns over a small alphabet (so that matches and near
    /// matches are frequent): ASCII letters of both cases, a digit, a
    /// backslash, non-ASCII letters whose low byte is an ASCII letter's
    /// (`ġ` U+0121 against `!`, `š` U+0161 against `a`), a surrogate.
    const ALPHABET: [u16; 10] = [0x61, 0x41, 0x62, 0x42, 0x31, 0x5C, 0xE4, 0xC4, 0x0161, 0xD83D];

    fn check(v: &[u16], p: &[u16], fold_case: bool) -> Result<(), proptest::test_runner::TestCaseError> {
        let bytes: Vec<u8> = v.iter().flat_map(|u| u.to_le_bytes()).collect();
        let expected = naive(v, p, fold_case);
        for value in [Text::wide(v), Text::from_le_bytes(&bytes).unwrap()] {
            let mut m = meter();
            proptest::prop_assert_eq!(contains(value, Text::wide(p), fold_case, &mut m), expected);
            proptest::prop_assert!(m.used() <= contains_cost(v.len() as u64, p.len() as u64));
        }
        Ok(())
    }

    proptest::proptest! {
        #[test]
        fn contains_agrees_with_the_definition_within_its_cost(
            v in proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 0..400),
            p in proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 0..40),
            fold_case: bool,
        ) {
            check(&v, &p, fold_case)?;
        }

        #[test]
        fn contains_finds_a_planted_pattern_in_any_case_within_its_cost(
            prefix in proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 0..300),
            p in proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 1..80),
            suffix in proptest::collection::vec(proptest::sample::select(ALPHABET.to_vec()), 0..100),
            flip in proptest::collection::vec(proptest::bool::ANY, 80),
            fold_case: bool,
        ) {
            // The pattern planted with some ASCII letters' case flipped.
            let flip_case = |u: u16| if (0x41..=0x5A).contains(&u) || (0x61..=0x7A).contains(&u) { u ^ 0x20 } else { u };
            let planted = p.iter().zip(&flip).map(|(&u, &f)| if f { flip_case(u) } else { u });
            let v: Vec<u16> = prefix.iter().copied().chain(planted).chain(suffix.iter().copied()).collect();
            check(&v, &p, fold_case)?;
            if fold_case {
                proptest::prop_assert!(contains(Text::wide(&v), Text::wide(&p), true, &mut meter()));
            }
        }

        #[test]
        fn contains_agrees_with_the_definition_on_periodic_text(
            period in proptest::collection::vec(proptest::sample::select(vec![0x61u16, 0x62, 0x41]), 1..6),
            repeats in 1usize..200,
            p in proptest::collection::vec(proptest::sample::select(vec![0x61u16, 0x62, 0x41]), 1..64),
            fold_case: bool,
        ) {
            let v: Vec<u16> = period.iter().copied().cycle().take(period.len() * repeats).collect();
            check(&v, &p, fold_case)?;
        }
    }

    /// Texts built against Two-Way and its skip loop: every position a
    /// candidate, long partial matches, periodic patterns.
    #[test]
    fn hostile_texts_cost_at_most_the_linear_bound() {
        let a = |n: usize| "a".repeat(n);
        let cases = [
            (format!("{}b{}", a(127), a(128)), a(32767)),
            (format!("{}b", a(255)), a(32767)),
            (a(256), format!("{}b", a(255)).repeat(128)),
            (format!("{}b{}", a(127), a(128)), format!("{}b{}", a(127), a(127)).repeat(128)),
            ("ab".repeat(128), "ab".repeat(16383) + "a"),
            (format!("b{}", "ab".repeat(127)) + "c", "ab".repeat(16383)),
        ];
        for (pattern, value) in cases {
            let (p, v) = (w(&pattern), w(&value));
            let expected = naive(&v, &p, true);
            let mut m = meter();
            assert_eq!(contains(Text::wide(&v), Text::wide(&p), true, &mut m), expected);
            let bound = contains_cost(v.len() as u64, p.len() as u64);
            assert!(m.used() <= bound, "{} units, bound {bound}", m.used());
        }
    }
}
