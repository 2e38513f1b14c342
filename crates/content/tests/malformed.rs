//! Every rejection the validator promises, each on a minimal corruption of
//! valid content (checksum repaired unless the checksum is the point), each
//! asserting the exact error: offset, item and reason. Each error also
//! travels through (code, offset, args) and comes back identical.

mod common;

use common::*;
use ringfence_content::format::{
    self, MAX_CONDITIONS, MAX_CONDITIONS_PER_RULE, MAX_CONTENT_BYTES, MAX_GROUPS, MAX_PATTERN_UNITS,
    MAX_RULE_NAME_UNITS, MAX_RULES, MAX_STRING_POOL_BYTES, condition, group, header, rule, section,
};
use ringfence_content::{ErrorKind, Limit, ValidationError, compile, validate};
use ringfence_wire::SCHEMA;

const RULES: &str = r#"
version = 7

[[rule]]
name = "encoded powershell"
kind = "process_start"
action = "include"
match = [
  { field = "image_path", ends_with = "\\powershell.exe" },
  { field = "command_line", contains = " -enc" },
]

[[rule]]
name = "system"
kind = "process_start"
action = "exclude"
match = [{ field = "pid", equals = 4 }]

[[rule]]
name = "console"
kind = "process_start"
action = "include"
match = [{ field = "command_line", contains = "cmd" }]

[[rule]]
name = "defender"
kind = "image_load"
action = "exclude"
match = [
  { field = "image_path", starts_with = "C:\\ProgramData\\Microsoft\\Windows Defender\\" },
  { field = "signature_level", greater_than = 7 },
  { field = "kernel_image", equals = false },
]

[[rule]]
name = "crash"
kind = "process_exit"
action = "include"
match = [{ field = "exit_status", equals = 3221225477 }]

[[rule]]
name = "cmd a"
kind = "process_start"
action = "include"
match = [{ field = "image_path", ends_with = "\\cmd.exe" }]

[[rule]]
name = "nop"
kind = "process_start"
action = "include"
match = [{ field = "command_line", contains = "-nop" }]

[[rule]]
name = "cmd b"
kind = "process_start"
action = "include"
match = [{ field = "image_path", ends_with = "\\cmd.exe" }]
"#;

/// Bytes of the base content's four group entries.
#[allow(clippy::cast_possible_truncation)] // 4 × 88 fits in u32
const GROUPS_LEN: u32 = 4 * group::LEN as u32;

fn base() -> Vec<u8> {
    compile(RULES, &SCHEMA).unwrap()
}

/// Section starts: groups, rules, conditions, strings.
fn starts(b: &[u8]) -> (usize, usize, usize, usize) {
    (
        section_start(b, section::GROUPS),
        section_start(b, section::RULES),
        section_start(b, section::CONDITIONS),
        section_start(b, section::STRINGS),
    )
}

/// Byte offset of the rule entry with `id`.
fn rule_at(b: &[u8], id: u32) -> usize {
    let (_, r, c, _) = starts(b);
    (r..c).step_by(rule::LEN).find(|&at| get_u32(b, at + rule::ID) == id).unwrap()
}

/// Byte offset of condition `n` of the rule with `id`.
fn condition_at(b: &[u8], id: u32, n: usize) -> usize {
    let (_, _, c, _) = starts(b);
    c + (get_u32(b, rule_at(b, id) + rule::FIRST_CONDITION) as usize + n) * condition::LEN
}

fn group_at(b: &[u8], index: usize) -> usize {
    starts(b).0 + index * group::LEN
}

fn pool_units(b: &[u8]) -> u32 {
    u32::try_from((b.len() - starts(b).3) / 2).unwrap()
}

/// `b` is rejected with exactly this error, which survives the wire.
#[track_caller]
fn rejects(b: &[u8], offset: usize, kind: ErrorKind) {
    let expected = ValidationError { offset, kind };
    let got = validate(b, &SCHEMA).map(|c| c.version()).unwrap_err();
    assert_eq!(got, expected);
    let wire = ValidationError::from_wire(got.code(), u32::try_from(got.offset).unwrap(), got.args());
    assert_eq!(wire, Some(got), "round trip through (code, offset, args)");
    assert!(got.to_string().starts_with(&format!("at byte {offset}: ")));
}

