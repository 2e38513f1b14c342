//! `ringfence sigma check`: per-rule stages, refusals with their reasons, exit codes.

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

fn ringfence() -> Command {
    Command::cargo_bin("ringfence").unwrap()
}

const GOOD: &str = "title: Whoami
id: 11111111-0000-0000-0000-000000000001
logsource: {product: windows, category: process_creation}
detection:
    selection:
        Image|endswith: '\\whoami.exe'
    condition: selection
level: low
---
title: Renamed rundll32
id: 11111111-0000-0000-0000-000000000002
logsource: {product: windows, category: process_creation}
detection:
    selection:
        OriginalFileName: 'RUNDLL32.EXE'
    condition: selection
";

#[test]
fn each_rule_is_listed_with_its_stage_and_the_check_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), GOOD).unwrap();
    ringfence()
        .args(["sigma", "check"])
        .arg(dir.path())
        .assert()
        .code(0)
        .stdout(contains("kernel    11111111-0000-0000-0000-000000000001  Whoami"))
        .stdout(contains("companion 11111111-0000-0000-0000-000000000002  Renamed rundll32"))
        .stdout(contains("1 kernel stage, 1 companion stage, 0 refused"));
}

#[test]
fn a_refused_rule_is_named_with_its_reason_and_the_check_fails_with_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    let refused = "---\ntitle: Cwd\nid: 22222222-0000-0000-0000-000000000001\nlogsource: {product: windows, category: \
                   process_creation}\ndetection:\n    s:\n        CurrentDirectory: 'C:\\x\\'\n    condition: s\n";
    std::fs::write(&file, format!("{GOOD}{refused}")).unwrap();
    ringfence()
        .args(["sigma", "check"])
        .arg(&file)
        .assert()
        .code(1)
        .stdout(contains("kernel    11111111-0000-0000-0000-000000000001"))
        .stdout(contains(format!(
            "refused   {}: rule 22222222-0000-0000-0000-000000000001 (Cwd): field CurrentDirectory is not produced",
            file.display()
        )))
        .stderr(contains("ringfence: error: 1 Sigma rule(s) or document(s) refused"));
}

#[test]
fn malformed_yaml_is_reported_with_the_parsers_message_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.yml");
    std::fs::write(&file, "title: [unclosed\n").unwrap();
    ringfence().args(["sigma", "check"]).arg(&file).assert().code(1).stdout(contains(format!(
        "refused   {}: not a valid Sigma document: YAML parse error",
        file.display()
    )));
}

#[test]
fn a_missing_path_is_an_io_error_exit_5() {
    ringfence()
        .args(["sigma", "check", "/nonexistent/rules.yml"])
        .assert()
        .code(5)
        .stderr(contains("cannot read /nonexistent/rules.yml").and(contains("No such file")));
}

#[test]
fn watch_with_a_missing_sigma_path_names_it_and_exits_5_before_opening_the_device() {
    ringfence()
        .args(["watch", "--format", "json", "--sigma", "/nonexistent/sigma-rules"])
        .assert()
        .code(5)
        .stderr(
            "ringfence: error: cannot read /nonexistent/sigma-rules: No such file or directory (os error 2) \
             (check the path and its permissions)\n",
        );
}

#[test]
fn watch_with_a_sigma_directory_without_rules_names_it_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    ringfence().args(["watch", "--format", "json", "--sigma"]).arg(dir.path()).assert().code(1).stderr(
        format!(
            "ringfence: error: {}: no Sigma rule (no .yml or .yaml file holds one)\n",
            dir.path().display()
        ),
    );
}

#[test]
fn only_detections_needs_sigma_rules() {
    ringfence().args(["watch", "--only-detections"]).assert().code(2).stderr(contains("--sigma"));
}
