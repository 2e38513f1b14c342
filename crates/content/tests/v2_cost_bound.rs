//! Format 2's cost model is an upper bound: adversarial content evaluated on
//! maximum-length fields does no more work than [`cost::worst_case`] says,
//! whatever path the evaluation takes (every rule a candidate, fields
//! unknown, globs that never die).

#![allow(clippy::cast_possible_truncation)]

mod v2_common;

use ringfence_content::v2::build::{ExprSpec, GlobPart, OperatorSpec, PredicateSpec, RuleSpec, ValueSpec};
use ringfence_content::v2::{self, Content, RuleIds, cost, validate};
use ringfence_content::{CHECK_EVERY, Deadline, EVENT_WORK_LIMIT, FIRST_CHECK, Meter};
use ringfence_wire::SCHEMA;
use std::cell::Cell;
use v2_common::*;

const PARENT_COMMAND_LINE: u8 = 13;

/// Runs of `a` that keep the automata deep on a text of `a`s, in both case
/// modes, on each string field; an `endswith` per field; globs that never
/// die; a rule per field that every found pattern makes a candidate; a
/// companion-field rule (unknown in the kernel).
fn adversarial(globs: usize) -> Vec<RuleSpec> {
    let mut rules = Vec::new();
    let mut id = 0;
    for field in [IMAGE, COMMAND_LINE, PARENT_IMAGE, PARENT_COMMAND_LINE, ORIGINAL_FILE_NAME] {
        for case in [true, false] {
            let values: Vec<String> =
                (1..=40).flat_map(|k| ["a".repeat(k * 8), format!("{}b", "a".repeat(k * 8))]).collect();
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            let mut contains = predicate(field, OperatorSpec::Contains, &values);
            contains.case_insensitive = case;
            let mut ends = predicate(field, OperatorSpec::EndsWith, &["a", "aa", "aaa"]);
            ends.case_insensitive = case;
            let mut rule = detection(id, vec![contains, ends]);
            rule.condition = ExprSpec::Any(vec![ExprSpec::Predicate(0), ExprSpec::Predicate(1)]);
            rules.push(rule);
            id += 1;
        }
    }
    let glob = || {
        let mut parts = vec![];
        for _ in 0..31 {
            parts.push(GlobPart::AnyRun);
            parts.push(GlobPart::Literal("a".into()));
        }
        parts.push(GlobPart::Literal("b".into()));
        PredicateSpec {
            field: COMMAND_LINE,
            operator: OperatorSpec::Glob,
            values: vec![ValueSpec::Glob(parts)],
            all: false,
            case_insensitive: true,
            windash: false,
        }
    };
    let mut globbed = detection(id, (0..globs).map(|_| glob()).collect());
    globbed.condition = ExprSpec::Any((0..globs as u32).map(ExprSpec::Predicate).collect());
    rules.push(globbed);
    rules
}

fn a(n: usize) -> Field {
    Field::Text(vec![u16::from(b'a'); n])
}

/// `a`s ending in a `b`: the globs' gate (`ab`, their longest literal run) is
/// found, so every glob runs over the whole text.
fn a_then_b(n: usize) -> Field {
    let mut units = vec![u16::from(b'a'); n - 1];
    units.push(u16::from(b'b'));
    Field::Text(units)
}

fn work(content: &Content<'_>, event: &TestEvent) -> u64 {
    let mut scratch = vec![0u64; content.scratch_words()];
    let (mut matched, mut undecided) = ([0u32; 64], [0u32; 64]);
    let mut meter = Meter::new(u64::MAX);
    let ids = RuleIds { matched: &mut matched, undecided: &mut undecided };
    content.evaluate_metered(&event, &mut scratch, ids, &mut meter).unwrap();
    meter.used()
}

