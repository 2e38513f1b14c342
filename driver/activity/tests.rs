//! The callback paths with the process table, on the host: parents, loaders and
//! exiting processes named by the table, lazily filled from the kernel's answers
//! when the table lacks them, never taken from another process with the same pid.

use super::*;
use crate::host::{Host, HostProcesses};
use crate::queue::Queue;
use ringfence_wire::ioctl::Notes;
use ringfence_wire::schema::EventKind;
use ringfence_wire::{Batch, Record};

fn sensor() -> Sensor<Host> {
    Sensor::new(
        Queue::with_capacity(1 << 20).unwrap(),
        ProcessTable::with_budget(256 << 10).unwrap(),
        Notes::NONE,
    )
}

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
}

/// Every record queued so far, as owned bytes.
fn drain(sensor: &Sensor<Host>) -> Vec<Vec<u8>> {
    let mut out = vec![0u8; 1 << 20];
    let n = sensor.read(&mut out).unwrap();
    Batch::new_checked(&out[..n]).unwrap().iter().map(|r| r.as_bytes().to_vec()).collect()
}

fn only(sensor: &Sensor<Host>) -> Vec<u8> {
    let mut records = drain(sensor);
    assert_eq!(records.len(), 1);
    records.remove(0)
}

fn text(units: &Option<Text<'_>>) -> Option<String> {
    units.map(|t| String::from_utf16_lossy(&t.units().collect::<Vec<_>>()))
}

/// Field `name` of the record in `bytes`, as text (numbers in decimal); `None` when absent.
fn get(bytes: &[u8], name: &str) -> Option<String> {
    use ringfence_wire::Fields;
    let record = Record::new_checked(bytes).unwrap();
    let index = record.def().field_index(name).unwrap_or_else(|| panic!("no field {name}"));
    record.field(index).map(|v| match v {
        ringfence_wire::Value::Str(t) => String::from_utf16_lossy(&t.units().collect::<Vec<_>>()),
        other => other.as_u64().unwrap().to_string(),
    })
}

const USER: &str = "S-1-5-21-1004336348-1177238915-682003330-1001";
const SYSTEM: &str = "S-1-5-18";

struct Start {
    image: Vec<u16>,
    command: Vec<u16>,
    sid: Vec<u16>,
}

impl Start {
    fn new(image: &str, command: &str, sid: &str) -> Self {
        Start { image: wide(image), command: wide(command), sid: wide(sid) }
    }

    fn of(&self, pid: u32, parent_pid: u32, start_key: u64) -> NewProcess<'_> {
        NewProcess {
            pid,
            parent_pid,
            creating_pid: parent_pid,
            creating_tid: 8,
            session_id: 1,
            image_path: Some(&self.image),
            command_line: Some(&self.command),
            start_key,
            create_time: 133_000_000_000_000_000,
            image_name_available: true,
            token: Token {
                user_sid: Some(&self.sid),
                logon_id: Some(0x3_66A1),
                integrity_level: Some(0x2000),
                elevation_type: Some(3),
            },
        }
    }
}

fn start_fields(bytes: &[u8]) -> (Option<u64>, Option<String>, Option<String>, Option<String>, u32) {
    let Event::ProcessStart {
        parent_start_key,
        parent_image_path,
        parent_command_line,
        parent_user_sid,
        truncated,
        ..
    } = Record::new_checked(bytes).unwrap().event()
    else {
        panic!("not a process start")
    };
    (
        parent_start_key,
        text(&parent_image_path),
        text(&parent_command_line),
        text(&parent_user_sid),
        truncated,
    )
}

const K: u64 = 0x0003_0000_0000_0000;

#[test]
fn a_child_names_the_parent_the_table_holds_with_its_start_key_user_and_token() {
    let s = sensor();
    let mut kernel = HostProcesses::default();
    let explorer =
        Start::new(r"\Device\HarddiskVolume3\Windows\explorer.exe", r"C:\Windows\Explorer.EXE", USER);
    kernel.run(1000, K | 10, "elsewhere.exe", "not read", SYSTEM);
    s.process_start(&explorer.of(2000, 1000, K | 20), &kernel);
    drain(&s);
    kernel.run(2000, K | 20, "not read either", "", USER);
    let cmd = Start::new(r"\Device\HarddiskVolume3\Windows\System32\cmd.exe", "cmd.exe /c whoami", USER);
    let described = kernel.described.get();
    s.process_start(&cmd.of(3000, 2000, K | 30), &kernel);
    assert_eq!(kernel.described.get(), described, "the parent came from the table, not the kernel");
    let record = only(&s);
    assert_eq!(
        start_fields(&record),
        (
            Some(K | 20),
            Some(r"\Device\HarddiskVolume3\Windows\explorer.exe".into()),
            Some(r"C:\Windows\Explorer.EXE".into()),
            Some(USER.into()),
            0
        )
    );
    let Event::ProcessStart { user_sid, logon_id, integrity_level, elevation_type, .. } =
        Record::new_checked(&record).unwrap().event()
    else {
        panic!()
    };
    assert_eq!(
        (text(&user_sid).as_deref(), logon_id, integrity_level, elevation_type),
        (Some(USER), Some(0x3_66A1), Some(0x2000), Some(3))
    );
    let c = s.stats().process_table;
    assert_eq!((c.entries, c.inserts), (3, 3), "explorer, its parent (filled), cmd");
}

