//! The walk over groups, rules and conditions: every entry, string and index
//! key checked against the schema, the limits and the entries before it.

use super::{Offsets, Result, err, small};
use crate::anchor::{self, AnchorClass};
use crate::error::{ErrorKind, Limit, NAME, ValidationError};
use crate::format::{self, Action, Operator, condition, group, rule, section};
use crate::view::{Content, GroupEntry, RuleEntry};
use ringfence_wire::{FieldType, KindDef, Schema, Text};

/// What a group's anchored rules say its index entry must hold.
#[derive(Debug, Default, PartialEq, Eq)]
struct GroupIndex {
    mask: u64,
    max_field: u8,
    prefix: anchor::Lengths,
    suffix: anchor::Lengths,
}

const MAX_RULES_WORDS: usize = format::MAX_RULES / 64;

/// State of the walk over groups, rules and conditions.
pub(super) struct Walk<'a, 's> {
    content: Content<'a>,
    offsets: Offsets,
    schema: &'s Schema,
    /// Rule ids seen so far (ids are below MAX_RULES, checked before use).
    ids: [u64; MAX_RULES_WORDS],
    next_rule: usize,
    next_condition: usize,
}

impl<'a, 's> Walk<'a, 's> {
    pub(super) fn new(content: Content<'a>, offsets: Offsets, schema: &'s Schema) -> Self {
        Walk { content, offsets, schema, ids: [0; MAX_RULES_WORDS], next_rule: 0, next_condition: 0 }
    }

    pub(super) fn section_start(&self, id: u16) -> usize {
        self.offsets.get(usize::from(id).saturating_sub(1)).copied().unwrap_or(0)
    }

    pub(super) fn groups(&mut self) -> Result<()> {
        let base = self.section_start(section::GROUPS);
        let rules = self.content.rule_count();
        let mut previous: Option<(u16, u8)> = None;
        for index in 0..self.content.group_count() {
            let at = base.saturating_add(index.saturating_mul(group::LEN));
            let Some(g) = self.content.group(index) else { break };
            let entry = small(index);
            let Some(def) = self.schema.kind_by_code(g.kind) else {
                return err(at, ErrorKind::UnknownKind { entry, code: g.kind });
            };
            if !def.activity {
                return err(at, ErrorKind::KindNotFilterable { entry, code: g.kind });
            }
            if Action::from_code(g.action).is_none() {
                return err(
                    at.saturating_add(group::ACTION),
                    ErrorKind::UnknownAction { entry, code: g.action },
                );
            }
            let this = (g.kind, g.action);
            if previous == Some(this) {
                return err(at, ErrorKind::DuplicateGroup { entry, code: g.kind, action: g.action });
            }
            if previous.is_some_and(|p| p > this) {
                return err(at, ErrorKind::GroupOrder { entry });
            }
            previous = Some(this);
            if g.first_rule as usize != self.next_rule {
                let expected = small(self.next_rule);
                return err(
                    at.saturating_add(group::FIRST_RULE),
                    ErrorKind::GroupMisplaced { entry, first_rule: g.first_rule, expected },
                );
            }
            let end = u64::from(g.first_rule)
                .saturating_add(u64::from(g.anchored))
                .saturating_add(u64::from(g.unanchored));
            if end > rules as u64 {
                return err(
                    at.saturating_add(group::ANCHORED),
                    ErrorKind::GroupOutOfBounds { entry, end, rules: small(rules) },
                );
            }
            if g.anchored == 0 && g.unanchored == 0 {
                return err(at.saturating_add(group::ANCHORED), ErrorKind::EmptyGroup { entry });
            }
            let index = self.group_rules(&g, def)?;
            let stored = GroupIndex {
                mask: g.mask,
                max_field: g.max_field,
                prefix: g.prefix_lengths,
                suffix: g.suffix_lengths,
            };
            if index != stored {
                return err(at.saturating_add(group::ANCHOR_MASK), ErrorKind::AnchorMaskMismatch { entry });
            }
        }
        if self.next_rule != rules {
            let at =
                self.section_start(section::RULES).saturating_add(self.next_rule.saturating_mul(rule::LEN));
            return err(
                at,
                ErrorKind::RulesUnclaimed { claimed: small(self.next_rule), rules: small(rules) },
            );
        }
        let conditions = self.content.condition_count();
        if self.next_condition != conditions {
            let at = self
                .section_start(section::CONDITIONS)
                .saturating_add(self.next_condition.saturating_mul(condition::LEN));
            return err(
                at,
                ErrorKind::ConditionsUnclaimed {
                    claimed: small(self.next_condition),
                    conditions: small(conditions),
                },
            );
        }
        Ok(())
    }

