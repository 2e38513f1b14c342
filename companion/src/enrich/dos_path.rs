//! NT paths to the DOS paths analysts and rules expect.
//!
//! The kernel names files by object-manager path: `\Device\HarddiskVolume3\…`,
//! `\??\C:\…`, `\SystemRoot\…`, `\Device\Mup\server\share\…`. Conversion
//! applies, in this order,
//! 1. the fixed rules of the object namespace, the same on every machine:
//!    `\??\UNC\` → `\\`, `\??\X:` → `X:` (also spelled `\DosDevices\` and
//!    `\GLOBAL??\`), and `\Device\Mup\` → `\\` (dropping the redirector's own
//!    `;Name` components, as in `\Device\Mup\;LanmanRedirector\;Z:0…\server\share`);
//! 2. the machine's [`VolumeMap`]: an ordered list of (NT prefix, DOS prefix)
//!    pairs, `\Device\HarddiskVolume3` → `C:` and `\SystemRoot` → `C:\Windows`;
//!    the first pair whose NT prefix matches wins.
//!
//! A prefix matches case-insensitively (ASCII) and only at a component boundary:
//! `\Device\HarddiskVolume1` does not match `\Device\HarddiskVolume10\x`. A path
//! that is already in DOS form is kept; anything else keeps its NT form and is
//! reported as [`PathOrigin::UnknownDevice`].
//!
//! Paths are UTF-16 units, as the kernel reports them, so that a name holding an
//! unpaired surrogate converts without loss.

use std::fmt;

/// The most pairs a [`VolumeMap`] holds: 26 drive letters, the Windows
/// directory and room for volumes mounted under other names.
pub const MAX_VOLUME_MAP_ENTRIES: usize = 64;
/// The longest NT or DOS prefix, in UTF-16 units.
pub const MAX_PREFIX_UNITS: usize = 256;

const BACKSLASH: u16 = b'\\' as u16;
const COLON: u16 = b':' as u16;
const SEMICOLON: u16 = b';' as u16;

/// The spellings of the per-session DOS device directory.
const DOS_DEVICE_DIRECTORIES: [&str; 3] = [r"\??\", r"\DosDevices\", r"\GLOBAL??\"];
const MUP: &str = r"\Device\Mup\";

/// One machine's NT prefix → DOS prefix pairs, in the order they are tried.
///
/// # Invariants
/// At most [`MAX_VOLUME_MAP_ENTRIES`] entries; every NT prefix starts with a
/// backslash, neither prefix ends with one, both are at most
/// [`MAX_PREFIX_UNITS`] long, and no entry is shadowed by an earlier one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumeMap {
    entries: Vec<Entry>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    nt: String,
    dos: String,
    nt_units: Vec<u16>,
    dos_units: Vec<u16>,
}

/// Why a list of pairs is not a volume map.
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
    /// `entry` could never match: every path it matches is matched by `earlier` first.
    Shadowed {
        entry: usize,
        earlier: usize,
    },
    /// The NT prefix of `entry` lies under `\??\` or `\Device\Mup`, which the fixed rules own.
    ReservedPrefix {
        entry: usize,
    },
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
            VolumeMapError::Shadowed { entry, earlier } => {
                write!(f, "entry {entry} can never match: entry {earlier} matches every path it would")
            }
            VolumeMapError::ReservedPrefix { entry } => {
                write!(f, "entry {entry}: paths under \\??\\ and \\Device\\Mup are converted by fixed rules")
            }
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

impl VolumeMap {
    /// Checks `pairs` (NT prefix, DOS prefix) and keeps them in order.
    pub fn from_pairs<I, N, D>(pairs: I) -> Result<Self, VolumeMapError>
    where
        I: IntoIterator<Item = (N, D)>,
        N: Into<String>,
        D: Into<String>,
    {
        let mut entries: Vec<Entry> = Vec::new();
        for (index, (nt, dos)) in pairs.into_iter().enumerate() {
            if index >= MAX_VOLUME_MAP_ENTRIES {
                let count = index + 1;
                return Err(VolumeMapError::TooManyEntries { count, limit: MAX_VOLUME_MAP_ENTRIES });
            }
            let (nt, dos) = (nt.into(), dos.into());
            let nt_units: Vec<u16> = nt.encode_utf16().collect();
            let dos_units: Vec<u16> = dos.encode_utf16().collect();
            check_prefix(index, Side::Nt, &nt_units)?;
            check_prefix(index, Side::Dos, &dos_units)?;
            if nt_units.first() != Some(&BACKSLASH) {
                return Err(VolumeMapError::NtPrefixNotAbsolute { entry: index });
            }
            let reserved = DOS_DEVICE_DIRECTORIES.iter().chain([&MUP]).any(|fixed| {
                let fixed: Vec<u16> = fixed.trim_end_matches('\\').encode_utf16().collect();
                component_prefix(&nt_units, &fixed).is_some()
            });
            if reserved {
                return Err(VolumeMapError::ReservedPrefix { entry: index });
            }
            if let Some(earlier) =
                entries.iter().position(|e| component_prefix(&nt_units, &e.nt_units).is_some())
            {
                return Err(VolumeMapError::Shadowed { entry: index, earlier });
            }
            entries.push(Entry { nt, dos, nt_units, dos_units });
        }
        Ok(VolumeMap { entries })
    }

