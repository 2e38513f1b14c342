//! The work meter: every step of an evaluation is counted in *work units*, the
//! same units [`crate::cost`] bounds before content is accepted. A unit is one
//! rule or condition visited, one UTF-16 unit compared or hashed, one position
//! of the substring filter, one step of the index search. Evaluation stops
//! when the meter runs past its limit: validated content never gets there (its
//! worst case is within [`crate::MAX_EVALUATION_COST`]), unvalidated bytes may,
//! and are then cut off after at most one more condition's worth of work.

/// Work done by one evaluation, and how much it may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meter {
    used: u64,
    limit: u64,
}

impl Meter {
    /// A meter that lets an evaluation do `limit` units of work.
    pub const fn new(limit: u64) -> Self {
        Meter { used: 0, limit }
    }

    /// Units of work done so far.
    pub const fn used(&self) -> u64 {
        self.used
    }

    pub const fn limit(&self) -> u64 {
        self.limit
    }

    /// Whether the work done has gone past the limit: evaluation stops.
    pub const fn exhausted(&self) -> bool {
        self.used > self.limit
    }

    #[inline(always)]
    pub(crate) fn charge(&mut self, units: u64) {
        self.used = self.used.saturating_add(units);
    }

    #[inline(always)]
    pub(crate) fn charge_usize(&mut self, units: usize) {
        self.charge(u64::try_from(units).unwrap_or(u64::MAX));
    }
}
