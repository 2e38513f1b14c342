//! The companion as a long-running service: the portable run loop. It keeps
//! going through everything a sensor lives through — the driver not started
//! yet, stopped or reloaded, the device held by another client, an output
//! folder full or gone — and never loses an event without counting it: what
//! it reads reaches every output or stays pending (and reading pauses, so
//! the driver's queue, which counts its drops, holds the rest).
//!
//! No Windows API here: the driver is reached through a [`Connector`]
//! (the real device, or the emulated driver in tests), files through
//! [`Storage`], time through [`Clock`]. The Windows service control glue is
//! in `windows` (Windows only).

mod connector;
mod health;
mod outputs;
pub mod records;
#[cfg(windows)]
pub use crate::windows::service as windows;

use std::io::Write;
use std::time::Duration;

use ringfence_wire::batch::Records;
use serde_json::json;

pub use connector::{Connector, SystemConnector};
use outputs::Slot;
pub use outputs::{FIRST_RETRY, Retry};
use records::ServiceRecord;

use crate::client::{self, ClientError};
use crate::clock::{Clock, Now};
use crate::commands::Verdict;
use crate::config::{Config, Output, show_duration};
use crate::device::Device;
use crate::enrich::files::FileConfig;
use crate::enrich::stage::{EnrichConfig, Enricher, Sources};
use crate::output::{RotatingLog, Sink, Storage};
use crate::render::Host;
use crate::stream::{EventStream, Format};
use crate::watch::{Session, WAIT_SLICE};

/// Batches read between two looks at the clock, the outputs and the stop flag.
const BATCHES_PER_ROUND: usize = 64;

/// What the service did, for its last record and for tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Driver records written to every output.
    pub events_written: u64,
    /// Records read but not yet taken by every output.
    pub events_pending: u64,
    /// Sequence numbers read by an earlier run and never written.
    pub lost_by_companion: u64,
    pub connections: u64,
    pub disconnections: u64,
    pub output_failures: u64,
    pub health_records: u64,
}

/// The connection to the driver.
struct Link<D> {
    session: Session<D>,
}

/// The service: configuration, driver, outputs, accounting.
pub struct Service<C: Connector, S: Storage, K: Clock> {
    config: Config,
    connector: C,
    clock: K,
    slots: Vec<Slot<S>>,
    stream: EventStream,
    host: Host,
    diag: Box<dyn Write + Send>,
    counters: Counters,
    /// The last driver sequence an earlier run wrote, to check the first batch against.
    resume: Option<u64>,
    started: Now,
    next_health: Duration,
    link: Option<Link<C::Device>>,
    connect: Retry,
    /// The reason last reported for the driver being unavailable (reported again only when it changes).
    unavailable: Option<String>,
    read_buffer: Vec<u8>,
}

impl<C: Connector, S: Storage, K: Clock> std::fmt::Debug for Service<C, S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("counters", &self.counters)
            .field("connected", &self.link.is_some())
            .finish()
    }
}