/// Applies `edit` to the base content, repairs the checksum, expects the error.
#[track_caller]
fn edited(edit: impl FnOnce(&mut Vec<u8>), offset: impl FnOnce(&[u8]) -> usize, kind: ErrorKind) {
    let mut b = base();
    let at = offset(&b);
    edit(&mut b);
    fix_checksum(&mut b);
    rejects(&b, at, kind);
}

#[test]
fn the_base_content_is_valid_and_laid_out_as_the_cases_assume() {
    let b = base();
    let content = validate(&b, &SCHEMA).unwrap();
    assert_eq!((content.version(), content.rule_count(), content.condition_count()), (7, 8, 11));
    assert_eq!(get_u32(&b, rule_at(&b, 1) + rule::FIRST_CONDITION), 0, "the exclude group comes first");
    assert_eq!(rule_at(&b, 7), rule_at(&b, 5) + rule::LEN, "equal keys sort by id");
    assert_eq!(rule_at(&b, 6), rule_at(&b, 2) + rule::LEN, "unanchored rules sort by id");
    assert_eq!(rule_at(&b, 3), starts(&b).2 - rule::LEN, "image_load's group is last");
}

// --- whole input ---

#[test]
fn zero_length_input_is_rejected() {
    rejects(&[], 0, ErrorKind::Empty);
}

#[test]
fn input_shorter_than_the_header_is_rejected() {
    rejects(&base()[..5], 5, ErrorKind::Truncated { needed: 24, available: 5 });
}

#[test]
fn all_zero_and_all_ff_inputs_are_rejected_by_magic() {
    let len = base().len();
    rejects(&vec![0x00; len], 0, ErrorKind::BadMagic { found: 0 });
    rejects(&vec![0xFF; len], 0, ErrorKind::BadMagic { found: u32::MAX });
}

#[test]
fn truncation_at_every_byte_is_rejected() {
    let b = base();
    let total = u32::try_from(b.len()).unwrap();
    for n in 0..b.len() {
        let available = u32::try_from(n).unwrap();
        let kind = match n {
            0 => ErrorKind::Empty,
            n if n < header::LEN => ErrorKind::Truncated { needed: 24, available },
            _ => ErrorKind::Truncated { needed: total, available },
        };
        rejects(&b[..n], n, kind);
    }
}

#[test]
fn bytes_after_the_declared_length_are_rejected() {
    let mut b = base();
    let declared = u32::try_from(b.len()).unwrap();
    b.extend_from_slice(&[0; 8]);
    rejects(&b, declared as usize, ErrorKind::TrailingBytes { declared, actual: declared + 8 });
}

#[test]
fn a_wrong_checksum_is_rejected() {
    let mut b = base();
    let stored = get_u32(&b, header::CHECKSUM);
    let last = b.len() - 1;
    b[last] ^= 0x20;
    rejects(&b, header::CHECKSUM, ErrorKind::BadChecksum { stored, computed: checksum(&b) });
}

// --- header ---

#[test]
fn unknown_magic_is_rejected() {
    edited(|b| b[0] = b'X', |_| 0, ErrorKind::BadMagic { found: u32::from_le_bytes(*b"XFCT") });
}

#[test]
fn unknown_format_version_is_rejected() {
    edited(
        |b| set_u16(b, header::FORMAT_VERSION, 2),
        |_| header::FORMAT_VERSION,
        ErrorKind::UnsupportedFormat { found: 2 },
    );
}

#[test]
fn schema_version_zero_is_rejected() {
    edited(
        |b| set_u16(b, header::SCHEMA_VERSION, 0),
        |_| header::SCHEMA_VERSION,
        ErrorKind::UnknownSchemaVersion { found: 0 },
    );
}

#[test]
fn a_non_zero_reserved_header_field_is_rejected() {
    edited(|b| set_u16(b, header::RESERVED, 1), |_| header::RESERVED, ErrorKind::NonZeroReserved);
}

#[test]
fn a_total_length_smaller_than_the_header_is_rejected_not_subtracted() {
    for declared in [0, 10, 71] {
        edited(
            |b| set_u32(b, header::TOTAL_LEN, declared),
            |_| header::TOTAL_LEN,
            ErrorKind::TotalLengthTooSmall { declared, minimum: 72 },
        );
    }
}

