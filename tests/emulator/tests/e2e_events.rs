//! The real driver turns kernel notifications into records: every field as
//! injected, sequence numbers gap-free, and nothing left behind at unload.

mod common;

use common::activity::{assert_reports, expectations, kind_of, mixed};
use common::sensor::{record, start};
use ringfence_emulator::{Activity, Caller, ProcessApi, Report};
use ringfence_wire::EventKind;
use windows_sys::Wdk::System::SystemServices::PS_IMAGE_NOTIFY_CONFLICTING_ARCHITECTURE;

fn assert_clean(report: &Report) {
    assert_eq!(report.problems(), Vec::new(), "the books after unload");
    assert!(!report.process_callback && !report.image_callback, "no callback registered");
    assert!(report.devices.is_empty() && report.links.is_empty(), "no device or link left");
    assert!(report.locks_held.is_empty() && report.references.is_empty(), "no lock held, no reference kept");
}

#[test]
fn a_thousand_mixed_events_come_back_field_by_field_with_gap_free_sequences() {
    let mut sensor = start();
    let activity = mixed(1000, 0x5EED);
    for a in &activity {
        sensor.fire(a);
    }
    let records = sensor.read_all();
    assert_eq!(records.len(), activity.len(), "one record per event, none lost or added");
    let first = record(&records[0]).sequence();
    for (i, (bytes, expected)) in records.iter().zip(&expectations(&activity)).enumerate() {
        let r = record(bytes);
        assert_eq!(r.sequence(), first + i as u64, "sequence numbers are gap-free");
        assert_eq!(r.kind(), kind_of(&expected.activity));
        assert_reports(&r, expected, "");
    }
    let stats = sensor.stats();
    for kind in [EventKind::ProcessStart, EventKind::ProcessExit, EventKind::ImageLoad] {
        let injected = activity.iter().filter(|a| kind_of(a) == kind).count() as u64;
        let counters = stats.kind(kind);
        assert_eq!((counters.seen, counters.queued, counters.dropped), (injected, injected, 0), "{kind:?}");
    }
    assert_eq!(stats.records_delivered, activity.len() as u64);
    let report = sensor.stop();
    assert_clean(&report);
    // The callbacks run on a kernel stack the kernel has already half used.
    assert!(report.max_stack_bytes < 8 << 10, "deepest stack use {} bytes", report.max_stack_bytes);
}

#[test]
fn an_empty_queue_reads_as_zero_bytes() {
    let mut sensor = start();
    let r = sensor.read(4096);
    assert_eq!((r.status, r.information), (0, 0));
    assert_clean(&sensor.stop());
}

#[test]
fn process_creation_with_null_and_malformed_strings_is_reported_without_a_fault() {
    let mut sensor = start();
    let activity = mixed(300, 0xBAD_5721);
    let odd = activity.iter().filter(|a| match a {
        Activity::ProcessStart(p) => p.image.expected_units().len() * 2 != p.image.place_len(),
        _ => false,
    });
    assert!(odd.count() > 0, "the sample includes NULL, odd and over-long strings");
    for a in &activity {
        sensor.fire(a);
    }
    let records = sensor.read_all();
    for (bytes, expected) in records.iter().zip(&expectations(&activity)) {
        assert_reports(&record(bytes), expected, "");
    }
    assert_clean(&sensor.stop());
}

#[test]
fn the_wake_event_is_signalled_when_records_arrive_and_released_at_cleanup() {
    let mut sensor = start();
    let event = sensor.emu.create_event();
    assert_eq!(sensor.set_event(event), 0);
    assert!(!sensor.emu.take_signal(event), "nothing queued yet");
    sensor.fire(&mixed(1, 1)[0]);
    assert!(sensor.emu.take_signal(event), "a record arrived");
    assert_eq!(sensor.emu.report().references.len(), 1, "the driver holds the event");
    let report = sensor.stop();
    assert_clean(&report);
}

#[test]
fn an_event_registered_while_records_wait_is_signalled_at_once() {
    let mut sensor = start();
    sensor.fire(&mixed(1, 3)[0]);
    let event = sensor.emu.create_event();
    assert_eq!(sensor.set_event(event), 0);
    assert!(sensor.emu.take_signal(event), "a record was already queued");
    assert_eq!(sensor.read_all().len(), 1);
    assert_clean(&sensor.stop());
}

#[test]
fn a_handle_without_modify_state_or_of_the_wrong_type_is_refused() {
    let mut sensor = start();
    let weak = sensor.emu.create_event_with_access(0x0010_0000);
    assert_eq!(sensor.set_event(weak), windows_sys::Win32::Foundation::STATUS_ACCESS_DENIED);
    assert_eq!(sensor.set_event(0x7777_0000), windows_sys::Win32::Foundation::STATUS_INVALID_HANDLE);
    let process = sensor.emu.create_process_handle();
    assert_eq!(sensor.set_event(process), windows_sys::Win32::Foundation::STATUS_OBJECT_TYPE_MISMATCH);
    assert!(sensor.emu.report().references.is_empty());
    assert_clean(&sensor.stop());
}

