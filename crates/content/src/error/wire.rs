//! Errors on the wire: a stable code and four u32 arguments per reason, and back.

use super::{ErrorKind, Limit, ValidationError};

// Shared with format 2's reasons (`v2::wire`): a u64 as two words, narrowing back.

pub(crate) fn lo(v: u64) -> u32 {
    u32::try_from(v & 0xFFFF_FFFF).unwrap_or(0)
}

pub(crate) fn hi(v: u64) -> u32 {
    u32::try_from(v >> 32).unwrap_or(0)
}

pub(crate) fn wide(lo: u32, hi: u32) -> u64 {
    u64::from(lo) | (u64::from(hi) << 32)
}

pub(crate) fn narrow16(v: u32) -> Option<u16> {
    u16::try_from(v).ok()
}

pub(crate) fn narrow8(v: u32) -> Option<u8> {
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
            EmptyGroup { .. } => 46,
            KeyWithoutAnchor { .. } => 47,
            CostOverBudget { .. } => 48,
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
            GroupOrder { entry } | AnchorMaskMismatch { entry } | EmptyGroup { entry } => [entry, 0, 0, 0],
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
            KeyWithoutAnchor { rule, key } => [rule, lo(key), hi(key), 0],
            CostOverBudget { entry, rule, cost, budget } => [entry, rule, cost, budget],
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
            46 => EmptyGroup { entry: a },
            47 => KeyWithoutAnchor { rule: a, key: wide(b, c) },
            48 => CostOverBudget { entry: a, rule: b, cost: c, budget: d },
            _ => return None,
        };
        Some(ValidationError { offset: usize::try_from(offset).ok()?, kind })
    }
}
