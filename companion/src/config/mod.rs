//! The service's configuration: one TOML file (see `examples/service/ringfence.toml`).
//! Every value is checked here, before anything starts, and a refusal names
//! the line and what to write instead.

mod units;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

pub use units::{duration, show_duration, size};

/// Defaults, as documented in the example configuration.
pub mod defaults {
    use std::time::Duration;

    pub const HEALTH_INTERVAL: Duration = Duration::from_secs(60);
    pub const RETRY_MAX: Duration = Duration::from_secs(30);
    pub const FILE_NAME: &str = "ringfence";
    pub const ROTATE_SIZE: u64 = 64 << 20;
    pub const ROTATE_AGE: Duration = Duration::from_secs(3600);
    pub const KEEP_FILES: u32 = 48;
    pub const KEEP_BYTES: u64 = 2 << 30;
    pub const FSYNC_INTERVAL: Duration = Duration::from_secs(1);
    pub const EVENT_LOG_SOURCE: &str = "ringfence";
}

/// Limits a value must fall within; outside them the file is refused.
pub mod limits {
    use std::time::Duration;

    pub const HEALTH_INTERVAL: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(86_400));
    pub const RETRY_MAX: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(3600));
    pub const ROTATE_SIZE: (u64, u64) = (4 << 10, 1 << 40);
    pub const ROTATE_AGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(30 * 86_400));
    pub const KEEP_FILES: (u32, u32) = (1, 100_000);
    pub const FSYNC_INTERVAL: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(3600));
}

/// The whole configuration, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `host.name` in every record; this machine's name when absent.
    pub host_name: Option<String>,
    pub health_interval: Duration,
    /// Compiled content pushed at every connection to the driver.
    pub content: Option<PathBuf>,
    /// The longest wait between two attempts to reach the driver or the output.
    pub retry_max: Duration,
    pub enrichment: Enrichment,
    /// Sigma rules (files or directories) evaluated on every enriched event (`[detection] sigma`).
    pub sigma: Vec<PathBuf>,
    pub outputs: Vec<Output>,
}

/// What the companion computes about images.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Enrichment {
    /// Hashes of process and image files, in the order written, no duplicates;
    /// empty: SHA256, Sysmon's default.
    pub hashes: Vec<HashAlgorithm>,
}

impl Enrichment {
    /// The hashes as the enrichment stage takes them.
    pub fn algorithms(&self) -> crate::enrich::hashes::HashAlgorithms {
        if self.hashes.is_empty() {
            return crate::enrich::hashes::HashAlgorithms::default();
        }
        let has = |h: HashAlgorithm| self.hashes.contains(&h);
        crate::enrich::hashes::HashAlgorithms {
            sha1: has(HashAlgorithm::Sha1),
            md5: has(HashAlgorithm::Md5),
            sha256: has(HashAlgorithm::Sha256),
            imphash: has(HashAlgorithm::Imphash),
        }
    }
}

/// Sysmon's `HashAlgorithms` choices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashAlgorithm {
    Md5,
    Sha1,
    Sha256,
    Imphash,
}

impl HashAlgorithm {
    pub const ALL: [HashAlgorithm; 4] =
        [HashAlgorithm::Md5, HashAlgorithm::Sha1, HashAlgorithm::Sha256, HashAlgorithm::Imphash];

    pub fn name(self) -> &'static str {
        match self {
            HashAlgorithm::Md5 => "md5",
            HashAlgorithm::Sha1 => "sha1",
            HashAlgorithm::Sha256 => "sha256",
            HashAlgorithm::Imphash => "imphash",
        }
    }
}

/// How an output writes events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Elastic Common Schema JSON, one document per line.
    Ecs,
    /// Sysmon's shape: EventID 1, 5, 6, 7 with Sysmon's EventData names and formats.
    Sysmon,
}

/// Where events go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    File(FileOutput),
    /// JSON Lines on standard output (containers, pipes).
    Stdout {
        format: Format,
    },
    /// The Windows Application event log, under `source`.
    EventLog {
        format: Format,
        source: String,
    },
}

/// Rotating JSON Lines files in one directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOutput {
    pub format: Format,
    pub directory: PathBuf,
    /// The active file is `<name>.jsonl`; rotated ones `<name>-<UTC time>.jsonl`.
    pub name: String,
    pub rotate_size: u64,
    /// `None`: rotate by size only.
    pub rotate_age: Option<Duration>,
    pub keep_files: u32,
    /// Most bytes of rotated and active files together; `None`: no byte limit.
    pub keep_bytes: Option<u64>,
    pub fsync: FsyncPolicy,
}

