//! Literal string matching over UTF-16 views. Case-insensitive comparison
//! folds ASCII letters only; every other unit, non-ASCII letters included,
//! compares exactly (a documented limit: no Unicode case tables in the kernel).
//! There is no backtracking: `contains` is at most pattern × value compares.

use crate::anchor::fold;
use crate::format::MAX_PATTERN_UNITS;
use ringfence_wire::Text;

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

/// Whether `value[at..at + pattern.len()]` equals the loaded pattern `p`.
#[inline]
fn equal_at(value: Text<'_>, at: usize, p: &[u16], fold_case: bool) -> bool {
    if let Some(v) = value.as_wide() {
        let Some(window) = at.checked_add(p.len()).and_then(|end| v.get(at..end)) else {
            return false;
        };
        return window.iter().zip(p).all(|(&a, &b)| same(a, b, fold_case));
    }
    if at.checked_add(p.len()).is_none_or(|end| end > value.len()) {
        return false;
    }
    p.iter().enumerate().all(|(k, &b)| value.unit(at.wrapping_add(k)).is_some_and(|a| same(a, b, fold_case)))
}

/// Whether `value[at..]` starts with `pattern`, unit by unit: the path for
/// patterns too long to load, which only unvalidated content can have.
fn equal_at_slow(value: Text<'_>, at: usize, pattern: Text<'_>, fold_case: bool) -> bool {
    if at.checked_add(pattern.len()).is_none_or(|end| end > value.len()) {
        return false;
    }
    (0..pattern.len()).all(|k| match (value.unit(at.wrapping_add(k)), pattern.unit(k)) {
        (Some(a), Some(b)) => same(a, b, fold_case),
        _ => false,
    })
}

fn compare_at(value: Text<'_>, at: usize, pattern: Text<'_>, fold_case: bool) -> bool {
    let mut buf = [0u16; MAX_PATTERN_UNITS];
    match load(pattern, fold_case, &mut buf) {
        Some(p) => equal_at(value, at, p, fold_case),
        None => equal_at_slow(value, at, pattern, fold_case),
    }
}

pub(crate) fn equals(value: Text<'_>, pattern: Text<'_>, fold_case: bool) -> bool {
    value.len() == pattern.len() && compare_at(value, 0, pattern, fold_case)
}

pub(crate) fn starts_with(value: Text<'_>, pattern: Text<'_>, fold_case: bool) -> bool {
    compare_at(value, 0, pattern, fold_case)
}

pub(crate) fn ends_with(value: Text<'_>, pattern: Text<'_>, fold_case: bool) -> bool {
    match value.len().checked_sub(pattern.len()) {
        Some(at) => compare_at(value, at, pattern, fold_case),
        None => false,
    }
}

pub(crate) fn contains(value: Text<'_>, pattern: Text<'_>, fold_case: bool) -> bool {
    let Some(last) = value.len().checked_sub(pattern.len()) else { return false };
    if pattern.is_empty() {
        return true;
    }
    let mut buf = [0u16; MAX_PATTERN_UNITS];
    let Some(p) = load(pattern, fold_case, &mut buf) else {
        return (0..=last).any(|at| equal_at_slow(value, at, pattern, fold_case));
    };
    match value.as_wide() {
        Some(v) => contains_wide(v, p, fold_case),
        None => (0..=last).any(|at| equal_at(value, at, p, fold_case)),
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
/// and last units over blocks of positions, then a full compare where both match.
fn contains_wide(v: &[u16], p: &[u16], fold_case: bool) -> bool {
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
        let hit = if fold_case {
            block_hit::<true>(h, t, first, last)
        } else {
            block_hit::<false>(h, t, first, last)
        };
        let end = base.wrapping_add(BLOCK);
        if hit && (base..end).any(|at| equal_at(text, at, p, fold_case)) {
            return true;
        }
        base = end;
    }
    let done = base;
    (done..starts).any(|at| equal_at(text, at, p, fold_case))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn w(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
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
                assert_eq!(equals(v, p, true), eq, "{pattern} equals");
                assert_eq!(starts_with(v, p, true), sw, "{pattern} starts_with");
                assert_eq!(ends_with(v, p, true), ew, "{pattern} ends_with");
                assert_eq!(contains(v, p, true), ct, "{pattern} contains");
            }
        }
    }

    #[test]
    fn case_sensitive_comparison_distinguishes_ascii_case() {
        let (v, p) = (w("PowerShell.exe"), w("powershell"));
        assert!(!contains(Text::wide(&v), Text::wide(&p), false));
        assert!(contains(Text::wide(&v), Text::wide(&p), true));
    }

    #[test]
    fn non_ascii_letters_compare_exactly_even_without_case() {
        let (v, p) = (w("ÄRGER"), w("ärger"));
        assert!(!equals(Text::wide(&v), Text::wide(&p), true));
    }

    #[test]
    fn an_empty_value_contains_only_the_empty_pattern() {
        let (e, p) = (w(""), w("a"));
        assert!(contains(Text::wide(&e), Text::wide(&e), false));
        assert!(!contains(Text::wide(&e), Text::wide(&p), false));
    }
}
