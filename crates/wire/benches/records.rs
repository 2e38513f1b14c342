//! Encode and decode of a typical ProcessStart record (120-character image
//! path, 400-character command line, the parent's 60-character path and
//! 100-character command line, two 45-character SIDs, every token field, a
//! format-2 verdict of three matched rule ids and one undecided) beside a
//! memcpy of the same bytes.
#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringfence_wire::record::{encode, encoded_len};
use ringfence_wire::text::Ids;
use ringfence_wire::{Event, Fields, Record, Text, Value};
use std::hint::black_box;

fn wide(s: &str, len: usize) -> Vec<u16> {
    s.encode_utf16().cycle().take(len).collect()
}

fn records(c: &mut Criterion) {
    let path = wide("\\Device\\HarddiskVolume3\\Program Files\\Vendor\\Product\\bin\\", 120);
    let args =
        wide("\"C:\\Program Files\\Vendor\\Product\\bin\\tool.exe\" --config C:\\ProgramData\\x.toml ", 400);
    let rule = wide("lolbin-execution", 16);
    let parent = wide("\\Device\\HarddiskVolume3\\Windows\\explorer.exe ", 60);
    let parent_args = wide("C:\\Windows\\Explorer.EXE /factory,{75dff2b7-6936-4c06-a8bb-676a7b00b24b} ", 100);
    let sid = wide("S-1-5-21-1004336348-1177238915-682003330-1001", 45);
    let event = Event::ProcessStart {
        pid: 4242,
        parent_pid: 888,
        creating_pid: 888,
        creating_tid: 4000,
        session_id: 1,
        image_path: Some(Text::wide(&path)),
        command_line: Some(Text::wide(&args)),
        start_key: 0x0003_0000_0000_0042,
        create_time: 133_700_000_000_000_000,
        image_name_available: true,
        rule_name: Text::wide(&rule),
        matched_ids: Ids::new(&[1027, 4410, 4411]),
        matched_rest: 0,
        undecided_ids: Ids::new(&[88]),
        undecided_rest: 0,
        parent_start_key: Some(0x0003_0000_0000_0017),
        parent_image_path: Some(Text::wide(&parent)),
        parent_command_line: Some(Text::wide(&parent_args)),
        user_sid: Some(Text::wide(&sid)),
        logon_id: Some(0x3_66A1),
        integrity_level: Some(0x2000),
        elevation_type: Some(3),
        parent_user_sid: Some(Text::wide(&sid)),
        truncated: 0,
    };
    let len = encoded_len(&event).unwrap();
    let mut encoded = vec![0u8; len];
    encode(&event, 1, 2, &mut encoded).unwrap();

    let mut group = c.benchmark_group("process_start_record");
    group.throughput(Throughput::Bytes(u64::try_from(len).unwrap()));

    let mut out = vec![0u8; len];
    group.bench_function("memcpy (baseline)", |b| {
        b.iter(|| out.copy_from_slice(black_box(&encoded)));
    });
    group.bench_function("encode", |b| {
        b.iter(|| encode(black_box(&event), 1, 2, black_box(&mut out)).unwrap());
    });
    group.bench_function("decode (check only)", |b| {
        b.iter(|| Record::new_checked(black_box(&encoded)).unwrap().size());
    });
    group.bench_function("decode (check + every field)", |b| {
        b.iter(|| {
            let record = Record::new_checked(black_box(&encoded)).unwrap();
            let mut sum = record.sequence() ^ record.timestamp();
            for index in 0..record.def().field_count() {
                sum ^= match record.field(index).unwrap() {
                    Value::Str(text) => text.byte_len() as u64,
                    Value::Ids(ids) => ids.iter().fold(0, |sum, id| sum ^ u64::from(id)),
                    other => other.as_u64().unwrap(),
                };
            }
            sum
        });
    });
    group.finish();
}

criterion_group!(benches, records);
criterion_main!(benches);
