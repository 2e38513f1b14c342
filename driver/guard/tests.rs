//! The guard over a store in memory, across simulated boots: restore at start, trial and
//! promotion, crash loops, and a crash or a failure at every store operation.

use crate::admission::{Refusal, TrustSettings};
use crate::guard::{Conclusion, THRESHOLD_DEFAULT};
use crate::health::HealthCriteria;
use crate::host::{Host, MemoryStore, Op, STATUS_IO_DEVICE_ERROR, file_name};
use crate::processes::ProcessTable;
use crate::queue::Queue;
use crate::sensor::{Offered, Sensor, StartSettings};
use ringfence_trust::{AuthError, GuardState, Level, PersistStep, Reason, SignaturePolicy, Slot};
use ringfence_wire::ioctl::Notes;
use ringfence_wire::schema::{Event, SCHEMA};
use ringfence_wire::{Batch, Text};

fn content(version: u32) -> Vec<u8> {
    let rules = format!(
        "version = {version}\n[[rule]]\nname = \"r{version}\"\nkind = \"process_exit\"\naction = \"include\"\nmatch = [{{ field = \"exit_status\", equals = {version} }}]\n"
    );
    ringfence_content::compile(&rules, &SCHEMA).expect("test rules compile")
}

const HEALTH: HealthCriteria = HealthCriteria { events: 3, seconds: 0 };

fn boot_with(store: &MemoryStore, trust: TrustSettings) -> Sensor<Host> {
    let queue = Queue::with_capacity(1 << 20).unwrap();
    let settings = StartSettings {
        trust,
        store: Some(store.clone()),
        threshold: THRESHOLD_DEFAULT,
        health: HEALTH,
        notes: Notes::NONE,
    };
    Sensor::start(queue, ProcessTable::with_budget(256 << 10).unwrap(), Notes::NONE, settings)
}

fn boot(store: &MemoryStore) -> Sensor<Host> {
    store.disk().reboot();
    boot_with(store, TrustSettings::default())
}

fn exit_event() -> Event<'static> {
    Event::ProcessExit {
        pid: 4,
        exit_status: 1,
        time: 1,
        rule_name: Text::default(),
        matched_ids: ringfence_wire::text::Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: ringfence_wire::text::Ids::EMPTY,
        undecided_rest: 0,
        image_path: None,
        start_key: 1,
        user_sid: None,
        truncated: 0,
    }
}

/// Runs the active content through enough events to be healthy, then concludes it.
fn run_healthy(sensor: &Sensor<Host>) -> Conclusion {
    for _ in 0..HEALTH.events {
        sensor.observe(exit_event());
    }
    match sensor.health_due() {
        Some(generation) => sensor.conclude(generation),
        None => Conclusion::Nothing,
    }
}

fn offer(sensor: &Sensor<Host>, bytes: &[u8]) -> Offered {
    sensor.offer(bytes)
}

fn state(store: &MemoryStore) -> GuardState {
    GuardState::parse(store.disk().state.as_deref().expect("a state was written")).unwrap()
}

/// The `ContentChanged` records in the queue: (accepted, version, active, reason).
fn content_records(sensor: &Sensor<Host>) -> Vec<(bool, u32, u32, u32)> {
    let mut out = vec![0u8; 1 << 20];
    let n = sensor.read(&mut out).unwrap();
    Batch::new_checked(&out[..n])
        .unwrap()
        .iter()
        .filter_map(|r| match r.event() {
            Event::ContentChanged { accepted, content_version, active_version, reason, .. } => {
                Some((accepted, content_version, active_version, reason))
            }
            _ => None,
        })
        .collect()
}

/// A store where version 5 passed its trial and is the last-known-good.
fn with_last_known_good() -> MemoryStore {
    let store = MemoryStore::default();
    let sensor = boot(&store);
    assert_eq!(offer(&sensor, &content(5)), Offered::Accepted { version: 5 });
    assert_eq!(run_healthy(&sensor), Conclusion::Promoted { version: 5 });
    store
}

#[test]
fn an_accepted_load_is_persisted_on_trial_and_restored_at_the_next_start() {
    let store = MemoryStore::default();
    let first = boot(&store);
    assert_eq!(first.content_version(), 0, "nothing persisted yet");
    assert_eq!(offer(&first, &content(7)), Offered::Accepted { version: 7 });
    assert_eq!(store.disk().files.get("trial.bin"), Some(&content(7)));
    assert_eq!(state(&store), GuardState { level: Level::Trial, unhealthy_starts: 1, newest_offered: 7 });
    drop(first);
    let second = boot(&store);
    assert_eq!(second.content_version(), 7);
    assert_eq!(state(&store).unhealthy_starts, 2, "this start counts before the content runs");
    let restored = Reason::Restored { slot: Slot::Trial }.code();
    assert_eq!(content_records(&second), vec![(true, 7, 7, restored)]);
}

