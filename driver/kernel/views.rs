//! Raw kernel structures in, safe views out. Each function takes the pointers the kernel
//! handed the driver once, checks what can be checked, and returns values whose lifetime
//! cannot outlive the call that received them. Nothing here trusts a length field.
//!
//! Compiled on every target (windows-sys' types are plain repr(C) structs), so the tests
//! below run under Miri with synthetic kernel structures.

use crate::activity::{ImageMapping, NewProcess, Token};
use crate::control::IoBuffers;
use crate::open::CreateRequest;
use core::ffi::c_void;
use core::marker::PhantomData;
use ringfence_wire::sid;
use windows_sys::Wdk::Foundation::IRP;
use windows_sys::Wdk::System::SystemServices::{IMAGE_INFO, PS_CREATE_NOTIFY_INFO};
use windows_sys::Win32::Foundation::{HANDLE, UNICODE_STRING};

/// The UTF-16 units of `string`: empty for a null pointer, a null or misaligned `Buffer`;
/// otherwise `min(Length, MaximumLength)` bytes, an odd byte count rounded down.
///
/// # Safety
/// `string` is null or points to a `UNICODE_STRING` readable for `'a`; if its `Buffer` is
/// non-null, it is readable for `min(Length, MaximumLength)` bytes, which stay unchanged
/// for `'a`.
pub unsafe fn unicode_units<'a>(string: *const UNICODE_STRING) -> &'a [u16] {
    // SAFETY: the caller guarantees `string` is null or valid for reads for 'a.
    let Some(string) = (unsafe { string.as_ref() }) else { return &[] };
    let buffer = string.Buffer;
    if buffer.is_null() || !buffer.cast_const().is_aligned() {
        return &[];
    }
    let units = usize::from(string.Length.min(string.MaximumLength)) / 2;
    // SAFETY: non-null and aligned (checked above); readable and unchanged for `units * 2 <=
    // min(Length, MaximumLength)` bytes for 'a by the caller's guarantee; u16 has no invalid
    // bit patterns.
    unsafe { core::slice::from_raw_parts(buffer.cast_const(), units) }
}

/// The UTF-16 units of `string` as a field value: `None` (absent) for a null pointer or a
/// null or misaligned `Buffer`, where the kernel handed over no usable name; otherwise as
/// [`unicode_units`] reads them.
///
/// # Safety
/// As [`unicode_units`].
pub unsafe fn unicode_text<'a>(string: *const UNICODE_STRING) -> Option<&'a [u16]> {
    // SAFETY: the caller guarantees `string` is null or valid for reads for 'a.
    let buffer = unsafe { string.as_ref() }?.Buffer;
    if buffer.is_null() || !buffer.cast_const().is_aligned() {
        return None;
    }
    // SAFETY: forwarded from this function's contract.
    Some(unsafe { unicode_units(string) })
}

/// A process or thread id from a `HANDLE`-typed id field. Ids are 32-bit values the kernel
/// stores in pointer-sized fields; anything wider is not an id and reads as `u32::MAX`.
pub fn id(handle: HANDLE) -> u32 {
    u32::try_from(handle.addr()).unwrap_or(u32::MAX)
}

/// What the process callback learns about a new process from kernel queries rather than
/// from `PS_CREATE_NOTIFY_INFO`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessFacts {
    pub start_key: u64,
    pub create_time: u64,
    pub session_id: u32,
}

/// `PS_CREATE_NOTIFY_INFO.Flags` (ntddk.h: `FileOpenNameAvailable : 1`, `IsSubsystemProcess : 1`,
/// `Reserved : 30`): bit 0.
const FILE_OPEN_NAME_AVAILABLE: u32 = 1;

