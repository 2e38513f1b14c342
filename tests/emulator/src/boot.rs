//! Boots: what survives from one driver load to the next, and how a load ends.
//!
//! A [`Disk`] is the machine's persistent state as far as the driver can see it:
//! the registry and the file system. [`Emulator::boot`] starts a fresh kernel
//! on a disk; a boot ends either in an orderly way ([`Emulator::shutdown_disk`]:
//! everything written reaches the disk) or abruptly ([`Emulator::crash_at_call`]
//! makes the machine die in the n-th kernel API call from now, and
//! [`Emulator::crash_disk`] keeps only what was durable by then).

use crate::books::{Entry, Stop};
use crate::driver::{Emulator, SERVICE_KEY};
use crate::machine::SetupError;
use crate::model::cm::Hive;
use crate::model::fs::{self, Files};
use crate::model::workitem;

/// Where the system keeps drivers; the driver's own directory goes below it.
pub const DRIVERS_DIRECTORY: &str = "\\SystemRoot\\System32\\drivers";
/// The directory ringfence.sys persists content in.
pub const CONTENT_DIRECTORY: &str = "\\SystemRoot\\System32\\drivers\\ringfence";

/// The persistent state of a machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disk {
    pub registry: Hive,
    pub files: Files,
}

impl Disk {
    /// A file's durable bytes, by path (any case).
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.get(&path.to_lowercase()).map(|n| n.durable.as_slice())
    }

    /// One of the driver's content files (`trial.bin`, `lkg.bin`, …).
    pub fn content_file(&self, name: &str) -> Option<&[u8]> {
        self.file(&format!("{CONTENT_DIRECTORY}\\{name}"))
    }

    /// A value of the service key (not of `Parameters`).
    pub fn service_value(&self, name: &str) -> Option<&(u32, Vec<u8>)> {
        self.registry.get(&SERVICE_KEY.to_lowercase()).and_then(|v| v.get(&name.to_lowercase()))
    }

    pub fn set_file(&mut self, path: &str, bytes: &[u8]) {
        let mut fs = fs::Fs { nodes: std::mem::take(&mut self.files), ..Default::default() };
        fs::plant(&mut fs, path, bytes);
        self.files = fs.nodes;
    }
}

impl Emulator {
    /// A fresh kernel on `disk`, with the image mapped; DriverEntry has not run.
    pub fn boot(sys: &[u8], disk: &Disk) -> Result<Emulator, SetupError> {
        let mut emulator = Emulator::new(sys)?;
        let k = emulator.machine.uc.get_data_mut();
        for (key, values) in &disk.registry {
            k.ob.registry.entry(key.clone()).or_default().extend(values.clone());
        }
        k.fs.restore(&disk.files);
        Ok(emulator)
    }

    /// The disk as an orderly shutdown leaves it: every write reached it.
    pub fn shutdown_disk(&self) -> Disk {
        let k = self.machine.uc.get_data();
        Disk { registry: k.ob.registry.clone(), files: k.fs.flushed_view() }
    }

    /// The disk as a crash leaves it: only what was flushed.
    pub fn crash_disk(&self) -> Disk {
        let k = self.machine.uc.get_data();
        Disk { registry: k.cm.durable_view(&k.ob.registry), files: k.fs.durable_view() }
    }

    /// Makes the machine crash in the `n`-th kernel API call from now (1: the next).
    pub fn crash_at_call(&mut self, n: u64) {
        let k = self.machine.uc.get_data_mut();
        k.crash_at = Some(k.api_calls + n);
    }

    /// Kernel API calls the driver made so far in this boot.
    pub fn api_call_count(&self) -> u64 {
        self.machine.uc.get_data().api_calls
    }

    /// Whether the machine crashed (as asked by [`Emulator::crash_at_call`]).
    pub fn crashed(&self) -> bool {
        let k = self.machine.uc.get_data();
        k.crash_at.is_some_and(|at| k.api_calls >= at)
    }

    /// Plays the system worker thread: runs every queued work item, in order.
    pub fn run_work_items(&mut self) -> Result<(), Stop> {
        while let Some((_, device, routine, context)) = workitem::take_next(self.machine.uc.get_data_mut()) {
            let result = self.machine.call(Entry::WorkItem, routine, &[device, context]);
            let k = self.machine.uc.get_data_mut();
            k.work.ran += 1;
            if let Some(o) = k.ob.objects.get_mut(&device) {
                o.kernel_refs -= 1;
            }
            result?;
        }
        Ok(())
    }

    /// Work item routines run so far.
    pub fn work_items_run(&self) -> u64 {
        self.machine.uc.get_data().work.ran
    }
}
