//! The `ringfence` binary as a user meets it: help, every subcommand, every
//! error path, and the exit codes its --help documents.

use std::path::Path;

use assert_cmd::Command;
use predicates::prelude::*;
use predicates::str::contains;

fn ringfence() -> Command {
    Command::cargo_bin("ringfence").unwrap()
}

const RULES: &str = r#"
version = 7

[[rule]]
name = "windows system dlls"
kind = "image_load"
action = "exclude"
match = [
  { field = "image_path", contains = "\\Windows\\System32\\" },
  { field = "image_path", ends_with = ".dll" },
]

[[rule]]
name = "shells"
kind = "process_start"
action = "include"
match = [{ field = "image_path", ends_with = "\\cmd.exe" }]
"#;

/// Writes RULES and compiles them; returns (dir, content path).
fn compiled() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let content = dir.path().join("content.bin");
    ringfence().args(["content", "compile"]).arg(&rules).arg("-o").arg(&content).assert().success();
    (dir, content)
}

#[test]
fn help_lists_every_subcommand_and_the_exit_codes() {
    ringfence()
        .arg("--help")
        .assert()
        .success()
        .stdout(contains("watch").and(contains("content")).and(contains("stats")))
        .stdout(contains("Exit codes:").and(contains("3  device unavailable")));
    ringfence()
        .args(["content", "--help"])
        .assert()
        .success()
        .stdout(contains("compile").and(contains("check")).and(contains("show")).and(contains("push")));
}

#[test]
fn an_unknown_format_is_a_usage_error() {
    ringfence()
        .args(["watch", "--format", "xml"])
        .assert()
        .code(2)
        .stderr(contains("json").and(contains("table")));
}

#[test]
fn compile_writes_content_and_reports_what_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let content = dir.path().join("content.bin");
    ringfence()
        .args(["content", "compile"])
        .arg(&rules)
        .arg("-o")
        .arg(&content)
        .assert()
        .success()
        .stdout(contains("content version 7").and(contains("2 rules, 3 conditions")));
    assert!(std::fs::metadata(&content).unwrap().len() > 0);
}

#[test]
fn rules_that_do_not_compile_name_the_file_line_and_rule_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("bad.toml");
    std::fs::write(&rules, RULES.replace("ends_with = \".dll\"", "ends_with = 5")).unwrap();
    ringfence()
        .args(["content", "compile"])
        .arg(&rules)
        .arg("-o")
        .arg(dir.path().join("out.bin"))
        .assert()
        .code(1)
        .stderr(contains(format!(
            "ringfence: error: {}: line 10: rule 0 (\"windows system dlls\")",
            rules.display()
        )))
        .stderr(contains("fix the rule file"));
    assert!(!dir.path().join("out.bin").exists());
}

#[test]
fn compiling_into_a_missing_directory_names_the_output_and_exits_5() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let out = dir.path().join("no/such/dir/content.bin");
    ringfence()
        .args(["content", "compile"])
        .arg(&rules)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(5)
        .stderr(contains(format!("cannot write {}", out.display())));
}

#[test]
fn a_missing_rule_file_is_named_and_exits_5() {
    ringfence()
        .args(["content", "compile", "/nonexistent/rules.toml", "-o", "/tmp/x.bin"])
        .assert()
        .code(5)
        .stderr(contains("cannot read /nonexistent/rules.toml"));
}

#[test]
fn check_accepts_compiled_content() {
    let (_dir, content) = compiled();
    ringfence()
        .args(["content", "check"])
        .arg(&content)
        .assert()
        .success()
        .stdout(contains(format!("{}: valid: content version 7", content.display())));
}

#[test]
fn compile_and_check_report_the_worst_case_evaluation_cost() {
    let bytes = ringfence_content::compile(RULES, &ringfence_wire::SCHEMA).unwrap();
    let cost = ringfence_content::validate(&bytes, &ringfence_wire::SCHEMA)
        .unwrap()
        .worst_case_cost(&ringfence_wire::SCHEMA);
    let line = format!(
        "worst-case evaluation cost {cost} of the {} work units allowed per event\n",
        ringfence_content::MAX_EVALUATION_COST
    );
    let dir = tempfile::tempdir().unwrap();
    let (rules, content) = (dir.path().join("rules.toml"), dir.path().join("content.bin"));
    std::fs::write(&rules, RULES).unwrap();
    ringfence()
        .args(["content", "compile"])
        .arg(&rules)
        .arg("-o")
        .arg(&content)
        .assert()
        .success()
        .stdout(contains(line.clone()));
    ringfence().args(["content", "check"]).arg(&content).assert().success().stdout(contains(line));
}

