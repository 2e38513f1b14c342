//! A regular expression's gates (feature `compiler`, host only): literals,
//! one of which every match contains, computed from the parsed expression
//! and folded ([`fold_unit`]), so that the folded scanner of the field finds
//! them in the scan it does anyway (format.rs, "Gated globs and regular
//! expressions").
//!
//! Each sub-expression is summarised by what every text it matches has,
//! after folding: the one text it matches (`exact`, when there is one), a
//! prefix, a suffix and a factor (a substring). A concatenation joins a
//! suffix to the next prefix; an alternation keeps its common prefix and
//! suffix and any known string of one branch that each other branch's
//! known strings contain; a repetition of at least once keeps its operand's;
//! anything that may match nothing is unconstrained. A sub-expression that
//! matches only a few texts (at most [`MAX_VALUE_GATES`]) keeps them all
//! (`words`): a concatenation joins them to the neighbour's known end (`\\(powershell|pwsh)\.exe`
//! matches only `\powershell.exe` and `\pwsh.exe`).
//!
//! Each sub-expression also keeps its rarest *gate set* (`any`): literals, at
//! most [`MAX_VALUE_GATES`], one of which every match contains. Its
//! candidates are its prefix, suffix, factor and words (each a set), an
//! alternation's union of its branches' sets, and a concatenation's or a
//! repetition's operands' sets; the rarest wins by [`set_weight`], which
//! weighs each literal by the units it has outside the substrings that
//! typical Windows command lines and paths hold ([`COMMON`]): `.exe` is in
//! nearly every process start, `powershell` or `pwsh` in few.
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
use super::format::{MAX_PATTERN_UNITS, MAX_VALUE_GATES};
use regex_automata::util::syntax;
use regex_syntax::hir::{Class, Hir, HirKind};
use std::vec::Vec;

/// Characters a class may have and still count: as one unit (a
/// case-insensitive letter), or as a few (at most [`MAX_VALUE_GATES`]).
pub const MAX_CLASS_CHARS: u32 = 32;
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
    /// Every text it matches, when they are few (at most `MAX_VALUE_GATES`, each at most `MAX_KEPT`).
    words: Option<Vec<Vec<u16>>>,
    /// Texts one of which every match starts with (none: see [`heads`]).
    heads: Option<Vec<Vec<u16>>>,
    /// Texts one of which every match ends with (none: see [`tails`]).
    tails: Option<Vec<Vec<u16>>>,
    /// The rarest gate set found: one of these is in every match (none: no set).
    any: Vec<Vec<u16>>,
    /// Literals each of which every match contains (at most `MAX_VALUE_GATES`, the rarest).
    all: Vec<Vec<u16>>,
}

impl Facts {
    fn exact(units: Vec<u16>) -> Self {
        if units.len() > MAX_KEPT {
            let factor = units.get(..MAX_KEPT).unwrap_or_default().to_vec();
            let suffix = units.get(units.len() - MAX_KEPT..).unwrap_or_default().to_vec();
            return Facts { exact: None, prefix: factor.clone(), suffix, factor, ..Facts::default() };
        }
        Facts {
            exact: Some(units.clone()),
            prefix: units.clone(),
            suffix: units.clone(),
            factor: units.clone(),
            words: Some(std::vec![units]),
            ..Facts::default()
        }
    }

