//! The process table: what the driver remembers of each live process — start
//! key, image path, command line, user — so that a process start can name its
//! parent as it was at that moment, and an image load or an exit the process
//! it belongs to.
//!
//! - **Identity.** An entry is found by process id and used only if its start
//!   key is the one the kernel reports for that id now: a reused pid never
//!   inherits another process's image, user or parent.
//! - **Memory.** Bounded by `ProcessTableBytes` (see [`crate::params`]): one
//!   eighth of it for the index, a power-of-two slot array allocated once and
//!   kept at most half full (linear probing), the rest for the entries'
//!   strings, one pool allocation per entry, charged with its pool header.
//!   A released entry's block is kept for reuse (at most [`SPARE_BLOCKS`] of
//!   them, still charged), so that a start after an exit costs no allocation
//!   and the exit no free; kept blocks are released before any entry is evicted.
//! - **Limits.** Strings are cut to the schema's table limits (image path
//!   4,096 units, command line 16,384, SID 183), the cut counted and marked so
//!   that records carry it in `truncated`.
//! - **Eviction.** A full table (every slot it may use taken, or the strings'
//!   budget spent) evicts by the CLOCK policy, an approximation of least
//!   recently used: every lookup marks its entry; the eviction hand sweeps the
//!   slots, clearing marks, and evicts the first unmarked entry (at most two
//!   sweeps). Evictions are counted; a later lookup of an evicted process is a
//!   miss, which the kernel may fill again.
//! - **Release.** An entry goes after its process's exit record.
//!
//! Lookups take `&self` (callers hold the table's lock shared); marks and the
//! miss counters are atomics for that reason.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use ringfence_wire::ioctl::TableCounters;
use ringfence_wire::schema::limits::{SID_TEXT_UNITS, TABLE_COMMAND_LINE_UNITS, TABLE_IMAGE_PATH_UNITS};

/// Not enough pool for the table's index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMemory {
    pub bytes: usize,
}

/// What the table keeps of one process, borrowed for an insert.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Facts<'a> {
    pub image_path: Option<&'a [u16]>,
    pub command_line: Option<&'a [u16]>,
    pub user_sid: Option<&'a [u16]>,
}

/// One process as the table holds it, borrowed from the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Known<'t> {
    pub start_key: u64,
    pub image_path: Option<&'t [u16]>,
    pub command_line: Option<&'t [u16]>,
    pub user_sid: Option<&'t [u16]>,
    /// The image path was cut to [`TABLE_IMAGE_PATH_UNITS`].
    pub image_truncated: bool,
    /// The command line was cut to [`TABLE_COMMAND_LINE_UNITS`].
    pub command_truncated: bool,
}

impl<'a> Known<'a> {
    /// What the kernel reported of a process the table does not hold, cut to
    /// the table's limits as if it had been stored; returns how many strings
    /// were cut.
    pub fn from_facts(start_key: u64, facts: Facts<'a>) -> (Known<'a>, u64) {
        let image = facts.image_path.map(|v| clip(v, Part::Image.limit()));
        let command = facts.command_line.map(|v| clip(v, Part::Command.limit()));
        let sid = facts.user_sid.map(|v| clip(v, Part::Sid.limit()));
        let cut = |p: Option<(&[u16], bool)>| p.is_some_and(|(_, c)| c);
        let cuts = [image, command, sid].iter().filter(|p| cut(**p)).count();
        let cuts = u64::try_from(cuts).unwrap_or(0);
        let known = Known {
            start_key,
            image_path: image.map(|(v, _)| v),
            command_line: command.map(|(v, _)| v),
            user_sid: sid.map(|(v, _)| v),
            image_truncated: cut(image),
            command_truncated: cut(command),
        };
        (known, cuts)
    }
}

/// The three strings of an entry, in this order in its one allocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    Image = 0,
    Command = 1,
    Sid = 2,
}

