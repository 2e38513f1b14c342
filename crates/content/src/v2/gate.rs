//! The gates of glob and regex values (format.rs, "Gated globs and regular
//! expressions"), validated: where each value's gates are in `gates`, their
//! count and order, the patterns they name, and for a glob, that each gate
//! is the folded units of one of its maximal literal runs. Called by the
//! validator ([`super::validate()`]) for each glob or regex predicate once
//! the automata, the globs and the predicate's own entries are checked.

use super::content::{Content, PredicateEntry, ScannerEntry, ix};
use super::error::{ErrorKind, ValidationError};
use super::fold::fold_unit;
use super::format::{
    MAX_GLOB_TOKENS, MAX_VALUE_GATES, NONE, Operator, goto, predicate, scanner, section, state, value,
};
use ringfence_wire::bytes::u32_at;

type Result<T> = core::result::Result<T, ValidationError>;

fn small(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Whether predicate `p` counts as a literal one for the candidate rules: a
/// glob or regex predicate flagged `GATED` (checked by [`check_predicate`]
/// to have a gate on every value).
pub(crate) fn gates_predicate(p: &PredicateEntry) -> bool {
    p.flags & predicate::GATED != 0
        && matches!(Operator::from_code(p.operator), Some(Operator::Glob | Operator::Regex))
}

/// The gates (global patterns) that list `p`'s rule, in value order: every
/// gate of each gated value, or of a value whose gates are all required
/// (`GATES_ALL`), its first (format.rs, "Gated globs and regular expressions").
pub(crate) fn gate_patterns<'c>(c: &'c Content<'_>, p: PredicateEntry) -> impl Iterator<Item = u32> + 'c {
    let s = c.scanner(ix(p.scanner)).unwrap_or_default();
    let (first, count) = (p.first_value, p.value_count);
    (0..count)
        .filter_map(move |i| c.value(ix(first.saturating_add(i))))
        .filter(|&(_, flags)| flags & value::GATED != 0)
        .flat_map(move |(v, flags)| listing_gates(c, v, flags).flatten())
        .map(move |gate| s.first_pattern.saturating_add(gate))
}

/// The gates (scanner-local patterns; `None`: an entry of `gates` missing,
/// only in unvalidated content) of gated value `v` (`flags`) that list its
/// rule: every gate, or, its gates all required (`GATES_ALL`), its first
/// (format.rs, "Gated globs and regular expressions"). At most
/// [`MAX_VALUE_GATES`].
pub(crate) fn listing_gates<'c>(
    c: &'c Content<'_>,
    v: u64,
    flags: u32,
) -> impl Iterator<Item = Option<u32>> + 'c {
    let (first, count) = value::gates(value::split(v).1);
    let count = if flags & value::GATES_ALL != 0 { count.min(1) } else { count.min(MAX_VALUE_GATES) };
    (0..count).map(move |k| c.gate(ix(first.saturating_add(k))))
}

/// The steps evaluation charges for reading the gates of `p`'s values beyond
/// each value's first (format.rs, "Gated globs and regular expressions").
pub(crate) fn extra_gate_steps(c: &Content<'_>, p: &PredicateEntry) -> u64 {
    let mut steps = 0u64;
    for i in 0..p.value_count {
        let Some((v, flags)) = c.value(ix(p.first_value.saturating_add(i))) else { break };
        if flags & value::GATED != 0 {
            let (_, count) = value::gates(value::split(v).1);
            steps = steps.saturating_add(count.min(MAX_VALUE_GATES).saturating_sub(1).into());
        }
    }
    steps
}

/// Predicate `index` (`p`, operator `op`, its values' ranges and flags
/// checked): its scanner and its values' gates. `next_gate` is the entry of
/// `gates` the next gated value's gates start at (the gated values cover
/// `gates` in order); `offset(section, entry, field)` names a byte of the
/// content.
pub(crate) fn check_predicate(
    c: &Content<'_>,
    index: usize,
    p: &PredicateEntry,
    op: Operator,
    next_gate: &mut u32,
    offset: impl Fn(u16, usize, usize) -> usize,
) -> Result<()> {
    let entry = small(index);
    let gateable = matches!(op, Operator::Glob | Operator::Regex);
    // A literal predicate's scanner is checked by the validator (its values are patterns).
    let s = if p.scanner == NONE || !gateable {
        None
    } else {
        match c.scanner(ix(p.scanner)) {
            Some(s) if s.field == p.field && s.case == 1 => Some(s),
            _ => {
                let e = ErrorKind::ScannerMismatch { predicate: entry, scanner: p.scanner };
                return Err(ValidationError::at(offset(section::PREDICATES, index, predicate::SCANNER), e));
            }
        }
    };
    let mut every = p.value_count > 0;
    for i in 0..p.value_count {
        let global = ix(p.first_value.saturating_add(i));
        let Some((v, flags)) = c.value(global) else { break };
        let bad = ValidationError::at(
            offset(section::VALUES, global, 0),
            ErrorKind::BadGate { predicate: entry, value: i },
        );
        if flags & value::GATED == 0 {
            every = false;
            if flags & value::GATES_ALL != 0 {
                return Err(bad);
            }
            // A value without a gate of a glob or regex predicate is an index below 2^32.
            if gateable && value::split(v).1 != 0 {
                return Err(bad);
            }
            continue;
        }
        let (item, word) = value::split(v);
        let Some(s) = s.filter(|_| gateable) else { return Err(bad) };
        let (first, count) = value::gates(word);
        // Several gates of a glob are its runs, all required; `GATES_ALL` names two or more.
        let all = flags & value::GATES_ALL != 0;
        let most = if op == Operator::Glob && !all { 1 } else { MAX_VALUE_GATES };
        if first != *next_gate || count == 0 || count > most || all && count < 2 {
            return Err(bad);
        }
        // Strictly ascending; all required: the first (the rule's listing gate), then the
        // others strictly ascending, none the first.
        let (mut previous, mut listing) = (None, None);
        for k in 0..count {
            let at = ix(first.saturating_add(k));
            let Some(gate) = c.gate(at) else {
                let e = ErrorKind::BadGate { predicate: entry, value: i };
                return Err(ValidationError::at(offset(section::GATES, at, 0), e));
            };
            let ascending = previous.is_none_or(|p| p < gate) && listing != Some(gate);
            if all && k == 0 {
                listing = Some(gate);
            } else {
                previous = Some(gate);
            }
            let holds = ascending
                && c.pattern(&s, gate).is_some_and(|(state, len)| {
                    op != Operator::Glob || glob_gate_holds(c, &s, item, state, len)
                });
            if !holds {
                let e = ErrorKind::BadGate { predicate: entry, value: i };
                return Err(ValidationError::at(offset(section::GATES, at, 0), e));
            }
        }
        *next_gate = first.saturating_add(count);
    }
    if (p.flags & predicate::GATED != 0) != (gateable && every) {
        return Err(ValidationError::at(
            offset(section::PREDICATES, index, predicate::FLAGS),
            ErrorKind::BadGate { predicate: entry, value: p.value_count },
        ));
    }
    Ok(())
}

