use super::check::*;
use super::*;
use std::vec::Vec;

/// One record of every kind, strings of lengths 0, 1 and 3 units, some absent,
/// id lists of 0, 1 and 2 ids.
fn records() -> Vec<Vec<u8>> {
    let (a, b, c): ([u16; 0], [u16; 1], [u16; 3]) = ([], [0x41], [0x43, 0x3a, 0x5c]);
    let events = [
        Event::ProcessStart {
            pid: 1,
            parent_pid: 2,
            creating_pid: 3,
            creating_tid: 4,
            session_id: 5,
            image_path: Some(Text::wide(&c)),
            command_line: Some(Text::wide(&a)),
            start_key: 6,
            create_time: 7,
            image_name_available: true,
            rule_name: Text::wide(&b),
            matched_ids: crate::text::Ids::EMPTY,
            matched_rest: 0,
            undecided_ids: crate::text::Ids::EMPTY,
            undecided_rest: 0,
            parent_start_key: None,
            parent_image_path: Some(Text::wide(&b)),
            parent_command_line: None,
            user_sid: Some(Text::wide(&c)),
            logon_id: Some(8),
            integrity_level: None,
            elevation_type: Some(2),
            parent_user_sid: None,
            truncated: 0,
        },
        Event::ProcessExit {
            pid: 1,
            exit_status: 2,
            time: 3,
            rule_name: Text::wide(&c),
            matched_ids: crate::text::Ids::new(&[7, 0x8000_0001]),
            matched_rest: 0,
            undecided_ids: crate::text::Ids::new(&[u32::MAX]),
            undecided_rest: 0,
            image_path: None,
            start_key: 4,
            user_sid: Some(Text::wide(&b)),
            truncated: 0,
        },
        Event::ImageLoad {
            pid: 1,
            image_path: Some(Text::wide(&b)),
            image_base: 2,
            image_size: 3,
            signature_level: 4,
            signature_type: 5,
            kernel_image: false,
            time: 6,
            rule_name: Text::wide(&a),
            matched_ids: crate::text::Ids::EMPTY,
            matched_rest: 0,
            undecided_ids: crate::text::Ids::EMPTY,
            undecided_rest: 0,
            process_image_path: Some(Text::wide(&c)),
            process_start_key: None,
            user_sid: None,
            truncated: 0,
        },
        Event::LostEvents {
            count: 1,
            first_sequence: 2,
            last_sequence: 3,
            process_start: 4,
            process_exit: 5,
            image_load: 6,
            content_changed: 7,
        },
        Event::ContentChanged { accepted: true, content_version: 1, active_version: 2, reason: 3, offset: 4 },
    ];
    let mut out = Vec::new();
    for event in &events {
        let mut buf = std::vec![0u8; encoded_len(event).unwrap_or(0)];
        assert_eq!(encode(event, 9, 10, &mut buf), Ok(buf.len()));
        out.push(buf);
    }
    out
}

#[test]
fn the_fast_field_check_accepts_exactly_what_the_precise_one_accepts() {
    let values: [u64; 10] = [0, 1, 2, 0xFFFF_FFFF, 1 << 32, u64::MAX, 0xFFFE, 0xFFFF, 0x8000_0000, 7];
    let mut checked = 0usize;
    for record in records() {
        let def = check_header(&record).unwrap_or(EventKind::ProcessExit.def());
        assert!(fields_valid(&record, def));
        for at in (layout::HEADER_LEN..record.len()).step_by(2) {
            for value in values {
                for shift in [0u32, 16, 32, 48] {
                    let mut bytes = record.clone();
                    let word = (value << shift).to_le_bytes();
                    for (offset, byte) in word.iter().enumerate() {
                        if let Some(b) = bytes.get_mut(at.saturating_add(offset)) {
                            *b = *byte;
                        }
                    }
                    let fast = fields_valid(&bytes, def);
                    assert_eq!(fast, check_fields_precise(&bytes, def).is_ok(), "at {at}: {bytes:02x?}");
                    checked = checked.saturating_add(usize::from(!fast));
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} mutations were rejected");
}

#[test]
fn the_fast_check_agrees_on_every_absent_bitmap_of_one_bit() {
    for record in records() {
        let def = check_header(&record).unwrap_or(EventKind::ProcessExit.def());
        let absent = bytes::u32_at(&record, layout::ABSENT).unwrap_or(0);
        for bit in 0..32u32 {
            let mut bytes = record.clone();
            let flipped = absent ^ (1 << bit);
            bytes::put_u32(&mut bytes, layout::ABSENT, flipped);
            let header_ok = check_header(&bytes).is_ok();
            let fast = header_ok && fields_valid(&bytes, def);
            let precise = header_ok && check_fields_precise(&bytes, def).is_ok();
            assert_eq!(fast, precise, "{:?} bit {bit}", def.kind);
            // Only clearing the bit of an absent scalar leaves a valid record (of value 0).
            let absent_scalar = absent & (1 << bit) != 0
                && def.field(u8::try_from(bit).unwrap_or(u8::MAX)).is_some_and(|f| f.ty != FieldType::Str);
            assert_eq!(fast, absent_scalar, "{:?} bit {bit}", def.kind);
        }
    }
}

#[test]
fn encode_zeroes_the_padding_whatever_the_buffer_held() {
    let units = [0x61u16; 7];
    for len in 0..units.len() {
        let name = Text::wide(units.get(..len).unwrap_or(&[]));
        let event = Event::ProcessExit {
            pid: 1,
            exit_status: 2,
            time: 3,
            rule_name: name,
            matched_ids: crate::text::Ids::EMPTY,
            matched_rest: 0,
            undecided_ids: crate::text::Ids::EMPTY,
            undecided_rest: 0,
            image_path: None,
            start_key: 4,
            user_sid: None,
            truncated: 0,
        };
        let mut buf = [0xAAu8; 256];
        let size = encode(&event, 4, 5, &mut buf).unwrap_or(0);
        assert_eq!(size, align8(32 + 12 * 8 + 2 * len).unwrap_or(0));
        let record = Record::new_checked(buf.get(..size).unwrap_or(&[]));
        assert_eq!(record.map(|r| r.event()), Ok(event), "{len} units");
    }
}

#[test]
fn the_largest_record_fits_the_smallest_queue_with_room_to_spare() {
    // Every string at its declared maximum: process_start is the largest kind.
    assert_eq!(MAX_RECORD_BYTES, 175_096);
}
