//! Regular expressions as deterministic automata over a field's text in
//! UTF-8 (layout: [`super::format::regex`]): the validator's check of the
//! `regexes` section, and the search.
//!
//! **Check.** The count against [`MAX_AUTOMATA`] and the offsets against the
//! section before anything is read through them; then, automaton by
//! automaton, in one sequential pass: each starts where the previous one
//! ended, its state and class counts within their limits before its size is
//! computed from them, its tables inside the section, the reserved word zero,
//! start / accept / dead and every cell below the state count, every byte's
//! class below the class count, the dead state's row leading back to it. The
//! last automaton ends at the section's end. A predicate's value is then an
//! automaton index below the count.
//!
//! **Search.** The text's UTF-16 units are converted to UTF-8 as they are
//! read (a surrogate pair split between `head` and `tail` is joined; an
//! unpaired surrogate is U+FFFD, as a lossy conversion reads it); each byte
//! costs one class read and one cell read, except an ASCII byte already seen
//! to keep the search in its home state (the first state seen to loop, where
//! a search waits between matches), which costs one read of a 128-entry
//! table filled as the search goes. The search stops at the accepting
//! state (true) or the dead state (false); at the end of the text, the row's
//! last cell decides. On unvalidated bytes every read is checked and a read
//! out of range ends the search false; the work is linear in the text either
//! way, and charged [`super::cost::REGEX_UNIT`] per unit plus one: the
//! whole must fit within the meter's limit before the search starts, and is
//! charged chunk by chunk as it goes (a deadline may stop it part way), the
//! rest at its end.

use super::content::{Content, ix};
use super::cost::REGEX_UNIT;
use super::error::{ErrorKind, Limit, ValidationError};
use super::format::regex::{
    ACCEPT, BYTES, CLASS_COUNT, COUNT, DEAD, MAX_AUTOMATA, MAX_CLASSES, MAX_STATES, NO_STATE, OFFSET_WORDS,
    OFFSETS, RESERVED, ROWS, START, STATE_COUNT,
};
use super::format::section;
use crate::meter::{FORMAT2_STEP, Meter};
use ringfence_wire::Text;
use ringfence_wire::bytes::u16_at;

/// Word `at` of the `regexes` section.
#[inline(always)]
fn word(words: &[u8], at: usize) -> Option<u16> {
    u16_at(words, at.checked_mul(2)?)
}

/// The u32 held in words `at` and `at + 1`, low first.
fn double(words: &[u8], at: usize) -> Option<u32> {
    let low = u32::from(word(words, at)?);
    let high = u32::from(word(words, at.checked_add(1)?)?);
    Some(low | (high << 16))
}

/// The automata in the section (an empty section holds none).
pub(crate) fn automaton_count(words: &[u8]) -> u32 {
    double(words, COUNT).unwrap_or(0)
}

/// One automaton's header, as stored.
#[derive(Clone, Copy, Debug)]
struct Header {
    /// Word where the automaton starts.
    at: usize,
    states: u16,
    classes: u16,
    start: u16,
    accept: u16,
    dead: u16,
}

impl Header {
    fn read(words: &[u8], at: usize) -> Option<Header> {
        Some(Header {
            at,
            states: word(words, at.checked_add(STATE_COUNT)?)?,
            classes: word(words, at.checked_add(CLASS_COUNT)?)?,
            start: word(words, at.checked_add(START)?)?,
            accept: word(words, at.checked_add(ACCEPT)?)?,
            dead: word(words, at.checked_add(DEAD)?)?,
        })
    }

    /// Cells per row: the byte classes and the end of the text.
    fn row(&self) -> usize {
        usize::from(self.classes).saturating_add(1)
    }

    /// Words of the whole automaton.
    fn words(&self) -> usize {
        ROWS.saturating_add(usize::from(self.states).saturating_mul(self.row()))
    }

    /// Word of cell (`state`, `class`).
    #[inline(always)]
    fn cell(&self, state: u16, class: usize) -> usize {
        self.at
            .saturating_add(ROWS)
            .saturating_add(usize::from(state).saturating_mul(self.row()))
            .saturating_add(class)
    }
}

