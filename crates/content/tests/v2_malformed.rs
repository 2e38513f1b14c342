//! Format 2's malformed-content suite: each validator error produced by a
//! minimal corruption of valid content (the checksum recomputed, so the
//! structural check is what refuses it), with the exact error asserted.

#![allow(clippy::cast_possible_truncation)]

mod v2_common;

use ringfence_content::content_checksum;
use ringfence_content::v2::build::{
    BuildErrorKind, Compare, ExprSpec, GlobPart, OperatorSpec, PredicateSpec, RuleSpec, ValueSpec, build,
};
use ringfence_content::v2::format::{
    self, MAX_EVALUATION_COST, MAX_STRING_UNITS, NONE, code, glob, goto, header, pattern, predicate, rule,
    scanner, section, state, value,
};
use ringfence_content::v2::{
    ErrorKind, Filter, Limit, Role, RuleIds, Table, ValidationError, evaluate_raw, validate,
};
use ringfence_wire::{EventKind, KindDef, SCHEMA, Schema};
use v2_common::*;

/// One rule reading every table: contains ["ab", "ac", "b", "éü"] on the
/// command line (scanner 0; states breadth-first: root 0, a 1, b 2, é 3, ab 4,
/// ac 5, éü 6) or a glob `ab*?` (its gate: "ab", pattern 0), and an integer
/// comparison; a second rule so that rule order matters; a third, on the
/// session alone, that is not gated (the `always` list).
fn base() -> Vec<u8> {
    let glob = PredicateSpec {
        field: COMMAND_LINE,
        operator: OperatorSpec::Glob,
        values: vec![ValueSpec::Glob(vec![
            GlobPart::Literal("ab".into()),
            GlobPart::AnyRun,
            GlobPart::AnyChar,
        ])],
        all: false,
        case_insensitive: true,
        windash: false,
    };
    let session = session_predicate();
    // `(contains or glob) and session`: the rule is listed by every one of its patterns.
    let mut first = detection(
        1,
        vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["ab", "ac", "b", "éü"]), glob, session],
    );
    first.condition = ExprSpec::All(vec![
        ExprSpec::Any(vec![ExprSpec::Predicate(0), ExprSpec::Predicate(1)]),
        ExprSpec::Predicate(2),
    ]);
    let rules = [
        first,
        detection(2, vec![predicate(PARENT_IMAGE, OperatorSpec::EndsWith, &["x"])]),
        detection(3, vec![PredicateSpec { values: vec![ValueSpec::Integer(7)], ..session_predicate() }]),
    ];
    built(&rules)
}

fn session_predicate() -> PredicateSpec {
    PredicateSpec {
        field: SESSION,
        operator: OperatorSpec::Compare(Compare::Equals),
        values: vec![ValueSpec::Integer(1)],
        all: false,
        case_insensitive: false,
        windash: false,
    }
}

fn section_offset(bytes: &[u8], id: u16) -> usize {
    let at = header::LEN + (usize::from(id) - 1) * section::ENTRY_LEN + section::OFFSET;
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize
}

fn section_len(bytes: &[u8], id: u16) -> usize {
    let at = header::LEN + (usize::from(id) - 1) * section::ENTRY_LEN + section::LEN;
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize
}

/// Byte offset of `field` in entry `index` of section `id`.
fn at(bytes: &[u8], id: u16, index: usize, field: usize) -> usize {
    section_offset(bytes, id) + index * section::ENTRY[usize::from(id) - 1] + field
}

/// `bytes` with `new` written at `offset`, checksum recomputed.
fn patched(bytes: &[u8], offset: usize, new: &[u8]) -> Vec<u8> {
    let mut b = bytes.to_vec();
    b[offset..offset + new.len()].copy_from_slice(new);
    let sum = content_checksum(&b);
    b[header::CHECKSUM..header::CHECKSUM + 4].copy_from_slice(&sum.to_le_bytes());
    b
}

#[track_caller]
fn refused(bytes: &[u8]) -> ValidationError {
    match validate(bytes, &SCHEMA) {
        Ok(_) => panic!("corrupted content was accepted"),
        Err(e) => e,
    }
}

fn u32le(v: u32) -> [u8; 4] {
    v.to_le_bytes()
}

#[test]
fn the_base_content_is_valid_and_has_the_layout_the_suite_assumes() {
    let b = base();
    let c = validate(&b, &SCHEMA).unwrap();
    assert_eq!((c.rule_count(), c.state_count(), c.pattern_count()), (3, 9, 5));
    let read = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    assert_eq!(read(at(&b, section::STATES, 4, state::DEPTH)), 2);
    assert_eq!(read(at(&b, section::STATES, 4, state::FAIL)), 2);
    assert_eq!(read(at(&b, section::STATES, 1, state::GOTO_COUNT)), 2);
    assert_eq!(read(at(&b, section::PATTERNS, 2, pattern::STATE)), 2);
    // Rules 1 and 2 are gated (their patterns list them), rule 3 is not.
    let read16 = |o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap());
    assert_eq!(read(at(&b, section::PATTERNS, 3, pattern::FIRST_REF)), 3);
    assert_eq!(read(at(&b, section::PATTERNS, 4, pattern::REF_COUNT)), 1);
    assert_eq!(read16(at(&b, section::REFS, 4, 0)), 1);
    let always_len = header::LEN + 13 * section::ENTRY_LEN + section::LEN;
    assert_eq!((read(always_len), read16(at(&b, section::ALWAYS, 0, 0))), (2, 2));
}

#[test]
fn header_corruptions_are_refused_with_their_reason() {
    let b = base();
    assert_eq!(refused(&[]), ValidationError { offset: 0, kind: ErrorKind::Empty });
    assert_eq!(refused(&b[..10]).kind, ErrorKind::Truncated { needed: 24, available: 10 });
    assert_eq!(
        refused(&patched(&b, 0, b"XFCT")).kind,
        ErrorKind::BadMagic { found: u32::from_le_bytes(*b"XFCT") }
    );
    let v3 = patched(&b, header::FORMAT_VERSION, &3u16.to_le_bytes());
    assert_eq!(refused(&v3), ValidationError { offset: 8, kind: ErrorKind::UnsupportedFormat { found: 3 } });
    let mut flipped = b.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert!(matches!(refused(&flipped).kind, ErrorKind::BadChecksum { .. }));
    let mut longer = b.clone();
    longer.push(0);
    let total = b.len() as u32;
    assert_eq!(refused(&longer).kind, ErrorKind::TrailingBytes { declared: total, actual: total + 1 });
    let schema0 = patched(&b, header::SCHEMA_VERSION, &0u16.to_le_bytes());
    assert_eq!(refused(&schema0).kind, ErrorKind::UnknownSchemaVersion { found: 0 });
    let reserved = patched(&b, header::RESERVED, &1u16.to_le_bytes());
    assert_eq!(
        refused(&reserved),
        ValidationError { offset: header::RESERVED, kind: ErrorKind::NonZeroReserved }
    );
}

