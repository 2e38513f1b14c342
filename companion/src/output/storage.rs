//! The file operations the rotating log performs, and nothing else: the
//! seam where tests put a full disk, a vanished folder or a kill at the k-th
//! operation. [`FileSystem`] is the real thing.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// A folder of log files.
pub trait Storage {
    type File: LogFile;
    /// Opens `path` for reading and writing, creating it if missing,
    /// positioned at its end. Never creates folders.
    fn open(&mut self, path: &Path) -> io::Result<Self::File>;
    fn create_dir_all(&mut self, dir: &Path) -> io::Result<()>;
    /// Renames within one folder; fails if `to` exists on some systems, so callers pick fresh names.
    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()>;
    fn remove(&mut self, path: &Path) -> io::Result<()>;
    /// Names and sizes of the files in `dir`.
    fn list(&mut self, dir: &Path) -> io::Result<Vec<(String, u64)>>;
    /// Makes creations and renames in `dir` durable (a no-op where the file system journals them).
    fn sync_dir(&mut self, dir: &Path) -> io::Result<()>;
}

/// One open log file.
pub trait LogFile {
    /// Writes all of `bytes` at the end.
    fn append(&mut self, bytes: &[u8]) -> io::Result<()>;
    /// Forces written data to stable storage.
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file to `len` bytes; the next append goes there.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    fn size(&mut self) -> io::Result<u64>;
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Whether `path` still names this very file (not deleted, not replaced).
    fn is_at(&mut self, path: &Path) -> io::Result<bool>;
}

/// The operating system's file system.
#[derive(Clone, Copy, Debug, Default)]
pub struct FileSystem;

/// A file of [`FileSystem`]: opened for write (not append, so that it can be
/// truncated on Windows too) and shared for reading, renaming and deleting, as
/// shippers expect.
#[derive(Debug)]
pub struct OsFile {
    file: File,
    end: u64,
}

impl Storage for FileSystem {
    type File = OsFile;

    fn open(&mut self, path: &Path) -> io::Result<OsFile> {
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        let end = file.seek(SeekFrom::End(0))?;
        Ok(OsFile { file, end })
    }

    fn create_dir_all(&mut self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove(&mut self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn list(&mut self, dir: &Path) -> io::Result<Vec<(String, u64)>> {
        let mut out = Vec::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_file() {
                if let Ok(name) = entry.file_name().into_string() {
                    out.push((name, meta.len()));
                }
            }
        }
        Ok(out)
    }

    #[cfg(unix)]
    fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    /// NTFS journals its metadata; Windows cannot open a folder as a plain file.
    #[cfg(not(unix))]
    fn sync_dir(&mut self, _dir: &Path) -> io::Result<()> {
        Ok(())
    }
}

impl LogFile for OsFile {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.seek(SeekFrom::Start(self.end))?;
        let written = self.file.write_all(bytes);
        // Whatever reached the file counts, so that a failed append can be undone exactly.
        self.end = self.file.stream_position()?;
        written
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file.set_len(len)?;
        self.end = len;
        Ok(())
    }

    fn size(&mut self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.file.seek(SeekFrom::Start(offset))?;
        let mut filled = 0;
        while filled < buf.len() {
            match self.file.read(buf.get_mut(filled..).unwrap_or_default())? {
                0 => break,
                n => filled += n,
            }
        }
        Ok(filled)
    }

    #[cfg(unix)]
    fn is_at(&mut self, path: &Path) -> io::Result<bool> {
        use std::os::unix::fs::MetadataExt;
        let mine = self.file.metadata()?;
        match fs::metadata(path) {
            Ok(there) => Ok(mine.dev() == there.dev() && mine.ino() == there.ino() && mine.nlink() > 0),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Windows refuses to delete or rename the folder of an open file, so a
    /// file still there with our length is ours.
    #[cfg(not(unix))]
    fn is_at(&mut self, path: &Path) -> io::Result<bool> {
        let mine = self.file.metadata()?.len();
        match fs::metadata(path) {
            Ok(there) => Ok(there.len() == mine),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}
