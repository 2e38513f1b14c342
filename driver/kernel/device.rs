//! Objects DriverEntry creates, each a guard that undoes itself when dropped, so that an
//! early return unwinds exactly what was done, in reverse order.

use super::ffi::{
    IoCreateDevice, IoCreateSymbolicLink, IoDeleteDevice, IoDeleteSymbolicLink, ObOpenObjectByPointer,
    PsRemoveLoadImageNotifyRoutine, PsSetCreateProcessNotifyRoutineEx2, PsSetLoadImageNotifyRoutineEx,
    RtlAddAccessAllowedAce, RtlCreateAcl, RtlCreateSecurityDescriptor, RtlSetDaclSecurityDescriptor, ZwClose,
    ZwSetSecurityObject,
};
use core::ffi::c_void;
use ringfence_wire::ioctl::{DEVICE_NAME, DOS_DEVICE_NAME, FILE_DEVICE_RINGFENCE};
use windows_sys::Wdk::Foundation::{DEVICE_OBJECT, DRIVER_OBJECT, PEPROCESS};
use windows_sys::Wdk::System::SystemServices::{
    IMAGE_INFO, PS_CREATE_NOTIFY_INFO, PS_IMAGE_NOTIFY_CONFLICTING_ARCHITECTURE,
    PsCreateProcessNotifySubsystems,
};
use windows_sys::Win32::Foundation::{HANDLE, NTSTATUS, UNICODE_STRING};
use windows_sys::Win32::Security::ACL;

/// An ASCII name as UTF-16, at compile time (only ever evaluated in constants, so an
/// out-of-range index would be a build error, not a runtime panic).
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn ascii_units<const N: usize>(text: &str) -> [u16; N] {
    let bytes = text.as_bytes();
    let mut units = [0u16; N];
    let mut i = 0;
    while i < N && i < bytes.len() {
        units[i] = bytes[i] as u16;
        i += 1;
    }
    units
}

static DEVICE_UNITS: [u16; DEVICE_NAME.len()] = ascii_units(DEVICE_NAME);
static LINK_UNITS: [u16; DOS_DEVICE_NAME.len()] = ascii_units(DOS_DEVICE_NAME);

/// A counted string over static units; the kernel only reads it.
pub(crate) fn unicode(units: &'static [u16]) -> UNICODE_STRING {
    let bytes = u16::try_from(units.len().saturating_mul(2)).unwrap_or(0);
    UNICODE_STRING { Length: bytes, MaximumLength: bytes, Buffer: units.as_ptr().cast_mut() }
}

fn check(status: NTSTATUS) -> Result<(), NTSTATUS> {
    if status < 0 { Err(status) } else { Ok(()) }
}

/// `\Device\Ringfence`, deleted when dropped.
///
/// # Invariants
/// `device` is a device object this value created and has not deleted.
pub(crate) struct Device {
    device: *mut DEVICE_OBJECT,
}

/// `FILE_DEVICE_SECURE_OPEN`: the device's DACL also governs opens of names below it.
const FILE_DEVICE_SECURE_OPEN: u32 = 0x100;

impl Device {
    /// Creates the exclusive device object (a second open is refused by the I/O manager).
    pub(crate) fn create(driver: *const DRIVER_OBJECT) -> Result<Device, NTSTATUS> {
        let name = unicode(&DEVICE_UNITS);
        let mut device = core::ptr::null_mut();
        // SAFETY: `driver` is the DriverEntry argument; `name` and `device` are valid.
        check(unsafe {
            IoCreateDevice(
                driver,
                0,
                &name,
                FILE_DEVICE_RINGFENCE,
                FILE_DEVICE_SECURE_OPEN,
                true,
                &mut device,
            )
        })?;
        // INVARIANT: created just now.
        Ok(Device { device })
    }

