//! Per-field matchers: every literal of every rule on a field is found in one
//! pass of an Aho-Corasick automaton per text view (case folded or not, dashes
//! folded or not); every glob and regular expression of a field runs in one
//! `RegexSet` (linear time, no backtracking).
//!
//! Cost of one field of `n` bytes: `n` automaton steps per view in use, plus
//! the outputs of each distinct automaton state reached (each state's outputs
//! are read once, except within the first `longest pattern` bytes, where
//! prefix matches are recorded) — a term bounded by the content, not by `n` —
//! plus the `RegexSet`'s linear scan.

use std::collections::HashMap;

use aho_corasick::automaton::Automaton;
use aho_corasick::nfa::contiguous;
use aho_corasick::{Anchored, MatchKind};
use regex::RegexSet;

use crate::fold::{View, WINDASH};
use crate::ir::{Case, GlobPart};

/// Hit flags of one literal slot.
pub(super) const ANYWHERE: u8 = 1;
pub(super) const PREFIX: u8 = 2;
pub(super) const SUFFIX: u8 = 4;
pub(super) const WHOLE: u8 = 8;

/// The literals of one field in one view.
#[derive(Debug)]
pub(super) struct Literals {
    pub(super) view: View,
    automaton: contiguous::NFA,
    /// Slot of pattern 0; pattern `i` has slot `base + i`.
    base: usize,
    longest: usize,
}

impl Literals {
    /// Records in `hits` where each pattern occurs in `text` (already in this view), and in
    /// `scratch.touched` every slot that had no hit before.
    pub(super) fn scan(&self, text: &str, hits: &mut [u8], scratch: &mut ScanScratch) {
        let automaton = &self.automaton;
        let Ok(mut state) = automaton.start_state(Anchored::No) else {
            return;
        };
        let base = self.base;
        let record = |state, end: usize, suffix: bool, hits: &mut [u8], touched: &mut Vec<u32>| {
            for k in 0..automaton.match_len(state) {
                let pattern = automaton.match_pattern(state, k);
                let len = automaton.pattern_len(pattern);
                let mut flags = ANYWHERE;
                if len == end {
                    flags |= PREFIX;
                }
                if suffix {
                    flags |= SUFFIX;
                    if len == end {
                        flags |= WHOLE;
                    }
                }
                let slot = base.saturating_add(pattern.as_usize());
                if let Some(hit) = hits.get_mut(slot) {
                    if *hit == 0 {
                        touched.push(u32::try_from(slot).unwrap_or(u32::MAX));
                    }
                    *hit |= flags;
                }
            }
        };
        let bytes = text.as_bytes();
        for (at, &byte) in bytes.iter().enumerate() {
            state = automaton.next_state(Anchored::No, state, byte);
            if automaton.is_match(state) {
                let end = at.saturating_add(1);
                // Within the longest pattern's length a match may also be a prefix match:
                // record every time. Beyond it only `anywhere` is new, once per state.
                if end <= self.longest || scratch.first_visit(state.as_usize()) {
                    record(state, end, false, hits, &mut scratch.touched);
                }
            }
        }
        // The state after the last byte names every pattern that is a suffix of the text.
        if automaton.is_match(state) && !bytes.is_empty() {
            record(state, bytes.len(), true, hits, &mut scratch.touched);
        }
        scratch.forget_states();
    }

    /// An upper bound of this automaton's state ids: the contiguous NFA's ids index its
    /// `u32` representation, whose bytes `memory_usage` counts.
    fn state_id_bound(&self) -> usize {
        self.automaton.memory_usage() / 4 + 1
    }
}

/// What a scan reuses from one event to the next, so that it allocates nothing once grown.
#[derive(Debug, Default)]
pub(super) struct ScanScratch {
    /// Slots that went from no hit to a hit, in the order they did.
    pub(super) touched: Vec<u32>,
    /// Automaton states seen beyond the longest pattern (a bitset by state id), and the list
    /// of them, to clear the bitset after the scan.
    seen: Vec<u64>,
    seen_list: Vec<u32>,
    /// A field's text in a folded view.
    pub(super) view_text: String,
}

impl ScanScratch {
    /// Sizes the state bitset for every automaton of `index`.
    pub(super) fn fit(&mut self, index: &FieldIndex) {
        let bound = index.literals.iter().map(Literals::state_id_bound).max().unwrap_or(0);
        let words = bound.div_ceil(64);
        if self.seen.len() < words {
            self.seen.resize(words, 0);
        }
    }

    /// Whether `state` is seen for the first time in this scan. A state beyond the bitset
    /// (never, given [`Self::fit`]) counts as new each time: correct, only slower.
    fn first_visit(&mut self, state: usize) -> bool {
        let Some(word) = self.seen.get_mut(state / 64) else { return true };
        let bit = 1u64 << (state % 64);
        if *word & bit != 0 {
            return false;
        }
        *word |= bit;
        self.seen_list.push(u32::try_from(state).unwrap_or(u32::MAX));
        true
    }

    fn forget_states(&mut self) {
        for state in self.seen_list.drain(..) {
            if let Some(word) = self.seen.get_mut(state as usize / 64) {
                *word = 0;
            }
        }
    }
}

