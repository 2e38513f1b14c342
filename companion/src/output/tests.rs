//! The rotating log against the real file system, with faults injected.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use super::faults::{Faults, FaultyStorage};
use super::rotating::is_output_file;
use super::*;
use crate::config::{FileOutput, Format, FsyncPolicy};

fn settings(dir: &Path, rotate_size: u64) -> FileOutput {
    FileOutput {
        format: Format::Ecs,
        directory: dir.to_owned(),
        name: "ringfence".into(),
        rotate_size,
        rotate_age: None,
        keep_files: 100,
        keep_bytes: None,
        fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
    }
}

/// 2026-11-25T10:15:00Z plus `ms`.
fn at(ms: u64) -> Now {
    Now {
        monotonic: Duration::from_millis(ms),
        wall: UNIX_EPOCH + Duration::from_secs(1_795_601_700) + Duration::from_millis(ms),
    }
}

/// The files of the folder, by name, with their contents.
fn files(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().into_string().unwrap(), std::fs::read_to_string(e.path()).unwrap())
        })
        .collect();
    out.sort();
    out
}

fn line(n: u64) -> String {
    format!("{{\"event\":{{\"sequence\":{n}}}}}\n")
}

#[test]
fn a_full_file_is_renamed_once_to_its_rotation_time_and_a_new_one_started() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = RotatingLog::new(settings(dir.path(), 60), FileSystem);
    assert_eq!(log.start(at(0)).unwrap(), Recovered::default());
    for n in 0..3 {
        log.append(line(n).as_bytes(), at(n * 10)).unwrap();
    }
    // Each line is 25 bytes: the third would pass 60.
    assert_eq!(
        files(dir.path()),
        [
            ("ringfence-20261125T101500.020Z.jsonl".to_owned(), line(0) + &line(1)),
            ("ringfence.jsonl".to_owned(), line(2)),
        ]
    );
    assert_eq!(log.counters().rotations, 1);
    assert_eq!(log.bytes_on_disk().unwrap(), 75);
}

#[test]
fn a_batch_larger_than_the_limit_goes_whole_into_a_file_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = RotatingLog::new(settings(dir.path(), 30), FileSystem);
    log.start(at(0)).unwrap();
    log.append(line(1).as_bytes(), at(1)).unwrap();
    let big = line(2) + &line(3);
    log.append(big.as_bytes(), at(2)).unwrap();
    assert_eq!(files(dir.path()).into_iter().map(|(_, text)| text).collect::<Vec<_>>(), [line(1), big]);
}

#[test]
fn rotation_by_age_closes_files_that_have_lines_and_leaves_empty_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = RotatingLog::new(
        FileOutput { rotate_age: Some(Duration::from_secs(60)), ..settings(dir.path(), 1 << 20) },
        FileSystem,
    );
    log.start(at(0)).unwrap();
    log.tick(at(120_000)).unwrap();
    assert_eq!(log.counters().rotations, 0, "an empty file is not rotated");
    log.append(line(1).as_bytes(), at(120_000)).unwrap();
    log.tick(at(150_000)).unwrap();
    assert_eq!(log.counters().rotations, 0, "30 s old");
    log.tick(at(181_000)).unwrap();
    assert_eq!(
        files(dir.path()),
        [
            ("ringfence-20261125T101801.000Z.jsonl".to_owned(), line(1)),
            ("ringfence.jsonl".to_owned(), String::new())
        ]
    );
}

#[test]
fn rotations_in_the_same_millisecond_get_distinct_names_in_the_order_they_were_made() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = RotatingLog::new(settings(dir.path(), 1 << 20), FileSystem);
    log.start(at(0)).unwrap();
    for n in 0..3 {
        log.append(line(n).as_bytes(), at(5)).unwrap();
        log.rotate(at(5)).unwrap();
    }
    let (names, texts): (Vec<String>, Vec<String>) = files(dir.path()).into_iter().unzip();
    assert_eq!(texts, [line(0), line(1), line(2), String::new()]);
    assert_eq!(
        names,
        [
            "ringfence-20261125T101500.005Z.jsonl",
            "ringfence-20261125T101500.006Z.jsonl",
            "ringfence-20261125T101500.007Z.jsonl",
            "ringfence.jsonl"
        ]
    );
    assert!(names.iter().all(|n| is_output_file(n, "ringfence")));
}

#[test]
fn retention_removes_the_oldest_rotated_files_beyond_the_count_or_the_bytes() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("other.txt"), "not ours").unwrap();
    let mut log = RotatingLog::new(FileOutput { keep_files: 2, ..settings(dir.path(), 1 << 20) }, FileSystem);
    log.start(at(0)).unwrap();
    for n in 0..4 {
        log.append(line(n).as_bytes(), at(n * 1000)).unwrap();
        log.rotate(at(n * 1000)).unwrap();
    }
    let kept: Vec<String> = files(dir.path()).into_iter().map(|(_, text)| text).collect();
    assert_eq!(kept, [String::from("not ours"), line(2), line(3), String::new()]);
    assert_eq!(log.counters().files_removed, 2);

    let dir = tempfile::tempdir().unwrap();
    let mut log =
        RotatingLog::new(FileOutput { keep_bytes: Some(60), ..settings(dir.path(), 1 << 20) }, FileSystem);
    log.start(at(0)).unwrap();
    for n in 0..4 {
        log.append(line(n).as_bytes(), at(n * 1000)).unwrap();
        log.rotate(at(n * 1000)).unwrap();
    }
    // 25 bytes a file: two rotated files (50) fit in 60, three do not.
    assert_eq!(
        files(dir.path()).into_iter().map(|(_, t)| t).collect::<Vec<_>>(),
        [line(2), line(3), String::new()]
    );
}

