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
//! 24  field_count     u16  exactly the kind's kernel field count in that schema
//! 26  flags           u16  zero
//! 28  absent          u32  bit i: field i has no value (only optional fields; its slot is zero)
//! 32  slots           field_count × 8 bytes
//!       scalar: the value as u64 LE (u32 fits in 32 bits, bool is 0 or 1)
//!       string: offset u32 (from record start), byte length u32 (even, at
//!               most the field's declared max)
//!       ids:    offset u32, byte length u32 (a multiple of 4, at most the
//!               field's declared count of ids × 4)
//! ..  variable bytes  the present strings (UTF-16LE) and id lists (u32 LE
//!                     each, unaligned), in field order, back to back, then
//!                     zero padding to the 8-byte boundary
//! ```
//!
//! In an activity kind, the `truncated` field's bit i says string field i was
//! cut to its declared maximum: it is set only for a present string exactly
//! that long.
//!
//! Each event has exactly one encoding: the decoder accepts nothing `encode`
//! would not write, so a decoded record re-encodes to the same bytes.

mod check;
mod encode;

pub use encode::{encode, encode_sized, encoded_len};

use crate::bytes::{self, align8};
use crate::schema::{COMPANION_BASE, Event, EventKind, FieldType, Fields, KindDef, Lookup};
use crate::text::{Ids, Text, Value};
use check::{check_fields, check_header};

/// Byte offsets of the header fields.
pub mod layout {
    pub const SIZE: usize = 0;
    pub const KIND: usize = 4;
    pub const SCHEMA_VERSION: usize = 6;
    pub const SEQUENCE: usize = 8;
    pub const TIMESTAMP: usize = 16;
    pub const FIELD_COUNT: usize = 24;
    pub const FLAGS: usize = 26;
    /// `u32`: the absent bitmap.
    pub const ABSENT: usize = 28;
    pub const HEADER_LEN: usize = 32;
    pub const SLOT_LEN: usize = 8;
    pub const ALIGN: usize = 8;
}

/// The longest string a record carries, in bytes: a `UNICODE_STRING`'s limit.
/// Each string field declares its own maximum, at most this.
pub const MAX_STRING_BYTES: usize = 0xFFFE;

/// The largest record the schema allows: the kind with the most header, slot
/// and string bytes, every string at its declared maximum, padded.
pub const MAX_RECORD_BYTES: usize = max_record_bytes();

