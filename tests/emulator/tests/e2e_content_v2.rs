//! Content format 2 on the real driver: LOAD_CONTENT takes it beside format 1; the
//! callbacks evaluate it in three values, with paths read in DOS form through the volume
//! map and companion fields unknown, and drop an event only when no rule matched or could
//! match; every malformed format-2 file is refused with the reason the user-mode validator
//! gives and the content held stays; the books are clean at unload.

mod common;

use common::sensor::{Sensor, record, start};
use ringfence_companion::enrich::dos_path::VolumeMap;
use ringfence_content::v2::build::{ExprSpec, OperatorSpec, PredicateSpec, RuleSpec, ValueSpec, build};
use ringfence_content::v2::{self, ErrorKind, EventInput, Input, Role};
use ringfence_content::{compile, v2::format::header};
use ringfence_emulator::{Activity, KString, ProcessStart, Token};
use ringfence_wire::ioctl::Code;
use ringfence_wire::schema::{COMPANION_BASE, Event, field};
use ringfence_wire::text::{Ids, Text};
use ringfence_wire::{EventKind, FieldDef, FieldType, KindDef, SCHEMA, Schema};

const START: EventKind = EventKind::ProcessStart;
const IMAGE: u8 = field::ProcessStart::image_path as u8;
const COMMAND_LINE: u8 = field::ProcessStart::command_line as u8;
const PARENT_IMAGE: u8 = field::ProcessStart::parent_image_path as u8;

fn text_predicate(field: u8, operator: OperatorSpec, value: &str) -> PredicateSpec {
    PredicateSpec {
        field,
        operator,
        values: vec![ValueSpec::Text(value.to_owned())],
        all: false,
        case_insensitive: true,
        windash: false,
    }
}

fn rule(id: u32, role: Role, name: &str, predicates: Vec<PredicateSpec>, condition: ExprSpec) -> RuleSpec {
    RuleSpec { id, kind: START, role, name: name.to_owned(), meta: String::new(), predicates, condition }
}

fn all(of: &[u32]) -> ExprSpec {
    ExprSpec::All(of.iter().map(|p| ExprSpec::Predicate(*p)).collect())
}

/// The companion-only field `original_file_name` of a process start.
fn original_file_name() -> u8 {
    let def = SCHEMA.kind(START).expect("process start");
    let at = def.companion.iter().position(|f| f.name == "original_file_name").expect("a companion field");
    COMPANION_BASE + u8::try_from(at).expect("fits")
}

