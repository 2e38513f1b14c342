//! The `[[output]]` tables: which keys each kind takes, their values, and
//! that no two file outputs write the same files.

use std::path::Path;

use toml::Spanned;

use super::{
    ConfigError, FileOutput, Format, FsyncPolicy, Output, OutputSrc, Reason, bounded_duration, defaults,
    limits, line_of, size,
};

pub(super) fn check(
    text: &str,
    sources: Vec<Spanned<OutputSrc>>,
    base: &Path,
) -> Result<Vec<Output>, ConfigError> {
    let mut outputs = Vec::new();
    let mut files: Vec<(std::path::PathBuf, String, usize)> = Vec::new();
    for source in sources {
        let line = line_of(text, source.span().start);
        let output = one(text, source.into_inner(), base)?;
        if let Output::File(file) = &output {
            let name = file.name.to_ascii_lowercase();
            if let Some((_, _, first_line)) =
                files.iter().find(|(d, n, _)| *d == file.directory && *n == name)
            {
                return Err(ConfigError { line, reason: Reason::SameFiles { first_line: *first_line } });
            }
            files.push((file.directory.clone(), name, line));
        }
        outputs.push(output);
    }
    Ok(outputs)
}

fn one(text: &str, src: OutputSrc, base: &Path) -> Result<Output, ConfigError> {
    let line = |s: &Spanned<_>| line_of(text, s.span().start);
    let kind_line = line(&src.kind);
    let kind: &'static str = match src.kind.get_ref().as_str() {
        "file" => "file",
        "stdout" => "stdout",
        "eventlog" => "eventlog",
        _ => {
            return Err(ConfigError {
                line: kind_line,
                reason: Reason::UnknownOutputKind { found: src.kind.into_inner() },
            });
        }
    };
    let format = format(text, src.format.as_ref())?;
    // Keys present, by the kinds they apply to.
    let file_keys = [
        ("directory", src.directory.as_ref().map(line)),
        ("name", src.name.as_ref().map(line)),
        ("rotate_size", src.rotate_size.as_ref().map(line)),
        ("rotate_age", src.rotate_age.as_ref().map(line)),
        ("keep_files", src.keep_files.as_ref().map(|k| line_of(text, k.span().start))),
        ("keep_bytes", src.keep_bytes.as_ref().map(line)),
        ("fsync", src.fsync.as_ref().map(line)),
        ("fsync_interval", src.fsync_interval.as_ref().map(line)),
    ];
    let eventlog_keys = [("source", src.source.as_ref().map(line))];
    let foreign = |keys: &[(&'static str, Option<usize>)]| {
        keys.iter().find_map(|(key, at)| {
            at.map(|line| ConfigError { line, reason: Reason::KeyNotForOutput { output: kind, key } })
        })
    };
    match kind {
        "stdout" => match foreign(&file_keys).or_else(|| foreign(&eventlog_keys)) {
            Some(e) => Err(e),
            None => Ok(Output::Stdout { format }),
        },
        "eventlog" => {
            if let Some(e) = foreign(&file_keys) {
                return Err(e);
            }
            let source = match src.source {
                Some(s) if s.get_ref().trim().is_empty() => {
                    return Err(ConfigError { line: line(&s), reason: Reason::EmptyValue { key: "source" } });
                }
                Some(s) => s.into_inner(),
                None => defaults::EVENT_LOG_SOURCE.to_owned(),
            };
            Ok(Output::EventLog { format, source })
        }
        _ => {
            if let Some(e) = foreign(&eventlog_keys) {
                return Err(e);
            }
            file(text, src, format, kind_line, base).map(Output::File)
        }
    }
}

fn format(text: &str, value: Option<&Spanned<String>>) -> Result<Format, ConfigError> {
    let Some(value) = value else { return Ok(Format::Ecs) };
    let line = line_of(text, value.span().start);
    match value.get_ref().as_str() {
        "ecs" => Ok(Format::Ecs),
        "sysmon" => Ok(Format::Sysmon),
        other => Err(ConfigError { line, reason: Reason::UnknownFormat { found: other.to_owned() } }),
    }
}

