//! The processor side of the kernel: IRQL, spin locks, the clock, bugchecks,
//! and the C runtime routines ntoskrnl exports.

use std::collections::BTreeMap;

use unicorn_engine::RegisterX86;
use windows_sys::Win32::Foundation::UNICODE_STRING;

use super::threads::LockMode;
use super::{APC_LEVEL, Call, DISPATCH_LEVEL};
use crate::books::Finding;
use crate::layout::{Guest, Scalar};
use crate::wr;
use crate::wr_ptr;

#[derive(Debug, Default)]
pub struct Ke {
    pub irql: u8,
    /// Held spin locks and the IRQL their acquire returned.
    pub locks: BTreeMap<u64, u8>,
    /// System time, 100-ns units since 1601; the harness sets it per event.
    pub time: u64,
    /// Interrupt time, 100-ns units since boot: one more at every reading, so it
    /// only moves forward, whatever the harness sets the system time to.
    pub interrupt_time: u64,
    pub lock_acquisitions: u64,
    /// Push locks held: exclusive, or by how many shared owners.
    pub push_locks: BTreeMap<u64, PushHold>,
    /// KeEnterCriticalRegion depth of the current thread.
    pub critical_region: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushHold {
    Exclusive,
    Shared(u32),
}

/// `KeEnterCriticalRegion()`.
pub fn enter_critical_region(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(APC_LEVEL);
    c.k().ke.critical_region += 1;
    0
}

/// `KeLeaveCriticalRegion()`.
pub fn leave_critical_region(c: &mut Call<'_, '_>) -> u64 {
    c.require_irql(APC_LEVEL);
    if c.k().ke.critical_region == 0 {
        c.finding(Finding::BadArgument { api: c.api, what: "leave without enter" });
    } else {
        c.k().ke.critical_region -= 1;
    }
    0
}

fn push_lock_checks(c: &mut Call<'_, '_>, lock: u64) -> bool {
    c.require_irql(APC_LEVEL);
    if c.k().ke.critical_region == 0 {
        // Without a critical region a suspended holder blocks every other thread.
        c.finding(Finding::BadArgument { api: c.api, what: "push lock outside a critical region" });
    }
    if !c.uc.readable(lock, 8) {
        c.finding(Finding::UnknownObject { api: c.api, address: lock });
        c.bugcheck(0x50, [lock, 1, 0, 0]);
        return false;
    }
    true
}

/// `ExAcquirePushLockExclusiveEx(PushLock, Flags)`.
pub fn acquire_push_lock_exclusive(c: &mut Call<'_, '_>) -> u64 {
    let lock = c.arg(0);
    if !push_lock_checks(c, lock) {
        return 0;
    }
    if holds(c, lock).is_some() || c.k().ke.push_locks.contains_key(&lock) {
        // Held by this thread: waiting for itself never ends. (Held by another emulated
        // thread, the scheduler blocked this one before the call.)
        c.finding(Finding::LockAlreadyHeld { lock });
        return c.bugcheck(0xE2, [lock, 0, 0, 0]);
    }
    c.k().ke.push_locks.insert(lock, PushHold::Exclusive);
    c.k().ke.lock_acquisitions += 1;
    if let Some(threads) = &mut c.k().threads {
        threads.acquired(lock, LockMode::Exclusive);
    }
    c.uc.write_uint(lock, 1, 8);
    0
}

/// How the running thread holds `lock`: per thread when threads run, else the one thread's.
fn holds(c: &mut Call<'_, '_>, lock: u64) -> Option<LockMode> {
    let k = c.k();
    match &k.threads {
        Some(threads) => threads.holds(threads.current, lock),
        None => k.ke.push_locks.get(&lock).map(|h| match h {
            PushHold::Exclusive => LockMode::Exclusive,
            PushHold::Shared(_) => LockMode::Shared,
        }),
    }
}

/// `ExAcquirePushLockSharedEx(PushLock, Flags)`.
pub fn acquire_push_lock_shared(c: &mut Call<'_, '_>) -> u64 {
    let lock = c.arg(0);
    if !push_lock_checks(c, lock) {
        return 0;
    }
    let hold = match c.k().ke.push_locks.get(&lock) {
        None => PushHold::Shared(1),
        Some(PushHold::Shared(n)) => PushHold::Shared(n + 1),
        Some(PushHold::Exclusive) => {
            c.finding(Finding::LockAlreadyHeld { lock });
            return c.bugcheck(0xE2, [lock, 0, 0, 0]);
        }
    };
    c.k().ke.push_locks.insert(lock, hold);
    c.k().ke.lock_acquisitions += 1;
    if let Some(threads) = &mut c.k().threads {
        threads.acquired(lock, LockMode::Shared);
    }
    c.uc.write_uint(lock, 0x11, 8);
    0
}

fn release_push_lock(c: &mut Call<'_, '_>, exclusive: bool) -> u64 {
    let lock = c.arg(0);
    c.require_irql(APC_LEVEL);
    let mode = if exclusive { LockMode::Exclusive } else { LockMode::Shared };
    if let Some(threads) = &mut c.k().threads {
        if !threads.released(lock, mode) {
            // Another emulated thread's lock (or none): not this thread's to release.
            c.finding(Finding::LockNotHeld { lock });
            return 0;
        }
    }
    let next = match (c.k().ke.push_locks.get(&lock).copied(), exclusive) {
        (Some(PushHold::Exclusive), true) | (Some(PushHold::Shared(1)), false) => None,
        (Some(PushHold::Shared(n)), false) => Some(PushHold::Shared(n - 1)),
        _ => {
            c.finding(Finding::LockNotHeld { lock });
            return 0;
        }
    };
    match next {
        Some(hold) => {
            c.k().ke.push_locks.insert(lock, hold);
        }
        None => {
            c.k().ke.push_locks.remove(&lock);
            c.uc.write_uint(lock, 0, 8);
        }
    }
    0
}

/// `ExReleasePushLockExclusiveEx(PushLock, Flags)`.
pub fn release_push_lock_exclusive(c: &mut Call<'_, '_>) -> u64 {
    release_push_lock(c, true)
}

/// `ExReleasePushLockSharedEx(PushLock, Flags)`.
pub fn release_push_lock_shared(c: &mut Call<'_, '_>) -> u64 {
    release_push_lock(c, false)
}

/// Keeps CR8 (the task priority register x64 Windows keeps the IRQL in) in step.
pub fn set_irql(c: &mut Call<'_, '_>, irql: u8) {
    c.k().ke.irql = irql;
    let _ = c.uc.reg_write(RegisterX86::CR8, u64::from(irql));
}

/// `KeAcquireSpinLockRaiseToDpc(SpinLock) -> KIRQL`.
pub fn acquire_spin_lock_raise_to_dpc(c: &mut Call<'_, '_>) -> u64 {
    let lock = c.arg(0);
    c.require_irql(DISPATCH_LEVEL);
    if !c.uc.readable(lock, 8) {
        c.finding(Finding::UnknownObject { api: c.api, address: lock });
        return c.bugcheck(0x50, [lock, 1, 0, 0]);
    }
    let old = c.k().ke.irql;
    if c.k().ke.locks.contains_key(&lock) {
        // On one processor a second acquire spins for ever.
        c.finding(Finding::LockAlreadyHeld { lock });
        return c.bugcheck(0x80000001, [lock, 0, 0, 0]);
    }
    c.k().ke.locks.insert(lock, old);
    c.k().ke.lock_acquisitions += 1;
    c.uc.write_uint(lock, 1, 8);
    set_irql(c, DISPATCH_LEVEL.max(old));
    u64::from(old)
}

/// `KeReleaseSpinLock(SpinLock, NewIrql)`.
pub fn release_spin_lock(c: &mut Call<'_, '_>) -> u64 {
    let (lock, restored) = (c.arg(0), u8::from_u64(c.arg(1)));
    match c.k().ke.locks.remove(&lock) {
        Some(expected) => {
            if expected != restored {
                c.finding(Finding::LockIrqlMismatch { lock, restored, expected });
            }
            c.uc.write_uint(lock, 0, 8);
            set_irql(c, restored);
        }
        None => {
            c.finding(Finding::LockNotHeld { lock });
            // SPIN_LOCK_NOT_OWNED.
            return c.bugcheck(0x10, [lock, 0, 0, 0]);
        }
    }
    0
}

/// `KeGetCurrentIrql() -> KIRQL`.
pub fn get_current_irql(c: &mut Call<'_, '_>) -> u64 {
    u64::from(c.k().ke.irql)
}

/// `KeQuerySystemTimePrecise(CurrentTime)`.
pub fn query_system_time_precise(c: &mut Call<'_, '_>) -> u64 {
    let out = c.arg(0);
    let time = c.k().ke.time;
    if !c.uc.write_uint(out, time, 8) {
        c.finding(Finding::BadArgument { api: c.api, what: "unwritable CurrentTime" });
    }
    0
}

/// `KeQueryInterruptTimePrecise(QpcTimeStamp) -> ULONG64`: the interrupt time; the
/// performance counter's value (here at 10 MHz, the same count) goes to `QpcTimeStamp`.
pub fn query_interrupt_time_precise(c: &mut Call<'_, '_>) -> u64 {
    let out = c.arg(0);
    let time = {
        let ke = &mut c.k().ke;
        ke.interrupt_time = ke.interrupt_time.saturating_add(1);
        ke.interrupt_time
    };
    if !c.uc.write_uint(out, time, 8) {
        c.finding(Finding::BadArgument { api: c.api, what: "unwritable QpcTimeStamp" });
    }
    time
}

/// `KeBugCheckEx(Code, P1, P2, P3, P4)`: never returns.
pub fn bug_check_ex(c: &mut Call<'_, '_>) -> u64 {
    let code = c.arg32(0);
    let parameters = [c.arg(1), c.arg(2), c.arg(3), c.arg(4)];
    c.bugcheck(code, parameters)
}

fn fault(c: &mut Call<'_, '_>, address: u64) -> u64 {
    c.finding(Finding::UnknownObject { api: c.api, address });
    c.bugcheck(0x50, [address, 0, 0, 0])
}

/// `memcpy` / `memmove(dst, src, n) -> dst`.
pub fn memcpy(c: &mut Call<'_, '_>) -> u64 {
    let (dst, src, n) = (c.arg(0), c.arg(1), c.arg(2));
    let Some(bytes) = c.uc.read_bytes(src, usize::try_from(n).unwrap_or(usize::MAX)) else {
        return fault(c, src);
    };
    if !c.uc.write_bytes(dst, &bytes) {
        return fault(c, dst);
    }
    dst
}

/// `memset(dst, value, n) -> dst`.
pub fn memset(c: &mut Call<'_, '_>) -> u64 {
    let (dst, value, n) = (c.arg(0), u8::from_u64(c.arg(1)), c.arg(2));
    let bytes = vec![value; usize::try_from(n).unwrap_or(0)];
    if !c.uc.write_bytes(dst, &bytes) {
        return fault(c, dst);
    }
    dst
}

fn compare(c: &mut Call<'_, '_>) -> Option<(Vec<u8>, Vec<u8>)> {
    let (a, b, n) = (c.arg(0), c.arg(1), usize::try_from(c.arg(2)).ok()?);
    Some((c.uc.read_bytes(a, n)?, c.uc.read_bytes(b, n)?))
}

/// `strlen(s) -> size_t`.
pub fn strlen(c: &mut Call<'_, '_>) -> u64 {
    let s = c.arg(0);
    let mut n = 0u64;
    loop {
        match c.uc.read_bytes(s + n, 1) {
            Some(b) if b == [0] => return n,
            Some(_) => n += 1,
            None => return fault(c, s + n),
        }
    }
}

/// `memcmp(a, b, n) -> int`.
pub fn memcmp(c: &mut Call<'_, '_>) -> u64 {
    let Some((a, b)) = compare(c) else {
        let at = c.arg(0);
        return fault(c, at);
    };
    let order: i32 = a.iter().zip(&b).find(|(x, y)| x != y).map_or(0, |(x, y)| i32::from(*x) - i32::from(*y));
    u64::from(order as u32)
}

/// `RtlCompareMemory(a, b, n) -> SIZE_T`: the length of the equal prefix.
pub fn rtl_compare_memory(c: &mut Call<'_, '_>) -> u64 {
    let Some((a, b)) = compare(c) else {
        let at = c.arg(0);
        return fault(c, at);
    };
    a.iter().zip(&b).take_while(|(x, y)| x == y).count() as u64
}

/// `RtlInitUnicodeString(Destination, Source)`.
pub fn rtl_init_unicode_string(c: &mut Call<'_, '_>) -> u64 {
    let (dst, src) = (c.arg(0), c.arg(1));
    let mut units = 0u64;
    while src != 0 && units < 0x7FFF {
        let Some(unit) = c.uc.read_bytes(src + units * 2, 2) else { return fault(c, src) };
        if unit == [0, 0] {
            break;
        }
        units += 1;
    }
    let len = u16::try_from(units * 2).unwrap_or(0xFFFC);
    wr!(c.uc, dst, UNICODE_STRING, Length = len);
    wr!(c.uc, dst, UNICODE_STRING, MaximumLength = if src == 0 { 0 } else { len.saturating_add(2) });
    wr_ptr!(c.uc, dst, UNICODE_STRING, Buffer = src);
    0
}
