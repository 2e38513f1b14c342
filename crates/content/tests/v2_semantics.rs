//! Format 2's meaning, operator by operator: each test builds rules with the
//! builder, validates them against the running schema, evaluates one event
//! and asserts the exact verdict.

mod v2_common;

use ringfence_content::v2::build::{
    BuildError, BuildErrorKind, Compare, ExprSpec, GlobPart, OperatorSpec, PredicateSpec, RegexRefusal,
    RuleSpec, ValueSpec, build,
};
use ringfence_content::v2::{
    self, ErrorKind, EvaluationError, EventInput, Filter, Input, Role, RuleIds, Truth, evaluate_raw, validate,
};
use ringfence_wire::{EventKind, SCHEMA, Text};
use v2_common::*;

fn cmd(s: &str) -> TestEvent {
    TestEvent::start(vec![(COMMAND_LINE, text(s))])
}

/// The matched and undecided rule ids of a process start with command line `s`.
fn matched_and_undecided(content: &v2::Content<'_>, s: &str) -> (Vec<u32>, Vec<u32>) {
    let o = evaluate(content, &cmd(s));
    (o.matched, o.undecided)
}

#[test]
fn contains_finds_every_pattern_of_every_rule_in_one_pass() {
    let rules = [
        detection(1, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["abcd"])]),
        detection(2, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["bc"])]),
        detection(3, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["c"])]),
        detection(4, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["bd"])]),
        detection(5, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["xabcdx"])]),
    ];
    assert_eq!(matched(&rules, &cmd("zzabcdzz")), vec![1, 2, 3]);
    assert_eq!(matched(&rules, &cmd("bbc")), vec![2, 3]);
    assert_eq!(matched(&rules, &cmd("")), Vec::<u32>::new());
}

#[test]
fn equals_starts_with_and_ends_with_anchor_at_the_text_s_ends() {
    let rules = [
        detection(1, vec![predicate(IMAGE, OperatorSpec::Equals, &["c:\\a.exe"])]),
        detection(2, vec![predicate(IMAGE, OperatorSpec::StartsWith, &["c:\\"])]),
        detection(3, vec![predicate(IMAGE, OperatorSpec::EndsWith, &["a.exe"])]),
        detection(4, vec![predicate(IMAGE, OperatorSpec::EndsWith, &[".exe"])]),
        detection(5, vec![predicate(IMAGE, OperatorSpec::StartsWith, &["a.exe"])]),
        detection(6, vec![predicate(IMAGE, OperatorSpec::Equals, &["a.exe"])]),
    ];
    let image = |s: &str| TestEvent::start(vec![(IMAGE, text(s))]);
    assert_eq!(matched(&rules, &image("C:\\A.EXE")), vec![1, 2, 3, 4]);
    assert_eq!(matched(&rules, &image("c:\\xa.exe")), vec![2, 3, 4]);
    assert_eq!(matched(&rules, &image("a.exe")), vec![3, 4, 5, 6]);
    assert_eq!(matched(&rules, &image("a.exe.txt")), vec![5]);
    assert_eq!(matched(&rules, &image("c:\\a.exe ")), vec![2]);
}

#[test]
fn an_empty_value_is_contained_in_everything_and_equals_only_the_empty_text() {
    let rules = [
        detection(1, vec![predicate(COMMAND_LINE, OperatorSpec::Equals, &[""])]),
        detection(2, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &[""])]),
        detection(3, vec![predicate(COMMAND_LINE, OperatorSpec::EndsWith, &["", "zz"])]),
    ];
    assert_eq!(matched(&rules, &cmd("")), vec![1, 2, 3]);
    assert_eq!(matched(&rules, &cmd("x")), vec![2, 3]);
}

#[test]
fn globs_match_star_and_question_mark_over_the_whole_text() {
    let glob = |parts: Vec<GlobPart>| PredicateSpec {
        field: COMMAND_LINE,
        operator: OperatorSpec::Glob,
        values: vec![ValueSpec::Glob(parts)],
        all: false,
        case_insensitive: true,
        windash: false,
    };
    use GlobPart::{AnyChar, AnyRun, Literal};
    let lit = |s: &str| Literal(s.to_string());
    let rules = [
        detection(1, vec![glob(vec![AnyRun, lit("-enc"), AnyRun, lit("=="), AnyRun])]),
        detection(2, vec![glob(vec![lit("a"), AnyChar, lit("c")])]),
        detection(3, vec![glob(vec![AnyRun, AnyRun, lit("x")])]),
        detection(4, vec![glob(vec![AnyRun])]),
    ];
    assert_eq!(matched(&rules, &cmd("powershell -ENC abc== ")), vec![1, 4]);
    assert_eq!(matched(&rules, &cmd("powershell abc== -enc")), vec![4]);
    assert_eq!(matched(&rules, &cmd("ABC")), vec![2, 4]);
    assert_eq!(matched(&rules, &cmd("ac")), vec![4]);
    assert_eq!(matched(&rules, &cmd("aXcx")), vec![3, 4]);
    assert_eq!(matched(&rules, &cmd("")), vec![4]);
}

#[test]
fn integer_comparisons_and_presence_are_direct() {
    let int = |op: Compare, n: u64| PredicateSpec {
        field: SESSION,
        operator: OperatorSpec::Compare(op),
        values: vec![ValueSpec::Integer(n)],
        all: false,
        case_insensitive: false,
        windash: false,
    };
    let exists = |field, yes| PredicateSpec {
        field,
        operator: OperatorSpec::Exists(yes),
        values: vec![],
        all: false,
        case_insensitive: false,
        windash: false,
    };
    let rules = [
        detection(1, vec![int(Compare::Equals, 1)]),
        detection(2, vec![int(Compare::Less, 1)]),
        detection(3, vec![int(Compare::LessOrEqual, 1)]),
        detection(4, vec![int(Compare::Greater, 1)]),
        detection(5, vec![int(Compare::GreaterOrEqual, 1)]),
        detection(6, vec![exists(IMAGE, true)]),
        detection(7, vec![exists(IMAGE, false)]),
    ];
    let event =
        |session, image: Field| TestEvent::start(vec![(SESSION, Field::Int(session)), (IMAGE, image)]);
    assert_eq!(matched(&rules, &event(1, text("x"))), vec![1, 3, 5, 6]);
    assert_eq!(matched(&rules, &event(0, Field::Absent)), vec![2, 3, 7]);
    assert_eq!(matched(&rules, &event(2, text(""))), vec![4, 5, 6]);
}

#[test]
fn any_needs_one_value_and_all_needs_every_value() {
    let mut all = predicate(COMMAND_LINE, OperatorSpec::Contains, &["-nop", "-w hidden"]);
    all.all = true;
    let rules = [
        detection(1, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["-nop", "-w hidden"])]),
        detection(2, vec![all]),
    ];
    assert_eq!(matched(&rules, &cmd("x -nop")), vec![1]);
    assert_eq!(matched(&rules, &cmd("-w hidden -nop")), vec![1, 2]);
    assert_eq!(matched(&rules, &cmd("none")), Vec::<u32>::new());
}

#[test]
fn windash_makes_every_dash_spelling_match_and_counts_as_one_value_under_all() {
    let mut p = predicate(COMMAND_LINE, OperatorSpec::Contains, &["-enc", "-nop"]);
    p.windash = true;
    p.all = true;
    let rules = [detection(1, vec![p])];
    assert_eq!(matched(&rules, &cmd("x /enc \u{2014}nop")), vec![1]);
    assert_eq!(matched(&rules, &cmd("x \u{2013}ENC /nop")), vec![1]);
    assert_eq!(matched(&rules, &cmd("x /enc")), Vec::<u32>::new());
    assert_eq!(matched(&rules, &cmd("x _enc _nop")), Vec::<u32>::new());
}

