//! The guard's [`Store`] in the kernel: the `GuardState` value of the service key, and the
//! persisted content files in `\SystemRoot\System32\drivers\ringfence\`, a directory only
//! SYSTEM and Administrators can open (its DACL protected from inheritance).
//!
//! Files are replaced atomically: the new bytes go to `<name>.tmp` (created with the same
//! DACL, write-through), are flushed, and the temporary file is renamed over `<name>.bin`;
//! a crash before the rename leaves the old file, after it the new one. Reads are bounded:
//! the size is checked before a buffer is allocated. Every handle is closed on every path
//! (an `Owned` handle closes itself). All of it runs at PASSIVE_LEVEL.

use super::ffi::{
    ZwClose, ZwCreateFile, ZwFlushBuffersFile, ZwFlushKey, ZwOpenKey, ZwQueryInformationFile,
    ZwQueryValueKey, ZwReadFile, ZwSetInformationFile, ZwSetSecurityObject, ZwSetValueKey, ZwWriteFile,
};
use super::security::AdminOnly;
use crate::guard::{ReadError, Store};
use alloc::vec::Vec;
use core::ffi::c_void;
use ringfence_trust::{PersistStep, Slot, guard_state};
use windows_sys::Wdk::Foundation::OBJECT_ATTRIBUTES;
use windows_sys::Win32::Foundation::{HANDLE, NTSTATUS, UNICODE_STRING};
use windows_sys::Win32::System::IO::IO_STATUS_BLOCK;

const DIRECTORY: &str = "\\SystemRoot\\System32\\drivers\\ringfence";

const OBJ_CASE_INSENSITIVE: u32 = 0x40;
const OBJ_KERNEL_HANDLE: u32 = 0x200;
const KEY_QUERY_VALUE: u32 = 0x0001;
const KEY_SET_VALUE: u32 = 0x0002;
const REG_BINARY: u32 = 3;
const KEY_VALUE_PARTIAL_INFORMATION: i32 = 2;

const SYNCHRONIZE: u32 = 0x0010_0000;
const DELETE: u32 = 0x0001_0000;
const WRITE_DAC: u32 = 0x0004_0000;
const FILE_GENERIC_READ: u32 = 0x0012_0089;
const FILE_GENERIC_WRITE: u32 = 0x0012_0116;
const FILE_LIST_DIRECTORY: u32 = 0x0001;
const FILE_ATTRIBUTE_NORMAL: u32 = 0x80;
const FILE_SHARE_READ: u32 = 0x1;
const FILE_OPEN: u32 = 1;
const FILE_OPEN_IF: u32 = 3;
const FILE_OVERWRITE_IF: u32 = 5;
const FILE_DIRECTORY_FILE: u32 = 0x01;
const FILE_WRITE_THROUGH: u32 = 0x02;
const FILE_SYNCHRONOUS_IO_NONALERT: u32 = 0x20;
const FILE_NON_DIRECTORY_FILE: u32 = 0x40;
const FILE_STANDARD_INFORMATION: i32 = 5;
const FILE_RENAME_INFORMATION: i32 = 10;
const FILE_DISPOSITION_INFORMATION: i32 = 13;
/// `FILE_STANDARD_INFORMATION.EndOfFile`.
const END_OF_FILE: usize = 8;
/// `FILE_RENAME_INFORMATION`: ReplaceIfExists (BOOLEAN), RootDirectory, FileNameLength, FileName.
const RENAME_ROOT: usize = 8;
const RENAME_NAME_LENGTH: usize = 16;
const RENAME_NAME: usize = 20;
const DACL_SECURITY_INFORMATION: u32 = 0x4;
const PROTECTED_DACL_SECURITY_INFORMATION: u32 = 0x8000_0000;

