//! The costliest content the validator accepts against the longest command
//! line a process start can carry, beside the same searches made by
//! `memchr::memmem` (a tuned substring search) over the same bytes and a copy
//! of those bytes. Goal: under 1 ms per event for any accepted content. Also
//! unvalidated bytes far over the budget (255 hostile conditions in one rule),
//! which evaluation cuts off at the budget.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use criterion::{Criterion, criterion_group, criterion_main};
use ringfence_content::{MAX_EVALUATION_COST, Meter, compile_rules, evaluate_raw, validate};
use ringfence_wire::SCHEMA;
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
        format!("costliest accepted content ({conditions} conditions), 32,767-unit command line"),
        |b| b.iter(|| content.evaluate(black_box(&event))),
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
    group
        .bench_function(format!("costliest accepted content against Two-Way ({rules} rules: {name})"), |b| {
            b.iter(|| against.evaluate(black_box(&against_event)))
        });
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
    group.bench_function("unvalidated: 255 hostile conditions in one rule, cut off at the budget", |b| {
        b.iter(|| evaluate_raw(black_box(&raw), &event))
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

criterion_group!(benches, worst_case);
criterion_main!(benches);
