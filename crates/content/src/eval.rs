//! The interpreter. It walks the tables through the view's checked reads and
//! treats anything it cannot read or does not know as "no match": it stays
//! memory-safe, panic-free and bounded even on bytes nobody validated.
//!
//! Semantics (Sysmon's): an exclude rule that matches drops the event; else,
//! when the kind has include rules, the event is kept only if one matches,
//! tagged with the name of the matching include rule that comes first in the
//! rule file; a kind without include rules is kept untagged. A rule matches
//! when all its conditions hold. The index only narrows which rules are tried.

use crate::anchor::{self, AnchorClass};
use crate::format::{Action, Operator, condition, rule};
use crate::key_table;
use crate::matching;
use crate::meter::{EVENT_WORK_LIMIT, Meter};
use crate::view::{ConditionEntry, Content, GroupEntry, RuleEntry};
use ringfence_wire::bytes::u64_at;
use ringfence_wire::{Event, FieldType, Fields, Record, Text, Value};

/// What to do with an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict<'a> {
    /// Keep it. `rule_name` is the matching include rule's name; empty when
    /// the event's kind has no include rule.
    Keep {
        rule_name: Text<'a>,
    },
    Drop,
}

/// Evaluates content that was never validated. Garbage is "no match" or, when
/// no group can be read at all, "no rules": the event is kept untagged. The
/// work is bounded as for validated content: an evaluation that would do more
/// than [`EVENT_WORK_LIMIT`] units stops there and keeps the event untagged.
pub fn evaluate_raw<'a, 'e, F: Fields<'e>>(bytes: &'a [u8], event: &F) -> Verdict<'a> {
    Content::from_validated(bytes).evaluate(event)
}

/// [`Content::evaluate`] for a typed event, monomorphic so that the no-panic proof can see it.
#[cfg_attr(feature = "no-panic", no_panic::no_panic)]
pub fn evaluate_event<'a>(content: &Content<'a>, event: &Event<'_>) -> Verdict<'a> {
    content.evaluate(event)
}

/// [`Content::evaluate`] for a decoded record, monomorphic so that the no-panic proof can see it.
#[cfg_attr(feature = "no-panic", no_panic::no_panic)]
pub fn evaluate_record<'a>(content: &Content<'a>, record: &Record<'_>) -> Verdict<'a> {
    content.evaluate(record)
}

