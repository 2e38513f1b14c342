//! What a verdict means, rule by rule: Sysmon's include/exclude semantics,
//! operators, negation, case, and fields the event lacks.

mod common;

use common::*;
use ringfence_content::{Verdict, compile, validate};
use ringfence_wire::SCHEMA;

/// Compiles `rules` (TOML rule tables) and evaluates a process start.
fn verdict_for(rules: &str, image: &str, command_line: &str) -> Option<String> {
    let content = compile(&format!("version = 1\n{rules}"), &SCHEMA).unwrap();
    let valid = validate(&content, &SCHEMA).unwrap();
    let (image, command_line) = (wide(image), wide(command_line));
    match valid.evaluate(&process_start(&image, &command_line)) {
        Verdict::Keep { rule_name } => {
            Some(String::from_utf16(&rule_name.units().collect::<Vec<_>>()).unwrap())
        }
        Verdict::Drop => None,
    }
}

fn rule(name: &str, action: &str, conditions: &str) -> String {
    format!(
        "[[rule]]\nname = \"{name}\"\nkind = \"process_start\"\naction = \"{action}\"\nmatch = [{conditions}]\n"
    )
}

const CMD: &str = r"C:\Windows\System32\cmd.exe";

#[test]
fn without_rules_every_event_is_kept_untagged() {
    assert_eq!(verdict_for("", CMD, "cmd"), Some(String::new()));
}

#[test]
fn rules_for_another_kind_do_not_touch_an_event() {
    let rules = "[[rule]]\nname = \"exits\"\nkind = \"process_exit\"\naction = \"include\"\n";
    assert_eq!(verdict_for(rules, CMD, "cmd"), Some(String::new()));
}

#[test]
fn an_exclude_rule_that_matches_drops_the_event_even_when_an_include_rule_matches() {
    let rules = rule("cmd", "include", r#"{ field = "image_path", ends_with = "\\cmd.exe" }"#)
        + &rule("quiet", "exclude", r#"{ field = "command_line", contains = "/q" }"#);
    assert_eq!(verdict_for(&rules, CMD, "cmd /q"), None);
    assert_eq!(verdict_for(&rules, CMD, "cmd"), Some("cmd".into()));
}

#[test]
fn with_include_rules_an_event_matching_none_is_dropped() {
    let rules = rule("powershell", "include", r#"{ field = "image_path", ends_with = "\\powershell.exe" }"#);
    assert_eq!(verdict_for(&rules, CMD, "cmd"), None);
}

#[test]
fn exclude_rules_alone_keep_what_they_do_not_match_untagged() {
    let rules = rule("quiet", "exclude", r#"{ field = "command_line", contains = "/q" }"#);
    assert_eq!(verdict_for(&rules, CMD, "cmd"), Some(String::new()));
}

#[test]
fn the_first_matching_include_rule_in_the_file_names_the_event() {
    let rules = rule("any cmd", "include", r#"{ field = "command_line", contains = "cmd" }"#)
        + &rule(
            "exact cmd",
            "include",
            r#"{ field = "image_path", equals = "C:\\Windows\\System32\\cmd.exe" }"#,
        );
    assert_eq!(verdict_for(&rules, CMD, "cmd"), Some("any cmd".into()));
    let swapped = rule(
        "exact cmd",
        "include",
        r#"{ field = "image_path", equals = "C:\\Windows\\System32\\cmd.exe" }"#,
    ) + &rule("any cmd", "include", r#"{ field = "command_line", contains = "cmd" }"#);
    assert_eq!(verdict_for(&swapped, CMD, "cmd"), Some("exact cmd".into()));
}

#[test]
fn all_conditions_of_a_rule_must_hold() {
    let rules = rule(
        "both",
        "include",
        r#"{ field = "image_path", ends_with = "\\cmd.exe" }, { field = "command_line", contains = "/c" }"#,
    );
    assert_eq!(verdict_for(&rules, CMD, "cmd /c dir"), Some("both".into()));
    assert_eq!(verdict_for(&rules, CMD, "cmd /k dir"), None);
}

#[test]
fn strings_compare_without_ascii_case_unless_asked() {
    let folded = rule("folded", "include", r#"{ field = "image_path", ends_with = "\\CMD.EXE" }"#);
    assert_eq!(verdict_for(&folded, CMD, ""), Some("folded".into()));
    let exact = rule(
        "exact",
        "include",
        r#"{ field = "image_path", ends_with = "\\CMD.EXE", case_sensitive = true }"#,
    );
    assert_eq!(verdict_for(&exact, CMD, ""), None);
}

#[test]
fn negation_inverts_a_condition() {
    let rules =
        rule("not system32", "include", r#"{ field = "image_path", contains = "\\System32\\", not = true }"#);
    assert_eq!(verdict_for(&rules, CMD, ""), None);
    assert_eq!(verdict_for(&rules, r"C:\Tools\cmd.exe", ""), Some("not system32".into()));
}

#[test]
fn integer_and_bool_operators_compare_values() {
    // The fixture's pid is 4242, its session 1, and its image name was available.
    let cases = [
        (r#"{ field = "pid", equals = 4242 }"#, true),
        (r#"{ field = "pid", less_than = 4242 }"#, false),
        (r#"{ field = "pid", greater_than = 4241 }"#, true),
        (r#"{ field = "session_id", equals = 0, not = true }"#, true),
        (r#"{ field = "image_name_available", equals = false }"#, false),
        (r#"{ field = "start_key", equals = 77 }"#, true),
        (r#"{ field = "create_time", greater_than = 0x1D8_0000_0000_0000 }"#, true),
    ];
    for (condition, holds) in cases {
        let rules = rule("r", "include", condition);
        assert_eq!(verdict_for(&rules, CMD, ""), holds.then(|| "r".to_string()), "{condition}");
    }
}

#[test]
fn an_empty_pattern_is_a_prefix_suffix_and_substring_of_everything() {
    for op in ["starts_with", "ends_with", "contains"] {
        let rules = rule("empty", "include", &format!(r#"{{ field = "command_line", {op} = "" }}"#));
        assert_eq!(verdict_for(&rules, CMD, ""), Some("empty".into()), "{op}");
    }
}
