//! A record with what the enrichment stage added, in each output's terms: the
//! ECS fields (`put_ecs`), Sysmon's event (`sysmon_event`), and the words of
//! the table. Every name is written here once; a field added to records later
//! gets one line per output.

use ringfence_wire::schema::field;
use ringfence_wire::{EventKind, Fields, Record, Text};

use crate::doc::{Doc, Leaf};
use crate::enrich::account::Account;
use crate::enrich::file::FileFacts;
use crate::enrich::files::FileEnrichment;
use crate::enrich::stage::{Enrichment, PathForms};
use crate::enrich::token::IntegrityLevel;
use crate::sysmon::{self, EnrichedEvent, ImageSignature};
use crate::text;

/// Every name the enrichment stage writes in ECS documents, with what it
/// holds: the table of ECS.md is generated from this list, and a test checks
/// that the golden output writes no other.
pub const ECS_FIELDS: &[(&str, &str)] = &[
    (
        "process.executable",
        "The image path in DOS form (`C:\\…`), replacing the NT form when a rule or the volume map converts it.",
    ),
    ("ringfence.process.executable_nt", "The NT form the kernel gave, when the DOS form differs."),
    ("process.parent.executable", "The parent's image path in DOS form."),
    ("ringfence.process.parent.executable_nt", "The parent's NT form, when the DOS form differs."),
    ("dll.path", "The loaded image's path in DOS form."),
    ("ringfence.dll.path_nt", "The loaded image's NT form, when the DOS form differs."),
    ("user.id", "The event's user SID (as `process.user.id`)."),
    ("user.name", "The account name, without its domain (`ana.silva`)."),
    (
        "user.domain",
        "The account's domain (`FINANCE`, `NT AUTHORITY`); left out for names without one (`Everyone`).",
    ),
    ("process.user.name", "The user as `DOMAIN\\user`, the form Sysmon's `User` has."),
    ("process.parent.user.name", "The parent's user as `DOMAIN\\user`."),
    (
        "ringfence.process.integrity_level_name",
        "The integrity level by Sysmon's name: `Low`, `Medium`, `High`, `System`, …",
    ),
    (
        "process.hash.sha256",
        "SHA-256 of the process's image file, lower-case hex (also `sha1`, `md5` when chosen).",
    ),
    ("process.hash.sha1", "SHA-1 of the image file, when chosen."),
    ("process.hash.md5", "MD5 of the image file, when chosen."),
    (
        "process.pe.imphash",
        "IMPHASH (pefile's definition) of the image, when chosen and it imports anything.",
    ),
    (
        "ringfence.process.hashes",
        "The chosen hashes in Sysmon's form, `SHA256=…,IMPHASH=…` (upper-case hex).",
    ),
    ("process.pe.original_file_name", "`OriginalFilename` of the image's version resource."),
    ("process.pe.file_version", "`FileVersion` of the version resource (the string, as Sysmon shows it)."),
    ("process.pe.description", "`FileDescription` of the version resource."),
    ("process.pe.product", "`ProductName` of the version resource."),
    ("process.pe.company", "`CompanyName` of the version resource."),
    ("dll.hash.sha256", "SHA-256 of the loaded image's file (also `sha1`, `md5` when chosen)."),
    ("dll.hash.sha1", "SHA-1 of the loaded image's file, when chosen."),
    ("dll.hash.md5", "MD5 of the loaded image's file, when chosen."),
    ("dll.pe.imphash", "IMPHASH of the loaded image, when chosen and it imports anything."),
    ("ringfence.dll.hashes", "The loaded image's hashes in Sysmon's form."),
    ("dll.pe.original_file_name", "`OriginalFilename` of the loaded image's version resource."),
    ("dll.pe.file_version", "`FileVersion` of the loaded image's version resource."),
    ("dll.pe.description", "`FileDescription` of the loaded image's version resource."),
    ("dll.pe.product", "`ProductName` of the loaded image's version resource."),
    ("dll.pe.company", "`CompanyName` of the loaded image's version resource."),
    (
        "dll.code_signature.exists",
        "Whether code integrity found the image signed (`signature_level` above unsigned); left out when it did not check.",
    ),
    (
        "dll.code_signature.status",
        "`Valid` for a validated signature, `Unavailable` for an unsigned image (Sysmon's `SignatureStatus`).",
    ),
    (
        "ringfence.not_enriched.file",
        "Why the image file's identity is missing: `timed_out`, `busy` (workers' queue full), `no_dos_path`, `file not found`, `access denied or locked`, …",
    ),
    (
        "ringfence.not_enriched.user",
        "Why the user has no name: `not found`, `timed out`, `lookup queue full`, `lookup failed (error N)`.",
    ),
    // The Sigma stage (crate::detection): every rule that matched the enriched event.
    (
        "rule.id",
        "The `id` of each Sigma rule that matched (one string, or an array in rule order when several did).",
    ),
    (
        "rule.name",
        "The `title` of each Sigma rule that matched, in the same order; without a Sigma match, the content's include rule.",
    ),
    ("rule.ruleset", "`sigma` when Sigma rules matched."),
    (
        "ringfence.rule.level",
        "The Sigma `level` of each matched rule, in the same order (`informational` … `critical`; `none` when the rule has none): ECS has no rule severity field.",
    ),
    (
        "ringfence.content_rule.name",
        "The content's include rule that kept the event, when Sigma rules matched too (their titles take `rule.name`).",
    ),
    ("threat.framework", "`MITRE ATT&CK` when a matched rule carries ATT&CK tags."),
    (
        "threat.technique.id",
        "ATT&CK technique ids of the matched rules' tags (`attack.t1059.001` → `T1059.001`), each once.",
    ),
    (
        "threat.tactic.name",
        "ATT&CK tactic names of the matched rules' tags (`attack.defense-evasion` → `Defense Evasion`), each once.",
    ),
    ("threat.tactic.id", "The ids of those tactics (`TA0005`)."),
];

