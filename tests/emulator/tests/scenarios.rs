//! The example scenarios play through the real driver and the companion's own
//! watch command: the suspicious chain comes out named by the example
//! content's rules, the noise does not, and the kernel's books end clean.

mod common;

use std::path::{Path, PathBuf};

use common::sys::ringfence_sys;
use ringfence_companion::{Format, Host, commands};
use ringfence_emulator::{EmulatedDevice, Emulator, Scenario, Unload};
use ringfence_wire::SCHEMA;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Plays `scenario` with `rules` through `ringfence watch --format json`; returns stdout lines.
fn play(scenario: &str, rules: Option<&str>) -> Vec<serde_json::Value> {
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
    commands::watch(
        &mut device,
        content.as_deref().map(Path::new),
        Format::Json,
        host,
        &mut out,
        &mut diag,
        || played_out.get(),
    )
    .unwrap_or_else(|e| panic!("watch: {e}\n{}", String::from_utf8_lossy(&diag)));
    assert!(device.exhausted(), "the whole scenario played");
    let mut emu = device.close().expect("close returns");
    assert_eq!(emu.unload(), Ok(Unload::Done));
    assert_eq!(emu.report().problems(), Vec::new());
    String::from_utf8(out)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is a JSON document"))
        .collect()
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
