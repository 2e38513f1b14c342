//! Realistic rule sets of any size for the benches: path `ends_with`,
//! `starts_with` and `equals`, command-line `contains`, integer fields, spread
//! over process starts and image loads the way noise-reduction sets are, plus
//! a fixed handful of rules with nothing to index (command-line `contains` only).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::arithmetic_side_effects)]

use ringfence_content::{Action, ConditionSpec, Operator, RuleSpec, SpecValue};
use ringfence_wire::schema::field;
use ringfence_wire::{Event, EventKind, Text};

pub fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

fn cond(field: u8, operator: Operator, value: SpecValue) -> ConditionSpec {
    let case_insensitive = matches!(value, SpecValue::Str(_));
    ConditionSpec { field, operator, negated: false, case_insensitive, value }
}

fn text(s: String) -> SpecValue {
    SpecValue::Str(wide(&s))
}

/// Rules whose anchor nothing in the bench events has (they differ by `i`),
/// as in a real set where each rule is about one program.
fn indexed_rule(i: usize) -> RuleSpec {
    use field::{ImageLoad as IL, ProcessStart as PS};
    let (kind, action, conditions) = match i % 8 {
        0 => (
            EventKind::ImageLoad,
            Action::Exclude,
            vec![
                cond(IL::image_path as u8, Operator::EndsWith, text(format!("\\vendor{i}\\module{i}.dll"))),
                cond(IL::signature_level as u8, Operator::GreaterThan, SpecValue::Integer(7)),
            ],
        ),
        1 => (
            EventKind::ImageLoad,
            Action::Include,
            vec![cond(
                IL::image_path as u8,
                Operator::StartsWith,
                text(format!("\\Device\\HarddiskVolume3\\Program Files\\Vendor{i}\\")),
            )],
        ),
        2 => (
            EventKind::ProcessStart,
            Action::Exclude,
            vec![
                cond(
                    PS::image_path as u8,
                    Operator::Equals,
                    text(format!("\\??\\C:\\Program Files\\Vendor{i}\\app{i}.exe")),
                ),
                cond(PS::command_line as u8, Operator::Contains, text("--service".into())),
            ],
        ),
        3 => (
            EventKind::ProcessStart,
            Action::Include,
            vec![
                cond(PS::image_path as u8, Operator::EndsWith, text(format!("\\tool{i}.exe"))),
                cond(PS::command_line as u8, Operator::Contains, text(format!(" -x{i} "))),
            ],
        ),
        4 => (
            EventKind::ProcessStart,
            Action::Exclude,
            vec![
                cond(PS::parent_pid as u8, Operator::Equals, SpecValue::Integer(100_000 + i as u64)),
                cond(PS::session_id as u8, Operator::Equals, SpecValue::Integer(0)),
            ],
        ),
        5 => (
            EventKind::ProcessStart,
            Action::Exclude,
            vec![cond(
                PS::image_path as u8,
                Operator::StartsWith,
                text(format!("\\??\\C:\\Program Files (x86)\\Updater{i}\\")),
            )],
        ),
        6 => (
            EventKind::ImageLoad,
            Action::Exclude,
            vec![cond(
                IL::image_path as u8,
                Operator::Equals,
                text(format!("\\Device\\HarddiskVolume3\\Windows\\System32\\lib{i}.dll")),
            )],
        ),
        _ => (
            EventKind::ProcessStart,
            Action::Include,
            vec![
                cond(PS::image_path as u8, Operator::EndsWith, text(format!("\\Tools\\t{i}\\run.exe"))),
                cond(PS::creating_pid as u8, Operator::GreaterThan, SpecValue::Integer(4)),
            ],
        ),
    };
    RuleSpec { name: format!("rule {i}"), kind, action, conditions }
}

/// The rules no index can narrow: a real set has a few of these.
fn unindexed_rules() -> Vec<RuleSpec> {
    ["urlcache", " -enc", "scrobj.dll", "delete shadows"]
        .iter()
        .map(|needle| RuleSpec {
            name: format!("contains {needle}"),
            kind: EventKind::ProcessStart,
            action: Action::Include,
            conditions: vec![cond(
                field::ProcessStart::command_line as u8,
                Operator::Contains,
                text((*needle).into()),
            )],
        })
        .collect()
}

