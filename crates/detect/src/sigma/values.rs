//! One Sigma detection item (`Field|modifiers: values`) to predicates.
//!
//! Modifiers: `contains`, `startswith`, `endswith`, `all`, `windash`, `base64`,
//! `base64offset`, `wide`/`utf16le`, `utf16be`, `utf16` (under `base64` or
//! `base64offset` only: they produce bytes, which a text field cannot hold),
//! `re` with `i`, `m`, `s`, `cased`, `exists`, `gt`, `gte`, `lt`, `lte`.
//! Values: strings with `*`/`?` wildcards and Sigma's escapes (`\*`, `\?`,
//! `\\`, unescaped by the parser), integers, booleans (as Sysmon's `true` /
//! `false` text) and `null` (the field is absent).

use rsigma_parser::{DetectionItem, Modifier, SigmaString, SigmaValue, SpecialChar, StringPart};

use super::Compiler;
use crate::fields::{self, Resolved};
use crate::ir::{Case, Compare, Expr, GlobPart, Limit, Operator, Predicate, Quantifier, Value, limits};
use crate::refusal::Reason;

/// The modifiers of one item, checked for consistency.
#[derive(Clone, Copy, Debug, Default)]
struct Modifiers {
    contains: bool,
    starts_with: bool,
    ends_with: bool,
    all: bool,
    windash: bool,
    base64: bool,
    base64_offset: bool,
    encoding: Option<Encoding>,
    re: bool,
    re_insensitive: bool,
    re_multi_line: bool,
    re_dot_all: bool,
    cased: bool,
    exists: bool,
    compare: Option<Compare>,
}

/// A UTF-16 encoding applied before base64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    LittleEndian,
    BigEndian,
    /// Little-endian with a byte order mark (Sigma's `utf16`).
    LittleEndianWithBom,
}

fn modifier_name(m: Modifier) -> &'static str {
    match m {
        Modifier::Contains => "contains",
        Modifier::StartsWith => "startswith",
        Modifier::EndsWith => "endswith",
        Modifier::All => "all",
        Modifier::Base64 => "base64",
        Modifier::Base64Offset => "base64offset",
        Modifier::Wide => "wide",
        Modifier::Utf16be => "utf16be",
        Modifier::Utf16 => "utf16",
        Modifier::WindAsh => "windash",
        Modifier::Re => "re",
        Modifier::Cidr => "cidr",
        Modifier::Cased => "cased",
        Modifier::Exists => "exists",
        Modifier::Expand => "expand",
        Modifier::FieldRef => "fieldref",
        Modifier::Gt => "gt",
        Modifier::Gte => "gte",
        Modifier::Lt => "lt",
        Modifier::Lte => "lte",
        Modifier::Neq => "neq",
        Modifier::IgnoreCase => "i",
        Modifier::Multiline => "m",
        Modifier::DotAll => "s",
        Modifier::Minute => "minute",
        Modifier::Hour => "hour",
        Modifier::Day => "day",
        Modifier::Week => "week",
        Modifier::Month => "month",
        Modifier::Year => "year",
    }
}

