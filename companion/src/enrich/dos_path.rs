//! NT paths to the DOS paths analysts and rules expect.
//!
//! The kernel names files by object-manager path: `\Device\HarddiskVolume3\…`,
//! `\??\C:\…`, `\SystemRoot\…`, `\Device\Mup\server\share\…`. The translation
//! itself is ringfence-wire's [`volume_map`](ringfence_wire::volume_map): the
//! fixed forms of the object namespace, then the machine's map of volumes. The
//! driver evaluates paths with the very same function over the very same map
//! (the companion pushes it with `SET_VOLUME_MAP`), so kernel and companion
//! cannot read one path two ways.
//!
//! This module builds a machine's map from (NT prefix, DOS prefix) pairs, as
//! `QueryDosDevice` reports them or as a scenario lists them: a pair whose NT
//! prefix is `\SystemRoot` gives the Windows directory, the others become the
//! map's entries (sorted as the format wants). A prefix matches case-insensitively
//! (ASCII) and only at a component boundary. A path that is already in DOS form
//! is kept; anything else keeps its NT form and is reported as
//! [`PathOrigin::UnknownDevice`].
//!
//! Paths are UTF-16 units, as the kernel reports them, so that a name holding an
//! unpaired surrogate converts without loss.

use std::cmp::Ordering;
use std::fmt;

use ringfence_wire::volume_map::{
    self, Entry, Item, Translation, Via, VolumeMap as MapView, VolumeMapError as FormatError, VolumeMapRepr,
    compare_prefixes,
};

/// The most pairs a [`VolumeMap`] holds besides `\SystemRoot`.
pub const MAX_VOLUME_MAP_ENTRIES: usize = volume_map::MAX_ENTRIES;
/// The longest NT or DOS prefix, in UTF-16 units.
pub const MAX_PREFIX_UNITS: usize = volume_map::MAX_PREFIX_UNITS;

const SYSTEM_ROOT: &str = r"\SystemRoot";

/// One machine's map in ringfence-wire's volume map format, validated.
///
/// # Invariants
/// `units` is a map [`MapView::new_checked`] accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeMap {
    units: Vec<u16>,
}

impl Default for VolumeMap {
    /// No Windows directory and no volume: the fixed forms only.
    fn default() -> Self {
        VolumeMap::from_pairs(std::iter::empty::<(String, String)>())
            .unwrap_or(VolumeMap { units: Vec::new() })
    }
}

/// Why a list of pairs is not a volume map. `entry` counts the pairs as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeMapError {
    TooManyEntries {
        count: usize,
        limit: usize,
    },
    /// The NT prefix of `entry` does not start with a backslash.
    NtPrefixNotAbsolute {
        entry: usize,
    },
    /// The prefix of `entry` ends with a backslash (the boundary rule supplies it).
    TrailingSeparator {
        entry: usize,
        side: Side,
    },
    EmptyPrefix {
        entry: usize,
        side: Side,
    },
    PrefixTooLong {
        entry: usize,
        side: Side,
        units: usize,
        limit: usize,
    },
    /// The DOS prefix of `entry` is neither `X:…` nor `\\…`.
    NotDosForm {
        entry: usize,
        side: Side,
    },
    /// The NT prefix of `entry` lies under `\??\`, `\Device\Mup` or `\SystemRoot\`, which the fixed rules own.
    ReservedPrefix {
        entry: usize,
    },
    /// The NT prefix of `entry` equals that of `other`, ignoring case.
    Duplicate {
        entry: usize,
        other: usize,
    },
    /// The NT prefix of `entry` lies under that of `other`: both would match one path.
    Nested {
        entry: usize,
        other: usize,
    },
    /// The Windows directory (the `\SystemRoot` pair) is refused for this reason.
    WindowsDirectory {
        reason: FormatError,
    },
    /// The map as a whole is refused by the format (its size).
    Format(FormatError),
}

/// Which half of a pair an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Nt,
    Dos,
}

