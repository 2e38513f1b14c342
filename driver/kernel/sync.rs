//! The kernel platform: push locks, the system clock and the reader's event object.

use super::ffi::{
    ExAcquirePushLockExclusiveEx, ExAcquirePushLockSharedEx, ExReleasePushLockExclusiveEx,
    ExReleasePushLockSharedEx, KeEnterCriticalRegion, KeLeaveCriticalRegion, KeQueryInterruptTimePrecise,
    KeQuerySystemTimePrecise, KeSetEvent, ObReferenceObjectByHandle, ObfDereferenceObject, event_object_type,
};
use crate::platform::{Guard, Platform, Wake};
use core::cell::UnsafeCell;
use core::ffi::c_void;
use core::ptr::NonNull;
use ringfence_wire::ioctl::STATUS_INVALID_HANDLE;
use windows_sys::Wdk::Foundation::KEVENT;

/// A `T` behind an `EX_PUSH_LOCK`. Push locks keep the IRQL at PASSIVE_LEVEL (inside a
/// critical region), so holders may touch paged memory such as the strings a process
/// callback receives; every caller here runs at PASSIVE_LEVEL.
///
/// # Invariants
/// `value` is only accessed between an acquire and the matching release of `lock`: shared
/// for `&T`, exclusive for `&mut T`.
pub(crate) struct PushLock<T> {
    /// An `EX_PUSH_LOCK`: one pointer-sized word, 0 when free (what `ExInitializePushLock`
    /// stores), so the lock can be created by value and moved before first use.
    lock: UnsafeCell<usize>,
    value: UnsafeCell<T>,
}

// SAFETY: access to `value` is serialised by the push lock (see the invariants), so sharing
// the lock across threads is as safe as sharing a `RwLock<T>`.
unsafe impl<T: Send + Sync> Sync for PushLock<T> {}
// SAFETY: the lock owns its value.
unsafe impl<T: Send> Send for PushLock<T> {}

impl<T> Guard<T> for PushLock<T> {
    fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        // SAFETY: no preconditions beyond IRQL <= APC_LEVEL.
        unsafe { KeEnterCriticalRegion() };
        // SAFETY: `lock` is a valid push lock word for the lifetime of self.
        unsafe { ExAcquirePushLockSharedEx(self.lock.get(), 0) };
        // SAFETY: shared acquisition held: no `&mut T` exists (invariant).
        let result = f(unsafe { &*self.value.get() });
        // SAFETY: releases the shared acquisition made above.
        unsafe { ExReleasePushLockSharedEx(self.lock.get(), 0) };
        // SAFETY: pairs with KeEnterCriticalRegion above.
        unsafe { KeLeaveCriticalRegion() };
        result
    }

    fn write<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: no preconditions beyond IRQL <= APC_LEVEL.
        unsafe { KeEnterCriticalRegion() };
        // SAFETY: `lock` is a valid push lock word for the lifetime of self.
        unsafe { ExAcquirePushLockExclusiveEx(self.lock.get(), 0) };
        // SAFETY: exclusive acquisition held: this is the only reference (invariant).
        let result = f(unsafe { &mut *self.value.get() });
        // SAFETY: releases the exclusive acquisition made above.
        unsafe { ExReleasePushLockExclusiveEx(self.lock.get(), 0) };
        // SAFETY: pairs with KeEnterCriticalRegion above.
        unsafe { KeLeaveCriticalRegion() };
        result
    }
}

/// A referenced user-mode event object; signalled when records become available, released
/// (`ObfDereferenceObject`) when dropped: at CLEANUP, at the next SET_EVENT, at unload.
///
/// Why an event rather than a pending READ: the driver then has no IRP cancellation paths
/// at all (nothing pends, so nothing can be left pending), there is one reference per
/// client, and the companion waits with a timeout so Ctrl-C stays responsive.
///
/// # Invariants
/// `event` points to a `KEVENT` on which this value holds one object reference.
pub(crate) struct EventRef {
    event: NonNull<KEVENT>,
}

// SAFETY: a referenced dispatcher object may be signalled and released from any thread.
unsafe impl Send for EventRef {}
// SAFETY: `wake` only calls KeSetEvent, which is safe to call concurrently.
unsafe impl Sync for EventRef {}

impl Wake for EventRef {
    fn wake(&self) {
        // SAFETY: the event is alive while referenced (invariant); IRQL <= DISPATCH_LEVEL.
        unsafe { KeSetEvent(self.event.as_ptr(), 0, false) };
    }
}

impl Drop for EventRef {
    fn drop(&mut self) {
        // SAFETY: releases the one reference this value holds (invariant).
        unsafe { ObfDereferenceObject(self.event.as_ptr().cast::<c_void>().cast_const()) };
    }
}

/// `EVENT_MODIFY_STATE`: the right `KeSetEvent` needs.
const EVENT_MODIFY_STATE: u32 = 0x0002;
/// `UserMode`: the handle comes from the caller and is checked against its access rights.
const USER_MODE: i8 = 1;

#[derive(Debug)]
pub(crate) enum Kernel {}

impl Platform for Kernel {
    type Lock<T> = PushLock<T>;
    type Waker = EventRef;
    type Store = super::store::KernelStore;

    fn lock<T>(value: T) -> PushLock<T> {
        PushLock { lock: UnsafeCell::new(0), value: UnsafeCell::new(value) }
    }

    fn now() -> u64 {
        let mut time = 0i64;
        // SAFETY: `time` is a valid out pointer.
        unsafe { KeQuerySystemTimePrecise(&mut time) };
        u64::try_from(time).unwrap_or(0)
    }

    fn ticks() -> u64 {
        // The performance counter's value at the reading, which the driver does not use.
        let mut counter = 0u64;
        // SAFETY: `counter` is a valid out pointer.
        unsafe { KeQueryInterruptTimePrecise(&mut counter) }
    }

    /// Runs in the caller's context at PASSIVE_LEVEL (IRP_MJ_DEVICE_CONTROL of a top-level
    /// driver), so the handle is looked up in the caller's handle table.
    fn reference_event(handle: u64) -> Result<EventRef, i32> {
        let handle = core::ptr::without_provenance_mut(usize::try_from(handle).unwrap_or(usize::MAX));
        let mut object: *mut c_void = core::ptr::null_mut();
        let event_type = event_object_type();
        // SAFETY: all pointers are valid; the type check rejects anything but an event.
        let status = unsafe {
            ObReferenceObjectByHandle(
                handle,
                EVENT_MODIFY_STATE,
                event_type,
                USER_MODE,
                &mut object,
                core::ptr::null_mut(),
            )
        };
        if status < 0 {
            return Err(status);
        }
        // INVARIANT: success means `object` is a referenced KEVENT.
        NonNull::new(object.cast::<KEVENT>()).map(|event| EventRef { event }).ok_or(STATUS_INVALID_HANDLE)
    }
}
