//! Activity scenarios: a TOML description of what happens on a Windows
//! machine (processes starting and exiting, images mapped), played through
//! the emulated driver. The format is documented in examples/scenarios/README.md.

use serde::Deserialize;

use std::collections::BTreeMap;

use ringfence_companion::enrich::account::{AccountName, AccountTable};
use ringfence_companion::enrich::dos_path::{VolumeMap, VolumeMapError};
use ringfence_companion::enrich::sid::Sid;
use ringfence_companion::enrich::stage::{FileLocation, Sources};

use crate::device::Activity;
use crate::driver::Emulator;
use crate::events::{ImageLoad, ProcessStart};
use crate::kstring::KString;
use crate::layout::wide;
use crate::model::ps::{Process, Token};

/// Why a scenario file is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScenarioError {
    /// Not TOML of the scenario's shape; `line` is 1-based, 0 when unknown.
    Syntax { line: usize, message: String },
    /// `start` is not `YYYY-MM-DDTHH:MM:SSZ` (UTC).
    Start { value: String },
    /// Event `index` (0-based) happens before the one preceding it.
    TimeGoesBack { index: usize, at_ms: u64, previous_ms: u64 },
    /// Event `index` names a process that is not running.
    UnknownProcess { index: usize, pid: u32 },
    /// Event `index` starts a process whose id is already running.
    PidInUse { index: usize, pid: u32 },
    /// A token value is not one the format knows (`what` names the key).
    Token { what: &'static str, value: String },
    /// The `[[volume]]` pairs are not a volume map.
    Volumes(VolumeMapError),
    /// `[[account]]` entry `index` (0-based) has a SID that does not parse.
    AccountSid { index: usize, value: String },
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScenarioError::Syntax { line, message } => write!(f, "line {line}: {message}"),
            ScenarioError::Start { value } => write!(f, "start = {value:?} is not YYYY-MM-DDTHH:MM:SSZ"),
            ScenarioError::TimeGoesBack { index, at_ms, previous_ms } => {
                write!(f, "event {index}: at = {at_ms} ms comes before the previous event's {previous_ms} ms")
            }
            ScenarioError::UnknownProcess { index, pid } => {
                write!(f, "event {index}: process {pid} is not running")
            }
            ScenarioError::PidInUse { index, pid } => {
                write!(f, "event {index}: process {pid} is already running")
            }
            ScenarioError::Token { what, value } => {
                write!(f, "{what} = {value:?} is not a value it can have")
            }
            ScenarioError::Volumes(e) => write!(f, "[[volume]]: {e}"),
            ScenarioError::AccountSid { index, value } => {
                write!(f, "[[account]] {index}: sid = {value:?} is not a SID (S-1-…)")
            }
        }
    }
}

