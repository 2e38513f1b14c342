//! What the kernel says about a live process when the process table lacks it: the process
//! by id (`PsLookupProcessByProcessId`), its start key, its image name
//! (`SeLocateProcessImageName`), its command line (`ZwQueryInformationProcess`,
//! `ProcessCommandLineInformation`, through a kernel handle: the kernel reads the other
//! process's memory under its own protection, ringfence never does) and its user (the
//! primary token). Every reference, handle and buffer is a guard released on every path.
//!
//! These run in the image-load callback too. Up to Windows 7 the kernel held an internal
//! lock during load-image notifications that made querying user-space memory (as the
//! command line query does) deadlock-prone; Windows 8 dropped it (PLOAD_IMAGE_NOTIFY_ROUTINE,
//! Remarks). ringfence needs Windows 10 1703 or later anyway (`PsGetProcessStartKey`).

use super::ffi::{
    ObOpenObjectByPointer, ObfDereferenceObject, PsGetProcessStartKey, PsLookupProcessByProcessId,
    SeLocateProcessImageName, ZwClose, ZwQueryInformationProcess, process_object_type,
};
use super::token::{KernelBuffer, TokenFacts};
use super::views;
use crate::activity::ProcessSource;
use crate::processes::Facts;
use alloc::vec::Vec;
use core::ffi::c_void;
use windows_sys::Wdk::Foundation::PEPROCESS;
use windows_sys::Win32::Foundation::{HANDLE, UNICODE_STRING};

const OBJ_KERNEL_HANDLE: u32 = 0x200;
const KERNEL_MODE: i8 = 0;
const PROCESS_QUERY_LIMITED_INFORMATION: u32 = 0x1000;
/// `PROCESSINFOCLASS::ProcessCommandLineInformation`.
const PROCESS_COMMAND_LINE_INFORMATION: i32 = 60;
const STATUS_INFO_LENGTH_MISMATCH: i32 = 0xC000_0004_u32 as i32;
const STATUS_BUFFER_TOO_SMALL: i32 = 0xC000_0023_u32 as i32;
const STATUS_BUFFER_OVERFLOW: i32 = 0x8000_0005_u32 as i32;
/// The longest result: the header and a command line of 32,767 units.
const COMMAND_LINE_RESULT_MAX: usize = views::COMMAND_LINE_HEADER_BYTES + 0xFFFE;
/// The first try's size: enough for most command lines, so most need one query.
const COMMAND_LINE_RESULT_FIRST: usize = views::COMMAND_LINE_HEADER_BYTES + 1024;

/// A process object as the object manager's routines take it: windows-sys declares
/// `PEPROCESS` as an integer, the address of the object.
fn object(process: PEPROCESS) -> *const c_void {
    core::ptr::with_exposed_provenance(usize::from_ne_bytes(process.to_ne_bytes()))
}

/// A process looked up by id, dereferenced when dropped.
///
/// # Invariants
/// `process` is a process object on which this value holds one reference.
struct ProcessRef {
    process: PEPROCESS,
}

impl ProcessRef {
    fn lookup(pid: u32) -> Option<ProcessRef> {
        let handle: HANDLE = core::ptr::without_provenance_mut(usize::try_from(pid).ok()?);
        let mut process: PEPROCESS = 0;
        // SAFETY: a valid out pointer; IRQL <= APC_LEVEL.
        let status = unsafe { PsLookupProcessByProcessId(handle, &mut process) };
        if status < 0 || process == 0 {
            return None;
        }
        // INVARIANT: success returns a referenced process. (Built only here: a guard built
        // eagerly and then discarded would release a reference never taken.)
        Some(ProcessRef { process })
    }
}

impl Drop for ProcessRef {
    fn drop(&mut self) {
        // SAFETY: releases the one reference this value holds (invariant).
        unsafe { ObfDereferenceObject(object(self.process)) };
    }
}

/// A kernel handle, closed when dropped.
struct KernelHandle(HANDLE);

impl KernelHandle {
    fn open(process: PEPROCESS) -> Option<KernelHandle> {
        let mut handle: HANDLE = core::ptr::null_mut();
        // SAFETY: `process` is referenced for the duration (caller); a kernel handle to a
        // process object with query rights; PASSIVE_LEVEL.
        let status = unsafe {
            ObOpenObjectByPointer(
                object(process),
                OBJ_KERNEL_HANDLE,
                core::ptr::null(),
                PROCESS_QUERY_LIMITED_INFORMATION,
                process_object_type(),
                KERNEL_MODE,
                &mut handle,
            )
        };
        if status < 0 {
            return None;
        }
        Some(KernelHandle(handle))
    }
}

