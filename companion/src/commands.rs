//! What each subcommand does, with its output, given a device and streams.
//! The binary only parses arguments; tests and the emulator call these.

use std::fmt;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use ringfence_content::{CompileError, ValidationError};
use ringfence_wire::ioctl::LoadContentResponse;

use crate::client::ClientError;
use crate::device::{Device, DeviceError};
use crate::exit;
use crate::stats_view;
use crate::stream::EventStream;
use crate::watch::{Session, WatchError};

pub use crate::content_cmd::{content_check, content_compile, content_compile_signed, content_show};
pub use crate::content2_cmd::{Placement, Sources as ContentSources, content_compile2};
pub use crate::sigma_cmd::sigma_check;
pub use crate::trust_cmd::{content_keygen, content_sign, content_verify};

use crate::trust_cmd::{self, KeyFileError, Refusal};

/// Why a command failed; [`Failure::exit_code`] maps it to the documented code.
#[derive(Debug)]
pub enum Failure {
    Client(ClientError),
    /// Writing the command's output failed.
    Output(io::Error),
    ReadFile {
        path: PathBuf,
        error: io::Error,
    },
    WriteFile {
        path: PathBuf,
        error: io::Error,
    },
    /// The rules in `path` do not compile.
    Compile {
        path: PathBuf,
        error: CompileError,
    },
    /// The content in `path` fails validation.
    Invalid {
        path: PathBuf,
        error: ValidationError,
    },
    /// The service configuration is refused (the message names the file and line).
    Config {
        message: String,
    },
    /// The service could not run, be installed or be controlled.
    Service {
        message: String,
    },
    /// The enrichment stage could not start (its sources or its worker threads).
    Enrichment {
        message: String,
    },
    /// The driver judged the content in `path` and turned it down.
    Rejected {
        device: String,
        path: PathBuf,
        verdict: LoadContentResponse,
    },
    /// A key file that cannot be used.
    KeyFile {
        path: PathBuf,
        error: KeyFileError,
    },
    /// `path` fails a trust check (signature, envelope) or validation offline.
    Refused {
        path: PathBuf,
        refusal: Refusal,
    },
    /// The running sensor's policy refuses `path`; it was not pushed.
    WouldBeRefused {
        device: String,
        path: PathBuf,
        refusal: Refusal,
    },
    /// `path` is already a signed envelope.
    AlreadySigned {
        path: PathBuf,
    },
    /// The envelope for `path` could not be built.
    Sealing {
        path: PathBuf,
    },
    /// Sigma rules were refused (`sigma check`).
    Sigma {
        message: String,
    },
    /// The content in `path` fails format 2's validation.
    Invalid2 {
        path: PathBuf,
        error: ringfence_content::v2::ValidationError,
    },
    /// A TOML rule of `path` has no format-2 equivalent with the same meaning.
    Format2 {
        path: PathBuf,
        refusal: crate::content_filter::FilterRefusal,
    },
    /// The format-2 builder refused the content as a whole.
    Build {
        error: ringfence_content::v2::build::BuildError,
    },
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Self {
        Failure::Client(e)
    }
}

