//! The records the companion's benchmarks render and write.

use ringfence_wire::record::{encode, encoded_len};
use ringfence_wire::{Event, Text};

/// 1,000 encoded records, the mix of a busy machine: mostly image loads
/// (sequence numbers 1 to 1,000).
pub(crate) fn records() -> Vec<Vec<u8>> {
    let exe: Vec<u16> = r"\Device\HarddiskVolume3\Program Files\Vendor\app.exe".encode_utf16().collect();
    let cmd: Vec<u16> = r#""C:\Program Files\Vendor\app.exe" --serve --port 8080"#.encode_utf16().collect();
    let dll: Vec<u16> = r"\Device\HarddiskVolume3\Windows\System32\kernelbase.dll".encode_utf16().collect();
    let parent: Vec<u16> = r"\Device\HarddiskVolume3\Windows\System32\services.exe".encode_utf16().collect();
    let sid: Vec<u16> = "S-1-5-18".encode_utf16().collect();
    let key = |pid: u32| 0x0003_0000_0000_0000 | u64::from(pid);
    let mut out = Vec::new();
    for i in 0..1000u32 {
        let event = match i % 10 {
            0 => Event::ProcessStart {
                pid: 1000 + i,
                parent_pid: 4,
                creating_pid: 4,
                creating_tid: 8,
                session_id: 1,
                image_path: Some(Text::wide(&exe)),
                command_line: Some(Text::wide(&cmd)),
                start_key: key(1000 + i),
                create_time: 133_000_000_000_000_000,
                image_name_available: true,
                rule_name: Text::default(),
                matched_ids: ringfence_wire::text::Ids::EMPTY,
                matched_rest: 0,
                undecided_ids: ringfence_wire::text::Ids::EMPTY,
                undecided_rest: 0,
                parent_start_key: Some(key(4)),
                parent_image_path: Some(Text::wide(&parent)),
                parent_command_line: None,
                user_sid: Some(Text::wide(&sid)),
                logon_id: Some(0x3e7),
                integrity_level: Some(0x4000),
                elevation_type: Some(1),
                parent_user_sid: Some(Text::wide(&sid)),
                truncated: 0,
            },
            9 => Event::ProcessExit {
                pid: 1000 + i - 9,
                exit_status: 0,
                time: 1,
                rule_name: Text::default(),
                matched_ids: ringfence_wire::text::Ids::EMPTY,
                matched_rest: 0,
                undecided_ids: ringfence_wire::text::Ids::EMPTY,
                undecided_rest: 0,
                image_path: Some(Text::wide(&exe)),
                start_key: key(1000 + i - 9),
                user_sid: Some(Text::wide(&sid)),
                truncated: 0,
            },
            _ => Event::ImageLoad {
                pid: 1000 + i - i % 10,
                image_path: Some(Text::wide(&dll)),
                image_base: 0x7ffa_0000_0000,
                image_size: 0x10_0000,
                signature_level: 12,
                signature_type: 1,
                kernel_image: false,
                time: 133_000_000_000_000_000,
                rule_name: Text::default(),
                matched_ids: ringfence_wire::text::Ids::EMPTY,
                matched_rest: 0,
                undecided_ids: ringfence_wire::text::Ids::EMPTY,
                undecided_rest: 0,
                process_image_path: Some(Text::wide(&exe)),
                process_start_key: Some(key(1000 + i - i % 10)),
                user_sid: Some(Text::wide(&sid)),
                truncated: 0,
            },
        };
        let mut record = vec![0; encoded_len(&event).unwrap()];
        encode(&event, u64::from(i) + 1, 133_000_000_000_000_000, &mut record).unwrap();
        out.push(record);
    }
    out
}
