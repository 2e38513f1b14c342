//! Security: the Rtl routines that build a security descriptor in the driver's
//! memory, the calls that put it on an object, and the access check the I/O
//! manager runs when a client opens the device.

use windows_sys::Wdk::Storage::FileSystem::SE_EXPORTS;
use windows_sys::Win32::Foundation::{
    STATUS_ALLOTTED_SPACE_EXCEEDED, STATUS_BUFFER_TOO_SMALL, STATUS_INVALID_ACL, STATUS_INVALID_HANDLE,
    STATUS_INVALID_PARAMETER, STATUS_INVALID_SECURITY_DESCR, STATUS_INVALID_SID, STATUS_SUCCESS,
    STATUS_UNKNOWN_REVISION,
};
use windows_sys::Win32::Security::{ACCESS_ALLOWED_ACE, ACE_HEADER, ACL, SECURITY_DESCRIPTOR};

use super::ob::ObjectKind;
use super::{Call, PASSIVE_LEVEL, Uc, status};
use crate::books::Finding;
use crate::layout::Guest;
use crate::{rd, rd_ptr, wr, wr_ptr};

pub const SE_OWNER_DEFAULTED: u16 = 0x1;
pub const SE_GROUP_DEFAULTED: u16 = 0x2;
pub const SE_DACL_PRESENT: u16 = 0x4;
pub const SE_DACL_DEFAULTED: u16 = 0x8;
pub const SE_SELF_RELATIVE: u16 = 0x8000;
pub const DACL_SECURITY_INFORMATION: u32 = 0x4;

pub const SID_LOCAL_SYSTEM: &str = "S-1-5-18";
pub const SID_ADMINISTRATORS: &str = "S-1-5-32-544";
pub const SID_USERS: &str = "S-1-5-32-545";
pub const SID_EVERYONE: &str = "S-1-1-0";
pub const SID_AUTHENTICATED_USERS: &str = "S-1-5-11";

/// One ACE of a DACL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ace {
    /// ACCESS_ALLOWED_ACE_TYPE (0) or ACCESS_DENIED_ACE_TYPE (1).
    pub ace_type: u8,
    pub flags: u8,
    pub mask: u32,
    pub sid: String,
}

/// A security descriptor as the object manager stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityDescriptor {
    pub information: u32,
    pub owner: Option<String>,
    pub group: Option<String>,
    /// `None`: no DACL, which grants everyone everything.
    pub dacl: Option<Vec<Ace>>,
}

/// A SID's text form and its length in bytes.
pub fn read_sid(uc: &impl Guest, at: u64) -> Option<(String, u64)> {
    let head = uc.read_bytes(at, 8)?;
    let count = u64::from(head[1]);
    if head[0] != 1 || count > 15 {
        return None;
    }
    let authority = head[2..8].iter().fold(0u64, |a, &b| (a << 8) | u64::from(b));
    let mut text = format!("S-1-{authority}");
    for i in 0..count {
        text.push_str(&format!(
            "-{}",
            uc.read_bytes(at + 8 + 4 * i, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))?
        ));
    }
    Some((text, 8 + 4 * count))
}

/// The bytes of a SID given as text ("S-1-5-32-544").
pub fn sid_bytes(text: &str) -> Vec<u8> {
    let parts: Vec<u64> = text.split('-').skip(2).filter_map(|p| p.parse().ok()).collect();
    let (authority, subs) = parts.split_first().unwrap_or((&0, &[]));
    let mut out = vec![1, u8::try_from(subs.len()).unwrap_or(0)];
    out.extend_from_slice(&authority.to_be_bytes()[2..]);
    for s in subs {
        out.extend_from_slice(&u32::try_from(*s).unwrap_or(0).to_le_bytes());
    }
    out
}

fn read_acl(uc: &impl Guest, at: u64) -> Result<Vec<Ace>, i32> {
    let revision: u8 = rd!(uc, at, ACL, AclRevision);
    let size = u64::from(rd!(uc, at, ACL, AclSize));
    let count: u16 = rd!(uc, at, ACL, AceCount);
    if !(2..=4).contains(&revision) || size < 8 || !uc.readable(at, usize::try_from(size).unwrap_or(0)) {
        return Err(STATUS_INVALID_ACL);
    }
    let mut aces = Vec::new();
    let mut offset = 8u64;
    for _ in 0..count {
        let ace = at + offset;
        let ace_size = u64::from(rd!(uc, ace, ACE_HEADER, AceSize));
        if ace_size < 8 || offset + ace_size > size {
            return Err(STATUS_INVALID_ACL);
        }
        let sid_at = ace + core::mem::offset_of!(ACCESS_ALLOWED_ACE, SidStart) as u64;
        let (sid, _) = read_sid(uc, sid_at).ok_or(STATUS_INVALID_ACL)?;
        aces.push(Ace {
            ace_type: rd!(uc, ace, ACE_HEADER, AceType),
            flags: rd!(uc, ace, ACE_HEADER, AceFlags),
            mask: rd!(uc, ace, ACCESS_ALLOWED_ACE, Mask),
            sid,
        });
        offset += ace_size;
    }
    Ok(aces)
}

