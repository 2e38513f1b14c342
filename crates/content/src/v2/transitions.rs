//! The transition table: each scanner's shallowest states as full rows, one
//! word per class of the ASCII units, the failure links already followed, so
//! that a step from such a state on an ASCII unit is one read instead of a
//! goto search and a walk down failure links. Built once when content is accepted, like format 1's
//! key table: it lives beside the content, not in it (format 2's layout is
//! unchanged), in words its holder allocates ([`Content::transition_words`],
//! sized from the validated content).
//!
//! ```text
//! 133 words per scanner offset of its rows (in words, from the start), rows (states 0 .. rows),
//!                       width (classes 0 .. width: every class an ASCII unit has), then
//!                       128 words: ASCII unit u's class (u folded first when the scanner
//!                       folds case; NO_CLASS when the class has no entry in the rows),
//!                       then the offset of its edge words and their count
//! rows                  per scanner, row s = state s, width entries: entry c names the
//!                       state t the scan goes to from s on class c (0: the root). A
//!                       state with a row and nothing to mark is named by where its row
//!                       starts (t × width words from the first row); any other is
//!                       t | EXIT (bit 30), with bit 31 set too when t has an output
//!                       or a dictionary link
//! edge words            per scanner, one word for each state past its rows (state rows + i
//!                       is word i), as many as MAX_EDGE_WORDS leaves it: a state whose goto
//!                       row is one edge, on a class below the width, holds EDGE (bit 31)
//!                       | class << 20 (10 bits) | target (20 bits), with bit 30 set too
//!                       when the target has an output or a dictionary link; any other
//!                       state 0
//! ```
//!
//! A run through rows thus adds the next unit's class to the entry it read
//! and reads again: no multiplication on the path from one read to the next.
//!
//! Past the rows, most states are a pattern's tail: one edge, to a state with
//! nothing to mark but at the pattern's end. A walk along such a chain reads
//! one edge word a unit (4 bytes a state: the deep states of SigmaHQ's shape
//! in under a megabyte) rather than the state's 24-byte entry and then its
//! goto row, two dependent reads in lines a scan rarely shares; it reads the
//! entry of the state where it stops, and marks it when the word says so.
//!
//! The unit map lets a run of steps through rows read a unit's class in one
//! read, folding included; a single step folds and reads the class table as
//! without the table.
//!
//! A row leaves out the classes of non-ASCII units (SigmaHQ's command-line
//! automaton has over a thousand, from the non-ASCII dashes of `windash` and
//! a few scripts' letters): a unit of such a class takes the goto search, as
//! it would without the table.
//!
//! States are numbered breadth-first (format.rs), so rows `0 .. n` are the
//! states of the first depths: [`ROW_DEPTH`] deep, less where the table
//! would pass [`MAX_TRANSITION_WORDS`]: then every scanner has the rows of
//! the deepest level all scanners' rows fit at, and the words left go to the
//! next level's states, scanner by scanner in table order. A state's failure link is shallower than the state, hence an
//! earlier row: each row is its goto row over the row its failure link
//! names, built in one sequential pass.
//!
//! The scan reads a row only for a state below its scanner's `rows`, and the
//! entry it reads is a state it then looks up like any other: words that lie
//! (built for other content, or for bytes nobody validated) change what is
//! found, never what is read, and every step is charged on the meter. Built
//! for this validated content, a row entry is the state the goto search and
//! the failure links would reach, charged what they charge at least (one
//! step from the root, whose row is dense; two from any other state: a search
//! of one entry or more, or an empty one, a failure step and a look-up): the
//! scan finds the same patterns, does no more work than without the table,
//! and stays within the cost model's bound ([`super::cost`]).

use super::content::{Content, ScannerEntry, ix};
use super::fold::fold_unit;
use super::format::{NONE, class, goto, section, state};
use ringfence_wire::bytes::{u16_at, u32_at};