#[test]
fn a_parent_running_before_the_driver_is_filled_once_from_the_kernel() {
    let s = sensor();
    let mut kernel = HostProcesses::default();
    kernel.run(600, K | 6, r"\Device\HarddiskVolume3\Windows\System32\services.exe", "", SYSTEM);
    let svchost =
        Start::new(r"\Device\HarddiskVolume3\Windows\System32\svchost.exe", "svchost.exe -k netsvcs", SYSTEM);
    s.process_start(&svchost.of(700, 600, K | 7), &kernel);
    s.process_start(&svchost.of(704, 600, K | 8), &kernel);
    let records = drain(&s);
    for record in &records {
        assert_eq!(
            start_fields(record),
            (
                Some(K | 6),
                Some(r"\Device\HarddiskVolume3\Windows\System32\services.exe".into()),
                Some(String::new()),
                Some(SYSTEM.into()),
                0
            )
        );
    }
    assert_eq!(kernel.described.get(), 1, "asked once, then held");
    let c = s.stats().process_table;
    assert_eq!((c.misses, c.failures, c.entries), (1, 0, 3));
}

#[test]
fn a_parent_the_kernel_no_longer_knows_leaves_every_parent_field_absent() {
    let s = sensor();
    let kernel = HostProcesses::default();
    let child = Start::new("a.exe", "a", USER);
    s.process_start(&child.of(900, 1234, K | 9), &kernel);
    assert_eq!(start_fields(&only(&s)), (None, None, None, None, 0));
    assert_eq!(kernel.described.get(), 0, "no process to describe");
}

#[test]
fn a_reused_pid_never_lends_its_old_process_to_a_child() {
    let s = sensor();
    let mut kernel = HostProcesses::default();
    let old = Start::new("old.exe", "old --secret", USER);
    kernel.run(4, K, "System", "", SYSTEM);
    s.process_start(&old.of(500, 4, K | 50), &kernel);
    // Process 500 exits unnoticed and a new process gets pid 500.
    kernel.run(500, K | 51, "new.exe", "new", SYSTEM);
    let child = Start::new("child.exe", "child", SYSTEM);
    s.process_start(&child.of(510, 500, K | 52), &kernel);
    let records = drain(&s);
    assert_eq!(
        start_fields(&records[1]),
        (Some(K | 51), Some("new.exe".into()), Some("new".into()), Some(SYSTEM.into()), 0)
    );
    // The image load of pid 500 is the new process's too.
    let load = ImageMapping {
        pid: 500,
        image_path: Some(&[0x78]),
        image_base: 1,
        image_size: 2,
        time: 3,
        ..ImageMapping::default()
    };
    s.image_load(&load, &kernel);
    let r = only(&s);
    assert_eq!(get(&r, "process_image_path").as_deref(), Some("new.exe"));
    assert_eq!(get(&r, "process_start_key"), Some((K | 51).to_string()));
    assert_eq!(get(&r, "user_sid").as_deref(), Some(SYSTEM));
}

#[test]
fn an_exit_names_the_exiting_process_and_releases_its_entry() {
    let s = sensor();
    let mut kernel = HostProcesses::default();
    kernel.run(4, K, "System", "", SYSTEM);
    let app = Start::new(r"\Device\HarddiskVolume3\app.exe", "app", USER);
    s.process_start(&app.of(800, 4, K | 80), &kernel);
    assert_eq!(s.stats().process_table.entries, 2);
    s.process_exit(800, K | 80, 0xC000_0005, 7, &kernel);
    let records = drain(&s);
    let r = &records[1];
    assert_eq!(get(r, "image_path").as_deref(), Some(r"\Device\HarddiskVolume3\app.exe"));
    assert_eq!(get(r, "start_key"), Some((K | 80).to_string()));
    assert_eq!(get(r, "user_sid").as_deref(), Some(USER));
    assert_eq!(get(r, "exit_status"), Some(0xC000_0005u32.to_string()));
    assert_eq!(get(r, "truncated").as_deref(), Some("0"));
    assert_eq!(s.stats().process_table.entries, 1, "released after its exit record");
}

