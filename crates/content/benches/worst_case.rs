//! The costliest content the validator accepts against the longest command
//! line a process start can carry, beside the same searches made by
//! `memchr::memmem` (a tuned substring search) over the same bytes and a copy
//! of those bytes. Goal: under 1 ms per event for any accepted content: the
//! kernel's evaluation (`Content::evaluate`) stops at
//! [`EVENT_WORK_LIMIT`], so each is measured cut off there, and whole (within
//! the content budget, as the companion's stage evaluates it). Also
//! unvalidated bytes far over the budget (255 hostile conditions in one rule),
//! cut off at the limit. Format 2: the worst accepted content with every
//! string at its maximum length, and each shape the meter charges; the
//! `calibrate` group evaluates each shape whole, for callgrind to count
//! instructions per work unit.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, missing_docs)]

mod cold;
mod common;

use cold::{Sweep, cold_group};
use criterion::{Criterion, criterion_group, criterion_main};
use ringfence_content::v2::build::{
    BuildErrorKind, ExprSpec, OperatorSpec, PredicateSpec, RuleSpec, ValueSpec, build,
};
use ringfence_content::v2::{self, Content as V2Content, EventInput, Input, Role, RuleIds};
use ringfence_content::{
    Content, Deadline, EVENT_DEADLINE, EVENT_WORK_LIMIT, MAX_EVALUATION_COST, Meter, compile_rules,
    evaluate_raw, validate,
};
use ringfence_wire::{Event, EventKind, FieldType, SCHEMA, Text};
use std::hint::black_box;

fn le_bytes(units: &[u16]) -> Vec<u8> {
    units.iter().flat_map(|u| u.to_le_bytes()).collect()
}

