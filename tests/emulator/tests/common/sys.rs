//! The real ringfence.sys: `RINGFENCE_SYS` names a built image, otherwise it
//! is built once per test binary (release, x86_64-pc-windows-msvc).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

pub fn ringfence_sys() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let path = ringfence_sys_path();
        std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    })
}

/// Where the image is: `RINGFENCE_SYS`, or the one built for these tests.
pub fn ringfence_sys_path() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| match std::env::var_os("RINGFENCE_SYS") {
        Some(p) => PathBuf::from(p),
        None => build(),
    })
}

fn build() -> PathBuf {
    let target_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("driver");
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let status = Command::new(cargo)
        .current_dir(&workspace)
        .args(["build", "--quiet", "-p", "ringfence", "--target", "x86_64-pc-windows-msvc", "--release"])
        .env("CARGO_TARGET_DIR", &target_dir)
        // The cross build's linker (see xtask's CROSS_LINKER): rust-lld, lld-link flavour.
        .env("CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_LINKER", "rust-lld")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "ringfence.sys builds");
    target_dir.join("x86_64-pc-windows-msvc/release/ringfence.dll")
}
