//! Batches in, rendered lines out: decode with ringfence-wire, enrich the good
//! prefix (paths, users, image files: [`Enricher`]), render it in each output's
//! format, report damage, lost events and gaps on the diagnostic stream, count
//! everything for the summary.

use std::fmt;
use std::io::{self, Write};
use std::time::Duration;

use ringfence_wire::batch::Records;
use ringfence_wire::schema::field;
use ringfence_wire::{BatchError, DecodeErrorKind, EventKind, Fields, Record};

use crate::detection::{Detection, DetectionCounts, Detector};
use crate::enrich::stage::{Enricher, Enrichment, StageCounts};
use crate::enriched;
use crate::render::{Host, Renderer};
use crate::sequence::{Observation, SequenceTracker};
use crate::sysmon::SysmonWriter;

/// How events are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// One ECS JSON document per line.
    Json,
    /// An aligned table for people.
    Table,
    /// One JSON object per line in Sysmon's shape (EventID 1, 5, 6, 7 and their EventData).
    Sysmon,
}

/// What a watch saw, for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// Records rendered, by kind (in `EventKind::ALL` order).
    pub by_kind: Vec<(EventKind, u64)>,
    /// Events the driver announced as dropped (sum of LostEvents counts).
    pub lost: u64,
    /// Sequence numbers missing that no LostEvents record announced.
    pub unexplained: u64,
    /// How often the sequence went back (driver restarted).
    pub restarts: u64,
    /// Batches that ended in bytes that do not decode.
    pub damaged_batches: u64,
    /// What the enrichment stage did (all zero without one).
    pub enrichment: StageCounts,
    /// What the Sigma stage did; `None` without one.
    pub detection: Option<DetectionCounts>,
    /// Events not written because no Sigma rule matched them (`--only-detections`).
    pub not_detected_skipped: u64,
}

impl Summary {
    pub fn events(&self) -> u64 {
        self.by_kind.iter().map(|(_, n)| *n).fold(0, u64::saturating_add)
    }

    /// The summary line printed on exit, with the rate over `elapsed`.
    pub fn display(&self, elapsed: Duration) -> SummaryLine<'_> {
        SummaryLine { summary: self, elapsed }
    }
}

/// [`Summary`] with its duration, as printed.
#[derive(Debug)]
pub struct SummaryLine<'a> {
    summary: &'a Summary,
    elapsed: Duration,
}

impl fmt::Display for SummaryLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.summary;
        let secs = self.elapsed.as_secs_f64();
        // Display only: precision loss in u64 -> f64 is irrelevant for a rate.
        #[allow(clippy::cast_precision_loss)]
        let rate = if secs > 0.0 { s.events() as f64 / secs } else { 0.0 };
        write!(f, "{} events in {secs:.1} s ({rate:.1}/s)", s.events())?;
        let kinds: Vec<String> = s.by_kind.iter().map(|(k, n)| format!("{} {n}", k.name())).collect();
        write!(f, ": {}", kinds.join(", "))?;
        write!(
            f,
            "; lost {} (announced by the driver), missing unannounced {}, restarts {}, damaged batches {}",
            s.lost, s.unexplained, s.restarts, s.damaged_batches
        )?;
        let e = &s.enrichment;
        if e.files_asked > 0 || e.users_unnamed > 0 {
            write!(
                f,
                "; not enriched {} (timed out {}, queue full {}), image files unreadable {}, without a DOS path {}, \
                 users without a name {}",
                e.not_enriched, e.timed_out, e.busy, e.unreadable, e.no_dos_path, e.users_unnamed
            )?;
        }
        if let Some(d) = &s.detection {
            write!(
                f,
                "; Sigma: {} rules loaded, {} refused, {} events matched ({} detections), {} with rules undecided",
                d.rules_loaded, d.rules_refused, d.events_matched, d.detections, d.events_undecided
            )?;
            if d.content_rules > 0 || d.events_filtered > 0 {
                write!(
                    f,
                    "; content format 2 in the companion: {} detection rules ({} given as YAML too, run once), {} \
                     events dropped by its filter",
                    d.content_rules, d.yaml_rules_in_content, d.events_filtered
                )?;
            }
            if s.not_detected_skipped > 0 {
                write!(f, ", {} events without a detection not written", s.not_detected_skipped)?;
            }
        }
        Ok(())
    }
}

/// What one batch held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Records rendered (the good prefix).
    pub rendered: usize,
    /// Where the batch stopped decoding, if it did.
    pub damage: Option<BatchError>,
}

