//! Rules → bytes: resolve each rule against the schema, choose its anchor,
//! lay out groups, index order, conditions and the string pool, then checksum.

use super::{CompileError, CompileErrorKind, RuleSpec, SpecValue};
use crate::anchor::{self, AnchorClass};
use crate::checksum::content_checksum;
use crate::error::Limit;
use crate::format::{self, condition, group, header, rule, section};
use ringfence_wire::{FieldType, Schema, Text};
use std::collections::HashMap;
use std::string::String;
use std::vec::Vec;

struct Resolved {
    id: u32,
    kind: u16,
    action: u8,
    name: (u32, u16),
    conditions: Vec<[u8; condition::LEN]>,
    /// Anchor condition index, key, class and pattern length.
    anchor: Option<(u8, u64, AnchorClass, usize)>,
}

/// Appends strings to the pool once each.
#[derive(Default)]
struct Pool {
    units: Vec<u16>,
    seen: HashMap<Vec<u16>, u32>,
}

impl Pool {
    fn add(&mut self, s: &[u16]) -> u32 {
        if let Some(&at) = self.seen.get(s) {
            return at;
        }
        let at = u32::try_from(self.units.len()).unwrap_or(u32::MAX);
        self.units.extend_from_slice(s);
        self.seen.insert(s.to_vec(), at);
        at
    }
}

/// How well an anchor narrows the search: whole strings first, then the
/// longest prefix or suffix, integers (often a handful of values) last.
fn selectivity(class: AnchorClass, units: usize) -> usize {
    match class {
        AnchorClass::Whole => 10_000,
        AnchorClass::Prefix | AnchorClass::Suffix => units.saturating_mul(10),
        AnchorClass::Integer => 35,
    }
}

fn limit(line: usize, rule: Option<(usize, String)>, limit: Limit, found: usize, max: usize) -> CompileError {
    CompileError::new(line, rule, CompileErrorKind::LimitExceeded { limit, found, max })
}

