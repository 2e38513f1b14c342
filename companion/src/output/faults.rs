//! Fault injection over any [`Storage`]: a disk that fills up, a folder that
//! is not there, and a process killed at its k-th file operation (the
//! operation in flight is left half done: a write puts down only some of its
//! bytes). The service tests and the emulated demo use it; the service never does.

use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use super::storage::{LogFile, Storage};

/// What goes wrong, shared by the storage and every file it opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan {
    /// Every write fails with `StorageFull` after putting down `partial_bytes` of it.
    pub disk_full: bool,
    /// The process dies at the operation that brings this to zero.
    pub operations_until_kill: Option<u64>,
    /// Bytes of the write in flight that still reach the file when it fails or the process dies.
    pub partial_bytes: usize,
    /// Set once the kill happened: from then on every operation fails.
    pub killed: bool,
    /// Operations performed so far.
    pub operations: u64,
}

/// A handle on the plan that tests change while the service runs.
#[derive(Clone, Debug, Default)]
pub struct Faults(Arc<Mutex<FaultPlan>>);

impl Faults {
    pub fn update(&self, change: impl FnOnce(&mut FaultPlan)) {
        change(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner));
    }

    pub fn plan(&self) -> FaultPlan {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Counts one operation; `Err` if the process is (now) dead. `Ok(true)`
    /// when this very operation is the one that dies half done.
    fn step(&self) -> io::Result<bool> {
        let mut plan = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if plan.killed {
            return Err(killed());
        }
        plan.operations = plan.operations.saturating_add(1);
        match plan.operations_until_kill.as_mut() {
            Some(left) if *left <= 1 => {
                plan.killed = true;
                Ok(true)
            }
            Some(left) => {
                *left -= 1;
                Ok(false)
            }
            None => Ok(false),
        }
    }
}

fn killed() -> io::Error {
    io::Error::other("the process was killed")
}

/// `inner` with the faults of a [`Faults`] plan.
#[derive(Debug)]
pub struct FaultyStorage<S> {
    pub inner: S,
    pub faults: Faults,
}

/// A file of [`FaultyStorage`].
#[derive(Debug)]
pub struct FaultyFile<F> {
    inner: F,
    faults: Faults,
}

impl<S: Storage> FaultyStorage<S> {
    fn op<T>(&mut self, run: impl FnOnce(&mut S) -> io::Result<T>) -> io::Result<T> {
        if self.faults.step()? {
            // Dies before a metadata operation takes effect.
            return Err(killed());
        }
        run(&mut self.inner)
    }
}

impl<S: Storage> Storage for FaultyStorage<S> {
    type File = FaultyFile<S::File>;

    fn open(&mut self, path: &Path) -> io::Result<Self::File> {
        let faults = self.faults.clone();
        self.op(|s| s.open(path)).map(|inner| FaultyFile { inner, faults })
    }

    fn create_dir_all(&mut self, dir: &Path) -> io::Result<()> {
        self.op(|s| s.create_dir_all(dir))
    }

    fn rename(&mut self, from: &Path, to: &Path) -> io::Result<()> {
        self.op(|s| s.rename(from, to))
    }

    fn remove(&mut self, path: &Path) -> io::Result<()> {
        self.op(|s| s.remove(path))
    }

    fn list(&mut self, dir: &Path) -> io::Result<Vec<(String, u64)>> {
        self.op(|s| s.list(dir))
    }

    fn sync_dir(&mut self, dir: &Path) -> io::Result<()> {
        self.op(|s| s.sync_dir(dir))
    }
}

impl<F: LogFile> FaultyFile<F> {
    fn op<T>(&mut self, run: impl FnOnce(&mut F) -> io::Result<T>) -> io::Result<T> {
        if self.faults.step()? {
            return Err(killed());
        }
        run(&mut self.inner)
    }
}

impl<F: LogFile> LogFile for FaultyFile<F> {
    fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        let dies = self.faults.step()?;
        let plan = self.faults.plan();
        if dies || plan.disk_full {
            let part = bytes.get(..plan.partial_bytes.min(bytes.len())).unwrap_or_default();
            self.inner.append(part)?;
            return Err(if dies { killed() } else { io::ErrorKind::StorageFull.into() });
        }
        self.inner.append(bytes)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.op(LogFile::sync)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.op(|f| f.truncate(len))
    }

    fn size(&mut self) -> io::Result<u64> {
        self.op(LogFile::size)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        self.op(|f| f.read_at(offset, buf))
    }

    fn is_at(&mut self, path: &Path) -> io::Result<bool> {
        self.op(|f| f.is_at(path))
    }
}
