//! The volume map: how the kernel's NT paths read as the DOS paths rules are
//! written in. User mode builds it from the machine's DOS devices and hands it
//! to the driver (`SET_VOLUME_MAP`); both evaluate paths with [`VolumeMap::translate`],
//! so kernel and companion cannot disagree on what a path says.
//!
//! # Format (version 1)
//!
//! A sequence of 16-bit little-endian units (so its bytes are UTF-16LE wherever it
//! holds text). Numbers are `u32`, two units, low first; [`layout`] names their
//! byte offsets. A string is referenced by its offset and length, both counted
//! in units from the start of the map.
//!
//! | bytes | field |
//! |-------|-------|
//! | 0     | `u32` size of the whole map in bytes |
//! | 4     | `u32` format version ([`FORMAT_VERSION`]) |
//! | 8     | `u32` entry count |
//! | 12    | string: the Windows directory (`C:\Windows`; length 0: not given) |
//! | 20    | `u32` reserved, 0 |
//! | 24    | entries, 16 bytes each: string NT prefix, string DOS prefix |
//! | …     | the strings, packed in the order they are referenced |
//!
//! Every byte has one meaning: the strings follow the entry table without gaps,
//! each starting where the previous one ended (windows directory, then each entry's
//! NT and DOS prefix), and the map ends with the last one.
//!
//! Entries are sorted by NT prefix in [`compare_prefixes`] order (ASCII case
//! folded, the separator first), strictly: no two prefixes are equal ignoring
//! case, and no prefix lies under another (`\Device\A` and `\Device\A\B`), so at
//! most one entry matches a path and it is found by binary search.
//!
//! An NT prefix starts with a backslash, does not end with one, and is not one
//! of the fixed forms' (`\??`, `\DosDevices`, `\GLOBAL??`, `\Device\Mup`,
//! `\SystemRoot`, or under them). A DOS prefix is `X:` (optionally followed by
//! `\` and more) or `\\` and more, and does not end with a backslash. The
//! Windows directory is `X:\` and at least one more unit, with no trailing
//! backslash. Every prefix holds at most [`MAX_PREFIX_UNITS`] units.

mod emit;
mod path;

pub use emit::{Entry, VolumeMapRepr, units_from_le_bytes, units_to_le_bytes};
pub use path::{Translation, Via, compare_prefixes};

use core::cmp::Ordering;

/// The version of the format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// The most entries a map holds: 26 drive letters and room for volumes mounted
/// under other names.
pub const MAX_ENTRIES: usize = 64;
/// The longest NT prefix, DOS prefix or Windows directory, in UTF-16 units.
pub const MAX_PREFIX_UNITS: usize = 256;
/// The largest map, in bytes: checked before anything else is read.
pub const MAX_MAP_BYTES: usize = 32 * 1024;

/// Byte offsets of the header and of an entry.
pub mod layout {
    pub const SIZE: usize = 0;
    pub const VERSION: usize = 4;
    pub const ENTRY_COUNT: usize = 8;
    /// A string reference: `u32` unit offset, then `u32` unit length.
    pub const WINDOWS_DIRECTORY: usize = 12;
    pub const RESERVED: usize = 20;
    pub const HEADER_LEN: usize = 24;
    /// Inside an entry: the NT prefix's string reference, then the DOS prefix's.
    pub const ENTRY_NT: usize = 0;
    pub const ENTRY_DOS: usize = 8;
    pub const ENTRY_LEN: usize = 16;
    /// Inside a string reference.
    pub const STRING_OFFSET: usize = 0;
    pub const STRING_UNITS: usize = 4;
}

// The largest map fits a u32 size field, and a full table fits the largest map.
const _: () = assert!(MAX_MAP_BYTES <= u32::MAX as usize);
const _: () = assert!(layout::HEADER_LEN + MAX_ENTRIES * layout::ENTRY_LEN < MAX_MAP_BYTES);

/// Which string of the map an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    WindowsDirectory,
    Nt { entry: u32 },
    Dos { entry: u32 },
}