#[test]
fn a_failed_write_leaves_nothing_of_its_batch_and_the_next_write_lands_whole() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::default();
    let mut log = RotatingLog::new(
        settings(dir.path(), 1 << 20),
        FaultyStorage { inner: FileSystem, faults: faults.clone() },
    );
    log.start(at(0)).unwrap();
    log.append(line(1).as_bytes(), at(1)).unwrap();
    faults.update(|p| {
        p.disk_full = true;
        p.partial_bytes = 7;
    });
    let error = log.append(line(2).as_bytes(), at(2)).unwrap_err();
    assert_eq!((error.op, error.error.kind()), (FileOp::Write, std::io::ErrorKind::StorageFull));
    assert!(!log.is_open());
    assert_eq!(files(dir.path()), [("ringfence.jsonl".to_owned(), line(1))]);
    faults.update(|p| p.disk_full = false);
    log.append(line(2).as_bytes(), at(3)).unwrap();
    assert_eq!(files(dir.path()), [("ringfence.jsonl".to_owned(), line(1) + &line(2))]);
}

#[cfg(unix)]
#[test]
fn a_folder_removed_under_the_log_is_noticed_and_the_lines_land_when_it_returns() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("events");
    let mut log = RotatingLog::new(settings(&dir, 1 << 20), FileSystem);
    log.start(at(0)).unwrap();
    log.append(line(1).as_bytes(), at(1)).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let error = log.append(line(2).as_bytes(), at(2)).unwrap_err();
    assert_eq!(error.op, FileOp::Vanished);
    // Not recreated by the log: the folder is waited for.
    assert_eq!(log.append(line(2).as_bytes(), at(3)).unwrap_err().op, FileOp::Open);
    assert!(!dir.exists());
    std::fs::create_dir(&dir).unwrap();
    log.append(line(2).as_bytes(), at(4)).unwrap();
    assert_eq!(files(&dir), [("ringfence.jsonl".to_owned(), line(2))]);
}

#[test]
fn a_torn_last_line_found_at_start_is_cut_and_the_file_closed_so_no_reader_sees_new_lines_at_its_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ringfence.jsonl"), line(7) + "{\"event\":{\"seq").unwrap();
    let mut log = RotatingLog::new(settings(dir.path(), 1 << 20), FileSystem);
    assert_eq!(log.start(at(0)).unwrap(), Recovered { torn_bytes: 14, last_sequence: Some(7) });
    log.append(line(8).as_bytes(), at(1)).unwrap();
    assert_eq!(
        files(dir.path()),
        [
            ("ringfence-20261125T101500.000Z.jsonl".to_owned(), line(7)),
            ("ringfence.jsonl".to_owned(), line(8))
        ]
    );
}

#[test]
fn only_the_active_and_rotated_names_of_an_output_are_its_files() {
    let ours = [
        "ringfence.jsonl",
        "ringfence-20261125T101500.020Z.jsonl",
        "ringfence-20261125T101500.020Z-12.jsonl",
    ];
    let theirs = [
        "ringfence.json",
        "ringfence-x.jsonl",
        "ringfence-audit-20261125T101500.020Z.jsonl",
        "ringfence-20261125T101500.020Z-x.jsonl",
        "other.jsonl",
    ];
    assert_eq!(ours.map(|n| is_output_file(n, "ringfence")), [true; 3]);
    assert_eq!(theirs.map(|n| is_output_file(n, "ringfence")), [false; 5]);
}

#[test]
fn with_the_batch_policy_every_append_is_synced_and_with_interval_only_when_due() {
    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::default();
    let storage = FaultyStorage { inner: FileSystem, faults: faults.clone() };
    let mut log =
        RotatingLog::new(FileOutput { fsync: FsyncPolicy::Batch, ..settings(dir.path(), 1 << 20) }, storage);
    log.start(at(0)).unwrap();
    let before = faults.plan().operations;
    log.append(line(1).as_bytes(), at(10)).unwrap();
    assert_eq!(faults.plan().operations - before, 3, "append, identity check, sync");

    let dir = tempfile::tempdir().unwrap();
    let faults = Faults::default();
    let storage = FaultyStorage { inner: FileSystem, faults: faults.clone() };
    let mut log = RotatingLog::new(settings(dir.path(), 1 << 20), storage);
    log.start(at(0)).unwrap();
    let ops = |f: &Faults| f.plan().operations;
    let before = ops(&faults);
    log.append(line(1).as_bytes(), at(10)).unwrap();
    log.append(line(2).as_bytes(), at(500)).unwrap();
    // append + identity check, twice: no sync within the second.
    assert_eq!(ops(&faults) - before, 4);
    log.append(line(3).as_bytes(), at(1010)).unwrap();
    assert_eq!(ops(&faults) - before, 7, "the third append syncs: the first unsynced write is 1 s old");
}