/// A stream of batches from one driver session.
#[derive(Debug)]
pub struct EventStream {
    renderer: Renderer,
    sysmon: SysmonWriter,
    enricher: Option<Enricher>,
    detector: Option<Detector>,
    /// Write only the events some Sigma rule matched (and the sensor's own records).
    only_detections: bool,
    format: Format,
    tracker: SequenceTracker,
    summary: Summary,
    header_written: bool,
}

impl EventStream {
    /// Records rendered as the kernel gave them, without an enrichment stage
    /// (NT paths, SIDs, no file identity).
    pub fn new(host: Host, format: Format) -> Self {
        let identity = crate::enrich::process_guid::HostIdentity::from_host_name(&host.name);
        EventStream::build(host, identity, None, format)
    }

    /// Records enriched by `enricher` before they are rendered.
    pub fn with_enricher(host: Host, enricher: Enricher, format: Format) -> Self {
        let identity = enricher.host();
        EventStream::build(host, identity, Some(enricher), format)
    }

    fn build(
        host: Host,
        identity: crate::enrich::process_guid::HostIdentity,
        enricher: Option<Enricher>,
        format: Format,
    ) -> Self {
        let by_kind = EventKind::ALL.iter().map(|k| (*k, 0)).collect();
        EventStream {
            sysmon: SysmonWriter::new(identity, &host.name),
            renderer: Renderer::with_identity(host, identity),
            enricher,
            detector: None,
            only_detections: false,
            format,
            tracker: SequenceTracker::default(),
            summary: Summary { by_kind, ..Summary::default() },
            header_written: false,
        }
    }

    /// Evaluates `detector`'s Sigma rules on every (enriched) event; with `only_detections`,
    /// events no rule matched are counted and not written.
    pub fn with_detector(mut self, detector: Detector, only_detections: bool) -> Self {
        self.summary.detection = Some(detector.counts());
        self.detector = Some(detector);
        self.only_detections = only_detections;
        self
    }

    /// Takes the Sigma stage out (to move it to a new stream).
    pub fn take_detector(&mut self) -> Option<Detector> {
        self.only_detections = false;
        self.detector.take()
    }

    /// Renders every valid record of `batch` to `out`; reports lost events,
    /// gaps and a damaged tail to `diag`. Only I/O on `out`/`diag` fails.
    pub fn render_batch<W, E>(&mut self, batch: &[u8], out: &mut W, diag: &mut E) -> io::Result<BatchOutcome>
    where
        W: Write + ?Sized,
        E: Write + ?Sized,
    {
        let format = self.format;
        self.render_batch_to(batch, &mut [(format, &mut Unsized(out))], diag)
    }

    /// Like [`render_batch`](Self::render_batch), each record enriched once
    /// and written in every `(format, output)` of `outs`.
    pub fn render_batch_to<E>(
        &mut self,
        batch: &[u8],
        outs: &mut [(Format, &mut dyn Write)],
        diag: &mut E,
    ) -> io::Result<BatchOutcome>
    where
        E: Write + ?Sized,
    {
        let mut records = Vec::new();
        let mut damage = None;
        for item in Records::new(batch) {
            match item {
                Ok(record) => records.push(record),
                Err(error) => damage = Some(error),
            }
        }
        let enrichments = match &mut self.enricher {
            Some(enricher) => enricher.enrich_batch(&records),
            None => Vec::new(),
        };
        let mut rendered = 0usize;
        for (index, record) in records.iter().enumerate() {
            self.account(record, diag)?;
            let enrichment = enrichments.get(index);
            let detection = match &mut self.detector {
                Some(detector) => detector.detect(record, enrichment),
                None => Detection::default(),
            };
            let is_event = !matches!(record.kind(), EventKind::LostEvents | EventKind::ContentChanged);
            // The content's final verdict, every field known: counted in the detection counters.
            if detection.filtered {
                continue;
            }
            if self.only_detections && is_event && detection.is_empty() {
                self.summary.not_detected_skipped = self.summary.not_detected_skipped.saturating_add(1);
                continue;
            }
            for (format, out) in outs.iter_mut() {
                self.write(record, enrichment, &detection, *format, &mut **out)?;
            }
            rendered = rendered.saturating_add(1);
        }
        if let Some(detector) = &self.detector {
            self.summary.detection = Some(detector.counts());
        }
        if let Some(error) = damage {
            self.summary.damaged_batches = self.summary.damaged_batches.saturating_add(1);
            writeln!(diag, "ringfence: {}", DamagedBatch { error, len: batch.len() })?;
        }
        self.summary.unexplained = self.tracker.unexplained();
        self.summary.restarts = self.tracker.restarts();
        if let Some(enricher) = &self.enricher {
            self.summary.enrichment = enricher.counts();
        }
        Ok(BatchOutcome { rendered, damage })
    }

