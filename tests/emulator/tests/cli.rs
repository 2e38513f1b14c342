//! `ringfence-emulate`, as `cargo xtask demo` runs it.

mod common;

use std::process::Command;

fn examples(rest: &str) -> String {
    format!("{}/../../examples/{rest}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_demo_command_prints_the_named_chain_as_ecs_json_and_exits_zero() {
    let out = Command::new(env!("CARGO_BIN_EXE_ringfence-emulate"))
        .arg("--sys")
        .arg(common::sys::ringfence_sys_path())
        .args(["--rules", &examples("content/noise-reduction.toml")])
        .args(["--format", "json", "--scenario", &examples("scenarios/intrusion.toml")])
        .output()
        .expect("the command runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let stdout = String::from_utf8(out.stdout).expect("UTF-8");
    let rules: Vec<String> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON lines"))
        .filter_map(|v| v.pointer("/rule/name").and_then(|r| r.as_str()).map(str::to_owned))
        .collect();
    for rule in ["encoded powershell", "rundll32 from user temp", "unsigned image"] {
        assert!(rules.iter().any(|r| r == rule), "{rule} in {rules:?}");
    }
    assert!(stderr.contains("unloaded cleanly"), "{stderr}");
    // The scenario's [[volume]] table, taken by the real driver.
    assert!(
        stderr.contains("ringfence: volume map sent to the driver: 1 volume(s) and the Windows directory\n"),
        "{stderr}"
    );
}

#[test]
fn a_scenario_that_exits_a_process_never_started_is_refused_with_its_index() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let bad = dir.join(format!("bad-{}.toml", std::process::id()));
    std::fs::write(
        &bad,
        "description = \"x\"\nhost = \"h\"\nstart = \"2026-11-25T09:00:00Z\"\n[[event]]\nkind = \"process_exit\"\nat = 0\npid = 77\n",
    )
    .expect("written");
    let out = Command::new(env!("CARGO_BIN_EXE_ringfence-emulate"))
        .args(["--sys", "/nonexistent"])
        .arg(&bad)
        .output()
        .expect("the command runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("event 0: process 77 is not running"));
}

#[test]
fn the_demos_sysmon_pass_prints_only_the_events_with_the_chain_linked() {
    let out = Command::new(env!("CARGO_BIN_EXE_ringfence-emulate"))
        .arg("--sys")
        .arg(common::sys::ringfence_sys_path())
        .args(["--rules", &examples("content/noise-reduction.toml")])
        .args(["--format", "sysmon", "--quiet", "--scenario", &examples("scenarios/intrusion.toml")])
        .output()
        .expect("the command runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "--quiet prints nothing but the events");
    let events: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    let ids: Vec<u64> = events.iter().map(|e| e["EventID"].as_u64().expect("an EventID")).collect();
    assert_eq!(ids, [16, 1, 1, 1, 7], "the content change, the three starts kept, the unsigned DLL");
    let (powershell, rundll32) = (&events[2], &events[3]);
    assert_eq!(rundll32["ParentProcessGuid"], powershell["ProcessGuid"]);
    assert_eq!(rundll32["ParentImage"], r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe");
    assert_eq!(
        (&rundll32["User"], &rundll32["IntegrityLevel"]),
        (&r"FINANCE\ana.silva".into(), &"Medium".into())
    );
    assert_eq!(events[4]["ImageLoaded"], r"C:\Users\ana.silva\AppData\Local\Temp\upd4711.dll");
    assert_eq!(
        (&events[4]["Signed"], &events[4]["SignatureStatus"]),
        (&"false".into(), &"Unavailable".into())
    );
}

#[test]
fn a_driver_load_comes_out_as_sysmons_driverload_event_without_a_process() {
    let out = Command::new(env!("CARGO_BIN_EXE_ringfence-emulate"))
        .arg("--sys")
        .arg(common::sys::ringfence_sys_path())
        .args(["--format", "sysmon", "--quiet", "--scenario", &examples("scenarios/ordinary-morning.toml")])
        .output()
        .expect("the command runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON lines"))
        .collect();
    let drivers: Vec<&serde_json::Value> = events.iter().filter(|e| e["EventID"] == 6).collect();
    assert_eq!(drivers.len(), 1, "wof.sys, the scenario's one kernel image");
    assert_eq!(
        drivers[0],
        &serde_json::json!({
            "EventID": 6,
            "Computer": "WS-FINANCE-07",
            "RuleName": "-",
            "UtcTime": "2026-11-25 07:58:25.000",
            "ImageLoaded": r"C:\Windows\System32\drivers\wof.sys",
            "Hashes": "-",
            "Signed": "true",
            "SignatureStatus": "Valid",
        })
    );
    assert!(
        events.iter().filter(|e| e["EventID"] == 7).all(|e| e["ImageLoaded"] != drivers[0]["ImageLoaded"]),
        "the driver is not also an image load"
    );
}
