//! The machine: a Unicorn x86-64 CPU with the image mapped, every import bound
//! to a stub whose code hook runs the Rust model, and calls into the driver
//! under the Windows x64 calling convention.

use unicorn_engine::unicorn_const::{Arch, HookType, MemType, Mode, Prot};
use unicorn_engine::{RegisterX86, Unicorn};

use crate::books::{Access, Entry, Finding, Stop};
use crate::layout::{Guest, map};
use crate::model::ke::PushHold;
use crate::model::threads::{SWITCH_POINTS, Yield};
use crate::model::{self, APIS, Call, DISPATCH_LEVEL, Kernel, PASSIVE_LEVEL, Provides, Uc};
use crate::pe::{Image, LoadError};

/// Why the machine could not be set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupError {
    Load(LoadError),
    /// Imports the model does not implement, as `dll!name`: nothing ran.
    UnmodelledImports(Vec<String>),
    /// Imports from a module other than ntoskrnl.exe or HAL.dll.
    ForeignModule(Vec<String>),
    Cpu(String),
}

impl std::fmt::Display for SetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SetupError::UnmodelledImports(names) => {
                write!(f, "the image imports APIs the kernel model does not implement: {}", names.join(", "))
            }
            other => write!(f, "{other:?}"),
        }
    }
}

impl std::error::Error for SetupError {}

/// Basic blocks one call may run before it counts as an endless loop (a
/// budget in work, not time, so that no result depends on the machine's speed).
pub const BLOCK_BUDGET: u64 = 50_000_000;

/// Fill pattern of the kernel stack; what is left of it after a call shows its depth.
const STACK_PAINT: u8 = 0xCD;
/// Exported variables the model provides, in data-region order.
const TYPE_VARIABLES: [&str; 5] =
    ["ExEventObjectType", "IoDeviceObjectType", "IoFileObjectType", "PsProcessType", "CmKeyObjectType"];

pub struct Machine {
    pub uc: Uc<'static>,
    pub image: Image,
    /// Basic blocks one call may run (see [`BLOCK_BUDGET`]).
    pub block_budget: u64,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine").field("base", &self.image.base).finish()
    }
}

fn cpu(e: unicorn_engine::unicorn_const::uc_error) -> SetupError {
    SetupError::Cpu(format!("{e:?}"))
}

/// The imports of `image` that the model does not implement, as `dll!name`.
pub fn unmodelled_imports(image: &Image) -> Vec<String> {
    image
        .imports
        .iter()
        .filter(|i| !APIS.iter().any(|a| a.name == i.name && !matches!(a.provides, Provides::Internal(_))))
        .map(|i| format!("{}!{}", i.dll, i.name))
        .collect()
}

