//! The process table and the token through the real driver: processes running before
//! the driver, pid reuse, images mapped before a start is notified, every scenario's
//! tokens, every kernel call of the table and the token failed in turn, the table's
//! size parameter, eviction and truncation in STATS, and no reference, handle or buffer
//! kept after any callback.

mod common;

use common::activity::{BOOT, T0, World, assert_reports, mixed};
use common::sensor::{Sensor, record, start, start_after, start_with};
use ringfence_emulator::{
    Activity, Emulator, ImageLoad, KString, Process, ProcessStart, RegValue, Scenario, Token,
};
use ringfence_wire::ioctl::{
    Notes, PROCESS_TABLE_BYTES_DEFAULT, PROCESS_TABLE_BYTES_MIN, PROCESS_TABLE_BYTES_VALUE_NAME,
};
use ringfence_wire::schema::field;
use ringfence_wire::schema::limits::TABLE_COMMAND_LINE_UNITS;
use ringfence_wire::{EventKind, Fields, Record, Value};

const USER: &str = "S-1-5-21-1004336348-1177238915-682003330-1104";
const OTHER: &str = "S-1-5-21-1004336348-1177238915-682003330-1105";

fn wide(text: &str) -> Vec<u16> {
    text.encode_utf16().collect()
}

fn user_token(user: &str) -> Token {
    Token { user: user.to_owned(), logon_id: 0x4f_3a21, integrity: 0x2000, elevation: 3 }
}

/// A process running before the driver: explorer.exe as the user.
fn explorer() -> Process {
    Process {
        pid: 3120,
        session_id: 1,
        start_key: BOOT | 0x30,
        image: Some(wide(r"\Device\HarddiskVolume3\Windows\explorer.exe")),
        command_line: Some(wide(r"C:\Windows\Explorer.EXE")),
        token: user_token(USER),
        ..Process::default()
    }
}

fn start_of(pid: u32, parent: u32, key: u64, image: &str, command_line: &str, token: Token) -> ProcessStart {
    ProcessStart {
        pid,
        parent_pid: parent,
        creating_pid: parent,
        creating_tid: 8,
        session_id: 1,
        image: KString::text(image),
        command_line: KString::text(command_line),
        start_key: BOOT | key,
        create_time: T0,
        file_open_name_available: true,
        is_subsystem_process: false,
        token,
    }
}

fn load_into(pid: u32, path: &str) -> ImageLoad {
    ImageLoad {
        pid,
        name: KString::text(path),
        base: 0x7ff8_0000_0000,
        size: 0x1000,
        signature_level: 12,
        signature_type: 2,
        system_mode: false,
        time: T0 + 1,
        conflicting_architecture: false,
    }
}

/// Field `name` of `bytes` as text (numbers in decimal); `None` when absent.
fn get(bytes: &[u8], name: &str) -> Option<String> {
    let r = record(bytes);
    let index = r.def().field_index(name).unwrap_or_else(|| panic!("no field {name}"));
    r.field(index).map(|v| match v {
        Value::Str(t) => String::from_utf16_lossy(&t.units().collect::<Vec<_>>()),
        other => other.as_u64().expect("a scalar").to_string(),
    })
}

/// Fires `activity` and returns the records it produced.
fn fire(sensor: &mut Sensor, activity: Activity) -> Vec<Vec<u8>> {
    sensor.fire(&activity);
    sensor.read_all()
}

fn assert_clean(sensor: Sensor) {
    assert_eq!(sensor.stop().problems(), Vec::new());
}

