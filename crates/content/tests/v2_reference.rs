//! build → validate → evaluate equals a plain reference evaluator written
//! here (naive substring / prefix / suffix / equality / glob over folded
//! strings, windash as dash normalisation, the `regex` crate for regular
//! expressions, Kleene logic), on generated rules
//! and events: non-ASCII text, letters outside the BMP, absent and unknown
//! fields, split texts, long texts.

#![allow(clippy::cast_possible_truncation)]

mod v2_common;

use proptest::prelude::*;
use ringfence_content::v2::Filter;
use ringfence_content::v2::build::{
    BuildError, BuildErrorKind, Compare, ExprSpec, GlobPart, OperatorSpec, PredicateSpec, RuleSpec,
    ValueSpec, build,
};
use ringfence_content::v2::{ErrorKind, Limit, Role, Truth};
use v2_common::*;

const ALPHABET: [char; 10] = ['a', 'b', 'A', 'B', 'é', 'É', '-', '/', 'ς', '\u{10400}'];

fn word(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(&ALPHABET[..]), 0..=max).prop_map(|v| v.into_iter().collect())
}

/// Reference folding: simple lower case of BMP characters (Σ, σ and ς fold to σ); others unchanged.
fn fold_char(c: char, insensitive: bool, windash: bool) -> char {
    let c = if windash && ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'].contains(&c) { '-' } else { c };
    if !insensitive || (c as u32) > 0xFFFF {
        return c;
    }
    if c == 'ς' {
        return 'σ';
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

fn norm(s: &str, p: &PredicateSpec) -> Vec<u16> {
    let folded: String = s.chars().map(|c| fold_char(c, p.case_insensitive, p.windash)).collect();
    folded.encode_utf16().collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tok {
    Unit(u16),
    Any,
    Star,
}

fn glob_match(tokens: &[Tok], text: &[u16]) -> bool {
    // reachable[i] after j text units: the first i tokens match text[..j].
    let n = tokens.len();
    let mut reach = vec![false; n + 1];
    reach[0] = true;
    let close = |reach: &mut Vec<bool>| {
        for i in 0..n {
            if reach[i] && tokens[i] == Tok::Star {
                reach[i + 1] = true;
            }
        }
    };
    close(&mut reach);
    for &u in text {
        let mut next = vec![false; n + 1];
        for i in 0..n {
            if !reach[i] {
                continue;
            }
            match tokens[i] {
                Tok::Star => next[i] = true,
                Tok::Any => next[i + 1] = true,
                Tok::Unit(t) => next[i + 1] |= t == u,
            }
        }
        reach = next;
        close(&mut reach);
    }
    reach[n]
}

fn value_holds(p: &PredicateSpec, v: &ValueSpec, text: &[u16]) -> bool {
    match (&p.operator, v) {
        (OperatorSpec::Glob, ValueSpec::Glob(parts)) => {
            let mut tokens = Vec::new();
            for part in parts {
                match part {
                    GlobPart::AnyRun => tokens.push(Tok::Star),
                    GlobPart::AnyChar => tokens.push(Tok::Any),
                    GlobPart::Literal(s) => tokens.extend(norm(s, p).into_iter().map(Tok::Unit)),
                }
            }
            glob_match(&tokens, text)
        }
        (op, ValueSpec::Text(s)) => {
            let v = norm(s, p);
            match op {
                OperatorSpec::Equals => text == v.as_slice(),
                OperatorSpec::StartsWith => text.starts_with(&v),
                OperatorSpec::EndsWith => text.ends_with(&v),
                _ => v.is_empty() || text.windows(v.len()).any(|w| w == v.as_slice()),
            }
        }
        _ => unreachable!(),
    }
}

fn regex_holds(p: &PredicateSpec, v: &ValueSpec, text: &str) -> bool {
    let ValueSpec::Text(source) = v else { unreachable!() };
    regex::RegexBuilder::new(source).case_insensitive(p.case_insensitive).build().unwrap().is_match(text)
}

fn reference_predicate(p: &PredicateSpec, event: &TestEvent) -> Truth {
    let field = event.fields.iter().find(|(i, _)| *i == p.field).map(|(_, f)| f.clone());
    let field = field.unwrap_or(if p.field >= 128 { Field::Unknown } else { Field::Absent });
    let any_all = |holds: &dyn Fn(&ValueSpec) -> bool| {
        let b = if p.all { p.values.iter().all(holds) } else { p.values.iter().any(holds) };
        if b { Truth::True } else { Truth::False }
    };
    match (&p.operator, field) {
        (_, Field::Unknown) => Truth::Unknown,
        (OperatorSpec::Exists(yes), Field::Absent) => {
            if *yes {
                Truth::False
            } else {
                Truth::True
            }
        }
        (OperatorSpec::Exists(yes), _) => {
            if *yes {
                Truth::True
            } else {
                Truth::False
            }
        }
        (_, Field::Absent) => Truth::False,
        (OperatorSpec::Regex, Field::Text(t)) => {
            let text = String::from_utf16(&t).unwrap();
            any_all(&|v| regex_holds(p, v, &text))
        }
        (OperatorSpec::Regex, Field::Split(h, t)) => {
            let whole: Vec<u16> = h.iter().chain(t.iter()).copied().collect();
            let text = String::from_utf16(&whole).unwrap();
            any_all(&|v| regex_holds(p, v, &text))
        }
        (OperatorSpec::Compare(c), Field::Int(x)) => any_all(&|v| {
            let ValueSpec::Integer(n) = v else { unreachable!() };
            match c {
                Compare::Equals => x == *n,
                Compare::Less => x < *n,
                Compare::LessOrEqual => x <= *n,
                Compare::Greater => x > *n,
                Compare::GreaterOrEqual => x >= *n,
            }
        }),
        (_, Field::Text(t)) => {
            let text = norm(&String::from_utf16(&t).unwrap(), p);
            any_all(&|v| value_holds(p, v, &text))
        }
        (_, Field::Split(h, t)) => {
            let whole: Vec<u16> = h.iter().chain(t.iter()).copied().collect();
            let text = norm(&String::from_utf16(&whole).unwrap(), p);
            any_all(&|v| value_holds(p, v, &text))
        }
        _ => unreachable!(),
    }
}

fn reference_expr(e: &ExprSpec, truths: &[Truth]) -> Truth {
    match e {
        ExprSpec::Predicate(i) => truths[*i as usize],
        ExprSpec::Not(inner) => reference_expr(inner, truths).not(),
        ExprSpec::All(items) => items.iter().fold(Truth::True, |acc, i| acc.and(reference_expr(i, truths))),
        ExprSpec::Any(items) => items.iter().fold(Truth::False, |acc, i| acc.or(reference_expr(i, truths))),
    }
}

fn reference(rules: &[RuleSpec], event: &TestEvent) -> (Vec<u32>, Vec<u32>) {
    let (mut matched, mut undecided) = (vec![], vec![]);
    let mut sorted: Vec<&RuleSpec> = rules.iter().collect();
    sorted.sort_by_key(|r| r.id);
    for r in sorted {
        let truths: Vec<Truth> = r.predicates.iter().map(|p| reference_predicate(p, event)).collect();
        match reference_expr(&r.condition, &truths) {
            Truth::True => matched.push(r.id),
            Truth::Unknown => undecided.push(r.id),
            Truth::False => {}
        }
    }
    (matched, undecided)
}

fn glob_value() -> impl Strategy<Value = ValueSpec> {
    let part =
        prop_oneof![word(3).prop_map(GlobPart::Literal), Just(GlobPart::AnyRun), Just(GlobPart::AnyChar),];
    prop::collection::vec(part, 0..5).prop_map(ValueSpec::Glob)
}

fn text_predicate() -> impl Strategy<Value = PredicateSpec> {
    let op = prop_oneof![
        Just(OperatorSpec::Equals),
        Just(OperatorSpec::Contains),
        Just(OperatorSpec::StartsWith),
        Just(OperatorSpec::EndsWith),
        Just(OperatorSpec::Glob),
        Just(OperatorSpec::Exists(true)),
        Just(OperatorSpec::Exists(false)),
    ];
    let field = prop::sample::select(vec![IMAGE, COMMAND_LINE, ORIGINAL_FILE_NAME]);
    (
        op,
        field,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(word(4), 1..4),
        prop::collection::vec(glob_value(), 1..3),
    )
        .prop_map(|(operator, field, all, case_insensitive, windash, words, globs)| {
            let values = match operator {
                OperatorSpec::Exists(_) => vec![],
                OperatorSpec::Glob => globs,
                _ => words.into_iter().map(ValueSpec::Text).collect(),
            };
            PredicateSpec { field, operator, values, all, case_insensitive, windash }
        })
}

/// A regular expression over the alphabet: escaped characters, `.`, a class,
/// an alternation, each perhaps repeated, perhaps anchored.
fn regex_value() -> impl Strategy<Value = ValueSpec> {
    let atom = prop_oneof![
        4 => prop::sample::select(&ALPHABET[..]).prop_map(|c| regex::escape(&c.to_string())),
        1 => Just(".".to_string()),
        1 => Just("[aé]".to_string()),
        1 => Just("(a|B|\u{10400})".to_string()),
    ];
    let quantifier = prop::sample::select(vec!["", "", "*", "+", "?", "{1,2}"]);
    let piece = (atom, quantifier).prop_map(|(a, q)| format!("{a}{q}"));
    (any::<bool>(), prop::collection::vec(piece, 0..5), any::<bool>()).prop_map(|(start, pieces, end)| {
        ValueSpec::Text(format!(
            "{}{}{}",
            if start { "^" } else { "" },
            pieces.concat(),
            if end { "$" } else { "" }
        ))
    })
}

fn regex_predicate() -> impl Strategy<Value = PredicateSpec> {
    let field = prop::sample::select(vec![IMAGE, COMMAND_LINE, ORIGINAL_FILE_NAME]);
    (field, any::<bool>(), any::<bool>(), prop::collection::vec(regex_value(), 1..3)).prop_map(
        |(field, all, case_insensitive, values)| PredicateSpec {
            field,
            operator: OperatorSpec::Regex,
            values,
            all,
            case_insensitive,
            windash: false,
        },
    )
}

fn int_predicate() -> impl Strategy<Value = PredicateSpec> {
    let cmp = prop::sample::select(vec![
        Compare::Equals,
        Compare::Less,
        Compare::LessOrEqual,
        Compare::Greater,
        Compare::GreaterOrEqual,
    ]);
    (cmp, prop::collection::vec(0u64..4, 1..3), any::<bool>()).prop_map(|(c, values, all)| PredicateSpec {
        field: SESSION,
        operator: OperatorSpec::Compare(c),
        values: values.into_iter().map(ValueSpec::Integer).collect(),
        all,
        case_insensitive: false,
        windash: false,
    })
}

fn expr(predicates: u32) -> impl Strategy<Value = ExprSpec> {
    let leaf = (0..predicates).prop_map(ExprSpec::Predicate);
    leaf.prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            inner.clone().prop_map(|e| ExprSpec::Not(Box::new(e))),
            prop::collection::vec(inner.clone(), 0..4).prop_map(ExprSpec::All),
            prop::collection::vec(inner, 0..4).prop_map(ExprSpec::Any),
        ]
    })
}

