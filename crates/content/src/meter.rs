//! The work meter: every step of an evaluation is counted in *work units*, the
//! same units [`crate::cost`] (and format 2's `v2::cost`) bounds before content
//! is accepted. A unit is one rule or condition visited, one UTF-16 unit
//! compared or hashed, one position of the substring filter, one step of the
//! index search or of an automaton; each shape is charged so that one unit is
//! at most [`INSTRUCTIONS_PER_UNIT`] instructions (measured: BENCHMARKS.md).
//!
//! Two limits, one meaning in both formats, and a deadline:
//!
//! - the content budget (`MAX_EVALUATION_COST`, one per format) bounds what
//!   content may ask for: the validator refuses content whose worst case is
//!   over it. It bounds content, not time; the companion's stage evaluates
//!   the whole content within it.
//! - [`EVENT_WORK_LIMIT`] bounds what one event may cost in the kernel:
//!   `Content::evaluate` and `evaluate_raw` (both formats) stop there. Format
//!   1 then keeps the event untagged, format 2 returns
//!   `EvaluationError::CostExceeded` (the driver keeps the event with every
//!   detection rule of its kind undecided); the driver counts both in STATS.
//!   A matcher whose work is only known in bulk (format 1's `contains`, a
//!   regular expression) checks that its bound fits before it starts, so an
//!   evaluation never does more than the limit plus a few units.
//! - a [`Deadline`] ([`Meter::with_deadline`]; the driver's is [`EVENT_DEADLINE`]
//!   on the interrupt time, a clock that only moves forward) bounds the time the limit's instructions may take when
//!   they wait for memory: a content of megabytes can make every step read a
//!   line no cache holds. [`Meter::exhausted`] reads the clock when the work
//!   passes [`FIRST_CHECK`] units and every [`CHECK_EVERY`] after, and past
//!   the deadline answers as at the limit; a run charged in bulk ends at the
//!   next reading ([`Meter::horizon`]), a regular expression is charged 1,024
//!   units at a time. Without a deadline the meter reads no clock.

/// Instructions one work unit costs at most, on the costliest shape of each
/// charge (callgrind, BENCHMARKS.md: "A per-event work limit"; at most 15.8
/// measured, on the regular-expression shape over two-byte UTF-8 text cut off
/// at the limit without the transition table, and 14.1 with it, on the shape
/// of chains past the rows one unit long: "Rows named by where they start").
pub const INSTRUCTIONS_PER_UNIT: u64 = 17;

/// Units one step of format 2's interpreter is charged (a step as its cost
/// model counts them: a class or goto search step, a failure or dictionary
/// step, a candidate, a rule, an instruction, a value, a glob unit): its
/// costliest shapes run up to 33 instructions per step, format 1's up to 7
/// per unit (callgrind, BENCHMARKS.md).
pub(crate) const FORMAT2_STEP: u64 = 2;

/// The work one event may cost in the kernel, in units: at most 17 × 300,000 =
/// 5.1 M instructions. Cut off here, the costliest shapes whose reads stay in
/// the caches measured under 1 ms (BENCHMARKS.md, "The per-event limit lowered
/// to 300,000 units"); a content of megabytes whose every read misses took up
/// to 4 ms, which [`EVENT_DEADLINE`] bounds. SigmaHQ's
/// process-creation and image-load content charges a typical process start
/// (120-unit image, 400-unit command line) 26,674 units (BENCHMARKS.md,
/// "Candidate lists and gate sets together"): a margin of 11×. A start whose
/// command line is longer (over about 6,800 units of its text with SigmaHQ's
/// content) is cut off and decided by the companion's stage.
pub const EVENT_WORK_LIMIT: u64 = 300_000;

/// The units of work after which a meter with a [`Deadline`] first reads its
/// clock: a typical event (a few thousand units) never reads it.
pub const FIRST_CHECK: u64 = 8_192;
/// The units of work between two later readings of the clock.
pub const CHECK_EVERY: u64 = 4_096;
/// The kernel's deadline for one evaluation, in the clock's 100-ns units
/// (500 µs). With [`FIRST_CHECK`] and [`CHECK_EVERY`] it bounds an
/// evaluation whose every read misses the caches (BENCHMARKS.md, "A deadline
/// beside the work limit"): the work limit bounds instructions, not the time
/// a read of a large content waits for memory.
pub const EVENT_DEADLINE: u64 = 5_000;

