//! The evaluator: a [`RuleSet`] over an event given as [`EventFields`],
//! returning every rule that matched and every rule left undecided.
//!
//! Three-valued: a field the stage cannot know ([`FieldValue::Unknown`], e.g.
//! OriginalFileName in the kernel) makes its predicates *unknown*, and Kleene
//! logic carries that up (`false and unknown` is false, `true or unknown`
//! true, `not unknown` unknown). A rule is matched only when its condition is
//! true, undecided when unknown. A field that is *absent* (the kernel could
//! not read it) is Sigma's missing field: every predicate on it is false but
//! `exists: false` and `null`.

mod index;

use std::fmt;
use std::fmt::Write as _;

use ringfence_wire::EventKind;

use crate::fields::{Field, Source};
use crate::fold::View;
use crate::ir::{Case, Compare, Expr, Limit, Operator, Quantifier, Rule, Value, limits};
use index::{ANYWHERE, FieldBuilder, FieldIndex, PREFIX, SUFFIX, ScanScratch, WHOLE};

/// A field's value in one event, at one stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldValue<'a> {
    Text(&'a str),
    Integer(u64),
    /// The event has no value for it (Sigma's missing field).
    Absent,
    /// This stage cannot know it (a companion field in the kernel stage).
    Unknown,
}

/// An event as the evaluator reads it: Sigma's view of each field (DOS paths,
/// `DOMAIN\user`, Sysmon's renderings; see [`crate::fields`]).
pub trait EventFields {
    fn kind(&self) -> EventKind;
    fn field(&self, field: Field) -> FieldValue<'_>;
}

/// The kernel stage's view of an event: companion fields are unknown.
#[derive(Clone, Copy, Debug)]
pub struct KernelStage<'a, E: ?Sized>(pub &'a E);

impl<E: EventFields + ?Sized> EventFields for KernelStage<'_, E> {
    fn kind(&self) -> EventKind {
        self.0.kind()
    }

    fn field(&self, field: Field) -> FieldValue<'_> {
        if field.source(self.0.kind()).is_kernel() { self.0.field(field) } else { FieldValue::Unknown }
    }
}

/// Kleene's three truth values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Truth {
    False,
    True,
    Unknown,
}

impl Truth {
    fn from_bool(b: bool) -> Self {
        if b { Truth::True } else { Truth::False }
    }

    fn not(self) -> Self {
        match self {
            Truth::False => Truth::True,
            Truth::True => Truth::False,
            Truth::Unknown => Truth::Unknown,
        }
    }
}

/// The outcome of one evaluation: indices into [`RuleSet::rules`], ascending.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Matches {
    pub matched: Vec<usize>,
    /// Rules whose verdict depends on fields this stage does not know.
    pub undecided: Vec<usize>,
}

impl Matches {
    /// The matched rules.
    pub fn rules<'a>(&'a self, set: &'a RuleSet) -> impl Iterator<Item = &'a Rule> + 'a {
        self.matched.iter().filter_map(|&i| set.rules.get(i))
    }
}

/// Why a rule set cannot be built from rules (rules the Sigma compiler emits never fail).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildError {
    /// Over a published limit; `rule` is the rule's index (`None`: the set).
    Limit { rule: Option<usize>, limit: Limit, value: usize },
    /// A predicate on a field the rule's event kind does not have.
    Field { rule: usize, field: Field },
    /// The condition refers to a predicate the rule does not have.
    Predicate { rule: usize, predicate: u32 },
    /// A predicate's values do not fit its operator (`Exists` with values, a comparison of text…).
    Values { rule: usize, predicate: u32 },
    /// Another rule has the same id.
    DuplicateId { rule: usize },
    /// A regular expression or automaton the engine refused.
    Matcher { field: Field, message: String },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Limit { rule: Some(rule), limit, value } => {
                write!(f, "rule {rule}: {value} {} is over the limit of {}", limit.name(), limit.bound())
            }
            BuildError::Limit { rule: None, limit, value } => {
                write!(f, "{value} {} is over the limit of {}", limit.name(), limit.bound())
            }
            BuildError::Field { rule, field } => {
                write!(f, "rule {rule}: field {} is not matchable in its event kind", field.sigma_name())
            }
            BuildError::Predicate { rule, predicate } => {
                write!(f, "rule {rule}: the condition refers to predicate {predicate}, which it lacks")
            }
            BuildError::Values { rule, predicate } => {
                write!(f, "rule {rule}: predicate {predicate} has values its operator cannot take")
            }
            BuildError::DuplicateId { rule } => write!(f, "rule {rule}: another rule has the same id"),
            BuildError::Matcher { field, message } => write!(f, "{}: {message}", field.sigma_name()),
        }
    }
}

