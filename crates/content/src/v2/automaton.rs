//! One pass per field: the Aho-Corasick scan of a field's text that finds
//! every literal pattern of every predicate on that field, and the glob
//! simulation.
//!
//! **Scan.** Each unit is folded (when the scanner folds case), mapped to its
//! alphabet class (a 128-entry ASCII table, then a binary search among the
//! non-ASCII units patterns hold; any other unit is class 0), and fed to the
//! automaton: the root's goto row is dense, other states' rows are sorted and
//! searched; a missing goto follows the failure link. The validator proved
//! that a goto leads exactly one unit deeper and a failure link strictly
//! shallower, so the depth rises by at most one per unit and every failure
//! step lowers it: failure steps ≤ text length. After each unit the state's
//! output and its dictionary-suffix chain are marked *contained*; the walk
//! stops at the first pattern already marked (its own chain was marked with
//! it), so chain steps ≤ patterns + text length.
//!
//! The same pass yields the anchored operators: while the state's depth equals
//! the units read, the state *is* the text read so far, and its output is a
//! *prefix* of the text; if that still holds at the end, its output *equals*
//! the text. At the end, the final state's output and whole dictionary chain
//! are the patterns the text *ends with*.
//!
//! **Globs** (`*`, `?`, literal units; at most 63 tokens) run as a bit-parallel
//! NFA (shift-and): bit k of one u64 says "the first k tokens match a prefix of
//! the text read". Per unit: one binary search for the unit's token mask among
//! at most 63 entries, and a constant number of word operations; a `*` keeps
//! its bit and the closure over it is one shift, since the compiler never
//! emits two stars in a row. Linear in the text, no backtracking.
//!
//! Every step is charged on the [`Meter`]; [`super::cost`] bounds the sum.

use super::content::{Content, ScannerEntry, ix};
use super::fold::fold_unit;
use super::format::NONE;
use super::format::{class, glob_unit, goto, section, state};
use ringfence_wire::bytes::{u16_at, u32_at, u64_at};

/// Entries of a class table's ASCII part.
const ASCII: u32 = 128;
use crate::meter::Meter;
use ringfence_wire::Text;

/// Bitsets over the content's patterns, and the candidate rules, in the
/// caller's scratch memory.
pub(crate) struct Hits<'s> {
    words: &'s mut [u64],
    /// Words per bitset.
    stride: usize,
    /// One bit per rule: the rules to evaluate.
    pub(crate) candidates: &'s mut [u64],
}

/// Which bitset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hit {
    Contained = 0,
    Prefix = 1,
    Suffix = 2,
    Whole = 3,
}

impl<'s> Hits<'s> {
    /// Cleared bitsets for `patterns` patterns and `rules` rules; `None` when `scratch` is too small.
    pub(crate) fn new(scratch: &'s mut [u64], patterns: usize, rules: usize) -> Option<Self> {
        let stride = patterns.div_ceil(64);
        let (words, rest) = scratch.split_at_mut_checked(stride.checked_mul(4)?)?;
        let candidates = rest.get_mut(..rules.div_ceil(64))?;
        words.fill(0);
        candidates.fill(0);
        Some(Hits { words, stride, candidates })
    }

    /// Word `word` of bitset `hit` (0 outside).
    #[inline(always)]
    pub(crate) fn word(&self, hit: Hit, word: usize) -> u64 {
        let slot = (hit as usize).saturating_mul(self.stride).saturating_add(word);
        self.words.get(slot).copied().unwrap_or(0)
    }

    /// Marks rule `index` as a candidate.
    #[inline(always)]
    pub(crate) fn candidate(&mut self, index: usize) {
        if let Some(w) = self.candidates.get_mut(index / 64) {
            *w |= 1u64 << (index % 64);
        }
    }

    #[inline(always)]
    fn slot(&self, hit: Hit, pattern: usize) -> usize {
        (hit as usize).saturating_mul(self.stride).saturating_add(pattern / 64)
    }

    #[inline(always)]
    pub(crate) fn get(&self, hit: Hit, pattern: usize) -> bool {
        let bit = 1u64 << (pattern % 64);
        self.words.get(self.slot(hit, pattern)).is_some_and(|w| w & bit != 0)
    }

    /// Sets the bit; answers whether it was already set (an unknown pattern counts as set).
    #[inline(always)]
    fn set(&mut self, hit: Hit, pattern: usize) -> bool {
        let bit = 1u64 << (pattern % 64);
        let slot = self.slot(hit, pattern);
        match self.words.get_mut(slot) {
            Some(w) => {
                let was = *w & bit != 0;
                *w |= bit;
                was
            }
            None => true,
        }
    }
}

/// Binary search steps charged for a search among `n` entries.
#[inline(always)]
fn search_steps(n: u32) -> u64 {
    u64::from(u32::BITS.saturating_sub(n.leading_zeros())).saturating_add(1)
}

