//! Linker set-up for ringfence.sys.
//!
//! windows-sys backend (default): the cdylib is linked as a kernel driver with the switches
//! the WDK's link step uses; the cross build passes rust-lld (lld-link flavour) as the linker
//! (`cargo xtask driver`), a Windows host may use link.exe. Host builds are left untouched.
//! `wdk` feature: windows-drivers-rs' wdk-build configures the link (WDK on Windows), and
//! ringfence adds what wdk-build does not set (`EXTRA_WDK_LINK_ARGS`).

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "wdk")]
    {
        // `cargo make` on Windows with the WDK (Makefile.toml); on Linux, `cargo xtask
        // wdk-check` points it at mingw-w64's headers laid out as a WDK.
        if let Err(error) = wdk_build::configure_wdk_binary_build() {
            println!("cargo:warning=wdk-build: {error}");
            std::process::exit(1);
        }
        for arg in EXTRA_WDK_LINK_ARGS {
            println!("cargo:rustc-cdylib-link-arg={arg}");
        }
        return;
    }
    #[allow(unreachable_code)]
    windows_sys_backend();
}

/// Added to wdk-build 0.6's WDM link line (/DRIVER, /NODEFAULTLIB, /SUBSYSTEM:NATIVE,
/// /KERNEL, /ENTRY:DriverEntry, /NXCOMPAT, /DYNAMICBASE, /MAP, /OPT:REF,ICF,
/// /INTEGRITYCHECK, /MANIFEST:NO): CET shadow-stack compatibility, which Windows 11's
/// kernel-mode hardware-enforced stack protection requires of every driver it loads.
#[cfg(feature = "wdk")]
const EXTRA_WDK_LINK_ARGS: &[&str] = &["/CETCOMPAT"];

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
        // FORCE_INTEGRITY: PsSetCreateProcessNotifyRoutineEx2 refuses images without it.
        "/INTEGRITYCHECK",
        "/NXCOMPAT",
        "/DYNAMICBASE",
        // CET shadow-stack compatible (an IMAGE_DEBUG_TYPE_EX_DLLCHARACTERISTICS entry):
        // kernel-mode hardware-enforced stack protection on Windows 11 requires it.
        "/CETCOMPAT",
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
