//! Pool: every allocation gets pages of its own, placed so that it ends at a
//! page boundary followed by an unmapped guard page, and is unmapped when
//! freed: overruns and uses after free fault at once, like special pool.

use std::collections::BTreeMap;

use unicorn_engine::unicorn_const::Prot;

use super::{APC_LEVEL, Call, DISPATCH_LEVEL, Uc};
use crate::books::Finding;
use crate::layout::{Guest, map};

pub const POOL_FLAG_UNINITIALIZED: u64 = 0x2;
pub const POOL_FLAG_CACHE_ALIGNED: u64 = 0x4;
pub const POOL_FLAG_RAISE_ON_FAILURE: u64 = 0x20;
pub const POOL_FLAG_NON_PAGED: u64 = 0x40;
pub const POOL_FLAG_NON_PAGED_EXECUTE: u64 = 0x80;
pub const POOL_FLAG_PAGED: u64 = 0x100;

/// Who asked for the memory: the driver's pool is booked, the model's is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Driver,
    Kernel,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub size: u64,
    pub tag: [u8; 4],
    pub flags: u64,
    pub owner: Owner,
    pages_at: u64,
    pages_len: u64,
}

#[derive(Debug, Default)]
pub struct Pool {
    next: u64,
    pub live: BTreeMap<u64, Allocation>,
    freed: BTreeMap<u64, [u8; 4]>,
    /// Driver allocation attempts so far (failed ones included).
    pub driver_attempts: u64,
    pub driver_frees: u64,
    /// Successful ExAllocatePool2 calls.
    pub driver_allocations: u64,
    /// Fail the driver's allocation attempt with this number (1-based).
    pub fail_attempt: Option<u64>,
    pub failed: u64,
    /// Bump pointer of the object slab (0 until first used).
    slab_next: u64,
    /// Released pages of the kernel's own allocations, by length, for reuse:
    /// mapping and unmapping for every IRP and callback dominated the run time.
    recycled: BTreeMap<u64, Vec<u64>>,
}

/// Released page runs kept per length; the rest are unmapped.
const RECYCLED_PER_SIZE: usize = 32;

/// Where long-lived kernel objects (EPROCESS) live: one mapping, so that
/// thousands of live processes do not cost thousands of CPU mappings.
const SLAB: u64 = 0x0000_0008_0000_0000;
const SLAB_LEN: u64 = 64 << 20;

impl Pool {
    /// Maps fresh pages for `size` bytes ending `align`-aligned right before a guard page.
    pub fn allocate(
        uc: &mut Uc<'_>,
        size: u64,
        tag: [u8; 4],
        flags: u64,
        owner: Owner,
        align: u64,
    ) -> Option<u64> {
        let pool = &mut uc.get_data_mut().pool;
        if pool.next == 0 {
            pool.next = map::POOL;
        }
        let rounded = size.max(1).div_ceil(align).checked_mul(align)?;
        let pages_len = rounded.div_ceil(map::PAGE).checked_mul(map::PAGE)?;
        let recycled = match owner {
            Owner::Kernel => pool.recycled.get_mut(&pages_len).and_then(Vec::pop),
            Owner::Driver => None,
        };
        let pages_at = match recycled {
            Some(at) => {
                uc.write_bytes(at, &vec![0; usize::try_from(pages_len).ok()?]);
                at
            }
            None => {
                let at = pool.next;
                pool.next = at.checked_add(pages_len)?.checked_add(map::PAGE)?;
                uc.mem_map(at, pages_len, Prot::READ | Prot::WRITE).ok()?;
                at
            }
        };
        let address = pages_at + pages_len - rounded;
        if flags & POOL_FLAG_UNINITIALIZED != 0 {
            // What a fresh allocation holds is not zero: make reliance on it visible.
            uc.write_bytes(pages_at, &vec![0xA5; usize::try_from(pages_len).ok()?]);
        }
        let allocation = Allocation { size, tag, flags, owner, pages_at, pages_len };
        uc.get_data_mut().pool.live.insert(address, allocation);
        Some(address)
    }

    /// A kernel object in the slab: no guard page, poisoned when released.
    pub fn allocate_object(uc: &mut Uc<'_>, size: u64, tag: [u8; 4]) -> Option<u64> {
        if uc.get_data().pool.slab_next == 0 {
            uc.mem_map(SLAB, SLAB_LEN, Prot::READ | Prot::WRITE).ok()?;
            uc.get_data_mut().pool.slab_next = SLAB;
        }
        let pool = &mut uc.get_data_mut().pool;
        let address = pool.slab_next;
        let rounded = size.max(16).next_multiple_of(16);
        if address + rounded > SLAB + SLAB_LEN {
            return None;
        }
        pool.slab_next = address + rounded;
        let allocation = Allocation {
            size,
            tag,
            flags: POOL_FLAG_NON_PAGED,
            owner: Owner::Kernel,
            pages_at: 0,
            pages_len: 0,
        };
        pool.live.insert(address, allocation);
        Some(address)
    }

