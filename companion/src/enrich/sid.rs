//! Security identifiers: the binary form the kernel copies out of a token and
//! the `S-1-5-18` string form, each parsed strictly.

use std::fmt;
use std::str::FromStr;

/// The most sub-authorities a SID has (`SID_MAX_SUB_AUTHORITIES`).
pub const MAX_SUB_AUTHORITIES: usize = 15;
/// The largest identifier authority: 48 bits.
const MAX_AUTHORITY: u64 = (1 << 48) - 1;
/// Revision, sub-authority count, 6-byte authority.
const BINARY_HEADER_BYTES: usize = 8;

/// A SID: revision 1, a 48-bit identifier authority, up to 15 sub-authorities.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    authority: u64,
    sub_authorities: Vec<u32>,
}

/// Why bytes or text are not a SID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SidError {
    /// The binary form is `len` bytes; its header and sub-authority count need `needed`.
    Truncated {
        len: usize,
        needed: usize,
    },
    /// The binary form is longer than its sub-authority count says.
    TrailingBytes {
        len: usize,
        expected: usize,
    },
    UnknownRevision {
        revision: u8,
    },
    TooManySubAuthorities {
        count: usize,
    },
    /// The text does not start with `S-1-`.
    NotSidText,
    /// The text's component `index` (0 = the authority) is not a number in range.
    BadComponent {
        index: usize,
    },
}

impl fmt::Display for SidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SidError::Truncated { len, needed } => write!(f, "SID of {len} bytes; its header needs {needed}"),
            SidError::TrailingBytes { len, expected } => {
                write!(f, "SID of {len} bytes; its sub-authority count makes it {expected}")
            }
            SidError::UnknownRevision { revision } => write!(f, "SID revision {revision}; only 1 exists"),
            SidError::TooManySubAuthorities { count } => {
                write!(f, "{count} sub-authorities; a SID has at most {MAX_SUB_AUTHORITIES}")
            }
            SidError::NotSidText => f.write_str("a SID string starts with S-1-"),
            SidError::BadComponent { index } => write!(f, "SID component {index} is not a number in range"),
        }
    }
}

impl std::error::Error for SidError {}

impl Sid {
    /// A SID from its parts; `None` past 48 bits of authority or 15 sub-authorities.
    pub fn new(authority: u64, sub_authorities: &[u32]) -> Option<Self> {
        (authority <= MAX_AUTHORITY && sub_authorities.len() <= MAX_SUB_AUTHORITIES)
            .then(|| Sid { authority, sub_authorities: sub_authorities.to_vec() })
    }

    /// The binary form (`SID` structure): exactly `8 + 4 × count` bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SidError> {
        let len = bytes.len();
        let (header, rest) = bytes
            .split_first_chunk::<BINARY_HEADER_BYTES>()
            .ok_or(SidError::Truncated { len, needed: BINARY_HEADER_BYTES })?;
        let [revision, count, authority @ ..] = *header;
        if revision != 1 {
            return Err(SidError::UnknownRevision { revision });
        }
        let count = usize::from(count);
        if count > MAX_SUB_AUTHORITIES {
            return Err(SidError::TooManySubAuthorities { count });
        }
        let expected = BINARY_HEADER_BYTES + 4 * count;
        if len < expected {
            return Err(SidError::Truncated { len, needed: expected });
        }
        if len > expected {
            return Err(SidError::TrailingBytes { len, expected });
        }
        let authority = authority.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let sub_authorities =
            rest.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Ok(Sid { authority, sub_authorities })
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![1, u8::try_from(self.sub_authorities.len()).unwrap_or(0)];
        out.extend_from_slice(&self.authority.to_be_bytes()[2..]);
        for sub in &self.sub_authorities {
            out.extend_from_slice(&sub.to_le_bytes());
        }
        out
    }

    pub fn authority(&self) -> u64 {
        self.authority
    }

    pub fn sub_authorities(&self) -> &[u32] {
        &self.sub_authorities
    }

    /// The last sub-authority: the RID of an account, the level of a mandatory label.
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities.last().copied()
    }
}

impl fmt::Display for Sid {
    /// `S-1-5-18`; an authority of 2³² or more in hex, as `ConvertSidToStringSid` writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.authority >= 1 << 32 {
            write!(f, "S-1-0x{:012X}", self.authority)?;
        } else {
            write!(f, "S-1-{}", self.authority)?;
        }
        for sub in &self.sub_authorities {
            write!(f, "-{sub}")?;
        }
        Ok(())
    }
}

impl FromStr for Sid {
    type Err = SidError;

    fn from_str(text: &str) -> Result<Self, SidError> {
        let rest =
            text.strip_prefix("S-1-").or_else(|| text.strip_prefix("s-1-")).ok_or(SidError::NotSidText)?;
        let mut parts = rest.split('-');
        let authority = parts.next().unwrap_or_default();
        let authority = match authority.strip_prefix("0x").or_else(|| authority.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(hex, 16).ok(),
            None => decimal(authority).map(u64::from),
        }
        .filter(|a| *a <= MAX_AUTHORITY)
        .ok_or(SidError::BadComponent { index: 0 })?;
        let mut sub_authorities = Vec::new();
        for (index, part) in parts.enumerate() {
            let value = decimal(part).ok_or(SidError::BadComponent { index: index + 1 })?;
            if sub_authorities.len() == MAX_SUB_AUTHORITIES {
                return Err(SidError::TooManySubAuthorities { count: MAX_SUB_AUTHORITIES + 1 });
            }
            sub_authorities.push(value);
        }
        Ok(Sid { authority, sub_authorities })
    }
}

/// Digits only (no sign, no spaces), fitting 32 bits.
fn decimal(text: &str) -> Option<u32> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())).then(|| text.parse().ok()).flatten()
}
