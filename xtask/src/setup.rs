//! Installs what a fresh machine lacks: rustup targets and components, the
//! Debian packages Unicorn's build and the wdk-check need, cargo tools.

use std::path::Path;

use crate::step::{Failure, Step};

/// `x86_64-pc-windows-msvc`'s standard library, for the driver and the
/// companion's Windows check.
pub(crate) fn windows_target() -> Result<(), Failure> {
    let installed = std::process::Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == crate::WINDOWS_TARGET))
        .unwrap_or(false);
    if installed {
        return Ok(());
    }
    Step::new("install the x86_64-pc-windows-msvc target", "rustup")
        .args(["target", "add", crate::WINDOWS_TARGET])
        .hint("rustup must reach its distribution server")
        .run()
}

/// Components of the default toolchain (rustfmt, clippy); a no-op when present.
pub(crate) fn stable_components(components: &[&str]) -> Result<(), Failure> {
    Step::new("install toolchain components", "rustup").args(["component", "add"]).args(components).run()
}

/// The nightly toolchain with `components` (Miri, cargo-fuzz's sanitizers).
/// An installed nightly that has them is kept as it is; otherwise the newest
/// nightly that has them all is installed (`--allow-downgrade`).
pub(crate) fn nightly(components: &[&str]) -> Result<(), Failure> {
    let installed = std::process::Command::new("rustup")
        .args(["+nightly", "component", "list", "--installed"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let has = |c: &&str| installed.lines().any(|line| line.starts_with(&format!("{c}-")) || line == *c);
    if components.iter().all(has) {
        return Ok(());
    }
    Step::new("install the nightly toolchain and its components", "rustup")
        .args(["toolchain", "install", "nightly", "--profile", "minimal", "--allow-downgrade", "--component"])
        .arg(components.join(","))
        .hint("rustup must reach its distribution server")
        .run()
}

/// cargo-fuzz, from crates.io when missing.
pub(crate) fn cargo_fuzz() -> Result<(), Failure> {
    if Step::new("probe cargo-fuzz", "cargo").args(["fuzz", "--version"]).probe() {
        return Ok(());
    }
    Step::new("install cargo-fuzz", "cargo").args(["install", "cargo-fuzz", "--locked"]).run()
}

/// cmake and libclang for the unicorn-engine crate's build (the emulator).
pub(crate) fn emulator_packages() -> Result<(), Failure> {
    let cmake = Step::new("probe cmake", "cmake").arg("--version").probe();
    let libclang = has_libclang();
    if cmake && libclang {
        return Ok(());
    }
    const INSTALL: &str = "apt-get update && apt-get install -y cmake libclang-dev";
    if !is_root() {
        return Err(Failure::new(
            "emulator build prerequisites",
            format!(
                "cmake and libclang-dev are needed to build Unicorn; run as root:\n  sudo sh -c '{INSTALL}'"
            ),
        ));
    }
    Step::new("install cmake and libclang-dev (Debian) for Unicorn", "sh")
        .args(["-c", INSTALL])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .hint("apt-get must reach Debian's package servers")
        .run()
}

/// mingw-w64's headers (with its DDK) and libclang with its builtin headers, for
/// `cargo xtask wdk-check` (wdk-sys' bindgen parses the former with the latter).
pub(crate) fn wdk_check_packages() -> Result<(), Failure> {
    let mingw = Path::new(crate::wdk_check::MINGW_INCLUDE).join("ddk").join("ntifs.h").is_file();
    if mingw && crate::wdk_check::clang().is_some() {
        return Ok(());
    }
    const INSTALL: &str = "apt-get update && apt-get -o DPkg::Lock::Timeout=600 install -y \
                           --no-install-recommends mingw-w64-x86-64-dev libclang-dev";
    if !is_root() {
        return Err(Failure::new(
            "wdk-check prerequisites",
            format!(
                "mingw-w64's DDK headers and libclang are needed to generate wdk-sys' bindings; run as \
                 root:\n  sudo sh -c '{INSTALL}'"
            ),
        ));
    }
    Step::new("install mingw-w64-x86-64-dev and libclang-dev (Debian) for wdk-check", "sh")
        .args(["-c", INSTALL])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .hint("apt-get must reach Debian's package servers")
        .run()
}

fn has_libclang() -> bool {
    let Ok(entries) = std::fs::read_dir("/usr/lib") else { return false };
    entries.flatten().any(|e| {
        let name = e.file_name();
        name.to_string_lossy().starts_with("llvm-") && e.path().join("lib").join("libclang.so").exists()
    }) || Path::new("/usr/lib/x86_64-linux-gnu/libclang.so").exists()
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The PE files the companion's enrichment tests read (Debian's mingw-w64
/// builds of zlib, libgcrypt and libgpg-error: PE32 and PE32+, DLLs and EXEs,
/// with and without version resources) and the pefile oracle (PyPI) they are
/// checked against.
pub(crate) fn pe_fixtures() -> Result<(), Failure> {
    const FILES: [&str; 4] = [
        "/usr/x86_64-w64-mingw32/lib/zlib1.dll",
        "/usr/i686-w64-mingw32/lib/zlib1.dll",
        "/usr/x86_64-w64-mingw32/bin/libgcrypt-20.dll",
        "/usr/i686-w64-mingw32/bin/libgpg-error-0.dll",
    ];
    if !FILES.iter().all(|f| Path::new(f).exists()) {
        const INSTALL: &str = "apt-get update && apt-get install -y libz-mingw-w64 libgcrypt-mingw-w64-dev libgpg-error-mingw-w64-dev";
        if !is_root() {
            return Err(Failure::new(
                "PE test fixtures",
                format!(
                    "the enrichment tests read Debian's mingw-w64 PE files; run as root:\n  sudo sh -c '{INSTALL}'"
                ),
            ));
        }
        Step::new("install Debian's mingw-w64 PE files (enrichment test fixtures)", "sh")
            .args(["-c", INSTALL])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .hint("apt-get must reach Debian's package servers")
            .run()?;
    }
    let probe = format!("import pefile, sys; sys.exit(pefile.__version__ != '{PEFILE_VERSION}')");
    if Step::new("probe pefile", "python3").args(["-c", &probe]).probe() {
        return Ok(());
    }
    Step::new("install pefile (the IMPHASH and version-resource oracle)", "python3")
        .args(["-m", "pip", "install", "--quiet", &format!("pefile=={PEFILE_VERSION}")])
        .hint("python3 with pip must be installed and reach PyPI")
        .run()
}

/// The pefile release the tests compare with.
const PEFILE_VERSION: &str = "2024.8.26";

/// C tools for build scripts that assemble for `x86_64-pc-windows-msvc` on Linux (psm, which
/// the Sigma parser's pest pulls in for its stack guard): mingw-w64's gcc assembles psm's GNU
/// assembly into COFF, and a wrapper turns cc-rs's `lib.exe`-style archiver call
/// (`-out:LIB -nologo OBJ…`) into mingw-w64's `ar`. Returns the environment to set.
pub(crate) fn msvc_c_tools() -> Result<Vec<(&'static str, std::path::PathBuf)>, Failure> {
    const GCC: &str = "x86_64-w64-mingw32-gcc";
    const AR: &str = "x86_64-w64-mingw32-ar";
    let found = |tool: &str| Step::new("probe", tool).arg("--version").probe();
    if !(found(GCC) && found(AR)) {
        const INSTALL: &str = "apt-get update && apt-get -o DPkg::Lock::Timeout=600 install -y \
                               --no-install-recommends gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64";
        if !is_root() {
            return Err(Failure::new(
                "mingw-w64 gcc",
                format!(
                    "the Windows-target check assembles psm with mingw-w64's gcc; run as root:\n  sudo sh -c '{INSTALL}'"
                ),
            ));
        }
        Step::new("install mingw-w64's gcc and binutils (Debian) for the Windows-target check", "sh")
            .args(["-c", INSTALL])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .hint("apt-get must reach Debian's package servers")
            .run()?;
    }
    let wrapper = crate::target_dir().join("xtask").join("msvc-lib");
    let script = "#!/bin/sh\n# cc-rs archives for the msvc target as lib.exe would be called: -out:LIB -nologo OBJ...\n\
                  out=\"\"\nfor a in \"$@\"; do case \"$a\" in -out:*) out=\"${a#-out:}\";; esac; done\n\
                  [ -n \"$out\" ] || { echo \"msvc-lib: no -out:\" >&2; exit 2; }\n\
                  for a in \"$@\"; do shift; case \"$a\" in -*) ;; *) set -- \"$@\" \"$a\";; esac; done\n\
                  exec x86_64-w64-mingw32-ar crs \"$out\" \"$@\"\n";
    let write = || -> std::io::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(wrapper.parent().unwrap_or(Path::new(".")))?;
        std::fs::write(&wrapper, script)?;
        std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755))
    };
    write().map_err(|e| Failure::new("msvc-lib wrapper", format!("{}: {e}", wrapper.display())))?;
    Ok(vec![("CC_x86_64_pc_windows_msvc", GCC.into()), ("AR_x86_64_pc_windows_msvc", wrapper)])
}