/// A process creation from the process callback's arguments, the kernel's
/// answers about the process and its token.
///
/// A subsystem process (`IsSubsystemProcess`, bit 1 of `Flags`, set only for a routine
/// registered with `PsSetCreateProcessNotifyRoutineEx2`) may come without `FileObject`,
/// `ImageFileName` and `CommandLine`; it is reported like any process start, its image path
/// and command line absent where the kernel gave none. Nothing here dereferences a name that
/// is NULL.
///
/// # Safety
/// `info`'s `ImageFileName` and `CommandLine` are each null or valid as [`unicode_units`]
/// requires, for `'a`.
pub unsafe fn process_start<'a>(
    pid: HANDLE,
    info: &'a PS_CREATE_NOTIFY_INFO,
    facts: ProcessFacts,
    token: Token<'a>,
) -> NewProcess<'a> {
    // SAFETY: `Flags` and its bitfield view are both a plain u32.
    let flags = unsafe { info.Anonymous.Flags };
    // SAFETY: forwarded from this function's contract.
    let image_path = unsafe { unicode_text(info.ImageFileName) };
    // SAFETY: forwarded from this function's contract.
    let command_line = unsafe { unicode_text(info.CommandLine) };
    NewProcess {
        pid: id(pid),
        parent_pid: id(info.ParentProcessId),
        creating_pid: id(info.CreatingThreadId.UniqueProcess),
        creating_tid: id(info.CreatingThreadId.UniqueThread),
        session_id: facts.session_id,
        image_path,
        command_line,
        start_key: facts.start_key,
        create_time: facts.create_time,
        image_name_available: flags & FILE_OPEN_NAME_AVAILABLE != 0,
        token,
    }
}

/// An exit status as the record's `u32`, bit for bit.
pub fn exit_status(status: i32) -> u32 {
    u32::from_ne_bytes(status.to_ne_bytes())
}

// IMAGE_INFO.Properties bitfield (ntddk.h): ImageAddressingMode:8, SystemModeImage:1,
// ImageMappedToAllPids:1, ExtendedInfoPresent:1, MachineTypeMismatch:1,
// ImageSignatureLevel:4, ImageSignatureType:3, ImagePartialMap:1, Reserved:12.
const SYSTEM_MODE_IMAGE: u32 = 1 << 8;
const SIGNATURE_LEVEL_SHIFT: u32 = 12;
const SIGNATURE_LEVEL_MASK: u32 = 0xF;
const SIGNATURE_TYPE_SHIFT: u32 = 16;
const SIGNATURE_TYPE_MASK: u32 = 0x7;

/// An image mapping from the image callback's arguments. Kernel images report pid 0 and
/// base 0: no record carries a kernel address (KASLR stays intact for the reader).
///
/// # Safety
/// `name` is null or valid as [`unicode_units`] requires, for `'a`.
pub unsafe fn image_load<'a>(
    name: *const UNICODE_STRING,
    pid: HANDLE,
    info: &IMAGE_INFO,
    time: u64,
) -> ImageMapping<'a> {
    // SAFETY: `Properties` and its bitfield view are both a plain u32.
    let properties = unsafe { info.Anonymous.Properties };
    // SAFETY: forwarded from this function's contract.
    let path = unsafe { unicode_text(name) };
    let kernel_image = properties & SYSTEM_MODE_IMAGE != 0;
    let base = if kernel_image { 0 } else { info.ImageBase.addr() };
    ImageMapping {
        pid: id(pid),
        image_path: path,
        image_base: u64::try_from(base).unwrap_or(u64::MAX),
        image_size: u64::try_from(info.ImageSize).unwrap_or(u64::MAX),
        signature_level: (properties >> SIGNATURE_LEVEL_SHIFT) & SIGNATURE_LEVEL_MASK,
        signature_type: (properties >> SIGNATURE_TYPE_SHIFT) & SIGNATURE_TYPE_MASK,
        kernel_image,
        time,
    }
}