    /// The strings every match contains.
    fn known(&self) -> [&[u16]; 3] {
        [&self.prefix, &self.suffix, &self.factor]
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

/// The folded units of the characters of `class`, ascending, when every
/// character counts, they are at most [`MAX_CLASS_CHARS`] and fold to at
/// most [`MAX_VALUE_GATES`] units.
fn class_units(class: &Class) -> Option<Vec<u16>> {
    let mut units: Vec<u16> = Vec::new();
    let mut count = 0u32;
    let mut take = |c: Option<char>| -> Option<()> {
        count += 1;
        let u = unit_of(c?)?;
        if count > MAX_CLASS_CHARS {
            return None;
        }
        if let Err(at) = units.binary_search(&u) {
            units.insert(at, u);
        }
        (units.len() <= MAX_VALUE_GATES as usize).then_some(())
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
    (!units.is_empty()).then_some(units)
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
        any: runs
            .iter()
            .map(|r| std::vec![cut_front(r.clone())])
            .min_by_key(|set| set_weight(set))
            .unwrap_or_default(),
        factor: cut_front(longest(runs)),
        ..Facts::default()
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
    let words = a.words.as_ref().zip(b.words.as_ref()).and_then(|(x, y)| cross(x, y, usize::MAX));
    // Every match is a match of `a`, ending with one of its tails, then one of
    // `b`, starting with one of its heads: it contains one of the joins.
    let joins = cross(&tails(&a), &heads(&b), MAX_KEPT).unwrap_or_default();
    let heads = a.words.as_ref().and_then(|w| cross(w, &heads(&b), MAX_KEPT)).or_else(|| a.heads.clone());
    let tails = b.words.as_ref().and_then(|w| cross(&tails(&a), w, MAX_KEPT)).or_else(|| b.tails.clone());
    let all = every(a.all.iter().chain(&b.all).cloned().chain([middle.clone()]));
    let any = rarest([a.any, b.any, joins, std::vec![middle.clone()]]);
    let factor = cut_front(longest([a.factor, b.factor, middle, prefix.clone(), suffix.clone()]));
    Facts { exact: None, prefix, suffix, factor, words, heads, tails, any, all }
}

/// Every text of `x` followed by every text of `y`, when they are at most
/// `MAX_VALUE_GATES`, each cut to `keep` units (a join's first `keep` units
/// when `y` is heads, its last when it is tails: both stay where they were).
fn cross(x: &[Vec<u16>], y: &[Vec<u16>], keep: usize) -> Option<Vec<Vec<u16>>> {
    if x.len().saturating_mul(y.len()) > MAX_VALUE_GATES as usize {
        return None;
    }
    let all: Vec<Vec<u16>> = x.iter().flat_map(|p| y.iter().map(move |q| joined(p, q))).collect();
    if keep == usize::MAX {
        return all.iter().all(|w| w.len() <= MAX_KEPT).then_some(all);
    }
    Some(
        all.into_iter()
            .map(|w| if w.len() > keep { w.get(..keep).unwrap_or_default().to_vec() } else { w })
            .collect(),
    )
}

/// Texts one of which every match of `f` starts with (its words, or its prefix).
fn heads(f: &Facts) -> Vec<Vec<u16>> {
    f.heads.clone().or_else(|| f.words.clone()).unwrap_or_else(|| std::vec![f.prefix.clone()])
}

/// Texts one of which every match of `f` ends with (its words, or its suffix).
fn tails(f: &Facts) -> Vec<Vec<u16>> {
    f.tails.clone().or_else(|| f.words.clone()).unwrap_or_else(|| std::vec![f.suffix.clone()])
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
    let words = items.iter().try_fold(Vec::new(), |mut all: Vec<Vec<u16>>, f| {
        all.extend(f.words.clone()?);
        all.sort();
        all.dedup();
        (all.len() <= MAX_VALUE_GATES as usize).then_some(all)
    });
    // One of each branch's sets is in every match: their union is a set.
    let union = items.iter().try_fold(Vec::new(), |mut all: Vec<Vec<u16>>, f| {
        if f.any.is_empty() {
            return None;
        }
        all.extend(f.any.iter().cloned());
        Some(all)
    });
    let any = union.map(minimal).unwrap_or_default();
    let union_of = |sets: &dyn Fn(&Facts) -> Vec<Vec<u16>>| {
        let mut all: Vec<Vec<u16>> = items.iter().flat_map(sets).collect();
        all.sort();
        all.dedup();
        (all.len() <= MAX_VALUE_GATES as usize).then_some(all)
    };
    let (heads, tails) = (union_of(&heads), union_of(&tails));
    Facts { exact: None, prefix, suffix, factor, words, heads, tails, any, all: Vec::new() }
}

fn facts(hir: &Hir) -> Facts {
    let f = raw_facts(hir);
    let known = [std::vec![f.prefix.clone()], std::vec![f.suffix.clone()], std::vec![f.factor.clone()]];
    let any = rarest([f.any.clone(), f.words.clone().unwrap_or_default()].into_iter().chain(known.clone()));
    let single = if any.len() == 1 { any.clone() } else { Vec::new() };
    let all = every(f.all.iter().cloned().chain(known.into_iter().flatten()).chain(single));
    Facts { any, all, ..f }
}

/// Literals each of which every match contains: without the empty one, a
/// duplicate or one another contains (a text holding the longer holds it),
/// the rarest [`MAX_VALUE_GATES`] kept.
fn every(literals: impl IntoIterator<Item = Vec<u16>>) -> Vec<Vec<u16>> {
    let mut all: Vec<Vec<u16>> = literals.into_iter().filter(|l| !l.is_empty()).collect();
    all.sort();
    all.dedup();
    let copy = all.clone();
    all.retain(|l| !copy.iter().any(|o| o != l && contains(o, l)));
    all.sort_by_key(|l| (commonness(l), core::cmp::Reverse(l.len())));
    all.truncate(MAX_VALUE_GATES as usize);
    all.sort();
    all
}

fn raw_facts(hir: &Hir) -> Facts {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => Facts::exact(Vec::new()),
        HirKind::Literal(l) => literal(&l.0),
        HirKind::Class(c) => match class_units(c) {
            Some(units) if units.len() == 1 => Facts::exact(units),
            // A few units: each is one of the class's texts.
            Some(units) => {
                Facts { words: Some(units.into_iter().map(|u| std::vec![u]).collect()), ..Facts::default() }
            }
            None => Facts::default(),
        },
        HirKind::Capture(c) => facts(&c.sub),
        HirKind::Repetition(r) => {
            if r.max == Some(0) {
                return Facts::exact(Vec::new());
            }
            if r.min == 0 {
                return Facts::default();
            }
            let mut f = facts(&r.sub);
            if r.min != 1 || r.max != Some(1) {
                // More than one copy: not only the operand's few texts, but
                // starting and ending with one.
                f.heads = Some(heads(&f));
                f.tails = Some(tails(&f));
                f.words = None;
            }
            let Some(once) = f.exact.clone() else { return f };
            // At most MAX_KEPT + 1 copies matter: the summary keeps no more units.
            let copies = usize::try_from(r.min).unwrap_or(usize::MAX).min(MAX_KEPT + 1);
            let repeated = once.repeat(copies);
            if r.max == Some(r.min) && copies == usize::try_from(r.min).unwrap_or(usize::MAX) {
                return Facts::exact(repeated);
            }
            let mut f = Facts::exact(repeated);
            f.exact = None;
            f.words = None;
            f
        }
        HirKind::Concat(items) => {
            items.iter().map(facts).reduce(concat).unwrap_or_else(|| Facts::exact(Vec::new()))
        }
        HirKind::Alternation(items) => alternation(items.iter().map(facts).collect()),
    }
}

/// Substrings that typical Windows command lines and paths hold, folded
/// (lower case): a literal is weighed by its units outside them.
pub const COMMON: [&str; 18] = [
    ".exe",
    ".dll",
    "c:\\",
    "\\windows\\",
    "\\system32\\",
    "\\syswow64\\",
    "\\program files",
    "\\users\\",
    "\\appdata\\",
    "\\temp\\",
    "\\microsoft\\",
    " -",
    " /",
    " --",
    "http",
    "://",
    "\"",
    "  ",
];

/// The units of `literal` (folded) outside every occurrence of a [`COMMON`]
/// substring (and outside a start or an end that is part of one); none when
/// the literal is itself part of one.
pub fn rare_units(literal: &[u16]) -> usize {
    let mut covered = std::vec![false; literal.len()];
    for common in COMMON {
        let common: Vec<u16> = common.encode_utf16().collect();
        if contains(&common, literal) {
            return 0;
        }
        for (at, w) in literal.windows(common.len()).enumerate() {
            if w == common.as_slice() {
                covered.iter_mut().skip(at).take(common.len()).for_each(|c| *c = true);
            }
        }
        // A literal that ends where a common substring starts (`\\pwsh.ex`,
        // `\\pwsh.`), or starts where one ends, is as likely to run on into it:
        // when that part has a unit other than a letter or digit, or three units.
        let likely = |part: &[u16]| part.len() >= 3 || part.iter().any(|&u| !is_alphanumeric(u));
        for k in 1..common.len().min(literal.len().saturating_add(1)) {
            let head = common.get(..k).unwrap_or_default();
            if literal.ends_with(head) && likely(head) {
                covered.iter_mut().rev().take(k).for_each(|c| *c = true);
            }
            let tail = common.get(common.len() - k..).unwrap_or_default();
            if literal.starts_with(tail) && likely(tail) {
                covered.iter_mut().take(k).for_each(|c| *c = true);
            }
        }
    }
    covered.iter().filter(|c| !**c).count()
}

fn is_alphanumeric(unit: u16) -> bool {
    char::from_u32(unit.into()).is_some_and(char::is_alphanumeric)
}

/// How common a literal is in typical process starts, roughly in proportion:
/// from 2^24 down to 1, each unit outside the common substrings dividing it
/// by 4, and the units inside them by 2 each up to four (`-` is 2^23, `.exe`
/// and `\windows\system32\` 2^20, `-f` 2^21, `pwsh` 2^16); one unit is
/// in nearly every text: 2^24.
pub fn commonness(literal: &[u16]) -> u64 {
    if literal.len() <= 1 {
        return 1 << 24;
    }
    let rare = rare_units(literal);
    let covered = literal.len().saturating_sub(rare).min(4);
    let points = rare.saturating_mul(2).saturating_add(covered).min(24);
    1u64 << (24 - points)
}

/// How common a gate set is: the sum of its literals' commonness (none, an
/// empty literal, or a single unit in a set of two or more: unbounded).
fn set_weight(set: &[Vec<u16>]) -> u64 {
    if set.is_empty() || set.len() > MAX_VALUE_GATES as usize || set.iter().any(Vec::is_empty) {
        return u64::MAX;
    }
    // Single units are in nearly every text: a set of two or more has none.
    if set.len() > 1 && set.iter().any(|l| l.len() < 2) {
        return u64::MAX;
    }
    set.iter().map(|l| commonness(l)).sum()
}

/// Whether literal `a` is a rarer gate than `b`: less common, or as common and longer.
pub fn rarer(a: &[u16], b: &[u16]) -> bool {
    (commonness(a), core::cmp::Reverse(a.len())) < (commonness(b), core::cmp::Reverse(b.len()))
}

/// The rarest of `sets` (the first of equals; fewer literals, then more units, break ties).
fn rarest(sets: impl IntoIterator<Item = Vec<Vec<u16>>>) -> Vec<Vec<u16>> {
    let key = |s: &Vec<Vec<u16>>| {
        (set_weight(s), s.len(), core::cmp::Reverse(s.iter().map(Vec::len).sum::<usize>()))
    };
    let mut best: Vec<Vec<u16>> = Vec::new();
    for set in sets {
        let set = minimal(set);
        if set_weight(&set) != u64::MAX && (best.is_empty() || key(&set) < key(&best)) {
            best = set;
        }
    }
    best
}

/// `set` without duplicates and without a literal that contains another
/// (a text holding the longer one holds the shorter): the same gate.
fn minimal(mut set: Vec<Vec<u16>>) -> Vec<Vec<u16>> {
    set.sort();
    set.dedup();
    let all = set.clone();
    set.retain(|l| !all.iter().any(|o| o != l && contains(l, o)));
    set
}

/// A value's gates (format.rs, "Gated globs and regular expressions"): one
/// of `literals` is in every match, or (`all`) each of them is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gates {
    pub literals: Vec<Vec<u16>>,
    pub all: bool,
}

/// The gates of `source` (parsed as [`super::regex_build::compile_regex`]
/// parses it): folded literals, at most [`MAX_VALUE_GATES`], each at most
/// [`MAX_PATTERN_UNITS`] units, one of which every match contains (the
/// rarest such set found), or each of which every match contains (all the
/// required literals found, when they are two or more and the rarest of
/// them is at least as rare as that set); none when there is neither (or
/// the expression does not parse).
pub fn required_gates(source: &str, case_insensitive: bool) -> Gates {
    let config = syntax::Config::new().case_insensitive(case_insensitive);
    let Ok(hir) = syntax::parse_with(source, &config) else { return Gates::default() };
    let f = facts(&hir);
    let cut = |set: Vec<Vec<u16>>| -> Vec<Vec<u16>> {
        set.into_iter()
            .map(|mut l| {
                l.truncate(MAX_PATTERN_UNITS);
                l
            })
            .collect()
    };
    let any = minimal(cut(f.any));
    let all = every(cut(f.all));
    let rarest_of_all = all.iter().map(|l| commonness(l)).min().unwrap_or(u64::MAX);
    if all.len() >= 2 && rarest_of_all <= set_weight(&any) {
        return Gates { literals: all, all: true };
    }
    if set_weight(&any) != u64::MAX {
        return Gates { literals: any, all: false };
    }
    Gates { literals: all, all: false }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::String;

    /// One of the gates in every match (or, ending with `&`, each of them).
    fn req(source: &str, ci: bool) -> Vec<String> {
        let g = required_gates(source, ci);
        let mut out: Vec<String> = g.literals.into_iter().map(|u| String::from_utf16(&u).unwrap()).collect();
        if g.all {
            out.push("&".into());
        }
        out
    }

    #[test]
    fn gate_sets_of_typical_expressions() {
        assert_eq!(req(r"\\(powershell|pwsh)\.exe", false), [r"\powershell.exe", r"\pwsh.exe"]);
        assert_eq!(req(r"(?i)\\(powershell|pwsh)\.exe", false), [r"\powershell.exe", r"\pwsh.exe"]);
        assert_eq!(req(r"\\(powershell|pwsh)\.EXE", true), [r"\powershell.exe", r"\pwsh.exe"]);
        assert_eq!(req(r"\\(powershell|pwsh)\.exe\s+-\w+", false), [r"\powershell.exe", r"\pwsh.exe"]);
        assert_eq!(
            req(r"\\(powershell|pwsh)[a-z]*\.exe", false),
            [r"\powershell", r"\pwsh"],
            "not the common .exe"
        );
        assert_eq!(req(r"-enc(odedcommand)?\s+[a-z0-9+/=]{20,}", true), ["-enc"]);
        assert_eq!(req(r"^cmd\.exe$", false), ["cmd.exe"]);
        assert_eq!(req(r"(abc|xabcy)z", false), ["abcz", "xabcyz"]);
        assert_eq!(req(r"(abc|xabcy)+z", false), ["abcz", "xabcyz"], "the last repetition, then z");
        assert_eq!(req(r"\s-[FTd]\s", false), ["-d", "-f", "-t"], "a class of a few units");
        assert_eq!(
            req(r"[-/–][Ee^]{1,2}[ncodema^]*\s", false),
            ["-^", "-e", "/^", "/e", "–^", "–e"],
            "a class, then a repetition's first units"
        );
        assert_eq!(req(r"[a-z]-[0-9]", false), ["-"], "classes of many units");
        assert_eq!(req(r"(ab){3}", false), ["ababab"]);
        assert_eq!(req(r"(ab){2,}c", false), ["ababc"], "the last two repetitions, then c");
        assert_eq!(req(r"a[bc]d", false), ["abd", "acd"]);
        assert_eq!(req(r"k", true), ["k"], "K, k and the Kelvin sign fold to k");
        assert_eq!(req(r"(certutil|bitsadmin)[^\n]*(urlcache|transfer)", false), ["bitsadmin", "certutil"]);
        // Nine alternatives: over the set's limit, the common prefix and suffix, both required.
        assert_eq!(req(r"(a1x|a2x|a3x|a4x|a5x|a6x|a7x|a8x|a9x)", false), ["a", "x", "&"]);
        // Literals each required, rarer than any one of them alone.
        assert_eq!(req(r"net\s+config", true), ["config", "net", "&"]);
        assert_eq!(req(r"\s-\s*<", false), ["-", "<", "&"]);
        assert_eq!(req(r"\\(powershell|pwsh)\.exe\s+-enc", false), [r"\powershell.exe", r"\pwsh.exe"]);
    }

    #[test]
    fn rarity_prefers_literals_outside_common_substrings() {
        let u = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
        assert_eq!(rare_units(&u(".exe")), 0);
        assert_eq!(rare_units(&u("exe")), 0, "part of .exe");
        assert_eq!(rare_units(&u("\\mshta.exe")), 5, "a path separator ends common directories");
        assert_eq!(rare_units(&u("mshta.")), 5, "runs on into .exe");
        assert_eq!(rare_units(&u("mshta.ex")), 5, "runs on into .exe");
        assert!(rarer(&u("mshta"), &u("\\windows\\system32\\")));
        assert!(rarer(&u("whoami"), &u("who")));
        assert!(rarer(&u(".exe"), &u("ab")), "as common, and longer");
        assert_eq!(commonness(&u("e")), 1 << 24);
        assert_eq!(commonness(&u("c:\\")), 1 << 21);
        assert_eq!(commonness(&u(".exe")), 1 << 20);
        assert_eq!(commonness(&u("\\windows\\system32\\")), 1 << 20);
        assert_eq!(commonness(&u("-f")), 1 << 21);
        assert_eq!(commonness(&u("-")), 1 << 24);
        assert_eq!(commonness(&u("pwsh")), 1 << 16);
        assert_eq!(commonness(&u("powershell")), 1 << 4);
    }

    #[test]
    fn expressions_without_a_required_literal_have_no_gate() {
        for (source, ci) in [
            (r"", false),
            (r"a|", false),
            (r"(abc)?", false),
            (r"[a-z]+", false),
            (r"\x{FFFD}", false),
            (r"\x{10000}", false),
            (r"(?-u:\xFF)", false),
            (r"(?=a)", false),
        ] {
            assert_eq!(req(source, ci), Vec::<String>::new(), "{source:?}");
        }
    }

    /// Every text the expression matches contains one of its gates, folded:
    /// checked on the texts of a small alphabet against the `regex` crate.
    #[test]
    fn one_gate_is_in_every_match_the_regex_crate_finds() {
        let sources = [
            r"a(b|cb)c",
            r"(ab|abb)+c?",
            r"a(?i:B)c|abc",
            r"(a|b)(a|b)a",
            r"c(ab)*c",
            r"^b.a",
            r"(?i)BA(c|Ac)",
            r"(a|b)+c",
            r"(ab|ba)(c|cc)",
            r"(aa|bb)|(cc|a)b",
            r"(ab|bc){2}",
            r"b(a|c)?a",
            r"[ab]c+[ab]",
            r"(a[bc])+a",
            r"[abc]{2}b",
            r"(?i)[ab]{1,2}C",
            r"c(a|ab|b)+c",
            r"ab.*ca",
            r"(a|b)c+ab",
            r"ba[^a]*cb",
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
        let mut gated = 0;
        for source in sources {
            let oracle = regex::Regex::new(source).unwrap();
            let Gates { literals: gates, all } = required_gates(source, false);
            if gates.is_empty() {
                continue;
            }
            gated += 1;
            let mut matched = 0;
            for text in &texts {
                if oracle.is_match(text) {
                    matched += 1;
                    let folded: Vec<u16> = text.encode_utf16().map(fold_unit).collect();
                    let held = |g: &Vec<u16>| contains(&folded, g);
                    let holds = if all { gates.iter().all(held) } else { gates.iter().any(held) };
                    assert!(holds, "{source:?} matches {text:?} without its gates");
                }
            }
            assert!(matched > 0, "{source:?} matched some text");
        }
        let ungated: Vec<&str> =
            sources.iter().copied().filter(|s| required_gates(s, false).literals.is_empty()).collect();
        assert_eq!(ungated, Vec::<&str>::new(), "every expression here has gates");
        assert_eq!(gated, sources.len());
        assert!(sources.iter().any(|s| required_gates(s, false).all), "some all required");
    }
}
