//! Literal string matching over UTF-16 views. Case-insensitive comparison
//! folds ASCII letters only; every other unit, non-ASCII letters included,
//! compares exactly (a documented limit: no Unicode case tables in the kernel).
//! There is no backtracking: `contains` is at most pattern × value compares.

use crate::anchor::fold;
use ringfence_wire::Text;

#[inline(always)]
fn same(a: u16, b: u16, fold_case: bool) -> bool {
    if fold_case { fold(a) == fold(b) } else { a == b }
}

/// Whether `value[at..at + pattern.len()]` equals `pattern`.
#[inline]
fn equal_at(value: Text<'_>, at: usize, pattern: Text<'_>, fold_case: bool) -> bool {
    if let (Some(v), Some(p)) = (value.as_wide(), pattern.as_wide()) {
        let Some(window) = at.checked_add(p.len()).and_then(|end| v.get(at..end)) else {
            return false;
        };
        return window.iter().zip(p).all(|(&a, &b)| same(a, b, fold_case));
    }
    if at.checked_add(pattern.len()).is_none_or(|end| end > value.len()) {
        return false;
    }
    let mut v = value.units().skip(at);
    pattern.units().all(|b| v.next().is_some_and(|a| same(a, b, fold_case)))
}

pub(crate) fn equals(value: Text<'_>, pattern: Text<'_>, fold_case: bool) -> bool {
    value.len() == pattern.len() && equal_at(value, 0, pattern, fold_case)
}

pub(crate) fn starts_with(value: Text<'_>, pattern: Text<'_>, fold_case: bool) -> bool {
    equal_at(value, 0, pattern, fold_case)
}

pub(crate) fn ends_with(value: Text<'_>, pattern: Text<'_>, fold_case: bool) -> bool {
    match value.len().checked_sub(pattern.len()) {
        Some(at) => equal_at(value, at, pattern, fold_case),
        None => false,
    }
}

pub(crate) fn contains(value: Text<'_>, pattern: Text<'_>, fold_case: bool) -> bool {
    let Some(last) = value.len().checked_sub(pattern.len()) else { return false };
    let Some(first) = pattern.unit(0) else { return true };
    let first = if fold_case { fold(first) } else { first };
    let mut at = 0usize;
    if let Some(v) = value.as_wide() {
        // Scan for the first unit on the slice, then compare the rest.
        while at <= last {
            let hit = v.get(at).is_some_and(|&u| (if fold_case { fold(u) } else { u }) == first);
            if hit && equal_at(value, at, pattern, fold_case) {
                return true;
            }
            at = at.saturating_add(1);
        }
        return false;
    }
    while at <= last {
        let hit = value.unit(at).is_some_and(|u| (if fold_case { fold(u) } else { u }) == first);
        if hit && equal_at(value, at, pattern, fold_case) {
            return true;
        }
        at = at.saturating_add(1);
    }
    false
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
