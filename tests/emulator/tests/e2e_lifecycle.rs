//! Load and unload under pressure: every allocation DriverEntry, LOAD_CONTENT
//! and event handling (process table entries, command line queries) make is
//! failed in turn; unloads with the device open,
//! with content loaded and mid-stream leave nothing behind; and the device's
//! DACL admits SYSTEM and Administrators only, and only the device itself opens.

mod common;

use common::activity::mixed;
use common::sensor::{Sensor, start};
use common::sys::ringfence_sys;
use ringfence_content::compile;
use ringfence_emulator::model::se::{SID_ADMINISTRATORS, SID_LOCAL_SYSTEM};
use ringfence_emulator::{Caller, Emulator, Unload};
use ringfence_wire::SCHEMA;
use ringfence_wire::ioctl::{Code, LoadContentResponse, STATUS_INSUFFICIENT_RESOURCES};

const RULES: &str = "version = 5\n[[rule]]\nname = \"ps\"\nkind = \"process_start\"\naction = \"include\"\nmatch = [{ field = \"command_line\", contains = \"-enc\" }]\n";

fn content() -> Vec<u8> {
    compile(RULES, &SCHEMA).expect("compiles")
}

fn fresh() -> Emulator {
    let mut emu = Emulator::new(ringfence_sys()).unwrap_or_else(|e| panic!("{e}"));
    emu.ioctl_layout = common::ioctl_layout();
    emu
}

#[test]
fn each_allocation_driver_entry_makes_can_fail_and_driver_entry_unwinds_completely() {
    let mut clean = fresh();
    assert_eq!(clean.driver_entry(), Ok(0));
    let attempts = clean.allocation_attempts();
    assert!(attempts >= 2, "DriverEntry allocates: {attempts}");
    for k in 1..=attempts {
        let mut emu = fresh();
        emu.fail_allocation(k);
        let status = emu.driver_entry().unwrap_or_else(|s| panic!("allocation {k}: {s}"));
        let report = emu.report();
        if status < 0 {
            assert_eq!(report.problems(), Vec::new(), "allocation {k} failed: nothing left behind");
            assert!(report.devices.is_empty() && !report.process_callback && !report.image_callback);
        } else {
            assert_eq!(emu.unload(), Ok(Unload::Done), "allocation {k} tolerated");
            assert_eq!(emu.report().problems(), Vec::new(), "allocation {k}");
        }
    }
}

#[test]
fn each_allocation_load_content_makes_can_fail_and_the_driver_keeps_serving() {
    let attempts = {
        let mut sensor = start();
        let before = sensor.emu.allocation_attempts();
        assert!(sensor.load_content(&content()).accepted);
        sensor.emu.allocation_attempts() - before
    };
    assert!(attempts >= 1, "LOAD_CONTENT copies the content into pool");
    for k in 1..=attempts {
        let mut sensor = start();
        sensor.emu.fail_allocation(k);
        let r = sensor.ioctl(Code::LoadContent as u32, &content(), LoadContentResponse::LEN);
        sensor.emu.clear_allocation_failure();
        if r.status == STATUS_INSUFFICIENT_RESOURCES {
            assert_eq!(sensor.stats().active_content_version, 0, "nothing changed");
        } else {
            assert_eq!(r.status, 0);
        }
        assert!(sensor.load_content(&content()).accepted, "the driver keeps serving");
        serve(&mut sensor);
        assert_eq!(sensor.stop().problems(), Vec::new(), "allocation {k}");
    }
}

fn serve(sensor: &mut Sensor) {
    sensor.read_all();
    for a in &mixed(20, 9) {
        sensor.fire(a);
    }
    assert!(!sensor.read_all().is_empty(), "events still flow");
}

#[test]
fn each_allocation_event_handling_makes_can_fail_and_every_event_still_goes_out() {
    let activity = mixed(40, 11);
    let attempts = {
        let mut sensor = start();
        let before = sensor.emu.allocation_attempts();
        for a in &activity {
            sensor.fire(a);
        }
        let c = sensor.stats().process_table;
        let attempts = sensor.emu.allocation_attempts() - before;
        // At most one block per entry (a start or a process filled from the kernel; fewer,
        // as an exit's block is kept and reused), each command line read from the kernel
        // one more: nothing else on the event path allocates.
        assert!(attempts >= 1 && attempts <= 2 * c.inserts, "{attempts} for {} entries", c.inserts);
        attempts
    };
    for k in 1..=attempts {
        let mut sensor = start();
        sensor.emu.fail_allocation(k);
        for a in &activity {
            sensor.fire(a);
        }
        sensor.emu.clear_allocation_failure();
        let records = sensor.read_all();
        assert_eq!(records.len(), activity.len(), "allocation {k}: no event lost");
        let failures = sensor.stats().process_table.failures;
        assert!(failures <= 1, "allocation {k}: {failures} failures counted");
        assert_eq!(sensor.stop().problems(), Vec::new(), "allocation {k}");
    }
}

