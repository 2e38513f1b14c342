//! Checks on the cross-built ringfence.sys: what the Windows loader and a reviewer demand
//! of a kernel driver image.
//!
//! The image is `$RINGFENCE_SYS` when set, otherwise this test cross-builds it
//! (`cargo build -p ringfence --target x86_64-pc-windows-msvc --release`, linked by rust-lld) into
//! `<target>/tmp/pe-image` and checks that. Needs `rustup target add x86_64-pc-windows-msvc`.

use object::LittleEndian as LE;
use object::pe;
use object::read::pe::{ImageNtHeaders, ImageOptionalHeader, Import, PeFile64};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

const TARGET: &str = "x86_64-pc-windows-msvc";

fn image() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let path = match std::env::var_os("RINGFENCE_SYS") {
            Some(path) => PathBuf::from(path),
            None => build(),
        };
        std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    })
}

fn build() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // Its own target dir: the cargo running this test holds the lock on the usual one.
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pe-image");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--package", "ringfence", "--release", "--target", TARGET, "--target-dir"])
        .arg(&target_dir)
        .current_dir(&root)
        .env_remove("RUSTFLAGS")
        // The cross build's linker (see xtask's CROSS_LINKER): rust-lld, lld-link flavour.
        .env("CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_LINKER", "rust-lld")
        .status()
        .expect("running cargo");
    assert!(status.success(), "cross-building ringfence.sys failed");
    target_dir.join(TARGET).join("release").join("ringfence.dll")
}

fn file() -> PeFile64<'static> {
    PeFile64::parse(image()).expect("a PE32+ image")
}

#[test]
fn the_image_is_amd64() {
    assert_eq!(file().nt_headers().file_header().machine.get(LE), pe::IMAGE_FILE_MACHINE_AMD64);
}

#[test]
fn the_subsystem_is_native() {
    assert_eq!(file().nt_headers().optional_header().subsystem(), pe::IMAGE_SUBSYSTEM_NATIVE);
}

#[test]
fn dll_characteristics_require_relocation_nx_and_signature_checks() {
    let found = file().nt_headers().optional_header().dll_characteristics();
    for (flag, name) in [
        (pe::IMAGE_DLLCHARACTERISTICS_DYNAMIC_BASE, "DYNAMIC_BASE"),
        (pe::IMAGE_DLLCHARACTERISTICS_NX_COMPAT, "NX_COMPAT"),
        (pe::IMAGE_DLLCHARACTERISTICS_FORCE_INTEGRITY, "FORCE_INTEGRITY"),
    ] {
        assert_eq!(found & flag, flag, "{name} missing from {found:#06x}");
    }
}

#[test]
fn no_section_is_both_writable_and_executable() {
    let file = file();
    for section in file.section_table().iter() {
        let flags = section.characteristics.get(LE);
        let name = String::from_utf8_lossy(section.raw_name());
        let wx = pe::IMAGE_SCN_MEM_WRITE | pe::IMAGE_SCN_MEM_EXECUTE;
        assert_ne!(flags & wx, wx, "section {name} is writable and executable ({flags:#010x})");
    }
}

#[test]
fn every_section_is_readable_and_has_characteristics() {
    // An image whose section has no characteristics at all (rust-lld once left `.retplne` so)
    // fails to start on Windows with error 998, ERROR_NOACCESS.
    let file = file();
    for section in file.section_table().iter() {
        let flags = section.characteristics.get(LE);
        let name = String::from_utf8_lossy(section.raw_name());
        assert_ne!(flags, 0, "section {name} has no characteristics");
        assert_ne!(flags & pe::IMAGE_SCN_MEM_READ, 0, "section {name} is not readable ({flags:#010x})");
    }
}

