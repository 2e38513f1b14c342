//! [`Content`]: a view over format-2 bytes. Every read goes through `get` and
//! answers `None` outside the buffer, so the view is safe over any bytes;
//! [`crate::v2::validate`] is what makes every answer `Some` and meaningful.

use super::format::{
    self, code, glob, glob_unit, header, pattern, predicate, rule, scanner, section, state, value,
};
use ringfence_wire::bytes::{u16_at, u32_at, u64_at};

/// Content bytes and the slices of its sections.
#[derive(Clone, Copy, Debug)]
pub struct Content<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) sections: [&'a [u8]; section::COUNT],
    /// The transition table attached with [`Content::with_transitions`] (empty: none).
    pub(crate) transitions: &'a [u32],
}

#[inline(always)]
fn byte_at(buf: &[u8], at: usize) -> Option<u8> {
    buf.get(at).copied()
}

#[inline(always)]
fn word(entry: &[u8], at: usize) -> u32 {
    u32_at(entry, at).unwrap_or(0)
}

/// A usize from a stored u32 (lossless on every target ringfence builds for).
#[inline(always)]
pub(crate) fn ix(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ScannerEntry {
    pub(crate) kind: u16,
    pub(crate) field: u8,
    pub(crate) case: u8,
    pub(crate) first_state: u32,
    pub(crate) state_count: u32,
    pub(crate) first_class: u32,
    pub(crate) class_entries: u32,
    pub(crate) class_count: u32,
    pub(crate) first_pattern: u32,
    pub(crate) pattern_count: u32,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct StateEntry {
    pub(crate) depth: u32,
    pub(crate) fail: u32,
    pub(crate) dict: u32,
    pub(crate) output: u32,
    pub(crate) goto_count: u32,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct GlobEntry {
    pub(crate) star_mask: u64,
    pub(crate) any_mask: u64,
    pub(crate) first_unit: u32,
    pub(crate) unit_count: u8,
    pub(crate) tokens: u8,
    pub(crate) case: u8,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PredicateEntry {
    pub(crate) field: u8,
    pub(crate) operator: u8,
    pub(crate) flags: u8,
    pub(crate) scanner: u32,
    pub(crate) first_value: u32,
    pub(crate) value_count: u32,
}

#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RuleEntry {
    pub(crate) id: u32,
    pub(crate) kind: u16,
    pub(crate) role: u8,
    /// Its kernel default (format.rs, "Kernel defaults").
    pub(crate) default: u8,
    pub(crate) first_predicate: u32,
    pub(crate) predicate_count: u32,
    pub(crate) first_code: u32,
    pub(crate) code_len: u32,
    pub(crate) name_offset: u32,
    pub(crate) name_len: u16,
    pub(crate) meta_len: u16,
    pub(crate) meta_offset: u32,
}

impl<'a> Content<'a> {
    /// A view over bytes nobody validated: every accessor stays in bounds and
    /// the interpreter stays bounded (see [`crate::v2::evaluate_raw`]).
    pub fn from_unvalidated(bytes: &'a [u8]) -> Self {
        let mut sections = [&[][..]; section::COUNT];
        let dir = bytes.get(header::LEN..).unwrap_or(&[]);
        for (i, slot) in sections.iter_mut().enumerate() {
            let at = i.saturating_mul(section::ENTRY_LEN);
            let offset = ix(u32_at(dir, at.saturating_add(section::OFFSET)).unwrap_or(0));
            let len = ix(u32_at(dir, at.saturating_add(section::LEN)).unwrap_or(0));
            *slot = bytes.get(offset..offset.saturating_add(len)).unwrap_or(&[]);
        }
        Content { bytes, sections, transitions: &[] }
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn schema_version(&self) -> u16 {
        u16_at(self.bytes, header::SCHEMA_VERSION).unwrap_or(0)
    }

    pub fn content_version(&self) -> u32 {
        u32_at(self.bytes, header::CONTENT_VERSION).unwrap_or(0)
    }

    #[inline(always)]
    pub(crate) fn table(&self, id: u16) -> &'a [u8] {
        let at = usize::from(id).saturating_sub(1);
        self.sections.get(at).copied().unwrap_or(&[])
    }

    /// Entries in section `id`.
    pub(crate) fn count(&self, id: u16) -> usize {
        let at = usize::from(id).saturating_sub(1);
        let len = section::ENTRY.get(at).copied().unwrap_or(1);
        self.table(id).len().checked_div(len).unwrap_or(0)
    }

    #[inline(always)]
    pub(crate) fn entry(&self, id: u16, index: usize) -> Option<&'a [u8]> {
        let at = usize::from(id).saturating_sub(1);
        let len = section::ENTRY.get(at).copied()?;
        let start = index.checked_mul(len)?;
        self.table(id).get(start..start.checked_add(len)?)
    }

    pub fn rule_count(&self) -> usize {
        self.count(section::RULES)
    }

    pub fn pattern_count(&self) -> usize {
        self.count(section::PATTERNS)
    }

    pub fn state_count(&self) -> usize {
        self.count(section::STATES)
    }

    pub(crate) fn scanner(&self, index: usize) -> Option<ScannerEntry> {
        let e = self.entry(section::SCANNERS, index)?;
        Some(ScannerEntry {
            kind: u16_at(e, scanner::KIND)?,
            field: byte_at(e, scanner::FIELD)?,
            case: byte_at(e, scanner::CASE)?,
            first_state: word(e, scanner::FIRST_STATE),
            state_count: word(e, scanner::STATE_COUNT),
            first_class: word(e, scanner::FIRST_CLASS),
            class_entries: word(e, scanner::CLASS_ENTRIES),
            class_count: word(e, scanner::CLASS_COUNT),
            first_pattern: word(e, scanner::FIRST_PATTERN),
            pattern_count: word(e, scanner::PATTERN_COUNT),
        })
    }

    /// State `local` of scanner `s`.
    #[inline(always)]
    pub(crate) fn state(&self, s: &ScannerEntry, local: u32) -> Option<StateEntry> {
        if local >= s.state_count {
            return None;
        }
        let e = self.entry(section::STATES, ix(s.first_state.checked_add(local)?))?;
        Some(StateEntry {
            depth: word(e, state::DEPTH),
            fail: word(e, state::FAIL),
            dict: word(e, state::DICT),
            output: word(e, state::OUTPUT),
            goto_count: word(e, state::GOTO_COUNT),
        })
    }

    /// (unit, class) of class entry `index` (global).
    #[inline(always)]
    pub(crate) fn class_entry(&self, index: u32) -> Option<(u16, u16)> {
        let e = self.entry(section::CLASSES, ix(index))?;
        Some((u16_at(e, format::class::UNIT)?, u16_at(e, format::class::CLASS)?))
    }

    /// (state, len) of pattern `local` of scanner `s`.
    pub(crate) fn pattern(&self, s: &ScannerEntry, local: u32) -> Option<(u32, u32)> {
        if local >= s.pattern_count {
            return None;
        }
        let e = self.entry(section::PATTERNS, ix(s.first_pattern.checked_add(local)?))?;
        Some((word(e, pattern::STATE), word(e, pattern::LEN_UNITS)))
    }

    /// (first_ref, ref_count) of pattern `global`: where its gated rules are listed in `refs`.
    #[inline(always)]
    pub(crate) fn pattern_refs(&self, global: usize) -> Option<(u32, u32)> {
        let e = self.entry(section::PATTERNS, global)?;
        Some((u32_at(e, pattern::FIRST_REF)?, u32_at(e, pattern::REF_COUNT)?))
    }

    /// Entry `index` of `gates`: a pattern local to its predicate's scanner.
    #[inline(always)]
    pub(crate) fn gate(&self, index: usize) -> Option<u32> {
        u32_at(self.entry(section::GATES, index)?, 0)
    }

    /// Entry `index` of a table of u16 rule indexes (`refs` or `always`).
    #[inline(always)]
    pub(crate) fn rule_index(&self, id: u16, index: usize) -> Option<usize> {
        let e = self.entry(id, index)?;
        u16_at(e, 0).map(usize::from)
    }

    pub(crate) fn glob(&self, index: usize) -> Option<GlobEntry> {
        let e = self.entry(section::GLOBS, index)?;
        Some(GlobEntry {
            star_mask: u64_at(e, glob::STAR_MASK)?,
            any_mask: u64_at(e, glob::ANY_MASK)?,
            first_unit: word(e, glob::FIRST_UNIT),
            unit_count: byte_at(e, glob::UNIT_COUNT)?,
            tokens: byte_at(e, glob::TOKENS)?,
            case: byte_at(e, glob::CASE)?,
        })
    }

    /// (unit, mask) of glob unit entry `index` (global).
    #[inline(always)]
    pub(crate) fn glob_unit(&self, index: u32) -> Option<(u16, u64)> {
        let e = self.entry(section::GLOB_UNITS, ix(index))?;
        Some((u16_at(e, glob_unit::UNIT)?, u64_at(e, glob_unit::MASK)?))
    }

    pub(crate) fn predicate(&self, index: usize) -> Option<PredicateEntry> {
        let e = self.entry(section::PREDICATES, index)?;
        Some(PredicateEntry {
            field: byte_at(e, predicate::FIELD)?,
            operator: byte_at(e, predicate::OPERATOR)?,
            flags: byte_at(e, predicate::FLAGS)?,
            scanner: word(e, predicate::SCANNER),
            first_value: word(e, predicate::FIRST_VALUE),
            value_count: word(e, predicate::VALUE_COUNT),
        })
    }

    /// (value, flags) of value entry `index` (global).
    #[inline(always)]
    pub(crate) fn value(&self, index: usize) -> Option<(u64, u32)> {
        let e = self.entry(section::VALUES, index)?;
        Some((u64_at(e, value::VALUE)?, u32_at(e, value::FLAGS)?))
    }

    /// Rule `index`'s kind and kernel default, read alone.
    #[inline(always)]
    pub(crate) fn rule_kind_and_default(&self, index: usize) -> Option<(u16, u8)> {
        let e = self.entry(section::RULES, index)?;
        Some((u16_at(e, rule::KIND)?, byte_at(e, rule::DEFAULT)?))
    }

    pub(crate) fn rule(&self, index: usize) -> Option<RuleEntry> {
        let e = self.entry(section::RULES, index)?;
        Some(RuleEntry {
            id: word(e, rule::ID),
            kind: u16_at(e, rule::KIND)?,
            role: byte_at(e, rule::ROLE)?,
            default: byte_at(e, rule::DEFAULT)?,
            first_predicate: word(e, rule::FIRST_PREDICATE),
            predicate_count: word(e, rule::PREDICATE_COUNT),
            first_code: word(e, rule::FIRST_CODE),
            code_len: word(e, rule::CODE_LEN),
            name_offset: word(e, rule::NAME_OFFSET),
            name_len: u16_at(e, rule::NAME_LEN)?,
            meta_len: u16_at(e, rule::META_LEN)?,
            meta_offset: word(e, rule::META_OFFSET),
        })
    }

    /// (opcode, arg) of instruction `index` (global).
    #[inline(always)]
    pub(crate) fn instruction(&self, index: usize) -> Option<(u8, u16)> {
        let e = self.entry(section::CODE, index)?;
        Some((byte_at(e, code::OPCODE)?, u16_at(e, code::ARG)?))
    }

    /// `len` units of the string pool from unit `offset`, empty when out of range.
    pub(crate) fn text(&self, offset: u32, len: u16) -> ringfence_wire::Text<'a> {
        let start = ix(offset).saturating_mul(2);
        let end = start.saturating_add(usize::from(len).saturating_mul(2));
        let bytes = self.table(section::STRINGS).get(start..end).unwrap_or(&[]);
        ringfence_wire::Text::from_le_bytes(bytes).unwrap_or_default()
    }

    /// Rule `index`'s id, name and metadata, by position in the rules table.
    pub fn rule_info(&self, index: usize) -> Option<RuleInfo<'a>> {
        let r = self.rule(index)?;
        Some(RuleInfo {
            id: r.id,
            kind: r.kind,
            role: format::Role::from_code(r.role)?,
            name: self.text(r.name_offset, r.name_len),
            meta: self.text(r.meta_offset, r.meta_len),
        })
    }

    /// The position of the rule with `id` (rules are sorted by id in validated content).
    pub fn rule_position(&self, id: u32) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, self.rule_count());
        while lo < hi {
            let mid = lo.saturating_add(hi.saturating_sub(lo) / 2);
            let at = self.rule(mid)?.id;
            match at.cmp(&id) {
                core::cmp::Ordering::Equal => return Some(mid),
                core::cmp::Ordering::Less => lo = mid.saturating_add(1),
                core::cmp::Ordering::Greater => hi = mid,
            }
        }
        None
    }

    /// u64 words of scratch memory one evaluation needs: four bitsets over the
    /// patterns (contained, prefix, suffix, whole text) and two over the rules
    /// (the candidates; those listed by a field answered unknown).
    pub fn scratch_words(&self) -> usize {
        let rules = self.rule_count().div_ceil(64);
        self.pattern_count().div_ceil(64).saturating_mul(4).saturating_add(rules.saturating_mul(2))
    }
}

/// A rule as output needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RuleInfo<'a> {
    pub id: u32,
    pub kind: u16,
    pub role: format::Role,
    pub name: ringfence_wire::Text<'a>,
    pub meta: ringfence_wire::Text<'a>,
}
