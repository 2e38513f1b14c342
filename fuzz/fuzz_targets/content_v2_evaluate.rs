//! Content format 2: validate-then-evaluate. The base content with arbitrary
//! byte patches (checksum repaired); when it validates, arbitrary events
//! evaluate within the budget, identically through the unvalidated entry point.
#![no_main]

#[path = "v2_shared.rs"]
mod shared;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ringfence_content::v2::{RuleIds, evaluate_raw, validate};
use ringfence_wire::SCHEMA;
use shared::{OwnedEvent, base, patched};

#[derive(Arbitrary, Debug)]
struct Input {
    patches: Vec<(u16, u8)>,
    events: Vec<OwnedEvent>,
}

fuzz_target!(|input: Input| {
    let bytes = patched(base(), &input.patches[..input.patches.len().min(4)]);
    let Ok(content) = validate(&bytes, &SCHEMA) else { return };
    let mut scratch = vec![0u64; content.scratch_words()];
    for event in input.events.iter().take(8) {
        let (mut m1, mut u1, mut m2, mut u2) = ([0u32; 4], [0u32; 4], [0u32; 4], [0u32; 4]);
        let validated = content
            .evaluate(&event, &mut scratch, RuleIds { matched: &mut m1, undecided: &mut u1 })
            .expect("validated content evaluates within its budget");
        let raw =
            evaluate_raw(&bytes, &event, &mut scratch, RuleIds { matched: &mut m2, undecided: &mut u2 })
                .expect("the same bytes evaluate the same unvalidated");
        assert_eq!((validated, m1, u1), (raw, m2, u2));
        assert!(validated.matched + validated.matched_rest as usize <= content.rule_count());
    }
});
