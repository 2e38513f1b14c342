//! Sysmon's shape: EventID, field names in manifest order, value formats, the
//! fields left out, and what an event whose file was not identified says.

use std::path::Path;
use std::sync::Arc;

use ringfence_companion::enrich::file::{FileFailure, FileLimits, identify};
use ringfence_companion::enrich::files::{FileEnrichment, NotEnriched};
use ringfence_companion::enrich::hashes::HashAlgorithms;
use ringfence_companion::enrich::process_guid::HostIdentity;
use ringfence_companion::enrich::token::IntegrityLevel;
use ringfence_companion::sysmon::{
    DriverLoad, EnrichedEvent, ImageLoad, ImageSignature, Process, ProcessExit, ProcessStart, SysmonWriter,
    utc_time,
};
use serde_json::Value;

/// 2024-07-19T04:09:00.1234567Z as a FILETIME.
const T0: u64 = (1_721_362_140 + 11_644_473_600) * 10_000_000 + 1_234_567;

/// EventData names of SysmonCommon's manifest.xml (schema 4.81) for events 1, 5 and 7.
const MANIFEST_1: &[&str] = &[
    "RuleName",
    "UtcTime",
    "ProcessGuid",
    "ProcessId",
    "Image",
    "FileVersion",
    "Description",
    "Product",
    "Company",
    "OriginalFileName",
    "CommandLine",
    "CurrentDirectory",
    "User",
    "LogonGuid",
    "LogonId",
    "TerminalSessionId",
    "IntegrityLevel",
    "Hashes",
    "ParentProcessGuid",
    "ParentProcessId",
    "ParentImage",
    "ParentCommandLine",
    "ParentUser",
];
const MANIFEST_5: &[&str] = &["RuleName", "UtcTime", "ProcessGuid", "ProcessId", "Image", "User"];
const MANIFEST_7: &[&str] = &[
    "RuleName",
    "UtcTime",
    "ProcessGuid",
    "ProcessId",
    "Image",
    "ImageLoaded",
    "FileVersion",
    "Description",
    "Product",
    "Company",
    "OriginalFileName",
    "Hashes",
    "Signed",
    "Signature",
    "SignatureStatus",
    "User",
];
const MANIFEST_6: &[&str] =
    &["RuleName", "UtcTime", "ImageLoaded", "Hashes", "Signed", "Signature", "SignatureStatus"];
/// What ringfence cannot produce (see the sysmon module's documentation).
const NOT_PRODUCED: &[&str] = &["CurrentDirectory", "LogonGuid", "Signature"];

fn writer() -> SysmonWriter {
    SysmonWriter::new(HostIdentity::new("machine-guid-of-ws01"), "WS01")
}

