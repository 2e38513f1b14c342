//! Readable reasons, for `content check` and the companion's report of a rejected load.

use super::{ErrorKind, NAME, ValidationError};
use core::fmt;

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

struct Rule(u32);

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == ErrorKind::INDEX_LOOKUPS {
            f.write_str("its index lookups")
        } else {
            write!(f, "rule {}", self.0)
        }
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
            EmptyGroup { entry } => write!(f, "group {entry} has no rules"),
            AnchorMaskMismatch { entry } => {
                write!(f, "group {entry}: anchor mask does not match its rules")
            }
            KeyWithoutAnchor { rule, key } => {
                write!(f, "rule {rule} is outside the index but has key {key:#018x}, not 0")
            }
            CostOverBudget { entry, rule, cost, budget } => {
                let what = Rule(rule);
                write!(
                    f,
                    "group {entry}, {what}: an event's worst-case evaluation cost reaches {cost} work units, over the budget of {budget}"
                )
            }
        }
    }
}
