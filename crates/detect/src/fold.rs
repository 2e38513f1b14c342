//! Text normalisation for matching: case folding and Sigma's `windash`.
//!
//! **Case**: Sigma matches case-insensitively by default. ringfence folds with
//! Unicode *simple* case folding (one character to one character, the `C` and
//! `S` entries of CaseFolding.txt), the folding the `regex` crate's `(?i)` uses,
//! so literals (Aho-Corasick over folded text) and globs and regular
//! expressions (`regex` with `(?i)`) agree on every character; a test checks
//! that against regex-syntax's tables for every code point. Full folding
//! (`ß` ~ `ss`, `ﬁ` ~ `fi`) is not applied: it changes lengths, and no
//! Windows path or command line comparison does it either.
//!
//! **Dashes**: with `windash`, `-`, `/`, `–` (U+2013), `—` (U+2014) and `―`
//! (U+2015) are interchangeable (Sigma modifiers appendix v2.1): they all fold
//! to `-`, in values and in the field's text alike.

/// The characters `windash` makes interchangeable.
pub const WINDASH: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// The simple case folding of `c`, as a representative of its case class
/// (lower case where Unicode has one).
pub fn fold_case(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    if let Some(folded) = fold_exception(c) {
        return folded;
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(one), None) => one,
        // Only U+0130 (İ) lowercases to two characters; simple folding leaves it alone.
        _ => c,
    }
}

/// Characters whose simple case folding is not their simple lowercase: their
/// lowercase is themselves, yet they fold together with another letter.
fn fold_exception(c: char) -> Option<char> {
    Some(match c {
        '\u{00B5}' => '\u{03BC}', // micro sign → μ
        '\u{017F}' => 's',        // long s
        '\u{0345}' => '\u{03B9}', // combining ypogegrammeni → ι
        '\u{03C2}' => '\u{03C3}', // final sigma → σ
        '\u{03D0}' => '\u{03B2}',
        '\u{03D1}' => '\u{03B8}',
        '\u{03D5}' => '\u{03C6}',
        '\u{03D6}' => '\u{03C0}',
        '\u{03F0}' => '\u{03BA}',
        '\u{03F1}' => '\u{03C1}',
        '\u{03F5}' => '\u{03B5}',
        '\u{1E9B}' => '\u{1E61}',
        '\u{1FBE}' => '\u{03B9}',
        '\u{1C80}' => '\u{0432}',
        '\u{1C81}' => '\u{0434}',
        '\u{1C82}' => '\u{043E}',
        '\u{1C83}' => '\u{0441}',
        '\u{1C84}' | '\u{1C85}' => '\u{0442}',
        '\u{1C86}' => '\u{044A}',
        '\u{1C87}' => '\u{0463}',
        '\u{1C88}' => '\u{A64B}',
        '\u{1FD3}' => '\u{0390}',
        '\u{1FE3}' => '\u{03B0}',
        '\u{FB05}' => '\u{FB06}',
        _ => return None,
    })
}

/// `-` for any windash character, else `c`.
pub fn fold_dash(c: char) -> char {
    if WINDASH.contains(&c) { '-' } else { c }
}

/// How a text is normalised before literal matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct View {
    pub case_insensitive: bool,
    pub windash: bool,
}

impl View {
    /// The four views, indexed by [`View::index`].
    pub const ALL: [View; 4] = [
        View { case_insensitive: false, windash: false },
        View { case_insensitive: true, windash: false },
        View { case_insensitive: false, windash: true },
        View { case_insensitive: true, windash: true },
    ];

    pub const fn index(self) -> usize {
        (self.case_insensitive as usize) | ((self.windash as usize) << 1)
    }

    pub fn char(self, c: char) -> char {
        let c = if self.windash { fold_dash(c) } else { c };
        if self.case_insensitive { fold_case(c) } else { c }
    }

    /// `text` in this view.
    pub fn apply(self, text: &str) -> String {
        let mut out = String::new();
        self.apply_into(text, &mut out);
        out
    }

    /// `text` in this view, into `out` (cleared first; its capacity is reused).
    pub fn apply_into(self, text: &str, out: &mut String) {
        out.clear();
        if !self.case_insensitive && !self.windash {
            out.push_str(text);
            return;
        }
        out.extend(text.chars().map(|c| self.char(c)));
    }
}
