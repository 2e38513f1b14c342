//! The host platform: std locks, a counting clock and counting event objects, so that the
//! portable driver runs in unit tests, integration tests and benches on the build machine,
//! and a store in memory that can fail or crash at any operation ([`store`]).

mod store;

pub use store::{Disk, MemoryStore, Op, STATUS_IO_DEVICE_ERROR, file_name, temporary_name};

use crate::platform::{Guard, Platform, Wake};
use ringfence_wire::ioctl::STATUS_INVALID_HANDLE;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

#[derive(Debug)]
pub struct HostLock<T>(RwLock<T>);

impl<T> Guard<T> for HostLock<T> {
    fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn write<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        f(&mut self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// One user-mode event object as the host models it: how often it was signalled and how
/// many references the driver holds on it.
#[derive(Debug, Default)]
pub struct EventObject {
    signals: AtomicU64,
    references: AtomicU64,
}

impl EventObject {
    pub fn signals(&self) -> u64 {
        self.signals.load(Ordering::SeqCst)
    }

    /// References the driver holds; 0 once it let go.
    pub fn references(&self) -> u64 {
        self.references.load(Ordering::SeqCst)
    }
}

/// A referenced event; dropping it releases the reference (`ObfDereferenceObject`).
#[derive(Debug)]
pub struct HostWaker(Arc<EventObject>);

impl Wake for HostWaker {
    fn wake(&self) {
        self.0.signals.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for HostWaker {
    fn drop(&mut self) {
        self.0.references.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Handles at or above this value are refused, as `ObReferenceObjectByHandle` refuses a
/// handle that is not an event the caller may signal.
pub const INVALID_HANDLES: u64 = 0xFFFF_0000_0000_0000;

thread_local! {
    static EVENTS: RefCell<BTreeMap<u64, Arc<EventObject>>> = const { RefCell::new(BTreeMap::new()) };
    static CLOCK: Cell<u64> = const { Cell::new(0) };
}

/// The event object behind `handle` in this thread's model.
pub fn event(handle: u64) -> Arc<EventObject> {
    EVENTS.with(|events| Arc::clone(events.borrow_mut().entry(handle).or_default()))
}

#[derive(Debug)]
pub enum Host {}

impl Platform for Host {
    type Lock<T> = HostLock<T>;
    type Waker = HostWaker;
    type Store = MemoryStore;

    fn lock<T>(value: T) -> HostLock<T> {
        HostLock(RwLock::new(value))
    }

    /// A clock that advances by one on every reading, so records are strictly ordered.
    fn now() -> u64 {
        CLOCK.with(|clock| {
            let next = clock.get().saturating_add(1);
            clock.set(next);
            next
        })
    }

    /// The same clock: both advance it, so every reading of either is unique.
    fn ticks() -> u64 {
        Self::now()
    }

    fn reference_event(handle: u64) -> Result<HostWaker, i32> {
        if handle >= INVALID_HANDLES {
            return Err(STATUS_INVALID_HANDLE);
        }
        let object = event(handle);
        object.references.fetch_add(1, Ordering::SeqCst);
        Ok(HostWaker(object))
    }
}

/// One process as the host's model of the kernel knows it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostProcess {
    pub start_key: u64,
    pub image_path: Option<Vec<u16>>,
    pub command_line: Option<Vec<u16>>,
    pub user_sid: Option<Vec<u16>>,
}

/// The host's model of what the kernel answers about live processes (what
/// `PsLookupProcessByProcessId`, `SeLocateProcessImageName`, the command line
/// query and the token would say), for tests and benches. Counts the questions.
#[derive(Debug, Default)]
pub struct HostProcesses {
    pub live: BTreeMap<u32, HostProcess>,
    /// `describe` calls so far.
    pub described: Cell<u64>,
}

impl HostProcesses {
    /// Makes `pid` a live process with `start_key` and these strings.
    pub fn run(&mut self, pid: u32, start_key: u64, image: &str, command_line: &str, user: &str) {
        let wide = |s: &str| Some(s.encode_utf16().collect::<Vec<u16>>());
        let process = HostProcess {
            start_key,
            image_path: wide(image),
            command_line: wide(command_line),
            user_sid: wide(user),
        };
        self.live.insert(pid, process);
    }
}

impl crate::activity::ProcessSource for HostProcesses {
    fn start_key(&self, pid: u32) -> Option<u64> {
        self.live.get(&pid).map(|p| p.start_key)
    }

    fn describe<R>(
        &self,
        pid: u32,
        start_key: u64,
        f: impl FnOnce(crate::processes::Facts<'_>) -> R,
    ) -> Option<R> {
        self.described.set(self.described.get().saturating_add(1));
        let process = self.live.get(&pid).filter(|p| p.start_key == start_key)?;
        Some(f(crate::processes::Facts {
            image_path: process.image_path.as_deref(),
            command_line: process.command_line.as_deref(),
            user_sid: process.user_sid.as_deref(),
        }))
    }
}
