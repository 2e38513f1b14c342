//! The Windows flow's configuration, checked where Linux can see it: the cargo-make file, the
//! cargo configuration, the stated minimum Windows build, and that the two binding backends
//! share every line above the bindings (so the `wdk` build sets up what the emulator runs).

use std::collections::BTreeSet;
use std::path::Path;

const MAKEFILE: &str = include_str!("../Makefile.toml");
const CARGO_CONFIG: &str = include_str!("../.cargo/config.toml");
const MANIFEST: &str = include_str!("../Cargo.toml");
const INF: &str = include_str!("../inf/ringfence.inx");
const INSTALL_SCRIPT: &str = include_str!("../scripts/Install-Ringfence.ps1");
const WINDOWS_DOC: &str = include_str!("../docs/windows.md");
const README: &str = include_str!("../README.md");

/// The lines of `text` that are not comments (`#` in TOML).
fn toml_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.starts_with('#') && !l.is_empty())
}

#[test]
fn cargo_make_runs_once_at_the_root_for_the_driver_package_with_the_wdk_backend() {
    let lines: Vec<&str> = toml_lines(MAKEFILE).collect();
    assert!(lines.contains(&"default_to_workspace = false"), "the other members are not drivers");
    assert!(lines.contains(&r#"CARGO_MAKE_CARGO_BUILD_TEST_FLAGS = "--package ringfence --features wdk""#));
    assert!(lines.contains(&r#"extend = "target/rust-driver-makefile.toml""#), "windows-drivers-rs' flow");
}

#[test]
fn cargo_make_copies_the_inf_template_that_exists() {
    let copy = toml_lines(MAKEFILE).find(|l| l.starts_with("cp ")).expect("copy-inx-to-output copies");
    assert_eq!(
        copy,
        "cp ${CARGO_MAKE_WORKING_DIRECTORY}/inf/ringfence.inx ${WDK_BUILD_OUTPUT_DIRECTORY}/ringfence.inf"
    );
    assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join("inf/ringfence.inx").is_file());
}

/// Every `wdk-build = …` requirement in `text`.
fn wdk_build_requirements(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|l| l.trim().trim_start_matches("//!").trim().strip_prefix("wdk-build = "))
        .map(|rest| rest.split('"').nth(1).expect("a quoted version"))
        .collect()
}

#[test]
fn every_use_of_wdk_build_pins_the_release_the_wdk_check_patches() {
    // Cargo.toml: the optional build-dependency and the unconditional one for Windows hosts.
    assert_eq!(wdk_build_requirements(MANIFEST), ["=0.6.0", "=0.6.0"]);
    // Makefile.toml's load script fetches the makefile of the same release.
    assert_eq!(wdk_build_requirements(MAKEFILE), ["=0.6.0"]);
    let windows_hosts = MANIFEST.split("[target.'cfg(windows)'.build-dependencies]").nth(1);
    assert!(
        windows_hosts.is_some_and(|rest| rest.trim_start().starts_with("wdk-build = \"=0.6.0\"")),
        "wdk-build is a plain build-dependency on Windows hosts, so wdk-sys' `cargo metadata` finds it"
    );
}

#[test]
fn the_msvc_target_links_the_static_c_runtime_and_no_linker_is_forced() {
    let lines: Vec<&str> = toml_lines(CARGO_CONFIG).collect();
    let section = lines.iter().position(|l| *l == "[target.x86_64-pc-windows-msvc]").expect("the msvc table");
    assert_eq!(lines.get(section + 1), Some(&r#"rustflags = ["-C", "target-feature=+crt-static"]"#));
    assert!(
        !lines.iter().any(|l| l.starts_with("linker")),
        "rust-lld is the cross build's choice, not cargo make's"
    );
    assert!(!lines.contains(&"[build]"), "crt-static must not reach the Linux host build");
}

#[test]
fn windows_10_2004_build_19041_is_the_minimum_everywhere() {
    assert!(INSTALL_SCRIPT.contains("$MinimumBuild = 19041"), "the install script checks it");
    assert!(INSTALL_SCRIPT.contains("if ($build -lt $MinimumBuild) {"));
    assert!(INSTALL_SCRIPT.contains("127 {"), "and explains error 127");
    assert!(INF.contains("Windows 10 version 2004 (build 19041) and later"));
    assert!(WINDOWS_DOC.contains("Windows 10 version 2004 (build 19041) or later"));
    assert!(README.contains("Windows 10 version 2004 (build 19041) or later"));
    for (name, text) in
        [("INF", INF), ("install script", INSTALL_SCRIPT), ("docs", WINDOWS_DOC), ("README", README)]
    {
        assert!(!text.contains("18362"), "{name} still names build 18362 (1903) as a minimum");
    }
}

/// The names a shared kernel module takes from the binding backend (`use super::ffi::{…}`).
fn ffi_names(source: &str) -> BTreeSet<String> {
    let Some(start) = source.find("use super::ffi::{") else { return BTreeSet::new() };
    let list = &source[start + "use super::ffi::{".len()..];
    let list = &list[..list.find('}').expect("a closed use list")];
    list.split(',').map(str::trim).filter(|n| !n.is_empty()).map(str::to_owned).collect()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect(path)
}

#[test]
fn both_backends_provide_every_kernel_name_the_shared_code_calls() {
    // entry (DriverEntry, dispatch, callbacks), device (device, link, DACL, registrations),
    // sync (locks, clock, event) and registry are written once against `ffi`.
    let shared = [
        "driver/kernel/entry.rs",
        "driver/kernel/device.rs",
        "driver/kernel/sync.rs",
        "driver/kernel/registry.rs",
    ];
    let names: BTreeSet<String> = shared.iter().flat_map(|f| ffi_names(&read(f))).collect();
    for dacl in
        ["RtlCreateSecurityDescriptor", "RtlCreateAcl", "RtlAddAccessAllowedAce", "ObOpenObjectByPointer"]
    {
        assert!(names.contains(dacl), "the DACL is built through ffi::{dacl}");
    }
    let wdk = read("driver/kernel/wdk.rs");
    let windows_sys = read("driver/kernel/ntoskrnl/src/lib.rs") + &read("driver/kernel/imports.rs");
    for name in &names {
        // `fn NAME(` also finds the declarations that carry a qualifier before `fn`.
        assert!(wdk.contains(&format!("fn {name}(")), "the wdk backend lacks {name}");
        assert!(windows_sys.contains(&format!("fn {name}(")), "the windows-sys backend lacks {name}");
    }
}

#[test]
fn only_the_backend_selection_names_the_wdk_feature() {
    fn visit(dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("a source directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                visit(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("a source file");
                if text.contains("feature = \"wdk\"") {
                    found.push(path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap().display().to_string());
                }
            }
        }
    }
    let mut found = Vec::new();
    visit(&Path::new(env!("CARGO_MANIFEST_DIR")).join("driver"), &mut found);
    assert_eq!(found, ["driver/kernel/mod.rs"], "backend-specific code outside the binding modules");
}
