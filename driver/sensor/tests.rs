//! The callback path with content: verdicts, tagging, swaps under load.

use super::*;
use crate::content_slot::judge;
use crate::host::Host;
use crate::processes::ProcessTable;
use ringfence_wire::schema::{EventKind, SCHEMA};
use ringfence_wire::{Batch, Text};

fn sensor() -> Sensor<Host> {
    Sensor::new(
        Queue::with_capacity(1 << 20).unwrap(),
        ProcessTable::with_budget(256 << 10).unwrap(),
        Notes::NONE,
    )
}

fn content(source: &str) -> Vec<u8> {
    ringfence_content::compile(source, &SCHEMA).expect("test rules compile")
}

fn load(sensor: &Sensor<Host>, bytes: &[u8]) -> u32 {
    sensor.install(judge(bytes).unwrap().into_owned().unwrap())
}

/// A process start of `path` with the fields a content can read, the rest absent.
pub(crate) fn start(path: &[u16]) -> Event<'_> {
    Event::ProcessStart {
        pid: 10,
        parent_pid: 4,
        creating_pid: 4,
        creating_tid: 8,
        session_id: 1,
        image_path: Some(Text::wide(path)),
        command_line: None,
        start_key: 1,
        create_time: 2,
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

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
}

fn drain(sensor: &Sensor<Host>) -> Vec<(EventKind, String)> {
    let mut out = vec![0u8; 1 << 20];
    let n = sensor.read(&mut out).unwrap();
    Batch::new_checked(&out[..n])
        .unwrap()
        .iter()
        .map(|r| {
            let rule = match r.event() {
                Event::ProcessStart { rule_name, .. } | Event::ImageLoad { rule_name, .. } => {
                    rule_name.chars().map(|c| c.unwrap()).collect()
                }
                _ => String::new(),
            };
            (r.kind(), rule)
        })
        .collect()
}

const INCLUDE_CMD: &str = r#"
version = 3

[[rule]]
name = "cmd"
kind = "process_start"
action = "include"
match = [{ field = "image_path", ends_with = "\\cmd.exe" }]
"#;

const INCLUDE_POWERSHELL: &str = r#"
version = 4

[[rule]]
name = "powershell"
kind = "process_start"
action = "include"
match = [{ field = "image_path", ends_with = "\\powershell.exe" }]
"#;

#[test]
fn without_content_every_event_is_kept_untagged() {
    let sensor = sensor();
    let path = wide("C:\\x.exe");
    sensor.observe(start(&path));
    assert_eq!(drain(&sensor), vec![(EventKind::ProcessStart, String::new())]);
}

#[test]
fn kept_events_carry_the_name_of_the_include_rule_that_matched() {
    let sensor = sensor();
    assert_eq!(load(&sensor, &content(INCLUDE_CMD)), 3);
    let cmd = wide("C:\\Windows\\System32\\CMD.EXE");
    let other = wide("C:\\x.exe");
    assert!(sensor.observe(start(&cmd)).is_some());
    assert_eq!(sensor.observe(start(&other)), None, "filtered");
    assert_eq!(drain(&sensor), vec![(EventKind::ProcessStart, "cmd".into())]);
    let stats = sensor.stats();
    let c = stats.kind(EventKind::ProcessStart);
    assert_eq!((c.seen, c.filtered, c.queued, c.dropped), (2, 1, 1, 0));
}

#[test]
fn a_swap_changes_the_verdict_of_the_next_event() {
    let sensor = sensor();
    let cmd = wide("C:\\cmd.exe");
    let ps = wide("C:\\powershell.exe");
    load(&sensor, &content(INCLUDE_CMD));
    sensor.observe(start(&cmd));
    sensor.observe(start(&ps));
    load(&sensor, &content(INCLUDE_POWERSHELL));
    sensor.observe(start(&cmd));
    sensor.observe(start(&ps));
    assert_eq!(
        drain(&sensor),
        vec![(EventKind::ProcessStart, "cmd".into()), (EventKind::ProcessStart, "powershell".into())]
    );
    assert_eq!(sensor.content_version(), 4);
    assert_eq!(sensor.stats().content_loads_accepted, 2);
}