const STATUS_OBJECT_NAME_NOT_FOUND: NTSTATUS = 0xC000_0034_u32 as i32;
const STATUS_OBJECT_PATH_NOT_FOUND: NTSTATUS = 0xC000_003A_u32 as i32;
const STATUS_BUFFER_OVERFLOW: NTSTATUS = 0x8000_0005_u32 as i32;
const STATUS_END_OF_FILE: NTSTATUS = 0xC000_0011_u32 as i32;
const STATUS_INSUFFICIENT_RESOURCES: NTSTATUS = 0xC000_009A_u32 as i32;
const STATUS_NAME_TOO_LONG: NTSTATUS = 0xC000_0106_u32 as i32;

fn check(status: NTSTATUS) -> Result<(), NTSTATUS> {
    if status < 0 { Err(status) } else { Ok(()) }
}

/// A kernel handle this code opened; closed when dropped.
///
/// # Invariants
/// `0` is a handle returned by a successful Zw* open and not yet closed.
struct Owned(HANDLE);

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: a handle this value owns, closed once (invariant).
        unsafe { ZwClose(self.0) };
    }
}

/// UTF-16 of an ASCII path, allocated fallibly.
fn wide(parts: &[&str]) -> Result<Vec<u16>, NTSTATUS> {
    let len = parts.iter().map(|p| p.len()).fold(0usize, usize::saturating_add);
    let mut out = Vec::new();
    out.try_reserve_exact(len).map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
    for part in parts {
        out.extend(part.bytes().map(u16::from));
    }
    Ok(out)
}

fn counted(units: &[u16]) -> Result<UNICODE_STRING, NTSTATUS> {
    let bytes = units.len().checked_mul(2).and_then(|b| u16::try_from(b).ok()).ok_or(STATUS_NAME_TOO_LONG)?;
    Ok(UNICODE_STRING { Length: bytes, MaximumLength: bytes, Buffer: units.as_ptr().cast_mut() })
}

fn attributes(name: &UNICODE_STRING, descriptor: *mut c_void) -> OBJECT_ATTRIBUTES {
    OBJECT_ATTRIBUTES {
        Length: u32::try_from(core::mem::size_of::<OBJECT_ATTRIBUTES>()).unwrap_or(0),
        RootDirectory: core::ptr::null_mut(),
        ObjectName: name,
        Attributes: OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE,
        SecurityDescriptor: descriptor.cast_const().cast(),
        SecurityQualityOfService: core::ptr::null(),
    }
}

fn io_status() -> IO_STATUS_BLOCK {
    // SAFETY: IO_STATUS_BLOCK is plain data (a union of a status and a pointer, then a
    // usize); all zeroes is a valid value.
    unsafe { core::mem::zeroed() }
}

/// Opens or creates `path` with `ZwCreateFile`; what it creates gets the admin-only DACL.
fn create(path: &[u16], access: u32, share: u32, disposition: u32, options: u32) -> Result<Owned, NTSTATUS> {
    let name = counted(path)?;
    let mut security = AdminOnly::new();
    let descriptor = if disposition == FILE_OPEN { core::ptr::null_mut() } else { security.build()? };
    let attributes = attributes(&name, descriptor);
    let mut io = io_status();
    let mut handle: HANDLE = core::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; `security` outlives it.
    check(unsafe {
        ZwCreateFile(
            &mut handle,
            access | SYNCHRONIZE,
            &attributes,
            &mut io,
            core::ptr::null(),
            FILE_ATTRIBUTE_NORMAL,
            share,
            disposition,
            options | FILE_SYNCHRONOUS_IO_NONALERT,
            core::ptr::null(),
            0,
        )
    })?;
    // INVARIANT: opened just now.
    Ok(Owned(handle))
}

/// The kernel store; its paths are built once, at DriverEntry.
pub(crate) struct KernelStore {
    service_key: Vec<u16>,
    directory: Vec<u16>,
    state_name: Vec<u16>,
    bin: [Vec<u16>; 2],
    tmp: [Vec<u16>; 2],
}

