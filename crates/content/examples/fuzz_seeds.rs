//! Writes the seed corpora of the content fuzz targets from the example rule
//! files: `cargo run -p ringfence-content --example fuzz_seeds` (from the workspace root).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use ringfence_content::compile;
use ringfence_wire::SCHEMA;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus = root.join("fuzz/corpus");
    for target in ["content_validate", "content_evaluate", "content_compile"] {
        std::fs::create_dir_all(corpus.join(target)).unwrap();
    }
    for name in ["minimal", "noise-reduction"] {
        let source = std::fs::read_to_string(root.join(format!("examples/content/{name}.toml"))).unwrap();
        let bytes = compile(&source, &SCHEMA).expect("examples compile");
        std::fs::write(corpus.join(format!("content_compile/seed-{name}")), &source).unwrap();
        std::fs::write(corpus.join(format!("content_validate/seed-{name}")), &bytes).unwrap();
        // Arbitrary reads the events from the front and takes the rest as content.
        let mut evaluate = vec![0x01, 0x00, 0x10, 0x00];
        evaluate.extend_from_slice(&bytes);
        std::fs::write(corpus.join(format!("content_evaluate/seed-{name}")), &evaluate).unwrap();
    }
}