/// A clock: the time now, in 100-ns units (any origin, never decreasing). A C
/// function, which cannot unwind: an evaluation calls it without a panic path
/// (the no-panic proof).
pub type Clock = extern "C" fn() -> u64;

/// A clock an evaluation reads now and then, and the time past which it stops
/// as at its work limit.
#[derive(Clone, Copy, Debug)]
pub struct Deadline {
    pub now: Clock,
    /// The time past which the evaluation stops.
    pub at: u64,
}

impl Deadline {
    /// `after` 100-ns units from `now`'s reading.
    pub fn after(now: Clock, after: u64) -> Self {
        Deadline { now, at: now().saturating_add(after) }
    }
}

/// Work done by one evaluation, and how much it may do.
#[derive(Clone, Copy, Debug)]
pub struct Meter {
    used: u64,
    limit: u64,
    /// The work past which [`Meter::exhausted`] looks further: the limit, or
    /// the next reading of the clock when that comes first.
    next: u64,
    /// Past the deadline, `next` is 0 (with the work within the limit).
    deadline: Option<Deadline>,
}

impl Meter {
    /// A meter that lets an evaluation do `limit` units of work.
    pub const fn new(limit: u64) -> Self {
        Meter { used: 0, limit, next: limit, deadline: None }
    }

    /// A meter that lets an evaluation do `limit` units of work, and stops it
    /// as at that limit once `deadline` has passed: the clock is read when
    /// the work passes [`FIRST_CHECK`] units, and every [`CHECK_EVERY`] after.
    pub const fn with_deadline(limit: u64, deadline: Deadline) -> Self {
        let next = if FIRST_CHECK < limit { FIRST_CHECK } else { limit };
        Meter { used: 0, limit, next, deadline: Some(deadline) }
    }

    /// Whether the evaluation stopped at its deadline rather than its work limit.
    pub const fn late(&self) -> bool {
        self.deadline.is_some() && self.next == 0 && self.used > 0 && self.used <= self.limit
    }

    /// The work at which a run charged in bulk must come back to ask whether
    /// the meter is exhausted: the limit, or the next reading of the clock.
    #[inline(always)]
    pub(crate) const fn horizon(&self) -> u64 {
        self.next
    }

    /// Units of work done so far.
    pub const fn used(&self) -> u64 {
        self.used
    }

    pub const fn limit(&self) -> u64 {
        self.limit
    }

    /// Whether the work done has gone past the limit, or the deadline has
    /// passed (read when the work passes the next reading): evaluation stops.
    #[inline(always)]
    pub fn exhausted(&mut self) -> bool {
        if self.used <= self.next {
            return false;
        }
        let (stop, next) = past_next(self.used, self.limit, self.next, self.deadline);
        self.next = next;
        stop
    }

    /// Whether `units` more fit within the limit. A matcher that knows its
    /// bound before it starts asks, and charges the bound (stopping the
    /// evaluation) instead of starting when it does not fit.
    #[inline(always)]
    pub(crate) fn affords(&self, units: u64) -> bool {
        self.used.saturating_add(units) <= self.limit
    }

    #[inline(always)]
    pub(crate) fn charge(&mut self, units: u64) {
        self.used = self.used.saturating_add(units);
    }

    /// Format 2's charges: `steps` of its interpreter, each [`FORMAT2_STEP`] units.
    #[inline(always)]
    pub(crate) fn charge_steps(&mut self, steps: u64) {
        self.charge(steps.saturating_mul(FORMAT2_STEP));
    }

    #[inline(always)]
    pub(crate) fn charge_steps_usize(&mut self, steps: usize) {
        self.charge_steps(u64::try_from(steps).unwrap_or(u64::MAX));
    }

    #[inline(always)]
    pub(crate) fn charge_usize(&mut self, units: usize) {
        self.charge(u64::try_from(units).unwrap_or(u64::MAX));
    }
}

/// [`Meter::exhausted`] past its `next` (by value, so that a meter in a loop
/// stays in registers): whether to stop, and the next `next` (0 past the
/// deadline).
#[cold]
#[inline(never)]
fn past_next(used: u64, limit: u64, next: u64, deadline: Option<Deadline>) -> (bool, u64) {
    if used > limit || next == 0 {
        return (true, next);
    }
    let Some(deadline) = deadline else { return (false, limit) };
    if (deadline.now)() > deadline.at {
        return (true, 0);
    }
    (false, limit.min(used.saturating_add(CHECK_EVERY)))
}
