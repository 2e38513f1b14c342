//! Every control code, and codes the driver does not know, with every input
//! size around the expected one and every output size around the needed one:
//! each answer is a status the contract defines, nothing faults, and the
//! books stay clean.

mod common;

use common::sensor::start;
use ringfence_content::compile;
use ringfence_wire::SCHEMA;
use ringfence_wire::ioctl::{
    Code, FILE_DEVICE_RINGFENCE, FILE_READ_ACCESS, FILE_WRITE_ACCESS, HelloRequest, HelloResponse,
    LoadContentResponse, METHOD_BUFFERED, STATUS_ACCESS_DENIED, STATUS_BUFFER_TOO_SMALL,
    STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_BUFFER_SIZE, STATUS_INVALID_DEVICE_REQUEST,
    STATUS_INVALID_HANDLE, STATUS_INVALID_PARAMETER, STATUS_OBJECT_TYPE_MISMATCH, STATUS_REVISION_MISMATCH,
    STATUS_SUCCESS, SetEventRequest, StatsResponse, TrustResponse, ctl_code,
};

const DEFINED: [i32; 10] = [
    STATUS_INVALID_BUFFER_SIZE,
    STATUS_SUCCESS,
    STATUS_INVALID_DEVICE_REQUEST,
    STATUS_INVALID_PARAMETER,
    STATUS_REVISION_MISMATCH,
    STATUS_BUFFER_TOO_SMALL,
    STATUS_INSUFFICIENT_RESOURCES,
    STATUS_INVALID_HANDLE,
    STATUS_OBJECT_TYPE_MISMATCH,
    STATUS_ACCESS_DENIED,
];

/// A well-formed request for `code` and the output size its answer needs.
fn request(code: u32, max_record: usize) -> (Vec<u8>, usize) {
    match Code::from_u32(code) {
        Some(Code::Hello) => {
            let mut b = vec![0; HelloRequest::LEN];
            HelloRequest::current().emit(&mut b).expect("fits");
            (b, HelloResponse::LEN)
        }
        Some(Code::Read) => (Vec::new(), max_record),
        Some(Code::LoadContent) => {
            let rules = "version = 3\n[[rule]]\nname = \"x\"\nkind = \"process_exit\"\naction = \"exclude\"\nmatch = [{ field = \"pid\", equals = 4 }]\n";
            (compile(rules, &SCHEMA).expect("compiles"), LoadContentResponse::LEN)
        }
        Some(Code::Stats) => (Vec::new(), StatsResponse::LEN),
        Some(Code::Trust) => (Vec::new(), TrustResponse::LEN),
        Some(Code::SetVolumeMap) => {
            let devices = [('C', r"\Device\HarddiskVolume3".to_owned())];
            let map =
                ringfence_companion::enrich::dos_path::VolumeMap::from_dos_devices(devices, r"C:\Windows");
            (map.expect("a valid map").to_le_bytes(), 0)
        }
        Some(Code::VolumeMap) => (Vec::new(), ringfence_wire::volume_map::MAX_MAP_BYTES),
        Some(Code::SetEvent) => {
            let mut b = vec![0; SetEventRequest::LEN];
            SetEventRequest { handle: 0 }.emit(&mut b).expect("fits");
            (b, 0)
        }
        None => (vec![0; 16], 16),
    }
}

fn sizes(n: usize, extra: &[usize]) -> Vec<usize> {
    let mut v = vec![0, 1, n.saturating_sub(1), n];
    v.extend_from_slice(extra);
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn every_code_and_size_combination_gets_a_defined_status_and_leaves_the_books_clean() {
    let mut sensor = start();
    let unknown = [
        ctl_code(FILE_DEVICE_RINGFENCE, 0x807, METHOD_BUFFERED, FILE_READ_ACCESS),
        ctl_code(FILE_DEVICE_RINGFENCE, 0x800, 3, FILE_READ_ACCESS),
        ctl_code(0x22, 0x800, METHOD_BUFFERED, FILE_READ_ACCESS | FILE_WRITE_ACCESS),
        0,
    ];
    let codes: Vec<u32> = Code::ALL.iter().map(|c| *c as u32).chain(unknown).collect();
    let max_record = usize::try_from(sensor.hello.max_record_bytes).expect("fits");
    let mut combinations = 0;
    for code in codes {
        let (valid, needed) = request(code, max_record);
        for input_len in sizes(valid.len(), &[valid.len() + 1, 64 << 10]) {
            let mut input = valid.clone();
            input.resize(input_len, 0);
            for output_len in sizes(needed, &[]) {
                // Something to READ, so that output sizes matter for READ too.
                sensor.fire(&common::activity::mixed(1, combinations)[0]);
                let r = sensor.ioctl(code, &input, output_len);
                assert!(
                    DEFINED.contains(&r.status),
                    "code {code:#x} in {input_len} out {output_len}: {:#x}",
                    r.status
                );
                assert!(r.information <= output_len as u64 || r.status < 0, "Information within the output");
                if Code::from_u32(code).is_none() {
                    assert_eq!(r.status, STATUS_INVALID_DEVICE_REQUEST, "unknown code {code:#x}");
                }
                combinations += 1;
            }
        }
    }
    assert!(combinations >= 9 * 6 * 4 - 40, "the grid ran: {combinations}");
    assert_eq!(sensor.emu.report().findings, Vec::new(), "no rule broken during the grid");
    assert_eq!(sensor.stop().problems(), Vec::new());
}
