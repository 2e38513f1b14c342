//! A security descriptor granting SYSTEM and Administrators full access and nobody else
//! anything: what the persisted content's directory and files carry. Built in the caller's
//! stack buffers from ntoskrnl exports (no wdmsec.lib); the ACEs do not inherit.

use super::ffi::{
    RtlAddAccessAllowedAce, RtlCreateAcl, RtlCreateSecurityDescriptor, RtlSetDaclSecurityDescriptor,
};
use core::ffi::c_void;
use windows_sys::Win32::Foundation::NTSTATUS;
use windows_sys::Win32::Security::ACL;

const SECURITY_DESCRIPTOR_REVISION: u32 = 1;
const ACL_REVISION: u32 = 2;
const FILE_ALL_ACCESS: u32 = 0x001F_01FF;
/// S-1-5-18 (LocalSystem) and S-1-5-32-544 (BUILTIN\Administrators), as little-endian words.
const LOCAL_SYSTEM_SID: [u32; 3] = [0x0000_0101, 0x0500_0000, 18];
const BUILTIN_ADMINISTRATORS_SID: [u32; 4] = [0x0000_0201, 0x0500_0000, 32, 544];

fn check(status: NTSTATUS) -> Result<(), NTSTATUS> {
    if status < 0 { Err(status) } else { Ok(()) }
}

/// An absolute security descriptor and its DACL; the descriptor points into `acl`, so the
/// value must not move between [`AdminOnly::build`] and the last use of the pointer.
pub(crate) struct AdminOnly {
    descriptor: [u64; 8],
    acl: [u64; 16],
    system: [u32; 3],
    administrators: [u32; 4],
}

impl AdminOnly {
    pub(crate) const fn new() -> AdminOnly {
        AdminOnly {
            descriptor: [0; 8],
            acl: [0; 16],
            system: LOCAL_SYSTEM_SID,
            administrators: BUILTIN_ADMINISTRATORS_SID,
        }
    }

    /// Fills the descriptor in place and returns it, valid while `self` is neither moved nor dropped.
    pub(crate) fn build(&mut self) -> Result<*mut c_void, NTSTATUS> {
        let descriptor = self.descriptor.as_mut_ptr().cast::<c_void>();
        let acl = self.acl.as_mut_ptr().cast::<ACL>();
        let acl_len = u32::try_from(core::mem::size_of_val(&self.acl)).unwrap_or(0);
        // SAFETY: `descriptor` is 64 writable, 8-aligned bytes: room for an absolute descriptor.
        check(unsafe { RtlCreateSecurityDescriptor(descriptor, SECURITY_DESCRIPTOR_REVISION) })?;
        // SAFETY: `acl` is `acl_len` writable, 8-aligned bytes.
        check(unsafe { RtlCreateAcl(acl, acl_len, ACL_REVISION) })?;
        let system = self.system.as_mut_ptr().cast::<c_void>();
        // SAFETY: a valid ACL and a valid SID, which the call only reads.
        check(unsafe { RtlAddAccessAllowedAce(acl, ACL_REVISION, FILE_ALL_ACCESS, system) })?;
        let administrators = self.administrators.as_mut_ptr().cast::<c_void>();
        // SAFETY: as above.
        check(unsafe { RtlAddAccessAllowedAce(acl, ACL_REVISION, FILE_ALL_ACCESS, administrators) })?;
        // SAFETY: descriptor and ACL are valid and live in `self`, which outlives their use.
        check(unsafe { RtlSetDaclSecurityDescriptor(descriptor, true, acl, false) })?;
        Ok(descriptor)
    }
}
