//! The callback path with content: verdicts, tagging, swaps under load.

use super::*;
use crate::content_slot::judge;
use crate::host::Host;
use crate::processes::ProcessTable;
use ringfence_wire::schema::{EventKind, SCHEMA};
use ringfence_wire::{Batch, Text};

fn sensor() -> Sensor<Host> {
    Sensor::new(
        Queue::with_capacity(1 << 20).unwrap(),
        ProcessTable::with_budget(256 << 10).unwrap(),
        Notes::NONE,
    )
}

fn content(source: &str) -> Vec<u8> {
    ringfence_content::compile(source, &SCHEMA).expect("test rules compile")
}

fn load(sensor: &Sensor<Host>, bytes: &[u8]) -> u32 {
    sensor.install(judge(bytes).unwrap().into_owned().unwrap())
}

fn start(path: &[u16]) -> Event<'_> {
    Event::ProcessStart {
        pid: 10,
        parent_pid: 4,
        creating_pid: 4,
        creating_tid: 8,
        session_id: 1,
        image_path: Some(Text::wide(path)),
        command_line: None,
        start_key: 1,
        create_time: 2,
        image_name_available: true,
        rule_name: Text::default(),
        parent_start_key: None,
        parent_image_path: None,
        parent_command_line: None,
        user_sid: None,
        logon_id: None,
        integrity_level: None,
        elevation_type: None,
        parent_user_sid: None,
        truncated: 0,
    }
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
}

fn drain(sensor: &Sensor<Host>) -> Vec<(EventKind, String)> {
    let mut out = vec![0u8; 1 << 20];
    let n = sensor.read(&mut out).unwrap();
    Batch::new_checked(&out[..n])
        .unwrap()
        .iter()
        .map(|r| {
            let rule = match r.event() {
                Event::ProcessStart { rule_name, .. } | Event::ImageLoad { rule_name, .. } => {
                    rule_name.chars().map(|c| c.unwrap()).collect()
                }
                _ => String::new(),
            };
            (r.kind(), rule)
        })
        .collect()
}

const INCLUDE_CMD: &str = r#"
version = 3

[[rule]]
name = "cmd"
kind = "process_start"
action = "include"
match = [{ field = "image_path", ends_with = "\\cmd.exe" }]
"#;

const INCLUDE_POWERSHELL: &str = r#"
version = 4

[[rule]]
name = "powershell"
kind = "process_start"
action = "include"
match = [{ field = "image_path", ends_with = "\\powershell.exe" }]
"#;

#[test]
fn without_content_every_event_is_kept_untagged() {
    let sensor = sensor();
    let path = wide("C:\\x.exe");
    sensor.observe(start(&path));
    assert_eq!(drain(&sensor), vec![(EventKind::ProcessStart, String::new())]);
}

#[test]
fn kept_events_carry_the_name_of_the_include_rule_that_matched() {
    let sensor = sensor();
    assert_eq!(load(&sensor, &content(INCLUDE_CMD)), 3);
    let cmd = wide("C:\\Windows\\System32\\CMD.EXE");
    let other = wide("C:\\x.exe");
    assert!(sensor.observe(start(&cmd)).is_some());
    assert_eq!(sensor.observe(start(&other)), None, "filtered");
    assert_eq!(drain(&sensor), vec![(EventKind::ProcessStart, "cmd".into())]);
    let stats = sensor.stats();
    let c = stats.kind(EventKind::ProcessStart);
    assert_eq!((c.seen, c.filtered, c.queued, c.dropped), (2, 1, 1, 0));
}

#[test]
fn a_swap_changes_the_verdict_of_the_next_event() {
    let sensor = sensor();
    let cmd = wide("C:\\cmd.exe");
    let ps = wide("C:\\powershell.exe");
    load(&sensor, &content(INCLUDE_CMD));
    sensor.observe(start(&cmd));
    sensor.observe(start(&ps));
    load(&sensor, &content(INCLUDE_POWERSHELL));
    sensor.observe(start(&cmd));
    sensor.observe(start(&ps));
    assert_eq!(
        drain(&sensor),
        vec![(EventKind::ProcessStart, "cmd".into()), (EventKind::ProcessStart, "powershell".into())]
    );
    assert_eq!(sensor.content_version(), 4);
    assert_eq!(sensor.stats().content_loads_accepted, 2);
}

#[test]
fn rejected_content_is_never_installed() {
    let mut bad = content(INCLUDE_CMD);
    let last = bad.len() - 1;
    bad[last] ^= 0xFF; // breaks the checksum
    assert!(judge(&bad).is_err());
    let sensor = sensor();
    load(&sensor, &content(INCLUDE_POWERSHELL));
    assert_eq!(sensor.content_version(), 4);
}

#[test]
fn callbacks_running_during_swaps_see_old_or_new_content_whole() {
    let sensor = std::sync::Arc::new(sensor());
    let a = content(INCLUDE_CMD);
    let b = content(INCLUDE_POWERSHELL);
    load(&sensor, &a);
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let sensor = std::sync::Arc::clone(&sensor);
            std::thread::spawn(move || {
                let cmd = wide("C:\\cmd.exe");
                let ps = wide("C:\\powershell.exe");
                for i in 0..2000 {
                    sensor.observe(start(if i % 2 == 0 { &cmd } else { &ps }));
                }
            })
        })
        .collect();
    for i in 0..200 {
        load(&sensor, if i % 2 == 0 { &a } else { &b });
    }
    for worker in workers {
        worker.join().unwrap();
    }
    let stats = sensor.stats();
    assert!(stats.balanced());
    assert_eq!(stats.kind(EventKind::ProcessStart).seen, 6000);
    for (_, rule) in drain(&sensor) {
        assert!(rule == "cmd" || rule == "powershell", "{rule}");
    }
}
