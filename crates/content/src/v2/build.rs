//! The format-2 builder (feature `compiler`, std): rules as plain Rust values,
//! mirroring ringfence-detect's IR, → validated content bytes. Text values
//! are folded (when case-insensitive) and `windash`-expanded here; every text
//! predicate's values join the automaton of its (kind, field, case mode).
//! A refusal names the rule (its id) and the construct or limit.
// Host-side code, as format 1's compiler: every count is checked against a
// limit of `format` (all far below u16/u32) before it is narrowed.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

use super::default;
use super::expr::Truth;
use super::fold::fold_unit;
use super::format::{
    self, MAX_GLOB_TOKENS, MAX_META_UNITS, MAX_NAME_UNITS, MAX_PATTERN_UNITS, MAX_PREDICATES_PER_RULE,
    MAX_STACK, NONE, Operator, Role, code, section,
};
use super::listing;
pub use super::regex_build::RegexRefusal;
use super::regex_build::{RegexAutomaton, compile_regex};
use super::regex_gate::{self, Gates, required_gates};
use super::{ValidationError, validate};
use crate::checksum::content_checksum;
use ringfence_wire::schema::COMPANION_BASE;
use ringfence_wire::{EventKind, FieldType, Schema};
use std::boxed::Box;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::string::String;
use std::vec::Vec;

/// Spellings one `windash` value may expand to (three dashes: 5³).
pub const MAX_WINDASH_SPELLINGS: usize = 125;
/// The characters `windash` makes interchangeable (Sigma's modifier appendix).
pub const WINDASH: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// A rule to build.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSpec {
    /// Unique in the content; reported in verdicts.
    pub id: u32,
    pub kind: EventKind,
    pub role: Role,
    pub name: String,
    /// Free metadata carried for output (level, tags, …).
    pub meta: String,
    pub predicates: Vec<PredicateSpec>,
    pub condition: ExprSpec,
}

