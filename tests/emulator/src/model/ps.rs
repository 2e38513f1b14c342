//! Processes and the notification routines the driver registers; a process by id, its
//! image name and its command line, as the kernel answers for them.

use std::collections::BTreeMap;

use windows_sys::Wdk::System::SystemServices::{
    PS_IMAGE_NOTIFY_CONFLICTING_ARCHITECTURE, PsCreateProcessNotifySubsystems,
};
use windows_sys::Win32::Foundation::{
    STATUS_ACCESS_DENIED, STATUS_INFO_LENGTH_MISMATCH, STATUS_INVALID_CID, STATUS_INVALID_HANDLE,
    STATUS_INVALID_INFO_CLASS, STATUS_INVALID_PARAMETER, STATUS_INVALID_PARAMETER_2, STATUS_NOT_FOUND,
    STATUS_PROCEDURE_NOT_FOUND, STATUS_SUCCESS, UNICODE_STRING,
};

use super::ob::{Ob, ObjectKind};
use super::pool::{Owner, POOL_FLAG_PAGED, Pool};
use super::{APC_LEVEL, Call, PASSIVE_LEVEL, Uc, status};
use crate::books::Finding;
use crate::layout::{Guest, wide_bytes};
use crate::{wr, wr_ptr};

/// What a process's primary token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The user, as `S-1-…` text.
    pub user: String,
    /// `TokenStatistics.AuthenticationId`.
    pub logon_id: u64,
    /// The mandatory label's RID: 0x1000 low, 0x2000 medium, 0x3000 high, 0x4000 system.
    pub integrity: u32,
    /// `TOKEN_ELEVATION_TYPE`: 1 default, 2 full, 3 limited.
    pub elevation: u32,
}

impl Default for Token {
    /// LocalSystem's token, as the System process and services have.
    fn default() -> Self {
        Token { user: "S-1-5-18".to_owned(), logon_id: 0x3e7, integrity: 0x4000, elevation: 1 }
    }
}

/// What the kernel knows about one process, behind its EPROCESS address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub session_id: u32,
    pub start_key: u64,
    pub exit_status: i32,
    pub create_time: u64,
    /// The NT path `SeLocateProcessImageName` reports, in UTF-16 units; `None`: it has none.
    pub image: Option<Vec<u16>>,
    /// What `ProcessCommandLineInformation` reads; `None`: the query is refused.
    pub command_line: Option<Vec<u16>>,
    pub token: Token,
    /// The token object's address.
    pub token_object: u64,
    /// A subsystem (e.g. Pico) process: only Ex2 registrations for subsystems hear of it.
    pub subsystem: bool,
}

/// Which API registered the process routine; it decides what the routine is told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessApi {
    /// `PsSetCreateProcessNotifyRoutineEx`: Win32 processes only.
    Ex,
    /// `PsSetCreateProcessNotifyRoutineEx2(PsCreateProcessNotifySubsystems, …)`: subsystem
    /// processes too, with `IsSubsystemProcess` set.
    Ex2Subsystems,
}

/// The registered process routine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessNotify {
    pub routine: u64,
    pub api: ProcessApi,
}

impl ProcessNotify {
    /// Whether the kernel calls this routine for a process that is (or is not) a subsystem one.
    pub fn hears_of(&self, subsystem: bool) -> bool {
        !subsystem || self.api == ProcessApi::Ex2Subsystems
    }
}

/// A registered image routine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageNotify {
    pub routine: u64,
    /// `PsSetLoadImageNotifyRoutineEx`'s Flags; 0 for `PsSetLoadImageNotifyRoutine`.
    pub flags: u64,
}

impl ImageNotify {
    /// Whether the kernel calls this routine for an image of (or not of) a conflicting architecture.
    pub fn hears_of(&self, conflicting_architecture: bool) -> bool {
        !conflicting_architecture || self.flags & u64::from(PS_IMAGE_NOTIFY_CONFLICTING_ARCHITECTURE) != 0
    }
}

#[derive(Debug, Default)]
pub struct Ps {
    pub process_notify: Option<ProcessNotify>,
    pub image_notify: Vec<ImageNotify>,
    /// Live processes by EPROCESS address.
    pub processes: BTreeMap<u64, Process>,
    /// The EPROCESS the current thread belongs to (System, or an IOCTL's caller).
    pub current: u64,
    pub current_thread: u32,
}

