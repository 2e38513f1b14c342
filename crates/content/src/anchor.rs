//! The rule index. Each rule may name one *anchor*: a non-negated condition
//! that any matching event must satisfy in a way a hash can find (a whole
//! string, its first or last L units, an integer). The compiler sorts a
//! group's anchored rules by the anchor's key; the evaluator computes the
//! few keys an event can have and binary-searches for them, so it visits only
//! rules whose anchor can hold. The validator recomputes every key from the
//! anchor condition, so an index that lies is rejected, and a hash collision
//! only adds a candidate that full evaluation then turns down.

use crate::format::Operator;
use ringfence_wire::{FieldType, Text};

/// Prefix and suffix lengths the index knows, longest first.
pub(crate) const AFFIX_LENGTHS: [usize; 5] = [64, 32, 16, 8, 4];

/// What part of a field an anchor key covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AnchorClass {
    /// An integer field equals the value.
    Integer,
    /// A string field equals the pattern (ASCII case folded).
    Whole,
    /// The first `AFFIX_LENGTHS[i]` units.
    Prefix(u8),
    /// The last `AFFIX_LENGTHS[i]` units.
    Suffix(u8),
}

/// Classes per field: integer, whole, five prefixes, five suffixes.
pub(crate) const CLASSES: u8 = 12;

impl AnchorClass {
    pub(crate) const fn code(self) -> u8 {
        match self {
            AnchorClass::Integer => 0,
            AnchorClass::Whole => 1,
            AnchorClass::Prefix(i) => 2u8.saturating_add(i),
            AnchorClass::Suffix(i) => 7u8.saturating_add(i),
        }
    }

    /// The class an anchor condition gets, or `None` when it cannot anchor:
    /// negated, a type or operator a hash cannot find, a pattern shorter than 4 units.
    pub(crate) fn of(op: Operator, ty: FieldType, negated: bool, pattern_units: usize) -> Option<Self> {
        if negated {
            return None;
        }
        match (op, ty) {
            (Operator::Equals, FieldType::U32 | FieldType::U64 | FieldType::Time) => {
                Some(AnchorClass::Integer)
            }
            (Operator::Equals, FieldType::Str) => Some(AnchorClass::Whole),
            (Operator::StartsWith, FieldType::Str) => affix(pattern_units).map(AnchorClass::Prefix),
            (Operator::EndsWith, FieldType::Str) => affix(pattern_units).map(AnchorClass::Suffix),
            _ => None,
        }
    }
}