#[test]
fn a_process_running_before_the_driver_is_named_as_parent_loader_and_exiting_process() {
    let mut sensor = start_after(&[], |emu| {
        emu.run(explorer());
    });
    let cmd =
        start_of(5012, 3120, 0x50, r"\??\C:\Windows\System32\cmd.exe", "cmd.exe /c whoami", user_token(USER));
    let records = fire(&mut sensor, Activity::ProcessStart(cmd));
    assert_eq!(get(&records[0], "parent_start_key"), Some((BOOT | 0x30).to_string()));
    assert_eq!(
        get(&records[0], "parent_image_path").as_deref(),
        Some(r"\Device\HarddiskVolume3\Windows\explorer.exe")
    );
    assert_eq!(get(&records[0], "parent_command_line").as_deref(), Some(r"C:\Windows\Explorer.EXE"));
    assert_eq!(get(&records[0], "parent_user_sid").as_deref(), Some(USER));
    let records = fire(
        &mut sensor,
        Activity::ImageLoad(load_into(3120, r"\Device\HarddiskVolume3\Windows\System32\shell32.dll")),
    );
    assert_eq!(
        get(&records[0], "process_image_path").as_deref(),
        Some(r"\Device\HarddiskVolume3\Windows\explorer.exe")
    );
    assert_eq!(get(&records[0], "user_sid").as_deref(), Some(USER));
    let records = fire(&mut sensor, Activity::ProcessExit { pid: 3120, exit_status: 0, time: T0 + 2 });
    assert_eq!(
        get(&records[0], "image_path").as_deref(),
        Some(r"\Device\HarddiskVolume3\Windows\explorer.exe")
    );
    assert_eq!(get(&records[0], "start_key"), Some((BOOT | 0x30).to_string()));
    let t = sensor.stats().process_table;
    // Explorer: filled once from the kernel (one miss), then held; cmd entered at its start.
    assert_eq!((t.misses, t.failures, t.inserts, t.entries), (1, 0, 2, 1));
    assert_clean(sensor);
}

#[test]
fn a_reused_pid_never_inherits_the_previous_processs_image_user_or_parent() {
    let mut sensor = start_after(&[], |emu| {
        emu.run(explorer());
    });
    let first = start_of(5012, 3120, 0x50, r"\??\C:\Users\a\first.exe", "first --secret", user_token(USER));
    fire(&mut sensor, Activity::ProcessStart(first));
    // 5012 exits while the driver does not see it, and a new process gets pid 5012.
    assert!(sensor.emu.exit_unnoticed(5012));
    let second = Process {
        pid: 5012,
        start_key: BOOT | 0x51,
        image: Some(wide(r"\Device\HarddiskVolume3\second.exe")),
        command_line: Some(wide("second")),
        token: user_token(OTHER),
        ..Process::default()
    };
    sensor.emu.run(second);
    let records = fire(&mut sensor, Activity::ImageLoad(load_into(5012, r"\Device\HarddiskVolume3\x.dll")));
    assert_eq!(
        get(&records[0], "process_image_path").as_deref(),
        Some(r"\Device\HarddiskVolume3\second.exe")
    );
    assert_eq!(get(&records[0], "process_start_key"), Some((BOOT | 0x51).to_string()));
    assert_eq!(get(&records[0], "user_sid").as_deref(), Some(OTHER));
    let child = start_of(5100, 5012, 0x52, r"\??\C:\child.exe", "child", user_token(OTHER));
    let records = fire(&mut sensor, Activity::ProcessStart(child));
    assert_eq!(get(&records[0], "parent_image_path").as_deref(), Some(r"\Device\HarddiskVolume3\second.exe"));
    assert_eq!(get(&records[0], "parent_command_line").as_deref(), Some("second"));
    assert_eq!(get(&records[0], "parent_user_sid").as_deref(), Some(OTHER));
    assert_eq!(get(&records[0], "parent_start_key"), Some((BOOT | 0x51).to_string()));
    // The noticed way: an exit, then the pid started again by another parent.
    let exit = fire(&mut sensor, Activity::ProcessExit { pid: 5100, exit_status: 0, time: T0 + 3 });
    assert_eq!(get(&exit[0], "image_path").as_deref(), Some(r"\??\C:\child.exe"));
    let again = start_of(5100, 3120, 0x53, r"\??\C:\again.exe", "again", user_token(USER));
    fire(&mut sensor, Activity::ProcessStart(again));
    let records = fire(&mut sensor, Activity::ImageLoad(load_into(5100, r"\Device\HarddiskVolume3\y.dll")));
    assert_eq!(get(&records[0], "process_image_path").as_deref(), Some(r"\??\C:\again.exe"));
    assert_eq!(get(&records[0], "user_sid").as_deref(), Some(USER));
    assert_clean(sensor);
}

