//! SET_VOLUME_MAP and VOLUME_MAP through the real driver: a map is set, read back and
//! replaced (the old one freed), every malformed map is refused with the status the
//! user-mode validator names and the map held stays, no pool leaves it held, and the
//! books are clean at unload.

mod common;

use common::sensor::{Sensor, start};
use ringfence_companion::enrich::dos_path::VolumeMap;
use ringfence_wire::ioctl::{
    Code, STATUS_BUFFER_TOO_SMALL, STATUS_INSUFFICIENT_RESOURCES, STATUS_INVALID_BUFFER_SIZE, STATUS_SUCCESS,
};
use ringfence_wire::volume_map::{self, MAX_MAP_BYTES};

/// The map of a machine with `drives` (letter, volume number) and Windows in C:\Windows.
fn map(drives: &[(char, u32)]) -> Vec<u8> {
    let devices = drives.iter().map(|(letter, n)| (*letter, format!(r"\Device\HarddiskVolume{n}")));
    VolumeMap::from_dos_devices(devices, r"C:\Windows").expect("a valid map").to_le_bytes()
}

fn set(sensor: &mut Sensor, bytes: &[u8]) -> i32 {
    let r = sensor.ioctl(Code::SetVolumeMap as u32, bytes, 0);
    assert_eq!(r.output.len(), 0, "SET_VOLUME_MAP writes no output");
    r.status
}

fn held(sensor: &mut Sensor) -> Vec<u8> {
    let r = sensor.ioctl(Code::VolumeMap as u32, &[], MAX_MAP_BYTES);
    assert_eq!(r.status, STATUS_SUCCESS, "VOLUME_MAP succeeds");
    r.output
}

/// The status user mode's validator (the same code the driver runs) gives `bytes`.
fn expected_status(bytes: &[u8]) -> i32 {
    let mut units = vec![0u16; MAX_MAP_BYTES / 2];
    let checked = volume_map::units_from_le_bytes(bytes, &mut units)
        .and_then(|n| volume_map::VolumeMap::new_checked(&units[..n]).map(|_| ()));
    checked.map_or_else(|e| e.status(), |()| STATUS_SUCCESS)
}

/// Pool blocks of exactly `size` bytes the driver holds now.
fn blocks_of(sensor: &Sensor, size: usize) -> usize {
    sensor.emu.report().pool_outstanding.iter().filter(|(_, _, s)| *s == size as u64).count()
}

#[test]
fn a_map_is_set_read_back_and_replaced_and_the_old_one_is_freed() {
    let mut sensor = start();
    assert_eq!(held(&mut sensor), Vec::<u8>::new(), "no map before the first SET_VOLUME_MAP");
    let blocks_before = sensor.emu.report().pool_outstanding.len();
    let first = map(&[('C', 3)]);
    let second = map(&[('C', 3), ('D', 5), ('E', 7)]);
    assert_ne!(first.len(), second.len());
    assert_eq!(set(&mut sensor, &first), STATUS_SUCCESS);
    assert_eq!(held(&mut sensor), first);
    assert_eq!(sensor.emu.report().pool_outstanding.len(), blocks_before + 1);
    assert_eq!(blocks_of(&sensor, first.len()), 1);
    assert_eq!(set(&mut sensor, &second), STATUS_SUCCESS);
    assert_eq!(held(&mut sensor), second);
    assert_eq!(sensor.emu.report().pool_outstanding.len(), blocks_before + 1, "the old map is freed");
    assert_eq!((blocks_of(&sensor, first.len()), blocks_of(&sensor, second.len())), (0, 1));
    let small = sensor.ioctl(Code::VolumeMap as u32, &[], second.len() - 1);
    assert_eq!((small.status, small.output.len()), (STATUS_BUFFER_TOO_SMALL, 0));
    let stats = sensor.stats().volume_map;
    assert_eq!((stats.sets, stats.refused, stats.entries, stats.bytes as usize), (2, 0, 3, second.len()));
    assert_eq!(sensor.stop().problems(), Vec::new());
}

#[test]
fn every_malformed_map_is_refused_with_the_user_mode_status_and_the_map_held_stays() {
    let mut sensor = start();
    let good = map(&[('C', 3), ('D', 5)]);
    assert_eq!(set(&mut sensor, &good), STATUS_SUCCESS);
    let mut suite: Vec<Vec<u8>> = (0..good.len()).map(|n| good[..n].to_vec()).collect();
    for at in 0..good.len() {
        let mut flipped = good.clone();
        flipped[at] ^= 0x41;
        suite.push(flipped);
    }
    let mut longer = good.clone();
    longer.extend_from_slice(&[0, 0]);
    suite.push(longer);
    suite.push(vec![0; MAX_MAP_BYTES + 2]);
    let (mut refused, mut accepted) = (0u64, 0u64);
    for bytes in &suite {
        let expected = expected_status(bytes);
        assert_eq!(set(&mut sensor, bytes), expected, "{} bytes", bytes.len());
        if expected == STATUS_SUCCESS {
            accepted += 1;
            assert_eq!(held(&mut sensor), *bytes);
            assert_eq!(set(&mut sensor, &good), STATUS_SUCCESS);
        } else {
            refused += 1;
            assert_eq!(held(&mut sensor), good, "the map held stays");
        }
    }
    assert!(refused > suite.len() as u64 / 2, "most of the suite is malformed");
    assert_eq!(expected_status(&suite[suite.len() - 1]), STATUS_INVALID_BUFFER_SIZE);
    let stats = sensor.stats().volume_map;
    assert_eq!((stats.sets, stats.refused), (1 + 2 * accepted, refused));
    assert_eq!(sensor.stop().problems(), Vec::new());
}

#[test]
fn a_map_without_pool_is_refused_and_the_map_held_stays() {
    let mut sensor = start();
    let good = map(&[('C', 3)]);
    assert_eq!(set(&mut sensor, &good), STATUS_SUCCESS);
    sensor.emu.fail_allocation(1);
    assert_eq!(set(&mut sensor, &map(&[('C', 3), ('D', 5)])), STATUS_INSUFFICIENT_RESOURCES);
    sensor.emu.clear_allocation_failure();
    assert_eq!(held(&mut sensor), good);
    assert_eq!(sensor.stats().volume_map.refused, 1);
    assert_eq!(sensor.stop().problems(), Vec::new());
}