/// Why units are not a volume map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VolumeMapError {
    /// The bytes are more than [`MAX_MAP_BYTES`].
    TooLarge {
        bytes: usize,
        limit: usize,
    },
    /// An odd number of bytes: not a sequence of 16-bit units.
    OddLength {
        bytes: usize,
    },
    /// The map ends before the header, the entry table or a string it references.
    Truncated {
        needed_bytes: usize,
        bytes: usize,
    },
    Version {
        found: u32,
        expected: u32,
    },
    /// The size field is not the map's length in bytes.
    SizeField {
        found: u32,
        bytes: usize,
    },
    /// The reserved field at `offset` is not zero.
    Reserved {
        offset: usize,
    },
    TooManyEntries {
        count: u32,
        limit: usize,
    },
    /// The string does not start where the previous one ended.
    StringMisplaced {
        item: Item,
        offset_units: u32,
        expected_units: usize,
    },
    PrefixTooLong {
        item: Item,
        units: u32,
        limit: usize,
    },
    EmptyPrefix {
        item: Item,
    },
    /// The prefix ends with a backslash (the component boundary supplies it).
    TrailingSeparator {
        item: Item,
    },
    /// An NT prefix that does not start with a backslash.
    NtPrefixNotAbsolute {
        entry: u32,
    },
    /// An NT prefix the fixed forms own (`\??`, `\DosDevices`, `\GLOBAL??`, `\Device\Mup`, `\SystemRoot`).
    ReservedPrefix {
        entry: u32,
    },
    /// A DOS prefix or Windows directory not in DOS form (`X:…`, `\\…`; the Windows directory `X:\…`).
    NotDosForm {
        item: Item,
    },
    /// The NT prefix of `entry` sorts before its predecessor's.
    OutOfOrder {
        entry: u32,
    },
    /// The NT prefix of `entry` equals its predecessor's, ignoring ASCII case.
    Duplicate {
        entry: u32,
    },
    /// The NT prefix of `entry` lies under its predecessor's: two entries would match one path.
    Nested {
        entry: u32,
    },
    /// Units after the last string, starting at this unit offset.
    TrailingUnits {
        offset_units: usize,
    },
}

impl VolumeMapError {
    /// The NTSTATUS `SET_VOLUME_MAP` answers a map refused for this reason.
    pub const fn status(&self) -> i32 {
        use crate::ioctl::{STATUS_INVALID_BUFFER_SIZE, STATUS_INVALID_PARAMETER, STATUS_REVISION_MISMATCH};
        match self {
            VolumeMapError::Version { .. } => STATUS_REVISION_MISMATCH,
            VolumeMapError::TooLarge { .. } => STATUS_INVALID_BUFFER_SIZE,
            _ => STATUS_INVALID_PARAMETER,
        }
    }
}

/// A validated volume map over its units.
///
/// # Invariants
/// [`VolumeMap::new_checked`] accepted `units`: every offset and length below
/// is inside them, so accessors read with `get` and fall back to empty only on
/// paths validation has excluded.
#[derive(Clone, Copy, Debug)]
pub struct VolumeMap<'a> {
    units: &'a [u16],
    count: usize,
}

/// A string reference as stored: unit offset and unit length.
#[derive(Clone, Copy)]
struct StringRef {
    offset: u32,
    units: u32,
}

fn u32_at(units: &[u16], byte_offset: usize) -> Option<u32> {
    let at = byte_offset / 2;
    let low = *units.get(at)?;
    let high = *units.get(at.checked_add(1)?)?;
    Some(u32::from(low) | (u32::from(high) << 16))
}

fn string_ref(units: &[u16], byte_offset: usize) -> Option<StringRef> {
    let offset = u32_at(units, byte_offset.checked_add(layout::STRING_OFFSET)?)?;
    let len = u32_at(units, byte_offset.checked_add(layout::STRING_UNITS)?)?;
    Some(StringRef { offset, units: len })
}

