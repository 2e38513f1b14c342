//! Cold caches for the benches: a sweep of a buffer larger than the
//! last-level cache before each timed evaluation, as a sensor's callback meets
//! its content after the rest of the machine has run.
#![allow(dead_code, unreachable_pub)]

use criterion::Criterion;
use std::hint::black_box;

/// A buffer larger than the last-level cache (32 MiB here), written through
/// before each timed evaluation so that it starts with cold caches and TLB.
pub struct Sweep(Vec<u64>);

impl Sweep {
    pub fn new() -> Self {
        Sweep(vec![0; (128 << 20) / 8])
    }

    /// Times `run`, each call after a sweep (not timed).
    pub fn time<R>(&mut self, b: &mut criterion::Bencher<'_>, mut run: impl FnMut() -> R) {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                // One write per cache line: every line of the buffer is fetched and dirtied.
                for word in self.0.iter_mut().step_by(8) {
                    *word = word.wrapping_add(1);
                }
                black_box(&self.0);
                let start = std::time::Instant::now();
                black_box(run());
                total += start.elapsed();
            }
            total
        })
    }
}

/// A group for cold evaluations: each costs a sweep of 128 MiB besides itself,
/// so a few samples of a few iterations.
pub fn cold_group<'c>(
    c: &'c mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'c, criterion::measurement::WallTime> {
    let mut group = c.benchmark_group(name);
    group.sample_size(10).warm_up_time(std::time::Duration::from_millis(100));
    group
        .measurement_time(std::time::Duration::from_millis(300))
        .sampling_mode(criterion::SamplingMode::Flat);
    group
}
