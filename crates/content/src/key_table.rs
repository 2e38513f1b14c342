//! The key table: a hash table over each group's anchor keys, built once when
//! content is accepted, so that an event's key is found in a probe or two
//! rather than a binary search of the group's rules. It lives beside the
//! content, not in it (format 1's layout is unchanged), in words its holder
//! allocates: [`Content::key_table_words`], sized from the validated content.
//!
//! ```text
//! 2 words per group   offset of its slots (in words, from the start), slot count
//!                     (a power of two; 0: the group has no table)
//! slots               per group, for every run of equal keys in its anchored
//!                     rules, the run's first position among them; EMPTY elsewhere
//! ```
//!
//! A group's slots are at most half full (linear probing from the key's low
//! bits, which are hash bits). The table only tells the evaluator where to
//! start: every key it points to is compared with the rule table's, so words
//! that lie can make a lookup miss but never read outside a buffer; a group
//! without a readable table is binary-searched as before. The meter is charged
//! the binary search's worst case either way ([`search_charge`]).

use crate::format::rule;
use crate::view::Content;
use ringfence_wire::bytes::u64_at;

/// A free slot.
const EMPTY: u32 = u32::MAX;
/// Header words per group.
const HEADER: usize = 2;

/// Why a key table could not be built into the words given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyTableError {
    /// `given` words, where the content's table takes exactly `needed`.
    WrongSize { needed: usize, given: usize },
}

/// Slots for `anchored` rules: a power of two at least twice as many (the
/// table stays at most half full), none without rules.
fn slot_count(anchored: usize) -> usize {
    match anchored {
        0 => 0,
        n => n.saturating_mul(2).checked_next_power_of_two().unwrap_or(0),
    }
}

/// The work units a lookup in `keys` keys is charged: the most steps a binary
/// search of them takes, ⌈log2(keys + 1)⌉, what the cost model bounds a lookup by.
#[inline(always)]
pub(crate) fn search_charge(keys: usize) -> u64 {
    u64::from(usize::BITS.saturating_sub(keys.leading_zeros()))
}

/// Where `key` starts probing in a table of `mask + 1` slots.
#[inline(always)]
fn home(key: u64, mask: usize) -> usize {
    usize::try_from(key & 0xFFFF_FFFF).unwrap_or(0) & mask
}

impl<'a> Content<'a> {
    /// The anchored rules of group `index` that the evaluator searches, as
    /// (first rule, count): none when the group has no anchor the index uses.
    fn indexed_rules(&self, index: usize) -> (usize, usize) {
        let Some(g) = self.group(index) else { return (0, 0) };
        if g.anchored == 0 || g.mask == 0 {
            return (0, 0);
        }
        let rules = self.rule_count();
        let first = usize::try_from(g.first_rule).unwrap_or(usize::MAX).min(rules);
        let anchored = usize::try_from(g.anchored).unwrap_or(usize::MAX).min(rules.saturating_sub(first));
        (first, anchored)
    }

    /// The words this content's key table takes: two per group, and for each
    /// group with anchors a power of two at least twice its anchored rules
    /// (for content within the published limits, at most 64 + 16,384 words).
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn key_table_words(&self) -> usize {
        let groups = self.group_count();
        (0..groups).fold(groups.saturating_mul(HEADER), |words, index| {
            words.saturating_add(slot_count(self.indexed_rules(index).1))
        })
    }

    /// Builds this content's key table into `words`, which must be exactly
    /// [`Content::key_table_words`] long; attach it with [`Content::with_key_table`].
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn build_key_table(&self, words: &mut [u32]) -> Result<(), KeyTableError> {
        let needed = self.key_table_words();
        if words.len() != needed {
            return Err(KeyTableError::WrongSize { needed, given: words.len() });
        }
        let given = words.len();
        let Some((header, slots)) = words.split_at_mut_checked(self.group_count().saturating_mul(HEADER))
        else {
            return Err(KeyTableError::WrongSize { needed, given });
        };
        slots.fill(EMPTY);
        let header_len = header.len();
        let mut offset = header_len;
        for (index, entry) in header.chunks_exact_mut(HEADER).enumerate() {
            let (first, anchored) = self.indexed_rules(index);
            let count = slot_count(anchored);
            let start = offset.saturating_sub(header_len);
            let table = start.checked_add(count).and_then(|end| slots.get_mut(start..end)).unwrap_or(&mut []);
            if let [at, size] = entry {
                *at = u32::try_from(offset).unwrap_or(0);
                *size = u32::try_from(table.len()).unwrap_or(0);
            }
            fill(table, self.rules, first, anchored);
            offset = offset.saturating_add(count);
        }
        Ok(())
    }

