//! One pass per field: the Aho-Corasick scan of a field's text that finds
//! every literal pattern of every predicate on that field, and the glob
//! simulation.
//!
//! **Scan.** Each unit is folded (when the scanner folds case), mapped to its
//! alphabet class (a 128-entry ASCII table, then a binary search among the
//! non-ASCII units patterns hold; any other unit is class 0), and fed to the
//! automaton: the root's goto row is dense, other states' rows are sorted and
//! searched (in order when short, by halves otherwise); a missing goto follows
//! the failure link. At the root, a run of ASCII units without a root edge
//! (which units have one is looked up on a unit's first appearance in the
//! field, then remembered in a 128-bit set) is skipped in a loop of a few
//! instructions per unit, charged as the full step charges each unit.
//!
//! With a transition table attached ([`super::transitions`]), a state that
//! has a row (the shallowest states) steps on an ASCII unit in one read,
//! failure links already followed, charged as the goto search charges at
//! least without it (the root one step, any other state two); a walk that
//! falls back to such a state reads its row too. Past the text's start, the
//! ASCII units are one run, with two tight loops in it: through states with
//! rows and nothing to mark (a row entry flags the states with an output or
//! a dictionary link), a few instructions a unit; and through the states
//! past the rows, on an edge of a goto row of at most eight entries, into
//! states with nothing to mark (the chains of a pattern's tail), where a
//! state whose edge word holds its one edge is stepped from that word alone
//! (no read of its entry or goto row), up to and into a state to mark. Any
//! other unit, one past ASCII too, takes the step without leaving the run;
//! the step too reads a state's one edge from its edge word, and does not
//! read a state that a row entry or an edge word says has nothing to mark.
//!
//! The validator proved that a goto leads exactly one unit deeper and a
//! failure link strictly shallower, so the depth rises by at most one per unit and every failure
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
use super::transitions::{EDGE, EDGE_CLASS, EDGE_CLASSES, EDGE_MARKS, EDGE_TARGET, MARKS, Rows};
use ringfence_wire::bytes::{u16_at, u32_at, u64_at};

/// Entries of a class table's ASCII part.
const ASCII: u32 = 128;
use crate::meter::{FORMAT2_STEP, Meter};
use ringfence_wire::Text;

/// Bitsets over the content's patterns, and the candidate rules, in the
/// caller's scratch memory.
///
/// Only the *contained* bitset and the candidates are cleared per event. A
/// pattern's *prefix*, *suffix* and *whole* bits count only while its
/// *contained* bit is set, and are cleared when that bit is first set in the
/// evaluation: every pattern marked prefix, suffix or whole was marked
/// contained before (the scan marks a state's output and dictionary chain
/// contained before its anchored marks), so those bits never need clearing
/// up front, and whatever the scratch memory held before reads as unset.
pub(crate) struct Hits<'s> {
    words: &'s mut [u64],
    /// Words per bitset.
    stride: usize,
    /// One bit per rule: the rules to evaluate (listed by a pattern found, or in `always`).
    pub(crate) candidates: &'s mut [u64],
    /// One bit per rule: the rules listed by a pattern of a field the event
    /// answers unknown for (evaluated, or given their kernel default).
    pub(crate) unknowns: &'s mut [u64],
}

/// Sets rule `index`'s bit in a candidate bitset.
#[inline(always)]
pub(crate) fn mark_candidate(candidates: &mut [u64], index: usize) {
    if let Some(w) = candidates.get_mut(index / 64) {
        *w |= 1u64 << (index % 64);
    }
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
    /// Bitsets for `patterns` patterns and `rules` rules, the contained one and
    /// the candidates cleared; `None` when `scratch` is too small.
    pub(crate) fn new(scratch: &'s mut [u64], patterns: usize, rules: usize) -> Option<Self> {
        let stride = patterns.div_ceil(64);
        let (words, rest) = scratch.split_at_mut_checked(stride.checked_mul(4)?)?;
        let (candidates, rest) = rest.split_at_mut_checked(rules.div_ceil(64))?;
        let unknowns = rest.get_mut(..rules.div_ceil(64))?;
        words.get_mut(..stride)?.fill(0);
        candidates.fill(0);
        unknowns.fill(0);
        Some(Hits { words, stride, candidates, unknowns })
    }

    /// Words `first .. end` of the contained bitset (empty when outside), and
    /// the candidate bitset (`found`) or the unknowns', borrowed apart.
    #[inline(always)]
    pub(crate) fn contained_and_candidates(
        &mut self,
        first: usize,
        end: usize,
        found: bool,
    ) -> (&[u64], &mut [u64]) {
        let words = if end > self.stride { &[] } else { self.words.get(first..end).unwrap_or(&[]) };
        (words, if found { &mut *self.candidates } else { &mut *self.unknowns })
    }

    /// Marks rule `index` as a candidate.
    #[inline(always)]
    pub(crate) fn candidate(&mut self, index: usize) {
        mark_candidate(self.candidates, index);
    }

    #[inline(always)]
    fn slot(&self, hit: Hit, pattern: usize) -> usize {
        // At most 3 · stride + stride: within the bitsets' words, no wrap.
        (hit as usize).wrapping_mul(self.stride).wrapping_add(pattern / 64)
    }

    #[inline(always)]
    fn bit(&self, hit: Hit, pattern: usize) -> bool {
        let bit = 1u64 << (pattern % 64);
        self.words.get(self.slot(hit, pattern)).is_some_and(|w| w & bit != 0)
    }

    #[inline(always)]
    pub(crate) fn get(&self, hit: Hit, pattern: usize) -> bool {
        self.bit(Hit::Contained, pattern) && (hit == Hit::Contained || self.bit(hit, pattern))
    }

    /// Marks `pattern` contained; answers whether it already was (an unknown
    /// pattern counts as marked). The first mark clears its other bits.
    #[inline(always)]
    fn contain(&mut self, pattern: usize) -> bool {
        let bit = 1u64 << (pattern % 64);
        let Some(w) = self.words.get_mut(pattern / 64) else { return true };
        let was = *w & bit != 0;
        *w |= bit;
        if !was {
            for hit in [Hit::Prefix, Hit::Suffix, Hit::Whole] {
                let slot = self.slot(hit, pattern);
                if let Some(w) = self.words.get_mut(slot) {
                    *w &= !bit;
                }
            }
        }
        was
    }

    /// Marks `pattern` as `hit` (prefix, suffix or whole); it counts only if it is contained.
    #[inline(always)]
    fn set(&mut self, hit: Hit, pattern: usize) {
        let bit = 1u64 << (pattern % 64);
        let slot = self.slot(hit, pattern);
        if let Some(w) = self.words.get_mut(slot) {
            *w |= bit;
        }
    }
}

