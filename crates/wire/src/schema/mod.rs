//! The event schema: every event kind and its numbered, typed fields, declared
//! once in [`declaration`]. The kind enum, the field tables, the typed
//! [`Event`], the field-by-index lookup and the typed decoding all expand from
//! that one declaration; nothing else in ringfence lists fields.
//!
//! Compatibility rule: a new schema version may add kinds and may append fields
//! to the end of a kind, never reorder, retype or remove. A field index
//! therefore means the same thing in every version that has it, and content
//! compiled against a newer schema is acceptable to an older sensor exactly when
//! every field it references is one the older sensor supplies.
//!
//! Two index spaces per kind:
//! - **kernel fields**, 0 up to 31: what the driver observes and puts in every
//!   record. A field declared `[optional]` may be *absent* (the kernel could not
//!   read it: never guessed); it is `Option<…>` in [`Event`] and has a bit in
//!   the record's absent bitmap. A string field has a maximum length
//!   (`[max N]` UTF-16 units, default [`limits::UNICODE_STRING_UNITS`]).
//! - **companion fields**, [`COMPANION_BASE`] + position: what only user mode
//!   computes (PE identity, hashes, account names). They are never in a record
//!   nor in [`Event`]; a kernel event or a record answers [`Lookup::Unknown`]
//!   for them, so content can refer to either space and the kernel knows when
//!   it cannot decide.

#[macro_use]
mod macros;
mod check;
mod declaration;

pub use declaration::*;

use crate::text::{Ids, Text, Value};

/// Lengths the schema declares, in UTF-16 code units. Each string field's
/// `max_units` is one of these; the driver truncates to it (setting the field's
/// bit in the kind's `truncated` field), the encoder refuses longer, the
/// decoder checks it.
pub mod limits {
    /// A `UNICODE_STRING` holds at most 0xFFFE bytes: what the kernel hands over.
    pub const UNICODE_STRING_UNITS: u16 = 0x7FFF;
    /// An image path kept in the driver's process table (parent, loader, exiting process).
    pub const TABLE_IMAGE_PATH_UNITS: u16 = 4096;
    /// A command line kept in the driver's process table (the parent's).
    pub const TABLE_COMMAND_LINE_UNITS: u16 = 16384;
    /// A SID as text: `S-1-` (4), an authority of at most 14 characters
    /// (`0x` and 12 hex digits above 2^32), 15 sub-authorities of at most 11
    /// (`-4294967295`). No valid SID is longer, so none is ever truncated.
    pub const SID_TEXT_UNITS: u16 = 4 + 14 + 15 * 11;
    /// The name of the content rule that kept an event.
    pub const RULE_NAME_UNITS: u16 = 1024;
    /// The most rule ids one list of a record carries (matched or undecided
    /// detection rules); the rest are only counted.
    pub const RECORD_IDS: u16 = 8;
}

/// Where companion fields start in a kind's index space.
pub const COMPANION_BASE: u8 = 128;

/// The most kernel fields one kind may have: one bit each in the record's
/// absent bitmap and in the kind's `truncated` field (checked at compile time).
pub const MAX_KERNEL_FIELDS: usize = 32;

/// The type of a field's value, as carried in a record and matched by content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FieldType {
    U32 = 1,
    U64 = 2,
    Bool = 3,
    /// 100-ns intervals since 1601-01-01 UTC.
    Time = 4,
    /// UTF-16LE text.
    Str = 5,
    /// A bounded list of rule ids (`u32` LE each): a verdict's detection rules.
    Ids = 6,
}

impl FieldType {
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(FieldType::U32),
            2 => Some(FieldType::U64),
            3 => Some(FieldType::Bool),
            4 => Some(FieldType::Time),
            5 => Some(FieldType::Str),
            6 => Some(FieldType::Ids),
            _ => None,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            FieldType::U32 => "u32",
            FieldType::U64 => "u64",
            FieldType::Bool => "bool",
            FieldType::Time => "time",
            FieldType::Str => "string",
            FieldType::Ids => "ids",
        }
    }

    /// The longest value a field of this type has by default: a string, a
    /// `UNICODE_STRING`'s worth; an id list, [`limits::RECORD_IDS`] ids; a
    /// scalar, 0 (lengths do not apply).
    pub const fn default_max_units(self) -> u16 {
        match self {
            FieldType::Str => limits::UNICODE_STRING_UNITS,
            FieldType::Ids => limits::RECORD_IDS,
            _ => 0,
        }
    }

    /// The bytes one unit of a variable-length value takes in a record: a
    /// UTF-16 code unit, an id; 0 for scalars.
    pub const fn unit_bytes(self) -> usize {
        match self {
            FieldType::Str => 2,
            FieldType::Ids => crate::text::ID_BYTES,
            _ => 0,
        }
    }

    /// Whether the value lives in the record's variable area (a slot holds its
    /// offset and byte length) rather than in its slot.
    pub const fn is_variable(self) -> bool {
        matches!(self, FieldType::Str | FieldType::Ids)
    }
}