impl std::error::Error for BuildError {}

/// One value check of a compiled predicate.
#[derive(Clone, Copy, Debug)]
enum Check {
    /// A literal slot with any of these hit flags.
    Literal {
        slot: usize,
        need: u8,
    },
    /// The empty literal: always found, except `equals ''` needs an empty field.
    Empty {
        need: u8,
    },
    /// A glob or regex slot.
    Regex {
        slot: usize,
    },
    IntegerEquals(i64),
    IntegerCompare(Compare, i64),
}

#[derive(Clone, Debug)]
struct CompiledPredicate {
    /// Position of the field in the kind's field list.
    field: usize,
    quantifier: Quantifier,
    exists: Option<bool>,
    checks: Vec<Check>,
}

impl CompiledPredicate {
    /// Whether this predicate is false whenever its field is known and none of its slots
    /// (literal or regular expression) has a hit: `any` of checks that all need a hit, or
    /// `all` of checks of which one needs a hit.
    fn needs_a_hit(&self) -> bool {
        let needs = |c: &Check| matches!(c, Check::Literal { .. } | Check::Regex { .. });
        self.exists.is_none()
            && match self.quantifier {
                Quantifier::Any => !self.checks.is_empty() && self.checks.iter().all(needs),
                Quantifier::All => self.checks.iter().any(needs),
            }
    }

    fn slots(&self) -> impl Iterator<Item = usize> + '_ {
        self.checks.iter().filter_map(|c| match *c {
            Check::Literal { slot, .. } | Check::Regex { slot } => Some(slot),
            _ => None,
        })
    }
}

#[derive(Debug)]
struct KindIndex {
    kind: EventKind,
    fields: Vec<(Field, FieldIndex)>,
    /// Per rule of this kind: its index in the set and its predicates.
    rules: Vec<(usize, Vec<CompiledPredicate>)>,
    slots: usize,
    candidates: Candidates,
}

/// Which rules an event can match, from the slots its scan hit.
///
/// A rule is *gated* when its condition is false under Kleene logic once every predicate
/// that needs a hit ([`CompiledPredicate::needs_a_hit`]) is false and every other predicate
/// unknown: whatever the other predicates are, an event with no hit in the rule's slots and
/// those fields known cannot match it, nor leave it undecided. Such a rule is evaluated only
/// when one of its slots hit or a field it needs a hit on is unknown; every other rule
/// (`not filter` alone, `exists: false`, integer comparisons, empty values) on every event.
#[derive(Debug, Default)]
struct Candidates {
    /// Rules (positions in [`KindIndex::rules`]) using each slot: `slot_rules[slot_start[s]..slot_start[s + 1]]`.
    slot_start: Vec<u32>,
    slot_rules: Vec<u32>,
    /// Per field position: the gated rules with a predicate needing a hit on it.
    field_rules: Vec<Vec<u32>>,
    /// Bitset of the rules evaluated on every event.
    always: Vec<u64>,
}

impl Candidates {
    fn new(
        rules: &[(usize, Vec<CompiledPredicate>)],
        conditions: &[&Expr],
        fields: usize,
        slots: usize,
    ) -> Self {
        let mut per_slot: Vec<Vec<u32>> = vec![Vec::new(); slots];
        let mut field_rules: Vec<Vec<u32>> = vec![Vec::new(); fields];
        let mut always = vec![0u64; rules.len().div_ceil(64)];
        for (position, ((_, predicates), condition)) in rules.iter().zip(conditions).enumerate() {
            let local = u32::try_from(position).unwrap_or(u32::MAX);
            if without_hits(condition, predicates) != Truth::False {
                if let Some(word) = always.get_mut(position / 64) {
                    *word |= 1 << (position % 64);
                }
                continue;
            }
            for p in predicates.iter().filter(|p| p.needs_a_hit()) {
                for slot in p.slots() {
                    if let Some(list) = per_slot.get_mut(slot)
                        && list.last() != Some(&local)
                    {
                        list.push(local);
                    }
                }
                if let Some(list) = field_rules.get_mut(p.field)
                    && list.last() != Some(&local)
                {
                    list.push(local);
                }
            }
        }
        let mut slot_start = Vec::with_capacity(slots.saturating_add(1));
        let mut slot_rules = Vec::new();
        for list in per_slot {
            slot_start.push(u32::try_from(slot_rules.len()).unwrap_or(u32::MAX));
            slot_rules.extend(list);
        }
        slot_start.push(u32::try_from(slot_rules.len()).unwrap_or(u32::MAX));
        Candidates { slot_start, slot_rules, field_rules, always }
    }

