//! `STATS`: the driver's counters. Per event kind, in [`EventKind::ALL`]
//! order: how many were seen, filtered out by content, queued and dropped
//! for lack of queue space. Nothing is dropped silently, so every kind balances.
//! Then the process table's size and what it could not do (evictions, truncated
//! strings, misses and failed fills), then the volume map's (maps set and
//! refused, the one held), then the active content's (its format, and the evaluations of
//! format-2 content that could not decide: no pool for their scratch memory, or an error).

use super::{
    IoctlError, Message, PROCESS_TABLE_BYTES_MAX, PROCESS_TABLE_BYTES_MIN, QUEUE_BYTES_MAX, QUEUE_BYTES_MIN,
    check_header, emit_header, put_u32, put_u64, reserved_zero, u32_field, u64_field,
};
use crate::schema::EventKind;

/// How many kinds the counters cover: every kind of the running schema.
pub const KIND_COUNT: usize = EventKind::ALL.len();

/// Byte offsets of [`StatsResponse`].
pub mod stats_response {
    pub const SIZE: usize = 0;
    pub const VERSION: usize = 4;
    /// `u32`: [`super::Notes`] bits.
    pub const NOTES: usize = 8;
    pub const ACTIVE_CONTENT_VERSION: usize = 12;
    pub const QUEUE_CAPACITY_BYTES: usize = 16;
    pub const QUEUE_USED_BYTES: usize = 20;
    pub const QUEUE_HIGH_WATER_BYTES: usize = 24;
    pub const RESERVED: usize = 28;
    pub const CONTENT_LOADS_ACCEPTED: usize = 32;
    pub const CONTENT_LOADS_REJECTED: usize = 40;
    pub const RECORDS_DELIVERED: usize = 48;
    /// `u32`: the process table's budget (`ProcessTableBytes` as applied).
    pub const TABLE_CAPACITY_BYTES: usize = 56;
    /// `u32`: bytes the table uses now (its index and the strings of live entries).
    pub const TABLE_USED_BYTES: usize = 60;
    /// `u32`: processes in the table now.
    pub const TABLE_ENTRIES: usize = 64;
    /// `u32`: the most processes the table holds at once.
    pub const TABLE_MAX_ENTRIES: usize = 68;
    /// `u64` each: entries added, entries evicted to make room, strings cut to
    /// their limit, lookups that found no entry, misses that could not be filled.
    pub const TABLE_INSERTS: usize = 72;
    pub const TABLE_EVICTIONS: usize = 80;
    pub const TABLE_TRUNCATIONS: usize = 88;
    pub const TABLE_MISSES: usize = 96;
    pub const TABLE_FAILURES: usize = 104;
    /// [`super::KIND_COUNT`] entries of `KIND_LEN` bytes: seen, filtered, queued, dropped (`u64` each).
    pub const KINDS: usize = 112;
    pub const KIND_SEEN: usize = 0;
    pub const KIND_FILTERED: usize = 8;
    pub const KIND_QUEUED: usize = 16;
    pub const KIND_DROPPED: usize = 24;
    pub const KIND_LEN: usize = 32;
    /// After the kinds, the volume map block: `u64` maps set (each replaced the one held),
    /// `u64` maps refused, `u32` entries of the map held, `u32` its bytes (0: none held).
    pub const VOLUME_MAP: usize = KINDS.saturating_add(super::KIND_COUNT.saturating_mul(KIND_LEN));
    pub const VOLUME_MAP_SETS: usize = VOLUME_MAP;
    pub const VOLUME_MAP_REFUSED: usize = VOLUME_MAP.saturating_add(8);
    pub const VOLUME_MAP_ENTRIES: usize = VOLUME_MAP.saturating_add(16);
    pub const VOLUME_MAP_BYTES: usize = VOLUME_MAP.saturating_add(20);
    /// After the volume map, the content block: `u32` the active content's format (0: none
    /// loaded, 1 or 2), `u32` reserved (zero), `u64` format-2 evaluations without pool for
    /// their scratch memory, `u64` format-2 evaluations that stopped with an error (both
    /// kept their event with every detection rule of its kind undecided).
    pub const CONTENT: usize = VOLUME_MAP.saturating_add(24);
    pub const CONTENT_FORMAT: usize = CONTENT;
    pub const CONTENT_RESERVED: usize = CONTENT.saturating_add(4);
    pub const CONTENT_SCRATCH_FAILURES: usize = CONTENT.saturating_add(8);
    pub const CONTENT_EVALUATION_ERRORS: usize = CONTENT.saturating_add(16);
    pub const LEN: usize = CONTENT.saturating_add(24);
    /// The layout version; it changes whenever the layout changes (version 2
    /// added the process table block, version 3 the volume map block, version 4
    /// the content block), including when the schema adds a kind.
    pub const LAYOUT_VERSION: u32 = 4;
}

