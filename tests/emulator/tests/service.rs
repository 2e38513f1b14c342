//! The companion's service loop against the real driver in the emulated
//! kernel, through a day in a sensor's life: the service starts before the
//! driver; the driver is stopped mid-stream (the service lets go so that it
//! can unload) and started again (sequence numbers start over); another
//! client holds the exclusive device for a while; the output folder
//! disappears (the driver's queue overflows meanwhile) and comes back; files
//! rotate under load throughout; and the service is killed at a random file
//! operation, leaving whatever it was writing half done, then started again.
//! Afterwards every sequence number of every driver load is in exactly one
//! line of the files or in a LostEvents range, and every line is whole.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, UNIX_EPOCH};

use common::activity::{Rng, mixed};
use common::sys::ringfence_sys;
use ringfence_companion::config::{Config, Enrichment, FileOutput, Format, FsyncPolicy, Output};
use ringfence_companion::output::FileSystem;
use ringfence_companion::output::faults::{Faults, FaultyStorage};
use ringfence_companion::service::{Counters, Service};
use ringfence_emulator::{EmulatedSystem, RegValue, Step};
use serde_json::Value;

/// Diagnostics kept for the failure message.
#[derive(Clone, Default)]
struct Diag(Arc<Mutex<Vec<u8>>>);

impl Write for Diag {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Diag {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn config(dir: &Path) -> Config {
    Config {
        host_name: Some("WS-0042".into()),
        health_interval: Duration::from_secs(2),
        content: None,
        retry_max: Duration::from_secs(2),
        enrichment: Enrichment::default(),
        sigma: Vec::new(),
        outputs: vec![Output::File(FileOutput {
            format: Format::Ecs,
            directory: dir.to_owned(),
            name: "ringfence".into(),
            rotate_size: 64 << 10,
            rotate_age: Some(Duration::from_secs(60)),
            keep_files: 100_000,
            keep_bytes: None,
            fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
        })],
    }
}

/// Runs one service process until the script is over or it is killed.
fn run(system: &EmulatedSystem, dir: &Path, faults: &Faults, diag: &Diag) -> Counters {
    let storage_faults = faults.clone();
    let mut service = Service::new(
        config(dir),
        system.clone(),
        move || FaultyStorage { inner: FileSystem, faults: storage_faults.clone() },
        system.clone(),
        || Box::new(std::io::sink()),
        Box::new(diag.clone()),
    )
    .expect("the configuration has only a file output");
    let stop = || system.played_out() || faults.plan().killed;
    service.run(&stop)
}

fn activity(list: Vec<ringfence_emulator::Activity>) -> impl Iterator<Item = Step> {
    list.into_iter().map(Step::Activity)
}

fn idle(n: usize) -> impl Iterator<Item = Step> {
    (0..n).map(|_| Step::Act(Box::new(|| {})))
}

/// Every line of the output files, oldest first: the folder that was moved away, then the current one.
fn lines(dirs: &[PathBuf]) -> Vec<Value> {
    let mut out = Vec::new();
    for dir in dirs {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        // Rotated files sort by their time; the active file is the newest.
        names.sort_by_key(|n| (n == "ringfence.jsonl", n.clone()));
        for name in names {
            let text = std::fs::read(dir.join(&name)).unwrap();
            assert!(text.is_empty() || text.ends_with(b"\n"), "{name} ends with a whole line");
            for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let value: Value = serde_json::from_slice(line).unwrap_or_else(|e| {
                    panic!("{name}: a torn or corrupt line ({e}): {}", String::from_utf8_lossy(line))
                });
                out.push(value);
            }
        }
    }
    out
}

/// What the files say about one driver load.
#[derive(Debug, Default)]
struct Load {
    delivered: Vec<u64>,
    lost_ranges: Vec<(u64, u64)>,
    /// Process and image events delivered.
    activity_delivered: u64,
    /// Process and image events the driver announced as dropped.
    activity_dropped: u64,
    /// Numbers the companion announced it lost.
    lost_by_companion: u64,
}

fn loads(lines: &[Value]) -> Vec<Load> {
    let mut loads: Vec<Load> = Vec::new();
    let mut previous: Option<u64> = None;
    let u = |v: &Value, p: &str| v.pointer(p).and_then(Value::as_u64).unwrap_or_else(|| panic!("{p} in {v}"));
    for line in lines {
        let action = line.pointer("/event/action").and_then(Value::as_str).unwrap_or_default();
        if let Some(sequence) = line.pointer("/event/sequence").and_then(Value::as_u64) {
            if previous.is_none_or(|p| sequence <= p) {
                loads.push(Load::default());
            }
            previous = Some(sequence);
            let load = loads.last_mut().unwrap();
            load.delivered.push(sequence);
            match action {
                "process_start" | "process_exit" | "image_load" => load.activity_delivered += 1,
                "lost_events" => {
                    load.lost_ranges.push((
                        u(line, "/ringfence/lost/first_sequence"),
                        u(line, "/ringfence/lost/last_sequence"),
                    ));
                    load.activity_dropped += ["process_start", "process_exit", "image_load"]
                        .iter()
                        .map(|k| u(line, &format!("/ringfence/lost/{k}")))
                        .sum::<u64>();
                }
                _ => {}
            }
        } else if action == "lost_events" {
            let load = loads.last_mut().expect("the companion's lost record follows a driver record");
            let (first, last) =
                (u(line, "/ringfence/lost/first_sequence"), u(line, "/ringfence/lost/last_sequence"));
            load.lost_ranges.push((first, last));
            load.lost_by_companion += last - first + 1;
        }
    }
    loads
}

fn actions(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.pointer("/event/dataset").is_some())
        .map(|l| l.pointer("/event/action").and_then(Value::as_str).unwrap_or_default().to_owned())
        .collect()
}

