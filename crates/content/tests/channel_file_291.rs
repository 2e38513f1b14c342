//! The Channel File 291 regression (CrowdStrike, 19 July 2024): content that
//! reads a field the sensor does not supply. There the template declared 21
//! fields, the sensor supplied 20, the validator checked the declaration and
//! the interpreter read entry 20 of a 20-entry array; tests had used wildcards
//! in that field. Here the validator checks against what the running sensor
//! supplies, and the interpreter treats a missing field as "no match" even
//! when validation is skipped. Every condition below is a real comparison.

mod common;

use common::*;
use ringfence_content::format::MAX_CONDITIONS_PER_RULE;
use ringfence_content::format::{condition, section};
use ringfence_content::{
    Action, CompileErrorKind, ConditionSpec, ErrorKind, Operator, RuleSpec, SpecValue, ValidationError,
    Verdict, compile, compile_rules, evaluate_raw, validate,
};
use ringfence_wire::schema::Lookup;
use ringfence_wire::{Event, EventKind, FieldDef, FieldType, Fields, KindDef, SCHEMA, Schema, Text, Value};

/// A schema one version newer whose ProcessStart has one more field, `extra`.
fn newer_schema() -> Schema {
    let start = SCHEMA.kind(EventKind::ProcessStart).unwrap();
    let mut fields = start.fields.to_vec();
    fields.push(FieldDef::kernel(
        "extra",
        FieldType::Str,
        "ringfence.extra",
        "A field only the newer sensor supplies.",
    ));
    let fields: &'static [FieldDef] = Box::leak(fields.into_boxed_slice());
    let kinds: Vec<KindDef> = SCHEMA
        .kinds
        .iter()
        .map(|k| if k.kind == EventKind::ProcessStart { KindDef { fields, ..*k } } else { *k })
        .collect();
    Schema { version: SCHEMA.version + 1, kinds: Box::leak(kinds.into_boxed_slice()) }
}

const EXTRA_FIELD_RULES: &str = r#"
version = 291

[[rule]]
name = "crash"
kind = "process_exit"
action = "include"
match = [{ field = "exit_status", equals = 3221225477 }]

[[rule]]
name = "ntdll"
kind = "image_load"
action = "exclude"
match = [{ field = "image_path", ends_with = "\\ntdll.dll" }]

[[rule]]
name = "kernel images"
kind = "image_load"
action = "include"
match = [{ field = "kernel_image", equals = true }]

[[rule]]
name = "extra field"
kind = "process_start"
action = "include"
match = [{ field = "extra", equals = "not a wildcard" }]
"#;

/// The index of `extra`: one past the running ProcessStart's last field.
const EXTRA: u8 = 24;

/// An event from the newer sensor: the running ProcessStart plus `extra`.
struct NewerProcessStart<'e> {
    event: Event<'e>,
    extra: Text<'e>,
}

impl<'e> Fields<'e> for NewerProcessStart<'e> {
    fn kind(&self) -> EventKind {
        EventKind::ProcessStart
    }

    fn lookup(&self, index: u8) -> Lookup<'e> {
        if index == EXTRA { Lookup::Value(Value::Str(self.extra)) } else { self.event.lookup(index) }
    }
}

#[test]
fn content_for_a_newer_schema_reading_its_extra_field_is_rejected_naming_rule_field_and_supplied_count() {
    let newer = newer_schema();
    let content = compile(EXTRA_FIELD_RULES, &newer).unwrap();
    assert!(validate(&content, &newer).is_ok(), "valid for the sensor it was compiled for");

    // ProcessStart sorts first, so its one condition is the first entry of the table.
    let conditions = section_start(&content, section::CONDITIONS);
    assert_eq!(
        validate(&content, &SCHEMA).unwrap_err(),
        ValidationError {
            offset: conditions + condition::FIELD,
            kind: ErrorKind::FieldOutOfRange { rule: 3, field: EXTRA, supplied: EXTRA },
        }
    );
    assert_eq!(
        validate(&content, &SCHEMA).unwrap_err().to_string(),
        format!(
            "at byte {}: rule 3 reads field 24, but the sensor supplies 24 fields for this event kind",
            conditions
        )
    );
}

