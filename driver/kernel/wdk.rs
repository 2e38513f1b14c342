//! The `wdk` backend (feature `wdk`): the names `imports` gives the windows-sys backend,
//! forwarded to windows-drivers-rs' wdk-sys, with wdk-alloc as the global allocator and
//! wdk-panic as the panic handler. `cargo make` on Windows with the WDK builds and links it
//! (Makefile.toml, wdk-build in build.rs); on Linux, `cargo xtask wdk-check` type-checks and
//! lints it against the bindings the real wdk-sys build generates from mingw-w64's DDK
//! headers.
//!
//! Each forwarder is one call; the casts only rename pointer types, since windows-sys and
//! wdk-sys describe the same C declarations (and "system" is "C" on x86-64). Every function
//! comes from wdk-sys (its base headers are ntifs.h, ntddk.h and ntstrsafe.h) but one:
//! `PsGetProcessSessionId`, an ntoskrnl export that no WDK header declares, declared below
//! and resolved by ntoskrnl.lib, which wdk-build puts on the link line.
//!
//! The code above this module (device, DACL, callbacks, locks, the reader's event) is the
//! same for both backends: `super::device` and `super::sync` call these names and nothing
//! else, so the wdk build sets up exactly what the emulator runs.
#![allow(
    non_snake_case,
    // Forwarders take the kernel's own parameter lists.
    clippy::too_many_arguments,
    clippy::missing_safety_doc,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use core::ffi::c_void;
use wdk_sys::ntddk as k;
use windows_sys::Wdk::Foundation::{
    DEVICE_OBJECT, DRIVER_OBJECT, IRP, KEVENT, OBJECT_ATTRIBUTES, PEPROCESS, POBJECT_TYPE,
};
use windows_sys::Wdk::System::SystemServices::{PLOAD_IMAGE_NOTIFY_ROUTINE, PSCREATEPROCESSNOTIFYTYPE};
use windows_sys::Win32::Foundation::{HANDLE, NTSTATUS, UNICODE_STRING};
use windows_sys::Win32::Security::ACL;
use windows_sys::Win32::System::IO::IO_STATUS_BLOCK;

// wdk-alloc: ExAllocatePool2(POOL_FLAG_NON_PAGED, …, 'rust'); see docs/verifier.md for what
// that means under Driver Verifier (one pool tag, no alignment above the pool's).
#[global_allocator]
static GLOBAL_ALLOCATOR: wdk_alloc::WdkAllocator = wdk_alloc::WdkAllocator;
// wdk-panic supplies the #[panic_handler].
use wdk_panic as _;

pub(crate) unsafe fn IoCreateDevice(
    driver: *const DRIVER_OBJECT,
    extension_size: u32,
    name: *const UNICODE_STRING,
    device_type: u32,
    characteristics: u32,
    exclusive: bool,
    device: *mut *mut DEVICE_OBJECT,
) -> NTSTATUS {
    // SAFETY: same function, same arguments (see the module comment).
    unsafe {
        k::IoCreateDevice(
            driver.cast_mut().cast(),
            extension_size,
            name.cast_mut().cast(),
            device_type as _,
            characteristics,
            u8::from(exclusive),
            device.cast(),
        )
    }
}

pub(crate) unsafe fn IoDeleteDevice(device: *const DEVICE_OBJECT) {
    // SAFETY: as above.
    unsafe { k::IoDeleteDevice(device.cast_mut().cast()) }
}

pub(crate) unsafe fn IoCreateSymbolicLink(
    link: *const UNICODE_STRING,
    target: *const UNICODE_STRING,
) -> NTSTATUS {
    // SAFETY: as above.
    unsafe { k::IoCreateSymbolicLink(link.cast_mut().cast(), target.cast_mut().cast()) }
}

pub(crate) unsafe fn IoDeleteSymbolicLink(link: *const UNICODE_STRING) -> NTSTATUS {
    // SAFETY: as above.
    unsafe { k::IoDeleteSymbolicLink(link.cast_mut().cast()) }
}

pub(crate) unsafe fn IofCompleteRequest(irp: *const IRP, priority_boost: i8) {
    // SAFETY: as above.
    unsafe { k::IofCompleteRequest(irp.cast_mut().cast(), priority_boost as _) }
}