impl<C: Connector, S: Storage, K: Clock> Service<C, S, K> {
    /// Builds the outputs; `storage` makes the files of each file output, and
    /// `stdout` is what a `stdout` output writes to.
    pub fn new(
        config: Config,
        connector: C,
        mut storage: impl FnMut() -> S,
        clock: K,
        mut stdout: impl FnMut() -> Box<dyn Write + Send>,
        diag: Box<dyn Write + Send>,
    ) -> Result<Self, String> {
        let mut slots = Vec::new();
        for output in &config.outputs {
            let format = match output {
                Output::File(file) => file.format,
                Output::Stdout { format } | Output::EventLog { format, .. } => *format,
            };
            let format = match format {
                crate::config::Format::Ecs => Format::Json,
                crate::config::Format::Sysmon => Format::Sysmon,
            };
            let sink = match output {
                Output::File(file) => Sink::File(RotatingLog::new(file.clone(), storage())),
                Output::Stdout { .. } => Sink::Stream { name: "standard output".into(), writer: stdout() },
                #[cfg(windows)]
                Output::EventLog { source, .. } => {
                    Sink::EventLog(crate::output::eventlog::EventLog::open(source).map_err(|code| {
                        format!("cannot open the event log source {source}: Windows error {code}")
                    })?)
                }
                #[cfg(not(windows))]
                Output::EventLog { .. } => {
                    return Err(
                        "the eventlog output exists only on Windows: remove it from the configuration".into(),
                    );
                }
            };
            slots.push(Slot::new(sink, format, config.retry_max));
        }
        let host = config.host_name.clone().map_or_else(Host::local, |name| Host { name });
        let started = clock.now();
        let connect = Retry::new(config.retry_max);
        let sources =
            Sources::this_machine().map_err(|e| format!("the enrichment stage cannot start: {e}"))?;
        let mut stream = enriched_stream(&config, &host, sources)?;
        let mut diag = diag;
        // The driver's content, when it is format 2, is evaluated here too, every field known.
        let stage = match &config.content {
            Some(path) => crate::detection::content::stage_of(path).map_err(|e| e.to_string())?,
            None => None,
        };
        if !config.sigma.is_empty() || stage.is_some() {
            let detector =
                crate::detection::load_with(&config.sigma, stage, &mut diag).map_err(|e| e.to_string())?;
            stream = stream.with_detector(detector, false);
        }
        Ok(Service {
            stream,
            config,
            connector,
            clock,
            slots,
            host,
            diag,
            counters: Counters::default(),
            resume: None,
            started,
            next_health: Duration::ZERO,
            link: None,
            connect,
            unavailable: None,
            read_buffer: Vec::new(),
        })
    }

    /// Enriches from `sources` instead of this machine's (an emulated machine's
    /// device map, accounts and identity).
    pub fn with_sources(mut self, sources: Sources) -> Result<Self, String> {
        let mut stream = enriched_stream(&self.config, &self.host, sources)?;
        if let Some(detector) = self.stream.take_detector() {
            stream = stream.with_detector(detector, false);
        }
        self.stream = stream;
        Ok(self)
    }

    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Runs until `stop()`; then drains what the driver had queued, writes the
    /// last records, syncs the outputs and returns what it did.
    pub fn run(&mut self, stop: &dyn Fn() -> bool) -> Counters {
        self.start();
        while !stop() {
            let now = self.clock.now();
            self.service_outputs(now);
            if now.monotonic >= self.next_health {
                self.health(now);
            }
            if self.any_output_down() {
                let until = self.slots.iter().filter(|s| s.down.is_some()).map(|s| s.retry.at).min();
                self.clock.sleep(wait_until(now, until));
                continue;
            }
            if self.link.is_some() {
                self.pump();
            } else if self.connect.is_due(now) {
                self.try_connect(now);
            } else {
                self.clock.sleep(wait_until(now, Some(self.connect.at)));
            }
        }
        self.shut_down();
        self.counters
    }

