//! Encoding then decoding is the identity, for every kind and every value.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod common;

use common::{OwnedEvent, encoded, event, wide};
use proptest::prelude::*;
use ringfence_wire::record::{self, EncodeError, MAX_STRING_BYTES};
use ringfence_wire::{Event, EventKind, Fields, Record, Text};

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
        for index in 0..=record.def().field_count() {
            prop_assert_eq!(record.field(index), event.field(index), "field {}", index);
        }
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

#[test]
fn a_string_one_unit_over_the_limit_is_refused_naming_the_field() {
    let over = vec![0x41u16; MAX_STRING_BYTES / 2 + 1];
    let path = wide("C:\\Windows\\System32\\cmd.exe");
    let event = Event::ProcessStart {
        pid: 1,
        parent_pid: 2,
        creating_pid: 2,
        creating_tid: 3,
        session_id: 1,
        image_path: Text::wide(&path),
        command_line: Text::wide(&over),
        start_key: 4,
        create_time: 5,
        image_name_available: true,
        rule_name: Text::default(),
    };
    let error = EncodeError::StringTooLong { field: 6, bytes: MAX_STRING_BYTES + 2 };
    assert_eq!(record::encoded_len(&event), Err(error));
    let mut buf = vec![0u8; 1 << 18];
    assert_eq!(record::encode(&event, 0, 0, &mut buf), Err(error));
}

#[test]
fn a_record_decoded_from_bytes_reencodes_from_its_byte_view() {
    // Strings taken from a decoded record are byte views, not `&[u16]`: the
    // encoder must copy them as they are.
    let owned = OwnedEvent::uniform(EventKind::ProcessStart, 7, &wide("\\Device\\HarddiskVolume3\\x.exe"));
    let first = encoded(&owned.event(), 1, 1);
    let record = Record::new_checked(&first).unwrap();
    let image_path = record.field(5).unwrap().as_text().unwrap();
    assert!(image_path.as_le_bytes().is_some());
    assert_eq!(encoded(&record.event(), 1, 1), first);
}
