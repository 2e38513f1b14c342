//! Sustained writing of ECS events to rotating files, as the service does
//! it (appends of 100 lines, fsync policy as shipped: at most 1 s after a
//! write; rotation at 64 MiB), beside the same bytes written to one file with
//! `std::io::Write` alone, in the same run. Rotated files beyond two are
//! deleted (retention) so that the benchmark does not fill the disk; the
//! baseline's file is cut back to empty at the same size.

use std::fs::File;
use std::hint::black_box;
use std::io::{Seek, SeekFrom, Write};
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringfence_companion::clock::Now;
use ringfence_companion::config::{FileOutput, Format, FsyncPolicy, defaults};
use ringfence_companion::output::{FileSystem, RotatingLog};
use ringfence_companion::{EventStream, Format as Rendering, Host};
use ringfence_wire::record::{encode, encoded_len};
use ringfence_wire::{Event, Text};

const EVENTS: u64 = 1000;
const PER_APPEND: usize = 100;

/// 1,000 records, mostly image loads, and their ECS lines in appends of 100 lines.
fn workload() -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let exe: Vec<u16> = r"\Device\HarddiskVolume3\Program Files\Vendor\app.exe".encode_utf16().collect();
    let cmd: Vec<u16> = r#""C:\Program Files\Vendor\app.exe" --serve --port 8080"#.encode_utf16().collect();
    let dll: Vec<u16> = r"\Device\HarddiskVolume3\Windows\System32\kernelbase.dll".encode_utf16().collect();
    let mut batches = Vec::new();
    let mut batch = Vec::new();
    for i in 0..1000u32 {
        let event = match i % 10 {
            0 => Event::ProcessStart {
                pid: 1000 + i,
                parent_pid: 4,
                creating_pid: 4,
                creating_tid: 8,
                session_id: 1,
                image_path: Text::wide(&exe),
                command_line: Text::wide(&cmd),
                start_key: u64::from(i),
                create_time: 133_000_000_000_000_000,
                image_name_available: true,
                rule_name: Text::default(),
            },
            9 => {
                Event::ProcessExit { pid: 1000 + i - 9, exit_status: 0, time: 1, rule_name: Text::default() }
            }
            _ => Event::ImageLoad {
                pid: 1000 + i - i % 10,
                image_path: Text::wide(&dll),
                image_base: 0x7ffa_0000_0000,
                image_size: 0x10_0000,
                signature_level: 12,
                signature_type: 1,
                kernel_image: false,
                time: 133_000_000_000_000_000,
                rule_name: Text::default(),
            },
        };
        let at = batch.len();
        batch.resize(at + encoded_len(&event).unwrap(), 0);
        encode(&event, u64::from(i) + 1, 133_000_000_000_000_000, &mut batch[at..]).unwrap();
        if (i as usize + 1) % PER_APPEND == 0 {
            batches.push(std::mem::take(&mut batch));
        }
    }
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
