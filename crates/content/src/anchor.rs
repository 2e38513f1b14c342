//! The rule index. Each rule may name one *anchor*: a non-negated condition
//! that any matching event must satisfy in a way a hash can find: a whole
//! string (`equals`), its first or last L units (`starts_with`/`ends_with` a
//! pattern of L units) or an integer (`equals`). The compiler sorts a group's
//! anchored rules by the anchor's key; the evaluator computes the keys an
//! event can have (for prefixes and suffixes, only at the pattern lengths the
//! group uses) and finds them (through the key table, [`crate::key_table`],
//! when its holder built one, else by binary search), so it visits only rules
//! whose anchor can hold. The validator recomputes every key, length set and mask
//! from the anchor conditions, so an index that lies is rejected, and a hash
//! collision only adds a candidate that full evaluation then turns down.

use crate::format::{MAX_PATTERN_UNITS, Operator};
use ringfence_wire::bytes::{u16_at, u64_at};
use ringfence_wire::{FieldType, Text};

/// What part of a field an anchor key covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnchorClass {
    /// An integer field equals the value.
    Integer,
    /// A string field equals the pattern (ASCII case folded).
    Whole,
    /// The field's first units equal the pattern.
    Prefix,
    /// The field's last units equal the pattern.
    Suffix,
}

impl AnchorClass {
    pub(crate) const fn code(self) -> u8 {
        match self {
            AnchorClass::Integer => 0,
            AnchorClass::Whole => 1,
            AnchorClass::Prefix => 2,
            AnchorClass::Suffix => 3,
        }
    }

    /// The class an anchor condition gets, or `None` when it cannot anchor:
    /// negated, or a type and operator a hash cannot find.
    pub(crate) fn of(op: Operator, ty: FieldType, negated: bool, pattern_units: usize) -> Option<Self> {
        if negated {
            return None;
        }
        let affix = (1..=MAX_PATTERN_UNITS).contains(&pattern_units);
        match (op, ty) {
            (Operator::Equals, FieldType::U32 | FieldType::U64 | FieldType::Time) => {
                Some(AnchorClass::Integer)
            }
            (Operator::Equals, FieldType::Str) => Some(AnchorClass::Whole),
            (Operator::StartsWith, FieldType::Str) if affix => Some(AnchorClass::Prefix),
            (Operator::EndsWith, FieldType::Str) if affix => Some(AnchorClass::Suffix),
            _ => None,
        }
    }
}

/// The bits an anchored (field, class) pair sets in its group's anchor mask:
/// bit `field % 32` and bit `32 + class`. Fields 32 apart share a bit: the
/// mask only tells the evaluator which searches it can skip.
pub(crate) fn mask_bit(field: u8, class: u8) -> u64 {
    field_bit(field) | class_bit(class)
}

#[inline(always)]
pub(crate) fn field_bit(field: u8) -> u64 {
    1u64 << (field & 31)
}

#[inline(always)]
pub(crate) fn class_bit(class: u8) -> u64 {
    1u64 << (32u8.saturating_add(class & 31) & 63)
}

/// Pattern lengths 1..=MAX_PATTERN_UNITS, one bit each (length L is bit L - 1).
pub(crate) type Lengths = [u64; 4];

pub(crate) fn set_length(lengths: &mut Lengths, units: usize) {
    let bit = units.wrapping_sub(1);
    if let Some(word) = lengths.get_mut(bit / 64) {
        *word |= 1u64 << (bit % 64);
    }
}

/// The longest length in the set (0 when empty).
pub(crate) fn longest(lengths: &Lengths) -> usize {
    let mut at = lengths.len();
    while at > 0 {
        at = at.wrapping_sub(1);
        let word = lengths.get(at).copied().unwrap_or(0);
        if word != 0 {
            let top = 63usize.wrapping_sub(word.leading_zeros() as usize);
            return at.wrapping_mul(64).wrapping_add(top).wrapping_add(1);
        }
    }
    0
}

/// The field and class codes a key was built from.
pub(crate) fn key_parts(key: u64) -> (u8, u8) {
    let [field, class, ..] = key.to_be_bytes();
    (field, class)
}

fn key(field: u8, class: u8, hash: u64) -> u64 {
    (u64::from(field) << 56) | (u64::from(class) << 48) | (hash & 0xFFFF_FFFF_FFFF)
}

