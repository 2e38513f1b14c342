//! UTF-16 text to JSON strings, reversibly.
//!
//! Windows names are UTF-16 and may hold unpaired surrogates, which no JSON
//! string can carry. A field whose units are valid UTF-16 is rendered
//! verbatim. A field with an unpaired surrogate is rendered *escaped* and its
//! ECS name is listed in `ringfence.escaped`; in the escaped form
//! - an unpaired surrogate unit `0xD800` becomes the six characters `\u{d800}`
//!   (lowercase, always four hex digits),
//! - a literal backslash becomes two backslashes,
//! - every other character stands for itself.
//!
//! [`unescape`] turns the escaped form back into exactly the original units.

use std::fmt;

use ringfence_wire::Text;

/// A string ready for JSON and whether it is in the escaped form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    pub value: String,
    pub escaped: bool,
}

/// Renders `text`: verbatim when it is valid UTF-16, escaped otherwise.
pub fn render(text: Text<'_>) -> Rendered {
    if text.chars().all(|c| c.is_ok()) {
        let value = text.chars().filter_map(Result::ok).collect();
        return Rendered { value, escaped: false };
    }
    let mut value = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            Ok('\\') => value.push_str("\\\\"),
            Ok(c) => value.push(c),
            Err(unit) => {
                use std::fmt::Write as _;
                // Writing to a String cannot fail.
                let _ = write!(value, "\\u{{{unit:04x}}}");
            }
        }
    }
    Rendered { value, escaped: true }
}

/// Why a string is not in the escaped form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnescapeError {
    /// A backslash at this char index starts neither `\\` nor `\u{dxxx}`.
    BadEscape { at: usize },
    /// `\u{…}` at this char index names a unit that is not a surrogate.
    NotASurrogate { at: usize, unit: u32 },
}

impl fmt::Display for UnescapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnescapeError::BadEscape { at } => {
                write!(f, "character {at}: a backslash must start `\\\\` or `\\u{{dxxx}}`")
            }
            UnescapeError::NotASurrogate { at, unit } => {
                write!(f, "character {at}: \\u{{{unit:x}}} is not a surrogate (D800-DFFF)")
            }
        }
    }
}

impl std::error::Error for UnescapeError {}

/// The UTF-16 units an escaped string stands for.
pub fn unescape(escaped: &str) -> Result<Vec<u16>, UnescapeError> {
    let mut units = Vec::with_capacity(escaped.len());
    let mut chars = escaped.chars().enumerate().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            let mut pair = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut pair));
            continue;
        }
        match chars.next() {
            Some((_, '\\')) => units.push(u16::from(b'\\')),
            Some((_, 'u')) => {
                let rest: String = (0..6).filter_map(|_| chars.next().map(|(_, c)| c)).collect();
                let hex = rest
                    .strip_prefix('{')
                    .and_then(|r| r.strip_suffix('}'))
                    .filter(|h| h.len() == 4 && h.chars().all(|c| c.is_ascii_hexdigit()))
                    .ok_or(UnescapeError::BadEscape { at })?;
                let unit = u32::from_str_radix(hex, 16).map_err(|_| UnescapeError::BadEscape { at })?;
                match u16::try_from(unit) {
                    Ok(u) if (0xD800..=0xDFFF).contains(&u) => units.push(u),
                    _ => return Err(UnescapeError::NotASurrogate { at, unit }),
                }
            }
            _ => return Err(UnescapeError::BadEscape { at }),
        }
    }
    Ok(units)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn valid_text_is_rendered_verbatim_backslashes_included() {
        let path = units(r"\Device\HarddiskVolume3\Windows\System32\cmd.exe");
        let out = render(Text::wide(&path));
        assert_eq!(
            out,
            Rendered { value: r"\Device\HarddiskVolume3\Windows\System32\cmd.exe".into(), escaped: false }
        );
    }

    #[test]
    fn an_unpaired_surrogate_is_escaped_and_backslashes_doubled() {
        let mut path = units(r"C:\a");
        path.push(0xD800);
        path.extend(units(r"\b"));
        let out = render(Text::wide(&path));
        assert_eq!(out, Rendered { value: r"C:\\a\u{d800}\\b".into(), escaped: true });
        assert_eq!(unescape(&out.value), Ok(path));
    }

    #[test]
    fn a_literal_escape_lookalike_survives_the_round_trip() {
        let mut text = units(r"\u{d800}");
        text.push(0xDFFF);
        let out = render(Text::wide(&text));
        assert_eq!(out.value, r"\\u{d800}\u{dfff}");
        assert_eq!(unescape(&out.value), Ok(text));
    }

    #[test]
    fn malformed_escapes_are_rejected_with_their_position() {
        assert_eq!(unescape(r"ab\x"), Err(UnescapeError::BadEscape { at: 2 }));
        assert_eq!(unescape(r"\u{d80"), Err(UnescapeError::BadEscape { at: 0 }));
        assert_eq!(unescape(r"\u{0041}"), Err(UnescapeError::NotASurrogate { at: 0, unit: 0x41 }));
        assert_eq!(unescape("\\"), Err(UnescapeError::BadEscape { at: 0 }));
    }
}