impl Machine {
    /// Maps `sys` and binds its imports; nothing runs yet.
    pub fn new(sys: &[u8]) -> Result<Machine, SetupError> {
        let image = Image::load(sys, map::IMAGE).map_err(SetupError::Load)?;
        let foreign: Vec<String> = image
            .imports
            .iter()
            .filter(|i| !["ntoskrnl.exe", "hal.dll"].contains(&i.dll.to_lowercase().as_str()))
            .map(|i| format!("{}!{}", i.dll, i.name))
            .collect();
        if !foreign.is_empty() {
            return Err(SetupError::ForeignModule(foreign));
        }
        let missing = unmodelled_imports(&image);
        if !missing.is_empty() {
            return Err(SetupError::UnmodelledImports(missing));
        }

        let kernel = Kernel {
            force_integrity: image_has_force_integrity(sys),
            image_range: (image.base, image.base + image.size()),
            ..Kernel::default()
        };
        let mut uc = Unicorn::new_with_data(Arch::X86, Mode::MODE_64, kernel).map_err(cpu)?;
        uc.mem_map(image.base, image.size(), Prot::ALL).map_err(cpu)?;
        uc.mem_write(image.base, &image.memory).map_err(cpu)?;
        for s in &image.sections {
            let mut prot = Prot::NONE;
            for (on, p) in [
                (s.protection.read, Prot::READ),
                (s.protection.write, Prot::WRITE),
                (s.protection.execute, Prot::EXEC),
            ] {
                if on {
                    prot |= p;
                }
            }
            uc.mem_protect(image.base + u64::from(s.rva), u64::from(s.mapped_len), prot).map_err(cpu)?;
        }
        uc.mem_protect(image.base, map::PAGE, Prot::READ).map_err(cpu)?;

        // Stubs: `ret`, run after the code hook has done the API's work.
        uc.mem_map(map::STUBS, map::STUBS_LEN, Prot::READ | Prot::WRITE).map_err(cpu)?;
        let mut stubs = vec![0xCCu8; usize::try_from(map::STUBS_LEN).unwrap_or(0)];
        for i in 0..APIS.len() {
            stubs[i * map::STUB_SIZE as usize] = 0xC3;
        }
        uc.mem_write(map::STUBS, &stubs).map_err(cpu)?;
        uc.mem_protect(map::STUBS, map::STUBS_LEN, Prot::READ | Prot::EXEC).map_err(cpu)?;

        install_data(&mut uc).map_err(cpu)?;
        uc.mem_map(map::KPCR, map::KPCR_LEN, Prot::READ | Prot::WRITE).map_err(cpu)?;
        // KPCR.Self (0x18), KPCR.CurrentPrcb (0x20), KPRCB.CurrentThread (gs:[0x188]).
        uc.write_uint(map::KPCR + 0x18, map::KPCR, 8);
        uc.write_uint(map::KPCR + 0x20, map::KPCR + 0x180, 8);
        uc.write_uint(map::KPCR + 0x188, map::KPCR + 0x1000, 8);
        uc.reg_write(RegisterX86::GS_BASE, map::KPCR).map_err(cpu)?;
        uc.mem_map(map::STACK, map::STACK_LEN, Prot::READ | Prot::WRITE).map_err(cpu)?;
        uc.mem_map(map::RETURN, map::PAGE, Prot::READ | Prot::EXEC).map_err(cpu)?;
        uc.mem_write(map::RETURN, &[0xCC; 16]).map_err(cpu)?;

        for import in &image.imports {
            let address = match uc.get_data().data.get(import.name.as_str()) {
                Some(&cell) => cell,
                None => model::api_address(&import.name).unwrap_or(0),
            };
            uc.write_uint(image.base + u64::from(import.slot_rva), address, 8);
        }
        install_hooks(&mut uc).map_err(cpu)?;
        Ok(Machine { uc, image, block_budget: BLOCK_BUDGET })
    }

    pub fn entry_point(&self) -> u64 {
        self.image.base + u64::from(self.image.entry_rva)
    }

    /// Calls the driver at `address` with `args` on an empty kernel stack at
    /// PASSIVE_LEVEL; returns RAX, or why the call did not return.
    pub fn call(&mut self, entry: Entry, address: u64, args: &[u64]) -> Result<u64, Stop> {
        let uc = &mut self.uc;
        uc.write_bytes(map::STACK, &[STACK_PAINT; map::STACK_LEN as usize]);
        let caller_rsp = (map::STACK + map::STACK_LEN - 0x100) & !0xF;
        let rsp = caller_rsp - 8;
        uc.write_uint(rsp, map::RETURN, 8);
        for (i, &a) in args.iter().enumerate().skip(4) {
            uc.write_uint(rsp + 8 + 8 * i as u64, a, 8);
        }
        let regs = [RegisterX86::RCX, RegisterX86::RDX, RegisterX86::R8, RegisterX86::R9];
        for (i, reg) in regs.iter().enumerate() {
            let _ = uc.reg_write(*reg, args.get(i).copied().unwrap_or(0));
        }
        let _ = uc.reg_write(RegisterX86::RSP, rsp);
        let _ = uc.reg_write(RegisterX86::RAX, 0);
        uc.get_data_mut().stop = None;
        uc.get_data_mut().ke.irql = PASSIVE_LEVEL;
        uc.get_data_mut().ke.critical_region = 0;
        let _ = uc.reg_write(RegisterX86::CR8, 0);
        uc.get_data_mut().blocks_left = self.block_budget;
        let run = uc.emu_start(address, map::RETURN, 0, 0);
        let depth = stack_depth(uc);
        let k = uc.get_data_mut();
        k.max_stack_bytes = k.max_stack_bytes.max(depth);
        let deepest = k.max_stack_by_entry.entry(entry).or_default();
        *deepest = (*deepest).max(depth);
        if let Some(stop) = k.stop.as_ref() {
            let guard = map::STACK - map::PAGE..map::STACK;
            if matches!(stop, Stop::Fault { address, .. } if guard.contains(address)) {
                k.findings.push(Finding::StackOverflow { entry });
            }
        }
        returned(uc, entry, run)
    }

