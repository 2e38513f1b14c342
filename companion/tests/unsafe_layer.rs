//! The crate root denies `unsafe_code`, so an unsafe block compiles only inside
//! a module that allows the lint back. The Windows layer's root (`src/windows/mod.rs`)
//! is the one such module: no other file may allow it.

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

#[test]
fn only_the_windows_layer_root_allows_unsafe_code() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let allowing: Vec<PathBuf> = files
        .into_iter()
        .filter(|path| fs::read_to_string(path).unwrap().contains("allow(unsafe_code)"))
        .map(|path| path.strip_prefix(&src).unwrap().to_path_buf())
        .collect();
    assert_eq!(allowing, vec![PathBuf::from("windows/mod.rs")]);
}
