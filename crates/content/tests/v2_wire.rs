//! Format 2's reasons on the wire: every reason travels as (code, offset, four words) and
//! comes back whole, codes are unique and in format 2's block, and nothing else decodes.

use ringfence_content::v2::wire::{REASON_BASE, REASON_END, is_format2_reason};
use ringfence_content::v2::{ErrorKind, Limit, Table, ValidationError};

const TABLES: [Table; 16] = [
    Table::Scanners,
    Table::Classes,
    Table::States,
    Table::Gotos,
    Table::Patterns,
    Table::Globs,
    Table::GlobUnits,
    Table::Predicates,
    Table::Values,
    Table::Rules,
    Table::Code,
    Table::Strings,
    Table::Refs,
    Table::Always,
    Table::Regexes,
    Table::Gates,
];

/// One value of every reason, with distinct numbers in every position.
fn every_kind() -> Vec<ErrorKind> {
    use ErrorKind::*;
    vec![
        Empty,
        Truncated { needed: 24, available: 3 },
        BadMagic { found: 0xDEAD_BEEF },
        UnsupportedFormat { found: 7 },
        NonZeroReserved,
        TotalLengthTooSmall { declared: 5, minimum: 24 },
        TrailingBytes { declared: 100, actual: 108 },
        LimitExceeded { limit: Limit::EvaluationCost, found: 0x1_0000_0005, max: 64_000_000 },
        BadChecksum { stored: 1, computed: 2 },
        UnknownSchemaVersion { found: 0 },
        SectionCount { found: 11 },
        UnexpectedSection { position: 3, id: 9 },
        SectionLengthOverflow { id: 4 },
        SectionOutOfBounds { id: 5, end: 900, total: 800 },
        SectionMisplaced { id: 6, offset: 120, expected: 124 },
        SectionLength { id: 7, len: 13, entry: 12 },
        UnclaimedBytes { end: 400, total: 404 },
        RangeOutOfBounds {
            table: Table::Predicates,
            entry: (1 << 24) - 1,
            target: Table::Strings,
            first: 17,
            count: 3,
            len: 19,
        },
        UnknownKind { table: Table::Rules, entry: 2, code: 99 },
        FieldNotSupplied { table: Table::Scanners, entry: 1, kind: 3, field: 29 },
        FieldNotMatchable { table: Table::Predicates, entry: 4, field: 10 },
        OperatorTypeMismatch { entry: 5, operator: 9, field_type: 1 },
        UnknownOperator { entry: 6, code: 200 },
        UnknownFlags { table: Table::Values, entry: 7, flags: 0x80 },
        BadCaseMode { table: Table::Globs, entry: 8, case: 3 },
        AsciiClassMisplaced { scanner: 1, unit: 65 },
        ClassUnitsUnsorted { scanner: 2, entry: 130 },
        ClassOutOfRange { scanner: 3, class: 40, count: 39 },
        BadRoot { scanner: 4 },
        RootRowNotDense { scanner: 5 },
        StateOutOfRange { scanner: 6, state: 7, target: 800 },
        PatternOutOfRange { scanner: 7, state: 8, pattern: 900 },
        BadDepth { scanner: 8, state: 9, depth: 10 },
        UnreachableState { scanner: 8, state: 11 },
        GotosUnsorted { scanner: 9, state: 10 },
        LinkNotShallower { scanner: 10, state: 11, target: 12 },
        DictionaryWithoutOutput { scanner: 11, state: 12, target: 13 },
        PatternStateMismatch { scanner: 12, pattern: 13, state: 14 },
        BadGlob { glob: 15 },
        ScannerMismatch { predicate: 16, scanner: 17 },
        ValueOutOfRange { predicate: 18, value: 19, index: 0x2_0000_0001 },
        BadValues { predicate: 20 },
        UnknownRole { entry: 21, code: 4 },
        RulesUnsorted { entry: 22, id: 23 },
        KindNotFilterable { entry: 24, code: 5 },
        UnknownOpcode { rule: 25, at: 26, code: 9 },
        StackUnderflow { rule: 27, at: 28 },
        ResultCount { rule: 29, results: 2 },
        PredicateIndex { rule: 30, at: 31, index: 32, count: 3 },
        GotoNotBreadthFirst { scanner: 33, state: 34, target: 35 },
        BadReference { pattern: 36, rule: 37 },
        BadAlwaysList { entry: 38, rule: 39 },
        RuleNotGated { rule: 40 },
        MissingReference { rule: 41, pattern: 42 },
        RegexMisplaced { regex: 43, offset: 44, expected: 45 },
        RegexOutOfBounds { regex: 46, end: 47, len: 48 },
        RegexStateOutOfRange { regex: 49, word: 50, target: 51 },
        RegexClassOutOfRange { regex: 52, byte: 53, class: 54 },
        RegexDeadNotDead { regex: 55, class: 56 },
        BadGate { predicate: 57, value: 58 },
        WrongDefault { rule: 59, found: 60, expected: 61 },
        GatesUncovered { used: 62, entries: 63 },
    ]
}