    fn start(&mut self) {
        let now = self.clock.now();
        let mut recovered = Vec::new();
        for slot in &mut self.slots {
            if let Sink::File(log) = &mut slot.sink {
                match log.start(now) {
                    Ok(r) => {
                        self.resume = self.resume.max(r.last_sequence);
                        recovered.push(json!({
                            "file": log.active_path().display().to_string(),
                            "torn_bytes_cut": r.torn_bytes,
                            "last_sequence": r.last_sequence,
                        }));
                    }
                    Err(e) => {
                        let error = crate::output::SinkError::File(e);
                        if let Some(message) = slot.failed(&error, now) {
                            let _ = writeln!(self.diag, "ringfence service: {message}");
                        }
                    }
                }
            }
        }
        let outputs: Vec<String> = self.slots.iter().map(|s| s.sink.describe()).collect();
        let record = ServiceRecord::new(
            "service_started",
            format!(
                "ringfence service {} started, writing to {}",
                env!("CARGO_PKG_VERSION"),
                outputs.join(", ")
            ),
            json!({
                "outputs": outputs,
                "recovered": recovered,
                "health_interval": show_duration(self.config.health_interval),
                "content": self.config.content.as_ref().map(|p| p.display().to_string()),
                "hashes": self.config.enrichment.hashes.iter().map(|h| h.name()).collect::<Vec<_>>(),
            }),
        );
        let mut record = record;
        if let (Some(d), Some(object)) = (self.stream.summary().detection, record.details.as_object_mut()) {
            let paths: Vec<String> = self.config.sigma.iter().map(|p| p.display().to_string()).collect();
            object.insert(
                "sigma".into(),
                json!({ "paths": paths, "rules_loaded": d.rules_loaded, "rules_refused": d.rules_refused }),
            );
        }
        self.write_record(&record, now);
        self.next_health = now.monotonic.saturating_add(self.config.health_interval);
    }

    fn any_output_down(&self) -> bool {
        self.slots.iter().any(|s| s.down.is_some())
    }

    /// Interval syncs and rotations of the working outputs; retries of the failed ones.
    fn service_outputs(&mut self, now: Now) {
        let mut notes = Vec::new();
        for slot in &mut self.slots {
            if slot.down.is_none() {
                if let Err(error) = slot.sink.tick(now) {
                    self.counters.output_failures = self.counters.output_failures.saturating_add(1);
                    notes.extend(slot.failed(&error, now));
                }
                continue;
            }
            match slot.retry(now) {
                Ok(Some(record)) => {
                    let _ = writeln!(self.diag, "ringfence service: {}", record.message);
                    // Only this output missed anything; if even this fails, the next retry says so.
                    if let Err(error) = slot.sink.write(&record.line(&self.host.name, now), now) {
                        notes.extend(slot.failed(&error, now));
                    }
                }
                Ok(None) => {}
                Err(error) => {
                    self.counters.output_failures = self.counters.output_failures.saturating_add(1);
                    let _ = slot.failed(&error, now);
                }
            }
        }
        for note in notes {
            let _ = writeln!(self.diag, "ringfence service: {note}");
        }
        if !self.any_output_down() && self.counters.events_pending > 0 {
            self.counters.events_written =
                self.counters.events_written.saturating_add(self.counters.events_pending);
            self.counters.events_pending = 0;
        }
    }

    /// Writes a service record to every working output (and its message to the diagnostics).
    fn write_record(&mut self, record: &ServiceRecord, now: Now) {
        let _ = writeln!(self.diag, "ringfence service: {}", record.message);
        let line = record.line(&self.host.name, now);
        let mut notes = Vec::new();
        for slot in &mut self.slots {
            match &mut slot.down {
                Some(outage) => outage.records_missed = outage.records_missed.saturating_add(1),
                None => {
                    if let Err(error) = slot.sink.write(&line, now) {
                        self.counters.output_failures = self.counters.output_failures.saturating_add(1);
                        notes.extend(slot.failed(&error, now));
                        if let Some(outage) = &mut slot.down {
                            outage.records_missed = outage.records_missed.saturating_add(1);
                        }
                    }
                }
            }
        }
        for note in notes {
            let _ = writeln!(self.diag, "ringfence service: {note}");
        }
    }

    /// Writes a batch of events to every output, in its format; those that fail keep it.
    fn write_events(&mut self, ecs: &[u8], sysmon: &[u8], events: u64, now: Now) {
        let mut notes = Vec::new();
        for slot in &mut self.slots {
            let lines = if slot.format == Format::Sysmon { sysmon } else { ecs };
            if let Err(error) = slot.write_events(lines, now) {
                self.counters.output_failures = self.counters.output_failures.saturating_add(1);
                notes.extend(slot.failed(&error, now));
            }
        }
        for note in notes {
            let _ = writeln!(self.diag, "ringfence service: {note}");
        }
        if self.any_output_down() {
            self.counters.events_pending = self.counters.events_pending.saturating_add(events);
        } else {
            self.counters.events_written = self.counters.events_written.saturating_add(events);
        }
    }