#[test]
fn healthy_trial_content_is_promoted_exactly_once_and_the_trial_file_removed() {
    let store = MemoryStore::default();
    let sensor = boot(&store);
    offer(&sensor, &content(7));
    assert_eq!(run_healthy(&sensor), Conclusion::Promoted { version: 7 });
    assert_eq!(store.disk().files.get("lkg.bin"), Some(&content(7)));
    assert!(!store.disk().files.contains_key("trial.bin"));
    assert_eq!(
        state(&store),
        GuardState { level: Level::LastKnownGood, unhealthy_starts: 0, newest_offered: 7 }
    );
    for _ in 0..3 {
        let again = boot(&store);
        assert_eq!(again.content_version(), 7);
        assert_eq!(run_healthy(&again), Conclusion::Cleared, "last-known-good only clears its count");
    }
    assert_eq!(store.disk().renames.get(file_name(Slot::LastKnownGood)), Some(&1), "promoted once");
    assert_eq!(sensor.trust_report().promotions, 1);
}

#[test]
fn content_that_never_becomes_healthy_is_not_promoted_and_last_known_good_is_untouched() {
    let store = with_last_known_good();
    let sensor = boot(&store);
    offer(&sensor, &content(7));
    for _ in 0..HEALTH.events - 1 {
        sensor.observe(exit_event());
    }
    assert_eq!(sensor.health_due(), None);
    assert_eq!(store.disk().files.get("lkg.bin"), Some(&content(5)));
}

/// Boots until a start runs; returns how many starts it took and the version then active.
/// `crashes(version)`: whether a start with that version active crashes before it is healthy.
fn boots_until_running(store: &MemoryStore, crashes: impl Fn(u32) -> bool) -> (u32, u32) {
    for boots in 1..=10 {
        let sensor = boot(store);
        let version = sensor.content_version();
        if !crashes(version) {
            run_healthy(&sensor);
            return (boots, version);
        }
    }
    panic!("the sensor never came up");
}

#[test]
fn trial_content_that_crashes_every_start_falls_back_to_last_known_good_within_the_threshold() {
    let store = with_last_known_good();
    let sensor = boot(&store);
    offer(&sensor, &content(7));
    drop(sensor); // the machine crashes while version 7 runs
    let (boots, version) = boots_until_running(&store, |v| v == 7);
    assert_eq!(version, 5);
    assert_eq!(boots, THRESHOLD_DEFAULT, "the load counted as the first start on trial");
    assert_eq!(store.disk().files.get("lkg.bin"), Some(&content(5)), "last-known-good never lost");
    assert_eq!(store.disk().files.get("trial.bin"), Some(&content(7)), "kept for analysis");
}

#[test]
fn the_fallback_start_says_why_in_a_record_and_a_note() {
    let store = with_last_known_good();
    let sensor = boot(&store);
    offer(&sensor, &content(7));
    drop(sensor);
    drop(boot(&store)); // second start on trial, crashes too
    let sensor = boot(&store);
    assert_eq!(sensor.content_version(), 5);
    let crash_loop = Reason::CrashLoop { slot: Slot::Trial, starts: 2, threshold: 2 }.code();
    let restored = Reason::Restored { slot: Slot::LastKnownGood }.code();
    assert_eq!(content_records(&sensor), vec![(false, 7, 5, crash_loop), (true, 5, 5, restored)]);
    assert!(sensor.stats().notes.contains(Notes::CONTENT_FALLBACK));
    assert_eq!(sensor.trust_report().start_fallbacks, 1);
}

#[test]
fn last_known_good_that_also_crashes_ends_in_a_start_without_content_and_the_file_stays() {
    let store = with_last_known_good();
    let sensor = boot(&store);
    offer(&sensor, &content(7));
    drop(sensor);
    // A driver update, say, makes both contents crash.
    let (boots, version) = boots_until_running(&store, |v| v != 0);
    assert_eq!((boots, version), (2 * THRESHOLD_DEFAULT, 0));
    assert_eq!(state(&store).level, Level::Nothing);
    assert_eq!(store.disk().files.get("lkg.bin"), Some(&content(5)));
    let next = boot(&store);
    assert_eq!(next.content_version(), 0, "the guard does not retry what failed");
    assert_eq!(offer(&next, &content(8)), Offered::Accepted { version: 8 }, "a new load starts over");
}

