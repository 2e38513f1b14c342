//! Rotating JSON Lines files. The service appends whole lines to
//! `<name>.jsonl`; when it reaches `rotate_size` or `rotate_age` it is
//! synced, closed and renamed once to `<name>-<UTC time>.jsonl` (a name never
//! reused), and a new `<name>.jsonl` is started. A shipper that follows files
//! by identity (inode, NTFS file id, or a fingerprint of the first line) reads
//! the renamed file to its end and then the new one: nothing twice, nothing skipped.
//! The oldest rotated files go when `keep_files` or `keep_bytes` is exceeded.

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use super::recovery::{Recovered, last_sequence_in, recover};
use super::storage::{LogFile, Storage};
use crate::clock::Now;
use crate::config::{FileOutput, FsyncPolicy};

/// The file operation that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileOp {
    CreateDirectory,
    Open,
    Recover,
    Write,
    /// Undoing a failed write (cutting the partial bytes off).
    Undo,
    Sync,
    Rename,
    List,
    /// The file was deleted or replaced under the service.
    Vanished,
}

/// An output file failure: what, where, and the system's words.
#[derive(Debug)]
pub struct FileError {
    pub op: FileOp,
    pub path: PathBuf,
    pub error: io::Error,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display();
        match self.op {
            FileOp::CreateDirectory => write!(f, "cannot create the output folder {path}: {}", self.error),
            FileOp::Open => write!(f, "cannot open {path}: {}", self.error),
            FileOp::Recover => write!(f, "cannot check the last line of {path}: {}", self.error),
            FileOp::Write => write!(f, "writing {path} failed: {}", self.error),
            FileOp::Undo => write!(f, "cutting a failed write off {path} failed: {}", self.error),
            FileOp::Sync => write!(f, "syncing {path} to disk failed: {}", self.error),
            FileOp::Rename => write!(f, "rotating {path} failed: {}", self.error),
            FileOp::List => write!(f, "listing the output folder {path} failed: {}", self.error),
            FileOp::Vanished => write!(f, "{path} was deleted or replaced while it was being written"),
        }
    }
}

impl std::error::Error for FileError {}

/// Counters of one file output, for health records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileCounters {
    pub bytes_written: u64,
    pub rotations: u64,
    pub files_removed: u64,
    /// Old files that retention could not delete (retried at the next rotation).
    pub remove_failures: u64,
    pub torn_bytes_cut: u64,
}

#[derive(Debug)]
struct Active<F> {
    file: F,
    len: u64,
    opened: SystemTime,
}

/// The rotating log of one file output.
#[derive(Debug)]
pub struct RotatingLog<S: Storage> {
    settings: FileOutput,
    storage: S,
    active: Option<Active<S::File>>,
    /// Monotonic time of the oldest write not yet synced.
    unsynced_since: Option<Duration>,
    counters: FileCounters,
}

impl<S: Storage> RotatingLog<S> {
    /// No I/O yet: see [`RotatingLog::start`].
    pub fn new(settings: FileOutput, storage: S) -> Self {
        RotatingLog {
            settings,
            storage,
            active: None,
            unsynced_since: None,
            counters: FileCounters::default(),
        }
    }

    pub fn settings(&self) -> &FileOutput {
        &self.settings
    }

    pub fn counters(&self) -> FileCounters {
        self.counters
    }

    /// The active file's path.
    pub fn active_path(&self) -> PathBuf {
        self.settings.directory.join(format!("{}.jsonl", self.settings.name))
    }

    /// At service start: creates the folder if missing (the first run), then
    /// opens the active file with recovery. Later reopenings never create the
    /// folder: a folder that vanished is waited for, not silently replaced.
    pub fn start(&mut self, now: Now) -> Result<Recovered, FileError> {
        let dir = self.settings.directory.clone();
        self.storage.create_dir_all(&dir).map_err(|error| FileError {
            op: FileOp::CreateDirectory,
            path: dir,
            error,
        })?;
        self.open(now)
    }

    /// Whether the active file is open (false after a failure, until the next append succeeds).
    pub fn is_open(&self) -> bool {
        self.active.is_some()
    }

    fn open(&mut self, now: Now) -> Result<Recovered, FileError> {
        let path = self.active_path();
        let mut file = self.storage.open(&path).map_err(|error| FileError {
            op: FileOp::Open,
            path: path.clone(),
            error,
        })?;
        let mut recovered =
            recover(&mut file).map_err(|error| FileError { op: FileOp::Recover, path, error })?;
        // Killed just after a rotation, the active file holds no event yet: the newest rotated one does.
        if recovered.last_sequence.is_none() {
            recovered.last_sequence = self.last_rotated_sequence();
        }
        self.counters.torn_bytes_cut = self.counters.torn_bytes_cut.saturating_add(recovered.torn_bytes);
        let len = file.size().unwrap_or(0);
        self.active = Some(Active { file, len, opened: now.wall });
        // A reader may have read the cut-off bytes: new lines must not land where they were.
        if recovered.torn_bytes > 0 && len > 0 {
            self.rotate(now)?;
        }
        Ok(recovered)
    }

