//! The validator: one pass that checks every byte the interpreter will read,
//! against the schema the running sensor supplies. Counts are checked against
//! the published limits before any loop is sized from them.

use crate::checksum::content_checksum;
use crate::cost;
use crate::error::{ErrorKind, Limit, ValidationError};
use crate::format::{self, condition, group, header, rule, section};
use crate::view::{Content, entry};
use ringfence_wire::Schema;
use ringfence_wire::bytes::{u16_at, u32_at};

mod tables;

use tables::Walk;

type Result<T> = core::result::Result<T, ValidationError>;

pub(super) fn err<T>(offset: usize, kind: ErrorKind) -> Result<T> {
    Err(ValidationError::at(offset, kind))
}

/// Byte offsets and sizes here are below MAX_CONTENT_BYTES (checked first), so they fit u32.
pub(super) fn small(v: usize) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Validates `bytes` as content for a sensor that supplies `schema` (`&SCHEMA`
/// for the running one). The schema version in the header is informational:
/// compatibility is decided field by field, so content compiled for a newer
/// schema is accepted exactly when every field it reads is one this sensor
/// supplies, with the type it supplies. Last, its worst-case evaluation cost
/// ([`Content::worst_case_cost`]) must be within [`format::MAX_EVALUATION_COST`].
#[cfg_attr(feature = "no-panic", no_panic::no_panic)]
pub fn validate<'a>(bytes: &'a [u8], schema: &Schema) -> Result<Content<'a>> {
    check_header(bytes)?;
    let (content, offsets) = check_directory(bytes)?;
    let mut walk = Walk::new(content, offsets, schema);
    walk.groups()?;
    let tables = [walk.section_start(section::GROUPS), walk.section_start(section::RULES)];
    cost::check(&content, schema, format::MAX_EVALUATION_COST, tables)?;
    Ok(content)
}

fn check_header(bytes: &[u8]) -> Result<()> {
    if bytes.is_empty() {
        return err(0, ErrorKind::Empty);
    }
    let available = small(bytes.len());
    if bytes.len() < header::LEN {
        return err(bytes.len(), ErrorKind::Truncated { needed: small(header::LEN), available });
    }
    let magic = u32_at(bytes, header::MAGIC).unwrap_or(0);
    if magic != u32::from_le_bytes(format::MAGIC) {
        return err(header::MAGIC, ErrorKind::BadMagic { found: magic });
    }
    let version = u16_at(bytes, header::FORMAT_VERSION).unwrap_or(0);
    if version != format::FORMAT_VERSION {
        return err(header::FORMAT_VERSION, ErrorKind::UnsupportedFormat { found: version });
    }
    if u16_at(bytes, header::RESERVED) != Some(0) {
        return err(header::RESERVED, ErrorKind::NonZeroReserved);
    }
    let declared = u32_at(bytes, header::TOTAL_LEN).unwrap_or(0);
    let total = usize::try_from(declared).unwrap_or(usize::MAX);
    if total < section::FIRST_OFFSET {
        let minimum = small(section::FIRST_OFFSET);
        return err(header::TOTAL_LEN, ErrorKind::TotalLengthTooSmall { declared, minimum });
    }
    if total > format::MAX_CONTENT_BYTES {
        let max = small(format::MAX_CONTENT_BYTES);
        return err(
            header::TOTAL_LEN,
            ErrorKind::LimitExceeded { limit: Limit::TotalBytes, found: declared, max },
        );
    }
    if bytes.len() < total {
        return err(bytes.len(), ErrorKind::Truncated { needed: declared, available });
    }
    if bytes.len() > total {
        return err(total, ErrorKind::TrailingBytes { declared, actual: available });
    }
    let stored = u32_at(bytes, header::CHECKSUM).unwrap_or(0);
    let computed = content_checksum(bytes);
    if stored != computed {
        return err(header::CHECKSUM, ErrorKind::BadChecksum { stored, computed });
    }
    let schema_version = u16_at(bytes, header::SCHEMA_VERSION).unwrap_or(0);
    if schema_version == 0 {
        return err(header::SCHEMA_VERSION, ErrorKind::UnknownSchemaVersion { found: 0 });
    }
    Ok(())
}

