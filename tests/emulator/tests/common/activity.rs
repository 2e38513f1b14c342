//! Activity to inject and what the driver must report for it, field by field.

use std::collections::BTreeMap;

use ringfence_emulator::{Activity, ImageLoad, KString, ProcessStart, Token};
use ringfence_wire::schema::Event;
use ringfence_wire::schema::limits::{SID_TEXT_UNITS, TABLE_COMMAND_LINE_UNITS, TABLE_IMAGE_PATH_UNITS};
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

const USERS: [&str; 3] = ["S-1-5-18", "S-1-5-21-1004336348-1177238915-682003330-1001", "S-1-5-19"];

/// The boot id in the high bits of every start key, as Windows builds them.
pub const BOOT: u64 = 0x0001_0000_0000_0000;

/// A token for the `i`-th started process.
pub fn token(rng: &mut Rng) -> Token {
    Token {
        user: USERS[rng.below(USERS.len() as u64) as usize].to_owned(),
        logon_id: 0x3e7 + rng.below(0x10_0000),
        integrity: [0x1000, 0x2000, 0x3000, 0x4000][rng.below(4) as usize],
        elevation: 1 + rng.below(3) as u32,
    }
}

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
                start_key: BOOT | (0x100 + i as u64),
                create_time: time,
                file_open_name_available: rng.below(4) != 0,
                is_subsystem_process: false,
                token: token(&mut rng),
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

/// A process as the test models it: what the kernel knows of it, or what the
/// driver's table holds (then cut to the table's limits).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Known {
    pub start_key: u64,
    pub image: Option<Vec<u16>>,
    pub command_line: Option<Vec<u16>>,
    pub user: Option<Vec<u16>>,
}

fn cut(value: &Option<Vec<u16>>, limit: u16) -> (Option<Vec<u16>>, bool) {
    match value {
        Some(v) if v.len() > usize::from(limit) => (Some(v[..usize::from(limit)].to_vec()), true),
        other => (other.clone(), false),
    }
}

/// A process as the driver's table holds it, and whether its image path and command
/// line were cut to the table's limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    pub known: Known,
    pub image_cut: bool,
    pub command_cut: bool,
}

impl Known {
    /// As the table stores it: each string within its limit.
    fn stored(&self) -> Held {
        let (image, image_cut) = cut(&self.image, TABLE_IMAGE_PATH_UNITS);
        let (command_line, command_cut) = cut(&self.command_line, TABLE_COMMAND_LINE_UNITS);
        let (user, _) = cut(&self.user, SID_TEXT_UNITS);
        Held { known: Known { start_key: self.start_key, image, command_line, user }, image_cut, command_cut }
    }
}

/// The machine as the test models it, to say what the driver must report: the kernel's
/// live processes, and what the driver's process table holds (filled at starts, and
/// lazily from the kernel on a miss; released at exits). Eviction is not modelled: tests
/// using this stay far below the table's capacity.
#[derive(Clone, Debug)]
pub struct World {
    pub kernel: BTreeMap<u32, Known>,
    table: BTreeMap<u32, Held>,
}

impl Default for World {
    /// The emulator's initial kernel: System (pid 4), nameless, start key 0, LocalSystem.
    fn default() -> Self {
        let system = Known { start_key: 0, image: None, command_line: None, user: Some(wide("S-1-5-18")) };
        World { kernel: BTreeMap::from([(4, system)]), table: BTreeMap::new() }
    }
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
}

impl World {
    /// The kernel with System (as the emulator starts it) and `running` besides.
    pub fn with_running(running: &[ringfence_emulator::Process]) -> World {
        let mut world = World::default();
        for p in running {
            let known = Known {
                start_key: p.start_key,
                image: p.image.clone(),
                command_line: p.command_line.clone(),
                user: Some(wide(&p.token.user)),
            };
            world.kernel.insert(p.pid, known);
        }
        world
    }

    /// What the table holds for `pid` after a lookup under the kernel's start key (filled
    /// from the kernel on a miss); `None` when the kernel has no such process.
    fn known(&mut self, pid: u32) -> Option<(u64, Held)> {
        let live = self.kernel.get(&pid)?.clone();
        let held = self.table.get(&pid).filter(|h| h.known.start_key == live.start_key).cloned();
        let entry = held.unwrap_or_else(|| {
            let stored = live.stored();
            self.table.insert(pid, stored.clone());
            stored
        });
        Some((live.start_key, entry))
    }

