//! One event record: a fixed header, one 8-byte slot per field, then the
//! string bytes, padded to a multiple of 8 so that a batch is a plain
//! concatenation of records.
//!
//! ```text
//! 0   size            u32  whole record, padding included, multiple of 8
//! 4   kind            u16  EventKind code
//! 6   schema_version  u16
//! 8   sequence        u64  per boot, gap-free for delivered records
//! 16  timestamp       u64  100-ns units since 1601 (KeQuerySystemTimePrecise)
//! 24  field_count     u16  exactly the kind's field count in that schema
//! 26  flags           u16  zero
//! 28  reserved        u32  zero
//! 32  slots           field_count × 8 bytes
//!       scalar: the value as u64 LE (u32 fits in 32 bits, bool is 0 or 1)
//!       string: offset u32 (from record start), byte length u32 (even, ≤ 0xFFFE)
//! ..  string bytes    UTF-16LE, in field order, back to back, then zero
//!                     padding to the 8-byte boundary
//! ```
//!
//! Each event has exactly one encoding: the decoder accepts nothing `encode`
//! would not write, so a decoded record re-encodes to the same bytes.

use crate::bytes::{self, align8};
use crate::schema::{Event, EventKind, FieldType, Fields, KindDef, SCHEMA_VERSION};
use crate::text::{Text, Value};

/// Byte offsets of the header fields.
pub mod layout {
    pub const SIZE: usize = 0;
    pub const KIND: usize = 4;
    pub const SCHEMA_VERSION: usize = 6;
    pub const SEQUENCE: usize = 8;
    pub const TIMESTAMP: usize = 16;
    pub const FIELD_COUNT: usize = 24;
    pub const FLAGS: usize = 26;
    pub const RESERVED: usize = 28;
    pub const HEADER_LEN: usize = 32;
    pub const SLOT_LEN: usize = 8;
    pub const ALIGN: usize = 8;
}

/// The longest string a record carries, in bytes: a `UNICODE_STRING`'s limit.
pub const MAX_STRING_BYTES: usize = 0xFFFE;

/// The largest record the schema allows: the kind with the most header, slot
/// and string bytes, every string [`MAX_STRING_BYTES`] long, padded.
pub const MAX_RECORD_BYTES: usize = max_record_bytes();

const fn max_record_bytes() -> usize {
    let mut max = 0usize;
    let mut kinds = EventKind::ALL;
    while let Some((kind, rest)) = kinds.split_first() {
        let mut len = layout::HEADER_LEN;
        let mut fields = kind.def().fields;
        while let Some((field, rest)) = fields.split_first() {
            len = len.saturating_add(layout::SLOT_LEN);
            if matches!(field.ty, FieldType::Str) {
                len = len.saturating_add(MAX_STRING_BYTES);
            }
            fields = rest;
        }
        if len > max {
            max = len;
        }
        kinds = rest;
    }
    match align8(max) {
        Some(len) => len,
        None => usize::MAX,
    }
}

/// Why a record could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The buffer holds fewer bytes than the record needs.
    BufferTooSmall { needed: usize, available: usize },
    /// A string field is longer than [`MAX_STRING_BYTES`].
    StringTooLong { field: u8, bytes: usize },
}

/// Why bytes are not a valid record; `offset` is where, from the record start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeError {
    pub offset: usize,
    pub kind: DecodeErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// Fewer bytes than the header or the declared size needs.
    Truncated {
        needed: usize,
        available: usize,
    },
    /// The size field is not a multiple of 8 or is smaller than the header.
    BadSize {
        size: u32,
    },
    UnknownKind {
        code: u16,
    },
    SchemaVersion {
        found: u16,
        expected: u16,
    },
    /// The record carries a different number of fields than its kind has.
    FieldCount {
        kind: EventKind,
        found: u16,
        expected: u8,
    },
    /// Flags or reserved bits are set.
    Reserved,
    /// The slots do not fit in the declared size.
    SlotsOutOfBounds {
        field_count: u16,
    },
    /// A scalar slot holds a value its type cannot have.
    ScalarOutOfRange {
        field: u8,
    },
    /// `offset + len` overflows, leaves the record, exceeds [`MAX_STRING_BYTES`],
    /// or the string is not where the layout puts it: right after the previous
    /// string field's bytes (the first one right after the slots).
    StringOutOfBounds {
        field: u8,
    },
    /// A UTF-16LE string of odd byte length.
    StringOddLength {
        field: u8,
    },
    /// The size is not the string area rounded up to 8, padding is not zero,
    /// or (for [`Record::new_checked`]) bytes follow the record.
    Padding,
}

