//! The channel from callbacks to the reader: the queue, gap-free sequence numbers, the
//! drop accounting and the reader's waker, all behind one lock.
//!
//! Every sequence number is accounted for: a record carrying it was queued, or it lies in
//! the `first_sequence..=last_sequence` range of exactly one `LostEvents` record. Drops are
//! contiguous because while a loss is pending, every new event is dropped too until the
//! `LostEvents` record itself fits; it is then queued ahead of the next event.

use crate::platform::Wake;
use crate::queue::{Drained, Queue};
use ringfence_wire::ioctl::{KIND_COUNT, KindCounters};
use ringfence_wire::record;
use ringfence_wire::schema::{Event, EventKind, Fields};

/// What happened to an offered event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pushed {
    Queued {
        sequence: u64,
    },
    /// No room: counted, and reported by the next `LostEvents` record.
    Dropped {
        sequence: u64,
    },
}

/// Events lost since the last `LostEvents` record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Loss {
    first: u64,
    last: u64,
    count: u64,
    per_kind: [u64; KIND_COUNT],
}

#[derive(Debug)]
pub struct Channel<W> {
    queue: Queue,
    next_sequence: u64,
    loss: Option<Loss>,
    counters: [KindCounters; KIND_COUNT],
    records_delivered: u64,
    waker: Option<W>,
}

fn kind_index(kind: EventKind) -> usize {
    EventKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

impl<W: Wake> Channel<W> {
    /// The first record carries sequence number 1.
    pub fn new(queue: Queue) -> Self {
        Channel {
            queue,
            next_sequence: 1,
            loss: None,
            counters: [KindCounters::default(); KIND_COUNT],
            records_delivered: 0,
            waker: None,
        }
    }

    pub fn queue(&self) -> &Queue {
        &self.queue
    }

    /// Counters per kind, in [`EventKind::ALL`] order.
    pub fn counters(&self) -> &[KindCounters; KIND_COUNT] {
        &self.counters
    }

    pub fn records_delivered(&self) -> u64 {
        self.records_delivered
    }

    fn counter(&mut self, kind: EventKind) -> Option<&mut KindCounters> {
        self.counters.get_mut(kind_index(kind))
    }

    /// Content dropped an event of `kind`.
    pub fn filtered(&mut self, kind: EventKind) {
        if let Some(c) = self.counter(kind) {
            c.seen = c.seen.saturating_add(1);
            c.filtered = c.filtered.saturating_add(1);
        }
    }

    /// Offers `event` to the queue with timestamp `now`.
    pub fn push(&mut self, event: &Event<'_>, now: u64) -> Pushed {
        let kind = event.kind();
        self.report_loss(now);
        let sequence = self.take_sequence();
        let queued = self.loss.is_none() && self.enqueue(event, sequence, now);
        let counter = self.counter(kind);
        if let Some(c) = counter {
            c.seen = c.seen.saturating_add(1);
            if queued {
                c.queued = c.queued.saturating_add(1);
            } else {
                c.dropped = c.dropped.saturating_add(1);
            }
        }
        if queued {
            return Pushed::Queued { sequence };
        }
        let loss = self.loss.get_or_insert(Loss {
            first: sequence,
            last: sequence,
            count: 0,
            per_kind: [0; KIND_COUNT],
        });
        loss.last = sequence;
        loss.count = loss.count.saturating_add(1);
        if let Some(n) = loss.per_kind.get_mut(kind_index(kind)) {
            *n = n.saturating_add(1);
        }
        Pushed::Dropped { sequence }
    }

    /// Copies whole records into `out`: `Ok(bytes)` (0 when empty) or `Err(needed)` when
    /// the next record does not fit. Freed space first goes to a pending `LostEvents`.
    pub fn read(&mut self, out: &mut [u8], now: u64) -> Result<usize, usize> {
        let drained = self.queue.drain_into(out);
        self.report_loss(now);
        match drained {
            Drained::Copied { bytes, records } => {
                let records = u64::try_from(records).unwrap_or(u64::MAX);
                self.records_delivered = self.records_delivered.saturating_add(records);
                Ok(bytes)
            }
            Drained::TooSmall { needed } => Err(needed),
        }
    }

    /// Installs `waker` (or none) and hands back the previous one, to be released by the
    /// caller outside the lock. A waker installed while records already wait is woken at
    /// once: records only wake the reader when the queue turns non-empty, a moment that has
    /// passed, and a reader that waits before it reads would otherwise sleep on them.
    pub fn replace_waker(&mut self, waker: Option<W>) -> Option<W> {
        let previous = core::mem::replace(&mut self.waker, waker);
        if !self.queue.is_empty() {
            if let Some(waker) = &self.waker {
                waker.wake();
            }
        }
        previous
    }

    fn take_sequence(&mut self) -> u64 {
        let sequence = self.next_sequence;
        self.next_sequence = sequence.wrapping_add(1);
        sequence
    }

    /// Queues the pending `LostEvents` record if it fits now.
    fn report_loss(&mut self, now: u64) {
        let Some(loss) = self.loss else { return };
        let count = |kind| loss.per_kind.get(kind_index(kind)).copied().unwrap_or(0);
        let event = Event::LostEvents {
            count: loss.count,
            first_sequence: loss.first,
            last_sequence: loss.last,
            process_start: count(EventKind::ProcessStart),
            process_exit: count(EventKind::ProcessExit),
            image_load: count(EventKind::ImageLoad),
            content_changed: count(EventKind::ContentChanged),
        };
        let sequence = self.next_sequence;
        if self.enqueue(&event, sequence, now) {
            self.take_sequence();
            self.loss = None;
            if let Some(c) = self.counter(EventKind::LostEvents) {
                c.seen = c.seen.saturating_add(1);
                c.queued = c.queued.saturating_add(1);
            }
        }
    }

    /// Encodes `event` straight into the queue; wakes the reader when the queue was empty.
    fn enqueue(&mut self, event: &Event<'_>, sequence: u64, now: u64) -> bool {
        let Ok(size) = record::encoded_len(event) else { return false };
        let was_empty = self.queue.is_empty();
        let queued =
            self.queue.push_with(size, |slot| record::encode_sized(event, sequence, now, slot).is_ok());
        if queued && was_empty {
            if let Some(waker) = &self.waker {
                waker.wake();
            }
        }
        queued
    }
}

#[cfg(test)]
mod tests;
