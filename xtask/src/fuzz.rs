//! `cargo xtask fuzz`: every target declared in fuzz/Cargo.toml, each for a
//! bounded time; any crash fails the task.

use crate::setup;
use crate::step::{Failure, Step};

pub(crate) fn run(args: &[String]) -> Result<(), Failure> {
    let mut secs = 60u32;
    let mut chosen = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        if arg == "--secs" {
            secs = it
                .next()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| Failure::new("fuzz", "--secs needs a number of seconds"))?;
        } else {
            chosen.push(arg.clone());
        }
    }
    setup::nightly(&["rust-src"])?;
    setup::cargo_fuzz()?;
    let all = targets()?;
    for name in &chosen {
        if !all.contains(name) {
            return Err(Failure::new("fuzz", format!("no target `{name}`; targets: {}", all.join(", "))));
        }
    }
    let fuzz_dir = crate::root().join("fuzz");
    if chosen.is_empty() {
        // One build of every target (cargo compiles them in parallel); each run below then
        // finds its binary up to date.
        Step::new("build every fuzz target", "cargo")
            .current_dir(&fuzz_dir)
            .args(["+nightly", "fuzz", "build"])
            .run()?;
    }
    let run = if chosen.is_empty() { all } else { chosen };
    // A libFuzzer process keeps one core busy: run as many targets at once as there are cores.
    let at_once = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    for batch in run.chunks(at_once) {
        let mut running = Vec::new();
        for target in batch {
            let corpus = fuzz_dir.join("corpus").join(target);
            std::fs::create_dir_all(&corpus)
                .map_err(|e| Failure::new("fuzz", format!("{}: {e}", corpus.display())))?;
            running.push(
                Step::new(&format!("fuzz {target} for {secs} s"), "cargo")
                    .current_dir(&fuzz_dir)
                    .args(["+nightly", "fuzz", "run", target.as_str(), "--"])
                    .arg(format!("-max_total_time={secs}"))
                    .arg("-rss_limit_mb=4096")
                    .hint("a crash input is saved under fuzz/artifacts/<target>/; reproduce with `cargo +nightly fuzz run <target> <file>`")
                    .spawn()?,
            );
        }
        // Wait for every target of the batch before reporting the first failure.
        let results: Vec<_> = running.into_iter().map(crate::step::Running::wait).collect();
        results.into_iter().collect::<Result<Vec<()>, Failure>>()?;
    }
    Ok(())
}

/// The `[[bin]]` names of fuzz/Cargo.toml.
fn targets() -> Result<Vec<String>, Failure> {
    let path = crate::root().join("fuzz/Cargo.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Failure::new("fuzz", format!("{}: {e}", path.display())))?;
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(value) = line.strip_prefix("name") {
            let name = value.trim_start().trim_start_matches('=').trim().trim_matches('"');
            names.push(name.to_owned());
        }
    }
    if names.is_empty() {
        return Err(Failure::new("fuzz", "fuzz/Cargo.toml declares no [[bin]] target"));
    }
    Ok(names)
}