#[test]
fn a_total_length_over_the_limit_is_rejected_before_it_is_used() {
    let found = u32::try_from(MAX_CONTENT_BYTES + 1).unwrap();
    let max = u32::try_from(MAX_CONTENT_BYTES).unwrap();
    edited(
        |b| set_u32(b, header::TOTAL_LEN, found),
        |_| header::TOTAL_LEN,
        ErrorKind::LimitExceeded { limit: Limit::TotalBytes, found, max },
    );
    edited(
        |b| set_u32(b, header::TOTAL_LEN, u32::MAX),
        |_| header::TOTAL_LEN,
        ErrorKind::LimitExceeded { limit: Limit::TotalBytes, found: u32::MAX, max },
    );
}

// --- section directory ---

#[test]
fn more_sections_than_the_format_has_are_rejected() {
    edited(
        |b| set_u16(b, header::SECTION_COUNT, 5),
        |_| header::SECTION_COUNT,
        ErrorKind::LimitExceeded { limit: Limit::Sections, found: 5, max: 4 },
    );
}

#[test]
fn an_unknown_section_id_is_rejected() {
    for id in [0, 5, 0xFFFF] {
        edited(|b| set_u16(b, dir_entry(2), id), |_| dir_entry(2), ErrorKind::UnknownSection { id });
    }
}

#[test]
fn a_duplicate_section_is_rejected() {
    edited(
        |b| set_u16(b, dir_entry(2), section::RULES),
        |_| dir_entry(2),
        ErrorKind::DuplicateSection { id: 2 },
    );
}

#[test]
fn a_missing_section_is_rejected() {
    edited(
        |b| set_u16(b, header::SECTION_COUNT, 3),
        |_| header::SECTION_COUNT,
        ErrorKind::MissingSection { id: 4 },
    );
}

#[test]
fn a_non_zero_reserved_directory_field_is_rejected() {
    edited(
        |b| set_u16(b, dir_entry(1) + section::RESERVED, 1),
        |_| dir_entry(1) + 2,
        ErrorKind::NonZeroReserved,
    );
}

#[test]
fn a_section_whose_offset_plus_length_overflows_is_rejected() {
    edited(
        |b| set_u32(b, dir_entry(1) + section::LEN, u32::MAX),
        |_| dir_entry(1) + section::OFFSET,
        ErrorKind::SectionLengthOverflow { id: 2 },
    );
}

#[test]
fn a_section_reaching_past_the_content_is_rejected() {
    let b = base();
    let total = u32::try_from(b.len()).unwrap();
    let strings_len = get_u32(&b, dir_entry(3) + section::LEN);
    edited(
        |b| set_u32(b, dir_entry(3) + section::LEN, strings_len + 2),
        |_| dir_entry(3) + section::LEN,
        ErrorKind::SectionOutOfBounds { id: 4, end: total + 2, total },
    );
    edited(
        |b| set_u32(b, dir_entry(0) + section::OFFSET, 0xFFFF_0000),
        |_| dir_entry(0) + section::LEN,
        ErrorKind::SectionOutOfBounds { id: 1, end: 0xFFFF_0000 + GROUPS_LEN, total },
    );
}

#[test]
fn overlapping_or_gapped_sections_are_rejected() {
    edited(
        |b| set_u32(b, dir_entry(1) + section::OFFSET, 72),
        |_| dir_entry(1) + section::OFFSET,
        ErrorKind::SectionMisplaced { id: 2, offset: 72, expected: 72 + GROUPS_LEN },
    );
    edited(
        |b| set_u32(b, dir_entry(0) + section::OFFSET, 0),
        |_| dir_entry(0) + section::OFFSET,
        ErrorKind::SectionMisplaced { id: 1, offset: 0, expected: 72 },
    );
}

#[test]
fn a_table_that_is_not_a_whole_number_of_entries_is_rejected() {
    edited(
        |b| set_u32(b, dir_entry(1) + section::LEN, 8 * 24 - 1),
        |_| dir_entry(1) + section::LEN,
        ErrorKind::SectionLength { id: 2, len: 191, entry: 24 },
    );
    let b = base();
    let strings_len = get_u32(&b, dir_entry(3) + section::LEN);
    edited(
        |b| set_u32(b, dir_entry(3) + section::LEN, strings_len - 1),
        |_| dir_entry(3) + section::LEN,
        ErrorKind::SectionLength { id: 4, len: strings_len - 1, entry: 2 },
    );
}