    fn account<E: Write + ?Sized>(&mut self, record: &Record<'_>, diag: &mut E) -> io::Result<()> {
        if let Some(slot) = self.summary.by_kind.iter_mut().find(|(k, _)| *k == record.kind()) {
            slot.1 = slot.1.saturating_add(1);
        }
        if record.kind() == EventKind::LostEvents {
            use field::LostEvents as F;
            let n = |i: F| record.field(i as u8).and_then(|v| v.as_u64()).unwrap_or(0);
            let (count, first, last) = (n(F::count), n(F::first_sequence), n(F::last_sequence));
            self.summary.lost = self.summary.lost.saturating_add(count);
            self.tracker.announce_lost(first, last);
            writeln!(
                diag,
                "ringfence: the driver dropped {count} events (sequence {first}..={last}; process_start {}, \
                 process_exit {}, image_load {}, content_changed {}): its queue was full; raise QueueBytes \
                 or read faster",
                n(F::process_start),
                n(F::process_exit),
                n(F::image_load),
                n(F::content_changed)
            )?;
        }
        match self.tracker.observe(record.sequence()) {
            Observation::InOrder => Ok(()),
            Observation::Gaps(gaps) => {
                for gap in gaps {
                    writeln!(
                        diag,
                        "ringfence: sequence gap: {} record(s) numbered {gap} never arrived and no lost-events \
                         record announced them",
                        gap.len()
                    )?;
                }
                Ok(())
            }
            Observation::WentBack { expected, found } => writeln!(
                diag,
                "ringfence: sequence went back from {expected} to {found}: the driver was restarted"
            ),
        }
    }

    fn write(
        &mut self,
        record: &Record<'_>,
        enrichment: Option<&Enrichment>,
        detection: &Detection,
        format: Format,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let rules = self.detector.as_ref().map(Detector::catalog).filter(|_| !detection.is_empty());
        match format {
            Format::Json => match rules {
                None => self.renderer.write_json_with(record, enrichment, out),
                Some(rules) => {
                    let mut doc = self.renderer.doc_with(record, enrichment);
                    crate::detection::put_ecs(&mut doc, rules, detection, content_rule(record).as_deref());
                    doc.write(out)?;
                    out.write_all(b"\n")
                }
            },
            Format::Table => {
                if !self.header_written {
                    Renderer::write_table_header(out)?;
                    self.header_written = true;
                }
                match rules {
                    None => self.renderer.write_table_row_with(record, enrichment, out),
                    Some(rules) => {
                        let mut row = Vec::new();
                        self.renderer.write_table_row_with(record, enrichment, &mut row)?;
                        if row.last() == Some(&b'\n') {
                            row.pop();
                        }
                        out.write_all(&row)?;
                        writeln!(out, "{}", crate::detection::table_mark(rules, detection))
                    }
                }
            }
            Format::Sysmon => {
                let none = Enrichment::default();
                match enriched::sysmon_event(record, enrichment.unwrap_or(&none)) {
                    Some(mut event) => {
                        if let Some(rules) = rules {
                            let name = crate::detection::sysmon_rule_name(
                                rules,
                                detection,
                                content_rule(record).as_deref(),
                            );
                            *event.rule_name_mut() = name;
                        }
                        self.sysmon.write(&event, out)
                    }
                    None => {
                        let details = crate::render::table_details(record, None);
                        if record.kind() == EventKind::ContentChanged {
                            self.sysmon.write_config_state(record.timestamp(), &details, out)
                        } else {
                            self.sysmon.write_error(record.timestamp(), "RingfenceLostEvents", &details, out)
                        }
                    }
                }
            }
        }
    }

    /// The enrichment stage's counters now (backlog included); zero without one.
    pub fn enrichment(&self) -> StageCounts {
        self.enricher.as_ref().map(Enricher::counts).unwrap_or_default()
    }

    /// Continues the accounting of a stream whose records up to `sequence`
    /// were written by an earlier run: the next record is expected after it.
    pub fn resume_after(&mut self, sequence: u64) {
        let _ = self.tracker.observe(sequence);
    }

    /// Accounts `first..=last` as lost by the companion itself (announced in
    /// its own record), so that they are not reported as unexplained gaps.
    pub fn announce_lost(&mut self, first: u64, last: u64) {
        self.tracker.announce_lost(first, last);
    }

    /// The enrichment stage's volume map; `None` without the stage.
    pub fn volume_map(&self) -> Option<&crate::enrich::dos_path::VolumeMap> {
        self.enricher.as_ref().map(|enricher| enricher.volumes())
    }

