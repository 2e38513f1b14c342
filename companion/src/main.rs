//! `ringfence`: the command line. Everything it does lives in the library;
//! this file only parses arguments, picks the device and maps outcomes to exit codes.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand, ValueEnum};
use ringfence_companion::commands::{self, Failure};
use ringfence_companion::device::open_system_device;
use ringfence_companion::enrich::files::FileConfig;
use ringfence_companion::enrich::hashes::HashAlgorithms;
use ringfence_companion::enrich::stage::{EnrichConfig, Enricher, Sources};
use ringfence_companion::exit;
use ringfence_companion::trust_cmd::{Release, parse_ring, parse_sensor_version};
use ringfence_companion::{EventStream, Format, Host};

/// The user-mode companion of ringfence.sys: stream its events as ECS JSON,
/// compile and load its content, read its counters.
#[derive(Debug, Parser)]
#[command(name = "ringfence", version, propagate_version = true)]
#[command(after_help = exit::HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Stream events from the driver until Ctrl-C.
    ///
    /// Says HELLO first and refuses a driver of another protocol or schema
    /// version. Lost events and sequence gaps go to stderr; a summary follows on exit.
    Watch {
        /// Compiled content to load before streaming (see `content compile`).
        #[arg(long, value_name = "FILE")]
        content: Option<PathBuf>,
        /// Output format; JSON Lines when stdout is not a terminal, a table when it is.
        #[arg(long, value_enum)]
        format: Option<FormatArg>,
        /// The host.name to put in every event (default: this machine's name).
        #[arg(long, value_name = "NAME")]
        host_name: Option<String>,
        /// Hashes of process and image files, as Sysmon's HashAlgorithms (`sha256,imphash`, `*`).
        #[arg(long, value_name = "LIST", default_value = "sha256")]
        hashes: HashAlgorithms,
        /// Do not read image files (no hashes, no PE version fields).
        #[arg(long)]
        no_file_identity: bool,
        /// Sigma rules (files, or directories of .yml/.yaml files) to evaluate on every
        /// enriched event; matches go into ECS `rule.*`/`threat.*`, Sysmon's RuleName, the table.
        #[arg(long, value_name = "PATH", num_args = 1..)]
        sigma: Vec<PathBuf>,
        /// Write only the events some Sigma rule matched (the others are counted in the summary).
        #[arg(long, requires = "sigma")]
        only_detections: bool,
    },
    /// Compile, check, show and load content (filter rules).
    #[command(subcommand)]
    Content(ContentCommand),
    /// Run as a service writing events to rotating files (and the event log), or manage the Windows service.
    #[command(subcommand)]
    Service(ServiceCommand),
    /// Compile Sigma rules and say where each runs.
    #[command(subcommand)]
    Sigma(SigmaCommand),
    /// Show the driver's counters.
    Stats {
        /// Print one JSON object instead of the human summary.
        #[arg(long)]
        json: bool,
    },
    /// Show the volume map the driver holds: how it reads NT paths as DOS paths.
    Volumes,
}