/// The ECS names of one image's file identity: the process's or the DLL's.
struct FileNames {
    sha256: &'static str,
    sha1: &'static str,
    md5: &'static str,
    imphash: &'static str,
    /// Sysmon's `SHA256=…,IMPHASH=…` form (the schema's companion field).
    sysmon_hashes: &'static str,
    original_file_name: &'static str,
    file_version: &'static str,
    description: &'static str,
    product: &'static str,
    company: &'static str,
}

const PROCESS_FILE: FileNames = FileNames {
    sha256: "process.hash.sha256",
    sha1: "process.hash.sha1",
    md5: "process.hash.md5",
    imphash: "process.pe.imphash",
    sysmon_hashes: "ringfence.process.hashes",
    original_file_name: "process.pe.original_file_name",
    file_version: "process.pe.file_version",
    description: "process.pe.description",
    product: "process.pe.product",
    company: "process.pe.company",
};

const DLL_FILE: FileNames = FileNames {
    sha256: "dll.hash.sha256",
    sha1: "dll.hash.sha1",
    md5: "dll.hash.md5",
    imphash: "dll.pe.imphash",
    sysmon_hashes: "ringfence.dll.hashes",
    original_file_name: "dll.pe.original_file_name",
    file_version: "dll.pe.file_version",
    description: "dll.pe.description",
    product: "dll.pe.product",
    company: "dll.pe.company",
};

/// (DOS path's ECS name, NT path's ECS name) of each path an event names.
const PROCESS_EXECUTABLE: (&str, &str) = ("process.executable", "ringfence.process.executable_nt");
const PARENT_EXECUTABLE: (&str, &str) =
    ("process.parent.executable", "ringfence.process.parent.executable_nt");
const DLL_PATH: (&str, &str) = ("dll.path", "ringfence.dll.path_nt");