#[test]
fn case_insensitive_matching_folds_non_ascii_letters_and_case_sensitive_does_not() {
    let mut sensitive = predicate(COMMAND_LINE, OperatorSpec::Contains, &["ÉTÉ"]);
    sensitive.case_insensitive = false;
    let rules = [
        detection(1, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["été"])]),
        detection(2, vec![sensitive]),
        detection(3, vec![predicate(COMMAND_LINE, OperatorSpec::EndsWith, &["ΟΔΟΣ"])]),
        detection(4, vec![predicate(COMMAND_LINE, OperatorSpec::Equals, &["\u{212A}elvin"])]),
    ];
    assert_eq!(matched(&rules, &cmd("un ÉTÉ")), vec![1, 2]);
    assert_eq!(matched(&rules, &cmd("un Été")), vec![1]);
    // Final sigma and capital sigma fold together.
    assert_eq!(matched(&rules, &cmd("οδος")), vec![3]);
    assert_eq!(matched(&rules, &cmd("KELVIN")), vec![4]);
}

#[test]
fn letters_outside_the_bmp_compare_unfolded() {
    // U+10400 DESERET CAPITAL LONG I folds to U+10428 in Unicode; format 2
    // compares surrogate units as they are, so only the exact spelling matches.
    let rules = [detection(1, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["\u{10400}"])])];
    assert_eq!(matched(&rules, &cmd("a\u{10400}b")), vec![1]);
    assert_eq!(matched(&rules, &cmd("a\u{10428}b")), Vec::<u32>::new());
}

#[test]
fn head_and_tail_are_scanned_as_one_text() {
    let rules = [
        detection(1, vec![predicate(IMAGE, OperatorSpec::Equals, &["c:\\windows\\system32\\cmd.exe"])]),
        detection(2, vec![predicate(IMAGE, OperatorSpec::StartsWith, &["c:\\windows\\"])]),
        detection(3, vec![predicate(IMAGE, OperatorSpec::Contains, &[":\\win"])]),
        detection(4, vec![predicate(IMAGE, OperatorSpec::EndsWith, &["\\cmd.exe"])]),
    ];
    let head: Vec<u16> = "C:".encode_utf16().collect();
    let tail: Vec<u16> = "\\Windows\\System32\\cmd.exe".encode_utf16().collect();
    let event = TestEvent::start(vec![(IMAGE, Field::Split(head, tail))]);
    assert_eq!(matched(&rules, &event), vec![1, 2, 3, 4]);
    let event =
        TestEvent::start(vec![(IMAGE, Field::Split(vec![], "c:\\windows\\x".encode_utf16().collect()))]);
    assert_eq!(matched(&rules, &event), vec![2, 3]);
}

/// One text field given as UTF-16LE bytes (as a decoded record carries it), split in two.
struct ByteEvent {
    field: u8,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl<'a> EventInput<'a> for &'a ByteEvent {
    fn kind(&self) -> EventKind {
        EventKind::ProcessStart
    }

    fn input(&self, field: u8) -> Input<'a> {
        if field != self.field {
            return Input::Absent;
        }
        let view = |b: &'a Vec<u8>| Text::from_le_bytes(b).unwrap();
        Input::Text { head: view(&self.head), tail: view(&self.tail) }
    }
}

#[test]
fn texts_given_as_utf16le_bytes_match_as_wide_texts_do() {
    use GlobPart::{AnyChar, AnyRun, Literal};
    let glob = PredicateSpec {
        field: COMMAND_LINE,
        operator: OperatorSpec::Glob,
        values: vec![ValueSpec::Glob(vec![AnyRun, Literal("-enc".into()), AnyChar, AnyRun])],
        all: false,
        case_insensitive: true,
        windash: false,
    };
    let rules = [
        detection(1, vec![predicate(COMMAND_LINE, OperatorSpec::Equals, &["powershell -enc abc"])]),
        detection(2, vec![predicate(COMMAND_LINE, OperatorSpec::StartsWith, &["powershell"])]),
        detection(3, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["shell -e", "zzz"])]),
        detection(4, vec![predicate(COMMAND_LINE, OperatorSpec::EndsWith, &[" abc"])]),
        detection(5, vec![glob]),
        detection(6, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["-encx"])]),
    ];
    let content = built(&rules);
    let content = validate(&content, &SCHEMA).unwrap();
    let le = |s: &str| s.encode_utf16().flat_map(u16::to_le_bytes).collect::<Vec<u8>>();
    for split in [0, 5, 12, 19] {
        let line = "PowerShell -ENC abc";
        let event = ByteEvent { field: COMMAND_LINE, head: le(&line[..split]), tail: le(&line[split..]) };
        let mut scratch = vec![0u64; content.scratch_words()];
        let (mut matched, mut undecided) = ([0u32; 8], [0u32; 8]);
        let ids = RuleIds { matched: &mut matched, undecided: &mut undecided };
        let v = content.evaluate(&&event, &mut scratch, ids).unwrap();
        assert_eq!(&matched[..v.matched], &[1, 2, 3, 4, 5], "split at {split}");
    }
    assert_eq!(evaluate(&content, &cmd("PowerShell -ENC abc")).matched, vec![1, 2, 3, 4, 5]);
}

#[test]
fn a_field_the_kernel_cannot_know_leaves_the_rule_undecided_in_kleene_logic() {
    let ofn = predicate(ORIGINAL_FILE_NAME, OperatorSpec::Equals, &["cmd.exe"]);
    let image = predicate(IMAGE, OperatorSpec::EndsWith, &["\\cmd.exe"]);
    let rule = |id, condition| RuleSpec { condition, ..detection(id, vec![image.clone(), ofn.clone()]) };
    use ExprSpec::{All, Any, Not, Predicate as P};
    let rules = [
        rule(1, Any(vec![P(0), P(1)])),
        rule(2, All(vec![P(0), P(1)])),
        rule(3, Not(Box::new(P(1)))),
        rule(4, All(vec![Not(Box::new(P(0))), P(1)])),
    ];
    let kernel = |path: &str| TestEvent::start(vec![(IMAGE, text(path))]);
    let out = verdict(&rules, &kernel("c:\\x\\cmd.exe"));
    assert_eq!((out.matched, out.undecided), (vec![1], vec![2, 3]));
    let out = verdict(&rules, &kernel("c:\\x\\pwsh.exe"));
    assert_eq!((out.matched, out.undecided), (vec![], vec![1, 3, 4]));
    // The companion knows the field: the same content decides every rule.
    let enriched =
        TestEvent::start(vec![(IMAGE, text("c:\\x\\pwsh.exe")), (ORIGINAL_FILE_NAME, text("CMD.EXE"))]);
    let out = verdict(&rules, &enriched);
    assert_eq!((out.matched, out.undecided), (vec![1, 4], vec![]));
}

#[test]
fn a_path_on_an_unknown_volume_is_unknown_not_a_mismatch() {
    let rules = [detection(1, vec![predicate(IMAGE, OperatorSpec::EndsWith, &["\\cmd.exe"])])];
    let out = verdict(&rules, &TestEvent::start(vec![(IMAGE, Field::Unknown)]));
    assert_eq!((out.matched, out.undecided), (vec![], vec![1]));
    let out = verdict(&rules, &TestEvent::start(vec![(IMAGE, Field::Absent)]));
    assert_eq!((out.matched, out.undecided), (vec![], vec![]));
}

