//! The volume map the companion hands the driver (`SET_VOLUME_MAP`): validated whole with
//! ringfence-wire's own validator, copied into pool memory, swapped in whole.
//!
//! Like the content slot, the sensor keeps it behind its own lock: evaluation reads it
//! held shared ([`crate::sensor::Sensor::with_volume_map`]), a set swaps under it held
//! exclusive and frees the old map after the lock is dropped. Nothing else is taken while
//! it is held, so it adds no lock order.

use alloc::vec::Vec;
use ringfence_wire::ioctl::{STATUS_INSUFFICIENT_RESOURCES, VolumeMapCounters};
use ringfence_wire::volume_map::{self, VolumeMap, VolumeMapError};

#[derive(Debug, Default)]
pub struct VolumeSlot {
    /// Units [`VolumeMap::new_checked`] accepted.
    held: Option<Vec<u16>>,
    sets: u64,
    refused: u64,
}

/// Why a map was not taken; the map held stays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    Invalid(VolumeMapError),
    /// No pool for a copy of `bytes`.
    OutOfPool {
        bytes: usize,
    },
}

impl Refused {
    /// The NTSTATUS `SET_VOLUME_MAP` answers.
    pub fn status(&self) -> i32 {
        match self {
            Refused::Invalid(error) => error.status(),
            Refused::OutOfPool { .. } => STATUS_INSUFFICIENT_RESOURCES,
        }
    }
}

/// A map offered as bytes, checked and copied into pool memory, ready to be swapped in.
/// The size limit is checked before anything is allocated.
pub fn accept(bytes: &[u8]) -> Result<Vec<u16>, Refused> {
    if bytes.len() > volume_map::MAX_MAP_BYTES {
        let limit = volume_map::MAX_MAP_BYTES;
        return Err(Refused::Invalid(VolumeMapError::TooLarge { bytes: bytes.len(), limit }));
    }
    let len = bytes.len() / 2;
    let mut units = Vec::new();
    units.try_reserve_exact(len).map_err(|_| Refused::OutOfPool { bytes: bytes.len() })?;
    units.resize(len, 0);
    volume_map::units_from_le_bytes(bytes, &mut units).map_err(Refused::Invalid)?;
    VolumeMap::new_checked(&units).map_err(Refused::Invalid)?;
    Ok(units)
}

impl VolumeSlot {
    /// The map held, if any.
    pub fn view(&self) -> Option<VolumeMap<'_>> {
        self.held.as_deref().map(VolumeMap::from_validated)
    }

    /// Installs accepted units and hands back the previous map, to be freed outside the lock.
    pub fn replace(&mut self, units: Vec<u16>) -> Option<Vec<u16>> {
        self.sets = self.sets.saturating_add(1);
        self.held.replace(units)
    }

    pub fn count_refused(&mut self) {
        self.refused = self.refused.saturating_add(1);
    }

    /// The map held as the little-endian bytes it was set with, into `out`: the bytes
    /// written (0: none held), or `Err(needed)` when `out` is too short.
    pub fn copy_to(&self, out: &mut [u8]) -> Result<usize, usize> {
        let units = self.held.as_deref().unwrap_or_default();
        volume_map::units_to_le_bytes(units, out).ok_or(units.len().saturating_mul(2))
    }

    pub fn counters(&self) -> VolumeMapCounters {
        let view = self.view();
        let bytes = self.held.as_ref().map_or(0, |units| units.len().saturating_mul(2));
        VolumeMapCounters {
            sets: self.sets,
            refused: self.refused,
            entries: view.map_or(0, |map| u32::try_from(map.len()).unwrap_or(u32::MAX)),
            bytes: u32::try_from(bytes).unwrap_or(u32::MAX),
        }
    }
}