/// Who supplies a field's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The driver, in every record of the kind.
    Kernel,
    /// The companion, after reading files and account databases; never in a record.
    Companion,
}

/// One field of one event kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldDef {
    /// The name used in rule files and JSON output.
    pub name: &'static str,
    pub ty: FieldType,
    /// The Elastic Common Schema name the companion renders it as.
    pub ecs: &'static str,
    pub doc: &'static str,
    /// Whether content may match on it. The sensor fills non-matchable fields
    /// from the verdict itself (the include rule's name, the detection rules'
    /// ids), after evaluation.
    pub matchable: bool,
    /// Whether the field may have no value: absent in a record (its bit in the
    /// absent bitmap, its slot zero), `None` in [`Event`].
    pub optional: bool,
    /// A string's longest value in UTF-16 units, an id list's most ids; 0 for scalars.
    pub max_units: u16,
    /// This field is the kind's truncation bitmap: bit `i` says field `i` was
    /// cut to its `max_units`.
    pub truncation: bool,
    pub origin: Origin,
}

impl FieldDef {
    /// A plain kernel field: matchable, never absent, default length.
    pub const fn kernel(name: &'static str, ty: FieldType, ecs: &'static str, doc: &'static str) -> Self {
        FieldDef {
            name,
            ty,
            ecs,
            doc,
            matchable: true,
            optional: false,
            max_units: ty.default_max_units(),
            truncation: false,
            origin: Origin::Kernel,
        }
    }

    /// A string's or an id list's longest value in bytes once encoded (0 for scalars).
    pub const fn max_bytes(&self) -> usize {
        (self.max_units as usize).saturating_mul(self.ty.unit_bytes())
    }
}

/// One event kind: its code and its fields, in index order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindDef {
    pub kind: EventKind,
    pub name: &'static str,
    /// Kernel fields: index `i` is `fields[i]`.
    pub fields: &'static [FieldDef],
    /// Companion fields: index [`COMPANION_BASE`] + `i` is `companion[i]`.
    pub companion: &'static [FieldDef],
    /// Whether the kind describes system activity (filterable by content)
    /// rather than the sensor's own bookkeeping.
    pub activity: bool,
}

impl KindDef {
    /// The kernel field at `index`, or `None` when this kind does not supply it.
    pub fn field(&self, index: u8) -> Option<&'static FieldDef> {
        self.fields.get(usize::from(index))
    }

    /// The companion field at `index` (from [`COMPANION_BASE`] up), or `None`.
    pub fn companion_field(&self, index: u8) -> Option<&'static FieldDef> {
        self.companion.get(usize::from(index.checked_sub(COMPANION_BASE)?))
    }

    /// The field at `index` in either index space.
    pub fn resolve(&self, index: u8) -> Option<&'static FieldDef> {
        if index < COMPANION_BASE { self.field(index) } else { self.companion_field(index) }
    }

    /// The index of the kernel field called `name`.
    pub fn field_index(&self, name: &str) -> Option<u8> {
        let at = self.fields.iter().position(|f| f.name == name)?;
        u8::try_from(at).ok()
    }

    /// The index of the field called `name` in either space (kernel first).
    pub fn resolve_index(&self, name: &str) -> Option<u8> {
        if let Some(index) = self.field_index(name) {
            return Some(index);
        }
        let at = self.companion.iter().position(|f| f.name == name)?;
        u8::try_from(at).ok()?.checked_add(COMPANION_BASE)
    }

    /// How many kernel fields this kind supplies.
    pub fn field_count(&self) -> u8 {
        u8::try_from(self.fields.len()).unwrap_or(u8::MAX)
    }

    /// How many companion fields this kind declares.
    pub fn companion_count(&self) -> u8 {
        u8::try_from(self.companion.len()).unwrap_or(u8::MAX)
    }

    /// The index of the kind's truncation bitmap field, if it has one.
    pub const fn truncation_index(&self) -> Option<u8> {
        let mut index = 0u8;
        let mut fields = self.fields;
        while let Some((field, rest)) = fields.split_first() {
            if field.truncation {
                return Some(index);
            }
            index = index.saturating_add(1);
            fields = rest;
        }
        None
    }

    /// Bit `i` set when kernel field `i` is optional.
    pub const fn optional_mask(&self) -> u32 {
        let mut mask = 0u32;
        let mut bit = 1u32;
        let mut fields = self.fields;
        while let Some((field, rest)) = fields.split_first() {
            if field.optional {
                mask |= bit;
            }
            bit = bit.wrapping_shl(1);
            fields = rest;
        }
        mask
    }

    /// What an event or a record of this kind answers for an index it has no
    /// value slot for: `Unknown` for a declared companion field (user mode may
    /// know), `Absent` for an index this kind does not declare at all.
    pub fn beyond_kernel(&self, index: u8) -> Lookup<'static> {
        match self.companion_field(index) {
            Some(_) => Lookup::Unknown,
            None => Lookup::Absent,
        }
    }
}

