//! Format 1's filter rules (the TOML rules, compiled and validated) as format
//! 2's include and exclude rules, with exactly the same meaning, or refused.
//!
//! What carries over as it is: the rule's id (its position in the TOML file,
//! so that the include rule that tags an event is still the first one in the
//! file that matches), its kind, action and name; a rule is the AND of its
//! conditions (none: every event of its kind); an exclude that holds drops the
//! event, else a kind with include rules keeps only what one of them matches.
//!
//! What format 2 means differently, handled here:
//! - a condition on a field the event lacks never holds in format 1, negated
//!   or not; format 2's NOT of it would hold, so a negated condition becomes
//!   `exists AND NOT condition`;
//! - format 1 folds ASCII letters only, format 2 Unicode simple case folding
//!   (so `ſ` U+017F is an `s` and `K` U+212A a `k` there, `É` an `é`): a
//!   case-insensitive value whose every unit has the same case partners under
//!   both stays case-insensitive; otherwise it becomes the case-sensitive list
//!   of its ASCII case spellings (at most [`MAX_CASE_SPELLINGS`]), which is
//!   exactly format 1's meaning, or the rule is refused;
//! - format 2 matches a path field (`image_path`, …) as a DOS path
//!   (`C:\Windows\…`) where format 1 matched the kernel's NT path
//!   (`\Device\HarddiskVolume3\Windows\…`): a condition on a path is refused;
//! - an empty string value is refused (format 2's automata take no empty pattern).

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use ringfence_content::v2::build::{Compare, ExprSpec, OperatorSpec, PredicateSpec, RuleSpec, ValueSpec};
use ringfence_content::v2::fold::fold_unit;
use ringfence_content::v2::format::Role;
use ringfence_content::{Action, ConditionValue, Content, Operator};
use ringfence_detect::fields::{Field, Rendering, Source};
use ringfence_wire::EventKind;

use crate::text;

/// The most ASCII case spellings one case-insensitive value may expand to (2⁷).
pub const MAX_CASE_SPELLINGS: usize = 128;

/// A format-1 rule format 2 cannot express with the same meaning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterRefusal {
    /// The rule's index in its TOML file, from 0.
    pub rule: u32,
    pub name: String,
    pub field: &'static str,
    pub reason: Inexpressible,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inexpressible {
    /// Format 2 reads the field as a DOS path, format 1 as the kernel's NT path.
    PathField,
    EmptyValue,
    /// A value with an unpaired surrogate: format 2's builder takes text.
    UnpairedSurrogate,
    /// A case-insensitive value folds differently in format 2 (`unit`) and spells
    /// out into more ASCII case variants than [`MAX_CASE_SPELLINGS`].
    CaseFolding {
        value: String,
        unit: u16,
        spellings: usize,
    },
}

impl fmt::Display for FilterRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rule {}", self.rule)?;
        if !self.name.is_empty() {
            write!(f, " ({:?})", self.name)?;
        }
        write!(f, ", {}: ", self.field)?;
        match &self.reason {
            Inexpressible::PathField => write!(
                f,
                "format 2 matches this path as a DOS path (C:\\...), format 1 as the kernel's NT path \
                 (\\Device\\HarddiskVolume3\\...): the condition would change meaning"
            ),
            Inexpressible::EmptyValue => write!(f, "an empty value has no format-2 equivalent"),
            Inexpressible::UnpairedSurrogate => {
                write!(f, "a value with an unpaired surrogate has no format-2 equivalent")
            }
            Inexpressible::CaseFolding { value, unit, spellings } => write!(
                f,
                "{value:?} without case: format 2 folds U+{unit:04X} with other characters than format 1's \
                 ASCII folding does, and its {spellings} ASCII case spellings are over {MAX_CASE_SPELLINGS}"
            ),
        }
    }
}

