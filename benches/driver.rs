//! The driver's hot paths on the host, each beside a baseline measured in the same run
//! (BENCHMARKS.md):
//! - callback: evaluate a 100-rule content + encode + enqueue, for a typical ProcessStart,
//!   beside a memcpy of the record; the evaluation alone, without and with format 1's key
//!   table; the same 100 rules in content format 2 (the image path
//!   read in DOS form through a volume map), beside the format-1 row;
//! - the callback paths with the process table and the token's fields: a process start
//!   (its parent looked up, itself entered), an image load (its process looked up), beside
//!   the same event without them (the version 1 callback);
//! - drain: READ emptying a full queue into 64 KiB buffers.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ringfence::activity::{ImageMapping, NewProcess, Token};
use ringfence::host::{Host, HostProcesses};
use ringfence::processes::ProcessTable;
use ringfence::queue::Queue;
use ringfence::sensor::Sensor;
use ringfence_wire::ioctl::Notes;
use ringfence_wire::record;
use ringfence_wire::schema::{Event, SCHEMA};
use ringfence_wire::text::Text;
use std::fmt::Write;
use std::hint::black_box;
use std::time::{Duration, Instant};

/// 100 rules: 60 excludes and 39 includes that a typical process start does not match,
/// then the include that keeps it, so evaluation walks the whole table.
fn hundred_rules() -> Vec<u8> {
    let mut source = String::from("version = 1\n");
    for i in 0..60 {
        let _ = write!(
            source,
            "[[rule]]\nname = \"noise {i}\"\nkind = \"process_start\"\naction = \"exclude\"\n\
             match = [{{ field = \"image_path\", ends_with = \"\\\\updater{i}.exe\" }}, \
             {{ field = \"command_line\", contains = \"--silent-{i}\" }}]\n"
        );
    }
    for i in 0..39 {
        let _ = write!(
            source,
            "[[rule]]\nname = \"tool {i}\"\nkind = \"process_start\"\naction = \"include\"\n\
             match = [{{ field = \"image_path\", starts_with = \"C:\\\\Tools{i}\\\\\" }}]\n"
        );
    }
    source.push_str(
        "[[rule]]\nname = \"shells\"\nkind = \"process_start\"\naction = \"include\"\n\
         match = [{ field = \"image_path\", ends_with = \"\\\\powershell.exe\" }]\n",
    );
    ringfence_content::compile(&source, &SCHEMA).expect("the benchmark rules compile")
}

/// [`hundred_rules`] in content format 2: the same 60 excludes, 39 includes and the
/// include that keeps the event, case-insensitive.
fn hundred_rules_v2() -> Vec<u8> {
    use ringfence_content::v2::Role;
    use ringfence_content::v2::build::{ExprSpec, OperatorSpec, PredicateSpec, RuleSpec, ValueSpec, build};
    use ringfence_wire::schema::field::ProcessStart as F;
    let text = |field: F, operator, value: String| PredicateSpec {
        field: field as u8,
        operator,
        values: vec![ValueSpec::Text(value)],
        all: false,
        case_insensitive: true,
        windash: false,
    };
    let rule = |id: u32, role, name: String, predicates: Vec<PredicateSpec>| RuleSpec {
        id,
        kind: ringfence_wire::EventKind::ProcessStart,
        role,
        name,
        meta: String::new(),
        condition: ExprSpec::All(
            (0..u32::try_from(predicates.len()).expect("few")).map(ExprSpec::Predicate).collect(),
        ),
        predicates,
    };
    let mut rules = Vec::new();
    for i in 0..60 {
        rules.push(rule(
            i,
            Role::Exclude,
            format!("noise {i}"),
            vec![
                text(F::image_path, OperatorSpec::EndsWith, format!("\\updater{i}.exe")),
                text(F::command_line, OperatorSpec::Contains, format!("--silent-{i}")),
            ],
        ));
    }
    for i in 0..39 {
        let prefix = format!("C:\\Tools{i}\\");
        rules.push(rule(
            60 + i,
            Role::Include,
            format!("tool {i}"),
            vec![text(F::image_path, OperatorSpec::StartsWith, prefix)],
        ));
    }
    let shells = vec![text(F::image_path, OperatorSpec::EndsWith, "\\powershell.exe".to_owned())];
    rules.push(rule(99, Role::Include, "shells".to_owned(), shells));
    build(&rules, &SCHEMA, 1).expect("the benchmark rules build")
}