#[test]
fn adversarial_content_on_maximum_length_fields_stays_within_its_worst_case_cost() {
    let bytes = built(&adversarial(4));
    let content = validate(&bytes, &SCHEMA).unwrap();
    let bound = cost::worst_case(&content, &SCHEMA, 1);
    let longest = TestEvent::start(vec![
        (IMAGE, a(32_767)),
        (COMMAND_LINE, a_then_b(32_767)),
        (PARENT_IMAGE, a(4_096)),
        (PARENT_COMMAND_LINE, a(16_384)),
        (ORIGINAL_FILE_NAME, Field::Unknown),
    ]);
    let used = work(&content, &longest);
    assert!(used <= bound, "{used} > {bound}");
    // The bound is not vacuous: this event does a sizeable share of it.
    assert!(used * 8 > bound, "{used} of {bound}");
    // Fields absent or unknown cost less, never more.
    for event in [
        TestEvent::start(vec![]),
        TestEvent::start(vec![(IMAGE, Field::Unknown), (COMMAND_LINE, Field::Unknown)]),
        TestEvent::start(vec![(COMMAND_LINE, a(32_767)), (ORIGINAL_FILE_NAME, a(1_024))]),
        TestEvent::start(vec![(COMMAND_LINE, a_then_b(32_767)), (IMAGE, Field::Unknown)]),
    ] {
        let used = work(&content, &event);
        assert!(used <= bound, "{used} > {bound}");
    }
}

/// A text that mostly leaves the walk at the root (the units of `-x` and `\` start patterns).
fn mostly_root(len: usize) -> Field {
    let text: String = "c:\\program files\\x -y -yes ".chars().cycle().take(len).collect();
    Field::Text(text.encode_utf16().collect())
}

/// Patterns that `mostly_root` text leaves the root for: ` -yes` and `\xyz` on the
/// command line, `\x` and `files` at the image's end.
fn root_leavers() -> Vec<u8> {
    built(&[
        detection(1, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &[" -yes", "\\xyz"])]),
        detection(2, vec![predicate(IMAGE, OperatorSpec::EndsWith, &["\\x", "files"])]),
    ])
}

#[test]
fn past_its_limit_the_scan_stops_within_a_step_of_it() {
    let bytes = root_leavers();
    let content = validate(&bytes, &SCHEMA).unwrap();
    let event = TestEvent::start(vec![(COMMAND_LINE, mostly_root(4_000)), (IMAGE, mostly_root(300))]);
    let used = work(&content, &event);
    assert!(used > 8_000, "{used}");
    let mut scratch = vec![0u64; content.scratch_words()];
    for limit in (0..used).step_by(97).chain([used - 2, used - 1]) {
        let mut meter = Meter::new(limit);
        let ids = RuleIds { matched: &mut [], undecided: &mut [] };
        let outcome = content.evaluate_metered(&&event, &mut scratch, ids, &mut meter);
        assert_eq!(outcome, Err(v2::EvaluationError::CostExceeded { limit }));
        // Stopped at the first unit past the limit: one step's charges at most.
        assert!(meter.used() > limit && meter.used() <= limit + 16, "{} for {limit}", meter.used());
    }
    let mut meter = Meter::new(used);
    let ids = RuleIds { matched: &mut [], undecided: &mut [] };
    assert!(content.evaluate_metered(&&event, &mut scratch, ids, &mut meter).is_ok());
    assert_eq!(meter.used(), used);
}

thread_local! {
    /// The readings of [`clock`] on this test's thread.
    static READINGS: Cell<u64> = const { Cell::new(0) };
}

/// A clock that advances by one on every reading (each test runs on a thread of its own).
extern "C" fn clock() -> u64 {
    READINGS.with(|r| {
        r.set(r.get() + 1);
        r.get()
    })
}

fn readings() -> u64 {
    READINGS.with(Cell::get)
}

/// One evaluation with `meter`: its outcome and the work it did.
fn metered(
    content: &Content<'_>,
    event: &TestEvent,
    mut meter: Meter,
) -> (Result<v2::Verdict, v2::EvaluationError>, u64) {
    let mut scratch = vec![0u64; content.scratch_words()];
    let (mut matched, mut undecided) = ([0u32; 64], [0u32; 64]);
    let ids = RuleIds { matched: &mut matched, undecided: &mut undecided };
    let outcome = content.evaluate_metered(&event, &mut scratch, ids, &mut meter);
    (outcome, meter.used())
}

