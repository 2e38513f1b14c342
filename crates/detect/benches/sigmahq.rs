//! SigmaHQ's own rules in the kernel stage: every `rules*` folder of a SigmaHQ
//! snapshot lowered into one content format 2 (as `sigma-coverage` does), evaluated
//! on a typical process start (`SampleStart::typical`) with the kernel's per-event
//! limit, beside a copy of the event's strings in the same run. SigmaHQ's rules are
//! not in this repository (Detection Rule License): set `RINGFENCE_SIGMA_DIR` to a
//! snapshot's root; without it this benchmark measures nothing and says so.

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use ringfence_content::v2::{RuleIds, validate};
use ringfence_detect::coverage::SampleStart;
use ringfence_detect::{Compilation, lower};
use ringfence_wire::SCHEMA;

fn sigmahq(c: &mut Criterion) {
    let Some(root) = std::env::var_os("RINGFENCE_SIGMA_DIR").map(PathBuf::from) else {
        eprintln!("sigmahq: RINGFENCE_SIGMA_DIR is not set; nothing measured");
        return;
    };
    let mut compilation = Compilation::default();
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|p| {
            p.is_dir() && p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("rules"))
        })
        .collect();
    folders.sort();
    for folder in &folders {
        compilation.add_path(folder).unwrap_or_else(|e| panic!("{}: {e}", folder.display()));
    }
    let lowered = lower::lower(&compilation.rules, &SCHEMA, 1).expect("the rule set lowers");
    let content = validate(&lowered.content, &SCHEMA).expect("the lowered content validates");
    eprintln!(
        "sigmahq: {} rules compiled from {} folders, {} in the content ({} bytes)",
        compilation.rules.len(),
        folders.len(),
        lowered.lowered(),
        lowered.content.len()
    );
    // The transition table the driver builds when it accepts the content.
    let mut table = vec![0u32; content.transition_words()];
    content.build_transitions(&mut table).expect("sized by the content");
    let rowed = content.with_transitions(&table);
    let event = SampleStart::typical();
    let work = |content: &ringfence_content::v2::Content<'_>| {
        let mut scratch = vec![0u64; content.scratch_words()];
        let (mut matched, mut undecided) = ([0u32; 8], [0u32; 8]);
        let ids = RuleIds { matched: &mut matched, undecided: &mut undecided };
        let mut meter = ringfence_content::Meter::new(ringfence_content::v2::EVENT_WORK_LIMIT);
        content.evaluate_metered(&&event, &mut scratch, ids, &mut meter).expect("within the limit");
        meter.used()
    };
    eprintln!(
        "sigmahq: transition table {} words; the typical start charges {} work units with it, {} without",
        table.len(),
        work(&rowed),
        work(&content)
    );
    let mut scratch = vec![0u64; content.scratch_words()];
    let mut group = c.benchmark_group("sigmahq_process_start");
    for (name, content) in [
        ("kernel stage, typical start", &content),
        ("kernel stage with the transition table, typical start", &rowed),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let (mut matched, mut undecided) = ([0u32; 8], [0u32; 8]);
                let ids = RuleIds { matched: &mut matched, undecided: &mut undecided };
                std::hint::black_box(content.evaluate(&std::hint::black_box(&event), &mut scratch, ids))
            })
        });
    }
    let bytes: Vec<u16> =
        [&event.image, &event.command_line, &event.parent].into_iter().flatten().copied().collect();
    group.bench_function("baseline: copy of the event's strings", |b| {
        b.iter(|| std::hint::black_box(std::hint::black_box(&bytes).clone()))
    });
    group.finish();
}

criterion_group!(benches, sigmahq);
criterion_main!(benches);
