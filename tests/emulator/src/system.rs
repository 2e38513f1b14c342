//! The emulated machine as a service lives on it: the driver's service can
//! be started and stopped (a stop waits for the last handle, as the I/O
//! manager does), another client can hold the exclusive device, time passes,
//! and a script says what happens next. [`EmulatedSystem`] is the companion's
//! `Connector` (opening handles on whichever driver is loaded), the `Device`
//! of each handle, and the service's `Clock`: every wait or sleep of the
//! service plays the next step of the script, so a whole day of a sensor's
//! life runs in a test, deterministically, on scenario time.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use ringfence_companion::clock::{Clock, Now};
use ringfence_companion::device::{Device, DeviceError, IoctlOutcome};
use ringfence_companion::output::faults::Faults;
use ringfence_companion::service::Connector;

use crate::device::Activity;
use crate::driver::{Caller, Emulator, RegValue};

/// One thing that happens on the machine.
pub enum Step {
    /// The kernel reports an activity to the driver's callbacks.
    Activity(Activity),
    /// `sc start ringfence`: a fresh driver image is loaded (sequence numbers start again).
    StartDriver,
    /// `sc stop ringfence`: unloads now, or after the last handle closes.
    StopDriver,
    /// Another program opens the exclusive device (fails quietly if it cannot).
    OtherClientOpens,
    OtherClientCloses,
    /// Anything else the test does at this point (remove a folder, fill a disk...).
    Act(Box<dyn FnOnce()>),
    /// Several steps at one instant (e.g. the driver starts and another client opens it at once).
    Together(Vec<Step>),
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Activity(a) => write!(f, "Activity({a:?})"),
            Step::StartDriver => f.write_str("StartDriver"),
            Step::StopDriver => f.write_str("StopDriver"),
            Step::OtherClientOpens => f.write_str("OtherClientOpens"),
            Step::OtherClientCloses => f.write_str("OtherClientCloses"),
            Step::Act(_) => f.write_str("Act"),
            Step::Together(steps) => f.debug_list().entries(steps).finish(),
        }
    }
}

/// How many activity events each driver load was handed, and other facts the tests check.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Per driver load, in order: activity events delivered to its callbacks.
    pub activity_per_load: Vec<u64>,
    /// Opens refused because another client held the device.
    pub refused_in_use: u64,
}

struct World {
    image: Vec<u8>,
    parameters: Vec<(String, RegValue)>,
    emulator: Option<Emulator>,
    /// Increments at every driver load; handles of an earlier load are dead.
    load: u64,
    other_client: Option<u64>,
    script: VecDeque<Step>,
    monotonic: Duration,
    wall_start: SystemTime,
    /// Scenario time each step takes.
    step_time: Duration,
    faults: Option<Faults>,
    ledger: Ledger,
}

/// The emulated machine, shared by the service's connector, its handles and its clock.
#[derive(Clone)]
pub struct EmulatedSystem(Rc<RefCell<World>>);

impl fmt::Debug for EmulatedSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let w = self.0.borrow();
        write!(f, "EmulatedSystem(load {}, {} steps left)", w.load, w.script.len())
    }
}

impl EmulatedSystem {
    /// A machine with `image` installed as the driver, not started, at `wall_start`.
    pub fn new(image: &[u8], wall_start: SystemTime) -> Self {
        EmulatedSystem(Rc::new(RefCell::new(World {
            image: image.to_vec(),
            parameters: Vec::new(),
            emulator: None,
            load: 0,
            other_client: None,
            script: VecDeque::new(),
            monotonic: Duration::ZERO,
            wall_start,
            step_time: Duration::from_millis(10),
            faults: None,
            ledger: Ledger::default(),
        })))
    }

    /// A value under the driver's Parameters key, applied at every start.
    pub fn set_parameter(&self, name: &str, value: RegValue) {
        self.0.borrow_mut().parameters.push((name.to_owned(), value));
    }