fn file(
    text: &str,
    src: OutputSrc,
    format: Format,
    kind_line: usize,
    base: &Path,
) -> Result<FileOutput, ConfigError> {
    let line = |s: &Spanned<String>| line_of(text, s.span().start);
    let directory = match src.directory {
        None => {
            return Err(ConfigError {
                line: kind_line,
                reason: Reason::MissingKey { output: "file", key: "directory" },
            });
        }
        Some(d) if d.get_ref().is_empty() => {
            return Err(ConfigError { line: line(&d), reason: Reason::EmptyValue { key: "directory" } });
        }
        Some(d) => base.join(d.into_inner()),
    };
    let name = match src.name {
        None => defaults::FILE_NAME.to_owned(),
        Some(n) => {
            let plain = !n.get_ref().is_empty()
                && !n.get_ref().contains(['/', '\\', ':'])
                && n.get_ref() != "."
                && n.get_ref() != "..";
            if !plain {
                return Err(ConfigError {
                    line: line(&n),
                    reason: Reason::BadFileName { name: n.into_inner() },
                });
            }
            n.into_inner()
        }
    };
    let rotate_size = bounded_size(text, src.rotate_size, "rotate_size", limits::ROTATE_SIZE)?
        .unwrap_or(defaults::ROTATE_SIZE);
    let rotate_age = match src.rotate_age {
        Some(a) if a.get_ref() == "never" => None,
        age => Some(bounded_duration(text, age, "rotate_age", defaults::ROTATE_AGE, limits::ROTATE_AGE)?),
    };
    let keep_files = match src.keep_files {
        None => defaults::KEEP_FILES,
        Some(k) => {
            let (min, max) = limits::KEEP_FILES;
            match u32::try_from(*k.get_ref()) {
                Ok(n) if (min..=max).contains(&n) => n,
                _ => {
                    return Err(ConfigError {
                        line: line_of(text, k.span().start),
                        reason: Reason::OutOfRange {
                            key: "keep_files",
                            value: k.get_ref().to_string(),
                            min: min.to_string(),
                            max: max.to_string(),
                        },
                    });
                }
            }
        }
    };
    let keep_bytes = match src.keep_bytes {
        Some(k) if k.get_ref() == "unlimited" => None,
        None => Some(defaults::KEEP_BYTES),
        k => bounded_size(text, k, "keep_bytes", (limits::ROTATE_SIZE.0, u64::MAX))?,
    };
    let fsync = match src.fsync.as_ref().map(|f| (f.get_ref().as_str(), line(f))) {
        None | Some(("interval", _)) => FsyncPolicy::Interval(bounded_duration(
            text,
            src.fsync_interval,
            "fsync_interval",
            defaults::FSYNC_INTERVAL,
            limits::FSYNC_INTERVAL,
        )?),
        Some((policy @ ("batch" | "rotation"), _)) => {
            if let Some(interval) = &src.fsync_interval {
                return Err(ConfigError {
                    line: line(interval),
                    reason: Reason::FsyncIntervalWithoutInterval,
                });
            }
            if policy == "batch" { FsyncPolicy::Batch } else { FsyncPolicy::Rotation }
        }
        Some((other, at)) => {
            return Err(ConfigError { line: at, reason: Reason::UnknownFsync { found: other.to_owned() } });
        }
    };
    Ok(FileOutput { format, directory, name, rotate_size, rotate_age, keep_files, keep_bytes, fsync })
}

fn bounded_size(
    text: &str,
    value: Option<Spanned<String>>,
    key: &'static str,
    (min, max): (u64, u64),
) -> Result<Option<u64>, ConfigError> {
    let Some(value) = value else { return Ok(None) };
    let line = line_of(text, value.span().start);
    let parsed = size(value.get_ref())
        .ok_or_else(|| ConfigError { line, reason: Reason::Size { key, value: value.get_ref().clone() } })?;
    if parsed < min || parsed > max {
        return Err(ConfigError {
            line,
            reason: Reason::OutOfRange {
                key,
                value: value.into_inner(),
                min: format!("{min} B"),
                max: format!("{max} B"),
            },
        });
    }
    Ok(Some(parsed))
}
