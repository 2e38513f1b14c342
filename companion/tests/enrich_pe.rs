//! PE identity against the oracle: IMPHASH and version resources of real PE
//! files that Debian packages ship (and of ringfence.sys when the build made
//! it), and of built images that reach the corners of the definitions, each
//! compared with what pefile (PyPI) computes. Both are installed by
//! `cargo xtask test`; nothing is fetched here.

mod pe_image;

use std::path::{Path, PathBuf};
use std::process::Command;

use pe_image::{Import, Library, PeBuilder, string, version_block};
use ringfence_companion::enrich::pe::{
    FixedVersion, PeError, VersionError, VersionInfo, inspect, known_ordinal_names,
};
use serde_json::Value;

/// The Debian packages whose PE files are the fixtures (`cargo xtask test` installs them).
const PACKAGES: &str = "libz-mingw-w64 libgcrypt-mingw-w64-dev libgpg-error-mingw-w64-dev";

/// PE32 and PE32+, DLLs and EXEs, with and without version resources.
pub fn debian_pe_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for arch in ["x86_64-w64-mingw32", "i686-w64-mingw32"] {
        files.push(PathBuf::from(format!("/usr/{arch}/lib/zlib1.dll")));
        for name in ["libgcrypt-20.dll", "libgpg-error-0.dll", "gpg-error.exe", "hmac256.exe", "mpicalc.exe"]
        {
            files.push(PathBuf::from(format!("/usr/{arch}/bin/{name}")));
        }
    }
    let missing: Vec<_> = files.iter().filter(|f| !f.exists()).collect();
    assert!(
        missing.is_empty(),
        "missing PE fixtures {missing:?}: run `cargo xtask test`, or apt-get install {PACKAGES}"
    );
    if let Some(sys) = std::env::var_os("RINGFENCE_SYS") {
        files.push(PathBuf::from(sys));
    }
    files
}

/// pefile's view of each file (tests/oracle/pe_oracle.py).
fn pefile(paths: &[PathBuf]) -> Vec<Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oracle/pe_oracle.py");
    let output = Command::new("python3").arg(script).args(paths).output().expect("python3 runs");
    assert!(
        output.status.success(),
        "the pefile oracle failed (pip install pefile==2024.8.26, or run `cargo xtask test`): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn ours(path: &Path) -> ringfence_companion::enrich::pe::PeIdentity {
    inspect(std::fs::read(path).unwrap().as_slice()).unwrap()
}

fn imphash_hex(path: &Path) -> String {
    ours(path).imphash.map(|h| format!("{h:x}")).unwrap_or_default()
}

#[test]
fn the_imphash_of_every_debian_pe_file_equals_pefiles() {
    let files = debian_pe_files();
    for (file, oracle) in files.iter().zip(pefile(&files)) {
        assert_eq!(imphash_hex(file), oracle["imphash"].as_str().unwrap(), "{}", file.display());
    }
}

