//! Every way a record can be malformed, each with the exact error it gets.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod common;

use common::{encoded, wide};
use ringfence_wire::record::EncodeError;
use ringfence_wire::record::{DecodeError, DecodeErrorKind as E, MAX_STRING_BYTES, layout};
use ringfence_wire::schema::limits;
use ringfence_wire::text::Ids;
use ringfence_wire::{Event, EventKind, Fields, Record, Text, Value};

// The base record: a ProcessStart (24 fields) whose slots end at 224, image
// path at 224..240, command line at 240..246, empty rule name at 246, parent
// image path at 246..248, user SID at 248..262, empty id lists at 262, two
// bytes of padding, 264 bytes in all; parent command line, elevation type and
// parent user absent.
const IMAGE_PATH_SLOT: usize = 32 + 8 * 5;
const COMMAND_LINE_SLOT: usize = 32 + 8 * 6;
const IMAGE_NAME_AVAILABLE_SLOT: usize = 32 + 8 * 9;
const RULE_NAME_SLOT: usize = 32 + 8 * 10;
const ELEVATION_TYPE_SLOT: usize = 32 + 8 * 17;
const TRUNCATED_SLOT: usize = 32 + 8 * 19;
const SLOTS_END: u32 = 224;
const DATA_END: usize = 262;
const LEN: usize = 264;
const ABSENT: u32 = 1 << 13 | 1 << 17 | 1 << 18;

fn base() -> Vec<u8> {
    let path = wide("C:\\a.exe");
    let args = wide("a b");
    let parent = wide("p");
    let sid = wide("S-1-5-1");
    let event = Event::ProcessStart {
        pid: 4242,
        parent_pid: 4,
        creating_pid: 4,
        creating_tid: 8,
        session_id: 1,
        image_path: Some(Text::wide(&path)),
        command_line: Some(Text::wide(&args)),
        start_key: 77,
        create_time: 133_000_000_000_000_000,
        image_name_available: true,
        rule_name: Text::default(),
        matched_ids: Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: Ids::EMPTY,
        undecided_rest: 0,
        parent_start_key: Some(9),
        parent_image_path: Some(Text::wide(&parent)),
        parent_command_line: None,
        user_sid: Some(Text::wide(&sid)),
        logon_id: Some(0x3e7),
        integrity_level: Some(0x4000),
        elevation_type: None,
        parent_user_sid: None,
        truncated: 0,
    };
    let bytes = encoded(&event, 5, 6);
    assert_eq!(bytes.len(), LEN);
    let record = Record::new_checked(&bytes).unwrap();
    assert_eq!(record.absent(), ABSENT);
    bytes
}

fn with(offset: usize, value: &[u8]) -> Vec<u8> {
    let mut bytes = base();
    bytes[offset..offset + value.len()].copy_from_slice(value);
    bytes
}

fn with_u16(offset: usize, value: u16) -> Vec<u8> {
    with(offset, &value.to_le_bytes())
}

fn with_u32(offset: usize, value: u32) -> Vec<u8> {
    with(offset, &value.to_le_bytes())
}

fn with_u64(offset: usize, value: u64) -> Vec<u8> {
    with(offset, &value.to_le_bytes())
}

fn with_string_slot(slot: usize, offset: u32, len: u32) -> Vec<u8> {
    with_u64(slot, u64::from(offset) | u64::from(len) << 32)
}

fn error(bytes: &[u8]) -> DecodeError {
    Record::new_checked(bytes).unwrap_err()
}

fn at(offset: usize, kind: E) -> DecodeError {
    DecodeError { offset, kind }
}

#[test]
fn truncation_at_every_byte_names_the_bytes_needed() {
    let bytes = base();
    for cut in 0..LEN {
        let needed = if cut < layout::HEADER_LEN { layout::HEADER_LEN } else { LEN };
        assert_eq!(error(&bytes[..cut]), at(cut, E::Truncated { needed, available: cut }), "cut at {cut}");
    }
}

#[test]
fn a_size_below_the_header_or_off_the_8_byte_grid_is_a_bad_size() {
    for size in [0u32, 8, 24, 31, 33, 260, 268, u32::MAX] {
        assert_eq!(error(&with_u32(layout::SIZE, size)), at(0, E::BadSize { size }), "size {size}");
    }
}

#[test]
fn a_size_past_the_buffer_is_truncation() {
    assert_eq!(error(&with_u32(layout::SIZE, 272)), at(LEN, E::Truncated { needed: 272, available: LEN }));
    let huge = 0xFFFF_FFF8;
    assert_eq!(
        error(&with_u32(layout::SIZE, huge)),
        at(LEN, E::Truncated { needed: 0xFFFF_FFF8, available: LEN })
    );
}