/// Binary search steps charged for a search among `n` entries.
#[inline(always)]
fn search_steps(n: u32) -> u64 {
    // leading_zeros ≤ 32: no wrap.
    u64::from(u32::BITS.wrapping_sub(n.leading_zeros())).wrapping_add(1)
}

/// One scanner's tables, sliced once per scan: every read is a bounds-checked
/// `get` on a local slice (in validated content every read succeeds). A
/// state is read where it lies, field by field, as the walk needs it.
struct Automaton<'a> {
    s: ScannerEntry,
    /// The scanner's class entries (4 bytes each).
    classes: &'a [u8],
    /// The scanner's states (24 bytes each), indexed by local state.
    states: &'a [u8],
    /// The whole goto table (rows are addressed by global entry).
    gotos: &'a [u8],
    /// The root's dense row: entry `c` is class `c`'s goto (8 bytes each).
    root_row: &'a [u8],
    /// The class table's ASCII part (128 entries), when the scanner has it
    /// whole (always, in validated content): see [`RootEdges`].
    ascii: Option<&'a [u8; ASCII_LEN]>,
    /// The shallowest states' full rows, when the content has a transition table.
    rows: Rows<'a>,
}

/// Goto rows this long or shorter are searched in order, longer ones by halves.
const SHORT_ROW: u32 = 8;

/// Bytes of a class table's ASCII part.
const ASCII_LEN: usize = ASCII as usize * class::LEN;

/// Which ASCII units have an edge from the root, looked up on a unit's first
/// appearance in the scan and remembered in two 128-bit sets: a run of units
/// without an edge then costs a few instructions per unit (see [`root_run`]).
struct RootEdges<'a> {
    ascii: &'a [u8; ASCII_LEN],
    root_row: &'a [u8],
    fold: bool,
    /// Bit `u`: ASCII unit `u` is known to have no edge from the root.
    stays: [u64; 2],
    /// Bit `u`: ASCII unit `u` is known to have one.
    leaves: [u64; 2],
}

impl<'a> RootEdges<'a> {
    fn new(ascii: &'a [u8; ASCII_LEN], root_row: &'a [u8], fold: bool) -> Self {
        RootEdges { ascii, root_row, fold, stays: [0; 2], leaves: [0; 2] }
    }

    /// Whether `unit` keeps the walk at the root: an ASCII unit without a root edge.
    #[inline(always)]
    fn stays(&mut self, unit: u16) -> bool {
        let (word, bit) = (usize::from(unit >> 6), 1u64 << (unit & 63));
        match (self.stays.get(word), self.leaves.get(word)) {
            (Some(stays), _) if stays & bit != 0 => true,
            (Some(_), Some(leaves)) if leaves & bit == 0 => self.look_up(unit),
            _ => false,
        }
    }

    /// [`RootEdges::stays`] for an ASCII unit not looked up yet: looked up once, then remembered.
    #[inline(never)]
    fn look_up(&mut self, unit: u16) -> bool {
        let (word, bit) = (usize::from(unit >> 6), 1u64 << (unit & 63));
        // A letter folds to lower case by one bit.
        let folded = if self.fold && unit.wrapping_sub(u16::from(b'A')) < 26 { unit | 0x20 } else { unit };
        // (unit & 0x7F) · 4 + 2 < 512: within the array.
        let at = usize::from(folded & 0x7F).wrapping_mul(class::LEN).wrapping_add(class::CLASS);
        let class = u16_at(self.ascii, at).unwrap_or(0);
        // A u16 times 8, plus 4: no overflow.
        let target = usize::from(class).wrapping_mul(goto::LEN).wrapping_add(goto::TARGET);
        let stays = u32_at(self.root_row, target).unwrap_or(0) == 0;
        let set = if stays { &mut self.stays } else { &mut self.leaves };
        if let Some(w) = set.get_mut(word) {
            *w |= bit;
        }
        stays
    }
}