/// A wrong checksum is the first fault named, whatever else is wrong: any
/// byte of the directory, the scanners, the states, the gotos or a rule
/// flipped without the checksum recomputed.
#[test]
fn a_wrong_checksum_is_named_before_any_structural_fault() {
    let b = base();
    let states = section_offset(&b, section::STATES)..section_offset(&b, section::GOTOS);
    let directory = header::LEN..section::FIRST_OFFSET;
    let scanners = section_offset(&b, section::SCANNERS)..section_offset(&b, section::CLASSES);
    let gotos = section_offset(&b, section::GOTOS)..section_offset(&b, section::PATTERNS);
    let rules = section_offset(&b, section::RULES)..section_offset(&b, section::CODE);
    let stored = u32::from_le_bytes(b[header::CHECKSUM..header::CHECKSUM + 4].try_into().unwrap());
    for at in states.chain(directory).chain(scanners).chain(gotos).chain(rules) {
        let mut flipped = b.clone();
        flipped[at] ^= 0x10;
        let computed = content_checksum(&flipped);
        assert_ne!(computed, stored, "byte {at}");
        assert_eq!(
            refused(&flipped),
            ValidationError { offset: header::CHECKSUM, kind: ErrorKind::BadChecksum { stored, computed } },
            "byte {at}"
        );
    }
}

#[test]
fn directory_corruptions_are_refused_with_their_reason() {
    let b = base();
    let count = patched(&b, header::SECTION_COUNT, &11u16.to_le_bytes());
    assert_eq!(refused(&count).kind, ErrorKind::SectionCount { found: 11 });
    let second = header::LEN + section::ENTRY_LEN;
    let swapped = patched(&b, second + section::ID, &3u16.to_le_bytes());
    assert_eq!(
        refused(&swapped),
        ValidationError { offset: second, kind: ErrorKind::UnexpectedSection { position: 1, id: 3 } }
    );
    let rules = header::LEN + 9 * section::ENTRY_LEN;
    let rules_len = u32::from_le_bytes(b[rules + section::LEN..rules + section::LEN + 4].try_into().unwrap());
    let short = patched(&b, rules + section::LEN, &u32le(rules_len - 1));
    assert_eq!(refused(&short).kind, ErrorKind::SectionLength { id: 10, len: rules_len - 1, entry: 40 });
    let past = patched(&b, rules + section::LEN, &u32le(u32::MAX - 10));
    assert_eq!(refused(&past).kind, ErrorKind::SectionLengthOverflow { id: 10 });
}

#[test]
fn automaton_corruptions_are_refused_with_their_reason() {
    let b = base();
    let sc = 0;
    let e = refused(&patched(&b, at(&b, section::STATES, 0, state::FAIL), &u32le(1)));
    assert_eq!(e.kind, ErrorKind::BadRoot { scanner: sc });
    let e = refused(&patched(&b, at(&b, section::STATES, 4, state::FAIL), &u32le(4)));
    assert_eq!(e.kind, ErrorKind::LinkNotShallower { scanner: sc, state: 4, target: 4 });
    // "ac" → "ab": as deep, not below the first state of depth 2.
    let e = refused(&patched(&b, at(&b, section::STATES, 5, state::FAIL), &u32le(4)));
    assert_eq!(e.kind, ErrorKind::LinkNotShallower { scanner: sc, state: 5, target: 4 });
    let e = refused(&patched(&b, at(&b, section::STATES, 4, state::FAIL), &u32le(9)));
    assert_eq!(e.kind, ErrorKind::StateOutOfRange { scanner: sc, state: 4, target: 9 });
    // State 1 ("a") has no output: no dictionary link may lead there.
    let e = refused(&patched(&b, at(&b, section::STATES, 6, state::DICT), &u32le(1)));
    assert_eq!(e.kind, ErrorKind::DictionaryWithoutOutput { scanner: sc, state: 6, target: 1 });
    // "é" (depth 1) said to be two deep: depth 2 begins where the depth-1 states' children do (4).
    let e = refused(&patched(&b, at(&b, section::STATES, 3, state::DEPTH), &u32le(2)));
    assert_eq!(e.kind, ErrorKind::BadDepth { scanner: sc, state: 3, depth: 2 });
    let e = refused(&patched(&b, at(&b, section::STATES, 6, state::DEPTH), &u32le(1)));
    assert_eq!(e.kind, ErrorKind::BadDepth { scanner: sc, state: 6, depth: 1 });
    let e = refused(&patched(&b, at(&b, section::STATES, 4, state::OUTPUT), &u32le(7)));
    assert_eq!(e.kind, ErrorKind::PatternOutOfRange { scanner: sc, state: 4, pattern: 7 });
    let e = refused(&patched(&b, at(&b, section::STATES, 4, state::OUTPUT), &u32le(1)));
    assert_eq!(e.kind, ErrorKind::PatternStateMismatch { scanner: sc, pattern: 1, state: 4 });
    // State 1's two gotos (classes b = 2, c = 3) swapped.
    let first =
        u32::from_le_bytes(b[at(&b, section::STATES, 1, state::FIRST_GOTO)..][..4].try_into().unwrap())
            as usize;
    let g = at(&b, section::GOTOS, first, goto::CLASS);
    let unsorted = patched(&patched(&b, g, &3u16.to_le_bytes()), g + goto::LEN, &2u16.to_le_bytes());
    assert_eq!(refused(&unsorted).kind, ErrorKind::GotosUnsorted { scanner: sc, state: 1 });
    let e = refused(&patched(&b, at(&b, section::GOTOS, 2, goto::CLASS), &5u16.to_le_bytes()));
    assert_eq!(e.kind, ErrorKind::RootRowNotDense { scanner: sc });
    // "a" → "b" (depth 1): not the next state in breadth-first order (4).
    let e = refused(&patched(&b, at(&b, section::GOTOS, first, goto::TARGET), &u32le(2)));
    assert_eq!(e.kind, ErrorKind::GotoNotBreadthFirst { scanner: sc, state: 1, target: 2 });
    let e = refused(&patched(&b, at(&b, section::GOTOS, first, goto::TARGET), &u32le(NONE)));
    assert_eq!(e.kind, ErrorKind::StateOutOfRange { scanner: sc, state: 1, target: NONE });
    // The root's edge on "é" (class 4) removed: "a"'s children are then not the next states.
    let e = refused(&patched(&b, at(&b, section::GOTOS, 4, goto::TARGET), &u32le(0)));
    assert_eq!(e.kind, ErrorKind::GotoNotBreadthFirst { scanner: sc, state: 1, target: 4 });
    // Scanner 1 ("x"; its root row is goto entries 9 and 10): the root's edge removed, "x" is nobody's child.
    let e = refused(&patched(&b, at(&b, section::GOTOS, 10, goto::TARGET), &u32le(0)));
    assert_eq!(e.kind, ErrorKind::UnreachableState { scanner: 1, state: 1 });
    let e = refused(&patched(&b, at(&b, section::PATTERNS, 0, pattern::LEN_UNITS), &u32le(3)));
    assert_eq!(e.kind, ErrorKind::PatternStateMismatch { scanner: sc, pattern: 0, state: 4 });
    // Goto rows are contiguous: state 3's must start where state 2's ended (entry 8).
    let e = refused(&patched(&b, at(&b, section::STATES, 3, state::FIRST_GOTO), &u32le(0)));
    let kind = ErrorKind::RangeOutOfBounds {
        table: Table::States,
        entry: 3,
        target: Table::Gotos,
        first: 0,
        count: 1,
        len: 8,
    };
    assert_eq!(e.kind, kind);
}

