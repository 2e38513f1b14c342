//! Firing the kernel's notifications at the driver's registered routines,
//! with `PS_CREATE_NOTIFY_INFO`, `IMAGE_INFO_EX` and `UNICODE_STRING` laid
//! out as the kernel passes them. Everything is freed (unmapped) right after
//! the call, so a driver that keeps a pointer faults on its next use.

use windows_sys::Wdk::Foundation::FILE_OBJECT;
use windows_sys::Wdk::System::SystemServices::{IMAGE_INFO, IMAGE_INFO_EX, PS_CREATE_NOTIFY_INFO};

use crate::books::{Entry, Stop};
use crate::driver::Emulator;
use crate::kstring::KString;
use crate::model::pool::{Owner, POOL_FLAG_NON_PAGED, Pool};
use crate::model::ps::{self, Process, Token};
use crate::threads::Pending;
use crate::{rd, wr, wr_ptr};

/// A process creation as the process notify routines report it, and the process's primary
/// token. A subsystem process is reported only to a routine registered with
/// `PsSetCreateProcessNotifyRoutineEx2` for subsystems, with `IsSubsystemProcess` set and a
/// NULL `FileObject` (the structure's page says FileObject, ImageFileName and CommandLine may
/// then be NULL; the names are as given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessStart {
    pub pid: u32,
    pub parent_pid: u32,
    pub creating_pid: u32,
    pub creating_tid: u32,
    pub session_id: u32,
    pub image: KString,
    pub command_line: KString,
    pub start_key: u64,
    pub create_time: u64,
    pub file_open_name_available: bool,
    pub is_subsystem_process: bool,
    pub token: Token,
}

impl ProcessStart {
    /// The process the kernel holds for this creation: its image name and command line
    /// are the ones the notification carries.
    pub fn process(&self) -> Process {
        Process {
            pid: self.pid,
            session_id: self.session_id,
            start_key: self.start_key,
            exit_status: 0x103,
            create_time: self.create_time,
            image: self.image.expected_text(),
            command_line: self.command_line.expected_text(),
            token: self.token.clone(),
            token_object: 0,
            subsystem: self.is_subsystem_process,
        }
    }
}

/// An image mapping as the image notify routines report it. One whose architecture conflicts
/// with the process's is reported only to routines registered with
/// `PS_IMAGE_NOTIFY_CONFLICTING_ARCHITECTURE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageLoad {
    pub pid: u32,
    pub name: KString,
    pub base: u64,
    pub size: u64,
    /// SE_SIGNING_LEVEL_*, four bits.
    pub signature_level: u8,
    /// SE_IMAGE_SIGNATURE_TYPE, three bits.
    pub signature_type: u8,
    pub system_mode: bool,
    pub time: u64,
    /// The image's architecture differs from the process's (an x86 image in a 64-bit process).
    pub conflicting_architecture: bool,
}

impl ImageLoad {
    /// `IMAGE_INFO.Properties`: ImageAddressingMode:8, SystemModeImage:1,
    /// ImageMappedToAllPids:1, ExtendedInfoPresent:1, MachineTypeMismatch:1,
    /// ImageSignatureLevel:4, ImageSignatureType:3, ImagePartialMap:1.
    pub fn properties(&self) -> u32 {
        (u32::from(self.system_mode) << 8)
            | (1 << 10)
            | (u32::from(self.signature_level & 0xF) << 12)
            | (u32::from(self.signature_type & 0x7) << 16)
    }
}

impl Emulator {
    /// A process the kernel knows without any notification: one running before the
    /// driver loaded, or one created whose start is not notified yet (Windows maps the
    /// executable and ntdll.dll first). Returns its EPROCESS address.
    pub fn run(&mut self, process: Process) -> u64 {
        ps::create(&mut self.machine.uc, process)
    }