/// What an `IRP_MJ_CREATE` asks for: the length of the name below the device and the create
/// options (see [`crate::open::judge`]). A NULL file object reads as the device itself.
///
/// # Safety
/// `irp` points to an `IRP_MJ_CREATE` IRP being dispatched to the caller: its current stack
/// location is valid, and its `FileObject` is null or a valid file object.
pub unsafe fn create_request(irp: *const IRP) -> CreateRequest {
    // SAFETY: `irp` is valid for reads (caller).
    let irp = unsafe { &*irp };
    // SAFETY: while an IRP is being dispatched, `Tail.Overlay` is the union member in use.
    let overlay = unsafe { &irp.Tail.Overlay };
    // SAFETY: and within it, the current stack location pointer.
    let location = unsafe { overlay.Anonymous2.Anonymous.CurrentStackLocation };
    // SAFETY: the current stack location of a dispatched IRP is valid (caller).
    let location = unsafe { &*location };
    // SAFETY: for IRP_MJ_CREATE the parameters union holds `Create`; `Options` is a plain u32
    // at offset 8 in wdm.h and in windows-sys alike (checked below).
    let options = unsafe { location.Parameters.Create.Options };
    // SAFETY: the file object of a create is null or valid for the dispatch (caller).
    let name_bytes = unsafe { location.FileObject.as_ref() }.map_or(0, |file| file.FileName.Length);
    CreateRequest { name_bytes, options }
}

const _: () = {
    use windows_sys::Wdk::Foundation::{IO_STACK_LOCATION_0, IO_STACK_LOCATION_0_0};
    assert!(core::mem::offset_of!(IO_STACK_LOCATION_0_0, Options) == 8);
    assert!(core::mem::offset_of!(IO_STACK_LOCATION_0, Create) == 0);
};
/// The bytes of the SID at `sid`, as long as its header says; `None` for a null pointer
/// or a header that is not a SID's (revision, more than 15 sub-authorities).
///
/// # Safety
/// `sid` is null or points to a SID as the kernel lays it out, readable and unchanged for
/// `'a`: its 8-byte header, then as many sub-authorities as the header counts.
pub unsafe fn sid_bytes<'a>(sid: *const c_void) -> Option<&'a [u8]> {
    if sid.is_null() {
        return None;
    }
    // SAFETY: a SID starts with an 8-byte header (caller).
    let header = unsafe { core::slice::from_raw_parts(sid.cast::<u8>(), sid::layout::SUB_AUTHORITIES) };
    let len = sid::sid_len(header).ok()?;
    // SAFETY: the header checked out, and the SID holds the sub-authorities it counts (caller).
    Some(unsafe { core::slice::from_raw_parts(sid.cast::<u8>(), len) })
}

/// The SID of a `SID_AND_ATTRIBUTES` at the start of a token information buffer: what
/// `TokenUser` (`TOKEN_USER.User`) and `TokenIntegrityLevel` (`TOKEN_MANDATORY_LABEL.Label`)
/// return.
///
/// # Safety
/// `information` is null or a buffer `SeQueryInformationToken` filled for one of those two
/// classes, valid for `'a`.
pub unsafe fn token_sid<'a>(information: *const c_void) -> Option<&'a [u8]> {
    // SAFETY: the buffer starts with a SID_AND_ATTRIBUTES (caller); null reads as None.
    let entry = unsafe { information.cast::<windows_sys::Win32::Security::SID_AND_ATTRIBUTES>().as_ref() }?;
    // SAFETY: the kernel points `Sid` at a SID inside the same buffer (caller).
    unsafe { sid_bytes(entry.Sid.cast_const()) }
}

/// `TOKEN_STATISTICS.AuthenticationId` as one `u64`, `HighPart` in the upper half.
///
/// # Safety
/// `information` is null or a buffer `SeQueryInformationToken` filled for `TokenStatistics`.
pub unsafe fn token_logon_id(information: *const c_void) -> Option<u64> {
    // SAFETY: as the caller guarantees; null reads as None.
    let statistics =
        unsafe { information.cast::<windows_sys::Win32::Security::TOKEN_STATISTICS>().as_ref() }?;
    let id = statistics.AuthenticationId;
    Some(u64::from(u32::from_ne_bytes(id.HighPart.to_ne_bytes())) << 32 | u64::from(id.LowPart))
}