#[test]
fn last_known_good_that_is_the_content_that_failed_its_trial_is_skipped() {
    let store = with_last_known_good();
    let sensor = boot(&store);
    assert_eq!(
        offer(&sensor, &content(5)),
        Offered::Accepted { version: 5 },
        "the same content, pushed again"
    );
    drop(sensor);
    let (boots, version) = boots_until_running(&store, |v| v == 5);
    assert_eq!((boots, version), (THRESHOLD_DEFAULT, 0));
    assert_eq!(store.disk().files.get("lkg.bin"), Some(&content(5)));
}

#[test]
fn a_persisted_file_refused_at_start_steps_down_with_its_own_reason() {
    let store = with_last_known_good();
    let sensor = boot(&store);
    offer(&sensor, &content(7));
    drop(sensor);
    let mut corrupt = content(7);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xFF;
    store.disk().files.insert("trial.bin", corrupt);
    let sensor = boot(&store);
    assert_eq!(sensor.content_version(), 5);
    let records = content_records(&sensor);
    assert_eq!(records.len(), 2);
    assert!(
        !records[0].0 && records[0].3 < ringfence_trust::REASON_BASE,
        "the validator's reason: {records:?}"
    );
    assert_eq!(sensor.trust_report().refused_validation, 0, "start refusals are not load refusals");
}

#[test]
fn persisted_unsigned_content_is_refused_at_start_once_signatures_are_required() {
    let store = with_last_known_good();
    store.disk().reboot();
    let mut required = TrustSettings::default();
    required.policy.signatures = SignaturePolicy::Required;
    let sensor = boot_with(&store, required);
    assert_eq!(sensor.content_version(), 0);
    let unsigned = Reason::Auth(AuthError::Unsigned).code();
    assert_eq!(content_records(&sensor), vec![(false, 5, 0, unsigned)]);
    assert_eq!(state(&store).level, Level::Nothing);
}

#[test]
fn a_failed_write_refuses_the_load_and_changes_nothing() {
    for (op, step) in [
        (Op::WriteTemporary, PersistStep::Write),
        (Op::Flush, PersistStep::Flush),
        (Op::Rename, PersistStep::Rename),
        (Op::WriteState, PersistStep::Registry),
    ] {
        let store = with_last_known_good();
        let sensor = boot(&store);
        let before = state(&store);
        store.disk().fail.insert(op, STATUS_IO_DEVICE_ERROR);
        let expected = Refusal::Trust(Reason::NotPersisted { step, status: STATUS_IO_DEVICE_ERROR });
        assert_eq!(
            offer(&sensor, &content(7)),
            Offered::Refused { declared_version: 7, refusal: expected },
            "{op:?}"
        );
        assert_eq!(sensor.content_version(), 5, "{op:?}: the active content stays");
        assert_eq!(state(&store).level, before.level, "{op:?}");
        assert_eq!(store.disk().files.get("lkg.bin"), Some(&content(5)));
        assert_eq!(sensor.trust_report().refused_persistence, 1);
    }
}

/// The scenario every crash point is taken from: a start with last-known-good 5, a load of
/// 7, 7 runs healthily and is promoted. `crash_at`: the store operation the machine dies in.
fn scenario(store: &MemoryStore, crash_at: Option<u64>) -> u64 {
    store.disk().reboot();
    store.disk().crash_at = crash_at;
    let sensor = boot_with(store, TrustSettings::default());
    offer(&sensor, &content(7));
    run_healthy(&sensor);
    store.disk().ops
}

#[test]
fn a_crash_at_every_store_operation_of_a_start_a_load_and_a_promotion_never_loses_last_known_good() {
    let operations = scenario(&with_last_known_good(), None);
    assert!(operations >= 8, "start, load and promotion touch the store: {operations}");
    for k in 1..=operations {
        let store = with_last_known_good();
        scenario(&store, Some(k));
        assert!(store.disk().crashed, "crash {k} happened");
        let lkg = store.disk().files.get("lkg.bin").cloned();
        assert!(lkg == Some(content(5)) || lkg == Some(content(7)), "crash {k}: last-known-good is whole");
        // Whatever was on trial crashes again at every start: the guard must still bring
        // the sensor up within the threshold, on a whole, admitted content.
        let (boots, version) = boots_until_running(&store, |v| v == 7 && lkg != Some(content(7)));
        assert!(boots <= THRESHOLD_DEFAULT, "crash {k}: up after {boots} starts");
        assert!(version == 5 || version == 7, "crash {k}: version {version} runs");
        let lkg_after = store.disk().files.get("lkg.bin").cloned();
        assert!(lkg_after == Some(content(5)) || lkg_after == Some(content(7)), "crash {k}");
    }
}