#[test]
fn unload_with_the_device_open_waits_for_the_close_then_leaves_nothing() {
    let mut sensor = start();
    let event = sensor.emu.create_event();
    assert_eq!(sensor.set_event(event), 0);
    for a in &mixed(50, 2) {
        sensor.fire(a);
    }
    assert_eq!(sensor.emu.unload(), Ok(Unload::Pending));
    let (status, _) = sensor.emu.open(Caller::Administrator, true, true).expect("the I/O manager answers");
    assert!(status < 0, "no new open while the unload is pending");
    sensor.emu.close(sensor.file).expect("close returns");
    assert!(!sensor.emu.loaded, "DriverUnload ran after the last close");
    assert!(sensor.emu.close_handle(event), "the client still owns its event");
    assert_eq!(sensor.emu.report().problems(), Vec::new());
}

#[test]
fn unload_with_content_loaded_frees_it() {
    let mut sensor = start();
    let verdict = sensor.load_content(&content());
    assert!(verdict.accepted, "{verdict:?} {:?}", ringfence_content::validate(&content(), &SCHEMA).err());
    assert_eq!(sensor.stop().problems(), Vec::new());
}

#[test]
fn unload_in_the_middle_of_a_stream_frees_the_queue_and_the_event_reference() {
    let mut sensor = start();
    let event = sensor.emu.create_event();
    assert_eq!(sensor.set_event(event), 0);
    for a in &mixed(500, 4) {
        sensor.fire(a);
    }
    let r = sensor.read(4096);
    assert!(r.information > 0, "part of the stream was read");
    sensor.emu.close_handle(event);
    let report = sensor.stop();
    assert_eq!(report.problems(), Vec::new());
}

#[test]
fn the_device_admits_system_and_administrators_only() {
    let mut sensor = start();
    let sd = sensor.emu.device_security().expect("the driver set a security descriptor");
    let dacl = sd.dacl.expect("a DACL is present");
    let sids: Vec<&str> = dacl.iter().map(|a| a.sid.as_str()).collect();
    assert_eq!(sids, vec![SID_LOCAL_SYSTEM, SID_ADMINISTRATORS]);
    assert!(dacl.iter().all(|a| a.ace_type == 0), "allow entries only");
    sensor.emu.close(sensor.file).expect("close returns");
    for (caller, admitted) in
        [(Caller::StandardUser, false), (Caller::LocalSystem, true), (Caller::Administrator, true)]
    {
        let (status, file) = sensor.emu.open(caller, true, true).expect("the I/O manager answers");
        assert_eq!(file.is_some(), admitted, "{caller:?}: {status:#x}");
        if let Some(file) = file {
            sensor.emu.close(file).expect("close returns");
        }
    }
    assert_eq!(sensor.emu.unload(), Ok(Unload::Done));
    assert_eq!(sensor.emu.report().problems(), Vec::new());
}

/// APIs DriverEntry calls that report failure with an NTSTATUS.
const FALLIBLE: [&str; 12] = [
    "IoCreateDevice",
    "IoCreateSymbolicLink",
    "PsSetCreateProcessNotifyRoutineEx2",
    "PsSetLoadImageNotifyRoutineEx",
    "ObOpenObjectByPointer",
    "ZwSetSecurityObject",
    "RtlCreateSecurityDescriptor",
    "RtlCreateAcl",
    "RtlAddAccessAllowedAce",
    "RtlSetDaclSecurityDescriptor",
    "ZwOpenKey",
    "ZwQueryValueKey",
];

