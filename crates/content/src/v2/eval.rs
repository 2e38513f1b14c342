//! The interpreter: scan every field the event's kind has an automaton for,
//! collect the candidate rules (those listed by a pattern found, or by any
//! pattern of a field the event answers unknown for, and the `always` rules;
//! every other rule is false, see [`super::format`]), then run each
//! candidate's expression code over its predicates in Kleene's three-valued
//! logic. No allocation: the pattern and candidate bitsets live in the caller's
//! scratch buffer ([`Content::scratch_words`]), the expression stack in two
//! u64 bit-stacks, the verdict's rule ids in the caller's arrays.
//!
//! Semantics:
//! - a predicate on a field the event answers *unknown* for (a companion field
//!   in the kernel, a path on a volume the sensor cannot translate) is
//!   unknown; on an absent field it is false, except `absent` (true);
//! - a detection rule whose expression is true is *matched*, unknown is
//!   *undecided*: both are reported by id, in id order, as many as the
//!   caller's arrays hold, with a count of the rest;
//! - the filter (format 1's, in three values): an event is kept when
//!   (no include rule for its kind, or some include rule holds) and no exclude
//!   rule holds; [`Filter::Undecided`] when that is unknown. The sensor drops
//!   an event only on [`Filter::Drop`] with nothing matched or undecided.

use super::automaton::{Hit, Hits, glob_matches, mark_candidate, scan};
use super::content::{Content, PredicateEntry, RuleEntry, ScannerEntry, ix};
use super::cost::VALUE_STEPS;
use super::error::EvaluationError;
use super::expr::{Stack, Truth};
use super::format::{MAX_VALUE_GATES, Operator, Role, code, predicate, rule, section, value};
use crate::meter::{EVENT_WORK_LIMIT, Meter};
use ringfence_wire::schema::{COMPANION_BASE, Lookup};
use ringfence_wire::{EventKind, Fields, Text, Value};

/// What the event supplies for one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// Text as two slices scanned as one (`head` ++ `tail`): a translated DOS
    /// volume prefix and the NT path's remainder, without copying.
    Text { head: Text<'a>, tail: Text<'a> },
    /// An integer, a time or a bool (0/1).
    Integer(u64),
    /// Known to have no value.
    Absent,
    /// Not known here (a companion field in the kernel, a path on an unknown volume).
    Unknown,
}

/// An event as format 2 reads it.
pub trait EventInput<'a> {
    fn kind(&self) -> EventKind;
    fn input(&self, field: u8) -> Input<'a>;
}

/// Any [`Fields`] source (a typed event, a decoded record) as an [`EventInput`]:
/// text whole in `head`, lookups as they are.
#[derive(Debug)]
pub struct FromFields<'f, F>(pub &'f F);

impl<'a, F: Fields<'a>> EventInput<'a> for FromFields<'_, F> {
    fn kind(&self) -> EventKind {
        self.0.kind()
    }

    fn input(&self, field: u8) -> Input<'a> {
        match self.0.lookup(field) {
            Lookup::Value(Value::Str(text)) => Input::Text { head: text, tail: Text::default() },
            Lookup::Value(v) => v.as_u64().map_or(Input::Absent, Input::Integer),
            Lookup::Absent => Input::Absent,
            Lookup::Unknown => Input::Unknown,
        }
    }
}

/// The filter's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    Keep,
    Drop,
    Undecided,
}

/// The outcome of one evaluation; the ids are in the caller's arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Matched detection rule ids written to the `matched` array.
    pub matched: usize,
    /// Matched detection rules that did not fit the array.
    pub matched_rest: u32,
    /// Undecided detection rule ids written to the `undecided` array.
    pub undecided: usize,
    pub undecided_rest: u32,
    pub filter: Filter,
    /// The include rule with the lowest id that holds, when the filter keeps by one.
    pub include_rule: Option<u32>,
}

impl Verdict {
    /// Whether the sensor may drop the event: the filter drops it and no
    /// detection rule matched or could match.
    pub fn droppable(&self) -> bool {
        self.filter == Filter::Drop
            && self.matched == 0
            && self.matched_rest == 0
            && self.undecided == 0
            && self.undecided_rest == 0
    }
}

/// Where an evaluation writes its rule ids.
#[derive(Debug)]
pub struct RuleIds<'b> {
    pub matched: &'b mut [u32],
    pub undecided: &'b mut [u32],
}