#[test]
fn images_mapped_before_the_start_is_notified_name_their_process_and_the_start_then_takes_over() {
    let mut sensor = start();
    // The kernel creates the process and maps its executable and ntdll.dll before the
    // process routine runs.
    let notepad =
        start_of(7000, 4, 0x70, r"\??\C:\Windows\notepad.exe", "notepad.exe x.txt", user_token(USER));
    sensor.emu.run(Process {
        image: Some(wide(r"\Device\HarddiskVolume3\Windows\notepad.exe")),
        command_line: Some(wide("notepad.exe x.txt")),
        ..notepad.process()
    });
    for image in [r"\Device\HarddiskVolume3\Windows\notepad.exe", r"\SystemRoot\System32\ntdll.dll"] {
        let records = fire(&mut sensor, Activity::ImageLoad(load_into(7000, image)));
        assert_eq!(
            get(&records[0], "process_image_path").as_deref(),
            Some(r"\Device\HarddiskVolume3\Windows\notepad.exe")
        );
        assert_eq!(get(&records[0], "process_start_key"), Some((BOOT | 0x70).to_string()));
        assert_eq!(get(&records[0], "user_sid").as_deref(), Some(USER));
    }
    let records = fire(&mut sensor, Activity::ProcessStart(notepad));
    assert_eq!(get(&records[0], "image_path").as_deref(), Some(r"\??\C:\Windows\notepad.exe"));
    let records = fire(
        &mut sensor,
        Activity::ImageLoad(load_into(7000, r"\Device\HarddiskVolume3\Windows\System32\kernel32.dll")),
    );
    assert_eq!(
        get(&records[0], "process_image_path").as_deref(),
        Some(r"\??\C:\Windows\notepad.exe"),
        "the start's own name now"
    );
    let t = sensor.stats().process_table;
    // Notepad filled once by its first image and replaced by its start; its parent,
    // System, filled when the start named it.
    assert_eq!((t.misses, t.inserts, t.entries), (2, 3, 2));
    assert_clean(sensor);
}

#[test]
fn every_field_of_every_example_scenario_comes_back_with_its_tokens_parents_and_loaders() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/scenarios");
    let mut played = 0;
    for entry in std::fs::read_dir(dir).expect("the folder exists") {
        let path = entry.expect("an entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let scenario = Scenario::parse(&std::fs::read_to_string(&path).expect("readable")).expect("parses");
        let mut sensor = start_after(&[], |emu: &mut Emulator| scenario.install(emu));
        let mut world = World::with_running(&scenario.running);
        for activity in &scenario.activity {
            let expected = world.expect(activity);
            let records = fire(&mut sensor, activity.clone());
            assert_eq!(records.len(), 1, "{}: {activity:?}", path.display());
            assert_reports(&record(&records[0]), &expected, "");
            if let Activity::ProcessStart(p) = activity {
                // The token really is the scenario's, not a default.
                assert_eq!(get(&records[0], "user_sid").as_deref(), Some(p.token.user.as_str()));
                assert_eq!(get(&records[0], "integrity_level"), Some(p.token.integrity.to_string()));
            }
        }
        played += scenario.activity.len();
        assert_clean(sensor);
    }
    assert!(played > 40, "the examples were played: {played} activities");
}

