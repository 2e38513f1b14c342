//! The I/O manager's side of talking to the driver: opening and closing its
//! device, and sending IRPs (CREATE, CLEANUP, CLOSE, DEVICE_CONTROL) the way
//! DeviceIoControl and CreateFile do, with the checks Windows makes first.

use windows_sys::Wdk::Foundation::{
    DEVICE_OBJECT, DRIVER_OBJECT, FILE_OBJECT, IO_SECURITY_CONTEXT, IO_STACK_LOCATION, IRP,
};
use windows_sys::Wdk::System::SystemServices::{
    IRP_MJ_CLEANUP, IRP_MJ_CLOSE, IRP_MJ_CREATE, IRP_MJ_DEVICE_CONTROL,
};
use windows_sys::Win32::Foundation::{
    STATUS_ACCESS_DENIED, STATUS_DELETE_PENDING, STATUS_OBJECT_NAME_NOT_FOUND, STATUS_PENDING,
};

use crate::books::{Entry, Finding, Stop};
use crate::driver::Emulator;
use crate::layout::{Guest, map, wide, wide_bytes};
use crate::model::io::{OpenFile, reap_device};
use crate::model::pool::{Owner, POOL_FLAG_NON_PAGED, Pool};
use crate::model::se;
use crate::threads::Pending;
use crate::{rd, rd_code, rd_ptr, wr, wr_ptr, wr_raw};

/// `Parameters.Create.Options` as CreateFileW sends them for OPEN_EXISTING without
/// FILE_FLAG_OVERLAPPED: disposition FILE_OPEN (1) in the high byte, options
/// FILE_SYNCHRONOUS_IO_NONALERT (0x20) | FILE_NON_DIRECTORY_FILE (0x40).
pub const CREATE_FILE_OPTIONS: u32 = (1 << 24) | 0x20 | 0x40;

/// `FILE_DIRECTORY_FILE`: the caller wants a directory.
pub const FILE_DIRECTORY_FILE: u32 = 0x1;

/// Frees a file object and the name buffer the I/O manager gave it.
fn release_file_object(uc: &mut crate::model::Uc<'_>, file: u64) {
    let name = rd_ptr!(&*uc, file, FILE_OBJECT, FileName.Buffer);
    if name != 0 {
        Pool::release(uc, name);
    }
    Pool::release(uc, file);
}

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

impl Emulator {
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
        let (entry, routine, args) = self.dispatch_call(irp, device, major);
        let returned = self.call_status(entry, routine, &args);
        self.dispatch_finish(irp, major, returned)
    }

    /// The call that dispatches `irp`: its entry, the routine and the arguments.
    fn dispatch_call(&self, irp: u64, device: u64, major: u32) -> (Entry, u64, Vec<u64>) {
        let routine = rd_code!(
            &self.machine.uc,
            self.driver_object + 8 * u64::from(major),
            DRIVER_OBJECT,
            MajorFunction
        );
        (Entry::Dispatch { major: major as u8 }, routine, vec![device, irp])
    }

    /// After the dispatch routine returned `returned`: checks `irp` was completed once, with
    /// the status returned, and frees it.
    fn dispatch_finish(
        &mut self,
        irp: u64,
        major: u32,
        returned: Result<i32, Stop>,
    ) -> Result<(i32, u64), Stop> {
        let major8 = major as u8;
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
        self.open_path(caller, read, write, "", CREATE_FILE_OPTIONS)
    }

    /// Opens `\\.\Ringfence` followed by `remainder` (e.g. `\anything`, which the I/O
    /// manager leaves in the file object's name for the driver to judge), with `options`
    /// as `Parameters.Create.Options` (disposition in the high byte).
    pub fn open_path(
        &mut self,
        caller: Caller,
        read: bool,
        write: bool,
        remainder: &str,
        options: u32,
    ) -> Result<(i32, Option<u64>), Stop> {
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
        if !remainder.is_empty() {
            let bytes = wide_bytes(&wide(remainder));
            let buffer = Pool::place_exact(uc, &bytes).unwrap_or(0);
            let length = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
            wr!(uc, file, FILE_OBJECT, FileName.Length = length);
            wr!(uc, file, FILE_OBJECT, FileName.MaximumLength = length);
            wr_ptr!(uc, file, FILE_OBJECT, FileName.Buffer = buffer);
        }
        let context_size = core::mem::size_of::<IO_SECURITY_CONTEXT>() as u64;
        let context =
            Pool::allocate(uc, context_size, *b"IoSc", POOL_FLAG_NON_PAGED, Owner::Kernel, 16).unwrap_or(0);
        wr!(uc, context, IO_SECURITY_CONTEXT, DesiredAccess = desired);
        let irp = self.allocate_irp(IRP_MJ_CREATE, device, file);
        let stack =
            rd_ptr!(&self.machine.uc, irp, IRP, Tail.Overlay.Anonymous2.Anonymous.CurrentStackLocation);
        wr_ptr!(&mut self.machine.uc, stack, IO_STACK_LOCATION, Parameters.Create.SecurityContext = context);
        wr!(&mut self.machine.uc, stack, IO_STACK_LOCATION, Parameters.Create.Options = options);
        let result = self.dispatch(irp, device, IRP_MJ_CREATE);
        Pool::release(&mut self.machine.uc, context);
        let (status, _) = result?;
        if status < 0 {
            release_file_object(&mut self.machine.uc, file);
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
        release_file_object(uc, file);
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
        let pending = self.prepare_ioctl(file, code, input, output_len);
        self.run_pending(pending)
    }

    /// [`Emulator::ioctl`] up to the dispatch call: the I/O manager's checks, the system
    /// buffer and the IRP; the call and the completion left to the caller.
    pub(crate) fn prepare_ioctl(
        &mut self,
        file: u64,
        code: u32,
        input: &[u8],
        output_len: u32,
    ) -> Pending<Result<IoctlResult, Stop>> {
        let Some(open) = self.machine.uc.get_data().io.files.get(&file).copied() else {
            return Pending::ready(Ok(IoctlResult {
                status: windows_sys::Win32::Foundation::STATUS_INVALID_HANDLE,
                information: 0,
                output: Vec::new(),
            }));
        };
        // The access bits of the code, checked against the handle before the driver runs.
        let access = (code >> 14) & 3;
        if (access & 1 != 0 && !open.read) || (access & 2 != 0 && !open.write) {
            return Pending::ready(Ok(IoctlResult {
                status: STATUS_ACCESS_DENIED,
                information: 0,
                output: Vec::new(),
            }));
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
        let call = self.dispatch_call(irp, open.device, IRP_MJ_DEVICE_CONTROL);
        Pending::new(vec![call], move |emulator: &mut Emulator, returned: Result<Vec<u64>, Stop>| {
            let returned = returned.map(|rax| rax.first().map_or(0, |&r| (r & 0xFFFF_FFFF) as u32 as i32));
            let result = emulator.dispatch_finish(irp, IRP_MJ_DEVICE_CONTROL, returned);
            let uc = &mut emulator.machine.uc;
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
        })
    }
}
