//! Properties over arbitrary rule sets and events: compile → validate →
//! evaluate agrees with a plain reference evaluator (Sysmon's semantics, no
//! index, written here from the definition), whether the event is a typed
//! `Event` or a decoded `Record`, with the key table or without it (at the
//! same charge on the meter); and nothing the validator accepts, nor any byte
//! string handed to the unvalidated entry point, nor any key table, makes
//! evaluation panic.

mod common;

use common::wide;
use proptest::prelude::*;
use ringfence_content::{
    Action, ConditionSpec, KeyTableError, Meter, Operator, RuleSpec, SpecValue, Verdict, compile_rules,
    compile_rules_unindexed, evaluate_raw, evaluate_record, validate,
};
use ringfence_wire::{Event, EventKind, FieldType, Fields, Record, SCHEMA, Text, Value};

const FRAGMENTS: &[&str] =
    &["a", "B", "x.exe", "\\", "C:\\Windows\\", "System32", "TEMP", "temp", "Ä", "ä", "powershell", " -enc "];

/// Strings built from a few fragments, so that patterns and values often meet.
fn units() -> impl Strategy<Value = Vec<u16>> {
    prop_oneof![
        8 => prop::collection::vec(prop::sample::select(FRAGMENTS), 0..6).prop_map(|parts| wide(&parts.concat())),
        1 => prop::collection::vec(any::<u16>(), 0..8),
        1 => Just(vec![0xD800]),
    ]
}

fn integer() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(4),
        Just(1000),
        Just(u64::from(u32::MAX)),
        0..2000u64,
        any::<u32>().prop_map(u64::from)
    ]
}

fn kind() -> impl Strategy<Value = EventKind> {
    prop::sample::select(vec![EventKind::ProcessStart, EventKind::ProcessExit, EventKind::ImageLoad])
}

fn condition(kind: EventKind) -> impl Strategy<Value = ConditionSpec> {
    let def = SCHEMA.kind(kind).unwrap();
    let fields: Vec<u8> = (0..def.field_count()).filter(|&i| def.fields[usize::from(i)].matchable).collect();
    (
        prop::sample::select(fields),
        prop::sample::select(Operator::ALL.to_vec()),
        any::<bool>(),
        any::<bool>(),
        units(),
        integer(),
        any::<bool>(),
    )
        .prop_map(move |(field, op, negated, fold, text, int, flag)| {
            let ty = def.fields[usize::from(field)].ty;
            let operator = if op.fits(ty) { op } else { Operator::Equals };
            let value = match ty {
                FieldType::Str => SpecValue::Str(text),
                FieldType::Bool => SpecValue::Bool(flag),
                FieldType::U32 => SpecValue::Integer(int.min(u64::from(u32::MAX))),
                FieldType::U64 | FieldType::Time => SpecValue::Integer(int),
                FieldType::Ids => unreachable!("id lists are verdict fields, never matchable"),
            };
            ConditionSpec { field, operator, negated, case_insensitive: fold && ty == FieldType::Str, value }
        })
}

fn rule() -> impl Strategy<Value = RuleSpec> {
    (kind(), any::<bool>())
        .prop_flat_map(|(kind, include)| {
            (Just(kind), Just(include), prop::collection::vec(condition(kind), 0..4))
        })
        .prop_map(|(kind, include, conditions)| RuleSpec {
            name: String::new(),
            kind,
            action: if include { Action::Include } else { Action::Exclude },
            conditions,
        })
}

/// Rules named by their id, so a verdict says which rule matched.
fn rules() -> impl Strategy<Value = Vec<RuleSpec>> {
    prop::collection::vec(rule(), 0..24).prop_map(|mut rules| {
        for (i, r) in rules.iter_mut().enumerate() {
            r.name = format!("r{i}");
        }
        rules
    })
}

/// An event's owned values: two strings and the integers, by kind.
#[derive(Clone, Debug)]
struct Owned {
    kind: EventKind,
    s1: Vec<u16>,
    s2: Vec<u16>,
    ints: [u64; 6],
    flag: bool,
}

