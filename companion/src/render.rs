//! One decoded record to one ECS JSON object, or to one row of the human table.
//! The ECS name of every schema field comes from the schema (`FieldDef::ecs`);
//! this module adds only what the schema cannot know (event.*, host, ids).

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;

use ringfence_wire::schema::field;
use ringfence_wire::{EventKind, Fields, Record, Text, Value};
use serde_json::Value as Json;

use crate::doc::{Doc, Leaf};
use crate::text;
use crate::time::rfc3339;

/// The ECS version the output follows.
pub const ECS_VERSION: &str = "8.11.0";

/// How many live processes the renderer remembers for `process.entity_id`.
const MAX_TRACKED_PROCESSES: usize = 1 << 16;

/// The machine the events come from, for the `host.*` fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    pub name: String,
}

impl Host {
    /// This machine: `COMPUTERNAME` on Windows, `HOSTNAME` or `/etc/hostname` elsewhere.
    pub fn local() -> Self {
        let name = std::env::var("COMPUTERNAME")
            .or_else(|_| std::env::var("HOSTNAME"))
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok().map(|s| s.trim().to_owned()))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_owned());
        Host { name }
    }
}

/// The ECS classification of each kind: (event.category, event.type, event.action).
pub fn classification(kind: EventKind) -> (&'static [&'static str], &'static [&'static str], &'static str) {
    match kind {
        EventKind::ProcessStart => (&["process"], &["start"], "process_start"),
        EventKind::ProcessExit => (&["process"], &["end"], "process_exit"),
        EventKind::ImageLoad => (&["library"], &["start"], "image_load"),
        EventKind::LostEvents => (&["driver"], &["info"], "lost_events"),
        EventKind::ContentChanged => (&["configuration", "driver"], &["change"], "content_changed"),
    }
}

/// `process.entity_id` of a process: its creation time and its per-boot start
/// key, 32 hex digits, unique on one host across boots and pid reuse.
pub fn entity_id(create_time: u64, start_key: u64) -> String {
    format!("{create_time:016x}{start_key:016x}")
}

/// Renders records, remembering which live process each pid stands for so
/// that exits and image loads carry the `process.entity_id` of their start.
#[derive(Debug)]
pub struct Renderer {
    host_name: Arc<str>,
    processes: HashMap<u32, String>,
}

impl Renderer {
    pub fn new(host: Host) -> Self {
        Renderer { host_name: Arc::from(host.name), processes: HashMap::new() }
    }

    /// The ECS document for `record`; updates the process table.
    pub fn json(&mut self, record: &Record<'_>) -> Json {
        self.doc(record).into_json()
    }

    /// The ECS document for `record`, ready to write; updates the process table.
    pub fn doc(&mut self, record: &Record<'_>) -> Doc {
        let kind = record.kind();
        let (category, ty, action) = classification(kind);
        let mut doc = Doc::default();
        let mut escaped = Vec::new();
        doc.put("@timestamp", time_leaf(record.timestamp()));
        doc.put("ecs.version", Leaf::Static(ECS_VERSION));
        doc.put("event.kind", Leaf::Static("event"));
        doc.put("event.category", Leaf::Statics(category));
        doc.put("event.type", Leaf::Statics(ty));
        doc.put("event.action", Leaf::Static(action));
        doc.put("event.module", Leaf::Static("ringfence"));
        doc.put("event.sequence", Leaf::U64(record.sequence()));
        doc.put("host.name", Leaf::Shared(Arc::clone(&self.host_name)));
        doc.put("host.hostname", Leaf::Shared(Arc::clone(&self.host_name)));
        doc.put("host.os.type", Leaf::Static("windows"));
        doc.put("host.os.family", Leaf::Static("windows"));
        doc.put("agent.type", Leaf::Static("ringfence"));
        doc.put("agent.version", Leaf::Static(env!("CARGO_PKG_VERSION")));
        for (index, def) in (0u8..).zip(record.def().fields) {
            let Some(value) = record.field(index) else { continue };
            // The driver sends an empty string for "absent"; ECS leaves absent fields out.
            if value.as_text().is_some_and(|t| t.is_empty()) {
                continue;
            }
            doc.put(def.ecs, json_value(value, def.ecs, &mut escaped));
        }
        self.add_derived(record, &mut doc, &mut escaped);
        if !escaped.is_empty() {
            doc.put("ringfence.escaped", Leaf::List(escaped));
        }
        doc
    }

