//! Format 2's reasons on the wire: the `LOAD_CONTENT` response's reason code
//! and four u32 arguments, and back.
//!
//! Format 2's reasons have their own block of codes, [`REASON_BASE`] and up,
//! between format 1's (1 to 255) and ringfence-trust's (`0x1000` and up): the
//! same name in both formats does not carry the same arguments (format 2 names
//! tables), so a code tells the companion which validator's reason to rebuild.
//! Arguments are the reason's values in declaration order; a table travels as
//! its section id, a [`Limit`] as [`Limit::code`], a u64 as two words (low
//! first). [`ErrorKind::RangeOutOfBounds`] has five values: its entry index
//! (below 2^24 under every published limit) shares the first word with the two
//! table ids (bits 24 to 27 and 28 to 31): tables 1 to 15, the ones whose
//! entries name ranges (a value's range in `gates`, table 16, is reported as
//! [`ErrorKind::BadGate`]).

use super::error::{ErrorKind, Limit, Table, ValidationError};
use crate::error::wire::{hi, lo, narrow8 as n8, narrow16 as n16, wide};

/// The first format-2 reason code.
pub const REASON_BASE: u32 = 0x100;
/// One past the last code this block may ever use.
pub const REASON_END: u32 = 0x1000;

/// Whether `code` is in format 2's block.
pub const fn is_format2_reason(code: u32) -> bool {
    code >= REASON_BASE && code < REASON_END
}

const ENTRY_BITS: u32 = 24;
const ENTRY_MASK: u32 = (1 << ENTRY_BITS) - 1;

impl Table {
    /// The table's section id (1 to 16), as on the wire.
    pub const fn code(self) -> u32 {
        match self {
            Table::Scanners => 1,
            Table::Classes => 2,
            Table::States => 3,
            Table::Gotos => 4,
            Table::Patterns => 5,
            Table::Globs => 6,
            Table::GlobUnits => 7,
            Table::Predicates => 8,
            Table::Values => 9,
            Table::Rules => 10,
            Table::Code => 11,
            Table::Strings => 12,
            Table::Refs => 13,
            Table::Always => 14,
            Table::Regexes => 15,
            Table::Gates => 16,
        }
    }

    fn from_code(code: u32) -> Option<Table> {
        Table::of_section(n16(code)?)
    }
}

/// Where [`Limit::Entries`] codes start: `ENTRIES + table code` (for table codes below 16, the
/// same number as `ENTRIES | table code`, which they were sent as before `gates`, 16).
const ENTRIES: u32 = 0x10;

impl Limit {
    /// A stable number for the limit, sent over the wire.
    pub const fn code(self) -> u32 {
        match self {
            Limit::TotalBytes => 1,
            Limit::Classes => 2,
            Limit::PatternUnits => 3,
            Limit::GlobTokens => 4,
            Limit::PredicatesPerRule => 5,
            Limit::CodePerRule => 6,
            Limit::Stack => 7,
            Limit::NameUnits => 8,
            Limit::MetaUnits => 9,
            Limit::EvaluationCost => 10,
            Limit::RegexStates => 11,
            Limit::RegexClasses => 12,
            Limit::Regexes => 13,
            Limit::Entries(table) => ENTRIES.wrapping_add(table.code()),
        }
    }

    pub fn from_code(code: u32) -> Option<Limit> {
        Some(match code {
            1 => Limit::TotalBytes,
            2 => Limit::Classes,
            3 => Limit::PatternUnits,
            4 => Limit::GlobTokens,
            5 => Limit::PredicatesPerRule,
            6 => Limit::CodePerRule,
            7 => Limit::Stack,
            8 => Limit::NameUnits,
            9 => Limit::MetaUnits,
            10 => Limit::EvaluationCost,
            11 => Limit::RegexStates,
            12 => Limit::RegexClasses,
            13 => Limit::Regexes,
            c => Limit::Entries(Table::from_code(c.checked_sub(ENTRIES)?)?),
        })
    }
}