// SAFETY: plain owned buffers; the handles it opens never outlive a call.
unsafe impl Send for KernelStore {}
// SAFETY: as above; every method takes `&mut self`.
unsafe impl Sync for KernelStore {}

fn index(slot: Slot) -> usize {
    match slot {
        Slot::Trial => 0,
        Slot::LastKnownGood => 1,
    }
}

impl KernelStore {
    /// Builds the paths; nothing touches the disk until the first read or write.
    pub(crate) fn prepare(service_key: &[u16]) -> Result<KernelStore, NTSTATUS> {
        let mut key = Vec::new();
        key.try_reserve_exact(service_key.len()).map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        key.extend_from_slice(service_key);
        Ok(KernelStore {
            service_key: key,
            directory: wide(&[DIRECTORY])?,
            state_name: wide(&[guard_state::VALUE_NAME])?,
            bin: [wide(&[DIRECTORY, "\\trial.bin"])?, wide(&[DIRECTORY, "\\lkg.bin"])?],
            tmp: [wide(&[DIRECTORY, "\\trial.tmp"])?, wide(&[DIRECTORY, "\\lkg.tmp"])?],
        })
    }

    /// Makes sure the directory exists and carries the admin-only DACL, protected from
    /// inheritance (a directory someone made before keeps no other access).
    fn directory(&self) -> Result<(), NTSTATUS> {
        let access = FILE_LIST_DIRECTORY | WRITE_DAC;
        let dir = create(&self.directory, access, FILE_SHARE_READ, FILE_OPEN_IF, FILE_DIRECTORY_FILE)?;
        let mut security = AdminOnly::new();
        let descriptor = security.build()?;
        let information = DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION;
        // SAFETY: a directory handle opened with WRITE_DAC; the descriptor is valid.
        check(unsafe { ZwSetSecurityObject(dir.0, information, descriptor) })
    }

    fn open_key(&self, access: u32) -> Result<Owned, NTSTATUS> {
        let name = counted(&self.service_key)?;
        let attributes = attributes(&name, core::ptr::null_mut());
        let mut key: HANDLE = core::ptr::null_mut();
        // SAFETY: valid attributes naming a counted string that outlives the call.
        check(unsafe { ZwOpenKey(&mut key, access, &attributes) })?;
        // INVARIANT: opened just now.
        Ok(Owned(key))
    }

    fn write_file(&self, slot: Slot, bytes: &[u8]) -> Result<(), (PersistStep, NTSTATUS)> {
        let temporary = self.tmp.get(index(slot)).ok_or((PersistStep::Create, STATUS_NAME_TOO_LONG))?;
        let target = self.bin.get(index(slot)).ok_or((PersistStep::Create, STATUS_NAME_TOO_LONG))?;
        let length =
            u32::try_from(bytes.len()).map_err(|_| (PersistStep::Write, STATUS_INSUFFICIENT_RESOURCES))?;
        self.directory().map_err(|s| (PersistStep::Create, s))?;
        let access = FILE_GENERIC_WRITE | DELETE;
        let options = FILE_NON_DIRECTORY_FILE | FILE_WRITE_THROUGH;
        let file =
            create(temporary, access, 0, FILE_OVERWRITE_IF, options).map_err(|s| (PersistStep::Create, s))?;
        let mut io = io_status();
        let offset = 0i64;
        // SAFETY: a file opened for writing; `bytes` is `length` readable bytes.
        let status = unsafe {
            ZwWriteFile(
                file.0,
                core::ptr::null_mut(),
                core::ptr::null(),
                core::ptr::null(),
                &mut io,
                bytes.as_ptr().cast(),
                length,
                &offset,
                core::ptr::null(),
            )
        };
        check(status).map_err(|s| (PersistStep::Write, s))?;
        if io.Information != bytes.len() {
            return Err((PersistStep::Write, STATUS_END_OF_FILE));
        }
        // SAFETY: as above.
        check(unsafe { ZwFlushBuffersFile(file.0, &mut io) }).map_err(|s| (PersistStep::Flush, s))?;
        let rename = rename_information(target).map_err(|s| (PersistStep::Rename, s))?;
        let rename_len =
            u32::try_from(RENAME_NAME.saturating_add(target.len().saturating_mul(2))).unwrap_or(0);
        // SAFETY: a FILE_RENAME_INFORMATION of `rename_len` bytes, 8-aligned, naming the target.
        let status = unsafe {
            ZwSetInformationFile(file.0, &mut io, rename.as_ptr().cast(), rename_len, FILE_RENAME_INFORMATION)
        };
        check(status).map_err(|s| (PersistStep::Rename, s))
    }
}

