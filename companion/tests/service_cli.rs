//! `ringfence service` from the command line: configuration checks with the
//! line named, and the Windows-only controls refused plainly elsewhere.

use assert_cmd::Command;
use predicates::str::contains;

fn ringfence() -> Command {
    Command::cargo_bin("ringfence").unwrap()
}

#[test]
fn the_example_configuration_checks_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/service/ringfence.toml");
    ringfence().args(["service", "check", "--config", example]).assert().code(0).stdout(contains("valid"));
}

#[test]
fn a_bad_configuration_is_refused_with_its_file_and_line_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ringfence.toml");
    std::fs::write(&path, "[[output]]\nkind = \"file\"\ndirectory = \"events\"\nrotate_size = \"huge\"\n")
        .unwrap();
    ringfence()
        .args(["service", "check", "--config"])
        .arg(&path)
        .assert()
        .code(1)
        .stderr(contains(format!("{}: line 4: rotate_size = \"huge\" is not a size", path.display())));
}

#[cfg(not(windows))]
#[test]
fn installing_the_service_off_windows_says_what_works_instead() {
    ringfence()
        .args(["service", "status"])
        .assert()
        .code(5)
        .stderr(contains("`ringfence service run --config FILE` runs the service loop in the foreground"));
}
