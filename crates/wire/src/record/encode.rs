//! Encoding into a caller's buffer: no allocation, every byte written.

use super::{EncodeError, layout, slots_end};
use crate::bytes::{self, align8};
use crate::schema::{Event, Fields, KindDef, SCHEMA_VERSION, ValueVisitor};
use crate::text::{ID_BYTES, Ids, Text, Value};

/// The bytes `event` needs once encoded, or an error for a string or an id
/// list over its field's maximum or a `truncated` bit the decoder would refuse.
pub fn encoded_len(event: &Event<'_>) -> Result<usize, EncodeError> {
    let def = event.kind().def();
    let mut len = EncodedLen { len: slots_end(def), def, at_max: 0, truncated: 0, short_list: None };
    event.visit_values(&mut len)?;
    // `truncated` may only name present strings at their maximum (see `record`).
    let stray = len.truncated & !len.at_max;
    if stray != 0 {
        let field = u8::try_from(stray.trailing_zeros()).unwrap_or(u8::MAX);
        return Err(EncodeError::Truncation { field });
    }
    Ok(align8(len.len).unwrap_or(usize::MAX))
}

/// Adds up the slots and the string bytes, refusing an overlong string, and
/// notes which strings are at their maximum and what `truncated` claims.
struct EncodedLen {
    len: usize,
    def: &'static KindDef,
    /// Bit `i`: string field `i` is present and exactly at its maximum.
    at_max: u32,
    /// The value of the kind's truncation field.
    truncated: u32,
    /// The last id list visited, when it is below its maximum: its index and
    /// length. Its rest count, the next field, must then be zero.
    short_list: Option<(u8, usize)>,
}

impl<'a> ValueVisitor<'a> for EncodedLen {
    type Error = EncodeError;

    #[inline(always)]
    fn visit(&mut self, index: u8, value: Option<Value<'a>>) -> Result<(), EncodeError> {
        let Some(value) = value else { return Ok(()) };
        let Some(field) = self.def.field(index) else { return Ok(()) };
        // An id list is followed by its rest count (checked where the schema is declared).
        if let Some((list, count)) = self.short_list.take()
            && let Value::U32(rest @ 1..) = value
            && index == list.saturating_add(1)
        {
            return Err(EncodeError::RestBeforeFull { field: list, count, rest });
        }
        match value {
            Value::Str(text) => {
                let (bytes, max) = (text.byte_len(), field.max_bytes());
                if bytes > max {
                    return Err(EncodeError::StringTooLong { field: index, bytes, max });
                }
                if bytes == max {
                    self.at_max |= 1u32.checked_shl(u32::from(index)).unwrap_or(0);
                }
                self.len = self.len.saturating_add(bytes);
            }
            Value::Ids(ids) => {
                let (count, max) = (ids.len(), usize::from(field.max_units));
                if count > max {
                    return Err(EncodeError::TooManyIds { field: index, count, max });
                }
                if count < max {
                    self.short_list = Some((index, count));
                }
                self.len = self.len.saturating_add(ids.byte_len());
            }
            Value::U32(v) if field.truncation => self.truncated = v,
            _ => {}
        }
        Ok(())
    }
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

/// Encodes `event` into `out`, which the caller has already sized with
/// [`encoded_len`] (a queue reserves the space first), so that the length is
/// not worked out twice on the callback path. `out` must be exactly that long:
/// any other length is refused with `WrongSize`, and `out` holds no record.
pub fn encode_sized(
    event: &Event<'_>,
    sequence: u64,
    timestamp: u64,
    out: &mut [u8],
) -> Result<(), EncodeError> {
    write_record(event, sequence, timestamp, out).ok_or(EncodeError::WrongSize { given: out.len() })
}

/// Writes every byte of `out`; `None` unless `out` is exactly `encoded_len(event)` long.
fn write_record(event: &Event<'_>, sequence: u64, timestamp: u64, out: &mut [u8]) -> Option<()> {
    let def = event.kind().def();
    // `out.len()` fits in u32: it is at most MAX_RECORD_BYTES.
    let size = u32::try_from(out.len()).ok()?;
    let (head, body) = out.split_at_mut_checked(layout::HEADER_LEN)?;
    let strings_start = slots_end(def);
    let slots_len = strings_start.checked_sub(layout::HEADER_LEN)?;
    let (slots, strings) = body.split_at_mut_checked(slots_len)?;
    // Zero the padding first with one 8-byte store (no memset call): the
    // string bytes written below overwrite the part that is not padding.
    match strings.last_chunk_mut::<{ layout::ALIGN }>() {
        Some(tail) => *tail = [0; layout::ALIGN],
        None => strings.fill(0),
    }
    let mut writer = SlotWriter {
        slots: slots.chunks_exact_mut(layout::SLOT_LEN),
        strings,
        strings_start,
        cursor: 0,
        absent: 0,
    };
    event.visit_values(&mut writer).ok()?;
    let mut header = [0u8; layout::HEADER_LEN];
    bytes::put_u32(&mut header, layout::SIZE, size)?;
    bytes::put_u16(&mut header, layout::KIND, event.kind().code())?;
    bytes::put_u16(&mut header, layout::SCHEMA_VERSION, SCHEMA_VERSION)?;
    bytes::put_u64(&mut header, layout::SEQUENCE, sequence)?;
    bytes::put_u64(&mut header, layout::TIMESTAMP, timestamp)?;
    bytes::put_u16(&mut header, layout::FIELD_COUNT, u16::from(def.field_count()))?;
    bytes::put_u32(&mut header, layout::ABSENT, writer.absent)?;
    head.copy_from_slice(&header);
    // Every byte is accounted for only if the strings end where the padding starts.
    let data_end = strings_start.checked_add(writer.cursor)?;
    (align8(data_end)? == usize::try_from(size).ok()?).then_some(())
}

/// Writes each field's slot and, for a present string, its bytes after the
/// previous one's; an absent field gets a zero slot and its absent bit.
struct SlotWriter<'o> {
    slots: core::slice::ChunksExactMut<'o, u8>,
    strings: &'o mut [u8],
    /// Where the string area starts, from the record start.
    strings_start: usize,
    /// Where the next string goes, from the start of the string area.
    cursor: usize,
    absent: u32,
}