#[test]
fn the_compiler_rejects_the_extra_field_for_the_running_schema_naming_rule_and_line() {
    let err = compile(EXTRA_FIELD_RULES, &SCHEMA).unwrap_err();
    assert_eq!(err.rule, Some((3, "extra field".to_string())));
    assert_eq!(err.line, 26);
    assert_eq!(
        err.kind,
        CompileErrorKind::UnknownField { kind: EventKind::ProcessStart, field: "extra".to_string() }
    );
}

#[test]
fn the_lowest_entry_point_finds_no_match_for_a_field_the_event_lacks() {
    let content = compile(EXTRA_FIELD_RULES, &newer_schema()).unwrap();
    let (image, cmd) = (wide(r"C:\Windows\System32\cmd.exe"), wide("cmd /c not a wildcard"));
    let event = process_start(&image, &cmd);
    // The only include rule for ProcessStart cannot match, so the event is dropped.
    assert_eq!(evaluate_raw(&content, &event), Verdict::Drop);

    // Where the field exists, the same rule matches: the rule is real, not a wildcard.
    let extra = wide("not a wildcard");
    let newer_event = NewerProcessStart { event, extra: Text::wide(&extra) };
    assert_eq!(evaluate_raw(&content, &newer_event), kept(&wide("extra field")));
}

#[test]
fn an_exclude_rule_on_a_missing_field_excludes_nothing() {
    let source = EXTRA_FIELD_RULES.replace(
        "name = \"extra field\"\nkind = \"process_start\"\naction = \"include\"",
        "name = \"extra field\"\nkind = \"process_start\"\naction = \"exclude\"",
    );
    let content = compile(&source, &newer_schema()).unwrap();
    let (image, cmd) = (wide(r"C:\Windows\System32\cmd.exe"), wide("cmd"));
    assert_eq!(evaluate_raw(&content, &process_start(&image, &cmd)), untagged());
}

/// The event with one field withheld.
struct Lacking<'a, 'e> {
    event: &'a Event<'e>,
    missing: u8,
}

impl<'e> Fields<'e> for Lacking<'_, 'e> {
    fn kind(&self) -> EventKind {
        self.event.kind()
    }

    fn lookup(&self, index: u8) -> Lookup<'e> {
        if index == self.missing { Lookup::Absent } else { self.event.lookup(index) }
    }
}

/// The event with only its first `supplied` fields: an older or broken sensor.
struct Truncated<'a, 'e> {
    event: &'a Event<'e>,
    supplied: u8,
}

impl<'e> Fields<'e> for Truncated<'_, 'e> {
    fn kind(&self) -> EventKind {
        self.event.kind()
    }

    fn lookup(&self, index: u8) -> Lookup<'e> {
        if index < self.supplied { self.event.lookup(index) } else { Lookup::Absent }
    }
}

/// A condition that holds on `event`'s own value of `field`.
fn equals_own_value(event: &Event<'_>, field: u8) -> ConditionSpec {
    let value = match event.field(field).unwrap() {
        Value::Str(t) => SpecValue::Str(t.units().collect()),
        Value::Bool(b) => SpecValue::Bool(b),
        other => SpecValue::Integer(other.as_u64().unwrap()),
    };
    let case_insensitive = matches!(value, SpecValue::Str(_));
    ConditionSpec { field, operator: Operator::Equals, negated: false, case_insensitive, value }
}

/// The matchable fields of `event`'s kind, in windows of at most
/// `MAX_CONDITIONS_PER_RULE` that together cover every one of them.
fn field_windows(event: &Event<'_>) -> Vec<Vec<u8>> {
    let def = SCHEMA.kind(event.kind()).unwrap();
    let fields: Vec<u8> = (0..def.field_count()).filter(|&i| def.fields[usize::from(i)].matchable).collect();
    let width = MAX_CONDITIONS_PER_RULE.min(fields.len());
    let mut windows = vec![fields[..width].to_vec()];
    if fields.len() > width {
        windows.push(fields[fields.len() - width..].to_vec());
    }
    windows
}

