//! The harness side of the kernel: loads the driver the way the service
//! control manager and the I/O manager do, unloads it, and reads the books.
//! Opening the device and sending IRPs is in [`crate::irp`].

use windows_sys::Wdk::Foundation::{DEVICE_OBJECT, DRIVER_EXTENSION, DRIVER_OBJECT};

pub use crate::irp::{Caller, DeviceIoControlParameters, IoctlLayout, IoctlResult, PointerAligned};

use crate::books::{Entry, Report, Stop};
use crate::kstring::KString;
use crate::layout::Guest;
use crate::machine::{Machine, SetupError};
use crate::model::io::DO_DEVICE_INITIALIZING;
use crate::model::pool::{Owner, POOL_FLAG_NON_PAGED, Pool};
use crate::model::ps::{ImageNotify, ProcessNotify};
use crate::model::{api_address, ob, se};
use crate::{rd, rd_code, wr, wr_ptr, wr_raw};

/// The service key the driver is loaded from.
pub const SERVICE_KEY: &str = "\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Services\\ringfence";

/// What an unload request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unload {
    /// DriverUnload ran.
    Done,
    /// A handle is open: the I/O manager unloads after the last close.
    Pending,
    /// The driver has no DriverUnload: it cannot be stopped.
    NotUnloadable,
}

/// A registry value of the service's Parameters key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegValue {
    Dword(u32),
    Binary(Vec<u8>),
}

/// The real ringfence.sys in the kernel model.
#[derive(Debug)]
pub struct Emulator {
    pub machine: Machine,
    pub driver_object: u64,
    registry_path: u64,
    pub loaded: bool,
    pub ioctl_layout: IoctlLayout,
}

impl Emulator {
    /// Maps the image and binds its imports; DriverEntry has not run.
    pub fn new(sys: &[u8]) -> Result<Emulator, SetupError> {
        let mut machine = Machine::new(sys)?;
        let uc = &mut machine.uc;
        let key = SERVICE_KEY.to_lowercase();
        uc.get_data_mut().ob.registry.insert(key.clone(), Default::default());
        uc.get_data_mut().ob.registry.insert(format!("{key}\\parameters"), Default::default());
        uc.get_data_mut().fs.make_directories(crate::boot::DRIVERS_DIRECTORY);
        let system = crate::model::ps::create(uc, crate::model::ps::Process { pid: 4, ..Default::default() });
        uc.get_data_mut().ps.current = system;
        Ok(Emulator {
            machine,
            driver_object: 0,
            registry_path: 0,
            loaded: false,
            ioctl_layout: IoctlLayout::Wdm,
        })
    }

    /// Maps the image and runs DriverEntry, which must succeed.
    pub fn load(sys: &[u8]) -> Result<Emulator, LoadFailure> {
        let mut emulator = Emulator::new(sys).map_err(LoadFailure::Setup)?;
        match emulator.driver_entry().map_err(LoadFailure::Stopped)? {
            s if s >= 0 => Ok(emulator),
            s => Err(LoadFailure::Status(s)),
        }
    }

    /// Sets a value under the service's Parameters key (before DriverEntry).
    pub fn set_parameter(&mut self, name: &str, value: RegValue) {
        let (kind, data) = match value {
            RegValue::Dword(v) => (4, v.to_le_bytes().to_vec()),
            RegValue::Binary(b) => (3, b),
        };
        let key = format!("{}\\parameters", SERVICE_KEY.to_lowercase());
        let values = self.machine.uc.get_data_mut().ob.registry.entry(key).or_default();
        values.insert(name.to_lowercase(), (kind, data));
    }

