//! Encoding then decoding is the identity, for every kind and every value.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod common;

use common::{OwnedEvent, encoded, event, wide};
use proptest::prelude::*;
use ringfence_wire::record::{self, EncodeError, MAX_STRING_BYTES, layout};
use ringfence_wire::schema::{COMPANION_BASE, Lookup, field, limits};
use ringfence_wire::{Event, EventKind, Fields, Record, Text, Value};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decoding_an_encoded_event_gives_back_every_field(
        owned in event(), sequence in any::<u64>(), timestamp in any::<u64>()
    ) {
        let event = owned.event();
        let bytes = encoded(&event, sequence, timestamp);
        prop_assert_eq!(bytes.len() % 8, 0);
        let record = Record::new_checked(&bytes).unwrap();
        prop_assert_eq!(record.kind(), owned.kind);
        prop_assert_eq!(record.sequence(), sequence);
        prop_assert_eq!(record.timestamp(), timestamp);
        prop_assert_eq!(record.size(), bytes.len());
        for index in (0..=record.def().field_count()).chain(COMPANION_BASE..=COMPANION_BASE + record.def().companion_count()) {
            prop_assert_eq!(record.lookup(index), event.lookup(index), "field {}", index);
        }
        let absent = owned.values.iter().enumerate().fold(0u32, |m, (i, v)| {
            if *v == common::Owned::Absent { m | 1 << i } else { m }
        });
        prop_assert_eq!(record.absent(), absent);
        prop_assert_eq!(record.event(), event);
        prop_assert_eq!(Event::from_fields(&record), Some(event));
        // The decoded event encodes to the very same bytes.
        prop_assert_eq!(encoded(&record.event(), sequence, timestamp), bytes);
    }

    #[test]
    fn encoding_into_a_short_buffer_names_the_size_and_leaves_the_buffer_alone(
        owned in event(), short_by in 1usize..4096
    ) {
        let event = owned.event();
        let needed = record::encoded_len(&event).unwrap();
        let available = needed.saturating_sub(short_by);
        let mut buf = vec![0xA5u8; available];
        prop_assert_eq!(
            record::encode(&event, 1, 2, &mut buf),
            Err(EncodeError::BufferTooSmall { needed, available })
        );
        prop_assert!(buf.iter().all(|b| *b == 0xA5));
    }

    #[test]
    fn encoding_into_a_presized_buffer_gives_the_same_bytes_and_refuses_any_other_size(
        owned in event(), off_by in 1usize..64
    ) {
        let event = owned.event();
        let bytes = encoded(&event, 3, 4);
        let mut exact = vec![0xA5u8; bytes.len()];
        prop_assert_eq!(record::encode_sized(&event, 3, 4, &mut exact), Ok(()));
        prop_assert_eq!(&exact, &bytes);
        for given in [bytes.len() - off_by.min(bytes.len()), bytes.len() + off_by] {
            let mut other = vec![0xA5u8; given];
            prop_assert_eq!(
                record::encode_sized(&event, 3, 4, &mut other),
                Err(EncodeError::WrongSize { given })
            );
        }
    }
}

#[test]
fn every_kind_round_trips_with_empty_and_longest_strings() {
    let longest = vec![0xDFFFu16; MAX_STRING_BYTES / 2];
    for kind in EventKind::ALL {
        for text in [&[][..], &longest[..]] {
            let owned = OwnedEvent::uniform(*kind, 0xFFFF_FFFF, text);
            let bytes = encoded(&owned.event(), u64::MAX, 0);
            let record = Record::new_checked(&bytes).unwrap();
            assert_eq!(record.event(), owned.event(), "{}", kind.name());
        }
    }
}

#[test]
fn unpaired_surrogates_survive_the_round_trip_unit_for_unit() {
    let units = [0xD800, 0x0041, 0xDC00, 0xDBFF, 0xDFFF, 0xD800];
    let owned = OwnedEvent::uniform(EventKind::ImageLoad, 3, &units);
    let bytes = encoded(&owned.event(), 9, 9);
    let record = Record::new_checked(&bytes).unwrap();
    let image_path = ringfence_wire::schema::field::ImageLoad::image_path as u8;
    let text = record.field(image_path).unwrap().as_text().unwrap();
    assert_eq!(text.units().collect::<Vec<_>>(), units);
    let chars: Vec<_> = text.chars().collect();
    assert_eq!(chars, [Err(0xD800), Ok('A'), Err(0xDC00), Ok('\u{10FFFF}'), Err(0xD800)]);
}

