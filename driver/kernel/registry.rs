//! The service key's `Parameters` values (`QueueBytes`, `ProcessTableBytes`, the content-trust
//! parameters), read once at DriverEntry.

use super::ffi::{ZwClose, ZwOpenKey, ZwQueryValueKey};
use super::views::unicode_units;
use crate::params::{self, RegValue};
use crate::trust_params::{self, TrustParameters};
use alloc::vec::Vec;
use ringfence_wire::ioctl::{Notes, PROCESS_TABLE_BYTES_VALUE_NAME, QUEUE_BYTES_VALUE_NAME};
use windows_sys::Wdk::Foundation::OBJECT_ATTRIBUTES;
use windows_sys::Win32::Foundation::{HANDLE, UNICODE_STRING};

const KEY_READ: u32 = 0x0002_0019;
const OBJ_CASE_INSENSITIVE: u32 = 0x40;
const OBJ_KERNEL_HANDLE: u32 = 0x200;
/// `KeyValuePartialInformation`.
const KEY_VALUE_PARTIAL_INFORMATION: i32 = 2;

const SUBKEY: &str = "\\Parameters";
/// STATUS_BUFFER_OVERFLOW (0x80000005): the header is filled, the data truncated.
const STATUS_BUFFER_OVERFLOW: i32 = 0x8000_0005_u32 as i32;

fn ascii(text: &str, out: &mut Vec<u16>) {
    out.extend(text.bytes().map(u16::from));
}

/// The queue size and its notes; any failure to read the value counts as "absent".
///
/// # Safety
/// `registry_path` is DriverEntry's `RegistryPath` argument.
pub(crate) unsafe fn queue_bytes(registry_path: *const UNICODE_STRING) -> (u32, Notes) {
    // SAFETY: forwarded.
    unsafe { parameter(registry_path, QUEUE_BYTES_VALUE_NAME, params::queue_bytes) }
}

/// The process table's budget and its notes, as [`queue_bytes`].
///
/// # Safety
/// As [`queue_bytes`].
pub(crate) unsafe fn process_table_bytes(registry_path: *const UNICODE_STRING) -> (u32, Notes) {
    // SAFETY: forwarded.
    unsafe { parameter(registry_path, PROCESS_TABLE_BYTES_VALUE_NAME, params::process_table_bytes) }
}