fn entry_offset(entry: usize) -> usize {
    entry.saturating_mul(layout::ENTRY_LEN).saturating_add(layout::HEADER_LEN)
}

impl<'a> VolumeMap<'a> {
    /// Validates `units` whole: header, limits, every string reference, every
    /// prefix's form, the order of the entries, no trailing units.
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn new_checked(units: &'a [u16]) -> Result<Self, VolumeMapError> {
        let bytes = units.len().saturating_mul(2);
        if bytes > MAX_MAP_BYTES {
            return Err(VolumeMapError::TooLarge { bytes, limit: MAX_MAP_BYTES });
        }
        let truncated = |needed_bytes| VolumeMapError::Truncated { needed_bytes, bytes };
        let header = units.get(..layout::HEADER_LEN / 2).ok_or(truncated(layout::HEADER_LEN))?;
        let field = |offset| u32_at(header, offset).unwrap_or(0);
        let version = field(layout::VERSION);
        if version != FORMAT_VERSION {
            return Err(VolumeMapError::Version { found: version, expected: FORMAT_VERSION });
        }
        let size = field(layout::SIZE);
        if usize::try_from(size).ok() != Some(bytes) {
            return Err(VolumeMapError::SizeField { found: size, bytes });
        }
        if field(layout::RESERVED) != 0 {
            return Err(VolumeMapError::Reserved { offset: layout::RESERVED });
        }
        let count = field(layout::ENTRY_COUNT);
        let entries = usize::try_from(count).unwrap_or(usize::MAX);
        if entries > MAX_ENTRIES {
            return Err(VolumeMapError::TooManyEntries { count, limit: MAX_ENTRIES });
        }
        let table_end = entry_offset(entries);
        if table_end > bytes {
            return Err(truncated(table_end));
        }
        let mut next = table_end / 2;
        let windows =
            Self::check_string(units, layout::WINDOWS_DIRECTORY, Item::WindowsDirectory, &mut next)?;
        if !windows.is_empty() {
            check_windows_directory(windows)?;
        }
        let mut previous: Option<&[u16]> = None;
        for entry in 0..entries {
            let index = u32::try_from(entry).unwrap_or(u32::MAX);
            let at = entry_offset(entry);
            let nt = Self::check_string(
                units,
                at.saturating_add(layout::ENTRY_NT),
                Item::Nt { entry: index },
                &mut next,
            )?;
            let dos = Self::check_string(
                units,
                at.saturating_add(layout::ENTRY_DOS),
                Item::Dos { entry: index },
                &mut next,
            )?;
            check_nt_prefix(index, nt)?;
            check_dos_prefix(Item::Dos { entry: index }, dos)?;
            if let Some(previous) = previous {
                match compare_prefixes(previous, nt) {
                    Ordering::Greater => return Err(VolumeMapError::OutOfOrder { entry: index }),
                    Ordering::Equal => return Err(VolumeMapError::Duplicate { entry: index }),
                    Ordering::Less if path::component_prefix(nt, previous).is_some() => {
                        return Err(VolumeMapError::Nested { entry: index });
                    }
                    Ordering::Less => {}
                }
            }
            previous = Some(nt);
        }
        if next != units.len() {
            return Err(VolumeMapError::TrailingUnits { offset_units: next });
        }
        Ok(VolumeMap { units, count: entries })
    }

    /// A view of units [`VolumeMap::new_checked`] accepted before (kept by their owner), without
    /// checking them again. Other units give wrong translations, never a panic or a read
    /// outside them: every accessor reads with `get`, and the entry count is capped.
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn from_validated(units: &'a [u16]) -> Self {
        let count = u32_at(units, layout::ENTRY_COUNT).unwrap_or(0);
        let count = usize::try_from(count).unwrap_or(0).min(MAX_ENTRIES);
        VolumeMap { units, count }
    }