    /// Updates the process table for `record` and returns the entity ids it
    /// refers to: (its process, its parent). Both JSON and table rendering
    /// call it, so switching format changes nothing else.
    pub fn track(&mut self, record: &Record<'_>) -> (Option<String>, Option<String>) {
        let u32_of = |i: u8| record.field(i).and_then(|v| v.as_u64()).and_then(|v| u32::try_from(v).ok());
        let u64_of = |i: u8| record.field(i).and_then(|v| v.as_u64()).unwrap_or(0);
        match record.kind() {
            EventKind::ProcessStart => {
                use field::ProcessStart as F;
                let pid = u32_of(F::pid as u8).unwrap_or(0);
                let id = entity_id(u64_of(F::create_time as u8), u64_of(F::start_key as u8));
                let parent = u32_of(F::parent_pid as u8).and_then(|p| self.processes.get(&p)).cloned();
                if self.processes.len() < MAX_TRACKED_PROCESSES || self.processes.contains_key(&pid) {
                    self.processes.insert(pid, id.clone());
                }
                (Some(id), parent)
            }
            EventKind::ProcessExit => {
                (u32_of(field::ProcessExit::pid as u8).and_then(|p| self.processes.remove(&p)), None)
            }
            EventKind::ImageLoad => {
                (u32_of(field::ImageLoad::pid as u8).and_then(|p| self.processes.get(&p)).cloned(), None)
            }
            EventKind::LostEvents | EventKind::ContentChanged => (None, None),
        }
    }

    /// Fields derived from others: names from paths, entity ids, outcome.
    fn add_derived(&mut self, record: &Record<'_>, doc: &mut Doc, escaped: &mut Vec<&'static str>) {
        let (own, parent) = self.track(record);
        if let Some(id) = own {
            doc.put("process.entity_id", Leaf::Str(id));
        }
        if let Some(id) = parent {
            doc.put("process.parent.entity_id", Leaf::Str(id));
        }
        let text_of = |i: u8| record.field(i).and_then(|v| v.as_text());
        match record.kind() {
            EventKind::ProcessStart => {
                if let Some(image) = text_of(field::ProcessStart::image_path as u8) {
                    put_name(doc, "process.name", image, escaped);
                }
            }
            EventKind::ImageLoad => {
                if let Some(path) = text_of(field::ImageLoad::image_path as u8) {
                    put_name(doc, "dll.name", path, escaped);
                }
            }
            EventKind::ContentChanged => {
                let accepted = record.field(field::ContentChanged::accepted as u8) == Some(Value::Bool(true));
                doc.put("event.outcome", Leaf::Static(if accepted { "success" } else { "failure" }));
            }
            EventKind::ProcessExit | EventKind::LostEvents => {}
        }
    }

    /// Writes `record` as one JSON line.
    pub fn write_json<W: Write + ?Sized>(&mut self, record: &Record<'_>, out: &mut W) -> io::Result<()> {
        self.doc(record).write(out)?;
        out.write_all(b"\n")
    }

    /// Writes the header of the human table.
    pub fn write_table_header<W: Write + ?Sized>(out: &mut W) -> io::Result<()> {
        writeln!(out, "{:<28} {:>8} {:<15} {:>6}  DETAILS", "TIME (UTC)", "SEQ", "EVENT", "PID")
    }

    /// Writes `record` as one row of the human table.
    pub fn write_table_row<W: Write + ?Sized>(&mut self, record: &Record<'_>, out: &mut W) -> io::Result<()> {
        self.track(record);
        let time = rfc3339(record.timestamp()).unwrap_or_else(|| format!("filetime {}", record.timestamp()));
        let pid = record
            .field(0)
            .filter(|_| record.def().fields.first().is_some_and(|f| f.name == "pid"))
            .and_then(|v| v.as_u64())
            .map_or_else(|| "-".to_owned(), |p| p.to_string());
        let details = table_details(record);
        writeln!(out, "{time:<28} {:>8} {:<15} {pid:>6}  {details}", record.sequence(), record.kind().name())
    }
}