/// 31 rules of one command-line `contains` each: every process start may scan
/// the longest command line 31 times, over the budget.
fn over_budget_rules() -> String {
    let mut rules = String::from("version = 3\n");
    for i in 0..31 {
        rules.push_str(&format!(
            "\n[[rule]]\nname = \"r{i}\"\nkind = \"process_start\"\naction = \"include\"\nmatch = [{{ field = \"command_line\", contains = \"x{i}\" }}]\n"
        ));
    }
    rules
}

#[test]
fn compile_refuses_content_over_the_cost_budget_with_the_validators_error_and_exits_1() {
    let source = over_budget_rules();
    let bytes = ringfence_content::compile(&source, &ringfence_wire::SCHEMA).unwrap();
    let error = ringfence_content::validate(&bytes, &ringfence_wire::SCHEMA).map(|_| ()).unwrap_err();
    assert!(
        matches!(error.kind, ringfence_content::ErrorKind::CostOverBudget { entry: 0, rule: 30, .. }),
        "{error}"
    );
    let dir = tempfile::tempdir().unwrap();
    let (rules, content) = (dir.path().join("rules.toml"), dir.path().join("content.bin"));
    std::fs::write(&rules, &source).unwrap();
    ringfence()
        .args(["content", "compile"])
        .arg(&rules)
        .arg("-o")
        .arg(&content)
        .assert()
        .code(1)
        .stderr(contains(format!("{} is not valid content: {error}", content.display())));
    assert!(!content.exists(), "nothing written");
    // `check` of the same bytes gives the same error.
    std::fs::write(&content, &bytes).unwrap();
    ringfence().args(["content", "check"]).arg(&content).assert().code(1).stderr(contains(error.to_string()));
}

#[test]
fn check_rejects_a_flipped_byte_with_offset_and_reason_and_exits_1() {
    let (_dir, content) = compiled();
    let mut bytes = std::fs::read(&content).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x55;
    std::fs::write(&content, &bytes).unwrap();
    ringfence()
        .args(["content", "check"])
        .arg(&content)
        .assert()
        .code(1)
        .stderr(contains(format!("{} is not valid content: at byte", content.display())))
        .stderr(contains("ringfence content compile"));
}

#[test]
fn check_of_a_missing_file_exits_5() {
    ringfence()
        .args(["content", "check", "/nonexistent/c.bin"])
        .assert()
        .code(5)
        .stderr(contains("/nonexistent/c.bin"));
}

#[test]
fn show_prints_every_rule_with_its_conditions() {
    let (_dir, content) = compiled();
    ringfence()
        .args(["content", "show"])
        .arg(&content)
        .assert()
        .success()
        .stdout(contains("content version 7"))
        .stdout(contains("\"windows system dlls\": exclude image_load"))
        .stdout(contains(r#"image_path contains "\\Windows\\System32\\""#))
        .stdout(contains("\"shells\": include process_start"));
}

#[test]
fn show_of_invalid_content_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("junk.bin");
    std::fs::write(&content, b"junk").unwrap();
    ringfence()
        .args(["content", "show"])
        .arg(&content)
        .assert()
        .code(1)
        .stderr(contains("junk.bin is not valid content"));
}

/// The commands that need the driver: without one they fail naming the device.
#[cfg(not(windows))]
mod without_a_device {
    use super::*;

    fn fails_naming_the_device(args: &[&str]) {
        ringfence()
            .args(args)
            .assert()
            .code(3)
            .stdout(predicate::str::is_empty())
            .stderr(contains(r"ringfence: error: \\.\Ringfence cannot be opened on this operating system"))
            .stderr(contains("Windows machine where the driver is loaded"));
    }

    #[test]
    fn watch_fails_naming_the_device_and_exits_3() {
        fails_naming_the_device(&["watch"]);
        fails_naming_the_device(&["watch", "--format", "json", "--host-name", "h"]);
    }

    #[test]
    fn watch_with_content_fails_on_the_device_first() {
        let (_dir, content) = compiled();
        fails_naming_the_device(&["watch", "--content", content.to_str().unwrap()]);
    }

    #[test]
    fn stats_fail_naming_the_device_and_exit_3() {
        fails_naming_the_device(&["stats"]);
        fails_naming_the_device(&["stats", "--json"]);
    }

    #[test]
    fn push_fails_naming_the_device_and_exits_3() {
        let (_dir, content) = compiled();
        fails_naming_the_device(&["content", "push", content.to_str().unwrap()]);
    }
}

#[test]
fn the_example_content_compiles_and_checks() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/content/minimal.toml");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("minimal.bin");
    ringfence().args(["content", "compile"]).arg(&example).arg("-o").arg(&out).assert().success();
    ringfence().args(["content", "check"]).arg(&out).assert().success();
}