#[test]
fn version_strings_of_debian_pe_files_are_pefiles_string_table() {
    let files = debian_pe_files();
    let mut with_version = 0;
    for (file, oracle) in files.iter().zip(pefile(&files)) {
        let version = ours(file).version.unwrap();
        let tables = oracle["tables"].as_object().unwrap();
        let Some(info) = version else {
            assert!(tables.is_empty(), "{}: pefile found strings we did not", file.display());
            continue;
        };
        with_version += 1;
        let key = info.string_table.clone().unwrap();
        let table = &tables[&key];
        let field = |name: &str| table.get(name).and_then(Value::as_str).map(str::to_owned);
        assert_eq!(info.file_version, field("FileVersion"), "{}", file.display());
        assert_eq!(info.description, field("FileDescription"), "{}", file.display());
        assert_eq!(info.product, field("ProductName"), "{}", file.display());
        assert_eq!(info.company, field("CompanyName"), "{}", file.display());
        assert_eq!(info.original_file_name, field("OriginalFilename"), "{}", file.display());
        let fixed: Vec<u16> = oracle["fixed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| u16::try_from(v.as_u64().unwrap()).unwrap())
            .collect();
        assert_eq!(info.fixed.map(|f| f.file.to_vec()), Some(fixed), "{}", file.display());
    }
    assert_eq!(with_version, 6, "zlib1, libgcrypt and libgpg-error carry version resources, twice each");
}

#[test]
fn zlib1_dll_reads_as_sysmon_shows_it() {
    let info = ours(Path::new("/usr/x86_64-w64-mingw32/lib/zlib1.dll")).version.unwrap().unwrap();
    assert_eq!(
        info,
        VersionInfo {
            file_version: Some("1.2.13".into()),
            description: Some("zlib data compression library".into()),
            product: Some("zlib".into()),
            company: None,
            original_file_name: Some("zlib1.dll".into()),
            string_table: Some("040904E4".into()),
            fixed: Some(FixedVersion { file: [1, 2, 13, 0], product: [1, 2, 13, 0] }),
        }
    );
}

#[test]
fn the_file_version_is_the_string_not_the_fixed_numbers() {
    // libgpg-error's string table says 33.33.1.000035b; VS_FIXEDFILEINFO says 1.46.0.859.
    let info = ours(Path::new("/usr/x86_64-w64-mingw32/bin/libgpg-error-0.dll")).version.unwrap().unwrap();
    assert_eq!(info.file_version.as_deref(), Some("33.33.1.000035b"));
    assert_eq!(info.fixed.unwrap().file, [1, 46, 0, 859]);
}

#[test]
fn the_ordinal_tables_equal_pefiles() {
    let output = Command::new("python3")
        .args(["-c", "import json, ordlookup; print(json.dumps({k.decode(): {str(o): n.decode() for o, n in v.items()} for k, v in ordlookup.ords.items()}))"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let oracle: Value = serde_json::from_slice(&output.stdout).unwrap();
    let oracle = oracle.as_object().unwrap();
    assert_eq!(oracle.len(), known_ordinal_names().len());
    for (dll, table) in known_ordinal_names() {
        let theirs = oracle[dll].as_object().unwrap();
        assert_eq!(theirs.len(), table.len(), "{dll}");
        for (ordinal, name) in table {
            assert_eq!(theirs[&ordinal.to_string()].as_str(), Some(*name), "{dll} ordinal {ordinal}");
        }
    }
}

/// Writes each image to a file and checks our IMPHASH against pefile's.
fn assert_imphashes_match(images: &[(&str, Vec<u8>)]) {
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<PathBuf> = images
        .iter()
        .map(|(name, bytes)| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect();
    for ((name, _), oracle) in images.iter().zip(pefile(&paths)) {
        assert!(oracle.get("error").is_none(), "pefile refused {name}: {oracle}");
        assert_eq!(imphash_hex(&dir.path().join(name)), oracle["imphash"].as_str().unwrap(), "{name}");
    }
}

fn both_kinds(name: &str, libraries: &[Library<'_>]) -> Vec<(String, Vec<u8>)> {
    [false, true]
        .into_iter()
        .map(|plus| {
            (
                format!("{name}-{}", if plus { "pe32plus" } else { "pe32" }),
                PeBuilder::new(plus).imports(libraries).build(),
            )
        })
        .collect()
}

#[test]
fn imports_by_ordinal_are_named_by_pefiles_rules() {
    let libraries = [
        Library::new("WS2_32.dll", &[Import::Ordinal(23), Import::Ordinal(115), Import::Ordinal(999)]),
        Library::new("oleaut32.DLL", &[Import::Ordinal(2), Import::Ordinal(6)]),
        Library::new("wsock32.dll", &[Import::Ordinal(1)]),
        Library::new("KERNEL32.dll", &[Import::Ordinal(5), Import::Name("ExitProcess")]),
        // Without its extension ws2_32 is not looked up: ord23.
        Library::new("ws2_32", &[Import::Ordinal(23)]),
    ];
    let images = both_kinds("ordinals", &libraries);
    assert_imphashes_match(&images.iter().map(|(n, b)| (n.as_str(), b.clone())).collect::<Vec<_>>());
    // The string hashed, spelled out: md5 of it must be what inspect gives.
    let expected = ringfence_companion::enrich::pe::imphash_of_imports([
        (&b"ws2_32"[..], vec![Ok(&b"socket"[..]), Ok(b"wsastartup"), Ok(b"ord999")]),
        (b"oleaut32", vec![Ok(b"sysallocstring"), Ok(b"sysfreestring")]),
        (b"wsock32", vec![Ok(b"accept")]),
        (b"kernel32", vec![Ok(b"ord5"), Ok(b"exitprocess")]),
        (b"ws2_32", vec![Ok(b"ord23")]),
    ]);
    assert_eq!(inspect(images[0].1.as_slice()).unwrap().imphash, Some(expected));
}

#[test]
fn library_extensions_names_and_skipped_symbols_follow_pefile() {
    let libraries = [
        Library::new("control.ocx", &[Import::Name("DllMain")]),
        Library::new("driver.sys", &[Import::Name("Func_1")]),
        Library::new("program.exe", &[Import::Name("Exported")]),
        Library::new("noextension", &[Import::Name("F")]),
        // Invalid and empty names and ordinal 0 are skipped; the library stays.
        Library::new(
            "user32.dll",
            &[
                Import::Name("bad-name"),
                Import::Name(""),
                Import::Ordinal(0),
                Import::Name("?Mangled@@YAXXZ"),
            ],
        ),
        // A DLL name with a space is *invalid*.
        Library::new("odd name.dll", &[Import::Name("Call")]),
    ];
    let images = both_kinds("names", &libraries);
    assert_imphashes_match(&images.iter().map(|(n, b)| (n.as_str(), b.clone())).collect::<Vec<_>>());
}

#[test]
fn an_image_without_a_lookup_table_is_hashed_from_its_address_table() {
    let mut only_iat = Library::new("advapi32.dll", &[Import::Name("RegOpenKeyExW"), Import::Ordinal(7)]);
    only_iat.iat_only = true;
    let images = both_kinds("iat", &[only_iat, Library::new("kernel32.dll", &[Import::Name("Sleep")])]);
    assert_imphashes_match(&images.iter().map(|(n, b)| (n.as_str(), b.clone())).collect::<Vec<_>>());
}

#[test]
fn a_descriptor_with_an_unreadable_name_is_skipped_as_pefile_skips_it() {
    let libraries = [
        Library::new("broken.dll", &[Import::Name("Fine"), Import::Dangling]),
        Library::new("kernel32.dll", &[Import::Name("Sleep")]),
    ];
    let images = both_kinds("dangling", &libraries);
    assert_imphashes_match(&images.iter().map(|(n, b)| (n.as_str(), b.clone())).collect::<Vec<_>>());
    let only_kernel32 = ringfence_companion::enrich::pe::imphash_of_imports([(
        &b"kernel32.dll"[..],
        vec![Ok(&b"Sleep"[..])],
    )]);
    assert_eq!(inspect(images[1].1.as_slice()).unwrap().imphash, Some(only_kernel32));
}

#[test]
fn an_image_without_imports_has_no_imphash() {
    let image = PeBuilder::new(true).build();
    assert_imphashes_match(&[("none.dll", image.clone())]);
    assert_eq!(inspect(image.as_slice()).unwrap().imphash, None);
}

fn version_of(block: &[u8]) -> Result<Option<VersionInfo>, VersionError> {
    inspect(PeBuilder::new(false).version_resource(block).build().as_slice()).unwrap().version
}

#[test]
fn the_string_table_the_translation_names_is_read_and_agrees_with_pefile() {
    let english = vec![string("FileDescription", "English", false), string("CompanyName", "Vendor", false)];
    let german =
        vec![string("FileDescription", "Deutsch", false), string("OriginalFilename", "prog.exe", true)];
    let block =
        version_block(&[("040904b0", english), ("040704b0", german)], Some((0x0407, 0x04b0)), [1, 2, 3, 4]);
    let info = version_of(&block).unwrap().unwrap();
    assert_eq!(
        (
            info.string_table.as_deref(),
            info.description.as_deref(),
            info.original_file_name.as_deref(),
            info.company
        ),
        (Some("040704b0"), Some("Deutsch"), Some("prog.exe"), None)
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two-tables.dll");
    std::fs::write(&path, PeBuilder::new(false).version_resource(&block).build()).unwrap();
    let oracle = &pefile(&[path])[0];
    assert_eq!(oracle["translation"], "040704b0");
    assert_eq!(oracle["tables"]["040704b0"]["FileDescription"], "Deutsch");
    assert_eq!(oracle["tables"]["040704b0"]["OriginalFilename"], "prog.exe");
}

#[test]
fn without_a_translation_the_first_string_table_is_read() {
    let first = vec![string("ProductName", "First", false)];
    let second = vec![string("ProductName", "Second", false)];
    let block = version_block(&[("041104b0", first), ("040904b0", second)], None, [0, 0, 0, 0]);
    assert_eq!(version_of(&block).unwrap().unwrap().product.as_deref(), Some("First"));
}

#[test]
fn a_damaged_version_resource_is_an_error_naming_the_offset() {
    let block = version_block(&[("040904b0", vec![string("FileVersion", "1.0", false)])], None, [1, 0, 0, 0]);
    let mut long = block.clone();
    long[0..2].copy_from_slice(&(u16::try_from(block.len()).unwrap() + 8).to_le_bytes());
    assert_eq!(
        version_of(&long),
        Err(VersionError::Malformed {
            offset: 0,
            reason: ringfence_companion::enrich::pe::MalformedReason::NodeLength
        })
    );
    let mut wrong_key = block.clone();
    wrong_key[6..8].copy_from_slice(&u16::from(b'X').to_le_bytes());
    assert_eq!(
        version_of(&wrong_key),
        Err(VersionError::Malformed {
            offset: 0,
            reason: ringfence_companion::enrich::pe::MalformedReason::NotVersionInfo
        })
    );
}

#[test]
fn files_that_are_not_pe_images_are_refused_with_the_reason() {
    assert_eq!(inspect(&b"#!/bin/sh\necho hi\n"[..]), Err(PeError::NoDosHeader));
    assert_eq!(inspect(&[][..]), Err(PeError::NoDosHeader));
    let mut no_pe = PeBuilder::new(true).build();
    no_pe[0x40..0x44].copy_from_slice(b"NE\0\0");
    assert_eq!(inspect(no_pe.as_slice()), Err(PeError::BadNtHeaders { offset: 0x40 }));
    let mut bad_magic = PeBuilder::new(true).build();
    bad_magic[0x58..0x5a].copy_from_slice(&0x107u16.to_le_bytes());
    assert_eq!(inspect(bad_magic.as_slice()), Err(PeError::BadOptionalHeader { offset: 0x40 }));
}

#[test]
fn every_truncation_of_a_real_dll_is_answered_without_a_panic() {
    let whole = std::fs::read("/usr/x86_64-w64-mingw32/lib/zlib1.dll").unwrap();
    let complete = inspect(whole.as_slice()).unwrap();
    let mut outcomes = [0usize; 3];
    for len in (0..whole.len()).step_by(97) {
        match inspect(&whole[..len]) {
            Err(_) => outcomes[0] += 1,
            Ok(identity) if identity == complete => outcomes[2] += 1,
            Ok(_) => outcomes[1] += 1,
        }
    }
    // Short prefixes lose the headers; long ones keep both imports and version.
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
    assert_eq!(inspect(&whole[..0x3f]), Err(PeError::NoDosHeader));
}

#[test]
fn thunk_tables_pefile_judges_bogus_count_as_empty_as_pefile_counts_them() {
    let ordinal_flag = |plus: bool| if plus { 1u64 << 63 } else { 1 << 31 };
    let mut images = Vec::new();
    for plus in [false, true] {
        let kind = if plus { "pe32plus" } else { "pe32" };
        // An "ordinal" above 65535: the whole table is ignored.
        let huge_ordinal = [
            Library::new("bogus.dll", &[Import::Name("A"), Import::Raw(ordinal_flag(plus) | 0x1_0000)]),
            Library::new("kernel32.dll", &[Import::Name("Sleep")]),
        ];
        images.push((format!("huge-ordinal-{kind}"), PeBuilder::new(plus).imports(&huge_ordinal).build()));
        // The same hint/name RVA fifteen times and more: the table is ignored.
        let name_rva = 0x1000 + 48; // inside the descriptors: readable, and the same each time
        let repeated: Vec<Import<'_>> = (0..20).map(|_| Import::Raw(name_rva)).collect();
        let repeats = [
            Library::new("repeat.dll", &repeated),
            Library::new("user32.dll", &[Import::Name("MessageBoxW")]),
        ];
        images.push((format!("repeated-{kind}"), PeBuilder::new(plus).imports(&repeats).build()));
    }
    assert_imphashes_match(&images.iter().map(|(n, b)| (n.as_str(), b.clone())).collect::<Vec<_>>());
    let only = |dll: &'static [u8], name: &'static [u8]| {
        Some(ringfence_companion::enrich::pe::imphash_of_imports([(dll, vec![Ok(name)])]))
    };
    for (name, image) in &images {
        let expected = if name.starts_with("huge") {
            only(b"kernel32.dll", b"Sleep")
        } else {
            only(b"user32.dll", b"MessageBoxW")
        };
        assert_eq!(inspect(image.as_slice()).unwrap().imphash, expected, "{name}");
    }
}