/// A volume map naming C: as `\Device\HarddiskVolume3`, as SET_VOLUME_MAP takes it.
fn volume_map_bytes() -> Vec<u8> {
    use ringfence_wire::volume_map::{Entry, VolumeMapRepr, units_to_le_bytes};
    let (nt, dos, windows) = (wide("\\Device\\HarddiskVolume3"), wide("C:"), wide("C:\\Windows"));
    let entries = [Entry { nt: &nt, dos: &dos }];
    let repr = VolumeMapRepr { windows_directory: &windows, entries: &entries };
    let mut units = vec![0u16; repr.units_len().expect("fits")];
    repr.emit(&mut units).expect("a valid map");
    let mut bytes = vec![0u8; units.len() * 2];
    units_to_le_bytes(&units, &mut bytes).expect("fits");
    bytes
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
}

fn process_start<'a>(path: &'a [u16], command_line: &'a [u16]) -> Event<'a> {
    Event::ProcessStart {
        pid: 7412,
        parent_pid: 4120,
        creating_pid: 4120,
        creating_tid: 9812,
        session_id: 1,
        image_path: Some(Text::wide(path)),
        command_line: Some(Text::wide(command_line)),
        start_key: 0x0000_0001_0000_2f41,
        create_time: 133_800_000_000_000_000,
        image_name_available: true,
        rule_name: Text::default(),
        matched_ids: ringfence_wire::text::Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: ringfence_wire::text::Ids::EMPTY,
        undecided_rest: 0,
        parent_start_key: None,
        parent_image_path: None,
        parent_command_line: None,
        user_sid: None,
        logon_id: None,
        integrity_level: None,
        elevation_type: None,
        parent_user_sid: None,
        truncated: 0,
    }
}

const QUEUE_BYTES: usize = 4 << 20;
const READ_BYTES: usize = 64 << 10;

/// A sensor with the default queue and process table.
fn bare() -> Sensor<Host> {
    let table = ProcessTable::with_budget(4 << 20).expect("table");
    Sensor::new(Queue::with_capacity(QUEUE_BYTES).expect("queue"), table, Notes::NONE)
}

fn sensor_with(content: &[u8]) -> Sensor<Host> {
    let sensor = bare();
    let judged = ringfence::content_slot::judge(content).expect("valid content");
    sensor.install(judged.into_owned().expect("pool"));
    sensor
}

fn callback(c: &mut Criterion) {
    let path = wide("\\Device\\HarddiskVolume3\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe");
    let line = wide("powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\Scripts\\inventory.ps1");
    let event = process_start(&path, &line);
    let record_len = record::encoded_len(&event).expect("encodable");
    let sensor = sensor_with(&hundred_rules());
    let mut sink = vec![0u8; QUEUE_BYTES];

    let mut group = c.benchmark_group("callback_path");
    group.throughput(Throughput::Elements(1));
    // Only the callback is timed; the queue is drained between batches, outside the clock.
    group.bench_function("evaluate_100_rules_encode_enqueue", |b| {
        b.iter_custom(|iterations| timed_observe(&sensor, &event, record_len, &mut sink, iterations))
    });
    // The same rules in format 2, paths read through the volume map.
    let sensor_v2 = sensor_with(&hundred_rules_v2());
    sensor_v2.set_volume_map(&volume_map_bytes()).expect("a valid map");
    group.bench_function("evaluate_format2_100_rules_encode_enqueue", |b| {
        b.iter_custom(|iterations| timed_observe(&sensor_v2, &event, record_len, &mut sink, iterations))
    });
    // Its parts: the verdict alone, and encode + enqueue with no content loaded.
    let rules = hundred_rules();
    let content = ringfence_content::validate(&rules, &SCHEMA).expect("valid");
    group.bench_function("part_evaluate_100_rules", |b| {
        b.iter(|| matches!(content.evaluate(black_box(&event)), ringfence_content::Verdict::Keep { .. }))
    });
    // The same with the key table the driver builds at load (keys found by hash, not search).
    let mut words = vec![0u32; content.key_table_words()];
    content.build_key_table(&mut words).expect("sized by the content");
    let tabled = content.with_key_table(&words);
    group.bench_function("part_evaluate_100_rules_with_key_table", |b| {
        b.iter(|| matches!(tabled.evaluate(black_box(&event)), ringfence_content::Verdict::Keep { .. }))
    });
    // Format 2's verdict alone (the library, paths as the NT text, scratch given), and the
    // driver's whole format-2 evaluation (volume map lock, translation, pool scratch).
    let rules_v2 = hundred_rules_v2();
    let content_v2 = ringfence_content::v2::validate(&rules_v2, &SCHEMA).expect("valid");
    let mut scratch = vec![0u64; content_v2.scratch_words()];
    group.bench_function("part_evaluate_format2_100_rules", |b| {
        b.iter(|| {
            let (mut matched, mut undecided) = ([0u32; 8], [0u32; 8]);
            let ids = ringfence_content::v2::RuleIds { matched: &mut matched, undecided: &mut undecided };
            let input = ringfence_content::v2::FromFields(black_box(&event));
            content_v2.evaluate(&input, &mut scratch, ids).map(|v| v.droppable())
        })
    });
    group.bench_function("part_evaluate_format2_100_rules_in_the_driver", |b| {
        b.iter(|| {
            sensor_v2.with_volume_map(|map| {
                let input = ringfence::evaluation::KernelInput::new(black_box(event), map);
                matches!(
                    ringfence::evaluation::evaluate(
                        &content_v2,
                        &input,
                        ringfence::evaluation::clock::<Host>
                    ),
                    ringfence::evaluation::Outcome::Keep { .. }
                )
            })
        })
    });
    let bare = bare();
    group.bench_function("part_encode_enqueue", |b| {
        b.iter_custom(|iterations| timed_observe(&bare, &event, record_len, &mut sink, iterations))
    });
    // Baseline: copying the same number of bytes the callback writes into the queue.
    let mut encoded = vec![0u8; record_len];
    record::encode(&event, 1, 1, &mut encoded).expect("encode");
    let mut target = vec![0u8; record_len];
    group.bench_function("memcpy_of_the_record", |b| {
        b.iter(|| target.copy_from_slice(black_box(&encoded)));
    });
    group.finish();
}