impl<'a> Content<'a> {
    /// Keeps or drops `event` by this content's rules, within the kernel's
    /// per-event [`EVENT_WORK_LIMIT`] (past it the event is kept untagged; the
    /// driver calls [`Content::evaluate_metered`] to know and count it).
    pub fn evaluate<'e, F: Fields<'e>>(&self, event: &F) -> Verdict<'a> {
        self.evaluate_metered(event, &mut Meter::new(EVENT_WORK_LIMIT))
    }

    /// [`Content::evaluate`], counting its work on `meter`. When the work goes
    /// past the meter's limit evaluation stops and the event is kept untagged,
    /// as when there are no rules: a sensor that cannot decide drops nothing.
    pub fn evaluate_metered<'e, F: Fields<'e>>(&self, event: &F, meter: &mut Meter) -> Verdict<'a> {
        let verdict = self.verdict(event, meter);
        if meter.exhausted() { Verdict::Keep { rule_name: Text::default() } } else { verdict }
    }

    fn verdict<'e, F: Fields<'e>>(&self, event: &F, meter: &mut Meter) -> Verdict<'a> {
        let code = event.kind().code();
        let mut include = None;
        for index in 0..self.group_count() {
            meter.charge(1);
            if meter.exhausted() {
                break;
            }
            let Some(g) = self.group(index) else { break };
            if g.kind != code {
                continue;
            }
            match Action::from_code(g.action) {
                Some(Action::Exclude) if self.any_match(index, &g, event, meter) => return Verdict::Drop,
                Some(Action::Exclude) => {}
                // An empty include group (only in unvalidated content) is no include rule.
                Some(Action::Include) if g.anchored != 0 || g.unanchored != 0 => {
                    include = include.or(Some((index, g)))
                }
                Some(Action::Include) => {}
                None => {}
            }
        }
        let Some((index, g)) = include else { return Verdict::Keep { rule_name: Text::default() } };
        match self.first_match(index, &g, event, meter) {
            Some(entry) => Verdict::Keep { rule_name: self.rule_name(&entry) },
            None => Verdict::Drop,
        }
    }

    /// Whether any rule of group `index` (`g`) matches.
    fn any_match<'e, F: Fields<'e>>(
        &self,
        index: usize,
        g: &GroupEntry,
        event: &F,
        meter: &mut Meter,
    ) -> bool {
        let mut found = false;
        self.candidates(index, g, event, meter, |entry, meter| {
            found = self.rule_matches(&entry, event, meter);
            found
        });
        if found {
            return true;
        }
        for entry in self.unanchored(g) {
            meter.charge(1);
            if meter.exhausted() {
                return false;
            }
            if self.rule_matches(&entry, event, meter) {
                return true;
            }
        }
        false
    }

    /// The matching rule of group `index` (`g`) with the lowest id.
    fn first_match<'e, F: Fields<'e>>(
        &self,
        index: usize,
        g: &GroupEntry,
        event: &F,
        meter: &mut Meter,
    ) -> Option<RuleEntry> {
        let mut best: Option<RuleEntry> = None;
        self.candidates(index, g, event, meter, |entry, meter| {
            if best.is_none_or(|b| entry.id < b.id) && self.rule_matches(&entry, event, meter) {
                best = Some(entry);
            }
            false
        });
        // Unanchored rules are in id order: the first match is their lowest.
        for entry in self.unanchored(g) {
            if best.is_some_and(|b| b.id < entry.id) {
                break;
            }
            meter.charge(1);
            if meter.exhausted() {
                return None;
            }
            if self.rule_matches(&entry, event, meter) {
                return Some(entry);
            }
        }
        best
    }

    fn unanchored(&self, g: &GroupEntry) -> impl Iterator<Item = RuleEntry> + '_ {
        let start = usize::try_from(g.first_rule).unwrap_or(usize::MAX).saturating_add(to_usize(g.anchored));
        let end = start.saturating_add(to_usize(g.unanchored)).min(self.rule_count());
        (start..end).filter_map(|i| self.rule(i))
    }

    /// Calls `visit` on every anchored rule of group `index` (`g`) whose key
    /// the event has, until it returns true. A prefix or suffix lookup of L
    /// units visits only the rules whose anchor pattern has L units, so that a
    /// key shared by patterns of other lengths (a hash collision) never has a
    /// rule evaluated twice. Keys are found through the key table when the
    /// view has one, else by binary search; either is charged the search's bound.
    fn candidates<'e, F: Fields<'e>>(
        &self,
        index: usize,
        g: &GroupEntry,
        event: &F,
        meter: &mut Meter,
        mut visit: impl FnMut(RuleEntry, &mut Meter) -> bool,
    ) {
        if g.anchored == 0 || g.mask == 0 {
            return;
        }
        let first = to_usize(g.first_rule).min(self.rule_count());
        let end = first.saturating_add(to_usize(g.anchored)).min(self.rule_count());
        let keys = Keys::of(self.rules, first, end);
        let slots = self.key_slots(index);
        let charge = key_table::search_charge(keys.len());
        // Visits the rules stored under `key` (anchored by `units` units, 0: any
        // length); true when `visit` asked to stop.
        let mut search = |key: u64, units: usize, meter: &mut Meter| {
            meter.charge(charge);
            let at = match slots {
                Some(slots) => key_table::find(slots, key, keys.len(), |at| keys.get(at)),
                None => keys.lower_bound(key),
            };
            // Most of an event's keys are no rule's: a miss is one compare, charged as the
            // run's first step.
            if keys.get(at) != Some(key) {
                meter.charge(1);
                return false;
            }
            self.visit_run(Run { keys, first, at, key, units }, meter, &mut visit)
        };
        let has = |class: AnchorClass| g.mask & anchor::class_bit(class.code()) != 0;
        let mut next = Some(0u8);
        while let Some(field) = next.filter(|&field| field <= g.max_field) {
            next = field.checked_add(1);
            // Fields without an anchor cost a unit each and do nothing else: a run of them is
            // charged at once when it cannot exhaust the meter (the same units, the same stop).
            let gap = fields_without_anchor(g.mask, field, g.max_field);
            if gap > 0 && meter.affords(u64::from(gap)) {
                meter.charge(u64::from(gap));
                next = field.checked_add(gap);
                continue;
            }
            meter.charge(1);
            if meter.exhausted() {
                return;
            }
            if g.mask & anchor::field_bit(field) == 0 {
                continue;
            }
            // A field the event lacks has no keys; later fields may still have some.
            let Some(value) = event.field(field) else { continue };
            let stop = match value {
                Value::Str(text) => {
                    let affixes = |lengths: &anchor::Lengths| anchor::longest(lengths).min(text.len());
                    (has(AnchorClass::Whole) && {
                        meter.charge_usize(text.len());
                        search(anchor::whole_key(field, text), 0, meter)
                    }) || (has(AnchorClass::Prefix) && {
                        meter.charge_usize(affixes(&g.prefix_lengths));
                        anchor::affix_keys(field, text, false, &g.prefix_lengths, |key, units| {
                            search(key, units, meter)
                        })
                    }) || (has(AnchorClass::Suffix) && {
                        meter.charge_usize(affixes(&g.suffix_lengths));
                        anchor::affix_keys(field, text, true, &g.suffix_lengths, |key, units| {
                            search(key, units, meter)
                        })
                    })
                }
                Value::U32(_) | Value::U64(_) | Value::Time(_) => {
                    has(AnchorClass::Integer) && {
                        meter.charge(1);
                        search(anchor::integer_key(field, value.as_u64().unwrap_or(0)), 0, meter)
                    }
                }
                // Verdict fields (id lists) are never matched: validation refuses them.
                Value::Bool(_) | Value::Ids(_) => false,
            };
            if stop {
                return;
            }
        }
    }

    /// Visits the rules of `run` (rules whose key is the run's, from its
    /// position on) that are anchored by its length, until `visit` returns true.
    fn visit_run(
        &self,
        run: Run<'_>,
        meter: &mut Meter,
        visit: &mut impl FnMut(RuleEntry, &mut Meter) -> bool,
    ) -> bool {
        let Run { keys, first, mut at, key, units } = run;
        loop {
            meter.charge(1);
            if keys.get(at) != Some(key) || meter.exhausted() {
                return false;
            }
            let length_fits = |rule: &RuleEntry| units == 0 || self.anchor_units(rule) == Some(units);
            let rule = first.checked_add(at).and_then(|index| self.rule(index));
            if rule.filter(length_fits).is_some_and(|rule| visit(rule, meter)) {
                return true;
            }
            at = at.saturating_add(1);
        }
    }

    /// The length of a rule's anchor pattern, in units.
    fn anchor_units(&self, rule: &RuleEntry) -> Option<usize> {
        let at = to_usize(rule.first_condition).checked_add(usize::from(rule.anchor))?;
        usize::try_from(self.condition(at)?.string_ref().1).ok()
    }

    fn rule_matches<'e, F: Fields<'e>>(&self, entry: &RuleEntry, event: &F, meter: &mut Meter) -> bool {
        let first = to_usize(entry.first_condition);
        for i in 0..usize::from(entry.condition_count) {
            meter.charge(1);
            if meter.exhausted() {
                return false;
            }
            let Some(c) = first.checked_add(i).and_then(|at| self.condition(at)) else { return false };
            if !self.holds(&c, event, meter) {
                return false;
            }
        }
        true
    }

    /// Whether one condition holds. A missing field, a type the field does not
    /// have or an unknown operator makes it false, negated or not.
    fn holds<'e, F: Fields<'e>>(&self, c: &ConditionEntry, event: &F, meter: &mut Meter) -> bool {
        if c.flags & !condition::KNOWN_FLAGS != 0 {
            return false;
        }
        let (Some(op), Some(ty)) = (Operator::from_code(c.op), FieldType::from_code(c.ty)) else {
            return false;
        };
        let Some(value) = event.field(c.field) else { return false };
        if value.ty() != ty || !op.fits(ty) {
            return false;
        }
        let fold_case = c.flags & condition::CASE_INSENSITIVE != 0;
        let hit = match value {
            Value::Str(text) => {
                let (offset, len) = c.string_ref();
                let Some(pattern) = self.string(offset, len) else { return false };
                match op {
                    Operator::Equals => matching::equals(text, pattern, fold_case, meter),
                    Operator::StartsWith => matching::starts_with(text, pattern, fold_case, meter),
                    Operator::EndsWith => matching::ends_with(text, pattern, fold_case, meter),
                    Operator::Contains => matching::contains(text, pattern, fold_case, meter),
                    Operator::LessThan | Operator::GreaterThan => return false,
                }
            }
            Value::Bool(b) => match c.value {
                0 | 1 => u64::from(b) == c.value,
                _ => return false,
            },
            Value::U32(_) | Value::U64(_) | Value::Time(_) => {
                let v = value.as_u64().unwrap_or(0);
                match op {
                    Operator::Equals => v == c.value,
                    Operator::LessThan => v < c.value,
                    Operator::GreaterThan => v > c.value,
                    _ => return false,
                }
            }
            Value::Ids(_) => return false,
        };
        hit != (c.flags & condition::NEGATE != 0)
    }
}