#[test]
fn a_reader_that_goes_away_early_is_not_an_error() {
    let (_dir, content) = compiled();
    // `ringfence content show … | head -0`: the pipe's reader is gone before the first write.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ringfence"))
        .args(["content", "show"])
        .arg(&content)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!((output.status.code(), String::from_utf8_lossy(&output.stderr).as_ref()), (Some(0), ""));
}

/// `content keygen` in a fresh directory: (dir, secret key path).
fn keys() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signing.key");
    ringfence()
        .args(["content", "keygen"])
        .arg(&key)
        .assert()
        .success()
        .stdout(contains("public key").and(contains("Parameters\\TrustedKeys")));
    (dir, key)
}

#[test]
fn keygen_writes_a_secret_and_a_public_key_and_never_overwrites_either() {
    let (_dir, key) = keys();
    let public = std::fs::read_to_string(format!("{}.pub", key.display())).unwrap();
    assert_eq!(public.trim().len(), 64, "64 hex digits");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    }
    ringfence()
        .args(["content", "keygen"])
        .arg(&key)
        .assert()
        .code(5)
        .stderr(contains("already exists; keys are never overwritten"));
}

#[test]
fn signed_content_verifies_against_its_key_and_not_against_another() {
    let (dir, key) = keys();
    let (_content_dir, content) = compiled();
    let signed = dir.path().join("signed.bin");
    ringfence()
        .args(["content", "sign"])
        .arg(&content)
        .arg("--key")
        .arg(&key)
        .args(["--ring", "2", "--sensor-min", "0.1.0", "-o"])
        .arg(&signed)
        .assert()
        .success()
        .stdout(contains("content version 7, released to ring 2, driver versions 0.1.0 to any"));
    ringfence()
        .args(["content", "verify"])
        .arg(&signed)
        .arg("--key")
        .arg(format!("{}.pub", key.display()))
        .assert()
        .success()
        .stdout(contains("signature valid against the given keys; content valid"));
    let other = dir.path().join("other.key");
    ringfence().args(["content", "keygen"]).arg(&other).assert().success();
    ringfence()
        .args(["content", "verify"])
        .arg(&signed)
        .arg("--key")
        .arg(format!("{}.pub", other.display()))
        .assert()
        .code(1)
        .stderr(contains("is not among the 1 keys"));
    // `content check` looks inside the envelope.
    ringfence()
        .args(["content", "check"])
        .arg(&signed)
        .assert()
        .success()
        .stdout(contains("valid: content version 7"));
}

#[test]
fn a_signed_file_with_one_byte_changed_fails_verification() {
    let (dir, key) = keys();
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, RULES).unwrap();
    let signed = dir.path().join("signed.bin");
    ringfence()
        .args(["content", "compile"])
        .arg(&rules)
        .arg("-o")
        .arg(&signed)
        .arg("--sign")
        .arg(&key)
        .assert()
        .success()
        .stdout(contains("compiled and signed"));
    let mut bytes = std::fs::read(&signed).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&signed, &bytes).unwrap();
    ringfence()
        .args(["content", "verify"])
        .arg(&signed)
        .assert()
        .code(1)
        .stderr(contains("the signature does not match the content"));
}

#[test]
fn signing_an_envelope_again_or_with_a_malformed_key_is_refused() {
    let (dir, key) = keys();
    let (_content_dir, content) = compiled();
    let signed = dir.path().join("signed.bin");
    ringfence()
        .args(["content", "sign"])
        .arg(&content)
        .arg("--key")
        .arg(&key)
        .arg("-o")
        .arg(&signed)
        .assert()
        .success();
    ringfence()
        .args(["content", "sign"])
        .arg(&signed)
        .arg("--key")
        .arg(&key)
        .arg("-o")
        .arg(dir.path().join("twice.bin"))
        .assert()
        .code(1)
        .stderr(contains("is already signed"));
    let bad = dir.path().join("bad.key");
    std::fs::write(&bad, "not a key\n").unwrap();
    ringfence()
        .args(["content", "sign"])
        .arg(&content)
        .arg("--key")
        .arg(&bad)
        .arg("-o")
        .arg(dir.path().join("x.bin"))
        .assert()
        .code(5)
        .stderr(contains("unusable key file"));
    ringfence()
        .args(["content", "sign"])
        .arg(&content)
        .arg("--key")
        .arg(&key)
        .args(["--ring", "soon", "-o"])
        .arg(dir.path().join("y.bin"))
        .assert()
        .code(2)
        .stderr(contains("neither a ring number nor `general`"));
}
