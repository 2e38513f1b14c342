//! Sustained writing of ECS events to rotating files, as the service does
//! it (appends of 100 lines, fsync policy as shipped: at most 1 s after a
//! write; rotation at 64 MiB), beside the same bytes written to one file with
//! `std::io::Write` alone, in the same run. Rotated files beyond two are
//! deleted (retention) so that the benchmark does not fill the disk; the
//! baseline's file is cut back to empty at the same size.

mod common;

use std::fs::File;
use std::hint::black_box;
use std::io::{Seek, SeekFrom, Write};
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringfence_companion::clock::Now;
use ringfence_companion::config::{FileOutput, Format, FsyncPolicy, defaults};
use ringfence_companion::output::{FileSystem, RotatingLog};
use ringfence_companion::{EventStream, Format as Rendering, Host};

const EVENTS: u64 = 1000;
const PER_APPEND: usize = 100;

/// 1,000 records, mostly image loads, and their ECS lines in appends of 100 lines.
fn workload() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let batches: Vec<Vec<u8>> = common::records().chunks(PER_APPEND).map(<[Vec<u8>]>::concat).collect();
    let mut stream = EventStream::new(Host { name: "bench".into() }, Rendering::Json);
    let lines = batches
        .iter()
        .map(|b| {
            let mut out = Vec::new();
            stream.render_batch(b, &mut out, &mut std::io::sink()).unwrap();
            out
        })
        .collect();
    (batches, lines)
}

fn settings(dir: &std::path::Path) -> FileOutput {
    FileOutput {
        format: Format::Ecs,
        directory: dir.to_owned(),
        name: "ringfence".into(),
        rotate_size: defaults::ROTATE_SIZE,
        rotate_age: None,
        keep_files: 2,
        keep_bytes: None,
        fsync: FsyncPolicy::Interval(defaults::FSYNC_INTERVAL),
    }
}

fn output(c: &mut Criterion) {
    let (batches, lines) = workload();
    let bytes: usize = lines.iter().map(Vec::len).sum();
    let start = Instant::now();
    let now = || Now { monotonic: start.elapsed(), wall: SystemTime::now() };
    let mut group = c.benchmark_group(format!("write_1000_ecs_events_{}_kib", bytes / 1024));
    group.throughput(Throughput::Elements(EVENTS));
    group.measurement_time(Duration::from_secs(5));

    let dir = tempfile::tempdir().unwrap();
    let mut file = File::create(dir.path().join("plain.jsonl")).unwrap();
    let mut written = 0u64;
    group.bench_function("baseline_std_io_write", |b| {
        b.iter(|| {
            for chunk in &lines {
                file.write_all(black_box(chunk)).unwrap();
                written += chunk.len() as u64;
            }
            if written >= defaults::ROTATE_SIZE {
                file.set_len(0).unwrap();
                file.seek(SeekFrom::Start(0)).unwrap();
                written = 0;
            }
        })
    });

    let dir = tempfile::tempdir().unwrap();
    let mut log = RotatingLog::new(settings(dir.path()), FileSystem);
    log.start(now()).unwrap();
    group.bench_function("rotating_log_append", |b| {
        b.iter(|| {
            for chunk in &lines {
                log.append(black_box(chunk), now()).unwrap();
            }
        })
    });

    let dir = tempfile::tempdir().unwrap();
    let mut log = RotatingLog::new(settings(dir.path()), FileSystem);
    log.start(now()).unwrap();
    let mut stream = EventStream::new(Host { name: "bench".into() }, Rendering::Json);
    let mut out = Vec::with_capacity(1 << 20);
    group.bench_function("render_ecs_and_append", |b| {
        b.iter(|| {
            for batch in &batches {
                out.clear();
                stream.render_batch(black_box(batch), &mut out, &mut std::io::sink()).unwrap();
                log.append(&out, now()).unwrap();
            }
        })
    });
    group.finish();
}

criterion_group!(benches, output);
criterion_main!(benches);