#[test]
fn class_table_corruptions_are_refused_with_their_reason() {
    let b = base();
    let e = refused(&patched(&b, at(&b, section::CLASSES, 65, 0), &66u16.to_le_bytes()));
    assert_eq!(e.kind, ErrorKind::AsciiClassMisplaced { scanner: 0, unit: 65 });
    // The two non-ASCII entries (é, ü) in the wrong order.
    let e = refused(&patched(&b, at(&b, section::CLASSES, 129, 0), &0xE9u16.to_le_bytes()));
    assert_eq!(e.kind, ErrorKind::ClassUnitsUnsorted { scanner: 0, entry: 129 });
    let e = refused(&patched(&b, at(&b, section::CLASSES, 97, 2), &6u16.to_le_bytes()));
    assert_eq!(e.kind, ErrorKind::ClassOutOfRange { scanner: 0, class: 6, count: 6 });
    let e = refused(&patched(&b, at(&b, section::SCANNERS, 0, scanner::CASE), &[2]));
    assert_eq!(e.kind, ErrorKind::BadCaseMode { table: Table::Scanners, entry: 0, case: 2 });
}

#[test]
fn glob_corruptions_are_refused_with_their_reason() {
    let b = base();
    // Tokens: a b * ? — a star next to a star, and a mask past the last token.
    let e = refused(&patched(&b, at(&b, section::GLOBS, 0, glob::STAR_MASK), &12u64.to_le_bytes()));
    assert_eq!(e.kind, ErrorKind::BadGlob { glob: 0 });
    let e = refused(&patched(&b, at(&b, section::GLOBS, 0, glob::ANY_MASK), &16u64.to_le_bytes()));
    assert_eq!(e.kind, ErrorKind::BadGlob { glob: 0 });
    let e = refused(&patched(&b, at(&b, section::GLOBS, 0, glob::TOKENS), &[64]));
    assert_eq!(e.kind, ErrorKind::LimitExceeded { limit: Limit::GlobTokens, found: 64, max: 63 });
}

#[test]
fn predicate_and_value_corruptions_are_refused_with_their_reason() {
    let b = base();
    let e = refused(&patched(&b, at(&b, section::PREDICATES, 0, predicate::OPERATOR), &[14]));
    assert_eq!(e.kind, ErrorKind::UnknownOperator { entry: 0, code: 14 });
    let e = refused(&patched(&b, at(&b, section::PREDICATES, 0, predicate::FLAGS), &[4]));
    assert_eq!(e.kind, ErrorKind::UnknownFlags { table: Table::Predicates, entry: 0, flags: 4 });
    // The contains predicate pointed at the image's scanner.
    let e = refused(&patched(&b, at(&b, section::PREDICATES, 0, predicate::SCANNER), &u32le(1)));
    assert_eq!(e.kind, ErrorKind::ScannerMismatch { predicate: 0, scanner: 1 });
    let e = refused(&patched(&b, at(&b, section::VALUES, 1, value::VALUE), &9u64.to_le_bytes()));
    assert_eq!(e.kind, ErrorKind::ValueOutOfRange { predicate: 0, value: 1, index: 9 });
    let e = refused(&patched(&b, at(&b, section::VALUES, 0, value::FLAGS), &u32le(value::ALT)));
    assert_eq!(e.kind, ErrorKind::BadValues { predicate: 0 });
    // The integer comparison turned into a contains on an integer field.
    let e = refused(&patched(&b, at(&b, section::PREDICATES, 2, predicate::OPERATOR), &[2]));
    assert_eq!(e.kind, ErrorKind::ScannerMismatch { predicate: 2, scanner: NONE });
    let e = refused(&patched(&b, at(&b, section::PREDICATES, 2, predicate::OPERATOR), &[11]));
    assert_eq!(e.kind, ErrorKind::BadValues { predicate: 2 });
    // The glob on the session (an integer): its gate's scanner then reads another field,
    // and without the gate, the operator does not fit the field.
    let on_session = patched(&b, at(&b, section::PREDICATES, 1, predicate::FIELD), &[SESSION]);
    let e = refused(&on_session);
    assert_eq!(e.kind, ErrorKind::ScannerMismatch { predicate: 1, scanner: 0 });
    let ungated = patched(&on_session, at(&b, section::PREDICATES, 1, predicate::SCANNER), &u32le(NONE));
    let ungated = patched(&ungated, at(&b, section::PREDICATES, 1, predicate::FLAGS), &[0]);
    let ungated = patched(&ungated, at(&b, section::VALUES, 4, value::FLAGS), &u32le(0));
    let ungated = patched(&ungated, at(&b, section::VALUES, 4, value::VALUE), &0u64.to_le_bytes());
    let e = refused(&ungated);
    assert_eq!(e.kind, ErrorKind::OperatorTypeMismatch { entry: 1, operator: 5, field_type: 1 });
}

