//! The companion's side of the contract, against a driver scripted to answer
//! by the wire layouts: version checks, the wake-up registration, draining,
//! verdicts and counters. (The real driver binary is exercised by the emulator.)

mod common;

use std::cell::Cell;

use common::ScriptedDriver;
use ringfence_companion::commands::{self, Failure};
use ringfence_companion::device::{Device, DeviceError, IoctlOutcome};
use ringfence_companion::{ClientError, EventStream, Format, Host, Session, exit};
use ringfence_wire::ioctl::{
    Capabilities, LoadContentResponse, STATUS_INSUFFICIENT_RESOURCES, STATUS_REVISION_MISMATCH,
};
use ringfence_wire::{EventKind, SCHEMA_VERSION};

fn host() -> Host {
    Host { name: "test-host".into() }
}

#[test]
fn a_driver_refusing_hello_for_its_revision_is_a_version_mismatch_naming_the_device() {
    let mut driver = ScriptedDriver::new();
    driver.hello_status = STATUS_REVISION_MISMATCH;
    let error = Session::open(driver).unwrap_err();
    assert!(matches!(error, ClientError::VersionMismatch { driver: None, .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.starts_with("scripted driver speaks another version"), "{message}");
    assert!(message.contains("install the companion that was built with the running driver"), "{message}");
}

#[test]
fn a_driver_answering_with_another_schema_is_refused_with_both_versions() {
    /// Rewrites the schema field of every HELLO answer.
    #[derive(Debug)]
    struct OtherSchema(ScriptedDriver);
    impl Device for OtherSchema {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn ioctl(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> Result<IoctlOutcome, DeviceError> {
            let outcome = self.0.ioctl(code, input, output)?;
            output[8..12].copy_from_slice(&u32::from(SCHEMA_VERSION + 1).to_le_bytes());
            Ok(outcome)
        }
        fn wake_event(&mut self) -> Result<u64, DeviceError> {
            self.0.wake_event()
        }
        fn wait_for_events(&mut self, t: std::time::Duration) -> Result<bool, DeviceError> {
            self.0.wait_for_events(t)
        }
    }
    let error = Session::open(OtherSchema(ScriptedDriver::new())).unwrap_err();
    let expected = (2, u32::from(SCHEMA_VERSION + 1));
    assert!(
        matches!(error, ClientError::VersionMismatch { driver: Some(v), .. } if v == expected),
        "{error:?}"
    );
    assert!(error.to_string().contains(&format!("(protocol 2, schema {})", SCHEMA_VERSION + 1)));
}

#[test]
fn watching_registers_the_wake_event_drains_every_batch_and_counts_by_kind() {
    let mut driver = ScriptedDriver::new();
    driver.batches.push_back(common::golden_batch());
    let mut session = Session::open(&mut driver).unwrap();
    let mut stream = EventStream::new(host(), Format::Json);
    let (mut out, mut diag) = (Vec::new(), Vec::new());
    let rounds = Cell::new(0);
    session
        .watch(&mut stream, &mut out, &mut diag, || {
            rounds.set(rounds.get() + 1);
            rounds.get() > 2
        })
        .unwrap();
    let summary = stream.summary().clone();
    drop(session);
    assert_eq!(driver.registered_event, Some(0x1f4));
    assert_eq!(driver.waits, 2);
    assert_eq!(String::from_utf8(out).unwrap().lines().count(), 8);
    let count = |k| summary.by_kind.iter().find(|(kind, _)| *kind == k).unwrap().1;
    assert_eq!(
        [
            EventKind::ProcessStart,
            EventKind::ProcessExit,
            EventKind::ImageLoad,
            EventKind::LostEvents,
            EventKind::ContentChanged
        ]
        .map(count),
        [2, 1, 2, 1, 2]
    );
    assert_eq!((summary.lost, summary.unexplained, summary.damaged_batches), (3, 1, 1));
}

#[test]
fn a_driver_without_the_wake_capability_is_polled_without_set_event() {
    let mut driver = ScriptedDriver::new();
    if let Some(h) = driver.hello.as_mut() {
        h.capabilities = Capabilities::CONTENT | Capabilities::LOST_EVENTS;
    }
    let mut session = Session::open(&mut driver).unwrap();
    assert!(!session.arm_wakeup().unwrap());
    drop(session);
    assert_eq!(driver.registered_event, None);
}

#[test]
fn a_refused_read_stops_the_watch_with_the_status_and_exit_code_4() {
    /// Refuses READ with STATUS_INSUFFICIENT_RESOURCES.
    #[derive(Debug)]
    struct Starved(ScriptedDriver);
    impl Device for Starved {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn ioctl(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> Result<IoctlOutcome, DeviceError> {
            if code == ringfence_wire::ioctl::Code::Read.value() {
                return Ok(IoctlOutcome { status: STATUS_INSUFFICIENT_RESOURCES, information: 0 });
            }
            self.0.ioctl(code, input, output)
        }
        fn wake_event(&mut self) -> Result<u64, DeviceError> {
            self.0.wake_event()
        }
        fn wait_for_events(&mut self, t: std::time::Duration) -> Result<bool, DeviceError> {
            self.0.wait_for_events(t)
        }
    }
    let (mut out, mut diag) = (Vec::new(), Vec::new());
    let failure = commands::watch(
        Starved(ScriptedDriver::new()),
        None,
        EventStream::new(host(), Format::Json),
        &mut out,
        &mut diag,
        || false,
    )
    .unwrap_err();
    assert_eq!(failure.exit_code(), exit::DRIVER_MISMATCH);
    assert_eq!(
        failure.to_string(),
        "scripted driver refused READ with NTSTATUS 0xc000009a (STATUS_INSUFFICIENT_RESOURCES): the driver is \
         out of memory; try again later"
    );
    assert!(String::from_utf8(diag).unwrap().starts_with("ringfence: 0 events in"));
}

#[test]
fn a_driver_claiming_more_bytes_than_the_buffer_is_caught_not_trusted() {
    #[derive(Debug)]
    struct Liar(ScriptedDriver);
    impl Device for Liar {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn ioctl(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> Result<IoctlOutcome, DeviceError> {
            let mut outcome = self.0.ioctl(code, input, output)?;
            if code == ringfence_wire::ioctl::Code::Stats.value() {
                outcome.information = output.len() + 1;
            }
            Ok(outcome)
        }
        fn wake_event(&mut self) -> Result<u64, DeviceError> {
            self.0.wake_event()
        }
        fn wait_for_events(&mut self, t: std::time::Duration) -> Result<bool, DeviceError> {
            self.0.wait_for_events(t)
        }
    }
    let mut session = Session::open(Liar(ScriptedDriver::new())).unwrap();
    let error = session.stats().unwrap_err();
    assert!(
        matches!(error, ClientError::Overrun { information, capacity, .. } if information == capacity + 1)
    );
}

#[test]
fn rejected_content_names_the_file_the_rule_and_the_active_version_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("content.bin");
    std::fs::write(&path, b"not content").unwrap();
    let mut driver = ScriptedDriver::new();
    // The validator's FieldOutOfRange (code 34): rule 3 reads field 21 of 20.
    driver.verdict = LoadContentResponse {
        accepted: false,
        content_version: 291,
        active_version: 290,
        reason: 34,
        offset: 120,
        args: [3, 21, 20, 0],
    };
    let failure = commands::content_push(&mut driver, &path, &mut Vec::new()).unwrap_err();
    assert_eq!(failure.exit_code(), exit::REJECTED);
    let message = failure.to_string();
    assert!(
        message.starts_with(&format!(
            "scripted driver rejected {}: at byte 120: rule 3 reads field 21",
            path.display()
        )),
        "{message}"
    );
    assert!(
        message.ends_with("(content version 290 stays active; fix the content and push again)"),
        "{message}"
    );
    assert_eq!(driver.loaded, vec![b"not content".to_vec()]);
}

#[test]
fn accepted_content_prints_the_verdict_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("content.bin");
    std::fs::write(&path, b"bytes").unwrap();
    let mut driver = ScriptedDriver::new();
    driver.verdict =
        LoadContentResponse { accepted: true, content_version: 9, active_version: 9, ..Default::default() };
    let mut out = Vec::new();
    commands::content_push(&mut driver, &path, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!(
            "scripted driver does not report its trust policy (an older driver): pushing\n{}: accepted content \
             version 9; version 9 is active\n",
            path.display()
        )
    );
}

#[test]
fn stats_as_json_carry_every_kind_and_the_queue() {
    let mut driver = ScriptedDriver::new();
    driver.stats.records_delivered = 17;
    if let Some(c) = driver.stats.kind_mut(EventKind::ImageLoad) {
        *c = ringfence_wire::ioctl::KindCounters { seen: 10, filtered: 2, queued: 7, dropped: 1 };
    }
    let mut out = Vec::new();
    commands::stats(&mut driver, true, &mut out).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        doc["kinds"]["image_load"],
        serde_json::json!({"seen": 10, "filtered": 2, "queued": 7, "dropped": 1})
    );
    assert_eq!(doc["records_delivered"], 17);
    assert_eq!(doc["queue"]["capacity_bytes"], 1 << 20);
    assert_eq!(
        doc["process_table"],
        serde_json::json!({"capacity_bytes": 4 << 20, "used_bytes": 64 << 10, "entries": 120, "max_entries": 4096,
            "inserts": 130, "evictions": 0, "truncations": 1, "misses": 9, "failures": 2})
    );
    assert_eq!(doc["balanced"], true);
    assert_eq!(doc["device"], "scripted driver");
}

#[test]
fn stats_for_people_are_an_aligned_table() {
    let mut out = Vec::new();
    commands::stats(&mut ScriptedDriver::new(), false, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("driver           scripted driver: version 0.1.0, protocol 2, schema 3\n"),
        "{text}"
    );
    assert!(
        text.contains("\nprocess_start               0            0            0            0\n"),
        "{text}"
    );
    assert!(
        text.contains("\nprocess table    120 of 4096 processes, 65536 of 4194304 bytes; 130 entered, 0 evicted, 1 strings cut, 9 misses (2 not filled)\n"),
        "{text}"
    );
}

#[test]
fn a_missing_content_file_fails_before_anything_is_pushed() {
    let mut driver = ScriptedDriver::new();
    let failure =
        commands::content_push(&mut driver, std::path::Path::new("/nonexistent/c.bin"), &mut Vec::new())
            .unwrap_err();
    assert!(matches!(failure, Failure::ReadFile { .. }));
    assert_eq!(failure.exit_code(), exit::IO);
    assert!(driver.loaded.is_empty());
}

#[test]
fn a_flooding_driver_cannot_keep_watch_from_seeing_stop() {
    /// Never runs dry: every READ returns the golden batch's whole records.
    #[derive(Debug)]
    struct Flood(ScriptedDriver, usize);
    impl Device for Flood {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn ioctl(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> Result<IoctlOutcome, DeviceError> {
            if code == ringfence_wire::ioctl::Code::Read.value() {
                self.1 += 1;
                self.0.batches.push_back(common::golden_batch()[..1144].to_vec());
            }
            self.0.ioctl(code, input, output)
        }
        fn wake_event(&mut self) -> Result<u64, DeviceError> {
            self.0.wake_event()
        }
        fn wait_for_events(&mut self, t: std::time::Duration) -> Result<bool, DeviceError> {
            self.0.wait_for_events(t)
        }
    }
    let mut session = Session::open(Flood(ScriptedDriver::new(), 0)).unwrap();
    let mut stream = EventStream::new(host(), Format::Json);
    let looks = Cell::new(0);
    session
        .watch(&mut stream, &mut std::io::sink(), &mut std::io::sink(), || {
            looks.set(looks.get() + 1);
            looks.get() > 3
        })
        .unwrap();
    // Three rounds and the closing one, 64 READs each; never a wait.
    let flood = session.into_device();
    assert_eq!((flood.1, flood.0.waits), (4 * 64, 0));
}

#[test]
fn a_malformed_answer_names_the_request_and_what_is_wrong_and_exits_4() {
    #[derive(Debug)]
    struct Garbled(ScriptedDriver);
    impl Device for Garbled {
        fn name(&self) -> &str {
            self.0.name()
        }
        fn ioctl(&mut self, code: u32, input: &[u8], output: &mut [u8]) -> Result<IoctlOutcome, DeviceError> {
            let outcome = self.0.ioctl(code, input, output)?;
            if code == ringfence_wire::ioctl::Code::Stats.value() {
                output[28] = 1; // the reserved field
            }
            Ok(outcome)
        }
        fn wake_event(&mut self) -> Result<u64, DeviceError> {
            self.0.wake_event()
        }
        fn wait_for_events(&mut self, t: std::time::Duration) -> Result<bool, DeviceError> {
            self.0.wait_for_events(t)
        }
    }
    let failure = commands::stats(Garbled(ScriptedDriver::new()), false, &mut Vec::new()).unwrap_err();
    assert_eq!(failure.exit_code(), exit::DRIVER_MISMATCH);
    assert_eq!(
        failure.to_string(),
        "scripted driver answered STATS with a malformed response (reserved field at byte 28 is not zero): the \
         driver and companion do not match, or the driver is faulty; install matching builds"
    );
}

#[test]
fn watch_says_hello_then_loads_content_then_arms_the_wakeup_then_reads() {
    use ringfence_wire::ioctl::Code;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("content.bin");
    std::fs::write(&path, b"content bytes").unwrap();
    let mut driver = ScriptedDriver::new();
    driver.verdict =
        LoadContentResponse { accepted: true, content_version: 2, active_version: 2, ..Default::default() };
    let mut diag = Vec::new();
    commands::watch(
        &mut driver,
        Some(&path),
        EventStream::new(host(), Format::Json),
        &mut Vec::new(),
        &mut diag,
        || true,
    )
    .unwrap();
    assert_eq!(driver.calls, [Code::Hello, Code::LoadContent, Code::SetEvent, Code::Read]);
    let diag = String::from_utf8(diag).unwrap();
    assert!(
        diag.starts_with(&format!(
            "ringfence: {}: accepted content version 2; version 2 is active\n",
            path.display()
        )),
        "{diag}"
    );
}

#[test]
fn watch_with_rejected_content_streams_nothing_and_exits_1() {
    use ringfence_wire::ioctl::Code;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("content.bin");
    std::fs::write(&path, b"content bytes").unwrap();
    let mut driver = ScriptedDriver::new();
    driver.verdict = LoadContentResponse {
        accepted: false,
        content_version: 0,
        active_version: 1,
        reason: 3,
        offset: 0,
        args: [0x7f, 0, 0, 0],
    };
    let failure = commands::watch(
        &mut driver,
        Some(&path),
        EventStream::new(host(), Format::Json),
        &mut Vec::new(),
        &mut Vec::new(),
        || true,
    )
    .unwrap_err();
    assert_eq!(failure.exit_code(), exit::REJECTED);
    assert_eq!(driver.calls, [Code::Hello, Code::LoadContent]);
    assert!(failure.to_string().contains("not ringfence content (magic 0x0000007f)"), "{failure}");
}

fn signing_policy(required: bool) -> ringfence_wire::ioctl::TrustResponse {
    ringfence_wire::ioctl::TrustResponse {
        signatures_required: required,
        persistent: true,
        ring: u32::MAX,
        threshold: 2,
        level: 1,
        sensor_version: ringfence_wire::ioctl::driver_version(0, 1, 0),
        ..Default::default()
    }
}

fn compiled_content(dir: &std::path::Path) -> std::path::PathBuf {
    let rules = "version = 4\n[[rule]]\nname = \"x\"\nkind = \"process_exit\"\naction = \"include\"\nmatch = [{ field = \"pid\", equals = 4 }]\n";
    let bytes = ringfence_content::compile(rules, &ringfence_wire::SCHEMA).unwrap();
    let path = dir.join("content.bin");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn push_shows_the_policy_and_does_not_push_what_the_sensor_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    let path = compiled_content(dir.path());
    let mut driver = ScriptedDriver::new();
    driver.trust = Some(signing_policy(true));
    let failure = commands::content_push(&mut driver, &path, &mut Vec::new()).unwrap_err();
    assert_eq!(failure.exit_code(), exit::REJECTED);
    assert_eq!(
        failure.to_string(),
        format!(
            "scripted driver would refuse {}: the content is not signed, and this sensor takes signed content \
             only; not pushed (sign it with `ringfence content sign --key KEY` (or, on a test machine only, set \
             Parameters\\RequireSignedContent to 0); --force pushes anyway)",
            path.display()
        )
    );
    assert!(driver.loaded.is_empty(), "nothing was pushed");
    driver.verdict = LoadContentResponse {
        accepted: false,
        content_version: 4,
        active_version: 0,
        reason: ringfence_trust::Reason::Auth(ringfence_trust::AuthError::Unsigned).code(),
        ..Default::default()
    };
    let forced = commands::content_push_with(&mut driver, &path, true, &mut Vec::new()).unwrap_err();
    assert_eq!(driver.loaded.len(), 1, "--force pushed it");
    assert!(forced.to_string().contains("rejected"), "{forced}");
}

#[test]
fn push_predicts_acceptance_then_prints_the_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let path = compiled_content(dir.path());
    let mut driver = ScriptedDriver::new();
    driver.trust = Some(signing_policy(false));
    driver.verdict =
        LoadContentResponse { accepted: true, content_version: 4, active_version: 4, ..Default::default() };
    let mut out = Vec::new();
    commands::content_push(&mut driver, &path, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert_eq!(
        out,
        format!(
            "policy           unsigned content accepted; trusted keys: none\nring             general; pin none \
             (the newest pushed wins); driver 0.1.0\nprediction       scripted driver will take content version \
             4\n{}: accepted content version 4; version 4 is active\n",
            path.display()
        )
    );
}

#[test]
fn watch_with_the_enrichment_stage_hands_the_driver_its_volume_map_before_the_content() {
    use ringfence_companion::enrich::dos_path::VolumeMap;
    use ringfence_companion::enrich::stage::{EnrichConfig, Enricher, Sources};
    use ringfence_wire::ioctl::Code;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("content.bin");
    std::fs::write(&path, b"content bytes").unwrap();
    let map =
        VolumeMap::from_dos_devices([('C', r"\Device\HarddiskVolume3".to_owned())], r"C:\Windows").unwrap();
    let sources = Sources { volumes: map.clone(), ..Sources::default() };
    let enricher =
        Enricher::new(EnrichConfig { files: None, ..EnrichConfig::default() }, sources, "host").unwrap();
    let mut driver = ScriptedDriver::new();
    driver.verdict =
        LoadContentResponse { accepted: true, content_version: 2, active_version: 2, ..Default::default() };
    let mut diag = Vec::new();
    commands::watch(
        &mut driver,
        Some(&path),
        EventStream::with_enricher(host(), enricher, Format::Json),
        &mut Vec::new(),
        &mut diag,
        || true,
    )
    .unwrap();
    assert_eq!(
        driver.calls,
        [Code::Hello, Code::SetVolumeMap, Code::LoadContent, Code::SetEvent, Code::Read]
    );
    assert_eq!(driver.volume_map, Some(map.to_le_bytes()));
    let diag = String::from_utf8(diag).unwrap();
    assert!(
        diag.starts_with("ringfence: volume map sent to the driver: 1 volume(s) and the Windows directory\n"),
        "{diag}"
    );
}

#[test]
fn volumes_prints_the_map_the_driver_holds_entry_by_entry() {
    use ringfence_companion::enrich::dos_path::VolumeMap;
    let map = VolumeMap::from_dos_devices(
        [('D', r"\Device\HarddiskVolume5".to_owned()), ('C', r"\Device\HarddiskVolume3".to_owned())],
        r"C:\Windows",
    )
    .unwrap();
    let mut driver = ScriptedDriver::new();
    let mut out = Vec::new();
    commands::volumes(&mut driver, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "scripted driver: 0 volume map(s) set, 0 refused\nno volume map held: kernel-stage paths outside the fixed forms are unknown\n"
    );
    driver.volume_map = Some(map.to_le_bytes());
    let mut out = Vec::new();
    commands::volumes(&mut driver, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "scripted driver: 0 volume map(s) set, 0 refused\n\\SystemRoot -> C:\\Windows\n\\Device\\HarddiskVolume3 -> C:\n\\Device\\HarddiskVolume5 -> D:\n"
    );
}

/// examples/sigma compiled into content format 2.
fn format2_content() -> Vec<u8> {
    let sigma = [std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/sigma")];
    let sources = commands::ContentSources { toml: None, sigma: &sigma, version: Some(12) };
    ringfence_companion::content2_cmd::compile2(&sources, &mut Vec::new()).unwrap().0
}

#[test]
fn valid_format_2_content_is_sent_to_the_driver() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("content.bin");
    let bytes = format2_content();
    std::fs::write(&path, &bytes).unwrap();
    let mut driver = ScriptedDriver::new();
    driver.verdict =
        LoadContentResponse { accepted: true, content_version: 12, active_version: 12, ..Default::default() };
    commands::content_push(&mut driver, &path, &mut Vec::new()).unwrap();
    assert_eq!(driver.loaded, vec![bytes]);
}

#[test]
fn format_2_content_the_validator_refuses_is_named_and_never_sent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("content.bin");
    let mut bytes = format2_content();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let mut driver = ScriptedDriver::new();
    let failure = commands::content_push(&mut driver, &path, &mut Vec::new()).unwrap_err();
    assert!(matches!(failure, Failure::Invalid2 { .. }), "{failure}");
    assert_eq!(failure.exit_code(), exit::REJECTED);
    assert!(
        failure.to_string().starts_with(&format!(
            "{} is not valid content: content format 2 refused at byte",
            path.display()
        )),
        "{failure}"
    );
    assert!(driver.loaded.is_empty());
}