impl From<WatchError> for Failure {
    fn from(e: WatchError) -> Self {
        match e {
            WatchError::Client(e) => Failure::Client(e),
            WatchError::Output(e) => Failure::Output(e),
        }
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

impl Failure {
    /// The reader of our output went away (`ringfence content show x | head`):
    /// not an error worth a message.
    pub fn is_closed_output(&self) -> bool {
        matches!(self, Failure::Output(e) if e.kind() == io::ErrorKind::BrokenPipe)
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Client(ClientError::Device(DeviceError::Os { .. } | DeviceError::Backend { .. })) => {
                exit::IO
            }
            Failure::Client(ClientError::Device(_)) => exit::DEVICE_UNAVAILABLE,
            Failure::Client(ClientError::ContentTooLarge { .. }) => exit::REJECTED,
            Failure::Client(_) => exit::DRIVER_MISMATCH,
            Failure::Output(_)
            | Failure::ReadFile { .. }
            | Failure::WriteFile { .. }
            | Failure::Service { .. }
            | Failure::Enrichment { .. }
            | Failure::KeyFile { .. } => exit::IO,
            Failure::Config { .. }
            | Failure::Compile { .. }
            | Failure::Invalid { .. }
            | Failure::Rejected { .. }
            | Failure::Refused { .. }
            | Failure::WouldBeRefused { .. }
            | Failure::AlreadySigned { .. }
            | Failure::Sealing { .. }
            | Failure::Sigma { .. }
            | Failure::Invalid2 { .. }
            | Failure::Format2 { .. }
            | Failure::Build { .. } => exit::REJECTED,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Client(e) => e.fmt(f),
            Failure::Output(e) => write!(f, "writing the output failed: {e}"),
            Failure::Config { message } | Failure::Service { message } | Failure::Sigma { message } => {
                f.write_str(message)
            }
            Failure::Enrichment { message } => write!(f, "the enrichment stage cannot start: {message}"),
            Failure::ReadFile { path, error } => {
                write!(f, "cannot read {}: {error} (check the path and its permissions)", path.display())
            }
            Failure::WriteFile { path, error } => {
                write!(
                    f,
                    "cannot write {}: {error} (check the directory exists and is writable)",
                    path.display()
                )
            }
            Failure::Compile { path, error } => {
                write!(f, "{}: {error} (fix the rule file and compile again)", path.display())
            }
            Failure::Invalid { path, error }
                if matches!(error.kind, ringfence_content::ErrorKind::CostOverBudget { .. }) =>
            {
                write!(
                    f,
                    "{} is not valid content: {error} (fewer `contains` on long fields, or anchor the rules with \
                     `equals`, `starts_with` or `ends_with`)",
                    path.display()
                )
            }
            Failure::Invalid { path, error } => write!(
                f,
                "{} is not valid content: {error} (recompile it from its rules with `ringfence content \
                 compile`)",
                path.display()
            ),
            Failure::Rejected { device, path, verdict } => {
                write!(f, "{device} rejected {}: {}", path.display(), Verdict(verdict))?;
                let what =
                    refusal_of(verdict).map_or("fix the content and push again", |r| trust_cmd::advice(&r));
                write!(f, " (content version {} stays active; {what})", verdict.active_version)
            }
            Failure::KeyFile { path, error } => write!(f, "{}: unusable key file: {error}", path.display()),
            Failure::Refused { path, refusal } => {
                write!(f, "{}: {refusal} ({})", path.display(), trust_cmd::advice(refusal))
            }
            Failure::WouldBeRefused { device, path, refusal } => write!(
                f,
                "{device} would refuse {}: {refusal}; not pushed ({}; --force pushes anyway)",
                path.display(),
                trust_cmd::advice(refusal)
            ),
            Failure::AlreadySigned { path } => {
                write!(f, "{} is already signed: sign the content it holds, not the envelope", path.display())
            }
            Failure::Sealing { path } => {
                write!(f, "{}: the signed envelope could not be built", path.display())
            }
            Failure::Invalid2 { path, error } => write!(
                f,
                "{} is not valid content: {error} (recompile it from its rules with `ringfence content \
                 compile`)",
                path.display()
            ),
            Failure::Format2 { path, refusal } => write!(
                f,
                "{}: {refusal} (format 2 cannot say the same; keep this file in format 1, or rewrite the rule)",
                path.display()
            ),
            Failure::Build { error } => write!(f, "content format 2 refused the rules as a whole: {error:?}"),
        }
    }
}

impl std::error::Error for Failure {}

/// The driver's reason for a verdict, rebuilt into the validator's error.
#[derive(Debug)]
pub struct Verdict<'a>(pub &'a LoadContentResponse);

impl fmt::Display for Verdict<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if v.accepted {
            return write!(
                f,
                "accepted content version {}; version {} is active",
                v.content_version, v.active_version
            );
        }
        if let Some(Refusal::Trust(reason)) = refusal_of(v) {
            return reason.fmt(f);
        }
        if ringfence_content::v2::wire::is_format2_reason(v.reason)
            && let Some(error) = ringfence_content::v2::ValidationError::from_wire(v.reason, v.offset, v.args)
        {
            return error.fmt(f);
        }
        match ValidationError::from_wire(v.reason, v.offset, v.args) {
            Some(error) => error.fmt(f),
            None => write!(
                f,
                "reason code {} at byte {} (arguments {:?}), which this companion does not know: install the \
                 companion built with the driver",
                v.reason, v.offset, v.args
            ),
        }
    }
}