/// `field operator values`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PredicateSpec {
    /// Kernel field index, or `COMPANION_BASE` + position for a companion field.
    pub field: u8,
    pub operator: OperatorSpec,
    pub values: Vec<ValueSpec>,
    /// Every value must match (else: some value).
    pub all: bool,
    /// Unicode simple case folding (BMP).
    pub case_insensitive: bool,
    /// `-`, `/`, `–`, `—`, `―` interchangeable in the values.
    pub windash: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperatorSpec {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
    /// Values are [`ValueSpec::Glob`].
    Glob,
    Compare(Compare),
    /// Present (`true`) or absent (`false`); no values.
    Exists(bool),
    /// Values are [`ValueSpec::Text`] in the `regex` crate's syntax, matched
    /// anywhere in the text (`case_insensitive`: a leading `(?i)`); built into
    /// automata ([`super::regex_build`]), or refused with the reason.
    Regex,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    Equals,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueSpec {
    Text(String),
    Integer(u64),
    Glob(Vec<GlobPart>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GlobPart {
    Literal(String),
    /// `*`
    AnyRun,
    /// `?`: one UTF-16 unit.
    AnyChar,
}

/// A boolean expression over the rule's predicates (by position).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprSpec {
    Predicate(u32),
    Not(Box<ExprSpec>),
    /// True when every operand is (true when empty).
    All(Vec<ExprSpec>),
    /// True when some operand is (false when empty).
    Any(Vec<ExprSpec>),
}

/// Why the builder refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError {
    /// The rule at fault, when one is.
    pub rule: Option<u32>,
    pub kind: BuildErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BuildErrorKind {
    DuplicateRuleId,
    UnknownKind,
    /// The running schema has no such field for the kind (Channel File 291).
    FieldNotSupplied {
        predicate: u32,
        field: u8,
    },
    FieldNotMatchable {
        predicate: u32,
        field: u8,
    },
    /// The operator does not apply to the field's type, or a value's type to the operator.
    TypeMismatch {
        predicate: u32,
    },
    /// Exists/absent take no values; every other operator needs one.
    BadValueCount {
        predicate: u32,
    },
    /// The regular expression has no automaton in format 2 (the rule stays in the companion).
    Regex {
        predicate: u32,
        refusal: RegexRefusal,
    },
    PredicateIndex {
        index: u32,
        count: u32,
    },
    /// A limit of [`format`], by name, with the rule's figure.
    Limit {
        limit: &'static str,
        found: usize,
        max: usize,
    },
    /// The assembled content was refused by the validator (a content-wide limit or the cost budget).
    Invalid(ValidationError),
}

fn refuse<T>(rule: u32, kind: BuildErrorKind) -> Result<T, BuildError> {
    Err(BuildError { rule: Some(rule), kind })
}

fn limit<T>(rule: Option<u32>, limit: &'static str, found: usize, max: usize) -> Result<T, BuildError> {
    Err(BuildError { rule, kind: BuildErrorKind::Limit { limit, found, max } })
}

/// Folded, windash-expanded units of a text.
fn spellings(text: &str, case_insensitive: bool, windash: bool) -> Vec<Vec<u16>> {
    let units: Vec<u16> =
        text.encode_utf16().map(|u| if case_insensitive { fold_unit(u) } else { u }).collect();
    let mut out = std::vec![Vec::new()];
    for u in units {
        let dash = windash && WINDASH.iter().any(|&c| c as u32 == u32::from(u));
        let options: Vec<u16> = if dash { WINDASH.iter().map(|&c| c as u16).collect() } else { std::vec![u] };
        out = out
            .into_iter()
            .flat_map(|prefix| {
                options.iter().map(move |&o| {
                    let mut p = prefix.clone();
                    p.push(o);
                    p
                })
            })
            .collect();
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    Unit(u16),
    Any,
    Star,
}

fn glob_spellings(parts: &[GlobPart], case_insensitive: bool, windash: bool) -> Vec<Vec<Token>> {
    let mut out: Vec<Vec<Token>> = std::vec![Vec::new()];
    for part in parts {
        let options: Vec<Vec<Token>> = match part {
            GlobPart::AnyRun => std::vec![std::vec![Token::Star]],
            GlobPart::AnyChar => std::vec![std::vec![Token::Any]],
            GlobPart::Literal(text) => spellings(text, case_insensitive, windash)
                .into_iter()
                .map(|units| units.into_iter().map(Token::Unit).collect())
                .collect(),
        };
        out = out
            .into_iter()
            .flat_map(|prefix| {
                options.iter().map(move |o| {
                    let mut p = prefix.clone();
                    for &t in o {
                        // `**` is `*`: the NFA's closure is one step.
                        if !(t == Token::Star && p.last() == Some(&Token::Star)) {
                            p.push(t);
                        }
                    }
                    p
                })
            })
            .collect();
    }
    out
}

/// One automaton being built.
#[derive(Default)]
struct ScannerBuild {
    patterns: Vec<Vec<u16>>,
    index: HashMap<Vec<u16>, u32>,
}

impl ScannerBuild {
    fn add(&mut self, units: Vec<u16>) -> u32 {
        if let Some(&at) = self.index.get(&units) {
            return at;
        }
        let at = self.patterns.len() as u32;
        self.index.insert(units.clone(), at);
        self.patterns.push(units);
        at
    }
}

struct Node {
    depth: u32,
    children: BTreeMap<u16, u32>,
    fail: u32,
    dict: u32,
    output: u32,
}

/// The tables of one automaton.
struct Automaton {
    classes: Vec<(u16, u16)>,
    class_count: u32,
    states: Vec<Node>,
    patterns: Vec<(u32, u32)>,
}

/// The automaton of `patterns`. Each unit of a pattern is a class of its own
/// (class 0: every other unit), numbered ASCII units first, each part by how
/// often the patterns hold the unit, most often first (ties by unit): a
/// transition-table row is indexed by class, so the classes a scan meets
/// most share the first of a row's lines (in a 1,400-rule start, 19 % fewer
/// L1 misses with a 32 KiB L1 than classes in unit order: BENCHMARKS.md).
fn automaton(patterns: &[Vec<u16>]) -> Automaton {
    let mut count: HashMap<u16, u32> = HashMap::new();
    for &u in patterns.iter().flatten() {
        *count.entry(u).or_default() += 1;
    }
    let mut units: Vec<u16> = count.keys().copied().collect();
    units.sort_unstable_by_key(|&u| (u >= 128, core::cmp::Reverse(count[&u]), u));
    let class_of: HashMap<u16, u16> = units.iter().enumerate().map(|(i, &u)| (u, (i + 1) as u16)).collect();
    let mut classes: Vec<(u16, u16)> =
        (0u16..128).map(|u| (u, class_of.get(&u).copied().unwrap_or(0))).collect();
    // The class table's non-ASCII entries go in unit order (format.rs).
    let at = classes.len();
    classes.extend(units.iter().filter(|&&u| u >= 128).map(|&u| (u, class_of[&u])));
    classes[at..].sort_unstable();
    let mut states =
        std::vec![Node { depth: 0, children: BTreeMap::new(), fail: 0, dict: NONE, output: NONE }];
    let mut ends = Vec::new();
    for (p, pattern) in patterns.iter().enumerate() {
        let mut at = 0usize;
        for &u in pattern {
            let class = class_of[&u];
            at = match states[at].children.get(&class) {
                Some(&next) => next as usize,
                None => {
                    let next = states.len();
                    let depth = states[at].depth + 1;
                    states.push(Node { depth, children: BTreeMap::new(), fail: 0, dict: NONE, output: NONE });
                    states[at].children.insert(class, next as u32);
                    next
                }
            };
        }
        states[at].output = p as u32;
        ends.push((at as u32, pattern.len() as u32));
    }
    // Breadth-first numbering, children in class order (format.rs: each goto
    // leads to the next state not yet reached).
    let mut order: Vec<u32> = std::vec![0];
    let mut at = 0;
    while at < order.len() {
        let old = order[at] as usize;
        order.extend(states[old].children.values().copied());
        at += 1;
    }
    let mut new_of = std::vec![0u32; states.len()];
    for (new, &old) in order.iter().enumerate() {
        new_of[old as usize] = new as u32;
    }
    let mut states: Vec<Node> = order
        .iter()
        .map(|&old| {
            let n = &states[old as usize];
            Node {
                depth: n.depth,
                children: n.children.iter().map(|(&c, &v)| (c, new_of[v as usize])).collect(),
                fail: 0,
                dict: NONE,
                output: n.output,
            }
        })
        .collect();
    for end in &mut ends {
        end.0 = new_of[end.0 as usize];
    }
    let mut queue: VecDeque<u32> = states[0].children.values().copied().collect();
    for &child in &queue {
        states[child as usize].fail = 0;
    }
    while let Some(u) = queue.pop_front() {
        let fail = states[u as usize].fail;
        let has_output = |s: &Node| s.output != NONE;
        let dict = if u == 0 {
            NONE
        } else if has_output(&states[fail as usize]) {
            fail
        } else {
            states[fail as usize].dict
        };
        states[u as usize].dict = dict;
        let children: Vec<(u16, u32)> = states[u as usize].children.iter().map(|(&c, &v)| (c, v)).collect();
        for (class, v) in children {
            let mut f = states[u as usize].fail;
            let target = loop {
                if let Some(&t) = states[f as usize].children.get(&class) {
                    break t;
                }
                if f == 0 {
                    break 0;
                }
                f = states[f as usize].fail;
            };
            states[v as usize].fail = if u == 0 { 0 } else { target };
            queue.push_back(v);
        }
    }
    Automaton { classes, class_count: units.len() as u32 + 1, states, patterns: ends }
}

/// `e`'s value when the predicates marked `literal` are false and the others unknown.
fn gate_truth(e: &ExprSpec, literal: &[bool]) -> Truth {
    match e {
        ExprSpec::Predicate(i) => {
            if literal.get(*i as usize).copied().unwrap_or(false) {
                Truth::False
            } else {
                Truth::Unknown
            }
        }
        ExprSpec::Not(inner) => gate_truth(inner, literal).not(),
        ExprSpec::All(items) => items.iter().fold(Truth::True, |t, i| t.and(gate_truth(i, literal))),
        ExprSpec::Any(items) => items.iter().fold(Truth::False, |t, i| t.or(gate_truth(i, literal))),
    }
}

/// The postfix code of `e`; answers the highest stack depth it reaches.
fn emit_expr(e: &ExprSpec, out: &mut Vec<(u8, u16)>, base: usize) -> usize {
    const CHUNK: usize = 8;
    match e {
        ExprSpec::Predicate(i) => {
            out.push((code::PRED, *i as u16));
            base + 1
        }
        ExprSpec::Not(inner) => {
            let d = emit_expr(inner, out, base);
            out.push((code::NOT, 0));
            d
        }
        ExprSpec::All(items) | ExprSpec::Any(items) => {
            let op = if matches!(e, ExprSpec::All(_)) { code::AND } else { code::OR };
            if items.is_empty() {
                out.push((op, 0));
                return base + 1;
            }
            // Combine in chunks so the stack stays shallow: Kleene AND and OR are associative.
            let mut depth = base;
            let mut on_stack = 0usize;
            for item in items {
                depth = depth.max(emit_expr(item, out, base + on_stack));
                on_stack += 1;
                if on_stack == CHUNK {
                    out.push((op, on_stack as u16));
                    on_stack = 1;
                }
            }
            if on_stack > 1 || items.len() == 1 {
                out.push((op, on_stack as u16));
            }
            depth
        }
    }
}

fn check_expr(rule: u32, e: &ExprSpec, count: u32) -> Result<(), BuildError> {
    match e {
        ExprSpec::Predicate(i) if *i < count => Ok(()),
        ExprSpec::Predicate(i) => refuse(rule, BuildErrorKind::PredicateIndex { index: *i, count }),
        ExprSpec::Not(inner) => check_expr(rule, inner, count),
        ExprSpec::All(items) | ExprSpec::Any(items) => {
            items.iter().try_for_each(|i| check_expr(rule, i, count))
        }
    }
}

/// A predicate's values as stored: (value, flags) pairs.
enum Values {
    Patterns {
        key: (u16, u8, u8),
        values: Vec<(u32, u32)>,
    },
    Globs(Gated),
    /// Automaton indexes in the `regexes` section.
    Regexes(Gated),
    Integers(Vec<u64>),
    None,
}

/// A predicate's scanner key and, per value, the patterns that list it (all
/// of them: a value is false unless one is found) and whether it is an
/// alternative of the previous value.
type Listable<'v> = (&'v (u16, u8, u8), Vec<(Vec<u32>, bool)>);

impl Values {
    /// A literal predicate's patterns, or a glob or regex predicate's gates
    /// when every value has one: per value, its pattern, or the gates that
    /// list its rule ([`Gated::listing`]).
    fn listable(&self) -> Option<Listable<'_>> {
        let alternative = |flags: u32| flags & format::value::ALT != 0;
        match self {
            Values::Patterns { key, values } => {
                Some((key, values.iter().map(|&(p, f)| (std::vec![p], alternative(f))).collect()))
            }
            Values::Globs(g) | Values::Regexes(g) if g.gates_predicate() => Some((
                &g.key,
                g.values
                    .iter()
                    .map(|(_, f, gates)| (Gated::listing(*f, gates).to_vec(), alternative(*f)))
                    .collect(),
            )),
            _ => None,
        }
    }
}

/// The listing cost added for a predicate on a companion field (see the gated rules in [`build`]).
const COMPANION_COST: u64 = 1 << 24;

/// A predicate's cheapest listing (`entries`: its values' patterns and
/// alternative flags): every pattern, or under `all` the cheapest group's
/// (alternatives before the first group belong to none).
fn cheapest(entries: &[(Vec<u32>, bool)], all: bool, cost_of: impl Fn(u32) -> u64) -> listing::Listing {
    // A set of patterns, sorted and without repeats, with its cost.
    let priced = |mut patterns: Vec<u32>| {
        patterns.sort_unstable();
        patterns.dedup();
        let cost = patterns.iter().map(|&p| cost_of(p)).fold(0u64, u64::saturating_add);
        listing::Listing { cost, patterns }
    };
    if !all {
        return priced(entries.iter().flat_map(|e| e.0.iter().copied()).collect());
    }
    let mut groups: Vec<Vec<u32>> = Vec::new();
    for (patterns, alternative) in entries {
        match groups.last_mut() {
            Some(group) if *alternative => group.extend(patterns),
            _ if *alternative => {}
            _ => groups.push(patterns.clone()),
        }
    }
    groups
        .into_iter()
        .map(priced)
        .min_by_key(|l| l.cost)
        .unwrap_or(listing::Listing { cost: 0, patterns: Vec::new() })
}

/// Glob or regex values: (index, flags, gates), the gates patterns of the
/// folded scanner `key` of the predicate's kind and field, strictly ascending
/// (format.rs, "Gated globs and regular expressions"); none: ungated.
struct Gated {
    key: (u16, u8, u8),
    values: Vec<(u32, u32, Vec<u32>)>,
}

impl Gated {
    fn new(key: (u16, u8, u8)) -> Self {
        Gated { key, values: Vec::new() }
    }

    /// Adds a value, its gates (if any) to the folded scanner: strictly
    /// ascending, or (all required) the rarest first, the rule's listing
    /// gate, then the others strictly ascending (format.rs).
    fn push(
        &mut self,
        scanners: &mut BTreeMap<(u16, u8, u8), ScannerBuild>,
        index: u32,
        flags: u32,
        gates: Gates,
    ) {
        let rarest = gates
            .literals
            .iter()
            .min_by_key(|l| (regex_gate::commonness(l), core::cmp::Reverse(l.len())))
            .cloned();
        let mut add = |units: Vec<u16>| scanners.entry(self.key).or_default().add(units);
        let mut patterns: Vec<u32> = gates.literals.into_iter().map(&mut add).collect();
        patterns.sort_unstable();
        patterns.dedup();
        let mut flags = if patterns.is_empty() { flags } else { flags | format::value::GATED };
        if let Some(first) = rarest.filter(|_| gates.all && patterns.len() > 1) {
            flags |= format::value::GATES_ALL;
            let first = add(first);
            patterns.retain(|&p| p != first);
            patterns.insert(0, first);
        }
        self.values.push((index, flags, patterns));
    }

    /// The gates of a value (`flags`, `gates`) that list its rule (format.rs):
    /// every gate, or of a value whose gates are all required, its first.
    fn listing(flags: u32, gates: &[u32]) -> &[u32] {
        if flags & format::value::GATES_ALL != 0 { gates.get(..1).unwrap_or(gates) } else { gates }
    }

    /// Whether the predicate is false when none of its gates is found (every value gated).
    fn gates_predicate(&self) -> bool {
        !self.values.is_empty() && self.values.iter().all(|v| !v.2.is_empty())
    }

    fn any_gate(&self) -> bool {
        self.values.iter().any(|v| !v.2.is_empty())
    }

    /// The stored (value, flags) pairs, each gated value's gates appended to
    /// `gates` (the section) and named by its gate word in the value's high 32 bits.
    fn entries(&self, gates: &mut Vec<u8>) -> Vec<(u64, u32)> {
        self.values
            .iter()
            .map(|(index, flags, own)| {
                if own.is_empty() {
                    return (u64::from(*index), *flags);
                }
                let first = (gates.len() / 4) as u32;
                for &g in own {
                    put32(gates, g);
                }
                let word = format::value::gate_word(first, own.len() as u32);
                (u64::from(*index) | (u64::from(word) << 32), *flags)
            })
            .collect()
    }
}

/// A glob's gates: its maximal runs of literal units, folded, each of which
/// every match contains (the rarest [`format::MAX_VALUE_GATES`] by
/// [`regex_gate::rarer`]). Tokens of a case-insensitive glob are folded already.
fn glob_gates(tokens: &[Token], case: u8) -> Gates {
    let mut runs: Vec<Vec<u16>> = Vec::new();
    for run in tokens.split(|t| !matches!(t, Token::Unit(_))) {
        let units: Vec<u16> = run
            .iter()
            .filter_map(|t| match t {
                Token::Unit(u) => Some(if case == 1 { *u } else { fold_unit(*u) }),
                _ => None,
            })
            .collect();
        if !units.is_empty() && !runs.contains(&units) {
            runs.push(units);
        }
    }
    runs.sort_by(|a, b| {
        if regex_gate::rarer(a, b) {
            core::cmp::Ordering::Less
        } else if regex_gate::rarer(b, a) {
            core::cmp::Ordering::Greater
        } else {
            core::cmp::Ordering::Equal
        }
    });
    runs.truncate(format::MAX_VALUE_GATES as usize);
    Gates { literals: runs, all: true }
}

struct Tables {
    bytes: [Vec<u8>; section::COUNT],
}

impl Tables {
    fn at(&mut self, id: u16) -> &mut Vec<u8> {
        &mut self.bytes[usize::from(id) - 1]
    }
    fn len(&self, id: u16) -> u32 {
        (self.bytes[usize::from(id) - 1].len() / section::ENTRY[usize::from(id) - 1]) as u32
    }
}

fn put16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn put64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// The `regexes` section (format.rs's [`format::regex`]): the count, the
/// offsets, the automata; nothing when there are none.
fn write_regexes(out: &mut Vec<u8>, regexes: &[RegexAutomaton]) {
    if regexes.is_empty() {
        return;
    }
    let words: Vec<Vec<u16>> = regexes.iter().map(RegexAutomaton::words).collect();
    let mut at = (format::regex::OFFSETS + regexes.len() * format::regex::OFFSET_WORDS) as u32;
    put32(out, regexes.len() as u32);
    for w in &words {
        put32(out, at);
        at += w.len() as u32;
    }
    for w in words.iter().flatten() {
        put16(out, *w);
    }
}

/// Builds `rules` into format-2 content for `schema`, and validates it.
pub fn build(rules: &[RuleSpec], schema: &Schema, content_version: u32) -> Result<Vec<u8>, BuildError> {
    let mut sorted: Vec<&RuleSpec> = rules.iter().collect();
    sorted.sort_by_key(|r| r.id);
    if let Some(w) = sorted.windows(2).find(|w| w[0].id == w[1].id) {
        return refuse(w[1].id, BuildErrorKind::DuplicateRuleId);
    }
    if sorted.len() > format::MAX_RULES {
        return limit(None, "rules", sorted.len(), format::MAX_RULES);
    }
    let mut scanners: BTreeMap<(u16, u8, u8), ScannerBuild> = BTreeMap::new();
    let mut globs: Vec<(Vec<Token>, u8)> = Vec::new();
    let mut regexes: Vec<RegexAutomaton> = Vec::new();
    let mut regex_index: HashMap<(String, u8), u32> = HashMap::new();
    let mut rule_values: Vec<Vec<Values>> = Vec::new();
    for r in &sorted {
        let kind =
            schema.kind(r.kind).ok_or(BuildError { rule: Some(r.id), kind: BuildErrorKind::UnknownKind })?;
        if r.predicates.len() > MAX_PREDICATES_PER_RULE {
            return limit(Some(r.id), "predicates in one rule", r.predicates.len(), MAX_PREDICATES_PER_RULE);
        }
        if r.name.encode_utf16().count() > MAX_NAME_UNITS {
            return limit(Some(r.id), "rule name units", r.name.encode_utf16().count(), MAX_NAME_UNITS);
        }
        if r.meta.encode_utf16().count() > MAX_META_UNITS {
            return limit(Some(r.id), "rule metadata units", r.meta.encode_utf16().count(), MAX_META_UNITS);
        }
        check_expr(r.id, &r.condition, r.predicates.len() as u32)?;
        let mut values = Vec::new();
        for (pi, p) in r.predicates.iter().enumerate() {
            let predicate = pi as u32;
            let Some(def) = kind.resolve(p.field) else {
                return refuse(r.id, BuildErrorKind::FieldNotSupplied { predicate, field: p.field });
            };
            if !def.matchable {
                return refuse(r.id, BuildErrorKind::FieldNotMatchable { predicate, field: p.field });
            }
            let op = match p.operator {
                OperatorSpec::Equals => Operator::Equals,
                OperatorSpec::Contains => Operator::Contains,
                OperatorSpec::StartsWith => Operator::StartsWith,
                OperatorSpec::EndsWith => Operator::EndsWith,
                OperatorSpec::Glob => Operator::Glob,
                OperatorSpec::Compare(Compare::Equals) => Operator::IntEquals,
                OperatorSpec::Compare(Compare::Less) => Operator::Less,
                OperatorSpec::Compare(Compare::LessOrEqual) => Operator::LessOrEqual,
                OperatorSpec::Compare(Compare::Greater) => Operator::Greater,
                OperatorSpec::Compare(Compare::GreaterOrEqual) => Operator::GreaterOrEqual,
                OperatorSpec::Exists(true) => Operator::Exists,
                OperatorSpec::Exists(false) => Operator::Absent,
                OperatorSpec::Regex => Operator::Regex,
            };
            if !op.fits(def.ty) {
                return refuse(r.id, BuildErrorKind::TypeMismatch { predicate });
            }
            let takes_values = !matches!(op, Operator::Exists | Operator::Absent);
            if takes_values == p.values.is_empty() {
                return refuse(r.id, BuildErrorKind::BadValueCount { predicate });
            }
            let case = u8::from(p.case_insensitive && def.ty == FieldType::Str);
            let v = if op.is_literal() {
                let key = (r.kind.code(), p.field, case);
                let scanner = scanners.entry(key).or_default();
                let mut out = Vec::new();
                for value in &p.values {
                    let ValueSpec::Text(text) = value else {
                        return refuse(r.id, BuildErrorKind::TypeMismatch { predicate });
                    };
                    let all = spellings(text, case == 1, p.windash);
                    if all.len() > MAX_WINDASH_SPELLINGS {
                        return limit(
                            Some(r.id),
                            "windash spellings of one value",
                            all.len(),
                            MAX_WINDASH_SPELLINGS,
                        );
                    }
                    for (i, units) in all.into_iter().enumerate() {
                        if units.len() > MAX_PATTERN_UNITS {
                            return limit(Some(r.id), "pattern units", units.len(), MAX_PATTERN_UNITS);
                        }
                        out.push((scanner.add(units), u32::from(i > 0)));
                    }
                }
                Values::Patterns { key, values: out }
            } else if op == Operator::Glob {
                let mut out = Gated::new((r.kind.code(), p.field, 1));
                for value in &p.values {
                    let ValueSpec::Glob(parts) = value else {
                        return refuse(r.id, BuildErrorKind::TypeMismatch { predicate });
                    };
                    let all = glob_spellings(parts, case == 1, p.windash);
                    if all.len() > MAX_WINDASH_SPELLINGS {
                        return limit(
                            Some(r.id),
                            "windash spellings of one value",
                            all.len(),
                            MAX_WINDASH_SPELLINGS,
                        );
                    }
                    for (i, tokens) in all.into_iter().enumerate() {
                        if tokens.len() > MAX_GLOB_TOKENS {
                            return limit(Some(r.id), "glob tokens", tokens.len(), MAX_GLOB_TOKENS);
                        }
                        let gates = glob_gates(&tokens, case);
                        out.push(&mut scanners, globs.len() as u32, u32::from(i > 0), gates);
                        globs.push((tokens, case));
                    }
                }
                Values::Globs(out)
            } else if op == Operator::Regex {
                if p.windash {
                    return refuse(r.id, BuildErrorKind::TypeMismatch { predicate });
                }
                let mut out = Gated::new((r.kind.code(), p.field, 1));
                for value in &p.values {
                    let ValueSpec::Text(source) = value else {
                        return refuse(r.id, BuildErrorKind::TypeMismatch { predicate });
                    };
                    let key = (source.clone(), case);
                    let at = match regex_index.get(&key) {
                        Some(&at) => at,
                        None => {
                            let automaton = compile_regex(source, case == 1).or_else(|refusal| {
                                refuse(r.id, BuildErrorKind::Regex { predicate, refusal })
                            })?;
                            if regexes.len() >= format::regex::MAX_AUTOMATA {
                                return limit(
                                    Some(r.id),
                                    "regular expressions",
                                    regexes.len() + 1,
                                    format::regex::MAX_AUTOMATA,
                                );
                            }
                            let at = regexes.len() as u32;
                            regexes.push(automaton);
                            regex_index.insert(key, at);
                            at
                        }
                    };
                    let gates = required_gates(source, case == 1);
                    out.push(&mut scanners, at, 0, gates);
                }
                Values::Regexes(out)
            } else if op.is_integer() {
                let mut out = Vec::new();
                for value in &p.values {
                    let ValueSpec::Integer(n) = value else {
                        return refuse(r.id, BuildErrorKind::TypeMismatch { predicate });
                    };
                    out.push(*n);
                }
                Values::Integers(out)
            } else {
                Values::None
            };
            values.push(v);
        }
        rule_values.push(values);
    }

    // Gated rules (format.rs, "Candidate rules"): listed by the patterns of
    // the predicates chosen to stand for them; the others in `always`.
    let mut refs: HashMap<(u16, u8, u8), Vec<Vec<u16>>> =
        scanners.iter().map(|(key, s)| (*key, std::vec![Vec::new(); s.patterns.len()])).collect();
    let mut always: Vec<u16> = Vec::new();
    // What the kernel-default analysis assumes of each gated rule's predicates (format.rs);
    // `None` for a rule in `always`, which has no default.
    let mut assumptions: Vec<Option<Vec<default::Assumed>>> = Vec::with_capacity(sorted.len());
    for (index, (r, values)) in sorted.iter().zip(&rule_values).enumerate() {
        let literal: Vec<bool> = values
            .iter()
            .map(|v| match v {
                Values::Patterns { .. } => true,
                Values::Globs(g) | Values::Regexes(g) => g.gates_predicate(),
                Values::Integers(_) | Values::None => false,
            })
            .collect();
        let gated = r.role != Role::Include && gate_truth(&r.condition, &literal) == Truth::False;
        if !gated {
            always.push(index as u16);
            assumptions.push(None);
            continue;
        }
        // Each literal predicate's cheapest listing; a companion field's
        // predicate is unknown on every kernel event, so it lists its rule
        // on every one: avoided when another choice exists.
        let offers: Vec<Option<listing::Listing>> = values
            .iter()
            .zip(&r.predicates)
            .zip(&literal)
            .map(|((v, p), &l)| {
                let (key, entries) = l.then(|| v.listable())??;
                let cost_of = |pattern: u32| listing::pattern_cost(&scanners[key].patterns[pattern as usize]);
                let mut offer = cheapest(&entries, p.all, cost_of);
                if p.field >= COMPANION_BASE {
                    offer.cost = offer.cost.saturating_add(COMPANION_COST);
                }
                Some(offer)
            })
            .collect();
        let chosen = listing::choose(&r.condition, &offers)
            .filter(|(_, preds)| preds.iter().all(|&i| r.predicates[i as usize].field < COMPANION_BASE))
            .map(|(_, preds)| preds);
        // Otherwise every literal predicate, as its offer lists it.
        let chosen: Vec<u32> =
            chosen.unwrap_or_else(|| (0..literal.len() as u32).filter(|&i| literal[i as usize]).collect());
        let mut listed_patterns: HashSet<((u16, u8, u8), u32)> = HashSet::new();
        for &i in &chosen {
            let (Some(offer), Some((key, _))) = (&offers[i as usize], values[i as usize].listable()) else {
                continue;
            };
            let Some(lists) = refs.get_mut(key) else { continue };
            for &pattern in &offer.patterns {
                listed_patterns.insert((*key, pattern));
                let list = &mut lists[pattern as usize];
                if list.last() != Some(&(index as u16)) {
                    list.push(index as u16);
                }
            }
        }
        // The predicates the lists stand for, as the validator derives them
        // (a predicate whose patterns are all listed through another counts too).
        let listed: Vec<bool> = values
            .iter()
            .zip(&r.predicates)
            .zip(&literal)
            .map(|((v, p), &l)| {
                l && v.listable().is_some_and(|(key, entries)| {
                    let entries = entries.iter().map(|(patterns, alternative)| {
                        let lists = !patterns.is_empty()
                            && patterns.iter().all(|&pattern| listed_patterns.contains(&(*key, pattern)));
                        (lists, *alternative)
                    });
                    listing::listed(entries, p.all)
                })
            })
            .collect();
        debug_assert_eq!(gate_truth(&r.condition, &listed), Truth::False);
        assumptions.push(Some(
            listed.iter().zip(&r.predicates).map(|(&l, p)| default::assume(l, p.field)).collect(),
        ));
    }
    let mut t = Tables { bytes: Default::default() };
    for &rule in &always {
        put16(t.at(section::ALWAYS), rule);
    }
    // Automata, in (kind, field, case) order.
    let mut scanner_index = HashMap::new();
    for (i, (key, s)) in scanners.iter().enumerate() {
        scanner_index.insert(*key, i as u32);
        let a = automaton(&s.patterns);
        let (first_state, first_class, first_pattern) =
            (t.len(section::STATES), t.len(section::CLASSES), t.len(section::PATTERNS));
        let e = t.at(section::SCANNERS);
        put16(e, key.0);
        e.push(key.1);
        e.push(key.2);
        for x in [
            first_state,
            a.states.len() as u32,
            first_class,
            a.classes.len() as u32,
            a.class_count,
            first_pattern,
            a.patterns.len() as u32,
        ] {
            put32(e, x);
        }
        for &(unit, class) in &a.classes {
            let c = t.at(section::CLASSES);
            put16(c, unit);
            put16(c, class);
        }
        for (si, st) in a.states.iter().enumerate() {
            let first_goto = t.len(section::GOTOS);
            let row: Vec<(u16, u32)> = if si == 0 {
                (0..a.class_count as u16).map(|c| (c, st.children.get(&c).copied().unwrap_or(0))).collect()
            } else {
                st.children.iter().map(|(&c, &v)| (c, v)).collect()
            };
            for &(class, target) in &row {
                let g = t.at(section::GOTOS);
                put16(g, class);
                put16(g, 0);
                put32(g, target);
            }
            let e = t.at(section::STATES);
            for x in [st.depth, st.fail, st.dict, st.output, first_goto, row.len() as u32] {
                put32(e, x);
            }
        }
        for (&(state, len), rules) in a.patterns.iter().zip(&refs[key]) {
            let first_ref = t.len(section::REFS);
            for &rule in rules {
                put16(t.at(section::REFS), rule);
            }
            let e = t.at(section::PATTERNS);
            for x in [state, len, first_ref, rules.len() as u32] {
                put32(e, x);
            }
        }
    }
    for (tokens, case) in &globs {
        let (mut star, mut any) = (0u64, 0u64);
        let mut units: BTreeMap<u16, u64> = BTreeMap::new();
        for (k, tok) in tokens.iter().enumerate() {
            match tok {
                Token::Star => star |= 1 << k,
                Token::Any => any |= 1 << k,
                Token::Unit(u) => *units.entry(*u).or_default() |= 1 << k,
            }
        }
        let first_unit = t.len(section::GLOB_UNITS);
        for (&u, &mask) in &units {
            let g = t.at(section::GLOB_UNITS);
            put16(g, u);
            put16(g, 0);
            put64(g, mask);
        }
        let g = t.at(section::GLOBS);
        put64(g, star);
        put64(g, any);
        put32(g, first_unit);
        g.push(units.len() as u8);
        g.push(tokens.len() as u8);
        g.push(*case);
        g.push(0);
    }
    write_regexes(t.at(section::REGEXES), &regexes);
    let mut strings: Vec<u16> = Vec::new();
    for ((r, values), assumed) in sorted.iter().zip(&rule_values).zip(&assumptions) {
        let first_predicate = t.len(section::PREDICATES);
        for (p, v) in r.predicates.iter().zip(values) {
            let first_value = t.len(section::VALUES);
            let (scanner, entries): (u32, Vec<(u64, u32)>) = match v {
                Values::Patterns { key, values } => {
                    (scanner_index[key], values.iter().map(|&(x, f)| (u64::from(x), f)).collect())
                }
                Values::Globs(g) | Values::Regexes(g) => {
                    (if g.any_gate() { scanner_index[&g.key] } else { NONE }, g.entries(t.at(section::GATES)))
                }
                Values::Integers(values) => (NONE, values.iter().map(|&x| (x, 0)).collect()),
                Values::None => (NONE, Vec::new()),
            };
            for &(x, flags) in &entries {
                let e = t.at(section::VALUES);
                put64(e, x);
                put32(e, flags);
            }
            let op = match p.operator {
                OperatorSpec::Equals => Operator::Equals,
                OperatorSpec::Contains => Operator::Contains,
                OperatorSpec::StartsWith => Operator::StartsWith,
                OperatorSpec::EndsWith => Operator::EndsWith,
                OperatorSpec::Glob => Operator::Glob,
                OperatorSpec::Compare(Compare::Equals) => Operator::IntEquals,
                OperatorSpec::Compare(Compare::Less) => Operator::Less,
                OperatorSpec::Compare(Compare::LessOrEqual) => Operator::LessOrEqual,
                OperatorSpec::Compare(Compare::Greater) => Operator::Greater,
                OperatorSpec::Compare(Compare::GreaterOrEqual) => Operator::GreaterOrEqual,
                OperatorSpec::Regex => Operator::Regex,
                OperatorSpec::Exists(true) => Operator::Exists,
                OperatorSpec::Exists(false) => Operator::Absent,
            };
            let e = t.at(section::PREDICATES);
            e.push(p.field);
            e.push(op.code());
            let gated = matches!(v, Values::Globs(g) | Values::Regexes(g) if g.gates_predicate());
            e.push((u8::from(p.all) * format::predicate::ALL) | (u8::from(gated) * format::predicate::GATED));
            e.push(0);
            put32(e, scanner);
            put32(e, first_value);
            put32(e, entries.len() as u32);
        }
        let mut code = Vec::new();
        let depth = emit_expr(&r.condition, &mut code, 0);
        if depth > MAX_STACK {
            return limit(Some(r.id), "expression stack", depth, MAX_STACK);
        }
        if code.len() > format::MAX_CODE_PER_RULE {
            return limit(Some(r.id), "instructions in one rule", code.len(), format::MAX_CODE_PER_RULE);
        }
        // The kernel default, from the code as the validator recomputes it.
        let rule_default = assumed.as_ref().map_or(format::rule::DEFAULT_NONE, |assumed| {
            default::of_code(code.iter().copied(), |i| {
                assumed.get(usize::from(i)).copied().unwrap_or(default::Assumed::Any)
            })
        });
        let first_code = t.len(section::CODE);
        for &(op, arg) in &code {
            let e = t.at(section::CODE);
            e.push(op);
            e.push(0);
            put16(e, arg);
        }
        let name_offset = strings.len() as u32;
        strings.extend(r.name.encode_utf16());
        let meta_offset = strings.len() as u32;
        strings.extend(r.meta.encode_utf16());
        let e = t.at(section::RULES);
        put32(e, r.id);
        put16(e, r.kind.code());
        e.push(r.role as u8);
        e.push(rule_default);
        for x in [first_predicate, r.predicates.len() as u32, first_code, code.len() as u32, name_offset] {
            put32(e, x);
        }
        put16(e, r.name.encode_utf16().count() as u16);
        put16(e, r.meta.encode_utf16().count() as u16);
        put32(e, meta_offset);
        put32(e, 0);
    }
    for u in strings {
        put16(t.at(section::STRINGS), u);
    }
    if t.len(section::GATES) as usize > format::MAX_GATES {
        return limit(None, "gates", t.len(section::GATES) as usize, format::MAX_GATES);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&format::MAGIC);
    put32(&mut out, 0);
    put16(&mut out, format::FORMAT_VERSION);
    put16(&mut out, schema.version);
    put32(&mut out, content_version);
    put32(&mut out, 0);
    put16(&mut out, section::COUNT as u16);
    put16(&mut out, 0);
    let mut offset = section::FIRST_OFFSET;
    for (i, table) in t.bytes.iter().enumerate() {
        put16(&mut out, (i + 1) as u16);
        put16(&mut out, 0);
        put32(&mut out, offset as u32);
        put32(&mut out, table.len() as u32);
        offset += table.len();
    }
    for table in &t.bytes {
        out.extend_from_slice(table);
    }
    if out.len() > format::MAX_CONTENT_BYTES {
        return limit(None, "content bytes", out.len(), format::MAX_CONTENT_BYTES);
    }
    let total = out.len() as u32;
    out[format::header::TOTAL_LEN..format::header::TOTAL_LEN + 4].copy_from_slice(&total.to_le_bytes());
    let checksum = content_checksum(&out);
    out[format::header::CHECKSUM..format::header::CHECKSUM + 4].copy_from_slice(&checksum.to_le_bytes());
    validate(&out, schema).map_err(|e| BuildError { rule: None, kind: BuildErrorKind::Invalid(e) })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::automaton;

    #[test]
    fn classes_are_numbered_ascii_first_most_frequent_first() {
        let units = |s: &str| s.encode_utf16().collect::<std::vec::Vec<u16>>();
        // b three times; \ and a once each (a tie, broken by unit: \ is 0x5c);
        // é three times, but after every ASCII unit.
        let a = automaton(&[units("abb"), units("b\\"), units("ééé")]);
        assert_eq!(a.class_count, 5);
        let class = |u: char| a.classes.iter().find(|&&(unit, _)| unit == u as u16).map(|&(_, c)| c);
        assert_eq!([class('b'), class('\\'), class('a'), class('é')], [Some(1), Some(2), Some(3), Some(4)]);
        assert_eq!(class('c'), Some(0));
        // 128 ASCII entries in unit order, then the non-ASCII ones.
        assert_eq!(a.classes.len(), 129);
        assert!(a.classes[..128].iter().enumerate().all(|(i, &(unit, _))| usize::from(unit) == i));
        assert_eq!(a.classes[128], (0xe9, 4));
        // The root's children in class order: b, a, é.
        let root: std::vec::Vec<(u16, u32)> = a.states[0].children.iter().map(|(&c, &s)| (c, s)).collect();
        assert_eq!(root, [(1, 1), (3, 2), (4, 3)]);
    }
}
