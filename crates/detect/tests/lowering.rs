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
use ringfence_detect::integrity;
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
                    (Val::Text(text), Conversion::IntegrityRid) => integrity::rid_of_name(text)
                        .map_or(Owned::Unconvertible, |r| Owned::Integer(r.into())),
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

/// Mandatory label RIDs: every named level, unnamed ones near them, and extremes.
const RIDS: [u32; 12] =
    [0, 0x1000, 0x2000, 0x2100, 0x3000, 0x4000, 0x5000, 0x7000, 0x2010, 0x3001, 1, u32::MAX];

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
                if field == Field::IntegrityLevel {
                    // What the companion writes: the name of a RID, named or not.
                    text = integrity::sysmon_name(RIDS[usize::try_from(mask % 12).unwrap()]).into_owned();
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
fn regular_expressions_lower_when_their_automaton_builds() {
    let setup = setup();
    let mut with_regex = 0;
    for (rule, placement) in setup.rules.rules().iter().zip(&setup.lowered.placement) {
        let has_regex = rule
            .predicates
            .iter()
            .any(|p| matches!(p.operator, ringfence_detect::ir::Operator::Regex { .. }));
        match placement {
            Err(other) => panic!("{} did not lower: {other}", rule.meta.id),
            Ok(_) => with_regex += usize::from(has_regex),
        }
    }
    assert_eq!(with_regex, 4, "the fixtures' regex rules are all in the content");
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

const INTEGRITY_RULES: &str = r"
title: Named levels and label SIDs
id: il-1
logsource: {product: windows, category: process_creation}
detection:
    selection:
        IntegrityLevel:
            - 'High'
            - 'S-1-16-16384'
            - 'S-1-16-8208'
    condition: selection
---
title: Contains, folded
id: il-2
logsource: {product: windows, category: process_creation}
detection:
    selection:
        IntegrityLevel|contains: 'PLUS'
    condition: selection
---
title: Ends with, cased
id: il-3
logsource: {product: windows, category: process_creation}
detection:
    selection:
        IntegrityLevel|endswith|cased: 'Process'
    condition: selection
---
title: Contains all
id: il-4
logsource: {product: windows, category: process_creation}
detection:
    selection:
        IntegrityLevel|contains|all:
            - 'Me'
            - 'um'
    condition: selection
---
title: Negated, beside a command line
id: il-5
logsource: {product: windows, category: process_creation}
detection:
    cli:
        CommandLine|contains: 'x'
    low:
        IntegrityLevel:
            - 'Low'
            - 'untrusted'
    condition: cli and not low
---
title: A digit, which label SIDs hold
id: il-6
logsource: {product: windows, category: process_creation}
detection:
    selection:
        IntegrityLevel|contains: '16'
    condition: selection
---
title: A localized name no RID renders as
id: il-7
logsource: {product: windows, category: process_creation}
detection:
    selection:
        IntegrityLevel: 'Hoch'
    condition: selection
";

/// Format 2's matches (rule positions) over one event given in the schema's fields.
fn evaluate_content(content: &v2::Content<'_>, lowered: &lower::Lowered, event: &Schema2) -> BTreeSet<usize> {
    let mut scratch = vec![0u64; content.scratch_words()];
    let (mut matched, mut undecided) = ([0u32; 16], [0u32; 16]);
    let verdict = content
        .evaluate(&event, &mut scratch, RuleIds { matched: &mut matched, undecided: &mut undecided })
        .expect("within budget");
    assert_eq!(verdict.undecided, 0, "the integrity level is a kernel field");
    matched[..verdict.matched]
        .iter()
        .map(|id| lowered.placement.iter().position(|p| p.as_ref().ok() == Some(id)).unwrap())
        .collect()
}

#[test]
fn integrity_levels_lower_to_the_rids_whose_names_match_and_agree_on_every_rid() {
    let compilation = ringfence_detect::compile_yaml(INTEGRITY_RULES);
    assert_eq!(compilation.refusals, []);
    let lowered = lower::lower(&compilation.rules, &SCHEMA, 1).unwrap();
    let placed: Vec<Result<(), NotLowered>> =
        lowered.placement.iter().map(|p| p.clone().map(|_| ())).collect();
    let integrity = Field::IntegrityLevel;
    assert_eq!(
        placed,
        [
            Ok(()),
            Ok(()),
            Ok(()),
            Ok(()),
            Ok(()),
            Err(NotLowered::Value { field: integrity, value: "16".into() }),
            Err(NotLowered::Value { field: integrity, value: "Text(\"Hoch\")".into() }),
        ]
    );
    for rule in &compilation.rules[..5] {
        assert!(lower::decided_in_kernel(rule), "{}", rule.meta.id);
    }
    let content = v2::validate(&lowered.content, &SCHEMA).unwrap();
    let rules = RuleSet::new(compilation.rules).unwrap();
    let lowered_rules = lowered_indices_of(&lowered);
    // Every RID up to past the last named level, and the extremes; then an absent level.
    let rids = (0..=0x8000).chain([0x1_0000, u32::MAX - 1, u32::MAX]).map(Some).chain([None]);
    let mut fired = BTreeSet::new();
    for rid in rids {
        for command_line in ["x", "y"] {
            let mut event = Event::new(EventKind::ProcessStart);
            event.fields.push((Field::CommandLine, Val::Text(command_line.into())));
            if let Some(rid) = rid {
                event.fields.push((integrity, Val::Text(integrity::sysmon_name(rid).into_owned())));
            }
            let kernel = Schema2::of(&event, true);
            assert!(!kernel.has_unconvertible());
            let theirs: BTreeSet<usize> =
                rules.evaluate(&event).matched.into_iter().filter(|i| lowered_rules.contains(i)).collect();
            let mine = evaluate_content(&content, &lowered, &kernel);
            assert_eq!(mine, theirs, "rid {rid:?}, command line {command_line}");
            fired.extend(mine);
        }
    }
    assert_eq!(fired, lowered_rules, "every lowered rule fired on some RID");
}

fn lowered_indices_of(lowered: &lower::Lowered) -> BTreeSet<usize> {
    (0..lowered.placement.len()).filter(|&i| lowered.placement[i].is_ok()).collect()
}

#[test]
fn the_integrity_name_is_one_to_one_and_read_back_only_as_written() {
    for rid in (0..=0x8000).chain([u32::MAX]) {
        let name = integrity::sysmon_name(rid);
        assert_eq!(integrity::rid_of_name(&name), Some(rid), "{name}");
    }
    assert_eq!(integrity::sysmon_name(0x2100), "Medium Plus");
    assert_eq!(integrity::sysmon_name(0x2010), "S-1-16-8208");
    // A named level's SID form, a non-canonical number and another case are not renderings.
    for text in ["S-1-16-12288", "S-1-16-08208", "S-1-16-+8208", "s-1-16-8208", "high", "AppContainer"] {
        assert_eq!(integrity::rid_of_name(text), None, "{text}");
    }
}

const REGEX_RULES: &str = r#"
title: Anchored at the start
id: re-1
logsource: {product: windows, category: process_creation}
detection:
    selection:
        CommandLine|re: '^cmd\.exe /c'
    condition: selection
---
title: Alternation anchored at the end, on a path
id: re-2
logsource: {product: windows, category: process_creation}
detection:
    selection:
        Image|re: '\\(powershell|pwsh)\.exe$'
    condition: selection
---
title: Classes and a bounded repetition
id: re-3
logsource: {product: windows, category: process_creation}
detection:
    selection:
        CommandLine|re: '-[eE][nN][cC]\s+[A-Za-z0-9+/=]{8,}'
    condition: selection
---
title: Case-insensitive by modifier
id: re-4
logsource: {product: windows, category: process_creation}
detection:
    selection:
        CommandLine|re|i: 'net\s+user'
    condition: selection
---
title: Case-insensitive inline, non-ASCII
id: re-5
logsource: {product: windows, category: process_creation}
detection:
    selection:
        CommandLine|re: '(?i)naïve|日本'
    condition: selection
---
title: Multi-line anchors
id: re-6
logsource: {product: windows, category: process_creation}
detection:
    selection:
        CommandLine|re|m: '^line2$'
    condition: selection
---
title: Dot matches a newline
id: re-7
logsource: {product: windows, category: process_creation}
detection:
    selection:
        CommandLine|re|s: 'a.b'
    condition: selection
---
title: A Unicode word boundary
id: re-8
logsource: {product: windows, category: process_creation}
detection:
    selection:
        CommandLine|re: '\bword\b'
    condition: selection
---
title: A regex beside a literal, negated
id: re-9
logsource: {product: windows, category: image_load}
detection:
    selection:
        ImageLoaded|endswith: '.dll'
    filter:
        ImageLoaded|re|i: '^c:\\windows\\system32\\'
    condition: selection and not filter
"#;

#[test]
fn regular_expressions_lower_and_agree_with_both_evaluators_on_written_events() {
    let compilation = ringfence_detect::compile_yaml(REGEX_RULES);
    assert_eq!(compilation.refusals, []);
    let lowered = lower::lower(&compilation.rules, &SCHEMA, 1).unwrap();
    let placed: Vec<Result<(), NotLowered>> =
        lowered.placement.iter().map(|p| p.clone().map(|_| ())).collect();
    let boundary = v2::regex_build::RegexRefusal::UnicodeWordBoundary;
    let mut expected_placement = vec![Ok(()); 9];
    expected_placement[7] = Err(NotLowered::Regex { field: Field::CommandLine, refusal: boundary });
    assert_eq!(placed, expected_placement);
    for rule in &compilation.rules {
        assert!(lower::decided_in_kernel(rule), "{}", rule.meta.id);
    }
    let dir = std::env::temp_dir().join(format!("ringfence-regex-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("regex.yml"), REGEX_RULES).unwrap();
    let rules = RuleSet::new(compilation.rules).unwrap();
    let oracle = support::Oracle::new(&dir, &rules);
    std::fs::remove_dir_all(&dir).unwrap();
    let content = v2::validate(&lowered.content, &SCHEMA).unwrap();
    let start = |cmd: &str, image: &str| {
        Event::new(EventKind::ProcessStart).text(Field::CommandLine, cmd).text(Field::Image, image)
    };
    let load = |path: &str| Event::new(EventKind::ImageLoad).text(Field::ImageLoaded, path);
    let cases: Vec<(Event, &[&str])> = vec![
        (start("cmd.exe /c whoami", r"C:\Windows\System32\cmd.exe"), &["re-1"]),
        (start("x cmd.exe /c whoami", r"C:\Tools\pwsh.exe"), &["re-2"]),
        (start("p", r"C:\Tools\pwsh.exe.bak"), &[]),
        (start("powershell -EnC SQBFAFgAIAA=", r"C:\x\POWERSHELL.EXE"), &["re-3"]),
        (start("powershell -enc SQB", "a"), &[]),
        (start("NET   User admin", "a"), &["re-4"]),
        (start("NAÏVE", "a"), &["re-5"]),
        (start("a 日本 b", "a"), &["re-5"]),
        (start("line1\nline2\nline3", "a"), &["re-6"]),
        (start("line1 line2", "a"), &[]),
        (start("a\nb", "a"), &["re-7"]),
        (start("a word here", "a"), &["re-8"]),
        (start("a wordy here", "a"), &[]),
        (load(r"C:\Tools\evil.dll"), &["re-9"]),
        (load(r"C:\WINDOWS\System32\kernel32.dll"), &[]),
    ];
    let lowered_rules = lowered_indices_of(&lowered);
    for (event, expected) in cases {
        let expected: BTreeSet<String> = expected.iter().map(|s| s.to_string()).collect();
        let theirs = rules.evaluate(&event).matched;
        assert_eq!(support::ids(&rules, &theirs), expected, "evaluator on {event:?}");
        assert_eq!(oracle.matched(&event), expected, "rsigma-eval on {event:?}");
        let in_content: BTreeSet<usize> = theirs.into_iter().filter(|i| lowered_rules.contains(i)).collect();
        for kernel_stage in [true, false] {
            let mine = evaluate_content(&content, &lowered, &Schema2::of(&event, kernel_stage));
            assert_eq!(mine, in_content, "format 2 (kernel stage {kernel_stage}) on {event:?}");
        }
    }
}