impl Ps {
    /// The EPROCESS of the live process with id `pid`.
    pub fn by_pid(&self, pid: u32) -> Option<u64> {
        self.processes.iter().find(|(_, p)| p.pid == pid).map(|(&at, _)| at)
    }

    /// The live process whose token object is at `token`.
    pub fn by_token(&self, token: u64) -> Option<&Process> {
        self.processes.values().find(|p| p.token_object == token)
    }
}

/// Creates a process object and its token object, each with the kernel's own reference;
/// returns the EPROCESS address. No notification runs.
pub fn create(uc: &mut Uc<'_>, mut process: Process) -> u64 {
    let eprocess = Pool::allocate_object(uc, 0x100, *b"Proc").unwrap_or(0);
    let token = Pool::allocate_object(uc, 0x80, *b"Toke").unwrap_or(0);
    process.token_object = token;
    let k = uc.get_data_mut();
    k.ob.insert(eprocess, ObjectKind::Process, false);
    k.ob.insert(token, ObjectKind::Token, false);
    k.ps.processes.insert(eprocess, process);
    eprocess
}

/// The process leaves the kernel's lists and drops the kernel's references; its objects go
/// when the last reference does (a driver still holding one keeps them, and its books show it).
pub fn delete(uc: &mut Uc<'_>, eprocess: u64) {
    let Some(process) = uc.get_data_mut().ps.processes.remove(&eprocess) else { return };
    for object in [eprocess, process.token_object] {
        if let Some(o) = uc.get_data_mut().ob.objects.get_mut(&object) {
            o.kernel_refs -= 1;
        }
        if uc.get_data().ob.objects.get(&object).is_some_and(|o| o.kernel_refs + o.driver_refs <= 0) {
            uc.get_data_mut().ob.objects.remove(&object);
            Pool::release(uc, object);
        }
    }
}

fn in_image(c: &mut Call<'_, '_>, routine: u64) -> bool {
    let (start, end) = c.k().image_range;
    if (start..end).contains(&routine) {
        true
    } else {
        c.finding(Finding::BadArgument { api: c.api, what: "routine outside the driver image" });
        false
    }
}

/// Registers or removes the process routine through `api`. Both APIs refuse an image
/// without /INTEGRITYCHECK; a routine is removed through the API that registered it.
fn set_process_notify(c: &mut Call<'_, '_>, api: ProcessApi, routine: u64, remove: bool) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    if !c.k().force_integrity {
        // The kernel refuses images linked without /INTEGRITYCHECK.
        return status(STATUS_ACCESS_DENIED);
    }
    match (remove, c.k().ps.process_notify) {
        (false, None) => {
            if !in_image(c, routine) {
                return status(STATUS_INVALID_PARAMETER);
            }
            c.k().ps.process_notify = Some(ProcessNotify { routine, api });
            status(STATUS_SUCCESS)
        }
        (true, Some(registered)) if registered.routine == routine => {
            if registered.api != api {
                c.finding(Finding::BadArgument {
                    api: c.api,
                    what: "removes a process routine registered through the other API",
                });
                return status(STATUS_INVALID_PARAMETER);
            }
            c.k().ps.process_notify = None;
            status(STATUS_SUCCESS)
        }
        _ => status(STATUS_INVALID_PARAMETER),
    }
}

/// `PsSetCreateProcessNotifyRoutineEx(NotifyRoutine, Remove)`.
pub fn set_create_process_notify_ex(c: &mut Call<'_, '_>) -> u64 {
    let (routine, remove) = (c.arg(0), c.arg(1) & 0xFF != 0);
    set_process_notify(c, ProcessApi::Ex, routine, remove)
}

/// `PsSetCreateProcessNotifyRoutineEx2(NotifyType, NotifyInformation, Remove)`: the only
/// notify type is `PsCreateProcessNotifySubsystems`, whose information is the routine.
pub fn set_create_process_notify_ex2(c: &mut Call<'_, '_>) -> u64 {
    let (notify_type, routine, remove) = (c.arg32(0) as i32, c.arg(1), c.arg(2) & 0xFF != 0);
    if notify_type != PsCreateProcessNotifySubsystems {
        return status(STATUS_INVALID_PARAMETER);
    }
    set_process_notify(c, ProcessApi::Ex2Subsystems, routine, remove)
}

