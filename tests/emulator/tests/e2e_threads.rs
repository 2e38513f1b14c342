//! Several emulated threads against one driver: the deterministic scheduler of
//! `ringfence_emulator::threads`, first against the probe driver (push-lock semantics, a
//! planted lock-order inversion caught as a deadlock), then the real ringfence.sys with its
//! callbacks on one thread while others send READ, LOAD_CONTENT and STATS, over a fixed set
//! of seeds, checked as the loom models check the portable core.

mod common;

use common::activity::{kind_of, mixed};
use common::probe::probe_sys;
use common::sensor::start;
use ringfence_emulator::{Caller, Done, Emulator, LockMode, Schedule, ThreadsError, Unload, Waiting, Work};
use ringfence_wire::batch::Batch;
use ringfence_wire::ioctl::{Code, LoadContentResponse, SetEventRequest, StatsResponse};
use ringfence_wire::schema::{Event, EventKind, SCHEMA};

const A_THEN_B: u32 = 17;
const B_THEN_A: u32 = 18;
const LOCK_ADDRESSES: u32 = 19;

/// The probe built with its nested push locks (once per test binary).
fn probe_image() -> &'static [u8] {
    static IMAGE: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    IMAGE.get_or_init(|| probe_sys(&["probe_lock_order"]))
}

/// The probe loaded and opened; and the addresses of its locks A and B.
fn probe() -> (Emulator, u64, u64, u64) {
    let mut emu = Emulator::load(probe_image()).expect("the probe loads");
    let (status, file) = emu.open(Caller::Administrator, true, true).expect("IRP_MJ_CREATE returns");
    assert_eq!(status, 0);
    let file = file.expect("a file object");
    let out = emu.ioctl(file, LOCK_ADDRESSES, &[], 16).expect("the ioctl returns").output;
    let a = u64::from_le_bytes(out[..8].try_into().expect("8 bytes"));
    let b = u64::from_le_bytes(out[8..16].try_into().expect("8 bytes"));
    (emu, file, a, b)
}

fn control(file: u64, code: u32) -> Work {
    Work::Ioctl { file, code, input: Vec::new(), output_len: 0 }
}

#[test]
fn a_planted_lock_order_inversion_is_reported_as_a_deadlock_with_each_threads_locks() {
    let (mut emu, file, a, b) = probe();
    // Giving way at every switch point: each thread takes its first lock, then waits for the other's.
    let schedule = Schedule { seed: 7, switch_one_in: 1 };
    let outcome =
        emu.run_threads(vec![vec![control(file, A_THEN_B)], vec![control(file, B_THEN_A)]], schedule);
    assert_eq!(
        outcome,
        Err(ThreadsError::Deadlock {
            threads: vec![
                Waiting { thread: 0, holds: vec![(a, LockMode::Exclusive)], wants: (b, LockMode::Exclusive) },
                Waiting { thread: 1, holds: vec![(b, LockMode::Exclusive)], wants: (a, LockMode::Exclusive) },
            ]
        })
    );
}

/// What a run of the inversion came to under `seed`: deadlocked, or completed with how many
/// switches and blocks.
fn inversion_outcome(seed: u64) -> Result<(u64, u64), ThreadsError> {
    let (mut emu, file, _, _) = probe();
    let work = vec![vec![control(file, A_THEN_B)], vec![control(file, B_THEN_A)]];
    let run = emu.run_threads(work, Schedule { seed, switch_one_in: 2 })?;
    assert_eq!(run.done, vec![vec![Done::Ioctl(Ok(ok()))], vec![Done::Ioctl(Ok(ok()))]]);
    Ok((run.switches, run.blocks))
}

fn ok() -> ringfence_emulator::IoctlResult {
    ringfence_emulator::IoctlResult { status: 0, information: 0, output: Vec::new() }
}

#[test]
fn a_seed_is_a_schedule_and_the_sweep_finds_the_inversion() {
    let outcomes: Vec<_> = (0..12).map(inversion_outcome).collect();
    assert_eq!(outcomes, (0..12).map(inversion_outcome).collect::<Vec<_>>(), "the same seeds, the same runs");
    assert!(outcomes.iter().any(Result::is_err), "some schedule deadlocks: {outcomes:?}");
    assert!(outcomes.iter().any(Result::is_ok), "some schedule completes: {outcomes:?}");
    for outcome in outcomes.iter().filter_map(|o| o.as_ref().err()) {
        let ThreadsError::Deadlock { threads } = outcome else { panic!("only deadlocks: {outcome:?}") };
        assert_eq!(threads.len(), 2, "both threads wait");
    }
}