fn filter_rule(id: u32, role: Role, field: u8, value: &str) -> RuleSpec {
    RuleSpec { role, ..detection(id, vec![predicate(field, OperatorSpec::Contains, &[value])]) }
}

#[test]
fn the_filter_keeps_format_1_semantics_in_three_values() {
    let rules = [
        filter_rule(1, Role::Exclude, COMMAND_LINE, "noise"),
        filter_rule(2, Role::Include, IMAGE, "pwsh"),
        filter_rule(3, Role::Include, IMAGE, "powershell"),
        filter_rule(4, Role::Include, ORIGINAL_FILE_NAME, "pwsh"),
    ];
    let event = |image: &str, command_line: &str| {
        TestEvent::start(vec![
            (IMAGE, text(image)),
            (COMMAND_LINE, text(command_line)),
            (ORIGINAL_FILE_NAME, Field::Unknown),
        ])
    };
    let out = verdict(&rules, &event("pwsh.exe", "x"));
    assert_eq!((out.filter, out.include_rule), (Filter::Keep, Some(2)));
    let out = verdict(&rules, &event("powershell.exe", "x"));
    assert_eq!((out.filter, out.include_rule), (Filter::Keep, Some(3)));
    let out = verdict(&rules, &event("pwsh.exe", "noise"));
    assert_eq!((out.filter, out.include_rule), (Filter::Drop, None));
    // Rule 4 reads a companion field: the kernel cannot rule the event out.
    let out = verdict(&rules, &event("cmd.exe", "x"));
    assert_eq!((out.filter, out.include_rule), (Filter::Undecided, None));
    // Without include rules for a kind, an event is kept unless excluded.
    let only_exclude = [filter_rule(1, Role::Exclude, COMMAND_LINE, "noise")];
    assert_eq!(verdict(&only_exclude, &event("a", "b")).filter, Filter::Keep);
    assert_eq!(verdict(&only_exclude, &event("a", "noise")).filter, Filter::Drop);
}

#[test]
fn rules_of_another_kind_are_not_evaluated() {
    let mut exit = filter_rule(1, Role::Detection, 4, "x");
    exit.kind = EventKind::ProcessExit;
    exit.predicates[0].field = 4; // process_exit.image_path
    let rules = [exit, detection(2, vec![predicate(IMAGE, OperatorSpec::Contains, &["x"])])];
    assert_eq!(matched(&rules, &TestEvent::start(vec![(IMAGE, text("x")), (4, text("x"))])), vec![2]);
}

#[test]
fn ids_beyond_the_caller_s_array_are_counted_not_dropped() {
    let rules: Vec<RuleSpec> = (0..5)
        .map(|id| detection(id, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["a"])]))
        .collect();
    let bytes = built(&rules);
    let content = validate(&bytes, &SCHEMA).unwrap();
    let mut scratch = vec![0u64; content.scratch_words()];
    let (mut matched, mut undecided) = ([0u32; 2], [0u32; 0]);
    let event = cmd("a");
    let v = content
        .evaluate(&&event, &mut scratch, RuleIds { matched: &mut matched, undecided: &mut undecided })
        .unwrap();
    assert_eq!((v.matched, v.matched_rest, matched), (2, 3, [0, 1]));
    assert!(!v.droppable());
}

#[test]
fn a_scratch_buffer_smaller_than_the_content_states_is_refused() {
    let bytes = built(&[detection(1, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["a"])])]);
    let content = validate(&bytes, &SCHEMA).unwrap();
    // Four bitsets over one pattern, two over one rule.
    assert_eq!(content.scratch_words(), 6);
    let mut scratch = [0u64; 5];
    let event = cmd("a");
    let ids = RuleIds { matched: &mut [], undecided: &mut [] };
    assert_eq!(
        content.evaluate(&&event, &mut scratch, ids),
        Err(EvaluationError::ScratchTooSmall { needed: 6, given: 5 })
    );
}

/// The matched ids of one evaluation with `scratch` as it is.
fn matched_with(content: &v2::Content<'_>, event: &TestEvent, scratch: &mut [u64]) -> Vec<u32> {
    let mut matched = [0u32; 16];
    let v = content.evaluate(&event, scratch, RuleIds { matched: &mut matched, undecided: &mut [] }).unwrap();
    matched[..v.matched].to_vec()
}

#[test]
fn a_scratch_buffer_left_dirty_gives_the_same_verdicts_as_a_cleared_one() {
    // Only the contained bitset is cleared per event: the prefix, suffix and
    // whole bits count only for patterns contained in this event.
    let rules = [
        detection(1, vec![predicate(IMAGE, OperatorSpec::Equals, &["c:\\a.exe"])]),
        detection(2, vec![predicate(IMAGE, OperatorSpec::StartsWith, &["c:\\"])]),
        detection(3, vec![predicate(IMAGE, OperatorSpec::EndsWith, &["a.exe"])]),
        detection(4, vec![predicate(IMAGE, OperatorSpec::EndsWith, &[".exe", "txt"])]),
        detection(5, vec![predicate(IMAGE, OperatorSpec::StartsWith, &["a.exe"])]),
        detection(6, vec![predicate(IMAGE, OperatorSpec::Equals, &["a.exe"])]),
        detection(7, vec![predicate(IMAGE, OperatorSpec::Contains, &["\\a"])]),
    ];
    let bytes = built(&rules);
    let content = validate(&bytes, &SCHEMA).unwrap();
    let image = |s: &str| TestEvent::start(vec![(IMAGE, text(s))]);
    let events = ["C:\\A.EXE", "c:\\xa.exe", "a.exe", "a.exe.txt", "c:\\a.exe ", "", "zzz"].map(image);
    let expected: [&[u32]; 7] = [&[1, 2, 3, 4, 7], &[2, 3, 4], &[3, 4, 5, 6], &[5, 4], &[2, 7], &[], &[]];
    let mut reused = vec![0u64; content.scratch_words()];
    for (event, expected) in events.iter().zip(expected) {
        let mut expected = expected.to_vec();
        expected.sort_unstable();
        let mut cleared = vec![0u64; content.scratch_words()];
        let mut ones = vec![u64::MAX; content.scratch_words()];
        assert_eq!(matched_with(&content, event, &mut cleared), expected, "{event:?}");
        assert_eq!(matched_with(&content, event, &mut ones), expected, "{event:?}");
        // After every event before it, and after a different one.
        assert_eq!(matched_with(&content, event, &mut reused), expected, "{event:?}");
        matched_with(&content, &events[0], &mut reused);
        assert_eq!(matched_with(&content, event, &mut reused), expected, "{event:?}");
    }
}

#[test]
fn unvalidated_bytes_evaluate_like_validated_ones_when_they_are_valid() {
    let bytes = built(&[detection(7, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["a"])])]);
    let mut scratch = vec![0u64; 6];
    let mut matched = [0u32; 4];
    let event = cmd("xax");
    let v =
        evaluate_raw(&bytes, &&event, &mut scratch, RuleIds { matched: &mut matched, undecided: &mut [] })
            .unwrap();
    assert_eq!((v.matched, matched[0]), (1, 7));
}

