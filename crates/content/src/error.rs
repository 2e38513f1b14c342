//! Why content was rejected: a byte offset and a precise reason. Every reason
//! travels as (code, offset, four u32 arguments), so the driver can report it
//! in the LOAD_CONTENT response and the companion can rebuild and print it.

use core::fmt;

/// A published limit that content exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Limit {
    TotalBytes = 1,
    Sections = 2,
    Groups = 3,
    Rules = 4,
    Conditions = 5,
    ConditionsPerRule = 6,
    StringBytes = 7,
    PatternUnits = 8,
    RuleNameUnits = 9,
}

impl Limit {
    pub const fn from_code(code: u32) -> Option<Self> {
        Some(match code {
            1 => Limit::TotalBytes,
            2 => Limit::Sections,
            3 => Limit::Groups,
            4 => Limit::Rules,
            5 => Limit::Conditions,
            6 => Limit::ConditionsPerRule,
            7 => Limit::StringBytes,
            8 => Limit::PatternUnits,
            9 => Limit::RuleNameUnits,
            _ => return None,
        })
    }

    pub const fn name(self) -> &'static str {
        match self {
            Limit::TotalBytes => "content bytes",
            Limit::Sections => "sections",
            Limit::Groups => "rule groups",
            Limit::Rules => "rules",
            Limit::Conditions => "conditions",
            Limit::ConditionsPerRule => "conditions in one rule",
            Limit::StringBytes => "string pool bytes",
            Limit::PatternUnits => "pattern units",
            Limit::RuleNameUnits => "rule name units",
        }
    }
}

/// Content the validator turned down, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidationError {
    /// Byte offset, from the start of the content, of the item at fault.
    pub offset: usize,
    pub kind: ErrorKind,
}