/// A field's text as units by index: UTF-16 units, or UTF-16LE bytes.
trait Units {
    fn count(&self) -> usize;
    fn unit(&self, at: usize) -> Option<u16>;
}

impl Units for &[u16] {
    #[inline(always)]
    fn count(&self) -> usize {
        self.len()
    }

    #[inline(always)]
    fn unit(&self, at: usize) -> Option<u16> {
        self.get(at).copied()
    }
}

/// UTF-16LE bytes (an odd last byte is not a unit).
struct LeUnits<'t>(&'t [u8]);

impl Units for LeUnits<'_> {
    #[inline(always)]
    fn count(&self) -> usize {
        self.0.len() / 2
    }

    #[inline(always)]
    fn unit(&self, at: usize) -> Option<u16> {
        u16_at(self.0, at.checked_mul(2)?)
    }
}

#[inline(always)]
fn word_at(e: &[u8], at: usize) -> u32 {
    u32_at(e, at).unwrap_or(0)
}

/// The entry of state `local` among a scanner's `states`.
#[inline(always)]
fn state_entry(states: &[u8], local: u32) -> Option<StateRef<'_>> {
    // A u32 times 24, plus 24: below 2^37, no wrap in a 64-bit usize (and in validated
    // content below the content's length); the read is checked either way.
    let start = ix(local).wrapping_mul(state::LEN);
    states.get(start..start.wrapping_add(state::LEN)).and_then(|e| e.try_into().ok())
}

/// The goto row of non-root state `entry`, in the whole goto table `gotos`.
#[inline(always)]
fn goto_row<'g>(gotos: &'g [u8], entry: StateRef<'_>) -> Option<&'g [u8]> {
    // Two u32s times 8, added: below 2^36, no wrap in a 64-bit usize (and in validated
    // content below the content's length); the read is checked either way.
    let start = ix(word_at(entry, state::FIRST_GOTO)).wrapping_mul(goto::LEN);
    gotos.get(start..start.wrapping_add(ix(word_at(entry, state::GOTO_COUNT)).wrapping_mul(goto::LEN)))
}

/// The target of `row`'s edge on `class`, read in order (the validator
/// checked that rows are sorted by class): for rows of at most [`SHORT_ROW`] entries.
#[inline(always)]
fn short_row_goto(row: &[u8], class: u32) -> Option<u32> {
    for e in row.chunks_exact(goto::LEN) {
        let c = u32::from(u16_at(e, goto::CLASS)?);
        if c >= class {
            return if c == class { u32_at(e, goto::TARGET) } else { None };
        }
    }
    None
}

/// A state's entry: fixed-length, so that reading its fields needs no bounds check.
type StateRef<'a> = &'a [u8; state::LEN];

/// Where a scan stands: the state, its entry, the units read, and whether
/// the state is still the whole text read (its depth equals `read`).
#[derive(Clone, Copy)]
struct Walk<'a> {
    state: u32,
    entry: StateRef<'a>,
    read: u32,
    anchored: bool,
}

