//! Why content was rejected: a byte offset and a precise reason. Every reason
//! travels as (code, offset, four u32 arguments), so the driver can report it
//! in the LOAD_CONTENT response and the companion can rebuild and print it.

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
    /// A group without rules: it would turn "no include rule" (keep) into "drop everything".
    EmptyGroup {
        entry: u32,
    },
    /// A rule outside the index (no anchor) whose key is not zero: a key means
    /// something only for an anchored rule.
    KeyWithoutAnchor {
        rule: u32,
        key: u64,
    },
    /// Evaluating one event could cost more than the published budget: group
    /// `entry`'s rule `rule` (its id; [`ErrorKind::INDEX_LOOKUPS`] for the
    /// group's index lookups) brings the worst case of an event of the group's
    /// kind to `cost` work units (saturated at u32::MAX).
    CostOverBudget {
        entry: u32,
        rule: u32,
        cost: u32,
        budget: u32,
    },
}

/// `condition` in string errors that concern the rule's name.
pub(crate) const NAME: u32 = ErrorKind::RULE_NAME;

impl ErrorKind {
    /// The `condition` of a string error about the rule's name rather than a pattern.
    pub const RULE_NAME: u32 = u32::MAX;
    /// The `rule` of a cost error charged to a group's index lookups.
    pub const INDEX_LOOKUPS: u32 = u32::MAX;
}

mod display;
pub(crate) mod wire;
