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
    /// Cleared bitsets for `patterns` patterns and `rules` rules; `None` when `scratch` is too small.
    pub(crate) fn new(scratch: &'s mut [u64], patterns: usize, rules: usize) -> Option<Self> {
        let stride = patterns.div_ceil(64);
        let (words, rest) = scratch.split_at_mut_checked(stride.checked_mul(4)?)?;
        let candidates = rest.get_mut(..rules.div_ceil(64))?;
        words.fill(0);
        candidates.fill(0);
        Some(Hits { words, stride, candidates })
    }

    /// Words `first .. end` of bitset `hit` (empty when outside), and the
    /// candidate bitset, borrowed apart.
    #[inline(always)]
    pub(crate) fn words_and_candidates(
        &mut self,
        hit: Hit,
        first: usize,
        end: usize,
    ) -> (&[u64], &mut [u64]) {
        let base = (hit as usize).saturating_mul(self.stride);
        let words = if end > self.stride {
            &[]
        } else {
            self.words.get(base.saturating_add(first)..base.saturating_add(end)).unwrap_or(&[])
        };
        (words, self.candidates)
    }

    /// Marks rule `index` as a candidate.
    #[inline(always)]
    pub(crate) fn candidate(&mut self, index: usize) {
        mark_candidate(self.candidates, index);
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
}

#[inline(always)]
fn word_at(e: &[u8], at: usize) -> u32 {
    u32_at(e, at).unwrap_or(0)
}

/// Where a scan stands: the state, its entry, the units read, and whether
/// the state is still the whole text read (its depth equals `read`).
#[derive(Clone, Copy)]
struct Walk<'a> {
    state: u32,
    entry: &'a [u8],
    read: u32,
    anchored: bool,
}

impl<'a> Automaton<'a> {
    fn new(content: &Content<'a>, s: ScannerEntry) -> Self {
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
        Automaton {
            s,
            classes: slice(content.table(section::CLASSES), s.first_class, s.class_entries, class::LEN),
            states,
            gotos,
            root_row,
        }
    }

    /// The entry of state `local`.
    #[inline(always)]
    fn entry(&self, local: u32) -> Option<&'a [u8]> {
        let start = ix(local).saturating_mul(state::LEN);
        self.states.get(start..start.saturating_add(state::LEN))
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
    fn goto(&self, entry: &[u8], class: u16, meter: &mut Meter) -> Option<u32> {
        let count = word_at(entry, state::GOTO_COUNT);
        meter.charge_steps(search_steps(count));
        let start = ix(word_at(entry, state::FIRST_GOTO)).saturating_mul(goto::LEN);
        let row = self.gotos.get(start..start.saturating_add(ix(count).saturating_mul(goto::LEN)))?;
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

    /// Marks `entry`'s output and its dictionary chain as contained, stopping at the first already marked.
    #[inline(always)]
    fn contained(&self, entry: &[u8], hits: &mut Hits<'_>, meter: &mut Meter) {
        let (mut output, mut dict) = (word_at(entry, state::OUTPUT), word_at(entry, state::DICT));
        loop {
            if output != NONE {
                meter.charge_steps(1);
                if hits.set(Hit::Contained, ix(self.s.first_pattern.saturating_add(output))) {
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
    #[inline(always)]
    fn feed(
        &self,
        w: &mut Walk<'a>,
        units: impl Iterator<Item = u16>,
        hits: &mut Hits<'_>,
        meter: &mut Meter,
    ) -> bool {
        // A local copy, so that the walk lives in registers.
        let mut walk = *w;
        let mut fed = true;
        for unit in units {
            if !self.step(&mut walk, unit, hits, meter) {
                fed = false;
                break;
            }
        }
        *w = walk;
        fed
    }

    /// Feeds one unit; false stops the scan (the meter ran out, or a state
    /// is missing: only in unvalidated content).
    #[inline(always)]
    fn step(&self, w: &mut Walk<'a>, unit: u16, hits: &mut Hits<'_>, meter: &mut Meter) -> bool {
        if meter.exhausted() {
            return false;
        }
        let class = self.class(unit, meter);
        w.read = w.read.saturating_add(1);
        let mut state;
        if w.state == 0 {
            // No edge leaves the walk at the root, whose output (the empty
            // pattern) is already marked.
            state = self.root_goto(class, meter);
            if state == 0 {
                w.anchored = false;
                return true;
            }
        } else {
            loop {
                if let Some(target) = self.goto(w.entry, class, meter) {
                    state = target;
                    break;
                }
                meter.charge_steps(1);
                state = word_at(w.entry, state::FAIL);
                let Some(e) = self.entry(state) else { return false };
                w.entry = e;
                if meter.exhausted() {
                    return false;
                }
                if state == 0 {
                    state = self.root_goto(class, meter);
                    break;
                }
            }
        }
        let Some(e) = self.entry(state) else { return false };
        w.state = state;
        w.entry = e;
        w.anchored = w.anchored && word_at(e, state::DEPTH) == w.read;
        if w.anchored {
            self.mark(word_at(e, state::OUTPUT), Hit::Prefix, hits);
        }
        self.contained(e, hits, meter);
        true
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
    let Some(root) = a.entry(0) else { return };
    let mut w = Walk { state: 0, entry: root, read: 0, anchored: true };
    a.mark(word_at(root, state::OUTPUT), Hit::Prefix, hits);
    a.contained(root, hits, meter);
    for text in [head, tail] {
        let fed = match text.as_wide() {
            Some(units) => a.feed(&mut w, units.iter().copied(), hits, meter),
            None => {
                let bytes = text.as_le_bytes().unwrap_or(&[]);
                a.feed(&mut w, bytes.chunks_exact(2).map(|pair| u16_at(pair, 0).unwrap_or(0)), hits, meter)
            }
        };
        if !fed {
            return;
        }
    }
    let output = word_at(w.entry, state::OUTPUT);
    if w.anchored {
        a.mark(output, Hit::Whole, hits);
    }
    // The final state's output and dictionary chain: every pattern the text ends with.
    let mut at = if output == NONE { word_at(w.entry, state::DICT) } else { w.state };
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
