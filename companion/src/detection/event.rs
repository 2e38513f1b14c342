//! An enriched record as Sigma reads it: every field of ringfence-detect's
//! field table ([`ringfence_detect::fields`]) in the form Sysmon writes and
//! Sigma rules compare — DOS paths, `DOMAIN\user`, Sysmon's integrity level
//! names, `0x…` logon ids, `SHA256=…,IMPHASH=…`, `true`/`false` and `Valid`.
//!
//! A value the companion could not establish is *unknown*, never a guess and
//! never a mismatch: a path whose volume the map does not know, a SID without
//! a name, an image file whose identity was late, not asked for or could not be
//! read. A value the event does not have
//! (the kernel could not read it, the image has no version resource) is
//! *absent*, Sigma's missing field.

use ringfence_detect::{EventFields, Field, FieldValue};
use ringfence_wire::schema::field;
use ringfence_wire::{EventKind, Fields, Record};

use crate::enrich::account::Account;
use crate::enrich::files::FileEnrichment;
use crate::enrich::stage::{Enrichment, PathForms};
use crate::enrich::token::IntegrityLevel;
use crate::sysmon::ImageSignature;
use crate::text;

/// One field's value, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Slot {
    Text(String),
    Integer(u64),
    Absent,
    Unknown,
}

/// A record's Sigma fields, indexed by [`Field::index`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SigmaEvent {
    kind: EventKind,
    slots: Vec<Slot>,
}

impl EventFields for SigmaEvent {
    fn kind(&self) -> EventKind {
        self.kind
    }

    fn field(&self, field: Field) -> FieldValue<'_> {
        match self.slots.get(field.index()) {
            Some(Slot::Text(text)) => FieldValue::Text(text),
            Some(Slot::Integer(n)) => FieldValue::Integer(*n),
            Some(Slot::Absent) => FieldValue::Absent,
            Some(Slot::Unknown) | None => FieldValue::Unknown,
        }
    }
}