    /// The process `pid` goes away without the exit routine running (as if it exited
    /// while no routine was registered): its pid is free for another process.
    pub fn exit_unnoticed(&mut self, pid: u32) -> bool {
        let Some(eprocess) = self.machine.uc.get_data().ps.by_pid(pid) else { return false };
        ps::delete(&mut self.machine.uc, eprocess);
        true
    }

    /// Runs the registered process routine for a creation; returns the
    /// `CreationStatus` the driver left (it never vetoes). The process is created
    /// first, unless [`Emulator::run`] already created it with this start key.
    pub fn process_start(&mut self, p: &ProcessStart) -> Result<i32, Stop> {
        let pending = self.prepare_process_start(p);
        self.run_pending(pending)
    }

    /// [`Emulator::process_start`] up to the call: the structures laid out, the call and
    /// what follows it (reading `CreationStatus`, freeing everything) left to the caller.
    pub(crate) fn prepare_process_start(&mut self, p: &ProcessStart) -> Pending<Result<i32, Stop>> {
        let existing = self.machine.uc.get_data().ps.by_pid(p.pid);
        let existing = existing.filter(|e| {
            self.machine.uc.get_data().ps.processes.get(e).is_some_and(|q| q.start_key == p.start_key)
        });
        let eprocess = match existing {
            Some(e) => e,
            None => self.run(p.process()),
        };
        let Some(notify) = self.machine.uc.get_data().ps.process_notify else { return Pending::ready(Ok(0)) };
        if !notify.hears_of(p.is_subsystem_process) {
            return Pending::ready(Ok(0));
        }
        let routine = notify.routine;
        self.set_time(p.create_time);
        let uc = &mut self.machine.uc;
        let info_size = core::mem::size_of::<PS_CREATE_NOTIFY_INFO>() as u64;
        let info =
            Pool::allocate(uc, info_size, *b"PsCi", POOL_FLAG_NON_PAGED, Owner::Kernel, 16).unwrap_or(0);
        let file_size = core::mem::size_of::<FILE_OBJECT>() as u64;
        let file =
            Pool::allocate(uc, file_size, *b"File", POOL_FLAG_NON_PAGED, Owner::Kernel, 16).unwrap_or(0);
        wr!(uc, file, FILE_OBJECT, Type = 5i16);
        let file_object = if p.is_subsystem_process { 0 } else { file };
        let image = p.image.place(uc);
        let command_line = p.command_line.place(uc);
        let flags = u32::from(p.file_open_name_available) | (u32::from(p.is_subsystem_process) << 1);
        wr!(uc, info, PS_CREATE_NOTIFY_INFO, Size = info_size as usize);
        wr!(uc, info, PS_CREATE_NOTIFY_INFO, Anonymous.Flags = flags);
        wr_ptr!(uc, info, PS_CREATE_NOTIFY_INFO, ParentProcessId = u64::from(p.parent_pid));
        wr_ptr!(uc, info, PS_CREATE_NOTIFY_INFO, CreatingThreadId.UniqueProcess = u64::from(p.creating_pid));
        wr_ptr!(uc, info, PS_CREATE_NOTIFY_INFO, CreatingThreadId.UniqueThread = u64::from(p.creating_tid));
        wr_ptr!(uc, info, PS_CREATE_NOTIFY_INFO, FileObject = file_object);
        wr_ptr!(uc, info, PS_CREATE_NOTIFY_INFO, ImageFileName = image);
        wr_ptr!(uc, info, PS_CREATE_NOTIFY_INFO, CommandLine = command_line);
        wr!(uc, info, PS_CREATE_NOTIFY_INFO, CreationStatus = 0i32);
        // The routine runs in the context of the creating thread.
        let previous = uc.get_data().ps.current;
        uc.get_data_mut().ps.current_thread = p.creating_tid;
        let call = (Entry::ProcessNotify, routine, vec![eprocess, u64::from(p.pid), info]);
        Pending::new(vec![call], move |emulator: &mut Emulator, result: Result<Vec<u64>, Stop>| {
            let uc = &mut emulator.machine.uc;
            uc.get_data_mut().ps.current = previous;
            let creation_status: i32 = rd!(&*uc, info, PS_CREATE_NOTIFY_INFO, CreationStatus);
            KString::release(uc, image);
            KString::release(uc, command_line);
            Pool::release(uc, file);
            Pool::release(uc, info);
            result?;
            Ok(creation_status)
        })
    }

