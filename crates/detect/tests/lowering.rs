//! The IR lowered into content format 2 means what the IR means: on generated
//! events, format 2's interpreter over the lowered content matches exactly the
//! rules the companion-stage evaluator matches (every field known), and in the
//! kernel stage (companion fields unknown) it never contradicts that verdict.

mod support;

use std::collections::BTreeSet;
use std::sync::OnceLock;

use proptest::prelude::*;
use ringfence_content::v2::{self, EventInput, Input, RuleIds};
use ringfence_detect::fields::Field;
use ringfence_detect::ir::{GlobPart, Value};
use ringfence_detect::lower::{self, Conversion, Metadata, NotLowered};
use ringfence_detect::{Rule, RuleSet};
use ringfence_wire::schema::COMPANION_BASE;
use ringfence_wire::{EventKind, SCHEMA, Text};

use support::{Event, Val, fixtures, kind_fields};

struct Setup {
    rules: RuleSet,
    lowered: lower::Lowered,
    /// Text values of the rules, to build events that hit them.
    pool: Vec<String>,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let compilation = fixtures();
        assert_eq!(compilation.refusals, [], "every fixture rule compiles");
        let lowered = lower::lower(&compilation.rules, &SCHEMA, 1).expect("the fixture rules build");
        let mut pool = BTreeSet::new();
        for rule in &compilation.rules {
            for value in rule.predicates.iter().flat_map(|p| &p.values) {
                match value {
                    Value::Text(text) => {
                        pool.insert(text.clone());
                    }
                    Value::Glob(parts) => pool.extend(parts.iter().filter_map(|part| match part {
                        GlobPart::Literal(text) => Some(text.clone()),
                        GlobPart::AnyRun | GlobPart::AnyChar => None,
                    })),
                    Value::Integer(_) => {}
                }
            }
        }
        let rules = RuleSet::new(compilation.rules).expect("the fixture rules index");
        Setup { rules, lowered, pool: pool.into_iter().collect() }
    })
}

/// An event in the schema's fields, as the sensor (kernel stage) or the
/// companion (every field) would hand it to format 2.
struct Schema2 {
    kind: EventKind,
    fields: Vec<(u8, Owned)>,
    kernel_stage: bool,
}

enum Owned {
    Text(Vec<u16>),
    Integer(u64),
    /// The Sigma text did not convert (`LogonId: x`): no value the sensor could hold.
    Unconvertible,
}

impl Schema2 {
    fn of(event: &Event, kernel_stage: bool) -> Self {
        let fields = event
            .fields
            .iter()
            .filter_map(|(field, value)| {
                let (index, conversion) = lower::target(event.kind, *field)?;
                let owned = match (value, conversion) {
                    (Val::Text(text), Conversion::AsIs) => Owned::Text(text.encode_utf16().collect()),
                    (Val::Int(n), _) => Owned::Integer(*n),
                    (Val::Text(text), Conversion::HexInteger) => text
                        .strip_prefix("0x")
                        .and_then(|d| u64::from_str_radix(d, 16).ok())
                        .map_or(Owned::Unconvertible, Owned::Integer),
                    (Val::Text(text), Conversion::Boolean) => match text.as_str() {
                        "true" => Owned::Integer(1),
                        "false" => Owned::Integer(0),
                        _ => Owned::Unconvertible,
                    },
                };
                Some((index, owned))
            })
            .collect();
        Schema2 { kind: event.kind, fields, kernel_stage }
    }

    fn has_unconvertible(&self) -> bool {
        self.fields.iter().any(|(_, o)| matches!(o, Owned::Unconvertible))
    }
}