pub(crate) unsafe fn PsSetCreateProcessNotifyRoutineEx2(
    notify_type: PSCREATEPROCESSNOTIFYTYPE,
    notify_information: *const c_void,
    remove: bool,
) -> NTSTATUS {
    // SAFETY: as above; the routine travels as the same PVOID.
    unsafe {
        k::PsSetCreateProcessNotifyRoutineEx2(
            notify_type as _,
            notify_information.cast_mut(),
            u8::from(remove),
        )
    }
}

/// windows-sys' `PLOAD_IMAGE_NOTIFY_ROUTINE` as wdk-sys spells it.
fn image_routine(routine: PLOAD_IMAGE_NOTIFY_ROUTINE) -> wdk_sys::PLOAD_IMAGE_NOTIFY_ROUTINE {
    // SAFETY: the same optional function pointer (one nullable word): the parameter types
    // differ only in pointer names, and "system" and "C" agree on x86-64.
    unsafe {
        core::mem::transmute::<PLOAD_IMAGE_NOTIFY_ROUTINE, wdk_sys::PLOAD_IMAGE_NOTIFY_ROUTINE>(routine)
    }
}

pub(crate) unsafe fn PsSetLoadImageNotifyRoutineEx(
    routine: PLOAD_IMAGE_NOTIFY_ROUTINE,
    flags: usize,
) -> NTSTATUS {
    // SAFETY: as above.
    unsafe { k::PsSetLoadImageNotifyRoutineEx(image_routine(routine), flags as _) }
}

pub(crate) unsafe fn PsRemoveLoadImageNotifyRoutine(routine: PLOAD_IMAGE_NOTIFY_ROUTINE) -> NTSTATUS {
    // SAFETY: as above.
    unsafe { k::PsRemoveLoadImageNotifyRoutine(image_routine(routine)) }
}

pub(crate) unsafe fn PsGetProcessExitStatus(process: PEPROCESS) -> NTSTATUS {
    // SAFETY: as above; PEPROCESS is an opaque pointer in both.
    unsafe { k::PsGetProcessExitStatus(process as _) }
}

pub(crate) unsafe fn PsGetProcessStartKey(process: PEPROCESS) -> u64 {
    // SAFETY: as above.
    unsafe { k::PsGetProcessStartKey(process as _) }
}

pub(crate) unsafe fn PsGetProcessCreateTimeQuadPart(process: PEPROCESS) -> i64 {
    // SAFETY: as above.
    unsafe { k::PsGetProcessCreateTimeQuadPart(process as _) }
}

pub(crate) unsafe fn KeQuerySystemTimePrecise(time: *mut i64) {
    // SAFETY: as above; LARGE_INTEGER is an i64 in memory.
    unsafe { k::KeQuerySystemTimePrecise(time.cast()) }
}

pub(crate) unsafe fn KeQueryInterruptTimePrecise(qpc: *mut u64) -> u64 {
    // SAFETY: as above.
    unsafe { k::KeQueryInterruptTimePrecise(qpc) }
}

pub(crate) unsafe fn KeEnterCriticalRegion() {
    // SAFETY: as above.
    unsafe { k::KeEnterCriticalRegion() }
}

pub(crate) unsafe fn KeLeaveCriticalRegion() {
    // SAFETY: as above.
    unsafe { k::KeLeaveCriticalRegion() }
}

pub(crate) unsafe fn ExAcquirePushLockExclusiveEx(lock: *mut usize, flags: u32) {
    // SAFETY: as above; EX_PUSH_LOCK is one pointer-sized word.
    unsafe { k::ExAcquirePushLockExclusiveEx(lock.cast(), flags) }
}

pub(crate) unsafe fn ExReleasePushLockExclusiveEx(lock: *mut usize, flags: u32) {
    // SAFETY: as above.
    unsafe { k::ExReleasePushLockExclusiveEx(lock.cast(), flags) }
}

pub(crate) unsafe fn ExAcquirePushLockSharedEx(lock: *mut usize, flags: u32) {
    // SAFETY: as above.
    unsafe { k::ExAcquirePushLockSharedEx(lock.cast(), flags) }
}

pub(crate) unsafe fn ExReleasePushLockSharedEx(lock: *mut usize, flags: u32) {
    // SAFETY: as above.
    unsafe { k::ExReleasePushLockSharedEx(lock.cast(), flags) }
}