    fn rules_of_slot(&self, slot: usize) -> &[u32] {
        let start = self.slot_start.get(slot).map_or(0, |&s| s as usize);
        let end = self.slot_start.get(slot.saturating_add(1)).map_or(start, |&e| e as usize);
        self.slot_rules.get(start..end).unwrap_or(&[])
    }
}

/// A rule's condition with every predicate that needs a hit false and every other unknown.
fn without_hits(expr: &Expr, predicates: &[CompiledPredicate]) -> Truth {
    match expr {
        Expr::Predicate(p) => match usize::try_from(*p).ok().and_then(|p| predicates.get(p)) {
            Some(p) if p.needs_a_hit() => Truth::False,
            Some(_) => Truth::Unknown,
            // The evaluator reads a missing predicate as false.
            None => Truth::False,
        },
        Expr::Not(inner) => without_hits(inner, predicates).not(),
        Expr::All(items) => {
            items.iter().fold(Truth::True, |out, item| match (out, without_hits(item, predicates)) {
                (Truth::False, _) | (_, Truth::False) => Truth::False,
                (Truth::Unknown, _) | (_, Truth::Unknown) => Truth::Unknown,
                _ => Truth::True,
            })
        }
        Expr::Any(items) => {
            items.iter().fold(Truth::False, |out, item| match (out, without_hits(item, predicates)) {
                (Truth::True, _) | (_, Truth::True) => Truth::True,
                (Truth::Unknown, _) | (_, Truth::Unknown) => Truth::Unknown,
                _ => Truth::False,
            })
        }
    }
}

/// What one evaluation needs besides the rule set, kept from one event to the next so that
/// evaluating allocates nothing once the buffers have grown: give each thread its own.
#[derive(Debug, Default)]
pub struct Scratch {
    /// Hit flags per slot; all zero between evaluations (the touched slots are reset).
    hits: Vec<u8>,
    states: Vec<FieldState>,
    /// Bitset of the rules to evaluate.
    candidates: Vec<u64>,
    /// An integer field's decimal text.
    number: String,
    scan: ScanScratch,
}

/// A compiled, indexed set of rules.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    kinds: Vec<KindIndex>,
}

/// A field's state in one evaluation.
#[derive(Clone, Copy, Debug)]
enum FieldState {
    Unknown,
    Absent,
    Present { integer: Option<i128>, empty: bool },
}