/// The glob's value (value entry 4: the contains predicate has four) and its
/// gate: entry 0 of `gates`, pattern 0 of scanner 0 ("ab"), flagged on the
/// value and, every value being gated, on the predicate (predicate 1).
#[test]
fn gate_corruptions_are_refused_with_their_reason() {
    let b = base();
    let glob_value = at(&b, section::VALUES, 4, 0);
    let word = glob_value + value::VALUE + 4;
    let gate0 = at(&b, section::GATES, 0, 0);
    let read = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    assert_eq!(read(word), value::gate_word(0, 1), "one gate, entry 0");
    assert_eq!(section_len(&b, section::GATES), 4, "one entry");
    assert_eq!(read(gate0), 0, "pattern 0");
    assert_eq!(read(glob_value + value::FLAGS), value::GATED);
    assert_eq!(b[at(&b, section::PREDICATES, 1, predicate::FLAGS)], predicate::GATED);
    assert_eq!(read(at(&b, section::PREDICATES, 1, predicate::SCANNER)), 0);
    let bad =
        |value| ValidationError { offset: glob_value, kind: ErrorKind::BadGate { predicate: 1, value } };
    let bad_entry = ValidationError { offset: gate0, kind: ErrorKind::BadGate { predicate: 1, value: 0 } };
    // The gate is "ac" (pattern 1): not a literal run of `ab*?`.
    assert_eq!(refused(&patched(&b, gate0, &u32le(1))), bad_entry);
    // "b" (pattern 2) is part of a run, not the run: refused as well.
    assert_eq!(refused(&patched(&b, gate0, &u32le(2))), bad_entry);
    // Past the scanner's four patterns.
    assert_eq!(refused(&patched(&b, gate0, &u32le(4))), bad_entry);
    // No gate, two gates (a glob has one), and a first entry past where the gates start.
    assert_eq!(refused(&patched(&b, word, &u32le(value::gate_word(0, 0)))), bad(0));
    assert_eq!(refused(&patched(&b, word, &u32le(value::gate_word(0, 2)))), bad(0));
    assert_eq!(refused(&patched(&b, word, &u32le(value::gate_word(1, 1)))), bad(0));
    // A gate on the contains predicate's value.
    let e = refused(&patched(&b, at(&b, section::VALUES, 0, value::FLAGS), &u32le(value::GATED)));
    assert_eq!(e.kind, ErrorKind::BadGate { predicate: 0, value: 0 });
    // The predicate flagged as gated with its value not (no gate word either), and the reverse.
    let e = refused(&patched(&patched(&b, glob_value + value::FLAGS, &u32le(0)), word, &u32le(0)));
    let at_flags = at(&b, section::PREDICATES, 1, predicate::FLAGS);
    assert_eq!(e, ValidationError { offset: at_flags, kind: ErrorKind::BadGate { predicate: 1, value: 1 } });
    let e = refused(&patched(&b, at_flags, &[0]));
    assert_eq!(e, ValidationError { offset: at_flags, kind: ErrorKind::BadGate { predicate: 1, value: 1 } });
    // The gates' scanner: the parent image's (another field), or none.
    let e = refused(&patched(&b, at(&b, section::PREDICATES, 1, predicate::SCANNER), &u32le(1)));
    assert_eq!(e.kind, ErrorKind::ScannerMismatch { predicate: 1, scanner: 1 });
    let e = refused(&patched(&b, at(&b, section::PREDICATES, 1, predicate::SCANNER), &u32le(NONE)));
    assert_eq!(e, bad(0));
    // Gate bits on an ungated value: its index is then past the globs.
    let ungated = patched(&patched(&b, glob_value + value::FLAGS, &u32le(0)), at_flags, &[0]);
    let e = refused(&ungated);
    assert_eq!(e.kind, ErrorKind::ValueOutOfRange { predicate: 1, value: 0, index: 1 << 56 });
    // The value ungated whole: the entry of `gates` is no value's, but first the
    // rule, `(contains or glob) and session`, is no longer false without its
    // patterns (an entry of `gates` no value claims: the gate-set case below).
    let unclaimed = patched(&ungated, word, &u32le(0));
    let not_gated = ErrorKind::RuleNotGated { rule: 1 };
    assert_eq!(
        refused(&unclaimed),
        ValidationError { offset: at(&b, section::RULES, 0, 0), kind: not_gated }
    );
}

/// A regular expression with a set of gates: `\\(pwsh|powershell)\.exe`
/// (predicate 0), gated by `\powershell.exe` or `\pwsh.exe` (patterns 0 and
/// 1 of scanner 0, entries 0 and 1 of `gates`); then the image's `ends with`.
fn gate_set_base() -> Vec<u8> {
    let rules = [detection(
        1,
        vec![
            predicate(COMMAND_LINE, OperatorSpec::Regex, &[r"\\(pwsh|powershell)\.exe"]),
            predicate(PARENT_IMAGE, OperatorSpec::EndsWith, &["x"]),
        ],
    )];
    built(&rules)
}

#[test]
fn gate_set_corruptions_are_refused_with_their_reason() {
    let b = gate_set_base();
    let word = at(&b, section::VALUES, 0, value::VALUE) + 4;
    let read = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let (gate0, gate1) = (at(&b, section::GATES, 0, 0), at(&b, section::GATES, 1, 0));
    assert_eq!(read(word), value::gate_word(0, 2), "two gates from entry 0");
    assert_eq!((read(gate0), read(gate1)), (0, 1));
    assert_eq!(section_len(&b, section::GATES), 8);
    let at_gate = |offset| ValidationError { offset, kind: ErrorKind::BadGate { predicate: 0, value: 0 } };
    // Not strictly ascending: the same pattern twice, or the two swapped.
    assert_eq!(refused(&patched(&b, gate1, &u32le(0))), at_gate(gate1));
    assert_eq!(refused(&patched(&patched(&b, gate0, &u32le(1)), gate1, &u32le(0))), at_gate(gate1));
    // Past the scanner's patterns ("\\powershell.exe", "\\pwsh.exe", "x" is the image's).
    assert_eq!(refused(&patched(&b, gate1, &u32le(2))), at_gate(gate1));
    // Three gates: the third entry is past `gates`; over MAX_VALUE_GATES.
    let three = refused(&patched(&b, word, &u32le(value::gate_word(0, 3))));
    assert_eq!(three, at_gate(gate1 + 4));
    let over = refused(&patched(&b, word, &u32le(value::gate_word(0, format::MAX_VALUE_GATES + 1))));
    assert_eq!(over, at_gate(at(&b, section::VALUES, 0, 0)));
    // One gate of the two: entry 1 is then no value's.
    let one = refused(&patched(&b, word, &u32le(value::gate_word(0, 1))));
    assert_eq!(
        one,
        ValidationError { offset: gate1, kind: ErrorKind::GatesUncovered { used: 1, entries: 2 } }
    );
    // Either gate found runs the expression; neither: false without running.
    let c = validate(&b, &SCHEMA).unwrap();
    let report = |cmd: &str| {
        let event = TestEvent::start(vec![(COMMAND_LINE, text(cmd)), (PARENT_IMAGE, text("x"))]);
        v2_common::evaluate(&c, &event).matched
    };
    assert_eq!(report(r"C:\x\PWSH.EXE -c 1"), vec![1]);
    assert_eq!(report(r"c:\x\powershell.exe"), vec![1]);
    assert_eq!(report(r"c:\x\pwsh.com powershell.exe"), Vec::<u32>::new());
}