/// Collects the literals and regular expressions of one field while rule predicates are compiled.
#[derive(Debug, Default)]
pub(super) struct FieldBuilder {
    literals: [Vec<String>; 4],
    literal_slots: [HashMap<String, usize>; 4],
    regexes: Vec<String>,
    regex_slots: HashMap<String, usize>,
}

impl FieldBuilder {
    /// The local slot of a literal in a view (shared by equal literals).
    pub(super) fn literal(&mut self, view: View, text: String) -> (usize, usize) {
        let i = view.index();
        let (Some(list), Some(slots)) = (self.literals.get_mut(i), self.literal_slots.get_mut(i)) else {
            return (i, 0);
        };
        let next = list.len();
        let slot = *slots.entry(text.clone()).or_insert_with(|| {
            list.push(text);
            next
        });
        (i, slot)
    }

    /// The local slot of a regular expression source.
    pub(super) fn regex(&mut self, source: String) -> usize {
        let next = self.regexes.len();
        *self.regex_slots.entry(source.clone()).or_insert_with(|| {
            self.regexes.push(source);
            next
        })
    }

    /// Builds the automata and the set, placing their slots from `base` on.
    /// Returns the field index, the slot offset of each view and of the regexes, and the next free slot.
    pub(super) fn build(self, base: usize) -> Result<(FieldIndex, [usize; 4], usize, usize), String> {
        let mut next = base;
        let mut literals = Vec::new();
        let mut offsets = [0usize; 4];
        for (i, patterns) in self.literals.into_iter().enumerate() {
            if let Some(offset) = offsets.get_mut(i) {
                *offset = next;
            }
            if patterns.is_empty() {
                continue;
            }
            let automaton = contiguous::Builder::new()
                .match_kind(MatchKind::Standard)
                .build(&patterns)
                .map_err(|e| e.to_string())?;
            let longest = patterns.iter().map(String::len).max().unwrap_or(0);
            let view = View::ALL.get(i).copied().unwrap_or(View::ALL[0]);
            literals.push(Literals { view, automaton, base: next, longest });
            next = next.saturating_add(patterns.len());
        }
        let regex_base = next;
        let regexes = if self.regexes.is_empty() {
            None
        } else {
            Some(
                regex::RegexSetBuilder::new(&self.regexes)
                    .size_limit(crate::ir::limits::MAX_REGEX_PROGRAM_BYTES.saturating_mul(16))
                    .build()
                    .map_err(|e| e.to_string())?,
            )
        };
        next = next.saturating_add(self.regexes.len());
        Ok((FieldIndex { literals, regexes, regex_base }, offsets, regex_base, next))
    }
}

/// The matchers of one field.
#[derive(Debug)]
pub(super) struct FieldIndex {
    pub(super) literals: Vec<Literals>,
    regexes: Option<RegexSet>,
    regex_base: usize,
}

impl FieldIndex {
    /// Scans `text` once per view in use and once through the regular expressions.
    pub(super) fn scan(&self, text: &str, hits: &mut [u8], scratch: &mut ScanScratch) {
        for literals in &self.literals {
            if literals.view == View::ALL[0] {
                literals.scan(text, hits, scratch);
            } else {
                let mut folded = std::mem::take(&mut scratch.view_text);
                literals.view.apply_into(text, &mut folded);
                literals.scan(&folded, hits, scratch);
                scratch.view_text = folded;
            }
        }
        if let Some(set) = &self.regexes {
            for matched in set.matches(text).iter() {
                let slot = self.regex_base.saturating_add(matched);
                if let Some(hit) = hits.get_mut(slot) {
                    if *hit == 0 {
                        scratch.touched.push(u32::try_from(slot).unwrap_or(u32::MAX));
                    }
                    *hit = 1;
                }
            }
        }
    }
}

/// A glob as an anchored regular expression: `*` any run, `?` one character,
/// case folded with `(?i)` (the same simple folding as [`crate::fold`]), and
/// windash characters as a class of the five.
pub(super) fn glob_regex(parts: &[GlobPart], case: Case, windash: bool) -> String {
    let mut out = String::from(if case == Case::Insensitive { "(?si)^" } else { "(?s)^" });
    for part in parts {
        match part {
            GlobPart::AnyRun => out.push_str(".*"),
            GlobPart::AnyChar => out.push('.'),
            GlobPart::Literal(text) => {
                for c in text.chars() {
                    if windash && WINDASH.contains(&c) {
                        out.push_str("[\\-/\u{2013}\u{2014}\u{2015}]");
                    } else {
                        let mut buf = [0u8; 4];
                        out.push_str(&regex::escape(c.encode_utf8(&mut buf)));
                    }
                }
            }
        }
    }
    out.push('$');
    out
}

/// A Sigma `re` value with its flags, as one pattern of a `RegexSet`.
pub(super) fn flagged_regex(source: &str, case: Case, multi_line: bool, dot_all: bool) -> String {
    let mut flags = String::new();
    if case == Case::Insensitive {
        flags.push('i');
    }
    if multi_line {
        flags.push('m');
    }
    if dot_all {
        flags.push('s');
    }
    if flags.is_empty() { source.to_owned() } else { format!("(?{flags}){source}") }
}