impl ValidationError {
    /// A stable number for the reason, sent over the wire: [`REASON_BASE`] + its position
    /// in [`ErrorKind`] (below 256, so an OR).
    pub fn code(&self) -> u32 {
        use ErrorKind::*;
        let position: u32 = match self.kind {
            Empty => 0,
            Truncated { .. } => 1,
            BadMagic { .. } => 2,
            UnsupportedFormat { .. } => 3,
            NonZeroReserved => 4,
            TotalLengthTooSmall { .. } => 5,
            TrailingBytes { .. } => 6,
            LimitExceeded { .. } => 7,
            BadChecksum { .. } => 8,
            UnknownSchemaVersion { .. } => 9,
            SectionCount { .. } => 10,
            UnexpectedSection { .. } => 11,
            SectionLengthOverflow { .. } => 12,
            SectionOutOfBounds { .. } => 13,
            SectionMisplaced { .. } => 14,
            SectionLength { .. } => 15,
            UnclaimedBytes { .. } => 16,
            RangeOutOfBounds { .. } => 17,
            UnknownKind { .. } => 18,
            FieldNotSupplied { .. } => 19,
            FieldNotMatchable { .. } => 20,
            OperatorTypeMismatch { .. } => 21,
            UnknownOperator { .. } => 22,
            UnknownFlags { .. } => 23,
            BadCaseMode { .. } => 24,
            AsciiClassMisplaced { .. } => 25,
            ClassUnitsUnsorted { .. } => 26,
            ClassOutOfRange { .. } => 27,
            BadRoot { .. } => 28,
            RootRowNotDense { .. } => 29,
            StateOutOfRange { .. } => 30,
            PatternOutOfRange { .. } => 31,
            BadDepth { .. } => 32,
            UnreachableState { .. } => 33,
            GotosUnsorted { .. } => 34,
            LinkNotShallower { .. } => 35,
            DictionaryWithoutOutput { .. } => 36,
            PatternStateMismatch { .. } => 37,
            BadGlob { .. } => 38,
            ScannerMismatch { .. } => 39,
            ValueOutOfRange { .. } => 40,
            BadValues { .. } => 41,
            UnknownRole { .. } => 42,
            RulesUnsorted { .. } => 43,
            KindNotFilterable { .. } => 44,
            UnknownOpcode { .. } => 45,
            StackUnderflow { .. } => 46,
            ResultCount { .. } => 47,
            PredicateIndex { .. } => 48,
            GotoNotBreadthFirst { .. } => 49,
            BadReference { .. } => 50,
            BadAlwaysList { .. } => 51,
            RuleNotGated { .. } => 52,
            MissingReference { .. } => 53,
            RegexMisplaced { .. } => 54,
            RegexOutOfBounds { .. } => 55,
            RegexStateOutOfRange { .. } => 56,
            RegexClassOutOfRange { .. } => 57,
            RegexDeadNotDead { .. } => 58,
            BadGate { .. } => 59,
            WrongDefault { .. } => 60,
            GatesUncovered { .. } => 61,
        };
        REASON_BASE | position
    }