impl DecodeError {
    const fn at(offset: usize, kind: DecodeErrorKind) -> Self {
        DecodeError { offset, kind }
    }
}

/// The bytes `event` needs once encoded, or an error for an overlong string.
pub fn encoded_len(event: &Event<'_>) -> Result<usize, EncodeError> {
    let mut len = slots_end(event.kind().def());
    event.try_for_each_value(|index, value| {
        if let Value::Str(text) = value {
            let bytes = text.byte_len();
            if bytes > MAX_STRING_BYTES {
                return Err(EncodeError::StringTooLong { field: index, bytes });
            }
            len = len.saturating_add(bytes);
        }
        Ok(())
    })?;
    Ok(align8(len).unwrap_or(usize::MAX))
}

fn slots_end(def: &KindDef) -> usize {
    layout::HEADER_LEN.saturating_add(usize::from(def.field_count()).saturating_mul(layout::SLOT_LEN))
}

/// Encodes `event` at the start of `buf` and returns the bytes written.
/// Nothing is allocated; a short buffer is an error naming the size needed,
/// and `buf` is then left untouched.
pub fn encode(
    event: &Event<'_>,
    sequence: u64,
    timestamp: u64,
    buf: &mut [u8],
) -> Result<usize, EncodeError> {
    let size = encoded_len(event)?;
    let available = buf.len();
    let out = buf.get_mut(..size).ok_or(EncodeError::BufferTooSmall { needed: size, available })?;
    // encoded_len sized every write, so this holds; were it ever not to, the
    // caller gets an error rather than a record with unwritten bytes.
    write_record(event, sequence, timestamp, out)
        .ok_or(EncodeError::BufferTooSmall { needed: size, available })?;
    Ok(size)
}

/// Writes every byte of `out`, which is exactly `encoded_len(event)` long.
fn write_record(event: &Event<'_>, sequence: u64, timestamp: u64, out: &mut [u8]) -> Option<()> {
    let def = event.kind().def();
    // `out.len()` fits in u32: it is at most MAX_RECORD_BYTES.
    let size = u32::try_from(out.len()).ok()?;
    let mut header = [0u8; layout::HEADER_LEN];
    bytes::put_u32(&mut header, layout::SIZE, size)?;
    bytes::put_u16(&mut header, layout::KIND, event.kind().code())?;
    bytes::put_u16(&mut header, layout::SCHEMA_VERSION, SCHEMA_VERSION)?;
    bytes::put_u64(&mut header, layout::SEQUENCE, sequence)?;
    bytes::put_u64(&mut header, layout::TIMESTAMP, timestamp)?;
    bytes::put_u16(&mut header, layout::FIELD_COUNT, u16::from(def.field_count()))?;
    let (head, body) = out.split_at_mut_checked(layout::HEADER_LEN)?;
    head.copy_from_slice(&header);
    let strings_start = slots_end(def);
    let slots_len = strings_start.checked_sub(layout::HEADER_LEN)?;
    let (slots, strings) = body.split_at_mut_checked(slots_len)?;
    // Zero the padding first with one 8-byte store (no memset call): the
    // string bytes written below overwrite the part that is not padding.
    match strings.last_chunk_mut::<{ layout::ALIGN }>() {
        Some(tail) => *tail = [0; layout::ALIGN],
        None => strings.fill(0),
    }
    let mut cursor = 0usize;
    let mut slots = slots.chunks_exact_mut(layout::SLOT_LEN);
    event
        .try_for_each_value(|_, value| {
            let raw = match value {
                Value::Str(text) => {
                    let at = u64::try_from(strings_start.checked_add(cursor).ok_or(())?).map_err(|_| ())?;
                    let len = u64::try_from(text.byte_len()).map_err(|_| ())?;
                    cursor = put_text(strings, cursor, text).ok_or(())?;
                    at | (len << 32)
                }
                other => other.as_u64().ok_or(())?,
            };
            slots.next().ok_or(())?.copy_from_slice(&raw.to_le_bytes());
            Ok::<(), ()>(())
        })
        .ok()
}

/// Writes `text` as UTF-16LE at `at`; returns where it ends.
fn put_text(out: &mut [u8], at: usize, text: Text<'_>) -> Option<usize> {
    let end = at.checked_add(text.byte_len())?;
    let dst = out.get_mut(at..end)?;
    match (text.as_le_bytes(), text.as_wide()) {
        (Some(src), _) => dst.copy_from_slice(src),
        (None, Some(units)) => {
            for (pair, unit) in dst.chunks_exact_mut(2).zip(units) {
                pair.copy_from_slice(&unit.to_le_bytes());
            }
        }
        (None, None) => return None,
    }
    Some(end)
}