impl RuleSet {
    /// Indexes `rules`, checking every limit and reference.
    pub fn new(rules: Vec<Rule>) -> Result<RuleSet, BuildError> {
        if rules.len() > limits::MAX_RULES {
            return Err(BuildError::Limit { rule: None, limit: Limit::Rules, value: rules.len() });
        }
        for (i, rule) in rules.iter().enumerate() {
            if let Some((limit, value)) = rule.exceeded_limit() {
                return Err(BuildError::Limit { rule: Some(i), limit, value });
            }
            if rules.get(..i).is_some_and(|before| before.iter().any(|r| r.meta.id == rule.meta.id)) {
                return Err(BuildError::DuplicateId { rule: i });
            }
            check_references(i, rule)?;
        }
        let mut kinds = Vec::new();
        for kind in [EventKind::ProcessStart, EventKind::ProcessExit, EventKind::ImageLoad] {
            if rules.iter().any(|r| r.kind == kind) {
                kinds.push(index_kind(kind, &rules)?);
            }
        }
        Ok(RuleSet { rules, kinds })
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Every rule matching `event`, and every rule left undecided by unknown fields.
    /// Allocates its working buffers: a caller evaluating many events keeps a [`Scratch`]
    /// and calls [`RuleSet::evaluate_with`].
    pub fn evaluate(&self, event: &(impl EventFields + ?Sized)) -> Matches {
        self.evaluate_with(&mut Scratch::default(), event)
    }

    /// [`RuleSet::evaluate`] with reused buffers: the event's fields are scanned once, then
    /// only the candidate rules are evaluated — those with a hit in one of their slots, those
    /// needing a hit on a field this stage does not know, and those that can be true without
    /// any hit (see [`RuleSet::evaluated_on_every_event`]).
    pub fn evaluate_with(&self, scratch: &mut Scratch, event: &(impl EventFields + ?Sized)) -> Matches {
        let mut matches = Matches::default();
        let Some(index) = self.kinds.iter().find(|k| k.kind == event.kind()) else {
            return matches;
        };
        self.scan_fields(index, scratch, event);
        let Scratch { hits, states, candidates, scan, .. } = scratch;
        candidates.clear();
        candidates.extend_from_slice(&index.candidates.always);
        let mut mark = |local: u32| {
            if let Some(word) = candidates.get_mut(local as usize / 64) {
                *word |= 1 << (local % 64);
            }
        };
        for &slot in &scan.touched {
            index.candidates.rules_of_slot(slot as usize).iter().copied().for_each(&mut mark);
        }
        for (state, rules) in states.iter().zip(&index.candidates.field_rules) {
            if matches!(state, FieldState::Unknown) {
                rules.iter().copied().for_each(&mut mark);
            }
        }
        for (w, &word) in candidates.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                let local = w.saturating_mul(64).saturating_add(bits.trailing_zeros() as usize);
                bits &= bits.wrapping_sub(1);
                let Some((rule_index, predicates)) = index.rules.get(local) else { continue };
                let Some(rule) = self.rules.get(*rule_index) else { continue };
                match truth(&rule.condition, predicates, states, hits) {
                    Truth::True => matches.matched.push(*rule_index),
                    Truth::Unknown => matches.undecided.push(*rule_index),
                    Truth::False => {}
                }
            }
        }
        for slot in scan.touched.drain(..) {
            if let Some(hit) = hits.get_mut(slot as usize) {
                *hit = 0;
            }
        }
        // Rules of a kind are indexed in the set's order, so both lists are ascending.
        matches
    }

    /// Every rule of the event's kind evaluated, none skipped: the reference the candidate
    /// index is tested against, and the baseline of the benchmark.
    pub fn evaluate_unindexed(&self, event: &(impl EventFields + ?Sized)) -> Matches {
        let mut scratch = Scratch::default();
        let mut matches = Matches::default();
        let Some(index) = self.kinds.iter().find(|k| k.kind == event.kind()) else {
            return matches;
        };
        self.scan_fields(index, &mut scratch, event);
        for (rule_index, predicates) in &index.rules {
            let Some(rule) = self.rules.get(*rule_index) else { continue };
            match truth(&rule.condition, predicates, &scratch.states, &scratch.hits) {
                Truth::True => matches.matched.push(*rule_index),
                Truth::Unknown => matches.undecided.push(*rule_index),
                Truth::False => {}
            }
        }
        matches
    }

    /// Whether rule `rule` (an index into [`RuleSet::rules`]) is evaluated on every event of
    /// its kind, because its condition can be true, or unknown, when none of its literals and
    /// regular expressions matches; `None` for an index out of range.
    pub fn evaluated_on_every_event(&self, rule: usize) -> Option<bool> {
        let kind = self.rules.get(rule)?.kind;
        let index = self.kinds.iter().find(|k| k.kind == kind)?;
        let local = index.rules.iter().position(|(i, _)| *i == rule)?;
        let word = index.candidates.always.get(local / 64)?;
        Some(word & (1 << (local % 64)) != 0)
    }

    /// Scans every field the kind's rules read into `scratch.hits` and `scratch.states`.
    fn scan_fields(&self, index: &KindIndex, scratch: &mut Scratch, event: &(impl EventFields + ?Sized)) {
        if scratch.hits.len() < index.slots {
            scratch.hits.resize(index.slots, 0);
        }
        scratch.states.clear();
        for (field, matchers) in &index.fields {
            scratch.scan.fit(matchers);
            let state = match event.field(*field) {
                FieldValue::Unknown => FieldState::Unknown,
                FieldValue::Absent => FieldState::Absent,
                FieldValue::Integer(n) => {
                    let mut number = std::mem::take(&mut scratch.number);
                    number.clear();
                    let _ = write!(number, "{n}");
                    matchers.scan(&number, &mut scratch.hits, &mut scratch.scan);
                    scratch.number = number;
                    FieldState::Present { integer: Some(i128::from(n)), empty: false }
                }
                FieldValue::Text(text) => {
                    matchers.scan(text, &mut scratch.hits, &mut scratch.scan);
                    FieldState::Present { integer: text.parse::<i128>().ok(), empty: text.is_empty() }
                }
            };
            scratch.states.push(state);
        }
    }
}

