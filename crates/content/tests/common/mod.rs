//! Helpers shared by the content tests: events, byte patching, checksums.
#![allow(dead_code, unreachable_pub)]

use ringfence_content::format::{header, section};
use ringfence_content::{Verdict, content_checksum};
use ringfence_wire::{Event, Text};

pub fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// UTF-16 units of `s` that live as long as the test.
fn leaked(s: &str) -> &'static [u16] {
    Box::leak(wide(s).into_boxed_slice())
}

/// The user of the test events.
pub fn user() -> Text<'static> {
    Text::wide(leaked("S-1-5-21-1004336348-1177238915-682003330-1001"))
}

/// A process start with the given image path and command line; other fields fixed.
pub fn process_start<'a>(image: &'a [u16], command_line: &'a [u16]) -> Event<'a> {
    Event::ProcessStart {
        pid: 4242,
        parent_pid: 1000,
        creating_pid: 1000,
        creating_tid: 1004,
        session_id: 1,
        image_path: Some(Text::wide(image)),
        command_line: Some(Text::wide(command_line)),
        start_key: 77,
        create_time: 133_000_000_000_000_000,
        image_name_available: true,
        rule_name: Text::default(),
        matched_ids: ringfence_wire::text::Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: ringfence_wire::text::Ids::EMPTY,
        undecided_rest: 0,
        parent_start_key: Some(70),
        parent_image_path: Some(Text::wide(leaked(r"\Device\HarddiskVolume3\Windows\explorer.exe"))),
        parent_command_line: Some(Text::wide(leaked(r"C:\Windows\Explorer.EXE"))),
        user_sid: Some(user()),
        logon_id: Some(0x3_66A1),
        integrity_level: Some(0x2000),
        elevation_type: Some(3),
        parent_user_sid: Some(user()),
        truncated: 0,
    }
}

pub fn image_load(image: &[u16]) -> Event<'_> {
    Event::ImageLoad {
        pid: 4242,
        image_path: Some(Text::wide(image)),
        image_base: 0x7FF8_0000_0000,
        image_size: 0x1000,
        signature_level: 12,
        signature_type: 1,
        kernel_image: false,
        time: 133_000_000_000_000_000,
        rule_name: Text::default(),
        matched_ids: ringfence_wire::text::Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: ringfence_wire::text::Ids::EMPTY,
        undecided_rest: 0,
        process_image_path: Some(Text::wide(leaked(r"\Device\HarddiskVolume3\Windows\System32\cmd.exe"))),
        process_start_key: Some(77),
        user_sid: Some(user()),
        truncated: 0,
    }
}

pub fn process_exit(exit_status: u32) -> Event<'static> {
    Event::ProcessExit {
        pid: 4242,
        exit_status,
        time: 133_000_000_000_000_001,
        rule_name: Text::default(),
        matched_ids: ringfence_wire::text::Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: ringfence_wire::text::Ids::EMPTY,
        undecided_rest: 0,
        image_path: Some(Text::wide(leaked(r"\Device\HarddiskVolume3\Windows\System32\cmd.exe"))),
        start_key: 77,
        user_sid: Some(user()),
        truncated: 0,
    }
}

/// `Keep` tagged with `name`.
pub fn kept(name: &[u16]) -> Verdict<'_> {
    Verdict::Keep { rule_name: Text::wide(name) }
}

pub fn untagged() -> Verdict<'static> {
    Verdict::Keep { rule_name: Text::default() }
}

pub fn get_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

pub fn get_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

pub fn get_u64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

pub fn set_u8(b: &mut [u8], at: usize, v: u8) {
    b[at] = v;
}

pub fn set_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

pub fn set_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

pub fn set_u64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// The checksum the header must carry for `b`.
pub fn checksum(b: &[u8]) -> u32 {
    content_checksum(b)
}

pub fn fix_checksum(b: &mut [u8]) {
    let sum = checksum(b);
    set_u32(b, header::CHECKSUM, sum);
}

/// Byte offset of directory entry `index`.
pub fn dir_entry(index: usize) -> usize {
    header::LEN + index * section::ENTRY_LEN
}

/// Where the section with `id` starts, by the directory.
pub fn section_start(b: &[u8], id: u16) -> usize {
    (0..usize::from(get_u16(b, header::SECTION_COUNT)))
        .map(dir_entry)
        .find(|&e| get_u16(b, e + section::ID) == id)
        .map(|e| get_u32(b, e + section::OFFSET) as usize)
        .expect("section present")
}

/// Content made of the given section bodies, in order, with a valid header and checksum.
pub fn craft(sections: &[(u16, Vec<u8>)]) -> Vec<u8> {
    let dir_end = header::LEN + sections.len() * section::ENTRY_LEN;
    let total = dir_end + sections.iter().map(|s| s.1.len()).sum::<usize>();
    let mut b = vec![0u8; dir_end];
    b[..4].copy_from_slice(&ringfence_content::format::MAGIC);
    set_u16(&mut b, header::FORMAT_VERSION, ringfence_content::format::FORMAT_VERSION);
    set_u16(&mut b, header::SCHEMA_VERSION, ringfence_wire::SCHEMA_VERSION);
    set_u32(&mut b, header::CONTENT_VERSION, 1);
    set_u32(&mut b, header::TOTAL_LEN, u32::try_from(total).unwrap());
    set_u16(&mut b, header::SECTION_COUNT, u16::try_from(sections.len()).unwrap());
    let mut offset = dir_end;
    for (i, (id, body)) in sections.iter().enumerate() {
        set_u16(&mut b, dir_entry(i) + section::ID, *id);
        set_u32(&mut b, dir_entry(i) + section::OFFSET, u32::try_from(offset).unwrap());
        set_u32(&mut b, dir_entry(i) + section::LEN, u32::try_from(body.len()).unwrap());
        offset += body.len();
    }
    for (_, body) in sections {
        b.extend_from_slice(body);
    }
    fix_checksum(&mut b);
    b
}
