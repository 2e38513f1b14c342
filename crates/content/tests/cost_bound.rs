//! No content may hang the machine. An event's evaluation costs at most the
//! content's worst case (`Content::worst_case_cost`), the validator refuses
//! content whose worst case is over `MAX_EVALUATION_COST`, and bytes nobody
//! validated are cut off at that budget. Work is counted in the units the
//! interpreter's `Meter` counts (no timing here: the benchmarks time it).

mod common;

use common::*;
use ringfence_content::format::{condition, group, rule, section};
use ringfence_content::{
    Action, ConditionSpec, Content, EVENT_WORK_LIMIT, ErrorKind, MAX_CONDITIONS_PER_RULE,
    MAX_EVALUATION_COST, MAX_PATTERN_UNITS, Meter, Operator, RuleSpec, SpecValue, ValidationError, Verdict,
    compile_rules, contains_cost, evaluate_raw, validate,
};
use ringfence_wire::schema::field::ProcessStart as PS;
use ringfence_wire::schema::limits::UNICODE_STRING_UNITS;
use ringfence_wire::{EventKind, SCHEMA};

const LONGEST: usize = UNICODE_STRING_UNITS as usize;

/// 256 units the first/last-unit filter passes at every position of a run of
/// `a`s, each failing only after 128 compares: `a`×127, `mid`, `a`×128.
fn needle(mid: char) -> Vec<u16> {
    wide(&format!("{}{mid}{}", "a".repeat(127), "a".repeat(128)))
}

/// A command line of the longest length, all `a`s but for `needle('b')` at its end.
fn hostile_command_line() -> Vec<u16> {
    let mut line = vec![u16::from(b'a'); LONGEST - MAX_PATTERN_UNITS];
    line.extend(needle('b'));
    line
}

fn contains(pattern: Vec<u16>) -> ConditionSpec {
    ConditionSpec {
        field: PS::command_line as u8,
        operator: Operator::Contains,
        negated: false,
        case_insensitive: true,
        value: SpecValue::Str(pattern),
    }
}

/// `conditions` command-line `contains` in include rules of at most 16: in
/// each rule every condition but the last holds on the hostile command line
/// and the last fails after a whole scan, so no rule matches and every
/// condition is evaluated.
fn hostile_rules(conditions: usize) -> Vec<RuleSpec> {
    let mut rules = Vec::new();
    let mut left = conditions;
    while left > 0 {
        let n = left.min(MAX_CONDITIONS_PER_RULE);
        let mut conditions: Vec<ConditionSpec> = (1..n).map(|_| contains(needle('b'))).collect();
        conditions.push(contains(needle('c')));
        rules.push(RuleSpec {
            name: format!("hostile {}", rules.len()),
            kind: EventKind::ProcessStart,
            action: Action::Include,
            conditions,
        });
        left -= n;
    }
    rules
}

/// The most hostile conditions the validator accepts, and their compiled content.
fn costliest_accepted() -> (usize, Vec<u8>) {
    let mut accepted = None;
    for conditions in 1.. {
        let bytes = compile_rules(&hostile_rules(conditions), 1, &SCHEMA).unwrap();
        if validate(&bytes, &SCHEMA).is_err() {
            return accepted.unwrap();
        }
        accepted = Some((conditions, bytes));
    }
    unreachable!()
}

#[test]
fn the_costliest_accepted_content_does_no_more_work_than_its_bound() {
    let (conditions, bytes) = costliest_accepted();
    let content = validate(&bytes, &SCHEMA).unwrap();
    let bound = content.worst_case_cost(&SCHEMA);
    assert!(bound <= MAX_EVALUATION_COST);
    // One group, its rules, each condition with the matcher's bound at the longest command line.
    let rules = conditions.div_ceil(MAX_CONDITIONS_PER_RULE) as u64;
    let per_condition = 1 + contains_cost(LONGEST as u64, MAX_PATTERN_UNITS as u64);
    assert_eq!(bound, 1 + rules + conditions as u64 * per_condition);

    let line = hostile_command_line();
    let image = wide(r"\??\C:\Windows\System32\cmd.exe");
    let event = process_start(&image, &line);
    let mut meter = Meter::new(MAX_EVALUATION_COST);
    assert_eq!(content.evaluate_metered(&event, &mut meter), Verdict::Drop, "no rule matches");
    assert!(!meter.exhausted());
    assert!(meter.used() <= bound, "measured {} units, bound {bound}", meter.used());
    // Every condition scanned the whole command line: the bound is not loose by more than 4×.
    assert!(meter.used() * 4 >= bound, "measured {} units, bound {bound}", meter.used());
}

#[test]
fn one_condition_more_than_the_costliest_accepted_content_is_refused_naming_the_rule_and_cost() {
    let (conditions, accepted) = costliest_accepted();
    let accepted_cost = validate(&accepted, &SCHEMA).unwrap().worst_case_cost(&SCHEMA);
    let over = compile_rules(&hostile_rules(conditions + 1), 1, &SCHEMA).unwrap();
    let new_rule = conditions % MAX_CONDITIONS_PER_RULE == 0;
    let last = u32::try_from(conditions / MAX_CONDITIONS_PER_RULE).unwrap();
    let added = 1 + contains_cost(LONGEST as u64, MAX_PATTERN_UNITS as u64) + u64::from(new_rule);
    let cost = u32::try_from(accepted_cost + added).unwrap();
    let budget = u32::try_from(MAX_EVALUATION_COST).unwrap();

    let rules_at = section_start(&over, section::RULES);
    let expected = ValidationError {
        offset: rules_at + last as usize * rule::LEN,
        kind: ErrorKind::CostOverBudget { entry: 0, rule: last, cost, budget },
    };
    let error = validate(&over, &SCHEMA).map(|_| ()).unwrap_err();
    assert_eq!(error, expected);
    let wire = ValidationError::from_wire(error.code(), u32::try_from(error.offset).unwrap(), error.args());
    assert_eq!(wire, Some(error));
    assert_eq!(
        error.to_string(),
        format!(
            "at byte {}: group 0, rule {last}: an event's worst-case evaluation cost reaches {cost} work units, over the budget of {budget}",
            expected.offset
        )
    );
}