/// Evaluates `event` with a deadline two readings of [`clock`] away: the third
/// reading is past it, and the evaluation stops there. The work it did.
fn stopped_at_the_third_reading(content: &Content<'_>, event: &TestEvent) -> u64 {
    let meter = Meter::with_deadline(EVENT_WORK_LIMIT, Deadline::after(clock, 2));
    let before = readings();
    let (outcome, stopped) = metered(content, event, meter);
    assert_eq!(readings() - before, 3);
    assert_eq!(outcome, Err(v2::EvaluationError::DeadlinePassed { used: stopped }));
    stopped
}

#[test]
fn past_its_deadline_an_evaluation_stops_at_the_next_reading_of_the_clock() {
    let bytes = root_leavers();
    let content = validate(&bytes, &SCHEMA).unwrap();
    let event = TestEvent::start(vec![(COMMAND_LINE, mostly_root(20_000)), (IMAGE, mostly_root(300))]);
    let used = work(&content, &event);
    assert!(used > FIRST_CHECK + 3 * CHECK_EVERY && used < EVENT_WORK_LIMIT, "{used}");
    // A deadline that never passes: the same verdict and work; the clock is read at
    // FIRST_CHECK units and every CHECK_EVERY after, and once to set the deadline.
    let before = readings();
    let (outcome, late_used) = metered(
        &content,
        &event,
        Meter::with_deadline(EVENT_WORK_LIMIT, Deadline { now: clock, at: u64::MAX }),
    );
    let (expected, expected_used) = metered(&content, &event, Meter::new(EVENT_WORK_LIMIT));
    assert_eq!((outcome, late_used), (expected, expected_used));
    assert!(expected.is_ok());
    let checks = readings() - before;
    assert!(
        checks > (used - FIRST_CHECK) / (CHECK_EVERY + 16)
            && checks <= 2 + (used - FIRST_CHECK) / CHECK_EVERY,
        "{checks} readings for {used} units"
    );
    // Stopped within a step of the third reading, which came past 2 × CHECK_EVERY more.
    let stopped = stopped_at_the_third_reading(&content, &event);
    assert!(
        stopped > FIRST_CHECK + 2 * CHECK_EVERY && stopped <= FIRST_CHECK + 2 * CHECK_EVERY + 64,
        "{stopped}"
    );
}

#[test]
fn an_event_of_a_few_thousand_units_never_reads_the_clock() {
    let bytes = built(&[detection(1, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &[" -yes"])])]);
    let content = validate(&bytes, &SCHEMA).unwrap();
    let event = TestEvent::start(vec![(COMMAND_LINE, mostly_root(1_000)), (IMAGE, mostly_root(120))]);
    let meter = Meter::with_deadline(EVENT_WORK_LIMIT, Deadline { now: clock, at: 0 });
    let before = readings();
    let (outcome, used) = metered(&content, &event, meter);
    assert!(used < FIRST_CHECK, "{used}");
    assert_eq!(readings(), before, "no reading");
    assert_eq!(outcome, metered(&content, &event, Meter::new(EVENT_WORK_LIMIT)).0);
}

#[test]
fn a_deadline_stops_a_regular_expression_part_way() {
    // No literal to gate it: the expression reads the whole command line of `a`s.
    let bytes = built(&[detection(1, vec![predicate(COMMAND_LINE, OperatorSpec::Regex, &["[0-9]{30}"])])]);
    let content = validate(&bytes, &SCHEMA).unwrap();
    let event = TestEvent::start(vec![(COMMAND_LINE, a(20_000))]);
    let (expected, used) = metered(&content, &event, Meter::new(EVENT_WORK_LIMIT));
    assert!(expected.is_ok() && used > 120_000, "{used}");
    let never = Deadline { now: clock, at: u64::MAX };
    assert_eq!(metered(&content, &event, Meter::with_deadline(EVENT_WORK_LIMIT, never)), (expected, used));
    // Charged 1,024 units (6,144 work units) at a time, the clock read at the charges
    // past 8,192 and every 4,096 after.
    let stopped = stopped_at_the_third_reading(&content, &event);
    assert!(
        stopped > FIRST_CHECK + 2 * CHECK_EVERY && stopped < FIRST_CHECK + 2 * CHECK_EVERY + 2 * 6_144,
        "{stopped}"
    );
}