    /// The map of a machine from its DOS devices (drive letter → NT target, as
    /// `QueryDosDevice` reports them, A to Z) and its Windows directory.
    ///
    /// Kept: targets under `\Device\` that are not a network redirector's
    /// (those paths reach the kernel as `\Device\Mup\server\share`, which the
    /// fixed rules turn into `\\server\share`, the form rules expect). Dropped:
    /// `subst` drives (targets under `\??\`, which the kernel never reports),
    /// and a second letter for a volume that already has one.
    pub fn from_dos_devices<I>(devices: I, windows_directory: &str) -> Result<Self, VolumeMapError>
    where
        I: IntoIterator<Item = (char, String)>,
    {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let windows = windows_directory.trim_end_matches('\\');
        if !windows.is_empty() {
            pairs.push((r"\SystemRoot".to_owned(), windows.to_owned()));
        }
        for (letter, target) in devices {
            let target = target.trim_end_matches('\\');
            let is_volume = starts_with_ignore_case(target, r"\Device\") && !target.contains(r"\;");
            let known = pairs.iter().any(|(nt, _)| nt.eq_ignore_ascii_case(target));
            if letter.is_ascii_alphabetic() && is_volume && !known {
                pairs.push((target.to_owned(), format!("{}:", letter.to_ascii_uppercase())));
            }
        }
        Self::from_pairs(pairs)
    }

    /// The pairs, in order: the plain value the content's volume map carries.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|e| (e.nt.as_str(), e.dos.as_str()))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// `nt` in DOS form, or in its own form with the reason it was kept.
    pub fn to_dos(&self, nt: &[u16]) -> DosPath {
        for directory in DOS_DEVICE_DIRECTORIES {
            let Some(rest) = strip_prefix_ignore_case(nt, directory) else { continue };
            if let Some(unc) = strip_prefix_ignore_case(rest, r"UNC\") {
                return DosPath::converted(&[BACKSLASH, BACKSLASH], unc, PathOrigin::Unc);
            }
            if is_drive(rest) {
                return DosPath::converted(&[], rest, PathOrigin::DosDevice);
            }
        }
        if let Some(mut rest) = strip_prefix_ignore_case(nt, MUP) {
            // `;LanmanRedirector\;Z:000…\` name the redirector and a mapped drive, not the share.
            while rest.first() == Some(&SEMICOLON) {
                rest = match rest.iter().position(|u| *u == BACKSLASH) {
                    Some(at) => rest.get(at.saturating_add(1)..).unwrap_or_default(),
                    None => &[],
                };
            }
            return DosPath::converted(&[BACKSLASH, BACKSLASH], rest, PathOrigin::Unc);
        }
        for (index, entry) in self.entries.iter().enumerate() {
            if let Some(rest) = component_prefix(nt, &entry.nt_units) {
                return DosPath::converted(&entry.dos_units, rest, PathOrigin::Volume(index));
            }
        }
        let origin = if is_drive(nt) || nt.starts_with(&[BACKSLASH, BACKSLASH]) {
            PathOrigin::AlreadyDos
        } else {
            PathOrigin::UnknownDevice
        };
        DosPath { path: nt.to_vec(), origin }
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
    /// The volume map's entry at this index.
    Volume(usize),
    /// Already `X:…` or `\\…`; kept as it was.
    AlreadyDos,
    /// No rule and no map entry knows this device: the NT form is kept.
    UnknownDevice,
}

impl DosPath {
    fn converted(head: &[u16], rest: &[u16], origin: PathOrigin) -> Self {
        let mut path = Vec::with_capacity(head.len().saturating_add(rest.len()));
        path.extend_from_slice(head);
        path.extend_from_slice(rest);
        DosPath { path, origin }
    }

    /// Whether the path is in DOS form (converted or already so).
    pub fn is_dos(&self) -> bool {
        self.origin != PathOrigin::UnknownDevice
    }
}

fn check_prefix(entry: usize, side: Side, units: &[u16]) -> Result<(), VolumeMapError> {
    if units.is_empty() {
        return Err(VolumeMapError::EmptyPrefix { entry, side });
    }
    if units.len() > MAX_PREFIX_UNITS {
        return Err(VolumeMapError::PrefixTooLong {
            entry,
            side,
            units: units.len(),
            limit: MAX_PREFIX_UNITS,
        });
    }
    if units.last() == Some(&BACKSLASH) {
        return Err(VolumeMapError::TrailingSeparator { entry, side });
    }
    Ok(())
}

/// `X:` followed by a backslash or nothing.
fn is_drive(units: &[u16]) -> bool {
    match units {
        [letter, COLON, rest @ ..] => {
            u8::try_from(*letter).is_ok_and(|c| c.is_ascii_alphabetic())
                && rest.first().is_none_or(|u| *u == BACKSLASH)
        }
        _ => false,
    }
}

/// The rest of `path` after `prefix` when `prefix` matches (ASCII case-insensitively)
/// and ends at a component boundary; the rest then starts with a backslash or is empty.
fn component_prefix<'p>(path: &'p [u16], prefix: &[u16]) -> Option<&'p [u16]> {
    let (head, rest) = path.split_at_checked(prefix.len())?;
    let boundary = rest.first().is_none_or(|u| *u == BACKSLASH);
    (boundary && eq_ignore_ascii_case(head, prefix)).then_some(rest)
}

fn strip_prefix_ignore_case<'p>(path: &'p [u16], prefix: &str) -> Option<&'p [u16]> {
    let mut rest = path;
    for unit in prefix.encode_utf16() {
        let (first, tail) = rest.split_first()?;
        if fold(*first) != fold(unit) {
            return None;
        }
        rest = tail;
    }
    Some(rest)
}

fn eq_ignore_ascii_case(a: &[u16], b: &[u16]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| fold(*x) == fold(*y))
}

fn fold(unit: u16) -> u16 {
    match u8::try_from(unit) {
        Ok(c) => u16::from(c.to_ascii_lowercase()),
        Err(_) => unit,
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len()).is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}