fn line(event: &EnrichedEvent) -> String {
    let mut out = Vec::new();
    writer().write(event, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

fn keys(line: &str) -> Vec<String> {
    // serde_json's Map is sorted, so read the key order from the text itself.
    let mut keys = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(line).into_iter::<Value>();
    assert!(matches!(stream.next(), Some(Ok(Value::Object(_)))));
    for part in line.trim_start_matches('{').split(",\"").map(|p| p.trim_start_matches('"')) {
        if let Some((key, _)) = part.split_once("\":") {
            keys.push(key.to_owned());
        }
    }
    keys
}

fn expected_keys(manifest: &[&str]) -> Vec<String> {
    ["EventID", "Computer"]
        .iter()
        .chain(manifest.iter().filter(|k| !NOT_PRODUCED.contains(k)))
        .map(|k| k.to_string())
        .collect()
}

fn explorer() -> Process {
    Process {
        pid: 4120,
        start_key: Some(0x0003_0000_0000_0101),
        image: Some(r"C:\Windows\explorer.exe".into()),
        command_line: Some(r"C:\Windows\Explorer.EXE".into()),
        user: Some(r"WS01\alice".into()),
    }
}

fn cmd_start(file: Option<FileEnrichment>) -> EnrichedEvent {
    EnrichedEvent::ProcessStart(ProcessStart {
        time: T0,
        rule_name: None,
        process: Process {
            pid: 6012,
            start_key: Some(0x0003_0000_0000_0a2b),
            image: Some(r"C:\Windows\System32\cmd.exe".into()),
            command_line: Some(r#"cmd.exe /c "echo hi""#.into()),
            user: Some(r"WS01\alice".into()),
        },
        file,
        logon_id: Some(0x3_1a2b4),
        session_id: Some(1),
        integrity_level: Some(IntegrityLevel::MEDIUM),
        app_container: false,
        parent: Some(explorer()),
    })
}

#[test]
fn utc_time_is_sysmons_format_with_milliseconds_truncated() {
    assert_eq!(utc_time(T0).as_deref(), Some("2024-07-19 04:09:00.123"));
}

#[test]
fn a_process_start_is_event_1_with_every_value_as_sysmon_writes_it() {
    let zlib = Path::new("/usr/x86_64-w64-mingw32/lib/zlib1.dll");
    let facts = identify(
        zlib,
        HashAlgorithms { sha1: false, md5: false, sha256: true, imphash: true },
        FileLimits::default(),
    )
    .unwrap();
    let sha256: String = facts.hashes.sha256.unwrap().iter().map(|b| format!("{b:02X}")).collect();
    let text = line(&cmd_start(Some(FileEnrichment::Done(Arc::new(Ok(facts))))));
    assert_eq!(keys(&text), expected_keys(MANIFEST_1));
    let host = HostIdentity::new("machine-guid-of-ws01");
    let expected = serde_json::json!({
        "EventID": 1,
        "Computer": "WS01",
        "RuleName": "-",
        "UtcTime": "2024-07-19 04:09:00.123",
        "ProcessGuid": host.process_guid(0x0003_0000_0000_0a2b).to_string(),
        "ProcessId": "6012",
        "Image": r"C:\Windows\System32\cmd.exe",
        "FileVersion": "1.2.13",
        "Description": "zlib data compression library",
        "Product": "zlib",
        "Company": "-",
        "OriginalFileName": "zlib1.dll",
        "CommandLine": r#"cmd.exe /c "echo hi""#,
        "User": r"WS01\alice",
        "LogonId": "0x31a2b4",
        "TerminalSessionId": "1",
        "IntegrityLevel": "Medium",
        "Hashes": format!("SHA256={sha256},IMPHASH=7054BC5AC8A978BBAE7B34D81F3160A3"),
        "ParentProcessGuid": host.process_guid(0x0003_0000_0000_0101).to_string(),
        "ParentProcessId": "4120",
        "ParentImage": r"C:\Windows\explorer.exe",
        "ParentCommandLine": r"C:\Windows\Explorer.EXE",
        "ParentUser": r"WS01\alice",
    });
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), expected);
    assert!(text.ends_with("}\n") && text.matches('\n').count() == 1);
}

#[test]
fn an_event_whose_file_was_not_identified_in_time_says_so_and_has_no_file_fields() {
    let text = line(&cmd_start(Some(FileEnrichment::NotEnriched(NotEnriched::TimedOut))));
    let v: Value = serde_json::from_str(&text).unwrap();
    for field in ["FileVersion", "Description", "Product", "Company", "OriginalFileName", "Hashes"] {
        assert_eq!(v[field], "-", "{field}");
    }
    assert_eq!(v["RingfenceNotEnriched"], "timed_out");
    let gone = line(&cmd_start(Some(FileEnrichment::Done(Arc::new(Err(FileFailure::NotFound))))));
    assert_eq!(serde_json::from_str::<Value>(&gone).unwrap()["RingfenceNotEnriched"], "file not found");
    let complete = line(&cmd_start(None));
    assert!(!complete.contains("RingfenceNotEnriched"));
}

#[test]
fn a_process_without_a_known_parent_has_sysmons_placeholders() {
    let mut event = cmd_start(None);
    if let EnrichedEvent::ProcessStart(start) = &mut event {
        start.parent = None;
        start.logon_id = None;
        start.integrity_level = None;
    }
    let v: Value = serde_json::from_str(&line(&event)).unwrap();
    assert_eq!(v["ParentProcessGuid"], "{00000000-0000-0000-0000-000000000000}");
    for field in
        ["ParentProcessId", "ParentImage", "ParentCommandLine", "ParentUser", "LogonId", "IntegrityLevel"]
    {
        assert_eq!(v[field], "-", "{field}");
    }
}

#[test]
fn an_app_container_process_has_the_app_container_level() {
    let mut event = cmd_start(None);
    if let EnrichedEvent::ProcessStart(start) = &mut event {
        start.integrity_level = Some(IntegrityLevel::LOW);
        start.app_container = true;
    }
    assert_eq!(serde_json::from_str::<Value>(&line(&event)).unwrap()["IntegrityLevel"], "AppContainer");
}

#[test]
fn a_process_exit_is_event_5() {
    let event = EnrichedEvent::ProcessExit(ProcessExit {
        time: T0,
        rule_name: Some("shells".into()),
        process: explorer(),
    });
    let text = line(&event);
    assert_eq!(keys(&text), expected_keys(MANIFEST_5));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (v["EventID"].as_u64(), v["RuleName"].as_str(), v["User"].as_str()),
        (Some(5), Some("shells"), Some(r"WS01\alice"))
    );
    assert_eq!(
        v["ProcessGuid"],
        HostIdentity::new("machine-guid-of-ws01").process_guid(0x0003_0000_0000_0101).to_string()
    );
}

#[test]
fn an_image_load_is_event_7_with_the_kernels_signature_verdict() {
    let load = |signature| {
        EnrichedEvent::ImageLoad(ImageLoad {
            time: T0,
            rule_name: None,
            process: explorer(),
            image_loaded: Some(r"C:\Windows\System32\kernel32.dll".into()),
            file: None,
            signature,
        })
    };
    let text = line(&load(ImageSignature::from_signing_level(12)));
    assert_eq!(keys(&text), expected_keys(MANIFEST_7));
    let signed = |s| {
        let v: Value = serde_json::from_str(&line(&load(s))).unwrap();
        (v["Signed"].as_str().unwrap().to_owned(), v["SignatureStatus"].as_str().unwrap().to_owned())
    };
    assert_eq!(signed(ImageSignature::from_signing_level(12)), ("true".into(), "Valid".into()));
    assert_eq!(signed(ImageSignature::from_signing_level(1)), ("false".into(), "Unavailable".into()));
    assert_eq!(signed(ImageSignature::from_signing_level(0)), ("-".into(), "-".into()));
}

#[test]
fn a_driver_load_is_event_6_with_no_process_and_the_kernels_signature_verdict() {
    let driver = EnrichedEvent::DriverLoad(DriverLoad {
        time: T0,
        rule_name: None,
        image_loaded: Some(r"C:\Windows\System32\drivers\wof.sys".into()),
        file: None,
        signature: ImageSignature::from_signing_level(12),
    });
    let text = line(&driver);
    assert_eq!(keys(&text), expected_keys(MANIFEST_6));
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "EventID": 6,
            "Computer": "WS01",
            "RuleName": "-",
            "UtcTime": "2024-07-19 04:09:00.123",
            "ImageLoaded": r"C:\Windows\System32\drivers\wof.sys",
            "Hashes": "-",
            "Signed": "true",
            "SignatureStatus": "Valid",
        })
    );
}