impl Part {
    const fn limit(self) -> usize {
        match self {
            Part::Image => TABLE_IMAGE_PATH_UNITS as usize,
            Part::Command => TABLE_COMMAND_LINE_UNITS as usize,
            Part::Sid => SID_TEXT_UNITS as usize,
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }

    /// `value` cut to this part's limit, with this part's bit when it is present
    /// and when it was cut (an absent part: nothing, no bits).
    #[inline(always)]
    fn keep(self, value: Option<&[u16]>) -> (&[u16], u8, u8) {
        match value {
            None => (&[], 0, 0),
            Some(value) => {
                let (kept, cut) = clip(value, self.limit());
                (kept, self.bit(), if cut { self.bit() } else { 0 })
            }
        }
    }
}

/// `value` cut to `limit` units, and whether it was cut.
pub fn clip(value: &[u16], limit: usize) -> (&[u16], bool) {
    match value.get(..limit) {
        Some(head) if value.len() > limit => (head, true),
        _ => (value, false),
    }
}

/// One process in the table.
#[derive(Debug)]
struct Entry {
    pid: u32,
    start_key: u64,
    /// Image path, command line and user SID, back to back.
    units: Vec<u16>,
    /// Each part's length in units (0 when absent).
    lens: [u16; 3],
    /// Bit per [`Part`]: present, cut.
    present: u8,
    truncated: u8,
}

impl Entry {
    fn part(&self, part: Part) -> Option<&[u16]> {
        if self.present & part.bit() == 0 {
            return None;
        }
        let index = part as usize;
        let start: usize = self.lens.iter().take(index).map(|l| usize::from(*l)).sum();
        let len = usize::from(self.lens.get(index).copied().unwrap_or(0));
        self.units.get(start..start.saturating_add(len))
    }

    fn known(&self) -> Known<'_> {
        Known {
            start_key: self.start_key,
            image_path: self.part(Part::Image),
            command_line: self.part(Part::Command),
            user_sid: self.part(Part::Sid),
            image_truncated: self.truncated & Part::Image.bit() != 0,
            command_truncated: self.truncated & Part::Command.bit() != 0,
        }
    }

    /// The pool bytes its block costs (the block's capacity: a reused block may be
    /// longer than the strings it holds).
    fn charge(&self) -> usize {
        charge(self.units.capacity())
    }
}

/// Pool bytes one entry's strings cost: the allocation rounded to the pool's
/// 16-byte granule plus its 16-byte pool header; nothing when there are none.
pub const fn charge(units: usize) -> usize {
    if units == 0 {
        return 0;
    }
    let bytes = units.saturating_mul(2).saturating_add(15) & !15;
    bytes.saturating_add(POOL_HEADER_BYTES)
}

/// The pool header every x64 pool block carries.
pub const POOL_HEADER_BYTES: usize = 16;

#[derive(Debug, Default)]
struct Slot {
    /// The CLOCK mark: set by a lookup, cleared by the eviction hand.
    referenced: AtomicBool,
    entry: Option<Entry>,
}

/// The smallest index the table has (16 slots, 8 entries).
const MIN_SLOTS: usize = 16;

/// Released entries' blocks the table keeps for reuse.
pub const SPARE_BLOCKS: usize = 8;

/// Blocks released by entries, kept (and charged) so that the next entries need no
/// allocation; inline in the table, so keeping one never allocates. A stack: the
/// block released last is tried first (a start after an exit often fits it).
#[derive(Debug, Default)]
struct Spares {
    /// `blocks[..count]` are kept; the rest are empty.
    blocks: [Vec<u16>; SPARE_BLOCKS],
    count: usize,
    /// Pool bytes the kept blocks cost.
    bytes: usize,
}

impl Spares {
    /// Keeps `block` if there is room for it (an empty one costs nothing to drop).
    fn keep(&mut self, block: Vec<u16>) {
        if block.capacity() == 0 {
            return;
        }
        if let Some(free) = self.blocks.get_mut(self.count) {
            self.bytes = self.bytes.saturating_add(charge(block.capacity()));
            *free = block;
            self.count = self.count.saturating_add(1);
        }
    }

    /// A kept block that holds `units` without wasting more than it holds (the last one
    /// kept if it does, else the smallest that does), emptied; `None` when none fits.
    fn take(&mut self, units: usize) -> Option<Vec<u16>> {
        let fits = |capacity: usize| capacity >= units && capacity <= units.saturating_mul(2);
        let top = self.count.checked_sub(1)?;
        let at = match self.blocks.get(top) {
            Some(last) if fits(last.capacity()) => top,
            _ => {
                let kept = self.blocks.get(..self.count)?;
                let best = kept.iter().enumerate().filter(|(_, b)| fits(b.capacity()));
                best.min_by_key(|(_, b)| b.capacity())?.0
            }
        };
        let mut block = self.remove(at)?;
        block.clear();
        Some(block)
    }

    /// Frees the largest kept block; `false` when none is kept.
    fn release_one(&mut self) -> bool {
        let kept = self.blocks.get(..self.count).unwrap_or(&[]);
        let largest = kept.iter().enumerate().max_by_key(|(_, b)| b.capacity()).map(|(at, _)| at);
        match largest.and_then(|at| self.remove(at)) {
            Some(block) => {
                drop(block);
                true
            }
            None => false,
        }
    }

