//! From kernel notification to record: what a process start, a process exit
//! and an image load report, with the process table supplying the parent, the
//! loading process and the exiting process.
//!
//! Lock order: the process table (shared) before content (shared) before the
//! channel (exclusive); the table is taken exclusive only on its own, never
//! while another lock is held. The kernel is asked (a [`ProcessSource`]) with
//! no lock held.
//!
//! A process the table does not hold — one that was running before the driver
//! started, one evicted, or one whose images are mapped before its start is
//! notified (Windows maps the executable and ntdll.dll first) — is filled
//! lazily on first reference from what the kernel can say through documented
//! interfaces; what it cannot say is absent.

use crate::channel::Pushed;
use crate::platform::{Guard, Platform};
use crate::processes::{Facts, Known, ProcessTable, clip};
use crate::sensor::Sensor;
use ringfence_wire::schema::limits::SID_TEXT_UNITS;
use ringfence_wire::schema::{Event, field};
use ringfence_wire::text::Text;

/// What the new process's primary token says, read in the process callback.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Token<'a> {
    /// `TokenUser` as `S-1-…` text.
    pub user_sid: Option<&'a [u16]>,
    /// `TokenStatistics.AuthenticationId`, high part first.
    pub logon_id: Option<u64>,
    /// The mandatory label's RID (`TokenIntegrityLevel`).
    pub integrity_level: Option<u32>,
    /// `TokenElevationType`.
    pub elevation_type: Option<u32>,
}

/// A process creation as the kernel reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NewProcess<'a> {
    pub pid: u32,
    pub parent_pid: u32,
    pub creating_pid: u32,
    pub creating_tid: u32,
    pub session_id: u32,
    pub image_path: Option<&'a [u16]>,
    pub command_line: Option<&'a [u16]>,
    pub start_key: u64,
    pub create_time: u64,
    pub image_name_available: bool,
    pub token: Token<'a>,
}

/// An image mapping as the kernel reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImageMapping<'a> {
    /// The process the image is mapped into; 0 for kernel images.
    pub pid: u32,
    pub image_path: Option<&'a [u16]>,
    pub image_base: u64,
    pub image_size: u64,
    pub signature_level: u32,
    pub signature_type: u32,
    pub kernel_image: bool,
    pub time: u64,
}

/// What the kernel can say about a live process when asked.
pub trait ProcessSource {
    /// The start key of the process that has id `pid` now; `None` when none has.
    fn start_key(&self, pid: u32) -> Option<u64>;

    /// Calls `f` with what the kernel can read of process `pid` (image path,
    /// command line, user), provided it is still the process with
    /// `start_key`; `None` when it is gone, another process has its id, or
    /// nothing could be read.
    fn describe<R>(&self, pid: u32, start_key: u64, f: impl FnOnce(Facts<'_>) -> R) -> Option<R>;
}

/// Sets bit `field` of `truncated` when `cut`.
fn mark(truncated: &mut u32, field: u8, cut: bool) {
    if cut {
        *truncated |= 1u32.checked_shl(u32::from(field)).unwrap_or(0);
    }
}

/// A user SID within its field's limit (a kernel-formatted SID always is).
fn sid_text<'a>(sid: Option<&'a [u16]>, truncated: &mut u32, field: u8) -> Option<Text<'a>> {
    let (sid, cut) = clip(sid?, usize::from(SID_TEXT_UNITS));
    mark(truncated, field, cut);
    Some(Text::wide(sid))
}

fn start_event<'a>(new: &NewProcess<'a>, parent_key: Option<u64>, parent: Option<Known<'a>>) -> Event<'a> {
    use field::ProcessStart as F;
    let mut truncated = 0;
    mark(&mut truncated, F::parent_image_path as u8, parent.is_some_and(|p| p.image_truncated));
    mark(&mut truncated, F::parent_command_line as u8, parent.is_some_and(|p| p.command_truncated));
    let user_sid = sid_text(new.token.user_sid, &mut truncated, F::user_sid as u8);
    let parent_user_sid = sid_text(parent.and_then(|p| p.user_sid), &mut truncated, F::parent_user_sid as u8);
    Event::ProcessStart {
        pid: new.pid,
        parent_pid: new.parent_pid,
        creating_pid: new.creating_pid,
        creating_tid: new.creating_tid,
        session_id: new.session_id,
        image_path: new.image_path.map(Text::wide),
        command_line: new.command_line.map(Text::wide),
        start_key: new.start_key,
        create_time: new.create_time,
        image_name_available: new.image_name_available,
        rule_name: Text::default(),
        matched_ids: ringfence_wire::text::Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: ringfence_wire::text::Ids::EMPTY,
        undecided_rest: 0,
        parent_start_key: parent_key,
        parent_image_path: parent.and_then(|p| p.image_path).map(Text::wide),
        parent_command_line: parent.and_then(|p| p.command_line).map(Text::wide),
        user_sid,
        logon_id: new.token.logon_id,
        integrity_level: new.token.integrity_level,
        elevation_type: new.token.elevation_type,
        parent_user_sid,
        truncated,
    }
}

