//! Encode and decode of a typical ProcessStart record (120-character image
//! path, 400-character command line) beside a memcpy of the same bytes.
#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringfence_wire::record::{encode, encoded_len};
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
    let event = Event::ProcessStart {
        pid: 4242,
        parent_pid: 888,
        creating_pid: 888,
        creating_tid: 4000,
        session_id: 1,
        image_path: Text::wide(&path),
        command_line: Text::wide(&args),
        start_key: 0x1_0000_0042,
        create_time: 133_700_000_000_000_000,
        image_name_available: true,
        rule_name: Text::wide(&rule),
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