fn check_references(i: usize, rule: &Rule) -> Result<(), BuildError> {
    fn walk(i: usize, expr: &Expr, count: usize) -> Result<(), BuildError> {
        match expr {
            Expr::Predicate(p) if usize::try_from(*p).is_ok_and(|p| p < count) => Ok(()),
            Expr::Predicate(p) => Err(BuildError::Predicate { rule: i, predicate: *p }),
            Expr::Not(inner) => walk(i, inner, count),
            Expr::All(items) | Expr::Any(items) => items.iter().try_for_each(|e| walk(i, e, count)),
        }
    }
    walk(i, &rule.condition, rule.predicates.len())?;
    for (p, predicate) in rule.predicates.iter().enumerate() {
        if matches!(predicate.field.source(rule.kind), Source::Unsupported(_)) {
            return Err(BuildError::Field { rule: i, field: predicate.field });
        }
        let fits = predicate.values.iter().all(|value| match (predicate.operator, value) {
            (Operator::Exists(_), _) => false,
            (Operator::Compare(_), Value::Integer(_)) => true,
            (Operator::Compare(_), _) => false,
            (Operator::Glob, Value::Glob(_)) => true,
            (Operator::Glob, _) | (_, Value::Glob(_)) => false,
            (Operator::Equals, Value::Integer(_)) => true,
            (_, Value::Integer(_)) => false,
            (_, Value::Text(_)) => true,
        });
        if !fits {
            return Err(BuildError::Values { rule: i, predicate: u32::try_from(p).unwrap_or(u32::MAX) });
        }
    }
    Ok(())
}

/// A condition that is never true, for a rule index that cannot be out of range.
static NEVER: Expr = Expr::Any(Vec::new());

/// Builds the matchers of every field used by rules of `kind`.
fn index_kind(kind: EventKind, rules: &[Rule]) -> Result<KindIndex, BuildError> {
    let all_rules = rules;
    let mut fields: Vec<Field> = Vec::new();
    let mut builders: Vec<FieldBuilder> = Vec::new();
    // (rule, predicate-wise: field position, quantifier, exists, checks with local slots)
    enum Pending {
        Literal { view: usize, local: usize, need: u8 },
        Regex { local: usize },
        Done(Check),
    }
    let mut pending_rules = Vec::new();
    for (rule_index, rule) in rules.iter().enumerate().filter(|(_, r)| r.kind == kind) {
        let mut predicates = Vec::with_capacity(rule.predicates.len());
        for predicate in &rule.predicates {
            let position = match fields.iter().position(|f| *f == predicate.field) {
                Some(position) => position,
                None => {
                    fields.push(predicate.field);
                    builders.push(FieldBuilder::default());
                    fields.len().saturating_sub(1)
                }
            };
            let Some(builder) = builders.get_mut(position) else { continue };
            let view =
                View { case_insensitive: predicate.case == Case::Insensitive, windash: predicate.windash };
            let exists = match predicate.operator {
                Operator::Exists(present) => Some(present),
                _ => None,
            };
            let mut checks = Vec::with_capacity(predicate.values.len());
            for value in &predicate.values {
                checks.push(match (predicate.operator, value) {
                    (Operator::Compare(op), Value::Integer(n)) => {
                        Pending::Done(Check::IntegerCompare(op, *n))
                    }
                    (Operator::Equals, Value::Integer(n)) => Pending::Done(Check::IntegerEquals(*n)),
                    (Operator::Glob, Value::Glob(parts)) => Pending::Regex {
                        local: builder.regex(index::glob_regex(parts, predicate.case, predicate.windash)),
                    },
                    (Operator::Regex { multi_line, dot_all }, Value::Text(source)) => Pending::Regex {
                        local: builder.regex(index::flagged_regex(
                            source,
                            predicate.case,
                            multi_line,
                            dot_all,
                        )),
                    },
                    (operator, Value::Text(text)) => {
                        let need = match operator {
                            Operator::Contains => ANYWHERE,
                            Operator::StartsWith => PREFIX,
                            Operator::EndsWith => SUFFIX,
                            _ => WHOLE,
                        };
                        if text.is_empty() {
                            Pending::Done(Check::Empty { need })
                        } else {
                            let (view, local) = builder.literal(view, view.apply(text));
                            Pending::Literal { view, local, need }
                        }
                    }
                    _ => return Err(BuildError::Values { rule: rule_index, predicate: 0 }),
                });
            }
            predicates.push((position, predicate.quantifier, exists, checks));
        }
        pending_rules.push((rule_index, predicates));
    }
    let mut next = 0usize;
    let mut built = Vec::with_capacity(fields.len());
    let mut offsets = Vec::with_capacity(fields.len());
    for (field, builder) in fields.iter().zip(builders) {
        let (index, views, regex_base, after) =
            builder.build(next).map_err(|message| BuildError::Matcher { field: *field, message })?;
        built.push((*field, index));
        offsets.push((views, regex_base));
        next = after;
    }
    let rules: Vec<(usize, Vec<CompiledPredicate>)> = pending_rules
        .into_iter()
        .map(|(rule_index, predicates)| {
            let compiled = predicates
                .into_iter()
                .map(|(position, quantifier, exists, checks)| {
                    let (views, regex_base) = offsets.get(position).copied().unwrap_or(([0; 4], 0));
                    let checks = checks
                        .into_iter()
                        .map(|c| match c {
                            Pending::Literal { view, local, need } => Check::Literal {
                                slot: views.get(view).copied().unwrap_or(0).saturating_add(local),
                                need,
                            },
                            Pending::Regex { local } => {
                                Check::Regex { slot: regex_base.saturating_add(local) }
                            }
                            Pending::Done(check) => check,
                        })
                        .collect();
                    CompiledPredicate { field: position, quantifier, exists, checks }
                })
                .collect();
            (rule_index, compiled)
        })
        .collect();
    let conditions: Vec<&Expr> = rules
        .iter()
        .map(|(rule_index, _): &(usize, Vec<CompiledPredicate>)| {
            all_rules.get(*rule_index).map_or(&NEVER, |r| &r.condition)
        })
        .collect();
    let candidates = Candidates::new(&rules, &conditions, built.len(), next);
    Ok(KindIndex { kind, fields: built, rules, slots: next, candidates })
}