/// Adds what `e` holds for `record` to its ECS document: paths in DOS form
/// (the NT form moved to its `_nt` field when they differ), users, the
/// integrity level's name, the image file's identity, and why any is missing.
pub fn put_ecs(record: &Record<'_>, e: &Enrichment, doc: &mut Doc, escaped: &mut Vec<&'static str>) {
    let text_of = |i: u8| record.field(i).and_then(|v| v.as_text());
    match record.kind() {
        EventKind::ProcessStart => {
            use field::ProcessStart as F;
            put_path(doc, escaped, PROCESS_EXECUTABLE, text_of(F::image_path as u8), e.image.as_ref());
            put_path(
                doc,
                escaped,
                PARENT_EXECUTABLE,
                text_of(F::parent_image_path as u8),
                e.parent_image.as_ref(),
            );
            put_user(doc, e.user.as_ref(), text_of(F::user_sid as u8), "process.user.name", true);
            put_user(doc, e.parent_user.as_ref(), None, "process.parent.user.name", false);
            if let Some(level) = integrity(record) {
                doc.put(
                    "ringfence.process.integrity_level_name",
                    Leaf::Str(level.sysmon_name(false).into_owned()),
                );
            }
            put_file(doc, &PROCESS_FILE, e.file.as_ref());
        }
        EventKind::ProcessExit => {
            use field::ProcessExit as F;
            put_path(doc, escaped, PROCESS_EXECUTABLE, text_of(F::image_path as u8), e.image.as_ref());
            put_user(doc, e.user.as_ref(), text_of(F::user_sid as u8), "process.user.name", true);
        }
        EventKind::ImageLoad => {
            use field::ImageLoad as F;
            put_path(doc, escaped, DLL_PATH, text_of(F::image_path as u8), e.image.as_ref());
            put_path(
                doc,
                escaped,
                PROCESS_EXECUTABLE,
                text_of(F::process_image_path as u8),
                e.process_image.as_ref(),
            );
            put_user(doc, e.user.as_ref(), text_of(F::user_sid as u8), "process.user.name", true);
            put_file(doc, &DLL_FILE, e.file.as_ref());
            let level = record.field(F::signature_level as u8).and_then(|v| v.as_u64()).unwrap_or(0);
            let signature = ImageSignature::from_signing_level(u32::try_from(level).unwrap_or(u32::MAX));
            if signature != ImageSignature::Unchecked {
                let (signed, status) = signature.sysmon_fields();
                doc.put("dll.code_signature.exists", Leaf::Bool(signed == "true"));
                doc.put("dll.code_signature.status", Leaf::Static(status));
            }
        }
        EventKind::LostEvents | EventKind::ContentChanged => {}
    }
}

fn put_path(
    doc: &mut Doc,
    escaped: &mut Vec<&'static str>,
    (dos_name, nt_name): (&'static str, &'static str),
    nt: Option<Text<'_>>,
    forms: Option<&PathForms>,
) {
    let (Some(nt), Some(forms)) = (nt, forms) else { return };
    if !forms.converted || nt.is_empty() {
        return;
    }
    doc.put(dos_name, leaf(Text::wide(&forms.dos), dos_name, escaped));
    doc.put(nt_name, leaf(nt, nt_name, escaped));
}

fn leaf(t: Text<'_>, name: &'static str, escaped: &mut Vec<&'static str>) -> Leaf {
    let rendered = text::render(t);
    if rendered.escaped && !escaped.contains(&name) {
        escaped.push(name);
    }
    Leaf::Str(rendered.value)
}