    /// Prepares a call of `address` with `args` on emulated thread `thread`'s own stack, at
    /// PASSIVE_LEVEL with a full block budget; nothing runs until [`Machine::resume`].
    pub fn begin(&mut self, thread: usize, entry: Entry, address: u64, args: &[u64]) -> ThreadContext {
        let uc = &mut self.uc;
        let base = map::THREAD_STACKS + thread as u64 * map::THREAD_STACK_STRIDE;
        if !uc.readable(base, 8) {
            let _ = uc.mem_map(base, map::STACK_LEN, Prot::READ | Prot::WRITE);
        }
        let caller_rsp = (base + map::STACK_LEN - 0x100) & !0xF;
        let rsp = caller_rsp - 8;
        uc.write_uint(rsp, map::RETURN, 8);
        for (i, &a) in args.iter().enumerate().skip(4) {
            uc.write_uint(rsp + 8 + 8 * i as u64, a, 8);
        }
        let regs = [RegisterX86::RCX, RegisterX86::RDX, RegisterX86::R8, RegisterX86::R9];
        for (i, reg) in regs.iter().enumerate() {
            let _ = uc.reg_write(*reg, args.get(i).copied().unwrap_or(0));
        }
        let _ = uc.reg_write(RegisterX86::RSP, rsp);
        let _ = uc.reg_write(RegisterX86::RAX, 0);
        let _ = uc.reg_write(RegisterX86::CR8, 0);
        let _ = uc.set_pc(address);
        let mut registers = uc.context_alloc().expect("a CPU context is allocated");
        let _ = uc.context_save(&mut registers);
        let k = uc.get_data();
        ThreadContext {
            registers,
            entry,
            irql: PASSIVE_LEVEL,
            critical_region: 0,
            process: k.ps.current,
            thread_id: k.ps.current_thread,
            blocks_left: self.block_budget,
        }
    }

    /// Runs an emulated thread from `context` until its call returns (`Some`, checked as
    /// [`Machine::call`] checks a return, for this thread's locks) or it leaves the CPU
    /// (`None`: the reason is in `Kernel::threads`).
    pub fn resume(&mut self, context: &mut ThreadContext) -> Option<Result<u64, Stop>> {
        let uc = &mut self.uc;
        let _ = uc.context_restore(&context.registers);
        let _ = uc.reg_write(RegisterX86::CR8, u64::from(context.irql));
        let k = uc.get_data_mut();
        k.stop = None;
        k.ke.irql = context.irql;
        k.ke.critical_region = context.critical_region;
        k.ps.current = context.process;
        k.ps.current_thread = context.thread_id;
        k.blocks_left = context.blocks_left;
        let pc = uc.pc_read().unwrap_or(0);
        let run = uc.emu_start(pc, map::RETURN, 0, 0);
        let _ = uc.context_save(&mut context.registers);
        let k = uc.get_data_mut();
        context.irql = k.ke.irql;
        context.critical_region = k.ke.critical_region;
        context.blocks_left = k.blocks_left;
        let gave_way = k.threads.as_ref().is_some_and(|t| t.yielded.is_some());
        if gave_way && k.stop.is_none() {
            return None;
        }
        Some(returned(uc, context.entry, run))
    }
}

/// One emulated thread's state between its slices on the CPU.
pub struct ThreadContext {
    registers: unicorn_engine::Context,
    entry: Entry,
    irql: u8,
    critical_region: u32,
    process: u64,
    thread_id: u32,
    blocks_left: u64,
}

impl std::fmt::Debug for ThreadContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadContext").field("entry", &self.entry).field("irql", &self.irql).finish()
    }
}

