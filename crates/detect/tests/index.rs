//! The candidate index: `RuleSet::evaluate` evaluates only the rules an event's scan hit,
//! those needing a hit on a field the stage does not know, and those that can be true
//! without any hit. These tests hold it to evaluating every rule.

mod support;

use std::sync::{Mutex, OnceLock};

use proptest::prelude::*;
use ringfence_detect::eval::Scratch;
use ringfence_detect::{Field, KernelStage, RuleSet};
use ringfence_wire::EventKind;
use support::{Event, fixtures, kind_fields};

fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| {
        let compilation = fixtures();
        assert_eq!(compilation.refusals, [], "every fixture rule compiles");
        RuleSet::new(compilation.rules).expect("the fixture rules index")
    })
}

fn rule_index(id: &str) -> usize {
    rules().rules().iter().position(|r| r.meta.id == id).unwrap_or_else(|| panic!("no rule {id}"))
}

#[test]
fn a_rule_is_evaluated_on_every_event_exactly_when_it_can_match_without_a_hit() {
    let expected = [
        ("rf-idx-01", true),  // not filter
        ("rf-idx-02", false), // selection and not 1 of filter_*
        ("rf-idx-03", false), // 1 of filter_*
        ("rf-idx-04", true),  // exists: false or a literal
        ("rf-idx-05", false), // exists: false and a literal
        ("rf-idx-06", false), // re only
        ("rf-idx-07", true),  // not re
        ("rf-idx-08", false), // contains|all with '' and a literal
        ("rf-idx-09", true),  // companion literal or not filter
        ("rf-idx-10", false), // companion literal only
        ("rf-idx-11", true),  // not (a and b)
        ("rf-idx-12", false), // gt and a literal
        ("rf-idx-13", true),  // Image: ''
        ("rf-idx-14", false), // two literals
        ("rf-mod-11", true),  // exists: false and exists: true
        ("rf-mod-12", true),  // integer comparisons only
        ("rf-cond-09", true), // not all of them
        ("rf-cond-10", false),
    ];
    let actual: Vec<(&str, bool)> = expected
        .iter()
        .map(|&(id, _)| (id, rules().evaluated_on_every_event(rule_index(id)).unwrap()))
        .collect();
    assert_eq!(actual, expected);
    assert_eq!(rules().evaluated_on_every_event(rules().rules().len()), None);
}

#[test]
fn a_gated_rule_on_a_field_the_stage_does_not_know_is_undecided_not_skipped() {
    let event = Event::new(EventKind::ProcessStart)
        .text(Field::Image, "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe")
        .text(Field::OriginalFileName, "PowerShell.EXE");
    let rf_idx_10 = rule_index("rf-idx-10");
    assert!(rules().evaluate(&event).matched.contains(&rf_idx_10));
    let kernel = rules().evaluate(&KernelStage(&event));
    assert!(kernel.undecided.contains(&rf_idx_10), "{kernel:?}");
    assert!(!kernel.matched.contains(&rf_idx_10));
}

#[test]
fn an_event_without_any_hit_matches_only_the_rules_true_without_one() {
    let event = Event::new(EventKind::ProcessStart)
        .text(Field::Image, "C:\\q.exe")
        .text(Field::CommandLine, "zzz")
        .text(Field::ParentImage, "C:\\y.exe")
        .int(Field::ProcessId, 1);
    let matched: Vec<&str> =
        rules().evaluate(&event).matched.iter().map(|&i| rules().rules()[i].meta.id.as_str()).collect();
    // rf-idx-04: ParentCommandLine is absent; rf-idx-09: not filter; rf-cond-09: not all of them;
    // rf-mod-12: ProcessId 1 ≤ 4.
    assert_eq!(matched, ["rf-cond-09", "rf-idx-01", "rf-idx-04", "rf-idx-09", "rf-mod-12"]);
}

fn event() -> impl Strategy<Value = Event> {
    const PIECES: &[&str] = &[
        "C:\\Windows\\System32\\",
        "\\cmd.exe",
        "\\certutil.exe",
        "\\rundll32.exe",
        "\\amsi.dll",
        "\\shell32.dll",
        "Temp",
        "reg",
        "REG  ADD",
        "add",
        "net",
        "user",
        "vssadmin",
        "urlcache",
        "bitsadmin",
        "wscript",
        "ping",
        "PowerShell.EXE",
        "RUNDLL32.EXE",
        "SHA256=ab12",
        " -enc ",
        "",
    ];
    let kind =
        prop_oneof![Just(EventKind::ProcessStart), Just(EventKind::ImageLoad), Just(EventKind::ProcessExit)];
    kind.prop_flat_map(|kind| {
        let n = kind_fields(kind).len();
        prop::collection::vec((0u8..4, prop::collection::vec(0..PIECES.len(), 0..4), 0u64..2000), n).prop_map(
            move |draws| {
                let mut event = Event::new(kind);
                for (field, (presence, pieces, number)) in kind_fields(kind).into_iter().zip(draws) {
                    if presence == 0 {
                        continue;
                    }
                    event = if field.is_integer() {
                        event.int(field, number)
                    } else {
                        event.text(field, &pieces.iter().map(|&i| PIECES[i]).collect::<String>())
                    };
                }
                event
            },
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn the_indexed_evaluation_equals_evaluating_every_rule(event in event()) {
        // One scratch for every case: what an event leaves behind must not reach the next.
        static SCRATCH: Mutex<Option<Scratch>> = Mutex::new(None);
        let mut guard = SCRATCH.lock().unwrap();
        let scratch = guard.get_or_insert_with(Scratch::default);
        prop_assert_eq!(rules().evaluate_with(scratch, &event), rules().evaluate_unindexed(&event));
        let kernel = KernelStage(&event);
        prop_assert_eq!(rules().evaluate_with(scratch, &kernel), rules().evaluate_unindexed(&kernel));
    }
}