    /// The string referenced at `byte_offset`: it must start at `*next`, fit the map and the
    /// prefix limit; `*next` moves past it.
    fn check_string(
        units: &'a [u16],
        byte_offset: usize,
        item: Item,
        next: &mut usize,
    ) -> Result<&'a [u16], VolumeMapError> {
        let bytes = units.len().saturating_mul(2);
        let reference = string_ref(units, byte_offset)
            .ok_or(VolumeMapError::Truncated { needed_bytes: byte_offset.saturating_add(8), bytes })?;
        if usize::try_from(reference.offset).ok() != Some(*next) {
            return Err(VolumeMapError::StringMisplaced {
                item,
                offset_units: reference.offset,
                expected_units: *next,
            });
        }
        let len = usize::try_from(reference.units).unwrap_or(usize::MAX);
        if len > MAX_PREFIX_UNITS {
            return Err(VolumeMapError::PrefixTooLong {
                item,
                units: reference.units,
                limit: MAX_PREFIX_UNITS,
            });
        }
        let end = next.saturating_add(len);
        let text = units
            .get(*next..end)
            .ok_or(VolumeMapError::Truncated { needed_bytes: end.saturating_mul(2), bytes })?;
        *next = end;
        Ok(text)
    }

    /// The string at a reference validation accepted.
    fn string(&self, byte_offset: usize) -> &'a [u16] {
        let Some(reference) = string_ref(self.units, byte_offset) else { return &[] };
        let start = usize::try_from(reference.offset).unwrap_or(usize::MAX);
        let len = usize::try_from(reference.units).unwrap_or(usize::MAX);
        self.units.get(start..start.saturating_add(len)).unwrap_or(&[])
    }

    /// The units the map was validated from.
    pub fn as_units(&self) -> &'a [u16] {
        self.units
    }

    /// The Windows directory, empty when not given.
    pub fn windows_directory(&self) -> &'a [u16] {
        self.string(layout::WINDOWS_DIRECTORY)
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Entry `index` as (NT prefix, DOS prefix).
    pub fn entry(&self, index: usize) -> Option<(&'a [u16], &'a [u16])> {
        if index >= self.count {
            return None;
        }
        let at = entry_offset(index);
        Some((
            self.string(at.saturating_add(layout::ENTRY_NT)),
            self.string(at.saturating_add(layout::ENTRY_DOS)),
        ))
    }

    /// The entries in order.
    pub fn entries(&self) -> impl Iterator<Item = (&'a [u16], &'a [u16])> + '_ {
        (0..self.count).filter_map(|index| self.entry(index))
    }
}

fn check_windows_directory(windows: &[u16]) -> Result<(), VolumeMapError> {
    let item = Item::WindowsDirectory;
    if windows.last() == Some(&path::BACKSLASH) {
        return Err(VolumeMapError::TrailingSeparator { item });
    }
    match windows {
        [_, _, path::BACKSLASH, _, ..] if path::is_drive(windows) => Ok(()),
        _ => Err(VolumeMapError::NotDosForm { item }),
    }
}

fn check_nt_prefix(entry: u32, nt: &[u16]) -> Result<(), VolumeMapError> {
    let item = Item::Nt { entry };
    match nt {
        [] => Err(VolumeMapError::EmptyPrefix { item }),
        [first, ..] if *first != path::BACKSLASH => Err(VolumeMapError::NtPrefixNotAbsolute { entry }),
        [.., path::BACKSLASH] => Err(VolumeMapError::TrailingSeparator { item }),
        _ if path::is_reserved(nt) => Err(VolumeMapError::ReservedPrefix { entry }),
        _ => Ok(()),
    }
}

fn check_dos_prefix(item: Item, dos: &[u16]) -> Result<(), VolumeMapError> {
    match dos {
        [] => Err(VolumeMapError::EmptyPrefix { item }),
        [.., path::BACKSLASH] => Err(VolumeMapError::TrailingSeparator { item }),
        [path::BACKSLASH, path::BACKSLASH, _, ..] => Ok(()),
        _ if path::is_drive(dos) => Ok(()),
        _ => Err(VolumeMapError::NotDosForm { item }),
    }
}

#[cfg(test)]
mod tests;