/// The limit on entries for each section, and the entry size.
fn section_shape(id: u16) -> (usize, Limit, usize) {
    match id {
        section::GROUPS => (group::LEN, Limit::Groups, format::MAX_GROUPS),
        section::RULES => (rule::LEN, Limit::Rules, format::MAX_RULES),
        section::CONDITIONS => (condition::LEN, Limit::Conditions, format::MAX_CONDITIONS),
        _ => (2, Limit::StringBytes, format::MAX_STRING_POOL_BYTES / 2),
    }
}

/// Where each section starts, by id - 1.
pub(super) type Offsets = [usize; section::COUNT];

fn check_directory(bytes: &[u8]) -> Result<(Content<'_>, Offsets)> {
    let count = u16_at(bytes, header::SECTION_COUNT).unwrap_or(0);
    if usize::from(count) > section::COUNT {
        let max = small(section::COUNT);
        return err(
            header::SECTION_COUNT,
            ErrorKind::LimitExceeded { limit: Limit::Sections, found: count.into(), max },
        );
    }
    let mut content =
        Content { bytes, groups: &[], rules: &[], conditions: &[], strings: &[], key_table: &[] };
    let mut seen = [false; section::COUNT];
    let mut offsets = [0usize; section::COUNT];
    let mut expected = section::FIRST_OFFSET;
    let directory = bytes.get(header::LEN..).unwrap_or(&[]);
    for index in 0..usize::from(count) {
        let at = header::LEN.saturating_add(index.saturating_mul(section::ENTRY_LEN));
        let dir = entry(directory, index, section::ENTRY_LEN).unwrap_or(&[]);
        let id = u16_at(dir, section::ID).unwrap_or(0);
        let slot = usize::from(id).checked_sub(1).and_then(|i| seen.get_mut(i));
        let Some(slot) = slot else { return err(at, ErrorKind::UnknownSection { id }) };
        if *slot {
            return err(at, ErrorKind::DuplicateSection { id });
        }
        *slot = true;
        if let Some(o) = offsets.get_mut(usize::from(id).saturating_sub(1)) {
            *o = u32_at(dir, section::OFFSET).unwrap_or(0) as usize;
        }
        if u16_at(dir, section::RESERVED) != Some(0) {
            return err(at.saturating_add(section::RESERVED), ErrorKind::NonZeroReserved);
        }
        let offset32 = u32_at(dir, section::OFFSET).unwrap_or(0);
        let len32 = u32_at(dir, section::LEN).unwrap_or(0);
        let Some(end32) = offset32.checked_add(len32) else {
            return err(at.saturating_add(section::OFFSET), ErrorKind::SectionLengthOverflow { id });
        };
        let total = small(bytes.len());
        if end32 > total {
            return err(
                at.saturating_add(section::LEN),
                ErrorKind::SectionOutOfBounds { id, end: end32, total },
            );
        }
        let (offset, len) = (offset32 as usize, len32 as usize);
        if offset != expected {
            let expected = small(expected);
            return err(
                at.saturating_add(section::OFFSET),
                ErrorKind::SectionMisplaced { id, offset: offset32, expected },
            );
        }
        let (entry_len, limit, max) = section_shape(id);
        if len.checked_rem(entry_len) != Some(0) {
            let entry = small(entry_len);
            return err(at.saturating_add(section::LEN), ErrorKind::SectionLength { id, len: len32, entry });
        }
        let entries = len.checked_div(entry_len).unwrap_or(0);
        if entries > max {
            let (found, max) = if id == section::STRINGS {
                (len32, small(max.saturating_mul(2)))
            } else {
                (small(entries), small(max))
            };
            return err(at.saturating_add(section::LEN), ErrorKind::LimitExceeded { limit, found, max });
        }
        let slice = bytes.get(offset..offset.saturating_add(len)).unwrap_or(&[]);
        match id {
            section::GROUPS => content.groups = slice,
            section::RULES => content.rules = slice,
            section::CONDITIONS => content.conditions = slice,
            _ => content.strings = slice,
        }
        expected = offset.saturating_add(len);
    }
    for (i, present) in seen.iter().enumerate() {
        if !present {
            let id = u16::try_from(i.saturating_add(1)).unwrap_or(0);
            return err(header::SECTION_COUNT, ErrorKind::MissingSection { id });
        }
    }
    if expected != bytes.len() {
        return err(expected, ErrorKind::UnclaimedBytes { end: small(expected), total: small(bytes.len()) });
    }
    Ok((content, offsets))
}