    /// Builds the DRIVER_OBJECT and registry path, then calls DriverEntry.
    pub fn driver_entry(&mut self) -> Result<i32, Stop> {
        let uc = &mut self.machine.uc;
        let size = core::mem::size_of::<DRIVER_OBJECT>() as u64;
        let extension_size = core::mem::size_of::<DRIVER_EXTENSION>() as u64;
        let driver =
            Pool::allocate(uc, size + extension_size, *b"Driv", POOL_FLAG_NON_PAGED, Owner::Kernel, 16)
                .unwrap_or(0);
        let extension = driver + size;
        wr!(uc, driver, DRIVER_OBJECT, Type = 4i16);
        wr!(uc, driver, DRIVER_OBJECT, Size = size as i16);
        wr_ptr!(uc, driver, DRIVER_OBJECT, DriverStart = self.machine.image.base);
        wr!(uc, driver, DRIVER_OBJECT, DriverSize = self.machine.image.size() as u32);
        wr_ptr!(uc, driver, DRIVER_OBJECT, DriverExtension = extension);
        wr_ptr!(uc, extension, DRIVER_EXTENSION, DriverObject = driver);
        let entry = self.machine.image.base + u64::from(self.machine.image.entry_rva);
        wr_raw!(uc, driver, DRIVER_OBJECT, DriverInit = entry);
        let invalid = api_address("IopInvalidDeviceRequest").unwrap_or(0);
        for major in 0..28u64 {
            let at = driver + core::mem::offset_of!(DRIVER_OBJECT, MajorFunction) as u64 + 8 * major;
            uc.write_uint(at, invalid, 8);
        }
        uc.get_data_mut().io.driver_object = driver;
        self.driver_object = driver;
        // No terminating NUL, and the buffer ends at a guard page: the kernel promises neither.
        let key: Vec<u16> = SERVICE_KEY.encode_utf16().collect();
        let len = u16::try_from(key.len() * 2).unwrap_or(u16::MAX);
        self.registry_path = KString::Raw { units: key, length: len, maximum_length: len }.place(uc);
        let status = self.call_status(Entry::DriverEntry, entry, &[driver, self.registry_path])?;
        if status >= 0 {
            self.loaded = true;
            // The I/O manager clears DO_DEVICE_INITIALIZING for devices created in DriverEntry.
            let devices: Vec<u64> = self.machine.uc.get_data().io.devices.keys().copied().collect();
            for dev in devices {
                let flags: u32 = rd!(&self.machine.uc, dev, DEVICE_OBJECT, Flags);
                wr!(&mut self.machine.uc, dev, DEVICE_OBJECT, Flags = flags & !DO_DEVICE_INITIALIZING);
            }
        }
        Ok(status)
    }

    pub(crate) fn call_status(&mut self, entry: Entry, address: u64, args: &[u64]) -> Result<i32, Stop> {
        let rax = self.machine.call(entry, address, args)?;
        Ok((rax & 0xFFFF_FFFF) as u32 as i32)
    }

    /// Fails the driver's `k`-th pool allocation attempt from now (1 = the next).
    pub fn fail_allocation(&mut self, k: u64) {
        let pool = &mut self.machine.uc.get_data_mut().pool;
        pool.fail_attempt = Some(pool.driver_attempts + k);
    }

    /// Makes the next call of `api` (one returning NTSTATUS) fail with `status`, doing nothing.
    pub fn fail_next_call(&mut self, api: &'static str, status: i32) {
        self.machine.uc.get_data_mut().fail_next.insert(api, status);
    }

    /// Makes call number `call` of `api` (counting every call since the machine started, as
    /// [`Emulator::api_calls`] does) fail with `status`, doing nothing.
    pub fn fail_call(&mut self, api: &'static str, call: u64, status: i32) {
        self.machine.uc.get_data_mut().fail_at.insert(api, (call, status));
    }

    pub fn clear_allocation_failure(&mut self) {
        self.machine.uc.get_data_mut().pool.fail_attempt = None;
    }

    /// Pool allocation attempts the driver made so far.
    pub fn allocation_attempts(&self) -> u64 {
        self.machine.uc.get_data().pool.driver_attempts
    }

    /// Sets the system time (100-ns units since 1601) the driver's clock reads.
    pub fn set_time(&mut self, time: u64) {
        self.machine.uc.get_data_mut().ke.time = time;
    }

    /// Stops the service: DriverUnload now, or after the last handle closes. Queued work
    /// items hold a reference on the device: they run to completion first.
    pub fn unload(&mut self) -> Result<Unload, Stop> {
        self.run_work_items()?;
        if !self.machine.uc.get_data().io.files.is_empty() {
            self.machine.uc.get_data_mut().io.unload_pending = true;
            return Ok(Unload::Pending);
        }
        self.run_unload()
    }