    /// Appends whole lines: rotates first if they would overflow the file
    /// (a batch is never split across files), writes them in one piece,
    /// checks the file is still where shippers look, and syncs per policy.
    /// On failure nothing of `lines` stays in the file and the log is closed;
    /// the next call reopens it.
    pub fn append(&mut self, lines: &[u8], now: Now) -> Result<(), FileError> {
        if self.active.is_none() {
            self.open(now)?;
        }
        let due_by_size = self.active.as_ref().is_some_and(|a| {
            a.len > 0 && a.len.saturating_add(lines.len() as u64) > self.settings.rotate_size
        });
        if due_by_size || self.due_by_age(now) {
            self.rotate(now)?;
        }
        let path = self.active_path();
        let Some(active) = self.active.as_mut() else {
            return Err(FileError { op: FileOp::Open, path, error: io::ErrorKind::NotFound.into() });
        };
        if active.len == 0 {
            // A file's age counts from its first line, so an idle empty file is not rotated at once.
            active.opened = now.wall;
        }
        if let Err(error) = active.file.append(lines) {
            let undo = active.file.truncate(active.len);
            self.active = None;
            return Err(match undo {
                Ok(()) => FileError { op: FileOp::Write, path, error },
                Err(undo) => FileError { op: FileOp::Undo, path, error: undo },
            });
        }
        // Written into a file no one can see any more (folder removed, file replaced)?
        match active.file.is_at(&path) {
            Ok(true) => {}
            Ok(false) => {
                // The lines went into a file no longer at its place (moved or deleted with its folder):
                // take them back out, so that they land exactly once, in the file that replaces it.
                let _ = active.file.truncate(active.len);
                self.active = None;
                return Err(FileError { op: FileOp::Vanished, path, error: io::ErrorKind::NotFound.into() });
            }
            Err(error) => {
                self.active = None;
                return Err(FileError { op: FileOp::Vanished, path, error });
            }
        }
        active.len = active.len.saturating_add(lines.len() as u64);
        self.counters.bytes_written = self.counters.bytes_written.saturating_add(lines.len() as u64);
        self.unsynced_since.get_or_insert(now.monotonic);
        match self.settings.fsync {
            FsyncPolicy::Batch => self.sync(),
            FsyncPolicy::Interval(_) | FsyncPolicy::Rotation => self.tick(now),
        }
    }

    fn due_by_age(&self, now: Now) -> bool {
        let (Some(active), Some(age)) = (&self.active, self.settings.rotate_age) else { return false };
        active.len > 0 && now.wall.duration_since(active.opened).is_ok_and(|elapsed| elapsed >= age)
    }

    /// Time-driven work between batches: the interval sync and rotation by age.
    pub fn tick(&mut self, now: Now) -> Result<(), FileError> {
        if let (FsyncPolicy::Interval(interval), Some(since)) = (self.settings.fsync, self.unsynced_since) {
            if now.monotonic.saturating_sub(since) >= interval {
                self.sync()?;
            }
        }
        if self.due_by_age(now) {
            self.rotate(now)?;
        }
        Ok(())
    }

    /// Forces what was written to disk.
    pub fn sync(&mut self) -> Result<(), FileError> {
        let path = self.active_path();
        if let Some(active) = self.active.as_mut() {
            if let Err(error) = active.file.sync() {
                self.active = None;
                return Err(FileError { op: FileOp::Sync, path, error });
            }
        }
        self.unsynced_since = None;
        Ok(())
    }

    /// Closes the active file under its rotated name and starts a new one.
    pub fn rotate(&mut self, now: Now) -> Result<(), FileError> {
        self.sync()?;
        let from = self.active_path();
        let dir = self.settings.directory.clone();
        self.active = None;
        let listing = self.storage.list(&dir).map_err(|error| FileError {
            op: FileOp::List,
            path: dir.clone(),
            error,
        })?;
        let to = dir.join(self.rotated_name(now, &listing));
        self.storage.rename(&from, &to).map_err(|error| FileError {
            op: FileOp::Rename,
            path: from.clone(),
            error,
        })?;
        // The rename must reach the disk before new lines do, or a crash could show neither name.
        let _ = self.storage.sync_dir(&dir);
        self.counters.rotations = self.counters.rotations.saturating_add(1);
        self.retain();
        let mut file = self.storage.open(&from).map_err(|error| FileError {
            op: FileOp::Open,
            path: from.clone(),
            error,
        })?;
        let len = file.size().map_err(|error| FileError { op: FileOp::Open, path: from, error })?;
        self.active = Some(Active { file, len, opened: now.wall });
        Ok(())
    }