pub(crate) fn integer_key(field: u8, value: u64) -> u64 {
    key(field, AnchorClass::Integer.code(), finish(value ^ 0x9E37_79B9_7F4A_7C15))
}

/// ASCII letters to lower case; everything else, non-ASCII included, as is.
#[inline(always)]
pub(crate) const fn fold(unit: u16) -> u16 {
    if unit >= 0x41 && unit <= 0x5A { unit | 0x20 } else { unit }
}

const LANES: u64 = 0x0001_0001_0001_0001;

/// [`fold`] on the four units of a word at once (16-bit lanes, no carry
/// between them): a lane below 0x8000 has bit 15 of `low + (0x8000 - 0x41)`
/// set when it is at least `A`, and of `(0x8000 + 0x5A) - low` when it is at
/// most `Z`; those lanes get bit 5.
#[inline(always)]
pub(crate) const fn fold_word(word: u64) -> u64 {
    let low = word & (0x7FFF * LANES);
    let at_least_a = low.wrapping_add((0x8000 - 0x41) * LANES);
    let at_most_z = ((0x8000 + 0x5A) * LANES).wrapping_sub(low);
    let upper = at_least_a & at_most_z & !word & (0x8000 * LANES);
    word | (upper >> 10)
}

/// Four units as a word, the first in the low bits.
#[inline(always)]
pub(crate) fn lanes(units: [u16; 4]) -> u64 {
    let [a, b, c, d] = units.map(u64::from);
    a | (b << 16) | (c << 32) | (d << 48)
}

/// A word's four 16-bit lanes in reverse order.
#[inline(always)]
const fn reverse_lanes(word: u64) -> u64 {
    let word = word.rotate_left(32);
    ((word >> 16) & 0x0000_FFFF_0000_FFFF) | ((word & 0x0000_FFFF_0000_FFFF) << 16)
}

const SEED: u64 = 0xCBF2_9CE4_8422_2325;
const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline(always)]
fn step(h: u64, word: u64) -> u64 {
    let h = (h ^ word).wrapping_mul(MUL);
    h ^ (h >> 29)
}

/// murmur3's 64-bit finaliser: spreads every input bit over the 48 kept.
#[inline(always)]
fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    h = h.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    h ^ (h >> 33)
}

/// Folds units four at a time into the hash; the value at any point covers
/// the units pushed so far, their count included.
struct Hasher {
    h: u64,
    word: u64,
    filled: u32,
    units: u64,
}

impl Hasher {
    const fn new() -> Self {
        Hasher { h: SEED, word: 0, filled: 0, units: 0 }
    }

    #[inline(always)]
    fn push(&mut self, unit: u16) {
        self.word |= u64::from(fold(unit)) << (self.filled.wrapping_mul(16) & 63);
        self.filled = self.filled.wrapping_add(1);
        self.units = self.units.wrapping_add(1);
        if self.filled == 4 {
            self.h = step(self.h, self.word);
            self.word = 0;
            self.filled = 0;
        }
    }

    /// Pushes four units at once, already folded, the first in the low bits:
    /// the same state as pushing them one by one from a word boundary.
    #[inline(always)]
    fn push_word(&mut self, word: u64) {
        self.h = step(self.h, word);
        self.units = self.units.wrapping_add(4);
    }

    /// Pushes `units` in order: whole words at a time while the hasher is
    /// word-aligned, giving the same state as pushing them one by one.
    #[inline(always)]
    fn push_all(&mut self, units: &[u16]) {
        let mut rest = units;
        if self.filled == 0 {
            let mut words = units.chunks_exact(4);
            for w in &mut words {
                let four = [0, 1, 2, 3].map(|k| w.get(k).copied().unwrap_or(0));
                self.push_word(fold_word(lanes(four)));
            }
            rest = words.remainder();
        }
        rest.iter().for_each(|&u| self.push(u));
    }

    /// The value after pushing `count` (1 to 3) more units, given as a folded
    /// word's low lanes (the others zero), to a hasher on a word boundary.
    #[inline(always)]
    fn value_with(&self, word: u64, count: usize) -> u64 {
        let units = self.units.wrapping_add(u64::try_from(count).unwrap_or(0));
        finish(step(self.h, word) ^ units)
    }

    #[inline(always)]
    fn value(&self) -> u64 {
        let h = if self.filled == 0 { self.h } else { step(self.h, self.word) };
        finish(h ^ self.units)
    }
}