#[test]
fn bytes_no_section_claims_are_rejected() {
    let b = base();
    let end = u32::try_from(b.len()).unwrap();
    edited(
        |b| {
            b.extend_from_slice(&[0; 4]);
            set_u32(b, header::TOTAL_LEN, end + 4);
        },
        |_| end as usize,
        ErrorKind::UnclaimedBytes { end, total: end + 4 },
    );
}

// --- limits, checked before anything is sized from them ---

fn over_limit(id: u16, len: usize, limit: Limit, found: usize, max: usize) {
    let bodies: Vec<(u16, Vec<u8>)> =
        [1u16, 2, 3, 4].iter().map(|&s| (s, if s == id { vec![0; len] } else { Vec::new() })).collect();
    let b = craft(&bodies);
    let kind = ErrorKind::LimitExceeded {
        limit,
        found: u32::try_from(found).unwrap(),
        max: u32::try_from(max).unwrap(),
    };
    rejects(&b, dir_entry(usize::from(id) - 1) + section::LEN, kind);
}

#[test]
fn more_groups_rules_conditions_or_string_bytes_than_the_limits_are_rejected() {
    over_limit(section::GROUPS, (MAX_GROUPS + 1) * group::LEN, Limit::Groups, MAX_GROUPS + 1, MAX_GROUPS);
    over_limit(section::RULES, (MAX_RULES + 1) * rule::LEN, Limit::Rules, MAX_RULES + 1, MAX_RULES);
    let conditions = (MAX_CONDITIONS + 1) * condition::LEN;
    over_limit(section::CONDITIONS, conditions, Limit::Conditions, MAX_CONDITIONS + 1, MAX_CONDITIONS);
    let strings = MAX_STRING_POOL_BYTES + 2;
    over_limit(section::STRINGS, strings, Limit::StringBytes, strings, MAX_STRING_POOL_BYTES);
}

#[test]
fn the_limits_themselves_are_accepted() {
    let bodies = [
        (section::GROUPS, Vec::new()),
        (section::RULES, Vec::new()),
        (section::CONDITIONS, Vec::new()),
        (section::STRINGS, vec![0; MAX_STRING_POOL_BYTES]),
    ];
    assert_eq!(validate(&craft(&bodies), &SCHEMA).unwrap().rule_count(), 0);
}

#[test]
fn too_many_conditions_in_one_rule_are_rejected() {
    let found = u32::try_from(MAX_CONDITIONS_PER_RULE + 1).unwrap();
    edited(
        |b| {
            let at = rule_at(b, 0);
            b[at + rule::CONDITION_COUNT] = u8::try_from(found).unwrap();
        },
        |b| rule_at(b, 0) + rule::CONDITION_COUNT,
        ErrorKind::LimitExceeded { limit: Limit::ConditionsPerRule, found, max: 16 },
    );
}

#[test]
fn a_pattern_over_the_unit_limit_is_rejected() {
    let found = u32::try_from(MAX_PATTERN_UNITS + 1).unwrap();
    edited(
        |b| {
            let at = condition_at(b, 2, 0);
            set_u32(b, at + condition::VALUE + 4, found);
        },
        |b| condition_at(b, 2, 0) + condition::VALUE,
        ErrorKind::LimitExceeded { limit: Limit::PatternUnits, found, max: 256 },
    );
}

#[test]
fn a_rule_name_over_the_unit_limit_is_rejected() {
    let found = u16::try_from(MAX_RULE_NAME_UNITS + 1).unwrap();
    edited(
        |b| {
            let at = rule_at(b, 1);
            set_u16(b, at + rule::NAME_LEN, found);
        },
        |b| rule_at(b, 1) + rule::NAME_LEN,
        ErrorKind::LimitExceeded { limit: Limit::RuleNameUnits, found: found.into(), max: 64 },
    );
}

// --- groups ---

#[test]
fn a_group_for_an_unknown_event_kind_is_rejected() {
    edited(
        |b| {
            let at = group_at(b, 0);
            set_u16(b, at, 99)
        },
        |b| group_at(b, 0),
        ErrorKind::UnknownKind { entry: 0, code: 99 },
    );
}

