//! LOAD_CONTENT on the real driver: valid content filters what READ returns
//! exactly as the user-mode interpreter says; every malformed file is refused
//! with the very reason the user-mode validator gives, and changes nothing; an
//! event whose evaluation goes past the per-event work limit is kept untagged
//! and counted, where the user-mode interpreter's meter says it goes past.

mod common;

use common::activity::{Expected, assert_reports, expectations, kind_of, mixed};
use common::sensor::{Sensor, record, start};
use ringfence_content::format::header;
use ringfence_content::{
    Action, ConditionSpec, Content, EVENT_WORK_LIMIT, ErrorKind, MAX_CONDITIONS_PER_RULE,
    MAX_EVALUATION_COST, MAX_PATTERN_UNITS, Meter, Operator, RuleSpec, SpecValue, ValidationError, Verdict,
    compile, compile_rules, validate,
};
use ringfence_emulator::{Activity, KString, ProcessStart, Token};
use ringfence_wire::schema::{Event, field};
use ringfence_wire::{EventKind, FieldDef, FieldType, KindDef, SCHEMA, Schema};

const RULES: &str = r#"
version = 7

[[rule]]
name = "system dlls"
kind = "image_load"
action = "exclude"
match = [
  { field = "image_path", contains = "\\Windows\\System32\\" },
  { field = "image_path", ends_with = ".dll" },
]

[[rule]]
name = "encoded powershell"
kind = "process_start"
action = "include"
match = [{ field = "command_line", contains = " -enc" }, { field = "image_path", ends_with = "\\powershell.exe" }]

[[rule]]
name = "svchost"
kind = "process_start"
action = "exclude"
match = [{ field = "image_path", ends_with = "\\svchost.exe" }]

[[rule]]
name = "access violation"
kind = "process_exit"
action = "include"
match = [{ field = "exit_status", equals = 3221225477 }]
"#;

fn rules() -> Vec<u8> {
    compile(RULES, &SCHEMA).expect("the rules compile")
}

/// Writes the checksum the validator computes, so that the corruption itself is judged.
fn fix_checksum(b: &mut [u8]) {
    if let Err(ValidationError { kind: ErrorKind::BadChecksum { computed, .. }, .. }) = validate(b, &SCHEMA) {
        b[header::CHECKSUM..header::CHECKSUM + 4].copy_from_slice(&computed.to_le_bytes());
    }
}

/// The verdict the user-mode interpreter gives for what the driver will see.
fn verdict(content: &[u8], expected: &Expected) -> Option<String> {
    let content = validate(content, &SCHEMA).expect("valid content");
    expected.with_event("", |event: &Event<'_>| match content.evaluate(event) {
        Verdict::Keep { rule_name } => Some(String::from_utf16_lossy(&rule_name.units().collect::<Vec<_>>())),
        Verdict::Drop => None,
    })
}

fn activity_records(sensor: &mut Sensor) -> Vec<Vec<u8>> {
    let all = sensor.read_all();
    all.into_iter().filter(|b| record(b).kind() != EventKind::ContentChanged).collect()
}

#[test]
fn valid_content_is_accepted_and_filters_read_and_stats_as_the_user_mode_interpreter_does() {
    let mut sensor = start();
    let content = rules();
    let verdict_now = sensor.load_content(&content);
    assert!(verdict_now.accepted);
    assert_eq!((verdict_now.reason, verdict_now.content_version, verdict_now.active_version), (0, 7, 7));
    let activity = mixed(800, 0xC0_47E7);
    for a in &activity {
        sensor.fire(a);
    }
    let expected = expectations(&activity);
    let kept: Vec<(&Expected, String)> =
        expected.iter().filter_map(|e| verdict(&content, e).map(|rule| (e, rule))).collect();
    assert!(kept.len() < activity.len() && !kept.is_empty(), "the sample has kept and dropped events");
    assert!(kept.iter().any(|(_, rule)| !rule.is_empty()), "the sample has tagged events");
    let records = activity_records(&mut sensor);
    assert_eq!(records.len(), kept.len());
    for (bytes, (injected, rule)) in records.iter().zip(&kept) {
        assert_reports(&record(bytes), injected, rule);
    }
    let stats = sensor.stats();
    assert_eq!((stats.active_content_version, stats.content_loads_accepted), (7, 1));
    for kind in [EventKind::ProcessStart, EventKind::ProcessExit, EventKind::ImageLoad] {
        let seen = activity.iter().filter(|a| kind_of(a) == kind).count() as u64;
        let queued = kept.iter().filter(|(e, _)| kind_of(&e.activity) == kind).count() as u64;
        let c = stats.kind(kind);
        assert_eq!((c.seen, c.filtered, c.queued, c.dropped), (seen, seen - queued, queued, 0), "{kind:?}");
    }
    assert_eq!(sensor.stop().problems(), Vec::new());
}