    pub fn summary(&self) -> &Summary {
        &self.summary
    }
}

/// The name of the content's include rule that kept `record`, when one did.
fn content_rule(record: &Record<'_>) -> Option<String> {
    let index = record.def().field_index("rule_name")?;
    let text = record.field(index)?.as_text()?;
    Some(crate::text::render(text).value).filter(|n| !n.is_empty())
}

/// An unsized writer behind a sized one, to be handed on as `&mut dyn Write`.
struct Unsized<'w, W: ?Sized>(&'w mut W);

impl<W: Write + ?Sized> Write for Unsized<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// The message for a batch whose tail does not decode.
#[derive(Clone, Copy, Debug)]
pub struct DamagedBatch {
    pub error: BatchError,
    pub len: usize,
}

impl fmt::Display for DamagedBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let e = self.error;
        let at = e.offset.saturating_add(e.error.offset);
        write!(
            f,
            "damaged batch from the driver ({} bytes): record {} (at byte {}) does not decode at byte {at}: ",
            self.len, e.index, e.offset
        )?;
        match e.error.kind {
            DecodeErrorKind::Truncated { needed, available } => {
                write!(f, "truncated, {needed} bytes needed, {available} available")?
            }
            DecodeErrorKind::BadSize { size } => {
                write!(f, "size field {size} is not a multiple of 8 of at least 32")?
            }
            DecodeErrorKind::UnknownKind { code } => write!(f, "unknown event kind {code}")?,
            DecodeErrorKind::SchemaVersion { found, expected } => {
                write!(f, "schema version {found}, this companion reads {expected}")?
            }
            DecodeErrorKind::FieldCount { kind, found, expected } => {
                write!(f, "{} with {found} fields, the schema has {expected}", kind.name())?
            }
            DecodeErrorKind::Reserved => write!(f, "reserved header bits are set")?,
            DecodeErrorKind::NotOptional { field } => {
                write!(f, "field {field} is marked absent but is not an optional field of this kind")?
            }
            DecodeErrorKind::AbsentNotZero { field } => {
                write!(f, "field {field} is marked absent but its slot is not zero")?
            }
            DecodeErrorKind::SlotsOutOfBounds { field_count } => {
                write!(f, "{field_count} field slots do not fit in the record")?
            }
            DecodeErrorKind::ScalarOutOfRange { field } => {
                write!(f, "field {field} is out of range for its type")?
            }
            DecodeErrorKind::StringOutOfBounds { field } => {
                write!(f, "string field {field} points outside the record")?
            }
            DecodeErrorKind::StringOddLength { field } => {
                write!(f, "string field {field} has an odd byte length")?
            }
            DecodeErrorKind::StringTooLong { field, bytes, max } => {
                write!(f, "string field {field} is {bytes} bytes long, over its limit of {max}")?
            }
            DecodeErrorKind::IdsOutOfBounds { field } => {
                write!(f, "id list field {field} points outside the record or out of place")?
            }
            DecodeErrorKind::IdsLength { field, bytes } => {
                write!(f, "id list field {field} is {bytes} bytes long, not a whole number of ids")?
            }
            DecodeErrorKind::TooManyIds { field, count, max } => {
                write!(f, "id list field {field} holds {count} ids, over its limit of {max}")?
            }
            DecodeErrorKind::RestBeforeFull { field, count, rest } => {
                write!(f, "id list field {field} holds {count} ids, below its limit, yet counts {rest} more")?
            }
            DecodeErrorKind::Truncation { field } => {
                write!(f, "the truncated field marks field {field}, which is not a string at its limit")?
            }
            DecodeErrorKind::Padding => {
                write!(f, "padding is not zero or the size is not the data rounded to 8")?
            }
        }
        write!(
            f,
            "; the {} record(s) before it were rendered, the rest of the batch is discarded (a driver bug: report it)",
            e.index
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_gives_events_by_kind_losses_and_the_rate() {
        let summary = Summary {
            by_kind: vec![(EventKind::ProcessStart, 30), (EventKind::ImageLoad, 70)],
            lost: 5,
            unexplained: 2,
            restarts: 1,
            damaged_batches: 0,
            enrichment: StageCounts::default(),
            detection: None,
            not_detected_skipped: 0,
        };
        assert_eq!(
            summary.display(Duration::from_secs(4)).to_string(),
            "100 events in 4.0 s (25.0/s): process_start 30, image_load 70; lost 5 (announced by the driver), \
             missing unannounced 2, restarts 1, damaged batches 0"
        );
        assert!(
            Summary::default().display(Duration::ZERO).to_string().starts_with("0 events in 0.0 s (0.0/s)")
        );
    }
}