/// The `TOKEN_ELEVATION_TYPE` a `TokenElevationType` query returned.
///
/// # Safety
/// `information` is null or a buffer `SeQueryInformationToken` filled for `TokenElevationType`.
pub unsafe fn token_elevation_type(information: *const c_void) -> Option<u32> {
    // SAFETY: as the caller guarantees: one TOKEN_ELEVATION_TYPE (an i32); null reads as None.
    let value = unsafe { information.cast::<i32>().as_ref() }?;
    Some(u32::from_ne_bytes(value.to_ne_bytes()))
}

/// Byte offset of `UNICODE_STRING.Buffer` in a `ProcessCommandLineInformation` result.
const COMMAND_LINE_BUFFER_FIELD: usize = 8;
/// The `UNICODE_STRING` header that starts the result.
pub const COMMAND_LINE_HEADER_BYTES: usize = 16;

/// The command line in a `ProcessCommandLineInformation` result: the `UNICODE_STRING` at
/// its start, whose `Buffer` must point inside the result (past the header) and whose
/// `Length` must end inside it; anything else is not trusted and reads as `None`.
pub fn command_line(result: &[u64]) -> Option<&[u16]> {
    // SAFETY: u16 has no invalid bit patterns and an alignment dividing u64's; the view
    // covers exactly the same bytes for the same lifetime.
    let units =
        unsafe { core::slice::from_raw_parts(result.as_ptr().cast::<u16>(), result.len().saturating_mul(4)) };
    let length = usize::from(*units.first()?);
    let maximum = usize::from(*units.get(1)?);
    let pointer = result.get(COMMAND_LINE_BUFFER_FIELD / 8).copied()?;
    let start = usize::try_from(pointer).ok()?.checked_sub(result.as_ptr().addr())?;
    if start % 2 != 0 || start < COMMAND_LINE_HEADER_BYTES {
        return None;
    }
    let len = length.min(maximum) / 2;
    units.get(start / 2..(start / 2).checked_add(len)?)
}

/// `CTL_CODE` transfer type bits; only `METHOD_BUFFERED` (0) requests get a buffer view.
const METHOD_MASK: u32 = 3;

/// `IO_STACK_LOCATION.Parameters.DeviceIoControl` as wdm.h declares it, where the I/O
/// manager writes it. On x64 `InputBufferLength` and `IoControlCode` are `POINTER_ALIGNMENT`
/// (0x08 and 0x10 into `Parameters`); windows-sys 0.61's generated struct drops that
/// alignment (microsoft/windows-rs#4404) and would read them at 0x04 and 0x08.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct DeviceIoControlParameters {
    pub output_buffer_length: u32,
    pub input_buffer_length: PointerAligned,
    pub io_control_code: PointerAligned,
}

/// A `ULONG POINTER_ALIGNMENT` member.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default)]
pub struct PointerAligned(pub u32);

const _: () = {
    assert!(core::mem::offset_of!(DeviceIoControlParameters, input_buffer_length) == 8);
    assert!(core::mem::offset_of!(DeviceIoControlParameters, io_control_code) == 16);
    // The view never reaches past the parameters union it overlays.
    assert!(
        core::mem::size_of::<DeviceIoControlParameters>()
            <= core::mem::size_of::<windows_sys::Wdk::Foundation::IO_STACK_LOCATION_0>()
    );
};

/// The `METHOD_BUFFERED` system buffer of a device-control IRP: one kernel buffer of
/// `max(input, output)` bytes, input first. See [`IoBuffers`].
///
/// # Invariants
/// `buffer` is null (then both lengths are 0) or valid for reads and writes of
/// `max(input_len, output_len)` bytes for `'a`, its first `input_len` bytes initialised.
#[derive(Debug)]
pub struct BufferedIo<'a> {
    buffer: *mut u8,
    input_len: usize,
    output_len: usize,
    _irp: PhantomData<&'a mut IRP>,
}