/// Reads an absolute or self-relative security descriptor.
pub fn read_security_descriptor(
    uc: &impl Guest,
    at: u64,
    information: u32,
) -> Result<SecurityDescriptor, i32> {
    let revision: u8 = rd!(uc, at, SECURITY_DESCRIPTOR, Revision);
    let control: u16 = rd!(uc, at, SECURITY_DESCRIPTOR, Control);
    if revision != 1 {
        return Err(STATUS_INVALID_SECURITY_DESCR);
    }
    let (owner, group, dacl) = if control & SE_SELF_RELATIVE != 0 {
        let rel = |o: u64| {
            let off = u64::from(uc.read_u32(at + o));
            if off == 0 { 0 } else { at + off }
        };
        (rel(4), rel(8), rel(16))
    } else {
        (
            rd_ptr!(uc, at, SECURITY_DESCRIPTOR, Owner),
            rd_ptr!(uc, at, SECURITY_DESCRIPTOR, Group),
            rd_ptr!(uc, at, SECURITY_DESCRIPTOR, Dacl),
        )
    };
    let sid = |p: u64| if p == 0 { None } else { read_sid(uc, p).map(|s| s.0) };
    let dacl = if control & SE_DACL_PRESENT != 0 && dacl != 0 { Some(read_acl(uc, dacl)?) } else { None };
    Ok(SecurityDescriptor { information, owner: sid(owner), group: sid(group), dacl })
}

/// Maps generic rights to the file object's specific rights.
fn map_generic(mask: u32) -> u32 {
    let mut m = mask & 0x0FFF_FFFF;
    for (generic, specific) in [
        (0x8000_0000, 0x12_0089),
        (0x4000_0000, 0x12_0116),
        (0x2000_0000, 0x12_00A0),
        (0x1000_0000, 0x1F_01FF),
    ] {
        if mask & generic != 0 {
            m |= specific;
        }
    }
    m
}

/// The access check: whether a token with `sids` gets `desired` (generic rights allowed).
pub fn access_granted(sd: Option<&SecurityDescriptor>, sids: &[&str], desired: u32) -> bool {
    let Some(aces) = sd.and_then(|s| s.dacl.as_ref()) else { return true };
    let desired = map_generic(desired);
    let mut granted = 0u32;
    for ace in aces.iter().filter(|a| a.flags & 0x8 == 0 && sids.contains(&a.sid.as_str())) {
        let mask = map_generic(ace.mask);
        match ace.ace_type {
            0 => granted |= mask,
            1 if mask & desired & !granted != 0 => return false,
            _ => {}
        }
    }
    desired & !granted == 0
}

/// Fills the kernel's SE_EXPORTS with the well-known SIDs placed at `sids_at`.
pub fn install_se_exports(uc: &mut Uc<'_>, exports_at: u64, sids_at: u64) {
    let mut next = sids_at;
    let mut place = |uc: &mut Uc<'_>, text: &str| {
        let bytes = sid_bytes(text);
        uc.write_bytes(next, &bytes);
        let at = next;
        next += 0x20;
        at
    };
    let system = place(uc, SID_LOCAL_SYSTEM);
    let admins = place(uc, SID_ADMINISTRATORS);
    let users = place(uc, SID_USERS);
    let world = place(uc, SID_EVERYONE);
    let authenticated = place(uc, SID_AUTHENTICATED_USERS);
    wr_ptr!(uc, exports_at, SE_EXPORTS, SeLocalSystemSid = system);
    wr_ptr!(uc, exports_at, SE_EXPORTS, SeAliasAdminsSid = admins);
    wr_ptr!(uc, exports_at, SE_EXPORTS, SeAliasUsersSid = users);
    wr_ptr!(uc, exports_at, SE_EXPORTS, SeWorldSid = world);
    wr_ptr!(uc, exports_at, SE_EXPORTS, SeAuthenticatedUsersSid = authenticated);
}

