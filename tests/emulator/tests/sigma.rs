//! Sigma rules in the companion stage, end to end: the intrusion scenario through the real
//! driver in the emulated kernel and `ringfence-emulate --sigma`, with the rules of
//! examples/sigma (written here): which rules fire on which event, in ECS and in Sysmon's
//! shape; a refused rule reported and the others run; a path without rules refused.

mod common;

use std::process::{Command, Output};

use serde_json::{Value, json};

fn repo(rest: &str) -> String {
    format!("{}/../../{rest}", env!("CARGO_MANIFEST_DIR"))
}

fn emulate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ringfence-emulate"))
        .arg("--sys")
        .arg(common::sys::ringfence_sys_path())
        .args(args)
        .args(["--scenario", &repo("examples/scenarios/intrusion.toml")])
        .output()
        .expect("the command runs")
}

fn lines(out: &Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout.clone()).expect("UTF-8");
    text.lines().map(|l| serde_json::from_str(l).expect("JSON lines")).collect()
}

const EXPLORER_SHELL: &str = "2b0f6d4e-0c1a-4c55-9a4e-6f7f2d1c0a01";
const ENCODED: &str = "2b0f6d4e-0c1a-4c55-9a4e-6f7f2d1c0a02";
const RUNDLL32_TEMP: &str = "2b0f6d4e-0c1a-4c55-9a4e-6f7f2d1c0a03";
const UNSIGNED_TEMP_DLL: &str = "2b0f6d4e-0c1a-4c55-9a4e-6f7f2d1c0a04";
const HIDDEN_WINDOW: &str = "2b0f6d4e-0c1a-4c55-9a4e-6f7f2d1c0a06";

#[test]
fn the_intrusion_fires_each_rule_on_its_event_with_ids_names_levels_and_attack_in_ecs() {
    let sigma = repo("examples/sigma");
    let events = lines(&emulate(&["--sigma", &sigma, "--format", "json", "--only-detections", "--quiet"]));
    let seen: Vec<Value> = events
        .iter()
        .map(|e| {
            json!([e["event"]["action"], e["process"]["pid"], e["rule"], e["ringfence"]["rule"], e["threat"]])
        })
        .collect();
    let execution = json!({"id": "TA0002", "name": "Execution"});
    let evasion = json!({"id": "TA0005", "name": "Defense Evasion"});
    let expected = vec![
        json!(["process_start", 5012,
            {"id": EXPLORER_SHELL, "name": "Explorer starts a shell that launches PowerShell", "ruleset": "sigma"},
            {"level": "medium"},
            {"framework": "MITRE ATT&CK", "tactic": execution, "technique": {"id": "T1059.003"}}]),
        json!(["process_start", 6144,
            {"id": [ENCODED, HIDDEN_WINDOW],
             "name": ["Encoded PowerShell command line", "Hidden PowerShell window started from a shell"],
             "ruleset": "sigma"},
            {"level": ["high", "medium"]},
            {"framework": "MITRE ATT&CK",
             "tactic": {"id": ["TA0002", "TA0005"], "name": ["Execution", "Defense Evasion"]},
             "technique": {"id": ["T1059.001", "T1027", "T1564.003"]}}]),
        json!(["process_start", 6620,
            {"id": RUNDLL32_TEMP, "name": "Rundll32 runs a DLL from a user's temporary folder", "ruleset": "sigma"},
            {"level": "high"},
            {"framework": "MITRE ATT&CK", "tactic": evasion, "technique": {"id": "T1218.011"}}]),
        json!(["image_load", 6620,
            {"id": UNSIGNED_TEMP_DLL, "name": "Unsigned DLL loaded from a user's temporary folder", "ruleset": "sigma"},
            {"level": "medium"},
            {"framework": "MITRE ATT&CK", "tactic": execution, "technique": {"id": "T1129"}}]),
    ];
    assert_eq!(seen, expected);
}

#[test]
fn the_sysmon_shape_names_every_matched_rule_in_rulename_joined_with_semicolons() {
    let sigma = repo("examples/sigma");
    let events = lines(&emulate(&["--sigma", &sigma, "--format", "sysmon", "--only-detections", "--quiet"]));
    let seen: Vec<(u64, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e["EventID"].as_u64().unwrap(),
                e["ProcessId"].as_str().unwrap(),
                e["RuleName"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (1, "5012", "Explorer starts a shell that launches PowerShell"),
            (1, "6144", "Encoded PowerShell command line; Hidden PowerShell window started from a shell"),
            (1, "6620", "Rundll32 runs a DLL from a user's temporary folder"),
            (7, "6620", "Unsigned DLL loaded from a user's temporary folder"),
        ]
    );
}

