//! [`Content`]: a view over content bytes. Accessors read through `get` and
//! answer `None` (or nothing) for anything outside the buffer, so the view is
//! safe over any bytes; [`crate::validate`] is what makes every answer `Some`.

use crate::anchor::Lengths;
use crate::format::{Action, Operator, condition, group, header, rule, section};
use ringfence_wire::bytes::{u16_at, u32_at, u64_at};
use ringfence_wire::{EventKind, FieldType, Text};

/// Content bytes and the slices of its four sections.
#[derive(Clone, Copy, Debug)]
pub struct Content<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) groups: &'a [u8],
    pub(crate) rules: &'a [u8],
    pub(crate) conditions: &'a [u8],
    pub(crate) strings: &'a [u8],
    /// The key table ([`crate::key_table`]); empty: the index is binary-searched.
    pub(crate) key_table: &'a [u32],
}

/// Where the four sections of content bytes lie, as (offset, length) in
/// bytes, read from the section directory; a section the directory does not
/// name is (0, 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sections {
    groups: (usize, usize),
    rules: (usize, usize),
    conditions: (usize, usize),
    strings: (usize, usize),
}

impl Sections {
    /// The sections of `bytes` as its directory names them (at most
    /// [`section::COUNT`] entries are read; unknown ids are skipped).
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn read(bytes: &[u8]) -> Sections {
        let mut sections = Sections::default();
        let count = usize::from(u16_at(bytes, header::SECTION_COUNT).unwrap_or(0)).min(section::COUNT);
        for index in 0..count {
            let Some(dir) = entry(bytes.get(header::LEN..).unwrap_or(&[]), index, section::ENTRY_LEN) else {
                break;
            };
            let id = u16_at(dir, section::ID).unwrap_or(0);
            let offset = u32_at(dir, section::OFFSET).and_then(|v| usize::try_from(v).ok()).unwrap_or(0);
            let len = u32_at(dir, section::LEN).and_then(|v| usize::try_from(v).ok()).unwrap_or(0);
            match id {
                section::GROUPS => sections.groups = (offset, len),
                section::RULES => sections.rules = (offset, len),
                section::CONDITIONS => sections.conditions = (offset, len),
                section::STRINGS => sections.strings = (offset, len),
                _ => {}
            }
        }
        sections
    }
}

/// Counts for `content show` and the compiler's report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Summary {
    pub version: u32,
    pub schema_version: u16,
    pub bytes: usize,
    pub rules: usize,
    pub conditions: usize,
    pub string_bytes: usize,
}

/// One group entry, as stored.
#[derive(Clone, Copy, Debug)]
pub(crate) struct GroupEntry {
    pub(crate) kind: u16,
    pub(crate) action: u8,
    pub(crate) max_field: u8,
    pub(crate) first_rule: u32,
    pub(crate) anchored: u32,
    pub(crate) unanchored: u32,
    pub(crate) mask: u64,
    pub(crate) prefix_lengths: Lengths,
    pub(crate) suffix_lengths: Lengths,
}

/// One rule entry, as stored.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RuleEntry {
    pub(crate) id: u32,
    pub(crate) first_condition: u32,
    pub(crate) name_offset: u32,
    pub(crate) name_len: u16,
    pub(crate) condition_count: u8,
    pub(crate) anchor: u8,
    pub(crate) key: u64,
}

/// One condition entry, as stored.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ConditionEntry {
    pub(crate) field: u8,
    pub(crate) ty: u8,
    pub(crate) op: u8,
    pub(crate) flags: u8,
    pub(crate) reserved: u32,
    pub(crate) value: u64,
}

impl ConditionEntry {
    /// (offset, length) in units of a string value.
    pub(crate) fn string_ref(&self) -> (u32, u32) {
        (u32::try_from(self.value & 0xFFFF_FFFF).unwrap_or(0), u32::try_from(self.value >> 32).unwrap_or(0))
    }
}

/// The `index`-th entry of `len` bytes in `table`.
#[inline(always)]
pub(crate) fn entry(table: &[u8], index: usize, len: usize) -> Option<&[u8]> {
    let start = index.checked_mul(len)?;
    table.get(start..start.checked_add(len)?)
}

fn lengths_at(buf: &[u8], offset: usize) -> Option<Lengths> {
    let word = |i: usize| u64_at(buf, offset.checked_add(i.checked_mul(8)?)?);
    Some([word(0)?, word(1)?, word(2)?, word(3)?])
}

