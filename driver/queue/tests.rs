use super::*;

/// A minimal record: its size, then a tag in the sequence slot.
fn push(queue: &mut Queue, size: usize, tag: u64) -> bool {
    queue.push_with(size, |slot| {
        slot.fill(0);
        slot[..4].copy_from_slice(&(size as u32).to_le_bytes());
        slot[8..16].copy_from_slice(&tag.to_le_bytes());
        true
    })
}

/// The (size, tag) of every record in a drained batch.
fn records(batch: &[u8]) -> Vec<(usize, u64)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < batch.len() {
        let size = u32::from_le_bytes(batch[at..at + 4].try_into().unwrap()) as usize;
        let tag = u64::from_le_bytes(batch[at + 8..at + 16].try_into().unwrap());
        out.push((size, tag));
        at += size;
    }
    assert_eq!(at, batch.len(), "a batch is whole records");
    out
}

fn drain(queue: &mut Queue, room: usize) -> Vec<(usize, u64)> {
    let mut out = vec![0u8; room];
    match queue.drain_into(&mut out) {
        Drained::Copied { bytes, records: n } => {
            let got = records(&out[..bytes]);
            assert_eq!(got.len(), n);
            got
        }
        Drained::TooSmall { needed } => panic!("too small, needed {needed}"),
    }
}

#[test]
fn records_come_out_whole_and_in_order() {
    let mut queue = Queue::with_capacity(1024).unwrap();
    for tag in 0..5 {
        assert!(push(&mut queue, 64, tag));
    }
    assert_eq!(queue.used(), 320);
    assert_eq!(drain(&mut queue, 4096), (0..5).map(|t| (64, t)).collect::<Vec<_>>());
    assert!(queue.is_empty());
}

#[test]
fn a_record_that_does_not_fit_is_refused_and_nothing_changes() {
    let mut queue = Queue::with_capacity(256).unwrap();
    assert!(push(&mut queue, 192, 1));
    assert!(!push(&mut queue, 72, 2));
    assert_eq!((queue.used(), queue.records()), (192, 1));
    assert!(push(&mut queue, 64, 3));
    assert!(!push(&mut queue, 32, 4));
    assert_eq!(drain(&mut queue, 4096), vec![(192, 1), (64, 3)]);
}

#[test]
fn a_record_that_would_cross_the_end_starts_again_at_zero() {
    let mut queue = Queue::with_capacity(256).unwrap();
    assert!(push(&mut queue, 96, 1));
    assert!(push(&mut queue, 96, 2));
    assert_eq!(drain(&mut queue, 96), vec![(96, 1)]);
    // 64 bytes remain before the end, 96 are free at the start: the record wraps.
    assert!(push(&mut queue, 96, 3));
    assert_eq!(queue.used(), 192);
    // The space between the tail (96) and the head (96) is now zero.
    assert!(!push(&mut queue, 32, 4));
    assert_eq!(drain(&mut queue, 4096), vec![(96, 2), (96, 3)]);
    assert!(queue.is_empty());
}

#[test]
fn wrap_around_keeps_order_over_many_laps() {
    let mut queue = Queue::with_capacity(1000).unwrap();
    let mut next_in = 0u64;
    let mut next_out = 0u64;
    for lap in 0..200 {
        while push(&mut queue, 32 + 8 * (next_in as usize % 13), next_in) {
            next_in += 1;
        }
        for (_, tag) in drain(&mut queue, 128 + 8 * (lap % 50)) {
            assert_eq!(tag, next_out);
            next_out += 1;
        }
    }
    for (_, tag) in drain(&mut queue, 1 << 16) {
        assert_eq!(tag, next_out);
        next_out += 1;
    }
    assert_eq!(next_in, next_out);
    assert!(next_in > 300, "the ring wrapped many times ({next_in} records of ~80 bytes in 1000)");
}

#[test]
fn a_read_never_splits_a_record() {
    let mut queue = Queue::with_capacity(1024).unwrap();
    for tag in 0..4 {
        assert!(push(&mut queue, 80, tag));
    }
    // 239 bytes hold two whole 80-byte records and part of a third: only two come out.
    assert_eq!(drain(&mut queue, 239), vec![(80, 0), (80, 1)]);
    assert_eq!(queue.used(), 160);
    assert_eq!(drain(&mut queue, 160), vec![(80, 2), (80, 3)]);
}

#[test]
fn a_buffer_shorter_than_the_next_record_takes_nothing_and_names_the_size() {
    let mut queue = Queue::with_capacity(1024).unwrap();
    assert!(push(&mut queue, 136, 7));
    let mut out = vec![0u8; 135];
    assert_eq!(queue.drain_into(&mut out), Drained::TooSmall { needed: 136 });
    assert_eq!(queue.used(), 136);
    assert_eq!(queue.drain_into(&mut []), Drained::TooSmall { needed: 136 });
}

#[test]
fn an_empty_queue_drains_to_nothing() {
    let mut queue = Queue::with_capacity(64).unwrap();
    assert_eq!(queue.drain_into(&mut [0u8; 64]), Drained::Copied { bytes: 0, records: 0 });
    assert_eq!(queue.drain_into(&mut []), Drained::Copied { bytes: 0, records: 0 });
}

#[test]
fn a_writer_that_fails_leaves_no_record_behind() {
    let mut queue = Queue::with_capacity(256).unwrap();
    assert!(!queue.push_with(64, |_| false));
    assert!(!queue.push_with(64, |slot| {
        slot[..4].copy_from_slice(&32u32.to_le_bytes()); // a size other than the reservation
        true
    }));
    assert!(!queue.push_with(36, |_| true), "sizes are whole 8-byte units");
    assert!(queue.is_empty());
    assert_eq!(queue.high_water(), 0);
}

#[test]
fn the_high_water_mark_remembers_the_fullest_moment() {
    let mut queue = Queue::with_capacity(512).unwrap();
    for tag in 0..3 {
        push(&mut queue, 128, tag);
    }
    drain(&mut queue, 4096);
    push(&mut queue, 64, 9);
    assert_eq!((queue.used(), queue.high_water()), (64, 384));
}
