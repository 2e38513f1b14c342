//! `sigma-coverage DIR...`: compiles the Sigma rules under each directory and prints
//! how many compiled to the kernel stage, to the companion stage, and were refused,
//! by reason (`cargo xtask sigma-coverage DIR` runs it). `--refusals` also lists each
//! refused rule of ringfence's logsources.

use std::path::PathBuf;
use std::process::ExitCode;

use ringfence_detect::Compilation;
use ringfence_detect::coverage::{CATEGORIES, Coverage};
use ringfence_detect::refusal::Reason;

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
