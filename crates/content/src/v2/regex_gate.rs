//! A regular expression's gate (feature `compiler`, host only): a literal
//! every match contains, computed from the parsed expression and folded
//! ([`fold_unit`]), so that the folded scanner of the field finds it in the
//! scan it does anyway (format.rs, "Gated globs and regular expressions").
//!
//! Each sub-expression is summarised by what every text it matches has,
//! after folding: the one text it matches (`exact`, when there is one), a
//! prefix, a suffix and a factor (a substring). A concatenation joins a
//! suffix to the next prefix; an alternation keeps its common prefix and
//! suffix and any known string of one branch that each other branch's
//! known strings contain; a repetition of at least once keeps its operand's;
//! anything that may match nothing is unconstrained.
//!
//! Which characters count: a BMP character other than U+FFFD (the automaton
//! reads an unpaired surrogate as U+FFFD, so that character does not name
//! the unit the text has); a class counts when its characters, at most
//! [`MAX_CLASS_CHARS`], all fold to one unit (a case-insensitive letter such
//! as `[Kk\u{212A}]`). Since the automaton reads the UTF-16 text converted to
//! UTF-8 character by character, a run of such characters in a match is the
//! same run of units in the text, whose folding the scanner sees.
// Host-side code, as the rest of the compiler.
#![allow(clippy::arithmetic_side_effects)]

use super::fold::fold_unit;
use super::format::MAX_PATTERN_UNITS;
use regex_automata::util::syntax;
use regex_syntax::hir::{Class, Hir, HirKind};
use std::vec::Vec;

/// Characters a class may have and still count as one unit.
pub const MAX_CLASS_CHARS: u32 = 4;
/// The longest string a summary keeps (a longer one is cut: a part of a
/// required prefix, suffix or factor is still required).
const MAX_KEPT: usize = 256;

/// What every (folded) text a sub-expression matches has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Facts {
    /// The only text it matches.
    exact: Option<Vec<u16>>,
    prefix: Vec<u16>,
    suffix: Vec<u16>,
    factor: Vec<u16>,
}

impl Facts {
    fn exact(units: Vec<u16>) -> Self {
        if units.len() > MAX_KEPT {
            let factor = units.get(..MAX_KEPT).unwrap_or_default().to_vec();
            let suffix = units.get(units.len() - MAX_KEPT..).unwrap_or_default().to_vec();
            return Facts { exact: None, prefix: factor.clone(), suffix, factor };
        }
        Facts { exact: Some(units.clone()), prefix: units.clone(), suffix: units.clone(), factor: units }
    }

    /// The strings every match contains.
    fn known(&self) -> [&[u16]; 3] {
        [&self.prefix, &self.suffix, &self.factor]
    }

    fn best(&self) -> &[u16] {
        self.known().into_iter().max_by_key(|s| s.len()).unwrap_or_default()
    }
}

fn longest(candidates: impl IntoIterator<Item = Vec<u16>>) -> Vec<u16> {
    let mut best = Vec::new();
    for c in candidates {
        if c.len() > best.len() {
            best = c;
        }
    }
    best
}

fn cut_front(mut v: Vec<u16>) -> Vec<u16> {
    v.truncate(MAX_KEPT);
    v
}

fn cut_back(v: Vec<u16>) -> Vec<u16> {
    let from = v.len().saturating_sub(MAX_KEPT);
    v.get(from..).unwrap_or_default().to_vec()
}

fn joined(a: &[u16], b: &[u16]) -> Vec<u16> {
    let mut v = a.to_vec();
    v.extend_from_slice(b);
    v
}

/// The folded unit of a character that counts (see the module's notes).
fn unit_of(c: char) -> Option<u16> {
    let unit = u16::try_from(u32::from(c)).ok()?;
    (c != char::REPLACEMENT_CHARACTER).then(|| fold_unit(unit))
}