#[test]
fn rules_for_the_sensors_own_event_kinds_are_rejected() {
    for code in [4, 5] {
        edited(
            |b| {
                let at = group_at(b, 3);
                set_u16(b, at, code)
            },
            |b| group_at(b, 3),
            ErrorKind::KindNotFilterable { entry: 3, code },
        );
    }
}

#[test]
fn an_unknown_action_is_rejected() {
    for code in [0, 3] {
        edited(
            |b| {
                let at = group_at(b, 0) + group::ACTION;
                set_u8(b, at, code)
            },
            |b| group_at(b, 0) + group::ACTION,
            ErrorKind::UnknownAction { entry: 0, code },
        );
    }
}

#[test]
fn a_duplicate_group_is_rejected() {
    edited(
        |b| {
            let at = group_at(b, 1) + group::ACTION;
            set_u8(b, at, 1)
        },
        |b| group_at(b, 1),
        ErrorKind::DuplicateGroup { entry: 1, code: 1, action: 1 },
    );
}

#[test]
fn groups_out_of_order_are_rejected() {
    edited(
        |b| {
            {
                let at = group_at(b, 3);
                set_u16(b, at, 2)
            };
            {
                let at = group_at(b, 3) + group::ACTION;
                set_u8(b, at, 1)
            };
        },
        |b| group_at(b, 3),
        ErrorKind::GroupOrder { entry: 3 },
    );
}

#[test]
fn a_group_not_starting_where_the_previous_ended_is_rejected() {
    edited(
        |b| {
            let at = group_at(b, 1) + group::FIRST_RULE;
            set_u32(b, at, 0)
        },
        |b| group_at(b, 1) + group::FIRST_RULE,
        ErrorKind::GroupMisplaced { entry: 1, first_rule: 0, expected: 1 },
    );
}

#[test]
fn a_group_claiming_rules_past_the_table_is_rejected() {
    edited(
        |b| {
            let at = group_at(b, 3) + group::UNANCHORED;
            set_u32(b, at, 100)
        },
        |b| group_at(b, 3) + group::ANCHORED,
        ErrorKind::GroupOutOfBounds { entry: 3, end: 108, rules: 8 },
    );
    edited(
        |b| {
            let at = group_at(b, 3) + group::ANCHORED;
            set_u32(b, at, u32::MAX)
        },
        |b| group_at(b, 3) + group::ANCHORED,
        ErrorKind::GroupOutOfBounds { entry: 3, end: 7 + u64::from(u32::MAX), rules: 8 },
    );
}

#[test]
fn rules_no_group_claims_are_rejected() {
    // The base content without its last group (image_load's, one rule).
    let b = base();
    let (g, r, c, st) = starts(&b);
    let bodies = [
        (section::GROUPS, b[g..r - group::LEN].to_vec()),
        (section::RULES, b[r..c].to_vec()),
        (section::CONDITIONS, b[c..st].to_vec()),
        (section::STRINGS, b[st..].to_vec()),
    ];
    let crafted = craft(&bodies);
    let rules = section_start(&crafted, section::RULES);
    rejects(&crafted, rules + 7 * rule::LEN, ErrorKind::RulesUnclaimed { claimed: 7, rules: 8 });
}

#[test]
fn a_group_without_rules_is_rejected() {
    let mut group = vec![0u8; group::LEN];
    set_u16(&mut group, group::KIND, 1);
    set_u8(&mut group, group::ACTION, 2);
    let bodies = [
        (section::GROUPS, group),
        (section::RULES, Vec::new()),
        (section::CONDITIONS, Vec::new()),
        (section::STRINGS, Vec::new()),
    ];
    let b = craft(&bodies);
    rejects(&b, section_start(&b, section::GROUPS) + group::ANCHORED, ErrorKind::EmptyGroup { entry: 0 });
}

// --- rules ---

#[test]
fn a_rule_id_outside_the_rule_count_is_rejected() {
    edited(
        |b| {
            let at = starts(b).1;
            set_u32(b, at, 8)
        },
        |b| starts(b).1,
        ErrorKind::RuleIdOutOfRange { entry: 0, id: 8, rules: 8 },
    );
}