    fn try_connect(&mut self, now: Now) {
        let opened = self.connector.connect().map_err(ClientError::from).and_then(Session::open);
        let armed = opened.and_then(|mut session| session.arm_wakeup().map(|_| session));
        let mut session = match armed {
            Ok(session) => session,
            Err(error) => {
                let wait = self.connect.failed(now);
                let reason = error.to_string();
                if self.unavailable.as_deref() != Some(reason.as_str()) {
                    let record = ServiceRecord::new(
                        "driver_unavailable",
                        format!(
                            "the driver cannot be reached: {reason}; retrying, next in {}",
                            show_duration(wait)
                        ),
                        json!({ "reason": reason, "retry_max": show_duration(self.config.retry_max) }),
                    );
                    self.write_record(&record, now);
                    self.unavailable = Some(reason);
                }
                return;
            }
        };
        self.connect.succeeded();
        self.unavailable = None;
        self.counters.connections = self.counters.connections.saturating_add(1);
        // The volume map first: the content that follows reads kernel paths with it.
        let volume_map = self.push_volume_map(&mut session);
        let content = self.push_content(&mut session);
        let hello = *session.hello();
        let size = usize::try_from(hello.max_record_bytes)
            .unwrap_or(0)
            .max(ringfence_wire::record::MAX_RECORD_BYTES);
        self.read_buffer = vec![0; size.saturating_mul(4)];
        let device = session.device().name().to_owned();
        let record = ServiceRecord::new(
            "driver_connected",
            format!(
                "connected to {device} (driver {}){}{}",
                crate::stats_view::version(hello.driver_version),
                volume_map.0,
                content.0
            ),
            json!({
                "device": device,
                "driver_version": crate::stats_view::version(hello.driver_version),
                "protocol_version": hello.protocol_version,
                "schema_version": hello.schema_version,
                "queue_bytes": hello.queue_bytes,
                "content": content.1,
                "volume_map": volume_map.1,
            }),
        );
        self.link = Some(Link { session });
        self.write_record(&record, now);
    }

    /// Hands the driver the machine's volume map (at every connection, so a restarted driver
    /// has it again); returns a clause for the message and what became of it.
    fn push_volume_map(&mut self, session: &mut Session<C::Device>) -> (String, serde_json::Value) {
        let Some(map) = self.stream.volume_map() else { return (String::new(), serde_json::Value::Null) };
        match session.push_volume_map(map) {
            Ok(()) => (
                format!("; volume map of {} volume(s) sent", map.len()),
                json!({ "sent": true, "volumes": map.len() }),
            ),
            Err(e) => (
                format!("; the driver did not take the volume map: {e}"),
                json!({ "sent": false, "error": e.to_string() }),
            ),
        }
    }