/// The TOML rules of `content` (format 1, validated) as format-2 rules with the
/// same ids; the first rule format 2 cannot express is refused.
pub fn filter_rules(content: &Content<'_>) -> Result<Vec<RuleSpec>, FilterRefusal> {
    let mut rules: Vec<RuleSpec> = Vec::with_capacity(content.rule_count());
    for rule in content.rules() {
        let Some(kind) = rule.kind() else { continue };
        let name = text::render(rule.name()).value;
        let refuse = |field: &'static str, reason| FilterRefusal {
            rule: rule.id(),
            name: name.clone(),
            field,
            reason,
        };
        let mut predicates = Vec::new();
        let mut terms = Vec::new();
        for c in rule.conditions() {
            let field = kind.def().field(c.field).map_or("?", |f| f.name);
            if is_dos_path(kind, field) {
                return Err(refuse(field, Inexpressible::PathField));
            }
            let (operator, values, case_insensitive) = match c.value {
                ConditionValue::Integer(n) => {
                    (integer_operator(c.operator), vec![ValueSpec::Integer(n)], false)
                }
                ConditionValue::Bool(b) => {
                    (OperatorSpec::Compare(Compare::Equals), vec![ValueSpec::Integer(u64::from(b))], false)
                }
                ConditionValue::Str(t) => {
                    let units: Vec<u16> = t.units().collect();
                    if units.is_empty() {
                        return Err(refuse(field, Inexpressible::EmptyValue));
                    }
                    let (values, folded) =
                        text_values(&units, c.case_insensitive).map_err(|reason| refuse(field, reason))?;
                    (text_operator(c.operator), values, folded)
                }
            };
            let at = u32::try_from(predicates.len()).unwrap_or(u32::MAX);
            predicates.push(PredicateSpec {
                field: c.field,
                operator,
                values,
                all: false,
                case_insensitive,
                windash: false,
            });
            terms.push(if c.negated {
                // Format 1: a field the event lacks fails the condition, negated or not.
                predicates.push(PredicateSpec {
                    field: c.field,
                    operator: OperatorSpec::Exists(true),
                    values: Vec::new(),
                    all: false,
                    case_insensitive: false,
                    windash: false,
                });
                ExprSpec::All(vec![
                    ExprSpec::Predicate(at.saturating_add(1)),
                    ExprSpec::Not(Box::new(ExprSpec::Predicate(at))),
                ])
            } else {
                ExprSpec::Predicate(at)
            });
        }
        rules.push(RuleSpec {
            id: rule.id(),
            kind,
            role: match rule.action {
                Some(Action::Include) => Role::Include,
                _ => Role::Exclude,
            },
            name,
            meta: String::new(),
            predicates,
            condition: ExprSpec::All(terms),
        });
    }
    rules.sort_by_key(|r| r.id);
    Ok(rules)
}

/// Whether format 2 reads `field` of `kind` as a DOS path (ringfence-detect's field table).
fn is_dos_path(kind: EventKind, field: &str) -> bool {
    Field::ALL.iter().any(
        |f| matches!(f.source(kind), Source::Kernel { wire, rendering: Rendering::DosPath } if wire == field),
    )
}

fn integer_operator(op: Operator) -> OperatorSpec {
    OperatorSpec::Compare(match op {
        Operator::LessThan => Compare::Less,
        Operator::GreaterThan => Compare::Greater,
        _ => Compare::Equals,
    })
}

fn text_operator(op: Operator) -> OperatorSpec {
    match op {
        Operator::StartsWith => OperatorSpec::StartsWith,
        Operator::EndsWith => OperatorSpec::EndsWith,
        Operator::Contains => OperatorSpec::Contains,
        _ => OperatorSpec::Equals,
    }
}