pub(crate) unsafe fn KeSetEvent(event: *mut KEVENT, increment: i32, wait: bool) -> i32 {
    // SAFETY: as above.
    unsafe { k::KeSetEvent(event.cast(), increment, u8::from(wait)) }
}

pub(crate) unsafe fn ObReferenceObjectByHandle(
    handle: HANDLE,
    access: u32,
    object_type: POBJECT_TYPE,
    access_mode: i8,
    object: *mut *mut c_void,
    handle_information: *mut c_void,
) -> NTSTATUS {
    // SAFETY: as above.
    unsafe {
        k::ObReferenceObjectByHandle(
            handle.cast(),
            access,
            object_type as _,
            access_mode as _,
            object.cast(),
            handle_information.cast(),
        )
    }
}

pub(crate) unsafe fn ObfDereferenceObject(object: *const c_void) -> isize {
    // SAFETY: as above.
    unsafe { k::ObfDereferenceObject(object.cast_mut().cast()) as isize }
}

/// The kernel's process object type (`*PsProcessType` in C). wdk-sys generates data symbols
/// into its constants module, re-exported at the crate root.
pub(crate) fn process_object_type() -> POBJECT_TYPE {
    // SAFETY: the import slot, filled by the loader; read-only.
    let slot = unsafe { wdk_sys::PsProcessType };
    // SAFETY: it points to the kernel's POBJECT_TYPE variable, set before drivers load.
    unsafe { *slot as POBJECT_TYPE }
}

/// The kernel's event object type (`*ExEventObjectType` in C), a data symbol like the above.
pub(crate) fn event_object_type() -> POBJECT_TYPE {
    // SAFETY: the import slot, filled by the loader before DriverEntry; read, never written.
    let slot = unsafe { wdk_sys::ExEventObjectType };
    // SAFETY: it points to the kernel's POBJECT_TYPE variable, set before drivers load.
    unsafe { *slot as POBJECT_TYPE }
}

pub(crate) unsafe fn RtlCreateSecurityDescriptor(descriptor: *mut c_void, revision: u32) -> NTSTATUS {
    // SAFETY: as above.
    unsafe { k::RtlCreateSecurityDescriptor(descriptor.cast(), revision) }
}

pub(crate) unsafe fn RtlCreateAcl(acl: *mut ACL, length: u32, revision: u32) -> NTSTATUS {
    // SAFETY: as above (ntifs.h).
    unsafe { k::RtlCreateAcl(acl.cast(), length, revision) }
}

pub(crate) unsafe fn RtlAddAccessAllowedAce(
    acl: *mut ACL,
    revision: u32,
    mask: u32,
    sid: *mut c_void,
) -> NTSTATUS {
    // SAFETY: as above (ntifs.h).
    unsafe { k::RtlAddAccessAllowedAce(acl.cast(), revision, mask, sid.cast()) }
}

pub(crate) unsafe fn RtlSetDaclSecurityDescriptor(
    descriptor: *mut c_void,
    present: bool,
    acl: *const ACL,
    defaulted: bool,
) -> NTSTATUS {
    // SAFETY: as above.
    unsafe {
        k::RtlSetDaclSecurityDescriptor(
            descriptor.cast(),
            u8::from(present),
            acl.cast_mut().cast(),
            u8::from(defaulted),
        )
    }
}

pub(crate) unsafe fn ObOpenObjectByPointer(
    object: *const c_void,
    attributes: u32,
    access_state: *const c_void,
    access: u32,
    object_type: POBJECT_TYPE,
    access_mode: i8,
    handle: *mut HANDLE,
) -> NTSTATUS {
    // SAFETY: as above (ntifs.h).
    unsafe {
        k::ObOpenObjectByPointer(
            object.cast_mut(),
            attributes,
            access_state.cast_mut().cast(),
            access,
            object_type as _,
            access_mode as _,
            handle.cast(),
        )
    }
}

pub(crate) unsafe fn ZwSetSecurityObject(
    handle: HANDLE,
    information: u32,
    descriptor: *mut c_void,
) -> NTSTATUS {
    // SAFETY: as above (ntifs.h).
    unsafe { k::ZwSetSecurityObject(handle.cast(), information, descriptor.cast()) }
}

pub(crate) unsafe fn ZwOpenKey(
    key: *mut HANDLE,
    access: u32,
    attributes: *const OBJECT_ATTRIBUTES,
) -> NTSTATUS {
    // SAFETY: as above.
    unsafe { k::ZwOpenKey(key.cast(), access, attributes.cast_mut().cast()) }
}

