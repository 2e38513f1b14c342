//! The companion's stage of a content format 2, end to end: the intrusion scenario through
//! the real driver in the emulated kernel (running format-1 content, or none: the driver
//! does not load format 2 yet) and `ringfence-emulate --companion-content` with
//! examples/sigma compiled into one format-2 content by `content compile`'s code. The
//! detections are those of the YAML path (`--sigma`), and a rule given both ways runs once.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ringfence_companion::content2_cmd::{Sources, compile2};
use serde_json::Value;

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

/// examples/sigma compiled into content format 2 in `dir`.
fn content(dir: &Path) -> PathBuf {
    let sigma = [PathBuf::from(repo("examples/sigma"))];
    let (bytes, placement) =
        compile2(&Sources { toml: None, sigma: &sigma, version: None }, &mut Vec::new()).expect("compiles");
    assert_eq!((placement.yaml_only, placement.refused), (0, 0), "every example rule is in the content");
    let path = dir.join("sigma.bin");
    std::fs::write(&path, bytes).unwrap();
    path
}

/// (action, pid, rule ids, rule names, levels, techniques) of each event with a detection.
fn detections(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .map(|e| {
            serde_json::json!([
                e["event"]["action"],
                e["process"]["pid"],
                e["rule"],
                e["ringfence"]["rule"],
                e["threat"]
            ])
        })
        .collect()
}

#[test]
fn the_companion_stage_of_the_content_reports_what_the_yaml_rules_report() {
    let dir = tempfile::tempdir().unwrap();
    let content = content(dir.path());
    let sigma = repo("examples/sigma");
    let common = ["--format", "json", "--only-detections", "--quiet"];
    let yaml = lines(&emulate(&[&["--sigma", &sigma][..], &common].concat()));
    let staged =
        lines(&emulate(&[&["--companion-content", content.to_str().unwrap()][..], &common].concat()));
    assert_eq!(detections(&yaml).len(), 4, "the scenario's four detections");
    assert_eq!(detections(&staged), detections(&yaml));
}

#[test]
fn rules_given_as_yaml_and_in_the_content_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let content = content(dir.path());
    let sigma = repo("examples/sigma");
    let both = emulate(&[
        "--sigma",
        &sigma,
        "--companion-content",
        content.to_str().unwrap(),
        "--format",
        "sysmon",
        "--only-detections",
    ]);
    let stderr = String::from_utf8_lossy(&both.stderr).into_owned();
    assert!(
        stderr.contains(
            "ringfence: 6 Sigma rule(s) given as YAML are in the content too: evaluated once, from it"
        ),
        "{stderr}"
    );
    let names: Vec<String> =
        lines(&both).iter().map(|e| e["RuleName"].as_str().unwrap().to_owned()).collect();
    assert_eq!(
        names,
        [
            "Explorer starts a shell that launches PowerShell",
            "Encoded PowerShell command line; Hidden PowerShell window started from a shell",
            "Rundll32 runs a DLL from a user's temporary folder",
            "Unsigned DLL loaded from a user's temporary folder",
        ]
    );
}

#[test]
fn with_format_1_content_in_the_driver_its_include_rule_leads_rulename_before_the_stages_matches() {
    let dir = tempfile::tempdir().unwrap();
    let content = content(dir.path());
    let rules = repo("examples/content/noise-reduction.toml");
    let args = ["--rules", &rules, "--companion-content", content.to_str().unwrap()];
    let sysmon =
        lines(&emulate(&[&args[..], &["--format", "sysmon", "--only-detections", "--quiet"]].concat()));
    let powershell = sysmon.iter().find(|e| e["ProcessId"] == "6144").expect("PowerShell's start");
    assert_eq!(
        powershell["RuleName"],
        "encoded powershell; Encoded PowerShell command line; Hidden PowerShell window started from a shell"
    );
}

#[test]
fn an_event_the_contents_filter_drops_is_not_written_and_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let toml = dir.path().join("filter.toml");
    std::fs::write(
        &toml,
        "version = 4\n[[rule]]\nname = \"console hosts\"\nkind = \"process_start\"\naction = \"exclude\"\n\
         match = [{ field = \"command_line\", contains = \"-forcev1\" }]\n",
    )
    .unwrap();
    let sigma = [PathBuf::from(repo("examples/sigma"))];
    let (bytes, placement) =
        compile2(&Sources { toml: Some(&toml), sigma: &sigma, version: None }, &mut Vec::new())
            .expect("compiles");
    assert_eq!(placement.filter, 1);
    let content = dir.path().join("both.bin");
    std::fs::write(&content, bytes).unwrap();
    let out = emulate(&["--companion-content", content.to_str().unwrap(), "--format", "json"]);
    let starts: Vec<u64> = lines(&out)
        .iter()
        .filter(|e| e["event"]["action"] == "process_start")
        .map(|e| e["process"]["pid"].as_u64().unwrap())
        .collect();
    assert!(!starts.contains(&5020), "conhost's start is dropped: {starts:?}");
    assert!(starts.contains(&6144) && starts.contains(&5012), "{starts:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        stderr.contains("content format 2 in the companion: 6 detection rules (0 given as YAML too, run once), 1 events dropped by its filter"),
        "{stderr}"
    );
}