/// Entries of a class table's ASCII part.
const ASCII: usize = 128;
/// Rows go at most this deep: the root and the states up to twelve units
/// from it, where most steps of a scan over common text are; the word limit
/// usually stops them sooner.
pub const ROW_DEPTH: u32 = 12;
/// The most words a transition table takes (256 KiB), whatever the content.
pub const MAX_TRANSITION_WORDS: usize = 1 << 16;
/// The flag of a row entry whose state has an output or a dictionary link: the
/// scan reads that state's entry to mark what it found; without it (and past
/// the text's start, where the state need not be checked against it) a step
/// to a state with a row of its own reads nothing more.
pub(crate) const MARKS: u32 = 1 << 31;
/// The flag of a row entry that names its state by number (a state without a
/// row, or one with something to mark), not by where the state's row starts.
const EXIT: u32 = 1 << 30;
/// Header words per scanner: offset, rows, width, the unit map, and where
/// its edge words are and how many.
const HEADER: usize = 3 + ASCII + 2;
/// The most edge words a transition table holds (1 MiB), whatever the content:
/// the states past the rows of the first scanners, in table order, as far as
/// they reach.
pub const MAX_EDGE_WORDS: usize = 1 << 18;
/// The flag of an edge word that holds its state's one edge.
pub(crate) const EDGE: u32 = 1 << 31;
/// The flag of an edge word whose target has an output or a dictionary link.
pub(crate) const EDGE_MARKS: u32 = 1 << 30;
/// Where an edge word's class starts.
pub(crate) const EDGE_CLASS: u32 = 20;
/// The classes an edge word holds (10 bits, up to [`EDGE_MARKS`]): a class past them has no
/// edge word.
pub(crate) const EDGE_CLASSES: u32 = (EDGE_MARKS >> EDGE_CLASS) - 1;
/// An edge word's target: a content has at most 2^20 states.
pub(crate) const EDGE_TARGET: u32 = (1 << EDGE_CLASS) - 1;
/// A unit map entry whose class has no entry in the rows: as an index into
/// the rows, past every table's end.
pub(crate) const NO_CLASS: u32 = u32::MAX;

/// Why a transition table could not be built into the words given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransitionTableError {
    /// `given` words, where the content's table takes exactly `needed`.
    WrongSize { needed: usize, given: usize },
}

/// One scanner's rows, as the scan reads them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Rows<'a> {
    words: &'a [u32],
    /// ASCII unit `u`'s class (folded), or [`NO_CLASS`]; `None` without rows.
    pub(crate) map: Option<&'a [u32; ASCII]>,
    /// States `0 .. rows` have a row.
    pub(crate) rows: u32,
    /// Where the rows end (`rows` × `width` words): an entry below it is where
    /// the next row starts, a state with a row and nothing to mark.
    pub(crate) end: u32,
    /// Classes `0 .. width` have an entry in it.
    pub(crate) width: u16,
    /// The edge words of states `rows ..`, one a state (empty without them).
    pub(crate) edges: &'a [u32],
}

impl Rows<'_> {
    /// Whether the step from `from` on `class` reads a row.
    #[inline(always)]
    pub(crate) fn has(&self, from: u32, class: u16) -> bool {
        from < self.rows && class < self.width
    }

    /// Where state `state`'s row starts (the state below the rows).
    #[inline(always)]
    pub(crate) fn start(&self, state: u32) -> u32 {
        // state < rows and rows × width words fit in a u32 (end): no wrap.
        state.wrapping_mul(u32::from(self.width))
    }

    /// The row entry for ASCII unit `unit` in the row starting at `start` (below
    /// [`Rows::end`]), through the unit map `map`: `None` for a unit past ASCII
    /// or a class without an entry.
    #[inline(always)]
    pub(crate) fn cell(&self, map: &[u32; ASCII], start: u32, unit: u16) -> Option<u32> {
        let class = *map.get(usize::from(unit))?;
        // Two u32s added in a usize: no wrap on a 64-bit target; `NO_CLASS` reads past the end.
        self.words.get(ix(start).wrapping_add(ix(class))).copied()
    }

    /// The state row entry `cell` names, with [`MARKS`] when it has something to mark.
    #[inline(always)]
    pub(crate) fn state(&self, cell: u32) -> u32 {
        if cell & EXIT != 0 { cell & !EXIT } else { cell.checked_div(u32::from(self.width)).unwrap_or(0) }
    }

    /// The state after `from` on `class` (both within the rows, [`Rows::has`]), with
    /// [`MARKS`]; 0 (the root) when the words do not say.
    #[inline(always)]
    pub(crate) fn next(&self, from: u32, class: u16) -> u32 {
        // from < rows and class < width, and rows × width words were there to slice: no wrap.
        let at = ix(self.start(from)).wrapping_add(usize::from(class));
        self.state(self.words.get(at).copied().unwrap_or(0))
    }
}

impl<'a> Content<'a> {
    /// The classes a row of scanner `s` has: every class of an ASCII unit (its class table's
    /// first 128 entries), within the scanner's class count.
    fn row_width(&self, s: &ScannerEntry) -> u16 {
        let start = ix(s.first_class).saturating_mul(class::LEN);
        let ascii = self.table(section::CLASSES).get(start..).unwrap_or(&[]);
        let highest = ascii
            .chunks_exact(class::LEN)
            .take(ASCII)
            .filter_map(|entry| u16_at(entry, class::CLASS))
            .filter(|&c| u32::from(c) < s.class_count)
            .max();
        highest.map_or(0, |c| c.saturating_add(1))
    }

