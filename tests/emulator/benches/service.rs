//! End to end: 1,000 events already in the emulated driver's queue (put there
//! by its real callbacks, untimed) to ECS lines in rotated files on disk,
//! through the companion's service loop (connect, HELLO, READs, rendering,
//! appends, the health and stop records, the final sync). Baseline in the same
//! run: the same queue drained by READs alone. Needs `RINGFENCE_SYS` (set by
//! `cargo xtask bench`) or `target/ringfence.sys` (`cargo xtask driver`).

use std::cell::Cell;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ringfence_companion::client;
use ringfence_companion::config::{Config, Enrichment, FileOutput, Format, FsyncPolicy, Output, defaults};
use ringfence_companion::output::FileSystem;
use ringfence_companion::service::{Connector, Service};
use ringfence_emulator::{Activity, EmulatedSystem, ImageLoad, KString, Step};

const EVENTS: u64 = 1000;

fn image() -> Vec<u8> {
    let path = std::env::var_os("RINGFENCE_SYS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/ringfence.sys"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run `cargo xtask driver` first)", path.display()))
}

/// A machine whose driver has 1,000 image loads queued.
fn loaded(image: &[u8]) -> EmulatedSystem {
    let system = EmulatedSystem::new(image, UNIX_EPOCH + Duration::from_secs(1_795_601_700));
    system.script([Step::StartDriver]);
    system.script((0..EVENTS).map(|i| {
        Step::Activity(Activity::ImageLoad(ImageLoad {
            pid: 1000 + u32::try_from(i % 50).unwrap_or(0) * 4,
            name: KString::Text(r"\Device\HarddiskVolume3\Windows\System32\kernelbase.dll".into()),
            base: 0x7ffa_0000_0000 + (i << 16),
            size: 0x10_0000,
            signature_level: 12,
            signature_type: 1,
            system_mode: false,
            time: 133_000_000_000_000_000 + i,
            conflicting_architecture: false,
        }))
    }));
    while system.step() {}
    system
}

fn end_to_end(c: &mut Criterion) {
    let image = image();
    let mut group = c.benchmark_group("queue_of_1000_events");
    group.throughput(Throughput::Elements(EVENTS));
    group.sample_size(10);
    group.bench_function("baseline_read_only", |b| {
        b.iter_batched(
            || loaded(&image),
            |mut system| {
                let mut device = system.connect().unwrap();
                let mut session = ringfence_companion::Session::open(&mut device).unwrap();
                let mut buffer = vec![0u8; 256 << 10];
                let mut bytes = 0usize;
                loop {
                    let n = client::read(session.device(), &mut buffer).unwrap().len();
                    if n == 0 {
                        break black_box(bytes);
                    }
                    bytes += n;
                }
            },
            BatchSize::PerIteration,
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        host_name: Some("bench".into()),
        health_interval: defaults::HEALTH_INTERVAL,
        content: None,
        retry_max: defaults::RETRY_MAX,
        enrichment: Enrichment::default(),
        sigma: Vec::new(),
        outputs: vec![Output::File(FileOutput {
            format: Format::Ecs,
            directory: dir.path().to_owned(),
            name: "ringfence".into(),
            rotate_size: defaults::ROTATE_SIZE,
            rotate_age: Some(defaults::ROTATE_AGE),
            keep_files: 2,
            keep_bytes: Some(defaults::KEEP_BYTES),
            fsync: FsyncPolicy::Interval(defaults::FSYNC_INTERVAL),
        })],
    };
    group.bench_function("service_to_rotated_files", |b| {
        b.iter_batched(
            || loaded(&image),
            |system| {
                let mut service = Service::new(
                    config.clone(),
                    system.clone(),
                    || FileSystem,
                    system.clone(),
                    || Box::new(std::io::sink()),
                    Box::new(std::io::sink()),
                )
                .unwrap();
                // First look: connect; second: stop, which drains the queue to disk.
                let looks = Cell::new(0);
                let counters = service.run(&|| {
                    looks.set(looks.get() + 1);
                    looks.get() > 1
                });
                assert_eq!(counters.events_written, EVENTS);
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
