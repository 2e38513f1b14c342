//! The service's outputs and their outages. A batch of events must reach
//! every output: one that fails keeps the batch (`pending`) and is retried
//! with backoff, and the service reads nothing more from the driver until it
//! is through. Service records go to the outputs that are up; those an output
//! missed while down are counted in the record that announces its recovery.

use std::time::Duration;

use serde_json::json;

use super::records::ServiceRecord;
use crate::clock::Now;
use crate::config::show_duration;
use crate::output::{Sink, SinkError, Storage};
use crate::stream::Format;

/// Exponential backoff from 250 ms to a cap.
#[derive(Clone, Copy, Debug)]
pub struct Retry {
    /// Monotonic time of the next attempt.
    pub at: Duration,
    delay: Duration,
    max: Duration,
}

pub const FIRST_RETRY: Duration = Duration::from_millis(250);

impl Retry {
    pub fn new(max: Duration) -> Self {
        Retry { at: Duration::ZERO, delay: FIRST_RETRY, max }
    }

    /// An attempt failed at `now`: the next one waits twice as long as the last, up to the cap.
    pub(super) fn failed(&mut self, now: Now) -> Duration {
        let wait = self.delay;
        self.at = now.monotonic.saturating_add(wait);
        self.delay = self.delay.saturating_mul(2).min(self.max);
        wait
    }

    /// An attempt succeeded: the next failure starts from the shortest wait.
    pub fn succeeded(&mut self) {
        self.delay = FIRST_RETRY;
    }

    pub fn is_due(&self, now: Now) -> bool {
        now.monotonic >= self.at
    }
}

/// An output that stopped taking lines.
#[derive(Debug)]
pub(super) struct Outage {
    pub(super) since: Now,
    pub(super) failures: u64,
    pub(super) last_error: String,
    /// Service records it did not get meanwhile.
    pub(super) records_missed: u64,
}

/// One output with its state.
#[derive(Debug)]
pub(super) struct Slot<S: Storage> {
    pub(super) sink: Sink<S>,
    /// How its events are written.
    pub(super) format: Format,
    /// Lines it has not taken yet (only while `down`).
    pub(super) pending: Vec<u8>,
    pub(super) down: Option<Outage>,
    pub(super) retry: Retry,
}

impl<S: Storage> Slot<S> {
    pub(super) fn new(sink: Sink<S>, format: Format, retry_max: Duration) -> Self {
        Slot { sink, format, pending: Vec::new(), down: None, retry: Retry::new(retry_max) }
    }

    /// Records a failure; returns the message to report when this starts an outage.
    pub(super) fn failed(&mut self, error: &SinkError, now: Now) -> Option<String> {
        let wait = self.retry.failed(now);
        let text = error.to_string();
        match &mut self.down {
            Some(outage) => {
                outage.failures = outage.failures.saturating_add(1);
                outage.last_error = text;
                None
            }
            None => {
                let message = format!(
                    "output {} failed: {text}; writing stops (the driver keeps queueing and counts what it must \
                     drop) and is retried in {}",
                    self.sink.describe(),
                    show_duration(wait)
                );
                self.down = Some(Outage { since: now, failures: 1, last_error: text, records_missed: 0 });
                Some(message)
            }
        }
    }

    /// Takes a batch of events; `Err` keeps it for the retry.
    pub(super) fn write_events(&mut self, lines: &[u8], now: Now) -> Result<(), SinkError> {
        self.sink.write(lines, now).inspect_err(|_| {
            self.pending.extend_from_slice(lines);
        })
    }

    /// Retries a failed output: its pending lines first, then the record of
    /// its recovery. `Ok(Some(record))` once it is back.
    pub(super) fn retry(&mut self, now: Now) -> Result<Option<ServiceRecord>, SinkError> {
        if self.down.is_none() || !self.retry.is_due(now) {
            return Ok(None);
        }
        if !self.pending.is_empty() {
            self.sink.write(&self.pending, now)?;
            self.pending.clear();
        }
        let Some(outage) = self.down.take() else { return Ok(None) };
        self.retry.succeeded();
        let seconds = now.monotonic.saturating_sub(outage.since.monotonic).as_secs();
        Ok(Some(ServiceRecord::new(
            "output_resumed",
            format!(
                "output {} is writing again after {seconds} s and {} failed attempt(s) (last: {}); {} service record(s) \
                 were not written to it meanwhile",
                self.sink.describe(),
                outage.failures,
                outage.last_error,
                outage.records_missed
            ),
            json!({
                "output": self.sink.describe(),
                "outage_seconds": seconds,
                "failures": outage.failures,
                "last_error": outage.last_error,
                "records_missed": outage.records_missed,
            }),
        )))
    }
}
