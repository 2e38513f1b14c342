//! Content format 2 in the offline commands: `content compile --sigma` (TOML
//! filter rules and Sigma detection rules into one content), and what `check`
//! and `show` print for a format-2 file. Every output is checked with
//! `ringfence_content::v2::validate`, the validator the driver runs on it.
//!
//! Rule ids: a TOML rule keeps its position in the file (0, 1, …), so that the
//! first include rule in the file that matches is still the one that tags an
//! event; Sigma rules follow, in the order they were read.

use std::io::Write;
use std::path::{Path, PathBuf};

use ringfence_content::v2::build::{self, BuildError, RuleSpec};
use ringfence_content::v2::{self, MAX_EVALUATION_COST, Role};
use ringfence_detect::lower::{self, Metadata, NotLowered};
use ringfence_detect::{Compilation, Rule};
use ringfence_wire::{EventKind, SCHEMA};

use crate::commands::{Failure, read_file};
use crate::content_filter::filter_rules;
use crate::text;

/// Where each rule of a compilation went.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    /// TOML include and exclude rules.
    pub filter: usize,
    /// Sigma rules in the content whose every field the kernel has.
    pub kernel: usize,
    /// Sigma rules in the content that need a companion field (undecided in the kernel).
    pub companion: usize,
    /// Sigma rules left out of the content (a regular expression, …): the
    /// companion evaluates them from the YAML (`--sigma`).
    pub yaml_only: usize,
    /// Sigma rules or documents refused outright.
    pub refused: usize,
}

/// What to compile.
#[derive(Clone, Debug, Default)]
pub struct Sources<'a> {
    pub toml: Option<&'a Path>,
    pub sigma: &'a [PathBuf],
    /// The content version; default: the TOML file's `version`, else 1.
    pub version: Option<u32>,
}

/// `content compile [RULES] --sigma PATH… -o FILE` (or `--format 2`): one format-2
/// content. Sigma rules that stay out are reported on `diag`, one line each.
pub fn content_compile2<W: Write + ?Sized, E: Write + ?Sized>(
    sources: &Sources<'_>,
    output: &Path,
    out: &mut W,
    diag: &mut E,
) -> Result<Placement, Failure> {
    let (bytes, placement) = compile2(sources, diag)?;
    let content = validated2(output, &bytes)?;
    std::fs::write(output, &bytes).map_err(|error| Failure::WriteFile { path: output.to_owned(), error })?;
    writeln!(
        out,
        "content format 2, version {}, schema {}: {} rules ({} filter, {} Sigma decidable in the kernel, {} Sigma \
         needing the companion's fields), {} bytes written to {}; {} Sigma rules left to the companion's \
         --sigma, {} refused; {}",
        content.content_version(),
        content.schema_version(),
        content.rule_count(),
        placement.filter,
        placement.kernel,
        placement.companion,
        bytes.len(),
        output.display(),
        placement.yaml_only,
        placement.refused,
        Cost2(&content)
    )?;
    Ok(placement)
}

/// The format-2 bytes of `sources` and where each rule went.
pub fn compile2<E: Write + ?Sized>(
    sources: &Sources<'_>,
    diag: &mut E,
) -> Result<(Vec<u8>, Placement), Failure> {
    let mut placement = Placement::default();
    let (mut specs, toml_version) = match sources.toml {
        Some(path) => toml_filter_rules(path)?,
        None => (Vec::new(), None),
    };
    placement.filter = specs.len();
    let mut compilation = Compilation::default();
    for path in sources.sigma {
        compilation.add_path(path).map_err(|e| Failure::ReadFile { path: e.path, error: e.error })?;
    }
    for refusal in &compilation.refusals {
        writeln!(diag, "ringfence: Sigma rule refused: {refusal}")?;
    }
    placement.refused = compilation.refusals.len();
    let first_sigma = u32::try_from(specs.len()).unwrap_or(u32::MAX);
    // Sigma rules in the content, by id: (rule, decided in the kernel).
    let mut sigma: Vec<(u32, &Rule)> = Vec::new();
    for rule in &compilation.rules {
        let id = first_sigma.saturating_add(u32::try_from(sigma.len()).unwrap_or(u32::MAX));
        match lower::lower_rule(rule, id) {
            Ok(spec) => {
                specs.push(spec);
                sigma.push((id, rule));
            }
            Err(why) => left_out(rule, &why, diag, &mut placement)?,
        }
    }
    let version = sources.version.or(toml_version).unwrap_or(1);
    let bytes = loop {
        match build::build(&specs, &SCHEMA, version) {
            Ok(bytes) => break bytes,
            // One Sigma rule at fault: it stays with the companion's --sigma, the rest is built again.
            Err(BuildError { rule: Some(id), kind }) if id >= first_sigma => {
                specs.retain(|s| s.id != id);
                if let Some(at) = sigma.iter().position(|(i, _)| *i == id) {
                    let (_, rule) = sigma.remove(at);
                    left_out(rule, &NotLowered::Build(format!("{kind:?}")), diag, &mut placement)?;
                }
            }
            Err(error) => return Err(Failure::Build { error }),
        }
    };
    placement.kernel = sigma.iter().filter(|(_, r)| lower::decided_in_kernel(r)).count();
    placement.companion = sigma.len().saturating_sub(placement.kernel);
    Ok((bytes, placement))
}

