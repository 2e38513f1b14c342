//! What a PE file says about itself: its import hash and its version resource.
//!
//! Headers, sections, data directories and the resource tree are read with the
//! `object` crate (gimli-rs; zero-copy, fuzzed, no panics on malformed input,
//! already in this workspace, and able to read ranges of a file on demand
//! through `ReadCache`, so that only the headers, the import tables and the
//! version resource are read, not the whole image). The import walk that
//! IMPHASH is defined over and the `VS_VERSIONINFO` tree are read here, with
//! checked offsets only.
//!
//! Each part fails alone: a damaged import table leaves the version resource
//! readable, and the other way round.

mod imports;
mod ordinals;
mod version;

use std::fmt;

use object::pe::{ImageNtHeaders32, ImageNtHeaders64};
use object::read::pe::{DataDirectories, ImageNtHeaders, SectionTable};
use object::{LittleEndian as LE, ReadRef, pe};

pub use imports::{Imphash, imphash_of_imports, known_ordinal_names};
pub use version::{FixedVersion, MalformedReason, VersionError, VersionInfo};

/// What [`inspect`] learnt from a PE file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeIdentity {
    /// `None` when the image imports nothing (pefile's `get_imphash` gives "").
    pub imphash: Option<Imphash>,
    /// `Ok(None)` when the image has no version resource.
    pub version: Result<Option<VersionInfo>, VersionError>,
}

/// Why a file is not a PE image that can be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeError {
    /// No `MZ` DOS header at offset 0.
    NoDosHeader,
    /// No `PE\0\0` NT headers at `offset` (the DOS header's `e_lfanew`), or they are truncated.
    BadNtHeaders { offset: u32 },
    /// The optional header is neither PE32 nor PE32+, or shorter than its kind requires.
    BadOptionalHeader { offset: u32 },
    /// The section table is truncated.
    BadSectionTable,
}

impl fmt::Display for PeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeError::NoDosHeader => f.write_str("not a PE file: no MZ header"),
            PeError::BadNtHeaders { offset } => write!(f, "no PE signature at offset {offset:#x}"),
            PeError::BadOptionalHeader { offset } => {
                write!(f, "the optional header after offset {offset:#x} is neither PE32 nor PE32+")
            }
            PeError::BadSectionTable => f.write_str("the section table is truncated"),
        }
    }
}

impl std::error::Error for PeError {}

/// Reads the import hash and the version resource of the PE image in `data`
/// (a byte slice, or a `&ReadCache` over a file).
pub fn inspect<'data, R: ReadRef<'data>>(data: R) -> Result<PeIdentity, PeError> {
    let dos = pe::ImageDosHeader::parse(data).map_err(|_| PeError::NoDosHeader)?;
    let offset = dos.nt_headers_offset();
    let magic =
        object::read::pe::optional_header_magic(data).map_err(|_| PeError::BadNtHeaders { offset })?;
    match magic {
        pe::IMAGE_NT_OPTIONAL_HDR32_MAGIC => inspect_as::<ImageNtHeaders32, R>(data, offset),
        pe::IMAGE_NT_OPTIONAL_HDR64_MAGIC => inspect_as::<ImageNtHeaders64, R>(data, offset),
        _ => Err(PeError::BadOptionalHeader { offset }),
    }
}

fn inspect_as<'data, Pe: ImageNtHeaders, R: ReadRef<'data>>(
    data: R,
    offset: u32,
) -> Result<PeIdentity, PeError> {
    let mut at = u64::from(offset);
    let (headers, directories) =
        Pe::parse(data, &mut at).map_err(|_| PeError::BadOptionalHeader { offset })?;
    let sections = headers.sections(data, at).map_err(|_| PeError::BadSectionTable)?;
    let image = Image { data, sections, directories, is_64: headers.is_type_64() };
    Ok(PeIdentity { imphash: imports::imphash(&image), version: version::read(&image) })
}

/// A parsed PE image: where its RVAs point in the file.
struct Image<'data, R: ReadRef<'data>> {
    data: R,
    sections: SectionTable<'data>,
    directories: DataDirectories<'data>,
    is_64: bool,
}

impl<'data, R: ReadRef<'data>> Image<'data, R> {
    /// The bytes from `rva` to the end of the section holding it. Whole
    /// sections are read (and, through a `ReadCache`, read once); an RVA that
    /// no section holds is taken as a file offset, as pefile takes it.
    fn at(&self, rva: u32) -> Option<&'data [u8]> {
        match self.sections.pe_data_containing(self.data, rva) {
            Some((section, base)) => section.get(usize::try_from(rva.checked_sub(base)?).ok()?..),
            None => {
                let len = self.data.len().ok()?;
                let start = u64::from(rva);
                self.data.read_bytes_at(start, len.checked_sub(start)?.min(MAX_OUTSIDE_SECTION_READ)).ok()
            }
        }
    }

    /// The file offset `rva` is read from (itself when no section holds it).
    fn file_offset(&self, rva: u32) -> i64 {
        self.sections.pe_file_range_at(rva).map_or(i64::from(rva), |(offset, _)| i64::from(offset))
    }

    /// `len` bytes at `rva`, all of them or none.
    fn bytes(&self, rva: u32, len: usize) -> Option<&'data [u8]> {
        self.at(rva)?.get(..len)
    }

    fn u32_at(&self, rva: u32) -> Option<u32> {
        Some(u32::from_le_bytes(*self.bytes(rva, 4)?.first_chunk()?))
    }

    fn u64_at(&self, rva: u32) -> Option<u64> {
        Some(u64::from_le_bytes(*self.bytes(rva, 8)?.first_chunk()?))
    }

    /// The data directory `index`, when the image declares one at a non-zero address.
    fn directory(&self, index: usize) -> Option<(u32, u32)> {
        let dir = self.directories.get(index)?;
        let (rva, size) = (dir.virtual_address.get(LE), dir.size.get(LE));
        (rva != 0).then_some((rva, size))
    }
}

/// An RVA outside every section is read as a file offset; this bounds how much.
const MAX_OUTSIDE_SECTION_READ: u64 = 0x1000;
