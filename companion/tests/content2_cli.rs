//! `ringfence content compile --sigma`, and `check` / `show` of content format 2:
//! TOML filter rules and Sigma detection rules in one content, each Sigma rule
//! that stays out named with its id, title, file and construct.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

fn ringfence() -> Command {
    Command::cargo_bin("ringfence").unwrap()
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/content2").join(name)
}

/// Compiles the fixtures into `dir/content.bin`.
fn compiled(dir: &Path) -> PathBuf {
    let out = dir.join("content.bin");
    ringfence()
        .args(["content", "compile"])
        .arg(fixture("filter.toml"))
        .arg("--sigma")
        .arg(fixture("sigma"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(0);
    out
}

#[test]
fn toml_and_sigma_compile_into_one_content_and_the_summary_places_every_rule() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("content.bin");
    let file = fixture("sigma").join("rules.yml");
    ringfence()
        .args(["content", "compile"])
        .arg(fixture("filter.toml"))
        .arg("--sigma")
        .arg(fixture("sigma"))
        .arg("-o")
        .arg(&out)
        .assert()
        .code(0)
        .stdout(contains(
            "content format 2, version 7, schema 3: 6 rules (3 filter, 2 Sigma decidable in the kernel, 1 Sigma \
             needing the companion's fields)",
        ))
        .stdout(contains("1 Sigma rules left to the companion's --sigma, 1 refused; worst-case evaluation cost"))
        .stderr(contains(format!(
            "ringfence: {}: Sigma rule 33333333-0000-0000-0000-000000000005 (Whole word) is not in the content, \
             give it to the companion with --sigma: CommandLine: regular expression evaluated in the companion \
             only: a Unicode word boundary has no automaton",
            file.display()
        )))
        .stderr(contains(format!(
            "ringfence: Sigma rule refused: {}: rule 33333333-0000-0000-0000-000000000004 (Working directory): \
             field CurrentDirectory is not produced",
            file.display()
        )));
    assert!(out.exists());
}

#[test]
fn check_validates_format_2_and_counts_rules_by_role() {
    let dir = tempfile::tempdir().unwrap();
    let content = compiled(dir.path());
    ringfence()
        .args(["content", "check"])
        .arg(&content)
        .assert()
        .code(0)
        .stdout(contains(format!(
            "{}: valid: content format 2, version 7, schema 3, 6 rules (3 filter, 3 detection)",
            content.display()
        )))
        .stdout(contains(format!(
            "of the {} work units allowed per event",
            ringfence_content::v2::MAX_EVALUATION_COST
        )));
}

#[test]
fn show_lists_each_rule_with_its_role_and_sigma_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let content = compiled(dir.path());
    ringfence()
        .args(["content", "show"])
        .arg(&content)
        .assert()
        .code(0)
        .stdout(contains("format          2\ncontent version 7\nschema version  3\n"))
        .stdout(contains("rules           6 (3 filter, 3 detection)\nworst case      "))
        .stdout(contains("\nrule 0 \"encoded powershell\": include process_start\n"))
        .stdout(contains("\nrule 1 \"elevated\": include process_start\n"))
        .stdout(contains("\nrule 2 \"services\": exclude process_start\n"))
        .stdout(contains(
            "\nrule 3 \"Whoami\": detection process_start\n  sigma id 33333333-0000-0000-0000-000000000001\n  \
             level    low\n  tags     attack.discovery attack.t1033\n",
        ))
        .stdout(contains(
            "\nrule 4 \"Renamed rundll32\": detection process_start\n  sigma id \
             33333333-0000-0000-0000-000000000002\n  level    high\n  tags     attack.defense-evasion \
             attack.t1218.011\n",
        ))
        .stdout(contains(
            "\nrule 5 \"Encoded command by pattern\": detection process_start\n  sigma id \
             33333333-0000-0000-0000-000000000003\n  level    medium\n",
        ));
}

