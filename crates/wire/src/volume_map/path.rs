//! Translating an NT path with a [`VolumeMap`], in this order:
//! 1. the fixed forms of the object namespace, the same on every machine:
//!    `\??\UNC\` → `\\`, `\??\X:` → `X:` (also spelled `\DosDevices\` and
//!    `\GLOBAL??\`), and `\Device\Mup\` → `\\` (dropping the redirector's own
//!    `;Name` components, as in `\Device\Mup\;LanmanRedirector\;Z:0…\server\share`);
//! 2. `\SystemRoot` → the map's Windows directory;
//! 3. the map's entries: the one whose NT prefix the path starts with;
//! 4. a path already in DOS form (`X:…`, `\\…`) is itself.
//!
//! Prefixes match ASCII case-insensitively and only at a component boundary:
//! `\Device\HarddiskVolume1` does not match `\Device\HarddiskVolume10\x`.
//! Anything else is [`Translation::Unknown`]: rules on it cannot decide.

use core::cmp::Ordering;

use super::VolumeMap;

pub(super) const BACKSLASH: u16 = b'\\' as u16;
const COLON: u16 = b':' as u16;
const SEMICOLON: u16 = b';' as u16;
const UNC_HEAD: [u16; 2] = [BACKSLASH, BACKSLASH];

/// `\??\`, `\DosDevices\`, `\GLOBAL??\`: the spellings of the DOS device directory.
const DOS_DEVICE_DIRECTORIES: [&[u8]; 3] = [b"\\??\\", b"\\DosDevices\\", b"\\GLOBAL??\\"];
const MUP: &[u8] = b"\\Device\\Mup\\";
const SYSTEM_ROOT: &[u8] = b"\\SystemRoot";
const UNC: &[u8] = b"UNC\\";
/// NT prefixes a map entry may not use or lie under: the fixed forms own them.
const RESERVED: [&[u8]; 5] = [b"\\??", b"\\DosDevices", b"\\GLOBAL??", b"\\Device\\Mup", SYSTEM_ROOT];

/// An NT path read in DOS form, or unknown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Translation<'a> {
    /// The DOS path is `head` followed by `tail`, neither copied: `head` comes from the
    /// map (or is fixed), `tail` is the end of the NT path.
    Dos { head: &'a [u16], tail: &'a [u16], via: Via },
    /// No fixed form, no entry and no DOS form: the path's volume is unknown.
    Unknown,
}

/// Which rule translated a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `\??\X:…` (or `\DosDevices\`, `\GLOBAL??\`).
    DosDevice,
    /// `\??\UNC\…` or `\Device\Mup\…`, now `\\server\share\…`.
    Unc,
    /// `\SystemRoot\…`, now under the Windows directory.
    SystemRoot,
    /// The map's entry at this index.
    Volume { entry: usize },
    /// Already `X:…` or `\\…`.
    AlreadyDos,
}

impl Translation<'_> {
    /// The DOS path's length in units; 0 when unknown.
    pub fn len(&self) -> usize {
        match self {
            Translation::Dos { head, tail, .. } => head.len().saturating_add(tail.len()),
            Translation::Unknown => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The DOS path's units in order; none when unknown.
    pub fn units(&self) -> impl Iterator<Item = u16> + '_ {
        let (head, tail): (&[u16], &[u16]) = match self {
            Translation::Dos { head, tail, .. } => (head, tail),
            Translation::Unknown => (&[], &[]),
        };
        head.iter().chain(tail).copied()
    }
}

