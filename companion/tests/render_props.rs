//! Properties of rendering over arbitrary events: every line is JSON, every
//! schema field is found under its ECS name with its value, and escaped text
//! turns back into exactly the original UTF-16 units.

mod common;

use proptest::prelude::*;
use ringfence_companion::text::unescape;
use ringfence_companion::time::rfc3339;
use ringfence_companion::{EventStream, Format, Host, Renderer};
use ringfence_wire::schema::{FieldDef, Lookup};
use ringfence_wire::text::Ids;
use ringfence_wire::{Event, EventKind, FieldType, Fields, SCHEMA, Text, Value};
use serde_json::Value as Json;

#[derive(Clone, Debug)]
enum Owned {
    U32(u32),
    U64(u64),
    Bool(bool),
    Time(u64),
    Str(Vec<u16>),
    Ids(Vec<u32>),
    Absent,
}

/// An event as owned values, in schema field order.
#[derive(Clone, Debug)]
struct OwnedEvent {
    kind: EventKind,
    values: Vec<Owned>,
}

impl<'a> Fields<'a> for &'a OwnedEvent {
    fn kind(&self) -> EventKind {
        self.kind
    }

    fn lookup(&self, index: u8) -> Lookup<'a> {
        let Some(value) = self.values.get(usize::from(index)) else { return Lookup::Absent };
        Lookup::Value(match value {
            Owned::U32(v) => Value::U32(*v),
            Owned::U64(v) => Value::U64(*v),
            Owned::Bool(v) => Value::Bool(*v),
            Owned::Time(v) => Value::Time(*v),
            Owned::Str(v) => Value::Str(Text::wide(v)),
            Owned::Ids(v) => Value::Ids(Ids::new(v)),
            Owned::Absent => return Lookup::Absent,
        })
    }
}

/// UTF-16 units biased towards the interesting ones: surrogates, backslashes, controls.
fn units() -> impl Strategy<Value = Vec<u16>> {
    let unit = prop_oneof![
        4 => 0x20u16..0x7f,
        2 => 0xD800u16..0xE000,
        1 => Just(u16::from(b'\\')),
        1 => Just(u16::from(b'u')),
        1 => Just(u16::from(b'{')),
        1 => 0u16..0x20,
        2 => any::<u16>(),
    ];
    prop::collection::vec(unit, 0..24)
}

fn value(field: &FieldDef) -> BoxedStrategy<Owned> {
    let present = match field.ty {
        // A truncation bitmap is valid only for strings at their limit: none here.
        FieldType::U32 if field.truncation => Just(Owned::U32(0)).boxed(),
        FieldType::U32 => any::<u32>().prop_map(Owned::U32).boxed(),
        FieldType::U64 => any::<u64>().prop_map(Owned::U64).boxed(),
        FieldType::Bool => any::<bool>().prop_map(Owned::Bool).boxed(),
        FieldType::Time => any::<u64>().prop_map(Owned::Time).boxed(),
        FieldType::Str => units().prop_map(Owned::Str).boxed(),
        FieldType::Ids => {
            prop::collection::vec(any::<u32>(), 0..=usize::from(field.max_units)).prop_map(Owned::Ids).boxed()
        }
    };
    if field.optional { prop_oneof![3 => present, 1 => Just(Owned::Absent)].boxed() } else { present }
}

/// An arbitrary event of any kind; an id list's rest count (the field after
/// it) is above zero only when the list is full, as the wire requires.
fn event() -> impl Strategy<Value = OwnedEvent> {
    prop::sample::select(EventKind::ALL).prop_flat_map(|kind| {
        let fields: Vec<_> = kind.def().fields.iter().map(value).collect();
        fields.prop_map(move |mut values| {
            for (i, field) in kind.def().fields.iter().enumerate() {
                if matches!(&values[i], Owned::Ids(ids) if ids.len() < usize::from(field.max_units)) {
                    values[i + 1] = Owned::U32(0);
                }
            }
            OwnedEvent { kind, values }
        })
    })
}

fn at<'j>(doc: &'j Json, ecs: &str) -> Option<&'j Json> {
    ecs.split('.').try_fold(doc, |node, key| node.get(key))
}

fn encode_all(events: &[OwnedEvent], first_sequence: u64) -> Vec<u8> {
    let mut batch = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let typed = Event::from_fields(&e).expect("every field has its schema type");
        common::push(&mut batch, &typed, first_sequence + i as u64, common::T0 + i as u64);
    }
    batch
}

