//! The coverage report: how many rules of a rule directory compile, to which
//! stage, and why the others were refused, per logsource category ringfence
//! has events for.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use ringfence_content::v2::{EventInput, Input};
use ringfence_wire::schema::{COMPANION_BASE, field};
use ringfence_wire::{EventKind, Text};

use crate::ir::Stage;
use crate::refusal::Reason;
use crate::sigma::{Compilation, ReadError};

/// The categories reported, in order.
pub const CATEGORIES: [&str; 3] = ["process_creation", "image_load", "process_termination"];

/// One category's figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub kernel: usize,
    pub companion: usize,
    /// Refused rules by [`Reason::class`].
    pub refused: BTreeMap<String, usize>,
}

impl Counts {
    pub fn compiled(&self) -> usize {
        self.kernel.saturating_add(self.companion)
    }

    pub fn refused_total(&self) -> usize {
        self.refused.values().sum()
    }

    pub fn total(&self) -> usize {
        self.compiled().saturating_add(self.refused_total())
    }
}

/// A directory's coverage.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    /// Per category of [`CATEGORIES`].
    pub categories: BTreeMap<&'static str, Counts>,
    /// Rules for logsources ringfence has no events for (not counted above).
    pub other_logsources: usize,
    /// Documents that did not parse, or are not detection rules.
    pub unparsed: usize,
}

fn category(kind: EventKind) -> &'static str {
    match kind {
        EventKind::ImageLoad => "image_load",
        EventKind::ProcessExit => "process_termination",
        _ => "process_creation",
    }
}

impl Coverage {
    /// Compiles every rule under `dir` and counts.
    pub fn measure(dir: &Path) -> Result<Coverage, ReadError> {
        let mut compilation = Compilation::default();
        compilation.add_path(dir)?;
        Ok(Coverage::of(&compilation))
    }

    pub fn of(compilation: &Compilation) -> Coverage {
        let mut coverage = Coverage::default();
        for name in CATEGORIES {
            coverage.categories.insert(name, Counts::default());
        }
        for rule in &compilation.rules {
            if let Some(counts) = coverage.categories.get_mut(category(rule.kind)) {
                match rule.stage() {
                    Stage::Kernel => counts.kernel = counts.kernel.saturating_add(1),
                    Stage::Companion => counts.companion = counts.companion.saturating_add(1),
                }
            }
        }
        for refusal in &compilation.refusals {
            match (&refusal.reason, refusal.category.as_deref()) {
                (Reason::Parse { .. } | Reason::NotADetectionRule { .. }, _) => {
                    coverage.unparsed = coverage.unparsed.saturating_add(1)
                }
                (Reason::LogSource { .. }, _) => {
                    coverage.other_logsources = coverage.other_logsources.saturating_add(1)
                }
                (reason, Some(name)) => match coverage.categories.iter_mut().find(|(c, _)| **c == name) {
                    Some((_, counts)) => *counts.refused.entry(reason.class()).or_default() += 1,
                    None => coverage.other_logsources = coverage.other_logsources.saturating_add(1),
                },
                (_, None) => coverage.other_logsources = coverage.other_logsources.saturating_add(1),
            }
        }
        coverage
    }
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "-".into();
    }
    let tenths = part.saturating_mul(1000) / whole;
    format!("{}.{}%", tenths / 10, tenths % 10)
}

impl fmt::Display for Coverage {
    /// A Markdown table, then the refusals by reason.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "| logsource | rules | compiled | kernel stage | companion stage | refused |")?;
        writeln!(f, "|---|---:|---:|---:|---:|---:|")?;
        for (name, c) in &self.categories {
            writeln!(
                f,
                "| {name} | {} | {} ({}) | {} ({}) | {} | {} |",
                c.total(),
                c.compiled(),
                percent(c.compiled(), c.total()),
                c.kernel,
                percent(c.kernel, c.total()),
                c.companion,
                c.refused_total()
            )?;
        }
        writeln!(f)?;
        writeln!(f, "| logsource | refused because | rules |")?;
        writeln!(f, "|---|---|---:|")?;
        for (name, c) in &self.categories {
            let mut reasons: Vec<(&String, &usize)> = c.refused.iter().collect();
            reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            for (reason, n) in reasons {
                writeln!(f, "| {name} | {reason} | {n} |")?;
            }
        }
        writeln!(f)?;
        writeln!(f, "Rules for other logsources (no ringfence events): {}", self.other_logsources)?;
        write!(f, "Documents that did not parse or are not detection rules: {}", self.unparsed)
    }
}

