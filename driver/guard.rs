//! The crash-loop guard: what DriverEntry loads, how accepted content is
//! persisted, and when it becomes the last-known-good, over a small [`Store`]
//! (the registry and files in the kernel, memory on the host).
//!
//! State ([`GuardState`], one registry value written whole): the level
//! DriverEntry loads (trial → last-known-good → nothing) and how many starts
//! in a row loaded it without yet running healthily.
//!
//! - A load that passes admission is written to the trial file (atomically:
//!   temporary file, flush, rename), then the state becomes (trial, 1): the
//!   load itself counts as a start on trial. Only then is it installed.
//! - DriverEntry: a count at or past the threshold means the last starts did
//!   not survive: step down one level (trial → last-known-good → nothing),
//!   count reset. Then read the file (bounded), count this start *before*
//!   anything of the content runs (admission included), admit it exactly as a
//!   load is admitted, and install it; a refused or missing file steps down too. Last-known-good
//!   that is byte for byte the content that failed its trial is skipped.
//! - Healthy (see [`crate::health`]): trial content is written to the
//!   last-known-good file, then the state becomes (last-known-good, 0), then
//!   the trial file is removed: promoted once, and the last-known-good file is
//!   never written with content that has not passed its trial. Healthy
//!   last-known-good just clears the count.
//!
//! A crash between any two steps leaves a state the next start handles: the
//! files are replaced only by rename, and the state names a level whose file
//! was complete before the state was written.

use crate::admission::{Refusal, TrustSettings, admit, declared_version};
use crate::content_slot::{Accepted, OutOfPool};
use alloc::vec::Vec;
use ringfence_content::MAX_CONTENT_BYTES;
use ringfence_trust::envelope::layout::OVERHEAD;
use ringfence_trust::{GuardState, Level, PersistStep, Reason, Slot};

/// The crash-loop threshold when `Parameters\CrashLoopThreshold` is absent.
pub const THRESHOLD_DEFAULT: u32 = 2;
/// The largest persisted file: the largest content in an envelope.
pub const MAX_PERSISTED_BYTES: usize = MAX_CONTENT_BYTES + OVERHEAD;

/// Why a persisted file could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadError {
    /// Larger than [`MAX_PERSISTED_BYTES`]: not read at all.
    TooLarge {
        size: u64,
    },
    Io {
        status: i32,
    },
}

/// Where the guard keeps its state and files. Every operation is synchronous
/// and durable when it returns `Ok` (flushed).
pub trait Store {
    /// The `GuardState` value, `None` when absent.
    fn read_state(&mut self) -> Result<Option<Vec<u8>>, i32>;
    fn write_state(&mut self, value: &[u8]) -> Result<(), i32>;
    /// The file of `slot`, `None` when absent; never more than `max` bytes are read.
    fn read(&mut self, slot: Slot, max: usize) -> Result<Option<Vec<u8>>, ReadError>;
    /// Replaces the file of `slot` atomically: a crash leaves the old file or the new one.
    fn write(&mut self, slot: Slot, bytes: &[u8]) -> Result<(), (PersistStep, i32)>;
    fn remove(&mut self, slot: Slot) -> Result<(), i32>;
}

/// A sensor without persistence (host tests and benches of the portable core).
#[derive(Debug, Default)]
pub struct NoStore;

/// One `ContentChanged` record a start produces: content it refused or restored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StartRecord {
    pub accepted: bool,
    pub content_version: u32,
    pub refusal: Refusal,
}

/// At most: trial refused, last-known-good refused, and the state not recorded.
pub const MAX_START_RECORDS: usize = 4;

/// What DriverEntry restored.
#[derive(Debug, Default)]
pub struct Restored {
    pub content: Option<Accepted>,
    pub records: [Option<StartRecord>; MAX_START_RECORDS],
    /// The content restored could not be copied to pool (nothing was installed).
    pub out_of_pool: bool,
}

impl Restored {
    fn record(&mut self, record: StartRecord) {
        if let Some(slot) = self.records.iter_mut().find(|r| r.is_none()) {
            *slot = Some(record);
        }
    }

    pub fn records(&self) -> impl Iterator<Item = &StartRecord> {
        self.records.iter().flatten()
    }
}

/// What happened when the active content proved healthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conclusion {
    /// Trial content became the last-known-good.
    Promoted {
        version: u32,
    },
    /// Last-known-good content ran healthily again: the count is cleared.
    Cleared,
    /// Nothing was on trial, or persistence is off.
    Nothing,
    Failed(Reason),
}

