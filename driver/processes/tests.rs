use super::*;
use std::collections::BTreeMap;

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
}

const BUDGET: usize = 256 << 10;

fn facts<'a>(image: &'a [u16], command: &'a [u16], sid: &'a [u16]) -> Facts<'a> {
    Facts { image_path: Some(image), command_line: Some(command), user_sid: Some(sid) }
}

#[test]
fn a_process_is_found_by_pid_only_under_its_own_start_key() {
    let mut table = ProcessTable::with_budget(BUDGET).unwrap();
    let (image, command, sid) =
        (wide(r"\Device\HarddiskVolume3\Windows\System32\cmd.exe"), wide("cmd /c dir"), wide("S-1-5-18"));
    assert!(table.insert(1000, 0x3_0000_0000_0041, facts(&image, &command, &sid)));
    let known = table.get(1000, 0x3_0000_0000_0041).unwrap();
    assert_eq!(known.image_path, Some(&image[..]));
    assert_eq!(known.command_line, Some(&command[..]));
    assert_eq!(known.user_sid, Some(&sid[..]));
    assert!(!known.image_truncated && !known.command_truncated);
    assert_eq!(table.get(1000, 0x3_0000_0000_0042), None, "another process with the same pid");
    assert_eq!(table.get(1004, 0x3_0000_0000_0041), None);
}

#[test]
fn absent_values_stay_absent_and_empty_ones_stay_empty() {
    let mut table = ProcessTable::with_budget(BUDGET).unwrap();
    let empty: [u16; 0] = [];
    assert!(table.insert(8, 1, Facts { image_path: None, command_line: Some(&empty), user_sid: None }));
    let known = table.get(8, 1).unwrap();
    assert_eq!((known.image_path, known.command_line, known.user_sid), (None, Some(&empty[..]), None));
    assert_eq!(table.counters().used_bytes, u32::try_from(table.index_bytes).unwrap(), "no strings, no pool");
}

#[test]
fn strings_over_their_limit_are_cut_to_it_counted_and_marked() {
    let mut table = ProcessTable::with_budget(BUDGET).unwrap();
    let image = vec![0x61u16; usize::from(TABLE_IMAGE_PATH_UNITS) + 1];
    let command = vec![0x62u16; usize::from(TABLE_COMMAND_LINE_UNITS) + 500];
    let sid = wide("S-1-5-18");
    assert!(table.insert(4, 9, facts(&image, &command, &sid)));
    let known = table.get(4, 9).unwrap();
    assert_eq!(known.image_path.map(<[u16]>::len), Some(usize::from(TABLE_IMAGE_PATH_UNITS)));
    assert_eq!(known.command_line.map(<[u16]>::len), Some(usize::from(TABLE_COMMAND_LINE_UNITS)));
    assert!(known.image_truncated && known.command_truncated);
    assert_eq!(table.counters().truncations, 2);
    let exact = vec![0x63u16; usize::from(TABLE_IMAGE_PATH_UNITS)];
    assert!(table.insert(8, 10, facts(&exact, &[], &sid)));
    assert!(!table.get(8, 10).unwrap().image_truncated, "exactly at the limit is not cut");
    assert_eq!(table.counters().truncations, 2);
}