fn truth(expr: &Expr, predicates: &[CompiledPredicate], states: &[FieldState], hits: &[u8]) -> Truth {
    match expr {
        Expr::Predicate(p) => usize::try_from(*p)
            .ok()
            .and_then(|p| predicates.get(p))
            .map_or(Truth::False, |p| predicate(p, states, hits)),
        Expr::Not(inner) => truth(inner, predicates, states, hits).not(),
        Expr::All(items) => {
            let mut out = Truth::True;
            for item in items {
                match truth(item, predicates, states, hits) {
                    Truth::False => return Truth::False,
                    Truth::Unknown => out = Truth::Unknown,
                    Truth::True => {}
                }
            }
            out
        }
        Expr::Any(items) => {
            let mut out = Truth::False;
            for item in items {
                match truth(item, predicates, states, hits) {
                    Truth::True => return Truth::True,
                    Truth::Unknown => out = Truth::Unknown,
                    Truth::False => {}
                }
            }
            out
        }
    }
}

fn predicate(p: &CompiledPredicate, states: &[FieldState], hits: &[u8]) -> Truth {
    let Some(state) = states.get(p.field) else { return Truth::False };
    let (integer, empty) = match *state {
        FieldState::Unknown => return Truth::Unknown,
        FieldState::Absent => return Truth::from_bool(p.exists == Some(false)),
        FieldState::Present { integer, empty } => (integer, empty),
    };
    if let Some(present) = p.exists {
        return Truth::from_bool(present);
    }
    let check = |c: &Check| match *c {
        Check::Literal { slot, need } => hits.get(slot).is_some_and(|h| h & need != 0),
        Check::Empty { need } => need != WHOLE || empty,
        Check::Regex { slot } => hits.get(slot).is_some_and(|h| *h != 0),
        Check::IntegerEquals(n) => integer == Some(i128::from(n)),
        Check::IntegerCompare(op, n) => integer.is_some_and(|v| {
            let n = i128::from(n);
            match op {
                Compare::Less => v < n,
                Compare::LessOrEqual => v <= n,
                Compare::Greater => v > n,
                Compare::GreaterOrEqual => v >= n,
            }
        }),
    };
    Truth::from_bool(match p.quantifier {
        Quantifier::Any => p.checks.iter().any(check),
        Quantifier::All => p.checks.iter().all(check),
    })
}