#[inline(always)]
fn u8_at(buf: &[u8], offset: usize) -> Option<u8> {
    buf.get(offset).copied()
}

impl<'a> Content<'a> {
    /// The view over content that [`crate::validate`] accepted, rebuilt
    /// cheaply (header and directory reads only). Over any other bytes it is
    /// still safe: missing sections are empty and evaluation finds no match.
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    pub fn from_validated(bytes: &'a [u8]) -> Content<'a> {
        Content::at(bytes, Sections::read(bytes))
    }

    /// The view over `bytes` with its sections where `sections` says: what a
    /// holder of validated content rebuilds for each event without reading the
    /// directory again ([`Sections::read`] once, when the bytes were accepted).
    /// A range outside `bytes` is an empty section, as in [`Content::from_validated`].
    #[cfg_attr(feature = "no-panic", no_panic::no_panic)]
    #[inline]
    pub fn at(bytes: &'a [u8], sections: Sections) -> Content<'a> {
        let slice = |(offset, len): (usize, usize)| {
            offset.checked_add(len).and_then(|end| bytes.get(offset..end)).unwrap_or(&[])
        };
        Content {
            bytes,
            groups: slice(sections.groups),
            rules: slice(sections.rules),
            conditions: slice(sections.conditions),
            strings: slice(sections.strings),
            key_table: &[],
        }
    }

    /// The content bytes, as loaded.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn version(&self) -> u32 {
        u32_at(self.bytes, header::CONTENT_VERSION).unwrap_or(0)
    }

    /// The schema version the content was compiled against.
    pub fn schema_version(&self) -> u16 {
        u16_at(self.bytes, header::SCHEMA_VERSION).unwrap_or(0)
    }

    pub fn rule_count(&self) -> usize {
        self.rules.len() / rule::LEN
    }

    pub fn condition_count(&self) -> usize {
        self.conditions.len() / condition::LEN
    }

    pub fn summary(&self) -> Summary {
        Summary {
            version: self.version(),
            schema_version: self.schema_version(),
            bytes: self.bytes.len(),
            rules: self.rule_count(),
            conditions: self.condition_count(),
            string_bytes: self.strings.len(),
        }
    }

    /// Every rule, in table order (grouped by kind and action, index order inside).
    pub fn rules(&self) -> Rules<'a> {
        Rules { content: *self, group: 0, next: 0 }
    }

    pub(crate) fn group_count(&self) -> usize {
        self.groups.len() / group::LEN
    }

    #[inline]
    pub(crate) fn group(&self, index: usize) -> Option<GroupEntry> {
        let e = entry(self.groups, index, group::LEN)?;
        Some(GroupEntry {
            kind: u16_at(e, group::KIND)?,
            action: u8_at(e, group::ACTION)?,
            max_field: u8_at(e, group::MAX_FIELD)?,
            first_rule: u32_at(e, group::FIRST_RULE)?,
            anchored: u32_at(e, group::ANCHORED)?,
            unanchored: u32_at(e, group::UNANCHORED)?,
            mask: u64_at(e, group::ANCHOR_MASK)?,
            prefix_lengths: lengths_at(e, group::PREFIX_LENGTHS)?,
            suffix_lengths: lengths_at(e, group::SUFFIX_LENGTHS)?,
        })
    }

    #[inline]
    pub(crate) fn rule(&self, index: usize) -> Option<RuleEntry> {
        let e = entry(self.rules, index, rule::LEN)?;
        Some(RuleEntry {
            id: u32_at(e, rule::ID)?,
            first_condition: u32_at(e, rule::FIRST_CONDITION)?,
            name_offset: u32_at(e, rule::NAME_OFFSET)?,
            name_len: u16_at(e, rule::NAME_LEN)?,
            condition_count: u8_at(e, rule::CONDITION_COUNT)?,
            anchor: u8_at(e, rule::ANCHOR)?,
            key: u64_at(e, rule::KEY)?,
        })
    }

    #[inline]
    pub(crate) fn rule_key(&self, index: usize) -> Option<u64> {
        u64_at(self.rules, index.checked_mul(rule::LEN)?.checked_add(rule::KEY)?)
    }