/// Feeds every unit of `text` to `hasher`, in order or last first, straight
/// from the slice or the bytes rather than unit by unit.
#[inline(always)]
fn hash_all(hasher: &mut Hasher, text: Text<'_>, reversed: bool) {
    if let Some(units) = text.as_wide() {
        if reversed {
            units.iter().rev().for_each(|&u| hasher.push(u));
        } else {
            hasher.push_all(units);
        }
    } else if let Some(bytes) = text.as_le_bytes() {
        let unit =
            |pair: &[u8]| pair.first().zip(pair.get(1)).map_or(0, |(&lo, &hi)| u16::from_le_bytes([lo, hi]));
        if reversed {
            bytes.chunks_exact(2).rev().for_each(|pair| hasher.push(unit(pair)));
        } else {
            bytes.chunks_exact(2).for_each(|pair| hasher.push(unit(pair)));
        }
    }
}

/// The key of a whole string.
pub(crate) fn whole_key(field: u8, text: Text<'_>) -> u64 {
    let mut hasher = Hasher::new();
    hash_all(&mut hasher, text, false);
    key(field, AnchorClass::Whole.code(), hasher.value())
}

/// The key of a `starts_with` pattern: the hash of its units in order.
pub(crate) fn prefix_key(field: u8, pattern: Text<'_>) -> u64 {
    let mut hasher = Hasher::new();
    hash_all(&mut hasher, pattern, false);
    key(field, AnchorClass::Prefix.code(), hasher.value())
}

/// The key of an `ends_with` pattern: the hash of its units, last first.
pub(crate) fn suffix_key(field: u8, pattern: Text<'_>) -> u64 {
    let mut hasher = Hasher::new();
    hash_all(&mut hasher, pattern, true);
    key(field, AnchorClass::Suffix.code(), hasher.value())
}

/// The lengths of a set in increasing order, one bit taken off a word per length.
struct Ascending<'l> {
    lengths: &'l Lengths,
    word_at: usize,
    /// The bits of `lengths[word_at]` not yet given.
    word: u64,
}

impl<'l> Ascending<'l> {
    fn new(lengths: &'l Lengths) -> Self {
        Ascending { lengths, word_at: 0, word: lengths.first().copied().unwrap_or(0) }
    }
}

impl Iterator for Ascending<'_> {
    type Item = usize;

    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        while self.word == 0 {
            self.word_at = self.word_at.checked_add(1)?;
            self.word = *self.lengths.get(self.word_at)?;
        }
        let low = self.word.trailing_zeros() as usize;
        self.word &= self.word.wrapping_sub(1);
        Some(self.word_at.wrapping_mul(64).wrapping_add(low).wrapping_add(1))
    }
}

/// Calls `visit` with the key of every prefix (or suffix) of `text` whose
/// length is in `lengths`, with that length, in one pass over at most the
/// longest such length; stops early when `visit` returns true, and returns
/// whether it did.
pub(crate) fn affix_keys(
    field: u8,
    text: Text<'_>,
    suffix: bool,
    lengths: &Lengths,
    visit: impl FnMut(u64, usize) -> bool,
) -> bool {
    let class = if suffix { AnchorClass::Suffix } else { AnchorClass::Prefix }.code();
    let affixes = Affixes { field, class, suffix, lengths };
    match (text.as_wide(), text.as_le_bytes()) {
        (Some(units), _) => {
            let four = |at: usize| {
                let chunk = units.get(at..at.checked_add(4)?)?;
                Some(lanes([0, 1, 2, 3].map(|k| chunk.get(k).copied().unwrap_or(0))))
            };
            affixes.keys(units.len(), |at| units.get(at).copied(), four, visit)
        }
        (None, Some(bytes)) => {
            let unit = |at: usize| at.checked_mul(2).and_then(|offset| u16_at(bytes, offset));
            let four = |at: usize| at.checked_mul(2).and_then(|offset| u64_at(bytes, offset));
            affixes.keys(bytes.len() / 2, unit, four, visit)
        }
        (None, None) => false,
    }
}

/// What [`affix_keys`] hashes: the first (or last) units of a field at the
/// lengths of a set.
struct Affixes<'l> {
    field: u8,
    class: u8,
    suffix: bool,
    lengths: &'l Lengths,
}