#[test]
fn threads_taking_push_locks_in_one_order_block_but_never_deadlock_and_leave_clean_books() {
    let mut blocks = 0;
    for seed in 0..12 {
        let (mut emu, file, _, _) = probe();
        let work = vec![vec![control(file, A_THEN_B); 2], vec![control(file, A_THEN_B); 2]];
        let run = emu.run_threads(work, Schedule { seed, switch_one_in: 1 }).expect("no deadlock");
        assert_eq!(run.done, vec![vec![Done::Ioctl(Ok(ok())); 2]; 2]);
        blocks += run.blocks;
        emu.close(file).expect("close returns");
        assert_eq!(emu.unload(), Ok(Unload::Done));
        assert_eq!(emu.report().problems(), Vec::new(), "seed {seed}");
    }
    assert!(blocks > 0, "the second thread waited for the first");
}

fn content(version: u32, rule: &str) -> Vec<u8> {
    let source = format!(
        "version = {version}\n\n[[rule]]\nname = \"{rule}\"\nkind = \"process_start\"\naction = \"include\"\n\
         match = [{{ field = \"image_path\", ends_with = \".exe\" }}]\n"
    );
    ringfence_content::compile(&source, &SCHEMA).expect("the test rules compile")
}

/// One delivered record, reduced to what the accounting needs.
#[derive(Debug)]
struct Delivered {
    sequence: u64,
    kind: EventKind,
    pid: Option<u32>,
    rule_name: String,
    lost: Option<(u64, u64, u64)>,
    content_version: Option<u32>,
}

fn delivered(batch: &[u8]) -> Vec<Delivered> {
    let batch = Batch::new_checked(batch).expect("the driver's batch decodes");
    batch
        .iter()
        .map(|r| {
            let mut d = Delivered {
                sequence: r.sequence(),
                kind: r.kind(),
                pid: None,
                rule_name: String::new(),
                lost: None,
                content_version: None,
            };
            match r.event() {
                Event::ProcessStart { pid, rule_name, .. } => {
                    d.pid = Some(pid);
                    d.rule_name = rule_name.chars().map(|c| c.unwrap_or('?')).collect();
                }
                Event::LostEvents { count, first_sequence, last_sequence, .. } => {
                    d.lost = Some((first_sequence, last_sequence, count));
                }
                Event::ContentChanged { content_version, .. } => d.content_version = Some(content_version),
                _ => {}
            }
            d
        })
        .collect()
}

/// The README's promise, in delivery order: numbers from 1, each the previous plus one,
/// except a LostEvents record's, which follows the range it reports, exactly the skipped numbers.
fn assert_sequences_accounted(records: &[Delivered]) {
    let mut expected = 1;
    for d in records {
        if let Some((first, last, count)) = d.lost {
            assert_eq!((first, last - first + 1, d.sequence), (expected, count, last + 1), "{d:?}");
        } else {
            assert_eq!(d.sequence, expected, "no gap, no repeat: {d:?}");
        }
        expected = d.sequence + 1;
    }
}

fn balanced(stats: &StatsResponse) {
    for &kind in EventKind::ALL {
        let c = stats.kind(kind);
        assert_eq!(c.seen, c.filtered + c.queued + c.dropped, "{kind:?}: {c:?}");
    }
}