/// The four counters of one event kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct KindCounters {
    /// Events the callbacks produced.
    pub seen: u64,
    /// Events content dropped.
    pub filtered: u64,
    /// Records put in the queue.
    pub queued: u64,
    /// Records lost because the queue was full (reported by `LostEvents`).
    pub dropped: u64,
}

impl KindCounters {
    /// Every event seen was filtered, queued or dropped.
    pub fn balanced(&self) -> bool {
        self.filtered.checked_add(self.queued).and_then(|n| n.checked_add(self.dropped)) == Some(self.seen)
    }
}

/// Why the driver's settings differ from what was asked, as bit flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Notes(u32);

impl Notes {
    /// The queue-size registry value had a wrong type or size: the default was used.
    pub const QUEUE_BYTES_PARAM_INVALID: Self = Notes(1);
    /// The queue-size registry value was outside the limits and was clamped.
    pub const QUEUE_BYTES_CLAMPED: Self = Notes(1 << 1);
    /// At this start the crash-loop guard stepped past persisted content (see `TRUST`).
    pub const CONTENT_FALLBACK: Self = Notes(1 << 2);
    /// A content-trust parameter had a wrong type or value: its default is used.
    pub const TRUST_PARAM_INVALID: Self = Notes(1 << 3);
    /// The `TrustedKeys` value was refused whole: no provisioned key is trusted.
    pub const TRUSTED_KEYS_INVALID: Self = Notes(1 << 4);
    /// The process-table-size registry value had a wrong type or size: the default was used.
    pub const PROCESS_TABLE_BYTES_PARAM_INVALID: Self = Notes(1 << 5);
    /// The process-table-size registry value was outside the limits and was clamped.
    pub const PROCESS_TABLE_BYTES_CLAMPED: Self = Notes(1 << 6);
    pub const ALL: Self = Notes(0b111_1111);
    pub const NONE: Self = Notes(0);

    /// The flags `bits` stands for; `None` when an unknown bit is set.
    pub const fn from_bits(bits: u32) -> Option<Self> {
        if bits & !Self::ALL.0 == 0 { Some(Notes(bits)) } else { None }
    }

    pub const fn bits(self) -> u32 {
        self.0
    }

    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    pub const fn union(self, other: Self) -> Self {
        Notes(self.0 | other.0)
    }
}

impl core::ops::BitOr for Notes {
    type Output = Self;
    fn bitor(self, other: Self) -> Self {
        self.union(other)
    }
}

/// The process table's size and counters (see `driver/processes` for the policy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TableCounters {
    /// The table's budget in bytes (`ProcessTableBytes` as applied).
    pub capacity_bytes: u32,
    /// Bytes in use: the index and the strings of the live entries.
    pub used_bytes: u32,
    /// Processes in the table now.
    pub entries: u32,
    /// The most processes the table holds at once.
    pub max_entries: u32,
    /// Entries added (process starts and fills of processes met first elsewhere).
    pub inserts: u64,
    /// Entries removed to make room for others.
    pub evictions: u64,
    /// Strings cut to their documented limit when stored.
    pub truncations: u64,
    /// Lookups (parent, loading or exiting process) that found no entry for
    /// that process id and start key.
    pub misses: u64,
    /// Misses the kernel could not fill (process gone, query refused, no
    /// memory): the record carries those fields absent.
    pub failures: u64,
}

