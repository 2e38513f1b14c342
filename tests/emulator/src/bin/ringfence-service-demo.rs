//! `ringfence-service-demo` (`cargo xtask demo-service`): the companion's
//! service loop writing rotated JSON Lines files from the real ringfence.sys
//! in the emulated kernel. The intrusion scenario plays `--rounds` times on
//! scenario time, the driver is stopped and started again halfway (the
//! service lets go, reconnects and reports the restart), then the service
//! stops; the folder's files and a few of their lines are printed.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use clap::Parser;
use ringfence_companion::config::{Config, Enrichment, FileOutput, Format, FsyncPolicy, Output};
use ringfence_companion::enrich::stage::FileLocation;
use ringfence_companion::output::FileSystem;
use ringfence_companion::service::Service;
use ringfence_emulator::{EmulatedSystem, Scenario, Step};

/// Run the companion's service loop against the emulated ringfence.sys and show the rotated files.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// The driver image (ringfence.sys, built as ringfence.dll).
    #[arg(long, env = "RINGFENCE_SYS")]
    sys: PathBuf,
    /// The scenario to play (examples/scenarios/*.toml).
    #[arg(long)]
    scenario: PathBuf,
    /// The output folder (emptied first).
    #[arg(long)]
    dir: PathBuf,
    /// How many times the scenario plays.
    #[arg(long, default_value_t = 40)]
    rounds: usize,
    /// Rotate the active file at this many bytes (small, to show rotation).
    #[arg(long, default_value_t = 16 << 10)]
    rotate_size: u64,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    let _ = writeln!(io::stderr(), "ringfence-service-demo: {message}");
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let args = Args::parse();
    let scenario = match std::fs::read_to_string(&args.scenario)
        .map_err(|e| e.to_string())
        .and_then(|t| Scenario::parse(&t).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => return fail(format_args!("{}: {e}", args.scenario.display())),
    };
    let image = match std::fs::read(&args.sys) {
        Ok(b) => b,
        Err(e) => return fail(format_args!("{}: {e}", args.sys.display())),
    };
    let _ = std::fs::remove_dir_all(&args.dir);
    // Scenario time: FILETIME of the scenario's start as the wall clock.
    let start =
        UNIX_EPOCH + Duration::from_micros(scenario.start.saturating_sub(116_444_736_000_000_000) / 10);
    let system = EmulatedSystem::new(&image, start);
    system.script([Step::StartDriver]);
    for round in 0..args.rounds {
        if round == args.rounds / 2 {
            system.script([Step::StopDriver, Step::StartDriver]);
        }
        system.script(scenario.activity.iter().cloned().map(Step::Activity));
    }
    let config = Config {
        host_name: Some(scenario.host.clone()),
        health_interval: Duration::from_secs(5),
        content: None,
        retry_max: Duration::from_secs(2),
        enrichment: Enrichment::default(),
        sigma: Vec::new(),
        outputs: vec![Output::File(FileOutput {
            format: Format::Ecs,
            directory: args.dir.clone(),
            name: "ringfence".into(),
            rotate_size: args.rotate_size,
            rotate_age: Some(Duration::from_secs(3600)),
            keep_files: 48,
            keep_bytes: None,
            fsync: FsyncPolicy::Interval(Duration::from_secs(1)),
        })],
    };
    let mut service = match Service::new(
        config,
        system.clone(),
        || FileSystem,
        system.clone(),
        || Box::new(io::sink()),
        Box::new(io::stderr()),
    )
    .and_then(|service| service.with_sources(scenario.sources(FileLocation::Native)))
    {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let counters = service.run(&|| system.played_out());
    drop(service);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let _ = writeln!(out, "service counters: {counters:?}\n\nfiles in {}:", args.dir.display());
    let mut names: Vec<(String, u64)> = match std::fs::read_dir(&args.dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| {
                (e.file_name().to_string_lossy().into_owned(), e.metadata().map(|m| m.len()).unwrap_or(0))
            })
            .collect(),
        Err(e) => return fail(format_args!("{}: {e}", args.dir.display())),
    };
    names.sort_by_key(|(n, _)| (n == "ringfence.jsonl", n.clone()));
    for (name, len) in &names {
        let _ = writeln!(out, "  {len:>8}  {name}");
    }
    let active = std::fs::read_to_string(args.dir.join("ringfence.jsonl")).unwrap_or_default();
    let lines: Vec<&str> = active.lines().collect();
    let _ = writeln!(out, "\nlast lines of ringfence.jsonl:");
    for line in lines.iter().skip(lines.len().saturating_sub(3)) {
        let _ = writeln!(out, "{line}");
    }
    ExitCode::SUCCESS
}