impl Affixes<'_> {
    /// Hashes the affixes of a text of `n` units read through `unit`: four
    /// units to a step between the lengths asked for, one at a time only to
    /// land on one, so a set of a few lengths costs about one step per four
    /// units and one finish per length.
    #[inline(always)]
    fn keys(
        &self,
        n: usize,
        unit: impl Fn(usize) -> Option<u16>,
        four: impl Fn(usize) -> Option<u64>,
        mut visit: impl FnMut(u64, usize) -> bool,
    ) -> bool {
        let upto = longest(self.lengths).min(n);
        // The `taken`-th unit in hashing order (last first for a suffix), and
        // the four from there on as a word, the first in the low bits.
        let get = |taken: usize| {
            let at = if self.suffix { n.wrapping_sub(1).wrapping_sub(taken) } else { taken };
            unit(at).unwrap_or(0)
        };
        let word = |taken: usize| match self.suffix {
            true => {
                n.checked_sub(taken).and_then(|end| end.checked_sub(4)).and_then(&four).map(reverse_lanes)
            }
            false => four(taken),
        };
        // The first `count` (1 to 3) units from `taken` on, as a word's low lanes.
        let partial = |taken: usize, count: usize| {
            let lanes = 1u64.checked_shl(u32::try_from(count.wrapping_mul(16)).unwrap_or(0)).unwrap_or(0);
            match word(taken) {
                Some(word) => word & lanes.wrapping_sub(1),
                None => (0..count).fold(0u64, |acc, k| {
                    let unit = u64::from(get(taken.wrapping_add(k)));
                    acc | unit.checked_shl(u32::try_from(k.wrapping_mul(16)).unwrap_or(0)).unwrap_or(0)
                }),
            }
        };
        // The hasher stays on a word boundary: each length's last units (fewer
        // than four) go in as one partial word, not one at a time.
        let mut hasher = Hasher::new();
        let mut taken = 0usize;
        let mut lengths = Ascending::new(self.lengths);
        while let Some(target) = lengths.next().filter(|&length| length <= upto) {
            while target.wrapping_sub(taken) >= 4 {
                hasher.push_word(fold_word(word(taken).unwrap_or(0)));
                taken = taken.wrapping_add(4);
            }
            let rest = target.wrapping_sub(taken);
            let value = match rest {
                0 => hasher.value(),
                _ => hasher.value_with(fold_word(partial(taken, rest)), rest),
            };
            if visit(key(self.field, self.class, value), target) {
                return true;
            }
        }
        false
    }
}