fn push(ids: &mut [u32], written: &mut usize, rest: &mut u32, id: u32) {
    match ids.get_mut(*written) {
        Some(slot) => {
            *slot = id;
            *written = written.saturating_add(1);
        }
        None => *rest = rest.saturating_add(1),
    }
}

impl<'a> Content<'a> {
    /// Evaluates `event` within the kernel's per-event [`EVENT_WORK_LIMIT`]
    /// (past it: [`EvaluationError::CostExceeded`]). The companion's stage,
    /// which decides on the whole content, meters with the content budget
    /// ([`Content::evaluate_metered`], [`super::MAX_EVALUATION_COST`]).
    pub fn evaluate<'e, E: EventInput<'e>>(
        &self,
        event: &E,
        scratch: &mut [u64],
        ids: RuleIds<'_>,
    ) -> Result<Verdict, EvaluationError> {
        self.evaluate_metered(event, scratch, ids, &mut Meter::new(EVENT_WORK_LIMIT))
    }

    /// [`Content::evaluate`], counting work on `meter`; past its limit the
    /// evaluation stops with [`EvaluationError::CostExceeded`].
    pub fn evaluate_metered<'e, E: EventInput<'e>>(
        &self,
        event: &E,
        scratch: &mut [u64],
        ids: RuleIds<'_>,
        meter: &mut Meter,
    ) -> Result<Verdict, EvaluationError> {
        let needed = self.scratch_words();
        let given = scratch.len();
        let Some(mut hits) = Hits::new(scratch, self.pattern_count(), self.rule_count()) else {
            return Err(EvaluationError::ScratchTooSmall { needed, given });
        };
        meter.charge_steps_usize(needed);
        let kind = event.kind().code();
        // Whether the event answers unknown for exactly the companion fields
        // among its scanners' fields: then the kernel defaults hold (format.rs).
        let mut defaults_hold = true;
        for index in 0..self.count(section::SCANNERS) {
            meter.charge_steps(1);
            let Some(s) = self.scanner(index) else { break };
            if s.kind != kind {
                continue;
            }
            let companion = s.field >= COMPANION_BASE;
            match event.input(s.field) {
                Input::Text { head, tail } => {
                    defaults_hold &= !companion;
                    scan(self, index, s, head, tail, &mut hits, meter);
                    self.candidates(&s, true, &mut hits, meter);
                }
                // Every rule reading the field may be unknown.
                Input::Unknown => {
                    defaults_hold &= companion;
                    self.candidates(&s, false, &mut hits, meter);
                }
                Input::Integer(_) | Input::Absent => defaults_hold &= !companion,
            }
            if meter.exhausted() {
                return Err(stopped(meter));
            }
        }
        for entry in 0..self.count(section::ALWAYS) {
            meter.charge_steps(1);
            let Some(rule) = self.rule_index(section::ALWAYS, entry) else { break };
            hits.candidate(rule);
        }
        let verdict = self.rules_verdict(kind, event, &hits, defaults_hold, ids, meter);
        if meter.exhausted() {
            return Err(stopped(meter));
        }
        Ok(verdict)
    }

    /// Marks the rules listed by scanner `s`'s patterns as candidates: those
    /// found (`found`), or all of them.
    fn candidates(&self, s: &ScannerEntry, found: bool, hits: &mut Hits<'_>, meter: &mut Meter) {
        let first = ix(s.first_pattern);
        let end = first.saturating_add(ix(s.pattern_count));
        let (first_word, end_word) = (first / 64, end.div_ceil(64));
        // One unit per word, charged at once: past the budget nothing is read.
        meter.charge_steps_usize(end_word.saturating_sub(first_word));
        if meter.exhausted() {
            return;
        }
        // The words of the scanner's patterns that hold a found one (every word when not `found`).
        let (found_words, candidates) = hits.contained_and_candidates(first_word, end_word, found);
        let range = (first, end);
        if found {
            // Eight words at a time: most of a large content's words hold nothing found.
            for (chunk_index, chunk) in found_words.chunks(8).enumerate() {
                if chunk.iter().fold(0, |any, &w| any | w) == 0 {
                    continue;
                }
                for (i, &bits) in chunk.iter().enumerate() {
                    let word = first_word.saturating_add(chunk_index.saturating_mul(8)).saturating_add(i);
                    if bits != 0 && !self.word_candidates(range, word, bits, candidates, meter) {
                        return;
                    }
                }
            }
        } else {
            // Every pattern's references: the validator checked that a
            // scanner's patterns list theirs one after the other, so they are
            // one run of `refs`, charged as visiting each and marked in one pass.
            let run = self.scanner_refs(s);
            meter.charge_steps_usize(run.len() / 2);
            if meter.exhausted() {
                return;
            }
            for pair in run.chunks_exact(2) {
                if let &[low, high] = pair {
                    mark_candidate(candidates, usize::from(u16::from_le_bytes([low, high])));
                }
            }
        }
    }