    /// The reason's values, in declaration order, zero-filled (see the module's notes).
    pub fn args(&self) -> [u32; 4] {
        use ErrorKind::*;
        match self.kind {
            Empty | NonZeroReserved => [0; 4],
            Truncated { needed, available } => [needed, available, 0, 0],
            BadMagic { found } => [found, 0, 0, 0],
            UnsupportedFormat { found } | UnknownSchemaVersion { found } | SectionCount { found } => {
                [found.into(), 0, 0, 0]
            }
            TotalLengthTooSmall { declared, minimum } => [declared, minimum, 0, 0],
            TrailingBytes { declared, actual } => [declared, actual, 0, 0],
            LimitExceeded { limit, found, max } => {
                [limit.code(), lo(found), hi(found), u32::try_from(max).unwrap_or(u32::MAX)]
            }
            BadChecksum { stored, computed } => [stored, computed, 0, 0],
            UnexpectedSection { position, id } => [position.into(), id.into(), 0, 0],
            SectionLengthOverflow { id } => [id.into(), 0, 0, 0],
            SectionOutOfBounds { id, end, total } => [id.into(), end, total, 0],
            SectionMisplaced { id, offset, expected } => [id.into(), offset, expected, 0],
            SectionLength { id, len, entry } => [id.into(), len, entry, 0],
            UnclaimedBytes { end, total } => [end, total, 0, 0],
            RangeOutOfBounds { table, entry, target, first, count, len } => {
                let tables = (table.code() << ENTRY_BITS) | (target.code() << (ENTRY_BITS + 4));
                [tables | entry.min(ENTRY_MASK), first, count, len]
            }
            UnknownKind { table, entry, code } => [table.code(), entry, code.into(), 0],
            FieldNotSupplied { table, entry, kind, field } => {
                [table.code(), entry, kind.into(), field.into()]
            }
            FieldNotMatchable { table, entry, field } => [table.code(), entry, field.into(), 0],
            OperatorTypeMismatch { entry, operator, field_type } => {
                [entry, operator.into(), field_type.into(), 0]
            }
            UnknownOperator { entry, code } | UnknownRole { entry, code } => [entry, code.into(), 0, 0],
            UnknownFlags { table, entry, flags } => [table.code(), entry, flags, 0],
            BadCaseMode { table, entry, case } => [table.code(), entry, case.into(), 0],
            AsciiClassMisplaced { scanner, unit } => [scanner, unit, 0, 0],
            ClassUnitsUnsorted { scanner, entry } => [scanner, entry, 0, 0],
            ClassOutOfRange { scanner, class, count } => [scanner, class, count, 0],
            BadRoot { scanner } | RootRowNotDense { scanner } => [scanner, 0, 0, 0],
            GotosUnsorted { scanner, state } | UnreachableState { scanner, state } => [scanner, state, 0, 0],
            BadDepth { scanner, state, depth } => [scanner, state, depth, 0],
            BadReference { pattern, rule } => [pattern, rule, 0, 0],
            BadAlwaysList { entry, rule } => [entry, rule, 0, 0],
            RuleNotGated { rule } => [rule, 0, 0, 0],
            MissingReference { rule, pattern } => [rule, pattern, 0, 0],
            StateOutOfRange { scanner, state, target }
            | GotoNotBreadthFirst { scanner, state, target }
            | LinkNotShallower { scanner, state, target }
            | DictionaryWithoutOutput { scanner, state, target } => [scanner, state, target, 0],
            PatternOutOfRange { scanner, state, pattern } => [scanner, state, pattern, 0],
            PatternStateMismatch { scanner, pattern, state } => [scanner, pattern, state, 0],
            BadGlob { glob } => [glob, 0, 0, 0],
            ScannerMismatch { predicate, scanner } => [predicate, scanner, 0, 0],
            ValueOutOfRange { predicate, value, index } => [predicate, value, lo(index), hi(index)],
            BadValues { predicate } => [predicate, 0, 0, 0],
            RulesUnsorted { entry, id } => [entry, id, 0, 0],
            KindNotFilterable { entry, code } => [entry, code.into(), 0, 0],
            UnknownOpcode { rule, at, code } => [rule, at, code.into(), 0],
            StackUnderflow { rule, at } => [rule, at, 0, 0],
            ResultCount { rule, results } => [rule, results, 0, 0],
            PredicateIndex { rule, at, index, count } => [rule, at, index.into(), count],
            RegexMisplaced { regex, offset, expected } => [regex, offset, expected, 0],
            RegexOutOfBounds { regex, end, len } => [regex, end, len, 0],
            RegexStateOutOfRange { regex, word, target } => [regex, word, target, 0],
            RegexClassOutOfRange { regex, byte, class } => [regex, byte, class, 0],
            RegexDeadNotDead { regex, class } => [regex, class, 0, 0],
            BadGate { predicate, value } => [predicate, value, 0, 0],
            WrongDefault { rule, found, expected } => [rule, found.into(), expected.into(), 0],
            GatesUncovered { used, entries } => [used, entries, 0, 0],
        }
    }

