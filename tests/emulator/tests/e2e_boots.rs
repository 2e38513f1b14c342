//! Boots, simulated: the driver persists accepted content and restores it at DriverEntry;
//! the crash-loop guard brings the sensor up within the threshold's number of boots; a
//! crash at every kernel call of DriverEntry and of a content load, across consecutive
//! boots, never loses the last-known-good and never puts a half-written file in use; a
//! healthy content is promoted exactly once; the files carry an admin-only DACL.

mod common;

use common::boots::{Booted, boot, boot_unopened, content, open, signed, trusting_signer};
use ringfence_emulator::model::se::{SID_ADMINISTRATORS, SID_LOCAL_SYSTEM};
use ringfence_emulator::{CONTENT_DIRECTORY, Disk, Emulator, RegValue};
use ringfence_trust::{GuardState, Level, Reason, Slot};
use ringfence_wire::ioctl::Notes;

const THRESHOLD: u32 = 2;

/// Quick trials: three events make content healthy. Signatures are required (and so
/// verified at every restore) unless `unsigned`: the crash grids push unsigned content,
/// since they test persistence and an emulated Ed25519 check costs ~80 ms a boot.
fn parameters_for(unsigned: bool) -> Vec<(&'static str, RegValue)> {
    let mut p = vec![("TrialEvents", RegValue::Dword(3)), ("TrialSeconds", RegValue::Dword(0))];
    if !unsigned {
        p.push(trusting_signer());
    }
    p
}

fn parameters() -> Vec<(&'static str, RegValue)> {
    parameters_for(UNSIGNED.with(|u| u.get()))
}