#[test]
fn memory_is_accounted_entry_by_entry_and_kept_for_reuse_on_removal() {
    let mut table = ProcessTable::with_budget(BUDGET).unwrap();
    let index = table.index_bytes;
    assert_eq!(index, table.slots.len() * core::mem::size_of::<Slot>());
    assert!(index <= BUDGET / 8);
    let (image, command, sid) = (vec![1u16; 60], vec![2u16; 100], vec![3u16; 45]);
    assert!(table.insert(100, 1, facts(&image, &command, &sid)));
    // 205 units = 410 bytes, rounded to 416, plus the 16-byte pool header.
    assert_eq!(charge(205), 432);
    let c = table.counters();
    assert_eq!((c.entries, c.used_bytes, c.inserts), (1, u32::try_from(index + 432).unwrap(), 1));
    assert!(table.insert(104, 2, facts(&image[..10], &[], &[])));
    // 10 units = 20 bytes, rounded to 32, plus the header.
    assert_eq!(table.counters().used_bytes, u32::try_from(index + 432 + 48).unwrap());
    assert!(table.remove(100, 1));
    assert!(!table.remove(100, 1), "already gone");
    assert!(!table.remove(104, 3), "another start key removes nothing");
    // The released block is kept for the next entry, and still charged.
    let c = table.counters();
    assert_eq!(
        (c.entries, c.used_bytes, c.capacity_bytes),
        (1, u32::try_from(index + 48 + 432).unwrap(), 256 << 10)
    );
    assert_eq!(table.spares.bytes, 432);
    // A process of the same size takes it: no new block, the same books.
    assert!(table.insert(108, 4, facts(&image, &command, &sid)));
    let c = table.counters();
    assert_eq!((c.entries, c.used_bytes), (2, u32::try_from(index + 48 + 432).unwrap()));
    assert_eq!(table.spares.bytes, 0);
}

#[test]
fn a_released_block_is_reused_by_the_next_entry_it_fits_without_an_allocation() {
    let mut table = ProcessTable::with_budget(BUDGET).unwrap();
    let (image, command, sid) = (vec![1u16; 60], vec![2u16; 100], vec![3u16; 45]);
    assert!(table.insert(100, 1, facts(&image, &command, &sid)));
    let block = table.slots[table.find(100).unwrap()].entry.as_ref().unwrap().units.as_ptr();
    assert!(table.remove(100, 1));
    // A shorter process (within half the block) gets the same block, charged whole.
    assert!(table.insert(104, 2, facts(&image, &command[..50], &sid)));
    let entry = table.slots[table.find(104).unwrap()].entry.as_ref().unwrap();
    assert_eq!(entry.units.as_ptr(), block, "the kept block, not a new one");
    assert_eq!(entry.charge(), charge(205));
    assert_eq!(table.get(104, 2).unwrap().command_line, Some(&command[..50]));
    assert_eq!(table.counters().used_bytes, u32::try_from(table.index_bytes + charge(205)).unwrap());
    // A process less than half its size does not hold a block that large.
    assert!(table.remove(104, 2));
    assert!(table.insert(108, 3, facts(&image[..10], &[], &[])));
    let entry = table.slots[table.find(108).unwrap()].entry.as_ref().unwrap();
    assert_ne!(entry.units.as_ptr(), block);
    assert_eq!(entry.charge(), charge(10));
    assert_eq!(
        table.counters().used_bytes,
        u32::try_from(table.index_bytes + charge(10) + charge(205)).unwrap(),
        "the large block is still kept"
    );
}

#[test]
fn at_most_the_spare_blocks_are_kept_and_they_go_before_any_entry_is_evicted() {
    const BUDGET: usize = 1 << 20;
    let mut table = ProcessTable::with_budget(BUDGET).unwrap();
    let command = vec![0x41u16; usize::from(TABLE_COMMAND_LINE_UNITS)];
    let per = charge(usize::from(TABLE_COMMAND_LINE_UNITS));
    let fits = (BUDGET - table.index_bytes) / per;
    assert!(fits > SPARE_BLOCKS, "{fits} entries fit");
    for i in 0..fits {
        assert!(table.insert(4 * (u32::try_from(i).unwrap() + 1), i as u64, facts(&[], &command, &[])));
    }
    // Removing every entry keeps SPARE_BLOCKS blocks and frees the rest.
    for i in 0..fits {
        assert!(table.remove(4 * (u32::try_from(i).unwrap() + 1), i as u64));
    }
    assert_eq!(table.spares.bytes, SPARE_BLOCKS * per);
    assert_eq!(table.counters().used_bytes as usize, table.index_bytes + SPARE_BLOCKS * per);
    // Small entries do not take the large blocks; once the budget is short, the kept
    // blocks are freed one by one and no entry is evicted.
    let image = vec![0x42u16; 2000];
    let small = charge(2000);
    let mut inserted = 0;
    while table.counters().evictions == 0 && inserted < 1000 {
        let pid = 4 * (1000 + inserted);
        assert!(table.insert(pid, u64::from(pid), facts(&image, &[], &[])));
        inserted += 1;
        let c = table.counters();
        assert!(c.used_bytes <= c.capacity_bytes, "{} of {}", c.used_bytes, c.capacity_bytes);
        if table.spares.bytes == 0 {
            break;
        }
    }
    let c = table.counters();
    assert_eq!((table.spares.bytes, c.evictions), (0, 0), "every kept block freed, no entry evicted");
    assert_eq!(c.entries as usize, inserted as usize);
    assert!(table.index_bytes + (inserted as usize) * small + per > BUDGET, "the last block went for room");
}

