//! Content of SigmaHQ's process-creation shape for the format-2 benches,
//! generated here (a fixed xorshift seed: every run builds the same rules).
//!
//! [`literal_rules`] is the shape measured since format 2 began: literals only,
//! values of random letters. [`vocabulary_rules`] is the same shape with
//! values in Windows' vocabulary (program names, switches, paths: the
//! `vocabulary` module), measured on a typical start in that vocabulary
//! ([`vocabulary_start`]): random letters share few prefixes with each other
//! or with a command line, so only the vocabulary makes the scan work as
//! SigmaHQ's content makes it.
//! [`with_globs_and_regexes`] turns some of those rules into rules with globs
//! and regular expressions in the proportions of SigmaHQ's windows
//! process_creation rules (its `rules*` folders: 1,416 rules), counted in a
//! snapshot and scaled to the rule count:
//!
//! - 95 values with an unescaped `*` or `?` (glob predicates once lowered; 86
//!   with one inside the value), in 33 rules, 31 of them in the kernel's
//!   content (two have a glob over 63 tokens); 89 on the command line; the
//!   modifier `contains` (74), `contains|all` (8), `endswith` (7) or none (6);
//!   38 have only `?` wildcards;
//! - 97 `re` values in 55 rules, 46 of them in the kernel's content (the
//!   builder refuses the others' automata: over 1,024 states, a Unicode `\b`,
//!   over the determinization's limit; or the syntax); 95 on the command
//!   line, all but one case sensitive (Sigma's default for `re`); 52 have
//!   classes, 51 `\s`, 41 counted repetition, 12 alternations, 8 `.*`/`.+`
//!   chains;
//! - rules whose only positive evidence is a glob (10) or a regular
//!   expression (9 in the kernel's content, of 12): with every literal
//!   predicate false they are still undecided, so no literal gates them and
//!   they are evaluated on every event; so are those whose other evidence is
//!   an OriginalFileName alternative to the image (4 with globs, 8 with
//!   regular expressions), a companion field unknown in the kernel; and 2
//!   rules of negations only.
//!
//! The globs and regular expressions are generated in those shapes (a gap
//! between two words, `?` slots, a wildcard path segment; words with `\s+`,
//! counted classes, short switches, alternations, `.*` chains), only in shapes
//! the builder accepts, lowered as crates/detect lowers a Sigma value
//! (`contains` adds a leading and a trailing `*`, `endswith` a leading one;
//! `re` is a [`OperatorSpec::Regex`] value), and built through the public
//! builder like any content. Globs join a rule's command-line `contains`
//! list; a regular expression replaces it (`selection_img and selection_re`).

#![allow(unreachable_pub)]

mod shapes;
mod vocabulary;

use ringfence_content::v2::Role;
use ringfence_content::v2::build::{ExprSpec, OperatorSpec, PredicateSpec, RuleSpec, ValueSpec};
use ringfence_wire::schema::COMPANION_BASE;
use ringfence_wire::{EventKind, SCHEMA};
use shapes::{glob_predicate, regex_predicate};

pub const IMAGE: u8 = 5;
pub const COMMAND_LINE: u8 = 6;
pub const PARENT_IMAGE: u8 = 12;

/// SigmaHQ's windows process_creation rules, and the counts above (in the kernel's content).
const SIGMA_RULES: u64 = 1416;
const GLOB_RULES: u64 = 31;
const REGEX_RULES: u64 = 46;
const GLOB_ONLY_EVIDENCE: u64 = 10;
const REGEX_ONLY_EVIDENCE: u64 = 9;
/// Rules whose other evidence is a companion field (unknown in the kernel, so no gate either).
const GLOB_BESIDE_COMPANION: u64 = 4;
const REGEX_BESIDE_COMPANION: u64 = 8;
const NEGATION_ONLY: u64 = 2;

/// A deterministic generator (xorshift), so every run builds the same content.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    pub fn word(&mut self, min: u64, max: u64) -> String {
        const LETTERS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let len = min + self.below(max - min + 1);
        (0..len).map(|_| LETTERS[self.below(LETTERS.len() as u64) as usize] as char).collect()
    }
    pub fn pick<'a>(&mut self, of: &[&'a str]) -> &'a str {
        of[self.below(of.len() as u64) as usize]
    }
}

pub fn predicate(field: u8, operator: OperatorSpec, values: Vec<String>) -> PredicateSpec {
    PredicateSpec {
        field,
        operator,
        values: values.into_iter().map(ValueSpec::Text).collect(),
        all: false,
        case_insensitive: true,
        windash: false,
    }
}

