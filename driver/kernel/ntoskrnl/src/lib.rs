//! ringfence.sys's view of ntoskrnl.exe for the windows-sys backend: every function and
//! datum the driver imports, in one place, as raw-dylib imports (no WDK import library).
//! `tests/pe_imports.allow` lists the same names; `tests/pe_image.rs` checks the built
//! image against it, and the emulator models exactly that list.
//!
//! Declared here rather than taken from windows-sys because windows-sys names ntdll.dll for
//! the Zw*/Rtl* exports a driver must take from ntoskrnl.exe, lacks a few kernel-only
//! exports, and has no data exports. Types are windows-sys'.
#![no_std]
#![cfg(windows)]
#![allow(non_snake_case, non_upper_case_globals)]

use core::ffi::c_void;
use windows_sys::Wdk::Foundation::{
    DEVICE_OBJECT, DRIVER_OBJECT, IRP, KEVENT, OBJECT_ATTRIBUTES, PEPROCESS, POBJECT_TYPE,
};
use windows_sys::Wdk::System::SystemServices::{PLOAD_IMAGE_NOTIFY_ROUTINE, PSCREATEPROCESSNOTIFYTYPE};
use windows_sys::Win32::Foundation::{HANDLE, NTSTATUS, UNICODE_STRING};
use windows_sys::Win32::Security::ACL;
use windows_sys::Win32::System::IO::IO_STATUS_BLOCK;

/// `IO_WORKITEM_ROUTINE`: the device object and the context given to `IoQueueWorkItem`.
pub type WorkItemRoutine =
    Option<unsafe extern "system" fn(device: *const DEVICE_OBJECT, context: *const c_void)>;