impl<'a> EventInput<'a> for &'a Schema2 {
    fn kind(&self) -> EventKind {
        self.kind
    }

    fn input(&self, field: u8) -> Input<'a> {
        if self.kernel_stage && field >= COMPANION_BASE {
            return Input::Unknown;
        }
        match self.fields.iter().find(|(i, _)| *i == field).map(|(_, o)| o) {
            Some(Owned::Text(units)) => Input::Text { head: Text::wide(units), tail: Text::default() },
            Some(Owned::Integer(n)) => Input::Integer(*n),
            Some(Owned::Unconvertible) | None => Input::Absent,
        }
    }
}

/// Matched and undecided rule indices (of the input rule list) by format 2.
fn evaluate2(setup: &'static Setup, event: &Schema2) -> (BTreeSet<usize>, BTreeSet<usize>) {
    static CONTENT: OnceLock<v2::Content<'static>> = OnceLock::new();
    let content = CONTENT
        .get_or_init(|| v2::validate(&setup.lowered.content, &SCHEMA).expect("lowered content validates"));
    let mut scratch = vec![0u64; content.scratch_words()];
    let (mut matched, mut undecided) = ([0u32; 512], [0u32; 512]);
    let verdict = content
        .evaluate(&event, &mut scratch, RuleIds { matched: &mut matched, undecided: &mut undecided })
        .expect("within budget");
    assert_eq!((verdict.matched_rest, verdict.undecided_rest), (0, 0));
    let position =
        |id: &u32| setup.lowered.placement.iter().position(|p| p.as_ref().ok() == Some(id)).unwrap();
    (
        matched[..verdict.matched].iter().map(position).collect(),
        undecided[..verdict.undecided].iter().map(position).collect(),
    )
}

fn lowered_indices(setup: &Setup) -> BTreeSet<usize> {
    (0..setup.lowered.placement.len()).filter(|&i| setup.lowered.placement[i].is_ok()).collect()
}

fn flip_case(text: &str, mask: u64) -> String {
    text.chars()
        .enumerate()
        .map(|(i, c)| if (mask >> (i % 64)) & 1 == 1 { c.to_uppercase().next().unwrap_or(c) } else { c })
        .collect()
}

