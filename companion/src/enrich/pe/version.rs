//! The version resource (`VS_VERSIONINFO`): the strings Sysmon reports as
//! FileVersion, Description, Product, Company and OriginalFileName.
//!
//! The resource: type `RT_VERSION` (16), name 1 (else the first), the first
//! language. Its string table: the one the first `Translation` entry names,
//! else the first one, as `GetFileVersionInfo` + `VerQueryValue` callers read
//! it. Values are read up to their NUL or the end of their node (compilers
//! disagree on whether `wValueLength` counts bytes or characters).

use std::fmt;

use object::LittleEndian as LE;
use object::read::pe::ResourceDirectory;

use super::Image;

const RESOURCE_DIRECTORY: usize = 2;
const RT_VERSION: u16 = 16;
const VS_VERSION_INFO_ID: u16 = 1;
const HEADER_BYTES: usize = 6;
const FIXED_FILE_INFO_SIGNATURE: u32 = 0xFEEF_04BD;
/// A node's length is a u16, so a version resource is at most this long.
const MAX_VERSION_BYTES: usize = 0xFFFF;

/// The version resource's strings, and its fixed-size version numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionInfo {
    pub file_version: Option<String>,
    pub description: Option<String>,
    pub product: Option<String>,
    pub company: Option<String>,
    pub original_file_name: Option<String>,
    /// The key of the string table read, e.g. `040904b0`.
    pub string_table: Option<String>,
    pub fixed: Option<FixedVersion>,
}

/// `VS_FIXEDFILEINFO`'s file and product versions, `[major, minor, build, revision]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedVersion {
    pub file: [u16; 4],
    pub product: [u16; 4],
}

/// Why the version resource could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VersionError {
    /// The resource directory tree is damaged.
    ResourceDirectory,
    /// The version resource's data (`size` bytes at `rva`) lies outside the image.
    ResourceData { rva: u32, size: u32 },
    /// The `VS_VERSIONINFO` block is damaged at `offset` (from its start).
    Malformed { offset: usize, reason: MalformedReason },
}

/// What is wrong inside a `VS_VERSIONINFO` block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MalformedReason {
    /// A node's length is shorter than its header or runs past its parent.
    NodeLength,
    /// A node's key has no terminating NUL inside the node.
    UnterminatedKey,
    /// The root node's key is not `VS_VERSION_INFO`.
    NotVersionInfo,
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionError::ResourceDirectory => f.write_str("the resource directory is damaged"),
            VersionError::ResourceData { rva, size } => {
                write!(f, "the version resource ({size} bytes at RVA {rva:#x}) lies outside the image")
            }
            VersionError::Malformed { offset, reason } => {
                let reason = match reason {
                    MalformedReason::NodeLength => "a node length is out of bounds",
                    MalformedReason::UnterminatedKey => "a key is not terminated",
                    MalformedReason::NotVersionInfo => "the root is not VS_VERSION_INFO",
                };
                write!(f, "version resource byte {offset}: {reason}")
            }
        }
    }
}

impl std::error::Error for VersionError {}

pub(super) fn read<'data, R: object::ReadRef<'data>>(
    image: &Image<'data, R>,
) -> Result<Option<VersionInfo>, VersionError> {
    let Some((rva, _)) = image.directory(RESOURCE_DIRECTORY) else { return Ok(None) };
    let directory = ResourceDirectory::new(image.at(rva).ok_or(VersionError::ResourceDirectory)?);
    let damaged = |_| VersionError::ResourceDirectory;
    let root = directory.root().map_err(damaged)?;
    let Some(versions) = root.entries.iter().find(|e| e.name_or_id().id() == Some(RT_VERSION)) else {
        return Ok(None);
    };
    let names = versions.data(directory).map_err(damaged)?.table().ok_or(VersionError::ResourceDirectory)?;
    let name = names
        .entries
        .iter()
        .find(|e| e.name_or_id().id() == Some(VS_VERSION_INFO_ID))
        .or(names.entries.first());
    let Some(name) = name else { return Ok(None) };
    let languages = name.data(directory).map_err(damaged)?.table().ok_or(VersionError::ResourceDirectory)?;
    let Some(language) = languages.entries.first() else { return Ok(None) };
    let entry = language.data(directory).map_err(damaged)?.data().ok_or(VersionError::ResourceDirectory)?;
    let (data_rva, size) = (entry.offset_to_data.get(LE), entry.size.get(LE));
    let len = usize::try_from(size).unwrap_or(usize::MAX).min(MAX_VERSION_BYTES);
    let block = image.bytes(data_rva, len).ok_or(VersionError::ResourceData { rva: data_rva, size })?;
    parse(block).map(Some)
}