/// A glob with two literal runs, `*net*config*`: both required (`GATES_ALL`),
/// gates `config` and `net` (patterns 0 and 1 of scanner 0, the rarer added first).
fn glob_all_base() -> Vec<u8> {
    let glob = PredicateSpec {
        values: vec![ValueSpec::Glob(vec![
            GlobPart::AnyRun,
            GlobPart::Literal("net".into()),
            GlobPart::AnyRun,
            GlobPart::Literal("config".into()),
            GlobPart::AnyRun,
        ])],
        ..predicate(COMMAND_LINE, OperatorSpec::Glob, &[])
    };
    built(&[detection(1, vec![glob])])
}

#[test]
fn glob_gates_all_required_corruptions_are_refused_with_their_reason() {
    let b = glob_all_base();
    let (flags, word) =
        (at(&b, section::VALUES, 0, value::FLAGS), at(&b, section::VALUES, 0, value::VALUE) + 4);
    let read = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let (gate0, gate1) = (at(&b, section::GATES, 0, 0), at(&b, section::GATES, 1, 0));
    assert_eq!(read(flags), value::GATED | value::GATES_ALL);
    assert_eq!(read(word), value::gate_word(0, 2));
    assert_eq!((read(gate0), read(gate1)), (0, 1));
    let bad = |offset| ValidationError { offset, kind: ErrorKind::BadGate { predicate: 0, value: 0 } };
    let value_at = at(&b, section::VALUES, 0, 0);
    // Two gates of a glob without `GATES_ALL`; `GATES_ALL` with one gate, or without `GATED`.
    assert_eq!(refused(&patched(&b, flags, &u32le(value::GATED))), bad(value_at));
    let one = patched(&patched(&b, word, &u32le(value::gate_word(0, 1))), gate1, &u32le(0));
    assert_eq!(refused(&one), bad(value_at));
    let ungated = patched(&patched(&b, flags, &u32le(value::GATES_ALL)), word, &u32le(0));
    assert_eq!(refused(&ungated), bad(value_at));
    // The same run twice.
    assert_eq!(refused(&patched(&b, gate1, &u32le(0))), bad(gate1));
    // The two swapped: a valid order (the first is the rule's listing gate, the others
    // ascending), but `net` (pattern 1) does not list the rule: `config` does.
    let swapped = patched(&patched(&b, gate0, &u32le(1)), gate1, &u32le(0));
    assert_eq!(refused(&swapped).kind, ErrorKind::MissingReference { rule: 1, pattern: 1 });
    // Either gate missing: false without running; both found: the glob decides.
    let c = validate(&b, &SCHEMA).unwrap();
    let report = |cmd: &str| {
        let event = TestEvent::start(vec![(COMMAND_LINE, text(cmd))]);
        v2_common::evaluate(&c, &event).matched
    };
    assert_eq!(report("NET config"), vec![1]);
    assert_eq!(report("config net"), Vec::<u32>::new(), "both found, out of order");
    assert_eq!(report("net user"), Vec::<u32>::new());
    assert_eq!(report("ipconfig"), Vec::<u32>::new());
}

#[test]
fn rule_and_code_corruptions_are_refused_with_their_reason() {
    let b = base();
    let e = refused(&patched(&b, at(&b, section::RULES, 1, rule::ID), &u32le(1)));
    assert_eq!(e.kind, ErrorKind::RulesUnsorted { entry: 1, id: 1 });
    let e = refused(&patched(&b, at(&b, section::RULES, 0, rule::ROLE), &[3]));
    assert_eq!(e.kind, ErrorKind::UnknownRole { entry: 0, code: 3 });
    // Rule 2 moved to process exit, which has no parent image (field 12).
    let e = refused(&patched(&b, at(&b, section::RULES, 1, rule::KIND), &2u16.to_le_bytes()));
    let kind =
        ErrorKind::FieldNotSupplied { table: Table::Predicates, entry: 3, kind: 2, field: PARENT_IMAGE };
    assert_eq!(e, ValidationError { offset: at(&b, section::PREDICATES, 3, predicate::FIELD), kind });
    let e = refused(&patched(&b, at(&b, section::RULES, 0, rule::NAME_LEN), &300u16.to_le_bytes()));
    assert_eq!(e.kind, ErrorKind::LimitExceeded { limit: Limit::NameUnits, found: 300, max: 256 });
    // Rule 1's code: PRED 0, PRED 1, OR 2, PRED 2, AND 2.
    let e = refused(&patched(&b, at(&b, section::CODE, 4, code::OPCODE), &[9]));
    assert_eq!(e.kind, ErrorKind::UnknownOpcode { rule: 1, at: 4, code: 9 });
    let e = refused(&patched(&b, at(&b, section::CODE, 4, code::ARG), &3u16.to_le_bytes()));
    assert_eq!(e.kind, ErrorKind::StackUnderflow { rule: 1, at: 4 });
    let e = refused(&patched(&b, at(&b, section::CODE, 4, code::ARG), &1u16.to_le_bytes()));
    assert_eq!(e.kind, ErrorKind::ResultCount { rule: 1, results: 2 });
    let e = refused(&patched(&b, at(&b, section::CODE, 1, code::ARG), &3u16.to_le_bytes()));
    assert_eq!(e.kind, ErrorKind::PredicateIndex { rule: 1, at: 1, index: 3, count: 3 });
    let e = refused(&patched(&b, at(&b, section::CODE, 1, code::RESERVED), &[1]));
    assert_eq!(e.kind, ErrorKind::NonZeroReserved);
}

