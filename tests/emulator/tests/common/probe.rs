//! Builds fixtures/probe.rs, a minimal driver that breaks a kernel rule on
//! request, so the model's detections are themselves tested.

use std::path::PathBuf;
use std::process::Command;

/// The probe driver's image, built with `--cfg` flags (cached per flag set).
pub fn probe_sys(cfgs: &[&str]) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let out = dir.join(format!("probe-{}.sys", cfgs.join("-")));
    // Tests run in parallel: each builds to its own file, then renames it into place.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!("probe-{}-{}-{n}.sys", cfgs.join("-"), std::process::id()));
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/probe.rs");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let mut cmd = Command::new(rustc);
    cmd.args(["--edition", "2024", "--target", "x86_64-pc-windows-msvc", "--crate-type", "bin"])
        .args([
            "-C",
            "panic=abort",
            "-C",
            "opt-level=1",
            "-C",
            "linker=rust-lld",
            "-C",
            "linker-flavor=lld-link",
        ])
        .args(["-C", "link-arg=/subsystem:native", "-C", "link-arg=/entry:DriverEntry"])
        .args(["-C", "link-arg=/nodefaultlib", "-C", "link-arg=/driver", "-C", "link-arg=/integritycheck"])
        .arg("-o")
        .arg(&tmp)
        .arg(&source);
    for cfg in cfgs {
        cmd.args(["--cfg", cfg]);
    }
    let status = cmd.status().expect("rustc runs (rustup target add x86_64-pc-windows-msvc)");
    assert!(status.success(), "the probe driver builds");
    std::fs::rename(&tmp, &out).expect("the probe image is moved into place");
    std::fs::read(&out).expect("the probe image was written")
}