/// Why. `rule` is a rule's id (its position in the rule file, from 0),
/// `entry` a position in a table, `condition` a position inside its rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// No bytes at all.
    Empty,
    /// Fewer bytes than the header, or than the header's total length, needs.
    Truncated {
        needed: u32,
        available: u32,
    },
    BadMagic {
        found: u32,
    },
    UnsupportedFormat {
        found: u16,
    },
    /// A reserved field is not zero.
    NonZeroReserved,
    /// The declared total length is smaller than header plus directory.
    TotalLengthTooSmall {
        declared: u32,
        minimum: u32,
    },
    /// Bytes follow the declared total length.
    TrailingBytes {
        declared: u32,
        actual: u32,
    },
    /// A declared size or count is over a published limit.
    LimitExceeded {
        limit: Limit,
        found: u32,
        max: u32,
    },
    BadChecksum {
        stored: u32,
        computed: u32,
    },
    /// Schema version 0 does not exist.
    UnknownSchemaVersion {
        found: u16,
    },
    UnknownSection {
        id: u16,
    },
    DuplicateSection {
        id: u16,
    },
    MissingSection {
        id: u16,
    },
    /// `offset + len` of a section overflows 32 bits.
    SectionLengthOverflow {
        id: u16,
    },
    /// A section ends past the total length.
    SectionOutOfBounds {
        id: u16,
        end: u32,
        total: u32,
    },
    /// Sections must be contiguous, in directory order, right after the directory.
    SectionMisplaced {
        id: u16,
        offset: u32,
        expected: u32,
    },
    /// A table's length is not a whole number of entries, or the string pool's of units.
    SectionLength {
        id: u16,
        len: u32,
        entry: u32,
    },
    /// Bytes between the last section and the total length.
    UnclaimedBytes {
        end: u32,
        total: u32,
    },
    UnknownKind {
        entry: u32,
        code: u16,
    },
    /// Only activity kinds (process start, exit, image load) may have rules.
    KindNotFilterable {
        entry: u32,
        code: u16,
    },
    UnknownAction {
        entry: u32,
        code: u8,
    },
    /// Two groups for the same kind and action.
    DuplicateGroup {
        entry: u32,
        code: u16,
        action: u8,
    },
    /// Groups must be sorted by kind, then action.
    GroupOrder {
        entry: u32,
    },
    /// A group's rules do not start where the previous group's ended.
    GroupMisplaced {
        entry: u32,
        first_rule: u32,
        expected: u32,
    },
    /// A group claims rules past the end of the rule table.
    GroupOutOfBounds {
        entry: u32,
        end: u64,
        rules: u32,
    },
    /// Rules that no group claims.
    RulesUnclaimed {
        claimed: u32,
        rules: u32,
    },
    RuleIdOutOfRange {
        entry: u32,
        id: u32,
        rules: u32,
    },
    DuplicateRuleId {
        entry: u32,
        id: u32,
    },
    /// A rule's conditions do not start where the previous rule's ended.
    ConditionsMisplaced {
        rule: u32,
        first: u32,
        expected: u32,
    },
    /// A rule claims conditions past the end of the condition table.
    ConditionsOutOfBounds {
        rule: u32,
        end: u64,
        conditions: u32,
    },
    /// Conditions that no rule claims.
    ConditionsUnclaimed {
        claimed: u32,
        conditions: u32,
    },
    UnknownOperator {
        rule: u32,
        condition: u32,
        code: u8,
    },
    UnknownFieldType {
        rule: u32,
        condition: u32,
        code: u8,
    },
    /// The 291 case: the rule reads a field the sensor does not supply.
    FieldOutOfRange {
        rule: u32,
        field: u8,
        supplied: u8,
    },
    /// The field is filled from the verdict (rule_name) and cannot be matched.
    FieldNotMatchable {
        rule: u32,
        field: u8,
    },
    /// The content's idea of the field's type is not the sensor's.
    TypeMismatch {
        rule: u32,
        field: u8,
        content: u8,
        schema: u8,
    },
    /// The operator does not apply to the field's type (e.g. `contains` on a u32).
    OperatorMismatch {
        rule: u32,
        condition: u32,
        operator: u8,
        field_type: u8,
    },
    /// Unknown flag bits, or case-insensitivity on a non-string field.
    BadFlags {
        rule: u32,
        condition: u32,
        flags: u8,
    },
    /// An integer over the field's range, or a bool that is neither 0 nor 1.
    ValueOutOfRange {
        rule: u32,
        condition: u32,
    },
    /// `offset + len` of a string overflows 32 bits; `condition` is u32::MAX for the rule name.
    StringLengthOverflow {
        rule: u32,
        condition: u32,
    },
    /// A string outside the string pool; `condition` is u32::MAX for the rule name.
    StringOutOfBounds {
        rule: u32,
        condition: u32,
        end: u32,
        pool: u32,
    },
    /// The anchor names no condition of the rule, or one that cannot anchor.
    BadAnchor {
        rule: u32,
        anchor: u8,
    },
    /// A rule's stored index key is not the key of its anchor condition.
    IndexKeyMismatch {
        rule: u32,
    },
    /// Anchored rules out of (key, id) order, or unanchored ones out of id order.
    IndexNotSorted {
        rule: u32,
    },
    /// A group's anchor mask or highest anchored field is not what its anchored rules produce.
    AnchorMaskMismatch {
        entry: u32,
    },
}

/// `condition` in string errors that concern the rule's name.
pub(crate) const NAME: u32 = ErrorKind::RULE_NAME;

impl ErrorKind {
    /// The `condition` of a string error about the rule's name rather than a pattern.
    pub const RULE_NAME: u32 = u32::MAX;
}

fn lo(v: u64) -> u32 {
    u32::try_from(v & 0xFFFF_FFFF).unwrap_or(0)
}

fn hi(v: u64) -> u32 {
    u32::try_from(v >> 32).unwrap_or(0)
}

fn wide(lo: u32, hi: u32) -> u64 {
    u64::from(lo) | (u64::from(hi) << 32)
}

fn narrow16(v: u32) -> Option<u16> {
    u16::try_from(v).ok()
}

fn narrow8(v: u32) -> Option<u8> {
    u8::try_from(v).ok()
}