/// Rules with a condition on every field of `window`, in three orders.
fn every_field_rules(event: &Event<'_>, window: &[u8], action: Action) -> Vec<RuleSpec> {
    let fields = window.to_vec();
    let mut reversed = fields.clone();
    reversed.reverse();
    let mut rotated = fields.clone();
    rotated.rotate_left(fields.len() / 2);
    [("forward", fields), ("reversed", reversed), ("rotated", rotated)]
        .into_iter()
        .map(|(order, fields)| RuleSpec {
            name: format!("every field, {order}"),
            kind: event.kind(),
            action,
            conditions: fields.iter().map(|&f| equals_own_value(event, f)).collect(),
        })
        .collect()
}

fn activity_events<'a>(image: &'a [u16], cmd: &'a [u16]) -> [Event<'a>; 3] {
    [process_start(image, cmd), process_exit(0xC000_0005), image_load(image)]
}

#[test]
fn every_field_in_turn_withheld_turns_every_rule_into_no_match() {
    let (image, cmd) = (wide(r"C:\Users\a\AppData\Local\Temp\x.exe"), wide(r#""x.exe" --flag"#));
    for event in activity_events(&image, &cmd) {
        let def = SCHEMA.kind(event.kind()).unwrap();
        for window in field_windows(&event) {
            for action in [Action::Include, Action::Exclude] {
                let rules = every_field_rules(&event, &window, action);
                let content = compile_rules(&rules, 1, &SCHEMA).unwrap();
                let valid = validate(&content, &SCHEMA).unwrap();
                let forward = wide("every field, forward");
                let (hit, miss) = match action {
                    Action::Include => (kept(&forward), Verdict::Drop),
                    Action::Exclude => (Verdict::Drop, untagged()),
                };
                assert_eq!(valid.evaluate(&event), hit, "{} with every field of {window:?}", def.name);
                for field in 0..def.field_count() {
                    let lacking = Lacking { event: &event, missing: field };
                    let expected = if window.contains(&field) { &miss } else { &hit };
                    assert_eq!(&valid.evaluate(&lacking), expected, "{} without field {field}", def.name);
                    assert_eq!(
                        &evaluate_raw(&content, &lacking),
                        expected,
                        "{} raw, without {field}",
                        def.name
                    );
                }
                let last = *window.iter().max().unwrap();
                for supplied in 0..def.field_count() {
                    let short = Truncated { event: &event, supplied };
                    let expected = if supplied > last { hit } else { miss };
                    assert_eq!(
                        evaluate_raw(&content, &short),
                        expected,
                        "{} with {supplied} fields",
                        def.name
                    );
                }
            }
        }
    }
}

#[test]
fn one_condition_per_field_each_misses_exactly_when_its_field_is_withheld() {
    let (image, cmd) = (wide(r"C:\Program Files\App\app.exe"), wide("app.exe /s"));
    for event in activity_events(&image, &cmd) {
        let def = SCHEMA.kind(event.kind()).unwrap();
        for field in (0..def.field_count()).filter(|&i| def.fields[usize::from(i)].matchable) {
            let rule = RuleSpec {
                name: format!("only {}", def.fields[usize::from(field)].name),
                kind: event.kind(),
                action: Action::Include,
                conditions: vec![equals_own_value(&event, field)],
            };
            let content = compile_rules(&[rule], 1, &SCHEMA).unwrap();
            validate(&content, &SCHEMA).unwrap();
            let name = wide(&format!("only {}", def.fields[usize::from(field)].name));
            assert_eq!(evaluate_raw(&content, &event), kept(&name));
            for missing in 0..def.field_count() {
                let expected = if missing == field { Verdict::Drop } else { kept(&name) };
                assert_eq!(evaluate_raw(&content, &Lacking { event: &event, missing }), expected);
            }
        }
    }
}