/// Where automaton `index` starts, from the section's offsets.
fn start_of(words: &[u8], index: u32) -> Option<usize> {
    let at = OFFSETS.checked_add(ix(index).checked_mul(OFFSET_WORDS)?)?;
    double(words, at).map(ix)
}

/// Units a search reads between two charges of the meter: a meter with a deadline
/// may stop it there.
const CHUNK: usize = 1_024;

/// Whether automaton `index` finds a match anywhere in `head` ++ `tail`.
pub(crate) fn matches(
    content: &Content<'_>,
    index: u64,
    head: Text<'_>,
    tail: Text<'_>,
    meter: &mut Meter,
) -> bool {
    let units = head.len().saturating_add(tail.len()) as u64;
    let total = REGEX_UNIT.saturating_mul(units).saturating_add(1);
    // The whole search must fit within the limit before it starts.
    if !meter.affords(total.saturating_mul(FORMAT2_STEP)) {
        meter.charge_steps(total);
        return false;
    }
    meter.charge_steps(1);
    let mut charged = 1;
    let found = search(content, index, head, tail, meter, &mut charged);
    // The rest of the bound, whatever the search read: the work is the same
    // as when it was charged up front. Only a deadline stops a search part way:
    // the meter then shows the work done.
    if !meter.exhausted() {
        meter.charge_steps(total.saturating_sub(charged));
    }
    found
}

/// Charges a chunk of `units` units (adding its steps to `charged`); false when
/// the meter stops the search.
fn charge_chunk(meter: &mut Meter, charged: &mut u64, units: usize) -> bool {
    let steps = REGEX_UNIT.saturating_mul(units as u64);
    meter.charge_steps(steps);
    *charged = charged.saturating_add(steps);
    !meter.exhausted()
}

/// [`matches`]' search, charged chunk by chunk on `meter` (`charged`: the steps so far).
fn search(
    content: &Content<'_>,
    index: u64,
    head: Text<'_>,
    tail: Text<'_>,
    meter: &mut Meter,
    charged: &mut u64,
) -> bool {
    let words = content.table(section::REGEXES);
    let Ok(index) = u32::try_from(index) else { return false };
    if index >= automaton_count(words) {
        return false;
    }
    let Some(h) = start_of(words, index).and_then(|at| Header::read(words, at)) else { return false };
    let Some(mut search) = Search::new(words, &h) else { return false };
    if search.state == search.accept {
        return true;
    }
    let mut pending: Option<u16> = None;
    for text in [head, tail] {
        let mut step = Step::Go;
        match text.as_wide() {
            Some(units) => {
                for chunk in units.chunks(CHUNK) {
                    if !charge_chunk(meter, charged, chunk.len()) {
                        return false;
                    }
                    step = search.units(chunk.iter().copied(), &mut pending);
                    if step != Step::Go {
                        break;
                    }
                }
            }
            None => {
                let (mut all, mut left) = (text.units(), text.len());
                while left > 0 && step == Step::Go {
                    let n = left.min(CHUNK);
                    if !charge_chunk(meter, charged, n) {
                        return false;
                    }
                    step = search.units(all.by_ref().take(n), &mut pending);
                    left = left.saturating_sub(n);
                }
            }
        }
        match step {
            Step::Go => {}
            Step::Found => return true,
            Step::Dead => return false,
        }
    }
    if pending.is_some() {
        match search.char(0xFFFD) {
            Step::Go => {}
            Step::Found => return true,
            Step::Dead => return false,
        }
    }
    search.cell(usize::from(h.classes)) == Some(search.accept)
}

/// [`Search::home`] before a state is seen to lead back to itself.
const NO_HOME: u32 = u32::MAX;
/// [`Search::home_byte`]: the byte leads from the home state back to it.
const STAYS: u8 = 1;
/// [`Search::home_byte`]: the byte leads from the home state elsewhere.
const LEAVES: u8 = 2;

/// What one byte led to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    Go,
    Found,
    Dead,
}