#[test]
fn rejected_content_is_never_installed() {
    let mut bad = content(INCLUDE_CMD);
    let last = bad.len() - 1;
    bad[last] ^= 0xFF; // breaks the checksum
    assert!(judge(&bad).is_err());
    let sensor = sensor();
    load(&sensor, &content(INCLUDE_POWERSHELL));
    assert_eq!(sensor.content_version(), 4);
}

#[test]
fn callbacks_running_during_swaps_see_old_or_new_content_whole() {
    let sensor = std::sync::Arc::new(sensor());
    let a = content(INCLUDE_CMD);
    let b = content(INCLUDE_POWERSHELL);
    load(&sensor, &a);
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let sensor = std::sync::Arc::clone(&sensor);
            std::thread::spawn(move || {
                let cmd = wide("C:\\cmd.exe");
                let ps = wide("C:\\powershell.exe");
                for i in 0..2000 {
                    sensor.observe(start(if i % 2 == 0 { &cmd } else { &ps }));
                }
            })
        })
        .collect();
    for i in 0..200 {
        load(&sensor, if i % 2 == 0 { &a } else { &b });
    }
    for worker in workers {
        worker.join().unwrap();
    }
    let stats = sensor.stats();
    assert!(stats.balanced());
    assert_eq!(stats.kind(EventKind::ProcessStart).seen, 6000);
    for (_, rule) in drain(&sensor) {
        assert!(rule == "cmd" || rule == "powershell", "{rule}");
    }
}

mod format_2 {
    use super::*;
    use ringfence_content::v2::Role;
    use ringfence_content::v2::build::{ExprSpec, OperatorSpec, PredicateSpec, RuleSpec, ValueSpec, build};
    use ringfence_wire::volume_map::{Entry, VolumeMapRepr, units_to_le_bytes};

    const IMAGE: u8 = ringfence_wire::schema::field::ProcessStart::image_path as u8;

    fn rule(id: u32, role: Role, name: &str, field: u8, operator: OperatorSpec, value: &str) -> RuleSpec {
        RuleSpec {
            id,
            kind: EventKind::ProcessStart,
            role,
            name: name.into(),
            meta: String::new(),
            predicates: vec![PredicateSpec {
                field,
                operator,
                values: vec![ValueSpec::Text(value.into())],
                all: false,
                case_insensitive: true,
                windash: false,
            }],
            condition: ExprSpec::Predicate(0),
        }
    }

