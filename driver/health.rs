//! When active content counts as healthy: it has evaluated `TrialEvents`
//! events (default 1,000) and been active for `TrialSeconds` (default 300) in
//! this start, both read from the service parameters. Checked on the callback
//! path with atomics only: an event costs one load while nothing is watched,
//! one increment while something is; the clock is read only once the event
//! count is reached. Concluding (promotion, file I/O) happens elsewhere, at
//! PASSIVE_LEVEL in a worker: the callback only says it is due.

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

pub const TRIAL_EVENTS_DEFAULT: u64 = 1_000;
pub const TRIAL_SECONDS_DEFAULT: u64 = 300;
/// System time runs in 100-ns units.
const UNITS_PER_SECOND: u64 = 10_000_000;

/// How much healthy running concludes a trial.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthCriteria {
    pub events: u64,
    pub seconds: u64,
}

impl Default for HealthCriteria {
    fn default() -> Self {
        HealthCriteria { events: TRIAL_EVENTS_DEFAULT, seconds: TRIAL_SECONDS_DEFAULT }
    }
}

/// Watches the active content until it is healthy; each installation is a new generation.
#[derive(Debug, Default)]
pub struct TrialWatch {
    criteria: HealthCriteria,
    watching: AtomicBool,
    events: AtomicU64,
    since: AtomicU64,
    generation: AtomicU64,
    /// The generation found healthy and not yet concluded, plus one (0: none).
    due: AtomicU64,
}

impl TrialWatch {
    pub fn new(criteria: HealthCriteria) -> TrialWatch {
        TrialWatch { criteria, ..TrialWatch::default() }
    }

    pub fn criteria(&self) -> HealthCriteria {
        self.criteria
    }

    /// Starts watching newly installed content (installed at `now`); returns its generation.
    pub fn watch(&self, now: u64) -> u64 {
        let generation = self.generation.fetch_add(1, Ordering::AcqRel).wrapping_add(1);
        self.events.store(0, Ordering::Relaxed);
        self.since.store(now, Ordering::Relaxed);
        self.due.store(0, Ordering::Release);
        self.watching.store(true, Ordering::Release);
        generation
    }

    /// Stops watching (content that needs no conclusion was installed).
    pub fn stop(&self) {
        self.watching.store(false, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.due.store(0, Ordering::Release);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether content is being watched, and the events it has evaluated so far.
    pub fn progress(&self) -> (bool, u64) {
        (self.watching.load(Ordering::Acquire), self.events.load(Ordering::Relaxed))
    }

    /// One event evaluated by the active content; `now` is read only once the count is reached.
    pub fn tick(&self, now: impl FnOnce() -> u64) {
        if !self.watching.load(Ordering::Relaxed) {
            return;
        }
        let seen = self.events.fetch_add(1, Ordering::Relaxed).saturating_add(1);
        if seen < self.criteria.events {
            return;
        }
        let elapsed = now().saturating_sub(self.since.load(Ordering::Relaxed));
        if elapsed < self.criteria.seconds.saturating_mul(UNITS_PER_SECOND) {
            return;
        }
        if self.watching.swap(false, Ordering::AcqRel) {
            let generation = self.generation.load(Ordering::Acquire);
            self.due.store(generation.wrapping_add(1), Ordering::Release);
        }
    }

    /// Whether a generation became healthy and was not yet taken.
    pub fn is_due(&self) -> bool {
        self.due.load(Ordering::Relaxed) != 0
    }

    /// The generation that became healthy, once: whoever takes it concludes the trial.
    pub fn take_due(&self) -> Option<u64> {
        if self.due.load(Ordering::Relaxed) == 0 {
            return None;
        }
        match self.due.swap(0, Ordering::AcqRel) {
            0 => None,
            due => Some(due.wrapping_sub(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_due_once_after_enough_events_and_enough_time() {
        let watch = TrialWatch::new(HealthCriteria { events: 3, seconds: 1 });
        let generation = watch.watch(100);
        watch.tick(|| unreachable!("the clock is not read before the event count is reached"));
        watch.tick(|| unreachable!("the clock is not read before the event count is reached"));
        watch.tick(|| 100 + UNITS_PER_SECOND - 1);
        assert_eq!(watch.take_due(), None, "three events but not yet a second");
        watch.tick(|| 100 + UNITS_PER_SECOND);
        assert_eq!(watch.take_due(), Some(generation));
        assert_eq!(watch.take_due(), None, "taken once");
        watch.tick(|| unreachable!("no longer watching"));
        assert_eq!(watch.progress(), (false, 4));
    }

    #[test]
    fn a_new_installation_starts_a_new_generation_and_forgets_what_was_due() {
        let watch = TrialWatch::new(HealthCriteria { events: 1, seconds: 0 });
        let first = watch.watch(0);
        watch.tick(|| 0);
        let second = watch.watch(5);
        assert_ne!(first, second);
        assert_eq!(watch.take_due(), None);
        watch.stop();
        watch.tick(|| 5);
        assert_eq!(watch.take_due(), None);
    }
}