/// A search in progress: the automaton's class map and rows as byte slices.
struct Search<'w> {
    /// The class of each byte, as stored: 256 u16 cells (a validated class is
    /// below 256, so its low byte is the class).
    classes: &'w [u8; BYTES * 2],
    /// The rows, `row` u16 cells each.
    cells: &'w [u8],
    row: usize,
    state: u16,
    /// The first state seen to lead back to itself (`NO_HOME` until then):
    /// in a search, the state that skips the text between matches.
    home: u32,
    accept: u16,
    dead: u16,
    /// For each ASCII byte read in the home state: whether it leads back to
    /// it ([`STAYS`]) or elsewhere ([`LEAVES`]); 0 until read there (see
    /// [`Search::units_held`]).
    home_byte: [u8; 128],
}

impl<'w> Search<'w> {
    fn new(words: &'w [u8], h: &Header) -> Option<Search<'w>> {
        let class_at = h.at.checked_add(super::format::regex::HEADER)?.checked_mul(2)?;
        let rows_at = h.at.checked_add(ROWS)?.checked_mul(2)?;
        let rows_end = h.at.checked_add(h.words())?.checked_mul(2)?;
        let classes = words.get(class_at..class_at.checked_add(BYTES.checked_mul(2)?)?)?.try_into().ok()?;
        Some(Search {
            classes,
            cells: words.get(rows_at..rows_end)?,
            row: h.row(),
            state: h.start,
            home: NO_HOME,
            accept: h.accept,
            dead: h.dead,
            home_byte: [0; 128],
        })
    }

    /// Cell (`state`, `class`).
    #[inline(always)]
    fn cell_of(&self, state: u16, class: usize) -> Option<u16> {
        // A u16 state times a row of at most 65,536 cells (validated: 257), plus a class below
        // 256, times 2: below 2^33, no wrap on a 64-bit target; the read is checked either way.
        let at = usize::from(state).wrapping_mul(self.row).wrapping_add(class);
        u16_at(self.cells, at.wrapping_mul(2))
    }

    /// The current state's cell for `class`.
    #[inline(always)]
    fn cell(&self, class: usize) -> Option<u16> {
        self.cell_of(self.state, class)
    }

    /// The state byte `b` leads to from `state` (`None`: a read out of range, only in unvalidated bytes).
    #[inline(always)]
    fn next(&self, state: u16, b: u8) -> Option<u16> {
        // The class's low byte (a larger class, only in unvalidated bytes, keeps its low byte:
        // only a wrong answer). 2 · 255 < 512: within the array.
        let class = self.classes.get(usize::from(b).wrapping_mul(2)).copied().unwrap_or(0);
        self.cell_of(state, usize::from(class))
    }

    /// What reaching `next` means (`None`: a read out of range).
    #[inline(always)]
    fn reached(&self, next: Option<u16>) -> Step {
        match next {
            Some(s) if s == self.accept => Step::Found,
            Some(s) if s == self.dead => Step::Dead,
            Some(_) => Step::Go,
            None => Step::Dead,
        }
    }

    #[inline(always)]
    fn byte(&mut self, b: u8) -> Step {
        let next = self.next(self.state, b);
        let step = self.reached(next);
        if let (Step::Go, Some(s)) = (step, next) {
            self.state = s;
        }
        step
    }

    /// Feeds UTF-16 units, joining a surrogate pair across calls through `pending`.
    #[inline(always)]
    fn units(&mut self, units: impl Iterator<Item = u16>, pending: &mut Option<u16>) -> Step {
        // A local copy, so that the loop keeps it in a register.
        let mut held = *pending;
        let step = self.units_held(units, &mut held);
        *pending = held;
        step
    }

    /// [`Search::units`] on a local `pending`.
    ///
    /// An ASCII unit read in the home state is looked up once and
    /// remembered (`home_byte`): a search spends most of a text in the state
    /// it loops in between matches, and a unit that keeps it there then
    /// costs one read.
    #[inline(always)]
    fn units_held(&mut self, units: impl Iterator<Item = u16>, pending: &mut Option<u16>) -> Step {
        // Local copies, so that the loop keeps them in registers.
        let (mut state, mut home) = (self.state, self.home);
        let mut done = Step::Go;
        for unit in units {
            // ASCII with no high surrogate waiting: one byte, the usual case.
            if unit < 0x80 && pending.is_none() {
                let b = low(unit.into());
                let at_home = u32::from(state) == home;
                // b < 0x80: within the array.
                let known =
                    if at_home { self.home_byte.get(usize::from(b)).copied().unwrap_or(0) } else { 0 };
                if known == STAYS {
                    continue;
                }
                let next = self.next(state, b);
                match (self.reached(next), next) {
                    (Step::Go, Some(s)) => {
                        if home == NO_HOME && s == state {
                            home = u32::from(s);
                        }
                        if u32::from(state) == home && known == 0 {
                            if let Some(slot) = self.home_byte.get_mut(usize::from(b)) {
                                *slot = if s == state { STAYS } else { LEAVES };
                            }
                        }
                        state = s;
                        continue;
                    }
                    (step, _) => {
                        done = step;
                        break;
                    }
                }
            }
            self.state = state;
            let step = match (pending.take(), unit) {
                (Some(high), 0xDC00..=0xDFFF) => {
                    let c = 0x10000u32
                        .saturating_add((u32::from(high) & 0x3FF) << 10)
                        .saturating_add(u32::from(unit) & 0x3FF);
                    self.char(c)
                }
                (previous, _) => {
                    let unpaired = previous.map_or(Step::Go, |_| self.char(0xFFFD));
                    match (unpaired, unit) {
                        (Step::Go, 0xD800..=0xDBFF) => {
                            *pending = Some(unit);
                            Step::Go
                        }
                        (Step::Go, 0xDC00..=0xDFFF) => self.char(0xFFFD),
                        (Step::Go, _) => self.char(u32::from(unit)),
                        (done, _) => done,
                    }
                }
            };
            state = self.state;
            if step != Step::Go {
                done = step;
                break;
            }
        }
        (self.state, self.home) = (state, home);
        done
    }

    /// Feeds the UTF-8 bytes of code point `c` (below 0x110000).
    #[inline(always)]
    fn char(&mut self, c: u32) -> Step {
        let (bytes, len): ([u8; 4], usize) = match c {
            0..=0x7F => ([low(c), 0, 0, 0], 1),
            0x80..=0x7FF => ([0xC0 | low(c >> 6), 0x80 | low(c & 0x3F), 0, 0], 2),
            0x800..=0xFFFF => {
                ([0xE0 | low(c >> 12), 0x80 | low((c >> 6) & 0x3F), 0x80 | low(c & 0x3F), 0], 3)
            }
            _ => (
                [
                    0xF0 | low((c >> 18) & 0x07),
                    0x80 | low((c >> 12) & 0x3F),
                    0x80 | low((c >> 6) & 0x3F),
                    0x80 | low(c & 0x3F),
                ],
                4,
            ),
        };
        for &b in bytes.iter().take(len) {
            match self.byte(b) {
                Step::Go => {}
                done => return done,
            }
        }
        Step::Go
    }
}

/// The low byte of `x`.
#[inline(always)]
fn low(x: u32) -> u8 {
    let [b, _, _, _] = x.to_le_bytes();
    b
}

/// Checks the `regexes` section (see the module's notes); `offset` gives the
/// byte offset of a word for errors.
pub(crate) fn check(words: &[u8], offset: impl Fn(usize) -> usize) -> Result<(), ValidationError> {
    let len = words.len().checked_div(2).unwrap_or(0);
    if len == 0 {
        return Ok(());
    }
    let small = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    let fail = |at: usize, kind: ErrorKind| Err(ValidationError::at(offset(at), kind));
    let count = automaton_count(words);
    if ix(count) > MAX_AUTOMATA {
        let e =
            ErrorKind::LimitExceeded { limit: Limit::Regexes, found: count.into(), max: MAX_AUTOMATA as u64 };
        return fail(COUNT, e);
    }
    // `count` ≤ 1,024: the offsets' end fits any usize.
    let first = OFFSETS.saturating_add(ix(count).saturating_mul(OFFSET_WORDS));
    if first > len {
        return fail(COUNT, ErrorKind::RegexOutOfBounds { regex: 0, end: small(first), len: small(len) });
    }
    let mut expected = first;
    for index in 0..count {
        let stored = start_of(words, index).unwrap_or(usize::MAX);
        let entry = OFFSETS.saturating_add(ix(index).saturating_mul(OFFSET_WORDS));
        if stored != expected {
            let e =
                ErrorKind::RegexMisplaced { regex: index, offset: small(stored), expected: small(expected) };
            return fail(entry, e);
        }
        expected = check_automaton(words, index, expected, len, &offset)?;
    }
    if expected != len {
        let (end, total) = (small(offset(expected)), small(offset(len)));
        return fail(expected, ErrorKind::UnclaimedBytes { end, total });
    }
    Ok(())
}

/// Checks automaton `index` at word `at`; answers where it ends.
fn check_automaton(
    words: &[u8],
    index: u32,
    at: usize,
    len: usize,
    offset: &impl Fn(usize) -> usize,
) -> Result<usize, ValidationError> {
    let small = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    let fail = |w: usize, kind: ErrorKind| Err(ValidationError::at(offset(w), kind));
    let header_end = at.saturating_add(ROWS);
    if header_end > len {
        return fail(
            at,
            ErrorKind::RegexOutOfBounds { regex: index, end: small(header_end), len: small(len) },
        );
    }
    let Some(h) = Header::read(words, at) else {
        return fail(
            at,
            ErrorKind::RegexOutOfBounds { regex: index, end: small(header_end), len: small(len) },
        );
    };
    if h.states == 0 || usize::from(h.states) > MAX_STATES {
        let e = ErrorKind::LimitExceeded {
            limit: Limit::RegexStates,
            found: h.states.into(),
            max: MAX_STATES as u64,
        };
        return fail(at.saturating_add(STATE_COUNT), e);
    }
    if h.classes == 0 || usize::from(h.classes) > MAX_CLASSES {
        let e = ErrorKind::LimitExceeded {
            limit: Limit::RegexClasses,
            found: h.classes.into(),
            max: MAX_CLASSES as u64,
        };
        return fail(at.saturating_add(CLASS_COUNT), e);
    }
    if word(words, at.saturating_add(RESERVED)) != Some(0) {
        return fail(at.saturating_add(RESERVED), ErrorKind::NonZeroReserved);
    }
    let end = at.saturating_add(h.words());
    if end > len {
        return fail(at, ErrorKind::RegexOutOfBounds { regex: index, end: small(end), len: small(len) });
    }
    let state_error = |w: usize, target: u16| {
        let e = ErrorKind::RegexStateOutOfRange {
            regex: index,
            word: small(w.saturating_sub(at)),
            target: target.into(),
        };
        Err(ValidationError::at(offset(w), e))
    };
    for (w, s) in [(START, h.start), (ACCEPT, h.accept)] {
        if s >= h.states {
            return state_error(at.saturating_add(w), s);
        }
    }
    if h.dead != NO_STATE && (h.dead >= h.states || h.dead == h.accept) {
        if h.dead == h.accept {
            return fail(at.saturating_add(DEAD), ErrorKind::RegexDeadNotDead { regex: index, class: 0 });
        }
        return state_error(at.saturating_add(DEAD), h.dead);
    }
    for b in 0..BYTES {
        let w = at.saturating_add(super::format::regex::HEADER).saturating_add(b);
        let class = word(words, w).unwrap_or(u16::MAX);
        if class >= h.classes {
            let e = ErrorKind::RegexClassOutOfRange { regex: index, byte: small(b), class: class.into() };
            return fail(w, e);
        }
    }
    for w in at.saturating_add(ROWS)..end {
        let target = word(words, w).unwrap_or(u16::MAX);
        if target >= h.states {
            return state_error(w, target);
        }
    }
    if h.dead != NO_STATE {
        for class in 0..h.row() {
            let w = h.cell(h.dead, class);
            if word(words, w) != Some(h.dead) {
                return fail(w, ErrorKind::RegexDeadNotDead { regex: index, class: small(class) });
            }
        }
    }
    Ok(end)
}
