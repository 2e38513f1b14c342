//! Shared by the integration tests: a fixed batch of records, and a scripted
//! driver that answers control requests by the wire contract, to exercise the
//! companion's session logic. The end-to-end run against the real driver
//! binary is the emulator's (tests/emulator), through the same library API.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::time::Duration;

use ringfence_companion::device::{Device, DeviceError, IoctlOutcome};
use ringfence_wire::ioctl::{
    Capabilities, Code, HelloRequest, HelloResponse, LoadContentResponse, PROTOCOL_VERSION, STATUS_SUCCESS,
    SetEventRequest, StatsResponse, TrustResponse, driver_version,
};
use ringfence_wire::record::{MAX_RECORD_BYTES, encode, encoded_len};
use ringfence_wire::{Event, SCHEMA_VERSION, Text};

/// 2024-07-19T04:09:00Z as a FILETIME.
pub const T0: u64 = (1_721_362_140 + 11_644_473_600) * 10_000_000;

pub fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// Appends `event` as one record to `batch`.
pub fn push(batch: &mut Vec<u8>, event: &Event<'_>, sequence: u64, timestamp: u64) {
    let at = batch.len();
    let len = encoded_len(event).unwrap();
    batch.resize(at + len, 0);
    encode(event, sequence, timestamp, &mut batch[at..]).unwrap();
}