#[test]
fn an_unknown_kind_is_rejected_with_its_code() {
    for code in [0u16, 6, 0x8001, u16::MAX] {
        assert_eq!(error(&with_u16(layout::KIND, code)), at(layout::KIND, E::UnknownKind { code }));
    }
}

#[test]
fn another_schema_version_is_rejected() {
    for found in [0u16, 1, 2, 4, u16::MAX] {
        assert_eq!(
            error(&with_u16(layout::SCHEMA_VERSION, found)),
            at(layout::SCHEMA_VERSION, E::SchemaVersion { found, expected: 3 })
        );
    }
}

#[test]
fn a_field_count_other_than_the_kinds_is_rejected() {
    for found in [0u16, 11, 20, 23, 25, 0xFFFF] {
        assert_eq!(
            error(&with_u16(layout::FIELD_COUNT, found)),
            at(layout::FIELD_COUNT, E::FieldCount { kind: EventKind::ProcessStart, found, expected: 24 })
        );
    }
}

#[test]
fn set_flags_are_rejected() {
    assert_eq!(error(&with_u16(layout::FLAGS, 1)), at(layout::FLAGS, E::Reserved));
    assert_eq!(error(&with_u16(layout::FLAGS, 0x8000)), at(layout::FLAGS, E::Reserved));
}

#[test]
fn an_absent_bit_on_a_required_field_or_past_the_fields_names_that_field() {
    // pid (0), start_key (7), rule_name (10), truncated (19), matched_ids
    // (20), undecided_rest (23) are required; 24 and 31 are not fields of a
    // process start.
    for field in [0u8, 7, 10, 19, 20, 23, 24, 31] {
        assert_eq!(
            error(&with_u32(layout::ABSENT, ABSENT | 1 << field)),
            at(layout::ABSENT, E::NotOptional { field }),
            "bit {field}"
        );
    }
}

#[test]
fn an_absent_field_with_a_non_zero_slot_is_rejected() {
    for raw in [1u64, 1 << 63, u64::from(SLOTS_END)] {
        assert_eq!(
            error(&with_u64(ELEVATION_TYPE_SLOT, raw)),
            at(ELEVATION_TYPE_SLOT, E::AbsentNotZero { field: 17 })
        );
    }
}

#[test]
fn marking_a_present_string_absent_leaves_its_bytes_unaccounted_for() {
    // The slot is not zero, so the record is refused at that slot.
    let bytes = with_u32(layout::ABSENT, ABSENT | 1 << 5);
    assert_eq!(error(&bytes), at(IMAGE_PATH_SLOT, E::AbsentNotZero { field: 5 }));
}

#[test]
fn a_size_too_small_for_the_slots_is_rejected() {
    for size in [32usize, 216] {
        let mut bytes = with_u32(layout::SIZE, u32::try_from(size).unwrap());
        bytes.truncate(size);
        assert_eq!(error(&bytes), at(layout::FIELD_COUNT, E::SlotsOutOfBounds { field_count: 24 }));
    }
}

#[test]
fn a_u32_slot_with_high_bits_or_a_bool_other_than_0_or_1_is_out_of_range() {
    assert_eq!(error(&with_u64(32, 1 << 32)), at(32, E::ScalarOutOfRange { field: 0 }));
    assert_eq!(error(&with_u64(32, u64::MAX)), at(32, E::ScalarOutOfRange { field: 0 }));
    for raw in [2u64, 0xFF, 1 << 32 | 1] {
        assert_eq!(
            error(&with_u64(IMAGE_NAME_AVAILABLE_SLOT, raw)),
            at(IMAGE_NAME_AVAILABLE_SLOT, E::ScalarOutOfRange { field: 9 })
        );
    }
}

#[test]
fn a_string_outside_its_place_is_out_of_bounds() {
    let image_path = at(IMAGE_PATH_SLOT, E::StringOutOfBounds { field: 5 });
    let cases = [
        (0, 16),             // over the header
        (8, 16),             // before the slots
        (216, 16),           // overlapping the last slot
        (226, 16),           // a gap after the slots
        (256, 16),           // past the end
        (264, 2),            // starting at the end
        (0xFFFF_FFF0, 0x20), // offset + len past 4 GiB
        (224, 0xFFFF_FFFE),  // longer than the record
    ];
    for (offset, len) in cases {
        assert_eq!(
            error(&with_string_slot(IMAGE_PATH_SLOT, offset, len)),
            image_path,
            "{offset:#x}+{len:#x}"
        );
    }
}

