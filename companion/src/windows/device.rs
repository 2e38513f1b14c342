//! The Windows transport: `\\.\Ringfence` through the Win32 and NT APIs; each
//! call stands alone with the reason it is sound.
//!
//! Requests go through `NtDeviceIoControlFile` rather than `DeviceIoControl`
//! because [`IoctlOutcome`] carries the driver's NTSTATUS, which
//! `DeviceIoControl` folds into a Win32 error code.

use std::ffi::c_void;
use std::ptr;
use std::time::Duration;

use windows_sys::Wdk::System::IO::NtDeviceIoControlFile;
use windows_sys::Win32::Foundation::{
    CloseHandle, GENERIC_READ, GENERIC_WRITE, GetLastError, HANDLE, INVALID_HANDLE_VALUE, WAIT_OBJECT_0,
    WAIT_TIMEOUT,
};
use windows_sys::Win32::Storage::FileSystem::{
    CreateFileW, FILE_ATTRIBUTE_NORMAL, FILE_SHARE_NONE, OPEN_EXISTING,
};
use windows_sys::Win32::System::IO::IO_STATUS_BLOCK;
use windows_sys::Win32::System::Threading::{CreateEventW, WaitForSingleObject};

use crate::device::{Device, DeviceError, IoctlOutcome, Operation, win32};

// The platform-neutral codes `DeviceError::from_open_error` maps are Windows' own.
const _: () = {
    use windows_sys::Win32::Foundation as F;
    assert!(win32::ERROR_FILE_NOT_FOUND == F::ERROR_FILE_NOT_FOUND);
    assert!(win32::ERROR_PATH_NOT_FOUND == F::ERROR_PATH_NOT_FOUND);
    assert!(win32::ERROR_ACCESS_DENIED == F::ERROR_ACCESS_DENIED);
    assert!(win32::ERROR_SHARING_VIOLATION == F::ERROR_SHARING_VIOLATION);
};

/// An open handle on the driver's device and the auto-reset event it signals.
///
/// # Invariants
/// `file` and `event` are valid handles owned by this value until `drop`.
#[derive(Debug)]
pub struct WindowsDevice {
    path: String,
    file: HANDLE,
    event: HANDLE,
}

impl WindowsDevice {
    /// Opens `path` for reading and writing (the driver's control codes demand
    /// both) and creates the wake-up event.
    pub fn open(path: &str) -> Result<Self, DeviceError> {
        let wide: Vec<u16> = path.encode_utf16().chain(Some(0)).collect();
        // SAFETY: `wide` is NUL-terminated and outlives the call; the other pointers are null, as allowed.
        let file = unsafe {
            CreateFileW(
                wide.as_ptr(),
                GENERIC_READ | GENERIC_WRITE,
                FILE_SHARE_NONE,
                ptr::null(),
                OPEN_EXISTING,
                FILE_ATTRIBUTE_NORMAL,
                ptr::null_mut(),
            )
        };
        if file == INVALID_HANDLE_VALUE {
            return Err(DeviceError::from_open_error(path, last_error()));
        }
        // SAFETY: no attributes, no name: an anonymous auto-reset event, initially unsignalled.
        let event = unsafe { CreateEventW(ptr::null(), 0, 0, ptr::null()) };
        if event.is_null() {
            let code = last_error();
            // SAFETY: `file` was opened above and is closed exactly once, here.
            unsafe { CloseHandle(file) };
            return Err(DeviceError::Os { device: path.to_owned(), operation: Operation::CreateEvent, code });
        }
        // INVARIANT: both handles were just created and are owned by nobody else.
        Ok(WindowsDevice { path: path.to_owned(), file, event })
    }
}

fn last_error() -> u32 {
    // SAFETY: GetLastError reads the calling thread's last-error value; it has no preconditions.
    unsafe { GetLastError() }
}

impl Device for WindowsDevice {
    fn name(&self) -> &str {
        &self.path
    }

    fn ioctl(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> Result<IoctlOutcome, DeviceError> {
        let too_long = |_| DeviceError::Os {
            device: self.path.clone(),
            operation: Operation::Ioctl { code },
            code: windows_sys::Win32::Foundation::ERROR_INVALID_PARAMETER,
        };
        let input_len = u32::try_from(input.len()).map_err(too_long)?;
        let output_len = u32::try_from(output.len()).map_err(too_long)?;
        let mut iosb = IO_STATUS_BLOCK::default();
        // SAFETY: `file` is valid (type invariant); the buffers are valid for the lengths
        // passed and outlive the call, which is synchronous because the handle was opened
        // without FILE_FLAG_OVERLAPPED; no event, no APC.
        let status = unsafe {
            NtDeviceIoControlFile(
                self.file,
                ptr::null_mut(),
                None,
                ptr::null(),
                &mut iosb,
                code,
                input.as_ptr().cast::<c_void>(),
                input_len,
                output.as_mut_ptr().cast::<c_void>(),
                output_len,
            )
        };
        let information =
            if IoctlOutcome::output_copied(status) { iosb.Information.min(output.len()) } else { 0 };
        Ok(IoctlOutcome { status, information })
    }

    fn wake_event(&mut self) -> Result<u64, DeviceError> {
        // The driver receives the handle value and references it in this process's context.
        Ok(self.event as usize as u64)
    }

    fn wait_for_events(&mut self, timeout: Duration) -> Result<bool, DeviceError> {
        // Cap below INFINITE (u32::MAX) so that a long timeout never means forever.
        let millis = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX - 1).min(u32::MAX - 1);
        // SAFETY: `event` is a valid event handle (type invariant).
        let outcome = unsafe { WaitForSingleObject(self.event, millis) };
        match outcome {
            WAIT_OBJECT_0 => Ok(true),
            WAIT_TIMEOUT => Ok(false),
            _ => Err(DeviceError::Os {
                device: self.path.clone(),
                operation: Operation::Wait,
                code: last_error(),
            }),
        }
    }
}

impl Drop for WindowsDevice {
    fn drop(&mut self) {
        // SAFETY: `event` is owned by this value (type invariant) and closed exactly once, here.
        unsafe { CloseHandle(self.event) };
        // SAFETY: `file` is owned by this value (type invariant) and closed exactly once, here;
        // closing it makes the driver release its reference on the event.
        unsafe { CloseHandle(self.file) };
    }
}