impl Owned {
    fn event(&self) -> Event<'_> {
        let n = |i: usize| u32::try_from(self.ints[i] & 0xFFFF_FFFF).unwrap();
        match self.kind {
            EventKind::ProcessStart => Event::ProcessStart {
                pid: n(0),
                parent_pid: n(1),
                creating_pid: n(2),
                creating_tid: n(3),
                session_id: n(4),
                image_path: Some(Text::wide(&self.s1)),
                command_line: Some(Text::wide(&self.s2)),
                start_key: self.ints[5],
                create_time: self.ints[0],
                image_name_available: self.flag,
                rule_name: Text::default(),
                matched_ids: ringfence_wire::text::Ids::EMPTY,
                matched_rest: 0,
                undecided_ids: ringfence_wire::text::Ids::EMPTY,
                undecided_rest: 0,
                parent_start_key: Some(self.ints[4]),
                parent_image_path: Some(Text::wide(&self.s2)),
                parent_command_line: Some(Text::wide(&self.s1)),
                user_sid: Some(Text::wide(&self.s1)),
                logon_id: Some(self.ints[3]),
                integrity_level: Some(n(2)),
                elevation_type: Some(n(1)),
                parent_user_sid: Some(Text::wide(&self.s2)),
                truncated: 0,
            },
            EventKind::ProcessExit => Event::ProcessExit {
                pid: n(0),
                exit_status: n(1),
                time: self.ints[2],
                rule_name: Text::default(),
                matched_ids: ringfence_wire::text::Ids::EMPTY,
                matched_rest: 0,
                undecided_ids: ringfence_wire::text::Ids::EMPTY,
                undecided_rest: 0,
                image_path: Some(Text::wide(&self.s1)),
                start_key: self.ints[3],
                user_sid: Some(Text::wide(&self.s2)),
                truncated: 0,
            },
            _ => Event::ImageLoad {
                pid: n(0),
                image_path: Some(Text::wide(&self.s1)),
                image_base: self.ints[1],
                image_size: self.ints[2],
                signature_level: n(3),
                signature_type: n(4),
                kernel_image: self.flag,
                time: self.ints[5],
                rule_name: Text::default(),
                matched_ids: ringfence_wire::text::Ids::EMPTY,
                matched_rest: 0,
                undecided_ids: ringfence_wire::text::Ids::EMPTY,
                undecided_rest: 0,
                process_image_path: Some(Text::wide(&self.s2)),
                process_start_key: Some(self.ints[4]),
                user_sid: Some(Text::wide(&self.s1)),
                truncated: 0,
            },
        }
    }
}

fn event() -> impl Strategy<Value = Owned> {
    (kind(), units(), units(), prop::array::uniform6(integer()), any::<bool>())
        .prop_map(|(kind, s1, s2, ints, flag)| Owned { kind, s1, s2, ints, flag })
}

fn fold(units: &[u16]) -> Vec<u16> {
    units.iter().map(|&u| if (0x41..=0x5A).contains(&u) { u | 0x20 } else { u }).collect()
}

/// One condition, from the definition.
fn holds(c: &ConditionSpec, event: &Event<'_>) -> bool {
    let hit = match (event.field(c.field).unwrap(), &c.value) {
        (Value::Str(t), SpecValue::Str(p)) => {
            let t: Vec<u16> = t.units().collect();
            let (t, p) = if c.case_insensitive { (fold(&t), fold(p)) } else { (t, p.clone()) };
            match c.operator {
                Operator::Equals => t == p,
                Operator::StartsWith => t.starts_with(&p),
                Operator::EndsWith => t.ends_with(&p),
                Operator::Contains => p.is_empty() || t.windows(p.len()).any(|w| w == p.as_slice()),
                _ => unreachable!("validated: no integer operator on strings"),
            }
        }
        (Value::Bool(b), SpecValue::Bool(x)) => b == *x,
        (v, SpecValue::Integer(x)) => {
            let v = v.as_u64().unwrap();
            match c.operator {
                Operator::Equals => v == *x,
                Operator::LessThan => v < *x,
                Operator::GreaterThan => v > *x,
                _ => unreachable!("validated: no string operator on integers"),
            }
        }
        other => unreachable!("validated: types agree, got {other:?}"),
    };
    hit != c.negated
}

/// Sysmon's semantics: exclude wins; no include rule keeps; else the first matching include names the event.
fn reference(rules: &[RuleSpec], event: &Event<'_>) -> Option<String> {
    let matches = |r: &&RuleSpec| r.kind == event.kind() && r.conditions.iter().all(|c| holds(c, event));
    if rules.iter().filter(|r| r.action == Action::Exclude).any(|r| matches(&r)) {
        return None;
    }
    let mut includes =
        rules.iter().filter(|r| r.kind == event.kind() && r.action == Action::Include).peekable();
    if includes.peek().is_none() {
        return Some(String::new());
    }
    includes.find(matches).map(|r| r.name.clone())
}