#[test]
fn a_new_process_with_a_reused_pid_replaces_the_old_entry() {
    let mut table = ProcessTable::with_budget(BUDGET).unwrap();
    let (a, b) = (wide("a.exe"), wide("b.exe"));
    assert!(table.insert(500, 1, facts(&a, &a, &a)));
    assert!(table.insert(500, 2, facts(&b, &b, &b)));
    assert_eq!(table.get(500, 1), None);
    assert_eq!(table.get(500, 2).map(|k| k.image_path), Some(Some(&b[..])));
    assert_eq!(table.counters().entries, 1);
}

/// Whether the table holds `pid` under `key`, without marking it as a lookup does.
fn holds(table: &ProcessTable, pid: u32, key: u64) -> bool {
    table.find(pid).and_then(|at| table.slots[at].entry.as_ref()).is_some_and(|e| e.start_key == key)
}

#[test]
fn a_full_table_evicts_an_entry_not_looked_up_since_the_hand_last_passed() {
    let mut table = ProcessTable::with_budget(BUDGET).unwrap();
    let max = table.max_entries;
    let image = wide("x.exe");
    let pid = |i: usize| u32::try_from(4 * (i + 1)).unwrap();
    let key = |i: usize| i as u64;
    for i in 0..max {
        assert!(table.insert(pid(i), key(i), facts(&image, &[], &[])));
    }
    assert_eq!(table.counters().entries as usize, max);
    // One more: every entry is marked by its insert, so the hand clears every
    // mark on its first pass and evicts on its second.
    assert!(table.insert(pid(max), key(max), facts(&image, &[], &[])));
    assert_eq!(table.counters().evictions, 1);
    // Look up every other survivor: marked again, they outlive the unmarked.
    let survivors: Vec<usize> = (0..max).filter(|&i| holds(&table, pid(i), key(i))).collect();
    assert_eq!(survivors.len(), max - 1);
    let used: Vec<usize> = survivors.iter().copied().step_by(2).collect();
    for &i in &used {
        assert!(table.get(pid(i), key(i)).is_some());
    }
    // Fewer evictions than unmarked entries: the hand does not come round again.
    let evict = (survivors.len() - used.len()) / 2;
    for n in 0..evict {
        let i = max + 1 + n;
        assert!(table.insert(pid(i), key(i), facts(&image, &[], &[])));
    }
    for &i in &used {
        assert!(holds(&table, pid(i), key(i)), "recently used entry {i} was evicted");
    }
    let c = table.counters();
    assert_eq!((c.entries as usize, c.evictions as usize), (max, 1 + evict));
}

#[test]
fn long_command_lines_spend_the_string_budget_and_evict_within_it() {
    let mut table = ProcessTable::with_budget(BUDGET).unwrap();
    let command = vec![0x41u16; usize::from(TABLE_COMMAND_LINE_UNITS)];
    for i in 0..40u32 {
        assert!(table.insert(4 * (i + 1), u64::from(i), facts(&[], &command, &[])));
        let c = table.counters();
        assert!(c.used_bytes <= c.capacity_bytes, "{} of {}", c.used_bytes, c.capacity_bytes);
    }
    let c = table.counters();
    let per = charge(usize::from(TABLE_COMMAND_LINE_UNITS));
    let fits = (BUDGET - table.index_bytes) / per;
    assert_eq!(c.entries as usize, fits);
    assert_eq!(c.evictions as usize, 40 - fits);
    assert!(table.get(160, 39).is_some(), "the newest entry is kept");
}

