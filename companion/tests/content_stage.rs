//! The companion's stage of a content format 2 decides what the YAML path
//! (`--sigma`, ringfence-detect's evaluator) decides: on generated events over
//! the Sigma rules written for ringfence-detect's tests, compiled into one
//! content with `content compile`'s own code, the rules the stage matches are
//! exactly the rules the evaluator matches, and so are the undecided ones.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::OnceLock;

use proptest::prelude::*;
use ringfence_companion::content2_cmd::{Sources, compile2};
use ringfence_companion::detection::ContentStage;
use ringfence_detect::fields::Source;
use ringfence_detect::ir::{GlobPart, Value};
use ringfence_detect::{Compilation, EventFields, Field, FieldValue, RuleSet};
use ringfence_wire::EventKind;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/detect/tests/fixtures/rules")
}

struct Setup {
    rules: RuleSet,
    content: Vec<u8>,
    /// Text values of the rules, to build events that hit them.
    pool: Vec<String>,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let mut compilation = Compilation::default();
        compilation.add_path(&fixtures()).unwrap();
        assert_eq!(compilation.refusals, [], "every fixture rule compiles");
        let mut pool = BTreeSet::new();
        for value in compilation.rules.iter().flat_map(|r| &r.predicates).flat_map(|p| &p.values) {
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
        let sigma = [fixtures()];
        let sources = Sources { toml: None, sigma: &sigma, version: None };
        let (content, placement) = compile2(&sources, &mut Vec::new()).unwrap();
        assert!(placement.kernel > 0 && placement.companion > 0, "{placement:?}");
        let rules = RuleSet::new(compilation.rules).unwrap();
        Setup { rules, content, pool: pool.into_iter().collect() }
    })
}

#[derive(Clone, Debug)]
enum Val {
    Text(String),
    Int(u64),
    Unknown,
}

#[derive(Clone, Debug)]
struct Event {
    kind: EventKind,
    fields: Vec<(Field, Val)>,
}

impl EventFields for Event {
    fn kind(&self) -> EventKind {
        self.kind
    }

    fn field(&self, field: Field) -> FieldValue<'_> {
        match self.fields.iter().find(|(f, _)| *f == field).map(|(_, v)| v) {
            Some(Val::Text(text)) => FieldValue::Text(text),
            Some(Val::Int(n)) => FieldValue::Integer(*n),
            Some(Val::Unknown) => FieldValue::Unknown,
            None => FieldValue::Absent,
        }
    }
}

fn kind_fields(kind: EventKind) -> Vec<Field> {
    Field::ALL.into_iter().filter(|f| !matches!(f.source(kind), Source::Unsupported(_))).collect()
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
            (0u8..5, prop::collection::vec(any::<prop::sample::Index>(), 0..4), any::<u64>()),
            n,
        )
        .prop_map(move |draws| {
            let pool = &setup().pool;
            let mut event = Event { kind, fields: Vec::new() };
            for (field, (presence, picks, mask)) in kind_fields(kind).into_iter().zip(draws) {
                let value = match presence {
                    0 => continue,
                    1 => Val::Unknown,
                    _ if field.is_integer() => Val::Int(mask % 2000),
                    // The companion writes these as Sysmon does: `0x…`, `true`/`false`, level names.
                    _ if field == Field::LogonId => {
                        Val::Text(["0x3e7", "0x1a2b3"][(mask % 2) as usize].into())
                    }
                    _ if field == Field::Signed => Val::Text(["true", "false"][(mask % 2) as usize].into()),
                    // And the integrity level by its name, or its label SID when Windows names none.
                    _ if field == Field::IntegrityLevel => Val::Text(
                        ["Low", "Medium", "High", "System", "S-1-16-12345"][(mask % 5) as usize].into(),
                    ),
                    _ => {
                        let text: Vec<&str> = picks.iter().map(|i| i.get(pool).as_str()).collect();
                        Val::Text(flip_case(&text.join(" "), mask))
                    }
                };
                event.fields.push((field, value));
            }
            event
        })
    })
}

/// (matched, undecided) Sigma ids by the YAML path, of the rules the content holds.
fn by_evaluator(setup: &Setup, stage: &ContentStage, event: &Event) -> (BTreeSet<String>, usize) {
    let matches = setup.rules.evaluate(event);
    let in_content = |i: &usize| stage.has_sigma_id(&setup.rules.rules()[*i].meta.id);
    let ids = |v: &[usize]| -> BTreeSet<String> {
        v.iter().filter(|i| in_content(i)).map(|&i| setup.rules.rules()[i].meta.id.clone()).collect()
    };
    (ids(&matches.matched), matches.undecided.iter().filter(|i| in_content(i)).count())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_companion_stage_decides_what_the_yaml_path_decides(event in event()) {
        let setup = setup();
        let mut stage = ContentStage::new(setup.content.clone()).unwrap();
        let expected = by_evaluator(setup, &stage, &event);
        let verdict = stage.evaluate(&event, None);
        let rules: Vec<_> = stage.rules().cloned().collect();
        let matched: BTreeSet<String> = verdict.matched.iter().map(|&i| rules[i].id.clone()).collect();
        prop_assert_eq!((matched, verdict.undecided), expected);
    }
}

#[test]
fn the_stage_holds_every_lowered_fixture_rule_with_its_metadata() {
    let setup = setup();
    let stage = ContentStage::new(setup.content.clone()).unwrap();
    let yaml: BTreeSet<&str> = setup.rules.rules().iter().map(|r| r.meta.id.as_str()).collect();
    for meta in stage.rules() {
        assert!(yaml.contains(meta.id.as_str()), "{} is a fixture rule", meta.id);
        let source = setup.rules.rules().iter().find(|r| r.meta.id == meta.id).unwrap();
        assert_eq!(
            (&meta.title, meta.level, &meta.tags),
            (&source.meta.title, source.meta.level, &source.meta.tags)
        );
    }
}