/// A process start as the kernel stage reads it: its image, command line and parent
/// image, the other kernel fields absent, the companion's fields unknown. The samples
/// against which `sigma-coverage` and the SigmaHQ benchmark weigh a lowered content.
#[derive(Clone, Debug)]
pub struct SampleStart {
    pub image: Vec<u16>,
    pub command_line: Vec<u16>,
    pub parent: Vec<u16>,
}

impl SampleStart {
    /// A typical start: a 120-unit image path, a 400-unit command line (no
    /// part of it repeated), services.exe's parent.
    pub fn typical() -> Self {
        Self::with_command_line(400)
    }

    /// The same start with the longest command line a process can have (32,767 units).
    pub fn longest() -> Self {
        Self::with_command_line(32_767)
    }

    /// The typical start with a command line of `units` units: an agent's
    /// 437-unit command line, cut or repeated to length.
    pub fn with_command_line(units: usize) -> Self {
        const IMAGE: &str = r"C:\Program Files\Contoso\Product Suite\Endpoint Protection Agent\versions\4.12.0.12345\amd64\bin\services\host\agent.exe";
        const LINE: &str = concat!(
            r#"agent.exe --config "C:\ProgramData\Contoso\agent.json" --verbose --mode=service --log-level=info "#,
            r#"--log-file "C:\ProgramData\Contoso\logs\agent-20261204.log" --instance-id "#,
            r#"7f3c9a2e-41d8-4b6a-9e0f-2c5d8b1a6e37 --server https://telemetry.contoso.com:8443/api/v2/ingest "#,
            r#"--proxy-bypass "*.contoso.local;10.*" --retry 5 --timeout 30 "#,
            r#"--cache-dir "C:\Users\svc-agent\AppData\Local\Contoso\cache" --no-update-check --max-batch 512 "#,
            r#"--heartbeat 60 "#,
        );
        SampleStart {
            image: IMAGE.encode_utf16().collect(),
            command_line: LINE.encode_utf16().cycle().take(units).collect(),
            parent: r"C:\Windows\System32\services.exe".encode_utf16().collect(),
        }
    }
}

impl<'a> EventInput<'a> for &'a SampleStart {
    fn kind(&self) -> EventKind {
        EventKind::ProcessStart
    }

    fn input(&self, index: u8) -> Input<'a> {
        let text = |t: &'a Vec<u16>| Input::Text { head: Text::wide(t), tail: Text::default() };
        match index {
            i if i == field::ProcessStart::image_path as u8 => text(&self.image),
            i if i == field::ProcessStart::command_line as u8 => text(&self.command_line),
            i if i == field::ProcessStart::parent_image_path as u8 => text(&self.parent),
            i if i >= COMPANION_BASE => Input::Unknown,
            _ => Input::Absent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SampleStart;

    #[test]
    fn the_typical_start_is_120_and_400_units_with_no_repeated_text() {
        let typical = SampleStart::typical();
        assert_eq!((typical.image.len(), typical.command_line.len()), (120, 400));
        let longest = SampleStart::longest();
        assert_eq!(longest.command_line.len(), 32_767);
        // The typical line is the first 400 units of the longest: the text repeats only past them.
        assert_eq!(longest.command_line[..400], typical.command_line[..]);
        let line = String::from_utf16(&longest.command_line).unwrap();
        let period = line[1..].find(&line[..40]).map(|at| at + 1);
        assert_eq!(period, Some(437), "the line repeats after its 437 units, not within the typical 400");
    }
}
