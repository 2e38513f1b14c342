//! The harness side of the kernel: loads the driver the way the I/O manager
//! does, opens and closes its device, sends IRPs, unloads, and reads the books.

use windows_sys::Wdk::Foundation::{
    DEVICE_OBJECT, DRIVER_EXTENSION, DRIVER_OBJECT, FILE_OBJECT, IO_SECURITY_CONTEXT, IO_STACK_LOCATION, IRP,
};
use windows_sys::Wdk::System::SystemServices::{
    IRP_MJ_CLEANUP, IRP_MJ_CLOSE, IRP_MJ_CREATE, IRP_MJ_DEVICE_CONTROL,
};
use windows_sys::Win32::Foundation::{
    STATUS_ACCESS_DENIED, STATUS_DELETE_PENDING, STATUS_OBJECT_NAME_NOT_FOUND, STATUS_PENDING,
};

use crate::books::{Entry, Finding, Report, Stop};
use crate::kstring::KString;
use crate::layout::{Guest, map};
use crate::machine::{Machine, SetupError};
use crate::model::io::{DO_DEVICE_INITIALIZING, OpenFile, reap_device};
use crate::model::pool::{Owner, POOL_FLAG_NON_PAGED, Pool};
use crate::model::{api_address, ob, se};
use crate::{rd, rd_code, rd_ptr, wr, wr_ptr, wr_raw};

/// The service key the driver is loaded from.
pub const SERVICE_KEY: &str = "\\REGISTRY\\MACHINE\\SYSTEM\\CurrentControlSet\\Services\\ringfence";
/// Where a user-mode caller's output buffer would be: unmapped, so touching it faults.
const USER_BUFFER: u64 = 0x0000_0000_0100_0000;

/// `IO_STACK_LOCATION.Parameters.DeviceIoControl` as wdm.h declares it: on x64
/// `InputBufferLength` and `IoControlCode` are `POINTER_ALIGNMENT`, at 0x08 and
/// 0x10. windows-sys 0.61 drops that alignment (microsoft/windows-rs#4404,
/// #4967) and puts them at 0x04 and 0x08; the real I/O manager writes these.
#[repr(C)]
#[allow(non_snake_case)]
#[derive(Debug, Clone, Copy)]
pub struct DeviceIoControlParameters {
    pub OutputBufferLength: u32,
    pub InputBufferLength: PointerAligned<u32>,
    pub IoControlCode: PointerAligned<u32>,
    pub Type3InputBuffer: *mut core::ffi::c_void,
}

/// Where IRPs carry the device-control parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IoctlLayout {
    /// Where Windows puts them (wdm.h): the only correct choice.
    #[default]
    Wdm,
    /// Where windows-sys 0.61 expects them: only to diagnose a driver built on
    /// that layout, which fails every control request on a real machine.
    WindowsSys061,
}

/// `POINTER_ALIGNMENT`: `DECLSPEC_ALIGN(8)` on 64-bit targets.
#[repr(C, align(8))]
#[derive(Debug, Clone, Copy)]
pub struct PointerAligned<T> {
    pub value: T,
}

/// Who opens the device: the I/O manager checks the device's DACL against these SIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// An elevated administrator (SYSTEM-equivalent for the DACL).
    Administrator,
    LocalSystem,
    /// A standard user: Everyone, Users, Authenticated Users.
    StandardUser,
}

impl Caller {
    fn sids(self) -> &'static [&'static str] {
        match self {
            Caller::Administrator => {
                &[se::SID_ADMINISTRATORS, se::SID_USERS, se::SID_EVERYONE, se::SID_AUTHENTICATED_USERS]
            }
            Caller::LocalSystem => {
                &[se::SID_LOCAL_SYSTEM, se::SID_ADMINISTRATORS, se::SID_EVERYONE, se::SID_AUTHENTICATED_USERS]
            }
            Caller::StandardUser => &[se::SID_USERS, se::SID_EVERYONE, se::SID_AUTHENTICATED_USERS],
        }
    }
}

