//! Enrichment on the companion's hot path, and cold hashing.
//!
//! - `enrich_warm_1000_events`: a busy machine's mix (10 % process starts with
//!   a parent, 10 % exits, 80 % image loads) over 40 distinct files, in READ
//!   batches of 100 events: DOS path conversion of every path (a start's own
//!   and its parent's image), the user's account, and the identity of each
//!   start's and load's image file from a warm cache (with the stat that
//!   checks a file is unchanged, once per distinct path and batch). Baseline in
//!   the same run: a stat of the event's file, per event.
//! - `cold_hash_*`: one file's identity computed from nothing (ringfence's
//!   cache empty; the OS page cache warm, as for the baseline), beside
//!   `sha256sum` on the same file, spawned as a process, in the same run.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringfence_companion::enrich::account::{AccountName, AccountTable, Accounts};
use ringfence_companion::enrich::dos_path::VolumeMap;
use ringfence_companion::enrich::file::{FileLimits, identify};
use ringfence_companion::enrich::files::{FileConfig, FileEnrichment, FileIdentities};
use ringfence_companion::enrich::hashes::HashAlgorithms;
use ringfence_companion::enrich::sid::Sid;

const FIXTURE: &str = "/usr/x86_64-w64-mingw32/bin/libgcrypt-20.dll";
const SMALL_FIXTURE: &str = "/usr/x86_64-w64-mingw32/lib/zlib1.dll";
/// Events per READ: a 64 KiB READ holds one to two hundred records.
const BATCH: usize = 100;

struct Event {
    nt_paths: Vec<Vec<u16>>,
    sid: Sid,
}

/// 40 files named as their DOS paths inside `root`, and 1,000 events over them.
fn workload(root: &Path) -> (Vec<Event>, VolumeMap) {
    let map =
        VolumeMap::from_dos_devices([('C', r"\Device\HarddiskVolume3".to_owned())], r"C:\Windows").unwrap();
    let names: Vec<String> = (0..40).map(|i| format!(r"Windows\System32\module{i:02}.dll")).collect();
    for name in &names {
        std::fs::copy(SMALL_FIXTURE, root.join(format!(r"C:\{name}")))
            .expect("the zlib1.dll fixture (cargo xtask bench installs it)");
    }
    let user: Sid = "S-1-5-21-1-2-3-1001".parse().unwrap();
    let system: Sid = "S-1-5-18".parse().unwrap();
    let nt = |i: usize| -> Vec<u16> {
        format!(r"\Device\HarddiskVolume3\{}", names[i % names.len()]).encode_utf16().collect()
    };
    let events = (0..1000)
        .map(|i| {
            let sid = if i % 3 == 0 { system.clone() } else { user.clone() };
            let nt_paths = match i % 10 {
                0 => vec![nt(i), nt(i + 7)], // a process start: its image and its parent's
                9 => vec![nt(i)],            // an exit: its image (no file identity)
                _ => vec![nt(i)],            // an image load
            };
            Event { nt_paths, sid }
        })
        .collect();
    (events, map)
}

fn host_path(root: &Path, dos: &[u16]) -> PathBuf {
    root.join(String::from_utf16_lossy(dos))
}

fn warm(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let (events, map) = workload(root);
    let files = FileIdentities::new(FileConfig::default()).unwrap();
    let table =
        AccountTable(vec![("S-1-5-21-1-2-3-1001".parse().unwrap(), AccountName::new("WS01", "alice"))]);
    let accounts = Accounts::new(table, 1024, 64).unwrap();
    let deadline = || Instant::now() + Duration::from_secs(30);
    // Warm the caches.
    for event in &events {
        accounts.resolve(&event.sid, deadline());
        for nt in &event.nt_paths {
            let dos = map.to_dos(nt);
            assert!(matches!(
                files.identify(&host_path(root, &dos.path), deadline()),
                FileEnrichment::Done(_)
            ));
        }
    }
    let mut group = c.benchmark_group("enrich_warm_1000_events");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.bench_function("baseline_stat_only", |b| {
        b.iter(|| {
            let mut n = 0u64;
            for event in &events {
                let dos = map.to_dos(&event.nt_paths[0]);
                n += std::fs::metadata(host_path(root, &dos.path)).map(|m| m.len()).unwrap_or(0);
            }
            n
        })
    });
    group.bench_function("dos_path_account_file_identity", |b| {
        b.iter(|| {
            let mut enriched = 0u32;
            let mut batch = files.batch();
            for (i, event) in events.iter().enumerate() {
                if i % BATCH == 0 {
                    batch = files.batch();
                }
                black_box(accounts.resolve(&event.sid, deadline()));
                for (n, nt) in event.nt_paths.iter().enumerate() {
                    let dos = map.to_dos(nt);
                    // Exits name their image, starts their parent's: converted, not identified.
                    if i % 10 == 9 || n > 0 {
                        black_box(dos);
                        continue;
                    }
                    if let FileEnrichment::Done(_) = batch.identify(&host_path(root, &dos.path), deadline()) {
                        enriched += 1;
                    }
                }
            }
            enriched
        })
    });
    group.finish();
}

/// A file of `size` bytes: the fixture repeated.
fn big_file(dir: &Path, size: usize) -> PathBuf {
    let chunk = std::fs::read(FIXTURE).expect("the libgcrypt-20.dll fixture (cargo xtask bench installs it)");
    let mut bytes = Vec::with_capacity(size);
    while bytes.len() < size {
        let take = chunk.len().min(size - bytes.len());
        bytes.extend_from_slice(&chunk[..take]);
    }
    let path = dir.join("big.dll");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn cold(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    for (name, path) in
        [("cold_hash_6MiB_dll", PathBuf::from(FIXTURE)), ("cold_hash_64MiB", big_file(dir.path(), 64 << 20))]
    {
        let size = std::fs::metadata(&path).unwrap().len();
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(size));
        group.sample_size(20);
        group.bench_function("baseline_sha256sum_process", |b| {
            b.iter(|| {
                let out = Command::new("sha256sum").arg(&path).output().unwrap();
                assert!(out.status.success());
                out.stdout.len()
            })
        });
        group.bench_function("ringfence_sha256", |b| {
            b.iter(|| identify(&path, HashAlgorithms::default(), FileLimits::default()).unwrap().size)
        });
        group.bench_function("ringfence_sha1_md5_sha256_imphash", |b| {
            b.iter(|| identify(&path, HashAlgorithms::ALL, FileLimits::default()).unwrap().size)
        });
        group.finish();
    }
}

criterion_group!(benches, warm, cold);
criterion_main!(benches);
