//! Regular expressions → the `regexes` section's automata (feature
//! `compiler`, host only; layout: [`super::format::regex`]).
//!
//! The syntax and semantics are the `regex` crate's (what the companion stage
//! runs): [`regex_automata`] determinizes the expression into a dense DFA for
//! an unanchored search, and the states reachable from its start (at the
//! start of the text) are renumbered into the format's table: every match
//! state becomes the one accepting state (the search only asks whether a
//! match exists), every dead state the one dead state. A match is seen one
//! byte late in that DFA (or at the end of the text): the same in the
//! interpreter, which takes the row's last cell at the end.
//!
//! Refused, with the reason ([`RegexRefusal`]): what the syntax does not
//! parse (look-around and back-references are not in it), a Unicode word
//! boundary (`\b` over non-ASCII text has no DFA), a determinization over its
//! size limit, and an automaton over [`MAX_STATES`] states.
// Host-side code: counts are checked against the format's limits (far below
// u16) before they are narrowed.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

use super::format::regex::MAX_STATES;
use regex_automata::Anchored;
use regex_automata::dfa::{Automaton, StartKind, dense};
use regex_automata::util::primitives::StateID;
use regex_automata::util::{start, syntax};
use std::collections::HashMap;
use std::vec::Vec;

/// Memory the determinization may use (well above what [`MAX_STATES`] needs).
const DETERMINIZE_BYTES: usize = 32 << 20;

/// Why a regular expression has no automaton in format 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegexRefusal {
    /// Not the `regex` crate's syntax (look-around, back-references, an error).
    Syntax,
    /// `\b` or `\B` over Unicode text: no deterministic automaton.
    UnicodeWordBoundary,
    /// The determinization went past its memory limit.
    TooLarge,
    /// More states than [`MAX_STATES`].
    States { found: usize },
}

impl core::fmt::Display for RegexRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RegexRefusal::Syntax => f.write_str("outside the linear-time syntax"),
            RegexRefusal::UnicodeWordBoundary => f.write_str("a Unicode word boundary has no automaton"),
            RegexRefusal::TooLarge => f.write_str("the automaton is over the determinization's limit"),
            RegexRefusal::States { found } => {
                write!(f, "the automaton has more than {MAX_STATES} states ({found} at least)")
            }
        }
    }
}

/// A regular expression's automaton, ready to be written (format.rs's layout).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegexAutomaton {
    pub states: u16,
    pub classes: u16,
    pub start: u16,
    pub accept: u16,
    pub dead: u16,
    /// The class of each byte.
    pub class_of: [u16; 256],
    /// `states` rows of `classes + 1` cells.
    pub cells: Vec<u16>,
}

impl RegexAutomaton {
    /// The automaton's words, as stored in the section.
    pub fn words(&self) -> Vec<u16> {
        let mut out = std::vec![self.states, self.classes, self.start, self.accept, self.dead, 0];
        out.extend_from_slice(&self.class_of);
        out.extend_from_slice(&self.cells);
        out
    }
}