/// A verdict's reason as a refusal: a trust reason, or the validator's.
pub fn refusal_of(v: &LoadContentResponse) -> Option<Refusal> {
    if ringfence_trust::reason::is_trust_reason(v.reason) {
        ringfence_trust::Reason::from_wire(v.reason, v.offset, v.args).map(Refusal::Trust)
    } else {
        ValidationError::from_wire(v.reason, v.offset, v.args).map(Refusal::Validation)
    }
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|error| Failure::ReadFile { path: path.to_owned(), error })
}

/// Pushes `path` and turns a rejection into [`Failure::Rejected`].
fn push<D: Device>(session: &mut Session<D>, path: &Path) -> Result<LoadContentResponse, Failure> {
    let bytes = read_file(path)?;
    // Format 2 is checked here first with the driver's own validator, so that a bad file is
    // named with the precise reason before anything reaches the sensor.
    let inner = crate::content_cmd::unwrapped(&bytes);
    if crate::content2_cmd::is_format2(inner) {
        crate::content2_cmd::validated2(path, inner)?;
    }
    let verdict = session.push_content(&bytes)?;
    if verdict.accepted {
        Ok(verdict)
    } else {
        let device = session.device().name().to_owned();
        Err(Failure::Rejected { device, path: path.to_owned(), verdict })
    }
}

/// `ringfence watch`: HELLO, optional content, then events until `stop()`,
/// rendered (and enriched) by `stream`; the summary goes to `diag` on the way out.
pub fn watch<D, W, E, S>(
    device: D,
    content: Option<&Path>,
    mut stream: EventStream,
    out: &mut W,
    diag: &mut E,
    stop: S,
) -> Result<(), Failure>
where
    D: Device,
    W: Write + ?Sized,
    E: Write + ?Sized,
    S: Fn() -> bool,
{
    let mut session = Session::open(device)?;
    if let Some(map) = stream.volume_map() {
        send_volume_map(&mut session, map, diag)?;
    }
    if let Some(path) = content {
        let verdict = push(&mut session, path)?;
        writeln!(diag, "ringfence: {}: {}", path.display(), Verdict(&verdict))?;
    }
    let started = Instant::now();
    let outcome = session.watch(&mut stream, out, diag, stop);
    writeln!(diag, "ringfence: {}", stream.summary().display(started.elapsed()))?;
    outcome.map_err(Failure::from)
}

/// Hands the driver the machine's volume map, before any content runs, and says so. A driver
/// that refuses it (one older than the request) leaves kernel-stage paths unknown, which the
/// companion stage decides; that is said too, and watching goes on.
pub fn send_volume_map<D: Device, E: Write + ?Sized>(
    session: &mut Session<D>,
    map: &crate::enrich::dos_path::VolumeMap,
    diag: &mut E,
) -> io::Result<()> {
    let windows = if map.view().windows_directory().is_empty() { "" } else { " and the Windows directory" };
    match session.push_volume_map(map) {
        Ok(()) => {
            writeln!(diag, "ringfence: volume map sent to the driver: {} volume(s){windows}", map.len())
        }
        Err(e) => writeln!(diag, "ringfence: the driver did not take the volume map: {e}"),
    }
}

