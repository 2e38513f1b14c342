//! SigmaHQ's regression samples — Sysmon events recorded where a rule fires —
//! converted into one activity scenario for the real driver and the companion,
//! and judged afterwards: did each sample fire the rule it was recorded for, and
//! if not, why.
//!
//! The conversion carries only what a sample holds and what a scenario can say
//! (see [`NOT_CARRIED`]): an NT path through the scenario's volume map for each
//! DOS path, a SID through its account table for each user, the token's
//! integrity RID and logon id, the session, the parent as a running process;
//! an image load's loading process as a running process and its signature as
//! the kernel's signing level; the version strings of the image (`FileVersion`,
//! `Description`, `Product`, `Company`, `OriginalFileName`) as a small PE file
//! at the image's path, holding that version resource and nothing else, which
//! the companion reads as it reads any image. Samples whose images share a path
//! but not their strings go into separate batches (one emulator run each).
//! Nothing a sample lacks is filled in (Sysmon's `-` is an absent string), and
//! no expected result is consulted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use ringfence_companion::enrich::account::well_known;
use ringfence_companion::enrich::sid::Sid;
use ringfence_companion::enrich::token::IntegrityLevel;
use ringfence_detect::fields::{self, Field, Resolved};
use ringfence_detect::ir::Operator;
use ringfence_detect::{EventFields, FieldValue, Rule, RuleSet};
use ringfence_wire::EventKind;
use serde::Deserialize;

// Version resources of the replayed images are built as the companion's PE tests build theirs.
#[path = "../../../companion/tests/pe_image/mod.rs"]
mod pe_image;

/// The sample folders replayed, under `regression_data/rules/windows/`.
pub const CATEGORIES: [&str; 2] = ["process_creation", "image_load"];

/// Why the samples could not be read.
#[derive(Debug)]
pub enum ReplayError {
    /// A folder or file could not be read.
    Read { path: PathBuf, error: std::io::Error },
    /// An `info.yml` is not of the shape SigmaHQ writes.
    Info { path: PathBuf, message: String },
    /// A sample is not EVTX-as-JSON events.
    Json { path: PathBuf, message: String },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::Read { path, error } => write!(f, "{}: {error}", path.display()),
            ReplayError::Info { path, message } => write!(f, "{}: {message}", path.display()),
            ReplayError::Json { path, message } => write!(f, "{}: {message}", path.display()),
        }
    }
}

impl std::error::Error for ReplayError {}

#[derive(Deserialize)]
struct Info {
    rule_metadata: Vec<RuleRef>,
    regression_tests_info: Vec<TestRef>,
}

#[derive(Deserialize)]
struct RuleRef {
    id: String,
}

#[derive(Deserialize)]
struct TestRef {
    path: String,
    match_count: Option<u64>,
}

/// One recorded Sysmon event: its id and its `EventData`, each value as text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SysmonEvent {
    pub event_id: u64,
    pub data: BTreeMap<String, String>,
}

/// One sample file of one rule.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The rule's id, as `info.yml` names it.
    pub rule_id: String,
    /// The sample's folder name (the rule's file name).
    pub name: String,
    pub file: PathBuf,
    /// How many of its events the rule matches, as `info.yml` says.
    pub match_count: Option<u64>,
    pub events: Vec<SysmonEvent>,
}