    /// When the process using this machine's handles is killed (its `Faults`
    /// say so), its handles fail like those of a dead process.
    pub fn watch_for_kill(&self, faults: Faults) {
        self.0.borrow_mut().faults = Some(faults);
    }

    pub fn script(&self, steps: impl IntoIterator<Item = Step>) {
        self.0.borrow_mut().script.extend(steps);
    }

    pub fn played_out(&self) -> bool {
        self.0.borrow().script.is_empty()
    }

    pub fn ledger(&self) -> Ledger {
        self.0.borrow().ledger.clone()
    }

    /// Runs `f` on the loaded driver, if any (to read its books at the end).
    pub fn with_driver<R>(&self, f: impl FnOnce(&mut Emulator) -> R) -> Option<R> {
        self.0.borrow_mut().emulator.as_mut().map(f)
    }

    /// Plays the next step; `false` when the script is over.
    pub fn step(&self) -> bool {
        let next = {
            let mut w = self.0.borrow_mut();
            w.monotonic = w.monotonic.saturating_add(w.step_time);
            w.script.pop_front()
        };
        let Some(step) = next else { return false };
        self.play(step);
        true
    }

    fn play(&self, step: Step) {
        match step {
            Step::Act(act) => act(),
            Step::Together(steps) => steps.into_iter().for_each(|s| self.play(s)),
            step => self.0.borrow_mut().apply(step),
        }
    }
}

impl World {
    fn apply(&mut self, step: Step) {
        match step {
            Step::Activity(activity) => {
                if let Some(emulator) = self.emulator.as_mut() {
                    if emulator.loaded {
                        emulator.apply(&activity).unwrap_or_else(|s| panic!("callback stopped: {s}"));
                        if let Some(n) = self.ledger.activity_per_load.last_mut() {
                            *n += 1;
                        }
                    }
                }
            }
            Step::StartDriver => {
                let mut emulator = Emulator::new(&self.image).unwrap_or_else(|e| panic!("{e}"));
                for (name, value) in &self.parameters {
                    emulator.set_parameter(name, value.clone());
                }
                assert_eq!(emulator.driver_entry(), Ok(0), "DriverEntry succeeds");
                self.emulator = Some(emulator);
                self.load += 1;
                self.ledger.activity_per_load.push(0);
            }
            Step::StopDriver => {
                if let Some(emulator) = self.emulator.as_mut() {
                    emulator.unload().unwrap_or_else(|s| panic!("unload stopped: {s}"));
                }
            }
            Step::OtherClientOpens => {
                if let Some(emulator) = self.emulator.as_mut() {
                    if let Ok((_, Some(file))) = emulator.open(Caller::Administrator, true, true) {
                        self.other_client = Some(file);
                    }
                }
            }
            Step::OtherClientCloses => {
                if let (Some(file), Some(emulator)) = (self.other_client.take(), self.emulator.as_mut()) {
                    emulator.close(file).unwrap_or_else(|s| panic!("close stopped: {s}"));
                }
            }
            Step::Act(_) | Step::Together(_) => {}
        }
    }

    fn killed(&self) -> bool {
        self.faults.as_ref().is_some_and(|f| f.plan().killed)
    }

    fn now(&self) -> Now {
        Now { monotonic: self.monotonic, wall: self.wall_start + self.monotonic }
    }
}

/// One handle on the driver of one load.
#[derive(Debug)]
pub struct EmulatedHandle {
    system: EmulatedSystem,
    load: u64,
    file: u64,
    event: Option<u64>,
    name: String,
}

const NAME: &str = r"\\.\Ringfence (emulated)";

impl Connector for EmulatedSystem {
    type Device = EmulatedHandle;

