//! The crash-loop guard's state as the driver keeps it in its service key:
//! one `REG_BINARY` value, `GuardState`, written whole so that a crash never
//! leaves half of it behind.
//!
//! ```text
//! 0   format            u32  FORMAT_VERSION
//! 4   level             u32  what DriverEntry loads: 0 nothing, 1 last-known-good, 2 trial
//! 8   unhealthy_starts  u32  starts in a row that loaded that content and have not yet run healthily
//! 12  newest_offered    u32  the newest content version offered within ring and sensor range (for N−1)
//! ```

use crate::reason::Slot;
use ringfence_wire::bytes;

pub const FORMAT_VERSION: u32 = 1;
/// The registry value's name, in the service key.
pub const VALUE_NAME: &str = "GuardState";

pub mod layout {
    pub const FORMAT: usize = 0;
    pub const LEVEL: usize = 4;
    pub const UNHEALTHY_STARTS: usize = 8;
    pub const NEWEST_OFFERED: usize = 12;
    pub const LEN: usize = 16;
}

/// What DriverEntry loads, from the most recent to nothing; the guard steps down one level at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Level {
    /// Start without content.
    Nothing = 0,
    LastKnownGood = 1,
    Trial = 2,
}

impl Level {
    pub const fn from_u32(value: u32) -> Option<Level> {
        match value {
            0 => Some(Level::Nothing),
            1 => Some(Level::LastKnownGood),
            2 => Some(Level::Trial),
            _ => None,
        }
    }

    /// The persisted file this level loads.
    pub const fn slot(self) -> Option<Slot> {
        match self {
            Level::Nothing => None,
            Level::LastKnownGood => Some(Slot::LastKnownGood),
            Level::Trial => Some(Slot::Trial),
        }
    }

    /// The level the guard falls back to.
    pub const fn below(self) -> Level {
        match self {
            Level::Trial => Level::LastKnownGood,
            Level::LastKnownGood | Level::Nothing => Level::Nothing,
        }
    }
}

/// The guard's persisted state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GuardState {
    pub level: Level,
    pub unhealthy_starts: u32,
    pub newest_offered: u32,
}

impl GuardState {
    /// The state of a sensor that never persisted anything (or whose state was
    /// reset by deleting the value): load the last-known-good if there is one.
    pub const INITIAL: GuardState =
        GuardState { level: Level::LastKnownGood, unhealthy_starts: 0, newest_offered: 0 };
}

/// Why a `GuardState` value is not one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    Length { expected: usize, found: usize },
    Format { found: u32 },
    Level { found: u32 },
}

impl GuardState {
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn parse(value: &[u8]) -> Result<GuardState, StateError> {
        if value.len() != layout::LEN {
            return Err(StateError::Length { expected: layout::LEN, found: value.len() });
        }
        let word = |at| bytes::u32_at(value, at).unwrap_or(0);
        let format = word(layout::FORMAT);
        if format != FORMAT_VERSION {
            return Err(StateError::Format { found: format });
        }
        let level = word(layout::LEVEL);
        let level = Level::from_u32(level).ok_or(StateError::Level { found: level })?;
        Ok(GuardState {
            level,
            unhealthy_starts: word(layout::UNHEALTHY_STARTS),
            newest_offered: word(layout::NEWEST_OFFERED),
        })
    }

    pub fn emit(&self) -> [u8; layout::LEN] {
        let mut out = [0u8; layout::LEN];
        // Fixed offsets inside a fixed-size array: every write lands.
        let _ = bytes::put_u32(&mut out, layout::FORMAT, FORMAT_VERSION);
        let _ = bytes::put_u32(&mut out, layout::LEVEL, self.level as u32);
        let _ = bytes::put_u32(&mut out, layout::UNHEALTHY_STARTS, self.unhealthy_starts);
        let _ = bytes::put_u32(&mut out, layout::NEWEST_OFFERED, self.newest_offered);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_round_trips_and_each_bad_field_is_named() {
        let state = GuardState { level: Level::Trial, unhealthy_starts: 2, newest_offered: 12 };
        assert_eq!(GuardState::parse(&state.emit()), Ok(state));
        let mut bad = state.emit();
        bad[0] = 2;
        assert_eq!(GuardState::parse(&bad), Err(StateError::Format { found: 2 }));
        let mut bad = state.emit();
        bad[4] = 3;
        assert_eq!(GuardState::parse(&bad), Err(StateError::Level { found: 3 }));
        assert_eq!(GuardState::parse(&bad[..15]), Err(StateError::Length { expected: 16, found: 15 }));
    }

    #[test]
    fn the_guard_steps_down_from_trial_to_last_known_good_to_nothing() {
        assert_eq!(Level::Trial.below(), Level::LastKnownGood);
        assert_eq!(Level::LastKnownGood.below(), Level::Nothing);
        assert_eq!(Level::Nothing.below(), Level::Nothing);
        assert_eq!(Level::Trial.slot(), Some(Slot::Trial));
        assert_eq!(Level::Nothing.slot(), None);
    }
}
