//! DriverEntry, unload, the dispatch routines and the two callbacks.
//!
//! DriverEntry builds, in order: the sensor (queue and trust parameters from the Parameters
//! key, persisted content restored through the crash-loop guard), the device with its DACL,
//! the symbolic link, the work item that concludes trials, then the process and image
//! registrations. Each step
//! is a guard; a failure returns its status and the guards made so far undo themselves
//! in reverse. Unload drops them in the same reverse order: callbacks first.

use super::device::{Device, ImageNotify, ProcessNotify, SymbolicLink};
use super::ffi::{
    IofCompleteRequest, PsGetProcessCreateTimeQuadPart, PsGetProcessExitStatus, PsGetProcessSessionId,
    PsGetProcessStartKey,
};
use super::process_query::KernelProcesses;
use super::registry;
use super::store::KernelStore;
use super::sync::Kernel;
use super::token::TokenFacts;
use super::views::{self, ProcessFacts};
use super::work::{self, ConclusionWork};
use crate::control::{self, Completion};
use crate::open;
use crate::platform::Platform;
use crate::processes::ProcessTable;
use crate::queue::Queue;
use crate::sensor::{Sensor, StartSettings};
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use ringfence_wire::ioctl::{
    STATUS_ACCESS_DENIED, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_DEVICE_REQUEST, STATUS_SUCCESS,
};
use windows_sys::Wdk::Foundation::{DEVICE_OBJECT, DRIVER_OBJECT, IRP, PEPROCESS};
use windows_sys::Wdk::System::SystemServices::{IMAGE_INFO, PS_CREATE_NOTIFY_INFO};
use windows_sys::Win32::Foundation::{HANDLE, NTSTATUS, UNICODE_STRING};

/// What callbacks and dispatch routines share.
struct Shared {
    sensor: Sensor<Kernel>,
    /// The device is exclusive; this makes the rule explicit (and testable in emulation).
    client_open: AtomicBool,
}

/// The published `Shared`: non-null from before the device exists until after both
/// callbacks are unregistered and the device is deleted.
static SHARED: AtomicPtr<Shared> = AtomicPtr::new(core::ptr::null_mut());

fn shared() -> Option<&'static Shared> {
    // SAFETY: non-null only while the `Published` box is alive, and it outlives every
    // callback registration and the device (see `Loaded`'s field order).
    unsafe { SHARED.load(Ordering::Acquire).as_ref() }
}

/// Owns the `Shared` box; clears the published pointer before freeing it.
struct Published(*mut Shared);

impl Published {
    fn new(shared: Box<Shared>) -> Published {
        let raw = Box::into_raw(shared);
        SHARED.store(raw, Ordering::Release);
        Published(raw)
    }
}

impl Drop for Published {
    fn drop(&mut self) {
        SHARED.store(core::ptr::null_mut(), Ordering::Release);
        // SAFETY: `self.0` came from Box::into_raw in `new`, and nothing can reach it now:
        // the callbacks are unregistered and the device is gone.
        drop(unsafe { Box::from_raw(self.0) });
    }
}

/// Everything DriverEntry made. Fields drop in declaration order, which is unload's order:
/// callbacks, link, device, then the sensor (its content and queue).
struct Loaded {
    _process: ProcessNotify,
    _image: ImageNotify,
    _link: SymbolicLink,
    _conclusion: ConclusionWork,
    _device: Device,
    _shared: Published,
}

static LOADED: AtomicPtr<Loaded> = AtomicPtr::new(core::ptr::null_mut());

/// `Box::new` that fails instead of aborting when the pool is exhausted.
fn try_box<T>(value: T) -> Result<Box<T>, T> {
    let mut one = Vec::new();
    if one.try_reserve_exact(1).is_err() {
        return Err(value);
    }
    one.push(value);
    let slice = Box::into_raw(one.into_boxed_slice());
    // SAFETY: a one-element boxed slice has the layout of a `T`; ownership moves over.
    Ok(unsafe { Box::from_raw(slice.cast::<T>()) })
}

/// # Safety
/// Called by the I/O manager only, with its own arguments.
#[unsafe(no_mangle)]
unsafe extern "system" fn DriverEntry(
    driver: *mut DRIVER_OBJECT,
    registry_path: *const UNICODE_STRING,
) -> NTSTATUS {
    // SAFETY: DriverEntry's arguments, as the contract says.
    match unsafe { start(driver, registry_path) } {
        Ok(()) => STATUS_SUCCESS,
        Err(status) => status,
    }
}