    /// Pushes the configured content; returns a clause for the message and the verdict.
    fn push_content(&mut self, session: &mut Session<C::Device>) -> (String, serde_json::Value) {
        let Some(path) = self.config.content.clone() else { return (String::new(), serde_json::Value::Null) };
        let shown = path.display().to_string();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) => {
                let text = format!("cannot read {shown}: {e}; the driver keeps the content it has");
                return (format!("; {text}"), json!({ "path": shown, "error": text }));
            }
        };
        match session.push_content(&bytes) {
            Ok(verdict) => {
                let text = Verdict(&verdict).to_string();
                (
                    format!("; {shown}: {text}"),
                    json!({ "path": shown, "accepted": verdict.accepted, "active_version": verdict.active_version, "verdict": text }),
                )
            }
            Err(e) => {
                let text = e.to_string();
                (format!("; pushing {shown} failed: {text}"), json!({ "path": shown, "error": text }))
            }
        }
    }

    /// Reads and writes batches until the queue is empty (then waits for the
    /// driver's signal), an output fails, or the round is over.
    fn pump(&mut self) {
        for _ in 0..BATCHES_PER_ROUND {
            match self.read_once() {
                Err(error) => return self.disconnect(&error.to_string(), "driver_disconnected"),
                Ok(1..) => {
                    if self.any_output_down() {
                        return;
                    }
                }
                Ok(0) => {
                    if self.connector.driver_stopping() {
                        self.drain(usize::MAX);
                        return self.disconnect(
                            "the driver is being stopped: the service lets go of the device so that it can unload, \
                             and reconnects when it is back",
                            "driver_stopping",
                        );
                    }
                    let waited = match &mut self.link {
                        Some(link) => link.session.device().wait_for_events(WAIT_SLICE),
                        None => return,
                    };
                    if let Err(error) = waited {
                        self.disconnect(&error.to_string(), "driver_disconnected");
                    }
                    return;
                }
            }
        }
    }

    /// One READ; the bytes it brought (now written or pending), 0 when the queue was empty.
    fn read_once(&mut self) -> Result<usize, ClientError> {
        let Some(link) = &mut self.link else { return Ok(0) };
        let mut buffer = std::mem::take(&mut self.read_buffer);
        let read = client::read(link.session.device(), &mut buffer).map(|batch| batch.len());
        if let Ok(len @ 1..) = read {
            self.deliver(buffer.get(..len).unwrap_or_default());
        }
        self.read_buffer = buffer;
        read
    }

    /// Renders one batch (with any record its sequence numbers call for) and writes it.
    fn deliver(&mut self, batch: &[u8]) {
        let now = self.clock.now();
        let mut lines = Vec::with_capacity(batch.len().saturating_mul(2));
        let first = Records::new(batch).next().and_then(Result::ok).map(|r| r.sequence());
        if let (Some(last), Some(first)) = (self.resume, first) {
            self.resume = None;
            self.stream.resume_after(last);
            if first > last.saturating_add(1) {
                let (from, to) = (last.saturating_add(1), first.saturating_sub(1));
                self.stream.announce_lost(from, to);
                let record = records::lost_by_companion(from, to);
                let _ = writeln!(self.diag, "ringfence service: {}", record.message);
                lines.extend_from_slice(&record.line(&self.host.name, now));
                self.counters.lost_by_companion =
                    self.counters.lost_by_companion.saturating_add(to.saturating_sub(from).saturating_add(1));
            }
        }
        let restarts = self.stream.summary().restarts;
        let wants = |format: Format| self.slots.iter().any(|s| s.format == format);
        let (wants_ecs, wants_sysmon) = (wants(Format::Json), wants(Format::Sysmon));
        let mut ecs = Vec::with_capacity(if wants_ecs { batch.len().saturating_mul(2) } else { 0 });
        let mut sysmon = Vec::with_capacity(if wants_sysmon { batch.len().saturating_mul(2) } else { 0 });
        let mut outs: Vec<(Format, &mut dyn Write)> = Vec::with_capacity(2);
        if wants_ecs {
            outs.push((Format::Json, &mut ecs));
        }
        if wants_sysmon {
            outs.push((Format::Sysmon, &mut sysmon));
        }
        let mut diag = Vec::new();
        let rendered =
            self.stream.render_batch_to(batch, &mut outs, &mut diag).map(|o| o.rendered).unwrap_or(0);
        drop(outs);
        if self.stream.summary().restarts > restarts {
            let record = ServiceRecord::new(
                "driver_restarted",
                format!(
                    "the driver's sequence numbers started again at {}: the driver was restarted",
                    first.unwrap_or_default()
                ),
                json!({ "first_sequence": first }),
            );
            lines.extend_from_slice(&record.line(&self.host.name, now));
        }
        // Service records go to every output as they are; events in each output's format.
        let mut sysmon_lines = lines.clone();
        lines.extend_from_slice(&ecs);
        sysmon_lines.extend_from_slice(&sysmon);
        let _ = self.diag.write_all(&diag);
        self.write_events(&lines, &sysmon_lines, rendered as u64, now);
    }

    /// READs until the queue is empty, at most `max_bytes` (and never while an output is down).
    fn drain(&mut self, max_bytes: usize) {
        let mut read = 0usize;
        while read < max_bytes && !self.any_output_down() {
            match self.read_once() {
                Ok(n @ 1..) => read = read.saturating_add(n),
                Ok(_) | Err(_) => return,
            }
        }
    }

    fn disconnect(&mut self, reason: &str, action: &'static str) {
        let now = self.clock.now();
        self.link = None;
        self.counters.disconnections = self.counters.disconnections.saturating_add(1);
        self.connect.at = now.monotonic.saturating_add(FIRST_RETRY);
        let record = ServiceRecord::new(
            action,
            format!("disconnected from the driver: {reason}"),
            json!({ "reason": reason }),
        );
        self.write_record(&record, now);
    }

    fn shut_down(&mut self) {
        let now = self.clock.now();
        let mut left_queued = false;
        if let Some(link) = &self.link {
            let queue = usize::try_from(link.session.hello().queue_bytes).unwrap_or(usize::MAX);
            // What the driver had queued when the stop came, and no more.
            self.drain(queue);
            left_queued = self.any_output_down();
        }
        // The last health record still carries the driver's counters.
        self.health(now);
        self.link = None;
        let c = self.counters;
        let record = ServiceRecord::new(
            "service_stopped",
            format!(
                "ringfence service stopped: {} events written, {} lost by the driver, {} lost by the companion{}",
                c.events_written,
                self.stream.summary().lost,
                c.lost_by_companion,
                if left_queued {
                    "; an output was failing, so events may remain queued in the driver for the next start"
                } else {
                    ""
                }
            ),
            json!({ "events_written": c.events_written, "events_pending": c.events_pending, "left_in_driver_queue": left_queued }),
        );
        self.write_record(&record, now);
        for slot in &mut self.slots {
            if slot.down.is_none() {
                let _ = slot.sink.sync();
            }
        }
    }
}