#[test]
fn no_section_is_pageable_or_discarded_after_init() {
    // PAGE* sections are paged out and INIT is discarded after DriverEntry; ringfence's
    // callbacks and dispatch routines run from memory that must stay resident, so the image
    // has neither. Only the relocations may be discarded once applied.
    let file = file();
    for section in file.section_table().iter() {
        let name = String::from_utf8_lossy(section.raw_name()).into_owned();
        assert!(!name.starts_with("PAGE") && name != "INIT", "unexpected section {name}");
        let discardable = section.characteristics.get(LE) & pe::IMAGE_SCN_MEM_DISCARDABLE != 0;
        assert!(!discardable || name == ".reloc", "section {name} is discardable");
    }
}

/// winnt.h: the debug directory entry that carries the extended DLL characteristics.
const IMAGE_DEBUG_TYPE_EX_DLLCHARACTERISTICS: u32 = 20;
/// winnt.h: IMAGE_DLLCHARACTERISTICS_EX_CET_COMPAT, what the linker's /CETCOMPAT sets.
const IMAGE_DLLCHARACTERISTICS_EX_CET_COMPAT: u32 = 0x01;

/// The extended DLL characteristics, from the debug directory (`None` without that entry).
fn extended_dll_characteristics() -> Option<u32> {
    let file = file();
    let directory = file.data_directory(pe::IMAGE_DIRECTORY_ENTRY_DEBUG)?;
    let bytes = directory.data(image(), &file.section_table()).expect("a readable debug directory");
    let entry_size = core::mem::size_of::<pe::ImageDebugDirectory>();
    assert_eq!(bytes.len() % entry_size, 0, "the debug directory holds whole entries");
    bytes.chunks_exact(entry_size).find_map(|entry| {
        let field = |at: usize| u32::from_le_bytes(entry[at..at + 4].try_into().unwrap());
        // ImageDebugDirectory: Type at 12, SizeOfData at 16, PointerToRawData at 24.
        if field(12) != IMAGE_DEBUG_TYPE_EX_DLLCHARACTERISTICS {
            return None;
        }
        assert_eq!(field(16), 4, "the extended characteristics are one u32");
        let at = field(24) as usize;
        Some(u32::from_le_bytes(image()[at..at + 4].try_into().unwrap()))
    })
}

#[test]
fn the_image_is_cet_shadow_stack_compatible() {
    // Windows 11's kernel-mode hardware-enforced stack protection requires /CETCOMPAT.
    let found = extended_dll_characteristics().expect("an IMAGE_DEBUG_TYPE_EX_DLLCHARACTERISTICS entry");
    assert_eq!(found & IMAGE_DLLCHARACTERISTICS_EX_CET_COMPAT, IMAGE_DLLCHARACTERISTICS_EX_CET_COMPAT);
}

#[test]
fn the_entry_point_lies_in_an_executable_section() {
    let file = file();
    let entry = file.nt_headers().optional_header().address_of_entry_point();
    let section = file
        .section_table()
        .iter()
        .find(|s| {
            let start = s.virtual_address.get(LE);
            (start..start + s.virtual_size.get(LE)).contains(&entry)
        })
        .unwrap_or_else(|| panic!("entry point {entry:#x} is in no section"));
    assert_ne!(section.characteristics.get(LE) & pe::IMAGE_SCN_MEM_EXECUTE, 0);
}

#[test]
fn there_is_no_tls_directory() {
    let tls = file().data_directory(pe::IMAGE_DIRECTORY_ENTRY_TLS);
    assert!(tls.is_none_or(|d| d.virtual_address.get(LE) == 0 && d.size.get(LE) == 0));
}

