//! The states, gotos and pattern claims of one automaton, checked in one
//! sequential pass over the states and one over the gotos, answering only
//! whether they are sound.
//!
//! Validation spends most of its structural time here (a content of SigmaHQ's
//! size has about 500,000 states and as many gotos), so the passes decode each
//! entry once from a fixed-size array and build no error: the state pass
//! leaves at the first check that fails (on sound content no branch is taken,
//! so each is predicted), keeps the common state's checks to five branches
//! with the walk in registers, and sends the uncommon states (a new level, a
//! link to a dictionary, an output, a row of two gotos or more) out of line.
//! The goto pass folds its checks into one flag, which the compiler
//! vectorizes. They accept exactly what the precise checks of
//! [`super::validate`] accept, or less: when they refuse, the validator runs
//! the precise checks, which name the first fault. The conditions:
//!
//! - the root: depth 0, no failure or dictionary link, a dense goto row
//!   (entry `g` has class `g`) whose targets are 0 or the next state;
//! - every other state: depth 1 to [`MAX_PATTERN_UNITS`], each level starting
//!   one deeper exactly where the previous level's children begin; its gotos
//!   the next ones in the table; its failure link below the first state of
//!   its level, its dictionary link too and onto a state with an output; its
//!   output a pattern naming this state at this depth; a row of two gotos or
//!   more in strictly ascending class order;
//! - every goto past the root's row (one flat pass): reserved zero, a class
//!   below the class count (so a sorted row has at most one goto per class),
//!   leading to the next state in breadth-first order: past the root, the
//!   gotos lead to the states in table order, so the state a goto leads to
//!   follows from its position alone;
//! - at the end, every state reached, the deepest level without children, and
//!   as many outputs as patterns. Outputs name distinct patterns (each
//!   pattern names one state), so every pattern is claimed by its state and
//!   the pattern pass need not read the states again.

use super::content::ix;
use super::format::{MAX_PATTERN_UNITS, NONE, goto, pattern, state};

/// One scanner's tables, as the validator sliced them.
pub(super) struct Automaton<'a> {
    /// The scanner's state entries.
    pub states: &'a [u8],
    /// The goto table from the scanner's first goto to the table's end.
    pub gotos: &'a [u8],
    /// The scanner's pattern entries.
    pub patterns: &'a [u8],
    pub class_count: u32,
}

/// A state entry's six words.
struct State {
    depth: u32,
    fail: u32,
    dict: u32,
    output: u32,
    first_goto: u32,
    goto_count: u32,
}

/// What the pass carries from one state to the next.
#[derive(Clone, Copy)]
struct Walk {
    /// The current level, its first state, and where its states' children begin.
    depth: u32,
    level_start: u32,
    children: u32,
    /// The goto table's entry where the next row must start.
    next_goto: u32,
    /// `children = next_goto + lead` when a level opens.
    lead: u32,
    /// The scanner's first goto.
    first: u32,
    outputs: u32,
}

#[inline(always)]
fn word(e: &[u8], at: usize) -> u32 {
    e.get(at..).and_then(<[u8]>::first_chunk::<4>).map_or(NONE, |b| u32::from_le_bytes(*b))
}

#[inline(always)]
fn half(e: &[u8], at: usize) -> u32 {
    e.get(at..).and_then(<[u8]>::first_chunk::<2>).map_or(NONE, |b| u16::from_le_bytes(*b).into())
}

#[inline(always)]
fn decode(e: &[u8; state::LEN]) -> State {
    State {
        depth: word(e, state::DEPTH),
        fail: word(e, state::FAIL),
        dict: word(e, state::DICT),
        output: word(e, state::OUTPUT),
        first_goto: word(e, state::FIRST_GOTO),
        goto_count: word(e, state::GOTO_COUNT),
    }
}

/// A goto entry's (class, reserved, target).
#[inline(always)]
fn goto_entry(e: &[u8; goto::LEN]) -> (u32, u32, u32) {
    (half(e, goto::CLASS), half(e, goto::RESERVED), word(e, goto::TARGET))
}

/// A table's entries of `N` bytes, each as a fixed array (the table's length
/// is a multiple of `N`, checked by the directory).
#[inline(always)]
fn entries<const N: usize>(table: &[u8]) -> impl Iterator<Item = &[u8; N]> {
    table.chunks_exact(N).filter_map(|e| <&[u8; N]>::try_from(e).ok())
}