/// The values of a text condition and whether format 2 folds them.
fn text_values(units: &[u16], case_insensitive: bool) -> Result<(Vec<ValueSpec>, bool), Inexpressible> {
    if String::from_utf16(units).is_err() {
        return Err(Inexpressible::UnpairedSurrogate);
    }
    // Valid UTF-16 (checked above), and spellings only change ASCII letters.
    let text = |units: &[u16]| String::from_utf16_lossy(units);
    if !case_insensitive {
        return Ok((vec![ValueSpec::Text(text(units))], false));
    }
    let Some(&unit) = units.iter().find(|&&u| !folds_alike(u)) else {
        return Ok((vec![ValueSpec::Text(text(units))], true));
    };
    let letters = units.iter().filter(|&&u| is_ascii_letter(u)).count();
    let spellings = u32::try_from(letters).ok().and_then(|n| 1usize.checked_shl(n)).unwrap_or(usize::MAX);
    if spellings > MAX_CASE_SPELLINGS {
        return Err(Inexpressible::CaseFolding { value: text(units), unit, spellings });
    }
    let mut all: Vec<Vec<u16>> = vec![Vec::new()];
    for &u in units {
        let options: Vec<u16> = if is_ascii_letter(u) { vec![u | 0x20, u & !0x20] } else { vec![u] };
        all = all
            .into_iter()
            .flat_map(|prefix| {
                options.iter().map(move |&o| {
                    let mut p = prefix.clone();
                    p.push(o);
                    p
                })
            })
            .collect();
    }
    Ok((all.iter().map(|s| ValueSpec::Text(text(s))).collect(), false))
}

fn is_ascii_letter(u: u16) -> bool {
    u8::try_from(u).is_ok_and(|b| b.is_ascii_alphabetic())
}

