//! `sigma-replay SIGMA_DIR`: SigmaHQ's regression samples (process_creation and
//! image_load) through the real ringfence.sys in the emulated kernel and the
//! companion with SigmaHQ's rules (`ringfence-emulate --sigma --files`, one
//! scenario per batch of samples), then which samples fire the rule they were recorded for, why
//! the others do not, and which other rules fired (`cargo xtask sigma-replay`
//! runs it). With `--two-stage` the rules run as the product runs them: compiled
//! into one content format 2, in the driver and again in the companion's stage,
//! the rules the compile leaves out from the YAML. Local only: the samples and
//! rules are fetched data.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::Parser;
use ringfence_companion::content2_cmd::{Placement, Sources, compile2};
use ringfence_companion::enrich::stage::FileLocation;
use ringfence_detect::{Compilation, Reason};
use ringfence_emulator::replay::{self, Batch, Plan, Sample};

/// Replay SigmaHQ's regression samples through the emulated driver and the companion.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    /// The driver image (ringfence.sys).
    #[arg(long, env = "RINGFENCE_SYS")]
    sys: PathBuf,
    /// `ringfence-emulate`; by default the one beside this program.
    #[arg(long)]
    emulate: Option<PathBuf>,
    /// Where the scenarios and image files are written.
    #[arg(long, default_value = "target/sigma-replay")]
    out: PathBuf,
    /// Play the rules as the product runs them in two stages: compiled into one
    /// content format 2 (`content compile --sigma`), pushed to the driver and
    /// evaluated again in the companion's stage; the rules the compile leaves out
    /// are evaluated from the YAML, as `--sigma` does.
    #[arg(long)]
    two_stage: bool,
    /// A SigmaHQ checkout (rules*/ and regression_data/).
    sigma: PathBuf,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("sigma-replay: {message}");
    ExitCode::FAILURE
}

/// The checkout's rule folders: every `rules*/` that holds a YAML file (rules of other
/// logsources are refused as the companion refuses them, and not counted).
fn rule_dirs(sigma: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(sigma) else { return Vec::new() };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("rules")))
        .filter(|p| holds_yaml(p))
        .collect();
    dirs.sort();
    dirs
}

fn holds_yaml(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.filter_map(Result::ok).map(|e| e.path()).any(|p| {
        if p.is_dir() { holds_yaml(&p) } else { p.extension().is_some_and(|x| x == "yml" || x == "yaml") }
    })
}

