//! Primary tokens: `PsReferencePrimaryToken` and `SeQueryInformationToken`, which
//! allocates a paged-pool buffer the driver must free with `ExFreePool` (booked as the
//! driver's, so a buffer not freed is a leak).

use windows_sys::Win32::Foundation::{
    STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_INFO_CLASS, STATUS_INVALID_PARAMETER, STATUS_SUCCESS,
};
use windows_sys::Win32::Security::{SID_AND_ATTRIBUTES, TOKEN_STATISTICS};

use super::ps::{Token, allocate_for_driver};
use super::se::sid_bytes;
use super::{APC_LEVEL, Call, PASSIVE_LEVEL, status};
use crate::books::Finding;
use crate::layout::Guest;
use crate::{wr, wr_ptr};

// TOKEN_INFORMATION_CLASS values the model answers.
pub const TOKEN_USER: u32 = 1;
pub const TOKEN_STATISTICS_CLASS: u32 = 10;
pub const TOKEN_ELEVATION_TYPE: u32 = 18;
pub const TOKEN_INTEGRITY_LEVEL: u32 = 25;
/// `SE_GROUP_INTEGRITY | SE_GROUP_INTEGRITY_ENABLED`, as a label's attributes.
const SE_GROUP_INTEGRITY: u32 = 0x60;

/// `PsReferencePrimaryToken(Process) -> PACCESS_TOKEN`: the token, referenced.
pub fn reference_primary_token(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(APC_LEVEL);
    let eprocess = c.arg(0);
    let Some(token) = c.k().ps.processes.get(&eprocess).map(|p| p.token_object) else {
        c.finding(Finding::UnknownObject { api: c.api, address: eprocess });
        return 0;
    };
    if let Some(o) = c.k().ob.objects.get_mut(&token) {
        o.driver_refs += 1;
    }
    token
}

/// A `SID_AND_ATTRIBUTES` followed by its SID, as `TokenUser` and `TokenIntegrityLevel` return.
fn sid_and_attributes(c: &mut Call<'_, '_>, sid: &str, attributes: u32) -> Option<u64> {
    let bytes = sid_bytes(sid);
    let header = core::mem::size_of::<SID_AND_ATTRIBUTES>() as u64;
    let at = allocate_for_driver(c, header + bytes.len() as u64, *b"SeTi")?;
    wr_ptr!(c.uc, at, SID_AND_ATTRIBUTES, Sid = at + header);
    wr!(c.uc, at, SID_AND_ATTRIBUTES, Attributes = attributes);
    c.uc.write_bytes(at + header, &bytes);
    Some(at)
}

/// `SeQueryInformationToken(Token, TokenInformationClass, TokenInformation)`.
pub fn query_information_token(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (token, class, out) = (c.arg(0), c.arg32(1), c.arg(2));
    let Some(Token { user, logon_id, integrity, elevation }) =
        c.k().ps.by_token(token).map(|p| p.token.clone())
    else {
        c.finding(Finding::UnknownObject { api: c.api, address: token });
        return status(STATUS_INVALID_PARAMETER);
    };
    let buffer = match class {
        TOKEN_USER => sid_and_attributes(c, &user, 0),
        TOKEN_INTEGRITY_LEVEL => sid_and_attributes(c, &format!("S-1-16-{integrity}"), SE_GROUP_INTEGRITY),
        TOKEN_STATISTICS_CLASS => {
            let size = core::mem::size_of::<TOKEN_STATISTICS>() as u64;
            allocate_for_driver(c, size, *b"SeTi").inspect(|&at| {
                wr!(c.uc, at, TOKEN_STATISTICS, AuthenticationId.LowPart = (logon_id & 0xFFFF_FFFF) as u32);
                wr!(c.uc, at, TOKEN_STATISTICS, AuthenticationId.HighPart = (logon_id >> 32) as i32);
                wr!(c.uc, at, TOKEN_STATISTICS, TokenType = 1i32);
            })
        }
        TOKEN_ELEVATION_TYPE => allocate_for_driver(c, 4, *b"SeTi").inspect(|&at| {
            c.uc.write_uint(at, u64::from(elevation), 4);
        }),
        _ => return status(STATUS_INVALID_INFO_CLASS),
    };
    let Some(at) = buffer else { return status(STATUS_INSUFFICIENT_RESOURCES) };
    c.uc.write_uint(out, at, 8);
    status(STATUS_SUCCESS)
}
