//! The worst-case cost of evaluating one event, in the [`crate::Meter`]'s work units,
//! as a function of the content's tables and the schema's maximum field
//! lengths. For an event of kind K, with `L(f)` the longest value field f may
//! have (its `max_units`; 20 digits for an integer) and `W` = 4 ⌈patterns/64⌉
//! scratch words:
//!
//! In interpreter steps, each charged [`FORMAT2_STEP`] meter units:
//!
//! ```text
//! cost(K) = W + scanners + always + 2 ⌈rules/64⌉ + rules
//!         + Σ scanners s of K:   SCAN_UNIT · L(field s) + patterns(s) + SCAN_FIXED
//!                                + ⌈patterns(s)/64⌉ + 1 + refs(s)
//!         + Σ rules r of K:      code_len(r) + Σ PRED i in r's code:
//!                                    1 + values(i) · (VALUE_STEPS + [glob] (GLOB_UNIT · L(field i) + 1)
//!                                                       + [regex] (REGEX_UNIT · L(field i) + 1))
//! ```
//!
//! (`refs(s)`: the rule references of s's patterns, each visited at most once
//! when the candidates are collected; every rule of K is charged as if it
//! were a candidate.)
//!
//! Why the per-unit constants bound the interpreter's charges ([`super::automaton`]):
//! a unit's class costs 1 + a binary search of ≤ 14 steps (≤ 4,096 + 128
//! entries); goto look-ups are at most one per unit plus one per failure step,
//! failure steps at most one per unit, each look-up ≤ 14 steps: ≤ 28 per unit;
//! a failure step 1; dictionary-chain steps ≤ units + patterns + 1; the
//! suffix chain ≤ the final depth + 1 ≤ units + 1. Hence SCAN_UNIT = 48. A
//! glob unit costs 1 + a search of ≤ 7 steps among ≤ 63 entries: GLOB_UNIT = 8.
//!
//! A gated glob or regex value whose gate the scan did not find (format.rs,
//! "Gated globs and regular expressions") is charged its value steps alone:
//! less than the function above, which charges every value as run, plus one
//! step for each of its gates after the first (read before the value runs),
//! which the function adds. The gates' patterns are patterns of their
//! scanner, counted with its others.
//!
//! [`MAX_EVALUATION_COST`] is the budget; a content whose worst kind is over it
//! is refused. On unvalidated bytes the same meter stops the evaluation there.

use super::content::{Content, ix};
use super::error::{ErrorKind, Limit, ValidationError};
use super::format::{MAX_EVALUATION_COST, Operator, code, header, section};
use crate::meter::FORMAT2_STEP;
use ringfence_wire::{FieldType, Schema};

pub const SCAN_UNIT: u64 = 48;
/// Steps one value of a predicate is charged: a value visited costs about three times
/// the instructions of a scan step (callgrind, BENCHMARKS.md).
pub const VALUE_STEPS: u64 = 3;
pub const SCAN_FIXED: u64 = 4;
pub const GLOB_UNIT: u64 = 8;
/// A regular expression's automaton per UTF-16 unit: at most three UTF-8 bytes
/// (a surrogate pair, two units, is four), each one class read and one cell
/// read, charged as one (see [`super::regex`]).
pub const REGEX_UNIT: u64 = 3;
/// The length charged for a field without `max_units` (an integer).
const INTEGER_UNITS: u64 = 20;

fn field_units(schema: &Schema, kind: u16, field: u8) -> u64 {
    let def = schema.kind_by_code(kind).and_then(|k| k.resolve(field));
    match def {
        Some(d) if d.ty == FieldType::Str => u64::from(d.max_units),
        Some(_) => INTEGER_UNITS,
        None => 0,
    }
}

/// The worst-case cost of an event of kind `kind` (validated content), in meter
/// units: the steps counted below, each `FORMAT2_STEP` = 2 units.
pub fn worst_case(content: &Content<'_>, schema: &Schema, kind: u16) -> u64 {
    worst_case_steps(content, schema, kind).saturating_mul(FORMAT2_STEP)
}

/// The worst-case cost of an event of kind `kind` in interpreter steps.
fn worst_case_steps(content: &Content<'_>, schema: &Schema, kind: u16) -> u64 {
    let rule_words = content.rule_count().div_ceil(64) as u64;
    let mut cost = (content.scratch_words() as u64)
        .saturating_add(content.count(section::SCANNERS) as u64)
        .saturating_add(content.count(section::ALWAYS) as u64)
        .saturating_add(rule_words.saturating_mul(2))
        .saturating_add(content.rule_count() as u64);
    for index in 0..content.count(section::SCANNERS) {
        let Some(s) = content.scanner(index) else { break };
        if s.kind != kind {
            continue;
        }
        let units = field_units(schema, kind, s.field);
        let mut refs = 0u64;
        for local in 0..s.pattern_count {
            let (_, count) =
                content.pattern_refs(ix(s.first_pattern.saturating_add(local))).unwrap_or((0, 0));
            refs = refs.saturating_add(count.into());
        }
        cost = cost
            .saturating_add(SCAN_UNIT.saturating_mul(units))
            .saturating_add(s.pattern_count.into())
            .saturating_add(SCAN_FIXED)
            .saturating_add(s.pattern_count.div_ceil(64).into())
            .saturating_add(1)
            .saturating_add(refs);
    }
    for index in 0..content.rule_count() {
        let Some(r) = content.rule(index) else { break };
        if r.kind != kind {
            continue;
        }
        cost = cost.saturating_add(r.code_len.into());
        for at in 0..r.code_len {
            let Some((op, arg)) = content.instruction(ix(r.first_code.saturating_add(at))) else { break };
            if op != code::PRED {
                continue;
            }
            let Some(p) = content.predicate(ix(r.first_predicate.saturating_add(arg.into()))) else {
                continue;
            };
            let per_value = if p.operator == Operator::Glob.code() {
                GLOB_UNIT.saturating_mul(field_units(schema, kind, p.field)).saturating_add(1 + VALUE_STEPS)
            } else if p.operator == Operator::Regex.code() {
                REGEX_UNIT.saturating_mul(field_units(schema, kind, p.field)).saturating_add(1 + VALUE_STEPS)
            } else {
                VALUE_STEPS
            };
            cost = cost
                .saturating_add(1)
                .saturating_add(per_value.saturating_mul(p.value_count.into()))
                .saturating_add(super::gate::extra_gate_steps(content, &p));
        }
    }
    cost
}

/// The worst case over every kind the schema has.
pub fn worst_case_any_kind(content: &Content<'_>, schema: &Schema) -> u64 {
    schema.kinds.iter().map(|k| worst_case(content, schema, k.kind.code())).max().unwrap_or(0)
}

pub(crate) fn check(content: &Content<'_>, schema: &Schema) -> Result<(), ValidationError> {
    let found = worst_case_any_kind(content, schema);
    if found > MAX_EVALUATION_COST {
        let kind = ErrorKind::LimitExceeded { limit: Limit::EvaluationCost, found, max: MAX_EVALUATION_COST };
        return Err(ValidationError::at(header::LEN, kind));
    }
    Ok(())
}
