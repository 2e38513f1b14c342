//! Time, as the service sees it: a monotonic reading for intervals and
//! backoff, a wall reading for file names and records. Behind a trait so that
//! tests and the emulated demo run the service on scenario time.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One reading of both clocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Since an arbitrary start; never goes back.
    pub monotonic: Duration,
    pub wall: SystemTime,
}

impl Now {
    /// Windows FILETIME (100 ns since 1601) of the wall reading, as records carry time.
    pub fn filetime(&self) -> u64 {
        const UNIX_EPOCH_AS_FILETIME: u64 = 116_444_736_000_000_000;
        let since = self.wall.duration_since(UNIX_EPOCH).unwrap_or_default();
        let ticks = since.as_nanos() / 100;
        u64::try_from(ticks).unwrap_or(u64::MAX).saturating_add(UNIX_EPOCH_AS_FILETIME)
    }
}

pub trait Clock {
    fn now(&self) -> Now;
    /// Blocks for `duration` (a test clock advances instead).
    fn sleep(&self, duration: Duration);
}

/// The operating system's clocks.
#[derive(Debug)]
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        SystemClock { start: Instant::now() }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Now {
        Now { monotonic: self.start.elapsed(), wall: SystemTime::now() }
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> Now {
        (**self).now()
    }

    fn sleep(&self, duration: Duration) {
        (**self).sleep(duration);
    }
}
