//! File identities for the event stream: cached by path and file identity,
//! computed on worker threads, waited for only up to a deadline.
//!
//! The READ loop [`request`](FileBatch::request)s the files of a batch through
//! a [`FileBatch`] (a warm cache answers at once, and a path named by several
//! events of the batch is stat-ed once), then [`resolve`](FileIdentities::resolve)s
//! each with the batch's deadline: an answer that has not arrived by then makes
//! the event go out not enriched ([`NotEnriched`], counted), and lands in the
//! cache for the next event. A cache entry is keyed by path *and* the file's
//! stamp (size, times, and the inode on Unix), so a file replaced under the
//! same name is read again. The stamp of a local file is read on the caller's
//! thread: the kernel has just opened the image, so its metadata is cached; a
//! network path (`\\server\share\…`) is stat-ed on a worker, like the reading.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use super::cache::BoundedCache;
use super::file::{self, FileFacts, FileFailure, FileLimits};
use super::hashes::HashAlgorithms;
use super::workers::{Pending, Workers};

/// What reading a file gave.
pub type FileOutcome = Result<FileFacts, FileFailure>;

/// How file identities are computed and kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileConfig {
    pub algorithms: HashAlgorithms,
    pub limits: FileLimits,
    /// Cached files (path + stamp), least recently used forgotten first.
    pub cache_entries: usize,
    pub threads: usize,
    /// Files waiting for a worker; more are refused and go out not enriched.
    pub queue: usize,
}

impl Default for FileConfig {
    fn default() -> Self {
        FileConfig {
            algorithms: HashAlgorithms::default(),
            limits: FileLimits::default(),
            cache_entries: 4096,
            threads: 2,
            queue: 256,
        }
    }
}

/// A file's identity as the cache knows it: what changes when the file is replaced.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FileStamp {
    pub size: u64,
    pub modified: Option<SystemTime>,
    pub created: Option<SystemTime>,
    /// (device, inode, change time in ns) on Unix.
    pub unix: Option<(u64, u64, i128)>,
}

impl FileStamp {
    pub fn of(metadata: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        let unix = {
            use std::os::unix::fs::MetadataExt;
            let change = i128::from(metadata.ctime()) * 1_000_000_000 + i128::from(metadata.ctime_nsec());
            Some((metadata.dev(), metadata.ino(), change))
        };
        #[cfg(not(unix))]
        let unix = None;
        FileStamp {
            size: metadata.len(),
            modified: metadata.modified().ok(),
            created: metadata.created().ok(),
            unix,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct FileKey {
    path: PathBuf,
    stamp: FileStamp,
}

/// A request in progress.
#[derive(Debug)]
pub enum FileLookup {
    Ready(Arc<FileOutcome>),
    Pending(Pending<Arc<FileOutcome>>),
    /// The worker queue was full.
    Busy,
}

/// What an event gets for its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileEnrichment {
    Done(Arc<FileOutcome>),
    NotEnriched(NotEnriched),
}

/// Why an event went out without its file's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotEnriched {
    /// The answer did not arrive by the deadline.
    TimedOut,
    /// The worker queue was full.
    Busy,
    /// The path has no DOS form (a device no drive letter names), so there is
    /// no file user mode can open by it.
    NoDosPath,
}

impl NotEnriched {
    pub fn as_str(self) -> &'static str {
        match self {
            NotEnriched::TimedOut => "timed_out",
            NotEnriched::Busy => "busy",
            NotEnriched::NoDosPath => "no_dos_path",
        }
    }
}

/// Counters since start (relaxed atomics: each is exact, a snapshot of several is not atomic).
#[derive(Debug, Default)]
pub struct FileCounters {
    pub requests: AtomicU64,
    pub cache_hits: AtomicU64,
    /// Files read by a worker.
    pub computed: AtomicU64,
    /// Files that could not be read (gone, denied, too large, …).
    pub unreadable: AtomicU64,
    pub timed_out: AtomicU64,
    pub busy: AtomicU64,
}

/// Cached, off-thread file identities.
#[derive(Debug)]
pub struct FileIdentities {
    cache: Arc<BoundedCache<FileKey, Arc<FileOutcome>>>,
    workers: Workers<PathBuf, Arc<FileOutcome>>,
    counters: Arc<FileCounters>,
}

impl FileIdentities {
    pub fn new(config: FileConfig) -> std::io::Result<Self> {
        let cache = Arc::new(BoundedCache::new(config.cache_entries));
        let counters = Arc::new(FileCounters::default());
        let (filled, counted) = (Arc::clone(&cache), Arc::clone(&counters));
        let workers =
            Workers::new("ringfence-files", config.threads, config.queue, move |path: &PathBuf| {
                read_and_cache(path, &config, &filled, &counted)
            })?;
        Ok(FileIdentities { cache, workers, counters })
    }

