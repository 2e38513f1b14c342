//! Every IOCTL × input sizes 0, 1, size−1, size, size+1, 64 KiB × output sizes 0, 1,
//! needed−1, needed: the exact status and `Information`, and what changed.

use super::*;
use crate::host::{self, Host};
use crate::processes::ProcessTable;
use crate::queue::Queue;
use ringfence_wire::ioctl::{
    Code, HelloRequest, LoadContentResponse, Notes, QUEUE_BYTES_MIN, STATUS_INVALID_HANDLE,
    STATUS_INVALID_PARAMETER, SetEventRequest, StatsResponse,
};
use ringfence_wire::schema::{EventKind, SCHEMA};
use ringfence_wire::{Batch, Text};

/// A `METHOD_BUFFERED` system buffer: one buffer, the input at its start, the output over
/// the same bytes (zeroed when handed out), as the I/O manager lays it out.
struct SystemBuffer {
    bytes: Vec<u8>,
    input_len: usize,
    output_len: usize,
}

impl SystemBuffer {
    fn new(input: &[u8], output_len: usize) -> Self {
        let mut bytes = vec![0xCC; input.len().max(output_len)];
        bytes[..input.len()].copy_from_slice(input);
        SystemBuffer { bytes, input_len: input.len(), output_len }
    }

    fn written(&self, completion: Completion) -> &[u8] {
        &self.bytes[..completion.information.min(self.output_len)]
    }
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

fn sensor() -> Sensor<Host> {
    Sensor::new(
        Queue::with_capacity(QUEUE_BYTES_MIN as usize).unwrap(),
        ProcessTable::with_budget(256 << 10).unwrap(),
        Notes::NONE,
    )
}

fn call(sensor: &Sensor<Host>, code: Code, input: &[u8], output_len: usize) -> (Completion, Vec<u8>) {
    let mut io = SystemBuffer::new(input, output_len);
    let completion = dispatch(sensor, code.value(), &mut io);
    let written = io.written(completion).to_vec();
    (completion, written)
}

/// The sizes of the grid around a layout of `size` bytes (duplicates and negatives dropped).
fn sizes(size: usize) -> Vec<usize> {
    let mut sizes = vec![0, 1, size.wrapping_sub(1), size, size + 1, 64 << 10];
    sizes.retain(|s| *s <= 64 << 10);
    sizes.sort_unstable();
    sizes.dedup();
    sizes
}

/// `request` cut or zero-padded to `len` bytes.
fn resized(request: &[u8], len: usize) -> Vec<u8> {
    let mut bytes = request.to_vec();
    bytes.resize(len, 0);
    bytes
}

fn ok(information: usize) -> Completion {
    Completion { status: STATUS_SUCCESS, information }
}

fn status(status: i32) -> Completion {
    Completion { status, information: 0 }
}

const RULES: &str = r#"
version = 7

[[rule]]
name = "cmd"
kind = "process_start"
action = "include"
match = [{ field = "image_path", ends_with = "\\cmd.exe" }]
"#;

fn content(source: &str) -> Vec<u8> {
    ringfence_content::compile(source, &SCHEMA).expect("test rules compile")
}

fn exit(pid: u32) -> Event<'static> {
    Event::ProcessExit {
        pid,
        exit_status: 0,
        time: 1,
        rule_name: Text::default(),
        matched_ids: ringfence_wire::text::Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: ringfence_wire::text::Ids::EMPTY,
        undecided_rest: 0,
        image_path: None,
        start_key: u64::from(pid),
        user_sid: None,
        truncated: 0,
    }
}

#[test]
fn hello_over_the_grid() {
    let mut request = [0u8; HelloRequest::LEN];
    HelloRequest::current().emit(&mut request).unwrap();
    for input in sizes(HelloRequest::LEN) {
        for output in sizes(HelloResponse::LEN).into_iter().filter(|o| *o <= HelloResponse::LEN) {
            let (completion, written) = call(&sensor(), Code::Hello, &resized(&request, input), output);
            let expected = match (input == HelloRequest::LEN, output == HelloResponse::LEN) {
                (false, _) => status(STATUS_INVALID_PARAMETER),
                (true, false) => status(STATUS_BUFFER_TOO_SMALL),
                (true, true) => ok(HelloResponse::LEN),
            };
            assert_eq!(completion, expected, "input {input}, output {output}");
            if completion.status == STATUS_SUCCESS {
                let response = HelloResponse::parse(&written).unwrap();
                assert_eq!(response.queue_bytes, QUEUE_BYTES_MIN);
                assert_eq!(response.max_record_bytes as usize, MAX_RECORD_BYTES);
                assert_eq!(response.capabilities, Capabilities::ALL);
            }
        }
    }
}

