//! A gated rule's kernel default (format.rs, "Kernel defaults"): the value
//! its expression takes, whatever its other predicates are, when every
//! predicate its candidate lists stand for (format.rs, "Candidate rules") is
//! false on a sensor field and unknown on a companion field. Computed by the
//! builder and recomputed by the validator from the rule's code and its
//! lists, by one function: [`of_code`].
//!
//! The analysis runs the code over *sets* of truth values (bit 0 false, bit 1
//! unknown, bit 2 true): a listed predicate on a sensor field is {false},
//! one on a companion field {unknown}, every other predicate any of the three.
//! Each operation gives every value it can give over every choice from its
//! operands' sets, so the result holds every value the rule can take (more if
//! a predicate appears twice). Only a single-value result is a default.

use super::format::{MAX_STACK, code, rule};
use ringfence_wire::schema::COMPANION_BASE;

/// The value sets.
const FALSE: u8 = 1;
const UNKNOWN: u8 = 2;
const TRUE: u8 = 4;
const ANY: u8 = FALSE | UNKNOWN | TRUE;

/// What the analysis assumes of one predicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Assumed {
    /// A listed predicate on a sensor field: false.
    False,
    /// A listed predicate on a companion field: unknown.
    Unknown,
    /// Anything.
    Any,
}

impl Assumed {
    const fn set(self) -> u8 {
        match self {
            Assumed::False => FALSE,
            Assumed::Unknown => UNKNOWN,
            Assumed::Any => ANY,
        }
    }
}

/// What the analysis assumes of a predicate reading `field`, literal (an
/// automaton's patterns, or a glob or regex predicate gated on every value)
/// or not.
pub(crate) const fn assume(literal: bool, field: u8) -> Assumed {
    match (literal, field >= COMPANION_BASE) {
        (false, _) => Assumed::Any,
        (true, false) => Assumed::False,
        (true, true) => Assumed::Unknown,
    }
}

/// `set` when `holds`, else no value.
const fn bits(holds: bool, set: u8) -> u8 {
    if holds { set } else { 0 }
}

/// `Kleene AND` over operand sets: false if any can be false, true if all
/// can be true, unknown if all can be unknown or true and one can be unknown.
fn and(sets: &[u8]) -> u8 {
    let any = |bit: u8| sets.iter().any(|s| s & bit != 0);
    let all = |bits: u8| sets.iter().all(|s| s & bits != 0);
    bits(any(FALSE), FALSE) | bits(all(TRUE), TRUE) | bits(all(UNKNOWN | TRUE) && any(UNKNOWN), UNKNOWN)
}

/// `Kleene OR`, the dual.
fn or(sets: &[u8]) -> u8 {
    let any = |bit: u8| sets.iter().any(|s| s & bit != 0);
    let all = |bits: u8| sets.iter().all(|s| s & bits != 0);
    bits(any(TRUE), TRUE) | bits(all(FALSE), FALSE) | bits(all(UNKNOWN | FALSE) && any(UNKNOWN), UNKNOWN)
}

fn not(set: u8) -> u8 {
    (set & UNKNOWN) | bits(set & FALSE != 0, TRUE) | bits(set & TRUE != 0, FALSE)
}