/// A parent running before the driver, then a child started from it after `api` was made
/// to fail once: returns the child's start record and the books.
fn child_start_with_failing(api: &'static str, status: i32) -> (Vec<u8>, Sensor) {
    let mut sensor = start_after(&[], |emu| {
        emu.run(explorer());
    });
    sensor.emu.fail_next_call(api, status);
    let child = start_of(5012, 3120, 0x50, r"\??\C:\Windows\System32\cmd.exe", "cmd.exe", user_token(USER));
    let records = fire(&mut sensor, Activity::ProcessStart(child));
    assert_eq!(records.len(), 1, "{api}: the start is reported all the same");
    (records[0].clone(), sensor)
}

#[test]
fn every_kernel_call_of_the_table_and_the_token_can_fail_and_only_its_values_go_absent() {
    const DENIED: i32 = 0xC000_0022_u32 as i32;
    let parent_fields = ["parent_start_key", "parent_image_path", "parent_command_line", "parent_user_sid"];
    let own_token = ["user_sid", "logon_id", "integrity_level", "elevation_type"];
    // (the call, its failure, the fields it leaves absent). The child's own token is read
    // first, then the parent is looked up and described.
    let cases: [(&str, i32, &[&str]); 6] = [
        ("PsLookupProcessByProcessId", 0xC000_000B_u32 as i32, &parent_fields),
        ("SeLocateProcessImageName", DENIED, &["parent_image_path"]),
        ("ObOpenObjectByPointer", DENIED, &["parent_command_line"]),
        ("ZwQueryInformationProcess", DENIED, &["parent_command_line"]),
        ("PsReferencePrimaryToken", 0, &own_token),
        ("SeQueryInformationToken", DENIED, &["user_sid"]),
    ];
    for (api, status, absent) in cases {
        let (bytes, sensor) = child_start_with_failing(api, status);
        for name in parent_fields.iter().chain(&own_token) {
            assert_eq!(get(&bytes, name).is_none(), absent.contains(name), "{api} failed: {name}");
        }
        assert!(sensor.emu.api_calls().get(api).copied().unwrap_or(0) >= 1, "{api} was called");
        assert_clean(sensor);
    }
}

#[test]
fn every_token_query_can_fail_alone() {
    // The child's token is queried for its user, statistics, integrity level and
    // elevation, in that order, before the parent is described: fail each in turn.
    let order = ["user_sid", "logon_id", "integrity_level", "elevation_type"];
    for (n, absent) in (1u64..).zip(order) {
        let mut sensor = start_after(&[], |emu| {
            emu.run(explorer());
        });
        let before = sensor.emu.api_calls().get("SeQueryInformationToken").copied().unwrap_or(0);
        sensor.emu.fail_call("SeQueryInformationToken", before + n, 0xC000_0022_u32 as i32);
        let child = start_of(5012, 3120, 0x50, r"\??\C:\cmd.exe", "cmd", user_token(USER));
        let records = fire(&mut sensor, Activity::ProcessStart(child));
        for name in order {
            assert_eq!(get(&records[0], name).is_none(), name == absent, "query {n} failed: {name}");
        }
        assert_eq!(get(&records[0], "parent_user_sid").as_deref(), Some(USER), "the parent's query ran");
        assert_clean(sensor);
    }
}

#[test]
fn no_callback_keeps_a_reference_a_handle_or_a_kernel_buffer() {
    let mut sensor = start_after(&[], |emu| {
        emu.run(explorer());
    });
    for activity in &mixed(300, 0x7AB1E) {
        sensor.fire(activity);
        let report = sensor.emu.report();
        assert_eq!(report.references, Vec::new(), "after {activity:?}");
        assert_eq!(report.kernel_handles, Vec::<u64>::new(), "after {activity:?}");
    }
    let calls = sensor.emu.api_calls();
    for api in ["PsLookupProcessByProcessId", "PsReferencePrimaryToken", "SeQueryInformationToken"] {
        assert!(calls.get(api).copied().unwrap_or(0) > 0, "{api} was exercised");
    }
    sensor.read_all();
    assert_clean(sensor);
}