/// Reads `Parameters\<value_name>` and hands it (or `None`) to `apply`.
///
/// # Safety
/// As [`queue_bytes`].
unsafe fn parameter(
    registry_path: *const UNICODE_STRING,
    value_name: &str,
    apply: fn(Option<RegValue<'_>>) -> (u32, Notes),
) -> (u32, Notes) {
    // SAFETY: the I/O manager's RegistryPath is a valid counted string during DriverEntry.
    let service = unsafe { unicode_units(registry_path) };
    let mut path = Vec::new();
    if path.try_reserve_exact(service.len().saturating_add(SUBKEY.len())).is_err() {
        return apply(None);
    }
    path.extend_from_slice(service);
    ascii(SUBKEY, &mut path);
    let mut name = Vec::new();
    if name.try_reserve_exact(value_name.len()).is_err() {
        return apply(None);
    }
    ascii(value_name, &mut name);
    let (Some(path), Some(name)) = (counted(&mut path), counted(&mut name)) else {
        return apply(None);
    };
    let attributes = OBJECT_ATTRIBUTES {
        Length: u32::try_from(core::mem::size_of::<OBJECT_ATTRIBUTES>()).unwrap_or(0),
        RootDirectory: core::ptr::null_mut(),
        ObjectName: &path,
        Attributes: OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE,
        SecurityDescriptor: core::ptr::null(),
        SecurityQualityOfService: core::ptr::null(),
    };
    let mut key: HANDLE = core::ptr::null_mut();
    // SAFETY: valid attributes naming a counted string that outlives the call.
    if unsafe { ZwOpenKey(&mut key, KEY_READ, &attributes) } < 0 {
        return apply(None);
    }
    // Header (12 bytes) and room for more than a DWORD, so a wrong size is seen as such.
    let mut buffer = [0u64; 4];
    let mut returned = 0u32;
    let length = u32::try_from(core::mem::size_of_val(&buffer)).unwrap_or(0);
    // SAFETY: `key` was opened above; the buffer is `length` writable bytes.
    let status = unsafe {
        ZwQueryValueKey(
            key,
            &name,
            KEY_VALUE_PARTIAL_INFORMATION,
            buffer.as_mut_ptr().cast(),
            length,
            &mut returned,
        )
    };
    // SAFETY: closes the key opened above, once.
    unsafe { ZwClose(key) };
    if status < 0 && status != STATUS_BUFFER_OVERFLOW {
        return apply(None);
    }
    let mut raw = [0u8; 32];
    for (chunk, word) in raw.chunks_exact_mut(8).zip(buffer) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    let value: Option<RegValue<'_>> = params::partial_information(&raw);
    apply(value)
}

/// A `UNICODE_STRING` over `units`, or `None` when it is too long to count in 16 bits.
fn counted(units: &mut [u16]) -> Option<UNICODE_STRING> {
    let bytes = u16::try_from(units.len().checked_mul(2)?).ok()?;
    Some(UNICODE_STRING { Length: bytes, MaximumLength: bytes, Buffer: units.as_mut_ptr() })
}

/// One value read from the Parameters key, copied out of the query buffer.
struct ReadValue {
    name: &'static str,
    ty: u32,
    data: Vec<u8>,
}

/// The content-trust parameters (see [`crate::trust_params`]); an unreadable value counts
/// as absent, exactly like `QueueBytes`.
///
/// # Safety
/// `registry_path` is DriverEntry's `RegistryPath` argument.
#[inline(never)]
pub(crate) unsafe fn trust_parameters(registry_path: *const UNICODE_STRING) -> TrustParameters {
    // SAFETY: forwarded.
    let values = unsafe { read_parameters(registry_path, &trust_params::VALUE_NAMES) };
    trust_params::trust_parameters(|name| {
        values.iter().find(|v| v.name == name).map(|v| RegValue { ty: v.ty, data: &v.data })
    })
}

/// Reads each of `names` from `<service key>\Parameters` into owned buffers.
///
/// # Safety
/// As [`trust_parameters`].
unsafe fn read_parameters(registry_path: *const UNICODE_STRING, names: &[&'static str]) -> Vec<ReadValue> {
    let mut out = Vec::new();
    if out.try_reserve_exact(names.len()).is_err() {
        return out;
    }
    // SAFETY: the I/O manager's RegistryPath is a valid counted string during DriverEntry.
    let service = unsafe { unicode_units(registry_path) };
    let mut path = Vec::new();
    if path.try_reserve_exact(service.len().saturating_add(SUBKEY.len())).is_err() {
        return out;
    }
    path.extend_from_slice(service);
    ascii(SUBKEY, &mut path);
    let Some(counted_path) = counted(&mut path) else { return out };
    let attributes = OBJECT_ATTRIBUTES {
        Length: u32::try_from(core::mem::size_of::<OBJECT_ATTRIBUTES>()).unwrap_or(0),
        RootDirectory: core::ptr::null_mut(),
        ObjectName: &counted_path,
        Attributes: OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE,
        SecurityDescriptor: core::ptr::null(),
        SecurityQualityOfService: core::ptr::null(),
    };
    let mut key: HANDLE = core::ptr::null_mut();
    // SAFETY: valid attributes naming a counted string that outlives the call.
    if unsafe { ZwOpenKey(&mut key, KEY_READ, &attributes) } < 0 {
        return out;
    }
    // Header (12 bytes) and the largest value read (TrustedKeys), plus room to see it is larger.
    let mut buffer = [0u64; 80];
    for &name in names {
        let mut units = Vec::new();
        if units.try_reserve_exact(name.len()).is_err() {
            continue;
        }
        ascii(name, &mut units);
        let Some(counted_name) = counted(&mut units) else { continue };
        let mut returned = 0u32;
        let length = u32::try_from(core::mem::size_of_val(&buffer)).unwrap_or(0);
        // SAFETY: `key` was opened above; the buffer is `length` writable bytes.
        let status = unsafe {
            ZwQueryValueKey(
                key,
                &counted_name,
                KEY_VALUE_PARTIAL_INFORMATION,
                buffer.as_mut_ptr().cast(),
                length,
                &mut returned,
            )
        };
        // A value larger than the buffer reads truncated, and is then refused as too large.
        if status < 0 && status != STATUS_BUFFER_OVERFLOW {
            continue;
        }
        let mut raw = Vec::new();
        if raw.try_reserve_exact(core::mem::size_of_val(&buffer)).is_err() {
            continue;
        }
        for word in buffer {
            raw.extend_from_slice(&word.to_le_bytes());
        }
        let Some(value) = params::partial_information(&raw) else { continue };
        let mut data = Vec::new();
        if data.try_reserve_exact(value.data.len()).is_err() {
            continue;
        }
        data.extend_from_slice(value.data);
        out.push(ReadValue { name, ty: value.ty, data });
    }
    // SAFETY: closes the key opened above, once.
    unsafe { ZwClose(key) };
    out
}
