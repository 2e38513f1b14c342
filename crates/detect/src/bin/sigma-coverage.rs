//! `sigma-coverage DIR...`: compiles the Sigma rules under each directory and prints
//! how many compiled to the kernel stage, to the companion stage, and were refused,
//! by reason (`cargo xtask sigma-coverage DIR` runs it). `--refusals` also lists each
//! refused rule of ringfence's logsources, and each compiled rule content format 2
//! leaves in the companion, with its reason.

use std::path::PathBuf;
use std::process::ExitCode;

use ringfence_content::Meter;
use ringfence_content::v2::{EventInput, Input, RuleIds};
use ringfence_detect::Compilation;
use ringfence_detect::coverage::{CATEGORIES, Coverage};
use ringfence_detect::lower;
use ringfence_detect::refusal::Reason;
use ringfence_wire::schema::{COMPANION_BASE, field};
use ringfence_wire::{EventKind, SCHEMA, Text};

fn main() -> ExitCode {
    let mut list = false;
    let mut dirs = Vec::new();
    for arg in std::env::args().skip(1) {
        if arg == "--refusals" {
            list = true;
        } else {
            dirs.push(PathBuf::from(arg));
        }
    }
    if dirs.is_empty() {
        eprintln!("usage: sigma-coverage [--refusals] DIR...");
        return ExitCode::from(2);
    }
    let mut compilation = Compilation::default();
    for dir in &dirs {
        if let Err(error) = compilation.add_path(dir) {
            eprintln!("sigma-coverage: {error}");
            return ExitCode::FAILURE;
        }
    }
    println!("{}", Coverage::of(&compilation));
    println!();
    print_lowering(&compilation, list);
    if list {
        println!();
        for refusal in &compilation.refusals {
            let ours = refusal.category.as_deref().is_some_and(|c| CATEGORIES.contains(&c));
            if ours && !matches!(refusal.reason, Reason::LogSource { .. }) {
                println!("{refusal}");
            }
        }
    }
    ExitCode::SUCCESS
}

/// What lowering every compiled rule into one content format 2 gives: how many rules the
/// content holds, how many of those the kernel can decide alone, why the others stay in
/// the companion, and the content's size and worst-case cost.
fn print_lowering(compilation: &Compilation, list: bool) {
    let lowered = match lower::lower(&compilation.rules, &SCHEMA, 1) {
        Ok(lowered) => lowered,
        Err(error) => {
            println!("Content format 2: the whole rule set was refused: {error:?}");
            return;
        }
    };
    let mut kernel = 0usize;
    let mut by_kind = std::collections::BTreeMap::<&str, usize>::new();
    let mut reasons = std::collections::BTreeMap::<String, usize>::new();
    for (rule, placement) in compilation.rules.iter().zip(&lowered.placement) {
        match placement {
            Ok(_) if lower::decided_in_kernel(rule) => {
                kernel += 1;
                *by_kind.entry(rule.kind.name()).or_default() += 1;
            }
            Ok(_) => {}
            Err(why) => {
                *reasons.entry(why.class()).or_default() += 1;
                if list {
                    let stage =
                        if lower::decided_in_kernel(rule) { "kernel fields" } else { "companion fields" };
                    println!("companion only ({stage}): {} {:?}: {why}", rule.meta.id, rule.meta.title);
                }
            }
        }
    }
    let content = ringfence_content::v2::validate(&lowered.content, &SCHEMA);
    println!("Content format 2 of the {} compiled rules:", compilation.rules.len());
    println!("- in the content: {} ({} decided by the kernel alone)", lowered.lowered(), kernel);
    let per_kind: Vec<String> = by_kind.iter().map(|(name, n)| format!("{name} {n}")).collect();
    println!("- decided by the kernel alone, by event kind: {}", per_kind.join(", "));
    for (reason, n) in &reasons {
        println!("- companion only, {reason}: {n}");
    }
    match content {
        Ok(content) => println!(
            "- {} bytes, {} patterns, {} automaton states, worst-case cost {} of {} units",
            lowered.content.len(),
            content.pattern_count(),
            content.state_count(),
            ringfence_content::v2::cost::worst_case_any_kind(&content, &SCHEMA),
            ringfence_content::v2::MAX_EVALUATION_COST
        ),
        Err(error) => println!("- the content does not validate: {error:?}"),
    }
    if let Ok(content) = ringfence_content::v2::validate(&lowered.content, &SCHEMA) {
        work_on_process_starts(&content);
    }
}

/// A process start with its image, command line and parent image (the others absent, the
/// companion's fields unknown), as the kernel stage reads it.
struct Start {
    image: Vec<u16>,
    command_line: Vec<u16>,
    parent: Vec<u16>,
}

impl<'a> EventInput<'a> for &'a Start {
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

/// The work units the content charges a typical process start (120-unit image, 400-unit
/// command line) and one with the longest command line, against the kernel's per-event limit.
fn work_on_process_starts(content: &ringfence_content::v2::Content<'_>) {
    let wide = |s: &str| s.encode_utf16().collect::<Vec<u16>>();
    let filled = |s: &str, n: usize| s.encode_utf16().cycle().take(n).collect::<Vec<u16>>();
    let mut image = filled(r"C:\Program Files\Contoso\Product Suite\bin\", 110);
    image.extend(wide(r"\agent.exe"));
    let line = "agent.exe --config C:\\ProgramData\\Contoso\\agent.json --verbose --mode=service ";
    let parent = wide(r"C:\Windows\System32\services.exe");
    let typical = Start { image: image.clone(), command_line: filled(line, 400), parent: parent.clone() };
    let longest = Start { image, command_line: filled(line, 32_767), parent };
    let mut scratch = vec![0u64; content.scratch_words()];
    for (name, event) in [("a typical process start", &typical), ("the longest command line", &longest)] {
        let (mut matched, mut undecided) = ([0u32; 8], [0u32; 8]);
        let ids = RuleIds { matched: &mut matched, undecided: &mut undecided };
        let mut meter = Meter::new(u64::MAX);
        let _ = content.evaluate_metered(&event, &mut scratch, ids, &mut meter);
        println!(
            "- {name}: {} work units (the kernel's per-event limit: {})",
            meter.used(),
            ringfence_content::EVENT_WORK_LIMIT
        );
    }
}
