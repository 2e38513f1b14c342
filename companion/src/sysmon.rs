//! Sysmon's shape: one JSON object per event, with Sysmon's `EventID` (1
//! process create, 5 process terminated, 6 driver loaded, 7 image loaded:
//! an image load the kernel marks `SystemModeImage` is a driver) and its EventData
//! field names, order and value formats (SysmonCommon's manifest.xml, schema
//! 4.81), so that pipelines and rules written for Sysmon read it unchanged.
//!
//! The object is flat: `EventID`, `Computer`, then the EventData fields, every
//! value a string as the event log renders it (`UtcTime` is
//! `yyyy-MM-dd HH:mm:ss.fff`, `LogonId` `0x3e7`, GUIDs `{…}`). A value ringfence
//! has not got is `-`, Sysmon's own placeholder. Fields ringfence cannot
//! produce are left out rather than faked: `CurrentDirectory` (in the target
//! process's PEB, which the kernel callback cannot read safely), `LogonGuid`
//! (Sysmon derives it from the logon session's start time, which ringfence
//! does not collect) and `Signature` (the signer's name needs the file's
//! Authenticode or catalog signature, not read yet). When the file of an
//! event could not be identified in time or at all, `RingfenceNotEnriched`
//! says why.

use std::io::{self, Write};

use crate::enrich::file::FileFacts;
use crate::enrich::files::FileEnrichment;
use crate::enrich::process_guid::{HostIdentity, ProcessGuid};
use crate::enrich::token::IntegrityLevel;
use crate::time::rfc3339;

/// Sysmon's placeholder for a value it has not got.
pub const NONE: &str = "-";

/// A process as the events name it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    /// `PsGetProcessStartKey`, from which the ProcessGuid follows.
    pub start_key: Option<u64>,
    /// The image path, in DOS form where it converts.
    pub image: Option<String>,
    pub command_line: Option<String>,
    /// `DOMAIN\user`, or the SID when it has no name.
    pub user: Option<String>,
}

/// An event with everything enrichment added, ready for Sysmon's shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EnrichedEvent {
    ProcessStart(ProcessStart),
    ProcessExit(ProcessExit),
    ImageLoad(ImageLoad),
    /// A kernel-mode image (`IMAGE_INFO.SystemModeImage`): Sysmon's DriverLoad.
    DriverLoad(DriverLoad),
}

