//! The volume map `SET_VOLUME_MAP` hands the driver, and a path to translate with it.
//! Input: a `u16` (little-endian) splitting the rest into the map's bytes and the
//! path's units. Validation never panics; a validated map emits back to the same
//! units; a translation's tail is the end of the path and a volume entry is the
//! one entry a plain scan finds; on units nobody validated, translation is still
//! memory-safe.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ringfence_wire::volume_map::{
    Entry, MAX_ENTRIES, MAX_MAP_BYTES, Translation, Via, VolumeMap, VolumeMapError, VolumeMapRepr,
    units_from_le_bytes,
};

fn fold(u: u16) -> u16 {
    if (0x41..=0x5A).contains(&u) { u + 0x20 } else { u }
}

/// The reference: `prefix` starts `path` ignoring ASCII case, at a component boundary.
fn under(path: &[u16], prefix: &[u16]) -> Option<usize> {
    let head = path.get(..prefix.len())?;
    let same = head.iter().zip(prefix).all(|(a, b)| fold(*a) == fold(*b));
    let boundary = path.get(prefix.len()).is_none_or(|u| *u == u16::from(b'\\'));
    (same && boundary).then_some(prefix.len())
}

fuzz_target!(|data: &[u8]| {
    let Some((split, rest)) = data.split_first_chunk::<2>() else { return };
    let split = usize::from(u16::from_le_bytes(*split)).min(rest.len());
    let (map_bytes, path_bytes) = rest.split_at(split);
    let path: Vec<u16> = path_bytes.chunks_exact(2).map(|b| u16::from_le_bytes([b[0], b[1]])).collect();
    let mut units = vec![0u16; MAX_MAP_BYTES / 2];
    let n = match units_from_le_bytes(map_bytes, &mut units) {
        Ok(n) => n,
        Err(VolumeMapError::OddLength { .. } | VolumeMapError::TooLarge { .. }) => return,
        Err(other) => panic!("unexpected {other:?}"),
    };
    let units = &units[..n];
    // Bytes nobody validated: wrong answers at worst, never a panic or a read outside them.
    let _ = VolumeMap::from_validated(units).translate(&path);
    let Ok(map) = VolumeMap::new_checked(units) else { return };
    let mut slots = [Entry { nt: &[], dos: &[] }; MAX_ENTRIES];
    let repr = VolumeMapRepr::parse(&map, &mut slots).expect("a validated map has room");
    let mut again = vec![0u16; repr.units_len().expect("small")];
    assert_eq!(repr.emit(&mut again), Ok(units.len()));
    assert_eq!(again, units);
    let scan = map.entries().enumerate().find_map(|(i, (nt, dos))| under(&path, nt).map(|at| (i, dos, at)));
    match map.translate(&path) {
        Translation::Dos { tail, via, head } => {
            assert!(path.ends_with(tail));
            if let Via::Volume { entry } = via {
                let (i, dos, at) = scan.expect("the scan finds the entry");
                assert_eq!((entry, head, tail), (i, dos, &path[at..]));
            }
        }
        Translation::Unknown => assert!(scan.is_none()),
    }
});