fn drain(c: &mut Criterion) {
    let path = wide("\\Device\\HarddiskVolume3\\Windows\\System32\\svchost.exe");
    let line = wide("C:\\Windows\\system32\\svchost.exe -k netsvcs -p -s Schedule");
    let event = process_start(&path, &line);
    // As many records as fit without a drop (a drop would add a LostEvents record).
    let fits = QUEUE_BYTES / record::encoded_len(&event).expect("encodable");
    let full = || {
        let sensor = bare();
        for _ in 0..fits {
            sensor.observe(event);
        }
        sensor
    };
    let queued = full().stats().queue_used_bytes as usize;
    let mut buffer = vec![0u8; READ_BYTES];

    let mut group = c.benchmark_group("read_drain");
    group.throughput(Throughput::Bytes(queued as u64));
    group.bench_function("full_queue_into_64k_reads", |b| {
        b.iter_batched(
            full,
            |sensor| {
                let mut total = 0;
                while let Ok(n @ 1..) = sensor.read(&mut buffer) {
                    total += n;
                }
                assert_eq!(total, queued);
                sensor
            },
            BatchSize::PerIteration,
        )
    });
    let source = vec![0x5Au8; queued];
    let mut chunk = vec![0u8; READ_BYTES];
    group.bench_function("memcpy_same_bytes_in_64k_chunks", |b| {
        b.iter(|| {
            for piece in black_box(&source).chunks(READ_BYTES) {
                chunk[..piece.len()].copy_from_slice(piece);
                black_box(&chunk);
            }
        })
    });
    group.finish();
}

const EXPLORER: &str = r"\Device\HarddiskVolume3\Windows\explorer.exe";
const USER: &str = "S-1-5-21-1004336348-1177238915-682003330-1001";
const BOOT: u64 = 0x0003_0000_0000_0000;

