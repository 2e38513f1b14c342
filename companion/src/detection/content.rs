//! The companion's stage of a content format 2: the same compiled content the
//! sensor evaluates with what the kernel knows, evaluated here on the enriched
//! event, every companion field known, to the final verdict.
//!
//! The event is handed to format 2 field by field in the schema's indices: a
//! field some Sigma field lowers to (ringfence-detect's `lower::target`) takes
//! the value the Sigma view of the event has for it (the DOS path, `DOMAIN\user`,
//! the file's OriginalFileName and hashes, …), converted as the lowering
//! converts rule values; any other kernel field is the record's own value; a
//! field neither can give is unknown.
//!
//! The stage evaluates the whole content, then adds the detection rules the
//! record says the kernel matched (`matched_ids`): a rule the kernel matched is
//! in the final matches even where the companion's view of the event differs
//! from the kernel's (a path the volume map translated, a field read later).
//! It does not narrow the evaluation to the record's undecided rules: an empty
//! list with no rest means "nothing undecided" only when the driver evaluated
//! this very content, which a record does not say (no content, format 1, or
//! other content in the driver all leave the lists empty too). An id that is
//! not a detection rule of this content is ignored.

use std::path::Path;

use ringfence_content::Meter;
use ringfence_content::v2::{self, EventInput, Filter, Input, Role, RuleIds};
use ringfence_detect::lower::{self, Conversion, Metadata};
use ringfence_detect::{EventFields, Field, FieldValue, RuleMeta, integrity};
use ringfence_wire::schema::COMPANION_BASE;
use ringfence_wire::{EventKind, Fields, Record, SCHEMA, Text, Value};

/// The detection rules the kernel matched, as `record` carries them (none for a
/// record without the list).
fn kernel_matched(record: &Record<'_>) -> Vec<u32> {
    match record.def().field_index("matched_ids").and_then(|i| record.field(i)) {
        Some(Value::Ids(ids)) => ids.iter().collect(),
        _ => Vec::new(),
    }
}

use crate::commands::{Failure, read_file};

/// A validated format-2 content, its detection rules' metadata and the buffers one evaluation uses.
#[derive(Debug)]
pub struct ContentStage {
    bytes: Vec<u8>,
    /// The content's transition table, built once as the driver builds it.
    transitions: Vec<u32>,
    scratch: Vec<u64>,
    matched: Vec<u32>,
    undecided: Vec<u32>,
    /// Detection rules by content id, ascending.
    rules: Vec<(u32, RuleMeta)>,
    /// Rule names by content id, for the include rule that keeps an event.
    names: Vec<(u32, String)>,
}

/// What the content says of one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageVerdict {
    /// Positions in [`ContentStage::rules`] of the detection rules that matched.
    pub matched: Vec<usize>,
    /// Detection rules left undecided (a field the companion could not establish).
    pub undecided: usize,
    pub filter: Filter,
    /// The name of the include rule that keeps the event, when one does.
    pub include_rule: Option<String>,
}

impl StageVerdict {
    /// The content drops the event: its filter does and no detection rule matched or could.
    pub fn droppable(&self) -> bool {
        self.filter == Filter::Drop && self.matched.is_empty() && self.undecided == 0
    }
}

/// The companion's stage of the content in `path` when it is format 2; `None` for format 1
/// (whose filter the driver decides alone).
pub fn stage_of(path: &Path) -> Result<Option<ContentStage>, Failure> {
    let bytes = read_file(path)?;
    if !crate::content2_cmd::is_format2(crate::content_cmd::unwrapped(&bytes)) {
        return Ok(None);
    }
    ContentStage::load(path).map(Some)
}

impl ContentStage {
    /// Reads `path` (content format 2, or a signed envelope holding it) and validates it.
    pub fn load(path: &Path) -> Result<ContentStage, Failure> {
        let bytes = read_file(path)?;
        let inner = crate::content_cmd::unwrapped(&bytes).to_vec();
        ContentStage::new(inner).map_err(|error| Failure::Invalid2 { path: path.to_owned(), error })
    }

    /// The stage of `bytes`, after format 2's validator accepted them.
    pub fn new(bytes: Vec<u8>) -> Result<ContentStage, v2::ValidationError> {
        let content = v2::validate(&bytes, &SCHEMA)?;
        let mut rules = Vec::new();
        let mut names = Vec::new();
        for info in (0..content.rule_count()).filter_map(|i| content.rule_info(i)) {
            let title = crate::text::render(info.name).value;
            if info.role == Role::Detection {
                let meta = Metadata::decode(&crate::text::render(info.meta).value);
                let meta = meta.map_or_else(
                    || RuleMeta {
                        id: info.id.to_string(),
                        title: title.clone(),
                        level: None,
                        tags: Vec::new(),
                        file: None,
                    },
                    |m| RuleMeta { id: m.id, title: title.clone(), level: m.level, tags: m.tags, file: None },
                );
                rules.push((info.id, meta));
            }
            names.push((info.id, title));
        }
        let (scratch, count) = (vec![0; content.scratch_words()], content.rule_count());
        let mut transitions = vec![0; content.transition_words()];
        // Sized by the content just above, so it builds; were it not to, evaluation without
        // the table gives the same verdicts.
        if content.build_transitions(&mut transitions).is_err() {
            transitions.clear();
        }
        Ok(ContentStage {
            bytes,
            transitions,
            scratch,
            matched: vec![0; count],
            undecided: vec![0; count],
            rules,
            names,
        })
    }

