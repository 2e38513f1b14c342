//! Content format 2: validation throughput of a SigmaHQ-shaped content
//! (~1,400 rules, ~20,000 values, generated here: `sigma_shaped`) beside a memcpy of the same
//! bytes, and its checksum alone; evaluation of a typical process start (120-unit image, 400-unit
//! command line) with that content (literals only, as first measured, and with SigmaHQ's share of
//! globs and regular expressions) and with 10 rules, each in two vocabularies (values of random
//! letters on a start of filler text; values in Windows' vocabulary on a start in it), beside the unindexed
//! baseline (every literal searched separately with memchr::memmem) and a copy of the event's
//! strings; the same starts with cold caches and TLB (each evaluation after a sweep of 128 MiB), beside
//! the aho-corasick crate's scans, cold too. (The worst content the validator accepts, on
//! maximum-length fields: benches/worst_case.rs.)

#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, missing_docs)]

mod cold;
mod common;
mod sigma_shaped;

use cold::{Sweep, cold_group};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ringfence_content::Meter;
use ringfence_content::v2::build::{ExprSpec, OperatorSpec, PredicateSpec, RuleSpec, ValueSpec, build};
use ringfence_content::v2::{Content, EventInput, Input, Role, RuleIds, validate};
use ringfence_wire::{EventKind, SCHEMA, Text};
use sigma_shaped::{
    COMMAND_LINE, IMAGE, PARENT_IMAGE, literal_rules, predicate, vocabulary_rules, vocabulary_start,
    with_globs_and_regexes,
};
use std::hint::black_box;

fn values(rules: &[RuleSpec]) -> usize {
    rules.iter().flat_map(|r| &r.predicates).map(|p| p.values.len()).sum()
}

fn describe(what: &str, rules: &[RuleSpec], content: &Content<'_>, bytes: usize) {
    eprintln!(
        "{what}: {} rules, {} values, {} patterns, {} states, {bytes} bytes",
        rules.len(),
        values(rules),
        content.pattern_count(),
        content.state_count(),
    );
}

struct Start {
    image: Vec<u16>,
    command_line: Vec<u16>,
    parent: Vec<u16>,
    /// Other string fields, by index.
    extra: Vec<(u8, Vec<u16>)>,
}

impl<'a> EventInput<'a> for &'a Start {
    fn kind(&self) -> EventKind {
        EventKind::ProcessStart
    }
    fn input(&self, field: u8) -> Input<'a> {
        let text = |t: &'a Vec<u16>| Input::Text { head: Text::wide(t), tail: Text::default() };
        if let Some((_, t)) = self.extra.iter().find(|(i, _)| *i == field) {
            return text(t);
        }
        match field {
            IMAGE => text(&self.image),
            COMMAND_LINE => text(&self.command_line),
            PARENT_IMAGE => text(&self.parent),
            f if f >= 128 => Input::Unknown,
            _ => Input::Absent,
        }
    }
}

/// Builds `rules`, says what they came to, and returns the bytes.
fn built(what: &str, rules: &[RuleSpec]) -> Vec<u8> {
    let bytes = build(rules, &SCHEMA, 1).unwrap();
    describe(what, rules, &validate(&bytes, &SCHEMA).unwrap(), bytes.len());
    bytes
}

fn filled(prefix: &str, len: usize) -> String {
    let mut s = String::from(prefix);
    while s.len() < len {
        s.push_str("abcdefgh\\");
    }
    s.truncate(len);
    s
}

fn typical() -> (Start, [String; 3]) {
    let image = filled("C:\\Program Files\\Contoso\\Product Suite\\bin\\", 110) + "\\agent.exe";
    let command_line = filled(
        "\"C:\\Program Files\\Contoso\\Product Suite\\bin\\agent.exe\" --config C:\\ProgramData\\x ",
        400,
    );
    let parent = "C:\\Windows\\System32\\services.exe".to_string();
    start([image, command_line, parent])
}

fn start([image, command_line, parent]: [String; 3]) -> (Start, [String; 3]) {
    let wide = |s: &str| s.encode_utf16().collect();
    (
        Start {
            image: wide(&image),
            command_line: wide(&command_line),
            parent: wide(&parent),
            extra: vec![],
        },
        [image, command_line, parent],
    )
}