    /// The event the driver must report for `activity`, then the world after it.
    pub fn expect(&mut self, activity: &Activity) -> Expected {
        match activity {
            Activity::ProcessStart(p) => {
                let parent = self.known(p.parent_pid);
                let user = wide(&p.token.user);
                let process = Known {
                    start_key: p.start_key,
                    image: p.image.expected_text(),
                    command_line: p.command_line.expected_text(),
                    user: Some(user),
                };
                self.kernel.insert(p.pid, process.clone());
                self.table.insert(p.pid, process.stored());
                let (key, known) = parent.unzip();
                Expected { activity: activity.clone(), key, known }
            }
            Activity::ImageLoad(i) if i.pid == 0 || i.system_mode => {
                Expected { activity: activity.clone(), key: None, known: None }
            }
            Activity::ImageLoad(i) => {
                let (key, known) = self.known(i.pid).unzip();
                Expected { activity: activity.clone(), key, known }
            }
            Activity::ProcessExit { pid, .. } => {
                // The emulator exits a process it never saw as a nameless one with key 0.
                let live = self
                    .kernel
                    .remove(pid)
                    .unwrap_or(Known { user: Some(wide("S-1-5-18")), ..Known::default() });
                let held = self.table.remove(pid).filter(|h| h.known.start_key == live.start_key);
                let known = held.unwrap_or_else(|| live.stored());
                Expected { activity: activity.clone(), key: Some(live.start_key), known: Some(known) }
            }
        }
    }
}

/// An activity and what the driver knows when it reports it: the start key and table
/// entry of the parent (a start), of the loading process (a load) or of the exiting one.
#[derive(Clone, Debug)]
pub struct Expected {
    pub activity: Activity,
    pub key: Option<u64>,
    pub known: Option<Held>,
}

/// What the driver must report for each of `activity`, in order, starting from the
/// emulator's initial kernel.
pub fn expectations(activity: &[Activity]) -> Vec<Expected> {
    let mut world = World::default();
    activity.iter().map(|a| world.expect(a)).collect()
}

fn text(units: &Option<Vec<u16>>) -> Option<Text<'_>> {
    units.as_deref().map(Text::wide)
}

impl Expected {
    /// Calls `f` with the event the driver must build, tagged `rule_name`.
    pub fn with_event<R>(&self, rule_name: &str, f: impl FnOnce(&Event<'_>) -> R) -> R {
        use ringfence_wire::schema::field;
        let rule: Vec<u16> = rule_name.encode_utf16().collect();
        let rule = Text::wide(&rule);
        let known = self.known.as_ref().map(|h| &h.known);
        let (image_cut, command_cut) =
            self.known.as_ref().map_or((false, false), |h| (h.image_cut, h.command_cut));
        let bit = |on: bool, field: u8| if on { 1u32 << field } else { 0 };
        match &self.activity {
            Activity::ProcessStart(p) => {
                let (image, command_line) = (p.image.expected_text(), p.command_line.expected_text());
                let user = wide(&p.token.user);
                f(&Event::ProcessStart {
                    pid: p.pid,
                    parent_pid: p.parent_pid,
                    creating_pid: p.creating_pid,
                    creating_tid: p.creating_tid,
                    session_id: p.session_id,
                    image_path: text(&image),
                    command_line: text(&command_line),
                    start_key: p.start_key,
                    create_time: p.create_time,
                    image_name_available: p.file_open_name_available,
                    rule_name: rule,
                    matched_ids: ringfence_wire::text::Ids::EMPTY,
                    matched_rest: 0,
                    undecided_ids: ringfence_wire::text::Ids::EMPTY,
                    undecided_rest: 0,
                    parent_start_key: self.key,
                    parent_image_path: known.and_then(|k| text(&k.image)),
                    parent_command_line: known.and_then(|k| text(&k.command_line)),
                    user_sid: Some(Text::wide(&user)),
                    logon_id: Some(p.token.logon_id),
                    integrity_level: Some(p.token.integrity),
                    elevation_type: Some(p.token.elevation),
                    parent_user_sid: known.and_then(|k| text(&k.user)),
                    truncated: bit(image_cut, field::ProcessStart::parent_image_path as u8)
                        | bit(command_cut, field::ProcessStart::parent_command_line as u8),
                })
            }
            Activity::ProcessExit { pid, exit_status, time } => f(&Event::ProcessExit {
                pid: *pid,
                exit_status: *exit_status as u32,
                time: *time,
                rule_name: rule,
                matched_ids: ringfence_wire::text::Ids::EMPTY,
                matched_rest: 0,
                undecided_ids: ringfence_wire::text::Ids::EMPTY,
                undecided_rest: 0,
                image_path: known.and_then(|k| text(&k.image)),
                start_key: self.key.unwrap_or(0),
                user_sid: known.and_then(|k| text(&k.user)),
                truncated: bit(image_cut, field::ProcessExit::image_path as u8),
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
                    matched_ids: ringfence_wire::text::Ids::EMPTY,
                    matched_rest: 0,
                    undecided_ids: ringfence_wire::text::Ids::EMPTY,
                    undecided_rest: 0,
                    process_image_path: known.and_then(|k| text(&k.image)),
                    process_start_key: self.key,
                    user_sid: known.and_then(|k| text(&k.user)),
                    truncated: bit(image_cut, field::ImageLoad::process_image_path as u8),
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
