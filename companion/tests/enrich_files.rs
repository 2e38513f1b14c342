//! File identity: hashes of real PE files against coreutils, Sysmon's
//! HashAlgorithms syntax and Hashes form, unreadable and oversized files, the
//! cache keyed by path and stamp, and the deadline and queue bounds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use ringfence_companion::enrich::file::{FileFailure, FileLimits, PeUnavailable, identify};
use ringfence_companion::enrich::files::{
    FileConfig, FileEnrichment, FileIdentities, FileLookup, NotEnriched,
};
use ringfence_companion::enrich::hashes::{FileHashes, HashAlgorithms, HashAlgorithmsError};
use ringfence_companion::enrich::pe::PeError;

const ZLIB: &str = "/usr/x86_64-w64-mingw32/lib/zlib1.dll";
const GCRYPT64: &str = "/usr/x86_64-w64-mingw32/bin/libgcrypt-20.dll";
const GCRYPT32: &str = "/usr/i686-w64-mingw32/bin/libgcrypt-20.dll";

fn fixture(path: &str) -> &Path {
    let path = Path::new(path);
    assert!(
        path.exists(),
        "missing {}: run `cargo xtask test` (it installs Debian's mingw-w64 PE files)",
        path.display()
    );
    path
}

fn soon() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

/// What a coreutils tool (`sha256sum`, …) prints for `path`, upper-cased.
fn coreutils(tool: &str, path: &Path) -> String {
    let out = Command::new(tool).arg(path).output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_uppercase()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[test]
fn hashes_of_real_pe_files_equal_coreutils() {
    for path in [ZLIB, GCRYPT64, GCRYPT32, "/usr/i686-w64-mingw32/bin/hmac256.exe"].map(fixture) {
        let facts = identify(path, HashAlgorithms::ALL, FileLimits::default()).unwrap();
        let h = &facts.hashes;
        assert_eq!(hex(&h.sha256.unwrap()), coreutils("sha256sum", path), "{}", path.display());
        assert_eq!(hex(&h.sha1.unwrap()), coreutils("sha1sum", path), "{}", path.display());
        assert_eq!(hex(&h.md5.unwrap()), coreutils("md5sum", path), "{}", path.display());
        assert_eq!(facts.size, std::fs::metadata(path).unwrap().len());
    }
}

#[test]
fn the_hashes_field_is_written_in_sysmons_order_and_case() {
    let path = fixture(ZLIB);
    let facts = identify(path, HashAlgorithms::ALL, FileLimits::default()).unwrap();
    let imphash = format!("{:X}", facts.pe.as_ref().unwrap().imphash.unwrap());
    assert_eq!(imphash, "7054BC5AC8A978BBAE7B34D81F3160A3", "pefile's get_imphash, upper-cased");
    assert_eq!(
        facts.hashes.sysmon_form().unwrap(),
        format!(
            "SHA1={},MD5={},SHA256={},IMPHASH={imphash}",
            coreutils("sha1sum", path),
            coreutils("md5sum", path),
            coreutils("sha256sum", path)
        )
    );
}

#[test]
fn by_default_only_sha256_is_computed() {
    let facts = identify(fixture(ZLIB), HashAlgorithms::default(), FileLimits::default()).unwrap();
    assert_eq!(
        facts.hashes.sysmon_form().unwrap(),
        format!("SHA256={}", coreutils("sha256sum", Path::new(ZLIB)))
    );
}

#[test]
fn hash_algorithms_use_sysmons_syntax() {
    let parse = |s: &str| s.parse::<HashAlgorithms>();
    assert_eq!(
        parse("md5, SHA256 ,IMPHASH"),
        Ok(HashAlgorithms { sha1: false, md5: true, sha256: true, imphash: true })
    );
    assert_eq!(parse("sha-1,md-5,sha-256,imp-hash"), Ok(HashAlgorithms::ALL));
    assert_eq!(parse("*"), Ok(HashAlgorithms::ALL));
    assert_eq!(parse("ALL"), Ok(HashAlgorithms::ALL));
    assert_eq!(parse(""), Err(HashAlgorithmsError::Empty));
    assert_eq!(parse("md5,sha512"), Err(HashAlgorithmsError::Unknown { item: 1, name: "sha512".into() }));
    assert_eq!(parse("md5,,sha1"), Err(HashAlgorithmsError::Unknown { item: 1, name: String::new() }));
}

#[test]
fn an_image_without_imports_or_a_file_that_is_no_pe_writes_the_zero_imphash() {
    let hashes = FileHashes { imphash: Some(None), ..FileHashes::default() };
    assert_eq!(hashes.sysmon_form().as_deref(), Some("IMPHASH=00000000000000000000000000000000"));
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("run.cmd");
    std::fs::write(&script, "@echo off\r\necho hi\r\n").unwrap();
    let facts = identify(&script, HashAlgorithms::ALL, FileLimits::default()).unwrap();
    assert_eq!(facts.pe, Err(PeUnavailable::NotPe(PeError::NoDosHeader)));
    assert_eq!(facts.hashes.imphash, Some(None));
    assert_eq!(hex(&facts.hashes.sha256.unwrap()), coreutils("sha256sum", &script));
}

#[test]
fn files_that_cannot_be_read_give_a_reason_not_an_error_exit() {
    let dir = tempfile::tempdir().unwrap();
    let gone = dir.path().join("gone.exe");
    assert_eq!(identify(&gone, HashAlgorithms::ALL, FileLimits::default()), Err(FileFailure::NotFound));
    assert_eq!(identify(dir.path(), HashAlgorithms::ALL, FileLimits::default()), Err(FileFailure::NotAFile));
    let limits = FileLimits { max_file_bytes: 1000, ..FileLimits::default() };
    let size = std::fs::metadata(ZLIB).unwrap().len();
    assert_eq!(
        identify(fixture(ZLIB), HashAlgorithms::ALL, limits),
        Err(FileFailure::TooLarge { size, limit: 1000 })
    );
}

#[test]
fn the_pe_parser_reads_no_more_than_its_budget_and_the_hashes_stay() {
    let limits = FileLimits { max_pe_read_bytes: 512, ..FileLimits::default() };
    let facts = identify(fixture(ZLIB), HashAlgorithms::ALL, limits).unwrap();
    assert_eq!(facts.pe, Err(PeUnavailable::ReadBudgetExceeded { limit: 512 }));
    assert_eq!(facts.hashes.imphash, Some(None));
    assert_eq!(hex(&facts.hashes.sha256.unwrap()), coreutils("sha256sum", Path::new(ZLIB)));
}

fn copy_to(dir: &Path, from: &str, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(fixture(from), &to).unwrap();
    to
}

fn sha256_of(enrichment: &FileEnrichment) -> String {
    match enrichment {
        FileEnrichment::Done(outcome) => hex(&outcome.as_ref().as_ref().unwrap().hashes.sha256.unwrap()),
        other => panic!("not enriched: {other:?}"),
    }
}

#[test]
fn a_file_is_read_once_then_answered_from_the_cache_until_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_to(dir.path(), ZLIB, "app.dll");
    let files = FileIdentities::new(FileConfig::default()).unwrap();
    let first = files.identify(&path, soon());
    let second = files.identify(&path, soon());
    assert_eq!(sha256_of(&first), coreutils("sha256sum", &path));
    assert_eq!(first, second);
    let counters = files.counters();
    assert_eq!(
        (counters.computed.load(Ordering::Relaxed), counters.cache_hits.load(Ordering::Relaxed)),
        (1, 1)
    );
    // Replaced under the same name: read again, new hash.
    std::fs::copy(fixture(GCRYPT64), &path).unwrap();
    let replaced = files.identify(&path, soon());
    assert_eq!(sha256_of(&replaced), coreutils("sha256sum", Path::new(GCRYPT64)));
    assert_eq!(counters.computed.load(Ordering::Relaxed), 2);
}