fn add_image_notify(c: &mut Call<'_, '_>, flags: u64) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let routine = c.arg(0);
    if !in_image(c, routine) || c.k().ps.image_notify.iter().any(|n| n.routine == routine) {
        return status(STATUS_INVALID_PARAMETER);
    }
    c.k().ps.image_notify.push(ImageNotify { routine, flags });
    status(STATUS_SUCCESS)
}

/// `PsSetLoadImageNotifyRoutine(NotifyRoutine)`.
pub fn set_load_image_notify(c: &mut Call<'_, '_>) -> u64 {
    add_image_notify(c, 0)
}

/// `PsSetLoadImageNotifyRoutineEx(NotifyRoutine, Flags)`: an unknown flag is
/// STATUS_INVALID_PARAMETER_2.
pub fn set_load_image_notify_ex(c: &mut Call<'_, '_>) -> u64 {
    let flags = c.arg(1);
    if flags & !u64::from(PS_IMAGE_NOTIFY_CONFLICTING_ARCHITECTURE) != 0 {
        return status(STATUS_INVALID_PARAMETER_2);
    }
    add_image_notify(c, flags)
}

/// `PsRemoveLoadImageNotifyRoutine(NotifyRoutine)`: removes a routine either API registered.
pub fn remove_load_image_notify(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let routine = c.arg(0);
    let ps = &mut c.k().ps;
    match ps.image_notify.iter().position(|n| n.routine == routine) {
        Some(i) => {
            ps.image_notify.remove(i);
            status(STATUS_SUCCESS)
        }
        None => status(STATUS_PROCEDURE_NOT_FOUND),
    }
}

fn process(c: &mut Call<'_, '_>) -> Option<Process> {
    let eprocess = c.arg(0);
    let found = c.k().ps.processes.get(&eprocess).cloned();
    if found.is_none() {
        c.finding(Finding::UnknownObject { api: c.api, address: eprocess });
    }
    found
}

/// `PsGetProcessExitStatus(Process) -> NTSTATUS`.
pub fn process_exit_status(c: &mut Call<'_, '_>) -> u64 {
    process(c).map_or(0, |p| status(p.exit_status))
}

/// `PsGetProcessStartKey(Process) -> ULONGLONG`.
pub fn process_start_key(c: &mut Call<'_, '_>) -> u64 {
    process(c).map_or(0, |p| p.start_key)
}

/// `PsGetProcessId(Process) -> HANDLE`.
pub fn process_id(c: &mut Call<'_, '_>) -> u64 {
    process(c).map_or(0, |p| u64::from(p.pid))
}

/// `PsGetProcessSessionId(Process) -> ULONG`.
pub fn process_session_id(c: &mut Call<'_, '_>) -> u64 {
    process(c).map_or(0, |p| u64::from(p.session_id))
}

/// `PsGetProcessCreateTimeQuadPart(Process) -> LONGLONG`.
pub fn process_create_time(c: &mut Call<'_, '_>) -> u64 {
    process(c).map_or(0, |p| p.create_time)
}

/// `IoGetCurrentProcess() -> PEPROCESS`.
pub fn current_process(c: &mut Call<'_, '_>) -> u64 {
    c.k().ps.current
}

/// `PsGetCurrentProcessId() -> HANDLE`.
pub fn current_process_id(c: &mut Call<'_, '_>) -> u64 {
    let current = c.k().ps.current;
    c.k().ps.processes.get(&current).map_or(4, |p| u64::from(p.pid))
}

/// `PsGetCurrentThreadId() -> HANDLE`.
pub fn current_thread_id(c: &mut Call<'_, '_>) -> u64 {
    u64::from(c.k().ps.current_thread)
}

