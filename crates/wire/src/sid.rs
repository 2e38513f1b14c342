//! Security identifiers as text: the binary `SID` the kernel hands over
//! (`TokenUser`, `TokenIntegrityLevel`) turned into `S-1-5-21-…` in safe Rust,
//! without allocating, and its last sub-authority (the RID) read.
//!
//! ```text
//! 0  Revision             u8   1
//! 1  SubAuthorityCount    u8   at most 15
//! 2  IdentifierAuthority  [u8; 6], big-endian
//! 8  SubAuthority         SubAuthorityCount × u32, little-endian
//! ```
//!
//! The text form is [MS-DTYP] 2.4.2.1's: `S-1-`, the authority in decimal when
//! it is below 2^32, else `0x` and 12 upper-case hex digits, then `-` and each
//! sub-authority in decimal.

use crate::bytes;
use crate::schema::limits::SID_TEXT_UNITS;

/// Byte offsets of a binary SID.
pub mod layout {
    pub const REVISION: usize = 0;
    pub const SUB_AUTHORITY_COUNT: usize = 1;
    pub const AUTHORITY: usize = 2;
    pub const SUB_AUTHORITIES: usize = 8;
    pub const SUB_AUTHORITY_LEN: usize = 4;
}

/// `SID_REVISION`, the only revision there is.
pub const SID_REVISION: u8 = 1;
/// `SID_MAX_SUB_AUTHORITIES`.
pub const MAX_SUB_AUTHORITIES: u8 = 15;
/// The longest binary SID: 8 + 15 × 4 bytes.
pub const MAX_SID_BYTES: usize = layout::SUB_AUTHORITIES + 15 * layout::SUB_AUTHORITY_LEN;

/// Why bytes are not a SID; `offset` is where, from the SID's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SidError {
    /// Fewer bytes than the header or the declared sub-authorities need.
    Truncated { needed: usize, available: usize },
    /// A revision other than 1.
    Revision { found: u8 },
    /// More than 15 sub-authorities.
    SubAuthorityCount { found: u8 },
}

/// The bytes one SID occupies at the start of `buf`, as its header declares:
/// what a caller holding a pointer to a SID may read. Checks the header only.
#[cfg_attr(feature = "no-panic", no_panic::no_panic)]
pub fn sid_len(header: &[u8]) -> Result<usize, SidError> {
    let available = header.len();
    let truncated = SidError::Truncated { needed: layout::SUB_AUTHORITIES, available };
    let revision = *header.get(layout::REVISION).ok_or(truncated)?;
    if revision != SID_REVISION {
        return Err(SidError::Revision { found: revision });
    }
    let count = *header.get(layout::SUB_AUTHORITY_COUNT).ok_or(truncated)?;
    if count > MAX_SUB_AUTHORITIES {
        return Err(SidError::SubAuthorityCount { found: count });
    }
    Ok(layout::SUB_AUTHORITIES.saturating_add(usize::from(count).saturating_mul(layout::SUB_AUTHORITY_LEN)))
}

/// A SID as text, held inline: at most [`SID_TEXT_UNITS`] UTF-16 units.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SidText {
    units: [u16; SID_TEXT_UNITS as usize],
    len: usize,
}

impl core::fmt::Debug for SidText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SidText(")?;
        // Every unit is ASCII (see `parse`).
        for unit in self.as_units() {
            core::fmt::Write::write_char(f, char::from_u32(u32::from(*unit)).unwrap_or('?'))?;
        }
        f.write_str(")")
    }
}

impl SidText {
    /// Formats the SID at the start of `sid` (bytes after it are not read).
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn parse(sid: &[u8]) -> Result<SidText, SidError> {
        let needed = sid_len(sid)?;
        if sid.len() < needed {
            return Err(SidError::Truncated { needed, available: sid.len() });
        }
        let count = usize::from(sid.get(layout::SUB_AUTHORITY_COUNT).copied().unwrap_or(0));
        let authority = bytes::array::<6>(sid, layout::AUTHORITY).unwrap_or([0; 6]);
        let mut text = SidText { units: [0; SID_TEXT_UNITS as usize], len: 0 };
        text.push_str("S-1-");
        let value = authority.iter().fold(0u64, |v, b| (v << 8) | u64::from(*b));
        if value >> 32 == 0 {
            text.push_decimal(value);
        } else {
            text.push_str("0x");
            for byte in authority {
                text.push_hex_digit(byte >> 4);
                text.push_hex_digit(byte & 0xF);
            }
        }
        for i in 0..count {
            let at = i.saturating_mul(layout::SUB_AUTHORITY_LEN).saturating_add(layout::SUB_AUTHORITIES);
            text.push_str("-");
            text.push_decimal(u64::from(bytes::u32_at(sid, at).unwrap_or(0)));
        }
        Ok(text)
    }

    /// The text's UTF-16 units.
    pub fn as_units(&self) -> &[u16] {
        self.units.get(..self.len).unwrap_or(&[])
    }

    // The pushes below cannot overflow `units`: the longest SID's text is
    // exactly SID_TEXT_UNITS long; were one ever to, it is cut, never a panic.
    fn push(&mut self, unit: u16) {
        if let Some(slot) = self.units.get_mut(self.len) {
            *slot = unit;
            self.len = self.len.saturating_add(1);
        }
    }

    fn push_str(&mut self, ascii: &str) {
        for b in ascii.bytes() {
            self.push(u16::from(b));
        }
    }

    fn push_hex_digit(&mut self, nibble: u8) {
        let digit = if nibble < 10 {
            b'0'.saturating_add(nibble)
        } else {
            b'A'.saturating_add(nibble.saturating_sub(10))
        };
        self.push(u16::from(digit));
    }

    fn push_decimal(&mut self, value: u64) {
        let mut digits = [0u8; 20];
        let mut n = 0usize;
        let mut v = value;
        loop {
            if let Some(d) = digits.get_mut(n) {
                *d = b'0'.saturating_add(u8::try_from(v % 10).unwrap_or(0));
            }
            n = n.saturating_add(1);
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for d in digits.get(..n).unwrap_or(&[]).iter().rev() {
            self.push(u16::from(*d));
        }
    }
}

/// The last sub-authority of the SID at the start of `sid`: for a mandatory
/// label (`S-1-16-…`), the integrity level RID. `None` for a SID without
/// sub-authorities.
#[cfg_attr(feature = "no-panic", no_panic::no_panic)]
pub fn last_sub_authority(sid: &[u8]) -> Result<Option<u32>, SidError> {
    let needed = sid_len(sid)?;
    if sid.len() < needed {
        return Err(SidError::Truncated { needed, available: sid.len() });
    }
    let count = usize::from(sid.get(layout::SUB_AUTHORITY_COUNT).copied().unwrap_or(0));
    let Some(last) = count.checked_sub(1) else { return Ok(None) };
    let at = last.saturating_mul(layout::SUB_AUTHORITY_LEN).saturating_add(layout::SUB_AUTHORITIES);
    Ok(bytes::u32_at(sid, at))
}

#[cfg(test)]
mod tests;
