//! A copy of wdk-build from the cargo registry, made to build on a Linux host.
//!
//! wdk-build refuses non-Windows hosts at compile time, depends on the `windows` crate for
//! its registry lookups, and calls Windows-only symlink functions. Each patch below replaces
//! one anchor, which must occur exactly as often as stated: a wdk-build release that moves
//! an anchor fails the check with the file, the anchor and the count found, so the patch
//! set is re-read rather than silently skipped. Nothing here changes what wdk-build
//! computes on Windows; the patches only make the same code compile and run elsewhere.

use std::path::{Path, PathBuf};

use crate::step::Failure;

/// The wdk-build release these anchors were written against; Cargo.toml pins it (`=0.6.0`).
pub(crate) const WDK_BUILD_VERSION: &str = "0.6.0";

struct Patch {
    file: &'static str,
    anchor: &'static str,
    replacement: &'static str,
    occurrences: usize,
}

const PATCHES: &[Patch] = &[
    // The `windows` crate (registry lookups of the WDK's install root) is needed on Windows
    // only; the check names the WDK root with WDKContentRoot, which wdk-build reads first.
    Patch {
        file: "Cargo.toml",
        anchor: "[dependencies.windows]",
        replacement: "[target.'cfg(windows)'.dependencies.windows]",
        occurrences: 1,
    },
    Patch {
        file: "src/utils.rs",
        anchor: "use windows::{",
        replacement: "#[cfg(windows)]\nuse windows::{",
        occurrences: 1,
    },
    Patch {
        file: "src/utils.rs",
        anchor: "    ffi::{CStr, OsStr},",
        replacement: "    ffi::OsStr,",
        occurrences: 1,
    },
    Patch {
        file: "src/utils.rs",
        anchor: "\nfn read_registry_key_string_value(",
        replacement: "\n#[cfg(windows)]\nuse std::ffi::CStr;\n\n#[cfg(windows)]\nfn read_registry_key_string_value(",
        occurrences: 1,
    },
    Patch {
        file: "src/utils.rs",
        anchor: "    if let Some(path) = read_registry_key_string_value(",
        replacement: "    #[cfg(windows)]\n    if let Some(path) = read_registry_key_string_value(",
        occurrences: 2,
    },
    // set_var/remove_var: the non-Windows variants are a compile_error!. The Windows bodies
    // (std's own functions) are kept for every host; build scripts never call them.
    Patch {
        file: "src/utils.rs",
        anchor: "#[cfg(target_os = \"windows\")]\npub fn set_var",
        replacement: "pub fn set_var",
        occurrences: 1,
    },
    Patch {
        file: "src/utils.rs",
        anchor: "#[cfg(not(target_os = \"windows\"))]\npub fn set_var",
        replacement: "#[cfg(any())]\npub fn set_var",
        occurrences: 1,
    },
    Patch {
        file: "src/utils.rs",
        anchor: "#[cfg(target_os = \"windows\")]\npub fn remove_var",
        replacement: "pub fn remove_var",
        occurrences: 1,
    },
    Patch {
        file: "src/utils.rs",
        anchor: "#[cfg(not(target_os = \"windows\"))]\npub fn remove_var",
        replacement: "#[cfg(any())]\npub fn remove_var",
        occurrences: 1,
    },
    // The makefile symlink (cargo-make's load script): the host's own symlink function.
    Patch {
        file: "src/cargo_make.rs",
        anchor: "std::os::windows::fs::symlink_file(",
        replacement: "symlink_file(",
        occurrences: 2,
    },
    Patch {
        file: "src/cargo_make.rs",
        anchor: "use anyhow::Context;",
        replacement: "#[cfg(unix)]\nuse std::os::unix::fs::symlink as symlink_file;\n#[cfg(windows)]\nuse std::os::windows::fs::symlink_file;\n\nuse anyhow::Context;",
        occurrences: 1,
    },
];

/// Copies `registry` (the unpacked wdk-build crate) to `destination` and applies every patch.
/// Files already there with the same content are left alone, so that an unchanged copy does
/// not make cargo rebuild wdk-build and rerun every build script (and bindgen) behind it.
pub(crate) fn patched_copy(registry: &Path, destination: &Path) -> Result<PathBuf, Failure> {
    let fail = |detail: String| Failure::new("patch wdk-build", detail);
    let mut files = Vec::new();
    list_files(registry, Path::new(""), &mut files)
        .map_err(|e| fail(format!("{}: {e}", registry.display())))?;
    for relative in files {
        let source = registry.join(&relative);
        let bytes = std::fs::read(&source).map_err(|e| fail(format!("{}: {e}", source.display())))?;
        let patches: Vec<&Patch> = PATCHES.iter().filter(|p| Path::new(p.file) == relative).collect();
        let bytes = if patches.is_empty() {
            bytes
        } else {
            // The crate is published with CRLF line ends; the anchors are written with LF.
            let mut text = String::from_utf8(bytes)
                .map_err(|_| fail(format!("{} is not UTF-8", source.display())))?
                .replace("\r\n", "\n");
            for patch in patches {
                let found = text.matches(patch.anchor).count();
                if found != patch.occurrences {
                    return Err(fail(format!(
                        "wdk-build {WDK_BUILD_VERSION}'s {} holds {found} of the anchor {:?}, not {}: the \
                         patches in xtask/src/wdk_check/wdk_build_patch.rs no longer fit this wdk-build",
                        patch.file, patch.anchor, patch.occurrences
                    )));
                }
                text = text.replace(patch.anchor, patch.replacement);
            }
            text.into_bytes()
        };
        write_if_changed(&destination.join(&relative), &bytes).map_err(fail)?;
    }
    Ok(destination.to_path_buf())
}

/// Writes `bytes` to `path` (creating its directory) unless it already holds exactly them.
pub(crate) fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), String> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Every file below `root`, as paths relative to it.
fn list_files(root: &Path, relative: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root.join(relative))? {
        let entry = entry?;
        let path = relative.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            list_files(root, &path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// The unpacked registry source of the pinned wdk-build (`cargo fetch` puts it there).
pub(crate) fn registry_source() -> Option<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
    let sources = std::fs::read_dir(home.join("registry").join("src")).ok()?;
    sources
        .flatten()
        .map(|index| index.path().join(format!("wdk-build-{WDK_BUILD_VERSION}")))
        .find(|crate_dir| crate_dir.join("Cargo.toml").is_file())
}
