//! The TOML compiler: what it accepts, and that every error names the line
//! and the rule (index from 0, and name) it is about.

use ringfence_content::{
    Action, CompileError, CompileErrorKind, ConditionSpec, Limit, Operator, RuleSpec, SpecValue, compile,
    compile_rules, validate,
};
use ringfence_wire::{EventKind, FieldType, SCHEMA};

/// A file with one good rule followed by a rule named "second" whose body is `body`.
fn with_second_rule(body: &str) -> String {
    format!(
        "version = 1\n\
         \n\
         [[rule]]\n\
         name = \"first\"\n\
         kind = \"process_start\"\n\
         action = \"include\"\n\
         match = [{{ field = \"pid\", equals = 4 }}]\n\
         \n\
         [[rule]]\n\
         name = \"second\"\n\
         {body}\n"
    )
}

/// The error for a second rule whose `match` line (line 13) is `condition`.
fn condition_error(condition: &str) -> CompileError {
    let body = format!("kind = \"process_start\"\naction = \"include\"\nmatch = [{condition}]");
    compile(&with_second_rule(&body), &SCHEMA).unwrap_err()
}

fn second(line: usize, kind: CompileErrorKind) -> CompileError {
    CompileError { line, rule: Some((1, "second".to_string())), kind }
}

#[test]
fn a_good_file_compiles_to_content_that_validates_with_its_counts() {
    let bytes = compile(&with_second_rule("kind = \"image_load\"\naction = \"exclude\""), &SCHEMA).unwrap();
    let summary = validate(&bytes, &SCHEMA).unwrap().summary();
    assert_eq!((summary.version, summary.schema_version), (1, SCHEMA.version));
    assert_eq!((summary.rules, summary.conditions, summary.bytes), (2, 1, bytes.len()));
}

#[test]
fn conditions_as_tables_compile_to_the_same_bytes_as_inline_conditions() {
    let inline = "version = 3\n[[rule]]\nname = \"x\"\nkind = \"process_start\"\naction = \"include\"\n\
                  match = [\n  { field = \"image_path\", ends_with = \"\\\\x.exe\" },\n  \
                  { field = \"pid\", not = true, equals = 4 },\n]\n";
    let tables = "version = 3\n[[rule]]\nname = \"x\"\nkind = \"process_start\"\naction = \"include\"\n\
                  [[rule.match]]\nfield = \"image_path\"\nends_with = \"\\\\x.exe\"\n\
                  [[rule.match]]\nfield = \"pid\"\nnot = true\nequals = 4\n";
    assert_eq!(compile(inline, &SCHEMA).unwrap(), compile(tables, &SCHEMA).unwrap());
}

#[test]
fn a_toml_syntax_error_names_its_line_and_rule() {
    let err = compile(&with_second_rule("kind = \"process_start\"\nx"), &SCHEMA).unwrap_err();
    assert_eq!(err.line, 12);
    assert_eq!(err.rule, Some((1, String::new())), "no name: the file does not parse");
    assert!(matches!(err.kind, CompileErrorKind::Syntax { .. }));
}

#[test]
fn a_misspelt_operator_is_an_error_not_a_wildcard() {
    let err = condition_error("{ field = \"image_path\", ends_wtih = \"\\\\x.exe\" }");
    assert_eq!((err.line, err.rule.clone()), (13, Some((1, "second".to_string()))));
    let CompileErrorKind::Syntax { message } = &err.kind else { panic!("{err:?}") };
    assert!(message.contains("ends_wtih"), "{message}");
}

#[test]
fn an_unknown_event_kind_is_named_with_its_line() {
    let err = compile(&with_second_rule("kind = \"registry\"\naction = \"include\""), &SCHEMA).unwrap_err();
    assert_eq!(err, second(11, CompileErrorKind::UnknownKind { name: "registry".into() }));
    assert_eq!(err.to_string(), "line 11: rule 1 (\"second\"): unknown event kind \"registry\"");
}

#[test]
fn the_sensors_own_event_kinds_take_no_rules() {
    let err =
        compile(&with_second_rule("kind = \"lost_events\"\naction = \"exclude\""), &SCHEMA).unwrap_err();
    assert_eq!(err, second(11, CompileErrorKind::KindNotFilterable { kind: EventKind::LostEvents }));
}

#[test]
fn an_unknown_action_is_named_with_its_line() {
    let err = compile(&with_second_rule("kind = \"image_load\"\naction = \"drop\""), &SCHEMA).unwrap_err();
    assert_eq!(err, second(12, CompileErrorKind::UnknownAction { name: "drop".into() }));
}

#[test]
fn a_field_the_kind_does_not_have_is_named() {
    let err = condition_error("{ field = \"parent_image\", equals = \"x\" }");
    let kind = CompileErrorKind::UnknownField { kind: EventKind::ProcessStart, field: "parent_image".into() };
    assert_eq!(err, second(13, kind));
}

