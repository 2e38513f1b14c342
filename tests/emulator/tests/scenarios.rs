//! The example scenarios play through the real driver and the companion's own
//! watch command: the suspicious chain comes out named by the example
//! content's rules, the noise does not, and the kernel's books end clean.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::sys::{ringfence_sys, ringfence_sys_path};
use ringfence_companion::enrich::files::FileConfig;
use ringfence_companion::enrich::process_guid::HostIdentity;
use ringfence_companion::enrich::stage::{EnrichConfig, Enricher, FileLocation};
use ringfence_companion::{EventStream, Format, Host, commands};
use ringfence_emulator::{EmulatedDevice, Emulator, Scenario, Unload};
use ringfence_wire::SCHEMA;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// What one play printed.
struct Played {
    out: String,
    diag: String,
}

/// Plays `scenario` with `rules` through `ringfence watch` in `format`, enriched from
/// the scenario's machine; with `files`, image files are read under that folder.
fn play_as(scenario: &str, rules: Option<&str>, format: Format, files: Option<&Path>) -> Played {
    let text =
        std::fs::read_to_string(examples().join("scenarios").join(scenario)).expect("the scenario exists");
    let scenario = Scenario::parse(&text).unwrap_or_else(|e| panic!("{e}"));
    let content = rules.map(|r| {
        let toml = std::fs::read_to_string(examples().join("content").join(r)).expect("the rules exist");
        let bytes = ringfence_content::compile(&toml, &SCHEMA).expect("the example rules compile");
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{r}.{}.bin", std::process::id()));
        std::fs::write(&path, bytes).expect("written");
        path
    });
    let mut emu = Emulator::new(ringfence_sys()).unwrap_or_else(|e| panic!("{e}"));
    emu.ioctl_layout = common::ioctl_layout();
    scenario.install(&mut emu);
    assert_eq!(emu.driver_entry(), Ok(0));
    let mut device = EmulatedDevice::open(emu, "emulated").expect("the device opens");
    device.queue(scenario.activity.iter().cloned());
    let played_out = device.played_out();
    let (mut out, mut diag) = (Vec::new(), Vec::new());
    let host = Host { name: scenario.host.clone() };
    let location = files.map_or(FileLocation::Native, |dir| FileLocation::Rooted(dir.to_owned()));
    // A generous bound: these tests check what enrichment gives, not how long it may take.
    let config = EnrichConfig {
        files: files.map(|_| FileConfig::default()),
        wait: Duration::from_secs(30),
        ..EnrichConfig::default()
    };
    let enricher = Enricher::new(config, scenario.sources(location), &host.name).expect("the workers start");
    commands::watch(
        &mut device,
        content.as_deref().map(Path::new),
        EventStream::with_enricher(host, enricher, format),
        &mut out,
        &mut diag,
        || played_out.get(),
    )
    .unwrap_or_else(|e| panic!("watch: {e}\n{}", String::from_utf8_lossy(&diag)));
    assert!(device.exhausted(), "the whole scenario played");
    let mut emu = device.close().expect("close returns");
    assert_eq!(emu.unload(), Ok(Unload::Done));
    assert_eq!(emu.report().problems(), Vec::new());
    Played { out: String::from_utf8(out).expect("UTF-8"), diag: String::from_utf8_lossy(&diag).into_owned() }
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines().map(|l| serde_json::from_str(l).expect("each line is a JSON document")).collect()
}

/// Plays `scenario` with `rules` through `ringfence watch --format json`; returns stdout lines.
fn play(scenario: &str, rules: Option<&str>) -> Vec<serde_json::Value> {
    json_lines(&play_as(scenario, rules, Format::Json, None).out)
}

fn rule_names(events: &[serde_json::Value]) -> Vec<(String, String)> {
    events
        .iter()
        .filter_map(|e| {
            let rule = e.pointer("/rule/name")?.as_str()?.to_owned();
            // An image load names its DLL; a process event its executable.
            let what = e
                .pointer("/dll/path")
                .or_else(|| e.pointer("/process/executable"))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .rsplit('\\')
                .next()
                .unwrap_or_default()
                .to_owned();
            Some((what, rule))
        })
        .collect()
}