impl<'a> Automaton<'a> {
    fn new(content: &Content<'a>, index: usize, s: ScannerEntry) -> Self {
        let slice = |table: &'a [u8], first: u32, count: u32, len: usize| {
            let start = ix(first).saturating_mul(len);
            let end = start.saturating_add(ix(count).saturating_mul(len));
            table.get(start..end).unwrap_or(&[])
        };
        let states = slice(content.table(section::STATES), s.first_state, s.state_count, state::LEN);
        let gotos = content.table(section::GOTOS);
        let root = states.get(..state::LEN).unwrap_or(&[]);
        let root_row =
            slice(gotos, word_at(root, state::FIRST_GOTO), word_at(root, state::GOTO_COUNT), goto::LEN);
        let classes = slice(content.table(section::CLASSES), s.first_class, s.class_entries, class::LEN);
        let ascii = classes.get(..ASCII_LEN).and_then(|part| <&[u8; ASCII_LEN]>::try_from(part).ok());
        let rows = content.rows(index, &s);
        Automaton { s, classes, states, gotos, root_row, ascii, rows }
    }

    /// The entry of state `local`.
    #[inline(always)]
    fn entry(&self, local: u32) -> Option<StateRef<'a>> {
        state_entry(self.states, local)
    }

    #[inline(always)]
    fn class(&self, unit: u16, meter: &mut Meter) -> u16 {
        let unit = if self.s.case == 1 { fold_unit(unit) } else { unit };
        meter.charge_steps(1);
        if unit < 0x80 {
            // A u16 times 4, plus 2: no overflow.
            let at = usize::from(unit).wrapping_mul(class::LEN).wrapping_add(class::CLASS);
            return u16_at(self.classes, at).unwrap_or(0);
        }
        let entry = |i: u32| {
            let start = ix(i).saturating_mul(class::LEN);
            let e = self.classes.get(start..start.saturating_add(class::LEN))?;
            Some((u16_at(e, class::UNIT)?, u16_at(e, class::CLASS)?))
        };
        let n = self.s.class_entries.saturating_sub(ASCII);
        meter.charge_steps(search_steps(n));
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

    /// The root's goto on `class` (0: no edge), one look-up in its dense row.
    #[inline(always)]
    fn root_goto(&self, class: u16, meter: &mut Meter) -> u32 {
        meter.charge_steps(1);
        // A u16 times 8, plus 4: no overflow.
        let at = usize::from(class).wrapping_mul(goto::LEN).wrapping_add(goto::TARGET);
        u32_at(self.root_row, at).unwrap_or(0)
    }

    /// The goto of non-root state `entry` on `class`, if it has one.
    #[inline(always)]
    fn goto(&self, entry: StateRef<'_>, class: u16, meter: &mut Meter) -> Option<u32> {
        let count = word_at(entry, state::GOTO_COUNT);
        meter.charge_steps(search_steps(count));
        let row = goto_row(self.gotos, entry)?;
        if count <= SHORT_ROW {
            // A short row (most rows past the first levels).
            return short_row_goto(row, u32::from(class));
        }
        // lo ≤ mid < hi ≤ row.len() / 8: none of these operations can wrap.
        let (mut lo, mut hi) = (0usize, row.len() / goto::LEN);
        while lo < hi {
            let mid = lo.wrapping_add(hi.wrapping_sub(lo) / 2);
            let at = mid.wrapping_mul(goto::LEN);
            let c = u16_at(row, at.wrapping_add(goto::CLASS))?;
            match c.cmp(&class) {
                core::cmp::Ordering::Equal => return u32_at(row, at.wrapping_add(goto::TARGET)),
                core::cmp::Ordering::Less => lo = mid.wrapping_add(1),
                core::cmp::Ordering::Greater => hi = mid,
            }
        }
        None
    }

    /// The goto of non-root state `from` (its entry `entry`) on `class`, and
    /// whether the target is known to have nothing to mark: from its edge word
    /// when that holds its one edge (no read of the goto row), charged as the
    /// search of one entry; otherwise [`Automaton::goto`], not known.
    #[inline(always)]
    fn goto_from<const ROWS: bool>(
        &self,
        from: u32,
        entry: StateRef<'_>,
        class: u16,
        meter: &mut Meter,
    ) -> Option<(u32, bool)> {
        if !ROWS {
            return self.goto(entry, class, meter).map(|target| (target, false));
        }
        let word = self.rows.edges.get(ix(from.wrapping_sub(self.rows.rows))).copied().unwrap_or(0);
        if word & EDGE != 0 {
            meter.charge_steps(search_steps(1));
            let plain = word & EDGE_MARKS == 0;
            return (word >> EDGE_CLASS & EDGE_CLASSES == u32::from(class))
                .then_some((word & EDGE_TARGET, plain));
        }
        self.goto(entry, class, meter).map(|target| (target, false))
    }

    /// Marks `entry`'s output and its dictionary chain as contained, stopping at the first already marked.
    #[inline(always)]
    fn contained(&self, entry: StateRef<'_>, hits: &mut Hits<'_>, meter: &mut Meter) {
        let (mut output, mut dict) = (word_at(entry, state::OUTPUT), word_at(entry, state::DICT));
        loop {
            if output != NONE {
                meter.charge_steps(1);
                // Two u32s added in a usize: no wrap on a 64-bit target.
                if hits.contain(ix(self.s.first_pattern).wrapping_add(ix(output))) {
                    return;
                }
            }
            if dict == NONE || meter.exhausted() {
                return;
            }
            meter.charge_steps(1);
            let Some(next) = self.entry(dict) else { return };
            output = word_at(next, state::OUTPUT);
            if output == NONE {
                return;
            }
            dict = word_at(next, state::DICT);
        }
    }

    /// Marks `output` (if any) as `hit`.
    #[inline(always)]
    fn mark(&self, output: u32, hit: Hit, hits: &mut Hits<'_>) {
        if output != NONE && output < self.s.pattern_count {
            hits.set(hit, ix(self.s.first_pattern.saturating_add(output)));
        }
    }

    /// Feeds `units` one by one; false when [`Automaton::step`] stopped the scan.
    /// `ROWS`: whether the content has a transition table (the scan's choice, once:
    /// without one, no step pays for a look at rows or edge words).
    #[inline(always)]
    fn feed<const ROWS: bool, U: Units>(
        &self,
        w: &mut Walk<'a>,
        root: &mut Option<RootEdges<'a>>,
        units: U,
        hits: &mut Hits<'_>,
        meter: &mut Meter,
    ) -> bool {
        // Local copies, so that the walk and the meter live in registers.
        let (mut walk, mut m) = (*w, *meter);
        let mut fed = true;
        let count = units.count();
        let mut at = 0usize;
        while at < count {
            if walk.state == 0
                && let Some(edges) = root
            {
                let run = root_run(edges, &units, at, count, &mut m);
                if run != 0 {
                    at = at.saturating_add(run);
                    walk.read = walk.read.saturating_add(u32::try_from(run).unwrap_or(u32::MAX));
                    walk.anchored = false;
                    continue;
                }
            }
            if ROWS && !walk.anchored {
                let (run, went_on) = self.row_run(&mut walk, &units, at, count, hits, &mut m);
                if !went_on {
                    fed = false;
                    break;
                }
                if run != 0 {
                    at = at.saturating_add(run);
                    walk.read = walk.read.saturating_add(u32::try_from(run).unwrap_or(u32::MAX));
                    continue;
                }
            }
            let Some(unit) = units.unit(at) else { break };
            if !self.step::<ROWS>(&mut walk, unit, hits, &mut m) {
                fed = false;
                break;
            }
            // at < count: no wrap.
            at = at.wrapping_add(1);
        }
        (*w, *meter) = (walk, m);
        fed
    }

    /// Steps the walk through the units from `from` on, past the text's
    /// start (the caller's part), and answers how many it took and whether
    /// the scan goes on (false: [`Automaton::step`] stopped it). Stretches of
    /// ASCII units into states with nothing to mark go through a tight loop:
    /// through rows ([`rows_through`]), or past the rows through goto rows of
    /// at most [`SHORT_ROW`] entries ([`Chain::through`]). A row read into a
    /// state with something to mark, or without a row, is taken in the run's
    /// own loop; any other unit is one [`Automaton::step`] (a unit past
    /// ASCII, a step from a state past the rows into one with something to
    /// mark, a failure link to follow, a longer goto row). A try of the chain
    /// loop that took fewer than [`MIN_CHAIN`] units makes the next wait 1, 2,
    /// 4, … up to [`MAX_BACKOFF`] units, so that a walk past the rows where
    /// states to mark come every unit or every other pays for few tries. The
    /// run ends at the text's end or where the step stops the scan. The
    /// walk's entry is its state's when that state has no row. Each unit is
    /// charged as the step charges it. Not inlined: the loop keeps its few
    /// values in registers, and a text that mixes ASCII and other units
    /// calls it once.
    #[inline(never)]
    fn row_run<U: Units>(
        &self,
        w: &mut Walk<'a>,
        units: &U,
        from: usize,
        count: usize,
        hits: &mut Hits<'_>,
        meter: &mut Meter,
    ) -> (usize, bool) {
        let rows = self.rows;
        let Some(map) = rows.map else { return (0, true) };
        let (mut walk, mut m) = (*w, *meter);
        let (mut at, mut fed) = (from, true);
        // Units left to the step before the chain loop is tried again, and the last such wait.
        let (mut skip, mut backoff) = (0usize, 0usize);
        while at < count {
            let Some(unit) = units.unit(at) else { break };
            // A unit past ASCII has no row entry and no unit map entry: it takes the step.
            let ascii = unit < 0x80;
            if ascii
                && walk.state < rows.rows
                && let Some(cell) = rows.cell(map, rows.start(walk.state), unit)
            {
                if cell < rows.end {
                    // A stretch of states with rows and nothing to mark (an entry naming any
                    // other state is flagged, above where the rows end), within the room the
                    // meter leaves at the costliest charge.
                    let Some(end) = run_end(&mut m, 3 * FORMAT2_STEP, at, count) else {
                        fed = false;
                        break;
                    };
                    let (stop, start, from_root) =
                        rows_through(rows, map, units, at, end, rows.start(walk.state));
                    let state = rows.state(start);
                    // Each unit: the class and the row (the root's one step, any other's two).
                    let taken = u64::try_from(stop.saturating_sub(at)).unwrap_or(u64::MAX);
                    m.charge_steps(taken.saturating_mul(3).saturating_sub(from_root));
                    (at, walk.state) = (stop, state);
                    continue;
                }
                // A state with something to mark, or without a row: its entry (missing only in
                // words that lie, where the step stops the scan), marked as the step marks it.
                let next = rows.state(cell) & !MARKS;
                let Some(e) = self.entry(next).filter(|_| !m.exhausted()) else {
                    fed = false;
                    break;
                };
                m.charge_steps(row_steps(walk.state).wrapping_add(1));
                (at, walk.state, walk.entry) = (at.wrapping_add(1), next, e);
                // A state past the rows with nothing to mark is not read (marking it charges nothing).
                if cell & MARKS != 0 {
                    self.contained(e, hits, &mut m);
                }
                continue;
            }
            if ascii && walk.state >= rows.rows {
                if skip == 0 {
                    // A stretch of chain states past the rows (the walk's entry is its state's).
                    let Some(end) = run_end(&mut m, CHAIN_CHARGE * FORMAT2_STEP, at, count) else {
                        fed = false;
                        break;
                    };
                    let chain = Chain {
                        states: self.states,
                        gotos: self.gotos,
                        rows: rows.rows,
                        map,
                        edges: rows.edges,
                    };
                    let (stop, state, entry, steps, marks) =
                        chain.through(units, at, end, walk.state, walk.entry);
                    let taken = stop.saturating_sub(at);
                    m.charge_steps(steps);
                    (at, walk.state, walk.entry) = (stop, state, entry);
                    if marks {
                        // Its last unit stepped into a state to mark: marked as the step marks it.
                        self.contained(entry, hits, &mut m);
                    }
                    if taken >= MIN_CHAIN {
                        backoff = 0;
                        continue;
                    }
                    // Shorter: the next tries wait twice as many units as the last (walks that
                    // stay past the rows through states to mark pay for few).
                    backoff = backoff.saturating_mul(2).clamp(1, MAX_BACKOFF);
                    skip = backoff;
                    if taken != 0 {
                        continue;
                    }
                } else {
                    skip = skip.wrapping_sub(1);
                }
            }
            if !self.step::<true>(&mut walk, unit, hits, &mut m) {
                fed = false;
                break;
            }
            // at < count: no wrap.
            at = at.wrapping_add(1);
        }
        let run = at.saturating_sub(from);
        (w.state, w.entry, *meter) = (walk.state, walk.entry, m);
        (run, fed)
    }

    /// Feeds one unit; false stops the scan (the meter ran out, or a state
    /// is missing: only in unvalidated content).
    #[inline(always)]
    fn step<const ROWS: bool>(
        &self,
        w: &mut Walk<'a>,
        unit: u16,
        hits: &mut Hits<'_>,
        meter: &mut Meter,
    ) -> bool {
        if meter.exhausted() {
            return false;
        }
        let class = self.class(unit, meter);
        w.read = w.read.saturating_add(1);
        let mut state;
        // Whether the state stepped to is known to have nothing to mark (a row entry or an edge
        // word says so): past the text's start, its entry is then not read here.
        let plain;
        if ROWS && self.rows.has(w.state, class) {
            // A full row: one read, charged as the goto search charges at least.
            meter.charge_steps(row_steps(w.state));
            let cell = self.rows.next(w.state, class);
            state = cell & !MARKS;
            plain = cell & MARKS == 0;
            if state == 0 && w.state == 0 {
                w.anchored = false;
                return true;
            }
            // A state without output or dictionary link, past the text's start, with a row
            // of its own: nothing to mark, and the next step reads its row, not its entry.
            if cell & MARKS == 0 && !w.anchored && state < self.rows.rows {
                w.state = state;
                return true;
            }
        } else if w.state == 0 {
            // No edge leaves the walk at the root, whose output (the empty
            // pattern) is already marked.
            state = self.root_goto(class, meter);
            plain = false;
            if state == 0 {
                w.anchored = false;
                return true;
            }
        } else {
            // A step through a row may have left the state's entry behind.
            if ROWS && w.state < self.rows.rows {
                let Some(e) = self.entry(w.state) else { return false };
                w.entry = e;
            }
            let mut from = w.state;
            loop {
                if let Some((target, known)) = self.goto_from::<ROWS>(from, w.entry, class, meter) {
                    (state, plain) = (target, known);
                    break;
                }
                meter.charge_steps(1);
                state = word_at(w.entry, state::FAIL);
                from = state;
                if meter.exhausted() {
                    return false;
                }
                // Failing to a state with a full row: it answers, charged as the goto search.
                if ROWS && self.rows.has(state, class) {
                    meter.charge_steps(row_steps(state));
                    let cell = self.rows.next(state, class);
                    (state, plain) = (cell & !MARKS, cell & MARKS == 0);
                    break;
                }
                // Failing to the root: its dense row answers (its entry is not needed).
                if state == 0 {
                    (state, plain) = (self.root_goto(class, meter), false);
                    break;
                }
                let Some(e) = self.entry(state) else { return false };
                w.entry = e;
            }
        }
        let Some(e) = self.entry(state) else { return false };
        w.state = state;
        w.entry = e;
        if ROWS && plain && !w.anchored {
            // Nothing to mark (its contained marks charge nothing), nothing anchored to check.
            return true;
        }
        w.anchored = w.anchored && word_at(e, state::DEPTH) == w.read;
        // Contained first: a prefix mark counts only on a contained pattern.
        self.contained(e, hits, meter);
        if w.anchored {
            self.mark(word_at(e, state::OUTPUT), Hit::Prefix, hits);
        }
        true
    }
}