#[test]
fn an_exit_of_a_process_the_table_lacks_is_described_by_the_kernel_and_not_stored() {
    let s = sensor();
    let mut kernel = HostProcesses::default();
    kernel.run(900, K | 90, "old.exe", "old", SYSTEM);
    s.process_exit(900, K | 90, 0, 7, &kernel);
    let r = only(&s);
    assert_eq!(
        (get(&r, "image_path").as_deref(), get(&r, "user_sid").as_deref()),
        (Some("old.exe"), Some(SYSTEM))
    );
    let c = s.stats().process_table;
    assert_eq!((c.entries, c.inserts, c.misses, c.failures), (0, 0, 1, 0));
    // Gone from the kernel too: the exit still goes out, its names absent, the failure counted.
    s.process_exit(904, K | 91, 0, 8, &kernel);
    let r = only(&s);
    assert_eq!((get(&r, "image_path"), get(&r, "user_sid")), (None, None));
    assert_eq!(get(&r, "start_key"), Some((K | 91).to_string()));
    assert_eq!(s.stats().process_table.failures, 1);
}

#[test]
fn images_mapped_before_the_start_is_notified_fill_the_entry_the_start_then_replaces() {
    let s = sensor();
    let mut kernel = HostProcesses::default();
    kernel.run(4, K, "System", "", SYSTEM);
    // The kernel knows the new process (its EPROCESS exists) before the start callback.
    kernel.run(1200, K | 120, r"\Device\HarddiskVolume3\Windows\notepad.exe", "", USER);
    let ntdll = wide(r"\SystemRoot\System32\ntdll.dll");
    let load = ImageMapping {
        pid: 1200,
        image_path: Some(&ntdll),
        image_base: 0x7ff8_0000_0000,
        image_size: 0x1000,
        time: 5,
        ..ImageMapping::default()
    };
    s.image_load(&load, &kernel);
    let r = only(&s);
    assert_eq!(
        get(&r, "process_image_path").as_deref(),
        Some(r"\Device\HarddiskVolume3\Windows\notepad.exe")
    );
    assert_eq!(get(&r, "process_start_key"), Some((K | 120).to_string()));
    let notepad = Start::new(r"\??\C:\Windows\notepad.exe", "notepad.exe x.txt", USER);
    s.process_start(&notepad.of(1200, 4, K | 120), &kernel);
    drain(&s);
    s.image_load(&load, &kernel);
    let r = only(&s);
    assert_eq!(
        get(&r, "process_image_path").as_deref(),
        Some(r"\??\C:\Windows\notepad.exe"),
        "the start's own names win"
    );
    assert_eq!(s.stats().process_table.entries, 2);
}

#[test]
fn a_kernel_image_belongs_to_no_process_and_asks_the_kernel_nothing() {
    let s = sensor();
    let kernel = HostProcesses::default();
    let ntfs = wide(r"\SystemRoot\System32\drivers\ntfs.sys");
    let load =
        ImageMapping { pid: 0, image_path: Some(&ntfs), kernel_image: true, ..ImageMapping::default() };
    s.image_load(&load, &kernel);
    let r = only(&s);
    assert_eq!(
        (get(&r, "process_image_path"), get(&r, "process_start_key"), get(&r, "user_sid")),
        (None, None, None)
    );
    assert_eq!((kernel.described.get(), s.stats().process_table.misses), (0, 0));
}

#[test]
fn a_parent_command_line_over_the_table_limit_is_cut_and_marked_in_the_record() {
    let s = sensor();
    let mut kernel = HostProcesses::default();
    let long = "x".repeat(usize::from(ringfence_wire::schema::limits::TABLE_COMMAND_LINE_UNITS) + 10);
    kernel.run(1000, K | 1, "parent.exe", &long, USER);
    let child = Start::new("child.exe", "child", USER);
    s.process_start(&child.of(1004, 1000, K | 2), &kernel);
    let (_, _, command, _, truncated) = start_fields(&only(&s));
    assert_eq!(
        command.map(|c| c.len()),
        Some(usize::from(ringfence_wire::schema::limits::TABLE_COMMAND_LINE_UNITS))
    );
    assert_eq!(truncated, 1 << field::ProcessStart::parent_command_line as u8);
    assert_eq!(s.stats().process_table.truncations, 1);
}

#[test]
fn a_process_start_filtered_by_content_still_enters_the_table() {
    let s = sensor();
    let rules = "version = 1\n[[rule]]\nname = \"none\"\nkind = \"process_start\"\naction = \"exclude\"\nmatch = [{ field = \"pid\", greater_than = 0 }]\n";
    let content = ringfence_content::compile(rules, &ringfence_wire::SCHEMA).unwrap();
    s.install(crate::content_slot::judge(&content).unwrap().into_owned().unwrap());
    let kernel = HostProcesses::default();
    let app = Start::new("app.exe", "app", USER);
    assert_eq!(s.process_start(&app.of(44, 4, K | 44), &kernel), None, "filtered");
    assert!(drain(&s).is_empty());
    s.process_exit(44, K | 44, 0, 1, &kernel);
    assert_eq!(get(&only(&s), "image_path").as_deref(), Some("app.exe"));
    assert_eq!(s.stats().kind(EventKind::ProcessStart).filtered, 1);
}
