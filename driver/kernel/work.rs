//! The one work item that concludes a trial (promotion to last-known-good is file and
//! registry I/O: it runs in a system worker thread at PASSIVE_LEVEL, never in a callback).
//!
//! `IoQueueWorkItem` references the device object until the routine returns, and the I/O
//! manager does not run DriverUnload while the device is referenced, so the routine never
//! outlives the driver. The item is queued at most once at a time.

use super::device::Device;
use super::ffi::{IoAllocateWorkItem, IoFreeWorkItem, IoQueueWorkItem, WorkItemRoutine};
use core::ffi::c_void;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use ringfence_wire::ioctl::STATUS_INSUFFICIENT_RESOURCES;
use windows_sys::Win32::Foundation::NTSTATUS;

/// `DelayedWorkQueue`.
const DELAYED_WORK_QUEUE: i32 = 1;

/// The allocated item, published for the callbacks; null before DriverEntry made it and
/// after unload freed it.
static ITEM: AtomicPtr<c_void> = AtomicPtr::new(core::ptr::null_mut());
/// Set while the item is queued and its routine has not started.
static QUEUED: AtomicBool = AtomicBool::new(false);

/// Owns the work item; frees it when dropped (unload: it is not queued then).
pub(crate) struct ConclusionWork(*mut c_void);

impl ConclusionWork {
    pub(crate) fn allocate(device: &Device) -> Result<ConclusionWork, NTSTATUS> {
        // SAFETY: a live device object of this driver.
        let item = unsafe { IoAllocateWorkItem(device.as_ptr()) };
        if item.is_null() {
            return Err(STATUS_INSUFFICIENT_RESOURCES);
        }
        QUEUED.store(false, Ordering::Release);
        ITEM.store(item, Ordering::Release);
        Ok(ConclusionWork(item))
    }
}

impl Drop for ConclusionWork {
    fn drop(&mut self) {
        ITEM.store(core::ptr::null_mut(), Ordering::Release);
        // SAFETY: allocated by `allocate`, not queued (see the module comment), freed once.
        unsafe { IoFreeWorkItem(self.0) };
    }
}

/// Queues `routine` unless the item is already queued (or not allocated).
pub(crate) fn queue(
    routine: unsafe extern "system" fn(*const windows_sys::Wdk::Foundation::DEVICE_OBJECT, *const c_void),
) {
    let item = ITEM.load(Ordering::Acquire);
    if item.is_null() || QUEUED.swap(true, Ordering::AcqRel) {
        return;
    }
    let routine: WorkItemRoutine = Some(routine);
    // SAFETY: an allocated, unqueued item; the routine is a static function of this driver.
    unsafe { IoQueueWorkItem(item, routine, DELAYED_WORK_QUEUE, core::ptr::null()) };
}

/// Called first thing by the routine: the item may be queued again.
pub(crate) fn started() {
    QUEUED.store(false, Ordering::Release);
}