/// Parses a `VS_VERSIONINFO` block.
pub(super) fn parse(block: &[u8]) -> Result<VersionInfo, VersionError> {
    let root = Node::parse(block, 0, block.len())?;
    if !root.key_is("VS_VERSION_INFO") {
        return Err(VersionError::Malformed { offset: 0, reason: MalformedReason::NotVersionInfo });
    }
    let mut info = VersionInfo { fixed: fixed_version(root.value(block)), ..VersionInfo::default() };
    let mut tables: Vec<Node> = Vec::new();
    let mut translation: Option<String> = None;
    for child in root.children(block) {
        if child.key_is("StringFileInfo") {
            tables.extend(child.children(block));
        } else if child.key_is("VarFileInfo") {
            let var = child.children(block).find(|v| v.key_is("Translation"));
            translation = translation.or_else(|| var.and_then(|v| first_translation(v.value(block))));
        }
    }
    let chosen = translation
        .as_deref()
        .and_then(|wanted| tables.iter().find(|t| t.key_string().eq_ignore_ascii_case(wanted)))
        .or(tables.first());
    if let Some(table) = chosen {
        info.string_table = Some(table.key_string());
        for string in table.children(block) {
            let slot = match string.key_string().to_ascii_lowercase().as_str() {
                "fileversion" => &mut info.file_version,
                "filedescription" => &mut info.description,
                "productname" => &mut info.product,
                "companyname" => &mut info.company,
                "originalfilename" => &mut info.original_file_name,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(string.text(block));
            }
        }
    }
    Ok(info)
}

/// One node of the tree: `wLength`, `wValueLength`, `wType`, a NUL-terminated
/// UTF-16 key, padding to 32 bits, the value, padding, then children.
#[derive(Clone, Debug)]
struct Node {
    end: usize,
    key: Vec<u16>,
    value_start: usize,
    value_length: usize,
    is_text: bool,
}

impl Node {
    fn parse(block: &[u8], start: usize, limit: usize) -> Result<Node, VersionError> {
        let malformed = |offset, reason| VersionError::Malformed { offset, reason };
        let word =
            |at: usize| -> Option<u16> { Some(u16::from_le_bytes(*block.get(at..)?.first_chunk::<2>()?)) };
        let length = word(start).map(usize::from).ok_or(malformed(start, MalformedReason::NodeLength))?;
        let end = start.checked_add(length).filter(|end| length >= HEADER_BYTES && *end <= limit);
        let end = end.ok_or(malformed(start, MalformedReason::NodeLength))?;
        let value_length = usize::from(word(start + 2).unwrap_or(0));
        let is_text = word(start + 4) == Some(1);
        let mut key = Vec::new();
        let mut at = start + HEADER_BYTES;
        loop {
            let unit = word(at)
                .filter(|_| at + 2 <= end)
                .ok_or(malformed(start, MalformedReason::UnterminatedKey))?;
            at += 2;
            if unit == 0 {
                break;
            }
            key.push(unit);
        }
        Ok(Node { end, key, value_start: align4(at).min(end), value_length, is_text })
    }

    fn key_is(&self, key: &str) -> bool {
        self.key.iter().copied().eq(key.encode_utf16())
    }

    fn key_string(&self) -> String {
        String::from_utf16_lossy(&self.key)
    }

    /// The value's bytes: `wValueLength` bytes, or characters for a text value, within the node.
    fn value<'b>(&self, block: &'b [u8]) -> &'b [u8] {
        let bytes = if self.is_text { self.value_length.saturating_mul(2) } else { self.value_length };
        let end = self.value_start.saturating_add(bytes).min(self.end);
        block.get(self.value_start..end).unwrap_or_default()
    }

    /// A text value: up to its NUL or the end of the node; empty when `wValueLength` is 0.
    fn text(&self, block: &[u8]) -> String {
        if self.value_length == 0 {
            return String::new();
        }
        let bytes = block.get(self.value_start..self.end).unwrap_or_default();
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .take_while(|unit| *unit != 0)
            .collect();
        String::from_utf16_lossy(&units)
    }

    /// The children, in order; a damaged child ends the list (what came before it stays).
    fn children<'b>(&self, block: &'b [u8]) -> impl Iterator<Item = Node> + 'b {
        let first = align4(self.value_start.saturating_add(self.value(block).len()));
        let end = self.end;
        let mut at = first;
        std::iter::from_fn(move || {
            if at >= end {
                return None;
            }
            let child = Node::parse(block, at, end).ok()?;
            at = align4(child.end);
            Some(child)
        })
    }
}

fn align4(offset: usize) -> usize {
    offset.saturating_add(3) & !3
}

fn fixed_version(value: &[u8]) -> Option<FixedVersion> {
    let dword = |at: usize| Some(u32::from_le_bytes(*value.get(at..)?.first_chunk::<4>()?));
    if dword(0)? != FIXED_FILE_INFO_SIGNATURE {
        return None;
    }
    let split = |ms: u32, ls: u32| {
        let (m, l) = (ms.to_be_bytes(), ls.to_be_bytes());
        [
            u16::from_be_bytes([m[0], m[1]]),
            u16::from_be_bytes([m[2], m[3]]),
            u16::from_be_bytes([l[0], l[1]]),
            u16::from_be_bytes([l[2], l[3]]),
        ]
    };
    Some(FixedVersion { file: split(dword(8)?, dword(12)?), product: split(dword(16)?, dword(20)?) })
}

/// `040904b0` from the first (language, code page) pair of `Translation`.
fn first_translation(value: &[u8]) -> Option<String> {
    let pair = value.first_chunk::<4>()?;
    let language = u16::from_le_bytes([pair[0], pair[1]]);
    let code_page = u16::from_le_bytes([pair[2], pair[3]]);
    Some(format!("{language:04x}{code_page:04x}"))
}
