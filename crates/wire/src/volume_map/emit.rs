//! Building a map: [`VolumeMapRepr`] writes the format from borrowed prefixes,
//! and the byte conversions the IOCTL needs.

use super::{MAX_MAP_BYTES, VolumeMap, VolumeMapError, entry_offset, layout};

/// One (NT prefix, DOS prefix) pair to emit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    pub nt: &'a [u16],
    pub dos: &'a [u16],
}

/// A map as plain values: what [`VolumeMapRepr::emit`] writes and [`VolumeMapRepr::parse`]
/// reads back. Emitting does not sort or check; validating the result does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VolumeMapRepr<'a> {
    /// `C:\Windows`; empty when not given.
    pub windows_directory: &'a [u16],
    /// In [`super::compare_prefixes`] order of their NT prefixes.
    pub entries: &'a [Entry<'a>],
}

impl VolumeMapRepr<'_> {
    /// The map's length in units, or `None` past what a `usize` counts.
    pub fn units_len(&self) -> Option<usize> {
        let mut len = entry_offset(self.entries.len()) / 2;
        len = len.checked_add(self.windows_directory.len())?;
        for entry in self.entries {
            len = len.checked_add(entry.nt.len())?.checked_add(entry.dos.len())?;
        }
        Some(len)
    }

    /// Writes the map into `out`; returns the units written. Fails with
    /// [`VolumeMapError::TooLarge`] when it would pass [`MAX_MAP_BYTES`], and with
    /// [`VolumeMapError::Truncated`] when `out` is shorter than [`Self::units_len`].
    pub fn emit(&self, out: &mut [u16]) -> Result<usize, VolumeMapError> {
        let len = self.units_len().unwrap_or(usize::MAX);
        let bytes = len.saturating_mul(2);
        if bytes > MAX_MAP_BYTES {
            return Err(VolumeMapError::TooLarge { bytes, limit: MAX_MAP_BYTES });
        }
        let available = out.len().saturating_mul(2);
        let out =
            out.get_mut(..len).ok_or(VolumeMapError::Truncated { needed_bytes: bytes, bytes: available })?;
        out.fill(0);
        let count = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        put_u32(out, layout::SIZE, u32::try_from(bytes).unwrap_or(u32::MAX));
        put_u32(out, layout::VERSION, super::FORMAT_VERSION);
        put_u32(out, layout::ENTRY_COUNT, count);
        let mut next = entry_offset(self.entries.len()) / 2;
        put_string(out, layout::WINDOWS_DIRECTORY, self.windows_directory, &mut next);
        for (index, entry) in self.entries.iter().enumerate() {
            let at = entry_offset(index);
            put_string(out, at.saturating_add(layout::ENTRY_NT), entry.nt, &mut next);
            put_string(out, at.saturating_add(layout::ENTRY_DOS), entry.dos, &mut next);
        }
        Ok(len)
    }
}

impl<'a> VolumeMapRepr<'a> {
    /// The values of a validated map, its entries written into `entries` (which must hold
    /// [`VolumeMap::len`] of them; `None` otherwise).
    pub fn parse(map: &VolumeMap<'a>, entries: &'a mut [Entry<'a>]) -> Option<Self> {
        let entries = entries.get_mut(..map.len())?;
        for (slot, (nt, dos)) in entries.iter_mut().zip(map.entries()) {
            *slot = Entry { nt, dos };
        }
        Some(VolumeMapRepr { windows_directory: map.windows_directory(), entries })
    }
}

// Writes land inside `out`, which `emit` sized to the whole map.
fn put_u32(out: &mut [u16], byte_offset: usize, value: u32) {
    let at = byte_offset / 2;
    if let Some([low, high]) = out.get_mut(at..at.saturating_add(2)) {
        let [a, b, c, d] = value.to_le_bytes();
        *low = u16::from_le_bytes([a, b]);
        *high = u16::from_le_bytes([c, d]);
    }
}

fn put_string(out: &mut [u16], byte_offset: usize, text: &[u16], next: &mut usize) {
    put_u32(out, byte_offset.saturating_add(layout::STRING_OFFSET), u32::try_from(*next).unwrap_or(u32::MAX));
    put_u32(
        out,
        byte_offset.saturating_add(layout::STRING_UNITS),
        u32::try_from(text.len()).unwrap_or(u32::MAX),
    );
    let end = next.saturating_add(text.len());
    if let Some(slot) = out.get_mut(*next..end) {
        slot.copy_from_slice(text);
    }
    *next = end;
}

/// Reads little-endian bytes as units into `out`; returns the units written. The size
/// limit is checked first, so a caller may size `out` only after this has been checked.
#[cfg_attr(feature = "no-panic", no_panic::no_panic)]
pub fn units_from_le_bytes(bytes: &[u8], out: &mut [u16]) -> Result<usize, VolumeMapError> {
    if bytes.len() > MAX_MAP_BYTES {
        return Err(VolumeMapError::TooLarge { bytes: bytes.len(), limit: MAX_MAP_BYTES });
    }
    if bytes.len() % 2 != 0 {
        return Err(VolumeMapError::OddLength { bytes: bytes.len() });
    }
    let len = bytes.len() / 2;
    let available = out.len().saturating_mul(2);
    let out = out
        .get_mut(..len)
        .ok_or(VolumeMapError::Truncated { needed_bytes: bytes.len(), bytes: available })?;
    for (unit, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *unit = u16::from_le_bytes([pair.first().copied().unwrap_or(0), pair.get(1).copied().unwrap_or(0)]);
    }
    Ok(len)
}

/// Writes `units` as little-endian bytes into `out`; returns the bytes written, or `None`
/// when `out` is too short.
pub fn units_to_le_bytes(units: &[u16], out: &mut [u8]) -> Option<usize> {
    let len = units.len().checked_mul(2)?;
    let out = out.get_mut(..len)?;
    for (pair, unit) in out.chunks_exact_mut(2).zip(units) {
        pair.copy_from_slice(&unit.to_le_bytes());
    }
    Some(len)
}
