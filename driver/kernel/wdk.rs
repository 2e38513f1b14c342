//! The `wdk` backend (feature `wdk`): the names `imports` gives the windows-sys backend,
//! forwarded to windows-drivers-rs' wdk-sys, with wdk-alloc as the global allocator and
//! wdk-panic as the panic handler. `cargo make` on Windows with the WDK builds it
//! (Makefile.toml, wdk-build in build.rs).
//!
//! NOT BUILT ON LINUX OR IN CI: wdk-sys generates its bindings from the installed WDK.
//! Each forwarder is one call; the casts only rename pointer types, since windows-sys and
//! wdk-sys both describe the same C declarations (and "system" is "C" on x86-64).
//! ntifs.h functions that wdk-sys' ntddk bindings may lack are declared at the end and
//! resolved by ntoskrnl.lib, which wdk-build puts on the link line.
#![allow(
    non_snake_case,
    clippy::missing_safety_doc,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use core::ffi::c_void;
use wdk_sys::ntddk as k;
use windows_sys::Wdk::Foundation::{
    DEVICE_OBJECT, DRIVER_OBJECT, IRP, KEVENT, OBJECT_ATTRIBUTES, PEPROCESS, POBJECT_TYPE,
};
use windows_sys::Wdk::System::SystemServices::{
    PCREATE_PROCESS_NOTIFY_ROUTINE_EX, PLOAD_IMAGE_NOTIFY_ROUTINE,
};
use windows_sys::Win32::Foundation::{HANDLE, NTSTATUS, UNICODE_STRING};
use windows_sys::Win32::Security::ACL;

// wdk-alloc: ExAllocatePool2, non-paged, tag "rust".
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
            device_type,
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

pub(crate) unsafe fn PsSetCreateProcessNotifyRoutineEx(
    routine: PCREATE_PROCESS_NOTIFY_ROUTINE_EX,
    remove: bool,
) -> NTSTATUS {
    // SAFETY: the same optional function pointer; "system" and "C" agree on x86-64.
    let routine = unsafe {
        core::mem::transmute::<PCREATE_PROCESS_NOTIFY_ROUTINE_EX, wdk_sys::PCREATE_PROCESS_NOTIFY_ROUTINE_EX>(
            routine,
        )
    };
    // SAFETY: as above.
    unsafe { k::PsSetCreateProcessNotifyRoutineEx(routine, u8::from(remove)) }
}

pub(crate) unsafe fn PsSetLoadImageNotifyRoutine(routine: PLOAD_IMAGE_NOTIFY_ROUTINE) -> NTSTATUS {
    // SAFETY: the same optional function pointer.
    let routine = unsafe {
        core::mem::transmute::<PLOAD_IMAGE_NOTIFY_ROUTINE, wdk_sys::PLOAD_IMAGE_NOTIFY_ROUTINE>(routine)
    };
    // SAFETY: as above.
    unsafe { k::PsSetLoadImageNotifyRoutine(routine) }
}

pub(crate) unsafe fn PsRemoveLoadImageNotifyRoutine(routine: PLOAD_IMAGE_NOTIFY_ROUTINE) -> NTSTATUS {
    // SAFETY: the same optional function pointer.
    let routine = unsafe {
        core::mem::transmute::<PLOAD_IMAGE_NOTIFY_ROUTINE, wdk_sys::PLOAD_IMAGE_NOTIFY_ROUTINE>(routine)
    };
    // SAFETY: as above.
    unsafe { k::PsRemoveLoadImageNotifyRoutine(routine) }
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

/// The kernel's process object type (`*PsProcessType` in C).
pub(crate) fn process_object_type() -> POBJECT_TYPE {
    // SAFETY: the import slot, filled by the loader; read-only.
    let slot = unsafe { k::PsProcessType };
    // SAFETY: it points to the kernel's POBJECT_TYPE variable, set before drivers load.
    unsafe { *slot as POBJECT_TYPE }
}

/// The kernel's event object type (`*ExEventObjectType` in C).
pub(crate) fn event_object_type() -> POBJECT_TYPE {
    // SAFETY: the import slot, filled by the loader; read-only.
    let slot = unsafe { k::ExEventObjectType };
    // SAFETY: it points to the kernel's POBJECT_TYPE variable, set before drivers load.
    unsafe { *slot as POBJECT_TYPE }
}

pub(crate) unsafe fn RtlCreateSecurityDescriptor(descriptor: *mut c_void, revision: u32) -> NTSTATUS {
    // SAFETY: as above.
    unsafe { k::RtlCreateSecurityDescriptor(descriptor.cast(), revision) }
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

// ntifs.h exports, declared here with windows-sys types (resolved through ntoskrnl.lib).
unsafe extern "system" {
    pub(crate) fn PsGetProcessSessionId(process: PEPROCESS) -> u32;
    pub(crate) fn RtlCreateAcl(acl: *mut ACL, length: u32, revision: u32) -> NTSTATUS;
    pub(crate) fn RtlAddAccessAllowedAce(
        acl: *mut ACL,
        revision: u32,
        mask: u32,
        sid: *mut c_void,
    ) -> NTSTATUS;
    pub(crate) fn ObOpenObjectByPointer(
        object: *const c_void,
        attributes: u32,
        access_state: *const c_void,
        access: u32,
        object_type: POBJECT_TYPE,
        access_mode: i8,
        handle: *mut HANDLE,
    ) -> NTSTATUS;
    pub(crate) fn ZwSetSecurityObject(handle: HANDLE, information: u32, descriptor: *mut c_void) -> NTSTATUS;
    pub(crate) fn PsLookupProcessByProcessId(pid: HANDLE, process: *mut PEPROCESS) -> NTSTATUS;
    pub(crate) fn SeLocateProcessImageName(process: PEPROCESS, name: *mut *mut UNICODE_STRING) -> NTSTATUS;
    pub(crate) fn ZwQueryInformationProcess(
        process: HANDLE,
        class: i32,
        information: *mut c_void,
        length: u32,
        returned: *mut u32,
    ) -> NTSTATUS;
    pub(crate) fn PsReferencePrimaryToken(process: PEPROCESS) -> *mut c_void;
    pub(crate) fn SeQueryInformationToken(
        token: *mut c_void,
        class: i32,
        information: *mut *mut c_void,
    ) -> NTSTATUS;
    pub(crate) fn ExFreePool(pointer: *mut c_void);
}