/// The volume map the driver holds (`SET_VOLUME_MAP`) and what became of the maps offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct VolumeMapCounters {
    /// Maps accepted, each replacing the one held.
    pub sets: u64,
    /// Maps refused (malformed, too large, no pool); the one held stayed.
    pub refused: u64,
    /// Entries of the map held.
    pub entries: u32,
    /// Bytes of the map held; 0 when none is held.
    pub bytes: u32,
}

/// The active content's format and what format-2 evaluation could not do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ContentCounters {
    /// The active content's format version: 0 when none is loaded, 1 or 2.
    pub format: u32,
    /// Format-2 evaluations that found no pool for their scratch memory.
    pub scratch_failures: u64,
    /// Evaluations (either format) cut off at the per-event work limit
    /// (`ringfence_content::EVENT_WORK_LIMIT`; the event is kept, undecided), or
    /// (format 2) stopped with another error.
    pub evaluation_errors: u64,
}

/// The highest content format version STATS can report.
pub const MAX_CONTENT_FORMAT: u32 = 2;

/// A snapshot of the driver's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct StatsResponse {
    /// Indexed like [`EventKind::ALL`]; see [`StatsResponse::kind`].
    pub kinds: [KindCounters; KIND_COUNT],
    pub content_loads_accepted: u64,
    pub content_loads_rejected: u64,
    pub active_content_version: u32,
    pub queue_capacity_bytes: u32,
    pub queue_used_bytes: u32,
    pub queue_high_water_bytes: u32,
    /// Records handed out by `READ`.
    pub records_delivered: u64,
    pub notes: Notes,
    pub process_table: TableCounters,
    pub volume_map: VolumeMapCounters,
    pub content: ContentCounters,
}

impl StatsResponse {
    pub const LEN: usize = stats_response::LEN;
    pub const LAYOUT_VERSION: u32 = stats_response::LAYOUT_VERSION;

    /// The counters of `kind`.
    pub fn kind(&self, kind: EventKind) -> KindCounters {
        let at = EventKind::ALL.iter().position(|k| *k == kind);
        at.and_then(|at| self.kinds.get(at)).copied().unwrap_or_default()
    }

    /// The counters of `kind`, to update.
    pub fn kind_mut(&mut self, kind: EventKind) -> Option<&mut KindCounters> {
        let at = EventKind::ALL.iter().position(|k| *k == kind)?;
        self.kinds.get_mut(at)
    }