fn worst_case(c: &mut Criterion) {
    let (conditions, bytes) = common::costliest_accepted();
    let content = validate(&bytes, &SCHEMA).unwrap();
    let line = common::hostile_command_line();
    let image = common::wide(r"\??\C:\Windows\System32\cmd.exe");
    let event = common::process_start(&image, &line);
    let mut meter = Meter::new(MAX_EVALUATION_COST);
    content.evaluate_metered(&event, &mut meter);
    eprintln!(
        "costliest accepted content: {conditions} conditions, worst case {} work units, this event {} units",
        content.worst_case_cost(&SCHEMA),
        meter.used()
    );

    let line_bytes = le_bytes(&line);
    let needles = [le_bytes(&common::needle('b')), le_bytes(&common::needle('c'))];
    let mut group = c.benchmark_group("worst_case");
    group.bench_function(
        format!("costliest accepted content ({conditions} conditions), 32,767-unit command line, cut off at the limit"),
        |b| b.iter(|| content.evaluate(black_box(&event))),
    );
    group.bench_function(
        format!("costliest accepted content ({conditions} conditions), 32,767-unit command line, whole"),
        |b| b.iter(|| calibrate_v1(&content, black_box(&event))),
    );
    group.bench_function(format!("memmem, the same {conditions} searches (baseline)"), |b| {
        b.iter(|| {
            (0..conditions)
                .filter(|i| memchr::memmem::find(black_box(&line_bytes), &needles[i % 2]).is_some())
                .count()
        })
    });
    // The same budget spent on the costliest hostile text found for Two-Way.
    let (name, pattern, hostile) = common::hostile_texts().swap_remove(4);
    let (rules, bytes) = common::costliest_accepted_of(&pattern);
    let against = validate(&bytes, &SCHEMA).unwrap();
    let against_event = common::process_start(&image, &hostile);
    let mut meter = Meter::new(MAX_EVALUATION_COST);
    against.evaluate_metered(&against_event, &mut meter);
    eprintln!(
        "{name}: {rules} rules accepted, worst case {} work units, this event {} units",
        against.worst_case_cost(&SCHEMA),
        meter.used()
    );
    group.bench_function(
        format!("costliest accepted content against Two-Way ({rules} rules: {name}), cut off at the limit"),
        |b| b.iter(|| against.evaluate(black_box(&against_event))),
    );
    group.bench_function(
        format!("costliest accepted content against Two-Way ({rules} rules: {name}), whole"),
        |b| b.iter(|| calibrate_v1(&against, black_box(&against_event))),
    );
    let (hostile_bytes, pattern_bytes) = (le_bytes(&hostile), le_bytes(&pattern));
    group.bench_function(format!("memmem, the same {rules} searches over that text (baseline)"), |b| {
        b.iter(|| {
            (0..rules)
                .filter(|_| memchr::memmem::find(black_box(&hostile_bytes), &pattern_bytes).is_some())
                .count()
        })
    });
    group.bench_function("copy of the command line (baseline)", |b| {
        b.iter(|| black_box(&line_bytes).to_vec())
    });

    // Unvalidated: one rule of 255 hostile conditions, 32 times the budget's worth of work.
    let raw_rules = common::hostile_rules(16);
    let mut raw = compile_rules(&raw_rules[..1], 1, &SCHEMA).unwrap();
    raw_over_the_limits(&mut raw);
    group.bench_function("unvalidated: 255 hostile conditions in one rule, cut off at the limit", |b| {
        b.iter(|| evaluate_raw(black_box(&raw), &event))
    });
    group.finish();

    // The same, each evaluation after every cache (and the TLB) was swept: what a
    // callback finds when the machine ran something else since the last event.
    let mut group = cold_group(c, "worst_case_cold");
    let mut sweep = Sweep::new();
    group.bench_function(
        format!("costliest accepted content ({conditions} conditions), 32,767-unit command line, cut off at the limit"),
        |b| sweep.time(b, || content.evaluate(black_box(&event))),
    );
    group.bench_function(
        format!("costliest accepted content against Two-Way ({rules} rules: {name}), cut off at the limit"),
        |b| sweep.time(b, || against.evaluate(black_box(&against_event))),
    );
    group.bench_function("unvalidated: 255 hostile conditions in one rule, cut off at the limit", |b| {
        sweep.time(b, || evaluate_raw(black_box(&raw), &event))
    });
    group.bench_function("copy of the command line (baseline)", |b| {
        sweep.time(b, || black_box(&line_bytes).to_vec())
    });
    group.finish();

    let mut group = c.benchmark_group("hostile_texts");
    for (name, pattern, line) in common::hostile_texts() {
        let bytes = compile_rules(&common::one_contains(pattern.clone()), 1, &SCHEMA).unwrap();
        let content = validate(&bytes, &SCHEMA).unwrap();
        let event = common::process_start(&image, &line);
        let mut meter = Meter::new(MAX_EVALUATION_COST);
        content.evaluate_metered(&event, &mut meter);
        eprintln!("{name}: {} work units", meter.used());
        group.bench_function(format!("one contains: {name}"), |b| {
            b.iter(|| content.evaluate(black_box(&event)))
        });
        let (line, pattern) = (le_bytes(&line), le_bytes(&pattern));
        group.bench_function(format!("memmem: {name} (baseline)"), |b| {
            b.iter(|| memchr::memmem::find(black_box(&line), &pattern).is_some())
        });
    }
    group.finish();
}

/// Format 1 evaluated whole, within the content budget (for callgrind: see the module).
#[inline(never)]
fn calibrate_v1<'a>(content: &Content<'a>, event: &Event<'_>) -> ringfence_content::Verdict<'a> {
    content.evaluate_metered(event, &mut Meter::new(MAX_EVALUATION_COST))
}

/// Rewrites the one-rule content into 255 copies of its first condition (what
/// the validator refuses: more than 16 conditions in a rule).
fn raw_over_the_limits(bytes: &mut Vec<u8>) {
    use ringfence_content::format::{condition, header, rule, section};
    let dir = |i: usize| header::LEN + i * section::ENTRY_LEN;
    let start = |b: &[u8], i: usize| {
        let at = dir(i) + section::OFFSET;
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
    };
    let (rules, conditions, strings) = (start(bytes, 1), start(bytes, 2), start(bytes, 3));
    let first = bytes[conditions..conditions + condition::LEN].to_vec();
    let tail = bytes[strings..].to_vec();
    bytes.truncate(conditions);
    for _ in 0..255 {
        bytes.extend_from_slice(&first);
    }
    let new_strings = bytes.len();
    bytes.extend_from_slice(&tail);
    bytes[rules + rule::CONDITION_COUNT] = 255;
    let len = u32::try_from(255 * condition::LEN).unwrap();
    bytes[dir(2) + section::LEN..dir(2) + section::LEN + 4].copy_from_slice(&len.to_le_bytes());
    bytes[dir(3) + section::OFFSET..dir(3) + section::OFFSET + 4]
        .copy_from_slice(&u32::try_from(new_strings).unwrap().to_le_bytes());
    let total = u32::try_from(bytes.len()).unwrap();
    bytes[header::TOTAL_LEN..header::TOTAL_LEN + 4].copy_from_slice(&total.to_le_bytes());
}