/// What a call into the driver came to, once emulation stopped: its RAX, or why it did not
/// return; and the rules of returning (PASSIVE_LEVEL, no lock held, no critical region),
/// for the running thread's locks when several threads run.
fn returned(
    uc: &mut Uc<'_>,
    entry: Entry,
    run: Result<(), unicorn_engine::unicorn_const::uc_error>,
) -> Result<u64, Stop> {
    let rip = uc.pc_read().unwrap_or(0);
    let k = uc.get_data_mut();
    if let Some(stop) = k.stop.take() {
        return Err(stop);
    }
    if let Err(e) = run {
        return Err(Stop::Cpu { error: format!("{e:?}"), rip });
    }
    if rip != map::RETURN {
        return Err(Stop::InstructionBudget { rip });
    }
    let irql = k.ke.irql;
    if irql != PASSIVE_LEVEL {
        k.findings.push(Finding::IrqlOnReturn { irql, entry });
        k.ke.irql = PASSIVE_LEVEL;
    }
    let spin: Vec<u64> = k.ke.locks.keys().copied().collect();
    k.ke.locks.clear();
    let push: Vec<u64> = match k.threads.as_mut() {
        Some(threads) => {
            let current = threads.current;
            let held = std::mem::take(&mut threads.held[current]);
            for (lock, _) in &held {
                match k.ke.push_locks.get(lock).copied() {
                    Some(PushHold::Shared(n)) if n > 1 => {
                        k.ke.push_locks.insert(*lock, PushHold::Shared(n - 1));
                    }
                    _ => {
                        k.ke.push_locks.remove(lock);
                    }
                }
            }
            held.into_iter().map(|(lock, _)| lock).collect()
        }
        None => std::mem::take(&mut k.ke.push_locks).into_keys().collect(),
    };
    for lock in spin.into_iter().chain(push) {
        k.findings.push(Finding::LockHeldOnReturn { lock, entry });
    }
    if k.ke.critical_region != 0 {
        k.findings.push(Finding::CriticalRegionOnReturn { depth: k.ke.critical_region, entry });
        k.ke.critical_region = 0;
    }
    uc.reg_read(RegisterX86::RAX).map_err(|e| Stop::Cpu { error: format!("{e:?}"), rip })
}

fn stack_depth(uc: &Uc<'_>) -> u64 {
    let stack = uc.read_bytes(map::STACK, map::STACK_LEN as usize).unwrap_or_default();
    let untouched = stack.iter().take_while(|&&b| b == STACK_PAINT).count() as u64;
    map::STACK_LEN - untouched - 0x100
}

/// `IMAGE_DLLCHARACTERISTICS_FORCE_INTEGRITY` in the optional header.
fn image_has_force_integrity(sys: &[u8]) -> bool {
    goblin::pe::PE::parse(sys)
        .ok()
        .and_then(|pe| pe.header.optional_header)
        .is_some_and(|o| o.windows_fields.dll_characteristics & 0x0080 != 0)
}

/// Object types, their exported variables and SeExports, read-only like the kernel's.
fn install_data(uc: &mut Uc<'_>) -> Result<(), unicorn_engine::unicorn_const::uc_error> {
    uc.mem_map(map::DATA, map::DATA_LEN, Prot::READ | Prot::WRITE)?;
    for (i, name) in TYPE_VARIABLES.iter().enumerate() {
        let type_object = map::DATA + 0x100 * i as u64;
        let cell = map::DATA + 0x1000 + 8 * i as u64;
        uc.write_uint(cell, type_object, 8);
        let k = uc.get_data_mut();
        k.ob.types.insert(type_object, name);
        k.data.insert(name, cell);
    }
    let (cell, exports, sids) = (map::DATA + 0x2000, map::DATA + 0x2100, map::DATA + 0x3000);
    uc.write_uint(cell, exports, 8);
    crate::model::se::install_se_exports(uc, exports, sids);
    uc.get_data_mut().data.insert("SeExports", cell);
    uc.mem_protect(map::DATA, map::DATA_LEN, Prot::READ)
}

