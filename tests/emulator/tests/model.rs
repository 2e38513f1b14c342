//! The kernel model itself, run against the probe driver (fixtures/probe.rs):
//! a rule-abiding session leaves clean books, and each broken rule is caught.

mod common;

use common::probe::probe_sys;
use ringfence_emulator::{
    Caller, Emulator, Finding, ImageLoad, KString, LoadFailure, ProcessApi, ProcessStart, SetupError, Stop,
    Unload,
};

const LEAK: u32 = 1;
const DOUBLE_FREE: u32 = 2;
const HOLD_LOCK: u32 = 3;
const COUNT_IMAGES: u32 = 4;
const OVERRUN: u32 = 5;
const SPIN: u32 = 6;
const PUSH_LOCK_OUTSIDE_CRITICAL_REGION: u32 = 7;
const COMPLETE_TWICE: u32 = 8;
const LEAVE_INCOMPLETE: u32 = 9;
const INFORMATION_TOO_LONG: u32 = 10;
const PAGED_POOL_AT_DISPATCH: u32 = 11;
const HUGE_FRAME: u32 = 12;
const FREE_WITH_ANOTHER_TAG: u32 = 13;
const DEREFERENCE_UNREFERENCED: u32 = 14;
const OPEN_KEY_AS_USER_HANDLE: u32 = 15;
const COUNT_PROCESSES: u32 = 16;

fn loaded() -> (Emulator, u64) {
    let mut emu = Emulator::load(&probe_sys(&[])).expect("the probe loads");
    let (status, file) = emu.open(Caller::Administrator, true, true).expect("IRP_MJ_CREATE returns");
    assert_eq!(status, 0);
    (emu, file.expect("a file object"))
}

fn image(name: KString) -> ImageLoad {
    ImageLoad {
        pid: 40,
        name,
        base: 0x7ff0_0000,
        size: 0x1000,
        signature_level: 0,
        signature_type: 0,
        system_mode: false,
        time: 1,
        conflicting_architecture: false,
    }
}

#[test]
fn a_rule_abiding_driver_ends_with_clean_books() {
    let (mut emu, file) = loaded();
    emu.image_load(&image(KString::text("C:\\Windows\\System32\\ntdll.dll"))).expect("the callback returns");
    let counted = emu.ioctl(file, COUNT_IMAGES, &[], 4).expect("the ioctl returns");
    assert_eq!((counted.status, counted.output), (0, 1u32.to_le_bytes().to_vec()));
    emu.close(file).expect("close returns");
    assert_eq!(emu.unload(), Ok(Unload::Done));
    let report = emu.report();
    assert_eq!(report.problems(), Vec::new());
    assert_eq!((report.pool_allocations, report.pool_frees), (1, 1));
    assert_eq!(emu.api_calls().get("PsRemoveLoadImageNotifyRoutine"), Some(&1));
}

#[test]
fn an_import_the_model_lacks_fails_the_load_and_is_named() {
    let err = Emulator::load(&probe_sys(&["probe_unmodelled"])).expect_err("nothing runs");
    assert_eq!(
        err,
        LoadFailure::Setup(SetupError::UnmodelledImports(vec![
            "ntoskrnl.exe!KeStallExecutionProcessor".to_owned()
        ]))
    );
}

#[test]
fn pool_the_driver_keeps_after_unload_is_a_leak_with_its_tag_and_size() {
    let (mut emu, file) = loaded();
    assert_eq!(emu.ioctl(file, LEAK, &[], 0).map(|r| r.status), Ok(0));
    emu.close(file).expect("close returns");
    assert_eq!(emu.unload(), Ok(Unload::Done));
    let leaks: Vec<_> = emu.report().pool_outstanding.iter().map(|&(_, tag, size)| (tag, size)).collect();
    assert_eq!(leaks, vec![(*b"Prob", 32)]);
}

#[test]
fn a_double_free_bugchecks_bad_pool_caller() {
    let (mut emu, file) = loaded();
    let stop = emu.ioctl(file, DOUBLE_FREE, &[], 0).expect_err("the kernel stops");
    assert!(matches!(stop, Stop::BugCheck { code: 0xC2, .. }), "{stop:?}");
    assert!(emu.report().findings.iter().any(|f| matches!(f, Finding::DoubleFree { .. })));
}

#[test]
fn returning_with_a_spin_lock_held_is_reported() {
    let (mut emu, file) = loaded();
    assert_eq!(emu.ioctl(file, HOLD_LOCK, &[], 0).map(|r| r.status), Ok(0));
    assert!(
        emu.report().findings.iter().any(|f| matches!(f, Finding::LockHeldOnReturn { .. })),
        "{:?}",
        emu.report().findings
    );
}

