//! The rule IR: what a detection rule means, independent of where it came from
//! (Sigma today) and of where it runs (the companion today; kernel tables once
//! content format 2 lowers the same IR).
//!
//! A rule is metadata, the event kind it applies to, a list of predicates and a
//! boolean expression over them. A predicate is a field, an operator, a set of
//! values linked by any/all, and flags. Every size is bounded by [`limits`];
//! the compiler refuses a rule over a limit, naming the limit.

use std::fmt;
use std::path::PathBuf;

use ringfence_wire::EventKind;

use crate::fields::Field;

/// The bounds every rule and rule set stays within. They bound evaluation cost
/// and the size of what format 2 will have to encode.
pub mod limits {
    /// Rules in one rule set.
    pub const MAX_RULES: usize = 8192;
    /// Predicates in one rule.
    pub const MAX_PREDICATES: usize = 1024;
    /// Values in one rule, after modifiers expanded them (base64offset gives three).
    pub const MAX_VALUES: usize = 4096;
    /// Bytes of one value (UTF-8), after expansion.
    pub const MAX_VALUE_BYTES: usize = 4096;
    /// Nesting depth of a rule's expression.
    pub const MAX_DEPTH: usize = 32;
    /// Nodes of a rule's expression (operators and predicate references).
    pub const MAX_NODES: usize = 4096;
    /// Bytes of one regular expression's source.
    pub const MAX_REGEX_BYTES: usize = 1024;
    /// Heap the `regex` crate may use for one compiled expression (its `size_limit`).
    pub const MAX_REGEX_PROGRAM_BYTES: usize = 1 << 20;
}

/// A limit of [`limits`], named in refusals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Limit {
    Rules,
    Predicates,
    Values,
    ValueBytes,
    Depth,
    Nodes,
    RegexBytes,
}

impl Limit {
    /// The bound itself.
    pub const fn bound(self) -> usize {
        match self {
            Limit::Rules => limits::MAX_RULES,
            Limit::Predicates => limits::MAX_PREDICATES,
            Limit::Values => limits::MAX_VALUES,
            Limit::ValueBytes => limits::MAX_VALUE_BYTES,
            Limit::Depth => limits::MAX_DEPTH,
            Limit::Nodes => limits::MAX_NODES,
            Limit::RegexBytes => limits::MAX_REGEX_BYTES,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Limit::Rules => "rules in a rule set",
            Limit::Predicates => "predicates in a rule",
            Limit::Values => "values in a rule",
            Limit::ValueBytes => "bytes in a value",
            Limit::Depth => "expression depth",
            Limit::Nodes => "expression nodes",
            Limit::RegexBytes => "bytes in a regular expression",
        }
    }
}

/// Sigma's severity levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    Informational,
    Low,
    Medium,
    High,
    Critical,
}

impl Level {
    pub const fn name(self) -> &'static str {
        match self {
            Level::Informational => "informational",
            Level::Low => "low",
            Level::Medium => "medium",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }
}

/// What output needs of a rule that matched: ECS `rule.*` and `threat.*`, Sysmon's RuleName.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleMeta {
    /// The Sigma `id` (a UUID in SigmaHQ): ECS `rule.id`.
    pub id: String,
    /// ECS `rule.name`, Sysmon `RuleName`.
    pub title: String,
    pub level: Option<Level>,
    /// Sigma tags as written (`attack.t1059.001`, `attack.execution`, …).
    pub tags: Vec<String>,
    /// The file the rule came from, when it came from one.
    pub file: Option<PathBuf>,
}

impl RuleMeta {
    /// ATT&CK technique ids from the tags, upper-cased as ECS `threat.technique.id`
    /// wants them (`attack.t1059.001` → `T1059.001`).
    pub fn attack_techniques(&self) -> impl Iterator<Item = String> + '_ {
        self.tags.iter().filter_map(|tag| {
            let id = tag.strip_prefix("attack.t")?;
            let digits = id.split('.').next()?;
            (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| format!("T{id}"))
        })
    }

    /// ATT&CK tactics from the tags (`attack.execution` → `execution`): tags under
    /// `attack.` that are neither techniques, groups (`g…`) nor software (`s…`) ids.
    pub fn attack_tactics(&self) -> impl Iterator<Item = &str> + '_ {
        self.tags.iter().filter_map(|tag| {
            let name = tag.strip_prefix("attack.")?;
            let mut chars = name.chars();
            let first = chars.next()?;
            let is_id = matches!(first, 't' | 'g' | 's') && chars.next().is_some_and(|c| c.is_ascii_digit());
            (!is_id).then_some(name)
        })
    }
}

/// Where a rule can be decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Every predicate reads a field the kernel record carries, given the volume
    /// map (NT → DOS paths) and SID names: the kernel stage can decide it.
    Kernel,
    /// Some predicate reads a field only the companion computes (PE version
    /// resource, hashes, signature): the kernel leaves it undecided.
    Companion,
}

impl Stage {
    pub const fn name(self) -> &'static str {
        match self {
            Stage::Kernel => "kernel",
            Stage::Companion => "companion",
        }
    }
}

/// Index of a predicate in its rule's [`Rule::predicates`].
pub type PredicateId = u32;