/// `n` rules: `n - 4` indexable ones and the 4 unindexed ones.
pub fn rules(n: usize) -> Vec<RuleSpec> {
    let mut rules: Vec<RuleSpec> = (0..n.saturating_sub(4)).map(indexed_rule).collect();
    rules.extend(unindexed_rules());
    rules
}

pub fn filled(s: &str, len: usize) -> Vec<u16> {
    s.encode_utf16().cycle().take(len).collect()
}

/// A typical process start: 120-unit image path, 400-unit command line.
pub fn process_start<'a>(path: &'a [u16], args: &'a [u16]) -> Event<'a> {
    Event::ProcessStart {
        pid: 4242,
        parent_pid: 888,
        creating_pid: 888,
        creating_tid: 4000,
        session_id: 1,
        image_path: Some(Text::wide(path)),
        command_line: Some(Text::wide(args)),
        start_key: 0x0003_0000_0000_0042,
        create_time: 133_700_000_000_000_000,
        image_name_available: true,
        rule_name: Text::default(),
        matched_ids: ringfence_wire::text::Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: ringfence_wire::text::Ids::EMPTY,
        undecided_rest: 0,
        parent_start_key: None,
        parent_image_path: None,
        parent_command_line: None,
        user_sid: None,
        logon_id: None,
        integrity_level: None,
        elevation_type: None,
        parent_user_sid: None,
        truncated: 0,
    }
}

pub fn image_load(path: &[u16]) -> Event<'_> {
    Event::ImageLoad {
        pid: 4242,
        image_path: Some(Text::wide(path)),
        image_base: 0x7FF8_1000_0000,
        image_size: 0x2_0000,
        signature_level: 12,
        signature_type: 1,
        kernel_image: false,
        time: 133_700_000_000_000_000,
        rule_name: Text::default(),
        matched_ids: ringfence_wire::text::Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: ringfence_wire::text::Ids::EMPTY,
        undecided_rest: 0,
        process_image_path: None,
        process_start_key: None,
        user_sid: None,
        truncated: 0,
    }
}

/// The longest command line a process start can carry.
pub const LONGEST: usize = ringfence_wire::schema::limits::UNICODE_STRING_UNITS as usize;

/// 256 units the first/last-unit filter passes at every position of a run of
/// `a`s, each failing only after 128 compares: `a`×127, `mid`, `a`×128.
pub fn needle(mid: char) -> Vec<u16> {
    wide(&format!("{}{mid}{}", "a".repeat(127), "a".repeat(128)))
}

/// A command line of the longest length, all `a`s but for `needle('b')` at its end.
pub fn hostile_command_line() -> Vec<u16> {
    let mut line = vec![u16::from(b'a'); LONGEST - ringfence_content::MAX_PATTERN_UNITS];
    line.extend(needle('b'));
    line
}

/// `conditions` command-line `contains` of 256 units in include rules of at
/// most 16, every condition of a rule holding on the hostile command line but
/// the last: no rule matches and every condition scans the whole line.
pub fn hostile_rules(conditions: usize) -> Vec<RuleSpec> {
    let contains =
        |mid| cond(field::ProcessStart::command_line as u8, Operator::Contains, SpecValue::Str(needle(mid)));
    let mut rules = Vec::new();
    let mut left = conditions;
    while left > 0 {
        let n = left.min(ringfence_content::MAX_CONDITIONS_PER_RULE);
        let mut conditions: Vec<ConditionSpec> = (1..n).map(|_| contains('b')).collect();
        conditions.push(contains('c'));
        rules.push(RuleSpec {
            name: format!("hostile {}", rules.len()),
            kind: EventKind::ProcessStart,
            action: Action::Include,
            conditions,
        });
        left -= n;
    }
    rules
}

/// The costliest content of `hostile_rules` the validator accepts, and its condition count.
pub fn costliest_accepted() -> (usize, Vec<u8>) {
    let schema = &ringfence_wire::SCHEMA;
    let mut accepted = None;
    for conditions in 1.. {
        let bytes = ringfence_content::compile_rules(&hostile_rules(conditions), 1, schema).unwrap();
        if ringfence_content::validate(&bytes, schema).is_err() {
            break;
        }
        accepted = Some((conditions, bytes));
    }
    accepted.unwrap()
}

