//! Lowering: rules of the IR → content format 2 (`ringfence_content::v2`), one
//! content for both stages.
//!
//! Each Sigma field becomes the schema field the sensor supplies ([`target`]):
//! - a kernel field taken as the kernel reports it (command lines, pids,
//!   session ids), or as a DOS path (`Image`, `ParentImage`, `ImageLoaded`):
//!   format 2 matches a path field's text as the sensor hands it over, which
//!   the sensor translates through the volume map (`head` the DOS volume,
//!   `tail` the NT remainder) or answers *unknown* when the volume is not in
//!   the map;
//! - `LogonId`, whose Sigma values are Sysmon's `0x…` text, as an integer
//!   comparison on the kernel's 64-bit logon id (only equality lowers);
//! - `IntegrityLevel`, whose Sigma values are Sysmon's names, as an integer
//!   comparison on the kernel's mandatory label RID, the name being a
//!   one-to-one function of it ([`crate::integrity`]): equality, and
//!   `contains`/`startswith`/`endswith` on values that match a known set of
//!   RIDs;
//! - `User` and `ParentUser` as the companion's `DOMAIN\user` fields (the
//!   kernel has SIDs, and no account database): unknown in the kernel stage;
//! - `Signed` (`true`/`false`) as the companion's boolean;
//! - every other companion field as itself.
//!
//! A regular expression (`re`, with its `i`, `m` and `s` flags) lowers to a
//! format-2 automaton over the field's text when one can be built
//! ([`ringfence_content::v2::regex_build`]); the same syntax and semantics as
//! the companion's `regex` crate.
//!
//! A rule lowers whole or not at all: one with a regular expression that has
//! no automaton (look-around, a Unicode word boundary, over the state limit),
//! a `LogonId` or `Signed` comparison other than equality, a
//! negative integer, or a name or metadata over format 2's limits stays in the
//! companion stage only, with its [`NotLowered`] reason.
//!
//! Rule ids in the content are given in input order (a rule that does not lower
//! takes none); the Sigma id,
//! level and tags travel in the rule's metadata ([`Metadata`]) so that the
//! content alone says what a matched id means.

use std::fmt;

use ringfence_content::v2::build::{
    self, BuildError, Compare as BuildCompare, ExprSpec, GlobPart as BuildGlobPart, OperatorSpec,
    PredicateSpec, RuleSpec, ValueSpec,
};
use ringfence_content::v2::format::{MAX_META_UNITS, MAX_NAME_UNITS, Role};
use ringfence_content::v2::regex_build::{RegexRefusal, compile_regex};
use ringfence_wire::schema::COMPANION_BASE;
use ringfence_wire::{EventKind, SCHEMA, Schema};

use crate::fields::{Field, Rendering, Source};
use crate::fold::View;
use crate::integrity;
use crate::ir::{Case, Compare, Expr, GlobPart, Level, Operator, Predicate, Quantifier, Rule, Value};

/// How an event's value for a Sigma field is put in the schema field format 2 reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conversion {
    /// Text or integer, as it is.
    AsIs,
    /// Sysmon's `0x…` text as the integer it spells.
    HexInteger,
    /// `true` / `false` as 1 / 0.
    Boolean,
    /// Sysmon's integrity level name as the mandatory label RID it names ([`integrity::rid_of_name`]).
    IntegrityRid,
}

/// The schema field (kernel index, or `COMPANION_BASE` + position) that format 2
/// reads for `field` in events of `kind`, and how the Sigma value maps to it.
pub fn target(kind: EventKind, field: Field) -> Option<(u8, Conversion)> {
    let (name, conversion) = match field.source(kind) {
        Source::Kernel { wire, rendering } => match rendering {
            Rendering::Verbatim | Rendering::DosPath => (wire, Conversion::AsIs),
            Rendering::Hex => (wire, Conversion::HexInteger),
            Rendering::AccountName => (account_name_field(wire)?, Conversion::AsIs),
            Rendering::IntegrityName => (wire, Conversion::IntegrityRid),
        },
        Source::Companion { wire } if field == Field::Signed => (wire, Conversion::Boolean),
        Source::Companion { wire } => (wire, Conversion::AsIs),
        Source::Unsupported(_) => return None,
    };
    let index = SCHEMA.kind(kind)?.resolve_index(name)?;
    Some((index, conversion))
}