    /// Replaces the device's DACL with one granting only SYSTEM and Administrators, built
    /// from ntoskrnl exports (no wdmsec.lib).
    pub(crate) fn restrict_to_system_and_administrators(&self) -> Result<(), NTSTATUS> {
        // SECURITY_DESCRIPTOR (absolute, 40 bytes on x64) and an ACL with two ACEs.
        let mut descriptor = [0u64; 8];
        let mut acl = [0u64; 16];
        let mut system = LOCAL_SYSTEM_SID;
        let mut administrators = BUILTIN_ADMINISTRATORS_SID;
        let descriptor_ptr = descriptor.as_mut_ptr().cast::<c_void>();
        let acl_ptr = acl.as_mut_ptr().cast::<ACL>();
        let acl_len = u32::try_from(core::mem::size_of_val(&acl)).unwrap_or(0);
        // SAFETY: `descriptor` is large and aligned enough for an absolute descriptor.
        check(unsafe { RtlCreateSecurityDescriptor(descriptor_ptr, SECURITY_DESCRIPTOR_REVISION) })?;
        // SAFETY: `acl` is `acl_len` writable, 8-aligned bytes.
        check(unsafe { RtlCreateAcl(acl_ptr, acl_len, ACL_REVISION) })?;
        // SAFETY: a valid ACL and a valid SID, which the call only reads.
        check(unsafe {
            RtlAddAccessAllowedAce(acl_ptr, ACL_REVISION, FILE_ALL_ACCESS, system.as_mut_ptr().cast())
        })?;
        // SAFETY: as above.
        check(unsafe {
            RtlAddAccessAllowedAce(acl_ptr, ACL_REVISION, FILE_ALL_ACCESS, administrators.as_mut_ptr().cast())
        })?;
        // SAFETY: descriptor and ACL are valid and outlive the ZwSetSecurityObject below.
        check(unsafe { RtlSetDaclSecurityDescriptor(descriptor_ptr, true, acl_ptr, false) })?;
        let mut handle: HANDLE = core::ptr::null_mut();
        // SAFETY: the device is alive (invariant); a kernel handle for WRITE_DAC.
        check(unsafe {
            ObOpenObjectByPointer(
                self.device.cast::<c_void>(),
                OBJ_KERNEL_HANDLE,
                core::ptr::null(),
                WRITE_DAC,
                0,
                KERNEL_MODE,
                &mut handle,
            )
        })?;
        // SAFETY: a handle opened just now with WRITE_DAC; the descriptor is valid.
        let status = unsafe { ZwSetSecurityObject(handle, DACL_SECURITY_INFORMATION, descriptor_ptr) };
        // SAFETY: closes the handle opened above, once.
        unsafe { ZwClose(handle) };
        check(status)
    }
}

impl Device {
    /// The device object, for APIs that take it (`IoAllocateWorkItem`); alive while `self` is.
    pub(crate) fn as_ptr(&self) -> *const DEVICE_OBJECT {
        self.device
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        // SAFETY: created by this value and not yet deleted (invariant).
        unsafe { IoDeleteDevice(self.device) };
    }
}

const SECURITY_DESCRIPTOR_REVISION: u32 = 1;
const ACL_REVISION: u32 = 2;
const FILE_ALL_ACCESS: u32 = 0x001F_01FF;
const WRITE_DAC: u32 = 0x0004_0000;
const DACL_SECURITY_INFORMATION: u32 = 4;
const OBJ_KERNEL_HANDLE: u32 = 0x200;
const KERNEL_MODE: i8 = 0;
/// S-1-5-18 (LocalSystem) as little-endian words: revision 1, one sub-authority, the
/// big-endian 48-bit authority 5 (SECURITY_NT_AUTHORITY), then the sub-authority 18.
const LOCAL_SYSTEM_SID: [u32; 3] = [0x0000_0101, 0x0500_0000, 18];
/// S-1-5-32-544 (BUILTIN\Administrators): two sub-authorities, 32 and 544.
const BUILTIN_ADMINISTRATORS_SID: [u32; 4] = [0x0000_0201, 0x0500_0000, 32, 544];

/// `\??\Ringfence` → `\Device\Ringfence`, deleted when dropped.
pub(crate) struct SymbolicLink(());