#[test]
fn each_format_s_validator_refuses_the_other_s_version() {
    let v2 = built(&[detection(1, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["a"])])]);
    let e = ringfence_content::validate(&v2, &SCHEMA).unwrap_err();
    assert_eq!((e.offset, e.kind), (8, ringfence_content::ErrorKind::UnsupportedFormat { found: 2 }));
    let v1 = ringfence_content::compile(
        "version = 1\n[[rule]]\nname = \"r\"\nkind = \"process_start\"\naction = \"include\"\nmatch = [{ field = \"pid\", equals = 4 }]\n",
        &SCHEMA,
    )
    .unwrap();
    let e = validate(&v1, &SCHEMA).unwrap_err();
    assert_eq!((e.offset, e.kind), (8, ErrorKind::UnsupportedFormat { found: 1 }));
}

#[test]
fn the_builder_refuses_a_field_the_schema_lacks_regular_expressions_and_type_mismatches() {
    let err = |rules: &[RuleSpec]| build(rules, &SCHEMA, 1).unwrap_err();
    let missing = detection(9, vec![predicate(40, OperatorSpec::Contains, &["a"])]);
    assert_eq!(
        err(&[missing]),
        BuildError { rule: Some(9), kind: BuildErrorKind::FieldNotSupplied { predicate: 0, field: 40 } }
    );
    let regex = detection(8, vec![predicate(IMAGE, OperatorSpec::Regex, &["(?<=a)b"])]);
    assert_eq!(
        err(&[regex]),
        BuildError {
            rule: Some(8),
            kind: BuildErrorKind::Regex { predicate: 0, refusal: RegexRefusal::Syntax }
        }
    );
    let text_on_integer = detection(7, vec![predicate(PID, OperatorSpec::Contains, &["1"])]);
    assert_eq!(
        err(&[text_on_integer]),
        BuildError { rule: Some(7), kind: BuildErrorKind::TypeMismatch { predicate: 0 } }
    );
    let twice = [detection(3, vec![]), detection(3, vec![])];
    assert_eq!(err(&twice), BuildError { rule: Some(3), kind: BuildErrorKind::DuplicateRuleId });
}

#[test]
fn wide_expressions_stay_within_the_stack_limit() {
    let values: Vec<String> = (0..200).map(|i| format!("v{i:03}x")).collect();
    let predicates: Vec<PredicateSpec> =
        values.iter().map(|v| predicate(COMMAND_LINE, OperatorSpec::Contains, &[v.as_str()])).collect();
    let any = RuleSpec {
        condition: ExprSpec::Any((0..200).map(ExprSpec::Predicate).collect()),
        ..detection(1, predicates.clone())
    };
    let all = detection(2, predicates);
    assert_eq!(matched(&[any.clone(), all.clone()], &cmd("v150x")), vec![1]);
    assert_eq!(matched(&[any, all], &cmd(&values.concat())), vec![1, 2]);
}

#[test]
fn truth_is_exported_for_callers_that_combine_stages() {
    assert_eq!(Truth::Unknown.and(Truth::False), Truth::False);
    let _ = (Input::Absent, v2::MAX_EVALUATION_COST);
}

/// Regular expressions: each rule one regex on the command line; the verdict
/// asserted exactly, and agreeing with the `regex` crate on the lossy UTF-8 text.
#[test]
fn regular_expressions_match_anywhere_as_the_regex_crate_does() {
    let exact = |id: u32, source: &str| {
        detection(
            id,
            vec![PredicateSpec {
                case_insensitive: false,
                ..predicate(COMMAND_LINE, OperatorSpec::Regex, &[source])
            }],
        )
    };
    let folded =
        |id: u32, source: &str| detection(id, vec![predicate(COMMAND_LINE, OperatorSpec::Regex, &[source])]);
    let rules = [
        exact(1, r"^cmd\.exe /c"),
        exact(2, r"\.(ps1|vbs)$"),
        exact(3, r"-[eE][nN][cC]\s+[A-Za-z0-9+/=]{8,}"),
        folded(4, r"net\s+user"),
        exact(5, r"naïve|日本"),
        exact(6, r"\x{1F600}+"),
        exact(7, r"x\x{FFFD}y"),
        folded(8, r"ÄÖ+"),
    ];
    let sources: Vec<(String, bool)> = rules
        .iter()
        .map(|r| match &r.predicates[0].values[0] {
            ValueSpec::Text(source) => (source.clone(), r.predicates[0].case_insensitive),
            other => panic!("{other:?}"),
        })
        .collect();
    let bytes = built(&rules);
    let content = validate(&bytes, &SCHEMA).unwrap();
    let cases: [(Vec<u16>, Vec<u16>, &[u32]); 12] = [
        (units("cmd.exe /c whoami"), vec![], &[1]),
        (units("xcmd.exe /c whoami"), vec![], &[]),
        (units("run a.ps1"), vec![], &[2]),
        (units("run a.ps1 now"), vec![], &[]),
        (units("powershell -EnC SQBFAFgA"), vec![], &[3]),
        (units("powershell -enc SQB"), vec![], &[]),
        (units("NET   USER admin"), vec![], &[4]),
        (units("a naïve 日本 text"), vec![], &[5]),
        // U+1F600 as a surrogate pair split between head and tail.
        (units("smile \u{1F600}")[..7].to_vec(), units("\u{1F600}")[1..].to_vec(), &[6]),
        // An unpaired high surrogate reads as U+FFFD.
        (vec![u16::from(b'x'), 0xD800], vec![u16::from(b'y')], &[7]),
        (units("äöÖö"), vec![], &[8]),
        (units("cmd.exe"), units(" /c x.vbs"), &[1, 2]),
    ];
    for (head, tail, expected) in cases {
        let event = TestEvent::start(vec![(COMMAND_LINE, Field::Split(head.clone(), tail.clone()))]);
        let got = v2_common::evaluate(&content, &event).matched;
        let whole: Vec<u16> = head.iter().chain(&tail).copied().collect();
        let text = String::from_utf16_lossy(&whole);
        assert_eq!(got, expected, "{text:?}");
        let oracle: Vec<u32> = sources
            .iter()
            .zip(1u32..)
            .filter(|((source, ci), _)| {
                regex::RegexBuilder::new(source).case_insensitive(*ci).build().unwrap().is_match(&text)
            })
            .map(|(_, id)| id)
            .collect();
        assert_eq!(got, oracle, "{text:?}");
    }
}

fn units(s: &str) -> Vec<u16> {
    s.encode_utf16().collect()
}

/// A rule gated only by a regex is evaluated on every event (the `always`
/// list); a regex beside a literal is gated by the literal, and the regex still decides.
#[test]
fn a_rule_read_only_through_a_regex_is_never_skipped() {
    let exact = |source: &str| PredicateSpec {
        case_insensitive: false,
        ..predicate(COMMAND_LINE, OperatorSpec::Regex, &[source])
    };
    let only_regex = detection(1, vec![exact(r"[0-9]{4}")]);
    let with_literal =
        detection(2, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &["zip"]), exact("z.p")]);
    let negated = RuleSpec {
        condition: ExprSpec::Not(Box::new(ExprSpec::Predicate(0))),
        ..detection(3, vec![exact("^a")])
    };
    let rules = [only_regex, with_literal, negated];
    let case = |cmd: &str| verdict(&rules, &TestEvent::start(vec![(COMMAND_LINE, text(cmd))])).matched;
    assert_eq!(case("id 1234"), vec![1, 3]);
    assert_eq!(case("a zip"), vec![2]);
    assert_eq!(case("zap"), vec![3]);
    let unknown = verdict(&rules, &TestEvent::start(vec![(COMMAND_LINE, Field::Unknown)]));
    assert_eq!((unknown.matched, unknown.undecided), (vec![], vec![1, 2, 3]));
}

