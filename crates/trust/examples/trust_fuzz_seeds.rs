//! Writes the seed corpora of the trust fuzz targets: `cargo run -p ringfence-trust --example
//! trust_fuzz_seeds` (from the workspace root). `envelope`: the minimal example content
//! signed with the fuzz target's key; `persisted_load`: that envelope as the trial file, the
//! bare content as last-known-good, and a state naming the trial.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use ringfence_content::compile;
use ringfence_trust::envelope::{self, Declaration};
use ringfence_trust::signature::sign_in_place;
use ringfence_trust::{GuardState, Level, RING_GENERAL, SigningKey};
use ringfence_wire::SCHEMA;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let corpus = root.join("fuzz/corpus");
    let source = std::fs::read_to_string(root.join("examples/content/minimal.toml")).unwrap();
    let content = compile(&source, &SCHEMA).expect("the example compiles");
    // The key fuzz_targets/envelope.rs trusts.
    let key = SigningKey::from_seed([0x42; 32]).unwrap();
    let d = Declaration {
        signer: key.public_key(),
        ring: RING_GENERAL,
        sensor_min: 0,
        sensor_max: u32::MAX,
        content_version: 1,
    };
    let mut sealed = vec![0u8; envelope::envelope_len(content.len()).unwrap()];
    envelope::emit(&d, &content, &mut sealed).unwrap();
    assert!(sign_in_place(&mut sealed, &key));
    std::fs::create_dir_all(corpus.join("envelope")).unwrap();
    std::fs::write(corpus.join("envelope/seed-minimal-signed"), &sealed).unwrap();
    std::fs::write(corpus.join("envelope/seed-minimal-unsigned"), &content).unwrap();

    // persisted_load: state length (u8), trial length (u16 LE), state, trial, last-known-good.
    let state = GuardState { level: Level::Trial, unhealthy_starts: 1, newest_offered: 0 }.emit();
    let trial = content.clone();
    let mut seed = vec![u8::try_from(state.len()).unwrap()];
    seed.extend_from_slice(&u16::try_from(trial.len()).unwrap().to_le_bytes());
    seed.extend_from_slice(&state);
    seed.extend_from_slice(&trial);
    seed.extend_from_slice(&content);
    std::fs::create_dir_all(corpus.join("persisted_load")).unwrap();
    std::fs::write(corpus.join("persisted_load/seed-trial-and-last-known-good"), &seed).unwrap();
}