    /// How many states of scanner `s` are at most `depth` units deep: its first ones
    /// (states are numbered breadth-first), counted until one is deeper.
    fn states_within(&self, s: &ScannerEntry, depth: u32) -> u32 {
        let states = self.table(section::STATES);
        let first = ix(s.first_state);
        let mut count = 0u32;
        while count < s.state_count {
            let at = first.saturating_add(ix(count)).saturating_mul(state::LEN).saturating_add(state::DEPTH);
            if u32_at(states, at).is_none_or(|d| d > depth) {
                break;
            }
            count = count.saturating_add(1);
        }
        count
    }

    /// Words the rows of every scanner's states at most `depth` deep take.
    fn words_within(&self, depth: u32) -> usize {
        (0..self.count(section::SCANNERS)).fold(0usize, |total, index| {
            let s = self.scanner(index).unwrap_or_default();
            let rows = ix(self.states_within(&s, depth));
            total.saturating_add(rows.saturating_mul(usize::from(self.row_width(&s))))
        })
    }

    /// Each scanner's rows and where they start: (offset, rows, width, words) per scanner, in
    /// order. Every scanner gets the rows of the deepest level all of them fit at, within
    /// [`MAX_TRANSITION_WORDS`]; the words left go to the next level's states, scanner by
    /// scanner in table order, as far as they reach.
    fn layout(&self) -> impl Iterator<Item = (usize, u32, u16, usize)> + '_ {
        let scanners = self.count(section::SCANNERS);
        let header = scanners.saturating_mul(HEADER);
        // The deepest level whose rows all fit, and the words its rows leave (none fit: no rows).
        let (mut level, mut used) = (None, 0usize);
        for depth in 0..=ROW_DEPTH {
            let words = self.words_within(depth);
            if words > MAX_TRANSITION_WORDS {
                break;
            }
            (level, used) = (Some(depth), words);
        }
        let mut room = MAX_TRANSITION_WORDS.saturating_sub(used);
        let mut offset = header;
        (0..scanners).map(move |index| {
            let s = self.scanner(index).unwrap_or_default();
            let width = self.row_width(&s);
            let whole = level.map_or(0, |depth| self.states_within(&s, depth));
            let next = match level {
                Some(depth) if depth < ROW_DEPTH => self.states_within(&s, depth.saturating_add(1)),
                Some(_) => whole,
                None => self.states_within(&s, 0),
            };
            let fit = u32::try_from(room.checked_div(usize::from(width)).unwrap_or(0)).unwrap_or(u32::MAX);
            let more = next.saturating_sub(whole).min(fit);
            room = room.saturating_sub(ix(more).saturating_mul(usize::from(width)));
            let rows = whole.saturating_add(more);
            let words = ix(rows).saturating_mul(usize::from(width));
            let at = offset;
            offset = offset.saturating_add(words);
            (at, rows, width, words)
        })
    }

    /// Where the rows end: the headers and every scanner's rows.
    fn rows_end(&self) -> usize {
        let header = self.count(section::SCANNERS).saturating_mul(HEADER);
        self.layout().fold(header, |total, (_, _, _, words)| total.saturating_add(words))
    }

    /// Each scanner's edge words, after every scanner's rows: (offset, count) per scanner, in
    /// order, one a state past its rows, as far as [`MAX_EDGE_WORDS`] reaches.
    fn edge_layout(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        let (mut at, mut room) = (self.rows_end(), MAX_EDGE_WORDS);
        self.layout().enumerate().map(move |(index, (_, rows, _, _))| {
            let s = self.scanner(index).unwrap_or_default();
            let fit = u32::try_from(room).unwrap_or(u32::MAX);
            let count = s.state_count.saturating_sub(rows).min(fit);
            let here = at;
            (at, room) = (at.saturating_add(ix(count)), room.saturating_sub(ix(count)));
            (here, count)
        })
    }

    /// The words this content's transition table takes: a header (133 words)
    /// per scanner, its rows (at most [`MAX_TRANSITION_WORDS`] of them) and
    /// its edge words (at most [`MAX_EDGE_WORDS`]).
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn transition_words(&self) -> usize {
        self.edge_layout().fold(self.rows_end(), |total, (_, count)| total.saturating_add(ix(count)))
    }

    /// Builds this content's transition table into `words`, which must be
    /// exactly [`Content::transition_words`] long; attach it with
    /// [`Content::with_transitions`].
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn build_transitions(&self, words: &mut [u32]) -> Result<(), TransitionTableError> {
        let needed = self.transition_words();
        let given = words.len();
        if given != needed {
            return Err(TransitionTableError::WrongSize { needed, given });
        }
        words.fill(0);
        for (index, ((at, rows, width, len), (edges_at, edges))) in
            self.layout().zip(self.edge_layout()).enumerate()
        {
            let header = index.saturating_mul(HEADER);
            let s = self.scanner(index).unwrap_or_default();
            if let Some([offset, count, classes, rest @ ..]) =
                words.get_mut(header..header.saturating_add(HEADER))
                && let Some((map, [edge_offset, edge_count])) = rest.split_first_chunk_mut::<ASCII>()
            {
                *offset = u32::try_from(at).unwrap_or(0);
                *count = rows;
                *classes = u32::from(width);
                self.fill_map(&s, width, map);
                *edge_offset = u32::try_from(edges_at).unwrap_or(0);
                *edge_count = edges;
            }
            if let Some(table) = words.get_mut(at..at.saturating_add(len)) {
                self.fill_rows(&s, rows, usize::from(width), table);
            }
            if let Some(table) = words.get_mut(edges_at..edges_at.saturating_add(ix(edges))) {
                self.fill_edges(&s, rows, width, table);
            }
        }
        Ok(())
    }

    /// Scanner `s`'s unit map: each ASCII unit's class, as the scan's step
    /// computes it (folded when the scanner folds case), or [`NO_CLASS`] when it is
    /// not below `width`.
    fn fill_map(&self, s: &ScannerEntry, width: u16, map: &mut [u32]) {
        let start = ix(s.first_class).saturating_mul(class::LEN);
        let end = start.saturating_add(ix(s.class_entries).saturating_mul(class::LEN));
        let classes = self.table(section::CLASSES).get(start..end).unwrap_or(&[]);
        for (unit, slot) in (0u16..).zip(map.iter_mut()) {
            let unit = if s.case == 1 { fold_unit(unit) } else { unit };
            let at = usize::from(unit).saturating_mul(class::LEN).saturating_add(class::CLASS);
            let class = u16_at(classes, at).unwrap_or(0);
            *slot = if class < width { u32::from(class) } else { NO_CLASS };
        }
    }

    /// Rows `0 .. rows` of scanner `s`, `classes` wide, into `table` (`rows` × `classes` words, zeroed).
    fn fill_rows(&self, s: &ScannerEntry, rows: u32, classes: usize, table: &mut [u32]) {
        let states = self.table(section::STATES);
        let gotos = self.table(section::GOTOS);
        let first = ix(s.first_state);
        for from in 0..ix(rows) {
            let entry = first.saturating_add(from).saturating_mul(state::LEN);
            let field = |at: usize| u32_at(states, entry.saturating_add(at)).unwrap_or(0);
            let row_start = from.saturating_mul(classes);
            // The failure link's row, earlier in the table (the root has none: no edge is 0).
            let fail = ix(field(state::FAIL));
            if from > 0 && fail < from {
                let fail_start = fail.saturating_mul(classes);
                for c in 0..classes {
                    let target = table.get(fail_start.saturating_add(c)).copied().unwrap_or(0);
                    if let Some(slot) = table.get_mut(row_start.saturating_add(c)) {
                        *slot = target;
                    }
                }
            }
            // The state's own edges over it. The root's row is dense, its target 0 no edge.
            let goto_start = ix(field(state::FIRST_GOTO)).saturating_mul(goto::LEN);
            let goto_len = ix(field(state::GOTO_COUNT)).saturating_mul(goto::LEN);
            let row = gotos.get(goto_start..goto_start.saturating_add(goto_len)).unwrap_or(&[]);
            for (position, edge) in row.chunks_exact(goto::LEN).enumerate() {
                let class =
                    if from == 0 { Some(position) } else { u16_at(edge, goto::CLASS).map(usize::from) };
                let target = u32_at(edge, goto::TARGET).unwrap_or(0);
                if let Some(cell) = class.filter(|&c| c < classes && (from > 0 || target != 0)) {
                    if let Some(slot) = table.get_mut(row_start.saturating_add(cell)) {
                        *slot = self.entry_for(s, target, rows, classes);
                    }
                }
            }
        }
    }

    /// The edge words of scanner `s`'s states from `rows` on, one a state, into `table`
    /// (zeroed): a state past the rows whose goto row is one edge, on a class below `width`,
    /// to a state past the rows, flagged when that state has something to mark.
    fn fill_edges(&self, s: &ScannerEntry, rows: u32, width: u16, table: &mut [u32]) {
        let states = self.table(section::STATES);
        let gotos = self.table(section::GOTOS);
        let field = |local: u32, at: usize| {
            let entry = ix(s.first_state).saturating_add(ix(local)).saturating_mul(state::LEN);
            u32_at(states, entry.saturating_add(at)).unwrap_or(NONE)
        };
        for (i, slot) in table.iter_mut().enumerate() {
            // Fewer than 2^20 states, and `table` no longer than the scanner's states past the rows.
            let local = rows.saturating_add(u32::try_from(i).unwrap_or(u32::MAX));
            // The root's dense row is no edge, even in a scanner without rows.
            if local == 0 || field(local, state::GOTO_COUNT) != 1 {
                continue;
            }
            let edge = ix(field(local, state::FIRST_GOTO)).saturating_mul(goto::LEN);
            let (Some(class), Some(target)) = (
                u16_at(gotos, edge.saturating_add(goto::CLASS)),
                u32_at(gotos, edge.saturating_add(goto::TARGET)),
            ) else {
                continue;
            };
            let marks = field(target, state::OUTPUT) != NONE || field(target, state::DICT) != NONE;
            // A validated goto leads one unit deeper, past the rows too; below 2^20 states.
            let fits = u32::from(class) <= EDGE_CLASSES && target <= EDGE_TARGET;
            if class < width && target >= rows && target < s.state_count && fits {
                let flag = if marks { EDGE | EDGE_MARKS } else { EDGE };
                *slot = flag | u32::from(class) << EDGE_CLASS | target;
            }
        }
    }

    /// The row entry that names state `local` of scanner `s`, whose rows are
    /// `0 .. rows`, `classes` wide: where its row starts, or the state with
    /// [`EXIT`] (and [`MARKS`] when it has an output or a dictionary link).
    fn entry_for(&self, s: &ScannerEntry, local: u32, rows: u32, classes: usize) -> u32 {
        let entry = ix(s.first_state).saturating_add(ix(local)).saturating_mul(state::LEN);
        let states = self.table(section::STATES);
        let link = |at: usize| u32_at(states, entry.saturating_add(at)).unwrap_or(NONE);
        let marks = link(state::OUTPUT) != NONE || link(state::DICT) != NONE;
        // A validated scanner has fewer than 2^20 states and rows at most 128 classes wide:
        // the row's start (below the table's length) and the flagged number both fit.
        let start = u32::try_from(ix(local).saturating_mul(classes)).unwrap_or(u32::MAX);
        match (marks, local < rows) {
            (false, true) => start,
            (false, false) => (local & !(MARKS | EXIT)) | EXIT,
            (true, _) => (local & !(MARKS | EXIT)) | EXIT | MARKS,
        }
    }

    /// This view with `words` as its transition table (built by
    /// [`Content::build_transitions`] for these bytes); the scan then steps
    /// from the states it has rows for through them. Words built for other
    /// content change what is found, never read out of bounds.
    pub fn with_transitions(self, words: &'a [u32]) -> Content<'a> {
        Content { transitions: words, ..self }
    }

    /// Scanner `index`'s rows (none when the table does not hold them whole),
    /// with its edge words (none when the table does not hold them whole).
    #[inline]
    pub(crate) fn rows(&self, index: usize, s: &ScannerEntry) -> Rows<'a> {
        let header = index.saturating_mul(HEADER);
        let Some(&[offset, rows, width, ref rest @ ..]) =
            self.transitions.get(header..header.saturating_add(HEADER))
        else {
            return Rows::default();
        };
        let Some((map, &[edges_at, edges])) = rest.split_first_chunk::<ASCII>() else {
            return Rows::default();
        };
        let Ok(width) = u16::try_from(width) else { return Rows::default() };
        let (offset, len) = (ix(offset), ix(rows).saturating_mul(usize::from(width)));
        let Ok(end) = u32::try_from(len) else { return Rows::default() };
        let edges = self.transitions.get(ix(edges_at)..ix(edges_at).saturating_add(ix(edges))).unwrap_or(&[]);
        match self.transitions.get(offset..offset.saturating_add(len)) {
            Some(words) if rows <= s.state_count && end < EXIT => {
                Rows { words, map: Some(map), rows, end, width, edges }
            }
            _ => Rows::default(),
        }
    }
}
