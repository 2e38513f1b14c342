//! Accounting of sequence numbers: every record the driver numbered is either
//! delivered, announced lost by a LostEvents record, or reported as a gap.

use std::fmt;

/// Most unexplained gaps kept; beyond that the oldest are merged, never dropped.
const MAX_PENDING_GAPS: usize = 256;

/// A run of missing sequence numbers, both ends included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gap {
    pub first: u64,
    pub last: u64,
}

impl Gap {
    pub fn len(&self) -> u64 {
        self.last.saturating_sub(self.first).saturating_add(1)
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for Gap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}..={}", self.first, self.last)
        }
    }
}

/// What one record's sequence number says about the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Observation {
    InOrder,
    /// Numbers were skipped that no LostEvents record has announced (yet).
    Gap(Gap),
    /// The number went back: the driver was restarted, or records repeat.
    WentBack {
        expected: u64,
        found: u64,
    },
}

/// Tracks the next expected number and the gaps not yet explained.
#[derive(Clone, Debug, Default)]
pub struct SequenceTracker {
    next: Option<u64>,
    pending: Vec<Gap>,
    restarts: u64,
}

impl SequenceTracker {
    /// Accounts a LostEvents announcement of `first..=last`: those numbers are
    /// no longer gaps, whether the gap was seen before or is seen next.
    pub fn announce_lost(&mut self, first: u64, last: u64) {
        if first > last {
            return;
        }
        let mut kept = Vec::with_capacity(self.pending.len());
        for gap in self.pending.drain(..) {
            if gap.last < first || gap.first > last {
                kept.push(gap);
                continue;
            }
            if gap.first < first {
                kept.push(Gap { first: gap.first, last: first.saturating_sub(1) });
            }
            if gap.last > last {
                kept.push(Gap { first: last.saturating_add(1), last: gap.last });
            }
        }
        self.pending = kept;
        // Announced numbers are expected to be absent: do not report them as a gap next.
        if self.next.is_some_and(|next| next >= first && next <= last) {
            self.next = Some(last.saturating_add(1));
        }
    }

    /// Accounts a delivered record.
    pub fn observe(&mut self, sequence: u64) -> Observation {
        let observation = match self.next {
            None => Observation::InOrder,
            Some(next) if sequence == next => Observation::InOrder,
            Some(next) if sequence > next => {
                let gap = Gap { first: next, last: sequence.saturating_sub(1) };
                self.remember(gap);
                Observation::Gap(gap)
            }
            Some(next) => {
                self.restarts = self.restarts.saturating_add(1);
                Observation::WentBack { expected: next, found: sequence }
            }
        };
        self.next = Some(sequence.saturating_add(1));
        observation
    }

    fn remember(&mut self, gap: Gap) {
        if self.pending.len() >= MAX_PENDING_GAPS {
            if let [a, b, ..] = self.pending.as_mut_slice() {
                a.last = b.last;
                self.pending.remove(1);
            }
        }
        self.pending.push(gap);
    }

    /// Numbers missing without announcement, so far.
    pub fn unexplained(&self) -> u64 {
        self.pending.iter().map(Gap::len).fold(0u64, u64::saturating_add)
    }

    pub fn unexplained_gaps(&self) -> &[Gap] {
        &self.pending
    }

    /// How many times the sequence went back.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_numbers_are_in_order_from_any_start() {
        let mut t = SequenceTracker::default();
        assert_eq!(t.observe(41), Observation::InOrder);
        assert_eq!(t.observe(42), Observation::InOrder);
        assert_eq!(t.unexplained(), 0);
    }

    #[test]
    fn a_gap_announced_by_the_lost_record_that_follows_it_is_not_counted() {
        let mut t = SequenceTracker::default();
        t.observe(10);
        // The driver numbers 11..=15, drops them, and numbers its LostEvents record 16.
        t.announce_lost(11, 15);
        assert_eq!(t.observe(16), Observation::InOrder);
        assert_eq!(t.unexplained(), 0);
    }

    #[test]
    fn a_gap_announced_later_is_withdrawn() {
        let mut t = SequenceTracker::default();
        t.observe(10);
        assert_eq!(t.observe(14), Observation::Gap(Gap { first: 11, last: 13 }));
        assert_eq!(t.unexplained(), 3);
        t.announce_lost(12, 12);
        assert_eq!(t.unexplained_gaps(), &[Gap { first: 11, last: 11 }, Gap { first: 13, last: 13 }]);
        t.announce_lost(11, 13);
        assert_eq!(t.unexplained(), 0);
    }

    #[test]
    fn a_number_going_back_is_a_restart_not_a_gap() {
        let mut t = SequenceTracker::default();
        t.observe(100);
        assert_eq!(t.observe(0), Observation::WentBack { expected: 101, found: 0 });
        assert_eq!(t.observe(1), Observation::InOrder);
        assert_eq!((t.restarts(), t.unexplained()), (1, 0));
    }

    #[test]
    fn many_gaps_are_merged_and_none_is_forgotten() {
        let mut t = SequenceTracker::default();
        for i in 0..1000u64 {
            t.observe(i * 2);
        }
        assert_eq!(t.unexplained_gaps().len(), MAX_PENDING_GAPS);
        assert!(t.unexplained() >= 999);
    }
}
