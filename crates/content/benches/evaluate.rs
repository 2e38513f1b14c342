//! Evaluation per event with 10, 100 and 1,000 realistic rules, beside the
//! same 1,000 rules compiled without the index (a scan of every rule, with the
//! same matching code: what the index saves), for a
//! typical process start (120-unit image path, 400-unit command line) and an
//! image load. Targets: at most 1 µs per event at 1,000 rules and at most 4×
//! the cost at 10 rules.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use ringfence_content::{Content, compile_rules, compile_rules_unindexed, validate};
use ringfence_wire::SCHEMA;
use std::hint::black_box;

fn evaluation(c: &mut Criterion) {
    let path = common::filled("\\??\\C:\\Program Files\\Contoso\\Product Suite\\bin\\", 120);
    let args = common::filled(
        "\"C:\\Program Files\\Contoso\\Product Suite\\bin\\agent.exe\" --config C:\\ProgramData\\Contoso\\agent.toml ",
        400,
    );
    let dll = common::filled("\\Device\\HarddiskVolume3\\Program Files\\Contoso\\Product Suite\\bin\\", 100);
    let dll: Vec<u16> = dll.into_iter().chain(common::wide("contoso.dll")).collect();
    let events =
        [("process_start", common::process_start(&path, &args)), ("image_load", common::image_load(&dll))];

    for (label, event) in &events {
        let mut group = c.benchmark_group(format!("evaluate_{label}"));
        for n in [10, 100, 1000] {
            let bytes = compile_rules(&common::rules(n), 1, &SCHEMA).unwrap();
            let content = validate(&bytes, &SCHEMA).unwrap();
            group.bench_with_input(BenchmarkId::new("indexed", n), &n, |b, _| {
                b.iter(|| content.evaluate(black_box(event)));
            });
        }
        let bytes = compile_rules_unindexed(&common::rules(1000), 1, &SCHEMA).unwrap();
        // Without the index, 1,000 rules' `contains` over the longest command line
        // are over the evaluation cost budget: the validator refuses this content,
        // which stays here as the baseline only.
        let unindexed = Content::from_validated(&bytes);
        group.bench_with_input(BenchmarkId::new("unindexed scan (baseline)", 1000), &1000, |b, _| {
            b.iter(|| unindexed.evaluate(black_box(event)));
        });
        group.finish();
    }
}

criterion_group!(benches, evaluation);
criterion_main!(benches);
