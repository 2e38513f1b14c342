//! The TOML front end. Every key is known (`deny_unknown_fields`), every
//! value keeps its span, so an error names the line and the rule it is in.

use super::{CompileError, CompileErrorKind, ConditionSpec, RuleSpec, SpecValue, emit};
use crate::format::{Action, Operator};
use ringfence_wire::{FieldType, KindDef, Schema};
use serde::Deserialize;
use std::string::{String, ToString};
use std::vec::Vec;
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSrc {
    version: u32,
    #[serde(default)]
    rule: Vec<Spanned<RuleSrc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSrc {
    #[serde(default)]
    name: String,
    kind: Spanned<String>,
    action: Spanned<String>,
    #[serde(default, rename = "match")]
    conditions: Vec<Spanned<ConditionSrc>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConditionSrc {
    field: Spanned<String>,
    equals: Option<Spanned<toml::Value>>,
    starts_with: Option<Spanned<toml::Value>>,
    ends_with: Option<Spanned<toml::Value>>,
    contains: Option<Spanned<toml::Value>>,
    less_than: Option<Spanned<toml::Value>>,
    greater_than: Option<Spanned<toml::Value>>,
    #[serde(default)]
    not: bool,
    case_sensitive: Option<Spanned<bool>>,
}

/// 1-based line of byte `offset` in `source`.
fn line_of(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source.as_bytes().get(..end).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count()) + 1
}

/// The rule a byte offset falls in, by the `[[rule]]` headers before it, with
/// its name when the file is at least valid TOML.
fn rule_at(source: &str, offset: usize) -> Option<(usize, String)> {
    let mut index = None;
    let mut at = 0usize;
    for line in source.split_inclusive('\n') {
        if at > offset {
            break;
        }
        if line.trim_start().starts_with("[[rule]]") {
            index = Some(index.map_or(0, |i: usize| i + 1));
        }
        at += line.len();
    }
    let index = index?;
    let name = toml::from_str::<toml::Table>(source)
        .ok()
        .and_then(|t| {
            let rules = t.get("rule")?.as_array()?;
            Some(rules.get(index)?.get("name")?.as_str()?.to_string())
        })
        .unwrap_or_default();
    Some((index, name))
}

/// Compiles a TOML rule file into content for `schema`.
pub fn compile(source: &str, schema: &Schema) -> Result<Vec<u8>, CompileError> {
    let file: FileSrc = toml::from_str(source).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        let line = if e.span().is_some() { line_of(source, offset) } else { 0 };
        let rule = e.span().and_then(|_| rule_at(source, offset));
        CompileError::new(line, rule, CompileErrorKind::Syntax { message: e.message().to_string() })
    })?;
    let mut rules = Vec::with_capacity(file.rule.len());
    let mut lines = Vec::with_capacity(file.rule.len());
    for (index, spanned) in file.rule.iter().enumerate() {
        let src = spanned.get_ref();
        let rule_line = line_of(source, spanned.span().start);
        let fail =
            |at: usize, kind| CompileError::new(line_of(source, at), Some((index, src.name.clone())), kind);
        let def = schema.kind_by_name(src.kind.get_ref()).ok_or_else(|| {
            fail(src.kind.span().start, CompileErrorKind::UnknownKind { name: src.kind.get_ref().clone() })
        })?;
        if !def.activity {
            return Err(fail(src.kind.span().start, CompileErrorKind::KindNotFilterable { kind: def.kind }));
        }
        let action = match src.action.get_ref().as_str() {
            "include" => Action::Include,
            "exclude" => Action::Exclude,
            other => {
                return Err(fail(
                    src.action.span().start,
                    CompileErrorKind::UnknownAction { name: other.to_string() },
                ));
            }
        };
        let mut conditions = Vec::with_capacity(src.conditions.len());
        for c in &src.conditions {
            conditions.push(condition(def, c).map_err(|(at, kind)| fail(at, kind))?);
        }
        rules.push(RuleSpec { name: src.name.clone(), kind: def.kind, action, conditions });
        lines.push(rule_line);
    }
    emit::emit(&rules, &lines, file.version, schema, true)
}

type Located = (usize, CompileErrorKind);

fn condition(def: &KindDef, c: &Spanned<ConditionSrc>) -> Result<ConditionSpec, Located> {
    let src = c.get_ref();
    let at = c.span().start;
    let name = src.field.get_ref();
    let index = def.field_index(name).ok_or_else(|| {
        (src.field.span().start, CompileErrorKind::UnknownField { kind: def.kind, field: name.clone() })
    })?;
    let field = def
        .field(index)
        .ok_or((at, CompileErrorKind::UnknownField { kind: def.kind, field: name.clone() }))?;
    if !field.matchable {
        return Err((src.field.span().start, CompileErrorKind::FieldNotMatchable { field: field.name }));
    }
    let ops = [
        (Operator::Equals, &src.equals),
        (Operator::StartsWith, &src.starts_with),
        (Operator::EndsWith, &src.ends_with),
        (Operator::Contains, &src.contains),
        (Operator::LessThan, &src.less_than),
        (Operator::GreaterThan, &src.greater_than),
    ];
    let mut given = ops.iter().filter_map(|(op, v)| v.as_ref().map(|v| (*op, v)));
    let (operator, value) = given.next().ok_or((at, CompileErrorKind::NoOperator { field: field.name }))?;
    if let Some((_, extra)) = given.next() {
        return Err((extra.span().start, CompileErrorKind::SeveralOperators { field: field.name }));
    }
    let value_at = value.span().start;
    if !operator.fits(field.ty) {
        return Err((at, CompileErrorKind::OperatorMismatch { field: field.name, operator, ty: field.ty }));
    }
    let case_insensitive = match (&src.case_sensitive, field.ty) {
        (Some(flag), FieldType::Str) => !*flag.get_ref(),
        (None, FieldType::Str) => true,
        (Some(flag), _) => {
            return Err((flag.span().start, CompileErrorKind::CaseOnNonString { field: field.name }));
        }
        (None, _) => false,
    };
    let mismatch = (value_at, CompileErrorKind::ValueType { field: field.name, expected: field.ty });
    let out_of_range = (value_at, CompileErrorKind::ValueOutOfRange { field: field.name });
    let value = match (value.get_ref(), field.ty) {
        (toml::Value::String(s), FieldType::Str) => SpecValue::Str(s.encode_utf16().collect()),
        (toml::Value::Boolean(b), FieldType::Bool) => SpecValue::Bool(*b),
        (toml::Value::Integer(i), FieldType::U32) => {
            SpecValue::Integer(u32::try_from(*i).map_err(|_| out_of_range)?.into())
        }
        (toml::Value::Integer(i), FieldType::U64 | FieldType::Time) => {
            SpecValue::Integer(u64::try_from(*i).map_err(|_| out_of_range)?)
        }
        _ => return Err(mismatch),
    };
    Ok(ConditionSpec { field: index, operator, negated: src.not, case_insensitive, value })
}