/// A `FILE_RENAME_INFORMATION` replacing `target` (a full path; no root directory).
fn rename_information(target: &[u16]) -> Result<Vec<u64>, NTSTATUS> {
    let name_bytes = target.len().checked_mul(2).ok_or(STATUS_NAME_TOO_LONG)?;
    let total = RENAME_NAME.checked_add(name_bytes).ok_or(STATUS_NAME_TOO_LONG)?;
    let mut bytes = Vec::new();
    bytes.try_reserve_exact(total.saturating_add(8)).map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
    bytes.resize(total, 0u8);
    if let Some(replace) = bytes.first_mut() {
        *replace = 1;
    }
    let _ = ringfence_wire::bytes::put_u64(&mut bytes, RENAME_ROOT, 0);
    let length = u32::try_from(name_bytes).map_err(|_| STATUS_NAME_TOO_LONG)?;
    let _ = ringfence_wire::bytes::put_u32(&mut bytes, RENAME_NAME_LENGTH, length);
    let mut at = RENAME_NAME;
    for unit in target {
        let _ = ringfence_wire::bytes::put_u16(&mut bytes, at, *unit);
        at = at.saturating_add(2);
    }
    let mut words = Vec::new();
    words.try_reserve_exact(total.div_ceil(8)).map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
    for chunk in bytes.chunks(8) {
        let mut word = [0u8; 8];
        for (to, from) in word.iter_mut().zip(chunk) {
            *to = *from;
        }
        words.push(u64::from_le_bytes(word));
    }
    Ok(words)
}

impl Store for KernelStore {
    fn read_state(&mut self) -> Result<Option<Vec<u8>>, i32> {
        let key = self.open_key(KEY_QUERY_VALUE)?;
        let name = counted(&self.state_name)?;
        // KEY_VALUE_PARTIAL_INFORMATION's 12-byte header and room for more than the value.
        let mut buffer = [0u64; 8];
        let mut returned = 0u32;
        let length = u32::try_from(core::mem::size_of_val(&buffer)).unwrap_or(0);
        // SAFETY: an open key; the buffer is `length` writable bytes.
        let status = unsafe {
            ZwQueryValueKey(
                key.0,
                &name,
                KEY_VALUE_PARTIAL_INFORMATION,
                buffer.as_mut_ptr().cast(),
                length,
                &mut returned,
            )
        };
        drop(key);
        if status == STATUS_OBJECT_NAME_NOT_FOUND {
            return Ok(None);
        }
        if status < 0 && status != STATUS_BUFFER_OVERFLOW {
            return Err(status);
        }
        let mut raw = [0u8; 64];
        for (chunk, word) in raw.chunks_exact_mut(8).zip(buffer) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        let Some(value) = crate::params::partial_information(&raw) else { return Ok(None) };
        if value.ty != REG_BINARY {
            return Ok(None);
        }
        let mut out = Vec::new();
        out.try_reserve_exact(value.data.len()).map_err(|_| STATUS_INSUFFICIENT_RESOURCES)?;
        out.extend_from_slice(value.data);
        Ok(Some(out))
    }

