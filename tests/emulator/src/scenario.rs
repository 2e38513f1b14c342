//! Activity scenarios: a TOML description of what happens on a Windows
//! machine (processes starting and exiting, images mapped), played through
//! the emulated driver. The format is documented in examples/scenarios/README.md.

use serde::Deserialize;

use crate::device::Activity;
use crate::events::{ImageLoad, ProcessStart};
use crate::kstring::KString;

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
    #[serde(default)]
    running: Vec<u32>,
    #[serde(rename = "event")]
    events: Vec<EventSrc>,
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
    pub activity: Vec<Activity>,
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
        let mut running: Vec<u32> = file.running.clone();
        let mut previous = 0;
        let mut next_key = 0x1_0000u64;
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
                    ..
                } => {
                    if running.contains(&pid) {
                        return Err(ScenarioError::PidInUse { index, pid });
                    }
                    running.push(pid);
                    next_key += 1;
                    Activity::ProcessStart(ProcessStart {
                        pid,
                        parent_pid: parent,
                        creating_pid: creator.unwrap_or(parent),
                        creating_tid: thread,
                        session_id: session,
                        image: string(image),
                        command_line: string(command_line),
                        start_key: next_key,
                        create_time: time,
                        file_open_name_available,
                        is_subsystem_process: false,
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
        Ok(Scenario { description: file.description, host: file.host, start, activity })
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
}
