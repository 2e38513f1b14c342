//! The globs and regular expressions of [`super::with_globs_and_regexes`], in
//! the shapes and shares counted in SigmaHQ (the module above), generated here.

use super::{COMMAND_LINE, IMAGE, PARENT_IMAGE, Rng, predicate};
use ringfence_content::v2::build::{GlobPart, OperatorSpec, PredicateSpec, ValueSpec};

/// A Sigma value with `*` and `?` as glob parts (no escapes in generated values).
fn glob_parts(value: &str, leading_star: bool, trailing_star: bool) -> Vec<GlobPart> {
    let mut parts = Vec::new();
    if leading_star {
        parts.push(GlobPart::AnyRun);
    }
    let mut literal = String::new();
    for c in value.chars() {
        let wildcard = match c {
            '*' => GlobPart::AnyRun,
            '?' => GlobPart::AnyChar,
            _ => {
                literal.push(c);
                continue;
            }
        };
        if !literal.is_empty() {
            parts.push(GlobPart::Literal(std::mem::take(&mut literal)));
        }
        parts.push(wildcard);
    }
    if !literal.is_empty() {
        parts.push(GlobPart::Literal(literal));
    }
    if trailing_star {
        parts.push(GlobPart::AnyRun);
    }
    parts
}

/// One to five glob values under one modifier, in SigmaHQ's shapes and shares.
pub(super) fn glob_predicate(rng: &mut Rng) -> PredicateSpec {
    // Of 95 values: contains 74, contains|all 8, endswith 7, none 6.
    let modifier = rng.below(95);
    let count = 1 + rng.below(5);
    let (field, all, lead, trail, values): (u8, bool, bool, bool, Vec<String>) = if modifier < 82 {
        let values = (0..count).map(|_| contains_glob(rng)).collect();
        (COMMAND_LINE, modifier >= 74, true, true, values)
    } else if modifier < 89 {
        // Program names on an image field, file names at the end of a command line.
        let on_image = rng.below(2) == 0;
        let field = if on_image { [IMAGE, PARENT_IMAGE][rng.below(2) as usize] } else { COMMAND_LINE };
        let values = (0..count)
            .map(|_| match on_image {
                true => format!("\\{}*.exe", rng.word(4, 20)),
                false => format!("{}*.{}", rng.word(4, 10), rng.pick(&["txt", "csv", "doc", "xls", "log"])),
            })
            .collect();
        (field, false, true, false, values)
    } else {
        // The whole command line, a wildcard inside it.
        let values = (0..count)
            .map(|_| match rng.below(2) {
                0 => format!("{} {}:\\\\*.{}* /s", rng.word(3, 6), rng.pick(&["c", "d"]), rng.word(3, 4)),
                _ => format!(
                    "{} {} \\\\{}\\{}$ \"{}\" *",
                    rng.word(3, 5),
                    rng.word(3, 5),
                    rng.word(6, 12),
                    rng.word(1, 1),
                    rng.word(6, 10)
                ),
            })
            .collect();
        (COMMAND_LINE, false, false, false, values)
    };
    PredicateSpec {
        field,
        operator: OperatorSpec::Glob,
        values: values.iter().map(|v| ValueSpec::Glob(glob_parts(v, lead, trail))).collect(),
        all,
        case_insensitive: true,
        windash: false,
    }
}

/// A `contains` value with a wildcard inside: a gap between two words, `?`
/// slots, a wildcard path segment, or a redirection with several gaps.
fn contains_glob(rng: &mut Rng) -> String {
    match rng.below(20) {
        // `ipconfig*|*find`, `-Path*-DestinationPath`
        0..=6 => {
            let sep = rng.pick(&["*|*", "*", " -*-", "*>", "* -"]);
            format!("{}{sep}{}", rng.word(3, 12), rng.word(3, 16))
        }
        // `EventCode=?462?`, `>?C:\Temp\`, ` ?:\Windows\`
        7..=14 => match rng.below(3) {
            0 => format!("{}=?{}?", rng.word(5, 15), rng.below(10_000)),
            1 => format!(">?{}:\\{}\\", rng.pick(&["C", "%", "D"]), rng.word(4, 14)),
            _ => format!(" ?:\\{}\\{}\\", rng.word(4, 10), rng.word(3, 10)),
        },
        // `\AppData\Local\Temp\7z*\`, `\Users\*\Downloads\`
        15..=17 => match rng.below(2) {
            0 => format!("\\{}\\{}\\{}*\\", rng.word(4, 8), rng.word(4, 8), rng.word(2, 5)),
            _ => format!("\\{}\\*\\{}\\", rng.word(4, 8), rng.word(5, 10)),
        },
        // `cmd.exe /C * > \\*\*\* 2>&1`
        _ => format!("{}.exe /{} * > \\\\*\\*\\* 2>&1", rng.word(3, 6), rng.pick(&["c", "q /c", "r"])),
    }
}