    pub(crate) fn run_unload(&mut self) -> Result<Unload, Stop> {
        let routine = rd_code!(&self.machine.uc, self.driver_object, DRIVER_OBJECT, DriverUnload);
        if routine == 0 {
            return Ok(Unload::NotUnloadable);
        }
        self.machine.uc.get_data_mut().io.unload_pending = false;
        self.machine.call(Entry::DriverUnload, routine, &[self.driver_object])?;
        self.loaded = false;
        Ok(Unload::Done)
    }

    /// A user-mode auto-reset event handle, as CreateEvent returns it.
    pub fn create_event(&mut self) -> u64 {
        ob::create_user_event(&mut self.machine.uc, ob::EVENT_ALL_ACCESS)
    }

    /// A user-mode event handle with only `access` rights.
    pub fn create_event_with_access(&mut self, access: u32) -> u64 {
        ob::create_user_event(&mut self.machine.uc, access)
    }

    /// A user-mode handle to a process object (the System process): a handle of the wrong type.
    pub fn create_process_handle(&mut self) -> u64 {
        let uc = &mut self.machine.uc;
        let system = uc.get_data().ps.current;
        uc.get_data_mut().ob.open_handle(system, 0x1F_FFFF, false)
    }

    /// Whether the event was signalled since the last look (and resets it).
    pub fn take_signal(&mut self, handle: u64) -> bool {
        ob::take_signal(&mut self.machine.uc, handle).unwrap_or(false)
    }

    pub fn close_handle(&mut self, handle: u64) -> bool {
        ob::close_handle(&mut self.machine.uc, handle)
    }

    /// What the driver holds now, and every finding so far.
    pub fn report(&self) -> Report {
        let k = self.machine.uc.get_data();
        Report {
            pool_outstanding: k.pool.driver_outstanding(),
            pool_allocations: k.pool.driver_allocations,
            pool_frees: k.pool.driver_frees,
            process_callback: k.ps.process_notify.is_some(),
            image_callback: !k.ps.image_notify.is_empty(),
            devices: k.io.live_devices().map(|(_, d)| d.name.clone().unwrap_or_default()).collect(),
            links: k.io.links.values().map(|(l, _)| l.clone()).collect(),
            locks_held: k.ke.locks.keys().copied().collect(),
            irql: k.ke.irql,
            references: k.ob.driver_references(),
            kernel_handles: k.ob.kernel_handles(),
            work_items: k.work.items.keys().copied().collect(),
            findings: k.findings.clone(),
            max_stack_bytes: k.max_stack_bytes,
            max_stack_by_entry: k.max_stack_by_entry.clone(),
        }
    }

    /// The process routine the driver registered, and through which API.
    pub fn process_registration(&self) -> Option<ProcessNotify> {
        self.machine.uc.get_data().ps.process_notify
    }

    /// The image routines the driver registered, with their flags.
    pub fn image_registrations(&self) -> Vec<ImageNotify> {
        self.machine.uc.get_data().ps.image_notify.clone()
    }

    /// The security descriptor the driver put on its device, if any.
    pub fn device_security(&self) -> Option<se::SecurityDescriptor> {
        let k = self.machine.uc.get_data();
        k.io.live_devices().find_map(|(_, d)| d.security.clone())
    }

    /// Calls per modelled API so far.
    pub fn api_calls(&self) -> &std::collections::BTreeMap<&'static str, u64> {
        &self.machine.uc.get_data().calls
    }
}

/// Why [`Emulator::load`] failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadFailure {
    Setup(SetupError),
    Stopped(Stop),
    /// DriverEntry returned this error status.
    Status(i32),
}

impl std::fmt::Display for LoadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadFailure::Setup(e) => write!(f, "{e}"),
            LoadFailure::Stopped(s) => write!(f, "DriverEntry did not return: {s}"),
            LoadFailure::Status(s) => write!(f, "DriverEntry failed with {:#010x}", *s as u32),
        }
    }
}

impl std::error::Error for LoadFailure {}