impl std::error::Error for ScenarioError {}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    description: String,
    host: String,
    start: String,
    /// The boot's id: the high 16 bits of every start key (Windows' `PsGetProcessStartKey`).
    #[serde(default = "one_u64")]
    boot: u64,
    /// The machine's `MachineGuid`: the host part of its ProcessGuids.
    machine_guid: Option<String>,
    /// What `QueryDosDevice` and the Windows directory say: NT prefix → DOS prefix.
    #[serde(default, rename = "volume")]
    volumes: Vec<VolumeSrc>,
    /// What `LookupAccountSid` answers.
    #[serde(default, rename = "account")]
    accounts: Vec<AccountSrc>,
    #[serde(default)]
    running: Vec<RunningSrc>,
    #[serde(rename = "event")]
    events: Vec<EventSrc>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct VolumeSrc {
    nt: String,
    dos: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountSrc {
    sid: String,
    #[serde(default)]
    domain: String,
    name: String,
}

/// A process running before the scenario: a pid alone, or a process with its names and token.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum RunningSrc {
    Pid(u32),
    Process(RunningProcessSrc),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunningProcessSrc {
    pid: u32,
    #[serde(default = "one")]
    session: u32,
    image: Option<String>,
    command_line: Option<String>,
    user: Option<String>,
    integrity: Option<String>,
    logon_id: Option<u64>,
    elevation: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum EventSrc {
    ProcessStart {
        at: u64,
        pid: u32,
        parent: u32,
        creator: Option<u32>,
        #[serde(default)]
        thread: u32,
        #[serde(default = "one")]
        session: u32,
        image: Option<String>,
        command_line: Option<String>,
        #[serde(default = "yes")]
        file_open_name_available: bool,
        user: Option<String>,
        integrity: Option<String>,
        logon_id: Option<u64>,
        elevation: Option<String>,
    },
    ImageLoad {
        at: u64,
        pid: u32,
        path: Option<String>,
        base: u64,
        size: u64,
        #[serde(default)]
        signature_level: u8,
        #[serde(default)]
        signature_type: u8,
        #[serde(default)]
        kernel: bool,
    },
    ProcessExit {
        at: u64,
        pid: u32,
        #[serde(default)]
        status: i64,
    },
}

fn one() -> u32 {
    1
}

fn one_u64() -> u64 {
    1
}

/// A mandatory label RID by Sysmon's name, or as a number.
fn integrity_rid(text: &str) -> Result<u32, ScenarioError> {
    Ok(match text {
        "untrusted" => 0,
        "low" => 0x1000,
        "medium" => 0x2000,
        "medium_plus" => 0x2100,
        "high" => 0x3000,
        "system" => 0x4000,
        "protected" => 0x5000,
        other => {
            other.parse().map_err(|_| ScenarioError::Token { what: "integrity", value: other.into() })?
        }
    })
}

/// A `TOKEN_ELEVATION_TYPE` by name.
fn elevation_type(text: &str) -> Result<u32, ScenarioError> {
    match text {
        "default" => Ok(1),
        "full" => Ok(2),
        "limited" => Ok(3),
        other => Err(ScenarioError::Token { what: "elevation", value: other.into() }),
    }
}

/// `inherited` with whatever the event sets.
fn token(
    inherited: &Token,
    user: Option<String>,
    integrity: Option<String>,
    logon_id: Option<u64>,
    elevation: Option<String>,
) -> Result<Token, ScenarioError> {
    Ok(Token {
        user: user.unwrap_or_else(|| inherited.user.clone()),
        integrity: integrity.as_deref().map(integrity_rid).transpose()?.unwrap_or(inherited.integrity),
        logon_id: logon_id.unwrap_or(inherited.logon_id),
        elevation: elevation.as_deref().map(elevation_type).transpose()?.unwrap_or(inherited.elevation),
    })
}

fn yes() -> bool {
    true
}

/// A parsed scenario, ready to play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenario {
    pub description: String,
    pub host: String,
    /// When the scenario starts, 100-ns units since 1601 (the kernel's clock).
    pub start: u64,
    /// The processes running before it (System, pid 4, among them), start keys assigned.
    pub running: Vec<Process>,
    pub activity: Vec<Activity>,
    /// The machine's `MachineGuid`, when the scenario gives it.
    pub machine_guid: Option<String>,
    /// The machine's DOS device map.
    pub volumes: VolumeMap,
    /// The machine's account database.
    pub accounts: Vec<(Sid, AccountName)>,
}

impl Scenario {
    /// What the companion's enrichment asks the machine, answered by the
    /// scenario; its files are read as `files` says.
    pub fn sources(&self, files: FileLocation) -> Sources {
        Sources {
            host_identity: self.machine_guid.clone(),
            volumes: self.volumes.clone(),
            accounts: Box::new(AccountTable(self.accounts.clone())),
            files,
        }
    }

    /// Puts the scenario's running processes into the emulated kernel and sets its clock:
    /// call before DriverEntry, as they were running before the driver loaded.
    pub fn install(&self, emulator: &mut Emulator) {
        emulator.set_time(self.start);
        for process in &self.running {
            match emulator.machine.uc.get_data().ps.by_pid(process.pid) {
                // System exists from the start; it takes the scenario's names and key.
                Some(at) => {
                    let token_object =
                        emulator.machine.uc.get_data().ps.processes.get(&at).map(|p| p.token_object);
                    let k = emulator.machine.uc.get_data_mut();
                    if let (Some(p), Some(token_object)) = (k.ps.processes.get_mut(&at), token_object) {
                        *p = Process { token_object, ..process.clone() };
                    }
                }
                None => {
                    emulator.run(process.clone());
                }
            }
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` → 100-ns units since 1601-01-01.
fn filetime(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    // Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let unix = days * 86_400 + hh * 3600 + mm * 60 + ss;
    // 11_644_473_600 s separate 1601-01-01 from 1970-01-01.
    u64::try_from(unix + 11_644_473_600).ok().map(|s| s * 10_000_000)
}

impl Scenario {
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let file: File = toml::from_str(text).map_err(|e| ScenarioError::Syntax {
            line: e.span().map_or(0, |s| text[..s.start.min(text.len())].lines().count().max(1)),
            message: e.message().to_owned(),
        })?;
        let start = filetime(&file.start).ok_or(ScenarioError::Start { value: file.start.clone() })?;
        let volumes = VolumeMap::from_pairs(file.volumes.iter().map(|v| (v.nt.as_str(), v.dos.as_str())))
            .map_err(ScenarioError::Volumes)?;
        let mut accounts = Vec::with_capacity(file.accounts.len());
        for (index, a) in file.accounts.iter().enumerate() {
            let sid: Sid =
                a.sid.parse().map_err(|_| ScenarioError::AccountSid { index, value: a.sid.clone() })?;
            accounts.push((sid, AccountName::new(&a.domain, &a.name)));
        }
        // Start keys as Windows builds them: the boot id above a per-boot sequence number.
        let boot = file.boot << 48;
        let mut next_key = boot;
        let mut take_key = || {
            next_key += 1;
            next_key
        };
        let mut tokens: BTreeMap<u32, Token> = BTreeMap::new();
        let mut initial = Vec::new();
        let system = Process { pid: 4, start_key: take_key(), create_time: start, ..Process::default() };
        if !file
            .running
            .iter()
            .any(|r| matches!(r, RunningSrc::Pid(4)) || matches!(r, RunningSrc::Process(p) if p.pid == 4))
        {
            initial.push(system);
        }
        for r in &file.running {
            let process = match r.clone() {
                RunningSrc::Pid(pid) => Process { pid, ..Process::default() },
                RunningSrc::Process(p) => Process {
                    pid: p.pid,
                    session_id: p.session,
                    image: p.image.as_deref().map(wide),
                    command_line: p.command_line.as_deref().map(wide),
                    token: token(&Token::default(), p.user, p.integrity, p.logon_id, p.elevation)?,
                    ..Process::default()
                },
            };
            let key = if process.pid == 4 { boot | 1 } else { take_key() };
            initial.push(Process { start_key: key, create_time: start, exit_status: 0x103, ..process });
        }
        for p in &initial {
            tokens.insert(p.pid, p.token.clone());
        }
        let mut running: Vec<u32> = initial.iter().map(|p| p.pid).collect();
        let mut previous = 0;
        let mut activity = Vec::with_capacity(file.events.len());
        for (index, event) in file.events.into_iter().enumerate() {
            let at = match &event {
                EventSrc::ProcessStart { at, .. }
                | EventSrc::ImageLoad { at, .. }
                | EventSrc::ProcessExit { at, .. } => *at,
            };
            if at < previous {
                return Err(ScenarioError::TimeGoesBack { index, at_ms: at, previous_ms: previous });
            }
            previous = at;
            let time = start + at * 10_000;
            let string = |s: Option<String>| s.map_or(KString::Null, KString::Text);
            activity.push(match event {
                EventSrc::ProcessStart {
                    pid,
                    parent,
                    creator,
                    thread,
                    session,
                    image,
                    command_line,
                    file_open_name_available,
                    user,
                    integrity,
                    logon_id,
                    elevation,
                    ..
                } => {
                    if running.contains(&pid) {
                        return Err(ScenarioError::PidInUse { index, pid });
                    }
                    running.push(pid);
                    // A new process gets its creator's token unless the event says otherwise.
                    let inherited = tokens.get(&creator.unwrap_or(parent)).cloned().unwrap_or_default();
                    let token = token(&inherited, user, integrity, logon_id, elevation)?;
                    tokens.insert(pid, token.clone());
                    Activity::ProcessStart(ProcessStart {
                        pid,
                        parent_pid: parent,
                        creating_pid: creator.unwrap_or(parent),
                        creating_tid: thread,
                        session_id: session,
                        image: string(image),
                        command_line: string(command_line),
                        start_key: take_key(),
                        create_time: time,
                        file_open_name_available,
                        is_subsystem_process: false,
                        token,
                    })
                }
                EventSrc::ImageLoad {
                    pid,
                    path,
                    base,
                    size,
                    signature_level,
                    signature_type,
                    kernel,
                    ..
                } => {
                    if pid != 0 && !running.contains(&pid) {
                        return Err(ScenarioError::UnknownProcess { index, pid });
                    }
                    Activity::ImageLoad(ImageLoad {
                        pid,
                        name: string(path),
                        base,
                        size,
                        signature_level,
                        signature_type,
                        system_mode: kernel,
                        time,
                        conflicting_architecture: false,
                    })
                }
                EventSrc::ProcessExit { pid, status, .. } => {
                    let Some(i) = running.iter().position(|&p| p == pid) else {
                        return Err(ScenarioError::UnknownProcess { index, pid });
                    };
                    running.swap_remove(i);
                    Activity::ProcessExit { pid, exit_status: status as i32, time }
                }
            });
        }
        Ok(Scenario {
            description: file.description,
            host: file.host,
            start,
            running: initial,
            activity,
            machine_guid: file.machine_guid,
            volumes,
            accounts,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_convert_to_the_kernel_clock() {
        assert_eq!(filetime("1601-01-01T00:00:00Z"), Some(0));
        assert_eq!(filetime("1970-01-01T00:00:00Z"), Some(116_444_736_000_000_000));
        assert_eq!(filetime("2026-11-25T09:00:00Z"), Some(134_400_708_000_000_000));
        assert_eq!(filetime("2026-13-25T09:00:00Z"), None);
        assert_eq!(filetime("2026-11-25 09:00:00"), None);
    }

    #[test]
    fn an_exit_of_a_process_that_is_not_running_is_refused() {
        let text = "description = \"x\"\nhost = \"h\"\nstart = \"2026-11-25T09:00:00Z\"\n[[event]]\nkind = \"process_exit\"\nat = 0\npid = 9\n";
        assert_eq!(Scenario::parse(text), Err(ScenarioError::UnknownProcess { index: 0, pid: 9 }));
    }

    #[test]
    fn events_out_of_order_are_refused() {
        let text = "description = \"x\"\nhost = \"h\"\nstart = \"2026-11-25T09:00:00Z\"\nrunning = [4]\n\
                    [[event]]\nkind = \"process_exit\"\nat = 5\npid = 4\n\
                    [[event]]\nkind = \"image_load\"\nat = 4\npid = 0\nbase = 0\nsize = 1\n";
        assert_eq!(
            Scenario::parse(text),
            Err(ScenarioError::TimeGoesBack { index: 1, at_ms: 4, previous_ms: 5 })
        );
    }

    #[test]
    fn the_machine_facts_become_the_enrichment_sources_and_bad_ones_are_refused() {
        let head =
            "description = \"x\"\nhost = \"h\"\nstart = \"2026-11-25T09:00:00Z\"\nmachine_guid = \"g\"\n";
        let tail = "[[event]]\nkind = \"image_load\"\nat = 0\npid = 0\nbase = 0\nsize = 1\n";
        let volume = "[[volume]]\nnt = '\\Device\\HarddiskVolume3'\ndos = 'C:'\n";
        let account = "[[account]]\nsid = \"S-1-5-21-1-2-3-1001\"\ndomain = \"D\"\nname = \"u\"\n";
        let s = Scenario::parse(&format!("{head}{volume}{account}{tail}")).unwrap();
        assert_eq!(s.machine_guid.as_deref(), Some("g"));
        assert_eq!(
            s.volumes.pairs().collect::<Vec<_>>(),
            [(r"\Device\HarddiskVolume3".to_owned(), "C:".to_owned())]
        );
        assert_eq!(s.accounts, [("S-1-5-21-1-2-3-1001".parse().unwrap(), AccountName::new("D", "u"))]);
        let bad_volume = "[[volume]]\nnt = 'Device'\ndos = 'C:'\n";
        assert_eq!(
            Scenario::parse(&format!("{head}{bad_volume}{tail}")),
            Err(ScenarioError::Volumes(VolumeMapError::NtPrefixNotAbsolute { entry: 0 }))
        );
        let bad_account = "[[account]]\nsid = \"S-1-x\"\nname = \"u\"\n";
        assert_eq!(
            Scenario::parse(&format!("{head}{bad_account}{tail}")),
            Err(ScenarioError::AccountSid { index: 0, value: "S-1-x".into() })
        );
    }
}