/// The companion's `DOMAIN\user` field beside a kernel SID field.
fn account_name_field(sid_field: &str) -> Option<&'static str> {
    match sid_field {
        "user_sid" => Some("user_name"),
        "parent_user_sid" => Some("parent_user_name"),
        _ => None,
    }
}

/// Why a rule stays in the companion stage only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotLowered {
    /// The regular expression has no format-2 automaton.
    Regex { field: Field, refusal: RegexRefusal },
    /// The field has no schema field format 2 could read.
    NoTarget { field: Field },
    /// Only equality lowers for a field whose Sigma text is a rendering of an integer.
    Operator { field: Field, operator: String },
    /// A value that does not convert (`LogonId: 'x'`, a negative integer, text on an integer field).
    Value { field: Field, value: String },
    /// The title or metadata is longer than format 2 carries.
    TooLong { what: &'static str, units: usize, max: usize },
    /// The format-2 builder refused the rule.
    Build(String),
}

impl fmt::Display for NotLowered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotLowered::Regex { field, refusal } => {
                write!(
                    f,
                    "{}: regular expression evaluated in the companion only: {refusal}",
                    field.sigma_name()
                )
            }
            NotLowered::NoTarget { field } => {
                write!(f, "{}: no field of the sensor's schema", field.sigma_name())
            }
            NotLowered::Operator { field, operator } => {
                write!(f, "{}: `{operator}` does not lower (only equality does)", field.sigma_name())
            }
            NotLowered::Value { field, value } => {
                write!(f, "{}: value {value:?} does not convert to the sensor's field", field.sigma_name())
            }
            NotLowered::TooLong { what, units, max } => {
                write!(f, "{what} is {units} UTF-16 units, over {max}")
            }
            NotLowered::Build(message) => write!(f, "content format 2 refused it: {message}"),
        }
    }
}

impl NotLowered {
    /// The reason without the rule's particulars, for counting.
    pub fn class(&self) -> String {
        match self {
            NotLowered::Regex { refusal, .. } => format!("a regular expression: {}", refusal_class(refusal)),
            NotLowered::NoTarget { field } => format!("{} has no schema field", field.sigma_name()),
            NotLowered::Operator { field, .. } => {
                format!("{} compared other than by equality", field.sigma_name())
            }
            NotLowered::Value { field, .. } => {
                format!("a {} value that does not convert", field.sigma_name())
            }
            NotLowered::TooLong { what, .. } => format!("{what} too long"),
            NotLowered::Build(_) => "refused by the format-2 builder".into(),
        }
    }
}

/// A refusal without its figures, for counting.
fn refusal_class(refusal: &RegexRefusal) -> String {
    match refusal {
        RegexRefusal::States { .. } => format!("more than {} automaton states", regex_states()),
        other => other.to_string(),
    }
}

fn regex_states() -> usize {
    ringfence_content::v2::format::regex::MAX_STATES
}

/// Whether the kernel stage can decide `rule` alone once lowered: every predicate
/// reads a kernel field ([`target`] below [`COMPANION_BASE`]).
pub fn decided_in_kernel(rule: &Rule) -> bool {
    rule.predicates
        .iter()
        .all(|p| target(rule.kind, p.field).is_some_and(|(index, _)| index < COMPANION_BASE))
}

/// What the content carries about a detection rule, for output (ECS `rule.*`,
/// `threat.*`, Sysmon's RuleName): one line each of `id`, `level` and `tags`
/// (space-separated), in that order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub id: String,
    pub level: Option<Level>,
    pub tags: Vec<String>,
}