/// `(dll, name)` of every import, DLL names lower-cased.
fn imports() -> BTreeSet<(String, String)> {
    let file = file();
    let mut found = BTreeSet::new();
    let Some(table) = file.import_table().expect("a readable import table") else { return found };
    let mut descriptors = table.descriptors().expect("import descriptors");
    while let Some(descriptor) = descriptors.next().expect("an import descriptor") {
        let dll = String::from_utf8_lossy(table.name(descriptor.name.get(LE)).expect("a DLL name"))
            .to_ascii_lowercase();
        let first = match descriptor.original_first_thunk.get(LE) {
            0 => descriptor.first_thunk.get(LE),
            rva => rva,
        };
        let mut thunks = table.thunks(first).expect("import thunks");
        while let Some(thunk) = thunks.next::<pe::ImageNtHeaders64>().expect("an import thunk") {
            let name = match table.import::<pe::ImageNtHeaders64>(thunk).expect("an import") {
                Import::Name(_, name) => String::from_utf8_lossy(name).into_owned(),
                Import::Ordinal(ordinal) => format!("#{ordinal}"),
            };
            found.insert((dll.clone(), name));
        }
    }
    found
}

fn allowed() -> BTreeSet<(String, String)> {
    include_str!("pe_imports.allow")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (dll, name) = line.split_once(' ').expect("\"DLL name\" per line");
            (dll.to_ascii_lowercase(), name.trim().to_owned())
        })
        .collect()
}

#[test]
fn imports_come_only_from_the_kernel_and_the_hal() {
    for (dll, name) in imports() {
        assert!(dll == "ntoskrnl.exe" || dll == "hal.dll", "{name} is imported from {dll}");
    }
}

#[test]
fn every_import_is_on_the_committed_allow_list() {
    let allowed = allowed();
    let extra: Vec<_> = imports().difference(&allowed).cloned().collect();
    assert!(extra.is_empty(), "imports missing from tests/pe_imports.allow: {extra:?}");
}

#[test]
fn the_image_imports_what_a_sensor_needs() {
    let imports = imports();
    // The registrations that also report subsystem processes and conflicting-architecture
    // images (Ex2 and Ex), not the older ones that miss them.
    for name in ["PsSetCreateProcessNotifyRoutineEx2", "PsSetLoadImageNotifyRoutineEx", "IoCreateDevice"] {
        assert!(imports.contains(&("ntoskrnl.exe".into(), name.into())), "{name} is not imported");
    }
    for name in ["PsSetCreateProcessNotifyRoutineEx", "PsSetLoadImageNotifyRoutine"] {
        assert!(!imports.contains(&("ntoskrnl.exe".into(), name.into())), "{name} is still imported");
    }
}

/// The PE checksum (imagehlp's CheckSumMappedFile): 16-bit one's-complement-style sum of
/// the file with the checksum field taken as 0, plus the file length.
fn pe_checksum(data: &[u8], checksum_offset: usize) -> u32 {
    let mut sum: u64 = 0;
    for (i, chunk) in data.chunks(2).enumerate() {
        if i * 2 == checksum_offset || i * 2 == checksum_offset + 2 {
            continue;
        }
        let word = u64::from(chunk[0]) | chunk.get(1).map_or(0, |b| u64::from(*b) << 8);
        sum += word;
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum = (sum & 0xffff) + (sum >> 16);
    u32::try_from(sum).unwrap() + u32::try_from(data.len()).unwrap()
}

#[test]
fn the_checksum_the_kernel_loader_verifies_is_correct() {
    let data = image();
    let file = file();
    let stored = file.nt_headers().optional_header().check_sum();
    // CheckSum sits 64 bytes into the optional header, which follows the 24-byte
    // signature and file header at e_lfanew.
    let e_lfanew = u32::from_le_bytes(data[0x3c..0x40].try_into().unwrap()) as usize;
    let offset = e_lfanew + 24 + 64;
    assert_eq!(u32::from_le_bytes(data[offset..offset + 4].try_into().unwrap()), stored);
    assert_ne!(stored, 0);
    assert_eq!(stored, pe_checksum(data, offset));
}

#[test]
fn the_only_export_is_driver_entry() {
    let file = file();
    let table = file.export_table().expect("a readable export table").expect("an export table");
    let names: Vec<String> = table
        .exports()
        .expect("exports")
        .iter()
        .filter_map(|e| e.name.map(|n| String::from_utf8_lossy(n).into_owned()))
        .collect();
    assert_eq!(names, ["DriverEntry"]);
}