#[test]
fn a_duplicate_rule_id_is_rejected() {
    edited(
        |b| {
            let at = rule_at(b, 6);
            set_u32(b, at, 2)
        },
        |b| rule_at(b, 6),
        ErrorKind::DuplicateRuleId { entry: 5, id: 2 },
    );
}

#[test]
fn conditions_not_following_the_previous_rules_are_rejected() {
    edited(
        |b| {
            let at = rule_at(b, 2) + rule::FIRST_CONDITION;
            set_u32(b, at, 0)
        },
        |b| rule_at(b, 2) + rule::FIRST_CONDITION,
        ErrorKind::ConditionsMisplaced { rule: 2, first: 0, expected: 5 },
    );
}

#[test]
fn a_rule_claiming_conditions_past_the_table_is_rejected() {
    edited(
        |b| {
            let at = rule_at(b, 3) + rule::CONDITION_COUNT;
            set_u8(b, at, 4)
        },
        |b| rule_at(b, 3) + rule::CONDITION_COUNT,
        ErrorKind::ConditionsOutOfBounds { rule: 3, end: 12, conditions: 11 },
    );
}

#[test]
fn conditions_no_rule_claims_are_rejected() {
    edited(
        |b| {
            let at = rule_at(b, 3) + rule::CONDITION_COUNT;
            set_u8(b, at, 2)
        },
        |b| starts(b).3 - condition::LEN,
        ErrorKind::ConditionsUnclaimed { claimed: 10, conditions: 11 },
    );
}

#[test]
fn a_rule_name_outside_the_string_pool_is_rejected() {
    edited(
        |b| {
            let at = rule_at(b, 1) + rule::NAME_OFFSET;
            set_u32(b, at, u32::MAX)
        },
        |b| rule_at(b, 1) + rule::NAME_OFFSET,
        ErrorKind::StringLengthOverflow { rule: 1, condition: ErrorKind::RULE_NAME },
    );
    let pool = pool_units(&base());
    edited(
        |b| {
            let at = rule_at(b, 1) + rule::NAME_OFFSET;
            set_u32(b, at, pool - 1)
        },
        |b| rule_at(b, 1) + rule::NAME_OFFSET,
        ErrorKind::StringOutOfBounds { rule: 1, condition: ErrorKind::RULE_NAME, end: pool - 1 + 6, pool },
    );
}

// --- conditions ---

#[test]
fn an_unknown_operator_is_rejected() {
    for code in [0, 7, 0xFF] {
        edited(
            |b| {
                let at = condition_at(b, 1, 0) + condition::OPERATOR;
                set_u8(b, at, code)
            },
            |b| condition_at(b, 1, 0) + condition::OPERATOR,
            ErrorKind::UnknownOperator { rule: 1, condition: 0, code },
        );
    }
}

#[test]
fn an_unknown_field_type_is_rejected() {
    // 6 is the id-list type (schema 3): known, and refused as a mismatch elsewhere.
    for code in [0, 7] {
        edited(
            |b| {
                let at = condition_at(b, 1, 0) + condition::FIELD_TYPE;
                set_u8(b, at, code)
            },
            |b| condition_at(b, 1, 0) + condition::FIELD_TYPE,
            ErrorKind::UnknownFieldType { rule: 1, condition: 0, code },
        );
    }
}

#[test]
fn a_field_index_the_sensor_does_not_supply_is_rejected() {
    for field in [24, 200, 255] {
        edited(
            |b| {
                let at = condition_at(b, 1, 0) + condition::FIELD;
                set_u8(b, at, field)
            },
            |b| condition_at(b, 1, 0) + condition::FIELD,
            ErrorKind::FieldOutOfRange { rule: 1, field, supplied: 24 },
        );
    }
    // ProcessExit supplies 12 fields: index 12 is one past them.
    edited(
        |b| {
            let at = condition_at(b, 4, 0) + condition::FIELD;
            set_u8(b, at, 12)
        },
        |b| condition_at(b, 4, 0) + condition::FIELD,
        ErrorKind::FieldOutOfRange { rule: 4, field: 12, supplied: 12 },
    );
}