fn event() -> impl Strategy<Value = Event> {
    let kind =
        prop_oneof![Just(EventKind::ProcessStart), Just(EventKind::ImageLoad), Just(EventKind::ProcessExit)];
    kind.prop_flat_map(|kind| {
        let n = kind_fields(kind).len();
        prop::collection::vec(
            (0u8..4, prop::collection::vec(any::<prop::sample::Index>(), 0..4), any::<u64>()),
            n,
        )
        .prop_map(move |draws| {
            let setup = setup();
            let mut event = Event::new(kind);
            for (field, (presence, picks, mask)) in kind_fields(kind).into_iter().zip(draws) {
                if presence == 0 {
                    continue;
                }
                if field.is_integer() {
                    event.fields.push((field, Val::Int(mask % 2000)));
                    continue;
                }
                let mut text: String =
                    picks.iter().map(|i| i.get(&setup.pool).as_str()).collect::<Vec<_>>().join(" ");
                text = flip_case(&text, mask);
                if field == Field::LogonId {
                    text = ["0x3e7", "0x3E7", "0x1a2b3", "x"][usize::try_from(mask % 4).unwrap()].to_owned();
                }
                if field == Field::Signed {
                    text = ["true", "false"][usize::try_from(mask % 2).unwrap()].to_owned();
                }
                event.fields.push((field, Val::Text(text)));
            }
            event
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn format_2_matches_what_the_evaluator_matches(event in event()) {
        let setup = setup();
        let schema2 = Schema2::of(&event, false);
        prop_assume!(!schema2.has_unconvertible());
        let lowered = lowered_indices(setup);
        let theirs: BTreeSet<usize> =
            setup.rules.evaluate(&event).matched.into_iter().filter(|i| lowered.contains(i)).collect();
        let (mine, undecided) = evaluate2(setup, &schema2);
        prop_assert_eq!(undecided, BTreeSet::new(), "every field is known to the companion");
        prop_assert_eq!(mine, theirs);
    }

    #[test]
    fn format_2_in_the_kernel_never_contradicts_the_final_verdict(event in event()) {
        let setup = setup();
        let schema2 = Schema2::of(&event, true);
        prop_assume!(!schema2.has_unconvertible());
        let lowered = lowered_indices(setup);
        let last: BTreeSet<usize> =
            setup.rules.evaluate(&event).matched.into_iter().filter(|i| lowered.contains(i)).collect();
        let (matched, undecided) = evaluate2(setup, &schema2);
        prop_assert!(matched.is_subset(&last), "kernel {:?} final {:?}", matched, last);
        let possible: BTreeSet<usize> = matched.union(&undecided).copied().collect();
        prop_assert!(last.is_subset(&possible), "final {:?} kernel+undecided {:?}", last, possible);
    }
}

#[test]
fn the_generated_events_fire_lowered_rules() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let setup = setup();
    let mut runner = TestRunner::deterministic();
    let mut fired = BTreeSet::new();
    for _ in 0..2000 {
        let event = event().new_tree(&mut runner).unwrap().current();
        let schema2 = Schema2::of(&event, false);
        if !schema2.has_unconvertible() {
            fired.extend(evaluate2(setup, &schema2).0);
        }
    }
    // Half the lowered fixture rules at least: the comparison above is not vacuous.
    assert!(
        fired.len() * 2 >= setup.lowered.lowered(),
        "fired {} of {}",
        fired.len(),
        setup.lowered.lowered()
    );
}

#[test]
fn regular_expressions_stay_in_the_companion() {
    let setup = setup();
    for (rule, placement) in setup.rules.rules().iter().zip(&setup.lowered.placement) {
        let has_regex = rule
            .predicates
            .iter()
            .any(|p| matches!(p.operator, ringfence_detect::ir::Operator::Regex { .. }));
        match placement {
            Err(NotLowered::Regex { .. }) => assert!(has_regex, "{}", rule.meta.id),
            Err(other) => panic!("{} did not lower: {other}", rule.meta.id),
            Ok(_) => assert!(!has_regex, "{}", rule.meta.id),
        }
    }
}

#[test]
fn the_content_says_what_each_lowered_id_means() {
    let setup = setup();
    let content = v2::validate(&setup.lowered.content, &SCHEMA).unwrap();
    let rules: &[Rule] = setup.rules.rules();
    for (rule, placement) in rules.iter().zip(&setup.lowered.placement) {
        let Ok(id) = placement else { continue };
        let info = content.rule_info(content.rule_position(*id).unwrap()).unwrap();
        assert_eq!(String::from_utf16_lossy(&info.name.units().collect::<Vec<u16>>()), rule.meta.title);
        assert_eq!(
            Metadata::decode(&String::from_utf16_lossy(&info.meta.units().collect::<Vec<u16>>())),
            Some(Metadata::of(rule))
        );
    }
}

#[test]
fn metadata_reads_back_what_it_wrote_and_nothing_else() {
    let meta = Metadata {
        id: "5f1b1d8c-0000-4000-8000-000000000001".into(),
        level: Some(ringfence_detect::ir::Level::High),
        tags: vec!["attack.execution".into(), "attack.t1059.001".into()],
    };
    assert_eq!(
        meta.encode(),
        "id=5f1b1d8c-0000-4000-8000-000000000001\nlevel=high\ntags=attack.execution attack.t1059.001"
    );
    assert_eq!(Metadata::decode(&meta.encode()), Some(meta));
    assert_eq!(Metadata::decode("id=x\nlevel=severe\ntags="), None);
    assert_eq!(Metadata::decode("id=x\nlevel=\ntags=\nmore"), None);
    assert_eq!(
        Metadata::decode("id=x\nlevel=\ntags="),
        Some(Metadata { id: "x".into(), level: None, tags: vec![] })
    );
}