pub(crate) unsafe fn ZwQueryValueKey(
    key: HANDLE,
    name: *const UNICODE_STRING,
    class: i32,
    information: *mut c_void,
    length: u32,
    result_length: *mut u32,
) -> NTSTATUS {
    // SAFETY: as above.
    unsafe {
        k::ZwQueryValueKey(key.cast(), name.cast_mut().cast(), class as _, information, length, result_length)
    }
}

pub(crate) unsafe fn ZwClose(handle: HANDLE) -> NTSTATUS {
    // SAFETY: as above.
    unsafe { k::ZwClose(handle.cast()) }
}

// An ntoskrnl export that no WDK header declares (windows-sys' metadata, generated from the
// WDK headers, lacks it too), so wdk-sys cannot have it. Resolved through ntoskrnl.lib.
unsafe extern "system" {
    pub(crate) fn PsGetProcessSessionId(process: PEPROCESS) -> u32;
}

// The crash-loop guard's registry value and persisted files, and the work item that
// concludes trials. Same forwarding rule: one call, pointer casts only.

/// `IO_WORKITEM_ROUTINE` with windows-sys types.
pub(crate) type WorkItemRoutine =
    Option<unsafe extern "system" fn(device: *const DEVICE_OBJECT, context: *const c_void)>;

pub(crate) unsafe fn ZwSetValueKey(
    key: HANDLE,
    name: *const UNICODE_STRING,
    title_index: u32,
    kind: u32,
    data: *const c_void,
    size: u32,
) -> NTSTATUS {
    // SAFETY: as above.
    unsafe { k::ZwSetValueKey(key.cast(), name.cast_mut().cast(), title_index, kind, data.cast_mut(), size) }
}

pub(crate) unsafe fn ZwFlushKey(key: HANDLE) -> NTSTATUS {
    // SAFETY: as above.
    unsafe { k::ZwFlushKey(key.cast()) }
}

pub(crate) unsafe fn ZwCreateFile(
    file: *mut HANDLE,
    access: u32,
    attributes: *const OBJECT_ATTRIBUTES,
    io_status: *mut IO_STATUS_BLOCK,
    allocation_size: *const i64,
    file_attributes: u32,
    share_access: u32,
    disposition: u32,
    options: u32,
    ea_buffer: *const c_void,
    ea_length: u32,
) -> NTSTATUS {
    // SAFETY: as above; LARGE_INTEGER is an i64 in memory.
    unsafe {
        k::ZwCreateFile(
            file.cast(),
            access,
            attributes.cast_mut().cast(),
            io_status.cast(),
            allocation_size.cast_mut().cast(),
            file_attributes,
            share_access,
            disposition,
            options,
            ea_buffer.cast_mut(),
            ea_length,
        )
    }
}

pub(crate) unsafe fn ZwReadFile(
    file: HANDLE,
    event: HANDLE,
    apc_routine: *const c_void,
    apc_context: *const c_void,
    io_status: *mut IO_STATUS_BLOCK,
    buffer: *mut c_void,
    length: u32,
    byte_offset: *const i64,
    key: *const u32,
) -> NTSTATUS {
    // SAFETY: the same optional function pointer type (the routine is always null here).
    let apc_routine = unsafe { core::mem::transmute::<*const c_void, wdk_sys::PIO_APC_ROUTINE>(apc_routine) };
    // SAFETY: as above.
    unsafe {
        k::ZwReadFile(
            file.cast(),
            event.cast(),
            apc_routine,
            apc_context.cast_mut(),
            io_status.cast(),
            buffer,
            length,
            byte_offset.cast_mut().cast(),
            key.cast_mut(),
        )
    }
}

pub(crate) unsafe fn ZwWriteFile(
    file: HANDLE,
    event: HANDLE,
    apc_routine: *const c_void,
    apc_context: *const c_void,
    io_status: *mut IO_STATUS_BLOCK,
    buffer: *const c_void,
    length: u32,
    byte_offset: *const i64,
    key: *const u32,
) -> NTSTATUS {
    // SAFETY: the same optional function pointer type (the routine is always null here).
    let apc_routine = unsafe { core::mem::transmute::<*const c_void, wdk_sys::PIO_APC_ROUTINE>(apc_routine) };
    // SAFETY: as above.
    unsafe {
        k::ZwWriteFile(
            file.cast(),
            event.cast(),
            apc_routine,
            apc_context.cast_mut(),
            io_status.cast(),
            buffer.cast_mut(),
            length,
            byte_offset.cast_mut().cast(),
            key.cast_mut(),
        )
    }
}