/// Reads every sample of [`CATEGORIES`] under a SigmaHQ checkout, in folder order.
pub fn read_samples(sigma: &Path) -> Result<Vec<Sample>, ReplayError> {
    let mut samples = Vec::new();
    for category in CATEGORIES {
        let dir = sigma.join("regression_data/rules/windows").join(category);
        if !dir.is_dir() {
            continue;
        }
        let read = |path: &Path| {
            std::fs::read_dir(path).map_err(|error| ReplayError::Read { path: path.into(), error })
        };
        let mut folders: Vec<PathBuf> = read(&dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
        folders.sort();
        for folder in folders.into_iter().filter(|f| f.join("info.yml").is_file()) {
            let info_path = folder.join("info.yml");
            let text = std::fs::read_to_string(&info_path)
                .map_err(|error| ReplayError::Read { path: info_path.clone(), error })?;
            let info: Info = yaml_serde::from_str(&text)
                .map_err(|e| ReplayError::Info { path: info_path.clone(), message: e.to_string() })?;
            let Some(rule) = info.rule_metadata.first() else {
                return Err(ReplayError::Info { path: info_path, message: "no rule_metadata".into() });
            };
            let name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            for test in &info.regression_tests_info {
                // The EVTX's JSON rendering lies beside it.
                let file = sigma.join(&test.path).with_extension("json");
                let events = read_events(&file)?;
                samples.push(Sample {
                    rule_id: rule.id.clone(),
                    name: name.clone(),
                    file,
                    match_count: test.match_count,
                    events,
                });
            }
        }
    }
    Ok(samples)
}

/// The events of one EVTX-as-JSON file: concatenated `{"Event": …}` objects.
pub fn read_events(path: &Path) -> Result<Vec<SysmonEvent>, ReplayError> {
    let text =
        std::fs::read_to_string(path).map_err(|error| ReplayError::Read { path: path.into(), error })?;
    parse_events(&text).map_err(|message| ReplayError::Json { path: path.into(), message })
}

/// [`read_events`] on text.
pub fn parse_events(text: &str) -> Result<Vec<SysmonEvent>, String> {
    let mut events = Vec::new();
    for value in serde_json::Deserializer::from_str(text).into_iter::<serde_json::Value>() {
        let value = value.map_err(|e| e.to_string())?;
        let event = &value["Event"];
        let event_id = event["System"]["EventID"].as_u64().ok_or("an event without System.EventID")?;
        let Some(data) = event["EventData"].as_object() else {
            return Err(format!("event {event_id} without EventData"));
        };
        let data = data
            .iter()
            .filter_map(|(key, v)| {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    _ => return None,
                };
                Some((key.clone(), text))
            })
            .collect();
        events.push(SysmonEvent { event_id, data });
    }
    Ok(events)
}

/// Sysmon's event id → the event kind ringfence reports for it.
pub fn kind_of(event_id: u64) -> Option<EventKind> {
    match event_id {
        1 => Some(EventKind::ProcessStart),
        5 => Some(EventKind::ProcessExit),
        7 => Some(EventKind::ImageLoad),
        _ => None,
    }
}

/// Sysmon fields a scenario does not carry, and why (the others of the field table are carried
/// when the sample has them and they convert).
pub const NOT_CARRIED: &[(&str, &str)] = &[
    ("ProcessId", "pids are assigned by the replay, so that all samples run in one scenario"),
    ("ParentProcessId", "pids are assigned by the replay, so that all samples run in one scenario"),
    ("Hashes", "a file with the recorded hashes cannot be made (the replay's image files have their own)"),
    ("CurrentDirectory", "ringfence does not produce it (ENRICHMENT.md)"),
    ("LogonGuid", "ringfence does not produce it (ENRICHMENT.md)"),
    ("Signature", "ringfence does not produce it (ENRICHMENT.md)"),
];

/// Why `field` was not carried, for a sample that has it.
pub fn not_carried_reason(name: &str) -> Option<&'static str> {
    NOT_CARRIED.iter().find(|(n, _)| *n == name).map(|(_, why)| *why)
}

/// An event in Sigma's view, from a field → text map.
#[derive(Clone, Debug)]
pub struct FieldMap {
    pub kind: EventKind,
    pub values: BTreeMap<Field, String>,
}

impl FieldMap {
    /// The Sigma fields a recorded event holds, as recorded.
    pub fn recorded(kind: EventKind, event: &SysmonEvent) -> Self {
        let values = event
            .data
            .iter()
            .filter_map(|(key, value)| match fields::resolve(kind, key) {
                Resolved::Field(field) => Some((field, value.clone())),
                _ => None,
            })
            .collect();
        FieldMap { kind, values }
    }
}

impl EventFields for FieldMap {
    fn kind(&self) -> EventKind {
        self.kind
    }

    fn field(&self, field: Field) -> FieldValue<'_> {
        match self.values.get(&field) {
            Some(text) if field.is_integer() => {
                text.parse().map_or(FieldValue::Text(text), FieldValue::Integer)
            }
            Some(text) => FieldValue::Text(text),
            None => FieldValue::Absent,
        }
    }
}