#[derive(Debug, Subcommand)]
enum ContentCommand {
    /// Compile TOML rules (content format 1), or TOML and Sigma rules into one content format 2.
    Compile {
        /// The rule file: TOML, `version = N` then `[[rule]]` tables with name,
        /// kind, action (include or exclude) and `match` conditions (see examples/content/).
        /// Optional with --sigma.
        #[arg(required_unless_present = "sigma")]
        rules: Option<PathBuf>,
        /// Sigma rules (files, or directories of .yml/.yaml files) compiled as detection rules
        /// beside the TOML filter rules, into content format 2. A rule that cannot go into the
        /// content is named on stderr and the others compile.
        #[arg(long, value_name = "PATH", num_args = 1..)]
        sigma: Vec<PathBuf>,
        /// The content format: 1 (the default for TOML alone) or 2 (implied by --sigma).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=2))]
        format: Option<u16>,
        /// The content version of a format-2 content (default: the TOML file's version, else 1).
        #[arg(long, value_name = "N")]
        content_version: Option<u32>,
        /// Where to write the compiled content.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Sign the compiled content with this secret key (see `content keygen`); format 1 here,
        /// `content sign` signs a format-2 file.
        #[arg(long, value_name = "KEY", conflicts_with_all = ["sigma", "format", "content_version"])]
        sign: Option<PathBuf>,
        #[command(flatten)]
        release: ReleaseArgs,
    },
    /// Make a new Ed25519 key pair for signing content: the secret in KEY, the public key in KEY.pub.
    Keygen {
        /// Where to write the secret key (never overwritten).
        key: PathBuf,
    },
    /// Sign compiled content: wrap it in an envelope that declares its rollout ring and the
    /// driver versions it supports, signed with Ed25519 over every byte.
    Sign {
        /// The compiled content.
        content: PathBuf,
        /// The secret key (see `content keygen`).
        #[arg(long, value_name = "KEY")]
        key: PathBuf,
        /// Where to write the signed content.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        #[command(flatten)]
        release: ReleaseArgs,
    },
    /// Check a signed file: envelope, signature and the content inside.
    ///
    /// With --key, the signature must be by one of these public keys; without, it is only
    /// checked against the key the file names.
    Verify {
        /// The signed content.
        file: PathBuf,
        /// A public key file (KEY.pub) to check the signature against; repeatable.
        #[arg(long, value_name = "PUB")]
        key: Vec<PathBuf>,
    },
    /// Validate compiled content with the very validator the driver runs.
    ///
    /// Exit 0 when the driver would accept it; otherwise exit 1 with the byte
    /// offset and the precise reason.
    Check {
        /// The compiled content.
        content: PathBuf,
    },
    /// Print compiled content readably: header, then every rule and condition.
    Show {
        /// The compiled content.
        content: PathBuf,
    },
    /// Show what the driver will make of the content (its trust policy from the TRUST
    /// request), then load it and print its verdict. Content the driver would refuse is not
    /// pushed unless --force.
    Push {
        /// The compiled (and possibly signed) content.
        content: PathBuf,
        /// Push even when the driver's policy will refuse it (the refusal is then counted).
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
enum SigmaCommand {
    /// Compile Sigma rules (YAML files or directories of them) and print, per rule, the stage
    /// it runs in (kernel: only kernel-reported fields; companion: needs enrichment) or why it
    /// was refused. Exit 1 when any rule or document is refused.
    Check {
        /// Sigma rule files, or directories searched for .yml and .yaml files.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ServiceCommand {
    /// Run the service loop with a configuration (what the Service Control
    /// Manager starts; from a console it runs until Ctrl-C).
    Run {
        /// The configuration file (see examples/service/ringfence.toml).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Check a configuration file and print what it configures.
    Check {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Install the Windows service (automatic start after the driver, LocalSystem). Windows only.
    Install {
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Do not make the service depend on the driver (the SCM would otherwise start the driver first).
        #[arg(long)]
        no_driver_dependency: bool,
    },
    /// Stop and remove the Windows service. Windows only.
    Uninstall,
    /// Start the installed service. Windows only.
    Start,
    /// Stop the installed service. Windows only.
    Stop,
    /// Print the service's state. Windows only.
    Status,
}

/// What signed content declares.
#[derive(Debug, clap::Args)]
struct ReleaseArgs {
    /// The last rollout ring the content is released to: a number (0 = canary) or `general`.
    #[arg(long, value_name = "RING", default_value = "general", value_parser = parse_ring)]
    ring: u32,
    /// The oldest driver version the content supports.
    #[arg(long, value_name = "X.Y.Z", default_value = "0.0.0", value_parser = parse_sensor_version)]
    sensor_min: u32,
    /// The newest driver version the content supports (default: any).
    #[arg(long, value_name = "X.Y.Z", value_parser = parse_sensor_version)]
    sensor_max: Option<u32>,
}

impl ReleaseArgs {
    fn release(&self) -> Release {
        Release {
            ring: self.ring,
            sensor_min: self.sensor_min,
            sensor_max: self.sensor_max.unwrap_or(u32::MAX),
        }
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormatArg {
    /// One Elastic Common Schema JSON document per line.
    Json,
    /// An aligned table for people.
    Table,
    /// One JSON object per line in Sysmon's shape (EventID 1, 5, 6, 7 and Sysmon's EventData names).
    Sysmon,
}

/// `ringfence service ...`: configuration errors exit 1, everything else that fails 5.
fn service(command: ServiceCommand, out: &mut dyn Write) -> Result<(), Failure> {
    use ringfence_companion::config;
    let fail = |message: String| Failure::Service { message };
    match command {
        ServiceCommand::Check { config: path } => {
            let config = config::load(&path).map_err(|e| Failure::Config { message: e.to_string() })?;
            writeln!(out, "{}: valid: {config:#?}", path.display())?;
            Ok(())
        }
        ServiceCommand::Run { config: path } => {
            let console = |path: PathBuf| -> Result<(), String> {
                let config = config::load(&path).map_err(|e| e.to_string())?;
                let stop = Arc::new(AtomicBool::new(false));
                let flag = Arc::clone(&stop);
                let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
                ringfence_companion::service::run_on_this_machine(config, Box::new(io::stderr()), &|| {
                    stop.load(Ordering::SeqCst)
                })
                .map(|_| ())
            };
            #[cfg(windows)]
            let outcome = ringfence_companion::service::windows::run(path, console);
            #[cfg(not(windows))]
            let outcome = console(path);
            outcome.map_err(fail)
        }
        #[cfg(windows)]
        other => {
            use ringfence_companion::config::defaults::EVENT_LOG_SOURCE;
            use ringfence_companion::service::windows as scm;
            match other {
                ServiceCommand::Install { config: path, no_driver_dependency } => {
                    config::load(&path).map_err(|e| Failure::Config { message: e.to_string() })?;
                    scm::install(&path, !no_driver_dependency, EVENT_LOG_SOURCE).map_err(fail)
                }
                ServiceCommand::Uninstall => scm::uninstall(EVENT_LOG_SOURCE).map_err(fail),
                ServiceCommand::Start => scm::start().map_err(fail),
                ServiceCommand::Stop => scm::stop().map_err(fail),
                ServiceCommand::Status => scm::status(out).map_err(fail),
                ServiceCommand::Check { .. } | ServiceCommand::Run { .. } => Ok(()),
            }
        }
        #[cfg(not(windows))]
        _ => Err(fail(
            "installing and controlling the service needs Windows' Service Control Manager; on this system \
             `ringfence service run --config FILE` runs the service loop in the foreground"
                .to_owned(),
        )),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let result = match cli.command {
        Command::Watch { content, format, host_name, hashes, no_file_identity, sigma, only_detections } => {
            let format = match format {
                Some(FormatArg::Json) => Format::Json,
                Some(FormatArg::Table) => Format::Table,
                Some(FormatArg::Sysmon) => Format::Sysmon,
                None if io::stdout().is_terminal() => Format::Table,
                None => Format::Json,
            };
            let host = host_name.map_or_else(Host::local, |name| Host { name });
            let stop = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&stop);
            // Without a handler Ctrl-C would kill the process before the summary.
            let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
            let files =
                (!no_file_identity).then(|| FileConfig { algorithms: hashes, ..FileConfig::default() });
            let config = EnrichConfig { files, ..EnrichConfig::default() };
            let enrich_failure = |message: String| Failure::Enrichment { message };
            Sources::this_machine()
                .map_err(|e| enrich_failure(e.to_string()))
                .and_then(|sources| {
                    Enricher::new(config, sources, &host.name).map_err(|e| enrich_failure(e.to_string()))
                })
                .and_then(|enricher| {
                    let mut stream = EventStream::with_enricher(host, enricher, format);
                    // A format-2 content is evaluated here too, every companion field known.
                    let stage = match content.as_deref() {
                        Some(path) => ringfence_companion::detection::content::stage_of(path)?,
                        None => None,
                    };
                    if !sigma.is_empty() || stage.is_some() {
                        let detector =
                            ringfence_companion::detection::load_with(&sigma, stage, &mut io::stderr())?;
                        stream = stream.with_detector(detector, only_detections);
                    }
                    let device = open_system_device().map_err(|e| Failure::Client(e.into()))?;
                    commands::watch(device, content.as_deref(), stream, &mut out, &mut io::stderr(), || {
                        stop.load(Ordering::SeqCst)
                    })
                })
        }
        Command::Content(ContentCommand::Compile {
            rules,
            sigma,
            format,
            content_version,
            output,
            sign,
            release,
        }) => match (rules, sign) {
            _ if format == Some(1) && !sigma.is_empty() => Err(Failure::Sigma {
                message: "Sigma rules compile into content format 2 only: drop --format 1".to_owned(),
            }),
            (Some(rules), Some(key)) => {
                commands::content_compile_signed(&rules, &output, &key, release.release(), &mut out)
            }
            (Some(rules), None) if sigma.is_empty() && format != Some(2) && content_version.is_none() => {
                commands::content_compile(&rules, &output, &mut out)
            }
            (rules, _) => {
                let sources = commands::ContentSources {
                    toml: rules.as_deref(),
                    sigma: &sigma,
                    version: content_version,
                };
                commands::content_compile2(&sources, &output, &mut out, &mut io::stderr()).map(|_| ())
            }
        },
        Command::Content(ContentCommand::Keygen { key }) => commands::content_keygen(&key, &mut out),
        Command::Content(ContentCommand::Sign { content, key, output, release }) => {
            commands::content_sign(&content, &key, &output, release.release(), &mut out)
        }
        Command::Content(ContentCommand::Verify { file, key }) => {
            commands::content_verify(&file, &key, &mut out)
        }
        Command::Content(ContentCommand::Check { content }) => commands::content_check(&content, &mut out),
        Command::Content(ContentCommand::Show { content }) => commands::content_show(&content, &mut out),
        Command::Content(ContentCommand::Push { content, force }) => open_system_device()
            .map_err(|e| Failure::Client(e.into()))
            .and_then(|device| commands::content_push_with(device, &content, force, &mut out)),
        Command::Service(command) => service(command, &mut out),
        Command::Sigma(SigmaCommand::Check { paths }) => commands::sigma_check(&paths, &mut out),
        Command::Stats { json } => open_system_device()
            .map_err(|e| Failure::Client(e.into()))
            .and_then(|device| commands::stats(device, json, &mut out)),
        Command::Volumes => open_system_device()
            .map_err(|e| Failure::Client(e.into()))
            .and_then(|device| commands::volumes(device, &mut out)),
    };
    let _ = out.flush();
    match result {
        Ok(()) => ExitCode::from(exit::OK),
        Err(failure) if failure.is_closed_output() => ExitCode::from(exit::OK),
        Err(failure) => {
            let _ = writeln!(io::stderr(), "ringfence: error: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}