#[test]
fn a_second_client_is_refused_while_the_first_holds_the_device() {
    let mut sensor = start();
    let (status, file) = sensor.emu.open(Caller::Administrator, true, true).expect("the I/O manager answers");
    assert_eq!((status, file), (windows_sys::Win32::Foundation::STATUS_ACCESS_DENIED, None));
    assert_clean(&sensor.stop());
}

#[test]
fn registering_another_event_releases_the_first_and_handle_zero_releases_all() {
    let mut sensor = start();
    let (first, second) = (sensor.emu.create_event(), sensor.emu.create_event());
    assert_eq!(sensor.set_event(first), 0);
    assert_eq!(sensor.set_event(second), 0);
    assert_eq!(sensor.emu.report().references.len(), 1, "only the second is held");
    sensor.fire(&mixed(1, 5)[0]);
    assert!(!sensor.emu.take_signal(first) && sensor.emu.take_signal(second), "the second is signalled");
    assert_eq!(sensor.set_event(0), 0);
    assert!(sensor.emu.report().references.is_empty(), "handle 0 unregisters");
    assert_clean(&sensor.stop());
}

#[test]
fn the_longest_strings_a_unicode_string_can_hold_arrive_whole() {
    let mut sensor = start();
    let long = |c: char| std::iter::repeat_n(c, 0x7FFF).collect::<String>();
    let start_event = Activity::ProcessStart(ringfence_emulator::ProcessStart {
        pid: 9000,
        parent_pid: 4,
        creating_pid: 4,
        creating_tid: 8,
        session_id: 1,
        image: ringfence_emulator::KString::Text(long('i')),
        command_line: ringfence_emulator::KString::Text(long('c')),
        start_key: 77,
        create_time: common::activity::T0,
        file_open_name_available: true,
        is_subsystem_process: false,
        token: ringfence_emulator::Token::default(),
    });
    sensor.fire(&start_event);
    let records = sensor.read_all();
    assert_eq!(records.len(), 1);
    common::activity::assert_reports(&record(&records[0]), &expectations(&[start_event])[0], "");
    assert_clean(&sensor.stop());
}

#[test]
fn the_device_opens_again_after_its_client_closes_it() {
    let mut sensor = start();
    sensor.emu.close(sensor.file).expect("close returns");
    let (status, file) = sensor.emu.open(Caller::Administrator, true, true).expect("the I/O manager answers");
    assert_eq!(status, 0);
    sensor.file = file.expect("a new file object");
    assert_clean(&sensor.stop());
}

#[test]
fn subsystem_processes_are_reported_with_empty_names_where_the_kernel_gives_none() {
    let mut sensor = start();
    let registration = sensor.emu.process_registration().expect("a process routine");
    assert_eq!(registration.api, ProcessApi::Ex2Subsystems, "registered to hear of subsystem processes");
    let pico = Activity::ProcessStart(ringfence_emulator::ProcessStart {
        pid: 7100,
        parent_pid: 7000,
        creating_pid: 7000,
        creating_tid: 7004,
        session_id: 1,
        image: ringfence_emulator::KString::Null,
        command_line: ringfence_emulator::KString::Null,
        start_key: 0x4_0000,
        create_time: common::activity::T0,
        file_open_name_available: false,
        is_subsystem_process: true,
        token: ringfence_emulator::Token::default(),
    });
    let exit = Activity::ProcessExit { pid: 7100, exit_status: 0, time: common::activity::T0 + 10 };
    sensor.fire(&pico);
    sensor.fire(&exit);
    let records = sensor.read_all();
    assert_eq!(
        records.iter().map(|r| record(r).kind()).collect::<Vec<_>>(),
        [EventKind::ProcessStart, EventKind::ProcessExit]
    );
    let expected = common::activity::expectations(&[pico, exit]);
    common::activity::assert_reports(&record(&records[0]), &expected[0], "");
    common::activity::assert_reports(&record(&records[1]), &expected[1], "");
    assert_clean(&sensor.stop());
}

#[test]
fn images_of_a_conflicting_architecture_are_reported() {
    let mut sensor = start();
    let flags: Vec<u64> = sensor.emu.image_registrations().iter().map(|n| n.flags).collect();
    assert_eq!(flags, [u64::from(PS_IMAGE_NOTIFY_CONFLICTING_ARCHITECTURE)], "one routine, with the flag");
    let x86 = Activity::ImageLoad(ringfence_emulator::ImageLoad {
        pid: 4242,
        name: ringfence_emulator::KString::text("\\Device\\HarddiskVolume3\\Windows\\SysWOW64\\ntdll.dll"),
        base: 0x77a0_0000,
        size: 0x1a_0000,
        signature_level: 12,
        signature_type: 1,
        system_mode: false,
        time: common::activity::T0,
        conflicting_architecture: true,
    });
    sensor.fire(&x86);
    let records = sensor.read_all();
    assert_eq!(records.len(), 1, "the image was reported");
    let expected = common::activity::expectations(&[x86]);
    common::activity::assert_reports(&record(&records[0]), &expected[0], "");
    assert_clean(&sensor.stop());
}
