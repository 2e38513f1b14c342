//! LOAD_CONTENT on the real driver: valid content filters what READ returns
//! exactly as the user-mode interpreter says; every malformed file is refused
//! with the very reason the user-mode validator gives, and changes nothing.

mod common;

use common::activity::{Expected, assert_reports, expectations, kind_of, mixed};
use common::sensor::{Sensor, record, start};
use ringfence_content::format::header;
use ringfence_content::{ErrorKind, ValidationError, Verdict, compile, validate};
use ringfence_emulator::Activity;
use ringfence_wire::schema::Event;
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
