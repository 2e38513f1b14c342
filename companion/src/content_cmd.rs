//! `ringfence content compile | check | show`: the offline content commands.
//! `check` runs `ringfence_content::validate`, the very function the driver
//! runs on LOAD_CONTENT, against the schema this build supplies; for content
//! whose header says format 2, `ringfence_content::v2::validate` (see
//! [`crate::content2_cmd`]).

use std::io::Write;
use std::path::Path;

use ringfence_content::{ConditionValue, Content, compile, validate};
use ringfence_wire::{EventKind, SCHEMA};

use crate::commands::{Failure, read_file};
use crate::content2_cmd::{self, is_format2};
use crate::text;

/// `content compile RULES -o FILE`: compiles, then checks the result with the
/// validator before writing it, so a compiler bug can never ship bad content.
pub fn content_compile<W: Write + ?Sized>(rules: &Path, output: &Path, out: &mut W) -> Result<(), Failure> {
    let source = read_file(rules)?;
    let source = String::from_utf8(source).map_err(|e| Failure::ReadFile {
        path: rules.to_owned(),
        error: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
    })?;
    let bytes =
        compile(&source, &SCHEMA).map_err(|error| Failure::Compile { path: rules.to_owned(), error })?;
    let content = validated(output, &bytes)?;
    let s = content.summary();
    std::fs::write(output, &bytes).map_err(|error| Failure::WriteFile { path: output.to_owned(), error })?;
    writeln!(
        out,
        "{}: content version {}, schema {}, {} rules, {} conditions, {} bytes written to {}; {}",
        rules.display(),
        s.version,
        s.schema_version,
        s.rules,
        s.conditions,
        s.bytes,
        output.display(),
        Cost(&content)
    )?;
    Ok(())
}

/// `content compile RULES -o FILE --sign KEY`: compiles, checks, signs, writes the envelope.
pub fn content_compile_signed<W: Write + ?Sized>(
    rules: &Path,
    output: &Path,
    key: &Path,
    release: crate::trust_cmd::Release,
    out: &mut W,
) -> Result<(), Failure> {
    let source = read_file(rules)?;
    let source = String::from_utf8(source).map_err(|e| Failure::ReadFile {
        path: rules.to_owned(),
        error: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
    })?;
    let bytes =
        compile(&source, &SCHEMA).map_err(|error| Failure::Compile { path: rules.to_owned(), error })?;
    let key = crate::trust_cmd::read_signing_key(key)?;
    let sealed = crate::trust_cmd::seal(output, &bytes, &key, release)?;
    std::fs::write(output, &sealed).map_err(|error| Failure::WriteFile { path: output.to_owned(), error })?;
    writeln!(
        out,
        "{}: compiled and signed, {} bytes written to {}",
        rules.display(),
        sealed.len(),
        output.display()
    )?;
    Ok(())
}

/// An event's worst-case evaluation cost beside the budget the validator holds it to.
struct Cost<'c, 'a>(&'c Content<'a>);

impl std::fmt::Display for Cost<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "worst-case evaluation cost {} of the {} work units allowed per event",
            self.0.worst_case_cost(&SCHEMA),
            ringfence_content::MAX_EVALUATION_COST
        )
    }
}

/// The content inside a signed envelope, or the bytes themselves when unsigned.
pub(crate) fn unwrapped(bytes: &[u8]) -> &[u8] {
    ringfence_trust::Envelope::new_checked(bytes).map_or(bytes, |e| e.content())
}

fn validated<'a>(path: &Path, bytes: &'a [u8]) -> Result<Content<'a>, Failure> {
    validate(bytes, &SCHEMA).map_err(|error| Failure::Invalid { path: path.to_owned(), error })
}

/// `content check FILE`: exit 0 when the driver would accept it (for a signed file, the
/// content inside; `content verify` checks the signature).
pub fn content_check<W: Write + ?Sized>(path: &Path, out: &mut W) -> Result<(), Failure> {
    let bytes = read_file(path)?;
    if is_format2(unwrapped(&bytes)) {
        return content2_cmd::check2(path, unwrapped(&bytes), out);
    }
    let content = validated(path, unwrapped(&bytes))?;
    let s = content.summary();
    writeln!(
        out,
        "{}: valid: content version {}, schema {}, {} rules, {} conditions, {} bytes; {}",
        path.display(),
        s.version,
        s.schema_version,
        s.rules,
        s.conditions,
        s.bytes,
        Cost(&content)
    )?;
    Ok(())
}

/// `content show FILE`: the header, then each rule with its conditions.
pub fn content_show<W: Write + ?Sized>(path: &Path, out: &mut W) -> Result<(), Failure> {
    let bytes = read_file(path)?;
    if is_format2(unwrapped(&bytes)) {
        return content2_cmd::show2(path, unwrapped(&bytes), out);
    }
    let content = validated(path, unwrapped(&bytes))?;
    let s = content.summary();
    writeln!(out, "format          1")?;
    writeln!(out, "content version {}", s.version)?;
    writeln!(out, "schema version  {}", s.schema_version)?;
    writeln!(out, "size            {} bytes ({} in strings)", s.bytes, s.string_bytes)?;
    writeln!(out, "rules           {} ({} conditions)", s.rules, s.conditions)?;
    for rule in content.rules() {
        let kind = rule.kind();
        let action = rule.action.map_or("?", |a| match a {
            ringfence_content::Action::Exclude => "exclude",
            ringfence_content::Action::Include => "include",
        });
        writeln!(
            out,
            "\nrule {} \"{}\": {action} {}",
            rule.id(),
            text::render(rule.name()).value,
            kind.map_or("?", EventKind::name)
        )?;
        for condition in rule.conditions() {
            let field = kind.and_then(|k| k.def().field(condition.field)).map_or("?", |f| f.name);
            let value = match condition.value {
                ConditionValue::Integer(v) => v.to_string(),
                ConditionValue::Bool(v) => v.to_string(),
                ConditionValue::Str(t) => serde_json::to_string(&text::render(t).value).unwrap_or_default(),
            };
            let not = if condition.negated { "not " } else { "" };
            let case = if condition.case_insensitive { " (case-insensitive)" } else { "" };
            writeln!(out, "  {field} {not}{} {value}{case}", condition.operator.name())?;
        }
    }
    Ok(())
}