/// A schema version and its kinds. [`SCHEMA`] is the one the running code
/// supplies; tests build others to stand for older or newer sensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schema {
    pub version: u16,
    pub kinds: &'static [KindDef],
}

impl Schema {
    pub fn kind(&self, kind: EventKind) -> Option<&'static KindDef> {
        self.kinds.iter().find(|k| k.kind == kind)
    }

    pub fn kind_by_code(&self, code: u16) -> Option<&'static KindDef> {
        self.kinds.iter().find(|k| k.kind.code() == code)
    }

    pub fn kind_by_name(&self, name: &str) -> Option<&'static KindDef> {
        self.kinds.iter().find(|k| k.name == name)
    }

    /// The field `index` of `kind` in either index space (kernel or companion),
    /// or `None` when this schema declares no such field.
    pub fn field(&self, kind: EventKind, index: u8) -> Option<&'static FieldDef> {
        self.kind(kind)?.resolve(index)
    }
}

/// What the sensor's evaluation decided about an event, as the `[verdict]`
/// fields carry it: [`Event::set_verdict`] copies each member into the field of
/// the same name.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verdict<'a> {
    /// The include rule that kept the event; empty when none did.
    pub rule_name: Text<'a>,
    /// Detection rules that matched, at most [`limits::RECORD_IDS`].
    pub matched_ids: Ids<'a>,
    /// How many more matched than `matched_ids` holds.
    pub matched_rest: u32,
    /// Detection rules the kernel could not decide (a field it lacks), at most
    /// [`limits::RECORD_IDS`].
    pub undecided_ids: Ids<'a>,
    /// How many more were undecided than `undecided_ids` holds.
    pub undecided_rest: u32,
}

impl<'a> Verdict<'a> {
    /// The verdict that names only the include rule (format-1 content, or none).
    pub const fn rule(rule_name: Text<'a>) -> Self {
        Verdict {
            rule_name,
            matched_ids: Ids::EMPTY,
            matched_rest: 0,
            undecided_ids: Ids::EMPTY,
            undecided_rest: 0,
        }
    }
}

/// What an event source knows about one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The field's value.
    Value(Value<'a>),
    /// Known to have no value: the kernel could not read it, or the kind has
    /// no such field.
    Absent,
    /// Not known here: a companion field asked of a kernel event or a record
    /// (only user mode computes it).
    Unknown,
}

impl<'a> Lookup<'a> {
    /// The value, if there is one.
    pub const fn value(self) -> Option<Value<'a>> {
        match self {
            Lookup::Value(v) => Some(v),
            Lookup::Absent | Lookup::Unknown => None,
        }
    }
}

/// Receives an event's fields in index order from [`Event::visit_values`]
/// (`None`: the optional field is absent). A trait rather than a closure so
/// that an implementation can mark `visit` `#[inline(always)]`: the encoder's
/// per-field work then inlines at every field of every kind, which a closure
/// call does not.
pub trait ValueVisitor<'a> {
    type Error;
    fn visit(&mut self, index: u8, value: Option<Value<'a>>) -> Result<(), Self::Error>;
}

/// Anything that can hand out an event's fields by index: a typed [`Event`]
/// in the driver's callbacks, a decoded [`crate::Record`] in user mode, an
/// enriched event in the companion.
pub trait Fields<'a> {
    fn kind(&self) -> EventKind;
    /// What this source knows about field `index` (either index space).
    fn lookup(&self, index: u8) -> Lookup<'a>;
    /// The value of field `index`, or `None` when it is absent or unknown here.
    #[inline]
    fn field(&self, index: u8) -> Option<Value<'a>> {
        self.lookup(index).value()
    }
}

#[cfg(test)]
mod tests;