/// A boolean expression over a rule's predicates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expr {
    Predicate(PredicateId),
    Not(Box<Expr>),
    /// True when every operand is (true when empty).
    All(Vec<Expr>),
    /// True when some operand is (false when empty).
    Any(Vec<Expr>),
}

impl Expr {
    /// Nesting depth: a predicate is 1.
    pub fn depth(&self) -> usize {
        match self {
            Expr::Predicate(_) => 1,
            Expr::Not(inner) => inner.depth().saturating_add(1),
            Expr::All(items) | Expr::Any(items) => {
                items.iter().map(Expr::depth).max().unwrap_or(0).saturating_add(1)
            }
        }
    }

    /// Nodes: operators and predicate references.
    pub fn nodes(&self) -> usize {
        match self {
            Expr::Predicate(_) => 1,
            Expr::Not(inner) => inner.nodes().saturating_add(1),
            Expr::All(items) | Expr::Any(items) => {
                items.iter().map(Expr::nodes).fold(1usize, usize::saturating_add)
            }
        }
    }
}

/// How a predicate's values combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Quantifier {
    /// Some value matches (Sigma's default for a list).
    Any,
    /// Every value matches (Sigma's `all` modifier).
    All,
}

/// Whether text comparisons fold case.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Case {
    /// Unicode simple case folding ([`crate::fold`]): Sigma's default.
    Insensitive,
    /// Exact code points (Sigma's `cased`; `re` without `i`).
    Sensitive,
}

/// An integer comparison: `field <op> value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compare {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

/// What a predicate checks of its field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Operator {
    /// The whole field equals the value (an integer field: numerically, for integer values).
    Equals,
    Contains,
    StartsWith,
    EndsWith,
    /// The whole field matches a glob of `*` (any run) and `?` (one character).
    Glob,
    /// The field contains a match of a regular expression (the `regex` crate's
    /// syntax, linear time); flags as Sigma's `re|m` and `re|s`.
    Regex {
        multi_line: bool,
        dot_all: bool,
    },
    /// Integer comparison.
    Compare(Compare),
    /// The field is present (`true`) or absent (`false`); takes no values.
    Exists(bool),
}

/// One piece of a glob.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GlobPart {
    Literal(String),
    /// `*`: any run of characters, possibly empty.
    AnyRun,
    /// `?`: exactly one character.
    AnyChar,
}

/// A value a predicate compares with.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Value {
    Text(String),
    Integer(i64),
    Glob(Vec<GlobPart>),
}

/// `field operator values`, with flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Predicate {
    pub field: Field,
    pub operator: Operator,
    pub values: Vec<Value>,
    pub quantifier: Quantifier,
    pub case: Case,
    /// Sigma's `windash`: `-`, `/`, `–`, `—` and `―` are interchangeable in
    /// values and in the field.
    pub windash: bool,
}

/// A compiled rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub meta: RuleMeta,
    pub kind: EventKind,
    pub predicates: Vec<Predicate>,
    pub condition: Expr,
}

impl Rule {
    /// The kernel stage when every predicate's field is kernel-derived.
    pub fn stage(&self) -> Stage {
        let companion = self.predicates.iter().any(|p| !p.field.source(self.kind).is_kernel());
        if companion { Stage::Companion } else { Stage::Kernel }
    }

    /// Values across all predicates.
    pub fn value_count(&self) -> usize {
        self.predicates.iter().map(|p| p.values.len()).sum()
    }

    /// The first limit this rule exceeds, with the rule's figure.
    pub fn exceeded_limit(&self) -> Option<(Limit, usize)> {
        let checks = [
            (Limit::Predicates, self.predicates.len()),
            (Limit::Values, self.value_count()),
            (Limit::Depth, self.condition.depth()),
            (Limit::Nodes, self.condition.nodes()),
        ];
        if let Some(found) = checks.into_iter().find(|(limit, n)| *n > limit.bound()) {
            return Some(found);
        }
        let longest =
            self.predicates.iter().flat_map(|p| p.values.iter()).map(value_bytes).max().unwrap_or(0);
        (longest > Limit::ValueBytes.bound()).then_some((Limit::ValueBytes, longest))
    }
}

fn value_bytes(value: &Value) -> usize {
    match value {
        Value::Text(text) => text.len(),
        Value::Integer(_) => 8,
        Value::Glob(parts) => parts
            .iter()
            .map(|p| match p {
                GlobPart::Literal(s) => s.len(),
                GlobPart::AnyRun | GlobPart::AnyChar => 1,
            })
            .sum(),
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operator::Equals => f.write_str("equals"),
            Operator::Contains => f.write_str("contains"),
            Operator::StartsWith => f.write_str("starts with"),
            Operator::EndsWith => f.write_str("ends with"),
            Operator::Glob => f.write_str("glob"),
            Operator::Regex { .. } => f.write_str("regex"),
            Operator::Compare(Compare::Less) => f.write_str("<"),
            Operator::Compare(Compare::LessOrEqual) => f.write_str("<="),
            Operator::Compare(Compare::Greater) => f.write_str(">"),
            Operator::Compare(Compare::GreaterOrEqual) => f.write_str(">="),
            Operator::Exists(true) => f.write_str("exists"),
            Operator::Exists(false) => f.write_str("is absent"),
        }
    }
}