#[test]
fn the_cache_holds_at_most_its_capacity() {
    let dir = tempfile::tempdir().unwrap();
    let files = FileIdentities::new(FileConfig { cache_entries: 2, ..FileConfig::default() }).unwrap();
    for name in ["a.dll", "b.dll", "c.dll"] {
        let path = copy_to(dir.path(), ZLIB, name);
        assert!(matches!(files.identify(&path, soon()), FileEnrichment::Done(_)));
    }
    assert_eq!((files.cached(), files.evictions()), (2, 1));
}

#[test]
fn a_gone_file_is_answered_at_once_and_counted() {
    let files = FileIdentities::new(FileConfig::default()).unwrap();
    let enrichment = files.identify(Path::new("/nonexistent/ringfence/x.exe"), soon());
    assert_eq!(enrichment, FileEnrichment::Done(Arc::new(Err(FileFailure::NotFound))));
    assert_eq!(files.counters().unreadable.load(Ordering::Relaxed), 1);
}

#[test]
fn an_answer_later_than_the_deadline_leaves_the_event_not_enriched_and_serves_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_to(dir.path(), GCRYPT64, "big.dll");
    let files =
        FileIdentities::new(FileConfig { algorithms: HashAlgorithms::ALL, ..FileConfig::default() }).unwrap();
    // A deadline already past: a 6 MiB file cannot be read in the time it takes to look.
    assert_eq!(files.identify(&path, Instant::now()), FileEnrichment::NotEnriched(NotEnriched::TimedOut));
    assert_eq!(files.counters().timed_out.load(Ordering::Relaxed), 1);
    let later = files.identify(&path, soon());
    assert_eq!(sha256_of(&later), coreutils("sha256sum", &path));
    assert_eq!(files.counters().computed.load(Ordering::Relaxed), 1, "the late answer was not thrown away");
}

