//! The output for a fixed batch, compared byte for byte with the committed
//! files in tests/golden/: as the kernel gave it (`events.*`) and enriched from
//! a fixed machine (`enriched.*`: DOS paths, account names, ProcessGuids; in
//! ECS, in Sysmon's shape and as the table). Set RINGFENCE_BLESS=1 to rewrite
//! them after an intended change, and review the diff.

mod common;

use std::path::PathBuf;

use ringfence_companion::enrich::account::{AccountName, AccountTable};
use ringfence_companion::enrich::dos_path::VolumeMap;
use ringfence_companion::enrich::stage::{EnrichConfig, Enricher, FileLocation, Sources};
use ringfence_companion::{EventStream, Format, Host};

fn golden(name: &str, actual: &[u8]) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("RINGFENCE_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
    }
    let expected = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(String::from_utf8_lossy(actual), String::from_utf8_lossy(&expected), "{name} differs");
}

fn render(format: Format) -> (Vec<u8>, Vec<u8>) {
    let mut stream = EventStream::new(Host { name: "golden-host".into() }, format);
    let (mut out, mut diag) = (Vec::new(), Vec::new());
    let outcome = stream.render_batch(&common::golden_batch(), &mut out, &mut diag).unwrap();
    assert_eq!(outcome.rendered, 8);
    assert!(outcome.damage.is_some());
    (out, diag)
}

/// The golden batch enriched from a machine whose volume 3 is `C:`, whose
/// account database knows the batch's user, and whose MachineGuid is fixed.
/// Image files are not read (their identity depends on this machine's files).
fn render_enriched(format: Format) -> (Vec<u8>, Vec<u8>) {
    let sources = Sources {
        host_identity: Some("8f1c2b3a-0d4e-4f5a-9b6c-7d8e9f0a1b2c".into()),
        volumes: VolumeMap::from_pairs([(r"\Device\HarddiskVolume3", "C:"), (r"\SystemRoot", r"C:\Windows")])
            .unwrap(),
        accounts: Box::new(AccountTable(vec![(
            "S-1-5-21-1004336348-1177238915-682003330-1001".parse().unwrap(),
            AccountName::new("GOLDEN", "alice"),
        )])),
        files: FileLocation::Native,
    };
    let config = EnrichConfig { files: None, ..EnrichConfig::default() };
    let enricher = Enricher::new(config, sources, "golden-host").unwrap();
    let mut stream = EventStream::with_enricher(Host { name: "golden-host".into() }, enricher, format);
    let (mut out, mut diag) = (Vec::new(), Vec::new());
    let outcome = stream.render_batch(&common::golden_batch(), &mut out, &mut diag).unwrap();
    assert_eq!(outcome.rendered, 8);
    (out, diag)
}

#[test]
fn the_fixed_batch_enriched_renders_to_the_committed_ecs_lines() {
    golden("enriched.jsonl", &render_enriched(Format::Json).0);
}

#[test]
fn the_fixed_batch_enriched_renders_to_the_committed_sysmon_lines() {
    golden("enriched.sysmon.jsonl", &render_enriched(Format::Sysmon).0);
}

#[test]
fn the_fixed_batch_enriched_renders_to_the_committed_table() {
    golden("enriched.table", &render_enriched(Format::Table).0);
}

#[test]
fn the_fixed_batch_renders_to_the_committed_ecs_lines() {
    let (out, _) = render(Format::Json);
    golden("events.jsonl", &out);
}

#[test]
fn the_fixed_batch_reports_lost_events_gaps_and_damage_as_committed() {
    let (_, diag) = render(Format::Json);
    golden("events.stderr", &diag);
}

#[test]
fn the_fixed_batch_renders_to_the_committed_table() {
    let (out, _) = render(Format::Table);
    golden("events.table", &out);
}

#[test]
fn every_golden_line_is_one_json_object_with_the_ecs_basics() {
    let (out, _) = render(Format::Json);
    for line in String::from_utf8(out).unwrap().lines() {
        let doc: serde_json::Value = serde_json::from_str(line).unwrap();
        for key in ["@timestamp", "event", "host", "ecs"] {
            assert!(doc.get(key).is_some(), "{key} missing in {line}");
        }
        assert_eq!(doc["event"]["kind"], "event");
        assert!(doc["event"]["sequence"].is_u64());
    }
}

