//! IMPHASH: the MD5 of an image's imports, as pefile's `get_imphash` defines it.
//!
//! For each import descriptor, in order, each imported symbol becomes
//! `library.function`, lower-cased, where `library` is the DLL name without a
//! `.dll`, `.ocx` or `.sys` extension and a symbol imported by ordinal is named
//! from pefile's tables for oleaut32, ws2_32 and wsock32 or else `ord<N>`; the
//! strings are joined with commas and hashed with MD5.
//!
//! Which descriptors and symbols count follows pefile's walk, so that the hash
//! is the one every tool and threat feed computes: a DLL name with a
//! character outside pefile's file-name set counts as `*invalid*`; a function
//! name outside `[A-Za-z0-9._?@$()<>]` is skipped, as are empty names and
//! ordinal 0; a descriptor with an unreadable name or an empty or damaged
//! thunk table is skipped, and the walk stops after six such; a thunk table
//! whose entries repeat (15 times), spread over more than 128 MiB, or hold an
//! ordinal above 65535 counts as empty; at most 8,193 thunks are read in all.

use md5::{Digest, Md5};

use super::Image;
use super::ordinals::{OLEAUT32, WS2_32, WSOCK32};

/// An import hash (MD5, 16 bytes); `{:x}` writes pefile's form, `{:X}` Sysmon's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Imphash(pub [u8; 16]);

impl std::fmt::LowerHex for Imphash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl std::fmt::UpperHex for Imphash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02X}"))
    }
}

const IMPORT_DIRECTORY: usize = 1;
const DESCRIPTOR_BYTES: u32 = 20;
const MAX_DLL_NAME: usize = 0x200;
const MAX_FUNCTION_NAME: usize = 0x200;
const MAX_THUNKS: u32 = 0x2000;
const MAX_REPEATED_ADDRESSES: u32 = 15;
const MAX_ADDRESS_SPREAD: u64 = 128 << 20;
const MAX_DESCRIPTOR_ERRORS: u32 = 5;
const MAX_LEADING_INVALID_NAMES: usize = 1000;
const INVALID: &[u8] = b"*invalid*";

/// One imported symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Symbol {
    Ordinal(u16),
    Name(Vec<u8>),
}

pub(super) fn imphash<'data, R: object::ReadRef<'data>>(image: &Image<'data, R>) -> Option<Imphash> {
    let (mut rva, _) = image.directory(IMPORT_DIRECTORY)?;
    let mut walk = Walk { image, thunks_read: 0 };
    let mut libraries: Vec<(Vec<u8>, Vec<Symbol>)> = Vec::new();
    let mut errors = 0u32;
    while let Some(descriptor) = image.bytes(rva, DESCRIPTOR_BYTES as usize) {
        if descriptor.iter().all(|b| *b == 0) {
            break;
        }
        let field =
            |at: usize| descriptor.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes);
        let (lookup, name, address) = (field(0).unwrap_or(0), field(12).unwrap_or(0), field(16).unwrap_or(0));
        let Some(next) = rva.checked_add(DESCRIPTOR_BYTES) else { break };
        let descriptor_offset = image.file_offset(rva);
        rva = next;
        // pefile bounds a thunk table that starts before the descriptor by the distance to it.
        let max_len = if i64::from(rva) > i64::from(lookup) || i64::from(rva) > i64::from(address) {
            (i64::from(rva) - i64::from(lookup)).max(i64::from(rva) - i64::from(address))
        } else {
            image.data.len().ok().and_then(|len| i64::try_from(len).ok()).unwrap_or(0) - descriptor_offset
        };
        let symbols = walk.symbols(lookup, address, max_len).unwrap_or_default();
        if errors > MAX_DESCRIPTOR_ERRORS {
            break;
        }
        if symbols.is_empty() {
            errors += 1;
            continue;
        }
        let dll = c_string(image, name, MAX_DLL_NAME);
        let dll = if dll.iter().all(|c| is_file_name_char(*c)) { dll.to_vec() } else { INVALID.to_vec() };
        if !dll.is_empty() {
            libraries.push((dll, symbols));
        }
    }
    if libraries.is_empty() {
        return None;
    }
    Some(imphash_of_imports(libraries.iter().map(|(dll, symbols)| {
        (
            dll.as_slice(),
            symbols.iter().map(|s| match s {
                Symbol::Ordinal(n) => Err(*n),
                Symbol::Name(name) => Ok(name.as_slice()),
            }),
        )
    })))
}