impl SigmaEvent {
    /// The Sigma view of `record` with what enrichment added (`None`: no enrichment stage,
    /// so paths, users and file identity are unknown); `None` for the sensor's own records.
    pub fn new(record: &Record<'_>, e: Option<&Enrichment>) -> Option<SigmaEvent> {
        let kind = record.kind();
        let mut slots = vec![Slot::Unknown; Field::ALL.len()];
        let mut set = |field: Field, slot: Slot| {
            if let Some(s) = slots.get_mut(field.index()) {
                *s = slot;
            }
        };
        let text = |i: u8| {
            record
                .field(i)
                .and_then(|v| v.as_text())
                .map_or(Slot::Absent, |t| Slot::Text(text::render(t).value))
        };
        let integer = |i: u8| record.field(i).and_then(|v| v.as_u64()).map_or(Slot::Absent, Slot::Integer);
        let present = |i: u8| record.field(i).is_some();
        let path = |i: u8, forms: Option<&PathForms>| {
            if !present(i) {
                return Slot::Absent;
            }
            match (e, forms) {
                (Some(_), Some(forms)) if forms.is_dos => {
                    Slot::Text(text::render(ringfence_wire::Text::wide(&forms.dos)).value)
                }
                _ => Slot::Unknown,
            }
        };
        let user = |i: u8, account: Option<&Account>| {
            if !present(i) {
                return Slot::Absent;
            }
            match account {
                Some(Account::Named(name)) => Slot::Text(name.to_string()),
                _ => Slot::Unknown,
            }
        };
        match kind {
            EventKind::ProcessStart => {
                use field::ProcessStart as F;
                set(Field::Image, path(F::image_path as u8, e.and_then(|e| e.image.as_ref())));
                set(Field::CommandLine, text(F::command_line as u8));
                set(
                    Field::ParentImage,
                    path(F::parent_image_path as u8, e.and_then(|e| e.parent_image.as_ref())),
                );
                set(Field::ParentCommandLine, text(F::parent_command_line as u8));
                set(Field::User, user(F::user_sid as u8, e.and_then(|e| e.user.as_ref())));
                set(
                    Field::ParentUser,
                    user(F::parent_user_sid as u8, e.and_then(|e| e.parent_user.as_ref())),
                );
                let level = record.field(F::integrity_level as u8).and_then(|v| v.as_u64());
                set(
                    Field::IntegrityLevel,
                    level.and_then(|rid| u32::try_from(rid).ok()).map_or(Slot::Absent, |rid| {
                        Slot::Text(IntegrityLevel::from_rid(rid).sysmon_name(false).into_owned())
                    }),
                );
                let logon = record.field(F::logon_id as u8).and_then(|v| v.as_u64());
                set(Field::LogonId, logon.map_or(Slot::Absent, |id| Slot::Text(format!("{id:#x}"))));
                set(Field::TerminalSessionId, integer(F::session_id as u8));
                set(Field::ProcessId, integer(F::pid as u8));
                set(Field::ParentProcessId, integer(F::parent_pid as u8));
                file_fields(&mut set, e);
            }
            EventKind::ProcessExit => {
                use field::ProcessExit as F;
                set(Field::Image, path(F::image_path as u8, e.and_then(|e| e.image.as_ref())));
                set(Field::User, user(F::user_sid as u8, e.and_then(|e| e.user.as_ref())));
                set(Field::ProcessId, integer(F::pid as u8));
            }
            EventKind::ImageLoad => {
                use field::ImageLoad as F;
                set(
                    Field::Image,
                    path(F::process_image_path as u8, e.and_then(|e| e.process_image.as_ref())),
                );
                set(Field::ImageLoaded, path(F::image_path as u8, e.and_then(|e| e.image.as_ref())));
                set(Field::User, user(F::user_sid as u8, e.and_then(|e| e.user.as_ref())));
                set(Field::ProcessId, integer(F::pid as u8));
                file_fields(&mut set, e);
                let level = record.field(F::signature_level as u8).and_then(|v| v.as_u64()).unwrap_or(0);
                let signature = ImageSignature::from_signing_level(u32::try_from(level).unwrap_or(u32::MAX));
                if signature != ImageSignature::Unchecked {
                    let (signed, status) = signature.sysmon_fields();
                    set(Field::Signed, Slot::Text(signed.to_owned()));
                    set(Field::SignatureStatus, Slot::Text(status.to_owned()));
                }
            }
            EventKind::LostEvents | EventKind::ContentChanged => return None,
        }
        Some(SigmaEvent { kind, slots })
    }
}

/// OriginalFileName, FileVersion, Description, Product, Company and Hashes from the image
/// file's identity: unknown unless the file was read; absent where the file has no such value.
fn file_fields(set: &mut impl FnMut(Field, Slot), e: Option<&Enrichment>) {
    let Some(FileEnrichment::Done(outcome)) = e.and_then(|e| e.file.as_ref()) else { return };
    let Ok(facts) = outcome.as_ref() else {
        // The file could not be read: what it holds is not known.
        return;
    };
    let some = |value: Option<&String>| {
        value.filter(|s| !s.is_empty()).map_or(Slot::Absent, |s| Slot::Text(s.clone()))
    };
    set(Field::Hashes, facts.hashes.sysmon_form().map_or(Slot::Absent, Slot::Text));
    let version = facts.pe.as_ref().ok().and_then(|pe| pe.version.as_ref().ok()).and_then(Option::as_ref);
    set(Field::OriginalFileName, some(version.and_then(|v| v.original_file_name.as_ref())));
    set(Field::FileVersion, some(version.and_then(|v| v.file_version.as_ref())));
    set(Field::Description, some(version.and_then(|v| v.description.as_ref())));
    set(Field::Product, some(version.and_then(|v| v.product.as_ref())));
    set(Field::Company, some(version.and_then(|v| v.company.as_ref())));
}
