//! The companion's hot path: one READ's worth of records to output lines.
//! Baseline in the same run: decoding alone (wire's validating walk plus every
//! field read), so the figures show what rendering adds on top.

mod common;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringfence_companion::{EventStream, Format, Host};
use ringfence_wire::Fields;
use ringfence_wire::batch::Records;

/// 1,000 records in one batch.
fn batch() -> (Vec<u8>, u64) {
    (common::records().concat(), 1000)
}

fn render(c: &mut Criterion) {
    let (bytes, records) = batch();
    let mut group = c.benchmark_group("render_1000_records");
    group.throughput(Throughput::Elements(records));
    group.bench_function("baseline_decode_only", |b| {
        b.iter(|| {
            let mut sum = 0u64;
            for record in Records::new(black_box(&bytes)).flatten() {
                for i in 0..record.def().field_count() {
                    sum = sum.wrapping_add(record.field(i).and_then(|v| v.as_u64()).unwrap_or(1));
                }
            }
            sum
        })
    });
    for (name, format) in [("json", Format::Json), ("table", Format::Table)] {
        let mut out = Vec::with_capacity(1 << 20);
        group.bench_function(name, |b| {
            let mut stream = EventStream::new(Host { name: "bench".into() }, format);
            b.iter(|| {
                out.clear();
                stream.render_batch(black_box(&bytes), &mut out, &mut std::io::sink()).unwrap();
                out.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