impl EnrichedEvent {
    /// The event's RuleName.
    pub fn rule_name_mut(&mut self) -> &mut Option<String> {
        match self {
            EnrichedEvent::ProcessStart(e) => &mut e.rule_name,
            EnrichedEvent::ProcessExit(e) => &mut e.rule_name,
            EnrichedEvent::ImageLoad(e) => &mut e.rule_name,
            EnrichedEvent::DriverLoad(e) => &mut e.rule_name,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessStart {
    /// FILETIME of the creation.
    pub time: u64,
    pub rule_name: Option<String>,
    pub process: Process,
    /// The image file's identity; `None` when none was asked for.
    pub file: Option<FileEnrichment>,
    pub logon_id: Option<u64>,
    pub session_id: Option<u32>,
    pub integrity_level: Option<IntegrityLevel>,
    pub app_container: bool,
    pub parent: Option<Process>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessExit {
    pub time: u64,
    pub rule_name: Option<String>,
    pub process: Process,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageLoad {
    pub time: u64,
    pub rule_name: Option<String>,
    /// The process the image loads into.
    pub process: Process,
    pub image_loaded: Option<String>,
    pub file: Option<FileEnrichment>,
    pub signature: ImageSignature,
}

/// A driver (kernel-mode image) loaded: no process, in Sysmon's DriverLoad
/// (`UtcTime`, `ImageLoaded`, `Hashes`, `Signed`, `SignatureStatus`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverLoad {
    pub time: u64,
    pub rule_name: Option<String>,
    pub image_loaded: Option<String>,
    pub file: Option<FileEnrichment>,
    pub signature: ImageSignature,
}

/// What the kernel's code integrity said of a loaded image (`IMAGE_INFO`'s
/// `ImageSignatureLevel`), as Sysmon's `Signed` and `SignatureStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageSignature {
    /// `SE_SIGNING_LEVEL_UNCHECKED` (0): code integrity did not check it; `-`, `-`.
    Unchecked,
    /// `SE_SIGNING_LEVEL_UNSIGNED` (1): `false`, `Unavailable`.
    Unsigned,
    /// Any higher level (Authenticode, Microsoft, Windows, …): `true`, `Valid`.
    Verified { level: u8 },
}

impl ImageSignature {
    pub fn from_signing_level(level: u32) -> Self {
        match level {
            0 => ImageSignature::Unchecked,
            1 => ImageSignature::Unsigned,
            other => ImageSignature::Verified { level: u8::try_from(other).unwrap_or(u8::MAX) },
        }
    }

    /// (`Signed`, `SignatureStatus`).
    pub fn sysmon_fields(self) -> (&'static str, &'static str) {
        match self {
            ImageSignature::Unchecked => (NONE, NONE),
            ImageSignature::Unsigned => ("false", "Unavailable"),
            ImageSignature::Verified { .. } => ("true", "Valid"),
        }
    }
}

impl EnrichedEvent {
    /// Sysmon's event id: 1, 5, 6 or 7.
    pub fn event_id(&self) -> u32 {
        match self {
            EnrichedEvent::ProcessStart(_) => 1,
            EnrichedEvent::ProcessExit(_) => 5,
            EnrichedEvent::DriverLoad(_) => 6,
            EnrichedEvent::ImageLoad(_) => 7,
        }
    }
}

/// Writes events in Sysmon's shape for one host.
#[derive(Clone, Debug)]
pub struct SysmonWriter {
    host: HostIdentity,
    computer: String,
}

impl SysmonWriter {
    pub fn new(host: HostIdentity, computer: &str) -> Self {
        SysmonWriter { host, computer: computer.to_owned() }
    }

    /// `event` as one JSON object and a newline.
    pub fn write<W: Write + ?Sized>(&self, event: &EnrichedEvent, out: &mut W) -> io::Result<()> {
        write!(out, "{{\"EventID\":{}", event.event_id())?;
        let mut fields = Fields { out };
        fields.put("Computer", &self.computer)?;
        match event {
            EnrichedEvent::ProcessStart(e) => self.process_start(e, &mut fields)?,
            EnrichedEvent::ProcessExit(e) => {
                fields.head(e.rule_name.as_deref(), e.time)?;
                self.process(&e.process, &mut fields)?;
                fields.put("User", or_none(&e.process.user))?;
            }
            EnrichedEvent::ImageLoad(e) => self.image_load(e, &mut fields)?,
            EnrichedEvent::DriverLoad(e) => driver_load(e, &mut fields)?,
        }
        fields.out.write_all(b"}\n")
    }

    /// A sensor record Sysmon has no event for, in the shape of Sysmon's own
    /// error event (EventID 255: `UtcTime`, `ID`, `Description`): ringfence's
    /// lost-events records, so that a Sysmon-shaped stream says what it lost.
    pub fn write_error<W: Write + ?Sized>(
        &self,
        time: u64,
        id: &str,
        description: &str,
        out: &mut W,
    ) -> io::Result<()> {
        write!(out, "{{\"EventID\":255")?;
        let mut fields = Fields { out };
        fields.put("Computer", &self.computer)?;
        fields.put("UtcTime", &utc_or_note(time))?;
        fields.put("ID", id)?;
        fields.put("Description", description)?;
        fields.out.write_all(b"}\n")
    }

    /// A content change, in the shape of Sysmon's configuration-change event
    /// (EventID 16: `UtcTime`, `Configuration`, `ConfigurationFileHash`).
    pub fn write_config_state<W: Write + ?Sized>(
        &self,
        time: u64,
        configuration: &str,
        out: &mut W,
    ) -> io::Result<()> {
        write!(out, "{{\"EventID\":16")?;
        let mut fields = Fields { out };
        fields.put("Computer", &self.computer)?;
        fields.put("UtcTime", &utc_or_note(time))?;
        fields.put("Configuration", configuration)?;
        fields.put("ConfigurationFileHash", NONE)?;
        fields.out.write_all(b"}\n")
    }

    fn process_start<W: Write + ?Sized>(&self, e: &ProcessStart, f: &mut Fields<'_, W>) -> io::Result<()> {
        f.head(e.rule_name.as_deref(), e.time)?;
        self.process(&e.process, f)?;
        let facts = file_facts(e.file.as_ref());
        f.version(facts)?;
        f.put("CommandLine", or_none(&e.process.command_line))?;
        f.put("User", or_none(&e.process.user))?;
        f.put("LogonId", &e.logon_id.map_or_else(|| NONE.to_owned(), |id| format!("{id:#x}")))?;
        f.put("TerminalSessionId", &e.session_id.map_or_else(|| NONE.to_owned(), |s| s.to_string()))?;
        let integrity = e.integrity_level.map(|l| l.sysmon_name(e.app_container));
        f.put("IntegrityLevel", integrity.as_deref().unwrap_or(NONE))?;
        f.hashes(facts)?;
        let parent = e.parent.clone().unwrap_or_default();
        f.put("ParentProcessGuid", &self.guid(parent.start_key).to_string())?;
        f.put("ParentProcessId", &if e.parent.is_some() { parent.pid.to_string() } else { NONE.to_owned() })?;
        f.put("ParentImage", or_none(&parent.image))?;
        f.put("ParentCommandLine", or_none(&parent.command_line))?;
        f.put("ParentUser", or_none(&parent.user))?;
        f.not_enriched(e.file.as_ref())
    }

    fn image_load<W: Write + ?Sized>(&self, e: &ImageLoad, f: &mut Fields<'_, W>) -> io::Result<()> {
        f.head(e.rule_name.as_deref(), e.time)?;
        self.process(&e.process, f)?;
        f.put("ImageLoaded", or_none(&e.image_loaded))?;
        let facts = file_facts(e.file.as_ref());
        f.version(facts)?;
        f.hashes(facts)?;
        let (signed, status) = e.signature.sysmon_fields();
        f.put("Signed", signed)?;
        f.put("SignatureStatus", status)?;
        f.put("User", or_none(&e.process.user))?;
        f.not_enriched(e.file.as_ref())
    }

    /// ProcessGuid, ProcessId, Image.
    fn process<W: Write + ?Sized>(&self, p: &Process, f: &mut Fields<'_, W>) -> io::Result<()> {
        f.put("ProcessGuid", &self.guid(p.start_key).to_string())?;
        f.put("ProcessId", &p.pid.to_string())?;
        f.put("Image", or_none(&p.image))
    }

    fn guid(&self, start_key: Option<u64>) -> ProcessGuid {
        start_key.map_or(ProcessGuid::NONE, |key| self.host.process_guid(key))
    }
}

/// DriverLoad's fields in Sysmon's order; `Signature` (the signer's name)
/// is left out, as for image loads.
fn driver_load<W: Write + ?Sized>(e: &DriverLoad, f: &mut Fields<'_, W>) -> io::Result<()> {
    f.head(e.rule_name.as_deref(), e.time)?;
    f.put("ImageLoaded", or_none(&e.image_loaded))?;
    f.hashes(file_facts(e.file.as_ref()))?;
    let (signed, status) = e.signature.sysmon_fields();
    f.put("Signed", signed)?;
    f.put("SignatureStatus", status)?;
    f.not_enriched(e.file.as_ref())
}

/// `2024-07-19 04:09:00.123`: UTC, milliseconds truncated, as Sysmon writes `UtcTime`.
pub fn utc_time(filetime: u64) -> Option<String> {
    let full = rfc3339(filetime)?; // 2024-07-19T04:09:00.1234567Z
    Some(format!("{} {}", full.get(..10)?, full.get(11..23)?))
}

fn utc_or_note(time: u64) -> String {
    utc_time(time).unwrap_or_else(|| format!("Incorrect filetime: {time:#x}"))
}

fn or_none(value: &Option<String>) -> &str {
    value.as_deref().filter(|v| !v.is_empty()).unwrap_or(NONE)
}

fn file_facts(file: Option<&FileEnrichment>) -> Option<&FileFacts> {
    match file? {
        FileEnrichment::Done(outcome) => outcome.as_ref().as_ref().ok(),
        FileEnrichment::NotEnriched(_) => None,
    }
}

struct Fields<'o, W: Write + ?Sized> {
    out: &'o mut W,
}

impl<W: Write + ?Sized> Fields<'_, W> {
    fn put(&mut self, name: &str, value: &str) -> io::Result<()> {
        write!(self.out, ",\"{name}\":")?;
        Ok(serde_json::to_writer(&mut *self.out, value)?)
    }

    /// RuleName, UtcTime.
    fn head(&mut self, rule_name: Option<&str>, time: u64) -> io::Result<()> {
        self.put("RuleName", rule_name.filter(|r| !r.is_empty()).unwrap_or(NONE))?;
        self.put("UtcTime", &utc_or_note(time))
    }

    /// FileVersion, Description, Product, Company, OriginalFileName.
    fn version(&mut self, facts: Option<&FileFacts>) -> io::Result<()> {
        let info = facts
            .and_then(|f| f.pe.as_ref().ok())
            .and_then(|pe| pe.version.as_ref().ok())
            .and_then(Option::as_ref);
        let get = |pick: fn(&crate::enrich::pe::VersionInfo) -> &Option<String>| {
            info.map_or(NONE, |i| or_none(pick(i)))
        };
        self.put("FileVersion", get(|i| &i.file_version))?;
        self.put("Description", get(|i| &i.description))?;
        self.put("Product", get(|i| &i.product))?;
        self.put("Company", get(|i| &i.company))?;
        self.put("OriginalFileName", get(|i| &i.original_file_name))
    }

    fn hashes(&mut self, facts: Option<&FileFacts>) -> io::Result<()> {
        let hashes = facts.and_then(|f| f.hashes.sysmon_form());
        self.put("Hashes", hashes.as_deref().unwrap_or(NONE))
    }

    /// `RingfenceNotEnriched`, only when the file's identity is missing.
    fn not_enriched(&mut self, file: Option<&FileEnrichment>) -> io::Result<()> {
        match file {
            Some(FileEnrichment::NotEnriched(why)) => self.put("RingfenceNotEnriched", why.as_str()),
            Some(FileEnrichment::Done(outcome)) => match outcome.as_ref() {
                Err(failure) => self.put("RingfenceNotEnriched", &failure.to_string()),
                Ok(_) => Ok(()),
            },
            None => Ok(()),
        }
    }
}