/// The tight part of a run through rows: from `at` to at most `end`, the units
/// that step from a state with a row to a state with a row and nothing to
/// mark, each row named by where it starts (`current`: the first state's).
/// Returns where it stopped, where the row of the state there starts, and how
/// many of those steps were from the root. Not inlined: the loop keeps its few
/// values in registers.
#[inline(never)]
fn rows_through<U: Units>(
    rows: Rows<'_>,
    map: &[u32; ASCII as usize],
    units: &U,
    mut at: usize,
    end: usize,
    mut current: u32,
) -> (usize, u32, u64) {
    let mut from_root = 0u64;
    while at < end {
        let Some(cell) = units.unit(at).and_then(|unit| rows.cell(map, current, unit)) else { break };
        // A state named by number (flagged, above where any rows end), or past the rows.
        if cell >= rows.end {
            break;
        }
        // At most `end - at` of them: no wrap.
        from_root = from_root.wrapping_add(u64::from(current == 0));
        current = cell;
        at = at.wrapping_add(1);
    }
    (at, current, from_root)
}

/// The steps a unit through a chain state is charged at most: the class and
/// a search of [`SHORT_ROW`] entries.
const CHAIN_CHARGE: u64 = 1 + 5;

/// The fewest units a try of [`Chain::through`] must take to pay for itself
/// (its call and set-up cost about as much as a unit through it).
const MIN_CHAIN: usize = 2;
/// The most units a run leaves to the step, after tries of [`Chain::through`]
/// that took fewer than [`MIN_CHAIN`], before it tries again.
const MAX_BACKOFF: usize = 64;

