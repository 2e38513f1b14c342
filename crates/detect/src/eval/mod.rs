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

use std::borrow::Cow;
use std::fmt;

use ringfence_wire::EventKind;

use crate::fields::{Field, Source};
use crate::fold::View;
use crate::ir::{Case, Compare, Expr, Limit, Operator, Quantifier, Rule, Value, limits};
use index::{ANYWHERE, FieldBuilder, FieldIndex, PREFIX, SUFFIX, WHOLE};

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

#[derive(Debug)]
struct KindIndex {
    kind: EventKind,
    fields: Vec<(Field, FieldIndex)>,
    /// Per rule of this kind: its index in the set and its predicates.
    rules: Vec<(usize, Vec<CompiledPredicate>)>,
    slots: usize,
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
    pub fn evaluate(&self, event: &(impl EventFields + ?Sized)) -> Matches {
        let mut matches = Matches::default();
        let Some(index) = self.kinds.iter().find(|k| k.kind == event.kind()) else {
            return matches;
        };
        let mut hits = vec![0u8; index.slots];
        let states: Vec<FieldState> = index
            .fields
            .iter()
            .map(|(field, matchers)| scan(event.field(*field), matchers, &mut hits))
            .collect();
        for (rule_index, predicates) in &index.rules {
            let Some(rule) = self.rules.get(*rule_index) else { continue };
            match truth(&rule.condition, predicates, &states, &hits) {
                Truth::True => matches.matched.push(*rule_index),
                Truth::Unknown => matches.undecided.push(*rule_index),
                Truth::False => {}
            }
        }
        matches.matched.sort_unstable();
        matches.undecided.sort_unstable();
        matches
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

/// Builds the matchers of every field used by rules of `kind`.
fn index_kind(kind: EventKind, rules: &[Rule]) -> Result<KindIndex, BuildError> {
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
    let rules = pending_rules
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
    Ok(KindIndex { kind, fields: built, rules, slots: next })
}

fn scan(value: FieldValue<'_>, matchers: &FieldIndex, hits: &mut [u8]) -> FieldState {
    let (text, integer): (Cow<'_, str>, Option<i128>) = match value {
        FieldValue::Unknown => return FieldState::Unknown,
        FieldValue::Absent => return FieldState::Absent,
        FieldValue::Integer(n) => (Cow::Owned(n.to_string()), Some(i128::from(n))),
        FieldValue::Text(text) => (Cow::Borrowed(text), text.parse::<i128>().ok()),
    };
    matchers.scan(&text, hits);
    FieldState::Present { integer, empty: text.is_empty() }
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
