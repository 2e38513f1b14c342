//! What the portable driver needs from its platform: locks, a clock and the reader's
//! wake-up, and where content is persisted. The kernel backend supplies push locks,
//! `KeQuerySystemTimePrecise` and `KeQueryInterruptTimePrecise`, a referenced `KEVENT` and the registry and files; [`crate::host`] supplies std equivalents for tests and benches.

/// A reader-writer lock around a `T`.
pub trait Guard<T> {
    /// Runs `f` with shared access; other readers may run at the same time.
    fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R;
    /// Runs `f` with exclusive access.
    fn write<R>(&self, f: impl FnOnce(&mut T) -> R) -> R;
}

/// The reader's wake-up: a referenced event object. Dropping it releases the reference.
pub trait Wake {
    fn wake(&self);
}

pub trait Platform {
    type Lock<T>: Guard<T>;
    type Waker: Wake;
    /// Where the crash-loop guard persists content and state (registry and files in the kernel).
    type Store: crate::guard::Store;

    fn lock<T>(value: T) -> Self::Lock<T>;
    /// System time, 100-ns units since 1601-01-01 UTC: what records carry. It moves
    /// when the time is set.
    fn now() -> u64;
    /// Interrupt time, 100-ns units since boot: it only moves forward, whatever the
    /// system time is set to, so it measures how long something took.
    fn ticks() -> u64;
    /// References the user-mode event `handle` for signalling, or the NTSTATUS why not.
    fn reference_event(handle: u64) -> Result<Self::Waker, i32>;
}
