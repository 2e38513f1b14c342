use super::*;
use crate::queue::Queue;
use ringfence_wire::{Batch, Record, Text};
use std::cell::Cell;
use std::rc::Rc;

#[derive(Debug, Clone, Default)]
struct Counting(Rc<Cell<usize>>);

impl Wake for Counting {
    fn wake(&self) {
        self.0.set(self.0.get() + 1);
    }
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

/// An event smaller than a `LostEvents` record.
fn changed(version: u32) -> Event<'static> {
    Event::ContentChanged {
        accepted: true,
        content_version: version,
        active_version: version,
        reason: 0,
        offset: 0,
    }
}

fn exit_len() -> usize {
    record::encoded_len(&exit(0)).unwrap()
}

fn lost_len() -> usize {
    record::encoded_len(&Event::LostEvents {
        count: 0,
        first_sequence: 0,
        last_sequence: 0,
        process_start: 0,
        process_exit: 0,
        image_load: 0,
        content_changed: 0,
    })
    .unwrap()
}

fn channel(bytes: usize) -> Channel<Counting> {
    Channel::new(Queue::with_capacity(bytes).unwrap())
}

fn read_all(channel: &mut Channel<Counting>) -> Vec<(u64, Event<'static>)> {
    let mut out = vec![0u8; 1 << 20];
    let n = channel.read(&mut out, 99).unwrap();
    let batch = Batch::new_checked(&out[..n]).unwrap();
    batch
        .iter()
        .map(|r: Record<'_>| {
            let event = match r.event() {
                Event::ProcessExit { pid, exit_status, time, start_key, .. } => Event::ProcessExit {
                    pid,
                    exit_status,
                    time,
                    rule_name: Text::default(),
                    matched_ids: ringfence_wire::text::Ids::EMPTY,
                    matched_rest: 0,
                    undecided_ids: ringfence_wire::text::Ids::EMPTY,
                    undecided_rest: 0,
                    image_path: None,
                    start_key,
                    user_sid: None,
                    truncated: 0,
                },
                Event::LostEvents {
                    count,
                    first_sequence,
                    last_sequence,
                    process_start,
                    process_exit,
                    image_load,
                    content_changed,
                } => Event::LostEvents {
                    count,
                    first_sequence,
                    last_sequence,
                    process_start,
                    process_exit,
                    image_load,
                    content_changed,
                },
                Event::ContentChanged { accepted, content_version, active_version, reason, offset } => {
                    Event::ContentChanged { accepted, content_version, active_version, reason, offset }
                }
                other => panic!("unexpected {other:?}"),
            };
            (r.sequence(), event)
        })
        .collect()
}

