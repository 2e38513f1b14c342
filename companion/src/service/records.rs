//! The service's own records, written to every output beside the driver's
//! events so that a SIEM sees what the sensor itself went through: started,
//! connected, the driver unavailable or restarted, an output failing and
//! resuming, events the companion lost, health, stopped.
//!
//! They are ECS documents with `event.module: ringfence`, `event.dataset:
//! ringfence.service` and a `message` sentence; they never carry
//! `event.sequence`, which belongs to the driver's records alone.

use serde_json::{Value, json};

use crate::clock::Now;
use crate::render::ECS_VERSION;

/// One record of the service, rendered as a JSON line.
#[derive(Debug)]
pub struct ServiceRecord {
    pub action: &'static str,
    /// ECS `event.kind`: `event`, or `metric` for health.
    pub kind: &'static str,
    pub message: String,
    /// Under `ringfence.service`.
    pub details: Value,
    /// Extra top-level ECS fields, e.g. `ringfence.lost` for lost events.
    pub extra: Option<(&'static str, Value)>,
}

impl ServiceRecord {
    pub fn new(action: &'static str, message: String, details: Value) -> Self {
        ServiceRecord { action, kind: "event", message, details, extra: None }
    }

    /// The JSON line (with its newline) for `host` at `now`.
    pub fn line(&self, host: &str, now: Now) -> Vec<u8> {
        let timestamp = crate::time::rfc3339(now.filetime());
        let mut ringfence = json!({ "service": self.details });
        if let (Some((key, value)), Some(object)) = (&self.extra, ringfence.as_object_mut()) {
            object.insert((*key).to_owned(), value.clone());
        }
        let document = json!({
            "@timestamp": timestamp,
            "ecs": { "version": ECS_VERSION },
            "event": {
                "kind": self.kind,
                "module": "ringfence",
                "dataset": "ringfence.service",
                "action": self.action,
            },
            "host": { "name": host, "hostname": host, "os": { "type": "windows", "family": "windows" } },
            "agent": { "type": "ringfence", "version": env!("CARGO_PKG_VERSION") },
            "message": self.message,
            "ringfence": ringfence,
        });
        let mut line = serde_json::to_vec(&document).unwrap_or_default();
        line.push(b'\n');
        line
    }
}

/// Sequence numbers the companion read from the driver and never wrote: the
/// previous run died between reading them and writing them. Shaped like the
/// driver's own `lost_events` so that one query finds both.
pub fn lost_by_companion(first: u64, last: u64) -> ServiceRecord {
    let count = last.saturating_sub(first).saturating_add(1);
    let mut record = ServiceRecord::new(
        "lost_events",
        format!(
            "{count} event(s), sequence {first}..={last}, were read from the driver by the previous run of the service \
             and never written: it stopped without finishing its last batch"
        ),
        json!({ "lost_by": "companion" }),
    );
    record.extra = Some((
        "lost",
        json!({ "count": count, "first_sequence": first, "last_sequence": last, "origin": "companion" }),
    ));
    record
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    #[test]
    fn a_service_record_is_one_ecs_line_without_a_sequence_number() {
        let now = Now { monotonic: Duration::ZERO, wall: UNIX_EPOCH + Duration::from_secs(1_795_601_700) };
        let line = lost_by_companion(10, 12).line("WS1", now);
        assert_eq!(line.last(), Some(&b'\n'));
        let value: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(value.pointer("/@timestamp"), Some(&json!("2026-11-25T10:15:00.0000000Z")));
        assert_eq!(value.pointer("/event/action"), Some(&json!("lost_events")));
        assert_eq!(value.pointer("/event/dataset"), Some(&json!("ringfence.service")));
        assert_eq!(value.pointer("/event/sequence"), None);
        assert_eq!(
            value.pointer("/ringfence/lost"),
            Some(&json!({"count": 3, "first_sequence": 10, "last_sequence": 12, "origin": "companion"}))
        );
        assert_eq!(value.pointer("/host/name"), Some(&json!("WS1")));
    }
}