/// Whether `rule` alone matches `event` (three-valued: `None` undecided).
pub fn rule_matches(rule: &Rule, event: &FieldMap) -> Option<bool> {
    let set = RuleSet::new(vec![rule.clone()]).ok()?;
    let m = set.evaluate(event);
    if m.matched.contains(&0) {
        Some(true)
    } else if m.undecided.contains(&0) {
        None
    } else {
        Some(false)
    }
}

/// One recorded event as it goes into the scenario.
#[derive(Clone, Debug)]
pub struct Replayed {
    /// Index into the samples, and of the event in the sample.
    pub sample: usize,
    pub event: usize,
    pub kind: EventKind,
    /// The pid the replay gave the event's process (the new process, or the loading one).
    pub pid: u32,
    /// The batch (emulator run) it is in.
    pub batch: usize,
    /// The Sigma fields carried into the scenario, with the recorded text.
    pub carried: FieldMap,
    /// Fields the sample has that were not carried, and why.
    pub not_carried: Vec<(String, &'static str)>,
}

/// One emulator run: a scenario and the image files it reads.
#[derive(Clone, Debug, Default)]
pub struct Batch {
    /// The scenario file (TOML, examples/scenarios/README.md's format).
    pub scenario: String,
    /// Image files by DOS path: a PE holding the sample's version strings.
    pub files: BTreeMap<String, Vec<u8>>,
}

/// The scenarios of all samples, and what went into them.
#[derive(Clone, Debug)]
pub struct Plan {
    pub batches: Vec<Batch>,
    pub replayed: Vec<Replayed>,
    /// Events of a kind ringfence does not report (Sysmon event ids other than 1, 5, 7).
    pub skipped: Vec<(usize, usize, u64)>,
}

/// An NT path for a DOS path, by the replay's volume map (`C:` → `\Device\HarddiskVolume3`,
/// each other letter a volume of its own; `\\server\share` → `\Device\Mup\server\share`).
pub fn nt_path(dos: &str) -> Option<String> {
    if let Some(unc) = dos.strip_prefix(r"\\") {
        return (!unc.is_empty() && !unc.starts_with(['?', '.'])).then(|| format!(r"\Device\Mup\{unc}"));
    }
    let (letter, rest) = drive(dos)?;
    Some(format!(r"{}{rest}", volume_device(letter)))
}

fn drive(dos: &str) -> Option<(char, &str)> {
    let mut chars = dos.chars();
    let letter = chars.next().filter(char::is_ascii_alphabetic)?.to_ascii_uppercase();
    let rest = dos.get(2..)?;
    (dos.get(1..2) == Some(":") && rest.starts_with('\\')).then_some((letter, rest))
}

fn volume_device(letter: char) -> String {
    // C: is volume 3 as on a default install; the others follow in letter order.
    let n = u32::from(letter) - u32::from('A');
    let volume = if letter == 'C' { 3 } else { 10 + n };
    format!(r"\Device\HarddiskVolume{volume}")
}

/// The mandatory label RID whose Sysmon name the companion renders as `name`.
pub fn integrity_rid(name: &str) -> Option<u32> {
    [0x0000, 0x1000, 0x2000, 0x2100, 0x3000, 0x4000, 0x5000, 0x7000]
        .into_iter()
        .find(|&rid| IntegrityLevel::from_rid(rid).sysmon_name(false) == name)
}

/// Sysmon's `0x…` logon id.
fn logon_id(text: &str) -> Option<u64> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))?;
    u64::from_str_radix(digits, 16).ok()
}

/// Users by name: a well-known account by its fixed SID, any other by a SID of the
/// replay's domain that its account table names exactly as recorded.
#[derive(Default)]
struct Accounts {
    sids: BTreeMap<String, String>,
    table: Vec<(String, String, String)>,
}

/// The well-known SIDs whose names a Sysmon `User` can hold.
const WELL_KNOWN: [&str; 3] = ["S-1-5-18", "S-1-5-19", "S-1-5-20"];