    /// The detection rules, in content-id order.
    pub fn rules(&self) -> impl Iterator<Item = &RuleMeta> + '_ {
        self.rules.iter().map(|(_, meta)| meta)
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }

    /// Whether a Sigma rule with this id is in the content.
    pub fn has_sigma_id(&self, id: &str) -> bool {
        self.rules.iter().any(|(_, meta)| meta.id == id)
    }

    /// Evaluates the content on `event` (the Sigma view of the enriched record) and,
    /// for kernel fields no Sigma field reads, on `record`; the detection rules `record`
    /// says the kernel matched are among the matches whatever this evaluation says.
    pub fn evaluate(
        &mut self,
        event: &(impl EventFields + ?Sized),
        record: Option<&Record<'_>>,
    ) -> StageVerdict {
        let mut verdict = self.evaluate_content(event, record);
        let kernel = record.map(kernel_matched).unwrap_or_default();
        let known = kernel.iter().filter_map(|id| self.rules.binary_search_by_key(id, |(i, _)| *i).ok());
        verdict.matched.extend(known);
        verdict.matched.sort_unstable();
        verdict.matched.dedup();
        verdict
    }

    /// The content's own verdict on the enriched event, before the kernel's matches are added.
    fn evaluate_content(
        &mut self,
        event: &(impl EventFields + ?Sized),
        record: Option<&Record<'_>>,
    ) -> StageVerdict {
        let owned = StageEvent::of(event, record);
        // Validated in `new`; the view reads the same bytes.
        let content = v2::Content::from_unvalidated(&self.bytes).with_transitions(&self.transitions);
        let ids = RuleIds { matched: &mut self.matched, undecided: &mut self.undecided };
        // The whole content, within its budget: not the kernel's per-event limit, so that an
        // event the kernel left undecided at that limit is decided here.
        let mut meter = Meter::new(v2::MAX_EVALUATION_COST);
        match content.evaluate_metered(&&owned, &mut self.scratch, ids, &mut meter) {
            Ok(v) => {
                let matched_ids = self.matched.get(..v.matched).unwrap_or(&[]);
                let matched = matched_ids
                    .iter()
                    .filter_map(|id| self.rules.binary_search_by_key(id, |(i, _)| *i).ok())
                    .collect();
                let include_rule = v
                    .include_rule
                    .and_then(|id| self.names.iter().find(|(i, _)| *i == id).map(|(_, name)| name.clone()));
                let undecided =
                    v.undecided.saturating_add(usize::try_from(v.undecided_rest).unwrap_or(usize::MAX));
                StageVerdict { matched, undecided, filter: v.filter, include_rule }
            }
            // Validated content stays within its budget; should it not, nothing is decided.
            Err(_) => StageVerdict {
                matched: Vec::new(),
                undecided: self.rules.len(),
                filter: Filter::Undecided,
                include_rule: None,
            },
        }
    }
}

/// One field's value for format 2, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Owned {
    Text(Vec<u16>),
    Integer(u64),
    Absent,
}

/// An enriched event in the schema's field indices.
#[derive(Debug)]
pub struct StageEvent {
    kind: EventKind,
    /// (schema index, value); a field not listed is unknown.
    fields: Vec<(u8, Owned)>,
}

impl StageEvent {
    pub fn of(event: &(impl EventFields + ?Sized), record: Option<&Record<'_>>) -> StageEvent {
        let kind = event.kind();
        let mut fields: Vec<(u8, Owned)> = Vec::new();
        for field in Field::ALL {
            let Some((index, conversion)) = lower::target(kind, field) else { continue };
            if fields.iter().any(|(i, _)| *i == index) {
                continue;
            }
            let value = match (event.field(field), conversion) {
                (FieldValue::Unknown, _) => continue,
                (FieldValue::Absent, _) => Owned::Absent,
                (FieldValue::Integer(n), _) => Owned::Integer(n),
                (FieldValue::Text(text), Conversion::AsIs) => Owned::Text(text.encode_utf16().collect()),
                (FieldValue::Text(text), Conversion::HexInteger) => {
                    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"));
                    digits.and_then(|d| u64::from_str_radix(d, 16).ok()).map_or(Owned::Absent, Owned::Integer)
                }
                // The companion renders the RID as Sysmon's name; the name gives it back exactly.
                (FieldValue::Text(text), Conversion::IntegrityRid) => {
                    integrity::rid_of_name(text).map_or(Owned::Absent, |rid| Owned::Integer(u64::from(rid)))
                }
                (FieldValue::Text(text), Conversion::Boolean) => match text {
                    "true" => Owned::Integer(1),
                    "false" => Owned::Integer(0),
                    _ => Owned::Absent,
                },
            };
            fields.push((index, value));
        }
        if let (Some(record), Some(def)) = (record, SCHEMA.kind(kind)) {
            let count = u8::try_from(def.fields.len()).unwrap_or(COMPANION_BASE).min(COMPANION_BASE);
            for index in 0..count {
                if fields.iter().any(|(i, _)| *i == index) {
                    continue;
                }
                let value = match record.field(index) {
                    Some(Value::Str(text)) => Owned::Text(text.units().collect()),
                    Some(v) => v.as_u64().map_or(Owned::Absent, Owned::Integer),
                    None => Owned::Absent,
                };
                fields.push((index, value));
            }
        }
        StageEvent { kind, fields }
    }
}

impl<'a> EventInput<'a> for &'a StageEvent {
    fn kind(&self) -> EventKind {
        self.kind
    }

    fn input(&self, field: u8) -> Input<'a> {
        match self.fields.iter().find(|(i, _)| *i == field).map(|(_, v)| v) {
            Some(Owned::Text(units)) => Input::Text { head: Text::wide(units), tail: Text::default() },
            Some(Owned::Integer(n)) => Input::Integer(*n),
            Some(Owned::Absent) => Input::Absent,
            None => Input::Unknown,
        }
    }
}
