use super::*;
use crate::text::{Ids, Text};

fn exit(rule_name: Text<'_>) -> Event<'_> {
    Event::ProcessExit {
        pid: 4,
        exit_status: 0xC000_0005,
        time: 7,
        rule_name,
        matched_ids: Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: Ids::EMPTY,
        undecided_rest: 0,
        image_path: None,
        start_key: 9,
        user_sid: None,
        truncated: 0,
    }
}

#[test]
fn every_kind_resolves_to_its_own_definition() {
    for kind in EventKind::ALL {
        assert_eq!(kind.def().kind, *kind);
        assert_eq!(SCHEMA.kind(*kind), Some(kind.def()));
        assert_eq!(EventKind::from_code(kind.code()), Some(*kind));
    }
    assert_eq!(EventKind::from_code(0), None);
    assert_eq!(EventKind::from_code(6), None);
}

#[test]
fn field_indices_follow_declaration_order() {
    let def = EventKind::ProcessStart.def();
    assert_eq!(def.field_count(), 24);
    assert_eq!(def.field_index("image_path"), Some(field::ProcessStart::image_path as u8));
    assert_eq!(def.field(5).map(|f| f.ty), Some(FieldType::Str));
    assert_eq!(def.field(20).map(|f| f.ty), Some(FieldType::Ids));
    assert_eq!(def.field(24), None);
    assert!(!def.field(10).is_some_and(|f| f.matchable));
    assert_eq!(def.truncation_index(), Some(field::ProcessStart::truncated as u8));
}

#[test]
fn later_versions_append_to_every_version_one_kind_without_renumbering() {
    let v1: [(EventKind, &[&str]); 3] = [
        (
            EventKind::ProcessStart,
            &[
                "pid",
                "parent_pid",
                "creating_pid",
                "creating_tid",
                "session_id",
                "image_path",
                "command_line",
                "start_key",
                "create_time",
                "image_name_available",
                "rule_name",
            ],
        ),
        (EventKind::ProcessExit, &["pid", "exit_status", "time", "rule_name"]),
        (
            EventKind::ImageLoad,
            &[
                "pid",
                "image_path",
                "image_base",
                "image_size",
                "signature_level",
                "signature_type",
                "kernel_image",
                "time",
                "rule_name",
            ],
        ),
    ];
    for (kind, names) in v1 {
        let now: std::vec::Vec<&str> = kind.def().fields.iter().map(|f| f.name).take(names.len()).collect();
        assert_eq!(now, names, "{kind:?}");
    }
}

#[test]
fn version_three_appends_the_verdicts_rule_ids_to_every_activity_kind() {
    let appended = ["matched_ids", "matched_rest", "undecided_ids", "undecided_rest"];
    for kind in [EventKind::ProcessStart, EventKind::ProcessExit, EventKind::ImageLoad] {
        let def = kind.def();
        let last: std::vec::Vec<_> = def
            .fields
            .iter()
            .skip(def.fields.len() - 4)
            .map(|f| (f.name, f.ty, f.matchable, f.max_units))
            .collect();
        let expected = [
            (appended[0], FieldType::Ids, false, limits::RECORD_IDS),
            (appended[1], FieldType::U32, false, 0),
            (appended[2], FieldType::Ids, false, limits::RECORD_IDS),
            (appended[3], FieldType::U32, false, 0),
        ];
        assert_eq!(last, expected, "{kind:?}");
        // Everything before them is version 2's, the truncation bitmap last.
        assert_eq!(def.truncation_index(), Some(def.field_count() - 5), "{kind:?}");
    }
    assert_eq!(SCHEMA_VERSION, 3);
    assert_eq!(limits::RECORD_IDS, 8);
}

#[test]
fn companion_fields_live_in_their_own_index_space() {
    let def = EventKind::ProcessStart.def();
    let hashes = companion::ProcessStart::hashes as u8;
    assert_eq!(companion::ProcessStart::original_file_name as u8, COMPANION_BASE);
    assert_eq!(def.companion_field(hashes).map(|f| f.name), Some("hashes"));
    assert_eq!(def.resolve(hashes).map(|f| f.origin), Some(Origin::Companion));
    assert_eq!(def.resolve(5).map(|f| (f.name, f.origin)), Some(("image_path", Origin::Kernel)));
    assert_eq!(def.field(hashes), None, "the kernel space stops at the kernel fields");
    assert_eq!(def.companion_field(5), None, "the companion space starts at 128");
    assert_eq!(def.resolve_index("hashes"), Some(hashes));
    assert_eq!(def.field_index("hashes"), None);
    assert_eq!(SCHEMA.field(EventKind::ProcessStart, hashes).map(|f| f.name), Some("hashes"));
    assert_eq!(SCHEMA.field(EventKind::ProcessStart, COMPANION_BASE + def.companion_count()), None);
    let load = EventKind::ImageLoad.def();
    assert_eq!(load.resolve(companion::ImageLoad::signed as u8).map(|f| f.ty), Some(FieldType::Bool));
    assert!(EventKind::LostEvents.def().companion.is_empty());
}

#[test]
fn a_kernel_event_answers_unknown_for_companion_fields_and_absent_for_what_it_lacks() {
    let event = exit(Text::default());
    let user_name = companion::ProcessExit::user_name as u8;
    assert_eq!(event.lookup(user_name), Lookup::Unknown);
    assert_eq!(event.field(user_name), None);
    assert_eq!(event.lookup(field::ProcessExit::image_path as u8), Lookup::Absent);
    assert_eq!(event.lookup(field::ProcessExit::start_key as u8), Lookup::Value(Value::U64(9)));
    assert_eq!(event.lookup(12), Lookup::Absent, "past the kernel fields");
    assert_eq!(event.lookup(user_name + 1), Lookup::Absent, "past the companion fields");
    assert_eq!(event.lookup(u8::MAX), Lookup::Absent);
}

#[test]
fn an_event_supplies_exactly_the_fields_its_kind_declares() {
    let event = exit(Text::default());
    assert_eq!(event.field(0), Some(Value::U32(4)));
    assert_eq!(event.field(1), Some(Value::U32(0xC000_0005)));
    assert_eq!(event.field(2), Some(Value::Time(7)));
    assert_eq!(event.field(3), Some(Value::Str(Text::default())));
    assert_eq!(event.field(4), None);
    assert_eq!(event.field(5), Some(Value::U64(9)));
    assert_eq!(event.field(7), Some(Value::U32(0)));
    assert_eq!(event.field(8), Some(Value::Ids(Ids::EMPTY)));
    assert_eq!(event.field(11), Some(Value::U32(0)));
    assert_eq!(event.field(12), None);
    for kind in EventKind::ALL {
        for f in kind.def().fields.iter().chain(kind.def().companion) {
            assert!(!f.ecs.is_empty(), "{}.{} has no ECS name", kind.name(), f.name);
        }
    }
}

#[test]
fn optional_fields_are_declared_where_the_kernel_may_not_have_a_value() {
    let optional = |kind: EventKind| -> std::vec::Vec<&str> {
        kind.def().fields.iter().filter(|f| f.optional).map(|f| f.name).collect()
    };
    assert_eq!(
        optional(EventKind::ProcessStart),
        [
            "image_path",
            "command_line",
            "parent_start_key",
            "parent_image_path",
            "parent_command_line",
            "user_sid",
            "logon_id",
            "integrity_level",
            "elevation_type",
            "parent_user_sid"
        ]
    );
    assert_eq!(optional(EventKind::ProcessExit), ["image_path", "user_sid"]);
    assert_eq!(
        optional(EventKind::ImageLoad),
        ["image_path", "process_image_path", "process_start_key", "user_sid"]
    );
    assert!(optional(EventKind::LostEvents).is_empty() && optional(EventKind::ContentChanged).is_empty());
    assert_eq!(EventKind::ProcessExit.def().optional_mask(), 0b101_0000);
}

#[test]
fn string_limits_are_the_documented_ones() {
    let max =
        |kind: EventKind, name: &str| kind.def().fields.iter().find(|f| f.name == name).map(|f| f.max_units);
    assert_eq!(max(EventKind::ProcessStart, "image_path"), Some(32767));
    assert_eq!(max(EventKind::ProcessStart, "parent_image_path"), Some(limits::TABLE_IMAGE_PATH_UNITS));
    assert_eq!(max(EventKind::ProcessStart, "parent_command_line"), Some(limits::TABLE_COMMAND_LINE_UNITS));
    assert_eq!(max(EventKind::ProcessStart, "user_sid"), Some(183));
    assert_eq!(max(EventKind::ProcessStart, "rule_name"), Some(limits::RULE_NAME_UNITS));
    assert_eq!(max(EventKind::ImageLoad, "process_image_path"), Some(limits::TABLE_IMAGE_PATH_UNITS));
    assert_eq!(max(EventKind::ProcessStart, "pid"), Some(0));
}

#[test]
fn the_verdict_fills_exactly_the_fields_declared_from_it() {
    let name: [u16; 2] = [0x72, 0x31];
    let (matched, undecided) = ([7u32, 9], [11u32]);
    let verdict = Verdict {
        rule_name: Text::wide(&name),
        matched_ids: Ids::new(&matched),
        matched_rest: 3,
        undecided_ids: Ids::new(&undecided),
        undecided_rest: 0,
    };
    let mut event = exit(Text::default());
    event.set_verdict(&verdict);
    let filled = match event {
        Event::ProcessExit {
            rule_name,
            matched_ids,
            matched_rest,
            undecided_ids,
            undecided_rest,
            pid,
            ..
        } => Some((
            rule_name,
            matched_ids.iter().collect(),
            matched_rest,
            undecided_ids.iter().collect(),
            undecided_rest,
            pid,
        )),
        _ => None,
    };
    let ids = |ids: &[u32]| ids.to_vec();
    assert_eq!(filled, Some((Text::wide(&name), ids(&matched), 3, ids(&undecided), 0, 4)));
    let mut named = exit(Text::default());
    named.set_verdict(&Verdict::rule(Text::wide(&name)));
    assert_eq!(named, exit(Text::wide(&name)));
    for kind in EventKind::ALL {
        let verdict_fields = kind.def().fields.iter().filter(|f| !f.matchable).count();
        assert_eq!(verdict_fields, 5 * usize::from(kind.def().activity), "{}", kind.name());
    }
    let mut lost = Event::LostEvents {
        count: 1,
        first_sequence: 2,
        last_sequence: 2,
        process_start: 1,
        process_exit: 0,
        image_load: 0,
        content_changed: 0,
    };
    let before = lost;
    lost.set_verdict(&verdict);
    assert_eq!(lost, before);
}

#[test]
fn a_typed_event_rebuilds_from_its_own_fields() {
    let path: [u16; 3] = [0x43, 0x3a, 0x5c];
    let event = Event::ImageLoad {
        pid: 0,
        image_path: Some(Text::wide(&path)),
        image_base: 0xffff_f800_0000_0000,
        image_size: 0x1000,
        signature_level: 12,
        signature_type: 1,
        kernel_image: true,
        time: 1,
        rule_name: Text::default(),
        matched_ids: Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: Ids::EMPTY,
        undecided_rest: 0,
        process_image_path: None,
        process_start_key: None,
        user_sid: None,
        truncated: 0,
    };
    assert_eq!(Event::from_fields(&event), Some(event));
}

/// A source that knows nothing of one kernel field.
struct Forgetful<'a>(Event<'a>, u8);

impl<'a> Fields<'a> for Forgetful<'a> {
    fn kind(&self) -> EventKind {
        self.0.kind()
    }
    fn lookup(&self, index: u8) -> Lookup<'a> {
        if index == self.1 { Lookup::Unknown } else { self.0.lookup(index) }
    }
}

#[test]
fn a_typed_event_is_not_built_from_a_source_that_does_not_know_a_kernel_field() {
    let event = exit(Text::default());
    for index in 0..EventKind::ProcessExit.def().field_count() {
        assert_eq!(Event::from_fields(&Forgetful(event, index)), None, "field {index}");
    }
    assert_eq!(Event::from_fields(&Forgetful(event, COMPANION_BASE)), Some(event));
}