#[test]
fn the_table_size_parameter_is_applied_clamped_or_replaced_and_noted() {
    let table = |value: Option<RegValue>| {
        let params: Vec<(&str, RegValue)> =
            value.into_iter().map(|v| (PROCESS_TABLE_BYTES_VALUE_NAME, v)).collect();
        let mut sensor = start_with(&params);
        let stats = sensor.stats();
        assert_clean(sensor);
        (stats.process_table.capacity_bytes, stats.notes)
    };
    assert_eq!(table(None), (PROCESS_TABLE_BYTES_DEFAULT, Notes::NONE));
    assert_eq!(table(Some(RegValue::Dword(8 << 20))), (8 << 20, Notes::NONE));
    assert_eq!(
        table(Some(RegValue::Dword(1))),
        (PROCESS_TABLE_BYTES_MIN, Notes::PROCESS_TABLE_BYTES_CLAMPED)
    );
    assert_eq!(
        table(Some(RegValue::Binary(vec![1, 2]))),
        (PROCESS_TABLE_BYTES_DEFAULT, Notes::PROCESS_TABLE_BYTES_PARAM_INVALID)
    );
}

#[test]
fn a_full_table_evicts_counts_it_and_fills_an_evicted_parent_again_when_named() {
    let mut sensor =
        start_with(&[(PROCESS_TABLE_BYTES_VALUE_NAME, RegValue::Dword(PROCESS_TABLE_BYTES_MIN))]);
    let max = sensor.stats().process_table.max_entries;
    let extra = 40;
    for i in 0..max + extra {
        let p = start_of(10_000 + 4 * i, 4, 0x1000 + u64::from(i), r"\??\C:\w.exe", "w", user_token(USER));
        sensor.fire(&Activity::ProcessStart(p));
        sensor.read_all();
    }
    let t = sensor.stats().process_table;
    assert_eq!(
        (t.entries, t.evictions),
        (max, u64::from(extra) + 1),
        "System and the workers share the table"
    );
    assert!(t.used_bytes <= t.capacity_bytes);
    // Every worker is still running: a child of any of them names it, evicted or not.
    let misses = t.misses;
    for parent in [10_000, 10_000 + 4 * (max + extra - 1)] {
        let child =
            start_of(parent + 2, parent, 0x9000 + u64::from(parent), r"\??\C:\c.exe", "c", user_token(USER));
        let records = fire(&mut sensor, Activity::ProcessStart(child));
        assert_eq!(
            get(&records[0], "parent_image_path").as_deref(),
            Some(r"\??\C:\w.exe"),
            "parent {parent}"
        );
    }
    assert!(sensor.stats().process_table.misses > misses, "the evicted one was filled again");
    assert_clean(sensor);
}

#[test]
fn a_parent_command_line_beyond_the_table_limit_is_cut_marked_and_counted() {
    let long = "x".repeat(usize::from(TABLE_COMMAND_LINE_UNITS) + 5000);
    let mut sensor = start_after(&[], |emu| {
        emu.run(Process { command_line: Some(wide(&long)), ..explorer() });
    });
    let child = start_of(5012, 3120, 0x50, r"\??\C:\cmd.exe", "cmd", user_token(USER));
    let records = fire(&mut sensor, Activity::ProcessStart(child));
    let r = Record::new_checked(&records[0]).expect("a valid record");
    assert_eq!(
        get(&records[0], "parent_command_line").map(|c| c.len()),
        Some(usize::from(TABLE_COMMAND_LINE_UNITS))
    );
    assert_eq!(
        r.field(field::ProcessStart::truncated as u8),
        Some(Value::U32(1 << field::ProcessStart::parent_command_line as u8))
    );
    assert_eq!(sensor.stats().process_table.truncations, 1);
    assert_eq!(sensor.stats().kind(EventKind::ProcessStart).queued, 1);
    assert_clean(sensor);
}
