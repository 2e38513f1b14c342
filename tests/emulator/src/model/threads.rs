//! Emulated threads as the kernel model sees them: which one runs, which push locks each
//! holds and waits for, and where the running one gives way. The scheduler loop that runs
//! them is [`crate::threads`].
//!
//! A thread gives way only at a kernel API boundary, before the call runs: a push lock
//! acquire or release, `KeSetEvent`, `ExAllocatePool2` (see [`SWITCH_POINTS`]), and never
//! at DISPATCH_LEVEL or above, where Windows does not switch threads either. Whether it
//! gives way there is drawn from a seeded generator, so a seed is a schedule. An acquire
//! that Windows would make wait blocks the thread instead; it is not runnable until the
//! lock can be granted.

use std::collections::BTreeMap;

use super::ke::PushHold;

/// How a push lock is held or wanted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    Shared,
    Exclusive,
}

/// Where a thread stopped for the scheduler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Yield {
    /// At a switch point, by the schedule's draw.
    Switch,
    /// At an acquire that must wait.
    Blocked { lock: u64, mode: LockMode },
}

/// The APIs a thread may give way at (before the call runs).
pub const SWITCH_POINTS: [&str; 7] = [
    "ExAcquirePushLockExclusiveEx",
    "ExAcquirePushLockSharedEx",
    "ExReleasePushLockExclusiveEx",
    "ExReleasePushLockSharedEx",
    "KeSetEvent",
    "ExAllocatePool2",
    "ExFreePoolWithTag",
];

/// What a push lock acquire asks for, by API name.
pub fn acquire_mode(api: &str) -> Option<LockMode> {
    match api {
        "ExAcquirePushLockExclusiveEx" => Some(LockMode::Exclusive),
        "ExAcquirePushLockSharedEx" => Some(LockMode::Shared),
        _ => None,
    }
}

/// The threads of one concurrent run.
#[derive(Debug)]
pub struct Threads {
    /// The thread on the CPU.
    pub current: usize,
    /// Push locks each thread holds, in acquisition order (a shared lock once per acquire).
    pub held: Vec<Vec<(u64, LockMode)>>,
    /// What each blocked thread waits for.
    pub wants: Vec<Option<(u64, LockMode)>>,
    /// Set when the current thread resumes at the call it gave way at: that call runs now.
    pub resuming: bool,
    /// Why the current thread left the CPU, set by the code hook.
    pub yielded: Option<Yield>,
    /// The schedule: a splitmix64 state and the odds of giving way at a switch point.
    state: u64,
    switch_one_in: u64,
    /// Switch points reached and switches taken so far.
    pub switch_points: u64,
    pub switches: u64,
}

impl Threads {
    /// `count` threads, none holding anything; the schedule drawn from `seed`, giving way
    /// at one switch point in `switch_one_in` on average.
    pub fn new(count: usize, seed: u64, switch_one_in: u64) -> Threads {
        Threads {
            current: 0,
            held: vec![Vec::new(); count],
            wants: vec![None; count],
            resuming: false,
            yielded: None,
            state: seed,
            switch_one_in: switch_one_in.max(1),
            switch_points: 0,
            switches: 0,
        }
    }

    /// The next number of the schedule (splitmix64).
    pub fn draw(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Whether the running thread gives way at this switch point.
    pub fn gives_way(&mut self) -> bool {
        self.switch_points += 1;
        self.draw() % self.switch_one_in == 0
    }

    pub fn holds(&self, thread: usize, lock: u64) -> Option<LockMode> {
        self.held.get(thread)?.iter().find(|(l, _)| *l == lock).map(|(_, m)| *m)
    }

    /// Whether `thread` can be granted `lock` in `mode` now, as wdm.h documents push locks:
    /// exclusive only when nobody holds it; shared when nobody holds it, or when others
    /// hold it shared and no thread waits for it exclusive. A thread that already holds
    /// the lock is let through: the acquire model judges the recursion.
    pub fn grantable(
        &self,
        locks: &BTreeMap<u64, PushHold>,
        thread: usize,
        lock: u64,
        mode: LockMode,
    ) -> bool {
        if self.holds(thread, lock).is_some() {
            return true;
        }
        let exclusive_waiter = self
            .wants
            .iter()
            .enumerate()
            .any(|(t, w)| t != thread && *w == Some((lock, LockMode::Exclusive)));
        match (locks.get(&lock), mode) {
            (None, _) => true,
            (Some(PushHold::Shared(_)), LockMode::Shared) => !exclusive_waiter,
            _ => false,
        }
    }

    pub fn acquired(&mut self, lock: u64, mode: LockMode) {
        if let Some(held) = self.held.get_mut(self.current) {
            held.push((lock, mode));
        }
    }

    /// Forgets one hold of `lock` by the current thread; false when it held none in `mode`.
    pub fn released(&mut self, lock: u64, mode: LockMode) -> bool {
        let Some(held) = self.held.get_mut(self.current) else { return false };
        match held.iter().rposition(|h| *h == (lock, mode)) {
            Some(i) => {
                held.remove(i);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOCK: u64 = 0x1000;

    fn held(hold: PushHold) -> BTreeMap<u64, PushHold> {
        BTreeMap::from([(LOCK, hold)])
    }

    #[test]
    fn push_locks_are_granted_as_wdm_h_documents() {
        let mut threads = Threads::new(3, 0, 1);
        let none = BTreeMap::new();
        for mode in [LockMode::Shared, LockMode::Exclusive] {
            assert!(threads.grantable(&none, 0, LOCK, mode), "an unowned lock, {mode:?}");
        }
        threads.held[1].push((LOCK, LockMode::Shared));
        assert!(threads.grantable(&held(PushHold::Shared(1)), 0, LOCK, LockMode::Shared));
        assert!(!threads.grantable(&held(PushHold::Shared(1)), 0, LOCK, LockMode::Exclusive));
        // Thread 2 waits for it exclusive: a new shared acquirer waits behind it, the holder
        // may take it shared again, and an unowned lock is still granted at once.
        threads.wants[2] = Some((LOCK, LockMode::Exclusive));
        assert!(!threads.grantable(&held(PushHold::Shared(1)), 0, LOCK, LockMode::Shared));
        assert!(threads.grantable(&held(PushHold::Shared(1)), 1, LOCK, LockMode::Shared));
        assert!(threads.grantable(&none, 0, LOCK, LockMode::Shared));
        assert!(!threads.grantable(&held(PushHold::Exclusive), 0, LOCK, LockMode::Shared));
    }

    #[test]
    fn a_seed_is_one_sequence_of_draws() {
        let draws = |seed| {
            let mut t = Threads::new(2, seed, 3);
            (0..16).map(|_| t.gives_way()).collect::<Vec<_>>()
        };
        assert_eq!(draws(5), draws(5));
        assert_ne!(draws(5), draws(6));
    }
}