/// The golden batch: one of each kind, a process tree, an unpaired
/// surrogate, a lost-events record, an unexplained gap and a truncated tail.
pub fn golden_batch() -> Vec<u8> {
    let cmd = wide(r"\Device\HarddiskVolume3\Windows\System32\cmd.exe");
    let cmdline = wide("cmd.exe /c \"echo hi\"");
    let shells = wide("shells");
    let kernel32 = wide(r"\Device\HarddiskVolume3\Windows\System32\kernel32.dll");
    let mut odd = wide(r"C:\odd\");
    odd.push(0xD800);
    odd.extend(wide("x.dll"));
    let child = wide(r"\Device\HarddiskVolume3\Windows\System32\conhost.exe");
    let explorer = wide(r"\Device\HarddiskVolume3\Windows\explorer.exe");
    let explorer_line = wide(r"C:\Windows\Explorer.EXE");
    let user = wide("S-1-5-21-1004336348-1177238915-682003330-1001");
    let mut b = Vec::new();
    push(
        &mut b,
        &Event::ProcessStart {
            pid: 4242,
            parent_pid: 1000,
            creating_pid: 1000,
            creating_tid: 77,
            session_id: 1,
            image_path: Some(Text::wide(&cmd)),
            command_line: Some(Text::wide(&cmdline)),
            start_key: 0x0003_0000_0000_1234,
            create_time: T0,
            image_name_available: true,
            rule_name: Text::wide(&shells),
            matched_ids: ringfence_wire::text::Ids::new(&[3, 17]),
            matched_rest: 0,
            undecided_ids: ringfence_wire::text::Ids::new(&[21]),
            undecided_rest: 0,
            parent_start_key: Some(0x0003_0000_0000_1000),
            parent_image_path: Some(Text::wide(&explorer)),
            parent_command_line: Some(Text::wide(&explorer_line)),
            user_sid: Some(Text::wide(&user)),
            logon_id: Some(0x3_66A1),
            integrity_level: Some(0x2000),
            elevation_type: Some(3),
            parent_user_sid: Some(Text::wide(&user)),
            truncated: 0,
        },
        1,
        T0 + 5,
    );
    push(
        &mut b,
        &Event::ImageLoad {
            pid: 4242,
            image_path: Some(Text::wide(&kernel32)),
            image_base: 0x7ffa_1234_0000,
            image_size: 0xc_2000,
            signature_level: 12,
            signature_type: 1,
            kernel_image: false,
            time: T0 + 10,
            rule_name: Text::default(),
            matched_ids: ringfence_wire::text::Ids::EMPTY,
            matched_rest: 0,
            undecided_ids: ringfence_wire::text::Ids::EMPTY,
            undecided_rest: 0,
            process_image_path: Some(Text::wide(&cmd)),
            process_start_key: Some(0x0003_0000_0000_1234),
            user_sid: Some(Text::wide(&user)),
            truncated: 0,
        },
        2,
        T0 + 11,
    );
    push(
        &mut b,
        &Event::ProcessStart {
            pid: 4300,
            parent_pid: 4242,
            creating_pid: 4242,
            creating_tid: 78,
            session_id: 1,
            image_path: Some(Text::wide(&child)),
            command_line: None,
            start_key: 0x0003_0000_0000_1235,
            create_time: T0 + 20,
            image_name_available: false,
            rule_name: Text::default(),
            matched_ids: ringfence_wire::text::Ids::EMPTY,
            matched_rest: 0,
            undecided_ids: ringfence_wire::text::Ids::EMPTY,
            undecided_rest: 0,
            parent_start_key: Some(0x0003_0000_0000_1234),
            parent_image_path: Some(Text::wide(&cmd)),
            parent_command_line: Some(Text::wide(&cmdline)),
            user_sid: Some(Text::wide(&user)),
            logon_id: Some(0x3_66A1),
            integrity_level: None,
            elevation_type: None,
            parent_user_sid: Some(Text::wide(&user)),
            truncated: 0,
        },
        3,
        T0 + 21,
    );
    push(
        &mut b,
        &Event::LostEvents {
            count: 3,
            first_sequence: 4,
            last_sequence: 6,
            process_start: 0,
            process_exit: 1,
            image_load: 2,
            content_changed: 0,
        },
        7,
        T0 + 30,
    );
    push(
        &mut b,
        &Event::ImageLoad {
            pid: 0,
            image_path: Some(Text::wide(&odd)),
            image_base: 0xffff_f800_0000_0000,
            image_size: 0x1000,
            signature_level: 0,
            signature_type: 0,
            kernel_image: true,
            time: T0 + 40,
            rule_name: Text::default(),
            matched_ids: ringfence_wire::text::Ids::EMPTY,
            matched_rest: 0,
            undecided_ids: ringfence_wire::text::Ids::EMPTY,
            undecided_rest: 0,
            process_image_path: None,
            process_start_key: None,
            user_sid: None,
            truncated: 0,
        },
        8,
        T0 + 41,
    );
    push(
        &mut b,
        &Event::ProcessExit {
            pid: 4242,
            exit_status: 0xC000_0005,
            time: T0 + 50,
            rule_name: Text::default(),
            matched_ids: ringfence_wire::text::Ids::EMPTY,
            matched_rest: 0,
            undecided_ids: ringfence_wire::text::Ids::EMPTY,
            undecided_rest: 0,
            image_path: Some(Text::wide(&cmd)),
            start_key: 0x0003_0000_0000_1234,
            user_sid: Some(Text::wide(&user)),
            truncated: 0,
        },
        9,
        T0 + 51,
    );
    push(
        &mut b,
        &Event::ContentChanged {
            accepted: false,
            content_version: 7,
            active_version: 6,
            reason: 34,
            offset: 120,
        },
        11,
        T0 + 60,
    );
    push(
        &mut b,
        &Event::ContentChanged {
            accepted: true,
            content_version: 8,
            active_version: 8,
            reason: 0,
            offset: 0,
        },
        12,
        T0 + 70,
    );
    // A record cut short: its header promises more bytes than the batch holds.
    let mut tail = Vec::new();
    push(
        &mut tail,
        &Event::ProcessExit {
            pid: 1,
            exit_status: 0,
            time: T0,
            rule_name: Text::default(),
            matched_ids: ringfence_wire::text::Ids::EMPTY,
            matched_rest: 0,
            undecided_ids: ringfence_wire::text::Ids::EMPTY,
            undecided_rest: 0,
            image_path: None,
            start_key: 1,
            user_sid: None,
            truncated: 0,
        },
        13,
        T0 + 80,
    );
    b.extend_from_slice(&tail[..40]);
    b
}

/// What a scripted driver answers, per request.
#[derive(Debug)]
pub struct ScriptedDriver {
    pub name: String,
    pub hello: Option<HelloResponse>,
    /// Status for HELLO instead of a response.
    pub hello_status: i32,
    pub batches: VecDeque<Vec<u8>>,
    pub verdict: LoadContentResponse,
    pub stats: StatsResponse,
    pub registered_event: Option<u64>,
    pub loaded: Vec<Vec<u8>>,
    pub waits: usize,
    /// Every request received, in order.
    pub calls: Vec<Code>,
    /// The TRUST answer; `None` answers as a driver without the request does.
    pub trust: Option<TrustResponse>,
    /// The volume map SET_VOLUME_MAP set last (validated as the driver does).
    pub volume_map: Option<Vec<u8>>,
}

impl ScriptedDriver {
    pub fn new() -> Self {
        ScriptedDriver {
            name: "scripted driver".into(),
            hello: Some(HelloResponse {
                protocol_version: PROTOCOL_VERSION,
                schema_version: SCHEMA_VERSION,
                capabilities: Capabilities::ALL,
                queue_bytes: 1 << 20,
                max_record_bytes: u32::try_from(MAX_RECORD_BYTES).unwrap(),
                driver_version: driver_version(0, 1, 0),
            }),
            hello_status: STATUS_SUCCESS,
            batches: VecDeque::new(),
            verdict: LoadContentResponse::default(),
            stats: StatsResponse {
                queue_capacity_bytes: 1 << 20,
                process_table: ringfence_wire::ioctl::TableCounters {
                    capacity_bytes: ringfence_wire::ioctl::PROCESS_TABLE_BYTES_DEFAULT,
                    used_bytes: 64 << 10,
                    entries: 120,
                    max_entries: 4096,
                    inserts: 130,
                    evictions: 0,
                    truncations: 1,
                    misses: 9,
                    failures: 2,
                },
                ..StatsResponse::default()
            },
            registered_event: None,
            loaded: Vec::new(),
            waits: 0,
            calls: Vec::new(),
            trust: None,
            volume_map: None,
        }
    }

    fn answer(output: &mut [u8], emit: impl FnOnce(&mut [u8]) -> usize) -> IoctlOutcome {
        let information = emit(output);
        IoctlOutcome { status: STATUS_SUCCESS, information }
    }
}

impl Device for ScriptedDriver {
    fn name(&self) -> &str {
        &self.name
    }

    fn ioctl(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> Result<IoctlOutcome, DeviceError> {
        if let Some(code) = Code::from_u32(code) {
            self.calls.push(code);
        }
        Ok(match Code::from_u32(code) {
            Some(Code::Hello) => {
                assert_eq!(HelloRequest::parse(input), Ok(HelloRequest::current()));
                match self.hello {
                    Some(h) if self.hello_status == STATUS_SUCCESS => {
                        Self::answer(output, |o| h.emit(o).unwrap())
                    }
                    _ => IoctlOutcome { status: self.hello_status, information: 0 },
                }
            }
            Some(Code::Read) => {
                let batch = self.batches.pop_front().unwrap_or_default();
                output[..batch.len()].copy_from_slice(&batch);
                IoctlOutcome { status: STATUS_SUCCESS, information: batch.len() }
            }
            Some(Code::LoadContent) => {
                self.loaded.push(input.to_vec());
                let v = self.verdict;
                Self::answer(output, |o| v.emit(o).unwrap())
            }
            Some(Code::Stats) => {
                let s = self.stats;
                Self::answer(output, |o| s.emit(o).unwrap())
            }
            Some(Code::SetEvent) => {
                self.registered_event = Some(SetEventRequest::parse(input).unwrap().handle);
                IoctlOutcome { status: STATUS_SUCCESS, information: 0 }
            }
            Some(Code::SetVolumeMap) => {
                let mut units = vec![0u16; input.len() / 2];
                let checked = ringfence_wire::volume_map::units_from_le_bytes(input, &mut units)
                    .and_then(|_| ringfence_wire::volume_map::VolumeMap::new_checked(&units).map(|_| ()));
                match checked {
                    Ok(()) => {
                        self.volume_map = Some(input.to_vec());
                        IoctlOutcome { status: STATUS_SUCCESS, information: 0 }
                    }
                    Err(e) => IoctlOutcome { status: e.status(), information: 0 },
                }
            }
            Some(Code::VolumeMap) => {
                let map = self.volume_map.clone().unwrap_or_default();
                output[..map.len()].copy_from_slice(&map);
                IoctlOutcome { status: STATUS_SUCCESS, information: map.len() }
            }
            Some(Code::Trust) => match self.trust {
                Some(t) => Self::answer(output, |o| t.emit(o).unwrap()),
                None => IoctlOutcome {
                    status: ringfence_wire::ioctl::STATUS_INVALID_DEVICE_REQUEST,
                    information: 0,
                },
            },
            None => {
                IoctlOutcome { status: ringfence_wire::ioctl::STATUS_INVALID_DEVICE_REQUEST, information: 0 }
            }
        })
    }

    fn wake_event(&mut self) -> Result<u64, DeviceError> {
        Ok(0x1f4)
    }

    fn wait_for_events(&mut self, _timeout: Duration) -> Result<bool, DeviceError> {
        self.waits += 1;
        Ok(!self.batches.is_empty())
    }
}
