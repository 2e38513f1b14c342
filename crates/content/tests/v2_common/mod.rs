//! Shared by the format-2 tests: an event built from plain values, rule
//! constructors, and one call that evaluates and collects the verdict.
#![allow(dead_code, unreachable_pub, clippy::cast_possible_truncation)]

use ringfence_content::v2::build::{ExprSpec, OperatorSpec, PredicateSpec, RuleSpec, ValueSpec, build};
use ringfence_content::v2::{Content, EventInput, Filter, Input, Role, RuleIds, validate};
use ringfence_wire::{EventKind, SCHEMA, Text};

pub const PID: u8 = 0;
pub const SESSION: u8 = 4;
pub const IMAGE: u8 = 5;
pub const COMMAND_LINE: u8 = 6;
pub const PARENT_IMAGE: u8 = 12;
/// ProcessStart's companion field `original_file_name`.
pub const ORIGINAL_FILE_NAME: u8 = 128;

#[derive(Clone, Debug)]
pub enum Field {
    Text(Vec<u16>),
    /// head ++ tail
    Split(Vec<u16>, Vec<u16>),
    Int(u64),
    Absent,
    Unknown,
}

pub fn text(s: &str) -> Field {
    Field::Text(s.encode_utf16().collect())
}

#[derive(Clone, Debug)]
pub struct TestEvent {
    pub kind: EventKind,
    pub fields: Vec<(u8, Field)>,
}

impl TestEvent {
    pub fn start(fields: Vec<(u8, Field)>) -> Self {
        TestEvent { kind: EventKind::ProcessStart, fields }
    }
}

impl<'a> EventInput<'a> for &'a TestEvent {
    fn kind(&self) -> EventKind {
        self.kind
    }

    fn input(&self, field: u8) -> Input<'a> {
        let fields: &'a [(u8, Field)] = &self.fields;
        match fields.iter().find(|(i, _)| *i == field).map(|(_, f)| f) {
            Some(Field::Text(t)) => Input::Text { head: Text::wide(t), tail: Text::default() },
            Some(Field::Split(h, t)) => Input::Text { head: Text::wide(h), tail: Text::wide(t) },
            Some(Field::Int(n)) => Input::Integer(*n),
            Some(Field::Unknown) => Input::Unknown,
            Some(Field::Absent) => Input::Absent,
            None => {
                // Not given: a companion field is unknown, a kernel field absent.
                if field >= 128 { Input::Unknown } else { Input::Absent }
            }
        }
    }
}

/// What one evaluation said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub matched: Vec<u32>,
    pub undecided: Vec<u32>,
    pub filter: Filter,
    pub include_rule: Option<u32>,
}

pub fn evaluate(content: &Content<'_>, event: &TestEvent) -> Outcome {
    let mut scratch = vec![0u64; content.scratch_words()];
    let (mut matched, mut undecided) = ([0u32; 64], [0u32; 64]);
    let v = content
        .evaluate(&event, &mut scratch, RuleIds { matched: &mut matched, undecided: &mut undecided })
        .expect("validated content evaluates within its budget");
    assert_eq!((v.matched_rest, v.undecided_rest), (0, 0));
    Outcome {
        matched: matched[..v.matched].to_vec(),
        undecided: undecided[..v.undecided].to_vec(),
        filter: v.filter,
        include_rule: v.include_rule,
    }
}

/// The work units one evaluation of `event` charges, without a limit.
pub fn work_done(content: &Content<'_>, event: &TestEvent) -> u64 {
    let mut scratch = vec![0u64; content.scratch_words()];
    let (mut matched, mut undecided) = ([0u32; 64], [0u32; 64]);
    let mut meter = ringfence_content::Meter::new(u64::MAX);
    let ids = RuleIds { matched: &mut matched, undecided: &mut undecided };
    content.evaluate_metered(&event, &mut scratch, ids, &mut meter).expect("no limit");
    meter.used()
}

pub fn predicate(field: u8, operator: OperatorSpec, values: &[&str]) -> PredicateSpec {
    PredicateSpec {
        field,
        operator,
        values: values.iter().map(|v| ValueSpec::Text(v.to_string())).collect(),
        all: false,
        case_insensitive: true,
        windash: false,
    }
}

/// A detection rule on process start whose condition is all its predicates.
pub fn detection(id: u32, predicates: Vec<PredicateSpec>) -> RuleSpec {
    let condition = ExprSpec::All((0..predicates.len() as u32).map(ExprSpec::Predicate).collect());
    RuleSpec {
        id,
        kind: EventKind::ProcessStart,
        role: Role::Detection,
        name: format!("rule {id}"),
        meta: String::new(),
        predicates,
        condition,
    }
}

pub fn built(rules: &[RuleSpec]) -> Vec<u8> {
    build(rules, &SCHEMA, 1).expect("the rules build")
}

/// Builds `rules` and evaluates `event` with them.
pub fn verdict(rules: &[RuleSpec], event: &TestEvent) -> Outcome {
    let bytes = built(rules);
    let content = validate(&bytes, &SCHEMA).expect("built content validates");
    evaluate(&content, event)
}

/// The ids of matched detections for `rules` on `event`.
pub fn matched(rules: &[RuleSpec], event: &TestEvent) -> Vec<u32> {
    verdict(rules, event).matched
}
