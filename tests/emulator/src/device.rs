//! The companion's [`Device`] over the emulated driver: the companion's own
//! session, watch loop and rendering run unchanged against the real binary.
//!
//! There is no other thread producing activity here, so waiting is where the
//! world moves on: `wait_for_events` plays the next step of the activity the
//! device was given, and reports whether the driver signalled the event.

use std::cell::Cell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use ringfence_companion::device::{Device, DeviceError, IoctlOutcome};

use crate::books::Stop;
use crate::driver::{Caller, Emulator};
use crate::events::{ImageLoad, ProcessStart};

/// One thing that happens on the emulated machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    ProcessStart(ProcessStart),
    ProcessExit { pid: u32, exit_status: i32, time: u64 },
    ImageLoad(ImageLoad),
}

impl Emulator {
    /// Delivers one activity to the driver's callbacks, then lets the system worker thread
    /// run what the callback queued.
    pub fn apply(&mut self, activity: &Activity) -> Result<(), Stop> {
        match activity {
            Activity::ProcessStart(p) => self.process_start(p).map(|_| ()),
            Activity::ProcessExit { pid, exit_status, time } => self.process_exit(*pid, *exit_status, *time),
            Activity::ImageLoad(i) => self.image_load(i),
        }?;
        self.run_work_items()
    }
}

/// `\\.\Ringfence` on the emulated machine, opened by an administrator.
#[derive(Debug)]
pub struct EmulatedDevice {
    pub emulator: Emulator,
    name: String,
    file: u64,
    event: Option<u64>,
    activity: VecDeque<Activity>,
    played_out: Rc<Cell<bool>>,
}

fn backend(name: &str, stop: Stop) -> DeviceError {
    DeviceError::Backend { device: name.to_owned(), source: Box::new(stop) }
}

impl EmulatedDevice {
    /// Opens the device of a loaded driver for reading and writing.
    pub fn open(mut emulator: Emulator, name: &str) -> Result<EmulatedDevice, DeviceError> {
        let device = name.to_owned();
        let (status, file) =
            emulator.open(Caller::Administrator, true, true).map_err(|s| backend(name, s))?;
        match file {
            Some(file) => Ok(EmulatedDevice {
                emulator,
                name: device,
                file,
                event: None,
                activity: VecDeque::new(),
                played_out: Rc::new(Cell::new(false)),
            }),
            None if status == windows_sys::Win32::Foundation::STATUS_ACCESS_DENIED => {
                Err(DeviceError::InUse { device })
            }
            None => Err(DeviceError::NotFound { device }),
        }
    }

    /// Queues activity that `wait_for_events` plays, one step per wait.
    pub fn queue(&mut self, activity: impl IntoIterator<Item = Activity>) {
        self.activity.extend(activity);
    }

    /// Becomes true when a wait finds nothing left to play: the watch can stop.
    pub fn played_out(&self) -> Rc<Cell<bool>> {
        Rc::clone(&self.played_out)
    }

    /// Whether every queued activity has been delivered.
    pub fn exhausted(&self) -> bool {
        self.activity.is_empty()
    }

    /// Closes the handle (CLEANUP, CLOSE) and hands the emulator back.
    pub fn close(mut self) -> Result<Emulator, Stop> {
        self.emulator.close(self.file)?;
        if let Some(event) = self.event.take() {
            self.emulator.close_handle(event);
        }
        Ok(self.emulator)
    }
}

impl Device for EmulatedDevice {
    fn name(&self) -> &str {
        &self.name
    }

    fn ioctl(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> Result<IoctlOutcome, DeviceError> {
        let len = u32::try_from(output.len()).unwrap_or(u32::MAX);
        let result = self.emulator.ioctl(self.file, code, input, len).map_err(|s| backend(&self.name, s))?;
        output[..result.output.len()].copy_from_slice(&result.output);
        Ok(IoctlOutcome { status: result.status, information: result.information as usize })
    }

    fn wake_event(&mut self) -> Result<u64, DeviceError> {
        Ok(*self.event.get_or_insert_with(|| self.emulator.create_event()))
    }

    fn wait_for_events(&mut self, _timeout: Duration) -> Result<bool, DeviceError> {
        let Some(event) = self.event else {
            self.played_out.set(self.activity.is_empty());
            return Ok(false);
        };
        while !self.emulator.take_signal(event) {
            let Some(next) = self.activity.pop_front() else {
                self.played_out.set(true);
                return Ok(false);
            };
            self.emulator.apply(&next).map_err(|s| backend(&self.name, s))?;
        }
        Ok(true)
    }
}
