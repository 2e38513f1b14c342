//! Content format 2: validate-then-evaluate. The base content with arbitrary
//! byte patches (checksum repaired); when it validates, arbitrary events
//! evaluate within the budget, identically through the unvalidated entry point
//! and with the content's transition table attached, which never adds work.
#![no_main]

#[path = "v2_shared.rs"]
mod shared;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ringfence_content::Meter;
use ringfence_content::v2::{EVENT_WORK_LIMIT, RuleIds, evaluate_raw, validate};
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
    let mut table = vec![0u32; content.transition_words()];
    content.build_transitions(&mut table).expect("a table of the size asked for builds");
    let rowed = content.with_transitions(&table);
    for event in input.events.iter().take(8) {
        let (mut m1, mut u1, mut m2, mut u2) = ([0u32; 4], [0u32; 4], [0u32; 4], [0u32; 4]);
        let validated = content
            .evaluate(&event, &mut scratch, RuleIds { matched: &mut m1, undecided: &mut u1 })
            .expect("validated content evaluates within its budget");
        let raw =
            evaluate_raw(&bytes, &event, &mut scratch, RuleIds { matched: &mut m2, undecided: &mut u2 })
                .expect("the same bytes evaluate the same unvalidated");
        assert_eq!((validated, m1, u1), (raw, m2, u2));
        let (mut plain, mut fast) = (Meter::new(EVENT_WORK_LIMIT), Meter::new(EVENT_WORK_LIMIT));
        let ids = RuleIds { matched: &mut m2, undecided: &mut u2 };
        content.evaluate_metered(&event, &mut scratch, ids, &mut plain).expect("within the budget");
        let ids = RuleIds { matched: &mut m2, undecided: &mut u2 };
        let with_rows = rowed
            .evaluate_metered(&event, &mut scratch, ids, &mut fast)
            .expect("the transition table adds no work");
        assert_eq!((with_rows, m2, u2), (validated, m1, u1), "the transition table changes no verdict");
        assert!(fast.used() <= plain.used());
        assert!(validated.matched + validated.matched_rest as usize <= content.rule_count());
    }
});