/// Every prefix, every byte flipped (with and without the checksum repaired), and trailing bytes.
fn malformed_suite(base: &[u8]) -> Vec<Vec<u8>> {
    let mut suite: Vec<Vec<u8>> = (0..base.len()).map(|n| base[..n].to_vec()).collect();
    for at in 0..base.len() {
        for repair in [false, true] {
            let mut b = base.to_vec();
            b[at] ^= 0xA5;
            if repair {
                fix_checksum(&mut b);
            }
            suite.push(b);
        }
    }
    let mut longer = base.to_vec();
    longer.extend_from_slice(&[0; 8]);
    suite.push(longer);
    suite.push(vec![0; 4096]);
    suite.push(vec![0xFF; 64]);
    suite
}

/// Content for a schema one version newer whose ProcessStart has a 21st field,
/// matched by a rule: the Channel File 291 shape.
fn channel_file_291() -> Vec<u8> {
    let start = SCHEMA.kind(EventKind::ProcessStart).expect("process start");
    let mut fields = start.fields.to_vec();
    fields.push(FieldDef::kernel("extra", FieldType::Str, "x.extra", "newer"));
    let fields: &'static [FieldDef] = Box::leak(fields.into_boxed_slice());
    let kinds: Vec<KindDef> = SCHEMA
        .kinds
        .iter()
        .map(|k| if k.kind == EventKind::ProcessStart { KindDef { fields, ..*k } } else { *k })
        .collect();
    let newer = Schema { version: SCHEMA.version + 1, kinds: Box::leak(kinds.into_boxed_slice()) };
    let rules = r#"
version = 291

[[rule]]
name = "reads the 21st field"
kind = "process_start"
action = "include"
match = [{ field = "extra", equals = "anything" }]
"#;
    compile(rules, &newer).expect("compiles for the newer schema")
}

#[test]
fn every_malformed_file_is_rejected_by_the_driver_with_the_user_mode_reason_and_nothing_changes() {
    let mut sensor = start();
    let base = rules();
    assert!(sensor.load_content(&base).accepted);
    let mut cases = malformed_suite(&base);
    cases.push(channel_file_291());
    let (mut rejected, mut accepted) = (0u64, 0u64);
    let mut verdicts = Vec::new();
    for case in &cases {
        let verdict = sensor.load_content(case);
        verdicts.push(verdict);
        match validate(case, &SCHEMA) {
            Err(e) => {
                rejected += 1;
                assert!(!verdict.accepted, "rejected in user mode: {e:?}");
                assert_eq!(
                    (verdict.reason, verdict.offset, verdict.args),
                    (e.code(), u32::try_from(e.offset).expect("offset fits"), e.args()),
                    "the driver's reason is the validator's: {e:?}"
                );
                assert_eq!(verdict.active_version, 7, "the old content stays active");
            }
            Ok(_) => {
                // A flip the format cannot notice (a string byte, checksum repaired): both accept it.
                accepted += 1;
                assert!(verdict.accepted, "accepted in user mode, so by the driver");
                let restored = sensor.load_content(&base);
                assert!(restored.accepted, "the base content goes back in");
                verdicts.push(restored);
            }
        }
    }
    let rejected_291 = validate(&channel_file_291(), &SCHEMA).expect_err("291 is refused");
    assert_eq!(rejected_291.code(), 34, "FieldOutOfRange: {rejected_291:?}");
    let stats = sensor.stats();
    assert_eq!(stats.content_loads_rejected, rejected);
    assert_eq!(stats.content_loads_accepted, 1 + 2 * accepted);
    assert_eq!(stats.active_content_version, 7);
    // Each offer left a ContentChanged record saying what became of it.
    let changes: Vec<Vec<u8>> =
        sensor.read_all().into_iter().filter(|b| record(b).kind() == EventKind::ContentChanged).collect();
    assert_eq!(changes.len(), verdicts.len() + 1, "one record per offer, the first load included");
    for (bytes, v) in changes[1..].iter().zip(&verdicts) {
        let Event::ContentChanged { accepted, content_version, active_version, reason, offset } =
            record(bytes).event()
        else {
            unreachable!("filtered by kind")
        };
        assert_eq!(
            (accepted, content_version, active_version, reason, offset),
            (v.accepted, v.content_version, v.active_version, v.reason, v.offset)
        );
    }
    // The active content still filters: a System32 DLL load is dropped.
    let sample = expectations(&mixed(400, 3));
    let dropped = sample
        .iter()
        .find(|e| matches!(e.activity, Activity::ImageLoad(_)) && verdict(&base, e).is_none())
        .expect("a dropped image load");
    sensor.fire(&dropped.activity);
    assert!(activity_records(&mut sensor).is_empty(), "filtered by the content loaded first");
    assert_eq!(sensor.stop().problems(), Vec::new());
}

