//! What ringfence's Sigma means, case by case — in particular where it follows the
//! Sigma specification rather than the oracle of differential.rs — and what it refuses.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use ringfence_detect::ir::{Limit, Stage};
use ringfence_detect::{Compilation, Field, KernelStage, Reason, RuleSet, compile_yaml};
use ringfence_wire::EventKind;
use support::{Event, ids};

fn rule(detection: &str) -> String {
    format!(
        "title: t\nid: r\nlogsource: {{product: windows, category: process_creation}}\ndetection:\n{detection}"
    )
}

fn set(yaml: &str) -> RuleSet {
    let compilation = compile_yaml(yaml);
    assert_eq!(compilation.refusals, []);
    RuleSet::new(compilation.rules).unwrap()
}

fn matches(set: &RuleSet, event: &Event) -> bool {
    !set.evaluate(event).matched.is_empty()
}

fn cli(text: &str) -> Event {
    Event::new(EventKind::ProcessStart).text(Field::CommandLine, text)
}

#[test]
fn windash_makes_all_five_dashes_interchangeable_in_values_and_text() {
    // Sigma modifiers appendix 2.1: permutations of -, /, – (en), — (em), ― (bar). The
    // oracle expands only `-` in values, so a value written with `/` is checked here.
    let with_slash = set(&rule("    s:\n        CommandLine|windash|contains: ' /enc'\n    condition: s\n"));
    for dash in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
        assert!(matches(&with_slash, &cli(&format!("powershell {dash}enc AAA"))), "{dash}");
    }
    assert!(!matches(&with_slash, &cli("powershell +enc AAA")));
}

#[test]
fn windash_keeps_wildcards() {
    let set = set(&rule("    s:\n        CommandLine|windash|contains: ' -e* '\n    condition: s\n"));
    assert!(matches(&set, &cli("x \u{2014}encodedcommand y")));
    assert!(!matches(&set, &cli("x -y e z")));
}

#[test]
fn base64offset_finds_a_value_followed_by_more_text() {
    // "xInvoke-Mimikatz -DumpCreds" base64-encoded: the oracle's variants keep the
    // characters that depend on the byte after the value and miss it.
    let set = set(&rule(
        "    s:\n        CommandLine|base64offset|contains: 'Invoke-Mimikatz'\n    condition: s\n",
    ));
    for prefix in ["", "x", "xy"] {
        let encoded = base64(format!("{prefix}Invoke-Mimikatz -DumpCreds").as_bytes());
        assert!(matches(&set, &cli(&format!("powershell -enc {encoded}"))), "{prefix}");
    }
    assert!(!matches(&set, &cli(&format!("powershell -enc {}", base64(b"Invoke-Mimikatt")))));
}

#[test]
fn wildcards_under_startswith_and_endswith_anchor_where_the_modifier_says() {
    let set = set(&rule(
        "    s:\n        CommandLine|startswith: 'a*b'\n    e:\n        Image|endswith: '\\x*.exe'\n    condition: s or e\n",
    ));
    assert!(matches(&set, &cli("a-b then more")));
    assert!(!matches(&set, &cli("xab")));
    let image = |path: &str| Event::new(EventKind::ProcessStart).text(Field::Image, path);
    assert!(matches(&set, &image("C:\\Temp\\xyz.exe")));
    assert!(!matches(&set, &image("\\x.exe.bak")));
}

#[test]
fn wildcards_cross_newlines() {
    let set = set(&rule("    s:\n        CommandLine|contains: 'a*b'\n    condition: s\n"));
    assert!(matches(&set, &cli("a\r\nb")));
}

#[test]
fn case_folding_is_simple_unicode_folding_on_non_ascii_text() {
    let set = set(&rule(
        "    s:\n        CommandLine|contains:\n            - 'привет'\n            - 'σοφία'\n    condition: s\n",
    ));
    assert!(matches(&set, &cli("echo ПРИВЕТ")));
    // Final sigma and capital sigma fold to σ: the oracle's to_lowercase turns a word-final Σ into ς.
    assert!(matches(&set, &cli("ΣΟΦΊΑ")));
    assert!(matches(&set, &cli("ςοφία")));
    // Simple folding does not expand: ß is not "ss", İ is not "i̇".
    let ss = self::set(&rule("    s:\n        CommandLine|contains: 'strasse'\n    condition: s\n"));
    assert!(!matches(&ss, &cli("STRAßE")));
}

#[test]
fn globs_and_literals_fold_alike() {
    let set = set(&rule("    s:\n        CommandLine|contains: 'ärger*k'\n    condition: s\n"));
    assert!(matches(&set, &cli("ÄRGER \u{212A}")));
}

