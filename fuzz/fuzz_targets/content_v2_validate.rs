//! Content format 2 validation on arbitrary bytes, and on the base content
//! with arbitrary byte patches (checksum repaired). Accepted content must
//! describe every rule, and evaluate an event within its budget exactly as
//! the unvalidated entry point does.
#![no_main]

#[path = "v2_shared.rs"]
mod shared;

use libfuzzer_sys::fuzz_target;
use ringfence_content::v2::{self, RuleIds, validate};
use ringfence_wire::SCHEMA;
use shared::{OwnedEvent, OwnedInput, base, patched, repair};

fuzz_target!(|data: &[u8]| {
    check(data);
    let mut repaired = data.to_vec();
    repair(&mut repaired);
    check(&repaired);
    let patches: Vec<(u16, u8)> =
        data.chunks_exact(3).map(|c| (u16::from_le_bytes([c[0], c[1]]), c[2])).take(8).collect();
    check(&patched(base(), &patches));
});

fn check(bytes: &[u8]) {
    let Ok(content) = validate(bytes, &SCHEMA) else { return };
    for i in 0..content.rule_count() {
        let info = content.rule_info(i).expect("every rule of validated content reads");
        assert_eq!(content.rule_position(info.id), Some(i));
    }
    let cmd: Vec<u16> = "powershell.exe -ENC aGVsbG8= /nop é".encode_utf16().collect();
    let image: Vec<u16> =
        "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe".encode_utf16().collect();
    let event = OwnedEvent {
        kind: 0,
        fields: vec![
            (5, OwnedInput::Text(image[..3].to_vec(), image[3..].to_vec())),
            (6, OwnedInput::Text(cmd, vec![])),
            (4, OwnedInput::Int(1)),
        ],
    };
    let mut scratch = vec![0u64; content.scratch_words()];
    let (mut m1, mut u1, mut m2, mut u2) = ([0u32; 8], [0u32; 8], [0u32; 8], [0u32; 8]);
    let validated = content
        .evaluate(&&event, &mut scratch, RuleIds { matched: &mut m1, undecided: &mut u1 })
        .expect("validated content evaluates within its budget");
    let raw =
        v2::evaluate_raw(bytes, &&event, &mut scratch, RuleIds { matched: &mut m2, undecided: &mut u2 })
            .expect("the same bytes evaluate the same unvalidated");
    assert_eq!((validated, m1, u1), (raw, m2, u2));
}