#[test]
fn every_reason_comes_back_whole_with_a_code_of_its_own_in_format_2_block() {
    let kinds = every_kind();
    let mut codes: Vec<u32> = Vec::new();
    for (i, kind) in kinds.into_iter().enumerate() {
        let error = ValidationError { offset: 1000 + i, kind };
        let code = error.code();
        assert!(is_format2_reason(code) && (REASON_BASE..REASON_END).contains(&code), "{code:#x}");
        assert_eq!(code, REASON_BASE + u32::try_from(i).unwrap(), "codes follow the declaration order");
        let offset = u32::try_from(error.offset).unwrap();
        assert_eq!(ValidationError::from_wire(code, offset, error.args()), Some(error));
        codes.push(code);
    }
    assert_eq!(codes.len(), 62, "every reason is listed");
}

#[test]
fn every_limit_and_table_comes_back_whole() {
    let mut limits = vec![
        Limit::TotalBytes,
        Limit::Classes,
        Limit::PatternUnits,
        Limit::GlobTokens,
        Limit::PredicatesPerRule,
        Limit::CodePerRule,
        Limit::Stack,
        Limit::NameUnits,
        Limit::MetaUnits,
        Limit::EvaluationCost,
        Limit::RegexStates,
        Limit::RegexClasses,
        Limit::Regexes,
    ];
    limits.extend(TABLES.map(Limit::Entries));
    let mut codes: Vec<u32> = limits.iter().map(|l| l.code()).collect();
    for limit in limits {
        assert_eq!(Limit::from_code(limit.code()), Some(limit));
        let error = ValidationError { offset: 8, kind: ErrorKind::LimitExceeded { limit, found: 9, max: 8 } };
        assert_eq!(ValidationError::from_wire(error.code(), 8, error.args()), Some(error));
    }
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), 29, "limit codes are unique");
    // `RangeOutOfBounds` names tables 1 to 15 (four bits each); a range in `gates` is
    // reported as `BadGate`.
    let ranged = &TABLES[..15];
    for &table in ranged {
        for &target in ranged {
            let kind = ErrorKind::RangeOutOfBounds { table, entry: 5, target, first: 1, count: 2, len: 3 };
            let error = ValidationError { offset: 0, kind };
            assert_eq!(ValidationError::from_wire(error.code(), 0, error.args()), Some(error));
        }
    }
}

#[test]
fn codes_and_arguments_no_format_2_validator_sends_decode_to_nothing() {
    assert_eq!(ValidationError::from_wire(REASON_BASE - 1, 0, [0; 4]), None, "format 1's block");
    assert_eq!(ValidationError::from_wire(REASON_BASE + 62, 0, [0; 4]), None, "past the last reason");
    assert_eq!(
        ValidationError::from_wire(REASON_BASE + 60, 0, [1, 256, 0, 0]),
        None,
        "a default byte past u8"
    );
    assert_eq!(ValidationError::from_wire(0x1000, 0, [0; 4]), None, "a trust reason");
    assert_eq!(ValidationError::from_wire(REASON_BASE + 7, 0, [0, 1, 0, 1]), None, "limit 0");
    assert_eq!(ValidationError::from_wire(REASON_BASE + 7, 0, [0x10, 1, 0, 1]), None, "table 0's entries");
    assert_eq!(ValidationError::from_wire(REASON_BASE + 7, 0, [0x21, 1, 0, 1]), None, "table 17's entries");
    assert_eq!(ValidationError::from_wire(REASON_BASE + 18, 0, [17, 0, 1, 0]), None, "table 17");
    assert_eq!(ValidationError::from_wire(REASON_BASE + 3, 0, [0x1_0000, 0, 0, 0]), None, "format over u16");
    assert_eq!(ValidationError::from_wire(REASON_BASE + 22, 0, [1, 256, 0, 0]), None, "operator over u8");
    assert!(!is_format2_reason(0xFF) && !is_format2_reason(REASON_END));
}