/// Compiles `source` (the `regex` crate's syntax; `case_insensitive` as a
/// leading `(?i)`) into an automaton for a search anywhere in a text.
pub fn compile_regex(source: &str, case_insensitive: bool) -> Result<RegexAutomaton, RegexRefusal> {
    let syntax = syntax::Config::new().case_insensitive(case_insensitive);
    let hir = syntax::parse_with(source, &syntax).map_err(|_| RegexRefusal::Syntax)?;
    if hir.properties().look_set().contains_word_unicode() {
        return Err(RegexRefusal::UnicodeWordBoundary);
    }
    let config = dense::Config::new()
        .start_kind(StartKind::Unanchored)
        .minimize(true)
        .determinize_size_limit(Some(DETERMINIZE_BYTES))
        .dfa_size_limit(Some(DETERMINIZE_BYTES));
    let dfa = dense::Builder::new()
        .syntax(syntax)
        .configure(config)
        .build(source)
        .map_err(|_| RegexRefusal::TooLarge)?;
    let begin =
        dfa.start_state(&start::Config::new().anchored(Anchored::No)).map_err(|_| RegexRefusal::TooLarge)?;
    let classes_of = dfa.byte_classes();
    let mut class_of = [0u16; 256];
    let mut representative: Vec<u8> = Vec::new();
    for b in 0..=255u8 {
        let class = classes_of.get(b);
        class_of[usize::from(b)] = u16::from(class);
        if usize::from(class) == representative.len() {
            representative.push(b);
        }
    }
    let classes = representative.len();
    // Numbering: accept 0, dead 1, then the others as reached from the start.
    const ACCEPT: u16 = 0;
    const DEAD: u16 = 1;
    let mut number: HashMap<StateID, u16> = HashMap::new();
    let mut order: Vec<StateID> = Vec::new();
    let id = |s: StateID, number: &mut HashMap<StateID, u16>, order: &mut Vec<StateID>| {
        if dfa.is_match_state(s) {
            return Ok(ACCEPT);
        }
        if dfa.is_quit_state(s) {
            // Only the Unicode word boundary heuristic makes quit states; it is off.
            return Err(RegexRefusal::UnicodeWordBoundary);
        }
        if dfa.is_dead_state(s) {
            return Ok(DEAD);
        }
        if let Some(&n) = number.get(&s) {
            return Ok(n);
        }
        let n = order.len() + 2;
        if n >= MAX_STATES {
            return Err(RegexRefusal::States { found: n + 1 });
        }
        number.insert(s, n as u16);
        order.push(s);
        Ok(n as u16)
    };
    let start = id(begin, &mut number, &mut order)?;
    let row = classes + 1;
    // Accept and dead lead back to themselves.
    let mut cells: Vec<u16> = std::vec![ACCEPT; row];
    cells.extend(std::iter::repeat_n(DEAD, row));
    let mut at = 0;
    while at < order.len() {
        let s = order[at];
        for &b in &representative {
            let next = dfa.next_state(s, b);
            cells.push(id(next, &mut number, &mut order)?);
        }
        let end = dfa.next_eoi_state(s);
        cells.push(id(end, &mut number, &mut order)?);
        at += 1;
    }
    let states = order.len() + 2;
    Ok(RegexAutomaton {
        states: states as u16,
        classes: classes as u16,
        start,
        accept: ACCEPT,
        dead: DEAD,
        class_of,
        cells,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the automaton over `text`'s UTF-8 bytes, as the interpreter does.
    fn run(a: &RegexAutomaton, text: &str) -> bool {
        let row = usize::from(a.classes) + 1;
        let mut s = a.start;
        for b in text.bytes() {
            if s == a.accept {
                return true;
            }
            s = a.cells[usize::from(s) * row + usize::from(a.class_of[usize::from(b)])];
        }
        s == a.accept || a.cells[usize::from(s) * row + usize::from(a.classes)] == a.accept
    }

    #[test]
    fn automata_agree_with_the_regex_crate() {
        let cases = [
            (r"^cmd\.exe$", false, ["cmd.exe", "xcmd.exe", "cmd.exe ", "CMD.EXE"]),
            (
                r"(?i)\\temp\\[a-z]{3,5}\.ps1",
                false,
                [r"C:\TEMP\abcd.PS1", r"c:\temp\ab.ps1", r"\temp\abc.ps1x", ""],
            ),
            (r"é+ü|ß", true, ["ÉÉÜ", "xsSx", "ß", "eu"]),
            (r"a|b$", false, ["xa", "xb", "bx", ""]),
            (r"", false, ["", "x", "yy", "z"]),
        ];
        for (source, ci, texts) in cases {
            let a = compile_regex(source, ci).unwrap();
            let oracle = regex::RegexBuilder::new(source).case_insensitive(ci).build().unwrap();
            for text in texts {
                assert_eq!(run(&a, text), oracle.is_match(text), "{source:?} on {text:?}");
            }
        }
    }

    #[test]
    fn constructs_without_an_automaton_are_refused_with_their_reason() {
        assert_eq!(compile_regex(r"(?=a)b", false), Err(RegexRefusal::Syntax));
        assert_eq!(compile_regex(r"(a)\1", false), Err(RegexRefusal::Syntax));
        assert_eq!(compile_regex(r"\bword\b", false), Err(RegexRefusal::UnicodeWordBoundary));
        assert!(compile_regex(r"(?-u:\b)word(?-u:\b)", false).is_ok());
        assert!(matches!(compile_regex(r"[ab]*a[ab]{10}", false), Err(RegexRefusal::States { .. })));
    }
}
