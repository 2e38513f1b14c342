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
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    InOrder,
    /// Numbers were skipped that no LostEvents record has announced (yet).
    Gaps(Vec<Gap>),
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
    /// Announced ranges the stream has not yet passed.
    announced: Vec<Gap>,
    restarts: u64,
}

impl SequenceTracker {
    /// Accounts a LostEvents announcement of `first..=last`: those numbers are
    /// not gaps, whether the gap was seen before the announcement or after it.
    pub fn announce_lost(&mut self, first: u64, last: u64) {
        if first > last {
            return;
        }
        let announced = Gap { first, last };
        self.pending = self.pending.iter().flat_map(|gap| subtract(*gap, announced)).collect();
        if self.announced.len() >= MAX_PENDING_GAPS {
            self.announced.remove(0);
        }
        self.announced.push(announced);
    }

    /// Accounts a delivered record.
    pub fn observe(&mut self, sequence: u64) -> Observation {
        let observation = match self.next {
            None => Observation::InOrder,
            Some(next) if sequence == next => Observation::InOrder,
            Some(next) if sequence > next => {
                let mut missing = vec![Gap { first: next, last: sequence.saturating_sub(1) }];
                for announced in &self.announced {
                    missing = missing.iter().flat_map(|gap| subtract(*gap, *announced)).collect();
                }
                for gap in &missing {
                    self.remember(*gap);
                }
                if missing.is_empty() { Observation::InOrder } else { Observation::Gaps(missing) }
            }
            Some(next) => {
                self.restarts = self.restarts.saturating_add(1);
                self.announced.clear();
                Observation::WentBack { expected: next, found: sequence }
            }
        };
        // Announcements wholly behind the stream can explain nothing more.
        self.announced.retain(|a| a.last > sequence);
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

/// `gap` without the numbers in `cut`: nothing, one or two runs.
fn subtract(gap: Gap, cut: Gap) -> Vec<Gap> {
    if gap.last < cut.first || gap.first > cut.last {
        return vec![gap];
    }
    let mut rest = Vec::new();
    if gap.first < cut.first {
        rest.push(Gap { first: gap.first, last: cut.first.saturating_sub(1) });
    }
    if gap.last > cut.last {
        rest.push(Gap { first: cut.last.saturating_add(1), last: gap.last });
    }
    rest
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
        assert_eq!(t.observe(14), Observation::Gaps(vec![Gap { first: 11, last: 13 }]));
        assert_eq!(t.unexplained(), 3);
        t.announce_lost(12, 12);
        assert_eq!(t.unexplained_gaps(), &[Gap { first: 11, last: 11 }, Gap { first: 13, last: 13 }]);
        t.announce_lost(11, 13);
        assert_eq!(t.unexplained(), 0);
    }

    #[test]
    fn a_lost_record_numbered_before_the_numbers_it_announces_explains_them() {
        let mut t = SequenceTracker::default();
        t.observe(10);
        // The LostEvents record takes number 11 and announces 12..=15.
        t.announce_lost(12, 15);
        assert_eq!(t.observe(11), Observation::InOrder);
        assert_eq!(t.observe(16), Observation::InOrder);
        assert_eq!(t.unexplained(), 0);
    }

    #[test]
    fn only_the_unannounced_part_of_a_gap_is_reported() {
        let mut t = SequenceTracker::default();
        t.observe(1);
        t.announce_lost(3, 4);
        assert_eq!(
            t.observe(8),
            Observation::Gaps(vec![Gap { first: 2, last: 2 }, Gap { first: 5, last: 7 }])
        );
        assert_eq!(t.unexplained(), 4);
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

    proptest::proptest! {
        /// Drop runs of numbers from 0..200, announce some runs before the
        /// stream reaches them and some after: exactly the unannounced numbers
        /// between the first and last delivered are unexplained.
        #[test]
        fn every_number_is_delivered_announced_or_unexplained(
            kept in proptest::collection::vec(proptest::bool::weighted(0.7), 200),
            announce in proptest::collection::vec(0u8..3, 200),
        ) {
            let mut t = SequenceTracker::default();
            let mut runs = Vec::new();
            let mut start = None;
            for (n, keep) in kept.iter().enumerate() {
                match (keep, start) {
                    (false, None) => start = Some(n as u64),
                    (true, Some(s)) => { runs.push(Gap { first: s, last: n as u64 - 1 }); start = None; }
                    _ => {}
                }
            }
            let first = kept.iter().position(|k| *k).map(|p| p as u64);
            let last = kept.iter().rposition(|k| *k).map(|p| p as u64);
            // 0: never announced, 1: announced before the run, 2: after the gap was seen.
            let mode = |g: &Gap| announce[usize::try_from(g.first).unwrap()];
            let mut expected = 0u64;
            for (n, keep) in kept.iter().enumerate() {
                let n = n as u64;
                if let Some(g) = runs.iter().find(|g| g.first == n) {
                    if mode(g) == 1 { t.announce_lost(g.first, g.last); }
                }
                if *keep {
                    t.observe(n);
                }
                // After the record that revealed the gap.
                if let Some(g) = runs.iter().find(|g| g.last + 1 == n) {
                    if mode(g) == 2 { t.announce_lost(g.first, g.last); }
                }
            }
            for g in &runs {
                let inside = first.is_some_and(|f| g.first > f) && last.is_some_and(|l| g.last < l);
                if inside && mode(g) == 0 {
                    expected += g.len();
                }
            }
            proptest::prop_assert_eq!(t.unexplained(), expected);
        }
    }
}
