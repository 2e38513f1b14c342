//! Batches: whole records back to back. A consumer keeps the good prefix of a
//! damaged batch and learns where the damage starts; `Batch::new_checked`
//! accepts only a batch that is good to the last byte.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod common;

use common::{OwnedEvent, encoded, event, wide};
use proptest::prelude::*;
use ringfence_wire::batch::Records;
use ringfence_wire::record::{DecodeError, DecodeErrorKind};
use ringfence_wire::{Batch, BatchError, EventKind, Record};

/// Three records of different kinds and sizes, and where each starts.
fn three() -> (Vec<u8>, [usize; 3]) {
    let path = wide("\\SystemRoot\\System32\\ntdll.dll");
    let mut bytes = Vec::new();
    let mut starts = [0; 3];
    for (i, kind) in
        [EventKind::ProcessStart, EventKind::ProcessExit, EventKind::ImageLoad].iter().enumerate()
    {
        starts[i] = bytes.len();
        let owned = OwnedEvent::uniform(*kind, u32::try_from(i).unwrap(), &path);
        bytes.extend(encoded(&owned.event(), 100 + u64::try_from(i).unwrap(), 7));
    }
    (bytes, starts)
}

#[test]
fn an_empty_batch_is_valid_and_holds_no_records() {
    let batch = Batch::new_checked(&[]).unwrap();
    assert!(batch.is_empty());
    assert_eq!(batch.iter().count(), 0);
    assert_eq!(Records::new(&[]).count(), 0);
}

#[test]
fn a_good_batch_yields_every_record_in_order() {
    let (bytes, starts) = three();
    let batch = Batch::new_checked(&bytes).unwrap();
    assert_eq!(batch.len(), 3);
    let sequences: Vec<u64> = batch.iter().map(|r| r.sequence()).collect();
    assert_eq!(sequences, [100, 101, 102]);
    let kinds: Vec<EventKind> = batch.iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, [EventKind::ProcessStart, EventKind::ProcessExit, EventKind::ImageLoad]);
    for (record, start) in batch.iter().zip(starts) {
        assert_eq!(record.as_bytes().as_ptr(), bytes[start..].as_ptr());
    }
}

#[test]
fn a_damaged_record_ends_the_walk_after_the_good_prefix_with_its_index_and_offset() {
    let (mut bytes, starts) = three();
    bytes[starts[2] + 4] = 0x63; // the third record's kind
    let mut records = Records::new(&bytes);
    assert_eq!(records.next().unwrap().unwrap().sequence(), 100);
    assert_eq!(records.next().unwrap().unwrap().sequence(), 101);
    assert_eq!(
        records.next(),
        Some(Err(BatchError {
            index: 2,
            offset: starts[2],
            error: DecodeError { offset: 4, kind: DecodeErrorKind::UnknownKind { code: 0x63 } },
        }))
    );
    assert_eq!(records.next(), None);
    assert_eq!(
        Batch::new_checked(&bytes).unwrap_err(),
        BatchError {
            index: 2,
            offset: starts[2],
            error: DecodeError { offset: 4, kind: DecodeErrorKind::UnknownKind { code: 0x63 } }
        }
    );
}

#[test]
fn a_batch_cut_inside_a_record_is_rejected_and_cut_between_records_is_not() {
    let (bytes, starts) = three();
    for cut in 0..bytes.len() {
        let result = Batch::new_checked(&bytes[..cut]);
        let at_boundary = starts.contains(&cut);
        assert_eq!(result.is_ok(), at_boundary, "cut at {cut}");
        if let Err(error) = result {
            let index = starts.iter().rposition(|s| *s <= cut).unwrap();
            assert_eq!((error.index, error.offset), (index, starts[index]), "cut at {cut}");
            assert!(matches!(error.error.kind, DecodeErrorKind::Truncated { .. }));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn batch_check_and_record_walk_agree_on_any_corruption(
        events in proptest::collection::vec(event(), 0..4),
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), 1u8..=255), 0..3),
        cut in any::<proptest::sample::Index>(),
    ) {
        let mut bytes = Vec::new();
        for (i, owned) in events.iter().enumerate() {
            bytes.extend(encoded(&owned.event(), u64::try_from(i).unwrap(), 0));
        }
        let whole = bytes.len();
        for (at, mask) in &flips {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] ^= mask;
            }
        }
        if !flips.is_empty() {
            bytes.truncate(cut.index(whole + 1));
        }
        let walked: Vec<Result<Record<'_>, BatchError>> = Records::new(&bytes).collect();
        let good = walked.iter().filter(|r| r.is_ok()).count();
        match Batch::new_checked(&bytes) {
            Ok(batch) => {
                prop_assert!(walked.iter().all(Result::is_ok));
                prop_assert_eq!(batch.len(), good);
                let sizes: usize = batch.iter().map(|r| r.size()).sum();
                prop_assert_eq!(sizes, bytes.len());
            }
            Err(error) => {
                // The walk stops at the same place with the same error.
                prop_assert_eq!(walked.last().unwrap().as_ref().err(), Some(&error));
                prop_assert_eq!(error.index, good);
                prop_assert_eq!(walked.len(), good + 1);
            }
        }
    }
}