impl<'m> VolumeMap<'m> {
    /// `nt` in DOS form as `head ++ tail`, or [`Translation::Unknown`].
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn translate<'a>(&self, nt: &'a [u16]) -> Translation<'a>
    where
        'm: 'a,
    {
        for directory in DOS_DEVICE_DIRECTORIES {
            let Some(rest) = strip_ascii_prefix(nt, directory) else { continue };
            if let Some(unc) = strip_ascii_prefix(rest, UNC) {
                return Translation::Dos { head: &UNC_HEAD, tail: unc, via: Via::Unc };
            }
            if is_drive(rest) {
                return Translation::Dos { head: &[], tail: rest, via: Via::DosDevice };
            }
        }
        if let Some(mut rest) = strip_ascii_prefix(nt, MUP) {
            // `;LanmanRedirector\;Z:000…\` name the redirector and a mapped drive, not the share.
            while rest.first() == Some(&SEMICOLON) {
                rest = match rest.iter().position(|u| *u == BACKSLASH) {
                    Some(at) => rest.get(at.saturating_add(1)..).unwrap_or_default(),
                    None => &[],
                };
            }
            return Translation::Dos { head: &UNC_HEAD, tail: rest, via: Via::Unc };
        }
        if let Some(rest) = ascii_component_prefix(nt, SYSTEM_ROOT) {
            let windows = self.windows_directory();
            if windows.is_empty() {
                return Translation::Unknown;
            }
            return Translation::Dos { head: windows, tail: rest, via: Via::SystemRoot };
        }
        if let Some((entry, dos, rest)) = self.find(nt) {
            return Translation::Dos { head: dos, tail: rest, via: Via::Volume { entry } };
        }
        if is_drive(nt) || nt.starts_with(&UNC_HEAD) {
            return Translation::Dos { head: &[], tail: nt, via: Via::AlreadyDos };
        }
        Translation::Unknown
    }

    /// The entry whose NT prefix `nt` starts with: the last entry not after `nt` in
    /// [`compare_prefixes`] order is the only candidate, since no prefix lies under another.
    fn find<'a>(&self, nt: &'a [u16]) -> Option<(usize, &'m [u16], &'a [u16])> {
        let (mut low, mut high) = (0usize, self.len());
        while low < high {
            let mid = low.saturating_add(high.saturating_sub(low) / 2);
            let (prefix, _) = self.entry(mid)?;
            if compare_prefixes(prefix, nt) == Ordering::Greater {
                high = mid;
            } else {
                low = mid.saturating_add(1);
            }
        }
        let candidate = low.checked_sub(1)?;
        let (prefix, dos) = self.entry(candidate)?;
        component_prefix(nt, prefix).map(|rest| (candidate, dos, rest))
    }
}

/// The order of NT prefixes in a map: unit by unit, ASCII letters folded to lower
/// case, the backslash before every other unit; a prefix before what extends it.
/// In this order, an entry that lies under another directly follows it.
pub fn compare_prefixes(a: &[u16], b: &[u16]) -> Ordering {
    let key = |u: u16| if u == BACKSLASH { 0 } else { u32::from(fold(u)).saturating_add(1) };
    a.iter().map(|u| key(*u)).cmp(b.iter().map(|u| key(*u)))
}

/// The rest of `path` after `prefix` when `prefix` matches (ASCII case-insensitively)
/// and ends at a component boundary; the rest then starts with a backslash or is empty.
pub(super) fn component_prefix<'p>(path: &'p [u16], prefix: &[u16]) -> Option<&'p [u16]> {
    let (head, rest) = path.split_at_checked(prefix.len())?;
    let boundary = rest.first().is_none_or(|u| *u == BACKSLASH);
    (boundary && head.iter().zip(prefix).all(|(x, y)| fold(*x) == fold(*y))).then_some(rest)
}

fn ascii_component_prefix<'p>(path: &'p [u16], prefix: &[u8]) -> Option<&'p [u16]> {
    let rest = strip_ascii_prefix(path, prefix)?;
    rest.first().is_none_or(|u| *u == BACKSLASH).then_some(rest)
}

fn strip_ascii_prefix<'p>(path: &'p [u16], prefix: &[u8]) -> Option<&'p [u16]> {
    let (head, rest) = path.split_at_checked(prefix.len())?;
    head.iter().zip(prefix).all(|(x, y)| fold(*x) == fold(u16::from(*y))).then_some(rest)
}

/// Whether an NT prefix is, or lies under, one the fixed forms own.
pub(super) fn is_reserved(nt: &[u16]) -> bool {
    RESERVED.iter().any(|fixed| ascii_component_prefix(nt, fixed).is_some())
}

/// `X:` followed by a backslash or nothing.
pub(super) fn is_drive(units: &[u16]) -> bool {
    match units {
        [letter, COLON, rest @ ..] => {
            u8::try_from(*letter).is_ok_and(|c| c.is_ascii_alphabetic())
                && rest.first().is_none_or(|u| *u == BACKSLASH)
        }
        _ => false,
    }
}

fn fold(unit: u16) -> u16 {
    if (u16::from(b'A')..=u16::from(b'Z')).contains(&unit) { unit | 0x20 } else { unit }
}