impl fmt::Display for VolumeMapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VolumeMapError::TooManyEntries { count, limit } => {
                write!(f, "{count} volume map entries; at most {limit} are allowed")
            }
            VolumeMapError::NtPrefixNotAbsolute { entry } => {
                write!(f, "entry {entry}: the NT prefix must start with a backslash")
            }
            VolumeMapError::TrailingSeparator { entry, side } => {
                write!(f, "entry {entry}: the {side} prefix must not end with a backslash")
            }
            VolumeMapError::EmptyPrefix { entry, side } => {
                write!(f, "entry {entry}: the {side} prefix is empty")
            }
            VolumeMapError::PrefixTooLong { entry, side, units, limit } => {
                write!(f, "entry {entry}: the {side} prefix is {units} UTF-16 units long; at most {limit}")
            }
            VolumeMapError::NotDosForm { entry, side } => {
                write!(
                    f,
                    r"entry {entry}: the {side} prefix must be a drive (X:) or a UNC path (\\server\share)"
                )
            }
            VolumeMapError::ReservedPrefix { entry } => write!(
                f,
                r"entry {entry}: paths under \??\, \Device\Mup and \SystemRoot\ are converted by fixed rules"
            ),
            VolumeMapError::Duplicate { entry, other } => {
                write!(f, "entry {entry} has the NT prefix of entry {other}")
            }
            VolumeMapError::Nested { entry, other } => {
                write!(f, "entry {entry} lies under entry {other}: both would match one path")
            }
            VolumeMapError::WindowsDirectory { reason } => {
                write!(f, r"the Windows directory must be X:\name without a trailing backslash ({reason:?})")
            }
            VolumeMapError::Format(reason) => write!(f, "the volume map is refused: {reason:?}"),
        }
    }
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Nt => "NT",
            Side::Dos => "DOS",
        })
    }
}

impl std::error::Error for VolumeMapError {}

