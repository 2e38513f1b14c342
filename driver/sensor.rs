//! The sensor: what a callback does with an event, and the state IOCTLs act on.
//!
//! Lock order: process table (shared) before content (shared) before channel (exclusive);
//! nothing takes them the other way round, and the table is taken exclusive only alone
//! (see [`crate::activity`]). Callbacks evaluate under the content lock held shared, then
//! encode straight into the queue under the channel lock: bounded work, and at most one
//! `KeSetEvent` (under the channel lock, so CLEANUP cannot release the event under it).
//! The allocations on a callback path are a process table entry (at a process start, or
//! when a process the table lacks is filled) and, for such a fill, the kernel's command
//! line answer, and with format-2 content the evaluation's scratch memory
//! ([`crate::evaluation`]); each may fail, costing only the values it would have held (the
//! scratch memory: the decision, so the event is kept).
//! Loading content ([`loading`]) takes the trust lock first, then content, then channel;
//! callbacks never take the trust lock. STATS takes each lock alone, one after the other:
//! reading trust under the channel lock closed a cycle with a load (trust, waiting for
//! content) and a callback (content, waiting for the channel). The volume map's lock is a
//! leaf: taken shared inside evaluation or alone, and nothing is taken while it is held.

mod loading;

pub use loading::{Offered, StartSettings, Trust};

use crate::channel::{Channel, Pushed};
use crate::content_slot::{Accepted, Active, ContentSlot};
use crate::evaluation::{self, Kept, KernelInput, Outcome};
use crate::health::TrialWatch;
use crate::platform::{Guard, Platform};
use crate::processes::ProcessTable;
use crate::queue::Queue;
use crate::volume_slot::{self, Refused, VolumeSlot};
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use ringfence_content::{Verdict, v2};
use ringfence_wire::ioctl::{ContentCounters, Notes, StatsResponse};
use ringfence_wire::schema::{Event, Fields};
use ringfence_wire::volume_map::VolumeMap;

// Every rule name content can carry fits the records' `rule_name` field, so tagging an
// event never makes it unencodable.
const _: () = assert!(
    ringfence_content::format::MAX_RULE_NAME_UNITS
        <= ringfence_wire::schema::limits::RULE_NAME_UNITS as usize
);

pub struct Sensor<P: Platform> {
    pub(crate) processes: P::Lock<ProcessTable>,
    content: P::Lock<ContentSlot>,
    channel: P::Lock<Channel<P::Waker>>,
    trust: P::Lock<Trust<P::Store>>,
    volumes: P::Lock<VolumeSlot>,
    health: TrialWatch,
    notes: Notes,
    /// Format-2 evaluations without pool for their scratch memory.
    scratch_failures: AtomicU64,
    /// Evaluations (either format) cut off at the per-event work limit, or (format 2)
    /// stopped with another error.
    evaluation_errors: AtomicU64,
}

impl<P: Platform> core::fmt::Debug for Sensor<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Sensor").field("notes", &self.notes).finish_non_exhaustive()
    }
}

impl<P: Platform> Sensor<P> {
    /// A sensor without persistence and with the default trust settings (unsigned content
    /// accepted): what host tests and benches of the portable core use.
    pub fn new(queue: Queue, processes: ProcessTable, notes: Notes) -> Self {
        Sensor {
            processes: P::lock(processes),
            content: P::lock(ContentSlot::default()),
            channel: P::lock(Channel::new(queue)),
            trust: P::lock(Trust::default()),
            volumes: P::lock(VolumeSlot::default()),
            health: TrialWatch::default(),
            notes,
            scratch_failures: AtomicU64::new(0),
            evaluation_errors: AtomicU64::new(0),
        }
    }

    /// The callback path: evaluate, tag with the verdict (the include rule's name; with
    /// format 2, the ids of the detection rules that matched and of those left undecided),
    /// encode, enqueue, wake. With no content every event is kept, untagged; format 2 drops
    /// an event only when its verdict is droppable (no detection rule matched or could match).
    pub fn observe(&self, event: Event<'_>) -> Option<Pushed> {
        self.health.tick(P::now);
        self.content.read(|slot| {
            let kept = match slot.active().map(Accepted::content) {
                None => Some(Kept::default()),
                Some(Active::One(content)) => {
                    match evaluation::evaluate_format1(&content, &event, evaluation::clock::<P>) {
                        (Verdict::Drop, _) => None,
                        (Verdict::Keep { rule_name }, cut_off) => {
                            if cut_off {
                                self.evaluation_errors.fetch_add(1, Ordering::Relaxed);
                            }
                            Some(Kept::by_rule(rule_name))
                        }
                    }
                }
                Some(Active::Two(content)) => self.judge(&content, event),
            };
            match kept {
                None => {
                    self.channel.write(|channel| channel.filtered(event.kind()));
                    None
                }
                Some(kept) => {
                    let mut event = event;
                    event.set_verdict(&kept.verdict());
                    Some(self.channel.write(|channel| channel.push(&event, P::now())))
                }
            }
        })
    }

