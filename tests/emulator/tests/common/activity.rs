//! Activity to inject and what the driver must report for it, field by field.

use std::collections::HashMap;

use ringfence_emulator::{Activity, ImageLoad, KString, ProcessStart};
use ringfence_wire::schema::Event;
use ringfence_wire::text::Text;
use ringfence_wire::{EventKind, Record};

/// 2026-11-25T09:00:00Z in 100-ns units since 1601.
pub const T0: u64 = 134_400_708_000_000_000;

/// A small deterministic generator (xorshift), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const IMAGES: [&str; 6] = [
    r"\??\C:\Windows\System32\cmd.exe",
    r"\??\C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
    r"\??\C:\Windows\System32\rundll32.exe",
    r"\??\C:\Program Files\Mozilla Firefox\firefox.exe",
    r"\??\C:\Users\Ana Müller\AppData\Local\Temp\Ünïcödé ☃.exe",
    r"\??\C:\Windows\System32\svchost.exe",
];

const DLLS: [&str; 4] = [
    r"\Device\HarddiskVolume3\Windows\System32\ntdll.dll",
    r"\Device\HarddiskVolume3\Windows\System32\kernel32.dll",
    r"\Device\HarddiskVolume3\Users\ana\AppData\Local\Temp\x.dll",
    r"\SystemRoot\System32\drivers\ntfs.sys",
];

/// A string, sometimes in a shape a careless driver trips over.
fn kstring(rng: &mut Rng, text: &str) -> KString {
    let units: Vec<u16> = text.encode_utf16().collect();
    let bytes = u16::try_from(units.len() * 2).unwrap_or(u16::MAX);
    match rng.below(12) {
        0 => KString::Null,
        1 => KString::Raw { units: units.clone(), length: bytes - 1, maximum_length: bytes },
        2 => KString::Raw { units: units.clone(), length: bytes + 40, maximum_length: bytes },
        3 => KString::Raw { units: Vec::new(), length: 0, maximum_length: 0 },
        _ => KString::Text(text.to_owned()),
    }
}