/// The units of a map of `windows` and `entries`, unchecked.
fn emit(windows: &[u16], entries: &[Entry<'_>]) -> Result<Vec<u16>, FormatError> {
    let repr = VolumeMapRepr { windows_directory: windows, entries };
    let mut units = vec![0u16; repr.units_len().unwrap_or(usize::MAX).min(volume_map::MAX_MAP_BYTES / 2 + 1)];
    let len = repr.emit(&mut units)?;
    units.truncate(len);
    Ok(units)
}

/// Checks one pair alone, with the format's own validator, and names it by `entry`.
fn check_pair(entry: usize, nt: &[u16], dos: &[u16]) -> Result<(), VolumeMapError> {
    for (side, units) in [(Side::Nt, nt), (Side::Dos, dos)] {
        if units.len() > MAX_PREFIX_UNITS {
            return Err(VolumeMapError::PrefixTooLong {
                entry,
                side,
                units: units.len(),
                limit: MAX_PREFIX_UNITS,
            });
        }
    }
    let units = emit(&[], &[Entry { nt, dos }]).map_err(VolumeMapError::Format)?;
    let side = |item| if matches!(item, Item::Dos { .. }) { Side::Dos } else { Side::Nt };
    match MapView::new_checked(&units) {
        Ok(_) => Ok(()),
        Err(FormatError::NtPrefixNotAbsolute { .. }) => Err(VolumeMapError::NtPrefixNotAbsolute { entry }),
        Err(FormatError::ReservedPrefix { .. }) => Err(VolumeMapError::ReservedPrefix { entry }),
        Err(FormatError::TrailingSeparator { item }) => {
            Err(VolumeMapError::TrailingSeparator { entry, side: side(item) })
        }
        Err(FormatError::EmptyPrefix { item }) => {
            Err(VolumeMapError::EmptyPrefix { entry, side: side(item) })
        }
        Err(FormatError::NotDosForm { item }) => Err(VolumeMapError::NotDosForm { entry, side: side(item) }),
        Err(other) => Err(VolumeMapError::Format(other)),
    }
}

impl VolumeMap {
    /// Checks `pairs` (NT prefix, DOS prefix); a `\SystemRoot` pair names the Windows directory.
    pub fn from_pairs<I, N, D>(pairs: I) -> Result<Self, VolumeMapError>
    where
        I: IntoIterator<Item = (N, D)>,
        N: Into<String>,
        D: Into<String>,
    {
        let mut windows: Vec<u16> = Vec::new();
        // (index as given, NT prefix, DOS prefix)
        let mut entries: Vec<(usize, Vec<u16>, Vec<u16>)> = Vec::new();
        for (index, (nt, dos)) in pairs.into_iter().enumerate() {
            let (nt, dos): (String, String) = (nt.into(), dos.into());
            if nt.eq_ignore_ascii_case(SYSTEM_ROOT) && windows.is_empty() {
                windows = dos.encode_utf16().collect();
                let units =
                    emit(&windows, &[]).map_err(|reason| VolumeMapError::WindowsDirectory { reason })?;
                MapView::new_checked(&units).map_err(|reason| VolumeMapError::WindowsDirectory { reason })?;
                continue;
            }
            if entries.len() >= MAX_VOLUME_MAP_ENTRIES {
                let count = entries.len() + 1;
                return Err(VolumeMapError::TooManyEntries { count, limit: MAX_VOLUME_MAP_ENTRIES });
            }
            let (nt, dos): (Vec<u16>, Vec<u16>) = (nt.encode_utf16().collect(), dos.encode_utf16().collect());
            check_pair(index, &nt, &dos)?;
            entries.push((index, nt, dos));
        }
        entries.sort_by(|a, b| compare_prefixes(&a.1, &b.1).then(a.0.cmp(&b.0)));
        for pair in entries.windows(2) {
            let [(earlier, prefix, _), (later, nt, _)] = pair else { continue };
            let (entry, other) = ((*earlier).max(*later), (*earlier).min(*later));
            if compare_prefixes(prefix, nt) == Ordering::Equal {
                return Err(VolumeMapError::Duplicate { entry, other });
            }
            let under = nt.get(prefix.len()..).is_some_and(|rest| rest.first() == Some(&u16::from(b'\\')))
                && compare_prefixes(nt.get(..prefix.len()).unwrap_or_default(), prefix) == Ordering::Equal;
            if under {
                return Err(VolumeMapError::Nested { entry: *later, other: *earlier });
            }
        }
        let list: Vec<Entry<'_>> = entries.iter().map(|(_, nt, dos)| Entry { nt, dos }).collect();
        let units = emit(&windows, &list).map_err(VolumeMapError::Format)?;
        MapView::new_checked(&units).map_err(VolumeMapError::Format)?;
        Ok(VolumeMap { units })
    }

    /// The map of a machine from its DOS devices (drive letter → NT target, as
    /// `QueryDosDevice` reports them, A to Z) and its Windows directory.
    ///
    /// Kept: targets under `\Device\` that are not a network redirector's
    /// (those paths reach the kernel as `\Device\Mup\server\share`, which the
    /// fixed rules turn into `\\server\share`, the form rules expect). Dropped:
    /// `subst` drives (targets under `\??\`, which the kernel never reports),
    /// a second letter for a volume that already has one, and a target the map
    /// refuses (longer than [`MAX_PREFIX_UNITS`], under another's).
    pub fn from_dos_devices<I>(devices: I, windows_directory: &str) -> Result<Self, VolumeMapError>
    where
        I: IntoIterator<Item = (char, String)>,
    {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let windows = windows_directory.trim_end_matches('\\');
        if !windows.is_empty() {
            pairs.push((SYSTEM_ROOT.to_owned(), windows.to_owned()));
        }
        for (letter, target) in devices {
            let target = target.trim_end_matches('\\');
            let is_volume = starts_with_ignore_case(target, r"\Device\")
                && !starts_with_ignore_case(target, r"\Device\Mup")
                && !target.contains(r"\;");
            let known = pairs.iter().any(|(nt, _)| nt.eq_ignore_ascii_case(target));
            if letter.is_ascii_alphabetic() && is_volume && !known {
                let pair = (target.to_owned(), format!("{}:", letter.to_ascii_uppercase()));
                // A target the map cannot hold (too long, under another) costs its letter only.
                let candidate: Vec<(String, String)> = pairs.iter().cloned().chain([pair.clone()]).collect();
                if Self::from_pairs(candidate).is_ok() {
                    pairs.push(pair);
                }
            }
        }
        Self::from_pairs(pairs)
    }

    /// The map as the format reads it.
    pub fn view(&self) -> MapView<'_> {
        // INVARIANT kept: `units` was accepted by `new_checked` when this map was built.
        MapView::from_validated(&self.units)
    }

    /// The map's units: what `SET_VOLUME_MAP` carries (as little-endian bytes).
    pub fn as_units(&self) -> &[u16] {
        &self.units
    }

    /// The map's bytes, little-endian, as `SET_VOLUME_MAP` carries them.
    pub fn to_le_bytes(&self) -> Vec<u8> {
        self.units.iter().flat_map(|u| u.to_le_bytes()).collect()
    }

    /// The pairs: `\SystemRoot` first when the Windows directory is given, then
    /// the entries in the map's order.
    pub fn pairs(&self) -> impl Iterator<Item = (String, String)> + '_ {
        let view = self.view();
        let text = |units: &[u16]| String::from_utf16_lossy(units);
        let windows = view.windows_directory();
        let system_root = (!windows.is_empty()).then(|| (SYSTEM_ROOT.to_owned(), text(windows)));
        let entries: Vec<(String, String)> = view.entries().map(|(nt, dos)| (text(nt), text(dos))).collect();
        system_root.into_iter().chain(entries)
    }

    /// Entries besides the Windows directory.
    pub fn len(&self) -> usize {
        self.view().len()
    }

    pub fn is_empty(&self) -> bool {
        self.view().is_empty() && self.view().windows_directory().is_empty()
    }

    /// `nt` in DOS form, or in its own form with the reason it was kept.
    pub fn to_dos(&self, nt: &[u16]) -> DosPath {
        match self.view().translate(nt) {
            Translation::Dos { head, tail, via } => {
                let mut path = Vec::with_capacity(head.len().saturating_add(tail.len()));
                path.extend_from_slice(head);
                path.extend_from_slice(tail);
                let origin = match via {
                    Via::DosDevice => PathOrigin::DosDevice,
                    Via::Unc => PathOrigin::Unc,
                    Via::SystemRoot => PathOrigin::SystemRoot,
                    Via::Volume { entry } => PathOrigin::Volume(entry),
                    Via::AlreadyDos => PathOrigin::AlreadyDos,
                };
                DosPath { path, origin }
            }
            Translation::Unknown => DosPath { path: nt.to_vec(), origin: PathOrigin::UnknownDevice },
        }
    }
}

/// A converted path and where its form comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DosPath {
    pub path: Vec<u16>,
    pub origin: PathOrigin,
}

/// Which rule produced a [`DosPath`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathOrigin {
    /// `\??\X:…` (or `\DosDevices\`, `\GLOBAL??\`).
    DosDevice,
    /// `\??\UNC\…` or `\Device\Mup\…`, now `\\server\share\…`.
    Unc,
    /// `\SystemRoot\…`, now under the Windows directory.
    SystemRoot,
    /// The volume map's entry at this index (in the map's order).
    Volume(usize),
    /// Already `X:…` or `\\…`; kept as it was.
    AlreadyDos,
    /// No rule and no map entry knows this device: the NT form is kept.
    UnknownDevice,
}

impl DosPath {
    /// Whether the path is in DOS form (converted or already so).
    pub fn is_dos(&self) -> bool {
        self.origin != PathOrigin::UnknownDevice
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}
