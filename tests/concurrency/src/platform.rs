//! The loom platform: `RwLock`s for the push locks, an atomic clock, and event objects
//! whose references and signals are loom atomics, so that a signal after release is seen.

use loom::sync::atomic::{AtomicU64, Ordering};
use loom::sync::{Arc, RwLock};
use ringfence::guard::NoStore;
use ringfence::platform::{Guard, Platform, Wake};

/// A push lock as loom models it: readers share, a writer excludes everyone.
#[derive(Debug)]
pub struct LoomLock<T>(RwLock<T>);

impl<T> Guard<T> for LoomLock<T> {
    fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0.read().expect("no model thread panics while holding a lock"))
    }

    fn write<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.write().expect("no model thread panics while holding a lock"))
    }
}

/// A user-mode event object: how often the driver signalled it, and the references the
/// driver holds on it.
#[derive(Debug)]
pub struct EventObject {
    signals: AtomicU64,
    references: AtomicU64,
}

impl EventObject {
    fn new() -> Self {
        EventObject { signals: AtomicU64::new(0), references: AtomicU64::new(0) }
    }

    pub fn signals(&self) -> u64 {
        self.signals.load(Ordering::SeqCst)
    }

    pub fn references(&self) -> u64 {
        self.references.load(Ordering::SeqCst)
    }
}

/// A referenced event object; dropping it releases the reference.
#[derive(Debug)]
pub struct LoomWaker(Arc<EventObject>);

impl Wake for LoomWaker {
    /// `KeSetEvent` on an object the driver no longer references would be a use after free.
    fn wake(&self) {
        assert!(self.0.references() > 0, "an event object was signalled after its reference was released");
        self.0.signals.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for LoomWaker {
    fn drop(&mut self) {
        self.0.references.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Handles 1 and 2 are event objects; this one and above are refused.
pub const INVALID_HANDLE: u64 = 3;

loom::lazy_static! {
    static ref CLOCK: AtomicU64 = AtomicU64::new(0);
    static ref EVENTS: [Arc<EventObject>; 2] = [Arc::new(EventObject::new()), Arc::new(EventObject::new())];
}

/// The event object behind `handle` (1 or 2) in this execution of the model.
pub fn event(handle: u64) -> Arc<EventObject> {
    let index = usize::try_from(handle.wrapping_sub(1)).unwrap_or(usize::MAX);
    Arc::clone(EVENTS.get(index).expect("handles 1 and 2 name event objects"))
}

#[derive(Debug)]
pub enum Loom {}

impl Platform for Loom {
    type Lock<T> = LoomLock<T>;
    type Waker = LoomWaker;
    type Store = NoStore;

    fn lock<T>(value: T) -> LoomLock<T> {
        LoomLock(RwLock::new(value))
    }

    /// Advances by one on every reading, across threads: timestamps are unique.
    fn now() -> u64 {
        CLOCK.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
    }

    /// The same clock: both advance it.
    fn ticks() -> u64 {
        Self::now()
    }

    fn reference_event(handle: u64) -> Result<LoomWaker, i32> {
        if handle == 0 || handle >= INVALID_HANDLE {
            return Err(ringfence_wire::ioctl::STATUS_INVALID_HANDLE);
        }
        let object = event(handle);
        object.references.fetch_add(1, Ordering::SeqCst);
        Ok(LoomWaker(object))
    }
}
