//! `ringfence stats`: the driver's counters for people and as JSON.

use std::io::{self, Write};

use ringfence_wire::EventKind;
use ringfence_wire::ioctl::{HelloResponse, Notes, StatsResponse};
use serde_json::{Value, json};

/// `major.minor.patch` of a packed driver version.
pub fn version(v: u32) -> String {
    format!("{}.{}.{}", v >> 16, (v >> 8) & 0xFF, v & 0xFF)
}

/// The notes the driver set, as sentences.
fn notes(stats: &StatsResponse) -> Vec<&'static str> {
    let mut out = Vec::new();
    if stats.notes.contains(Notes::QUEUE_BYTES_PARAM_INVALID) {
        out.push("the QueueBytes registry value has the wrong type or size: the default queue size is used");
    }
    if stats.notes.contains(Notes::QUEUE_BYTES_CLAMPED) {
        out.push("the QueueBytes registry value is outside the limits: it was clamped");
    }
    if stats.notes.contains(Notes::CONTENT_FALLBACK) {
        out.push(
            "at this start the crash-loop guard did not load the persisted content it was asked to (the \
             content_changed records say why): check `ringfence content push` output and docs/windows.md, \
             \"Recovering from a content crash loop\"",
        );
    }
    if stats.notes.contains(Notes::TRUST_PARAM_INVALID) {
        out.push(
            "a content-trust parameter (RequireSignedContent, Ring, ContentPin, CrashLoopThreshold, TrialEvents, \
             TrialSeconds) has the wrong type or value: its default is used",
        );
    }
    if stats.notes.contains(Notes::TRUSTED_KEYS_INVALID) {
        out.push(
            "the TrustedKeys registry value (or the keys built into the driver) is malformed: no key from it is \
             trusted",
        );
    }
    if stats.notes.contains(Notes::PROCESS_TABLE_BYTES_PARAM_INVALID) {
        out.push(
            "the ProcessTableBytes registry value has the wrong type or size: the default table size is used",
        );
    }
    if stats.notes.contains(Notes::PROCESS_TABLE_BYTES_CLAMPED) {
        out.push("the ProcessTableBytes registry value is outside the limits: it was clamped");
    }
    out
}

pub fn json(device: &str, hello: &HelloResponse, stats: &StatsResponse) -> Value {
    let kinds: serde_json::Map<String, Value> = EventKind::ALL
        .iter()
        .map(|k| {
            let c = stats.kind(*k);
            (
                k.name().to_owned(),
                json!({"seen": c.seen, "filtered": c.filtered, "queued": c.queued, "dropped": c.dropped}),
            )
        })
        .collect();
    json!({
        "device": device,
        "driver_version": version(hello.driver_version),
        "protocol_version": hello.protocol_version,
        "schema_version": hello.schema_version,
        "content": {
            "active_version": stats.active_content_version,
            "loads_accepted": stats.content_loads_accepted,
            "loads_rejected": stats.content_loads_rejected,
            "format": stats.content.format,
            "scratch_failures": stats.content.scratch_failures,
            "evaluation_errors": stats.content.evaluation_errors,
        },
        "queue": {
            "capacity_bytes": stats.queue_capacity_bytes,
            "used_bytes": stats.queue_used_bytes,
            "high_water_bytes": stats.queue_high_water_bytes,
        },
        "records_delivered": stats.records_delivered,
        "process_table": {
            "capacity_bytes": stats.process_table.capacity_bytes,
            "used_bytes": stats.process_table.used_bytes,
            "entries": stats.process_table.entries,
            "max_entries": stats.process_table.max_entries,
            "inserts": stats.process_table.inserts,
            "evictions": stats.process_table.evictions,
            "truncations": stats.process_table.truncations,
            "misses": stats.process_table.misses,
            "failures": stats.process_table.failures,
        },
        "kinds": kinds,
        "balanced": stats.balanced(),
        "notes": notes(stats),
    })
}