#[test]
fn the_verdict_field_cannot_be_matched() {
    let err = condition_error("{ field = \"rule_name\", equals = \"x\" }");
    assert_eq!(err, second(13, CompileErrorKind::FieldNotMatchable { field: "rule_name" }));
}

#[test]
fn a_condition_needs_exactly_one_operator() {
    let err = condition_error("{ field = \"pid\" }");
    assert_eq!(err, second(13, CompileErrorKind::NoOperator { field: "pid" }));
    let err = condition_error("{ field = \"image_path\", starts_with = \"a\", ends_with = \"b\" }");
    assert_eq!(err, second(13, CompileErrorKind::SeveralOperators { field: "image_path" }));
}

#[test]
fn an_operator_must_fit_the_field_type() {
    let err = condition_error("{ field = \"pid\", contains = \"4\" }");
    let kind =
        CompileErrorKind::OperatorMismatch { field: "pid", operator: Operator::Contains, ty: FieldType::U32 };
    assert_eq!(err, second(13, kind));
    let err = condition_error("{ field = \"image_path\", less_than = 4 }");
    let kind = CompileErrorKind::OperatorMismatch {
        field: "image_path",
        operator: Operator::LessThan,
        ty: FieldType::Str,
    };
    assert_eq!(err, second(13, kind));
}

#[test]
fn a_value_must_have_the_field_type_and_fit_its_range() {
    let err = condition_error("{ field = \"pid\", equals = \"4\" }");
    assert_eq!(err, second(13, CompileErrorKind::ValueType { field: "pid", expected: FieldType::U32 }));
    let err = condition_error("{ field = \"pid\", equals = 4294967296 }");
    assert_eq!(err, second(13, CompileErrorKind::ValueOutOfRange { field: "pid" }));
    let err = condition_error("{ field = \"start_key\", equals = -1 }");
    assert_eq!(err, second(13, CompileErrorKind::ValueOutOfRange { field: "start_key" }));
    let err = condition_error("{ field = \"image_name_available\", equals = 1 }");
    let kind = CompileErrorKind::ValueType { field: "image_name_available", expected: FieldType::Bool };
    assert_eq!(err, second(13, kind));
}

#[test]
fn case_sensitivity_applies_to_strings_only() {
    let err = condition_error("{ field = \"pid\", equals = 4, case_sensitive = true }");
    assert_eq!(err, second(13, CompileErrorKind::CaseOnNonString { field: "pid" }));
}

#[test]
fn limits_are_errors_naming_the_rule() {
    let long = "a".repeat(257);
    let err = condition_error(&format!("{{ field = \"command_line\", contains = \"{long}\" }}"));
    assert_eq!(err.rule, Some((1, "second".into())));
    assert_eq!(
        err.kind,
        CompileErrorKind::LimitExceeded { limit: Limit::PatternUnits, found: 257, max: 256 }
    );

    let many = vec!["{ field = \"pid\", greater_than = 1 }"; 17].join(", ");
    let err = condition_error(&many);
    assert_eq!(
        err.kind,
        CompileErrorKind::LimitExceeded { limit: Limit::ConditionsPerRule, found: 17, max: 16 }
    );
    assert_eq!(err.line, 9, "the rule's [[rule]] line");

    let name = "n".repeat(65);
    let source =
        format!("version = 1\n[[rule]]\nname = \"{name}\"\nkind = \"process_exit\"\naction = \"include\"\n");
    let err = compile(&source, &SCHEMA).unwrap_err();
    assert_eq!(err.kind, CompileErrorKind::LimitExceeded { limit: Limit::RuleNameUnits, found: 65, max: 64 });
    assert_eq!((err.line, err.rule), (2, Some((0, name))));
}

#[test]
fn more_rules_than_the_limit_is_an_error() {
    let rule = RuleSpec {
        name: String::new(),
        kind: EventKind::ProcessExit,
        action: Action::Exclude,
        conditions: vec![],
    };
    let err = compile_rules(&vec![rule; 4097], 1, &SCHEMA).unwrap_err();
    let kind = CompileErrorKind::LimitExceeded { limit: Limit::Rules, found: 4097, max: 4096 };
    assert_eq!(err, CompileError { line: 0, rule: None, kind });
}

#[test]
fn rules_in_memory_are_checked_against_the_schema_too() {
    let rule = RuleSpec {
        name: "future".into(),
        kind: EventKind::ProcessExit,
        action: Action::Include,
        conditions: vec![ConditionSpec {
            field: 12,
            operator: Operator::Equals,
            negated: false,
            case_insensitive: false,
            value: SpecValue::Integer(1),
        }],
    };
    let err = compile_rules(&[rule], 1, &SCHEMA).unwrap_err();
    let kind = CompileErrorKind::FieldOutOfRange { kind: EventKind::ProcessExit, field: 12, supplied: 12 };
    assert_eq!(err, CompileError { line: 0, rule: Some((0, "future".into())), kind });
}
