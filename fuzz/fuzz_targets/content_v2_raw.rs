//! Content format 2's unvalidated entry point on arbitrary bytes (and on the
//! base content with arbitrary patches, checksum repaired, never validated):
//! it must not panic, and it stops at the per-event limit, with any scratch size,
//! without a transition table, with one built from the same bytes, and with
//! arbitrary words as one.
#![no_main]

#[path = "v2_shared.rs"]
mod shared;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ringfence_content::v2::{Content, EVENT_WORK_LIMIT, EvaluationError, RuleIds};
use shared::{OwnedEvent, base, patched};

#[derive(Arbitrary, Debug)]
struct Input {
    bytes: Vec<u8>,
    patches: Vec<(u16, u8)>,
    scratch: u8,
    words: Vec<u32>,
    events: Vec<OwnedEvent>,
}

fuzz_target!(|input: Input| {
    let mut scratch = vec![0u64; usize::from(input.scratch)];
    let patched = patched(base(), &input.patches);
    for bytes in [&input.bytes[..], &patched[..]] {
        let raw = Content::from_unvalidated(bytes);
        let mut built = vec![0u32; raw.transition_words()];
        raw.build_transitions(&mut built).expect("a table of the size asked for builds");
        for content in [raw, raw.with_transitions(&built), raw.with_transitions(&input.words)] {
            for event in input.events.iter().take(4) {
                let (mut m, mut u) = ([0u32; 4], [0u32; 4]);
                match content.evaluate(&event, &mut scratch, RuleIds { matched: &mut m, undecided: &mut u }) {
                    Ok(_) | Err(EvaluationError::ScratchTooSmall { .. }) => {}
                    Err(EvaluationError::CostExceeded { limit }) => assert_eq!(limit, EVENT_WORK_LIMIT),
                    Err(EvaluationError::DeadlinePassed { used }) => panic!("no deadline, yet one passed at {used}"),
                }
            }
        }
    }
});