/// Entries of the `always` list (rules evaluated on every event) in built content.
fn always_count(bytes: &[u8]) -> u32 {
    use ringfence_content::v2::format::{header, section};
    let at = header::LEN + usize::from(section::ALWAYS - 1) * section::ENTRY_LEN + section::LEN;
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) / 2
}

/// Work units one evaluation charges.
fn work(bytes: &[u8], event: &TestEvent) -> u64 {
    let content = validate(bytes, &SCHEMA).unwrap();
    let mut scratch = vec![0u64; content.scratch_words()];
    let (mut matched, mut undecided) = ([0u32; 8], [0u32; 8]);
    let mut meter = ringfence_content::Meter::new(u64::MAX);
    let ids = RuleIds { matched: &mut matched, undecided: &mut undecided };
    content.evaluate_metered(&event, &mut scratch, ids, &mut meter).unwrap();
    meter.used()
}

/// A glob or regex whose every value requires a literal is gated by it: the
/// rule leaves `always`, a text without the literal skips the glob or the
/// automaton (false, without the per-unit work), and an unknown field is
/// still unknown. Verdicts are those of the ungated evaluation.
#[test]
fn globs_and_regexes_are_gated_by_a_literal_they_require() {
    let glob = PredicateSpec {
        values: vec![ValueSpec::Glob(vec![
            GlobPart::AnyRun,
            GlobPart::Literal(r"\PowerShell".into()),
            GlobPart::AnyRun,
            GlobPart::Literal(".exe".into()),
            GlobPart::AnyChar,
            GlobPart::AnyRun,
        ])],
        ..predicate(COMMAND_LINE, OperatorSpec::Glob, &[])
    };
    let regex = PredicateSpec {
        case_insensitive: false,
        ..predicate(COMMAND_LINE, OperatorSpec::Regex, &[r"\\(powershell|pwsh)\.exe"])
    };
    let rules = [detection(1, vec![glob]), detection(2, vec![regex])];
    let bytes = built(&rules);
    assert_eq!(always_count(&bytes), 0, "both rules are gated");
    let content = validate(&bytes, &SCHEMA).unwrap();
    let case = |s: &str| matched_and_undecided(&content, s);
    assert_eq!(case(r"C:\x\POWERSHELL.EXE -c 1"), (vec![1], vec![]));
    assert_eq!(case(r"C:\x\powershell.exe -c 1"), (vec![1, 2], vec![]));
    assert_eq!(case(r"C:\x\pwsh.exe -c 1"), (vec![2], vec![]));
    assert_eq!(case(r"C:\x\pwsh.EXE"), (vec![], vec![]), "the regex is case-sensitive");
    assert_eq!(case(r"\powershell.ex"), (vec![], vec![]));
    let unknown = evaluate(&content, &TestEvent::start(vec![(COMMAND_LINE, Field::Unknown)]));
    assert_eq!((unknown.matched, unknown.undecided), (vec![], vec![1, 2]));
    // 1,000 units with no gate (the glob's `\powershell`, its rarest run; the regex's
    // `\powershell.exe` or `\pwsh.exe`): the glob and the automaton do not run; with the
    // glob's gate found, the glob runs over the whole text (a step per unit at least).
    let without = cmd(&"c:\\tools\\x.com ".repeat(67)[..1_000]);
    // The glob's gate found (`\powershell` first), no expression matched.
    let with =
        cmd(&format!("{}x.exe", &format!("\\powershell.ex {}", "c:\\tools\\x.com ".repeat(67))[..995]));
    let (skipped, run) = (work(&bytes, &without), work(&bytes, &with));
    assert!(run > skipped + 2 * 2 * 1_000, "{run} vs {skipped}");
    assert_eq!(evaluate(&content, &with).matched, Vec::<u32>::new(), "the gates alone decide nothing");
}

/// A glob or regex without a required literal (only `*` and `?`, or an
/// alternation with nothing in common) has no gate: its rule stays in `always`.
#[test]
fn globs_and_regexes_without_a_required_literal_stay_ungated() {
    let glob = PredicateSpec {
        values: vec![ValueSpec::Glob(vec![GlobPart::AnyChar, GlobPart::AnyRun])],
        ..predicate(COMMAND_LINE, OperatorSpec::Glob, &[])
    };
    let regex = predicate(COMMAND_LINE, OperatorSpec::Regex, &[r"\w+"]);
    let partly = PredicateSpec {
        values: vec![
            ValueSpec::Glob(vec![GlobPart::Literal("x".into())]),
            ValueSpec::Glob(vec![GlobPart::AnyRun]),
        ],
        ..predicate(COMMAND_LINE, OperatorSpec::Glob, &[])
    };
    let rules = [detection(1, vec![glob]), detection(2, vec![regex]), detection(3, vec![partly])];
    let bytes = built(&rules);
    assert_eq!(always_count(&bytes), 3);
    let content = validate(&bytes, &SCHEMA).unwrap();
    assert_eq!(evaluate(&content, &cmd("pwsh")).matched, vec![1, 2, 3]);
    assert_eq!(evaluate(&content, &cmd("")).matched, vec![3]);
    assert_eq!(evaluate(&content, &cmd("x")).matched, vec![1, 2, 3]);
}

/// A regular expression with a set of gates (an alternation's branches, a
/// class of a few units), one of which every match contains: it runs when
/// any of them is found, is false without running when none is, and its rule
/// is listed by each of them. Verdicts are those of the ungated evaluation.
#[test]
fn a_regex_runs_when_any_of_its_gates_is_found() {
    let alternation = PredicateSpec {
        case_insensitive: false,
        ..predicate(COMMAND_LINE, OperatorSpec::Regex, &[r"(certutil|bitsadmin)\S*\s+/(urlcache|transfer)"])
    };
    let class = predicate(COMMAND_LINE, OperatorSpec::Regex, &[r"\s-[FTd]\s"]);
    let rules = [detection(1, vec![alternation]), detection(2, vec![class])];
    let bytes = built(&rules);
    assert_eq!(always_count(&bytes), 0, "both rules are gated");
    let content = validate(&bytes, &SCHEMA).unwrap();
    let case = |s: &str| matched_and_undecided(&content, s);
    assert_eq!(case("certutil.exe /urlcache x"), (vec![1], vec![]));
    assert_eq!(case("bitsadmin  /transfer j"), (vec![1], vec![]));
    assert_eq!(case("bitsadmin /create j"), (vec![], vec![]), "a gate found, no match");
    assert_eq!(case("curl -F x"), (vec![2], vec![]));
    assert_eq!(case("curl -T x -d y"), (vec![2], vec![]));
    assert_eq!(case("curl -f x"), (vec![2], vec![]), "the gates are folded, the expression case-insensitive");
    assert_eq!(case("curl --data x"), (vec![], vec![]));
    let unknown = evaluate(&content, &TestEvent::start(vec![(COMMAND_LINE, Field::Unknown)]));
    assert_eq!((unknown.matched, unknown.undecided), (vec![], vec![1, 2]));
    // 1,000 units without a gate: neither automaton runs; with `/transfer` and `certutil`
    // (whichever set of the two is the gate) in the wrong order, the first runs, unmatched.
    let filler = "c:\\tools\\x.com --verbose ".repeat(40);
    let (without, with) = (cmd(&filler[..1_000]), cmd(&format!("/transfer certutil {}", &filler[..981])));
    let (skipped, run) = (work(&bytes, &without), work(&bytes, &with));
    assert!(run > skipped + 2 * 1_000, "{run} vs {skipped}");
    assert_eq!(evaluate(&content, &with).matched, Vec::<u32>::new());
}

