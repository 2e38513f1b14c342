//! Where the service writes: rotating JSON Lines files ([`rotating`]), a
//! stream such as standard output, or the Windows event log ([`eventlog`],
//! Windows only). Each output takes whole lines; one that fails keeps the
//! lines it could not take and is retried, and the service reads no more
//! from the driver meanwhile, so the driver's queue (which counts what it
//! drops) is the only place an event can be lost.

pub mod faults;
pub mod recovery;
pub mod rotating;
pub mod storage;

#[cfg(windows)]
pub use crate::windows::eventlog;

use std::fmt;
use std::io::{self, Write};

use crate::clock::Now;
pub use recovery::Recovered;
pub use rotating::{FileCounters, FileError, FileOp, RotatingLog};
pub use storage::{FileSystem, LogFile, Storage};

/// One destination of records.
pub enum Sink<S: Storage> {
    File(RotatingLog<S>),
    /// Lines written to a stream (standard output), flushed after each batch.
    Stream {
        name: String,
        writer: Box<dyn Write + Send>,
    },
    #[cfg(windows)]
    EventLog(eventlog::EventLog),
}

impl<S: Storage> fmt::Debug for Sink<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Why an output refused lines.
#[derive(Debug)]
pub enum SinkError {
    File(FileError),
    Stream {
        name: String,
        error: io::Error,
    },
    /// `ReportEventW` failed with this Win32 error.
    EventLog {
        source: String,
        code: u32,
    },
}

impl fmt::Display for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SinkError::File(e) => e.fmt(f),
            SinkError::Stream { name, error } => write!(f, "writing to {name} failed: {error}"),
            SinkError::EventLog { source, code } => {
                write!(f, "writing to the event log as {source} failed with Windows error {code}")
            }
        }
    }
}

impl std::error::Error for SinkError {}

impl<S: Storage> Sink<S> {
    /// What the output is, for messages and health records.
    pub fn describe(&self) -> String {
        match self {
            Sink::File(log) => format!("file {}", log.active_path().display()),
            Sink::Stream { name, .. } => name.clone(),
            #[cfg(windows)]
            Sink::EventLog(log) => format!("event log source {}", log.source()),
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Sink::File(_) => "file",
            Sink::Stream { .. } => "stdout",
            #[cfg(windows)]
            Sink::EventLog(_) => "eventlog",
        }
    }

    /// Takes whole lines, all or nothing.
    pub fn write(&mut self, lines: &[u8], now: Now) -> Result<(), SinkError> {
        match self {
            Sink::File(log) => log.append(lines, now).map_err(SinkError::File),
            Sink::Stream { name, writer } => writer
                .write_all(lines)
                .and_then(|()| writer.flush())
                .map_err(|error| SinkError::Stream { name: name.clone(), error }),
            #[cfg(windows)]
            Sink::EventLog(log) => log.write(lines),
        }
    }

    /// Time-driven work: interval syncs, rotation by age.
    pub fn tick(&mut self, now: Now) -> Result<(), SinkError> {
        match self {
            Sink::File(log) if log.is_open() => log.tick(now).map_err(SinkError::File),
            _ => Ok(()),
        }
    }

    /// Forces everything written to stable storage (at stop).
    pub fn sync(&mut self) -> Result<(), SinkError> {
        match self {
            Sink::File(log) => log.sync().map_err(SinkError::File),
            Sink::Stream { name, writer } => {
                writer.flush().map_err(|error| SinkError::Stream { name: name.clone(), error })
            }
            #[cfg(windows)]
            Sink::EventLog(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