#[test]
fn writing_past_a_pool_allocation_faults_on_the_guard_page() {
    let (mut emu, file) = loaded();
    let stop = emu.ioctl(file, OVERRUN, &[], 0).expect_err("the write faults");
    assert!(matches!(stop, Stop::Fault { access: ringfence_emulator::books::Access::Write, .. }), "{stop:?}");
}

#[test]
fn reading_a_null_image_name_faults() {
    let (mut emu, _file) = loaded();
    let stop = emu.image_load(&image(KString::Null)).expect_err("the probe dereferences NULL");
    assert!(matches!(stop, Stop::Fault { address: 0, .. }), "{stop:?}");
}

#[test]
fn reading_length_beyond_maximum_length_faults_at_the_buffer_end() {
    let (mut emu, _file) = loaded();
    let name = KString::Raw { units: vec![0x41; 8], length: 64, maximum_length: 16 };
    let stop = emu.image_load(&image(name)).expect_err("the probe trusts Length");
    assert!(matches!(stop, Stop::Fault { access: ringfence_emulator::books::Access::Read, .. }), "{stop:?}");
}

#[test]
fn a_failed_allocation_in_driver_entry_unwinds_cleanly() {
    let sys = probe_sys(&[]);
    for k in 1..=2 {
        let mut emu = Emulator::new(&sys).expect("the probe maps");
        emu.fail_allocation(k);
        let status = emu.driver_entry().expect("DriverEntry returns");
        assert!(status < 0, "allocation {k} failed, DriverEntry must fail");
        assert_eq!(emu.report().problems(), Vec::new(), "allocation {k}");
    }
}

#[test]
fn the_exclusive_device_admits_one_client() {
    let (mut emu, _file) = loaded();
    let (status, file) = emu.open(Caller::Administrator, true, false).expect("the I/O manager answers");
    assert_eq!((status, file), (windows_sys::Win32::Foundation::STATUS_ACCESS_DENIED, None));
}

#[test]
fn unloading_with_a_handle_open_waits_for_the_last_close() {
    let (mut emu, file) = loaded();
    assert_eq!(emu.unload(), Ok(Unload::Pending));
    assert!(emu.report().image_callback, "DriverUnload has not run yet");
    emu.close(file).expect("close returns");
    assert_eq!(emu.report().problems(), Vec::new());
}

#[test]
fn a_call_that_never_returns_is_stopped_by_the_work_budget() {
    let (mut emu, file) = loaded();
    emu.machine.block_budget = 100_000;
    let stop = emu.ioctl(file, SPIN, &[], 0).expect_err("the loop is stopped");
    assert!(matches!(stop, Stop::InstructionBudget { .. }), "{stop:?}");
}

#[test]
fn a_push_lock_taken_outside_a_critical_region_and_kept_is_reported_twice() {
    let (mut emu, file) = loaded();
    assert_eq!(emu.ioctl(file, PUSH_LOCK_OUTSIDE_CRITICAL_REGION, &[], 0).map(|r| r.status), Ok(0));
    let findings = emu.report().findings;
    assert!(
        findings.contains(&Finding::BadArgument {
            api: "ExAcquirePushLockExclusiveEx",
            what: "push lock outside a critical region"
        }),
        "{findings:?}"
    );
    assert!(findings.iter().any(|f| matches!(f, Finding::LockHeldOnReturn { .. })), "{findings:?}");
}

#[test]
fn completing_an_irp_twice_bugchecks_multiple_irp_complete_requests() {
    let (mut emu, file) = loaded();
    let stop = emu.ioctl(file, COMPLETE_TWICE, &[], 0).expect_err("the kernel stops");
    assert!(matches!(stop, Stop::BugCheck { code: 0x44, .. }), "{stop:?}");
}

#[test]
fn returning_without_completing_the_irp_is_reported() {
    let (mut emu, file) = loaded();
    assert_eq!(emu.ioctl(file, LEAVE_INCOMPLETE, &[], 0).map(|r| r.status), Ok(0));
    assert!(emu.report().findings.contains(&Finding::IrpNotCompleted { major: 14 }));
}

#[test]
fn information_beyond_the_output_buffer_is_reported() {
    let (mut emu, file) = loaded();
    assert_eq!(emu.ioctl(file, INFORMATION_TOO_LONG, &[], 4).map(|r| r.status), Ok(0));
    let expected =
        Finding::InformationExceedsOutput { code: INFORMATION_TOO_LONG, information: 12, output: 4 };
    assert!(emu.report().findings.contains(&expected), "{:?}", emu.report().findings);
}

#[test]
fn paged_pool_requested_at_dispatch_level_is_reported() {
    let (mut emu, file) = loaded();
    assert_eq!(emu.ioctl(file, PAGED_POOL_AT_DISPATCH, &[], 0).map(|r| r.status), Ok(0));
    let expected = Finding::IrqlTooHigh { api: "ExAllocatePool2", irql: 2, max: 1 };
    assert!(emu.report().findings.contains(&expected), "{:?}", emu.report().findings);
}