/// `n` rules of SigmaHQ's process-creation shape, literals only: an image
/// `endswith` selection, a command-line `contains` selection (some `all`),
/// sometimes a parent-image filter: `selection_img and selection_cli and not filter`.
/// Values of random letters (command-line values start with ` -`).
pub fn literal_rules(n: u32, values_per_rule: u64) -> Vec<RuleSpec> {
    let values = Values {
        image: |rng| format!("\\{}.exe", rng.word(3, 12)),
        command_line: |rng| format!(" -{}", rng.word(4, 56)),
        parent: |rng| format!("\\{}\\{}.exe", rng.word(4, 20), rng.word(3, 12)),
    };
    shaped_rules(n, values_per_rule, &values)
}

/// [`literal_rules`]' shape with values in Windows' vocabulary (`vocabulary`).
pub fn vocabulary_rules(n: u32, values_per_rule: u64) -> Vec<RuleSpec> {
    let values = Values {
        image: vocabulary::program,
        command_line: vocabulary::command_line,
        parent: vocabulary::parent,
    };
    shaped_rules(n, values_per_rule, &values)
}

/// A typical process start in the vocabulary of [`vocabulary_rules`]: image, command line, parent image.
pub use vocabulary::typical_start as vocabulary_start;

/// How a rule's values are made.
struct Values {
    image: fn(&mut Rng) -> String,
    command_line: fn(&mut Rng) -> String,
    parent: fn(&mut Rng) -> String,
}

fn shaped_rules(n: u32, values_per_rule: u64, values: &Values) -> Vec<RuleSpec> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    (0..n)
        .map(|id| {
            let images = (0..1 + rng.below(3)).map(|_| (values.image)(&mut rng)).collect();
            let cli_count = values_per_rule.saturating_sub(3).max(1);
            let cli = (0..1 + rng.below(2 * cli_count)).map(|_| (values.command_line)(&mut rng)).collect();
            let mut command_line = predicate(COMMAND_LINE, OperatorSpec::Contains, cli);
            command_line.all = rng.below(4) == 0;
            let mut predicates = vec![predicate(IMAGE, OperatorSpec::EndsWith, images), command_line];
            let mut condition = vec![ExprSpec::Predicate(0), ExprSpec::Predicate(1)];
            if rng.below(3) == 0 {
                let parents = (0..1 + rng.below(2)).map(|_| (values.parent)(&mut rng)).collect();
                predicates.push(predicate(PARENT_IMAGE, OperatorSpec::EndsWith, parents));
                condition.push(ExprSpec::Not(Box::new(ExprSpec::Predicate(2))));
            }
            RuleSpec {
                id,
                kind: EventKind::ProcessStart,
                role: Role::Detection,
                name: format!("sigma rule {id}"),
                meta: "level=high;tags=attack.execution".into(),
                predicates,
                condition: ExprSpec::All(condition),
            }
        })
        .collect()
}

/// What [`with_globs_and_regexes`] put in.
#[derive(Debug, Default)]
pub struct Mix {
    pub glob_rules: usize,
    pub glob_values: usize,
    pub regex_rules: usize,
    pub regex_values: usize,
    /// Rules whose only positive evidence is a glob or a regular expression.
    pub ungated: usize,
    /// Rules whose other evidence is a companion field.
    pub beside_companion: usize,
    pub negation_only: usize,
}

/// SigmaHQ's count scaled to `n` rules, rounded.
fn scaled(count: u64, n: usize) -> usize {
    ((count * n as u64 + SIGMA_RULES / 2) / SIGMA_RULES) as usize
}

