#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use std::string::String;
use std::vec::Vec;

use super::*;

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// The map's units for `pairs` (sorted here) and `windows`.
fn build(windows: &str, pairs: &[(&str, &str)]) -> Vec<u16> {
    let owned: Vec<(Vec<u16>, Vec<u16>)> = pairs.iter().map(|(n, d)| (wide(n), wide(d))).collect();
    let mut entries: Vec<Entry<'_>> = owned.iter().map(|(nt, dos)| Entry { nt, dos }).collect();
    entries.sort_by(|a, b| compare_prefixes(a.nt, b.nt));
    raw(windows, &entries)
}

/// The units for `entries` exactly as given, unsorted and unchecked.
fn raw(windows: &str, entries: &[Entry<'_>]) -> Vec<u16> {
    let windows = wide(windows);
    let repr = VolumeMapRepr { windows_directory: &windows, entries };
    let mut out = std::vec![0u16; repr.units_len().unwrap()];
    assert_eq!(repr.emit(&mut out), Ok(out.len()));
    out
}

fn machine() -> Vec<u16> {
    build(r"C:\Windows", &[(r"\Device\HarddiskVolume3", "C:"), (r"\Device\HarddiskVolume5", "D:")])
}

fn dos(map: &[u16], nt: &str) -> Option<(String, Via)> {
    let map = VolumeMap::new_checked(map).unwrap();
    let nt = wide(nt);
    match map.translate(&nt) {
        Translation::Dos { head, tail, via } => {
            let units: Vec<u16> = head.iter().chain(tail).copied().collect();
            Some((String::from_utf16(&units).unwrap(), via))
        }
        Translation::Unknown => None,
    }
}

fn err(units: &[u16]) -> VolumeMapError {
    VolumeMap::new_checked(units).unwrap_err()
}

fn set_u32(units: &mut [u16], byte_offset: usize, value: u32) {
    units[byte_offset / 2] = value as u16;
    units[byte_offset / 2 + 1] = (value >> 16) as u16;
}

#[test]
fn each_form_translates_to_its_dos_path() {
    let map = machine();
    let cases = [
        (r"\Device\HarddiskVolume3\Windows\cmd.exe", r"C:\Windows\cmd.exe", Via::Volume { entry: 0 }),
        (r"\Device\HarddiskVolume5\tools\x.exe", r"D:\tools\x.exe", Via::Volume { entry: 1 }),
        (r"\Device\HarddiskVolume3", "C:", Via::Volume { entry: 0 }),
        (r"\??\C:\Users\a.exe", r"C:\Users\a.exe", Via::DosDevice),
        (r"\DosDevices\q:\a.exe", r"q:\a.exe", Via::DosDevice),
        (r"\GLOBAL??\C:\a.exe", r"C:\a.exe", Via::DosDevice),
        (r"\??\UNC\server\share\a.exe", r"\\server\share\a.exe", Via::Unc),
        (r"\Device\Mup\server\share\a.exe", r"\\server\share\a.exe", Via::Unc),
        (r"\Device\Mup\;LanmanRedirector\;Z:0001\server\share\a.dll", r"\\server\share\a.dll", Via::Unc),
        (r"\SystemRoot\System32\ntdll.dll", r"C:\Windows\System32\ntdll.dll", Via::SystemRoot),
        (r"C:\already.exe", r"C:\already.exe", Via::AlreadyDos),
        (r"\\server\share\x", r"\\server\share\x", Via::AlreadyDos),
    ];
    for (nt, expected, via) in cases {
        assert_eq!(dos(&map, nt), Some((expected.into(), via)), "{nt}");
    }
}

#[test]
fn prefixes_match_whatever_the_ascii_case_and_only_at_a_component_boundary() {
    let map = machine();
    assert_eq!(dos(&map, r"\DEVICE\harddiskvolume3\a.dll").unwrap().0, r"C:\a.dll");
    assert_eq!(dos(&map, r"\systemroot\a.dll").unwrap().0, r"C:\Windows\a.dll");
    assert_eq!(dos(&map, r"\Device\HarddiskVolume33\x.exe"), None);
    assert_eq!(dos(&map, r"\SystemRootX\a.dll"), None);
}

#[test]
fn a_path_whose_volume_is_unknown_is_unknown() {
    let map = machine();
    for nt in [r"\Device\CdRom0\setup.exe", r"\??\Volume{1234}\x.exe", r"\Device\Mup", "", "x"] {
        assert_eq!(dos(&map, nt), None, "{nt}");
    }
    assert_eq!(dos(&build("", &[]), r"\SystemRoot\a.dll"), None, "no Windows directory given");
}

#[test]
fn the_dos_path_borrows_its_tail_from_the_nt_path() {
    let units = machine();
    let map = VolumeMap::new_checked(&units).unwrap();
    let nt = wide(r"\Device\HarddiskVolume5\tools\x.exe");
    let Translation::Dos { head, tail, .. } = map.translate(&nt) else { panic!("unknown") };
    assert!(core::ptr::eq(tail, &nt[23..]));
    assert_eq!(head, wide("D:"));
    assert_eq!(map.translate(&nt).units().collect::<Vec<_>>(), wide(r"D:\tools\x.exe"));
    assert_eq!(map.translate(&nt).len(), 14);
}

#[test]
fn emit_then_parse_round_trips_exactly() {
    let units = machine();
    let map = VolumeMap::new_checked(&units).unwrap();
    assert_eq!(map.len(), 2);
    assert_eq!(map.windows_directory(), wide(r"C:\Windows"));
    let mut slots = [Entry { nt: &[], dos: &[] }; MAX_ENTRIES];
    let repr = VolumeMapRepr::parse(&map, &mut slots).unwrap();
    let mut again = std::vec![0u16; repr.units_len().unwrap()];
    repr.emit(&mut again).unwrap();
    assert_eq!(again, units);
    let mut bytes = std::vec![0u8; units.len() * 2];
    assert_eq!(units_to_le_bytes(&units, &mut bytes), Some(bytes.len()));
    let mut back = std::vec![0u16; units.len()];
    assert_eq!(units_from_le_bytes(&bytes, &mut back), Ok(units.len()));
    assert_eq!(back, units);
}

#[test]
fn header_errors_name_the_field() {
    let good = machine();
    assert_eq!(err(&good[..11]), VolumeMapError::Truncated { needed_bytes: 24, bytes: 22 });
    let mut bad = good.clone();
    set_u32(&mut bad, layout::VERSION, 2);
    assert_eq!(err(&bad), VolumeMapError::Version { found: 2, expected: 1 });
    let mut bad = good.clone();
    set_u32(&mut bad, layout::SIZE, 4);
    assert_eq!(err(&bad), VolumeMapError::SizeField { found: 4, bytes: good.len() * 2 });
    let mut bad = good.clone();
    set_u32(&mut bad, layout::RESERVED, 1);
    assert_eq!(err(&bad), VolumeMapError::Reserved { offset: 20 });
    let mut bad = good.clone();
    set_u32(&mut bad, layout::ENTRY_COUNT, 65);
    assert_eq!(err(&bad), VolumeMapError::TooManyEntries { count: 65, limit: 64 });
    let mut bad = good.clone();
    set_u32(&mut bad, layout::ENTRY_COUNT, 40);
    assert_eq!(err(&bad), VolumeMapError::Truncated { needed_bytes: 24 + 40 * 16, bytes: good.len() * 2 });
}

#[test]
fn limits_are_checked_before_anything_is_read() {
    let huge = std::vec![0u16; MAX_MAP_BYTES / 2 + 1];
    assert_eq!(err(&huge), VolumeMapError::TooLarge { bytes: MAX_MAP_BYTES + 2, limit: MAX_MAP_BYTES });
    let mut out = [0u16; 4];
    assert_eq!(
        units_from_le_bytes(&std::vec![0u8; MAX_MAP_BYTES + 1], &mut out),
        Err(VolumeMapError::TooLarge { bytes: MAX_MAP_BYTES + 1, limit: MAX_MAP_BYTES })
    );
    assert_eq!(units_from_le_bytes(&[1, 2, 3], &mut out), Err(VolumeMapError::OddLength { bytes: 3 }));
    let names: Vec<(String, String)> =
        (0..MAX_ENTRIES).map(|i| (std::format!(r"\Device\V{i:02}"), std::format!(r"C:\v{i}"))).collect();
    let pairs: Vec<(&str, &str)> = names.iter().map(|(n, d)| (n.as_str(), d.as_str())).collect();
    assert_eq!(VolumeMap::new_checked(&build(r"C:\Windows", &pairs)).map(|m| m.len()), Ok(MAX_ENTRIES));
    let long = "x".repeat(MAX_PREFIX_UNITS);
    let nt = std::format!(r"\{long}");
    assert_eq!(
        err(&build("", &[(&nt, "C:")])),
        VolumeMapError::PrefixTooLong { item: Item::Nt { entry: 0 }, units: 257, limit: MAX_PREFIX_UNITS }
    );
}

#[test]
fn strings_must_be_packed_in_order_and_fill_the_map() {
    let good = machine();
    // Entry 0's NT prefix reference points one unit later than where the Windows directory ends.
    let mut bad = good.clone();
    let at = layout::HEADER_LEN + layout::ENTRY_NT;
    let offset = bad[at / 2] as u32;
    set_u32(&mut bad, at, offset + 1);
    assert_eq!(
        err(&bad),
        VolumeMapError::StringMisplaced {
            item: Item::Nt { entry: 0 },
            offset_units: offset + 1,
            expected_units: offset as usize
        }
    );
    let mut longer = good.clone();
    longer.push(0);
    let size = (longer.len() * 2) as u32;
    set_u32(&mut longer, layout::SIZE, size);
    assert_eq!(err(&longer), VolumeMapError::TrailingUnits { offset_units: good.len() });
    let mut shorter = good[..good.len() - 1].to_vec();
    let size = (shorter.len() * 2) as u32;
    set_u32(&mut shorter, layout::SIZE, size);
    assert_eq!(
        err(&shorter),
        VolumeMapError::Truncated { needed_bytes: good.len() * 2, bytes: shorter.len() * 2 }
    );
}

/// Windows directory, pairs, the error.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], VolumeMapError);

#[test]
fn malformed_prefixes_are_refused_with_the_item_and_reason() {
    let nt0 = Item::Nt { entry: 0 };
    let dos0 = Item::Dos { entry: 0 };
    let cases: [Case<'_>; 12] = [
        ("", &[("", "C:")], VolumeMapError::EmptyPrefix { item: nt0 }),
        ("", &[(r"\Device\X", "")], VolumeMapError::EmptyPrefix { item: dos0 }),
        ("", &[(r"Device\X", "C:")], VolumeMapError::NtPrefixNotAbsolute { entry: 0 }),
        ("", &[(r"\Device\X\", "C:")], VolumeMapError::TrailingSeparator { item: nt0 }),
        ("", &[(r"\Device\X", r"C:\")], VolumeMapError::TrailingSeparator { item: dos0 }),
        ("", &[(r"\Device\X", "X")], VolumeMapError::NotDosForm { item: dos0 }),
        ("", &[(r"\Device\X", r"\x")], VolumeMapError::NotDosForm { item: dos0 }),
        ("", &[(r"\??\C:", "C:")], VolumeMapError::ReservedPrefix { entry: 0 }),
        ("", &[(r"\device\mup\server", "C:")], VolumeMapError::ReservedPrefix { entry: 0 }),
        ("", &[(r"\SystemRoot", r"C:\Windows")], VolumeMapError::ReservedPrefix { entry: 0 }),
        (r"C:\Windows\", &[], VolumeMapError::TrailingSeparator { item: Item::WindowsDirectory }),
        ("C:", &[], VolumeMapError::NotDosForm { item: Item::WindowsDirectory }),
    ];
    for (windows, pairs, expected) in cases {
        assert_eq!(err(&build(windows, pairs)), expected, "{windows} {pairs:?}");
    }
    assert!(VolumeMap::new_checked(&build("", &[(r"\Device\X", r"\\server\share")])).is_ok());
    assert!(VolumeMap::new_checked(&build("", &[(r"\Device\X", r"C:\mnt\x")])).is_ok());
}

#[test]
fn entries_must_be_sorted_unique_and_never_nested() {
    let a = wide(r"\Device\A");
    let a_upper = wide(r"\DEVICE\a");
    let b = wide(r"\Device\B");
    let a_under = wide(r"\Device\A\B");
    let a_plus = wide(r"\Device\A+");
    let c = wide("C:");
    let entry = |nt: &[u16]| (nt.to_vec(), c.clone());
    let check = |list: &[(Vec<u16>, Vec<u16>)]| {
        let entries: Vec<Entry<'_>> = list.iter().map(|(nt, dos)| Entry { nt, dos }).collect();
        VolumeMap::new_checked(&raw("", &entries)).map(|m| m.len())
    };
    assert_eq!(check(&[entry(&b), entry(&a)]), Err(VolumeMapError::OutOfOrder { entry: 1 }));
    assert_eq!(check(&[entry(&a), entry(&a_upper)]), Err(VolumeMapError::Duplicate { entry: 1 }));
    assert_eq!(check(&[entry(&a), entry(&a_under)]), Err(VolumeMapError::Nested { entry: 1 }));
    // The separator sorts first, so a nested prefix cannot hide behind a sibling.
    assert_eq!(
        check(&[entry(&a), entry(&a_under), entry(&a_plus)]),
        Err(VolumeMapError::Nested { entry: 1 })
    );
    assert_eq!(
        check(&[entry(&a), entry(&a_plus), entry(&a_under)]),
        Err(VolumeMapError::OutOfOrder { entry: 2 })
    );
    assert_eq!(check(&[entry(&a), entry(&a_plus), entry(&b)]), Ok(3));
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// NT prefixes of a few components over a small alphabet, so that prefixes share
    /// beginnings, differ in case and sort around the separator.
    fn prefix() -> impl Strategy<Value = Vec<u16>> {
        proptest::collection::vec(
            proptest::collection::vec(prop::sample::select(&[0x41u16, 0x61, 0x2B, 0x31, 0xE9][..]), 1..4),
            1..4,
        )
        .prop_map(|components| {
            let mut units = Vec::new();
            for component in components {
                units.push(0x5C);
                units.extend(component);
            }
            units
        })
    }

    fn path() -> impl Strategy<Value = Vec<u16>> {
        (
            prefix(),
            proptest::collection::vec(prop::sample::select(&[0x5Cu16, 0x41, 0x61, 0x2B, 0xD800][..]), 0..6),
        )
            .prop_map(|(mut p, rest)| {
                p.extend(rest);
                p
            })
    }

    proptest! {
        /// The binary search finds exactly the entry a scan of every entry finds.
        #[test]
        fn translation_agrees_with_a_scan_of_every_entry(
            prefixes in proptest::collection::vec(prefix(), 0..12),
            paths in proptest::collection::vec(path(), 1..16),
        ) {
            // Keep a sorted, nesting-free subset, as a builder would.
            let mut sorted = prefixes;
            sorted.sort_by(|a, b| compare_prefixes(a, b));
            let mut kept: Vec<Vec<u16>> = Vec::new();
            for p in sorted {
                if kept.iter().all(|k| compare_prefixes(k, &p) != Ordering::Equal
                    && path::component_prefix(&p, k).is_none() && path::component_prefix(k, &p).is_none()) {
                    kept.push(p);
                }
            }
            let dos: Vec<Vec<u16>> = (0..kept.len()).map(|i| wide(&std::format!(r"C:\v{i}"))).collect();
            let entries: Vec<Entry<'_>> = kept.iter().zip(&dos).map(|(nt, dos)| Entry { nt, dos }).collect();
            let units = raw("", &entries);
            let map = VolumeMap::new_checked(&units).unwrap();
            for p in &paths {
                let scan = kept.iter().enumerate().find_map(|(i, k)| path::component_prefix(p, k).map(|rest| (i, rest)));
                let found = match map.translate(p) {
                    Translation::Dos { tail, via: Via::Volume { entry }, .. } => Some((entry, tail)),
                    _ => None,
                };
                prop_assert_eq!(found, scan);
            }
        }

        /// Any units validate or are refused; nothing panics, and what validates translates.
        #[test]
        fn arbitrary_units_never_panic(units in proptest::collection::vec(any::<u16>(), 0..64), nt in path()) {
            if let Ok(map) = VolumeMap::new_checked(&units) {
                let _ = map.translate(&nt);
            }
        }
    }
}
