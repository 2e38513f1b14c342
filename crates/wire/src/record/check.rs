//! Validation of one record: a fast pass that only says whether the record is
//! valid, and a precise pass, run only on failure, that names the fault.

use super::{DecodeError, DecodeErrorKind, layout, scalar_in_range, slot_offset, slots_end, string_slot};
use crate::bytes::{self, align8};
use crate::schema::{EventKind, FieldType, KindDef, SCHEMA_VERSION};

pub(super) fn check_header(record: &[u8]) -> Result<&'static KindDef, DecodeError> {
    let code = bytes::u16_at(record, layout::KIND).unwrap_or(0);
    let kind = EventKind::from_code(code)
        .ok_or(DecodeError::at(layout::KIND, DecodeErrorKind::UnknownKind { code }))?;
    let version = bytes::u16_at(record, layout::SCHEMA_VERSION).unwrap_or(0);
    if version != SCHEMA_VERSION {
        return Err(DecodeError::at(
            layout::SCHEMA_VERSION,
            DecodeErrorKind::SchemaVersion { found: version, expected: SCHEMA_VERSION },
        ));
    }
    let def = kind.def();
    let count = bytes::u16_at(record, layout::FIELD_COUNT).unwrap_or(0);
    if count != u16::from(def.field_count()) {
        return Err(DecodeError::at(
            layout::FIELD_COUNT,
            DecodeErrorKind::FieldCount { kind, found: count, expected: def.field_count() },
        ));
    }
    if bytes::u16_at(record, layout::FLAGS) != Some(0) {
        return Err(DecodeError::at(layout::FLAGS, DecodeErrorKind::Reserved));
    }
    let stray = absent_bits(record) & !def.optional_mask();
    if stray != 0 {
        let field = u8::try_from(stray.trailing_zeros()).unwrap_or(u8::MAX);
        return Err(DecodeError::at(layout::ABSENT, DecodeErrorKind::NotOptional { field }));
    }
    Ok(def)
}

fn absent_bits(record: &[u8]) -> u32 {
    bytes::u32_at(record, layout::ABSENT).unwrap_or(u32::MAX)
}

/// Whether bit `index` of `bits` is set.
fn bit(bits: u32, index: u8) -> bool {
    bits.checked_shr(u32::from(index)).unwrap_or(0) & 1 == 1
}

/// One kind's slots as the fast check sees them.
#[derive(Clone, Copy)]
pub(super) struct SlotRules {
    /// Per slot, the bits a valid scalar never sets (every limit is 2^k - 1);
    /// zero for strings, whose slots the second pass checks.
    excess: [u64; MAX_FIELDS],
    /// Per slot, a string's or id list's longest length in bytes (0 for scalars).
    max_bytes: [usize; MAX_FIELDS],
    /// Per slot, the bits a variable-length value's byte length never sets:
    /// its unit's size (2 for a string, 4 for an id list) less one; 0 for scalars.
    unit_mask: [usize; MAX_FIELDS],
    /// The variable-length slots' indices (strings, id lists), in field order.
    strings: [u8; MAX_FIELDS],
    string_count: usize,
    /// The truncation field's index, when the kind has one.
    truncation: Option<u8>,
}

/// The most fields any kind has, and one past the highest kind code.
pub(super) const MAX_FIELDS: usize = schema_bounds().0;
pub(super) const KIND_CODES: usize = schema_bounds().1;

pub(super) const fn schema_bounds() -> (usize, usize) {
    let (mut fields, mut codes) = (0usize, 0usize);
    let mut kinds = EventKind::ALL;
    while let Some((kind, rest)) = kinds.split_first() {
        if kind.def().fields.len() > fields {
            fields = kind.def().fields.len();
        }
        if kind.code() as usize >= codes {
            codes = (kind.code() as usize).saturating_add(1);
        }
        kinds = rest;
    }
    (fields, codes)
}

/// Every kind's slot rules, by kind code, derived from the schema at compile time.
static SLOT_RULES: [SlotRules; KIND_CODES] = slot_rules();