#[test]
fn a_frame_larger_than_the_kernel_stack_is_a_stack_overflow() {
    let (mut emu, file) = loaded();
    let stop = emu.ioctl(file, HUGE_FRAME, &[], 0).expect_err("the stack overflows");
    assert!(matches!(stop, Stop::Fault { .. }), "{stop:?}");
    let overflow = Finding::StackOverflow { entry: ringfence_emulator::Entry::Dispatch { major: 14 } };
    assert!(emu.report().findings.contains(&overflow), "{:?}", emu.report().findings);
}

#[test]
fn freeing_with_another_tag_is_reported_with_both_tags() {
    let (mut emu, file) = loaded();
    assert_eq!(emu.ioctl(file, FREE_WITH_ANOTHER_TAG, &[], 0).map(|r| r.status), Ok(0));
    let mismatch = emu.report().findings.into_iter().find_map(|f| match f {
        Finding::FreeTagMismatch { allocated, freed, .. } => Some((allocated, freed)),
        _ => None,
    });
    assert_eq!(mismatch, Some((*b"Prob", *b"Oops")));
}

#[test]
fn releasing_a_reference_never_taken_is_reported() {
    let (mut emu, file) = loaded();
    assert_eq!(emu.ioctl(file, DEREFERENCE_UNREFERENCED, &[], 0).map(|r| r.status), Ok(0));
    assert!(emu.report().findings.iter().any(|f| matches!(f, Finding::ReferenceUnderflow { .. })));
}

#[test]
fn a_key_opened_without_obj_kernel_handle_and_never_closed_is_reported_twice() {
    let (mut emu, file) = loaded();
    assert_eq!(emu.ioctl(file, OPEN_KEY_AS_USER_HANDLE, &[], 0).map(|r| r.status), Ok(0));
    let report = emu.report();
    assert!(
        report.findings.contains(&Finding::HandleNotKernel { api: "ZwOpenKey" }),
        "{:?}",
        report.findings
    );
    assert_eq!(report.kernel_handles.len(), 1, "the handle is still open");
    assert!(report.problems().iter().any(|f| matches!(f, Finding::HandleLeak { .. })));
}

#[test]
fn an_image_routine_registered_without_the_flag_never_hears_of_conflicting_architectures() {
    // The probe registers with PsSetLoadImageNotifyRoutine (no flags).
    let (mut emu, file) = loaded();
    let conflicting = ImageLoad { conflicting_architecture: true, ..image(KString::text("C:\\x86\\a.dll")) };
    emu.image_load(&conflicting).expect("no callback runs");
    emu.image_load(&image(KString::text("C:\\x64\\b.dll"))).expect("the callback returns");
    let counted = emu.ioctl(file, COUNT_IMAGES, &[], 4).expect("the ioctl returns");
    assert_eq!(counted.output, 1u32.to_le_bytes().to_vec(), "only the native image was reported");
    assert_eq!(emu.image_registrations().iter().map(|n| n.flags).collect::<Vec<_>>(), [0]);
}

fn process(pid: u32, subsystem: bool) -> ProcessStart {
    ProcessStart {
        pid,
        parent_pid: 4,
        creating_pid: 4,
        creating_tid: 8,
        session_id: 0,
        image: if subsystem { KString::Null } else { KString::text("\\??\\C:\\Windows\\System32\\cmd.exe") },
        command_line: KString::Null,
        start_key: u64::from(pid),
        create_time: 1,
        file_open_name_available: !subsystem,
        is_subsystem_process: subsystem,
        token: ringfence_emulator::Token::default(),
    }
}

#[test]
fn a_process_routine_registered_with_ex_never_hears_of_subsystem_processes() {
    let mut emu = Emulator::load(&probe_sys(&["probe_process_ex"])).expect("the probe loads");
    let (_, file) = emu.open(Caller::Administrator, true, true).expect("IRP_MJ_CREATE returns");
    let file = file.expect("a file object");
    assert_eq!(emu.process_registration().map(|n| n.api), Some(ProcessApi::Ex));
    emu.process_start(&process(100, false)).expect("the callback returns");
    emu.process_start(&process(200, true)).expect("no callback runs");
    emu.process_exit(200, 0, 2).expect("no callback runs");
    emu.process_exit(100, 0, 3).expect("the callback returns");
    let counted = emu.ioctl(file, COUNT_PROCESSES, &[], 4).expect("the ioctl returns");
    assert_eq!(counted.output, 2u32.to_le_bytes().to_vec(), "the Win32 process's start and exit only");
    emu.close(file).expect("close returns");
    assert_eq!(emu.unload(), Ok(Unload::Done));
    assert_eq!(emu.report().problems(), Vec::new());
}
