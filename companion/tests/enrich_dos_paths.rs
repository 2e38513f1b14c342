//! NT paths to DOS paths: every fixed rule, the machine's volume map, unknown
//! devices, and the map's validation.

use ringfence_companion::enrich::dos_path::{
    MAX_PREFIX_UNITS, MAX_VOLUME_MAP_ENTRIES, PathOrigin, Side, VolumeMap, VolumeMapError,
};

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// A machine with C: on volume 3, D: on volume 5, Windows in C:\Windows.
fn machine() -> VolumeMap {
    VolumeMap::from_dos_devices(
        [('C', r"\Device\HarddiskVolume3".to_owned()), ('D', r"\Device\HarddiskVolume5".to_owned())],
        r"C:\Windows",
    )
    .unwrap()
}

fn convert(map: &VolumeMap, nt: &str) -> (String, PathOrigin) {
    let dos = map.to_dos(&wide(nt));
    (String::from_utf16(&dos.path).unwrap(), dos.origin)
}

#[test]
fn a_harddisk_volume_becomes_its_drive_letter() {
    let map = machine();
    assert_eq!(
        convert(&map, r"\Device\HarddiskVolume3\Windows\System32\cmd.exe"),
        (r"C:\Windows\System32\cmd.exe".to_owned(), PathOrigin::Volume(0))
    );
    assert_eq!(
        convert(&map, r"\Device\HarddiskVolume5\tools\x.exe"),
        (r"D:\tools\x.exe".to_owned(), PathOrigin::Volume(1))
    );
}

#[test]
fn a_volume_prefix_matches_only_at_a_component_boundary() {
    let map = machine();
    let (path, origin) = convert(&map, r"\Device\HarddiskVolume33\x.exe");
    assert_eq!((path.as_str(), origin), (r"\Device\HarddiskVolume33\x.exe", PathOrigin::UnknownDevice));
}

#[test]
fn volume_prefixes_match_whatever_the_case() {
    let map = machine();
    assert_eq!(convert(&map, r"\DEVICE\harddiskvolume3\a.dll").0, r"C:\a.dll");
}

#[test]
fn the_volume_root_itself_converts() {
    assert_eq!(convert(&machine(), r"\Device\HarddiskVolume3"), ("C:".to_owned(), PathOrigin::Volume(0)));
}

#[test]
fn dos_device_directory_drive_paths_lose_their_prefix() {
    let map = machine();
    for nt in [r"\??\C:\Users\a\x.exe", r"\DosDevices\C:\Users\a\x.exe", r"\GLOBAL??\C:\Users\a\x.exe"] {
        assert_eq!(convert(&map, nt), (r"C:\Users\a\x.exe".to_owned(), PathOrigin::DosDevice), "{nt}");
    }
    // A drive the map does not know is still a drive.
    assert_eq!(convert(&map, r"\??\q:\x.exe"), (r"q:\x.exe".to_owned(), PathOrigin::DosDevice));
}

#[test]
fn dos_device_unc_paths_become_unc() {
    assert_eq!(
        convert(&machine(), r"\??\UNC\fileserver\share\tools\x.exe"),
        (r"\\fileserver\share\tools\x.exe".to_owned(), PathOrigin::Unc)
    );
}

#[test]
fn mup_paths_become_unc_without_the_redirector_components() {
    let map = machine();
    assert_eq!(
        convert(&map, r"\Device\Mup\fileserver\share\x.dll"),
        (r"\\fileserver\share\x.dll".to_owned(), PathOrigin::Unc)
    );
    assert_eq!(
        convert(&map, r"\Device\Mup\;LanmanRedirector\;Z:000000000001a2b3\fileserver\share\x.dll"),
        (r"\\fileserver\share\x.dll".to_owned(), PathOrigin::Unc)
    );
}

#[test]
fn system_root_becomes_the_windows_directory() {
    assert_eq!(
        convert(&machine(), r"\SystemRoot\System32\drivers\ntfs.sys"),
        (r"C:\Windows\System32\drivers\ntfs.sys".to_owned(), PathOrigin::SystemRoot)
    );
}

#[test]
fn unknown_devices_keep_the_nt_form_and_say_so() {
    let map = machine();
    for nt in
        [r"\Device\CdRom0\setup.exe", r"\Device\HarddiskVolumeShadowCopy4\x.exe", r"\??\Volume{1234}\x.exe"]
    {
        let dos = map.to_dos(&wide(nt));
        assert_eq!(dos.path, wide(nt));
        assert_eq!(dos.origin, PathOrigin::UnknownDevice);
        assert!(!dos.is_dos());
    }
}

