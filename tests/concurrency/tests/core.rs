//! loom models of the sensor's callbacks racing the IOCTLs that share its state. Each model
//! runs the real handlers (`control::dispatch`, `Sensor::observe`) on the loom platform, then
//! checks what a reader received against what the callbacks were told.
//!
//! Run with `cargo xtask loom` (RUSTFLAGS="--cfg loom", LOOM_MAX_PREEMPTIONS bounded).
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, Ordering};
use loom::thread;
use ringfence::channel::Pushed;
use ringfence::control::{Completion, IoBuffers, dispatch};
use ringfence::processes::ProcessTable;
use ringfence::queue::Queue;
use ringfence::sensor::Sensor;
use ringfence_concurrency::{Ledger, Loom, event};
use ringfence_wire::ioctl::{
    Code, LoadContentResponse, Notes, STATUS_SUCCESS, SetEventRequest, StatsResponse,
};
use ringfence_wire::schema::{Event, EventKind, SCHEMA};
use ringfence_wire::{Text, record};

const IMAGE: &str = "C:\\a.exe";

/// A `METHOD_BUFFERED` system buffer: the input at its start, the output over the same bytes.
struct SystemBuffer {
    bytes: Vec<u8>,
    input_len: usize,
    output_len: usize,
}

impl IoBuffers for SystemBuffer {
    fn input(&self) -> &[u8] {
        &self.bytes[..self.input_len]
    }

    fn output_len(&self) -> usize {
        self.output_len
    }

    fn output(&mut self) -> &mut [u8] {
        let out = &mut self.bytes[..self.output_len];
        out.fill(0);
        out
    }
}

fn ioctl(sensor: &Sensor<Loom>, code: Code, input: &[u8], output_len: usize) -> (Completion, Vec<u8>) {
    let mut bytes = vec![0u8; input.len().max(output_len)];
    bytes[..input.len()].copy_from_slice(input);
    let mut io = SystemBuffer { bytes, input_len: input.len(), output_len };
    let completion = dispatch(sensor, code.value(), &mut io);
    let written = io.bytes[..completion.information.min(output_len)].to_vec();
    (completion, written)
}

fn sensor(queue_bytes: usize) -> Arc<Sensor<Loom>> {
    Arc::new(Sensor::new(
        Queue::with_capacity(queue_bytes).expect("the queue is allocated"),
        ProcessTable::with_budget(64 << 10).expect("the table is allocated"),
        Notes::NONE,
    ))
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
}