/// How a control request completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoctlResult {
    pub status: i32,
    pub information: u64,
    /// What the I/O manager copies back to the caller: `Information` bytes,
    /// unless the status is an error.
    pub output: Vec<u8>,
}

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
        let system = Pool::allocate_object(uc, 0x100, *b"Proc").unwrap_or(0);
        uc.get_data_mut()
            .ps
            .processes
            .insert(system, crate::model::ps::Process { pid: 4, ..Default::default() });
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
        self.registry_path = KString::text(SERVICE_KEY).place(uc);
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

    fn call_status(&mut self, entry: Entry, address: u64, args: &[u64]) -> Result<i32, Stop> {
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

    fn device(&self) -> Option<u64> {
        self.machine.uc.get_data().io.device_named(ringfence_wire::ioctl::DOS_DEVICE_NAME)
    }

    fn allocate_irp(&mut self, major: u32, device: u64, file: u64) -> u64 {
        let uc = &mut self.machine.uc;
        let irp_size = core::mem::size_of::<IRP>() as u64;
        let stack_size = core::mem::size_of::<IO_STACK_LOCATION>() as u64;
        let irp = Pool::allocate(uc, irp_size + stack_size, *b"Irp ", POOL_FLAG_NON_PAGED, Owner::Kernel, 16)
            .unwrap_or(0);
        let stack = irp + irp_size;
        wr!(uc, irp, IRP, Type = 6i16);
        wr!(uc, irp, IRP, Size = (irp_size + stack_size) as u16);
        wr!(uc, irp, IRP, RequestorMode = 1i8);
        wr!(uc, irp, IRP, StackCount = 1i8);
        wr!(uc, irp, IRP, CurrentLocation = 1i8);
        wr_ptr!(uc, irp, IRP, Tail.Overlay.Anonymous2.Anonymous.CurrentStackLocation = stack);
        wr_ptr!(uc, irp, IRP, Tail.Overlay.OriginalFileObject = file);
        wr_raw!(uc, irp, IRP, Tail.Overlay.Thread = map::KPCR + 0x1000);
        wr!(uc, stack, IO_STACK_LOCATION, MajorFunction = major as u8);
        wr_ptr!(uc, stack, IO_STACK_LOCATION, DeviceObject = device);
        wr_ptr!(uc, stack, IO_STACK_LOCATION, FileObject = file);
        uc.get_data_mut().io.irps.insert(irp, 0);
        irp
    }

    /// Sends `irp` to the driver's dispatch routine and checks it was completed once.
    fn dispatch(&mut self, irp: u64, device: u64, major: u32) -> Result<(i32, u64), Stop> {
        let routine = rd_code!(
            &self.machine.uc,
            self.driver_object + 8 * u64::from(major),
            DRIVER_OBJECT,
            MajorFunction
        );
        let major8 = major as u8;
        let returned = self.call_status(Entry::Dispatch { major: major8 }, routine, &[device, irp]);
        let uc = &mut self.machine.uc;
        let completions = uc.get_data_mut().io.irps.remove(&irp).unwrap_or(0);
        let completed: i32 = rd!(uc, irp, IRP, IoStatus.Anonymous.Status);
        let information = rd!(uc, irp, IRP, IoStatus.Information) as u64;
        Pool::release(uc, irp);
        let returned = returned?;
        let k = uc.get_data_mut();
        if returned == STATUS_PENDING {
            k.findings.push(Finding::IrpPending { major: major8 });
        } else if completions == 0 {
            k.findings.push(Finding::IrpNotCompleted { major: major8 });
        } else if returned != completed {
            k.findings.push(Finding::IrpStatusMismatch { major: major8, returned, completed });
        }
        Ok((returned, information))
    }

    /// Opens `\\.\Ringfence` as `caller` with read and/or write access: the
    /// I/O manager's checks, then IRP_MJ_CREATE. Returns the status and the file object.
    pub fn open(&mut self, caller: Caller, read: bool, write: bool) -> Result<(i32, Option<u64>), Stop> {
        let Some(device) = self.device() else { return Ok((STATUS_OBJECT_NAME_NOT_FOUND, None)) };
        let k = self.machine.uc.get_data();
        if k.io.unload_pending {
            return Ok((STATUS_DELETE_PENDING, None));
        }
        let dev = k.io.devices.get(&device);
        // GENERIC_READ / GENERIC_WRITE, as CreateFile passes them.
        let desired = if read { 0x8000_0000 } else { 0 } | if write { 0x4000_0000 } else { 0 };
        if !se::access_granted(dev.and_then(|d| d.security.as_ref()), caller.sids(), desired) {
            return Ok((STATUS_ACCESS_DENIED, None));
        }
        if dev.is_some_and(|d| d.exclusive) && k.io.files.values().any(|f| f.device == device) {
            return Ok((STATUS_ACCESS_DENIED, None));
        }
        let uc = &mut self.machine.uc;
        let size = core::mem::size_of::<FILE_OBJECT>() as u64;
        let file = Pool::allocate(uc, size, *b"File", POOL_FLAG_NON_PAGED, Owner::Kernel, 16).unwrap_or(0);
        wr!(uc, file, FILE_OBJECT, Type = 5i16);
        wr!(uc, file, FILE_OBJECT, Size = size as i16);
        wr_ptr!(uc, file, FILE_OBJECT, DeviceObject = device);
        wr!(uc, file, FILE_OBJECT, ReadAccess = read);
        wr!(uc, file, FILE_OBJECT, WriteAccess = write);
        let context_size = core::mem::size_of::<IO_SECURITY_CONTEXT>() as u64;
        let context =
            Pool::allocate(uc, context_size, *b"IoSc", POOL_FLAG_NON_PAGED, Owner::Kernel, 16).unwrap_or(0);
        wr!(uc, context, IO_SECURITY_CONTEXT, DesiredAccess = desired);
        let irp = self.allocate_irp(IRP_MJ_CREATE, device, file);
        let stack =
            rd_ptr!(&self.machine.uc, irp, IRP, Tail.Overlay.Anonymous2.Anonymous.CurrentStackLocation);
        wr_ptr!(&mut self.machine.uc, stack, IO_STACK_LOCATION, Parameters.Create.SecurityContext = context);
        let result = self.dispatch(irp, device, IRP_MJ_CREATE);
        Pool::release(&mut self.machine.uc, context);
        let (status, _) = result?;
        if status < 0 {
            Pool::release(&mut self.machine.uc, file);
            return Ok((status, None));
        }
        self.machine.uc.get_data_mut().io.files.insert(file, OpenFile { device, read, write });
        let count: i32 = rd!(&self.machine.uc, device, DEVICE_OBJECT, ReferenceCount);
        wr!(&mut self.machine.uc, device, DEVICE_OBJECT, ReferenceCount = count + 1);
        Ok((status, Some(file)))
    }

    /// Closes the last handle of `file`: IRP_MJ_CLEANUP then IRP_MJ_CLOSE, and a
    /// pending unload runs after the last close.
    pub fn close(&mut self, file: u64) -> Result<(), Stop> {
        let Some(open) = self.machine.uc.get_data().io.files.get(&file).copied() else { return Ok(()) };
        for major in [IRP_MJ_CLEANUP, IRP_MJ_CLOSE] {
            let irp = self.allocate_irp(major, open.device, file);
            self.dispatch(irp, open.device, major)?;
        }
        let uc = &mut self.machine.uc;
        uc.get_data_mut().io.files.remove(&file);
        if let Some(count) = uc.get_data().io.devices.contains_key(&open.device).then(|| {
            let c: i32 = rd!(&*uc, open.device, DEVICE_OBJECT, ReferenceCount);
            c
        }) {
            wr!(uc, open.device, DEVICE_OBJECT, ReferenceCount = count - 1);
        }
        Pool::release(uc, file);
        reap_device(uc, open.device);
        let k = uc.get_data();
        if k.io.unload_pending && k.io.files.is_empty() {
            self.run_unload()?;
        }
        Ok(())
    }

    /// IRP_MJ_DEVICE_CONTROL, METHOD_BUFFERED, as DeviceIoControl sends it.
    pub fn ioctl(
        &mut self,
        file: u64,
        code: u32,
        input: &[u8],
        output_len: u32,
    ) -> Result<IoctlResult, Stop> {
        let Some(open) = self.machine.uc.get_data().io.files.get(&file).copied() else {
            return Ok(IoctlResult {
                status: windows_sys::Win32::Foundation::STATUS_INVALID_HANDLE,
                information: 0,
                output: Vec::new(),
            });
        };
        // The access bits of the code, checked against the handle before the driver runs.
        let access = (code >> 14) & 3;
        if (access & 1 != 0 && !open.read) || (access & 2 != 0 && !open.write) {
            return Ok(IoctlResult { status: STATUS_ACCESS_DENIED, information: 0, output: Vec::new() });
        }
        let uc = &mut self.machine.uc;
        let length = (input.len() as u64).max(u64::from(output_len));
        let system = if length == 0 {
            0
        } else {
            let at =
                Pool::allocate(uc, length, *b"Sysb", POOL_FLAG_NON_PAGED, Owner::Kernel, 16).unwrap_or(0);
            uc.write_bytes(at, input);
            at
        };
        let irp = self.allocate_irp(IRP_MJ_DEVICE_CONTROL, open.device, file);
        let uc = &mut self.machine.uc;
        wr_ptr!(uc, irp, IRP, AssociatedIrp.SystemBuffer = system);
        wr_ptr!(uc, irp, IRP, UserBuffer = if output_len == 0 { 0 } else { USER_BUFFER });
        let stack = rd_ptr!(&*uc, irp, IRP, Tail.Overlay.Anonymous2.Anonymous.CurrentStackLocation);
        // wdm.h's layout, not windows-sys 0.61's (see `DeviceIoControlParameters`).
        let parameters = stack + core::mem::offset_of!(IO_STACK_LOCATION, Parameters) as u64;
        match self.ioctl_layout {
            IoctlLayout::Wdm => {
                wr!(uc, parameters, DeviceIoControlParameters, OutputBufferLength = output_len);
                wr!(uc, parameters, DeviceIoControlParameters, InputBufferLength.value = input.len() as u32);
                wr!(uc, parameters, DeviceIoControlParameters, IoControlCode.value = code);
            }
            IoctlLayout::WindowsSys061 => {
                wr!(uc, stack, IO_STACK_LOCATION, Parameters.DeviceIoControl.OutputBufferLength = output_len);
                wr!(
                    uc,
                    stack,
                    IO_STACK_LOCATION,
                    Parameters.DeviceIoControl.InputBufferLength = input.len() as u32
                );
                wr!(uc, stack, IO_STACK_LOCATION, Parameters.DeviceIoControl.IoControlCode = code);
            }
        }
        let result = self.dispatch(irp, open.device, IRP_MJ_DEVICE_CONTROL);
        let uc = &mut self.machine.uc;
        let output = match &result {
            Ok((status, information)) if *status >= 0 || (*status as u32) >> 30 == 2 => {
                if *information > u64::from(output_len) {
                    let information = *information;
                    uc.get_data_mut().findings.push(Finding::InformationExceedsOutput {
                        code,
                        information,
                        output: output_len,
                    });
                }
                let n = (*information).min(u64::from(output_len)) as usize;
                uc.read_bytes(system, n).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        if system != 0 {
            Pool::release(uc, system);
        }
        let (status, information) = result?;
        Ok(IoctlResult { status, information, output })
    }

    /// Stops the service: DriverUnload now, or after the last handle closes.
    pub fn unload(&mut self) -> Result<Unload, Stop> {
        if !self.machine.uc.get_data().io.files.is_empty() {
            self.machine.uc.get_data_mut().io.unload_pending = true;
            return Ok(Unload::Pending);
        }
        self.run_unload()
    }

    fn run_unload(&mut self) -> Result<Unload, Stop> {
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
        let ob = &mut uc.get_data_mut().ob;
        if !ob.objects.contains_key(&system) {
            ob.insert(system, ob::ObjectKind::Process, false);
        }
        ob.open_handle(system, 0x1F_FFFF, false)
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
            findings: k.findings.clone(),
            max_stack_bytes: k.max_stack_bytes,
        }
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