#[test]
fn hello_from_another_protocol_version_is_a_revision_mismatch() {
    let mut request = [0u8; HelloRequest::LEN];
    HelloRequest { protocol_version: PROTOCOL_VERSION + 1, schema_version: SCHEMA_VERSION }
        .emit(&mut request)
        .unwrap();
    let (completion, _) = call(&sensor(), Code::Hello, &request, HelloResponse::LEN);
    assert_eq!(completion, status(ringfence_wire::ioctl::STATUS_REVISION_MISMATCH));
}

#[test]
fn read_over_the_grid() {
    let needed = ringfence_wire::record::encoded_len(&exit(1)).unwrap();
    for input in sizes(0) {
        for output in [0, 1, needed - 1, needed] {
            let sensor = sensor();
            sensor.observe(exit(1));
            let (completion, written) = call(&sensor, Code::Read, &vec![0; input], output);
            let expected = match (input, output == needed) {
                (1.., _) => status(STATUS_INVALID_PARAMETER),
                (0, false) => Completion { status: STATUS_BUFFER_TOO_SMALL, information: 0 },
                (0, true) => ok(needed),
            };
            assert_eq!(completion, expected, "input {input}, output {output}");
            let left = sensor.stats().queue_used_bytes as usize;
            if completion.status == STATUS_SUCCESS {
                assert_eq!(Batch::new_checked(&written).unwrap().len(), 1);
                assert_eq!(left, 0);
            } else {
                assert_eq!(left, needed, "a failed READ dequeues nothing");
            }
        }
    }
}

#[test]
fn read_of_an_empty_queue_succeeds_with_nothing() {
    assert_eq!(call(&sensor(), Code::Read, &[], 4096).0, ok(0));
}

#[test]
fn stats_over_the_grid() {
    for input in sizes(0) {
        for output in sizes(StatsResponse::LEN).into_iter().filter(|o| *o <= StatsResponse::LEN) {
            let sensor = sensor();
            sensor.observe(exit(1));
            let (completion, written) = call(&sensor, Code::Stats, &vec![0; input], output);
            let expected = match (input, output == StatsResponse::LEN) {
                (1.., _) => status(STATUS_INVALID_PARAMETER),
                (0, false) => status(STATUS_BUFFER_TOO_SMALL),
                (0, true) => ok(StatsResponse::LEN),
            };
            assert_eq!(completion, expected, "input {input}, output {output}");
            if completion.status == STATUS_SUCCESS {
                let stats = StatsResponse::parse(&written).unwrap();
                assert_eq!(stats.kind(EventKind::ProcessExit).queued, 1);
                assert!(stats.balanced());
            }
        }
    }
}

#[test]
fn set_event_over_the_grid() {
    let handle = 0x1234;
    let mut request = [0u8; SetEventRequest::LEN];
    SetEventRequest { handle }.emit(&mut request).unwrap();
    for input in sizes(SetEventRequest::LEN) {
        for output in [0, 1] {
            let sensor = sensor();
            let before = host::event(handle).references();
            let (completion, _) = call(&sensor, Code::SetEvent, &resized(&request, input), output);
            let expected =
                if input == SetEventRequest::LEN { ok(0) } else { status(STATUS_INVALID_PARAMETER) };
            assert_eq!(completion, expected, "input {input}, output {output}");
            let held = u64::from(completion.status == STATUS_SUCCESS);
            assert_eq!(host::event(handle).references(), before + held);
            drop(sensor);
            assert_eq!(host::event(handle).references(), before, "unload releases the event");
        }
    }
}

