//! Work items: `IoAllocateWorkItem`, `IoQueueWorkItem`, `IoFreeWorkItem`. A
//! queued item references its device object, so the I/O manager does not run
//! DriverUnload until the routine has returned; the harness plays the system
//! worker thread ([`crate::Emulator::run_work_items`]).

use std::collections::BTreeMap;

use super::pool::{Owner, POOL_FLAG_NON_PAGED, Pool};
use super::{Call, DISPATCH_LEVEL};
use crate::books::Finding;

/// One allocated work item.
#[derive(Debug, Clone, Copy)]
pub struct WorkItem {
    pub device: u64,
    /// (routine, context) while queued.
    pub queued: Option<(u64, u64)>,
}

#[derive(Debug, Default)]
pub struct WorkItems {
    pub items: BTreeMap<u64, WorkItem>,
    /// Queued items in order.
    pub pending: Vec<u64>,
    /// Routines run so far.
    pub ran: u64,
}

/// `IoAllocateWorkItem(DeviceObject) -> PIO_WORKITEM`.
pub fn allocate(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(DISPATCH_LEVEL);
    let device = c.arg(0);
    if !c.k().io.live_devices().any(|(&d, _)| d == device) {
        c.finding(Finding::UnknownObject { api: c.api, address: device });
        return 0;
    }
    let Some(item) = Pool::allocate(c.uc, 0x40, *b"IoWk", POOL_FLAG_NON_PAGED, Owner::Kernel, 16) else {
        return 0;
    };
    c.k().work.items.insert(item, WorkItem { device, queued: None });
    item
}

/// `IoQueueWorkItem(IoWorkItem, WorkerRoutine, QueueType, Context)`.
pub fn queue(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(DISPATCH_LEVEL);
    let (item, routine, context) = (c.arg(0), c.arg(1), c.arg(3));
    let (start, end) = c.k().image_range;
    if !(start..end).contains(&routine) {
        c.finding(Finding::BadArgument { api: c.api, what: "WorkerRoutine outside the driver image" });
        return 0;
    }
    match c.k().work.items.get_mut(&item) {
        Some(w) if w.queued.is_some() => {
            c.finding(Finding::BadArgument { api: c.api, what: "work item queued while already queued" });
        }
        Some(w) => {
            w.queued = Some((routine, context));
            let device = w.device;
            c.k().work.pending.push(item);
            if let Some(o) = c.k().ob.objects.get_mut(&device) {
                o.kernel_refs += 1;
            }
        }
        None => c.finding(Finding::UnknownObject { api: c.api, address: item }),
    }
    0
}

/// `IoFreeWorkItem(IoWorkItem)`.
pub fn free(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(DISPATCH_LEVEL);
    let item = c.arg(0);
    match c.k().work.items.get(&item).copied() {
        Some(w) if w.queued.is_some() => {
            c.finding(Finding::BadArgument { api: c.api, what: "work item freed while queued" });
        }
        Some(_) => {
            c.k().work.items.remove(&item);
            Pool::release(c.uc, item);
        }
        None => c.finding(Finding::UnknownObject { api: c.api, address: item }),
    }
    0
}

/// The next queued item: (item, device, routine, context); it is no longer queued.
pub fn take_next(k: &mut super::Kernel) -> Option<(u64, u64, u64, u64)> {
    if k.work.pending.is_empty() {
        return None;
    }
    let item = k.work.pending.remove(0);
    let w = k.work.items.get_mut(&item)?;
    let (routine, context) = w.queued.take()?;
    Some((item, w.device, routine, context))
}