fn as_reference(verdict: Verdict<'_>) -> Option<String> {
    match verdict {
        Verdict::Keep { rule_name } => {
            Some(String::from_utf16(&rule_name.units().collect::<Vec<_>>()).unwrap())
        }
        Verdict::Drop => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn compiled_content_evaluates_as_the_reference_evaluator(rules in rules(), events in prop::collection::vec(event(), 1..8)) {
        let content = compile_rules(&rules, 1, &SCHEMA).unwrap();
        let valid = validate(&content, &SCHEMA).unwrap();
        let scan = compile_rules_unindexed(&rules, 1, &SCHEMA).unwrap();
        let scan = validate(&scan, &SCHEMA).unwrap();
        let mut words = vec![0u32; valid.key_table_words()];
        valid.build_key_table(&mut words).unwrap();
        let (needed, given) = (words.len(), words.len() + 1);
        prop_assert_eq!(valid.build_key_table(&mut vec![0; given]), Err(KeyTableError::WrongSize { needed, given }));
        let tabled = valid.with_key_table(&words);
        for owned in &events {
            let event = owned.event();
            let expected = reference(&rules, &event);
            prop_assert_eq!(as_reference(valid.evaluate(&event)), expected.clone(), "typed event {:?}", event);
            prop_assert_eq!(as_reference(evaluate_raw(&content, &event)), expected.clone());
            prop_assert_eq!(as_reference(scan.evaluate(&event)), expected.clone(), "without the index");
            prop_assert_eq!(as_reference(tabled.evaluate(&event)), expected.clone(), "with the key table");
            let (mut searched, mut probed) = (Meter::new(u64::MAX), Meter::new(u64::MAX));
            valid.evaluate_metered(&event, &mut searched);
            tabled.evaluate_metered(&event, &mut probed);
            prop_assert_eq!(searched.used(), probed.used(), "the key table is charged as the search");
            for content in [&valid, &scan] {
                let mut meter = Meter::new(u64::MAX);
                content.evaluate_metered(&event, &mut meter);
                prop_assert!(meter.used() <= content.worst_case_cost(&SCHEMA), "work within the worst case");
            }

            let mut buf = vec![0u8; 4096];
            let len = ringfence_wire::record::encode(&event, 1, 2, &mut buf).unwrap();
            let record = Record::new_checked(&buf[..len]).unwrap();
            prop_assert_eq!(as_reference(evaluate_record(&valid, &record)), expected);
        }
    }

    #[test]
    fn content_the_validator_accepts_after_mutation_evaluates_without_panic(
        rules in rules(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        events in prop::collection::vec(event(), 1..4),
    ) {
        let mut content = compile_rules(&rules, 1, &SCHEMA).unwrap();
        for (at, byte) in edits {
            let i = at.index(content.len());
            content[i] = byte;
        }
        common::fix_checksum(&mut content);
        if let Ok(valid) = validate(&content, &SCHEMA) {
            let mut words = vec![0u32; valid.key_table_words()];
            valid.build_key_table(&mut words).unwrap();
            for owned in &events {
                let event = owned.event();
                prop_assert_eq!(valid.evaluate(&event), evaluate_raw(&content, &event));
                prop_assert_eq!(valid.with_key_table(&words).evaluate(&event), evaluate_raw(&content, &event));
            }
        }
    }

    #[test]
    fn evaluating_unvalidated_mutated_content_never_panics(
        rules in rules(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        owned in event(),
    ) {
        let mut content = compile_rules(&rules, 1, &SCHEMA).unwrap();
        for (at, byte) in edits {
            let i = at.index(content.len());
            content[i] = byte;
        }
        let _ = evaluate_raw(&content, &owned.event());
    }

    #[test]
    fn evaluating_with_arbitrary_key_table_words_never_panics(
        rules in rules(),
        words in prop::collection::vec(prop_oneof![any::<u32>(), 0..64u32, Just(u32::MAX)], 0..300),
        owned in event(),
    ) {
        let content = compile_rules(&rules, 1, &SCHEMA).unwrap();
        let valid = validate(&content, &SCHEMA).unwrap();
        let _ = valid.with_key_table(&words).evaluate(&owned.event());
    }

    #[test]
    fn evaluating_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512), owned in event()) {
        let _ = evaluate_raw(&bytes, &owned.event());
        prop_assert!(validate(&bytes, &SCHEMA).is_err());
    }
}
