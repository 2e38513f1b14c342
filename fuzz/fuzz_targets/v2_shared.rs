//! Shared by the content format 2 fuzz targets: a valid base content that
//! uses every table (built once with the builder), byte patches applied to
//! it with the checksum repaired (so that mutations reach the structural
//! checks), and arbitrary events.
#![allow(dead_code)]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use ringfence_content::content_checksum;
use ringfence_content::v2::build::{
    Compare, ExprSpec, GlobPart, OperatorSpec, PredicateSpec, RuleSpec, ValueSpec, build,
};
use ringfence_content::v2::format::header;
use ringfence_content::v2::{EventInput, Input, Role};
use ringfence_wire::{EventKind, SCHEMA, Text};

fn text(field: u8, operator: OperatorSpec, values: &[&str], all: bool, windash: bool) -> PredicateSpec {
    PredicateSpec {
        field,
        operator,
        values: values.iter().map(|v| ValueSpec::Text(v.to_string())).collect(),
        all,
        case_insensitive: true,
        windash,
    }
}

/// Contains / ends with / equals / starts with on image and command line,
/// a glob, an integer comparison, a companion field, exists, filter rules,
/// regular expressions (the `regexes` section: three automata, one non-ASCII).
pub fn base() -> &'static [u8] {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let glob = PredicateSpec {
            field: 6,
            operator: OperatorSpec::Glob,
            values: vec![ValueSpec::Glob(vec![
                GlobPart::AnyRun,
                GlobPart::Literal("-e".into()),
                GlobPart::AnyChar,
                GlobPart::AnyRun,
            ])],
            all: false,
            case_insensitive: true,
            windash: true,
        };
        let session = PredicateSpec {
            field: 4,
            operator: OperatorSpec::Compare(Compare::Greater),
            values: vec![ValueSpec::Integer(0)],
            all: false,
            case_insensitive: false,
            windash: false,
        };
        let exists = PredicateSpec {
            field: 12,
            operator: OperatorSpec::Exists(true),
            values: vec![],
            all: false,
            case_insensitive: false,
            windash: false,
        };
        use ExprSpec::{All, Any, Not, Predicate as P};
        let rule = |id, role, predicates, condition| RuleSpec {
            id,
            kind: EventKind::ProcessStart,
            role,
            name: format!("r{id}"),
            meta: "level=high".into(),
            predicates,
            condition,
        };
        let rules = vec![
            rule(
                1,
                Role::Detection,
                vec![
                    text(5, OperatorSpec::EndsWith, &["\\powershell.exe", "\\pwsh.exe"], false, false),
                    text(6, OperatorSpec::Contains, &["-enc", "-nop", "é"], true, true),
                    glob,
                ],
                All(vec![P(0), Any(vec![P(1), P(2)])]),
            ),
            rule(
                2,
                Role::Detection,
                vec![text(128, OperatorSpec::Equals, &["PowerShell.EXE"], false, false), session, exists],
                Any(vec![P(0), All(vec![P(1), Not(Box::new(P(2)))])]),
            ),
            rule(
                3,
                Role::Exclude,
                vec![text(6, OperatorSpec::StartsWith, &["c:\\windows\\"], false, false)],
                P(0),
            ),
            rule(4, Role::Include, vec![text(5, OperatorSpec::Contains, &["\\temp\\"], false, false)], P(0)),
            rule(
                5,
                Role::Detection,
                vec![
                    text(6, OperatorSpec::Regex, &[r"-e(nc?)?\s+[a-z0-9+/=]{4,}", r"é+\d$"], false, false),
                    PredicateSpec {
                        case_insensitive: false,
                        ..text(5, OperatorSpec::Regex, &[r"^C:\\Windows\\.*\.exe$"], false, false)
                    },
                ],
                Any(vec![P(0), Not(Box::new(P(1)))]),
            ),
        ];
        build(&rules, &SCHEMA, 1).expect("the fuzz base content builds")
    })
}

/// `bytes` with each (offset, byte) patch applied (offsets wrap) and the checksum repaired.
pub fn patched(bytes: &[u8], patches: &[(u16, u8)]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    for &(at, byte) in patches {
        let len = b.len();
        b[usize::from(at) % len] = byte;
    }
    repair(&mut b);
    b
}

pub fn repair(b: &mut [u8]) {
    if b.len() >= header::LEN {
        let sum = content_checksum(b);
        b[header::CHECKSUM..header::CHECKSUM + 4].copy_from_slice(&sum.to_le_bytes());
    }
}

#[derive(Arbitrary, Debug, Clone)]
pub enum OwnedInput {
    Text(Vec<u16>, Vec<u16>),
    Int(u64),
    Absent,
    Unknown,
}

#[derive(Arbitrary, Debug, Clone)]
pub struct OwnedEvent {
    pub kind: u8,
    pub fields: Vec<(u8, OwnedInput)>,
}

impl<'a> EventInput<'a> for &'a OwnedEvent {
    fn kind(&self) -> EventKind {
        match self.kind % 3 {
            0 => EventKind::ProcessStart,
            1 => EventKind::ProcessExit,
            _ => EventKind::ImageLoad,
        }
    }

    fn input(&self, field: u8) -> Input<'a> {
        let fields: &'a [(u8, OwnedInput)] = &self.fields;
        match fields.iter().find(|(i, _)| *i == field).map(|(_, f)| f) {
            Some(OwnedInput::Text(h, t)) => Input::Text { head: Text::wide(h), tail: Text::wide(t) },
            Some(OwnedInput::Int(n)) => Input::Integer(*n),
            Some(OwnedInput::Unknown) => Input::Unknown,
            Some(OwnedInput::Absent) | None => Input::Absent,
        }
    }
}