/// The default code ([`rule::DEFAULT_NONE`], [`rule::DEFAULT_FALSE`] or
/// [`rule::DEFAULT_UNKNOWN`]) of the rule whose code is `code` and whose
/// predicate `i` is assumed `assumed(i)`. Malformed code (underflow, an
/// unknown opcode, more than [`MAX_STACK`] results, not exactly one at the
/// end) has none.
pub(crate) fn of_code(code: impl Iterator<Item = (u8, u16)>, assumed: impl Fn(u16) -> Assumed) -> u8 {
    let mut stack = [0u8; MAX_STACK];
    let mut depth = 0usize;
    for (op, arg) in code {
        let result = match op {
            code::PRED => assumed(arg).set(),
            code::AND | code::OR => {
                let Some(start) = depth.checked_sub(usize::from(arg)) else { return rule::DEFAULT_NONE };
                let Some(operands) = stack.get(start..depth) else { return rule::DEFAULT_NONE };
                let set = if op == code::AND { and(operands) } else { or(operands) };
                depth = start;
                set
            }
            code::NOT => {
                let Some(top) = depth.checked_sub(1) else { return rule::DEFAULT_NONE };
                depth = top;
                not(stack.get(top).copied().unwrap_or(ANY))
            }
            _ => return rule::DEFAULT_NONE,
        };
        let Some(slot) = stack.get_mut(depth) else { return rule::DEFAULT_NONE };
        *slot = result;
        depth = depth.saturating_add(1);
    }
    match (depth, stack.first().copied()) {
        (1, Some(FALSE)) => rule::DEFAULT_FALSE,
        (1, Some(UNKNOWN)) => rule::DEFAULT_UNKNOWN,
        _ => rule::DEFAULT_NONE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default(code: &[(u8, u16)], assumed: &[Assumed]) -> u8 {
        of_code(code.iter().copied(), |i| assumed.get(usize::from(i)).copied().unwrap_or(Assumed::Any))
    }

    const P0: (u8, u16) = (code::PRED, 0);
    const P1: (u8, u16) = (code::PRED, 1);
    const P2: (u8, u16) = (code::PRED, 2);

    #[test]
    fn an_image_or_its_original_file_name_is_unknown() {
        let code = [P0, P1, (code::OR, 2)];
        assert_eq!(default(&code, &[Assumed::False, Assumed::Unknown]), rule::DEFAULT_UNKNOWN);
    }

    #[test]
    fn and_a_command_line_not_found_it_is_false() {
        let code = [P0, P1, (code::OR, 2), P2, (code::AND, 2)];
        assert_eq!(default(&code, &[Assumed::False, Assumed::Unknown, Assumed::False]), rule::DEFAULT_FALSE);
    }

    #[test]
    fn anything_else_beside_an_unknown_leaves_no_default() {
        // unknown AND any: false or unknown.
        let code = [P0, P1, (code::AND, 2)];
        assert_eq!(default(&code, &[Assumed::Unknown, Assumed::Any]), rule::DEFAULT_NONE);
        // unknown OR any: true or unknown.
        let code = [P0, P1, (code::OR, 2)];
        assert_eq!(default(&code, &[Assumed::Unknown, Assumed::Any]), rule::DEFAULT_NONE);
        // false AND any stays false; NOT of it is true: no default.
        let code = [P0, P1, (code::AND, 2), (code::NOT, 0)];
        assert_eq!(default(&code, &[Assumed::False, Assumed::Any]), rule::DEFAULT_NONE);
    }

    #[test]
    fn negation_keeps_unknown_and_empty_operators_are_constants() {
        assert_eq!(default(&[P0, (code::NOT, 0)], &[Assumed::Unknown]), rule::DEFAULT_UNKNOWN);
        assert_eq!(default(&[(code::OR, 0)], &[]), rule::DEFAULT_FALSE);
        assert_eq!(default(&[(code::AND, 0)], &[]), rule::DEFAULT_NONE);
    }

    #[test]
    fn malformed_code_has_no_default() {
        assert_eq!(default(&[(code::AND, 1)], &[]), rule::DEFAULT_NONE);
        assert_eq!(default(&[P0, P0], &[Assumed::False]), rule::DEFAULT_NONE);
        assert_eq!(default(&[(9, 0)], &[]), rule::DEFAULT_NONE);
        assert_eq!(default(&[(code::NOT, 0)], &[]), rule::DEFAULT_NONE);
    }

    #[test]
    fn the_sets_are_kleene_logic_over_every_choice() {
        let values = [FALSE, UNKNOWN, TRUE];
        let truth = |v: u8| match v {
            FALSE => super::super::expr::Truth::False,
            UNKNOWN => super::super::expr::Truth::Unknown,
            _ => super::super::expr::Truth::True,
        };
        let bit = |t: super::super::expr::Truth| match t {
            super::super::expr::Truth::False => FALSE,
            super::super::expr::Truth::Unknown => UNKNOWN,
            super::super::expr::Truth::True => TRUE,
        };
        for a in 1..=ANY {
            for b in 1..=ANY {
                let (mut want_and, mut want_or) = (0, 0);
                for &x in values.iter().filter(|&&x| a & x != 0) {
                    for &y in values.iter().filter(|&&y| b & y != 0) {
                        want_and |= bit(truth(x).and(truth(y)));
                        want_or |= bit(truth(x).or(truth(y)));
                    }
                }
                assert_eq!(and(&[a, b]), want_and, "{a} and {b}");
                assert_eq!(or(&[a, b]), want_or, "{a} or {b}");
            }
            let want_not = values.iter().filter(|&&x| a & x != 0).fold(0, |s, &x| s | bit(truth(x).not()));
            assert_eq!(not(a), want_not);
        }
    }
}