/// The schema's `DOMAIN\user` field at `name_field`; for the event's own user
/// (`subject`) also ECS's `user.id` (the SID), `user.name` and `user.domain`,
/// or why the SID has no name.
fn put_user(
    doc: &mut Doc,
    account: Option<&Account>,
    sid: Option<Text<'_>>,
    name_field: &'static str,
    subject: bool,
) {
    if subject {
        if let Some(sid) = sid.filter(|s| !s.is_empty()) {
            doc.put("user.id", Leaf::Str(text::render(sid).value));
        }
    }
    match account {
        Some(Account::Named(name)) => {
            doc.put(name_field, Leaf::Str(name.to_string()));
            if subject {
                doc.put("user.name", Leaf::Str(name.name.clone()));
                if !name.domain.is_empty() {
                    doc.put("user.domain", Leaf::Str(name.domain.clone()));
                }
            }
        }
        Some(Account::Unnamed { why, .. }) if subject => {
            doc.put("ringfence.not_enriched.user", Leaf::Str(why.to_string()));
        }
        Some(Account::Unnamed { .. }) | None => {}
    }
}

fn put_file(doc: &mut Doc, names: &FileNames, file: Option<&FileEnrichment>) {
    match file {
        None => {}
        Some(FileEnrichment::NotEnriched(why)) => {
            doc.put("ringfence.not_enriched.file", Leaf::Static(why.as_str()))
        }
        Some(FileEnrichment::Done(outcome)) => match outcome.as_ref() {
            Err(failure) => doc.put("ringfence.not_enriched.file", Leaf::Str(failure.to_string())),
            Ok(facts) => put_facts(doc, names, facts),
        },
    }
}

fn put_facts(doc: &mut Doc, names: &FileNames, facts: &FileFacts) {
    let hex = crate::enrich::hashes::lower_hex;
    let h = &facts.hashes;
    if let Some(v) = &h.sha256 {
        doc.put(names.sha256, Leaf::Str(hex(v)));
    }
    if let Some(v) = &h.sha1 {
        doc.put(names.sha1, Leaf::Str(hex(v)));
    }
    if let Some(v) = &h.md5 {
        doc.put(names.md5, Leaf::Str(hex(v)));
    }
    if let Some(Some(v)) = &h.imphash {
        doc.put(names.imphash, Leaf::Str(hex(&v.0)));
    }
    if let Some(form) = h.sysmon_form() {
        doc.put(names.sysmon_hashes, Leaf::Str(form));
    }
    let version = facts.pe.as_ref().ok().and_then(|pe| pe.version.as_ref().ok()).and_then(Option::as_ref);
    if let Some(v) = version {
        let mut put = |name: &'static str, value: &Option<String>| {
            if let Some(value) = value.as_ref().filter(|s| !s.is_empty()) {
                doc.put(name, Leaf::Str(value.clone()));
            }
        };
        put(names.original_file_name, &v.original_file_name);
        put(names.file_version, &v.file_version);
        put(names.description, &v.description);
        put(names.product, &v.product);
        put(names.company, &v.company);
    }
}

fn integrity(record: &Record<'_>) -> Option<IntegrityLevel> {
    let rid = record.field(field::ProcessStart::integrity_level as u8)?.as_u64()?;
    Some(IntegrityLevel::from_rid(u32::try_from(rid).ok()?))
}