/// One to three regular expressions on the command line (now and then the
/// image), case-sensitive as Sigma's `re` is unless `|i`.
pub(super) fn regex_predicate(rng: &mut Rng) -> PredicateSpec {
    let count = [1, 1, 2, 3][rng.below(4) as usize];
    let on_image = rng.below(48) == 0;
    let values: Vec<String> = (0..count)
        .map(|_| match on_image {
            true => format!("[a-zA-Z]:\\\\{}\\\\", rng.word(3, 8)),
            false => command_line_regex(rng),
        })
        .collect();
    PredicateSpec {
        case_insensitive: rng.below(97) == 0,
        ..predicate(if on_image { IMAGE } else { COMMAND_LINE }, OperatorSpec::Regex, values)
    }
}

fn command_line_regex(rng: &mut Rng) -> String {
    let inline_case = if rng.below(20) == 0 { "(?i)" } else { "" };
    let body = match rng.below(100) {
        // Words with whitespace: `net\s+user`, `ipconfig\s+/all`
        0..=29 => format!("{}\\s+{}{}", rng.word(2, 10), rng.pick(&["", "/", "-"]), rng.word(1, 12)),
        // Counted classes: hashes, hex numbers, addresses, identifiers
        30..=54 => match rng.below(5) {
            0 => format!("\\s[a-fA-F0-9]{{{}}}\\s[a-fA-F0-9]{{{}}}", 8 + rng.below(57), 8 + rng.below(9)),
            1 => format!("0x[a-fA-F0-9]{{{}}}", 4 + rng.below(13)),
            2 => "[A-F0-9]{8}-[A-F0-9]{4}-[A-F0-9]{4}-[A-F0-9]{4}-[A-F0-9]{12}".to_string(),
            3 => format!(
                "{}://[0-9]{{1,3}}\\.[0-9]{{1,3}}\\.[0-9]{{1,3}}\\.[0-9]{{1,3}}",
                rng.pick(&["", "https?"])
            ),
            _ => {
                let var = rng.word(4, 12);
                format!("\\${var}\\[\\s*\\d{{1,3}}\\s*\\]\\s*\\+\\s*\\${var}\\[")
            }
        },
        // Short switches: `\s-[FTd]\s`, `:[^\\]`
        55..=69 => match rng.below(3) {
            0 => format!("\\s-[{}]\\s", rng.word(2, 4)),
            1 => format!("\\s-{}\\s", rng.word(1, 2)),
            _ => format!(":[^{}\\\\]", rng.pick(&["", " "])),
        },
        // Alternations
        70..=81 => match rng.below(3) {
            0 => format!(
                "\\s['\"]?{}:\\\\{}\\\\(?:{}|{}|{})",
                rng.pick(&["C", "D"]),
                rng.word(4, 10),
                rng.word(4, 10),
                rng.word(4, 10),
                rng.word(4, 10)
            ),
            1 => format!(
                "https?://(?:0[0-9]{{1,{}}}\\.){{3}}0[0-9]{{1,{}}}",
                3 + rng.below(9),
                3 + rng.below(9)
            ),
            _ => format!("\\s(-{}|--{})\\s*:", rng.word(1, 1), rng.word(3, 8)),
        },
        // `.*` chains
        82..=91 => match rng.below(2) {
            0 => format!("{}.{{0,5}}(?:/c|/r).+{}.+\"", rng.word(3, 5), rng.word(5, 10)),
            _ => {
                let c = rng.pick(&["\\+", "\\{", "\\^", "`"]);
                let n = 4 + rng.below(8) as usize;
                vec![c; n].join(".*")
            }
        },
        // Escaped literals: `\$VerbosePreference\.ToString\(`
        _ => format!("\\${}\\.{}\\(", rng.word(6, 18), rng.word(4, 10)),
    };
    format!("{inline_case}{body}")
}