/// The IMPHASH of imports given as (DLL name, symbols), each symbol a name or
/// an ordinal: the string building and hashing part of the definition.
pub fn imphash_of_imports<'a, L, S>(libraries: L) -> Imphash
where
    L: IntoIterator<Item = (&'a [u8], S)>,
    S: IntoIterator<Item = Result<&'a [u8], u16>>,
{
    let mut md5 = Md5::new();
    let mut first = true;
    for (dll, symbols) in libraries {
        let lower = dll.to_ascii_lowercase();
        let library = match lower.iter().rposition(|c| *c == b'.') {
            Some(dot) if matches!(lower.get(dot + 1..), Some(b"ocx" | b"sys" | b"dll")) => lower.get(..dot),
            _ => None,
        }
        .unwrap_or(&lower);
        for symbol in symbols {
            if !first {
                md5.update(b",");
            }
            first = false;
            md5.update(library);
            md5.update(b".");
            match symbol {
                Ok(name) => md5.update(name.to_ascii_lowercase()),
                Err(ordinal) => match ordinal_name(&lower, ordinal) {
                    Some(name) => md5.update(name.to_ascii_lowercase()),
                    None => md5.update(format!("ord{ordinal}")),
                },
            }
        }
    }
    Imphash(md5.finalize().into())
}

/// pefile's ordinal tables, by the lower-cased DLL file name they apply to.
pub fn known_ordinal_names() -> [(&'static str, &'static [(u16, &'static str)]); 3] {
    [("oleaut32.dll", OLEAUT32), ("ws2_32.dll", WS2_32), ("wsock32.dll", WSOCK32)]
}

fn ordinal_name(dll_lower: &[u8], ordinal: u16) -> Option<&'static str> {
    let (_, table) = known_ordinal_names().into_iter().find(|(name, _)| name.as_bytes() == dll_lower)?;
    table.binary_search_by_key(&ordinal, |(n, _)| *n).ok().and_then(|i| table.get(i)).map(|(_, name)| *name)
}

struct Walk<'i, 'data, R: object::ReadRef<'data>> {
    image: &'i Image<'data, R>,
    thunks_read: u32,
}

impl<'data, R: object::ReadRef<'data>> Walk<'_, 'data, R> {
    /// The symbols of one descriptor: from its lookup table, or its address
    /// table when the lookup table is absent or empty. `None`: the descriptor
    /// is damaged and counts for nothing.
    fn symbols(&mut self, lookup: u32, address: u32, max_len: i64) -> Option<Vec<Symbol>> {
        let ilt = self.thunks(lookup, max_len);
        let iat = self.thunks(address, max_len);
        let table = match (ilt, iat) {
            (Some(ilt), _) if !ilt.is_empty() => ilt,
            (_, Some(iat)) if !iat.is_empty() => iat,
            _ => return Some(Vec::new()),
        };
        let (ordinal_flag, rva_mask) =
            if self.image.is_64 { (1u64 << 63, (1u64 << 63) - 1) } else { (1 << 31, (1 << 31) - 1) };
        let mut symbols = Vec::new();
        let mut invalid = 0usize;
        for (index, entry) in table.into_iter().enumerate() {
            if entry & ordinal_flag != 0 {
                // Ordinal 0 is not an import.
                let ordinal = (entry & 0xFFFF) as u16;
                if ordinal != 0 {
                    symbols.push(Symbol::Ordinal(ordinal));
                }
                continue;
            }
            // The hint must be readable, or the whole descriptor is damaged.
            let hint_rva = u32::try_from(entry & rva_mask).ok()?;
            self.image.bytes(hint_rva, 2)?;
            let name = match entry.checked_add(2).and_then(|rva| u32::try_from(rva).ok()) {
                Some(rva) => c_string(self.image, rva, MAX_FUNCTION_NAME),
                None => &[],
            };
            if !name.iter().all(|c| is_function_name_char(*c)) {
                // A table that opens with more than 1,000 invalid names is damaged.
                if invalid > MAX_LEADING_INVALID_NAMES && invalid == index {
                    return None;
                }
                invalid += 1;
            } else if !name.is_empty() {
                symbols.push(Symbol::Name(name.to_vec()));
            }
        }
        Some(symbols)
    }

    /// The thunks of the table at `rva`, up to the zero entry. `None`: a thunk
    /// could not be read; empty: no table, or one pefile judges bogus.
    fn thunks(&mut self, start: u32, max_len: i64) -> Option<Vec<u64>> {
        let (size, ordinal_flag) = if self.image.is_64 { (8u32, 1u64 << 63) } else { (4, 1 << 31) };
        let mut table = Vec::new();
        let mut rva = start;
        let mut repeated = 0u32;
        let mut seen: std::collections::HashSet<u64> = std::collections::HashSet::new();
        let mut spread: [Option<(u64, u64)>; 2] = [None, None];
        while rva != 0 {
            if i64::from(rva) >= i64::from(start) + max_len || self.thunks_read > MAX_THUNKS {
                break;
            }
            self.thunks_read += 1;
            if repeated >= MAX_REPEATED_ADDRESSES
                || spread.iter().flatten().any(|(lo, hi)| hi - lo > MAX_ADDRESS_SPREAD)
            {
                return Some(Vec::new());
            }
            let entry =
                if self.image.is_64 { self.image.u64_at(rva)? } else { u64::from(self.image.u32_at(rva)?) };
            if entry >= u64::from(start) && entry <= u64::from(rva) {
                break;
            }
            if entry != 0 {
                if entry & ordinal_flag != 0 {
                    if entry & 0x7FFF_FFFF > 0xFFFF {
                        return Some(Vec::new());
                    }
                } else {
                    let range = &mut spread[usize::from(entry >= 1 << 32)];
                    if !seen.insert(entry) {
                        repeated += 1;
                    }
                    *range = Some(range.map_or((entry, entry), |(lo, hi)| (lo.min(entry), hi.max(entry))));
                }
            }
            if entry == 0 {
                break;
            }
            table.push(entry);
            rva = rva.checked_add(size)?;
        }
        Some(table)
    }
}

/// The NUL-terminated string at `rva`, at most `max` bytes; empty when unreadable.
fn c_string<'data, R: object::ReadRef<'data>>(image: &Image<'data, R>, rva: u32, max: usize) -> &'data [u8] {
    let bytes = image.at(rva).unwrap_or_default();
    let bytes = bytes.get(..max).unwrap_or(bytes);
    bytes.iter().position(|b| *b == 0).and_then(|end| bytes.get(..end)).unwrap_or(bytes)
}

/// pefile's `is_valid_dos_filename`: 8.3 characters plus path separators.
fn is_file_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'()-@^_`{}~+,.;=[]:\\/".contains(&c)
}

/// pefile's `is_valid_function_name`.
fn is_function_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"._?@$()<>".contains(&c)
}