/// [`literal_rules`] with SigmaHQ's share of globs and regular expressions
/// (module documentation): globs join a rule's command-line selection, a
/// regular expression replaces it; the image selection stays, gains an
/// OriginalFileName alternative or goes, so that as many rules as in SigmaHQ
/// have no literal to gate them in the kernel.
pub fn with_globs_and_regexes(mut rules: Vec<RuleSpec>) -> (Vec<RuleSpec>, Mix) {
    let n = rules.len();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    // Which rules change: the first of a shuffled order.
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let (globs, regexes, negations) =
        (scaled(GLOB_RULES, n), scaled(REGEX_RULES, n), scaled(NEGATION_ONLY, n));
    let (glob_ungated, regex_ungated) = (scaled(GLOB_ONLY_EVIDENCE, n), scaled(REGEX_ONLY_EVIDENCE, n));
    let (glob_companion, regex_companion) =
        (scaled(GLOB_BESIDE_COMPANION, n), scaled(REGEX_BESIDE_COMPANION, n));
    let gate = |k: usize, ungated: usize, companion: usize| match k {
        k if k < ungated => Gate::None,
        k if k < ungated + companion => Gate::ImageOrCompanion,
        _ => Gate::Image,
    };
    let mut mix = Mix::default();
    let (glob_rules, rest) = order.split_at(globs);
    let (regex_rules, rest) = rest.split_at(regexes);
    for (k, &at) in glob_rules.iter().enumerate() {
        let glob = glob_predicate(&mut rng);
        mix.glob_values += glob.values.len();
        on_command_line(&mut rules[at], glob, true, gate(k, glob_ungated, glob_companion));
    }
    for (k, &at) in regex_rules.iter().enumerate() {
        let regex = regex_predicate(&mut rng);
        mix.regex_values += regex.values.len();
        on_command_line(&mut rules[at], regex, false, gate(k, regex_ungated, regex_companion));
    }
    for &at in &rest[..negations] {
        negation_only(&mut rules[at], &mut rng);
    }
    mix.glob_rules = globs;
    mix.regex_rules = regexes;
    mix.ungated = glob_ungated + regex_ungated;
    mix.beside_companion = glob_companion + regex_companion;
    mix.negation_only = negations;
    (rules, mix)
}

/// What gates a rule given a glob or a regular expression in the kernel.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Its image selection (a literal).
    Image,
    /// Its image selection or an OriginalFileName alternative: unknown in the kernel, no gate.
    ImageOrCompanion,
    /// Nothing: the glob or regular expression is its only positive evidence.
    None,
}

/// The command-line selection becomes `added` (a regular expression:
/// `selection_img and selection_re`), or its literals or `added` (globs in a
/// `contains` list); the image selection stays, gains a companion-field
/// alternative, or goes (`gate`).
fn on_command_line(rule: &mut RuleSpec, added: PredicateSpec, beside_literals: bool, gate: Gate) {
    // literal_rules' predicates: 0 image, 1 command line, 2 parent image (a filter), if any.
    let filter = rule.predicates.get(2).cloned();
    let (mut predicates, selection) = if beside_literals {
        let either = ExprSpec::Any(vec![ExprSpec::Predicate(0), ExprSpec::Predicate(1)]);
        (vec![rule.predicates[1].clone(), added], either)
    } else {
        (vec![added], ExprSpec::Predicate(0))
    };
    let mut condition = vec![selection];
    let image = rule.predicates[0].clone();
    match gate {
        Gate::None => {}
        Gate::Image => {
            predicates.push(image);
            condition.push(ExprSpec::Predicate(predicates.len() as u32 - 1));
        }
        Gate::ImageOrCompanion => {
            let names = image.values.iter().map(|v| match v {
                ValueSpec::Text(t) => t.trim_start_matches('\\').to_string(),
                _ => unreachable!("literal_rules' images are text"),
            });
            let original = predicate(original_file_name(), OperatorSpec::Equals, names.collect());
            predicates.extend([image, original]);
            let at = predicates.len() as u32;
            condition.push(ExprSpec::Any(vec![ExprSpec::Predicate(at - 2), ExprSpec::Predicate(at - 1)]));
        }
    }
    if let Some(filter) = filter {
        predicates.push(filter);
        condition.push(ExprSpec::Not(Box::new(ExprSpec::Predicate(predicates.len() as u32 - 1))));
    }
    rule.predicates = predicates;
    rule.condition = ExprSpec::All(condition);
}

/// The process start's OriginalFileName: a companion field.
fn original_file_name() -> u8 {
    let start = SCHEMA.kind(EventKind::ProcessStart).unwrap();
    let at = start.companion.iter().position(|f| f.name == "original_file_name").unwrap();
    COMPANION_BASE + at as u8
}

/// `not image_extension and not filter`: an image whose name does not end as a program's does.
fn negation_only(rule: &mut RuleSpec, rng: &mut Rng) {
    let mut endings: Vec<String> = [".exe", ".com"].map(String::from).to_vec();
    endings.extend((0..2 + rng.below(4)).map(|_| format!(".{}", rng.word(3, 3))));
    let filters =
        (0..1 + rng.below(3)).map(|_| format!(":\\{}\\{}\\", rng.word(5, 12), rng.word(4, 16))).collect();
    rule.predicates = vec![
        predicate(IMAGE, OperatorSpec::EndsWith, endings),
        predicate(IMAGE, OperatorSpec::Contains, filters),
    ];
    let not = |i| ExprSpec::Not(Box::new(ExprSpec::Predicate(i)));
    rule.condition = ExprSpec::All(vec![not(0), not(1)]);
}
