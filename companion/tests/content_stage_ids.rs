//! The rule ids a record carries: the content stage keeps every detection rule
//! the kernel matched, and the ECS document and the table show both lists and
//! their rests.

mod common;

use common::{T0, push, wide};
use ringfence_companion::detection::ContentStage;
use ringfence_companion::{Host, Renderer};
use ringfence_content::v2::Role;
use ringfence_content::v2::build::{ExprSpec, OperatorSpec, PredicateSpec, RuleSpec, ValueSpec, build};
use ringfence_detect::{EventFields, Field, FieldValue};
use ringfence_wire::schema::{COMPANION_BASE, field};
use ringfence_wire::text::Ids;
use ringfence_wire::{Event, EventKind, Record, SCHEMA, Text};
use serde_json::{Value as Json, json};

fn rule(id: u32, field: u8, operator: OperatorSpec, value: &str) -> RuleSpec {
    RuleSpec {
        id,
        kind: EventKind::ProcessStart,
        role: Role::Detection,
        name: format!("rule {id}"),
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

/// Detection 11: Image ends with `\cmd.exe` (the kernel decides it); detection 12:
/// OriginalFileName is `cmd.exe` (only the companion can).
fn stage() -> ContentStage {
    let image = field::ProcessStart::image_path as u8;
    let rules = [
        rule(11, image, OperatorSpec::EndsWith, r"\cmd.exe"),
        rule(12, COMPANION_BASE, OperatorSpec::Equals, "cmd.exe"),
    ];
    ContentStage::new(build(&rules, &SCHEMA, 1).unwrap()).unwrap()
}

/// The companion's view of a process start: its image and OriginalFileName.
struct View {
    image: &'static str,
    original_file_name: &'static str,
}

impl EventFields for View {
    fn kind(&self) -> EventKind {
        EventKind::ProcessStart
    }

    fn field(&self, field: Field) -> FieldValue<'_> {
        match field {
            Field::Image => FieldValue::Text(self.image),
            Field::OriginalFileName => FieldValue::Text(self.original_file_name),
            _ => FieldValue::Absent,
        }
    }
}

/// A process start record whose verdict names `matched` and `undecided` with their rests.
fn record_bytes(
    path: &[u16],
    matched: &[u32],
    matched_rest: u32,
    undecided: &[u32],
    undecided_rest: u32,
) -> Vec<u8> {
    let event = Event::ProcessStart {
        pid: 4242,
        parent_pid: 4,
        creating_pid: 4,
        creating_tid: 8,
        session_id: 1,
        image_path: Some(Text::wide(path)),
        command_line: None,
        start_key: 7,
        create_time: T0,
        image_name_available: true,
        rule_name: Text::default(),
        matched_ids: Ids::new(matched),
        matched_rest,
        undecided_ids: Ids::new(undecided),
        undecided_rest,
        parent_start_key: None,
        parent_image_path: None,
        parent_command_line: None,
        user_sid: None,
        logon_id: None,
        integrity_level: None,
        elevation_type: None,
        parent_user_sid: None,
        truncated: 0,
    };
    let mut batch = Vec::new();
    push(&mut batch, &event, 1, T0);
    batch
}

#[test]
fn a_rule_the_kernel_matched_is_in_the_final_matches_even_where_the_companion_sees_otherwise() {
    let mut stage = stage();
    // The companion's view of the image no longer ends with `\cmd.exe` (say, a path the
    // volume map translated); its OriginalFileName is cmd.exe.
    let view = View { image: r"C:\Windows\notepad.exe", original_file_name: "cmd.exe" };
    let path = wide(r"\Device\HarddiskVolume3\Windows\System32\cmd.exe");
    let bytes = record_bytes(&path, &[11], 0, &[12], 0);
    let record = Record::new_checked(&bytes).unwrap();
    // Positions in the stage's rules (content-id order): 11 is 0, 12 is 1.
    assert_eq!(stage.evaluate(&view, None).matched, [1], "the companion alone matches only 12");
    assert_eq!(stage.evaluate(&view, Some(&record)).matched, [0, 1], "the kernel's 11 is kept");
    // An id this content does not have (another content in the driver) names no rule.
    let bytes = record_bytes(&path, &[99], 0, &[], 0);
    let other = Record::new_checked(&bytes).unwrap();
    assert_eq!(stage.evaluate(&view, Some(&other)).matched, [1]);
    // Nothing matched anywhere: nothing reported.
    let quiet = View { image: r"C:\Windows\notepad.exe", original_file_name: "notepad.exe" };
    let bytes = record_bytes(&path, &[], 0, &[12], 0);
    let none = Record::new_checked(&bytes).unwrap();
    assert_eq!(stage.evaluate(&quiet, Some(&none)).matched, Vec::<usize>::new());
}

fn rules_doc(bytes: &[u8]) -> Option<Json> {
    let record = Record::new_checked(bytes).unwrap();
    let doc = Renderer::new(Host { name: "h".into() }).json(&record);
    doc.get("ringfence").and_then(|r| r.get("rules")).cloned()
}

#[test]
fn the_ecs_document_carries_both_id_lists_and_their_rests() {
    let path = wide(r"C:\Windows\System32\cmd.exe");
    let matched = [5, 100, 101, 102, 103, 104, 105, 106];
    let bytes = record_bytes(&path, &matched, 3, &[7], 0);
    assert_eq!(
        rules_doc(&bytes),
        Some(
            json!({ "matched": [5, 100, 101, 102, 103, 104, 105, 106], "matched_rest": 3, "undecided": [7] })
        )
    );
    let bytes = record_bytes(&path, &[], 0, &[1, 2, 3, 4, 5, 6, 7, 8], 9);
    assert_eq!(
        rules_doc(&bytes),
        Some(json!({ "undecided": [1, 2, 3, 4, 5, 6, 7, 8], "undecided_rest": 9 }))
    );
    // Format 1, or no content: nothing to say, nothing rendered.
    let bytes = record_bytes(&path, &[], 0, &[], 0);
    assert_eq!(rules_doc(&bytes), None);
}

fn table_row(bytes: &[u8]) -> String {
    let record = Record::new_checked(bytes).unwrap();
    let mut out = Vec::new();
    Renderer::new(Host { name: "h".into() }).write_table_row(&record, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn the_table_shows_both_id_lists_and_their_rests() {
    let path = wide(r"C:\Windows\System32\cmd.exe");
    let matched = [5, 100, 101, 102, 103, 104, 105, 106];
    let row = table_row(&record_bytes(&path, &matched, 3, &[7], 0));
    assert!(row.ends_with(" matched=5,100,101,102,103,104,105,106+3 undecided=7\n"), "{row}");
    let row = table_row(&record_bytes(&path, &[], 0, &[1, 2], 0));
    assert!(row.ends_with(" (4) undecided=1,2\n"), "{row}");
    // Nothing to say: neither list appears.
    let row = table_row(&record_bytes(&path, &[], 0, &[], 0));
    assert!(!row.contains("matched=") && !row.contains("undecided="), "{row}");
}