/// The fuzz seeds are the golden batch and its parts, kept in sync here.
#[test]
fn the_fuzz_seeds_are_the_golden_batch_and_its_whole_records() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/companion_render");
    let batch = common::golden_batch();
    let whole: usize =
        ringfence_wire::batch::Records::new(&batch).filter_map(Result::ok).map(|r| r.size()).sum();
    let first = ringfence_wire::Record::parse_prefix(&batch).unwrap().0.size();
    let seeds: [(&str, &[u8]); 3] = [
        ("seed-golden", &batch),
        ("seed-golden-whole", &batch[..whole]),
        ("seed-one-record", &batch[..first]),
    ];
    for (name, bytes) in seeds {
        let path = dir.join(name);
        if std::env::var_os("RINGFENCE_BLESS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, bytes).unwrap();
        }
        assert_eq!(
            std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
            bytes,
            "{name}"
        );
    }
}

/// The schema table of ECS.md, generated from the schema declaration: every
/// kernel field, then every companion field (indices from 128).
fn schema_table() -> String {
    let mut t = String::from(
        "| kind | index | field | type | from | may be absent | max units | ECS name | matchable | meaning |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    for kind in ringfence_wire::SCHEMA.kinds {
        let kernel = kind.fields.iter().enumerate();
        let companion = kind.companion.iter().enumerate().map(|(i, f)| (i + 128, f));
        for (i, f) in kernel.chain(companion) {
            let doc = f.doc.trim().replace('|', "\\|");
            let from = match f.origin {
                ringfence_wire::schema::Origin::Kernel => "driver",
                ringfence_wire::schema::Origin::Companion => "companion",
            };
            let max = if f.max_units == 0 { "".to_string() } else { f.max_units.to_string() };
            t.push_str(&format!(
                "| {} | {i} | `{}` | {} | {from} | {} | {max} | `{}` | {} | {doc} |\n",
                kind.name,
                f.name,
                f.ty.name(),
                if f.optional { "yes" } else { "no" },
                f.ecs,
                if f.matchable { "yes" } else { "no" }
            ));
        }
    }
    t
}

#[test]
fn ecs_md_lists_every_schema_field_under_its_ecs_name() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ECS.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- schema-table:start -->\n", "<!-- schema-table:end -->");
    let (head, rest) = doc.split_once(start).expect("start marker");
    let (_, tail) = rest.split_once(end).expect("end marker");
    let expected = format!("{head}{start}{}{end}{tail}", schema_table());
    if std::env::var_os("RINGFENCE_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    assert_eq!(doc, expected, "ECS.md's schema table is out of date: run with RINGFENCE_BLESS=1");
}

/// The enrichment table of ECS.md, generated from `enriched::ECS_FIELDS`.
fn enrichment_table() -> String {
    let mut t = String::from("| ECS name | value |\n|---|---|\n");
    for (name, meaning) in ringfence_companion::enriched::ECS_FIELDS {
        t.push_str(&format!("| `{name}` | {meaning} |\n"));
    }
    t
}

#[test]
fn ecs_md_lists_every_field_the_enrichment_stage_writes() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ECS.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (start, end) = ("<!-- enrichment-table:start -->\n", "<!-- enrichment-table:end -->");
    let (head, rest) = doc.split_once(start).expect("start marker");
    let (_, tail) = rest.split_once(end).expect("end marker");
    let expected = format!("{head}{start}{}{end}{tail}", enrichment_table());
    if std::env::var_os("RINGFENCE_BLESS").is_some() {
        std::fs::write(&path, &expected).unwrap();
        return;
    }
    assert_eq!(doc, expected, "ECS.md's enrichment table is out of date: run with RINGFENCE_BLESS=1");
}

/// Dotted names of every leaf of `value`.
fn leaves(prefix: &str, value: &serde_json::Value, out: &mut std::collections::BTreeSet<String>) {
    match value.as_object() {
        Some(map) => {
            for (key, inner) in map {
                let name = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                leaves(&name, inner, out);
            }
        }
        None => {
            out.insert(prefix.to_owned());
        }
    }
}

#[test]
fn every_name_enrichment_adds_to_the_golden_batch_is_one_ecs_md_lists() {
    let names = |text: Vec<u8>| {
        let mut set = std::collections::BTreeSet::new();
        for line in String::from_utf8(text).unwrap().lines() {
            leaves("", &serde_json::from_str(line).unwrap(), &mut set);
        }
        set
    };
    let (plain, enriched) = (names(render(Format::Json).0), names(render_enriched(Format::Json).0));
    let listed: std::collections::BTreeSet<String> =
        ringfence_companion::enriched::ECS_FIELDS.iter().map(|(n, _)| (*n).to_owned()).collect();
    let added: Vec<&String> = enriched.difference(&plain).filter(|n| !listed.contains(*n)).collect();
    assert_eq!(added, Vec::<&String>::new(), "names enrichment writes that ECS.md does not list");
}