impl Metadata {
    pub fn of(rule: &Rule) -> Self {
        Metadata { id: rule.meta.id.clone(), level: rule.meta.level, tags: rule.meta.tags.clone() }
    }

    pub fn encode(&self) -> String {
        format!("id={}\nlevel={}\ntags={}", self.id, self.level.map_or("", Level::name), self.tags.join(" "))
    }

    /// Reads what [`Metadata::encode`] wrote; `None` for anything else.
    pub fn decode(text: &str) -> Option<Self> {
        let mut lines = text.split('\n');
        let id = lines.next()?.strip_prefix("id=")?.to_owned();
        let level = match lines.next()?.strip_prefix("level=")? {
            "" => None,
            name => Some(
                [Level::Informational, Level::Low, Level::Medium, Level::High, Level::Critical]
                    .into_iter()
                    .find(|l| l.name() == name)?,
            ),
        };
        let tags =
            lines.next()?.strip_prefix("tags=")?.split(' ').filter(|t| !t.is_empty()).map(str::to_owned);
        let tags = tags.collect();
        lines.next().is_none().then_some(Metadata { id, level, tags })
    }
}

/// One rule as format 2 rules, with content id `id`.
pub fn lower_rule(rule: &Rule, id: u32) -> Result<RuleSpec, NotLowered> {
    let predicates =
        rule.predicates.iter().map(|p| lower_predicate(rule.kind, p)).collect::<Result<Vec<_>, _>>()?;
    let name_units = rule.meta.title.encode_utf16().count();
    if name_units > MAX_NAME_UNITS {
        return Err(NotLowered::TooLong { what: "the title", units: name_units, max: MAX_NAME_UNITS });
    }
    let meta = Metadata::of(rule).encode();
    let meta_units = meta.encode_utf16().count();
    if meta_units > MAX_META_UNITS {
        return Err(NotLowered::TooLong {
            what: "the id, level and tags",
            units: meta_units,
            max: MAX_META_UNITS,
        });
    }
    Ok(RuleSpec {
        id,
        kind: rule.kind,
        role: Role::Detection,
        name: rule.meta.title.clone(),
        meta,
        predicates,
        condition: lower_expr(&rule.condition),
    })
}

fn lower_expr(expr: &Expr) -> ExprSpec {
    match expr {
        Expr::Predicate(i) => ExprSpec::Predicate(*i),
        Expr::Not(inner) => ExprSpec::Not(Box::new(lower_expr(inner))),
        Expr::All(items) => ExprSpec::All(items.iter().map(lower_expr).collect()),
        Expr::Any(items) => ExprSpec::Any(items.iter().map(lower_expr).collect()),
    }
}

fn lower_predicate(kind: EventKind, p: &Predicate) -> Result<PredicateSpec, NotLowered> {
    let field = p.field;
    let (index, conversion) = target(kind, field).ok_or(NotLowered::NoTarget { field })?;
    if let Operator::Regex { multi_line, dot_all } = p.operator {
        return lower_regex(p, index, conversion, multi_line, dot_all);
    }
    if conversion == Conversion::IntegrityRid && !matches!(p.operator, Operator::Exists(_)) {
        return lower_integrity(p, index);
    }
    let numeric = field.is_integer() || conversion != Conversion::AsIs;
    let operator = match (p.operator, numeric) {
        (Operator::Exists(present), _) => OperatorSpec::Exists(present),
        (Operator::Equals, true) => OperatorSpec::Compare(BuildCompare::Equals),
        (Operator::Compare(c), true) if conversion == Conversion::AsIs => OperatorSpec::Compare(match c {
            Compare::Less => BuildCompare::Less,
            Compare::LessOrEqual => BuildCompare::LessOrEqual,
            Compare::Greater => BuildCompare::Greater,
            Compare::GreaterOrEqual => BuildCompare::GreaterOrEqual,
        }),
        (other, true) => return Err(NotLowered::Operator { field, operator: other.to_string() }),
        (Operator::Equals, false) => OperatorSpec::Equals,
        (Operator::Contains, false) => OperatorSpec::Contains,
        (Operator::StartsWith, false) => OperatorSpec::StartsWith,
        (Operator::EndsWith, false) => OperatorSpec::EndsWith,
        (Operator::Glob, false) => OperatorSpec::Glob,
        (other, false) => return Err(NotLowered::Operator { field, operator: other.to_string() }),
    };
    let values =
        p.values.iter().map(|v| lower_value(field, conversion, numeric, v)).collect::<Result<Vec<_>, _>>()?;
    Ok(PredicateSpec {
        field: index,
        operator,
        values,
        all: p.quantifier == Quantifier::All,
        case_insensitive: p.case == Case::Insensitive,
        windash: p.windash,
    })
}

