//! The Windows Application event log as an output (Windows only; compiled and
//! checked by clippy for x86_64-pc-windows-msvc on Linux, never run there).
//!
//! Each line becomes one event of the source (default `ringfence`), whose
//! text is the line's JSON. Event IDs follow Sysmon's where they mean the same:
//! 1 process start, 5 process exit, 7 image load, 16 content changed, 255
//! events lost (a warning), 4 the service's own records (state and health).
//! `ringfence service install` registers the source with .NET's
//! `EventLogMessages.dll` as its message file (as `EventLog.CreateEventSource`
//! does), whose every message is `%1`, so viewers and Winlogbeat show the JSON.
//! One insertion string holds at most 31,839 characters: a longer line is
//! split over several (param1, param2, ... in Winlogbeat's `winlog.event_data`).

use std::ptr;

use windows_sys::Win32::Foundation::{GetLastError, HANDLE};
use windows_sys::Win32::System::EventLog::{
    DeregisterEventSource, EVENTLOG_INFORMATION_TYPE, EVENTLOG_WARNING_TYPE, REPORT_EVENT_TYPE,
    RegisterEventSourceW, ReportEventW,
};

use crate::output::SinkError;

/// The most UTF-16 units `ReportEventW` takes in one insertion string.
const MAX_STRING_UNITS: usize = 31_839;

/// A registered event source.
///
/// # Invariants
/// `handle` is a valid event source handle owned by this value until `drop`.
#[derive(Debug)]
pub struct EventLog {
    source: String,
    handle: HANDLE,
    /// Bytes of the batch being retried that already reached the log.
    done: usize,
}

// SAFETY: an event source handle may be used from any thread (advapi32 serialises access).
unsafe impl Send for EventLog {}

impl EventLog {
    /// Opens `source` on this machine; `Err` carries the Win32 error.
    pub fn open(source: &str) -> Result<Self, u32> {
        let wide: Vec<u16> = source.encode_utf16().chain(Some(0)).collect();
        // SAFETY: `wide` is NUL-terminated and outlives the call; a null server name means this machine.
        let handle = unsafe { RegisterEventSourceW(ptr::null(), wide.as_ptr()) };
        if handle.is_null() {
            // SAFETY: reads this thread's last error; no preconditions.
            return Err(unsafe { GetLastError() });
        }
        // INVARIANT: `handle` came from a successful RegisterEventSourceW.
        Ok(EventLog { source: source.to_owned(), handle, done: 0 })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// Writes each line as one event. The log cannot take a line back: after a
    /// failure the service retries the same lines, and those already written are skipped.
    pub fn write(&mut self, lines: &[u8]) -> Result<(), SinkError> {
        let mut at = 0usize;
        for line in lines.split_inclusive(|b| *b == b'\n') {
            let end = at.saturating_add(line.len());
            if end > self.done {
                if let Err(code) = self.report(line.strip_suffix(b"\n").unwrap_or(line)) {
                    self.done = at;
                    return Err(SinkError::EventLog { source: self.source.clone(), code });
                }
            }
            at = end;
        }
        self.done = 0;
        Ok(())
    }

    fn report(&mut self, line: &[u8]) -> Result<(), u32> {
        let (id, kind) = event_id(line);
        let text = String::from_utf8_lossy(line);
        let units: Vec<u16> = text.encode_utf16().collect();
        let strings: Vec<Vec<u16>> =
            units.chunks(MAX_STRING_UNITS).map(|c| c.iter().copied().chain(Some(0)).collect()).collect();
        let pointers: Vec<*const u16> = strings.iter().map(|s| s.as_ptr()).collect();
        let count = u16::try_from(pointers.len()).unwrap_or(u16::MAX);
        // SAFETY: the handle is valid (type invariant); `pointers` holds `count` pointers to
        // NUL-terminated strings that outlive the call; no SID and no raw data.
        let ok = unsafe {
            ReportEventW(self.handle, kind, 0, id, ptr::null_mut(), count, 0, pointers.as_ptr(), ptr::null())
        };
        if ok == 0 {
            // SAFETY: reads this thread's last error; no preconditions.
            return Err(unsafe { GetLastError() });
        }
        Ok(())
    }
}

/// The event ID and type of a line, from its `event.action`.
fn event_id(line: &[u8]) -> (u32, REPORT_EVENT_TYPE) {
    let action = serde_json::from_slice::<serde_json::Value>(line)
        .ok()
        .and_then(|v| v.pointer("/event/action").and_then(|a| a.as_str()).map(str::to_owned));
    match action.as_deref() {
        Some("process_start") => (1, EVENTLOG_INFORMATION_TYPE),
        Some("process_exit") => (5, EVENTLOG_INFORMATION_TYPE),
        Some("image_load") => (7, EVENTLOG_INFORMATION_TYPE),
        Some("content_changed") => (16, EVENTLOG_INFORMATION_TYPE),
        Some("lost_events") => (255, EVENTLOG_WARNING_TYPE),
        _ => (4, EVENTLOG_INFORMATION_TYPE),
    }
}

impl Drop for EventLog {
    fn drop(&mut self) {
        // SAFETY: the handle is valid and owned (type invariant) and not used after this.
        unsafe { DeregisterEventSource(self.handle) };
    }
}