#[test]
fn with_the_example_content_the_include_rule_comes_first_in_rulename_and_moves_aside_in_ecs() {
    let sigma = repo("examples/sigma");
    let content = repo("examples/content/noise-reduction.toml");
    let args = ["--sigma", &sigma, "--rules", &content, "--only-detections", "--quiet"];
    let sysmon = lines(&emulate(&[&args[..], &["--format", "sysmon"]].concat()));
    let powershell = sysmon.iter().find(|e| e["ProcessId"] == "6144").expect("PowerShell's start");
    assert_eq!(
        powershell["RuleName"],
        "encoded powershell; Encoded PowerShell command line; Hidden PowerShell window started from a shell"
    );
    let ecs = lines(&emulate(&[&args[..], &["--format", "json"]].concat()));
    let powershell = ecs.iter().find(|e| e["process"]["pid"] == 6144).expect("PowerShell's start");
    assert_eq!(powershell["ringfence"]["content_rule"]["name"], "encoded powershell");
    assert_eq!(powershell["rule"]["id"], json!([ENCODED, HIDDEN_WINDOW]));
}

#[test]
fn the_summary_counts_rules_and_matches_and_the_table_marks_detections() {
    let sigma = repo("examples/sigma");
    let out = emulate(&["--sigma", &sigma, "--format", "table"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "; Sigma: 6 rules loaded, 0 refused, 4 events matched (5 detections), 1 with rules undecided\n"
        ),
        "{stderr}"
    );
    let table = String::from_utf8(out.stdout).expect("UTF-8");
    let marked: Vec<&str> = table.lines().filter(|l| l.contains(" !! SIGMA ")).collect();
    assert_eq!(marked.len(), 4, "{table}");
    assert!(marked[1].ends_with(
        " !! SIGMA high Encoded PowerShell command line [T1059.001,T1027] !! SIGMA medium Hidden PowerShell window \
         started from a shell [T1564.003]"
    ));
}

#[test]
fn a_refused_rule_is_reported_with_its_file_id_title_and_construct_and_the_others_still_fire() {
    let fixture = repo("tests/emulator/fixtures/sigma/refused.yml");
    let out = emulate(&["--sigma", &fixture, "--format", "sysmon", "--only-detections"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let refusal = format!(
        "ringfence: Sigma rule refused: {fixture}: rule 7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e01 (PowerShell started \
         from a user's temporary folder): field CurrentDirectory is not produced: it lives in the new process's \
         PEB, user memory the kernel callback does not read\n"
    );
    assert!(stderr.contains(&refusal), "{stderr}");
    let events = lines(&out);
    let fired: Vec<(&str, &str)> =
        events.iter().map(|e| (e["ProcessId"].as_str().unwrap(), e["RuleName"].as_str().unwrap())).collect();
    assert_eq!(fired, [("5020", "Conhost started by cmd")]);
    assert!(
        stderr.contains("; Sigma: 1 rules loaded, 1 refused, 1 events matched (1 detections)"),
        "{stderr}"
    );
}

#[test]
fn a_sigma_path_that_does_not_exist_ends_the_run_with_the_io_exit_code_naming_it() {
    let out = emulate(&["--sigma", "/nonexistent/sigma-rules"]);
    assert_eq!(out.status.code(), Some(i32::from(ringfence_companion::exit::IO)));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "ringfence-emulate: cannot read /nonexistent/sigma-rules: No such file or directory (os error 2) (check \
         the path and its permissions)\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_sigma_directory_without_rules_ends_the_run_rejected_naming_it() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(dir.path().join("notes.txt"), "not a rule").expect("written");
    let path = dir.path().display().to_string();
    let out = emulate(&["--sigma", &path]);
    assert_eq!(out.status.code(), Some(i32::from(ringfence_companion::exit::REJECTED)));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("ringfence-emulate: {path}: no Sigma rule (no .yml or .yaml file holds one)\n")
    );
}

#[test]
fn hashes_and_the_version_resource_are_matched_in_sysmons_form_when_the_image_file_is_read() {
    let root = tempfile::tempdir().expect("a temporary folder");
    let system32 = root.path().join("C/Windows/System32");
    std::fs::create_dir_all(&system32).expect("created");
    // cmd.exe is a real PE image (the driver); its SHA-256 is matched as Sysmon writes Hashes.
    std::fs::copy(common::sys::ringfence_sys_path(), system32.join("cmd.exe")).expect("copied");
    let digest = std::process::Command::new("sha256sum").arg(system32.join("cmd.exe")).output().unwrap();
    let digest = String::from_utf8(digest.stdout).unwrap().split_whitespace().next().unwrap().to_uppercase();
    let rules = root.path().join("hash.yml");
    std::fs::write(
        &rules,
        format!(
            "title: Known image by hash\nid: rf-hash-1\nlogsource: {{product: windows, category: process_creation}}\n\
             detection:\n    selection:\n        Hashes|contains: 'SHA256={digest}'\n    \
             no_version:\n        OriginalFileName|exists: false\n    condition: selection and no_version\n\
             level: low\n"
        ),
    )
    .expect("written");
    let files = root.path().display().to_string();
    let rules = rules.display().to_string();
    let args = ["--sigma", &rules, "--files", &files, "--format", "sysmon", "--only-detections", "--quiet"];
    let events = lines(&emulate(&args));
    let fired: Vec<(&str, &str)> =
        events.iter().map(|e| (e["ProcessId"].as_str().unwrap(), e["RuleName"].as_str().unwrap())).collect();
    // The driver has no version resource, so OriginalFileName is absent, not unknown.
    assert_eq!(fired, [("5012", "Known image by hash")]);
}