fn start<'a>(command_line: &'a [u16], parent_command_line: &'a [u16], truncated: u32) -> Event<'a> {
    Event::ProcessStart {
        pid: 1,
        parent_pid: 2,
        creating_pid: 2,
        creating_tid: 3,
        session_id: 1,
        image_path: None,
        command_line: Some(Text::wide(command_line)),
        start_key: 4,
        create_time: 5,
        image_name_available: true,
        rule_name: Text::default(),
        matched_ids: ringfence_wire::text::Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: ringfence_wire::text::Ids::EMPTY,
        undecided_rest: 0,
        parent_start_key: Some(6),
        parent_image_path: None,
        parent_command_line: Some(Text::wide(parent_command_line)),
        user_sid: None,
        logon_id: None,
        integrity_level: None,
        elevation_type: None,
        parent_user_sid: None,
        truncated,
    }
}

#[test]
fn a_string_one_unit_over_its_fields_limit_is_refused_naming_the_field() {
    let over_unicode_string = vec![0x41u16; MAX_STRING_BYTES / 2 + 1];
    let event = start(&over_unicode_string, &[], 0);
    let error = EncodeError::StringTooLong { field: 6, bytes: MAX_STRING_BYTES + 2, max: MAX_STRING_BYTES };
    assert_eq!(record::encoded_len(&event), Err(error));
    let mut buf = vec![0u8; 1 << 18];
    assert_eq!(record::encode(&event, 0, 0, &mut buf), Err(error));
    let table_limit = usize::from(limits::TABLE_COMMAND_LINE_UNITS);
    let over_table = vec![0x42u16; table_limit + 1];
    let event = start(&[], &over_table, 0);
    let field = field::ProcessStart::parent_command_line as u8;
    assert_eq!(
        record::encoded_len(&event),
        Err(EncodeError::StringTooLong { field, bytes: 2 * table_limit + 2, max: 2 * table_limit })
    );
    assert!(record::encoded_len(&start(&[], &over_table[..table_limit], 0)).is_ok(), "exactly at the limit");
}

#[test]
fn a_truncated_bit_is_encoded_only_for_a_string_at_its_limit() {
    let field = field::ProcessStart::parent_command_line as u8;
    let at_limit = vec![0x43u16; usize::from(limits::TABLE_COMMAND_LINE_UNITS)];
    let cut = start(&[], &at_limit, 1 << field);
    let bytes = encoded(&cut, 1, 1);
    assert_eq!(Record::new_checked(&bytes).map(|r| r.event()), Ok(cut));
    let short = start(&[], &at_limit[..10], 1 << field);
    assert_eq!(record::encoded_len(&short), Err(EncodeError::Truncation { field }));
    let on_a_scalar = start(&[], &[], 1);
    assert_eq!(record::encoded_len(&on_a_scalar), Err(EncodeError::Truncation { field: 0 }));
    let on_an_absent_string = start(&[], &[], 1 << field::ProcessStart::image_path as u8);
    assert_eq!(record::encoded_len(&on_an_absent_string), Err(EncodeError::Truncation { field: 5 }));
}

#[test]
fn absent_fields_are_zero_slots_marked_in_the_absent_bitmap_and_take_no_string_bytes() {
    let event = start(&[], &[], 0);
    let bytes = encoded(&event, 1, 1);
    let record = Record::new_checked(&bytes).unwrap();
    let absent = [5u32, 12, 14, 15, 16, 17, 18].iter().fold(0u32, |m, i| m | 1 << i);
    assert_eq!(record.absent(), absent);
    assert_eq!(u32::from_le_bytes(bytes[layout::ABSENT..layout::ABSENT + 4].try_into().unwrap()), absent);
    for index in [5usize, 12, 14, 15, 16, 17, 18] {
        let at = layout::HEADER_LEN + 8 * index;
        assert_eq!(bytes[at..at + 8], [0; 8], "slot {index}");
    }
    // Header, 24 slots, no string bytes at all (the present strings and id lists are empty).
    assert_eq!(bytes.len(), 32 + 8 * 24);
    assert_eq!(record.lookup(5), Lookup::Absent);
    assert_eq!(record.lookup(6), Lookup::Value(Value::Str(Text::default())));
    assert_eq!(record.lookup(11), Lookup::Value(Value::U64(6)));
    let hashes = ringfence_wire::schema::companion::ProcessStart::hashes as u8;
    assert_eq!(record.lookup(hashes), Lookup::Unknown, "only user mode computes hashes");
    assert_eq!(record.event(), event);
}

#[test]
fn a_record_decoded_from_bytes_reencodes_from_its_byte_view() {
    // Strings taken from a decoded record are byte views, not `&[u16]`: the
    // encoder must copy them as they are.
    let owned = OwnedEvent::uniform(EventKind::ProcessStart, 7, &wide("\\Device\\HarddiskVolume3\\x.exe"));
    let first = encoded(&owned.event(), 1, 1);
    let record = Record::new_checked(&first).unwrap();
    let image_path = record.field(field::ProcessStart::image_path as u8).unwrap().as_text().unwrap();
    assert!(image_path.as_le_bytes().is_some());
    assert_eq!(encoded(&record.event(), 1, 1), first);
}