/// Callbacks on one thread, SET_EVENT, READ, LOAD_CONTENT and SET_EVENT(0) on a second, STATS on a third, under one
/// seed; then the queue drained, the handle closed and the driver unloaded. Returns how many
/// records after the swap the new content tagged, and the run's switches and blocks.
fn race(seed: u64) -> (u64, u64, u64) {
    let mut sensor = start();
    let (first, second) = (content(1, "first"), content(2, "second"));
    assert!(sensor.load_content(&first).accepted);
    let activity = mixed(24, seed);
    let read_len = sensor.hello.max_record_bytes * 4;
    let read =
        Work::Ioctl { file: sensor.file, code: Code::Read as u32, input: Vec::new(), output_len: read_len };
    let load = Work::Ioctl {
        file: sensor.file,
        code: Code::LoadContent as u32,
        input: second,
        output_len: u32::try_from(LoadContentResponse::LEN).expect("fits"),
    };
    let stats = Work::Ioctl {
        file: sensor.file,
        code: Code::Stats as u32,
        input: Vec::new(),
        output_len: u32::try_from(StatsResponse::LEN).expect("fits"),
    };
    let event = sensor.emu.create_event();
    let set_event = |handle: u64| {
        let mut input = vec![0u8; SetEventRequest::LEN];
        SetEventRequest { handle }.emit(&mut input).expect("the request fits");
        Work::Ioctl { file: sensor.file, code: Code::SetEvent as u32, input, output_len: 0 }
    };
    let work = vec![
        activity.iter().cloned().map(Work::from).collect(),
        vec![
            set_event(event),
            read.clone(),
            read.clone(),
            load,
            read.clone(),
            read.clone(),
            read,
            set_event(0),
        ],
        vec![stats.clone(), stats.clone(), stats],
    ];
    let run = sensor
        .emu
        .run_threads(work, Schedule { seed, switch_one_in: 3 })
        .unwrap_or_else(|e| panic!("seed {seed}: {e:?}"));

    for done in &run.done[0] {
        assert!(matches!(
            done,
            Done::ProcessStart(Ok(0)) | Done::ProcessExit(Ok(())) | Done::ImageLoad(Ok(()))
        ));
    }
    let mut records = Vec::new();
    for done in &run.done[1] {
        let Done::Ioctl(Ok(result)) = done else { panic!("seed {seed}: {done:?}") };
        assert_eq!(result.status, 0, "seed {seed}");
        if result.output.is_empty() {
            continue;
        }
        if result.output.len() == LoadContentResponse::LEN && Batch::new_checked(&result.output).is_err() {
            let response = LoadContentResponse::parse(&result.output).expect("a verdict");
            assert_eq!((response.accepted, response.active_version), (true, 2));
        } else {
            records.extend(delivered(&result.output));
        }
    }
    for done in &run.done[2] {
        let Done::Ioctl(Ok(result)) = done else { panic!("seed {seed}: {done:?}") };
        balanced(&StatsResponse::parse(&result.output).expect("a well-formed STATS response"));
    }
    for bytes in sensor.read_all() {
        records.extend(delivered(&bytes));
    }
    assert_sequences_accounted(&records);

    // Every activity is delivered, filtered or reported lost exactly once, per kind.
    let stats = sensor.stats();
    balanced(&stats);
    for kind in [EventKind::ProcessStart, EventKind::ProcessExit, EventKind::ImageLoad] {
        let fired = activity.iter().filter(|a| kind_of(a) == kind).count() as u64;
        let c = stats.kind(kind);
        let delivered = records.iter().filter(|d| d.kind == kind).count() as u64;
        assert_eq!((c.seen, c.queued), (fired, delivered), "seed {seed}, {kind:?}");
    }
    let mut pids: Vec<u32> = records.iter().filter_map(|d| d.pid).collect();
    let starts = pids.len();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), starts, "seed {seed}: no start delivered twice");
    assert_eq!(stats.records_delivered, records.len() as u64);

    // After the swap's ContentChanged record, only the new content judges.
    let swap = records.iter().position(|d| d.content_version == Some(2)).expect("the swap is reported");
    let after = &records[swap + 1..];
    assert!(
        after.iter().all(|d| d.rule_name != "first"),
        "seed {seed}: the old content judged after the swap"
    );
    let tagged_after = after.iter().filter(|d| d.rule_name == "second").count() as u64;

    // Records arrived while the event was registered; unregistered, the driver holds no reference.
    assert!(sensor.emu.take_signal(event), "seed {seed}: the reader was woken");
    let report = sensor.stop();
    assert_eq!(report.problems(), Vec::new(), "seed {seed}");
    (tagged_after, run.switches, run.blocks)
}

#[test]
fn callbacks_racing_read_load_content_and_stats_account_for_every_record_at_every_seed() {
    let (mut tagged, mut blocks) = (0, 0);
    for seed in 1..=6 {
        let (tagged_after, switches, blocked) = race(seed);
        assert!(switches > 0, "seed {seed} interleaved the threads");
        eprintln!(
            "seed {seed}: {switches} switches, {blocked} blocks, {tagged_after} records tagged after the swap"
        );
        tagged += tagged_after;
        blocks += blocked;
    }
    assert!(tagged > 0, "some records were judged by the new content after the swap");
    assert!(blocks > 0, "some thread waited for a push lock another held");
}