fn exit_event<'a>(
    pid: u32,
    start_key: u64,
    exit_status: u32,
    time: u64,
    known: Option<Known<'a>>,
) -> Event<'a> {
    use field::ProcessExit as F;
    let mut truncated = 0;
    mark(&mut truncated, F::image_path as u8, known.is_some_and(|k| k.image_truncated));
    let user_sid = sid_text(known.and_then(|k| k.user_sid), &mut truncated, F::user_sid as u8);
    Event::ProcessExit {
        pid,
        exit_status,
        time,
        rule_name: Text::default(),
        matched_ids: ringfence_wire::text::Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: ringfence_wire::text::Ids::EMPTY,
        undecided_rest: 0,
        image_path: known.and_then(|k| k.image_path).map(Text::wide),
        start_key,
        user_sid,
        truncated,
    }
}

fn load_event<'a>(load: &ImageMapping<'a>, key: Option<u64>, known: Option<Known<'a>>) -> Event<'a> {
    use field::ImageLoad as F;
    let mut truncated = 0;
    mark(&mut truncated, F::process_image_path as u8, known.is_some_and(|k| k.image_truncated));
    let user_sid = sid_text(known.and_then(|k| k.user_sid), &mut truncated, F::user_sid as u8);
    Event::ImageLoad {
        pid: load.pid,
        image_path: load.image_path.map(Text::wide),
        image_base: load.image_base,
        image_size: load.image_size,
        signature_level: load.signature_level,
        signature_type: load.signature_type,
        kernel_image: load.kernel_image,
        time: load.time,
        rule_name: Text::default(),
        matched_ids: ringfence_wire::text::Ids::EMPTY,
        matched_rest: 0,
        undecided_ids: ringfence_wire::text::Ids::EMPTY,
        undecided_rest: 0,
        process_image_path: known.and_then(|k| k.image_path).map(Text::wide),
        process_start_key: key,
        user_sid,
        truncated,
    }
}

impl<P: Platform> Sensor<P> {
    /// A process was created: the record names its parent as the table holds
    /// it now, then the new process enters the table (replacing whatever its
    /// pid stood for before).
    pub fn process_start(&self, new: &NewProcess<'_>, source: &impl ProcessSource) -> Option<Pushed> {
        let parent_key = source.start_key(new.parent_pid);
        let pushed = self.with_known(new.parent_pid, parent_key, source, |parent| {
            self.observe(start_event(new, parent_key, parent))
        });
        let facts = Facts {
            image_path: new.image_path,
            command_line: new.command_line,
            user_sid: new.token.user_sid,
        };
        self.processes.write(|table| table.insert(new.pid, new.start_key, facts));
        pushed
    }

    /// A process exited: the record names it as the table holds it (or as the
    /// kernel still can), then its entry is released.
    pub fn process_exit(
        &self,
        pid: u32,
        start_key: u64,
        exit_status: u32,
        time: u64,
        source: &impl ProcessSource,
    ) -> Option<Pushed> {
        let held = self.processes.read(|table| {
            let known = table.get(pid, start_key)?;
            Some(self.observe(exit_event(pid, start_key, exit_status, time, Some(known))))
        });
        let pushed = match held {
            Some(pushed) => pushed,
            None => {
                self.processes.read(ProcessTable::count_miss);
                // Not worth a table entry: the process is leaving.
                let described = source.describe(pid, start_key, |facts| {
                    let (known, cuts) = Known::from_facts(start_key, facts);
                    // The usual exit has nothing cut: no lock taken for it.
                    if cuts != 0 {
                        self.processes.read(|table| table.count_truncations(cuts));
                    }
                    self.observe(exit_event(pid, start_key, exit_status, time, Some(known)))
                });
                described.unwrap_or_else(|| {
                    self.processes.read(ProcessTable::count_failure);
                    self.observe(exit_event(pid, start_key, exit_status, time, None))
                })
            }
        };
        self.processes.write(|table| table.remove(pid, start_key));
        pushed
    }

    /// An image was mapped: the record names the process it was mapped into.
    /// Kernel images belong to no process.
    pub fn image_load(&self, load: &ImageMapping<'_>, source: &impl ProcessSource) -> Option<Pushed> {
        let key = if load.kernel_image || load.pid == 0 { None } else { source.start_key(load.pid) };
        self.with_known(load.pid, key, source, |known| self.observe(load_event(load, key, known)))
    }

    /// Runs `report` under the table's shared lock with process `pid` as the table holds
    /// it under `start_key` (`None` when the kernel named no process); it runs once. A
    /// miss asks the kernel with no lock held, enters what it says, and looks again; a
    /// failure to fill is counted and the process reported unknown.
    fn with_known<R>(
        &self,
        pid: u32,
        start_key: Option<u64>,
        source: &impl ProcessSource,
        report: impl Fn(Option<Known<'_>>) -> R,
    ) -> R {
        let Some(key) = start_key else { return self.processes.read(|_| report(None)) };
        if let Some(reported) =
            self.processes.read(|table| table.get(pid, key).map(|known| report(Some(known))))
        {
            return reported;
        }
        self.processes.read(ProcessTable::count_miss);
        let filled = source.describe(pid, key, |facts| {
            // A failed insert counts itself.
            self.processes.write(|table| table.insert(pid, key, facts))
        });
        if filled.is_none() {
            self.processes.read(ProcessTable::count_failure);
        }
        self.processes.read(|table| report(table.get(pid, key)))
    }
}

#[cfg(all(test, not(target_os = "windows")))]
mod tests;