fn start(pid: u32, path: &[u16]) -> Event<'_> {
    Event::ProcessStart {
        pid,
        parent_pid: 4,
        creating_pid: 4,
        creating_tid: 8,
        session_id: 1,
        image_path: Some(Text::wide(path)),
        command_line: None,
        start_key: u64::from(pid),
        create_time: 2,
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

/// One `READ` with room for everything; its records go into `ledger`.
fn read(sensor: &Sensor<Loom>, ledger: &mut Ledger) -> usize {
    let (completion, out) = ioctl(sensor, Code::Read, &[], 1 << 16);
    assert_eq!(completion.status, STATUS_SUCCESS);
    ledger.take(&out).expect("the driver's records decode");
    out.len()
}

/// READs until the queue is empty and no loss is pending.
fn drain(sensor: &Sensor<Loom>, ledger: &mut Ledger) {
    while read(sensor, ledger) > 0 {}
}

/// What STATS answers (the response before it is emitted: the models' queues are smaller
/// than the protocol's smallest, which the wire parser refuses).
fn stats(sensor: &Sensor<Loom>) -> StatsResponse {
    sensor.stats()
}

fn set_event(sensor: &Sensor<Loom>, handle: u64) {
    let mut request = [0u8; SetEventRequest::LEN];
    SetEventRequest { handle }.emit(&mut request).expect("the request fits");
    assert_eq!(ioctl(sensor, Code::SetEvent, &request, 0).0.status, STATUS_SUCCESS);
}

fn load_content(sensor: &Sensor<Loom>, content: &[u8]) -> LoadContentResponse {
    let (completion, out) = ioctl(sensor, Code::LoadContent, content, LoadContentResponse::LEN);
    assert_eq!(completion.status, STATUS_SUCCESS);
    LoadContentResponse::parse(&out).expect("the response decodes")
}

fn content(version: u32, rule: &str) -> Vec<u8> {
    let source = format!(
        "version = {version}\n\n[[rule]]\nname = \"{rule}\"\nkind = \"process_start\"\naction = \"include\"\n\
         match = [{{ field = \"image_path\", ends_with = \".exe\" }}]\n"
    );
    ringfence_content::compile(&source, &SCHEMA).expect("the model's rules compile")
}

/// Every counter per kind adds up: seen = filtered + queued + dropped.
fn assert_counters_balance(stats: &StatsResponse) {
    for &kind in EventKind::ALL {
        let c = stats.kind(kind);
        assert_eq!(c.seen, c.filtered + c.queued + c.dropped, "{kind:?} counters in one STATS snapshot");
    }
}

/// Four process starts into a queue with room for two, while a reader reads twice: every
/// sequence number is delivered once or reported lost once, each start exactly once.
#[test]
fn callbacks_racing_read_lose_and_duplicate_nothing() {
    let path = wide(IMAGE);
    let size = record::encoded_len(&start(1, &path)).expect("the record encodes");
    loom::model(move || {
        let sensor = sensor(2 * size);
        let callbacks = {
            let sensor = Arc::clone(&sensor);
            thread::spawn(move || {
                let path = wide(IMAGE);
                (1..=4u32).map(|pid| (pid, sensor.observe(start(pid, &path)))).collect::<Vec<_>>()
            })
        };
        let mut ledger = Ledger::default();
        read(&sensor, &mut ledger);
        read(&sensor, &mut ledger);
        let pushed = callbacks.join().expect("the callback thread returns");
        drain(&sensor, &mut ledger);

        let next = ledger.check_sequences().expect("every sequence number is accounted for exactly once");
        let mut pids = ledger.process_starts();
        let delivered = pids.len() as u64;
        pids.sort_unstable();
        pids.dedup();
        assert_eq!(pids.len() as u64, delivered, "no process start is delivered twice");
        assert_eq!(delivered + ledger.lost_process_starts(), 4, "each start is delivered or reported lost");
        for (pid, outcome) in pushed {
            match outcome {
                Some(Pushed::Queued { sequence }) => {
                    assert_eq!(
                        ledger.record(sequence).and_then(|d| d.pid),
                        Some(pid),
                        "start {pid} at {sequence}"
                    );
                }
                Some(Pushed::Dropped { sequence }) => {
                    assert!(ledger.reported_lost(sequence), "{sequence} lost")
                }
                None => panic!("no content is loaded: nothing is filtered"),
            }
        }
        let lost_records = ledger.count(EventKind::LostEvents);
        assert_eq!(
            next - 1,
            4 + lost_records,
            "numbers go to the four starts and the LostEvents records only"
        );
        let after = stats(&sensor);
        assert_counters_balance(&after);
        let starts = after.kind(EventKind::ProcessStart);
        assert_eq!((starts.seen, starts.queued, starts.dropped), (4, delivered, 4 - delivered));
        assert_eq!(after.records_delivered, ledger.delivered.len() as u64);
    });
}

/// Format 2 content whose include rule `rule` keeps every process start of an `.exe`.
fn content_v2(version: u32, rule: &str) -> Vec<u8> {
    use ringfence_content::v2::Role;
    use ringfence_content::v2::build::{ExprSpec, OperatorSpec, PredicateSpec, RuleSpec, ValueSpec, build};
    let include = RuleSpec {
        id: 1,
        kind: EventKind::ProcessStart,
        role: Role::Include,
        name: rule.to_owned(),
        meta: String::new(),
        predicates: vec![PredicateSpec {
            field: ringfence_wire::schema::field::ProcessStart::image_path as u8,
            operator: OperatorSpec::EndsWith,
            values: vec![ValueSpec::Text(".exe".to_owned())],
            all: false,
            case_insensitive: true,
            windash: false,
        }],
        condition: ExprSpec::Predicate(0),
    };
    build(&[include], &SCHEMA, version).expect("the model's rules build")
}

/// A volume map (C: only): format 2 reads the image path, already in DOS form, through it.
fn volume_map() -> Vec<u8> {
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

/// A LOAD_CONTENT swap racing callbacks: an event that starts after `install` returned is
/// judged by the new content only; nothing is lost or numbered twice around the swap.
#[test]
fn a_swapped_out_content_is_never_read_after_install_returns() {
    swap_racing_callbacks(content(1, "first"), content(2, "second"));
}

/// The same with format 2 swapped in over format 1: its evaluation (scratch memory of its
/// own, the volume map's lock taken inside the content lock) races the swap.
#[test]
fn a_format_2_swap_racing_callbacks_is_never_read_half() {
    swap_racing_callbacks(content(1, "first"), content_v2(2, "second"));
}

fn swap_racing_callbacks(first: Vec<u8>, second: Vec<u8>) {
    let map = volume_map();
    loom::model(move || {
        let sensor = sensor(1 << 16);
        assert_eq!(ioctl(&sensor, Code::SetVolumeMap, &map, 0).0.status, STATUS_SUCCESS);
        assert!(load_content(&sensor, &first).accepted);
        let installed = Arc::new(AtomicBool::new(false));
        let loader = {
            let (sensor, installed, second) = (Arc::clone(&sensor), Arc::clone(&installed), second.clone());
            thread::spawn(move || {
                let response = load_content(&sensor, &second);
                installed.store(true, Ordering::SeqCst);
                response
            })
        };
        let path = wide(IMAGE);
        let mut after_install = Vec::new();
        for pid in 1..=2u32 {
            let after = installed.load(Ordering::SeqCst);
            assert!(matches!(sensor.observe(start(pid, &path)), Some(Pushed::Queued { .. })));
            after_install.push((pid, after));
        }
        let response = loader.join().expect("the loading thread returns");
        assert_eq!((response.accepted, response.active_version), (true, 2));

        let mut ledger = Ledger::default();
        drain(&sensor, &mut ledger);
        ledger.check_sequences().expect("every sequence number is accounted for exactly once");
        assert_eq!(ledger.count(EventKind::ContentChanged), 2);
        assert_eq!(ledger.process_starts(), vec![1, 2]);
        for (pid, after) in after_install {
            let record =
                ledger.delivered.iter().find(|d| d.pid == Some(pid)).expect("each start is delivered");
            if after {
                assert_eq!(record.rule_name, "second", "start {pid} began after install returned");
            } else {
                assert!(["first", "second"].contains(&record.rule_name.as_str()), "{}", record.rule_name);
            }
        }
        let after = stats(&sensor);
        assert_eq!((after.content_loads_accepted, after.active_content_version), (2, 2));
    });
}

/// SET_EVENT then CLEANUP racing callbacks: once CLEANUP returns, the driver holds no
/// reference on the event and never signals it again.
#[test]
fn an_event_released_at_cleanup_is_never_signalled_again() {
    loom::model(|| {
        let sensor = sensor(1 << 16);
        let client = {
            let sensor = Arc::clone(&sensor);
            thread::spawn(move || {
                set_event(&sensor, 1);
                sensor.set_waker(None);
                event(1).signals()
            })
        };
        let path = wide(IMAGE);
        sensor.observe(start(1, &path));
        sensor.observe(start(2, &path));
        let signals_at_release = client.join().expect("the client thread returns");
        assert_eq!(event(1).references(), 0, "CLEANUP released the reference");
        assert_eq!(event(1).signals(), signals_at_release, "no signal after release");
    });
}

/// SET_EVENT racing the first record: the reader is woken exactly once, whichever comes
/// first (the record wakes a registered reader; a registration wakes at once when records wait).
#[test]
fn a_reader_registering_while_the_first_record_arrives_is_woken_exactly_once() {
    loom::model(|| {
        let sensor = sensor(1 << 16);
        let client = {
            let sensor = Arc::clone(&sensor);
            thread::spawn(move || set_event(&sensor, 1))
        };
        let path = wide(IMAGE);
        sensor.observe(start(1, &path));
        client.join().expect("the client thread returns");
        assert_eq!((event(1).signals(), event(1).references()), (1, 1));
        sensor.set_waker(None);
        assert_eq!(event(1).references(), 0);
    });
}

/// STATS racing callbacks and READ: each snapshot balances, and the final one matches
/// exactly what the reader received.
#[test]
fn stats_racing_callbacks_and_read_is_a_balanced_snapshot() {
    let path = wide(IMAGE);
    let size = record::encoded_len(&start(1, &path)).expect("the record encodes");
    loom::model(move || {
        let sensor = sensor(size);
        let callbacks = {
            let sensor = Arc::clone(&sensor);
            thread::spawn(move || {
                let path = wide(IMAGE);
                sensor.observe(start(1, &path));
                sensor.observe(start(2, &path));
            })
        };
        let mut ledger = Ledger::default();
        let during = stats(&sensor);
        assert_counters_balance(&during);
        read(&sensor, &mut ledger);
        callbacks.join().expect("the callback thread returns");
        drain(&sensor, &mut ledger);
        ledger.check_sequences().expect("every sequence number is accounted for exactly once");
        let after = stats(&sensor);
        assert_counters_balance(&after);
        let starts = after.kind(EventKind::ProcessStart);
        assert_eq!(starts.seen, 2);
        assert_eq!(starts.queued, ledger.process_starts().len() as u64);
        assert_eq!(starts.dropped, ledger.lost_process_starts());
        assert_eq!(after.records_delivered, ledger.delivered.len() as u64);
        assert!(during.records_delivered <= after.records_delivered);
        assert!(during.kind(EventKind::ProcessStart).seen <= 2);
    });
}

/// STATS, LOAD_CONTENT and a callback at once: STATS must not hold the channel lock while it
/// waits for the trust lock (LOAD_CONTENT holds trust, waits for content; the callback holds
/// content, waits for the channel). loom reports any interleaving where all three block.
#[test]
fn stats_racing_a_load_and_a_callback_cannot_deadlock() {
    let (first, second) = (content(1, "first"), content(2, "second"));
    loom::model(move || {
        let sensor = sensor(1 << 16);
        assert!(load_content(&sensor, &first).accepted);
        let loader = {
            let (sensor, second) = (Arc::clone(&sensor), second.clone());
            thread::spawn(move || load_content(&sensor, &second))
        };
        let reporter = {
            let sensor = Arc::clone(&sensor);
            thread::spawn(move || stats(&sensor))
        };
        let path = wide(IMAGE);
        sensor.observe(start(1, &path));
        assert!(loader.join().expect("the loading thread returns").accepted);
        assert_counters_balance(&reporter.join().expect("the STATS thread returns"));
        let mut ledger = Ledger::default();
        drain(&sensor, &mut ledger);
        ledger.check_sequences().expect("every sequence number is accounted for exactly once");
        assert_eq!(ledger.count(EventKind::ContentChanged), 2);
        assert_eq!(ledger.process_starts(), vec![1]);
    });
}