const POWERSHELL: &str = r"\Device\HarddiskVolume3\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";
const ENCODED: &str = "powershell.exe -NoP -enc ";

fn text_condition(field: field::ProcessStart, operator: Operator, value: &str) -> ConditionSpec {
    let value = SpecValue::Str(value.encode_utf16().collect());
    ConditionSpec { field: field as u8, operator, negated: false, case_insensitive: true, value }
}

/// A pattern of the longest length: `a`s with `mid` in the middle.
fn longest_pattern(mid: char) -> String {
    let half = MAX_PATTERN_UNITS / 2;
    format!("{}{mid}{}", "a".repeat(half - 1), "a".repeat(half))
}

/// `units` units: an encoded PowerShell command whose argument is `a`s, ending in
/// `longest_pattern('b')`.
fn encoded_command_line(units: usize) -> String {
    let tail = longest_pattern('b');
    format!("{ENCODED}{}{tail}", "a".repeat(units - ENCODED.len() - tail.len()))
}

/// `conditions` command-line `contains` of the longest pattern, in include rules of at most
/// `MAX_CONDITIONS_PER_RULE`, each holding on `encoded_command_line` but each rule's last (no
/// rule matches, every search reads the whole line); then "encoded powershell", the rule
/// that comes last, so that every rule before it is evaluated before the event is tagged.
fn costly_rules(conditions: usize) -> Vec<RuleSpec> {
    let contains =
        |mid| text_condition(field::ProcessStart::command_line, Operator::Contains, &longest_pattern(mid));
    let mut rules = Vec::new();
    let mut left = conditions;
    while left > 0 {
        let n = left.min(MAX_CONDITIONS_PER_RULE);
        let mut conditions: Vec<ConditionSpec> = (1..n).map(|_| contains('b')).collect();
        conditions.push(contains('c'));
        let name = format!("costly {}", rules.len());
        rules.push(RuleSpec { name, kind: EventKind::ProcessStart, action: Action::Include, conditions });
        left -= n;
    }
    rules.push(RuleSpec {
        name: "encoded powershell".into(),
        kind: EventKind::ProcessStart,
        action: Action::Include,
        conditions: vec![
            text_condition(field::ProcessStart::image_path, Operator::EndsWith, r"\powershell.exe"),
            text_condition(field::ProcessStart::command_line, Operator::Contains, " -enc"),
        ],
    });
    rules
}

/// The most `contains` conditions of [`costly_rules`] the validator accepts, compiled.
fn costliest_accepted() -> Vec<u8> {
    let mut accepted = None;
    for conditions in 1.. {
        let bytes = compile_rules(&costly_rules(conditions), 7, &SCHEMA).expect("the rules compile");
        if validate(&bytes, &SCHEMA).is_err() {
            break;
        }
        accepted = Some(bytes);
    }
    accepted.expect("one condition is accepted")
}