/// The service on this machine: the real device, files and clocks; lines for
/// a `stdout` output go to standard output. `Err` when the configuration names
/// an output this system does not have.
pub fn run_on_this_machine(
    config: Config,
    diag: Box<dyn Write + Send>,
    stop: &dyn Fn() -> bool,
) -> Result<Counters, String> {
    let mut service = Service::new(
        config,
        SystemConnector::default(),
        || crate::output::FileSystem,
        crate::clock::SystemClock::new(),
        || Box::new(std::io::stdout()),
        diag,
    )?;
    Ok(service.run(stop))
}

/// The event stream of `config`'s enrichment over `sources`.
fn enriched_stream(config: &Config, host: &Host, sources: Sources) -> Result<EventStream, String> {
    let files = FileConfig { algorithms: config.enrichment.algorithms(), ..FileConfig::default() };
    let enrich = EnrichConfig { files: Some(files), ..EnrichConfig::default() };
    let enricher = Enricher::new(enrich, sources, &host.name)
        .map_err(|e| format!("the enrichment stage cannot start its workers: {e}"))?;
    Ok(EventStream::with_enricher(host.clone(), enricher, Format::Json))
}

/// How long to sleep from `now` until `at`, at most one wait slice.
fn wait_until(now: Now, at: Option<Duration>) -> Duration {
    at.map_or(WAIT_SLICE, |at| at.saturating_sub(now.monotonic)).clamp(Duration::from_millis(1), WAIT_SLICE)
}