impl<'a> ValueVisitor<'a> for SlotWriter<'_> {
    type Error = ();

    #[inline(always)]
    fn visit(&mut self, index: u8, value: Option<Value<'a>>) -> Result<(), ()> {
        let raw = match value {
            None => {
                self.absent |= 1u32.checked_shl(u32::from(index)).ok_or(())?;
                0
            }
            Some(Value::Str(text)) => {
                let at =
                    u64::try_from(self.strings_start.checked_add(self.cursor).ok_or(())?).map_err(|_| ())?;
                let len = u64::try_from(text.byte_len()).map_err(|_| ())?;
                self.cursor = put_text(self.strings, self.cursor, text).ok_or(())?;
                at | (len << 32)
            }
            Some(Value::Ids(ids)) => {
                let at =
                    u64::try_from(self.strings_start.checked_add(self.cursor).ok_or(())?).map_err(|_| ())?;
                let len = u64::try_from(ids.byte_len()).map_err(|_| ())?;
                self.cursor = put_ids(self.strings, self.cursor, ids).ok_or(())?;
                at | (len << 32)
            }
            Some(other) => other.as_u64().ok_or(())?,
        };
        self.slots.next().ok_or(())?.copy_from_slice(&raw.to_le_bytes());
        Ok(())
    }
}

/// Writes `ids` as `u32` LE each at `at`; returns where they end.
#[inline(always)]
fn put_ids(out: &mut [u8], at: usize, ids: Ids<'_>) -> Option<usize> {
    // Most records carry no ids (format 1, no content): nothing to write.
    if ids.is_empty() {
        return Some(at);
    }
    put_ids_at(out, at, ids)
}

fn put_ids_at(out: &mut [u8], at: usize, ids: Ids<'_>) -> Option<usize> {
    let end = at.checked_add(ids.byte_len())?;
    let dst = out.get_mut(at..end)?;
    for (quad, id) in dst.chunks_exact_mut(ID_BYTES).zip(ids.iter()) {
        quad.copy_from_slice(&id.to_le_bytes());
    }
    Some(end)
}

/// Writes `text` as UTF-16LE at `at`; returns where it ends.
#[inline(always)]
fn put_text(out: &mut [u8], at: usize, text: Text<'_>) -> Option<usize> {
    // An empty string (an untagged event's rule name) writes nothing.
    if text.is_empty() {
        return Some(at);
    }
    put_text_at(out, at, text)
}

fn put_text_at(out: &mut [u8], at: usize, text: Text<'_>) -> Option<usize> {
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