/// What [`Chain::through`] reads: the scanner's states and the goto table,
/// the states with rows (`0 .. rows`), the unit map, and the edge words of
/// the states past the rows.
struct Chain<'a, 'm> {
    states: &'a [u8],
    gotos: &'a [u8],
    rows: u32,
    map: &'m [u32; ASCII as usize],
    edges: &'m [u32],
}

impl<'a> Chain<'a, '_> {
    /// The tight part of a run past the rows: from `at` to at most `end`, the
    /// ASCII units that step from a state past the rows (`current`, its entry
    /// `entry`), on an edge of its goto row of at most [`SHORT_ROW`] entries
    /// (searched in order), to a state past the rows with nothing to mark:
    /// the chains of a pattern's tail, where most steps past the rows are.
    /// Along states whose edge word holds their one edge it reads that word
    /// alone, and takes the step into a state to mark that such a word
    /// flags, last. Returns where it stopped, the state there and its entry,
    /// the steps charged (each unit: the class, and the search as
    /// [`Automaton::goto`] charges it), and whether that state is to be
    /// marked. Not inlined: the loop keeps its values in registers.
    #[inline(never)]
    fn through<U: Units>(
        &self,
        units: &U,
        mut at: usize,
        end: usize,
        mut current: u32,
        mut entry: StateRef<'a>,
    ) -> (usize, u32, StateRef<'a>, u64, bool) {
        // A step on a state's one edge: the class, a search of one entry.
        const ONE_EDGE: u64 = 1 + 2;
        let mut steps = 0u64;
        while at < end {
            let Some(&class) = units.unit(at).and_then(|unit| self.map.get(usize::from(unit))) else { break };
            let word = self.edges.get(ix(current.wrapping_sub(self.rows))).copied().unwrap_or(0);
            if word & EDGE != 0 {
                // Its one edge, on another class: no goto (the step follows the failure link).
                if word >> EDGE_CLASS & EDGE_CLASSES != class {
                    break;
                }
                // The next state's entry, not read here: the caller reads it.
                let next = word & EDGE_TARGET;
                let Some(e) = state_entry(self.states, next) else { break };
                // At most 3 per unit, over at most `end - at` units: no wrap.
                steps = steps.wrapping_add(ONE_EDGE);
                (current, entry, at) = (next, e, at.wrapping_add(1));
                if word & EDGE_MARKS != 0 {
                    return (at, current, entry, steps, true);
                }
                continue;
            }
            let edges = word_at(entry, state::GOTO_COUNT);
            if edges > SHORT_ROW {
                break;
            }
            let Some(next) = goto_row(self.gotos, entry).and_then(|row| short_row_goto(row, class)) else {
                break;
            };
            let Some(e) = state_entry(self.states, next) else { break };
            // A state with a row (in validated content a goto leads deeper), or with something
            // to mark: the step's.
            if next < self.rows || word_at(e, state::OUTPUT) != NONE || word_at(e, state::DICT) != NONE {
                break;
            }
            // At most 1 + 5 per unit, over at most `end - at` units: no wrap.
            steps = steps.wrapping_add(search_steps(edges)).wrapping_add(1);
            (current, entry, at) = (next, e, at.wrapping_add(1));
        }
        (at, current, entry, steps, false)
    }
}