impl ValidationError {
    pub(crate) const fn at(offset: usize, kind: ErrorKind) -> Self {
        ValidationError { offset, kind }
    }

    /// A stable number for the reason, sent over the wire.
    pub fn code(&self) -> u32 {
        use ErrorKind::*;
        match self.kind {
            Empty => 1,
            Truncated { .. } => 2,
            BadMagic { .. } => 3,
            UnsupportedFormat { .. } => 4,
            NonZeroReserved => 5,
            TotalLengthTooSmall { .. } => 6,
            TrailingBytes { .. } => 7,
            LimitExceeded { .. } => 8,
            BadChecksum { .. } => 9,
            UnknownSchemaVersion { .. } => 10,
            UnknownSection { .. } => 11,
            DuplicateSection { .. } => 12,
            MissingSection { .. } => 13,
            SectionLengthOverflow { .. } => 14,
            SectionOutOfBounds { .. } => 15,
            SectionMisplaced { .. } => 16,
            SectionLength { .. } => 17,
            UnclaimedBytes { .. } => 18,
            UnknownKind { .. } => 19,
            KindNotFilterable { .. } => 20,
            UnknownAction { .. } => 21,
            DuplicateGroup { .. } => 22,
            GroupOrder { .. } => 23,
            GroupMisplaced { .. } => 24,
            GroupOutOfBounds { .. } => 25,
            RulesUnclaimed { .. } => 26,
            RuleIdOutOfRange { .. } => 27,
            DuplicateRuleId { .. } => 28,
            ConditionsMisplaced { .. } => 29,
            ConditionsOutOfBounds { .. } => 30,
            ConditionsUnclaimed { .. } => 31,
            UnknownOperator { .. } => 32,
            UnknownFieldType { .. } => 33,
            FieldOutOfRange { .. } => 34,
            FieldNotMatchable { .. } => 35,
            TypeMismatch { .. } => 36,
            OperatorMismatch { .. } => 37,
            BadFlags { .. } => 38,
            ValueOutOfRange { .. } => 39,
            StringLengthOverflow { .. } => 40,
            StringOutOfBounds { .. } => 41,
            BadAnchor { .. } => 42,
            IndexKeyMismatch { .. } => 43,
            IndexNotSorted { .. } => 44,
            AnchorMaskMismatch { .. } => 45,
        }
    }

