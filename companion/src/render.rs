//! One decoded record to one ECS JSON object, or to one row of the human table.
//! The ECS name of every schema field comes from the schema (`FieldDef::ecs`);
//! this module adds only what the schema cannot know (event.*, host, ids).

use std::io::{self, Write};
use std::sync::Arc;

use ringfence_wire::schema::field;
use ringfence_wire::{EventKind, FieldDef, Fields, KindDef, Record, Text, Value};
use serde_json::Value as Json;

use crate::doc::{Doc, Leaf};
use crate::enrich::process_guid::HostIdentity;
use crate::enrich::stage::{Enrichment, PathForms};
use crate::enriched;
use crate::text;
use crate::time::rfc3339;

/// The ECS version the output follows.
pub const ECS_VERSION: &str = "8.11.0";

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

/// `process.entity_id` of a process: its ProcessGuid's 32 hex digits, from
/// the host identity and the process's start key (`PsGetProcessStartKey`,
/// which embeds the boot id). Unique across pid reuse and reboots on one host,
/// and across hosts; the same process gets the same id in its start, its image
/// loads, its exit and as the parent of its children, and the same digits as
/// its Sysmon-shaped `ProcessGuid`.
pub fn entity_id(host: HostIdentity, start_key: u64) -> String {
    host.process_guid(start_key).hex()
}

/// Renders records. Stateless apart from the host: every id a record refers
/// to is computed from the start keys the driver put in it.
#[derive(Debug)]
pub struct Renderer {
    host_name: Arc<str>,
    identity: HostIdentity,
}

impl Renderer {
    /// A renderer whose host identity is the host name (in lower case).
    pub fn new(host: Host) -> Self {
        let identity = HostIdentity::from_host_name(&host.name);
        Renderer::with_identity(host, identity)
    }

    /// A renderer for a host of known identity (`MachineGuid`, the scenario's).
    pub fn with_identity(host: Host, identity: HostIdentity) -> Self {
        Renderer { identity, host_name: Arc::from(host.name) }
    }

    pub fn host_name(&self) -> &str {
        &self.host_name
    }

    /// The ECS document for `record`; updates the process table.
    pub fn json(&mut self, record: &Record<'_>) -> Json {
        self.doc(record).into_json()
    }

    /// The ECS document for `record`, ready to write.
    pub fn doc(&mut self, record: &Record<'_>) -> Doc {
        self.doc_with(record, None)
    }