/// Steps a row read from `state` is charged: what the goto search charges at
/// least without the table (the root's dense row one; any other state a search
/// of one or more entries, two, or an empty one, a failure step and a look-up).
#[inline(always)]
fn row_steps(state: u32) -> u64 {
    if state == 0 { 1 } else { 2 }
}

/// Where a run of units charged `charge` each, from `from` on, must end: at
/// `count`, or past the last unit read while the work done is within the
/// meter's limit, or its next reading of the clock (`None`: the limit is
/// passed, no unit is read).
#[inline(always)]
fn run_end(meter: &mut Meter, charge: u64, from: usize, count: usize) -> Option<usize> {
    if meter.exhausted() {
        return None;
    }
    let room = meter
        .horizon()
        .saturating_sub(meter.used())
        .checked_div(charge)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    Some(from.saturating_add(usize::try_from(room).unwrap_or(usize::MAX)).min(count))
}

/// How many units from `from` on keep the walk at the root: ASCII units
/// without a root edge. Each is charged as [`Automaton::step`] charges it
/// (the class, the root's goto), and the run stops where the step would have
/// stopped on the meter: a unit is read while the work done is within the limit.
#[inline(always)]
fn root_run<U: Units>(
    edges: &mut RootEdges<'_>,
    units: &U,
    from: usize,
    count: usize,
    meter: &mut Meter,
) -> usize {
    // Two steps (the class, the root's goto), in meter units.
    const CHARGE: u64 = 2 * FORMAT2_STEP;
    let Some(end) = run_end(meter, CHARGE, from, count) else { return 0 };
    let mut at = from;
    while at < end {
        let Some(unit) = units.unit(at) else { break };
        // A non-ASCII unit, or one with a root edge, takes the full step.
        if !edges.stays(unit) {
            break;
        }
        at = at.wrapping_add(1);
    }
    let run = at.saturating_sub(from);
    meter.charge(u64::try_from(run).unwrap_or(u64::MAX).saturating_mul(CHARGE));
    run
}

