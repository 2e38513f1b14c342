//! A stand-in for the WDK's directory tree, made of Debian's mingw-w64 headers, and the
//! clang that parses it.
//!
//! wdk-build reads `WDKContentRoot`, takes the SDK version from the newest `Lib/10.*`
//! directory and wants `Include/<version>/{km,km/crt,shared}` and `Lib/<version>/km/x64` to
//! exist. Here `km` holds mingw-w64's DDK headers (`include/ddk`), `shared` its base headers,
//! `km/crt` nothing (mingw keeps its C runtime headers with the base ones), and the library
//! directory stays empty: nothing is linked.

use std::path::{Path, PathBuf};

use crate::step::Failure;

/// Where Debian's mingw-w64-x86-64-dev installs the headers.
pub(crate) const MINGW_INCLUDE: &str = "/usr/share/mingw-w64/include";
/// A version in the WDK's form; any `10.*` name works, this one is the WDK for Windows 11 24H2.
const KIT_VERSION: &str = "10.0.26100.0";
/// The declarations mingw-w64 lacks, each citing the WDK header that has it.
pub(crate) const DECLARATIONS: &str = include_str!("declarations.h");

/// The laid-out tree: its root, and the declarations header to force-include.
pub(crate) struct Kit {
    pub(crate) root: PathBuf,
    pub(crate) declarations: PathBuf,
}

/// Builds the tree under `work/kit`, keeping what an earlier run laid out the same way (so
/// that wdk-sys' build script, which watches these headers, does not rerun for nothing).
pub(crate) fn lay_out(work: &Path) -> Result<Kit, Failure> {
    let fail = |detail: String| Failure::new("lay out mingw-w64's headers as a WDK", detail);
    let root = work.join("kit");
    let include = root.join("Include").join(KIT_VERSION);
    let mingw = Path::new(MINGW_INCLUDE);
    for dir in [
        include.join("km").join("crt"),
        include.join("shared"),
        root.join("Lib").join(KIT_VERSION).join("km").join("x64"),
    ] {
        std::fs::create_dir_all(&dir).map_err(|e| fail(format!("{}: {e}", dir.display())))?;
    }
    link_entries(&mingw.join("ddk"), &include.join("km")).map_err(fail)?;
    link_entries(mingw, &include.join("shared")).map_err(fail)?;
    let declarations = root.join("ringfence-wdk-declarations.h");
    super::wdk_build_patch::write_if_changed(&declarations, DECLARATIONS.as_bytes()).map_err(fail)?;
    Ok(Kit { root, declarations })
}

/// Symlinks every entry of `from` into `to` (an existing link to the same entry is kept).
fn link_entries(from: &Path, to: &Path) -> Result<(), String> {
    let entries = std::fs::read_dir(from)
        .map_err(|e| format!("{}: {e} (is mingw-w64-x86-64-dev installed?)", from.display()))?;
    for entry in entries.flatten() {
        let target = to.join(entry.file_name());
        if std::fs::read_link(&target).is_ok_and(|linked| linked == entry.path()) {
            continue;
        }
        if target.symlink_metadata().is_ok() {
            std::fs::remove_file(&target).map_err(|e| format!("{}: {e}", target.display()))?;
        }
        std::os::unix::fs::symlink(entry.path(), &target)
            .map_err(|e| format!("{}: {e}", target.display()))?;
    }
    Ok(())
}

/// The libclang bindgen loads and the resource directory of the same LLVM (its builtin
/// headers: stddef.h, intrinsics), which bindgen does not find by itself when libclang is
/// loaded from a distribution's library directory.
pub(crate) struct Clang {
    pub(crate) libclang_dir: PathBuf,
    pub(crate) resource_dir: PathBuf,
}

/// The newest `/usr/lib/llvm-N` that has both a libclang and its builtin headers.
pub(crate) fn clang() -> Option<Clang> {
    let mut found: Vec<(u32, Clang)> = std::fs::read_dir("/usr/lib")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let major: u32 = name.strip_prefix("llvm-")?.parse().ok()?;
            let lib = entry.path().join("lib");
            let has_libclang = std::fs::read_dir(&lib).ok()?.flatten().any(|f| {
                f.file_name().to_string_lossy().starts_with("libclang")
                    && f.file_name().to_string_lossy().contains(".so")
            });
            let resource_dir = std::fs::read_dir(lib.join("clang"))
                .ok()?
                .flatten()
                .map(|v| v.path())
                .find(|v| v.join("include").join("stddef.h").is_file())?;
            has_libclang.then_some((major, Clang { libclang_dir: lib, resource_dir }))
        })
        .collect();
    found.sort_by_key(|(major, _)| *major);
    found.pop().map(|(_, clang)| clang)
}

/// Clang arguments appended to every wdk-sys bindgen run (after wdk-build's own).
///
/// wdk-build parses in MSVC-compatibility mode for the WDK's headers; mingw-w64's are GNU
/// C, so they are parsed as the GNU Windows target does (`-fno-ms-compatibility` wins over
/// wdk-build's earlier `-fms-compatibility`). Clang's AMX intrinsics header declares a type
/// whose packed-and-aligned layout bindgen turns into Rust that does not compile; nothing in
/// the WDK uses it, so its include guard is defined up front. The declarations' digest
/// makes an edit of that file rerun wdk-sys' build script (bindgen tracks this variable).
pub(crate) fn bindgen_args(kit: &Kit, clang: &Clang) -> String {
    format!(
        "--target=x86_64-w64-windows-gnu -fno-ms-compatibility -resource-dir {} -D__AMXINTRIN_H \
         -DRINGFENCE_WDK_DECLARATIONS={:016x} -include {}",
        clang.resource_dir.display(),
        digest(DECLARATIONS),
        kit.declarations.display()
    )
}

/// FNV-1a, 64 bits: a change detector, not a security measure.
fn digest(text: &str) -> u64 {
    text.bytes()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3))
}