fn encoded_start(pid: u32, command_line: &str) -> Activity {
    Activity::ProcessStart(ProcessStart {
        pid,
        parent_pid: 4,
        creating_pid: 4,
        creating_tid: 7000 + pid,
        session_id: 1,
        image: KString::Text(POWERSHELL.to_owned()),
        command_line: KString::Text(command_line.to_owned()),
        start_key: 0x0001_0000_0000_0000 | u64::from(pid),
        create_time: 134_400_708_000_000_000 + u64::from(pid),
        file_open_name_available: true,
        is_subsystem_process: false,
        token: Token { user: "S-1-5-18".to_owned(), logon_id: 0x3e7, integrity: 0x4000, elevation: 1 },
    })
}

/// Whether the user-mode interpreter, metered as the driver meters it, stops at
/// `EVENT_WORK_LIMIT` on the event the driver reports for `start`.
fn cut_off(content: &Content<'_>, start: &Activity) -> bool {
    expectations(std::slice::from_ref(start))[0].with_event("", |event| {
        let mut meter = Meter::new(EVENT_WORK_LIMIT);
        content.evaluate_metered(event, &mut meter);
        meter.exhausted()
    })
}

/// The rule name a kept start's record carries.
fn tag_of(bytes: &[u8]) -> String {
    match record(bytes).event() {
        Event::ProcessStart { rule_name, .. } => {
            String::from_utf16_lossy(&rule_name.units().collect::<Vec<_>>())
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_format_1_event_over_the_per_event_work_limit_is_kept_untagged_and_counted() {
    let bytes = costliest_accepted();
    let content = validate(&bytes, &SCHEMA).expect("accepted");
    let worst = content.worst_case_cost(&SCHEMA);
    assert!(
        worst > EVENT_WORK_LIMIT && worst <= MAX_EVALUATION_COST,
        "within the content budget, over the per-event limit: {worst}"
    );
    // The command line's length: the shortest on which the evaluation runs past the limit
    // (bisected between the shortest line of this shape and the longest a start can carry).
    let longest = usize::from(ringfence_wire::schema::limits::UNICODE_STRING_UNITS);
    let (mut within, mut over) = (ENCODED.len() + MAX_PATTERN_UNITS, longest);
    let at = |units| cut_off(&content, &encoded_start(100, &encoded_command_line(units)));
    assert!(!at(within), "the shortest line is evaluated whole");
    assert!(at(over), "the costliest accepted content goes past the limit on the longest command line");
    while over - within > 1 {
        let mid = within + (over - within) / 2;
        if at(mid) { over = mid } else { within = mid }
    }

    let mut sensor = start();
    assert!(sensor.load_content(&bytes).accepted);
    // One unit past the limit's line: kept, untagged (the rules are undecided), counted once.
    sensor.fire(&encoded_start(100, &encoded_command_line(over)));
    let kept = activity_records(&mut sensor);
    assert_eq!(kept.len(), 1, "cut off: kept, not dropped");
    assert_eq!(tag_of(&kept[0]), "", "cut off: untagged");
    assert_eq!(sensor.stats().content.evaluation_errors, 1);
    // One unit shorter, evaluated whole: "encoded powershell" matches, after every other rule.
    sensor.fire(&encoded_start(101, &encoded_command_line(within)));
    let kept = activity_records(&mut sensor);
    assert_eq!(kept.len(), 1);
    assert_eq!(tag_of(&kept[0]), "encoded powershell");
    // A typical encoded command: tagged by the same rule.
    sensor.fire(&encoded_start(102, "powershell.exe -NoP -enc SQBFAFgA"));
    let kept = activity_records(&mut sensor);
    assert_eq!(kept.len(), 1);
    assert_eq!(tag_of(&kept[0]), "encoded powershell");
    let stats = sensor.stats();
    assert_eq!(stats.content.evaluation_errors, 1, "no other cut-off");
    let c = stats.kind(EventKind::ProcessStart);
    assert_eq!((c.seen, c.filtered, c.queued, c.dropped), (3, 0, 3, 0));
    assert_eq!(sensor.stop().problems(), Vec::new());
}