pub fn human<W: Write + ?Sized>(
    device: &str,
    hello: &HelloResponse,
    stats: &StatsResponse,
    out: &mut W,
) -> io::Result<()> {
    writeln!(
        out,
        "driver           {device}: version {}, protocol {}, schema {}",
        version(hello.driver_version),
        hello.protocol_version,
        hello.schema_version
    )?;
    writeln!(
        out,
        "content          version {} active, format {} ({} loads accepted, {} rejected; {} format-2 evaluations \
         without scratch memory, {} stopped by an error)",
        stats.active_content_version,
        stats.content.format,
        stats.content_loads_accepted,
        stats.content_loads_rejected,
        stats.content.scratch_failures,
        stats.content.evaluation_errors
    )?;
    writeln!(
        out,
        "queue            {} of {} bytes used, high water {}",
        stats.queue_used_bytes, stats.queue_capacity_bytes, stats.queue_high_water_bytes
    )?;
    writeln!(out, "records read     {}", stats.records_delivered)?;
    let t = &stats.process_table;
    writeln!(
        out,
        "process table    {} of {} processes, {} of {} bytes; {} entered, {} evicted, {} strings cut, {} misses ({} not filled)",
        t.entries,
        t.max_entries,
        t.used_bytes,
        t.capacity_bytes,
        t.inserts,
        t.evictions,
        t.truncations,
        t.misses,
        t.failures
    )?;
    writeln!(out)?;
    writeln!(out, "{:<16} {:>12} {:>12} {:>12} {:>12}", "EVENT", "SEEN", "FILTERED", "QUEUED", "DROPPED")?;
    for kind in EventKind::ALL {
        let c = stats.kind(*kind);
        writeln!(
            out,
            "{:<16} {:>12} {:>12} {:>12} {:>12}",
            kind.name(),
            c.seen,
            c.filtered,
            c.queued,
            c.dropped
        )?;
    }
    if !stats.balanced() {
        writeln!(
            out,
            "\nwarning: for some kind, seen != filtered + queued + dropped: a driver bug, report it"
        )?;
    }
    for note in notes(stats) {
        writeln!(out, "note: {note}")?;
    }
    Ok(())
}

fn level(level: u32) -> &'static str {
    match level {
        2 => "the content on trial",
        1 => "the last-known-good content",
        _ => "no content",
    }
}

/// The crash-loop guard, for people.
pub fn guard_human<W: Write + ?Sized>(
    trust: &ringfence_wire::ioctl::TrustResponse,
    out: &mut W,
) -> io::Result<()> {
    writeln!(
        out,
        "guard            next start loads {}; {} unhealthy starts in a row (threshold {}); {} promotions, {} \
         fallbacks at this start",
        level(trust.level),
        trust.unhealthy_starts,
        trust.threshold,
        trust.promotions,
        trust.start_fallbacks
    )?;
    let watching = if trust.watching {
        format!(
            "on trial: {} of {} events over at least {} s before it counts as healthy",
            trust.watched_events, trust.health_events, trust.health_seconds
        )
    } else {
        "not on trial".to_owned()
    };
    writeln!(out, "active content   from {}; {watching}", level(trust.active_level))?;
    writeln!(
        out,
        "loads refused    {} signature, {} validation, {} policy, {} could not be saved{}",
        trust.refused_signature,
        trust.refused_validation,
        trust.refused_policy,
        trust.refused_persistence,
        if trust.persistent { "" } else { " (persistence unavailable: content is not kept across restarts)" }
    )
}

/// The trust policy and guard as JSON.
pub fn trust_json(trust: &ringfence_wire::ioctl::TrustResponse) -> Value {
    let keys: Vec<String> = trust.keys().iter().map(|id| ringfence_trust::KeyId(*id).to_string()).collect();
    json!({
        "signatures_required": trust.signatures_required,
        "trusted_keys": keys,
        "ring": trust.ring,
        "pin": trust.pin,
        "driver_version": version(trust.sensor_version),
        "persistent": trust.persistent,
        "guard": {
            "level": trust.level,
            "unhealthy_starts": trust.unhealthy_starts,
            "threshold": trust.threshold,
            "newest_offered": trust.newest_offered,
            "promotions": trust.promotions,
            "start_fallbacks": trust.start_fallbacks,
        },
        "active_level": trust.active_level,
        "trial": {
            "watching": trust.watching,
            "events": trust.watched_events,
            "events_needed": trust.health_events,
            "seconds_needed": trust.health_seconds,
        },
        "refused": {
            "signature": trust.refused_signature,
            "validation": trust.refused_validation,
            "policy": trust.refused_policy,
            "persistence": trust.refused_persistence,
        },
    })
}