    /// Checks a group's rules and its index order; returns the anchor mask and
    /// highest anchored field they produce.
    fn group_rules(&mut self, g: &GroupEntry, def: &KindDef) -> Result<GroupIndex> {
        let mut index = GroupIndex::default();
        let mut previous: Option<(u64, u32)> = None;
        for _ in 0..g.anchored {
            let (at, r) = self.rule(def)?;
            let (class, units) = self.anchor_class(at, &r)?;
            let key = self.anchor_key(&r, class);
            if key != Some(r.key) {
                return err(at.saturating_add(rule::KEY), ErrorKind::IndexKeyMismatch { rule: r.id });
            }
            if previous.is_some_and(|p| p >= (r.key, r.id)) {
                return err(at, ErrorKind::IndexNotSorted { rule: r.id });
            }
            previous = Some((r.key, r.id));
            let (field, code) = anchor::key_parts(r.key);
            index.mask |= anchor::mask_bit(field, code);
            index.max_field = index.max_field.max(field);
            match class {
                AnchorClass::Prefix => anchor::set_length(&mut index.prefix, units),
                AnchorClass::Suffix => anchor::set_length(&mut index.suffix, units),
                AnchorClass::Integer | AnchorClass::Whole => {}
            }
        }
        let mut previous: Option<u32> = None;
        for _ in 0..g.unanchored {
            let (at, r) = self.rule(def)?;
            if r.anchor != rule::NO_ANCHOR {
                return err(
                    at.saturating_add(rule::ANCHOR),
                    ErrorKind::BadAnchor { rule: r.id, anchor: r.anchor },
                );
            }
            if r.key != 0 {
                return err(
                    at.saturating_add(rule::KEY),
                    ErrorKind::KeyWithoutAnchor { rule: r.id, key: r.key },
                );
            }
            if previous.is_some_and(|p| p >= r.id) {
                return err(at, ErrorKind::IndexNotSorted { rule: r.id });
            }
            previous = Some(r.id);
        }
        Ok(index)
    }

    /// The anchor's class, or an error when the anchor cannot index the rule.
    fn anchor_class(&self, at: usize, r: &RuleEntry) -> Result<(AnchorClass, usize)> {
        let bad = || {
            ValidationError::at(
                at.saturating_add(rule::ANCHOR),
                ErrorKind::BadAnchor { rule: r.id, anchor: r.anchor },
            )
        };
        if r.anchor >= r.condition_count {
            return Err(bad());
        }
        let index = (r.first_condition as usize).saturating_add(usize::from(r.anchor));
        let c = self.content.condition(index).ok_or_else(bad)?;
        let op = Operator::from_code(c.op).ok_or_else(bad)?;
        let ty = FieldType::from_code(c.ty).ok_or_else(bad)?;
        let units = c.string_ref().1 as usize;
        let class = AnchorClass::of(op, ty, c.flags & condition::NEGATE != 0, units).ok_or_else(bad)?;
        Ok((class, units))
    }

    fn anchor_key(&self, r: &RuleEntry, class: AnchorClass) -> Option<u64> {
        let index = (r.first_condition as usize).saturating_add(usize::from(r.anchor));
        let c = self.content.condition(index)?;
        let pattern = if class == AnchorClass::Integer {
            Text::default()
        } else {
            let (offset, len) = c.string_ref();
            self.content.string(offset, len)?
        };
        Some(anchor::condition_key(c.field, class, pattern, c.value))
    }

    /// Checks the next rule entry and its conditions; returns its offset and entry.
    fn rule(&mut self, def: &KindDef) -> Result<(usize, RuleEntry)> {
        let index = self.next_rule;
        let at = self.section_start(section::RULES).saturating_add(index.saturating_mul(rule::LEN));
        let rules = self.content.rule_count();
        let Some(r) = self.content.rule(index) else {
            return err(at, ErrorKind::RulesUnclaimed { claimed: small(index), rules: small(rules) });
        };
        self.next_rule = index.saturating_add(1);
        let entry = small(index);
        if r.id as usize >= rules {
            return err(at, ErrorKind::RuleIdOutOfRange { entry, id: r.id, rules: small(rules) });
        }
        let word = self.ids.get_mut((r.id / 64) as usize);
        let bit = 1u64 << (r.id % 64);
        match word {
            Some(w) if *w & bit == 0 => *w |= bit,
            _ => return err(at, ErrorKind::DuplicateRuleId { entry, id: r.id }),
        }
        let id = r.id;
        if usize::from(r.name_len) > format::MAX_RULE_NAME_UNITS {
            let max = small(format::MAX_RULE_NAME_UNITS);
            return err(
                at.saturating_add(rule::NAME_LEN),
                ErrorKind::LimitExceeded { limit: Limit::RuleNameUnits, found: r.name_len.into(), max },
            );
        }
        self.check_string(at.saturating_add(rule::NAME_OFFSET), id, NAME, r.name_offset, r.name_len.into())?;
        if usize::from(r.condition_count) > format::MAX_CONDITIONS_PER_RULE {
            let max = small(format::MAX_CONDITIONS_PER_RULE);
            return err(
                at.saturating_add(rule::CONDITION_COUNT),
                ErrorKind::LimitExceeded {
                    limit: Limit::ConditionsPerRule,
                    found: r.condition_count.into(),
                    max,
                },
            );
        }
        if r.first_condition as usize != self.next_condition {
            let expected = small(self.next_condition);
            return err(
                at.saturating_add(rule::FIRST_CONDITION),
                ErrorKind::ConditionsMisplaced { rule: id, first: r.first_condition, expected },
            );
        }
        let conditions = self.content.condition_count();
        let end = u64::from(r.first_condition).saturating_add(u64::from(r.condition_count));
        if end > conditions as u64 {
            return err(
                at.saturating_add(rule::CONDITION_COUNT),
                ErrorKind::ConditionsOutOfBounds { rule: id, end, conditions: small(conditions) },
            );
        }
        for n in 0..r.condition_count {
            self.condition(id, u32::from(n), def)?;
        }
        Ok((at, r))
    }