    /// The `refs` entries of scanner `s`'s patterns (its first pattern's
    /// first to its last pattern's end: exactly theirs in validated content;
    /// in other bytes some run of `refs`, or none, which moves a verdict
    /// only, each entry still charged).
    fn scanner_refs(&self, s: &ScannerEntry) -> &'a [u8] {
        if s.pattern_count == 0 {
            return &[];
        }
        let first = ix(s.first_pattern);
        let last = first.saturating_add(ix(s.pattern_count)).saturating_sub(1);
        let (Some((start, _)), Some((at, count))) = (self.pattern_refs(first), self.pattern_refs(last))
        else {
            return &[];
        };
        let (start, end) = (ix(start).saturating_mul(2), ix(at.saturating_add(count)).saturating_mul(2));
        self.table(section::REFS).get(start..end).unwrap_or(&[])
    }

    /// Marks the rules listed by the patterns of word `word` set in `bits`
    /// and within `range`; false when the meter ran out or a reference is
    /// missing (only in unvalidated content).
    #[inline(always)]
    fn word_candidates(
        &self,
        (first, end): (usize, usize),
        word: usize,
        mut bits: u64,
        candidates: &mut [u64],
        meter: &mut Meter,
    ) -> bool {
        let base = word.saturating_mul(64);
        bits &= u64::MAX.checked_shl(u32::try_from(first.saturating_sub(base)).unwrap_or(64)).unwrap_or(0);
        let above = u32::try_from(end.saturating_sub(base)).unwrap_or(64);
        bits &= 1u64.checked_shl(above).map_or(u64::MAX, |b| b.wrapping_sub(1));
        while bits != 0 {
            let pattern = base.saturating_add(bits.trailing_zeros() as usize);
            bits &= bits.wrapping_sub(1);
            let Some((first_ref, count)) = self.pattern_refs(pattern) else { return false };
            for k in 0..count {
                meter.charge_steps(1);
                if meter.exhausted() {
                    return false;
                }
                let Some(rule) = self.rule_index(section::REFS, ix(first_ref.saturating_add(k))) else {
                    return false;
                };
                mark_candidate(candidates, rule);
            }
        }
        true
    }

    fn rules_verdict<'e, E: EventInput<'e>>(
        &self,
        kind: u16,
        event: &E,
        hits: &Hits<'_>,
        defaults_hold: bool,
        ids: RuleIds<'_>,
        meter: &mut Meter,
    ) -> Verdict {
        let mut v = Verdict {
            matched: 0,
            matched_rest: 0,
            undecided: 0,
            undecided_rest: 0,
            filter: Filter::Keep,
            include_rule: None,
        };
        let (mut exclude, mut include, mut has_include) = (Truth::False, Truth::False, false);
        // The candidates, in rule (id) order; the others are false.
        for (word, (&found, &unknown)) in hits.candidates.iter().zip(hits.unknowns.iter()).enumerate() {
            meter.charge_steps(1);
            let mut bits = found | unknown;
            while bits != 0 {
                let bit = bits & bits.wrapping_neg();
                let index = word.saturating_mul(64).saturating_add(bits.trailing_zeros() as usize);
                bits &= bits.wrapping_sub(1);
                meter.charge_steps(1);
                if meter.exhausted() {
                    break;
                }
                // The kind and the default first: most rules a companion field
                // lists are decided by them without the rest of their entry.
                let Some((rule_kind, rule_default)) = self.rule_kind_and_default(index) else { break };
                if rule_kind != kind {
                    continue;
                }
                // Listed only through a field answered unknown: its kernel default, if it has one.
                let default =
                    if found & bit == 0 && defaults_hold { rule_default } else { rule::DEFAULT_NONE };
                if default == rule::DEFAULT_FALSE {
                    continue;
                }
                let Some(r) = self.rule(index) else { break };
                let truth = match default {
                    rule::DEFAULT_UNKNOWN => Truth::Unknown,
                    _ => self.rule_truth(&r, event, hits, meter),
                };
                match Role::from_code(r.role) {
                    Some(Role::Detection) => match truth {
                        Truth::True => push(ids.matched, &mut v.matched, &mut v.matched_rest, r.id),
                        Truth::Unknown => push(ids.undecided, &mut v.undecided, &mut v.undecided_rest, r.id),
                        Truth::False => {}
                    },
                    Some(Role::Exclude) => exclude = exclude.or(truth),
                    Some(Role::Include) => {
                        has_include = true;
                        if truth == Truth::True && v.include_rule.is_none() {
                            v.include_rule = Some(r.id);
                        }
                        include = include.or(truth);
                    }
                    None => {}
                }
            }
        }
        let include = if has_include { include } else { Truth::True };
        v.filter = match include.and(exclude.not()) {
            Truth::True => Filter::Keep,
            Truth::False => Filter::Drop,
            Truth::Unknown => Filter::Undecided,
        };
        if v.filter != Filter::Keep {
            v.include_rule = None;
        }
        v
    }

    /// A rule's expression; malformed code (only in unvalidated content) is unknown.
    fn rule_truth<'e, E: EventInput<'e>>(
        &self,
        r: &RuleEntry,
        event: &E,
        hits: &Hits<'_>,
        meter: &mut Meter,
    ) -> Truth {
        let mut stack = Stack::new();
        for at in 0..r.code_len {
            meter.charge_steps(1);
            if meter.exhausted() {
                return Truth::Unknown;
            }
            let Some((op, arg)) = self.instruction(ix(r.first_code.saturating_add(at))) else {
                return Truth::Unknown;
            };
            let ok = match op {
                code::PRED => {
                    let truth = if u32::from(arg) < r.predicate_count {
                        let index = ix(r.first_predicate.saturating_add(u32::from(arg)));
                        self.predicate(index)
                            .map_or(Truth::Unknown, |p| self.predicate_truth(&p, event, hits, meter))
                    } else {
                        Truth::Unknown
                    };
                    stack.push(truth)
                }
                code::AND => stack.and(arg),
                code::OR => stack.or(arg),
                code::NOT => stack.not(),
                _ => false,
            };
            if !ok {
                return Truth::Unknown;
            }
        }
        stack.result().unwrap_or(Truth::Unknown)
    }

    fn predicate_truth<'e, E: EventInput<'e>>(
        &self,
        p: &PredicateEntry,
        event: &E,
        hits: &Hits<'_>,
        meter: &mut Meter,
    ) -> Truth {
        meter.charge_steps(1);
        let Some(op) = Operator::from_code(p.operator) else { return Truth::Unknown };
        let input = event.input(p.field);
        match (op, input) {
            (_, Input::Unknown) => Truth::Unknown,
            (Operator::Exists, Input::Absent)
            | (Operator::Absent, Input::Text { .. } | Input::Integer(_)) => Truth::False,
            (Operator::Exists, _) | (Operator::Absent, Input::Absent) => Truth::True,
            (_, Input::Absent) => Truth::False,
            (op, Input::Integer(x)) if op.is_integer() => self.values(p, meter, |v, _, _| match op {
                Operator::IntEquals => x == v,
                Operator::Less => x < v,
                Operator::LessOrEqual => x <= v,
                Operator::Greater => x > v,
                _ => x >= v,
            }),
            // A gated value whose gate the scan did not find is false without running.
            (Operator::Glob, Input::Text { head, tail }) => {
                let s = self.scanner(ix(p.scanner)).unwrap_or_default();
                self.values(p, meter, |v, flags, meter| {
                    gated(self, &s, v, flags, hits, meter)
                        .is_some_and(|g| glob_matches(self, ix(g), head, tail, meter))
                })
            }
            (Operator::Regex, Input::Text { head, tail }) => {
                let s = self.scanner(ix(p.scanner)).unwrap_or_default();
                self.values(p, meter, |v, flags, meter| {
                    gated(self, &s, v, flags, hits, meter)
                        .is_some_and(|r| super::regex::matches(self, r.into(), head, tail, meter))
                })
            }
            (op, Input::Text { .. }) if op.is_literal() => {
                let hit = match op {
                    Operator::Equals => Hit::Whole,
                    Operator::StartsWith => Hit::Prefix,
                    Operator::EndsWith => Hit::Suffix,
                    _ => Hit::Contained,
                };
                let s = self.scanner(ix(p.scanner)).unwrap_or_default();
                self.values(p, meter, |v, _, _| {
                    u32::try_from(v).is_ok_and(|local| {
                        local < s.pattern_count && hits.get(hit, ix(s.first_pattern.saturating_add(local)))
                    })
                })
            }
            _ => Truth::False,
        }
    }

    /// Some value holds (`any`), or every group of alternatives has one that holds (`all`).
    fn values(
        &self,
        p: &PredicateEntry,
        meter: &mut Meter,
        mut holds: impl FnMut(u64, u32, &mut Meter) -> bool,
    ) -> Truth {
        let all = p.flags & predicate::ALL != 0;
        let mut group_holds = false;
        let mut started = false;
        for i in 0..p.value_count {
            meter.charge_steps(VALUE_STEPS);
            if meter.exhausted() {
                return Truth::Unknown;
            }
            let Some((v, flags)) = self.value(ix(p.first_value.saturating_add(i))) else {
                return Truth::Unknown;
            };
            if flags & value::ALT == 0 {
                if all && started && !group_holds {
                    return Truth::False;
                }
                started = true;
                group_holds = false;
            }
            if group_holds {
                continue;
            }
            group_holds = holds(v, flags, meter);
            if group_holds && !all {
                return Truth::True;
            }
        }
        Truth::from_bool(all && started && group_holds)
    }
}