    /// This view with `words` as its key table (built by
    /// [`Content::build_key_table`] for these bytes); the evaluator then finds
    /// keys through it. Words built for other content make lookups miss, never read
    /// out of bounds.
    pub fn with_key_table(self, words: &'a [u32]) -> Content<'a> {
        Content { key_table: words, ..self }
    }

    /// The slots of group `index`, when its table is there and a power of two long.
    #[inline]
    pub(crate) fn key_slots(&self, index: usize) -> Option<&'a [u32]> {
        let header = index.checked_mul(HEADER)?;
        let offset = usize::try_from(*self.key_table.get(header)?).ok()?;
        let count = usize::try_from(*self.key_table.get(header.checked_add(1)?)?).ok()?;
        if !count.is_power_of_two() {
            return None;
        }
        self.key_table.get(offset..offset.checked_add(count)?)
    }
}

/// Enters every run of equal keys among rules `first..first + anchored` into
/// `table` (a power of two long, at least twice `anchored`), at the run's first position.
fn fill(table: &mut [u32], rules: &[u8], first: usize, anchored: usize) {
    let mask = table.len().wrapping_sub(1);
    let key_at = |at: usize| {
        let offset = first.checked_add(at)?.checked_mul(rule::LEN)?.checked_add(rule::KEY)?;
        u64_at(rules, offset)
    };
    let mut previous = None;
    for at in 0..anchored {
        let Some(key) = key_at(at) else { return };
        if previous == Some(key) {
            continue;
        }
        previous = Some(key);
        let Ok(position) = u32::try_from(at) else { return };
        let mut slot = home(key, mask);
        for _ in 0..table.len() {
            match table.get_mut(slot) {
                Some(free) if *free == EMPTY => {
                    *free = position;
                    break;
                }
                Some(_) => slot = slot.wrapping_add(1) & mask,
                None => return,
            }
        }
    }
}

/// The first position whose key is `key` among a group's keys (`key_at`, `len`
/// of them), found through the group's `slots`; `len` when there is none.
#[inline]
pub(crate) fn find(slots: &[u32], key: u64, len: usize, key_at: impl Fn(usize) -> Option<u64>) -> usize {
    let mask = slots.len().wrapping_sub(1);
    let mut slot = home(key, mask);
    for _ in 0..slots.len() {
        let Some(&position) = slots.get(slot) else { return len };
        if position == EMPTY {
            return len;
        }
        let at = usize::try_from(position).unwrap_or(usize::MAX);
        if at < len && key_at(at) == Some(key) {
            return at;
        }
        slot = slot.wrapping_add(1) & mask;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_is_charged_what_a_binary_search_takes_at_most() {
        let expected = [(0, 0), (1, 1), (2, 2), (3, 2), (4, 3), (60, 6), (63, 6), (64, 7), (4096, 13)];
        for (keys, charge) in expected {
            assert_eq!(search_charge(keys), charge, "{keys} keys");
        }
    }

    #[test]
    fn slots_are_a_power_of_two_at_least_twice_the_rules() {
        assert_eq!([0, 1, 2, 3, 60, 4096].map(slot_count), [0, 2, 4, 8, 128, 8192]);
    }

    #[test]
    fn a_run_of_equal_keys_is_found_at_its_first_rule_and_an_absent_key_nowhere() {
        // Keys 5, 9, 9, 9, 12 (sorted, as the compiler stores them), from rule 2 on.
        let keys = [7u64, 7, 5, 9, 9, 9, 12];
        let mut rules = std::vec![0u8; keys.len() * rule::LEN];
        for (entry, key) in rules.chunks_exact_mut(rule::LEN).zip(keys) {
            entry[rule::KEY..rule::KEY + 8].copy_from_slice(&key.to_le_bytes());
        }
        let mut table = [0u32; 16];
        table.fill(EMPTY);
        fill(&mut table, &rules, 2, 5);
        assert_eq!(table.iter().filter(|&&s| s != EMPTY).count(), 3, "one slot per distinct key");
        let key_at = |at: usize| keys.get(2 + at).copied().filter(|_| at < 5);
        assert_eq!([5, 9, 12, 7, 8].map(|key| find(&table, key, 5, key_at)), [0, 1, 4, 5, 5]);
        // Words that lie (every slot pointing at rule 0) make lookups miss, nothing worse.
        assert_eq!(find(&[0; 8], 9, 5, key_at), 5);
        assert_eq!(find(&[u32::MAX - 1; 4], 9, 5, key_at), 5);
        assert_eq!(find(&[], 9, 5, key_at), 5);
    }
}
