use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

fn error(text: &str) -> ConfigError {
    parse(text, Path::new("/etc/ringfence")).expect_err("refused")
}

const MINIMAL: &str = "[[output]]\nkind = \"stdout\"\n";

#[test]
fn the_example_configuration_parses_to_its_documented_values() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/service/ringfence.toml");
    let config = load(&path).unwrap_or_else(|e| panic!("{e}"));
    let dir = path.parent().unwrap();
    assert_eq!(
        config,
        Config {
            host_name: None,
            health_interval: Duration::from_secs(60),
            content: Some(dir.join("content.bin")),
            retry_max: Duration::from_secs(30),
            enrichment: Enrichment { hashes: vec![HashAlgorithm::Sha256, HashAlgorithm::Imphash] },
            sigma: vec![dir.join("../sigma")],
            outputs: vec![Output::File(FileOutput {
                format: Format::Ecs,
                directory: dir.join("events"),
                name: "ringfence".into(),
                rotate_size: 64 << 20,
                rotate_age: Some(Duration::from_secs(3600)),
                keep_files: 48,
                keep_bytes: Some(2 << 30),
                fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
            })],
        }
    );
}

#[test]
fn a_file_output_with_only_a_directory_takes_every_default() {
    let config =
        parse("[[output]]\nkind = \"file\"\ndirectory = 'C:\\ProgramData\\ringfence'\n", Path::new("/x"))
            .unwrap();
    let Output::File(file) = &config.outputs[0] else { panic!("{config:?}") };
    assert_eq!(
        (file.name.as_str(), file.rotate_size, file.rotate_age, file.keep_files, file.keep_bytes, file.fsync),
        (
            "ringfence",
            defaults::ROTATE_SIZE,
            Some(defaults::ROTATE_AGE),
            defaults::KEEP_FILES,
            Some(defaults::KEEP_BYTES),
            FsyncPolicy::Interval(defaults::FSYNC_INTERVAL)
        )
    );
    assert_eq!(
        (config.health_interval, config.retry_max, config.content),
        (defaults::HEALTH_INTERVAL, defaults::RETRY_MAX, None)
    );
}

#[test]
fn an_output_takes_the_sysmon_format_and_an_unknown_format_names_both() {
    let config = parse("[[output]]\nkind = \"stdout\"\nformat = \"sysmon\"\n", Path::new("/")).unwrap();
    assert_eq!(config.outputs, vec![Output::Stdout { format: Format::Sysmon }]);
    let e = error("[[output]]\nkind = \"stdout\"\nformat = \"winlog\"\n");
    assert_eq!(e, ConfigError { line: 3, reason: Reason::UnknownFormat { found: "winlog".into() } });
    assert_eq!(e.to_string(), "line 3: format \"winlog\" is unknown: use \"ecs\" or \"sysmon\"");
}

#[test]
fn the_configured_hashes_are_the_enrichment_stages_algorithms_and_none_means_sha256() {
    use crate::enrich::hashes::HashAlgorithms;
    let algorithms = |list: &str| {
        parse(&format!("[enrichment]\nhashes = {list}\n{MINIMAL}"), Path::new("/"))
            .unwrap()
            .enrichment
            .algorithms()
    };
    assert_eq!(
        algorithms("[\"imphash\", \"md5\"]"),
        HashAlgorithms { sha1: false, md5: true, sha256: false, imphash: true }
    );
    assert_eq!(algorithms("[\"*\"]"), HashAlgorithms::ALL);
    assert_eq!(algorithms("[]"), HashAlgorithms { sha1: false, md5: false, sha256: true, imphash: false });
}

#[test]
fn toml_errors_name_the_line_of_the_offending_key() {
    let e = error("[service]\nhealth_interval = \"60s\"\ncolour = \"blue\"\n[[output]]\nkind = \"stdout\"\n");
    assert_eq!(e.line, 3);
    assert!(matches!(&e.reason, Reason::Syntax { message } if message.contains("colour")), "{e}");
    assert_eq!(error("[[output]]\nkind = \"stdout\"\n\nkeep_files = \"ten\"\n").line, 4);
}

#[test]
fn bad_durations_and_sizes_name_the_key_the_value_and_the_line() {
    assert_eq!(
        error("[service]\nhealth_interval = \"soon\"\n"),
        ConfigError { line: 2, reason: Reason::Duration { key: "health_interval", value: "soon".into() } }
    );
    assert_eq!(
        error("[[output]]\nkind = \"file\"\ndirectory = \"d\"\nrotate_size = \"64 mb\"\n"),
        ConfigError { line: 4, reason: Reason::Size { key: "rotate_size", value: "64 mb".into() } }
    );
    assert_eq!(
        error("[service]\nhealth_interval = \"0s\"\n").to_string(),
        "line 2: health_interval = 0s is outside 1s ..= 1d"
    );
}