/// `PsLookupProcessByProcessId(ProcessId, Process)`: the live process, referenced.
pub fn lookup_process_by_process_id(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(APC_LEVEL);
    let (pid, out) = (c.arg(0), c.arg(1));
    let found = u32::try_from(pid).ok().and_then(|pid| c.k().ps.by_pid(pid));
    let Some(eprocess) = found else { return status(STATUS_INVALID_CID) };
    if !c.uc.write_uint(out, eprocess, 8) {
        c.finding(Finding::BadArgument { api: c.api, what: "unwritable Process" });
        return status(STATUS_INVALID_PARAMETER);
    }
    if let Some(o) = c.k().ob.objects.get_mut(&eprocess) {
        o.driver_refs += 1;
    }
    status(STATUS_SUCCESS)
}

/// A pool block the kernel allocates for the driver, which frees it with `ExFreePool`.
pub fn allocate_for_driver(c: &mut Call<'_, '_>, size: u64, tag: [u8; 4]) -> Option<u64> {
    let at = Pool::allocate(c.uc, size, tag, POOL_FLAG_PAGED, Owner::Driver, 16)?;
    c.k().pool.driver_allocations += 1;
    Some(at)
}

/// `SeLocateProcessImageName(Process, pImageFileName)`: a `UNICODE_STRING` and its units in
/// one paged-pool block the caller frees with `ExFreePool`.
pub fn locate_process_image_name(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let out = c.arg(1);
    let Some(process) = process(c) else { return status(STATUS_INVALID_PARAMETER) };
    let Some(image) = process.image else { return status(STATUS_NOT_FOUND) };
    let bytes = wide_bytes(&image);
    let header = core::mem::size_of::<UNICODE_STRING>() as u64;
    let Some(at) = allocate_for_driver(c, header + bytes.len() as u64, *b"SeIn") else {
        return status(windows_sys::Win32::Foundation::STATUS_INSUFFICIENT_RESOURCES);
    };
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    wr!(c.uc, at, UNICODE_STRING, Length = len);
    wr!(c.uc, at, UNICODE_STRING, MaximumLength = len);
    wr_ptr!(c.uc, at, UNICODE_STRING, Buffer = at + header);
    c.uc.write_bytes(at + header, &bytes);
    c.uc.write_uint(out, at, 8);
    status(STATUS_SUCCESS)
}

/// `PROCESSINFOCLASS::ProcessCommandLineInformation`.
pub const PROCESS_COMMAND_LINE_INFORMATION: u32 = 60;

/// `ZwQueryInformationProcess(ProcessHandle, ProcessInformationClass, ProcessInformation,
/// ProcessInformationLength, ReturnLength)`: only `ProcessCommandLineInformation`, through
/// a kernel handle: a `UNICODE_STRING` whose buffer follows it in the caller's buffer.
pub fn zw_query_information_process(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (handle, class, info, length, returned) = (c.arg(0), c.arg32(1), c.arg(2), c.arg32(3), c.arg(4));
    if !Ob::is_kernel_handle(handle) {
        c.finding(Finding::BadHandle { api: c.api, handle });
        return status(STATUS_INVALID_HANDLE);
    }
    let k = c.k();
    let object = k.ob.handles.get(&handle).map(|h| h.object);
    let Some(process) = object.and_then(|o| k.ps.processes.get(&o)).cloned() else {
        c.finding(Finding::BadHandle { api: c.api, handle });
        return status(STATUS_INVALID_HANDLE);
    };
    if class != PROCESS_COMMAND_LINE_INFORMATION {
        c.finding(Finding::BadArgument {
            api: c.api,
            what: "an information class the model does not answer",
        });
        return status(STATUS_INVALID_INFO_CLASS);
    }
    let Some(line) = process.command_line else { return status(STATUS_ACCESS_DENIED) };
    let bytes = wide_bytes(&line);
    let header = core::mem::size_of::<UNICODE_STRING>() as u64;
    let needed = header + bytes.len() as u64;
    if returned != 0 {
        c.uc.write_uint(returned, needed, 4);
    }
    if u64::from(length) < needed {
        return status(STATUS_INFO_LENGTH_MISMATCH);
    }
    let len = u16::try_from(bytes.len()).unwrap_or(u16::MAX);
    wr!(c.uc, info, UNICODE_STRING, Length = len);
    wr!(c.uc, info, UNICODE_STRING, MaximumLength = len);
    wr_ptr!(c.uc, info, UNICODE_STRING, Buffer = info + header);
    c.uc.write_bytes(info + header, &bytes);
    status(STATUS_SUCCESS)
}