/// Scans `head` ++ `tail` with scanner `s` (the content's `index`th), marking what it finds in `hits`.
pub(crate) fn scan(
    content: &Content<'_>,
    index: usize,
    s: ScannerEntry,
    head: Text<'_>,
    tail: Text<'_>,
    hits: &mut Hits<'_>,
    meter: &mut Meter,
) {
    let a = Automaton::new(content, index, s);
    let Some(root) = a.entry(0) else { return };
    let mut w = Walk { state: 0, entry: root, read: 0, anchored: true };
    let mut edges = a.ascii.map(|ascii| RootEdges::new(ascii, a.root_row, s.case == 1));
    a.contained(root, hits, meter);
    a.mark(word_at(root, state::OUTPUT), Hit::Prefix, hits);
    let rows = a.rows.map.is_some();
    for text in [head, tail] {
        let fed = match (text.as_wide(), rows) {
            (Some(units), true) => a.feed::<true, _>(&mut w, &mut edges, units, hits, meter),
            (Some(units), false) => a.feed::<false, _>(&mut w, &mut edges, units, hits, meter),
            (None, rows) => {
                let units = LeUnits(text.as_le_bytes().unwrap_or(&[]));
                if rows {
                    a.feed::<true, _>(&mut w, &mut edges, units, hits, meter)
                } else {
                    a.feed::<false, _>(&mut w, &mut edges, units, hits, meter)
                }
            }
        };
        if !fed {
            return;
        }
    }
    // The final state's entry (a step through a row may have left `w.entry` behind).
    let Some(last) = a.entry(w.state) else { return };
    let output = word_at(last, state::OUTPUT);
    if w.anchored {
        a.mark(output, Hit::Whole, hits);
    }
    // The final state's output and dictionary chain: every pattern the text ends with.
    let mut at = if output == NONE { word_at(last, state::DICT) } else { w.state };
    while at != NONE {
        meter.charge_steps(1);
        if meter.exhausted() {
            return;
        }
        let Some(e) = a.entry(at) else { return };
        a.mark(word_at(e, state::OUTPUT), Hit::Suffix, hits);
        at = word_at(e, state::DICT);
    }
}

/// One glob's simulation: its tables, sliced once, and the NFA's state.
struct GlobRun<'a> {
    /// The glob's unit entries (12 bytes each), sorted by unit.
    units: &'a [u8],
    count: usize,
    star: u64,
    any: u64,
    fold: bool,
    /// Charged per unit: 1 + the binary search's steps.
    charge: u64,
    /// Bit k: the first k tokens match a prefix of the text read.
    d: u64,
}

impl GlobRun<'_> {
    /// Feeds `units`; false when the meter ran out or no prefix of the glob matches any more.
    #[inline(always)]
    fn feed(&mut self, units: impl Iterator<Item = u16>, meter: &mut Meter) -> bool {
        // Local copies, so that the loop keeps them in registers.
        let (table, count, star, any, fold, charge) =
            (self.units, self.count, self.star, self.any, self.fold, self.charge);
        let mut d = self.d;
        let mut alive = true;
        for unit in units {
            let unit = if fold { fold_unit(unit) } else { unit };
            meter.charge_steps(charge);
            if meter.exhausted() {
                alive = false;
                break;
            }
            let mut m = any;
            // lo ≤ mid < hi ≤ count = table.len() / 12: none of these operations can wrap.
            let (mut lo, mut hi) = (0usize, count);
            while lo < hi {
                let mid = lo.wrapping_add(hi.wrapping_sub(lo) / 2);
                let at = mid.wrapping_mul(glob_unit::LEN);
                let Some(u) = u16_at(table, at.wrapping_add(glob_unit::UNIT)) else { break };
                match u.cmp(&unit) {
                    core::cmp::Ordering::Equal => {
                        m |= u64_at(table, at.wrapping_add(glob_unit::MASK)).unwrap_or(0);
                        break;
                    }
                    core::cmp::Ordering::Less => lo = mid.wrapping_add(1),
                    core::cmp::Ordering::Greater => hi = mid,
                }
            }
            d = ((d & m) << 1) | (d & star);
            d |= (d & star) << 1;
            if d == 0 {
                alive = false;
                break;
            }
        }
        self.d = d;
        alive
    }

    #[inline(always)]
    fn feed_text(&mut self, text: Text<'_>, meter: &mut Meter) -> bool {
        match text.as_wide() {
            Some(units) => self.feed(units.iter().copied(), meter),
            None => {
                let bytes = text.as_le_bytes().unwrap_or(&[]);
                self.feed(bytes.chunks_exact(2).map(|pair| u16_at(pair, 0).unwrap_or(0)), meter)
            }
        }
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
    // The glob's unit table, sliced once.
    let start = ix(g.first_unit).saturating_mul(glob_unit::LEN);
    let end = start.saturating_add(usize::from(g.unit_count).saturating_mul(glob_unit::LEN));
    let units = content.table(section::GLOB_UNITS).get(start..end).unwrap_or(&[]);
    let mut run = GlobRun {
        units,
        count: units.len() / glob_unit::LEN,
        star: g.star_mask,
        any: g.any_mask,
        fold: g.case == 1,
        charge: 1u64.saturating_add(search_steps(u32::from(g.unit_count))),
        d: 1 | ((1 & g.star_mask) << 1),
    };
    if !(run.feed_text(head, meter) && run.feed_text(tail, meter)) {
        return false;
    }
    run.d & (1u64 << g.tokens) != 0
}