    /// For every kind: seen == filtered + queued + dropped.
    pub fn balanced(&self) -> bool {
        self.kinds.iter().all(KindCounters::balanced)
    }

    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn parse(buf: &[u8]) -> Result<Self, IoctlError> {
        use stats_response as at;
        check_header(buf, Self::LEN, Self::LAYOUT_VERSION)?;
        let notes =
            Notes::from_bits(u32_field(buf, at::NOTES)).ok_or(IoctlError::Value { offset: at::NOTES })?;
        let capacity = u32_field(buf, at::QUEUE_CAPACITY_BYTES);
        if !(QUEUE_BYTES_MIN..=QUEUE_BYTES_MAX).contains(&capacity) {
            return Err(IoctlError::Value { offset: at::QUEUE_CAPACITY_BYTES });
        }
        let high_water = u32_field(buf, at::QUEUE_HIGH_WATER_BYTES);
        if high_water > capacity {
            return Err(IoctlError::Value { offset: at::QUEUE_HIGH_WATER_BYTES });
        }
        let used = u32_field(buf, at::QUEUE_USED_BYTES);
        if used > high_water {
            return Err(IoctlError::Value { offset: at::QUEUE_USED_BYTES });
        }
        reserved_zero(buf, at::RESERVED)?;
        let process_table = parse_table(buf)?;
        let mut kinds = [KindCounters::default(); KIND_COUNT];
        let mut base = at::KINDS;
        for counters in &mut kinds {
            *counters = KindCounters {
                seen: u64_field(buf, base.saturating_add(at::KIND_SEEN)),
                filtered: u64_field(buf, base.saturating_add(at::KIND_FILTERED)),
                queued: u64_field(buf, base.saturating_add(at::KIND_QUEUED)),
                dropped: u64_field(buf, base.saturating_add(at::KIND_DROPPED)),
            };
            base = base.saturating_add(at::KIND_LEN);
        }
        Ok(StatsResponse {
            kinds,
            content_loads_accepted: u64_field(buf, at::CONTENT_LOADS_ACCEPTED),
            content_loads_rejected: u64_field(buf, at::CONTENT_LOADS_REJECTED),
            active_content_version: u32_field(buf, at::ACTIVE_CONTENT_VERSION),
            queue_capacity_bytes: capacity,
            queue_used_bytes: used,
            queue_high_water_bytes: high_water,
            records_delivered: u64_field(buf, at::RECORDS_DELIVERED),
            notes,
            process_table,
            volume_map: parse_volume_map(buf)?,
            content: parse_content(buf)?,
        })
    }

    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, IoctlError> {
        use stats_response as at;
        let out = emit_header(buf, Self::LEN, Self::LAYOUT_VERSION)?;
        put_u32(out, at::NOTES, self.notes.bits());
        put_u32(out, at::ACTIVE_CONTENT_VERSION, self.active_content_version);
        put_u32(out, at::QUEUE_CAPACITY_BYTES, self.queue_capacity_bytes);
        put_u32(out, at::QUEUE_USED_BYTES, self.queue_used_bytes);
        put_u32(out, at::QUEUE_HIGH_WATER_BYTES, self.queue_high_water_bytes);
        put_u64(out, at::CONTENT_LOADS_ACCEPTED, self.content_loads_accepted);
        put_u64(out, at::CONTENT_LOADS_REJECTED, self.content_loads_rejected);
        put_u64(out, at::RECORDS_DELIVERED, self.records_delivered);
        let table = &self.process_table;
        put_u32(out, at::TABLE_CAPACITY_BYTES, table.capacity_bytes);
        put_u32(out, at::TABLE_USED_BYTES, table.used_bytes);
        put_u32(out, at::TABLE_ENTRIES, table.entries);
        put_u32(out, at::TABLE_MAX_ENTRIES, table.max_entries);
        put_u64(out, at::TABLE_INSERTS, table.inserts);
        put_u64(out, at::TABLE_EVICTIONS, table.evictions);
        put_u64(out, at::TABLE_TRUNCATIONS, table.truncations);
        put_u64(out, at::TABLE_MISSES, table.misses);
        put_u64(out, at::TABLE_FAILURES, table.failures);
        let mut base = at::KINDS;
        for counters in &self.kinds {
            put_u64(out, base.saturating_add(at::KIND_SEEN), counters.seen);
            put_u64(out, base.saturating_add(at::KIND_FILTERED), counters.filtered);
            put_u64(out, base.saturating_add(at::KIND_QUEUED), counters.queued);
            put_u64(out, base.saturating_add(at::KIND_DROPPED), counters.dropped);
            base = base.saturating_add(at::KIND_LEN);
        }
        put_u64(out, at::VOLUME_MAP_SETS, self.volume_map.sets);
        put_u64(out, at::VOLUME_MAP_REFUSED, self.volume_map.refused);
        put_u32(out, at::VOLUME_MAP_ENTRIES, self.volume_map.entries);
        put_u32(out, at::VOLUME_MAP_BYTES, self.volume_map.bytes);
        put_u32(out, at::CONTENT_FORMAT, self.content.format);
        put_u64(out, at::CONTENT_SCRATCH_FAILURES, self.content.scratch_failures);
        put_u64(out, at::CONTENT_EVALUATION_ERRORS, self.content.evaluation_errors);
        Ok(Self::LEN)
    }
}

