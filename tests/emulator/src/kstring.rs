//! `UNICODE_STRING`s as the kernel hands them to callbacks, including the
//! shapes a careless driver trips over.

use windows_sys::Win32::Foundation::UNICODE_STRING;

use crate::layout::{wide, wide_bytes};
use crate::model::Uc;
use crate::model::pool::{Owner, POOL_FLAG_NON_PAGED, Pool};
use crate::{wr, wr_ptr};

/// A string argument of a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KString {
    /// A NULL `PUNICODE_STRING`.
    Null,
    /// A well-formed string: `Length` = its bytes, `MaximumLength` = `Length` + 2 (a NUL follows).
    Text(String),
    /// Raw units and header fields as given: odd `Length`, `Length > MaximumLength`, ...
    /// The buffer holds `max(units, MaximumLength)` bytes and ends right before a guard page.
    Raw { units: Vec<u16>, length: u16, maximum_length: u16 },
}

impl KString {
    pub fn text(s: &str) -> KString {
        KString::Text(s.to_owned())
    }

    /// The units a correct driver reports: `Length / 2` units, clamped to what
    /// `MaximumLength` says the buffer holds; nothing for NULL.
    pub fn expected_units(&self) -> Vec<u16> {
        match self {
            KString::Null => Vec::new(),
            KString::Text(s) => wide(s),
            KString::Raw { units, length, maximum_length } => {
                let n = usize::from((*length).min(*maximum_length) / 2);
                units.iter().copied().take(n).collect()
            }
        }
    }

    /// What a correct driver reports as a field value: `None` (absent) when the
    /// kernel hands over no usable string (a NULL `PUNICODE_STRING` or a NULL
    /// `Buffer`), else [`KString::expected_units`].
    pub fn expected_text(&self) -> Option<Vec<u16>> {
        match self {
            KString::Null => None,
            KString::Raw { units, maximum_length: 0, .. } if units.is_empty() => None,
            _ => Some(self.expected_units()),
        }
    }

    /// The bytes `Length` claims (0 for NULL): differs from the expected units
    /// exactly for the malformed shapes.
    pub fn place_len(&self) -> usize {
        match self {
            KString::Null => 0,
            KString::Text(s) => s.encode_utf16().count() * 2,
            KString::Raw { length, .. } => usize::from(*length),
        }
    }

    /// Places the string in kernel pool; returns the `UNICODE_STRING`'s address (0 for NULL).
    pub fn place(&self, uc: &mut Uc<'_>) -> u64 {
        let (bytes, length, maximum) = match self {
            KString::Null => return 0,
            KString::Text(s) => {
                let mut b = wide_bytes(&wide(s));
                let len = u16::try_from(b.len()).unwrap_or(u16::MAX);
                b.extend_from_slice(&[0, 0]);
                (b, len, len.saturating_add(2))
            }
            KString::Raw { units, length, maximum_length } => {
                let mut b = wide_bytes(units);
                b.resize(b.len().max(usize::from(*maximum_length)), 0);
                (b, *length, *maximum_length)
            }
        };
        let buffer = if bytes.is_empty() { 0 } else { Pool::place_exact(uc, &bytes).unwrap_or(0) };
        let header = core::mem::size_of::<UNICODE_STRING>() as u64;
        let at = Pool::allocate(uc, header, *b"Kuni", POOL_FLAG_NON_PAGED, Owner::Kernel, 16).unwrap_or(0);
        wr!(uc, at, UNICODE_STRING, Length = length);
        wr!(uc, at, UNICODE_STRING, MaximumLength = maximum);
        wr_ptr!(uc, at, UNICODE_STRING, Buffer = buffer);
        at
    }

    /// Frees what [`KString::place`] allocated.
    pub fn release(uc: &mut Uc<'_>, at: u64) {
        if at == 0 {
            return;
        }
        let buffer = crate::rd_ptr!(uc, at, UNICODE_STRING, Buffer);
        if buffer != 0 {
            Pool::release(uc, buffer);
        }
        Pool::release(uc, at);
    }
}