/// `record` as Sysmon's event 1, 5 or 7; `None` for the sensor's own records.
pub fn sysmon_event(record: &Record<'_>, e: &Enrichment) -> Option<EnrichedEvent> {
    let text = |i: u8| record.field(i).and_then(|v| v.as_text()).map(|t| text::render(t).value);
    let u64_of = |i: u8| record.field(i).and_then(|v| v.as_u64());
    let u32_of = |i: u8| u64_of(i).and_then(|v| u32::try_from(v).ok());
    let path = |forms: Option<&PathForms>, i: u8| {
        forms.map(|f| text::render(Text::wide(&f.dos)).value).or_else(|| text(i))
    };
    let user = |a: Option<&Account>| a.map(ToString::to_string);
    let rule_name = |i: u8| text(i).filter(|r| !r.is_empty());
    Some(match record.kind() {
        EventKind::ProcessStart => {
            use field::ProcessStart as F;
            EnrichedEvent::ProcessStart(sysmon::ProcessStart {
                time: u64_of(F::create_time as u8).unwrap_or(record.timestamp()),
                rule_name: rule_name(F::rule_name as u8),
                process: sysmon::Process {
                    pid: u32_of(F::pid as u8).unwrap_or(0),
                    start_key: u64_of(F::start_key as u8),
                    image: path(e.image.as_ref(), F::image_path as u8),
                    command_line: text(F::command_line as u8),
                    user: user(e.user.as_ref()).or_else(|| text(F::user_sid as u8)),
                },
                file: e.file.clone(),
                logon_id: u64_of(F::logon_id as u8),
                session_id: u32_of(F::session_id as u8),
                integrity_level: integrity(record),
                app_container: false,
                parent: Some(sysmon::Process {
                    pid: u32_of(F::parent_pid as u8).unwrap_or(0),
                    start_key: u64_of(F::parent_start_key as u8),
                    image: path(e.parent_image.as_ref(), F::parent_image_path as u8),
                    command_line: text(F::parent_command_line as u8),
                    user: user(e.parent_user.as_ref()).or_else(|| text(F::parent_user_sid as u8)),
                }),
            })
        }
        EventKind::ProcessExit => {
            use field::ProcessExit as F;
            EnrichedEvent::ProcessExit(sysmon::ProcessExit {
                time: u64_of(F::time as u8).unwrap_or(record.timestamp()),
                rule_name: rule_name(F::rule_name as u8),
                process: sysmon::Process {
                    pid: u32_of(F::pid as u8).unwrap_or(0),
                    start_key: u64_of(F::start_key as u8),
                    image: path(e.image.as_ref(), F::image_path as u8),
                    command_line: None,
                    user: user(e.user.as_ref()).or_else(|| text(F::user_sid as u8)),
                },
            })
        }
        EventKind::ImageLoad if u64_of(field::ImageLoad::kernel_image as u8) == Some(1) => {
            use field::ImageLoad as F;
            EnrichedEvent::DriverLoad(sysmon::DriverLoad {
                time: u64_of(F::time as u8).unwrap_or(record.timestamp()),
                rule_name: rule_name(F::rule_name as u8),
                image_loaded: path(e.image.as_ref(), F::image_path as u8),
                file: e.file.clone(),
                signature: ImageSignature::from_signing_level(u32_of(F::signature_level as u8).unwrap_or(0)),
            })
        }
        EventKind::ImageLoad => {
            use field::ImageLoad as F;
            EnrichedEvent::ImageLoad(sysmon::ImageLoad {
                time: u64_of(F::time as u8).unwrap_or(record.timestamp()),
                rule_name: rule_name(F::rule_name as u8),
                process: sysmon::Process {
                    pid: u32_of(F::pid as u8).unwrap_or(0),
                    start_key: u64_of(F::process_start_key as u8),
                    image: path(e.process_image.as_ref(), F::process_image_path as u8),
                    command_line: None,
                    user: user(e.user.as_ref()).or_else(|| text(F::user_sid as u8)),
                },
                image_loaded: path(e.image.as_ref(), F::image_path as u8),
                file: e.file.clone(),
                signature: ImageSignature::from_signing_level(u32_of(F::signature_level as u8).unwrap_or(0)),
            })
        }
        EventKind::LostEvents | EventKind::ContentChanged => return None,
    })
}

/// The user of the table's row: `DOMAIN\user`, else the SID the record carries.
pub fn table_user(record: &Record<'_>, e: Option<&Enrichment>, sid_field: u8) -> Option<String> {
    match e.and_then(|e| e.user.as_ref()) {
        Some(account) => Some(account.to_string()),
        None => record.field(sid_field).and_then(|v| v.as_text()).map(|t| text::render(t).value),
    }
}

/// A path for the table: its DOS form when there is one.
pub fn table_path(record: &Record<'_>, forms: Option<&PathForms>, nt_field: u8) -> String {
    match forms {
        Some(f) => text::render(Text::wide(&f.dos)).value,
        None => record
            .field(nt_field)
            .and_then(|v| v.as_text())
            .map(|t| text::render(t).value)
            .unwrap_or_default(),
    }
}