    /// Unmaps an allocation; `None` when `address` is not a live allocation.
    pub fn release(uc: &mut Uc<'_>, address: u64) -> Option<Allocation> {
        let allocation = uc.get_data_mut().pool.live.remove(&address)?;
        let poison = |uc: &mut Uc<'_>, at: u64, len: u64| {
            uc.write_bytes(at, &vec![0xDD; usize::try_from(len).unwrap_or(0)])
        };
        let kept = &mut uc.get_data_mut().pool.recycled;
        if allocation.pages_len == 0 {
            poison(uc, address, allocation.size);
        } else if allocation.owner == Owner::Kernel
            && kept.get(&allocation.pages_len).is_none_or(|v| v.len() < RECYCLED_PER_SIZE)
        {
            // The kernel's own transient structures keep their pages, poisoned: a
            // stale pointer read from them is non-canonical and faults when used.
            kept.entry(allocation.pages_len).or_default().push(allocation.pages_at);
            poison(uc, allocation.pages_at, allocation.pages_len);
        } else {
            let _ = uc.mem_unmap(allocation.pages_at, allocation.pages_len);
        }
        uc.get_data_mut().pool.freed.insert(address, allocation.tag);
        Some(allocation)
    }

    /// Bytes placed exactly before the guard page (no alignment padding), for
    /// strings the kernel hands the driver: reading one byte past them faults.
    pub fn place_exact(uc: &mut Uc<'_>, bytes: &[u8]) -> Option<u64> {
        let at = Pool::allocate(uc, bytes.len() as u64, *b"Kstr", POOL_FLAG_NON_PAGED, Owner::Kernel, 2)?;
        uc.write_bytes(at, bytes);
        Some(at)
    }

    pub fn driver_outstanding(&self) -> Vec<(u64, [u8; 4], u64)> {
        self.live
            .iter()
            .filter(|(_, a)| a.owner == Owner::Driver)
            .map(|(&at, a)| (at, a.tag, a.size))
            .collect()
    }
}

/// `ExAllocatePool2(Flags, NumberOfBytes, Tag)`.
pub fn allocate_pool2(c: &mut Call<'_, '_>) -> u64 {
    let (flags, size, tag) = (c.arg(0), c.arg(1), c.arg32(2).to_le_bytes());
    let kinds = flags & (POOL_FLAG_NON_PAGED | POOL_FLAG_PAGED | POOL_FLAG_NON_PAGED_EXECUTE);
    if kinds.count_ones() != 1 || flags & POOL_FLAG_NON_PAGED_EXECUTE != 0 {
        c.finding(Finding::PoolFlags { flags });
    }
    c.require_irql(if flags & POOL_FLAG_PAGED != 0 { APC_LEVEL } else { DISPATCH_LEVEL });
    if tag == [0; 4] {
        c.finding(Finding::BadArgument { api: c.api, what: "tag 0" });
    }
    let pool = &mut c.k().pool;
    pool.driver_attempts += 1;
    if pool.fail_attempt == Some(pool.driver_attempts) {
        pool.failed += 1;
        return 0;
    }
    let align = if flags & POOL_FLAG_CACHE_ALIGNED != 0 { 64 } else { 16 };
    let address = Pool::allocate(c.uc, size, tag, flags, Owner::Driver, align).unwrap_or(0);
    if address != 0 {
        c.k().pool.driver_allocations += 1;
    }
    address
}

fn free(c: &mut Call<'_, '_>, address: u64, tag: Option<[u8; 4]>) -> u64 {
    c.require_irql(DISPATCH_LEVEL);
    let pool = &c.k().pool;
    match pool.live.get(&address) {
        Some(a) if a.owner == Owner::Driver => {
            let allocated = a.tag;
            if let Some(freed) = tag.filter(|t| *t != allocated) {
                c.finding(Finding::FreeTagMismatch { address, allocated, freed });
            }
            Pool::release(c.uc, address);
            c.k().pool.driver_frees += 1;
            0
        }
        Some(_) => {
            c.finding(Finding::ForeignFree { address });
            0
        }
        None if pool.freed.contains_key(&address) => {
            c.finding(Finding::DoubleFree { address });
            // BAD_POOL_CALLER, type 7: a free of memory that is already free.
            c.bugcheck(0xC2, [7, 0, 0, address])
        }
        None => {
            c.finding(Finding::ForeignFree { address });
            c.bugcheck(0xC2, [0x46, address, 0, 0])
        }
    }
}

/// `ExFreePoolWithTag(P, Tag)`.
pub fn free_pool_with_tag(c: &mut Call<'_, '_>) -> u64 {
    let (address, tag) = (c.arg(0), c.arg32(1).to_le_bytes());
    free(c, address, Some(tag))
}

/// `ExFreePool(P)`.
pub fn free_pool(c: &mut Call<'_, '_>) -> u64 {
    let address = c.arg(0);
    free(c, address, None)
}
