//! Processes and the notification routines the driver registers.

use std::collections::BTreeMap;

use windows_sys::Win32::Foundation::{
    STATUS_ACCESS_DENIED, STATUS_INVALID_PARAMETER, STATUS_PROCEDURE_NOT_FOUND, STATUS_SUCCESS,
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
}

#[derive(Debug, Default)]
pub struct Ps {
    pub process_notify: Option<u64>,
    pub image_notify: Vec<u64>,
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

/// `PsSetCreateProcessNotifyRoutineEx(NotifyRoutine, Remove)`.
pub fn set_create_process_notify_ex(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let (routine, remove) = (c.arg(0), c.arg(1) & 0xFF != 0);
    if !c.k().force_integrity {
        // The kernel refuses images linked without /INTEGRITYCHECK.
        return status(STATUS_ACCESS_DENIED);
    }
    let ps = &mut c.k().ps;
    match (remove, ps.process_notify) {
        (false, None) => {
            if !in_image(c, routine) {
                return status(STATUS_INVALID_PARAMETER);
            }
            c.k().ps.process_notify = Some(routine);
            status(STATUS_SUCCESS)
        }
        (true, Some(r)) if r == routine => {
            ps.process_notify = None;
            status(STATUS_SUCCESS)
        }
        _ => status(STATUS_INVALID_PARAMETER),
    }
}

fn add_image_notify(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let routine = c.arg(0);
    if !in_image(c, routine) || c.k().ps.image_notify.contains(&routine) {
        return status(STATUS_INVALID_PARAMETER);
    }
    c.k().ps.image_notify.push(routine);
    status(STATUS_SUCCESS)
}

/// `PsSetLoadImageNotifyRoutine(NotifyRoutine)`.
pub fn set_load_image_notify(c: &mut Call<'_, '_>) -> u64 {
    add_image_notify(c)
}

/// `PsSetLoadImageNotifyRoutineEx(NotifyRoutine, Flags)`.
pub fn set_load_image_notify_ex(c: &mut Call<'_, '_>) -> u64 {
    add_image_notify(c)
}

/// `PsRemoveLoadImageNotifyRoutine(NotifyRoutine)`.
pub fn remove_load_image_notify(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(PASSIVE_LEVEL);
    let routine = c.arg(0);
    let ps = &mut c.k().ps;
    match ps.image_notify.iter().position(|&r| r == routine) {
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