/// Where a key's rules start in a group: its keys, the group's first rule, the
/// key's first position among the keys, and the anchor length looked up (0: any).
#[derive(Clone, Copy)]
struct Run<'t> {
    keys: Keys<'t>,
    first: usize,
    at: usize,
    key: u64,
    units: usize,
}

/// The keys of a group's anchored rules, read in place from the rule table.
#[derive(Clone, Copy)]
struct Keys<'t> {
    table: &'t [u8],
    /// `table.len() / rule::LEN`, divided once per group rather than per lookup.
    len: usize,
}

impl<'t> Keys<'t> {
    /// The keys of rules `first..end` (empty when the table does not hold them).
    fn of(rules: &'t [u8], first: usize, end: usize) -> Self {
        let bytes = |index: usize| index.checked_mul(rule::LEN);
        let table = bytes(first).zip(bytes(end)).and_then(|(from, to)| rules.get(from..to)).unwrap_or(&[]);
        Keys { table, len: table.len() / rule::LEN }
    }

    #[inline(always)]
    fn len(&self) -> usize {
        self.len
    }

    /// The key of the `index`-th rule; `None` past the end. Every caller's
    /// index is at most `len()`, so the offset cannot wrap; `u64_at` bounds
    /// the read whatever it is.
    #[inline(always)]
    fn get(&self, index: usize) -> Option<u64> {
        u64_at(self.table, index.wrapping_mul(rule::LEN).wrapping_add(rule::KEY))
    }