/// # Safety
/// As DriverEntry.
unsafe fn start(driver: *mut DRIVER_OBJECT, registry_path: *const UNICODE_STRING) -> Result<(), NTSTATUS> {
    // SAFETY: forwarded.
    let mut shared = unsafe { new_shared(registry_path) }?;
    // SAFETY: forwarded.
    unsafe { restore(registry_path, &mut shared.sensor) };
    let shared = Published::new(shared);
    // SAFETY: the driver object is ours to set up during DriverEntry.
    let object = unsafe { &mut *driver };
    for routine in object.MajorFunction.iter_mut() {
        *routine = Some(dispatch_unsupported);
    }
    object.MajorFunction[IRP_MJ_CREATE] = Some(dispatch_create);
    object.MajorFunction[IRP_MJ_CLEANUP] = Some(dispatch_cleanup);
    object.MajorFunction[IRP_MJ_CLOSE] = Some(dispatch_close);
    object.MajorFunction[IRP_MJ_DEVICE_CONTROL] = Some(dispatch_device_control);
    object.DriverUnload = Some(unload);

    let device = Device::create(driver)?;
    device.restrict_to_system_and_administrators()?;
    let link = SymbolicLink::create(&device)?;
    let conclusion = ConclusionWork::allocate(&device)?;
    let process = ProcessNotify::register(on_process)?;
    let image = ImageNotify::register(on_image)?;
    let loaded = Loaded {
        _process: process,
        _image: image,
        _link: link,
        _conclusion: conclusion,
        _device: device,
        _shared: shared,
    };
    let loaded = try_box(loaded).map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
    LOADED.store(Box::into_raw(loaded), Ordering::Release);
    Ok(())
}

/// The sensor (queue from the Parameters key) in pool. Its own frame: the sensor is built
/// on the stack and moved, and that kilobyte must not stay under `restore`'s deep calls.
///
/// # Safety
/// `registry_path` is DriverEntry's `RegistryPath` argument.
#[inline(never)]
unsafe fn new_shared(registry_path: *const UNICODE_STRING) -> Result<Box<Shared>, NTSTATUS> {
    // SAFETY: forwarded.
    let (queue_bytes, queue_notes) = unsafe { registry::queue_bytes(registry_path) };
    // SAFETY: forwarded.
    let (table_bytes, table_notes) = unsafe { registry::process_table_bytes(registry_path) };
    let queue = Queue::with_capacity(usize::try_from(queue_bytes).unwrap_or(0))
        .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
    let table = ProcessTable::with_budget(usize::try_from(table_bytes).unwrap_or(0))
        .map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
    let sensor = Sensor::new(queue, table, queue_notes | table_notes);
    let shared = Shared { sensor, client_open: AtomicBool::new(false) };
    try_box(shared).map_err(|_| STATUS_INSUFFICIENT_RESOURCES)
}

/// Gives the sensor (already in pool) its trust parameters and restores its persisted
/// content (admitted exactly as a load is) before any callback runs. Its own frame:
/// signature checks and the guard need a few KiB of stack that DriverEntry's frame should
/// not carry.
///
/// # Safety
/// `registry_path` is DriverEntry's `RegistryPath` argument.
#[inline(never)]
unsafe fn restore(registry_path: *const UNICODE_STRING, sensor: &mut Sensor<Kernel>) {
    // SAFETY: forwarded.
    let trust = unsafe { registry::trust_parameters(registry_path) };
    // SAFETY: the I/O manager's RegistryPath is a valid counted string during DriverEntry.
    let service_key = unsafe { views::unicode_units(registry_path) };
    let settings = StartSettings {
        trust: trust.settings,
        store: KernelStore::prepare(service_key).ok(),
        threshold: trust.threshold,
        health: trust.health,
        notes: trust.notes,
    };
    sensor.restore(settings);
}

const IRP_MJ_CREATE: usize = 0x00;
const IRP_MJ_CLOSE: usize = 0x02;
const IRP_MJ_DEVICE_CONTROL: usize = 0x0e;
const IRP_MJ_CLEANUP: usize = 0x12;

unsafe extern "system" fn unload(_driver: *const DRIVER_OBJECT) {
    let loaded = LOADED.swap(core::ptr::null_mut(), Ordering::AcqRel);
    if loaded.is_null() {
        return;
    }
    // Every handle is closed before unload, so CLEANUP already released the client's
    // event; releasing here too keeps "nothing stays referenced" true on its own.
    if let Some(shared) = shared() {
        shared.sensor.set_waker(None);
    }
    // SAFETY: stored by `start` from Box::into_raw and taken exactly once (swap above).
    drop(unsafe { Box::from_raw(loaded) });
}

/// Completes `irp` with `completion` (no pending, no cancellation: every request finishes
/// in its dispatch routine).
///
/// # Safety
/// `irp` is the IRP being dispatched, owned by the caller until this completes it.
unsafe fn complete(irp: *mut IRP, completion: Completion) -> NTSTATUS {
    {
        // SAFETY: the IRP is ours until completed (caller); no other reference exists.
        let irp = unsafe { &mut *irp };
        irp.IoStatus.Anonymous.Status = completion.status;
        irp.IoStatus.Information = completion.information;
    }
    // SAFETY: completes the IRP once; IO_NO_INCREMENT.
    unsafe { IofCompleteRequest(irp, 0) };
    completion.status
}

fn answer(status: NTSTATUS) -> Completion {
    Completion { status, information: 0 }
}

unsafe extern "system" fn dispatch_unsupported(_device: *const DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: the I/O manager hands us the IRP to complete.
    unsafe { complete(irp, answer(STATUS_INVALID_DEVICE_REQUEST)) }
}