#[test]
fn misses_and_failures_are_counted_through_a_shared_reference() {
    let table = ProcessTable::with_budget(BUDGET).unwrap();
    let shared = &table;
    shared.count_miss();
    shared.count_miss();
    shared.count_failure();
    let c = table.counters();
    assert_eq!((c.misses, c.failures), (2, 1));
}

#[test]
fn the_index_grows_with_the_budget_in_powers_of_two() {
    for (budget, slots) in [(256 << 10, 512), (4 << 20, 8192), (64 << 20, 131_072)] {
        let table = ProcessTable::with_budget(budget).unwrap();
        assert_eq!(table.slots.len(), slots, "budget {budget}");
        assert_eq!(table.max_entries, slots / 2);
        assert!(table.index_bytes <= budget / 8);
    }
}

/// A deterministic xorshift, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn random_inserts_and_removals_agree_with_a_plain_map() {
    let mut table = ProcessTable::with_budget(BUDGET).unwrap();
    let mut model: BTreeMap<u32, (u64, Vec<u16>)> = BTreeMap::new();
    let mut rng = Rng(0x5EED_1234);
    for step in 0..20_000u64 {
        // Few pids, so probe runs collide and wrap; the table never fills.
        let pid = 4 * u32::try_from(rng.below(200)).unwrap();
        if rng.below(3) == 0 {
            if let Some((key, _)) = model.remove(&pid) {
                assert!(table.remove(pid, key));
            }
        } else {
            let image: Vec<u16> =
                vec![u16::try_from(step % 1000).unwrap(); usize::try_from(rng.below(30)).unwrap()];
            assert!(table.insert(pid, step, facts(&image, &[], &[])));
            model.insert(pid, (step, image));
        }
        if step % 97 == 0 {
            for (pid, (key, image)) in &model {
                assert_eq!(table.get(*pid, *key).map(|k| k.image_path), Some(Some(&image[..])), "pid {pid}");
            }
            let c = table.counters();
            assert_eq!((c.entries as usize, c.evictions), (model.len(), 0));
            // Each entry is charged its block (a reused one may be longer than its strings),
            // plus the blocks kept for reuse.
            let blocks: usize = table.slots.iter().filter_map(|s| s.entry.as_ref()).map(Entry::charge).sum();
            let strings: usize = model.values().map(|(_, i)| charge(i.len())).sum();
            assert!(blocks >= strings);
            assert_eq!(c.used_bytes as usize, table.index_bytes + blocks + table.spares.bytes);
            let kept = table.spares.blocks.iter().map(|b| charge(b.capacity())).sum::<usize>();
            assert_eq!(kept, table.spares.bytes);
        }
    }
}

/// The memory figure BENCHMARKS.md quotes: a typical process (a 60-unit image path,
/// a 100-unit command line, a 45-unit SID) costs its strings' pool block plus its
/// share of the index (two slots: the index is at most half full).
#[test]
fn a_typical_process_costs_its_strings_block_and_two_index_slots() {
    let slot = core::mem::size_of::<Slot>();
    assert_eq!(slot, 56);
    let strings = charge(60 + 100 + 45);
    assert_eq!(strings, 432);
    assert_eq!(strings + 2 * slot, 544, "bytes of table memory per typical process");
    // The default budget holds its 4,096 entries at that size with room to spare.
    let table = ProcessTable::with_budget(4 << 20).unwrap();
    assert_eq!(table.max_entries, 4096);
    assert!(table.index_bytes + table.max_entries * strings <= 4 << 20);
}