    /// The first index whose key is not below `key`.
    #[inline]
    fn lower_bound(&self, key: u64) -> usize {
        let (mut lo, mut hi) = (0usize, self.len());
        while lo < hi {
            // lo < hi ≤ len: neither the difference nor the midpoint wraps.
            let mid = lo.wrapping_add(hi.wrapping_sub(lo) / 2);
            if self.get(mid).is_some_and(|k| k < key) {
                lo = mid.wrapping_add(1);
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// How many fields from `field` on, up to `max_field`, have no bit in the anchor `mask`;
/// 0 when `max_field` is 32 or more (fields 32 apart share a bit, see [`anchor::mask_bit`]).
#[inline(always)]
fn fields_without_anchor(mask: u64, field: u8, max_field: u8) -> u8 {
    if max_field >= 32 || field > max_field {
        return 0;
    }
    let bits = u32::try_from(mask & 0xFFFF_FFFF).unwrap_or(0).checked_shr(u32::from(field)).unwrap_or(0);
    let left = u32::from(max_field.wrapping_sub(field)).wrapping_add(1);
    u8::try_from(bits.trailing_zeros().min(left)).unwrap_or(0)
}

fn to_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::fields_without_anchor;

    #[test]
    fn a_run_of_fields_without_an_anchor_ends_at_the_next_anchored_field_or_the_last() {
        // Fields 2 and 5 anchored, up to field 7.
        let mask = (1 << 2) | (1 << 5) | (1 << 33);
        assert_eq!(
            [0, 1, 2, 3, 4, 5, 6, 7].map(|f| fields_without_anchor(mask, f, 7)),
            [2, 1, 0, 2, 1, 0, 2, 1]
        );
        assert_eq!(fields_without_anchor(mask, 8, 7), 0, "past the last field");
        assert_eq!(fields_without_anchor(0, 0, 31), 32, "no anchor at all");
        assert_eq!(fields_without_anchor(0, 0, 32), 0, "fields 32 apart share a bit: one at a time");
    }
}