// Evaluated by the compiler only: an index out of range is a build error, not a
// runtime panic.
#[allow(clippy::indexing_slicing)]
pub(super) const fn slot_rules() -> [SlotRules; KIND_CODES] {
    let empty = SlotRules {
        excess: [0; MAX_FIELDS],
        max_bytes: [0; MAX_FIELDS],
        unit_mask: [0; MAX_FIELDS],
        strings: [0; MAX_FIELDS],
        string_count: 0,
        truncation: None,
    };
    let mut rules = [empty; KIND_CODES];
    let mut kinds = EventKind::ALL;
    while let Some((kind, rest)) = kinds.split_first() {
        let row = &mut rules[kind.code() as usize];
        row.truncation = kind.def().truncation_index();
        // A kind has at most 32 fields (checked where the schema is declared).
        let mut index = 0u8;
        let mut fields = kind.def().fields;
        while let Some((field, rest)) = fields.split_first() {
            row.excess[index as usize] = match field.ty {
                FieldType::U32 => !(u32::MAX as u64),
                FieldType::Bool => !1,
                FieldType::U64 | FieldType::Time | FieldType::Str | FieldType::Ids => 0,
            };
            row.max_bytes[index as usize] = field.max_bytes();
            row.unit_mask[index as usize] = field.ty.unit_bytes().saturating_sub(1);
            if field.ty.is_variable() {
                row.strings[row.string_count] = index;
                row.string_count = row.string_count.saturating_add(1);
            }
            index = index.saturating_add(1);
            fields = rest;
        }
        kinds = rest;
    }
    rules
}

/// A string's unit mask: its byte length is even.
const STRING_UNIT_MASK: usize = FieldType::Str.unit_bytes().saturating_sub(1);

/// Whether every slot and the padding are valid: one branch-free pass over the
/// slots (an absent one must be zero), one short pass over the present strings
/// and id lists.
/// Accepts exactly what [`check_fields_precise`] accepts; that one runs only to
/// name the fault. The header (absent bits only on optional fields) is checked.
#[inline]
pub(super) fn fields_valid(record: &[u8], def: &KindDef) -> bool {
    let Some(rules) = SLOT_RULES.get(usize::from(def.kind.code())) else {
        return false;
    };
    let strings_start = slots_end(def);
    let Some(slots) = record.get(layout::HEADER_LEN..strings_start) else {
        return false;
    };
    let absent = absent_bits(record);
    let mut excess = 0u64;
    let mut absent_left = absent;
    for (slot, bits) in slots.chunks_exact(layout::SLOT_LEN).zip(&rules.excess) {
        // An absent slot may set no bit at all.
        let all_if_absent = 0u64.wrapping_sub(u64::from(absent_left & 1));
        excess |= u64::from_le_bytes(slot.try_into().unwrap_or([0xFF; 8])) & (bits | all_if_absent);
        absent_left >>= 1;
    }
    let truncated = match rules.truncation {
        Some(index) => slot_value(record, index).unwrap_or(u64::MAX),
        None => 0,
    };
    let Some(strings) = rules.strings.get(..rules.string_count) else {
        return false;
    };
    // Each present string or list starts where the last ended, so the final end bounds them all.
    let mut data_end = strings_start;
    let mut present_strings = 0u64;
    for index in strings {
        if bit(absent, *index) {
            continue;
        }
        let Some(raw) = slot_value(record, *index) else {
            return false;
        };
        let (offset, len) = string_slot(raw);
        let max = rules.max_bytes.get(usize::from(*index)).copied().unwrap_or(0);
        let unit_mask = rules.unit_mask.get(usize::from(*index)).copied().unwrap_or(usize::MAX);
        let cut = truncated.checked_shr(u32::from(*index)).unwrap_or(0) & 1 == 1;
        if offset != data_end || len > max || len & unit_mask != 0 || (cut && len != max) {
            return false;
        }
        // Only a string can be cut (an id list counts its rest instead, once full).
        if unit_mask == STRING_UNIT_MASK {
            present_strings |= 1u64.checked_shl(u32::from(*index)).unwrap_or(0);
        } else if len != max && slot_value(record, index.saturating_add(1)) != Some(0) {
            return false;
        }
        data_end = offset.saturating_add(len);
    }
    excess == 0
        && truncated & !present_strings == 0
        && align8(data_end) == Some(record.len())
        && record.get(data_end..).is_some_and(|pad| pad.iter().all(|b| *b == 0))
}

fn slot_value(record: &[u8], index: u8) -> Option<u64> {
    slot_offset(index).and_then(|at| bytes::u64_at(record, at))
}

pub(super) fn check_fields(record: &[u8], def: &KindDef) -> Result<(), DecodeError> {
    if fields_valid(record, def) {
        return Ok(());
    }
    check_fields_precise(record, def)
}