#[test]
fn null_in_a_list_of_values_still_means_absent() {
    // The oracle ignores a null that shares its list with other values.
    let set = set(&rule(
        "    s:\n        ParentImage:\n            - null\n            - 'C:\\a.exe'\n    condition: s\n",
    ));
    assert!(matches(&set, &Event::new(EventKind::ProcessStart)));
    assert!(matches(&set, &Event::new(EventKind::ProcessStart).text(Field::ParentImage, "c:\\A.EXE")));
    assert!(!matches(&set, &Event::new(EventKind::ProcessStart).text(Field::ParentImage, "C:\\b.exe")));
}

#[test]
fn an_unknown_field_leaves_a_rule_undecided_unless_the_known_part_decides_it() {
    let set = set(&rule(
        "    img:\n        Image|endswith: '\\rundll32.exe'\n    name:\n        OriginalFileName: 'RUNDLL32.EXE'\n    \
         condition: img or name\n",
    ));
    let event = |image: &str| {
        Event::new(EventKind::ProcessStart)
            .text(Field::Image, image)
            .text(Field::OriginalFileName, "RUNDLL32.EXE")
    };
    let decided = set.evaluate(&KernelStage(&event("C:\\Windows\\System32\\rundll32.exe")));
    assert_eq!((decided.matched, decided.undecided), (vec![0], vec![]));
    let undecided = set.evaluate(&KernelStage(&event("C:\\x\\renamed.exe")));
    assert_eq!((undecided.matched, undecided.undecided), (vec![], vec![0]));
    let final_verdict = set.evaluate(&event("C:\\x\\renamed.exe"));
    assert_eq!((final_verdict.matched, final_verdict.undecided), (vec![0], vec![]));
}

#[test]
fn not_of_an_unknown_is_unknown_and_false_and_unknown_is_false() {
    let set = set(&rule(
        "    a:\n        CommandLine|contains: 'x'\n    b:\n        Hashes|contains: 'SHA256='\n    condition: a and not b\n",
    ));
    let kernel = |text: &str| set.evaluate(&KernelStage(&cli(text)));
    assert_eq!(kernel("x").undecided, vec![0]);
    assert_eq!((kernel("y").matched, kernel("y").undecided), (vec![], vec![]));
}

#[test]
fn every_matching_rule_is_reported() {
    let yaml = "title: a\nid: a\nlogsource: {product: windows, category: process_creation}\ndetection:\n    s:\n        \
                CommandLine|contains: 'x'\n    condition: s\n---\ntitle: b\nid: b\nlogsource: {product: windows, \
                category: process_creation}\ndetection:\n    s:\n        CommandLine|endswith: 'x'\n    condition: s\n";
    let set = set(yaml);
    let matched = set.evaluate(&cli("aax"));
    assert_eq!(ids(&set, &matched.matched), BTreeSet::from(["a".to_owned(), "b".to_owned()]));
}

#[test]
fn rules_carry_metadata_for_ecs_and_sysmon() {
    let compilation = support::fixtures();
    let rule = compilation.rules.iter().find(|r| r.meta.id == "rf-cond-02").unwrap();
    assert_eq!(rule.meta.title, "All of selections");
    assert_eq!(rule.meta.level, Some(ringfence_detect::ir::Level::High));
    assert_eq!(rule.meta.attack_techniques().collect::<Vec<_>>(), ["T1059.001"]);
    assert_eq!(rule.meta.attack_tactics().collect::<Vec<_>>(), ["execution"]);
}

#[test]
fn rules_are_placed_in_the_stage_their_fields_allow() {
    let compilation = support::fixtures();
    let stage = |id: &str| compilation.rules.iter().find(|r| r.meta.id == id).unwrap().stage();
    assert_eq!(stage("rf-cond-07"), Stage::Kernel); // Image, CommandLine, User, ParentImage
    assert_eq!(stage("rf-mod-18"), Stage::Kernel); // User, IntegrityLevel, ParentUser, LogonId
    assert_eq!(stage("rf-mod-16"), Stage::Companion); // OriginalFileName, Hashes, …
    assert_eq!(stage("rf-mod-22"), Stage::Companion); // Signed, SignatureStatus
    assert_eq!(stage("rf-mod-24"), Stage::Kernel); // process_termination Image
}