fn rule(id: u32) -> impl Strategy<Value = RuleSpec> {
    let predicate = prop_oneof![4 => text_predicate(), 1 => int_predicate(), 1 => regex_predicate()];
    prop::collection::vec(predicate, 1..4).prop_flat_map(move |predicates| {
        let n = predicates.len() as u32;
        expr(n).prop_map(move |condition| RuleSpec {
            condition,
            role: Role::Detection,
            ..detection(id, predicates.clone())
        })
    })
}

fn rules() -> impl Strategy<Value = Vec<RuleSpec>> {
    (1usize..6).prop_flat_map(|n| (0..n as u32).map(rule).collect::<Vec<_>>())
}

fn field_value() -> impl Strategy<Value = Field> {
    prop_oneof![
        4 => word(12).prop_map(|s| text(&s)),
        2 => (word(8), word(8)).prop_map(|(h, t)| Field::Split(h.encode_utf16().collect(), t.encode_utf16().collect())),
        1 => (word(6), 200usize..2000).prop_map(|(s, n)| text(&s.repeat(n / s.len().max(1)))),
        1 => Just(Field::Absent),
        1 => Just(Field::Unknown),
    ]
}

fn event() -> impl Strategy<Value = TestEvent> {
    (
        field_value(),
        field_value(),
        field_value(),
        prop_oneof![(0u64..4).prop_map(Field::Int), Just(Field::Absent)],
    )
        .prop_map(|(image, command_line, ofn, session)| {
            // A kernel field is never unknown in a record; a path may be (unknown volume).
            let command_line =
                if matches!(command_line, Field::Unknown) { Field::Absent } else { command_line };
            TestEvent::start(vec![
                (IMAGE, image),
                (COMMAND_LINE, command_line),
                (ORIGINAL_FILE_NAME, ofn),
                (SESSION, session),
            ])
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn evaluation_equals_the_reference_evaluator(rules in rules(), events in prop::collection::vec(event(), 1..4)) {
        // A value with more than three dashes under windash, or many windash
        // spellings of globs on 32,767-unit fields, are refused by their limits:
        // those refusals are the only ones allowed here.
        let bytes = match build(&rules, &ringfence_wire::SCHEMA, 1) {
            Ok(bytes) => bytes,
            Err(BuildError { rule: None, kind: BuildErrorKind::Invalid(e) })
                if matches!(e.kind, ErrorKind::LimitExceeded { limit: Limit::EvaluationCost, .. }) => return Ok(()),
            Err(BuildError { kind: BuildErrorKind::Limit { limit: "windash spellings of one value", .. }, .. }) => {
                return Ok(())
            }
            Err(e) => panic!("{e:?}"),
        };
        let content = ringfence_content::v2::validate(&bytes, &ringfence_wire::SCHEMA).unwrap();
        // The same content with its transition table: the same verdicts, never more work.
        let mut table = vec![0u32; content.transition_words()];
        content.build_transitions(&mut table).unwrap();
        let rowed = content.with_transitions(&table);
        let worst = ringfence_content::v2::cost::worst_case_any_kind(&content, &ringfence_wire::SCHEMA);
        for event in &events {
            let out = evaluate(&content, event);
            let (matched, undecided) = reference(&rules, event);
            prop_assert_eq!(&out.matched, &matched, "event {:?}", event);
            prop_assert_eq!(&out.undecided, &undecided);
            prop_assert_eq!(out.filter, Filter::Keep);
            prop_assert_eq!(&evaluate(&rowed, event), &out, "with the transition table");
            let (plain, fast) = (work_done(&content, event), work_done(&rowed, event));
            prop_assert!(fast <= plain && plain <= worst, "work {fast} with rows, {plain} without, bound {worst}");
        }
    }
}

/// Letters of the long patterns: few, so that patterns share prefixes and
/// suffixes, with one past ASCII.
const LONG_ALPHABET: [char; 5] = ['a', 'b', 'A', '-', 'é'];

/// Rules over values longer than the transition table's rows reach
/// (`ROW_DEPTH` units), so that a walk steps through the states past them.
fn long_rules() -> impl Strategy<Value = Vec<RuleSpec>> {
    let value = prop::collection::vec(prop::sample::select(&LONG_ALPHABET[..]), 8..=24)
        .prop_map(|v| ValueSpec::Text(v.into_iter().collect()));
    let op = prop::sample::select(vec![
        OperatorSpec::Contains,
        OperatorSpec::Contains,
        OperatorSpec::StartsWith,
        OperatorSpec::EndsWith,
        OperatorSpec::Equals,
    ]);
    let field = prop::sample::select(vec![IMAGE, COMMAND_LINE]);
    let predicate = (op, field, any::<bool>(), any::<bool>(), prop::collection::vec(value, 1..4)).prop_map(
        |(operator, field, case_insensitive, windash, values)| {
            // Windash spells each dash five ways: at most three dashes a value (its limit).
            let dashes = |v: &ValueSpec| matches!(v, ValueSpec::Text(s) if s.matches('-').count() <= 3);
            let windash = windash && values.iter().all(dashes);
            PredicateSpec { field, operator, values, all: false, case_insensitive, windash }
        },
    );
    let rule = move |id: u32| {
        prop::collection::vec(predicate.clone(), 1..3).prop_map(move |predicates| {
            let condition = ExprSpec::Any((0..predicates.len() as u32).map(ExprSpec::Predicate).collect());
            RuleSpec { condition, role: Role::Detection, ..detection(id, predicates) }
        })
    };
    (1u32..5).prop_flat_map(move |n| (0..n).map(&rule).collect::<Vec<_>>())
}

/// A text made of the rules' values, prefixes of them and a few letters, so
/// that a walk runs deep into the patterns and fails out of them.
fn text_of_values(values: Vec<String>) -> impl Strategy<Value = String> {
    let piece = (0..values.len(), 0usize..3, 1usize..30, prop::sample::select(&LONG_ALPHABET[..]));
    prop::collection::vec(piece, 0..8).prop_map(move |pieces| {
        let mut text = String::new();
        for (i, kind, cut, letter) in pieces {
            match kind {
                0 => text.push_str(&values[i]),
                1 => text.extend(values[i].chars().take(cut)),
                _ => text.push(letter),
            }
        }
        text
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Patterns longer than the transition table's rows: the run through the
    /// states past the rows finds what the step finds, for no more work.
    #[test]
    fn patterns_past_the_rows_equal_the_reference_evaluator(
        (rules, texts) in long_rules().prop_flat_map(|rules| {
            let values: Vec<String> = rules
                .iter()
                .flat_map(|r| &r.predicates)
                .flat_map(|p| &p.values)
                .map(|v| match v { ValueSpec::Text(s) => s.clone(), _ => unreachable!() })
                .collect();
            (Just(rules), prop::collection::vec((text_of_values(values.clone()), text_of_values(values), 0usize..40), 1..4))
        })
    ) {
        let bytes = built(&rules);
        let content = ringfence_content::v2::validate(&bytes, &ringfence_wire::SCHEMA).unwrap();
        let mut table = vec![0u32; content.transition_words()];
        content.build_transitions(&mut table).unwrap();
        let rowed = content.with_transitions(&table);
        for (image, line, split) in texts {
            let units: Vec<u16> = line.encode_utf16().collect();
            let at = split.min(units.len());
            let event = TestEvent::start(vec![
                (IMAGE, text(&image)),
                (COMMAND_LINE, Field::Split(units[..at].to_vec(), units[at..].to_vec())),
            ]);
            let out = evaluate(&rowed, &event);
            let (matched, undecided) = reference(&rules, &event);
            prop_assert_eq!(&out.matched, &matched, "event {:?}", event);
            prop_assert_eq!(&out.undecided, &undecided);
            prop_assert_eq!(&evaluate(&content, &event), &out, "without the transition table");
            let (plain, fast) = (work_done(&content, &event), work_done(&rowed, &event));
            prop_assert!(fast <= plain, "work {fast} with rows, {plain} without");
        }
    }
}