/// `RtlCreateSecurityDescriptor(SecurityDescriptor, Revision)`.
pub fn create_security_descriptor(c: &mut Call<'_, '_>) -> u64 {
    let (sd, revision) = (c.arg(0), c.arg32(1));
    if revision != 1 {
        return status(STATUS_UNKNOWN_REVISION);
    }
    let zero = vec![0u8; core::mem::size_of::<SECURITY_DESCRIPTOR>()];
    if !c.uc.write_bytes(sd, &zero) {
        c.finding(Finding::BadArgument { api: c.api, what: "unwritable SecurityDescriptor" });
        return status(STATUS_INVALID_PARAMETER);
    }
    wr!(c.uc, sd, SECURITY_DESCRIPTOR, Revision = 1u8);
    status(STATUS_SUCCESS)
}

/// `RtlCreateAcl(Acl, AclLength, AclRevision)`.
pub fn create_acl(c: &mut Call<'_, '_>) -> u64 {
    let (acl, length, revision) = (c.arg(0), c.arg32(1), c.arg32(2));
    if length < 8 {
        return status(STATUS_BUFFER_TOO_SMALL);
    }
    if !(2..=4).contains(&revision) || length > 0xFFFF || !c.uc.readable(acl, length as usize) {
        return status(STATUS_INVALID_PARAMETER);
    }
    wr!(c.uc, acl, ACL, AclRevision = revision as u8);
    wr!(c.uc, acl, ACL, Sbz1 = 0u8);
    wr!(c.uc, acl, ACL, AclSize = (length & !3) as u16);
    wr!(c.uc, acl, ACL, AceCount = 0u16);
    wr!(c.uc, acl, ACL, Sbz2 = 0u16);
    status(STATUS_SUCCESS)
}

/// `RtlAddAccessAllowedAce(Acl, AceRevision, AccessMask, Sid)`.
pub fn add_access_allowed_ace(c: &mut Call<'_, '_>) -> u64 {
    let (acl, mask, sid) = (c.arg(0), c.arg32(2), c.arg(3));
    let Some((_, sid_len)) = read_sid(c.uc, sid) else { return status(STATUS_INVALID_SID) };
    let Ok(aces) = read_acl(c.uc, acl) else { return status(STATUS_INVALID_ACL) };
    let size = u64::from(rd!(c.uc, acl, ACL, AclSize));
    let mut end = 8u64;
    for _ in &aces {
        end += u64::from(rd!(c.uc, acl + end, ACE_HEADER, AceSize));
    }
    let ace_size = core::mem::offset_of!(ACCESS_ALLOWED_ACE, SidStart) as u64 + sid_len;
    if end + ace_size > size {
        return status(STATUS_ALLOTTED_SPACE_EXCEEDED);
    }
    let ace = acl + end;
    wr!(c.uc, ace, ACE_HEADER, AceType = 0u8);
    wr!(c.uc, ace, ACE_HEADER, AceFlags = 0u8);
    wr!(c.uc, ace, ACE_HEADER, AceSize = ace_size as u16);
    wr!(c.uc, ace, ACCESS_ALLOWED_ACE, Mask = mask);
    let sid_bytes = c.uc.read_bytes(sid, sid_len as usize).unwrap_or_default();
    c.uc.write_bytes(ace + core::mem::offset_of!(ACCESS_ALLOWED_ACE, SidStart) as u64, &sid_bytes);
    wr!(c.uc, acl, ACL, AceCount = aces.len() as u16 + 1);
    status(STATUS_SUCCESS)
}

fn set_sd_field(c: &mut Call<'_, '_>, set: u16, clear: u16) -> Option<u64> {
    let sd = c.arg(0);
    let revision: u8 = rd!(c.uc, sd, SECURITY_DESCRIPTOR, Revision);
    if revision != 1 {
        return None;
    }
    let control: u16 = rd!(c.uc, sd, SECURITY_DESCRIPTOR, Control);
    wr!(c.uc, sd, SECURITY_DESCRIPTOR, Control = (control & !clear) | set);
    Some(sd)
}

