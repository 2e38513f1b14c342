#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use super::content::load_content_response as lc;
use super::hello::{hello_request as hq, hello_response as hr};
use super::stats::stats_response as st;
use super::*;
use crate::record::{self, MAX_RECORD_BYTES, MAX_STRING_BYTES};
use crate::schema::{Event, EventKind, SCHEMA_VERSION};
use crate::text::Text;
use std::vec;
use std::vec::Vec;

fn hello_response() -> HelloResponse {
    HelloResponse {
        protocol_version: PROTOCOL_VERSION,
        schema_version: SCHEMA_VERSION,
        capabilities: Capabilities::ALL,
        queue_bytes: QUEUE_BYTES_DEFAULT,
        max_record_bytes: u32::try_from(MAX_RECORD_BYTES).unwrap(),
        driver_version: driver_version(0, 1, 0),
    }
}

fn load_rejected() -> LoadContentResponse {
    LoadContentResponse {
        accepted: false,
        content_version: 7,
        active_version: 6,
        reason: 12,
        offset: 0x140,
        args: [3, 21, 20, 0xFFFF_FFFF],
    }
}

fn stats() -> StatsResponse {
    let mut stats = StatsResponse {
        content_loads_accepted: 2,
        content_loads_rejected: 1,
        active_content_version: 6,
        queue_capacity_bytes: QUEUE_BYTES_MIN,
        queue_used_bytes: 4096,
        queue_high_water_bytes: 8192,
        records_delivered: 99,
        notes: Notes::QUEUE_BYTES_CLAMPED | Notes::PROCESS_TABLE_BYTES_PARAM_INVALID,
        process_table: TableCounters {
            capacity_bytes: PROCESS_TABLE_BYTES_DEFAULT,
            used_bytes: 600 << 10,
            entries: 310,
            max_entries: 4096,
            inserts: 900,
            evictions: 3,
            truncations: 2,
            misses: 40,
            failures: 1,
        },
        volume_map: VolumeMapCounters { sets: 3, refused: 1, entries: 2, bytes: 112 },
        content: ContentCounters { format: 2, scratch_failures: 4, evaluation_errors: 1 },
        ..StatsResponse::default()
    };
    for (i, counters) in stats.kinds.iter_mut().enumerate() {
        let i = u64::try_from(i).unwrap();
        *counters = KindCounters { seen: 100 + i, filtered: 40, queued: 50 + i, dropped: 10 };
    }
    stats
}

fn bytes_of<M: Message>(message: &M) -> Vec<u8> {
    let mut buf = vec![0u8; M::LEN];
    assert_eq!(message.emit(&mut buf), Ok(M::LEN));
    buf
}

