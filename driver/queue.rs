//! The record queue: a preallocated byte ring holding whole 8-aligned records.
//!
//! A record is never split: when the space left before the end of the buffer is too
//! short, the end is marked and the record starts again at offset 0. A reader therefore
//! always copies whole records with at most two copies per call.

use alloc::vec::Vec;
use ringfence_wire::record::layout;

/// Not enough pool for the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMemory {
    pub bytes: usize,
}

/// The outcome of draining into a caller's buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Drained {
    /// `bytes` of `records` whole records were copied (both 0 when the queue is empty).
    Copied { bytes: usize, records: usize },
    /// The next record is `needed` bytes and the buffer is shorter; nothing was taken.
    TooSmall { needed: usize },
}

/// # Invariants
/// - `used == 0` exactly when the queue is empty; then `head == tail == 0` and `wrap` is `None`.
/// - Unwrapped, the records fill `head..tail`; wrapped (`wrap == Some(w)`), they fill
///   `head..w` then `0..tail`, with `tail <= head`.
/// - Every record starts with its own size (a multiple of 8, at least a header) and lies
///   wholly inside one of those ranges.
#[derive(Debug)]
pub struct Queue {
    buf: Vec<u8>,
    head: usize,
    tail: usize,
    wrap: Option<usize>,
    used: usize,
    records: usize,
    high_water: usize,
}

impl Queue {
    /// Allocates a queue of `bytes` (rounded down to a multiple of 8), zero-filled, or fails
    /// without panicking when the pool cannot supply it.
    pub fn with_capacity(bytes: usize) -> Result<Self, OutOfMemory> {
        let bytes = bytes & !(layout::ALIGN.wrapping_sub(1));
        let mut buf = Vec::new();
        buf.try_reserve_exact(bytes).map_err(|_| OutOfMemory { bytes })?;
        buf.resize(bytes, 0);
        // INVARIANT: empty.
        Ok(Queue { buf, head: 0, tail: 0, wrap: None, used: 0, records: 0, high_water: 0 })
    }

    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Bytes of queued records (not counting space skipped at a wrap).
    pub fn used(&self) -> usize {
        self.used
    }

    pub fn high_water(&self) -> usize {
        self.high_water
    }

    pub fn records(&self) -> usize {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.used == 0
    }

    /// Reserves `size` contiguous bytes and lets `write` fill them; the record is kept only
    /// when `write` returns true. `false` when there is no room (nothing changes then).
    pub fn push_with(&mut self, size: usize, write: impl FnOnce(&mut [u8]) -> bool) -> bool {
        if size < layout::HEADER_LEN || size % layout::ALIGN != 0 {
            return false;
        }
        let Some((at, wrap)) = self.place(size) else { return false };
        let Some(end) = at.checked_add(size) else { return false };
        let Some(slot) = self.buf.get_mut(at..end) else { return false };
        if !write(slot) || record_size(slot, 0) != Some(size) {
            return false;
        }
        // INVARIANT: the record lies in `at..end`, inside the free range `place` chose.
        if self.used == 0 {
            self.head = at;
        }
        self.wrap = wrap;
        self.tail = end;
        self.used = self.used.saturating_add(size);
        self.records = self.records.saturating_add(1);
        self.high_water = self.high_water.max(self.used);
        true
    }

    /// Where a record of `size` bytes goes, and the wrap mark after it is written.
    fn place(&self, size: usize) -> Option<(usize, Option<usize>)> {
        let capacity = self.buf.len();
        if self.used == 0 {
            return (size <= capacity).then_some((0, None));
        }
        match self.wrap {
            None if capacity.checked_sub(self.tail)? >= size => Some((self.tail, None)),
            // Not enough before the end: mark it and start over at 0, below the head.
            None if self.head >= size => Some((0, Some(self.tail))),
            None => None,
            Some(mark) if self.head.checked_sub(self.tail)? >= size => Some((self.tail, Some(mark))),
            Some(_) => None,
        }
    }

    /// Copies as many whole records as fit into `out`, oldest first, and removes them.
    pub fn drain_into(&mut self, out: &mut [u8]) -> Drained {
        let mut written = 0usize;
        let mut records = 0usize;
        while self.used != 0 {
            let segment_end = self.wrap.unwrap_or(self.tail);
            let room = out.len().saturating_sub(written);
            let (run, count) = self.whole_records(self.head, segment_end, room);
            if run == 0 {
                break;
            }
            let (Some(src), Some(dst)) = (
                self.buf.get(self.head..self.head.saturating_add(run)),
                out.get_mut(written..written.saturating_add(run)),
            ) else {
                break;
            };
            dst.copy_from_slice(src);
            written = written.saturating_add(run);
            records = records.saturating_add(count);
            self.consume(run, count);
            if self.head != 0 {
                break; // stopped for want of room; a drained upper segment moves the head to 0
            }
        }
        if written == 0 && self.used != 0 {
            let needed = record_size(&self.buf, self.head).unwrap_or(layout::HEADER_LEN);
            return Drained::TooSmall { needed };
        }
        Drained::Copied { bytes: written, records }
    }

    /// Bytes and count of the whole records from `from` that end at or before `end` and fit
    /// in `room` bytes.
    fn whole_records(&self, from: usize, end: usize, room: usize) -> (usize, usize) {
        let mut at = from;
        let mut count = 0usize;
        while at < end {
            let Some(size) = record_size(&self.buf, at) else { break };
            let Some(next) = at.checked_add(size) else { break };
            if next > end || next.saturating_sub(from) > room {
                break;
            }
            at = next;
            count = count.saturating_add(1);
        }
        (at.saturating_sub(from), count)
    }

    /// Drops `bytes` (`count` records) from the head.
    fn consume(&mut self, bytes: usize, count: usize) {
        self.head = self.head.saturating_add(bytes);
        self.used = self.used.saturating_sub(bytes);
        self.records = self.records.saturating_sub(count);
        if self.used == 0 {
            // INVARIANT: empty again; restart at 0 so the whole buffer is contiguous.
            self.head = 0;
            self.tail = 0;
            self.wrap = None;
        } else if self.wrap == Some(self.head) {
            // INVARIANT: the upper segment is drained; the records continue at 0.
            self.head = 0;
            self.wrap = None;
        }
    }
}

/// The size field of the record at `at`, when it is a plausible record size.
fn record_size(buf: &[u8], at: usize) -> Option<usize> {
    let end = at.checked_add(4)?;
    let bytes: [u8; 4] = buf.get(at..end)?.try_into().ok()?;
    let size = usize::try_from(u32::from_le_bytes(bytes)).ok()?;
    (size >= layout::HEADER_LEN && size % layout::ALIGN == 0).then_some(size)
}

#[cfg(test)]
mod tests;