/// One include group for process starts with one rule of `count` command-line
/// `contains` conditions on `pattern`, laid out by hand: the validator would
/// refuse it (more than 16 conditions, maybe a pattern over 256 units).
fn unvalidated_rule(count: u8, pattern: &[u16]) -> Vec<u8> {
    let mut groups = vec![0u8; group::LEN];
    set_u16(&mut groups, group::KIND, EventKind::ProcessStart.code());
    groups[group::ACTION] = Action::Include.code();
    set_u32(&mut groups, group::UNANCHORED, 1);
    let name = wide("hostile");
    let mut rules = vec![0u8; rule::LEN];
    set_u32(&mut rules, rule::NAME_OFFSET, u32::try_from(pattern.len()).unwrap());
    set_u16(&mut rules, rule::NAME_LEN, u16::try_from(name.len()).unwrap());
    rules[rule::CONDITION_COUNT] = count;
    rules[rule::ANCHOR] = rule::NO_ANCHOR;
    let mut conditions = Vec::new();
    for _ in 0..count {
        let mut c = vec![0u8; condition::LEN];
        c[condition::FIELD] = PS::command_line as u8;
        c[condition::FIELD_TYPE] = ringfence_wire::FieldType::Str as u8;
        c[condition::OPERATOR] = Operator::Contains.code();
        c[condition::FLAGS] = condition::CASE_INSENSITIVE;
        set_u64(&mut c, condition::VALUE, (pattern.len() as u64) << 32);
        conditions.extend(c);
    }
    let strings: Vec<u8> = pattern.iter().chain(&name).flat_map(|u| u.to_le_bytes()).collect();
    craft(&[
        (section::GROUPS, groups),
        (section::RULES, rules),
        (section::CONDITIONS, conditions),
        (section::STRINGS, strings),
    ])
}

#[test]
fn unvalidated_patterns_over_the_unit_limit_match_nothing_at_once() {
    // Once 50 s per event: 255 conditions × 16,384-unit patterns × a 32,767-unit command line.
    let bytes = unvalidated_rule(255, &vec![u16::from(b'a'); 16_384]);
    assert!(validate(&bytes, &SCHEMA).is_err());
    let line = vec![u16::from(b'a'); LONGEST];
    let image = wide(r"\??\C:\Windows\System32\cmd.exe");
    let event = process_start(&image, &line);
    let mut meter = Meter::new(MAX_EVALUATION_COST);
    let verdict = Content::from_validated(&bytes).evaluate_metered(&event, &mut meter);
    assert_eq!(verdict, Verdict::Drop, "the include rule does not match");
    assert_eq!(meter.used(), 3, "the group, the rule, its first condition");
    assert_eq!(evaluate_raw(&bytes, &event), Verdict::Drop);
}

#[test]
fn unvalidated_work_stops_at_the_budget_and_keeps_the_event() {
    // 255 conditions that each hold after a whole hostile scan: far over the budget.
    let bytes = unvalidated_rule(255, &needle('b'));
    let line = hostile_command_line();
    let image = wide(r"\??\C:\Windows\System32\cmd.exe");
    let event = process_start(&image, &line);
    let mut meter = Meter::new(MAX_EVALUATION_COST);
    let verdict = Content::from_validated(&bytes).evaluate_metered(&event, &mut meter);
    assert_eq!(verdict, untagged(), "an evaluation cut off keeps the event untagged");
    assert!(meter.exhausted());
    let one_condition = 1 + contains_cost(LONGEST as u64, MAX_PATTERN_UNITS as u64);
    assert!(meter.used() <= MAX_EVALUATION_COST + one_condition, "{} units", meter.used());
    assert_eq!(evaluate_raw(&bytes, &event), untagged());

    // In the kernel the per-event limit stops it first, before a search whose bound does not fit.
    let mut limited = Meter::new(EVENT_WORK_LIMIT);
    let verdict = Content::from_validated(&bytes).evaluate_metered(&event, &mut limited);
    assert_eq!(verdict, untagged());
    assert!(limited.exhausted());
    // One search's actual work, from the same rule with one condition, unbounded.
    let mut one = Meter::new(u64::MAX);
    Content::from_validated(&unvalidated_rule(1, &needle('b'))).evaluate_metered(&event, &mut one);
    let search = one.used() - 3;
    let bound = one_condition - 1;
    // The group and the rule; then each condition (one unit) searches while its bound fits, and
    // the first whose bound does not fit is charged the bound without searching.
    let mut expected = 2;
    while expected + 1 + bound <= EVENT_WORK_LIMIT {
        expected += 1 + search;
    }
    expected += 1 + bound;
    assert_eq!(limited.used(), expected);
    assert!(expected - bound <= EVENT_WORK_LIMIT, "the work done is within the limit");

    // With room for all of it, the same rule matches: the cut-off changed the verdict, nothing else did.
    let mut unbounded = Meter::new(u64::MAX);
    let verdict = Content::from_validated(&bytes).evaluate_metered(&event, &mut unbounded);
    assert_eq!(verdict, kept(&wide("hostile")));
    assert!(unbounded.used() > MAX_EVALUATION_COST);
}
