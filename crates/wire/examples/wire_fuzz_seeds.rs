//! Writes the seed corpora of the wire fuzz targets: valid records, batches
//! and IOCTL layouts, one file each, named `seed-<what>`.
//!
//! `cargo run -p ringfence-wire --example wire_fuzz_seeds -- fuzz/corpus`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use ringfence_wire::ioctl::{
    Capabilities, HelloRequest, HelloResponse, KindCounters, LoadContentResponse, Message, Notes,
    PROCESS_TABLE_BYTES_DEFAULT, QUEUE_BYTES_DEFAULT, SetEventRequest, StatsResponse, TableCounters,
    driver_version,
};
use ringfence_wire::record::{MAX_RECORD_BYTES, encode, encoded_len};
use ringfence_wire::{Event, Text};
use std::path::Path;

fn record(event: &Event<'_>, sequence: u64) -> Vec<u8> {
    let mut buf = vec![0u8; encoded_len(event).unwrap()];
    encode(event, sequence, 133_700_000_000_000_000 + sequence, &mut buf).unwrap();
    buf
}

fn message<M: Message>(m: &M) -> Vec<u8> {
    let mut buf = vec![0u8; M::LEN];
    m.emit(&mut buf).unwrap();
    buf
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let dir = dir.join(target);
    std::fs::create_dir_all(&dir).expect("create corpus directory");
    std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write seed");
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: wire_fuzz_seeds <corpus dir>");
    let dir = Path::new(&dir);
    let wide = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
    let (path, args, rule) =
        (wide("\\Device\\HarddiskVolume3\\Windows\\System32\\cmd.exe"), wide("cmd /c whoami"), wide("recon"));
    let (parent, parent_args, user) = (
        wide("\\Device\\HarddiskVolume3\\Windows\\explorer.exe"),
        wide("C:\\Windows\\Explorer.EXE"),
        wide("S-1-5-21-1004336348-1177238915-682003330-1001"),
    );
    let surrogates = [0xD800u16, 0x41, 0xDC00, 0xDBFF, 0xDFFF];
    let events = [
        (
            "process-start",
            Event::ProcessStart {
                pid: 4242,
                parent_pid: 888,
                creating_pid: 888,
                creating_tid: 4000,
                session_id: 1,
                image_path: Some(Text::wide(&path)),
                command_line: Some(Text::wide(&args)),
                start_key: 0x0003_0000_0000_0042,
                create_time: 133_700_000_000_000_000,
                image_name_available: true,
                rule_name: Text::wide(&rule),
                matched_ids: ringfence_wire::text::Ids::new(&[3, 1, 4, 1, 5, 9, 2, 6]),
                matched_rest: 2,
                undecided_ids: ringfence_wire::text::Ids::EMPTY,
                undecided_rest: 0,
                parent_start_key: Some(0x0003_0000_0000_0017),
                parent_image_path: Some(Text::wide(&parent)),
                parent_command_line: Some(Text::wide(&parent_args)),
                user_sid: Some(Text::wide(&user)),
                logon_id: Some(0x3_66A1),
                integrity_level: Some(0x2000),
                elevation_type: Some(3),
                parent_user_sid: Some(Text::wide(&user)),
                truncated: 0,
            },
        ),
        (
            "process-exit",
            Event::ProcessExit {
                pid: 4242,
                exit_status: 0xC000_0005,
                time: 1,
                rule_name: Text::default(),
                matched_ids: ringfence_wire::text::Ids::EMPTY,
                matched_rest: 0,
                undecided_ids: ringfence_wire::text::Ids::EMPTY,
                undecided_rest: 0,
                image_path: Some(Text::wide(&path)),
                start_key: 0x0003_0000_0000_0042,
                user_sid: None,
                truncated: 0,
            },
        ),
        (
            "image-load-surrogates",
            Event::ImageLoad {
                pid: 0,
                image_path: Some(Text::wide(&surrogates)),
                image_base: 0xFFFF_F800_0000_0000,
                image_size: 0x10_0000,
                signature_level: 12,
                signature_type: 1,
                kernel_image: true,
                time: 2,
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
        ),
        (
            "lost-events",
            Event::LostEvents {
                count: 3,
                first_sequence: 10,
                last_sequence: 12,
                process_start: 1,
                process_exit: 0,
                image_load: 2,
                content_changed: 0,
            },
        ),
        (
            "content-changed",
            Event::ContentChanged {
                accepted: false,
                content_version: 7,
                active_version: 6,
                reason: 12,
                offset: 0x140,
            },
        ),
    ];
    let mut batch = Vec::new();
    for (i, (name, event)) in events.iter().enumerate() {
        let bytes = record(event, u64::try_from(i).unwrap());
        write(dir, "record_decode", name, &bytes);
        batch.extend_from_slice(&bytes);
    }
    write(dir, "batch_decode", "five-kinds", &batch);
    write(dir, "batch_decode", "one-record", &record(&events[1].1, 0));

    let hello = HelloResponse {
        protocol_version: ringfence_wire::ioctl::PROTOCOL_VERSION,
        schema_version: ringfence_wire::SCHEMA_VERSION,
        capabilities: Capabilities::ALL,
        queue_bytes: QUEUE_BYTES_DEFAULT,
        max_record_bytes: u32::try_from(MAX_RECORD_BYTES).unwrap(),
        driver_version: driver_version(0, 1, 0),
    };
    let accepted =
        LoadContentResponse { accepted: true, content_version: 7, active_version: 7, ..Default::default() };
    let rejected = LoadContentResponse {
        accepted: false,
        content_version: 8,
        active_version: 7,
        reason: 12,
        offset: 0x140,
        args: [3, 21, 20, 0],
    };
    let mut stats = StatsResponse {
        content_loads_accepted: 1,
        content_loads_rejected: 1,
        active_content_version: 7,
        queue_capacity_bytes: QUEUE_BYTES_DEFAULT,
        queue_used_bytes: 1024,
        queue_high_water_bytes: 4096,
        records_delivered: 40,
        notes: Notes::QUEUE_BYTES_CLAMPED,
        process_table: TableCounters {
            capacity_bytes: PROCESS_TABLE_BYTES_DEFAULT,
            used_bytes: 96 << 10,
            entries: 120,
            max_entries: 4096,
            inserts: 140,
            evictions: 0,
            truncations: 1,
            misses: 12,
            failures: 0,
        },
        ..StatsResponse::default()
    };
    for counters in &mut stats.kinds {
        *counters = KindCounters { seen: 20, filtered: 8, queued: 10, dropped: 2 };
    }
    write(dir, "ioctl_request", "hello-request", &message(&HelloRequest::current()));
    write(dir, "ioctl_request", "hello-response", &message(&hello));
    write(dir, "ioctl_request", "load-content-accepted", &message(&accepted));
    write(dir, "ioctl_request", "load-content-rejected", &message(&rejected));
    write(dir, "ioctl_request", "set-event", &message(&SetEventRequest { handle: 0x1F4 }));
    write(dir, "ioctl_request", "stats-response", &message(&stats));
    volume_map_seeds(dir);
}

/// `volume_map`: a `u16` split, a machine's map, then a path under one of its volumes.
fn volume_map_seeds(dir: &Path) {
    use ringfence_wire::volume_map::{Entry, VolumeMapRepr, units_to_le_bytes};
    let wide = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
    let (windows, v3, v5, c, d) = (
        wide("C:\\Windows"),
        wide("\\Device\\HarddiskVolume3"),
        wide("\\Device\\HarddiskVolume5"),
        wide("C:"),
        wide("D:"),
    );
    let entries = [Entry { nt: &v3, dos: &c }, Entry { nt: &v5, dos: &d }];
    let repr = VolumeMapRepr { windows_directory: &windows, entries: &entries };
    let mut units = vec![0u16; repr.units_len().unwrap()];
    repr.emit(&mut units).unwrap();
    let mut map = vec![0u8; units.len() * 2];
    units_to_le_bytes(&units, &mut map).unwrap();
    for (name, path) in [
        ("volume", "\\Device\\HarddiskVolume5\\tools\\x.exe"),
        ("system-root", "\\SystemRoot\\System32\\ntdll.dll"),
        ("mup", "\\Device\\Mup\\;LanmanRedirector\\server\\share\\x.dll"),
    ] {
        let mut seed = u16::try_from(map.len()).unwrap().to_le_bytes().to_vec();
        seed.extend_from_slice(&map);
        seed.extend(wide(path).iter().flat_map(|u| u.to_le_bytes()));
        write(dir, "volume_map", name, &seed);
    }
}