// ---- Content format 2 ----

const IMAGE: u8 = 5;
const COMMAND_LINE: u8 = 6;
const PARENT_IMAGE: u8 = 12;
const PARENT_COMMAND_LINE: u8 = 13;

/// A process start whose every string field is at its schema maximum, all `a`s
/// (or `text` repeated), with the companion's fields unknown.
struct Longest {
    fields: Vec<(u8, Vec<u16>)>,
}

impl Longest {
    fn of(text: &str) -> Self {
        let kind = SCHEMA.kind_by_code(EventKind::ProcessStart.code()).unwrap();
        let fields = (0..=u8::MAX)
            .filter_map(|i| kind.resolve(i).filter(|d| d.ty == FieldType::Str).map(|d| (i, d.max_units)))
            .map(|(i, units)| (i, text.encode_utf16().cycle().take(usize::from(units)).collect()))
            .collect();
        Longest { fields }
    }
}

impl<'a> EventInput<'a> for &'a Longest {
    fn kind(&self) -> EventKind {
        EventKind::ProcessStart
    }
    fn input(&self, field: u8) -> Input<'a> {
        match self.fields.iter().find(|(i, _)| *i == field) {
            Some((_, t)) => Input::Text { head: Text::wide(t), tail: Text::default() },
            None if field >= 128 => Input::Unknown,
            None => Input::Absent,
        }
    }
}

fn text_predicate(field: u8, operator: OperatorSpec, values: Vec<String>, case: bool) -> PredicateSpec {
    PredicateSpec {
        field,
        operator,
        values: values.into_iter().map(ValueSpec::Text).collect(),
        all: false,
        case_insensitive: case,
        windash: false,
    }
}

fn any_of(id: u32, predicates: Vec<PredicateSpec>) -> RuleSpec {
    let condition = ExprSpec::Any((0..predicates.len() as u32).map(ExprSpec::Predicate).collect());
    RuleSpec {
        id,
        kind: EventKind::ProcessStart,
        role: Role::Detection,
        name: format!("rule {id}"),
        meta: String::new(),
        predicates,
        condition,
    }
}

/// The automaton walk kept deep: `a`^16k and `a`^16k `b` (k = 1..63), in both case
/// modes, on every long string field, over text of `a`s.
fn deep_scans() -> Vec<RuleSpec> {
    let mut rules = Vec::new();
    for field in [IMAGE, COMMAND_LINE, PARENT_IMAGE, PARENT_COMMAND_LINE] {
        for case in [true, false] {
            let values =
                (1..=63).flat_map(|k| ["a".repeat(k * 16), format!("{}b", "a".repeat(k * 16))]).collect();
            let id = rules.len() as u32;
            rules.push(any_of(id, vec![text_predicate(field, OperatorSpec::Contains, values, case)]));
        }
    }
    rules
}

/// The walk held one unit past the transition table's rows: `a`^(d+1) `b`, d =
/// [`v2::ROW_DEPTH`], in both case modes, on every long string field, over text
/// of `a`s: from the state `a`^(d+1), which has no row, every unit misses its
/// goto, fails to `a`^d, whose row leads back to it.
fn past_the_rows() -> Vec<RuleSpec> {
    let depth = usize::try_from(v2::ROW_DEPTH).unwrap() + 1;
    let mut rules = Vec::new();
    for field in [IMAGE, COMMAND_LINE, PARENT_IMAGE, PARENT_COMMAND_LINE] {
        for case in [true, false] {
            let id = rules.len() as u32;
            let value = format!("{}b", "a".repeat(depth));
            rules.push(any_of(id, vec![text_predicate(field, OperatorSpec::Contains, vec![value], case)]));
        }
    }
    rules
}