#[test]
fn candidate_index_corruptions_are_refused_with_their_reason() {
    let b = base();
    // Pattern 4 ("x") lists rule index 3: there are three rules.
    let e = refused(&patched(&b, at(&b, section::REFS, 4, 0), &3u16.to_le_bytes()));
    assert_eq!(
        e,
        ValidationError {
            offset: at(&b, section::REFS, 4, 0),
            kind: ErrorKind::BadReference { pattern: 4, rule: 3 }
        }
    );
    let e = refused(&patched(&b, at(&b, section::ALWAYS, 0, 0), &3u16.to_le_bytes()));
    assert_eq!(e.kind, ErrorKind::BadAlwaysList { entry: 0, rule: 3 });
    // Pattern 0 ("ab") lists rule index 1 instead of 0: rule 1 would be skipped when "ab" is found.
    let e = refused(&patched(&b, at(&b, section::REFS, 0, 0), &1u16.to_le_bytes()));
    assert_eq!(
        e,
        ValidationError {
            offset: at(&b, section::RULES, 0, 0),
            kind: ErrorKind::MissingReference { rule: 1, pattern: 0 }
        }
    );
    // `always` names rule index 1 (gated: allowed) instead of 2 (on the session alone: not gated):
    // rule index 1 keeps its kernel default (false), which a rule in `always` has not.
    let moved = patched(&b, at(&b, section::ALWAYS, 0, 0), &1u16.to_le_bytes());
    let e = refused(&moved);
    assert_eq!(
        e,
        ValidationError {
            offset: at(&b, section::RULES, 1, rule::DEFAULT),
            kind: ErrorKind::WrongDefault {
                rule: 2,
                found: rule::DEFAULT_FALSE,
                expected: rule::DEFAULT_NONE
            }
        }
    );
    let e = refused(&patched(&moved, at(&b, section::RULES, 1, rule::DEFAULT), &[rule::DEFAULT_NONE]));
    assert_eq!(e.kind, ErrorKind::RuleNotGated { rule: 3 });
    // A gated rule's default is its code's: any other byte is refused.
    for wrong in [rule::DEFAULT_NONE, rule::DEFAULT_UNKNOWN, 3, 0xff] {
        let e = refused(&patched(&b, at(&b, section::RULES, 1, rule::DEFAULT), &[wrong]));
        assert_eq!(
            e,
            ValidationError {
                offset: at(&b, section::RULES, 1, rule::DEFAULT),
                kind: ErrorKind::WrongDefault { rule: 2, found: wrong, expected: rule::DEFAULT_FALSE }
            }
        );
    }
    // An include rule is never gated.
    let e = refused(&patched(&b, at(&b, section::RULES, 1, rule::ROLE), &[Role::Include as u8]));
    assert_eq!(e.kind, ErrorKind::RuleNotGated { rule: 2 });
}

/// `x and rarepattern` on the command line (listed by the rarer conjunct's
/// pattern alone), `q or w` (command line, parent image: listed by both), and
/// `all of [x, q]` (every value required: listed by one of them).
fn listing_base() -> Vec<u8> {
    let cl = |v: &str| predicate(COMMAND_LINE, OperatorSpec::Contains, &[v]);
    let mut either = detection(2, vec![cl("q"), predicate(PARENT_IMAGE, OperatorSpec::EndsWith, &["w"])]);
    either.condition = ExprSpec::Any(vec![ExprSpec::Predicate(0), ExprSpec::Predicate(1)]);
    let every = PredicateSpec { all: true, ..predicate(COMMAND_LINE, OperatorSpec::Contains, &["x", "q"]) };
    built(&[detection(1, vec![cl("x"), cl("rarepattern")]), either, detection(3, vec![every])])
}

#[test]
fn a_rule_is_listed_by_the_predicates_that_gate_it_and_no_fewer() {
    let b = listing_base();
    validate(&b, &SCHEMA).unwrap();
    // Command line: x 0, rarepattern 1, q 2; parent image: w 3. References:
    // x none, rarepattern [0], q [1, 2], w [1] (rule 3 by q alone, its first cheapest group).
    let read = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap());
    let read16 = |o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap());
    let counts: Vec<u32> = (0..4).map(|p| read(at(&b, section::PATTERNS, p, pattern::REF_COUNT))).collect();
    assert_eq!(counts, [0, 1, 2, 1]);
    let refs: Vec<u16> = (0..4).map(|r| read16(at(&b, section::REFS, r, 0))).collect();
    assert_eq!(refs, [0, 1, 2, 1]);
    // `x and rarepattern` no longer listed by rarepattern (which lists rule index 1 instead):
    // the first pattern of the rule that does not list it is named.
    let e = refused(&patched(&b, at(&b, section::REFS, 0, 0), &1u16.to_le_bytes()));
    assert_eq!(
        e,
        ValidationError {
            offset: at(&b, section::RULES, 0, 0),
            kind: ErrorKind::MissingReference { rule: 1, pattern: 0 }
        }
    );
    // `q or w` listed by q alone (w lists rule index 0): w found alone would not visit it.
    let e = refused(&patched(&b, at(&b, section::REFS, 3, 0), &0u16.to_le_bytes()));
    assert_eq!(
        e,
        ValidationError {
            offset: at(&b, section::RULES, 1, 0),
            kind: ErrorKind::MissingReference { rule: 2, pattern: 3 }
        }
    );
    // `q or w` listed by w alone (q lists rule indexes 0 and 2).
    let e = refused(&patched(&b, at(&b, section::REFS, 1, 0), &0u16.to_le_bytes()));
    assert_eq!(
        e,
        ValidationError {
            offset: at(&b, section::RULES, 1, 0),
            kind: ErrorKind::MissingReference { rule: 2, pattern: 2 }
        }
    );
}

/// The running schema with ProcessStart cut to its first six fields: an
/// older sensor that supplies no command line (index 6).
fn older_schema() -> Schema {
    let kinds: Vec<KindDef> = SCHEMA
        .kinds
        .iter()
        .map(
            |k| if k.kind == EventKind::ProcessStart { KindDef { fields: &k.fields[..6], ..*k } } else { *k },
        )
        .collect();
    Schema { version: SCHEMA.version, kinds: Box::leak(kinds.into_boxed_slice()) }
}

#[test]
fn content_reading_a_field_the_sensor_lacks_is_refused_and_reads_nothing_unvalidated() {
    let b = base();
    let older = older_schema();
    let e = validate(&b, &older).unwrap_err();
    let kind = ErrorKind::FieldNotSupplied { table: Table::Scanners, entry: 0, kind: 1, field: COMMAND_LINE };
    assert_eq!(e, ValidationError { offset: at(&b, section::SCANNERS, 0, scanner::KIND), kind });
    // The builder refuses it too, naming the rule.
    let rule = detection(4, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["a"])]);
    let refusal = build(&[rule], &older, 1).unwrap_err();
    assert_eq!(
        (refusal.rule, refusal.kind),
        (Some(4), BuildErrorKind::FieldNotSupplied { predicate: 0, field: 6 })
    );
    // Evaluated without validation on an event that lacks the field: a real comparison, no match, no read.
    let event = TestEvent::start(vec![(SESSION, Field::Int(1)), (IMAGE, text("x"))]);
    let mut scratch = vec![0u64; 64];
    let mut matched = [0u32; 4];
    let v = evaluate_raw(&b, &&event, &mut scratch, RuleIds { matched: &mut matched, undecided: &mut [] })
        .unwrap();
    assert_eq!((v.matched, v.undecided, v.filter), (0, 0, Filter::Keep));
    let event = TestEvent::start(vec![(SESSION, Field::Int(1)), (PARENT_IMAGE, text("x"))]);
    let v = evaluate_raw(&b, &&event, &mut scratch, RuleIds { matched: &mut matched, undecided: &mut [] })
        .unwrap();
    assert_eq!((v.matched, matched[0]), (1, 2));
}