fn run(content: &Content<'_>, event: &Start, scratch: &mut [u64]) -> usize {
    let (mut m, mut u) = ([0u32; 32], [0u32; 32]);
    content.evaluate(&event, scratch, RuleIds { matched: &mut m, undecided: &mut u }).unwrap().matched
}

/// The work units `event` charges (the kernel's limit: `EVENT_WORK_LIMIT`).
fn units(content: &Content<'_>, event: &Start) -> u64 {
    let (mut m, mut u) = ([0u32; 32], [0u32; 32]);
    let mut scratch = vec![0u64; content.scratch_words()];
    let mut meter = Meter::new(u64::MAX);
    let ids = RuleIds { matched: &mut m, undecided: &mut u };
    content.evaluate_metered(&event, &mut scratch, ids, &mut meter).unwrap();
    meter.used()
}

fn benches(c: &mut Criterion) {
    // Literals only: the content every earlier figure was measured on.
    let rules = literal_rules(1400, 14);
    let bytes = build(&rules, &SCHEMA, 1).unwrap();
    let content = validate(&bytes, &SCHEMA).unwrap();
    describe("SigmaHQ-shaped content, literals only", &rules, &content, bytes.len());
    // The same rules with SigmaHQ's share of globs and regular expressions.
    let (mixed_rules, mix) = with_globs_and_regexes(literal_rules(1400, 14));
    let mixed_bytes = build(&mixed_rules, &SCHEMA, 1).unwrap();
    let mixed = validate(&mixed_bytes, &SCHEMA).unwrap();
    describe("SigmaHQ-shaped content, globs and regexes", &mixed_rules, &mixed, mixed_bytes.len());
    eprintln!(
        "  of which {} rules with {} glob values, {} rules with {} regular expressions; no literal gates {} \
         of them, nor {} with an OriginalFileName alternative; {} rules of negations only",
        mix.glob_rules,
        mix.glob_values,
        mix.regex_rules,
        mix.regex_values,
        mix.ungated,
        mix.beside_companion,
        mix.negation_only
    );

    // The same shapes with values in Windows' vocabulary, on a start in that vocabulary.
    let what = "SigmaHQ-shaped content in Windows' vocabulary";
    let vocab_rules = vocabulary_rules(1400, 14);
    let vocab_bytes = built(&format!("{what}, literals only"), &vocab_rules);
    let vocab = validate(&vocab_bytes, &SCHEMA).unwrap();
    let vocab_mixed_rules = with_globs_and_regexes(vocabulary_rules(1400, 14)).0;
    let vocab_mixed_bytes = built(&format!("{what}, globs and regexes"), &vocab_mixed_rules);
    let vocab_mixed = validate(&vocab_mixed_bytes, &SCHEMA).unwrap();
    let vocab_small = build(&vocabulary_rules(10, 14), &SCHEMA, 1).unwrap();
    let vocab_small = validate(&vocab_small, &SCHEMA).unwrap();

    let mut group = c.benchmark_group("v2_validate");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("validate 1400 rules", |b| b.iter(|| validate(black_box(&bytes), &SCHEMA).is_ok()));
    // The checksum validation computes, alone: the part bound by the bytes' length.
    group.bench_function("checksum 1400 rules", |b| {
        b.iter(|| ringfence_content::content_checksum(black_box(&bytes)))
    });
    let mut copy = vec![0u8; bytes.len()];
    group.bench_function("memcpy (baseline)", |b| {
        b.iter(|| {
            copy.copy_from_slice(black_box(&bytes));
            black_box(&copy);
        })
    });
    group.throughput(Throughput::Bytes(mixed_bytes.len() as u64));
    group.bench_function("validate 1400 rules with globs and regexes", |b| {
        b.iter(|| validate(black_box(&mixed_bytes), &SCHEMA).is_ok())
    });
    group.finish();

    let (event, strings) = typical();
    eprintln!(
        "a typical start charges {} work units with the literal-only content, {} with globs and regexes",
        units(&content, &event),
        units(&mixed, &event)
    );
    let (vocab_event, _) = start(vocabulary_start());
    assert_eq!((vocab_event.image.len(), vocab_event.command_line.len()), (120, 400));
    eprintln!(
        "a typical start in Windows' vocabulary charges {} work units with the literal-only content, {} with \
         globs and regexes",
        units(&vocab, &vocab_event),
        units(&vocab_mixed, &vocab_event)
    );
    let small_rules = literal_rules(10, 14);
    let small = build(&small_rules, &SCHEMA, 1).unwrap();
    let small = validate(&small, &SCHEMA).unwrap();
    let scratch_words = [&content, &mixed, &vocab, &vocab_mixed].map(Content::scratch_words);
    let mut scratch = vec![0u64; scratch_words.into_iter().max().unwrap()];
    // The vocabulary contents with the transition table a sensor builds when it accepts them.
    let tables = [&vocab_small, &vocab, &vocab_mixed].map(|content| {
        let mut words = vec![0u32; content.transition_words()];
        content.build_transitions(&mut words).unwrap();
        words
    });
    let [small_rows, vocab_rows, mixed_rows] = [0, 1, 2].map(|i| {
        let content = [&vocab_small, &vocab, &vocab_mixed][i];
        content.with_transitions(&tables[i])
    });
    for (what, content, rowed) in [
        ("10 rules", &vocab_small, &small_rows),
        ("literals", &vocab, &vocab_rows),
        ("globs and regexes", &vocab_mixed, &mixed_rows),
    ] {
        eprintln!(
            "transition table of the vocabulary content, {what}: {} words; the typical start charges {} work \
             units with it, {} without",
            content.transition_words(),
            units(rowed, &vocab_event),
            units(content, &vocab_event)
        );
    }
    let mut group = c.benchmark_group("v2_evaluate_process_start");
    let cases: [(&str, u32, &Content<'_>, &Start); 9] = [
        ("automata", 10, &small, &event),
        ("automata", 1400, &content, &event),
        ("automata with globs and regexes", 1400, &mixed, &event),
        ("vocabulary", 10, &vocab_small, &vocab_event),
        ("vocabulary", 1400, &vocab, &vocab_event),
        ("vocabulary with globs and regexes", 1400, &vocab_mixed, &vocab_event),
        ("vocabulary, transition table", 10, &small_rows, &vocab_event),
        ("vocabulary, transition table", 1400, &vocab_rows, &vocab_event),
        ("vocabulary with globs and regexes, transition table", 1400, &mixed_rows, &vocab_event),
    ];
    for (name, rule_count, content, event) in cases {
        group.bench_with_input(BenchmarkId::new(name, rule_count), &rule_count, |b, _| {
            b.iter(|| run(content, black_box(event), &mut scratch))
        });
    }
    // Baseline: every value searched on its own, over lower-cased UTF-8.
    let lower: Vec<String> = strings.iter().map(|s| s.to_lowercase()).collect();
    let needles: Vec<(usize, memchr::memmem::Finder<'static>)> = rules
        .iter()
        .flat_map(|r| &r.predicates)
        .flat_map(|p| {
            let slot = match p.field {
                IMAGE => 0,
                COMMAND_LINE => 1,
                _ => 2,
            };
            p.values.iter().map(move |v| {
                let ValueSpec::Text(v) = v else { unreachable!() };
                (slot, memchr::memmem::Finder::new(v.to_lowercase().as_bytes()).into_owned())
            })
        })
        .collect();
    group.bench_with_input(BenchmarkId::new("memmem per value (baseline)", 1400), &1400, |b, _| {
        b.iter(|| {
            needles.iter().filter(|(slot, f)| f.find(black_box(lower[*slot].as_bytes())).is_some()).count()
        })
    });
    // Baselines for the scans alone: the `aho-corasick` crate finding every
    // occurrence of every pattern of the vocabulary content, one automaton a
    // field, over the start's lower-cased UTF-8 (its folding not counted), as
    // the crate chooses (a contiguous NFA at this size) and as a full DFA.
    let vocab_lower = vocabulary_start().map(|s| s.to_lowercase());
    let scanners = [None, Some(aho_corasick::AhoCorasickKind::DFA)].map(|kind| {
        [IMAGE, COMMAND_LINE, PARENT_IMAGE].map(|field| {
            let predicates = vocab_rules.iter().flat_map(|r| &r.predicates).filter(|p| p.field == field);
            let patterns = predicates.flat_map(|p| &p.values).map(|v| match v {
                ValueSpec::Text(v) => v.to_lowercase(),
                _ => unreachable!("vocabulary_rules' values are text"),
            });
            aho_corasick::AhoCorasick::builder().kind(kind).build(patterns).unwrap()
        })
    });
    let scan = |per_field: &[aho_corasick::AhoCorasick; 3]| {
        let fields = per_field.iter().zip(&vocab_lower);
        fields.map(|(ac, text)| ac.find_overlapping_iter(black_box(text.as_str())).count()).sum::<usize>()
    };
    let baseline = |per_field: &[aho_corasick::AhoCorasick; 3]| {
        let memory: usize = per_field.iter().map(aho_corasick::AhoCorasick::memory_usage).sum();
        format!("vocabulary, aho-corasick {:?}, {memory} bytes (baseline)", per_field[1].kind())
    };
    for per_field in &scanners {
        eprintln!(
            "aho-corasick: {} occurrences of values (each rule's copy counted) in the start",
            scan(per_field)
        );
        group.bench_function(baseline(per_field), |b| b.iter(|| scan(per_field)));
    }
    // Baseline: a copy of the event's strings (552 units).
    let units: Vec<u16> =
        [&event.image, &event.command_line, &event.parent].into_iter().flatten().copied().collect();
    group.bench_function("copy of the event's strings (baseline)", |b| {
        b.iter(|| black_box(black_box(&units).clone()))
    });
    group.finish();

    // The same starts with cold caches and TLB, as a callback meets its content
    // after the rest of the machine has run: each evaluation after a sweep of 128 MiB.
    let mut group = cold_group(c, "v2_evaluate_process_start_cold");
    // A few microseconds each: one evaluation a sample, 100 samples.
    group.sample_size(100).warm_up_time(std::time::Duration::from_millis(1));
    group.measurement_time(std::time::Duration::from_millis(1));
    let mut sweep = Sweep::new();
    for (rule_count, content) in [(10, &small_rows), (1400, &vocab_rows)] {
        group.bench_with_input(
            BenchmarkId::new("vocabulary, transition table", rule_count),
            &rule_count,
            |b, _| sweep.time(b, || run(content, black_box(&vocab_event), &mut scratch)),
        );
    }
    for per_field in &scanners {
        group.bench_function(baseline(per_field), |b| sweep.time(b, || scan(per_field)));
    }
    group.finish();
}

/// One rule with one regular expression (SigmaHQ's shape of an encoded-command
/// check) over the typical 400-unit command line, which it does not match (the
/// whole text is read), beside the `regex` crate's `is_match` on the same text in UTF-8.
fn regex_benches(c: &mut Criterion) {
    const SOURCE: &str = r"\s-(e|en|enc|enco|encodedcommand)\s+[A-Za-z0-9+/=]{20,}";
    let rule = RuleSpec {
        id: 1,
        kind: EventKind::ProcessStart,
        role: Role::Detection,
        name: "regex".into(),
        meta: String::new(),
        predicates: vec![PredicateSpec {
            case_insensitive: true,
            ..predicate(COMMAND_LINE, OperatorSpec::Regex, vec![SOURCE.into()])
        }],
        condition: ExprSpec::Predicate(0),
    };
    let bytes = build(&[rule], &SCHEMA, 1).unwrap();
    let content = validate(&bytes, &SCHEMA).unwrap();
    let (event, [_, command_line, _]) = typical();
    let oracle = regex::RegexBuilder::new(SOURCE).case_insensitive(true).build().unwrap();
    assert_eq!(run(&content, &event, &mut [0u64; 8]), usize::from(oracle.is_match(&command_line)));
    let mut group = c.benchmark_group("v2_regex");
    group.throughput(Throughput::Elements(command_line.len() as u64));
    group.bench_function("regex predicate, 400-unit command line", |b| {
        let mut scratch = vec![0u64; content.scratch_words()];
        b.iter(|| run(&content, black_box(&event), &mut scratch))
    });
    group.bench_function("regex::Regex::is_match (baseline)", |b| {
        b.iter(|| oracle.is_match(black_box(&command_line)))
    });
    group.finish();
}

criterion_group!(v2, benches, regex_benches);
criterion_main!(v2);