#[test]
fn set_event_signals_on_records_and_releases_on_replacement_and_zero() {
    let sensor = sensor();
    let set = |handle: u64| {
        let mut request = [0u8; SetEventRequest::LEN];
        SetEventRequest { handle }.emit(&mut request).unwrap();
        call(&sensor, Code::SetEvent, &request, 0).0
    };
    assert_eq!(set(10), ok(0));
    sensor.observe(exit(1));
    assert_eq!(host::event(10).signals(), 1);
    assert_eq!(set(11), ok(0));
    assert_eq!((host::event(10).references(), host::event(11).references()), (0, 1));
    // A handle the kernel refuses leaves the registration as it was.
    assert_eq!(set(host::INVALID_HANDLES), status(STATUS_INVALID_HANDLE));
    assert_eq!(host::event(11).references(), 1);
    assert_eq!(set(0), ok(0));
    assert_eq!(host::event(11).references(), 0);
}

#[test]
fn load_content_over_the_grid() {
    let good = content(RULES);
    for input in sizes(good.len()) {
        for output in [0, 1, LoadContentResponse::LEN - 1, LoadContentResponse::LEN] {
            let sensor = sensor();
            let (completion, written) = call(&sensor, Code::LoadContent, &resized(&good, input), output);
            let stats = sensor.stats();
            if output < LoadContentResponse::LEN {
                assert_eq!(completion, status(STATUS_BUFFER_TOO_SMALL), "input {input}, output {output}");
                assert_eq!((stats.content_loads_accepted, stats.content_loads_rejected), (0, 0));
                assert_eq!(stats.queue_used_bytes, 0, "nothing was reported either");
                continue;
            }
            assert_eq!(completion, ok(LoadContentResponse::LEN), "input {input}, output {output}");
            let response = LoadContentResponse::parse(&written).unwrap();
            let accepted = input == good.len();
            assert_eq!(response.accepted, accepted, "input {input}");
            assert_eq!(response.active_version, if accepted { 7 } else { 0 });
            assert_eq!(stats.active_content_version, response.active_version);
            assert_eq!(stats.content_loads_accepted + stats.content_loads_rejected, 1);
            if !accepted {
                assert_ne!(response.reason, 0);
            }
        }
    }
}

#[test]
fn an_unknown_code_is_an_invalid_device_request_whatever_the_buffers() {
    let sensor = sensor();
    for code in [0, Code::Hello.value() ^ 1, Code::Read.value() | 3, u32::MAX] {
        let mut io = SystemBuffer::new(&[1, 2, 3], 64);
        assert_eq!(dispatch(&sensor, code, &mut io), status(STATUS_INVALID_DEVICE_REQUEST));
        assert_eq!(&io.bytes[..3], &[1, 2, 3], "no buffer was touched");
    }
}

#[test]
fn every_judged_load_is_reported_as_a_content_changed_record() {
    let sensor = sensor();
    let good = content(RULES);
    assert_eq!(call(&sensor, Code::LoadContent, &good, LoadContentResponse::LEN).0, ok(48));
    let (_, written) = call(&sensor, Code::LoadContent, &good[..good.len() - 1], LoadContentResponse::LEN);
    let rejected = LoadContentResponse::parse(&written).unwrap();
    assert_eq!((rejected.accepted, rejected.content_version, rejected.active_version), (false, 7, 7));
    let (_, batch) = call(&sensor, Code::Read, &[], 4096);
    let events: Vec<_> = Batch::new_checked(&batch).unwrap().iter().map(|r| r.event()).collect();
    assert_eq!(
        events,
        vec![
            Event::ContentChanged {
                accepted: true,
                content_version: 7,
                active_version: 7,
                reason: 0,
                offset: 0
            },
            Event::ContentChanged {
                accepted: false,
                content_version: 7,
                active_version: 7,
                reason: rejected.reason,
                offset: rejected.offset,
            },
        ]
    );
    let stats = sensor.stats();
    assert_eq!((stats.content_loads_accepted, stats.content_loads_rejected), (1, 1));
    assert_eq!(stats.kind(EventKind::ContentChanged).queued, 2);
}