fn a_day_in_the_life(seed: u64) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("events");
    let moved = root.path().join("events.moved");
    let mut rng = Rng::new(seed);
    let system = EmulatedSystem::new(ringfence_sys(), UNIX_EPOCH + Duration::from_secs(1_795_601_700));
    // The smallest queue, so that the output outage overflows it.
    system.set_parameter("QueueBytes", RegValue::Dword(256 << 10));
    let faults = Faults::default();
    system.watch_for_kill(faults.clone());
    let (away, back) = (dir.clone(), (dir.clone(), moved.clone()));
    let kill_faults = faults.clone();
    let (kill_after, partial) = (1 + rng.below(60), usize::try_from(rng.below(3000)).unwrap());
    system.script(idle(3));
    system.script([Step::StartDriver]);
    system.script(activity(mixed(400, seed)));
    system.script([Step::StopDriver, Step::Together(vec![Step::StartDriver, Step::OtherClientOpens])]);
    system.script(idle(6));
    system.script([Step::OtherClientCloses]);
    system.script(activity(mixed(300, seed + 1)));
    system.script([Step::Act(Box::new(move || std::fs::rename(&away, &back.1).unwrap()))]);
    system.script(activity(mixed(2500, seed + 2)));
    system.script(idle(4));
    system.script([Step::Act(Box::new(move || std::fs::create_dir(&back.0).unwrap()))]);
    system.script(activity(mixed(300, seed + 3)));
    system.script([Step::Act(Box::new(move || {
        kill_faults.update(|p| {
            p.operations_until_kill = Some(kill_after);
            p.partial_bytes = partial;
        })
    }))]);
    system.script(activity(mixed(400, seed + 4)));
    system.script([Step::StopDriver, Step::StartDriver]);
    system.script(activity(mixed(200, seed + 5)));

    let diag = Diag::default();
    let first = run(&system, &dir, &faults, &diag);
    assert!(
        faults.plan().killed,
        "seed {seed}: the kill happened before the script ran out\n{}",
        diag.text()
    );
    // A new process: same machine, same driver, same folder.
    faults.update(|p| *p = Default::default());
    let second = run(&system, &dir, &faults, &diag);
    let context =
        || format!("seed {seed}, kill after {kill_after} operations with {partial} bytes\n{}", diag.text());

    let lines = lines(&[moved, dir]);
    let loads = loads(&lines);
    let ledger = system.ledger();
    let shape: Vec<(u64, u64, usize)> =
        loads.iter().map(|l| (l.delivered[0], *l.delivered.last().unwrap(), l.delivered.len())).collect();
    assert_eq!(loads.len(), 3, "three driver loads, found (first, last, count) {shape:?}: {}", context());
    assert_eq!(ledger.activity_per_load.len(), 3);
    for (index, load) in loads.iter().enumerate() {
        let unique: BTreeSet<u64> = load.delivered.iter().copied().collect();
        assert_eq!(
            unique.len(),
            load.delivered.len(),
            "load {index}: no sequence number twice: {}",
            context()
        );
        let mut covered = unique.clone();
        for (first, last) in &load.lost_ranges {
            for n in *first..=*last {
                assert!(
                    covered.insert(n),
                    "load {index}: {n} both delivered and announced lost: {}",
                    context()
                );
            }
        }
        let max = *covered.last().unwrap();
        assert_eq!(
            covered,
            (1..=max).collect::<BTreeSet<u64>>(),
            "load {index}: every number accounted: {}",
            context()
        );
        let fed = ledger.activity_per_load[index];
        if load.lost_by_companion == 0 {
            assert_eq!(load.activity_delivered + load.activity_dropped, fed, "load {index}: {}", context());
        } else {
            assert!(
                load.activity_delivered + load.activity_dropped + load.lost_by_companion >= fed,
                "{}",
                context()
            );
        }
    }
    // The outage overflowed the queue: the driver counted and announced the drops.
    assert!(loads[1].activity_dropped > 0, "{}", context());
    let actions = actions(&lines);
    for expected in [
        "service_started",
        "driver_unavailable",
        "driver_connected",
        "driver_stopping",
        "driver_restarted",
        "output_resumed",
        "health",
        "service_stopped",
    ] {
        assert!(actions.iter().any(|a| a == expected), "a {expected} record: {actions:?}\n{}", context());
    }
    let busy = lines.iter().any(|l| {
        l.pointer("/event/action") == Some(&Value::from("driver_unavailable"))
            && l.pointer("/ringfence/service/reason")
                .and_then(Value::as_str)
                .is_some_and(|r| r.contains("already open in another program"))
    });
    assert!(busy && ledger.refused_in_use > 0, "the second client was reported: {}", context());
    let rotated = std::fs::read_dir(root.path().join("events")).unwrap().count();
    assert!(rotated > 3, "files rotated under load ({rotated} files)");
    assert_eq!(second.events_pending, 0);
    assert!(first.events_written + second.events_written > 0);
    // Nothing left in the books of the last driver: its handle was closed at stop.
    let open_files = system.with_driver(|e| e.machine.uc.get_data().io.files.len()).unwrap();
    assert_eq!(open_files, 0, "the service closed its handle on the way out");
}

#[test]
fn through_restarts_a_busy_device_a_vanished_folder_and_a_kill_every_sequence_number_is_written_once_or_announced_lost()
 {
    for seed in [1, 2, 3] {
        a_day_in_the_life(seed);
    }
}