/// A glob or regex value's index, when it may hold: ungated, or gated and one
/// of its gates (patterns of scanner `s`, listed in `gates`) found by the scan
/// (with `GATES_ALL`: every one of them) (format.rs, "Gated globs and regular
/// expressions"). `None`: the value is false. At most [`MAX_VALUE_GATES`]
/// gates are read, each after the first charged one step.
#[inline(always)]
fn gated(
    c: &Content<'_>,
    s: &ScannerEntry,
    v: u64,
    flags: u32,
    hits: &Hits<'_>,
    meter: &mut Meter,
) -> Option<u32> {
    if flags & value::GATED == 0 {
        return u32::try_from(v).ok();
    }
    let all = flags & value::GATES_ALL != 0;
    let (index, word) = value::split(v);
    let (first, count) = value::gates(word);
    for k in 0..count.min(MAX_VALUE_GATES) {
        if k > 0 {
            meter.charge_steps(1);
        }
        let found = c.gate(ix(first.saturating_add(k))).is_some_and(|gate| {
            gate < s.pattern_count && hits.get(Hit::Contained, ix(s.first_pattern.saturating_add(gate)))
        });
        if found != all {
            // One found (any), or one missing (all): decided.
            return found.then_some(index);
        }
    }
    // Every gate read missing (any) or found (all); no gate read: false.
    (all && count > 0).then_some(index)
}