    /// Detection 5: Image ends with `\cmd.exe`; include 9 "tools": Image starts with `C:\Tools\`.
    fn content_v2() -> Vec<u8> {
        let rules = [
            rule(5, Role::Detection, "cmd", IMAGE, OperatorSpec::EndsWith, r"\cmd.exe"),
            rule(9, Role::Include, "tools", IMAGE, OperatorSpec::StartsWith, r"C:\Tools\"),
        ];
        build(&rules, &SCHEMA, 21).expect("the rules build")
    }

    /// C: is `\Device\HarddiskVolume3`.
    fn map() -> Vec<u8> {
        let (nt, dos, windows) = (wide(r"\Device\HarddiskVolume3"), wide("C:"), wide(r"C:\Windows"));
        let entries = [Entry { nt: &nt, dos: &dos }];
        let repr = VolumeMapRepr { windows_directory: &windows, entries: &entries };
        let mut units = vec![0u16; repr.units_len().unwrap()];
        repr.emit(&mut units).unwrap();
        let mut bytes = vec![0u8; units.len() * 2];
        units_to_le_bytes(&units, &mut bytes).unwrap();
        bytes
    }

    #[test]
    fn paths_are_read_in_dos_form_and_only_events_no_rule_could_match_are_dropped() {
        let sensor = sensor();
        sensor.set_volume_map(&map()).unwrap();
        assert_eq!(load(&sensor, &content_v2()), 21);
        assert_eq!(sensor.stats().content.format, 2);
        let tool = wide(r"\Device\HarddiskVolume3\TOOLS\x.exe");
        let cmd = wide(r"\??\C:\Windows\System32\cmd.exe");
        let other = wide(r"\Device\HarddiskVolume3\Windows\notepad.exe");
        let unmapped = wide(r"\Device\HarddiskVolume9\Windows\notepad.exe");
        assert!(sensor.observe(start(&tool)).is_some(), "kept by the include rule");
        assert!(sensor.observe(start(&cmd)).is_some(), "matched by detection 5");
        assert_eq!(sensor.observe(start(&other)), None, "nothing matched or could match");
        assert!(sensor.observe(start(&unmapped)).is_some(), "volume 9 is unknown: undecided");
        assert_eq!(
            drain(&sensor),
            vec![
                (EventKind::ProcessStart, "tools".into()),
                (EventKind::ProcessStart, String::new()),
                (EventKind::ProcessStart, String::new()),
            ]
        );
        let stats = sensor.stats();
        let c = stats.kind(EventKind::ProcessStart);
        assert_eq!((c.seen, c.filtered, c.queued), (4, 1, 3));
        assert_eq!((stats.content.scratch_failures, stats.content.evaluation_errors), (0, 0));
    }

    #[test]
    fn an_evaluation_names_the_matched_and_undecided_rules_and_the_include_that_kept_the_event() {
        use crate::evaluation::{Outcome, evaluate};
        let bytes = build(&many_detection_rules(), &SCHEMA, 1).unwrap();
        let content = ringfence_content::v2::Content::from_unvalidated(&bytes);
        let units = {
            let map = map();
            let mut units = vec![0u16; map.len() / 2];
            ringfence_wire::volume_map::units_from_le_bytes(&map, &mut units).unwrap();
            units
        };
        let map = ringfence_wire::volume_map::VolumeMap::new_checked(&units).unwrap();
        let cmd = wide(r"\Device\HarddiskVolume3\Tools\cmd.exe");
        let Outcome::Keep { rule_name, matched, undecided } = evaluate(
            &content,
            &crate::evaluation::KernelInput::new(start(&cmd), Some(map)),
            crate::evaluation::clock::<Host>,
        ) else {
            panic!("kept")
        };
        assert_eq!(rule_name.chars().map(|c| c.unwrap()).collect::<String>(), "tools");
        assert_eq!((matched.as_slice(), matched.rest), (&[5, 100, 101, 102, 103, 104, 105, 106][..], 3));
        assert_eq!((undecided.as_slice(), undecided.rest), (&[7][..], 0));
        // The same path on a volume the map lacks: every rule on the image is undecided.
        let unmapped = wide(r"\Device\HarddiskVolume9\Tools\cmd.exe");
        let Outcome::Keep { rule_name, matched, undecided } = evaluate(
            &content,
            &crate::evaluation::KernelInput::new(start(&unmapped), Some(map)),
            crate::evaluation::clock::<Host>,
        ) else {
            panic!("kept")
        };
        assert_eq!((rule_name.len(), matched.as_slice(), matched.rest), (0, &[][..], 0));
        assert_eq!((undecided.as_slice(), undecided.rest), (&[5, 7, 100, 101, 102, 103, 104, 105][..], 4));
    }

    /// Each record's verdict fields: rule name, matched ids and rest, undecided ids and rest.
    type Carried = (String, Vec<u32>, u32, Vec<u32>, u32);

    fn carried(sensor: &Sensor<Host>) -> Vec<Carried> {
        let mut out = vec![0u8; 1 << 20];
        let n = sensor.read(&mut out).unwrap();
        Batch::new_checked(&out[..n])
            .unwrap()
            .iter()
            .map(|r| match r.event() {
                Event::ProcessStart {
                    rule_name,
                    matched_ids,
                    matched_rest,
                    undecided_ids,
                    undecided_rest,
                    ..
                } => (
                    rule_name.chars().map(|c| c.unwrap()).collect(),
                    matched_ids.iter().collect(),
                    matched_rest,
                    undecided_ids.iter().collect(),
                    undecided_rest,
                ),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    /// Ten detections on `.exe` (100-109), detection 5 on `\cmd.exe`, detection 7 on a
    /// companion field, include 9 "tools" on `C:\Tools\`.
    fn many_detections() -> Vec<u8> {
        build(&many_detection_rules(), &SCHEMA, 4).unwrap()
    }

    /// The rules of [`many_detections`], in id order.
    fn many_detection_rules() -> Vec<RuleSpec> {
        let companion = ringfence_wire::schema::COMPANION_BASE;
        let mut rules: Vec<RuleSpec> = (0..10)
            .map(|i| rule(100 + i, Role::Detection, "exe", IMAGE, OperatorSpec::EndsWith, ".exe"))
            .collect();
        rules.push(rule(5, Role::Detection, "cmd", IMAGE, OperatorSpec::EndsWith, r"\cmd.exe"));
        rules.push(rule(7, Role::Detection, "ofn", companion, OperatorSpec::Equals, "cmd.exe"));
        rules.push(rule(9, Role::Include, "tools", IMAGE, OperatorSpec::StartsWith, r"C:\Tools\"));
        rules.sort_by_key(|r| r.id);
        rules
    }

    #[test]
    fn a_record_carries_exactly_the_detection_rules_that_matched_and_those_left_undecided() {
        let sensor = sensor();
        sensor.set_volume_map(&map()).unwrap();
        assert_eq!(load(&sensor, &many_detections()), 4);
        let cmd = wide(r"\Device\HarddiskVolume3\Tools\cmd.exe");
        let unmapped = wide(r"\Device\HarddiskVolume9\Tools\cmd.exe");
        let notepad = wide(r"\Device\HarddiskVolume3\Windows\notepad.exe");
        for path in [&cmd, &unmapped, &notepad] {
            assert!(sensor.observe(start(path)).is_some());
        }
        let exe = |n: u32| (100..100 + n).collect::<Vec<u32>>();
        let first_eight = [vec![5], exe(7)].concat();
        assert_eq!(
            carried(&sensor),
            vec![
                // Eleven matched: 5 and 100-106 carried, 107-109 counted; 7 needs the companion.
                ("tools".into(), first_eight, 3, vec![7], 0),
                // Volume 9 is unknown: every rule on the image is undecided, 8 carried, 4 counted.
                (String::new(), vec![], 0, [vec![5, 7], exe(6)].concat(), 4),
                // Ten matched (not 5, not the include); 7 needs the companion.
                (String::new(), exe(8), 2, vec![7], 0),
            ]
        );
    }

    #[test]
    fn format_1_content_and_no_content_leave_the_id_lists_empty() {
        let sensor = sensor();
        let cmd = wide(r"C:\Windows\System32\cmd.exe");
        assert!(sensor.observe(start(&cmd)).is_some());
        load(&sensor, &content(INCLUDE_CMD));
        assert!(sensor.observe(start(&cmd)).is_some());
        assert_eq!(
            carried(&sensor),
            vec![(String::new(), vec![], 0, vec![], 0), ("cmd".into(), vec![], 0, vec![], 0)]
        );
    }

    #[test]
    fn an_undecided_outcome_is_kept_with_every_undecided_id_it_has() {
        use crate::evaluation::{Cause, Ids, Outcome};
        let mut undecided = Ids::default();
        for id in [3, 1, 4, 1, 5, 9, 2, 6, 5, 3] {
            undecided.push(id);
        }
        let kept = Outcome::Undecided { undecided, cause: Cause::NoScratch }.kept().unwrap();
        assert_eq!((kept.rule_name.len(), kept.matched.as_slice(), kept.matched.rest), (0, &[][..], 0));
        let verdict = kept.verdict();
        assert_eq!(verdict.undecided_ids.iter().collect::<Vec<_>>(), [3, 1, 4, 1, 5, 9, 2, 6]);
        assert_eq!((verdict.undecided_rest, verdict.matched_ids.len()), (2, 0));
        assert_eq!(Outcome::Drop.kept(), None);
    }

    #[test]
    fn a_refused_format_2_content_answers_format_2_reasons_and_the_content_held_stays() {
        let sensor = sensor();
        assert_eq!(load(&sensor, &content(INCLUDE_CMD)), 3);
        assert_eq!(sensor.stats().content.format, 1);
        let mut bad = content_v2();
        let last = bad.len() - 1;
        bad[last] ^= 0xFF;
        let expected = ringfence_content::v2::validate(&bad, &SCHEMA).unwrap_err();
        let Offered::Refused { declared_version, refusal } = sensor.offer(&bad) else { panic!("refused") };
        assert_eq!(declared_version, 21);
        assert_eq!(
            (refusal.code(), refusal.offset(), refusal.args()),
            (expected.code(), expected.offset as u32, expected.args())
        );
        assert!(ringfence_content::v2::wire::is_format2_reason(refusal.code()));
        assert_eq!((sensor.content_version(), sensor.stats().content.format), (3, 1));
    }
}