    /// Takes kept block `at` out, the last kept one moving into its place.
    fn remove(&mut self, at: usize) -> Option<Vec<u16>> {
        let top = self.count.checked_sub(1)?;
        if at > top {
            return None;
        }
        if at < top {
            let (low, high) = self.blocks.split_at_mut_checked(top)?;
            core::mem::swap(low.get_mut(at)?, high.first_mut()?);
        }
        let block = core::mem::take(self.blocks.get_mut(top)?);
        self.count = top;
        self.bytes = self.bytes.saturating_sub(charge(block.capacity()));
        Some(block)
    }
}

#[derive(Debug)]
pub struct ProcessTable {
    slots: Vec<Slot>,
    /// `slots.len() - 1`; the length is a power of two.
    mask: usize,
    /// log2 of `slots.len()`, for the hash.
    bits: u32,
    hand: usize,
    entries: usize,
    max_entries: usize,
    budget: usize,
    index_bytes: usize,
    /// Pool bytes of the live entries' blocks.
    string_bytes: usize,
    spares: Spares,
    inserts: u64,
    evictions: u64,
    truncations: AtomicU64,
    misses: AtomicU64,
    failures: AtomicU64,
}

impl ProcessTable {
    /// A table within `budget` bytes: its index is allocated now (and
    /// counted), its entries as processes arrive.
    pub fn with_budget(budget: usize) -> Result<Self, OutOfMemory> {
        let slot = core::mem::size_of::<Slot>().max(1);
        let fit = (budget / 8).checked_div(slot).unwrap_or(0).max(MIN_SLOTS);
        // The largest power of two that fits.
        let count = 1usize
            .checked_shl(usize::BITS.saturating_sub(1).saturating_sub(fit.leading_zeros()))
            .unwrap_or(MIN_SLOTS);
        let mut slots = Vec::new();
        let index_bytes = count.saturating_mul(slot);
        slots.try_reserve_exact(count).map_err(|_| OutOfMemory { bytes: index_bytes })?;
        slots.resize_with(count, Slot::default);
        Ok(ProcessTable {
            slots,
            mask: count.saturating_sub(1),
            bits: count.trailing_zeros(),
            hand: 0,
            entries: 0,
            max_entries: count / 2,
            budget,
            index_bytes,
            string_bytes: 0,
            spares: Spares::default(),
            inserts: 0,
            evictions: 0,
            truncations: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        })
    }

    /// The home slot of `pid` (Fibonacci hashing of pid / 4: pids are multiples of 4).
    fn home(&self, pid: u32) -> usize {
        let mixed = u64::from(pid >> 2).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let shift = 64u32.saturating_sub(self.bits);
        usize::try_from(mixed.checked_shr(shift).unwrap_or(0)).unwrap_or(0) & self.mask
    }

    fn next(&self, at: usize) -> usize {
        at.wrapping_add(1) & self.mask
    }

    /// The slot holding `pid`, if any.
    fn find(&self, pid: u32) -> Option<usize> {
        let mut at = self.home(pid);
        for _ in 0..self.slots.len() {
            match &self.slots.get(at)?.entry {
                None => return None,
                Some(entry) if entry.pid == pid => return Some(at),
                Some(_) => at = self.next(at),
            }
        }
        None
    }