/// A regular expression whose literals are each required (`net` and `config`)
/// runs only when every one of them was found; verdicts are the ungated ones.
#[test]
fn a_regex_whose_every_gate_is_required_runs_when_all_are_found() {
    let regex = predicate(COMMAND_LINE, OperatorSpec::Regex, &[r"net\s+config"]);
    let bytes = built(&[detection(1, vec![regex])]);
    assert_eq!(always_count(&bytes), 0);
    let content = validate(&bytes, &SCHEMA).unwrap();
    let matched = |s: &str| evaluate(&content, &cmd(s)).matched;
    assert_eq!(matched("NET  Config workstation"), vec![1]);
    assert_eq!(matched("net user config"), Vec::<u32>::new(), "both found, no match");
    assert_eq!(matched("ipconfig /all"), Vec::<u32>::new());
    assert_eq!(matched("net user"), Vec::<u32>::new());
    // 1,000 units with `config` alone: the automaton does not run; with both, it does.
    let filler = "ipconfig --verbose ".repeat(60);
    let (one, both) = (cmd(&filler[..1_000]), cmd(&format!("net {}", &filler[..996])));
    let (skipped, run) = (work(&bytes, &one), work(&bytes, &both));
    assert!(run > skipped + 2 * 1_000, "{run} vs {skipped}");
}

/// Byte offset of rule entry `index`'s kernel default in built content.
fn default_at(bytes: &[u8], index: usize) -> usize {
    use ringfence_content::v2::format::{header, rule, section};
    let at = header::LEN + usize::from(section::RULES - 1) * section::ENTRY_LEN + section::OFFSET;
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize + index * rule::LEN + rule::DEFAULT
}

/// The matched and undecided ids, and the work units, of bytes nobody validated.
fn raw(bytes: &[u8], event: &TestEvent) -> (Vec<u32>, Vec<u32>, u64) {
    let content = v2::Content::from_unvalidated(bytes);
    let mut scratch = vec![0u64; content.scratch_words()];
    let (mut matched, mut undecided) = ([0u32; 8], [0u32; 8]);
    let mut meter = ringfence_content::Meter::new(u64::MAX);
    let ids = RuleIds { matched: &mut matched, undecided: &mut undecided };
    let v = content.evaluate_metered(&event, &mut scratch, ids, &mut meter).unwrap();
    (matched[..v.matched as usize].to_vec(), undecided[..v.undecided as usize].to_vec(), meter.used())
}

/// In the kernel a rule read through a companion field is a candidate on
/// every event; when no pattern of its sensor fields was found its value is
/// fixed (format.rs, "Kernel defaults"): `Image or OriginalFileName` is
/// unknown, the same `and CommandLine` false, without running the rule. The
/// defaults hold only when the event answers unknown for exactly the
/// companion fields; the verdicts are those of running every rule.
#[test]
fn kernel_defaults_decide_the_rules_a_companion_field_alone_made_candidates() {
    use ringfence_content::v2::format::rule;
    let image = predicate(IMAGE, OperatorSpec::EndsWith, &["\\cmd.exe"]);
    let ofn = predicate(ORIGINAL_FILE_NAME, OperatorSpec::Equals, &["cmd.exe"]);
    let cli = predicate(COMMAND_LINE, OperatorSpec::Contains, &["/c whoami"]);
    use ExprSpec::{All, Any, Predicate as P};
    let either =
        RuleSpec { condition: Any(vec![P(0), P(1)]), ..detection(1, vec![image.clone(), ofn.clone()]) };
    let both = RuleSpec {
        condition: All(vec![Any(vec![P(0), P(1)]), P(2)]),
        ..detection(2, vec![image.clone(), ofn.clone(), cli.clone()])
    };
    let bytes = built(&[either.clone(), both.clone()]);
    assert_eq!(bytes[default_at(&bytes, 0)], rule::DEFAULT_UNKNOWN);
    assert_eq!(bytes[default_at(&bytes, 1)], rule::DEFAULT_FALSE);
    let kernel =
        |cl: &str| TestEvent::start(vec![(IMAGE, text("c:\\x\\pwsh.exe")), (COMMAND_LINE, text(cl))]);

    // Neither rule runs: rule 1 undecided, rule 2 false, as running them says.
    let event = kernel("pwsh /c dir");
    let (matched, undecided, with_defaults) = raw(&bytes, &event);
    assert_eq!((matched, undecided), (vec![], vec![1]));
    let mut none = bytes.clone();
    none[default_at(&bytes, 0)] = rule::DEFAULT_NONE;
    none[default_at(&bytes, 1)] = rule::DEFAULT_NONE;
    let (matched, undecided, run) = raw(&none, &event);
    assert_eq!((matched, undecided), (vec![], vec![1]));
    assert!(with_defaults < run, "{with_defaults} units with the defaults, {run} running the rules");
    // The byte is what decides (bytes nobody validated): rule 1's made false drops it. Rule 2
    // is listed by its command line's pattern alone (format.rs, "Candidate rules"), the
    // conjunct it requires: no candidate here, whatever its byte says.
    let mut swapped = bytes.clone();
    swapped[default_at(&bytes, 0)] = rule::DEFAULT_FALSE;
    swapped[default_at(&bytes, 1)] = rule::DEFAULT_UNKNOWN;
    assert_eq!(raw(&swapped, &event).1, Vec::<u32>::new());
    let mut unknown_both = bytes.clone();
    unknown_both[default_at(&bytes, 1)] = rule::DEFAULT_UNKNOWN;
    assert_eq!(raw(&unknown_both, &event).1, vec![1]);

    // A pattern of a sensor field found: the rule runs (undecided: the image is not cmd.exe).
    let out = verdict(&[either.clone(), both.clone()], &kernel("pwsh /c whoami"));
    assert_eq!((out.matched, out.undecided), (vec![], vec![1, 2]));
    // A sensor field unknown (a path on an unknown volume): the defaults do not hold, the rules run.
    let unknown_cli =
        TestEvent::start(vec![(IMAGE, text("c:\\x\\pwsh.exe")), (COMMAND_LINE, Field::Unknown)]);
    let out = verdict(&[either.clone(), both.clone()], &unknown_cli);
    assert_eq!((out.matched, out.undecided), (vec![], vec![1, 2]));
    // The companion knows the field: the defaults do not hold, every rule is decided.
    let enriched = TestEvent::start(vec![
        (IMAGE, text("c:\\x\\pwsh.exe")),
        (COMMAND_LINE, text("cmd /c whoami")),
        (ORIGINAL_FILE_NAME, text("Cmd.Exe")),
    ]);
    let out = verdict(&[either, both], &enriched);
    assert_eq!((out.matched, out.undecided), (vec![1, 2], vec![]));
}

