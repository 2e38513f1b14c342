//! `sigma-coverage DIR...`: compiles the Sigma rules under each directory and prints
//! how many compiled to the kernel stage, to the companion stage, and were refused,
//! by reason (`cargo xtask sigma-coverage DIR` runs it). `--refusals` also lists each
//! refused rule of ringfence's logsources, and each compiled rule content format 2
//! leaves in the companion, with its reason.

use std::path::PathBuf;
use std::process::ExitCode;

use ringfence_content::Meter;
use ringfence_content::v2::RuleIds;
use ringfence_detect::Compilation;
use ringfence_detect::coverage::{CATEGORIES, Coverage, SampleStart};
use ringfence_detect::lower;
use ringfence_detect::refusal::Reason;
use ringfence_wire::SCHEMA;

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

/// The work units the content charges a typical process start and one with the longest
/// command line, against the kernel's per-event limit, and the longest command line of
/// the typical start's text the limit lets through: with the transition table the driver
/// builds when it accepts the content.
fn work_on_process_starts(content: &ringfence_content::v2::Content<'_>) {
    let mut table = vec![0u32; content.transition_words()];
    if content.build_transitions(&mut table).is_err() {
        table.clear();
    }
    println!("- transition table (built by the driver at a load): {} bytes", table.len() * 4);
    let content = content.with_transitions(&table);
    let mut scratch = vec![0u64; content.scratch_words()];
    let mut work = |event: &SampleStart| {
        let (mut matched, mut undecided) = ([0u32; 8], [0u32; 8]);
        let ids = RuleIds { matched: &mut matched, undecided: &mut undecided };
        let mut meter = Meter::new(u64::MAX);
        let _ = content.evaluate_metered(&event, &mut scratch, ids, &mut meter);
        meter.used()
    };
    let limit = ringfence_content::EVENT_WORK_LIMIT;
    for (name, event) in [
        ("a typical process start", &SampleStart::typical()),
        ("the longest command line", &SampleStart::longest()),
    ] {
        println!("- {name}: {} work units (the kernel's per-event limit: {limit})", work(event));
    }
    // Bisection: the work grows with the command line's length.
    let (mut within, mut over) = (0usize, SampleStart::longest().command_line.len() + 1);
    while over - within > 1 {
        let mid = within + (over - within) / 2;
        if work(&SampleStart::with_command_line(mid)) <= limit {
            within = mid;
        } else {
            over = mid;
        }
    }
    println!("- the longest command line of the typical start's text within the limit: {within} units");
}
