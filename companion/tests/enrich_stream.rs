//! The enrichment stage inside the event stream: an event waits for its image
//! file only up to the bound, then goes out marked not enriched with the
//! reason, counted in the summary; a path without a DOS form is not opened.

mod common;

use std::time::Duration;

use ringfence_companion::enrich::dos_path::VolumeMap;
use ringfence_companion::enrich::files::FileConfig;
use ringfence_companion::enrich::stage::{EnrichConfig, Enricher, FileLocation, Sources, StageCounts};
use ringfence_companion::{EventStream, Format, Host};
use ringfence_wire::{Event, Text};

fn start(image: &[u16], sequence: u64) -> Vec<u8> {
    let mut batch = Vec::new();
    common::push(
        &mut batch,
        &Event::ProcessStart {
            pid: 4242,
            parent_pid: 1000,
            creating_pid: 1000,
            creating_tid: 77,
            session_id: 1,
            image_path: Some(Text::wide(image)),
            command_line: None,
            start_key: 0x0003_0000_0000_1234,
            create_time: common::T0,
            image_name_available: true,
            rule_name: Text::default(),
            matched_ids: ringfence_wire::text::Ids::EMPTY,
            matched_rest: 0,
            undecided_ids: ringfence_wire::text::Ids::EMPTY,
            undecided_rest: 0,
            parent_start_key: None,
            parent_image_path: None,
            parent_command_line: None,
            user_sid: None,
            logon_id: None,
            integrity_level: None,
            elevation_type: None,
            parent_user_sid: None,
            truncated: 0,
        },
        sequence,
        common::T0,
    );
    batch
}

/// A stream over a machine whose volume 3 is `C:`, its files under `root`.
fn stream(root: &std::path::Path, wait: Duration, format: Format) -> EventStream {
    let sources = Sources {
        volumes: VolumeMap::from_pairs([(r"\Device\HarddiskVolume3", "C:")]).unwrap(),
        files: FileLocation::Rooted(root.to_owned()),
        ..Sources::default()
    };
    let config = EnrichConfig { files: Some(FileConfig::default()), wait, ..EnrichConfig::default() };
    EventStream::with_enricher(
        Host { name: "h".into() },
        Enricher::new(config, sources, "h").unwrap(),
        format,
    )
}

fn render(stream: &mut EventStream, batch: &[u8]) -> serde_json::Value {
    let mut out = Vec::new();
    stream.render_batch(batch, &mut out, &mut Vec::new()).unwrap();
    serde_json::from_slice(&out).unwrap()
}

#[test]
fn an_event_whose_file_is_not_read_by_the_bound_goes_out_timed_out_and_counted() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("C/big")).unwrap();
    // 64 MiB to hash: far longer than a zero wait.
    std::fs::File::create(root.path().join("C/big/slow.exe")).unwrap().set_len(64 << 20).unwrap();
    let image = common::wide(r"\Device\HarddiskVolume3\big\slow.exe");
    let mut ecs = stream(root.path(), Duration::ZERO, Format::Json);
    let doc = render(&mut ecs, &start(&image, 1));
    assert_eq!(doc["ringfence"]["not_enriched"], serde_json::json!({ "file": "timed_out" }));
    assert_eq!(doc["process"]["executable"], r"C:\big\slow.exe");
    assert_eq!(doc["process"].get("hash"), None);
    assert_eq!(
        ecs.summary().enrichment,
        StageCounts { files_asked: 1, not_enriched: 1, timed_out: 1, ..ecs.summary().enrichment }
    );
    assert_eq!((ecs.summary().enrichment.unreadable, ecs.summary().enrichment.busy), (0, 0));
    let line = ecs.summary().display(Duration::from_secs(1)).to_string();
    assert!(line.ends_with("; not enriched 1 (timed out 1, queue full 0), image files unreadable 0, without a DOS path 0, users without a name 0"), "{line}");

    let mut sysmon = stream(root.path(), Duration::ZERO, Format::Sysmon);
    let event = render(&mut sysmon, &start(&image, 1));
    assert_eq!((&event["Hashes"], &event["RingfenceNotEnriched"]), (&"-".into(), &"timed_out".into()));
}

