//! Linker set-up for ringfence.sys.
//!
//! windows-sys backend (default): rust-lld in lld-link flavour links the cdylib as a
//! kernel driver, with the same switches the WDK's link step uses. Host builds are
//! left untouched. `wdk` feature: windows-drivers-rs' wdk-build does it (Windows only).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "wdk")]
    {
        // Built on Windows with the WDK only; see Makefile.toml.
        if let Err(error) = wdk_build::configure_wdk_binary_build() {
            println!("cargo:warning=wdk-build: {error:?}");
            std::process::exit(1);
        }
        return;
    }
    #[allow(unreachable_code)]
    windows_sys_backend();
}

fn windows_sys_backend() {
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let env = std::env::var("CARGO_CFG_TARGET_ENV").unwrap_or_default();
    if os != "windows" || env != "msvc" {
        return;
    }
    for arg in [
        // A kernel-mode image: native subsystem, no C runtime, DriverEntry as entry point.
        "/DRIVER",
        "/SUBSYSTEM:NATIVE,10.00",
        "/ENTRY:DriverEntry",
        "/NODEFAULTLIB",
        // FORCE_INTEGRITY: PsSetCreateProcessNotifyRoutineEx refuses images without it.
        "/INTEGRITYCHECK",
        "/NXCOMPAT",
        "/DYNAMICBASE",
        "/OPT:REF,ICF",
        // Writes the PE checksum, which the kernel loader verifies for drivers.
        "/RELEASE",
        // Read-only data beside code would make .text writable after /MERGE; keep them apart
        // and never let a section be both writable and executable.
        "/SECTION:.text,ER",
        "/SECTION:.rdata,R",
        "/SECTION:.data,RW",
    ] {
        println!("cargo:rustc-cdylib-link-arg={arg}");
    }
}
