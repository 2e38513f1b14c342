//! The rule compiler (feature `compiler`, std): TOML rules → binary content.
//! [`compile`] reads the syntax documented in examples/content/README.md;
//! [`compile_rules`] takes rules already in memory (tests, other front ends).
//! Both check every rule against the schema they are given, so content the
//! compiler emits for a schema is content the validator accepts for it.
// User-mode code; every size below is bounded by a published limit checked first.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects, clippy::cast_possible_truncation)]

mod emit;
mod source;

use crate::error::Limit;
use crate::format::{Action, Operator};
use core::fmt;
use ringfence_wire::{EventKind, FieldType, Schema};
use std::string::String;
use std::vec::Vec;

pub use source::compile;

/// One rule in memory. Its id is its position in the slice given to [`compile_rules`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSpec {
    pub name: String,
    pub kind: EventKind,
    pub action: Action,
    pub conditions: Vec<ConditionSpec>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConditionSpec {
    /// The field's index in the schema compiled against.
    pub field: u8,
    pub operator: Operator,
    pub negated: bool,
    /// Fold ASCII case (strings only).
    pub case_insensitive: bool,
    pub value: SpecValue,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpecValue {
    /// For u32, u64 and time fields.
    Integer(u64),
    Bool(bool),
    /// UTF-16 code units.
    Str(Vec<u16>),
}

/// Why rules did not compile: the rule (index in the file, from 0, and name)
/// and the line (from 1; 0 when the rules did not come from text).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    pub line: usize,
    /// The rule's index and name, when the error concerns one rule.
    pub rule: Option<(usize, String)>,
    pub kind: CompileErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompileErrorKind {
    /// Not TOML, or not the expected shape (the TOML parser's message).
    Syntax {
        message: String,
    },
    UnknownKind {
        name: String,
    },
    /// Only activity kinds take rules.
    KindNotFilterable {
        kind: EventKind,
    },
    UnknownAction {
        name: String,
    },
    UnknownField {
        kind: EventKind,
        field: String,
    },
    /// Field index past the kind's fields (from [`compile_rules`]).
    FieldOutOfRange {
        kind: EventKind,
        field: u8,
        supplied: u8,
    },
    /// Filled from the verdict (rule_name): content cannot match on it.
    FieldNotMatchable {
        field: &'static str,
    },
    /// A condition needs exactly one operator.
    NoOperator {
        field: &'static str,
    },
    SeveralOperators {
        field: &'static str,
    },
    OperatorMismatch {
        field: &'static str,
        operator: Operator,
        ty: FieldType,
    },
    /// The value is not of the field's type.
    ValueType {
        field: &'static str,
        expected: FieldType,
    },
    ValueOutOfRange {
        field: &'static str,
    },
    /// `case_sensitive` on a field that is not a string.
    CaseOnNonString {
        field: &'static str,
    },
    LimitExceeded {
        limit: Limit,
        found: usize,
        max: usize,
    },
}

impl CompileError {
    pub(crate) fn new(line: usize, rule: Option<(usize, String)>, kind: CompileErrorKind) -> Self {
        CompileError { line, rule, kind }
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CompileErrorKind::*;
        if self.line > 0 {
            write!(f, "line {}: ", self.line)?;
        }
        if let Some((index, name)) = &self.rule {
            if name.is_empty() {
                write!(f, "rule {index}: ")?;
            } else {
                write!(f, "rule {index} ({name:?}): ")?;
            }
        }
        match &self.kind {
            Syntax { message } => write!(f, "{}", message.trim_end()),
            UnknownKind { name } => write!(f, "unknown event kind {name:?}"),
            KindNotFilterable { kind } => {
                write!(f, "{} is the sensor's own event and takes no rules", kind.name())
            }
            UnknownAction { name } => write!(f, "unknown action {name:?} (include or exclude)"),
            UnknownField { kind, field } => write!(f, "{} has no field {field:?}", kind.name()),
            FieldOutOfRange { kind, field, supplied } => {
                write!(f, "{} has {supplied} fields, not field {field}", kind.name())
            }
            FieldNotMatchable { field } => write!(f, "{field} is set from the verdict and cannot be matched"),
            NoOperator { field } => write!(f, "the condition on {field} has no operator"),
            SeveralOperators { field } => write!(f, "the condition on {field} has more than one operator"),
            OperatorMismatch { field, operator, ty } => {
                write!(f, "{} does not apply to {field}, a {}", operator.name(), ty.name())
            }
            ValueType { field, expected } => write!(f, "{field} takes a {} value", expected.name()),
            ValueOutOfRange { field } => write!(f, "the value is out of range for {field}"),
            CaseOnNonString { field } => write!(f, "case_sensitive applies to strings; {field} is not one"),
            LimitExceeded { limit, found, max } => {
                write!(f, "{found} {} exceeds the limit of {max}", limit.name())
            }
        }
    }
}

impl std::error::Error for CompileError {}

/// Compiles rules in memory into content `version` for `schema`.
pub fn compile_rules(rules: &[RuleSpec], version: u32, schema: &Schema) -> Result<Vec<u8>, CompileError> {
    let lines = std::vec![0; rules.len()];
    emit::emit(rules, &lines, version, schema, true)
}

/// [`compile_rules`] without the index: every rule is checked for every event
/// of its kind. Valid content, for benches that measure what the index saves.
#[doc(hidden)]
pub fn compile_rules_unindexed(
    rules: &[RuleSpec],
    version: u32,
    schema: &Schema,
) -> Result<Vec<u8>, CompileError> {
    let lines = std::vec![0; rules.len()];
    emit::emit(rules, &lines, version, schema, false)
}
