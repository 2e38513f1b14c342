//! Validation of a 1,000-rule content file, in bytes per second, beside
//! decoding the same rules from postcard with serde (a general-purpose
//! decoder that also checks what it reads) in the same group.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringfence_content::{SpecValue, compile_rules, validate};
use ringfence_wire::SCHEMA;
use serde::{Deserialize, Serialize};
use std::hint::black_box;

/// The same rules as plain serde types: the baseline's input.
#[derive(Serialize, Deserialize)]
struct SerdeRule {
    name: String,
    kind: u16,
    action: u8,
    conditions: Vec<SerdeCondition>,
}

#[derive(Serialize, Deserialize)]
struct SerdeCondition {
    field: u8,
    operator: u8,
    flags: u8,
    value: SerdeValue,
}

#[derive(Serialize, Deserialize)]
enum SerdeValue {
    Integer(u64),
    Bool(bool),
    Str(Vec<u16>),
}

fn validation(c: &mut Criterion) {
    let rules = common::rules(1000);
    let content = compile_rules(&rules, 1, &SCHEMA).unwrap();
    let serde_rules: Vec<SerdeRule> = rules
        .iter()
        .map(|r| SerdeRule {
            name: r.name.clone(),
            kind: r.kind.code(),
            action: r.action.code(),
            conditions: r
                .conditions
                .iter()
                .map(|c| SerdeCondition {
                    field: c.field,
                    operator: c.operator.code(),
                    flags: u8::from(c.negated) | (u8::from(c.case_insensitive) << 1),
                    value: match &c.value {
                        SpecValue::Integer(v) => SerdeValue::Integer(*v),
                        SpecValue::Bool(b) => SerdeValue::Bool(*b),
                        SpecValue::Str(s) => SerdeValue::Str(s.clone()),
                    },
                })
                .collect(),
        })
        .collect();
    let postcard_bytes = postcard::to_allocvec(&serde_rules).unwrap();

    let mut group = c.benchmark_group("validate_1000_rules");
    group.throughput(Throughput::Bytes(u64::try_from(content.len()).unwrap()));
    group.bench_function("ringfence validate", |b| {
        b.iter(|| validate(black_box(&content), &SCHEMA).unwrap().rule_count());
    });
    group.throughput(Throughput::Bytes(u64::try_from(postcard_bytes.len()).unwrap()));
    group.bench_function("serde + postcard decode (baseline)", |b| {
        b.iter(|| postcard::from_bytes::<Vec<SerdeRule>>(black_box(&postcard_bytes)).unwrap().len());
    });
    group.finish();
    eprintln!("content: {} bytes; postcard: {} bytes", content.len(), postcard_bytes.len());
}

criterion_group!(benches, validation);
criterion_main!(benches);
