//! What a reader received, and whether it accounts for every sequence number exactly once.

use ringfence_wire::schema::{Event, EventKind};
use ringfence_wire::{Batch, BatchError};

/// One delivered record, reduced to what the models check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub sequence: u64,
    pub kind: EventKind,
    /// A process start's pid.
    pub pid: Option<u32>,
    /// The rule that kept a process start.
    pub rule_name: String,
    /// A `LostEvents` record's `first_sequence..=last_sequence` and `count`.
    pub lost: Option<(u64, u64, u64)>,
    /// A `LostEvents` record's count of lost process starts.
    pub lost_process_starts: u64,
}

/// Why a delivered stream does not account for its sequence numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LedgerError {
    Malformed(BatchError),
    /// A record carried `found` where `expected` was due (a gap, a repeat or a reordering).
    OutOfOrder {
        expected: u64,
        found: u64,
    },
    /// A `LostEvents` range that starts elsewhere than the first unaccounted number, or
    /// whose count is not its length, or that the record's own number does not follow.
    BadLostRange {
        sequence: u64,
        first: u64,
        last: u64,
        count: u64,
    },
}

/// Every record delivered to one reader, in delivery order.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    pub delivered: Vec<Delivered>,
}

impl Ledger {
    /// Appends the records of one `READ`.
    pub fn take(&mut self, batch: &[u8]) -> Result<(), LedgerError> {
        let batch = Batch::new_checked(batch).map_err(LedgerError::Malformed)?;
        for record in batch.iter() {
            let text = |t: ringfence_wire::Text<'_>| t.chars().map(|c| c.unwrap_or('?')).collect::<String>();
            let mut delivered = Delivered {
                sequence: record.sequence(),
                kind: record.kind(),
                pid: None,
                rule_name: String::new(),
                lost: None,
                lost_process_starts: 0,
            };
            match record.event() {
                Event::ProcessStart { pid, rule_name, .. } => {
                    delivered.pid = Some(pid);
                    delivered.rule_name = text(rule_name);
                }
                Event::LostEvents { count, first_sequence, last_sequence, process_start, .. } => {
                    delivered.lost = Some((first_sequence, last_sequence, count));
                    delivered.lost_process_starts = process_start;
                }
                _ => {}
            }
            self.delivered.push(delivered);
        }
        Ok(())
    }

    /// Checks the README's promise: numbers start at 1; a delivered record's number is the
    /// previous one's plus one, except a `LostEvents` record's, which follows the range it
    /// reports, and that range is exactly the numbers skipped. Returns the next number due.
    pub fn check_sequences(&self) -> Result<u64, LedgerError> {
        let mut expected = 1u64;
        for d in &self.delivered {
            match d.lost {
                Some((first, last, count)) => {
                    let length = last.checked_sub(first).map(|n| n + 1);
                    if first != expected || length != Some(count) || d.sequence != last + 1 {
                        return Err(LedgerError::BadLostRange { sequence: d.sequence, first, last, count });
                    }
                }
                None if d.sequence != expected => {
                    return Err(LedgerError::OutOfOrder { expected, found: d.sequence });
                }
                None => {}
            }
            expected = d.sequence + 1;
        }
        Ok(expected)
    }

    /// The pids of delivered process starts, in delivery order.
    pub fn process_starts(&self) -> Vec<u32> {
        self.delivered.iter().filter_map(|d| d.pid).collect()
    }

    /// Process starts reported lost by `LostEvents` records.
    pub fn lost_process_starts(&self) -> u64 {
        self.delivered.iter().map(|d| d.lost_process_starts).sum()
    }

    /// The record that carries `sequence`, if delivered.
    pub fn record(&self, sequence: u64) -> Option<&Delivered> {
        self.delivered.iter().find(|d| d.sequence == sequence && d.lost.is_none())
    }

    /// Whether `sequence` lies inside a delivered `LostEvents` range.
    pub fn reported_lost(&self, sequence: u64) -> bool {
        self.delivered
            .iter()
            .any(|d| d.lost.is_some_and(|(first, last, _)| (first..=last).contains(&sequence)))
    }

    pub fn count(&self, kind: EventKind) -> u64 {
        self.delivered.iter().filter(|d| d.kind == kind).count() as u64
    }
}