    fn write_state(&mut self, value: &[u8]) -> Result<(), i32> {
        let key = self.open_key(KEY_QUERY_VALUE | KEY_SET_VALUE)?;
        let name = counted(&self.state_name)?;
        let size = u32::try_from(value.len()).unwrap_or(0);
        // SAFETY: an open key; `value` is `size` readable bytes.
        check(unsafe { ZwSetValueKey(key.0, &name, 0, REG_BINARY, value.as_ptr().cast(), size) })?;
        // The count must survive the crash it is there to detect.
        // SAFETY: as above.
        check(unsafe { ZwFlushKey(key.0) })
    }

    fn read(&mut self, slot: Slot, max: usize) -> Result<Option<Vec<u8>>, ReadError> {
        let io_error = |status| ReadError::Io { status };
        let path = self.bin.get(index(slot)).ok_or(io_error(STATUS_NAME_TOO_LONG))?;
        let file = match create(path, FILE_GENERIC_READ, FILE_SHARE_READ, FILE_OPEN, FILE_NON_DIRECTORY_FILE)
        {
            Ok(file) => file,
            Err(STATUS_OBJECT_NAME_NOT_FOUND | STATUS_OBJECT_PATH_NOT_FOUND) => return Ok(None),
            Err(status) => return Err(io_error(status)),
        };
        let mut io = io_status();
        let mut standard = [0u64; 3];
        let length = u32::try_from(core::mem::size_of_val(&standard)).unwrap_or(0);
        // SAFETY: an open file; `standard` holds a FILE_STANDARD_INFORMATION.
        let status = unsafe {
            ZwQueryInformationFile(
                file.0,
                &mut io,
                standard.as_mut_ptr().cast(),
                length,
                FILE_STANDARD_INFORMATION,
            )
        };
        check(status).map_err(io_error)?;
        let size = standard.get(END_OF_FILE / 8).copied().unwrap_or(u64::MAX);
        let len = usize::try_from(size).ok().filter(|&len| len <= max).ok_or(ReadError::TooLarge { size })?;
        let length = u32::try_from(len).map_err(|_| ReadError::TooLarge { size })?;
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(len).map_err(|_| io_error(STATUS_INSUFFICIENT_RESOURCES))?;
        bytes.resize(len, 0u8);
        let offset = 0i64;
        // SAFETY: an open file; `bytes` is `length` writable bytes.
        let status = unsafe {
            ZwReadFile(
                file.0,
                core::ptr::null_mut(),
                core::ptr::null(),
                core::ptr::null(),
                &mut io,
                bytes.as_mut_ptr().cast(),
                length,
                &offset,
                core::ptr::null(),
            )
        };
        check(status).map_err(io_error)?;
        // A file that shrank between the size query and the read is refused, not padded.
        if io.Information != len {
            return Err(io_error(STATUS_END_OF_FILE));
        }
        Ok(Some(bytes))
    }

    fn write(&mut self, slot: Slot, bytes: &[u8]) -> Result<(), (PersistStep, i32)> {
        self.write_file(slot, bytes)
    }

    fn remove(&mut self, slot: Slot) -> Result<(), i32> {
        let path = self.bin.get(index(slot)).ok_or(STATUS_NAME_TOO_LONG)?;
        let file = match create(path, DELETE, 0, FILE_OPEN, FILE_NON_DIRECTORY_FILE) {
            Ok(file) => file,
            Err(STATUS_OBJECT_NAME_NOT_FOUND | STATUS_OBJECT_PATH_NOT_FOUND) => return Ok(()),
            Err(status) => return Err(status),
        };
        let mut io = io_status();
        // FILE_DISPOSITION_INFORMATION: DeleteFile = TRUE.
        let delete = [1u64];
        // SAFETY: an open file with DELETE access; a one-byte BOOLEAN structure.
        check(unsafe {
            ZwSetInformationFile(file.0, &mut io, delete.as_ptr().cast(), 1, FILE_DISPOSITION_INFORMATION)
        })
    }
}