    #[inline]
    pub(crate) fn condition(&self, index: usize) -> Option<ConditionEntry> {
        let e = entry(self.conditions, index, condition::LEN)?;
        Some(ConditionEntry {
            field: u8_at(e, condition::FIELD)?,
            ty: u8_at(e, condition::FIELD_TYPE)?,
            op: u8_at(e, condition::OPERATOR)?,
            flags: u8_at(e, condition::FLAGS)?,
            reserved: u32_at(e, condition::RESERVED)?,
            value: u64_at(e, condition::VALUE)?,
        })
    }

    /// The pool string at (offset, length) in units, or `None` outside the pool.
    #[inline]
    pub(crate) fn string(&self, offset: u32, len: u32) -> Option<Text<'a>> {
        let start = usize::try_from(offset).ok()?.checked_mul(2)?;
        let bytes = usize::try_from(len).ok()?.checked_mul(2)?;
        Text::from_le_bytes(self.strings.get(start..start.checked_add(bytes)?)?)
    }

    pub(crate) fn rule_name(&self, entry: &RuleEntry) -> Text<'a> {
        self.string(entry.name_offset, u32::from(entry.name_len)).unwrap_or_default()
    }
}

/// One rule as `content show` prints it.
#[derive(Clone, Copy, Debug)]
pub struct Rule<'a> {
    content: Content<'a>,
    entry: RuleEntry,
    /// The kind's code as stored (validated content: a known activity kind).
    pub kind_code: u16,
    pub action: Option<Action>,
}

impl<'a> Rule<'a> {
    /// The rule's position in its source file.
    pub fn id(&self) -> u32 {
        self.entry.id
    }

    pub fn name(&self) -> Text<'a> {
        self.content.rule_name(&self.entry)
    }

    pub fn kind(&self) -> Option<EventKind> {
        EventKind::from_code(self.kind_code)
    }

    /// Whether the index finds the rule by one of its conditions.
    pub fn anchor(&self) -> Option<u8> {
        (self.entry.anchor != rule::NO_ANCHOR).then_some(self.entry.anchor)
    }

    pub fn conditions(&self) -> impl Iterator<Item = Condition<'a>> + 'a {
        let content = self.content;
        let first = usize::try_from(self.entry.first_condition).unwrap_or(usize::MAX);
        (0..usize::from(self.entry.condition_count)).filter_map(move |i| {
            let c = content.condition(first.checked_add(i)?)?;
            let ty = FieldType::from_code(c.ty)?;
            let value = match ty {
                FieldType::Str => {
                    let (offset, len) = c.string_ref();
                    ConditionValue::Str(content.string(offset, len)?)
                }
                FieldType::Bool => ConditionValue::Bool(c.value != 0),
                _ => ConditionValue::Integer(c.value),
            };
            Some(Condition {
                field: c.field,
                field_type: ty,
                operator: Operator::from_code(c.op)?,
                negated: c.flags & condition::NEGATE != 0,
                case_insensitive: c.flags & condition::CASE_INSENSITIVE != 0,
                value,
            })
        })
    }
}

/// One condition as stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Condition<'a> {
    pub field: u8,
    pub field_type: FieldType,
    pub operator: Operator,
    pub negated: bool,
    pub case_insensitive: bool,
    pub value: ConditionValue<'a>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionValue<'a> {
    Integer(u64),
    Bool(bool),
    Str(Text<'a>),
}

/// Iterator over [`Content::rules`].
#[derive(Clone, Debug)]
pub struct Rules<'a> {
    content: Content<'a>,
    group: usize,
    next: usize,
}

impl<'a> Iterator for Rules<'a> {
    type Item = Rule<'a>;

    fn next(&mut self) -> Option<Rule<'a>> {
        loop {
            let g = self.content.group(self.group)?;
            let first = usize::try_from(g.first_rule).ok()?;
            let count = u64::from(g.anchored).saturating_add(u64::from(g.unanchored));
            if u64::try_from(self.next).unwrap_or(u64::MAX) < count {
                let entry = self.content.rule(first.checked_add(self.next)?)?;
                self.next = self.next.saturating_add(1);
                return Some(Rule {
                    content: self.content,
                    entry,
                    kind_code: g.kind,
                    action: Action::from_code(g.action),
                });
            }
            self.group = self.group.saturating_add(1);
            self.next = 0;
        }
    }
}