/// The one folded unit every character of `class` is, if there is one.
fn class_unit(class: &Class) -> Option<u16> {
    let mut unit: Option<u16> = None;
    let mut count = 0u32;
    let mut take = |c: Option<char>| -> Option<()> {
        count += 1;
        let u = unit_of(c?)?;
        if count > MAX_CLASS_CHARS || unit.is_some_and(|seen| seen != u) {
            return None;
        }
        unit = Some(u);
        Some(())
    };
    match class {
        Class::Unicode(c) => {
            for r in c.iter() {
                for code in u32::from(r.start())..=u32::from(r.end()) {
                    take(char::from_u32(code))?;
                }
            }
        }
        Class::Bytes(c) => {
            for r in c.iter() {
                for b in r.start()..=r.end() {
                    // A byte above ASCII is part of a character, not one.
                    take(b.is_ascii().then_some(char::from(b)))?;
                }
            }
        }
    }
    unit
}

/// A literal's characters: runs of units that count, split where one does not.
fn literal(bytes: &[u8]) -> Facts {
    let units: Vec<Option<u16>> = match std::str::from_utf8(bytes) {
        Ok(text) => text.chars().map(unit_of).collect(),
        Err(_) => bytes.iter().map(|&b| b.is_ascii().then(|| fold_unit(u16::from(b)))).collect(),
    };
    if units.iter().all(Option::is_some) {
        return Facts::exact(units.into_iter().flatten().collect());
    }
    let runs: Vec<Vec<u16>> =
        units.split(Option::is_none).map(|run| run.iter().flatten().copied().collect()).collect();
    Facts {
        exact: None,
        prefix: cut_front(runs.first().cloned().unwrap_or_default()),
        suffix: cut_back(runs.last().cloned().unwrap_or_default()),
        factor: cut_front(longest(runs)),
    }
}

fn concat(a: Facts, b: Facts) -> Facts {
    if let (Some(x), Some(y)) = (&a.exact, &b.exact) {
        return Facts::exact(joined(x, y));
    }
    let middle = joined(&a.suffix, &b.prefix);
    let prefix = if a.exact.is_some() { middle.clone() } else { a.prefix.clone() };
    let suffix = if b.exact.is_some() { middle.clone() } else { b.suffix.clone() };
    let (prefix, suffix) = (cut_front(prefix), cut_back(suffix));
    let factor = cut_front(longest([a.factor, b.factor, middle, prefix.clone(), suffix.clone()]));
    Facts { exact: None, prefix, suffix, factor }
}

fn contains(haystack: &[u16], needle: &[u16]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn alternation(items: Vec<Facts>) -> Facts {
    let Some(first) = items.first() else { return Facts::default() };
    if items.iter().all(|f| f.exact.is_some() && f.exact == first.exact) {
        return first.clone();
    }
    let mut prefix = first.prefix.clone();
    let mut suffix = first.suffix.clone();
    for f in &items {
        let common = prefix.iter().zip(&f.prefix).take_while(|(x, y)| x == y).count();
        prefix.truncate(common);
        let common = suffix.iter().rev().zip(f.suffix.iter().rev()).take_while(|(x, y)| x == y).count();
        suffix = suffix.get(suffix.len() - common..).unwrap_or_default().to_vec();
    }
    // A known string of one branch that some known string of every branch contains.
    let shared = items
        .iter()
        .flat_map(|f| f.known())
        .filter(|candidate| items.iter().all(|g| g.known().iter().any(|k| contains(k, candidate))))
        .map(<[u16]>::to_vec);
    let factor = longest(shared.chain([prefix.clone(), suffix.clone()]));
    Facts { exact: None, prefix, suffix, factor }
}

fn facts(hir: &Hir) -> Facts {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Facts::exact(Vec::new()),
        HirKind::Literal(l) => literal(&l.0),
        HirKind::Class(c) => class_unit(c).map_or_else(Facts::default, |u| Facts::exact(std::vec![u])),
        HirKind::Capture(c) => facts(&c.sub),
        HirKind::Repetition(r) => {
            if r.max == Some(0) {
                return Facts::exact(Vec::new());
            }
            if r.min == 0 {
                return Facts::default();
            }
            let f = facts(&r.sub);
            let Some(once) = f.exact.clone() else { return f };
            // At most MAX_KEPT + 1 copies matter: the summary keeps no more units.
            let copies = usize::try_from(r.min).unwrap_or(usize::MAX).min(MAX_KEPT + 1);
            let repeated = once.repeat(copies);
            if r.max == Some(r.min) && copies == usize::try_from(r.min).unwrap_or(usize::MAX) {
                return Facts::exact(repeated);
            }
            let mut f = Facts::exact(repeated);
            f.exact = None;
            f
        }
        HirKind::Concat(items) => {
            items.iter().map(facts).reduce(concat).unwrap_or_else(|| Facts::exact(Vec::new()))
        }
        HirKind::Alternation(items) => alternation(items.iter().map(facts).collect()),
    }
}

