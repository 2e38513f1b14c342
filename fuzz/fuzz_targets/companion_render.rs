//! Whatever bytes a READ returns, the companion renders them without panicking:
//! every JSON output line parses, one line per rendered record, and every
//! escaped string unescapes; enriched and in Sysmon's shape too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::cell::RefCell;

use ringfence_companion::enrich::stage::{EnrichConfig, Enricher, Sources};
use ringfence_companion::text::unescape;
use ringfence_companion::{EventStream, Format, Host};
use serde_json::Value;

thread_local! {
    /// One enriched stream for the whole run (its account worker is a thread).
    static SYSMON: RefCell<EventStream> = RefCell::new({
        let config = EnrichConfig { files: None, ..EnrichConfig::default() };
        let enricher = Enricher::new(config, Sources::default(), "fuzz").expect("the worker starts");
        EventStream::with_enricher(Host { name: "fuzz".into() }, enricher, Format::Sysmon)
    });
}

fuzz_target!(|data: &[u8]| {
    let mut json = EventStream::new(Host { name: "fuzz".into() }, Format::Json);
    let (mut out, mut diag) = (Vec::new(), Vec::new());
    let outcome = json.render_batch(data, &mut out, &mut diag).expect("writing to a Vec cannot fail");
    let text = String::from_utf8(out).expect("output is UTF-8");
    assert_eq!(text.lines().count(), outcome.rendered);
    for line in text.lines() {
        let doc: Value = serde_json::from_str(line).expect("every line is JSON");
        let escaped = doc.pointer("/ringfence/escaped").and_then(Value::as_array).cloned().unwrap_or_default();
        for name in escaped.iter().filter_map(Value::as_str) {
            let pointer = format!("/{}", name.replace('.', "/"));
            let value = doc.pointer(&pointer).and_then(Value::as_str).expect("an escaped field is a string");
            unescape(value).expect("the escape reverses");
        }
    }
    // The same bytes again: the process table and sequence state carry over.
    json.render_batch(data, &mut Vec::new(), &mut Vec::new()).expect("writing to a Vec cannot fail");

    let mut table = EventStream::new(Host { name: "fuzz".into() }, Format::Table);
    let mut rows = Vec::new();
    table.render_batch(data, &mut rows, &mut Vec::new()).expect("writing to a Vec cannot fail");
    String::from_utf8(rows).expect("output is UTF-8");

    SYSMON.with(|stream| {
        let mut out = Vec::new();
        let outcome = stream
            .borrow_mut()
            .render_batch(data, &mut out, &mut Vec::new())
            .expect("writing to a Vec cannot fail");
        let text = String::from_utf8(out).expect("output is UTF-8");
        assert_eq!(text.lines().count(), outcome.rendered);
        for line in text.lines() {
            let event: Value = serde_json::from_str(line).expect("every line is JSON");
            assert!(event["EventID"].is_u64(), "every line has its EventID");
        }
    });
});