pub(crate) unsafe fn ZwFlushBuffersFile(file: HANDLE, io_status: *mut IO_STATUS_BLOCK) -> NTSTATUS {
    // SAFETY: as above.
    unsafe { k::ZwFlushBuffersFile(file.cast(), io_status.cast()) }
}

pub(crate) unsafe fn ZwQueryInformationFile(
    file: HANDLE,
    io_status: *mut IO_STATUS_BLOCK,
    information: *mut c_void,
    length: u32,
    class: i32,
) -> NTSTATUS {
    // SAFETY: as above.
    unsafe { k::ZwQueryInformationFile(file.cast(), io_status.cast(), information, length, class as _) }
}

pub(crate) unsafe fn ZwSetInformationFile(
    file: HANDLE,
    io_status: *mut IO_STATUS_BLOCK,
    information: *const c_void,
    length: u32,
    class: i32,
) -> NTSTATUS {
    // SAFETY: as above.
    unsafe {
        k::ZwSetInformationFile(file.cast(), io_status.cast(), information.cast_mut(), length, class as _)
    }
}

pub(crate) unsafe fn IoAllocateWorkItem(device: *const DEVICE_OBJECT) -> *mut c_void {
    // SAFETY: as above; PIO_WORKITEM is an opaque pointer.
    unsafe { k::IoAllocateWorkItem(device.cast_mut().cast()).cast() }
}

pub(crate) unsafe fn IoQueueWorkItem(
    item: *mut c_void,
    routine: WorkItemRoutine,
    queue: i32,
    context: *const c_void,
) {
    // SAFETY: the same optional function pointer; "system" and "C" agree on x86-64.
    let routine = unsafe { core::mem::transmute::<WorkItemRoutine, wdk_sys::PIO_WORKITEM_ROUTINE>(routine) };
    // SAFETY: as above.
    unsafe { k::IoQueueWorkItem(item.cast(), routine, queue as _, context.cast_mut()) }
}

pub(crate) unsafe fn IoFreeWorkItem(item: *mut c_void) {
    // SAFETY: as above.
    unsafe { k::IoFreeWorkItem(item.cast()) }
}

// The process table and the token: a process by id, its image name, its command line
// (through a kernel handle), its primary token and what the token says. Same forwarding rule.

pub(crate) unsafe fn PsLookupProcessByProcessId(pid: HANDLE, process: *mut PEPROCESS) -> NTSTATUS {
    // SAFETY: as above (ntifs.h).
    unsafe { k::PsLookupProcessByProcessId(pid.cast(), process.cast()) }
}

pub(crate) unsafe fn SeLocateProcessImageName(
    process: PEPROCESS,
    name: *mut *mut UNICODE_STRING,
) -> NTSTATUS {
    // SAFETY: as above (ntifs.h).
    unsafe { k::SeLocateProcessImageName(process as _, name.cast()) }
}

pub(crate) unsafe fn ZwQueryInformationProcess(
    process: HANDLE,
    class: i32,
    information: *mut c_void,
    length: u32,
    returned: *mut u32,
) -> NTSTATUS {
    // SAFETY: as above (ntddk.h).
    unsafe { k::ZwQueryInformationProcess(process.cast(), class as _, information, length, returned) }
}

pub(crate) unsafe fn PsReferencePrimaryToken(process: PEPROCESS) -> *mut c_void {
    // SAFETY: as above (ntifs.h); PACCESS_TOKEN is an opaque pointer.
    unsafe { k::PsReferencePrimaryToken(process as _).cast() }
}

pub(crate) unsafe fn SeQueryInformationToken(
    token: *mut c_void,
    class: i32,
    information: *mut *mut c_void,
) -> NTSTATUS {
    // SAFETY: as above (ntifs.h).
    unsafe { k::SeQueryInformationToken(token.cast(), class as _, information.cast()) }
}

pub(crate) unsafe fn ExFreePool(pointer: *mut c_void) {
    // SAFETY: as above (wdm.h).
    unsafe { k::ExFreePool(pointer.cast()) }
}