    /// `<name>-20261125T101500.123Z.jsonl`; if that name is taken (two
    /// rotations in one millisecond), the next free millisecond, so that names
    /// stay unique and their order stays the order of the files.
    fn rotated_name(&self, now: Now, listing: &[(String, u64)]) -> String {
        let taken = |name: &str| listing.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        let mut at = now;
        loop {
            let candidate = format!("{}-{}.jsonl", self.settings.name, stamp(at));
            if !taken(&candidate) {
                return candidate;
            }
            at.wall += Duration::from_millis(1);
        }
    }

    /// `event.sequence` of the last event in the newest rotated file.
    fn last_rotated_sequence(&mut self) -> Option<u64> {
        let (name, _) = self.rotated_files().ok()?.pop()?;
        let mut file = self.storage.open(&self.settings.directory.join(name)).ok()?;
        last_sequence_in(&mut file).ok()?
    }

    /// The rotated files of this output, oldest first, with their sizes.
    pub fn rotated_files(&mut self) -> io::Result<Vec<(String, u64)>> {
        let prefix = format!("{}-", self.settings.name);
        let mut files: Vec<(String, u64)> = self
            .storage
            .list(&self.settings.directory)?
            .into_iter()
            .filter(|(n, _)| is_rotated(n, &prefix))
            .collect();
        files.sort();
        Ok(files)
    }

    /// Bytes of the active and rotated files.
    pub fn bytes_on_disk(&mut self) -> io::Result<u64> {
        let rotated: u64 = self.rotated_files()?.iter().map(|(_, len)| *len).sum();
        Ok(rotated.saturating_add(self.active.as_ref().map_or(0, |a| a.len)))
    }

    /// Deletes the oldest rotated files beyond `keep_files` / `keep_bytes`.
    fn retain(&mut self) {
        let Ok(files) = self.rotated_files() else { return };
        let active = self.active.as_ref().map_or(0, |a| a.len);
        let mut count = files.len();
        let mut bytes = files.iter().map(|(_, len)| *len).sum::<u64>().saturating_add(active);
        for (name, len) in files {
            let over_count = count > self.settings.keep_files as usize;
            let over_bytes = self.settings.keep_bytes.is_some_and(|max| bytes > max);
            if !over_count && !over_bytes {
                break;
            }
            match self.storage.remove(&self.settings.directory.join(&name)) {
                Ok(()) => self.counters.files_removed = self.counters.files_removed.saturating_add(1),
                Err(_) => self.counters.remove_failures = self.counters.remove_failures.saturating_add(1),
            }
            count = count.saturating_sub(1);
            bytes = bytes.saturating_sub(len);
        }
    }
}

/// `name-<stamp>.jsonl` or `name-<stamp>-<n>.jsonl` for this output's `prefix` (`name-`).
fn is_rotated(file: &str, prefix: &str) -> bool {
    let Some(rest) = file.strip_prefix(prefix).and_then(|r| r.strip_suffix(".jsonl")) else { return false };
    // 20261125T101500.123Z: digits at fixed places, so another output's files (`name-x-...`) never match.
    let stamp = rest.get(..20).unwrap_or_default().as_bytes();
    stamp.len() == 20
        && stamp.iter().enumerate().all(|(i, b)| match i {
            8 => *b == b'T',
            15 => *b == b'.',
            19 => *b == b'Z',
            _ => b.is_ascii_digit(),
        })
        && rest.get(20..).is_some_and(|tail| {
            tail.is_empty() || tail.strip_prefix('-').is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// The UTC time of `now` as `20261125T101500.123Z`.
fn stamp(now: Now) -> String {
    let text =
        crate::time::rfc3339(now.filetime()).unwrap_or_else(|| "9999-12-31T23:59:59.9999999Z".to_owned());
    let compact: String = text.chars().filter(|c| *c != '-' && *c != ':').collect();
    // 20261125T101500.1234567Z → keep milliseconds.
    format!("{}Z", compact.get(..19).unwrap_or(&compact))
}

/// Whether `name` is a file this output writes (active or rotated): what a shipper's glob must match.
pub fn is_output_file(name: &str, output: &str) -> bool {
    name == format!("{output}.jsonl") || is_rotated(name, &format!("{output}-"))
}
