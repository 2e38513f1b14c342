//! `ringfence sigma check PATH...`: compiles Sigma rules (files or directories) and
//! says, per rule, the stage it runs in or why it was refused. Evaluation of the
//! compiled rules is `ringfence_detect::RuleSet::evaluate`.

use std::io::Write;
use std::path::PathBuf;

use ringfence_detect::{Compilation, RuleSet, Stage};

use crate::commands::Failure;

/// Compiles every rule under `paths` and prints one line per rule, then a summary.
/// Fails (exit 1) when any rule or document is refused; the others are still listed.
pub fn sigma_check<W: Write + ?Sized>(paths: &[PathBuf], out: &mut W) -> Result<(), Failure> {
    let mut compilation = Compilation::default();
    for path in paths {
        compilation.add_path(path).map_err(|e| Failure::ReadFile { path: e.path, error: e.error })?;
    }
    for rule in &compilation.rules {
        let file = rule.meta.file.as_ref().map(|f| f.display().to_string()).unwrap_or_default();
        writeln!(out, "{:<9} {}  {}  ({file})", rule.stage().name(), rule.meta.id, rule.meta.title)?;
    }
    for refusal in &compilation.refusals {
        writeln!(out, "refused   {refusal}")?;
    }
    let kernel = compilation.rules.iter().filter(|r| r.stage() == Stage::Kernel).count();
    let companion = compilation.rules.len().saturating_sub(kernel);
    let refused = compilation.refusals.len();
    writeln!(out, "{kernel} kernel stage, {companion} companion stage, {refused} refused")?;
    // The compiled rules must also index: limits over the whole set, regular expressions together.
    RuleSet::new(compilation.rules).map_err(|e| Failure::Sigma { message: e.to_string() })?;
    if refused > 0 {
        return Err(Failure::Sigma {
            message: format!(
                "{refused} Sigma rule(s) or document(s) refused (listed above); the others compile"
            ),
        });
    }
    Ok(())
}