    /// The ECS document for `record` with what enrichment added to it.
    pub fn doc_with(&mut self, record: &Record<'_>, enrichment: Option<&Enrichment>) -> Doc {
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
            // An absent value is left out, as ECS does for unknown values.
            let Some(value) = record.field(index) else { continue };
            // An empty string (no command line, no matching rule) is left out too, and so
            // is a verdict that says nothing: no rule ids, no rest beyond them.
            if value.as_text().is_some_and(|t| t.is_empty()) || silent_verdict(def, value) {
                continue;
            }
            if def.truncation {
                if let Some(names) = truncated_names(record.def(), value) {
                    doc.put(def.ecs, Leaf::List(names));
                }
                continue;
            }
            doc.put(def.ecs, json_value(value, def.ecs, &mut escaped));
        }
        self.add_derived(record, &mut doc, &mut escaped);
        if let Some(enrichment) = enrichment {
            crate::enriched::put_ecs(record, enrichment, &mut doc, &mut escaped);
        }
        if !escaped.is_empty() {
            doc.put("ringfence.escaped", Leaf::List(escaped));
        }
        doc
    }

    /// The entity ids `record` refers to: (its process, its parent), from the
    /// start keys it carries. Absent when the driver could not name the process.
    pub fn entity_ids(&self, record: &Record<'_>) -> (Option<String>, Option<String>) {
        let key = |i: u8| record.field(i).and_then(|v| v.as_u64());
        let id = |key: Option<u64>| key.map(|k| entity_id(self.identity, k));
        match record.kind() {
            EventKind::ProcessStart => {
                use field::ProcessStart as F;
                (id(key(F::start_key as u8)), id(key(F::parent_start_key as u8)))
            }
            EventKind::ProcessExit => (id(key(field::ProcessExit::start_key as u8)), None),
            EventKind::ImageLoad => (id(key(field::ImageLoad::process_start_key as u8)), None),
            EventKind::LostEvents | EventKind::ContentChanged => (None, None),
        }
    }

    /// Fields derived from others: names from paths, entity ids, outcome.
    fn add_derived(&self, record: &Record<'_>, doc: &mut Doc, escaped: &mut Vec<&'static str>) {
        let (own, parent) = self.entity_ids(record);
        if let Some(id) = own {
            doc.put("process.entity_id", Leaf::Str(id));
        }
        if let Some(id) = parent {
            doc.put("process.parent.entity_id", Leaf::Str(id));
        }
        let text_of = |i: u8| record.field(i).and_then(|v| v.as_text());
        let name = |doc: &mut Doc, escaped: &mut Vec<&'static str>, ecs, i: u8| {
            if let Some(path) = text_of(i) {
                put_name(doc, ecs, path, escaped);
            }
        };
        match record.kind() {
            EventKind::ProcessStart => {
                use field::ProcessStart as F;
                name(doc, escaped, "process.name", F::image_path as u8);
                name(doc, escaped, "process.parent.name", F::parent_image_path as u8);
            }
            EventKind::ProcessExit => {
                name(doc, escaped, "process.name", field::ProcessExit::image_path as u8)
            }
            EventKind::ImageLoad => {
                use field::ImageLoad as F;
                name(doc, escaped, "dll.name", F::image_path as u8);
                name(doc, escaped, "process.name", F::process_image_path as u8);
            }
            EventKind::ContentChanged => {
                let accepted = record.field(field::ContentChanged::accepted as u8) == Some(Value::Bool(true));
                doc.put("event.outcome", Leaf::Static(if accepted { "success" } else { "failure" }));
            }
            EventKind::LostEvents => {}
        }
    }

    /// Writes `record` as one JSON line.
    pub fn write_json<W: Write + ?Sized>(&mut self, record: &Record<'_>, out: &mut W) -> io::Result<()> {
        self.write_json_with(record, None, out)
    }

    /// Writes `record` with its enrichment as one JSON line.
    pub fn write_json_with<W: Write + ?Sized>(
        &mut self,
        record: &Record<'_>,
        enrichment: Option<&Enrichment>,
        out: &mut W,
    ) -> io::Result<()> {
        self.doc_with(record, enrichment).write(out)?;
        out.write_all(b"\n")
    }

    /// Writes the header of the human table.
    pub fn write_table_header<W: Write + ?Sized>(out: &mut W) -> io::Result<()> {
        writeln!(out, "{:<28} {:>8} {:<15} {:>6}  DETAILS", "TIME (UTC)", "SEQ", "EVENT", "PID")
    }

    /// Writes `record` as one row of the human table.
    pub fn write_table_row<W: Write + ?Sized>(&mut self, record: &Record<'_>, out: &mut W) -> io::Result<()> {
        self.write_table_row_with(record, None, out)
    }

    /// Writes `record` with its enrichment as one row of the human table.
    pub fn write_table_row_with<W: Write + ?Sized>(
        &mut self,
        record: &Record<'_>,
        enrichment: Option<&Enrichment>,
        out: &mut W,
    ) -> io::Result<()> {
        let time = rfc3339(record.timestamp()).unwrap_or_else(|| format!("filetime {}", record.timestamp()));
        let pid = record
            .field(0)
            .filter(|_| record.def().fields.first().is_some_and(|f| f.name == "pid"))
            .and_then(|v| v.as_u64())
            .map_or_else(|| "-".to_owned(), |p| p.to_string());
        let details = table_details(record, enrichment);
        writeln!(out, "{time:<28} {:>8} {:<15} {pid:>6}  {details}", record.sequence(), record.kind().name())
    }
}