/// When written data is forced to stable storage (`fsync`, `FlushFileBuffers`).
/// Every batch is handed to the operating system as soon as it is rendered, so
/// a killed service loses nothing written; the policy bounds what a power loss can take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FsyncPolicy {
    /// After every batch.
    Batch,
    /// At most this long after a batch was written (and at every rotation).
    Interval(Duration),
    /// Only when a file is rotated or the service stops.
    Rotation,
}

/// A configuration refused: where, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line of the offending key or table; 0 when the file as a whole is at fault.
    pub line: usize,
    pub reason: Reason,
}

/// Why a configuration is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Not TOML of the configuration's shape (unknown key, wrong type...), in the TOML parser's words.
    Syntax {
        message: String,
    },
    Duration {
        key: &'static str,
        value: String,
    },
    Size {
        key: &'static str,
        value: String,
    },
    OutOfRange {
        key: &'static str,
        value: String,
        min: String,
        max: String,
    },
    UnknownOutputKind {
        found: String,
    },
    UnknownFormat {
        found: String,
    },
    MissingKey {
        output: &'static str,
        key: &'static str,
    },
    KeyNotForOutput {
        output: &'static str,
        key: &'static str,
    },
    UnknownFsync {
        found: String,
    },
    /// `fsync_interval` given with a policy other than `interval`.
    FsyncIntervalWithoutInterval,
    UnknownHash {
        found: String,
    },
    DuplicateHash {
        name: &'static str,
    },
    /// A file name with a path separator, or empty.
    BadFileName {
        name: String,
    },
    NoOutput,
    /// Two file outputs would write the same files.
    SameFiles {
        first_line: usize,
    },
    EmptyValue {
        key: &'static str,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}: ", self.line)?;
        }
        match &self.reason {
            Reason::Syntax { message } => f.write_str(message.trim_end()),
            Reason::Duration { key, value } => write!(
                f,
                "{key} = {value:?} is not a duration: write a whole number and a unit (ms, s, m, h, d), e.g. \"30s\""
            ),
            Reason::Size { key, value } => write!(
                f,
                "{key} = {value:?} is not a size: write a whole number and a unit (B, KiB, MiB, GiB, KB, MB, GB), e.g. \"64 MiB\""
            ),
            Reason::OutOfRange { key, value, min, max } => {
                write!(f, "{key} = {value} is outside {min} ..= {max}")
            }
            Reason::UnknownOutputKind { found } => {
                write!(f, "output kind {found:?} is unknown: use \"file\", \"stdout\" or \"eventlog\"")
            }
            Reason::UnknownFormat { found } => {
                write!(f, "format {found:?} is unknown: use \"ecs\" or \"sysmon\"")
            }
            Reason::MissingKey { output, key } => write!(f, "a {output} output needs `{key}`"),
            Reason::KeyNotForOutput { output, key } => {
                write!(f, "`{key}` does not apply to a {output} output: remove it")
            }
            Reason::UnknownFsync { found } => {
                write!(f, "fsync = {found:?} is unknown: use \"batch\", \"interval\" or \"rotation\"")
            }
            Reason::FsyncIntervalWithoutInterval => {
                f.write_str("fsync_interval applies only with fsync = \"interval\": remove one of them")
            }
            Reason::UnknownHash { found } => {
                write!(
                    f,
                    "hash {found:?} is unknown: use \"md5\", \"sha1\", \"sha256\", \"imphash\" or \"*\""
                )
            }
            Reason::DuplicateHash { name } => write!(f, "hash \"{name}\" is listed twice"),
            Reason::BadFileName { name } => {
                write!(f, "name = {name:?} must be a plain file name, without a path separator")
            }
            Reason::NoOutput => {
                f.write_str("no [[output]]: add at least one (see the example configuration)")
            }
            Reason::SameFiles { first_line } => {
                write!(f, "this file output writes the same files as the one at line {first_line}")
            }
            Reason::EmptyValue { key } => write!(f, "{key} is empty"),
        }
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Source {
    service: Option<ServiceSrc>,
    driver: Option<DriverSrc>,
    enrichment: Option<EnrichmentSrc>,
    detection: Option<DetectionSrc>,
    #[serde(default)]
    output: Vec<Spanned<OutputSrc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DetectionSrc {
    sigma: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceSrc {
    host_name: Option<Spanned<String>>,
    health_interval: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DriverSrc {
    content: Option<Spanned<String>>,
    retry_max: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnrichmentSrc {
    hashes: Option<Vec<Spanned<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputSrc {
    kind: Spanned<String>,
    format: Option<Spanned<String>>,
    directory: Option<Spanned<String>>,
    name: Option<Spanned<String>>,
    rotate_size: Option<Spanned<String>>,
    rotate_age: Option<Spanned<String>>,
    keep_files: Option<Spanned<i64>>,
    keep_bytes: Option<Spanned<String>>,
    fsync: Option<Spanned<String>>,
    fsync_interval: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
}

mod outputs;

/// Reads and checks the configuration file at `path`; relative paths in it
/// are taken from the file's directory.
pub fn load(path: &Path) -> Result<Config, LoadError> {
    let text =
        std::fs::read_to_string(path).map_err(|error| LoadError::Read { path: path.to_owned(), error })?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse(&text, base).map_err(|error| LoadError::Invalid { path: path.to_owned(), error: Box::new(error) })
}

/// Why [`load`] failed.
#[derive(Debug)]
pub enum LoadError {
    Read { path: PathBuf, error: std::io::Error },
    Invalid { path: PathBuf, error: Box<ConfigError> },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read { path, error } => {
                write!(f, "cannot read the configuration {}: {error}", path.display())
            }
            LoadError::Invalid { path, error } => write!(f, "{}: {error}", path.display()),
        }
    }
}

impl std::error::Error for LoadError {}

/// The 1-based line holding byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let before = text.get(..offset).unwrap_or(text);
    before.bytes().filter(|b| *b == b'\n').count().saturating_add(1)
}

/// Checks configuration text; relative paths resolve against `base`.
pub fn parse(text: &str, base: &Path) -> Result<Config, ConfigError> {
    let source: Source = toml::from_str(text).map_err(|e| ConfigError {
        line: e.span().map_or(0, |span| line_of(text, span.start)),
        reason: Reason::Syntax { message: e.message().to_owned() },
    })?;
    let at = |span: std::ops::Range<usize>| line_of(text, span.start);
    let service = source.service.unwrap_or(ServiceSrc { host_name: None, health_interval: None });
    let host_name = match service.host_name {
        Some(name) if name.get_ref().trim().is_empty() => {
            return Err(ConfigError {
                line: at(name.span()),
                reason: Reason::EmptyValue { key: "host_name" },
            });
        }
        name => name.map(Spanned::into_inner),
    };
    let health_interval = bounded_duration(
        text,
        service.health_interval,
        "health_interval",
        defaults::HEALTH_INTERVAL,
        limits::HEALTH_INTERVAL,
    )?;
    let driver = source.driver.unwrap_or(DriverSrc { content: None, retry_max: None });
    let retry_max =
        bounded_duration(text, driver.retry_max, "retry_max", defaults::RETRY_MAX, limits::RETRY_MAX)?;
    let content = driver.content.map(|c| base.join(c.into_inner()));
    let enrichment = enrichment(text, source.enrichment)?;
    let mut sigma = Vec::new();
    for path in source.detection.and_then(|d| d.sigma).unwrap_or_default() {
        if path.get_ref().trim().is_empty() {
            return Err(ConfigError { line: at(path.span()), reason: Reason::EmptyValue { key: "sigma" } });
        }
        sigma.push(base.join(path.into_inner()));
    }
    if source.output.is_empty() {
        return Err(ConfigError { line: 0, reason: Reason::NoOutput });
    }
    let outputs = outputs::check(text, source.output, base)?;
    Ok(Config { host_name, health_interval, content, retry_max, enrichment, sigma, outputs })
}

fn enrichment(text: &str, source: Option<EnrichmentSrc>) -> Result<Enrichment, ConfigError> {
    let mut hashes = Vec::new();
    for name in source.and_then(|s| s.hashes).unwrap_or_default() {
        let line = line_of(text, name.span().start);
        let found: Vec<HashAlgorithm> = match name.get_ref().to_ascii_lowercase().as_str() {
            "*" => HashAlgorithm::ALL.to_vec(),
            other => match HashAlgorithm::ALL.iter().find(|h| h.name() == other) {
                Some(h) => vec![*h],
                None => {
                    return Err(ConfigError {
                        line,
                        reason: Reason::UnknownHash { found: name.into_inner() },
                    });
                }
            },
        };
        for h in found {
            if hashes.contains(&h) {
                return Err(ConfigError { line, reason: Reason::DuplicateHash { name: h.name() } });
            }
            hashes.push(h);
        }
    }
    Ok(Enrichment { hashes })
}

/// A duration key, parsed and checked against its limits.
fn bounded_duration(
    text: &str,
    value: Option<Spanned<String>>,
    key: &'static str,
    default: Duration,
    (min, max): (Duration, Duration),
) -> Result<Duration, ConfigError> {
    let Some(value) = value else { return Ok(default) };
    let line = line_of(text, value.span().start);
    let parsed = duration(value.get_ref()).ok_or_else(|| ConfigError {
        line,
        reason: Reason::Duration { key, value: value.get_ref().clone() },
    })?;
    if parsed < min || parsed > max {
        return Err(ConfigError {
            line,
            reason: Reason::OutOfRange {
                key,
                value: value.into_inner(),
                min: show_duration(min),
                max: show_duration(max),
            },
        });
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests;