fn check_field(doc: &Json, escaped: &[&str], def: &FieldDef, original: &Owned) {
    let ecs = def.ecs;
    let found = at(doc, ecs);
    match original {
        Owned::U32(0) if !def.matchable => assert_eq!(found, None, "{ecs}: a zero count is left out"),
        Owned::Ids(ids) if ids.is_empty() => assert_eq!(found, None, "{ecs}: an empty id list is left out"),
        Owned::Ids(ids) => {
            let found: Option<Vec<u64>> =
                found.and_then(Json::as_array).map(|a| a.iter().filter_map(Json::as_u64).collect());
            assert_eq!(found, Some(ids.iter().map(|i| u64::from(*i)).collect()), "{ecs}");
        }
        Owned::U32(v) => assert_eq!(found.and_then(Json::as_u64), Some(u64::from(*v)), "{ecs}"),
        Owned::U64(v) => assert_eq!(found.and_then(Json::as_u64), Some(*v), "{ecs}"),
        Owned::Bool(v) => assert_eq!(found.and_then(Json::as_bool), Some(*v), "{ecs}"),
        Owned::Time(v) => match rfc3339(*v) {
            Some(t) => assert_eq!(found.and_then(Json::as_str), Some(t.as_str()), "{ecs}"),
            None => assert_eq!(found, Some(&Json::Null), "{ecs}"),
        },
        Owned::Str(units) if units.is_empty() => assert_eq!(found, None, "{ecs}: empty strings are left out"),
        Owned::Absent => assert_eq!(found, None, "{ecs}: absent values are left out"),
        Owned::Str(units) => {
            let text = found.and_then(Json::as_str).unwrap_or_else(|| panic!("{ecs} missing"));
            let back = if escaped.contains(&ecs) {
                unescape(text).unwrap()
            } else {
                assert!(String::from_utf16(units).is_ok(), "{ecs}: invalid UTF-16 must be escaped");
                text.encode_utf16().collect()
            };
            assert_eq!(&back, units, "{ecs}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_field_of_every_event_renders_under_its_ecs_name_and_reverses(
        events in prop::collection::vec(event(), 1..6),
        first in 0u64..u64::MAX / 2,
    ) {
        let batch = encode_all(&events, first);
        let mut stream = EventStream::new(Host { name: "prop".into() }, Format::Json);
        let (mut out, mut diag) = (Vec::new(), Vec::new());
        let outcome = stream.render_batch(&batch, &mut out, &mut diag).unwrap();
        prop_assert_eq!(outcome.rendered, events.len());
        prop_assert!(outcome.damage.is_none());
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        prop_assert_eq!(lines.len(), events.len());
        for (i, (line, event)) in lines.iter().zip(&events).enumerate() {
            let doc: Json = serde_json::from_str(line).unwrap();
            prop_assert_eq!(at(&doc, "event.sequence").and_then(Json::as_u64), Some(first + i as u64));
            prop_assert_eq!(at(&doc, "event.action").and_then(Json::as_str), Some(event.kind.name()));
            let escaped: Vec<&str> = at(&doc, "ringfence.escaped")
                .and_then(Json::as_array)
                .map(|a| a.iter().filter_map(Json::as_str).collect())
                .unwrap_or_default();
            for (def, original) in SCHEMA.kind(event.kind).unwrap().fields.iter().zip(&event.values) {
                if def.truncation {
                    prop_assert_eq!(at(&doc, def.ecs), None, "nothing truncated, nothing listed");
                    continue;
                }
                check_field(&doc, &escaped, def, original);
            }
        }
    }

    #[test]
    fn the_direct_writer_writes_exactly_what_serde_json_writes_for_the_document(
        events in prop::collection::vec(event(), 1..6),
    ) {
        let batch = encode_all(&events, 1);
        let (mut direct, mut via_value) = (Renderer::new(Host { name: "p".into() }), Renderer::new(Host { name: "p".into() }));
        for record in ringfence_wire::batch::Records::new(&batch) {
            let record = record.unwrap();
            let mut line = Vec::new();
            direct.write_json(&record, &mut line).unwrap();
            let expected = serde_json::to_string(&via_value.json(&record)).unwrap() + "\n";
            prop_assert_eq!(String::from_utf8(line).unwrap(), expected);
        }
    }

    #[test]
    fn any_bytes_render_to_json_lines_only(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for format in [Format::Json, Format::Table] {
            let mut stream = EventStream::new(Host { name: "prop".into() }, format);
            let (mut out, mut diag) = (Vec::new(), Vec::new());
            stream.render_batch(&bytes, &mut out, &mut diag).unwrap();
            let text = String::from_utf8(out).unwrap();
            if format == Format::Json {
                for line in text.lines() {
                    prop_assert!(serde_json::from_str::<Json>(line).is_ok(), "{}", line);
                }
            }
        }
    }

    #[test]
    fn a_cut_batch_renders_exactly_its_whole_records_and_reports_the_rest(
        events in prop::collection::vec(event(), 1..5),
        cut in any::<prop::sample::Index>(),
    ) {
        let batch = encode_all(&events, 1);
        let at_byte = cut.index(batch.len());
        let whole = ringfence_wire::batch::Records::new(&batch[..at_byte]).filter(Result::is_ok).count();
        let mut stream = EventStream::new(Host { name: "prop".into() }, Format::Json);
        let (mut out, mut diag) = (Vec::new(), Vec::new());
        let outcome = stream.render_batch(&batch[..at_byte], &mut out, &mut diag).unwrap();
        prop_assert_eq!(outcome.rendered, whole);
        prop_assert_eq!(String::from_utf8(out).unwrap().lines().count(), whole);
        let record_boundary = outcome.damage.is_none();
        let reported = String::from_utf8(diag).unwrap().contains("damaged batch from the driver");
        prop_assert_eq!(record_boundary, !reported);
        prop_assert_eq!(record_boundary, at_byte == 0 || whole == events.len() || {
            let prefix: usize = ringfence_wire::batch::Records::new(&batch)
                .take(whole)
                .map(|r| r.unwrap().size())
                .sum();
            prefix == at_byte
        });
        prop_assert_eq!(stream.summary().damaged_batches, u64::from(!record_boundary));
    }
}

/// A process start from the golden batch's shape with its parent's command
/// line at the table's limit and marked truncated.
#[test]
fn a_truncated_field_is_listed_by_its_ecs_name() {
    let limit = usize::from(ringfence_wire::schema::limits::TABLE_COMMAND_LINE_UNITS);
    let long = vec![u16::from(b'a'); limit];
    let field = ringfence_wire::schema::field::ProcessStart::parent_command_line as u8;
    let event = Event::ProcessStart {
        pid: 8,
        parent_pid: 4,
        creating_pid: 4,
        creating_tid: 1,
        session_id: 0,
        image_path: None,
        command_line: None,
        start_key: 0x0003_0000_0000_0008,
        create_time: common::T0,
        image_name_available: false,
        rule_name: Text::default(),
        matched_ids: ringfence_wire::text::Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: ringfence_wire::text::Ids::EMPTY,
        undecided_rest: 0,
        parent_start_key: Some(0x0003_0000_0000_0004),
        parent_image_path: None,
        parent_command_line: Some(Text::wide(&long)),
        user_sid: None,
        logon_id: None,
        integrity_level: None,
        elevation_type: None,
        parent_user_sid: None,
        truncated: 1 << field,
    };
    let mut batch = Vec::new();
    common::push(&mut batch, &event, 1, common::T0);
    let record = ringfence_wire::Record::new_checked(&batch).unwrap();
    let doc = Renderer::new(Host { name: "h".into() }).json(&record);
    assert_eq!(doc["ringfence"]["truncated"], serde_json::json!(["process.parent.command_line"]));
    assert_eq!(doc["process"]["parent"]["command_line"].as_str().map(str::len), Some(limit));
    assert_eq!(doc["process"].get("executable"), None, "an absent image path is left out");
}

/// The same start key gives the same entity id whichever record carries it:
/// a start, its image loads, its exit and its children's parent.
#[test]
fn entity_ids_join_a_process_across_its_records_and_its_children() {
    let key = 0x0003_0000_0000_1234;
    let renderer = Renderer::new(Host { name: "Golden-Host".into() });
    let same_host = Renderer::new(Host { name: "golden-host".into() });
    let other_host = Renderer::new(Host { name: "other".into() });
    let batch = common::golden_batch();
    let records: Vec<_> = ringfence_wire::batch::Records::new(&batch).filter_map(Result::ok).collect();
    let ids: Vec<_> = records.iter().map(|r| renderer.entity_ids(r)).collect();
    let host = ringfence_companion::enrich::process_guid::HostIdentity::from_host_name("golden-host");
    let own = ringfence_companion::render::entity_id(host, key);
    assert_eq!(own, host.process_guid(key).hex(), "the ProcessGuid's digits");
    assert!(own.ends_with("0003000000001234"), "{own}");
    assert_eq!(ids[0].0.as_deref(), Some(own.as_str()), "the start");
    assert_eq!(ids[1].0.as_deref(), Some(own.as_str()), "its image load");
    assert_eq!(ids[2].1.as_deref(), Some(own.as_str()), "its child's parent");
    assert_eq!(ids[5].0.as_deref(), Some(own.as_str()), "its exit");
    assert_eq!(ids[4], (None, None), "a kernel image belongs to no process");
    assert_eq!(same_host.entity_ids(&records[0]), ids[0], "host names compare case-insensitively");
    assert_ne!(other_host.entity_ids(&records[0]).0, ids[0].0, "another host, another id");
}
