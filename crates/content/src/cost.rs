//! The worst-case cost of evaluating one event, computed from the content and
//! the schema's longest field values, in the work units the interpreter's
//! [`Meter`](crate::Meter) counts. The validator refuses content whose cost is
//! over [`MAX_EVALUATION_COST`](crate::MAX_EVALUATION_COST).
//!
//! For an event of kind K whose every string field is at its schema maximum
//! (`n_f` units for field f):
//!
//! ```text
//! cost = groups                                   one per group entry, any kind
//!      + Σ over K's groups: index(g) + Σ unanchored rules (1 + R(r))
//! R(r) = Σ conditions (1 + M(c))                  a rule evaluated in full
//! M(c) = m for equals / starts_with / ends_with (m: the pattern's units),
//!        4·n_f + 6·m for contains (the linear matcher's bound), 0 for numbers
//! index(g) = 0 without anchors, else
//!      (max_field + 1)                            the field loop
//!    + Σ anchored fields: hashing + lookups × (⌈log2(anchored + 1)⌉ + 1 + longest run)
//!    + Σ segments (field, class): Σ over anchor lengths L of the costliest run of
//!      rules (equal keys) holding an anchor of L units, in Σ (1 + R(r))
//! hashing = n_f for a whole-string key, min(longest prefix/suffix length, n_f)
//!      for the prefix/suffix keys, 1 for an integer key
//! lookups = 1 per whole-string or integer key, 1 per prefix/suffix length
//! ```
//!
//! An event finds at most one run of equal keys per lookup, and the evaluator
//! only evaluates a rule whose anchor length is the lookup's, so each rule of
//! a run is evaluated at most once: the costliest run per length bounds what
//! the index can make an event evaluate. The content's cost is the largest
//! over event kinds.

use crate::anchor::{self, AnchorClass};
use crate::error::{ErrorKind, ValidationError};
use crate::format::{MAX_PATTERN_UNITS, Operator, group, rule};
use crate::matching::contains_cost;
use crate::view::{Content, GroupEntry, RuleEntry};
use ringfence_wire::{FieldType, KindDef, Schema};

/// Where the content's cost first went over the budget.
struct Tally<'c, 'a, 's> {
    content: &'c Content<'a>,
    schema: &'s Schema,
    budget: u64,
    /// Byte offsets of the group and rule tables.
    groups_at: usize,
    rules_at: usize,
}