/// `RtlSetDaclSecurityDescriptor(SecurityDescriptor, DaclPresent, Dacl, DaclDefaulted)`.
pub fn set_dacl_security_descriptor(c: &mut Call<'_, '_>) -> u64 {
    let (present, dacl, defaulted) = (c.arg(1) & 0xFF != 0, c.arg(2), c.arg(3) & 0xFF != 0);
    let set = if present { SE_DACL_PRESENT } else { 0 } | if defaulted { SE_DACL_DEFAULTED } else { 0 };
    let Some(sd) = set_sd_field(c, set, SE_DACL_PRESENT | SE_DACL_DEFAULTED) else {
        return status(STATUS_UNKNOWN_REVISION);
    };
    wr_ptr!(c.uc, sd, SECURITY_DESCRIPTOR, Dacl = if present { dacl } else { 0 });
    status(STATUS_SUCCESS)
}

/// `RtlSetOwnerSecurityDescriptor(SecurityDescriptor, Owner, OwnerDefaulted)`.
pub fn set_owner_security_descriptor(c: &mut Call<'_, '_>) -> u64 {
    let (owner, defaulted) = (c.arg(1), c.arg(2) & 0xFF != 0);
    let Some(sd) = set_sd_field(c, if defaulted { SE_OWNER_DEFAULTED } else { 0 }, SE_OWNER_DEFAULTED) else {
        return status(STATUS_UNKNOWN_REVISION);
    };
    wr_ptr!(c.uc, sd, SECURITY_DESCRIPTOR, Owner = owner);
    status(STATUS_SUCCESS)
}

/// `RtlSetGroupSecurityDescriptor(SecurityDescriptor, Group, GroupDefaulted)`.
pub fn set_group_security_descriptor(c: &mut Call<'_, '_>) -> u64 {
    let (group, defaulted) = (c.arg(1), c.arg(2) & 0xFF != 0);
    let Some(sd) = set_sd_field(c, if defaulted { SE_GROUP_DEFAULTED } else { 0 }, SE_GROUP_DEFAULTED) else {
        return status(STATUS_UNKNOWN_REVISION);
    };
    wr_ptr!(c.uc, sd, SECURITY_DESCRIPTOR, Group = group);
    status(STATUS_SUCCESS)
}

/// `RtlLengthSid(Sid) -> ULONG`.
pub fn length_sid(c: &mut Call<'_, '_>) -> u64 {
    let sid = c.arg(0);
    match read_sid(c.uc, sid) {
        Some((_, len)) => len,
        None => {
            c.finding(Finding::BadArgument { api: c.api, what: "invalid SID" });
            0
        }
    }
}

/// `RtlValidSid(Sid) -> BOOLEAN`.
pub fn valid_sid(c: &mut Call<'_, '_>) -> u64 {
    u64::from(read_sid(c.uc, c.arg(0)).is_some())
}

fn apply(c: &mut Call<'_, '_>, object: u64, information: u32, sd: u64) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let kind = c.k().ob.objects.get(&object).map(|o| o.kind.clone());
    if kind == Some(ObjectKind::File) {
        return match read_security_descriptor(c.uc, sd, information) {
            Ok(parsed) => {
                let set = super::fs::set_security(c.uc, object, parsed);
                status(if set { STATUS_SUCCESS } else { STATUS_INVALID_HANDLE })
            }
            Err(s) => status(s),
        };
    }
    let is_device = kind == Some(ObjectKind::Device);
    if !is_device {
        c.finding(Finding::UnknownObject { api: c.api, address: object });
        return status(STATUS_INVALID_PARAMETER);
    }
    match read_security_descriptor(c.uc, sd, information) {
        Ok(parsed) => {
            if let Some(device) = c.k().io.devices.get_mut(&object) {
                device.security = Some(parsed);
            }
            status(STATUS_SUCCESS)
        }
        Err(s) => status(s),
    }
}

/// `ObSetSecurityObjectByPointer(Object, SecurityInformation, SecurityDescriptor)`.
pub fn set_security_object_by_pointer(c: &mut Call<'_, '_>) -> u64 {
    let (object, information, sd) = (c.arg(0), c.arg32(1), c.arg(2));
    apply(c, object, information, sd)
}

/// `ZwSetSecurityObject(Handle, SecurityInformation, SecurityDescriptor)`.
pub fn zw_set_security_object(c: &mut Call<'_, '_>) -> u64 {
    let (handle, information, sd) = (c.arg(0), c.arg32(1), c.arg(2));
    let Some(object) = c.k().ob.handles.get(&handle).map(|h| h.object) else {
        c.finding(Finding::BadHandle { api: c.api, handle });
        return status(STATUS_INVALID_HANDLE);
    };
    apply(c, object, information, sd)
}
