//! The kernel model: the state behind every modelled API and the table that
//! binds API names to Rust functions. One submodule per kernel component.

pub mod cm;
pub mod fs;
pub mod io;
pub mod ke;
pub mod ob;
pub mod pool;
pub mod ps;
pub mod se;
pub mod threads;
pub mod token;
pub mod workitem;

use std::collections::BTreeMap;

use unicorn_engine::{RegisterX86, Unicorn};

use crate::books::{Finding, Stop};
use crate::layout::{Guest, map};

pub type Uc<'u> = Unicorn<'u, Kernel>;

/// IRQLs the model distinguishes.
pub const PASSIVE_LEVEL: u8 = 0;
pub const APC_LEVEL: u8 = 1;
pub const DISPATCH_LEVEL: u8 = 2;

/// The whole kernel state the driver can observe or change.
#[derive(Debug, Default)]
pub struct Kernel {
    pub pool: pool::Pool,
    pub ke: ke::Ke,
    pub ob: ob::Ob,
    pub io: io::Io,
    pub ps: ps::Ps,
    /// The file system and the registry writes that must survive a crash.
    pub fs: fs::Fs,
    pub cm: cm::Cm,
    pub work: workitem::WorkItems,
    pub findings: Vec<Finding>,
    /// Set by a model that must stop the CPU (bugcheck, fault).
    pub stop: Option<Stop>,
    /// Calls per API, for coverage reports.
    pub calls: BTreeMap<&'static str, u64>,
    /// Addresses of the kernel's exported variables, by name.
    pub data: BTreeMap<&'static str, u64>,
    /// Whether the image carries /INTEGRITYCHECK (PsSetCreateProcessNotifyRoutineEx needs it).
    pub force_integrity: bool,
    /// The image's mapped range, for checking callback addresses.
    pub image_range: (u64, u64),
    pub max_stack_bytes: u64,
    /// Deepest stack use per entry point.
    pub max_stack_by_entry: BTreeMap<crate::books::Entry, u64>,
    /// Basic blocks the current call may still run.
    pub blocks_left: u64,
    /// APIs whose next call fails with the given NTSTATUS instead of running.
    pub fail_next: BTreeMap<&'static str, i32>,
    /// Modelled API calls so far (every API, every entry).
    pub api_calls: u64,
    /// The call (counted like `api_calls`, from 1) at which the machine crashes: that call
    /// does not happen (a write is cut in half), and the boot is over.
    pub crash_at: Option<u64>,
    /// APIs whose call with this number (counting every call so far) fails with the status.
    pub fail_at: BTreeMap<&'static str, (u64, i32)>,
    /// The emulated threads of a concurrent run ([`crate::threads`]); `None`: one thread.
    pub threads: Option<threads::Threads>,
}

/// How a modelled API is provided.
#[derive(Clone, Copy)]
pub enum Provides {
    /// A function: arguments in, RAX out.
    Function(fn(&mut Call<'_, '_>) -> u64),
    /// An exported variable; the IAT slot gets its address.
    Data,
    /// Used by the model itself (never bound to an import).
    Internal(fn(&mut Call<'_, '_>) -> u64),
}

impl std::fmt::Debug for Provides {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Provides::Function(_) => "function",
            Provides::Data => "data",
            Provides::Internal(_) => "internal",
        })
    }
}

