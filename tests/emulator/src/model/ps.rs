//! Processes and the notification routines the driver registers.

use std::collections::BTreeMap;

use windows_sys::Wdk::System::SystemServices::{
    PS_IMAGE_NOTIFY_CONFLICTING_ARCHITECTURE, PsCreateProcessNotifySubsystems,
};
use windows_sys::Win32::Foundation::{
    STATUS_ACCESS_DENIED, STATUS_INVALID_PARAMETER, STATUS_INVALID_PARAMETER_2, STATUS_PROCEDURE_NOT_FOUND,
    STATUS_SUCCESS,
};

use super::{Call, PASSIVE_LEVEL, status};
use crate::books::Finding;

/// What the kernel knows about one process, behind its EPROCESS address.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub session_id: u32,
    pub start_key: u64,
    pub exit_status: i32,
    pub create_time: u64,
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
    pub processes: BTreeMap<u64, Process>,
    /// The EPROCESS the current thread belongs to (System, or an IOCTL's caller).
    pub current: u64,
    pub current_thread: u32,
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
    let found = c.k().ps.processes.get(&eprocess).copied();
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