/// The guard: its store (none: persistence off), state and threshold.
#[derive(Debug)]
pub struct Guard<S> {
    store: Option<S>,
    state: GuardState,
    threshold: u32,
    /// Promotions done since the driver started.
    promotions: u64,
}

impl<S> Default for Guard<S> {
    fn default() -> Self {
        Guard { store: None, state: GuardState::INITIAL, threshold: THRESHOLD_DEFAULT, promotions: 0 }
    }
}

fn refused(content_version: u32, refusal: impl Into<Refusal>) -> StartRecord {
    StartRecord { accepted: false, content_version, refusal: refusal.into() }
}

impl<S: Store> Guard<S> {
    pub fn state(&self) -> GuardState {
        self.state
    }

    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    pub fn promotions(&self) -> u64 {
        self.promotions
    }

    pub fn persistent(&self) -> bool {
        self.store.is_some()
    }

    fn save(&mut self, state: GuardState) -> Result<(), i32> {
        if let Some(store) = &mut self.store {
            store.write_state(&state.emit())?;
        }
        self.state = state;
        Ok(())
    }

    /// DriverEntry: restores what the state says, stepping down past crash loops and
    /// refused files. Without a store (persistence unavailable) nothing is restored.
    #[inline(never)]
    pub fn start(store: Option<S>, settings: &TrustSettings, threshold: u32) -> (Guard<S>, Restored) {
        let mut restored = Restored::default();
        let Some(mut store) = store else {
            let guard = Guard { threshold: threshold.max(1), ..Guard::default() };
            return (guard, restored);
        };
        let (state, recorded) = match store.read_state() {
            Ok(Some(value)) => (GuardState::parse(&value).unwrap_or(GuardState::INITIAL), true),
            Ok(None) | Err(_) => (GuardState::INITIAL, false),
        };
        let mut guard = Guard { store: Some(store), state, threshold: threshold.max(1), promotions: 0 };
        let mut level = state.level;
        let mut starts = state.unhealthy_starts;
        // The trial content that crash-looped: its last-known-good twin is skipped too.
        let mut failed_trial: Option<Vec<u8>> = None;
        while let Some(slot) = level.slot() {
            if starts >= guard.threshold {
                if slot == Slot::Trial {
                    failed_trial = guard.read(slot).ok().flatten();
                }
                let version = failed_trial.as_deref().map_or(0, declared_version);
                let reason = Reason::CrashLoop { slot, starts, threshold: guard.threshold };
                restored.record(refused(version, reason));
                (level, starts) = (level.below(), 0);
                continue;
            }
            let bytes = match guard.read(slot) {
                Ok(Some(bytes)) => bytes,
                // A machine that never persisted anything has no last-known-good: not a fallback.
                Ok(None) if !recorded => return (guard, restored),
                Ok(None) => {
                    restored.record(refused(0, Reason::PersistedMissing { slot }));
                    (level, starts) = (level.below(), 0);
                    continue;
                }
                Err(error) => {
                    restored.record(refused(0, unreadable(slot, error)));
                    (level, starts) = (level.below(), 0);
                    continue;
                }
            };
            if slot == Slot::LastKnownGood && failed_trial.as_deref() == Some(&bytes[..]) {
                let reason =
                    Reason::CrashLoop { slot, starts: state.unhealthy_starts, threshold: guard.threshold };
                restored.record(refused(declared_version(&bytes), reason));
                (level, starts) = (level.below(), 0);
                continue;
            }
            // Count this start before anything of the content (admission included) runs.
            let counted = GuardState { level, unhealthy_starts: starts.saturating_add(1), ..guard.state };
            if let Err(status) = guard.save(counted) {
                restored.record(refused(0, Reason::NotPersisted { step: PersistStep::Registry, status }));
                return (guard, restored);
            }
            let admission = admit(&bytes, settings, guard.state.newest_offered);
            match admission.verdict {
                Ok(admitted) => match admitted.into_owned_at(level) {
                    Ok(accepted) => {
                        let version = accepted.version();
                        restored.record(StartRecord {
                            accepted: true,
                            content_version: version,
                            refusal: Refusal::Trust(Reason::Restored { slot }),
                        });
                        restored.content = Some(accepted);
                        return (guard, restored);
                    }
                    Err(OutOfPool { .. }) => {
                        restored.out_of_pool = true;
                        return (guard, restored);
                    }
                },
                Err(refusal) => {
                    restored.record(refused(refusal.declared_version, refusal.refusal));
                    (level, starts) = (level.below(), 0);
                }
            }
        }
        // Nothing to load: remember that, so the next start does not retry what failed.
        if guard.state.level != Level::Nothing || guard.state.unhealthy_starts != 0 {
            let nothing = GuardState { level: Level::Nothing, unhealthy_starts: 0, ..guard.state };
            if let Err(status) = guard.save(nothing) {
                restored.record(refused(0, Reason::NotPersisted { step: PersistStep::Registry, status }));
            }
        }
        (guard, restored)
    }