/// Chains past the rows one unit long: `a` and (`ab`)^504, in both case
/// modes, on every long string field, over text of (`ab`)^504 `c`: each descent
/// past the rows alternates a state with nothing to mark (ending in `b`) and
/// one with a dictionary link to `a` (ending in `a`), so that every other unit
/// takes one unit through the chain loop and the next the step; `c` sends the
/// walk back to the root, and the descent starts again.
fn short_chains() -> (Vec<RuleSpec>, String) {
    let long = "ab".repeat(504);
    let mut rules = Vec::new();
    for field in [IMAGE, COMMAND_LINE, PARENT_IMAGE, PARENT_COMMAND_LINE] {
        for case in [true, false] {
            let id = rules.len() as u32;
            let values = vec!["a".to_string(), long.clone()];
            rules.push(any_of(id, vec![text_predicate(field, OperatorSpec::Contains, values, case)]));
        }
    }
    (rules, format!("{long}c"))
}

/// Many classes and wide goto rows: every pair of 64 non-ASCII letters on the
/// command line, over text cycling through them (every unit leaves the root,
/// every state has 64 gotos to search).
fn wide_scans() -> (Vec<RuleSpec>, String) {
    let letters: Vec<char> =
        (0..64u32).map(|i| char::from_u32(0x3B1 + i % 24 + (i / 24) * 0x30).unwrap()).collect();
    let values = letters.iter().flat_map(|a| letters.iter().map(move |b| format!("{a}{b}"))).collect();
    let rules = vec![any_of(0, vec![text_predicate(COMMAND_LINE, OperatorSpec::Contains, values, false)])];
    let text: String = letters.iter().step_by(3).chain(letters.iter().step_by(5)).collect();
    (rules, text)
}

/// `globs` globs of 63 tokens ([`common::worst_glob`]) on the command line:
/// every unit of a text of `a`s keeps the whole simulation alive.
fn globs(globs: usize) -> Vec<RuleSpec> {
    let glob = common::worst_glob;
    vec![any_of(0, (0..globs).map(|_| glob()).collect())]
}

/// `count` regular expressions of SigmaHQ's encoded-command shape on the
/// command line, none matching a text of `-ea` repeated (the whole text is
/// read): their gate, `-e`, is found, so they run.
fn regexes(count: usize) -> Vec<RuleSpec> {
    let values = (0..count)
        .map(|i| format!(r"\s-(e|en|enc|enco|encodedcommand{i})\s+[A-Za-z0-9+/=]{{20,}}"))
        .collect();
    vec![any_of(0, vec![text_predicate(COMMAND_LINE, OperatorSpec::Regex, values, true)])]
}

/// Rules made candidates by a found `a`, each with many values none of which
/// is found (every value is visited): the candidates, rule and value steps.
fn values_and_rules() -> Vec<RuleSpec> {
    (0..256u32)
        .map(|id| {
            let mut values: Vec<String> = (0..200).map(|v| format!("x{id}y{v}z")).collect();
            values.push("a".into());
            let mut absent = text_predicate(COMMAND_LINE, OperatorSpec::Equals, values.clone(), true);
            absent.all = true;
            let found = text_predicate(COMMAND_LINE, OperatorSpec::Contains, values, true);
            let mut rule = any_of(id, vec![found, absent]);
            rule.condition = ExprSpec::All(vec![
                ExprSpec::Predicate(0),
                ExprSpec::Not(Box::new(ExprSpec::Predicate(1))),
                ExprSpec::Predicate(0),
            ]);
            rule
        })
        .collect()
}

