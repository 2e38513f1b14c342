//! The books the kernel model keeps: what the driver holds right now and every
//! rule it broke on the way. A clean driver ends a session with empty books.

use std::fmt;

/// Where the driver was entered from, for findings that happen on return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Entry {
    DriverEntry,
    DriverUnload,
    Dispatch {
        major: u8,
    },
    ProcessNotify,
    ImageNotify,
    /// A work item routine, run by the system worker thread.
    WorkItem,
}

/// One rule the driver broke, as precise as the model can say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Pool the driver still holds at the end (tag as four characters).
    PoolLeak {
        address: u64,
        tag: [u8; 4],
        size: u64,
    },
    DoubleFree {
        address: u64,
    },
    /// A free of an address the pool never handed out.
    ForeignFree {
        address: u64,
    },
    /// Freed with a tag other than the one it was allocated with.
    FreeTagMismatch {
        address: u64,
        allocated: [u8; 4],
        freed: [u8; 4],
    },
    /// ExAllocatePool2 flags the kernel rejects or a driver must not use.
    PoolFlags {
        flags: u64,
    },
    LockAlreadyHeld {
        lock: u64,
    },
    LockNotHeld {
        lock: u64,
    },
    /// KeReleaseSpinLock restored an IRQL other than the one acquire returned.
    LockIrqlMismatch {
        lock: u64,
        restored: u8,
        expected: u8,
    },
    LockHeldOnReturn {
        lock: u64,
        entry: Entry,
    },
    /// Returned inside KeEnterCriticalRegion: normal kernel APCs stay disabled.
    CriticalRegionOnReturn {
        depth: u32,
        entry: Entry,
    },
    IrqlOnReturn {
        irql: u8,
        entry: Entry,
    },
    /// An API called above the highest IRQL it allows.
    IrqlTooHigh {
        api: &'static str,
        irql: u8,
        max: u8,
    },
    /// A pointer argument that is not an object the model handed out.
    UnknownObject {
        api: &'static str,
        address: u64,
    },
    ReferenceUnderflow {
        object: u64,
    },
    /// References the driver took and never released.
    ReferenceLeak {
        object: u64,
        count: i64,
    },
    BadHandle {
        api: &'static str,
        handle: u64,
    },
    /// A kernel handle opened without OBJ_KERNEL_HANDLE lands in the caller's process.
    HandleNotKernel {
        api: &'static str,
    },
    HandleLeak {
        handle: u64,
    },
    ProcessCallbackLeft,
    ImageCallbackLeft,
    DeviceLeft {
        name: String,
    },
    LinkLeft {
        name: String,
    },
    /// A dispatch routine returned without completing its IRP.
    IrpNotCompleted {
        major: u8,
    },
    IrpCompletedTwice {
        irp: u64,
    },
    /// Returned STATUS_PENDING: the driver never marks IRPs pending.
    IrpPending {
        major: u8,
    },
    /// The status returned differs from the one in `IoStatus.Status`.
    IrpStatusMismatch {
        major: u8,
        returned: i32,
        completed: i32,
    },
    /// `Information` beyond the caller's output buffer: the I/O manager would copy past it.
    InformationExceedsOutput {
        code: u32,
        information: u64,
        output: u32,
    },
    /// An argument the API's contract forbids (the API and what is wrong).
    BadArgument {
        api: &'static str,
        what: &'static str,
    },
    /// The driver needed more than KERNEL_STACK_SIZE.
    StackOverflow {
        entry: Entry,
    },
    /// A work item the driver allocated and never freed.
    WorkItemLeft {
        item: u64,
    },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::PoolLeak { address, tag, size } => {
                write!(f, "pool leak: {size} bytes tagged '{}' at {address:#x}", tag_text(*tag))
            }
            other => write!(f, "{other:?}"),
        }
    }
}

pub fn tag_text(tag: [u8; 4]) -> String {
    tag.iter().map(|&b| if b.is_ascii_graphic() { char::from(b) } else { '.' }).collect()
}

/// Why a call into the driver did not return normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// KeBugCheckEx, or a condition the real kernel bugchecks on.
    BugCheck { code: u32, parameters: [u64; 4] },
    /// An access to unmapped or protected memory: bugcheck 0x50 on Windows.
    Fault { access: Access, address: u64, rip: u64 },
    /// A software interrupt: `int 29h` is __fastfail (bugcheck 0x139), `int3` a breakpoint.
    Interrupt { number: u32, rip: u64 },
    /// Unicorn stopped for another reason (invalid instruction, ...).
    Cpu { error: String, rip: u64 },
    /// The call ran past the instruction budget: a loop that does not end.
    InstructionBudget { rip: u64 },
    /// An API the image imports was called although the model does not implement it.
    Unmodelled { api: String },
    /// The machine crashed (as the harness asked) in this call, the `call`-th of the boot.
    Crash { api: &'static str, call: u64 },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
    Execute,
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stop::BugCheck { code, parameters } => write!(f, "bugcheck {code:#x} {parameters:x?}"),
            Stop::Fault { access, address, rip } => {
                write!(f, "page fault: {access:?} of {address:#x} at rip {rip:#x}")
            }
            other => write!(f, "{other:?}"),
        }
    }
}

impl std::error::Error for Stop {}

/// A snapshot of what the driver holds, plus every finding so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub pool_outstanding: Vec<(u64, [u8; 4], u64)>,
    pub pool_allocations: u64,
    pub pool_frees: u64,
    pub process_callback: bool,
    pub image_callback: bool,
    pub devices: Vec<String>,
    pub links: Vec<String>,
    pub locks_held: Vec<u64>,
    pub irql: u8,
    /// (object, references the driver holds)
    pub references: Vec<(u64, i64)>,
    pub kernel_handles: Vec<u64>,
    /// Work items allocated and not freed.
    pub work_items: Vec<u64>,
    pub findings: Vec<Finding>,
    /// Deepest kernel stack use seen, in bytes.
    pub max_stack_bytes: u64,
    /// Deepest kernel stack use per entry point.
    pub max_stack_by_entry: std::collections::BTreeMap<Entry, u64>,
}

impl Report {
    /// Every finding, plus what is still held (as leaks).
    pub fn problems(&self) -> Vec<Finding> {
        let mut all = self.findings.clone();
        all.extend(self.pool_outstanding.iter().map(|&(address, tag, size)| Finding::PoolLeak {
            address,
            tag,
            size,
        }));
        if self.process_callback {
            all.push(Finding::ProcessCallbackLeft);
        }
        if self.image_callback {
            all.push(Finding::ImageCallbackLeft);
        }
        all.extend(self.devices.iter().map(|name| Finding::DeviceLeft { name: name.clone() }));
        all.extend(self.links.iter().map(|name| Finding::LinkLeft { name: name.clone() }));
        all.extend(
            self.locks_held
                .iter()
                .map(|&lock| Finding::LockHeldOnReturn { lock, entry: Entry::DriverUnload }),
        );
        all.extend(self.references.iter().map(|&(object, count)| Finding::ReferenceLeak { object, count }));
        all.extend(self.kernel_handles.iter().map(|&handle| Finding::HandleLeak { handle }));
        all.extend(self.work_items.iter().map(|&item| Finding::WorkItemLeft { item }));
        all
    }

    /// The state a driver must leave after unloading.
    pub fn is_clean(&self) -> bool {
        self.problems().is_empty()
    }
}