#[test]
fn output_kinds_take_only_their_own_keys() {
    assert_eq!(
        error("[[output]]\nkind = \"stdout\"\ndirectory = \"d\"\n"),
        ConfigError { line: 3, reason: Reason::KeyNotForOutput { output: "stdout", key: "directory" } }
    );
    assert_eq!(
        error("[[output]]\nkind = \"file\"\ndirectory = \"d\"\nsource = \"x\"\n"),
        ConfigError { line: 4, reason: Reason::KeyNotForOutput { output: "file", key: "source" } }
    );
    assert_eq!(
        error("\n[[output]]\nkind = \"file\"\n"),
        ConfigError { line: 3, reason: Reason::MissingKey { output: "file", key: "directory" } }
    );
    assert_eq!(
        error("[[output]]\nkind = \"syslog\"\n"),
        ConfigError { line: 2, reason: Reason::UnknownOutputKind { found: "syslog".into() } }
    );
}

#[test]
fn a_configuration_without_output_is_refused() {
    assert_eq!(error("[service]\n"), ConfigError { line: 0, reason: Reason::NoOutput });
}

#[test]
fn hashes_are_sysmons_names_any_case_or_a_star_and_never_twice() {
    let hashes = |list: &str| {
        parse(&format!("[enrichment]\nhashes = {list}\n{MINIMAL}"), Path::new("/"))
            .map(|c| c.enrichment.hashes)
    };
    assert_eq!(hashes("[\"SHA1\", \"md5\"]"), Ok(vec![HashAlgorithm::Sha1, HashAlgorithm::Md5]));
    assert_eq!(hashes("[\"*\"]"), Ok(HashAlgorithm::ALL.to_vec()));
    assert_eq!(
        hashes("[\"sha256\",\n \"crc32\"]"),
        Err(ConfigError { line: 3, reason: Reason::UnknownHash { found: "crc32".into() } })
    );
    assert_eq!(
        hashes("[\"sha256\", \"*\"]"),
        Err(ConfigError { line: 2, reason: Reason::DuplicateHash { name: "sha256" } })
    );
}

#[test]
fn fsync_policies_and_their_interval() {
    let fsync = |keys: &str| {
        parse(&format!("[[output]]\nkind = \"file\"\ndirectory = \"d\"\n{keys}"), Path::new("/")).map(|c| {
            match &c.outputs[0] {
                Output::File(f) => f.fsync,
                _ => unreachable!(),
            }
        })
    };
    assert_eq!(fsync("fsync = \"batch\"\n"), Ok(FsyncPolicy::Batch));
    assert_eq!(fsync("fsync = \"rotation\"\n"), Ok(FsyncPolicy::Rotation));
    assert_eq!(fsync("fsync_interval = \"250ms\"\n"), Ok(FsyncPolicy::Interval(Duration::from_millis(250))));
    assert_eq!(
        fsync("fsync = \"batch\"\nfsync_interval = \"1s\"\n"),
        Err(ConfigError { line: 5, reason: Reason::FsyncIntervalWithoutInterval })
    );
    assert_eq!(
        fsync("fsync = \"never\"\n"),
        Err(ConfigError { line: 4, reason: Reason::UnknownFsync { found: "never".into() } })
    );
}

#[test]
fn two_file_outputs_cannot_share_files_and_names_are_plain() {
    let two = "[[output]]\nkind = \"file\"\ndirectory = \"d\"\n[[output]]\nkind = \"file\"\ndirectory = \"d\"\nname = \"RINGFENCE\"\n";
    assert_eq!(error(two), ConfigError { line: 4, reason: Reason::SameFiles { first_line: 1 } });
    assert_eq!(
        error("[[output]]\nkind = \"file\"\ndirectory = \"d\"\nname = \"../x\"\n"),
        ConfigError { line: 4, reason: Reason::BadFileName { name: "../x".into() } }
    );
}

#[test]
fn relative_paths_are_taken_from_the_configuration_folder() {
    let config = parse(
        "[driver]\ncontent = \"c.bin\"\n[[output]]\nkind = \"file\"\ndirectory = \"events\"\n",
        Path::new("/etc/rf"),
    )
    .unwrap();
    assert_eq!(config.content, Some(PathBuf::from("/etc/rf/c.bin")));
    assert!(matches!(&config.outputs[0], Output::File(f) if f.directory == Path::new("/etc/rf/events")));
}