/// The control code and buffers of a device-control IRP. Codes that are not
/// `METHOD_BUFFERED` get empty buffers: their pointers are user addresses, never touched.
///
/// # Safety
/// `irp` points to an `IRP_MJ_DEVICE_CONTROL` IRP owned by the caller for `'a`, whose current
/// stack location is valid and whose `AssociatedIrp.SystemBuffer`, for a `METHOD_BUFFERED`
/// code, is null or a buffer as the I/O manager allocates it (readable and writable for the
/// larger of the two lengths, the input bytes copied in).
pub unsafe fn device_control<'a>(irp: *mut IRP) -> (u32, BufferedIo<'a>) {
    // SAFETY: `irp` is valid for reads for 'a (caller).
    let irp = unsafe { &*irp };
    // SAFETY: while an IRP is being dispatched, `Tail.Overlay` is the union member in use.
    let overlay = unsafe { &irp.Tail.Overlay };
    // SAFETY: and within it, the current stack location pointer.
    let location = unsafe { overlay.Anonymous2.Anonymous.CurrentStackLocation };
    // SAFETY: the current stack location of a dispatched IRP is valid (caller).
    let location = unsafe { &*location };
    let overlaid = (&raw const location.Parameters).cast::<DeviceIoControlParameters>();
    // SAFETY: for IRP_MJ_DEVICE_CONTROL the parameters union holds the wdm.h DeviceIoControl
    // member; the view is no larger than the union (checked above) and equally aligned (8).
    let parameters = unsafe { overlaid.read() };
    let code = parameters.io_control_code.0;
    // SAFETY: for a buffered request this union member is the system buffer (caller).
    let buffer = unsafe { irp.AssociatedIrp.SystemBuffer }.cast::<u8>();
    let usable = code & METHOD_MASK == 0 && !buffer.is_null();
    let len = |n: u32| if usable { usize::try_from(n).unwrap_or(0) } else { 0 };
    // INVARIANT: a usable buffer spans both lengths; otherwise both are 0.
    let io = BufferedIo {
        buffer,
        input_len: len(parameters.input_buffer_length.0),
        output_len: len(parameters.output_buffer_length),
        _irp: PhantomData,
    };
    (code, io)
}

impl BufferedIo<'_> {
    /// A view over a caller-made buffer, for tests and the emulator.
    ///
    /// # Safety
    /// As the type's invariants.
    pub unsafe fn from_raw(buffer: *mut u8, input_len: usize, output_len: usize) -> Self {
        BufferedIo { buffer, input_len, output_len, _irp: PhantomData }
    }
}

impl IoBuffers for BufferedIo<'_> {
    fn input(&self) -> &[u8] {
        if self.buffer.is_null() || self.input_len == 0 {
            return &[];
        }
        // SAFETY: by the invariants, `input_len` initialised bytes at `buffer`; the shared
        // borrow of self keeps `output` (which writes) from running while this lives.
        unsafe { core::slice::from_raw_parts(self.buffer, self.input_len) }
    }

    fn output_len(&self) -> usize {
        self.output_len
    }

    fn output(&mut self) -> &mut [u8] {
        if self.buffer.is_null() || self.output_len == 0 {
            return &mut [];
        }
        // SAFETY: by the invariants, `output_len` writable bytes at `buffer`. Zeroing first
        // makes every byte initialised, so no stale pool contents can reach the caller.
        unsafe { core::ptr::write_bytes(self.buffer, 0, self.output_len) };
        // SAFETY: as above, now initialised; the exclusive borrow of self is the only access.
        unsafe { core::slice::from_raw_parts_mut(self.buffer, self.output_len) }
    }
}

#[cfg(test)]
mod tests;