    fn read(&mut self, slot: Slot) -> Result<Option<Vec<u8>>, ReadError> {
        match &mut self.store {
            Some(store) => store.read(slot, MAX_PERSISTED_BYTES),
            None => Ok(None),
        }
    }

    /// Records the newest version offered by a refused load (N−1); best effort: a failure
    /// only means a later start remembers an older newest version.
    pub fn remember_offer(&mut self, newest_offered: u32) {
        if newest_offered != self.state.newest_offered {
            let state = GuardState { newest_offered, ..self.state };
            if self.save(state).is_err() {
                self.state = state;
            }
        }
    }

    /// Persists admitted content as the trial and counts the load as a start on
    /// trial. Nothing is installed yet; a failure leaves the previous state in force.
    pub fn persist_trial(&mut self, bytes: &[u8], newest_offered: u32) -> Result<(), Reason> {
        let Some(store) = &mut self.store else { return Ok(()) };
        store.write(Slot::Trial, bytes).map_err(|(step, status)| Reason::NotPersisted { step, status })?;
        let trial = GuardState { level: Level::Trial, unhealthy_starts: 1, newest_offered };
        self.save(trial).map_err(|status| Reason::NotPersisted { step: PersistStep::Registry, status })
    }

    /// The active content ran healthily: promote trial content, or clear the count.
    pub fn conclude(&mut self, active: Option<&Accepted>) -> Conclusion {
        let Some(active) = active else { return Conclusion::Nothing };
        if self.store.is_none() || self.state.level != active.level() {
            return Conclusion::Nothing;
        }
        match active.level() {
            Level::Trial => {
                if let Some(store) = &mut self.store
                    && let Err((step, status)) = store.write(Slot::LastKnownGood, active.persisted_bytes())
                {
                    return Conclusion::Failed(Reason::NotPersisted { step, status });
                }
                let good = GuardState { level: Level::LastKnownGood, unhealthy_starts: 0, ..self.state };
                if let Err(status) = self.save(good) {
                    return Conclusion::Failed(Reason::NotPersisted { step: PersistStep::Registry, status });
                }
                // The trial file is no longer loaded; removing it is tidiness, not safety.
                if let Some(store) = &mut self.store {
                    let _ = store.remove(Slot::Trial);
                }
                self.promotions = self.promotions.saturating_add(1);
                Conclusion::Promoted { version: active.version() }
            }
            Level::LastKnownGood if self.state.unhealthy_starts == 0 => Conclusion::Nothing,
            Level::LastKnownGood => {
                let cleared = GuardState { unhealthy_starts: 0, ..self.state };
                match self.save(cleared) {
                    Ok(()) => Conclusion::Cleared,
                    Err(status) => {
                        Conclusion::Failed(Reason::NotPersisted { step: PersistStep::Registry, status })
                    }
                }
            }
            Level::Nothing => Conclusion::Nothing,
        }
    }
}

fn unreadable(slot: Slot, error: ReadError) -> Reason {
    match error {
        ReadError::TooLarge { size } => Reason::PersistedTooLarge {
            slot,
            size: u32::try_from(size).unwrap_or(u32::MAX),
            max: u32::try_from(MAX_PERSISTED_BYTES).unwrap_or(u32::MAX),
        },
        ReadError::Io { status } => Reason::PersistedUnreadable { slot, status },
    }
}

impl Store for NoStore {
    fn read_state(&mut self) -> Result<Option<Vec<u8>>, i32> {
        Ok(None)
    }
    fn write_state(&mut self, _value: &[u8]) -> Result<(), i32> {
        Ok(())
    }
    fn read(&mut self, _slot: Slot, _max: usize) -> Result<Option<Vec<u8>>, ReadError> {
        Ok(None)
    }
    fn write(&mut self, _slot: Slot, _bytes: &[u8]) -> Result<(), (PersistStep, i32)> {
        Ok(())
    }
    fn remove(&mut self, _slot: Slot) -> Result<(), i32> {
        Ok(())
    }
}

#[cfg(all(test, not(target_os = "windows")))]
mod tests;