/// The v2 shapes the meter charges, each with its event: (name, content, event).
fn v2_shapes() -> Vec<(&'static str, Vec<u8>, Longest)> {
    let (wide, wide_text) = wide_scans();
    let (chains, chains_text) = short_chains();
    vec![
        ("scan: deep automata over a text of a", build(&deep_scans(), &SCHEMA, 1).unwrap(), Longest::of("a")),
        (
            "scan: one unit past the rows over a text of a",
            build(&past_the_rows(), &SCHEMA, 1).unwrap(),
            Longest::of("a"),
        ),
        (
            "scan: chains past the rows one unit long",
            build(&chains, &SCHEMA, 1).unwrap(),
            Longest::of(&chains_text),
        ),
        (
            "scan: 4,096 non-ASCII pairs, 64 classes",
            build(&wide, &SCHEMA, 1).unwrap(),
            Longest::of(&wide_text),
        ),
        ("globs: 8 of 63 tokens", build(&globs(8), &SCHEMA, 1).unwrap(), Longest::of("a")),
        ("regexes: 8", build(&regexes(8), &SCHEMA, 1).unwrap(), Longest::of("-ea")),
        ("regexes: 8, two-byte UTF-8 text", build(&regexes(8), &SCHEMA, 1).unwrap(), Longest::of("-eж")),
        ("regexes: 8, three-byte UTF-8 text", build(&regexes(8), &SCHEMA, 1).unwrap(), Longest::of("-e中")),
        ("regexes: 8, surrogate pairs", build(&regexes(8), &SCHEMA, 1).unwrap(), Longest::of("-e😀")),
        ("regexes: 8, Unicode spaces", build(&regexes(8), &SCHEMA, 1).unwrap(), Longest::of(" -e\u{2003}")),
        (
            "candidates, rules and values: 256 rules x 402 values",
            build(&values_and_rules(), &SCHEMA, 1).unwrap(),
            Longest::of("a"),
        ),
        (
            "rules and values alone: the same, a one-unit command line",
            build(&values_and_rules(), &SCHEMA, 1).unwrap(),
            Longest { fields: vec![(COMMAND_LINE, vec![u16::from(b'a')])] },
        ),
    ]
}

/// The benchmark's clock for the deadline: 100-ns units since its first reading.
extern "C" fn clock() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let nanos = START.get_or_init(std::time::Instant::now).elapsed().as_nanos() / 100;
    u64::try_from(nanos).unwrap_or(u64::MAX)
}

/// `per_field` patterns of random letters of `alphabet`, 8 to `2 × mean` units long, on
/// each long string field (about 8 MB of content with 64,000 units a field), and a process
/// start whose fields walk them one after another: each unit steps to a state a level
/// deeper, far from the last in the breadth-first state table, at a distance that changes
/// with the pattern lengths (no stride for the prefetcher to follow).
fn scattered_walks(per_field: usize, mean: usize, alphabet: &[char]) -> (Vec<RuleSpec>, Longest) {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    let mut rules = Vec::new();
    let mut event = Longest::of("a");
    for field in [IMAGE, COMMAND_LINE, PARENT_IMAGE, PARENT_COMMAND_LINE] {
        let values: Vec<String> = (0..per_field)
            .map(|_| {
                let len = 8 + next() % (2 * mean - 8);
                (0..len).map(|_| alphabet[next() % alphabet.len()]).collect()
            })
            .collect();
        let walk: Vec<u16> = values.concat().encode_utf16().collect();
        if let Some((_, text)) = event.fields.iter_mut().find(|(f, _)| *f == field) {
            let len = text.len();
            *text = walk.iter().copied().cycle().take(len).collect();
        }
        let id = rules.len() as u32;
        rules.push(any_of(id, vec![text_predicate(field, OperatorSpec::Contains, values, true)]));
    }
    (rules, event)
}

fn memory_shapes() -> Vec<(&'static str, Vec<RuleSpec>, Longest)> {
    let latin: Vec<char> = ('a'..='z').collect();
    // Lower-case Cyrillic: classes past the rows' ASCII ones, so the transition table has
    // neither rows nor edge words for these steps: each reads its state's entry and goto row.
    let cyrillic: Vec<char> = ('а'..='я').collect();
    let (long, long_event) = scattered_walks(250, 256, &latin);
    let (short, short_event) = scattered_walks(1_000, 64, &latin);
    let (other, other_event) = scattered_walks(250, 256, &cyrillic);
    vec![
        ("memory: 250 scattered walks of 8 to 504 units a field", long, long_event),
        ("memory: 1,000 scattered walks of 8 to 120 units a field", short, short_event),
        ("memory: 250 scattered walks of 8 to 504 Cyrillic units a field", other, other_event),
    ]
}