/// Patterns and 32,767-unit command lines built against the matcher (Two-Way
/// behind a skip loop on two rare units): every position or every other one a
/// skip-loop candidate, long partial matches, periodic patterns, non-ASCII
/// units. None of the lines contains its pattern.
pub fn hostile_texts() -> Vec<(&'static str, Vec<u16>, Vec<u16>)> {
    let a = |n: usize| "a".repeat(n);
    let fill = |period: String| {
        let mut line = wide(&period.repeat(LONGEST / period.chars().count() + 1));
        line.truncate(LONGEST);
        line
    };
    vec![
        ("a^127 c a^128 in a^n", needle('c'), hostile_command_line()),
        ("a^256 in (a^255 b)*", wide(&a(256)), fill(format!("{}b", a(255)))),
        ("a^127 c a^128 in (a^127 c a^127)*", needle('c'), fill(format!("{}c{}", a(127), a(127)))),
        ("(ab)^128 in ((ab)^127 a)*", wide(&"ab".repeat(128)), fill(format!("{}a", "ab".repeat(127)))),
        ("b (ab)^127 c in (ab)*", wide(&format!("b{}c", "ab".repeat(127))), fill("ab".to_string())),
        ("é^256 in (é^255 x)*", wide(&"é".repeat(256)), fill(format!("{}x", "é".repeat(255)))),
        (
            "(ab)^64 c (ab)^63 b in (ab)*",
            wide(&format!("{}c{}b", "ab".repeat(64), "ab".repeat(63))),
            fill("ab".to_string()),
        ),
        (
            "a^128 b^128 in (a^128 b^127 a)*",
            wide(&format!("{}{}", a(128), "b".repeat(128))),
            fill(format!("{}{}a", a(128), "b".repeat(127))),
        ),
    ]
}

/// One include rule: the command line contains `pattern`, case-insensitively.
pub fn one_contains(pattern: Vec<u16>) -> Vec<RuleSpec> {
    vec![RuleSpec {
        name: "one contains".to_string(),
        kind: EventKind::ProcessStart,
        action: Action::Include,
        conditions: vec![cond(
            field::ProcessStart::command_line as u8,
            Operator::Contains,
            SpecValue::Str(pattern),
        )],
    }]
}

/// The most one-condition include rules `contains pattern` (none of which
/// holds on its hostile line) the validator accepts, and their content.
pub fn costliest_accepted_of(pattern: &[u16]) -> (usize, Vec<u8>) {
    let schema = &ringfence_wire::SCHEMA;
    let mut accepted = None;
    for rules in 1.. {
        let set: Vec<RuleSpec> = (0..rules).flat_map(|_| one_contains(pattern.to_vec())).collect();
        let bytes = ringfence_content::compile_rules(&set, 1, schema).unwrap();
        if ringfence_content::validate(&bytes, schema).is_err() {
            break;
        }
        accepted = Some((rules, bytes));
    }
    accepted.unwrap()
}

/// The costliest glob on the command line: 63 tokens (`*aa`, `*a` × 29, then
/// `*b`), so that over a text of `a`s every unit keeps the whole simulation
/// alive, and its gate (its longest literal run, `aa`) is found: it runs.
pub fn worst_glob() -> ringfence_content::v2::build::PredicateSpec {
    use ringfence_content::v2::build::{GlobPart, OperatorSpec, PredicateSpec, ValueSpec};
    let mut parts = vec![GlobPart::AnyRun, GlobPart::Literal("aa".into())];
    for _ in 0..29 {
        parts.push(GlobPart::AnyRun);
        parts.push(GlobPart::Literal("a".into()));
    }
    parts.push(GlobPart::AnyRun);
    parts.push(GlobPart::Literal("b".into()));
    PredicateSpec {
        field: field::ProcessStart::command_line as u8,
        operator: OperatorSpec::Glob,
        values: vec![ValueSpec::Glob(parts)],
        all: false,
        case_insensitive: true,
        windash: false,
    }
}
