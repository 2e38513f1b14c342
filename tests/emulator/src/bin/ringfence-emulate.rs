//! `ringfence-emulate`: plays activity scenarios through the real
//! ringfence.sys in the emulated kernel and prints what the companion prints.
//! The companion's own watch loop and rendering run against the driver.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use ringfence_companion::commands;
use ringfence_companion::enrich::files::FileConfig;
use ringfence_companion::enrich::hashes::HashAlgorithms;
use ringfence_companion::enrich::stage::{EnrichConfig, Enricher, FileLocation, Sources};
use ringfence_companion::{EventStream, Format, Host};
use ringfence_emulator::{EmulatedDevice, Emulator, Scenario, Unload};
use ringfence_wire::SCHEMA;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum OutputFormat {
    Table,
    Json,
    Sysmon,
}

/// Play activity scenarios through the real ringfence.sys in an emulated
/// Windows kernel, with the companion's own rendering.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The driver image (ringfence.sys, built as ringfence.dll).
    #[arg(long, env = "RINGFENCE_SYS")]
    sys: PathBuf,
    /// Compiled content to push before the scenario.
    #[arg(long, conflicts_with = "rules")]
    content: Option<PathBuf>,
    /// Rules (TOML) to compile and push before the scenario.
    #[arg(long)]
    rules: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Print the emulated kernel's books (pool, callbacks, locks, ...) after the unload.
    #[arg(long)]
    books: bool,
    /// The emulated machine's files: `C:\x\y.dll` is read from `DIR/C/x/y.dll` for hashes and
    /// PE version fields. Without it, file identity is not asked for.
    #[arg(long, value_name = "DIR")]
    files: Option<PathBuf>,
    /// Hashes of image files, as Sysmon's HashAlgorithms (`sha256,imphash`, `*`).
    #[arg(long, value_name = "LIST", default_value = "sha256")]
    hashes: HashAlgorithms,
    /// Print only the events: no diagnostics, summary, counters or books (which are still checked).
    #[arg(long)]
    quiet: bool,
    /// Sigma rules (a file, or a directory of .yml/.yaml files) evaluated on every enriched
    /// event; repeatable.
    #[arg(long, value_name = "PATH")]
    sigma: Vec<PathBuf>,
    /// Print only the events some Sigma rule matched.
    #[arg(long)]
    only_detections: bool,
    /// A content format 2 (`content compile --sigma`) evaluated in the companion's stage on
    /// every enriched event, while the driver runs the content given with --content or --rules.
    #[arg(long, value_name = "FILE")]
    companion_content: Option<PathBuf>,
    /// A scenario file (examples/scenarios/*.toml); repeatable.
    #[arg(long = "scenario", value_name = "FILE")]
    scenario_flags: Vec<PathBuf>,
    /// More scenario files, played one after the other.
    #[arg(required_unless_present = "scenario_flags")]
    scenarios: Vec<PathBuf>,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    let _ = writeln!(io::stderr(), "ringfence-emulate: {message}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut scenarios = Vec::new();
    for path in args.scenario_flags.iter().chain(&args.scenarios) {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => return fail(format_args!("{}: {e}", path.display())),
        };
        match Scenario::parse(&text) {
            Ok(s) => scenarios.push(s),
            Err(e) => return fail(format_args!("{}: {e}", path.display())),
        }
    }
    let content = match (&args.content, &args.rules) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(rules)) => {
            let text = match std::fs::read_to_string(rules) {
                Ok(t) => t,
                Err(e) => return fail(format_args!("{}: {e}", rules.display())),
            };
            let bytes = match ringfence_content::compile(&text, &SCHEMA) {
                Ok(b) => b,
                Err(e) => return fail(format_args!("{}: {e}", rules.display())),
            };
            let out = std::env::temp_dir().join(format!("ringfence-emulate-{}.bin", std::process::id()));
            if let Err(e) = std::fs::write(&out, bytes) {
                return fail(format_args!("{}: {e}", out.display()));
            }
            Some(out)
        }
        (None, None) => None,
    };
    // Sigma rules first: a refused rule is reported and left out, a path without rules ends
    // the run with the companion's own exit code, before the driver is touched.
    let stage =
        match args.companion_content.as_deref().map(ringfence_companion::detection::ContentStage::load) {
            None => None,
            Some(Ok(stage)) => Some(stage),
            Some(Err(e)) => {
                let _ = writeln!(io::stderr(), "ringfence-emulate: {e}");
                return ExitCode::from(e.exit_code());
            }
        };
    let detector = if args.sigma.is_empty() && stage.is_none() {
        None
    } else {
        let mut diag: Box<dyn Write> = if args.quiet { Box::new(io::sink()) } else { Box::new(io::stderr()) };
        match ringfence_companion::detection::load_with(&args.sigma, stage, &mut diag) {
            Ok(d) => Some(d),
            Err(e) => {
                let _ = writeln!(io::stderr(), "ringfence-emulate: {e}");
                return ExitCode::from(e.exit_code());
            }
        }
    };
    let image = match std::fs::read(&args.sys) {
        Ok(b) => b,
        Err(e) => return fail(format_args!("{}: {e}", args.sys.display())),
    };
    let mut emulator = match Emulator::new(&image) {
        Ok(e) => e,
        Err(e) => return fail(format_args!("{}: {e}", args.sys.display())),
    };
    // The scenarios' running processes were there before the driver; the kernel clock ends
    // at the first scenario's start, so that content records are dated.
    for s in scenarios.iter().rev() {
        s.install(&mut emulator);
    }
    match emulator.driver_entry() {
        Ok(0..) => {}
        Ok(status) => {
            return fail(format_args!(
                "DriverEntry failed with {:#010x}",
                u32::from_ne_bytes(status.to_ne_bytes())
            ));
        }
        Err(stop) => return fail(format_args!("DriverEntry did not return: {stop}")),
    }
    let name = format!("\\\\.\\Ringfence (emulated {})", args.sys.display());
    let mut device = match EmulatedDevice::open(emulator, &name) {
        Ok(d) => d,
        Err(e) => return fail(e),
    };
    let host = Host { name: scenarios.first().map_or_else(|| "emulated".to_owned(), |s| s.host.clone()) };
    let mut diag: Box<dyn Write> = if args.quiet { Box::new(io::sink()) } else { Box::new(io::stderr()) };
    for s in &scenarios {
        let _ = writeln!(diag, "ringfence-emulate: scenario: {}", s.description);
        device.queue(s.activity.iter().cloned());
    }
    let format = match args.format {
        OutputFormat::Table => Format::Table,
        OutputFormat::Json => Format::Json,
        OutputFormat::Sysmon => Format::Sysmon,
    };
    // The first scenario's machine answers the enrichment's questions.
    let sources = scenarios.first().map_or_else(Sources::default, |s| {
        s.sources(args.files.clone().map_or(FileLocation::Native, FileLocation::Rooted))
    });
    let files = args.files.is_some().then(|| FileConfig { algorithms: args.hashes, ..FileConfig::default() });
    let enricher = match Enricher::new(EnrichConfig { files, ..EnrichConfig::default() }, sources, &host.name)
    {
        Ok(e) => e,
        Err(e) => return fail(format_args!("the enrichment stage cannot start: {e}")),
    };
    let played_out = device.played_out();
    let stdout = io::stdout();
    let mut stream = EventStream::with_enricher(host, enricher, format);
    if let Some(detector) = detector {
        stream = stream.with_detector(detector, args.only_detections);
    }
    let watched =
        commands::watch(&mut device, content.as_deref(), stream, &mut stdout.lock(), &mut diag, || {
            played_out.get()
        });
    if let (Some(_), Some(path)) = (&args.rules, &content) {
        let _ = std::fs::remove_file(path);
    }
    if let Err(e) = watched {
        return fail(e);
    }
    // What `ringfence stats` would print now: the driver's own account of every event.
    if let Err(e) = commands::stats(&mut device, false, &mut diag) {
        return fail(e);
    }
    let mut emulator = match device.close() {
        Ok(e) => e,
        Err(stop) => return fail(format_args!("closing the device: {stop}")),
    };
    match emulator.unload() {
        Ok(Unload::Done) => {}
        Ok(other) => return fail(format_args!("unload: {other:?}")),
        Err(stop) => return fail(format_args!("unload: {stop}")),
    }
    let report = emulator.report();
    if args.books {
        let _ = writeln!(diag, "ringfence-emulate: books after unload: {report:#?}");
    }
    let problems = report.problems();
    if problems.is_empty() {
        let _ = writeln!(
            diag,
            "ringfence-emulate: unloaded cleanly: {} pool allocations freed, no callback, device, link, lock or reference left; deepest stack {} bytes",
            report.pool_frees, report.max_stack_bytes
        );
        ExitCode::SUCCESS
    } else {
        for p in &problems {
            let _ = writeln!(io::stderr(), "ringfence-emulate: {p}");
        }
        fail(format_args!("{} problem(s) in the books", problems.len()))
    }
}