#[cold]
pub(super) fn check_fields_precise(record: &[u8], def: &KindDef) -> Result<(), DecodeError> {
    let strings_start = slots_end(def);
    let slots = record.get(layout::HEADER_LEN..strings_start).ok_or(DecodeError::at(
        layout::FIELD_COUNT,
        DecodeErrorKind::SlotsOutOfBounds { field_count: u16::from(def.field_count()) },
    ))?;
    let absent = absent_bits(record);
    // Present strings and id lists sit back to back in field order right after
    // the slots, as `encode` lays them out: one valid encoding per event, no
    // gaps or overlaps.
    let mut data_end = strings_start;
    let mut at = layout::HEADER_LEN;
    for ((index, field), slot) in (0u8..).zip(def.fields).zip(slots.chunks_exact(layout::SLOT_LEN)) {
        let raw = u64::from_le_bytes(slot.try_into().unwrap_or([0xFF; 8]));
        if bit(absent, index) {
            if raw != 0 {
                return Err(DecodeError::at(at, DecodeErrorKind::AbsentNotZero { field: index }));
            }
        } else if field.ty == FieldType::Str {
            let (offset, len) = string_slot(raw);
            let end = offset
                .checked_add(len)
                .filter(|end| offset == data_end && *end <= record.len())
                .ok_or(DecodeError::at(at, DecodeErrorKind::StringOutOfBounds { field: index }))?;
            if len % 2 != 0 {
                return Err(DecodeError::at(at, DecodeErrorKind::StringOddLength { field: index }));
            }
            if len > field.max_bytes() {
                let kind =
                    DecodeErrorKind::StringTooLong { field: index, bytes: len, max: field.max_bytes() };
                return Err(DecodeError::at(at, kind));
            }
            data_end = end;
        } else if field.ty == FieldType::Ids {
            let (offset, len) = string_slot(raw);
            let end = offset
                .checked_add(len)
                .filter(|end| offset == data_end && *end <= record.len())
                .ok_or(DecodeError::at(at, DecodeErrorKind::IdsOutOfBounds { field: index }))?;
            if len % crate::text::ID_BYTES != 0 {
                return Err(DecodeError::at(at, DecodeErrorKind::IdsLength { field: index, bytes: len }));
            }
            if len > field.max_bytes() {
                let kind = DecodeErrorKind::TooManyIds {
                    field: index,
                    count: len / crate::text::ID_BYTES,
                    max: usize::from(field.max_units),
                };
                return Err(DecodeError::at(at, kind));
            }
            // The rest count follows its list (checked where the schema is declared).
            // A rest beyond u32 is the rest slot's own fault, named when it is reached.
            let rest = slot_value(record, index.saturating_add(1)).and_then(|raw| u32::try_from(raw).ok());
            if let Some(rest @ 1..) = rest
                && len != field.max_bytes()
            {
                let kind = DecodeErrorKind::RestBeforeFull {
                    field: index,
                    count: len / crate::text::ID_BYTES,
                    rest,
                };
                return Err(DecodeError::at(at, kind));
            }
            data_end = end;
        } else if !scalar_in_range(field.ty, raw) {
            return Err(DecodeError::at(at, DecodeErrorKind::ScalarOutOfRange { field: index }));
        }
        at = at.saturating_add(layout::SLOT_LEN);
    }
    check_truncation(record, def, absent)?;
    let padded = align8(data_end).unwrap_or(usize::MAX);
    let padding_is_zero = record.get(data_end..).is_some_and(|pad| pad.iter().all(|b| *b == 0));
    if padded != record.len() || !padding_is_zero {
        return Err(DecodeError::at(data_end, DecodeErrorKind::Padding));
    }
    Ok(())
}

/// The truncation field names only present strings exactly at their maximum.
fn check_truncation(record: &[u8], def: &KindDef, absent: u32) -> Result<(), DecodeError> {
    let Some(index) = def.truncation_index() else { return Ok(()) };
    let at = slot_offset(index).unwrap_or(0);
    let truncated = slot_value(record, index).unwrap_or(0);
    let beyond = truncated.checked_shr(u32::from(def.field_count())).unwrap_or(0);
    if beyond != 0 {
        let field = u32::from(def.field_count()).saturating_add(beyond.trailing_zeros());
        return Err(DecodeError::at(
            at,
            DecodeErrorKind::Truncation { field: u8::try_from(field).unwrap_or(u8::MAX) },
        ));
    }
    for (field_index, field) in (0u8..).zip(def.fields) {
        if truncated.checked_shr(u32::from(field_index)).unwrap_or(0) & 1 == 0 {
            continue;
        }
        let at_max = field.ty == FieldType::Str
            && !bit(absent, field_index)
            && slot_value(record, field_index).map(|raw| string_slot(raw).1) == Some(field.max_bytes());
        if !at_max {
            return Err(DecodeError::at(at, DecodeErrorKind::Truncation { field: field_index }));
        }
    }
    Ok(())
}