#[derive(Clone, Copy)]
pub struct Api {
    pub name: &'static str,
    pub provides: Provides,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

const fn func(name: &'static str, f: fn(&mut Call<'_, '_>) -> u64) -> Api {
    Api { name, provides: Provides::Function(f) }
}

const fn data(name: &'static str) -> Api {
    Api { name, provides: Provides::Data }
}

/// Every API the model implements; an import outside this table fails the load.
pub static APIS: &[Api] = &[
    func("IoCreateDevice", io::create_device),
    func("IoDeleteDevice", io::delete_device),
    func("IoCreateSymbolicLink", io::create_symbolic_link),
    func("IoDeleteSymbolicLink", io::delete_symbolic_link),
    func("IofCompleteRequest", io::complete_request),
    func("IoGetCurrentProcess", ps::current_process),
    Api { name: "IopInvalidDeviceRequest", provides: Provides::Internal(io::invalid_device_request) },
    func("PsSetCreateProcessNotifyRoutineEx", ps::set_create_process_notify_ex),
    func("PsSetCreateProcessNotifyRoutineEx2", ps::set_create_process_notify_ex2),
    func("PsSetLoadImageNotifyRoutine", ps::set_load_image_notify),
    func("PsSetLoadImageNotifyRoutineEx", ps::set_load_image_notify_ex),
    func("PsRemoveLoadImageNotifyRoutine", ps::remove_load_image_notify),
    func("PsGetProcessExitStatus", ps::process_exit_status),
    func("PsGetProcessStartKey", ps::process_start_key),
    func("PsGetProcessId", ps::process_id),
    func("PsGetProcessSessionId", ps::process_session_id),
    func("PsGetProcessCreateTimeQuadPart", ps::process_create_time),
    func("PsGetCurrentProcessId", ps::current_process_id),
    func("PsGetCurrentThreadId", ps::current_thread_id),
    func("PsLookupProcessByProcessId", ps::lookup_process_by_process_id),
    func("SeLocateProcessImageName", ps::locate_process_image_name),
    func("ZwQueryInformationProcess", ps::zw_query_information_process),
    func("PsReferencePrimaryToken", token::reference_primary_token),
    func("SeQueryInformationToken", token::query_information_token),
    func("ExAllocatePool2", pool::allocate_pool2),
    func("ExFreePoolWithTag", pool::free_pool_with_tag),
    func("ExFreePool", pool::free_pool),
    func("KeQuerySystemTimePrecise", ke::query_system_time_precise),
    func("KeQuerySystemTime", ke::query_system_time_precise),
    func("KeQueryInterruptTimePrecise", ke::query_interrupt_time_precise),
    func("KeAcquireSpinLockRaiseToDpc", ke::acquire_spin_lock_raise_to_dpc),
    func("KeReleaseSpinLock", ke::release_spin_lock),
    func("KeGetCurrentIrql", ke::get_current_irql),
    func("KeEnterCriticalRegion", ke::enter_critical_region),
    func("KeLeaveCriticalRegion", ke::leave_critical_region),
    func("ExAcquirePushLockExclusiveEx", ke::acquire_push_lock_exclusive),
    func("ExAcquirePushLockSharedEx", ke::acquire_push_lock_shared),
    func("ExReleasePushLockExclusiveEx", ke::release_push_lock_exclusive),
    func("ExReleasePushLockSharedEx", ke::release_push_lock_shared),
    func("KeBugCheckEx", ke::bug_check_ex),
    func("KeSetEvent", ob::set_event),
    func("KeInitializeEvent", ob::initialize_event),
    func("memcpy", ke::memcpy),
    func("memmove", ke::memcpy),
    func("memset", ke::memset),
    func("memcmp", ke::memcmp),
    func("strlen", ke::strlen),
    func("RtlCompareMemory", ke::rtl_compare_memory),
    func("RtlInitUnicodeString", ke::rtl_init_unicode_string),
    func("ObReferenceObjectByHandle", ob::reference_object_by_handle),
    func("ObfDereferenceObject", ob::dereference_object),
    func("ObDereferenceObject", ob::dereference_object),
    func("ObfReferenceObject", ob::reference_object),
    func("ObOpenObjectByPointer", ob::open_object_by_pointer),
    func("ZwOpenKey", ob::zw_open_key),
    func("ZwQueryValueKey", ob::zw_query_value_key),
    func("ZwClose", ob::zw_close),
    func("ZwSetValueKey", cm::zw_set_value_key),
    func("ZwFlushKey", cm::zw_flush_key),
    func("ZwCreateFile", fs::zw_create_file),
    func("ZwReadFile", fs::zw_read_file),
    func("ZwWriteFile", fs::zw_write_file),
    func("ZwFlushBuffersFile", fs::zw_flush_buffers_file),
    func("ZwQueryInformationFile", fs::zw_query_information_file),
    func("ZwSetInformationFile", fs::zw_set_information_file),
    func("IoAllocateWorkItem", workitem::allocate),
    func("IoQueueWorkItem", workitem::queue),
    func("IoFreeWorkItem", workitem::free),
    func("ObSetSecurityObjectByPointer", se::set_security_object_by_pointer),
    func("ZwSetSecurityObject", se::zw_set_security_object),
    func("RtlCreateSecurityDescriptor", se::create_security_descriptor),
    func("RtlCreateAcl", se::create_acl),
    func("RtlAddAccessAllowedAce", se::add_access_allowed_ace),
    func("RtlSetDaclSecurityDescriptor", se::set_dacl_security_descriptor),
    func("RtlSetOwnerSecurityDescriptor", se::set_owner_security_descriptor),
    func("RtlSetGroupSecurityDescriptor", se::set_group_security_descriptor),
    func("RtlLengthSid", se::length_sid),
    func("RtlValidSid", se::valid_sid),
    data("ExEventObjectType"),
    data("IoDeviceObjectType"),
    data("IoFileObjectType"),
    data("PsProcessType"),
    data("SeExports"),
];

/// The API bound to stub `index`, if any.
pub fn api_at(address: u64) -> Option<(usize, &'static Api)> {
    let index = usize::try_from(address.checked_sub(map::STUBS)? / map::STUB_SIZE).ok()?;
    APIS.get(index).map(|api| (index, api))
}

pub fn stub_address(index: usize) -> u64 {
    map::STUBS + index as u64 * map::STUB_SIZE
}

pub fn api_address(name: &str) -> Option<u64> {
    APIS.iter().position(|a| a.name == name).map(stub_address)
}

/// One API call in progress: its arguments and the machine.
#[allow(missing_debug_implementations)]
pub struct Call<'c, 'u> {
    pub uc: &'c mut Uc<'u>,
    pub api: &'static str,
}

impl Call<'_, '_> {
    /// Argument `i` under the Windows x64 convention (RSP points at the return address).
    pub fn arg(&self, i: usize) -> u64 {
        let reg = match i {
            0 => RegisterX86::RCX,
            1 => RegisterX86::RDX,
            2 => RegisterX86::R8,
            3 => RegisterX86::R9,
            n => {
                let rsp = self.uc.reg_read(RegisterX86::RSP).unwrap_or(0);
                return self.uc.read_u64(rsp + 8 + 8 * n as u64);
            }
        };
        self.uc.reg_read(reg).unwrap_or(0)
    }

    pub fn arg32(&self, i: usize) -> u32 {
        (self.arg(i) & 0xFFFF_FFFF) as u32
    }

    pub fn k(&mut self) -> &mut Kernel {
        self.uc.get_data_mut()
    }

    pub fn finding(&mut self, finding: Finding) {
        self.k().findings.push(finding);
    }

    /// Records a finding when the current IRQL is above what the API allows.
    pub fn require_irql(&mut self, max: u8) {
        let irql = self.k().ke.irql;
        if irql > max {
            let api = self.api;
            self.finding(Finding::IrqlTooHigh { api, irql, max });
        }
    }

    /// Stops the CPU the way the kernel would: with a bugcheck.
    pub fn bugcheck(&mut self, code: u32, parameters: [u64; 4]) -> u64 {
        self.k().stop.get_or_insert(Stop::BugCheck { code, parameters });
        let _ = self.uc.emu_stop();
        0
    }
}

/// An NTSTATUS as RAX carries it.
pub fn status(s: i32) -> u64 {
    u64::from(s as u32)
}