/// Admits an open of the device itself and takes the one client slot; a name below the
/// device or a directory open is refused first (`open::judge`), so it never holds the slot.
unsafe extern "system" fn dispatch_create(_device: *const DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // SAFETY: an IRP_MJ_CREATE IRP being dispatched to us, with its file object.
    let request = unsafe { views::create_request(irp) };
    let status = match open::judge(request) {
        Err(refused) => refused,
        Ok(()) => {
            let first = shared().is_some_and(|s| {
                s.client_open.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire).is_ok()
            });
            if first { STATUS_SUCCESS } else { STATUS_ACCESS_DENIED }
        }
    };
    // SAFETY: the I/O manager hands us the IRP to complete.
    unsafe { complete(irp, answer(status)) }
}

unsafe extern "system" fn dispatch_cleanup(_device: *const DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    // The client's handle is closing: release its event (nothing else is held for it).
    if let Some(shared) = shared() {
        shared.sensor.set_waker(None);
    }
    // SAFETY: the I/O manager hands us the IRP to complete.
    unsafe { complete(irp, answer(STATUS_SUCCESS)) }
}

unsafe extern "system" fn dispatch_close(_device: *const DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    if let Some(shared) = shared() {
        shared.client_open.store(false, Ordering::Release);
    }
    // SAFETY: the I/O manager hands us the IRP to complete.
    unsafe { complete(irp, answer(STATUS_SUCCESS)) }
}

unsafe extern "system" fn dispatch_device_control(_device: *const DEVICE_OBJECT, irp: *mut IRP) -> NTSTATUS {
    let completion = {
        // SAFETY: an IRP_MJ_DEVICE_CONTROL IRP being dispatched to us; its buffers are
        // the I/O manager's, valid until completion (which happens after this scope).
        let (code, mut io) = unsafe { views::device_control(irp) };
        match shared() {
            Some(shared) => control::dispatch(&shared.sensor, code, &mut io),
            None => answer(STATUS_INVALID_DEVICE_REQUEST),
        }
    };
    // SAFETY: as above; the buffer views are gone.
    unsafe { complete(irp, completion) }
}

/// The process callback (PASSIVE_LEVEL, in the context of the creating or exiting thread).
/// Subsystem processes arrive here too and are reported like any other (see `ProcessNotify`).
unsafe extern "system" fn on_process(process: PEPROCESS, pid: HANDLE, info: *mut PS_CREATE_NOTIFY_INFO) {
    let Some(shared) = shared() else { return };
    // SAFETY (every query below): `process` is the process being created or exiting,
    // referenced by the kernel for the duration of the callback; they only read it.
    // SAFETY: as above.
    let start_key = unsafe { PsGetProcessStartKey(process) };
    // SAFETY: `info` is null (exit) or valid for the duration of the callback.
    match unsafe { info.as_ref() } {
        Some(info) => {
            // SAFETY: as above.
            let create_time = unsafe { PsGetProcessCreateTimeQuadPart(process) };
            // SAFETY: as above.
            let session_id = unsafe { PsGetProcessSessionId(process) };
            let create_time = u64::try_from(create_time).unwrap_or(0);
            let facts = ProcessFacts { start_key, create_time, session_id };
            let token = TokenFacts::of(process);
            // SAFETY: the names in `info` are valid for the duration of the callback.
            let new = unsafe { views::process_start(pid, info, facts, token.view()) };
            shared.sensor.process_start(&new, &KernelProcesses::new());
        }
        None => {
            // SAFETY: as above.
            let status = unsafe { PsGetProcessExitStatus(process) };
            let pid = views::id(pid);
            let source = KernelProcesses::with_current(pid, process);
            shared.sensor.process_exit(pid, start_key, views::exit_status(status), Kernel::now(), &source);
        }
    }
    schedule_conclusion(shared);
}

/// Once the active content is healthy, its trial is concluded (file I/O) in a system worker
/// thread at PASSIVE_LEVEL, never inside a callback.
fn schedule_conclusion(shared: &Shared) {
    if shared.sensor.health_is_due() {
        work::queue(conclude_trial);
    }
}

unsafe extern "system" fn conclude_trial(_device: *const DEVICE_OBJECT, _context: *const core::ffi::c_void) {
    work::started();
    if let Some(shared) = shared() {
        while let Some(generation) = shared.sensor.health_due() {
            shared.sensor.conclude(generation);
        }
    }
}

/// The image callback (PASSIVE_LEVEL). `pid` is 0 for images mapped into system space.
/// Images of a conflicting architecture arrive here too (see `ImageNotify`).
unsafe extern "system" fn on_image(name: *const UNICODE_STRING, pid: HANDLE, info: *const IMAGE_INFO) {
    let Some(shared) = shared() else { return };
    // SAFETY: `info` is valid for the duration of the callback when non-null.
    let Some(info) = (unsafe { info.as_ref() }) else { return };
    // SAFETY: `name` is null or valid for the duration of the callback.
    let load = unsafe { views::image_load(name, pid, info, Kernel::now()) };
    shared.sensor.image_load(&load, &KernelProcesses::new());
    schedule_conclusion(shared);
}