#[test]
fn a_crash_at_every_operation_across_consecutive_starts_always_ends_running() {
    // Crash at operation k of the first start, then at operation j of the next one.
    let operations = scenario(&with_last_known_good(), None);
    for k in 1..=operations {
        for j in 1..=6 {
            let store = with_last_known_good();
            scenario(&store, Some(k));
            store.disk().reboot();
            store.disk().crash_at = Some(j);
            drop(boot_with(&store, TrustSettings::default()));
            let (boots, version) = boots_until_running(&store, |_| false);
            assert_eq!(boots, 1, "crashes {k},{j}: a start without a crash runs");
            let lkg = store.disk().files.get("lkg.bin").cloned().unwrap();
            assert!(lkg == content(5) || lkg == content(7), "crashes {k},{j}: last-known-good is whole");
            match version {
                // Two starts in a row died with last-known-good loaded: the guard gave up on it.
                0 => assert_eq!(state(&store).level, Level::Nothing, "crashes {k},{j}"),
                5 | 7 => {
                    let level = state(&store).level;
                    let active = if version == 5 { content(5) } else { content(7) };
                    assert!(lkg == active || level == Level::Trial, "crashes {k},{j}: {level:?}");
                }
                other => panic!("crashes {k},{j}: version {other} runs"),
            }
        }
    }
}

#[test]
fn a_persisted_file_too_large_or_unreadable_is_not_loaded_and_says_why() {
    let store = with_last_known_good();
    let sensor = boot(&store);
    offer(&sensor, &content(7));
    drop(sensor);
    let huge = vec![0u8; crate::guard::MAX_PERSISTED_BYTES + 1];
    store.disk().files.insert("trial.bin", huge);
    let sensor = boot(&store);
    assert_eq!(sensor.content_version(), 5);
    let too_large = Reason::PersistedTooLarge {
        slot: Slot::Trial,
        size: u32::try_from(crate::guard::MAX_PERSISTED_BYTES + 1).unwrap(),
        max: u32::try_from(crate::guard::MAX_PERSISTED_BYTES).unwrap(),
    };
    assert_eq!(content_records(&sensor)[0], (false, 0, 5, too_large.code()));
    drop(sensor);

    let store = with_last_known_good();
    store.disk().reboot();
    store.disk().fail.insert(Op::Read, STATUS_IO_DEVICE_ERROR);
    let sensor = boot_with(&store, TrustSettings::default());
    let unreadable =
        Reason::PersistedUnreadable { slot: Slot::LastKnownGood, status: STATUS_IO_DEVICE_ERROR };
    assert_eq!(content_records(&sensor), vec![(false, 0, 0, unreadable.code())]);
    assert_eq!(sensor.content_version(), 0);
}

#[test]
fn a_malformed_guard_state_is_read_as_the_initial_state() {
    let store = with_last_known_good();
    for bad in [vec![], vec![0xFF; 16], vec![1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], vec![0; 40]] {
        store.disk().state = Some(bad.clone());
        let sensor = boot(&store);
        assert_eq!(sensor.content_version(), 5, "{bad:?}: the last-known-good is loaded");
        assert_eq!(
            state(&store),
            GuardState { level: Level::LastKnownGood, unhealthy_starts: 1, newest_offered: 0 }
        );
    }
}

#[test]
fn a_missing_file_that_the_state_names_is_reported_and_stepped_past() {
    let store = with_last_known_good();
    let sensor = boot(&store);
    offer(&sensor, &content(7));
    drop(sensor);
    store.disk().files.remove("trial.bin");
    let sensor = boot(&store);
    let missing = Reason::PersistedMissing { slot: Slot::Trial }.code();
    let restored = Reason::Restored { slot: Slot::LastKnownGood }.code();
    assert_eq!(content_records(&sensor), vec![(false, 0, 5, missing), (true, 5, 5, restored)]);
}