/// The process table block: a budget within the limits, no more used than
/// the budget, no more entries than the table holds.
fn parse_table(buf: &[u8]) -> Result<TableCounters, IoctlError> {
    use stats_response as at;
    let capacity_bytes = u32_field(buf, at::TABLE_CAPACITY_BYTES);
    if !(PROCESS_TABLE_BYTES_MIN..=PROCESS_TABLE_BYTES_MAX).contains(&capacity_bytes) {
        return Err(IoctlError::Value { offset: at::TABLE_CAPACITY_BYTES });
    }
    let used_bytes = u32_field(buf, at::TABLE_USED_BYTES);
    if used_bytes > capacity_bytes {
        return Err(IoctlError::Value { offset: at::TABLE_USED_BYTES });
    }
    let max_entries = u32_field(buf, at::TABLE_MAX_ENTRIES);
    if max_entries == 0 || max_entries > capacity_bytes {
        return Err(IoctlError::Value { offset: at::TABLE_MAX_ENTRIES });
    }
    let entries = u32_field(buf, at::TABLE_ENTRIES);
    if entries > max_entries {
        return Err(IoctlError::Value { offset: at::TABLE_ENTRIES });
    }
    Ok(TableCounters {
        capacity_bytes,
        used_bytes,
        entries,
        max_entries,
        inserts: u64_field(buf, at::TABLE_INSERTS),
        evictions: u64_field(buf, at::TABLE_EVICTIONS),
        truncations: u64_field(buf, at::TABLE_TRUNCATIONS),
        misses: u64_field(buf, at::TABLE_MISSES),
        failures: u64_field(buf, at::TABLE_FAILURES),
    })
}

/// The volume map block: a map held within the format's limits, no entries without one.
fn parse_volume_map(buf: &[u8]) -> Result<VolumeMapCounters, IoctlError> {
    use crate::volume_map::{MAX_ENTRIES, MAX_MAP_BYTES};
    use stats_response as at;
    let bytes = u32_field(buf, at::VOLUME_MAP_BYTES);
    if usize::try_from(bytes).map_or(true, |b| b > MAX_MAP_BYTES) {
        return Err(IoctlError::Value { offset: at::VOLUME_MAP_BYTES });
    }
    let entries = u32_field(buf, at::VOLUME_MAP_ENTRIES);
    if usize::try_from(entries).map_or(true, |e| e > MAX_ENTRIES) || (bytes == 0 && entries != 0) {
        return Err(IoctlError::Value { offset: at::VOLUME_MAP_ENTRIES });
    }
    Ok(VolumeMapCounters {
        sets: u64_field(buf, at::VOLUME_MAP_SETS),
        refused: u64_field(buf, at::VOLUME_MAP_REFUSED),
        entries,
        bytes,
    })
}

/// The content block: a format this layout knows, the reserved word zero.
fn parse_content(buf: &[u8]) -> Result<ContentCounters, IoctlError> {
    use stats_response as at;
    let format = u32_field(buf, at::CONTENT_FORMAT);
    if format > MAX_CONTENT_FORMAT {
        return Err(IoctlError::Value { offset: at::CONTENT_FORMAT });
    }
    reserved_zero(buf, at::CONTENT_RESERVED)?;
    Ok(ContentCounters {
        format,
        scratch_failures: u64_field(buf, at::CONTENT_SCRATCH_FAILURES),
        evaluation_errors: u64_field(buf, at::CONTENT_EVALUATION_ERRORS),
    })
}

impl Message for StatsResponse {
    const LEN: usize = stats_response::LEN;
    fn parse(buf: &[u8]) -> Result<Self, IoctlError> {
        StatsResponse::parse(buf)
    }
    fn emit(&self, buf: &mut [u8]) -> Result<usize, IoctlError> {
        StatsResponse::emit(self, buf)
    }
}