fn set_u32(buf: &mut [u8], offset: usize, value: u32) {
    buf[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
}

/// The length rule every fixed layout follows: shorter than the header, one
/// byte short, one byte long and 64 KiB are each a `Length` error.
fn rejects_every_wrong_length<M: Message + core::fmt::Debug>(valid: &M) {
    let good = bytes_of(valid);
    let expected = M::LEN;
    for found in [0, 1, expected - 1, expected + 1, 64 << 10] {
        let mut buf = good.clone();
        buf.resize(found, 0);
        assert_eq!(M::parse(&buf).map(|_| ()), Err(IoctlError::Length { expected, found }), "length {found}");
    }
}

fn round_trips<M: Message + PartialEq + core::fmt::Debug>(valid: &M) {
    let buf = bytes_of(valid);
    assert_eq!(M::parse(&buf).as_ref(), Ok(valid));
    assert_eq!(bytes_of(&M::parse(&buf).unwrap()), buf);
}

#[test]
fn ctl_code_matches_the_devioctl_macro() {
    // IOCTL_STORAGE_QUERY_PROPERTY and FSCTL_GET_REPARSE_POINT as winioctl.h spells them.
    assert_eq!(ctl_code(0x2D, 0x500, METHOD_BUFFERED, FILE_ANY_ACCESS), 0x002D_1400);
    assert_eq!(ctl_code(0x9, 42, METHOD_BUFFERED, FILE_ANY_ACCESS), 0x0009_00A8);
    assert_eq!(ctl_code(0x8A52, 0x800, METHOD_BUFFERED, FILE_READ_ACCESS), 0x8A52_6000);
}

#[test]
fn every_code_is_buffered_vendor_defined_and_requires_access() {
    for code in Code::ALL {
        assert_eq!(code.device_type(), FILE_DEVICE_RINGFENCE, "{}", code.name());
        assert!((0x8000..=0xFFFF).contains(&code.device_type()));
        assert!(code.function() >= FUNCTION_BASE);
        assert_eq!(code.method(), METHOD_BUFFERED);
        assert_ne!(code.access(), FILE_ANY_ACCESS, "{} allows FILE_ANY_ACCESS", code.name());
        assert_eq!(Code::from_u32(code.value()), Some(code));
    }
    let rw = FILE_READ_ACCESS | FILE_WRITE_ACCESS;
    assert_eq!(Code::Hello.access(), FILE_READ_ACCESS);
    assert_eq!(Code::Read.access(), FILE_READ_ACCESS);
    assert_eq!(Code::Stats.access(), FILE_READ_ACCESS);
    assert_eq!(Code::LoadContent.access(), rw);
    assert_eq!(Code::SetEvent.access(), rw);
    assert_eq!(Code::Trust.access(), FILE_READ_ACCESS);
    assert_eq!(Code::SetVolumeMap.access(), rw);
    assert_eq!(Code::VolumeMap.access(), FILE_READ_ACCESS);
    assert_eq!((Code::SetVolumeMap.function(), Code::VolumeMap.function()), (0x805, 0x806));
}

#[test]
fn codes_are_distinct_and_other_values_are_unknown() {
    for (i, a) in Code::ALL.iter().enumerate() {
        for b in &Code::ALL[i + 1..] {
            assert_ne!(a.value(), b.value());
        }
    }
    // Same function, other access bits: a different code, not a synonym.
    let any = ctl_code(FILE_DEVICE_RINGFENCE, FUNCTION_BASE, METHOD_BUFFERED, FILE_ANY_ACCESS);
    assert_eq!(Code::from_u32(any), None);
    assert_eq!(Code::from_u32(0), None);
    assert_eq!(Code::from_u32(Code::Stats.value() | 3), None);
}

#[test]
fn every_layout_rejects_every_wrong_length() {
    rejects_every_wrong_length(&HelloRequest::current());
    rejects_every_wrong_length(&hello_response());
    rejects_every_wrong_length(&load_rejected());
    rejects_every_wrong_length(&SetEventRequest { handle: 0x1F4 });
    rejects_every_wrong_length(&stats());
    rejects_every_wrong_length(&TrustResponse { ring: 1, threshold: 2, ..Default::default() });
    for found in [1, 8, 64 << 10] {
        assert_eq!(EmptyRequest::parse(&vec![0; found]), Err(IoctlError::Length { expected: 0, found }));
    }
    assert_eq!(EmptyRequest::parse(&[]), Ok(EmptyRequest));
}

#[test]
fn every_layout_round_trips() {
    round_trips(&HelloRequest::current());
    round_trips(&hello_response());
    round_trips(&load_rejected());
    round_trips(&LoadContentResponse {
        accepted: true,
        content_version: 7,
        active_version: 7,
        ..Default::default()
    });
    round_trips(&SetEventRequest { handle: 0x1F4 });
    round_trips(&SetEventRequest { handle: 0 });
    round_trips(&SetEventRequest { handle: u64::MAX });
    round_trips(&stats());
    round_trips(&EmptyRequest);
}

#[test]
fn layouts_have_the_documented_sizes() {
    assert_eq!(HelloRequest::LEN, 16);
    assert_eq!(HelloResponse::LEN, 32);
    assert_eq!(LoadContentResponse::LEN, 48);
    assert_eq!(SetEventRequest::LEN, 16);
    assert_eq!(KIND_COUNT, EventKind::ALL.len());
    assert_eq!(StatsResponse::LEN, 112 + 32 * EventKind::ALL.len() + 24 + 24);
}

#[test]
fn a_size_field_that_disagrees_with_the_length_is_rejected() {
    let mut buf = bytes_of(&SetEventRequest { handle: 8 });
    set_u32(&mut buf, header::SIZE, 24);
    assert_eq!(SetEventRequest::parse(&buf), Err(IoctlError::SizeField { found: 24, expected: 16 }));
}

#[test]
fn another_layout_version_is_a_revision_mismatch_whatever_its_size() {
    // A version-3 STATS (24 bytes shorter, no content block), a version 2 (no volume map
    // block either) and a hypothetical version 5 (longer): all told "revision mismatch",
    // not "length".
    for (version, len) in
        [(3u32, StatsResponse::LEN - 24), (2, StatsResponse::LEN - 48), (5, StatsResponse::LEN + 32)]
    {
        let mut buf = bytes_of(&stats());
        set_u32(&mut buf, header::VERSION, version);
        buf.resize(len, 0);
        let error = StatsResponse::parse(&buf).unwrap_err();
        assert_eq!(error, IoctlError::Version { found: version, expected: 4 });
        assert_eq!(error.status(), STATUS_REVISION_MISMATCH);
    }
}

#[test]
fn hello_from_another_protocol_or_schema_is_a_revision_mismatch() {
    let older = HelloRequest { protocol_version: 0, schema_version: SCHEMA_VERSION };
    assert_eq!(
        HelloRequest::parse(&bytes_of(&older)),
        Err(IoctlError::Version { found: 0, expected: PROTOCOL_VERSION })
    );
    let newer_schema =
        HelloRequest { protocol_version: PROTOCOL_VERSION, schema_version: SCHEMA_VERSION + 1 };
    let error = HelloRequest::parse(&bytes_of(&newer_schema)).unwrap_err();
    assert_eq!(
        error,
        IoctlError::SchemaVersion { found: u32::from(SCHEMA_VERSION) + 1, expected: SCHEMA_VERSION }
    );
    assert_eq!(error.status(), STATUS_REVISION_MISMATCH);
    // A schema version beyond u16 is not truncated into a match.
    let mut buf = bytes_of(&HelloRequest::current());
    set_u32(&mut buf, hq::SCHEMA_VERSION, 0x1_0000 | u32::from(SCHEMA_VERSION));
    assert!(matches!(HelloRequest::parse(&buf), Err(IoctlError::SchemaVersion { .. })));
}

#[test]
fn non_zero_reserved_fields_are_rejected() {
    type Parse = fn(&[u8]) -> Result<(), IoctlError>;
    let cases: [(Vec<u8>, usize, Parse); 4] = [
        (bytes_of(&HelloRequest::current()), hq::RESERVED, |b| HelloRequest::parse(b).map(|_| ())),
        (bytes_of(&hello_response()), hr::RESERVED, |b| HelloResponse::parse(b).map(|_| ())),
        (bytes_of(&load_rejected()), lc::RESERVED, |b| LoadContentResponse::parse(b).map(|_| ())),
        (bytes_of(&stats()), st::RESERVED, |b| StatsResponse::parse(b).map(|_| ())),
    ];
    for (mut buf, offset, parse) in cases {
        for bit in [1u32, 0x8000_0000] {
            set_u32(&mut buf, offset, bit);
            assert_eq!(parse(&buf), Err(IoctlError::Reserved { offset }));
        }
    }
}

#[test]
fn hello_response_values_out_of_range_are_rejected() {
    let max = u32::try_from(MAX_RECORD_BYTES).unwrap();
    let cases = [
        (hr::CAPABILITIES, 1 << 3),
        (hr::QUEUE_BYTES, QUEUE_BYTES_MIN - 1),
        (hr::QUEUE_BYTES, QUEUE_BYTES_MAX + 1),
        (hr::MAX_RECORD_BYTES, 0),
        (hr::MAX_RECORD_BYTES, 24),
        (hr::MAX_RECORD_BYTES, max - 4),
        (hr::MAX_RECORD_BYTES, max + 8),
        (hr::DRIVER_VERSION, 0x0100_0000),
    ];
    for (offset, value) in cases {
        let mut buf = bytes_of(&hello_response());
        set_u32(&mut buf, offset, value);
        assert_eq!(HelloResponse::parse(&buf), Err(IoctlError::Value { offset }), "{offset}={value:#x}");
    }
}

#[test]
fn a_load_content_verdict_must_be_consistent() {
    let accepted_with_reason = LoadContentResponse { accepted: true, reason: 4, ..load_rejected() };
    let rejected_without_reason = LoadContentResponse { reason: 0, ..load_rejected() };
    for bad in [accepted_with_reason, rejected_without_reason] {
        assert_eq!(
            LoadContentResponse::parse(&bytes_of(&bad)),
            Err(IoctlError::Value { offset: lc::REASON })
        );
    }
    let mut buf = bytes_of(&load_rejected());
    set_u32(&mut buf, lc::ACCEPTED, 2);
    assert_eq!(LoadContentResponse::parse(&buf), Err(IoctlError::Value { offset: lc::ACCEPTED }));
}

#[test]
fn stats_values_out_of_range_are_rejected() {
    let cases = [
        (st::NOTES, 1 << 7),
        (st::TABLE_CAPACITY_BYTES, PROCESS_TABLE_BYTES_MIN - 1),
        (st::TABLE_CAPACITY_BYTES, PROCESS_TABLE_BYTES_MAX + 1),
        (st::TABLE_USED_BYTES, PROCESS_TABLE_BYTES_DEFAULT + 1),
        (st::TABLE_MAX_ENTRIES, 0),
        (st::TABLE_ENTRIES, 4097),
        (st::QUEUE_CAPACITY_BYTES, QUEUE_BYTES_MAX + 1),
        (st::QUEUE_HIGH_WATER_BYTES, QUEUE_BYTES_MIN + 1),
        (st::QUEUE_USED_BYTES, 8193),
        (st::VOLUME_MAP_BYTES, 32 * 1024 + 1),
        (st::VOLUME_MAP_ENTRIES, 65),
        (st::CONTENT_FORMAT, MAX_CONTENT_FORMAT + 1),
    ];
    for (offset, value) in cases {
        let mut buf = bytes_of(&stats());
        set_u32(&mut buf, offset, value);
        assert_eq!(StatsResponse::parse(&buf), Err(IoctlError::Value { offset }), "{offset}={value:#x}");
    }
    let mut no_map_but_entries = bytes_of(&stats());
    set_u32(&mut no_map_but_entries, st::VOLUME_MAP_BYTES, 0);
    assert_eq!(
        StatsResponse::parse(&no_map_but_entries),
        Err(IoctlError::Value { offset: st::VOLUME_MAP_ENTRIES })
    );
    let mut reserved = bytes_of(&stats());
    set_u32(&mut reserved, st::CONTENT_RESERVED, 1);
    assert_eq!(StatsResponse::parse(&reserved), Err(IoctlError::Reserved { offset: st::CONTENT_RESERVED }));
}

#[test]
fn stats_counters_are_read_in_schema_order() {
    let buf = bytes_of(&stats());
    let parsed = StatsResponse::parse(&buf).unwrap();
    for (i, kind) in EventKind::ALL.iter().enumerate() {
        let base = st::KINDS + i * st::KIND_LEN;
        let seen = u64::from_le_bytes(buf[base..base + 8].try_into().unwrap());
        assert_eq!(parsed.kind(*kind).seen, seen);
        assert_eq!(parsed.kind(*kind).seen, 100 + u64::try_from(i).unwrap());
    }
}

#[test]
fn stats_balance_when_every_seen_event_is_accounted_for() {
    let mut stats = stats();
    assert!(stats.balanced());
    stats.kind_mut(EventKind::ImageLoad).unwrap().dropped += 1;
    assert!(!stats.balanced());
    let overflowing = KindCounters { seen: 0, filtered: u64::MAX, queued: 1, dropped: 0 };
    assert!(!overflowing.balanced());
}

#[test]
fn emit_into_a_short_buffer_names_the_size_and_writes_nothing() {
    let mut buf = [0xAAu8; 47];
    assert_eq!(load_rejected().emit(&mut buf), Err(IoctlError::BufferTooSmall { needed: 48, available: 47 }));
    assert_eq!(buf, [0xAA; 47]);
    let mut buf = vec![0xAAu8; StatsResponse::LEN - 1];
    let error = stats().emit(&mut buf).unwrap_err();
    assert_eq!(
        error,
        IoctlError::BufferTooSmall { needed: StatsResponse::LEN, available: StatsResponse::LEN - 1 }
    );
    assert_eq!(error.status(), STATUS_BUFFER_TOO_SMALL);
    assert!(buf.iter().all(|b| *b == 0xAA));
}

#[test]
fn malformed_input_is_an_invalid_parameter() {
    assert_eq!(IoctlError::Length { expected: 16, found: 0 }.status(), STATUS_INVALID_PARAMETER);
    assert_eq!(IoctlError::Reserved { offset: 12 }.status(), STATUS_INVALID_PARAMETER);
    assert_eq!(IoctlError::Value { offset: 8 }.status(), STATUS_INVALID_PARAMETER);
    assert_eq!(IoctlError::SizeField { found: 0, expected: 16 }.status(), STATUS_INVALID_PARAMETER);
    assert!(nt_success(STATUS_SUCCESS));
    assert!(!nt_success(STATUS_BUFFER_TOO_SMALL));
}

#[test]
fn the_largest_record_is_max_record_bytes_and_fits_the_smallest_queue() {
    let units = vec![0x41u16; MAX_STRING_BYTES / 2];
    let ids = [7u32; crate::schema::limits::RECORD_IDS as usize];
    let at_max = |name: &str| -> Text<'_> {
        let def = EventKind::ProcessStart.def();
        let max = def.fields.iter().find(|f| f.name == name).map_or(0, |f| usize::from(f.max_units));
        Text::wide(&units[..max])
    };
    let event = Event::ProcessStart {
        pid: 1,
        parent_pid: 2,
        creating_pid: 3,
        creating_tid: 4,
        session_id: 5,
        image_path: Some(at_max("image_path")),
        command_line: Some(at_max("command_line")),
        start_key: 6,
        create_time: 7,
        image_name_available: true,
        rule_name: at_max("rule_name"),
        matched_ids: crate::text::Ids::new(&ids),
        matched_rest: 1,
        undecided_ids: crate::text::Ids::new(&ids),
        undecided_rest: 2,
        parent_start_key: Some(8),
        parent_image_path: Some(at_max("parent_image_path")),
        parent_command_line: Some(at_max("parent_command_line")),
        user_sid: Some(at_max("user_sid")),
        logon_id: Some(9),
        integrity_level: Some(10),
        elevation_type: Some(11),
        parent_user_sid: Some(at_max("parent_user_sid")),
        truncated: 0,
    };
    assert_eq!(record::encoded_len(&event), Ok(MAX_RECORD_BYTES));
    for kind in EventKind::ALL {
        let strings: usize = kind.def().fields.iter().map(|f| f.max_bytes()).sum();
        let len = 32 + 8 * kind.def().fields.len() + strings;
        assert!(len <= MAX_RECORD_BYTES, "{}", kind.name());
    }
    assert!(MAX_RECORD_BYTES <= QUEUE_BYTES_MIN as usize);
}