/// Whether the running emulated thread leaves the CPU here, before `api` runs: blocked on a
/// push lock it cannot be granted, or giving way at a switch point by the schedule's draw
/// (never at DISPATCH_LEVEL, nor at the call it resumes at). Always false with one thread.
fn gives_way(uc: &mut Uc<'_>, api: &'static str) -> bool {
    let lock = uc.reg_read(RegisterX86::RCX).unwrap_or(0);
    let Kernel { threads, ke, .. } = uc.get_data_mut();
    let Some(threads) = threads.as_mut() else { return false };
    let resuming = std::mem::take(&mut threads.resuming);
    if ke.irql >= DISPATCH_LEVEL {
        // No thread switch at DISPATCH_LEVEL: a push lock another thread holds is then the
        // acquire model's finding (a wait at DISPATCH_LEVEL), not a block.
        return false;
    }
    if let Some(mode) = model::threads::acquire_mode(api) {
        if !threads.grantable(&ke.push_locks, threads.current, lock, mode) {
            let current = threads.current;
            threads.wants[current] = Some((lock, mode));
            threads.yielded = Some(Yield::Blocked { lock, mode });
            return true;
        }
    }
    if resuming || !SWITCH_POINTS.contains(&api) {
        return false;
    }
    if threads.gives_way() {
        threads.switches += 1;
        threads.yielded = Some(Yield::Switch);
        return true;
    }
    false
}

fn install_hooks(uc: &mut Uc<'_>) -> Result<(), unicorn_engine::unicorn_const::uc_error> {
    uc.add_code_hook(map::STUBS, map::STUBS + map::STUBS_LEN - 1, |uc, address, _size| {
        let Some((_, api)) = model::api_at(address).filter(|_| (address - map::STUBS) % map::STUB_SIZE == 0)
        else {
            uc.get_data_mut().stop = Some(Stop::Unmodelled { api: format!("{address:#x}") });
            let _ = uc.emu_stop();
            return;
        };
        let (Provides::Function(f) | Provides::Internal(f)) = api.provides else {
            uc.get_data_mut().stop = Some(Stop::Unmodelled { api: api.name.to_owned() });
            let _ = uc.emu_stop();
            return;
        };
        if gives_way(uc, api.name) {
            // Checked right after this hook: the stub's `ret` does not run, and the thread
            // resumes at this call (crate::threads).
            let _ = uc.emu_stop();
            return;
        }
        let k = uc.get_data_mut();
        let count = k.calls.entry(api.name).or_default();
        *count += 1;
        let count = *count;
        k.api_calls += 1;
        if k.crash_at == Some(k.api_calls) {
            // The machine dies in this call: a write gets half its bytes out, nothing else happens.
            let call = k.api_calls;
            if api.name == "ZwWriteFile" {
                model::fs::write_file(&mut Call { uc, api: api.name }, true);
            }
            uc.get_data_mut().stop = Some(Stop::Crash { api: api.name, call });
            let _ = uc.emu_stop();
            return;
        }
        let numbered = match k.fail_at.get(api.name) {
            Some(&(n, status)) if n == count => {
                k.fail_at.remove(api.name);
                Some(status)
            }
            _ => None,
        };
        let rax = match numbered.or_else(|| uc.get_data_mut().fail_next.remove(api.name)) {
            Some(status) => model::status(status),
            None => f(&mut Call { uc, api: api.name }),
        };
        if uc.get_data().stop.is_none() {
            let _ = uc.reg_write(RegisterX86::RAX, rax);
        }
    })?;
    uc.add_block_hook(1, 0, |uc, _address, _size| {
        let k = uc.get_data_mut();
        k.blocks_left = k.blocks_left.saturating_sub(1);
        if k.blocks_left == 0 {
            let rip = uc.pc_read().unwrap_or(0);
            uc.get_data_mut().stop.get_or_insert(Stop::InstructionBudget { rip });
            let _ = uc.emu_stop();
        }
    })?;
    uc.add_mem_hook(HookType::MEM_INVALID, 0, u64::MAX, |uc, kind, address, _size, _value| {
        let access = match kind {
            MemType::WRITE_UNMAPPED | MemType::WRITE_PROT | MemType::WRITE => Access::Write,
            MemType::FETCH_UNMAPPED | MemType::FETCH_PROT | MemType::FETCH => Access::Execute,
            _ => Access::Read,
        };
        let rip = uc.pc_read().unwrap_or(0);
        uc.get_data_mut().stop.get_or_insert(Stop::Fault { access, address, rip });
        false
    })?;
    uc.add_intr_hook(|uc, number| {
        let rip = uc.pc_read().unwrap_or(0);
        uc.get_data_mut().stop.get_or_insert(Stop::Interrupt { number, rip });
        let _ = uc.emu_stop();
    })?;
    Ok(())
}