impl Tally<'_, '_, '_> {
    /// Adds `units` charged to `rule` of group `entry`; an error once the kind's total is over the budget.
    fn add(
        &self,
        total: &mut u64,
        units: u64,
        entry: usize,
        rule: Option<(usize, u32)>,
    ) -> Result<(), ValidationError> {
        *total = total.saturating_add(units);
        if *total <= self.budget {
            return Ok(());
        }
        let (offset, id) = match rule {
            Some((index, id)) => (self.rules_at.saturating_add(index.saturating_mul(rule::LEN)), id),
            None => {
                (self.groups_at.saturating_add(entry.saturating_mul(group::LEN)), ErrorKind::INDEX_LOOKUPS)
            }
        };
        let kind = ErrorKind::CostOverBudget {
            entry: u32::try_from(entry).unwrap_or(u32::MAX),
            rule: id,
            cost: u32::try_from(*total).unwrap_or(u32::MAX),
            budget: u32::try_from(self.budget).unwrap_or(u32::MAX),
        };
        Err(ValidationError::at(offset, kind))
    }

    /// The worst case over event kinds.
    fn content(&self) -> Result<u64, ValidationError> {
        let groups = self.content.group_count();
        let visits = u64::try_from(groups).unwrap_or(u64::MAX);
        let mut worst = visits;
        let mut kind: Option<u16> = None;
        let mut total = visits;
        for entry in 0..groups {
            let Some(g) = self.content.group(entry) else { break };
            if kind != Some(g.kind) {
                kind = Some(g.kind);
                total = visits;
            }
            let Some(def) = self.schema.kind_by_code(g.kind) else { continue };
            self.group(&mut total, entry, &g, def)?;
            worst = worst.max(total);
        }
        Ok(worst)
    }

    fn group(
        &self,
        total: &mut u64,
        entry: usize,
        g: &GroupEntry,
        def: &KindDef,
    ) -> Result<(), ValidationError> {
        let first = to_usize(g.first_rule);
        let anchored = to_usize(g.anchored);
        if g.anchored != 0 && g.mask != 0 {
            let index = self.index(g, def, self.longest_run(first, anchored));
            self.add(total, index, entry, None)?;
            self.segments(total, entry, first, anchored, def)?;
        }
        let unanchored = first.saturating_add(anchored)
            ..first.saturating_add(anchored).saturating_add(to_usize(g.unanchored));
        for index in unanchored {
            let Some(r) = self.content.rule(index) else { break };
            self.add(total, 1u64.saturating_add(self.rule(&r, def)), entry, Some((index, r.id)))?;
        }
        Ok(())
    }

    /// The most anchored rules sharing one key.
    fn longest_run(&self, first: usize, anchored: usize) -> u64 {
        let (mut longest, mut run, mut previous) = (0u64, 0u64, None);
        for index in first..first.saturating_add(anchored) {
            let key = self.content.rule_key(index);
            run = if key == previous { run.saturating_add(1) } else { 1 };
            previous = key;
            longest = longest.max(run);
        }
        longest
    }

    /// The field loop, key hashing and lookups of a group with anchors.
    fn index(&self, g: &GroupEntry, def: &KindDef, longest_run: u64) -> u64 {
        let has = |class: AnchorClass| g.mask & anchor::class_bit(class.code()) != 0;
        let bits = u64::from(u32::BITS.saturating_sub(g.anchored.leading_zeros()));
        let lookup = bits.saturating_add(1).saturating_add(longest_run);
        let prefixes = count(&g.prefix_lengths);
        let suffixes = count(&g.suffix_lengths);
        let mut units = u64::from(g.max_field).saturating_add(1);
        for field in 0..=g.max_field {
            if g.mask & anchor::field_bit(field) == 0 {
                continue;
            }
            let Some(def) = def.field(field) else { continue };
            let n = u64::from(def.max_units);
            let (hashing, lookups) = match def.ty {
                FieldType::Str => {
                    let affix = |lengths: &anchor::Lengths| (anchor::longest(lengths) as u64).min(n);
                    let whole: (u64, u64) = if has(AnchorClass::Whole) { (n, 1) } else { (0, 0) };
                    let prefix =
                        if has(AnchorClass::Prefix) { (affix(&g.prefix_lengths), prefixes) } else { (0, 0) };
                    let suffix =
                        if has(AnchorClass::Suffix) { (affix(&g.suffix_lengths), suffixes) } else { (0, 0) };
                    (
                        whole.0.saturating_add(prefix.0).saturating_add(suffix.0),
                        whole.1.saturating_add(prefix.1).saturating_add(suffix.1),
                    )
                }
                FieldType::U32 | FieldType::U64 | FieldType::Time if has(AnchorClass::Integer) => (1, 1),
                _ => (0, 0),
            };
            units = units.saturating_add(hashing).saturating_add(lookups.saturating_mul(lookup));
        }
        units
    }

    /// The anchored rules: per segment of equal (field, class), the costliest
    /// run for each anchor length, added as the maxima rise.
    fn segments(
        &self,
        total: &mut u64,
        entry: usize,
        first: usize,
        anchored: usize,
        def: &KindDef,
    ) -> Result<(), ValidationError> {
        // best[L]: the costliest run with an anchor of L units in this segment (0: whole or integer).
        let mut best = [0u32; MAX_PATTERN_UNITS + 1];
        let mut segment = None;
        let mut run: Option<(u64, u64, anchor::Lengths)> = None;
        let end = first.saturating_add(anchored);
        for index in first..end {
            let Some(r) = self.content.rule(index) else { break };
            let rule_cost = 1u64.saturating_add(self.rule(&r, def));
            let units = self.anchor_units(&r);
            let (field, class) = anchor::key_parts(r.key);
            if segment != Some((field, class)) {
                segment = Some((field, class));
                best = [0; MAX_PATTERN_UNITS + 1];
            }
            let (cost, lengths) = match run {
                Some((key, cost, lengths)) if key == r.key => (cost.saturating_add(rule_cost), lengths),
                _ => (rule_cost, [0; 4]),
            };
            let mut lengths = lengths;
            anchor::set_length(&mut lengths, units.max(1));
            let zero_length = units == 0;
            run = Some((r.key, cost, lengths));
            // The run so far raises the maxima of its lengths: charge the rise to this rule.
            let capped = u32::try_from(cost).unwrap_or(u32::MAX);
            let mut rise = 0u64;
            let mut raise = |slot: Option<&mut u32>| {
                if let Some(b) = slot.filter(|b| **b < capped) {
                    rise = rise.saturating_add(u64::from(capped.saturating_sub(*b)));
                    *b = capped;
                }
            };
            if zero_length {
                raise(best.get_mut(0));
            } else {
                for (word, &bits) in lengths.iter().enumerate() {
                    let mut bits = bits;
                    while bits != 0 {
                        let bit = bits.trailing_zeros() as usize;
                        bits &= bits.wrapping_sub(1);
                        raise(best.get_mut(word.saturating_mul(64).saturating_add(bit).saturating_add(1)));
                    }
                }
            }
            self.add(total, rise, entry, Some((index, r.id)))?;
        }
        Ok(())
    }

    /// Units of a prefix or suffix anchor's pattern; 0 for a whole-string or integer anchor.
    fn anchor_units(&self, r: &RuleEntry) -> usize {
        let at = to_usize(r.first_condition).saturating_add(usize::from(r.anchor));
        let Some(c) = self.content.condition(at) else { return 0 };
        let op = Operator::from_code(c.op);
        if matches!(op, Some(Operator::StartsWith | Operator::EndsWith)) {
            usize::try_from(c.string_ref().1).unwrap_or(0)
        } else {
            0
        }
    }

    /// R(r): a rule evaluated in full.
    fn rule(&self, r: &RuleEntry, def: &KindDef) -> u64 {
        let first = to_usize(r.first_condition);
        let mut units = 0u64;
        for i in 0..usize::from(r.condition_count) {
            let Some(c) = first.checked_add(i).and_then(|at| self.content.condition(at)) else { break };
            let n = def.field(c.field).map_or(0, |f| u64::from(f.max_units));
            let m = u64::from(c.string_ref().1);
            let matching = match (FieldType::from_code(c.ty), Operator::from_code(c.op)) {
                (Some(FieldType::Str), Some(Operator::Contains)) => contains_cost(n, m),
                (Some(FieldType::Str), Some(_)) => m,
                _ => 0,
            };
            units = units.saturating_add(1).saturating_add(matching);
        }
        units
    }
}

fn count(lengths: &anchor::Lengths) -> u64 {
    lengths.iter().map(|w| u64::from(w.count_ones())).sum()
}

fn to_usize(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// The validator's check: the content's worst case, or where it went over
/// `budget`; `tables` are the byte offsets of the group and rule tables.
pub(crate) fn check(
    content: &Content<'_>,
    schema: &Schema,
    budget: u64,
    tables: [usize; 2],
) -> Result<u64, ValidationError> {
    let [groups_at, rules_at] = tables;
    Tally { content, schema, budget, groups_at, rules_at }.content()
}

impl Content<'_> {
    /// The most work units evaluating one event of any kind can cost, for a
    /// sensor that supplies `schema`: what the validator held against
    /// [`MAX_EVALUATION_COST`](crate::MAX_EVALUATION_COST).
    pub fn worst_case_cost(&self, schema: &Schema) -> u64 {
        check(self, schema, u64::MAX, [0, 0]).unwrap_or(u64::MAX)
    }
}