/// `ringfence volumes`: the volume map the driver holds (`VOLUME_MAP`), one line per entry,
/// and how many maps it took and refused.
pub fn volumes<D: Device, W: Write + ?Sized>(device: D, out: &mut W) -> Result<(), Failure> {
    use ringfence_wire::volume_map::{VolumeMap, units_from_le_bytes};
    let mut session = Session::open(device)?;
    let bytes = crate::client::volume_map(session.device())?;
    let counters = session.stats()?.volume_map;
    let name = session.device().name().to_owned();
    writeln!(out, "{name}: {} volume map(s) set, {} refused", counters.sets, counters.refused)?;
    if bytes.is_empty() {
        writeln!(out, "no volume map held: kernel-stage paths outside the fixed forms are unknown")?;
        return Ok(());
    }
    let mut units = vec![0u16; bytes.len() / 2];
    let map = units_from_le_bytes(&bytes, &mut units).and_then(|_| VolumeMap::new_checked(&units));
    let map = match map {
        Ok(map) => map,
        Err(e) => {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("the driver's map: {e:?}")).into());
        }
    };
    let text = |units: &[u16]| String::from_utf16_lossy(units);
    let windows = map.windows_directory();
    if !windows.is_empty() {
        writeln!(out, r"\SystemRoot -> {}", text(windows))?;
    }
    for (nt, dos) in map.entries() {
        writeln!(out, "{} -> {}", text(nt), text(dos))?;
    }
    Ok(())
}

/// `ringfence content push`: [`content_push_with`] without `--force`.
pub fn content_push<D: Device, W: Write + ?Sized>(
    device: D,
    path: &Path,
    out: &mut W,
) -> Result<(), Failure> {
    content_push_with(device, path, false, out)
}

/// Shows the sensor's policy and what it will make of the file, pushes it unless the sensor
/// would refuse it (`force` pushes anyway), and prints the sensor's verdict.
pub fn content_push_with<D: Device, W: Write + ?Sized>(
    device: D,
    path: &Path,
    force: bool,
    out: &mut W,
) -> Result<(), Failure> {
    let mut session = Session::open(device)?;
    let name = session.device().name().to_owned();
    match session.trust()? {
        Some(trust) => {
            trust_cmd::describe_policy(&trust, out)?;
            let bytes = read_file(path)?;
            match trust_cmd::predict(&trust, &bytes) {
                Ok(version) => writeln!(out, "prediction       {name} will take content version {version}")?,
                Err(refusal) if !force => {
                    return Err(Failure::WouldBeRefused { device: name, path: path.to_owned(), refusal });
                }
                Err(refusal) => {
                    writeln!(out, "prediction       {name} will refuse it: {refusal}; pushing anyway")?
                }
            }
        }
        None => writeln!(out, "{name} does not report its trust policy (an older driver): pushing")?,
    }
    let verdict = push(&mut session, path)?;
    writeln!(out, "{}: {}", path.display(), Verdict(&verdict))?;
    Ok(())
}

/// `ringfence stats`: the counters, for people or as JSON.
pub fn stats<D: Device, W: Write + ?Sized>(device: D, json: bool, out: &mut W) -> Result<(), Failure> {
    let mut session = Session::open(device)?;
    let stats = session.stats()?;
    let trust = session.trust()?;
    let name = session.device().name().to_owned();
    if json {
        let mut doc = stats_view::json(&name, session.hello(), &stats);
        if let (Some(trust), Some(map)) = (trust, doc.as_object_mut()) {
            map.insert("trust".into(), stats_view::trust_json(&trust));
        }
        serde_json::to_writer(&mut *out, &doc).map_err(io::Error::from)?;
        writeln!(out)?;
    } else {
        stats_view::human(&name, session.hello(), &stats, out)?;
        if let Some(trust) = trust {
            writeln!(out)?;
            trust_cmd::describe_policy(&trust, out)?;
            stats_view::guard_human(&trust, out)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Verdict;
    use ringfence_content::v2::{ErrorKind, Table, ValidationError};
    use ringfence_wire::ioctl::LoadContentResponse;

    #[test]
    fn a_format_2_reason_is_printed_as_format_2_validator_says_it() {
        let kind = ErrorKind::FieldNotSupplied { table: Table::Predicates, entry: 3, kind: 1, field: 29 };
        let error = ValidationError { offset: 200, kind };
        let verdict = LoadContentResponse {
            accepted: false,
            content_version: 12,
            active_version: 7,
            reason: error.code(),
            offset: 200,
            args: error.args(),
        };
        assert_eq!(Verdict(&verdict).to_string(), error.to_string());
        let unknown = LoadContentResponse { reason: 0x1FF, ..verdict };
        assert!(Verdict(&unknown).to_string().starts_with("reason code 511 at byte 200"));
    }
}