/// Evaluates bytes nobody validated: memory-safe and bounded by
/// [`EVENT_WORK_LIMIT`] whatever they hold.
pub fn evaluate_raw<'e, E: EventInput<'e>>(
    bytes: &[u8],
    event: &E,
    scratch: &mut [u64],
    ids: RuleIds<'_>,
) -> Result<Verdict, EvaluationError> {
    Content::from_unvalidated(bytes).evaluate(event, scratch, ids)
}

/// Why an evaluation whose meter ran out stopped: its work limit or its deadline.
fn stopped(meter: &Meter) -> EvaluationError {
    if meter.late() {
        EvaluationError::DeadlinePassed { used: meter.used() }
    } else {
        EvaluationError::CostExceeded { limit: meter.limit() }
    }
}

/// [`Content::evaluate`] on a typed event, monomorphic for the no-panic proof.
#[cfg_attr(feature = "no-panic", no_panic::no_panic)]
pub fn evaluate_event(
    content: &Content<'_>,
    event: &ringfence_wire::Event<'_>,
    scratch: &mut [u64],
    ids: RuleIds<'_>,
) -> Result<Verdict, EvaluationError> {
    content.evaluate(&FromFields(event), scratch, ids)
}

/// [`evaluate_raw`] on a typed event, monomorphic for the no-panic proof.
#[cfg_attr(feature = "no-panic", no_panic::no_panic)]
pub fn evaluate_event_raw(
    bytes: &[u8],
    event: &ringfence_wire::Event<'_>,
    scratch: &mut [u64],
    ids: RuleIds<'_>,
) -> Result<Verdict, EvaluationError> {
    evaluate_raw(bytes, &FromFields(event), scratch, ids)
}