/// One scanner's tables, sliced once per scan: every read is a bounds-checked
/// `get` on a local slice (in validated content every read succeeds).
struct Automaton<'a> {
    s: ScannerEntry,
    /// The scanner's class entries (4 bytes each).
    classes: &'a [u8],
    /// The scanner's states (24 bytes each), indexed by local state.
    states: &'a [u8],
    /// The whole goto table (rows are addressed by global entry).
    gotos: &'a [u8],
}

/// The parts of a state entry the scan reads.
#[derive(Clone, Copy)]
struct State {
    depth: u32,
    fail: u32,
    dict: u32,
    output: u32,
    first_goto: u32,
    goto_count: u32,
}

#[inline(always)]
fn word_at(e: &[u8], at: usize) -> u32 {
    u32_at(e, at).unwrap_or(0)
}

impl<'a> Automaton<'a> {
    fn new(content: &Content<'a>, s: ScannerEntry) -> Self {
        let slice = |id: u16, first: u32, count: u32, len: usize| {
            let start = ix(first).saturating_mul(len);
            let end = start.saturating_add(ix(count).saturating_mul(len));
            content.table(id).get(start..end).unwrap_or(&[])
        };
        Automaton {
            s,
            classes: slice(section::CLASSES, s.first_class, s.class_entries, class::LEN),
            states: slice(section::STATES, s.first_state, s.state_count, state::LEN),
            gotos: content.table(section::GOTOS),
        }
    }

    #[inline(always)]
    fn state(&self, local: u32) -> Option<State> {
        let start = ix(local).saturating_mul(state::LEN);
        let e = self.states.get(start..start.saturating_add(state::LEN))?;
        Some(State {
            depth: word_at(e, state::DEPTH),
            fail: word_at(e, state::FAIL),
            dict: word_at(e, state::DICT),
            output: word_at(e, state::OUTPUT),
            first_goto: word_at(e, state::FIRST_GOTO),
            goto_count: word_at(e, state::GOTO_COUNT),
        })
    }

    /// (class, target) of goto entry `index` (global).
    #[inline(always)]
    fn goto_entry(&self, index: u32) -> Option<(u16, u32)> {
        let start = ix(index).saturating_mul(goto::LEN);
        let e = self.gotos.get(start..start.saturating_add(goto::LEN))?;
        Some((u16_at(e, goto::CLASS)?, u32_at(e, goto::TARGET)?))
    }

    #[inline(always)]
    fn class(&self, unit: u16, meter: &mut Meter) -> u16 {
        let unit = if self.s.case == 1 { fold_unit(unit) } else { unit };
        meter.charge(1);
        let entry = |i: u32| {
            let start = ix(i).saturating_mul(class::LEN);
            let e = self.classes.get(start..start.saturating_add(class::LEN))?;
            Some((u16_at(e, class::UNIT)?, u16_at(e, class::CLASS)?))
        };
        if unit < 0x80 {
            return entry(u32::from(unit)).map_or(0, |e| e.1);
        }
        let n = self.s.class_entries.saturating_sub(ASCII);
        meter.charge(search_steps(n));
        let (mut lo, mut hi) = (0u32, n);
        while lo < hi {
            let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
            let Some((u, class)) = entry(ASCII.saturating_add(mid)) else { return 0 };
            match u.cmp(&unit) {
                core::cmp::Ordering::Equal => return class,
                core::cmp::Ordering::Less => lo = mid.saturating_add(1),
                core::cmp::Ordering::Greater => hi = mid,
            }
        }
        0
    }

    /// The goto of a non-root state on `class`, if it has one.
    #[inline(always)]
    fn goto(&self, st: &State, class: u16, meter: &mut Meter) -> Option<u32> {
        meter.charge(search_steps(st.goto_count));
        let (mut lo, mut hi) = (0u32, st.goto_count);
        while lo < hi {
            let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
            let (c, target) = self.goto_entry(st.first_goto.saturating_add(mid))?;
            match c.cmp(&class) {
                core::cmp::Ordering::Equal => return Some(target),
                core::cmp::Ordering::Less => lo = mid.saturating_add(1),
                core::cmp::Ordering::Greater => hi = mid,
            }
        }
        None
    }

    /// Marks `st`'s output and its dictionary chain as contained, stopping at the first already marked.
    #[inline(always)]
    fn contained(&self, st: &State, hits: &mut Hits<'_>, meter: &mut Meter) {
        let (mut output, mut dict) = (st.output, st.dict);
        loop {
            if output != NONE {
                meter.charge(1);
                if hits.set(Hit::Contained, ix(self.s.first_pattern.saturating_add(output))) {
                    return;
                }
            }
            if dict == NONE || meter.exhausted() {
                return;
            }
            meter.charge(1);
            let Some(next) = self.state(dict) else { return };
            if next.output == NONE {
                return;
            }
            (output, dict) = (next.output, next.dict);
        }
    }

