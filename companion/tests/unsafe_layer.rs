//! The companion's `unsafe` lives in `src/windows/` and nowhere else: the rest
//! of the crate is portable, safe code (the crate root denies `unsafe_code`, and
//! only the Windows layer's module allows it back).

use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The lines of `text` that use `unsafe` as code (not in a comment).
fn unsafe_uses(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.starts_with("//"))
        .filter(|line| {
            line.contains("unsafe {")
                || line.contains("unsafe fn")
                || line.contains("unsafe impl")
                || line.contains("allow(unsafe_code)")
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn no_file_outside_the_windows_layer_uses_unsafe() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let layer = src.join("windows");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let offenders: Vec<String> = files
        .iter()
        .filter(|path| !path.starts_with(&layer))
        .flat_map(|path| {
            let text = fs::read_to_string(path).unwrap();
            unsafe_uses(&text).into_iter().map(move |line| format!("{}: {line}", path.display()))
        })
        .collect();
    assert_eq!(offenders, Vec::<String>::new());
}

#[test]
fn the_windows_layer_allows_unsafe_once_at_its_root() {
    let layer = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/windows");
    let mut files = Vec::new();
    rust_files(&layer, &mut files);
    let allowing: Vec<PathBuf> = files
        .into_iter()
        .filter(|path| fs::read_to_string(path).unwrap().contains("#![allow(unsafe_code)]"))
        .map(|path| path.strip_prefix(&layer).unwrap().to_path_buf())
        .collect();
    assert_eq!(allowing, vec![PathBuf::from("mod.rs")]);
}

#[test]
fn the_scan_sees_unsafe_code_and_not_comments() {
    let text = "// unsafe { in a comment }\nlet x = unsafe { f() };\n#![allow(unsafe_code)]\n";
    assert_eq!(unsafe_uses(text), vec!["let x = unsafe { f() };", "#![allow(unsafe_code)]"]);
}
