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
        // content_evaluate: content length (u16 LE), content, then bytes for the events.
        let mut evaluate = u16::try_from(bytes.len()).expect("examples are small").to_le_bytes().to_vec();
        evaluate.extend_from_slice(&bytes);
        evaluate.extend((0..=255u8).cycle().take(512));
        std::fs::write(corpus.join(format!("content_evaluate/seed-{name}")), &evaluate).unwrap();
    }
}