/// States checked per iteration of the state pass.
const BLOCK: usize = 4 * state::LEN;

/// A block's four states. The array's length is known, so the splits
/// compile to offsets with no branch.
#[inline(always)]
fn quarters(block: &[u8; BLOCK]) -> [&[u8; state::LEN]; 4] {
    const EMPTY: [u8; state::LEN] = [0; state::LEN];
    let (a, rest) = block.split_first_chunk::<{ state::LEN }>().unwrap_or((&EMPTY, &[]));
    let (b, rest) = rest.split_first_chunk::<{ state::LEN }>().unwrap_or((&EMPTY, &[]));
    let (c, rest) = rest.split_first_chunk::<{ state::LEN }>().unwrap_or((&EMPTY, &[]));
    [a, b, c, rest.first_chunk::<{ state::LEN }>().unwrap_or(&EMPTY)]
}

impl Automaton<'_> {
    /// The output of state `local`, or [`NONE`].
    #[inline(always)]
    fn output_of(&self, local: u32) -> u32 {
        let at = usize::try_from(local)
            .ok()
            .and_then(|l| l.checked_mul(state::LEN))
            .and_then(|a| a.checked_add(state::OUTPUT));
        at.map_or(NONE, |a| word(self.states, a))
    }

    /// Whether pattern `output` names state `local` at length `depth`.
    #[inline(always)]
    fn claims(&self, output: u32, local: u32, depth: u32) -> bool {
        let at = usize::try_from(output).ok().and_then(|o| o.checked_mul(pattern::LEN));
        let Some(e) = at.and_then(|a| self.patterns.get(a..)).and_then(<[u8]>::first_chunk::<8>) else {
            return false;
        };
        word(e, pattern::STATE) == local && word(e, pattern::LEN_UNITS) == depth
    }

    /// The number of gotos the automaton uses when every check holds (its
    /// first goto is entry `first` of the goto table); `None` otherwise.
    /// Out of line: inlined into the validator, its loop had its counters
    /// spilled to the stack.
    #[inline(never)]
    pub(super) fn sound(&self, first: u32) -> Option<u32> {
        let class_count = self.class_count;
        let (root, states) = self.states.split_first_chunk::<{ state::LEN }>()?;
        let root = decode(root);
        let root_len = ix(class_count).checked_mul(goto::LEN)?;
        let (row, _) = self.gotos.split_at_checked(root_len)?;
        let mut bad = (root.depth != 0)
            | (root.fail != 0)
            | (root.dict != NONE)
            | (root.goto_count != class_count)
            | (root.first_goto != first);
        let mut outputs = 0u32;
        if root.output != NONE {
            bad |= !self.claims(root.output, 0, 0);
            outputs = 1;
        }
        let mut next = 1u32;
        for (g, e) in (0u32..).zip(entries::<{ goto::LEN }>(row)) {
            let (class, reserved, target) = goto_entry(e);
            bad |= (class != g) | (reserved != 0) | (target != 0 && target != next);
            next = next.wrapping_add(u32::from(target != 0));
        }
        // The first state after the root opens depth 1; later depths only rise one level at a time.
        bad |= states.first_chunk::<4>().is_some_and(|d| u32::from_le_bytes(*d) == 0);
        if bad {
            return None;
        }
        // Past the root, the gotos lead to the states in order: the state the
        // next goto must lead to is `used + lead`.
        let lead = next.wrapping_sub(class_count);
        let mut w = Walk {
            depth: 0,
            level_start: 0,
            children: 1,
            next_goto: first.wrapping_add(class_count),
            lead: lead.wrapping_sub(first),
            first,
            outputs,
        };
        // Four states per iteration: a quarter of the loop's own instructions.
        let mut blocks = states.chunks_exact(BLOCK);
        for block in &mut blocks {
            let Ok(block) = <&[u8; BLOCK]>::try_from(block) else { break };
            let [a, b, c, d] = quarters(block);
            self.state(&mut w, a)?;
            self.state(&mut w, b)?;
            self.state(&mut w, c)?;
            self.state(&mut w, d)?;
        }
        for e in entries::<{ state::LEN }>(blocks.remainder()) {
            self.state(&mut w, e)?;
        }
        let used = w.next_goto.wrapping_sub(first);
        // Every goto past the root's row, in one flat pass: reserved zero, its
        // class in range, leading to the next state in breadth-first order.
        let rest = self.gotos.get(root_len..ix(used).checked_mul(goto::LEN)?)?;
        for e in entries::<{ goto::LEN }>(rest) {
            let (class, reserved, target) = goto_entry(e);
            bad |= (reserved != 0) | (class >= class_count) | (target != next);
            next = next.wrapping_add(1);
        }
        let count = u32::try_from(self.states.len() / state::LEN).ok()?;
        let patterns = u32::try_from(self.patterns.len() / pattern::LEN).ok()?;
        (!bad && next == count && w.children == count && w.outputs == patterns).then_some(used)
    }

    /// The checks of one state past the root, `None` at the first that
    /// fails. The common state (same level as the previous one, no link to a
    /// dictionary, no output, one goto or none) takes five branches, none
    /// taken on sound content, with the walk in registers.
    #[inline(always)]
    fn state(&self, w: &mut Walk, e: &[u8; state::LEN]) -> Option<()> {
        let s = decode(e);
        if s.depth != w.depth || s.dict & s.output != NONE || s.goto_count > 1 {
            *w = self.uncommon_state(*w, e)?;
            return Some(());
        }
        // Links strictly shallower: below the first state of this level.
        if s.fail >= w.level_start || s.first_goto != w.next_goto {
            return None;
        }
        w.next_goto = w.next_goto.wrapping_add(s.goto_count);
        Some(())
    }

    /// [`Self::state`] for a state that opens a level, links to a
    /// dictionary, has an output or a row of two gotos or more (one state in
    /// sixteen in a content of SigmaHQ's shape): out of line, so that the common path keeps the walk in
    /// registers.
    #[cold]
    #[inline(never)]
    fn uncommon_state(&self, mut w: Walk, e: &[u8; state::LEN]) -> Option<Walk> {
        let (s, local) = (decode(e), self.index_of(e));
        if s.depth != w.depth {
            self.open_level(&mut w, local, s.depth)?;
        }
        if s.fail >= w.level_start || s.first_goto != w.next_goto {
            return None;
        }
        self.links(&mut w, local, &s)?;
        if s.goto_count > 1 {
            self.row(&w, s.goto_count)?;
        }
        w.next_goto = w.next_goto.wrapping_add(s.goto_count);
        Some(w)
    }

    /// The index of state entry `e`, which lies in `self.states` (worked out
    /// from its address only where a check needs it).
    #[inline(always)]
    fn index_of(&self, e: &[u8; state::LEN]) -> u32 {
        let offset = (e.as_ptr() as usize).wrapping_sub(self.states.as_ptr() as usize);
        u32::try_from(offset / state::LEN).unwrap_or(NONE)
    }

    /// State `local` opens level `depth`: one deeper, exactly where the
    /// previous level's children begin.
    #[inline(always)]
    fn open_level(&self, w: &mut Walk, local: u32, depth: u32) -> Option<()> {
        let fits = depth == w.depth.wrapping_add(1) && local == w.children && ix(depth) <= MAX_PATTERN_UNITS;
        (w.depth, w.level_start) = (depth, local);
        w.children = w.next_goto.wrapping_add(w.lead);
        fits.then_some(())
    }

    /// State `local`'s dictionary link (strictly shallower, onto a state with
    /// an output) and its output (a pattern naming this state at this depth).
    #[inline(always)]
    fn links(&self, w: &mut Walk, local: u32, s: &State) -> Option<()> {
        if s.dict != NONE && (s.dict >= w.level_start || self.output_of(s.dict) == NONE) {
            return None;
        }
        if s.output != NONE {
            if !self.claims(s.output, local, s.depth) {
                return None;
            }
            w.outputs = w.outputs.wrapping_add(1);
        }
        Some(())
    }

    /// A row of two gotos or more, from `w.next_goto`: strictly ascending
    /// classes (which, all below the class count, also bound its length).
    #[inline(always)]
    fn row(&self, w: &Walk, count: u32) -> Option<()> {
        let start = ix(w.next_goto.wrapping_sub(w.first)).checked_mul(goto::LEN)?;
        let end = ix(count).checked_mul(goto::LEN)?.checked_add(start)?;
        let mut lowest = 0u32;
        for e in entries::<{ goto::LEN }>(self.gotos.get(start..end)?) {
            let (class, _, _) = goto_entry(e);
            if class < lowest {
                return None;
            }
            lowest = class.wrapping_add(1);
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::Role;
    use super::super::build::{ExprSpec, OperatorSpec, PredicateSpec, RuleSpec, ValueSpec, build};
    use super::super::format::{header, pattern, section};
    use super::super::validate::automaton_answers;
    use ringfence_wire::{EventKind, SCHEMA};
    use std::string::ToString;
    use std::vec::Vec;

    const IMAGE: u8 = 5;
    const COMMAND_LINE: u8 = 6;

    /// Patterns whose automata have branching rows, failure links to every
    /// depth, dictionary links (`he` inside `she`), and non-ASCII classes.
    fn content() -> Vec<u8> {
        let predicate = |field, operator, values: &[&str], case_insensitive| PredicateSpec {
            field,
            operator,
            values: values.iter().map(|v| ValueSpec::Text(v.to_string())).collect(),
            all: false,
            case_insensitive,
            windash: false,
        };
        let rules = [
            (COMMAND_LINE, OperatorSpec::Contains, &["he", "she", "his", "hers", "ushers"][..], true),
            (COMMAND_LINE, OperatorSpec::Contains, &["-enc", "-encodedcommand", "é€x"][..], false),
            (IMAGE, OperatorSpec::EndsWith, &["\\cmd.exe", "\\powershell.exe", "\\pwsh.exe"][..], true),
        ];
        let rules: Vec<RuleSpec> = (0u32..)
            .zip(rules)
            .map(|(id, (field, operator, values, ci))| RuleSpec {
                id,
                kind: EventKind::ProcessStart,
                role: Role::Detection,
                name: "rule".to_string(),
                meta: std::string::String::new(),
                predicates: std::vec![predicate(field, operator, values, ci)],
                condition: ExprSpec::Predicate(0),
            })
            .collect();
        build(&rules, &SCHEMA, 1).unwrap()
    }

    /// The byte range of section `id` in `bytes`.
    fn section_range(bytes: &[u8], id: u16) -> core::ops::Range<usize> {
        let at = header::LEN + usize::from(id - 1) * section::ENTRY_LEN;
        let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        let offset = word(at + section::OFFSET);
        offset..offset + word(at + section::LEN)
    }

    #[test]
    fn the_state_pass_accepts_sound_automata() {
        let answers = automaton_answers(&content(), &SCHEMA);
        assert_eq!(answers.len(), 3);
        for (fast, precise) in answers {
            assert!(fast.is_some());
            assert_eq!(fast, precise);
        }
    }

    /// Every 16-bit half of the states, gotos and pattern-state tables set to
    /// nearby and extreme values: the pass refuses exactly what the precise
    /// checks refuse, so a content it accepts is one they accept.
    #[test]
    fn the_state_pass_agrees_with_the_precise_checks_on_every_small_corruption() {
        let sound = content();
        let (mut cases, mut refused) = (0, 0);
        for id in [section::STATES, section::GOTOS, section::PATTERNS] {
            let range = section_range(&sound, id);
            for at in range.clone().step_by(2) {
                // A pattern's rule references are the pattern pass's, not this pass's.
                if id == section::PATTERNS && (at - range.start) % pattern::LEN >= pattern::FIRST_REF {
                    continue;
                }
                let was = u16::from_le_bytes([sound[at], sound[at + 1]]);
                for value in [was.wrapping_add(1), was.wrapping_sub(1), 0, 1, 2, u16::MAX, was ^ 0x100] {
                    if value == was {
                        continue;
                    }
                    let mut bytes = sound.clone();
                    bytes[at..at + 2].copy_from_slice(&value.to_le_bytes());
                    let answers = automaton_answers(&bytes, &SCHEMA);
                    for (fast, precise) in &answers {
                        assert_eq!(fast, precise, "byte {at} of section {id}: {was:#x} -> {value:#x}");
                    }
                    cases += 1;
                    refused += usize::from(answers.iter().any(|(_, precise)| precise.is_none()));
                }
            }
        }
        assert!(refused * 10 > cases * 9, "{refused} of {cases} refused");
    }
}