/// A map of C: on volume 3 (D: on volume 5 with `second`), Windows in C:\Windows, as bytes.
fn volume_map_bytes(second: bool) -> Vec<u8> {
    use ringfence_wire::volume_map::{Entry, VolumeMapRepr, units_to_le_bytes};
    let wide = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
    let (windows, v3, v5, c, d) = (
        wide(r"C:\Windows"),
        wide(r"\Device\HarddiskVolume3"),
        wide(r"\Device\HarddiskVolume5"),
        wide("C:"),
        wide("D:"),
    );
    let all = [Entry { nt: &v3, dos: &c }, Entry { nt: &v5, dos: &d }];
    let entries = if second { &all[..] } else { &all[..1] };
    let repr = VolumeMapRepr { windows_directory: &windows, entries };
    let mut units = vec![0u16; repr.units_len().unwrap()];
    repr.emit(&mut units).unwrap();
    let mut bytes = vec![0u8; units.len() * 2];
    units_to_le_bytes(&units, &mut bytes).unwrap();
    bytes
}

/// How the sensor's map reads `nt` now: the DOS path, or `None` (unknown or no map).
fn translated(sensor: &Sensor<Host>, nt: &str) -> Option<String> {
    use ringfence_wire::volume_map::Translation;
    let nt: Vec<u16> = nt.encode_utf16().collect();
    sensor.with_volume_map(|map| match map?.translate(&nt) {
        Translation::Dos { head, tail, .. } => Some(String::from_utf16_lossy(&[head, tail].concat())),
        Translation::Unknown => None,
    })
}

#[test]
fn a_set_volume_map_replaces_the_one_held_and_evaluation_reads_paths_with_it() {
    let sensor = sensor();
    let nt = r"\Device\HarddiskVolume5\tools\x.exe";
    assert_eq!(translated(&sensor, nt), None, "no map yet");
    assert_eq!(call(&sensor, Code::SetVolumeMap, &volume_map_bytes(false), 0).0, ok(0));
    assert_eq!(translated(&sensor, nt), None, "volume 5 is unknown to the first map");
    assert_eq!(translated(&sensor, r"\SystemRoot\a.dll").as_deref(), Some(r"C:\Windows\a.dll"));
    let second = volume_map_bytes(true);
    assert_eq!(call(&sensor, Code::SetVolumeMap, &second, 0).0, ok(0));
    assert_eq!(translated(&sensor, nt).as_deref(), Some(r"D:\tools\x.exe"));
    assert_eq!(call(&sensor, Code::VolumeMap, &[], 32 << 10), (ok(second.len()), second.clone()));
    let stats = sensor.stats().volume_map;
    assert_eq!((stats.sets, stats.refused, stats.entries, stats.bytes as usize), (2, 0, 2, second.len()));
}

#[test]
fn a_malformed_volume_map_answers_its_exact_status_and_the_map_held_stays() {
    use ringfence_wire::ioctl::{STATUS_INVALID_BUFFER_SIZE, STATUS_REVISION_MISMATCH};
    let sensor = sensor();
    let good = volume_map_bytes(true);
    assert_eq!(call(&sensor, Code::SetVolumeMap, &good, 0).0, ok(0));
    let mut wrong_version = good.clone();
    wrong_version[4] = 2;
    let mut unsorted = volume_map_bytes(true);
    // Volume 5's NT prefix spelled with a 1: it then sorts before volume 3's.
    let at = unsorted.windows(2).rposition(|w| w == [b'5', 0]).unwrap();
    unsorted[at] = b'1';
    let cases: [(&[u8], i32); 5] = [
        (&good[..good.len() - 1], STATUS_INVALID_PARAMETER),
        (&good[..good.len() - 2], STATUS_INVALID_PARAMETER),
        (&wrong_version, STATUS_REVISION_MISMATCH),
        (&unsorted, STATUS_INVALID_PARAMETER),
        (&vec![0u8; (32 << 10) + 2], STATUS_INVALID_BUFFER_SIZE),
    ];
    for (input, expected) in cases {
        assert_eq!(call(&sensor, Code::SetVolumeMap, input, 0).0, status(expected), "{} bytes", input.len());
        assert_eq!(call(&sensor, Code::VolumeMap, &[], 32 << 10).1, good, "the map held stays");
    }
    let stats = sensor.stats().volume_map;
    assert_eq!((stats.sets, stats.refused, stats.entries), (1, 5, 2));
    assert_eq!(call(&sensor, Code::VolumeMap, &[], good.len() - 1).0, status(STATUS_BUFFER_TOO_SMALL));
    assert_eq!(call(&sensor, Code::VolumeMap, &[0; 4], good.len()).0, status(STATUS_INVALID_PARAMETER));
}