/// The folded literal every match of `source` (parsed as
/// [`super::regex_build::compile_regex`] parses it) contains, the longest
/// found; `None` when there is none (or the expression does not parse).
pub fn required_literal(source: &str, case_insensitive: bool) -> Option<Vec<u16>> {
    let config = syntax::Config::new().case_insensitive(case_insensitive);
    let hir = syntax::parse_with(source, &config).ok()?;
    let f = facts(&hir);
    let mut best = f.best().to_vec();
    best.truncate(MAX_PATTERN_UNITS);
    (!best.is_empty()).then_some(best)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    fn req(source: &str, ci: bool) -> Option<String> {
        required_literal(source, ci).map(|u| String::from_utf16(&u).unwrap())
    }

    #[test]
    fn required_literals_of_typical_expressions() {
        assert_eq!(req(r"\\(powershell|pwsh)\.exe", false).as_deref(), Some(".exe"));
        assert_eq!(req(r"(?i)\\(powershell|pwsh)\.exe", false).as_deref(), Some(".exe"));
        assert_eq!(req(r"\\(powershell|pwsh)\.EXE", true).as_deref(), Some(".exe"));
        assert_eq!(req(r"-enc(odedcommand)?\s+[a-z0-9+/=]{20,}", true).as_deref(), Some("-enc"));
        assert_eq!(req(r"^cmd\.exe$", false).as_deref(), Some("cmd.exe"));
        assert_eq!(req(r"(abc|xabcy)z", false).as_deref(), Some("abc"));
        assert_eq!(req(r"(ab){3}", false).as_deref(), Some("ababab"));
        assert_eq!(req(r"(ab){2,}c", false).as_deref(), Some("ababc"), "the last two repetitions, then c");
        assert_eq!(req(r"a[bc]d", false).as_deref(), Some("a"));
        assert_eq!(req(r"k", true).as_deref(), Some("k"), "K, k and the Kelvin sign fold to k");
    }

    #[test]
    fn expressions_without_a_required_literal_have_no_gate() {
        for (source, ci) in [
            (r"", false),
            (r"a|b", false),
            (r"(abc)?", false),
            (r"[a-z]+", false),
            (r"\x{FFFD}", false),
            (r"\x{10000}", false),
            (r"(?-u:\xFF)", false),
            (r"(?=a)", false),
        ] {
            assert_eq!(req(source, ci), None, "{source:?}");
        }
    }

    /// Every text the expression matches contains the literal, folded: checked
    /// on the texts of a small alphabet against the `regex` crate.
    #[test]
    fn the_literal_is_in_every_match_the_regex_crate_finds() {
        let sources = [
            r"a(b|cb)c",
            r"(ab|abb)+c?",
            r"a(?i:B)c|abc",
            r"(a|b)(a|b)a",
            r"c(ab)*c",
            r"^b.a",
            r"(?i)BA(c|Ac)",
        ];
        let alphabet = ['a', 'b', 'c', 'A', 'B'];
        let mut texts = std::vec![String::new()];
        for _ in 0..5 {
            let longer: Vec<String> =
                texts.iter().flat_map(|t| alphabet.iter().map(move |&c| std::format!("{t}{c}"))).collect();
            texts.extend(longer.into_iter().filter(|t| t.len() <= 5));
            texts.sort();
            texts.dedup();
        }
        for source in sources {
            let oracle = regex::Regex::new(source).unwrap();
            let Some(gate) = required_literal(source, false) else { continue };
            let mut matched = 0;
            for text in &texts {
                if oracle.is_match(text) {
                    matched += 1;
                    let folded: Vec<u16> = text.encode_utf16().map(fold_unit).collect();
                    assert!(contains(&folded, &gate), "{source:?} matches {text:?} without its gate");
                }
            }
            assert!(matched > 0, "{source:?} matched some text");
        }
    }
}
