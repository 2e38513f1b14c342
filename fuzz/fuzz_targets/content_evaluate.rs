//! Evaluation of arbitrary events against arbitrary content bytes through the
//! unvalidated entry point: it must never panic; and when the bytes validate,
//! the validated view, the view through its key table (as the driver holds it),
//! the raw entry point and a decoded record all agree.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use ringfence_content::{evaluate_raw, evaluate_record, validate};
use ringfence_wire::record::encode;
use ringfence_wire::{Event, Record, SCHEMA, Text};

#[derive(Arbitrary, Debug)]
enum Owned {
    Start {
        ints: [u32; 5],
        image: Option<Vec<u16>>,
        cmd: Option<Vec<u16>>,
        key: u64,
        time: u64,
        named: bool,
        parent: Option<(u64, Vec<u16>, Vec<u16>)>,
        user: Option<Vec<u16>>,
        token: Option<(u64, u32, u32)>,
    },
    Exit { pid: u32, status: u32, time: u64, image: Option<Vec<u16>>, key: u64, user: Option<Vec<u16>> },
    Load {
        ints: [u32; 3],
        image: Option<Vec<u16>>,
        base: u64,
        size: u64,
        kernel: bool,
        time: u64,
        process: Option<(Vec<u16>, u64)>,
        user: Option<Vec<u16>>,
    },
}

fn text(units: &Option<Vec<u16>>) -> Option<Text<'_>> {
    units.as_deref().map(Text::wide)
}

impl Owned {
    fn event(&self) -> Event<'_> {
        let none = Text::default();
        match self {
            Owned::Start { ints, image, cmd, key, time, named, parent, user, token } => Event::ProcessStart {
                pid: ints[0],
                parent_pid: ints[1],
                creating_pid: ints[2],
                creating_tid: ints[3],
                session_id: ints[4],
                image_path: text(image),
                command_line: text(cmd),
                start_key: *key,
                create_time: *time,
                image_name_available: *named,
                rule_name: none,
                matched_ids: ringfence_wire::text::Ids::EMPTY,
                matched_rest: 0,
                undecided_ids: ringfence_wire::text::Ids::EMPTY,
                undecided_rest: 0,
                parent_start_key: parent.as_ref().map(|p| p.0),
                parent_image_path: parent.as_ref().map(|p| Text::wide(&p.1)),
                parent_command_line: parent.as_ref().map(|p| Text::wide(&p.2)),
                user_sid: text(user),
                logon_id: token.map(|t| t.0),
                integrity_level: token.map(|t| t.1),
                elevation_type: token.map(|t| t.2),
                parent_user_sid: text(user),
                truncated: 0,
            },
            Owned::Exit { pid, status, time, image, key, user } => Event::ProcessExit {
                pid: *pid,
                exit_status: *status,
                time: *time,
                rule_name: none,
                matched_ids: ringfence_wire::text::Ids::EMPTY,
                matched_rest: 0,
                undecided_ids: ringfence_wire::text::Ids::EMPTY,
                undecided_rest: 0,
                image_path: text(image),
                start_key: *key,
                user_sid: text(user),
                truncated: 0,
            },
            Owned::Load { ints, image, base, size, kernel, time, process, user } => Event::ImageLoad {
                pid: ints[0],
                image_path: text(image),
                image_base: *base,
                image_size: *size,
                signature_level: ints[1],
                signature_type: ints[2],
                kernel_image: *kernel,
                time: *time,
                rule_name: none,
                matched_ids: ringfence_wire::text::Ids::EMPTY,
                matched_rest: 0,
                undecided_ids: ringfence_wire::text::Ids::EMPTY,
                undecided_rest: 0,
                process_image_path: process.as_ref().map(|p| Text::wide(&p.0)),
                process_start_key: process.as_ref().map(|p| p.1),
                user_sid: text(user),
                truncated: 0,
            },
        }
    }
}

// Input: content length (u16 LE), the content, then the events for `Arbitrary`.
// The explicit split keeps seeded content intact at the front.
fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else { return };
    let len = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (content, rest) = rest.split_at(len);
    let Ok(events) = Vec::<Owned>::arbitrary_take_rest(Unstructured::new(rest)) else { return };
    let valid = validate(content, &SCHEMA).ok();
    // The key table the driver builds beside validated content.
    let mut table = vec![0u32; valid.map_or(0, |c| c.key_table_words())];
    if let Some(c) = valid {
        c.build_key_table(&mut table).expect("a table of the size asked for builds");
    }
    let with_table = valid.map(|c| c.with_key_table(&table));
    let mut buf = vec![0u8; 1 << 16];
    for owned in events.iter().take(8) {
        let event = owned.event();
        let raw = evaluate_raw(content, &event);
        let Some(content) = valid else { continue };
        assert_eq!(content.evaluate(&event), raw);
        if let Some(with_table) = with_table {
            assert_eq!(with_table.evaluate(&event), raw, "through the key table");
        }
        if let Ok(len) = encode(&event, 1, 2, &mut buf) {
            let record = Record::new_checked(&buf[..len]).expect("an encoded event decodes");
            assert_eq!(evaluate_record(&content, &record), raw);
        }
    }
});