/// Whether `unit` has the same case partners under format 2's folding as under
/// format 1's ASCII folding: for an ASCII letter its two cases, else itself alone.
fn folds_alike(unit: u16) -> bool {
    static CLASS_SIZES: OnceLock<HashMap<u16, usize>> = OnceLock::new();
    let sizes = CLASS_SIZES.get_or_init(|| {
        let mut sizes = HashMap::new();
        for u in 0..=u16::MAX {
            *sizes.entry(fold_unit(u)).or_insert(0usize) += 1;
        }
        sizes
    });
    let expected = if is_ascii_letter(unit) { 2 } else { 1 };
    sizes.get(&fold_unit(unit)).copied().unwrap_or(1) == expected
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ringfence_content::v2::{self, FromFields, RuleIds};
    use ringfence_content::{Verdict, compile, validate};
    use ringfence_wire::text::Ids;
    use ringfence_wire::{Event, SCHEMA, Text};

    /// Rules on every kind of condition format 1 has, with values whose letters fold
    /// differently in format 2 (`s`, `k`, `é`), negations, integers and booleans.
    const RULES: &str = r#"
version = 3
[[rule]]
name = "skip"
kind = "process_start"
action = "include"
match = [{ field = "command_line", contains = "sk" }]
[[rule]]
name = "café"
kind = "process_start"
action = "include"
match = [{ field = "command_line", ends_with = "café" }, { field = "session_id", less_than = 2 }]
[[rule]]
name = "exact"
kind = "process_start"
action = "include"
match = [{ field = "user_sid", equals = "S-1-5-18", case_sensitive = true }]
[[rule]]
name = "not system"
kind = "process_start"
action = "exclude"
match = [{ field = "user_sid", starts_with = "s-1-5-1", not = true }, { field = "integrity_level", greater_than = 8192 }]
[[rule]]
name = "kernel"
kind = "image_load"
action = "exclude"
match = [{ field = "kernel_image", equals = true }]
[[rule]]
name = "everything else"
kind = "image_load"
action = "include"
"#;

    const WORDS: [&str; 9] =
        ["sk", "SK", "\u{17F}k", "s\u{212A}", "café", "CAFÉ", "cafÉ", "S-1-5-18", "s-1-5-1"];

    fn words(picks: &[usize]) -> Vec<u16> {
        picks.iter().map(|&i| WORDS[i % WORDS.len()]).collect::<Vec<_>>().join("").encode_utf16().collect()
    }

    /// Format 1's verdict as format 2 states it: (kept, the include rule's name).
    fn format1(content: &Content<'_>, event: &Event<'_>) -> (bool, String) {
        match content.evaluate(event) {
            Verdict::Keep { rule_name } => (true, crate::text::render(rule_name).value),
            Verdict::Drop => (false, String::new()),
        }
    }

    fn format2(content: &v2::Content<'_>, event: &Event<'_>) -> (bool, String) {
        let mut scratch = vec![0; content.scratch_words()];
        let (mut matched, mut undecided) = ([0u32; 8], [0u32; 8]);
        let ids = RuleIds { matched: &mut matched, undecided: &mut undecided };
        let v = content.evaluate(&FromFields(event), &mut scratch, ids).unwrap();
        assert_ne!(v.filter, v2::Filter::Undecided, "every field is known");
        let name = v.include_rule.and_then(|id| content.rule_position(id)).and_then(|i| content.rule_info(i));
        (v.filter == v2::Filter::Keep, name.map(|r| crate::text::render(r.name).value).unwrap_or_default())
    }

    proptest! {
        #[test]
        fn converted_filter_rules_keep_drop_and_tag_as_format_1_does(
            command in prop::option::of(prop::collection::vec(0usize..9, 0..4)),
            sid in prop::option::of(prop::collection::vec(0usize..9, 0..2)),
            numbers in (0u32..3, 8000u32..8400),
            kernel_image: bool,
            load: bool,
        ) {
            let one = compile(RULES, &SCHEMA).unwrap();
            let one = validate(&one, &SCHEMA).unwrap();
            let two = ringfence_content::v2::build::build(&filter_rules(&one).unwrap(), &SCHEMA, 3).unwrap();
            let two = v2::validate(&two, &SCHEMA).unwrap();
            let (command, sid) = (command.map(|p| words(&p)), sid.map(|p| words(&p)));
            let event = if load {
                Event::ImageLoad {
                    pid: 4, image_path: None, image_base: 0, image_size: 0, signature_level: 0, signature_type: 0,
                    kernel_image, time: 0, rule_name: Text::default(), process_image_path: None,
                    process_start_key: None, user_sid: sid.as_deref().map(Text::wide), truncated: 0,
                    matched_ids: Ids::EMPTY, matched_rest: 0, undecided_ids: Ids::EMPTY, undecided_rest: 0,
                }
            } else {
                Event::ProcessStart {
                    pid: 4, parent_pid: 1, creating_pid: 1, creating_tid: 2, session_id: numbers.0,
                    image_path: None, command_line: command.as_deref().map(Text::wide), start_key: 0,
                    create_time: 0, image_name_available: true, rule_name: Text::default(),
                    parent_start_key: None, parent_image_path: None, parent_command_line: None,
                    user_sid: sid.as_deref().map(Text::wide), logon_id: None, integrity_level: Some(numbers.1),
                    elevation_type: None, parent_user_sid: None, truncated: 0,
                    matched_ids: Ids::EMPTY, matched_rest: 0, undecided_ids: Ids::EMPTY, undecided_rest: 0,
                }
            };
            prop_assert_eq!(format2(&two, &event), format1(&one, &event));
        }
    }

    #[test]
    fn a_value_with_letters_format_2_folds_further_is_spelt_out_case_sensitively() {
        let one = compile(RULES, &SCHEMA).unwrap();
        let rules = filter_rules(&validate(&one, &SCHEMA).unwrap()).unwrap();
        let skip = &rules[0].predicates[0];
        assert!(!skip.case_insensitive);
        let values: Vec<&ValueSpec> = skip.values.iter().collect();
        let spelt: Vec<ValueSpec> = ["sk", "sK", "Sk", "SK"].map(|s| ValueSpec::Text(s.into())).into();
        assert_eq!(values, spelt.iter().collect::<Vec<_>>());
        // `S-1-5-1` without case: `S` folds with `ſ` in format 2 too, so it is spelt out; digits and `-` are not.
        assert_eq!(rules[3].predicates[0].values.len(), 2);
    }

    #[test]
    fn a_path_condition_is_refused_with_the_rule_and_field() {
        let source = "version = 1\n[[rule]]\nname = \"p\"\nkind = \"image_load\"\naction = \"exclude\"\n\
                      match = [{ field = \"process_image_path\", contains = \"\\\\temp\\\\\" }]\n";
        let one = compile(source, &SCHEMA).unwrap();
        let refusal = filter_rules(&validate(&one, &SCHEMA).unwrap()).unwrap_err();
        assert_eq!(
            refusal,
            FilterRefusal {
                rule: 0,
                name: "p".into(),
                field: "process_image_path",
                reason: Inexpressible::PathField
            }
        );
    }
}