/// - 10 "encoded powershell": Image ends with `\powershell.exe`, CommandLine contains
///   ` -enc`, and not ParentImage ends with `\explorer.exe`;
/// - 20 "tool": Image equals `C:\Tools\x.exe`;
/// - 30 "renamed psexec": Image ends with `\renamed.exe` and OriginalFileName is `psexec.c`
///   (a companion field: undecided in the kernel when the image matches);
/// - 100, an include filter: Image starts with `C:\Tools\` (named "tools"). With an include
///   rule, a process start that none keeps and no detection rule matched or could match is
///   dropped.
fn rules() -> Vec<RuleSpec> {
    use OperatorSpec::*;
    vec![
        rule(
            10,
            Role::Detection,
            "encoded powershell",
            vec![
                text_predicate(IMAGE, EndsWith, r"\powershell.exe"),
                text_predicate(COMMAND_LINE, Contains, " -enc"),
                text_predicate(PARENT_IMAGE, EndsWith, r"\explorer.exe"),
            ],
            ExprSpec::All(vec![
                ExprSpec::Predicate(0),
                ExprSpec::Predicate(1),
                ExprSpec::Not(Box::new(ExprSpec::Predicate(2))),
            ]),
        ),
        rule(20, Role::Detection, "tool", vec![text_predicate(IMAGE, Equals, r"C:\Tools\x.exe")], all(&[0])),
        rule(
            30,
            Role::Detection,
            "renamed psexec",
            vec![
                text_predicate(IMAGE, EndsWith, r"\renamed.exe"),
                text_predicate(original_file_name(), Equals, "psexec.c"),
            ],
            all(&[0, 1]),
        ),
        rule(100, Role::Include, "tools", vec![text_predicate(IMAGE, StartsWith, r"C:\Tools\")], all(&[0])),
    ]
}

fn content() -> Vec<u8> {
    build(&rules(), &SCHEMA, 12).expect("the rules build")
}

/// The machine's volumes: C: is `\Device\HarddiskVolume3`; volume 9 is unknown.
fn volume_map() -> Vec<u8> {
    let devices = [('C', r"\Device\HarddiskVolume3".to_owned())];
    VolumeMap::from_dos_devices(devices, r"C:\Windows").expect("a valid map").to_le_bytes()
}

fn token() -> Token {
    Token { user: "S-1-5-18".to_owned(), logon_id: 0x3e7, integrity: 0x4000, elevation: 1 }
}

fn start_of(pid: u32, parent_pid: u32, image: &str, command_line: &str) -> Activity {
    Activity::ProcessStart(ProcessStart {
        pid,
        parent_pid,
        creating_pid: parent_pid,
        creating_tid: 7000 + pid,
        session_id: 1,
        image: KString::Text(image.to_owned()),
        command_line: KString::Text(command_line.to_owned()),
        start_key: 0x0001_0000_0000_0000 | u64::from(pid),
        create_time: 134_400_708_000_000_000 + u64::from(pid),
        file_open_name_available: true,
        is_subsystem_process: false,
        token: token(),
    })
}

const POWERSHELL: &str = r"\Device\HarddiskVolume3\Windows\System32\WindowsPowerShell\v1.0\powershell.exe";

/// Process starts, and what format 2 decides for each in the kernel: matched ids,
/// undecided ids, the include rule's name when one keeps it, or `None`: dropped.
struct Case {
    activity: Activity,
    pid: u32,
    kept: Option<(&'static [u32], &'static [u32], &'static str)>,
}

fn cases() -> Vec<Case> {
    let case = |pid, parent, image: &str, line: &str, kept| Case {
        activity: start_of(pid, parent, image, line),
        pid,
        kept,
    };
    vec![
        // Parents: nothing matches them and the include filter does not keep them.
        case(100, 4, r"\??\C:\Windows\explorer.exe", "explorer.exe", None),
        case(200, 4, r"\??\C:\Windows\System32\cmd.exe", "cmd.exe /c run", None),
        // Encoded PowerShell from cmd.exe: matched by 10 (the parent is not explorer).
        case(300, 200, POWERSHELL, "powershell.exe -NoP -ENC SQBFAFgA", Some((&[10], &[], ""))),
        // The same from explorer.exe: the `not` filter on ParentImage holds it back: dropped.
        case(301, 100, POWERSHELL, "powershell.exe -NoP -enc SQBFAFgA", None),
        // C:\Tools\x.exe: matched by 20 and kept by the include rule "tools".
        case(302, 200, r"\Device\HarddiskVolume3\Tools\x.exe", "x.exe", Some((&[20], &[], "tools"))),
        // renamed.exe: 30 needs OriginalFileName, which only the companion has.
        case(303, 200, r"\??\C:\Temp\renamed.exe", "renamed.exe -accepteula", Some((&[], &[30], ""))),
        // On volume 9, which the map does not name: every rule on Image is undecided, and
        // the include filter cannot say either, so the event is kept.
        case(304, 200, r"\Device\HarddiskVolume9\Tools\x.exe", "x.exe /quiet", Some((&[], &[20, 30], ""))),
        // Nothing matches svchost: dropped.
        case(
            305,
            200,
            r"\Device\HarddiskVolume3\Windows\System32\svchost.exe",
            "svchost.exe -k netsvcs",
            None,
        ),
    ]
}

/// A process start as user mode reads the record the driver sent: paths in DOS form with
/// the same volume map, companion fields unknown (what the companion has before enriching).
struct UserModeStart {
    image: Option<Vec<u16>>,
    command_line: Option<Vec<u16>>,
    parent_image: Option<Vec<u16>>,
    map: Vec<u16>,
}

impl UserModeStart {
    fn new(bytes: &[u8], map: &[u8]) -> UserModeStart {
        let Event::ProcessStart { image_path, command_line, parent_image_path, .. } = record(bytes).event()
        else {
            panic!("a process start")
        };
        let owned = |t: Option<ringfence_wire::text::Text<'_>>| t.map(|t| t.units().collect::<Vec<u16>>());
        let mut units = vec![0u16; map.len() / 2];
        ringfence_wire::volume_map::units_from_le_bytes(map, &mut units).expect("units");
        UserModeStart {
            image: owned(image_path),
            command_line: owned(command_line),
            parent_image: owned(parent_image_path),
            map: units,
        }
    }

    fn path<'a>(&'a self, nt: &'a Option<Vec<u16>>) -> Input<'a> {
        use ringfence_wire::volume_map::{Translation, VolumeMap};
        let Some(nt) = nt else { return Input::Absent };
        match VolumeMap::new_checked(&self.map).expect("a valid map").translate(nt) {
            Translation::Dos { head, tail, .. } => {
                Input::Text { head: Text::wide(head), tail: Text::wide(tail) }
            }
            Translation::Unknown => Input::Unknown,
        }
    }
}

impl<'a> EventInput<'a> for &'a UserModeStart {
    fn kind(&self) -> EventKind {
        START
    }

    fn input(&self, index: u8) -> Input<'a> {
        match index {
            IMAGE => self.path(&self.image),
            PARENT_IMAGE => self.path(&self.parent_image),
            COMMAND_LINE => match &self.command_line {
                Some(line) => Input::Text { head: Text::wide(line), tail: Text::default() },
                None => Input::Absent,
            },
            i if i >= COMPANION_BASE => Input::Unknown,
            _ => Input::Absent,
        }
    }
}

/// What the user-mode evaluator says for a record the driver sent: the matched and
/// undecided ids, and whether the event could have been dropped.
fn user_mode_verdict(content: &[u8], map: &[u8], bytes: &[u8]) -> (Vec<u32>, Vec<u32>, bool) {
    let content = v2::validate(content, &SCHEMA).expect("valid content");
    let event = UserModeStart::new(bytes, map);
    let (mut matched, mut undecided) = ([0u32; 8], [0u32; 8]);
    let mut scratch = vec![0u64; content.scratch_words()];
    let ids = v2::RuleIds { matched: &mut matched, undecided: &mut undecided };
    let v = content.evaluate(&&event, &mut scratch, ids).expect("evaluates");
    (matched[..v.matched].to_vec(), undecided[..v.undecided].to_vec(), v.droppable())
}

fn activity_records(sensor: &mut Sensor) -> Vec<Vec<u8>> {
    let all = sensor.read_all();
    all.into_iter().filter(|b| record(b).kind() != EventKind::ContentChanged).collect()
}

#[test]
fn format_2_content_keeps_exactly_the_events_a_rule_matched_or_could_match() {
    let mut sensor = start();
    let map = volume_map();
    assert_eq!(sensor.ioctl(Code::SetVolumeMap as u32, &map, 0).status, 0);
    let content = content();
    let verdict = sensor.load_content(&content);
    assert!(verdict.accepted, "{verdict:?}");
    assert_eq!((verdict.content_version, verdict.active_version), (12, 12));
    assert_eq!(sensor.stats().content.format, 2);
    let cases = cases();
    for case in &cases {
        sensor.fire(&case.activity);
    }
    let records = activity_records(&mut sensor);
    let kept: Vec<&Case> = cases.iter().filter(|c| c.kept.is_some()).collect();
    assert_eq!(records.len(), kept.len());
    for (bytes, case) in records.iter().zip(&kept) {
        let (matched, undecided, rule_name) = case.kept.expect("kept");
        let Event::ProcessStart {
            pid,
            rule_name: tag,
            matched_ids,
            matched_rest,
            undecided_ids,
            undecided_rest,
            ..
        } = record(bytes).event()
        else {
            panic!("a process start")
        };
        assert_eq!(pid, case.pid);
        // The record carries the kernel's ids themselves.
        let ids = |ids: Ids<'_>| ids.iter().collect::<Vec<u32>>();
        assert_eq!(
            (ids(matched_ids), matched_rest, ids(undecided_ids), undecided_rest),
            (matched.to_vec(), 0, undecided.to_vec(), 0),
            "pid {pid}"
        );
        assert_eq!(String::from_utf16_lossy(&tag.units().collect::<Vec<_>>()), rule_name, "pid {pid}");
        let (m, u, droppable) = user_mode_verdict(&content, &map, bytes);
        assert_eq!((m.as_slice(), u.as_slice(), droppable), (matched, undecided, false), "pid {pid}");
    }
    let dropped = (cases.len() - kept.len()) as u64;
    let c = sensor.stats().kind(START);
    assert_eq!(
        (c.seen, c.filtered, c.queued, c.dropped),
        (cases.len() as u64, dropped, kept.len() as u64, 0)
    );
    let stats = sensor.stats().content;
    assert_eq!((stats.format, stats.scratch_failures, stats.evaluation_errors), (2, 0, 0));
    assert_eq!(sensor.stop().problems(), Vec::new());
}

#[test]
fn without_a_volume_map_paths_are_undecided_and_nothing_is_dropped_on_them() {
    let mut sensor = start();
    assert!(sensor.load_content(&content()).accepted);
    let svchost = start_of(400, 4, r"\??\C:\Windows\System32\svchost.exe", "svchost.exe -k netsvcs");
    sensor.fire(&svchost);
    let records = activity_records(&mut sensor);
    assert_eq!(records.len(), 1, "kept: its image path cannot be read in DOS form");
    assert_eq!(sensor.stats().kind(START).filtered, 0);
    assert_eq!(sensor.stop().problems(), Vec::new());
}

#[test]
fn with_no_pool_for_scratch_memory_the_event_is_kept_and_counted() {
    let mut sensor = start();
    assert_eq!(sensor.ioctl(Code::SetVolumeMap as u32, &volume_map(), 0).status, 0);
    assert!(sensor.load_content(&content()).accepted);
    // svchost is dropped when evaluated. A first start fills System (its parent) into the
    // process table; each start after it makes the same allocation attempts. Fail each of
    // them in turn, one start each: the start whose scratch memory found no pool is kept.
    let svchost = |pid| start_of(pid, 4, r"\??\C:\Windows\System32\svchost.exe", "svchost.exe -k netsvcs");
    sensor.fire(&svchost(499));
    let before = sensor.emu.allocation_attempts();
    sensor.fire(&svchost(500));
    let per_start = sensor.emu.allocation_attempts() - before;
    assert!(per_start >= 1, "a start allocates its scratch memory");
    let mut kept = Vec::new();
    for k in 1..=per_start {
        sensor.emu.fail_allocation(k);
        sensor.fire(&svchost(500 + u32::try_from(k).expect("few")));
        sensor.emu.clear_allocation_failure();
        kept.extend(activity_records(&mut sensor));
    }
    let stats = sensor.stats();
    assert_eq!(stats.content.scratch_failures, 1, "some allocation of a start is the scratch memory's");
    assert_eq!(kept.len(), 1, "only the start without scratch memory was kept");
    // Undecided: its record names every detection rule of its kind as undecided.
    let carried = match record(&kept[0]).event() {
        Event::ProcessStart { matched_ids, matched_rest, undecided_ids, undecided_rest, .. } => {
            (matched_ids.len(), matched_rest, undecided_ids.iter().collect::<Vec<_>>(), undecided_rest)
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(carried, (0, 0, vec![10, 20, 30], 0));
    let seen = stats.kind(START).seen;
    assert_eq!(stats.kind(START).filtered, seen - 1);
    sensor.fire(&svchost(600));
    assert_eq!(activity_records(&mut sensor).len(), 0, "with pool, dropped");
    assert_eq!(sensor.stop().problems(), Vec::new());
}

/// The detection rules a start's record names: (matched, undecided).
fn ids_of(bytes: &[u8]) -> (Vec<u32>, Vec<u32>) {
    match record(bytes).event() {
        Event::ProcessStart { matched_ids, matched_rest, undecided_ids, undecided_rest, .. } => {
            assert_eq!((matched_rest, undecided_rest), (0, 0));
            (matched_ids.iter().collect(), undecided_ids.iter().collect())
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_event_over_the_per_event_work_limit_is_kept_undecided_and_counted() {
    let mut sensor = start();
    assert_eq!(sensor.ioctl(Code::SetVolumeMap as u32, &volume_map(), 0).status, 0);
    // Rule 40: six regular expressions on the command line, each charged a pass over it
    // (classes only: no literal every match holds, so no gate spares the pass).
    let mut rules = rules();
    let regexes = (1..=6).map(|i| ValueSpec::Text(format!("[0-9]{{40}}[a-f]{{{i}}}"))).collect();
    let predicate =
        PredicateSpec { values: regexes, ..text_predicate(COMMAND_LINE, OperatorSpec::Regex, "") };
    rules.push(rule(40, Role::Detection, "long digits", vec![predicate], all(&[0])));
    assert!(sensor.load_content(&build(&rules, &SCHEMA, 12).expect("the rules build")).accepted);
    sensor.fire(&start_of(200, 4, r"\??\C:\Windows\System32\cmd.exe", "cmd.exe /c run"));
    assert_eq!(activity_records(&mut sensor).len(), 0, "cmd.exe: nothing matches it, dropped");
    // Encoded PowerShell from cmd.exe with the longest command line a start can carry: the
    // regular expressions' passes over it are over ringfence_content::EVENT_WORK_LIMIT.
    let head = "powershell.exe -NoP -enc ";
    let longest = usize::from(ringfence_wire::schema::limits::UNICODE_STRING_UNITS);
    let line = format!("{head}{}", "A".repeat(longest - head.len()));
    sensor.fire(&start_of(300, 200, POWERSHELL, &line));
    let kept = activity_records(&mut sensor);
    assert_eq!(kept.len(), 1, "cut off: kept, not dropped");
    assert_eq!(
        ids_of(&kept[0]),
        (vec![], vec![10, 20, 30, 40]),
        "every detection rule of the kind undecided"
    );
    let stats = sensor.stats().content;
    assert_eq!((stats.format, stats.scratch_failures, stats.evaluation_errors), (2, 0, 1));
    // The same start with a typical command line is decided in the kernel: rule 10 matched.
    sensor.fire(&start_of(301, 200, POWERSHELL, "powershell.exe -NoP -enc SQBFAFgA"));
    let kept = activity_records(&mut sensor);
    assert_eq!(kept.len(), 1);
    assert_eq!(ids_of(&kept[0]), (vec![10], vec![]));
    assert_eq!(sensor.stats().content.evaluation_errors, 1, "no other cut-off");
    assert_eq!(sensor.stop().problems(), Vec::new());
}

const FORMAT_1: &str = r#"
version = 7

[[rule]]
name = "svchost"
kind = "process_start"
action = "exclude"
match = [{ field = "image_path", ends_with = "\\svchost.exe" }]
"#;

#[test]
fn format_1_and_format_2_replace_each_other_and_stats_names_the_format() {
    let mut sensor = start();
    assert_eq!(sensor.stats().content.format, 0, "no content");
    let one = compile(FORMAT_1, &SCHEMA).expect("compiles");
    assert!(sensor.load_content(&one).accepted);
    assert_eq!((sensor.stats().content.format, sensor.stats().active_content_version), (1, 7));
    let svchost = start_of(600, 4, r"\??\C:\Windows\System32\svchost.exe", "svchost.exe -k netsvcs");
    sensor.fire(&svchost);
    assert_eq!(activity_records(&mut sensor).len(), 0, "format 1 drops it, as before");
    assert!(sensor.load_content(&content()).accepted);
    assert_eq!((sensor.stats().content.format, sensor.stats().active_content_version), (2, 12));
    assert!(sensor.load_content(&one).accepted);
    assert_eq!((sensor.stats().content.format, sensor.stats().active_content_version), (1, 7));
    assert_eq!(sensor.stop().problems(), Vec::new());
}

/// Writes the checksum the validator computes, so that the corruption itself is judged.
fn fix_checksum(b: &mut [u8]) {
    if let Err(v2::ValidationError { kind: ErrorKind::BadChecksum { computed, .. }, .. }) =
        v2::validate(b, &SCHEMA)
    {
        b[header::CHECKSUM..header::CHECKSUM + 4].copy_from_slice(&computed.to_le_bytes());
    }
}

/// Content for a schema one version newer whose ProcessStart has one more kernel field,
/// matched by a rule: the Channel File 291 shape.
fn channel_file_291() -> Vec<u8> {
    let def = SCHEMA.kind(START).expect("process start");
    let mut fields = def.fields.to_vec();
    fields.push(FieldDef::kernel("extra", FieldType::Str, "x.extra", "newer"));
    let extra = u8::try_from(fields.len() - 1).expect("fits");
    let fields: &'static [FieldDef] = Box::leak(fields.into_boxed_slice());
    let kinds: Vec<KindDef> =
        SCHEMA.kinds.iter().map(|k| if k.kind == START { KindDef { fields, ..*k } } else { *k }).collect();
    let newer = Schema { version: SCHEMA.version + 1, kinds: Box::leak(kinds.into_boxed_slice()) };
    let reads_extra = rule(
        291,
        Role::Detection,
        "extra",
        vec![text_predicate(extra, OperatorSpec::Equals, "x")],
        all(&[0]),
    );
    build(&[reads_extra], &newer, 291).expect("builds for the newer schema")
}

#[test]
fn every_malformed_format_2_file_is_refused_with_the_user_mode_reason_and_the_content_held_stays() {
    let mut sensor = start();
    let base = content();
    assert!(sensor.load_content(&base).accepted);
    let mut suite: Vec<Vec<u8>> = (0..base.len()).map(|n| base[..n].to_vec()).collect();
    // A byte-flip grid: every byte up to the end of the section directory, then every 7th.
    let directory_end = header::LEN + v2::format::section::COUNT * v2::format::section::ENTRY_LEN;
    for at in (0..base.len()).filter(|at| *at < directory_end || at % 7 == 0) {
        for repair in [false, true] {
            let mut b = base.clone();
            b[at] ^= 0xA5;
            if repair {
                fix_checksum(&mut b);
            }
            suite.push(b);
        }
    }
    let mut longer = base.clone();
    longer.extend_from_slice(&[0; 8]);
    suite.push(longer);
    suite.push(channel_file_291());
    let (mut refused, mut accepted) = (0u64, 0u64);
    for case in &suite {
        let verdict = sensor.load_content(case);
        match v2::validate(case, &SCHEMA) {
            Err(e) if case.len() >= 10 && case[8..10] == [2, 0] => {
                refused += 1;
                assert!(!verdict.accepted, "refused in user mode: {e:?}");
                assert_eq!(
                    (verdict.reason, verdict.offset, verdict.args),
                    (e.code(), u32::try_from(e.offset).expect("offset fits"), e.args()),
                    "the driver's reason is format 2's validator's: {e:?}"
                );
                assert_eq!(
                    v2::ValidationError::from_wire(verdict.reason, verdict.offset, verdict.args),
                    Some(e)
                );
                assert_eq!(verdict.active_version, 12, "the content held stays");
            }
            Err(_) => {
                // No format-2 header: format 1's validator answers for it.
                refused += 1;
                let e = ringfence_content::validate(case, &SCHEMA).expect_err("not format 1 either");
                assert_eq!((verdict.accepted, verdict.reason), (false, e.code()));
                assert_eq!(verdict.active_version, 12, "the content held stays");
            }
            Ok(_) => {
                accepted += 1;
                assert!(verdict.accepted, "accepted in user mode, so by the driver");
                assert!(sensor.load_content(&base).accepted, "the base content goes back in");
            }
        }
    }
    let refused_291 = v2::validate(&channel_file_291(), &SCHEMA).expect_err("291 is refused");
    assert!(matches!(refused_291.kind, ErrorKind::FieldNotSupplied { .. }), "{refused_291:?}");
    let stats = sensor.stats();
    assert_eq!((stats.content_loads_rejected, stats.content_loads_accepted), (refused, 1 + 2 * accepted));
    assert_eq!((stats.active_content_version, stats.content.format), (12, 2));
    assert_eq!(sensor.stop().problems(), Vec::new());
}

#[test]
fn accepted_format_2_content_is_restored_by_driver_entry_at_the_next_boot() {
    use common::boots::boot;
    use ringfence_emulator::Disk;
    let content = content();
    let mut sensor = boot(&Disk::default(), &[]);
    assert!(sensor.load(&content).accepted);
    let disk = sensor.shutdown();
    assert_eq!(disk.content_file("trial.bin"), Some(&content[..]));
    let mut sensor = boot(&disk, &[]);
    let stats = sensor.stats();
    assert_eq!((stats.active_content_version, stats.content.format), (12, 2));
    let restored = ringfence_trust::Reason::Restored { slot: ringfence_trust::Slot::Trial }.code();
    assert_eq!(sensor.content_records(), vec![(true, 12, 12, restored)]);
    sensor.shutdown();
}

/// Detections 1-3 match `C:\Tools\tool.exe -x` in the kernel; 4 and 5 would too, but
/// need OriginalFileName (undecided there); 6 does not match; 50-61 (twelve rules) match
/// any image under `C:\Many\`.
fn many_rules() -> Vec<RuleSpec> {
    use OperatorSpec::*;
    let one = |id, field, op, value: &str| {
        rule(id, Role::Detection, &format!("rule {id}"), vec![text_predicate(field, op, value)], all(&[0]))
    };
    let mut rules = vec![
        one(1, IMAGE, EndsWith, r"\tool.exe"),
        one(2, COMMAND_LINE, Contains, " -x"),
        one(3, IMAGE, Contains, r"\Tools\"),
    ];
    for (id, name) in [(4, "tool.exe"), (5, "tool2.exe")] {
        rules.push(rule(
            id,
            Role::Detection,
            &format!("rule {id}"),
            vec![
                text_predicate(IMAGE, EndsWith, r"\tool.exe"),
                text_predicate(original_file_name(), Equals, name),
            ],
            all(&[0, 1]),
        ));
    }
    rules.push(one(6, IMAGE, EndsWith, r"\nothing.exe"));
    rules.extend((50..62).map(|id| one(id, IMAGE, StartsWith, r"C:\Many\")));
    rules
}

#[test]
fn a_record_carries_the_ids_of_every_rule_that_matched_and_was_left_undecided_up_to_8_and_the_rest() {
    let mut sensor = start();
    assert_eq!(sensor.ioctl(Code::SetVolumeMap as u32, &volume_map(), 0).status, 0);
    assert!(sensor.load_content(&build(&many_rules(), &SCHEMA, 13).expect("builds")).accepted);
    sensor.fire(&start_of(700, 4, r"\Device\HarddiskVolume3\Tools\tool.exe", "tool.exe -x"));
    sensor.fire(&start_of(701, 4, r"\??\C:\Many\many.exe", "many.exe"));
    let carried: Vec<_> = activity_records(&mut sensor)
        .iter()
        .map(|bytes| match record(bytes).event() {
            Event::ProcessStart { pid, matched_ids, matched_rest, undecided_ids, undecided_rest, .. } => (
                pid,
                matched_ids.iter().collect::<Vec<u32>>(),
                matched_rest,
                undecided_ids.iter().collect::<Vec<u32>>(),
                undecided_rest,
            ),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        carried,
        vec![
            // Three matched, two undecided: exactly those ids, nothing counted beyond them.
            (700, vec![1, 2, 3], 0, vec![4, 5], 0),
            // Twelve matched: the first eight in content order, four counted.
            (701, (50..58).collect(), 4, vec![], 0),
        ]
    );
    assert_eq!(sensor.stop().problems(), Vec::new());
}