#[test]
fn with_time_to_wait_the_same_file_is_hashed() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("C/big")).unwrap();
    std::fs::File::create(root.path().join("C/big/slow.exe")).unwrap().set_len(1 << 20).unwrap();
    let image = common::wide(r"\Device\HarddiskVolume3\big\slow.exe");
    let mut ecs = stream(root.path(), Duration::from_secs(60), Format::Json);
    let doc = render(&mut ecs, &start(&image, 1));
    // SHA-256 of 1 MiB of zeros.
    assert_eq!(
        doc["process"]["hash"]["sha256"],
        "30e14955ebf1352266dc2ff8067e68104607e750abb9d3b36582b8af909fcb58"
    );
    assert_eq!(doc["ringfence"].get("not_enriched"), None);
    assert_eq!(ecs.summary().enrichment.not_enriched, 0);
}

#[test]
fn a_path_without_a_dos_form_is_not_opened_and_says_so() {
    let root = tempfile::tempdir().unwrap();
    let image = common::wide(r"\Device\CdRom0\setup.exe");
    let mut ecs = stream(root.path(), Duration::from_secs(60), Format::Json);
    let doc = render(&mut ecs, &start(&image, 1));
    assert_eq!(doc["ringfence"]["not_enriched"], serde_json::json!({ "file": "no_dos_path" }));
    assert_eq!(doc["process"]["executable"], r"\Device\CdRom0\setup.exe", "the NT form stays");
    assert_eq!(
        doc["ringfence"]["process"].get("executable_nt"),
        None,
        "nothing converted, nothing kept twice"
    );
    assert_eq!((ecs.summary().enrichment.no_dos_path, ecs.summary().enrichment.not_enriched), (1, 0));
}

#[test]
fn a_kernel_image_load_goes_out_as_sysmons_driverload_with_its_hashes() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(root.path().join("C/Windows/System32/drivers")).unwrap();
    let file = root.path().join("C/Windows/System32/drivers/wof.sys");
    std::fs::File::create(file).unwrap().set_len(1 << 20).unwrap();
    let image = common::wide(r"\Device\HarddiskVolume3\Windows\System32\drivers\wof.sys");
    let load = |kernel_image| {
        let mut batch = Vec::new();
        let event = Event::ImageLoad {
            pid: 0,
            image_path: Some(Text::wide(&image)),
            image_base: 0xFFFF_F805_3A2C_0000,
            image_size: 0x3_2000,
            signature_level: 12,
            signature_type: 2,
            kernel_image,
            time: common::T0,
            rule_name: Text::default(),
            matched_ids: ringfence_wire::text::Ids::EMPTY,
            matched_rest: 0,
            undecided_ids: ringfence_wire::text::Ids::EMPTY,
            undecided_rest: 0,
            process_image_path: None,
            process_start_key: None,
            user_sid: None,
            truncated: 0,
        };
        common::push(&mut batch, &event, 1, common::T0);
        batch
    };
    let mut sysmon = stream(root.path(), Duration::from_secs(60), Format::Sysmon);
    let driver = render(&mut sysmon, &load(true));
    assert_eq!(
        driver,
        serde_json::json!({
            "EventID": 6,
            "Computer": "h",
            "RuleName": "-",
            "UtcTime": "2024-07-19 04:09:00.000",
            "ImageLoaded": r"C:\Windows\System32\drivers\wof.sys",
            // SHA-256 of 1 MiB of zeros.
            "Hashes": "SHA256=30E14955EBF1352266DC2FF8067E68104607E750ABB9D3B36582B8AF909FCB58",
            "Signed": "true",
            "SignatureStatus": "Valid",
        })
    );
    let user_mode = render(&mut sysmon, &load(false));
    assert_eq!((&user_mode["EventID"], &user_mode["ImageLoaded"]), (&7.into(), &driver["ImageLoaded"]));
}