    /// The reason's values, in declaration order, zero-filled.
    pub fn args(&self) -> [u32; 4] {
        use ErrorKind::*;
        match self.kind {
            Empty | NonZeroReserved => [0; 4],
            Truncated { needed, available } => [needed, available, 0, 0],
            BadMagic { found } => [found, 0, 0, 0],
            UnsupportedFormat { found } | UnknownSchemaVersion { found } => [found.into(), 0, 0, 0],
            TotalLengthTooSmall { declared, minimum } => [declared, minimum, 0, 0],
            TrailingBytes { declared, actual } => [declared, actual, 0, 0],
            LimitExceeded { limit, found, max } => [limit as u32, found, max, 0],
            BadChecksum { stored, computed } => [stored, computed, 0, 0],
            UnknownSection { id }
            | DuplicateSection { id }
            | MissingSection { id }
            | SectionLengthOverflow { id } => [id.into(), 0, 0, 0],
            SectionOutOfBounds { id, end, total } => [id.into(), end, total, 0],
            SectionMisplaced { id, offset, expected } => [id.into(), offset, expected, 0],
            SectionLength { id, len, entry } => [id.into(), len, entry, 0],
            UnclaimedBytes { end, total } => [end, total, 0, 0],
            UnknownKind { entry, code } | KindNotFilterable { entry, code } => [entry, code.into(), 0, 0],
            UnknownAction { entry, code } => [entry, code.into(), 0, 0],
            DuplicateGroup { entry, code, action } => [entry, code.into(), action.into(), 0],
            GroupOrder { entry } | AnchorMaskMismatch { entry } => [entry, 0, 0, 0],
            GroupMisplaced { entry, first_rule, expected } => [entry, first_rule, expected, 0],
            GroupOutOfBounds { entry, end, rules } => [entry, lo(end), hi(end), rules],
            RulesUnclaimed { claimed, rules } => [claimed, rules, 0, 0],
            RuleIdOutOfRange { entry, id, rules } => [entry, id, rules, 0],
            DuplicateRuleId { entry, id } => [entry, id, 0, 0],
            ConditionsMisplaced { rule, first, expected } => [rule, first, expected, 0],
            ConditionsOutOfBounds { rule, end, conditions } => [rule, lo(end), hi(end), conditions],
            ConditionsUnclaimed { claimed, conditions } => [claimed, conditions, 0, 0],
            UnknownOperator { rule, condition, code } | UnknownFieldType { rule, condition, code } => {
                [rule, condition, code.into(), 0]
            }
            FieldOutOfRange { rule, field, supplied } => [rule, field.into(), supplied.into(), 0],
            FieldNotMatchable { rule, field } => [rule, field.into(), 0, 0],
            TypeMismatch { rule, field, content, schema } => {
                [rule, field.into(), content.into(), schema.into()]
            }
            OperatorMismatch { rule, condition, operator, field_type } => {
                [rule, condition, operator.into(), field_type.into()]
            }
            BadFlags { rule, condition, flags } => [rule, condition, flags.into(), 0],
            ValueOutOfRange { rule, condition } | StringLengthOverflow { rule, condition } => {
                [rule, condition, 0, 0]
            }
            StringOutOfBounds { rule, condition, end, pool } => [rule, condition, end, pool],
            BadAnchor { rule, anchor } => [rule, anchor.into(), 0, 0],
            IndexKeyMismatch { rule } | IndexNotSorted { rule } => [rule, 0, 0, 0],
        }
    }

    /// Rebuilds an error from what [`code`](Self::code) and [`args`](Self::args)
    /// produced; `None` for a code or argument no validator sends.
    pub fn from_wire(code: u32, offset: u32, args: [u32; 4]) -> Option<ValidationError> {
        use ErrorKind::*;
        let [a, b, c, d] = args;
        let kind = match code {
            1 => Empty,
            2 => Truncated { needed: a, available: b },
            3 => BadMagic { found: a },
            4 => UnsupportedFormat { found: narrow16(a)? },
            5 => NonZeroReserved,
            6 => TotalLengthTooSmall { declared: a, minimum: b },
            7 => TrailingBytes { declared: a, actual: b },
            8 => LimitExceeded { limit: Limit::from_code(a)?, found: b, max: c },
            9 => BadChecksum { stored: a, computed: b },
            10 => UnknownSchemaVersion { found: narrow16(a)? },
            11 => UnknownSection { id: narrow16(a)? },
            12 => DuplicateSection { id: narrow16(a)? },
            13 => MissingSection { id: narrow16(a)? },
            14 => SectionLengthOverflow { id: narrow16(a)? },
            15 => SectionOutOfBounds { id: narrow16(a)?, end: b, total: c },
            16 => SectionMisplaced { id: narrow16(a)?, offset: b, expected: c },
            17 => SectionLength { id: narrow16(a)?, len: b, entry: c },
            18 => UnclaimedBytes { end: a, total: b },
            19 => UnknownKind { entry: a, code: narrow16(b)? },
            20 => KindNotFilterable { entry: a, code: narrow16(b)? },
            21 => UnknownAction { entry: a, code: narrow8(b)? },
            22 => DuplicateGroup { entry: a, code: narrow16(b)?, action: narrow8(c)? },
            23 => GroupOrder { entry: a },
            24 => GroupMisplaced { entry: a, first_rule: b, expected: c },
            25 => GroupOutOfBounds { entry: a, end: wide(b, c), rules: d },
            26 => RulesUnclaimed { claimed: a, rules: b },
            27 => RuleIdOutOfRange { entry: a, id: b, rules: c },
            28 => DuplicateRuleId { entry: a, id: b },
            29 => ConditionsMisplaced { rule: a, first: b, expected: c },
            30 => ConditionsOutOfBounds { rule: a, end: wide(b, c), conditions: d },
            31 => ConditionsUnclaimed { claimed: a, conditions: b },
            32 => UnknownOperator { rule: a, condition: b, code: narrow8(c)? },
            33 => UnknownFieldType { rule: a, condition: b, code: narrow8(c)? },
            34 => FieldOutOfRange { rule: a, field: narrow8(b)?, supplied: narrow8(c)? },
            35 => FieldNotMatchable { rule: a, field: narrow8(b)? },
            36 => TypeMismatch { rule: a, field: narrow8(b)?, content: narrow8(c)?, schema: narrow8(d)? },
            37 => OperatorMismatch { rule: a, condition: b, operator: narrow8(c)?, field_type: narrow8(d)? },
            38 => BadFlags { rule: a, condition: b, flags: narrow8(c)? },
            39 => ValueOutOfRange { rule: a, condition: b },
            40 => StringLengthOverflow { rule: a, condition: b },
            41 => StringOutOfBounds { rule: a, condition: b, end: c, pool: d },
            42 => BadAnchor { rule: a, anchor: narrow8(b)? },
            43 => IndexKeyMismatch { rule: a },
            44 => IndexNotSorted { rule: a },
            45 => AnchorMaskMismatch { entry: a },
            _ => return None,
        };
        Some(ValidationError { offset: usize::try_from(offset).ok()?, kind })
    }
}