impl Modifiers {
    fn parse(field: &str, list: &[Modifier]) -> Result<Self, Reason> {
        let mut m = Modifiers::default();
        for &modifier in list {
            match modifier {
                Modifier::Contains => m.contains = true,
                Modifier::StartsWith => m.starts_with = true,
                Modifier::EndsWith => m.ends_with = true,
                Modifier::All => m.all = true,
                Modifier::WindAsh => m.windash = true,
                Modifier::Base64 => m.base64 = true,
                Modifier::Base64Offset => m.base64_offset = true,
                Modifier::Wide => m.encoding = Some(Encoding::LittleEndian),
                Modifier::Utf16be => m.encoding = Some(Encoding::BigEndian),
                Modifier::Utf16 => m.encoding = Some(Encoding::LittleEndianWithBom),
                Modifier::Re => m.re = true,
                Modifier::IgnoreCase => m.re_insensitive = true,
                Modifier::Multiline => m.re_multi_line = true,
                Modifier::DotAll => m.re_dot_all = true,
                Modifier::Cased => m.cased = true,
                Modifier::Exists => m.exists = true,
                Modifier::Gt => m.compare = Some(Compare::Greater),
                Modifier::Gte => m.compare = Some(Compare::GreaterOrEqual),
                Modifier::Lt => m.compare = Some(Compare::Less),
                Modifier::Lte => m.compare = Some(Compare::LessOrEqual),
                other => {
                    return Err(Reason::UnsupportedModifier {
                        field: field.to_owned(),
                        modifier: modifier_name(other).to_owned(),
                    });
                }
            }
        }
        let names = || list.iter().map(|m| modifier_name(*m)).collect::<Vec<_>>().join("|");
        let refuse = |why: &'static str| Reason::ModifierCombination {
            field: field.to_owned(),
            modifiers: names(),
            why,
        };
        let positional = [m.contains, m.starts_with, m.ends_with].into_iter().filter(|b| *b).count();
        let encoded = m.base64 || m.base64_offset;
        if positional > 1 {
            return Err(refuse("contains, startswith and endswith exclude each other"));
        }
        if m.re && (positional > 0 || encoded || m.windash || m.encoding.is_some()) {
            return Err(refuse("a regular expression takes no string modifiers"));
        }
        if (m.re_insensitive || m.re_multi_line || m.re_dot_all) && !m.re {
            return Err(refuse("i, m and s are flags of re"));
        }
        if m.base64 && m.base64_offset {
            return Err(refuse("base64 and base64offset are two encodings of one value"));
        }
        if m.encoding.is_some() && !encoded {
            return Err(refuse("UTF-16 encodings give bytes, which text fields hold only base64-encoded"));
        }
        if m.windash && encoded {
            return Err(refuse("windash applies to text, not to its base64 encoding"));
        }
        if m.exists && list.len() > 1 {
            return Err(refuse("exists takes no other modifier"));
        }
        if m.compare.is_some() && (positional > 0 || encoded || m.windash || m.re || m.cased) {
            return Err(refuse("a numeric comparison takes no string modifiers"));
        }
        Ok(m)
    }

    fn case(&self) -> Case {
        if self.re {
            if self.re_insensitive { Case::Insensitive } else { Case::Sensitive }
        } else if self.cased {
            Case::Sensitive
        } else {
            Case::Insensitive
        }
    }

    fn text_operator(&self) -> Operator {
        if self.contains || self.base64_offset {
            Operator::Contains
        } else if self.starts_with {
            Operator::StartsWith
        } else if self.ends_with {
            Operator::EndsWith
        } else {
            Operator::Equals
        }
    }
}