#[test]
fn a_full_queue_refuses_at_once_and_counts_the_events_it_refused() {
    let dir = tempfile::tempdir().unwrap();
    let config =
        FileConfig { algorithms: HashAlgorithms::ALL, threads: 1, queue: 1, ..FileConfig::default() };
    let files = FileIdentities::new(config).unwrap();
    let paths: Vec<PathBuf> = (0..4).map(|i| copy_to(dir.path(), GCRYPT64, &format!("{i}.dll"))).collect();
    // One file being read and one queued at most: of four, two or more are refused.
    let lookups: Vec<FileLookup> = paths.iter().map(|p| files.request(p)).collect();
    let outcomes: Vec<FileEnrichment> = lookups.into_iter().map(|l| files.resolve(l, soon())).collect();
    let refused = outcomes.iter().filter(|o| **o == FileEnrichment::NotEnriched(NotEnriched::Busy)).count();
    assert!(refused >= 2, "{outcomes:?}");
    assert_eq!(files.counters().busy.load(Ordering::Relaxed), refused as u64);
}

#[test]
fn within_one_batch_a_path_is_answered_once_and_a_new_batch_looks_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = copy_to(dir.path(), ZLIB, "app.dll");
    let files = FileIdentities::new(FileConfig::default()).unwrap();
    let mut batch = files.batch();
    let first = batch.identify(&path, soon());
    std::fs::copy(fixture(GCRYPT64), &path).unwrap();
    // Every event of a batch happened before the READ returned it: the batch keeps its answer.
    assert_eq!(batch.identify(&path, soon()), first);
    assert_eq!(sha256_of(&first), coreutils("sha256sum", Path::new(ZLIB)));
    let next = files.batch().identify(&path, soon());
    assert_eq!(sha256_of(&next), coreutils("sha256sum", Path::new(GCRYPT64)));
    let counters = files.counters();
    assert_eq!(
        (counters.requests.load(Ordering::Relaxed), counters.computed.load(Ordering::Relaxed)),
        (3, 2)
    );
}
