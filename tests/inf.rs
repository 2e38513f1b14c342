//! inf/ringfence.inx follows the primitive-driver rules and installs the service the driver
//! expects.

use ringfence_wire::ioctl::{PROCESS_TABLE_BYTES_DEFAULT, QUEUE_BYTES_DEFAULT};
use std::collections::BTreeMap;

const INX: &str = include_str!("../inf/ringfence.inx");

/// One section: its lines, comments removed, in order.
struct Inf {
    sections: BTreeMap<String, Vec<String>>,
}

/// The line without its `;` comment (quotes respected).
fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    for (at, c) in line.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ';' if !quoted => return line[..at].trim(),
            _ => {}
        }
    }
    line.trim()
}

impl Inf {
    fn parse(text: &str) -> Inf {
        let mut sections: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut current = None;
        for line in text.lines().map(strip_comment).filter(|l| !l.is_empty()) {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                let name = name.trim().to_owned();
                assert!(!sections.contains_key(&name.to_ascii_lowercase()), "section {name} twice");
                sections.insert(name.to_ascii_lowercase(), Vec::new());
                current = Some(name.to_ascii_lowercase());
            } else {
                let section = current.as_ref().expect("a line before any section");
                sections.get_mut(section).unwrap().push(line.to_owned());
            }
        }
        Inf { sections }
    }

    fn section(&self, name: &str) -> &[String] {
        self.sections.get(&name.to_ascii_lowercase()).unwrap_or_else(|| panic!("no [{name}]"))
    }

    fn has(&self, name: &str) -> bool {
        self.sections.contains_key(&name.to_ascii_lowercase())
    }

    /// The value of `key = value` in `section`.
    fn value(&self, section: &str, key: &str) -> String {
        self.section(section)
            .iter()
            .filter_map(|line| line.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_else(|| panic!("no {key} in [{section}]"))
    }
}

fn inf() -> Inf {
    Inf::parse(INX)
}

#[test]
fn the_version_section_is_complete() {
    let inf = inf();
    assert_eq!(inf.value("Version", "Signature"), "\"$WINDOWS NT$\"");
    assert_eq!(inf.value("Version", "Class"), "System");
    assert_eq!(inf.value("Version", "ClassGuid"), "{4D36E97D-E325-11CE-BFC1-08002BE10318}");
    assert_eq!(inf.value("Version", "Provider"), "%ProviderName%");
    assert_eq!(inf.value("Version", "PnpLockdown"), "1");
    assert_eq!(inf.value("Version", "CatalogFile"), format!("{}.cat", env!("CARGO_PKG_NAME")));
}

#[test]
fn it_is_a_primitive_driver_with_no_device_node() {
    let inf = inf();
    assert!(!inf.has("Manufacturer"), "a primitive driver has no [Manufacturer]");
    assert!(
        !inf.sections.keys().any(|s| s.contains("models") || s.starts_with("standard")),
        "no models section"
    );
    assert!(!INX.to_ascii_lowercase().contains("hardwareid"));
    for undecorated in
        ["DefaultInstall", "DefaultInstall.Services", "DefaultInstall.NT", "DefaultInstall.NT.Services"]
    {
        assert!(!inf.has(undecorated), "[{undecorated}] must be architecture-decorated");
    }
    assert!(inf.has("DefaultInstall.NT$ARCH$"));
    assert!(inf.has("DefaultInstall.NT$ARCH$.Services"));
    assert!(
        !inf.sections.keys().any(|s| s.starts_with("defaultuninstall")),
        "primitive drivers are removed by the platform, not by a DefaultUninstall section"
    );
}

#[test]
fn files_run_from_the_driver_store_and_the_binary_is_named_after_the_package() {
    let inf = inf();
    let binary = format!("{}.sys", env!("CARGO_PKG_NAME"));
    assert_eq!(inf.value("DestinationDirs", "DefaultDestDir"), "13");
    assert_eq!(inf.value("SourceDisksFiles", &binary), "1,,");
    assert_eq!(inf.value("DefaultInstall.NT$ARCH$", "CopyFiles"), "Ringfence.Files");
    assert_eq!(inf.section("Ringfence.Files"), std::slice::from_ref(&binary));
    assert_eq!(inf.value("Ringfence.Service", "ServiceBinary"), format!("%13%\\{binary}"));
}

#[test]
fn the_service_is_a_demand_start_kernel_driver() {
    let inf = inf();
    let add = inf.value("DefaultInstall.NT$ARCH$.Services", "AddService");
    let parts: Vec<&str> = add.split(',').map(str::trim).collect();
    assert_eq!(parts, ["ringfence", "", "Ringfence.Service"], "no flags: the service has no device");
    assert_eq!(inf.value("Ringfence.Service", "ServiceType"), "1");
    assert_eq!(inf.value("Ringfence.Service", "StartType"), "3", "demand start, never boot or system start");
    assert_eq!(inf.value("Ringfence.Service", "ErrorControl"), "1");
}

#[test]
fn the_parameters_key_carries_the_drivers_default_queue_and_process_table_sizes() {
    let inf = inf();
    assert_eq!(inf.value("Ringfence.Service", "AddReg"), "Ringfence.Parameters");
    let entry = inf.section("Ringfence.Parameters");
    assert_eq!(entry.len(), 2);
    let fields = |i: usize| -> Vec<&str> { entry[i].split(',').map(str::trim).collect() };
    assert_eq!(
        fields(0),
        ["HKR", "Parameters", "QueueBytes", "0x00010001", &QUEUE_BYTES_DEFAULT.to_string()]
    );
    assert_eq!(
        fields(1),
        ["HKR", "Parameters", "ProcessTableBytes", "0x00010001", &PROCESS_TABLE_BYTES_DEFAULT.to_string()]
    );
}

#[test]
fn every_string_token_is_defined() {
    let inf = inf();
    let defined: Vec<String> = inf
        .section("Strings")
        .iter()
        .filter_map(|l| l.split_once('='))
        .map(|(k, _)| k.trim().to_ascii_lowercase())
        .collect();
    let body: String = INX.lines().map(strip_comment).collect::<Vec<_>>().join("\n");
    let mut tokens = body.split('%').skip(1).step_by(2).peekable();
    assert!(tokens.peek().is_some());
    for token in tokens {
        if token.chars().all(|c| c.is_ascii_digit()) {
            continue; // a dirid such as %13%
        }
        assert!(defined.contains(&token.to_ascii_lowercase()), "%{token}% is not in [Strings]");
    }
}