/// The DETAILS column: the fields a person looks at first, one line, no control characters.
fn table_details(record: &Record<'_>) -> String {
    let t = |i: u8| record.field(i).and_then(|v| v.as_text()).map(|t| printable(t)).unwrap_or_default();
    let n = |i: u8| record.field(i).and_then(|v| v.as_u64()).unwrap_or(0);
    let mut line = match record.kind() {
        EventKind::ProcessStart => {
            use field::ProcessStart as F;
            format!(
                "ppid {} {} [{}]",
                n(F::parent_pid as u8),
                t(F::image_path as u8),
                t(F::command_line as u8)
            )
        }
        EventKind::ProcessExit => format!("exit status {:#010x}", n(field::ProcessExit::exit_status as u8)),
        EventKind::ImageLoad => {
            use field::ImageLoad as F;
            let kernel = if n(F::kernel_image as u8) == 1 { " (kernel)" } else { "" };
            format!("{} at {:#x}{kernel}", t(F::image_path as u8), n(F::image_base as u8))
        }
        EventKind::LostEvents => {
            use field::LostEvents as F;
            format!(
                "{} events lost (sequence {}..={})",
                n(F::count as u8),
                n(F::first_sequence as u8),
                n(F::last_sequence as u8)
            )
        }
        EventKind::ContentChanged => {
            use field::ContentChanged as F;
            let reason = u32::try_from(n(F::reason as u8)).unwrap_or(u32::MAX);
            let offset = u32::try_from(n(F::offset as u8)).unwrap_or(u32::MAX);
            let trust = ringfence_trust::reason::is_trust_reason(reason)
                .then(|| ringfence_trust::Reason::from_wire(reason, offset, [0; 4]))
                .flatten();
            if let Some(trust) = trust {
                let verdict = if n(F::accepted as u8) == 1 { "taken" } else { "not loaded" };
                format!(
                    "content version {} {verdict}: {trust}; version {} active",
                    n(F::content_version as u8),
                    n(F::active_version as u8)
                )
            } else if n(F::accepted as u8) == 1 {
                format!("content version {} accepted", n(F::content_version as u8))
            } else {
                format!(
                    "content version {} rejected (reason {} at byte {}); version {} stays active",
                    n(F::content_version as u8),
                    n(F::reason as u8),
                    n(F::offset as u8),
                    n(F::active_version as u8)
                )
            }
        }
    };
    if let Some(rule) = record.def().field_index("rule_name").map(t).filter(|r| !r.is_empty()) {
        line.push_str(" rule=");
        line.push_str(&rule);
    }
    line
}

/// Text for a terminal: the rendered form with control characters escaped.
fn printable(text: Text<'_>) -> String {
    let rendered = text::render(text).value;
    rendered
        .chars()
        .flat_map(|c| if c.is_control() { c.escape_default().collect::<Vec<_>>() } else { vec![c] })
        .collect()
}

fn time_leaf(filetime: u64) -> Leaf {
    rfc3339(filetime).map_or(Leaf::Null, Leaf::Str)
}

fn json_value(value: Value<'_>, ecs: &'static str, escaped: &mut Vec<&'static str>) -> Leaf {
    match value {
        Value::U32(v) => Leaf::U64(u64::from(v)),
        Value::U64(v) => Leaf::U64(v),
        Value::Bool(v) => Leaf::Bool(v),
        Value::Time(v) => time_leaf(v),
        Value::Str(t) => {
            let r = text::render(t);
            if r.escaped {
                escaped.push(ecs);
            }
            Leaf::Str(r.value)
        }
    }
}

/// Puts the last path component of `path` (after the last backslash) at `ecs`.
fn put_name(doc: &mut Doc, ecs: &'static str, path: Text<'_>, escaped: &mut Vec<&'static str>) {
    let units: Vec<u16> = path.units().collect();
    let start = units.iter().rposition(|u| *u == u16::from(b'\\')).map_or(0, |i| i.saturating_add(1));
    let name = units.get(start..).unwrap_or_default();
    doc.put(ecs, json_value(Value::Str(Text::wide(name)), ecs, escaped));
}