#[test]
fn the_encoded_powershell_chain_comes_out_named_and_the_noise_is_filtered() {
    let events = play("intrusion.toml", Some("noise-reduction.toml"));
    let named: Vec<(String, String)> =
        rule_names(&events).into_iter().filter(|(_, r)| r != "other process").collect();
    assert_eq!(
        named,
        [
            ("powershell.exe", "encoded powershell"),
            ("rundll32.exe", "rundll32 from user temp"),
            ("upd4711.dll", "unsigned image"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let text = serde_json::to_string(&events).expect("serialises");
    for filtered in
        ["svchost.exe", "conhost.exe", "SearchProtocolHost.exe", "MicrosoftEdgeUpdate.exe", "ntdll.dll"]
    {
        assert!(!text.contains(filtered), "{filtered} is noise the content drops");
    }
}

#[test]
fn without_content_every_event_of_every_scenario_is_reported() {
    for entry in std::fs::read_dir(examples().join("scenarios")).expect("the folder exists") {
        let path = entry.expect("an entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).expect("a name").to_owned();
        let scenario = Scenario::parse(&std::fs::read_to_string(&path).expect("readable")).expect("parses");
        let events = play(&name, None);
        assert_eq!(events.len(), scenario.activity.len(), "{name}: one event per activity");
    }
}

/// The intrusion scenario's MachineGuid, from which its ProcessGuids follow.
const MACHINE_GUID: &str = "5b0e2f7a-3c41-4d8e-9a6f-1e2d3c4b5a69";
const USER_SID: &str = "S-1-5-21-1004336348-1177238915-682003330-1104";
const CMD_LINE: &str = r#""C:\Windows\System32\cmd.exe" /c start /min powershell -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA"#;
const POWERSHELL_LINE: &str = "powershell  -nop -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA";

fn start_of(events: &[serde_json::Value], pid: u64) -> &serde_json::Value {
    events
        .iter()
        .find(|e| e["event"]["action"] == "process_start" && e["process"]["pid"] == pid)
        .unwrap_or_else(|| panic!("a start of {pid}"))
}

#[test]
fn an_intrusion_process_start_in_ecs_has_dos_paths_its_parent_its_user_integrity_and_linked_entity_ids() {
    let events = play("intrusion.toml", None);
    let cmd = start_of(&events, 5012);
    let powershell = start_of(&events, 6144);
    let host = HostIdentity::new(MACHINE_GUID);
    let key = |e: &serde_json::Value| e["ringfence"]["process"]["start_key"].as_u64().expect("a start key");
    let p = &powershell["process"];
    assert_eq!(p["executable"], r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe");
    assert_eq!(
        powershell["ringfence"]["process"]["executable_nt"],
        r"\??\C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
    );
    assert_eq!(p["name"], "powershell.exe");
    assert_eq!(p["command_line"], POWERSHELL_LINE);
    assert_eq!(p["parent"]["executable"], r"C:\Windows\System32\cmd.exe");
    assert_eq!(
        powershell["ringfence"]["process"]["parent"]["executable_nt"],
        r"\??\C:\Windows\System32\cmd.exe"
    );
    assert_eq!(p["parent"]["command_line"], CMD_LINE);
    assert_eq!(p["parent"]["pid"], 5012);
    assert_eq!(p["user"]["name"], r"FINANCE\ana.silva");
    assert_eq!(p["parent"]["user"]["name"], r"FINANCE\ana.silva");
    assert_eq!(
        powershell["user"],
        serde_json::json!({ "id": USER_SID, "name": "ana.silva", "domain": "FINANCE" })
    );
    assert_eq!(powershell["ringfence"]["process"]["integrity_level_name"], "Medium");
    assert_eq!(p["entity_id"], host.process_guid(key(powershell)).hex());
    assert_eq!(p["parent"]["entity_id"], cmd["process"]["entity_id"], "the child names its parent's id");
    assert_eq!(cmd["process"]["entity_id"], host.process_guid(key(cmd)).hex());
    // explorer.exe was running before the driver: its path comes from SeLocateProcessImageName.
    assert_eq!(cmd["process"]["parent"]["executable"], r"C:\Windows\explorer.exe");
    assert_eq!(
        cmd["ringfence"]["process"]["parent"]["executable_nt"],
        r"\Device\HarddiskVolume3\Windows\explorer.exe"
    );
    assert_eq!(powershell["ringfence"].get("not_enriched"), None, "nothing was asked that is missing");
}

#[test]
fn an_intrusion_process_start_in_sysmons_shape_has_its_fields_and_the_guids_link() {
    let played = play_as("intrusion.toml", None, Format::Sysmon, None);
    let events = json_lines(&played.out);
    let by = |id: u64, pid: &str| {
        events
            .iter()
            .find(|e| e["EventID"] == id && e["ProcessId"] == pid)
            .unwrap_or_else(|| panic!("event {id} of {pid}"))
    };
    let cmd = by(1, "5012");
    let powershell = by(1, "6144");
    let host = HostIdentity::new(MACHINE_GUID);
    assert_eq!(
        powershell,
        &serde_json::json!({
            "EventID": 1,
            "Computer": "WS-FINANCE-07",
            "RuleName": "-",
            "UtcTime": "2026-11-25 09:14:01.602",
            "ProcessGuid": powershell["ProcessGuid"],
            "ProcessId": "6144",
            "Image": r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe",
            "FileVersion": "-",
            "Description": "-",
            "Product": "-",
            "Company": "-",
            "OriginalFileName": "-",
            "CommandLine": POWERSHELL_LINE,
            "User": r"FINANCE\ana.silva",
            "LogonId": "0x4f3a21",
            "TerminalSessionId": "1",
            "IntegrityLevel": "Medium",
            "Hashes": "-",
            "ParentProcessGuid": cmd["ProcessGuid"],
            "ParentProcessId": "5012",
            "ParentImage": r"C:\Windows\System32\cmd.exe",
            "ParentCommandLine": CMD_LINE,
            "ParentUser": r"FINANCE\ana.silva",
        })
    );
    let guid = powershell["ProcessGuid"].as_str().expect("a GUID");
    let key = u64::from_str_radix(&guid[20..37].replace('-', ""), 16).expect("the start key's digits");
    assert_eq!(guid, host.process_guid(key).to_string());
    // The image loads into PowerShell and its exit carry the same GUID.
    let loads: Vec<_> = events.iter().filter(|e| e["EventID"] == 7 && e["ProcessId"] == "6144").collect();
    assert_eq!(loads.len(), 3);
    assert!(loads.iter().all(|e| e["ProcessGuid"] == guid && e["Image"] == powershell["Image"]));
    assert_eq!(loads[1]["ImageLoaded"], r"C:\Windows\System32\ntdll.dll");
    assert_eq!(by(5, "6144")["ProcessGuid"], guid);
    assert_eq!(by(5, "6144")["User"], r"FINANCE\ana.silva");
    // LocalSystem is named on every machine.
    assert_eq!(by(1, "4388")["User"], r"NT AUTHORITY\SYSTEM");
    assert_eq!(by(1, "4388")["IntegrityLevel"], "System");
}

/// `sha256sum` of `path`, upper case, as Sysmon writes it.
fn sha256sum(path: &Path) -> String {
    let out = std::process::Command::new("sha256sum").arg(path).output().expect("sha256sum runs");
    String::from_utf8(out.stdout).expect("UTF-8").split_whitespace().next().expect("a digest").to_uppercase()
}

#[test]
fn image_files_on_the_machine_get_hashes_and_a_missing_one_goes_out_not_enriched_with_its_reason() {
    let root = tempfile::tempdir().expect("a temporary folder");
    let system32 = root.path().join("C/Windows/System32");
    std::fs::create_dir_all(&system32).expect("created");
    // cmd.exe is there (a real PE image: the driver); powershell.exe is not.
    std::fs::copy(ringfence_sys_path(), system32.join("cmd.exe")).expect("copied");
    let sha256 = sha256sum(&system32.join("cmd.exe"));
    let ecs = json_lines(&play_as("intrusion.toml", None, Format::Json, Some(root.path())).out);
    let cmd = start_of(&ecs, 5012);
    assert_eq!(cmd["process"]["hash"]["sha256"], sha256.to_lowercase());
    assert_eq!(cmd["ringfence"]["process"]["hashes"], format!("SHA256={sha256}"));
    assert_eq!(cmd["ringfence"].get("not_enriched"), None);
    let powershell = start_of(&ecs, 6144);
    assert_eq!(powershell["ringfence"]["not_enriched"], serde_json::json!({ "file": "file not found" }));
    assert_eq!(powershell["process"].get("hash"), None);
    let played = play_as("intrusion.toml", None, Format::Sysmon, Some(root.path()));
    let sysmon = json_lines(&played.out);
    let of = |pid: &str| sysmon.iter().find(|e| e["EventID"] == 1 && e["ProcessId"] == pid).expect("a start");
    assert_eq!(of("5012")["Hashes"], format!("SHA256={sha256}"));
    assert_eq!(of("5012").get("RingfenceNotEnriched"), None);
    assert_eq!(
        (&of("6144")["Hashes"], &of("6144")["RingfenceNotEnriched"]),
        (&"-".into(), &"file not found".into())
    );
    // Every process start and image load asked; all but cmd.exe's two are missing here.
    assert!(
        played.diag.contains(
            "; not enriched 0 (timed out 0, queue full 0), image files unreadable 13, without a DOS path 0, \
             users without a name 0"
        ),
        "{}",
        played.diag
    );
}