/// The key an anchor condition stands for, from its pattern or integer.
pub(crate) fn condition_key(field: u8, class: AnchorClass, pattern: Text<'_>, integer: u64) -> u64 {
    match class {
        AnchorClass::Integer => integer_key(field, integer),
        AnchorClass::Whole => whole_key(field, pattern),
        AnchorClass::Prefix => prefix_key(field, pattern),
        AnchorClass::Suffix => suffix_key(field, pattern),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    fn wide(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn keys_ignore_ascii_case_but_not_other_letters() {
        let a = wide(r"C:\Windows\System32\NTDLL.dll");
        let b = wide(r"c:\windows\system32\ntdll.DLL");
        assert_eq!(whole_key(5, Text::wide(&a)), whole_key(5, Text::wide(&b)));
        let c = wide("Ä");
        let d = wide("ä");
        assert_ne!(whole_key(5, Text::wide(&c)), whole_key(5, Text::wide(&d)));
    }

    #[test]
    fn the_event_side_finds_exactly_the_affix_keys_of_the_lengths_asked_for() {
        let path = wide(r"C:\Program Files\Google\Chrome\Application\chrome.exe");
        let text = Text::wide(&path);
        let (prefix, suffix) = (wide(r"C:\Program Files\"), wide(r"\chrome.exe"));
        let mut lengths = [0u64; 4];
        set_length(&mut lengths, prefix.len());
        set_length(&mut lengths, suffix.len());
        set_length(&mut lengths, 200);
        let mut seen = Vec::new();
        affix_keys(6, text, false, &lengths, |k, _| {
            seen.push(k);
            false
        });
        assert_eq!(seen.len(), 2, "lengths 17 and 11; 200 is longer than the text");
        assert!(seen.contains(&prefix_key(6, Text::wide(&prefix))));
        seen.clear();
        affix_keys(6, text, true, &lengths, |k, _| {
            seen.push(k);
            false
        });
        assert!(seen.contains(&suffix_key(6, Text::wide(&suffix))));
        assert_eq!(longest(&lengths), 200);
    }

    /// The affix keys of every length in the set, computed one length at a
    /// time from the affix itself: what the word-at-a-time pass must give.
    fn reference(field: u8, units: &[u16], suffix: bool, lengths: &[usize]) -> Vec<(u64, usize)> {
        let mut wanted: Vec<usize> = lengths.iter().copied().filter(|&l| l <= units.len()).collect();
        wanted.sort_unstable();
        wanted.dedup();
        wanted
            .into_iter()
            .map(|l| {
                if suffix {
                    (suffix_key(field, Text::wide(&units[units.len() - l..])), l)
                } else {
                    (prefix_key(field, Text::wide(&units[..l])), l)
                }
            })
            .collect()
    }

    proptest::proptest! {
        #[test]
        fn affix_keys_are_the_keys_of_the_affixes_at_every_length(
            units in proptest::collection::vec(proptest::sample::select(vec![0x41u16, 0x61, 0x5C, 0x2E, 0xE4, 0xD83D]), 0..300),
            lengths in proptest::collection::vec(1usize..=MAX_PATTERN_UNITS, 0..12),
            suffix: bool,
        ) {
            let mut set = [0u64; 4];
            lengths.iter().for_each(|&l| set_length(&mut set, l));
            let expected = reference(3, &units, suffix, &lengths);
            let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
            for text in [Text::wide(&units), Text::from_le_bytes(&bytes).unwrap()] {
                let mut seen = Vec::new();
                affix_keys(3, text, suffix, &set, |k, l| {
                    seen.push((k, l));
                    false
                });
                proptest::prop_assert_eq!(&seen, &expected);
            }
        }
    }

    #[test]
    fn the_word_fold_is_the_unit_fold_in_every_lane() {
        for unit in 0..=u16::MAX {
            for lane in 0..4 {
                let mut units: [u64; 4] = [0x5A, 0x41, 0xFFFF, 0x60];
                units[lane] = u64::from(unit);
                let word = units.iter().rev().fold(0u64, |acc, &u| (acc << 16) | u);
                let expected =
                    units.iter().rev().fold(0u64, |acc, &u| (acc << 16) | u64::from(fold(u as u16)));
                assert_eq!(fold_word(word), expected, "unit {unit:#x} in lane {lane}");
            }
        }
        assert_eq!(reverse_lanes(0x0004_0003_0002_0001), 0x0001_0002_0003_0004);
    }

    #[test]
    fn affix_keys_stop_when_asked() {
        let units = wide(r"C:\Windows\System32\cmd.exe");
        let mut set = [0u64; 4];
        for l in [2, 5, 9] {
            set_length(&mut set, l);
        }
        let mut seen = Vec::new();
        let stopped = affix_keys(1, Text::wide(&units), false, &set, |_, l| {
            seen.push(l);
            l == 5
        });
        assert!(stopped);
        assert_eq!(seen, [2, 5]);
    }

    #[test]
    fn a_string_hashes_the_same_from_units_and_from_bytes() {
        for s in ["", "a", "AbC", "ABCD", "abcdE", r"C:\Windows\System32\ntdll.dll"] {
            let units = wide(s);
            let bytes: Vec<u8> = units.iter().flat_map(|u| u.to_le_bytes()).collect();
            let le = Text::from_le_bytes(&bytes).unwrap();
            assert_eq!(whole_key(1, Text::wide(&units)), whole_key(1, le), "{s:?}");
            assert_eq!(prefix_key(1, Text::wide(&units)), prefix_key(1, le), "{s:?}");
            assert_eq!(suffix_key(1, Text::wide(&units)), suffix_key(1, le), "{s:?}");
        }
    }

    #[test]
    fn what_can_anchor() {
        assert_eq!(AnchorClass::of(Operator::EndsWith, FieldType::Str, false, 12), Some(AnchorClass::Suffix));
        assert_eq!(
            AnchorClass::of(Operator::StartsWith, FieldType::Str, false, 1),
            Some(AnchorClass::Prefix)
        );
        assert_eq!(AnchorClass::of(Operator::StartsWith, FieldType::Str, false, 0), None);
        assert_eq!(AnchorClass::of(Operator::StartsWith, FieldType::Str, false, 257), None);
        assert_eq!(AnchorClass::of(Operator::Equals, FieldType::Str, true, 10), None);
        assert_eq!(AnchorClass::of(Operator::Contains, FieldType::Str, false, 10), None);
        assert_eq!(AnchorClass::of(Operator::Equals, FieldType::Bool, false, 0), None);
    }
}