#[test]
fn a_condition_on_the_verdicts_own_field_is_rejected() {
    edited(
        |b| {
            let at = condition_at(b, 2, 0) + condition::FIELD;
            set_u8(b, at, 10)
        },
        |b| condition_at(b, 2, 0) + condition::FIELD,
        ErrorKind::FieldNotMatchable { rule: 2, field: 10 },
    );
}

#[test]
fn a_field_type_other_than_the_sensors_is_rejected() {
    edited(
        |b| {
            let at = condition_at(b, 1, 0) + condition::FIELD_TYPE;
            set_u8(b, at, 5)
        },
        |b| condition_at(b, 1, 0) + condition::FIELD_TYPE,
        ErrorKind::TypeMismatch { rule: 1, field: 0, content: 5, schema: 1 },
    );
}

#[test]
fn an_operator_that_does_not_fit_the_field_type_is_rejected() {
    edited(
        |b| {
            let at = condition_at(b, 1, 0) + condition::OPERATOR;
            set_u8(b, at, format::Operator::Contains.code())
        },
        |b| condition_at(b, 1, 0) + condition::OPERATOR,
        ErrorKind::OperatorMismatch { rule: 1, condition: 0, operator: 4, field_type: 1 },
    );
    edited(
        |b| {
            let at = condition_at(b, 2, 0) + condition::OPERATOR;
            set_u8(b, at, format::Operator::LessThan.code())
        },
        |b| condition_at(b, 2, 0) + condition::OPERATOR,
        ErrorKind::OperatorMismatch { rule: 2, condition: 0, operator: 5, field_type: 5 },
    );
    edited(
        |b| {
            let at = condition_at(b, 3, 2) + condition::OPERATOR;
            set_u8(b, at, format::Operator::GreaterThan.code())
        },
        |b| condition_at(b, 3, 2) + condition::OPERATOR,
        ErrorKind::OperatorMismatch { rule: 3, condition: 2, operator: 6, field_type: 3 },
    );
}

#[test]
fn unknown_flags_or_case_folding_on_a_number_are_rejected() {
    edited(
        |b| {
            let at = condition_at(b, 2, 0) + condition::FLAGS;
            set_u8(b, at, 0x82)
        },
        |b| condition_at(b, 2, 0) + condition::FLAGS,
        ErrorKind::BadFlags { rule: 2, condition: 0, flags: 0x82 },
    );
    edited(
        |b| {
            let at = condition_at(b, 1, 0) + condition::FLAGS;
            set_u8(b, at, condition::CASE_INSENSITIVE)
        },
        |b| condition_at(b, 1, 0) + condition::FLAGS,
        ErrorKind::BadFlags { rule: 1, condition: 0, flags: 2 },
    );
}

#[test]
fn a_value_outside_the_fields_range_is_rejected() {
    edited(
        |b| {
            let at = condition_at(b, 1, 0) + condition::VALUE;
            set_u64(b, at, 1 << 32)
        },
        |b| condition_at(b, 1, 0) + condition::VALUE,
        ErrorKind::ValueOutOfRange { rule: 1, condition: 0 },
    );
    edited(
        |b| {
            let at = condition_at(b, 3, 2) + condition::VALUE;
            set_u64(b, at, 2)
        },
        |b| condition_at(b, 3, 2) + condition::VALUE,
        ErrorKind::ValueOutOfRange { rule: 3, condition: 2 },
    );
}

#[test]
fn a_non_zero_reserved_condition_field_is_rejected() {
    edited(
        |b| {
            let at = condition_at(b, 1, 0) + condition::RESERVED;
            set_u32(b, at, 1)
        },
        |b| condition_at(b, 1, 0) + condition::RESERVED,
        ErrorKind::NonZeroReserved,
    );
}

#[test]
fn a_pattern_outside_the_string_pool_is_rejected() {
    edited(
        |b| {
            let at = condition_at(b, 2, 0) + condition::VALUE;
            set_u32(b, at, u32::MAX)
        },
        |b| condition_at(b, 2, 0) + condition::VALUE,
        ErrorKind::StringLengthOverflow { rule: 2, condition: 0 },
    );
    let pool = pool_units(&base());
    edited(
        |b| {
            let at = condition_at(b, 2, 0) + condition::VALUE;
            set_u32(b, at, pool - 1)
        },
        |b| condition_at(b, 2, 0) + condition::VALUE,
        ErrorKind::StringOutOfBounds { rule: 2, condition: 0, end: pool + 2, pool },
    );
}