    /// Marks `output` (if any) as `hit`.
    #[inline(always)]
    fn mark(&self, output: u32, hit: Hit, hits: &mut Hits<'_>) {
        if output != NONE && output < self.s.pattern_count {
            hits.set(hit, ix(self.s.first_pattern.saturating_add(output)));
        }
    }
}

/// Scans `head` ++ `tail` with scanner `s`, marking what it finds in `hits`.
pub(crate) fn scan(
    content: &Content<'_>,
    s: ScannerEntry,
    head: Text<'_>,
    tail: Text<'_>,
    hits: &mut Hits<'_>,
    meter: &mut Meter,
) {
    let a = Automaton::new(content, s);
    let Some(root) = a.state(0) else { return };
    let mut state = 0u32;
    let mut st = root;
    let mut read = 0u32;
    let mut anchored = true;
    a.mark(st.output, Hit::Prefix, hits);
    a.contained(&st, hits, meter);
    for unit in head.units().chain(tail.units()) {
        if meter.exhausted() {
            return;
        }
        let class = a.class(unit, meter);
        read = read.saturating_add(1);
        if state == 0 {
            // The root's dense row: one look-up; no edge leaves the scan at
            // the root, whose output (the empty pattern) is already marked.
            meter.charge(1);
            let target = a.goto_entry(root.first_goto.saturating_add(u32::from(class))).map_or(0, |g| g.1);
            if target == 0 {
                anchored = false;
                continue;
            }
            state = target;
        } else {
            loop {
                if let Some(target) = a.goto(&st, class, meter) {
                    state = target;
                    break;
                }
                meter.charge(1);
                state = st.fail;
                let Some(next) = a.state(state) else { return };
                st = next;
                if meter.exhausted() {
                    return;
                }
                if state == 0 {
                    meter.charge(1);
                    let target =
                        a.goto_entry(root.first_goto.saturating_add(u32::from(class))).map_or(0, |g| g.1);
                    state = target;
                    break;
                }
            }
        }
        let Some(next) = a.state(state) else { return };
        st = next;
        anchored = anchored && st.depth == read;
        if anchored {
            a.mark(st.output, Hit::Prefix, hits);
        }
        a.contained(&st, hits, meter);
    }
    if anchored {
        a.mark(st.output, Hit::Whole, hits);
    }
    // The final state's output and dictionary chain: every pattern the text ends with.
    let mut at = if st.output == NONE { st.dict } else { state };
    while at != NONE {
        meter.charge(1);
        if meter.exhausted() {
            return;
        }
        let Some(e) = a.state(at) else { return };
        a.mark(e.output, Hit::Suffix, hits);
        at = e.dict;
    }
}

/// Whether `head` ++ `tail` matches glob `index`.
pub(crate) fn glob_matches(
    content: &Content<'_>,
    index: usize,
    head: Text<'_>,
    tail: Text<'_>,
    meter: &mut Meter,
) -> bool {
    let Some(g) = content.glob(index) else { return false };
    if g.tokens > 63 {
        return false;
    }
    let star = g.star_mask;
    // The glob's unit table, sliced once.
    let start = ix(g.first_unit).saturating_mul(glob_unit::LEN);
    let end = start.saturating_add(usize::from(g.unit_count).saturating_mul(glob_unit::LEN));
    let units = content.table(section::GLOB_UNITS).get(start..end).unwrap_or(&[]);
    let entry = |i: u32| {
        let at = ix(i).saturating_mul(glob_unit::LEN);
        let e = units.get(at..at.saturating_add(glob_unit::LEN))?;
        Some((u16_at(e, glob_unit::UNIT)?, u64_at(e, glob_unit::MASK)?))
    };
    let mut d = 1u64;
    d |= (d & star) << 1;
    for unit in head.units().chain(tail.units()) {
        let unit = if g.case == 1 { fold_unit(unit) } else { unit };
        meter.charge(1u64.saturating_add(search_steps(u32::from(g.unit_count))));
        if meter.exhausted() {
            return false;
        }
        let mut m = g.any_mask;
        let (mut lo, mut hi) = (0u32, u32::from(g.unit_count));
        while lo < hi {
            let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
            let Some((u, mask)) = entry(mid) else { break };
            match u.cmp(&unit) {
                core::cmp::Ordering::Equal => {
                    m |= mask;
                    break;
                }
                core::cmp::Ordering::Less => lo = mid.saturating_add(1),
                core::cmp::Ordering::Greater => hi = mid,
            }
        }
        d = ((d & m) << 1) | (d & star);
        d |= (d & star) << 1;
        if d == 0 {
            return false;
        }
    }
    d & (1u64 << g.tokens) != 0
}