#[test]
fn paths_already_in_dos_form_are_kept() {
    let map = machine();
    assert_eq!(convert(&map, r"C:\x.exe"), (r"C:\x.exe".to_owned(), PathOrigin::AlreadyDos));
    assert_eq!(
        convert(&map, r"\\server\share\x.exe"),
        (r"\\server\share\x.exe".to_owned(), PathOrigin::AlreadyDos)
    );
}

#[test]
fn unpaired_surrogates_survive_conversion() {
    let mut nt = wide(r"\Device\HarddiskVolume3\odd");
    nt.push(0xD800);
    let mut dos = wide(r"C:\odd");
    dos.push(0xD800);
    assert_eq!(machine().to_dos(&nt).path, dos);
}

#[test]
fn the_machine_map_keeps_one_letter_per_volume_and_skips_subst_and_network_drives() {
    let map = VolumeMap::from_dos_devices(
        [
            ('C', r"\Device\HarddiskVolume3".to_owned()),
            ('E', r"\Device\HarddiskVolume3".to_owned()),
            ('S', r"\??\C:\src".to_owned()),
            ('Z', r"\Device\LanmanRedirector\;Z:000000000001a2b3\fileserver\share".to_owned()),
            ('d', r"\Device\CdRom0\".to_owned()),
        ],
        r"C:\Windows\",
    )
    .unwrap();
    let pairs: Vec<(String, String)> = map.pairs().collect();
    assert_eq!(
        pairs,
        [
            (r"\SystemRoot".to_owned(), r"C:\Windows".to_owned()),
            (r"\Device\CdRom0".to_owned(), "D:".to_owned()),
            (r"\Device\HarddiskVolume3".to_owned(), "C:".to_owned())
        ]
    );
}

#[test]
fn a_letter_whose_target_the_map_cannot_hold_costs_only_that_letter() {
    let map = VolumeMap::from_dos_devices(
        [
            ('C', r"\Device\HarddiskVolume3".to_owned()),
            ('M', r"\Device\HarddiskVolume3\mounted".to_owned()),
            ('N', format!(r"\Device\{}", "n".repeat(MAX_PREFIX_UNITS))),
            ('Z', r"\Device\Mup\server\share".to_owned()),
        ],
        r"C:\Windows",
    )
    .unwrap();
    let pairs: Vec<(String, String)> = map.pairs().collect();
    assert_eq!(
        pairs,
        [
            (r"\SystemRoot".to_owned(), r"C:\Windows".to_owned()),
            (r"\Device\HarddiskVolume3".to_owned(), "C:".to_owned())
        ]
    );
}

#[test]
fn the_companion_translates_with_the_map_it_pushes_to_the_driver() {
    use ringfence_wire::volume_map::{Translation, VolumeMap as Pushed};
    let map = machine();
    let bytes = map.to_le_bytes();
    let mut units = vec![0u16; bytes.len() / 2];
    ringfence_wire::volume_map::units_from_le_bytes(&bytes, &mut units).unwrap();
    let pushed = Pushed::new_checked(&units).unwrap();
    for nt in [r"\Device\HarddiskVolume5\x.exe", r"\SystemRoot\a.dll", r"\Device\CdRom0\x"] {
        let nt = wide(nt);
        let kernel: Option<Vec<u16>> = match pushed.translate(&nt) {
            Translation::Dos { head, tail, .. } => Some(head.iter().chain(tail).copied().collect()),
            Translation::Unknown => None,
        };
        let companion = map.to_dos(&nt);
        assert_eq!(kernel, companion.is_dos().then_some(companion.path));
    }
}

#[test]
fn pairs_are_kept_in_the_maps_order_and_round_trip() {
    let pairs = [(r"\Device\HarddiskVolume3", "C:"), (r"\Device\Foo", r"C:\mnt\foo")];
    let map = VolumeMap::from_pairs(pairs).unwrap();
    let kept: Vec<(String, String)> = map.pairs().collect();
    assert_eq!(
        kept,
        [(r"\Device\Foo".into(), r"C:\mnt\foo".into()), (r"\Device\HarddiskVolume3".into(), "C:".into())]
    );
    assert_eq!(VolumeMap::from_pairs(map.pairs()).unwrap(), map);
    assert_eq!(convert(&map, r"\Device\Foo\bar").0, r"C:\mnt\foo\bar");
}

#[test]
fn pairs_that_would_both_match_one_path_are_refused_whatever_their_order() {
    let err = VolumeMap::from_pairs([(r"\Device\Foo", "F:"), (r"\device\foo\bar", "G:")]).unwrap_err();
    assert_eq!(err, VolumeMapError::Nested { entry: 1, other: 0 });
    let err = VolumeMap::from_pairs([(r"\Device\Foo\bar", "G:"), (r"\Device\Foo", "F:")]).unwrap_err();
    assert_eq!(err, VolumeMapError::Nested { entry: 0, other: 1 });
    let err = VolumeMap::from_pairs([(r"\Device\Foo", "F:"), (r"\DEVICE\FOO", "G:")]).unwrap_err();
    assert_eq!(err, VolumeMapError::Duplicate { entry: 1, other: 0 });
}

#[test]
fn the_windows_directory_must_be_a_directory_on_a_drive() {
    assert!(matches!(
        VolumeMap::from_pairs([(r"\SystemRoot", "Windows")]).unwrap_err(),
        VolumeMapError::WindowsDirectory { .. }
    ));
    assert_eq!(
        VolumeMap::from_pairs([(r"\SystemRoot\System32", r"C:\Windows\System32")]).unwrap_err(),
        VolumeMapError::ReservedPrefix { entry: 0 }
    );
}

#[test]
fn malformed_pairs_are_refused_with_entry_and_reason() {
    assert_eq!(
        VolumeMap::from_pairs([("Device\\X", "X:")]).unwrap_err(),
        VolumeMapError::NtPrefixNotAbsolute { entry: 0 }
    );
    assert_eq!(
        VolumeMap::from_pairs([(r"\Device\A", "A:"), (r"\Device\X\", "X:")]).unwrap_err(),
        VolumeMapError::TrailingSeparator { entry: 1, side: Side::Nt }
    );
    assert_eq!(
        VolumeMap::from_pairs([(r"\Device\X", r"X:\")]).unwrap_err(),
        VolumeMapError::TrailingSeparator { entry: 0, side: Side::Dos }
    );
    assert_eq!(
        VolumeMap::from_pairs([(r"\Device\X", "")]).unwrap_err(),
        VolumeMapError::EmptyPrefix { entry: 0, side: Side::Dos }
    );
    assert_eq!(
        VolumeMap::from_pairs([(r"\Device\X", "X")]).unwrap_err(),
        VolumeMapError::NotDosForm { entry: 0, side: Side::Dos }
    );
    let long = format!(r"\Device\{}", "v".repeat(MAX_PREFIX_UNITS));
    assert_eq!(
        VolumeMap::from_pairs([(long.as_str(), "X:")]).unwrap_err(),
        VolumeMapError::PrefixTooLong {
            entry: 0,
            side: Side::Nt,
            units: MAX_PREFIX_UNITS + 8,
            limit: MAX_PREFIX_UNITS
        }
    );
}

#[test]
fn pairs_under_the_fixed_rules_are_refused() {
    for nt in [r"\??\C:", r"\DosDevices", r"\Device\Mup\server", r"\SystemRoot\x"] {
        assert_eq!(
            VolumeMap::from_pairs([(nt, "C:")]).unwrap_err(),
            VolumeMapError::ReservedPrefix { entry: 0 },
            "{nt}"
        );
    }
}

#[test]
fn a_map_holds_at_most_the_published_number_of_pairs() {
    let pairs: Vec<(String, String)> =
        (0..=MAX_VOLUME_MAP_ENTRIES).map(|i| (format!(r"\Device\V{i}"), format!(r"C:\v{i}"))).collect();
    assert!(VolumeMap::from_pairs(pairs[..MAX_VOLUME_MAP_ENTRIES].to_vec()).is_ok());
    assert_eq!(
        VolumeMap::from_pairs(pairs).unwrap_err(),
        VolumeMapError::TooManyEntries { count: MAX_VOLUME_MAP_ENTRIES + 1, limit: MAX_VOLUME_MAP_ENTRIES }
    );
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Any units after a known volume keep exactly their order and value.
        #[test]
        fn a_volume_path_converts_to_the_drive_and_the_same_rest(rest in proptest::collection::vec(any::<u16>(), 0..64)) {
            let mut nt = wide(r"\Device\HarddiskVolume3\");
            nt.extend_from_slice(&rest);
            let mut dos = wide(r"C:\");
            dos.extend_from_slice(&rest);
            prop_assert_eq!(machine().to_dos(&nt).path, dos);
        }

        /// Conversion never fails and never loses the tail of a path it does not know.
        #[test]
        fn any_path_converts_or_is_kept_whole(units in proptest::collection::vec(any::<u16>(), 0..96)) {
            let dos = machine().to_dos(&units);
            if dos.origin == PathOrigin::UnknownDevice || dos.origin == PathOrigin::AlreadyDos {
                prop_assert_eq!(dos.path, units);
            }
        }
    }
}
