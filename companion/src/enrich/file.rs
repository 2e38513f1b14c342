//! What one file is: its hashes and its PE identity, read within fixed bounds.
//!
//! The content is hashed in one streaming pass (every chosen algorithm fed
//! from the same buffer); the PE parser reads only the headers, the import
//! tables and the version resource, on demand, through a budget. A file that
//! cannot be read at all is a [`FileFailure`]; a file that is not a PE image,
//! or whose import table or resources are damaged, still has its hashes.

use std::fmt;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use md5::Md5;
use object::read::ReadCache;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::hashes::{FileHashes, HashAlgorithms};
use super::pe::{self, PeError, PeIdentity};

/// How much of a file may be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileLimits {
    /// Larger files are not read at all ([`FileFailure::TooLarge`]).
    pub max_file_bytes: u64,
    /// The most the PE parser reads (headers, import tables, version resource).
    pub max_pe_read_bytes: u64,
}

impl Default for FileLimits {
    /// 256 MiB per file; 16 MiB for the PE parser (it reads whole sections:
    /// the one holding the import tables, and `.rsrc`).
    fn default() -> Self {
        FileLimits { max_file_bytes: 256 << 20, max_pe_read_bytes: 16 << 20 }
    }
}

/// What a readable file is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileFacts {
    pub size: u64,
    pub hashes: FileHashes,
    pub pe: Result<PeIdentity, PeUnavailable>,
}

/// Why a readable file has no PE identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeUnavailable {
    /// Not a PE image, or its headers are damaged.
    NotPe(PeError),
    /// Reading the headers, import tables and version resource would exceed this many bytes.
    ReadBudgetExceeded { limit: u64 },
    /// Reading failed part way.
    Io(io::ErrorKind),
}

/// Why a file could not be read at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFailure {
    /// Gone (deleted, or the path never existed here).
    NotFound,
    /// Refused: access denied, or held open by another program without sharing.
    Denied,
    /// A directory or device, not a file.
    NotAFile,
    TooLarge {
        size: u64,
        limit: u64,
    },
    Io(io::ErrorKind),
}

impl fmt::Display for FileFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileFailure::NotFound => f.write_str("file not found"),
            FileFailure::Denied => f.write_str("access denied or locked"),
            FileFailure::NotAFile => f.write_str("not a regular file"),
            FileFailure::TooLarge { size, limit } => write!(f, "{size} bytes, over the {limit}-byte limit"),
            FileFailure::Io(kind) => write!(f, "read failed: {kind}"),
        }
    }
}

impl std::error::Error for FileFailure {}

impl FileFailure {
    pub fn from_io(error: &io::Error) -> Self {
        // ERROR_SHARING_VIOLATION (32) and ERROR_LOCK_VIOLATION (33): a file held open without sharing.
        const SHARING_VIOLATION: i32 = 32;
        const LOCK_VIOLATION: i32 = 33;
        match error.kind() {
            io::ErrorKind::NotFound => FileFailure::NotFound,
            io::ErrorKind::PermissionDenied => FileFailure::Denied,
            _ if cfg!(windows)
                && matches!(error.raw_os_error(), Some(SHARING_VIOLATION | LOCK_VIOLATION)) =>
            {
                FileFailure::Denied
            }
            kind => FileFailure::Io(kind),
        }
    }
}

/// The size of one read of the hashing pass.
const CHUNK: usize = 256 << 10;

/// Reads `path` and computes what `algorithms` asks for, within `limits`.
pub fn identify(
    path: &Path,
    algorithms: HashAlgorithms,
    limits: FileLimits,
) -> Result<FileFacts, FileFailure> {
    let file = File::open(path).map_err(|e| FileFailure::from_io(&e))?;
    let metadata = file.metadata().map_err(|e| FileFailure::from_io(&e))?;
    if !metadata.is_file() {
        return Err(FileFailure::NotAFile);
    }
    let size = metadata.len();
    if size > limits.max_file_bytes {
        return Err(FileFailure::TooLarge { size, limit: limits.max_file_bytes });
    }
    let pe = pe_identity(&file, limits.max_pe_read_bytes);
    let mut file = file;
    let mut hashes = if algorithms.reads_content() {
        file.seek(SeekFrom::Start(0)).map_err(|e| FileFailure::from_io(&e))?;
        hash(&mut file, algorithms, limits.max_file_bytes)?
    } else {
        FileHashes::default()
    };
    if algorithms.imphash {
        hashes.imphash = Some(pe.as_ref().ok().and_then(|identity| identity.imphash));
    }
    Ok(FileFacts { size, hashes, pe })
}

/// Hashes up to `limit` bytes of `reader` with every chosen algorithm in one pass.
pub fn hash<R: Read>(
    reader: &mut R,
    algorithms: HashAlgorithms,
    limit: u64,
) -> Result<FileHashes, FileFailure> {
    let mut sha1 = algorithms.sha1.then(Sha1::new);
    let mut md5 = algorithms.md5.then(Md5::new);
    let mut sha256 = algorithms.sha256.then(Sha256::new);
    let mut buffer = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let read = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FileFailure::from_io(&e)),
        };
        total = total.saturating_add(read as u64);
        if total > limit {
            // The file grew past the limit while it was read.
            return Err(FileFailure::TooLarge { size: total, limit });
        }
        let chunk = buffer.get(..read).unwrap_or_default();
        if let Some(h) = sha1.as_mut() {
            h.update(chunk);
        }
        if let Some(h) = md5.as_mut() {
            h.update(chunk);
        }
        if let Some(h) = sha256.as_mut() {
            h.update(chunk);
        }
    }
    Ok(FileHashes {
        sha1: sha1.map(|h| h.finalize().into()),
        md5: md5.map(|h| h.finalize().into()),
        sha256: sha256.map(|h| h.finalize().into()),
        imphash: None,
    })
}

/// The PE identity of what `reader` holds, reading at most `budget` bytes of it,
/// on demand (the headers, import tables and version resource).
pub fn pe_identity<R: Read + Seek>(reader: R, budget: u64) -> Result<PeIdentity, PeUnavailable> {
    let cache = ReadCache::new(Budgeted { inner: reader, left: budget, exceeded: false, failed: None });
    let identity = pe::inspect(&cache);
    let reader = cache.into_inner();
    if reader.exceeded {
        return Err(PeUnavailable::ReadBudgetExceeded { limit: budget });
    }
    if let Some(kind) = reader.failed {
        return Err(PeUnavailable::Io(kind));
    }
    identity.map_err(PeUnavailable::NotPe)
}

/// A file that may be read only so far, remembering whether the parser was
/// cut off (the parser sees every failure as "not there").
struct Budgeted<R> {
    inner: R,
    left: u64,
    exceeded: bool,
    failed: Option<io::ErrorKind>,
}

impl<R: Read> Read for Budgeted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len() as u64;
        if want > self.left {
            self.exceeded = true;
            return Err(io::Error::other("PE read budget exceeded"));
        }
        let read = self.inner.read(buf).inspect_err(|e| self.failed = Some(e.kind()))?;
        self.left -= read as u64;
        Ok(read)
    }
}

impl<R: Seek> Seek for Budgeted<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.inner.seek(pos).inspect_err(|e| self.failed = Some(e.kind()))
    }
}
