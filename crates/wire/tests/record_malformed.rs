//! Every way a record can be malformed, each with the exact error it gets.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod common;

use common::{encoded, wide};
use ringfence_wire::record::{DecodeError, DecodeErrorKind as E, MAX_STRING_BYTES, layout};
use ringfence_wire::{Event, EventKind, Record, Text};

// The base record: a ProcessStart whose slots end at 120, image path at
// 120..136, command line at 136..142, empty rule name at 142, two bytes of
// padding, 144 bytes in all.
const IMAGE_PATH_SLOT: usize = 32 + 8 * 5;
const COMMAND_LINE_SLOT: usize = 32 + 8 * 6;
const IMAGE_NAME_AVAILABLE_SLOT: usize = 32 + 8 * 9;
const RULE_NAME_SLOT: usize = 32 + 8 * 10;
const DATA_END: usize = 142;
const LEN: usize = 144;

fn base() -> Vec<u8> {
    let path = wide("C:\\a.exe");
    let args = wide("a b");
    let event = Event::ProcessStart {
        pid: 4242,
        parent_pid: 4,
        creating_pid: 4,
        creating_tid: 8,
        session_id: 1,
        image_path: Text::wide(&path),
        command_line: Text::wide(&args),
        start_key: 77,
        create_time: 133_000_000_000_000_000,
        image_name_available: true,
        rule_name: Text::default(),
    };
    let bytes = encoded(&event, 5, 6);
    assert_eq!(bytes.len(), LEN);
    assert!(Record::new_checked(&bytes).is_ok());
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
    for size in [0u32, 8, 24, 31, 33, 140, 148, u32::MAX] {
        assert_eq!(error(&with_u32(layout::SIZE, size)), at(0, E::BadSize { size }), "size {size}");
    }
}

#[test]
fn a_size_past_the_buffer_is_truncation() {
    assert_eq!(error(&with_u32(layout::SIZE, 152)), at(LEN, E::Truncated { needed: 152, available: LEN }));
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
    for found in [0u16, 2, u16::MAX] {
        assert_eq!(
            error(&with_u16(layout::SCHEMA_VERSION, found)),
            at(layout::SCHEMA_VERSION, E::SchemaVersion { found, expected: 1 })
        );
    }
}

#[test]
fn a_field_count_other_than_the_kinds_is_rejected() {
    for found in [0u16, 10, 12, 0xFFFF] {
        assert_eq!(
            error(&with_u16(layout::FIELD_COUNT, found)),
            at(layout::FIELD_COUNT, E::FieldCount { kind: EventKind::ProcessStart, found, expected: 11 })
        );
    }
}

#[test]
fn set_flags_or_reserved_bits_are_rejected() {
    assert_eq!(error(&with_u16(layout::FLAGS, 1)), at(layout::FLAGS, E::Reserved));
    assert_eq!(error(&with_u16(layout::FLAGS, 0x8000)), at(layout::FLAGS, E::Reserved));
    assert_eq!(error(&with_u32(layout::RESERVED, 1)), at(layout::RESERVED, E::Reserved));
    assert_eq!(error(&with_u32(layout::RESERVED, 0x8000_0000)), at(layout::RESERVED, E::Reserved));
}

#[test]
fn a_size_too_small_for_the_slots_is_rejected() {
    for size in [32usize, 112] {
        let mut bytes = with_u32(layout::SIZE, u32::try_from(size).unwrap());
        bytes.truncate(size);
        assert_eq!(error(&bytes), at(layout::FIELD_COUNT, E::SlotsOutOfBounds { field_count: 11 }));
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
        (112, 16),           // overlapping the last slot
        (122, 16),           // a gap after the slots
        (136, 16),           // past the end
        (144, 2),            // starting at the end
        (0xFFFF_FFF0, 0x20), // offset + len past 4 GiB
        (120, 0xFFFF_FFFE),  // longer than the record
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
        error(&with_string_slot(COMMAND_LINE_SLOT, 120, 6)),
        at(COMMAND_LINE_SLOT, E::StringOutOfBounds { field: 6 })
    );
    // The empty rule name placed anywhere but right after the command line.
    assert_eq!(
        error(&with_string_slot(RULE_NAME_SLOT, 120, 0)),
        at(RULE_NAME_SLOT, E::StringOutOfBounds { field: 10 })
    );
}

#[test]
fn a_string_of_odd_byte_length_is_rejected() {
    assert_eq!(
        error(&with_string_slot(IMAGE_PATH_SLOT, 120, 15)),
        at(IMAGE_PATH_SLOT, E::StringOddLength { field: 5 })
    );
}

#[test]
fn a_string_longer_than_a_unicode_string_is_out_of_bounds() {
    let longest = vec![0x41u16; MAX_STRING_BYTES / 2];
    let event = Event::ProcessExit { pid: 1, exit_status: 0, time: 2, rule_name: Text::wide(&longest) };
    let mut bytes = encoded(&event, 0, 0);
    assert_eq!(bytes.len(), 64 + 0x10000);
    assert!(Record::new_checked(&bytes).is_ok());
    // One unit more, taking the two padding bytes: inside the record, but over the limit.
    bytes[56..64].copy_from_slice(&(64u64 | 0x1_0000 << 32).to_le_bytes());
    assert_eq!(error(&bytes), at(56, E::StringOutOfBounds { field: 3 }));
}

#[test]
fn non_zero_padding_is_rejected() {
    assert_eq!(error(&with(LEN - 1, &[1])), at(DATA_END, E::Padding));
    assert_eq!(error(&with(DATA_END, &[0x80])), at(DATA_END, E::Padding));
}

#[test]
fn slack_past_the_padding_is_rejected() {
    let mut bytes = with_u32(layout::SIZE, 152);
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