    /// The process `pid` if the table holds it under `start_key`; marks it used.
    pub fn get(&self, pid: u32, start_key: u64) -> Option<Known<'_>> {
        let slot = self.slots.get(self.find(pid)?)?;
        let entry = slot.entry.as_ref().filter(|e| e.start_key == start_key)?;
        slot.referenced.store(true, Ordering::Relaxed);
        Some(entry.known())
    }

    /// A lookup found no entry for a process the kernel named.
    pub fn count_miss(&self) {
        self.misses.fetch_add(1, Ordering::Relaxed);
    }

    /// A miss the kernel could not fill: the record carries those fields absent.
    pub fn count_failure(&self) {
        self.failures.fetch_add(1, Ordering::Relaxed);
    }

    /// `cuts` strings reported straight from the kernel were cut to their limits.
    /// None cut: no atomic operation.
    pub fn count_truncations(&self, cuts: u64) {
        if cuts != 0 {
            self.truncations.fetch_add(cuts, Ordering::Relaxed);
        }
    }

    /// Records process `pid` under `start_key`, replacing any entry for `pid`;
    /// evicts to make room. `false` (and counted as a failure) when no pool
    /// is left for its strings.
    pub fn insert(&mut self, pid: u32, start_key: u64, facts: Facts<'_>) -> bool {
        // The three parts one after the other, not in a loop: each cut to its limit (which
        // fits a u16 length), with its present and cut bits.
        let (image, image_present, image_cut) = Part::Image.keep(facts.image_path);
        let (command, command_present, command_cut) = Part::Command.keep(facts.command_line);
        let (sid, sid_present, sid_cut) = Part::Sid.keep(facts.user_sid);
        let present = image_present | command_present | sid_present;
        let truncated = image_cut | command_cut | sid_cut;
        self.count_truncations(truncated.count_ones().into());
        let len = |kept: &[u16]| u16::try_from(kept.len()).unwrap_or(u16::MAX);
        let lens = [len(image), len(command), len(sid)];
        let total = image.len().saturating_add(command.len()).saturating_add(sid.len());
        let mut units = self.spares.take(total).unwrap_or_default();
        if units.try_reserve_exact(total).is_err() {
            self.count_failure();
            return false;
        }
        units.extend_from_slice(image);
        units.extend_from_slice(command);
        units.extend_from_slice(sid);
        let entry = Entry { pid, start_key, units, lens, present, truncated };
        if let Some(at) = self.find(pid) {
            self.delete(at);
        }
        let need = entry.charge();
        let strings_budget = self.budget.saturating_sub(self.index_bytes);
        while self.entries >= self.max_entries
            || self.string_bytes.saturating_add(self.spares.bytes).saturating_add(need) > strings_budget
        {
            // Kept blocks go before any entry does.
            if self.entries < self.max_entries && self.spares.release_one() {
                continue;
            }
            if !self.evict_one() {
                self.count_failure();
                return false;
            }
        }
        let mut at = self.home(pid);
        while self.slots.get(at).is_some_and(|s| s.entry.is_some()) {
            at = self.next(at);
        }
        let Some(slot) = self.slots.get_mut(at) else {
            self.count_failure();
            return false;
        };
        slot.referenced.store(true, Ordering::Relaxed);
        slot.entry = Some(entry);
        self.entries = self.entries.saturating_add(1);
        self.string_bytes = self.string_bytes.saturating_add(need);
        self.inserts = self.inserts.saturating_add(1);
        true
    }

    /// Forgets process `pid` if the table holds it under `start_key`.
    pub fn remove(&mut self, pid: u32, start_key: u64) -> bool {
        let Some(at) = self.find(pid) else { return false };
        let matches =
            self.slots.get(at).and_then(|s| s.entry.as_ref()).is_some_and(|e| e.start_key == start_key);
        if matches {
            self.delete(at);
        }
        matches
    }

    /// Evicts one entry by CLOCK; `false` when the table is empty.
    fn evict_one(&mut self) -> bool {
        for _ in 0..self.slots.len().saturating_mul(2) {
            let at = self.hand;
            self.hand = self.next(at);
            let Some(slot) = self.slots.get(at) else { continue };
            if slot.entry.is_none() || slot.referenced.swap(false, Ordering::Relaxed) {
                continue;
            }
            self.delete(at);
            self.evictions = self.evictions.saturating_add(1);
            return true;
        }
        false
    }

    /// Empties slot `at` and shifts later entries of its probe run back, so
    /// that every entry stays reachable from its home slot.
    fn delete(&mut self, at: usize) {
        let Some(removed) = self.slots.get_mut(at).and_then(|s| s.entry.take()) else { return };
        self.entries = self.entries.saturating_sub(1);
        self.string_bytes = self.string_bytes.saturating_sub(removed.charge());
        self.spares.keep(removed.units);
        let mut hole = at;
        let mut probe = self.next(at);
        // The table is at most half full, so an empty slot ends the run well
        // before a full turn.
        for _ in 0..self.slots.len() {
            let Some(pid) = self.slots.get(probe).and_then(|s| s.entry.as_ref()).map(|e| e.pid) else {
                return;
            };
            let home = self.home(pid);
            // The entry may fill the hole if the hole lies on its probe path.
            if probe.wrapping_sub(home) & self.mask >= probe.wrapping_sub(hole) & self.mask {
                let (entry, mark) = match self.slots.get_mut(probe) {
                    Some(s) => (s.entry.take(), s.referenced.swap(false, Ordering::Relaxed)),
                    None => return,
                };
                if let Some(s) = self.slots.get_mut(hole) {
                    s.entry = entry;
                    s.referenced.store(mark, Ordering::Relaxed);
                }
                hole = probe;
            }
            probe = self.next(probe);
        }
    }

    /// The table's size and counters, for `STATS`.
    pub fn counters(&self) -> TableCounters {
        let u32_of = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        TableCounters {
            capacity_bytes: u32_of(self.budget),
            used_bytes: u32_of(
                self.index_bytes.saturating_add(self.string_bytes).saturating_add(self.spares.bytes),
            ),
            entries: u32_of(self.entries),
            max_entries: u32_of(self.max_entries),
            inserts: self.inserts,
            evictions: self.evictions,
            truncations: self.truncations.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests;