    /// A memo for the events of one READ batch: each distinct path is stat-ed
    /// (and looked up in the cache) once per batch, however many of its events
    /// name it; every event of a batch happened before the READ returned it.
    pub fn batch(&self) -> FileBatch<'_> {
        FileBatch { files: self, answered: HashMap::new() }
    }

    /// Starts finding `path`'s identity; answers at once from the cache.
    pub fn request(&self, path: &Path) -> FileLookup {
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        if !is_remote(path) {
            let metadata = match std::fs::metadata(path) {
                Ok(metadata) => metadata,
                Err(e) => {
                    self.counters.unreadable.fetch_add(1, Ordering::Relaxed);
                    return FileLookup::Ready(Arc::new(Err(FileFailure::from_io(&e))));
                }
            };
            let key = FileKey { path: path.to_path_buf(), stamp: FileStamp::of(&metadata) };
            if let Some(known) = self.cache.get(&key) {
                self.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
                return FileLookup::Ready(known);
            }
        }
        match self.workers.submit(path.to_path_buf()) {
            Ok(pending) => FileLookup::Pending(pending),
            Err(_) => FileLookup::Busy,
        }
    }

    /// The answer to `lookup`, waiting until `deadline` at the latest.
    pub fn resolve(&self, lookup: FileLookup, deadline: Instant) -> FileEnrichment {
        match lookup {
            FileLookup::Ready(outcome) => FileEnrichment::Done(outcome),
            FileLookup::Pending(pending) => match pending.wait_until(deadline) {
                Some(outcome) => FileEnrichment::Done(outcome),
                None => {
                    self.counters.timed_out.fetch_add(1, Ordering::Relaxed);
                    FileEnrichment::NotEnriched(NotEnriched::TimedOut)
                }
            },
            FileLookup::Busy => {
                self.counters.busy.fetch_add(1, Ordering::Relaxed);
                FileEnrichment::NotEnriched(NotEnriched::Busy)
            }
        }
    }

    /// [`request`](Self::request) then [`resolve`](Self::resolve).
    pub fn identify(&self, path: &Path, deadline: Instant) -> FileEnrichment {
        self.resolve(self.request(path), deadline)
    }

    pub fn counters(&self) -> &FileCounters {
        &self.counters
    }

    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Files queued for a worker or being read now: the backlog.
    pub fn in_flight(&self) -> usize {
        self.workers.in_flight()
    }

    /// Cache entries forgotten to make room.
    pub fn evictions(&self) -> u64 {
        self.cache.evictions()
    }
}

/// One batch's view of [`FileIdentities`]; see [`FileIdentities::batch`].
#[derive(Debug)]
pub struct FileBatch<'f> {
    files: &'f FileIdentities,
    answered: HashMap<PathBuf, Arc<FileOutcome>>,
}

impl FileBatch<'_> {
    /// Like [`FileIdentities::request`], answering a path already answered in this batch at once.
    pub fn request(&mut self, path: &Path) -> FileLookup {
        if let Some(known) = self.answered.get(path) {
            self.files.counters.requests.fetch_add(1, Ordering::Relaxed);
            self.files.counters.cache_hits.fetch_add(1, Ordering::Relaxed);
            return FileLookup::Ready(Arc::clone(known));
        }
        let lookup = self.files.request(path);
        if let FileLookup::Ready(outcome) = &lookup {
            self.answered.insert(path.to_path_buf(), Arc::clone(outcome));
        }
        lookup
    }

    /// [`request`](Self::request) then [`FileIdentities::resolve`]; an answer
    /// that arrives is kept for the rest of the batch.
    pub fn identify(&mut self, path: &Path, deadline: Instant) -> FileEnrichment {
        let lookup = self.request(path);
        let enrichment = self.files.resolve(lookup, deadline);
        if let FileEnrichment::Done(outcome) = &enrichment {
            self.answered.entry(path.to_path_buf()).or_insert_with(|| Arc::clone(outcome));
        }
        enrichment
    }
}

/// On a worker: stat, then read unless another request already did.
fn read_and_cache(
    path: &Path,
    config: &FileConfig,
    cache: &BoundedCache<FileKey, Arc<FileOutcome>>,
    counters: &FileCounters,
) -> Arc<FileOutcome> {
    let metadata = match std::fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(e) => {
            counters.unreadable.fetch_add(1, Ordering::Relaxed);
            return Arc::new(Err(FileFailure::from_io(&e)));
        }
    };
    let key = FileKey { path: path.to_path_buf(), stamp: FileStamp::of(&metadata) };
    if let Some(known) = cache.get(&key) {
        return known;
    }
    counters.computed.fetch_add(1, Ordering::Relaxed);
    let outcome = Arc::new(file::identify(path, config.algorithms, config.limits));
    match outcome.as_ref() {
        // Worth keeping until the file changes.
        Ok(_) | Err(FileFailure::TooLarge { .. } | FileFailure::NotAFile) => {
            cache.insert(key, Arc::clone(&outcome))
        }
        // Gone, denied or failing now may not be so for the next event.
        Err(_) => {}
    }
    if outcome.is_err() {
        counters.unreadable.fetch_add(1, Ordering::Relaxed);
    }
    outcome
}

/// A UNC path: its metadata comes over the network.
fn is_remote(path: &Path) -> bool {
    let text = path.as_os_str().as_encoded_bytes();
    text.starts_with(br"\\") || text.starts_with(b"//")
}