/// A validated record: every accessor below is infallible because
/// [`Record::new_checked`] has checked every byte any of them reads.
///
/// # Invariants
/// `buf` is exactly one record of kind `def.kind`, `def.fields.len()` slots,
/// each scalar in range for its type and each string inside `buf` with even
/// length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    buf: &'a [u8],
    def: &'static KindDef,
}

impl<'a> Record<'a> {
    /// Validates `buf` as exactly one record (no bytes before or after).
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn new_checked(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let (record, rest) = Self::parse_prefix(buf)?;
        if rest.is_empty() {
            Ok(record)
        } else {
            Err(DecodeError::at(record.size(), DecodeErrorKind::Padding))
        }
    }

    /// Validates the record at the start of `buf`; returns it and the bytes after it.
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn parse_prefix(buf: &'a [u8]) -> Result<(Self, &'a [u8]), DecodeError> {
        let header = buf.get(..layout::HEADER_LEN).ok_or(DecodeError::at(
            buf.len(),
            DecodeErrorKind::Truncated { needed: layout::HEADER_LEN, available: buf.len() },
        ))?;
        let size32 = bytes::u32_at(header, layout::SIZE).unwrap_or(0);
        let size = usize::try_from(size32).unwrap_or(usize::MAX);
        if size < layout::HEADER_LEN || size % layout::ALIGN != 0 {
            return Err(DecodeError::at(layout::SIZE, DecodeErrorKind::BadSize { size: size32 }));
        }
        let (record, rest) = buf.split_at_checked(size).ok_or(DecodeError::at(
            buf.len(),
            DecodeErrorKind::Truncated { needed: size, available: buf.len() },
        ))?;
        let def = check_header(record)?;
        check_fields(record, def)?;
        // INVARIANT: header, slots, scalars, strings and padding were all checked above.
        Ok((Record { buf: record, def }, rest))
    }

    /// The record's bytes, padding included.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    pub fn size(&self) -> usize {
        self.buf.len()
    }

    pub fn kind(&self) -> EventKind {
        self.def.kind
    }

    pub fn def(&self) -> &'static KindDef {
        self.def
    }

    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn sequence(&self) -> u64 {
        bytes::u64_at(self.buf, layout::SEQUENCE).unwrap_or(0)
    }

    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn timestamp(&self) -> u64 {
        bytes::u64_at(self.buf, layout::TIMESTAMP).unwrap_or(0)
    }

    /// The typed event; every field was checked, so none is defaulted.
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn event(&self) -> Event<'a> {
        Event::from_fields(self).unwrap_or(Event::ProcessExit {
            pid: 0,
            exit_status: 0,
            time: 0,
            rule_name: Text::default(),
        })
    }
}

impl<'a> Fields<'a> for Record<'a> {
    fn kind(&self) -> EventKind {
        self.def.kind
    }

    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    fn field(&self, index: u8) -> Option<Value<'a>> {
        let ty = self.def.field(index)?.ty;
        let raw = bytes::u64_at(self.buf, slot_offset(index)?)?;
        decode_value(self.buf, ty, raw)
    }
}

fn slot_offset(index: u8) -> Option<usize> {
    usize::from(index).checked_mul(layout::SLOT_LEN)?.checked_add(layout::HEADER_LEN)
}

/// Interprets one slot; `None` when it is out of range for its type or, for a
/// string, outside `record` past the slots.
fn decode_value(record: &[u8], ty: FieldType, raw: u64) -> Option<Value<'_>> {
    Some(match ty {
        FieldType::U32 => Value::U32(u32::try_from(raw).ok()?),
        FieldType::U64 => Value::U64(raw),
        FieldType::Time => Value::Time(raw),
        FieldType::Bool => match raw {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            _ => return None,
        },
        FieldType::Str => {
            let (offset, len) = string_slot(raw);
            let end = offset.checked_add(len)?;
            Value::Str(Text::from_le_bytes(record.get(offset..end)?)?)
        }
    })
}

fn scalar_in_range(ty: FieldType, raw: u64) -> bool {
    match ty {
        FieldType::U32 => raw <= u64::from(u32::MAX),
        FieldType::Bool => raw <= 1,
        FieldType::U64 | FieldType::Time => true,
        FieldType::Str => false,
    }
}

fn string_slot(raw: u64) -> (usize, usize) {
    let offset = usize::try_from(raw & 0xFFFF_FFFF).unwrap_or(usize::MAX);
    let len = usize::try_from(raw >> 32).unwrap_or(usize::MAX);
    (offset, len)
}