fn main() -> ExitCode {
    let args = Args::parse();
    let samples = match replay::read_samples(&args.sigma) {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    let plan = replay::plan(&samples);
    let dirs = rule_dirs(&args.sigma);
    let emulate = args.emulate.clone().unwrap_or_else(|| {
        std::env::current_exe().map(|p| p.with_file_name("ringfence-emulate")).unwrap_or_default()
    });
    let content = if args.two_stage {
        match compile_content(&dirs, &args.out) {
            Ok((path, placement)) => {
                println!(
                    "Two stages: one content format 2 ({}): {} Sigma rules decided in the kernel, {} finished by the \
                     companion's stage, {} left to the YAML evaluator",
                    path.display(),
                    placement.kernel,
                    placement.companion,
                    placement.yaml_only
                );
                Some(path)
            }
            Err(e) => return fail(e),
        }
    } else {
        None
    };
    let mut fired = BTreeMap::new();
    for (n, batch) in plan.batches.iter().enumerate() {
        let dir = args.out.join(format!("batch-{n}"));
        match run_batch(&args, &emulate, &dirs, content.as_deref(), &dir, batch) {
            Ok(more) => fired.extend(more),
            Err(e) => return fail(format_args!("batch {n}: {e}")),
        }
    }
    let mut compilation = Compilation::default();
    for dir in &dirs {
        if let Err(e) = compilation.add_path(dir) {
            return fail(e);
        }
    }
    println!("{}", Report::of(&samples, &plan, &fired, &compilation, &dirs, &args.sigma));
    ExitCode::SUCCESS
}

/// The rule folders compiled as `content compile --sigma` does, written to
/// `out/content.bin`; where each rule went.
fn compile_content(dirs: &[PathBuf], out: &Path) -> Result<(PathBuf, Placement), String> {
    let sources = Sources { toml: None, sigma: dirs, version: None };
    // The rules left out are named on stderr by the compile; the report counts them.
    let (bytes, placement) = compile2(&sources, &mut std::io::sink()).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let path = out.join("content.bin");
    std::fs::write(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((path, placement))
}

/// Writes one batch's scenario and image files under `dir` and plays it through
/// `ringfence-emulate` (with `content` in the driver and the companion's stage,
/// when given); each reported event's pid → the rules that matched it.
fn run_batch(
    args: &Args,
    emulate: &Path,
    dirs: &[PathBuf],
    content: Option<&Path>,
    dir: &Path,
    batch: &Batch,
) -> Result<BTreeMap<u64, Vec<String>>, String> {
    let files = dir.join("files");
    if files.exists() {
        std::fs::remove_dir_all(&files).map_err(|e| format!("{}: {e}", files.display()))?;
    }
    let location = FileLocation::Rooted(files.clone());
    for (dos, bytes) in &batch.files {
        let Some(path) = location.local(dos) else { continue };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    std::fs::create_dir_all(&files).map_err(|e| format!("{}: {e}", files.display()))?;
    let scenario = dir.join("replay.toml");
    std::fs::write(&scenario, &batch.scenario).map_err(|e| format!("{}: {e}", scenario.display()))?;
    let mut command = Command::new(emulate);
    command.arg("--sys").arg(&args.sys).arg("--files").arg(&files).args(["--format", "json", "--quiet"]);
    if let Some(content) = content {
        command.arg("--content").arg(content).arg("--companion-content").arg(content);
    }
    for rules in dirs {
        command.arg("--sigma").arg(rules);
    }
    let output = command.arg(&scenario).output().map_err(|e| format!("{}: {e}", emulate.display()))?;
    if !output.status.success() {
        return Err(format!(
            "ringfence-emulate failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    fired_by_pid(&String::from_utf8_lossy(&output.stdout))
        .map_err(|e| format!("ringfence-emulate's output: {e}"))
}

/// Each reported event's process id → the ids of the Sigma rules that matched it.
fn fired_by_pid(stdout: &str) -> Result<BTreeMap<u64, Vec<String>>, String> {
    let mut fired = BTreeMap::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let event: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
        let action = event["event"]["action"].as_str().unwrap_or_default();
        if !matches!(action, "process_start" | "image_load") {
            continue;
        }
        let Some(pid) = event["process"]["pid"].as_u64() else { continue };
        let ids = match &event["rule"]["id"] {
            serde_json::Value::String(id) => vec![id.clone()],
            serde_json::Value::Array(ids) => {
                ids.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()
            }
            _ => Vec::new(),
        };
        fired.insert(pid, ids);
    }
    Ok(fired)
}

/// What became of one sample.
enum Outcome {
    Fired,
    Missed(String),
}

struct Report {
    lines: Vec<String>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for line in &self.lines {
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

impl Report {
    fn of(
        samples: &[Sample],
        plan: &Plan,
        fired: &BTreeMap<u64, Vec<String>>,
        compilation: &Compilation,
        dirs: &[PathBuf],
        sigma: &Path,
    ) -> Report {
        let mut lines = Vec::new();
        let titles: BTreeMap<&str, &str> =
            compilation.rules.iter().map(|r| (r.meta.id.as_str(), r.meta.title.as_str())).collect();
        let mut outcomes = Vec::new();
        let mut others: BTreeMap<String, usize> = BTreeMap::new();
        let mut events_firing = 0usize;
        for (s, sample) in samples.iter().enumerate() {
            let events: Vec<&replay::Replayed> = plan.replayed.iter().filter(|r| r.sample == s).collect();
            let mut hits = 0u64;
            for r in &events {
                let ids = fired.get(&u64::from(r.pid)).map(Vec::as_slice).unwrap_or_default();
                if ids.contains(&sample.rule_id) {
                    hits += 1;
                }
                for id in ids.iter().filter(|id| **id != sample.rule_id) {
                    *others.entry(id.clone()).or_default() += 1;
                }
            }
            events_firing += usize::try_from(hits).unwrap_or(usize::MAX);
            let expected =
                sample.match_count.unwrap_or(1).min(u64::try_from(events.len()).unwrap_or(u64::MAX));
            let outcome = if hits >= expected.max(1) {
                Outcome::Fired
            } else if let Some(rule) = compilation.rules.iter().find(|r| r.meta.id == sample.rule_id) {
                Outcome::Missed(replay::why_missed(rule, sample, &events, fired))
            } else if let Some(refusal) =
                compilation.refusals.iter().find(|r| r.id.as_deref() == Some(sample.rule_id.as_str()))
            {
                Outcome::Missed(format!("the rule is refused: {}", refusal.reason.class()))
            } else {
                Outcome::Missed("no rule of that id in the rule folders".into())
            };
            outcomes.push(outcome);
        }
        let fired_samples = outcomes.iter().filter(|o| matches!(o, Outcome::Fired)).count();
        let shown: Vec<String> =
            dirs.iter().map(|d| d.strip_prefix(sigma).unwrap_or(d).display().to_string()).collect();
        let refused = compilation
            .refusals
            .iter()
            .filter(|r| !matches!(r.reason, Reason::LogSource { .. }))
            .filter(|r| r.category.as_deref().is_some_and(|c| replay::CATEGORIES.contains(&c)))
            .count();
        lines.push(format!(
            "Rules (process_creation, image_load): {} compiled, {refused} refused, from {}",
            compilation.rules.len(),
            shown.join(", ")
        ));
        lines.push(format!(
            "Samples: {} files of {} rules, {} events replayed in {} emulator runs ({} skipped: not a process start or image load)",
            samples.len(),
            samples.iter().map(|s| s.rule_id.as_str()).collect::<BTreeSet<_>>().len(),
            plan.replayed.len(),
            plan.batches.len(),
            plan.skipped.len()
        ));
        lines.push(String::new());
        lines.push("| samples | fire the rule they were recorded for | do not |".into());
        lines.push("|---:|---:|---:|".into());
        lines.push(format!("| {} | {} | {} |", samples.len(), fired_samples, samples.len() - fired_samples));
        lines.push(String::new());
        lines.push(format!(
            "Events on which their own rule fired: {events_firing} of {}",
            plan.replayed.len()
        ));
        lines.push(String::new());
        lines.push("Samples that do not fire their rule:".into());
        lines.push(String::new());
        lines.push("| sample | rule id | reason |".into());
        lines.push("|---|---|---|".into());
        for (sample, outcome) in samples.iter().zip(&outcomes) {
            if let Outcome::Missed(why) = outcome {
                lines.push(format!("| {} | {} | {} |", sample.name, sample.rule_id, why));
            }
        }
        lines.push(String::new());
        let other_events = plan
            .replayed
            .iter()
            .filter(|r| {
                let own = samples.get(r.sample).map(|s| s.rule_id.as_str()).unwrap_or_default();
                fired.get(&u64::from(r.pid)).is_some_and(|ids| ids.iter().any(|id| id != own))
            })
            .count();
        lines.push(format!(
            "Other rules that fired: {} rules, on {} of {} events",
            others.len(),
            other_events,
            plan.replayed.len()
        ));
        lines.push(String::new());
        lines.push("| rule id | title | events |".into());
        lines.push("|---|---|---:|".into());
        let mut by_count: Vec<(&String, &usize)> = others.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        for (id, n) in by_count {
            lines.push(format!("| {id} | {} | {n} |", titles.get(id.as_str()).copied().unwrap_or("?")));
        }
        Report { lines }
    }
}