    /// Rebuilds an error from what [`code`](Self::code) and [`args`](Self::args)
    /// produced; `None` for a code or argument no format-2 validator sends.
    pub fn from_wire(code: u32, offset: u32, args: [u32; 4]) -> Option<ValidationError> {
        use ErrorKind::*;
        let [a, b, c, d] = args;
        let table = Table::from_code;
        let kind = match code.checked_sub(REASON_BASE)? {
            0 => Empty,
            1 => Truncated { needed: a, available: b },
            2 => BadMagic { found: a },
            3 => UnsupportedFormat { found: n16(a)? },
            4 => NonZeroReserved,
            5 => TotalLengthTooSmall { declared: a, minimum: b },
            6 => TrailingBytes { declared: a, actual: b },
            7 => LimitExceeded { limit: Limit::from_code(a)?, found: wide(b, c), max: u64::from(d) },
            8 => BadChecksum { stored: a, computed: b },
            9 => UnknownSchemaVersion { found: n16(a)? },
            10 => SectionCount { found: n16(a)? },
            11 => UnexpectedSection { position: n16(a)?, id: n16(b)? },
            12 => SectionLengthOverflow { id: n16(a)? },
            13 => SectionOutOfBounds { id: n16(a)?, end: b, total: c },
            14 => SectionMisplaced { id: n16(a)?, offset: b, expected: c },
            15 => SectionLength { id: n16(a)?, len: b, entry: c },
            16 => UnclaimedBytes { end: a, total: b },
            17 => RangeOutOfBounds {
                table: table((a >> ENTRY_BITS) & 0xF)?,
                entry: a & ENTRY_MASK,
                target: table(a >> (ENTRY_BITS + 4))?,
                first: b,
                count: c,
                len: d,
            },
            18 => UnknownKind { table: table(a)?, entry: b, code: n16(c)? },
            19 => FieldNotSupplied { table: table(a)?, entry: b, kind: n16(c)?, field: n8(d)? },
            20 => FieldNotMatchable { table: table(a)?, entry: b, field: n8(c)? },
            21 => OperatorTypeMismatch { entry: a, operator: n8(b)?, field_type: n8(c)? },
            22 => UnknownOperator { entry: a, code: n8(b)? },
            23 => UnknownFlags { table: table(a)?, entry: b, flags: c },
            24 => BadCaseMode { table: table(a)?, entry: b, case: n8(c)? },
            25 => AsciiClassMisplaced { scanner: a, unit: b },
            26 => ClassUnitsUnsorted { scanner: a, entry: b },
            27 => ClassOutOfRange { scanner: a, class: b, count: c },
            28 => BadRoot { scanner: a },
            29 => RootRowNotDense { scanner: a },
            30 => StateOutOfRange { scanner: a, state: b, target: c },
            31 => PatternOutOfRange { scanner: a, state: b, pattern: c },
            32 => BadDepth { scanner: a, state: b, depth: c },
            33 => UnreachableState { scanner: a, state: b },
            34 => GotosUnsorted { scanner: a, state: b },
            35 => LinkNotShallower { scanner: a, state: b, target: c },
            36 => DictionaryWithoutOutput { scanner: a, state: b, target: c },
            37 => PatternStateMismatch { scanner: a, pattern: b, state: c },
            38 => BadGlob { glob: a },
            39 => ScannerMismatch { predicate: a, scanner: b },
            40 => ValueOutOfRange { predicate: a, value: b, index: wide(c, d) },
            41 => BadValues { predicate: a },
            42 => UnknownRole { entry: a, code: n8(b)? },
            43 => RulesUnsorted { entry: a, id: b },
            44 => KindNotFilterable { entry: a, code: n16(b)? },
            45 => UnknownOpcode { rule: a, at: b, code: n8(c)? },
            46 => StackUnderflow { rule: a, at: b },
            47 => ResultCount { rule: a, results: b },
            48 => PredicateIndex { rule: a, at: b, index: n16(c)?, count: d },
            49 => GotoNotBreadthFirst { scanner: a, state: b, target: c },
            50 => BadReference { pattern: a, rule: b },
            51 => BadAlwaysList { entry: a, rule: b },
            52 => RuleNotGated { rule: a },
            53 => MissingReference { rule: a, pattern: b },
            54 => RegexMisplaced { regex: a, offset: b, expected: c },
            55 => RegexOutOfBounds { regex: a, end: b, len: c },
            56 => RegexStateOutOfRange { regex: a, word: b, target: c },
            57 => RegexClassOutOfRange { regex: a, byte: b, class: c },
            58 => RegexDeadNotDead { regex: a, class: b },
            59 => BadGate { predicate: a, value: b },
            60 => WrongDefault { rule: a, found: n8(b)?, expected: n8(c)? },
            61 => GatesUncovered { used: a, entries: b },
            _ => return None,
        };
        Some(ValidationError { offset: usize::try_from(offset).ok()?, kind })
    }
}