/// `n` mixed process starts, image loads and exits of live processes.
pub fn mixed(n: usize, seed: u64) -> Vec<Activity> {
    let mut rng = Rng::new(seed);
    let mut live: Vec<u32> = Vec::new();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let time = T0 + 10_000 * i as u64;
        let pick = rng.below(10);
        if pick < 4 || live.is_empty() {
            let pid = 1000 + 4 * i as u32;
            let image = IMAGES[rng.below(IMAGES.len() as u64) as usize];
            let command_line =
                format!("\"{}\" -n {} -enc SQBFAFgA", image.trim_start_matches(r"\??\"), rng.below(1000));
            let mut start = ProcessStart {
                pid,
                parent_pid: live.last().copied().unwrap_or(4),
                creating_pid: live.first().copied().unwrap_or(4),
                creating_tid: 7000 + i as u32,
                session_id: (rng.below(3)) as u32,
                image: kstring(&mut rng, image),
                command_line: kstring(&mut rng, &command_line),
                start_key: 0x1_0000 + i as u64,
                create_time: time,
                file_open_name_available: rng.below(4) != 0,
                is_subsystem_process: false,
            };
            // Now and then a subsystem (Pico) process, half of them without names.
            if rng.below(16) == 0 {
                start.is_subsystem_process = true;
                if rng.below(2) == 0 {
                    (start.image, start.command_line) = (KString::Null, KString::Null);
                }
            }
            out.push(Activity::ProcessStart(start));
            live.push(pid);
        } else if pick < 8 {
            let pid = if rng.below(8) == 0 { 0 } else { live[rng.below(live.len() as u64) as usize] };
            let dll = DLLS[rng.below(DLLS.len() as u64) as usize];
            out.push(Activity::ImageLoad(ImageLoad {
                pid,
                name: kstring(&mut rng, dll),
                base: 0x7ff8_0000_0000 + (rng.below(0x1000) << 16),
                size: 0x1000 * (1 + rng.below(0x400)),
                signature_level: (rng.below(16)) as u8,
                signature_type: (rng.below(8)) as u8,
                system_mode: pid == 0,
                time,
                // Now and then an image whose architecture conflicts with its process's.
                conflicting_architecture: pid != 0 && rng.below(8) == 0,
            }));
        } else {
            let pid = live.swap_remove(rng.below(live.len() as u64) as usize);
            let exit_status = if rng.below(5) == 0 { 0xC000_0005_u32 as i32 } else { rng.below(3) as i32 };
            out.push(Activity::ProcessExit { pid, exit_status, time });
        }
    }
    out
}

pub fn kind_of(activity: &Activity) -> EventKind {
    match activity {
        Activity::ProcessStart(_) => EventKind::ProcessStart,
        Activity::ProcessExit { .. } => EventKind::ProcessExit,
        Activity::ImageLoad(_) => EventKind::ImageLoad,
    }
}

/// An activity and what the driver knows when it reports it: the start key
/// of the process an exit refers to (the kernel's, from the EPROCESS).
#[derive(Clone, Debug)]
pub struct Expected {
    pub activity: Activity,
    /// For an exit: the exiting process's start key (0 for a process the
    /// emulator never saw start, as it models one).
    pub start_key: u64,
}

/// What the driver must report for each of `activity`, in order: the
/// expectations follow the processes that start and exit along the way.
pub fn expectations(activity: &[Activity]) -> Vec<Expected> {
    let mut keys: HashMap<u32, u64> = HashMap::new();
    activity
        .iter()
        .map(|a| {
            let start_key = match a {
                Activity::ProcessStart(p) => {
                    keys.insert(p.pid, p.start_key);
                    p.start_key
                }
                Activity::ProcessExit { pid, .. } => keys.remove(pid).unwrap_or(0),
                Activity::ImageLoad(_) => 0,
            };
            Expected { activity: a.clone(), start_key }
        })
        .collect()
}

impl Expected {
    /// Calls `f` with the event the driver must build, tagged `rule_name`.
    pub fn with_event<R>(&self, rule_name: &str, f: impl FnOnce(&Event<'_>) -> R) -> R {
        let rule: Vec<u16> = rule_name.encode_utf16().collect();
        let rule = Text::wide(&rule);
        match &self.activity {
            Activity::ProcessStart(p) => {
                let (image, command_line) = (p.image.expected_text(), p.command_line.expected_text());
                f(&Event::ProcessStart {
                    pid: p.pid,
                    parent_pid: p.parent_pid,
                    creating_pid: p.creating_pid,
                    creating_tid: p.creating_tid,
                    session_id: p.session_id,
                    image_path: image.as_deref().map(Text::wide),
                    command_line: command_line.as_deref().map(Text::wide),
                    start_key: p.start_key,
                    create_time: p.create_time,
                    image_name_available: p.file_open_name_available,
                    rule_name: rule,
                    parent_start_key: None,
                    parent_image_path: None,
                    parent_command_line: None,
                    user_sid: None,
                    logon_id: None,
                    integrity_level: None,
                    elevation_type: None,
                    parent_user_sid: None,
                    truncated: 0,
                })
            }
            Activity::ProcessExit { pid, exit_status, time } => f(&Event::ProcessExit {
                pid: *pid,
                exit_status: *exit_status as u32,
                time: *time,
                rule_name: rule,
                image_path: None,
                start_key: self.start_key,
                user_sid: None,
                truncated: 0,
            }),
            Activity::ImageLoad(i) => {
                let path = i.name.expected_text();
                f(&Event::ImageLoad {
                    pid: i.pid,
                    image_path: path.as_deref().map(Text::wide),
                    // Kernel images report base 0: no record carries a kernel address.
                    image_base: if i.system_mode { 0 } else { i.base },
                    image_size: i.size,
                    signature_level: u32::from(i.signature_level),
                    signature_type: u32::from(i.signature_type),
                    kernel_image: i.system_mode,
                    time: i.time,
                    rule_name: rule,
                    process_image_path: None,
                    process_start_key: None,
                    user_sid: None,
                    truncated: 0,
                })
            }
        }
    }
}

/// When the kernel reported `activity`: the record's timestamp.
pub fn time_of(activity: &Activity) -> u64 {
    match activity {
        Activity::ProcessStart(p) => p.create_time,
        Activity::ProcessExit { time, .. } => *time,
        Activity::ImageLoad(i) => i.time,
    }
}

/// Asserts that `record` reports `expected` exactly, with `rule_name` as the verdict.
pub fn assert_reports(record: &Record<'_>, expected: &Expected, rule_name: &str) {
    let activity = &expected.activity;
    expected.with_event(rule_name, |event| assert_eq!(&record.event(), event, "{activity:?}"));
    assert_eq!(record.timestamp(), time_of(activity), "{activity:?}");
}