#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "system" {
    // Device and link.
    pub fn IoCreateDevice(
        driver: *const DRIVER_OBJECT,
        extension_size: u32,
        name: *const UNICODE_STRING,
        device_type: u32,
        characteristics: u32,
        exclusive: bool,
        device: *mut *mut DEVICE_OBJECT,
    ) -> NTSTATUS;
    pub fn IoDeleteDevice(device: *const DEVICE_OBJECT);
    pub fn IoCreateSymbolicLink(link: *const UNICODE_STRING, target: *const UNICODE_STRING) -> NTSTATUS;
    pub fn IoDeleteSymbolicLink(link: *const UNICODE_STRING) -> NTSTATUS;
    pub fn IofCompleteRequest(irp: *const IRP, priority_boost: i8);

    // Callbacks and the process queries they need. The Ex2/Ex registrations (Windows 10
    // 1703/1709) also report subsystem processes and images of a conflicting architecture.
    pub fn PsSetCreateProcessNotifyRoutineEx2(
        notify_type: PSCREATEPROCESSNOTIFYTYPE,
        notify_information: *const c_void,
        remove: bool,
    ) -> NTSTATUS;
    pub fn PsSetLoadImageNotifyRoutineEx(routine: PLOAD_IMAGE_NOTIFY_ROUTINE, flags: usize) -> NTSTATUS;
    pub fn PsRemoveLoadImageNotifyRoutine(routine: PLOAD_IMAGE_NOTIFY_ROUTINE) -> NTSTATUS;
    pub fn PsGetProcessExitStatus(process: PEPROCESS) -> NTSTATUS;
    pub fn PsGetProcessStartKey(process: PEPROCESS) -> u64;
    pub fn PsGetProcessCreateTimeQuadPart(process: PEPROCESS) -> i64;
    pub fn PsGetProcessSessionId(process: PEPROCESS) -> u32;

    // Pool, time, locks, the reader's event.
    pub fn ExAllocatePool2(flags: u64, bytes: usize, tag: u32) -> *mut c_void;
    pub fn ExFreePoolWithTag(pointer: *mut c_void, tag: u32);
    pub fn KeQuerySystemTimePrecise(time: *mut i64);
    pub fn KeQueryInterruptTimePrecise(qpc: *mut u64) -> u64;
    pub fn KeEnterCriticalRegion();
    pub fn KeLeaveCriticalRegion();
    pub fn ExAcquirePushLockExclusiveEx(lock: *mut usize, flags: u32);
    pub fn ExReleasePushLockExclusiveEx(lock: *mut usize, flags: u32);
    pub fn ExAcquirePushLockSharedEx(lock: *mut usize, flags: u32);
    pub fn ExReleasePushLockSharedEx(lock: *mut usize, flags: u32);
    pub fn KeSetEvent(event: *mut KEVENT, increment: i32, wait: bool) -> i32;
    pub fn ObReferenceObjectByHandle(
        handle: HANDLE,
        access: u32,
        object_type: POBJECT_TYPE,
        access_mode: i8,
        object: *mut *mut c_void,
        handle_information: *mut c_void,
    ) -> NTSTATUS;
    pub fn ObfDereferenceObject(object: *const c_void) -> isize;

    // The device's DACL.
    pub fn RtlCreateSecurityDescriptor(descriptor: *mut c_void, revision: u32) -> NTSTATUS;
    pub fn RtlCreateAcl(acl: *mut ACL, length: u32, revision: u32) -> NTSTATUS;
    pub fn RtlAddAccessAllowedAce(acl: *mut ACL, revision: u32, mask: u32, sid: *mut c_void) -> NTSTATUS;
    pub fn RtlSetDaclSecurityDescriptor(
        descriptor: *mut c_void,
        present: bool,
        acl: *const ACL,
        defaulted: bool,
    ) -> NTSTATUS;
    pub fn ObOpenObjectByPointer(
        object: *const c_void,
        attributes: u32,
        access_state: *const c_void,
        access: u32,
        object_type: POBJECT_TYPE,
        access_mode: i8,
        handle: *mut HANDLE,
    ) -> NTSTATUS;
    pub fn ZwSetSecurityObject(handle: HANDLE, information: u32, descriptor: *mut c_void) -> NTSTATUS;

    // The service's Parameters key.
    pub fn ZwOpenKey(key: *mut HANDLE, access: u32, attributes: *const OBJECT_ATTRIBUTES) -> NTSTATUS;
    pub fn ZwQueryValueKey(
        key: HANDLE,
        name: *const UNICODE_STRING,
        class: i32,
        information: *mut c_void,
        length: u32,
        result_length: *mut u32,
    ) -> NTSTATUS;
    pub fn ZwClose(handle: HANDLE) -> NTSTATUS;

    // The crash-loop guard's state (service key) and persisted content (files).
    pub fn ZwSetValueKey(
        key: HANDLE,
        name: *const UNICODE_STRING,
        title_index: u32,
        kind: u32,
        data: *const c_void,
        size: u32,
    ) -> NTSTATUS;
    pub fn ZwFlushKey(key: HANDLE) -> NTSTATUS;
    pub fn ZwCreateFile(
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
    ) -> NTSTATUS;
    pub fn ZwReadFile(
        file: HANDLE,
        event: HANDLE,
        apc_routine: *const c_void,
        apc_context: *const c_void,
        io_status: *mut IO_STATUS_BLOCK,
        buffer: *mut c_void,
        length: u32,
        byte_offset: *const i64,
        key: *const u32,
    ) -> NTSTATUS;
    pub fn ZwWriteFile(
        file: HANDLE,
        event: HANDLE,
        apc_routine: *const c_void,
        apc_context: *const c_void,
        io_status: *mut IO_STATUS_BLOCK,
        buffer: *const c_void,
        length: u32,
        byte_offset: *const i64,
        key: *const u32,
    ) -> NTSTATUS;
    pub fn ZwFlushBuffersFile(file: HANDLE, io_status: *mut IO_STATUS_BLOCK) -> NTSTATUS;
    pub fn ZwQueryInformationFile(
        file: HANDLE,
        io_status: *mut IO_STATUS_BLOCK,
        information: *mut c_void,
        length: u32,
        class: i32,
    ) -> NTSTATUS;
    pub fn ZwSetInformationFile(
        file: HANDLE,
        io_status: *mut IO_STATUS_BLOCK,
        information: *const c_void,
        length: u32,
        class: i32,
    ) -> NTSTATUS;

    // Concluding a trial at PASSIVE_LEVEL, outside the callbacks.
    pub fn IoAllocateWorkItem(device: *const DEVICE_OBJECT) -> *mut c_void;
    pub fn IoQueueWorkItem(item: *mut c_void, routine: WorkItemRoutine, queue: i32, context: *const c_void);
    pub fn IoFreeWorkItem(item: *mut c_void);
    // The process table and the token: a process by id, its image name, its command
    // line (through a kernel handle), its primary token and what the token says.
    pub fn PsLookupProcessByProcessId(pid: HANDLE, process: *mut PEPROCESS) -> NTSTATUS;
    pub fn SeLocateProcessImageName(process: PEPROCESS, name: *mut *mut UNICODE_STRING) -> NTSTATUS;
    pub fn ZwQueryInformationProcess(
        process: HANDLE,
        class: i32,
        information: *mut c_void,
        length: u32,
        returned: *mut u32,
    ) -> NTSTATUS;
    pub fn PsReferencePrimaryToken(process: PEPROCESS) -> *mut c_void;
    pub fn SeQueryInformationToken(token: *mut c_void, class: i32, information: *mut *mut c_void)
    -> NTSTATUS;
    /// Frees what SeLocateProcessImageName and SeQueryInformationToken allocate.
    pub fn ExFreePool(pointer: *mut c_void);

    // The panic handler's last word.
    pub fn KeBugCheckEx(code: u32, p1: usize, p2: usize, p3: usize, p4: usize) -> !;

    /// The kernel's event object type, a data export: the import slot holds the address of
    /// the kernel's `POBJECT_TYPE` variable, and reading this static reads that variable
    /// (C drivers spell it `*ExEventObjectType`).
    pub static ExEventObjectType: POBJECT_TYPE;

    /// The kernel's process object type, a data export like `ExEventObjectType`.
    pub static PsProcessType: POBJECT_TYPE;
}

// The compiler lowers copies, moves, fills and comparisons to these; on the msvc target
// compiler_builtins does not provide them, and ntoskrnl.exe exports them to every driver.
#[link(name = "ntoskrnl.exe", kind = "raw-dylib", modifiers = "+verbatim")]
unsafe extern "C" {
    pub fn memcpy(dest: *mut u8, src: *const u8, n: usize) -> *mut u8;
    pub fn memmove(dest: *mut u8, src: *const u8, n: usize) -> *mut u8;
    pub fn memset(dest: *mut u8, c: i32, n: usize) -> *mut u8;
    pub fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32;
    /// Referenced by the precompiled liballoc when the image is linked without LTO.
    pub fn strlen(s: *const u8) -> usize;
}