#[test]
fn strings_must_follow_each_other_in_field_order() {
    // The command line pointing back at the image path: in bounds, but aliased.
    assert_eq!(
        error(&with_string_slot(COMMAND_LINE_SLOT, SLOTS_END, 6)),
        at(COMMAND_LINE_SLOT, E::StringOutOfBounds { field: 6 })
    );
    // The empty rule name placed anywhere but right after the command line.
    assert_eq!(
        error(&with_string_slot(RULE_NAME_SLOT, SLOTS_END, 0)),
        at(RULE_NAME_SLOT, E::StringOutOfBounds { field: 10 })
    );
}

#[test]
fn a_string_of_odd_byte_length_is_rejected() {
    assert_eq!(
        error(&with_string_slot(IMAGE_PATH_SLOT, SLOTS_END, 15)),
        at(IMAGE_PATH_SLOT, E::StringOddLength { field: 5 })
    );
}

fn exit_with_user(sid: &[u16]) -> Vec<u8> {
    let event = Event::ProcessExit {
        pid: 1,
        exit_status: 0,
        time: 2,
        rule_name: Text::default(),
        matched_ids: Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: Ids::EMPTY,
        undecided_rest: 0,
        image_path: None,
        start_key: 3,
        user_sid: Some(Text::wide(sid)),
        truncated: 0,
    };
    encoded(&event, 0, 0)
}

#[test]
fn a_string_longer_than_its_fields_maximum_is_too_long() {
    // A user SID is at most 183 units (366 bytes): slots end at 128, the SID
    // ends at 494, two bytes of padding.
    let longest = vec![0x31u16; usize::from(limits::SID_TEXT_UNITS)];
    let mut bytes = exit_with_user(&longest);
    assert_eq!(bytes.len(), 496);
    assert!(Record::new_checked(&bytes).is_ok());
    // One unit more, taking the two padding bytes: inside the record, but over the limit.
    let slot = 32 + 8 * 6;
    bytes[slot..slot + 8].copy_from_slice(&(128u64 | 368 << 32).to_le_bytes());
    assert_eq!(error(&bytes), at(slot, E::StringTooLong { field: 6, bytes: 368, max: 366 }));
}

#[test]
fn a_string_longer_than_a_unicode_string_is_too_long() {
    let longest = vec![0x41u16; MAX_STRING_BYTES / 2];
    let event = Event::ImageLoad {
        pid: 1,
        image_path: Some(Text::wide(&longest)),
        image_base: 0,
        image_size: 0,
        signature_level: 0,
        signature_type: 0,
        kernel_image: false,
        time: 0,
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
    let mut bytes = encoded(&event, 0, 0);
    // Slots end at 168; the path takes 0xFFFE bytes, then 2 bytes of padding.
    assert_eq!(bytes.len(), 168 + 0xFFFE + 2);
    assert!(Record::new_checked(&bytes).is_ok());
    // One unit more, taking the padding: inside the record, but over the limit.
    bytes[40..48].copy_from_slice(&(168u64 | 0x1_0000 << 32).to_le_bytes());
    assert_eq!(error(&bytes), at(40, E::StringTooLong { field: 1, bytes: 0x1_0000, max: MAX_STRING_BYTES }));
}

#[test]
fn a_truncated_bit_must_name_a_present_string_at_its_maximum() {
    // The image path (5) is 8 units, far below its maximum; pid (0) is a
    // scalar; the parent command line (13) is absent; 20 is an id list (never
    // cut); 24 is not a field.
    for field in [5u8, 0, 13, 20, 24, 31] {
        assert_eq!(
            error(&with_u64(TRUNCATED_SLOT, 1 << field)),
            at(TRUNCATED_SLOT, E::Truncation { field }),
            "bit {field}"
        );
    }
    let longest = vec![0x31u16; usize::from(limits::SID_TEXT_UNITS)];
    let mut bytes = exit_with_user(&longest);
    let truncated = 32 + 8 * 7;
    bytes[truncated..truncated + 8].copy_from_slice(&(1u64 << 6).to_le_bytes());
    let record = Record::new_checked(&bytes).unwrap();
    assert_eq!(record.field(7), Some(Value::U32(1 << 6)), "a SID at its maximum may be marked");
}

#[test]
fn non_zero_padding_is_rejected() {
    assert_eq!(error(&with(LEN - 1, &[1])), at(DATA_END, E::Padding));
    assert_eq!(error(&with(DATA_END, &[0x80])), at(DATA_END, E::Padding));
}

#[test]
fn slack_past_the_padding_is_rejected() {
    let mut bytes = with_u32(layout::SIZE, 272);
    bytes.extend_from_slice(&[0; 8]);
    assert_eq!(error(&bytes), at(DATA_END, E::Padding));
}

#[test]
fn bytes_after_one_record_are_rejected_by_new_checked_and_returned_by_parse_prefix() {
    let mut bytes = base();
    bytes.extend_from_slice(&base());
    assert_eq!(error(&bytes), at(LEN, E::Padding));
    let (record, rest) = Record::parse_prefix(&bytes).unwrap();
    assert_eq!(record.size(), LEN);
    assert_eq!(rest, &base()[..]);
}

#[test]
fn a_valid_record_decodes_at_any_address() {
    // Records are read byte-wise: an odd start address is not an error.
    let mut shifted = vec![0u8; 1];
    shifted.extend_from_slice(&base());
    let record = Record::new_checked(&shifted[1..]).unwrap();
    assert_eq!(record.sequence(), 5);
    assert_eq!(record.timestamp(), 6);
}

// An exit record with id lists: 12 slots end at 128, the matched ids at
// 128..128 + 4n, the undecided ids after them, then padding.
const MATCHED_SLOT: usize = 32 + 8 * 8;
const UNDECIDED_SLOT: usize = 32 + 8 * 10;

fn exit_with_ids(matched: &[u32], undecided: &[u32]) -> Event<'static> {
    let (matched, undecided) = (Vec::leak(matched.to_vec()), Vec::leak(undecided.to_vec()));
    Event::ProcessExit {
        pid: 1,
        exit_status: 0,
        time: 2,
        rule_name: Text::default(),
        matched_ids: Ids::new(matched),
        // A full list counts the ids beyond it; a shorter one has none.
        matched_rest: if matched.len() >= usize::from(limits::RECORD_IDS) { 5 } else { 0 },
        undecided_ids: Ids::new(undecided),
        undecided_rest: 0,
        image_path: None,
        start_key: 3,
        user_sid: None,
        truncated: 0,
    }
}