impl SymbolicLink {
    pub(crate) fn create(_device: &Device) -> Result<SymbolicLink, NTSTATUS> {
        let link = unicode(&LINK_UNITS);
        let target = unicode(&DEVICE_UNITS);
        // SAFETY: both strings are valid for the call.
        check(unsafe { IoCreateSymbolicLink(&link, &target) })?;
        Ok(SymbolicLink(()))
    }
}

impl Drop for SymbolicLink {
    fn drop(&mut self) {
        let link = unicode(&LINK_UNITS);
        // SAFETY: deletes the link this value created.
        unsafe { IoDeleteSymbolicLink(&link) };
    }
}

/// A process callback: `PCREATE_PROCESS_NOTIFY_ROUTINE_EX` without the `Option`.
pub(crate) type ProcessRoutine = unsafe extern "system" fn(PEPROCESS, HANDLE, *mut PS_CREATE_NOTIFY_INFO);
/// An image callback: `PLOAD_IMAGE_NOTIFY_ROUTINE` without the `Option`.
pub(crate) type ImageRoutine = unsafe extern "system" fn(*const UNICODE_STRING, HANDLE, *const IMAGE_INFO);

/// The process callback's registration; removed when dropped. Removal waits for callbacks
/// already running, so nothing runs the routine after the drop returns.
///
/// Registered with `PsSetCreateProcessNotifyRoutineEx2(PsCreateProcessNotifySubsystems, …)`,
/// so the routine also sees subsystem processes (Pico processes such as WSL 1's), which
/// `PsSetCreateProcessNotifyRoutineEx` never reports. Their `PS_CREATE_NOTIFY_INFO` has
/// `IsSubsystemProcess` set and may carry no image name or command line (see
/// [`super::views::process_start`]).
pub(crate) struct ProcessNotify(ProcessRoutine);

impl ProcessNotify {
    pub(crate) fn register(routine: ProcessRoutine) -> Result<ProcessNotify, NTSTATUS> {
        // SAFETY: `routine` is a static function valid for the driver's lifetime, passed as the
        // PVOID NotifyInformation this notify type takes. Refused with STATUS_ACCESS_DENIED
        // unless the image carries /INTEGRITYCHECK (it does).
        check(unsafe {
            PsSetCreateProcessNotifyRoutineEx2(
                PsCreateProcessNotifySubsystems,
                routine as *const c_void,
                false,
            )
        })?;
        Ok(ProcessNotify(routine))
    }
}

impl Drop for ProcessNotify {
    fn drop(&mut self) {
        // SAFETY: removes the registration made in `register`, with the same type and routine.
        unsafe {
            PsSetCreateProcessNotifyRoutineEx2(PsCreateProcessNotifySubsystems, self.0 as *const c_void, true)
        };
    }
}

/// The image-load callback's registration; removed when dropped.
///
/// Registered with `PsSetLoadImageNotifyRoutineEx(…, PS_IMAGE_NOTIFY_CONFLICTING_ARCHITECTURE)`,
/// so the routine also sees images whose architecture differs from the process's (an x86
/// image mapped into a 64-bit process), which `PsSetLoadImageNotifyRoutine` does not report.
pub(crate) struct ImageNotify(ImageRoutine);

impl ImageNotify {
    pub(crate) fn register(routine: ImageRoutine) -> Result<ImageNotify, NTSTATUS> {
        let flags = PS_IMAGE_NOTIFY_CONFLICTING_ARCHITECTURE as usize;
        // SAFETY: `routine` is a static function valid for the driver's lifetime.
        check(unsafe { PsSetLoadImageNotifyRoutineEx(Some(routine), flags) })?;
        Ok(ImageNotify(routine))
    }
}

impl Drop for ImageNotify {
    fn drop(&mut self) {
        // SAFETY: removes the registration made in `register` (one call removes either kind).
        unsafe { PsRemoveLoadImageNotifyRoutine(Some(self.0)) };
    }
}