#[test]
fn each_refused_construct_is_named_and_the_other_rules_compile() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/refused.yml");
    let mut compilation = Compilation::default();
    compilation.add_path(&path).unwrap();
    assert_eq!(compilation.rules.iter().map(|r| r.meta.id.as_str()).collect::<Vec<_>>(), ["rf-ref-15"]);
    let got: Vec<(Option<&str>, &Reason)> =
        compilation.refusals.iter().map(|r| (r.id.as_deref(), &r.reason)).collect();
    let field = |s: &str| s.to_owned();
    let expected: Vec<(Option<&str>, Reason)> = vec![
        (Some("rf-ref-01"), Reason::Keywords { detection: field("keywords") }),
        (Some("rf-ref-02"), Reason::UnknownField { field: field("CommandLineX") }),
        (
            Some("rf-ref-03"),
            Reason::UnsupportedField {
                field: field("CurrentDirectory"),
                why: "it lives in the new process's PEB, user memory the kernel callback does not read",
            },
        ),
        (
            Some("rf-ref-04"),
            Reason::UnsupportedModifier { field: field("CommandLine"), modifier: field("fieldref") },
        ),
        (Some("rf-ref-06"), Reason::CountSelector { count: 2 }),
        (
            Some("rf-ref-07"),
            Reason::LogSource {
                product: Some(field("windows")),
                category: Some(field("registry_set")),
                service: None,
            },
        ),
        (Some("rf-ref-08"), Reason::UndefinedDetection { name: field("filter") }),
        (
            Some("rf-ref-09"),
            Reason::ModifierCombination {
                field: field("CommandLine"),
                modifiers: field("wide|contains"),
                why: "UTF-16 encodings give bytes, which text fields hold only base64-encoded",
            },
        ),
        (
            Some("rf-ref-10"),
            Reason::UnsupportedField {
                field: field("CommandLine"),
                why: "Sysmon has no such field for this event kind",
            },
        ),
        (
            Some("rf-ref-11"),
            Reason::UnsupportedField {
                field: field("Signature"),
                why: "the signer's name needs the file's Authenticode or catalog signature, which is not read",
            },
        ),
        (None, Reason::MissingId),
        (
            Some("rf-ref-13"),
            Reason::ValueType {
                field: field("CommandLine"),
                expected: "compared with a text field (gt, gte, lt and lte need a number field)",
            },
        ),
        (Some("rf-ref-14"), Reason::EmptySelector { pattern: field("filter_*") }),
    ];
    // rf-ref-05 (lookaround) carries the regex engine's message: checked by kind only.
    let (regex, rest): (Vec<_>, Vec<_>) = got.into_iter().partition(|(id, _)| *id == Some("rf-ref-05"));
    assert!(matches!(regex.as_slice(), [(_, Reason::Regex { field, .. })] if field == "CommandLine"));
    let expected: Vec<(Option<&str>, &Reason)> = expected.iter().map(|(id, r)| (*id, r)).collect();
    assert_eq!(rest, expected);
    let shown =
        compilation.refusals.iter().find(|r| r.id.as_deref() == Some("rf-ref-02")).unwrap().to_string();
    assert_eq!(
        shown,
        format!(
            "{}: rule rf-ref-02 (Unknown field): field CommandLineX is not in ringfence's field table",
            path.display()
        )
    );
}

#[test]
fn malformed_yaml_is_refused_with_the_parsers_message() {
    let compilation = compile_yaml("title: [unclosed\n");
    assert!(compilation.rules.is_empty());
    assert!(
        matches!(compilation.refusals.as_slice(), [r] if matches!(&r.reason, Reason::Parse { message } if message.contains("YAML"))),
        "{:?}",
        compilation.refusals
    );
}

#[test]
fn a_rule_over_a_limit_is_refused_naming_the_limit() {
    // x and (x or (x and (x or … ))): 40 alternating levels the parser cannot flatten.
    let deep = (0..40)
        .fold("x".to_owned(), |inner, i| format!("(x {} {inner})", if i % 2 == 0 { "and" } else { "or" }));
    let compilation =
        compile_yaml(&rule(&format!("    x:\n        CommandLine: a\n    condition: {deep}\n")));
    assert!(
        matches!(compilation.refusals.as_slice(), [r] if matches!(r.reason, Reason::Limit { limit: Limit::Depth, .. })),
        "{:?}",
        compilation.refusals
    );
    let many: String = (0..5000).map(|i| format!("            - 'v{i}'\n")).collect();
    let compilation =
        compile_yaml(&rule(&format!("    x:\n        CommandLine|contains:\n{many}    condition: x\n")));
    assert!(
        matches!(compilation.refusals.as_slice(), [r] if r.reason == Reason::Limit { limit: Limit::Values, value: 5000 }),
        "{:?}",
        compilation.refusals
    );
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