#[test]
fn each_kernel_call_driver_entry_makes_can_fail_and_driver_entry_unwinds_or_carries_on_cleanly() {
    let mut clean = fresh();
    assert_eq!(clean.driver_entry(), Ok(0));
    let called: Vec<&str> =
        FALLIBLE.iter().copied().filter(|api| clean.api_calls().contains_key(api)).collect();
    // Every one of them: a name here that DriverEntry no longer calls would hide a path.
    assert_eq!(called, FALLIBLE, "DriverEntry's fallible calls");
    for api in called {
        let mut emu = fresh();
        emu.fail_next_call(api, windows_sys::Win32::Foundation::STATUS_INSUFFICIENT_RESOURCES);
        let status = emu.driver_entry().unwrap_or_else(|s| panic!("{api} failed: {s}"));
        if status < 0 {
            let report = emu.report();
            assert_eq!(report.problems(), Vec::new(), "{api} failed: DriverEntry left something behind");
            assert!(report.devices.is_empty() && report.links.is_empty(), "{api}");
        } else {
            // Only the optional registry read may fail without failing the load.
            assert!(
                api.starts_with("Zw") && api != "ZwSetSecurityObject",
                "{api} failed yet DriverEntry succeeded"
            );
            assert_eq!(emu.unload(), Ok(Unload::Done));
            assert_eq!(emu.report().problems(), Vec::new(), "{api}");
        }
    }
}

#[test]
fn an_image_without_integrity_check_cannot_register_its_process_callback_and_unwinds() {
    let mut image = ringfence_sys().to_vec();
    let pe = goblin::pe::PE::parse(&image).expect("a PE image");
    let at = pe.header.dos_header.pe_pointer as usize + 4 + 20 + 70;
    drop(pe);
    assert_eq!(u16::from_le_bytes([image[at], image[at + 1]]) & 0x80, 0x80, "linked with /INTEGRITYCHECK");
    image[at] &= !0x80;
    let mut emu = Emulator::new(&image).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(emu.driver_entry(), Ok(windows_sys::Win32::Foundation::STATUS_ACCESS_DENIED));
    assert_eq!(emu.report().problems(), Vec::new());
}

#[test]
fn a_queue_size_parameter_of_the_wrong_type_or_out_of_range_is_noted_and_replaced() {
    use ringfence_emulator::RegValue;
    use ringfence_wire::ioctl::{
        Notes, QUEUE_BYTES_DEFAULT, QUEUE_BYTES_MAX, QUEUE_BYTES_MIN, QUEUE_BYTES_VALUE_NAME,
    };
    let cases = [
        (RegValue::Binary(vec![1, 2, 3]), QUEUE_BYTES_DEFAULT, Notes::QUEUE_BYTES_PARAM_INVALID),
        (RegValue::Dword(1), QUEUE_BYTES_MIN, Notes::QUEUE_BYTES_CLAMPED),
        (RegValue::Dword(u32::MAX), QUEUE_BYTES_MAX, Notes::QUEUE_BYTES_CLAMPED),
        (RegValue::Dword(QUEUE_BYTES_MIN * 2), QUEUE_BYTES_MIN * 2, Notes::NONE),
    ];
    for (value, queue, note) in cases {
        let mut sensor = common::sensor::start_with(&[(QUEUE_BYTES_VALUE_NAME, value.clone())]);
        let stats = sensor.stats();
        assert_eq!((stats.queue_capacity_bytes, stats.notes), (queue, note), "{value:?}");
        assert_eq!(sensor.stop().problems(), Vec::new());
    }
}

#[test]
fn an_open_below_the_device_or_of_it_as_a_directory_is_refused_and_leaves_the_device_free() {
    use ringfence_emulator::{CREATE_FILE_OPTIONS, FILE_DIRECTORY_FILE};
    use windows_sys::Win32::Foundation::{STATUS_NOT_A_DIRECTORY, STATUS_OBJECT_NAME_NOT_FOUND};
    let mut emu = fresh();
    assert_eq!(emu.driver_entry(), Ok(0));
    let below = emu.open_path(Caller::Administrator, true, true, "\\anything", CREATE_FILE_OPTIONS);
    assert_eq!(below, Ok((STATUS_OBJECT_NAME_NOT_FOUND, None)), "\\Device\\Ringfence\\anything");
    let directory = (1 << 24) | FILE_DIRECTORY_FILE;
    assert_eq!(
        emu.open_path(Caller::Administrator, true, true, "", directory),
        Ok((STATUS_NOT_A_DIRECTORY, None))
    );
    // The client slot is still free: the companion's open succeeds.
    let (status, file) = emu.open(Caller::Administrator, true, true).expect("IRP_MJ_CREATE returns");
    assert_eq!(status, 0, "the device itself opens");
    emu.close(file.expect("a file object")).expect("close returns");
    assert_eq!(emu.unload(), Ok(Unload::Done));
    assert_eq!(emu.report().problems(), Vec::new());
}