#[test]
fn id_lists_decode_to_exactly_the_ids_encoded() {
    let bytes = encoded(&exit_with_ids(&[1, 2, 3, 4, 5, 6, 7, 0xFFFF_FFFF], &[9]), 0, 0);
    // 128 + 32 + 4, padded to 168.
    assert_eq!(bytes.len(), 168);
    let record = Record::new_checked(&bytes).unwrap();
    let ids = |i: u8| match record.field(i) {
        Some(Value::Ids(ids)) => ids.iter().collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(ids(8), [1, 2, 3, 4, 5, 6, 7, 0xFFFF_FFFF]);
    assert_eq!(ids(10), [9]);
    assert_eq!((record.field(9), record.field(11)), (Some(Value::U32(5)), Some(Value::U32(0))));
    assert_eq!(&bytes[128..132], &1u32.to_le_bytes());
    assert_eq!(&bytes[160..164], &9u32.to_le_bytes());
}

#[test]
fn a_list_of_more_ids_than_its_bound_is_refused_by_the_encoder() {
    let event = exit_with_ids(&[1; 9], &[]);
    assert_eq!(
        ringfence_wire::record::encoded_len(&event),
        Err(EncodeError::TooManyIds { field: 8, count: 9, max: usize::from(limits::RECORD_IDS) })
    );
}

#[test]
fn a_list_longer_than_its_bound_is_too_many_ids() {
    // Nine ids' worth (36 bytes) in bounds: the matched list swallows the undecided id.
    let mut bytes = encoded(&exit_with_ids(&[1; 8], &[9]), 0, 0);
    bytes[MATCHED_SLOT..MATCHED_SLOT + 8].copy_from_slice(&(128u64 | 36 << 32).to_le_bytes());
    bytes[UNDECIDED_SLOT..UNDECIDED_SLOT + 8].copy_from_slice(&164u64.to_le_bytes());
    assert_eq!(error(&bytes), at(MATCHED_SLOT, E::TooManyIds { field: 8, count: 9, max: 8 }));
}

#[test]
fn a_list_of_part_of_an_id_is_rejected() {
    let bytes = encoded(&exit_with_ids(&[1, 2], &[]), 0, 0);
    for len in [1u64, 2, 6, 7] {
        let mut bytes = bytes.clone();
        bytes[MATCHED_SLOT..MATCHED_SLOT + 8].copy_from_slice(&(128u64 | len << 32).to_le_bytes());
        let bytes_len = usize::try_from(len).unwrap();
        assert_eq!(error(&bytes), at(MATCHED_SLOT, E::IdsLength { field: 8, bytes: bytes_len }), "{len}");
    }
}

#[test]
fn a_list_outside_its_place_is_out_of_bounds() {
    let bytes = encoded(&exit_with_ids(&[1, 2], &[3]), 0, 0);
    // Over the header, a gap after the slots, past the end, past 4 GiB.
    for (offset, len) in [(0u64, 8u64), (132, 8), (136, 8), (0xFFFF_FFFC, 8)] {
        let mut bytes = bytes.clone();
        bytes[MATCHED_SLOT..MATCHED_SLOT + 8].copy_from_slice(&(offset | len << 32).to_le_bytes());
        assert_eq!(error(&bytes), at(MATCHED_SLOT, E::IdsOutOfBounds { field: 8 }), "{offset}+{len}");
    }
    // The undecided list pointing back at the matched one: in bounds, but aliased.
    let mut aliased = bytes.clone();
    aliased[UNDECIDED_SLOT..UNDECIDED_SLOT + 8].copy_from_slice(&(128u64 | 4 << 32).to_le_bytes());
    assert_eq!(error(&aliased), at(UNDECIDED_SLOT, E::IdsOutOfBounds { field: 10 }));
}

#[test]
fn a_truncated_bit_on_a_full_id_list_is_refused() {
    // A list at its bound is not a cut string: its rest is counted instead.
    let mut bytes = encoded(&exit_with_ids(&[1; 8], &[]), 0, 0);
    let truncated = 32 + 8 * 7;
    bytes[truncated..truncated + 8].copy_from_slice(&(1u64 << 8).to_le_bytes());
    assert_eq!(error(&bytes), at(truncated, E::Truncation { field: 8 }));
}

const MATCHED_REST_SLOT: usize = 32 + 8 * 9;
const UNDECIDED_REST_SLOT: usize = 32 + 8 * 11;

#[test]
fn a_rest_after_a_list_below_its_bound_is_refused_by_the_encoder() {
    let mut event = exit_with_ids(&[1, 2], &[]);
    if let Event::ProcessExit { matched_rest, .. } = &mut event {
        *matched_rest = 5;
    }
    assert_eq!(
        ringfence_wire::record::encoded_len(&event),
        Err(EncodeError::RestBeforeFull { field: 8, count: 2, rest: 5 })
    );
    // Full, the same list may count a rest.
    let mut full = exit_with_ids(&[1; 8], &[7]);
    if let Event::ProcessExit { matched_rest, undecided_rest, .. } = &mut full {
        *matched_rest = 5;
        *undecided_rest = 1;
    }
    assert_eq!(
        ringfence_wire::record::encoded_len(&full),
        Err(EncodeError::RestBeforeFull { field: 10, count: 1, rest: 1 })
    );
}

#[test]
fn a_rest_after_a_list_below_its_bound_is_refused_by_the_decoder() {
    let bytes = encoded(&exit_with_ids(&[1, 2], &[3]), 0, 0);
    let mut matched = bytes.clone();
    matched[MATCHED_REST_SLOT..MATCHED_REST_SLOT + 8].copy_from_slice(&3u64.to_le_bytes());
    assert_eq!(error(&matched), at(MATCHED_SLOT, E::RestBeforeFull { field: 8, count: 2, rest: 3 }));
    let mut undecided = bytes.clone();
    undecided[UNDECIDED_REST_SLOT..UNDECIDED_REST_SLOT + 8]
        .copy_from_slice(&u64::from(u32::MAX).to_le_bytes());
    assert_eq!(
        error(&undecided),
        at(UNDECIDED_SLOT, E::RestBeforeFull { field: 10, count: 1, rest: u32::MAX })
    );
    // An empty list is below its bound too.
    let empty = encoded(&exit_with_ids(&[], &[]), 0, 0);
    let mut rest = empty.clone();
    rest[MATCHED_REST_SLOT..MATCHED_REST_SLOT + 8].copy_from_slice(&1u64.to_le_bytes());
    assert_eq!(error(&rest), at(MATCHED_SLOT, E::RestBeforeFull { field: 8, count: 0, rest: 1 }));
    // A rest beyond u32 is the rest slot's own fault.
    let mut beyond = bytes;
    beyond[MATCHED_REST_SLOT..MATCHED_REST_SLOT + 8].copy_from_slice(&(1u64 << 32).to_le_bytes());
    assert_eq!(error(&beyond), at(MATCHED_REST_SLOT, E::ScalarOutOfRange { field: 9 }));
}