#[test]
fn content_over_the_cost_budget_is_refused() {
    // 250 globs on a 32,767-unit command line: 250 × 8 × 32,767 work units.
    let values = (0..250)
        .map(|i| ValueSpec::Glob(vec![GlobPart::AnyRun, GlobPart::Literal(format!("{i}x"))]))
        .collect();
    let p = PredicateSpec {
        field: COMMAND_LINE,
        operator: OperatorSpec::Glob,
        values,
        all: false,
        case_insensitive: true,
        windash: false,
    };
    let e = build(&[detection(1, vec![p])], &SCHEMA, 1).unwrap_err();
    let BuildErrorKind::Invalid(e) = e.kind else { panic!("{e:?}") };
    let ErrorKind::LimitExceeded { limit: Limit::EvaluationCost, found, max } = e.kind else {
        panic!("{e:?}")
    };
    assert_eq!(max, MAX_EVALUATION_COST);
    assert!(found > 250 * 8 * 32_767, "{found}");
}

#[test]
fn a_string_pool_over_its_limit_is_refused() {
    let meta = "m".repeat(1024);
    let rules: Vec<RuleSpec> = (0..300)
        .map(|id| RuleSpec {
            meta: meta.clone(),
            role: Role::Detection,
            condition: ExprSpec::All(vec![]),
            ..detection(id, vec![])
        })
        .collect();
    let e = build(&rules, &SCHEMA, 1).unwrap_err();
    let BuildErrorKind::Invalid(e) = e.kind else { panic!("{e:?}") };
    let found = rules.iter().map(|r| r.name.len() + 1024).sum::<usize>() as u64;
    let expected = ErrorKind::LimitExceeded {
        limit: Limit::Entries(Table::Strings),
        found,
        max: MAX_STRING_UNITS as u64,
    };
    assert_eq!(e.kind, expected);
    let _ = format::MAX_RULES;
}

/// Two regular expressions on the command line: automaton 0 (`^ab+c`, exact
/// case) and automaton 1 (`é$`, folded); accept is state 0, dead state 1 in both.
fn regex_base() -> Vec<u8> {
    let exact =
        PredicateSpec { case_insensitive: false, ..predicate(COMMAND_LINE, OperatorSpec::Regex, &["^ab+c"]) };
    let folded = predicate(COMMAND_LINE, OperatorSpec::Regex, &["é$"]);
    built(&[detection(1, vec![exact]), detection(2, vec![folded])])
}

/// Byte offset of word `word` of the `regexes` section.
fn regex_word(bytes: &[u8], word: usize) -> usize {
    section_offset(bytes, section::REGEXES) + 2 * word
}

fn read_word(bytes: &[u8], word: usize) -> u16 {
    let at = regex_word(bytes, word);
    u16::from_le_bytes([bytes[at], bytes[at + 1]])
}

/// Word where automaton `index` starts.
fn automaton_at(bytes: &[u8], index: usize) -> usize {
    let w = format::regex::OFFSETS + index * format::regex::OFFSET_WORDS;
    usize::from(read_word(bytes, w)) | usize::from(read_word(bytes, w + 1)) << 16
}

fn patch_word(bytes: &[u8], word: usize, value: u16) -> Vec<u8> {
    patched(bytes, regex_word(bytes, word), &value.to_le_bytes())
}

#[test]
fn the_regex_base_content_has_the_layout_the_suite_assumes() {
    use format::regex::{ACCEPT, DEAD, OFFSETS, RESERVED, ROWS};
    let b = regex_base();
    validate(&b, &SCHEMA).unwrap();
    assert_eq!(read_word(&b, 0), 2, "two automata");
    assert_eq!(automaton_at(&b, 0), OFFSETS + 4);
    let (a0, a1) = (automaton_at(&b, 0), automaton_at(&b, 1));
    for a in [a0, a1] {
        assert_eq!(
            (read_word(&b, a + ACCEPT), read_word(&b, a + DEAD), read_word(&b, a + RESERVED)),
            (0, 1, 0)
        );
    }
    let (states, classes) = (usize::from(read_word(&b, a1)), usize::from(read_word(&b, a1 + 1)));
    let len = section_len(&b, section::REGEXES) / 2;
    assert_eq!(a1 + ROWS + states * (classes + 1), len, "automaton 1 ends the section");
    let report = |bytes: &[u8], cmd: &str| {
        let c = validate(bytes, &SCHEMA).unwrap();
        let event = TestEvent::start(vec![(COMMAND_LINE, text(cmd))]);
        v2_common::evaluate(&c, &event).matched
    };
    assert_eq!(report(&b, "abbbc and É"), vec![1, 2]);
    assert_eq!(report(&b, "xabc é!"), Vec::<u32>::new());
}