impl Compiler<'_> {
    /// Compiles a detection item of detection `detection` to an expression over new predicates.
    pub(super) fn item(&mut self, detection: &str, item: &DetectionItem) -> Result<Expr, Reason> {
        let Some(name) = item.field.name.as_deref() else {
            return Err(Reason::Keywords { detection: detection.to_owned() });
        };
        let field = match fields::resolve(self.kind, name) {
            Resolved::Field(field) => field,
            Resolved::Unsupported(why) => {
                return Err(Reason::UnsupportedField { field: name.to_owned(), why });
            }
            Resolved::Unknown => return Err(Reason::UnknownField { field: name.to_owned() }),
        };
        let m = Modifiers::parse(name, &item.field.modifiers)?;
        let value_type = |expected: &'static str| Reason::ValueType { field: name.to_owned(), expected };
        if item.values.is_empty() {
            return Err(value_type("present: the item lists no value"));
        }
        let quantifier = if m.all { Quantifier::All } else { Quantifier::Any };
        let base = Predicate {
            field,
            operator: Operator::Equals,
            values: Vec::new(),
            quantifier,
            case: m.case(),
            windash: m.windash,
        };
        if m.exists {
            let [SigmaValue::Bool(present)] = item.values.as_slice() else {
                return Err(value_type("one boolean (exists takes true or false)"));
            };
            return self.push(Predicate { operator: Operator::Exists(*present), ..base });
        }
        // Values grouped by operator, in first-seen order: one predicate per group.
        let mut groups: Vec<(Operator, Vec<Value>)> = Vec::new();
        let mut add = |operator: Operator, value: Option<Value>| {
            let at = match groups.iter().position(|(op, _)| *op == operator) {
                Some(at) => at,
                None => {
                    groups.push((operator, Vec::new()));
                    groups.len().saturating_sub(1)
                }
            };
            if let (Some(value), Some((_, values))) = (value, groups.get_mut(at)) {
                values.push(value);
            }
        };
        for value in &item.values {
            if let Some(compare) = m.compare {
                let SigmaValue::Integer(n) = value else {
                    return Err(value_type("an integer (gt, gte, lt and lte compare numbers)"));
                };
                if !field.is_integer() {
                    return Err(value_type(
                        "compared with a text field (gt, gte, lt and lte need a number field)",
                    ));
                }
                add(Operator::Compare(compare), Some(Value::Integer(*n)));
                continue;
            }
            match value {
                SigmaValue::Null => add(Operator::Exists(false), None),
                SigmaValue::Float(_) => return Err(value_type("an integer or a string")),
                SigmaValue::Bool(b) => add(m.text_operator(), Some(Value::Text(b.to_string()))),
                SigmaValue::Integer(n)
                    if field.is_integer() && m.text_operator() == Operator::Equals && !m.re =>
                {
                    add(Operator::Equals, Some(Value::Integer(*n)))
                }
                SigmaValue::Integer(n) => {
                    let text = SigmaString::from_raw(&n.to_string());
                    self.text_value(&m, &text, name, &mut add)?
                }
                SigmaValue::String(text) => self.text_value(&m, text, name, &mut add)?,
            }
        }
        let mut exprs = Vec::with_capacity(groups.len());
        for (operator, values) in groups {
            exprs.push(self.push(Predicate { operator, values, ..base.clone() })?);
        }
        Ok(match (exprs.len(), quantifier) {
            (1, _) => exprs.remove(0),
            (_, Quantifier::Any) => Expr::Any(exprs),
            (_, Quantifier::All) => Expr::All(exprs),
        })
    }

    fn text_value(
        &self,
        m: &Modifiers,
        text: &SigmaString,
        field: &str,
        add: &mut impl FnMut(Operator, Option<Value>),
    ) -> Result<(), Reason> {
        let too_long = |len: usize| Reason::Limit { limit: Limit::ValueBytes, value: len };
        if m.re {
            let source = text.original.as_str();
            if source.len() > limits::MAX_REGEX_BYTES {
                return Err(Reason::Limit { limit: Limit::RegexBytes, value: source.len() });
            }
            check_regex(source, m, field)?;
            let operator = Operator::Regex { multi_line: m.re_multi_line, dot_all: m.re_dot_all };
            add(operator, Some(Value::Text(source.to_owned())));
            return Ok(());
        }
        if m.base64 || m.base64_offset {
            let Some(plain) = text.as_plain() else {
                return Err(Reason::ValueType {
                    field: field.to_owned(),
                    expected: "free of wildcards under base64",
                });
            };
            let bytes = encode(plain.as_str(), m.encoding);
            let encoded = if m.base64 { vec![base64(&bytes)] } else { base64_offsets(&bytes) };
            for value in encoded {
                if value.len() > limits::MAX_VALUE_BYTES {
                    return Err(too_long(value.len()));
                }
                add(m.text_operator(), Some(Value::Text(value)));
            }
            return Ok(());
        }
        if let Some(plain) = text.as_plain() {
            if plain.len() > limits::MAX_VALUE_BYTES {
                return Err(too_long(plain.len()));
            }
            add(m.text_operator(), Some(Value::Text(plain)));
            return Ok(());
        }
        let mut parts = Vec::with_capacity(text.parts.len().saturating_add(2));
        if m.contains || m.ends_with {
            parts.push(GlobPart::AnyRun);
        }
        for part in &text.parts {
            parts.push(match part {
                StringPart::Plain(s) => GlobPart::Literal(s.clone()),
                StringPart::Special(SpecialChar::WildcardMulti) => GlobPart::AnyRun,
                StringPart::Special(SpecialChar::WildcardSingle) => GlobPart::AnyChar,
            });
        }
        if m.contains || m.starts_with {
            parts.push(GlobPart::AnyRun);
        }
        if text.original.len() > limits::MAX_VALUE_BYTES {
            return Err(too_long(text.original.len()));
        }
        add(Operator::Glob, Some(Value::Glob(parts)));
        Ok(())
    }
}

