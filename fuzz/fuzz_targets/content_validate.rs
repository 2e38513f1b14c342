//! Content validation on arbitrary bytes, as given and with the checksum
//! repaired (so that mutations reach the checks behind it). Content the
//! validator accepts must list its rules, and evaluate every kind of event
//! exactly as the unvalidated entry point does, within its worst-case cost.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringfence_content::format::header;
use ringfence_content::{Meter, content_checksum, evaluate_raw, validate};
use ringfence_wire::{Event, SCHEMA, Text};

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= header::LEN {
        let mut repaired = data.to_vec();
        let sum = content_checksum(&repaired);
        repaired[header::CHECKSUM..header::CHECKSUM + 4].copy_from_slice(&sum.to_le_bytes());
        check(&repaired);
    }
});

fn check(data: &[u8]) {
    let Ok(content) = validate(data, &SCHEMA) else {
        return;
    };
    assert_eq!(content.as_bytes().len(), data.len());
    let mut rules = 0;
    for rule in content.rules() {
        assert!(rule.kind().is_some_and(|k| k.def().activity));
        assert!(rule.action.is_some());
        let _ = rule.name().len();
        let conditions = rule.conditions().count();
        assert!(conditions <= ringfence_content::MAX_CONDITIONS_PER_RULE);
        rules += 1;
    }
    assert_eq!(rules, content.rule_count());

    let path: Vec<u16> = r"\Device\HarddiskVolume3\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
        .encode_utf16()
        .collect();
    let args: Vec<u16> = "powershell.exe -NoP -Enc SQBFAFgA".encode_utf16().collect();
    let events = [
        Event::ProcessStart {
            pid: 4242,
            parent_pid: 4,
            creating_pid: 4,
            creating_tid: 8,
            session_id: 1,
            image_path: Some(Text::wide(&path)),
            command_line: Some(Text::wide(&args)),
            start_key: 7,
            create_time: 1,
            image_name_available: true,
            rule_name: Text::default(),
            matched_ids: ringfence_wire::text::Ids::EMPTY,
            matched_rest: 0,
            undecided_ids: ringfence_wire::text::Ids::EMPTY,
            undecided_rest: 0,
            parent_start_key: Some(3),
            parent_image_path: Some(Text::wide(&path)),
            parent_command_line: None,
            user_sid: None,
            logon_id: Some(0x3e7),
            integrity_level: Some(0x3000),
            elevation_type: Some(2),
            parent_user_sid: None,
            truncated: 0,
        },
        Event::ProcessExit {
            pid: 4242,
            exit_status: 0xC000_0005,
            time: 2,
            rule_name: Text::default(),
            matched_ids: ringfence_wire::text::Ids::EMPTY,
            matched_rest: 0,
            undecided_ids: ringfence_wire::text::Ids::EMPTY,
            undecided_rest: 0,
            image_path: Some(Text::wide(&path)),
            start_key: 7,
            user_sid: None,
            truncated: 0,
        },
        Event::ImageLoad {
            pid: 4242,
            image_path: Some(Text::wide(&path)),
            image_base: 0x7FF8_0000_0000,
            image_size: 0x1000,
            signature_level: 12,
            signature_type: 1,
            kernel_image: false,
            time: 3,
            rule_name: Text::default(),
            matched_ids: ringfence_wire::text::Ids::EMPTY,
            matched_rest: 0,
            undecided_ids: ringfence_wire::text::Ids::EMPTY,
            undecided_rest: 0,
            process_image_path: Some(Text::wide(&path)),
            process_start_key: Some(7),
            user_sid: None,
            truncated: 0,
        },
    ];
    let bound = content.worst_case_cost(&SCHEMA);
    for event in &events {
        let mut meter = Meter::new(u64::MAX);
        assert_eq!(content.evaluate_metered(event, &mut meter), evaluate_raw(data, event));
        assert!(meter.used() <= bound, "{} work units, worst case {bound}", meter.used());
    }
}
