//! The guard's store in memory, shared across "boots" of a host-tested sensor, with the
//! kernel store's shape: a state value and files replaced by temporary file + flush +
//! rename. Any operation can be made to fail, or to crash the machine: a crash applies
//! the operation's partial effect (half a temporary file), and every later operation of
//! that boot fails without effect, until [`Disk::reboot`].

use crate::guard::{ReadError, Store};
use alloc::collections::BTreeMap;
use alloc::vec::Vec;
use ringfence_trust::{PersistStep, Slot};
use std::sync::{Arc, Mutex, MutexGuard};

/// A kind of store operation, as failures name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    ReadState,
    WriteState,
    Read,
    /// Writing the temporary file.
    WriteTemporary,
    Flush,
    Rename,
    Remove,
}

/// `STATUS_IO_DEVICE_ERROR`, what a failed or crashed operation answers.
pub const STATUS_IO_DEVICE_ERROR: i32 = 0xC000_0185_u32 as i32;

/// What survives a crash: the state value and the files, plus the fault plan and the books.
#[derive(Debug, Default)]
pub struct Disk {
    pub state: Option<Vec<u8>>,
    /// By name: `trial.bin`, `lkg.bin` and their `.tmp` siblings.
    pub files: BTreeMap<&'static str, Vec<u8>>,
    /// Operations attempted in this boot.
    pub ops: u64,
    /// The operation (1-based, counted in this boot) at which the machine crashes.
    pub crash_at: Option<u64>,
    pub crashed: bool,
    /// Operations that fail (once each) with a status, without effect.
    pub fail: BTreeMap<Op, i32>,
    /// Files renamed into place, per slot: how often each was (re)written.
    pub renames: BTreeMap<&'static str, u64>,
}

impl Disk {
    /// A new boot: the crash is over, the plan and the operation count start again.
    pub fn reboot(&mut self) {
        self.crashed = false;
        self.crash_at = None;
        self.ops = 0;
        self.fail.clear();
    }

    /// Counts an operation and says whether it may run: `Err` when it fails or the machine
    /// is down; `Ok(true)` when the machine crashes during it (partial effect, then down).
    fn begin(&mut self, op: Op) -> Result<bool, i32> {
        if self.crashed {
            return Err(STATUS_IO_DEVICE_ERROR);
        }
        self.ops = self.ops.saturating_add(1);
        if self.crash_at == Some(self.ops) {
            self.crashed = true;
            return Ok(true);
        }
        match self.fail.remove(&op) {
            Some(status) => Err(status),
            None => Ok(false),
        }
    }
}

/// The store: a handle on a [`Disk`] that tests keep across boots.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore(Arc<Mutex<Disk>>);

pub const fn file_name(slot: Slot) -> &'static str {
    match slot {
        Slot::Trial => "trial.bin",
        Slot::LastKnownGood => "lkg.bin",
    }
}

pub const fn temporary_name(slot: Slot) -> &'static str {
    match slot {
        Slot::Trial => "trial.tmp",
        Slot::LastKnownGood => "lkg.tmp",
    }
}

impl MemoryStore {
    pub fn disk(&self) -> MutexGuard<'_, Disk> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn read_state(&mut self) -> Result<Option<Vec<u8>>, i32> {
        let mut disk = self.disk();
        if disk.begin(Op::ReadState)? {
            return Err(STATUS_IO_DEVICE_ERROR);
        }
        Ok(disk.state.clone())
    }

    fn write_state(&mut self, value: &[u8]) -> Result<(), i32> {
        let mut disk = self.disk();
        // A registry value is replaced whole: a crash during the write leaves the old one.
        if disk.begin(Op::WriteState)? {
            return Err(STATUS_IO_DEVICE_ERROR);
        }
        disk.state = Some(value.to_vec());
        Ok(())
    }

    fn read(&mut self, slot: Slot, max: usize) -> Result<Option<Vec<u8>>, ReadError> {
        let mut disk = self.disk();
        let io = |status| ReadError::Io { status };
        if disk.begin(Op::Read).map_err(io)? {
            return Err(io(STATUS_IO_DEVICE_ERROR));
        }
        match disk.files.get(file_name(slot)) {
            None => Ok(None),
            Some(bytes) if bytes.len() > max => Err(ReadError::TooLarge { size: bytes.len() as u64 }),
            Some(bytes) => Ok(Some(bytes.clone())),
        }
    }

    fn write(&mut self, slot: Slot, bytes: &[u8]) -> Result<(), (PersistStep, i32)> {
        let mut disk = self.disk();
        let temporary = temporary_name(slot);
        let crashed = disk.begin(Op::WriteTemporary).map_err(|s| (PersistStep::Write, s))?;
        let written = if crashed { bytes.get(..bytes.len() / 2).unwrap_or_default() } else { bytes };
        disk.files.insert(temporary, written.to_vec());
        if crashed {
            return Err((PersistStep::Write, STATUS_IO_DEVICE_ERROR));
        }
        if disk.begin(Op::Flush).map_err(|s| (PersistStep::Flush, s))? {
            return Err((PersistStep::Flush, STATUS_IO_DEVICE_ERROR));
        }
        if disk.begin(Op::Rename).map_err(|s| (PersistStep::Rename, s))? {
            return Err((PersistStep::Rename, STATUS_IO_DEVICE_ERROR));
        }
        let file = disk.files.remove(temporary).unwrap_or_default();
        disk.files.insert(file_name(slot), file);
        let renames = disk.renames.entry(file_name(slot)).or_default();
        *renames = renames.saturating_add(1);
        Ok(())
    }

    fn remove(&mut self, slot: Slot) -> Result<(), i32> {
        let mut disk = self.disk();
        if disk.begin(Op::Remove)? {
            return Err(STATUS_IO_DEVICE_ERROR);
        }
        disk.files.remove(file_name(slot));
        Ok(())
    }
}