/// A regular expression on a text field: each value with its `m` and `s` flags
/// inline (`i` is the predicate's case mode), refused when it has no automaton.
fn lower_regex(
    p: &Predicate,
    index: u8,
    conversion: Conversion,
    multi_line: bool,
    dot_all: bool,
) -> Result<PredicateSpec, NotLowered> {
    let field = p.field;
    if field.is_integer() || conversion != Conversion::AsIs {
        return Err(NotLowered::Operator { field, operator: p.operator.to_string() });
    }
    let case_insensitive = p.case == Case::Insensitive;
    let flags = match (multi_line, dot_all) {
        (false, false) => "",
        (true, false) => "(?m)",
        (false, true) => "(?s)",
        (true, true) => "(?ms)",
    };
    let mut values = Vec::with_capacity(p.values.len());
    for value in &p.values {
        let Value::Text(source) = value else {
            return Err(NotLowered::Value { field, value: format!("{value:?}") });
        };
        let flagged = format!("{flags}{source}");
        compile_regex(&flagged, case_insensitive).map_err(|refusal| NotLowered::Regex { field, refusal })?;
        values.push(ValueSpec::Text(flagged));
    }
    Ok(PredicateSpec {
        field: index,
        operator: OperatorSpec::Regex,
        values,
        all: p.quantifier == Quantifier::All,
        case_insensitive,
        windash: false,
    })
}

/// An `IntegrityLevel` comparison as equality with the RIDs whose names it matches (any of
/// them; for `all`, those every value matches). Kept on the name when that set is not exactly
/// known, or empty (no RID's name matches: the predicate would need a value no field holds).
fn lower_integrity(p: &Predicate, index: u8) -> Result<PredicateSpec, NotLowered> {
    let field = p.field;
    let view = View { case_insensitive: p.case == Case::Insensitive, windash: p.windash };
    let mut rids: Option<std::collections::BTreeSet<u32>> = None;
    for value in &p.values {
        let Value::Text(text) = value else {
            return Err(NotLowered::Value { field, value: format!("{value:?}") });
        };
        let matched = integrity::rids_matching(p.operator, text, view).map_err(|why| match why {
            integrity::Inexact::Operator => NotLowered::Operator { field, operator: p.operator.to_string() },
            integrity::Inexact::Unbounded => NotLowered::Value { field, value: text.clone() },
        })?;
        rids = Some(match (rids, p.quantifier) {
            (None, _) => matched,
            (Some(so_far), Quantifier::All) => so_far.intersection(&matched).copied().collect(),
            (Some(so_far), _) => so_far.union(&matched).copied().collect(),
        });
    }
    let rids = rids.unwrap_or_default();
    if rids.is_empty() {
        let shown = p.values.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ");
        return Err(NotLowered::Value { field, value: shown });
    }
    Ok(PredicateSpec {
        field: index,
        operator: OperatorSpec::Compare(BuildCompare::Equals),
        values: rids.into_iter().map(|rid| ValueSpec::Integer(u64::from(rid))).collect(),
        all: false,
        case_insensitive: false,
        windash: false,
    })
}

