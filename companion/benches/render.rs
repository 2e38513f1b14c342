//! The companion's hot path: one READ's worth of records to output lines.
//! Baseline in the same run: decoding alone (wire's validating walk plus every
//! field read), so the figures show what rendering adds on top.
//!
//! `stream_enriched_1000_events`: the same 1,000 records in READ batches of
//! 100 through the event stream with its enrichment stage, warm (DOS paths
//! from a volume map, accounts, each start's and load's image file identity
//! from the cache, with the stat that checks a file is unchanged once per
//! distinct path and batch), rendered as ECS and in Sysmon's shape, and the
//! enrichment stage alone over the decoded batches; baseline in the same run:
//! the same batches rendered as ECS without enrichment.

mod common;

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringfence_companion::enrich::dos_path::VolumeMap;
use ringfence_companion::enrich::stage::{EnrichConfig, Enricher, FileLocation, Sources};
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

/// A stream enriched from a machine whose files are under `root`.
fn enriched_stream(root: &std::path::Path, format: Format) -> EventStream {
    let sources = Sources {
        volumes: VolumeMap::from_pairs([(r"\Device\HarddiskVolume3", "C:")]).unwrap(),
        files: FileLocation::Rooted(root.to_owned()),
        ..Sources::default()
    };
    let enricher = Enricher::new(EnrichConfig::default(), sources, "bench").unwrap();
    EventStream::with_enricher(Host { name: "bench".into() }, enricher, format)
}

fn stream_enriched(c: &mut Criterion) {
    let root = tempfile::tempdir().unwrap();
    // The images the records name, as files of the emulated machine.
    for path in [r"C/Program Files/Vendor/app.exe", r"C/Windows/System32/kernelbase.dll"] {
        let file = root.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, vec![0x4d; 256 << 10]).unwrap();
    }
    let batches: Vec<Vec<u8>> = common::records().chunks(100).map(<[Vec<u8>]>::concat).collect();
    let mut group = c.benchmark_group("stream_enriched_1000_events");
    group.throughput(Throughput::Elements(1000));
    let mut out = Vec::with_capacity(1 << 20);
    let run = |stream: &mut EventStream, out: &mut Vec<u8>| {
        out.clear();
        for batch in &batches {
            stream.render_batch(black_box(batch), out, &mut std::io::sink()).unwrap();
        }
        out.len()
    };
    group.bench_function("enrichment_stage_alone_warm", |b| {
        let mut stream_enricher = {
            let sources = Sources {
                volumes: VolumeMap::from_pairs([(r"\Device\HarddiskVolume3", "C:")]).unwrap(),
                files: FileLocation::Rooted(root.path().to_owned()),
                ..Sources::default()
            };
            Enricher::new(EnrichConfig::default(), sources, "bench").unwrap()
        };
        let decoded: Vec<Vec<ringfence_wire::Record<'_>>> =
            batches.iter().map(|b| Records::new(b).flatten().collect()).collect();
        for records in &decoded {
            stream_enricher.enrich_batch(records);
        }
        b.iter(|| {
            decoded
                .iter()
                .map(|records| stream_enricher.enrich_batch(black_box(records)).len())
                .sum::<usize>()
        })
    });
    group.bench_function("baseline_ecs_without_enrichment", |b| {
        let mut stream = EventStream::new(Host { name: "bench".into() }, Format::Json);
        b.iter(|| run(&mut stream, &mut out))
    });
    for (name, format) in [("ecs_enriched_warm", Format::Json), ("sysmon_enriched_warm", Format::Sysmon)] {
        let mut stream = enriched_stream(root.path(), format);
        // Warm: every file read before measuring (a late first answer still fills the cache).
        run(&mut stream, &mut out);
        let late = stream.summary().enrichment.not_enriched;
        run(&mut stream, &mut out);
        assert_eq!(stream.summary().enrichment.not_enriched, late, "the cache is warm");
        group.bench_function(name, |b| b.iter(|| run(&mut stream, &mut out)));
    }
    group.finish();
}

criterion_group!(benches, render, stream_enriched);
criterion_main!(benches);