pub(super) fn emit(
    rules: &[RuleSpec],
    lines: &[usize],
    version: u32,
    schema: &Schema,
    indexed: bool,
) -> Result<Vec<u8>, CompileError> {
    if rules.len() > format::MAX_RULES {
        return Err(limit(0, None, Limit::Rules, rules.len(), format::MAX_RULES));
    }
    let mut pool = Pool::default();
    let mut resolved = Vec::with_capacity(rules.len());
    let mut total_conditions = 0usize;
    for (index, spec) in rules.iter().enumerate() {
        let line = lines.get(index).copied().unwrap_or(0);
        let who = || Some((index, spec.name.clone()));
        let fail = |kind| CompileError::new(line, who(), kind);
        let def = schema
            .kind(spec.kind)
            .ok_or_else(|| fail(CompileErrorKind::UnknownKind { name: spec.kind.name().into() }))?;
        if !def.activity {
            return Err(fail(CompileErrorKind::KindNotFilterable { kind: spec.kind }));
        }
        let name: Vec<u16> = spec.name.encode_utf16().collect();
        if name.len() > format::MAX_RULE_NAME_UNITS {
            return Err(limit(line, who(), Limit::RuleNameUnits, name.len(), format::MAX_RULE_NAME_UNITS));
        }
        if spec.conditions.len() > format::MAX_CONDITIONS_PER_RULE {
            let n = spec.conditions.len();
            return Err(limit(line, who(), Limit::ConditionsPerRule, n, format::MAX_CONDITIONS_PER_RULE));
        }
        total_conditions = total_conditions.saturating_add(spec.conditions.len());
        if total_conditions > format::MAX_CONDITIONS {
            return Err(limit(line, who(), Limit::Conditions, total_conditions, format::MAX_CONDITIONS));
        }
        let mut conditions = Vec::with_capacity(spec.conditions.len());
        let mut best: Option<(usize, u8, u64, AnchorClass, usize)> = None;
        for (n, c) in spec.conditions.iter().enumerate() {
            let field = def.field(c.field).ok_or_else(|| {
                fail(CompileErrorKind::FieldOutOfRange {
                    kind: spec.kind,
                    field: c.field,
                    supplied: def.field_count(),
                })
            })?;
            if !field.matchable {
                return Err(fail(CompileErrorKind::FieldNotMatchable { field: field.name }));
            }
            if !c.operator.fits(field.ty) {
                return Err(fail(CompileErrorKind::OperatorMismatch {
                    field: field.name,
                    operator: c.operator,
                    ty: field.ty,
                }));
            }
            if c.case_insensitive && field.ty != FieldType::Str {
                return Err(fail(CompileErrorKind::CaseOnNonString { field: field.name }));
            }
            let mismatch = || fail(CompileErrorKind::ValueType { field: field.name, expected: field.ty });
            let (value, pattern): (u64, &[u16]) = match (&c.value, field.ty) {
                (SpecValue::Str(s), FieldType::Str) => {
                    if s.len() > format::MAX_PATTERN_UNITS {
                        return Err(limit(
                            line,
                            who(),
                            Limit::PatternUnits,
                            s.len(),
                            format::MAX_PATTERN_UNITS,
                        ));
                    }
                    let at = pool.add(s);
                    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
                    (u64::from(at) | (u64::from(len) << 32), s.as_slice())
                }
                (SpecValue::Bool(b), FieldType::Bool) => (u64::from(*b), &[]),
                (SpecValue::Integer(v), FieldType::U32) => {
                    if *v > u64::from(u32::MAX) {
                        return Err(fail(CompileErrorKind::ValueOutOfRange { field: field.name }));
                    }
                    (*v, &[])
                }
                (SpecValue::Integer(v), FieldType::U64 | FieldType::Time) => (*v, &[]),
                _ => return Err(mismatch()),
            };
            let mut flags = 0u8;
            if c.negated {
                flags |= condition::NEGATE;
            }
            if c.case_insensitive {
                flags |= condition::CASE_INSENSITIVE;
            }
            let mut entry = [0u8; condition::LEN];
            entry[condition::FIELD] = c.field;
            entry[condition::FIELD_TYPE] = field.ty as u8;
            entry[condition::OPERATOR] = c.operator.code();
            entry[condition::FLAGS] = flags;
            entry[condition::VALUE..condition::VALUE + 8].copy_from_slice(&value.to_le_bytes());
            conditions.push(entry);
            if let Some(class) = AnchorClass::of(c.operator, field.ty, c.negated, pattern.len()) {
                let key = anchor::condition_key(c.field, class, Text::wide(pattern), value);
                let score = selectivity(class, pattern.len());
                if best.is_none_or(|b| score > b.0) {
                    best =
                        Some((score, u8::try_from(n).unwrap_or(rule::NO_ANCHOR), key, class, pattern.len()));
                }
            }
        }
        let name_at = pool.add(&name);
        resolved.push(Resolved {
            id: u32::try_from(index).unwrap_or(u32::MAX),
            kind: spec.kind.code(),
            action: spec.action.code(),
            name: (name_at, u16::try_from(name.len()).unwrap_or(u16::MAX)),
            conditions,
            anchor: best.filter(|_| indexed).map(|(_, at, key, class, units)| (at, key, class, units)),
        });
    }
    let pool_bytes = pool.units.len().saturating_mul(2);
    if pool_bytes > format::MAX_STRING_POOL_BYTES {
        return Err(limit(0, None, Limit::StringBytes, pool_bytes, format::MAX_STRING_POOL_BYTES));
    }
    // Table order: by group, anchored rules by (key, id), then unanchored ones by id.
    resolved.sort_by_key(|r| (r.kind, r.action, r.anchor.is_none(), r.anchor.map_or(0, |a| a.1), r.id));
    let bytes = layout(&resolved, &pool.units, version, schema.version);
    if bytes.len() > format::MAX_CONTENT_BYTES {
        return Err(limit(0, None, Limit::TotalBytes, bytes.len(), format::MAX_CONTENT_BYTES));
    }
    Ok(bytes)
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

fn layout(rules: &[Resolved], pool: &[u16], version: u32, schema_version: u16) -> Vec<u8> {
    let mut groups: Vec<[u8; group::LEN]> = Vec::new();
    let mut i = 0;
    while i < rules.len() {
        let (kind, action) = (rules[i].kind, rules[i].action);
        let start = i;
        let (mut anchored, mut mask, mut max_field) = (0u32, 0u64, 0u8);
        let (mut prefix, mut suffix) = ([0u64; 4], [0u64; 4]);
        while i < rules.len() && rules[i].kind == kind && rules[i].action == action {
            if let Some((_, key, class, units)) = rules[i].anchor {
                anchored += 1;
                let (field, code) = anchor::key_parts(key);
                mask |= anchor::mask_bit(field, code);
                max_field = max_field.max(field);
                match class {
                    AnchorClass::Prefix => anchor::set_length(&mut prefix, units),
                    AnchorClass::Suffix => anchor::set_length(&mut suffix, units),
                    AnchorClass::Integer | AnchorClass::Whole => {}
                }
            }
            i += 1;
        }
        let mut g = [0u8; group::LEN];
        put(&mut g, group::KIND, &kind.to_le_bytes());
        g[group::ACTION] = action;
        g[group::MAX_FIELD] = max_field;
        put(&mut g, group::FIRST_RULE, &(start as u32).to_le_bytes());
        put(&mut g, group::ANCHORED, &anchored.to_le_bytes());
        put(&mut g, group::UNANCHORED, &((i - start) as u32 - anchored).to_le_bytes());
        put(&mut g, group::ANCHOR_MASK, &mask.to_le_bytes());
        for (i, (p, s)) in prefix.iter().zip(&suffix).enumerate() {
            put(&mut g, group::PREFIX_LENGTHS + 8 * i, &p.to_le_bytes());
            put(&mut g, group::SUFFIX_LENGTHS + 8 * i, &s.to_le_bytes());
        }
        groups.push(g);
    }
    let mut rule_table = Vec::with_capacity(rules.len() * rule::LEN);
    let mut condition_table = Vec::new();
    let mut next_condition = 0u32;
    for r in rules {
        let mut e = [0u8; rule::LEN];
        put(&mut e, rule::ID, &r.id.to_le_bytes());
        put(&mut e, rule::FIRST_CONDITION, &next_condition.to_le_bytes());
        put(&mut e, rule::NAME_OFFSET, &r.name.0.to_le_bytes());
        put(&mut e, rule::NAME_LEN, &r.name.1.to_le_bytes());
        e[rule::CONDITION_COUNT] = r.conditions.len() as u8;
        let (anchor_at, key) = r.anchor.map_or((rule::NO_ANCHOR, 0), |a| (a.0, a.1));
        e[rule::ANCHOR] = anchor_at;
        put(&mut e, rule::KEY, &key.to_le_bytes());
        rule_table.extend_from_slice(&e);
        for c in &r.conditions {
            condition_table.extend_from_slice(c);
        }
        next_condition += r.conditions.len() as u32;
    }
    let strings: Vec<u8> = pool.iter().flat_map(|u| u.to_le_bytes()).collect();
    let group_table: Vec<u8> = groups.concat();
    let sections: [(u16, &[u8]); section::COUNT] = [
        (section::GROUPS, &group_table),
        (section::RULES, &rule_table),
        (section::CONDITIONS, &condition_table),
        (section::STRINGS, &strings),
    ];
    let total = section::FIRST_OFFSET + sections.iter().map(|s| s.1.len()).sum::<usize>();
    let mut out = std::vec![0u8; section::FIRST_OFFSET];
    put(&mut out, header::MAGIC, &format::MAGIC);
    put(&mut out, header::FORMAT_VERSION, &format::FORMAT_VERSION.to_le_bytes());
    put(&mut out, header::SCHEMA_VERSION, &schema_version.to_le_bytes());
    put(&mut out, header::CONTENT_VERSION, &version.to_le_bytes());
    put(&mut out, header::TOTAL_LEN, &(total as u32).to_le_bytes());
    put(&mut out, header::SECTION_COUNT, &(section::COUNT as u16).to_le_bytes());
    let mut offset = section::FIRST_OFFSET;
    for (index, (id, body)) in sections.iter().enumerate() {
        let at = header::LEN + index * section::ENTRY_LEN;
        put(&mut out, at + section::ID, &id.to_le_bytes());
        put(&mut out, at + section::OFFSET, &(offset as u32).to_le_bytes());
        put(&mut out, at + section::LEN, &(body.len() as u32).to_le_bytes());
        offset += body.len();
    }
    for (_, body) in sections {
        out.extend_from_slice(body);
    }
    let checksum = content_checksum(&out);
    put(&mut out, header::CHECKSUM, &checksum.to_le_bytes());
    out
}
