//! The periodic health record: the driver's counters (STATS), what the
//! service wrote, what was lost and where, each output's state and bytes on
//! disk — so that a SIEM sees a sensor that went quiet, and why.

use serde_json::{Value, json};

use super::Service;
use super::connector::Connector;
use super::records::ServiceRecord;
use crate::client;
use crate::clock::{Clock, Now};
use crate::device::Device;
use crate::output::{Sink, Storage};

impl<C: Connector, S: Storage, K: Clock> Service<C, S, K> {
    /// Writes a health record now and schedules the next.
    pub(super) fn health(&mut self, now: Now) {
        self.next_health = now.monotonic.saturating_add(self.config.health_interval);
        let driver = match &mut self.link {
            Some(link) => {
                let hello = *link.session.hello();
                let name = link.session.device().name().to_owned();
                match client::stats(link.session.device()) {
                    Ok(stats) => crate::stats_view::json(&name, &hello, &stats),
                    Err(e) => json!({ "device": name, "error": e.to_string() }),
                }
            }
            None => Value::Null,
        };
        let outputs: Vec<Value> = self.slots.iter_mut().map(|slot| output_health(slot, now)).collect();
        let summary = self.stream.summary().clone();
        let by_kind: serde_json::Map<String, Value> =
            summary.by_kind.iter().map(|(k, n)| (k.name().to_owned(), json!(n))).collect();
        let e = self.stream.enrichment();
        let enrichment = json!({
            "backlog": e.backlog,
            "files_asked": e.files_asked,
            "not_enriched": e.not_enriched,
            "timed_out": e.timed_out,
            "queue_full": e.busy,
            "unreadable": e.unreadable,
            "no_dos_path": e.no_dos_path,
            "users_unnamed": e.users_unnamed,
        });
        let sigma = summary.detection.map(|d| {
            json!({
                "rules_loaded": d.rules_loaded,
                "rules_refused": d.rules_refused,
                "events_matched": d.events_matched,
                "detections": d.detections,
                "events_undecided": d.events_undecided,
            })
        });
        let c = self.counters;
        self.counters.health_records = self.counters.health_records.saturating_add(1);
        let uptime = now.monotonic.saturating_sub(self.started.monotonic).as_secs();
        let bytes_on_disk: u64 =
            outputs.iter().filter_map(|o| o.pointer("/bytes_on_disk").and_then(Value::as_u64)).sum();
        let mut message = format!(
            "health: {} events written, {} lost by the driver, {} lost by the companion, {} missing unannounced, \
             {} not enriched, {} bytes on disk, driver {}",
            c.events_written,
            summary.lost,
            c.lost_by_companion,
            summary.unexplained,
            e.not_enriched,
            bytes_on_disk,
            if driver.is_null() { "not connected" } else { "connected" }
        );
        if let Some(d) = summary.detection {
            message.push_str(&format!(
                ", Sigma: {} events matched ({} detections)",
                d.events_matched, d.detections
            ));
        }
        let mut fields = json!({
            "uptime_seconds": uptime,
            "connected": !driver.is_null(),
            "driver": driver,
            "events": {
                "written": c.events_written,
                "pending": c.events_pending,
                "read_by_kind": by_kind,
            },
            "lost": {
                "announced_by_driver": summary.lost,
                "by_companion": c.lost_by_companion,
                "unannounced": summary.unexplained,
            },
            "driver_restarts": summary.restarts,
            "damaged_batches": summary.damaged_batches,
            "connections": c.connections,
            "disconnections": c.disconnections,
            "output_failures": c.output_failures,
            "bytes_on_disk": bytes_on_disk,
            "outputs": outputs,
            "enrichment": enrichment,
        });
        if let (Some(sigma), Some(object)) = (sigma, fields.as_object_mut()) {
            object.insert("sigma".into(), sigma);
        }
        let mut record = ServiceRecord::new("health", message, fields);
        record.kind = "metric";
        self.write_record(&record, now);
    }
}

fn output_health<S: Storage>(slot: &mut super::outputs::Slot<S>, now: Now) -> Value {
    let state = match &slot.down {
        None => json!({ "writing": true }),
        Some(outage) => json!({
            "writing": false,
            "failing_for_seconds": now.monotonic.saturating_sub(outage.since.monotonic).as_secs(),
            "failures": outage.failures,
            "last_error": outage.last_error,
        }),
    };
    let mut value = json!({ "output": slot.sink.describe(), "kind": slot.sink.kind(), "state": state });
    if let (Sink::File(log), Some(object)) = (&mut slot.sink, value.as_object_mut()) {
        let counters = log.counters();
        object.insert("bytes_on_disk".into(), json!(log.bytes_on_disk().ok()));
        object.insert("bytes_written".into(), json!(counters.bytes_written));
        object.insert("rotations".into(), json!(counters.rotations));
        object.insert("files_removed".into(), json!(counters.files_removed));
        object.insert("remove_failures".into(), json!(counters.remove_failures));
        object.insert("torn_bytes_cut".into(), json!(counters.torn_bytes_cut));
    }
    value
}