/// The index into [`AFFIX_LENGTHS`] of the longest length not over `units`.
fn affix(units: usize) -> Option<u8> {
    let at = AFFIX_LENGTHS.iter().position(|&l| l <= units)?;
    u8::try_from(at).ok()
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
    1u64 << (32u8.saturating_add(class.min(CLASSES)) & 63)
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

/// Folds units four at a time into the hash; feeds a zero-padded tail.
struct Hasher {
    h: u64,
    word: u64,
    filled: u32,
    units: usize,
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

    fn value(&self) -> u64 {
        let h = if self.filled == 0 { self.h } else { step(self.h, self.word) };
        finish(h ^ (self.units as u64))
    }
}

/// The key of a whole string.
pub(crate) fn whole_key(field: u8, text: Text<'_>) -> u64 {
    let mut hasher = Hasher::new();
    for unit in text.units() {
        hasher.push(unit);
    }
    key(field, AnchorClass::Whole.code(), hasher.value())
}

/// The key of the first `AFFIX_LENGTHS[index]` units; `None` when `text` is shorter.
pub(crate) fn prefix_key(field: u8, index: u8, text: Text<'_>) -> Option<u64> {
    let len = *AFFIX_LENGTHS.get(usize::from(index))?;
    if text.len() < len {
        return None;
    }
    let mut hasher = Hasher::new();
    for unit in text.units().take(len) {
        hasher.push(unit);
    }
    Some(key(field, AnchorClass::Prefix(index).code(), hasher.value()))
}

/// The key of the last `AFFIX_LENGTHS[index]` units, hashed last unit first.
pub(crate) fn suffix_key(field: u8, index: u8, text: Text<'_>) -> Option<u64> {
    let len = *AFFIX_LENGTHS.get(usize::from(index))?;
    let n = text.len();
    let start = n.checked_sub(len)?;
    let mut hasher = Hasher::new();
    let mut at = n;
    while at > start {
        at = at.wrapping_sub(1);
        hasher.push(text.unit(at).unwrap_or(0));
    }
    Some(key(field, AnchorClass::Suffix(index).code(), hasher.value()))
}

/// Every prefix (or suffix) key of `text` whose class bit is set in `mask`,
/// computed in one pass over at most 64 units. Returns how many were written.
pub(crate) fn affix_keys(field: u8, text: Text<'_>, suffix: bool, mask: u64, out: &mut [u64; 5]) -> usize {
    let n = text.len();
    let mut hasher = Hasher::new();
    let mut written = 0usize;
    // AFFIX_LENGTHS ascending: 4, 8, 16, 32, 64 (indices 4..=0).
    let mut next = AFFIX_LENGTHS.len();
    let mut taken = 0usize;
    while next > 0 {
        next = next.wrapping_sub(1);
        let index = u8::try_from(next).unwrap_or(0);
        let Some(&len) = AFFIX_LENGTHS.get(next) else { break };
        if len > n {
            break;
        }
        while taken < len {
            let at = if suffix { n.wrapping_sub(1).wrapping_sub(taken) } else { taken };
            hasher.push(text.unit(at).unwrap_or(0));
            taken = taken.wrapping_add(1);
        }
        let class = if suffix { AnchorClass::Suffix(index) } else { AnchorClass::Prefix(index) }.code();
        if mask & class_bit(class) != 0 {
            if let Some(slot) = out.get_mut(written) {
                *slot = key(field, class, hasher.value());
                written = written.wrapping_add(1);
            }
        }
    }
    written
}

/// The key an anchor condition stands for, from its pattern or integer.
pub(crate) fn condition_key(field: u8, class: AnchorClass, pattern: Text<'_>, integer: u64) -> Option<u64> {
    match class {
        AnchorClass::Integer => Some(integer_key(field, integer)),
        AnchorClass::Whole => Some(whole_key(field, pattern)),
        AnchorClass::Prefix(i) => prefix_key(field, i, pattern),
        AnchorClass::Suffix(i) => suffix_key(field, i, pattern),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wide(s: &str) -> std::vec::Vec<u16> {
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
    fn one_pass_affix_keys_equal_the_single_keys() {
        let path = wide(r"C:\Program Files\Google\Chrome\Application\chrome.exe");
        let text = Text::wide(&path);
        for suffix in [false, true] {
            let mut out = [0u64; 5];
            let n = affix_keys(6, text, suffix, u64::MAX, &mut out);
            let single: std::vec::Vec<u64> = (0..5u8)
                .rev()
                .filter_map(|i| if suffix { suffix_key(6, i, text) } else { prefix_key(6, i, text) })
                .collect();
            assert_eq!(&out[..n], single.as_slice());
        }
    }

    #[test]
    fn anchors_take_the_longest_affix_not_over_the_pattern() {
        assert_eq!(
            AnchorClass::of(Operator::EndsWith, FieldType::Str, false, 12),
            Some(AnchorClass::Suffix(3))
        );
        assert_eq!(
            AnchorClass::of(Operator::StartsWith, FieldType::Str, false, 64),
            Some(AnchorClass::Prefix(0))
        );
        assert_eq!(AnchorClass::of(Operator::StartsWith, FieldType::Str, false, 3), None);
        assert_eq!(AnchorClass::of(Operator::Equals, FieldType::Str, true, 10), None);
        assert_eq!(AnchorClass::of(Operator::Contains, FieldType::Str, false, 10), None);
        assert_eq!(AnchorClass::of(Operator::Equals, FieldType::Bool, false, 0), None);
    }
}