#[test]
fn regex_section_corruptions_are_refused_with_their_reason() {
    use format::regex::{
        ACCEPT, CLASS_COUNT, DEAD, HEADER, MAX_AUTOMATA, OFFSETS, RESERVED, ROWS, START, STATE_COUNT,
    };
    let b = regex_base();
    let (a0, a1) = (automaton_at(&b, 0), automaton_at(&b, 1));
    let states0 = read_word(&b, a0 + STATE_COUNT);
    let classes0 = read_word(&b, a0 + CLASS_COUNT);
    let len = (section_len(&b, section::REGEXES) / 2) as u32;
    let limit = |limit, found: u64, max: u64| ErrorKind::LimitExceeded { limit, found, max };

    // The count: over the limit, then offsets reaching past the section.
    let e = refused(&patch_word(&b, 0, MAX_AUTOMATA as u16 + 1));
    assert_eq!((e.offset, e.kind), (regex_word(&b, 0), limit(Limit::Regexes, 1025, 1024)));
    let e = refused(&patch_word(&b, 0, 1000));
    assert_eq!(e.kind, ErrorKind::RegexOutOfBounds { regex: 0, end: 2002, len });
    // An offset that is not where the previous automaton ends.
    let e = refused(&patch_word(&b, OFFSETS + 2, a1 as u16 + 1));
    assert_eq!(
        (e.offset, e.kind),
        (
            regex_word(&b, OFFSETS + 2),
            ErrorKind::RegexMisplaced { regex: 1, offset: a1 as u32 + 1, expected: a1 as u32 }
        )
    );
    // Counts: zero and over the limits are refused before the size is computed from them.
    let e = refused(&patch_word(&b, a0 + STATE_COUNT, 0));
    assert_eq!(e.kind, limit(Limit::RegexStates, 0, 1024));
    let e = refused(&patch_word(&b, a0 + STATE_COUNT, 1025));
    assert_eq!((e.offset, e.kind), (regex_word(&b, a0 + STATE_COUNT), limit(Limit::RegexStates, 1025, 1024)));
    let e = refused(&patch_word(&b, a0 + CLASS_COUNT, 257));
    assert_eq!(e.kind, limit(Limit::RegexClasses, 257, 256));
    let e = refused(&patch_word(&b, a0 + CLASS_COUNT, 0));
    assert_eq!(e.kind, limit(Limit::RegexClasses, 0, 256));
    // One more state in the last automaton: its rows reach past the section.
    let states1 = read_word(&b, a1 + STATE_COUNT);
    let classes1 = u32::from(read_word(&b, a1 + CLASS_COUNT));
    let e = refused(&patch_word(&b, a1 + STATE_COUNT, states1 + 1));
    assert_eq!(e.kind, ErrorKind::RegexOutOfBounds { regex: 1, end: len + classes1 + 1, len });
    let e = refused(&patch_word(&b, a0 + RESERVED, 1));
    assert_eq!((e.offset, e.kind), (regex_word(&b, a0 + RESERVED), ErrorKind::NonZeroReserved));
    // States out of range: start, accept, dead, one cell.
    for (w, kind_word) in [(START, START), (ACCEPT, ACCEPT), (DEAD, DEAD)] {
        let e = refused(&patch_word(&b, a0 + w, states0));
        let kind =
            ErrorKind::RegexStateOutOfRange { regex: 0, word: kind_word as u32, target: states0.into() };
        assert_eq!((e.offset, e.kind), (regex_word(&b, a0 + w), kind));
    }
    let cell = a0 + ROWS + 2 * (usize::from(classes0) + 1) + 1;
    let e = refused(&patch_word(&b, cell, 999));
    let kind = ErrorKind::RegexStateOutOfRange { regex: 0, word: (cell - a0) as u32, target: 999 };
    assert_eq!((e.offset, e.kind), (regex_word(&b, cell), kind));
    // A byte's class out of range.
    let e = refused(&patch_word(&b, a1 + HEADER + 0xC3, classes1 as u16));
    let kind = ErrorKind::RegexClassOutOfRange { regex: 1, byte: 0xC3, class: classes1 };
    assert_eq!((e.offset, e.kind), (regex_word(&b, a1 + HEADER + 0xC3), kind));
    // The dead state leaves itself, or is the accepting one.
    let dead_row = a1 + ROWS + usize::from(classes1 as u16 + 1);
    let e = refused(&patch_word(&b, dead_row + 1, 2));
    assert_eq!(
        (e.offset, e.kind),
        (regex_word(&b, dead_row + 1), ErrorKind::RegexDeadNotDead { regex: 1, class: 1 })
    );
    let e = refused(&patch_word(&b, a1 + DEAD, 0));
    assert_eq!(e.kind, ErrorKind::RegexDeadNotDead { regex: 1, class: 0 });
}

#[test]
fn regex_references_and_trailing_words_are_refused_with_their_reason() {
    let b = regex_base();
    // Predicate 1's value names automaton 2 of 2.
    let e = refused(&patched(&b, at(&b, section::VALUES, 1, value::VALUE), &2u64.to_le_bytes()));
    assert_eq!(e.kind, ErrorKind::ValueOutOfRange { predicate: 1, value: 0, index: 2 });
    // A gated regex predicate names the folded scanner of its field (scanner 0: "ab", "é").
    let e = refused(&patched(&b, at(&b, section::PREDICATES, 0, predicate::SCANNER), &u32le(NONE)));
    assert_eq!(e.kind, ErrorKind::BadGate { predicate: 0, value: 0 });
    // The rule gated by "ab" alone (pattern 0) is not listed by it: pattern 0 lists rule index 1.
    let e = refused(&patched(&b, at(&b, section::REFS, 0, 0), &1u16.to_le_bytes()));
    assert_eq!(e.kind, ErrorKind::MissingReference { rule: 1, pattern: 0 });
    // A word after the last automaton (the `gates` section moved two bytes on).
    let regex_end = section_offset(&b, section::REGEXES) + section_len(&b, section::REGEXES);
    let mut longer = b.clone();
    longer.splice(regex_end..regex_end, [0, 0]);
    let entry = |id: u16, field: usize| header::LEN + (usize::from(id) - 1) * section::ENTRY_LEN + field;
    let regex_len = entry(section::REGEXES, section::LEN);
    longer[regex_len..regex_len + 4].copy_from_slice(&u32le(section_len(&b, section::REGEXES) as u32 + 2));
    let gates_offset = entry(section::GATES, section::OFFSET);
    longer[gates_offset..gates_offset + 4]
        .copy_from_slice(&u32le(section_offset(&b, section::GATES) as u32 + 2));
    let total = longer.len() as u32;
    let e = refused(&patched(&longer, header::TOTAL_LEN, &u32le(total)));
    let (end, total) = (regex_end as u32, regex_end as u32 + 2);
    assert_eq!((e.offset, e.kind), (regex_end, ErrorKind::UnclaimedBytes { end, total }));
}

#[test]
fn unvalidated_regex_tables_evaluate_memory_safely() {
    use format::regex::{ROWS, STATE_COUNT};
    let b = regex_base();
    let a1 = automaton_at(&b, 1);
    let event = TestEvent::start(vec![(COMMAND_LINE, text("abc é"))]);
    // Every word of the section set to a state far out of range, one at a time: the
    // search reads past nothing and ends.
    let len = section_len(&b, section::REGEXES) / 2;
    for w in (0..len).step_by(7).chain([a1 + STATE_COUNT, a1 + ROWS]) {
        let bad = patch_word(&b, w, 0xFFF0);
        let mut scratch = vec![0u64; 64];
        let (mut m, mut u) = ([0u32; 4], [0u32; 4]);
        let result =
            evaluate_raw(&bad, &&event, &mut scratch, RuleIds { matched: &mut m, undecided: &mut u });
        assert!(result.is_ok(), "word {w}: {result:?}");
    }
}