/// `x and rarepattern` is listed by `rarepattern` alone (format.rs,
/// "Candidate rules"; the layout is asserted in v2_malformed.rs): its
/// verdicts are those of running it on every event.
#[test]
fn a_rule_listed_by_its_rarer_conjunct_keeps_its_verdicts() {
    let both = detection(
        1,
        vec![
            predicate(COMMAND_LINE, OperatorSpec::Contains, &[".exe"]),
            predicate(COMMAND_LINE, OperatorSpec::Contains, &["rarepattern"]),
        ],
    );
    let rules = [both];
    for (line, expected) in [
        ("abc def", vec![]),
        ("a.exe def", vec![]),
        ("rarepattern def", vec![]),
        ("a.exe rarepattern", vec![1]),
        ("RAREPATTERN A.EXE", vec![1]),
    ] {
        assert_eq!(matched(&rules, &cmd(line)), expected, "{line}");
    }
}

/// An edge word's flag: the word holds its state's one edge (transitions.rs).
const EDGE: u32 = 1 << 31;

/// One `contains` rule per value: a command-line automaton with many states.
fn many_contains(values: &[String]) -> Vec<u8> {
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    build(&[detection(1, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &refs)])], &SCHEMA, 1).unwrap()
}

#[test]
fn the_transition_table_has_rows_as_deep_as_its_word_limit_allows() {
    // 26 × 26 two-letter stems and their three- and four-letter children.
    let letters: Vec<char> = ('a'..='z').collect();
    let values: Vec<String> =
        letters.iter().flat_map(|a| letters.iter().map(move |b| format!("{a}{b}{a}{b}"))).collect();
    let bytes = many_contains(&values);
    let content = validate(&bytes, &SCHEMA).unwrap();
    // One folded scanner: the root, 26 + 676 + 676 + 676 states to depth 4, 27 classes: all fit,
    // after a header of 3 words, the 128-word unit map and 2 words for edges (none: no state
    // is past the rows).
    let states = 1 + 26 + 676 + 676 + 676;
    assert_eq!(content.transition_words(), 133 + states * 27);
    let mut words = vec![0u32; content.transition_words()];
    assert_eq!(
        content.build_transitions(&mut words[1..]),
        Err(v2::TransitionTableError::WrongSize { needed: words.len(), given: words.len() - 1 })
    );
    content.build_transitions(&mut words).unwrap();
    assert_eq!(words[..3], [133, u32::try_from(states).unwrap(), 27]);
    assert_eq!(words[131..133], [u32::try_from(133 + states * 27).unwrap(), 0]);
    // The unit map: a letter's class, upper case folded to lower; anything else class 0.
    // Every letter is as frequent in these values as every other, so the classes follow
    // the alphabet (classes are numbered by frequency, ties by unit).
    let map = |unit: u8| words[3 + usize::from(unit)];
    assert_eq!((map(b'a'), map(b'A'), map(b'z'), map(b'Z'), map(b'-'), map(0)), (1, 1, 26, 26, 0, 0));
    let rowed = content.with_transitions(&words);
    for line in ["xyxy", "XYXZ qrqr", "abab", "zzz", "", "ÄäÄä abxabab"] {
        assert_eq!(evaluate(&rowed, &cmd(line)), evaluate(&content, &cmd(line)), "{line}");
        assert!(work_done(&rowed, &cmd(line)) <= work_done(&content, &cmd(line)));
    }
    assert_eq!(evaluate(&rowed, &cmd("say XYXY")).matched, [1]);
    assert_eq!(evaluate(&rowed, &cmd("xyx yxy")).matched, [0u32; 0]);

    // Six-letter values over 20 letters: 8,000 states at depth 3, 21 classes, past the limit.
    let mut values = Vec::new();
    for a in 'a'..='t' {
        for b in 'a'..='t' {
            for c in 'a'..='t' {
                values.push(format!("{a}{b}{c}{c}{b}{a}"));
            }
        }
    }
    let bytes = many_contains(&values);
    let content = validate(&bytes, &SCHEMA).unwrap();
    // The root, 20 + 400 states to depth 2 and 8,000 at each depth from 3 to 6.
    let (rows, states) = (v2::MAX_TRANSITION_WORDS / 21, 1 + 20 + 400 + 4 * 8_000);
    assert_eq!(rows, 3_120);
    // Every state past the rows has an edge word.
    assert_eq!(content.transition_words(), 133 + rows * 21 + (states - rows));
    let mut words = vec![0u32; content.transition_words()];
    content.build_transitions(&mut words).unwrap();
    assert_eq!(words[..3], [133, u32::try_from(rows).unwrap(), 21]);
    let edges_at = 133 + rows * 21;
    assert_eq!(words[131..133], [u32::try_from(edges_at).unwrap(), u32::try_from(states - rows).unwrap()]);
    let edges = &words[edges_at..];
    // The first state past the rows is the 2,700th of depth 3 (6 × 400 + 14 × 20 + 19: `got`),
    // whose one edge, on `t` (class 20), leads to the 2,700th of depth 4 (`gott`). States
    // are numbered breadth-first, their children in class order.
    let gott = 1 + 20 + 400 + 8_000 + 2_699;
    assert_eq!(edges[0], EDGE | 20 << 20 | u32::try_from(gott).unwrap());
    // The first state of depth 4 (`aaaa`, of the value `aaaaaa`) has one edge too, on `a`; the
    // first of depth 5 one to the state where its pattern ends, flagged (bit 30: something to
    // mark); one of depth 6 has no edge: 0.
    let state = |depth: usize, i: usize| 1 + 20 + 400 + (depth - 3) * 8_000 + i - rows;
    let number = |depth: usize, i: usize| u32::try_from(state(depth, i) + rows).unwrap();
    assert_eq!(edges[state(4, 0)], EDGE | 1 << 20 | number(5, 0));
    assert_eq!(edges[state(5, 0)], EDGE | 1 << 30 | 1 << 20 | number(6, 0));
    assert_eq!(edges[state(6, 0)], 0);
    assert_eq!(edges.iter().filter(|&&w| w != 0).count(), (8_000 - 2_699) + 8_000 + 8_000);
    let rowed = content.with_transitions(&words);
    for line in ["tsrrst", "abccba", "a b c", "abcabc ccbba"] {
        assert_eq!(evaluate(&rowed, &cmd(line)), evaluate(&content, &cmd(line)), "{line}");
    }

    // The same values on the image, which comes first, and `xyz` on the parent's image:
    // both get their rows to depth 2 (421 × 21 and 3 × 4 words), then the image the words
    // left as far as they reach, then the parent its last state with the 4 words left after.
    let big = detection(
        1,
        vec![predicate(
            IMAGE,
            OperatorSpec::Contains,
            &values.iter().map(String::as_str).collect::<Vec<_>>(),
        )],
    );
    let small = detection(2, vec![predicate(PARENT_IMAGE, OperatorSpec::Contains, &["xyz"])]);
    let bytes = build(&[big, small], &SCHEMA, 1).unwrap();
    let content = validate(&bytes, &SCHEMA).unwrap();
    let image_rows = 421 + (v2::MAX_TRANSITION_WORDS - 421 * 21 - 3 * 4) / 21;
    assert_eq!(v2::MAX_TRANSITION_WORDS - 421 * 21 - 3 * 4 - (image_rows - 421) * 21, 4);
    // Then the image's edge words, one a state past its rows; the parent's states all have rows.
    let image_edges = 1 + 20 + 400 + 4 * 8_000 - image_rows;
    assert_eq!(content.transition_words(), 266 + image_rows * 21 + 4 * 4 + image_edges);
    let mut words = vec![0u32; content.transition_words()];
    content.build_transitions(&mut words).unwrap();
    let offset = u32::try_from(266 + image_rows * 21).unwrap();
    assert_eq!(words[..3], [266, u32::try_from(image_rows).unwrap(), 21]);
    assert_eq!(words[131..133], [offset + 16, u32::try_from(image_edges).unwrap()]);
    assert_eq!(words[133..136], [offset, 4, 4]);
    assert_eq!(words[264..266], [offset + 16 + u32::try_from(image_edges).unwrap(), 0]);
}