fn lower_value(
    field: Field,
    conversion: Conversion,
    numeric: bool,
    value: &Value,
) -> Result<ValueSpec, NotLowered> {
    let refuse = |shown: String| NotLowered::Value { field, value: shown };
    match (value, numeric) {
        (Value::Integer(n), true) if conversion == Conversion::AsIs => {
            u64::try_from(*n).map(ValueSpec::Integer).map_err(|_| refuse(n.to_string()))
        }
        (Value::Text(text), true) => {
            let n = match conversion {
                Conversion::HexInteger => parse_hex(text),
                Conversion::Boolean => match text.to_ascii_lowercase().as_str() {
                    "true" => Some(1),
                    "false" => Some(0),
                    _ => None,
                },
                Conversion::AsIs => text.parse::<u64>().ok(),
                Conversion::IntegrityRid => integrity::rid_of_name(text).map(u64::from),
            };
            n.map(ValueSpec::Integer).ok_or_else(|| refuse(text.clone()))
        }
        (Value::Text(text), false) => Ok(ValueSpec::Text(text.clone())),
        (Value::Glob(parts), false) => Ok(ValueSpec::Glob(
            parts
                .iter()
                .map(|part| match part {
                    GlobPart::Literal(s) => BuildGlobPart::Literal(s.clone()),
                    GlobPart::AnyRun => BuildGlobPart::AnyRun,
                    GlobPart::AnyChar => BuildGlobPart::AnyChar,
                })
                .collect(),
        )),
        (other, _) => Err(refuse(format!("{other:?}"))),
    }
}

/// Sysmon's `0x3e7` (either case of digits and prefix).
fn parse_hex(text: &str) -> Option<u64> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(digits, 16).ok()
}

/// A rule set lowered into one format-2 content.
#[derive(Debug)]
pub struct Lowered {
    /// The validated content bytes.
    pub content: Vec<u8>,
    /// For each rule of the input, its id in the content, or why it stays in the companion.
    pub placement: Vec<Result<u32, NotLowered>>,
}

impl Lowered {
    /// How many rules the content holds.
    pub fn lowered(&self) -> usize {
        self.placement.iter().filter(|p| p.is_ok()).count()
    }
}

/// Lowers every rule that lowers into one content (version `content_version`)
/// for `schema`. A rule the builder refuses is taken out with the builder's
/// reason and the rest built again; an error only when the whole content is
/// refused (over format 2's content-wide limits).
pub fn lower(rules: &[Rule], schema: &Schema, content_version: u32) -> Result<Lowered, BuildError> {
    let mut placement: Vec<Result<u32, NotLowered>> = Vec::with_capacity(rules.len());
    let mut specs = Vec::new();
    for rule in rules {
        let id = u32::try_from(specs.len()).unwrap_or(u32::MAX);
        match lower_rule(rule, id) {
            Ok(spec) => {
                specs.push(spec);
                placement.push(Ok(id));
            }
            Err(why) => placement.push(Err(why)),
        }
    }
    loop {
        match build::build(&specs, schema, content_version) {
            Ok(content) => return Ok(Lowered { content, placement }),
            // One rule at fault: it stays in the companion, the others are built again.
            Err(BuildError { rule: Some(id), kind }) => {
                let Some(at) = specs.iter().position(|s| s.id == id) else {
                    return Err(BuildError { rule: Some(id), kind });
                };
                specs.remove(at);
                if let Some(slot) = placement.iter_mut().find(|p| p.as_ref().ok() == Some(&id)) {
                    *slot = Err(NotLowered::Build(format!("{kind:?}")));
                }
            }
            Err(error) => return Err(error),
        }
    }
}
