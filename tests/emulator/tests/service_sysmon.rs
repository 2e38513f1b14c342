//! The service loop with a Sysmon-shaped output beside an ECS one, against the
//! real driver in the emulated kernel: the same events reach both files, each
//! in its own shape, enriched from the scenario's machine.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use common::sys::ringfence_sys;
use ringfence_companion::config::{
    Config, Enrichment, FileOutput, Format, FsyncPolicy, HashAlgorithm, Output,
};
use ringfence_companion::enrich::stage::FileLocation;
use ringfence_companion::output::FileSystem;
use ringfence_companion::service::Service;
use ringfence_emulator::{EmulatedSystem, Scenario, Step};
use serde_json::Value;

fn file_output(format: Format, directory: &Path) -> Output {
    Output::File(FileOutput {
        format,
        directory: directory.to_owned(),
        name: "ringfence".into(),
        rotate_size: 64 << 20,
        rotate_age: None,
        keep_files: 4,
        keep_bytes: None,
        fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
    })
}

fn lines(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("ringfence.jsonl")).expect("the active file");
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

#[test]
fn the_service_writes_sysmon_shaped_events_beside_ecs_with_the_configured_hashes_and_sigma_matches() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios/intrusion.toml");
    let scenario = Scenario::parse(&std::fs::read_to_string(path).expect("readable")).expect("parses");
    let root = tempfile::tempdir().expect("a temporary folder");
    let (sysmon_dir, ecs_dir, files) =
        (root.path().join("sysmon"), root.path().join("ecs"), root.path().join("machine"));
    let system32 = files.join("C/Windows/System32");
    std::fs::create_dir_all(&system32).expect("created");
    std::fs::write(system32.join("cmd.exe"), b"not a PE image, but a file with hashes").expect("written");
    let start = UNIX_EPOCH + Duration::from_micros((scenario.start - 116_444_736_000_000_000) / 10);
    let system = EmulatedSystem::new(ringfence_sys(), start);
    system.script([Step::StartDriver]);
    system.script(scenario.activity.iter().cloned().map(Step::Activity));
    let config = Config {
        host_name: Some(scenario.host.clone()),
        health_interval: Duration::from_secs(3600),
        content: None,
        retry_max: Duration::from_secs(2),
        enrichment: Enrichment { hashes: vec![HashAlgorithm::Md5, HashAlgorithm::Imphash] },
        sigma: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/sigma")],
        outputs: vec![file_output(Format::Sysmon, &sysmon_dir), file_output(Format::Ecs, &ecs_dir)],
    };
    let mut service = Service::new(
        config,
        system.clone(),
        || FileSystem,
        system.clone(),
        || Box::new(std::io::sink()),
        Box::new(std::io::sink()),
    )
    .and_then(|s| s.with_sources(scenario.sources(FileLocation::Rooted(files.clone()))))
    .expect("the service starts");
    let counters = service.run(&|| system.played_out());
    assert_eq!(counters.events_written, scenario.activity.len() as u64);

    let sysmon = lines(&sysmon_dir);
    let events: Vec<&Value> = sysmon.iter().filter(|l| l.get("EventID").is_some()).collect();
    assert_eq!(events.len(), scenario.activity.len(), "one Sysmon event per activity");
    let ids: Vec<u64> = events.iter().map(|e| e["EventID"].as_u64().expect("a number")).collect();
    assert_eq!((ids.iter().filter(|i| **i == 1).count(), ids.iter().filter(|i| **i == 5).count()), (7, 5));
    let cmd = events.iter().find(|e| e["EventID"] == 1 && e["ProcessId"] == "5012").expect("cmd.exe's start");
    assert_eq!(cmd["Image"], r"C:\Windows\System32\cmd.exe");
    let powershell = events.iter().find(|e| e["EventID"] == 1 && e["ProcessId"] == "6144").expect("a start");
    assert_eq!(powershell["ParentImage"], r"C:\Windows\System32\cmd.exe");
    assert_eq!(powershell["ParentProcessGuid"], cmd["ProcessGuid"]);
    assert_eq!(cmd["User"], r"FINANCE\ana.silva");
    assert_eq!(cmd["IntegrityLevel"], "Medium");
    // MD5 and IMPHASH, as configured; a file that is not a PE has Sysmon's IMPHASH of zeros.
    let md5 =
        std::process::Command::new("md5sum").arg(system32.join("cmd.exe")).output().expect("md5sum runs");
    let md5 = String::from_utf8(md5.stdout).expect("UTF-8");
    let md5 = md5.split_whitespace().next().expect("a digest").to_uppercase();
    assert_eq!(cmd["Hashes"], format!("MD5={md5},IMPHASH=00000000000000000000000000000000"));
    let ntdll = events.iter().find(|e| {
        e["EventID"] == 7 && e["ProcessId"] == "6144" && e["ImageLoaded"] == r"C:\Windows\System32\ntdll.dll"
    });
    assert_eq!(
        ntdll.map(|e| (&e["RingfenceNotEnriched"], &e["Signed"])),
        Some((&"file not found".into(), &"true".into()))
    );

    let ecs = lines(&ecs_dir);
    let ecs_cmd = ecs
        .iter()
        .find(|l| l["event"]["action"] == "process_start" && l["process"]["pid"] == 5012)
        .expect("cmd.exe's start in ECS");
    assert_eq!(ecs_cmd["process"]["hash"]["md5"], md5.to_lowercase());
    assert_eq!(ecs_cmd["process"]["executable"], r"C:\Windows\System32\cmd.exe");
    // The health record says what enrichment did.
    let health = sysmon.iter().rev().find(|l| l["event"]["action"] == "health").expect("a health record");
    assert_eq!(health["ringfence"]["service"]["enrichment"]["not_enriched"], 0, "{health}");

    // The Sigma rules of examples/sigma, in both outputs and in the service's own records.
    assert_eq!(
        powershell["RuleName"],
        "Encoded PowerShell command line; Hidden PowerShell window started from a shell"
    );
    // explorer.exe started before this system's driver, so cmd.exe has no ParentImage and
    // "Explorer starts a shell" cannot match.
    assert_eq!(cmd["RuleName"], "-");
    assert_eq!(ecs_cmd.get("rule"), None);
    let ecs_rundll32 = ecs
        .iter()
        .find(|l| l["event"]["action"] == "process_start" && l["process"]["pid"] == 6620)
        .expect("rundll32.exe's start in ECS");
    assert_eq!(ecs_rundll32["rule"]["id"], "2b0f6d4e-0c1a-4c55-9a4e-6f7f2d1c0a03");
    assert_eq!(ecs_rundll32["threat"]["technique"]["id"], "T1218.011");
    let started = ecs.iter().find(|l| l["event"]["action"] == "service_started").expect("a start record");
    assert_eq!(started["ringfence"]["service"]["sigma"]["rules_loaded"], 6, "{started}");
    assert_eq!(
        health["ringfence"]["service"]["sigma"],
        serde_json::json!({
            "rules_loaded": 6, "rules_refused": 0, "events_matched": 3, "detections": 4, "events_undecided": 0
        }),
        "{health}"
    );
}