    /// Format 2's decision on `event`: `None` to drop it, else the include rule's name and
    /// the detection rules' ids; with no decision, every undecided id the evaluation has.
    /// Runs under the content lock held shared; takes the volume map's (a leaf) inside.
    fn judge<'c>(&self, content: &v2::Content<'c>, event: Event<'_>) -> Option<Kept<'c>> {
        let outcome = self.with_volume_map(|map| {
            evaluation::evaluate(content, &KernelInput::new(event, map), evaluation::clock::<P>)
        });
        if let Outcome::Undecided { cause, .. } = outcome {
            let counter = match cause {
                evaluation::Cause::NoScratch => &self.scratch_failures,
                evaluation::Cause::Error(_) => &self.evaluation_errors,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        }
        outcome.kept()
    }

    /// Queues a record the sensor itself produced (e.g. `ContentChanged`); never filtered.
    pub fn report(&self, event: &Event<'_>) -> Pushed {
        self.channel.write(|channel| channel.push(event, P::now()))
    }

    /// Swaps in accepted content; returns the active version. The old bytes are dropped
    /// here, after the exclusive section: no callback can be reading them any more.
    pub fn install(&self, accepted: Accepted) -> u32 {
        let version = accepted.version();
        let old: Option<Accepted> = self.content.write(|slot| slot.replace(accepted));
        drop(old);
        version
    }

    pub fn content_version(&self) -> u32 {
        self.content.read(ContentSlot::version)
    }

    /// Counts a refused load; the active content is untouched.
    pub fn count_rejected(&self) {
        self.content.write(ContentSlot::count_rejected);
    }

    /// `SET_VOLUME_MAP`: validates `bytes` and copies them to pool, then swaps the map in;
    /// the old map is freed after the exclusive section. A refusal changes nothing but the
    /// refusal counter.
    pub fn set_volume_map(&self, bytes: &[u8]) -> Result<(), Refused> {
        match volume_slot::accept(bytes) {
            Ok(units) => {
                let old: Option<Vec<u16>> = self.volumes.write(|slot| slot.replace(units));
                drop(old);
                Ok(())
            }
            Err(refused) => {
                self.volumes.write(VolumeSlot::count_refused);
                Err(refused)
            }
        }
    }

    /// Runs `f` with the volume map held (`None`: none set yet), for evaluation to read paths
    /// in DOS form. `f` must not take any other sensor lock: the volume map's lock is a leaf.
    pub fn with_volume_map<R>(&self, f: impl FnOnce(Option<VolumeMap<'_>>) -> R) -> R {
        self.volumes.read(|slot| f(slot.view()))
    }

    /// `VOLUME_MAP`: the map held as it was set, into `out` (see [`VolumeSlot::copy_to`]).
    pub fn copy_volume_map(&self, out: &mut [u8]) -> Result<usize, usize> {
        self.volumes.read(|slot| slot.copy_to(out))
    }

    /// `READ`: whole records into `out` (see [`Channel::read`]).
    pub fn read(&self, out: &mut [u8]) -> Result<usize, usize> {
        self.channel.write(|channel| channel.read(out, P::now()))
    }

    /// Replaces the reader's waker; the previous one is released after the lock is dropped.
    pub fn set_waker(&self, waker: Option<P::Waker>) {
        let previous = self.channel.write(|channel| channel.replace_waker(waker));
        drop(previous);
    }

    pub fn queue_capacity(&self) -> usize {
        self.channel.read(|channel| channel.queue().capacity())
    }

    /// A consistent snapshot of every counter (taken under the channel lock).
    pub fn stats(&self) -> StatsResponse {
        let process_table = self.processes.read(ProcessTable::counters);
        let (active_content_version, (loads_accepted, loads_rejected), format) =
            self.content.read(|slot| (slot.version(), slot.loads(), slot.format()));
        let content = ContentCounters {
            format: format.map_or(0, |f| f as u32),
            scratch_failures: self.scratch_failures.load(Ordering::Relaxed),
            evaluation_errors: self.evaluation_errors.load(Ordering::Relaxed),
        };
        // Before the channel lock, never under it: LOAD_CONTENT holds trust while it waits
        // for content, and a callback holds content while it waits for the channel.
        let notes = self.notes.union(self.trust.read(Trust::notes));
        let volume_map = self.volumes.read(VolumeSlot::counters);
        self.channel.read(|channel| {
            let queue = channel.queue();
            let bytes = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            StatsResponse {
                kinds: *channel.counters(),
                content_loads_accepted: loads_accepted,
                content_loads_rejected: loads_rejected,
                active_content_version,
                queue_capacity_bytes: bytes(queue.capacity()),
                queue_used_bytes: bytes(queue.used()),
                queue_high_water_bytes: bytes(queue.high_water()),
                records_delivered: channel.records_delivered(),
                notes,
                process_table,
                volume_map,
                content,
            }
        })
    }
}

#[cfg(all(test, not(target_os = "windows")))]
pub(crate) mod tests;
