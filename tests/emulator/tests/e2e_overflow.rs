//! More events than the queue holds: LostEvents records and STATS account for
//! every event exactly, per kind, and sequence numbers cover the gaps.

mod common;

use common::activity::{assert_reports, expectations, kind_of, mixed};
use common::sensor::{record, start_with};
use ringfence_emulator::RegValue;
use ringfence_wire::ioctl::{QUEUE_BYTES_MIN, QUEUE_BYTES_VALUE_NAME};
use ringfence_wire::schema::Event;
use ringfence_wire::{EventKind, Record};

const ACTIVITY: [EventKind; 3] = [EventKind::ProcessStart, EventKind::ProcessExit, EventKind::ImageLoad];

#[derive(Default, Debug, PartialEq, Eq)]
struct Tally {
    delivered: [u64; 3],
    lost: [u64; 3],
    lost_records: u64,
}

fn slot(kind: EventKind) -> usize {
    ACTIVITY.iter().position(|k| *k == kind).expect("an activity kind")
}

/// Walks the records: delivered per kind, lost per kind, and checks that
/// delivered sequences plus announced lost ranges leave no hole.
fn tally(records: &[Vec<u8>], next_sequence: &mut Option<u64>) -> Tally {
    let mut t = Tally::default();
    for bytes in records {
        let r: Record<'_> = record(bytes);
        match r.event() {
            Event::LostEvents {
                count,
                first_sequence,
                last_sequence,
                process_start,
                process_exit,
                image_load,
                ..
            } => {
                t.lost_records += 1;
                assert_eq!(count, last_sequence - first_sequence + 1, "a lost range is contiguous");
                assert_eq!(count, process_start + process_exit + image_load, "per-kind losses add up");
                if let Some(expected) = *next_sequence {
                    assert_eq!(first_sequence, expected, "the lost range starts where delivery stopped");
                }
                t.lost[0] += process_start;
                t.lost[1] += process_exit;
                t.lost[2] += image_load;
                // The announcement carries its own sequence number, after the range it reports.
                assert_eq!(r.sequence(), last_sequence + 1, "the announcement follows its range");
                *next_sequence = Some(r.sequence() + 1);
            }
            _ => {
                if let Some(expected) = *next_sequence {
                    assert_eq!(r.sequence(), expected, "no unannounced gap");
                }
                t.delivered[slot(r.kind())] += 1;
                *next_sequence = Some(r.sequence() + 1);
            }
        }
    }
    t
}

#[test]
fn events_beyond_the_queue_are_counted_as_lost_per_kind_and_nothing_goes_unaccounted() {
    let mut sensor = start_with(&[(QUEUE_BYTES_VALUE_NAME, RegValue::Dword(QUEUE_BYTES_MIN))]);
    assert_eq!(sensor.hello.queue_bytes, QUEUE_BYTES_MIN);
    let activity = mixed(3000, 0x0F10);
    for a in &activity {
        sensor.fire(a);
    }
    let mut next = None;
    let first = sensor.read_all();
    // Space is free again: the next event is preceded by the loss announcement.
    let late = mixed(3, 77);
    for a in &late {
        sensor.fire(a);
    }
    let second = sensor.read_all();
    let (a, b) = (tally(&first, &mut next), tally(&second, &mut next));
    assert!(a.lost_records + b.lost_records >= 1, "a LostEvents record was delivered");
    let stats = sensor.stats();
    for kind in ACTIVITY {
        let injected = activity.iter().chain(&late).filter(|x| kind_of(x) == kind).count() as u64;
        let (delivered, lost) =
            (a.delivered[slot(kind)] + b.delivered[slot(kind)], a.lost[slot(kind)] + b.lost[slot(kind)]);
        assert!(lost > 0 || kind == EventKind::ProcessExit, "{kind:?} overflowed");
        assert_eq!(injected, delivered + lost, "{kind:?}: injected = delivered + dropped");
        let c = stats.kind(kind);
        assert_eq!((c.seen, c.queued, c.dropped), (injected, delivered, lost), "{kind:?} in STATS");
    }
    // Every delivered record reports, unchanged, the event its sequence number went to: each
    // event offered takes the next number, delivered or dropped, and so does each LostEvents
    // record (which is how a loss can be announced, and later events queued, before any READ:
    // a smaller event fits where a larger one did not).
    let expected = expectations(&activity);
    let (mut announcements, mut delivered_events) = (0, 0);
    for bytes in &first {
        let r = record(bytes);
        if r.kind() == EventKind::LostEvents {
            announcements += 1;
            continue;
        }
        let index = usize::try_from(r.sequence() - 1 - announcements).expect("an index");
        assert_reports(&r, &expected[index], "");
        delivered_events += 1;
    }
    assert!(delivered_events > 0 && delivered_events <= activity.len());
    assert!(stats.queue_high_water_bytes <= QUEUE_BYTES_MIN);
    assert_eq!(sensor.stop().problems(), Vec::new());
}