    fn condition(&mut self, rule: u32, n: u32, def: &KindDef) -> Result<()> {
        let index = self.next_condition;
        self.next_condition = index.saturating_add(1);
        let at = self.section_start(section::CONDITIONS).saturating_add(index.saturating_mul(condition::LEN));
        let Some(c) = self.content.condition(index) else {
            let conditions = small(self.content.condition_count());
            return err(at, ErrorKind::ConditionsOutOfBounds { rule, end: index as u64, conditions });
        };
        if c.reserved != 0 {
            return err(at.saturating_add(condition::RESERVED), ErrorKind::NonZeroReserved);
        }
        let Some(op) = Operator::from_code(c.op) else {
            return err(
                at.saturating_add(condition::OPERATOR),
                ErrorKind::UnknownOperator { rule, condition: n, code: c.op },
            );
        };
        let Some(ty) = FieldType::from_code(c.ty) else {
            return err(
                at.saturating_add(condition::FIELD_TYPE),
                ErrorKind::UnknownFieldType { rule, condition: n, code: c.ty },
            );
        };
        let Some(field) = def.field(c.field) else {
            let supplied = def.field_count();
            return err(
                at.saturating_add(condition::FIELD),
                ErrorKind::FieldOutOfRange { rule, field: c.field, supplied },
            );
        };
        if !field.matchable {
            return err(
                at.saturating_add(condition::FIELD),
                ErrorKind::FieldNotMatchable { rule, field: c.field },
            );
        }
        if field.ty != ty {
            return err(
                at.saturating_add(condition::FIELD_TYPE),
                ErrorKind::TypeMismatch { rule, field: c.field, content: c.ty, schema: field.ty as u8 },
            );
        }
        if !op.fits(ty) {
            return err(
                at.saturating_add(condition::OPERATOR),
                ErrorKind::OperatorMismatch { rule, condition: n, operator: c.op, field_type: c.ty },
            );
        }
        let unknown_flags = c.flags & !condition::KNOWN_FLAGS != 0;
        let case_on_scalar = c.flags & condition::CASE_INSENSITIVE != 0 && ty != FieldType::Str;
        if unknown_flags || case_on_scalar {
            return err(
                at.saturating_add(condition::FLAGS),
                ErrorKind::BadFlags { rule, condition: n, flags: c.flags },
            );
        }
        let value_at = at.saturating_add(condition::VALUE);
        let in_range = match ty {
            FieldType::U32 => c.value <= u64::from(u32::MAX),
            FieldType::Bool => c.value <= 1,
            FieldType::U64 | FieldType::Time => true,
            // A verdict field, refused as not matchable before this.
            FieldType::Ids => false,
            FieldType::Str => {
                let (offset, len) = c.string_ref();
                if len as usize > format::MAX_PATTERN_UNITS {
                    let max = small(format::MAX_PATTERN_UNITS);
                    return err(
                        value_at,
                        ErrorKind::LimitExceeded { limit: Limit::PatternUnits, found: len, max },
                    );
                }
                self.check_string(value_at, rule, n, offset, len)?;
                true
            }
        };
        if !in_range {
            return err(value_at, ErrorKind::ValueOutOfRange { rule, condition: n });
        }
        Ok(())
    }

    fn check_string(&self, at: usize, rule: u32, condition: u32, offset: u32, len: u32) -> Result<()> {
        let Some(end) = offset.checked_add(len) else {
            return err(at, ErrorKind::StringLengthOverflow { rule, condition });
        };
        let pool = small(self.content.strings.len() / 2);
        if end > pool {
            return err(at, ErrorKind::StringOutOfBounds { rule, condition, end, pool });
        }
        Ok(())
    }
}