// --- the index ---

#[test]
fn an_anchor_that_cannot_index_its_rule_is_rejected() {
    // Condition 1 of rule 0 is a `contains`: no key can find it.
    for anchor in [1, 2, 0xFE] {
        edited(
            |b| {
                let at = rule_at(b, 0) + rule::ANCHOR;
                set_u8(b, at, anchor)
            },
            |b| rule_at(b, 0) + rule::ANCHOR,
            ErrorKind::BadAnchor { rule: 0, anchor },
        );
    }
    edited(
        |b| {
            let at = rule_at(b, 2) + rule::ANCHOR;
            set_u8(b, at, 0)
        },
        |b| rule_at(b, 2) + rule::ANCHOR,
        ErrorKind::BadAnchor { rule: 2, anchor: 0 },
    );
}

#[test]
fn a_stored_key_that_is_not_the_anchors_key_is_rejected() {
    edited(
        |b| {
            let at = rule_at(b, 0) + rule::KEY;
            let key = get_u64(b, at);
            set_u64(b, at, key ^ 1);
        },
        |b| rule_at(b, 0) + rule::KEY,
        ErrorKind::IndexKeyMismatch { rule: 0 },
    );
}

#[test]
fn rules_out_of_index_order_are_rejected() {
    // Equal keys (rules 5 and 7 are identical) must be in id order.
    edited(
        |b| {
            let (a, c) = (rule_at(b, 5), rule_at(b, 7));
            set_u32(b, a, 7);
            set_u32(b, c, 5);
        },
        |b| rule_at(b, 7),
        ErrorKind::IndexNotSorted { rule: 5 },
    );
    // Unanchored rules must be in id order.
    edited(
        |b| {
            let (a, c) = (rule_at(b, 2), rule_at(b, 6));
            set_u32(b, a, 6);
            set_u32(b, c, 2);
        },
        |b| rule_at(b, 6),
        ErrorKind::IndexNotSorted { rule: 2 },
    );
}

#[test]
fn a_key_on_a_rule_outside_the_index_is_rejected() {
    // Rule 2 ("console", a `contains` only) has no anchor: its key must be 0.
    let key = 0x0605_0000_0000_0001;
    edited(
        |b| {
            let at = rule_at(b, 2) + rule::KEY;
            set_u64(b, at, key);
        },
        |b| rule_at(b, 2) + rule::KEY,
        ErrorKind::KeyWithoutAnchor { rule: 2, key },
    );
}

#[test]
fn an_anchor_mask_that_does_not_match_the_rules_is_rejected() {
    edited(
        |b| {
            let at = group_at(b, 1) + group::ANCHOR_MASK;
            let mask = get_u64(b, at);
            set_u64(b, at, mask ^ (1 << 63));
        },
        |b| group_at(b, 1) + group::ANCHOR_MASK,
        ErrorKind::AnchorMaskMismatch { entry: 1 },
    );
    edited(
        |b| {
            let at = group_at(b, 1) + group::MAX_FIELD;
            set_u8(b, at, 9)
        },
        |b| group_at(b, 1) + group::ANCHOR_MASK,
        ErrorKind::AnchorMaskMismatch { entry: 1 },
    );
    for lengths in [group::PREFIX_LENGTHS, group::SUFFIX_LENGTHS] {
        edited(
            |b| {
                let at = group_at(b, 1) + lengths + 24;
                let word = get_u64(b, at);
                set_u64(b, at, word ^ (1 << 40));
            },
            |b| group_at(b, 1) + group::ANCHOR_MASK,
            ErrorKind::AnchorMaskMismatch { entry: 1 },
        );
    }
}

#[test]
fn unknown_wire_codes_and_arguments_rebuild_nothing() {
    assert_eq!(ValidationError::from_wire(0, 0, [0; 4]), None);
    assert_eq!(ValidationError::from_wire(49, 0, [0; 4]), None);
    assert_eq!(ValidationError::from_wire(8, 0, [99, 0, 0, 0]), None, "unknown limit");
    assert_eq!(ValidationError::from_wire(34, 0, [1, 256, 11, 0]), None, "field index over u8");
}