/// After every predicate: the gated values' gates cover `gates` exactly.
pub(crate) fn check_covered(
    c: &Content<'_>,
    next_gate: u32,
    offset: impl Fn(u16, usize, usize) -> usize,
) -> Result<()> {
    let entries = small(c.count(section::GATES));
    if next_gate != entries {
        let e = ErrorKind::GatesUncovered { used: next_gate, entries };
        return Err(ValidationError::at(offset(section::GATES, ix(next_gate), 0), e));
    }
    Ok(())
}

/// Whether the pattern ending at `state` (`len` units) of scanner `s` is
/// the folding of a maximal run of literal units of glob `glob`: the run is
/// walked through the scanner's gotos from its root.
fn glob_gate_holds(c: &Content<'_>, s: &ScannerEntry, glob: u32, state: u32, len: u32) -> bool {
    let Some(g) = c.glob(ix(glob)) else { return false };
    let tokens = usize::from(g.tokens).min(MAX_GLOB_TOKENS);
    // The glob's literal unit at each position (folded as the scanner folds), if it has one.
    let mut units = [None::<u16>; MAX_GLOB_TOKENS];
    // Each position is visited once per unit that names it: at most 63 in all
    // (the glob table checked), so the check costs a few steps per token.
    for k in 0..u32::from(g.unit_count) {
        let Some((unit, mut mask)) = c.glob_unit(g.first_unit.saturating_add(k)) else { return false };
        let folded = if g.case == 1 { unit } else { fold_unit(unit) };
        while mask != 0 {
            let at = mask.trailing_zeros() as usize;
            mask &= mask.wrapping_sub(1);
            if let Some(slot @ None) = units.get_mut(at) {
                *slot = Some(folded);
            }
        }
    }
    units
        .get(..tokens)
        .unwrap_or_default()
        .split(Option::is_none)
        .any(|run| small(run.len()) == len && walk(c, s, run.iter().flatten().copied()) == Some(state))
}

/// The state scanner `s` reaches from its root by gotos alone on `units`
/// (folded already), if every goto exists.
fn walk(c: &Content<'_>, s: &ScannerEntry, units: impl Iterator<Item = u16>) -> Option<u32> {
    let mut at = 0u32;
    for unit in units {
        let class = class_of(c, s, unit)?;
        at = goto_of(c, s, at, class)?;
    }
    Some(at)
}

fn class_of(c: &Content<'_>, s: &ScannerEntry, unit: u16) -> Option<u16> {
    let ascii = small(scanner::ASCII);
    if u32::from(unit) < ascii {
        return c.class_entry(s.first_class.saturating_add(unit.into())).map(|(_, class)| class);
    }
    let (mut lo, mut hi) = (ascii, s.class_entries);
    while lo < hi {
        let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
        let (u, class) = c.class_entry(s.first_class.saturating_add(mid))?;
        match u.cmp(&unit) {
            core::cmp::Ordering::Equal => return Some(class),
            core::cmp::Ordering::Less => lo = mid.saturating_add(1),
            core::cmp::Ordering::Greater => hi = mid,
        }
    }
    None
}

/// State `from`'s goto on `class`: the root's dense row (target 0: none),
/// or a row sorted by class.
fn goto_of(c: &Content<'_>, s: &ScannerEntry, from: u32, class: u16) -> Option<u32> {
    if class == 0 {
        return None;
    }
    let e = c.entry(section::STATES, ix(s.first_state.saturating_add(from)))?;
    let (first, count) = (u32_at(e, state::FIRST_GOTO)?, u32_at(e, state::GOTO_COUNT)?);
    let target = |k: u32| {
        let g = c.entry(section::GOTOS, ix(first.saturating_add(k)))?;
        Some((ringfence_wire::bytes::u16_at(g, goto::CLASS)?, u32_at(g, goto::TARGET)?))
    };
    if from == 0 {
        let (_, to) = target(class.into()).filter(|_| u32::from(class) < count)?;
        return (to != 0).then_some(to);
    }
    let (mut lo, mut hi) = (0u32, count);
    while lo < hi {
        let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
        let (k, to) = target(mid)?;
        match k.cmp(&class) {
            core::cmp::Ordering::Equal => return Some(to),
            core::cmp::Ordering::Less => lo = mid.saturating_add(1),
            core::cmp::Ordering::Greater => hi = mid,
        }
    }
    None
}
