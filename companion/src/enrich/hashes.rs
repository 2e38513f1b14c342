//! Which hashes to compute, in Sysmon's `HashAlgorithms` syntax, and the
//! `SHA1=…,MD5=…,SHA256=…,IMPHASH=…` form Sysmon writes them in.

use std::fmt;
use std::str::FromStr;

use super::pe::Imphash;

/// The algorithms to compute; SHA256 alone by default.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct HashAlgorithms {
    pub sha1: bool,
    pub md5: bool,
    pub sha256: bool,
    pub imphash: bool,
}

impl Default for HashAlgorithms {
    fn default() -> Self {
        HashAlgorithms { sha1: false, md5: false, sha256: true, imphash: false }
    }
}

impl HashAlgorithms {
    pub const ALL: Self = HashAlgorithms { sha1: true, md5: true, sha256: true, imphash: true };

    /// Whether the file's content is read at all (IMPHASH needs only its import tables).
    pub fn reads_content(self) -> bool {
        self.sha1 || self.md5 || self.sha256
    }
}

/// Why a `HashAlgorithms` value is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HashAlgorithmsError {
    /// No algorithm named.
    Empty,
    /// Item `item` (0-based, comma-separated) names no algorithm Sysmon knows.
    Unknown { item: usize, name: String },
}

impl fmt::Display for HashAlgorithmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashAlgorithmsError::Empty => {
                f.write_str("no hash algorithm named (MD5, SHA1, SHA256, IMPHASH or *)")
            }
            HashAlgorithmsError::Unknown { item, name } => write!(
                f,
                "hash algorithm {item} ({name:?}) is not one of MD5, SHA1, SHA256, IMPHASH, * (all)"
            ),
        }
    }
}

impl std::error::Error for HashAlgorithmsError {}

impl FromStr for HashAlgorithms {
    type Err = HashAlgorithmsError;

    /// `md5,sha256,IMPHASH`, `*` or `all`; names case-insensitive, `sha-1`, `md-5`,
    /// `sha-256` and `imp-hash` accepted as Sysmon accepts them.
    fn from_str(text: &str) -> Result<Self, HashAlgorithmsError> {
        let text = text.trim();
        if text == "*" || text.eq_ignore_ascii_case("all") {
            return Ok(HashAlgorithms::ALL);
        }
        let mut chosen = HashAlgorithms { sha1: false, md5: false, sha256: false, imphash: false };
        for (item, name) in text.split(',').map(str::trim).enumerate() {
            let slot = match name.to_ascii_lowercase().as_str() {
                "sha1" | "sha-1" => &mut chosen.sha1,
                "md5" | "md-5" => &mut chosen.md5,
                "sha256" | "sha-256" => &mut chosen.sha256,
                "imphash" | "imp-hash" => &mut chosen.imphash,
                "" if text.is_empty() => return Err(HashAlgorithmsError::Empty),
                _ => return Err(HashAlgorithmsError::Unknown { item, name: name.to_owned() }),
            };
            *slot = true;
        }
        Ok(chosen)
    }
}

/// The hashes of one file; an algorithm not chosen is `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileHashes {
    pub sha1: Option<[u8; 20]>,
    pub md5: Option<[u8; 16]>,
    pub sha256: Option<[u8; 32]>,
    /// `Some(None)`: chosen, and the file imports nothing or is not a PE image.
    pub imphash: Option<Option<Imphash>>,
}

impl FileHashes {
    /// `SHA1=…,MD5=…,SHA256=…,IMPHASH=…`: Sysmon's order, upper-case hex; an
    /// image without imports has the IMPHASH of 32 zeros Sysmon writes. `None`
    /// when no hash was chosen.
    pub fn sysmon_form(&self) -> Option<String> {
        let mut out = String::new();
        let mut put = |name: &str, bytes: &[u8]| {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(name);
            out.push('=');
            push_hex(&mut out, bytes, UPPER);
        };
        if let Some(h) = &self.sha1 {
            put("SHA1", h);
        }
        if let Some(h) = &self.md5 {
            put("MD5", h);
        }
        if let Some(h) = &self.sha256 {
            put("SHA256", h);
        }
        if let Some(h) = &self.imphash {
            put("IMPHASH", &h.map_or([0; 16], |i| i.0));
        }
        (!out.is_empty()).then_some(out)
    }
}

const LOWER: &[u8; 16] = b"0123456789abcdef";
const UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// `bytes` as hex digits from `digits`, two a byte, appended to `out`: the
/// hot path of rendering hashes (no formatter per byte).
fn push_hex(out: &mut String, bytes: &[u8], digits: &[u8; 16]) {
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(digits[usize::from(b >> 4)]));
        out.push(char::from(digits[usize::from(b & 0x0F)]));
    }
}

/// `bytes` as lower-case hex, ECS's form of a hash.
pub fn lower_hex(bytes: &[u8]) -> String {
    let mut out = String::new();
    push_hex(&mut out, bytes, LOWER);
    out
}