impl Accounts {
    fn sid(&mut self, user: &str) -> String {
        if let Some(sid) = self.sids.get(user) {
            return sid.clone();
        }
        let known = WELL_KNOWN.iter().find(|text| {
            text.parse::<Sid>().ok().and_then(|sid| well_known(&sid)).is_some_and(|n| n.to_string() == user)
        });
        let sid = match known {
            Some(text) => (*text).to_owned(),
            None => {
                let rid = 1001 + self.table.len();
                let sid = format!("S-1-5-21-1111111111-2222222222-3333333333-{rid}");
                let (domain, name) = user.split_once('\\').unwrap_or(("", user));
                self.table.push((sid.clone(), domain.to_owned(), name.to_owned()));
                sid
            }
        };
        self.sids.insert(user.to_owned(), sid.clone());
        sid
    }
}

type Table = toml::map::Map<String, toml::Value>;

fn text(s: &str) -> toml::Value {
    toml::Value::String(s.to_owned())
}

fn int(n: u64) -> toml::Value {
    toml::Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// What converting one event's fields gives: scenario keys, and the Sigma fields carried.
struct Converted {
    keys: Table,
    carried: BTreeMap<Field, String>,
    not_carried: Vec<(String, &'static str)>,
}

impl Converted {
    fn new() -> Self {
        Converted { keys: Table::new(), carried: BTreeMap::new(), not_carried: Vec::new() }
    }

    fn refuse(&mut self, name: &str, why: &'static str) {
        self.not_carried.push((name.to_owned(), why));
    }

    /// Carries `name` as scenario key `key` with the converted value, or records why not.
    fn carry(
        &mut self,
        data: &BTreeMap<String, String>,
        name: &str,
        field: Field,
        key: &str,
        convert: impl FnOnce(&str) -> Result<toml::Value, &'static str>,
    ) {
        let Some(value) = data.get(name) else { return };
        match convert(value) {
            Ok(v) => {
                self.keys.insert(key.to_owned(), v);
                self.carried.insert(field, value.clone());
            }
            Err(why) => self.refuse(name, why),
        }
    }
}

const NOT_A_DOS_PATH: &str = "not a DOS path (drive letter or UNC), so it has no NT form";

fn path_value(value: &str) -> Result<toml::Value, &'static str> {
    nt_path(value).map(|p| text(&p)).ok_or(NOT_A_DOS_PATH)
}

/// The version strings Sysmon reports and the `StringFileInfo` keys they come from.
const VERSION_STRINGS: [(&str, &str, Field); 5] = [
    ("FileVersion", "FileVersion", Field::FileVersion),
    ("Description", "FileDescription", Field::Description),
    ("Product", "ProductName", Field::Product),
    ("Company", "CompanyName", Field::Company),
    ("OriginalFileName", "OriginalFilename", Field::OriginalFileName),
];

/// The image whose version strings the event reports (a new process's image, a loaded
/// image), with those strings as resource keys and values; `-` is Sysmon's absent string.
fn version_strings(
    kind: EventKind,
    data: &BTreeMap<String, String>,
) -> Option<(String, Vec<(&'static str, String)>)> {
    let image = data.get(if kind == EventKind::ImageLoad { "ImageLoaded" } else { "Image" })?;
    nt_path(image)?;
    let strings: Vec<(&'static str, String)> = VERSION_STRINGS
        .iter()
        .filter_map(|(name, key, _)| data.get(*name).filter(|v| *v != "-").map(|v| (*key, v.clone())))
        .collect();
    (!strings.is_empty()).then(|| (image.clone(), strings))
}

/// A PE image holding one version resource with `strings` (US English, Unicode).
pub fn version_image(strings: &[(&str, String)]) -> Vec<u8> {
    let table: Vec<Vec<u8>> =
        strings.iter().map(|(key, value)| pe_image::string(key, value, false)).collect();
    let block = pe_image::version_block(&[("040904b0", table)], Some((0x0409, 0x04b0)), [0, 0, 0, 0]);
    pe_image::PeBuilder::new(true).version_resource(&block).build()
}

/// One batch's scenario parts.
#[derive(Default)]
struct Parts {
    running: Vec<toml::Value>,
    events: Vec<toml::Value>,
    /// Image path (case-folded) → its version strings, as written in this batch's files.
    images: BTreeMap<String, Vec<(&'static str, String)>>,
    files: BTreeMap<String, Vec<u8>>,
}

/// Builds the scenarios of every sample's events.
pub fn plan(samples: &[Sample]) -> Plan {
    let mut accounts = Accounts::default();
    let mut parts: Vec<Parts> = Vec::new();
    let mut replayed = Vec::new();
    let mut skipped = Vec::new();
    let mut letters = BTreeSet::from(['C']);
    for (s, sample) in samples.iter().enumerate() {
        for (e, event) in sample.events.iter().enumerate() {
            let Some(kind @ (EventKind::ProcessStart | EventKind::ImageLoad)) = kind_of(event.event_id)
            else {
                skipped.push((s, e, event.event_id));
                continue;
            };
            let data = &event.data;
            for key in ["Image", "ParentImage", "ImageLoaded"] {
                if let Some((letter, _)) = data.get(key).and_then(|v| drive(v)) {
                    letters.insert(letter);
                }
            }
            // The first batch where the image's path holds these strings or nothing yet.
            let version = version_strings(kind, data);
            let batch = match &version {
                None => 0,
                Some((path, strings)) => parts
                    .iter()
                    .position(|p| p.images.get(&path.to_lowercase()).is_none_or(|held| held == strings))
                    .unwrap_or(parts.len()),
            };
            if batch >= parts.len() {
                parts.resize_with(batch + 1, Parts::default);
            }
            let Some(part) = parts.get_mut(batch) else { continue };
            let at = int(u64::try_from(part.events.len()).unwrap_or(u64::MAX));
            let base = 1000 + 8 * u32::try_from(replayed.len()).unwrap_or(u32::MAX / 16);
            // The running process: the parent of a new process, or the process loading an image.
            let mut host = Converted::new();
            host.keys.insert("pid".into(), int(u64::from(base)));
            let mut this = Converted::new();
            let pid = match kind {
                EventKind::ProcessStart => {
                    host.carry(data, "ParentImage", Field::ParentImage, "image", path_value);
                    host.carry(data, "ParentCommandLine", Field::ParentCommandLine, "command_line", |v| {
                        Ok(text(v))
                    });
                    host.carry(data, "ParentUser", Field::ParentUser, "user", |v| Ok(text(&accounts.sid(v))));
                    this.keys.insert("kind".into(), text("process_start"));
                    this.keys.insert("at".into(), at);
                    this.keys.insert("pid".into(), int(u64::from(base + 4)));
                    this.keys.insert("parent".into(), int(u64::from(base)));
                    this.carry(data, "Image", Field::Image, "image", path_value);
                    this.carry(data, "CommandLine", Field::CommandLine, "command_line", |v| Ok(text(v)));
                    this.carry(data, "User", Field::User, "user", |v| Ok(text(&accounts.sid(v))));
                    this.carry(data, "IntegrityLevel", Field::IntegrityLevel, "integrity", |v| {
                        integrity_rid(v)
                            .map(|rid| text(&rid.to_string()))
                            .ok_or("not a level the companion names (nor S-1-16-N)")
                    });
                    this.carry(data, "LogonId", Field::LogonId, "logon_id", |v| {
                        logon_id(v).map(int).ok_or("not Sysmon's 0x… form")
                    });
                    this.carry(data, "TerminalSessionId", Field::TerminalSessionId, "session", |v| {
                        v.parse::<u32>().map(|n| int(u64::from(n))).map_err(|_| "not a session number")
                    });
                    base + 4
                }
                _ => {
                    host.carry(data, "Image", Field::Image, "image", path_value);
                    host.carry(data, "User", Field::User, "user", |v| Ok(text(&accounts.sid(v))));
                    this.keys.insert("kind".into(), text("image_load"));
                    this.keys.insert("at".into(), at);
                    this.keys.insert("pid".into(), int(u64::from(base)));
                    this.keys.insert("base".into(), int(0x7ff8_0000_0000));
                    this.keys.insert("size".into(), int(0x10_0000));
                    this.carry(data, "ImageLoaded", Field::ImageLoaded, "path", path_value);
                    signature(data, &mut this);
                    base
                }
            };
            if let Some((path, strings)) = version {
                let key = path.to_lowercase();
                if !part.images.contains_key(&key) {
                    part.files.insert(path.clone(), version_image(&strings));
                    part.images.insert(key, strings);
                }
                for (name, _, field) in VERSION_STRINGS {
                    if let Some(value) = data.get(name).filter(|v| *v != "-") {
                        this.carried.insert(field, value.clone());
                    }
                }
            } else {
                for (name, _, _) in
                    VERSION_STRINGS.iter().filter(|(n, _, _)| data.get(*n).is_some_and(|v| v != "-"))
                {
                    this.refuse(name, "the image's path has no DOS form to put its file at");
                }
            }
            let mut carried = host.carried;
            carried.append(&mut this.carried);
            let mut not_carried = host.not_carried;
            not_carried.append(&mut this.not_carried);
            for key in data.keys() {
                if let Some(why) = not_carried_reason(key) {
                    not_carried.push((key.clone(), why));
                }
            }
            part.running.push(toml::Value::Table(host.keys));
            part.events.push(toml::Value::Table(this.keys));
            replayed.push(Replayed {
                sample: s,
                event: e,
                kind,
                pid,
                batch,
                carried: FieldMap { kind, values: carried },
                not_carried,
            });
        }
    }
    let volumes: Vec<toml::Value> = letters
        .iter()
        .map(|&l| {
            let mut v = Table::new();
            v.insert("nt".into(), text(&volume_device(l)));
            v.insert("dos".into(), text(&format!("{l}:")));
            toml::Value::Table(v)
        })
        .collect();
    let table: Vec<toml::Value> = accounts
        .table
        .iter()
        .map(|(sid, domain, name)| {
            let mut a = Table::new();
            a.insert("sid".into(), text(sid));
            a.insert("domain".into(), text(domain));
            a.insert("name".into(), text(name));
            toml::Value::Table(a)
        })
        .collect();
    let batches = parts
        .into_iter()
        .enumerate()
        .map(|(n, part)| {
            let mut file = Table::new();
            file.insert(
                "description".into(),
                text(&format!("SigmaHQ regression samples, batch {n}: one process per recorded event")),
            );
            file.insert("host".into(), text("sigma-replay"));
            file.insert("start".into(), text("2026-01-01T00:00:00Z"));
            file.insert("volume".into(), toml::Value::Array(volumes.clone()));
            file.insert("account".into(), toml::Value::Array(table.clone()));
            file.insert("running".into(), toml::Value::Array(part.running));
            file.insert("event".into(), toml::Value::Array(part.events));
            Batch { scenario: toml::to_string(&file).unwrap_or_default(), files: part.files }
        })
        .collect();
    Plan { batches, replayed, skipped }
}

/// `Signed` and `SignatureStatus` as the kernel's signing level the companion renders
/// them from: unsigned (level 1) is `false`/`Unavailable`, any verified level `true`/`Valid`.
fn signature(data: &BTreeMap<String, String>, this: &mut Converted) {
    let signed = data.get("Signed").map(String::as_str);
    let status = data.get("SignatureStatus").map(String::as_str);
    let level = match (signed, status) {
        (None, None) => return,
        (Some("false"), Some("Unavailable")) => 1,
        // SE_SIGNING_LEVEL_AUTHENTICODE: verified, by a signer the sample does not name.
        (Some("true"), Some("Valid")) => 4,
        _ => {
            for name in ["Signed", "SignatureStatus"].into_iter().filter(|n| data.contains_key(*n)) {
                this.refuse(name, "a signature state the kernel's signing level does not express");
            }
            return;
        }
    };
    this.keys.insert("signature_level".into(), int(level));
    for (name, field) in [("Signed", Field::Signed), ("SignatureStatus", Field::SignatureStatus)] {
        if let Some(value) = data.get(name) {
            this.carried.insert(field, value.clone());
        }
    }
}

fn has_regex(rule: &Rule) -> bool {
    rule.predicates.iter().any(|p| matches!(p.operator, Operator::Regex { .. }))
}

/// Why `rule` did not fire on the replay of `sample`'s events.
pub fn why_missed(
    rule: &Rule,
    sample: &Sample,
    events: &[&Replayed],
    fired: &BTreeMap<u64, Vec<String>>,
) -> String {
    let mut reasons = BTreeSet::new();
    for r in events {
        let Some(event) = sample.events.get(r.event) else { continue };
        if !fired.contains_key(&u64::from(r.pid)) {
            reasons.insert(format!("no event reported for pid {}", r.pid));
            continue;
        }
        let recorded = FieldMap::recorded(r.kind, event);
        if rule_matches(rule, &recorded) != Some(true) {
            let regex = if has_regex(rule) { " (the rule has a regular expression)" } else { "" };
            reasons.insert(format!(
                "the rule does not match the recorded event in ringfence's evaluator{regex}"
            ));
            continue;
        }
        if rule_matches(rule, &r.carried) == Some(true) {
            reasons.insert(format!("the carried fields match, the replayed event (pid {}) does not", r.pid));
            continue;
        }
        // The fields not carried that the rule reads; those that alone restore the match first.
        let read: BTreeSet<_> = rule.predicates.iter().map(|p| p.field.sigma_name()).collect();
        let missing: Vec<_> = r.not_carried.iter().filter(|(name, _)| read.contains(name.as_str())).collect();
        let restoring: Vec<_> = missing
            .iter()
            .copied()
            .filter(|(name, _)| {
                let mut with = r.carried.clone();
                if let Some((field, value)) = recorded.values.iter().find(|(f, _)| f.sigma_name() == name) {
                    with.values.insert(*field, value.clone());
                }
                rule_matches(rule, &with) == Some(true)
            })
            .collect();
        let named = if restoring.is_empty() { &missing } else { &restoring };
        let text: Vec<String> =
            named.iter().map(|(name, why)| format!("{name} not carried: {why}")).collect();
        reasons.insert(if text.is_empty() { "a field not carried".into() } else { text.join("; ") });
    }
    reasons.into_iter().collect::<Vec<_>>().join(" / ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scenario;
    use crate::device::Activity;

    const PROCESS_START: &str = r#"{"Event": {"System": {"EventID": 1}, "EventData": {
        "ProcessId": 14144, "Image": "C:\\Windows\\System32\\reg.exe", "CommandLine": "reg add x",
        "CurrentDirectory": "C:\\WINDOWS\\system32\\", "User": "DESKTOP\\alice", "LogonId": "0x3144c",
        "TerminalSessionId": 2, "IntegrityLevel": "High", "OriginalFileName": "reg.exe", "Description": "-",
        "Hashes": "SHA256=E295", "ParentImage": "D:\\tools\\ps.exe", "ParentCommandLine": "ps",
        "ParentUser": "NT AUTHORITY\\SYSTEM"}}}
        {"Event": {"System": {"EventID": 13}, "EventData": {"Image": "C:\\x.exe"}}}"#;

    fn sample(text: &str) -> Sample {
        Sample {
            rule_id: "r".into(),
            name: "n".into(),
            file: PathBuf::from("s.json"),
            match_count: Some(1),
            events: parse_events(text).unwrap(),
        }
    }

    #[test]
    fn dos_paths_take_the_replays_volumes_and_other_forms_have_none() {
        assert_eq!(nt_path(r"C:\Windows\a.exe").as_deref(), Some(r"\Device\HarddiskVolume3\Windows\a.exe"));
        assert_eq!(nt_path(r"d:\x").as_deref(), Some(r"\Device\HarddiskVolume13\x"));
        assert_eq!(nt_path(r"\\srv\share\a.exe").as_deref(), Some(r"\Device\Mup\srv\share\a.exe"));
        for other in ["reg.exe", r"C:a.exe", r"\\?\C:\a.exe", "System", ""] {
            assert_eq!(nt_path(other), None, "{other}");
        }
    }

    #[test]
    fn integrity_names_read_back_to_the_rid_the_companion_names_so() {
        assert_eq!(integrity_rid("High"), Some(0x3000));
        assert_eq!(integrity_rid("Medium Plus"), Some(0x2100));
        assert_eq!(integrity_rid("high"), None);
        assert_eq!(integrity_rid("AppContainer"), None);
    }

    #[test]
    fn a_sample_becomes_a_scenario_carrying_what_it_holds_and_saying_what_it_does_not() {
        let plan = plan(&[sample(PROCESS_START)]);
        assert_eq!(plan.skipped, [(0, 1, 13)]);
        assert_eq!(plan.batches.len(), 1);
        let [r] = plan.replayed.as_slice() else { panic!("one event replayed") };
        let carried: Vec<(&str, &str)> =
            r.carried.values.iter().map(|(f, v)| (f.sigma_name(), v.as_str())).collect();
        assert_eq!(
            carried,
            [
                ("Image", r"C:\Windows\System32\reg.exe"),
                ("CommandLine", "reg add x"),
                ("ParentImage", r"D:\tools\ps.exe"),
                ("ParentCommandLine", "ps"),
                ("User", r"DESKTOP\alice"),
                ("ParentUser", r"NT AUTHORITY\SYSTEM"),
                ("IntegrityLevel", "High"),
                ("LogonId", "0x3144c"),
                ("TerminalSessionId", "2"),
                ("OriginalFileName", "reg.exe"),
            ]
        );
        let not: Vec<&str> = r.not_carried.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(not, ["CurrentDirectory", "Hashes", "ProcessId"]);
        let batch = &plan.batches[0];
        assert_eq!(batch.files.keys().collect::<Vec<_>>(), [r"C:\Windows\System32\reg.exe"]);
        let scenario = Scenario::parse(&batch.scenario).unwrap();
        assert_eq!(scenario.accounts.len(), 1, "SYSTEM is well known, alice is the replay's");
        assert_eq!(scenario.accounts[0].1.to_string(), r"DESKTOP\alice");
        let parent = scenario.running.iter().find(|p| p.pid == r.pid - 4).unwrap();
        assert_eq!(parent.token.user, "S-1-5-18");
        let [Activity::ProcessStart(start)] = scenario.activity.as_slice() else { panic!("one start") };
        assert_eq!((start.pid, start.parent_pid, start.session_id), (r.pid, r.pid - 4, 2));
        assert_eq!((start.token.integrity, start.token.logon_id), (0x3000, 0x3144c));
        assert_eq!(start.token.user, scenario.accounts[0].0.to_string());
    }

    fn rule(detection: &str) -> Rule {
        let yaml = format!(
            "title: t\nid: r\nlogsource: {{product: windows, category: process_creation}}\ndetection:\n{detection}\n    condition: selection\n"
        );
        let compilation = ringfence_detect::compile_yaml(&yaml);
        assert_eq!(compilation.refusals, []);
        compilation.rules.into_iter().next().unwrap()
    }

    #[test]
    fn a_miss_is_explained_by_what_the_replay_lost_or_by_the_rule() {
        let sample = sample(PROCESS_START);
        let plan = plan(std::slice::from_ref(&sample));
        let events: Vec<&Replayed> = plan.replayed.iter().collect();
        let pid = u64::from(events[0].pid);
        let reported = BTreeMap::from([(pid, vec![])]);
        let why = |detection: &str, fired: &BTreeMap<u64, Vec<String>>| {
            why_missed(&rule(detection), &sample, &events, fired)
        };
        let hashes =
            "    selection:\n        Image|endswith: '\\reg.exe'\n        Hashes|contains: 'SHA256=E295'";
        assert_eq!(
            why(hashes, &reported),
            format!("Hashes not carried: {}", not_carried_reason("Hashes").unwrap())
        );
        let other = "    selection:\n        CommandLine: 'reg delete x'";
        assert_eq!(
            why(other, &reported),
            "the rule does not match the recorded event in ringfence's evaluator"
        );
        let regex = "    selection:\n        CommandLine|re: '^reg\\s+delete'";
        assert_eq!(
            why(regex, &reported),
            "the rule does not match the recorded event in ringfence's evaluator (the rule has a regular expression)"
        );
        let carried = "    selection:\n        CommandLine: 'reg add x'";
        assert_eq!(
            why(carried, &reported),
            format!("the carried fields match, the replayed event (pid {pid}) does not")
        );
        assert_eq!(why(carried, &BTreeMap::new()), format!("no event reported for pid {pid}"));
    }

    #[test]
    fn images_at_one_path_with_other_version_strings_go_to_another_batch() {
        let other =
            PROCESS_START.replace(r#""OriginalFileName": "reg.exe""#, r#""OriginalFileName": "REG.EXE""#);
        let same = PROCESS_START.to_owned();
        let plan = plan(&[sample(PROCESS_START), sample(&same), sample(&other)]);
        let batches: Vec<usize> = plan.replayed.iter().map(|r| r.batch).collect();
        assert_eq!(batches, [0, 0, 1]);
        for batch in &plan.batches {
            Scenario::parse(&batch.scenario).unwrap();
        }
    }
}