/// More states past the rows than [`v2::MAX_EDGE_WORDS`]: the table holds
/// edge words as far as the limit reaches, and the deepest states, past it,
/// step through their entries and goto rows, to the same verdicts.
#[test]
fn edge_words_stop_at_their_limit_and_the_states_past_it_keep_their_verdicts() {
    // 1,100 values of 256 random letters, split between two rules.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut letter = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        char::from(b'a' + u8::try_from(seed % 26).unwrap())
    };
    let values: Vec<String> = (0..1_100).map(|_| (0..256).map(|_| letter()).collect()).collect();
    let refs: Vec<&str> = values.iter().map(String::as_str).collect();
    let (first, second) = refs.split_at(550);
    let rules = [
        detection(1, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, first)]),
        detection(2, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, second)]),
    ];
    let bytes = build(&rules, &SCHEMA, 1).unwrap();
    let content = validate(&bytes, &SCHEMA).unwrap();
    // The scanner's states: the root, each distinct prefix to depth 8, then (every prefix of
    // 8 letters being distinct) one state a letter of every value.
    let distinct =
        |depth: usize| values.iter().map(|v| &v[..depth]).collect::<std::collections::HashSet<_>>().len();
    assert_eq!(distinct(8), 1_100);
    let states = 1 + (1..=8).map(distinct).sum::<usize>() + 1_100 * (256 - 8);
    assert_eq!(states, 279_962);
    let mut words = vec![0u32; content.transition_words()];
    content.build_transitions(&mut words).unwrap();
    // 27 classes (the letters and everything else); rows for as many states as the words
    // allow (every state to depth 3, then depth 4's first ones).
    assert_eq!(words[2], 27);
    let rows = v2::MAX_TRANSITION_WORDS / 27;
    assert_eq!(words[1], u32::try_from(rows).unwrap());
    assert_eq!(rows, 2_427);
    // More states past the rows than edge words: the words stop at the limit, 15,391 states
    // short, and the table with them.
    assert_eq!(states - rows - v2::MAX_EDGE_WORDS, 15_391);
    let edges_at = 133 + rows * 27;
    let count = u32::try_from(v2::MAX_EDGE_WORDS).unwrap();
    assert_eq!(words[131..133], [u32::try_from(edges_at).unwrap(), count]);
    assert_eq!(words.len(), edges_at + v2::MAX_EDGE_WORDS);
    // The last word is the state's one edge (no state past the rows ends a value there).
    assert_eq!(words[words.len() - 1] & EDGE, EDGE);

    // Every value's last units step through states past the limit.
    let rowed = content.with_transitions(&words);
    let changed = |v: &str| {
        let last = v.chars().last().unwrap();
        format!("{}{}", &v[..v.len() - 1], if last == 'z' { 'a' } else { 'z' })
    };
    for (k, rule) in [(0, 1), (549, 1), (550, 2), (1_099, 2)] {
        let v = values[k].as_str();
        let lines = [
            (format!("zz {v} zz"), vec![rule]),
            (format!("{v}{v}"), vec![rule]),
            (changed(v), vec![]),
            (v[..255].to_owned(), vec![]),
            (format!("{}{}", &values[(k + 1) % 1_100][..200], v), vec![rule]),
        ];
        for (line, expected) in lines {
            let with = evaluate(&rowed, &cmd(&line));
            assert_eq!(with.matched, expected, "value {k}");
            assert_eq!(with, evaluate(&content, &cmd(&line)), "value {k}");
            assert!(work_done(&rowed, &cmd(&line)) <= work_done(&content, &cmd(&line)), "value {k}");
        }
    }
}

/// A row holds the classes of ASCII units only: a non-ASCII unit a pattern
/// holds (an en dash, a Cyrillic letter) steps through the goto search, from
/// a state with a row as from any other, to the same verdicts.
#[test]
fn non_ascii_units_step_past_the_rows_to_the_same_verdicts() {
    // One rule a value (ids 1 to 7), so that a verdict names the patterns found.
    let values = ["a–b", "–enc", "x\\ж", "жжa", "ab–", "-enc", "abc"];
    let rules: Vec<RuleSpec> = (1..)
        .zip(values)
        .map(|(id, v)| detection(id, vec![predicate(COMMAND_LINE, OperatorSpec::Contains, &[v])]))
        .collect();
    let bytes = build(&rules, &SCHEMA, 1).unwrap();
    let content = validate(&bytes, &SCHEMA).unwrap();
    let mut words = vec![0u32; content.transition_words()];
    content.build_transitions(&mut words).unwrap();
    // Classes: 0, then - \\ a b c e n x (ASCII, folded), then – ж: rows are 9 wide.
    assert_eq!(words[2], 9);
    let rowed = content.with_transitions(&words);
    let lines = ["a–b", "xa–enc", "ЖЖA", "x\\Жж", "ab–c", "a-b –ENC", "–", "ж", "abab–жжaab", "a–-b"];
    for line in lines {
        assert_eq!(evaluate(&rowed, &cmd(line)), evaluate(&content, &cmd(line)), "{line}");
        assert!(work_done(&rowed, &cmd(line)) <= work_done(&content, &cmd(line)), "{line}");
    }
    let matched = |line: &str| evaluate(&rowed, &cmd(line)).matched;
    assert_eq!(matched("xa–enc"), [2]);
    assert_eq!(matched("xa–b -ENC"), [1, 6]);
    assert_eq!(matched("ЖЖA"), [4]);
    // Past the text's start, `ab` is reached through rows alone; `–` then steps from it.
    assert_eq!(matched("abab–жжaab"), [4, 5]);
    assert_eq!(matched("a-b"), [0u32; 0]);
}

/// Words that were not built for the content change what is found, never the
/// bounds: every evaluation still stops at the per-event limit.
#[test]
fn a_transition_table_that_lies_stays_within_the_per_event_limit() {
    let values: Vec<String> = (0..200).map(|i| format!("v{i}x{i}")).collect();
    let bytes = many_contains(&values);
    let content = validate(&bytes, &SCHEMA).unwrap();
    let long = "v1x1 v2x".repeat(4_000);
    let mut seed = 0x9E37_79B9u32;
    let noise: Vec<u32> = (0..content.transition_words())
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed % 4096
        })
        .collect();
    let mut header_kept = noise.clone();
    header_kept[..2].copy_from_slice(&[2, 100]);
    let lies = [vec![u32::MAX; 64], vec![0; 2], noise, header_kept];
    for words in &lies {
        let lying = content.with_transitions(words);
        let mut scratch = vec![0u64; content.scratch_words()];
        let (mut matched, mut undecided) = ([0u32; 8], [0u32; 8]);
        let mut meter = ringfence_content::Meter::new(v2::EVENT_WORK_LIMIT);
        let ids = RuleIds { matched: &mut matched, undecided: &mut undecided };
        match lying.evaluate_metered(&&cmd(&long), &mut scratch, ids, &mut meter) {
            Ok(_) | Err(EvaluationError::CostExceeded { .. }) => {}
            Err(e) => panic!("{e:?}"),
        }
        assert!(meter.used() <= v2::EVENT_WORK_LIMIT + 64, "{}", meter.used());
    }
}