fn left_out<E: Write + ?Sized>(
    rule: &Rule,
    why: &NotLowered,
    diag: &mut E,
    placement: &mut Placement,
) -> Result<(), Failure> {
    let file = rule.meta.file.as_ref().map_or_else(|| "-".to_owned(), |f| f.display().to_string());
    writeln!(
        diag,
        "ringfence: {file}: Sigma rule {} ({}) is not in the content, give it to the companion with --sigma: {why}",
        rule.meta.id, rule.meta.title
    )?;
    placement.yaml_only = placement.yaml_only.saturating_add(1);
    Ok(())
}

/// The TOML rules of `path` as format-2 filter rules, and the file's version.
fn toml_filter_rules(path: &Path) -> Result<(Vec<RuleSpec>, Option<u32>), Failure> {
    let source = String::from_utf8(read_file(path)?).map_err(|e| Failure::ReadFile {
        path: path.to_owned(),
        error: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
    })?;
    // Format 1's compiler checks every rule and limit; its validated output is what is converted.
    let bytes = ringfence_content::compile(&source, &SCHEMA)
        .map_err(|error| Failure::Compile { path: path.to_owned(), error })?;
    let content = ringfence_content::validate(&bytes, &SCHEMA)
        .map_err(|error| Failure::Invalid { path: path.to_owned(), error })?;
    let rules =
        filter_rules(&content).map_err(|refusal| Failure::Format2 { path: path.to_owned(), refusal })?;
    Ok((rules, Some(content.version())))
}

pub(crate) fn validated2<'a>(path: &Path, bytes: &'a [u8]) -> Result<v2::Content<'a>, Failure> {
    v2::validate(bytes, &SCHEMA).map_err(|error| Failure::Invalid2 { path: path.to_owned(), error })
}

/// Whether `bytes` say they are content format 2 (the header's version; the
/// validator of that format then checks everything else).
pub fn is_format2(bytes: &[u8]) -> bool {
    let at = ringfence_content::format::header::FORMAT_VERSION;
    ringfence_wire::bytes::u16_at(bytes, at) == Some(v2::format::FORMAT_VERSION)
}

/// The worst-case cost of one event beside the budget.
struct Cost2<'c, 'a>(&'c v2::Content<'a>);

impl std::fmt::Display for Cost2<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "worst-case evaluation cost {} of the {} work units allowed per event",
            v2::cost::worst_case_any_kind(self.0, &SCHEMA),
            MAX_EVALUATION_COST
        )
    }
}

/// Rules by role: (filter, detection).
fn roles(content: &v2::Content<'_>) -> (usize, usize) {
    let detection = (0..content.rule_count())
        .filter_map(|i| content.rule_info(i))
        .filter(|r| r.role == Role::Detection)
        .count();
    (content.rule_count().saturating_sub(detection), detection)
}

/// `content check FILE` for format 2.
pub fn check2<W: Write + ?Sized>(path: &Path, bytes: &[u8], out: &mut W) -> Result<(), Failure> {
    let content = validated2(path, bytes)?;
    let (filter, detection) = roles(&content);
    writeln!(
        out,
        "{}: valid: content format 2, version {}, schema {}, {} rules ({filter} filter, {detection} detection), \
         {} bytes; {}",
        path.display(),
        content.content_version(),
        content.schema_version(),
        content.rule_count(),
        bytes.len(),
        Cost2(&content)
    )?;
    Ok(())
}

/// `content show FILE` for format 2: the header, then each rule with its metadata.
pub fn show2<W: Write + ?Sized>(path: &Path, bytes: &[u8], out: &mut W) -> Result<(), Failure> {
    let content = validated2(path, bytes)?;
    let (filter, detection) = roles(&content);
    writeln!(out, "format          2")?;
    writeln!(out, "content version {}", content.content_version())?;
    writeln!(out, "schema version  {}", content.schema_version())?;
    writeln!(out, "size            {} bytes", bytes.len())?;
    writeln!(out, "rules           {} ({filter} filter, {detection} detection)", content.rule_count())?;
    writeln!(
        out,
        "worst case      {} of {} work units per event",
        v2::cost::worst_case_any_kind(&content, &SCHEMA),
        MAX_EVALUATION_COST
    )?;
    for info in (0..content.rule_count()).filter_map(|i| content.rule_info(i)) {
        let role = match info.role {
            Role::Detection => "detection",
            Role::Include => "include",
            Role::Exclude => "exclude",
        };
        let kind = EventKind::from_code(info.kind).map_or("?", EventKind::name);
        let name = text::render(info.name).value;
        writeln!(out, "\nrule {} \"{name}\": {role} {kind}", info.id)?;
        let meta = text::render(info.meta).value;
        match Metadata::decode(&meta) {
            Some(m) => {
                writeln!(out, "  sigma id {}", m.id)?;
                writeln!(out, "  level    {}", m.level.map_or("none", |l| l.name()))?;
                writeln!(out, "  tags     {}", m.tags.join(" "))?;
            }
            None if meta.is_empty() => {}
            None => writeln!(out, "  metadata {meta:?}")?,
        }
    }
    Ok(())
}