fn check_header(record: &[u8]) -> Result<&'static KindDef, DecodeError> {
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
    if bytes::u32_at(record, layout::RESERVED) != Some(0) {
        return Err(DecodeError::at(layout::RESERVED, DecodeErrorKind::Reserved));
    }
    Ok(def)
}

/// One kind's slots as the fast check sees them.
#[derive(Clone, Copy)]
struct SlotRules {
    /// Per slot, the bits a valid scalar never sets (every limit is 2^k - 1);
    /// zero for strings, whose slots the second pass checks.
    excess: [u64; MAX_FIELDS],
    /// The string slots' indices, in field order.
    strings: [u8; MAX_FIELDS],
    string_count: usize,
}

/// The most fields any kind has, and one past the highest kind code.
const MAX_FIELDS: usize = schema_bounds().0;
const KIND_CODES: usize = schema_bounds().1;

const fn schema_bounds() -> (usize, usize) {
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
const fn slot_rules() -> [SlotRules; KIND_CODES] {
    let mut rules =
        [SlotRules { excess: [0; MAX_FIELDS], strings: [0; MAX_FIELDS], string_count: 0 }; KIND_CODES];
    let mut kinds = EventKind::ALL;
    while let Some((kind, rest)) = kinds.split_first() {
        let row = &mut rules[kind.code() as usize];
        // A kind has at most 255 fields: `KindDef::field_count` is a u8.
        let mut index = 0u8;
        let mut fields = kind.def().fields;
        while let Some((field, rest)) = fields.split_first() {
            row.excess[index as usize] = match field.ty {
                FieldType::U32 => !(u32::MAX as u64),
                FieldType::Bool => !1,
                FieldType::U64 | FieldType::Time | FieldType::Str => 0,
            };
            if matches!(field.ty, FieldType::Str) {
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

/// Whether every slot and the padding are valid: one branch-free pass over the
/// scalars, one short pass over the strings. Accepts exactly what
/// [`check_fields_precise`] accepts; that one runs only to name the fault.
#[inline]
fn fields_valid(record: &[u8], def: &KindDef) -> bool {
    let Some(rules) = SLOT_RULES.get(usize::from(def.kind.code())) else {
        return false;
    };
    let strings_start = slots_end(def);
    let Some(slots) = record.get(layout::HEADER_LEN..strings_start) else {
        return false;
    };
    let mut excess = 0u64;
    for (slot, bits) in slots.chunks_exact(layout::SLOT_LEN).zip(&rules.excess) {
        excess |= u64::from_le_bytes(slot.try_into().unwrap_or([0xFF; 8])) & bits;
    }
    let Some(strings) = rules.strings.get(..rules.string_count) else {
        return false;
    };
    // Each string starts where the last ended, so the final end bounds them all.
    let mut data_end = strings_start;
    for index in strings {
        let Some(raw) = slot_offset(*index).and_then(|at| bytes::u64_at(record, at)) else {
            return false;
        };
        let (offset, len) = string_slot(raw);
        if offset != data_end || len > MAX_STRING_BYTES || len % 2 != 0 {
            return false;
        }
        data_end = offset.saturating_add(len);
    }
    excess == 0
        && align8(data_end) == Some(record.len())
        && record.get(data_end..).is_some_and(|pad| pad.iter().all(|b| *b == 0))
}

fn check_fields(record: &[u8], def: &KindDef) -> Result<(), DecodeError> {
    if fields_valid(record, def) {
        return Ok(());
    }
    check_fields_precise(record, def)
}

#[cold]
fn check_fields_precise(record: &[u8], def: &KindDef) -> Result<(), DecodeError> {
    let strings_start = slots_end(def);
    let slots = record.get(layout::HEADER_LEN..strings_start).ok_or(DecodeError::at(
        layout::FIELD_COUNT,
        DecodeErrorKind::SlotsOutOfBounds { field_count: u16::from(def.field_count()) },
    ))?;
    // Strings sit back to back in field order right after the slots, as
    // `encode` lays them out: one valid encoding per event, no gaps or overlaps.
    let mut data_end = strings_start;
    let mut at = layout::HEADER_LEN;
    for ((index, field), slot) in (0u8..).zip(def.fields).zip(slots.chunks_exact(layout::SLOT_LEN)) {
        let raw = u64::from_le_bytes(slot.try_into().unwrap_or([0xFF; 8]));
        if field.ty == FieldType::Str {
            let (offset, len) = string_slot(raw);
            let end = offset
                .checked_add(len)
                .filter(|end| offset == data_end && *end <= record.len() && len <= MAX_STRING_BYTES)
                .ok_or(DecodeError::at(at, DecodeErrorKind::StringOutOfBounds { field: index }))?;
            if len % 2 != 0 {
                return Err(DecodeError::at(at, DecodeErrorKind::StringOddLength { field: index }));
            }
            data_end = end;
        } else if !scalar_in_range(field.ty, raw) {
            return Err(DecodeError::at(at, DecodeErrorKind::ScalarOutOfRange { field: index }));
        }
        at = at.saturating_add(layout::SLOT_LEN);
    }
    let padded = align8(data_end).unwrap_or(usize::MAX);
    let padding_is_zero = record.get(data_end..).is_some_and(|pad| pad.iter().all(|b| *b == 0));
    if padded != record.len() || !padding_is_zero {
        return Err(DecodeError::at(data_end, DecodeErrorKind::Padding));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    /// One record of every kind, strings of lengths 0, 1 and 3 units.
    fn records() -> Vec<Vec<u8>> {
        let (a, b, c): ([u16; 0], [u16; 1], [u16; 3]) = ([], [0x41], [0x43, 0x3a, 0x5c]);
        let events = [
            Event::ProcessStart {
                pid: 1,
                parent_pid: 2,
                creating_pid: 3,
                creating_tid: 4,
                session_id: 5,
                image_path: Text::wide(&c),
                command_line: Text::wide(&a),
                start_key: 6,
                create_time: 7,
                image_name_available: true,
                rule_name: Text::wide(&b),
            },
            Event::ProcessExit { pid: 1, exit_status: 2, time: 3, rule_name: Text::wide(&c) },
            Event::ImageLoad {
                pid: 1,
                image_path: Text::wide(&b),
                image_base: 2,
                image_size: 3,
                signature_level: 4,
                signature_type: 5,
                kernel_image: false,
                time: 6,
                rule_name: Text::wide(&a),
            },
            Event::LostEvents {
                count: 1,
                first_sequence: 2,
                last_sequence: 3,
                process_start: 4,
                process_exit: 5,
                image_load: 6,
                content_changed: 7,
            },
            Event::ContentChanged {
                accepted: true,
                content_version: 1,
                active_version: 2,
                reason: 3,
                offset: 4,
            },
        ];
        let mut out = Vec::new();
        for event in &events {
            let mut buf = std::vec![0u8; encoded_len(event).unwrap_or(0)];
            assert_eq!(encode(event, 9, 10, &mut buf), Ok(buf.len()));
            out.push(buf);
        }
        out
    }

    #[test]
    fn the_fast_field_check_accepts_exactly_what_the_precise_one_accepts() {
        let values: [u64; 10] = [0, 1, 2, 0xFFFF_FFFF, 1 << 32, u64::MAX, 0xFFFE, 0xFFFF, 0x8000_0000, 7];
        let mut checked = 0usize;
        for record in records() {
            let def = check_header(&record).unwrap_or(EventKind::ProcessExit.def());
            assert!(fields_valid(&record, def));
            for at in (layout::HEADER_LEN..record.len()).step_by(2) {
                for value in values {
                    for shift in [0u32, 16, 32, 48] {
                        let mut bytes = record.clone();
                        let word = (value << shift).to_le_bytes();
                        for (offset, byte) in word.iter().enumerate() {
                            if let Some(b) = bytes.get_mut(at.saturating_add(offset)) {
                                *b = *byte;
                            }
                        }
                        let fast = fields_valid(&bytes, def);
                        assert_eq!(fast, check_fields_precise(&bytes, def).is_ok(), "at {at}: {bytes:02x?}");
                        checked = checked.saturating_add(usize::from(!fast));
                    }
                }
            }
        }
        assert!(checked > 1000, "only {checked} mutations were rejected");
    }

    #[test]
    fn encode_zeroes_the_padding_whatever_the_buffer_held() {
        let units = [0x61u16; 7];
        for len in 0..units.len() {
            let name = Text::wide(units.get(..len).unwrap_or(&[]));
            let event = Event::ProcessExit { pid: 1, exit_status: 2, time: 3, rule_name: name };
            let mut buf = [0xAAu8; 88];
            let size = encode(&event, 4, 5, &mut buf).unwrap_or(0);
            assert_eq!(size, align8(64 + 2 * len).unwrap_or(0));
            let record = Record::new_checked(buf.get(..size).unwrap_or(&[]));
            assert_eq!(record.map(|r| r.event()), Ok(event), "{len} units");
        }
    }
}