const fn max_record_bytes() -> usize {
    let mut max = 0usize;
    let mut kinds = EventKind::ALL;
    while let Some((kind, rest)) = kinds.split_first() {
        let mut len = layout::HEADER_LEN;
        let mut fields = kind.def().fields;
        while let Some((field, rest)) = fields.split_first() {
            len = len.saturating_add(layout::SLOT_LEN);
            len = len.saturating_add(field.max_bytes());
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
    /// A string field is longer than its declared maximum (`max` bytes).
    StringTooLong { field: u8, bytes: usize, max: usize },
    /// An id list holds more ids than its declared maximum.
    TooManyIds { field: u8, count: usize, max: usize },
    /// An id list of `count` ids, below its maximum, is followed by a rest
    /// count `rest` above zero: a list counts a rest only once it is full.
    RestBeforeFull { field: u8, count: usize, rest: u32 },
    /// The `truncated` field marks field `field`, which is not a present
    /// string at its declared maximum: the decoder would refuse the record.
    Truncation { field: u8 },
    /// [`encode_sized`] was given a buffer other than `encoded_len` bytes long.
    WrongSize { given: usize },
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
    /// Flag bits are set.
    Reserved,
    /// The absent bitmap marks field `field`, which is not an optional field
    /// of this kind (or not a field of it at all).
    NotOptional {
        field: u8,
    },
    /// An absent field's slot is not zero.
    AbsentNotZero {
        field: u8,
    },
    /// The slots do not fit in the declared size.
    SlotsOutOfBounds {
        field_count: u16,
    },
    /// A scalar slot holds a value its type cannot have.
    ScalarOutOfRange {
        field: u8,
    },
    /// `offset + len` overflows, leaves the record, or the string is not where
    /// the layout puts it: right after the previous present variable-length
    /// field's bytes (the first one right after the slots).
    StringOutOfBounds {
        field: u8,
    },
    /// A UTF-16LE string of odd byte length.
    StringOddLength {
        field: u8,
    },
    /// A string longer than its field's declared maximum of `max` bytes.
    StringTooLong {
        field: u8,
        bytes: usize,
        max: usize,
    },
    /// An id list's `offset + len` overflows, leaves the record, or the list
    /// is not right after the previous present variable-length field's bytes.
    IdsOutOfBounds {
        field: u8,
    },
    /// An id list whose byte length is not a multiple of 4.
    IdsLength {
        field: u8,
        bytes: usize,
    },
    /// An id list of `count` ids, more than its field's declared maximum.
    TooManyIds {
        field: u8,
        count: usize,
        max: usize,
    },
    /// An id list of `count` ids, fewer than its field's maximum, whose rest
    /// count (the u32 field after it) is `rest`, above zero: a list counts a
    /// rest only once it is full, so the two contradict each other.
    RestBeforeFull {
        field: u8,
        count: usize,
        rest: u32,
    },
    /// The `truncated` field marks field `field`, which is not a present
    /// string exactly at its declared maximum.
    Truncation {
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
/// A validated record: every accessor below is infallible because
/// [`Record::new_checked`] has checked every byte any of them reads.
///
/// # Invariants
/// `buf` is exactly one record of kind `def.kind`, `def.fields.len()` slots,
/// absent bits only for optional fields (their slots zero), each present
/// scalar in range for its type, each present string inside `buf` with
/// even length within its field's maximum, and each id list inside `buf` with
/// a length of whole ids within its field's maximum.
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

    /// The absent bitmap: bit `i` set when field `i` has no value.
    pub fn absent(&self) -> u32 {
        bytes::u32_at(self.buf, layout::ABSENT).unwrap_or(0)
    }

    /// The typed event; every field was checked, so none is defaulted.
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn event(&self) -> Event<'a> {
        Event::from_fields(self).unwrap_or(Event::LostEvents {
            count: 0,
            first_sequence: 0,
            last_sequence: 0,
            process_start: 0,
            process_exit: 0,
            image_load: 0,
            content_changed: 0,
        })
    }
}

impl<'a> Fields<'a> for Record<'a> {
    fn kind(&self) -> EventKind {
        self.def.kind
    }

    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    fn lookup(&self, index: u8) -> Lookup<'a> {
        if index >= COMPANION_BASE {
            return self.def.beyond_kernel(index);
        }
        let Some(def) = self.def.field(index) else { return Lookup::Absent };
        if self.absent().checked_shr(u32::from(index)).unwrap_or(0) & 1 == 1 {
            return Lookup::Absent;
        }
        let raw = slot_offset(index).and_then(|at| bytes::u64_at(self.buf, at));
        match raw.and_then(|raw| decode_value(self.buf, def.ty, raw)) {
            Some(value) => Lookup::Value(value),
            // Unreachable for a checked record (see the invariants).
            None => Lookup::Absent,
        }
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
        FieldType::Ids => {
            let (offset, len) = string_slot(raw);
            let end = offset.checked_add(len)?;
            Value::Ids(Ids::from_le_bytes(record.get(offset..end)?)?)
        }
    })
}

fn scalar_in_range(ty: FieldType, raw: u64) -> bool {
    match ty {
        FieldType::U32 => raw <= u64::from(u32::MAX),
        FieldType::Bool => raw <= 1,
        FieldType::U64 | FieldType::Time => true,
        FieldType::Str | FieldType::Ids => false,
    }
}

fn string_slot(raw: u64) -> (usize, usize) {
    let offset = usize::try_from(raw & 0xFFFF_FFFF).unwrap_or(usize::MAX);
    let len = usize::try_from(raw >> 32).unwrap_or(usize::MAX);
    (offset, len)
}

/// Where the variable area (strings, id lists) starts: after the header and one slot per field.
fn slots_end(def: &KindDef) -> usize {
    layout::HEADER_LEN.saturating_add(usize::from(def.field_count()).saturating_mul(layout::SLOT_LEN))
}

#[cfg(test)]
mod tests;