/// The worst accepted format-2 content: the deep scans plus as many globs as
/// the budget leaves room for (found by bisection).
fn v2_worst_accepted() -> (usize, Vec<u8>) {
    let with = |n: usize| {
        let mut rules = deep_scans();
        let mut g = globs(n).remove(0);
        g.id = rules.len() as u32;
        rules.push(g);
        build(&rules, &SCHEMA, 1)
    };
    let (mut low, mut high) = (1usize, 1025usize);
    while low + 1 < high {
        let mid = (low + high) / 2;
        match with(mid) {
            Ok(_) => low = mid,
            Err(e) if matches!(e.kind, BuildErrorKind::Invalid(_)) => high = mid,
            Err(e) => panic!("{e:?}"),
        }
    }
    (low, with(low).unwrap())
}

/// One evaluation with `meter`; the work it did.
#[inline(never)]
fn v2_run(content: &V2Content<'_>, event: &Longest, scratch: &mut [u64], meter: &mut Meter) -> u64 {
    let (mut matched, mut undecided) = ([0u32; 64], [0u32; 64]);
    let ids = RuleIds { matched: &mut matched, undecided: &mut undecided };
    let _ = black_box(content.evaluate_metered(&event, scratch, ids, meter));
    meter.used()
}

/// The transition table the driver builds beside `content` at a load.
fn table_of(content: &V2Content<'_>) -> Vec<u32> {
    let mut words = vec![0u32; content.transition_words()];
    content.build_transitions(&mut words).unwrap();
    words
}

/// Each content is measured as the driver evaluates it (with the transition
/// table it builds at a load) and without the table (as `evaluate_raw` and a
/// load without pool for the table would; the table must not make the worst
/// case worse).
const TABLES: [(&str, bool); 2] = [("", true), (", no transition table", false)];