/// Refuses what the `regex` crate will not build: constructs outside its
/// linear-time syntax (lookaround, back-references) or over the size limit.
fn check_regex(source: &str, m: &Modifiers, field: &str) -> Result<(), Reason> {
    regex::RegexBuilder::new(source)
        .case_insensitive(m.re_insensitive)
        .multi_line(m.re_multi_line)
        .dot_matches_new_line(m.re_dot_all)
        .size_limit(limits::MAX_REGEX_PROGRAM_BYTES)
        .build()
        .map(|_| ())
        .map_err(|e| Reason::Regex { field: field.to_owned(), message: e.to_string() })
}

/// The bytes base64 encodes: UTF-8, or UTF-16 as the encoding modifier says.
fn encode(text: &str, encoding: Option<Encoding>) -> Vec<u8> {
    match encoding {
        None => text.as_bytes().to_vec(),
        Some(Encoding::LittleEndian) => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        Some(Encoding::BigEndian) => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        Some(Encoding::LittleEndianWithBom) => {
            [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect()
        }
    }
}

const BASE64_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648, with padding).
pub(crate) fn base64(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3).saturating_mul(4));
    for chunk in bytes.chunks(3) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextets = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        let keep = chunk.len().saturating_add(1);
        for (i, s) in sextets.into_iter().enumerate() {
            if i < keep {
                out.push(char::from(BASE64_ALPHABET.get(s as usize).copied().unwrap_or(b'=')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Sigma's `base64offset`: the value as it reads inside a longer base64 text,
/// for each of the three alignments, keeping only the characters that depend
/// on the value's bytes alone (pySigma's definition: the first characters,
/// mixed with the preceding byte, and the last, mixed with the following
/// one, are cut).
pub(crate) fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END_CUT: [usize; 3] = [0, 3, 2];
    let mut out = Vec::with_capacity(3);
    for (shift, start) in START.into_iter().enumerate() {
        let mut shifted = vec![0u8; shift];
        shifted.extend_from_slice(bytes);
        let encoded = base64(&shifted);
        let cut = END_CUT.get(bytes.len().wrapping_add(shift) % 3).copied().unwrap_or(0);
        let end = encoded.len().saturating_sub(cut);
        if let Some(middle) = encoded.get(start..end).filter(|m| !m.is_empty()) {
            out.push(middle.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_encodes_as_rfc_4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
    }

    #[test]
    fn base64offset_gives_the_three_alignment_invariant_middles() {
        // pySigma's documented example: `/bin/bash` → L2Jpbi9iYXNo, 9iaW4vYmFza, vYmluL2Jhc2
        assert_eq!(base64_offsets(b"/bin/bash"), ["L2Jpbi9iYXNo", "9iaW4vYmFza", "vYmluL2Jhc2"]);
    }

    #[test]
    fn every_base64offset_variant_is_found_in_the_encoding_of_any_surrounding_text() {
        let value = b"Invoke-Mimikatz";
        let variants = base64_offsets(value);
        for before in 0..6 {
            for after in 0..4 {
                let mut text = vec![b'x'; before];
                text.extend_from_slice(value);
                text.extend(std::iter::repeat_n(b'y', after));
                let encoded = base64(&text);
                assert!(variants.iter().any(|v| encoded.contains(v.as_str())), "{before} {after} {encoded}");
            }
        }
    }
}