#[test]
fn sequence_numbers_start_at_one_and_have_no_gaps() {
    let mut ch = channel(4096);
    for pid in 0..5 {
        assert_eq!(ch.push(&exit(pid), 7), Pushed::Queued { sequence: u64::from(pid) + 1 });
    }
    let got = read_all(&mut ch);
    assert_eq!(got.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    assert_eq!(ch.records_delivered(), 5);
}

#[test]
fn a_full_queue_drops_and_counts_exactly_and_reports_the_loss_when_space_allows() {
    let per = exit_len();
    let fit = 4;
    let mut ch = channel(per * fit);
    for pid in 0..10 {
        ch.push(&exit(pid), 7);
    }
    let c = ch.counters()[kind_index(EventKind::ProcessExit)];
    assert_eq!((c.seen, c.filtered, c.queued, c.dropped), (10, 0, fit as u64, 10 - fit as u64));
    assert!(c.balanced());

    // The first read frees the queue; the LostEvents record is queued right away.
    let first = read_all(&mut ch);
    assert_eq!(first.len(), fit);
    let second = read_all(&mut ch);
    assert_eq!(
        second,
        vec![(
            11,
            Event::LostEvents {
                count: 6,
                first_sequence: 5,
                last_sequence: 10,
                process_start: 0,
                process_exit: 6,
                image_load: 0,
                content_changed: 0,
            }
        )]
    );
    // The next event follows the loss report with no gap.
    assert_eq!(ch.push(&exit(99), 8), Pushed::Queued { sequence: 12 });
}

#[test]
fn while_a_loss_is_pending_later_events_are_dropped_until_its_record_fits() {
    let per = record::encoded_len(&changed(0)).unwrap();
    let mut ch = channel(per * 2);
    ch.push(&changed(1), 0);
    ch.push(&changed(2), 0);
    assert_eq!(ch.push(&changed(3), 0), Pushed::Dropped { sequence: 3 });
    // Reading one record frees `per` bytes, less than LostEvents needs.
    assert!(lost_len() > per);
    let mut one = vec![0u8; per];
    assert_eq!(ch.read(&mut one, 0), Ok(per));
    assert_eq!(ch.push(&changed(4), 0), Pushed::Dropped { sequence: 4 }, "even though it would fit");
    let rest = read_all(&mut ch);
    assert_eq!(rest.iter().map(|(s, _)| *s).collect::<Vec<_>>(), vec![2]);
    // The read emptied the queue: the loss report is queued at once, for the next read.
    let report = read_all(&mut ch);
    assert!(matches!(
        report[..],
        [(5, Event::LostEvents { count: 2, first_sequence: 3, last_sequence: 4, .. })]
    ));
}

#[test]
fn every_sequence_number_is_delivered_or_inside_one_loss_report() {
    let per = exit_len();
    let mut ch = channel(per * 3 + lost_len());
    let mut accounted = Vec::new();
    for round in 0..50u32 {
        for pid in 0..(round % 7) {
            ch.push(&exit(pid), 0);
        }
        let mut out = vec![0u8; per * (round as usize % 4)];
        if let Ok(n) = ch.read(&mut out, 0) {
            for r in Batch::new_checked(&out[..n]).unwrap().iter() {
                accounted.push(r.sequence());
                if let Event::LostEvents { first_sequence, last_sequence, count, .. } = r.event() {
                    assert_eq!(count, last_sequence - first_sequence + 1);
                    accounted.extend(first_sequence..=last_sequence);
                }
            }
        }
    }
    for (_, _) in read_all(&mut ch).into_iter().map(|(s, e)| {
        accounted.push(s);
        if let Event::LostEvents { first_sequence, last_sequence, .. } = e {
            accounted.extend(first_sequence..=last_sequence);
        }
        (s, e)
    }) {}
    accounted.sort_unstable();
    let expected: Vec<u64> = (1..=accounted.len() as u64).collect();
    assert_eq!(accounted, expected);
    assert!(ch.counters().iter().all(KindCounters::balanced));
}

#[test]
fn the_reader_is_woken_when_the_queue_goes_from_empty_to_non_empty() {
    let mut ch = channel(4096);
    let wakes = Counting::default();
    assert!(ch.replace_waker(Some(wakes.clone())).is_none());
    ch.push(&exit(1), 0);
    ch.push(&exit(2), 0);
    assert_eq!(wakes.0.get(), 1);
    read_all(&mut ch);
    ch.push(&exit(3), 0);
    assert_eq!(wakes.0.get(), 2);
    let previous = ch.replace_waker(None).unwrap();
    assert_eq!(previous.0.get(), 2);
    read_all(&mut ch);
    ch.push(&exit(4), 0);
    assert_eq!(wakes.0.get(), 2, "no waker registered: nobody signalled");
}

#[test]
fn a_reader_registering_while_records_wait_is_woken_at_once() {
    let mut ch = channel(4096);
    ch.push(&exit(1), 0);
    let wakes = Counting::default();
    ch.replace_waker(Some(wakes.clone()));
    assert_eq!(wakes.0.get(), 1, "signalled as it registered");
    ch.push(&exit(2), 0);
    assert_eq!(wakes.0.get(), 1, "the queue was not empty: no second signal");
}

#[test]
fn a_reader_registering_on_an_empty_queue_is_not_woken() {
    let mut ch = channel(4096);
    let wakes = Counting::default();
    ch.replace_waker(Some(wakes.clone()));
    assert_eq!(wakes.0.get(), 0);
}

#[test]
fn filtered_events_are_counted_but_take_no_sequence_number() {
    let mut ch = channel(4096);
    ch.filtered(EventKind::ImageLoad);
    assert_eq!(ch.push(&exit(1), 0), Pushed::Queued { sequence: 1 });
    let c = ch.counters()[kind_index(EventKind::ImageLoad)];
    assert_eq!((c.seen, c.filtered, c.queued, c.dropped), (1, 1, 0, 0));
}