/// The DETAILS column: the fields a person looks at first, one line, no control
/// characters. A process start reads `image [command line] user … integrity …
/// <- parent (ppid) user …`; a record with rule ids ends in `matched=…` and
/// `undecided=…` (the rest beyond the record's list as `+N`).
pub fn table_details(record: &Record<'_>, e: Option<&Enrichment>) -> String {
    let t = |i: u8| record.field(i).and_then(|v| v.as_text()).map(|t| printable(t)).unwrap_or_default();
    let n = |i: u8| record.field(i).and_then(|v| v.as_u64()).unwrap_or(0);
    let path = |forms: Option<&PathForms>, i: u8| printable_str(&enriched::table_path(record, forms, i));
    let mut line = match record.kind() {
        EventKind::ProcessStart => {
            use field::ProcessStart as F;
            let mut line = format!(
                "{} [{}]",
                path(e.and_then(|e| e.image.as_ref()), F::image_path as u8),
                t(F::command_line as u8)
            );
            if let Some(user) = enriched::table_user(record, e, F::user_sid as u8).filter(|u| !u.is_empty()) {
                line.push_str(&format!(" user {}", printable_str(&user)));
            }
            if let Some(rid) = record.field(F::integrity_level as u8).and_then(|v| v.as_u64()) {
                line.push_str(&format!(" integrity {}", integrity_name(rid)));
            }
            let parent = path(e.and_then(|e| e.parent_image.as_ref()), F::parent_image_path as u8);
            let parent_name = parent.rsplit('\\').next().filter(|n| !n.is_empty()).unwrap_or("?");
            line.push_str(&format!(" <- {parent_name} ({})", n(F::parent_pid as u8)));
            let parent_user = e.and_then(|e| e.parent_user.as_ref()).map(ToString::to_string).or_else(|| {
                record.field(F::parent_user_sid as u8).and_then(|v| v.as_text()).map(|t| printable(t))
            });
            if let Some(user) = parent_user.filter(|u| !u.is_empty()) {
                line.push_str(&format!(" user {}", printable_str(&user)));
            }
            line
        }
        EventKind::ProcessExit => {
            use field::ProcessExit as F;
            let image = path(e.and_then(|e| e.image.as_ref()), F::image_path as u8);
            let name = image.rsplit('\\').next().unwrap_or_default();
            let mut line = format!("exit status {:#010x}", n(F::exit_status as u8));
            if !name.is_empty() {
                line = format!("{name} {line}");
            }
            if let Some(user) = enriched::table_user(record, e, F::user_sid as u8).filter(|u| !u.is_empty()) {
                line.push_str(&format!(" user {}", printable_str(&user)));
            }
            line
        }
        EventKind::ImageLoad => {
            use field::ImageLoad as F;
            let kernel = if n(F::kernel_image as u8) == 1 { " (kernel)" } else { "" };
            let mut line = format!(
                "{} at {:#x}{kernel}",
                path(e.and_then(|e| e.image.as_ref()), F::image_path as u8),
                n(F::image_base as u8)
            );
            let process = path(e.and_then(|e| e.process_image.as_ref()), F::process_image_path as u8);
            if let Some(name) = process.rsplit('\\').next().filter(|n| !n.is_empty()) {
                line.push_str(&format!(" into {name}"));
            }
            line
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
    for (label, list, rest) in
        [(" matched=", "matched_ids", "matched_rest"), (" undecided=", "undecided_ids", "undecided_rest")]
    {
        if let Some(ids) = table_ids(record, list, rest) {
            line.push_str(label);
            line.push_str(&ids);
        }
    }
    line
}

/// A verdict's rule ids as the table shows them, `3,17`, or `50,51,…,57+4` with
/// the count of the rest; `None` when the list is empty and nothing is beyond it.
fn table_ids(record: &Record<'_>, list: &str, rest: &str) -> Option<String> {
    let field = |name: &str| record.def().field_index(name).and_then(|i| record.field(i));
    let ids: Vec<String> = match field(list) {
        Some(Value::Ids(ids)) => ids.iter().map(|id| id.to_string()).collect(),
        _ => Vec::new(),
    };
    let rest = field(rest).and_then(|v| v.as_u64()).unwrap_or(0);
    match (ids.is_empty(), rest) {
        (true, 0) => None,
        (_, 0) => Some(ids.join(",")),
        _ => Some(format!("{}+{rest}", ids.join(","))),
    }
}

/// Whether `value` is a verdict field's empty id list or zero count (format-1
/// content, no content, or simply nothing matched).
fn silent_verdict(def: &FieldDef, value: Value<'_>) -> bool {
    !def.matchable
        && match value {
            Value::Ids(ids) => ids.is_empty(),
            Value::U32(n) => n == 0,
            _ => false,
        }
}

/// The ECS names of the fields a `truncated` value marks, in field order;
/// `None` when it marks none.
fn truncated_names(def: &'static KindDef, value: Value<'_>) -> Option<Vec<&'static str>> {
    let bits = value.as_u64().filter(|b| *b != 0)?;
    Some(
        (0u8..)
            .zip(def.fields)
            .filter(|(i, _)| bits.checked_shr(u32::from(*i)).unwrap_or(0) & 1 == 1)
            .map(|(_, f)| f.ecs)
            .collect(),
    )
}

/// A mandatory label RID as a person reads it in the table (the exact RID when
/// it is not one of the named levels).
fn integrity_name(rid: u64) -> String {
    match rid {
        0 => "untrusted".into(),
        0x1000 => "low".into(),
        0x2000 => "medium".into(),
        0x2100 => "medium+".into(),
        0x3000 => "high".into(),
        0x4000 => "system".into(),
        0x5000 => "protected".into(),
        other => format!("{other:#x}"),
    }
}

/// Text for a terminal: the rendered form with control characters escaped.
fn printable(text: Text<'_>) -> String {
    printable_str(&text::render(text).value)
}

fn printable_str(rendered: &str) -> String {
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
        Value::Ids(ids) => Leaf::U64s(ids.iter().map(u64::from).collect()),
    }
}

/// Puts the last path component of `path` (after the last backslash) at `ecs`.
fn put_name(doc: &mut Doc, ecs: &'static str, path: Text<'_>, escaped: &mut Vec<&'static str>) {
    let units: Vec<u16> = path.units().collect();
    let start = units.iter().rposition(|u| *u == u16::from(b'\\')).map_or(0, |i| i.saturating_add(1));
    let name = units.get(start..).unwrap_or_default();
    doc.put(ecs, json_value(Value::Str(Text::wide(name)), ecs, escaped));
}