fn v2_worst_case(c: &mut Criterion) {
    let mut group = c.benchmark_group("v2_worst_case");
    group.sample_size(20);
    let (globs, bytes) = v2_worst_accepted();
    let bare = v2::validate(&bytes, &SCHEMA).unwrap();
    let table = table_of(&bare);
    let event = Longest::of("a");
    let mut scratch = vec![0u64; bare.scratch_words()];
    for (suffix, rowed) in TABLES {
        let content = if rowed { bare.with_transitions(&table) } else { bare };
        let cut = v2_run(&content, &event, &mut scratch, &mut Meter::new(EVENT_WORK_LIMIT));
        eprintln!(
            "worst accepted format-2 content ({globs} globs{suffix}): worst case {} units of {}; cut off at {cut} units",
            v2::cost::worst_case(&content, &SCHEMA, 1),
            v2::MAX_EVALUATION_COST,
        );
        group.bench_function(
            format!(
                "worst accepted content ({globs} globs), every string at its maximum length, cut off at the limit{suffix}"
            ),
            |b| b.iter(|| v2_run(&content, black_box(&event), &mut scratch, &mut Meter::new(EVENT_WORK_LIMIT))),
        );
    }
    for (name, bytes, event) in v2_shapes() {
        let bare = v2::validate(&bytes, &SCHEMA).unwrap();
        let table = table_of(&bare);
        let mut scratch = vec![0u64; bare.scratch_words()];
        for (suffix, rowed) in TABLES {
            let content = if rowed { bare.with_transitions(&table) } else { bare };
            let whole = v2_run(&content, &event, &mut scratch, &mut Meter::new(u64::MAX));
            eprintln!("{name}{suffix}: {whole} units uncut");
            group.bench_function(format!("{name}, cut off at the limit{suffix}"), |b| {
                b.iter(|| {
                    v2_run(&content, black_box(&event), &mut scratch, &mut Meter::new(EVENT_WORK_LIMIT))
                })
            });
        }
    }
    // Contents of megabytes whose every step reads a state far from the last: the work
    // limit bounds the instructions, the deadline the time they wait for memory.
    for (name, rules, event) in memory_shapes() {
        let bytes = build(&rules, &SCHEMA, 1).unwrap();
        let bare = v2::validate(&bytes, &SCHEMA).unwrap();
        let table = table_of(&bare);
        let mut scratch = vec![0u64; bare.scratch_words()];
        for (suffix, rowed, deadline) in [
            (" (the driver's: the table and the deadline)", true, true),
            (", the table, no deadline", true, false),
            (", no table, no deadline", false, false),
        ] {
            let content = if rowed { bare.with_transitions(&table) } else { bare };
            let meter = || {
                if deadline {
                    Meter::with_deadline(EVENT_WORK_LIMIT, Deadline::after(clock, EVENT_DEADLINE))
                } else {
                    Meter::new(EVENT_WORK_LIMIT)
                }
            };
            let cut = v2_run(&content, &event, &mut scratch, &mut meter());
            eprintln!("{name}{suffix}: {} bytes, {cut} units", bytes.len());
            group.bench_function(format!("{name}, cut off{suffix}"), |b| {
                b.iter(|| v2_run(&content, black_box(&event), &mut scratch, &mut meter()))
            });
        }
    }
    let line = le_bytes(&Longest::of("a").fields.iter().find(|(i, _)| *i == COMMAND_LINE).unwrap().1);
    group.bench_function("copy of the command line (baseline)", |b| b.iter(|| black_box(&line).to_vec()));
    group.bench_function("memmem over the command line (baseline)", |b| {
        b.iter(|| memchr::memmem::find(black_box(&line), b"b\0").is_some())
    });
    group.finish();

    // Cold caches and TLB before each evaluation, as the driver evaluates (the table
    // and the deadline): the worst accepted content, and each memory-bound shape.
    let mut group = cold_group(c, "v2_worst_case_cold");
    let mut sweep = Sweep::new();
    let driver_meter = || Meter::with_deadline(EVENT_WORK_LIMIT, Deadline::after(clock, EVENT_DEADLINE));
    {
        let (globs, bytes) = v2_worst_accepted();
        let bare = v2::validate(&bytes, &SCHEMA).unwrap();
        let table = table_of(&bare);
        let content = bare.with_transitions(&table);
        let event = Longest::of("a");
        let mut scratch = vec![0u64; bare.scratch_words()];
        group.bench_function(
            format!("worst accepted content ({globs} globs), every string at its maximum length, cut off"),
            |b| sweep.time(b, || v2_run(&content, black_box(&event), &mut scratch, &mut driver_meter())),
        );
    }
    for (name, rules, event) in memory_shapes() {
        let bytes = build(&rules, &SCHEMA, 1).unwrap();
        let bare = v2::validate(&bytes, &SCHEMA).unwrap();
        let table = table_of(&bare);
        let content = bare.with_transitions(&table);
        let mut scratch = vec![0u64; bare.scratch_words()];
        group.bench_function(format!("{name}, cut off"), |b| {
            sweep.time(b, || v2_run(&content, black_box(&event), &mut scratch, &mut driver_meter()))
        });
    }
    group.bench_function("copy of the command line (baseline)", |b| {
        sweep.time(b, || black_box(&line).to_vec())
    });
    group.finish();

    // Instructions per work unit, each shape evaluated whole (no limit): run
    // under callgrind, `--toggle-collect='*calibrate*'` (see BENCHMARKS.md).
    let mut group = c.benchmark_group("calibrate");
    group.sample_size(10);
    for (name, bytes, event) in v2_shapes() {
        let bare = v2::validate(&bytes, &SCHEMA).unwrap();
        let table = table_of(&bare);
        let mut scratch = vec![0u64; bare.scratch_words()];
        for (suffix, rowed) in TABLES {
            let content = if rowed { bare.with_transitions(&table) } else { bare };
            group.bench_function(format!("format 2, {name}{suffix}"), |b| {
                b.iter(|| calibrate_v2(&content, black_box(&event), &mut scratch))
            });
        }
    }
    group.finish();
}

#[inline(never)]
fn calibrate_v2(content: &V2Content<'_>, event: &Longest, scratch: &mut [u64]) -> u64 {
    v2_run(content, event, scratch, &mut Meter::new(u64::MAX))
}

criterion_group!(benches, worst_case, v2_worst_case);
criterion_main!(benches);