/// The same process start and image load with and without the process table and token
/// fields, through the 100-rule content. The start's parent (explorer) is in the table;
/// each timed start enters the same new process again, so it replaces its own entry (one
/// allocation and one free per start, as a start and its exit cost).
fn table_paths(c: &mut Criterion) {
    let path = wide("\\Device\\HarddiskVolume3\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe");
    let line = wide("powershell.exe -NoProfile -ExecutionPolicy Bypass -File C:\\Scripts\\inventory.ps1");
    let sid = wide(USER);
    let new = NewProcess {
        pid: 7412,
        parent_pid: 4120,
        creating_pid: 4120,
        creating_tid: 9812,
        session_id: 1,
        image_path: Some(&path),
        command_line: Some(&line),
        start_key: BOOT | 0x2f41,
        create_time: 133_800_000_000_000_000,
        image_name_available: true,
        token: Token {
            user_sid: Some(&sid),
            logon_id: Some(0x3_66A1),
            integrity_level: Some(0x2000),
            elevation_type: Some(3),
        },
    };
    let mut kernel = HostProcesses::default();
    kernel.run(4120, BOOT | 0x2f00, EXPLORER, r"C:\Windows\Explorer.EXE", USER);
    kernel.run(7412, BOOT | 0x2f41, "", "", USER);
    let sensor = sensor_with(&hundred_rules());
    // Explorer enters the table once, from the kernel, as a running process would.
    sensor.process_start(&new, &kernel);
    let v1 = process_start(&path, &line);
    let mut sink = vec![0u8; QUEUE_BYTES];
    let mut group = c.benchmark_group("callback_with_process_table");
    group.throughput(Throughput::Elements(1));
    group.bench_function("process_start_with_parent_and_token", |b| {
        b.iter_custom(|iterations| {
            timed(&sensor, &mut sink, iterations, || {
                black_box(sensor.process_start(black_box(&new), &kernel))
            })
        })
    });
    group.bench_function("baseline_process_start_without_them", |b| {
        b.iter_custom(|iterations| {
            timed(&sensor, &mut sink, iterations, || black_box(sensor.observe(black_box(v1))))
        })
    });
    let dll = wide("\\Device\\HarddiskVolume3\\Windows\\System32\\kernel32.dll");
    let load = ImageMapping {
        pid: 7412,
        image_path: Some(&dll),
        image_base: 0x7ffa_1234_0000,
        image_size: 0xc_2000,
        signature_level: 12,
        signature_type: 1,
        kernel_image: false,
        time: 133_800_000_000_000_100,
    };
    let v1_load = Event::ImageLoad {
        pid: load.pid,
        image_path: Some(Text::wide(&dll)),
        image_base: load.image_base,
        image_size: load.image_size,
        signature_level: load.signature_level,
        signature_type: load.signature_type,
        kernel_image: false,
        time: load.time,
        rule_name: Text::default(),
        matched_ids: ringfence_wire::text::Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: ringfence_wire::text::Ids::EMPTY,
        undecided_rest: 0,
        process_image_path: None,
        process_start_key: None,
        user_sid: None,
        truncated: 0,
    };
    group.bench_function("image_load_with_process", |b| {
        b.iter_custom(|iterations| {
            timed(&sensor, &mut sink, iterations, || black_box(sensor.image_load(black_box(&load), &kernel)))
        })
    });
    group.bench_function("baseline_image_load_without_it", |b| {
        b.iter_custom(|iterations| {
            timed(&sensor, &mut sink, iterations, || black_box(sensor.observe(black_box(v1_load))))
        })
    });
    group.finish();
}

criterion_group!(benches, callback, table_paths, drain);
criterion_main!(benches);

/// Times `iterations` callbacks in batches that fit the queue; the queue is
/// drained between batches, outside the clock.
fn timed_observe(
    sensor: &Sensor<Host>,
    event: &Event<'_>,
    record_len: usize,
    sink: &mut [u8],
    iterations: u64,
) -> Duration {
    let mut timed = Duration::ZERO;
    let mut left = iterations;
    while left > 0 {
        let batch = left.min(((QUEUE_BYTES / record_len) as u64).saturating_sub(1));
        let start = Instant::now();
        for _ in 0..batch {
            black_box(sensor.observe(black_box(*event)));
        }
        timed += start.elapsed();
        while matches!(sensor.read(sink), Ok(n) if n > 0) {}
        left -= batch;
    }
    timed
}

/// Times `iterations` calls of `callback` in batches that surely fit the queue (records of
/// at most 4 KiB here); the queue is drained between batches, outside the clock.
fn timed<R>(
    sensor: &Sensor<Host>,
    sink: &mut [u8],
    iterations: u64,
    mut callback: impl FnMut() -> R,
) -> Duration {
    let mut timed = Duration::ZERO;
    let mut left = iterations;
    while left > 0 {
        let batch = left.min((QUEUE_BYTES / 4096) as u64);
        let start = Instant::now();
        for _ in 0..batch {
            callback();
        }
        timed += start.elapsed();
        while matches!(sensor.read(sink), Ok(n) if n > 0) {}
        left -= batch;
    }
    timed
}