    /// Runs the registered process routine for an exit (CreateInfo NULL); the process is
    /// then deleted.
    pub fn process_exit(&mut self, pid: u32, exit_status: i32, time: u64) -> Result<(), Stop> {
        let pending = self.prepare_process_exit(pid, exit_status, time);
        self.run_pending(pending)
    }

    pub(crate) fn prepare_process_exit(
        &mut self,
        pid: u32,
        exit_status: i32,
        time: u64,
    ) -> Pending<Result<(), Stop>> {
        let found = self.machine.uc.get_data().ps.by_pid(pid);
        // A process the model was never told about exits as a nameless one.
        let eprocess = found.unwrap_or_else(|| self.run(Process { pid, ..Default::default() }));
        let uc = &mut self.machine.uc;
        let mut subsystem = false;
        if let Some(p) = uc.get_data_mut().ps.processes.get_mut(&eprocess) {
            p.exit_status = exit_status;
            subsystem = p.subsystem;
        }
        self.set_time(time);
        let notify = self.machine.uc.get_data().ps.process_notify.filter(|n| n.hears_of(subsystem));
        let calls = match notify {
            Some(n) => vec![(Entry::ProcessNotify, n.routine, vec![eprocess, u64::from(pid), 0])],
            None => Vec::new(),
        };
        Pending::new(calls, move |emulator: &mut Emulator, result: Result<Vec<u64>, Stop>| {
            ps::delete(&mut emulator.machine.uc, eprocess);
            result.map(|_| ())
        })
    }

    /// Runs every registered image routine for one mapping.
    pub fn image_load(&mut self, i: &ImageLoad) -> Result<(), Stop> {
        let pending = self.prepare_image_load(i);
        self.run_pending(pending)
    }

    pub(crate) fn prepare_image_load(&mut self, i: &ImageLoad) -> Pending<Result<(), Stop>> {
        let routines: Vec<u64> = (self.machine.uc.get_data().ps.image_notify.iter())
            .filter(|n| n.hears_of(i.conflicting_architecture))
            .map(|n| n.routine)
            .collect();
        if routines.is_empty() {
            return Pending::ready(Ok(()));
        }
        self.set_time(i.time);
        let uc = &mut self.machine.uc;
        let ex_size = core::mem::size_of::<IMAGE_INFO_EX>() as u64;
        let ex = Pool::allocate(uc, ex_size, *b"ImIx", POOL_FLAG_NON_PAGED, Owner::Kernel, 16).unwrap_or(0);
        let info = ex + core::mem::offset_of!(IMAGE_INFO_EX, ImageInfo) as u64;
        wr!(uc, ex, IMAGE_INFO_EX, Size = ex_size as usize);
        wr!(uc, info, IMAGE_INFO, Anonymous.Properties = i.properties());
        wr_ptr!(uc, info, IMAGE_INFO, ImageBase = i.base);
        wr!(uc, info, IMAGE_INFO, ImageSize = i.size as usize);
        let name = i.name.place(uc);
        let calls = routines
            .into_iter()
            .map(|r| (Entry::ImageNotify, r, vec![name, u64::from(i.pid), info]))
            .collect();
        Pending::new(calls, move |emulator: &mut Emulator, result: Result<Vec<u64>, Stop>| {
            let uc = &mut emulator.machine.uc;
            KString::release(uc, name);
            Pool::release(uc, ex);
            result.map(|_| ())
        })
    }
}