impl Drop for KernelHandle {
    fn drop(&mut self) {
        // SAFETY: closes the handle opened in `open`, once.
        unsafe { ZwClose(self.0) };
    }
}

/// The `ProcessCommandLineInformation` result for `process`, in 8-byte words (the
/// `UNICODE_STRING` header then its units), or `None` when refused or out of pool.
fn command_line_result(process: PEPROCESS) -> Option<Vec<u64>> {
    let handle = KernelHandle::open(process)?;
    let mut bytes = COMMAND_LINE_RESULT_FIRST;
    for _ in 0..2 {
        let mut result: Vec<u64> = Vec::new();
        let words = bytes.div_ceil(8);
        result.try_reserve_exact(words).ok()?;
        result.resize(words, 0);
        let length = u32::try_from(words.saturating_mul(8)).ok()?;
        let mut returned = 0u32;
        // SAFETY: a kernel handle with query rights, and `length` writable bytes.
        let status = unsafe {
            ZwQueryInformationProcess(
                handle.0,
                PROCESS_COMMAND_LINE_INFORMATION,
                result.as_mut_ptr().cast(),
                length,
                &mut returned,
            )
        };
        if status >= 0 {
            return Some(result);
        }
        let needed = usize::try_from(returned).unwrap_or(usize::MAX);
        let too_small =
            matches!(status, STATUS_INFO_LENGTH_MISMATCH | STATUS_BUFFER_TOO_SMALL | STATUS_BUFFER_OVERFLOW);
        if !too_small || needed <= bytes || needed > COMMAND_LINE_RESULT_MAX {
            return None;
        }
        bytes = needed;
    }
    None
}

/// The image name `SeLocateProcessImageName` returns, freed when dropped.
struct ImageName(KernelBuffer);

impl ImageName {
    fn locate(process: PEPROCESS) -> Option<ImageName> {
        let mut name: *mut UNICODE_STRING = core::ptr::null_mut();
        // SAFETY: `process` is referenced for the duration (caller); a valid out pointer.
        let status = unsafe { SeLocateProcessImageName(process, &mut name) };
        if status < 0 {
            return None;
        }
        KernelBuffer::adopt(name.cast()).map(ImageName)
    }

    fn units(&self) -> Option<&[u16]> {
        // SAFETY: the routine returns a UNICODE_STRING whose buffer follows it in the same
        // allocation, alive as long as `self`.
        unsafe { views::unicode_text(self.0.as_ptr().cast()) }
    }
}

/// The kernel as a [`ProcessSource`]. `current` is the process the callback was handed
/// (an exiting one), used without a lookup.
pub(crate) struct KernelProcesses {
    current: Option<(u32, PEPROCESS)>,
}

impl KernelProcesses {
    pub(crate) fn new() -> Self {
        KernelProcesses { current: None }
    }

    /// With the process a callback was handed, referenced by the kernel for its duration.
    pub(crate) fn with_current(pid: u32, process: PEPROCESS) -> Self {
        KernelProcesses { current: Some((pid, process)) }
    }

    /// Runs `f` with process `pid`: the callback's own, or looked up and referenced.
    fn with_process<R>(&self, pid: u32, f: impl FnOnce(PEPROCESS) -> R) -> Option<R> {
        match self.current {
            Some((current, process)) if current == pid => Some(f(process)),
            _ => ProcessRef::lookup(pid).map(|found| f(found.process)),
        }
    }
}

fn start_key(process: PEPROCESS) -> u64 {
    // SAFETY: `process` is referenced for the duration (callers); IRQL <= DISPATCH_LEVEL.
    unsafe { PsGetProcessStartKey(process) }
}

impl ProcessSource for KernelProcesses {
    fn start_key(&self, pid: u32) -> Option<u64> {
        self.with_process(pid, start_key)
    }

    fn describe<R>(&self, pid: u32, key: u64, f: impl FnOnce(Facts<'_>) -> R) -> Option<R> {
        self.with_process(pid, |process| {
            if start_key(process) != key {
                return None;
            }
            let image = ImageName::locate(process);
            let command = command_line_result(process);
            let user = TokenFacts::user_of(process);
            Some(f(Facts {
                image_path: image.as_ref().and_then(ImageName::units),
                command_line: command.as_deref().and_then(views::command_line),
                user_sid: user.as_ref().map(ringfence_wire::sid::SidText::as_units),
            }))
        })
        .flatten()
    }
}
