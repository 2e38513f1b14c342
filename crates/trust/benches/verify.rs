//! Ed25519 verification of signed content beside validating the same content: the largest
//! content format 1 holds (4,096 rules, 16,384 conditions, a full string pool), and an
//! envelope of exactly 1 MiB of content bytes. Same run, same machine, same bytes.
#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringfence_content::{Action, ConditionSpec, Operator, RuleSpec, SpecValue, compile_rules, validate};
use ringfence_trust::envelope::{self, Declaration, Envelope};
use ringfence_trust::signature::sign_in_place;
use ringfence_trust::{KeySource, RING_GENERAL, SigningKey, TrustedKeys, verify};
use ringfence_wire::schema::field::ProcessStart as PS;
use ringfence_wire::{EventKind, SCHEMA};
use std::hint::black_box;

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// As large as the format's table limits allow.
fn largest_content() -> Vec<u8> {
    let rules: Vec<RuleSpec> = (0..4096)
        .map(|i| RuleSpec {
            name: format!("r{i}"),
            kind: EventKind::ProcessStart,
            action: if i % 2 == 0 { Action::Include } else { Action::Exclude },
            conditions: (0..4)
                .map(|j| ConditionSpec {
                    field: PS::command_line as u8,
                    // `ends_with`, not `contains`: 4,096 rules of `contains` on the command
                    // line would be over the evaluation cost budget.
                    operator: Operator::EndsWith,
                    negated: false,
                    case_insensitive: true,
                    value: SpecValue::Str(wide(&format!("{i:04}-{j}-pattern"))),
                })
                .collect(),
        })
        .collect();
    compile_rules(&rules, 1, &SCHEMA).unwrap()
}

fn seal(content: &[u8], key: &SigningKey) -> Vec<u8> {
    let d = Declaration {
        signer: key.public_key(),
        ring: RING_GENERAL,
        sensor_min: 0,
        sensor_max: u32::MAX,
        content_version: 1,
    };
    let mut out = vec![0u8; envelope::envelope_len(content.len()).unwrap()];
    envelope::emit(&d, content, &mut out).unwrap();
    assert!(sign_in_place(&mut out, key));
    out
}

fn verification(c: &mut Criterion) {
    let key = SigningKey::from_seed([7; 32]).unwrap();
    let mut trusted = TrustedKeys::new();
    trusted.add(key.public_key(), KeySource::Provisioned).unwrap();

    let content = largest_content();
    validate(&content, &SCHEMA).unwrap();
    let sealed = seal(&content, &key);
    let mut group = c.benchmark_group(format!("largest content ({} bytes)", content.len()));
    group.throughput(Throughput::Bytes(content.len() as u64));
    group.bench_function("verify signature", |b| {
        b.iter(|| {
            let e = Envelope::new_checked(black_box(&sealed)).unwrap();
            verify(&e, &trusted).unwrap().content.len()
        })
    });
    group.bench_function("validate (baseline)", |b| {
        b.iter(|| validate(black_box(&content), &SCHEMA).unwrap().rule_count())
    });
    group.finish();

    let mebibyte: Vec<u8> = (0..1 << 20).map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let sealed = seal(&mebibyte, &key);
    let mut group = c.benchmark_group("1 MiB of content bytes");
    group.throughput(Throughput::Bytes(mebibyte.len() as u64));
    group.bench_function("verify signature", |b| {
        b.iter(|| {
            let e = Envelope::new_checked(black_box(&sealed)).unwrap();
            verify(&e, &trusted).unwrap().content.len()
        })
    });
    group.bench_function("copy the bytes (baseline)", |b| b.iter(|| black_box(&mebibyte).to_vec()));
    group.finish();
}

criterion_group!(benches, verification);
criterion_main!(benches);