fn section_name(id: u16) -> &'static str {
    match id {
        crate::format::section::GROUPS => "groups",
        crate::format::section::RULES => "rules",
        crate::format::section::CONDITIONS => "conditions",
        crate::format::section::STRINGS => "strings",
        _ => "unknown",
    }
}

fn type_name(code: u8) -> &'static str {
    ringfence_wire::FieldType::from_code(code).map_or("unknown type", |t| t.name())
}

fn op_name(code: u8) -> &'static str {
    crate::format::Operator::from_code(code).map_or("unknown operator", |o| o.name())
}

struct Which(u32);

impl fmt::Display for Which {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == NAME { f.write_str("its name") } else { write!(f, "condition {}", self.0) }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ErrorKind::*;
        write!(f, "at byte {}: ", self.offset)?;
        match self.kind {
            Empty => f.write_str("the content is empty"),
            Truncated { needed, available } => {
                write!(f, "truncated: {needed} bytes needed, {available} present")
            }
            BadMagic { found } => write!(f, "not ringfence content (magic {found:#010x})"),
            UnsupportedFormat { found } => write!(f, "unsupported content format version {found}"),
            NonZeroReserved => f.write_str("a reserved field is not zero"),
            TotalLengthTooSmall { declared, minimum } => {
                write!(f, "declared length {declared} is smaller than the minimum {minimum}")
            }
            TrailingBytes { declared, actual } => {
                write!(f, "{actual} bytes where the header declares {declared}")
            }
            LimitExceeded { limit, found, max } => {
                write!(f, "{found} {} exceeds the limit of {max}", limit.name())
            }
            BadChecksum { stored, computed } => {
                write!(f, "checksum {stored:#010x} does not match the content ({computed:#010x})")
            }
            UnknownSchemaVersion { found } => write!(f, "unknown schema version {found}"),
            UnknownSection { id } => write!(f, "unknown section id {id}"),
            DuplicateSection { id } => write!(f, "section {} appears twice", section_name(id)),
            MissingSection { id } => write!(f, "section {} is missing", section_name(id)),
            SectionLengthOverflow { id } => {
                write!(f, "section {}: offset + length overflows", section_name(id))
            }
            SectionOutOfBounds { id, end, total } => {
                write!(f, "section {} ends at {end}, past the content's {total} bytes", section_name(id))
            }
            SectionMisplaced { id, offset, expected } => {
                write!(f, "section {} starts at {offset}, expected {expected}", section_name(id))
            }
            SectionLength { id, len, entry } => {
                write!(f, "section {} is {len} bytes, not a multiple of {entry}", section_name(id))
            }
            UnclaimedBytes { end, total } => {
                write!(f, "bytes {end}..{total} belong to no section")
            }
            UnknownKind { entry, code } => write!(f, "group {entry}: unknown event kind {code}"),
            KindNotFilterable { entry, code } => {
                write!(f, "group {entry}: event kind {code} is the sensor's own and takes no rules")
            }
            UnknownAction { entry, code } => write!(f, "group {entry}: unknown action {code}"),
            DuplicateGroup { entry, code, action } => {
                write!(f, "group {entry}: a second group for kind {code}, action {action}")
            }
            GroupOrder { entry } => write!(f, "group {entry} is out of order"),
            GroupMisplaced { entry, first_rule, expected } => {
                write!(f, "group {entry} starts at rule {first_rule}, expected {expected}")
            }
            GroupOutOfBounds { entry, end, rules } => {
                write!(f, "group {entry} ends at rule {end}, past the {rules} rules")
            }
            RulesUnclaimed { claimed, rules } => {
                write!(f, "groups claim {claimed} of the {rules} rules")
            }
            RuleIdOutOfRange { entry, id, rules } => {
                write!(f, "rule entry {entry} has id {id}, not below the {rules} rules")
            }
            DuplicateRuleId { entry, id } => write!(f, "rule entry {entry} repeats id {id}"),
            ConditionsMisplaced { rule, first, expected } => {
                write!(f, "rule {rule}: conditions start at {first}, expected {expected}")
            }
            ConditionsOutOfBounds { rule, end, conditions } => {
                write!(f, "rule {rule}: conditions end at {end}, past the {conditions} conditions")
            }
            ConditionsUnclaimed { claimed, conditions } => {
                write!(f, "rules claim {claimed} of the {conditions} conditions")
            }
            UnknownOperator { rule, condition, code } => {
                write!(f, "rule {rule}, condition {condition}: unknown operator {code}")
            }
            UnknownFieldType { rule, condition, code } => {
                write!(f, "rule {rule}, condition {condition}: unknown field type {code}")
            }
            FieldOutOfRange { rule, field, supplied } => write!(
                f,
                "rule {rule} reads field {field}, but the sensor supplies {supplied} fields for this event kind"
            ),
            FieldNotMatchable { rule, field } => {
                write!(f, "rule {rule} matches field {field}, which the sensor fills from the verdict")
            }
            TypeMismatch { rule, field, content, schema } => write!(
                f,
                "rule {rule} treats field {field} as {}, the sensor supplies {}",
                type_name(content),
                type_name(schema)
            ),
            OperatorMismatch { rule, condition, operator, field_type } => write!(
                f,
                "rule {rule}, condition {condition}: {} does not apply to {}",
                op_name(operator),
                type_name(field_type)
            ),
            BadFlags { rule, condition, flags } => {
                write!(f, "rule {rule}, condition {condition}: flags {flags:#04x} are not valid here")
            }
            ValueOutOfRange { rule, condition } => {
                write!(f, "rule {rule}, condition {condition}: value out of the field's range")
            }
            StringLengthOverflow { rule, condition } => {
                write!(f, "rule {rule}, {}: string offset + length overflows", Which(condition))
            }
            StringOutOfBounds { rule, condition, end, pool } => write!(
                f,
                "rule {rule}, {}: string ends at unit {end}, past the {pool}-unit pool",
                Which(condition)
            ),
            BadAnchor { rule, anchor } => write!(f, "rule {rule}: anchor {anchor} cannot index the rule"),
            IndexKeyMismatch { rule } => write!(f, "rule {rule}: index key does not match its anchor"),
            IndexNotSorted { rule } => write!(f, "rule {rule} is out of index order"),
            AnchorMaskMismatch { entry } => {
                write!(f, "group {entry}: anchor mask does not match its rules")
            }
        }
    }
}