    fn connect(&mut self) -> Result<EmulatedHandle, DeviceError> {
        let mut w = self.0.borrow_mut();
        let device = NAME.to_owned();
        if w.killed() {
            return Err(DeviceError::Backend { device, source: "the process was killed".into() });
        }
        let load = w.load;
        let Some(emulator) = w.emulator.as_mut().filter(|e| e.loaded) else {
            return Err(DeviceError::NotFound { device });
        };
        let (status, file) =
            emulator.open(Caller::Administrator, true, true).unwrap_or_else(|s| panic!("{s}"));
        match file {
            Some(file) => Ok(EmulatedHandle { system: self.clone(), load, file, event: None, name: device }),
            None if status == windows_sys::Win32::Foundation::STATUS_ACCESS_DENIED => {
                w.ledger.refused_in_use += 1;
                Err(DeviceError::InUse { device })
            }
            // Unload pending (STATUS_DELETE_PENDING) or no device: not there for a new client.
            None => Err(DeviceError::NotFound { device }),
        }
    }

    fn driver_stopping(&mut self) -> bool {
        let w = self.0.borrow();
        w.emulator.as_ref().is_some_and(|e| e.loaded && e.machine.uc.get_data().io.unload_pending)
    }
}

impl Clock for EmulatedSystem {
    fn now(&self) -> Now {
        self.0.borrow().now()
    }

    /// Time passes and the world moves on by one step.
    fn sleep(&self, duration: Duration) {
        {
            let mut w = self.0.borrow_mut();
            w.monotonic = w.monotonic.saturating_add(duration);
        }
        self.step();
    }
}

impl EmulatedHandle {
    fn gone(&self) -> DeviceError {
        DeviceError::Os {
            device: self.name.clone(),
            operation: ringfence_companion::device::Operation::Ioctl { code: 0 },
            code: 1167,
        }
    }
}

impl Device for EmulatedHandle {
    fn name(&self) -> &str {
        &self.name
    }

    fn ioctl(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> Result<IoctlOutcome, DeviceError> {
        let mut w = self.system.0.borrow_mut();
        if w.killed() || w.load != self.load {
            return Err(self.gone());
        }
        let Some(emulator) = w.emulator.as_mut() else { return Err(self.gone()) };
        let len = u32::try_from(output.len()).unwrap_or(u32::MAX);
        let result = emulator
            .ioctl(self.file, code, input, len)
            .map_err(|s| DeviceError::Backend { device: self.name.clone(), source: Box::new(s) })?;
        output[..result.output.len()].copy_from_slice(&result.output);
        Ok(IoctlOutcome { status: result.status, information: result.information as usize })
    }

    fn wake_event(&mut self) -> Result<u64, DeviceError> {
        let mut w = self.system.0.borrow_mut();
        let Some(emulator) = w.emulator.as_mut() else { return Err(self.gone()) };
        Ok(*self.event.get_or_insert_with(|| emulator.create_event()))
    }

    /// Plays steps until the driver signals the event or the script is over.
    fn wait_for_events(&mut self, timeout: Duration) -> Result<bool, DeviceError> {
        loop {
            {
                let mut w = self.system.0.borrow_mut();
                if w.killed() {
                    return Err(self.gone());
                }
                let same_load = w.load == self.load;
                if let (Some(event), Some(emulator), true) = (self.event, w.emulator.as_mut(), same_load) {
                    if emulator.take_signal(event) {
                        return Ok(true);
                    }
                }
            }
            if !self.system.step() {
                let mut w = self.system.0.borrow_mut();
                w.monotonic = w.monotonic.saturating_add(timeout);
                return Ok(false);
            }
            // A stop request or another change is for the service to see: return to it.
            if self
                .system
                .0
                .borrow()
                .emulator
                .as_ref()
                .is_some_and(|e| e.machine.uc.get_data().io.unload_pending)
            {
                return Ok(false);
            }
        }
    }
}

impl Drop for EmulatedHandle {
    /// CLEANUP and CLOSE, as when the program closes the handle or exits.
    fn drop(&mut self) {
        let mut w = self.system.0.borrow_mut();
        if w.load != self.load {
            return;
        }
        if let Some(emulator) = w.emulator.as_mut() {
            let _ = emulator.close(self.file);
            if let Some(event) = self.event.take() {
                emulator.close_handle(event);
            }
        }
    }
}