thread_local! {
    static UNSIGNED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// What the tests push: signed, or (in the crash grids) the bare content.
fn pushed(version: u32) -> Vec<u8> {
    if UNSIGNED.with(|u| u.get()) { content(version) } else { signed(version) }
}

fn up(disk: &Disk) -> Booted {
    boot(disk, &parameters())
}

fn guard_state(disk: &Disk) -> Option<GuardState> {
    disk.service_value("GuardState").map(|(_, data)| GuardState::parse(data).expect("a well-formed state"))
}

/// A disk whose last-known-good is signed version 5.
fn with_last_known_good() -> Disk {
    let mut sensor = up(&Disk::default());
    assert!(sensor.load(&pushed(5)).accepted);
    sensor.run_events(3).expect("events run");
    assert_eq!(sensor.trust().promotions, 1);
    sensor.shutdown()
}

#[test]
fn accepted_content_is_restored_by_driver_entry_before_any_client_connects() {
    let mut sensor = up(&Disk::default());
    assert!(sensor.load(&signed(7)).accepted);
    let disk = sensor.shutdown();
    assert_eq!(disk.content_file("trial.bin"), Some(&signed(7)[..]));
    let mut emu = boot_unopened(&disk, &parameters());
    assert_eq!(emu.driver_entry(), Ok(0));
    // The callbacks filter with version 7 before the device is opened: exit status 7 is kept, 1 dropped.
    emu.process_exit(100, 7, 1).expect("callback runs");
    emu.process_exit(101, 1, 1).expect("callback runs");
    let mut sensor = open(emu);
    let stats = sensor.stats();
    assert_eq!(stats.active_content_version, 7);
    let exits = stats.kinds[1];
    assert_eq!((exits.seen, exits.filtered, exits.queued), (2, 1, 1));
    let restored = Reason::Restored { slot: Slot::Trial }.code();
    assert_eq!(sensor.content_records(), vec![(true, 7, 7, restored)]);
    assert_eq!(sensor.trust().active_level, Level::Trial as u32);
    // DriverEntry runs on a system thread's 24 KiB kernel stack; restoring signed content
    // (Ed25519 included) stays within the documented budget of 16 KiB.
    let deepest = sensor.emu.report().max_stack_by_entry[&ringfence_emulator::books::Entry::DriverEntry];
    assert!(deepest < 16 << 10, "DriverEntry used {deepest} bytes of stack");
    sensor.shutdown();
}

#[test]
fn the_directory_and_files_grant_system_and_administrators_only() {
    let mut sensor = up(&Disk::default());
    assert!(sensor.load(&signed(7)).accepted);
    let disk = sensor.shutdown();
    for path in [CONTENT_DIRECTORY.to_owned(), format!("{CONTENT_DIRECTORY}\\trial.bin")] {
        let node = disk.files.get(&path.to_lowercase()).unwrap_or_else(|| panic!("{path} exists"));
        let dacl = node.security.as_ref().and_then(|sd| sd.dacl.clone()).expect("a DACL");
        let sids: Vec<&str> = dacl.iter().map(|ace| ace.sid.as_str()).collect();
        assert_eq!(sids, vec![SID_LOCAL_SYSTEM, SID_ADMINISTRATORS], "{path}");
        assert!(
            dacl.iter().all(|ace| ace.ace_type == 0 && ace.flags == 0),
            "{path}: allow ACEs that do not inherit"
        );
    }
}

#[test]
fn healthy_content_is_promoted_exactly_once_and_restored_as_last_known_good() {
    let mut sensor = up(&Disk::default());
    assert!(sensor.load(&signed(7)).accepted);
    sensor.run_events(10).expect("events run");
    let promoted = Reason::Promoted.code();
    let records = sensor.content_records();
    assert_eq!(records.iter().filter(|r| r.3 == promoted).count(), 1, "{records:?}");
    let mut disk = sensor.shutdown();
    assert_eq!(disk.content_file("lkg.bin"), Some(&signed(7)[..]));
    assert_eq!(disk.content_file("trial.bin"), None, "the trial file is removed once promoted");
    for _ in 0..3 {
        let mut again = up(&disk);
        again.run_events(10).expect("events run");
        let records = again.content_records();
        let restored = Reason::Restored { slot: Slot::LastKnownGood }.code();
        assert_eq!(records, vec![(true, 7, 7, restored)], "restored, never promoted again");
        assert_eq!(again.trust().promotions, 0);
        disk = again.shutdown();
    }
    assert_eq!(guard_state(&disk).map(|s| (s.level, s.unhealthy_starts)), Some((Level::LastKnownGood, 0)));
}

/// Boots `disk` until a boot survives; `crashes(version)`: whether a boot with that content
/// active dies (the harness ends it without an orderly shutdown). Returns boots and version.
fn boots_until_running(mut disk: Disk, crashes: impl Fn(u32) -> bool) -> (u32, u32, Disk) {
    for boots in 1..=10 {
        let mut sensor = up(&disk);
        let version = sensor.stats().active_content_version;
        if crashes(version) {
            disk = sensor.emu.crash_disk();
            continue;
        }
        sensor.run_events(3).expect("events run");
        return (boots, version, sensor.shutdown());
    }
    panic!("the sensor never came up");
}

#[test]
fn content_that_crashes_every_boot_falls_back_to_last_known_good_within_the_threshold() {
    let mut sensor = up(&with_last_known_good());
    assert!(sensor.load(&signed(7)).accepted);
    let crashed = sensor.emu.crash_disk();
    let (boots, version, disk) = boots_until_running(crashed, |v| v == 7);
    assert_eq!((boots, version), (THRESHOLD, 5));
    assert_eq!(disk.content_file("lkg.bin"), Some(&pushed(5)[..]), "last-known-good never overwritten");
    let mut after = up(&disk);
    assert_eq!(after.stats().active_content_version, 5);
    after.shutdown();
}

#[test]
fn the_fallback_is_a_content_changed_record_a_stats_note_and_a_trust_counter() {
    let mut sensor = up(&with_last_known_good());
    assert!(sensor.load(&signed(7)).accepted);
    let disk = sensor.emu.crash_disk();
    let disk = up(&disk).emu.crash_disk(); // the second start with 7 dies too
    let mut sensor = up(&disk);
    let crash_loop = Reason::CrashLoop { slot: Slot::Trial, starts: 2, threshold: THRESHOLD }.code();
    let restored = Reason::Restored { slot: Slot::LastKnownGood }.code();
    assert_eq!(sensor.content_records(), vec![(false, 7, 5, crash_loop), (true, 5, 5, restored)]);
    assert!(sensor.stats().notes.contains(Notes::CONTENT_FALLBACK));
    assert_eq!(sensor.trust().start_fallbacks, 1);
    sensor.shutdown();
}

/// Loads 7 over last-known-good 5 and runs it to promotion, crashing at kernel call `k`
/// (counted from the start of DriverEntry) if given. Returns the calls made and the disk.
fn load_and_promote(disk: &Disk, crash_at: Option<u64>) -> (u64, Disk) {
    let mut emu = boot_unopened(disk, &parameters());
    if let Some(k) = crash_at {
        emu.crash_at_call(k);
    }
    let crashed = |emu: &Emulator| (emu.api_call_count(), emu.crash_disk());
    if emu.driver_entry().is_err() || emu.crashed() {
        return crashed(&emu);
    }
    let Ok((0, Some(file))) = emu.open(ringfence_emulator::Caller::Administrator, true, true) else {
        return crashed(&emu);
    };
    let mut sensor = Booted { emu, file };
    if sensor.try_load(&pushed(7)).is_err() || sensor.run_events(3).is_err() || sensor.emu.crashed() {
        return crashed(&sensor.emu);
    }
    let calls = sensor.emu.api_call_count();
    (calls, sensor.shutdown())
}

/// What every boot after a crash must find: a whole last-known-good, and no `.bin` file that
/// is not exactly one of the contents pushed.
fn assert_disk_sound(disk: &Disk, what: &str) {
    let lkg = disk.content_file("lkg.bin").map(<[u8]>::to_vec);
    assert!(lkg == Some(pushed(5)) || lkg == Some(pushed(7)), "{what}: last-known-good is whole");
    if let Some(trial) = disk.content_file("trial.bin") {
        assert_eq!(trial, &pushed(7)[..], "{what}: the trial file is whole");
    }
}

/// Content that became last-known-good ran healthily: only 7 not yet promoted crashes.
fn crashes_unless_promoted(disk: &Disk) -> impl Fn(u32) -> bool + use<> {
    let promoted = disk.content_file("lkg.bin") == Some(&pushed(7)[..]);
    move |version| version == 7 && !promoted
}

#[test]
fn a_crash_at_every_kernel_call_of_driver_entry_and_of_a_load_never_loses_last_known_good() {
    UNSIGNED.with(|u| u.set(true));
    let base = with_last_known_good();
    let (calls, _) = load_and_promote(&base, None);
    assert!(calls > 50, "the scenario makes kernel calls: {calls}");
    for k in 1..=calls {
        let (_, crashed) = load_and_promote(&base, Some(k));
        assert_disk_sound(&crashed, &format!("crash at call {k}"));
        // Whatever was on trial keeps crashing: the sensor must still come up in time.
        let crashes = crashes_unless_promoted(&crashed);
        let (boots, version, after) = boots_until_running(crashed, crashes);
        assert!(boots <= THRESHOLD, "crash at call {k}: up after {boots} boots");
        assert!(version == 5 || version == 7, "crash at call {k}: version {version}");
        assert_disk_sound(&after, &format!("after crash at call {k}"));
    }
}

#[test]
fn the_same_crash_in_driver_entry_at_consecutive_boots_ends_in_a_running_sensor() {
    UNSIGNED.with(|u| u.set(true));
    let mut sensor = up(&with_last_known_good());
    assert!(sensor.load(&pushed(7)).accepted);
    let on_trial = sensor.shutdown();
    let mut clean = boot_unopened(&on_trial, &parameters());
    assert_eq!(clean.driver_entry(), Ok(0));
    let entry_calls = clean.api_call_count();
    for k in 1..=entry_calls {
        let mut disk = on_trial.clone();
        for _ in 0..THRESHOLD {
            let mut emu = boot_unopened(&disk, &parameters());
            emu.crash_at_call(k);
            let _ = emu.driver_entry();
            disk = emu.crash_disk();
        }
        assert_disk_sound(&disk, &format!("crash at call {k} twice"));
        let mut sensor = up(&disk);
        let version = sensor.stats().active_content_version;
        assert!([0, 5, 7].contains(&version), "crash at call {k} twice: version {version}");
        if version == 0 {
            let state = sensor.trust();
            assert_eq!(
                state.level,
                Level::Nothing as u32,
                "crash at call {k} twice: the guard gave up, knowingly"
            );
        }
        assert_disk_sound(&sensor.shutdown(), &format!("crash at call {k} twice, then a clean boot"));
    }
}