#[test]
fn check_names_the_byte_and_reason_of_a_damaged_format_2_file_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let content = compiled(dir.path());
    let mut bytes = std::fs::read(&content).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&content, &bytes).unwrap();
    ringfence().args(["content", "check"]).arg(&content).assert().code(1).stderr(contains(format!(
        "{} is not valid content: content format 2 refused at byte",
        content.display()
    )));
}

#[test]
fn toml_alone_still_compiles_to_format_1_and_format_2_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let one = dir.path().join("one.bin");
    let two = dir.path().join("two.bin");
    ringfence().args(["content", "compile"]).arg(fixture("filter.toml")).arg("-o").arg(&one).assert().code(0);
    ringfence().args(["content", "show"]).arg(&one).assert().code(0).stdout(contains("format          1\n"));
    ringfence()
        .args(["content", "compile", "--format", "2"])
        .arg(fixture("filter.toml"))
        .arg("-o")
        .arg(&two)
        .assert()
        .code(0)
        .stdout(contains("3 rules (3 filter, 0 Sigma decidable in the kernel, 0 Sigma needing"));
    ringfence()
        .args(["content", "check"])
        .arg(&two)
        .assert()
        .code(0)
        .stdout(contains("valid: content format 2, version 7, schema 3, 3 rules (3 filter, 0 detection)"));
}

#[test]
fn a_toml_condition_on_a_path_is_refused_for_format_2_naming_rule_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("paths.toml");
    std::fs::write(
        &rules,
        "version = 1\n[[rule]]\nname = \"cmd\"\nkind = \"process_start\"\naction = \"include\"\nmatch = [{ field = \
         \"image_path\", ends_with = \"\\\\cmd.exe\" }]\n",
    )
    .unwrap();
    ringfence()
        .args(["content", "compile", "--format", "2"])
        .arg(&rules)
        .arg("-o")
        .arg(dir.path().join("x.bin"))
        .assert()
        .code(1)
        .stderr(contains(format!(
            "{}: rule 0 (\"cmd\"), image_path: format 2 matches this path as a DOS path",
            rules.display()
        )));
    assert!(!dir.path().join("x.bin").exists());
}

#[test]
fn a_value_format_2_would_fold_differently_is_refused_when_it_cannot_be_spelt_out() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("case.toml");
    std::fs::write(
        &rules,
        "version = 1\n[[rule]]\nname = \"root\"\nkind = \"process_start\"\naction = \"exclude\"\nmatch = [{ field = \
         \"command_line\", contains = \"systemroot\" }]\n",
    )
    .unwrap();
    ringfence()
        .args(["content", "compile", "--format", "2"])
        .arg(&rules)
        .arg("-o")
        .arg(dir.path().join("x.bin"))
        .assert()
        .code(1)
        .stderr(contains(
            "rule 0 (\"root\"), command_line: \"systemroot\" without case: format 2 folds U+0073 with other \
             characters than format 1's ASCII folding does, and its 1024 ASCII case spellings are over 128",
        ));
}

#[test]
fn sigma_with_format_1_is_a_refused_combination() {
    let dir = tempfile::tempdir().unwrap();
    ringfence()
        .args(["content", "compile", "--format", "1"])
        .arg(fixture("filter.toml"))
        .arg("--sigma")
        .arg(fixture("sigma"))
        .arg("-o")
        .arg(dir.path().join("x.bin"))
        .assert()
        .code(1)
        .stderr(contains("Sigma rules compile into content format 2 only"));
}

#[test]
fn sigma_alone_compiles_without_toml() {
    let dir = tempfile::tempdir().unwrap();
    ringfence()
        .args(["content", "compile", "--content-version", "9", "--sigma"])
        .arg(fixture("sigma"))
        .arg("-o")
        .arg(dir.path().join("x.bin"))
        .assert()
        .code(0)
        .stdout(contains("content format 2, version 9, schema 3: 3 rules (0 filter, 2 Sigma decidable"))
        .stdout(predicate::str::contains("worst-case evaluation cost"));
}
