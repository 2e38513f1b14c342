//! `cargo xtask <task>`: every build, test and CI step of ringfence, runnable
//! on a fresh Linux machine with nothing but rustup (it installs the rest).

mod fuzz;
mod setup;
mod step;
mod wdk_check;

use std::path::PathBuf;
use std::process::ExitCode;

use step::{Failure, Step};

const USAGE: &str = "\
usage: cargo xtask <task> [options]

tasks:
  demo            build ringfence.sys, compile the example content and stream a
                  scenario through the emulated driver, rendered by the companion
                  (a table, then the same events in Sysmon's shape)
  demo-service [SCENARIO]
                  the companion's service loop writing rotated files from the
                  emulated driver (into target/ringfence-service-demo/)
  test            the whole suite: host tests, no-panic proofs, cross build and
                  PE checks, the companion's Windows-target check, emulation
  driver          cross-build ringfence.sys (x86_64-pc-windows-msvc) into target/
  proofs          the release-mode no-panic link proof of every parser
  miri            the driver's kernel conversions under Miri (nightly)
  fuzz [--secs N] [TARGET...]
                  run each cargo-fuzz target for N seconds (default 60)
  bench [ARGS]    every Criterion benchmark (ARGS go to Criterion)
  loom            loom models of the driver core's concurrency (tests/concurrency),
                  preemptions bounded by LOOM_MAX_PREEMPTIONS (default 2)
  sigma-coverage [--refusals] DIR...
                  compile the Sigma rules under DIR and count them: kernel stage,
                  companion stage, refused by reason (per logsource)
  sigma-replay SIGMA_DIR [--two-stage]
                  replay a SigmaHQ checkout's regression samples (process_creation,
                  image_load) through the emulated ringfence.sys and the companion
                  with its rules: which samples fire their rule, why others do not;
                  --two-stage: through the rules compiled into one content format 2
                  (driver and companion stage), the rest from the YAML
  wdk-check       type-check and lint the `wdk` backend against bindings wdk-sys
                  generates from mingw-w64's DDK headers (says what that proves)
  ci              test + fmt --check + clippy -D warnings + loom + wdk-check +
                  miri + fuzz 10 s each
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match task.as_str() {
        "demo" => demo(rest),
        "demo-service" => demo_service(rest),
        "test" => test(),
        "driver" => driver().map(|path| println!("{}", path.display())),
        "proofs" => proofs(),
        "miri" => miri(),
        "fuzz" => fuzz::run(rest),
        "bench" => bench(rest),
        "loom" => loom(),
        "sigma-coverage" => sigma_coverage(rest),
        "sigma-replay" => sigma_replay(rest),
        "wdk-check" => wdk_check::run(),
        "ci" => ci(),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprintln!("xtask: unknown task `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("\nxtask: FAILED: {failure}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
pub(crate) fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

/// The cargo target directory, honouring CARGO_TARGET_DIR.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

const WINDOWS_TARGET: &str = "x86_64-pc-windows-msvc";

/// The cross build links with the Rust toolchain's rust-lld (lld-link flavour). It is passed
/// here rather than set in `.cargo/config.toml`, so that `cargo make` on Windows links with
/// the WDK's link.exe as windows-drivers-rs expects.
pub(crate) const CROSS_LINKER: (&str, &str) = ("CARGO_TARGET_X86_64_PC_WINDOWS_MSVC_LINKER", "rust-lld");

/// Cross-builds the driver and copies it to `target/ringfence.sys`.
fn driver() -> Result<PathBuf, Failure> {
    setup::windows_target()?;
    Step::new("cross-build ringfence.sys", "cargo")
        .stdout_to_stderr()
        // `cargo rustc --crate-type cdylib` so that the release profile's LTO applies: the
        // package also builds an rlib for host tests, and cargo skips LTO for that pair.
        .args(["rustc", "--package", "ringfence", "--lib", "--release", "--target", WINDOWS_TARGET])
        .args(["--crate-type", "cdylib"])
        .env(CROSS_LINKER.0, CROSS_LINKER.1)
        .hint("the driver links with rust-lld from the Rust toolchain; no WDK is needed")
        .run()?;
    let built = target_dir().join(WINDOWS_TARGET).join("release").join("ringfence.dll");
    let sys = target_dir().join("ringfence.sys");
    std::fs::copy(&built, &sys)
        .map_err(|e| Failure::new("copy ringfence.sys", format!("{}: {e}", built.display())))?;
    Ok(sys)
}

fn proofs() -> Result<(), Failure> {
    Step::new("no-panic link proof (release, every parser entry point)", "cargo")
        .args(["build", "--package", "ringfence-proofs", "--profile", "proofs", "--features", "no-panic"])
        .hint("a link error naming a function means a panic path is left in it: remove it")
        .run()?;
    // The detector must see a planted panic path, or the proof above proves nothing.
    let canary = Step::new("no-panic canary (a planted panic path must fail to link)", "cargo")
        .args([
            "build",
            "--package",
            "ringfence-proofs",
            "--profile",
            "proofs",
            "--features",
            "no-panic,canary",
        ])
        .probe();
    if canary {
        return Err(Failure::new(
            "no-panic canary",
            "the planted panic path linked: the no-panic proof is vacuous",
        ));
    }
    eprintln!("<== no-panic canary: the planted panic path was refused at link time, as it must be");
    Ok(())
}

fn miri() -> Result<(), Failure> {
    setup::nightly(&["miri", "rust-src"])?;
    Step::new("Miri over driver/kernel conversions", "cargo")
        .args(["+nightly", "miri", "test", "--package", "ringfence", "--lib", "kernel::"])
        .env("MIRIFLAGS", "-Zmiri-strict-provenance")
        .run()
}

/// Preemptions per execution when LOOM_MAX_PREEMPTIONS is unset: tokio's CI bound, and what
/// keeps the whole loom run within a few minutes on two cores.
const LOOM_MAX_PREEMPTIONS: &str = "2";

/// The loom models of tests/concurrency, in a target directory of their own: `--cfg loom`
/// changes every crate's flags, and sharing `target/` would rebuild the workspace twice per
/// CI run. The dev profile: the models explore at most a few hundred interleavings each and
/// run in about a second, while the release profile's LTO would cost minutes of build.
fn loom() -> Result<(), Failure> {
    let preemptions =
        std::env::var("LOOM_MAX_PREEMPTIONS").unwrap_or_else(|_| LOOM_MAX_PREEMPTIONS.to_owned());
    Step::new(
        "loom models of the driver core (callbacks racing READ, LOAD_CONTENT, SET_EVENT/CLEANUP, STATS)",
        "cargo",
    )
    .args(["test", "--release", "--package", "ringfence-concurrency", "--tests"])
    .arg("--target-dir")
    .arg(target_dir().join("loom"))
    .env("RUSTFLAGS", "--cfg loom")
    .env("LOOM_MAX_PREEMPTIONS", &preemptions)
    .hint("a failing model prints the interleaving; rerun with LOOM_LOG=trace LOOM_LOCATION=1")
    .run()
}

fn test() -> Result<(), Failure> {
    setup::emulator_packages()?;
    setup::pe_fixtures()?;
    let sys = driver()?;
    Step::new("workspace tests (host, driver core, PE and INF checks, emulation end to end)", "cargo")
        .args(["test", "--workspace"])
        .env("RINGFENCE_SYS", &sys)
        .run()?;
    proofs()?;
    let mut windows_check = Step::new("companion compiles and passes clippy for Windows", "cargo");
    for (key, value) in setup::msvc_c_tools()? {
        windows_check = windows_check.env(key, value);
    }
    windows_check
        .args([
            "clippy",
            "--package",
            "ringfence-companion",
            "--target",
            WINDOWS_TARGET,
            "--",
            "-D",
            "warnings",
        ])
        .run()?;
    Ok(())
}

/// Every `[[bench]]` target (Criterion), each beside its baseline; extra
/// arguments go to Criterion (e.g. `--measurement-time 3`, or a name filter).
fn bench(rest: &[String]) -> Result<(), Failure> {
    setup::emulator_packages()?;
    setup::pe_fixtures()?;
    // The end-to-end benchmark runs the real driver in the emulator.
    let sys = driver()?;
    Step::new("Criterion benchmarks", "cargo")
        .env("RINGFENCE_SYS", &sys)
        .args(["bench", "--workspace", "--bench", "*", "--"])
        .args(rest)
        .run()
}

/// Counts what the Sigma compiler makes of a rule directory (e.g. a SigmaHQ checkout's
/// `rules/`, which is not part of this repository).
fn sigma_coverage(rest: &[String]) -> Result<(), Failure> {
    if rest.iter().all(|a| a.starts_with("--")) {
        return Err(Failure::new(
            "sigma-coverage",
            "give a directory of Sigma rules, e.g. a SigmaHQ checkout's rules/",
        ));
    }
    Step::new("compile the Sigma rules and count them by stage", "cargo")
        .args([
            "run",
            "--quiet",
            "--release",
            "--package",
            "ringfence-detect",
            "--bin",
            "sigma-coverage",
            "--",
        ])
        .args(rest)
        .run()
}

/// Replays a SigmaHQ checkout's regression samples (fetched data, so not part of `ci`)
/// through the emulated driver and the companion with the checkout's rules.
fn sigma_replay(rest: &[String]) -> Result<(), Failure> {
    let two_stage = rest.iter().any(|a| a == "--two-stage");
    let [sigma] = rest.iter().filter(|a| *a != "--two-stage").collect::<Vec<_>>()[..] else {
        return Err(Failure::new(
            "sigma-replay",
            "give a SigmaHQ checkout (with rules*/ and regression_data/), and --two-stage to replay through \
             the compiled content",
        ));
    };
    setup::emulator_packages()?;
    let sys = driver()?;
    Step::new("build ringfence-emulate and sigma-replay", "cargo")
        .args(["build", "--quiet", "--release", "--package", "ringfence-emulator"])
        .args(["--bin", "ringfence-emulate", "--bin", "sigma-replay"])
        .stdout_to_stderr()
        .run()?;
    let release = target_dir().join("release");
    let replay = release.join("sigma-replay").display().to_string();
    Step::new("replay the regression samples", &replay)
        .arg("--sys")
        .arg(&sys)
        .arg("--emulate")
        .arg(release.join("ringfence-emulate"))
        .arg("--out")
        .arg(target_dir().join("sigma-replay"))
        .args(two_stage.then_some("--two-stage"))
        .arg(sigma)
        .run()
}

fn demo(rest: &[String]) -> Result<(), Failure> {
    setup::emulator_packages()?;
    let sys = driver()?;
    let content = target_dir().join("noise-reduction.bin");
    Step::new("compile examples/content/noise-reduction.toml", "cargo")
        .args(["run", "--quiet", "--release", "--package", "ringfence-companion", "--", "content", "compile"])
        .arg(root().join("examples/content/noise-reduction.toml"))
        .arg("-o")
        .arg(&content)
        .stdout_to_stderr()
        .run()?;
    let scenario = rest.first().map(PathBuf::from).unwrap_or_else(|| root().join(DEMO_SCENARIO));
    let emulate = |name: &str| {
        Step::new(name, "cargo")
            .args([
                "run",
                "--quiet",
                "--release",
                "--package",
                "ringfence-emulator",
                "--bin",
                "ringfence-emulate",
                "--",
            ])
            .arg("--sys")
            .arg(&sys)
            .arg("--content")
            .arg(&content)
            .arg("--scenario")
            .arg(&scenario)
    };
    let extra = rest.get(1..).unwrap_or_default();
    emulate("stream the scenario through the emulated ringfence.sys").args(extra).run()?;
    // Unless another format was asked for: the same events once more, in Sysmon's shape.
    if extra.iter().any(|a| a.starts_with("--format")) {
        return Ok(());
    }
    emulate("the same events in Sysmon's shape (ringfence watch --format sysmon)")
        .args(["--format", "sysmon", "--quiet"])
        .args(extra)
        .run()
}

fn demo_service(rest: &[String]) -> Result<(), Failure> {
    setup::emulator_packages()?;
    let sys = driver()?;
    let scenario = rest.first().map(PathBuf::from).unwrap_or_else(|| root().join(DEMO_SCENARIO));
    Step::new("the service loop writing rotated files from the emulated ringfence.sys", "cargo")
        .args([
            "run",
            "--quiet",
            "--release",
            "--package",
            "ringfence-emulator",
            "--bin",
            "ringfence-service-demo",
            "--",
        ])
        .arg("--sys")
        .arg(&sys)
        .arg("--scenario")
        .arg(scenario)
        .arg("--dir")
        .arg(target_dir().join("ringfence-service-demo"))
        .args(rest.get(1..).unwrap_or_default())
        .run()
}

const DEMO_SCENARIO: &str = "examples/scenarios/intrusion.toml";

fn ci() -> Result<(), Failure> {
    setup::stable_components(&["rustfmt", "clippy"])?;
    test()?;
    Step::new("rustfmt", "cargo").args(["fmt", "--all", "--check"]).run()?;
    Step::new("clippy (all targets, warnings are errors)", "cargo")
        .args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])
        .run()?;
    loom()?;
    wdk_check::run()?;
    miri()?;
    fuzz::run(&["--secs".into(), "10".into()])
}
